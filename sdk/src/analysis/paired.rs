//! The paired test of `benchscope compare`: the baseline build (A) and the
//! candidate build (B) measure a benchmark in alternating rounds, A B, B A,
//! A B, ..., each round a separate process, so that whatever slows the
//! machine for a while (a neighbour on the runner, frequency changes,
//! thermal state) slows both sides of a pair alike and cancels in their
//! ratio.
//!
//! Each round gives one figure per side, its median time per iteration (a
//! round is short, and its mean moves with the few samples a preemption
//! hits; its median does not); the test is Student's one-sample
//! t-test on the logarithms of the rounds' ratios `ln(B_i / A_i)` (a paired
//! t-test on log-times: slowdowns act as factors, and a factor's logarithm
//! is symmetric where the factor is not). The change is the geometric mean
//! ratio minus one, with its two-sided `1 - α` confidence interval.
//!
//! A change counts when it is significant at the policy's α shared over the
//! benchmarks compared (Bonferroni: the comparison as a whole, not each
//! benchmark, is wrong at most that often) and at least
//! [`Policy::paired_floor`] (1 % by default: drift cancels, so the floor can
//! sit far below the unpaired gate's 5 %). A slowdown that counts is a major
//! regression, critical from [`Policy::critical`]: a difference that
//! survives pairing is a real one.

use serde::{Deserialize, Serialize};

use super::regression::Policy;
use crate::measure::{quantile_upper, two_sided_p};
use crate::results::{Comparison, Severity, Verdict};

/// Fewest rounds the test needs.
pub const MIN_ROUNDS: usize = 3;

/// One benchmark's paired rounds and what they say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Each round's median time per iteration, ns: (baseline, candidate).
    pub rounds: Vec<(f64, f64)>,
    /// Geometric mean of the rounds' ratios candidate / baseline.
    pub ratio: f64,
    /// Lower end of the ratio's confidence interval.
    pub low: f64,
    /// Upper end of the ratio's confidence interval.
    pub high: f64,
    /// Two-sided p-value of the paired t-test on the log ratios.
    pub p_value: f64,
    /// The significance level the verdict used (the policy's α over the
    /// benchmarks compared).
    pub alpha: f64,
    /// The smallest change the test would have found at its noise: the
    /// change (a fraction, 0.01 = 1 %) it finds four times in five at
    /// `alpha`.
    #[serde(default)]
    pub detectable: f64,
    /// With `compare --paired`, how the samples were taken and why the
    /// sampling stopped; each of `rounds` is then one pair of processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
}

