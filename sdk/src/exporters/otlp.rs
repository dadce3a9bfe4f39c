//! The OTLP exporters, over gRPC (tonic) or HTTP/protobuf, with the
//! endpoint, headers, timeout, compression and temporality of the
//! configuration. Every value is passed to the builders explicitly, so the
//! configuration (not the exporter's own reading of the environment) decides.
//!
//! The gRPC client needs a Tokio runtime: the pipeline builds the gRPC
//! exporters inside [`grpc_runtime`]'s context and keeps it alive.

use std::collections::HashMap;

use opentelemetry_otlp::{
    MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

use crate::config::{Compression, OtlpConfig, OtlpProtocol, Signal};
use crate::error::Error;

/// A runtime for the gRPC client: one worker thread.
pub fn grpc_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("benchscope-otlp")
        .enable_all()
        .build()
        .map_err(|e| Error::Telemetry(format!("cannot start the gRPC runtime: {e}")))
}

fn compression(c: Compression) -> Option<opentelemetry_otlp::Compression> {
    match c {
        Compression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::None => None,
    }
}

fn metadata(config: &OtlpConfig) -> Result<MetadataMap, Error> {
    let mut map = MetadataMap::with_capacity(config.headers.len());
    for (key, value) in &config.headers {
        let bad = || Error::Config {
            key: "otlp.headers".into(),
            value: format!("{key}=…"),
            reason: "gRPC metadata keys are lowercase ASCII and values printable ASCII".into(),
        };
        let k = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
        let v = MetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
        map.insert(k, v);
    }
    Ok(map)
}

fn build_error(signal: &str, e: impl std::fmt::Display) -> Error {
    Error::Telemetry(format!("cannot build the OTLP {signal} exporter: {e}"))
}

/// Finishes an exporter builder for the configured transport: the two
/// transports' builders are different types with the same settings.
macro_rules! finish {
    ($builder:expr, $config:expr, $endpoint:expr, $signal:literal) => {
        match $config.protocol {
            OtlpProtocol::Grpc => {
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint($endpoint)
                    .with_timeout($config.timeout)
                    .with_metadata(metadata($config)?);
                if let Some(c) = compression($config.compression) {
                    b = b.with_compression(c);
                }
                b.build().map_err(|e| build_error($signal, e))
            }
            OtlpProtocol::HttpProtobuf => {
                let mut b = $builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint($endpoint)
                    .with_timeout($config.timeout)
                    .with_headers(headers($config));
                if let Some(c) = compression($config.compression) {
                    b = b.with_compression(c);
                }
                b.build().map_err(|e| build_error($signal, e))
            }
        }
    };
}

/// The metric exporter. With gRPC, call inside the runtime's context.
pub fn metric_exporter(config: &OtlpConfig) -> Result<MetricExporter, Error> {
    finish!(
        MetricExporter::builder().with_temporality(config.temporality.to_sdk()),
        config,
        config.endpoint_for(Signal::Metrics),
        "metrics"
    )
}

/// The span exporter. With gRPC, call inside the runtime's context.
pub fn span_exporter(config: &OtlpConfig) -> Result<SpanExporter, Error> {
    finish!(
        SpanExporter::builder(),
        config,
        config.endpoint_for(Signal::Traces),
        "traces"
    )
}

fn headers(config: &OtlpConfig) -> HashMap<String, String> {
    config
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
