//! A small suite for the fleet-history tests (tests/fleet_history.rs): its
//! work per iteration is `FLEET_WORK` times the usual (1 when unset), so a
//! test can make a real slowdown of the code it measures.

use std::hint::black_box;

use benchscope::{CountingAlloc, monitored_bench};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

fn work() -> u64 {
    std::env::var("FLEET_WORK")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1)
}

fn sum_to(n: u64) -> u64 {
    (0..black_box(n)).fold(0u64, |a, x| a.wrapping_add(x * x))
}

#[monitored_bench(group = "fleet")]
fn sum_squares() -> u64 {
    sum_to(20_000 * work())
}

#[monitored_bench(group = "fleet")]
fn collect_vec() -> usize {
    let v: Vec<u64> = (0..black_box(2_000 * work())).collect();
    v.len()
}

#[monitored_bench(group = "fleet")]
fn format_numbers() -> usize {
    (0..black_box(200 * work()))
        .map(|i| format!("{i}"))
        .map(|s| s.len())
        .sum()
}

benchscope::main!();
