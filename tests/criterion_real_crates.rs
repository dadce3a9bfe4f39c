//! Published crates' own criterion benchmarks (httpdate, semver, itoa,
//! httparse), from their packages as cargo downloads them, built with only
//! the criterion dependency pointed at benchscope-criterion: every
//! benchmark of each bench file runs, lands on /metrics, in the JSON
//! results and in the history. How their means compare with criterion's
//! is measured by `cargo bench -p benchscope-benches --bench
//! criterion_parity` (docs/PERFORMANCE.md).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::real_crates::{Flavour, cargo_bench, point_criterion_at_benchscope, prepare, sources};
use common::{exported, exporting_args, free_addr, run_and_scrape};

#[test]
fn published_criterion_benchmarks_run_unchanged_and_are_exported() {
    for (krate, source) in sources() {
        let dir = prepare(krate, &source, Flavour::Benchscope);
        let name = format!("{} {}", krate.name, krate.version);

        let build = cargo_bench(krate, &dir, &[])
            .arg("--no-run")
            .output()
            .expect("run cargo bench --no-run");
        assert!(
            build.status.success(),
            "{name} does not build on benchscope-criterion:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );

        // What the bench file defines, as criterion would list it.
        let listed = cargo_bench(krate, &dir, &["--list"]).output().unwrap();
        assert!(listed.status.success(), "{name} --list");
        let ids: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(": benchmark"))
            .map(str::to_owned)
            .collect();
        assert!(!ids.is_empty(), "{name} lists no benchmark");

        let addr = free_addr();
        let mut args = vec!["--quick".to_owned()];
        args.extend(exporting_args(addr, &dir));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_and_scrape(
            cargo_bench(krate, &dir, &args),
            addr,
            Duration::from_secs(600),
        );
        assert!(run.status.success(), "{name}:\n{}", run.stderr);
        let (results, kept) = exported(&dir);
        assert!(
            results.failures.is_empty(),
            "{name}: {:?}",
            results.failures
        );
        let measured: BTreeSet<String> =
            results.benchmarks.iter().map(|b| b.name.clone()).collect();
        assert_eq!(measured, ids, "{name}: listed and measured differ");
        assert!(
            results
                .benchmarks
                .iter()
                .all(|b| b.samples_ns.len() >= 2 && b.stats.mean > 0.0),
            "{name}: a benchmark without samples"
        );

        let series = common::parse(&run.metrics);
        for id in &ids {
            assert!(
                !common::find(&series, "benchmark_mean_ms", &[("benchmark_name", id)]).is_empty(),
                "{name}: {id} is not on /metrics"
            );
        }

        assert_eq!(kept, ids, "{name}: the history holds another set");
        eprintln!("{name}: {} benchmarks measured and exported", ids.len());
    }
}

#[test]
fn only_the_criterion_table_changes() {
    let manifest = "[package]\nname = \"x\"\n\n[dev-dependencies.criterion]\nversion = \"0.5\"\ndefault-features = false\n\n[dev-dependencies.rand]\nversion = \"0.8\"\n";
    let changed = point_criterion_at_benchscope(manifest, std::path::Path::new("/r"));
    assert_eq!(
        changed,
        "[package]\nname = \"x\"\n\n[dev-dependencies.criterion]\npackage = \"benchscope-criterion\"\npath = \"/r/criterion\"\nfeatures = [\"history\"]\n[dev-dependencies.rand]\nversion = \"0.8\"\n"
    );
}
