//! The second hardening round's probes, rerun against the real binaries:
//! each row of the table holds. Rows tested where their capability lives:
//! row 2 (outputs through symlinks, never over a FIFO or a device) in
//! `cli_config.rs`, row 7's 1 GB results file in `guard_cli.rs`, row 10
//! (`/metrics` with a foreign `Host`) in `prometheus_endpoint.rs`, row 11
//! (a baseline mean of 1e308) in `guard_cli.rs`. The rest are here:
//!
//! | row | probe | holds when |
//! | --- | --- | --- |
//! | 1 | an OTLP endpoint that takes the connection and never answers | the export is failed and warned about, suite and guard |
//! | 3 | 200 concurrent scrapers while a benchmark measures | scrapes are bounded (503, `Retry-After`), the exporter's CPU is recorded and the benchmark flagged |
//! | 4 | `[history] path = ""` | refused before anything runs |
//! | 5 | a `valgrind` that hangs or fails; compare without Valgrind | a deadline, the right count, no folder left; compare stops before any round |
//! | 6 | a TLS CA file that is `/dev/zero` or a FIFO | refused at once |
//! | 7 | a 10 MB benchmark name | shown by its beginning and length |
//! | 8 | a full disk | analyze reads the history and fails cleanly on its report; no temp file left |
//! | 9 | Ctrl-C during compare | exit 130, the sides stopped, no scratch folder left |

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::monitoring::scratch_dir;
use common::{
    benchscope_binary, fleet_bench_binary, free_addr, isolated_command, process_mentions, script,
};

/// The measuring tests run one at a time: on a 2-core machine two at once
/// disturb each other's figures.
static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("results written"))
        .expect("results are JSON")
}

/// `fleet_bench`'s quickest benchmark alone, `--quick`, no history.
fn fleet_sum() -> Command {
    let mut cmd = isolated_command(fleet_bench_binary());
    cmd.args(["--quick", "--exact", "fleet/sum_squares", "--no-history"]);
    cmd
}

#[test]
fn row_1_an_endpoint_that_never_answers_is_a_failed_export() {
    let _guard = measuring();
    fleet_bench_binary();
    let hole = common::otlp::blackhole();
    let dir = scratch_dir("hardening-row1");
    let results = dir.join("r.json");
    let endpoint = format!("http://{}", hole.addr);
    // Past the SDK's own 5 s wait for its final export, which the export
    // outlived unseen before.
    let timeout = [("OTEL_EXPORTER_OTLP_TIMEOUT", "7000")];
    let start = Instant::now();
    let out = fleet_sum()
        .args(["--exporters", "otlp", "--otlp-endpoint", &endpoint])
        .args(["--output", "json"])
        .arg(&results)
        .envs(timeout)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("OTLP metrics export to {endpoint}")) && stderr.contains("failed"),
        "no warning: {stderr}"
    );
    let exports = &json(&results)["exports"][0];
    assert!(exports["failed"].as_u64() >= Some(1), "{exports}");
    assert!(exports["first_error"].is_string(), "{exports}");
    // Bounded by the transport's timeout, not by the endpoint.
    assert!(took < Duration::from_secs(30), "{took:?}");

    // The gate exporting its verdict the same way.
    let out = isolated_command(benchscope_binary())
        .arg("guard")
        .args(["--results", results.to_str().unwrap()])
        .args(["--baseline", results.to_str().unwrap()])
        .env("BENCHSCOPE_EXPORTERS", "otlp")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .envs(timeout)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: OTLP metrics export to") && stderr.contains("failed"),
        "guard said nothing of the lost export: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Scrapes `/metrics` at `addr` from `threads` threads until `stop`,
/// counting answers by status: (200, 503 with Retry-After, other).
fn flood(
    addr: std::net::SocketAddr,
    threads: usize,
    stop: &Arc<AtomicBool>,
) -> [Arc<AtomicU64>; 3] {
    let counts = [(); 3].map(|()| Arc::new(AtomicU64::new(0)));
    for _ in 0..threads {
        let stop = stop.clone();
        let counts = counts.clone();
        std::thread::spawn(move || {
            // Bounded: the run is seconds long.
            let end = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                let answer = TcpStream::connect(addr).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(5)))?;
                    s.write_all(
                        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    )?;
                    let mut out = Vec::new();
                    s.read_to_end(&mut out)?;
                    Ok(text(&out))
                });
                let which = match answer {
                    Ok(a) if a.starts_with("HTTP/1.1 200") => 0,
                    Ok(a) if a.starts_with("HTTP/1.1 503") && a.contains("Retry-After: 1") => 1,
                    _ => 2,
                };
                counts[which].fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    counts
}

