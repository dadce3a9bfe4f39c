//! The suite runner: measures each selected benchmark in turn, summarises its
//! samples, compares it with the baseline, records everything through the
//! instruments, and tells a [`Reporter`] how it goes.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};

use std::time::Instant;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::baseline::Baseline;
use crate::bencher::{Bencher, Progress};
use crate::config::{Config, MeasurementConfig};
use crate::error::Error;
use crate::instruments::Pipeline;
use crate::registry::BenchEntry;
use crate::regression::Verdict;
use crate::resources::Phase;
use crate::results::{BenchResult, Failure, SCHEMA_VERSION, SuiteRun, ThroughputResult, unix_now};
use crate::stats::Stats;
use crate::telemetry::Telemetry;

/// Hears how a suite run goes; the CLI's terminal view is one. Every method
/// is called between samples, never inside a timed region.
pub trait Reporter {
    /// The suite is about to run these benchmarks; `endpoints` says where
    /// its figures can be watched.
    fn suite_started(&mut self, _names: &[String], _endpoints: &Endpoints) {}
    /// A benchmark is starting.
    fn bench_started(&mut self, _name: &str) {}
    /// A benchmark progressed.
    fn progress(&mut self, _name: &str, _progress: Progress) {}
    /// A benchmark finished.
    fn bench_finished(&mut self, _result: &BenchResult) {}
    /// A benchmark failed; the suite goes on.
    fn bench_failed(&mut self, _name: &str, _error: &Error) {}
    /// An exporter failed for the first time; the suite goes on.
    fn warning(&mut self, _message: &str) {}
    /// Every benchmark has run and the suite's figures are recorded; the
    /// exporters have not been flushed yet.
    fn suite_finished(&mut self, _run: &SuiteRun) {}
}

/// Where a running suite can be watched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The Prometheus `/metrics` address.
    pub metrics: Option<SocketAddr>,
    /// The live page's address.
    pub live: Option<SocketAddr>,
}

/// A reporter that reports nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {}

/// A configured suite, ready to run benchmarks.
///
/// ```no_run
/// use benchscope::{Config, Suite, registry, runner::Silent};
/// let suite = Suite::new(Config::default());
/// let run = suite.run(&registry::registered()?, &mut Silent)?;
/// println!("{} benchmarks", run.benchmarks.len());
/// # Ok::<(), benchscope::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Suite {
    config: Config,
    measurement: MeasurementConfig,
    baseline: Option<Baseline>,
}

impl Suite {
    /// A suite measuring with `config`'s defaults.
    pub fn new(mut config: Config) -> Suite {
        config.detect_vcs();
        Suite {
            measurement: config.measurement,
            config,
            baseline: None,
        }
    }

    /// Measures with `measurement` instead of the configured defaults (the
    /// CLI's `--quick`).
    pub fn with_measurement(mut self, measurement: MeasurementConfig) -> Suite {
        self.measurement = measurement;
        self
    }

