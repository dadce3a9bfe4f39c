//! The Prometheus pull exporter: on every scrape the SDK's metrics are
//! collected through a manual reader and written straight into the text
//! exposition format (version 0.0.4), served at `/metrics` by a small HTTP
//! server on its own thread.
//!
//! Names are kept exactly as the instruments name them (no unit or `_total`
//! suffix added, no scope labels) so the same metric has the same name when
//! it travels by OTLP instead. The resource's attributes are the labels of
//! `target_info`, as the OpenTelemetry-to-Prometheus mapping has it.
//!
//! benchscope writes the format itself rather than going through
//! `opentelemetry-prometheus` and the `prometheus` crate's encoder: that
//! route builds a second in-memory model of every metric per scrape and took
//! twice as long as the `prometheus` crate alone (benches/peers.rs, part 4).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use super::http::{self, HttpServer, Reply, Request, Response};
use crate::error::Error;

/// The content type of the text exposition format.
pub(crate) const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric reader behind `/metrics`: give one clone to the meter
/// provider and keep another to [`PrometheusReader::render`] on a scrape.
#[derive(Debug, Clone)]
pub struct PrometheusReader {
    reader: Arc<ManualReader>,
}

impl Default for PrometheusReader {
    fn default() -> Self {
        PrometheusReader::new()
    }
}

impl PrometheusReader {
    /// A reader with cumulative temporality, the only one Prometheus reads.
    pub fn new() -> PrometheusReader {
        PrometheusReader {
            reader: Arc::new(
                ManualReader::builder()
                    .with_temporality(Temporality::Cumulative)
                    .build(),
            ),
        }
    }

    /// Collects every metric now and writes them in the text format.
    pub fn render(&self) -> Result<String, Error> {
        let mut metrics = ResourceMetrics::default();
        self.reader
            .collect(&mut metrics)
            .map_err(|e| Error::Telemetry(format!("cannot collect metrics: {e}")))?;
        let mut out = String::with_capacity(64 * 1024);
        encode(&metrics, &mut out);
        Ok(out)
    }
}

impl MetricReader for PrometheusReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.reader.register_pipeline(pipeline)
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.reader.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.reader.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.reader.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Cumulative
    }
}

