//! Storage per month (docs/PERFORMANCE.md, part 5): a 100-benchmark suite
//! that runs around the clock, scraped every second by four stores side by
//! side in one run, each by its own figures:
//!
//! - Prometheus 3 **before**: every scrape stored (`honor_timestamps:
//!   false`, classic histograms), which is what benchscope cost until its
//!   series carried the time they last changed;
//! - Prometheus 3 **after**: the benchscope job's settings of the shipped
//!   `monitoring/prometheus.yml` (`honor_timestamps: true`,
//!   `convert_classic_histograms_to_nhcb: true`, exemplar storage on): a
//!   sample per change and a refresh every 2 minutes, the histogram as one
//!   native series;
//! - VictoriaMetrics before and after, the same two ways (after:
//!   `honor_timestamps: true` and `-dedup.minScrapeInterval=1s`, which
//!   drops a repeated sample).
//!
//! The suite finishes one benchmark every `BENCHSCOPE_PERF_STORAGE_PACE_MS`
//! (3 000 by default: each of the 100 benchmarks measured anew every
//! 5 minutes, as a suite of 3-second benchmarks run back to back does; 100
//! is the old part 5's stress, every benchmark every 10 s), for
//! `BENCHSCOPE_PERF_STORAGE_SECONDS` (600). Each Prometheus scrapes
//! benchscope alone (no other job in its TSDB). The month is the samples
//! stored per second, times a month, times the bytes a sample took, plus
//! the index. Prometheus's bytes a sample are those the second half of the
//! run added (TSDB snapshots at half time and at the end): samples added
//! to chunks already open, the steady state of a month, where a series
//! that changes rarely keeps one chunk a block; the first half carries
//! each series' chunk header and first sample, which minutes of data
//! spread over too few samples. VictoriaMetrics's are the whole run's
//! after a forced merge, an upper bound.
//!
//! It also measures how soon a finished benchmark's figures answer a PromQL
//! query on the after store (the spec: a dashboard within 5 s).
//!
//! ```text
//! bash scripts/build-prometheus.sh && bash scripts/fetch-victoria-metrics.sh
//! cargo bench -p benchscope-benches --bench storage
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use benchscope::internals::Instruments;
use benchscope::{BenchResult, SuiteRun};
use common::monitoring::{Prometheus3, repo_path, scratch_dir};
use common::victoria::VictoriaMetrics;