    /// Compares every benchmark with `baseline`.
    pub fn with_baseline(mut self, baseline: Baseline) -> Suite {
        self.baseline = Some(baseline);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts the telemetry pipeline, runs `entries`, and shuts the pipeline
    /// down (after the configured linger).
    pub fn run(
        &self,
        entries: &[&BenchEntry],
        reporter: &mut dyn Reporter,
    ) -> Result<SuiteRun, Error> {
        let (warn, warnings) = mpsc::channel::<String>();
        let warn = Mutex::new(warn);
        let telemetry = Telemetry::start_with_warnings(
            &self.config,
            Arc::new(move |w: &str| {
                if let Ok(tx) = warn.lock() {
                    let _ = tx.send(w.to_owned());
                }
            }),
        )?;
        let mut relay = Relay {
            inner: reporter,
            warnings,
        };
        let mut run = self.run_in(&telemetry, entries, &mut relay);
        let shutdown = telemetry.shutdown(self.config.prometheus.linger);
        relay.drain();
        match shutdown {
            Ok(statuses) => run.exports = statuses,
            Err(e) => relay.inner.warning(&e.to_string()),
        }
        Ok(run)
    }

    /// Runs `entries` recording into an already started `telemetry`.
    pub fn run_in(
        &self,
        telemetry: &Telemetry,
        entries: &[&BenchEntry],
        reporter: &mut dyn Reporter,
    ) -> SuiteRun {
        let names: Vec<String> = entries.iter().map(|e| e.full_name()).collect();
        // The live view hears everything the caller's reporter hears.
        let mut tee = Tee {
            first: reporter,
            second: telemetry.live().cloned(),
        };
        let reporter: &mut dyn Reporter = &mut tee;
        let endpoints = Endpoints {
            metrics: telemetry.prometheus_addr(),
            live: telemetry.live_addr(),
        };
        reporter.suite_started(&names, &endpoints);
        // Spans go to this pipeline's tracer on this thread only.
        let _dispatch = telemetry.dispatch().map(tracing::dispatcher::set_default);
        let suite_span = tracing::info_span!(
            "suite",
            otel.name = "benchmark suite",
            benchmarks = names.len()
        );
        let _suite = suite_span.enter();
        let started = Instant::now();
        let started_at = unix_now();
        let mut benchmarks = Vec::with_capacity(entries.len());
        let mut failures = Vec::new();
        for (entry, name) in entries.iter().zip(names) {
            reporter.bench_started(&name);
            let span = tracing::info_span!("benchmark", otel.name = %name, benchmark.name = %name);
            let entered = span.enter();
            let outcome = self.measure(telemetry, entry, &name, reporter);
            drop(entered);
            match outcome {
                Ok(result) => {
                    annotate(&span, &result);
                    telemetry.instruments().record_bench(
                        &result,
                        &self.config.environment,
                        &self.config.commit,
                    );
                    reporter.bench_finished(&result);
                    benchmarks.push(result);
                }
                Err(error) => {
                    span.set_attribute("error.message", error.to_string());
                    telemetry
                        .instruments()
                        .record_failure(&name, &self.config.environment);
                    reporter.bench_failed(&name, &error);
                    failures.push(Failure {
                        name,
                        error: error.to_string(),
                    });
                }
            }
        }
        let run = SuiteRun {
            schema_version: SCHEMA_VERSION,
            benchscope_version: env!("CARGO_PKG_VERSION").into(),
            started_at,
            duration_s: started.elapsed().as_secs_f64(),
            environment: self.config.environment.clone(),
            commit: self.config.commit.clone(),
            branch: self.config.branch.clone(),
            benchmarks,
            failures,
            exports: Vec::new(),
        };
        telemetry.instruments().record_suite(
            run.duration_s,
            self.passed(&run),
            &Pipeline::from_env(&self.config.branch),
        );
        reporter.suite_finished(&run);
        run
    }

    /// A run passes when nothing failed and no regression reached
    /// [`crate::regression::Policy`]'s major severity.
    pub fn passed(&self, run: &SuiteRun) -> bool {
        run.failures.is_empty()
            && run.benchmarks.iter().all(|b| {
                !matches!(
                    b.baseline.as_ref().map(|c| c.comparison.verdict),
                    Some(Verdict::Regressed(s)) if s >= crate::regression::Severity::Major
                )
            })
    }

    fn measure(
        &self,
        telemetry: &Telemetry,
        entry: &BenchEntry,
        name: &str,
        reporter: &mut dyn Reporter,
    ) -> Result<BenchResult, Error> {
        let options = (entry.options)();
        let settings = self.measurement.resolve(&options);
        let resources = telemetry.resources();
        if let Some(r) = resources {
            r.take_peak();
        }
        let mut on_progress = |p: Progress| {
            if let Some(r) = resources {
                r.set_phase(match p {
                    Progress::WarmupStarted => Phase::Warmup,
                    _ => Phase::Measure,
                });
            }
            reporter.progress(name, p);
        };
        let mut bencher = Bencher::new(settings, &mut on_progress);
        let outcome = catch_unwind(AssertUnwindSafe(|| (entry.run)(&mut bencher)));
        let measurement = bencher.into_measurement();
        if let Some(r) = resources {
            r.set_phase(Phase::Idle);
        }
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic payload".into());
            return Err(Error::Panicked {
                name: name.into(),
                message,
            });
        }
        let measurement = measurement.ok_or_else(|| Error::NeverIterated(name.into()))?;
        let stats = Stats::from_samples(&measurement.samples_ns)
            .ok_or_else(|| Error::NeverIterated(name.into()))?;
        let throughput = options.throughput.map(|t| ThroughputResult {
            unit: t.unit().into(),
            per_iteration: t.per_iteration(),
            per_second: t.per_iteration() as f64 / (stats.mean / 1e9),
        });
        let mut result = BenchResult {
            name: name.into(),
            labels: options
                .labels
                .iter()
                .map(|&(k, v)| (k.into(), v.into()))
                .collect(),
            iterations: measurement.batch * measurement.samples_ns.len() as u64,
            batch: measurement.batch,
            warmup_iterations: measurement.warmup_iterations,
            samples_ns: measurement.samples_ns,
            stats,
            throughput,
            peak_rss_mb: resources.and_then(|r| r.take_peak()),
            finished_at: unix_now(),
            baseline: None,
        };
        result.baseline = self
            .baseline
            .as_ref()
            .and_then(|b| b.compare(&result, &self.config.regression));
        Ok(result)
    }
}

