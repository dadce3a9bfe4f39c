//! The OTLP exporters, over HTTP/protobuf (`otlp-http`) or gRPC
//! (`otlp-grpc`), with the endpoint, headers, timeout, compression and
//! temporality of the configuration. Every value is passed to the builders
//! explicitly, so the configuration (not the exporter's own reading of the
//! environment) decides.
//!
//! HTTP goes through [`UreqClient`], a blocking client that the periodic
//! reader's own thread drives: it needs no async runtime, and half the crates
//! of the reqwest client that `opentelemetry-otlp` offers. The gRPC client
//! needs a Tokio runtime: the pipeline builds the gRPC exporters inside
//! [`grpc_runtime`]'s context and keeps it alive.

#[cfg(feature = "traces")]
use opentelemetry_otlp::SpanExporter;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};

use crate::config::{Compression, OtlpConfig, OtlpProtocol, Signal};
use crate::error::Error;

/// A runtime for the gRPC client: one worker thread.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_runtime() -> Result<tokio::runtime::Runtime, Error> {
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

fn build_error(signal: &str, e: impl std::fmt::Display) -> Error {
    Error::Telemetry(format!("cannot build the OTLP {signal} exporter: {e}"))
}

/// The transport's feature, when it is not compiled in (the configuration's
/// check stops such a run first; this keeps the builders honest).
#[allow(dead_code)]
fn not_compiled(protocol: OtlpProtocol) -> Error {
    let (what, feature) = match protocol {
        OtlpProtocol::Grpc => ("OTLP over gRPC", "otlp-grpc"),
        OtlpProtocol::HttpProtobuf => ("OTLP over HTTP", "otlp-http"),
    };
    Error::FeatureMissing {
        what: what.into(),
        key: "otlp.protocol".into(),
        feature,
    }
}

/// Finishes an exporter builder for the configured transport: the two
/// transports' builders are different types with the same settings.
macro_rules! finish {
    ($builder:expr, $config:expr, $endpoint:expr, $signal:literal) => {
        match $config.protocol {
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig as _;
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint($endpoint)
                    .with_timeout($config.timeout)
                    .with_metadata(grpc::metadata($config)?);
                if let Some(c) = compression($config.compression) {
                    b = b.with_compression(c);
                }
                b.build().map_err(|e| build_error($signal, e))
            }
            #[cfg(feature = "otlp-http")]
            OtlpProtocol::HttpProtobuf => {
                use opentelemetry_otlp::WithHttpConfig as _;
                let mut b = $builder
                    .with_http()
                    .with_http_client(http::UreqClient::new($config.timeout))
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint($endpoint)
                    .with_timeout($config.timeout)
                    .with_headers($config.headers.clone().into_iter().collect());
                if let Some(c) = compression($config.compression) {
                    b = b.with_compression(c);
                }
                b.build().map_err(|e| build_error($signal, e))
            }
            #[allow(unreachable_patterns)]
            other => Err(not_compiled(other)),
        }
    };
}

/// The metric exporter. With gRPC, call inside the runtime's context.
pub(crate) fn metric_exporter(config: &OtlpConfig) -> Result<MetricExporter, Error> {
    finish!(
        MetricExporter::builder().with_temporality(config.temporality.to_sdk()),
        config,
        config.endpoint_for(Signal::Metrics),
        "metrics"
    )
}

/// The span exporter. With gRPC, call inside the runtime's context.
#[cfg(feature = "traces")]
pub(crate) fn span_exporter(config: &OtlpConfig) -> Result<SpanExporter, Error> {
    finish!(
        SpanExporter::builder(),
        config,
        config.endpoint_for(Signal::Traces),
        "traces"
    )
}

#[cfg(feature = "otlp-grpc")]
mod grpc {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    use crate::config::OtlpConfig;
    use crate::error::Error;

    /// The configured headers as gRPC metadata.
    pub(super) fn metadata(config: &OtlpConfig) -> Result<MetadataMap, Error> {
        let mut map = MetadataMap::with_capacity(config.headers.len());
        for (key, value) in &config.headers {
            let bad = || Error::Config {
                key: "otlp.headers".into(),
                value: format!("{key}=…"),
                reason: "gRPC metadata keys are lowercase ASCII and values printable ASCII".into(),
            };
            let k =
                MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
            let v = MetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
            map.insert(k, v);
        }
        Ok(map)
    }
}

#[cfg(feature = "otlp-http")]
mod http {
    use std::io::Read as _;
    use std::time::Duration;

    use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

    /// Largest response body read: OTLP answers are small.
    const MAX_RESPONSE: u64 = 4 * 1024 * 1024;

    /// OTLP/HTTP's client: a blocking `ureq` agent, called from the periodic
    /// reader's thread. Every status comes back as a response, so the
    /// exporter sees a 503 as the server's answer, not as a lost connection.
    #[derive(Debug)]
    pub(crate) struct UreqClient {
        agent: ureq::Agent,
    }

    impl UreqClient {
        pub(crate) fn new(timeout: Duration) -> UreqClient {
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into();
            UreqClient { agent }
        }
    }

    #[async_trait::async_trait]
    impl HttpClient for UreqClient {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, body.to_vec());
            let response = self.agent.run(request)?;
            let (parts, mut body) = response.into_parts();
            let mut bytes = Vec::new();
            body.as_reader()
                .take(MAX_RESPONSE)
                .read_to_end(&mut bytes)?;
            Ok(Response::from_parts(parts, Bytes::from(bytes)))
        }
    }
}
