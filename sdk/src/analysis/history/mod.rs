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
//! use benchscope::History;
//! let history = History::open(std::path::Path::new("target/benchscope/history.db"))?;
//! for run in history.runs(None)? {
//!     println!("{} {} {}", run.id, run.commit, run.benchmarks);
//! }
//! # Ok::<(), benchscope::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

mod backup;
#[cfg(feature = "remote-history")]
pub(crate) mod remote;

use crate::error::Error;
pub use crate::measure::machine::machine_fingerprint;
use crate::results::{BenchResult, ExportStatus, Failure, SuiteRun};
use backup::table_names;

/// Samples kept per benchmark and run; more are thinned evenly.
pub const MAX_SAMPLES: usize = 10_000;

/// Migrations, in order; the schema version is their count.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 2: a run keeps its failures and how its exporters fared. (Baselines
    // are files since; the table of version 1 stays, unused.)
    "ALTER TABLE runs ADD COLUMN failures_json TEXT NOT NULL DEFAULT '[]';
     ALTER TABLE runs ADD COLUMN exports_json TEXT NOT NULL DEFAULT '[]';",
    // 3: whether a result stayed disturbed while it was measured, so that
    // the noise between runs can leave it out without reading its JSON.
    "ALTER TABLE results ADD COLUMN disturbed INTEGER NOT NULL DEFAULT 0;",
];

/// The schema version this build reads and writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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

/// The runs of a history that read back whole, and a warning for each that
/// did not ([`History::readable_runs`]).
#[derive(Debug, Default)]
pub struct ReadableRuns {
    /// The runs, oldest first.
    pub runs: Vec<(RunInfo, SuiteRun)>,
    /// One warning per run skipped.
    pub skipped: Vec<String>,
}

