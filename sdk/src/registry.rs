//! The suite registry: every `#[monitored_bench]` function in the final binary,
//! collected at link time into one distributed slice, so a bench target needs
//! no list of its benchmarks.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bencher::Bencher;
use crate::error::Error;

/// Every registered benchmark in the binary, in link order.
#[linkme::distributed_slice]
pub static BENCHES: [BenchEntry];

/// One registered benchmark, as emitted by `#[monitored_bench]`.
#[derive(Debug)]
pub struct BenchEntry {
    /// The benchmark's name (the `name` option, or the function's name).
    pub name: &'static str,
    /// The benchmark's group, if any.
    pub group: Option<&'static str>,
    /// `module_path!()` where the function is defined.
    pub module_path: &'static str,
    /// Source file of the function.
    pub file: &'static str,
    /// Source line of the function.
    pub line: u32,
    /// The options written in the attribute.
    pub options: fn() -> BenchOptions,
    /// Runs the benchmark body against a [`Bencher`].
    pub run: fn(&mut Bencher<'_>),
}

impl BenchEntry {
    /// The name shown in reports and used as the `benchmark_name` label:
    /// `group/name`, or `name` without a group.
    ///
    /// ```
    /// # use benchscope::BenchEntry;
    /// fn run(_: &mut benchscope::Bencher<'_>) {}
    /// let entry = BenchEntry {
    ///     name: "parse", group: Some("strings"), module_path: "m", file: "f.rs", line: 1,
    ///     options: Default::default, run,
    /// };
    /// assert_eq!(entry.full_name(), "strings/parse");
    /// ```
    pub fn full_name(&self) -> String {
        match self.group {
            Some(group) => format!("{group}/{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// Per-benchmark options; every field left `None` takes the suite's
/// configured default.
///
/// ```
/// use benchscope::{BenchOptions, Throughput};
/// let options = BenchOptions { samples: Some(30), throughput: Some(Throughput::Bytes(64)), ..Default::default() };
/// assert_eq!(options.warmup, None);
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
}

/// Work done by one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Throughput {
    /// Bytes processed per iteration.
    Bytes(u64),
    /// Elements (items, records, messages) processed per iteration.
    Elements(u64),
}

impl Throughput {
    /// The unit name used in labels and reports: `bytes` or `elements`.
    pub fn unit(&self) -> &'static str {
        match self {
            Throughput::Bytes(_) => "bytes",
            Throughput::Elements(_) => "elements",
        }
    }

    /// Units of work per iteration.
    pub fn per_iteration(&self) -> u64 {
        match *self {
            Throughput::Bytes(n) | Throughput::Elements(n) => n,
        }
    }
}

/// The registered benchmarks, sorted by full name, after checking that no two
/// share a name (the macro catches duplicates within one module; this catches
/// them across modules).
pub fn registered() -> Result<Vec<&'static BenchEntry>, Error> {
    collect(BENCHES.iter())
}

pub(crate) fn collect<'a>(
    entries: impl Iterator<Item = &'a BenchEntry>,
) -> Result<Vec<&'a BenchEntry>, Error> {
    let mut by_name: BTreeMap<String, Vec<&'a BenchEntry>> = BTreeMap::new();
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

    fn entry(name: &'static str, group: Option<&'static str>, line: u32) -> BenchEntry {
        BenchEntry {
            name,
            group,
            module_path: "m",
            file: "f.rs",
            line,
            options: Default::default,
            run,
        }
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
