//! The command line of a bench target (`benchscope::main!()`), in the
//! cargo bench convention: `cargo bench -- [FILTER] [--exact] [--list]
//! [--quick] ...`, and (`cli` feature) the `benchscope` command in
//! `tool.rs`. This is the one place that prints and exits.

#[cfg(feature = "cli")]
mod compare;
#[cfg(feature = "cli")]
mod gate;
pub(crate) mod harness;
mod last_run;
#[cfg(feature = "cli")]
mod stack;
mod terminal;
#[cfg(feature = "cli")]
pub(crate) mod tool;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Loaded;
use crate::error::Error;

/// Command-line options of a bench target.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub filter: Option<String>,
    pub exact: bool,
    pub list: bool,
    /// `--bench`, which `cargo bench` passes and `cargo test` does not.
    pub bench: bool,
    pub test: bool,
    pub quick: bool,
    pub output: Option<Vec<String>>,
    pub baseline: Option<String>,
    pub baseline_branch: Option<String>,
    pub save_baseline: Option<String>,
    pub history: Option<String>,
    pub no_history: bool,
    pub config: Option<PathBuf>,
    pub exporters: Option<String>,
    pub traces: Option<String>,
    pub prometheus_addr: Option<String>,
    pub serve_after: Option<String>,
    pub live_addr: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: Option<String>,
    pub environment: Option<String>,
    pub collection_interval: Option<String>,
    pub measure: Option<String>,
    pub cache_sim: bool,
    pub print_config: bool,
    /// A criterion flag given that benchscope cannot honour, and why.
    pub unsupported: Option<(&'static str, String, &'static str)>,
    /// criterion's run settings, as given: (criterion's flag, value).
    pub criterion: Vec<(&'static str, String)>,
    /// `--output-format bencher`: a libtest-style line per benchmark on
    /// standard output.
    pub bencher_lines: bool,
    /// `--ignored`: criterion runs no benchmark.
    pub ignored: bool,
    /// A filter that matches nothing ends the run with exit code 0.
    pub allow_no_match: bool,
}

/// criterion 0.8's run settings that benchscope applies, each as the
/// configuration key it sets: (flag, what it takes).
const CRITERION_SETTINGS: &[(&str, &str)] = &[
    ("warm-up-time", "SECONDS"),
    ("measurement-time", "SECONDS"),
    ("sample-size", "N"),
    ("significance-level", "ALPHA"),
    ("noise-threshold", "FRACTION"),
    ("confidence-level", "LEVEL"),
    ("nresamples", "N"),
    ("plotting-backend", "BACKEND"),
    ("output-format", "FORMAT"),
    ("format", "FORMAT"),
];

/// criterion's and libtest's flags that mean nothing here (plots, colours,
/// verbosity, output capture): accepted, so a target's usual command line
/// keeps working.
const CRITERION_IGNORED_FLAGS: &[&str] = &[
    "noplot",
    "verbose",
    "quiet",
    "discard-baseline",
    "include-ignored",
    "nocapture",
    "show-output",
];

/// criterion's flags that benchscope cannot honour: each stops the run with
/// exit code 2 and says what to do instead, rather than being skipped.
const CRITERION_UNSUPPORTED: &[(&str, &str)] = &[
    (
        "profile-time",
        "benchscope does not drive a profiler; run the target under one (perf record, valgrind --tool=callgrind) with --bench",
    ),
    (
        "load-baseline",
        "benchscope compares a new measurement with a saved one: measure with --baseline NAME instead",
    ),
];

