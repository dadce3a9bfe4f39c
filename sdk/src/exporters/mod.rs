//! Exporters: where recorded metrics and spans go, chosen by configuration
//! (`Config::exporters` and `Config::traces`), each behind the Cargo feature
//! of the same name. [`Exporters::start`] is the one place that turns the
//! configuration into running exporters; the telemetry pipeline holds the
//! value it returns. Each exporter owns its own threads; none blocks the
//! runner.
//!
//! - [`prometheus`]: pull, `/metrics` served on loopback;
//! - [`otlp`]: push by OTLP over gRPC or HTTP/protobuf;
//! - [`stdout`]: push, printed on standard output;
//! - [`live`]: push, streamed over WebSocket to a live web page;
//! - `traces`: the span exporters (OTLP, stdout) and the `tracing`
//!   dispatcher that feeds them.
//!
//! Push exporters are wrapped by [`health`], which turns their failures into
//! one warning per exporter and keeps counts for the end of the run. The
//! pull and live exporters share the small HTTP server of [`http`].

#[cfg(any(feature = "otlp-http", feature = "remote-history"))]
pub(crate) mod client;
pub(crate) mod health;
#[cfg(any(feature = "prometheus", feature = "live"))]
pub(crate) mod http;
#[cfg(feature = "live")]
pub(crate) mod live;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
#[cfg(feature = "stdout")]
pub(crate) mod stdout;
#[cfg(feature = "traces")]
mod traces;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::Resource;
#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "stdout",
    feature = "live"
))]
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::metrics::{ManualReader, MeterProviderBuilder};

use crate::config::Config;
use crate::error::Error;
use crate::otel::exemplars::Exemplars;
use health::Health;

/// The exporters a configuration names, started: the pull endpoint and the
/// live page with their servers, the span exporters, and the runtime the
/// gRPC client needs. Metric exporters are readers of the meter provider,
/// added by [`Exporters::start`].
#[derive(Default)]
pub(crate) struct Exporters {
    #[cfg(feature = "prometheus")]
    prometheus: Option<prometheus::PrometheusEndpoint>,
    #[cfg(feature = "live")]
    live: Option<(live::LiveHub, live::server::LiveServer)>,
    #[cfg(feature = "traces")]
    traces: traces::Traces,
    #[cfg(feature = "otlp-grpc")]
    runtime: Option<tokio::runtime::Runtime>,
}

