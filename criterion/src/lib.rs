//! criterion's API on [benchscope](https://docs.rs/benchscope): an existing
//! criterion bench target runs under benchscope with one line changed, its
//! dependency:
//!
//! ```toml
//! [dev-dependencies]
//! # criterion = "0.5"
//! criterion = { package = "benchscope-criterion", version = "0.1" }
//! ```
//!
//! The bench files keep `use criterion::{...}`, `criterion_group!` and
//! `criterion_main!`. Every benchmark is measured by benchscope's runner
//! (warm-up, batch sizing, percentiles, a confidence interval, outliers),
//! printed, and exported as benchscope's metrics, where `benchmark_name` is
//! criterion's id (`group/function/parameter`) and the labels
//! `benchmark_group`, `benchmark_function` and `param` hold its parts (the
//! labels of `#[monitored_bench]`'s cases: a numeric `param` gets a
//! complexity fit). benchscope's command line and configuration apply
//! (`cargo bench -- --help`, `benchscope.toml`).
//!
//! What maps onto what:
//!
//! | criterion | benchscope |
//! | --- | --- |
//! | `sample_size(n)` | samples (at least 2) |
//! | `warm_up_time(d)` | warm-up time |
//! | `measurement_time(d)` | measurement time target; its ceiling is twice that |
//! | `significance_level(a)` | significance of the comparison with `--baseline` |
//! | `noise_threshold(t)` | smallest change that counts in that comparison |
//! | `throughput(..)` | `benchmark_throughput` (`Bytes`, `BytesDecimal` as bytes; `Elements`; `Bits`; `ElementsAndBytes` as elements) |
//! | `confidence_level`, `nresamples` | accepted, no effect: the interval is a 95 % Student's t interval |
//! | plots, `sampling_mode`, `plot_config`, colours, `html_reports` | accepted, no effect: the figures go to Prometheus, OTLP and the live page |
//! | `--bench`, `FILTER`, `--exact`, `--list`, `--quick`, `--save-baseline`, `--baseline` | the same |
//! | no `--bench` (what `cargo test` passes), `--test` | each routine runs once |
//! | `--noplot`, `--verbose`, `--quiet`, `--color`, `--discard-baseline` | accepted, no effect |
//! | `--profile-time`, `--load-baseline` | exit code 2 with what to do instead |
//! | `with_measurement`, `with_profiler`, `Criterion<CustomMeasurement>` | not provided: a compile error |
//!
//! Settings left unset take benchscope's configured defaults, not
//! criterion's (100 samples, 1 s warm-up, 2 s target: `benchscope.toml`
//! changes them). The filter matches a substring of the id, not a regular
//! expression.

#![warn(missing_docs)]

mod bencher;
mod group;

use std::cell::RefCell;
use std::marker::PhantomData;
use std::time::Duration;

use benchscope::harness::{BenchOptions, Harness};

pub use bencher::{AsyncBencher, BatchSize, Bencher};
pub use group::{BenchmarkGroup, BenchmarkId, IntoBenchmarkId};
pub use std::hint::black_box;

/// How time is measured: wall-clock time only.
pub mod measurement {
    /// A measurement of benchmarks: [`WallTime`] is the one benchscope takes.
    pub trait Measurement: private::Sealed {}

    /// Wall-clock time, the measurement of every benchmark here.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct WallTime;

    impl Measurement for WallTime {}

    mod private {
        pub trait Sealed {}
        impl Sealed for super::WallTime {}
    }
}

/// Executors for [`Bencher::to_async`].
pub mod async_executor {
    pub use benchscope::AsyncExecutor;

    /// Runs futures on the calling thread, parking it while they wait
    /// (criterion's executor of the `futures` crate, written here).
    #[cfg(feature = "async_futures")]
    #[derive(Debug, Default, Clone, Copy)]
    pub struct FuturesExecutor;

