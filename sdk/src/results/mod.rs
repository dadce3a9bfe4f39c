//! The record of a suite run: what each benchmark measured and how it
//! compared with its baseline, as kept in memory, written by `--output json`
//! and read back as a baseline; the verdict types; and the [`Reporter`]
//! through which a run reports as it goes.

pub(crate) mod report;
pub(crate) mod verdict;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
pub use crate::measure::callgrind::Instructions;
use crate::measure::complexity::{Fit, classify};
pub use crate::measure::disturbance::Disturbance;
use crate::measure::stats::Stats;
pub use report::Reporter;
pub use verdict::{AllocChange, BaselineComparison, Comparison, CountChange, Severity, Verdict};

/// Version of the JSON results format, described by
/// `docs/results.schema.json`. Version 1 also had `stats.median` (always
/// equal to `stats.p50`); version 3 added cases' labels, `allocations`,
/// `baseline.allocations` and `complexity`; version 4 added each
/// benchmark's `disturbance` (how the rest of the machine disturbed its
/// samples). Older files read as the current version.
pub const SCHEMA_VERSION: u32 = 4;

/// One run of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRun {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// benchscope's version.
    pub benchscope_version: String,
    /// Unix time at which the suite started, in seconds.
    pub started_at: f64,
    /// Wall time of the suite, in seconds.
    pub duration_s: f64,
    /// The `environment` label.
    pub environment: String,
    /// The commit measured.
    pub commit: String,
    /// The branch measured.
    pub branch: String,
    /// Every benchmark that ran, in order.
    pub benchmarks: Vec<BenchResult>,
    /// Benchmarks that failed, with their errors.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// How each push exporter fared (empty without push exporters).
    #[serde(default)]
    pub exports: Vec<ExportStatus>,
    /// The complexity class of each benchmark whose cases are sizes
    /// ([`SuiteRun::fit_complexity`]).
    #[serde(default)]
    pub complexity: Vec<ComplexityResult>,
}

/// The figure a complexity class is fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    /// The mean time per iteration, ns.
    Time,
    /// The bytes allocated per iteration.
    AllocatedBytes,
}

impl Fitted {
    /// As JSON results and the metric's `measure` label write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Fitted::Time => "time",
            Fitted::AllocatedBytes => "allocated_bytes",
        }
    }
}

impl std::fmt::Display for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a benchmark's figure grows with the size of its cases: the class
/// chosen and its fit (see `measure::complexity` for the criterion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplexityResult {
    /// The benchmark: its cases' name without the size.
    pub benchmark: String,
    /// What was fitted.
    pub measure: Fitted,
    /// The class chosen, with its fit.
    pub fit: Fit,
    /// The points fitted: (size, figure).
    pub points: Vec<(f64, f64)>,
}

/// What a benchmark allocated per iteration, with a
/// [`CountingAlloc`](crate::CountingAlloc) as the global allocator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Allocations {
    /// Allocations per iteration.
    pub allocs: f64,
    /// Deallocations per iteration.
    pub deallocs: f64,
    /// Bytes allocated per iteration.
    pub bytes: f64,
    /// The most bytes live at once during a sample above its start: the
    /// peak of one iteration for a routine that frees what it allocates.
    pub peak_bytes: u64,
}

/// A benchmark that did not produce a measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The benchmark.
    pub name: String,
    /// Why.
    pub error: String,
}

/// How one push exporter fared over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStatus {
    /// What it is, e.g. `OTLP metrics export to http://127.0.0.1:4318/v1/metrics`.
    pub exporter: String,
    /// Exports that succeeded.
    pub succeeded: u64,
    /// Exports that failed.
    pub failed: u64,
    /// The first failure's error.
    pub first_error: Option<String>,
}

/// One benchmark's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Full name (`group/name`).
    pub name: String,
    /// Extra labels from the attribute's `labels(...)`.
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    /// Time per iteration of each sample, in nanoseconds.
    pub samples_ns: Vec<f64>,
    /// Iterations per sample.
    pub batch: u64,
    /// Iterations measured in all (warm-up excluded).
    pub iterations: u64,
    /// Iterations run during warm-up.
    pub warmup_iterations: u64,
    /// Statistics of the samples, in nanoseconds.
    pub stats: Stats,
    /// Throughput, when declared.
    pub throughput: Option<ThroughputResult>,
    /// Peak resident memory of the process while the benchmark ran, in MiB.
    pub peak_rss_mb: Option<f64>,
    /// Unix time at which the benchmark finished, in seconds.
    pub finished_at: f64,
    /// Comparison with the baseline, when one was given and it has this
    /// benchmark.
    pub baseline: Option<BaselineComparison>,
    /// Why the comparison with the baseline could not be computed (too few
    /// samples on a side, figures out of range), when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomparable: Option<String>,
    /// Allocations per iteration, when counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations: Option<Allocations>,
    /// Instructions per iteration counted under Callgrind
    /// (`--measure instructions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Instructions>,
    /// How the rest of the machine disturbed the samples, when measured
    /// (not for imported figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disturbance: Option<Disturbance>,
}

