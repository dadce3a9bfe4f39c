//! criterion's API on benchscope (benchscope-criterion), run as a real
//! process: `tests/criterion_api.rs` uses every form of the API as
//! criterion's users write it. Each benchmark is measured, labelled with
//! its id's parts, exported on /metrics, written to the JSON results and
//! kept in the history; criterion's command line works; misuses fail their
//! benchmark with a message.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::{
    criterion_api_binary, exported, exporting_args, free_addr, isolated_command, run_and_scrape,
};

/// Every benchmark `tests/criterion_api.rs` defines, by criterion's id.
const IDS: &[&str] = &[
    "fib 20",
    "fib_input/30",
    "sum/64",
    "sum/fold/64",
    "sum/1024",
    "sum/fold/1024",
    "bytes/reverse",
    "forms/iter_batched",
    "forms/iter_with_setup",
    "forms/iter_with_large_drop",
    "forms/iter_custom",
    "forms/iter_batched_per_iteration",
    "async/tokio_yield",
    "async/tokio_batched",
    "async/futures_ready",
];

fn target() -> Command {
    isolated_command(criterion_api_binary())
}

fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run the criterion target");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_benchmark_is_measured_labelled_exported_and_kept() {
    let dir = tempdir("measured");
    let addr = free_addr();
    let mut cmd = target();
    cmd.current_dir(&dir)
        .args(["--bench", "--quick"])
        .args(exporting_args(addr, &dir));
    let run = run_and_scrape(cmd, addr, Duration::from_secs(180));
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let (results, kept) = exported(&dir);

    // The JSON results: every id, measured.
    let names: BTreeSet<&str> = results.benchmarks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, IDS.iter().copied().collect(), "{}", run.stderr);
    assert!(results.failures.is_empty(), "{:?}", results.failures);
    for b in &results.benchmarks {
        assert!(
            b.samples_ns.len() >= 2 && b.stats.mean > 0.0,
            "{}: {:?}",
            b.name,
            b.stats
        );
    }
    // The id's parts as labels, and the settings of the group.
    let get = |name: &str| results.benchmarks.iter().find(|b| b.name == name).unwrap();
    let fold = get("sum/fold/64");
    let label = |key: &str| {
        fold.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(label("benchmark_group"), Some("sum"));
    assert_eq!(label("benchmark_function"), Some("fold"));
    assert_eq!(label("param"), Some("64"));
    // The group's sample_size(20); a loaded machine may reach the time
    // ceiling first, which stops sampling at 10 (sampling::MIN_SAMPLES).
    assert!(
        (10..=20).contains(&fold.samples_ns.len()),
        "the group's sample_size(20): {} samples",
        fold.samples_ns.len()
    );
    let throughput = fold.throughput.as_ref().expect("Throughput::Elements");
    assert_eq!(
        (throughput.unit.as_str(), throughput.per_iteration),
        ("elements", 64)
    );
    let reverse = get("bytes/reverse")
        .throughput
        .as_ref()
        .expect("BytesDecimal");
    assert_eq!(
        (reverse.unit.as_str(), reverse.per_iteration),
        ("bytes", 4096)
    );

    // /metrics: every id with its labels.
    let series = common::parse(&run.metrics);
    for id in IDS {
        assert!(
            !common::find(&series, "benchmark_mean_ms", &[("benchmark_name", id)]).is_empty(),
            "{id} is not on /metrics"
        );
    }
    let labelled = common::find(
        &series,
        "benchmark_mean_ms",
        &[
            ("benchmark_group", "sum"),
            ("benchmark_function", "fold"),
            ("param", "1024"),
        ],
    );
    assert_eq!(labelled.len(), 1, "{}", run.metrics);

    // The history: the same run.
    let ids: BTreeSet<String> = IDS.iter().map(|s| s.to_string()).collect();
    assert_eq!(kept, ids);
}

