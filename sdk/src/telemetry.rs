//! The OpenTelemetry pipeline of a suite: a meter provider with the readers
//! the configuration names, a tracer provider for the spans, the resource
//! that describes the run, the instruments, and the resource sampler.
//!
//! The meter provider is also installed as the global one so that
//! application-mode functions record into the same pipeline. Shutting down
//! (or dropping) the pipeline flushes every push exporter, within the export
//! timeout, so a short run loses nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{
    Instrument, ManualReader, PeriodicReader, SdkMeterProvider, Stream,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::{Config, ExporterKind, Signal, TraceExporterKind};
use crate::error::Error;
use crate::exporters::health::{ExportStatus, Health, WarnFn, Watched};
use crate::exporters::live::server::LiveServer;
use crate::exporters::live::{LiveExporter, LiveHub};
use crate::exporters::prometheus::{PrometheusEndpoint, PrometheusReader};
use crate::exporters::{otlp, stdout};
use crate::instruments::{Instruments, SCOPE};
use crate::resources::{ResourceSampler, ResourceState};

/// The providers of the pipeline that is running, for [`flush_running`].
static RUNNING: Mutex<Option<(SdkMeterProvider, Option<SdkTracerProvider>)>> = Mutex::new(None);

/// A running telemetry pipeline; [`Telemetry::shutdown`] flushes and stops it.
#[derive(Debug)]
pub struct Telemetry {
    meter_provider: SdkMeterProvider,
    tracer_provider: Option<SdkTracerProvider>,
    dispatch: Option<tracing::Dispatch>,
    instruments: Instruments,
    prometheus: Option<PrometheusEndpoint>,
    live: Option<(LiveHub, LiveServer)>,
    sampler: Option<ResourceSampler>,
    runtime: Option<tokio::runtime::Runtime>,
    health: Arc<Health>,
    flush_budget: Duration,
    shut_down: bool,
}

impl Telemetry {
    /// Builds the pipeline for `config` and starts its exporters and the
    /// resource sampler; export failures are counted and not shown.
    pub fn start(config: &Config) -> Result<Telemetry, Error> {
        Telemetry::start_with_warnings(config, Arc::new(|_: &str| {}))
    }

