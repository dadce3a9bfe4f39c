//! `--measure instructions`, run as a real process under the real
//! Callgrind (Debian's valgrind, installed by the test command): each
//! benchmark's routine counted in a child process, the counts the same run
//! after run, in the JSON results (valid against docs/results.schema.json),
//! on /metrics (with the cache simulation's figures), and in the gate, which
//! flags a count that grew; without valgrind a clear error names the package.

mod common;

use std::path::Path;
use std::time::Duration;

use benchscope::SuiteRun;
use common::{exporting_args, find, free_addr, parse, quickstart_command, run_and_scrape};

const BENCH: &str = "strings/parse_u64";

fn counted(dir: &Path, out: &str, extra: &[&str]) -> SuiteRun {
    let out_path = dir.join(out);
    let result = quickstart_command()
        .current_dir(dir)
        .args([
            "--quick",
            "--no-history",
            "--exporters",
            "none",
            "--exact",
            BENCH,
        ])
        .args(["--measure", "instructions", "--output", "json"])
        .arg(&out_path)
        .args(extra)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", common::output_text(&result));
    SuiteRun::read_json(&out_path).unwrap()
}

#[test]
fn counts_are_deterministic_and_reach_every_output() {
    let dir = common::monitoring::scratch_dir("instructions");
    let first = counted(&dir, "first.json", &[]);
    let second = counted(&dir, "second.json", &[]);
    let a = first.get(BENCH).unwrap().instructions.expect("counted");
    let b = second.get(BENCH).unwrap().instructions.expect("counted");
    assert_eq!(a.iterations, 100);
    assert!(a.instructions > 10.0, "{a:?}");
    // The same binary counts the same instructions, whatever the machine does.
    assert_eq!(a.instructions, b.instructions);
    assert_eq!(a.cycles, None, "no cache figures without --cache-sim");

    // With the cache simulation, on /metrics, in the JSON results.
    let addr = free_addr();
    let mut cmd = quickstart_command();
    cmd.current_dir(&dir)
        .args([
            "--quick",
            "--exact",
            BENCH,
            "--measure",
            "instructions",
            "--cache-sim",
        ])
        .args(exporting_args(addr, &dir));
    let run = run_and_scrape(cmd, addr, Duration::from_secs(240));
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let series = parse(&run.metrics);
    let scraped = find(
        &series,
        "benchmark_instructions_per_iteration",
        &[("benchmark_name", BENCH)],
    );
    assert_eq!(scraped.len(), 1, "{}", run.metrics);
    assert_eq!(scraped[0].value, a.instructions);
    for level in ["l1", "ll"] {
        assert_eq!(
            find(
                &series,
                "benchmark_cache_misses_per_iteration",
                &[("level", level)]
            )
            .len(),
            1,
            "{}",
            run.metrics
        );
    }
    assert_eq!(
        find(&series, "benchmark_estimated_cycles_per_iteration", &[]).len(),
        1
    );
    assert!(
        run.stdout.contains("instr/iter") && run.stdout.contains("est. cycles"),
        "{}",
        run.stdout
    );
    let (results, _) = common::exported(&dir);
    let cached = results.get(BENCH).unwrap().instructions.unwrap();
    assert!(cached.cycles.unwrap() >= cached.instructions, "{cached:?}");
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::repo_root().join("docs/results.schema.json")).unwrap(),
    )
    .unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert!(jsonschema::is_valid(&schema, &written), "{written}");

    // The gate: a baseline that counted 2 % fewer instructions is a
    // regression (counts do not jitter; the threshold is 0.5 %), the same
    // count is not, whatever the time did.
    let mut fewer = first.clone();
    for b in &mut fewer.benchmarks {
        if let Some(i) = &mut b.instructions {
            i.instructions /= 1.02;
        }
    }
    fewer.write_json(&dir.join("fewer.json")).unwrap();
    let guard = |baseline: &str| {
        common::benchscope_tool(&dir)
            .args([
                "guard",
                "--samples-only",
                "--results",
                "second.json",
                "--baseline",
                baseline,
            ])
            .output()
            .unwrap()
    };
    let out = guard("fewer.json");
    common::assert_says(&out, 1, "(+2.00 %, REGRESSED (major))");
    let out = guard("first.json");
    let text = common::output_text(&out);
    assert!(text.contains("(+0.00 %)"), "{text}");
}

#[test]
fn without_valgrind_the_error_names_the_package() {
    let dir = common::monitoring::scratch_dir("instructions-missing");
    let out = quickstart_command()
        .current_dir(&dir)
        .env("PATH", &dir)
        .args(["--quick", "--exact", BENCH, "--measure", "instructions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    let text = common::output_text(&out);
    assert!(text.contains("apt-get install valgrind"), "{text}");
    assert!(text.contains("--measure"), "{text}");
}

#[test]
fn each_count_leaves_a_flame_graph_that_the_report_links() {
    const SORT: &str = "collections/sort_10k";
    let dir = common::monitoring::scratch_dir("instructions-flame");
    let out = quickstart_command()
        .current_dir(&dir)
        .args(["--quick", "--exporters", "none", "--exact", SORT])
        .args(["--measure", "instructions", "--history", "history.db"])
        .args(["--output", "json", "run.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let run = SuiteRun::read_json(&dir.join("run.json")).unwrap();
    let counted = run.get(SORT).unwrap().instructions.expect("counted");

    // Folded stacks under the benchmark's name, summing to what was counted.
    let flames = dir.join("target/benchscope/flamegraphs");
    let folded = std::fs::read_to_string(flames.join("collections_sort_10k.folded")).unwrap();
    let mut total = 0u64;
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("stack count");
        assert!(
            stack == SORT || stack.starts_with("collections/sort_10k;"),
            "{line}"
        );
        assert!(
            !stack.contains("benchscope::measure::"),
            "no harness frames: {line}"
        );
        total += count.parse::<u64>().unwrap();
    }
    assert!(folded.contains("sort"), "the sort's own frames: {folded}");
    let expected = counted.instructions * counted.iterations as f64;
    assert!(
        (total as f64 - expected).abs() <= expected * 0.01,
        "folded {total} vs counted {expected}"
    );
    // The SVG (the workspace builds benchscope with `flamegraph`).
    let svg = std::fs::read_to_string(flames.join("collections_sort_10k.svg")).unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("<svg"),
        "{}",
        &svg[..200]
    );
    assert!(svg.contains("sort"), "frames drawn");

    // `benchscope analyze` links it, copied beside the report.
    let analyzed = common::benchscope_tool(&dir)
        .args(["--history", "history.db", "analyze", "--out", "report"])
        .output()
        .unwrap();
    assert!(
        analyzed.status.success(),
        "{}",
        common::output_text(&analyzed)
    );
    let html = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(
        html.contains("href=\"flamegraphs/collections_sort_10k.svg\""),
        "{html}"
    );
    assert!(
        dir.join("report/flamegraphs/collections_sort_10k.svg")
            .is_file()
    );
}
