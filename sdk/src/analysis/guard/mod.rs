//! The CI gate (the spec's perf_guard): compares a run with a baseline,
//! benchmark by benchmark, with the regression test, and decides whether
//! the pipeline passes ([`GuardReport::failed`], with the reasons in
//! [`GuardReport::failures`]). The decision's table and Markdown summary
//! are written by the command line (`cli/gate.rs`), beside its other
//! output.
//!
//! A gate that passes without having compared anything would pass by
//! accident, so by default it fails when nothing was compared, and when a
//! benchmark present on both sides could not be compared (too few samples,
//! figures out of range): "could not compare" is a verdict of its own.

use super::baseline::Baseline;
use super::noise::RunNoise;
use super::paired::Paired;
use super::regression::Policy;
use crate::measure::complexity::Class;
use crate::results::Verdict;
use crate::results::{BaselineComparison, BenchResult, Disturbance, Fitted, Severity, SuiteRun};

/// One benchmark's comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardRow {
    /// The benchmark.
    pub name: String,
    /// Baseline mean, ns per iteration.
    pub baseline_mean: f64,
    /// Current mean, ns per iteration.
    pub current_mean: f64,
    /// The comparison (speedups, change, p-value, verdict).
    pub comparison: BaselineComparison,
    /// What the earlier runs on this machine say, when the history was
    /// weighed ([`GuardReport::weigh_history`]).
    pub noise: Option<RunNoise>,
    /// The samples' verdict, when the noise between runs overruled it.
    pub overruled: Option<Verdict>,
    /// The samples' verdict and the baseline code's usual level (ns), when
    /// the history raised the verdict: the current mean is beyond the
    /// earlier runs' bound, and slower than the baseline's commit usually
    /// runs by more than the baseline run shows (a baseline run measured
    /// while the machine was slow hides a slowdown that the history sees).
    pub raised: Option<(Verdict, f64)>,
    /// The paired rounds of `benchscope compare`, whose test decided the
    /// time's verdict ([`GuardReport::pair_rounds`]).
    pub paired: Option<Paired>,
    /// How the machine disturbed this run's measurement, when it stayed
    /// disturbed ([`Disturbance::disturbed`]): the verdict stands, and says
    /// so.
    pub disturbed: Option<Disturbance>,
    /// True when the baseline's measurement of it stayed disturbed.
    pub baseline_disturbed: bool,
}

/// The gate's decision for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardReport {
    /// The baseline's version label.
    pub baseline_version: String,
    /// The commit checked.
    pub commit: String,
    /// Benchmarks compared.
    pub rows: Vec<GuardRow>,
    /// Benchmarks of the run that the baseline lacks.
    pub new: Vec<String>,
    /// Benchmarks of the baseline that the run lacks (filtered away, or
    /// removed), other than those that failed.
    pub missing: Vec<String>,
    /// Benchmarks that failed in this run (panicked, never iterated, could
    /// not be counted), with the error.
    pub failed: Vec<(String, String)>,
    /// Benchmarks on both sides that could not be compared, with the reason.
    pub incomparable: Vec<(String, String)>,
    /// Benchmarks whose complexity class grew against the baseline's
    /// (fitted on each side from the cases' sizes): each fails the gate.
    pub class_changes: Vec<ClassChange>,
    /// The severity from which a regression fails the gate.
    pub fail_on: Severity,
    /// What the gate lets through besides regressions below `fail_on`.
    pub allow: Allow,
}

/// A benchmark whose complexity class changed against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassChange {
    /// The benchmark (its cases' name without the size).
    pub benchmark: String,
    /// What was fitted.
    pub measure: Fitted,
    /// The baseline's class.
    pub baseline: Class,
    /// This run's class.
    pub current: Class,
    /// This run's largest case (the result at the largest size), whose own
    /// comparison must confirm a class that grew.
    pub largest: Option<String>,
}

impl ClassChange {
    /// Whether the class grew: a regression of its own.
    pub fn regressed(&self) -> bool {
        self.current > self.baseline
    }

