//! `benchscope guard`, run as the real command: exit 1 on a crafted
//! regression, 0 on no change, 2 on bad input; the Markdown summary goes to
//! `$GITHUB_STEP_SUMMARY`; baselines export and import.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use benchscope::{BenchResult, SuiteRun};

fn dir(name: &str) -> PathBuf {
    common::monitoring::scratch_dir(&format!("guard-{name}"))
}

/// A results file whose benchmarks have the given means (±1 % spread).
fn results(path: &Path, commit: &str, means: &[(&str, f64)]) {
    let benchmarks = means
        .iter()
        .map(|(name, mean)| {
            let samples: Vec<f64> = (0..60)
                .map(|i| mean * (1.0 + (i % 5) as f64 * 0.002))
                .collect();
            BenchResult::from_samples(*name, samples).unwrap()
        })
        .collect();
    let run = SuiteRun::new(commit, "main", benchmarks);
    run.write_json(path).unwrap();
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("beyond the last 6 runs' spread"),
        "{}",
        text(&out)
    );
}
