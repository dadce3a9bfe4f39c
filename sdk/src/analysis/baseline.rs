//! Baselines: an earlier run that the current one is compared with.
//!
//! A baseline is a results file (the JSON that `--output json` writes), so
//! CI can carry one as an artifact. A saved baseline is such a file named
//! `NAME.json` in the baseline folder (`target/benchscope/baselines` by
//! default, `baseline_dir` in `benchscope.toml`); saving one never touches
//! the history. With the `history` feature, the latest run of a branch can
//! serve as a baseline too.

use std::path::{Path, PathBuf};

#[cfg(feature = "history")]
use super::history::RunSource;
use super::regression::{Policy, compare_summaries};
use crate::error::Error;
use crate::format::short_commit;
use crate::results::{AllocChange, BaselineComparison, BenchResult, CountChange, SuiteRun};

/// An earlier run to compare with.
///
/// ```no_run
/// use benchscope::Baseline;
/// let baseline = Baseline::load(std::path::Path::new("base.json"))?;
/// println!("{} benchmarks at {}", baseline.run.benchmarks.len(), baseline.version);
/// # Ok::<(), benchscope::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The `baseline_version` label: the baseline's name, or its commit
    /// when it was given as a file.
    pub version: String,
    /// The run.
    pub run: SuiteRun,
}

impl Baseline {
    /// Loads a baseline from a results file; its version is its commit
    /// (or the file's name when the commit is unknown).
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let run = SuiteRun::read_json(path)?;
        let version = if run.commit.is_empty() || run.commit == "unknown" {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "baseline".into())
        } else {
            short_commit(&run.commit)
        };
        Ok(Baseline { version, run })
    }

    /// Finds the baseline that `name` means: a results file if `name` is
    /// one, else the baseline saved as `name` in `dir`.
    pub fn resolve(name: &str, dir: &Path) -> Result<Baseline, Error> {
        let path = Path::new(name);
        if path.is_file() {
            return Baseline::load(path);
        }
        let saved = saved_path(dir, name)?;
        if saved.is_file() {
            let run = SuiteRun::read_json(&saved)?;
            return Ok(Baseline {
                version: name.into(),
                run,
            });
        }
        let names = saved_names(dir)?;
        Err(Error::NoBaseline {
            name: name.into(),
            hint: if names.is_empty() {
                format!(
                    "it is not a file, and {} holds no saved baseline yet; save one with `cargo bench -- --save-baseline NAME`",
                    dir.display()
                )
            } else {
                format!(
                    "it is not a file; saved baselines in {}: {}",
                    dir.display(),
                    names.join(", ")
                )
            },
        })
    }

    /// Saves `run` as baseline `name` in `dir`, replacing an older one, and
    /// returns the file written.
    pub fn save(run: &SuiteRun, name: &str, dir: &Path) -> Result<PathBuf, Error> {
        let path = saved_path(dir, name)?;
        run.write_json(&path)?;
        Ok(path)
    }

    /// The latest run of `branch` in `history`, other than run `except`,
    /// made on `machine` when given (a history a fleet of runners shares
    /// holds every runner's runs; a baseline from another machine would
    /// compare the machines).
    #[cfg(feature = "history")]
    pub fn latest_of_branch(
        branch: &str,
        history: &dyn RunSource,
        except: Option<i64>,
        machine: Option<&str>,
    ) -> Result<Baseline, Error> {
        // The latest run that reads back whole and that the machine did
        // not disturb: one bad run, or one measured under load, does not
        // become the branch's baseline. When every run was disturbed, the
        // latest readable one serves, and its rows say so.
        let mut latest = None;
        for info in history.runs(Some(branch))?.iter().rev() {
            if Some(info.id) == except || machine.is_some_and(|m| m != info.machine) {
                continue;
            }
            let Ok(run) = history.run(info.id) else {
                continue;
            };
            if !run.benchmarks.iter().any(BenchResult::disturbed) {
                latest = Some(run);
                break;
            }
            latest.get_or_insert(run);
        }
        let run = latest.ok_or_else(|| Error::NoBaseline {
            name: format!("latest run of branch {branch}"),
            hint: match machine {
                Some(m) => format!(
                    "{} has no readable run of branch {branch} on machine {m}",
                    history.describe()
                ),
                None => format!(
                    "{} has no readable run of branch {branch}",
                    history.describe()
                ),
            },
        })?;
        Ok(Baseline {
            version: format!("{branch}@{}", short_commit(&run.commit)),
            run,
        })
    }

    /// Compares `current` with the same benchmark in the baseline:
    /// `Ok(None)` when the baseline does not have it, `Err` with the reason
    /// when the two cannot be compared (too few samples on a side, a mean
    /// of zero, figures out of range).
    pub fn compare(
        &self,
        current: &BenchResult,
        policy: &Policy,
    ) -> Result<Option<BaselineComparison>, String> {
        let Some(base) = self.run.get(&current.name) else {
            return Ok(None);
        };
        let (nb, nc) = (base.stats.samples, current.stats.samples);
        if nb < 2 || nc < 2 {
            return Err(format!(
                "the baseline has {nb} sample(s) and this run {nc}; comparing needs at least 2 on each side"
            ));
        }
        // From the statistics, which a run read back from a metrics backend
        // has as well as one with its samples: the same test either way.
        let summary =
            |s: &crate::measure::stats::Stats| (s.mean, s.std_dev * s.std_dev, s.samples as f64);
        let comparison = compare_summaries(summary(&base.stats), summary(&current.stats), policy)
            .ok_or_else(|| {
            format!(
                "the means ({} in the baseline, {} now) and their spreads give no finite change",
                crate::format::format_ns(base.stats.mean),
                crate::format::format_ns(current.stats.mean)
            )
        })?;
        let b = [base.stats.p50, base.stats.p95, base.stats.p99];
        let c = [current.stats.p50, current.stats.p95, current.stats.p99];
        if c.iter().any(|&v| v <= 0.0) {
            return Err(
                "this run's percentiles include 0 ns, so no speedup can be computed".into(),
            );
        }
        Ok(Some(BaselineComparison {
            baseline_version: self.version.clone(),
            baseline_ns: b,
            speedup: [0, 1, 2].map(|i| b[i] / c[i]),
            comparison,
            allocations: base
                .allocations
                .zip(current.allocations)
                .map(|(b, c)| AllocChange::new((b.allocs, b.bytes), (c.allocs, c.bytes))),
            instructions: base
                .instructions
                .zip(current.instructions)
                .and_then(|(b, c)| {
                    CountChange::new(b.instructions, c.instructions, policy.critical)
                }),
        }))
    }
}

