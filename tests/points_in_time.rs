//! Runs as points in time, on Prometheus 3 (built from its Go module by
//! scripts/build-prometheus.sh) with the committed configuration: the
//! quickstart's figures are stored when they change, not on every scrape;
//! its histogram is one native series (`convert_classic_histograms_to_nhcb`);
//! OpenMetrics scrapes carry exemplars with the benchmarks' trace ids, which
//! Prometheus stores; and a finished benchmark is visible to PromQL within
//! seconds.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::monitoring::{LocalStack, Server, scratch_dir};
use common::{free_addr, quickstart_command};

/// Series of the benchscope job that benchscope writes (not the `up` and
/// `scrape_*` series Prometheus adds to every target on every scrape).
const OWN: &str = "{job=\"benchscope\",__name__!~\"up|scrape_.+\"}";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn prometheus_3_stores_changes_native_histograms_and_exemplars() {
    let dir = scratch_dir("points-in-time");
    let metrics = free_addr();
    let stack = Arc::new(LocalStack::start_on(
        Server::Prometheus3,
        &dir.join("stack"),
        &[metrics],
        &[],
        "http://127.0.0.1:9/webhook",
    ));

    // When each benchmark's finish first shows in a PromQL query, as a
    // dashboard polling Prometheus would see it.
    let seen: Arc<Mutex<BTreeMap<String, (f64, f64)>>> = Arc::default();
    let polling = Arc::new(AtomicBool::new(true));
    let poller = {
        let (stack, seen, polling) = (stack.clone(), seen.clone(), polling.clone());
        std::thread::spawn(move || {
            while polling.load(Ordering::Relaxed) {
                for (labels, finished) in stack.query("benchmark_last_run_timestamp_seconds") {
                    let name = labels["benchmark_name"].clone();
                    seen.lock()
                        .unwrap()
                        .entry(name)
                        .or_insert((finished, now()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let mut cmd = quickstart_command();
    cmd.args(["--quick", "--no-history", "--exporters", "prometheus"])
        .args(["--prometheus-addr", &metrics.to_string()])
        .args(["--traces", "stdout", "--serve-after", "180s"]);
    let (mut child, lines) = common::start_until_finished(cmd);
    std::thread::spawn(move || lines.for_each(drop));

    // Every benchmark shows up; the latency is measured properly by
    // benches/peers.rs (part 5), this only bounds it.
    let names: Vec<String> = {
        let mut names = Vec::new();
        for _ in 0..100 {
            names = stack
                .query("group by (benchmark_name) (benchmark_samples)")
                .into_iter()
                .map(|(l, _)| l["benchmark_name"].clone())
                .collect();
            if names.len() >= 5 && seen.lock().unwrap().len() >= names.len() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        names
    };
    polling.store(false, Ordering::Relaxed);
    poller.join().unwrap();
    assert!(names.len() >= 5, "benchmarks stored: {names:?}");
    let seen = seen.lock().unwrap().clone();
    println!("a finished benchmark visible to PromQL after (scrape 1 s, poll 0.1 s):");
    for (name, (finished, at)) in &seen {
        let latency = at - finished;
        println!("  {name:<28} {latency:5.2} s");
        assert!(latency < 15.0, "{name} took {latency:.1} s to show");
    }

    // Native histograms: one series per benchmark, no classic buckets, and
    // it holds the run's samples.
    let classic = stack.query(
        "count({__name__=~\"benchmark_execution_time_ms_(bucket|sum|count)\", job=\"benchscope\"})",
    );
    assert!(
        classic.is_empty(),
        "classic histogram series stored: {classic:?}"
    );
    let counts = stack.query(
        "histogram_count(benchmark_execution_time_ms) - on (benchmark_name, environment) benchmark_samples",
    );
    assert_eq!(counts.len(), names.len(), "{counts:?}");
    assert!(
        counts.iter().all(|(_, diff)| *diff == 0.0),
        "the native histograms' counts differ from the samples taken: {counts:?}"
    );
    let p50 = stack.query("histogram_quantile(0.5, benchmark_execution_time_ms)");
    assert!(p50.iter().all(|(_, v)| *v > 0.0), "{p50:?}");

    // Exemplars: a sample per bucket with its benchmark's trace.
    let exemplars = stack.query_exemplars("benchmark_execution_time_ms", Duration::from_secs(600));
    assert!(!exemplars.is_empty(), "no exemplar stored");
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut with_exemplars = 0;
    for (series, list) in &exemplars {
        assert!(series.contains_key("benchmark_name"), "{series:?}");
        for (labels, value) in list {
            assert!(hex(&labels["trace_id"], 32), "{labels:?}");
            assert!(hex(&labels["span_id"], 16), "{labels:?}");
            assert!(*value > 0.0, "{labels:?}: {value}");
        }
        with_exemplars += usize::from(!list.is_empty());
    }
    assert_eq!(with_exemplars, names.len(), "{exemplars:?}");

    // Idle: nothing runs, the figures stand still, and a scrape adds
    // samples for the few series that change (the resources) only.
    std::thread::sleep(Duration::from_secs(25));
    let series = stack.query(&format!("count(last_over_time({OWN}[5m]))"))[0].1;
    let window = Duration::from_secs(20);
    let stored = stack.samples_in(OWN, window) as f64;
    let scrapes = stack.samples_in("up{job=\"benchscope\"}", window) as f64;
    let per_scrape = stored / scrapes;
    println!(
        "idle: {per_scrape:.1} samples stored per scrape for {series} series ({:.1} %; {scrapes} scrapes)",
        100.0 * per_scrape / series
    );
    assert!(series >= 100.0, "{series} series");
    assert!(
        per_scrape <= series / 5.0,
        "{per_scrape} samples per scrape for {series} series"
    );

    let _ = child.kill();
    let _ = child.wait();
    drop(stack);
    let _ = std::fs::remove_dir_all(&dir);
}
