//! benchscope: OpenTelemetry-native instrumentation for benchmarks.
//!
//! Put [`monitored_bench`] on a benchmark function, end the bench target with
//! [`main!`], and `cargo bench` measures every function with sound statistics
//! (warm-up, automatic batch sizing, percentiles, a confidence interval, Tukey
//! outliers), prints a table, and records the results through OpenTelemetry
//! meters that a Prometheus server can scrape while the suite runs.
//!
#![cfg_attr(feature = "harness", doc = "```no_run")]
#![cfg_attr(not(feature = "harness"), doc = "```ignore")]
//! use benchscope::{monitored_bench, Bencher};
//!
//! #[monitored_bench(samples = 50, throughput = bytes(11))]
//! fn parse_number() -> u64 {
//!     std::hint::black_box("18446744073").parse().unwrap()
//! }
//!
//! #[monitored_bench]
//! fn sort_10k(b: &mut Bencher) {
//!     // Setup outside the timed region.
//!     let data: Vec<u32> = (0..10_000).rev().collect();
//!     b.iter_batched(|| data.clone(), |mut v| v.sort());
//! }
//!
//! benchscope::main!();
//! ```
//!
//! On an ordinary function (one that takes arguments, or an `async fn`) the
//! same attribute records each call's duration into the
//! `benchmark_execution_time_ms` histogram instead ("application mode"); a
//! service calls [`init`] once at start-up to export them.
//!
//! # Features
//!
//! | feature | what it adds | default |
//! | --- | --- | --- |
//! | `harness` | [`main!`]: the command line of a bench target, progress bars | yes |
//! | `prometheus` | the `/metrics` pull endpoint | yes |
//! | `live` | the live view: a page and a WebSocket stream | |
//! | `otlp-http`, `otlp-grpc` | OTLP export over HTTP/protobuf or gRPC | |
//! | `tokio` | async benchmarks on tokio (`runtime = "tokio"`, [`Bencher::to_async`]) | |
//! | `traces` | a span per suite and per benchmark | |
//! | `stdout` | the stdout exporter | |
//! | `history` | every run kept in SQLite; `--baseline-branch` | |
//! | `report` | the HTML report of `benchscope analyze` | |
//! | `cli` | the `benchscope` command (guard, analyze, baselines, history) | |
//! | `full` | all of the above | |
//!
//! With `default-features = false` a crate gets the attribute, the
//! instruments, the runner and [`init`]: no server, no C compiler. A
//! configuration that asks for a part left out stops with an error naming
//! the feature.
#![warn(missing_docs)]

mod analysis;
#[cfg(feature = "harness")]
mod cli;
mod command;
pub mod config;
mod error;
mod exporters;
mod files;
mod format;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod fuzz;
mod measure;
mod otel;
mod results;
mod suite;

pub use analysis::baseline::Baseline;
#[cfg(feature = "history")]
pub use analysis::history::{History, ReadableRuns, RunInfo};
pub use config::Config;
pub use error::Error;
pub use measure::alloc::CountingAlloc;
pub use measure::bencher::{AsyncBencher, Bencher};
pub use measure::executor::AsyncExecutor;
pub use measure::registry::{Benchmark, Case, Throughput, benchmarks};
pub use measure::sampling::Progress;
pub use measure::stats::{Outliers, Stats};
pub use results::report::{Endpoints, Reporter, Silent};
pub use results::{
    AllocChange, Allocations, BaselineComparison, BenchResult, Comparison, ComplexityResult,
    CountChange, Disturbance, ExportStatus, Failure, Fitted, Instructions, SCHEMA_VERSION,
    Severity, SuiteRun, ThroughputResult, Verdict,
};
pub use suite::runner::Suite;
pub use suite::telemetry::{Telemetry, init};

/// Complexity classes fitted to a benchmark's cases (`args` that are
/// sizes): the classes, the fit and the criterion that chooses one.
pub mod complexity {
    pub use crate::measure::complexity::*;
}

/// The metrics benchscope exports: their names, kinds, units, labels and
/// meanings, as the README's metric table lists them.
pub mod metrics {
    pub use crate::otel::catalogue::*;
}

