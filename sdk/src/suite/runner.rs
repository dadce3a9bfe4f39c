//! The suite runner: measures each selected benchmark in turn, summarises its
//! samples, compares it with the baseline, records everything through the
//! instruments, and tells a [`Reporter`] how it goes.
//!
//! A [`Session`] is one suite run in progress: the registry's benchmarks are
//! run through it by [`Suite::run`], and benchmarks defined as the program
//! goes (criterion's `bench_function`) go through the same one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::telemetry::Telemetry;
use crate::analysis::baseline::Baseline;
use crate::config::{Config, MeasurementConfig};
use crate::error::Error;
use crate::measure::bencher::Bencher;
use crate::measure::callgrind::Counting;
use crate::measure::registry::{BenchOptions, Benchmark, Case};
use crate::measure::sampling::Progress;
use crate::measure::stats::Stats;
use crate::otel::instruments::{Pipeline, RunLabels};
use crate::otel::resources::Phase;
use crate::results::report::{Endpoints, Fanout};
use crate::results::{
    Allocations, BenchResult, ExportStatus, Failure, Reporter, SCHEMA_VERSION, Severity, SuiteRun,
    ThroughputResult, unix_now,
};

/// A configured suite, ready to run benchmarks.
///
/// ```no_run
/// use benchscope::{Config, Silent, Suite};
/// let suite = Suite::new(Config::load()?);
/// let run = suite.run(&benchscope::benchmarks()?, &mut Silent)?;
/// println!("{} benchmarks", run.benchmarks.len());
/// # Ok::<(), benchscope::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Suite {
    config: Config,
    measurement: MeasurementConfig,
    baseline: Option<Baseline>,
    /// Instruction counting under Callgrind (`--measure instructions`).
    counting: Option<Counting>,
}

impl Suite {
    /// A suite measuring with `config`'s defaults.
    pub fn new(config: Config) -> Suite {
        Suite {
            measurement: config.measurement,
            config,
            baseline: None,
            counting: None,
        }
    }

    /// Also counts each benchmark's instructions under Callgrind: the
    /// bench target runs itself again, as the child of one benchmark.
    #[cfg(feature = "harness")]
    pub(crate) fn with_counting(mut self, counting: Counting) -> Suite {
        self.counting = Some(counting);
        self
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

    /// Starts the telemetry pipeline, runs `benchmarks`, and shuts the
    /// pipeline down (after the configured linger). How each push exporter
    /// fared is in the run's `exports`.
    pub fn run(
        &self,
        benchmarks: &[&Benchmark],
        reporter: &mut dyn Reporter,
    ) -> Result<SuiteRun, Error> {
        let cases = cases_of(benchmarks);
        let names: Vec<String> = cases.iter().map(|(_, c)| c.name.clone()).collect();
        let mut session = Session::open(self.clone(), Box::new(reporter), &names)?;
        session.bench_cases(cases);
        Ok(session.close())
    }

    /// Runs `benchmarks`, recording into an already started `telemetry`
    /// (which stays up afterwards).
    pub fn run_in(
        &self,
        telemetry: &Telemetry,
        benchmarks: &[&Benchmark],
        reporter: &mut dyn Reporter,
    ) -> SuiteRun {
        let cases = cases_of(benchmarks);
        let names: Vec<String> = cases.iter().map(|(_, c)| c.name.clone()).collect();
        let (_, no_warnings) = mpsc::channel();
        let mut session = Session::start(
            self.clone(),
            Held::Borrowed(telemetry),
            Box::new(reporter),
            no_warnings,
            &names,
        );
        session.bench_cases(cases);
        session.close()
    }

    /// A run passes when nothing failed and no regression reached major
    /// severity.
    pub fn passed(&self, run: &SuiteRun) -> bool {
        run.failures.is_empty()
            && run.benchmarks.iter().all(|b| {
                b.baseline
                    .as_ref()
                    .and_then(|c| c.severity())
                    .is_none_or(|s| s < Severity::Major)
            })
    }
}

/// The telemetry pipeline of a session: its own, shut down when the
/// session closes, or the caller's.
enum Held<'a> {
    Owned(Box<Telemetry>),
    Borrowed(&'a Telemetry),
}

impl std::ops::Deref for Held<'_> {
    type Target = Telemetry;
    fn deref(&self) -> &Telemetry {
        match self {
            Held::Owned(t) => t,
            Held::Borrowed(t) => t,
        }
    }
}

