//! One run of a bench target, whoever defines its benchmarks: the
//! registry's (`benchscope::main!()`), or benchmarks defined as the program
//! goes (the criterion-compatible API of `benchscope-criterion`). The
//! command line is read first; then each benchmark is listed, tested once,
//! or measured as it comes; then the outputs are written.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::ExitCode;

use super::terminal::{Terminal, table};
use super::{Args, Command};
use crate::analysis::baseline::Baseline;
use crate::config::MeasureMode;
use crate::error::Error;
use crate::files::Scratch;
use crate::measure::bencher::Bencher;
use crate::measure::callgrind;
use crate::measure::flame;
use crate::measure::registry::BenchOptions;
use crate::measure::worker::{self, Link};
use crate::results::Failure;
use crate::suite::runner::{Session, Suite, panic_message};

/// What a run does with each benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--list`: print its name.
    List,
    /// `--test`: run its routine once and report whether it worked.
    Test,
    /// Measure it.
    Measure,
}

/// A bench target's run in progress: [`Harness::from_env`] reads the
/// command line and configuration, [`Harness::bench`] lists, tests or
/// measures each benchmark as the program defines it, and
/// [`Harness::finish`] writes the outputs and gives the exit code. See
/// [`benchscope::harness`](crate::harness).
pub struct Harness {
    command: Command,
    mode: Mode,
    suite: Suite,
    session: Option<Session<'static>>,
    #[cfg(feature = "history")]
    history: Option<crate::analysis::history::History>,
    /// Names announced in advance (the registry's), for the progress view.
    announced: Vec<String>,
    seen: BTreeSet<String>,
    defined: usize,
    selected: usize,
    /// Failures outside a measurement: a name given twice, a test that failed.
    failures: Vec<Failure>,
    /// This process runs one benchmark for another: counted under
    /// Callgrind, or served to a paired comparison.
    child: Option<Child>,
    /// The scratch folder of instruction counts, removed with the harness.
    scratch: Option<Scratch>,
}

/// What a process run for one benchmark does.
#[derive(Debug)]
struct Child {
    /// The benchmark.
    target: String,
    /// What it does with it.
    role: Role,
    /// Whether it has run.
    ran: bool,
}

/// The two kinds of [`Child`].
#[derive(Debug)]
enum Role {
    /// Counted under Callgrind: this many iterations.
    Count(u64),
    /// Served sample by sample to `benchscope compare --paired`.
    Serve(Link),
}

impl Child {
    /// The child this process's environment asks for, if any.
    fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Child>, Error> {
        if let Some(target) = var(worker::WORKER_VAR) {
            let addr = var(worker::ADDR_VAR).unwrap_or_default();
            let token = var(worker::TOKEN_VAR).unwrap_or_default();
            let link = Link::connect(&addr, &token).map_err(|e| Error::Argument {
                flag: worker::ADDR_VAR.into(),
                value: addr.clone(),
                reason: format!(
                    "cannot reach the comparison that started this worker: {e}; this variable is set by `benchscope compare --paired`, not by hand"
                ),
            })?;
            return Ok(Some(Child {
                target,
                role: Role::Serve(link),
                ran: false,
            }));
        }
        Ok(var(callgrind::CHILD_VAR).map(|target| Child {
            role: Role::Count(
                var(callgrind::ITERATIONS_VAR)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
            ),
            target,
            ran: false,
        }))
    }

    /// The variable that named the benchmark.
    fn variable(&self) -> &'static str {
        match self.role {
            Role::Count(_) => callgrind::CHILD_VAR,
            Role::Serve(_) => worker::WORKER_VAR,
        }
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("mode", &self.mode)
            .field("defined", &self.defined)
            .field("selected", &self.selected)
            .finish()
    }
}

impl Harness {
    /// Reads this process's command line and environment. `Err` holds the
    /// exit code of a run that is already over: `--help`, `--print-config`,
    /// or a usage or configuration error (printed, exit code 2).
    ///
    /// `criterion_rules`: a target run without `--bench` (as `cargo test`
    /// runs it) tests each benchmark once instead of measuring it. A filter
    /// that selects nothing here is an error, as in any target, unless
    /// `--allow-no-match` (`cargo bench -- FILTER` hands it to every target).
    pub fn from_env(criterion_rules: bool) -> Result<Harness, u8> {
        install_interrupt_handler();
        let args = Args::try_parse_from(std::env::args_os()).map_err(|e| {
            let _ = e.print();
            if e.use_stderr() { 2 } else { 0 }
        })?;
        match Harness::start(args, std::env::vars(), criterion_rules) {
            Ok(Some(harness)) => Ok(harness),
            Ok(None) => Err(0),
            Err(e) => {
                eprintln!("error: {e}");
                Err(2)
            }
        }
    }