    /// Like [`Telemetry::start`], calling `warn` once per exporter, on its
    /// first failure.
    pub fn start_with_warnings(config: &Config, warn: WarnFn) -> Result<Telemetry, Error> {
        let health = Health::new(warn);
        let resource = resource(config);
        let uses_grpc = config.otlp.protocol == crate::config::OtlpProtocol::Grpc
            && (config.exporters.contains(&ExporterKind::Otlp)
                || config.traces.contains(&TraceExporterKind::Otlp));
        let runtime = uses_grpc.then(otlp::grpc_runtime).transpose()?;
        // The gRPC client must be built inside the runtime's context.
        let _context = runtime.as_ref().map(|rt| rt.enter());

        // The SDK's default of 2 000 series per metric would fold a large
        // suite's benchmarks into one overflow series.
        let max_series = config.max_series_per_metric.clamp(1, usize::MAX - 1);
        let mut builder = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(move |_: &Instrument| {
                Stream::builder()
                    .with_cardinality_limit(max_series)
                    .build()
                    .ok()
            });
        let mut prometheus = None;
        let mut live = None;
        for kind in &config.exporters {
            match kind {
                ExporterKind::Prometheus => {
                    let reader = PrometheusReader::new();
                    builder = builder.with_reader(reader.clone());
                    prometheus = Some(PrometheusEndpoint::start(config.prometheus.addr, reader)?);
                }
                ExporterKind::Otlp => {
                    let name = format!(
                        "OTLP metrics export to {}",
                        config.otlp.endpoint_for(Signal::Metrics)
                    );
                    let exporter =
                        Watched::new(otlp::metric_exporter(&config.otlp)?, name, &health);
                    builder = builder.with_reader(
                        PeriodicReader::builder(exporter)
                            .with_interval(config.collection_interval)
                            .build(),
                    );
                }
                ExporterKind::Live => {
                    let hub = LiveHub::new();
                    let server = LiveServer::start(
                        config.live.addr,
                        Some(config.live.token.clone()),
                        hub.clone(),
                    )?;
                    builder = builder.with_reader(
                        PeriodicReader::builder(LiveExporter::new(hub.clone()))
                            .with_interval(config.live.interval)
                            .build(),
                    );
                    live = Some((hub, server));
                }
                ExporterKind::Stdout => {
                    let temporality = config.otlp.temporality.to_sdk();
                    builder = builder.with_reader(
                        PeriodicReader::builder(stdout::metric_exporter(temporality))
                            .with_interval(config.collection_interval)
                            .build(),
                    );
                }
            }
        }
        if config.exporters.is_empty() {
            // A reader nobody collects from: recording then costs the same
            // with or without exporters, so a benchmark that calls an
            // application-mode function measures the same either way.
            builder = builder.with_reader(ManualReader::builder().build());
        }
        let meter_provider = builder.build();

        let tracer_provider = if config.traces.is_empty() {
            None
        } else {
            let mut builder = SdkTracerProvider::builder().with_resource(resource);
            for kind in &config.traces {
                match kind {
                    TraceExporterKind::Otlp => {
                        let name = format!(
                            "OTLP traces export to {}",
                            config.otlp.endpoint_for(Signal::Traces)
                        );
                        builder = builder.with_batch_exporter(Watched::new(
                            otlp::span_exporter(&config.otlp)?,
                            name,
                            &health,
                        ));
                    }
                    TraceExporterKind::Stdout => {
                        builder = builder.with_simple_exporter(stdout::span_exporter());
                    }
                }
            }
            Some(builder.build())
        };
        let dispatch = tracer_provider.as_ref().map(|tp| {
            let layer = tracing_opentelemetry::layer().with_tracer(tp.tracer(SCOPE));
            tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
        });

        crate::app::configure(&config.environment, &config.histogram_buckets_ms);
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        let instruments =
            Instruments::new(&meter_provider.meter(SCOPE), &config.histogram_buckets_ms);
        let sampler = ResourceSampler::start(config.collection_interval, instruments.clone());
        if let Ok(mut running) = RUNNING.lock() {
            *running = Some((meter_provider.clone(), tracer_provider.clone()));
        }
        let pushes = config
            .exporters
            .iter()
            .any(|k| *k != ExporterKind::Prometheus)
            || !config.traces.is_empty();
        Ok(Telemetry {
            meter_provider,
            tracer_provider,
            dispatch,
            instruments,
            prometheus,
            live,
            sampler,
            runtime,
            health,
            // The final export of each push exporter runs in parallel with
            // the others, each bounded by the export timeout.
            flush_budget: if pushes {
                config.otlp.timeout + Duration::from_millis(500)
            } else {
                Duration::from_secs(5)
            },
            shut_down: false,
        })
    }

    /// The instruments to record into.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// The state shared with the resource sampler, when it runs.
    pub fn resources(&self) -> Option<&Arc<ResourceState>> {
        self.sampler.as_ref().map(ResourceSampler::state)
    }

