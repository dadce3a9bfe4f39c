//! How a benchmark compares with its baseline: the figures of the
//! comparison and the verdict. The test that produces them is
//! `analysis::regression`; these are the types every layer above shares.

use serde::{Deserialize, Serialize};

/// How bad a regression is, by its magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Beyond the noise floor, below `major`.
    Minor,
    /// From `major` to `critical`.
    Major,
    /// `critical` or more.
    Critical,
}

impl Severity {
    /// The `severity` label value.
    ///
    /// ```
    /// assert_eq!(benchscope::Severity::Major.as_str(), "major");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// The outcome of comparing a run with its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "severity")]
#[non_exhaustive]
pub enum Verdict {
    /// Significantly faster by more than the noise floor.
    Improved,
    /// No change that passes both the test and the noise floor.
    Unchanged,
    /// Significantly slower by more than the noise floor.
    Regressed(Severity),
}

impl Verdict {
    /// The verdict in words, as tables and summaries show it: `improved`,
    /// `unchanged`, `REGRESSED (major)`.
    ///
    /// ```
    /// use benchscope::{Severity, Verdict};
    /// assert_eq!(Verdict::Regressed(Severity::Minor).describe(), "REGRESSED (minor)");
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Verdict::Improved => "improved".into(),
            Verdict::Unchanged => "unchanged".into(),
            Verdict::Regressed(s) => format!("REGRESSED ({})", s.as_str()),
        }
    }

    /// The short word for machines and the live page: `improved`,
    /// `unchanged` or `regressed`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Regressed(_) => "regressed",
        }
    }

    /// The regression's severity, if it is one.
    pub fn severity(&self) -> Option<Severity> {
        match self {
            Verdict::Regressed(s) => Some(*s),
            _ => None,
        }
    }
}

/// A comparison's figures and verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Relative change of the mean: (current − baseline) / baseline; positive is slower.
    pub change: f64,
    /// Two-sided p-value of Welch's t-test.
    pub p_value: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// How a benchmark compares with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    /// The baseline's version (its commit, or the file it came from).
    pub baseline_version: String,
    /// Baseline p50, p95, p99 in nanoseconds.
    pub baseline_ns: [f64; 3],
    /// Baseline time / current time at p50, p95, p99.
    pub speedup: [f64; 3],
    /// Change of the mean, test result and verdict.
    pub comparison: Comparison,
}
