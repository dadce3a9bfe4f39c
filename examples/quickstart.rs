//! A small, realistic benchmark suite: parsing, sorting, hashing, a sum at
//! four sizes (a complexity class) and a sleep-bound task, from nanoseconds
//! to milliseconds, with allocations per iteration counted.
//!
//! ```text
//! cargo run --release --example quickstart            # the whole suite, ~30 s
//! cargo run --release --example quickstart -- --quick # a smoke test, ~5 s
//! cargo run --release --example quickstart -- --list
//! ```
//!
//! While it runs, the live view is at http://127.0.0.1:8765/ and Prometheus
//! metrics are at http://127.0.0.1:9464/metrics (both set by the workspace's
//! `benchscope.toml`). Each run is kept in `target/benchscope/history.db`.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::hint::black_box;
use std::time::Duration;

use benchscope::{Bencher, CountingAlloc, monitored_bench};

/// Counts allocations per iteration for every benchmark (the table's
/// `allocs/iter` columns); leave it out and nothing is counted.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

const CONFIG_LINE: &str = "host=db.internal;port=5432;user=bench;pool=16;timeout_ms=2500";

/// Parses `key=value;...` into a map: the kind of work a config loader does.
#[monitored_bench(group = "strings", throughput = bytes(60))]
fn parse_config_line() -> HashMap<&'static str, &'static str> {
    black_box(CONFIG_LINE)
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

/// Parses an unsigned integer: a few nanoseconds.
#[monitored_bench(group = "strings")]
fn parse_u64() -> u64 {
    black_box("18446744073709").parse().unwrap_or(0)
}

/// Sorts 10 000 integers; the unsorted copy is made outside the timed region.
#[monitored_bench(group = "collections", throughput = elements(10_000))]
fn sort_10k(b: &mut Bencher) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u64> = (0..10_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect();
    b.iter_batched(
        || data.clone(),
        |mut v| {
            v.sort_unstable();
            v
        },
    );
}

/// Sums n numbers at four sizes: each size is a case of its own
/// (`collections/sum/1024`, ...), and their means get a complexity class.
#[monitored_bench(group = "collections", args = [1024, 4096, 16384, 65536], throughput = elements(n))]
fn sum(b: &mut Bencher, n: u64) {
    let data: Vec<u64> = (0..n).collect();
    b.iter(|| black_box(&data).iter().sum::<u64>());
}

/// Hashes a 4 KiB buffer with the standard library's SipHash.
#[monitored_bench(group = "hashing", throughput = bytes(4096))]
fn siphash_4k(b: &mut Bencher) {
    let buffer: Vec<u8> = (0..4096u32).map(|i| (i * 31) as u8).collect();
    let hasher = RandomState::new();
    b.iter(|| hasher.hash_one(black_box(&buffer)));
}

/// A task bound by waiting, not by CPU: a 1 ms sleep.
#[monitored_bench(group = "io", samples = 50, labels(kind = "sleep"))]
fn sleep_1ms() {
    std::thread::sleep(Duration::from_millis(1));
}

/// An application-mode function: each call is recorded into
/// `benchmark_execution_time_ms{benchmark_name="word_count"}`.
#[monitored_bench]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Calls the application-mode function, so its histogram fills too.
#[monitored_bench(group = "strings")]
fn count_words() -> usize {
    word_count(black_box("the quick brown fox jumps over the lazy dog"))
}

benchscope::main!();
