//! The `benchscope` command: `guard` (the CI gate), `compare` (interleaved
//! A/B runs of two builds), `analyze` (history and
//! report), `baseline` (list, export, import) and `history` (backup,
//! restore). Exit codes: 0 success, 1 a blocking regression (guard), 2 bad
//! input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::gate::{FailOn, export_verdict, write_summary};

use crate::analysis::analyze;
use crate::analysis::baseline::{self, Baseline};
use crate::analysis::guard::{Allow, GuardReport};
use crate::analysis::history::{History, RunSource, machine_fingerprint};
use crate::config::Loaded;
use crate::error::Error;
use crate::results::SuiteRun;

/// benchscope: the CI gate, history analysis and baselines.
#[derive(Debug, Parser)]
#[command(name = "benchscope", version)]
pub(crate) struct Tool {
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
pub(crate) enum ToolCommand {
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
        /// Pass when nothing was compared (by default that fails: no
        /// benchmark of the run is in the baseline).
        #[arg(long)]
        allow_empty: bool,
        /// Pass when a benchmark on both sides could not be compared (too few
        /// samples, figures out of range; by default that fails).
        #[arg(long)]
        allow_incomparable: bool,
        /// Pass when benchmarks of the baseline are not in the run (filtered
        /// away on purpose, or removed; by default that fails).
        #[arg(long)]
        allow_missing: bool,
        /// Pass when benchmarks failed in the run (panicked, never iterated;
        /// by default that fails).
        #[arg(long)]
        allow_failed: bool,
        /// Decide on the samples alone: do not weigh the spread of earlier
        /// runs on this machine from the history (weighed by default, when
        /// the history holds 5 or more of them).
        #[arg(long)]
        samples_only: bool,
        /// Serve the verdict's figures on the Prometheus endpoint (when the
        /// `prometheus` exporter is configured) for this long after the
        /// gate, for a scrape; by default the gate only pushes.
        #[arg(long, value_name = "DURATION")]
        serve_after: Option<String>,
    },
    /// Build a bench target at REV (default: the merge base with the
    /// default branch) and at the working tree, run each benchmark by both
    /// in alternating rounds and decide by a paired test; exit 1 on a
    /// regression at or above --fail-on.
    Compare(super::compare::CompareArgs),
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
        /// Where the HTML report goes (default target/benchscope/report;
        /// needs the `report` feature).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
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
    /// The monitoring stack (Prometheus, Alertmanager, alert rules, the
    /// Grafana dashboard) for this crate: write its configuration, or run it.
    Stack {
        /// What to do with it.
        #[command(subcommand)]
        action: super::stack::StackAction,
    },
}