    #[cfg(feature = "async_futures")]
    impl AsyncExecutor for FuturesExecutor {
        fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
            use std::sync::Arc;
            use std::task::{Context, Poll, Wake, Waker};

            struct Unpark(std::thread::Thread);
            impl Wake for Unpark {
                fn wake(self: Arc<Self>) {
                    self.0.unpark();
                }
                fn wake_by_ref(self: &Arc<Self>) {
                    self.0.unpark();
                }
            }
            let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
            let mut context = Context::from_waker(&waker);
            let mut future = std::pin::pin!(future);
            loop {
                if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                    return output;
                }
                std::thread::park();
            }
        }
    }
}

use measurement::{Measurement, WallTime};

/// Work done by one iteration, for a throughput figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throughput {
    /// Bits per iteration.
    Bits(u64),
    /// Bytes per iteration.
    Bytes(u64),
    /// Bytes per iteration, shown with decimal prefixes by criterion;
    /// exported as bytes.
    BytesDecimal(u64),
    /// Elements per iteration.
    Elements(u64),
    /// Elements and bytes per iteration; exported as elements per second.
    ElementsAndBytes {
        /// Elements per iteration.
        elements: u64,
        /// Bytes per iteration.
        bytes: u64,
    },
}

impl Throughput {
    fn to_benchscope(&self) -> benchscope::Throughput {
        match *self {
            Throughput::Bits(n) => benchscope::Throughput::Bits(n),
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => benchscope::Throughput::Bytes(n),
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                benchscope::Throughput::Elements(n)
            }
        }
    }
}

/// How criterion would spread iterations over samples; accepted, no effect
/// (benchscope sizes batches from the warm-up).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum SamplingMode {
    /// criterion's choice.
    #[default]
    Auto,
    /// Linear sampling.
    Linear,
    /// Flat sampling.
    Flat,
}

/// The scale of criterion's summary plots; accepted, no effect.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AxisScale {
    /// Linear axes.
    #[default]
    Linear,
    /// Logarithmic axes.
    Logarithmic,
}

/// criterion's plot settings; accepted, no effect.
#[derive(Debug, Default, Clone)]
pub struct PlotConfiguration {
    _scale: AxisScale,
}

impl PlotConfiguration {
    /// Sets the summary plots' scale; no effect here.
    pub fn summary_scale(mut self, scale: AxisScale) -> PlotConfiguration {
        self._scale = scale;
        self
    }
}

/// criterion's plotting backends; accepted, no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlottingBackend {
    /// gnuplot.
    Gnuplot,
    /// plotters.
    Plotters,
    /// No plots.
    None,
}

/// Settings shared by [`Criterion`] and [`BenchmarkGroup`]: what is set
/// wins over benchscope's configured defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    samples: Option<usize>,
    warm_up: Option<Duration>,
    measurement: Option<Duration>,
    significance: Option<f64>,
    noise_threshold: Option<f64>,
    throughput: Option<Throughput>,
}

impl Settings {
    /// The benchmark's options, or why they are out of range.
    fn options(&self) -> Result<BenchOptions, String> {
        let range = &BenchOptions::SAMPLES;
        let samples = match self.samples {
            None => None,
            Some(n) => match u32::try_from(n).ok().filter(|n| range.contains(n)) {
                Some(n) => Some(n),
                None => {
                    return Err(format!(
                        "sample_size({n}) is out of range: give between {} and {} samples",
                        range.start(),
                        range.end()
                    ));
                }
            },
        };
        for (name, d) in [
            ("warm_up_time", self.warm_up),
            ("measurement_time", self.measurement),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(format!("{name} is zero: give it a positive duration"));
            }
        }
        for (name, value, range) in [
            ("significance_level", self.significance, (0.0, 1.0)),
            (
                "noise_threshold",
                self.noise_threshold,
                (0.0, f64::INFINITY),
            ),
        ] {
            if let Some(v) = value
                && !(v > range.0 && v < range.1)
            {
                return Err(format!(
                    "{name}({v}) is out of range: it must lie between {} and {}",
                    range.0, range.1
                ));
            }
        }
        Ok(BenchOptions {
            samples,
            warmup: self.warm_up,
            min_time: self.measurement,
            max_time: self.measurement.map(|d| d.saturating_mul(2)),
            throughput: self.throughput.as_ref().map(Throughput::to_benchscope),
            significance: self.significance,
            noise_threshold: self.noise_threshold,
            ..BenchOptions::default()
        })
    }
}

