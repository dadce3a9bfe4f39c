//! The metrics benchscope exports, named with their final Prometheus names
//! so that every export path shows the same names. [`CATALOGUE`] is the
//! source of the README's metric table (a test holds them together) and of
//! the instruments' names, units and descriptions.
//!
//! ```
//! let names: Vec<&str> = benchscope::metrics::CATALOGUE.iter().map(|m| m.name).collect();
//! assert!(names.contains(&"benchmark_execution_time_ms"));
//! ```

/// A metric benchscope exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
        "Units of work (bytes, elements or bits) per second at the mean time, for benchmarks that declare a throughput.";
    BASELINE = "benchmark_baseline_ms", "gauge", "ms", ["benchmark_name", "percentile", "baseline_version"],
        "The baseline's time per iteration at p50, p95 and p99, in milliseconds.";
    CHANGE = "benchmark_change_percent", "gauge", "%", ["benchmark_name", "baseline_version"],
        "Change of the mean against the baseline, in percent; positive is slower.";
    RUNS = "benchmark_runs_total", "counter", "1", ["benchmark_name", "environment", "status"],
        "Benchmark runs by outcome (ok, failed).";
    LAST_RUN = "benchmark_last_run_timestamp_seconds", "gauge", "s", ["benchmark_name", "environment"],
        "Unix time at which the benchmark last finished.";
    ALLOCATIONS = "benchmark_allocations_per_iteration", "gauge", "1", ["benchmark_name", "environment", "op"],
        "Allocations (op=\"alloc\") and deallocations (op=\"dealloc\") per iteration in the latest run, with benchscope::CountingAlloc installed.";
    ALLOCATED_BYTES = "benchmark_allocated_bytes_per_iteration", "gauge", "By", ["benchmark_name", "environment"],
        "Bytes allocated per iteration in the latest run, with benchscope::CountingAlloc installed.";
    PEAK_LIVE_BYTES = "benchmark_peak_live_bytes", "gauge", "By", ["benchmark_name", "environment"],
        "Most bytes live at once during a sample above its start, in the latest run, with benchscope::CountingAlloc installed.";
    INSTRUCTIONS = "benchmark_instructions_per_iteration", "gauge", "1", ["benchmark_name", "environment"],
        "Instructions per iteration counted under Valgrind's Callgrind in the latest run (--measure instructions).";
    CACHE_MISSES = "benchmark_cache_misses_per_iteration", "gauge", "1", ["benchmark_name", "environment", "level"],
        "L1 (level=\"l1\") and last-level (level=\"ll\") cache misses per iteration in the latest run (--measure instructions --cache-sim).";
    CYCLES = "benchmark_estimated_cycles_per_iteration", "gauge", "1", ["benchmark_name", "environment"],
        "Estimated cycles per iteration, instructions + 10 x L1 misses + 100 x last-level misses, in the latest run (--measure instructions --cache-sim).";
    COMPLEXITY = "benchmark_complexity_class", "gauge", "1", ["benchmark_name", "environment", "measure", "class"],
        "Complexity class fitted to a benchmark's sizes (measure time or allocated_bytes): 0 O(1), 1 O(log n), 2 O(n), 3 O(n log n), 4 O(n^2), 5 O(n^3); the class label names it.";
    DISTURBED = "benchmark_disturbed", "gauge", "1", ["benchmark_name", "environment"],
        "1 when the latest run's measurement stayed disturbed by the rest of the machine (more disturbed samples than could be retaken), else 0.";
    RETAKEN = "benchmark_retaken_samples", "gauge", "1", ["benchmark_name", "environment"],
        "Samples of the latest run found disturbed (the thread waited for a CPU, or the host stole it, for over 1 % of the sample) and taken again.";
    RUN_INFO = "benchscope_run_info", "gauge", "s", ["machine", "started_at", "commit_hash", "branch", "environment"],
        "One series per suite run, its identity in the labels (the machine, the start as Unix seconds, the commit and branch): 0 while the run goes on, then the Unix time it ended. A history in a metrics backend lists its runs by it; the per-benchmark series carry no label of the run.";
    BUILD_INFO = "benchscope_build_info", "gauge", "1", ["version"],
        "Always 1; the benchscope version that produced the series.";
}

impl MetricSpec {
    /// What a run needs for this metric to appear, when it does not always
    /// appear: the flag that turns it on.
    ///
    /// ```
    /// use benchscope::metrics::{INSTRUCTIONS, MEAN};
    /// assert_eq!(MEAN.needs(), None);
    /// assert_eq!(INSTRUCTIONS.needs(), Some("--measure instructions"));
    /// ```
    pub fn needs(&self) -> Option<&'static str> {
        match self.name {
            "benchmark_instructions_per_iteration" => Some("--measure instructions"),
            "benchmark_cache_misses_per_iteration" | "benchmark_estimated_cycles_per_iteration" => {
                Some("--measure instructions --cache-sim")
            }
            _ => None,
        }
    }
}

/// Percentile label values, in the order of `speedup_ratio`'s series.
pub const PERCENTILES: [&str; 3] = ["p50", "p95", "p99"];
