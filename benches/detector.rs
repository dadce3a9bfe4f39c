//! Quality of the regression detector, measured on this machine: 30 rounds,
//! each measuring a function, then the same function again (A/A), then
//! versions slowed by 10 % and by 3 % (more work per call, not a sleep), and
//! comparing each with the first under the default policy (Welch's t-test,
//! α = 0.01, 5 % noise floor). Targets: at most 1 false regression in 30 A/A
//! comparisons; the 10 % slowdown flagged in at least 95 % of rounds. The 3 %
//! slowdown sits under the noise floor: its detection rate is printed.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench detector
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use benchscope::Verdict;
use benchscope::config::Policy;
use benchscope::internals::{Settings, measure};
use benchscope_benches::work;

const ROUNDS: usize = 30;
/// Work units of the unchanged function: about 20 µs per call here.
const BASE_WORK: u64 = 20_000;

fn samples(units: u64) -> Vec<f64> {
    let settings = Settings {
        samples: 50,
        warmup: Duration::from_millis(200),
        min_time: Duration::from_millis(500),
        max_time: Duration::from_secs(2),
    };
    measure(settings, &mut |_| {}, |n| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(work(black_box(units)));
        }
        start.elapsed()
    })
    .samples_ns
}

fn main() {
    let policy = Policy::default();
    let cases = [
        ("A/A (unchanged)", 1.0),
        ("10 % slower", 1.10),
        ("3 % slower", 1.03),
    ];
    let mut flagged = [0usize; 3];
    let mut changes: [Vec<f64>; 3] = Default::default();
    for round in 1..=ROUNDS {
        let base = samples(BASE_WORK);
        let mut line = format!("round {round:>2}:");
        for (i, (_, factor)) in cases.iter().enumerate() {
            let current = samples((BASE_WORK as f64 * factor) as u64);
            let c = policy.compare(&base, &current).expect("enough samples");
            if matches!(c.verdict, Verdict::Regressed(_)) {
                flagged[i] += 1;
            }
            changes[i].push(c.change);
            line += &format!(
                "  {:+6.2}% {:<9}",
                c.change * 100.0,
                match c.verdict {
                    Verdict::Regressed(s) => s.as_str(),
                    Verdict::Unchanged => "-",
                    other => other.word(),
                }
            );
        }
        println!("{line}");
    }
    println!(
        "\nregression flagged, out of {ROUNDS} rounds (policy: alpha {}, noise floor {:.0} %):",
        policy.alpha,
        policy.noise_floor * 100.0
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        let mut c = changes[i].clone();
        c.sort_by(f64::total_cmp);
        println!(
            "  {name:<16} {:>2}/{ROUNDS} ({:>5.1} %)   measured change: median {:+.2} %, range {:+.2} % .. {:+.2} %",
            flagged[i],
            flagged[i] as f64 * 100.0 / ROUNDS as f64,
            c[c.len() / 2] * 100.0,
            c[0] * 100.0,
            c[c.len() - 1] * 100.0
        );
    }
    let false_positives_ok = flagged[0] <= 1;
    let power_ok = flagged[1] as f64 >= 0.95 * ROUNDS as f64;
    println!(
        "targets: A/A false regressions <= 1: {}; 10 % detected >= 95 %: {}",
        if false_positives_ok { "met" } else { "MISSED" },
        if power_ok { "met" } else { "MISSED" }
    );
}