/// The benchmark manager: configure it, then define benchmarks with
/// [`Criterion::bench_function`] or [`Criterion::benchmark_group`]. Each
/// benchmark is measured as it is defined.
#[derive(Debug)]
pub struct Criterion<M: Measurement = WallTime> {
    settings: Settings,
    filter: Option<String>,
    _measurement: PhantomData<M>,
}

impl Default for Criterion {
    fn default() -> Criterion {
        Criterion {
            settings: Settings::default(),
            filter: None,
            _measurement: PhantomData,
        }
    }
}

impl<M: Measurement> Criterion<M> {
    /// Samples per benchmark (benchscope takes at least 2).
    #[must_use]
    pub fn sample_size(mut self, n: usize) -> Criterion<M> {
        self.settings.samples = Some(n);
        self
    }

    /// Warm-up time per benchmark.
    #[must_use]
    pub fn warm_up_time(mut self, d: Duration) -> Criterion<M> {
        self.settings.warm_up = Some(d);
        self
    }

    /// Measurement time target per benchmark.
    #[must_use]
    pub fn measurement_time(mut self, d: Duration) -> Criterion<M> {
        self.settings.measurement = Some(d);
        self
    }

    /// Accepted, no effect: benchscope's interval is analytic, not resampled.
    #[must_use]
    pub fn nresamples(self, _n: usize) -> Criterion<M> {
        self
    }

    /// Smallest relative change that counts when comparing with `--baseline`.
    #[must_use]
    pub fn noise_threshold(mut self, threshold: f64) -> Criterion<M> {
        self.settings.noise_threshold = Some(threshold);
        self
    }

    /// Accepted, no effect: the confidence interval is 95 %.
    #[must_use]
    pub fn confidence_level(self, _level: f64) -> Criterion<M> {
        self
    }

    /// Significance level of the comparison with `--baseline`.
    #[must_use]
    pub fn significance_level(mut self, level: f64) -> Criterion<M> {
        self.settings.significance = Some(level);
        self
    }

    /// Accepted, no effect: benchscope draws no plots of its own here.
    #[must_use]
    pub fn with_plots(self) -> Criterion<M> {
        self
    }

    /// Accepted, no effect.
    #[must_use]
    pub fn without_plots(self) -> Criterion<M> {
        self
    }

    /// Accepted, no effect.
    #[must_use]
    pub fn plotting_backend(self, _backend: PlottingBackend) -> Criterion<M> {
        self
    }

    /// Accepted, no effect.
    #[must_use]
    pub fn with_output_color(self, _enabled: bool) -> Criterion<M> {
        self
    }

    /// Runs only benchmarks whose id contains `filter` (besides the
    /// command line's filter).
    #[must_use]
    pub fn with_filter<S: Into<String>>(mut self, filter: S) -> Criterion<M> {
        self.filter = Some(filter.into());
        self
    }

    /// Reads the command line (benchscope's, which takes criterion's
    /// usual flags); `criterion_group!` calls it. Usage errors, `--help`
    /// and `--print-config` end the process here.
    #[must_use]
    pub fn configure_from_args(self) -> Criterion<M> {
        with_harness(|_| ());
        self
    }

    /// Ends the run: the table, the outputs (`--output`, the history,
    /// `--save-baseline`), and the exit code (1 when a benchmark failed, 2
    /// when an output could not be written); `criterion_main!` calls it.
    pub fn final_summary(&self) {
        let harness = HARNESS.with(|cell| cell.borrow_mut().take());
        let harness = match harness {
            Some(harness) => harness,
            None => Harness::from_env(true).unwrap_or_else(|code| std::process::exit(code.into())),
        };
        let code = harness.finish();
        if code != 0 {
            std::process::exit(code.into());
        }
    }

