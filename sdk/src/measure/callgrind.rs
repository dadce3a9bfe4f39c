//! Instruction counts: a benchmark's routine run under Valgrind's Callgrind
//! for a fixed number of iterations, counting only the timed routine.
//!
//! The bench target runs itself again under Callgrind, once per benchmark,
//! with `BENCHSCOPE_CALLGRIND_CHILD` naming the benchmark: the child runs
//! that routine once uncounted (warm-up: lazy initialisation, first-touch
//! pages), then its fixed iterations with counting on. Counting is
//! Callgrind's `--toggle-collect` on [`benchscope_counted_region`], which
//! every timing loop enters around the routine only (not around setup, the
//! clock or the harness) while counting is on; outside counting the loops
//! call the routine directly. The parent reads the totals of the child's
//! output file and divides by the iterations.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::Ended;
use std::sync::atomic::{AtomicBool, Ordering};

/// The variable that makes a bench target the Callgrind child of one
/// benchmark: its value is the benchmark's name.
pub const CHILD_VAR: &str = "BENCHSCOPE_CALLGRIND_CHILD";

/// The variable holding the child's iteration count.
pub const ITERATIONS_VAR: &str = "BENCHSCOPE_CALLGRIND_ITERATIONS";

static COUNTING: AtomicBool = AtomicBool::new(false);