/// Most bytes read of a results or baseline file: a run of a thousand
/// benchmarks with ten thousand samples each is a few hundred MiB.
pub const MAX_RESULTS: u64 = 512 << 20;

/// Where writing `path` lands: `path` itself, or the file its symlinks
/// lead to (which may not exist yet). Anything else that exists there (a
/// folder, a FIFO, a device) is refused: replacing it by a regular file
/// would lose it, and writing into it could block or fill a device.
pub(crate) fn output_target(path: &Path) -> Result<std::path::PathBuf, Error> {
    let refuse = |message: String| Error::Io {
        action: "nothing was written to",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    };
    let mut target = path.to_owned();
    // A bounded walk: a loop of links ends here with an error.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(refuse(format!("cannot look at {}: {e}", target.display()))),
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&target)
                    .map_err(|e| refuse(format!("cannot read the link: {e}")))?;
                target = match target.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(m) if m.is_file() => return Ok(target),
            Ok(m) => {
                let what = if m.is_dir() {
                    "a folder"
                } else {
                    "a FIFO, a socket or a device"
                };
                return Err(refuse(format!(
                    "{} is {what}, not a regular file; name a file to write to",
                    target.display()
                )));
            }
        }
    }
    Err(refuse("its symbolic links do not end (a loop?)".into()))
}

/// Work per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputResult {
    /// `bytes` or `elements`.
    pub unit: String,
    /// Units per iteration.
    pub per_iteration: u64,
    /// Units per second at the mean time.
    pub per_second: f64,
}

impl BenchResult {
    /// A result made from per-iteration samples alone (one iteration per
    /// sample), e.g. to import figures from elsewhere or to build a test
    /// case; `None` when the samples are empty or not finite.
    ///
    /// ```
    /// let r = benchscope::BenchResult::from_samples("parse", vec![10.0, 12.0, 11.0]).unwrap();
    /// assert_eq!(r.stats.p50, 11.0);
    /// ```
    pub fn from_samples(name: impl Into<String>, samples_ns: Vec<f64>) -> Option<BenchResult> {
        Some(BenchResult {
            name: name.into(),
            labels: Vec::new(),
            stats: Stats::from_samples(&samples_ns)?,
            batch: 1,
            iterations: samples_ns.len() as u64,
            warmup_iterations: 0,
            samples_ns,
            throughput: None,
            peak_rss_mb: None,
            finished_at: unix_now(),
            baseline: None,
            incomparable: None,
            allocations: None,
            instructions: None,
            disturbance: None,
        })
    }

    /// True when the benchmark stayed disturbed while it was measured
    /// ([`Disturbance::disturbed`]).
    pub fn disturbed(&self) -> bool {
        self.disturbance.is_some_and(|d| d.disturbed)
    }

    /// The value of label `key`, if the benchmark has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The benchmark this result is a sized case of, and its size: a
    /// result with a numeric `param` label is a case of the benchmark
    /// named by its name without `/param` (what complexity is fitted over).
    pub fn sized_case(&self) -> Option<(&str, f64)> {
        let param = self.label("param")?;
        let size = param.parse::<f64>().ok()?;
        let group = self
            .name
            .strip_suffix(param)
            .and_then(|n| n.strip_suffix('/'))
            .unwrap_or(&self.name);
        Some((group, size))
    }

