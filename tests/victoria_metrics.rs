//! End to end through a real OTLP backend: VictoriaMetrics (Debian trixie's
//! package, fetched by `scripts/fetch-victoria-metrics.sh`) receives the
//! quickstart suite over OTLP/HTTP while Prometheus-style /metrics serves the
//! same run, and every series on /metrics is found in VictoriaMetrics by
//! PromQL-compatible export with the same name, the same labels and the same
//! value.
//!
//! VictoriaMetrics also turns the OTLP resource attributes into labels
//! (`service.name`, `host.name`, ...; every one has a dot); on the Prometheus
//! path they are in `target_info`. Those are the only extra labels allowed.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;

use common::victoria::VictoriaMetrics;
use common::{Series, faster_run, free_addr, parse, quickstart_command, scrape};

/// Labels equal, `le` compared as numbers; VictoriaMetrics may add resource
/// attributes (dotted names) and nothing else.
fn same_labels(prometheus: &BTreeMap<String, String>, vm: &BTreeMap<String, String>) -> bool {
    let vm_own: BTreeMap<_, _> = vm.iter().filter(|(k, _)| !k.contains('.')).collect();
    vm_own.len() == prometheus.len()
        && prometheus.iter().all(|(k, v)| match vm.get(k) {
            Some(w) if k == "le" => v.parse::<f64>().ok() == w.parse::<f64>().ok(),
            Some(w) => v == w,
            None => false,
        })
}

fn close(a: f64, b: f64) -> bool {
    // VictoriaMetrics keeps 12 significant decimal digits.
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn victoria_metrics_gets_the_same_series_over_otlp_as_prometheus_scrapes() {
    let vm = VictoriaMetrics::start();
    let dir = std::env::temp_dir().join(format!("benchscope-vm-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = dir.join("first.json");
    let quickstart = quickstart_command;
    let status = quickstart()
        .args(["--quick", "--exporters", "none", "--output", "json"])
        .arg(&first)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // A baseline three times faster: every benchmark regresses, so the
    // regression counter is on both paths whatever the machine's noise.
    let baseline = dir.join("baseline.json");
    faster_run(&benchscope::SuiteRun::read_json(&first).unwrap(), 3.0)
        .write_json(&baseline)
        .unwrap();

    // Both paths in one run: /metrics for the scrape, OTLP/HTTP to VictoriaMetrics.
    let metrics_addr = free_addr();
    let mut cmd = quickstart();
    cmd.args([
        "--quick",
        "--exporters",
        "prometheus,otlp",
        "--serve-after",
        "3s",
        "--baseline",
    ])
    .arg(&baseline)
    .args(["--prometheus-addr", &metrics_addr.to_string()])
    .args([
        "--otlp-endpoint",
        &format!("http://{}/opentelemetry", vm.addr),
    ]);
    let (mut child, lines) = common::start_until_finished(cmd);
    let scraped: Vec<Series> = parse(&scrape(metrics_addr));
    let warnings: Vec<String> = lines.filter(|l| l.starts_with("warning")).collect();
    let status = child.wait().unwrap();
    assert!(status.success() && warnings.is_empty(), "{warnings:?}");
    ureq::get(format!("http://{}/internal/force_flush", vm.addr))
        .call()
        .expect("force_flush");

    let mut by_name: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in scraped.iter().filter(|s| s.name != "target_info") {
        by_name.entry(s.name.as_str()).or_default().push(s);
    }
    // Instruction counts need a run under Callgrind (tests/instructions.rs).
    for spec in benchscope::metrics::CATALOGUE
        .iter()
        .filter(|s| s.needs().is_none())
    {
        let name = if spec.kind == "histogram" {
            format!("{}_count", spec.name)
        } else {
            spec.name.to_owned()
        };
        assert!(
            by_name.contains_key(name.as_str()),
            "{name} is not on /metrics"
        );
    }
    let mut compared = 0;
    for (name, series) in &by_name {
        let stored = vm.series(name);
        // Resource readings go on after the scrape.
        let check_value = !matches!(*name, "memory_usage_mb" | "cpu_utilization_percent");
        for s in series {
            let twins: Vec<_> = stored
                .iter()
                .filter(|(l, _)| same_labels(&s.labels, l))
                .collect();
            assert_eq!(
                twins.len(),
                1,
                "{name}{:?} in VictoriaMetrics: {stored:?}",
                s.labels
            );
            if check_value {
                assert!(
                    close(s.value, twins[0].1),
                    "{name}{:?}: /metrics {} vs VictoriaMetrics {}",
                    s.labels,
                    s.value,
                    twins[0].1
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 300, "only {compared} series compared");
    println!("{compared} series identical on both paths");
}
