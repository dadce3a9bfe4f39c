//! The CI gate (the spec's perf_guard): compares a run with a baseline,
//! benchmark by benchmark, with [`crate::regression`]'s test, and decides
//! whether the pipeline passes. `benchscope guard` prints [`GuardReport::table`],
//! writes [`GuardReport::markdown`] to the CI's step summary and exits 1 when
//! [`GuardReport::failed`].

use std::fmt::Write as _;

use super::baseline::Baseline;
use super::regression::Policy;
use crate::format::{format_change, format_ns};
use crate::results::{BaselineComparison, Severity, SuiteRun, Verdict};

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
    /// Benchmarks of the baseline that the run lacks.
    pub missing: Vec<String>,
    /// The severity from which a regression fails the gate.
    pub fail_on: Severity,
}

impl GuardReport {
    /// Compares every benchmark of `current` with `baseline`.
    pub fn compare(
        current: &SuiteRun,
        baseline: &Baseline,
        policy: &Policy,
        fail_on: Severity,
    ) -> GuardReport {
        let mut rows = Vec::new();
        let mut new = Vec::new();
        for result in &current.benchmarks {
            match (
                baseline.run.get(&result.name),
                baseline.compare(result, policy),
            ) {
                (Some(base), Some(comparison)) => rows.push(GuardRow {
                    name: result.name.clone(),
                    baseline_mean: base.stats.mean,
                    current_mean: result.stats.mean,
                    comparison,
                }),
                _ => new.push(result.name.clone()),
            }
        }
        let missing = baseline
            .run
            .benchmarks
            .iter()
            .filter(|b| current.get(&b.name).is_none())
            .map(|b| b.name.clone())
            .collect();
        GuardReport {
            baseline_version: baseline.version.clone(),
            commit: current.commit.clone(),
            rows,
            new,
            missing,
            fail_on,
        }
    }

    /// The regressions at or above `fail_on`.
    pub fn blocking(&self) -> Vec<&GuardRow> {
        self.rows
            .iter()
            .filter(|r| matches!(r.comparison.comparison.verdict, Verdict::Regressed(s) if s >= self.fail_on))
            .collect()
    }

    /// True when a regression at or above `fail_on` was found.
    pub fn failed(&self) -> bool {
        !self.blocking().is_empty()
    }

    /// A row's figures as text: baseline, current, change, speedup, p-value, verdict.
    fn cells(r: &GuardRow) -> [String; 6] {
        let c = &r.comparison;
        [
            format_ns(r.baseline_mean),
            format_ns(r.current_mean),
            format_change(c.comparison.change),
            format!("{:.3}x", c.speedup[0]),
            format!("{:.4}", c.comparison.p_value),
            c.comparison.verdict.describe(),
        ]
    }

    /// The terminal table.
    pub fn table(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let mut out = format!(
            "{:<width$}  {:>11}  {:>11}  {:>8}  {:>8}  {:>8}  verdict\n",
            "benchmark", "baseline", "current", "change", "speedup", "p-value"
        );
        for r in &self.rows {
            let [base, current, change, speedup, p, verdict] = Self::cells(r);
            let _ = writeln!(
                out,
                "{:<width$}  {base:>11}  {current:>11}  {change:>8}  {speedup:>8}  {p:>8}  {verdict}",
                r.name,
            );
        }
        for name in &self.new {
            let _ = writeln!(out, "{name:<width$}  (not in the baseline)");
        }
        for name in &self.missing {
            let _ = writeln!(out, "{name:<width$}  (in the baseline, not in this run)");
        }
        let _ = write!(
            out,
            "{}: {} compared with baseline {}, {} blocking regression(s) at or above {}",
            if self.failed() { "FAIL" } else { "PASS" },
            self.rows.len(),
            self.baseline_version,
            self.blocking().len(),
            self.fail_on.as_str()
        );
        out
    }

    /// A Markdown summary for the CI's job page.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## benchscope: {}\n\nCommit `{}` against baseline `{}`; the gate fails on {} regressions or worse.\n\n",
            if self.failed() {
                "performance regression"
            } else {
                "no blocking regression"
            },
            self.commit,
            self.baseline_version,
            self.fail_on.as_str()
        );
        out.push_str(
            "| benchmark | baseline | current | change | speedup (p50) | p-value | verdict |\n",
        );
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
        for r in &self.rows {
            let _ = writeln!(out, "| `{}` | {} |", r.name, Self::cells(r).join(" | "));
        }
        if !self.new.is_empty() {
            let _ = writeln!(out, "\nNot in the baseline: {}", self.new.join(", "));
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "\nIn the baseline but not in this run: {}",
                self.missing.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::Stats;

    fn run(means: &[(&str, f64)]) -> SuiteRun {
        let mut r = crate::results::fixtures::run("c0ffee", "main", means);
        for b in &mut r.benchmarks {
            // Spread of about 1 %, so changes above the noise floor are significant.
            b.samples_ns = (0..50)
                .map(|i| b.stats.mean * (1.0 + (i % 5) as f64 * 0.002))
                .collect();
            b.stats = Stats::from_samples(&b.samples_ns).unwrap();
        }
        r
    }

    fn baseline(means: &[(&str, f64)]) -> Baseline {
        Baseline {
            version: "main".into(),
            run: run(means),
        }
    }

    #[test]
    fn a_major_regression_fails_and_a_minor_one_does_not() {
        let base = baseline(&[("a", 100.0), ("b", 100.0), ("gone", 1.0)]);
        let current = run(&[("a", 130.0), ("b", 110.0), ("new", 1.0)]);
        let report = GuardReport::compare(&current, &base, &Policy::default(), Severity::Major);
        assert!(report.failed());
        assert_eq!(report.blocking().len(), 1);
        assert_eq!(report.blocking()[0].name, "a");
        assert_eq!(report.new, ["new"]);
        assert_eq!(report.missing, ["gone"]);
        assert!(
            report
                .table()
                .ends_with("1 blocking regression(s) at or above major")
        );
        let md = report.markdown();
        assert!(
            md.contains("| `a` |") && md.contains("REGRESSED (major)"),
            "{md}"
        );
        let lenient = GuardReport::compare(&current, &base, &Policy::default(), Severity::Critical);
        assert!(!lenient.failed());
    }

    #[test]
    fn no_change_passes() {
        let base = baseline(&[("a", 100.0)]);
        let report = GuardReport::compare(
            &run(&[("a", 100.0)]),
            &base,
            &Policy::default(),
            Severity::Minor,
        );
        assert!(!report.failed(), "{}", report.table());
    }
}
