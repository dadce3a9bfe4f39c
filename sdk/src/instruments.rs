//! The OpenTelemetry instruments benchscope records, named with their final
//! Prometheus names so that every export path shows the same names (see the
//! README's metric table; [`CATALOGUE`] is its source).
//!
//! Everything here runs outside the timed region, after a benchmark's
//! samples are taken.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};

use crate::regression::Verdict;
use crate::results::{BaselineComparison, BenchResult};

/// Instrumentation scope name of every benchscope instrument.
pub const SCOPE: &str = "benchscope";

/// A metric benchscope exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    /// The Prometheus-visible name.
    pub name: &'static str,
    /// `histogram`, `gauge` or `counter`.
    pub kind: &'static str,
    /// Unit, as OpenTelemetry metadata.
    pub unit: &'static str,
    /// Label names.
    pub labels: &'static [&'static str],
    /// What it means.
    pub description: &'static str,
}

macro_rules! catalogue {
    ($($id:ident = $name:literal, $kind:literal, $unit:literal, [$($label:literal),*], $desc:literal;)*) => {
        $(
            #[doc = $desc]
            pub const $id: MetricSpec = MetricSpec {
                name: $name, kind: $kind, unit: $unit, labels: &[$($label),*], description: $desc,
            };
        )*
        /// Every metric benchscope exports.
        pub const CATALOGUE: &[MetricSpec] = &[$($id),*];
    };
}

catalogue! {
    EXECUTION_TIME = "benchmark_execution_time_ms", "histogram", "ms", ["benchmark_name", "environment"],
        "Time per iteration of each sample (benchmarks) or of each call (application mode), in milliseconds.";
    SPEEDUP_RATIO = "speedup_ratio", "gauge", "1", ["benchmark_name", "percentile", "baseline_version"],
        "Baseline time divided by current time at p50, p95 and p99; above 1 is faster than the baseline.";
    REGRESSIONS = "performance_regression_detected_total", "counter", "1", ["benchmark_name", "severity", "commit_hash"],
        "Regressions detected against the baseline, by severity.";
    MEMORY = "memory_usage_mb", "gauge", "MiBy", ["process", "phase"],
        "Resident memory of the process in MiB, per phase (warmup, measure, idle) and its peak.";
    CPU = "cpu_utilization_percent", "gauge", "%", ["core", "process"],
        "CPU use in percent: the process over all cores (core=\"all\") and each core of the system (process=\"system\").";
    SUITE_DURATION = "benchmark_suite_duration_seconds", "histogram", "s", [],
        "Wall time of whole suite runs, in seconds.";
    CI_STATUS = "ci_pipeline_status", "gauge", "1", ["pipeline", "branch", "trigger"],
        "Outcome of the suite in its pipeline: 1 pass, 0 fail (a benchmark failed or regressed at or above the gate's severity).";
    MEAN = "benchmark_mean_ms", "gauge", "ms", ["benchmark_name", "environment"],
        "Mean time per iteration of the latest run, in milliseconds.";
    PERCENTILE = "benchmark_percentile_ms", "gauge", "ms", ["benchmark_name", "environment", "percentile"],
        "Time per iteration at p50, p95 and p99 of the latest run, in milliseconds.";
    STD_DEV = "benchmark_std_dev_ms", "gauge", "ms", ["benchmark_name", "environment"],
        "Standard deviation of the samples of the latest run, in milliseconds.";
    MAD = "benchmark_mad_ms", "gauge", "ms", ["benchmark_name", "environment"],
        "Median absolute deviation of the samples of the latest run, in milliseconds.";
    CONFIDENCE = "benchmark_confidence_interval_ms", "gauge", "ms", ["benchmark_name", "environment", "bound"],
        "Bounds (lower, upper) of the 95 % confidence interval of the mean, in milliseconds.";
    OUTLIERS = "benchmark_outliers", "gauge", "1", ["benchmark_name", "environment", "class"],
        "Samples outside Tukey's fences in the latest run, by class (low_severe, low_mild, high_mild, high_severe).";
    SAMPLES = "benchmark_samples", "gauge", "1", ["benchmark_name", "environment"],
        "Samples taken in the latest run.";
    ITERATIONS = "benchmark_iterations_total", "counter", "1", ["benchmark_name", "environment"],
        "Iterations measured (warm-up excluded), summed over runs.";
    THROUGHPUT = "benchmark_throughput_per_second", "gauge", "1/s", ["benchmark_name", "environment", "unit"],
        "Units of work (bytes or elements) per second at the mean time, for benchmarks that declare a throughput.";
    BASELINE = "benchmark_baseline_ms", "gauge", "ms", ["benchmark_name", "percentile", "baseline_version"],
        "The baseline's time per iteration at p50, p95 and p99, in milliseconds.";
    CHANGE = "benchmark_change_percent", "gauge", "%", ["benchmark_name", "baseline_version"],
        "Change of the mean against the baseline, in percent; positive is slower.";
    RUNS = "benchmark_runs_total", "counter", "1", ["benchmark_name", "environment", "status"],
        "Benchmark runs by outcome (ok, failed).";
    LAST_RUN = "benchmark_last_run_timestamp_seconds", "gauge", "s", ["benchmark_name", "environment"],
        "Unix time at which the benchmark last finished.";
    BUILD_INFO = "benchscope_build_info", "gauge", "1", ["version"],
        "Always 1; the benchscope version that produced the series.";
}

