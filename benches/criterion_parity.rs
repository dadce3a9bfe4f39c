//! Published crates' own criterion benchmarks (tests/common/real_crates.rs:
//! httpdate, semver, itoa, httparse), measured on this machine by criterion
//! (the package as published) and by benchscope-criterion (the same package
//! with its criterion dependency line changed), side by side in alternating
//! rounds, each benchmark measured alone by each side in turn (the built
//! binaries run directly, so that the machine's drift falls on both); prints
//! the median ratio of the two means for every benchmark. Target: within
//! 0.95–1.05.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench criterion_parity            # every crate, 3 rounds
//! cargo bench -p benchscope-benches --bench criterion_parity -- itoa    # one crate
//! cargo bench -p benchscope-benches --bench criterion_parity -- base64:encode_small   # some of its benchmarks
//! PARITY_ROUNDS=4 cargo bench -p benchscope-benches --bench criterion_parity
//! ```
//!
//! Both sides warm up for 0.5 s (1 s for criterion 0.3, which takes whole
//! seconds) and measure 100 samples over 1 s (criterion told so on its
//! command line, benchscope by a configuration file), unless the bench file
//! sets its own times (httparse, base64), which both then follow.
//!
//! On a shared virtual machine the same binary's means move between runs by
//! more than the target band, so each table also shows criterion's own
//! rounds against their mean: a ratio outside the band by no more than that
//! spread is the machine, not the harness.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::real_crates::{CRATES, Crate, Flavour, PARITY_ONLY, cargo_bench, prepare, sources_of};
use common::repo_root;

fn run(mut cmd: Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds the bench target of the copy in `dir` and returns its executable.
fn build(krate: Crate, dir: &Path) -> PathBuf {
    let mut cmd = cargo_bench(krate, dir, &[]);
    cmd.args(["--no-run", "--message-format", "json"]);
    let out = run(cmd, &format!("building {}", krate.name));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == krate.bench && m["target"]["kind"][0] == "bench")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("{}: no bench executable", krate.name))
}

/// criterion's filter is a regular expression: `id`, and nothing else.
fn exactly(id: &str) -> String {
    let mut pattern = String::from("^");
    for c in id.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('$');
    pattern
}

/// criterion's mean of benchmark `id`, measured alone by `exe`.
fn criterion_mean(krate: Crate, exe: &Path, id: &str, home: &Path) -> f64 {
    let _ = std::fs::remove_dir_all(home);
    let mut cmd = Command::new(exe);
    cmd.env("CRITERION_HOME", home)
        .args(["--bench", "--noplot"])
        .arg(exactly(id));
    if !krate.own_times {
        cmd.args(["--warm-up-time", warmup(krate), "--measurement-time", "1"]);
    }
    run(cmd, &format!("criterion on {id}"));
    let mut means = BTreeMap::new();
    criterion_means(home, &mut means);
    *means
        .get(id)
        .unwrap_or_else(|| panic!("criterion wrote no estimate for {id}"))
}

/// The warm-up both sides are given, in seconds: half a second, or one
/// where criterion 0.3 takes whole seconds only.
fn warmup(krate: Crate) -> &'static str {
    if krate.whole_seconds { "1" } else { "0.5" }
}

/// benchscope-criterion's mean of benchmark `id`, measured alone by `exe`.
fn benchscope_mean(krate: Crate, exe: &Path, id: &str, scratch: &Path) -> f64 {
    let json = scratch.join("parity.json");
    let config = scratch.join("parity.toml");
    std::fs::write(
        &config,
        format!(
            "[measurement]\nwarmup = \"{}s\"\nmin_time = \"1s\"\nmax_time = \"4s\"\n",
            warmup(krate)
        ),
    )
    .unwrap();
    let mut cmd = Command::new(exe);
    cmd.current_dir(scratch)
        .args([
            "--bench",
            "--exact",
            id,
            "--no-history",
            "--exporters",
            "none",
        ])
        .args(["--config", config.to_str().unwrap()])
        .args(["--output", "json", json.to_str().unwrap()]);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") {
            cmd.env_remove(key);
        }
    }
    run(cmd, &format!("benchscope-criterion on {id}"));
    let run: benchscope::SuiteRun =
        serde_json::from_slice(&std::fs::read(&json).expect("results written")).unwrap();
    run.get(id)
        .unwrap_or_else(|| panic!("benchscope measured no {id}"))
        .stats
        .mean
}

