//! What the two gates of the `benchscope` command share: `guard` (a run
//! against a baseline) and `compare` (two builds in alternating rounds)
//! fail on the same severities, write the same Markdown summary and record
//! their verdict through the same exporters.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::analysis::guard::{ClassChange, GateFailure, GuardReport, GuardRow};
use crate::config::{ExporterKind, Loaded};
use crate::error::Error;
use crate::format::{format_change, format_count, format_ns, shown_name};
use crate::otel::instruments::Pipeline;
use crate::results::{Severity, SuiteRun};
use crate::suite::telemetry::Telemetry;

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// Any regression.
    Minor,
    /// Major and critical regressions.
    Major,
    /// Critical regressions only.
    Critical,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Minor => Severity::Minor,
            FailOn::Major => Severity::Major,
            FailOn::Critical => Severity::Critical,
        }
    }
}

/// Appends the Markdown summary to `summary` and to $GITHUB_STEP_SUMMARY.
pub(crate) fn write_summary(summary: Option<PathBuf>, markdown: &str) -> Result<(), Error> {
    let mut targets: Vec<PathBuf> = summary.into_iter().collect();
    if let Some(step) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        targets.push(PathBuf::from(step));
    }
    for path in targets {
        append(&path, markdown)?;
    }
    Ok(())
}

fn append(path: &std::path::Path, text: &str) -> Result<(), Error> {
    let io = |source| Error::Io {
        action: "cannot write the summary to",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// Records the gate's verdict through the configured exporters:
/// `ci_pipeline_status` from the CI's variables, and the comparisons. Only
/// what a short process can deliver is started: push exporters, and the
/// Prometheus endpoint when asked to stay up for a scrape; never the live
/// view, which would compete with a suite running beside the gate.
pub(crate) fn export_verdict(
    loaded: &Loaded,
    current: &SuiteRun,
    report: &GuardReport,
) -> Result<(), Error> {
    let mut config = loaded.config.clone();
    let serve = !config.prometheus.linger.is_zero();
    config.exporters.retain(|e| match e {
        ExporterKind::Live => false,
        ExporterKind::Prometheus => serve,
        _ => true,
    });
    let telemetry = Telemetry::start_with_warnings(
        &config,
        std::sync::Arc::new(|w: &str| eprintln!("warning: {w}")),
    )?;
    for row in &report.rows {
        let labels = current
            .get(&row.name)
            .map_or(&[][..], |b| b.labels.as_slice());
        telemetry.instruments().record_comparison(
            &row.name,
            labels,
            &row.comparison,
            &current.commit,
        );
    }
    let branch = if current.branch.is_empty() {
        config.branch.as_str()
    } else {
        current.branch.as_str()
    };
    telemetry.instruments().record_ci_status(
        !report.failed(),
        &Pipeline {
            pipeline: &config.pipeline,
            branch,
            trigger: &config.trigger,
        },
    );
    telemetry.shutdown()?;
    Ok(())
}

/// The gate's decision as text: the terminal table and the CI's Markdown
/// summary.
impl GuardReport {
    /// A class change's verdict for the table and the summary.
    fn class_verdict(&self, change: &ClassChange) -> String {
        match (
            change.regressed(),
            change.confirmed(&self.rows, self.fail_on),
        ) {
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
                if let Some((samples, level)) = &r.raised {
                    let _ = write!(
                        verdict,
                        " (against the baseline run the samples said {}; against the baseline commit's usual {}, {})",
                        samples.describe(),
                        format_ns(*level),
                        format_change(r.current_mean / level - 1.0)
                    );
                }
            }
            _ => {}
        }
        if let Some(paired) = &r.paired {
            let _ = write!(verdict, " ({})", paired.describe());
        }
        if let Some(d) = &r.disturbed {
            let _ = write!(
                verdict,
                "; DISTURBED in this run ({}): its figures include the machine's interference, run it again on a quiet machine",
                d.describe()
            );
        }
        if r.baseline_disturbed {
            verdict.push_str("; the baseline's measurement was disturbed");
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
            .map(|r| shown_name(&r.name).chars().count())
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
                shown_name(&r.name),
            );
        }
        for (name, reason) in &self.incomparable {
            let name = shown_name(name);
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
            let name = shown_name(name);
            let _ = writeln!(out, "{name:<width$}  (not in the baseline)");
        }
        for name in &self.missing {
            let name = shown_name(name);
            let _ = writeln!(out, "{name:<width$}  (in the baseline, not in this run)");
        }
        for (name, error) in &self.failed {
            let name = shown_name(name);
            let _ = writeln!(out, "{name:<width$}  FAILED in this run: {error}");
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
        for why in failures
            .iter()
            .filter(|w| !matches!(w, GateFailure::Regressions { .. }))
        {
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
            let _ = writeln!(
                out,
                "| `{}` | {} |",
                shown_name(&r.name),
                Self::cells(r).join(" | ")
            );
        }
        for (name, reason) in &self.incomparable {
            let name = shown_name(name);
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
            let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
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
        for (name, error) in &self.failed {
            let name = shown_name(name);
            let _ = writeln!(out, "\nFailed in this run: `{name}`: {error}");
        }
        out
    }
}
