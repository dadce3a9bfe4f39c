//! The suite registry: every `#[monitored_bench]` function in the final binary,
//! collected at link time into one distributed slice, so a bench target needs
//! no list of its benchmarks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::bencher::Bencher;
use crate::error::Error;

/// Every registered benchmark in the binary, in link order.
#[linkme::distributed_slice]
pub static BENCHES: [Benchmark];

/// A benchmark registered by `#[monitored_bench]`.
///
/// ```no_run
/// #[benchscope::monitored_bench(group = "strings")]
/// fn parse() -> u64 {
///     "42".parse().unwrap()
/// }
///
/// # fn main() -> Result<(), benchscope::Error> {
/// for bench in benchscope::benchmarks()? {
///     println!("{} ({}:{})", bench.full_name(), bench.file(), bench.line());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Benchmark {
    name: &'static str,
    group: Option<&'static str>,
    module_path: &'static str,
    file: &'static str,
    line: u32,
    options: fn() -> BenchOptions,
    cases: Option<fn() -> Vec<CaseSpec>>,
    run: fn(&mut Bencher<'_>, usize, usize),
}

impl Benchmark {
    /// What `#[monitored_bench]` emits; not API.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __new(
        name: &'static str,
        group: Option<&'static str>,
        module_path: &'static str,
        file: &'static str,
        line: u32,
        options: fn() -> BenchOptions,
        cases: Option<fn() -> Vec<CaseSpec>>,
        run: fn(&mut Bencher<'_>, usize, usize),
    ) -> Benchmark {
        Benchmark {
            name,
            group,
            module_path,
            file,
            line,
            options,
            cases,
            run,
        }
    }

    /// The benchmark's own name (the `name` option, or the function's name).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The benchmark's group, if any.
    pub fn group(&self) -> Option<&'static str> {
        self.group
    }

    /// The name shown in reports and used as the `benchmark_name` label:
    /// `group/name`, or `name` without a group.
    pub fn full_name(&self) -> String {
        match self.group {
            Some(group) => format!("{group}/{}", self.name),
            None => self.name.to_owned(),
        }
    }

    /// The source file that defines the benchmark.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line of the benchmark's function.
    pub fn line(&self) -> u32 {
        self.line
    }

    pub(crate) fn options(&self) -> BenchOptions {
        (self.options)()
    }

    /// The options the attribute wrote, for the attribute's own tests; not API.
    #[doc(hidden)]
    pub fn __options(&self) -> BenchOptions {
        self.options()
    }

    /// The benchmark's cases: one per combination of its `types`,
    /// `consts`, `args` and `threads`, or the benchmark alone when it has
    /// none.
    ///
    /// ```no_run
    /// #[benchscope::monitored_bench(args = [10, 1000])]
    /// fn sum(n: u64) -> u64 {
    ///     (0..n).sum()
    /// }
    ///
    /// # fn main() -> Result<(), benchscope::Error> {
    /// let names: Vec<String> = benchscope::benchmarks()?
    ///     .iter()
    ///     .flat_map(|b| b.cases())
    ///     .map(|c| c.name)
    ///     .collect();
    /// assert_eq!(names, ["sum/10", "sum/1000"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cases(&self) -> Vec<Case> {
        let options = self.options();
        let specs = match self.cases {
            Some(cases) => cases(),
            None => vec![CaseSpec::default()],
        };
        let mut threads: Vec<usize> = Vec::new();
        for &n in options.threads {
            let n = if n == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                n
            };
            if !threads.contains(&n) {
                threads.push(n);
            }
        }
        let base = self.full_name();
        let mut out = Vec::with_capacity(specs.len() * threads.len().max(1));
        for (index, spec) in specs.into_iter().enumerate() {
            let counts: Vec<Option<usize>> = if threads.is_empty() {
                vec![None]
            } else {
                threads.iter().copied().map(Some).collect()
            };
            for count in counts {
                out.push(Case::new(&base, self, &options, &spec, index, count));
            }
        }
        out
    }

    /// Runs one of [`Benchmark::cases`] on `bencher`.
    pub(crate) fn run_case(&self, bencher: &mut Bencher<'_>, case: &Case) {
        (self.run)(bencher, case.index, case.threads.unwrap_or(1))
    }
}

