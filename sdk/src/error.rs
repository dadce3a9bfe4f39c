//! The errors benchscope reports; each message names what was wrong and how
//! to fix it.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a suite or a command.
///
/// ```
/// let err = benchscope::Error::FeatureMissing {
///     what: "the live view".into(),
///     key: "exporters".into(),
///     feature: "live",
/// };
/// assert!(err.to_string().contains("features = [\"live\"]"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two benchmarks share a full name.
    #[error(
        "two benchmarks are named `{name}` ({places}); give one of them another `name` or `group` in #[monitored_bench(...)]"
    )]
    DuplicateBenchmark {
        /// The shared name.
        name: String,
        /// Where the benchmarks are defined.
        places: String,
    },
    /// A server's port is taken.
    #[error(
        "cannot serve {server} on {addr}: the address is already in use; choose another with {how} (127.0.0.1:0 picks a free port)"
    )]
    AddrInUse {
        /// What was to be served ("Prometheus metrics", "the live view").
        server: &'static str,
        /// The address that was asked for.
        addr: SocketAddr,
        /// The flag and variable that change the address.
        how: &'static str,
    },
    /// A listening socket could not be opened for another reason.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A configuration value is invalid.
    #[error("invalid {key} = {value:?}: {reason}")]
    Config {
        /// The key, variable or flag that carried the value.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A command-line argument is invalid or cannot be honoured.
    #[error("invalid {flag} = {value:?}: {reason}")]
    Argument {
        /// The flag or positional argument.
        flag: String,
        /// The value as given.
        value: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The command line's filter selects none of the target's benchmarks.
    #[error(
        "invalid FILTER = {filter:?}: no benchmark matches it (as text or as a regular expression), so nothing would be measured; {defined} benchmarks are defined (--list shows them). When `cargo bench -- FILTER` runs several targets, name the one that holds it (cargo bench --bench NAME -- FILTER) or add --allow-no-match"
    )]
    NoMatch {
        /// The filter given.
        filter: String,
        /// Benchmarks the target defines.
        defined: usize,
    },
    /// A process run to count one benchmark under Callgrind was asked for
    /// one its target does not define.
    #[error("invalid {variable} = {name:?}: no benchmark of this target has that name")]
    NoSuchCountedBenchmark {
        /// The variable that named it.
        variable: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The configuration file is not valid.
    #[error("invalid configuration file {path}: {message}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key and what is accepted.
        message: String,
    },
    /// The configuration asks for a part this build does not include.
    #[error(
        "{key} asks for {what}, which this build of benchscope leaves out; enable the `{feature}` feature (benchscope = {{ version = \"...\", features = [\"{feature}\"] }} in Cargo.toml) or drop the setting"
    )]
    FeatureMissing {
        /// What was asked for ("the live view").
        what: String,
        /// The key, variable or flag that asked for it.
        key: String,
        /// The Cargo feature that provides it.
        feature: &'static str,
    },
    /// The history database cannot be used.
    #[error("history database {path}: {message}")]
    History {
        /// The database file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The history in a metrics backend cannot be read.
    #[error("history at {url}: {message}")]
    HistoryBackend {
        /// The backend's query URL.
        url: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A baseline was asked for that does not exist.
    #[error("no baseline `{name}`: {hint}")]
    NoBaseline {
        /// The name or file asked for.
        name: String,
        /// Which baselines exist, or how to make one.
        hint: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write results to", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A results or baseline file is not valid JSON of the expected shape.
    #[error(
        "{path} is not a benchscope results file: {message}; pass a file written by --output json"
    )]
    BadResults {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The benchmark body did not call the bencher.
    #[error(
        "benchmark `{0}` took a `&mut Bencher` but never called `b.iter(..)` or `b.iter_batched(..)`; call one of them with the code to measure"
    )]
    NeverIterated(String),
    /// Counting a benchmark's instructions under Callgrind failed.
    #[error("benchmark `{name}`: instructions not counted: {message}")]
    Counting {
        /// The benchmark.
        name: String,
        /// Why.
        message: String,
    },
    /// The benchmark panicked.
    #[error("benchmark `{name}` panicked: {message}")]
    Panicked {
        /// The benchmark.
        name: String,
        /// The panic's message.
        message: String,
    },
    /// A plot of the report could not be drawn.
    #[error("cannot draw the plot {what}: {message}")]
    Plot {
        /// Which plot.
        what: String,
        /// The plotting library's error.
        message: String,
    },
    /// A command `benchscope compare` runs (git, cargo, a bench target) failed.
    #[error("`{command}` {message}")]
    Command {
        /// The command line, shortened.
        command: String,
        /// What went wrong, and what to do.
        message: String,
    },
    /// The OpenTelemetry SDK refused an operation.
    #[error("OpenTelemetry: {0}")]
    Telemetry(String),
    /// A paired comparison could not go on: a side's worker crashed, hung,
    /// ended early or broke the protocol.
    #[error("{0}")]
    Paired(String),
    /// Ctrl-C (SIGINT) stopped the command; what it had started was
    /// stopped and its scratch files removed.
    #[error("interrupted (Ctrl-C): stopped before a verdict; nothing was decided")]
    Interrupted,
}
