//! benchscope against the alternatives a Rust developer would pick, side by
//! side in one run on one machine (docs/PERFORMANCE.md has the table).
//!
//! 1. Cost per recorded sample: benchscope's record path (the sample loop of
//!    `Instruments::record_bench`) vs a raw `opentelemetry_sdk` histogram
//!    record with the same two attributes, the `metrics` crate with
//!    `metrics-exporter-prometheus`, and the `prometheus` crate (each both
//!    as typically written, looking the series up per call, and with a
//!    handle resolved once).
//! 2. Application mode: `#[monitored_bench]` on a trivial function vs
//!    `#[autometrics]` on the same function vs the bare function.
//! 3. The quickstart suite with every exporter on (Prometheus scraped each
//!    second, OTLP to a local receiver, the live view with 10 WebSocket
//!    clients) vs none: CPU time, wall time, peak RSS.
//! 4. /metrics render time with 1 000 and 10 000 series.
//!
//! Part 5, storage per month, is benches/storage.rs.
//!
//! Timings alternate between the contenders in rounds and report the median
//! round, so drift on a noisy machine favours none of them.
//!
//! ```text
//! bash scripts/perf.sh        # installs what part 3 needs, then:
//! cargo bench -p benchscope-benches --bench peers   # or only some parts:
//! cargo bench -p benchscope-benches --bench peers -- record app render suite
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/suite_runs.rs"]
mod suite_runs;

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Instant;

use benchscope::BenchResult;
use benchscope::internals::PrometheusReader;
use benchscope::internals::{Instruments, execution_time_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use suite_runs::{Mode, median};

/// Samples per round of the per-sample contenders.
const SAMPLES: usize = 20_000;
const ROUNDS: usize = 21;

/// A meter provider read by benchscope's own Prometheus reader, as in a
/// suite; the reader renders what its /metrics serves.
fn otel_provider() -> (SdkMeterProvider, PrometheusReader) {
    let reader = PrometheusReader::new();
    // The series limit a suite sets (the SDK's own default is 2 000).
    let max_series = benchscope::Config::default().max_series_per_metric;
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .with_view(move |_: &opentelemetry_sdk::metrics::Instrument| {
            opentelemetry_sdk::metrics::Stream::builder()
                .with_cardinality_limit(max_series)
                .build()
                .ok()
        })
        .build();
    (provider, reader)
}

fn buckets_ms() -> Vec<f64> {
    benchscope::Config::default().histogram_buckets_ms
}

/// Per-iteration times in ms, spread over the buckets like real samples.
fn sample_values() -> Vec<f64> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..SAMPLES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0.001 * (1.0 + (x % 10_000) as f64)
        })
        .collect()
}

/// Runs each contender once per round, in rotating order; returns the
/// median over rounds of each one's time per `per_round` operations.
/// A named piece of work timed against the others.
type Contender<'a> = (&'a str, Box<dyn FnMut() + 'a>);

fn rounds(contenders: &mut [Contender<'_>], per_round: usize) -> Vec<f64> {
    let mut times: Vec<Vec<f64>> = contenders.iter().map(|_| Vec::new()).collect();
    // One warm-up pass: lazy statics, first-call binding, page faults.
    for (_, f) in contenders.iter_mut() {
        f();
    }
    for round in 0..ROUNDS {
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let start = Instant::now();
            (contenders[i].1)();
            times[i].push(start.elapsed().as_secs_f64() * 1e9 / per_round as f64);
        }
    }
    times.into_iter().map(median).collect()
}

fn print_table(title: &str, unit: &str, names: &[&str], values: &[f64], reference: usize) {
    println!("\n{title}");
    for (name, v) in names.iter().zip(values) {
        println!(
            "  {name:<48} {v:>10.1} {unit}   {:>6.2}x {}",
            v / values[reference],
            names[reference]
        );
    }
}

