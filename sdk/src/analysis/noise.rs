//! The noise between runs, from the history: how far a benchmark's mean
//! moves from run to run of unchanged code on one machine. Welch's test on
//! one run's samples measures the noise inside a run; a busy CI runner also
//! moves whole runs, and the test is then confident about differences the
//! next run does not repeat. The gate weighs both: a slowdown the samples
//! call significant is not a regression while the current mean stays under
//! the upper prediction bound of the last runs' means.
//!
//! The bound is the one-sided `1 - α` prediction interval of one more run's
//! mean, computed on the logarithms of the earlier means (a busy machine
//! slows a run by a factor, and its slow runs are further from the median
//! than its fast ones): with `m` and `s` the mean and standard deviation of
//! the `n` earlier runs' log-means, `exp(m + t(1 - α, n - 1) · s · √(1 +
//! 1/n))`. The gate shares its α (the policy's, 0.01 by default) over the
//! run's benchmarks (Bonferroni), so that the run as a whole, not each
//! benchmark, is wrong at most that often. It needs [`MIN_RUNS`] earlier
//! runs; the last [`MAX_RUNS`] count.

use crate::measure::quantile_upper;

/// Fewest earlier runs of a benchmark the bound needs.
pub const MIN_RUNS: usize = 5;

/// Most recent runs the bound is computed from.
pub const MAX_RUNS: usize = 20;

/// What the earlier runs of one benchmark on this machine say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunNoise {
    /// Enough runs: their spread, and the bound it gives.
    Spread {
        /// Runs counted.
        runs: usize,
        /// Geometric mean of their means, ns.
        mean: f64,
        /// Standard deviation of the logarithms of their means.
        std_dev: f64,
        /// Upper prediction bound of one more run's mean, ns.
        upper: f64,
    },
    /// Too few runs to say (`runs` of [`MIN_RUNS`]).
    TooFew {
        /// Runs found.
        runs: usize,
    },
}

impl RunNoise {
    /// The spread of `means` (oldest first; the last [`MAX_RUNS`] count) at
    /// significance `alpha`.
    pub fn of(means: &[f64], alpha: f64) -> RunNoise {
        let logs: Vec<f64> = means
            .iter()
            .copied()
            .filter(|m| m.is_finite() && *m > 0.0)
            .map(f64::ln)
            .collect();
        let recent = &logs[logs.len().saturating_sub(MAX_RUNS)..];
        let n = recent.len();
        if n < MIN_RUNS {
            return RunNoise::TooFew { runs: n };
        }
        let mean = recent.iter().sum::<f64>() / n as f64;
        let var = recent.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_dev = var.sqrt();
        let t = quantile_upper(1.0 - alpha.clamp(1e-9, 0.5), (n - 1) as f64);
        RunNoise::Spread {
            runs: n,
            mean: mean.exp(),
            std_dev,
            upper: (mean + t * std_dev * (1.0 + 1.0 / n as f64).sqrt()).exp(),
        }
    }

    /// Whether a run whose mean is `current` ns is within what the earlier
    /// runs have shown (never, with too few runs).
    pub fn explains(&self, current: f64) -> bool {
        match *self {
            RunNoise::Spread { upper, .. } => current <= upper,
            RunNoise::TooFew { .. } => false,
        }
    }

    /// In words, for the gate's table.
    pub fn describe(&self, current: f64) -> String {
        match *self {
            RunNoise::Spread { runs, upper, .. } if current <= upper => format!(
                "within the last {runs} runs' spread on this machine (up to {})",
                crate::format::format_ns(upper)
            ),
            RunNoise::Spread { runs, upper, .. } => format!(
                "beyond the last {runs} runs' spread on this machine (up to {})",
                crate::format::format_ns(upper)
            ),
            RunNoise::TooFew { runs } => format!(
                "{runs} earlier run(s) on this machine, {MIN_RUNS} needed to weigh the noise between runs; samples alone decide"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_history_explains_a_shift_a_tight_one_does_not() {
        let wide = RunNoise::of(&[100.0, 130.0, 95.0, 125.0, 105.0, 120.0], 0.01);
        assert!(wide.explains(125.0), "{wide:?}");
        let tight = RunNoise::of(&[100.0, 101.0, 99.0, 100.0, 100.5, 99.5], 0.01);
        assert!(!tight.explains(110.0), "{tight:?}");
        assert!(tight.explains(101.0), "{tight:?}");
    }

    #[test]
    fn too_few_runs_say_so_and_explain_nothing() {
        let few = RunNoise::of(&[100.0, 200.0], 0.01);
        assert_eq!(few, RunNoise::TooFew { runs: 2 });
        assert!(!few.explains(100.0));
        assert!(few.describe(100.0).contains("2 earlier run(s)"));
    }

    #[test]
    fn only_the_most_recent_runs_count() {
        // 30 old runs around 1000, then 20 around 100: the old ones are gone.
        let mut means = vec![1000.0; 30];
        means.extend((0..20).map(|i| 100.0 + f64::from(i % 3)));
        let noise = RunNoise::of(&means, 0.01);
        assert!(matches!(noise, RunNoise::Spread { runs: 20, .. }));
        assert!(!noise.explains(150.0));
    }
}
