//! The noise between runs, from the history: how far a benchmark's mean
//! moves from run to run of unchanged code on one machine. Welch's test on
//! one run's samples measures the noise inside a run; a busy CI runner also
//! moves whole runs, and the test is then confident about differences the
//! next run does not repeat. The gate weighs both: a slowdown the samples
//! call significant is not a regression while the current mean stays under
//! the upper bound that the earlier runs give.
//!
//! The bound is built so that no run, and no small set of runs, can widen
//! it. It works on the logarithms of the earlier runs' means (a busy
//! machine slows a run by a factor), with robust statistics only:
//!
//! - the centre is the median of the last [`MAX_RUNS`] log-means;
//! - the spread `s` is `1.4826 · MAD` of those log-means (the median
//!   absolute deviation, scaled to estimate a standard deviation for normal
//!   noise);
//! - the machine's spread `S` ([`machine_spread`]) is the same statistic
//!   over every benchmark's deviations from its own median, pooled, so that
//!   a benchmark whose few runs happen to agree still gets the machine's
//!   usual noise;
//! - the bound is `exp(centre + max(t(1 - α, n - 1) · s, t(1 - α, N) · S)
//!   · √(1 + 1/n))`, the one-sided prediction bound of one more run, `n`
//!   the benchmark's runs and `N` the pooled deviations' degrees of
//!   freedom, with the gate's α (the policy's, 0.01 by default) shared over
//!   the run's benchmarks (Bonferroni).
//!
//! A median and a MAD move only when half of the values move: a run slowed
//! threefold by six busy processes, or one benchmark that did ten times
//! the work once, shifts neither, where a mean and a largest shift (the
//! design this replaced) took any one run's extreme as the machine's. The
//! price is that a machine whose runs really do fall in two groups far
//! apart has a spread the median does not see; the probe of
//! [`Disturbance`](crate::Disturbance) is there to keep such runs out of
//! the history in the first place: results that stayed disturbed while
//! they were measured are not counted
//! ([`History::means_by_benchmark`](crate::History::means_by_benchmark)).
//! Nor is the run being judged: the gate leaves it out by its id, or, for
//! `--results FILE`, by its start time, commit and branch.

use crate::measure::quantile_upper;

/// Fewest earlier runs of a benchmark the bound needs.
pub const MIN_RUNS: usize = 5;

/// Most recent runs the bound is computed from.
pub const MAX_RUNS: usize = 20;

/// Most recent runs of each benchmark that the machine's spread pools.
pub const MACHINE_RUNS: usize = 100;

/// Scales a MAD to a standard deviation for normal noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// What the earlier runs of one benchmark on this machine say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunNoise {
    /// Enough runs: their spread, and the bound it gives.
    Spread {
        /// Runs counted.
        runs: usize,
        /// The usual level: the median of their means, ns.
        median: f64,
        /// This benchmark's robust spread of log-means (`1.4826 · MAD`).
        spread: f64,
        /// Upper bound of one more run's mean, ns.
        upper: f64,
        /// The machine's spread ([`machine_spread`]).
        machine: MachineSpread,
    },
    /// Too few runs to say (`runs` of [`MIN_RUNS`]).
    TooFew {
        /// Runs found.
        runs: usize,
    },
}