impl Paired {
    /// The test on `rounds` (baseline, candidate) at significance `alpha`;
    /// `None` with fewer than [`MIN_ROUNDS`] rounds or a mean that is not
    /// positive and finite.
    pub fn of(rounds: &[(f64, f64)], alpha: f64) -> Option<Paired> {
        if rounds.len() < MIN_ROUNDS
            || rounds
                .iter()
                .any(|&(a, b)| !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0))
        {
            return None;
        }
        let d: Vec<f64> = rounds.iter().map(|&(a, b)| (b / a).ln()).collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let se = (var / n).sqrt();
        let (p_value, half, detectable) = if se > 0.0 {
            let t = quantile_upper(1.0 - alpha / 2.0, n - 1.0);
            (
                two_sided_p(mean / se, n - 1.0),
                t * se,
                // Power 0.8: the critical value plus the t quantile at 0.8.
                ((t + quantile_upper(0.8, n - 1.0)) * se).exp() - 1.0,
            )
        } else {
            // Every round gave the same ratio (instruction counts, say).
            (if mean == 0.0 { 1.0 } else { 0.0 }, 0.0, 0.0)
        };
        Some(Paired {
            rounds: rounds.to_vec(),
            ratio: mean.exp(),
            low: (mean - half).exp(),
            high: (mean + half).exp(),
            p_value,
            alpha,
            detectable,
            sampling: None,
        })
    }

    /// The relative change: geometric mean ratio minus one.
    pub fn change(&self) -> f64 {
        self.ratio - 1.0
    }

    /// The verdict under `policy`, as a [`Comparison`].
    pub fn comparison(&self, policy: &Policy) -> Comparison {
        let change = self.change();
        let verdict = if self.p_value >= self.alpha || change.abs() < policy.paired_floor {
            Verdict::Unchanged
        } else if change < 0.0 {
            Verdict::Improved
        } else if change >= policy.critical {
            Verdict::Regressed(Severity::Critical)
        } else {
            Verdict::Regressed(Severity::Major)
        };
        Comparison {
            change,
            p_value: self.p_value,
            verdict,
        }
    }

    /// The rounds and interval in words: `10 rounds, ratio 1.031
    /// (1.024-1.038)`; with `--paired`, how the samples were taken and the
    /// smallest change the run could have found.
    pub fn describe(&self) -> String {
        match &self.sampling {
            None => format!(
                "{} rounds, ratio {:.3} ({:.3}-{:.3})",
                self.rounds.len(),
                self.ratio,
                self.low,
                self.high
            ),
            Some(sampling) => format!(
                "ratio {:.4} ({:.4}-{:.4}), could detect {:.1} %; {sampling}",
                self.ratio,
                self.low,
                self.high,
                self.detectable * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rounds whose ratio is `factor` times a wobble of ±`spread`, on a
    /// machine whose speed drifts by 30 % from round to round.
    fn rounds(factor: f64, spread: f64, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let drift = 1.0 + 0.3 * ((i * 37) % 11) as f64 / 10.0;
                let wobble = 1.0 + spread * (((i * 7) % 5) as f64 - 2.0) / 2.0;
                (100.0 * drift, 100.0 * drift * factor * wobble)
            })
            .collect()
    }

    #[test]
    fn drift_shared_by_both_sides_cancels() {
        let p = Paired::of(&rounds(1.0, 0.005, 10), 0.01).unwrap();
        assert!((p.ratio - 1.0).abs() < 0.002, "{p:?}");
        assert!(p.low < 1.0 && p.high > 1.0, "{p:?}");
        assert_eq!(p.comparison(&Policy::default()).verdict, Verdict::Unchanged);
    }

    #[test]
    fn a_three_percent_slowdown_is_major_and_a_large_one_critical() {
        let policy = Policy::default();
        let slow = Paired::of(&rounds(1.03, 0.005, 10), 0.01).unwrap();
        assert!(slow.p_value < 1e-6, "{slow:?}");
        assert!(slow.low > 1.02 && slow.high < 1.04, "{slow:?}");
        assert_eq!(
            slow.comparison(&policy).verdict,
            Verdict::Regressed(Severity::Major)
        );
        let much = Paired::of(&rounds(1.8, 0.005, 10), 0.01).unwrap();
        assert_eq!(
            much.comparison(&policy).verdict,
            Verdict::Regressed(Severity::Critical)
        );
        let faster = Paired::of(&rounds(0.9, 0.005, 10), 0.01).unwrap();
        assert_eq!(faster.comparison(&policy).verdict, Verdict::Improved);
    }

    #[test]
    fn significant_but_under_the_floor_or_noisy_is_unchanged() {
        let policy = Policy::default();
        // 0.5 %: certain, but under the 1 % floor.
        let tiny = Paired::of(&rounds(1.005, 0.0, 10), 0.01).unwrap();
        assert!(tiny.p_value < 1e-100, "{tiny:?}");
        assert_eq!(tiny.comparison(&policy).verdict, Verdict::Unchanged);
        // 3 % with a ±20 % wobble in 4 rounds: not significant.
        let noisy = Paired::of(&rounds(1.03, 0.4, 4), 0.01).unwrap();
        assert!(noisy.p_value > 0.01, "{noisy:?}");
        assert_eq!(noisy.comparison(&policy).verdict, Verdict::Unchanged);
    }

    #[test]
    fn matches_a_reference_paired_t_test() {
        // ln ratios 0.01, 0.03, 0.02, 0.04: mean 0.025, sd 0.0129, t = 3.873,
        // df 3, two-sided p = 0.0305 (scipy.stats.ttest_1samp).
        let r: Vec<(f64, f64)> = [0.01f64, 0.03, 0.02, 0.04]
            .iter()
            .map(|d| (50.0, 50.0 * d.exp()))
            .collect();
        let p = Paired::of(&r, 0.05).unwrap();
        assert!((p.p_value - 0.0305).abs() < 0.0005, "{p:?}");
        assert!((p.ratio - 0.025f64.exp()).abs() < 1e-12);
        // Detectable at power 0.8: (t(0.975, 3) + t(0.8, 3)) * se =
        // (3.182 + 0.978) * 0.006455 = 0.02685 on the log scale.
        assert!(
            (p.detectable - (0.02685f64.exp() - 1.0)).abs() < 0.0003,
            "{p:?}"
        );
    }

    #[test]
    fn too_few_rounds_or_bad_figures_give_nothing() {
        assert!(Paired::of(&[(1.0, 1.0), (1.0, 1.0)], 0.01).is_none());
        assert!(Paired::of(&[(1.0, 1.0), (0.0, 1.0), (1.0, 1.0)], 0.01).is_none());
        assert!(Paired::of(&[(1.0, f64::NAN), (1.0, 1.0), (1.0, 1.0)], 0.01).is_none());
    }
}