    /// Where `/metrics` is served, when the Prometheus exporter is on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus.as_ref().map(PrometheusEndpoint::local_addr)
    }

    /// The live view's hub, when the live exporter is on.
    pub fn live(&self) -> Option<&LiveHub> {
        self.live.as_ref().map(|(hub, _)| hub)
    }

    /// Where the live page is served, when the live exporter is on.
    pub fn live_addr(&self) -> Option<SocketAddr> {
        self.live.as_ref().map(|(_, server)| server.local_addr())
    }

    /// The `tracing` dispatcher that turns spans into OpenTelemetry spans,
    /// when a span exporter is configured.
    pub fn dispatch(&self) -> Option<&tracing::Dispatch> {
        self.dispatch.as_ref()
    }

    /// How each push exporter has fared so far.
    pub fn export_statuses(&self) -> Vec<ExportStatus> {
        self.health.statuses()
    }

    /// Stops the resource sampler (after a last reading), keeps `/metrics`
    /// up for `linger` so a final scrape sees the final values, then flushes
    /// every push exporter and shuts the providers down. The flush waits at
    /// most the export timeout: a dead endpoint delays the end of a run by no
    /// more than that. Returns how each push exporter fared.
    pub fn shutdown(mut self, linger: Duration) -> Result<Vec<ExportStatus>, Error> {
        drop(self.sampler.take());
        if self.prometheus.is_some() && !linger.is_zero() {
            std::thread::sleep(linger);
        }
        drop(self.prometheus.take());
        // The final collection reaches the page before its server stops.
        let result = self.flush_and_stop();
        drop(self.live.take());
        result?;
        Ok(self.health.statuses())
    }

    fn flush_and_stop(&mut self) -> Result<(), Error> {
        if std::mem::replace(&mut self.shut_down, true) {
            return Ok(());
        }
        if let Ok(mut running) = RUNNING.lock() {
            *running = None;
        }
        // Each provider flushes on a thread of its own, in parallel, so a hung
        // endpoint cannot hold the caller past the budget.
        let (done, finished) = mpsc::channel();
        let mut pending = 0;
        let meter_provider = self.meter_provider.clone();
        let shutdowns: [Option<Box<dyn FnOnce() + Send>>; 2] = [
            Some(Box::new(move || drop(meter_provider.shutdown()))),
            self.tracer_provider
                .clone()
                .map(|tp| -> Box<dyn FnOnce() + Send> { Box::new(move || drop(tp.shutdown())) }),
        ];
        for shutdown in shutdowns.into_iter().flatten() {
            let done = done.clone();
            let spawned = std::thread::Builder::new()
                .name("benchscope-flush".into())
                .spawn(move || {
                    shutdown();
                    let _ = done.send(());
                });
            if spawned.is_ok() {
                pending += 1;
            }
        }
        let deadline = std::time::Instant::now() + self.flush_budget;
        let mut outcome = Some(());
        for _ in 0..pending {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if finished.recv_timeout(left).is_err() {
                outcome = None;
                break;
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        match outcome {
            // Export failures are already in the health report; a provider
            // that was shut down twice is not an error worth stopping for.
            Some(_) => Ok(()),
            None => Err(Error::Telemetry(format!(
                "the final export did not finish within {:?}; some figures may not have reached the backend",
                self.flush_budget
            ))),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // An early return or an error still flushes what was recorded.
        drop(self.sampler.take());
        drop(self.prometheus.take());
        let _ = self.flush_and_stop();
    }
}

/// Flushes the push exporters of the running pipeline, if any: for a Ctrl-C
/// handler, before the process exits.
pub fn flush_running() {
    let providers = RUNNING.lock().ok().and_then(|r| r.clone());
    if let Some((meter_provider, tracer_provider)) = providers {
        if let Some(tp) = tracer_provider {
            let _ = tp.force_flush();
        }
        let _ = meter_provider.force_flush();
    }
}

/// The resource describing the run: service, host, OS, process, VCS and
/// deployment environment, then the configured extra attributes.
fn resource(config: &Config) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("deployment.environment", config.environment.clone()),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("os.type", std::env::consts::OS),
        KeyValue::new(
            "telemetry.sdk.benchscope.version",
            env!("CARGO_PKG_VERSION"),
        ),
    ];
    if let Ok(host) = sysinfo::System::host_name() {
        attributes.push(KeyValue::new("host.name", host));
    }
    if let Ok(os) = sysinfo::System::long_os_version() {
        attributes.push(KeyValue::new("os.description", os));
    }
    if !config.commit.is_empty() {
        attributes.push(KeyValue::new(
            "vcs.ref.head.revision",
            config.commit.clone(),
        ));
    }
    if !config.branch.is_empty() {
        attributes.push(KeyValue::new("vcs.ref.head.name", config.branch.clone()));
    }
    attributes.extend(
        config
            .resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes(attributes)
        .build()
}
