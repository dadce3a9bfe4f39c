//! Accuracy against criterion: both harnesses measure the same three
//! functions (ns, µs and ms scale) in one run, in alternating rounds, and the
//! ratio of their mean estimates is printed per function. Target: every ratio
//! within 0.97–1.03.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench accuracy
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use benchscope::monitored_bench;
#[path = "support/side_by_side.rs"]
mod side_by_side;
use benchscope::{Silent, Suite};
use side_by_side::criterion_mean_ns;

const ROUNDS: usize = 3;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(3);

/// Nanoseconds: a short dependent arithmetic chain.
fn ns_scale() -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..8 {
        x = x.rotate_left(5) ^ x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

/// Microseconds: a few hundred floating-point square roots.
fn us_scale() -> f64 {
    (1..=500).map(|i| f64::from(black_box(i)).sqrt()).sum()
}

/// Milliseconds: a long xorshift loop.
fn ms_scale() -> u64 {
    let mut x = black_box(88_172_645_463_325_252_u64);
    for _ in 0..1_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

#[monitored_bench(name = "ns_scale")]
fn bench_ns() -> u64 {
    ns_scale()
}

#[monitored_bench(name = "us_scale")]
fn bench_us() -> f64 {
    us_scale()
}

#[monitored_bench(name = "ms_scale")]
fn bench_ms() -> u64 {
    ms_scale()
}

fn main() {
    let names = ["ns_scale", "us_scale", "ms_scale"];
    let entries = benchscope::benchmarks().expect("no duplicate names");
    let (config, measurement) = side_by_side::quiet_suite(WARMUP, MEASURE);
    let criterion_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("accuracy-criterion");

    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}: benchscope");
        let suite = Suite::new(config.clone()).with_measurement(measurement);
        let run = suite.run(&entries, &mut Silent).expect("suite runs");
        eprintln!("round {round}/{ROUNDS}: criterion");
        let mut c = side_by_side::matched_criterion(WARMUP, MEASURE, &criterion_dir);
        // Direct calls, as the benchscope side makes: a function pointer
        // here would add an indirect call to every iteration.
        c.bench_function("ns_scale", |b| b.iter(ns_scale));
        c.bench_function("us_scale", |b| b.iter(us_scale));
        c.bench_function("ms_scale", |b| b.iter(ms_scale));
        for (i, name) in names.iter().enumerate() {
            let ours = run.get(name).expect("benchscope measured it").stats.mean;
            let theirs = criterion_mean_ns(&criterion_dir, name);
            ratios[i].push(ours / theirs);
            println!(
                "round {round} {name:>9}: benchscope {ours:>14.2} ns  criterion {theirs:>14.2} ns  ratio {:.4}",
                ours / theirs
            );
        }
    }

    println!(
        "\nbenchscope mean / criterion mean (median of {ROUNDS} alternating rounds; target 0.97..=1.03)"
    );
    let mut all_within = true;
    for (name, r) in names.iter().zip(&mut ratios) {
        r.sort_by(f64::total_cmp);
        let median = r[r.len() / 2];
        let within = (0.97..=1.03).contains(&median);
        all_within &= within;
        println!(
            "  {name:>9}: {median:.4}  (rounds: {})  {}",
            r.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            if within { "ok" } else { "OUTSIDE TARGET" }
        );
    }
    println!(
        "{}",
        if all_within {
            "all ratios within target"
        } else {
            "some ratios outside target"
        }
    );
}