#[test]
fn list_and_filters_follow_criterion() {
    let (code, stdout, stderr) = output(target().arg("--list"));
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": benchmark"))
        .collect();
    assert_eq!(listed, IDS);

    let (code, stdout, _) = output(target().args(["--list", "sum/fold"]));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["sum/fold/64: benchmark", "sum/fold/1024: benchmark"]
    );
    let (code, stdout, _) = output(target().args(["--list", "--exact", "sum/64"]));
    assert_eq!((code, stdout.trim()), (Some(0), "sum/64: benchmark"));

    // Filters are criterion's regular expressions (and text, as before).
    let listed = |args: &[&str]| {
        let (code, stdout, stderr) = output(target().arg("--list").args(args));
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": benchmark").map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&["sum/.*/64"]), ["sum/fold/64"]);
    assert_eq!(listed(&["^sum/[0-9]+$"]), ["sum/64", "sum/1024"]);
    assert_eq!(listed(&["fib.(20|input)"]), ["fib 20", "fib_input/30"]);
    assert_eq!(listed(&["--format", "terse", "^bytes"]), ["bytes/reverse"]);

    // A filter that matches nothing measures nothing: an error, unless the
    // command line says other targets may hold it.
    let (code, _, stderr) = output(target().args(["--bench", "no-such-benchmark"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--allow-no-match"), "{stderr}");
    let (code, _, stderr) =
        output(target().args(["--bench", "--allow-no-match", "no-such-benchmark"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("no benchmark of this target matches \"no-such-benchmark\" (15 defined)"),
        "{stderr}"
    );
    // --ignored: criterion runs nothing, and neither does benchscope.
    let (code, _, stderr) = output(target().args(["--bench", "--ignored"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("none ran"), "{stderr}");
}

#[test]
fn every_flag_of_criterion_0_8_is_accepted() {
    let dir = tempdir("criterion-flags");
    let json = dir.join("r.json");
    let (code, stdout, stderr) = output(
        target()
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .args(["--bench", "--no-history", "--exporters", "none"])
            .args(["--warm-up-time", "0.05", "--measurement-time", "0.2"])
            .args(["--sample-size", "12", "--nresamples", "1000"])
            .args(["--noise-threshold", "0.02", "--confidence-level", "0.99"])
            .args([
                "--significance-level",
                "0.05",
                "--plotting-backend",
                "plotters",
            ])
            .args(["--output-format", "bencher", "--format", "terse"])
            .args(["-c", "never", "-n", "-v", "--nocapture", "--show-output"])
            .args(["--include-ignored", "--quiet", "-s", "flags"])
            .args(["--output", "json"])
            .arg(&json)
            .args(["--exact", "bytes/reverse"]),
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // Applied: the samples and the times.
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(run["benchmarks"][0]["stats"]["samples"], 12, "{run}");
    // Named where benchscope has no equivalent, and the run goes on.
    for flag in ["--nresamples", "--confidence-level", "--plotting-backend"] {
        assert!(
            stderr.contains(&format!("warning: {flag}")),
            "{flag}: {stderr}"
        );
    }
    // The bencher crate's line, on standard output.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("test bytes/reverse ... bench:"))
        .unwrap_or_else(|| panic!("no bencher line:\n{stdout}"));
    assert!(
        line.ends_with(')') && line.contains(" ns/iter (+/- "),
        "{line}"
    );
    // -s saved the baseline under its name, in criterion's layout too (so
    // critcmp compares baselines by name); -b compares with it, as does
    // --baseline-lenient.
    // (criterion-debug: the test binaries are unoptimized builds.)
    let named = dir.join("target/criterion-debug/bytes/reverse/flags/estimates.json");
    assert!(named.is_file(), "{} is missing", named.display());
    for compare in [&["-b", "flags"][..], &["--baseline-lenient", "flags"][..]] {
        let (code, stdout, stderr) = output(
            target()
                .current_dir(&dir)
                .args(["--bench", "--quick", "--no-history", "--exporters", "none"])
                .args(compare)
                .args(["--exact", "bytes/reverse"]),
        );
        assert_eq!(code, Some(0), "{compare:?}: {stderr}");
        assert!(
            [
                "No change in performance detected.",
                "Performance has improved.",
                "Performance has regressed",
            ]
            .iter()
            .any(|v| stdout.contains(v)),
            "{compare:?}: no verdict against the baseline: {stdout}"
        );
        assert!(stdout.contains("change: ["), "{compare:?}: {stdout}");
    }
    // A value criterion would refuse is refused, with the fix.
    let (code, _, stderr) = output(target().args(["--bench", "--warm-up-time", "soon"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("number of seconds"), "{stderr}");
}

#[test]
fn without_bench_each_routine_runs_once_as_cargo_test_does() {
    let dir = tempdir("test-mode");
    let (code, stdout, stderr) = output(target().current_dir(&dir));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for id in IDS {
        assert!(
            stdout.contains(&format!("Testing {id}\nSuccess\n")),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("15 benchmarks tested, 0 failed"),
        "{stdout}"
    );
    // Nothing measured, nothing served, nothing kept.
    assert!(!stderr.contains("Prometheus metrics at"), "{stderr}");
    assert!(!dir.join("target").exists());
}

#[test]
fn misuses_fail_their_benchmark_with_a_message_and_the_rest_runs() {
    let dir = tempdir("misuse");
    for mode in [&["--test"][..], &["--bench", "--quick", "--no-history"][..]] {
        let (code, stdout, stderr) = output(
            target()
                .current_dir(&dir)
                .env("CRITERION_API_MISUSE", "1")
                .args(mode)
                .arg("misuse"),
        );
        let all = format!("{stdout}\n{stderr}");
        assert_eq!(code, Some(1), "{mode:?}: {all}");
        for expected in [
            "sample_size(1) is out of range: give between 2 and 1000000 samples",
            "`misuse/never_iterates` took a `&mut Bencher` but never called",
            "`misuse/nested` panicked: a benchmark was defined inside another benchmark's closure",
            "a second benchmark is named `misuse/twice`; it was not run",
        ] {
            assert!(
                all.contains(expected),
                "{mode:?}: missing {expected:?} in\n{all}"
            );
        }
        // The first `twice` ran.
        if mode[0] == "--bench" {
            assert!(
                stdout.lines().any(|l| l.starts_with("misuse/twice ")),
                "{stdout}"
            );
        } else {
            assert!(stdout.contains("Testing misuse/twice\nSuccess"), "{stdout}");
        }
    }
}

#[test]
fn criterion_flags_work_and_unsupported_ones_say_what_to_do() {
    let (code, _, stderr) = output(target().args([
        "--list",
        "--noplot",
        "--verbose",
        "--quiet",
        "--color",
        "never",
        "--discard-baseline",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    for (flag, instead) in [
        ("--profile-time", "run the target under one"),
        ("--load-baseline", "--baseline NAME"),
    ] {
        let (code, _, stderr) = output(target().args(["--bench", flag, "5"]));
        assert_eq!(code, Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("not supported") && stderr.contains(instead),
            "{flag}: {stderr}"
        );
    }
    let (code, _, stderr) = output(target().args(["--bench", "--no-such-flag"]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

#[test]
fn a_saved_baseline_is_compared_by_name() {
    let dir = tempdir("baseline");
    let args = [
        "--bench",
        "--quick",
        "--no-history",
        "--exporters",
        "none",
        "sum/fold/64",
    ];
    let (code, _, stderr) = output(
        target()
            .current_dir(&dir)
            .args(args)
            .args(["--save-baseline", "before"]),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("saved as baseline `before`"), "{stderr}");
    let (code, stdout, stderr) = output(
        target()
            .current_dir(&dir)
            .args(args)
            .args(["--baseline", "before"]),
    );
    assert_eq!(code, Some(0), "{stderr}");
    // The table's last column compares with the baseline (its row is the
    // last line that starts with the name: criterion's block comes first).
    let row = stdout
        .lines()
        .rfind(|l| l.starts_with("sum/fold/64 "))
        .expect("a row for the benchmark");
    assert!(row.contains('%'), "no comparison in {row:?}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    common::monitoring::scratch_dir(&format!("criterion-{name}"))
}

#[test]
fn a_rerun_says_how_it_changed_since_the_last_run_in_criterion_s_words() {
    let dir = tempdir("rerun");
    let target_dir = dir.join("target");
    let run = || {
        output(
            target()
                .current_dir(&dir)
                .env("CARGO_TARGET_DIR", &target_dir)
                .args(["--bench", "--quick", "--no-history", "--exporters", "none"])
                .args(["--exact", "bytes/reverse"]),
        )
    };
    let (code, first, stderr) = run();
    assert_eq!(code, Some(0), "{stderr}");
    // criterion's block on standard output: the interval of the mean, the
    // throughput at its ends, in criterion's units.
    let time = first
        .lines()
        .find(|l| l.starts_with("bytes/reverse") && l.contains("time:   ["))
        .unwrap_or_else(|| panic!("no time line:\n{first}"));
    assert_eq!(time.find("time:"), Some(24), "{time}");
    assert!(first.contains("thrpt:  ["), "{first}");
    assert!(
        !first.contains("change:"),
        "nothing to compare with yet:\n{first}"
    );

    let (code, second, stderr) = run();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(second.contains("change: ["), "{second}");
    assert!(
        [
            "No change in performance detected.",
            "Performance has improved.",
            "Performance has regressed",
        ]
        .iter()
        .any(|v| second.contains(v)),
        "{second}"
    );
    // Kept where criterion keeps them, in its format.
    // Where an unoptimized build keeps them (the test binaries are):
    // beside criterion's folder, so a release run never compares with it.
    let kept = target_dir.join("criterion-debug/bytes/reverse");
    for file in [
        "new/estimates.json",
        "new/benchmark.json",
        "base/estimates.json",
    ] {
        assert!(kept.join(file).is_file(), "{file} is missing");
    }
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kept.join("new/estimates.json")).unwrap())
            .unwrap();
    assert!(estimates["mean"]["point_estimate"].as_f64().unwrap() > 0.0);
    assert_eq!(
        estimates["mean"]["confidence_interval"]["confidence_level"],
        0.95
    );
}
