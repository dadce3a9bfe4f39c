//! `benchscope compare [REV]`: the bench target built at REV (default: the
//! merge base with the default branch) in a git worktree and at the working
//! tree, each benchmark run by the two builds in alternating rounds, and the
//! rounds' pairs decided by the paired test of
//! [`analysis::paired`](crate::analysis::paired).
//!
//! The baseline is checked out in one worktree, `target/benchscope/compare/
//! baseline`, with its own target folder beside it; both stay, so that the
//! next comparison builds incrementally whatever its revision (the working
//! tree builds into the project's target folder as usual).
//! Every round is a process of its own (`TARGET NAME --exact --quick
//! --output json ...`), the order alternating A B, B A, ..., so that both
//! sides see the same machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use super::gate::FailOn;
use crate::analysis::baseline::Baseline;
use crate::analysis::guard::{Allow, GuardReport};
use crate::analysis::paired::{MIN_ROUNDS, Paired};
use crate::command::{Ended, last_line, output_within};
use crate::config::Loaded;

mod build;
mod lockstep;
use crate::error::Error;
use crate::files::Scratch;
use crate::measure::stats::Stats;
use crate::measure::{callgrind, flame};
use crate::results::{BaselineComparison, BenchResult, SuiteRun};
use build::build_both;

/// What `benchscope compare` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompareArgs {
    /// The baseline revision (default: the merge base of HEAD with the
    /// default branch: origin/HEAD, else the first of main, master,
    /// origin/main and origin/master that exists).
    #[arg(value_name = "REV")]
    pub rev: Option<String>,
    /// The bench target to build and run (`harness = false`).
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bench: Option<String>,
    /// Or the example to build and run.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// The package holding the target, in a workspace.
    #[arg(short, long, value_name = "SPEC")]
    pub package: Option<String>,
    /// Features to build the target with (both sides).
    #[arg(long, value_name = "FEATURES")]
    pub features: Option<String>,
    /// Only benchmarks whose name contains this.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Rounds per benchmark; each round runs the benchmark once on each side.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(3..=1000))]
    pub rounds: u32,
    /// Each round measures with the target's own settings instead of
    /// `--quick` (the rounds, not one long run, carry the verdict).
    #[arg(long)]
    pub full: bool,
    /// `time` (default), or `instructions`: also count each side's
    /// instructions per iteration once under Callgrind and compare them.
    #[arg(long, value_name = "MODE", default_value = "time")]
    pub measure: String,
    /// The smallest severity that fails the comparison.
    #[arg(long, value_enum, default_value = "major")]
    pub fail_on: FailOn,
    /// `table` (default) or `json` on standard output.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    /// Also write the Markdown summary here (it always goes to
    /// $GITHUB_STEP_SUMMARY when that is set).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Pass when a benchmark could not be compared.
    #[arg(long)]
    pub allow_incomparable: bool,
    /// Pass when benchmarks of the baseline's build are not in the
    /// candidate's (removed on purpose).
    #[arg(long)]
    pub allow_missing: bool,
    /// Skip the builds: the baseline's executable (with --candidate-exe).
    #[arg(long, value_name = "FILE", requires = "candidate_exe")]
    pub baseline_exe: Option<PathBuf>,
    /// Skip the builds: the candidate's executable (with --baseline-exe).
    #[arg(long, value_name = "FILE", requires = "baseline_exe")]
    pub candidate_exe: Option<PathBuf>,
    /// How long one run of a side may take (a listing, a round, a side's
    /// count under Callgrind per benchmark) before it is stopped and the
    /// comparison fails.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Run both builds at once, kept in step sample by sample, a new pair
    /// of processes every 0.4 s, and decide on the pairs (see
    /// docs/PERFORMANCE.md part 16) instead of alternating whole rounds.
    #[arg(long, conflicts_with_all = ["rounds", "full"])]
    pub paired: bool,
    /// With --paired: the most time one benchmark's sampling may take;
    /// it stops sooner when its interval decides.
    #[arg(long, value_name = "DURATION", default_value = "11s", value_parser = humantime::parse_duration, requires = "paired")]
    pub budget: Duration,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// The table.
    Table,
    /// One JSON document.
    Json,
}