/// Marks a benchmark function, or instruments an ordinary function.
///
/// Benchmark mode applies to `fn f()` and `fn f(b: &mut Bencher)` at module
/// level: the function is registered with the suite and measured by the runner.
/// A zero-argument function stays callable and, when called from application
/// code, records each call like application mode does; the runner measures an
/// uninstrumented copy of its body.
///
/// An `async fn` with `runtime = "tokio"` (one thread) or
/// `"tokio-multi-thread"` (one worker per core) is a benchmark too: the
/// runtime is built before measuring, and each sample awaits the function
/// in a loop inside one `block_on` ([`Bencher::to_async`]).
///
#[cfg_attr(feature = "tokio", doc = "```no_run")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// #[benchscope::monitored_bench(runtime = "tokio")]
/// async fn yield_to_the_scheduler() {
///     tokio::task::yield_now().await
/// }
/// # fn main() {}
/// ```
///
/// Application mode applies to every other function and to an `async fn`
/// without `runtime`: each
/// call's wall-clock duration is recorded into `benchmark_execution_time_ms`
/// with `benchmark_name` set to the function's name.
///
/// Options:
///
/// | option | example | meaning |
/// | --- | --- | --- |
/// | `name` | `name = "parse"` | the benchmark's name (default: the function's name) |
/// | `group` | `group = "strings"` | shown as `group/name` |
/// | `samples` | `samples = 50` | number of samples (default 100) |
/// | `warmup` | `warmup = "500ms"` | warm-up time |
/// | `min_time` | `min_time = "2s"` | measurement time target |
/// | `max_time` | `max_time = "10s"` | measurement time ceiling |
/// | `throughput` | `throughput = bytes(1024)` or `elements(10)` | per-iteration work |
/// | `labels` | `labels(algo = "quick")` | extra metric labels |
/// | `args` | `args = [64, 1024, 16384]` | one case per value, passed to the function's argument (cloned per call; take `&T` to borrow); numeric values are sizes for a complexity fit |
/// | `consts` | `consts = [4, 8]` | one case per value of the function's const generic parameter |
/// | `types` | `types = [u32, String]` | one case per type argument of the function's type parameter |
/// | `threads` | `threads = [1, 2, 0]` | one case per thread count, the routine run on that many threads at once (`0`: one per available core); not with a `Bencher` (use [`Bencher::iter_threads`]) |
/// | `runtime` | `runtime = "tokio"` or `"tokio-multi-thread"` | makes an `async fn` a benchmark, awaited on that runtime (`tokio` feature) |
/// | `crate` | `crate = my_bench_lib` | where benchscope is, when the dependency is renamed |
///
/// Only `name`, `labels` and `crate` apply in application mode.
///
/// With `args`, `consts` or `types` the function may take a `&mut Bencher`
/// first and the case's argument after it, and be generic; each combination
/// is a case, a benchmark of its own named `name[/type][/const][/threads=N]/arg`
/// and labelled `benchmark_function`, `type`, `const`, `threads` and `param`
/// (see [`Benchmark::cases`]). `throughput` may use the argument:
///
/// ```no_run
/// use benchscope::{monitored_bench, Bencher};
///
/// #[monitored_bench(args = [1024, 16384, 262144], throughput = bytes(len))]
/// fn checksum(b: &mut Bencher, len: usize) {
///     let data = vec![7u8; len];
///     b.iter(|| data.iter().map(|&x| u64::from(x)).sum::<u64>());
/// }
///
/// #[monitored_bench(types = [u32, u64], consts = [16, 256])]
/// fn fill<T: Default + Copy, const N: usize>() -> [T; N] {
///     [T::default(); N]
/// }
/// # fn main() {}
/// ```
pub use benchscope_macros::monitored_bench;

/// Defines `fn main` for a `harness = false` bench target: parses the command
/// line (cargo bench conventions), runs every registered benchmark and exits
/// with the suite's status code.
///
/// ```no_run
/// #[benchscope::monitored_bench]
/// fn noop() {}
///
/// benchscope::main!();
/// ```
#[cfg(feature = "harness")]
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::harness_main()
        }
    };
}

/// Defines `fn main` for a `harness = false` bench target; this build of
/// benchscope leaves the command line out (the `harness` feature).
#[cfg(not(feature = "harness"))]
#[macro_export]
macro_rules! main {
    () => {
        ::core::compile_error!(
            "benchscope::main!() needs the `harness` feature of benchscope: enable it (it is a default feature) in the [dev-dependencies] of this crate"
        );
    };
}

