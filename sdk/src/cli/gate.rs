//! What the two gates of the `benchscope` command share: `guard` (a run
//! against a baseline) and `compare` (two builds in alternating rounds)
//! fail on the same severities, write the same Markdown summary and record
//! their verdict through the same exporters.

use std::io::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::analysis::guard::GuardReport;
use crate::config::{ExporterKind, Loaded};
use crate::error::Error;
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
