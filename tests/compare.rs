//! `benchscope compare`: a real git repository whose feature branch makes
//! one benchmark twice as slow, compared with its merge base by building
//! both revisions with cargo and running them in alternating rounds; the
//! verdicts, the JSON, the Markdown summary, the metrics by OTLP and the
//! exit codes. Instruction counts are compared too (real Callgrind).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::otlp::{Answer, HttpReceiver};
use common::{benchscope_tool, output_text, repo_root};

/// The bench target of the scratch repository; `FACTOR` is its work.
fn demo_bench(factor: u64, extra: &str) -> String {
    format!(
        r#"use benchscope::monitored_bench;

const FACTOR: u64 = {factor};

fn spin(n: u64) -> u64 {{
    let mut x = 1u64;
    for i in 0..n {{
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
    }}
    x
}}

#[monitored_bench]
fn steady() -> u64 {{
    spin(std::hint::black_box(20_000))
}}

#[monitored_bench]
fn changed() -> u64 {{
    spin(std::hint::black_box(20_000 * FACTOR))
}}

{extra}

benchscope::main!();
"#
    )
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", output_text(&out));
}

/// A repository on `main` with the demo bench, then a `feature` branch
/// where `changed` does twice the work, `removed` is gone and `added` is new.
fn scratch_repo() -> PathBuf {
    let dir = repo_root().join("target/compare-test/demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("benches")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"compare-demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\nbenchscope = {{ path = {:?} }}\n\n[[bench]]\nname = \"demo\"\nharness = false\n",
            repo_root().join("sdk").to_string_lossy()
        ),
    )
    .unwrap();
    // The workspace's lock file: the same versions, nothing to resolve.
    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    let removed =
        "#[monitored_bench]\nfn removed() -> u64 {\n    spin(std::hint::black_box(100))\n}\n";
    std::fs::write(dir.join("benches/demo.rs"), demo_bench(1, removed)).unwrap();
    git(&dir, &["init", "--quiet", "--initial-branch=main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "--quiet", "-m", "demo"]);
    git(&dir, &["checkout", "--quiet", "-b", "feature"]);
    let added = "#[monitored_bench]\nfn added() -> u64 {\n    spin(std::hint::black_box(100))\n}\n";
    std::fs::write(dir.join("benches/demo.rs"), demo_bench(2, added)).unwrap();
    git(&dir, &["commit", "--quiet", "-am", "twice the work"]);
    dir
}

/// The tests here measure: one at a time, so that they do not load the
/// machine under each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn label<'a>(labels: &'a std::collections::BTreeMap<String, String>, key: &str) -> &'a str {
    labels.get(key).map_or("", String::as_str)
}

