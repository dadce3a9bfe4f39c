//! Baselines: an earlier run that the current one is compared with.
//!
//! A baseline is a results file written by `--output json` (so CI can carry
//! it as an artifact); its version, used as the `baseline_version` label, is
//! the commit it measured.

use std::path::Path;

use crate::error::Error;
use crate::history::History;
use crate::regression::{Policy, compare};
use crate::results::{BaselineComparison, BenchResult, SuiteRun};

/// An earlier run to compare with.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The `baseline_version` label: the baseline's commit, or its file name
    /// when the commit is unknown.
    pub version: String,
    /// The run.
    pub run: SuiteRun,
}

impl Baseline {
    /// Loads a baseline from a results file.
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let run = SuiteRun::read_json(path)?;
        let version = if run.commit.is_empty() || run.commit == "unknown" {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "baseline".into())
        } else {
            run.commit.chars().take(12).collect()
        };
        Ok(Baseline { version, run })
    }

    /// Finds the baseline that `name` means: a results file if `name` is one,
    /// else the baseline saved under that name in `history`.
    pub fn resolve(name: &str, history: Option<&History>) -> Result<Baseline, Error> {
        let path = Path::new(name);
        if path.is_file() {
            return Baseline::load(path);
        }
        let Some(history) = history else {
            return Err(Error::NoBaseline {
                name: name.into(),
                hint: "it is not a file, and the history is off; pass a results file written by --output json".into(),
            });
        };
        match history.baseline(name)? {
            Some(id) => Ok(Baseline {
                version: name.into(),
                run: history.run(id)?,
            }),
            None => {
                let saved: Vec<String> = history.baselines()?.into_iter().map(|(n, _)| n).collect();
                Err(Error::NoBaseline {
                    name: name.into(),
                    hint: if saved.is_empty() {
                        format!(
                            "it is not a file, and {} has no saved baselines yet; save one with `cargo bench -- --save-baseline NAME`",
                            history.path().display()
                        )
                    } else {
                        format!("it is not a file; saved baselines: {}", saved.join(", "))
                    },
                })
            }
        }
    }

    /// The latest run of `branch` in `history`, other than run `except`.
    pub fn latest_of_branch(
        branch: &str,
        history: &History,
        except: Option<i64>,
    ) -> Result<Baseline, Error> {
        let id = history
            .runs(Some(branch))?
            .iter()
            .rev()
            .map(|r| r.id)
            .find(|id| Some(*id) != except)
            .ok_or_else(|| Error::NoBaseline {
                name: format!("latest run of branch {branch}"),
                hint: format!("{} has no run of branch {branch}", history.path().display()),
            })?;
        let run = history.run(id)?;
        Ok(Baseline {
            version: format!(
                "{branch}@{}",
                run.commit.chars().take(12).collect::<String>()
            ),
            run,
        })
    }

    /// Compares `current` with the same benchmark in the baseline; `None`
    /// when the baseline does not have it or either side has too few samples.
    pub fn compare(&self, current: &BenchResult, policy: &Policy) -> Option<BaselineComparison> {
        let base = self.run.get(&current.name)?;
        let comparison = compare(&base.samples_ns, &current.samples_ns, policy)?;
        let b = [base.stats.p50, base.stats.p95, base.stats.p99];
        let c = [current.stats.p50, current.stats.p95, current.stats.p99];
        Some(BaselineComparison {
            baseline_version: self.version.clone(),
            baseline_ns: b,
            speedup: [0, 1, 2].map(|i| if c[i] > 0.0 { b[i] / c[i] } else { f64::NAN }),
            comparison,
        })
    }
}