/// What to do with the history database.
#[derive(Debug, Subcommand)]
pub(crate) enum HistoryAction {
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
pub(crate) enum BaselineAction {
    /// List the saved baselines.
    List,
    /// Write baseline NAME to FILE as JSON (a results file), e.g. for a CI artifact.
    Export {
        /// The baseline.
        name: String,
        /// The file to write.
        file: PathBuf,
    },
    /// Check FILE (a results file) and save it as baseline NAME.
    Import {
        /// The baseline name to save it under.
        name: String,
        /// The results file.
        file: PathBuf,
    },
}

/// Entry point of the `benchscope` binary.
pub(crate) fn main() -> ExitCode {
    super::parse_and_run(Tool::try_parse, run)
}

fn run(tool: Tool) -> Result<ExitCode, Error> {
    let history_flag = tool.history.clone();
    let serve_after = match &tool.command {
        ToolCommand::Guard { serve_after, .. } => serve_after.clone(),
        _ => None,
    };
    let exports = matches!(
        tool.command,
        ToolCommand::Guard { .. } | ToolCommand::Compare(_)
    );
    let (loaded, left_out) =
        Loaded::load_for_tool(tool.config.as_deref(), std::env::vars(), |loaded| {
            if let Some(path) = &history_flag {
                loaded.set_flag("history.path", &path.to_string_lossy(), "--history")?;
            }
            if let Some(linger) = &serve_after {
                loaded.set_flag("prometheus.linger", linger, "--serve-after")?;
            }
            Ok(())
        })?;
    // The configuration is the suite's; this command may be built with
    // fewer features. Only the commands that export say what they go
    // without.
    if exports {
        for what in left_out {
            eprintln!(
                "warning: {what} is configured, but this benchscope command was built without it; going on without it (install it with that feature to export there too)"
            );
        }
    }
    let config = &loaded.config;
    let history_path = config.history.path.clone();
    let baseline_dir = &config.baseline_dir;
    match tool.command {
        ToolCommand::Guard {
            results,
            baseline,
            baseline_branch,
            fail_on,
            summary,
            allow_empty,
            allow_incomparable,
            allow_missing,
            allow_failed,
            samples_only,
            serve_after: _,
        } => {
            let backend = config.history.backend().is_some();
            let history: Option<Box<dyn RunSource>> =
                if results.is_none() || baseline_branch.is_some() || backend {
                    // A backend that cannot be read is an error whatever it
                    // was needed for: a fleet's gate never passes on less
                    // than the history it was pointed at.
                    Some(open_history(config)?)
                } else if !samples_only && history_path.is_file() {
                    // Only for the noise between runs: a history file that
                    // cannot be read costs that, with a warning, not the gate.
                    open_history(config)
                        .inspect_err(|e| eprintln!("warning: {e}; the samples alone decide"))
                        .ok()
                } else {
                    None
                };
            let (current, current_id) = match &results {
                // A results file of a run the history also recorded is that
                // run: found by its start, commit and branch, so that it is
                // never inside its own spread.
                Some(path) => {
                    let run = SuiteRun::read_json(path)?;
                    let id = match &history {
                        Some(h) => h.find(&run)?,
                        None => None,
                    };
                    (run, id)
                }
                None => {
                    let h = history.as_deref().ok_or_else(no_history)?;
                    let id = h.latest(None)?.ok_or_else(|| {
                        history_error(
                            config,
                            "it holds no run yet; run the suite first, or pass --results FILE",
                        )
                    })?;
                    (h.run(id)?, Some(id))
                }
            };
            let machine = match (&history, current_id) {
                (Some(h), Some(id)) => h.machine_of(id)?.unwrap_or_else(machine_fingerprint),
                _ => machine_fingerprint(),
            };
            let baseline = match (&baseline, &baseline_branch) {
                (Some(name), _) => Baseline::resolve(name, baseline_dir)?,
                (None, Some(branch)) => Baseline::latest_of_branch(
                    branch,
                    history.as_deref().ok_or_else(no_history)?,
                    current_id,
                    Some(&machine),
                )?,
                (None, None) => {
                    return Err(Error::Argument {
                        flag: "--baseline".into(),
                        value: String::new(),
                        reason: "name a baseline (--baseline NAME|FILE) or a branch (--baseline-branch BRANCH)".into(),
                    });
                }
            };
            let allow = Allow {
                empty: allow_empty,
                incomparable: allow_incomparable,
                missing: allow_missing,
                failed: allow_failed,
            };
            let mut report = GuardReport::compare(
                &current,
                &baseline,
                &config.regression,
                fail_on.into(),
                allow,
            );
            if !samples_only {
                match &history {
                    Some(h) => {
                        let branch = Some(baseline.run.branch.as_str()).filter(|b| !b.is_empty());
                        let means = h.means_by_benchmark(&machine, branch, current_id)?;
                        let baseline_runs =
                            h.means_of_commit(&machine, &baseline.run.commit, current_id)?;
                        report.weigh_history(&means, &baseline_runs, &config.regression);
                    }
                    None => eprintln!(
                        "note: no history at {}: the samples alone decide (the noise between runs is weighed from 5 earlier runs on this machine)",
                        history_path.display()
                    ),
                }
            }
            if let Some(cost) = history.as_deref().and_then(RunSource::cost) {
                eprintln!("{cost}");
            }
            println!("{}", report.table());
            write_summary(summary, &report.markdown())?;
            export_verdict(&loaded, &current, &report)?;
            Ok(if report.failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        ToolCommand::Compare(args) => {
            let compared = super::compare::run(&loaded, &args)?;
            let report = &compared.report;
            match args.output {
                super::compare::Output::Table => {
                    println!("{}{}", report.table(), compared.describe_flame_graphs());
                }
                super::compare::Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&super::compare::CompareJson::of(&compared))
                        .expect("the comparison serializes")
                ),
            }
            write_summary(
                args.summary,
                &format!("{}{}", report.markdown(), compared.describe_flame_graphs()),
            )?;
            export_verdict(&loaded, &compared.candidate, report)?;
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
            let history = open_history(config)?;
            if history.cost().is_some() {
                let runs = history.runs(branch.as_deref())?.len();
                eprintln!(
                    "reading {runs} run(s) from {} (a query per figure of each run)...",
                    history.describe()
                );
            }
            let readable = history.readable_runs(branch.as_deref())?;
            for warning in &readable.skipped {
                eprintln!("warning: {warning}");
            }
            if readable.runs.is_empty() {
                return Err(history_error(
                    config,
                    "it holds no readable run to analyze; run the suite first",
                ));
            }
            let runs: Vec<SuiteRun> = readable
                .runs
                .into_iter()
                .map(|(_, mut run)| {
                    if let Some(filter) = &bench {
                        run.benchmarks.retain(|b| b.name.contains(filter.as_str()));
                        run.complexity = SuiteRun::fit_complexity(&run.benchmarks);
                    }
                    run
                })
                .collect();
            let baseline = baseline
                .as_deref()
                .map(|name| Baseline::resolve(name, baseline_dir))
                .transpose()?;
            if let Some(cost) = history.cost() {
                eprintln!("{cost}");
            }
            let trends = analyze::trends(&runs, &config.regression);
            print!("{}", analyze::summary(&trends));
            #[cfg(feature = "report")]
            {
                let out = out.unwrap_or_else(|| PathBuf::from("target/benchscope/report"));
                let path = crate::analysis::plot::write_report(
                    &out,
                    &trends,
                    runs.last(),
                    baseline.as_ref().map(|b| (b.version.as_str(), &b.run)),
                    std::path::Path::new(crate::measure::flame::DEFAULT_DIR),
                )?;
                println!("report: {}", path.display());
            }
            #[cfg(not(feature = "report"))]
            {
                let _ = baseline;
                if let Some(out) = out {
                    return Err(Error::FeatureMissing {
                        what: "the HTML report".into(),
                        key: format!("--out {}", out.display()),
                        feature: "report",
                    });
                }
                println!("(the HTML report with plots needs the `report` feature)");
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::Baseline { action } => {
            match action {
                BaselineAction::List => {
                    for name in baseline::saved_names(baseline_dir)? {
                        let b = Baseline::resolve(&name, baseline_dir)?;
                        println!(
                            "{name}\t{}\t{}\t{} benchmarks",
                            b.run.branch,
                            b.run.commit,
                            b.run.benchmarks.len()
                        );
                    }
                }
                BaselineAction::Export { name, file } => {
                    let baseline = Baseline::resolve(&name, baseline_dir)?;
                    baseline.run.write_json(&file)?;
                    println!("baseline `{name}` written to {}", file.display());
                }
                BaselineAction::Import { name, file } => {
                    let run = SuiteRun::read_json(&file)?;
                    let saved = Baseline::save(&run, &name, baseline_dir)?;
                    println!(
                        "{} saved as baseline `{name}` ({})",
                        file.display(),
                        saved.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::Stack { action } => super::stack::run(action, config.prometheus.addr),
        ToolCommand::History { action } => {
            if config.history.backend().is_some() {
                return Err(history_error(
                    config,
                    "`benchscope history` backs up and restores a history file; a metrics backend is backed up by its own means (VictoriaMetrics' vmbackup, Prometheus' snapshots)",
                ));
            }
            match action {
                HistoryAction::Backup { file } => {
                    let runs = History::open_existing(&history_path)?.backup(&file)?;
                    println!(
                        "{} backed up to {} ({runs} runs)",
                        history_path.display(),
                        file.display()
                    );
                }
                HistoryAction::Restore { file } => {
                    let runs = History::restore(&history_path, &file)?;
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

/// The history the configuration names: a SQLite file that must exist, or
/// a metrics backend's query API, reached with the OTLP exporter's TLS
/// settings, headers (credentials) and timeout.
fn open_history(config: &crate::config::Config) -> Result<Box<dyn RunSource>, Error> {
    let Some(url) = config.history.backend() else {
        return Ok(Box::new(History::open_existing(&config.history.path)?));
    };
    let otlp = &config.otlp;
    #[cfg(feature = "tls")]
    let tls = url
        .starts_with("https://")
        .then(|| otlp.tls_for(crate::config::Signal::Metrics).load())
        .transpose()
        .map_err(|(_, reason)| history_error(config, format!("its TLS files: {reason}")))?;
    #[cfg(not(feature = "tls"))]
    let tls: Option<()> = if url.starts_with("https://") {
        return Err(Error::FeatureMissing {
            what: "an https:// history".into(),
            key: "history.path".into(),
            feature: "tls",
        });
    } else {
        None
    };
    let agent = crate::exporters::client::agent(otlp.timeout, tls.as_ref())?;
    let headers = otlp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let history =
        crate::analysis::history::remote::RemoteHistory::open(url, agent, headers, otlp.timeout)?;
    if history.unfinished() > 0 {
        eprintln!(
            "note: {} run(s) in {url} started and never recorded their end (killed, or still running); left out",
            history.unfinished()
        );
    }
    Ok(Box::new(history))
}

/// An error about the configured history, file or backend.
fn history_error(config: &crate::config::Config, message: impl Into<String>) -> Error {
    let message = message.into();
    match config.history.backend() {
        Some(url) => Error::HistoryBackend {
            url: url.to_owned(),
            message,
        },
        None => Error::History {
            path: config.history.path.clone(),
            message,
        },
    }
}

fn no_history() -> Error {
    Error::Argument {
        flag: "--history".into(),
        value: "none".into(),
        reason: "this needs the history, which is off; drop BENCHSCOPE_HISTORY=none or pass --results FILE".into(),
    }
}