/// One case of a benchmark: a benchmark of its own, with its own name,
/// labels and options. See [`Benchmark::cases`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Case {
    /// The name shown and used as `benchmark_name`: the benchmark's name,
    /// then the case's type, const, thread count and argument, `/`-separated
    /// (`sort/u64/threads=2/1024`).
    pub name: String,
    /// Labels that tell the cases apart: `benchmark_group`,
    /// `benchmark_function`, `type`, `const`, `threads`, `param` (each
    /// where it applies), as criterion's `BenchmarkId`s also give.
    pub labels: Vec<(String, String)>,
    /// The options it is measured with (throughput may depend on the argument).
    #[doc(hidden)]
    pub options: BenchOptions,
    /// Threads running the routine at once, when `threads` is given.
    pub threads: Option<usize>,
    index: usize,
}

impl Case {
    fn new(
        base: &str,
        bench: &Benchmark,
        options: &BenchOptions,
        spec: &CaseSpec,
        index: usize,
        threads: Option<usize>,
    ) -> Case {
        let mut name = base.to_owned();
        let mut labels = Vec::new();
        let plain = spec.type_name.is_none()
            && spec.konst.is_none()
            && spec.param.is_none()
            && threads.is_none();
        if !plain {
            if let Some(group) = bench.group {
                labels.push(("benchmark_group".into(), group.into()));
            }
            labels.push(("benchmark_function".into(), bench.name.into()));
        }
        if let Some(ty) = spec.type_name {
            name = format!("{name}/{ty}");
            labels.push(("type".into(), ty.into()));
        }
        // A const alone is the case's parameter; beside an argument it is
        // a dimension of its own.
        let (konst, param) = match (spec.konst, &spec.param) {
            (Some(c), None) => (None, Some(c.to_owned())),
            (c, p) => (c, p.clone()),
        };
        if let Some(c) = konst {
            name = format!("{name}/{c}");
            labels.push(("const".into(), c.into()));
        }
        if let Some(n) = threads {
            name = format!("{name}/threads={n}");
            labels.push(("threads".into(), n.to_string()));
        }
        if let Some(p) = param {
            name = format!("{name}/{p}");
            labels.push(("param".into(), p));
        }
        let mut options = options.clone();
        if spec.throughput.is_some() {
            options.throughput = spec.throughput;
        }
        Case {
            name,
            labels,
            options,
            threads,
            index,
        }
    }
}

/// What `#[monitored_bench]` writes for each case of a benchmark with
/// `types`, `consts` or `args`; not API.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseSpec {
    /// The type argument, as written.
    pub type_name: Option<&'static str>,
    /// The const argument, as written.
    pub konst: Option<&'static str>,
    /// The argument, as its `Display` (or `Debug`) shows it.
    pub param: Option<String>,
    /// Throughput computed from the argument.
    pub throughput: Option<Throughput>,
}

/// How `#[monitored_bench]` shows an argument: by `Display` when it has
/// one, by `Debug` otherwise (autoref specialisation); not API.
#[doc(hidden)]
pub struct ParamText<'a, T: ?Sized>(pub &'a T);

/// See [`ParamText`]; not API.
#[doc(hidden)]
pub trait ViaDisplay {
    /// The argument's text.
    fn param_text(&self) -> String;
}

impl<T: std::fmt::Display + ?Sized> ViaDisplay for &ParamText<'_, T> {
    fn param_text(&self) -> String {
        self.0.to_string()
    }
}

/// See [`ParamText`]; not API.
#[doc(hidden)]
pub trait ViaDebug {
    /// The argument's text.
    fn param_text(&self) -> String;
}

