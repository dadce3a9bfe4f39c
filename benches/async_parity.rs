//! Async benchmarks against criterion's `to_async`: benchscope (the
//! attribute's `runtime = "tokio"` and `"tokio-multi-thread"`, and
//! `Bencher::to_async`) and criterion measure the same futures on the same
//! kind of runtime, in alternating rounds, and the median ratio of their
//! mean estimates is printed per future, beside how far criterion's own
//! rounds spread around their median (the machine's noise between rounds).
//! Each future is measured by one side and then the other, the order
//! alternating, so that the machine's drift falls on both.
//! Target: every ratio within 0.97–1.03.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench async_parity
//! PARITY_ROUNDS=11 cargo bench -p benchscope-benches --bench async_parity
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use benchscope::monitored_bench;
#[path = "support/side_by_side.rs"]
mod side_by_side;
use benchscope::{Silent, Suite};
use side_by_side::criterion_mean_ns;

const WARMUP: Duration = Duration::from_millis(300);
const MEASURE: Duration = Duration::from_secs(1);

/// Nanoseconds: a ready future doing a short arithmetic chain.
async fn ready() -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..8 {
        x = x.rotate_left(5) ^ x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

/// About a microsecond: yielding to the current-thread scheduler.
async fn yield_twice() {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
}

/// Microseconds: a task spawned on a multi-thread runtime and joined.
async fn spawn_join() -> u64 {
    tokio::spawn(async { black_box(7u64) }).await.unwrap()
}

#[monitored_bench(name = "ready", runtime = "tokio")]
async fn bench_ready() -> u64 {
    ready().await
}

#[monitored_bench(name = "yield_twice", runtime = "tokio")]
async fn bench_yield() {
    yield_twice().await
}

#[monitored_bench(name = "spawn_join", runtime = "tokio-multi-thread")]
async fn bench_spawn() -> u64 {
    spawn_join().await
}

/// `to_async` with the futures themselves, and a batched form.
#[monitored_bench(name = "to_async_yield_twice")]
fn to_async_yield(b: &mut benchscope::Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    b.to_async(&runtime).iter(yield_twice);
}

#[monitored_bench(name = "to_async_batched_sum")]
fn to_async_batched(b: &mut benchscope::Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    b.to_async(&runtime).iter_batched(batch_input, sum);
}

fn batch_input() -> Vec<u64> {
    (0..512).collect()
}

async fn sum(v: Vec<u64>) -> u64 {
    v.iter().sum()
}

/// criterion's side of the future `name`. The attribute's routine is its
/// body as an `async fn`: the same future as `async { f().await }`.
fn criterion_side(
    c: &mut criterion::Criterion,
    name: &str,
    current: &tokio::runtime::Runtime,
    multi: &tokio::runtime::Runtime,
) {
    match name {
        "ready" => c.bench_function(name, |b| {
            b.to_async(current).iter(|| async { ready().await })
        }),
        "yield_twice" => c.bench_function(name, |b| {
            b.to_async(current).iter(|| async { yield_twice().await })
        }),
        "spawn_join" => c.bench_function(name, |b| {
            b.to_async(multi).iter(|| async { spawn_join().await })
        }),
        "to_async_yield_twice" => c.bench_function(name, |b| b.to_async(current).iter(yield_twice)),
        "to_async_batched_sum" => c.bench_function(name, |b| {
            b.to_async(current)
                .iter_batched(batch_input, sum, criterion::BatchSize::SmallInput)
        }),
        other => panic!("no criterion side for {other}"),
    };
}

fn main() {
    let names = [
        "ready",
        "yield_twice",
        "spawn_join",
        "to_async_yield_twice",
        "to_async_batched_sum",
    ];
    let rounds: usize = std::env::var("PARITY_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let entries = benchscope::benchmarks().expect("no duplicate names");
    let (config, measurement) = side_by_side::quiet_suite(WARMUP, MEASURE);
    let criterion_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("async-parity-criterion");
    // criterion's side: the runtimes benchscope's attribute builds.
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut theirs_by_round: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let suite = Suite::new(config).with_measurement(measurement);
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        // Each future measured by one side, then the other, the order
        // alternating, so that the machine's drift falls on both.
        for (i, name) in names.iter().enumerate() {
            let entry = entries
                .iter()
                .find(|e| e.name() == *name)
                .expect("registered");
            let ours = || {
                let run = suite.run(&[*entry], &mut Silent).expect("suite runs");
                run.get(name).expect("benchscope measured it").stats.mean
            };
            let theirs = || {
                let mut c = side_by_side::matched_criterion(WARMUP, MEASURE, &criterion_dir);
                criterion_side(&mut c, name, &current, &multi);
                criterion_mean_ns(&criterion_dir, name)
            };
            let (ours, theirs) = if (round + i) % 2 == 0 {
                let o = ours();
                (o, theirs())
            } else {
                let t = theirs();
                (ours(), t)
            };
            ratios[i].push(ours / theirs);
            theirs_by_round[i].push(theirs);
            println!(
                "round {} {name:>20}: benchscope {ours:>12.2} ns  criterion {theirs:>12.2} ns  ratio {:.4}",
                round + 1,
                ours / theirs
            );
        }
    }

    println!(
        "\nbenchscope mean / criterion mean: median of {rounds} alternating rounds (target 0.97..=1.03);\ncriterion's rounds against their own median: the spread between rounds"
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for ((name, r), t) in names.iter().zip(&mut ratios).zip(&mut theirs_by_round) {
        let m = median(r);
        let tm = median(t);
        println!(
            "  {name:>20}: {m:.4} {}  (rounds {})  criterion's spread {:.3}-{:.3}",
            if (0.97..=1.03).contains(&m) {
                "ok            "
            } else {
                "OUTSIDE TARGET"
            },
            r.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" "),
            t[0] / tm,
            t[t.len() - 1] / tm,
        );
    }
}
