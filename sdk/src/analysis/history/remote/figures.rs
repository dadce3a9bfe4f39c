//! What a run's figures in the backend make: the series read for each
//! benchmark, and the result they give back.

use std::collections::BTreeMap;

use crate::measure::disturbance::Disturbance;
use crate::measure::stats::{Outliers, Stats};
use crate::results::{Allocations, BenchResult, Instructions, ThroughputResult};

/// The series read for a whole run, with any extra matcher.
pub(super) const READ: &[(&str, &str)] = &[
    ("benchmark_mean_ms", ""),
    ("benchmark_std_dev_ms", ""),
    ("benchmark_mad_ms", ""),
    ("benchmark_samples", ""),
    ("benchmark_percentile_ms", ""),
    ("benchmark_confidence_interval_ms", ""),
    ("benchmark_outliers", ""),
    ("benchmark_iterations_total", ""),
    ("benchmark_throughput_per_second", ""),
    ("benchmark_allocations_per_iteration", ""),
    ("benchmark_allocated_bytes_per_iteration", ""),
    ("benchmark_peak_live_bytes", ""),
    ("benchmark_instructions_per_iteration", ""),
    ("benchmark_cache_misses_per_iteration", ""),
    ("benchmark_estimated_cycles_per_iteration", ""),
    ("benchmark_disturbed", ""),
    ("benchmark_retaken_samples", ""),
    ("benchmark_last_run_timestamp_seconds", ""),
    ("benchmark_runs_total", "status=\"failed\""),
];

/// One benchmark's figures in a run, by `metric/label`.
#[derive(Debug, Default)]
pub(super) struct Figures {
    pub(super) labels: Vec<(String, String)>,
    pub(super) values: BTreeMap<String, f64>,
}

impl Figures {
    pub(super) fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).copied()
    }

    /// The result these figures make; `None` without a mean and a sample
    /// count (a benchmark that failed, or figures cut off).
    pub(super) fn result(&self, name: &str) -> Option<BenchResult> {
        let ns = |key: &str| self.get(key).map(|ms| ms * 1e6);
        let mean = ns("benchmark_mean_ms/")?;
        let samples = self.get("benchmark_samples/")? as usize;
        let p50 = ns("benchmark_percentile_ms/p50").unwrap_or(mean);
        let count = |class: &str| {
            self.get(&format!("benchmark_outliers/{class}"))
                .unwrap_or(0.0) as usize
        };
        let stats = Stats {
            samples,
            mean,
            p50,
            p95: ns("benchmark_percentile_ms/p95").unwrap_or(p50),
            p99: ns("benchmark_percentile_ms/p99").unwrap_or(p50),
            min: p50,
            max: p50,
            std_dev: ns("benchmark_std_dev_ms/").unwrap_or(0.0),
            mad: ns("benchmark_mad_ms/").unwrap_or(0.0),
            ci_lower: ns("benchmark_confidence_interval_ms/lower").unwrap_or(mean),
            ci_upper: ns("benchmark_confidence_interval_ms/upper").unwrap_or(mean),
            outliers: Outliers {
                low_severe: count("low_severe"),
                low_mild: count("low_mild"),
                high_mild: count("high_mild"),
                high_severe: count("high_severe"),
            },
        };
        let iterations = self
            .get("benchmark_iterations_total/")
            .map_or(samples as u64, |i| i as u64);
        let throughput = self
            .values
            .iter()
            .find_map(|(k, v)| Some((k.strip_prefix("benchmark_throughput_per_second/")?, *v)))
            .map(|(unit, per_second)| ThroughputResult {
                unit: unit.to_owned(),
                per_iteration: (per_second * mean / 1e9).round() as u64,
                per_second,
            });
        let allocations = self
            .get("benchmark_allocations_per_iteration/alloc")
            .map(|allocs| Allocations {
                allocs,
                deallocs: self
                    .get("benchmark_allocations_per_iteration/dealloc")
                    .unwrap_or(0.0),
                bytes: self
                    .get("benchmark_allocated_bytes_per_iteration/")
                    .unwrap_or(0.0),
                peak_bytes: self.get("benchmark_peak_live_bytes/").unwrap_or(0.0) as u64,
            });
        let instructions = self
            .get("benchmark_instructions_per_iteration/")
            .map(|instructions| Instructions {
                iterations,
                instructions,
                l1_misses: self.get("benchmark_cache_misses_per_iteration/l1"),
                ll_misses: self.get("benchmark_cache_misses_per_iteration/ll"),
                cycles: self.get("benchmark_estimated_cycles_per_iteration/"),
            });
        let disturbance = self.get("benchmark_disturbed/").map(|d| Disturbance {
            disturbed: d >= 1.0,
            retaken: self.get("benchmark_retaken_samples/").unwrap_or(0.0) as u32,
            ..Disturbance::default()
        });
        Some(BenchResult {
            name: name.to_owned(),
            labels: self.labels.clone(),
            samples_ns: Vec::new(),
            batch: (iterations / samples.max(1) as u64).max(1),
            iterations,
            warmup_iterations: 0,
            stats,
            throughput,
            peak_rss_mb: None,
            finished_at: self
                .get("benchmark_last_run_timestamp_seconds/")
                .unwrap_or(0.0),
            baseline: None,
            incomparable: None,
            allocations,
            instructions,
            disturbance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_make_a_result_that_passes_the_check() {
        let mut f = Figures::default();
        for (k, v) in [
            ("benchmark_mean_ms/", 2.0),
            ("benchmark_samples/", 50.0),
            ("benchmark_std_dev_ms/", 0.1),
            ("benchmark_percentile_ms/p50", 1.9),
            ("benchmark_iterations_total/", 5000.0),
            ("benchmark_allocations_per_iteration/alloc", 3.0),
        ] {
            f.values.insert(k.into(), v);
        }
        let r = f.result("x").unwrap();
        assert_eq!(r.stats.mean, 2e6);
        assert_eq!(r.batch, 100);
        assert_eq!(r.allocations.unwrap().allocs, 3.0);
        r.check().unwrap();
        assert!(Figures::default().result("x").is_none());
    }
}
