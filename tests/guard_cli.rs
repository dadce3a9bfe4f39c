//! `benchscope guard`, run as the real command: exit 1 on a crafted
//! regression, 0 on no change, 2 on bad input; the Markdown summary goes to
//! `$GITHUB_STEP_SUMMARY`; baselines export and import.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use benchscope::{History, SuiteRun};

fn dir(name: &str) -> PathBuf {
    common::monitoring::scratch_dir(&format!("guard-{name}"))
}

/// A results file whose benchmarks have the given means (±1 % spread).
fn results(path: &Path, commit: &str, means: &[(&str, f64)]) {
    common::run_with(commit, means).write_json(path).unwrap();
}

fn guard(dir: &Path, args: &[&str]) -> Output {
    common::benchscope_tool(dir)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// `benchscope guard --results RESULTS --baseline base.json EXTRA...` in `d`.
fn judge(d: &Path, results: &str, extra: &[&str]) -> Output {
    let mut args = vec!["guard", "--results", results, "--baseline", "base.json"];
    args.extend_from_slice(extra);
    common::tool_output(d, &args)
}

#[test]
fn a_crafted_regression_fails_the_gate() {
    let d = dir("regression");
    results(
        &d.join("base.json"),
        "base",
        &[("parse", 1000.0), ("sort", 5000.0)],
    );
    results(
        &d.join("now.json"),
        "now",
        &[("parse", 1300.0), ("sort", 5000.0)],
    );
    let out = guard(
        &d,
        &["guard", "--results", "now.json", "--baseline", "base.json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("REGRESSED (major)") && stdout.contains("FAIL"),
        "{stdout}"
    );
    let summary = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(
        summary.contains("| `parse` |") && summary.contains("+30.0%"),
        "{summary}"
    );
    // A gate that only fails on critical regressions lets it through.
    let out = guard(
        &d,
        &[
            "guard",
            "--results",
            "now.json",
            "--baseline",
            "base.json",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn no_change_passes_the_gate() {
    let d = dir("nochange");
    results(&d.join("base.json"), "base", &[("parse", 1000.0)]);
    results(&d.join("now.json"), "now", &[("parse", 1000.0)]);
    let out = guard(
        &d,
        &[
            "guard",
            "--results",
            "now.json",
            "--baseline",
            "base.json",
            "--fail-on",
            "minor",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let d = dir("bad");
    results(&d.join("base.json"), "base", &[("parse", 1000.0)]);
    std::fs::write(d.join("broken.json"), "{ not json").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "guard",
                "--results",
                "missing.json",
                "--baseline",
                "base.json",
            ],
            "missing.json",
        ),
        (
            &[
                "guard",
                "--results",
                "broken.json",
                "--baseline",
                "base.json",
            ],
            "not a benchscope results file",
        ),
        (
            &["guard", "--results", "base.json", "--baseline", "nosuch"],
            "no baseline `nosuch`",
        ),
        (
            &[
                "guard",
                "--results",
                "base.json",
                "--fail-on",
                "fatal",
                "--baseline",
                "base.json",
            ],
            "fatal",
        ),
    ];
    for (args, expected) in cases {
        let out = guard(&d, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
}

#[test]
fn baselines_export_and_import_as_json() {
    let d = dir("export");
    results(&d.join("base.json"), "base", &[("parse", 1000.0)]);
    let out = guard(&d, &["baseline", "import", "main", "base.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = guard(&d, &["baseline", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("main\tmain\tbase\t1 benchmarks"),
        "{}",
        text(&out)
    );
    // A saved baseline is a results file of its own; the history is not
    // touched (it was never created).
    assert!(d.join("target/benchscope/baselines/main.json").is_file());
    assert!(!d.join("target/benchscope/history.db").exists());
    let out = guard(&d, &["baseline", "export", "main", "exported.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let exported = SuiteRun::read_json(&d.join("exported.json")).unwrap();
    let original = SuiteRun::read_json(&d.join("base.json")).unwrap();
    assert_eq!(exported.benchmarks, original.benchmarks);
    // The saved name works as the guard's baseline.
    results(&d.join("now.json"), "now", &[("parse", 2500.0)]);
    let out = guard(
        &d,
        &["guard", "--results", "now.json", "--baseline", "main"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REGRESSED (critical)"));
}

#[test]
fn a_shift_earlier_runs_on_this_machine_have_shown_passes_the_gate() {
    let d = dir("noise");
    // Six earlier runs: `parse` wanders by up to 30 % between runs of the
    // same code (a busy runner), `sort` stays within 1 %.
    let mut history = benchscope::History::open(&d.join("history.db")).unwrap();
    for (i, parse) in [1000.0, 1300.0, 950.0, 1250.0, 1050.0, 1200.0]
        .iter()
        .enumerate()
    {
        let sort = 5000.0 * (1.0 + (i % 3) as f64 * 0.005);
        results(
            &d.join("earlier.json"),
            "earlier",
            &[("parse", *parse), ("sort", sort)],
        );
        history
            .record(&SuiteRun::read_json(&d.join("earlier.json")).unwrap())
            .unwrap();
    }
    results(
        &d.join("base.json"),
        "base",
        &[("parse", 1000.0), ("sort", 5000.0)],
    );
    results(
        &d.join("now.json"),
        "now",
        &[("parse", 1300.0), ("sort", 5000.0)],
    );
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "--history",
            "history.db",
            "guard",
            "--results",
            "now.json",
            "--baseline",
            "base.json",
        ];
        args.extend_from_slice(extra);
        args
    };
    // +30 % on the samples, but within what the history has seen: it passes.
    let out = guard(&d, &args(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("the samples said REGRESSED (major); within the last 6 runs' spread"),
        "{}",
        text(&out)
    );
    // On the samples alone, as before, it fails.
    let out = guard(&d, &args(&["--samples-only"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A slowdown beyond the tight spread of `sort` still fails.
    results(
        &d.join("now.json"),
        "now",
        &[("parse", 1000.0), ("sort", 6500.0)],
    );
    let out = guard(&d, &args(&[]));
    common::assert_says(&out, 1, "beyond the last 6 runs' spread");
}

/// A run of these means (±1 % spread inside the run), recorded in the
/// history at `d/history.db`; returned as recorded.
fn record(d: &Path, commit: &str, means: &[(&str, f64)]) -> SuiteRun {
    results(&d.join("recorded.json"), commit, means);
    let run = SuiteRun::read_json(&d.join("recorded.json")).unwrap();
    benchscope::History::open(&d.join("history.db"))
        .unwrap()
        .record(&run)
        .unwrap();
    run
}

/// The usual run of the three benchmarks below, `i`-th of its kind: each
/// wanders by up to ±3 % from run to run.
fn usual(i: usize) -> [(&'static str, f64); 3] {
    let wander = 1.0 + [0.0, 0.02, -0.02, 0.03, -0.01, 0.01, -0.03][i % 7];
    [
        ("parse", 1000.0 * wander),
        ("sort", 5000.0 / wander),
        ("sum", 300.0 * wander),
    ]
}

/// A folder with a baseline (`base.json`) and six usual runs in its
/// history.
fn seeded(name: &str) -> PathBuf {
    let d = dir(name);
    results(&d.join("base.json"), "base", &usual(0));
    for i in 0..6 {
        record(&d, "usual", &usual(i));
    }
    d
}

fn gate_with_history(d: &Path, results_file: &str) -> Output {
    guard(
        d,
        &[
            "--history",
            "history.db",
            "guard",
            "--results",
            results_file,
            "--baseline",
            "base.json",
        ],
    )
}

#[test]
fn one_slow_run_in_the_history_does_not_blind_the_gate() {
    let d = seeded("blinded");
    // `sort` three times slower: a real regression.
    results(
        &d.join("slow.json"),
        "slow",
        &[("parse", 1000.0), ("sort", 15_000.0), ("sum", 300.0)],
    );
    let before = gate_with_history(&d, "slow.json");
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    // One run in which every benchmark ran three times slower (a machine
    // the probe did not see loaded), and one in which only `parse` did ten
    // times the work (a one-off).
    let [(_, p), (_, s), (_, m)] = usual(0);
    record(
        &d,
        "overloaded",
        &[("parse", 3.0 * p), ("sort", 3.0 * s), ("sum", 3.0 * m)],
    );
    record(
        &d,
        "one-off",
        &[("parse", 10.0 * p), ("sort", s), ("sum", m)],
    );
    let after = gate_with_history(&d, "slow.json");
    common::assert_says(
        &after,
        1,
        "REGRESSED (critical) (beyond the last 8 runs' spread",
    );
    // And a slowdown of `sum` by half is still caught, after 19 usual runs more.
    for i in 0..19 {
        record(&d, "usual", &usual(i));
    }
    results(
        &d.join("slower-sum.json"),
        "slower-sum",
        &[("parse", 1000.0), ("sort", 5000.0), ("sum", 450.0)],
    );
    let later = gate_with_history(&d, "slower-sum.json");
    common::assert_says(
        &later,
        1,
        "REGRESSED (critical) (beyond the last 20 runs' spread",
    );
}

#[test]
fn a_results_file_of_a_recorded_run_is_not_inside_its_own_spread() {
    let d = seeded("own-run");
    // The run judged is in the history too, as CI records it before the gate.
    let slow = record(
        &d,
        "slow",
        &[("parse", 2000.0), ("sort", 5000.0), ("sum", 300.0)],
    );
    slow.write_json(&d.join("slow.json")).unwrap();
    let by_file = gate_with_history(&d, "slow.json");
    assert_eq!(by_file.status.code(), Some(1), "{}", text(&by_file));
    assert!(
        text(&by_file).contains("beyond the last 6 runs' spread"),
        "the run is not one of its own history's runs: {}",
        text(&by_file)
    );
    // The latest run, judged from the history itself: the same verdict.
    let latest = guard(
        &d,
        &[
            "--history",
            "history.db",
            "guard",
            "--baseline",
            "base.json",
        ],
    );
    common::assert_says(&latest, 1, "beyond the last 6 runs' spread");
}

#[test]
fn a_benchmark_that_failed_or_did_not_run_fails_the_gate_unless_allowed() {
    let d = dir("failed");
    results(
        &d.join("base.json"),
        "base",
        &[("parse", 1000.0), ("sort", 5000.0), ("sum", 300.0)],
    );
    // `sort` panicked in this run, and `sum` was filtered away.
    results(&d.join("now.json"), "now", &[("parse", 1000.0)]);
    let mut now = SuiteRun::read_json(&d.join("now.json")).unwrap();
    now.failures.push(benchscope::Failure {
        name: "sort".into(),
        error: "benchmark `sort` panicked: index out of bounds".into(),
    });
    now.write_json(&d.join("now.json")).unwrap();
    let gate = |extra: &[&str]| {
        let mut args = vec!["guard", "--results", "now.json", "--baseline", "base.json"];
        args.extend_from_slice(extra);
        guard(&d, &args)
    };
    let strict = gate(&[]);
    let out = text(&strict);
    assert_eq!(strict.status.code(), Some(1), "{out}");
    assert!(
        out.contains("sort") && out.contains("FAILED in this run: benchmark `sort` panicked"),
        "{out}"
    );
    assert!(
        out.contains("1 benchmark(s) failed in this run (--allow-failed"),
        "{out}"
    );
    assert!(
        out.contains("1 benchmark(s) of the baseline did not run (--allow-missing"),
        "{out}"
    );
    let summary = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(summary.contains("Failed in this run: `sort`"), "{summary}");
    assert_eq!(gate(&["--allow-failed"]).status.code(), Some(1));
    assert_eq!(gate(&["--allow-missing"]).status.code(), Some(1));
    let lenient = gate(&["--allow-failed", "--allow-missing"]);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient));
}

#[test]
fn an_absurd_baseline_is_reported_as_incomparable_and_the_results_stay_readable() {
    let d = common::monitoring::scratch_dir("hard-nonfinite");
    let mut base = common::run_with("absurd", &[("strings/parse_u64", 100.0)]);
    // Figures whose arithmetic overflows: the mean and the standard
    // deviation of the file are finite, the test's variance is not.
    base.benchmarks[0].samples_ns = vec![1e308; 40];
    base.benchmarks[0].stats.mean = 1e308;
    base.benchmarks[0].stats.std_dev = 1e200;
    base.write_json(&d.join("base.json")).unwrap();
    let out = common::quick_parse_u64()
        .current_dir(&d)
        .args([
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
    let gate = judge(&d, "out.json", &[]);
    common::assert_says(&gate, 1, "COULD NOT COMPARE");
    // The absurd figure is written short, not as 309 digits.
    for out in [&out, &gate] {
        assert!(
            !text(out).contains(&"0".repeat(30)),
            "a figure printed whole:\n{}",
            text(out)
        );
    }
    let lenient = judge(&d, "out.json", &["--allow-incomparable"]);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient));
    // A results file with a null where a number goes is refused with its name.
    std::fs::write(
        d.join("poisoned.json"),
        written.replacen("\"mad\":", "\"mad\": null, \"x\":", 1),
    )
    .unwrap();
    let refused = judge(&d, "poisoned.json", &[]);
    common::assert_says(&refused, 2, "poisoned.json");
}

#[test]
fn a_gate_that_compares_nothing_fails_unless_asked_to_pass() {
    let d = common::monitoring::scratch_dir("hard-empty");
    common::run_with("base", &[("old", 100.0)])
        .write_json(&d.join("base.json"))
        .unwrap();
    common::run_with("now", &[("renamed", 100.0)])
        .write_json(&d.join("now.json"))
        .unwrap();
    let strict = judge(&d, "now.json", &[]);
    common::assert_says(&strict, 1, "nothing was compared");
    let allowed = judge(&d, "now.json", &["--allow-empty"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
}

#[test]
fn an_imported_baseline_is_not_the_latest_run() {
    let d = common::monitoring::scratch_dir("hard-import");
    {
        let mut h = History::open(&d.join("target/benchscope/history.db")).unwrap();
        h.record(&common::run_with("latest-run", &[("parse", 200.0)]))
            .unwrap();
    }
    common::run_with("imported", &[("parse", 100.0)])
        .write_json(&d.join("base.json"))
        .unwrap();
    assert!(
        common::tool_output(&d, &["baseline", "import", "main", "base.json"])
            .status
            .success()
    );
    // The gate compares the latest run (twice as slow), not the import with itself.
    let gate = common::tool_output(&d, &["guard", "--baseline", "main"]);
    common::assert_says(&gate, 1, "REGRESSED (critical)");
}

/// `base.json` and `now.json` in `d`: one benchmark, `parse`, at these means.
fn base_and_now(d: &Path, base: f64, now: f64) {
    common::run_with("base", &[("parse", base)])
        .write_json(&d.join("base.json"))
        .unwrap();
    common::run_with("now", &[("parse", now)])
        .write_json(&d.join("now.json"))
        .unwrap();
}

#[test]
fn the_gate_starts_no_live_server_even_when_configured() {
    let d = common::monitoring::scratch_dir("hard-guardlive");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        d.join("benchscope.toml"),
        format!(
            "exporters = [\"live\"]\n[live]\naddr = \"{}\"\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    base_and_now(&d, 100.0, 100.0);
    let out = common::isolated_command(common::benchscope_binary())
        .current_dir(&d)
        .args(["guard", "--results", "now.json", "--baseline", "base.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("in use"), "{}", text(&out));
}

#[test]
fn the_gate_serves_its_verdict_for_a_scrape_when_asked() {
    let d = common::monitoring::scratch_dir("guard-serve");
    let addr = common::free_addr();
    std::fs::write(
        d.join("benchscope.toml"),
        format!("exporters = [\"prometheus\"]\n[prometheus]\naddr = \"{addr}\"\n"),
    )
    .unwrap();
    base_and_now(&d, 100.0, 300.0);
    let mut cmd = common::isolated_command(common::benchscope_binary());
    let mut child = cmd
        .current_dir(&d)
        .args(["guard", "--results", "now.json", "--baseline", "base.json"])
        .args(["--serve-after", "20s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The verdict is on /metrics while the gate lingers.
    let mut scraped = String::new();
    for _ in 0..100 {
        if let Ok(mut reply) = ureq::get(format!("http://{addr}/metrics")).call() {
            scraped = reply.body_mut().read_to_string().unwrap_or_default();
            if scraped.contains("ci_pipeline_status") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let series = common::parse(&scraped);
    let status = series.iter().find(|s| s.name == "ci_pipeline_status");
    assert_eq!(status.map(|s| s.value), Some(0.0), "{scraped}");
    assert!(
        series
            .iter()
            .any(|s| s.name == "performance_regression_detected_total"
                && s.label("benchmark_name") == Some("parse")),
        "{scraped}"
    );
}

#[test]
fn an_oversized_results_file_is_refused_before_it_is_read() {
    let d = dir("oversized");
    results(&d.join("base.json"), "base", &[("parse", 1000.0)]);
    // Sparse: 600 MiB that take no disk, and would take 600 MiB of memory.
    std::fs::File::create(d.join("huge.json"))
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    common::benchscope_binary(); // built before the clock starts
    let started = std::time::Instant::now();
    let out = judge(&d, "huge.json", &[]);
    common::assert_says(&out, 2, "more than the 512 MiB read at most");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