    /// Whether the largest case's own comparison in `rows` confirms the
    /// change: a class that grows makes the largest size slower (time) or
    /// allocate more (allocated bytes). Between neighbouring classes such
    /// as O(n) and O(n log n), noise in a few sizes can tip the fit on its
    /// own, and a run slowed by a tenth tips it as surely: a change of time
    /// counts only when the largest case regressed at or above `fail_on`
    /// itself. True when the largest case is not among the rows (nothing to
    /// ask).
    pub fn confirmed(&self, rows: &[GuardRow], fail_on: Severity) -> bool {
        let Some(row) = self
            .largest
            .as_ref()
            .and_then(|l| rows.iter().find(|r| &r.name == l))
        else {
            return true;
        };
        let c = &row.comparison;
        if self.measure == Fitted::Time {
            c.comparison.verdict.severity() >= Some(fail_on)
        } else {
            c.allocations.is_some_and(|a| a.regressed)
        }
    }

    /// The change in words: `scaling/sort time: O(n log n) → O(n^2)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}: {} → {}",
            self.benchmark, self.measure, self.baseline, self.current
        )
    }
}

/// What the gate lets through that it fails on by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// Pass when nothing was compared (`--allow-empty`), and so when none
    /// of the baseline's benchmarks is in the run.
    pub empty: bool,
    /// Pass when a benchmark could not be compared (`--allow-incomparable`).
    pub incomparable: bool,
    /// Pass when benchmarks of the baseline are not in the run
    /// (`--allow-missing`), e.g. a run filtered on purpose.
    pub missing: bool,
    /// Pass when benchmarks failed in the run (`--allow-failed`).
    pub failed: bool,
}

/// Why the gate fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateFailure {
    /// Regressions at or above the gate's severity.
    Regressions {
        /// How many.
        count: usize,
        /// The gate's severity.
        fail_on: Severity,
    },
    /// Complexity classes that grew, each described.
    ClassesGrew(Vec<String>),
    /// Benchmarks that failed in the run.
    Failed(usize),
    /// Benchmarks of the baseline that did not run.
    Missing(usize),
    /// Benchmarks that could not be compared.
    Incomparable(usize),
    /// No benchmark of the run is in the baseline.
    NothingCompared,
}

impl std::fmt::Display for GateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateFailure::Regressions { count, fail_on } => {
                write!(f, "{count} regression(s) at or above {}", fail_on.as_str())
            }
            GateFailure::ClassesGrew(grew) => write!(
                f,
                "{} complexity class(es) grew ({})",
                grew.len(),
                grew.join("; ")
            ),
            GateFailure::Failed(n) => write!(
                f,
                "{n} benchmark(s) failed in this run (--allow-failed lets that pass)"
            ),
            GateFailure::Missing(n) => write!(
                f,
                "{n} benchmark(s) of the baseline did not run (--allow-missing lets that pass)"
            ),
            GateFailure::Incomparable(n) => write!(
                f,
                "{n} benchmark(s) could not be compared (--allow-incomparable lets that pass)"
            ),
            GateFailure::NothingCompared => f.write_str(
                "nothing was compared: no benchmark of the run is in the baseline (--allow-empty lets that pass)",
            ),
        }
    }
}