/// One side of the comparison: an executable, where it runs, its label.
#[derive(Debug, Clone)]
struct Side {
    pub(super) exe: PathBuf,
    /// The package's folder: the child's working directory and
    /// CARGO_MANIFEST_DIR, as under `cargo bench`.
    pub(super) dir: PathBuf,
    /// The commit (baseline) or `HEAD` commit plus `+dirty` (candidate).
    pub(super) version: String,
}

/// The outcome: the report and the sides' labels.
pub(crate) struct Compared {
    pub report: GuardReport,
    pub candidate: SuiteRun,
    /// Differential flame graphs written, by benchmark (`--measure
    /// instructions` with the `flamegraph` feature).
    pub flame_graphs: BTreeMap<String, PathBuf>,
}

impl Compared {
    /// The differential flame graphs in words, for the table and the
    /// Markdown summary; empty without any.
    pub(crate) fn describe_flame_graphs(&self) -> String {
        if self.flame_graphs.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\nDifferential flame graphs of the instructions (baseline → candidate; red grew, blue shrank):\n",
        );
        for (name, path) in &self.flame_graphs {
            out.push_str(&format!("- {name}: {}\n", path.display()));
        }
        out
    }
}

/// Runs `benchscope compare`; prints progress on standard error.
pub(crate) fn run(loaded: &Loaded, args: &CompareArgs) -> Result<Compared, Error> {
    let counting = match args.measure.as_str() {
        "time" => false,
        "instructions" => true,
        other => {
            return Err(Error::Argument {
                flag: "--measure".into(),
                value: other.into(),
                reason: "use time or instructions".into(),
            });
        }
    };
    if counting {
        // Before any build or round: without Valgrind the counts cannot run.
        callgrind::find_valgrind().map_err(|reason| Error::Argument {
            flag: "--measure".into(),
            value: "instructions".into(),
            reason,
        })?;
    }
    install_interrupt_handler();
    let (a, b) = match (&args.baseline_exe, &args.candidate_exe) {
        (Some(a), Some(b)) => {
            let here = std::env::current_dir().map_err(|source| Error::Io {
                action: "cannot read the working directory",
                path: ".".into(),
                source,
            })?;
            let side = |exe: &Path, version: &str| Side {
                exe: exe.to_owned(),
                dir: here.clone(),
                version: version.into(),
            };
            (side(a, "baseline"), side(b, "candidate"))
        }
        _ => build_both(args)?,
    };
    let a_names = list(&a, args.filter.as_deref(), args.timeout)?;
    let b_names = list(&b, args.filter.as_deref(), args.timeout)?;
    let both: Vec<&String> = b_names.iter().filter(|n| a_names.contains(n)).collect();
    if args.paired {
        eprintln!(
            "compare: {} benchmark(s) on both sides, {} and {} in step, at most {} each",
            both.len(),
            a.version,
            b.version,
            humantime::format_duration(args.budget)
        );
    } else {
        eprintln!(
            "compare: {} benchmark(s) on both sides, {} rounds each, alternating {} and {}",
            both.len(),
            args.rounds,
            a.version,
            b.version
        );
    }
    let scratch = Scratch::create("compare").map_err(|source| Error::Io {
        action: "cannot create the scratch folder",
        path: std::env::temp_dir(),
        source,
    })?;
    let scratch = scratch.path();
    let mut a_results: BTreeMap<String, BenchResult> = BTreeMap::new();
    let mut b_results: BTreeMap<String, BenchResult> = BTreeMap::new();
    let mut rounds: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut templates: [Option<SuiteRun>; 2] = [None, None];
    let policy = &loaded.config.regression;
    let mut sampling: BTreeMap<String, String> = BTreeMap::new();
    if args.paired {
        let plan = lockstep::Plan {
            budget: args.budget,
            timeout: args.timeout,
            floor: policy.paired_floor,
            alpha: policy.alpha / both.len().max(1) as f64,
        };
        let mut coin = lockstep::Coin::new();
        for (i, name) in both.iter().enumerate() {
            // A side that crashes, hangs or breaks the protocol stops the
            // comparison: no verdict from half a measurement.
            let got = lockstep::measure([&a, &b], name, &plan, &mut coin)?;
            let ratio = Paired::of(&got.blocks, 1.0).map_or(f64::NAN, |p| p.ratio);
            eprintln!(
                "[{}/{}] {name}: ratio {ratio:.4}, {}",
                i + 1,
                both.len(),
                got.describe()
            );
            for (side, into) in [(0, &mut a_results), (1, &mut b_results)] {
                if let Some(r) = BenchResult::from_samples(*name, got.samples[side].clone()) {
                    into.insert((*name).clone(), r);
                }
            }
            sampling.insert((*name).clone(), got.describe());
            rounds.insert((*name).clone(), got.blocks);
        }
    }
    for (i, name) in both.iter().enumerate().filter(|_| !args.paired) {
        let mut pairs = Vec::new();
        let mut error = None;
        for round in 0..args.rounds {
            // A B in even rounds, B A in odd ones.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut means = [0.0; 2];
            for side in order {
                let (who, into) = if side == 0 {
                    (&a, &mut a_results)
                } else {
                    (&b, &mut b_results)
                };
                let file = scratch.join(format!("round-{side}.json"));
                match run_round(who, name, args, &file) {
                    Ok(run) => {
                        let Some(result) = run.get(name).cloned() else {
                            error = Some(format!("{} did not measure it", who.version));
                            break;
                        };
                        // The round's median: robust to the few samples of a round
                        // that a preemption hit.
                        means[side] = result.stats.p50;
                        merge(into, result);
                        templates[side].get_or_insert(run);
                    }
                    Err(Error::Interrupted) => return Err(Error::Interrupted),
                    Err(e) => {
                        error = Some(format!("{}: {e}", who.version));
                        break;
                    }
                }
            }
            if error.is_some() {
                break;
            }
            pairs.push((means[0], means[1]));
        }
        match error {
            Some(e) => {
                eprintln!("[{}/{}] {name}: could not compare: {e}", i + 1, both.len());
                a_results.remove(*name);
                b_results.remove(*name);
                failed.push(((*name).clone(), e));
            }
            None => {
                let ratio = Paired::of(&pairs, 1.0).map_or(f64::NAN, |p| p.ratio);
                eprintln!(
                    "[{}/{}] {name}: {} rounds, ratio {ratio:.4}",
                    i + 1,
                    both.len(),
                    pairs.len()
                );
                rounds.insert((*name).clone(), pairs);
            }
        }
    }
    let mut flame_graphs = BTreeMap::new();
    if counting {
        for (side, who, into) in [(0, &a, &mut a_results), (1, &b, &mut b_results)] {
            eprintln!(
                "compare: counting {}'s instructions under Callgrind",
                who.version
            );
            let file = scratch.join(format!("count-{side}.json"));
            let flames = scratch.join(format!("flame-{side}"));
            let limit = args.timeout.saturating_mul(both.len().max(1) as u32);
            let run = count(who, args.filter.as_deref(), &file, &flames, limit)?;
            for f in &run.failures {
                eprintln!("warning: {}: {}: {}", who.version, f.name, f.error);
            }
            for counted in run.benchmarks {
                if let Some(r) = into.get_mut(&counted.name) {
                    r.instructions = counted.instructions;
                }
            }
        }
    }
    if counting {
        flame_graphs = differential_flame_graphs(scratch, &b_names);
    }
    let [a_template, b_template] = templates;
    let side_run =
        |template: Option<SuiteRun>, mut results: BTreeMap<String, BenchResult>, side: &Side| {
            let mut run = template.unwrap_or_else(|| SuiteRun::new("", "", Vec::new()));
            // In the candidate's listing order.
            run.benchmarks = b_names.iter().filter_map(|n| results.remove(n)).collect();
            run.commit.clone_from(&side.version);
            run.failures.clear();
            run.complexity = SuiteRun::fit_complexity(&run.benchmarks);
            run
        };
    let baseline = Baseline {
        version: a.version.clone(),
        run: side_run(a_template, a_results, &a),
    };
    let candidate = side_run(b_template, b_results, &b);
    let mut report = GuardReport::compare(
        &candidate,
        &baseline,
        policy,
        args.fail_on.into(),
        Allow {
            empty: false,
            incomparable: args.allow_incomparable,
            missing: args.allow_missing,
            // A side's failures are listed as incomparable, which
            // --allow-incomparable governs.
            failed: false,
        },
    );
    // Benchmarks on one side only.
    report.new = b_names
        .iter()
        .filter(|n| !a_names.contains(n))
        .cloned()
        .collect();
    report.missing = a_names
        .iter()
        .filter(|n| !b_names.contains(n))
        .cloned()
        .collect();
    report.incomparable.extend(failed);
    report.pair_rounds(&rounds, policy);
    for row in &mut report.rows {
        if let (Some(paired), Some(how)) = (row.paired.as_mut(), sampling.remove(&row.name)) {
            paired.sampling = Some(how);
        }
    }
    Ok(Compared {
        report,
        candidate,
        flame_graphs,
    })
}

