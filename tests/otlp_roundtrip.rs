//! OTLP end to end against real receivers on loopback: a receiver built on
//! the official protobuf definitions checks metrics and spans field by field
//! over gRPC; an HTTP/protobuf receiver checks that a 200 ms suite loses
//! nothing; and refused, black-holed and failing (503) endpoints leave the
//! suite complete, with one warning per exporter and a bounded delay.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use benchscope::Telemetry;
use benchscope::config::{Config, ExporterKind, OtlpConfig, OtlpProtocol, TraceExporterKind};
use benchscope::metrics::CATALOGUE;
use benchscope::{Bencher, monitored_bench};
use benchscope::{Reporter, Silent, Suite};
use common::otlp::{Answer, GrpcReceiver, HttpReceiver, blackhole, points, refusing_addr};
use common::{faster_baseline, parse, scrape, tiny_measurement};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

#[monitored_bench]
fn spin() -> u64 {
    (0..200u64).map(std::hint::black_box).sum()
}

#[monitored_bench(throughput = elements(64), labels(variant = "vec"))]
fn collect_64(b: &mut Bencher) {
    b.iter(|| (0..64u32).collect::<Vec<_>>());
}

/// Cases of four sizes: a complexity class to export.
#[monitored_bench(args = [16, 64, 256, 1024])]
fn sum_n(b: &mut Bencher, n: u64) {
    b.iter(|| (0..std::hint::black_box(n)).sum::<u64>());
}

/// Allocations per iteration, for the allocation metrics.
#[global_allocator]
static ALLOC: benchscope::CountingAlloc = benchscope::CountingAlloc::system();

fn entries() -> Vec<&'static benchscope::Benchmark> {
    benchscope::benchmarks().unwrap()
}

fn config(
    exporters: Vec<ExporterKind>,
    traces: Vec<TraceExporterKind>,
    otlp: OtlpConfig,
) -> Config {
    let mut config = Config::default();
    config.exporters = exporters;
    config.traces = traces;
    config.otlp = otlp;
    config.environment = "ci".into();
    config.service_name = "otlp-roundtrip".into();
    config.resource_attributes = BTreeMap::from([("team".to_string(), "perf".to_string())]);
    config.commit = "c0ffee".into();
    config.branch = "main".into();
    config.collection_interval = Duration::from_millis(200);
    config.prometheus.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.measurement = tiny_measurement();
    config
}

/// OTLP settings with `endpoint`, the protocol and the timeout.
fn otlp(endpoint: String, protocol: OtlpProtocol, timeout: Duration) -> OtlpConfig {
    let mut otlp = OtlpConfig::default();
    otlp.endpoint = endpoint;
    otlp.protocol = protocol;
    otlp.timeout = timeout;
    otlp
}

