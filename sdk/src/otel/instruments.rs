//! The OpenTelemetry instruments benchscope records into, one per metric of
//! the [catalogue](super::catalogue), and what a finished benchmark, a
//! comparison, a failure and a suite record.
//!
//! Everything here runs outside the timed region, after a benchmark's
//! samples are taken.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};

use super::catalogue::*;
use super::exemplars::{Exemplars, TraceRef, series_key};
use crate::results::{BaselineComparison, BenchResult, ComplexityResult};

/// Instrumentation scope name of every benchscope instrument.
pub(crate) const SCOPE: &str = "benchscope";

/// Builds the `benchmark_execution_time_ms` histogram; the runner and
/// application mode both call this so they describe the same instrument.
pub fn execution_time_histogram(meter: &Meter, buckets_ms: &[f64]) -> Histogram<f64> {
    meter
        .f64_histogram(EXECUTION_TIME.name)
        .with_unit(EXECUTION_TIME.unit)
        .with_description(EXECUTION_TIME.description)
        .with_boundaries(buckets_ms.to_vec())
        .build()
}

/// Every instrument the suite records into.
#[derive(Debug, Clone)]
pub struct Instruments {
    execution_time: Histogram<f64>,
    /// The execution-time histogram's buckets and its exemplars.
    buckets_ms: Arc<[f64]>,
    exemplars: Arc<Exemplars>,
    speedup: Gauge<f64>,
    regressions: Counter<u64>,
    pub(crate) memory: Gauge<f64>,
    pub(crate) cpu: Gauge<f64>,
    suite_duration: Histogram<f64>,
    ci_status: Gauge<u64>,
    mean: Gauge<f64>,
    percentile: Gauge<f64>,
    std_dev: Gauge<f64>,
    mad: Gauge<f64>,
    confidence: Gauge<f64>,
    outliers: Gauge<u64>,
    samples: Gauge<u64>,
    iterations: Counter<u64>,
    throughput: Gauge<f64>,
    baseline: Gauge<f64>,
    change: Gauge<f64>,
    runs: Counter<u64>,
    last_run: Gauge<f64>,
    allocations: Gauge<f64>,
    allocated_bytes: Gauge<f64>,
    peak_live_bytes: Gauge<u64>,
    complexity: Gauge<u64>,
    instructions: Gauge<f64>,
    cache_misses: Gauge<f64>,
    cycles: Gauge<f64>,
    disturbed: Gauge<u64>,
    retaken: Gauge<u64>,
    run_info: Gauge<f64>,
}