    /// The first figure that is out of range (not finite, negative, or
    /// inconsistent with the others), in words; `Ok` when none is.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        let bad = |what: &str, value: f64| {
            Err(format!(
                "benchmark `{name}`: {what} is {value}, not a finite non-negative number"
            ))
        };
        let fine = |v: f64| v.is_finite() && v >= 0.0;
        if name.trim().is_empty() {
            return Err("a benchmark has an empty name".into());
        }
        // A result read back from a metrics backend has its statistics and
        // no samples.
        if self.samples_ns.is_empty() && self.stats.samples == 0 {
            return Err(format!("benchmark `{name}` has no samples"));
        }
        if let Some(&s) = self.samples_ns.iter().find(|&&s| !fine(s)) {
            return bad("a sample", s);
        }
        if self.batch == 0 || self.iterations < self.samples_ns.len() as u64 {
            return Err(format!(
                "benchmark `{name}`: {} iterations in batches of {} cannot make {} samples",
                self.iterations,
                self.batch,
                self.samples_ns.len()
            ));
        }
        let st = &self.stats;
        if st.samples < self.samples_ns.len() {
            return Err(format!(
                "benchmark `{name}`: its statistics count {} samples, fewer than the {} it has",
                st.samples,
                self.samples_ns.len()
            ));
        }
        for (what, v) in [
            ("the mean", st.mean),
            ("p50", st.p50),
            ("p95", st.p95),
            ("p99", st.p99),
            ("the minimum", st.min),
            ("the maximum", st.max),
            ("the standard deviation", st.std_dev),
            ("the MAD", st.mad),
            ("the upper confidence bound", st.ci_upper),
        ] {
            if !fine(v) {
                return bad(what, v);
            }
        }
        // The lower bound of a wide interval may fall below zero.
        if !st.ci_lower.is_finite() {
            return bad("the lower confidence bound", st.ci_lower);
        }
        if let Some(t) = &self.throughput
            && !fine(t.per_second)
        {
            return bad("the throughput", t.per_second);
        }
        if let Some(rss) = self.peak_rss_mb
            && !fine(rss)
        {
            return bad("the peak memory", rss);
        }
        if let Some(c) = &self.baseline {
            for v in c.baseline_ns.iter().chain(&c.speedup) {
                if !fine(*v) {
                    return bad("a baseline figure", *v);
                }
            }
            if !c.comparison.change.is_finite() {
                return bad("the change against the baseline", c.comparison.change);
            }
            if !(0.0..=1.0).contains(&c.comparison.p_value) {
                return bad("the p-value", c.comparison.p_value);
            }
        }
        if let Some(i) = &self.instructions {
            for v in [Some(i.instructions), i.l1_misses, i.ll_misses, i.cycles]
                .into_iter()
                .flatten()
            {
                if !fine(v) {
                    return bad("an instruction count", v);
                }
            }
        }
        if let Some(a) = &self.allocations {
            for (what, v) in [
                ("allocations per iteration", a.allocs),
                ("deallocations per iteration", a.deallocs),
                ("bytes allocated per iteration", a.bytes),
            ] {
                if !fine(v) {
                    return bad(what, v);
                }
            }
        }
        Ok(())
    }
}

impl SuiteRun {
    /// A run of `benchmarks` at `commit` on `branch`, started now.
    ///
    /// ```
    /// let bench = benchscope::BenchResult::from_samples("parse", vec![10.0, 12.0]).unwrap();
    /// let run = benchscope::SuiteRun::new("c0ffee", "main", vec![bench]);
    /// assert!(run.get("parse").is_some());
    /// ```
    pub fn new(commit: &str, branch: &str, benchmarks: Vec<BenchResult>) -> SuiteRun {
        SuiteRun {
            schema_version: SCHEMA_VERSION,
            benchscope_version: env!("CARGO_PKG_VERSION").into(),
            started_at: unix_now(),
            duration_s: 0.0,
            environment: "dev".into(),
            commit: commit.into(),
            branch: branch.into(),
            benchmarks,
            failures: Vec::new(),
            exports: Vec::new(),
            complexity: Vec::new(),
        }
    }

    /// Fits the complexity class of every benchmark whose cases are
    /// sizes: results with a numeric `param` label (from `args`, or a
    /// criterion `BenchmarkId`'s parameter), grouped by their other labels,
    /// at [`MIN_SIZES`](crate::complexity::MIN_SIZES) sizes or
    /// more. Time is fitted always, allocated bytes when counted.
    pub fn fit_complexity(benchmarks: &[BenchResult]) -> Vec<ComplexityResult> {
        let mut groups: Vec<(String, Vec<(f64, &BenchResult)>)> = Vec::new();
        for b in benchmarks {
            let Some((name, size)) = b.sized_case() else {
                continue;
            };
            match groups.iter_mut().find(|(n, _)| n == name) {
                Some((_, members)) => members.push((size, b)),
                None => groups.push((name.to_owned(), vec![(size, b)])),
            }
        }
        let mut out = Vec::new();
        for (name, members) in groups {
            let time: Vec<(f64, f64)> = members.iter().map(|(n, b)| (*n, b.stats.mean)).collect();
            if let Ok(fit) = classify(&time) {
                out.push(ComplexityResult {
                    benchmark: name.clone(),
                    measure: Fitted::Time,
                    fit,
                    points: time,
                });
            }
            let bytes: Option<Vec<(f64, f64)>> = members
                .iter()
                .map(|(n, b)| Some((*n, b.allocations?.bytes)))
                .collect();
            if let Some(bytes) = bytes
                && let Ok(fit) = classify(&bytes)
            {
                out.push(ComplexityResult {
                    benchmark: name,
                    measure: Fitted::AllocatedBytes,
                    fit,
                    points: bytes,
                });
            }
        }
        out
    }

