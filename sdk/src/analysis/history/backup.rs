//! Backing the history up and restoring it: a consistent copy made while
//! suites write (`VACUUM INTO`), and a restore that checks the backup
//! (integrity, and exactly a benchscope history's schema) before anything
//! of the history is replaced.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::{History, MIGRATIONS, SCHEMA_VERSION, history_error};
use crate::error::Error;

impl History {
    /// Writes a consistent copy of the whole history to `to` (a new file) and
    /// returns the number of runs in it. Safe while suites are writing: the
    /// copy is one read transaction (`VACUUM INTO`), compacted, WAL folded in.
    ///
    /// ```no_run
    /// # use benchscope::History;
    /// let history = History::open(std::path::Path::new("target/benchscope/history.db"))?;
    /// let runs = history.backup(std::path::Path::new("history-2026-11-24.db"))?;
    /// # Ok::<(), benchscope::Error>(())
    /// ```
    pub fn backup(&self, to: &Path) -> Result<usize, Error> {
        if to.exists() {
            return Err(Error::History {
                path: to.to_owned(),
                message: "the backup file already exists; choose a new name or remove it first"
                    .into(),
            });
        }
        let target = to.to_str().ok_or_else(|| Error::History {
            path: to.to_owned(),
            message: "the backup path is not valid UTF-8; choose another".into(),
        })?;
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map_err(|e| history_error(to, e))?;
        let copy = History::verified_copy(to)?;
        let runs: i64 = copy
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .map_err(|e| history_error(to, e))?;
        Ok(runs as usize)
    }

    /// Replaces the whole history at `path` with the backup at `from` and
    /// returns the number of runs restored.
    ///
    /// Nothing is written until the backup has passed every check: a SQLite
    /// file that passes `integrity_check`, whose schema is exactly a
    /// benchscope history's (every table, column and index of its version,
    /// and nothing else). The backup is then copied to a new file beside
    /// the history, migrated and checked again, and renamed over it, so a
    /// failure at any step leaves the old history as it was. Restore while
    /// no suite is writing: one that holds the history open is refused.
    pub fn restore(path: &Path, from: &Path) -> Result<usize, Error> {
        let source = History::verified_copy(from)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "cannot create the folder of",
            path: path.to_owned(),
            source,
        })?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "history.db".into());
        let temp = dir.join(format!(".{file_name}.restore-{}", std::process::id()));
        let result = History::restore_via(&source, path, &temp);
        drop(source);
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    fn restore_via(source: &Connection, path: &Path, temp: &Path) -> Result<usize, Error> {
        let _ = std::fs::remove_file(temp);
        let target = temp.to_str().ok_or_else(|| Error::History {
            path: path.to_owned(),
            message: "the history's folder is not valid UTF-8; move the history elsewhere".into(),
        })?;
        source
            .execute("VACUUM INTO ?1", [target])
            .map_err(|e| history_error(path, e))?;
        let runs = {
            let copy = History::open_file(temp)?;
            let runs = copy.runs(None)?.len();
            // Back out of WAL so the file stands alone when renamed.
            copy.conn
                .pragma_update(None, "journal_mode", "DELETE")
                .map_err(|e| history_error(temp, e))?;
            runs
        };
        History::verified_copy(temp)?;
        if path.exists() {
            // Fold the old history's log into it and close it: the rename
            // must not leave a log that belongs to the old file beside the
            // new one.
            let old = Connection::open(path).map_err(|e| history_error(path, e))?;
            old.busy_timeout(Duration::from_secs(5))
                .map_err(|e| history_error(path, e))?;
            old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| history_error(path, e))?;
            old.pragma_update(None, "journal_mode", "DELETE")
                .map_err(|e| history_error(path, e))?;
            drop(old);
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            if wal.exists() {
                return Err(Error::History {
                    path: path.to_owned(),
                    message: "another process (a running suite?) holds the history open; restore when it has finished".into(),
                });
            }
        }
        std::fs::rename(temp, path).map_err(|source| Error::Io {
            action: "cannot replace",
            path: path.to_owned(),
            source,
        })?;
        Ok(runs)
    }

    /// Opens `path` read-only and checks that it is an intact benchscope
    /// history: SQLite's integrity check, a known schema version, and the
    /// schema itself, table by table and column by column.
    fn verified_copy(path: &Path) -> Result<Connection, Error> {
        let db = |e: rusqlite::Error| history_error(path, e);
        if !path.is_file() {
            return Err(Error::History {
                path: path.to_owned(),
                message: "no such file".into(),
            });
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db)?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        let problem = if check != "ok" {
            Some(format!("it fails SQLite's integrity check ({check})"))
        } else if version == 0 {
            Some("it is a SQLite database but not a benchscope history".to_owned())
        } else if version > SCHEMA_VERSION {
            Some(format!(
                "it has schema version {version}, newer than the {SCHEMA_VERSION} this benchscope understands; upgrade benchscope"
            ))
        } else {
            schema_difference(&conn, version).map_err(db)?
        };
        match problem {
            Some(message) => Err(Error::History {
                path: path.to_owned(),
                message,
            }),
            None => Ok(conn),
        }
    }
}

/// The tables (and their indexes) of a database, sorted by name.
pub(super) fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// A database's schema as text, one line per table column and index, for
/// comparing two databases.
fn schema_of(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut lines = Vec::new();
    for table in table_names(conn)? {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
        let columns = stmt.query_map([], |r| {
            Ok(format!(
                "column {table}.{} {} notnull={} default={:?} pk={}",
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?
            ))
        })?;
        for column in columns {
            lines.push(column?);
        }
    }
    let mut stmt = conn.prepare(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
    )?;
    let indexes = stmt.query_map([], |r| {
        Ok(format!(
            "index {} on {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?
        ))
    })?;
    for index in indexes {
        lines.push(index?);
    }
    lines.sort();
    Ok(lines)
}

/// How `conn`'s schema differs from a benchscope history of `version`, in
/// words; `None` when it is the same.
fn schema_difference(conn: &Connection, version: i64) -> rusqlite::Result<Option<String>> {
    let reference = Connection::open_in_memory()?;
    for sql in MIGRATIONS.iter().take(version.max(0) as usize) {
        reference.execute_batch(sql)?;
    }
    let expected = schema_of(&reference)?;
    let found = schema_of(conn)?;
    if expected == found {
        return Ok(None);
    }
    let missing: Vec<&String> = expected.iter().filter(|l| !found.contains(l)).collect();
    let extra: Vec<&String> = found.iter().filter(|l| !expected.contains(l)).collect();
    let list = |v: &[&String]| {
        v.iter()
            .take(4)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut message = format!(
        "its schema is not a benchscope history's (version {version}), so it is not a backup benchscope wrote"
    );
    if !missing.is_empty() {
        message.push_str(&format!("; missing: {}", list(&missing)));
    }
    if !extra.is_empty() {
        message.push_str(&format!("; not expected: {}", list(&extra)));
    }
    Ok(Some(message))
}