const BENCHMARKS: usize = 100;
const MONTH_S: f64 = 86_400.0 * 30.0;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env_or("BENCHSCOPE_PERF_STORAGE_SECONDS", 600);
    let pace = Duration::from_millis(env_or("BENCHSCOPE_PERF_STORAGE_PACE_MS", 3_000));
    let dir = scratch_dir("perf-storage");

    let mut config = benchscope::Config::default();
    config.exporters = vec![benchscope::config::ExporterKind::Prometheus];
    config.prometheus.addr = common::free_addr();
    config.environment = "ci".into();
    let telemetry = benchscope::Telemetry::start(&config).expect("telemetry");
    let target = telemetry.prometheus_addr().expect("prometheus address");
    let instruments = Instruments::new(
        &opentelemetry::global::meter("benchscope"),
        &config.histogram_buckets_ms,
    );
    let make = |i: usize, scale: f64, seed: u64| {
        let mut x = seed | 1;
        let samples = (0..100)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (1_000.0 + 50.0 * i as f64) * scale * (1.0 + (x % 1000) as f64 / 20_000.0)
            })
            .collect();
        BenchResult::from_samples(format!("suite/bench_{i:03}"), samples).expect("samples")
    };
    let base_path = dir.join("baseline.json");
    SuiteRun::new(
        "base",
        "main",
        (0..BENCHMARKS)
            .map(|i| make(i, 1.0, i as u64 + 1))
            .collect(),
    )
    .write_json(&base_path)
    .expect("baseline");
    let baseline = benchscope::Baseline::load(&base_path).expect("baseline");

    let before = plain_prometheus(&dir.join("before"), target, false);
    let after = plain_prometheus(&dir.join("after"), target, true);
    let vm_before = victoria(&dir, target, false);
    let vm_after = victoria(&dir, target, true);
    println!(
        "5. storage: 100 benchmarks, one finishing every {:.1} s (each every {:.0} s), scraped every second by four stores for {seconds} s ...",
        pace.as_secs_f64(),
        pace.as_secs_f64() * BENCHMARKS as f64
    );

    // The latency of a finished benchmark to a PromQL answer on the after
    // store, for every fifth finish.
    // (seconds into the run, latency) of each measured finish.
    let latencies: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let mut pollers = Vec::new();
    let started = Instant::now();
    let mut n = 0u64;
    let mut half = None;
    while started.elapsed() < Duration::from_secs(seconds) {
        if half.is_none() && started.elapsed() >= Duration::from_secs(seconds / 2) {
            half = Some((
                started.elapsed().as_secs_f64(),
                prometheus_storage(before.addr, &before.data),
                prometheus_storage(after.addr, &after.data),
            ));
        }
        let i = (n % BENCHMARKS as u64) as usize;
        let mut result = make(i, 1.0 + 0.02 * ((n / 100) % 3) as f64, n + 7);
        result.baseline = baseline
            .compare(&result, &benchscope::config::Policy::default())
            .ok()
            .flatten();
        instruments.record_bench(&result, "ci", "abc1234");
        if n.is_multiple_of(5) {
            let (prometheus, latencies) = (after.addr, latencies.clone());
            let (name, finished) = (result.name.clone(), result.finished_at);
            let at = started.elapsed().as_secs_f64();
            pollers.push(std::thread::spawn(move || {
                if let Some(seen) = first_seen(prometheus, &name, finished) {
                    latencies.lock().unwrap().push((at, seen - finished));
                }
            }));
        }
        n += 1;
        let next = started + pace * n as u32;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    for poller in pollers {
        let _ = poller.join();
    }
    let (half_time, before_half, after_half) =
        half.expect("BENCHSCOPE_PERF_STORAGE_SECONDS is too short to measure twice");
    let second_half = elapsed - half_time;
    let count = "count({job=\"benchscope\"})";
    // Prometheus: the second half's samples and bytes (steady state);
    // VictoriaMetrics: the whole run's.
    let rows = [
        (
            "Prometheus 3, every scrape stored",
            query(before.addr, count),
            prometheus_storage(before.addr, &before.data).since(&before_half),
            second_half,
            10.0,
        ),
        (
            "Prometheus 3, shipped job (a sample per change, native histogram)",
            query(after.addr, count),
            prometheus_storage(after.addr, &after.data).since(&after_half),
            second_half,
            10.0,
        ),
        (
            "VictoriaMetrics, every scrape stored",
            f64::NAN,
            victoria_storage(&vm_before),
            elapsed,
            30.0,
        ),
        (
            "VictoriaMetrics, timestamps honoured, dedup 1 s",
            f64::NAN,
            victoria_storage(&vm_after),
            elapsed,
            30.0,
        ),
    ];
    drop(after);
    drop(before);
    let _ = telemetry.shutdown();
    println!(
        "  {n} benchmark results recorded in {elapsed:.0} s; VictoriaMetrics {}",
        common::victoria::package_version()
    );
    println!(
        "  {:<70} {:>7} {:>10} {:>9} {:>10}",
        "store", "series", "samples/s", "B/sample", "GB/month"
    );
    for (name, series, stored, over, index_blocks) in rows {
        // At 30 days' retention Prometheus compacts into blocks of up to 3
        // days, each with its own index (10 a month); VictoriaMetrics
        // indexes every series once a day.
        let rate = stored.samples as f64 / over;
        let per_sample = stored.data_bytes as f64 / stored.samples.max(1) as f64;
        let month = rate * MONTH_S * per_sample + stored.index_bytes as f64 * index_blocks;
        let series = if series.is_nan() {
            "".into()
        } else {
            format!("{series:.0}")
        };
        println!(
            "  {name:<70} {series:>7} {rate:>10.1} {per_sample:>9.3} {:>10.3}",
            month / 1e9
        );
    }
    println!("  spec ceiling: 1 GB a month");
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let Some(&(worst_at, worst)) = latencies.last() {
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].1;
        println!(
            "  finished benchmark -> PromQL answer on the shipped job ({} finishes, scrape 1 s, poll 0.1 s): median {:.2} s, p95 {:.2} s, max {worst:.2} s (spec: 5 s)",
            latencies.len(),
            at(0.5),
            at(0.95),
        );
        println!(
            "  the slowest finished {worst_at:.0} s into the run; both Prometheus took their half-time TSDB snapshots at {half_time:.0} s"
        );
    } else {
        println!("  finished benchmark -> PromQL answer: none measured");
    }
    drop(vm_before);
    drop(vm_after);
    let _ = std::fs::remove_dir_all(&dir);
}