/// Adds `result`'s samples to the same benchmark's earlier rounds.
fn merge(into: &mut BTreeMap<String, BenchResult>, result: BenchResult) {
    match into.get_mut(&result.name) {
        Some(kept) => {
            kept.samples_ns.extend_from_slice(&result.samples_ns);
            kept.iterations += result.iterations;
            if let Some(stats) = Stats::from_samples(&kept.samples_ns) {
                kept.stats = stats;
            }
        }
        None => {
            into.insert(result.name.clone(), result);
        }
    }
}

/// The JSON document of `--output json`.
#[derive(Serialize)]
pub(crate) struct CompareJson<'a> {
    baseline: &'a str,
    candidate: &'a str,
    passed: bool,
    failures: Vec<String>,
    benchmarks: Vec<RowJson<'a>>,
    new: &'a [String],
    missing: &'a [String],
    incomparable: Vec<IncomparableJson<'a>>,
}

#[derive(Serialize)]
struct RowJson<'a> {
    name: &'a str,
    baseline_mean_ns: f64,
    candidate_mean_ns: f64,
    verdict: String,
    comparison: &'a BaselineComparison,
    paired: Option<&'a Paired>,
    flame_graph: Option<&'a Path>,
}

#[derive(Serialize)]
struct IncomparableJson<'a> {
    name: &'a str,
    reason: &'a str,
}

