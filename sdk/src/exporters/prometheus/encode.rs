//! The two exposition formats Prometheus scrapes: the text format (0.0.4)
//! and OpenMetrics 1.0, which adds exemplars. Both are written straight
//! from the SDK's collected metrics.
//!
//! Names are kept exactly as the instruments name them (no unit or `_total`
//! suffix added, no scope labels) so the same metric has the same name when
//! it travels by OTLP instead. The resource's attributes are the labels of
//! `target_info`, as the OpenTelemetry-to-Prometheus mapping has it.

use std::borrow::Cow;
use std::fmt::Write as _;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

use super::stamps::Stamps;
use crate::otel::catalogue::EXECUTION_TIME;
use crate::otel::exemplars::{Exemplar, Exemplars, series_key};

/// The content type of the text exposition format.
pub(crate) const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of OpenMetrics 1.0.
pub(crate) const OPENMETRICS_FORMAT: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus's text format 0.0.4: what any scraper reads.
    Text,
    /// OpenMetrics 1.0: the text format with exemplars, counters typed by
    /// their family name, timestamps in seconds and a closing `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The format a scraper's `Accept` header asks for: OpenMetrics when
    /// it names `application/openmetrics-text` without refusing it
    /// (`q=0`), else the text format, which every scraper reads.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let wants_openmetrics = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a reply in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_FORMAT,
            Format::OpenMetrics => OPENMETRICS_FORMAT,
        }
    }
}

/// What a render writes beside the values.
pub(crate) struct Encoding<'a> {
    pub(crate) format: Format,
    /// Each series' time of last change, and now (ms since the epoch); no
    /// timestamps are written without them.
    pub(crate) stamps: Option<(&'a mut Stamps, i64)>,
    /// The execution-time histogram's exemplars (OpenMetrics only).
    pub(crate) exemplars: Option<&'a Exemplars>,
}

impl Encoding<'_> {
    /// No timestamps, no exemplars.
    #[cfg(test)]
    pub(crate) fn plain(format: Format) -> Encoding<'static> {
        Encoding {
            format,
            stamps: None,
            exemplars: None,
        }
    }

    /// The timestamp of the series `name{labels}` at `value`.
    fn stamp(&mut self, key: &mut String, name: &str, labels: &str, value: u64) -> Option<i64> {
        let (stamps, now) = self.stamps.as_mut()?;
        key.clear();
        key.push_str(name);
        key.push('{');
        key.push_str(labels);
        key.push('}');
        Some(stamps.at(key, value, *now))
    }
}

/// Writes `metrics`: families sorted by name, each with its HELP and TYPE
/// lines, series sorted by labels; `# EOF` closes OpenMetrics.
pub(crate) fn encode(metrics: &ResourceMetrics, out: &mut String, enc: &mut Encoding<'_>) {
    if let Some((stamps, _)) = enc.stamps.as_mut() {
        stamps.begin();
    }
    let mut families: Vec<(Cow<'_, str>, &Metric)> = metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|m| (sanitize(m.name()), m))
        .collect();
    families.sort_by(|a, b| a.0.cmp(&b.0));
    let mut target_info_written = false;
    let mut previous: Option<&str> = None;
    let mut key = String::new();
    for (name, metric) in &families {
        if !target_info_written && name.as_ref() > "target_info" {
            target_info(metrics, out, enc, &mut key);
            target_info_written = true;
        }
        // Two scopes may record the same name: one HELP and TYPE for both.
        let header = previous != Some(name.as_ref());
        previous = Some(name.as_ref());
        let mut family = Family {
            out,
            enc,
            key: &mut key,
            name,
            metric,
        };
        match metric.data() {
            AggregatedMetrics::F64(data) => family.write(data, header),
            AggregatedMetrics::U64(data) => family.write(data, header),
            AggregatedMetrics::I64(data) => family.write(data, header),
        }
    }
    if !target_info_written {
        target_info(metrics, out, enc, &mut key);
    }
    if enc.format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    if let Some((stamps, _)) = enc.stamps.as_mut() {
        stamps.end();
    }
}

/// A number in the formats' notation.
trait Sample: Copy {
    fn write(self, out: &mut String);
    /// The value's identity, to tell a change.
    fn bits(self) -> u64;
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

    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Sample for u64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }

    fn bits(self) -> u64 {
        self
    }
}

impl Sample for i64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }

    fn bits(self) -> u64 {
        self as u64
    }
}

/// One metric family being written.
struct Family<'e, 'a, 'm> {
    out: &'e mut String,
    enc: &'e mut Encoding<'a>,
    key: &'e mut String,
    name: &'e str,
    metric: &'m Metric,
}

