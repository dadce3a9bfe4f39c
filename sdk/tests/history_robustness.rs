//! The history database under stress: a corrupt file and a newer schema are
//! clear errors that leave the file untouched; two writers at once lose no
//! run; a writer killed with SIGKILL mid-run leaves every earlier run
//! readable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benchscope::history::{History, SCHEMA_VERSION};
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

/// Run as a child by the SIGKILL test: writes runs until killed (at most 60 s).
#[test]
fn writer_child() {
    let Some(path) = std::env::var_os("HISTORY_WRITER_CHILD") else {
        return;
    };
    let mut h = History::open(Path::new(&path)).unwrap();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(60) {
        h.record(&run(i)).unwrap();
        i += 1;
    }
}

#[test]
fn a_writer_killed_mid_run_leaves_earlier_runs_readable() {
    let path = temp("sigkill");
    History::open(&path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
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
