//! Baselines: an earlier run that the current one is compared with.
//!
//! A baseline is a results file written by `--output json` (so CI can carry
//! it as an artifact); its version, used as the `baseline_version` label, is
//! the commit it measured.

use std::path::Path;

use crate::error::Error;
use crate::regression::{Policy, compare};
use crate::results::{BaselineComparison, BenchResult, SuiteRun};

/// An earlier run to compare with.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The `baseline_version` label: the baseline's commit, or its file name
    /// when the commit is unknown.
    pub version: String,
    /// The run.
    pub run: SuiteRun,
}

impl Baseline {
    /// Loads a baseline from a results file.
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let run = SuiteRun::read_json(path)?;
        let version = if run.commit.is_empty() || run.commit == "unknown" {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "baseline".into())
        } else {
            run.commit.chars().take(12).collect()
        };
        Ok(Baseline { version, run })
    }

    /// Compares `current` with the same benchmark in the baseline; `None`
    /// when the baseline does not have it or either side has too few samples.
    pub fn compare(&self, current: &BenchResult, policy: &Policy) -> Option<BaselineComparison> {
        let base = self.run.get(&current.name)?;
        let comparison = compare(&base.samples_ns, &current.samples_ns, policy)?;
        let b = [base.stats.p50, base.stats.p95, base.stats.p99];
        let c = [current.stats.p50, current.stats.p95, current.stats.p99];
        Some(BaselineComparison {
            baseline_version: self.version.clone(),
            baseline_ns: b,
            speedup: [0, 1, 2].map(|i| if c[i] > 0.0 { b[i] / c[i] } else { f64::NAN }),
            comparison,
        })
    }
}
