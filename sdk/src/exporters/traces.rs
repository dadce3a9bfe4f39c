//! The span exporters (`traces` feature): a tracer provider for the
//! configured span exporters (OTLP, stdout), and the `tracing` dispatcher
//! whose spans (one per suite and per benchmark) it exports.

use std::sync::Arc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;

use super::health::Health;
use crate::config::Config;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc", feature = "stdout"))]
use crate::config::TraceExporterKind;
use crate::error::Error;
use crate::otel::instruments::SCOPE;

/// The tracer provider and its dispatcher; both `None` when no span
/// exporter is configured.
#[derive(Default)]
pub(crate) struct Traces {
    pub(crate) provider: Option<SdkTracerProvider>,
    pub(crate) dispatch: Option<tracing::Dispatch>,
}

impl Traces {
    /// Starts the configured span exporters.
    pub(super) fn start(
        config: &Config,
        resource: Resource,
        health: &Arc<Health>,
    ) -> Result<Traces, Error> {
        if config.traces.is_empty() {
            return Ok(Traces::default());
        }
        let _ = health;
        #[allow(unused_mut)]
        let mut builder = SdkTracerProvider::builder().with_resource(resource);
        for kind in &config.traces {
            match kind {
                #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
                TraceExporterKind::Otlp => {
                    let name = format!(
                        "OTLP traces export to {}",
                        config.otlp.endpoint_for(crate::config::Signal::Traces)
                    );
                    let cause = super::health::Cause::default();
                    builder = builder.with_batch_exporter(super::health::Watched::new(
                        super::otlp::span_exporter(&config.otlp, &cause)?,
                        name,
                        health,
                        cause,
                    ));
                }
                #[cfg(feature = "stdout")]
                TraceExporterKind::Stdout => {
                    builder = builder.with_simple_exporter(super::stdout::span_exporter());
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        let provider = builder.build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE));
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
        Ok(Traces {
            provider: Some(provider),
            dispatch: Some(dispatch),
        })
    }
}