/// Options that take a value: (name, value name, help).
const VALUED: &[(&str, &str, &str)] = &[
    (
        "baseline",
        "NAME|FILE",
        "Compare with a baseline: a name saved with --save-baseline, or a results file written by --output json",
    ),
    (
        "baseline-branch",
        "BRANCH",
        "Compare with the latest run of this branch in the history",
    ),
    (
        "save-baseline",
        "NAME",
        "Save this run as baseline NAME (replacing an older one)",
    ),
    (
        "history",
        "FILE",
        "The history database (default target/benchscope/history.db)",
    ),
    (
        "config",
        "FILE",
        "The configuration file (default: benchscope.toml in the crate root, if any)",
    ),
    (
        "exporters",
        "LIST",
        "Metric exporters, comma-separated: prometheus, otlp, stdout, live, or none",
    ),
    (
        "traces",
        "LIST",
        "Span exporters, comma-separated: otlp, stdout, or none",
    ),
    (
        "prometheus-addr",
        "ADDR",
        "Where to serve Prometheus metrics (default 127.0.0.1:9464)",
    ),
    (
        "serve-after",
        "DURATION",
        "Keep serving /metrics this long after the suite ends (e.g. 30s)",
    ),
    (
        "live-addr",
        "ADDR",
        "Where the live page is served (default 127.0.0.1:8765)",
    ),
    (
        "otlp-endpoint",
        "URL",
        "The OTLP endpoint (e.g. http://127.0.0.1:4318)",
    ),
    (
        "otlp-protocol",
        "PROTOCOL",
        "The OTLP protocol: grpc or http/protobuf",
    ),
    (
        "environment",
        "NAME",
        "The `environment` label (dev, ci, prod)",
    ),
    (
        "collection-interval",
        "DURATION",
        "Resource sampling and export interval (default 1s, at least 100ms)",
    ),
    (
        "measure",
        "MODE",
        "What to measure: time (default), or instructions: time, and each routine's instructions per iteration counted under Valgrind's Callgrind",
    ),
];

/// Options that are flags: (name, help).
const FLAGS: &[(&str, &str)] = &[
    ("exact", "Match FILTER against the whole name"),
    ("list", "List the benchmarks and exit"),
    (
        "test",
        "Run each benchmark's routine once to check that it works; measure nothing",
    ),
    (
        "quick",
        "Short warm-up and few samples: a smoke test, not a measurement to trust",
    ),
    ("no-history", "Do not keep this run in the history"),
    (
        "cache-sim",
        "With --measure instructions: simulate the caches (L1 and last-level misses, estimated cycles)",
    ),
    (
        "print-config",
        "Print the effective configuration, with where each value came from, and exit",
    ),
    (
        "allow-no-match",
        "A FILTER that matches no benchmark of this target is not an error (for `cargo bench -- FILTER` over several targets)",
    ),
];

/// The command line of a bench target, built with clap's builder (the
/// derive macros would add two crates to every user's build).
fn command_line() -> clap::Command {
    use clap::{Arg, ArgAction};
    let mut cmd = clap::Command::new("benchscope")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Runs the benchmarks of this target, prints their statistics and exports them as OpenTelemetry metrics.")
        .after_help("Configuration comes from benchscope.toml (in the crate root, or --config/BENCHSCOPE_CONFIG), then the environment (OTEL_* and BENCHSCOPE_* variables), then these flags; each wins over the one before. --print-config shows the result and where each value came from.")
        .arg(Arg::new("filter").value_name("FILTER").help("Run only benchmarks whose name matches FILTER, a regular expression as criterion's (or contains it)"))
        // cargo bench passes --bench to every harness; a criterion-style
        // target run without it (as cargo test runs it) tests instead.
        .arg(Arg::new("bench").long("bench").action(ArgAction::SetTrue).hide(true))
        .arg(
            Arg::new("output")
                .long("output")
                .num_args(2)
                .value_names(["FORMAT", "FILE"])
                .help("Write machine-readable results: --output json FILE"),
        );
    for (name, value, help) in VALUED {
        cmd = cmd.arg(Arg::new(*name).long(*name).value_name(*value).help(*help));
    }
    for (name, help) in FLAGS {
        cmd = cmd.arg(
            Arg::new(*name)
                .long(*name)
                .action(ArgAction::SetTrue)
                .help(*help),
        );
    }
    // criterion's flags: its run settings (applied, or named in a warning
    // where benchscope has no equivalent) and those that change nothing.
    for (name, value) in CRITERION_SETTINGS {
        cmd = cmd.arg(Arg::new(*name).long(*name).value_name(*value).hide(true));
    }
    for name in CRITERION_IGNORED_FLAGS.iter().chain(&["ignored"]) {
        cmd = cmd.arg(
            Arg::new(*name)
                .long(*name)
                .action(ArgAction::SetTrue)
                .hide(true),
        );
    }
    cmd = cmd
        .mut_arg("noplot", |a| a.short('n'))
        .mut_arg("verbose", |a| a.short('v'))
        .mut_arg("save-baseline", |a| a.short('s'))
        .mut_arg("baseline", |a| a.short('b'))
        .arg(
            Arg::new("baseline-lenient")
                .long("baseline-lenient")
                .value_name("NAME")
                .conflicts_with_all(["baseline", "baseline-branch"])
                .hide(true),
        )
        .arg(
            Arg::new("color")
                .short('c')
                .long("color")
                .alias("colour")
                .value_name("WHEN")
                .hide(true),
        );
    for (name, _) in CRITERION_UNSUPPORTED {
        cmd = cmd.arg(Arg::new(*name).long(*name).value_name("VALUE").hide(true));
    }
    debug_assert!(
        CRITERION_IGNORED_FLAGS
            .iter()
            .all(|f| cmd.get_arguments().any(|a| a.get_id() == *f))
    );
    cmd.mut_arg("baseline", |a| a.conflicts_with("baseline-branch"))
        .mut_arg("history", |a| a.conflicts_with("no-history"))
}