impl Exporters {
    /// Starts every exporter `config` names, adding the metric exporters to
    /// `builder` as readers (a reader nobody collects from when there are
    /// none, so that recording costs the same with or without exporters).
    /// Push exporters report their failures to `health`.
    pub(crate) fn start(
        config: &Config,
        mut builder: MeterProviderBuilder,
        resource: &Resource,
        health: &Arc<Health>,
        exemplars: &Arc<Exemplars>,
    ) -> Result<(Exporters, MeterProviderBuilder), Error> {
        #[allow(unused_mut)]
        let mut exporters = Exporters::default();
        #[cfg(not(feature = "prometheus"))]
        let _ = exemplars;
        #[cfg(feature = "otlp-grpc")]
        {
            use crate::config::{ExporterKind, OtlpProtocol, TraceExporterKind};
            let uses_grpc = config.otlp.protocol == OtlpProtocol::Grpc
                && (config.exporters.contains(&ExporterKind::Otlp)
                    || config.traces.contains(&TraceExporterKind::Otlp));
            exporters.runtime = uses_grpc.then(otlp::grpc_runtime).transpose()?;
        }
        // The gRPC client must be built inside the runtime's context.
        #[cfg(feature = "otlp-grpc")]
        let _context = exporters.runtime.as_ref().map(|rt| rt.enter());
        for kind in &config.exporters {
            match kind {
                #[cfg(feature = "prometheus")]
                crate::config::ExporterKind::Prometheus => {
                    let reader = prometheus::PrometheusReader::with_exemplars(exemplars.clone());
                    builder = builder.with_reader(reader.clone());
                    exporters.prometheus = Some(prometheus::PrometheusEndpoint::start(
                        config.prometheus.addr,
                        reader,
                    )?);
                }
                #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
                crate::config::ExporterKind::Otlp => {
                    let name = format!(
                        "OTLP metrics export to {}",
                        config.otlp.endpoint_for(crate::config::Signal::Metrics)
                    );
                    let cause = health::Cause::default();
                    let exporter = health::Watched::new(
                        otlp::metric_exporter(&config.otlp, &cause)?,
                        name,
                        health,
                        cause,
                    );
                    builder = builder.with_reader(
                        PeriodicReader::builder(exporter)
                            .with_interval(config.collection_interval)
                            .build(),
                    );
                }
                #[cfg(feature = "live")]
                crate::config::ExporterKind::Live => {
                    let hub = live::LiveHub::new();
                    let server = live::server::LiveServer::start(
                        config.live.addr,
                        Some(config.live.token.clone()),
                        config.live.max_clients,
                        hub.clone(),
                    )?;
                    builder = builder.with_reader(
                        PeriodicReader::builder(live::LiveExporter::new(hub.clone()))
                            .with_interval(config.live.interval)
                            .build(),
                    );
                    exporters.live = Some((hub, server));
                }
                #[cfg(feature = "stdout")]
                crate::config::ExporterKind::Stdout => {
                    let temporality = config.otlp.temporality.to_sdk();
                    builder = builder.with_reader(
                        PeriodicReader::builder(stdout::metric_exporter(temporality))
                            .with_interval(config.collection_interval)
                            .build(),
                    );
                }
                // The configuration's check refuses exporters this build
                // leaves out, so none reaches here.
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        if config.exporters.is_empty() {
            builder = builder.with_reader(ManualReader::builder().build());
        }
        #[cfg(feature = "traces")]
        {
            exporters.traces = traces::Traces::start(config, resource.clone(), health)?;
        }
        #[cfg(not(feature = "traces"))]
        let _ = resource;
        #[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc", feature = "traces")))]
        let _ = health;
        Ok((exporters, builder))
    }

    /// Where `/metrics` is served, when the Prometheus exporter is on.
    pub(crate) fn prometheus_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "prometheus")]
        return self
            .prometheus
            .as_ref()
            .map(prometheus::PrometheusEndpoint::local_addr);
        #[cfg(not(feature = "prometheus"))]
        None
    }

    /// The live view's hub, when the live exporter is on.
    #[cfg(feature = "live")]
    pub(crate) fn live(&self) -> Option<&live::LiveHub> {
        self.live.as_ref().map(|(hub, _)| hub)
    }

    /// Where the live page is served, when the live exporter is on.
    pub(crate) fn live_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "live")]
        return self.live.as_ref().map(|(_, server)| server.local_addr());
        #[cfg(not(feature = "live"))]
        None
    }

    /// The span exporters' provider and dispatcher.
    #[cfg(feature = "traces")]
    pub(crate) fn traces(&self) -> &traces::Traces {
        &self.traces
    }

    /// Stops serving `/metrics`, after keeping it up for `linger` (a final
    /// scrape) when it was on; without a linger and with `final_scrape`,
    /// after the next scrape of a scraper that came during the run
    /// ([`prometheus::PrometheusEndpoint::await_final_scrape`]).
    pub(crate) fn stop_pull(&mut self, linger: Duration, final_scrape: bool) {
        #[cfg(feature = "prometheus")]
        if let Some(endpoint) = self.prometheus.take() {
            if !linger.is_zero() {
                std::thread::sleep(linger);
            } else if final_scrape {
                endpoint.await_final_scrape();
            }
            drop(endpoint);
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = (linger, final_scrape);
    }

    /// Stops the live page's server and the gRPC runtime: after the final
    /// export, which the page and the client still serve.
    pub(crate) fn stop_push(&mut self) {
        #[cfg(feature = "live")]
        drop(self.live.take());
        #[cfg(feature = "otlp-grpc")]
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
