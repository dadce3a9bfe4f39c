//! `benchscope compare --paired` side by side with tango-bench, on a busy
//! machine: the same three routines (benches/support/paired_routines.rs:
//! arithmetic, a memory-bound walk, allocation) built once under each
//! harness, the candidate the same executable copied under a name that
//! makes it do 1 %, 2 % or 5 % more work (`cand-x1.01`), or nothing more
//! (A/A). One thread of this process spins on the other core throughout
//! (unless `PAIRED_QUIET` is set).
//!
//! For each routine and each injected change it runs each tool's
//! comparison of base against candidate, turning round which tool goes
//! first, and prints: how often each found a significant change (a false
//! alarm in A/A, a detection otherwise, a slowdown of the right sign),
//! benchscope's verdict past its 1 % floor, and the wall time each took.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench paired_gate                       # 20 A/A, 10 per change
//! PAIRED_AA=100 PAIRED_INJECTED=10 cargo bench -p benchscope-benches --bench paired_gate
//! cargo bench -p benchscope-benches --bench paired_gate -- memory             # one routine
//! PAIRED_TOOLS=tango PAIRED_TANGO_ARGS="-t 1 -o" cargo bench ...              # tango alone, its options
//! PAIRED_TOOLS=paired,rounds cargo bench ...                                 # against compare's rounds
//! PAIRED_QUIET=1 cargo bench ...                                              # no spinning thread
//! ```
//!
//! tango-bench runs as its README says (`EXE compare OTHER`), with `-t 1`
//! (one second per benchmark, its "1 second, 1 percent" claim) unless
//! `PAIRED_TANGO_ARGS` gives its options; benchscope with its defaults
//! (`--budget 11s`, stopping sooner when it can decide), or its rounds
//! (`compare` without `--paired`: 10 rounds of `--quick` processes).
//! `PAIRED_TOOLS` (of `paired`, `rounds`, `tango`; default
//! `paired,tango`) picks who runs, and which goes first turns round.
//! None is built by the test command: the scratch crates live under
//! target/paired-gate with a workspace of their own.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::repo_root;

const ROUTINES: &[&str] = &["compute", "memory", "alloc"];
const CHANGES: &[f64] = &[1.0, 1.01, 1.02, 1.05];

/// Writes a scratch crate at `dir` with `manifest_deps` and one bench
/// target, `routines`, of `source`.
fn scratch_crate(dir: &Path, deps: &str, source: &str) {
    std::fs::create_dir_all(dir.join("benches")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dev-dependencies]\n{deps}\n[[bench]]\nname = \"routines\"\nharness = false\n",
            dir.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("benches/routines.rs"), source).unwrap();
}

/// Builds the scratch crate's bench target; its executable.
fn build(dir: &Path, target: &Path) -> PathBuf {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "bench",
            "--no-run",
            "--message-format",
            "json",
            "--bench",
            "routines",
        ])
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "routines")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("an executable")
}

/// `exe` copied as `base` and as `cand-xF` for every change, in `dir`.
fn copies(exe: &Path, dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut out = vec![dir.join("base")];
    std::fs::copy(exe, &out[0]).unwrap();
    for change in CHANGES {
        let path = dir.join(format!("cand-x{change}"));
        std::fs::copy(exe, &path).unwrap();
        out.push(path);
    }
    out
}

/// One comparison's outcome.
struct Outcome {
    /// The change estimated, candidate over baseline minus one.
    change: f64,
    /// Significant at the tool's own level.
    significant: bool,
    /// benchscope only: its verdict counted the change (past its floor).
    counted: bool,
    took: Duration,
}

