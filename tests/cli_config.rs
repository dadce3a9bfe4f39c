//! The command line of a bench target, run as a real process (the quickstart
//! example): bad configuration stops it before any benchmark with exit code
//! 2 and a message naming the key, the value and the choices; `--print-config`
//! shows where values came from; Ctrl-C flushes what was recorded.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::otlp::{Answer, HttpReceiver};
use common::quickstart_command as quickstart;

/// Runs the quickstart with `args` and `env`; returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = quickstart()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run the quickstart");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_rejected(args: &[&str], env: &[(&str, &str)], must_name: &[&str]) {
    let (code, stdout, stderr) = run(args, env);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    for word in must_name {
        assert!(
            stderr.contains(word),
            "the message should name {word:?}: {stderr}"
        );
    }
    assert!(
        !stderr.contains("benchscope: running"),
        "a benchmark started: {stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn bad_configuration_fails_before_any_benchmark_with_exit_code_2() {
    assert_rejected(
        &["--quick"],
        &[("OTEL_METRICS_EXPORTER", "prometheus,graphite")],
        &[
            "OTEL_METRICS_EXPORTER",
            "graphite",
            "valid: prometheus, otlp, stdout",
        ],
    );
    assert_rejected(
        &["--quick"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318")],
        &["OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318", "http://"],
    );
    assert_rejected(
        &["--quick", "--otlp-protocol", "http/json"],
        &[],
        &["--otlp-protocol", "http/json", "grpc, http/protobuf"],
    );

    let dir = std::env::temp_dir().join(format!("benchscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unknown_key = dir.join("unknown-key.toml");
    std::fs::write(&unknown_key, "[prometheus]\nport = 9464\n").unwrap();
    assert_rejected(
        &["--quick", "--config", unknown_key.to_str().unwrap()],
        &[],
        &["unknown-key.toml", "port", "addr", "linger"],
    );
    let bad_toml = dir.join("bad.toml");
    std::fs::write(&bad_toml, "exporters = [\"otlp\"\n").unwrap();
    assert_rejected(
        &["--quick"],
        &[("BENCHSCOPE_CONFIG", bad_toml.to_str().unwrap())],
        &["bad.toml"],
    );
}

#[test]
fn print_config_shows_each_value_and_its_source() {
    let dir = std::env::temp_dir().join(format!("benchscope-print-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Found in the crate root, as cargo names it.
    std::fs::write(
        dir.join("benchscope.toml"),
        "environment = \"ci\"\n[otlp]\ntimeout = \"3s\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(
        &["--print-config", "--exporters", "prometheus,otlp"],
        &[
            ("CARGO_MANIFEST_DIR", dir.to_str().unwrap()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20secret",
            ),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("environment = \"ci\"  # file "), "{stdout}");
    assert!(
        stdout.contains("timeout = \"1s 500ms\"  # env OTEL_EXPORTER_OTLP_TIMEOUT"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exporters = [\"prometheus\", \"otlp\"]  # flag --exporters"),
        "{stdout}"
    );
    assert!(stdout.contains("samples = 100  # default"), "{stdout}");
    assert!(
        !stdout.contains("secret"),
        "header values are redacted: {stdout}"
    );
}

#[test]
fn the_history_flag_says_where_the_run_is_kept() {
    let dir = std::env::temp_dir().join(format!("benchscope-history-flag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let elsewhere = dir.join("elsewhere/runs.db");
    let (code, _, stderr) = run(
        &[
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "none",
            "--history",
            elsewhere.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("kept in {}", elsewhere.display())),
        "{stderr}"
    );
    let history = benchscope::History::open(&elsewhere).unwrap();
    let runs = history.runs(None).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].benchmarks, 1);
}

#[test]
fn a_filter_that_matches_nothing_is_an_error_not_an_empty_run() {
    let (code, stdout, stderr) = run(&["--quick", "no_such_benchmark", "--no-history"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no benchmark matches") && stderr.contains("--list"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn the_guard_exports_its_verdict_by_otlp() {
    let receiver = HttpReceiver::start(Answer::Ok);
    let dir = std::env::temp_dir().join(format!("benchscope-guard-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |file: &str, mean: f64| {
        let samples: Vec<f64> = (0..40)
            .map(|i| mean * (1.0 + (i % 4) as f64 * 0.002))
            .collect();
        let result = benchscope::BenchResult::from_samples("parse", samples).unwrap();
        benchscope::SuiteRun::new("c0ffee", "main", vec![result])
            .write_json(&dir.join(file))
            .unwrap();
    };
    write("base.json", 1000.0);
    write("now.json", 1600.0);
    let mut cmd = Command::new(common::benchscope_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") || key.starts_with("GITHUB_")
        {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(&dir)
        .args(["guard", "--results", "now.json", "--baseline", "base.json"])
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("GITHUB_WORKFLOW", "benchmarks")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = receiver.received.latest_metrics();
    let status = common::otlp::points(&received["ci_pipeline_status"]);
    assert_eq!(status.len(), 1);
    let (labels, value) = &status[0];
    assert_eq!(*value, 0.0, "a failed gate");
    assert_eq!(labels["pipeline"], "benchmarks");
    assert_eq!(labels["trigger"], "pull_request");
    assert_eq!(labels["branch"], "main");
    let regressions = common::otlp::points(&received["performance_regression_detected_total"]);
    assert_eq!(regressions[0].0["severity"], "critical");
    assert_eq!(regressions[0].0["commit_hash"], "c0ffee");
    let speedup = common::otlp::points(&received["speedup_ratio"]);
    assert_eq!(speedup.len(), 3, "p50, p95, p99");
}

#[test]
fn the_stdout_exporter_prints_the_metrics() {
    let (code, stdout, stderr) = run(
        &[
            "--quick",
            "--exact",
            "strings/parse_u64",
            "--exporters",
            "stdout",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    for name in [
        "benchmark_execution_time_ms",
        "benchmark_mean_ms",
        "ci_pipeline_status",
    ] {
        assert!(stdout.contains(name), "{name} not printed:\n{stdout}");
    }
    assert!(stdout.contains("strings/parse_u64"), "{stdout}");
}

#[test]
fn ctrl_c_flushes_what_was_recorded() {
    let receiver = HttpReceiver::start(Answer::Ok);
    let mut child = quickstart()
        .args([
            "--exporters",
            "otlp",
            "--otlp-endpoint",
            &receiver.endpoint(),
        ])
        // No periodic export before the interrupt: only the flush can deliver.
        .env("OTEL_METRIC_EXPORT_INTERVAL", "600000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the quickstart");
    // Each finished benchmark's block begins `NAME   time:   [...]` on
    // standard output, as criterion's does.
    let stdout = child.stdout.take().unwrap();
    let (finished_tx, finished_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("time:   [") {
                let _ = finished_tx.send(line);
            }
        }
    });
    let first = finished_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a first benchmark finishes");
    let name = first.split("time:").next().unwrap().trim().to_owned();
    assert_eq!(
        receiver.requests.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // SAFETY: kill sends a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the quickstart did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let received = receiver.received.latest_metrics();
    let means = common::otlp::points(&received["benchmark_mean_ms"]);
    assert!(
        means
            .iter()
            .any(|(labels, _)| labels.get("benchmark_name") == Some(&name)),
        "{name} finished before the interrupt but its mean was not flushed: {means:?}"
    );
}

#[test]
fn extreme_configuration_values_stop_with_exit_2() {
    let d = common::monitoring::scratch_dir("hard-extreme");
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
        assert_eq!(
            out.status.code(),
            Some(2),
            "{file}: {}",
            common::output_text(&out)
        );
        assert!(
            common::output_text(&out).contains(key),
            "{file}: {}",
            common::output_text(&out)
        );
        assert!(
            !common::output_text(&out).contains("panicked"),
            "{file}: {}",
            common::output_text(&out)
        );
        assert!(
            !common::output_text(&out).contains("benchscope: running"),
            "{file}: {}",
            common::output_text(&out)
        );
    }
}

#[test]
fn serve_after_writes_the_table_and_the_results_before_it_waits() {
    let dir = common::monitoring::scratch_dir("serve-after-order");
    let addr = common::free_addr();
    let mut child = common::quick_parse_u64()
        .current_dir(&dir)
        .args(["--no-history", "--exporters", "prometheus"])
        .args(["--prometheus-addr", &addr.to_string()])
        .args(["--serve-after", "60s", "--output", "json", "out.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let table = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let kept = table.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let (tx, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Once it says it serves the final figures, everything else is out.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = said
            .recv_timeout(left)
            .expect("the linger was announced within a minute");
        if line.starts_with("serving the final figures on /metrics for 1m") {
            break;
        }
    }
    assert!(
        table
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.starts_with("strings/parse_u64")),
        "the table is printed before the wait: {}",
        table.lock().unwrap()
    );
    let run = benchscope::SuiteRun::read_json(&dir.join("out.json"))
        .expect("the results file is written before the wait");
    assert_eq!(run.benchmarks.len(), 1);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process still serves /metrics"
    );
    let scraped = common::scrape(addr);
    assert!(
        scraped.contains("benchmark_mean_ms{benchmark_name=\"strings/parse_u64\""),
        "{scraped}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn outputs_write_through_symlinks_and_refuse_what_is_not_a_file() {
    let dir = common::monitoring::scratch_dir("output-targets");
    std::os::unix::fs::symlink("real.json", dir.join("link.json")).unwrap();
    let out = common::quick_parse_u64()
        .current_dir(&dir)
        .args(["--no-history", "--exporters", "none"])
        .args(["--output", "json", "link.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    // The link stays a link; its target holds the results.
    let link = std::fs::symlink_metadata(dir.join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    benchscope::SuiteRun::read_json(&dir.join("real.json")).expect("the target holds the run");
    // A FIFO and a folder are refused with exit 2, and left as they were.
    let fifo = dir.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid, NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    std::fs::create_dir(dir.join("folder")).unwrap();
    let imported = common::tool_output(&dir, &["baseline", "import", "main", "real.json"]);
    assert!(
        imported.status.success(),
        "{}",
        common::output_text(&imported)
    );
    for (name, what) in [("fifo", "a FIFO"), ("folder", "a folder")] {
        let started = Instant::now();
        let out = common::tool_output(&dir, &["baseline", "export", "main", name]);
        common::assert_says(&out, 2, what);
        assert!(common::output_text(&out).contains("not a regular file"));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: no hang"
        );
    }
    let fifo_type = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&fifo_type),
        "the FIFO is still one"
    );
    assert!(dir.join("folder").is_dir());
    assert!(!dir.join("fifo.json.tmp").exists() && !dir.join("real.json.tmp").exists());
}
