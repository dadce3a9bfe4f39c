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
    run: fn(&mut Bencher<'_>),
}

impl Benchmark {
    /// What `#[monitored_bench]` emits; not API.
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        group: Option<&'static str>,
        module_path: &'static str,
        file: &'static str,
        line: u32,
        options: fn() -> BenchOptions,
        run: fn(&mut Bencher<'_>),
    ) -> Benchmark {
        Benchmark {
            name,
            group,
            module_path,
            file,
            line,
            options,
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

    pub(crate) fn run(&self, bencher: &mut Bencher<'_>) {
        (self.run)(bencher)
    }
}

/// Per-benchmark options written in the attribute; every field left `None`
/// takes the suite's configured default. The attribute's options map onto
/// these fields one to one.
#[derive(Debug, Clone, Default, PartialEq)]
#[doc(hidden)]
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

    fn run(_: &mut Bencher<'_>) {}

    fn entry(name: &'static str, group: Option<&'static str>, line: u32) -> Benchmark {
        Benchmark::__new(name, group, "m", "f.rs", line, Default::default, run)
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
