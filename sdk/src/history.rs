//! The history of runs, in an embedded SQLite database (WAL mode): every
//! suite run with its commit, branch, time, environment and machine, each
//! benchmark's statistics and samples (capped), and named baselines.
//!
//! A run is written in one transaction at the end of the suite, so a writer
//! killed mid-run leaves every earlier run intact, and concurrent writers
//! queue on SQLite's lock (with a generous busy timeout) instead of failing.
//! The schema is versioned with `PRAGMA user_version`; an older database is
//! migrated forward, a newer one is refused untouched.
//!
//! ```no_run
//! use benchscope::history::History;
//! let history = History::open(std::path::Path::new("target/benchscope/history.db"))?;
//! for run in history.runs(None)? {
//!     println!("{} {} {}", run.id, run.commit, run.benchmarks);
//! }
//! # Ok::<(), benchscope::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::Error;
use crate::results::{BenchResult, SuiteRun};

/// Default location, relative to the directory the suite runs in.
pub const DEFAULT_PATH: &str = "target/benchscope/history.db";

/// Samples kept per benchmark and run; more are thinned evenly.
pub const MAX_SAMPLES: usize = 10_000;

/// Migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    // 1: runs, results, baselines.
    "CREATE TABLE runs (
         id INTEGER PRIMARY KEY,
         started_at REAL NOT NULL,
         duration_s REAL NOT NULL,
         commit_hash TEXT NOT NULL,
         branch TEXT NOT NULL,
         environment TEXT NOT NULL,
         machine TEXT NOT NULL,
         benchscope_version TEXT NOT NULL
     );
     CREATE INDEX runs_branch ON runs (branch, started_at);
     CREATE TABLE results (
         run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
         name TEXT NOT NULL,
         mean_ns REAL NOT NULL,
         result_json TEXT NOT NULL,
         PRIMARY KEY (run_id, name)
     );
     CREATE INDEX results_name ON results (name, run_id);
     CREATE TABLE baselines (
         name TEXT PRIMARY KEY,
         run_id INTEGER NOT NULL REFERENCES runs (id),
         saved_at REAL NOT NULL
     );",
];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A run as listed from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Row id: increases with every run written.
    pub id: i64,
    /// Unix time the suite started.
    pub started_at: f64,
    /// The commit measured.
    pub commit: String,
    /// The branch measured.
    pub branch: String,
    /// The environment label.
    pub environment: String,
    /// Fingerprint of the machine that ran it.
    pub machine: String,
    /// Benchmarks in the run.
    pub benchmarks: usize,
}

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// Opens (creating if needed) the database at `path`, migrating an older
    /// schema forward. A file that is not a SQLite database, or one written
    /// by a newer benchscope, is an error and is left as it is.
    pub fn open(path: &Path) -> Result<History, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                action: "cannot create the folder of",
                path: path.to_owned(),
                source,
            })?;
        }
        let db = |e: rusqlite::Error| history_error(path, e);
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        // Reading the version is the first thing that touches the file: a
        // corrupt file fails here, before anything is written to it.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(Error::History {
                path: path.to_owned(),
                message: format!(
                    "it has schema version {version}, newer than the {SCHEMA_VERSION} this benchscope understands; upgrade benchscope, or use another file with --history"
                ),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let mut history = History {
            conn,
            path: path.to_owned(),
        };
        history.migrate(version)?;
        Ok(history)
    }

    fn migrate(&mut self, from: i64) -> Result<(), Error> {
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        let path = self.path.clone();
        let db = |e: rusqlite::Error| history_error(&path, e);
        let tx = self.write_transaction()?;
        // Another process may have migrated while we waited for the lock.
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            tx.execute_batch(sql).map_err(db)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// A transaction that takes the write lock at once (waiting up to the
    /// busy timeout), so concurrent writers queue instead of failing midway.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, Error> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| history_error(&self.path, e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `run` in one transaction and returns its id.
    pub fn record(&mut self, run: &SuiteRun) -> Result<i64, Error> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| history_error(&path, e);
        let tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO runs (started_at, duration_s, commit_hash, branch, environment, machine, benchscope_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.started_at,
                run.duration_s,
                run.commit,
                run.branch,
                run.environment,
                machine_fingerprint(),
                run.benchscope_version
            ],
        )
        .map_err(db)?;
        let id = tx.last_insert_rowid();
        for result in &run.benchmarks {
            let kept = capped(result);
            let json = serde_json::to_string(&kept).expect("results serialize");
            tx.execute(
                "INSERT INTO results (run_id, name, mean_ns, result_json) VALUES (?1, ?2, ?3, ?4)",
                params![id, result.name, result.stats.mean, json],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(id)
    }

    /// Runs, oldest first; only `branch`'s when given.
    pub fn runs(&self, branch: Option<&str>) -> Result<Vec<RunInfo>, Error> {
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.started_at, r.commit_hash, r.branch, r.environment, r.machine,
                        (SELECT COUNT(*) FROM results WHERE run_id = r.id)
                 FROM runs r WHERE ?1 IS NULL OR r.branch = ?1 ORDER BY r.id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![branch], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    commit: r.get(2)?,
                    branch: r.get(3)?,
                    environment: r.get(4)?,
                    machine: r.get(5)?,
                    benchmarks: r.get::<_, i64>(6)? as usize,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// The whole run `id`, benchmarks included.
    pub fn run(&self, id: i64) -> Result<SuiteRun, Error> {
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        let head = self
            .conn
            .query_row(
                "SELECT started_at, duration_s, commit_hash, branch, environment, benchscope_version
                 FROM runs WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, f64>(0)?,
                        r.get::<_, f64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?
            .ok_or_else(|| Error::History {
                path: self.path.clone(),
                message: format!("it has no run {id}; `benchscope analyze` lists the runs"),
            })?;
        let mut stmt = self
            .conn
            .prepare("SELECT name, result_json FROM results WHERE run_id = ?1 ORDER BY rowid")
            .map_err(db)?;
        let benchmarks = stmt
            .query_map(params![id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db)?
            .map(|row| {
                let (name, json) = row.map_err(db)?;
                serde_json::from_str::<BenchResult>(&json).map_err(|e| Error::History {
                    path: self.path.clone(),
                    message: format!(
                        "the stored result of `{name}` in run {id} is unreadable: {e}"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SuiteRun {
            schema_version: crate::results::SCHEMA_VERSION,
            benchscope_version: head.5,
            started_at: head.0,
            duration_s: head.1,
            environment: head.4,
            commit: head.2,
            branch: head.3,
            benchmarks,
            failures: Vec::new(),
            exports: Vec::new(),
        })
    }

    /// The latest run, on `branch` when given.
    pub fn latest(&self, branch: Option<&str>) -> Result<Option<i64>, Error> {
        self.conn
            .query_row(
                "SELECT MAX(id) FROM runs WHERE ?1 IS NULL OR branch = ?1",
                params![branch],
                |r| r.get(0),
            )
            .map_err(|e| history_error(&self.path, e))
    }

    /// Names run `id` as baseline `name`, replacing an earlier one.
    pub fn save_baseline(&mut self, name: &str, id: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO baselines (name, run_id, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET run_id = excluded.run_id, saved_at = excluded.saved_at",
                params![name, id, crate::results::unix_now()],
            )
            .map(|_| ())
            .map_err(|e| history_error(&self.path, e))
    }

    /// The run saved as baseline `name`.
    pub fn baseline(&self, name: &str) -> Result<Option<i64>, Error> {
        self.conn
            .query_row(
                "SELECT run_id FROM baselines WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| history_error(&self.path, e))
    }

    /// Every saved baseline: (name, run id).
    pub fn baselines(&self) -> Result<Vec<(String, i64)>, Error> {
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT name, run_id FROM baselines ORDER BY name")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// Imports a run (e.g. a baseline carried between CI jobs as JSON) and
    /// returns its new id.
    pub fn import(&mut self, run: &SuiteRun) -> Result<i64, Error> {
        self.record(run)
    }

    /// Writes a consistent copy of the whole history to `to` (a new file) and
    /// returns the number of runs in it. Safe while suites are writing: the
    /// copy is one read transaction (`VACUUM INTO`), compacted, WAL folded in.
    ///
    /// ```no_run
    /// # use benchscope::history::History;
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

    /// Replaces the whole history with the backup at `from` and returns the
    /// number of runs restored. The backup is checked first (a SQLite file
    /// that passes `integrity_check`, with a schema this benchscope reads);
    /// a bad one is an error that leaves the history as it was. The copy
    /// goes through SQLite's online backup, so the WAL stays consistent.
    pub fn restore(&mut self, from: &Path) -> Result<usize, Error> {
        let source = History::verified_copy(from)?;
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        {
            let backup = rusqlite::backup::Backup::new(&source, &mut self.conn).map_err(db)?;
            backup
                .run_to_completion(256, Duration::ZERO, None)
                .map_err(db)?;
        }
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        self.migrate(version)?;
        Ok(self.runs(None)?.len())
    }

    /// Opens `path` read-only and checks that it is an intact benchscope
    /// history.
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
            None
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

fn history_error(path: &Path, e: rusqlite::Error) -> Error {
    let message = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            "it is not a SQLite database (or it is corrupt); it was left untouched: move it aside to start a new history, or point --history at another file".to_owned()
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            "it is corrupt; it was left untouched: restore it from a backup, or move it aside to start a new history".to_owned()
        }
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "it stayed locked by another writer for 30 s; try again when the other suite has finished".to_owned()
        }
        _ => e.to_string(),
    };
    Error::History {
        path: path.to_owned(),
        message,
    }
}

/// The result with at most [`MAX_SAMPLES`] samples, thinned evenly.
fn capped(result: &BenchResult) -> BenchResult {
    let mut kept = result.clone();
    let n = kept.samples_ns.len();
    if n > MAX_SAMPLES {
        kept.samples_ns = (0..MAX_SAMPLES)
            .map(|i| result.samples_ns[i * n / MAX_SAMPLES])
            .collect();
    }
    kept
}

/// A stable fingerprint of the machine: host name, CPU model and count,
/// memory, OS. Runs from different machines should not be compared blindly.
pub fn machine_fingerprint() -> String {
    let mut system = sysinfo::System::new().ok();
    let (cpu, cores, memory) = match system.as_mut() {
        Some(s) => {
            s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            s.refresh_memory();
            (
                s.cpus()
                    .first()
                    .map(|c| c.brand().to_owned())
                    .unwrap_or_default(),
                s.cpus().len(),
                s.total_memory() / (1 << 30),
            )
        }
        None => (String::new(), 0, 0),
    };
    let host = sysinfo::System::host_name().unwrap_or_default();
    let os = sysinfo::System::long_os_version().unwrap_or_default();
    let text = format!("{host}|{cpu}|{cores}|{memory}|{os}");
    // FNV-1a: stable across Rust versions, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{host}-{cores}c-{hash:016x}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn run(commit: &str, branch: &str, means: &[(&str, f64)]) -> SuiteRun {
        let benchmarks = means
            .iter()
            .map(|(name, mean)| {
                let samples: Vec<f64> = (0..20).map(|i| mean + i as f64 % 3.0).collect();
                BenchResult::from_samples(*name, samples).unwrap()
            })
            .collect();
        SuiteRun::new(commit, branch, benchmarks)
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("benchscope-history-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("history.db")
    }

    #[test]
    fn runs_round_trip_with_baselines() {
        let path = temp("roundtrip");
        let mut h = History::open(&path).unwrap();
        let a = h
            .record(&run("aaa", "main", &[("x", 100.0), ("y", 5.0)]))
            .unwrap();
        let b = h.record(&run("bbb", "feature", &[("x", 110.0)])).unwrap();
        assert!(b > a);
        h.save_baseline("main", a).unwrap();
        assert_eq!(h.baseline("main").unwrap(), Some(a));
        assert_eq!(h.baseline("nope").unwrap(), None);
        assert_eq!(h.latest(Some("main")).unwrap(), Some(a));
        assert_eq!(h.latest(None).unwrap(), Some(b));
        let back = h.run(a).unwrap();
        assert_eq!(back.commit, "aaa");
        assert_eq!(back.benchmarks.len(), 2);
        assert_eq!(back.get("x").unwrap().samples_ns.len(), 20);
        let listed = h.runs(Some("main")).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].benchmarks, 2);
        drop(h);
        // Reopening keeps everything.
        let h = History::open(&path).unwrap();
        assert_eq!(h.runs(None).unwrap().len(), 2);
        assert_eq!(h.baselines().unwrap(), [("main".to_string(), a)]);
    }

    #[test]
    fn samples_are_capped_evenly() {
        let mut r = run("c", "b", &[("x", 1.0)]).benchmarks.remove(0);
        r.samples_ns = (0..25_000).map(f64::from).collect();
        let kept = capped(&r);
        assert_eq!(kept.samples_ns.len(), MAX_SAMPLES);
        assert_eq!(kept.samples_ns[1], 2.0);
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(machine_fingerprint(), machine_fingerprint());
    }
}
