//! The HTML report of `benchscope analyze`, opened in real headless
//! Chromium: the DOM Chromium builds holds every plot, with one marker per
//! run; a screenshot is kept in `target/test-artifacts/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use benchscope::History;
use benchscope::{BenchResult, SuiteRun};

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} is missing: run the tests with scripts/test.sh, which installs Debian's chromium",
        path.display()
    );
    path
}

fn run(i: usize, mean: f64) -> SuiteRun {
    let benchmarks = ["parse", "sort"]
        .iter()
        .map(|name| {
            let samples: Vec<f64> = (0..40)
                .map(|s| mean * (1.0 + (s % 7) as f64 * 0.003))
                .collect();
            BenchResult::from_samples(*name, samples).unwrap()
        })
        .collect();
    let mut run = SuiteRun::new(&format!("commit{i:02}"), "main", benchmarks);
    run.started_at = i as f64;
    run
}

fn chromium_command(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_report_opens_in_chromium_with_its_plots() {
    let dir = std::env::temp_dir().join(format!("benchscope-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.db");
    const RUNS: usize = 8;
    {
        let mut history = History::open(&db).unwrap();
        for i in 0..RUNS {
            // A 30 % step at run 5.
            let run = run(i, if i < 5 { 1000.0 } else { 1300.0 });
            history.record(&run).unwrap();
            if i == 0 {
                benchscope::Baseline::save(&run, "main", &dir.join("baselines")).unwrap();
            }
        }
    }
    let out_dir = dir.join("report");
    let out = Command::new(common::benchscope_binary())
        .env("BENCHSCOPE_EXPORTERS", "none")
        .env("BENCHSCOPE_BASELINE_DIR", dir.join("baselines"))
        .args(["analyze", "--baseline", "main", "--history"])
        .arg(&db)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("commit05 +30.0%"),
        "the step and its commit: {stdout}"
    );
    let report = out_dir.join("index.html");
    assert!(stdout.contains(&report.display().to_string()));

    let url = format!("file://{}", report.display());
    let dom = chromium_command(&dir.join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        2 * 3,
        "three plots per benchmark"
    );
    // Trend and speedup plots: a marker per run; the distribution: bars.
    assert_eq!(dom.matches("<circle").count(), 2 * 2 * RUNS, "markers");
    assert!(dom.matches("<rect").count() >= 2 * 60, "histogram bars");
    assert!(dom.contains("<polyline") || dom.contains("<path"), "lines");
    assert!(dom.contains("parse: mean per run, 95 % CI"));

    let artifacts = common::repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("analyze-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium_command(&dir.join("profile-shot"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1000,1400")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