impl<'a> CompareJson<'a> {
    pub(crate) fn of(compared: &'a Compared) -> CompareJson<'a> {
        let r = &compared.report;
        CompareJson {
            baseline: &r.baseline_version,
            candidate: &r.commit,
            passed: !r.failed(),
            failures: r.failures().iter().map(ToString::to_string).collect(),
            benchmarks: r
                .rows
                .iter()
                .map(|row| RowJson {
                    name: &row.name,
                    baseline_mean_ns: row.baseline_mean,
                    candidate_mean_ns: row.current_mean,
                    verdict: row.comparison.comparison.verdict.describe(),
                    comparison: &row.comparison,
                    paired: row.paired.as_ref(),
                    flame_graph: compared.flame_graphs.get(&row.name).map(PathBuf::as_path),
                })
                .collect(),
            new: &r.new,
            missing: &r.missing,
            incomparable: r
                .incomparable
                .iter()
                .map(|(name, reason)| IncomparableJson { name, reason })
                .collect(),
        }
    }
}

/// Ctrl-C: the child running now is stopped, the scratch folder removed,
/// and the command ends with exit code 130. The main thread notices within
/// milliseconds while it waits on a child; the handler ends the process
/// itself if it has not after 5 s.
fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: stopping the comparison");
        crate::command::interrupt();
        std::thread::sleep(Duration::from_secs(5));
        crate::files::remove_scratch();
        std::process::exit(130);
    });
}