    /// Builds the run from parsed arguments; `None` when the command is
    /// already done (`--print-config`).
    pub(crate) fn start(
        args: Args,
        env: impl IntoIterator<Item = (String, String)>,
        criterion_rules: bool,
    ) -> Result<Option<Harness>, Error> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let child = Child::from_env(var)?;
        let command = Command::from_args(args, env)?;
        if child.is_some() {
            // Nothing but the one routine: no outputs, no history.
            let suite = Suite::new(command.loaded.config.clone());
            return Ok(Some(Harness::new(
                command,
                Mode::Test,
                suite,
                #[cfg(feature = "history")]
                None,
                child,
            )));
        }
        if command.args.print_config {
            print!("{}", command.loaded.render());
            return Ok(None);
        }
        for warning in &command.loaded.warnings {
            eprintln!("warning: {warning}");
        }
        let args = &command.args;
        let mode = if args.list {
            Mode::List
        } else if args.test || (criterion_rules && !args.bench) {
            Mode::Test
        } else {
            Mode::Measure
        };
        let config = &command.loaded.config;
        // Opened before any benchmark runs: a corrupt or newer database stops
        // the run here, not after minutes of measuring.
        #[cfg(feature = "history")]
        // A history in a metrics backend is written by the exporters.
        let history =
            (mode == Mode::Measure && config.history.enabled && config.history.backend().is_none())
                .then(|| crate::analysis::history::History::open(&config.history.path))
                .transpose()?;
        let mut suite = Suite::new(config.clone());
        if args.quick {
            suite = suite.with_measurement(config.measurement.quickened());
        }
        // Callgrind's output files, removed however the run ends.
        let mut scratch = None;
        if mode == Mode::Measure && config.measurement.mode == MeasureMode::Instructions {
            let refused = |reason| Error::Argument {
                flag: "--measure".into(),
                value: "instructions".into(),
                reason,
            };
            let dir = Scratch::create("callgrind").map_err(|e| {
                refused(format!(
                    "cannot create a folder for Callgrind's output in {}: {e}",
                    std::env::temp_dir().display()
                ))
            })?;
            let counting = callgrind::Counting::find(
                config.measurement.instruction_iterations,
                config.measurement.cache_sim,
                dir.path().to_owned(),
                Some(
                    std::env::var_os(flame::DIR_VAR)
                        .map_or_else(|| PathBuf::from(flame::DEFAULT_DIR), PathBuf::from),
                ),
                config.measurement.instruction_timeout,
            )
            .map_err(refused)?;
            suite = suite.with_counting(counting);
            scratch = Some(dir);
        }
        if mode == Mode::Measure {
            if let Some(name) = &args.baseline {
                suite = suite.with_baseline(Baseline::resolve(name, &config.baseline_dir)?);
            }
            if let Some(branch) = &args.baseline_branch {
                #[cfg(feature = "history")]
                {
                    let history = history.as_ref().ok_or_else(|| Error::Argument {
                        flag: "--baseline-branch".into(),
                        value: branch.clone(),
                        reason: if config.history.backend().is_some() {
                            "the history is a metrics backend, which the suite writes and does not read; gate with `benchscope guard --baseline-branch` after the run".into()
                        } else {
                            "the history is off; drop --no-history".into()
                        },
                    })?;
                    suite = suite.with_baseline(Baseline::latest_of_branch(
                        branch,
                        history,
                        None,
                        Some(&crate::measure::machine::machine_fingerprint()),
                    )?);
                }
                #[cfg(not(feature = "history"))]
                return Err(Error::FeatureMissing {
                    what: format!("the latest run of branch {branch} from the history"),
                    key: "--baseline-branch".into(),
                    feature: "history",
                });
            }
        }
        let mut harness = Harness::new(
            command,
            mode,
            suite,
            #[cfg(feature = "history")]
            history,
            None,
        );
        harness.scratch = scratch;
        Ok(Some(harness))
    }

    fn new(
        command: Command,
        mode: Mode,
        suite: Suite,
        #[cfg(feature = "history")] history: Option<crate::analysis::history::History>,
        child: Option<Child>,
    ) -> Harness {
        Harness {
            command,
            mode,
            suite,
            session: None,
            #[cfg(feature = "history")]
            history,
            announced: Vec::new(),
            seen: BTreeSet::new(),
            defined: 0,
            selected: 0,
            failures: Vec::new(),
            child,
            scratch: None,
        }
    }

    /// What this run does with each benchmark.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the command line's filter selects `name`.
    pub fn selects(&self, name: &str) -> bool {
        self.command.selects(name)
    }

    /// Names the benchmarks to come, when they are known in advance.
    pub(crate) fn announce(&mut self, names: Vec<String>) {
        self.announced = names;
    }

    /// Lists, tests or measures one benchmark: `body` is given the
    /// bencher. `labels` go on its metrics. An error here (the telemetry
    /// pipeline could not start) ends the run.
    pub fn bench(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        options: BenchOptions,
        body: &mut dyn FnMut(&mut Bencher<'_>),
    ) -> Result<(), Error> {
        if let Some(child) = &mut self.child {
            if name == child.target && !child.ran {
                child.ran = true;
                let mut progress = |_| {};
                match &mut child.role {
                    Role::Count(iterations) => {
                        body(&mut Bencher::counting(*iterations, &mut progress));
                    }
                    Role::Serve(link) => {
                        body(&mut Bencher::serving(link, &mut progress));
                        if let Some(e) = &link.error {
                            return Err(Error::Paired(format!(
                                "paired worker of {name}: the link to the comparison broke: {e}"
                            )));
                        }
                    }
                }
            }
            return Ok(());
        }
        if let Err(error) = options.check() {
            self.fail(name, error);
            return Ok(());
        }
        self.defined += 1;
        if !self.selects(&name) {
            return Ok(());
        }
        self.selected += 1;
        if !self.seen.insert(name.clone()) {
            let error = format!(
                "a second benchmark is named `{name}`; it was not run: give each benchmark of a target its own id"
            );
            eprintln!("error: {error}");
            self.failures.push(Failure { name, error });
            return Ok(());
        }
        match self.mode {
            Mode::List => println!("{name}: benchmark"),
            Mode::Test => self.test(name, body),
            Mode::Measure => {
                let session = match &mut self.session {
                    Some(session) => session,
                    none => {
                        let tty = std::io::stderr().is_terminal();
                        none.insert(Session::open(
                            self.suite.clone(),
                            Box::new(
                                Terminal::new(tty, self.command.args.bencher_lines)
                                    .comparing_with_last_run(self.command.loaded.config.regression),
                            ),
                            &self.announced,
                        )?)
                    }
                };
                session.bench(name, labels, options, body);
            }
        }
        Ok(())
    }

    /// Records that the benchmark `name` could not run, and why (a setting
    /// out of range, say), when the filter selects it.
    pub fn fail(&mut self, name: String, error: String) {
        self.defined += 1;
        if self.selects(&name) {
            self.selected += 1;
            eprintln!("error: benchmark `{name}`: {error}");
            self.failures.push(Failure { name, error });
        }
    }

    /// Runs a benchmark's routine once, as criterion's test mode does.
    fn test(&mut self, name: String, body: &mut dyn FnMut(&mut Bencher<'_>)) {
        println!("Testing {name}");
        let mut progress = |_| {};
        let mut bencher = Bencher::once(&mut progress);
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut bencher)));
        let ran = bencher.into_measurement().is_some();
        let error = match outcome {
            Err(panic) => Some(Error::Panicked {
                name: name.clone(),
                message: panic_message(panic.as_ref()),
            }),
            Ok(()) if !ran => Some(Error::NeverIterated(name.clone())),
            Ok(()) => None,
        };
        match error {
            None => println!("Success"),
            Some(e) => {
                println!("FAILED: {e}");
                self.failures.push(Failure {
                    name,
                    error: e.to_string(),
                });
            }
        }
    }

    /// Ends the run: the table, the JSON results, the history and the
    /// saved baseline. Errors are printed; the exit code is 0 when every
    /// benchmark ran, 1 when one failed, 2 when nothing was selected or an
    /// output could not be written.
    pub fn finish(self) -> u8 {
        match self.finish_with_errors() {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        }
    }

    pub(crate) fn finish_with_errors(mut self) -> Result<u8, Error> {
        if let Some(child) = &self.child {
            if child.ran {
                return Ok(0);
            }
            return Err(Error::NoSuchCountedBenchmark {
                variable: child.variable(),
                name: child.target.clone(),
            });
        }
        if self.selected == 0 && self.mode != Mode::List {
            let args = &self.command.args;
            if args.ignored {
                eprintln!("benchscope: --ignored: no benchmark is ignored here, so none ran");
                return Ok(0);
            }
            if args.allow_no_match && args.filter.is_some() {
                eprintln!(
                    "benchscope: no benchmark of this target matches {:?} ({} defined)",
                    args.filter.as_deref().unwrap_or_default(),
                    self.defined
                );
                return Ok(0);
            }
            return Err(Error::NoMatch {
                filter: self.command.args.filter.clone().unwrap_or_default(),
                defined: self.defined,
            });
        }
        let failed = u8::from(!self.failures.is_empty());
        let Some(session) = self.session.take() else {
            if self.mode == Mode::Test {
                println!(
                    "\n{} benchmarks tested, {} failed",
                    self.selected,
                    self.failures.len()
                );
            }
            return Ok(failed);
        };
        // A lingering endpoint (`--serve-after`) serves the final figures
        // after the table and the files, not before them.
        let (mut run, lingering) = session.close_lingering(true);
        run.failures.append(&mut self.failures);
        println!("{}", table(&run));
        let config = &self.command.loaded.config;
        // Every output is attempted even when one fails, so a full disk or a
        // bad path loses one output, not all of them.
        let mut failed: Option<Error> = None;
        let mut attempt = |result: Result<String, Error>| match result {
            Ok(done) => eprintln!("{done}"),
            Err(e) => {
                eprintln!("error: {e}");
                failed.get_or_insert(e);
            }
        };
        if let Some(path) = &self.command.json_output {
            attempt(
                run.write_json(path)
                    .map(|()| format!("results written to {}", path.display())),
            );
        }
        if let Some(url) = config.history.backend().filter(|_| config.history.enabled) {
            use crate::config::ExporterKind;
            let sent = config
                .exporters
                .iter()
                .any(|e| matches!(e, ExporterKind::Otlp | ExporterKind::Prometheus));
            if sent {
                eprintln!(
                    "the run's figures went to the exporters; it is in the history at {url} once they reach it"
                );
            } else {
                eprintln!(
                    "warning: the history is {url}, but no exporter sends there (exporters: otlp or prometheus): this run is not in it"
                );
            }
        }
        #[cfg(feature = "history")]
        if let Some(history) = self.history.as_mut() {
            attempt(
                history
                    .record(&run)
                    .map(|id| format!("run {id} kept in {}", history.path().display())),
            );
        }
        if let Some(name) = &self.command.args.save_baseline {
            attempt(
                Baseline::save(&run, name, &config.baseline_dir)
                    .map(|path| format!("saved as baseline `{name}` ({})", path.display())),
            );
            // And in criterion's layout, for the tools that read it.
            let root = super::last_run::criterion_dir();
            for b in &run.benchmarks {
                if let Err(e) = super::last_run::keep_as(&root, b, &[name]) {
                    eprintln!(
                        "warning: {}: not kept as baseline `{name}` in {}: {e}",
                        b.name,
                        root.display()
                    );
                }
            }
        }
        if let Some(lingering) = lingering {
            eprintln!(
                "serving the final figures on /metrics for {} (--serve-after), then exiting",
                humantime::format_duration(lingering.linger())
            );
            if let Err(e) = lingering.finish() {
                eprintln!("warning: {e}");
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(u8::from(!run.failures.is_empty()))
    }
}

/// Ctrl-C: send what was recorded before leaving.
fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: flushing exporters");
        crate::command::interrupt();
        crate::suite::telemetry::flush_running();
        crate::files::remove_scratch();
        std::process::exit(130);
    });
}

/// The command line of a `benchscope::main!()` target: the registry's
/// benchmarks, run through a [`Harness`].
pub(crate) fn run_registry(args: Args) -> Result<ExitCode, Error> {
    let Some(mut harness) = Harness::start(args, std::env::vars(), false)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let all = crate::measure::registry::benchmarks()?;
    let cases = crate::suite::runner::cases_of(&all);
    let names = cases
        .iter()
        .map(|(_, c)| c.name.clone())
        .filter(|n| harness.selects(n))
        .collect();
    harness.announce(names);
    for (bench, case) in cases {
        harness.bench(
            case.name.clone(),
            case.labels.clone(),
            case.options.clone(),
            &mut |b| bench.run_case(b, &case),
        )?;
    }
    harness.finish_with_errors().map(ExitCode::from)
}

/// What `benchscope::main!()` calls.
pub(crate) fn main() -> ExitCode {
    install_interrupt_handler();
    super::parse_and_run(|| Args::try_parse_from(std::env::args_os()), run_registry)
}