/// A closed run's pipeline that still serves `/metrics` for its linger
/// ([`Session::close_lingering`]); the bench target's command line waits
/// on it.
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) struct Lingering(Box<Telemetry>);

#[cfg_attr(not(feature = "harness"), allow(dead_code))]
impl Lingering {
    /// How long `/metrics` stays up.
    pub(crate) fn linger(&self) -> Duration {
        self.0.linger()
    }

    /// Serves the final figures for the linger, then flushes and stops the
    /// pipeline.
    pub(crate) fn finish(self) -> Result<Vec<ExportStatus>, Error> {
        self.0.shutdown()
    }
}

/// One suite run in progress: opened, then fed one benchmark at a time
/// (from the registry, or as the program defines them), then closed into a
/// [`SuiteRun`]. It owns what it needs, so a harness can keep one for the
/// whole process.
pub(crate) struct Session<'a> {
    suite: Suite,
    telemetry: Held<'a>,
    reporter: Fanout<'a>,
    /// Warnings raised on the exporters' threads, delivered between
    /// benchmarks on this one.
    warnings: mpsc::Receiver<String>,
    started: Instant,
    started_at: f64,
    /// The machine the run is measured on, as its run-info series names it.
    machine: String,
    benchmarks: Vec<BenchResult>,
    failures: Vec<Failure>,
    #[cfg(feature = "traces")]
    spans: Option<(
        tracing::dispatcher::DefaultGuard,
        tracing::span::EnteredSpan,
    )>,
}

