//! The `benchscope` command: `guard` (the CI gate), `analyze` (history and
//! report) and `baseline` (list, export, import). Exit codes: 0 success, 1 a
//! blocking regression (guard), 2 bad input.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analyze;
use crate::baseline::Baseline;
use crate::config::Loaded;
use crate::error::Error;
use crate::guard::GuardReport;
use crate::history::History;
use crate::instruments::Pipeline;
use crate::regression::Severity;
use crate::results::SuiteRun;
use crate::telemetry::Telemetry;

/// benchscope: the CI gate, history analysis and baselines.
#[derive(Debug, Parser)]
#[command(name = "benchscope", version)]
pub struct Tool {
    /// The configuration file (default: benchscope.toml here, if any).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The history database (default target/benchscope/history.db).
    #[arg(long, global = true, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: ToolCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Compare the latest run (or a results file) with a baseline; exit 1 on a
    /// regression at or above --fail-on.
    Guard {
        /// A results file written by `--output json` (default: the latest run in the history).
        #[arg(long, value_name = "FILE")]
        results: Option<PathBuf>,
        /// The baseline: a saved name or a results file.
        #[arg(
            long,
            value_name = "NAME|FILE",
            required_unless_present = "baseline_branch"
        )]
        baseline: Option<String>,
        /// The baseline is the latest run of this branch in the history.
        #[arg(long, value_name = "BRANCH", conflicts_with = "baseline")]
        baseline_branch: Option<String>,
        /// The smallest severity that fails the gate.
        #[arg(long, value_enum, default_value = "major")]
        fail_on: FailOn,
        /// Also write the Markdown summary here (it always goes to
        /// $GITHUB_STEP_SUMMARY when that is set).
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
    },
    /// Trends per benchmark across the history, the commits where step
    /// changes began, and an HTML report with plots.
    Analyze {
        /// Only runs of this branch.
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// Only benchmarks whose name contains this.
        #[arg(long, value_name = "FILTER")]
        bench: Option<String>,
        /// Compare distributions and speedups with this baseline (name or file).
        #[arg(long, value_name = "NAME|FILE")]
        baseline: Option<String>,
        /// Where the report goes.
        #[arg(long, value_name = "DIR", default_value = "target/benchscope/report")]
        out: PathBuf,
    },
    /// Saved baselines.
    Baseline {
        /// What to do with them.
        #[command(subcommand)]
        action: BaselineAction,
    },
    /// Back up or restore the history database.
    History {
        /// What to do with it.
        #[command(subcommand)]
        action: HistoryAction,
    },
}

/// What to do with the history database.
#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// Write a consistent copy of the history to FILE (a new file); safe while
    /// suites are running.
    Backup {
        /// The backup file to create.
        file: PathBuf,
    },
    /// Replace the history with the backup in FILE, after checking it.
    Restore {
        /// A file written by `benchscope history backup`.
        file: PathBuf,
    },
}

/// What to do with baselines.
#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// List the saved baselines.
    List,
    /// Write baseline NAME to FILE as JSON (a results file), e.g. for a CI artifact.
    Export {
        /// The baseline.
        name: String,
        /// The file to write.
        file: PathBuf,
    },
    /// Read FILE (a results file) into the history and save it as baseline NAME.
    Import {
        /// The baseline name to save it under.
        name: String,
        /// The results file.
        file: PathBuf,
    },
}

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
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

/// Entry point of the `benchscope` binary.
pub fn main() -> ExitCode {
    super::parse_and_run(run)
}

