//! Beyond one input, run as a real process: `examples/scaling.rs` has
//! benchmarks with `args`, `types`, `consts` and `threads`, installs the
//! counting allocator, and has sizes to fit complexity classes to. Each
//! case is its own benchmark with its labels on /metrics, in the JSON
//! results (valid against docs/results.schema.json) and in the history;
//! allocation counts are exact; the complexity classes are exported.

mod common;

use std::time::Duration;

use common::{
    exported, exporting_args, find, free_addr, isolated_command, parse, repo_root, run_and_scrape,
    scaling_binary,
};

#[test]
fn cases_allocations_and_complexity_reach_every_output() {
    let dir = common::monitoring::scratch_dir("scaling");
    let addr = free_addr();
    let mut cmd = isolated_command(scaling_binary());
    cmd.current_dir(&dir)
        .arg("--quick")
        .args(exporting_args(addr, &dir));
    let run = run_and_scrape(cmd, addr, Duration::from_secs(240));
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let (results, kept) = exported(&dir);

    // Every case is a benchmark of its own, named and labelled by its parts.
    let names: Vec<&str> = results.benchmarks.iter().map(|b| b.name.as_str()).collect();
    for name in [
        "scaling/sort/65536",
        "generic/sum/u64/10000",
        "generic/fill/4096",
        "contention/atomic_increment/threads=1",
        "contention/atomic_increment/threads=2",
        "alloc/format_number/1000000007",
        "alloc/no_allocation",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
        assert!(kept.contains(name), "{name} missing from the history");
    }
    assert_eq!(results.benchmarks.len(), kept.len());
    let labels = |name: &str| results.get(name).unwrap().labels.clone();
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        labels("generic/sum/u64/10000"),
        pairs(&[
            ("benchmark_group", "generic"),
            ("benchmark_function", "sum"),
            ("type", "u64"),
            ("param", "10000")
        ])
    );
    assert!(labels("generic/fill/4096").contains(&("param".into(), "4096".into())));
    assert!(
        labels("contention/mutex_increment/threads=2").contains(&("threads".into(), "2".into()))
    );
    assert!(labels("alloc/no_allocation").is_empty());

    // The labels are on the metrics, per case.
    let series = parse(&run.metrics);
    assert_eq!(
        find(
            &series,
            "benchmark_mean_ms",
            &[
                ("benchmark_name", "scaling/sort/1024"),
                ("benchmark_function", "sort"),
                ("param", "1024")
            ]
        )
        .len(),
        1,
        "{}",
        run.metrics
    );
    // Throughput computed from the argument: elements(n).
    let scan = results.get("scaling/linear_scan/4096").unwrap();
    assert_eq!(scan.throughput.as_ref().unwrap().per_iteration, 4096);

    // Allocations are exact: the string of a 10-digit number is one
    // allocation of 10 bytes; a stable sort of 65536 u64 allocates one
    // buffer; an addition allocates nothing.
    let allocs = |name: &str| results.get(name).unwrap().allocations.expect("counted");
    let formatted = allocs("alloc/format_number/1000000007");
    assert_eq!(
        (formatted.allocs, formatted.deallocs, formatted.bytes),
        (1.0, 1.0, 10.0)
    );
    assert_eq!(formatted.peak_bytes, 10);
    let none = allocs("alloc/no_allocation");
    assert_eq!((none.allocs, none.bytes, none.peak_bytes), (0.0, 0.0, 0));
    let sorted = allocs("scaling/sort/65536");
    assert_eq!(sorted.allocs, 1.0, "{sorted:?}");
    assert!(sorted.bytes >= 65536.0 * 4.0, "{sorted:?}");
    // The inputs made by iter_batched's setup are not the routine's.
    assert!(sorted.peak_bytes as f64 <= sorted.bytes, "{sorted:?}");
    // The history keeps them, and fits the classes again when read.
    let history = benchscope::History::open_existing(&dir.join("history.db")).unwrap();
    let kept_run = history.run(history.latest(None).unwrap().unwrap()).unwrap();
    assert_eq!(
        kept_run
            .get("alloc/format_number/1000000007")
            .unwrap()
            .allocations,
        Some(formatted)
    );
    assert_eq!(kept_run.complexity, results.complexity);
    let on_metrics = find(
        &series,
        "benchmark_allocations_per_iteration",
        &[("benchmark_name", "alloc/format_number/7"), ("op", "alloc")],
    );
    assert_eq!(on_metrics.len(), 1, "{}", run.metrics);
    assert_eq!(on_metrics[0].value, 1.0);
    assert_eq!(
        find(
            &series,
            "benchmark_allocated_bytes_per_iteration",
            &[("benchmark_name", "alloc/format_number/7")]
        )[0]
        .value,
        1.0
    );

    // A class per benchmark with sizes; the sort's buffer grows as O(n).
    let fitted: Vec<(&str, &str)> = results
        .complexity
        .iter()
        .map(|c| (c.benchmark.as_str(), c.measure.as_str()))
        .collect();
    for name in [
        "scaling/linear_scan",
        "scaling/sort",
        "scaling/all_pairs",
        "scaling/lookup",
        "scaling/binary_search",
    ] {
        assert!(fitted.contains(&(name, "time")), "{name}: {fitted:?}");
        assert!(
            fitted.contains(&(name, "allocated_bytes")),
            "{name}: {fitted:?}"
        );
    }
    let sort_bytes = results
        .complexity
        .iter()
        .find(|c| c.benchmark == "scaling/sort" && c.measure.as_str() == "allocated_bytes")
        .unwrap();
    assert_eq!(
        sort_bytes.fit.class,
        benchscope::complexity::Class::Linear,
        "{sort_bytes:?}"
    );
    assert!(sort_bytes.fit.error < 0.01, "{sort_bytes:?}");
    let classes = find(
        &series,
        "benchmark_complexity_class",
        &[("measure", "time")],
    );
    assert_eq!(classes.len(), 5, "{}", run.metrics);
    for c in &classes {
        let fitted = results
            .complexity
            .iter()
            .find(|f| {
                Some(f.benchmark.as_str()) == c.label("benchmark_name")
                    && f.measure.as_str() == "time"
            })
            .expect("exported fit is in the results");
        assert_eq!(c.label("class"), Some(fitted.fit.class.as_str()));
        assert_eq!(c.value, fitted.fit.class.rank() as f64);
    }

    // The table shows it all.
    for text in [
        "allocs/iter",
        "bytes/iter",
        "peak bytes",
        "complexity (sizes",
        "scaling/sort  ",
    ] {
        assert!(
            run.stdout.contains(text),
            "{text} missing from:\n{}",
            run.stdout
        );
    }

    // The results follow their published schema.
    validate(&std::fs::read(dir.join("results.json")).unwrap());
}