fn benchscope_compare(
    tool: &Path,
    base: &Path,
    cand: &Path,
    routine: &str,
    paired: bool,
) -> Outcome {
    let start = Instant::now();
    let out = Command::new(tool)
        .current_dir(base.parent().unwrap())
        .arg("compare")
        .args(paired.then_some("--paired"))
        .args(["--output", "json", "--filter"])
        .arg(format!("paired/{routine}"))
        .arg("--baseline-exe")
        .arg(base)
        .arg("--candidate-exe")
        .arg(cand)
        .env("BENCHSCOPE_EXPORTERS", "none")
        .output()
        .expect("run benchscope compare");
    let took = start.elapsed();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "benchscope compare gave no JSON:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let row = &json["benchmarks"][0];
    let paired = &row["paired"];
    Outcome {
        change: paired["ratio"].as_f64().unwrap_or(f64::NAN) - 1.0,
        significant: paired["p_value"].as_f64().unwrap_or(1.0)
            < paired["alpha"].as_f64().unwrap_or(0.0),
        counted: row["verdict"]
            .as_str()
            .is_some_and(|v| v.contains("REGRESS") || v.contains("improved")),
        took,
    }
}

/// `text` without its terminal escape sequences (`ESC [ ... letter`).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn tango_compare(base: &Path, cand: &Path, routine: &str, options: &[String]) -> Outcome {
    let start = Instant::now();
    // The executable run is tango's candidate, the one named its baseline.
    let out = Command::new(cand)
        .current_dir(base.parent().unwrap())
        .arg("compare")
        .arg(base)
        .args(options)
        .arg("-f")
        .arg(routine)
        .output()
        .expect("run tango");
    let took = start.elapsed();
    let text = plain(&String::from_utf8_lossy(&out.stdout));
    // `routine   [ 375.5 ns ... 369.0 ns ]   -1.58%*`
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(routine) && l.contains('%'))
        .unwrap_or_else(|| {
            panic!(
                "tango printed no result for {routine}:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let last = line.split_whitespace().last().unwrap_or_default();
    let pct: f64 = last
        .trim_end_matches('*')
        .trim_end_matches('%')
        .parse()
        .unwrap_or(f64::NAN);
    Outcome {
        change: pct / 100.0,
        significant: last.ends_with('*'),
        counted: false,
        took,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// `benchscope compare --paired`.
    Paired,
    /// `benchscope compare`, its alternating rounds.
    Rounds,
    /// tango-bench's `compare`.
    Tango,
}

/// A cell of the table: how often the tool found the change (a false
/// alarm in A/A: significant either way; otherwise a significant
/// slowdown), benchscope's verdicts past its floor, the median estimate
/// and the mean wall time.
fn describe(o: &[Outcome], change: f64, with_verdict: bool) -> String {
    let found = o
        .iter()
        .filter(|o| o.significant && (change == 1.0 || o.change > 0.0))
        .count();
    let counted = o.iter().filter(|o| o.counted).count();
    let mut changes: Vec<f64> = o.iter().map(|o| o.change * 100.0).collect();
    changes.sort_by(f64::total_cmp);
    let took: f64 = o.iter().map(|o| o.took.as_secs_f64()).sum::<f64>() / o.len().max(1) as f64;
    format!(
        "{found:>3}/{}{} med {:+.2}% {took:>5.1} s",
        o.len(),
        if with_verdict {
            format!(" ({counted} past floor)")
        } else {
            String::new()
        },
        changes.get(changes.len() / 2).copied().unwrap_or(f64::NAN)
    )
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let count = |var: &str, default: usize| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (aa, injected) = (count("PAIRED_AA", 20), count("PAIRED_INJECTED", 10));
    let tools: Vec<Tool> = std::env::var("PAIRED_TOOLS")
        .unwrap_or_else(|_| "paired,tango".into())
        .split(',')
        .map(|t| match t.trim() {
            "paired" => Tool::Paired,
            "rounds" => Tool::Rounds,
            "tango" => Tool::Tango,
            other => panic!("PAIRED_TOOLS: {other:?} is not one of paired, rounds, tango"),
        })
        .collect();
    let tango_options: Vec<String> = std::env::var("PAIRED_TANGO_ARGS")
        .unwrap_or_else(|_| "-t 1".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let root = repo_root();
    let scratch = root.join("target/paired-gate");
    let routines = root.join("benches/support/paired_routines.rs");
    let include = format!("include!({:?});\n", routines);
    scratch_crate(
        &scratch.join("bs"),
        &format!("benchscope = {{ path = {:?} }}\n", root.join("sdk")),
        &format!(
            "{include}\n#[benchscope::monitored_bench(group = \"paired\", name = \"compute\")]\nfn compute_b() -> u64 {{ compute() }}\n#[benchscope::monitored_bench(group = \"paired\", name = \"memory\")]\nfn memory_b() -> u64 {{ memory() }}\n#[benchscope::monitored_bench(group = \"paired\", name = \"alloc\")]\nfn alloc_b() -> usize {{ alloc() }}\nbenchscope::main!();\n"
        ),
    );
    scratch_crate(
        &scratch.join("tg"),
        "tango-bench = \"0.9\"\n",
        &format!(
            "{include}\nuse tango_bench::{{benchmark_fn, tango_benchmarks, tango_main, IntoBenchmarks}};\nfn all() -> impl IntoBenchmarks {{\n    [\n        benchmark_fn(\"compute\", |b| b.iter(compute)),\n        benchmark_fn(\"memory\", |b| b.iter(memory)),\n        benchmark_fn(\"alloc\", |b| b.iter(alloc)),\n    ]\n}}\ntango_benchmarks!(all());\ntango_main!();\n"
        ),
    );
    eprintln!("building the benchscope command and both targets");
    let tool = benchscope_benches::release_tool();
    let target = scratch.join("target");
    let ours = copies(
        &build(&scratch.join("bs"), &target),
        &scratch.join("bin-bs"),
    );
    let theirs = copies(
        &build(&scratch.join("tg"), &target),
        &scratch.join("bin-tg"),
    );

    // One busy process on the other core, unless asked for a quiet machine.
    let quiet = std::env::var_os("PAIRED_QUIET").is_some();
    let stop = Arc::new(AtomicBool::new(quiet));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };

    println!(
        "\npaired comparisons on {}: {aa} A/A, {injected} per injected change",
        if quiet {
            "a quiet machine (PAIRED_QUIET)"
        } else {
            "a busy machine (one spinning thread beside them)"
        }
    );
    let mut heading = format!("  {:<8} {:>7} {:>3}", "routine", "change", "n");
    for tool in &tools {
        let name = match tool {
            Tool::Paired => "benchscope compare --paired".to_owned(),
            Tool::Rounds => "benchscope compare (rounds)".to_owned(),
            Tool::Tango => format!("tango-bench {}", tango_options.join(" ")),
        };
        heading.push_str(&format!("  {name:<34}"));
    }
    println!("{heading}");
    for routine in ROUTINES {
        if !only.is_empty() && !only.iter().any(|o| o == routine) {
            continue;
        }
        for (c, change) in CHANGES.iter().enumerate() {
            let n = if *change == 1.0 { aa } else { injected };
            let mut outcomes: Vec<Vec<Outcome>> = tools.iter().map(|_| Vec::new()).collect();
            for i in 0..n {
                // Which tool goes first turns round.
                for k in 0..tools.len() {
                    let t = (i + k) % tools.len();
                    outcomes[t].push(match tools[t] {
                        Tool::Paired => {
                            benchscope_compare(&tool, &ours[0], &ours[c + 1], routine, true)
                        }
                        Tool::Rounds => {
                            benchscope_compare(&tool, &ours[0], &ours[c + 1], routine, false)
                        }
                        Tool::Tango => {
                            tango_compare(&theirs[0], &theirs[c + 1], routine, &tango_options)
                        }
                    });
                }
            }
            let mut line = format!("  {routine:<8} {:>+6.0}% {n:>3}", (change - 1.0) * 100.0);
            for (tool, o) in tools.iter().zip(&outcomes) {
                line.push_str(&format!(
                    "  {:<34}",
                    describe(o, *change, *tool != Tool::Tango)
                ));
            }
            println!("{line}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = busy.join();
}