    /// A group of related benchmarks sharing settings; their ids are
    /// `group_name/...`.
    pub fn benchmark_group<S: Into<String>>(&mut self, group_name: S) -> BenchmarkGroup<'_, M> {
        let settings = self.settings.clone();
        BenchmarkGroup::new(self, group_name.into(), settings)
    }

    /// Measures the benchmark `id` that `f` defines.
    pub fn bench_function<F>(&mut self, id: &str, f: F) -> &mut Criterion<M>
    where
        F: FnMut(&mut Bencher<'_, M>),
    {
        self.benchmark_group(id)
            .bench_function(BenchmarkId::none(), f);
        self
    }

    /// Measures the benchmark `id` that `f` defines on `input`; its id is
    /// `function/parameter`.
    pub fn bench_with_input<F, I>(&mut self, id: BenchmarkId, input: &I, f: F) -> &mut Criterion<M>
    where
        F: FnMut(&mut Bencher<'_, M>, &I),
        I: ?Sized,
    {
        let (group, id) = id.split_for_top_level();
        self.benchmark_group(group).bench_with_input(id, input, f);
        self
    }

    /// Whether the code's own filter ([`Criterion::with_filter`]) keeps `id`.
    fn keeps(&self, id: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| id.contains(f))
    }
}

thread_local! {
    /// The run of this bench target: started by the first benchmark (or
    /// `configure_from_args`), ended by `final_summary`.
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

/// Calls `f` with this target's run, starting it on first use.
fn with_harness<R>(f: impl FnOnce(&mut Harness) -> R) -> R {
    HARNESS.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Reached from inside a benchmark's closure: the panic fails
            // that benchmark, with this message.
            panic!(
                "a benchmark was defined inside another benchmark's closure; define each benchmark in the group function, outside every `|b| ...` closure"
            );
        };
        let harness = match &mut *slot {
            Some(harness) => harness,
            none => none.insert(
                Harness::from_env(true).unwrap_or_else(|code| std::process::exit(code.into())),
            ),
        };
        f(harness)
    })
}

/// Lists, tests or measures one benchmark through this target's run.
pub(crate) fn run(
    id: String,
    labels: Vec<(String, String)>,
    settings: &Settings,
    body: &mut dyn FnMut(&mut benchscope::Bencher<'_>),
) {
    let outcome = with_harness(|harness| match settings.options() {
        Ok(options) => harness.bench(id, labels, options, body),
        Err(reason) => {
            harness.fail(id, reason);
            Ok(())
        }
    });
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// Defines a function that runs a group of benchmark functions, each given
/// a `&mut Criterion`:
///
/// ```ignore
/// criterion_group!(benches, parse, format);
/// criterion_group! {
///     name = slow;
///     config = Criterion::default().sample_size(10);
///     targets = compress
/// }
/// ```
#[macro_export]
macro_rules! criterion_group {
    (name = $name:ident; config = $config:expr; targets = $( $target:path ),+ $(,)*) => {
        pub fn $name() {
            let mut criterion: $crate::Criterion<_> = $config.configure_from_args();
            $(
                $target(&mut criterion);
            )+
        }
    };
    ($name:ident, $( $target:path ),+ $(,)*) => {
        $crate::criterion_group! {
            name = $name;
            config = $crate::Criterion::default();
            targets = $( $target ),+
        }
    };
}

/// Defines `fn main` for a `harness = false` bench target: runs each group,
/// then the summary and the outputs.
///
/// ```ignore
/// criterion_main!(benches, slow);
/// ```
#[macro_export]
macro_rules! criterion_main {
    ( $( $group:path ),+ $(,)* ) => {
        fn main() {
            $(
                $group();
            )+
            $crate::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    };
}