impl Args {
    /// Parses `argv` (the program name first).
    pub(crate) fn try_parse_from<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = command_line().try_get_matches_from(argv)?;
        let value = |name: &str| m.get_one::<String>(name).cloned();
        Ok(Args {
            filter: value("filter"),
            exact: m.get_flag("exact"),
            list: m.get_flag("list"),
            bench: m.get_flag("bench"),
            test: m.get_flag("test"),
            quick: m.get_flag("quick"),
            output: m.get_many::<String>("output").map(|v| v.cloned().collect()),
            // criterion's lenient comparison is benchscope's: benchmarks
            // the baseline lacks are listed as new, not refused.
            baseline: value("baseline").or_else(|| value("baseline-lenient")),
            baseline_branch: value("baseline-branch"),
            save_baseline: value("save-baseline"),
            history: value("history"),
            no_history: m.get_flag("no-history"),
            config: value("config").map(PathBuf::from),
            exporters: value("exporters"),
            traces: value("traces"),
            prometheus_addr: value("prometheus-addr"),
            serve_after: value("serve-after"),
            live_addr: value("live-addr"),
            otlp_endpoint: value("otlp-endpoint"),
            otlp_protocol: value("otlp-protocol"),
            environment: value("environment"),
            collection_interval: value("collection-interval"),
            measure: value("measure"),
            cache_sim: m.get_flag("cache-sim"),
            print_config: m.get_flag("print-config"),
            unsupported: CRITERION_UNSUPPORTED.iter().find_map(|&(name, instead)| {
                m.get_one::<String>(name)
                    .map(|value| (name, value.clone(), instead))
            }),
            criterion: CRITERION_SETTINGS
                .iter()
                .filter_map(|&(name, _)| value(name).map(|v| (name, v)))
                .collect(),
            bencher_lines: value("output-format").as_deref() == Some("bencher"),
            ignored: m.get_flag("ignored"),
            allow_no_match: m.get_flag("allow-no-match"),
        })
    }
}

