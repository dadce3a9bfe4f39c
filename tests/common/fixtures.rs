//! Runs and settings made up for the tests: crafted suite runs, faster
//! baselines, test-sized measurement settings, registered benchmarks.

/// A baseline `factor` times as fast as `run`: a later run of the same code
/// is then a critical regression against it (for a large enough factor), so
/// every baseline metric is recorded.
pub fn faster_baseline(run: &benchscope::SuiteRun, factor: f64) -> benchscope::Baseline {
    benchscope::Baseline {
        version: "base123".into(),
        run: faster_run(run, factor),
    }
}

/// `run` as if every sample had been `factor` times as fast, at commit
/// `base123`: written with `write_json`, a baseline file for `--baseline`.
pub fn faster_run(run: &benchscope::SuiteRun, factor: f64) -> benchscope::SuiteRun {
    let mut base = run.clone();
    base.commit = "base123".into();
    for b in &mut base.benchmarks {
        b.samples_ns.iter_mut().for_each(|s| *s /= factor);
        b.stats = benchscope::Stats::from_samples(&b.samples_ns).unwrap();
    }
    base
}

/// Test-sized measurement settings: a benchmark takes tens of milliseconds.
pub fn tiny_measurement() -> benchscope::config::MeasurementConfig {
    let mut m = benchscope::config::MeasurementConfig::default();
    m.samples = 10;
    m.warmup = std::time::Duration::from_millis(20);
    m.min_time = std::time::Duration::from_millis(50);
    m.max_time = std::time::Duration::from_secs(1);
    m
}

/// The registered benchmarks whose full names are in `names`, in that order.
pub fn selected(names: &[&str]) -> Vec<&'static benchscope::Benchmark> {
    let all = benchscope::benchmarks().expect("benchmarks register");
    names
        .iter()
        .map(|n| {
            *all.iter()
                .find(|b| b.full_name() == *n)
                .unwrap_or_else(|| panic!("no benchmark named {n}"))
        })
        .collect()
}

/// A run of `commit` on main whose benchmarks have these means, each from
/// 40 samples spread by about 1 %.
pub fn run_with(commit: &str, means: &[(&str, f64)]) -> benchscope::SuiteRun {
    let benchmarks = means
        .iter()
        .map(|(name, mean)| {
            let samples: Vec<f64> = (0..40)
                .map(|i| mean * (1.0 + (i % 5) as f64 * 0.002))
                .collect();
            benchscope::BenchResult::from_samples(*name, samples).unwrap()
        })
        .collect();
    benchscope::SuiteRun::new(commit, "main", benchmarks)
}