impl Family<'_, '_, '_> {
    fn write<T: Sample>(&mut self, data: &MetricData<T>, with_header: bool) {
        let openmetrics = self.enc.format == Format::OpenMetrics;
        let (kind, family_name) = match data {
            MetricData::Gauge(_) => ("gauge", self.name),
            MetricData::Sum(s) if s.is_monotonic() => {
                if !openmetrics {
                    ("counter", self.name)
                } else if let Some(base) = self.name.strip_suffix("_total") {
                    // OpenMetrics names a counter's family without the
                    // suffix its samples carry.
                    ("counter", base)
                } else {
                    // A counter whose name lacks `_total` would be renamed
                    // by an OpenMetrics reader; as `unknown` it keeps it.
                    ("unknown", self.name)
                }
            }
            MetricData::Sum(_) => ("gauge", self.name),
            MetricData::Histogram(_) => ("histogram", self.name),
            // benchscope configures no exponential histogram; neither text
            // format has a place for one.
            MetricData::ExponentialHistogram(_) => return,
        };
        if with_header {
            header(
                self.out,
                self.enc.format,
                family_name,
                self.metric.description(),
                kind,
            );
        }
        match data {
            MetricData::Gauge(g) => {
                let points = g
                    .data_points()
                    .map(|p| (label_body(p.attributes()), p.value()));
                self.values(points);
            }
            MetricData::Sum(s) => {
                let points = s
                    .data_points()
                    .map(|p| (label_body(p.attributes()), p.value()));
                self.values(points);
            }
            MetricData::Histogram(h) => {
                let mut points: Vec<_> = h
                    .data_points()
                    .map(|p| (label_body(p.attributes()), p))
                    .collect();
                points.sort_by(|a, b| a.0.cmp(&b.0));
                let with_exemplars = openmetrics && self.name == EXECUTION_TIME.name;
                let mut le = String::new();
                for (labels, p) in points {
                    let identity = p
                        .count()
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .rotate_left(17)
                        ^ p.sum().bits();
                    let ts = self.enc.stamp(self.key, self.name, &labels, identity);
                    let exemplars = match self.enc.exemplars {
                        Some(store) if with_exemplars => store.of(&series_key(p.attributes())),
                        _ => None,
                    };
                    let exemplar = |i: usize| exemplars.as_ref().and_then(|e| e.get(i)?.as_ref());
                    let mut cumulative = 0u64;
                    let mut counts = p.bucket_counts();
                    let mut bucket = 0;
                    for bound in p.bounds() {
                        cumulative += counts.next().unwrap_or(0);
                        le.clear();
                        bound.write(&mut le);
                        let line = Line::new("_bucket", &labels, Some(&le), ts);
                        self.line(line.exemplar(exemplar(bucket)), cumulative);
                        bucket += 1;
                    }
                    let line = Line::new("_bucket", &labels, Some("+Inf"), ts);
                    self.line(line.exemplar(exemplar(bucket)), p.count());
                    self.line(Line::new("_sum", &labels, None, ts), p.sum());
                    self.line(Line::new("_count", &labels, None, ts), p.count());
                }
            }
            MetricData::ExponentialHistogram(_) => {}
        }
    }

    /// One line per point of a gauge or a sum, sorted by labels.
    fn values<T: Sample>(&mut self, points: impl Iterator<Item = (String, T)>) {
        let mut points: Vec<(String, T)> = points.collect();
        points.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, value) in points {
            let ts = self.enc.stamp(self.key, self.name, &labels, value.bits());
            self.line(Line::new("", &labels, None, ts), value);
        }
    }

    fn line<T: Sample>(&mut self, line: Line<'_>, value: T) {
        line.write(self.out, self.enc.format, self.name, value);
    }
}

/// A sample line's parts beside its name and value.
struct Line<'a> {
    suffix: &'a str,
    labels: &'a str,
    le: Option<&'a str>,
    ts_ms: Option<i64>,
    exemplar: Option<&'a Exemplar>,
}

impl<'a> Line<'a> {
    fn new(suffix: &'a str, labels: &'a str, le: Option<&'a str>, ts_ms: Option<i64>) -> Self {
        Line {
            suffix,
            labels,
            le,
            ts_ms,
            exemplar: None,
        }
    }

    fn exemplar(self, exemplar: Option<&'a Exemplar>) -> Self {
        Line { exemplar, ..self }
    }

