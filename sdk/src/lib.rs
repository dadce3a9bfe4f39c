//! benchscope: OpenTelemetry-native instrumentation for benchmarks.
//!
//! Put [`monitored_bench`] on a benchmark function, end the bench target with
//! [`main!`], and `cargo bench` measures every function with sound statistics
//! (warm-up, automatic batch sizing, percentiles, a confidence interval, Tukey
//! outliers), prints a table, and records the results through OpenTelemetry
//! meters that a Prometheus server can scrape while the suite runs.
//!
//! ```no_run
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
//! On an ordinary function (one that takes arguments, or an `async fn`) the same
//! attribute records each call's duration into the `benchmark_execution_time_ms`
//! histogram instead ("application mode"); see [`app`].
#![warn(missing_docs)]

pub mod analyze;
pub mod app;
pub mod baseline;
pub mod bencher;
pub mod cli;
pub mod config;
pub mod error;
pub mod exporters;
pub mod guard;
pub mod history;
pub mod instruments;
pub mod registry;
pub mod regression;
pub mod resources;
pub mod results;
pub mod runner;
pub mod stats;
pub mod telemetry;

pub use bencher::Bencher;
pub use config::Config;
pub use error::Error;
pub use registry::{BenchEntry, BenchOptions, Throughput};
pub use results::{BenchResult, SuiteRun};
pub use runner::Suite;
pub use stats::Stats;

/// Marks a benchmark function, or instruments an ordinary function.
///
/// Benchmark mode applies to `fn f()` and `fn f(b: &mut Bencher)` at module
/// level: the function is registered with the suite and measured by the runner.
/// A zero-argument function stays callable and, when called from application
/// code, records each call like application mode does; the runner measures an
/// uninstrumented copy of its body.
///
/// Application mode applies to every other function and to `async fn`: each
/// call's wall-clock duration is recorded into `benchmark_execution_time_ms`
/// with `benchmark_name` set to the function's name.
///
/// Options (each maps onto a field of [`BenchOptions`] unless noted):
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
///
/// Only `name` and `labels` apply in application mode.
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
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::cli::main()
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::app::CallSite;
    pub use crate::registry::BENCHES;
    pub use linkme;
    pub use std::time::Duration;
}