impl RunNoise {
    /// The bound of `means` (oldest first; the last [`MAX_RUNS`] count) at
    /// significance `alpha`, at least as wide as the `machine`'s spread
    /// (from [`machine_spread`]) allows.
    pub fn of(means: &[f64], alpha: f64, machine: MachineSpread) -> RunNoise {
        let recent = recent_logs(means, MAX_RUNS);
        let n = recent.len();
        if n < MIN_RUNS {
            return RunNoise::TooFew { runs: n };
        }
        let center = median(&recent);
        let spread = robust_sigma(&recent, center);
        let p = 1.0 - alpha.clamp(1e-9, 0.5);
        let own = quantile_upper(p, (n - 1) as f64) * spread;
        let pooled = if machine.sigma > 0.0 {
            quantile_upper(p, machine.df.max(1.0)) * machine.sigma
        } else {
            0.0
        };
        RunNoise::Spread {
            runs: n,
            median: center.exp(),
            spread,
            upper: (center + own.max(pooled) * (1.0 + 1.0 / n as f64).sqrt()).exp(),
            machine,
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
            RunNoise::Spread {
                runs,
                median,
                upper,
                spread,
                machine,
            } => format!(
                "{} the last {runs} runs' spread on this machine (usual {}, bound {}; spread ±{:.1} %, the machine's ±{:.1} %)",
                if current <= upper { "within" } else { "beyond" },
                crate::format::format_ns(median),
                crate::format::format_ns(upper),
                spread * 100.0,
                machine.sigma * 100.0
            ),
            RunNoise::TooFew { runs } => format!(
                "{runs} earlier undisturbed run(s) on this machine, {MIN_RUNS} needed to weigh the noise between runs; samples alone decide"
            ),
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

/// The median of `xs` (NaN when empty).
pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    crate::measure::stats::percentile(&sorted, 50.0)
}

/// `1.4826 · MAD` of `xs` around `center`.
fn robust_sigma(xs: &[f64], center: f64) -> f64 {
    let deviations: Vec<f64> = xs.iter().map(|x| (x - center).abs()).collect();
    MAD_TO_SIGMA * median(&deviations)
}

/// The spread of log-means between runs that the machine's benchmarks
/// show together ([`machine_spread`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineSpread {
    /// `1.4826 ·` the median of the pooled deviations (0: no benchmark
    /// has enough runs).
    pub sigma: f64,
    /// Degrees of freedom: the deviations pooled less one per benchmark.
    pub df: f64,
}

/// The machine's spread of log-means between runs: every benchmark with
/// [`MIN_RUNS`] or more runs contributes the deviations of its last
/// [`MACHINE_RUNS`] log-means from their own median, and the spread is
/// `1.4826 ·` the median of all of them. Pooled, a run contributes one
/// deviation per benchmark, so a single run, however slow, cannot move the
/// median of hundreds; and a benchmark whose own runs happen to agree still
/// gets the machine's usual noise.
pub fn machine_spread(means: &std::collections::BTreeMap<String, Vec<f64>>) -> MachineSpread {
    let mut deviations = Vec::new();
    let mut benchmarks = 0;
    for logs in means
        .values()
        .map(|m| recent_logs(m, MACHINE_RUNS))
        .filter(|logs| logs.len() >= MIN_RUNS)
    {
        let center = median(&logs);
        deviations.extend(logs.iter().map(|l| (l - center).abs()));
        benchmarks += 1;
    }
    if deviations.is_empty() {
        return MachineSpread::default();
    }
    MachineSpread {
        sigma: MAD_TO_SIGMA * median(&deviations),
        df: (deviations.len() - benchmarks) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `n` runs around `level` that wander by about ±`spread` (a fixed
    /// pattern, so the tests are exact).
    fn runs(level: f64, spread: f64, n: usize) -> Vec<f64> {
        let pattern = [0.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25];
        (0..n)
            .map(|i| level * (1.0 + spread * pattern[i % pattern.len()]))
            .collect()
    }

    #[test]
    fn a_wide_history_explains_a_shift_a_tight_one_does_not() {
        let wide = RunNoise::of(&runs(100.0, 0.15, 12), 0.01, MachineSpread::default());
        assert!(wide.explains(125.0), "{wide:?}");
        let tight = RunNoise::of(&runs(100.0, 0.01, 12), 0.01, MachineSpread::default());
        assert!(!tight.explains(110.0), "{tight:?}");
        assert!(tight.explains(101.0), "{tight:?}");
    }

    #[test]
    fn too_few_runs_say_so_and_explain_nothing() {
        let few = RunNoise::of(&[100.0, 200.0], 0.01, MachineSpread::default());
        assert_eq!(few, RunNoise::TooFew { runs: 2 });
        assert!(!few.explains(100.0));
        assert!(few.describe(100.0).contains("2 earlier undisturbed run(s)"));
    }

    #[test]
    fn only_the_most_recent_runs_count() {
        // 30 old runs around 1000, then 20 around 100: the old ones are gone.
        let mut means = vec![1000.0; 30];
        means.extend(runs(100.0, 0.02, 20));
        let noise = RunNoise::of(&means, 0.01, MachineSpread::default());
        assert!(matches!(noise, RunNoise::Spread { runs: 20, .. }));
        assert!(!noise.explains(150.0));
    }

    #[test]
    fn one_run_however_slow_does_not_widen_the_bound() {
        let usual = runs(100.0, 0.02, 12);
        let before = RunNoise::of(&usual, 0.001, MachineSpread::default());
        let mut with_burst = usual.clone();
        with_burst.push(400.0);
        let after = RunNoise::of(&with_burst, 0.001, MachineSpread::default());
        let (RunNoise::Spread { upper: b, .. }, RunNoise::Spread { upper: a, .. }) =
            (before, after)
        else {
            panic!("{before:?} {after:?}");
        };
        assert!(a < b * 1.05, "{b} → {a}");
        assert!(!after.explains(200.0), "{after:?}");
    }

    #[test]
    fn the_machine_s_spread_covers_a_benchmark_whose_runs_agree_but_one_run_cannot_raise_it() {
        // `tight` agrees to 0.1 %; the other benchmarks wander by ±5 %.
        let mut means = BTreeMap::from([("tight".to_owned(), runs(100.0, 0.001, 20))]);
        for b in ["a", "b", "c"] {
            means.insert(b.to_owned(), runs(50.0, 0.05, 20));
        }
        let machine = machine_spread(&means);
        assert!((0.01..0.04).contains(&machine.sigma), "{machine:?}");
        assert_eq!(machine.df, 76.0);
        assert!(!RunNoise::of(&means["tight"], 0.001, MachineSpread::default()).explains(104.0));
        assert!(RunNoise::of(&means["tight"], 0.001, machine).explains(104.0));
        // One run in which every benchmark ran three times slower.
        let mut blinded = means.clone();
        for m in blinded.values_mut() {
            let last = *m.last().unwrap();
            m.push(last * 3.0);
        }
        let after = machine_spread(&blinded);
        assert!(after.sigma < machine.sigma * 1.2, "{machine:?} → {after:?}");
        assert!(!RunNoise::of(&blinded["a"], 0.001, after).explains(100.0));
        assert_eq!(machine_spread(&BTreeMap::new()), MachineSpread::default());
    }

    #[test]
    fn the_description_names_the_usual_level_and_the_bound() {
        let noise = RunNoise::of(&runs(100.0, 0.02, 10), 0.01, MachineSpread::default());
        let text = noise.describe(101.0);
        assert!(
            text.starts_with("within the last 10 runs' spread"),
            "{text}"
        );
        assert!(text.contains("usual 100.0 ns"), "{text}");
        assert!(noise.describe(500.0).starts_with("beyond"));
    }
}
