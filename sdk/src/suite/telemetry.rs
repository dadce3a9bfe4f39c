//! The OpenTelemetry pipeline of a suite or a service: a meter provider with
//! the readers the configuration names, a tracer provider for the spans
//! (`traces` feature), the resource that describes the run, the
//! instruments, and the resource sampler.
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
use opentelemetry_sdk::Resource;
#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "stdout",
    feature = "live"
))]
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::metrics::{Instrument, ManualReader, SdkMeterProvider, Stream};

use crate::config::{Config, ExporterKind, Loaded};
use crate::error::Error;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use crate::exporters::health::{Cause, Watched};
use crate::exporters::health::{Health, WarnFn};
#[cfg(feature = "live")]
use crate::exporters::live::{LiveExporter, LiveHub, server::LiveServer};
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use crate::exporters::otlp;
#[cfg(feature = "prometheus")]
use crate::exporters::prometheus::{PrometheusEndpoint, PrometheusReader};
#[cfg(feature = "stdout")]
use crate::exporters::stdout;
use crate::otel::instruments::{Instruments, SCOPE};
use crate::otel::resources::{ResourceSampler, ResourceState};
use crate::results::ExportStatus;

/// The providers of a pipeline.
#[derive(Clone)]
struct Providers {
    meter: SdkMeterProvider,
    #[cfg(feature = "traces")]
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// The providers of the pipeline that is running, for [`flush_running`].
static RUNNING: Mutex<Option<Providers>> = Mutex::new(None);

/// Starts the telemetry of a service whose functions carry
/// `#[monitored_bench]` (application mode): reads `benchscope.toml` and the
/// environment like a suite does ([`Config::load`]), starts the configured
/// exporters (`/metrics` on 127.0.0.1:9464 by default) and installs the
/// global meter provider the functions record into. Keep the returned guard
/// alive; dropping it (or [`Telemetry::shutdown`]) flushes every push
/// exporter.
///
/// ```no_run
/// #[benchscope::monitored_bench]
/// fn handle(request: &str) -> usize {
///     request.len()
/// }
///
/// fn main() -> Result<(), benchscope::Error> {
///     let _telemetry = benchscope::init()?;
///     handle("GET /");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Telemetry, Error> {
    let loaded = Loaded::load(None, std::env::vars())?;
    Telemetry::start(&loaded.config)
}

/// A running telemetry pipeline, returned by [`init`] or
/// [`Telemetry::start`]; [`Telemetry::shutdown`] (or dropping it) flushes
/// and stops it.
pub struct Telemetry {
    providers: Providers,
    #[cfg(feature = "traces")]
    dispatch: Option<tracing::Dispatch>,
    instruments: Instruments,
    #[cfg(feature = "prometheus")]
    prometheus: Option<PrometheusEndpoint>,
    #[cfg(feature = "live")]
    live: Option<(LiveHub, LiveServer)>,
    sampler: Option<ResourceSampler>,
    #[cfg(feature = "otlp-grpc")]
    runtime: Option<tokio::runtime::Runtime>,
    health: Arc<Health>,
    linger: Duration,
    flush_budget: Duration,
    shut_down: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("prometheus_addr", &self.prometheus_addr())
            .field("live_addr", &self.live_addr())
            .field("exports", &self.export_statuses())
            .finish()
    }
}

impl Telemetry {
    /// Checks `config`, builds its pipeline and starts its exporters and the
    /// resource sampler; export failures are counted and not shown.
    pub fn start(config: &Config) -> Result<Telemetry, Error> {
        Telemetry::start_with_warnings(config, Arc::new(|_: &str| {}))
    }