/// Applies criterion's run settings given on the command line: each to the
/// configuration key that means the same, or, where benchscope has none, a
/// warning that names it (the run goes on).
fn apply_criterion_settings(
    loaded: &mut Loaded,
    settings: &[(&'static str, String)],
) -> Result<(), Error> {
    let seconds = |flag: &str, value: &str| -> Result<String, Error> {
        match value.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
                Ok(format!("{}ms", (s * 1000.0).round().max(1.0)))
            }
            _ => Err(Error::Argument {
                flag: format!("--{flag}"),
                value: value.into(),
                reason: "write a number of seconds, such as 3 or 0.5, as criterion does".into(),
            }),
        }
    };
    let one_of = |flag: &str, value: &str, choices: &[&str]| -> Result<(), Error> {
        if choices.contains(&value) {
            Ok(())
        } else {
            Err(Error::Argument {
                flag: format!("--{flag}"),
                value: value.into(),
                reason: format!("valid: {}", choices.join(", ")),
            })
        }
    };
    for (flag, value) in settings {
        let shown = format!("--{flag}");
        match *flag {
            "warm-up-time" => {
                loaded.set_flag("measurement.warmup", &seconds(flag, value)?, &shown)?;
            }
            "measurement-time" => {
                // criterion measures for about this long: benchscope's target,
                // and its ceiling when that was shorter.
                let time = seconds(flag, value)?;
                loaded.set_flag("measurement.min_time", &time, &shown)?;
                let target = loaded.config.measurement.min_time;
                if loaded.config.measurement.max_time < target {
                    loaded.set_flag("measurement.max_time", &time, &shown)?;
                }
            }
            "sample-size" => loaded.set_flag("measurement.samples", value, &shown)?,
            "significance-level" => loaded.set_flag("regression.alpha", value, &shown)?,
            "noise-threshold" => loaded.set_flag("regression.noise_floor", value, &shown)?,
            "confidence-level" if value.trim().parse::<f64>() != Ok(0.95) => {
                loaded.warnings.push(format!(
                    "--confidence-level {value} is not applied: benchscope's interval of the mean is 95 % (Student's t); the gate's significance is --significance-level"
                ));
            }
            "nresamples" => loaded.warnings.push(format!(
                "--nresamples {value} is not used: benchscope's interval comes from Student's t, not a bootstrap"
            )),
            "plotting-backend" => {
                one_of(flag, value, &["gnuplot", "plotters"])?;
                loaded.warnings.push(format!(
                    "--plotting-backend {value} is not used: the bench target draws no plots (benchscope analyze --out DIR draws the history's)"
                ));
            }
            "output-format" => one_of(flag, value, &["criterion", "bencher"])?,
            // --list prints `NAME: benchmark` in both.
            "format" => one_of(flag, value, &["pretty", "terse"])?,
            _ => {}
        }
    }
    Ok(())
}

/// The parsed command: configuration, selection and outputs.
#[derive(Debug)]
pub(crate) struct Command {
    /// The configuration in force, with the origin of each value.
    pub loaded: Loaded,
    /// The arguments as given.
    pub args: Args,
    /// Where to write JSON results.
    pub json_output: Option<PathBuf>,
    /// The filter as a regular expression, when it is one (`regex`
    /// feature).
    #[cfg(feature = "regex")]
    filter_regex: Option<regex_lite::Regex>,
}

impl Command {
    /// Builds the configuration: defaults, file, `env`, then the flags,
    /// checked once at the end.
    pub(crate) fn from_args(
        args: Args,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Command, Error> {
        let loaded = Loaded::load_with(args.config.as_deref(), env, |loaded| {
            let flags = [
                ("exporters", "--exporters", &args.exporters),
                ("traces", "--traces", &args.traces),
                (
                    "prometheus.addr",
                    "--prometheus-addr",
                    &args.prometheus_addr,
                ),
                ("prometheus.linger", "--serve-after", &args.serve_after),
                ("live.addr", "--live-addr", &args.live_addr),
                ("otlp.endpoint", "--otlp-endpoint", &args.otlp_endpoint),
                ("otlp.protocol", "--otlp-protocol", &args.otlp_protocol),
                ("environment", "--environment", &args.environment),
                (
                    "collection_interval",
                    "--collection-interval",
                    &args.collection_interval,
                ),
                ("history.path", "--history", &args.history),
                ("measurement.mode", "--measure", &args.measure),
            ];
            for (key, flag, value) in flags {
                if let Some(value) = value {
                    loaded.set_flag(key, value, flag)?;
                }
            }
            if args.no_history {
                loaded.set_flag("history.path", "none", "--no-history")?;
            }
            if args.cache_sim {
                loaded.set_flag("measurement.cache_sim", "true", "--cache-sim")?;
            }
            apply_criterion_settings(loaded, &args.criterion)
        })?;
        if let Some((flag, value, instead)) = &args.unsupported {
            return Err(Error::Argument {
                flag: format!("--{flag}"),
                value: value.clone(),
                reason: format!("not supported: {instead}"),
            });
        }
        let json_output = match args.output.as_deref() {
            None => None,
            Some([format, file]) if format == "json" => Some(PathBuf::from(file)),
            Some(other) => {
                return Err(Error::Argument {
                    flag: "--output".into(),
                    value: other.join(" "),
                    reason: "the only format is json: write --output json FILE".into(),
                });
            }
        };
        #[cfg(feature = "regex")]
        let mut loaded = loaded;
        #[cfg(feature = "regex")]
        let filter_regex = match args.filter.as_deref().filter(|_| !args.exact) {
            None => None,
            Some(f) => match regex_lite::Regex::new(f) {
                Ok(re) => Some(re),
                Err(e) => {
                    loaded.warnings.push(format!(
                        "FILTER {f:?} is not a regular expression ({e}); benchmarks whose names contain it as text are run"
                    ));
                    None
                }
            },
        };
        Ok(Command {
            loaded,
            args,
            json_output,
            #[cfg(feature = "regex")]
            filter_regex,
        })
    }

    /// Whether the filter selects the benchmark named `name`: the whole
    /// name with `--exact`, else the name containing the filter as text,
    /// or (`regex` feature) as criterion selects: the filter a regular
    /// expression found in the name.
    pub(crate) fn selects(&self, name: &str) -> bool {
        if self.args.ignored {
            return false;
        }
        match &self.args.filter {
            None => true,
            Some(f) if self.args.exact => name == f,
            Some(f) => name.contains(f.as_str()) || self.matches_regex(name),
        }
    }

    #[cfg(feature = "regex")]
    fn matches_regex(&self, name: &str) -> bool {
        self.filter_regex
            .as_ref()
            .is_some_and(|re| re.is_match(name))
    }

    #[cfg(not(feature = "regex"))]
    fn matches_regex(&self, _: &str) -> bool {
        false
    }
}

/// Parses the command line with `parse` and runs it: usage errors and
/// errors returned by `run` are printed and exit with code 2.
pub(crate) fn parse_and_run<A>(
    parse: impl FnOnce() -> Result<A, clap::Error>,
    run: impl FnOnce(A) -> Result<ExitCode, Error>,
) -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            // The shell's code for a command ended by SIGINT.
            ExitCode::from(if matches!(e, Error::Interrupted) {
                130
            } else {
                2
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str]) -> Result<Command, Error> {
        let args = Args::try_parse_from(std::iter::once("bench").chain(argv.iter().copied()))
            .expect("arguments parse");
        Command::from_args(args, Vec::new())
    }

