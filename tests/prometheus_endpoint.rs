//! The core capability end to end: a suite runs in-process, and /metrics,
//! scraped over real HTTP while it serves, carries every catalogue metric
//! with its labels and the suite's figures.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use benchscope::config::Config;
use benchscope::internals::Instruments;
use benchscope::metrics::CATALOGUE;
use benchscope::{
    BenchResult, Bencher, Endpoints, Error, Reporter, Silent, Suite, Telemetry, monitored_bench,
};
use common::{faster_baseline, find, parse, scrape, selected};

/// Tests here install the global meter provider; one at a time.
static GLOBAL: Mutex<()> = Mutex::new(());

#[monitored_bench]
fn sleep_2ms() {
    std::thread::sleep(Duration::from_millis(2));
}

#[monitored_bench(group = "fast", throughput = bytes(8), labels(variant = "std"))]
fn sum_bytes(b: &mut Bencher) {
    let data = [1u8; 8];
    b.iter(|| data.iter().map(|&x| u64::from(x)).sum::<u64>());
}

/// Cases of four sizes: a complexity class to export.
#[monitored_bench(group = "fast", args = [16, 64, 256, 1024])]
fn sum_n(b: &mut Bencher, n: u64) {
    b.iter(|| (0..std::hint::black_box(n)).sum::<u64>());
}

/// Allocations per iteration, for the allocation metrics.
#[global_allocator]
static ALLOC: benchscope::CountingAlloc = benchscope::CountingAlloc::system();

#[monitored_bench(name = "fails")]
fn panicking_bench() {
    panic!("deliberate failure");
}

#[monitored_bench]
fn application_call(x: u64) -> u64 {
    x.wrapping_mul(31)
}

fn config() -> Config {
    let mut config = Config::default();
    config.prometheus.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.collection_interval = Duration::from_millis(100);
    config.commit = "c0ffee".into();
    config.branch = "main".into();
    config.pipeline = "local".into();
    config.trigger = "manual".into();
    config.history.enabled = false;
    let m = &mut config.measurement;
    m.samples = 30;
    m.warmup = Duration::from_millis(100);
    m.min_time = Duration::from_millis(300);
    m.max_time = Duration::from_secs(2);
    config
}

#[test]
fn every_catalogue_metric_is_scraped_with_its_labels() {
    let _serial = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let entries = selected(&["sleep_2ms", "fast/sum_bytes", "fast/sum_n", "fails"]);

    // A first run gives the baseline (made twice as fast), the second is compared with it.
    let first = Suite::new(config()).run(&entries, &mut Silent).unwrap();
    let suite = Suite::new(config()).with_baseline(faster_baseline(&first, 2.0));
    let telemetry = Telemetry::start(suite.config()).unwrap();
    let addr = telemetry
        .prometheus_addr()
        .expect("prometheus exporter is on");
    let run = suite.run_in(&telemetry, &entries, &mut Silent);
    assert_eq!(application_call(3), 93);
    // Let the resource sampler take a reading after the last benchmark.
    std::thread::sleep(Duration::from_millis(250));
    let text = scrape(addr);
    let series = parse(&text);
    telemetry.shutdown().unwrap();

    // The 2 ms sleep: p50 within [2.0, 2.6] ms, in the results and on /metrics.
    let sleep = run.get("sleep_2ms").unwrap();
    let p50_ms = sleep.stats.p50 / 1e6;
    assert!((2.0..=2.6).contains(&p50_ms), "sleep_2ms p50 = {p50_ms} ms");
    let scraped = find(
        &series,
        "benchmark_percentile_ms",
        &[("benchmark_name", "sleep_2ms"), ("percentile", "p50")],
    );
    assert_eq!(scraped.len(), 1, "{text}");
    assert!((scraped[0].value - p50_ms).abs() < 1e-9);

    // The failing benchmark is reported, the others still ran.
    assert_eq!(run.failures.len(), 1);
    assert!(run.failures[0].error.contains("deliberate failure"));
    assert_eq!(
        find(
            &series,
            "benchmark_runs_total",
            &[("benchmark_name", "fails"), ("status", "failed")]
        )
        .len(),
        1
    );

    // Every catalogue metric, with (at least) its catalogue labels.
    // Instruction counts need a run under Callgrind (tests/instructions.rs).
    for spec in CATALOGUE.iter().filter(|s| s.needs().is_none()) {
        let names: Vec<String> = if spec.kind == "histogram" {
            ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{}{s}", spec.name))
                .collect()
        } else {
            vec![spec.name.to_owned()]
        };
        for name in names {
            let found: Vec<_> = series.iter().filter(|s| s.name == name).collect();
            assert!(!found.is_empty(), "{name} missing from /metrics:\n{text}");
            for s in &found {
                for label in spec.labels {
                    assert!(
                        s.labels.contains_key(*label),
                        "{name} lacks label {label}: {s:?}"
                    );
                }
                assert!(
                    !s.labels.contains_key("iteration"),
                    "{name} has an iteration label"
                );
            }
        }
    }
    assert!(
        CATALOGUE.len() >= 15,
        "the spec asks for 15 or more metrics"
    );

    // Figures that follow from the run.
    let count = find(
        &series,
        "benchmark_execution_time_ms_count",
        &[("benchmark_name", "sleep_2ms"), ("environment", "dev")],
    );
    assert_eq!(count[0].value, sleep.samples_ns.len() as f64);
    let app = find(
        &series,
        "benchmark_execution_time_ms_count",
        &[("benchmark_name", "application_call")],
    );
    assert_eq!(
        app.len(),
        1,
        "application mode records into the same histogram"
    );
    assert!(app[0].value >= 1.0);
    let speedup = find(
        &series,
        "speedup_ratio",
        &[
            ("benchmark_name", "sleep_2ms"),
            ("percentile", "p50"),
            ("baseline_version", "base123"),
        ],
    );
    // The baseline is the first run made twice as fast, so the ratio is half
    // of first/second: exact, whatever the two runs' drift between them.
    let first_p50 = first.get("sleep_2ms").unwrap().stats.p50;
    let expected = first_p50 / 2.0 / sleep.stats.p50;
    assert!(
        (speedup[0].value - expected).abs() < 1e-9,
        "{:?}, expected {expected}",
        speedup[0]
    );
    let regressions = find(
        &series,
        "performance_regression_detected_total",
        &[
            ("benchmark_name", "sleep_2ms"),
            ("severity", "critical"),
            ("commit_hash", "c0ffee"),
        ],
    );
    assert_eq!(regressions[0].value, 1.0);
    let status = find(&series, "ci_pipeline_status", &[("branch", "main")]);
    assert_eq!(
        status[0].value, 0.0,
        "a failure and critical regressions fail the pipeline"
    );
    let throughput = find(
        &series,
        "benchmark_throughput_per_second",
        &[
            ("benchmark_name", "fast/sum_bytes"),
            ("unit", "bytes"),
            ("variant", "std"),
        ],
    );
    assert!(throughput[0].value > 1e6, "{:?}", throughput[0]);
    let peak = find(&series, "memory_usage_mb", &[("phase", "peak")]);
    assert!(
        peak[0].value > 1.0 && peak[0].value < 1000.0,
        "{:?}",
        peak[0]
    );
    assert!(find(&series, "memory_usage_mb", &[("phase", "measure")]).len() == 1);
    assert!(
        !find(
            &series,
            "cpu_utilization_percent",
            &[("core", "0"), ("process", "system")]
        )
        .is_empty()
    );
    assert_eq!(
        find(&series, "benchmark_suite_duration_seconds_count", &[])[0].value,
        1.0
    );
}