/// Writes `metrics` in the text exposition format: families sorted by
/// name, each with its HELP and TYPE lines, series sorted by labels.
pub(crate) fn encode(metrics: &ResourceMetrics, out: &mut String) {
    let mut families: Vec<(Cow<'_, str>, &Metric)> = metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|m| (sanitize(m.name()), m))
        .collect();
    families.sort_by(|a, b| a.0.cmp(&b.0));
    let mut target_info_written = false;
    let mut previous: Option<&str> = None;
    for (name, metric) in &families {
        if !target_info_written && name.as_ref() > "target_info" {
            target_info(metrics, out);
            target_info_written = true;
        }
        // Two scopes may record the same name: one HELP and TYPE for both.
        let header = previous != Some(name.as_ref());
        previous = Some(name.as_ref());
        match metric.data() {
            AggregatedMetrics::F64(data) => family(out, name, metric, data, header),
            AggregatedMetrics::U64(data) => family(out, name, metric, data, header),
            AggregatedMetrics::I64(data) => family(out, name, metric, data, header),
        }
    }
    if !target_info_written {
        target_info(metrics, out);
    }
}

/// A number in the text format's notation.
trait Sample: Copy {
    fn write(self, out: &mut String);
}

impl Sample for f64 {
    fn write(self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

impl Sample for u64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Sample for i64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn family<T: Sample>(
    out: &mut String,
    name: &str,
    metric: &Metric,
    data: &MetricData<T>,
    with_header: bool,
) {
    let kind = match data {
        MetricData::Gauge(_) => "gauge",
        MetricData::Sum(s) if s.is_monotonic() => "counter",
        MetricData::Sum(_) => "gauge",
        MetricData::Histogram(_) => "histogram",
        // benchscope configures no exponential histogram; Prometheus's text
        // format has no place for one.
        MetricData::ExponentialHistogram(_) => return,
    };
    if with_header {
        header(out, name, metric.description(), kind);
    }
    match data {
        MetricData::Gauge(g) => {
            let points = g
                .data_points()
                .map(|p| (label_body(p.attributes()), p.value()));
            values(out, name, points);
        }
        MetricData::Sum(s) => {
            let points = s
                .data_points()
                .map(|p| (label_body(p.attributes()), p.value()));
            values(out, name, points);
        }
        MetricData::Histogram(h) => {
            let mut points: Vec<_> = h
                .data_points()
                .map(|p| (label_body(p.attributes()), p))
                .collect();
            points.sort_by(|a, b| a.0.cmp(&b.0));
            let mut le = String::new();
            for (labels, p) in points {
                let mut cumulative = 0u64;
                let mut counts = p.bucket_counts();
                for bound in p.bounds() {
                    cumulative += counts.next().unwrap_or(0);
                    le.clear();
                    bound.write(&mut le);
                    line(out, name, "_bucket", &labels, Some(&le), cumulative);
                }
                line(out, name, "_bucket", &labels, Some("+Inf"), p.count());
                line(out, name, "_sum", &labels, None, p.sum());
                line(out, name, "_count", &labels, None, p.count());
            }
        }
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// One line per point of a gauge or a sum, sorted by labels.
fn values<T: Sample>(out: &mut String, name: &str, points: impl Iterator<Item = (String, T)>) {
    let mut points: Vec<(String, T)> = points.collect();
    points.sort_by(|a, b| a.0.cmp(&b.0));
    for (labels, value) in points {
        line(out, name, "", &labels, None, value);
    }
}

/// `name{labels,le="..."} value`, the braces left out when there is no label.
fn line<T: Sample>(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    le: Option<&str>,
    value: T,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    value.write(out);
    out.push('\n');
}

/// `key="value",...` with keys sanitized and in order, values escaped.
fn label_body<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut sorted: Vec<(Cow<'_, str>, &Value)> = attributes
        .map(|kv| (sanitize(kv.key.as_str()), &kv.value))
        .collect();
    // The SDK keeps attributes sorted by key; sanitizing may reorder them.
    if !sorted.is_sorted_by(|a, b| a.0 <= b.0) {
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut out = String::new();
    for (key, value) in &sorted {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        escape_value(&mut out, value);
        out.push('"');
    }
    out
}

fn escape_value(out: &mut String, value: &Value) {
    let text = value.as_str();
    if !text.contains(['\\', '"', '\n']) {
        out.push_str(&text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A metric or label name with every character Prometheus does not allow
/// replaced by `_` (dots in resource attribute names, mostly); borrowed when
/// it is already valid, as benchscope's own names are.
fn sanitize(name: &str) -> Cow<'_, str> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let starts_well = name.starts_with(|c: char| !c.is_ascii_digit()) && !name.is_empty();
    if starts_well && name.chars().all(valid_char) {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .map(|c| if valid_char(c) { c } else { '_' })
        .collect();
    if !starts_well {
        out.insert(0, '_');
    }
    Cow::Owned(out)
}

fn target_info(metrics: &ResourceMetrics, out: &mut String) {
    let resource = metrics.resource();
    if resource.is_empty() {
        return;
    }
    header(out, "target_info", "Target metadata", "gauge");
    let attributes: Vec<KeyValue> = resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    line(
        out,
        "target_info",
        "",
        &label_body(attributes.iter()),
        None,
        1u64,
    );
}

/// The HTTP endpoint serving `/metrics`; stops when dropped.
#[derive(Debug)]
pub(crate) struct PrometheusEndpoint {
    server: HttpServer,
}

impl PrometheusEndpoint {
    /// Binds `addr` and serves what `reader` collects at `/metrics`, on
    /// threads of its own.
    ///
    /// An address already in use is [`Error::AddrInUse`], which names the
    /// port and the options to change it.
    pub(crate) fn start(
        addr: SocketAddr,
        reader: PrometheusReader,
    ) -> Result<PrometheusEndpoint, Error> {
        let listener = http::bind(
            addr,
            "Prometheus metrics",
            "--prometheus-addr or BENCHSCOPE_PROMETHEUS_ADDR, or turn the exporter off with --exporters none",
        )?;
        let handler = Arc::new(move |req: &Request| Reply::Respond(respond(&reader, req)));
        let server = HttpServer::start(listener, "benchscope-prometheus", handler)?;
        Ok(PrometheusEndpoint { server })
    }

    /// The address actually bound (useful with port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn respond(reader: &PrometheusReader, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => match reader.render() {
            Ok(body) => Response::new(200, TEXT_FORMAT, body),
            Err(e) => Response::text(500, format!("{e}\n")),
        },
        "/" => Response::text(200, "benchscope: metrics are at /metrics\n"),
        _ => Response::text(404, "not found: metrics are at /metrics\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    fn rendered(record: impl FnOnce(&opentelemetry::metrics::Meter)) -> String {
        let reader = PrometheusReader::new();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .with_resource(
                Resource::builder_empty()
                    .with_attribute(KeyValue::new("service.name", "svc"))
                    .build(),
            )
            .build();
        record(&provider.meter("test"));
        let text = reader.render().unwrap();
        let _ = provider.shutdown();
        text
    }

    #[test]
    fn gauges_counters_and_histograms_in_the_text_format() {
        let text = rendered(|meter| {
            let g = meter.f64_gauge("mean_ms").with_description("Mean.").build();
            g.record(1.5, &[KeyValue::new("benchmark_name", "b")]);
            g.record(0.25, &[KeyValue::new("benchmark_name", "a")]);
            let c = meter
                .u64_counter("runs_total")
                .with_description("Runs.")
                .build();
            c.add(3, &[]);
            let h = meter
                .f64_histogram("time_ms")
                .with_description("Time.")
                .with_boundaries(vec![1.0, 10.0])
                .build();
            for v in [0.5, 5.0, 50.0] {
                h.record(v, &[KeyValue::new("benchmark_name", "a")]);
            }
        });
        let expected = "\
# HELP mean_ms Mean.
# TYPE mean_ms gauge
mean_ms{benchmark_name=\"a\"} 0.25
mean_ms{benchmark_name=\"b\"} 1.5
# HELP runs_total Runs.
# TYPE runs_total counter
runs_total 3
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name=\"svc\"} 1
# HELP time_ms Time.
# TYPE time_ms histogram
time_ms_bucket{benchmark_name=\"a\",le=\"1\"} 1
time_ms_bucket{benchmark_name=\"a\",le=\"10\"} 2
time_ms_bucket{benchmark_name=\"a\",le=\"+Inf\"} 3
time_ms_sum{benchmark_name=\"a\"} 55.5
time_ms_count{benchmark_name=\"a\"} 3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn label_values_and_help_are_escaped_and_names_sanitized() {
        let text = rendered(|meter| {
            let g = meter
                .f64_gauge("odd.name")
                .with_description("a \\ b\nc")
                .build();
            g.record(2.0, &[KeyValue::new("weird.key", "q\"uote\\back\nline")]);
        });
        assert!(text.contains("# HELP odd_name a \\\\ b\\nc\n"), "{text}");
        assert!(
            text.contains("odd_name{weird_key=\"q\\\"uote\\\\back\\nline\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn special_floats_are_written_as_prometheus_reads_them() {
        let text = |v: f64| {
            let mut s = String::new();
            v.write(&mut s);
            s
        };
        assert_eq!(text(f64::INFINITY), "+Inf");
        assert_eq!(text(f64::NEG_INFINITY), "-Inf");
        assert_eq!(text(f64::NAN), "NaN");
        assert_eq!(text(0.000001), "0.000001");
        assert_eq!(text(1e21), "1000000000000000000000");
    }
}
