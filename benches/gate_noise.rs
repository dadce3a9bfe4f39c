//! The gate's verdicts on a shared runner, driven as CI drives them: each
//! run is a separate process of `benches/gate_target.rs` (`--quick`, its
//! four benchmarks), each verdict a separate `benchscope guard`, with one
//! busy process spinning on another core the whole time, baseline included.
//!
//! 1. One run saved as the baseline; five more seed the history.
//! 2. 30 A/A runs of the same binary: the gate after each, once by default
//!    (the samples weighed with the noise between runs, from the history)
//!    and once with `--samples-only` (the samples alone, as before).
//!    Target: at most 1 false regression in 30 at the default gate.
//! 3. 10 runs with 3 % more work and 10 with 10 % more (recorded on another
//!    branch, as a pull request's runs are): how often each gate fails.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench gate_noise      # about 5 minutes
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

/// One gate's verdict: whether it failed, and how many benchmarks blocked.
#[derive(Debug, Clone, Copy, Default)]
struct Verdict {
    failed: bool,
    blocking: usize,
}

impl Bench {
    fn run(&self, branch: &str, work: u32, extra: &[&str]) {
        let out = Command::new(&self.target)
            .args(["--quick", "--exporters", "none", "--history", "history.db"])
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
    }

    fn guard(&self, samples_only: bool) -> Verdict {
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
        Verdict {
            failed: code == Some(1),
            blocking: text
                .lines()
                .filter(|l| {
                    (l.contains("  REGRESSED (major)") || l.contains("  REGRESSED (critical)"))
                        && !l.contains("the samples said")
                })
                .count(),
        }
    }
}

fn tally(name: &str, verdicts: &[Verdict], comparisons: usize) {
    let failed = verdicts.iter().filter(|v| v.failed).count();
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
    let mut default = Vec::new();
    let mut samples_only = Vec::new();
    for i in 1..=AA_RUNS {
        bench.run("main", 100, &[]);
        default.push(bench.guard(false));
        samples_only.push(bench.guard(true));
        eprintln!("A/A run {i}/{AA_RUNS}");
    }
    let mut slow: Vec<(u32, Vec<Verdict>, Vec<Verdict>)> = Vec::new();
    for work in [103, 110] {
        let (mut d, mut s) = (Vec::new(), Vec::new());
        for i in 1..=SLOW_RUNS {
            bench.run("pr", work, &[]);
            d.push(bench.guard(false));
            s.push(bench.guard(true));
            eprintln!("{}% more work: run {i}/{SLOW_RUNS}", work - 100);
        }
        slow.push((work, d, s));
    }
    println!(
        "the gate on a shared runner: gate_target (4 benchmarks, --quick), one busy process beside it\n"
    );
    println!("{AA_RUNS} A/A runs (unchanged code), false alarms:");
    tally(
        "default (samples + noise between runs)",
        &default,
        AA_RUNS * 4,
    );
    tally("--samples-only (samples alone)", &samples_only, AA_RUNS * 4);
    for (work, d, s) in &slow {
        println!(
            "\n{SLOW_RUNS} runs with {}% more work, detections:",
            work - 100
        );
        tally("default (samples + noise between runs)", d, SLOW_RUNS * 4);
        tally("--samples-only (samples alone)", s, SLOW_RUNS * 4);
    }
    let false_alarms = default.iter().filter(|v| v.failed).count();
    println!(
        "\ntarget: at most 1 false alarm in {AA_RUNS} at the default gate: {}",
        if false_alarms <= 1 { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