    #[test]
    fn cargo_bench_flags_are_accepted() {
        let c = command(&["--bench", "parse", "--exact", "--quick"]).unwrap();
        assert_eq!(c.args.filter.as_deref(), Some("parse"));
        assert!(c.args.exact && c.args.quick);
    }

    #[test]
    fn output_takes_a_format_and_a_file() {
        let c = command(&["--output", "json", "out/r.json"]).unwrap();
        assert_eq!(c.json_output, Some(PathBuf::from("out/r.json")));
        let err = command(&["--output", "csv", "r.csv"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--output") && err.contains("json"), "{err}");
    }

    #[test]
    fn flags_override_the_environment() {
        let args = Args::try_parse_from(["bench", "--prometheus-addr", "127.0.0.1:9999"]).unwrap();
        let c = Command::from_args(
            args,
            [(
                "BENCHSCOPE_PROMETHEUS_ADDR".to_string(),
                "127.0.0.1:1".to_string(),
            )],
        )
        .unwrap();
        assert_eq!(c.loaded.config.prometheus.addr.port(), 9999);
        assert_eq!(
            c.loaded.source("prometheus.addr").to_string(),
            "flag --prometheus-addr"
        );
    }

    #[test]
    fn every_address_and_path_flag_reaches_the_configuration() {
        let c = command(&["--live-addr", "127.0.0.1:9876"]).unwrap();
        assert_eq!(c.loaded.config.live.addr.port(), 9876);
        assert_eq!(c.loaded.source("live.addr").to_string(), "flag --live-addr");
        let c = command(&["--history", "elsewhere/h.db"]);
        if cfg!(feature = "history") {
            let c = c.unwrap();
            assert_eq!(
                c.loaded.config.history.path,
                PathBuf::from("elsewhere/h.db")
            );
            assert_eq!(
                c.loaded.source("history.path").to_string(),
                "flag --history"
            );
        } else {
            let e = c.unwrap_err().to_string();
            assert!(e.contains("--history") && e.contains("`history`"), "{e}");
        }
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = command(&["--serve-after", "soon"]).unwrap_err().to_string();
        assert!(
            err.contains("--serve-after") && err.contains("soon"),
            "{err}"
        );
    }
}