    /// Writes the run as pretty JSON to `path`, creating parent directories.
    /// The file appears whole or not at all: it is written beside the
    /// target and renamed. A run with a figure out of range is refused
    /// ([`SuiteRun::check`]): JSON has no NaN, and what it would write
    /// instead cannot be read back.
    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        let io = |action, source| Error::Io {
            action,
            path: path.to_owned(),
            source,
        };
        self.check().map_err(|message| Error::BadResults {
            path: path.to_owned(),
            message: format!("not written: {message}"),
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the folder of", e))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::BadResults {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        // Through a symlink to its target, so the link stays a link; never
        // over a FIFO, a device or a folder.
        let target = output_target(path)?;
        crate::files::write_whole(&target, text.as_bytes())
            .map_err(|e| io("cannot write results to", e))
    }

    /// The first figure of the run that is out of range, in words: a
    /// number that is not finite or is negative, counts that disagree, a
    /// schema this build does not know. Files and history entries are
    /// checked on the way in and out.
    ///
    /// ```
    /// let mut bench = benchscope::BenchResult::from_samples("parse", vec![10.0, 12.0]).unwrap();
    /// bench.stats.mean = f64::NAN;
    /// let run = benchscope::SuiteRun::new("c0ffee", "main", vec![bench]);
    /// assert!(run.check().unwrap_err().contains("the mean is NaN"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.schema_version > SCHEMA_VERSION {
            return Err(format!(
                "it has schema version {}, newer than the {SCHEMA_VERSION} this benchscope reads; upgrade benchscope",
                self.schema_version
            ));
        }
        for (what, v) in [
            ("started_at", self.started_at),
            ("duration_s", self.duration_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{what} is {v}, not a finite non-negative number"));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for b in &self.benchmarks {
            b.check()?;
            if !names.insert(b.name.as_str()) {
                return Err(format!("benchmark `{}` appears twice", b.name));
            }
        }
        Ok(())
    }

    /// Reads a run written by [`SuiteRun::write_json`], checked
    /// ([`SuiteRun::check`]).
    pub fn read_json(path: &Path) -> Result<SuiteRun, Error> {
        let text =
            crate::files::read_text_bounded(path, MAX_RESULTS).map_err(|source| Error::Io {
                action: "cannot read",
                path: path.to_owned(),
                source,
            })?;
        SuiteRun::from_json(&text).map_err(|message| Error::BadResults {
            path: path.to_owned(),
            message,
        })
    }

    /// The run a results file's text holds, checked ([`SuiteRun::check`]),
    /// at this build's schema version; what is wrong, in words.
    pub(crate) fn from_json(text: &str) -> Result<SuiteRun, String> {
        let mut run: SuiteRun = serde_json::from_str(text).map_err(|e| e.to_string())?;
        run.check()?;
        run.schema_version = SCHEMA_VERSION;
        Ok(run)
    }

    /// The result of the benchmark named `name`.
    pub fn get(&self, name: &str) -> Option<&BenchResult> {
        self.benchmarks.iter().find(|b| b.name == name)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Crafted runs for the unit tests of the layers above.
#[cfg(all(test, any(feature = "history", feature = "cli")))]
pub(crate) mod fixtures {
    use super::{BenchResult, SuiteRun};

    /// A run at `commit` on `branch` with one benchmark per (name, mean):
    /// 20 samples spread by up to 2 ns around the mean.
    pub(crate) fn run(commit: &str, branch: &str, means: &[(&str, f64)]) -> SuiteRun {
        let benchmarks = means
            .iter()
            .map(|(name, mean)| {
                let samples: Vec<f64> = (0..20).map(|i| mean + i as f64 % 3.0).collect();
                BenchResult::from_samples(*name, samples).expect("finite samples")
            })
            .collect();
        SuiteRun::new(commit, branch, benchmarks)
    }
}