/// Percentile label values, in the order of `speedup_ratio`'s series.
pub const PERCENTILES: [&str; 3] = ["p50", "p95", "p99"];

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

/// Labels of the suite's pipeline, for `ci_pipeline_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// The pipeline (workflow) name.
    pub pipeline: String,
    /// The branch.
    pub branch: String,
    /// What started it (push, pull_request, schedule, manual).
    pub trigger: String,
}

impl Pipeline {
    /// Reads the pipeline from CI variables (GitHub Actions, GitLab CI), else
    /// `local` / `manual`.
    pub fn from_env(branch: &str) -> Pipeline {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Pipeline {
            pipeline: env("GITHUB_WORKFLOW")
                .or_else(|| env("CI_PIPELINE_NAME"))
                .or_else(|| env("CI_JOB_NAME"))
                .unwrap_or_else(|| "local".into()),
            branch: branch.to_owned(),
            trigger: env("GITHUB_EVENT_NAME")
                .or_else(|| env("CI_PIPELINE_SOURCE"))
                .unwrap_or_else(|| "manual".into()),
        }
    }
}

impl Instruments {
    /// Creates every instrument on `meter`.
    pub fn new(meter: &Meter, buckets_ms: &[f64]) -> Instruments {
        let build_info = u_gauge(meter, BUILD_INFO);
        build_info.record(1, &[KeyValue::new("version", env!("CARGO_PKG_VERSION"))]);
        Instruments {
            execution_time: execution_time_histogram(meter, buckets_ms),
            speedup: gauge(meter, SPEEDUP_RATIO),
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
        }
    }

    /// Records one finished benchmark: its samples into the histogram, its
    /// statistics into the gauges, and its comparison with the baseline.
    pub fn record_bench(&self, result: &BenchResult, environment: &str, commit: &str) {
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
        self.runs.add(1, &with("status", "ok"));
        self.last_run.record(result.finished_at, &base);

        if let Some(cmp) = &result.baseline {
            self.record_comparison(&result.name, cmp, commit);
        }
    }

    /// Records a comparison with the baseline: speedups, baseline times, the
    /// change, and a regression when there is one.
    pub fn record_comparison(&self, name: &str, cmp: &BaselineComparison, commit: &str) {
        let ms = |ns: f64| ns / 1e6;
        let version = KeyValue::new("baseline_version", cmp.baseline_version.clone());
        let name = KeyValue::new("benchmark_name", name.to_owned());
        for (i, label) in PERCENTILES.iter().enumerate() {
            let attrs = [
                name.clone(),
                KeyValue::new("percentile", *label),
                version.clone(),
            ];
            self.speedup.record(cmp.speedup[i], &attrs);
            self.baseline.record(ms(cmp.baseline_ns[i]), &attrs);
        }
        self.change.record(
            cmp.comparison.change * 100.0,
            &[name.clone(), version.clone()],
        );
        if let Verdict::Regressed(severity) = cmp.comparison.verdict {
            self.regressions.add(
                1,
                &[
                    name,
                    KeyValue::new("severity", severity.as_str()),
                    KeyValue::new("commit_hash", commit.to_owned()),
                ],
            );
        }
    }

    /// Records a benchmark that failed (panicked or never iterated).
    pub fn record_failure(&self, name: &str, environment: &str) {
        self.runs.add(
            1,
            &[
                KeyValue::new("benchmark_name", name.to_owned()),
                KeyValue::new("environment", environment.to_owned()),
                KeyValue::new("status", "failed"),
            ],
        );
    }

    /// Records the end of a suite: its duration and the pipeline status.
    pub fn record_suite(&self, duration_s: f64, passed: bool, pipeline: &Pipeline) {
        self.suite_duration.record(duration_s, &[]);
        self.record_ci_status(passed, pipeline);
    }

    /// Records the pipeline's status: 1 pass, 0 fail.
    pub fn record_ci_status(&self, passed: bool, pipeline: &Pipeline) {
        self.ci_status.record(
            u64::from(passed),
            &[
                KeyValue::new("pipeline", pipeline.pipeline.clone()),
                KeyValue::new("branch", pipeline.branch.clone()),
                KeyValue::new("trigger", pipeline.trigger.clone()),
            ],
        );
    }
}