fn run(tool: Tool) -> Result<ExitCode, Error> {
    let loaded = Loaded::load(tool.config.as_deref(), std::env::vars())?;
    let history_path = tool
        .history
        .clone()
        .unwrap_or_else(|| loaded.config.history.path.clone());
    match tool.command {
        ToolCommand::Guard {
            results,
            baseline,
            baseline_branch,
            fail_on,
            summary,
        } => {
            let history = if results.is_none()
                || baseline_branch.is_some()
                || baseline
                    .as_deref()
                    .is_some_and(|b| !std::path::Path::new(b).is_file())
            {
                Some(History::open(&history_path)?)
            } else {
                None
            };
            let (current, current_id) = match &results {
                Some(path) => (SuiteRun::read_json(path)?, None),
                None => {
                    let h = history.as_ref().expect("opened above");
                    let id = h.latest(None)?.ok_or_else(|| Error::History {
                        path: history_path.clone(),
                        message: "it holds no run yet; run the suite first, or pass --results FILE"
                            .into(),
                    })?;
                    (h.run(id)?, Some(id))
                }
            };
            let baseline = match (&baseline, &baseline_branch) {
                (Some(name), _) => Baseline::resolve(name, history.as_ref())?,
                (None, Some(branch)) => Baseline::latest_of_branch(
                    branch,
                    history.as_ref().expect("opened above"),
                    current_id,
                )?,
                (None, None) => unreachable!("clap requires one of them"),
            };
            let report = GuardReport::compare(
                &current,
                &baseline,
                &loaded.config.regression,
                fail_on.into(),
            );
            println!("{}", report.table());
            let markdown = report.markdown();
            let mut targets: Vec<PathBuf> = summary.into_iter().collect();
            if let Some(step) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                targets.push(PathBuf::from(step));
            }
            for path in targets {
                append(&path, &markdown)?;
            }
            export_verdict(&loaded, &current, &report)?;
            Ok(if report.failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        ToolCommand::Analyze {
            branch,
            bench,
            baseline,
            out,
        } => {
            let history = History::open(&history_path)?;
            let infos = history.runs(branch.as_deref())?;
            if infos.is_empty() {
                return Err(Error::History {
                    path: history_path,
                    message: "it holds no run to analyze; run the suite first".into(),
                });
            }
            let mut runs = Vec::with_capacity(infos.len());
            for (i, info) in infos.iter().enumerate() {
                eprint!("\rreading run {}/{}", i + 1, infos.len());
                let mut run = history.run(info.id)?;
                if let Some(filter) = &bench {
                    run.benchmarks.retain(|b| b.name.contains(filter.as_str()));
                }
                runs.push(run);
            }
            eprintln!();
            let baseline = baseline
                .as_deref()
                .map(|name| Baseline::resolve(name, Some(&history)))
                .transpose()?;
            let trends = analyze::trends(&runs, &loaded.config.regression);
            print!("{}", analyze::summary(&trends));
            let path = analyze::write_report(
                &out,
                &trends,
                baseline.as_ref().map(|b| (b.version.as_str(), &b.run)),
            )?;
            println!("report: {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::Baseline { action } => {
            let mut history = History::open(&history_path)?;
            match action {
                BaselineAction::List => {
                    for (name, id) in history.baselines()? {
                        let run = history.run(id)?;
                        println!(
                            "{name}\trun {id}\t{}\t{}\t{} benchmarks",
                            run.branch,
                            run.commit,
                            run.benchmarks.len()
                        );
                    }
                }
                BaselineAction::Export { name, file } => {
                    let baseline = Baseline::resolve(&name, Some(&history))?;
                    baseline.run.write_json(&file)?;
                    println!("baseline `{name}` written to {}", file.display());
                }
                BaselineAction::Import { name, file } => {
                    let run = SuiteRun::read_json(&file)?;
                    let id = history.import(&run)?;
                    history.save_baseline(&name, id)?;
                    println!("{} imported as run {id}, baseline `{name}`", file.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::History { action } => {
            let mut history = History::open(&history_path)?;
            match action {
                HistoryAction::Backup { file } => {
                    let runs = history.backup(&file)?;
                    println!(
                        "{} backed up to {} ({runs} runs)",
                        history_path.display(),
                        file.display()
                    );
                }
                HistoryAction::Restore { file } => {
                    let runs = history.restore(&file)?;
                    println!(
                        "{} restored from {} ({runs} runs)",
                        history_path.display(),
                        file.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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
/// `ci_pipeline_status` from the CI's variables, and the comparisons.
fn export_verdict(loaded: &Loaded, current: &SuiteRun, report: &GuardReport) -> Result<(), Error> {
    let mut config = loaded.config.clone();
    config.detect_vcs();
    // A pull endpoint that closes at once would never be scraped: serve it
    // only when asked to stay up (prometheus.linger / --serve-after).
    if config.prometheus.linger.is_zero() {
        config
            .exporters
            .retain(|e| *e != crate::config::ExporterKind::Prometheus);
    }
    // The gate's process is short: no resource readings, a final flush.
    let telemetry = Telemetry::start_with_warnings(
        &config,
        std::sync::Arc::new(|w: &str| eprintln!("warning: {w}")),
    )?;
    for row in &report.rows {
        telemetry
            .instruments()
            .record_comparison(&row.name, &row.comparison, &current.commit);
    }
    let branch = if current.branch.is_empty() {
        config.branch.clone()
    } else {
        current.branch.clone()
    };
    telemetry
        .instruments()
        .record_ci_status(!report.failed(), &Pipeline::from_env(&branch));
    telemetry.shutdown(config.prometheus.linger)?;
    Ok(())
}
