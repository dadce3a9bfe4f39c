//! The gate's verdicts on a shared runner, driven as CI drives them: each
//! run is a separate process of `benches/gate_target.rs` (`--quick
//! --measure instructions`: its four benchmarks timed, and counted under
//! Callgrind), each verdict a separate `benchscope guard`, with one busy
//! process spinning on another core the whole time, baseline included.
//! Three detectors read the same runs: the samples alone
//! (`--samples-only`, the gate before the history was weighed), the default
//! gate (the samples weighed with the noise between runs from the history),
//! and the instruction counts (0.5 % threshold).
//!
//! 1. One run saved as the baseline; five more seed the history.
//! 2. 30 A/A runs of the same binary: false alarms of each detector, and
//!    the spread of the instruction counts across the 30 (target 0).
//!    Target: at most 1 false alarm in 30 at the default gate.
//! 3. Runs with 1 % (30 runs), 3 % and 10 % (10 runs each) more work,
//!    recorded on another branch as a pull request's runs are: how often
//!    each detector catches it (target: the 1 % in 30 of 30 by the counts).
//!
//! ```text
//! cargo bench -p benchscope-benches --bench gate_noise      # about 10 minutes
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const AA_RUNS: usize = 30;
const SLOW_RUNS: usize = 10;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn build(args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .args(args)
        .current_dir(root())
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// A process spinning on a core until dropped.
struct Busy(Child);

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Bench {
    dir: PathBuf,
    target: PathBuf,
    tool: PathBuf,
}

/// What one detector said about one run: how many benchmarks it flagged.
#[derive(Debug, Clone, Copy, Default)]
struct Verdict {
    blocking: usize,
}

impl Verdict {
    fn failed(&self) -> bool {
        self.blocking > 0
    }
}

impl Bench {
    /// One run; returns each benchmark's instructions per iteration.
    fn run(&self, branch: &str, work: u32, extra: &[&str]) -> Vec<(String, f64)> {
        let json = self.dir.join("run.json");
        let out = Command::new(&self.target)
            .args(["--quick", "--exporters", "none", "--history", "history.db"])
            .args(["--measure", "instructions", "--output", "json"])
            .arg(&json)
            .args(extra)
            .env("BENCHSCOPE_BRANCH", branch)
            .env("BENCHSCOPE_COMMIT", format!("work{work}"))
            .env("GATE_WORK", work.to_string())
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .output()
            .expect("run the gate target");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = benchscope::SuiteRun::read_json(&json).expect("results");
        run.benchmarks
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    b.instructions.map_or(f64::NAN, |i| i.instructions),
                )
            })
            .collect()
    }

    /// The verdicts of the time detector (by default, or on the samples
    /// alone) and of the instruction counts, from one `guard`.
    fn guard(&self, samples_only: bool) -> (Verdict, Verdict) {
        let mut cmd = Command::new(&self.tool);
        cmd.args(["--history", "history.db", "guard", "--baseline", "aa"])
            .env("BENCHSCOPE_EXPORTERS", "none")
            .env_remove("GITHUB_STEP_SUMMARY")
            .current_dir(&self.dir);
        if samples_only {
            cmd.arg("--samples-only");
        }
        let out = cmd.output().expect("run benchscope guard");
        let text = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "guard: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        // A row's verdict cell starts with the time's verdict; the
        // instruction count's follows it ("..., REGRESSED (major))").
        let time = text
            .lines()
            .filter(|l| {
                (l.contains("  REGRESSED (major)") || l.contains("  REGRESSED (critical)"))
                    && !l.contains("the samples said")
            })
            .count();
        let counts = text.lines().filter(|l| l.contains(", REGRESSED (")).count();
        (Verdict { blocking: time }, Verdict { blocking: counts })
    }
}

fn tally(name: &str, verdicts: &[Verdict], comparisons: usize) {
    let failed = verdicts.iter().filter(|v| v.failed()).count();
    let blocking: usize = verdicts.iter().map(|v| v.blocking).sum();
    println!(
        "  {name:<38} gate failed {failed:>2}/{:<2}  benchmarks flagged {blocking:>3}/{comparisons}",
        verdicts.len()
    );
}

fn main() {
    build(&["-p", "benchscope-benches", "--example", "gate_target"]);
    build(&[
        "-p",
        "benchscope",
        "--features",
        "cli",
        "--bin",
        "benchscope",
    ]);
    let release = root().join("target/release");
    let dir = std::env::temp_dir().join(format!("benchscope-gate-noise-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let bench = Bench {
        dir: dir.clone(),
        target: release.join("examples/gate_target"),
        tool: release.join("benchscope"),
    };
    let _busy = Busy(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("start the busy process"),
    );
    eprintln!("baseline and 5 runs into the history");
    bench.run("main", 100, &["--save-baseline", "aa"]);
    for _ in 0..5 {
        bench.run("main", 100, &[]);
    }

    // Each scenario: (label, runs, work, verdicts of the samples alone, of
    // the default gate, of the counts).
    type Verdicts = (Vec<Verdict>, Vec<Verdict>, Vec<Verdict>);
    let mut scenarios: Vec<(String, usize, Verdicts)> = Vec::new();
    let mut counts: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (label, runs, work, branch) in [
        ("A/A (unchanged code)", AA_RUNS, 100, "main"),
        ("1 % more work", AA_RUNS, 101, "pr"),
        ("3 % more work", SLOW_RUNS, 103, "pr"),
        ("10 % more work", SLOW_RUNS, 110, "pr"),
    ] {
        let mut verdicts: Verdicts = Default::default();
        for i in 1..=runs {
            for (name, count) in bench.run(branch, work, &[]) {
                if work == 100 {
                    counts.entry(name).or_default().push(count);
                }
            }
            let (samples, counted) = bench.guard(true);
            let (default, _) = bench.guard(false);
            verdicts.0.push(samples);
            verdicts.1.push(default);
            verdicts.2.push(counted);
            eprintln!("{label}: run {i}/{runs}");
        }
        scenarios.push((label.to_owned(), runs, verdicts));
    }
    println!(
        "the gate on a shared runner: gate_target (4 benchmarks, --quick --measure instructions), one busy process beside it\n"
    );
    println!("instruction counts over the {AA_RUNS} A/A runs (per iteration):");
    for (name, values) in &counts {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "  {name:<24} {lo:>14.2} .. {hi:<14.2} spread {:.2}",
            hi - lo
        );
    }
    for (label, runs, (samples, default, counted)) in &scenarios {
        let what = if label.starts_with("A/A") {
            "false alarms"
        } else {
            "detections"
        };
        println!("\n{runs} runs, {label}: {what}");
        tally("samples alone (--samples-only)", samples, runs * 4);
        tally("default (samples + noise between runs)", default, runs * 4);
        tally("instruction counts (0.5 % threshold)", counted, runs * 4);
    }
    let false_alarms = scenarios[0].2.1.iter().filter(|v| v.failed()).count();
    println!(
        "\ntarget: at most 1 false alarm in {AA_RUNS} at the default gate: {}",
        if false_alarms <= 1 { "met" } else { "NOT met" }
    );
    let caught = scenarios[1].2.2.iter().filter(|v| v.failed()).count();
    println!(
        "target: 1 % more work caught by the counts in {AA_RUNS} of {AA_RUNS}: {}",
        if caught == AA_RUNS { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