fn gauge(meter: &Meter, spec: MetricSpec) -> Gauge<f64> {
    meter
        .f64_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn u_gauge(meter: &Meter, spec: MetricSpec) -> Gauge<u64> {
    meter
        .u64_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn counter(meter: &Meter, spec: MetricSpec) -> Counter<u64> {
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

/// What identifies a suite run, for [`RUN_INFO`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunLabels<'a> {
    /// The machine ([`machine_fingerprint`](crate::measure::machine::machine_fingerprint)).
    pub machine: &'a str,
    /// Unix time the run started, in seconds (written to the millisecond).
    pub started_at: f64,
    /// The commit measured.
    pub commit: &'a str,
    /// The branch measured.
    pub branch: &'a str,
    /// The environment label.
    pub environment: &'a str,
}

/// Labels of the suite's pipeline, for `ci_pipeline_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline<'a> {
    /// The pipeline (workflow) name.
    pub pipeline: &'a str,
    /// The branch.
    pub branch: &'a str,
    /// What started it (push, pull_request, schedule, manual).
    pub trigger: &'a str,
}

impl Instruments {
    /// Creates every instrument on `meter` (the benches' entry point; a
    /// pipeline's instruments share their exemplars with its exporter).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn new(meter: &Meter, buckets_ms: &[f64]) -> Instruments {
        Instruments::with_exemplars(meter, buckets_ms, Arc::default())
    }

    /// Like [`Instruments::new`], keeping the execution-time histogram's
    /// exemplars in `exemplars` (which the Prometheus exporter reads).
    pub(crate) fn with_exemplars(
        meter: &Meter,
        buckets_ms: &[f64],
        exemplars: Arc<Exemplars>,
    ) -> Instruments {
        let build_info = u_gauge(meter, BUILD_INFO);
        build_info.record(1, &[KeyValue::new("version", env!("CARGO_PKG_VERSION"))]);
        Instruments {
            execution_time: execution_time_histogram(meter, buckets_ms),
            buckets_ms: buckets_ms.into(),
            exemplars,
            speedup: gauge(meter, SPEEDUP_RATIO),
            run_info: gauge(meter, RUN_INFO),
            regressions: counter(meter, REGRESSIONS),
            memory: gauge(meter, MEMORY),
            cpu: gauge(meter, CPU),
            suite_duration: meter
                .f64_histogram(SUITE_DURATION.name)
                .with_unit(SUITE_DURATION.unit)
                .with_description(SUITE_DURATION.description)
                .with_boundaries(vec![
                    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                ])
                .build(),
            ci_status: u_gauge(meter, CI_STATUS),
            mean: gauge(meter, MEAN),
            percentile: gauge(meter, PERCENTILE),
            std_dev: gauge(meter, STD_DEV),
            mad: gauge(meter, MAD),
            confidence: gauge(meter, CONFIDENCE),
            outliers: u_gauge(meter, OUTLIERS),
            samples: u_gauge(meter, SAMPLES),
            iterations: counter(meter, ITERATIONS),
            throughput: gauge(meter, THROUGHPUT),
            baseline: gauge(meter, BASELINE),
            change: gauge(meter, CHANGE),
            runs: counter(meter, RUNS),
            last_run: gauge(meter, LAST_RUN),
            allocations: gauge(meter, ALLOCATIONS),
            allocated_bytes: gauge(meter, ALLOCATED_BYTES),
            peak_live_bytes: u_gauge(meter, PEAK_LIVE_BYTES),
            complexity: u_gauge(meter, COMPLEXITY),
            instructions: gauge(meter, INSTRUCTIONS),
            cache_misses: gauge(meter, CACHE_MISSES),
            cycles: gauge(meter, CYCLES),
            disturbed: u_gauge(meter, DISTURBED),
            retaken: u_gauge(meter, RETAKEN),
        }
    }

    /// Records one finished benchmark: its samples into the histogram, its
    /// statistics into the gauges, and its comparison with the baseline.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn record_bench(&self, result: &BenchResult, environment: &str, commit: &str) {
        self.record_bench_traced(result, environment, commit, None);
    }

    /// Like [`Instruments::record_bench`], the histogram's exemplars
    /// pointing into `trace`, the benchmark's span.
    pub(crate) fn record_bench_traced(
        &self,
        result: &BenchResult,
        environment: &str,
        commit: &str,
        trace: Option<&TraceRef>,
    ) {
        let mut base = vec![
            KeyValue::new("benchmark_name", result.name.clone()),
            KeyValue::new("environment", environment.to_owned()),
        ];
        base.extend(
            result
                .labels
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let with = |key: &'static str, value: &'static str| {
            let mut attrs = base.clone();
            attrs.push(KeyValue::new(key, value));
            attrs
        };
        let ms = |ns: f64| ns / 1e6;

        // Bound once, so each sample is a record into a known series.
        let execution_time = self.execution_time.bind(&base);
        for &sample in &result.samples_ns {
            execution_time.record(ms(sample));
        }
        self.exemplars.offer(
            series_key(base.iter()),
            &self.buckets_ms,
            result.samples_ns.iter().map(|&ns| ms(ns)),
            (result.finished_at * 1e3) as i64,
            trace,
        );
        let s = &result.stats;
        self.mean.record(ms(s.mean), &base);
        for (label, value) in PERCENTILES.iter().zip([s.p50, s.p95, s.p99]) {
            self.percentile
                .record(ms(value), &with("percentile", label));
        }
        self.std_dev.record(ms(s.std_dev), &base);
        self.mad.record(ms(s.mad), &base);
        self.confidence
            .record(ms(s.ci_lower), &with("bound", "lower"));
        self.confidence
            .record(ms(s.ci_upper), &with("bound", "upper"));
        let o = s.outliers;
        for (class, n) in [
            ("low_severe", o.low_severe),
            ("low_mild", o.low_mild),
            ("high_mild", o.high_mild),
            ("high_severe", o.high_severe),
        ] {
            self.outliers.record(n as u64, &with("class", class));
        }
        self.samples.record(s.samples as u64, &base);
        self.iterations.add(result.iterations, &base);
        if let Some(t) = &result.throughput {
            let mut attrs = base.clone();
            attrs.push(KeyValue::new("unit", t.unit.clone()));
            self.throughput.record(t.per_second, &attrs);
        }
        if let Some(d) = &result.disturbance {
            self.disturbed.record(u64::from(d.disturbed), &base);
            self.retaken.record(u64::from(d.retaken), &base);
        }
        if let Some(a) = &result.allocations {
            self.allocations.record(a.allocs, &with("op", "alloc"));
            self.allocations.record(a.deallocs, &with("op", "dealloc"));
            self.allocated_bytes.record(a.bytes, &base);
            self.peak_live_bytes.record(a.peak_bytes, &base);
        }
        if let Some(i) = &result.instructions {
            self.instructions.record(i.instructions, &base);
            if let Some(l1) = i.l1_misses {
                self.cache_misses.record(l1, &with("level", "l1"));
            }
            if let Some(ll) = i.ll_misses {
                self.cache_misses.record(ll, &with("level", "ll"));
            }
            if let Some(cycles) = i.cycles {
                self.cycles.record(cycles, &base);
            }
        }
        self.runs.add(1, &with("status", "ok"));
        self.last_run.record(result.finished_at, &base);

        if let Some(cmp) = &result.baseline {
            self.record_comparison(&result.name, &result.labels, cmp, commit);
        }
    }

    /// Records a comparison with the baseline: speedups, baseline times, the
    /// change, and a regression when there is one. `labels` (the
    /// benchmark's own, and its case's) go on every series.
    pub fn record_comparison(
        &self,
        name: &str,
        labels: &[(String, String)],
        cmp: &BaselineComparison,
        commit: &str,
    ) {
        let ms = |ns: f64| ns / 1e6;
        let with = |mut attrs: Vec<KeyValue>| {
            attrs.push(KeyValue::new("benchmark_name", name.to_owned()));
            attrs.extend(
                labels
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
            );
            attrs
        };
        let version = KeyValue::new("baseline_version", cmp.baseline_version.clone());
        for (i, label) in PERCENTILES.iter().enumerate() {
            let attrs = with(vec![KeyValue::new("percentile", *label), version.clone()]);
            self.speedup.record(cmp.speedup[i], &attrs);
            self.baseline.record(ms(cmp.baseline_ns[i]), &attrs);
        }
        self.change
            .record(cmp.comparison.change * 100.0, &with(vec![version.clone()]));
        if let Some(severity) = cmp.severity() {
            self.regressions.add(
                1,
                &with(vec![
                    KeyValue::new("severity", severity.as_str()),
                    KeyValue::new("commit_hash", commit.to_owned()),
                ]),
            );
        }
    }

    /// Records the run's identity ([`RUN_INFO`]): `ended_at` 0 while it
    /// goes on, then the Unix time it ended.
    pub fn record_run(&self, run: &RunLabels<'_>, ended_at: f64) {
        self.run_info.record(
            ended_at,
            &[
                KeyValue::new("machine", run.machine.to_owned()),
                KeyValue::new("started_at", format!("{:.3}", run.started_at)),
                KeyValue::new("commit_hash", run.commit.to_owned()),
                KeyValue::new("branch", run.branch.to_owned()),
                KeyValue::new("environment", run.environment.to_owned()),
            ],
        );
    }

    /// Records the complexity classes fitted at the end of a run.
    pub fn record_complexity(&self, fits: &[ComplexityResult], environment: &str) {
        for fit in fits {
            self.complexity.record(
                fit.fit.class.rank(),
                &[
                    KeyValue::new("benchmark_name", fit.benchmark.clone()),
                    KeyValue::new("environment", environment.to_owned()),
                    KeyValue::new("measure", fit.measure.as_str()),
                    KeyValue::new("class", fit.fit.class.as_str()),
                ],
            );
        }
    }

    /// Records a benchmark that failed (panicked or never iterated), with
    /// its case's labels.
    pub fn record_failure(&self, name: &str, labels: &[(String, String)], environment: &str) {
        let mut attrs = vec![
            KeyValue::new("benchmark_name", name.to_owned()),
            KeyValue::new("environment", environment.to_owned()),
            KeyValue::new("status", "failed"),
        ];
        attrs.extend(
            labels
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        self.runs.add(1, &attrs);
    }

    /// Records the end of a suite: its duration and the pipeline status.
    pub fn record_suite(&self, duration_s: f64, passed: bool, pipeline: &Pipeline<'_>) {
        self.suite_duration.record(duration_s, &[]);
        self.record_ci_status(passed, pipeline);
    }

    /// Records the pipeline's status: 1 pass, 0 fail.
    pub fn record_ci_status(&self, passed: bool, pipeline: &Pipeline<'_>) {
        self.ci_status.record(
            u64::from(passed),
            &[
                KeyValue::new("pipeline", pipeline.pipeline.to_owned()),
                KeyValue::new("branch", pipeline.branch.to_owned()),
                KeyValue::new("trigger", pipeline.trigger.to_owned()),
            ],
        );
    }
}
