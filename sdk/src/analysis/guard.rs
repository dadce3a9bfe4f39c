//! The CI gate (the spec's perf_guard): compares a run with a baseline,
//! benchmark by benchmark, with the regression test, and decides whether
//! the pipeline passes. `benchscope guard` prints [`GuardReport::table`],
//! writes [`GuardReport::markdown`] to the CI's step summary and exits 1 when
//! [`GuardReport::failed`].
//!
//! A gate that passes without having compared anything would pass by
//! accident, so by default it fails when nothing was compared, and when a
//! benchmark present on both sides could not be compared (too few samples,
//! figures out of range): "could not compare" is a verdict of its own.

use std::fmt::Write as _;

use super::baseline::Baseline;
use super::noise::RunNoise;
use super::paired::Paired;
use super::regression::Policy;
use crate::format::{format_change, format_count, format_ns};
use crate::measure::complexity::Class;
use crate::results::Verdict;
use crate::results::{BaselineComparison, Severity, SuiteRun};

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
    /// The paired rounds of `benchscope compare`, whose test decided the
    /// time's verdict ([`GuardReport::pair_rounds`]).
    pub paired: Option<Paired>,
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
    /// `time` or `allocated_bytes`.
    pub measure: String,
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
    /// own; a change the largest case does not show is not counted. True
    /// when the largest case is not among the rows (nothing to ask).
    pub fn confirmed(&self, rows: &[GuardRow]) -> bool {
        let Some(row) = self
            .largest
            .as_ref()
            .and_then(|l| rows.iter().find(|r| &r.name == l))
        else {
            return true;
        };
        let c = &row.comparison;
        if self.measure == "time" {
            c.comparison.verdict.severity().is_some()
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
    /// Pass when nothing was compared (`--allow-empty`).
    pub empty: bool,
    /// Pass when a benchmark could not be compared (`--allow-incomparable`).
    pub incomparable: bool,
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
                    paired: None,
                }),
                Ok(None) => new.push(result.name.clone()),
                Err(reason) => incomparable.push((result.name.clone(), reason)),
            }
        }
        let missing = baseline
            .run
            .benchmarks
            .iter()
            .filter(|b| current.get(&b.name).is_none())
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
            incomparable,
            class_changes,
            fail_on,
            allow,
        }
    }

    /// Weighs the noise between runs: `means` holds each benchmark's means
    /// in earlier runs on this machine (oldest first). A slowdown the
    /// samples call a regression is not one while the current mean is
    /// within the upper prediction bound of those runs (at significance
    /// `alpha` shared over the rows, Bonferroni: the run as a whole, not
    /// each benchmark, is wrong at most that often); with fewer than [`noise::MIN_RUNS`](super::noise::MIN_RUNS)
    /// runs the samples alone decide, and the row says so. Allocation
    /// counts are not weighed: they do not jitter.
    pub fn weigh_history(
        &mut self,
        means: &std::collections::BTreeMap<String, Vec<f64>>,
        alpha: f64,
    ) {
        let tail = super::noise::machine_tail(means);
        let alpha = alpha / self.rows.len().max(1) as f64;
        for row in &mut self.rows {
            let noise = RunNoise::with_tail(
                means.get(&row.name).map_or(&[][..], Vec::as_slice),
                alpha,
                tail,
            );
            let verdict = &mut row.comparison.comparison.verdict;
            if matches!(verdict, Verdict::Regressed(_)) && noise.explains(row.current_mean) {
                row.overruled = Some(*verdict);
                *verdict = Verdict::Unchanged;
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

    /// Why the gate fails, in words; empty when it passes.
    pub fn failures(&self) -> Vec<String> {
        let mut why = Vec::new();
        let blocking = self.blocking().len();
        if blocking > 0 {
            why.push(format!(
                "{blocking} regression(s) at or above {}",
                self.fail_on.as_str()
            ));
        }
        let grew: Vec<String> = self
            .class_changes
            .iter()
            .filter(|c| c.regressed() && c.confirmed(&self.rows))
            .map(ClassChange::describe)
            .collect();
        if !grew.is_empty() {
            why.push(format!(
                "{} complexity class(es) grew ({})",
                grew.len(),
                grew.join("; ")
            ));
        }
        if !self.incomparable.is_empty() && !self.allow.incomparable {
            why.push(format!(
                "{} benchmark(s) could not be compared (--allow-incomparable lets that pass)",
                self.incomparable.len()
            ));
        }
        if self.rows.is_empty() && self.incomparable.is_empty() && !self.allow.empty {
            why.push(
                "nothing was compared: no benchmark of the run is in the baseline (--allow-empty lets that pass)"
                    .into(),
            );
        }
        why
    }

    /// True when the gate fails: a regression at or above `fail_on`, a
    /// benchmark that could not be compared, or nothing compared, unless
    /// allowed.
    pub fn failed(&self) -> bool {
        !self.failures().is_empty()
    }

    /// A class change's verdict for the table and the summary.
    fn class_verdict(&self, change: &ClassChange) -> String {
        match (change.regressed(), change.confirmed(&self.rows)) {
            (true, true) => "  REGRESSED".into(),
            (true, false) => format!(
                "  not counted: its largest case, {}, did not regress",
                change.largest.as_deref().unwrap_or("?")
            ),
            (false, _) => "  improved".into(),
        }
    }

    /// A row's figures as text: baseline, current, change, speedup, p-value, verdict.
    fn cells(r: &GuardRow) -> [String; 6] {
        let c = &r.comparison;
        let mut verdict = c.comparison.verdict.describe();
        match (&r.overruled, &r.noise) {
            (Some(samples), Some(noise)) => {
                let _ = write!(
                    verdict,
                    " (the samples said {}; {})",
                    samples.describe(),
                    noise.describe(r.current_mean)
                );
            }
            (None, Some(noise)) if c.comparison.verdict.severity().is_some() => {
                let _ = write!(verdict, " ({})", noise.describe(r.current_mean));
            }
            _ => {}
        }
        if let Some(paired) = &r.paired {
            let _ = write!(verdict, " ({})", paired.describe());
        }
        if let Some(a) = c.allocations.filter(|a| a.regressed) {
            let _ = write!(verdict, "; allocations REGRESSED ({})", a.describe());
        }
        if let Some(i) = c.instructions {
            let _ = write!(
                verdict,
                "; instructions/iter {} → {} ({:+.2} %{})",
                format_count(i.baseline),
                format_count(i.current),
                i.change * 100.0,
                i.severity
                    .map_or(String::new(), |s| format!(", REGRESSED ({})", s.as_str()))
            );
        }
        [
            format_ns(r.baseline_mean),
            format_ns(r.current_mean),
            format_change(c.comparison.change),
            format!("{:.3}x", c.speedup[0]),
            format!("{:.4}", c.comparison.p_value),
            verdict,
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
        for (name, reason) in &self.incomparable {
            let _ = writeln!(out, "{name:<width$}  COULD NOT COMPARE: {reason}");
        }
        for change in &self.class_changes {
            let _ = writeln!(
                out,
                "complexity {}{}",
                change.describe(),
                self.class_verdict(change)
            );
        }
        for name in &self.new {
            let _ = writeln!(out, "{name:<width$}  (not in the baseline)");
        }
        for name in &self.missing {
            let _ = writeln!(out, "{name:<width$}  (in the baseline, not in this run)");
        }
        let failures = self.failures();
        let _ = write!(
            out,
            "{}: {} compared with baseline {}, {} blocking regression(s) at or above {}",
            if failures.is_empty() { "PASS" } else { "FAIL" },
            self.rows.len(),
            self.baseline_version,
            self.blocking().len(),
            self.fail_on.as_str()
        );
        for why in failures.iter().filter(|w| !w.contains("regression(s)")) {
            let _ = write!(out, "; {why}");
        }
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
        for (name, reason) in &self.incomparable {
            let _ = writeln!(out, "| `{name}` | | | | | | could not compare: {reason} |");
        }
        if !self.class_changes.is_empty() {
            out.push_str("\n| complexity | baseline | current | |\n| --- | --- | --- | --- |\n");
            for c in &self.class_changes {
                let _ = writeln!(
                    out,
                    "| `{}` {} | {} | {} | {} |",
                    c.benchmark,
                    c.measure,
                    c.baseline,
                    c.current,
                    self.class_verdict(c)
                        .trim()
                        .replacen("REGRESSED", "regressed", 1)
                );
            }
        }
        let failures = self.failures();
        if !failures.is_empty() {
            let _ = writeln!(out, "\nThe gate fails: {}.", failures.join("; "));
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

fn geometric_mean(xs: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = xs.len() as f64;
    (xs.map(f64::ln).sum::<f64>() / n).exp()
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
        let report = GuardReport::compare(
            &current,
            &base,
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
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
        let lenient = GuardReport::compare(
            &current,
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow::default(),
        );
        assert!(!lenient.failed());
    }

    fn with_allocations(mut run: SuiteRun, allocs: f64, bytes: f64) -> SuiteRun {
        for b in &mut run.benchmarks {
            b.allocations = Some(crate::results::Allocations {
                allocs,
                deallocs: allocs,
                bytes,
                peak_bytes: bytes as u64,
            });
        }
        run
    }

    #[test]
    fn more_allocations_per_iteration_fail_the_gate_at_the_same_time() {
        let base = Baseline {
            version: "main".into(),
            run: with_allocations(run(&[("a", 100.0)]), 2.0, 64.0),
        };
        let gate = |allocs: f64, bytes: f64| {
            let current = with_allocations(run(&[("a", 100.0)]), allocs, bytes);
            GuardReport::compare(
                &current,
                &base,
                &Policy::default(),
                Severity::Major,
                Allow::default(),
            )
        };
        let more = gate(3.0, 96.0);
        assert!(more.failed(), "{}", more.table());
        assert!(
            more.table()
                .contains("allocations REGRESSED (allocs/iter 2 → 3, bytes/iter 64 → 96)"),
            "{}",
            more.table()
        );
        // Amortised growth (one reallocation in 50 iterations) is not a change.
        assert!(!gate(2.02, 64.0).failed());
        // Fewer allocations are not a regression.
        assert!(!gate(1.0, 32.0).failed());
        // Same count, more bytes: a regression.
        assert!(gate(2.0, 128.0).failed());
    }

    /// A run of cases `name/n` whose means grow as `f(n)`.
    fn sized(name: &str, f: impl Fn(f64) -> f64) -> SuiteRun {
        let sizes = [64.0, 256.0, 1024.0, 4096.0, 16384.0];
        let names: Vec<String> = sizes.iter().map(|n| format!("{name}/{n}")).collect();
        let means: Vec<(&str, f64)> = names
            .iter()
            .zip(sizes)
            .map(|(name, n)| (name.as_str(), f(n)))
            .collect();
        let mut r = run(&means);
        for (b, n) in r.benchmarks.iter_mut().zip(sizes) {
            b.labels = vec![("param".into(), n.to_string())];
        }
        r
    }

    #[test]
    fn a_class_change_the_largest_case_does_not_show_is_not_counted() {
        let base = Baseline {
            version: "main".into(),
            run: sized("find", |n| 10.0 + n),
        };
        // O(n log n) by the fit, but the largest size as fast as before.
        let top = 16384.0f64;
        let scale = (10.0 + top) / (top * top.log2());
        let report = GuardReport::compare(
            &sized("find", |n| scale * n * n.log2()),
            &base,
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        assert_eq!(report.class_changes.len(), 1, "{}", report.table());
        let change = &report.class_changes[0];
        assert!(change.regressed());
        assert!(!change.confirmed(&report.rows));
        assert!(!report.failed(), "{}", report.table());
        assert!(
            report
                .table()
                .contains("not counted: its largest case, find/16384, did not regress"),
            "{}",
            report.table()
        );
    }

    #[test]
    fn a_complexity_class_that_grows_fails_the_gate() {
        let base = Baseline {
            version: "main".into(),
            run: sized("find", |n| 10.0 + n),
        };
        let worse = GuardReport::compare(
            &sized("find", |n| 10.0 + n * n / 64.0),
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow::default(),
        );
        assert_eq!(
            worse.class_changes,
            [ClassChange {
                benchmark: "find".into(),
                measure: "time".into(),
                baseline: Class::Linear,
                current: Class::Quadratic,
                largest: Some("find/16384".into()),
            }]
        );
        assert!(worse.failed());
        assert!(
            worse
                .failures()
                .iter()
                .any(|w| w.contains("find time: O(n) → O(n^2)")),
            "{:?}",
            worse.failures()
        );
        assert!(
            worse
                .markdown()
                .contains("| `find` time | O(n) | O(n^2) | regressed |")
        );
        let better = GuardReport::compare(
            &sized("find", |n| 10.0 + 4.0 * n.log2()),
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow::default(),
        );
        assert!(better.class_changes.iter().all(|c| !c.regressed()));
        assert!(!better.failures().iter().any(|w| w.contains("complexity")));
    }

    #[test]
    fn a_shift_the_history_has_seen_is_not_a_regression() {
        let base = baseline(&[("a", 100.0), ("b", 100.0), ("c", 100.0)]);
        let current = run(&[("a", 125.0), ("b", 125.0), ("c", 125.0)]);
        let mut report = GuardReport::compare(
            &current,
            &base,
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        assert_eq!(
            report.blocking().len(),
            3,
            "the samples alone: three regressions"
        );
        let mut means = std::collections::BTreeMap::new();
        // a: unchanged code that wanders by ±15 % between runs.
        means.insert(
            "a".to_owned(),
            vec![100.0, 130.0, 95.0, 125.0, 105.0, 120.0],
        );
        // b: runs that agree within 1 %.
        means.insert("b".to_owned(), vec![100.0, 101.0, 99.0, 100.0, 100.5, 99.5]);
        // c: two runs, too few to say.
        means.insert("c".to_owned(), vec![100.0, 101.0]);
        report.weigh_history(&means, 0.01);
        let blocking: Vec<&str> = report.blocking().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(blocking, ["b", "c"]);
        // The α is shared over the three rows.
        let tail = crate::analysis::noise::machine_tail(&means);
        let row = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            row("a").noise,
            Some(RunNoise::with_tail(&means["a"], 0.01 / 3.0, tail))
        );
        assert_ne!(
            row("a").noise,
            Some(RunNoise::with_tail(&means["a"], 0.01, tail))
        );
        let table = report.table();
        assert!(
            table.contains(
                "unchanged (the samples said REGRESSED (major); within the last 6 runs' spread"
            ),
            "{table}"
        );
        assert!(
            table.contains("2 earlier run(s) on this machine, 5 needed"),
            "{table}"
        );
    }

    #[test]
    fn no_change_passes() {
        let base = baseline(&[("a", 100.0)]);
        let report = GuardReport::compare(
            &run(&[("a", 100.0)]),
            &base,
            &Policy::default(),
            Severity::Minor,
            Allow::default(),
        );
        assert!(!report.failed(), "{}", report.table());
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;
    use crate::results::BenchResult;
    use crate::results::fixtures::run;

    fn baseline(run: SuiteRun) -> Baseline {
        Baseline {
            version: "main".into(),
            run,
        }
    }

    #[test]
    fn a_gate_that_compared_nothing_fails_unless_allowed() {
        let base = baseline(run("b", "main", &[("old_name", 100.0)]));
        let current = run("c", "main", &[("new_name", 100.0)]);
        let strict = GuardReport::compare(
            &current,
            &base,
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        assert!(strict.failed());
        assert!(
            strict.table().contains("nothing was compared"),
            "{}",
            strict.table()
        );
        let empty_run = SuiteRun::new("c", "main", Vec::new());
        assert!(
            GuardReport::compare(
                &empty_run,
                &base,
                &Policy::default(),
                Severity::Major,
                Allow::default()
            )
            .failed()
        );
        let allow = Allow {
            empty: true,
            ..Allow::default()
        };
        assert!(
            !GuardReport::compare(&current, &base, &Policy::default(), Severity::Major, allow)
                .failed()
        );
    }

    #[test]
    fn could_not_compare_is_a_verdict_of_its_own_and_blocks_by_default() {
        let mut base_run = run("b", "main", &[("a", 100.0), ("b", 100.0)]);
        // One sample: no spread, no test.
        base_run.benchmarks[1] = BenchResult::from_samples("b", vec![100.0]).unwrap();
        let current = run("c", "main", &[("a", 100.0), ("b", 100.0)]);
        let report = GuardReport::compare(
            &current,
            &baseline(base_run.clone()),
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.incomparable.len(), 1);
        assert!(
            report.incomparable[0].1.contains("1 sample"),
            "{:?}",
            report.incomparable
        );
        assert!(report.failed());
        assert!(
            report.table().contains("COULD NOT COMPARE"),
            "{}",
            report.table()
        );
        assert!(report.markdown().contains("could not compare"));
        let lenient = GuardReport::compare(
            &current,
            &baseline(base_run),
            &Policy::default(),
            Severity::Major,
            Allow {
                incomparable: true,
                ..Allow::default()
            },
        );
        assert!(!lenient.failed(), "{}", lenient.table());
    }

    #[test]
    fn paired_rounds_decide_the_time_and_too_few_make_a_row_incomparable() {
        // The pooled samples say +30 % (major for Welch); the rounds, A and B
        // alternating on a machine whose speed drifts, say 3 % slower.
        let current = run("c0ffee", "pr", &[("drifting", 130.0), ("short", 100.0)]);
        let mut report = GuardReport::compare(
            &current,
            &baseline(run(
                "base",
                "main",
                &[("drifting", 100.0), ("short", 100.0)],
            )),
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        let rounds: Vec<(f64, f64)> = (0..10)
            .map(|i| {
                let drift = 1.0 + 0.5 * (i % 3) as f64;
                let wobble = 1.0 + 0.002 * (i % 2) as f64;
                (100.0 * drift, 103.0 * drift * wobble)
            })
            .collect();
        let map = std::collections::BTreeMap::from([
            ("drifting".to_owned(), rounds),
            ("short".to_owned(), vec![(100.0, 100.0); 2]),
        ]);
        report.pair_rounds(&map, &Policy::default());
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        let paired = row.paired.as_ref().expect("paired");
        assert!((paired.ratio - 1.031).abs() < 0.002, "{paired:?}");
        assert_eq!(paired.alpha, 0.005, "α shared over the two rows");
        assert_eq!(
            row.comparison.comparison.verdict,
            Verdict::Regressed(Severity::Major)
        );
        assert!((row.comparison.comparison.change - 0.031).abs() < 0.002);
        assert!(
            report.table().contains("10 rounds, ratio 1.03"),
            "{}",
            report.table()
        );
        assert_eq!(report.incomparable.len(), 1);
        assert!(report.incomparable[0].1.contains("2 paired round(s)"));
        assert!(report.failed());
    }
}
