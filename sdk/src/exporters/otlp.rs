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
//!
//! With the `tls` feature an `https://` endpoint is reached over rustls
//! (ring): the configured CA certificates are trusted instead of the
//! built-in Mozilla roots, and a client certificate is offered when one is
//! configured. For gRPC the TLS channel is built here and handed to the
//! exporter, so the configuration, not `opentelemetry-otlp`'s own reading of
//! the environment, decides.

#[cfg(feature = "traces")]
use opentelemetry_otlp::SpanExporter;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};

#[cfg(feature = "tls")]
use crate::config::tls::Material;
use crate::config::{Compression, OtlpConfig, OtlpProtocol, Signal};
use crate::error::Error;
use crate::exporters::health::Cause;

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
    ($builder:expr, $config:expr, $cause:expr, $signal_kind:expr, $signal:literal) => {{
        let endpoint = $config.endpoint_for($signal_kind);
        let tls = security($config, $signal_kind, &endpoint)?;
        match $config.protocol {
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig as _;
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .with_timeout($config.timeout)
                    .with_metadata(grpc::metadata($config)?);
                #[cfg(feature = "tls")]
                if let Some(material) = &tls {
                    b = b.with_channel(grpc::tls_channel(&endpoint, material, $config.timeout)?);
                }
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
                    .with_http_client(http::UreqClient::new(
                        $config.timeout,
                        tls.as_ref(),
                        $cause.clone(),
                    )?)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(endpoint)
                    .with_timeout($config.timeout)
                    .with_headers($config.headers.clone().into_iter().collect());
                if let Some(c) = compression($config.compression) {
                    b = b.with_compression(c);
                }
                b.build().map_err(|e| build_error($signal, e))
            }
            #[allow(unreachable_patterns)]
            other => {
                let _ = (endpoint, tls, $cause);
                Err(not_compiled(other))
            }
        }
    }};
}

/// The TLS material of `signal`'s connection, when its endpoint is
/// `https://`. The configuration's check has read the files once already;
/// a file changed since is reported the same way.
#[cfg(feature = "tls")]
fn security(
    config: &OtlpConfig,
    signal: Signal,
    endpoint: &str,
) -> Result<Option<Material>, Error> {
    if !endpoint.starts_with("https://") {
        return Ok(None);
    }
    config
        .tls_for(signal)
        .load()
        .map(Some)
        .map_err(|(_, reason)| Error::Telemetry(format!("the TLS files for {endpoint}: {reason}")))
}

/// Without the `tls` feature the configuration's check refuses `https://`.
#[cfg(not(feature = "tls"))]
fn security(_: &OtlpConfig, _: Signal, _: &str) -> Result<Option<()>, Error> {
    Ok(None)
}

/// The metric exporter. With gRPC, call inside the runtime's context.
/// The HTTP client leaves the cause of a failed request in `cause`.
pub(crate) fn metric_exporter(config: &OtlpConfig, cause: &Cause) -> Result<MetricExporter, Error> {
    finish!(
        MetricExporter::builder().with_temporality(config.temporality.to_sdk()),
        config,
        cause,
        Signal::Metrics,
        "metrics"
    )
}

/// The span exporter. With gRPC, call inside the runtime's context.
#[cfg(feature = "traces")]
pub(crate) fn span_exporter(config: &OtlpConfig, cause: &Cause) -> Result<SpanExporter, Error> {
    finish!(
        SpanExporter::builder(),
        config,
        cause,
        Signal::Traces,
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

    /// A lazily connecting TLS channel to `endpoint`: the configured CA
    /// certificates (else the Mozilla roots), and the client's identity
    /// when there is one. Call inside the gRPC runtime's context.
    #[cfg(feature = "tls")]
    pub(super) fn tls_channel(
        endpoint: &str,
        material: &crate::config::tls::Material,
        timeout: std::time::Duration,
    ) -> Result<tonic::transport::Channel, Error> {
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
        let mut tls = ClientTlsConfig::new();
        tls = match &material.roots {
            Some(roots) => tls.ca_certificate(Certificate::from_pem(&roots.pem)),
            None => tls.with_webpki_roots(),
        };
        if let Some(id) = &material.identity {
            tls = tls.identity(Identity::from_pem(&id.chain.pem, &id.key_pem));
        }
        let bad = |e: tonic::transport::Error| {
            Error::Telemetry(format!("cannot set up TLS to {endpoint}: {e}"))
        };
        Ok(Endpoint::from_shared(endpoint.to_owned())
            .map_err(bad)?
            .tls_config(tls)
            .map_err(bad)?
            .timeout(timeout)
            .connect_lazy())
    }
}

#[cfg(feature = "otlp-http")]
mod http {
    use std::io::Read as _;
    use std::time::Duration;

    use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

    use crate::error::Error;
    use crate::exporters::health::Cause;

    /// Largest response body read: OTLP answers are small.
    const MAX_RESPONSE: u64 = 4 * 1024 * 1024;

    /// OTLP/HTTP's client: a blocking `ureq` agent, called from the periodic
    /// reader's thread. Every status comes back as a response, so the
    /// exporter sees a 503 as the server's answer, not as a lost connection.
    #[derive(Debug)]
    pub(crate) struct UreqClient {
        agent: ureq::Agent,
        cause: Cause,
    }

    impl UreqClient {
        /// A client with an overall `timeout` per request; over TLS with
        /// `tls` (for an `https://` endpoint).
        pub(crate) fn new(
            timeout: Duration,
            tls: Option<&crate::exporters::client::Tls>,
            cause: Cause,
        ) -> Result<UreqClient, Error> {
            Ok(UreqClient {
                agent: crate::exporters::client::agent(timeout, tls)?,
                cause,
            })
        }
    }

    #[async_trait::async_trait]
    impl HttpClient for UreqClient {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, body.to_vec());
            // The exporter reports any error of ours as "network error":
            // keep the words that say what went wrong.
            let response = self.agent.run(request).inspect_err(|e| {
                self.cause.set(e.to_string());
            })?;
            let (parts, mut body) = response.into_parts();
            let mut bytes = Vec::new();
            body.as_reader()
                .take(MAX_RESPONSE)
                .read_to_end(&mut bytes)?;
            Ok(Response::from_parts(parts, Bytes::from(bytes)))
        }
    }
}