fn per_sample_record() {
    let values = sample_values();
    let (provider, _reader) = otel_provider();
    let meter = provider.meter("peers");
    let buckets = buckets_ms();

    // benchscope: a whole record_bench of SAMPLES samples (its gauges and
    // counters included), per sample.
    let instruments = Instruments::new(&meter, &buckets);
    let result =
        BenchResult::from_samples("peers/record", values.iter().map(|ms| ms * 1e6).collect())
            .expect("samples");

    // Raw opentelemetry_sdk: the same histogram, the same two attributes.
    let raw = execution_time_histogram(&meter, &buckets);
    let attrs = [
        KeyValue::new("benchmark_name", "peers/raw"),
        KeyValue::new("environment", "dev"),
    ];

    // metrics + metrics-exporter-prometheus, on a local recorder.
    let recorder: PrometheusRecorder = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .expect("buckets")
        .build_recorder();
    let metrics_handle = metrics::with_local_recorder(
        &recorder,
        || metrics::histogram!("benchmark_execution_time_ms", "benchmark_name" => "peers/metrics", "environment" => "dev"),
    );

    // The prometheus crate.
    let vec = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("benchmark_execution_time_ms", "time per iteration")
            .buckets(buckets.clone()),
        &["benchmark_name", "environment"],
    )
    .expect("histogram");
    let prom_registry = prometheus::Registry::new();
    prom_registry
        .register(Box::new(vec.clone()))
        .expect("register");
    let prom_handle = vec.with_label_values(&["peers/prometheus-handle", "dev"]);

    let names = [
        "benchscope record_bench (bound histogram), per sample",
        "opentelemetry_sdk Histogram::record, 2 attributes",
        "metrics histogram! per call",
        "metrics Histogram handle",
        "prometheus with_label_values().observe per call",
        "prometheus Histogram handle",
    ];
    let mut contenders: Vec<Contender> = vec![
        (
            names[0],
            Box::new(|| instruments.record_bench(black_box(&result), "dev", "abc")),
        ),
        (
            names[1],
            Box::new(|| {
                for &v in &values {
                    raw.record(black_box(v), &attrs);
                }
            }),
        ),
        (
            names[2],
            Box::new(|| {
                metrics::with_local_recorder(&recorder, || {
                    for &v in &values {
                        metrics::histogram!("benchmark_execution_time_ms", "benchmark_name" => "peers/metrics-macro", "environment" => "dev")
                            .record(black_box(v));
                    }
                })
            }),
        ),
        (
            names[3],
            Box::new(|| {
                for &v in &values {
                    metrics_handle.record(black_box(v));
                }
            }),
        ),
        (
            names[4],
            Box::new(|| {
                for &v in &values {
                    vec.with_label_values(&["peers/prometheus", "dev"])
                        .observe(black_box(v));
                }
            }),
        ),
        (
            names[5],
            Box::new(|| {
                for &v in &values {
                    prom_handle.observe(black_box(v));
                }
            }),
        ),
    ];
    let ns = rounds(&mut contenders, SAMPLES);
    drop(contenders);
    print_table(
        &format!(
            "1. cost per recorded sample ({SAMPLES} samples a round, median of {ROUNDS} rounds)"
        ),
        "ns",
        &names,
        &ns,
        1,
    );
    // The deferred work: metrics-exporter-prometheus buckets its samples
    // when it renders, so its record is a push onto a queue.
    let _ = recorder.handle().render();
    let _ = provider.shutdown();
}

// Application mode: the same trivial function three ways.
#[inline(never)]
fn bare_mix(a: u64, b: u64) -> u64 {
    a.rotate_left(5) ^ b.wrapping_mul(0x9e37_79b9)
}

