//! A fleet's history in a metrics backend (docs/PERFORMANCE.md, part 15):
//! `benchscope guard --baseline-branch main` on 1,000 runs of 100
//! benchmarks kept in VictoriaMetrics, against the same runs in a SQLite
//! file, side by side in one run: wall time of each gate and the bytes the
//! backend's answers took.
//!
//! The runs are written as the suite writes them (the run-info series and
//! each benchmark's statistics, pushed every 15 s from the benchmark's end
//! to the run's, as a cumulative OTLP export stamps them), ten minutes
//! apart, through VictoriaMetrics' import API; the same runs (with 50
//! samples a benchmark, whose statistics are the ones written) are
//! recorded in the file. The gate judges the latest run (a `feature`
//! branch) against the latest of `main`, weighing the noise of the last
//! 100 runs, as in CI.
//!
//! ```text
//! bash scripts/fetch-victoria-metrics.sh
//! cargo bench -p benchscope-benches --bench remote_history
//! ```
//! `BENCHSCOPE_PERF_RUNS` (1000) and `BENCHSCOPE_PERF_BENCHMARKS` (100)
//! change the size.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use benchscope::{BenchResult, History, SuiteRun};
use common::monitoring::scratch_dir;
use common::victoria::VictoriaMetrics;

const MACHINE: &str = "bench-machine";
const SPACING_S: f64 = 600.0;
const PUSH_EVERY_S: f64 = 15.0;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A deterministic jitter in [-1, 1).
fn jitter(seed: u64) -> f64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Run `i` of `runs`: its benchmarks' samples around their usual level.
fn make_run(i: usize, runs: usize, benchmarks: usize, t0: f64) -> SuiteRun {
    let started_at = t0 + i as f64 * SPACING_S;
    let latest = i + 1 == runs;
    let results = (0..benchmarks)
        .map(|b| {
            let level = 1_000.0 * (1 + b) as f64;
            let samples = (0..50)
                .map(|s| {
                    let seed = (i * 1_000_003 + b * 101 + s) as u64;
                    level * (1.0 + 0.02 * jitter(seed) + 0.01 * jitter(i as u64 * 7 + b as u64))
                })
                .collect();
            let mut r = BenchResult::from_samples(format!("fleet/bench{b:03}"), samples).unwrap();
            r.finished_at = started_at + 1.0 + b as f64;
            r
        })
        .collect();
    SuiteRun {
        schema_version: benchscope::SCHEMA_VERSION,
        benchscope_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        duration_s: benchmarks as f64 + 2.0,
        environment: "ci".into(),
        commit: format!("c{i:05}"),
        branch: if latest { "feature" } else { "main" }.into(),
        benchmarks: results,
        failures: Vec::new(),
        exports: Vec::new(),
        complexity: Vec::new(),
    }
}

/// The run as the exporters leave it in the backend, in the text format
/// VictoriaMetrics imports (timestamps in ms).
fn exported(run: &SuiteRun, out: &mut String) {
    let pipeline = format!("job=\"fleet-suite\",instance=\"{MACHINE}\",runner=\"fleet\"");
    let end = run.started_at + run.duration_s;
    let ms = |t: f64| (t * 1e3) as i64;
    let info = format!(
        "benchscope_run_info{{{pipeline},machine=\"{MACHINE}\",started_at=\"{:.3}\",commit_hash=\"{}\",branch=\"{}\",environment=\"ci\"}}",
        run.started_at, run.commit, run.branch
    );
    let mut t = run.started_at;
    while t < end {
        let _ = writeln!(out, "{info} 0 {}", ms(t));
        t += PUSH_EVERY_S;
    }
    let _ = writeln!(out, "{info} {end} {}", ms(end + 0.5));
    for b in &run.benchmarks {
        let s = &b.stats;
        let base = format!(
            "{pipeline},environment=\"ci\",benchmark_name=\"{}\"",
            b.name
        );
        let to_ms = |ns: f64| ns / 1e6;
        let figures = [
            ("benchmark_mean_ms", String::new(), to_ms(s.mean)),
            ("benchmark_std_dev_ms", String::new(), to_ms(s.std_dev)),
            ("benchmark_mad_ms", String::new(), to_ms(s.mad)),
            ("benchmark_samples", String::new(), s.samples as f64),
            (
                "benchmark_percentile_ms",
                ",percentile=\"p50\"".into(),
                to_ms(s.p50),
            ),
            (
                "benchmark_percentile_ms",
                ",percentile=\"p95\"".into(),
                to_ms(s.p95),
            ),
            (
                "benchmark_percentile_ms",
                ",percentile=\"p99\"".into(),
                to_ms(s.p99),
            ),
            (
                "benchmark_confidence_interval_ms",
                ",bound=\"lower\"".into(),
                to_ms(s.ci_lower),
            ),
            (
                "benchmark_confidence_interval_ms",
                ",bound=\"upper\"".into(),
                to_ms(s.ci_upper),
            ),
            (
                "benchmark_iterations_total",
                String::new(),
                b.iterations as f64,
            ),
            (
                "benchmark_last_run_timestamp_seconds",
                String::new(),
                b.finished_at,
            ),
            ("benchmark_disturbed", String::new(), 0.0),
            ("benchmark_retaken_samples", String::new(), 0.0),
        ];
        let mut t = b.finished_at;
        while t <= end + 0.5 {
            for (name, extra, value) in &figures {
                let _ = writeln!(out, "{name}{{{base}{extra}}} {value} {}", ms(t));
            }
            t += PUSH_EVERY_S;
        }
    }
}