impl GuardReport {
    /// Compares every benchmark of `current` with `baseline`.
    pub fn compare(
        current: &SuiteRun,
        baseline: &Baseline,
        policy: &Policy,
        fail_on: Severity,
        allow: Allow,
    ) -> GuardReport {
        let mut rows = Vec::new();
        let mut new = Vec::new();
        let mut incomparable = Vec::new();
        for result in &current.benchmarks {
            match baseline.compare(result, policy) {
                Ok(Some(comparison)) => rows.push(GuardRow {
                    name: result.name.clone(),
                    baseline_mean: baseline.run.get(&result.name).map_or(0.0, |b| b.stats.mean),
                    current_mean: result.stats.mean,
                    comparison,
                    noise: None,
                    overruled: None,
                    raised: None,
                    paired: None,
                    disturbed: result.disturbance.filter(|d| d.disturbed),
                    baseline_disturbed: baseline
                        .run
                        .get(&result.name)
                        .is_some_and(BenchResult::disturbed),
                }),
                Ok(None) => new.push(result.name.clone()),
                Err(reason) => incomparable.push((result.name.clone(), reason)),
            }
        }
        let failed: Vec<(String, String)> = current
            .failures
            .iter()
            .map(|f| (f.name.clone(), f.error.clone()))
            .collect();
        let missing = baseline
            .run
            .benchmarks
            .iter()
            .filter(|b| current.get(&b.name).is_none() && !failed.iter().any(|f| f.0 == b.name))
            .map(|b| b.name.clone())
            .collect();
        let before = SuiteRun::fit_complexity(&baseline.run.benchmarks);
        let class_changes = SuiteRun::fit_complexity(&current.benchmarks)
            .into_iter()
            .filter_map(|now| {
                let then = before
                    .iter()
                    .find(|b| b.benchmark == now.benchmark && b.measure == now.measure)?;
                let largest = current
                    .benchmarks
                    .iter()
                    .filter_map(|b| match b.sized_case() {
                        Some((group, size)) if group == now.benchmark => Some((size, b)),
                        _ => None,
                    })
                    .max_by(|x, y| x.0.total_cmp(&y.0))
                    .map(|(_, b)| b.name.clone());
                (then.fit.class != now.fit.class).then_some(ClassChange {
                    benchmark: now.benchmark,
                    measure: now.measure,
                    baseline: then.fit.class,
                    current: now.fit.class,
                    largest,
                })
            })
            .collect();
        GuardReport {
            baseline_version: baseline.version.clone(),
            commit: current.commit.clone(),
            rows,
            new,
            missing,
            failed,
            incomparable,
            class_changes,
            fail_on,
            allow,
        }
    }

    /// Weighs the noise between runs: `means` holds each benchmark's means
    /// in earlier runs on this machine (oldest first). A slowdown the
    /// samples call a regression is not one while the current mean is
    /// within the upper bound of those runs ([`RunNoise`], at the policy's
    /// α shared over the rows, Bonferroni: the run as a whole, not each
    /// benchmark, is wrong at most that often); with fewer than
    /// [`noise::MIN_RUNS`](super::noise::MIN_RUNS) runs the samples alone
    /// decide, and the row says so. The other way round, a current mean
    /// beyond the bound is judged against the baseline code's usual level
    /// as well as against the baseline run, and the more severe verdict
    /// stands: `baseline_runs` holds each benchmark's means in the
    /// history's runs of the baseline's commit, whose median is that level
    /// when there are [`LEVEL_RUNS`] or more. One baseline run measured
    /// while the machine was slow then cannot hide a slowdown either; a
    /// level of other commits is never used, so a slowdown the baseline
    /// accepted is not raised again. Allocation counts are not weighed:
    /// they do not jitter.
    pub fn weigh_history(
        &mut self,
        means: &std::collections::BTreeMap<String, Vec<f64>>,
        baseline_runs: &std::collections::BTreeMap<String, Vec<f64>>,
        policy: &Policy,
    ) {
        let machine = super::noise::machine_spread(means);
        let alpha = policy.alpha / self.rows.len().max(1) as f64;
        for row in &mut self.rows {
            let noise = RunNoise::of(
                means.get(&row.name).map_or(&[][..], Vec::as_slice),
                alpha,
                machine,
            );
            let verdict = &mut row.comparison.comparison.verdict;
            if matches!(verdict, Verdict::Regressed(_)) && noise.explains(row.current_mean) {
                row.overruled = Some(*verdict);
                *verdict = Verdict::Unchanged;
            } else if let (RunNoise::Spread { upper, .. }, Some(level)) = (
                noise,
                baseline_runs
                    .get(&row.name)
                    .map(|m| m.iter().copied().filter(|x| *x > 0.0).collect::<Vec<f64>>())
                    .filter(|m| m.len() >= LEVEL_RUNS)
                    .map(|m| super::noise::median(&m)),
            ) {
                let change = row.current_mean / level - 1.0;
                let severity = policy.severity(change);
                if row.current_mean > upper
                    && change >= policy.noise_floor
                    && verdict.severity() < Some(severity)
                {
                    row.raised = Some((*verdict, level));
                    *verdict = Verdict::Regressed(severity);
                }
            }
            row.noise = Some(noise);
        }
    }

