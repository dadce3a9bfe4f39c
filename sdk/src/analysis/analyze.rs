//! History analysis (the spec's perf_analyze): per-benchmark trends across
//! the runs and the commits where step changes began. The HTML report with
//! its plots is `plot.rs`.
//!
//! Step changes are found by binary segmentation on the runs' means: the
//! split that makes the two sides most different by Welch's t-test is kept
//! when it passes the regression policy (significance and noise floor), and
//! each side is searched again, three levels deep.

use std::fmt::Write as _;

use super::regression::{Policy, compare};
use crate::format::{format_change, format_ns, short_commit};
use crate::results::{BenchResult, SuiteRun, Verdict};

/// One benchmark's results across runs, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// The benchmark.
    pub name: String,
    /// (run's commit, result) per run that has the benchmark.
    pub points: Vec<(String, BenchResult)>,
    /// Step changes found.
    pub steps: Vec<Step>,
}

/// A step change in a benchmark's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index in [`Trend::points`] of the first run after the change.
    pub at: usize,
    /// The commit of that run: where the change began.
    pub commit: String,
    /// Relative change of the mean level (positive is slower).
    pub change: f64,
    /// Welch's p-value of the split.
    pub p_value: f64,
}

impl Trend {
    /// The step changes in words: `commit +12.5%, ...`.
    pub fn describe_steps(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{} {}", short_commit(&s.commit), format_change(s.change)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Builds the trends of every benchmark in `runs` (oldest first).
pub fn trends(runs: &[SuiteRun], policy: &Policy) -> Vec<Trend> {
    let mut names: Vec<String> = Vec::new();
    for run in runs {
        for b in &run.benchmarks {
            if !names.contains(&b.name) {
                names.push(b.name.clone());
            }
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let points: Vec<(String, BenchResult)> = runs
                .iter()
                .filter_map(|r| r.get(&name).map(|b| (r.commit.clone(), b.clone())))
                .collect();
            let means: Vec<f64> = points.iter().map(|(_, b)| b.stats.mean).collect();
            let mut steps = Vec::new();
            segment(&means, 0, 3, policy, &mut steps);
            steps.sort_by_key(|s: &(usize, f64, f64)| s.0);
            let steps = steps
                .into_iter()
                .map(|(at, change, p_value)| Step {
                    at,
                    commit: points[at].0.clone(),
                    change,
                    p_value,
                })
                .collect();
            Trend {
                name,
                points,
                steps,
            }
        })
        .collect()
}

/// Binary segmentation: pushes (index, change, p) for each accepted split.
fn segment(
    means: &[f64],
    offset: usize,
    depth: u32,
    policy: &Policy,
    out: &mut Vec<(usize, f64, f64)>,
) {
    if depth == 0 || means.len() < 4 {
        return;
    }
    let best = (2..=means.len() - 2)
        .filter_map(|k| compare(&means[..k], &means[k..], policy).map(|c| (k, c)))
        .filter(|(_, c)| c.verdict != Verdict::Unchanged)
        .min_by(|a, b| a.1.p_value.total_cmp(&b.1.p_value));
    if let Some((k, c)) = best {
        out.push((offset + k, c.change, c.p_value));
        segment(&means[..k], offset, depth - 1, policy, out);
        segment(&means[k..], offset + k, depth - 1, policy, out);
    }
}

/// The terminal summary of the trends.
pub fn summary(trends: &[Trend]) -> String {
    let width = trends
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut out = format!(
        "{:<width$}  {:>4}  {:>11}  {:>11}  {:>8}  step changes (commit where each began)\n",
        "benchmark", "runs", "first", "latest", "change"
    );
    for t in trends {
        let (Some(first), Some(last)) = (t.points.first(), t.points.last()) else {
            continue;
        };
        let change = (last.1.stats.mean - first.1.stats.mean) / first.1.stats.mean * 100.0;
        let mut steps = if t.steps.is_empty() {
            "none".to_owned()
        } else {
            t.describe_steps()
        };
        // Instruction counts, where runs had them: first and latest.
        let counts: Vec<f64> = t
            .points
            .iter()
            .filter_map(|(_, b)| b.instructions.map(|i| i.instructions))
            .collect();
        if let (Some(a), Some(b)) = (counts.first(), counts.last()) {
            let _ = write!(
                steps,
                "; instructions/iter {a:.0} → {b:.0} ({:+.2} %)",
                (b - a) / a * 100.0
            );
        }
        let _ = writeln!(
            out,
            "{:<width$}  {:>4}  {:>11}  {:>11}  {:>+7.1}%  {steps}",
            t.name,
            t.points.len(),
            format_ns(first.1.stats.mean),
            format_ns(last.1.stats.mean),
            change
        );
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A history of one benchmark, one run per mean, commits `commit00`...
    pub(in crate::analysis) fn history(means: &[f64]) -> Vec<SuiteRun> {
        means
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                crate::results::fixtures::run(&format!("commit{i:02}"), "main", &[("bench", m)])
            })
            .collect()
    }

    #[test]
    fn a_step_change_is_found_at_the_commit_where_it_began() {
        let runs = history(&[100.0, 101.0, 99.0, 100.0, 100.5, 130.0, 131.0, 129.0, 130.5]);
        let t = &trends(&runs, &Policy::default())[0];
        assert_eq!(t.steps.len(), 1, "{:?}", t.steps);
        assert_eq!(t.steps[0].commit, "commit05");
        assert!(
            (t.steps[0].change - 0.30).abs() < 0.02,
            "{}",
            t.steps[0].change
        );
        assert!(t.describe_steps().starts_with("commit05 +"));
    }

    #[test]
    fn a_flat_history_has_no_steps() {
        let runs = history(&[100.0, 101.0, 99.0, 100.0, 100.5, 99.5, 100.2]);
        assert!(trends(&runs, &Policy::default())[0].steps.is_empty());
    }

    #[test]
    fn a_commit_of_any_text_is_shortened_without_panicking() {
        let mut runs = history(&[100.0, 100.0, 100.0, 100.0, 130.0, 130.0, 130.0, 130.0]);
        for run in &mut runs[4..] {
            run.commit = "変更された-コミット-ハッシュ".into();
        }
        let t = trends(&runs, &Policy::default());
        let text = summary(&t);
        assert!(text.contains("変更された-コミット-ハ +"), "{text}");
    }
}
