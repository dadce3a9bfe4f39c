//! The suite runner: measures each selected benchmark in turn, summarises its
//! samples, compares it with the baseline, records everything through the
//! instruments, and tells a [`Reporter`] how it goes.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::baseline::Baseline;
use crate::bencher::{Bencher, Progress};
use crate::config::{Config, MeasurementConfig};
use crate::error::Error;
use crate::instruments::Pipeline;
use crate::registry::BenchEntry;
use crate::regression::Verdict;
use crate::resources::Phase;
use crate::results::{BenchResult, Failure, SCHEMA_VERSION, SuiteRun, ThroughputResult};
use crate::stats::Stats;
use crate::telemetry::Telemetry;

/// Hears how a suite run goes; the CLI's terminal view is one. Every method
/// is called between samples, never inside a timed region.
pub trait Reporter {
    /// The suite is about to run these benchmarks.
    fn suite_started(&mut self, _names: &[String], _metrics_addr: Option<SocketAddr>) {}
    /// A benchmark is starting.
    fn bench_started(&mut self, _name: &str) {}
    /// A benchmark progressed.
    fn progress(&mut self, _name: &str, _progress: Progress) {}
    /// A benchmark finished.
    fn bench_finished(&mut self, _result: &BenchResult) {}
    /// A benchmark failed; the suite goes on.
    fn bench_failed(&mut self, _name: &str, _error: &Error) {}
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
        let telemetry = Telemetry::start(&self.config)?;
        let run = self.run_in(&telemetry, entries, reporter);
        telemetry.shutdown(self.config.prometheus.linger)?;
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
        reporter.suite_started(&names, telemetry.prometheus_addr());
        let started = Instant::now();
        let started_at = unix_now();
        let mut benchmarks = Vec::with_capacity(entries.len());
        let mut failures = Vec::new();
        for (entry, name) in entries.iter().zip(names) {
            reporter.bench_started(&name);
            match self.measure(telemetry, entry, &name, reporter) {
                Ok(result) => {
                    telemetry.instruments().record_bench(
                        &result,
                        &self.config.environment,
                        &self.config.commit,
                    );
                    reporter.bench_finished(&result);
                    benchmarks.push(result);
                }
                Err(error) => {
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
        };
        telemetry.instruments().record_suite(
            run.duration_s,
            self.passed(&run),
            &Pipeline::from_env(&self.config.branch),
        );
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

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