#[benchscope::monitored_bench]
#[inline(never)]
fn monitored_mix(a: u64, b: u64) -> u64 {
    a.rotate_left(5) ^ b.wrapping_mul(0x9e37_79b9)
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_mix(a: u64, b: u64) -> u64 {
    a.rotate_left(5) ^ b.wrapping_mul(0x9e37_79b9)
}

fn application_mode() {
    let (provider, reader) = otel_provider();
    opentelemetry::global::set_meter_provider(provider.clone());
    const CALLS: usize = 20_000;
    let names = [
        "bare function",
        "#[benchscope::monitored_bench]",
        "#[autometrics] (prometheus 0.14 backend)",
    ];
    let mut contenders: Vec<Contender> = vec![
        (
            names[0],
            Box::new(|| {
                for i in 0..CALLS as u64 {
                    black_box(bare_mix(black_box(i), 7));
                }
            }),
        ),
        (
            names[1],
            Box::new(|| {
                for i in 0..CALLS as u64 {
                    black_box(monitored_mix(black_box(i), 7));
                }
            }),
        ),
        (
            names[2],
            Box::new(|| {
                for i in 0..CALLS as u64 {
                    black_box(autometrics_mix(black_box(i), 7));
                }
            }),
        ),
    ];
    let ns = rounds(&mut contenders, CALLS);
    drop(contenders);
    print_table(
        &format!(
            "2. application mode, per call ({CALLS} calls a round, median of {ROUNDS} rounds)"
        ),
        "ns",
        &names,
        &ns,
        0,
    );
    println!(
        "  benchscope / autometrics: {:.3} (target ≤ 1.1); one Instant::now() here: {:.1} ns",
        ns[1] / ns[2],
        benchscope::internals::clock_cost_ns()
    );
    // The calls were recorded: the series is on this provider's /metrics.
    let text = reader.render().expect("render");
    assert!(
        text.contains("benchmark_name=\"monitored_mix\""),
        "application mode recorded nothing"
    );
    let _ = provider.shutdown();
}

fn suite_overhead() {
    const SUITE_ROUNDS: usize = 3;
    let binary = suite_runs::build_quickstart();
    let receiver = common::otlp::HttpReceiver::start(common::otlp::Answer::Ok);
    let all = Mode::All { live_clients: 10 };
    let samples = suite_runs::rounds(
        &binary,
        &[Mode::None, all],
        SUITE_ROUNDS,
        &receiver.endpoint(),
    );
    assert!(
        receiver.requests.load(Ordering::Relaxed) > 0,
        "the OTLP receiver got nothing"
    );
    let (off, on) = (&samples[0], &samples[1]);
    let cpu = |v: &[suite_runs::Sample]| median(v.iter().map(|s| s.cpu.as_secs_f64()).collect());
    let wall = |v: &[suite_runs::Sample]| median(v.iter().map(|s| s.wall.as_secs_f64()).collect());
    let rss = |v: &[suite_runs::Sample]| median(v.iter().map(|s| s.peak_rss as f64).collect());
    let (time_ratio, rows) = suite_runs::wall_ratios(on, off);
    let noise = rows.iter().map(|r| r.2).fold(1.0, f64::max);
    println!(
        "\n3. quickstart suite, all exporters (prometheus scraped 1/s, otlp, live + 10 clients) vs none, median of {SUITE_ROUNDS} rounds"
    );
    println!(
        "  CPU time ratio, exporter threads (process / process less exporter threads): {:.4} (target ≤ 1.01)",
        suite_runs::exporter_cpu_ratio(on)
    );
    println!(
        "  CPU time, whole process: {:.2} s vs {:.2} s = {:.4} (noisy: batch sizes follow each run's warm-up)",
        cpu(on),
        cpu(off),
        cpu(on) / cpu(off)
    );
    println!(
        "  time per iteration as the benchmarks saw it (geometric mean): {time_ratio:.4} (noise: slowest / fastest no-exporter run, worst benchmark: {noise:.4}); suite wall time {:.1} s vs {:.1} s",
        wall(on),
        wall(off)
    );
    println!(
        "  peak RSS: {:.1} MB vs {:.1} MB: {:+.1} MB extra (target ≤ 20 MB)",
        rss(on) / 1e6,
        rss(off) / 1e6,
        (rss(on) - rss(off)) / 1e6
    );
}

fn render(series: usize) {
    // benchscope: gauges on the SDK pipeline behind its /metrics.
    let (provider, reader) = otel_provider();
    let gauge = provider
        .meter("peers")
        .f64_gauge("benchmark_mean_ms")
        .build();
    // metrics-exporter-prometheus.
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // The prometheus crate.
    let prom_registry = prometheus::Registry::new();
    let vec = prometheus::GaugeVec::new(
        prometheus::Opts::new("benchmark_mean_ms", "mean time per iteration"),
        &["benchmark_name", "environment"],
    )
    .expect("gauge");
    prom_registry
        .register(Box::new(vec.clone()))
        .expect("register");
    metrics::with_local_recorder(&recorder, || {
        for i in 0..series {
            let name = format!("suite/bench_{i:05}");
            let value = 0.5 + i as f64;
            gauge.record(
                value,
                &[
                    KeyValue::new("benchmark_name", name.clone()),
                    KeyValue::new("environment", "dev"),
                ],
            );
            metrics::gauge!("benchmark_mean_ms", "benchmark_name" => name.clone(), "environment" => "dev")
                .set(value);
            vec.with_label_values(&[&name, "dev"]).set(value);
        }
    });
    let lines = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("benchmark_mean_ms"))
            .count()
    };
    let names = [
        "benchscope PrometheusReader::render",
        "metrics-exporter-prometheus render()",
        "prometheus crate TextEncoder",
    ];
    let sizes: [std::cell::Cell<usize>; 3] = Default::default();
    {
        let mut contenders: Vec<Contender> = vec![
            (
                names[0],
                Box::new(|| sizes[0].set(lines(&reader.render().expect("render")))),
            ),
            (
                names[1],
                Box::new(|| {
                    sizes[1].set(lines(&handle.render()));
                }),
            ),
            (
                names[2],
                Box::new(|| {
                    let text = prometheus::TextEncoder::new()
                        .encode_to_string(&prom_registry.gather())
                        .expect("encode");
                    sizes[2].set(lines(&text));
                }),
            ),
        ];
        let ns = rounds(&mut contenders, 1);
        drop(contenders);
        let us: Vec<f64> = ns.iter().map(|ns| ns / 1e3).collect();
        let best = (0..3).min_by(|&a, &b| us[a].total_cmp(&us[b])).unwrap();
        print_table(
            &format!("4. /metrics render, {series} series (median of {ROUNDS} renders)"),
            "µs",
            &names,
            &us,
            best,
        );
    }
    assert!(
        sizes.iter().all(|n| n.get() == series),
        "series rendered: {sizes:?}"
    );
    let _ = provider.shutdown();
}

fn main() {
    // `cargo bench -p benchscope-benches --bench peers -- record app render suite` runs
    // only the named parts (cargo passes `--bench` itself: not a part).
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let known = ["record", "app", "render", "suite"];
    if let Some(unknown) = parts.iter().find(|p| !known.contains(&p.as_str())) {
        eprintln!(
            "peers: no part named `{unknown}`; the parts are {}",
            known.join(", ")
        );
        std::process::exit(2);
    }
    let run = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    println!(
        "benchscope {} vs peers on {} ({} cores)",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if run("record") {
        per_sample_record();
    }
    if run("app") {
        application_mode();
    }
    if run("render") {
        render(1_000);
        render(10_000);
    }
    if run("suite") {
        suite_overhead();
    }
}