    /// Decides the time's verdict by paired rounds (`benchscope compare`):
    /// `rounds` holds each benchmark's (baseline, candidate) means, one
    /// pair per round (their medians, as `benchscope compare` takes them).
    /// The rows' baseline and current figures become the geometric means
    /// of the rounds'. The policy's α is shared over the rows (Bonferroni).
    /// A row without enough rounds becomes incomparable: the samples alone
    /// are exactly what pairing is there to avoid.
    pub fn pair_rounds(
        &mut self,
        rounds: &std::collections::BTreeMap<String, Vec<(f64, f64)>>,
        policy: &Policy,
    ) {
        let alpha = policy.alpha / self.rows.len().max(1) as f64;
        let mut kept = Vec::with_capacity(self.rows.len());
        for mut row in std::mem::take(&mut self.rows) {
            let pairs = rounds.get(&row.name).map_or(&[][..], Vec::as_slice);
            match Paired::of(pairs, alpha) {
                Some(paired) => {
                    row.comparison.comparison = paired.comparison(policy);
                    row.baseline_mean = geometric_mean(pairs.iter().map(|p| p.0));
                    row.current_mean = geometric_mean(pairs.iter().map(|p| p.1));
                    row.paired = Some(paired);
                    kept.push(row);
                }
                None => self.incomparable.push((
                    row.name,
                    format!(
                        "{} paired round(s) with positive means, {} needed",
                        pairs.len(),
                        super::paired::MIN_ROUNDS
                    ),
                )),
            }
        }
        self.rows = kept;
    }

    /// The regressions at or above `fail_on`.
    pub fn blocking(&self) -> Vec<&GuardRow> {
        self.rows
            .iter()
            .filter(|r| r.comparison.severity().is_some_and(|s| s >= self.fail_on))
            .collect()
    }

    /// Why the gate fails; empty when it passes.
    pub fn failures(&self) -> Vec<GateFailure> {
        let mut why = Vec::new();
        let blocking = self.blocking().len();
        if blocking > 0 {
            why.push(GateFailure::Regressions {
                count: blocking,
                fail_on: self.fail_on,
            });
        }
        let grew: Vec<String> = self
            .class_changes
            .iter()
            .filter(|c| c.regressed() && c.confirmed(&self.rows, self.fail_on))
            .map(ClassChange::describe)
            .collect();
        if !grew.is_empty() {
            why.push(GateFailure::ClassesGrew(grew));
        }
        if !self.failed.is_empty() && !self.allow.failed {
            why.push(GateFailure::Failed(self.failed.len()));
        }
        let nothing_compared = self.rows.is_empty() && self.incomparable.is_empty();
        // A run allowed to compare nothing has, by definition, none of the
        // baseline's benchmarks.
        let missing_allowed = self.allow.missing || (self.allow.empty && nothing_compared);
        if !self.missing.is_empty() && !missing_allowed {
            why.push(GateFailure::Missing(self.missing.len()));
        }
        if !self.incomparable.is_empty() && !self.allow.incomparable {
            why.push(GateFailure::Incomparable(self.incomparable.len()));
        }
        if nothing_compared && !self.allow.empty {
            why.push(GateFailure::NothingCompared);
        }
        why
    }

    /// True when the gate fails: a regression at or above `fail_on`, a
    /// benchmark that could not be compared, or nothing compared, unless
    /// allowed.
    pub fn failed(&self) -> bool {
        !self.failures().is_empty()
    }
}

/// Fewest runs of the baseline's commit in the history whose median is
/// taken as the baseline code's usual level ([`GuardReport::weigh_history`]).
pub const LEVEL_RUNS: usize = 3;

fn geometric_mean(xs: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = xs.len() as f64;
    (xs.map(f64::ln).sum::<f64>() / n).exp()
}

#[cfg(test)]
mod tests;