    /// Like [`Telemetry::start`], calling `warn` once per exporter, on its
    /// first failure.
    pub(crate) fn start_with_warnings(config: &Config, warn: WarnFn) -> Result<Telemetry, Error> {
        Loaded::check(config)?;
        let health = Health::new(warn);
        let resource = resource(config);
        #[cfg(feature = "otlp-grpc")]
        let runtime = {
            use crate::config::{OtlpProtocol, TraceExporterKind};
            let uses_grpc = config.otlp.protocol == OtlpProtocol::Grpc
                && (config.exporters.contains(&ExporterKind::Otlp)
                    || config.traces.contains(&TraceExporterKind::Otlp));
            uses_grpc.then(otlp::grpc_runtime).transpose()?
        };
        // The gRPC client must be built inside the runtime's context.
        #[cfg(feature = "otlp-grpc")]
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
        #[cfg(feature = "prometheus")]
        let mut prometheus = None;
        #[cfg(feature = "live")]
        let mut live = None;
        for kind in &config.exporters {
            match kind {
                #[cfg(feature = "prometheus")]
                ExporterKind::Prometheus => {
                    let reader = PrometheusReader::new();
                    builder = builder.with_reader(reader.clone());
                    prometheus = Some(PrometheusEndpoint::start(config.prometheus.addr, reader)?);
                }
                #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
                ExporterKind::Otlp => {
                    let name = format!(
                        "OTLP metrics export to {}",
                        config.otlp.endpoint_for(crate::config::Signal::Metrics)
                    );
                    let cause = Cause::default();
                    let exporter = Watched::new(
                        otlp::metric_exporter(&config.otlp, &cause)?,
                        name,
                        &health,
                        cause,
                    );
                    builder = builder.with_reader(
                        PeriodicReader::builder(exporter)
                            .with_interval(config.collection_interval)
                            .build(),
                    );
                }
                #[cfg(feature = "live")]
                ExporterKind::Live => {
                    let hub = LiveHub::new();
                    let server = LiveServer::start(
                        config.live.addr,
                        Some(config.live.token.clone()),
                        config.live.max_clients,
                        hub.clone(),
                    )?;
                    builder = builder.with_reader(
                        PeriodicReader::builder(LiveExporter::new(hub.clone()))
                            .with_interval(config.live.interval)
                            .build(),
                    );
                    live = Some((hub, server));
                }
                #[cfg(feature = "stdout")]
                ExporterKind::Stdout => {
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
            // A reader nobody collects from: recording then costs the same
            // with or without exporters, so a benchmark that calls an
            // application-mode function measures the same either way.
            builder = builder.with_reader(ManualReader::builder().build());
        }
        let meter_provider = builder.build();

        #[cfg(feature = "traces")]
        let (tracer, dispatch) = traces::start(config, resource, &health)?;
        #[cfg(not(feature = "traces"))]
        let _ = resource;
        let providers = Providers {
            meter: meter_provider.clone(),
            #[cfg(feature = "traces")]
            tracer,
        };

        crate::otel::app::configure(&config.environment, &config.histogram_buckets_ms);
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        let instruments =
            Instruments::new(&meter_provider.meter(SCOPE), &config.histogram_buckets_ms);
        let sampler = ResourceSampler::start(config.collection_interval, instruments.clone());
        if let Ok(mut running) = RUNNING.lock() {
            *running = Some(providers.clone());
        }
        let pushes = config
            .exporters
            .iter()
            .any(|k| *k != ExporterKind::Prometheus)
            || !config.traces.is_empty();
        Ok(Telemetry {
            providers,
            #[cfg(feature = "traces")]
            dispatch,
            instruments,
            #[cfg(feature = "prometheus")]
            prometheus,
            #[cfg(feature = "live")]
            live,
            sampler,
            #[cfg(feature = "otlp-grpc")]
            runtime,
            health,
            linger: config.prometheus.linger,
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
    pub(crate) fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// The state shared with the resource sampler, when it runs.
    pub(crate) fn resources(&self) -> Option<&Arc<ResourceState>> {
        self.sampler.as_ref().map(ResourceSampler::state)
    }

    /// Where `/metrics` is served, when the Prometheus exporter is on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "prometheus")]
        return self.prometheus.as_ref().map(PrometheusEndpoint::local_addr);
        #[cfg(not(feature = "prometheus"))]
        None
    }

    /// The live view's hub, when the live exporter is on.
    #[cfg(feature = "live")]
    pub(crate) fn live(&self) -> Option<&LiveHub> {
        self.live.as_ref().map(|(hub, _)| hub)
    }

    /// Where the live page is served, when the live exporter is on.
    pub fn live_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "live")]
        return self.live.as_ref().map(|(_, server)| server.local_addr());
        #[cfg(not(feature = "live"))]
        None
    }

    /// The `tracing` dispatcher that turns spans into OpenTelemetry spans,
    /// when a span exporter is configured.
    #[cfg(feature = "traces")]
    pub(crate) fn dispatch(&self) -> Option<&tracing::Dispatch> {
        self.dispatch.as_ref()
    }

    /// How each push exporter has fared so far.
    pub fn export_statuses(&self) -> Vec<ExportStatus> {
        self.health.statuses()
    }

    /// Stops the resource sampler (after a last reading), keeps `/metrics`
    /// up for the configured linger so a final scrape sees the final values,
    /// then flushes every push exporter and shuts the providers down. The
    /// flush waits at most the export timeout: a dead endpoint delays the
    /// end of a run by no more than that. Returns how each push exporter
    /// fared.
    pub fn shutdown(mut self) -> Result<Vec<ExportStatus>, Error> {
        let linger = self.linger;
        drop(self.sampler.take());
        #[cfg(feature = "prometheus")]
        {
            if self.prometheus.is_some() && !linger.is_zero() {
                std::thread::sleep(linger);
            }
            drop(self.prometheus.take());
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = linger;
        // The final collection reaches the page before its server stops.
        let result = self.flush_and_stop();
        #[cfg(feature = "live")]
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
        let meter_provider = self.providers.meter.clone();
        #[allow(unused_mut)]
        let mut shutdowns: Vec<Box<dyn FnOnce() + Send>> =
            vec![Box::new(move || drop(meter_provider.shutdown()))];
        #[cfg(feature = "traces")]
        if let Some(tp) = self.providers.tracer.clone() {
            shutdowns.push(Box::new(move || drop(tp.shutdown())));
        }
        for shutdown in shutdowns {
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
        #[cfg(feature = "otlp-grpc")]
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
        #[cfg(feature = "prometheus")]
        drop(self.prometheus.take());
        let _ = self.flush_and_stop();
    }
}

/// Flushes the push exporters of the running pipeline, if any: for a Ctrl-C
/// handler, before the process exits.
#[cfg(feature = "harness")]
pub(crate) fn flush_running() {
    let providers = RUNNING.lock().ok().and_then(|r| r.clone());
    if let Some(providers) = providers {
        #[cfg(feature = "traces")]
        if let Some(tp) = providers.tracer {
            let _ = tp.force_flush();
        }
        let _ = providers.meter.force_flush();
    }
}

#[cfg(feature = "traces")]
mod traces {
    use std::sync::Arc;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use crate::config::Config;
    #[cfg(any(feature = "otlp-http", feature = "otlp-grpc", feature = "stdout"))]
    use crate::config::TraceExporterKind;
    use crate::error::Error;
    use crate::exporters::health::Health;
    use crate::otel::instruments::SCOPE;

    /// The tracer provider for the configured span exporters, and the
    /// `tracing` dispatcher that feeds it.
    pub(super) fn start(
        config: &Config,
        resource: Resource,
        health: &Arc<Health>,
    ) -> Result<(Option<SdkTracerProvider>, Option<tracing::Dispatch>), Error> {
        if config.traces.is_empty() {
            return Ok((None, None));
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
                    let cause = crate::exporters::health::Cause::default();
                    builder = builder.with_batch_exporter(crate::exporters::health::Watched::new(
                        crate::exporters::otlp::span_exporter(&config.otlp, &cause)?,
                        name,
                        health,
                        cause,
                    ));
                }
                #[cfg(feature = "stdout")]
                TraceExporterKind::Stdout => {
                    builder =
                        builder.with_simple_exporter(crate::exporters::stdout::span_exporter());
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        let provider = builder.build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE));
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
        Ok((Some(provider), Some(dispatch)))
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