fn head(dir: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "--short=12", rev])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_slower_branch_fails_against_its_merge_base_and_says_so_everywhere() {
    let _serial = serial();
    let dir = scratch_repo();
    let base = head(&dir, "main");
    let receiver = HttpReceiver::start(Answer::Ok);
    let summary = dir.join("summary.md");
    let out = benchscope_tool(&dir)
        .args([
            "compare",
            "--bench",
            "demo",
            "--rounds",
            "8",
            "--measure",
            "instructions",
            "--output",
            "json",
        ])
        // Dependencies compiled once for the repository's tests that build crates.
        .env("CARGO_TARGET_DIR", repo_root().join("target/real-crates"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("BENCHSCOPE_EXPORTERS", "otlp")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("baseline is the merge base of HEAD and main"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["baseline"], base.as_str(), "{json}");
    // The candidate is the working tree: HEAD, with cargo's trimmed lock file.
    assert!(
        json["candidate"]
            .as_str()
            .unwrap()
            .starts_with(&head(&dir, "HEAD")),
        "{json}"
    );
    assert_eq!(json["passed"], false);
    assert_eq!(json["new"], serde_json::json!(["added"]));
    assert_eq!(json["missing"], serde_json::json!(["removed"]));
    let row = |name: &str| {
        json["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} compared: {json}"))
            .clone()
    };
    let changed = row("changed");
    let paired = &changed["paired"];
    assert_eq!(paired["rounds"].as_array().unwrap().len(), 8);
    let ratio = paired["ratio"].as_f64().unwrap();
    assert!((1.6..2.5).contains(&ratio), "twice the work: {ratio}");
    assert!(
        paired["p_value"].as_f64().unwrap() < paired["alpha"].as_f64().unwrap(),
        "{changed}"
    );
    assert_eq!(
        changed["comparison"]["comparison"]["verdict"]["severity"], "critical",
        "{changed}"
    );
    let counts = &changed["comparison"]["instructions"];
    let growth = counts["change"]
        .as_f64()
        .unwrap_or_else(|| panic!("{changed}\n{text}"));
    assert!(
        (0.9..1.1).contains(&growth),
        "instructions doubled: {counts}"
    );
    assert_eq!(counts["severity"], "critical", "{counts}");
    // The differential flame graph of the counts, drawn red where it grew.
    let flame = changed["flame_graph"].as_str().expect("a flame graph");
    let svg = std::fs::read_to_string(dir.join(flame)).unwrap();
    assert!(svg.contains("<svg") && svg.contains("changed"), "{flame}");
    assert!(
        svg.contains("rgb(255,"),
        "a frame that grew is red: {flame}"
    );
    let steady = row("steady");
    // Same code: no verdict of a regression (its ratio is near 1 on a quiet
    // machine; under heavy load the rounds spread, and the test says so).
    let ratio = steady["paired"]["ratio"].as_f64().unwrap();
    assert!((0.67..1.5).contains(&ratio), "same code: {steady}");
    assert_ne!(
        steady["comparison"]["comparison"]["verdict"]["verdict"], "regressed",
        "{steady}"
    );
    assert_eq!(
        steady["comparison"]["instructions"]["change"], 0.0,
        "{steady}"
    );

    let markdown = std::fs::read_to_string(&summary).expect("step summary written");
    assert!(markdown.contains("performance regression"), "{markdown}");
    assert!(markdown.contains("| `changed` |"), "{markdown}");
    assert!(markdown.contains("8 rounds, ratio"), "{markdown}");

    let received = receiver.received.latest_metrics();
    let speedups = common::otlp::points(&received["speedup_ratio"]);
    assert!(
        speedups
            .iter()
            .any(|(labels, _)| label(labels, "benchmark_name") == "changed"
                && label(labels, "baseline_version") == base),
        "{speedups:?}"
    );
    let regressions = common::otlp::points(&received["performance_regression_detected_total"]);
    assert!(
        regressions
            .iter()
            .any(|(labels, _)| label(labels, "benchmark_name") == "changed"),
        "{regressions:?}"
    );

    // The worktree is kept for the next comparison; a second one with the
    // same revision named builds nothing new and finds the same regression.
    assert!(
        repo_root()
            .join("target/real-crates/benchscope/compare/baseline/Cargo.toml")
            .is_file()
    );
    let again = benchscope_tool(&dir)
        .args(["compare", "main", "--bench", "demo", "--rounds", "6"])
        .args(["--filter", "changed"])
        .env("CARGO_TARGET_DIR", repo_root().join("target/real-crates"))
        .output()
        .unwrap();
    let text = output_text(&again);
    assert_eq!(again.status.code(), Some(1), "{text}");
    assert!(
        text.contains("REGRESSED") || text.contains("critical"),
        "{text}"
    );
    assert!(!text.contains("checking out"), "worktree reused: {text}");

    // A file edited in the kept worktree would be built and labelled as the
    // clean revision: compare refuses, names the file and the fix, builds
    // nothing, and leaves the edit where it was.
    let tree = repo_root().join("target/real-crates/benchscope/compare/baseline");
    let edited = tree.join("benches/demo.rs");
    let original = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, original.replace("spin(", "3 * spin(")).unwrap();
    let refused = benchscope_tool(&dir)
        .args(["compare", "main", "--bench", "demo", "--rounds", "6"])
        .env("CARGO_TARGET_DIR", repo_root().join("target/real-crates"))
        .output()
        .unwrap();
    let text = output_text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("modified (benches/demo.rs)") && text.contains("checkout --force HEAD"),
        "{text}"
    );
    assert!(!text.contains("compare: building"), "{text}");
    assert!(
        std::fs::read_to_string(&edited)
            .unwrap()
            .contains("3 * spin(")
    );
    std::fs::write(&edited, original).unwrap();
}

#[test]
fn bad_requests_are_clear_errors() {
    let dir = repo_root();
    let cases: [(&[&str], &str); 4] = [
        (&["compare", "HEAD"], "--bench NAME"),
        (
            &["compare", "no-such-revision-anywhere", "--bench", "x"],
            "not a commit",
        ),
        (
            &["compare", "HEAD", "--bench", "x", "--rounds", "2"],
            "rounds",
        ),
        (
            &["compare", "HEAD", "--bench", "x", "--measure", "cycles"],
            "time or instructions",
        ),
    ];
    for (args, expected) in cases {
        let out = benchscope_tool(&dir).args(args).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(expected), "{args:?}: {text}");
    }
}

#[test]
fn two_given_executables_are_compared_without_building() {
    let _serial = serial();
    // The quickstart against itself: unchanged, exit 0, the table says how.
    let exe = common::quickstart_binary();
    let out = benchscope_tool(&repo_root())
        .args(["compare", "--rounds", "3", "--filter", "strings/parse_u64"])
        .arg("--baseline-exe")
        .arg(&exe)
        .arg("--candidate-exe")
        .arg(&exe)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("strings/parse_u64"), "{text}");
    assert!(text.contains("3 rounds, ratio"), "{text}");
    assert!(text.contains("PASS: 1 compared"), "{text}");
}
