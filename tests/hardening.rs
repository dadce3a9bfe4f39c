//! The hostile-but-fair probes, rerun against the real binaries and
//! servers: a backup that is not a benchscope history changes nothing; a
//! half-open HTTP connection does not keep the process alive; figures out of
//! range never poison the results; a gate never passes without comparing;
//! the live view bounds frames and clients; `guard` starts no live server;
//! extreme configuration values stop with exit 2; and the smaller holes
//! (DNS rebinding, tokens with `&#%`, a failed output, another program's
//! database, readers that create files, /metrics beyond loopback).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use benchscope::internals::{LiveHub, LiveServer};
use benchscope::{BenchResult, History, SuiteRun};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

fn dir(name: &str) -> PathBuf {
    common::monitoring::scratch_dir(&format!("hard-{name}"))
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// The `benchscope` command, with none of the caller's configuration.
fn tool(dir: &Path, args: &[&str]) -> Output {
    common::benchscope_tool(dir).args(args).output().unwrap()
}

fn run_with(commit: &str, means: &[(&str, f64)]) -> SuiteRun {
    let benchmarks = means
        .iter()
        .map(|(name, mean)| {
            let samples: Vec<f64> = (0..40)
                .map(|i| mean * (1.0 + (i % 5) as f64 * 0.002))
                .collect();
            BenchResult::from_samples(*name, samples).unwrap()
        })
        .collect();
    SuiteRun::new(commit, "main", benchmarks)
}

// 1. A restore that fails leaves the history as it was, byte for byte.

#[test]
fn a_backup_that_is_not_a_benchscope_history_changes_nothing() {
    let d = dir("restore");
    let history = d.join("history.db");
    {
        let mut h = History::open(&history).unwrap();
        h.record(&run_with("one", &[("parse", 100.0)])).unwrap();
        h.record(&run_with("two", &[("parse", 100.0)])).unwrap();
    }
    // Fold the log in, so the file alone is the history.
    let backup = d.join("good.db");
    assert!(
        tool(
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
            &d,
            &[
                "--history",
                "history.db",
                "history",
                "restore",
                bad.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("not a benchscope history's"),
            "{}",
            text(&out)
        );
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
        h.record(&run_with("three", &[("parse", 100.0)])).unwrap();
    }
    let out = tool(
        &d,
        &[
            "--history",
            "history.db",
            "history",
            "restore",
            backup.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let h = History::open(&history).unwrap();
    let commits: Vec<String> = h
        .runs(None)
        .unwrap()
        .into_iter()
        .map(|r| r.commit)
        .collect();
    assert_eq!(commits, ["one", "two"]);
}

// 2. A half-open connection does not keep the process alive.

#[test]
fn a_half_open_request_does_not_hold_the_process() {
    let d = dir("halfopen");
    let (metrics, live) = (common::free_addr(), common::free_addr());
    let mut child = common::quickstart_command()
        .args([
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "prometheus,live",
            "--prometheus-addr",
            &metrics.to_string(),
            "--live-addr",
            &live.to_string(),
            "--history",
            d.join("h.db").to_str().unwrap(),
            "--output",
            "json",
            d.join("out.json").to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Both servers get a request that never ends.
    let mut half_open = Vec::new();
    for addr in [metrics, live] {
        let start = Instant::now();
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) if start.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("{addr} never listened: {e}"),
            }
        };
        let mut stream = stream;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        half_open.push(stream);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the process stayed alive with a half-open request"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    // The quick suite of one benchmark takes about a second; the servers
    // give a stalled request at most 5 s and stop within 2 s.
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}: {stderr}",
        start.elapsed()
    );
    assert!(
        d.join("out.json").is_file() && d.join("h.db").is_file(),
        "{stderr}"
    );
    drop(half_open);
}

// 3. A figure out of range is a comparison that could not be computed, not a NaN.

#[test]
fn an_absurd_baseline_is_reported_as_incomparable_and_the_results_stay_readable() {
    let d = dir("nonfinite");
    let mut base = run_with("absurd", &[("strings/parse_u64", 100.0)]);
    // Samples whose sum overflows: the mean of the file is finite, the
    // test's arithmetic is not.
    base.benchmarks[0].samples_ns = vec![1e308; 40];
    base.benchmarks[0].stats.mean = 1e308;
    base.write_json(&d.join("base.json")).unwrap();
    let out = common::quickstart_command()
        .current_dir(&d)
        .args([
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "none",
            "--no-history",
            "--baseline",
            "base.json",
            "--output",
            "json",
            "out.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("could not compare"), "{}", text(&out));
    let written = std::fs::read_to_string(d.join("out.json")).unwrap();
    let back = SuiteRun::read_json(&d.join("out.json")).expect("the results read back, checked");
    let reason = back.benchmarks[0]
        .incomparable
        .as_deref()
        .unwrap_or_default();
    assert!(reason.contains("no finite change"), "{reason}");
    assert!(back.benchmarks[0].baseline.is_none());
    // The gate reads it back and blocks on it, unless told to let it pass.
    let gate = tool(
        &d,
        &["guard", "--results", "out.json", "--baseline", "base.json"],
    );
    assert_eq!(gate.status.code(), Some(1), "{}", text(&gate));
    assert!(text(&gate).contains("COULD NOT COMPARE"), "{}", text(&gate));
    let lenient = tool(
        &d,
        &[
            "guard",
            "--results",
            "out.json",
            "--baseline",
            "base.json",
            "--allow-incomparable",
        ],
    );
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient));
    // A results file with a null where a number goes is refused with its name.
    std::fs::write(
        d.join("poisoned.json"),
        written.replacen("\"mad\":", "\"mad\": null, \"x\":", 1),
    )
    .unwrap();
    let refused = tool(
        &d,
        &[
            "guard",
            "--results",
            "poisoned.json",
            "--baseline",
            "base.json",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("poisoned.json"),
        "{}",
        text(&refused)
    );
}

// 4. A gate never passes without comparing.

#[test]
fn a_gate_that_compares_nothing_fails_unless_asked_to_pass() {
    let d = dir("empty");
    run_with("base", &[("old", 100.0)])
        .write_json(&d.join("base.json"))
        .unwrap();
    run_with("now", &[("renamed", 100.0)])
        .write_json(&d.join("now.json"))
        .unwrap();
    let strict = tool(
        &d,
        &["guard", "--results", "now.json", "--baseline", "base.json"],
    );
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
    assert!(
        text(&strict).contains("nothing was compared"),
        "{}",
        text(&strict)
    );
    let allowed = tool(
        &d,
        &[
            "guard",
            "--results",
            "now.json",
            "--baseline",
            "base.json",
            "--allow-empty",
        ],
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
}

#[test]
fn an_imported_baseline_is_not_the_latest_run() {
    let d = dir("import");
    {
        let mut h = History::open(&d.join("target/benchscope/history.db")).unwrap();
        h.record(&run_with("latest-run", &[("parse", 200.0)]))
            .unwrap();
    }
    run_with("imported", &[("parse", 100.0)])
        .write_json(&d.join("base.json"))
        .unwrap();
    assert!(
        tool(&d, &["baseline", "import", "main", "base.json"])
            .status
            .success()
    );
    // The gate compares the latest run (twice as slow), not the import with itself.
    let gate = tool(&d, &["guard", "--baseline", "main"]);
    assert_eq!(gate.status.code(), Some(1), "{}", text(&gate));
    assert!(
        text(&gate).contains("REGRESSED (critical)"),
        "{}",
        text(&gate)
    );
}

// 5. The live view bounds what a client may send and how many may connect.

fn live_server(max_clients: usize) -> (LiveHub, LiveServer) {
    let hub = LiveHub::new();
    let server = LiveServer::start(
        "127.0.0.1:0".parse().unwrap(),
        None,
        max_clients,
        hub.clone(),
    )
    .unwrap();
    (hub, server)
}

fn connect(addr: SocketAddr) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    tungstenite::client(format!("ws://{addr}/ws"), stream)
        .expect("handshake")
        .0
}

fn close_code(ws: &mut tungstenite::WebSocket<TcpStream>) -> (CloseCode, String) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        match ws.read() {
            Ok(Message::Close(Some(frame))) => return (frame.code, frame.reason.to_string()),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
    panic!("not closed");
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

#[test]
fn oversized_frames_are_refused_before_they_are_read() {
    let (_hub, server) = live_server(64);
    let addr = server.local_addr();
    let before = rss_mib();
    let mut clients = Vec::new();
    for _ in 0..40 {
        let mut ws = connect(addr);
        // A text frame that announces 15 MiB, then 1 MiB of it: the server
        // must refuse it at the header, not buffer it.
        let stream = ws.get_mut();
        let len: u64 = 15 << 20;
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        stream.write_all(&header).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
        clients.push(ws);
    }
    for ws in &mut clients {
        let (code, reason) = close_code(ws);
        assert_eq!(code, CloseCode::Size, "{reason}");
        assert!(reason.contains("4096"), "{reason}");
    }
    let grown = rss_mib() - before;
    assert!(
        grown < 64.0,
        "40 oversized frames grew the process by {grown:.0} MiB"
    );
    // The server still serves.
    let mut ws = connect(addr);
    assert!(matches!(ws.read().unwrap(), Message::Text(_)));
}

#[test]
fn clients_past_the_cap_are_closed_with_the_reason() {
    let (hub, server) = live_server(3);
    let addr = server.local_addr();
    let kept: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    let start = Instant::now();
    while hub.clients() < 3 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut extra = connect(addr);
    let (code, reason) = close_code(&mut extra);
    assert_eq!(code, CloseCode::Again);
    assert!(reason.contains("live.max_clients"), "{reason}");
    drop(kept);
}

// 6. The gate starts no live server.

#[test]
fn the_gate_starts_no_live_server_even_when_configured() {
    let d = dir("guardlive");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        d.join("benchscope.toml"),
        format!(
            "exporters = [\"live\"]\n[live]\naddr = \"{}\"\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    run_with("base", &[("parse", 100.0)])
        .write_json(&d.join("base.json"))
        .unwrap();
    run_with("now", &[("parse", 100.0)])
        .write_json(&d.join("now.json"))
        .unwrap();
    let mut cmd = Command::new(common::benchscope_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(&d)
        .args(["guard", "--results", "now.json", "--baseline", "base.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("in use"), "{}", text(&out));
}

// 7. Extreme values stop with exit 2 before anything runs.

#[test]
fn extreme_configuration_values_stop_with_exit_2() {
    let d = dir("extreme");
    for (file, key) in [
        ("[otlp]\ntimeout = \"584542046090years\"\n", "timeout"),
        (
            "[otlp]\ntimeout = \"18446744073709551615s 600ms\"\n",
            "timeout",
        ),
        (
            "[measurement]\nsamples = 4000000000\nmax_time = \"20h\"\n",
            "samples",
        ),
        ("[prometheus]\nlinger = \"90days\"\n", "linger"),
    ] {
        let config = d.join("extreme.toml");
        std::fs::write(&config, file).unwrap();
        let out = common::quickstart_command()
            .args(["--quick", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out));
        assert!(text(&out).contains(key), "{file}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{file}: {}", text(&out));
        assert!(
            !text(&out).contains("benchscope: running"),
            "{file}: {}",
            text(&out)
        );
    }
}

// 8. The smaller holes.

#[test]
fn a_rebinding_page_gets_no_stream_and_tokens_may_hold_any_character() {
    let (_hub, server) = live_server(8);
    let addr = server.local_addr();
    let upgrade = |host: &str, origin: &str| {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    };
    let port = addr.port();
    assert!(
        upgrade(
            &format!("127.0.0.1:{port}"),
            &format!("http://127.0.0.1:{port}")
        )
        .starts_with("HTTP/1.1 101")
    );
    // A page on a name that resolves to 127.0.0.1: Host and Origin agree.
    let rebinding = upgrade(
        &format!("evil.example:{port}"),
        &format!("http://evil.example:{port}"),
    );
    assert!(rebinding.starts_with("HTTP/1.1 403"), "{rebinding}");

    // A token with `&`, `#` and `%`, percent-encoded in the page's address.
    let hub = LiveHub::new();
    let guarded = LiveServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Some("a&b#c%d e".into()),
        8,
        hub,
    )
    .unwrap();
    let addr = guarded.local_addr();
    let stream = TcpStream::connect(addr).unwrap();
    let ok = tungstenite::client(format!("ws://{addr}/ws?token=a%26b%23c%25d%20e"), stream);
    assert!(ok.is_ok(), "the right token, percent-encoded, is accepted");
    let stream = TcpStream::connect(addr).unwrap();
    let wrong = tungstenite::client(format!("ws://{addr}/ws?token=a&b"), stream);
    assert!(wrong.is_err(), "a wrong token is refused");
}

#[test]
fn a_failed_output_still_keeps_the_run_in_the_history() {
    let d = dir("output");
    let history = d.join("h.db");
    let out = common::quickstart_command()
        .args([
            "--quick",
            "--exact",
            "strings/parse_u64",
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
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("results.json"), "{}", text(&out));
    assert_eq!(
        History::open(&history).unwrap().runs(None).unwrap().len(),
        1
    );
}

#[test]
fn another_programs_database_is_left_alone() {
    let d = dir("foreign");
    let foreign = d.join("app.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
            .unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    let out = common::quickstart_command()
        .args([
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "none",
        ])
        .env("BENCHSCOPE_HISTORY", &foreign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("another program's SQLite database"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
}

#[test]
fn readers_of_the_history_create_nothing() {
    let d = dir("readers");
    for args in [
        &["analyze"][..],
        &["guard", "--baseline-branch", "main"][..],
        &["history", "backup", "copy.db"][..],
    ] {
        let out = tool(&d, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("no history here yet"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(!d.join("target").exists(), "{args:?} created the history");
    }
}

#[test]
fn metrics_beyond_loopback_come_with_a_warning() {
    let out = common::quickstart_command()
        .args([
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "prometheus",
            "--prometheus-addr",
            "0.0.0.0:0",
            "--no-history",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("warning: --prometheus-addr = 0.0.0.0:0 serves /metrics beyond loopback"),
        "{}",
        text(&out)
    );
}