fn string_attrs(
    kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    kvs.iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some((kv.key.clone(), s.clone())),
            Value::IntValue(i) => Some((kv.key.clone(), i.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn grpc_metrics_and_spans_match_field_by_field() {
    let receiver = GrpcReceiver::start();
    let otlp = otlp(
        receiver.endpoint(),
        OtlpProtocol::Grpc,
        Duration::from_secs(5),
    );
    let config = config(
        vec![ExporterKind::Prometheus, ExporterKind::Otlp],
        vec![TraceExporterKind::Otlp],
        otlp,
    );
    let first = Suite::new(config.clone())
        .run(&entries(), &mut Silent)
        .unwrap();
    let suite = Suite::new(config).with_baseline(faster_baseline(&first, 10.0));
    let telemetry = Telemetry::start(suite.config()).unwrap();
    let run = suite.run_in(&telemetry, &entries(), &mut Silent);
    let scraped = parse(&scrape(telemetry.prometheus_addr().unwrap()));
    let statuses = telemetry.shutdown().unwrap();
    assert!(statuses.iter().all(|s| s.failed == 0), "{statuses:?}");

    // Resource.
    let requests = receiver.received.metric_requests();
    assert!(!requests.is_empty());
    let resource = string_attrs(
        &requests[0].resource_metrics[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes,
    );
    assert_eq!(resource["service.name"], "otlp-roundtrip");
    assert_eq!(resource["deployment.environment"], "ci");
    assert_eq!(resource["vcs.ref.head.revision"], "c0ffee");
    assert_eq!(resource["vcs.ref.head.name"], "main");
    assert_eq!(resource["process.pid"], std::process::id().to_string());
    assert_eq!(resource["team"], "perf");
    assert!(resource.contains_key("host.name") && resource.contains_key("os.type"));

    // Every catalogue metric: kind, temporality, unit, description, and the
    // same points (labels and values) as the Prometheus scrape.
    let received = receiver.received.latest_metrics();
    // Instruction counts need a run under Callgrind (tests/instructions.rs).
    for spec in CATALOGUE.iter().filter(|s| s.needs().is_none()) {
        let metric = received
            .get(spec.name)
            .unwrap_or_else(|| panic!("{} not received over OTLP", spec.name));
        assert_eq!(metric.unit, spec.unit, "unit of {}", spec.name);
        assert_eq!(
            metric.description, spec.description,
            "description of {}",
            spec.name
        );
        let prom_name = match (&metric.data, spec.kind) {
            (Some(Data::Histogram(h)), "histogram") => {
                assert_eq!(h.aggregation_temporality, 2, "{} is cumulative", spec.name);
                format!("{}_count", spec.name)
            }
            (Some(Data::Sum(s)), "counter") => {
                assert!(
                    s.is_monotonic && s.aggregation_temporality == 2,
                    "{}",
                    spec.name
                );
                spec.name.to_owned()
            }
            (Some(Data::Gauge(_)), "gauge") => spec.name.to_owned(),
            (data, kind) => panic!("{} is a {kind} but arrived as {data:?}", spec.name),
        };
        // Resource readings go on after the scrape (a last one is taken at
        // shutdown): their labels are checked, not their twins on /metrics.
        let resource_reading = matches!(spec.name, "memory_usage_mb" | "cpu_utilization_percent");
        for (labels, value) in points(metric) {
            for label in spec.labels {
                assert!(
                    labels.contains_key(*label),
                    "{} lacks {label}: {labels:?}",
                    spec.name
                );
            }
            if resource_reading {
                continue;
            }
            let twin: Vec<_> = scraped
                .iter()
                .filter(|s| s.name == prom_name && s.labels == labels)
                .collect();
            assert_eq!(twin.len(), 1, "{prom_name}{labels:?} is not on /metrics");
            assert_eq!(twin[0].value, value, "{prom_name}{labels:?}");
        }
    }

    // Spans: one per suite, one per benchmark under it, with the statistics.
    let spans: Vec<_> = receiver
        .received
        .trace_requests()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    let suites: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "benchmark suite")
        .collect();
    assert_eq!(suites.len(), 2, "one per run");
    for result in &run.benchmarks {
        let span = spans
            .iter()
            .rev()
            .find(|s| s.name == result.name)
            .unwrap_or_else(|| panic!("no span for {}", result.name));
        let parent = suites.iter().find(|s| s.span_id == span.parent_span_id);
        assert!(
            parent.is_some(),
            "{}'s span is not under a suite span",
            result.name
        );
        assert_eq!(span.trace_id, parent.unwrap().trace_id);
        let mean = span
            .attributes
            .iter()
            .find(|kv| kv.key == "benchmark.mean_ns")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::DoubleValue(d) => Some(*d),
                _ => None,
            });
        assert_eq!(mean, Some(result.stats.mean), "{}", result.name);
        assert!(span.end_time_unix_nano > span.start_time_unix_nano);
    }
}

#[test]
fn a_200ms_suite_loses_nothing() {
    let receiver = HttpReceiver::start(Answer::Ok);
    let otlp = otlp(
        receiver.endpoint(),
        OtlpProtocol::HttpProtobuf,
        Duration::from_secs(10),
    );
    let mut config = config(vec![ExporterKind::Otlp], vec![], otlp);
    // No periodic export happens in so short a run: everything rides on the final flush.
    config.collection_interval = Duration::from_secs(10);
    let mut quiet = config.clone();
    quiet.exporters.clear();
    let baseline = Suite::new(quiet).run(&entries(), &mut Silent).unwrap();
    let start = Instant::now();
    let run = Suite::new(config)
        .with_baseline(faster_baseline(&baseline, 10.0))
        .run(&entries(), &mut Silent)
        .unwrap();
    let elapsed = start.elapsed();
    assert!(run.duration_s < 0.5, "the suite took {} s", run.duration_s);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let received = receiver.received.latest_metrics();
    // Instruction counts need a run under Callgrind (tests/instructions.rs).
    for spec in CATALOGUE.iter().filter(|s| s.needs().is_none()) {
        assert!(received.contains_key(spec.name), "{} was lost", spec.name);
    }
    for result in &run.benchmarks {
        let histogram = points(&received["benchmark_execution_time_ms"]);
        let count = histogram
            .iter()
            .find(|(labels, _)| labels.get("benchmark_name") == Some(&result.name))
            .map(|(_, count)| *count);
        assert_eq!(
            count,
            Some(result.samples_ns.len() as f64),
            "{}",
            result.name
        );
    }
    assert_eq!(run.exports.len(), 1);
    assert_eq!(run.exports[0].failed, 0);
}

/// Collects the warnings a run reports.
#[derive(Default)]
struct Warnings(Vec<String>);

impl Reporter for Warnings {
    fn warning(&mut self, message: &str) {
        self.0.push(message.to_owned());
    }
}

/// Runs the test suite against a failing endpoint and checks what the issue
/// promises: completion, one warning per exporter, bounded extra time.
fn survives(endpoint: String, case: &str) {
    let timeout = Duration::from_secs(1);
    let otlp = otlp(endpoint, OtlpProtocol::HttpProtobuf, timeout);
    let config = config(
        vec![ExporterKind::Otlp],
        vec![TraceExporterKind::Otlp],
        otlp,
    );
    let mut warnings = Warnings::default();
    let start = Instant::now();
    // The two plain benchmarks: the point is the failing endpoint.
    let run = Suite::new(config)
        .run(&common::selected(&["spin", "collect_64"]), &mut warnings)
        .unwrap();
    let extra = start.elapsed().as_secs_f64() - run.duration_s;

    assert_eq!(run.benchmarks.len(), 2, "{case}: results are intact");
    assert!(run.failures.is_empty(), "{case}");
    assert_eq!(
        warnings.0.len(),
        2,
        "{case}: one warning per exporter: {:?}",
        warnings.0
    );
    assert!(
        warnings
            .0
            .iter()
            .any(|w| w.starts_with("OTLP metrics export to ")),
        "{case}"
    );
    assert!(
        warnings
            .0
            .iter()
            .any(|w| w.starts_with("OTLP traces export to ")),
        "{case}"
    );
    assert!(
        run.exports.iter().all(|s| s.failed >= 1),
        "{case}: {:?}",
        run.exports
    );
    // The final flush waits at most the export timeout (plus a 0.5 s margin
    // the pipeline allows itself); 0.5 s more for a busy machine.
    let bound = timeout.as_secs_f64() + 1.0;
    assert!(
        extra <= bound,
        "{case}: the end of the run was delayed {extra:.2} s (bound {bound} s)"
    );
}

#[test]
fn a_refused_endpoint_costs_one_warning_and_no_results() {
    survives(format!("http://{}", refusing_addr()), "refused");
}

#[test]
fn a_blackhole_endpoint_costs_one_warning_and_at_most_the_timeout() {
    let hole = blackhole();
    survives(format!("http://{}", hole.addr), "blackhole");
}

#[test]
fn a_503_endpoint_costs_one_warning_and_no_results() {
    let receiver = HttpReceiver::start(Answer::Unavailable);
    survives(receiver.endpoint(), "503");
    assert!(receiver.requests.load(std::sync::atomic::Ordering::Relaxed) >= 2);
}