/// When (Unix seconds) an instant query first returned the finish
/// `finished` of `name`; `None` after 30 s.
fn first_seen(prometheus: SocketAddr, name: &str, finished: f64) -> Option<f64> {
    let expr = format!("benchmark_last_run_timestamp_seconds{{benchmark_name=\"{name}\"}}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let value = query(prometheus, &expr);
        if (value - finished).abs() < 1e-3 {
            return Some(unix_now());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The first value of an instant query, NaN when it returns nothing.
fn query(prometheus: SocketAddr, expr: &str) -> f64 {
    let Ok(mut reply) =
        ureq::post(format!("http://{prometheus}/api/v1/query")).send_form([("query", expr)])
    else {
        return f64::NAN;
    };
    let body = reply.body_mut().read_to_string().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    json["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The settings of the shipped benchscope job that decide what is stored.
const SHIPPED: [&str; 2] = [
    "honor_timestamps: true",
    "convert_classic_histograms_to_nhcb: true",
];

/// Prometheus 3 scraping benchscope alone every second: every scrape
/// stored (`honor_timestamps: false`, classic histograms), as benchscope's
/// untimestamped exposition cost, or with the benchscope job's settings of
/// the shipped prometheus.yml when `shipped`; stopped when dropped.
fn plain_prometheus(dir: &Path, target: SocketAddr, shipped: bool) -> Prometheus3 {
    let settings = if shipped {
        // What this measures is what monitoring/prometheus.yml ships.
        let file = std::fs::read_to_string(repo_path("monitoring/prometheus.yml")).unwrap();
        for setting in SHIPPED {
            assert!(
                file.contains(setting),
                "prometheus.yml no longer has `{setting}`"
            );
        }
        SHIPPED.map(|s| format!("    {s}\n")).concat()
    } else {
        "    honor_timestamps: false\n".to_owned()
    };
    let mut args = vec!["--web.enable-admin-api"];
    if shipped {
        args.push("--enable-feature=exemplar-storage");
    }
    Prometheus3::start(
        dir,
        &format!(
            "scrape_configs:\n  - job_name: benchscope\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n{settings}    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
        &args,
    )
}

/// VictoriaMetrics scraping `target` every second; timestamps honoured and
/// repeats dropped when `after`.
fn victoria(dir: &Path, target: SocketAddr, after: bool) -> VictoriaMetrics {
    let config = dir.join(format!("victoria-{after}.yml"));
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: benchscope\n    scrape_interval: 1s\n    honor_timestamps: {after}\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .expect("write the scrape config");
    let mut args = vec![
        format!("-promscrape.config={}", config.display()),
        "-retentionPeriod=31d".into(),
    ];
    if after {
        args.push("-dedup.minScrapeInterval=1s".into());
    }
    VictoriaMetrics::start_with(&args)
}

/// What a store holds, by its own figures.
struct Stored {
    samples: u64,
    data_bytes: u64,
    index_bytes: u64,
}

impl Stored {
    /// The samples and bytes added since `earlier`; the index as it is.
    fn since(self, earlier: &Stored) -> Stored {
        Stored {
            samples: self.samples.saturating_sub(earlier.samples),
            data_bytes: self.data_bytes.saturating_sub(earlier.data_bytes),
            index_bytes: self.index_bytes,
        }
    }
}

/// A TSDB snapshot's blocks: samples from their `meta.json`, the size of
/// their chunks and index.
fn prometheus_storage(prometheus: SocketAddr, data: &Path) -> Stored {
    let body = ureq::post(format!("http://{prometheus}/api/v1/admin/tsdb/snapshot"))
        .send_empty()
        .expect("snapshot")
        .body_mut()
        .read_to_string()
        .expect("snapshot answer");
    let json: serde_json::Value = serde_json::from_str(&body).expect("snapshot json");
    let name = json["data"]["name"].as_str().expect("snapshot name");
    let snapshot = data.join("snapshots").join(name);
    let mut stored = Stored {
        samples: 0,
        data_bytes: 0,
        index_bytes: 0,
    };
    for block in std::fs::read_dir(&snapshot)
        .expect("snapshot dir")
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(block.path().join("meta.json")) else {
            continue;
        };
        let meta: serde_json::Value = serde_json::from_str(&text).expect("meta.json");
        stored.samples += meta["stats"]["numSamples"].as_u64().unwrap_or(0);
        stored.data_bytes += dir_size(&block.path().join("chunks"));
        stored.index_bytes += std::fs::metadata(block.path().join("index"))
            .map(|m| m.len())
            .unwrap_or(0);
    }
    let _ = std::fs::remove_dir_all(&snapshot);
    stored
}

/// Flushes and merges everything VictoriaMetrics holds into its final parts,
/// then reads its storage figures from its own /metrics.
fn victoria_storage(vm: &VictoriaMetrics) -> Stored {
    let get = |path: &str| {
        ureq::get(format!("http://{}{path}", vm.addr))
            .call()
            .unwrap_or_else(|e| panic!("GET {path} from VictoriaMetrics: {e}"))
            .body_mut()
            .read_to_string()
            .expect("VictoriaMetrics answer")
    };
    get("/internal/force_flush");
    get("/internal/force_merge");
    let figures = |series: &[common::Series], name: &str, kind: &str| -> u64 {
        series
            .iter()
            .filter(|s| s.name == name && s.label("type").is_some_and(|t| t.starts_with(kind)))
            .map(|s| s.value as u64)
            .sum()
    };
    // The forced merge runs in the background: give it a moment to start,
    // then wait (bounded) until it is done.
    std::thread::sleep(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = loop {
        let series = common::parse(&get("/metrics"));
        let merging = series
            .iter()
            .any(|s| s.name == "vm_active_force_merges" && s.value > 0.0);
        if !merging || Instant::now() > deadline {
            break series;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let on_disk =
        |name| figures(&series, name, "storage/small") + figures(&series, name, "storage/big");
    Stored {
        samples: on_disk("vm_rows"),
        data_bytes: on_disk("vm_data_size_bytes"),
        index_bytes: figures(&series, "vm_data_size_bytes", "indexdb/"),
    }
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}