/// criterion's mean estimate of every benchmark it wrote under `dir`, by id.
fn criterion_means(dir: &Path, out: &mut BTreeMap<String, f64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let read = |file: &str| -> Option<serde_json::Value> {
                serde_json::from_str(&std::fs::read_to_string(path.join(file)).ok()?).ok()
            };
            if let (Some(bench), Some(estimates)) = (read("benchmark.json"), read("estimates.json"))
                && let (Some(id), Some(mean)) = (
                    bench["full_id"].as_str(),
                    estimates["mean"]["point_estimate"].as_f64(),
                )
            {
                out.insert(id.to_owned(), mean);
            }
        } else {
            criterion_means(&path, out);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = std::env::var("PARITY_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let scratch = repo_root().join("target/real-crates/parity");
    std::fs::create_dir_all(&scratch).unwrap();
    let home = scratch.join("criterion");
    let mut all: Vec<f64> = Vec::new();
    let mut own_spreads: Vec<f64> = Vec::new();
    let crates: Vec<Crate> = CRATES.iter().chain(PARITY_ONLY).copied().collect();
    for (krate, source) in sources_of(&crates) {
        // `CRATE` or `CRATE:TEXT` (the benchmarks whose id contains TEXT).
        let wanted: Vec<&str> = only
            .iter()
            .filter_map(|o| match o.split_once(':') {
                Some((name, text)) => (name == krate.name).then_some(text),
                None => (o == krate.name).then_some(""),
            })
            .collect();
        if !only.is_empty() && wanted.is_empty() {
            continue;
        }
        let theirs = build(krate, &prepare(krate, &source, Flavour::Criterion));
        let ours = build(krate, &prepare(krate, &source, Flavour::Benchscope));
        let listed = run(
            {
                let mut cmd = Command::new(&ours);
                cmd.arg("--list");
                cmd
            },
            "listing",
        );
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(": benchmark"))
            .filter(|id| wanted.is_empty() || wanted.iter().any(|w| id.contains(w)))
            .map(str::to_owned)
            .collect();
        println!(
            "\n{} {}: {} benchmarks, each measured alone by criterion and by benchscope, {rounds} rounds, who goes first alternating",
            krate.name,
            krate.version,
            ids.len()
        );
        println!(
            "  {:<32} {:>12} {:>12} {:>7}  criterion's rounds / their median",
            "benchmark", "criterion", "benchscope", "ratio"
        );
        for (i, id) in ids.iter().enumerate() {
            eprintln!("{}: {id}", krate.name);
            let (mut c, mut b) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                if (round + i) % 2 == 0 {
                    c.push(criterion_mean(krate, &theirs, id, &home));
                    b.push(benchscope_mean(krate, &ours, id, &scratch));
                } else {
                    b.push(benchscope_mean(krate, &ours, id, &scratch));
                    c.push(criterion_mean(krate, &theirs, id, &home));
                }
            }
            let ratio = median(b.iter().zip(&c).map(|(b, c)| b / c).collect());
            let cm = median(c.clone());
            let spread: Vec<f64> = c.iter().map(|x| x / cm).collect();
            own_spreads.extend(spread.iter().map(|s| (s - 1.0).abs()));
            all.push(ratio);
            println!(
                "  {id:<32} {cm:>9.1} ns {:>9.1} ns {ratio:>7.4}  {}{}",
                median(b.clone()),
                spread
                    .iter()
                    .map(|x| format!("{x:.3}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                if (0.95..=1.05).contains(&ratio) {
                    ""
                } else {
                    "  outside 0.95-1.05"
                }
            );
        }
    }
    let within = all.iter().filter(|r| (0.95..=1.05).contains(*r)).count();
    let n = all.len();
    own_spreads.sort_by(f64::total_cmp);
    if n > 0 {
        println!(
            "\n{within} of {n} benchmarks within 0.95-1.05; median ratio {:.4}, range {:.4}-{:.4}; criterion's own rounds differ from their median by {:.1} % at the median, {:.1} % at the 90th percentile",
            median(all.clone()),
            all.iter().copied().fold(f64::INFINITY, f64::min),
            all.iter().copied().fold(0.0, f64::max),
            own_spreads[own_spreads.len() / 2] * 100.0,
            own_spreads[own_spreads.len() * 9 / 10] * 100.0,
        );
    }
}
