//! The record of a suite run: what each benchmark measured and how it
//! compared with its baseline, as kept in memory, written by `--output json`
//! and read back as a baseline; the verdict types; and the [`Reporter`]
//! through which a run reports as it goes.

pub(crate) mod report;
pub(crate) mod verdict;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::measure::stats::Stats;
pub use report::Reporter;
pub use verdict::{BaselineComparison, Comparison, Severity, Verdict};

/// Version of the JSON results format; bumped on incompatible changes.
/// Version 1 also had `stats.median` (always equal to `stats.p50`); it is
/// read as version 2.
pub const SCHEMA_VERSION: u32 = 2;

/// One run of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRun {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// benchscope's version.
    pub benchscope_version: String,
    /// Unix time at which the suite started, in seconds.
    pub started_at: f64,
    /// Wall time of the suite, in seconds.
    pub duration_s: f64,
    /// The `environment` label.
    pub environment: String,
    /// The commit measured.
    pub commit: String,
    /// The branch measured.
    pub branch: String,
    /// Every benchmark that ran, in order.
    pub benchmarks: Vec<BenchResult>,
    /// Benchmarks that failed, with their errors.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// How each push exporter fared (empty without push exporters).
    #[serde(default)]
    pub exports: Vec<ExportStatus>,
}

/// A benchmark that did not produce a measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The benchmark.
    pub name: String,
    /// Why.
    pub error: String,
}

/// How one push exporter fared over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStatus {
    /// What it is, e.g. `OTLP metrics export to http://127.0.0.1:4318/v1/metrics`.
    pub exporter: String,
    /// Exports that succeeded.
    pub succeeded: u64,
    /// Exports that failed.
    pub failed: u64,
    /// The first failure's error.
    pub first_error: Option<String>,
}

/// One benchmark's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Full name (`group/name`).
    pub name: String,
    /// Extra labels from the attribute's `labels(...)`.
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    /// Time per iteration of each sample, in nanoseconds.
    pub samples_ns: Vec<f64>,
    /// Iterations per sample.
    pub batch: u64,
    /// Iterations measured in all (warm-up excluded).
    pub iterations: u64,
    /// Iterations run during warm-up.
    pub warmup_iterations: u64,
    /// Statistics of the samples, in nanoseconds.
    pub stats: Stats,
    /// Throughput, when declared.
    pub throughput: Option<ThroughputResult>,
    /// Peak resident memory of the process while the benchmark ran, in MiB.
    pub peak_rss_mb: Option<f64>,
    /// Unix time at which the benchmark finished, in seconds.
    pub finished_at: f64,
    /// Comparison with the baseline, when one was given.
    pub baseline: Option<BaselineComparison>,
}

/// Work per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputResult {
    /// `bytes` or `elements`.
    pub unit: String,
    /// Units per iteration.
    pub per_iteration: u64,
    /// Units per second at the mean time.
    pub per_second: f64,
}

impl BenchResult {
    /// A result made from per-iteration samples alone (one iteration per
    /// sample), e.g. to import figures from elsewhere or to build a test
    /// case; `None` when the samples are empty or not finite.
    ///
    /// ```
    /// let r = benchscope::BenchResult::from_samples("parse", vec![10.0, 12.0, 11.0]).unwrap();
    /// assert_eq!(r.stats.p50, 11.0);
    /// ```
    pub fn from_samples(name: impl Into<String>, samples_ns: Vec<f64>) -> Option<BenchResult> {
        Some(BenchResult {
            name: name.into(),
            labels: Vec::new(),
            stats: Stats::from_samples(&samples_ns)?,
            batch: 1,
            iterations: samples_ns.len() as u64,
            warmup_iterations: 0,
            samples_ns,
            throughput: None,
            peak_rss_mb: None,
            finished_at: unix_now(),
            baseline: None,
        })
    }
}

impl SuiteRun {
    /// A run of `benchmarks` at `commit` on `branch`, started now.
    ///
    /// ```
    /// let bench = benchscope::BenchResult::from_samples("parse", vec![10.0, 12.0]).unwrap();
    /// let run = benchscope::SuiteRun::new("c0ffee", "main", vec![bench]);
    /// assert!(run.get("parse").is_some());
    /// ```
    pub fn new(commit: &str, branch: &str, benchmarks: Vec<BenchResult>) -> SuiteRun {
        SuiteRun {
            schema_version: SCHEMA_VERSION,
            benchscope_version: env!("CARGO_PKG_VERSION").into(),
            started_at: unix_now(),
            duration_s: 0.0,
            environment: "dev".into(),
            commit: commit.into(),
            branch: branch.into(),
            benchmarks,
            failures: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// Writes the run as pretty JSON to `path`, creating parent directories.
    /// The file appears whole or not at all: it is written beside the
    /// target and renamed.
    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        let io = |action, source| Error::Io {
            action,
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the folder of", e))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::BadResults {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| io("cannot write results to", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("cannot write results to", e))
    }

    /// Reads a run written by [`SuiteRun::write_json`].
    pub fn read_json(path: &Path) -> Result<SuiteRun, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        })?;
        let bad = |message: String| Error::BadResults {
            path: path.to_owned(),
            message,
        };
        let mut run: SuiteRun = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if run.schema_version > SCHEMA_VERSION {
            return Err(bad(format!(
                "it has schema version {}, newer than the {SCHEMA_VERSION} this benchscope reads; upgrade benchscope",
                run.schema_version
            )));
        }
        run.schema_version = SCHEMA_VERSION;
        Ok(run)
    }

    /// The result of the benchmark named `name`.
    pub fn get(&self, name: &str) -> Option<&BenchResult> {
        self.benchmarks.iter().find(|b| b.name == name)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Crafted runs for the unit tests of the layers above.
#[cfg(all(test, any(feature = "history", feature = "cli")))]
pub(crate) mod fixtures {
    use super::{BenchResult, SuiteRun};

    /// A run at `commit` on `branch` with one benchmark per (name, mean):
    /// 20 samples spread by up to 2 ns around the mean.
    pub(crate) fn run(commit: &str, branch: &str, means: &[(&str, f64)]) -> SuiteRun {
        let benchmarks = means
            .iter()
            .map(|(name, mean)| {
                let samples: Vec<f64> = (0..20).map(|i| mean + i as f64 % 3.0).collect();
                BenchResult::from_samples(*name, samples).expect("finite samples")
            })
            .collect();
        SuiteRun::new(commit, branch, benchmarks)
    }
}
