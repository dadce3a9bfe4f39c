//! What the benches that set benchscope beside criterion in one process
//! share (`accuracy`, `async_parity`): benchscope's settings matched to
//! criterion's, and criterion's mean estimate read back from its files.

use std::path::Path;
use std::time::Duration;

use benchscope::config::{Config, MeasurementConfig};

/// A configuration that exports nothing and keeps no history, and
/// measurement settings of 100 samples after `warmup`, aiming at `measure`.
pub fn quiet_suite(warmup: Duration, measure: Duration) -> (Config, MeasurementConfig) {
    let mut config = Config::default();
    config.exporters.clear();
    config.history.enabled = false;
    let mut measurement = MeasurementConfig::default();
    measurement.samples = 100;
    measurement.warmup = warmup;
    measurement.min_time = measure;
    measurement.max_time = measure * 4;
    (config, measurement)
}

/// A criterion with settings matched to [`quiet_suite`]'s, writing into
/// `dir`.
pub fn matched_criterion(warmup: Duration, measure: Duration, dir: &Path) -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(100)
        .warm_up_time(warmup)
        .measurement_time(measure)
        .without_plots()
        .output_directory(dir)
}

/// criterion's mean estimate of benchmark `id`, in nanoseconds, from the
/// output directory `dir`.
pub fn criterion_mean_ns(dir: &Path, id: &str) -> f64 {
    let path = dir.join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("criterion wrote no estimates at {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("estimates.json parses");
    json["mean"]["point_estimate"]
        .as_f64()
        .expect("mean.point_estimate")
}