/// The child's command: the side's executable in its package folder, with
/// no exporter, no history, and the measurement mode left to the flags;
/// none of this command's OTEL_* and BENCHSCOPE_* variables but the
/// configuration file's.
fn child(side: &Side) -> Command {
    let mut cmd = Command::new(&side.exe);
    // The target's own configuration, not the one this command exports by.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("OTEL_")
            || (key_text.starts_with("BENCHSCOPE_") && key_text != "BENCHSCOPE_CONFIG")
        {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(&side.dir)
        .env("CARGO_MANIFEST_DIR", &side.dir)
        .args([
            "--bench",
            "--no-history",
            "--exporters",
            "none",
            "--traces",
            "none",
        ]);
    cmd
}

/// The side's benchmarks matching `filter`.
fn list(side: &Side, filter: Option<&str>, limit: Duration) -> Result<Vec<String>, Error> {
    let mut cmd = child(side);
    cmd.arg("--list");
    if let Some(f) = filter {
        cmd.arg(f);
    }
    let out = run_child(cmd.stdout(Stdio::piped()), side, limit)?;
    if !out.status.success() {
        return Err(side_failed(side, "failed to list its benchmarks", &out));
    }
    let out = out.stdout;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.strip_suffix(": benchmark"))
        .map(str::to_owned)
        .collect())
}

/// One round: `name` measured once by `side`.
fn run_round(side: &Side, name: &str, args: &CompareArgs, file: &Path) -> Result<SuiteRun, Error> {
    let mut cmd = child(side);
    cmd.args([name, "--exact", "--output", "json"]).arg(file);
    if !args.full {
        cmd.arg("--quick");
    }
    let run = results_of(cmd, side, file, args.timeout)?;
    if let Some(f) = run.failures.iter().find(|f| f.name == name) {
        return Err(Error::Command {
            command: side.exe.display().to_string(),
            message: format!("failed the benchmark: {}", f.error),
        });
    }
    Ok(run)
}

/// The differential flame graph of each benchmark both sides' counts left
/// folded stacks for (in `scratch/flame-0` and `flame-1`), written to
/// `target/benchscope/flamegraphs/NAME.diff.svg` here, beside the
/// candidate's own; problems are warnings.
fn differential_flame_graphs(scratch: &Path, names: &[String]) -> BTreeMap<String, PathBuf> {
    let mut written = BTreeMap::new();
    if !cfg!(feature = "flamegraph") {
        eprintln!("note: differential flame graphs need benchscope's `flamegraph` feature");
        return written;
    }
    let out = PathBuf::from(flame::DEFAULT_DIR);
    for name in names {
        let stem = flame::file_stem(name);
        let read = |side: u8| {
            std::fs::read_to_string(scratch.join(format!("flame-{side}/{stem}.folded"))).ok()
        };
        let (Some(before), Some(after)) = (read(0), read(1)) else {
            continue;
        };
        let path = out.join(format!("{stem}.diff.svg"));
        let drawn = std::fs::create_dir_all(&out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))
            .and_then(|()| draw_diff(&before, &after, name, &path));
        match drawn {
            Ok(()) => {
                for ext in ["folded", "svg"] {
                    let _ = std::fs::copy(
                        scratch.join(format!("flame-1/{stem}.{ext}")),
                        out.join(format!("{stem}.{ext}")),
                    );
                }
                written.insert(name.clone(), path);
            }
            Err(e) => eprintln!("warning: {name}: no differential flame graph: {e}"),
        }
    }
    written
}