fn import(vm: &VictoriaMetrics, body: &str) {
    let url = format!("http://{}/api/v1/import/prometheus", vm.addr);
    let response = ureq::post(&url).send(body.as_bytes()).expect("import");
    assert!(response.status().is_success(), "{}", response.status());
}

/// One command: its wall time, exit code, the backend's cost line and its
/// standard output.
fn timed(
    tool: &Path,
    dir: &Path,
    history: &str,
    args: &[&str],
) -> (Duration, Option<i32>, String, String) {
    let start = Instant::now();
    let out = common::isolated_command(tool)
        .current_dir(dir)
        .args(["--history", history])
        .args(args)
        .output()
        .expect("run benchscope");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let cost = stderr
        .lines()
        .find(|l| l.starts_with("history:"))
        .unwrap_or("")
        .to_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "benchscope {args:?} did not decide:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (took, out.status.code(), cost, stdout)
}

fn main() {
    let runs = env_or("BENCHSCOPE_PERF_RUNS", 1000);
    let benchmarks = env_or("BENCHSCOPE_PERF_BENCHMARKS", 100);
    let tool = benchscope_benches::release_tool();
    let dir = scratch_dir("remote-history-bench");
    let vm = VictoriaMetrics::start_with(&["-retentionPeriod=60d".into()]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let t0 = now - runs as f64 * SPACING_S - 3_600.0;
    let file = dir.join("history.db");
    let mut history = History::open(&file).unwrap();
    let started = Instant::now();
    let mut body = String::new();
    let mut samples = 0usize;
    for i in 0..runs {
        let run = make_run(i, runs, benchmarks, t0);
        history.record(&run).unwrap();
        exported(&run, &mut body);
        if body.len() > 32 << 20 || i + 1 == runs {
            samples += body.lines().count();
            import(&vm, &body);
            body.clear();
        }
    }
    drop(history);
    let flush = format!("http://{}/internal/force_flush", vm.addr);
    let _ = ureq::get(&flush).call();
    eprintln!(
        "wrote {runs} runs of {benchmarks} benchmarks ({samples} samples to VictoriaMetrics, and the file) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let url = format!("http://{}", vm.addr);
    let sides = [
        ("SQLite file", file.display().to_string()),
        ("VictoriaMetrics", url),
    ];
    let guard = ["guard", "--baseline-branch", "main"];
    println!("guard --baseline-branch main on {runs} runs x {benchmarks} benchmarks");
    println!(
        "{:<28} {:>10} {:>6}  backend's cost",
        "history", "wall", "exit"
    );
    let mut tables = Vec::new();
    for round in 1..=3 {
        for (what, history) in &sides {
            let (took, code, cost, table) = timed(&tool, &dir, history, &guard);
            println!(
                "{:<28} {:>8.2} s {:>6}  {cost}",
                format!("{what} (round {round})"),
                took.as_secs_f64(),
                code.map_or("-".into(), |c| c.to_string())
            );
            tables.push(table);
        }
    }
    let rows = tables[0]
        .lines()
        .filter(|l| l.starts_with("fleet/"))
        .count();
    assert_eq!(rows, benchmarks, "every benchmark compared:\n{}", tables[0]);
    assert!(
        tables.iter().all(|t| *t == tables[0]),
        "the file and the backend gave different tables"
    );
    println!("both histories gave the same table ({rows} benchmarks compared)");
    println!("analyze (every run read whole), once each:");
    for (what, history) in &sides {
        let (took, _, cost, _) = timed(&tool, &dir, history, &["analyze"]);
        println!("{what:<28} {:>8.2} s         {cost}", took.as_secs_f64());
    }
    let file_bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "the SQLite file: {:.1} MiB",
        file_bytes as f64 / (1 << 20) as f64
    );
}
