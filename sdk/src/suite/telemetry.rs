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
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{Instrument, SdkMeterProvider, Stream};

use crate::config::{Config, ExporterKind, Loaded};
use crate::error::Error;
use crate::exporters::Exporters;
use crate::exporters::health::{Health, WarnFn};
#[cfg(feature = "live")]
use crate::exporters::live::LiveHub;
use crate::otel::exemplars::Exemplars;
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
/// Unless `service_name` is configured (`OTEL_SERVICE_NAME`, the file),
/// the service is named after its executable, so that its series and
/// `target_info` say which service they are. It says on standard error
/// where `/metrics` is served, once.
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
    let mut config = loaded.config.clone();
    if loaded.source("service_name") == &crate::config::Source::Default
        && let Some(name) = executable_name()
    {
        config.service_name = name;
    }
    let telemetry = Telemetry::start(&config)?;
    if let Some(addr) = telemetry.prometheus_addr() {
        eprintln!(
            "benchscope: service `{}` serves its metrics at http://{addr}/metrics",
            config.service_name
        );
    }
    Ok(telemetry)
}

/// The running executable's file name, without an extension.
fn executable_name() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?.trim();
    (!stem.is_empty()).then(|| stem.to_owned())
}

/// A running telemetry pipeline, returned by [`init`] or
/// [`Telemetry::start`]; [`Telemetry::shutdown`] (or dropping it) flushes
/// and stops it.
pub struct Telemetry {
    providers: Providers,
    exporters: Exporters,
    instruments: Instruments,
    sampler: Option<ResourceSampler>,
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
        // The SDK's default of 2 000 series per metric would fold a large
        // suite's benchmarks into one overflow series.
        let max_series = config.max_series_per_metric.clamp(1, usize::MAX - 1);
        let builder = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(move |_: &Instrument| {
                Stream::builder()
                    .with_cardinality_limit(max_series)
                    .build()
                    .ok()
            });
        let exemplars = Arc::new(Exemplars::default());
        let (exporters, builder) =
            Exporters::start(config, builder, &resource, &health, &exemplars)?;
        let meter_provider = builder.build();

        let providers = Providers {
            meter: meter_provider.clone(),
            #[cfg(feature = "traces")]
            tracer: exporters.traces().provider.clone(),
        };

        crate::otel::app::configure(&config.environment, &config.histogram_buckets_ms);
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        let instruments = Instruments::with_exemplars(
            &meter_provider.meter(SCOPE),
            &config.histogram_buckets_ms,
            exemplars,
        );
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
            exporters,
            instruments,
            sampler,
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
        self.exporters.prometheus_addr()
    }

    /// The live view's hub, when the live exporter is on.
    #[cfg(feature = "live")]
    pub(crate) fn live(&self) -> Option<&LiveHub> {
        self.exporters.live()
    }

    /// Where the live page is served, when the live exporter is on.
    pub fn live_addr(&self) -> Option<SocketAddr> {
        self.exporters.live_addr()
    }

    /// The `tracing` dispatcher that turns spans into OpenTelemetry spans,
    /// when a span exporter is configured.
    #[cfg(feature = "traces")]
    pub(crate) fn dispatch(&self) -> Option<&tracing::Dispatch> {
        self.exporters.traces().dispatch.as_ref()
    }

    /// How each push exporter has fared so far.
    pub fn export_statuses(&self) -> Vec<ExportStatus> {
        self.health.statuses()
    }

    /// Stops the resource sampler (after a last reading), keeps `/metrics`
    /// up for the configured linger so a final scrape sees the final values
    /// (without a linger, until the next scrape of a scraper that came
    /// during the run, at most twice its interval and 30 s),
    /// then flushes every push exporter and shuts the providers down. The
    /// flush waits at most the export timeout: a dead endpoint delays the
    /// end of a run by no more than that. Returns how each push exporter
    /// fared.
    pub fn shutdown(mut self) -> Result<Vec<ExportStatus>, Error> {
        drop(self.sampler.take());
        self.exporters.stop_pull(self.linger, true);
        // The final collection reaches the page before its server stops.
        self.flush_and_stop()?;
        Ok(self.health.statuses())
    }

    /// How long `/metrics` stays up after the run ([`Telemetry::shutdown`]).
    pub(crate) fn linger(&self) -> Duration {
        self.linger
    }

    /// Stops the resource sampler and flushes the push exporters now (for
    /// at most the flush budget), leaving everything up: what a run's
    /// outputs need to say how the exports fared before a linger.
    pub(crate) fn settle(&mut self) -> Vec<ExportStatus> {
        drop(self.sampler.take());
        let deadline = Instant::now() + self.flush_budget;
        let meter = self.providers.meter.clone();
        #[cfg(feature = "traces")]
        let tracer = self.providers.tracer.clone();
        let (done, finished) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("benchscope-flush".into())
            .spawn(move || {
                #[cfg(feature = "traces")]
                if let Some(tp) = tracer {
                    let _ = tp.force_flush();
                }
                let _ = meter.force_flush();
                let _ = done.send(());
            });
        if spawned.is_ok() {
            let _ = finished.recv_timeout(self.flush_budget);
        }
        self.settle_exports(deadline);
        self.health.statuses()
    }

    /// Gives the exports in flight until `deadline` to end, then counts
    /// those that have not as failed: the SDK's readers stop waiting for
    /// their final export after a time of their own and say nothing.
    fn settle_exports(&self, deadline: Instant) {
        self.health.wait_idle(deadline);
        self.health.abandon_in_flight();
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
        let deadline = Instant::now() + self.flush_budget;
        let mut outcome = Some(());
        for _ in 0..pending {
            let left = deadline.saturating_duration_since(Instant::now());
            if finished.recv_timeout(left).is_err() {
                outcome = None;
                break;
            }
        }
        self.settle_exports(deadline);
        self.exporters.stop_push();
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
        self.exporters.stop_pull(Duration::ZERO, false);
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
    // The machine is the instance: stable from run to run (so the series
    // of one machine's runs are one series each, not new ones per run) and
    // different between runners (so that runners pushing to one backend
    // never write into each other's series).
    if !config
        .resource_attributes
        .contains_key("service.instance.id")
    {
        attributes.push(KeyValue::new(
            "service.instance.id",
            crate::measure::machine::machine_fingerprint(),
        ));
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