    /// `name{labels,le="..."} value [timestamp] [# {trace} value time]`,
    /// the braces left out when there is no label.
    fn write<T: Sample>(&self, out: &mut String, format: Format, name: &str, value: T) {
        out.push_str(name);
        out.push_str(self.suffix);
        if !self.labels.is_empty() || self.le.is_some() {
            out.push('{');
            out.push_str(self.labels);
            if let Some(le) = self.le {
                if !self.labels.is_empty() {
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
        if let Some(ts) = self.ts_ms {
            out.push(' ');
            timestamp(out, format, ts);
        }
        if let (Format::OpenMetrics, Some(e)) = (format, self.exemplar) {
            out.push_str(" # {");
            if let Some(trace) = &e.trace {
                let _ = write!(
                    out,
                    "trace_id=\"{}\",span_id=\"{}\"",
                    trace.trace_id, trace.span_id
                );
            }
            out.push_str("} ");
            e.value.write(out);
            out.push(' ');
            timestamp(out, Format::OpenMetrics, e.at_ms);
        }
        out.push('\n');
    }
}

/// Milliseconds in the text format; seconds with three decimals in
/// OpenMetrics.
fn timestamp(out: &mut String, format: Format, ms: i64) {
    match format {
        Format::Text => {
            let _ = write!(out, "{ms}");
        }
        Format::OpenMetrics => {
            let sign = if ms < 0 { "-" } else { "" };
            let abs = ms.unsigned_abs();
            let _ = write!(out, "{sign}{}.{:03}", abs / 1000, abs % 1000);
        }
    }
}

fn header(out: &mut String, format: Format, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
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

/// The resource as `target_info` (an OpenMetrics `info` family, `target`).
fn target_info(
    metrics: &ResourceMetrics,
    out: &mut String,
    enc: &mut Encoding<'_>,
    key: &mut String,
) {
    let resource = metrics.resource();
    if resource.is_empty() {
        return;
    }
    match enc.format {
        Format::Text => header(out, enc.format, "target_info", "Target metadata", "gauge"),
        Format::OpenMetrics => header(out, enc.format, "target", "Target metadata", "info"),
    }
    let attributes: Vec<KeyValue> = resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let labels = label_body(attributes.iter());
    let ts = enc.stamp(key, "target_info", &labels, 1);
    Line::new("", &labels, None, ts).write(out, enc.format, "target_info", 1u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::prometheus::PrometheusReader;
    use crate::otel::exemplars::TraceRef;
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    /// What `record` records, collected once and written as `write` says.
    fn rendered(
        record: impl FnOnce(&opentelemetry::metrics::Meter),
        write: impl FnOnce(&ResourceMetrics) -> String,
    ) -> String {
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
        let text = write(&reader.collect_now().unwrap());
        let _ = provider.shutdown();
        text
    }

    fn plain(format: Format) -> impl FnOnce(&ResourceMetrics) -> String {
        move |metrics| {
            let mut out = String::new();
            encode(metrics, &mut out, &mut Encoding::plain(format));
            out
        }
    }

    fn some_of_each(meter: &opentelemetry::metrics::Meter) {
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
    }

    /// The gauge and the histogram of [`some_of_each`], the same in both
    /// formats.
    const MEAN_MS: &str = "\
# HELP mean_ms Mean.
# TYPE mean_ms gauge
mean_ms{benchmark_name=\"a\"} 0.25
mean_ms{benchmark_name=\"b\"} 1.5
";
    const TIME_MS: &str = "\
# HELP time_ms Time.
# TYPE time_ms histogram
time_ms_bucket{benchmark_name=\"a\",le=\"1\"} 1
time_ms_bucket{benchmark_name=\"a\",le=\"10\"} 2
time_ms_bucket{benchmark_name=\"a\",le=\"+Inf\"} 3
time_ms_sum{benchmark_name=\"a\"} 55.5
time_ms_count{benchmark_name=\"a\"} 3
";

    #[test]
    fn gauges_counters_and_histograms_in_the_text_format() {
        let text = rendered(some_of_each, plain(Format::Text));
        let expected = format!(
            "{MEAN_MS}\
# HELP runs_total Runs.
# TYPE runs_total counter
runs_total 3
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{{service_name=\"svc\"}} 1
{TIME_MS}"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn openmetrics_names_counter_families_types_the_target_as_info_and_ends_with_eof() {
        let text = rendered(
            |meter| {
                some_of_each(meter);
                let c = meter.u64_counter("odd_count").build();
                c.add(1, &[]);
            },
            plain(Format::OpenMetrics),
        );
        let expected = format!(
            "{MEAN_MS}\
# HELP odd_count 
# TYPE odd_count unknown
odd_count 1
# HELP runs Runs.
# TYPE runs counter
runs_total 3
# HELP target Target metadata
# TYPE target info
target_info{{service_name=\"svc\"}} 1
{TIME_MS}# EOF
"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn unchanged_series_keep_the_time_of_their_last_change() {
        let mut stamps = Stamps::default();
        let reader = PrometheusReader::new();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .build();
        let meter = provider.meter("test");
        let g = meter.f64_gauge("g").build();
        let h = meter.f64_histogram("h").with_boundaries(vec![1.0]).build();
        g.record(1.0, &[]);
        h.record(0.5, &[]);
        let mut render = |now: i64, format: Format| {
            let mut out = String::new();
            let mut enc = Encoding {
                format,
                stamps: Some((&mut stamps, now)),
                exemplars: None,
            };
            encode(&reader.collect_now().unwrap(), &mut out, &mut enc);
            out
        };
        let first = render(1_000, Format::Text);
        assert!(first.contains("g 1 1000\n"), "{first}");
        assert!(first.contains("h_bucket{le=\"1\"} 1 1000\n"), "{first}");
        // A new series is stamped twice (rate() needs two samples).
        let settled = render(1_500, Format::Text);
        assert!(settled.contains("h_count 1 1500\n"), "{settled}");
        g.record(2.0, &[]);
        let second = render(2_000, Format::Text);
        assert!(second.contains("g 2 2000\n"), "{second}");
        assert!(second.contains("h_count 1 1500\n"), "unchanged: {second}");
        h.record(0.7, &[]);
        let third = render(3_500, Format::OpenMetrics);
        assert!(third.contains("g 2 2.000\n"), "{third}");
        // Every line of a histogram moves together.
        assert!(third.contains("h_bucket{le=\"+Inf\"} 2 3.500\n"), "{third}");
        assert!(third.contains("h_sum 1.2 3.500\n"), "{third}");
        let _ = provider.shutdown();
    }

    #[test]
    fn exemplars_follow_their_buckets_in_openmetrics_only() {
        let exemplars = Exemplars::default();
        let attributes = [KeyValue::new("benchmark_name", "a")];
        let trace = TraceRef {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
        };
        exemplars.offer(
            series_key(attributes.iter()),
            &[1.0, 10.0],
            [0.5, 50.0],
            1_700_000_000_250,
            Some(&trace),
        );
        let write = |format| {
            let exemplars = &exemplars;
            move |metrics: &ResourceMetrics| {
                let mut out = String::new();
                let mut enc = Encoding {
                    format,
                    stamps: None,
                    exemplars: Some(exemplars),
                };
                encode(metrics, &mut out, &mut enc);
                out
            }
        };
        let record = |meter: &opentelemetry::metrics::Meter| {
            let h = meter
                .f64_histogram(EXECUTION_TIME.name)
                .with_boundaries(vec![1.0, 10.0])
                .build();
            h.record(0.5, &attributes);
            h.record(50.0, &attributes);
        };
        let text = rendered(record, write(Format::OpenMetrics));
        assert!(
            text.contains(
                "benchmark_execution_time_ms_bucket{benchmark_name=\"a\",le=\"1\"} 1 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} 0.5 1700000000.250\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("benchmark_execution_time_ms_bucket{benchmark_name=\"a\",le=\"10\"} 1\n"),
            "no exemplar in an empty bucket: {text}"
        );
        assert!(text.contains("le=\"+Inf\"} 2 # {trace_id="), "{text}");
        let plain_text = rendered(record, write(Format::Text));
        assert!(!plain_text.contains("# {"), "{plain_text}");
    }

    #[test]
    fn label_values_and_help_are_escaped_and_names_sanitized() {
        let record = |meter: &opentelemetry::metrics::Meter| {
            let g = meter
                .f64_gauge("odd.name")
                .with_description("a \\ b\nc \"q\"")
                .build();
            g.record(2.0, &[KeyValue::new("weird.key", "q\"uote\\back\nline")]);
        };
        let text = rendered(record, plain(Format::Text));
        assert!(
            text.contains("# HELP odd_name a \\\\ b\\nc \"q\"\n"),
            "{text}"
        );
        assert!(
            text.contains("odd_name{weird_key=\"q\\\"uote\\\\back\\nline\"} 2\n"),
            "{text}"
        );
        let om = rendered(record, plain(Format::OpenMetrics));
        assert!(
            om.contains("# HELP odd_name a \\\\ b\\nc \\\"q\\\"\n"),
            "{om}"
        );
    }

    #[test]
    fn special_floats_and_times_are_written_as_prometheus_reads_them() {
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
        let time = |format, ms| {
            let mut s = String::new();
            timestamp(&mut s, format, ms);
            s
        };
        assert_eq!(time(Format::Text, 1_700_000_000_005), "1700000000005");
        assert_eq!(
            time(Format::OpenMetrics, 1_700_000_000_005),
            "1700000000.005"
        );
    }

    #[test]
    fn the_accept_header_chooses_the_format() {
        let prometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus3)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0, text/plain")),
            Format::Text
        );
    }
}