impl<T: std::fmt::Debug + ?Sized> ViaDebug for ParamText<'_, T> {
    fn param_text(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// Per-benchmark options: what `#[monitored_bench(...)]` writes, and what a
/// front-end hands [`Harness::bench`](crate::harness::Harness::bench);
/// every field left `None` takes the suite's configured default. The
/// attribute's options map onto these fields one to one, and the rules on
/// their values live here: [`BenchOptions::check`].
///
/// ```
/// use benchscope::harness::BenchOptions;
/// let options = BenchOptions { samples: Some(50), ..BenchOptions::default() };
/// assert!(options.check().is_ok());
/// assert!(BenchOptions { samples: Some(1), ..options }.check().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchOptions {
    /// Number of samples to take.
    pub samples: Option<u32>,
    /// How long to run the function before measuring.
    pub warmup: Option<Duration>,
    /// Measurement time target: batches grow until the samples fill at least this.
    pub min_time: Option<Duration>,
    /// Measurement time ceiling: sampling stops once past it (with at least 10 samples).
    pub max_time: Option<Duration>,
    /// Work done by one iteration, for throughput figures.
    pub throughput: Option<Throughput>,
    /// Extra labels put on this benchmark's metrics.
    pub labels: &'static [(&'static str, &'static str)],
    /// Significance level of the comparison with the baseline (the
    /// configuration's `regression.alpha` otherwise).
    pub significance: Option<f64>,
    /// Smallest relative change that counts (the configuration's
    /// `regression.noise_floor` otherwise).
    pub noise_threshold: Option<f64>,
    /// Thread counts to run the routine on at once, one case each (`0`:
    /// the available parallelism); empty: this thread alone.
    pub threads: &'static [usize],
}

impl BenchOptions {
    /// The samples a benchmark may take: at least 2 for a spread and a
    /// confidence interval; at most a million (ten thousand are kept in the
    /// history, and a million is already 8 MB of samples per benchmark).
    pub const SAMPLES: std::ops::RangeInclusive<u32> = 2..=1_000_000;

    /// `n` when it is within [`BenchOptions::SAMPLES`]; a panic otherwise,
    /// which in a constant (as the attribute expands `samples = N`) is a
    /// compile error.
    #[doc(hidden)]
    pub const fn checked_samples(n: u32) -> u32 {
        assert!(
            n >= *Self::SAMPLES.start() && n <= *Self::SAMPLES.end(),
            "`samples` must be from 2 to 1000000"
        );
        n
    }

    /// The first option out of range, in words: a front-end reports it as
    /// the benchmark's failure.
    pub fn check(&self) -> Result<(), String> {
        match self.samples {
            Some(n) if !Self::SAMPLES.contains(&n) => Err(format!(
                "{n} samples is out of range: give from {} to {}",
                Self::SAMPLES.start(),
                Self::SAMPLES.end()
            )),
            _ => Ok(()),
        }
    }
}

/// Work done by one iteration, for a throughput figure.
///
/// ```
/// use benchscope::Throughput;
/// assert_eq!(Throughput::Bytes(64).unit(), "bytes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Throughput {
    /// Bytes processed per iteration.
    Bytes(u64),
    /// Elements (items, records, messages) processed per iteration.
    Elements(u64),
    /// Bits processed per iteration (criterion's `Throughput::Bits`).
    Bits(u64),
}

impl Throughput {
    /// The unit name used in labels and reports: `bytes`, `elements` or `bits`.
    pub fn unit(&self) -> &'static str {
        match self {
            Throughput::Bytes(_) => "bytes",
            Throughput::Elements(_) => "elements",
            Throughput::Bits(_) => "bits",
        }
    }

    /// Units of work per iteration.
    pub fn per_iteration(&self) -> u64 {
        match *self {
            Throughput::Bytes(n) | Throughput::Elements(n) | Throughput::Bits(n) => n,
        }
    }
}