/// Puts a benchmark's statistics on its span.
fn annotate(span: &tracing::Span, result: &BenchResult) {
    let s = &result.stats;
    for (key, value) in [
        ("benchmark.mean_ns", s.mean),
        ("benchmark.median_ns", s.median),
        ("benchmark.p95_ns", s.p95),
        ("benchmark.p99_ns", s.p99),
        ("benchmark.std_dev_ns", s.std_dev),
        ("benchmark.ci_lower_ns", s.ci_lower),
        ("benchmark.ci_upper_ns", s.ci_upper),
    ] {
        span.set_attribute(key, value);
    }
    span.set_attribute("benchmark.samples", s.samples as i64);
    span.set_attribute("benchmark.iterations", result.iterations as i64);
    span.set_attribute("benchmark.outliers", s.outliers.total() as i64);
    if let Some(cmp) = &result.baseline {
        span.set_attribute("benchmark.change", cmp.comparison.change);
        span.set_attribute("benchmark.baseline_version", cmp.baseline_version.clone());
    }
}

/// Passes reporter calls through, and the exporters' warnings along with them.
struct Relay<'a> {
    inner: &'a mut dyn Reporter,
    warnings: mpsc::Receiver<String>,
}

impl Relay<'_> {
    fn drain(&mut self) {
        while let Ok(w) = self.warnings.try_recv() {
            self.inner.warning(&w);
        }
    }
}

impl Reporter for Relay<'_> {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        self.inner.suite_started(names, endpoints);
    }
    fn bench_started(&mut self, name: &str) {
        self.drain();
        self.inner.bench_started(name);
    }
    fn progress(&mut self, name: &str, progress: Progress) {
        self.inner.progress(name, progress);
    }
    fn bench_finished(&mut self, result: &BenchResult) {
        self.inner.bench_finished(result);
        self.drain();
    }
    fn bench_failed(&mut self, name: &str, error: &Error) {
        self.inner.bench_failed(name, error);
    }
    fn warning(&mut self, message: &str) {
        self.inner.warning(message);
    }
    fn suite_finished(&mut self, run: &SuiteRun) {
        self.inner.suite_finished(run);
    }
}

/// Sends every call to two reporters.
struct Tee<'a, R: Reporter> {
    first: &'a mut dyn Reporter,
    second: Option<R>,
}

impl<R: Reporter> Reporter for Tee<'_, R> {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        self.first.suite_started(names, endpoints);
        if let Some(r) = &mut self.second {
            r.suite_started(names, endpoints);
        }
    }
    fn bench_started(&mut self, name: &str) {
        self.first.bench_started(name);
        if let Some(r) = &mut self.second {
            r.bench_started(name);
        }
    }
    fn progress(&mut self, name: &str, progress: Progress) {
        self.first.progress(name, progress);
        if let Some(r) = &mut self.second {
            r.progress(name, progress);
        }
    }
    fn bench_finished(&mut self, result: &BenchResult) {
        self.first.bench_finished(result);
        if let Some(r) = &mut self.second {
            r.bench_finished(result);
        }
    }
    fn bench_failed(&mut self, name: &str, error: &Error) {
        self.first.bench_failed(name, error);
        if let Some(r) = &mut self.second {
            r.bench_failed(name, error);
        }
    }
    fn warning(&mut self, message: &str) {
        self.first.warning(message);
        if let Some(r) = &mut self.second {
            r.warning(message);
        }
    }
    fn suite_finished(&mut self, run: &SuiteRun) {
        self.first.suite_finished(run);
        if let Some(r) = &mut self.second {
            r.suite_finished(run);
        }
    }
}