/// The names of the baselines saved in `dir`, sorted.
pub(crate) fn saved_names(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                action: "cannot list the baselines in",
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Where baseline `name` is kept in `dir`. A name is a file name: letters,
/// digits, `.`, `_` and `-`, so it can never reach outside the folder.
pub(crate) fn saved_path(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(Error::Config {
            key: "baseline name".into(),
            value: name.into(),
            reason: "a baseline name is letters, digits, `.`, `_` and `-` (such as main or v1.2), or the path of an existing results file".into(),
        });
    }
    Ok(dir.join(format!("{name}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("benchscope-baseline-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn saved_baselines_are_files_found_by_name() {
        let dir = dir("saved");
        let bench = BenchResult::from_samples("x", vec![1.0, 2.0, 3.0]).unwrap();
        let run = SuiteRun::new("c0ffee", "main", vec![bench]);
        let path = Baseline::save(&run, "main", &dir).unwrap();
        assert_eq!(path, dir.join("main.json"));
        let back = Baseline::resolve("main", &dir).unwrap();
        assert_eq!(back.version, "main");
        assert_eq!(back.run.benchmarks.len(), 1);
        let by_file = Baseline::resolve(path.to_str().unwrap(), &dir).unwrap();
        assert_eq!(by_file.version, "c0ffee");
        assert_eq!(saved_names(&dir).unwrap(), ["main"]);
        let missing = Baseline::resolve("other", &dir).unwrap_err().to_string();
        assert!(
            missing.contains("saved baselines") && missing.contains("main"),
            "{missing}"
        );
    }

    #[test]
    fn a_name_cannot_reach_outside_the_folder() {
        let dir = dir("names");
        for bad in ["../x", "a/b", "", ".hidden", "x y"] {
            let err = saved_path(&dir, bad).unwrap_err().to_string();
            assert!(err.contains("baseline name"), "{bad}: {err}");
        }
        assert!(saved_path(&dir, "v1.2-rc_3").is_ok());
    }
}