/// The benchmarks registered in this binary, sorted by full name, after
/// checking that no two share a name (the attribute catches duplicates within
/// one module; this catches them across modules).
///
/// ```no_run
/// # fn main() -> Result<(), benchscope::Error> {
/// let names: Vec<String> = benchscope::benchmarks()?.iter().map(|b| b.full_name()).collect();
/// # Ok(())
/// # }
/// ```
pub fn benchmarks() -> Result<Vec<&'static Benchmark>, Error> {
    collect(BENCHES.iter())
}

fn collect<'a>(entries: impl Iterator<Item = &'a Benchmark>) -> Result<Vec<&'a Benchmark>, Error> {
    let mut by_name: BTreeMap<String, Vec<&'a Benchmark>> = BTreeMap::new();
    for entry in entries {
        by_name.entry(entry.full_name()).or_default().push(entry);
    }
    let mut out = Vec::with_capacity(by_name.len());
    for (name, entries) in by_name {
        if entries.len() > 1 {
            let places = entries
                .iter()
                .map(|e| format!("{}:{} ({})", e.file, e.line, e.module_path))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::DuplicateBenchmark { name, places });
        }
        out.extend(entries);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(_: &mut Bencher<'_>, _: usize, _: usize) {}

    fn entry(name: &'static str, group: Option<&'static str>, line: u32) -> Benchmark {
        Benchmark::__new(name, group, "m", "f.rs", line, Default::default, None, run)
    }

    fn specs() -> Vec<CaseSpec> {
        ["u32", "u64"]
            .into_iter()
            .flat_map(|ty| {
                ["10", "1000"].into_iter().map(move |p| CaseSpec {
                    type_name: Some(ty),
                    param: Some(p.into()),
                    ..CaseSpec::default()
                })
            })
            .collect()
    }

    fn threaded() -> BenchOptions {
        BenchOptions {
            threads: &[1, 0, 2, 1],
            ..BenchOptions::default()
        }
    }

    #[test]
    fn cases_multiply_types_args_and_distinct_thread_counts() {
        let bench = Benchmark::__new("f", Some("g"), "m", "f.rs", 1, threaded, Some(specs), run);
        let cases = bench.cases();
        let names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let counts: usize = if cores == 1 || cores == 2 { 2 } else { 3 };
        assert_eq!(cases.len(), 4 * counts, "{names:?}");
        assert_eq!(names[0], "g/f/u32/threads=1/10");
        assert!(names.contains(&"g/f/u64/threads=2/1000"), "{names:?}");
        let labels = &cases[0].labels;
        for (k, v) in [
            ("benchmark_group", "g"),
            ("benchmark_function", "f"),
            ("type", "u32"),
            ("threads", "1"),
            ("param", "10"),
        ] {
            assert!(labels.contains(&(k.into(), v.into())), "{labels:?}");
        }
    }

    #[test]
    fn a_plain_benchmark_is_one_case_without_labels() {
        let cases = entry("a", None, 1).cases();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].name, "a");
        assert!(cases[0].labels.is_empty());
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows choose Display over Debug
    fn arguments_show_by_display_and_otherwise_by_debug() {
        #[derive(Debug)]
        struct NoDisplay;
        assert_eq!((&&ParamText(&"a b")).param_text(), "a b");
        assert_eq!((&&ParamText(&NoDisplay)).param_text(), "NoDisplay");
    }

    #[test]
    fn duplicates_across_modules_are_an_error_naming_both_places() {
        let entries = [
            entry("a", None, 1),
            entry("b", None, 2),
            entry("a", None, 3),
        ];
        let err = collect(entries.iter()).unwrap_err().to_string();
        assert!(err.contains("`a`"), "{err}");
        assert!(err.contains("f.rs:1") && err.contains("f.rs:3"), "{err}");
    }

    #[test]
    fn same_name_in_different_groups_is_fine_and_sorted() {
        let entries = [entry("a", Some("y"), 1), entry("a", Some("x"), 2)];
        let names: Vec<_> = collect(entries.iter())
            .unwrap()
            .iter()
            .map(|e| e.full_name())
            .collect();
        assert_eq!(names, ["x/a", "y/a"]);
    }
}