/// Checks JSON results against docs/results.schema.json.
fn validate(json: &[u8]) {
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("docs/results.schema.json")).expect("the schema"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let results: serde_json::Value = serde_json::from_slice(json).expect("results are JSON");
    let errors: Vec<String> = validator
        .iter_errors(&results)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results do not follow the schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_schema_rejects_what_the_results_never_hold() {
    let dir = common::monitoring::scratch_dir("scaling-schema");
    let out = isolated_command(scaling_binary())
        .current_dir(&dir)
        .args([
            "--quick",
            "--no-history",
            "--exporters",
            "none",
            "--output",
            "json",
        ])
        .arg(dir.join("r.json"))
        .arg("alloc/format_number/7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let text = std::fs::read(dir.join("r.json")).unwrap();
    validate(&text);
    // A schema that accepted anything would pass the test above.
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("docs/results.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good: serde_json::Value = serde_json::from_slice(&text).unwrap();
    for (path, bad) in [
        ("/schema_version", serde_json::json!(2)),
        ("/benchmarks/0/allocations/allocs", serde_json::json!(-1)),
        ("/benchmarks/0/stats/mean", serde_json::json!("fast")),
        ("/benchmarks/0/labels/0", serde_json::json!(["only a key"])),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(path)
            .unwrap_or_else(|| panic!("{path} in {good}")) = bad;
        assert!(!validator.is_valid(&doc), "{path} changed still validates");
    }
}
