//! How a benchmark compares with its baseline: the figures of the
//! comparison and the verdict. The test that produces them is
//! `analysis::regression`; these are the types every layer above shares.

use serde::{Deserialize, Serialize};

use crate::format::format_count;

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
    /// Change of the allocations per iteration, when both sides counted them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations: Option<AllocChange>,
    /// Change of the instructions per iteration, when both sides counted
    /// them (`--measure instructions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<CountChange>,
}

impl BaselineComparison {
    /// The worst regression of the comparison: the time's verdict, or
    /// [`Severity::Major`] when the allocations per iteration grew (counts
    /// do not jitter as time does, so any growth past
    /// [`AllocChange::TOLERANCE`] is a regression of its own).
    pub fn severity(&self) -> Option<Severity> {
        let allocations = self
            .allocations
            .filter(|a| a.regressed)
            .map(|_| Severity::Major);
        let instructions = self.instructions.and_then(|c| c.severity);
        self.comparison
            .verdict
            .severity()
            .max(allocations)
            .max(instructions)
    }
}

/// How the instructions per iteration changed against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CountChange {
    /// The baseline's instructions per iteration.
    pub baseline: f64,
    /// This run's.
    pub current: f64,
    /// (current − baseline) / baseline.
    pub change: f64,
    /// The regression's severity, when the count grew past
    /// [`CountChange::THRESHOLD`]: major, or critical from `critical`.
    pub severity: Option<Severity>,
}

impl CountChange {
    /// Growth of the instruction count that is a regression: 0.5 %.
    /// Counts of the same binary do not jitter as time does, so a small
    /// threshold catches a 1 % slowdown without false alarms.
    pub const THRESHOLD: f64 = 0.005;

    /// Compares two counts; growth of `critical` (relative) or more is
    /// critical.
    pub fn new(baseline: f64, current: f64, critical: f64) -> Option<CountChange> {
        if !(baseline > 0.0 && current.is_finite()) {
            return None;
        }
        let change = (current - baseline) / baseline;
        let severity = if change >= critical {
            Some(Severity::Critical)
        } else if change > Self::THRESHOLD {
            Some(Severity::Major)
        } else {
            None
        };
        Some(CountChange {
            baseline,
            current,
            change,
            severity,
        })
    }
}

/// How the allocations per iteration changed against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AllocChange {
    /// The baseline's allocations per iteration.
    pub baseline_allocs: f64,
    /// This run's allocations per iteration.
    pub allocs: f64,
    /// The baseline's bytes allocated per iteration.
    pub baseline_bytes: f64,
    /// This run's bytes allocated per iteration.
    pub bytes: f64,
    /// Whether allocations or bytes per iteration grew past the tolerance.
    pub regressed: bool,
}

impl AllocChange {
    /// Growth that counts: 1 % of the baseline's figure, and at least
    /// 0.05 allocations or 8 bytes per iteration (a reallocation once in
    /// twenty iterations, amortised growth of a buffer, is not a change).
    pub const TOLERANCE: (f64, f64, f64) = (0.01, 0.05, 8.0);

    /// Compares the per-iteration figures of two runs.
    pub fn new(baseline: (f64, f64), current: (f64, f64)) -> AllocChange {
        let (relative, allocs_floor, bytes_floor) = Self::TOLERANCE;
        let grew = |b: f64, c: f64, floor: f64| c - b > (b * relative).max(floor);
        AllocChange {
            baseline_allocs: baseline.0,
            allocs: current.0,
            baseline_bytes: baseline.1,
            bytes: current.1,
            regressed: grew(baseline.0, current.0, allocs_floor)
                || grew(baseline.1, current.1, bytes_floor),
        }
    }

    /// The change in words: `allocs/iter 2 → 3, bytes/iter 64 → 96`.
    pub fn describe(&self) -> String {
        format!(
            "allocs/iter {} → {}, bytes/iter {} → {}",
            format_count(self.baseline_allocs),
            format_count(self.allocs),
            format_count(self.baseline_bytes),
            format_count(self.bytes)
        )
    }
}
