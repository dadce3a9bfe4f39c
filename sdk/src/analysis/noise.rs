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
//!
//! A busy runner also slows a whole run now and then by far more than a
//! benchmark's usual spread (on the 2-core machine these docs were written
//! on, 40-90 %, in memory-bound benchmarks most), too rarely for any one
//! benchmark's last runs to show it. So the bound is at least the
//! benchmark's usual level times the machine's largest shift
//! ([`machine_tail`]): the furthest any benchmark's slowest run has been
//! above its median, over the last [`TAIL_RUNS`] runs of each (an extreme
//! needs more runs to see than a spread does).

use crate::measure::quantile_upper;

/// Fewest earlier runs of a benchmark the bound needs.
pub const MIN_RUNS: usize = 5;

/// Most recent runs the bound is computed from.
pub const MAX_RUNS: usize = 20;

/// Most recent runs of each benchmark the machine's largest shift is
/// looked for in.
pub const TAIL_RUNS: usize = 100;

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
        /// Upper bound of one more run's mean, ns: the prediction bound,
        /// or the machine's largest shift above the median of the runs
        /// counted, if higher.
        upper: f64,
        /// The largest shift any benchmark's run has shown on this machine
        /// above its own usual level, as a factor ([`machine_tail`]).
        tail: f64,
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
    #[cfg(test)]
    pub fn of(means: &[f64], alpha: f64) -> RunNoise {
        RunNoise::with_tail(means, alpha, 1.0)
    }

    /// The spread of `means` (oldest first; the last [`MAX_RUNS`] count) at
    /// significance `alpha`, with the bound raised to `tail` (a factor, from
    /// [`machine_tail`]) times the runs' median when that is higher: a shift
    /// some benchmark has shown on this machine is one this benchmark can
    /// show too.
    pub fn with_tail(means: &[f64], alpha: f64, tail: f64) -> RunNoise {
        let recent = recent_logs(means, MAX_RUNS);
        let n = recent.len();
        if n < MIN_RUNS {
            return RunNoise::TooFew { runs: n };
        }
        let mean = recent.iter().sum::<f64>() / n as f64;
        let var = recent.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_dev = var.sqrt();
        let t = quantile_upper(1.0 - alpha.clamp(1e-9, 0.5), (n - 1) as f64);
        let predicted = (mean + t * std_dev * (1.0 + 1.0 / n as f64).sqrt()).exp();
        RunNoise::Spread {
            runs: n,
            mean: mean.exp(),
            std_dev,
            upper: predicted.max(median(&recent).exp() * tail),
            tail,
        }
    }
}

/// The logarithms of the last `last` positive means.
fn recent_logs(means: &[f64], last: usize) -> Vec<f64> {
    let mut logs: Vec<f64> = means
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m > 0.0)
        .map(f64::ln)
        .collect();
    logs.drain(..logs.len().saturating_sub(last));
    logs
}

/// The median of `xs`.
fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    crate::measure::stats::percentile(&sorted, 50.0)
}

/// The largest shift the machine has shown: over every benchmark with
/// [`MIN_RUNS`] or more runs, how far the slowest of its last
/// [`TAIL_RUNS`] runs' means was above their median, as a factor (1.0 when
/// no benchmark has enough runs). On a runner whose neighbours slow a whole
/// run now and then, such bursts are rare for any one benchmark but show
/// in the pool of all of them; the median, not the mean, is the usual
/// level, so that a benchmark whose runs fall in two groups (a fast one
/// and a slowed one) shows its whole shift.
pub fn machine_tail(means: &std::collections::BTreeMap<String, Vec<f64>>) -> f64 {
    means
        .values()
        .map(|m| recent_logs(m, TAIL_RUNS))
        .filter(|logs| logs.len() >= MIN_RUNS)
        .map(|logs| {
            let center = median(&logs);
            logs.iter().fold(0.0f64, |top, l| top.max(l - center)).exp()
        })
        .fold(1.0, f64::max)
}

impl RunNoise {
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
            RunNoise::Spread {
                runs, upper, tail, ..
            } if current <= upper => format!(
                "within the last {runs} runs' spread on this machine (up to {}; its benchmarks have run up to {:+.0} % over their usual)",
                crate::format::format_ns(upper),
                (tail - 1.0) * 100.0
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

    #[test]
    fn a_burst_one_benchmark_has_shown_covers_the_others() {
        // `a` is tight; `b` once ran 50 % over its usual level.
        let tight: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i % 2)).collect();
        let mut bursty: Vec<f64> = vec![200.0; 9];
        bursty.push(300.0);
        let means = std::collections::BTreeMap::from([
            ("a".to_owned(), tight.clone()),
            ("b".to_owned(), bursty),
            ("too-few".to_owned(), vec![1.0, 100.0]),
        ]);
        let tail = machine_tail(&means);
        assert!((1.45..1.55).contains(&tail), "{tail}");
        assert!(!RunNoise::of(&tight, 0.01).explains(130.0));
        let widened = RunNoise::with_tail(&tight, 0.01, tail);
        assert!(widened.explains(130.0), "{widened:?}");
        assert!(!widened.explains(160.0), "{widened:?}");
        assert!(widened.describe(130.0).contains("over their usual"));
        assert_eq!(machine_tail(&std::collections::BTreeMap::new()), 1.0);
    }

    #[test]
    fn a_burst_older_than_the_spread_s_runs_still_counts_in_full() {
        // Runs fall in two groups, 100 and (a third of the time) 175: the
        // whole shift, not the shift from the groups' mean, is the tail; and
        // a burst 60 runs ago, gone from the last MAX_RUNS, is remembered.
        let two_groups: Vec<f64> = (0..30)
            .map(|i| if i % 3 == 0 { 175.0 } else { 100.0 })
            .collect();
        let tail = machine_tail(&std::collections::BTreeMap::from([(
            "b".to_owned(),
            two_groups,
        )]));
        assert!((1.74..1.76).contains(&tail), "{tail}");
        let mut old_burst = vec![100.0; 80];
        old_burst[20] = 180.0;
        let tail = machine_tail(&std::collections::BTreeMap::from([(
            "b".to_owned(),
            old_burst,
        )]));
        assert!((1.79..1.81).contains(&tail), "{tail}");
        assert!(RunNoise::with_tail(&[100.0; 20], 0.01, tail).explains(175.0));
    }
}
