//! Each benchmark's last result kept where criterion keeps its estimates,
//! in criterion's layout, so that a rerun says how it changed (criterion's
//! `change:` line) with or without a history, and tools that read
//! criterion's files (critcmp) read benchscope's:
//!
//! ```text
//! TARGET/criterion/<benchmark>/new/benchmark.json   the id, as criterion writes it
//!                               new/estimates.json  mean, median, std dev, MAD with intervals
//!                               new/sample.json     iterations and times of each sample
//!                               new/benchscope.json the whole result, which the next run compares with
//!                               base/...            the same, of the run before
//! ```
//!
//! TARGET is `CARGO_TARGET_DIR`, else the target folder this executable was
//! built into (`target/release/deps/NAME` under cargo), else `target`. An
//! unoptimized build (debug assertions on: `cargo test`, `cargo run`
//! without `--release`) keeps its results in `TARGET/criterion-debug`
//! instead, so that a release run is never compared with a debug run's
//! figures, nor the other way round.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::results::BenchResult;

/// The folder of this build's files under the target folder: criterion's
/// own for an optimized build.
const FOLDER: &str = if cfg!(debug_assertions) {
    "criterion-debug"
} else {
    "criterion"
};

/// The folder criterion's files go under.
pub(crate) fn criterion_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(FOLDER);
    }
    let built_in = std::env::current_exe().ok().and_then(|exe| {
        // target/<profile>/deps/<exe> (a bench target) or
        // target/<profile>/examples/<exe>.
        let profile_dir = exe.parent()?.parent()?;
        let target = profile_dir.parent()?;
        target
            .join("CACHEDIR.TAG")
            .is_file()
            .then(|| target.to_owned())
    });
    built_in
        .unwrap_or_else(|| PathBuf::from("target"))
        .join(FOLDER)
}

/// A benchmark's folder: its name, `/` kept as criterion keeps the parts
/// of an id, anything a file name cannot hold replaced by `_`.
fn folder(root: &Path, name: &str) -> PathBuf {
    let mut dir = root.to_owned();
    for part in name.split('/') {
        let part: String = part
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '=' | ',') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.push(match part.trim_matches('.') {
            "" => "_",
            _ => &part,
        });
    }
    dir
}

/// The result the run before kept for `name`, if any (and readable).
pub(crate) fn previous(root: &Path, name: &str) -> Option<BenchResult> {
    let path = folder(root, name).join("base/benchscope.json");
    let text = crate::files::read_text_bounded(&path, crate::results::MAX_RESULTS).ok()?;
    let result: BenchResult = serde_json::from_str(&text).ok()?;
    (result.name == name && result.check().is_ok()).then_some(result)
}

/// Keeps `result` as this run's (`new/`) and as the one the next run
/// compares with (`base/`).
pub(crate) fn keep(root: &Path, result: &BenchResult) -> std::io::Result<()> {
    keep_as(root, result, &["new", "base"])
}

/// Keeps `result` under each of `sides`: `new` and `base`, or the name of
/// a saved baseline (`--save-baseline NAME`, so that critcmp compares
/// baselines by name, as it does criterion's).
pub(crate) fn keep_as(root: &Path, result: &BenchResult, sides: &[&str]) -> std::io::Result<()> {
    let dir = folder(root, &result.name);
    let s = &result.stats;
    let estimate = |point: f64, lower: f64, upper: f64, error: f64| {
        json!({
            "confidence_interval": {
                "confidence_level": 0.95,
                "lower_bound": lower,
                "upper_bound": upper,
            },
            "point_estimate": point,
            "standard_error": error,
        })
    };
    let error = s.std_dev / (s.samples.max(1) as f64).sqrt();
    let estimates = json!({
        "mean": estimate(s.mean, s.ci_lower, s.ci_upper, error),
        "median": estimate(s.p50, s.p50, s.p50, 0.0),
        "median_abs_dev": estimate(s.mad, s.mad, s.mad, 0.0),
        "slope": null,
        "std_dev": estimate(s.std_dev, s.std_dev, s.std_dev, 0.0),
    });
    let mut parts = result.name.splitn(3, '/');
    let group = parts.next().unwrap_or_default();
    let function = parts.next();
    let value = parts.next();
    let throughput = result.throughput.as_ref().map(|t| match t.unit.as_str() {
        "bytes" => json!({ "Bytes": t.per_iteration }),
        "bits" => json!({ "Bits": t.per_iteration }),
        _ => json!({ "Elements": t.per_iteration }),
    });
    let benchmark = json!({
        "group_id": group,
        "function_id": function,
        "value_str": value,
        "throughput": throughput,
        "full_id": result.name,
        "directory_name": dir.strip_prefix(root).unwrap_or(&dir).to_string_lossy(),
        "title": result.name,
    });
    let batch = result.batch.max(1) as f64;
    let sample = json!({
        "sampling_mode": "Flat",
        "iters": result.samples_ns.iter().map(|_| batch).collect::<Vec<_>>(),
        "times": result.samples_ns.iter().map(|ns| ns * batch).collect::<Vec<_>>(),
    });
    let files = [
        ("benchmark.json", benchmark),
        ("estimates.json", estimates),
        ("sample.json", sample),
        (
            "benchscope.json",
            serde_json::to_value(result).map_err(std::io::Error::other)?,
        ),
    ];
    for side in sides {
        let side_dir = folder(&dir, &side.replace('/', "_"));
        std::fs::create_dir_all(&side_dir)?;
        for (file, value) in &files {
            crate::files::write_whole(&side_dir.join(file), value.to_string().as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_kept_and_read_back_as_the_previous_run() {
        let root = std::env::temp_dir().join(format!("benchscope-last-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let result = BenchResult::from_samples("sum/fold/64", vec![10.0, 12.0, 11.0]).unwrap();
        assert!(previous(&root, "sum/fold/64").is_none());
        keep(&root, &result).unwrap();
        let back = previous(&root, "sum/fold/64").unwrap();
        assert_eq!(back.stats, result.stats);
        let dir = root.join("sum/fold/64");
        let estimates: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("new/estimates.json")).unwrap())
                .unwrap();
        assert_eq!(estimates["mean"]["point_estimate"], 11.0);
        let benchmark: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("base/benchmark.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(benchmark["group_id"], "sum");
        assert_eq!(benchmark["value_str"], "64");
        keep_as(&root, &result, &["main"]).unwrap();
        assert!(dir.join("main/estimates.json").is_file());
        // Names that are no file names stay inside the folder.
        assert_eq!(
            folder(&root, "../a:b/.."),
            root.join("_").join("a_b").join("_")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