#[test]
fn row_3_a_flood_of_scrapers_is_bounded_and_flags_the_benchmark() {
    let _guard = measuring();
    common::quickstart_binary();
    let dir = scratch_dir("hardening-row3");
    let run = |results: &Path, addr: std::net::SocketAddr| {
        common::quickstart_command()
            .args(["--exact", "collections/sort_10k", "--no-history"])
            .args([
                "--exporters",
                "prometheus",
                "--prometheus-addr",
                &addr.to_string(),
            ])
            .args(["--output", "json"])
            .arg(results)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Calm: one scrape a second, as Prometheus does.
    let calm = dir.join("calm.json");
    let addr = free_addr();
    let child = run(&calm, addr);
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = ureq::get(&format!("http://{addr}/metrics")).call();
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let _ = scraper.join();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calm_cost = json(&calm)["benchmarks"][0]["disturbance"]["telemetry_cores"]
        .as_f64()
        .expect("the exporter's CPU is recorded");
    assert!(calm_cost < 0.05, "a scrape a second cost {calm_cost} cores");

    // A flood: 200 scrapers at once for the whole run.
    let flooded = dir.join("flood.json");
    let addr = free_addr();
    let child = run(&flooded, addr);
    std::thread::sleep(Duration::from_millis(300));
    let stop = Arc::new(AtomicBool::new(false));
    let counts = flood(addr, 200, &stop);
    let out: Output = child.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let [ok, refused, _other] = counts.map(|c| c.load(Ordering::Relaxed));
    assert!(ok > 0, "no scrape was answered");
    assert!(
        refused > ok,
        "the flood was not bounded: {ok} answered, {refused} refused"
    );
    let disturbance = &json(&flooded)["benchmarks"][0]["disturbance"];
    let cost = disturbance["telemetry_cores"].as_f64().unwrap();
    assert!(
        cost > 0.05 && disturbance["disturbed"] == true,
        "the flood's cost went unflagged: {disturbance}"
    );
    assert!(
        stdout.contains("benchscope's exporters used"),
        "the table does not say why: {stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn row_4_an_empty_history_path_stops_before_anything_runs() {
    let dir = scratch_dir("hardening-row4");
    let config = dir.join("benchscope.toml");
    std::fs::write(&config, "[history]\nenabled = true\npath = \"\"\n").unwrap();
    let out = isolated_command(fleet_bench_binary())
        .args(["--quick", "--exact", "fleet/sum_squares"])
        .env("BENCHSCOPE_CONFIG", &config)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("an empty path keeps the run nowhere"),
        "{stderr}"
    );
    assert!(!stderr.contains("benchscope: running"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn row_5_a_valgrind_that_hangs_or_fails_is_bounded_and_cleaned_up() {
    let _guard = measuring();
    fleet_bench_binary();
    let dir = scratch_dir("hardening-row5");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let count = |limit: &str| {
        let child = fleet_sum()
            .args(["--measure", "instructions"])
            .env("PATH", &path)
            .env("BENCHSCOPE_INSTRUCTION_TIMEOUT", limit)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let scratch = std::env::temp_dir().join(format!("benchscope-callgrind-{}", child.id()));
        let start = Instant::now();
        let out = child.wait_with_output().unwrap();
        (out, start.elapsed(), scratch)
    };

    // One that never ends: stopped at the deadline, with what it started.
    script(&bin, "valgrind", "sleep 600");
    let (out, took, scratch) = count("2s");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(stdout.contains("did not finish within 2s"), "{stdout}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!scratch.exists(), "{} was left", scratch.display());
    assert!(
        !process_mentions("sleep 600"),
        "the hung valgrind's child lives on"
    );

    // One that fails: each benchmark counted once, the failure named.
    script(&bin, "valgrind", "echo 'valgrind: broken' >&2; exit 1");
    let (out, _, scratch) = count("1m");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(stdout.contains("valgrind: broken"), "{stdout}");
    assert!(stdout.contains("1 benchmarks in"), "{stdout}");
    assert!(stdout.contains(", 1 failed"), "{stdout}");
    assert!(!scratch.exists(), "{} was left", scratch.display());

    // compare without Valgrind: refused before any build or round.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let exe = fleet_bench_binary();
    let start = Instant::now();
    let out = isolated_command(benchscope_binary())
        .args(["compare", "--measure", "instructions", "--baseline-exe"])
        .arg(&exe)
        .arg("--candidate-exe")
        .arg(&exe)
        .env("PATH", &empty)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`valgrind` is not on the PATH"), "{stderr}");
    assert!(!stderr.contains("rounds"), "rounds ran first: {stderr}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn row_6_tls_files_that_never_end_are_refused_at_once() {
    let dir = scratch_dir("hardening-row6");
    let fifo = dir.join("ca.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for ca in [Path::new("/dev/zero"), fifo.as_path()] {
        let start = Instant::now();
        let out = fleet_sum()
            .args([
                "--exporters",
                "otlp",
                "--otlp-endpoint",
                "https://127.0.0.1:4318",
            ])
            .env("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", ca.display());
        assert!(stderr.contains("not a regular file"), "{stderr}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn row_7_a_giant_benchmark_name_is_shown_by_its_beginning() {
    let _guard = measuring();
    let dir = scratch_dir("hardening-row7");
    let results = dir.join("r.json");
    let out = fleet_sum()
        .args(["--output", "json"])
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut run = json(&results);
    run["benchmarks"][0]["name"] = serde_json::Value::String("x".repeat(10 << 20));
    let giant = dir.join("giant.json");
    std::fs::write(&giant, serde_json::to_vec(&run).unwrap()).unwrap();
    let out = isolated_command(benchscope_binary())
        .args(["guard", "--allow-missing", "--allow-empty", "--results"])
        .arg(&giant)
        .arg("--baseline")
        .arg(&results)
        .current_dir(&dir)
        .output()
        .unwrap();
    let shown = out.stdout.len() + out.stderr.len();
    assert!(shown < 64 << 10, "{shown} bytes printed");
    assert!(
        text(&out.stdout).contains("(10485760 bytes in all)"),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A command whose files may grow to `bytes` at most (writes past it fail
/// with EFBIG, as on a full disk, instead of killing the process).
fn with_file_limit(cmd: &mut Command, bytes: u64) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls:
    // signal(2) and setrlimit(2).
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

#[test]
fn row_8_a_full_disk_fails_writes_cleanly_and_still_reads_the_history() {
    let _guard = measuring();
    let dir = scratch_dir("hardening-row8");
    let history = dir.join("history.db");
    for commit in ["c1", "c2"] {
        let out = isolated_command(fleet_bench_binary())
            .args(["--quick", "--history"])
            .arg(&history)
            .env("BENCHSCOPE_COMMIT", commit)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // The history is read; the report cannot be written, and says so.
    let report = dir.join("report");
    let out = with_file_limit(
        isolated_command(benchscope_binary())
            .args(["analyze", "--history"])
            .arg(&history)
            .arg("--out")
            .arg(&report)
            .current_dir(&dir),
        4096,
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("fleet/sum_squares"), "no trends: {stdout}");
    assert!(stderr.contains("cannot write the report"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&report)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a partial report was left: {left:?}");
    for sidecar in ["history.db-wal", "history.db-shm"] {
        assert!(!dir.join(sidecar).exists(), "{sidecar} was left");
    }

    // Results that do not fit: exit 2, no temp file, nothing half-written.
    let results = dir.join("r.json");
    let out = with_file_limit(
        fleet_sum()
            .args(["--output", "json"])
            .arg(&results)
            .current_dir(&dir),
        1024,
    )
    .output()
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write results to"), "{stderr}");
    assert!(!results.exists() && !dir.join("r.json.tmp").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn row_9_ctrl_c_during_compare_stops_the_sides_and_removes_the_scratch_folder() {
    let _guard = measuring();
    let exe = fleet_bench_binary();
    let dir = scratch_dir("hardening-row9");
    let child = isolated_command(benchscope_binary())
        .args(["compare", "--rounds", "5", "--baseline-exe"])
        .arg(&exe)
        .arg("--candidate-exe")
        .arg(&exe)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let scratch = std::env::temp_dir().join(format!("benchscope-compare-{}", child.id()));
    // Wait for the rounds to begin (bounded).
    let start = Instant::now();
    while !scratch.join("round-0.json").exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(scratch.exists(), "the rounds never began");
    // SAFETY: kill(2) on our own child, which has not been waited for.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("could not compare"), "{stderr}");
    assert!(!scratch.exists(), "{} was left", scratch.display());
    assert!(
        !process_mentions(&scratch.to_string_lossy()),
        "a side still runs"
    );

    // A side that hangs is stopped at the timeout, and named.
    let hangs = script(
        &dir,
        "hangs",
        "case \"$*\" in *--list*) echo 'fleet/sum_squares: benchmark';; *) sleep 600;; esac",
    );
    let start = Instant::now();
    let out = isolated_command(benchscope_binary())
        .args([
            "compare",
            "--rounds",
            "3",
            "--timeout",
            "2s",
            "--baseline-exe",
        ])
        .arg(&exe)
        .arg("--candidate-exe")
        .arg(&hangs)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr) + &text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("did not finish within 2s"), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(!process_mentions("sleep 600"), "the hung side lives on");
    let _ = std::fs::remove_dir_all(&dir);
}