/// Where runs are read back from: a SQLite [`History`] or, with the
/// `remote-history` feature, a metrics backend's query API. The gate, the
/// analysis and the baselines read through this, so a verdict does not
/// depend on where the runs were kept.
pub trait RunSource {
    /// The file or URL, for messages.
    fn describe(&self) -> String;
    /// Runs, oldest first; only `branch`'s when given.
    fn runs(&self, branch: Option<&str>) -> Result<Vec<RunInfo>, Error>;
    /// The whole run `id`, checked ([`SuiteRun::check`]).
    fn run(&self, id: i64) -> Result<SuiteRun, Error>;
    /// The latest run, on `branch` when given.
    fn latest(&self, branch: Option<&str>) -> Result<Option<i64>, Error>;
    /// The id of the kept run that `run` is (the same start, commit and
    /// branch).
    fn find(&self, run: &SuiteRun) -> Result<Option<i64>, Error>;
    /// The machine fingerprint of run `id`, if it exists.
    fn machine_of(&self, id: i64) -> Result<Option<String>, Error>;
    /// Each benchmark's means over the runs made on `machine`, oldest
    /// first, as [`History::means_by_benchmark`].
    fn means_by_benchmark(
        &self,
        machine: &str,
        branch: Option<&str>,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error>;
    /// The means of the runs of one `commit`, as [`History::means_of_commit`].
    fn means_of_commit(
        &self,
        machine: &str,
        commit: &str,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error>;

    /// What reading cost, when it is worth saying (a backend's queries
    /// and bytes).
    fn cost(&self) -> Option<String> {
        None
    }

    /// Every run that reads back whole, oldest first (on `branch` when
    /// given), with a warning for each that does not: one bad run never
    /// makes the history unreadable.
    fn readable_runs(&self, branch: Option<&str>) -> Result<ReadableRuns, Error> {
        let mut readable = ReadableRuns::default();
        for info in self.runs(branch)? {
            match self.run(info.id) {
                Ok(run) => readable.runs.push((info, run)),
                Err(e) => readable
                    .skipped
                    .push(format!("skipping run {}: {e}", info.id)),
            }
        }
        Ok(readable)
    }
}

impl RunSource for History {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn runs(&self, branch: Option<&str>) -> Result<Vec<RunInfo>, Error> {
        History::runs(self, branch)
    }
    fn run(&self, id: i64) -> Result<SuiteRun, Error> {
        History::run(self, id)
    }
    fn latest(&self, branch: Option<&str>) -> Result<Option<i64>, Error> {
        History::latest(self, branch)
    }
    fn find(&self, run: &SuiteRun) -> Result<Option<i64>, Error> {
        History::find(self, run)
    }
    fn machine_of(&self, id: i64) -> Result<Option<String>, Error> {
        History::machine_of(self, id)
    }
    fn means_by_benchmark(
        &self,
        machine: &str,
        branch: Option<&str>,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error> {
        History::means_by_benchmark(self, machine, branch, except)
    }
    fn means_of_commit(
        &self,
        machine: &str,
        commit: &str,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error> {
        History::means_of_commit(self, machine, commit, except)
    }
}

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// The schema version this build reads and writes (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: i64 = SCHEMA_VERSION;

    /// Opens (creating if needed) the database at `path`, migrating an older
    /// schema forward. A file that is not a SQLite database, another
    /// program's database, or one written by a newer benchscope is an error
    /// and is left as it is.
    pub fn open(path: &Path) -> Result<History, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                action: "cannot create the folder of",
                path: path.to_owned(),
                source,
            })?;
        }
        History::open_file(path)
    }

    /// Opens the history at `path` only if it exists: for commands that
    /// read the history, which should never leave an empty one behind.
    pub fn open_existing(path: &Path) -> Result<History, Error> {
        if !path.is_file() {
            return Err(Error::History {
                path: path.to_owned(),
                message: "there is no history here yet; run a suite first (with the `history` feature), or point --history at the right file".into(),
            });
        }
        let sidecar = |ext: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        let sidecars = [sidecar("-wal"), sidecar("-shm")];
        let had_sidecars = sidecars.iter().any(|p| p.exists());
        match History::open_file(path) {
            Err(Error::History { message, .. }) if message.starts_with(NO_ROOM) => {
                // SQLite's lock files, if this attempt made them (an empty
                // log: nothing in them is anyone's).
                let empty_log = std::fs::metadata(&sidecars[0]).is_ok_and(|m| m.len() == 0);
                if !had_sidecars && empty_log {
                    for file in &sidecars {
                        let _ = std::fs::remove_file(file);
                    }
                }
                let history = History::open_immutable(path)?;
                eprintln!(
                    "note: {} cannot be opened for writing (the disk is full or read-only); it is read as it is on disk, without locks: a suite writing to it now is not seen",
                    path.display()
                );
                Ok(history)
            }
            other => other,
        }
    }

    /// Opens the history at `path` read-only, as SQLite's immutable file:
    /// no lock, no shared-memory file, nothing written. For reading a
    /// history on a full or read-only disk, where SQLite cannot create
    /// the files its locks need.
    fn open_immutable(path: &Path) -> Result<History, Error> {
        let db = |e: rusqlite::Error| history_error(path, e);
        let absolute = std::path::absolute(path).map_err(|source| Error::Io {
            action: "cannot resolve",
            path: path.to_owned(),
            source,
        })?;
        let uri = format!(
            "file:{}?immutable=1",
            percent_encoding::utf8_percent_encode(&absolute.to_string_lossy(), URI_PATH)
        );
        let conn = Connection::open_with_flags(
            uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version != SCHEMA_VERSION {
            return Err(Error::History {
                path: path.to_owned(),
                message: format!(
                    "it has schema version {version} and this benchscope reads {SCHEMA_VERSION}; updating it needs room to write, and the disk has none: free some space and run again"
                ),
            });
        }
        Ok(History {
            conn,
            path: path.to_owned(),
        })
    }

    fn open_file(path: &Path) -> Result<History, Error> {
        let db = |e: rusqlite::Error| history_error(path, e);
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        // Reading is the first thing that touches the file: a corrupt or
        // foreign file fails here, before anything is written to it.
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
        if version == 0 {
            let tables = table_names(&conn).map_err(db)?;
            if !tables.is_empty() {
                return Err(Error::History {
                    path: path.to_owned(),
                    message: format!(
                        "it is another program's SQLite database (tables: {}), not a benchscope history; it was left untouched: point --history (or BENCHSCOPE_HISTORY) at a new file",
                        tables.join(", ")
                    ),
                });
            }
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

    /// Writes `run` in one transaction and returns its id. A run with a
    /// figure out of range ([`SuiteRun::check`]) is refused: it could not be
    /// read back.
    pub fn record(&mut self, run: &SuiteRun) -> Result<i64, Error> {
        let path = self.path.clone();
        run.check().map_err(|problem| Error::History {
            path: path.clone(),
            message: format!("the run was not stored: {problem}"),
        })?;
        let db = |e: rusqlite::Error| history_error(&path, e);
        let tx = self.write_transaction()?;
        let failures = to_json(&path, &run.failures)?;
        let exports = to_json(&path, &run.exports)?;
        tx.execute(
            "INSERT INTO runs (started_at, duration_s, commit_hash, branch, environment, machine,
                               benchscope_version, failures_json, exports_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.started_at,
                run.duration_s,
                run.commit,
                run.branch,
                run.environment,
                machine_fingerprint(),
                run.benchscope_version,
                failures,
                exports,
            ],
        )
        .map_err(db)?;
        let id = tx.last_insert_rowid();
        for result in &run.benchmarks {
            let json = to_json(&path, &capped(result))?;
            tx.execute(
                "INSERT INTO results (run_id, name, mean_ns, result_json, disturbed)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, result.name, result.stats.mean, json, result.disturbed()],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(id)
    }

    /// Each benchmark's means over the runs made on `machine` (a
    /// [`machine_fingerprint`]), oldest first: only `branch`'s when given,
    /// without the run `except`, and without results that stayed disturbed
    /// while they were measured (see [`Disturbance`](crate::Disturbance)):
    /// a run the machine disturbed says nothing about its usual noise. What
    /// the gate weighs the noise between runs with.
    pub fn means_by_benchmark(
        &self,
        machine: &str,
        branch: Option<&str>,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error> {
        self.means_where(machine, branch, None, except)
    }

    /// [`History::means_by_benchmark`] of the runs of one `commit` (on any
    /// branch): the level of that code on this machine.
    pub fn means_of_commit(
        &self,
        machine: &str,
        commit: &str,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error> {
        self.means_where(machine, None, Some(commit), except)
    }

    fn means_where(
        &self,
        machine: &str,
        branch: Option<&str>,
        commit: Option<&str>,
        except: Option<i64>,
    ) -> Result<std::collections::BTreeMap<String, Vec<f64>>, Error> {
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT res.name, res.mean_ns FROM results res JOIN runs r ON r.id = res.run_id
                 WHERE r.machine = ?1 AND (?2 IS NULL OR r.branch = ?2)
                   AND (?3 IS NULL OR r.commit_hash = ?3) AND r.id IS NOT ?4
                   AND res.disturbed = 0
                 ORDER BY r.id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![machine, branch, commit, except], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
            })
            .map_err(db)?;
        let mut out: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for row in rows {
            let (name, mean) = row.map_err(db)?;
            out.entry(name).or_default().push(mean);
        }
        Ok(out)
    }

    /// The id of the stored run that `run` is (a results file written by
    /// the same suite run as the history's record of it): the same start
    /// time, commit and branch. How the gate keeps a run judged from
    /// `--results` out of its own history.
    pub fn find(&self, run: &SuiteRun) -> Result<Option<i64>, Error> {
        self.conn
            .query_row(
                "SELECT MAX(id) FROM runs WHERE started_at = ?1 AND commit_hash = ?2 AND branch = ?3",
                params![run.started_at, run.commit, run.branch],
                |r| r.get(0),
            )
            .map_err(|e| history_error(&self.path, e))
    }

    /// The machine fingerprint of run `id`, if it exists.
    pub fn machine_of(&self, id: i64) -> Result<Option<String>, Error> {
        self.conn
            .query_row("SELECT machine FROM runs WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| history_error(&self.path, e))
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

    /// The whole run `id`, benchmarks included, checked
    /// ([`SuiteRun::check`]): a run stored by an older benchscope with a
    /// figure out of range is an error naming it, which readers of many runs
    /// skip with a warning.
    pub fn run(&self, id: i64) -> Result<SuiteRun, Error> {
        let db = |e: rusqlite::Error| history_error(&self.path, e);
        let head = self
            .conn
            .query_row(
                "SELECT started_at, duration_s, commit_hash, branch, environment, benchscope_version,
                        failures_json, exports_json
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
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
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
        let unreadable = |what: &str, e: serde_json::Error| Error::History {
            path: self.path.clone(),
            message: format!("the stored {what} of run {id} are unreadable: {e}"),
        };
        let run = SuiteRun {
            schema_version: crate::results::SCHEMA_VERSION,
            benchscope_version: head.5,
            started_at: head.0,
            duration_s: head.1,
            environment: head.4,
            commit: head.2,
            branch: head.3,
            benchmarks,
            failures: serde_json::from_str::<Vec<Failure>>(&head.6)
                .map_err(|e| unreadable("failures", e))?,
            exports: serde_json::from_str::<Vec<ExportStatus>>(&head.7)
                .map_err(|e| unreadable("export statuses", e))?,
            complexity: Vec::new(),
        };
        // Fitted again from the stored results: nothing of it to store.
        let run = SuiteRun {
            complexity: SuiteRun::fit_complexity(&run.benchmarks),
            ..run
        };
        run.check().map_err(|problem| Error::History {
            path: self.path.clone(),
            message: format!("run {id} is unusable: {problem}"),
        })?;
        Ok(run)
    }

    /// Every run that reads back whole, oldest first (on `branch` when
    /// given), with a warning for each that does not: one bad run never
    /// makes the history unreadable.
    pub fn readable_runs(&self, branch: Option<&str>) -> Result<ReadableRuns, Error> {
        RunSource::readable_runs(self, branch)
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
}

/// How [`history_error`] begins the message of a write that found no room.
const NO_ROOM: &str = "the disk has no room";

/// The characters of a path escaped in a SQLite URI.
const URI_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'?')
    .add(b'#');

pub(super) fn history_error(path: &Path, e: rusqlite::Error) -> Error {
    let message = match e.sqlite_error_code() {
        Some(
            rusqlite::ErrorCode::DiskFull
            | rusqlite::ErrorCode::SystemIoFailure
            | rusqlite::ErrorCode::ReadOnly
            | rusqlite::ErrorCode::CannotOpen,
        ) => format!(
            "{NO_ROOM} or cannot be written ({e}); free some space (or make it writable) and run again"
        ),
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

fn to_json(path: &Path, value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::History {
        path: path.to_owned(),
        message: format!("cannot encode a result: {e}"),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::fixtures::run;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("benchscope-history-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("history.db")
    }

    #[test]
    fn runs_round_trip_whole() {
        let path = temp("roundtrip");
        let mut h = History::open(&path).unwrap();
        let mut first = run("aaa", "main", &[("x", 100.0), ("y", 5.0)]);
        first.failures.push(Failure {
            name: "z".into(),
            error: "benchmark `z` panicked: boom".into(),
        });
        first.exports.push(ExportStatus {
            exporter: "OTLP metrics export to http://127.0.0.1:1/v1/metrics".into(),
            succeeded: 3,
            failed: 1,
            first_error: Some("connection refused".into()),
        });
        let a = h.record(&first).unwrap();
        let b = h.record(&run("bbb", "feature", &[("x", 110.0)])).unwrap();
        assert!(b > a);
        assert_eq!(h.latest(Some("main")).unwrap(), Some(a));
        assert_eq!(h.latest(None).unwrap(), Some(b));
        let back = h.run(a).unwrap();
        assert_eq!(back.commit, "aaa");
        assert_eq!(back.benchmarks, first.benchmarks);
        assert_eq!(back.failures, first.failures, "failures come back");
        assert_eq!(back.exports, first.exports, "export statuses come back");
        let listed = h.runs(Some("main")).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].benchmarks, 2);
        drop(h);
        // Reopening keeps everything.
        let h = History::open(&path).unwrap();
        assert_eq!(h.runs(None).unwrap().len(), 2);
    }

    #[test]
    fn an_out_of_range_run_is_refused_and_a_bad_stored_one_is_skipped() {
        let path = temp("nonfinite");
        let mut h = History::open(&path).unwrap();
        let mut bad = run("bad", "main", &[("x", 100.0)]);
        bad.benchmarks[0].stats.mean = f64::INFINITY;
        let e = h.record(&bad).unwrap_err().to_string();
        assert!(
            e.contains("not stored") && e.contains("the mean is inf"),
            "{e}"
        );
        assert!(h.runs(None).unwrap().is_empty(), "nothing was written");
        // A run stored before the check existed, with a NaN written as null.
        let good = h.record(&run("good", "main", &[("x", 100.0)])).unwrap();
        let poisoned = h.record(&run("poisoned", "main", &[("x", 100.0)])).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE results SET result_json = replace(result_json, '\"mad\":', '\"mad\":null,\"x\":') WHERE run_id = ?1",
            params![poisoned],
        )
        .unwrap();
        let later = h.record(&run("later", "main", &[("x", 100.0)])).unwrap();
        assert!(h.run(poisoned).is_err());
        let ReadableRuns {
            runs,
            skipped: warnings,
        } = h.readable_runs(None).unwrap();
        let ids: Vec<i64> = runs.iter().map(|(info, _)| info.id).collect();
        assert_eq!(ids, [good, later]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains(&format!("skipping run {poisoned}")),
            "{warnings:?}"
        );
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
