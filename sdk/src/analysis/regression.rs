//! Regression detection: Welch's two-sample t-test on the per-iteration
//! samples of the baseline and the current run, with a minimum relative change
//! (the noise floor) below which no difference counts, however significant.
//!
//! Welch's test compares means without assuming equal variances; benchmark
//! samples are many (tens to hundreds) so the mean's sampling distribution is
//! close to normal even when the samples are skewed. The noise floor guards
//! against the test's sensitivity: with a hundred tight samples a 0.5 % drift
//! between two runs of unchanged code is "significant" yet meaningless.

use serde::{Deserialize, Serialize};

use crate::measure::two_sided_p;
use crate::results::{Comparison, Severity, Verdict};

/// How a change is judged: `[regression]` in `benchscope.toml`.
///
/// ```
/// use benchscope::{config::Policy, Severity, Verdict};
/// let baseline: Vec<f64> = (0..50).map(|i| 100.0 + (i % 5) as f64).collect();
/// let slower: Vec<f64> = baseline.iter().map(|x| x * 1.3).collect();
/// let c = Policy::default().compare(&baseline, &slower).unwrap();
/// assert_eq!(c.verdict, Verdict::Regressed(Severity::Major));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Policy {
    /// Significance level of the two-sided test.
    pub alpha: f64,
    /// Smallest relative change of the mean that counts (0.05 = 5 %).
    pub noise_floor: f64,
    /// Relative slowdown from which a regression is major.
    pub major: f64,
    /// Relative slowdown from which a regression is critical.
    pub critical: f64,
    /// Smallest relative change that counts in `benchscope compare`'s
    /// paired rounds, where drift cancels (0.01 = 1 %).
    pub paired_floor: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            alpha: 0.01,
            noise_floor: 0.05,
            major: 0.20,
            critical: 0.50,
            paired_floor: 0.01,
        }
    }
}

impl Policy {
    /// The severity of a slowdown by `change` (0.25 = 25 % slower), at or
    /// above the noise floor.
    pub fn severity(&self, change: f64) -> Severity {
        if change >= self.critical {
            Severity::Critical
        } else if change >= self.major {
            Severity::Major
        } else {
            Severity::Minor
        }
    }

    /// Compares `current` samples with `baseline` samples; `None` when either
    /// side has fewer than two samples or the baseline's mean is not positive.
    pub fn compare(&self, baseline: &[f64], current: &[f64]) -> Option<Comparison> {
        compare(baseline, current, self)
    }
}

/// Compares `current` samples with `baseline` samples under `policy`.
pub(crate) fn compare(baseline: &[f64], current: &[f64], policy: &Policy) -> Option<Comparison> {
    compare_summaries(mean_var(baseline)?, mean_var(current)?, policy)
}

/// [`compare`] from each side's mean, variance (n − 1) and sample count:
/// Welch's test needs nothing else, so a run read back from a metrics
/// backend, which keeps statistics and not samples, is judged exactly as
/// the run with its samples. `None` when a side has fewer than two samples
/// or the baseline's mean is not positive.
pub(crate) fn compare_summaries(
    (m0, v0, n0): (f64, f64, f64),
    (m1, v1, n1): (f64, f64, f64),
    policy: &Policy,
) -> Option<Comparison> {
    let finite = [m0, v0, m1, v1].iter().all(|x| x.is_finite());
    if n0 < 2.0 || n1 < 2.0 || m0 <= 0.0 || !finite {
        return None;
    }
    let change = (m1 - m0) / m0;
    let p_value = welch_p_value(m0, v0, n0, m1, v1, n1);
    if !(change.is_finite() && p_value.is_finite()) {
        return None;
    }
    let verdict = if p_value >= policy.alpha || change.abs() < policy.noise_floor {
        Verdict::Unchanged
    } else if change < 0.0 {
        Verdict::Improved
    } else {
        Verdict::Regressed(policy.severity(change))
    };
    Some(Comparison {
        change,
        p_value,
        verdict,
    })
}

fn mean_var(xs: &[f64]) -> Option<(f64, f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var, n))
}

fn welch_p_value(m0: f64, v0: f64, n0: f64, m1: f64, v1: f64, n1: f64) -> f64 {
    let se2 = v0 / n0 + v1 / n1;
    if se2 <= 0.0 {
        // Both runs constant: any difference is certain.
        return if m0 == m1 { 1.0 } else { 0.0 };
    }
    let t = (m1 - m0) / se2.sqrt();
    let df = se2.powi(2) / ((v0 / n0).powi(2) / (n0 - 1.0) + (v1 / n1).powi(2) / (n1 - 1.0));
    if df.is_finite() && df > 0.0 {
        two_sided_p(t, df)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(base: f64, n: usize) -> Vec<f64> {
        // Deterministic spread of ±2 %.
        (0..n)
            .map(|i| base * (1.0 + ((i * 7919) % 41) as f64 / 1000.0 - 0.02))
            .collect()
    }

    #[test]
    fn identical_distributions_are_unchanged() {
        let c = compare(&noisy(100.0, 100), &noisy(100.0, 100), &Policy::default()).unwrap();
        assert_eq!(c.verdict, Verdict::Unchanged);
        assert!(c.p_value > 0.9, "{}", c.p_value);
    }

    #[test]
    fn severities_follow_magnitude() {
        let base = noisy(100.0, 100);
        let p = Policy::default();
        let at = |f: f64| compare(&base, &noisy(100.0 * f, 100), &p).unwrap().verdict;
        assert_eq!(at(1.10), Verdict::Regressed(Severity::Minor));
        assert_eq!(at(1.30), Verdict::Regressed(Severity::Major));
        assert_eq!(at(2.00), Verdict::Regressed(Severity::Critical));
        assert_eq!(at(0.80), Verdict::Improved);
        // Significant but under the 5 % noise floor.
        assert_eq!(at(1.03), Verdict::Unchanged);
    }

    #[test]
    fn welch_matches_a_reference_value() {
        // Two samples whose Welch test is t = -2.0, df ≈ 18 ⇒ p ≈ 0.0608 (scipy).
        let a: Vec<f64> = (0..10)
            .map(|i| 10.0 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let b: Vec<f64> = a.iter().map(|x| x + 0.942_809).collect();
        let c = compare(&a, &b, &Policy::default()).unwrap();
        assert!((c.p_value - 0.0608).abs() < 0.002, "{}", c.p_value);
    }

    #[test]
    fn too_few_samples_or_figures_out_of_range_cannot_be_compared() {
        assert!(compare(&[1.0], &[1.0, 2.0], &Policy::default()).is_none());
        assert!(compare(&[1e308, 1e308], &[1.0, 2.0], &Policy::default()).is_none());
        assert!(compare(&[0.0, 0.0], &[1.0, 2.0], &Policy::default()).is_none());
    }
}
