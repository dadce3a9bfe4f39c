//! The history database under stress: a corrupt file and a newer schema are
//! clear errors that leave the file untouched; two writers at once lose no
//! run; a writer killed with SIGKILL mid-run leaves every earlier run
//! readable; a backup taken while a suite writes restores exactly, and a bad
//! backup is refused without touching the history.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benchscope::History;

const SCHEMA_VERSION: i64 = History::SCHEMA_VERSION;
use benchscope::{BenchResult, SuiteRun};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("benchscope-robust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("history.db")
}

fn run(tag: usize) -> SuiteRun {
    let samples: Vec<f64> = (0..50).map(|i| 1000.0 + (i * tag % 7) as f64).collect();
    let benchmarks = (0..5)
        .map(|b| BenchResult::from_samples(format!("bench_{b}"), samples.clone()).unwrap())
        .collect();
    SuiteRun::new(&format!("commit{tag}"), "main", benchmarks)
}

fn snapshot(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    let meta = std::fs::metadata(path).unwrap();
    (std::fs::read(path).unwrap(), meta.modified().unwrap())
}

#[test]
fn a_corrupt_file_is_a_clear_error_and_is_left_untouched() {
    let path = temp("corrupt");
    std::fs::write(
        &path,
        b"this is not a database, but someone's notes\n".repeat(200),
    )
    .unwrap();
    let before = snapshot(&path);
    let err = History::open(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("not a SQLite database") && err.contains("move it aside"),
        "{err}"
    );
    assert_eq!(snapshot(&path), before, "the file was changed");
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let path = temp("future");
    {
        let mut h = History::open(&path).unwrap();
        h.record(&run(1)).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 98)
            .unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = snapshot(&path);
    let err = History::open(&path).unwrap_err().to_string();
    assert!(
        err.contains(&format!("schema version {}", SCHEMA_VERSION + 98)),
        "{err}"
    );
    assert!(err.contains("upgrade benchscope"), "{err}");
    assert_eq!(snapshot(&path), before, "the file was changed");
    // The run is still there for a benchscope that understands the schema.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let runs: i64 = conn
        .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 1);
}

