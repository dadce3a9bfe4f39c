//! Bytes on the wire for OTLP: the results of 100 benchmarks (every metric
//! of the catalogue, a baseline comparison included) are recorded once, then
//! exported every second to a real OTLP/HTTP receiver on loopback, which
//! counts request bodies as sent. Printed: bytes per export and the
//! resulting Mbit/s at the 1 s interval, for cumulative and delta temporality,
//! without and with gzip. The spec's ceiling is 1 Mbit/s.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench otlp_wire
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use benchscope::config::{Compression, Config, ExporterKind, Temporality};
use benchscope::internals::Instruments;
use benchscope::{
    BaselineComparison, BenchResult, Comparison, Telemetry, ThroughputResult, Verdict,
};
use common::otlp::{Answer, HttpReceiver};

const BENCHMARKS: usize = 100;
const EXPORTS: u64 = 5;

fn result(i: usize) -> BenchResult {
    let samples_ns: Vec<f64> = (0..100)
        .map(|s| 1000.0 * (1.0 + i as f64) + s as f64)
        .collect();
    let stats = benchscope::Stats::from_samples(&samples_ns).unwrap();
    BenchResult {
        name: format!("group_{}/benchmark_{i:03}", i % 10),
        labels: Vec::new(),
        batch: 1000,
        iterations: 100_000,
        warmup_iterations: 10_000,
        throughput: Some(ThroughputResult {
            unit: "bytes".into(),
            per_iteration: 4096,
            per_second: 4096.0 / (stats.mean / 1e9),
        }),
        baseline: Some(BaselineComparison {
            baseline_version: "0123456789ab".into(),
            baseline_ns: [stats.p50, stats.p95, stats.p99],
            speedup: [1.0, 1.0, 1.0],
            comparison: Comparison {
                change: 0.0,
                p_value: 1.0,
                verdict: Verdict::Unchanged,
            },
            allocations: None,
            instructions: None,
        }),
        samples_ns,
        stats,
        peak_rss_mb: None,
        finished_at: 1.8e9,
        incomparable: None,
        allocations: None,
        instructions: None,
        disturbance: None,
    }
}

/// Bytes per export once the 100 results are recorded.
fn measure(temporality: Temporality, compression: Compression) -> (f64, u64) {
    let receiver = HttpReceiver::start(Answer::Ok);
    let mut config = Config::default();
    config.exporters = vec![ExporterKind::Otlp];
    config.collection_interval = Duration::from_secs(1);
    config.otlp.endpoint = receiver.endpoint();
    config.otlp.temporality = temporality;
    config.otlp.compression = compression;
    let telemetry = Telemetry::start(&config).expect("pipeline");
    // Recorded as a suite records, into the pipeline's global meter provider.
    let instruments = Instruments::new(
        &opentelemetry::global::meter("benchscope"),
        &config.histogram_buckets_ms,
    );
    for i in 0..BENCHMARKS {
        instruments.record_bench(&result(i), "ci", "0123456789abcdef");
    }
    // Skip the first export (it may hold a partial state), then count.
    let wait_for = |n: u64| {
        let start = std::time::Instant::now();
        while receiver.requests.load(Ordering::Relaxed) < n {
            assert!(start.elapsed() < Duration::from_secs(30), "exports stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(1);
    let (bytes0, requests0) = (
        receiver.body_bytes.load(Ordering::Relaxed),
        receiver.requests.load(Ordering::Relaxed),
    );
    wait_for(requests0 + EXPORTS);
    let bytes = receiver.body_bytes.load(Ordering::Relaxed) - bytes0;
    let requests = receiver.requests.load(Ordering::Relaxed) - requests0;
    let series: u64 = receiver
        .received
        .latest_metrics()
        .values()
        .map(|m| common::otlp::points(m).len() as u64)
        .sum();
    drop(telemetry);
    (bytes as f64 / requests as f64, series)
}

fn main() {
    println!(
        "OTLP/HTTP bytes per export, {BENCHMARKS} benchmarks, export every 1 s (ceiling 1 Mbit/s)"
    );
    for (temporality, t) in [
        (Temporality::Cumulative, "cumulative"),
        (Temporality::Delta, "delta"),
    ] {
        for (compression, c) in [(Compression::None, "none"), (Compression::Gzip, "gzip")] {
            let (per_export, series) = measure(temporality, compression);
            let mbit = per_export * 8.0 / 1e6;
            println!(
                "  {t:>10}, compression {c:>4}: {per_export:>10.0} bytes/export  {mbit:>7.3} Mbit/s  ({series} series)  {}",
                if mbit <= 1.0 {
                    "within ceiling"
                } else {
                    "ABOVE CEILING"
                }
            );
        }
    }
}