/// Signals when the suite's last benchmark is done.
struct LastDone(usize, mpsc::Sender<Option<SocketAddr>>, Option<SocketAddr>);

impl Reporter for LastDone {
    fn suite_started(&mut self, _: &[String], endpoints: &Endpoints) {
        self.2 = endpoints.metrics;
    }
    fn bench_finished(&mut self, _: &BenchResult) {
        self.0 -= 1;
        if self.0 == 0 {
            let _ = self.1.send(self.2);
        }
    }
}

#[test]
fn the_endpoint_keeps_serving_for_the_linger_time() {
    let _serial = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = config();
    config.prometheus.linger = Duration::from_secs(2);
    let entries = selected(&["fast/sum_bytes"]);
    let (tx, rx) = mpsc::channel();
    let suite = std::thread::spawn(move || {
        Suite::new(config)
            .run(&entries, &mut LastDone(1, tx, None))
            .unwrap()
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let series = parse(&scrape(addr));
    // The suite-end figures are recorded after the last benchmark: seen only thanks to the linger.
    assert_eq!(
        find(&series, "benchmark_suite_duration_seconds_count", &[])[0].value,
        1.0
    );
    assert_eq!(find(&series, "ci_pipeline_status", &[])[0].value, 1.0);
    let run = suite.join().unwrap();
    assert!(run.failures.is_empty());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the endpoint stops after the linger"
    );
}

#[test]
fn a_request_naming_another_host_is_refused_on_loopback() {
    use std::io::{Read, Write};
    let mut config = config();
    config.prometheus.addr = "127.0.0.1:0".parse().unwrap();
    let telemetry = Telemetry::start(&config).unwrap();
    let addr = telemetry.prometheus_addr().unwrap();
    let status = |host: &str| {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.lines().next().unwrap_or_default().to_owned()
    };
    // A page whose name was rebound to 127.0.0.1 (DNS rebinding).
    assert!(status("evil.example:9464").contains(" 403 "));
    // Loopback names at any port (an SSH tunnel's own port included).
    for host in [
        &addr.to_string(),
        "localhost:19464",
        "[::1]:9464",
        "127.0.0.1",
    ] {
        assert!(status(host).contains(" 200 "), "{host}");
    }
    telemetry.shutdown().unwrap();
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config();
    config.prometheus.addr = taken.local_addr().unwrap();
    let err = Telemetry::start(&config).unwrap_err();
    assert!(matches!(err, Error::AddrInUse { .. }), "{err:?}");
    let text = err.to_string();
    let port = config.prometheus.addr.port().to_string();
    assert!(
        text.contains(&port) && text.contains("--prometheus-addr"),
        "{text}"
    );
}

#[test]
fn a_suite_larger_than_the_sdk_default_limit_keeps_every_series() {
    // The OpenTelemetry SDK keeps 2 000 series per metric unless told
    // otherwise; 2 500 benchmarks must all be on /metrics, none folded into
    // the overflow series.
    let _serial = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = config();
    let telemetry = Telemetry::start(&config).unwrap();
    // Recorded as a suite records: into the instruments of the global
    // meter provider the pipeline installed.
    let instruments = Instruments::new(
        &opentelemetry::global::meter("benchscope"),
        &config.histogram_buckets_ms,
    );
    for i in 0..2_500 {
        let result =
            BenchResult::from_samples(format!("many/bench_{i:04}"), vec![1.0e3, 1.1e3, 1.2e3])
                .unwrap();
        instruments.record_bench(&result, "dev", "c0ffee");
    }
    // Some 9 MB of text: past the HTTP client's default body limit.
    let body = ureq::get(format!(
        "http://{}/metrics",
        telemetry.prometheus_addr().unwrap()
    ))
    .call()
    .unwrap()
    .body_mut()
    .with_config()
    .limit(100 << 20)
    .read_to_string()
    .unwrap();
    let series = parse(&body);
    let means: Vec<_> = series
        .iter()
        .filter(|s| s.name == "benchmark_mean_ms")
        .collect();
    assert_eq!(means.len(), 2_500);
    assert!(
        series
            .iter()
            .all(|s| !s.labels.contains_key("otel_metric_overflow")),
        "series folded into the overflow series"
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn a_half_open_request_does_not_hold_the_process() {
    let d = common::monitoring::scratch_dir("hard-halfopen");
    let (metrics, live) = (common::free_addr(), common::free_addr());
    let mut child = common::quick_parse_u64()
        .args([
            "--exporters",
            "prometheus,live",
            "--prometheus-addr",
            &metrics.to_string(),
            "--live-addr",
            &live.to_string(),
            "--history",
            d.join("h.db").to_str().unwrap(),
            "--output",
            "json",
            d.join("out.json").to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Both servers get a request that never ends.
    let mut half_open = Vec::new();
    for addr in [metrics, live] {
        let start = Instant::now();
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) if start.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("{addr} never listened: {e}"),
            }
        };
        let mut stream = stream;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        half_open.push(stream);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the process stayed alive with a half-open request"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    // The quick suite of one benchmark takes about a second; the servers
    // give a stalled request at most 5 s and stop within 2 s.
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}: {stderr}",
        start.elapsed()
    );
    assert!(
        d.join("out.json").is_file() && d.join("h.db").is_file(),
        "{stderr}"
    );
    drop(half_open);
}

#[test]
fn metrics_beyond_loopback_come_with_a_warning() {
    let out = common::quick_parse_u64()
        .args([
            "--exporters",
            "prometheus",
            "--prometheus-addr",
            "0.0.0.0:0",
            "--no-history",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out)
            .contains("warning: --prometheus-addr = 0.0.0.0:0 serves /metrics beyond loopback"),
        "{}",
        common::output_text(&out)
    );
}

#[test]
fn a_scraper_sees_the_last_benchmark_without_serve_after() {
    // A scraper every 2 s for the whole run (the criterion user's probe
    // scraped every 3 s): its last scrape before the process ends holds
    // every benchmark.
    let addr = common::free_addr();
    let dir = common::monitoring::scratch_dir("final-scrape");
    let results = dir.join("r.json");
    let mut child = common::quickstart_command()
        .args(["--quick", "--no-history", "--exporters", "prometheus"])
        .args(["--prometheus-addr", &addr.to_string(), "--output", "json"])
        .arg(&results)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = String::new();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run did not end"
        );
        let scraped = ureq::get(format!("http://{addr}/metrics"))
            .call()
            .ok()
            .and_then(|mut answer| answer.body_mut().read_to_string().ok());
        // Until the endpoint is up, try again soon; then every 2 s, waking
        // early when the process ends.
        let wait = match scraped {
            Some(body) => {
                last = body;
                20
            }
            None => 1,
        };
        for _ in 0..wait {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(status.success());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let names: Vec<&str> = run["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    let series = parse(&last);
    for name in names {
        assert!(
            !find(&series, "benchmark_mean_ms", &[("benchmark_name", name)]).is_empty(),
            "{name} never reached the scraper"
        );
    }
    // The run's own closing figures came after the last benchmark: seen too.
    assert_eq!(
        find(&series, "benchmark_suite_duration_seconds_count", &[])[0].value,
        1.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