/// Whether the timing loops are counting (the Callgrind child, after its
/// warm-up).
pub(crate) fn counting() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// Turns counting on or off.
pub(crate) fn set_counting(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

/// The function Callgrind's `--toggle-collect` names: instructions are
/// counted while it runs. Not API.
#[doc(hidden)]
#[inline(never)]
#[unsafe(no_mangle)]
pub fn benchscope_counted_region(routine: &mut dyn FnMut()) {
    routine();
}

thread_local! {
    /// Whether this thread is inside the counted region: Callgrind toggles
    /// collection at every entry and exit of the region's function, so a
    /// nested entry would switch it off.
    static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` inside the counted region when counting, directly otherwise
/// (and when already inside it).
#[inline(always)]
pub(crate) fn region<R>(f: impl FnOnce() -> R) -> R {
    if !counting() || INSIDE.with(std::cell::Cell::get) {
        return f();
    }
    INSIDE.with(|i| i.set(true));
    let out = enter(f);
    INSIDE.with(|i| i.set(false));
    out
}

fn enter<R>(f: impl FnOnce() -> R) -> R {
    let mut f = Some(f);
    let mut out = None;
    benchscope_counted_region(&mut || {
        if let Some(f) = f.take() {
            out = Some(f());
        }
    });
    match out {
        Some(out) => out,
        // The region runs its closure exactly once.
        None => unreachable!("the counted region did not run the routine"),
    }
}

/// What Callgrind counted per iteration of one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Instructions {
    /// Iterations counted.
    pub iterations: u64,
    /// Instructions executed per iteration.
    pub instructions: f64,
    /// First-level cache misses (instruction and data, reads and writes)
    /// per iteration, with cache simulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_misses: Option<f64>,
    /// Last-level cache misses per iteration, with cache simulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ll_misses: Option<f64>,
    /// Estimated cycles per iteration, with cache simulation:
    /// instructions + 10 × L1 misses + 100 × last-level misses (the
    /// weights of Callgrind's own cycle estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles: Option<f64>,
}

/// `valgrind` on the `PATH`; the error names the package to install.
#[cfg(feature = "harness")]
pub(crate) fn find_valgrind() -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("valgrind"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            "instruction counts need Valgrind's Callgrind, and `valgrind` is not on the PATH: install it (Debian and Ubuntu: `apt-get install valgrind`; Fedora: `dnf install valgrind`), or measure time (`--measure time`)"
                .into()
        })
}

/// How to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counting {
    /// The `valgrind` program.
    pub valgrind: PathBuf,
    /// Iterations counted per benchmark.
    pub iterations: u64,
    /// Simulate the caches (L1 and last-level misses, estimated cycles).
    pub cache_sim: bool,
    /// Where Callgrind's output files go.
    pub out_dir: PathBuf,
    /// Where each benchmark's flame graph goes (folded stacks, and an SVG
    /// with the `flamegraph` feature); none when `None`.
    pub flame_dir: Option<PathBuf>,
    /// How long one benchmark's Callgrind run may take: a run still going
    /// then is killed and its count fails.
    pub timeout: std::time::Duration,
}

impl Counting {
    /// Finds `valgrind` on the `PATH`; the error names the package.
    #[cfg(feature = "harness")]
    pub fn find(
        iterations: u64,
        cache_sim: bool,
        out_dir: PathBuf,
        flame_dir: Option<PathBuf>,
        timeout: std::time::Duration,
    ) -> Result<Counting, String> {
        Ok(Counting {
            valgrind: find_valgrind()?,
            iterations: iterations.max(1),
            cache_sim,
            out_dir,
            flame_dir,
            timeout,
        })
    }

    /// Counts benchmark `name` of the bench target `exe` (this process's
    /// own executable): runs it under Callgrind as the child of `name`.
    pub fn count(&self, exe: &Path, name: &str, index: usize) -> Result<Instructions, String> {
        std::fs::create_dir_all(&self.out_dir).map_err(|e| {
            format!(
                "cannot create {} for Callgrind's output: {e}",
                self.out_dir.display()
            )
        })?;
        let out_file = self.out_dir.join(format!("callgrind.{index}.out"));
        let _ = std::fs::remove_file(&out_file);
        let mut cmd = Command::new(&self.valgrind);
        cmd.args([
            "--tool=callgrind",
            "--toggle-collect=benchscope_counted_region",
            "--collect-atstart=no",
        ])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(format!(
            "--cache-sim={}",
            if self.cache_sim { "yes" } else { "no" }
        ))
        .arg(exe)
        .env(CHILD_VAR, name)
        .env(ITERATIONS_VAR, self.iterations.to_string())
        // The child runs one routine and exports nothing. The parent's
        // exporter flags do not reach it, so the environment must not ask
        // for exporters this build may lack.
        .env("BENCHSCOPE_EXPORTERS", "none")
        .env("BENCHSCOPE_TRACES", "none")
        .env("BENCHSCOPE_HISTORY", "none")
        .stdin(std::process::Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                cmd.env_remove(key);
            }
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let ended = crate::command::output_within(&mut cmd, self.timeout)
            .map_err(|e| format!("cannot run {}: {e}", self.valgrind.display()))?;
        let out = match ended {
            Ended::Exited(out) => out,
            Ended::TimedOut(out) => {
                return Err(format!(
                    "the Callgrind run of `{name}` did not finish within {} and was stopped (its last words: {}); raise measurement.instruction_timeout (BENCHSCOPE_INSTRUCTION_TIMEOUT) if the routine is that slow under Valgrind",
                    humantime::format_duration(self.timeout),
                    crate::command::last_line(&out.stderr)
                ));
            }
            Ended::Interrupted => return Err("interrupted".into()),
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
            return Err(format!(
                "the Callgrind run of `{name}` failed ({}): {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        let text = std::fs::read_to_string(&out_file).map_err(|e| {
            format!(
                "Callgrind left no output for `{name}` at {}: {e}",
                out_file.display()
            )
        })?;
        parse(&text, self.iterations)
    }

    /// Writes benchmark `name`'s flame graph from the output file its
    /// [`count`](Counting::count) left; `None` without a `flame_dir`.
    pub fn flame(&self, name: &str, index: usize) -> Option<Result<Vec<PathBuf>, String>> {
        let dir = self.flame_dir.as_ref()?;
        let out_file = self.out_dir.join(format!("callgrind.{index}.out"));
        Some(
            std::fs::read_to_string(&out_file)
                .map_err(|e| format!("cannot read {}: {e}", out_file.display()))
                .and_then(|text| super::flame::write(dir, name, &text, self.iterations)),
        )
    }
}

/// Reads the totals of a Callgrind output file, per iteration.
pub fn parse(text: &str, iterations: u64) -> Result<Instructions, String> {
    let line = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let events: Vec<&str> = line("events:")
        .ok_or("the Callgrind output has no `events:` line")?
        .split_whitespace()
        .collect();
    let totals: Vec<f64> = line("totals:")
        .or_else(|| line("summary:"))
        .ok_or("the Callgrind output has no totals")?
        .split_whitespace()
        .map(|v| v.parse::<f64>().map_err(|e| format!("a total `{v}`: {e}")))
        .collect::<Result<_, _>>()?;
    let get = |name: &str| {
        events
            .iter()
            .position(|e| *e == name)
            .map(|i| totals.get(i).copied().unwrap_or(0.0))
    };
    let n = iterations.max(1) as f64;
    let ir = get("Ir").ok_or("the Callgrind output counts no instructions (Ir)")?;
    if ir == 0.0 {
        return Err(
            "Callgrind counted no instruction in the routine: the benchmark never entered a timing loop"
                .into(),
        );
    }
    let sum = |names: &[&str]| -> Option<f64> {
        let found: Vec<f64> = names.iter().filter_map(|n| get(n)).collect();
        (found.len() == names.len()).then(|| found.iter().sum())
    };
    let l1 = sum(&["I1mr", "D1mr", "D1mw"]);
    let ll = sum(&["ILmr", "DLmr", "DLmw"]);
    Ok(Instructions {
        iterations,
        instructions: ir / n,
        l1_misses: l1.map(|v| v / n),
        ll_misses: ll.map(|v| v / n),
        cycles: l1.zip(ll).map(|(l1, ll)| (ir + 10.0 * l1 + 100.0 * ll) / n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_per_iteration() {
        let out = "version: 1\ncmd: x\nevents: Ir\nfl=a\n0 5\ntotals: 12000\n";
        let counted = parse(out, 100).unwrap();
        assert_eq!(counted.instructions, 120.0);
        assert_eq!(counted.cycles, None);
        let cache =
            "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\nsummary: 1000 0 0 10 20 30 1 2 3\n";
        let counted = parse(cache, 10).unwrap();
        assert_eq!(counted.l1_misses, Some(6.0));
        assert_eq!(counted.ll_misses, Some(0.6));
        assert_eq!(counted.cycles, Some((1000.0 + 600.0 + 600.0) / 10.0));
    }

    #[test]
    fn a_file_without_counts_says_what_is_missing() {
        assert!(parse("events: Ir\n", 1).unwrap_err().contains("no totals"));
        assert!(parse("totals: 5\n", 1).unwrap_err().contains("events"));
        assert!(
            parse("events: Ir\ntotals: 0\n", 1)
                .unwrap_err()
                .contains("never entered")
        );
    }

    #[test]
    fn the_region_runs_its_routine_once_counting_or_not() {
        assert_eq!(region(|| 7), 7);
        set_counting(true);
        let mut calls = 0;
        assert_eq!(
            region(|| {
                calls += 1;
                8
            }),
            8
        );
        set_counting(false);
        assert_eq!(calls, 1);
    }
}