impl<'a> Session<'a> {
    /// Starts `suite`'s telemetry pipeline and a run of `names` (as far as
    /// they are known in advance).
    pub(crate) fn open(
        suite: Suite,
        reporter: Box<dyn Reporter + 'a>,
        names: &[String],
    ) -> Result<Session<'a>, Error> {
        let (warn, warnings) = mpsc::channel::<String>();
        let warn = Mutex::new(warn);
        let telemetry = Telemetry::start_with_warnings(
            &suite.config,
            Arc::new(move |w: &str| {
                if let Ok(tx) = warn.lock() {
                    let _ = tx.send(w.to_owned());
                }
            }),
        )?;
        Ok(Session::start(
            suite,
            Held::Owned(Box::new(telemetry)),
            reporter,
            warnings,
            names,
        ))
    }

    fn start(
        suite: Suite,
        telemetry: Held<'a>,
        reporter: Box<dyn Reporter + 'a>,
        warnings: mpsc::Receiver<String>,
        names: &[String],
    ) -> Session<'a> {
        // The live view hears everything the caller's reporter hears.
        #[allow(unused_mut)]
        let mut reporters: Vec<Box<dyn Reporter + 'a>> = vec![reporter];
        #[cfg(feature = "live")]
        if let Some(hub) = telemetry.live() {
            reporters.push(Box::new(hub.clone()));
        }
        let endpoints = Endpoints {
            metrics: telemetry.prometheus_addr(),
            live: telemetry.live_addr(),
        };
        let mut session = Session {
            suite,
            telemetry,
            reporter: Fanout::new(reporters),
            warnings,
            started: Instant::now(),
            started_at: unix_now(),
            machine: crate::measure::machine::machine_fingerprint(),
            benchmarks: Vec::new(),
            failures: Vec::new(),
            #[cfg(feature = "traces")]
            spans: None,
        };
        session.record_run(0.0);
        session.reporter.suite_started(names, &endpoints);
        // Spans go to this pipeline's tracer on this thread only.
        #[cfg(feature = "traces")]
        if let Some(dispatch) = session.telemetry.dispatch() {
            let guard = tracing::dispatcher::set_default(dispatch);
            let span = tracing::info_span!(
                "suite",
                otel.name = "benchmark suite",
                benchmarks = names.len() as i64
            );
            session.spans = Some((guard, span.entered()));
        }
        session
    }

    /// Delivers the warnings raised so far.
    fn drain_warnings(&mut self) {
        while let Ok(w) = self.warnings.try_recv() {
            self.reporter.warning(&w);
        }
    }

    /// Measures one benchmark named `name`: `body` is given the bencher.
    /// `labels` go on its metrics beside the options' own.
    pub(crate) fn bench(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        options: BenchOptions,
        body: &mut dyn FnMut(&mut Bencher<'_>),
    ) {
        self.drain_warnings();
        self.reporter.bench_started(&name);
        #[cfg(feature = "traces")]
        let span = tracing::info_span!("benchmark", otel.name = %name, benchmark.name = %name);
        #[cfg(feature = "traces")]
        let entered = span.enter();
        // For a failure's series: the attribute's labels and the case's.
        let case_labels: Vec<(String, String)> = options
            .labels
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .chain(labels.iter().cloned())
            .collect();
        let outcome = self.measure(&name, labels, &options, body);
        #[cfg(feature = "traces")]
        drop(entered);
        let config = &self.suite.config;
        match outcome {
            Ok(result) => {
                #[cfg(feature = "traces")]
                annotate(&span, &result);
                #[cfg(feature = "traces")]
                let trace = trace_ref(&span);
                #[cfg(not(feature = "traces"))]
                let trace = None;
                self.telemetry.instruments().record_bench_traced(
                    &result,
                    &config.environment,
                    &config.commit,
                    trace.as_ref(),
                );
                self.reporter.bench_finished(&result);
                self.benchmarks.push(result);
                self.drain_warnings();
            }
            Err(error) => {
                #[cfg(feature = "traces")]
                {
                    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
                    span.set_attribute("error.message", error.to_string());
                }
                self.telemetry.instruments().record_failure(
                    &name,
                    &case_labels,
                    &config.environment,
                );
                self.reporter.bench_failed(&name, &error);
                self.failures.push(Failure {
                    name,
                    error: error.to_string(),
                });
            }
        }
    }

    /// Measures each case of the registry's benchmarks in turn.
    fn bench_cases(&mut self, cases: Vec<(&Benchmark, Case)>) {
        for (bench, case) in cases {
            self.bench(
                case.name.clone(),
                case.labels.clone(),
                case.options.clone(),
                &mut |b| bench.run_case(b, &case),
            );
        }
    }

    /// Records the run's identity: `ended_at` 0 while it goes on.
    fn record_run(&self, ended_at: f64) {
        let config = &self.suite.config;
        self.telemetry.instruments().record_run(
            &RunLabels {
                machine: &self.machine,
                started_at: self.started_at,
                commit: &config.commit,
                branch: &config.branch,
                environment: &config.environment,
            },
            ended_at,
        );
    }

    /// Ends the run: records the suite's figures, tells the reporter, and
    /// shuts down the session's own pipeline (after the configured linger);
    /// how each push exporter fared is in the run's `exports`.
    pub(crate) fn close(self) -> SuiteRun {
        self.close_lingering(false).0
    }

    /// [`Session::close`], except that with `defer` a pipeline that
    /// lingers (`--serve-after`) does not make the caller wait: its push
    /// exporters are flushed now (the run's `exports` say how they fared),
    /// and the returned [`Lingering`] keeps `/metrics` up for the linger and
    /// then shuts the pipeline down, once the caller has written the run's
    /// table and files.
    pub(crate) fn close_lingering(mut self, defer: bool) -> (SuiteRun, Option<Lingering>) {
        let config = &self.suite.config;
        let mut run = SuiteRun {
            schema_version: SCHEMA_VERSION,
            benchscope_version: env!("CARGO_PKG_VERSION").into(),
            started_at: self.started_at,
            duration_s: self.started.elapsed().as_secs_f64(),
            environment: config.environment.clone(),
            commit: config.commit.clone(),
            branch: config.branch.clone(),
            benchmarks: std::mem::take(&mut self.benchmarks),
            failures: std::mem::take(&mut self.failures),
            exports: Vec::new(),
            complexity: Vec::new(),
        };
        run.complexity = SuiteRun::fit_complexity(&run.benchmarks);
        self.telemetry
            .instruments()
            .record_complexity(&run.complexity, &config.environment);
        self.record_run(run.started_at + run.duration_s);
        self.telemetry.instruments().record_suite(
            run.duration_s,
            self.suite.passed(&run),
            &Pipeline {
                pipeline: &config.pipeline,
                branch: &config.branch,
                trigger: &config.trigger,
            },
        );
        self.reporter.suite_finished(&run);
        // The suite's span ends before its pipeline is flushed.
        #[cfg(feature = "traces")]
        drop(self.spans.take());
        let Session {
            telemetry,
            mut reporter,
            warnings,
            ..
        } = self;
        let mut lingering = None;
        if let Held::Owned(mut telemetry) = telemetry {
            if defer && !telemetry.linger().is_zero() {
                run.exports = telemetry.settle();
                while let Ok(w) = warnings.try_recv() {
                    reporter.warning(&w);
                }
                lingering = Some(Lingering(telemetry));
            } else {
                let shutdown = telemetry.shutdown();
                while let Ok(w) = warnings.try_recv() {
                    reporter.warning(&w);
                }
                match shutdown {
                    Ok(statuses) => run.exports = statuses,
                    Err(e) => reporter.warning(&e.to_string()),
                }
            }
        }
        (run, lingering)
    }

    fn measure(
        &mut self,
        name: &str,
        labels: Vec<(String, String)>,
        options: &BenchOptions,
        body: &mut dyn FnMut(&mut Bencher<'_>),
    ) -> Result<BenchResult, Error> {
        let settings = self.suite.measurement.resolve(options);
        let resources = self.telemetry.resources();
        if let Some(r) = resources {
            r.take_peak();
        }
        let reporter = &mut self.reporter;
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
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut bencher)));
        let measurement = bencher.into_measurement();
        if let Some(r) = resources {
            r.set_phase(Phase::Idle);
        }
        if let Err(panic) = outcome {
            return Err(Error::Panicked {
                name: name.into(),
                message: panic_message(panic.as_ref()),
            });
        }
        let measurement = measurement.ok_or_else(|| Error::NeverIterated(name.into()))?;
        let iterations = measurement.batch * measurement.samples_ns.len() as u64;
        let allocations = measurement.allocations.map(|a| {
            let per = |v: u64| v as f64 / iterations.max(1) as f64;
            Allocations {
                allocs: per(a.allocs),
                deallocs: per(a.deallocs),
                bytes: per(a.bytes),
                peak_bytes: a.peak_bytes,
            }
        });
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
                .chain(labels)
                .collect(),
            iterations,
            batch: measurement.batch,
            warmup_iterations: measurement.warmup_iterations,
            samples_ns: measurement.samples_ns,
            stats,
            throughput,
            peak_rss_mb: resources.and_then(|r| r.take_peak()),
            finished_at: unix_now(),
            baseline: None,
            incomparable: None,
            allocations,
            instructions: None,
            disturbance: measurement.disturbance,
        };
        if let Some(counting) = &self.suite.counting {
            let index = self.benchmarks.len() + self.failures.len();
            let counted = std::env::current_exe()
                .map_err(|e| format!("cannot find this program to run it under Callgrind: {e}"))
                .and_then(|exe| counting.count(&exe, name, index));
            // A count that fails costs the count, not the time measured:
            // the result is kept and the failure listed (exit code 1).
            match counted {
                Ok(counted) => {
                    result.instructions = Some(counted);
                    // A flame graph that cannot be drawn costs a warning.
                    if let Some(Err(e)) = counting.flame(name, index) {
                        self.reporter
                            .warning(&format!("benchmark `{name}`: no flame graph: {e}"));
                    }
                }
                Err(message) => {
                    let error = Error::Counting {
                        name: name.into(),
                        message,
                    };
                    self.reporter.warning(&error.to_string());
                    self.failures.push(Failure {
                        name: name.into(),
                        error: error.to_string(),
                    });
                }
            }
        }
        if let Some(baseline) = &self.suite.baseline {
            let mut policy = self.suite.config.regression;
            policy.alpha = options.significance.unwrap_or(policy.alpha);
            policy.noise_floor = options.noise_threshold.unwrap_or(policy.noise_floor);
            match baseline.compare(&result, &policy) {
                Ok(comparison) => result.baseline = comparison,
                Err(reason) => result.incomparable = Some(reason),
            }
        }
        Ok(result)
    }
}

/// Every case of `benchmarks`, in order.
pub(crate) fn cases_of<'b>(benchmarks: &[&'b Benchmark]) -> Vec<(&'b Benchmark, Case)> {
    benchmarks
        .iter()
        .flat_map(|&bench| bench.cases().into_iter().map(move |case| (bench, case)))
        .collect()
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into())
}

/// The trace and span of a benchmark's span, for its exemplars; `None`
/// when no span exporter made it an OpenTelemetry span.
#[cfg(feature = "traces")]
fn trace_ref(span: &tracing::Span) -> Option<crate::otel::exemplars::TraceRef> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| crate::otel::exemplars::TraceRef {
            trace_id: span_context.trace_id().to_string(),
            span_id: span_context.span_id().to_string(),
        })
}

/// Puts a benchmark's statistics on its span.
#[cfg(feature = "traces")]
fn annotate(span: &tracing::Span, result: &BenchResult) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let s = &result.stats;
    for (key, value) in [
        ("benchmark.mean_ns", s.mean),
        ("benchmark.median_ns", s.p50),
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