#[cfg(feature = "flamegraph")]
fn draw_diff(before: &str, after: &str, name: &str, path: &Path) -> Result<(), String> {
    flame::diff_svg(
        before,
        after,
        &format!("{name}: instructions, baseline → candidate"),
        path,
    )
}

#[cfg(not(feature = "flamegraph"))]
fn draw_diff(_: &str, _: &str, _: &str, _: &Path) -> Result<(), String> {
    Err("the `flamegraph` feature is off".into())
}

/// Every matching benchmark of `side` counted once under Callgrind, its
/// flame graphs into `flames`.
fn count(
    side: &Side,
    filter: Option<&str>,
    file: &Path,
    flames: &Path,
    limit: Duration,
) -> Result<SuiteRun, Error> {
    let mut cmd = child(side);
    cmd.args(["--quick", "--measure", "instructions", "--output", "json"])
        .arg(file)
        .env(flame::DIR_VAR, flames);
    if let Some(f) = filter {
        cmd.arg(f);
    }
    results_of(cmd, side, file, limit)
}

/// Runs `cmd`, a child of `side` writing its JSON results to `file`, and
/// reads them. A failing benchmark still writes the file (which says why),
/// so only a missing file is an error here.
fn results_of(
    mut cmd: Command,
    side: &Side,
    file: &Path,
    limit: Duration,
) -> Result<SuiteRun, Error> {
    let _ = std::fs::remove_file(file);
    let out = run_child(cmd.stdout(Stdio::null()), side, limit)?;
    if !file.is_file() {
        return Err(side_failed(side, "wrote no results", &out));
    }
    SuiteRun::read_json(file)
}

/// A run of `side` that did `what` instead of its job: its exit status and
/// the last line it wrote on standard error.
fn side_failed(side: &Side, what: &str, out: &std::process::Output) -> Error {
    Error::Command {
        command: side.exe.display().to_string(),
        message: format!("{what} ({}): {}", out.status, last_line(&out.stderr)),
    }
}

/// Runs a child of `side` for at most `limit`: one that does not end in
/// time is stopped and is an error, and so is an interrupt.
fn run_child(
    cmd: &mut Command,
    side: &Side,
    limit: Duration,
) -> Result<std::process::Output, Error> {
    let ended = output_within(cmd.stderr(Stdio::piped()), limit).map_err(|e| Error::Command {
        command: side.exe.display().to_string(),
        message: format!("could not start: {e}"),
    })?;
    match ended {
        Ended::Exited(out) => Ok(out),
        Ended::TimedOut(out) => Err(Error::Command {
            command: side.exe.display().to_string(),
            message: format!(
                "did not finish within {} and was stopped (raise --timeout if its runs are that long); its last words: {}",
                humantime::format_duration(limit),
                last_line(&out.stderr)
            ),
        }),
        Ended::Interrupted => Err(Error::Interrupted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_of_one_benchmark_merge_their_samples_and_iterations() {
        let mut kept = BTreeMap::new();
        merge(
            &mut kept,
            BenchResult::from_samples("parse", vec![10.0, 12.0]).unwrap(),
        );
        merge(
            &mut kept,
            BenchResult::from_samples("parse", vec![14.0, 16.0]).unwrap(),
        );
        merge(
            &mut kept,
            BenchResult::from_samples("sort", vec![1.0, 2.0]).unwrap(),
        );
        let parse = &kept["parse"];
        assert_eq!(parse.samples_ns, [10.0, 12.0, 14.0, 16.0]);
        assert_eq!(parse.iterations, 4);
        assert_eq!(parse.stats.mean, 13.0);
        assert_eq!(kept.len(), 2);
    }
}
