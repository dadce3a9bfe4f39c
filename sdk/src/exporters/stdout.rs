//! The stdout exporters: every periodic export of metrics, and every span,
//! printed on standard output by `opentelemetry-stdout`. Useful to see what
//! would be sent, without a backend.

use opentelemetry_sdk::metrics::Temporality;

/// The metric exporter.
pub(crate) fn metric_exporter(temporality: Temporality) -> opentelemetry_stdout::MetricExporter {
    opentelemetry_stdout::MetricExporter::builder()
        .with_temporality(temporality)
        .build()
}

/// The span exporter.
#[cfg(feature = "traces")]
pub(crate) fn span_exporter() -> opentelemetry_stdout::SpanExporter {
    opentelemetry_stdout::SpanExporter::default()
}
