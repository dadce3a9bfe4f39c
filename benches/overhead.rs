//! Overhead of the exporters: the quickstart suite runs as a child process
//! with no exporter, with the Prometheus exporter (scraped every second, as
//! Prometheus would) and with the OTLP exporter (pushing every second to a
//! real OTLP/HTTP receiver in this process), in rotating order over several
//! rounds. Target: ≤ 1.01.
//!
//! Printed, per exporter:
//! - the CPU time ratio the exporter causes: the child's CPU time over its
//!   CPU time less the exporter's own threads (every thread but the
//!   benchmark thread and the resource sampler), read from `/proc`;
//! - the wall time ratio as the benchmarks see it: each benchmark's mean time
//!   per iteration with the exporter over without (median over rounds), and
//!   the run-to-run noise of the no-exporter runs for scale;
//! - the raw CPU and wall totals. These vary by several percent from run to
//!   run whatever the exporter does, because batch sizes follow each run's
//!   warm-up estimate, so they are shown but not used as the ratio.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench overhead
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/suite_runs.rs"]
mod suite_runs;

use std::sync::atomic::Ordering;

use common::otlp::{Answer, HttpReceiver};
use suite_runs::{Mode, Sample};

const ROUNDS: usize = 4;

fn report(mode: Mode, on: &[Sample], off: &[Sample]) {
    println!(
        "\n{} exporter vs none over {ROUNDS} rounds (target ≤ 1.01)",
        mode.label()
    );
    // /proc counts CPU time in clock ticks (10 ms here): below one tick reads as 0.
    let exporter_ms: Vec<String> = on
        .iter()
        .map(|s| match s.exporter_cpu.as_millis() {
            0 => "<10".to_owned(),
            ms => ms.to_string(),
        })
        .collect();
    println!(
        "  CPU time ratio (process / process less exporter threads): {:.4}  (exporter threads' CPU per run: {} ms)",
        suite_runs::exporter_cpu_ratio(on),
        exporter_ms.join(", ")
    );
    let (geomean, rows) = suite_runs::wall_ratios(on, off);
    println!(
        "  wall time ratio (time per iteration, geometric mean over benchmarks): {geomean:.4}"
    );
    for (name, r, spread) in rows {
        println!(
            "    {name:>28}: {r:.4}   (noise: slowest / fastest of the no-exporter runs {spread:.4})"
        );
    }
    let total = |v: &[Sample], f: fn(&Sample) -> std::time::Duration| {
        v.iter().map(f).sum::<std::time::Duration>().as_secs_f64()
    };
    println!(
        "  raw totals vs none (noisy, see above): CPU {:.4}, wall {:.4}",
        total(on, |s| s.cpu) / total(off, |s| s.cpu),
        total(on, |s| s.wall) / total(off, |s| s.wall)
    );
}

fn main() {
    let binary = suite_runs::build_quickstart();
    let receiver = HttpReceiver::start(Answer::Ok);
    let modes = [Mode::None, Mode::Prometheus, Mode::Otlp];
    let samples = suite_runs::rounds(&binary, &modes, ROUNDS, &receiver.endpoint());
    assert!(
        receiver.requests.load(Ordering::Relaxed) > 0,
        "the OTLP receiver got nothing"
    );
    report(Mode::Prometheus, &samples[1], &samples[0]);
    report(Mode::Otlp, &samples[2], &samples[0]);
}