#[test]
fn two_writers_at_once_lose_no_run() {
    let path = temp("concurrent");
    History::open(&path).unwrap();
    const EACH: usize = 25;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut h = History::open(&path).unwrap();
                for i in 0..EACH {
                    h.record(&run(w * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let h = History::open(&path).unwrap();
    let runs = h.runs(None).unwrap();
    assert_eq!(runs.len(), 2 * EACH);
    let mut commits: Vec<String> = runs.iter().map(|r| r.commit.clone()).collect();
    commits.sort();
    commits.dedup();
    assert_eq!(commits.len(), 2 * EACH, "every run is distinct");
    assert!(runs.iter().all(|r| r.benchmarks == 5));
}

/// The child of the SIGKILL test, run by the test binary itself: writes
/// runs until killed (at most 60 s).
fn writer_child(path: &Path) {
    let mut h = History::open(path).unwrap();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(60) {
        h.record(&run(i)).unwrap();
        i += 1;
    }
}

#[test]
fn a_writer_killed_mid_run_leaves_earlier_runs_readable() {
    // This same test, started again as the child, is the writer.
    if let Some(path) = std::env::var_os("HISTORY_WRITER_CHILD") {
        writer_child(Path::new(&path));
        return;
    }
    let path = temp("sigkill");
    History::open(&path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_writer_killed_mid_run_leaves_earlier_runs_readable",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HISTORY_WRITER_CHILD", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reader = History::open(&path).unwrap();
    let start = Instant::now();
    while reader.runs(None).unwrap().len() < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the writer wrote too little"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Killed at an arbitrary point, most likely inside a transaction.
    child.kill().unwrap();
    child.wait().unwrap();
    drop(reader);

    let h = History::open(&path).unwrap();
    let runs = h.runs(None).unwrap();
    assert!(runs.len() >= 20);
    for info in &runs {
        let run = h.run(info.id).unwrap();
        assert_eq!(run.benchmarks.len(), 5, "run {} is whole", info.id);
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

fn tool(history: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::benchscope_binary())
        .arg("--history")
        .arg(history)
        .args(args)
        .env_remove("BENCHSCOPE_CONFIG")
        .output()
        .unwrap()
}

fn commits(path: &Path) -> Vec<String> {
    let history = History::open(path).unwrap();
    history
        .runs(None)
        .unwrap()
        .into_iter()
        .map(|r| r.commit)
        .collect()
}

#[test]
fn a_backup_taken_while_a_suite_writes_restores_exactly() {
    let path = temp("backup");
    let dir = path.parent().unwrap().to_owned();
    let mut history = History::open(&path).unwrap();
    for tag in 0..3 {
        history.record(&run(tag)).unwrap();
    }

    // A writer keeps adding runs while the backup is taken.
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut history = History::open(&path).unwrap();
            for tag in 100..120 {
                history.record(&run(tag)).unwrap();
            }
        })
    };
    let backup = dir.join("backup.db");
    let out = tool(&path, &["history", "backup", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.join().unwrap();
    let backed_up = commits(&backup);
    assert!(
        backed_up.len() >= 3 && backed_up.len() <= 23,
        "{backed_up:?}"
    );
    assert_eq!(&backed_up[..3], ["commit0", "commit1", "commit2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("({} runs)", backed_up.len())),
        "{stdout}"
    );

    // More runs, then the restore: exactly the backup's runs again.
    history.record(&run(200)).unwrap();
    drop(history);
    assert_eq!(commits(&path).len(), 24);
    let out = tool(&path, &["history", "restore", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(commits(&path), backed_up);
    let history = History::open(&path).unwrap();
    let restored = history.run(history.latest(None).unwrap().unwrap()).unwrap();
    assert_eq!(restored.benchmarks.len(), 5);
    drop(history);

    // A backup never overwrites a file.
    let before = std::fs::read(&backup).unwrap();
    let out = tool(&path, &["history", "backup", backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&backup).unwrap(), before);

    // A bad backup is refused and the history is left as it was.
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let out = tool(&path, &["history", "restore", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = dir.join("other.db");
    plain_sqlite_file(&other);
    let out = tool(&path, &["history", "restore", other.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a benchscope history"));
    assert_eq!(commits(&path), backed_up);
}

/// A valid SQLite database that is not a benchscope history.
fn plain_sqlite_file(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hello');")
        .unwrap();
}

// What readers and failed restores leave behind: nothing.

#[test]
fn a_backup_that_is_not_a_benchscope_history_changes_nothing() {
    let d = common::monitoring::scratch_dir("hard-restore");
    let history = d.join("history.db");
    {
        let mut h = History::open(&history).unwrap();
        h.record(&common::run_with("one", &[("parse", 100.0)]))
            .unwrap();
        h.record(&common::run_with("two", &[("parse", 100.0)]))
            .unwrap();
    }
    // Fold the log in, so the file alone is the history.
    let backup = d.join("good.db");
    assert!(
        common::tool_output(
            &d,
            &["--history", "history.db", "history", "backup", "good.db"]
        )
        .status
        .success()
    );
    let before = std::fs::read(&history).unwrap();

    let foreign = d.join("foreign.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE foo (x); PRAGMA user_version = 1;")
            .unwrap();
    }
    let wrong_columns = d.join("columns.db");
    {
        let conn = rusqlite::Connection::open(&wrong_columns).unwrap();
        conn.execute_batch(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, what TEXT);
             CREATE TABLE results (run_id INTEGER, name TEXT);
             CREATE TABLE baselines (name TEXT PRIMARY KEY);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    for bad in [&foreign, &wrong_columns] {
        let out = tool(
            &d.join("history.db"),
            &["history", "restore", bad.to_str().unwrap()],
        );
        common::assert_says(&out, 2, "not a benchscope history's");
        assert_eq!(
            std::fs::read(&history).unwrap(),
            before,
            "the history changed"
        );
        assert!(
            !std::fs::read_dir(&d).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".restore-")),
            "a temporary file was left behind"
        );
    }
    // The good backup still restores, and the history reads back whole.
    {
        let mut h = History::open(&history).unwrap();
        h.record(&common::run_with("three", &[("parse", 100.0)]))
            .unwrap();
    }
    let out = tool(
        &d.join("history.db"),
        &["history", "restore", backup.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", common::output_text(&out));
    let h = History::open(&history).unwrap();
    let commits: Vec<String> = h
        .runs(None)
        .unwrap()
        .into_iter()
        .map(|r| r.commit)
        .collect();
    assert_eq!(commits, ["one", "two"]);
}

#[test]
fn a_failed_output_still_keeps_the_run_in_the_history() {
    let d = common::monitoring::scratch_dir("hard-output");
    let history = d.join("h.db");
    let out = common::quick_parse_u64()
        .args([
            "--exporters",
            "none",
            "--history",
            history.to_str().unwrap(),
            "--output",
            "json",
            "/proc/no-such-dir/results.json",
        ])
        .output()
        .unwrap();
    common::assert_says(&out, 2, "results.json");
    assert_eq!(
        History::open(&history).unwrap().runs(None).unwrap().len(),
        1
    );
}

#[test]
fn another_programs_database_is_left_alone() {
    let d = common::monitoring::scratch_dir("hard-foreign");
    let foreign = d.join("app.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
            .unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    let out = common::quick_parse_u64()
        .args(["--exporters", "none"])
        .env("BENCHSCOPE_HISTORY", &foreign)
        .output()
        .unwrap();
    common::assert_says(&out, 2, "another program's SQLite database");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
}

#[test]
fn readers_of_the_history_create_nothing() {
    let d = common::monitoring::scratch_dir("hard-readers");
    for args in [
        &["analyze"][..],
        &["guard", "--baseline-branch", "main"][..],
        &["history", "backup", "copy.db"][..],
    ] {
        let out = common::tool_output(&d, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::output_text(&out)
        );
        assert!(
            common::output_text(&out).contains("no history here yet"),
            "{args:?}: {}",
            common::output_text(&out)
        );
        assert!(!d.join("target").exists(), "{args:?} created the history");
    }
}