/// Builds the tokio runtime of an `async fn` benchmark (`runtime = "tokio"`
/// or `"tokio-multi-thread"`); what `#[monitored_bench]` expands to, not API.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_runtime {
    ($multi_thread:expr) => {
        $crate::__private::tokio_runtime($multi_thread)
    };
}

/// Without the `tokio` feature, an `async fn` benchmark does not compile.
#[cfg(not(feature = "tokio"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_runtime {
    ($multi_thread:expr) => {
        ::core::compile_error!(
            "an async benchmark on tokio needs the `tokio` feature of benchscope: add `features = [\"tokio\"]` to its line in [dev-dependencies]"
        )
    };
}

/// The seam for front-ends: programs that define their benchmarks as they
/// run instead of with `#[monitored_bench]` (benchscope-criterion, which
/// gives criterion's API on benchscope, is one) measure them through a
/// [`Harness`](harness::Harness), with the same command line, outputs,
/// history and exporters as a `benchscope::main!()` target. Versioned by
/// [`VERSION`](harness::VERSION): a front-end checks it, and a change that
/// breaks front-ends raises it.
///
/// ```no_run
/// # #[cfg(not(feature = "harness"))] fn main() {}
/// # #[cfg(feature = "harness")]
/// fn main() {
///     use benchscope::harness::{BenchOptions, Harness};
///     let mut harness = match Harness::from_env(false) {
///         Ok(harness) => harness,
///         Err(code) => std::process::exit(code.into()),
///     };
///     let options = BenchOptions { samples: Some(50), ..BenchOptions::default() };
///     harness
///         .bench("parse".into(), Vec::new(), options, &mut |b| {
///             b.iter(|| "42".parse::<u64>())
///         })
///         .expect("the telemetry pipeline starts");
///     std::process::exit(harness.finish().into());
/// }
/// ```
pub mod harness {
    /// A bench target's run (`harness` feature).
    #[cfg(feature = "harness")]
    pub use crate::cli::harness::{Harness, Mode};
    pub use crate::measure::bencher::MeasureDyn;
    pub use crate::measure::loops;
    pub use crate::measure::registry::BenchOptions;

    /// The version of this seam; 1 is the first.
    pub const VERSION: u32 = 1;
}

/// The `benchscope` command's entry point, for its binary; not API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub fn tool_main() -> std::process::ExitCode {
    crate::cli::tool::main()
}

/// What `#[monitored_bench]` and `main!` expand to; not API.
#[doc(hidden)]
pub mod __private {
    pub use crate::measure::registry::{
        BENCHES, BenchOptions, Benchmark, CaseSpec, ParamText, ViaDebug, ViaDisplay,
    };
    pub use crate::otel::app::CallSite;
    pub use linkme;
    pub use std::time::Duration;

    /// A `throughput = bytes(expr)` figure as units per iteration: any
    /// integer type; a negative one counts as 0.
    pub fn units<T: TryInto<u64>>(n: T) -> u64 {
        n.try_into().unwrap_or(0)
    }

    /// The runtime of an `async fn` benchmark, built before measuring: one
    /// thread, or one worker per core. A runtime that cannot start (no
    /// threads left) fails the benchmark with the reason.
    #[cfg(feature = "tokio")]
    pub fn tokio_runtime(multi_thread: bool) -> tokio::runtime::Runtime {
        let mut builder = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        builder
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("could not start the tokio runtime of this benchmark: {e}"))
    }

    /// What `main!` calls.
    #[cfg(feature = "harness")]
    pub fn harness_main() -> std::process::ExitCode {
        crate::cli::harness::main()
    }
}

/// Internals re-exported for benchscope's own tests and benchmarks, behind
/// the `internals` feature; not API, and not covered by semver.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::measure::sampling::{Settings, clock_cost_ns, measure};
    pub use crate::otel::instruments::{Instruments, execution_time_histogram};

    #[cfg(feature = "live")]
    pub use crate::exporters::live::{LiveHub, server::LiveServer};
    #[cfg(feature = "prometheus")]
    pub use crate::exporters::prometheus::{Format as ExpositionFormat, PrometheusReader};
}
