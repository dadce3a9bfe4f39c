//! Beyond one input: parameters, threads, allocations and complexity.
//!
//! ```text
//! cargo run --release --example scaling -- --quick   # about 30 s
//! cargo run --release --example scaling -- --list
//! cargo run --release --example scaling -- --quick lookup
//! ```
//!
//! - `args = [...]` runs a benchmark once per value; sizes get a
//!   complexity class fitted to them (the table's "complexity" section and
//!   `benchmark_complexity_class`).
//! - `types = [...]` and `consts = [...]` fill a generic parameter.
//! - `threads = [...]` runs the routine on that many threads at once.
//! - The counting allocator below adds allocations per iteration to every
//!   benchmark (columns `allocs/iter`, `bytes/iter`, `peak bytes`).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use benchscope::{Bencher, CountingAlloc, monitored_bench};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

/// Numbers from a xorshift generator: the same on every run.
fn numbers(n: usize) -> Vec<u64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect()
}

/// O(n): the largest of n numbers.
#[monitored_bench(group = "scaling", args = [64, 256, 1024, 4096, 16384, 65536], throughput = elements(n))]
fn linear_scan(b: &mut Bencher, n: usize) {
    let data = numbers(n);
    b.iter(|| black_box(&data).iter().copied().max());
}

/// O(n log n): a stable sort, which also allocates a buffer of n/2 (from
/// 1024 numbers up; smaller ones sort in a buffer on the stack).
#[monitored_bench(group = "scaling", args = [1024, 2048, 4096, 8192, 16384, 65536])]
fn sort(b: &mut Bencher, n: usize) {
    let data = numbers(n);
    b.iter_batched(
        || data.clone(),
        |mut v| {
            v.sort();
            v
        },
    );
}

/// O(n²): pairs of n numbers whose sum is even.
#[monitored_bench(group = "scaling", args = [16, 32, 64, 128, 256, 512])]
fn all_pairs(b: &mut Bencher, n: usize) {
    let data = numbers(n);
    b.iter(|| {
        let data = black_box(&data);
        let mut even = 0u32;
        for (i, x) in data.iter().enumerate() {
            for y in &data[i + 1..] {
                even += u32::from((x ^ y) & 1 == 0);
            }
        }
        even
    });
}

/// O(1): one lookup in a map of n entries.
#[monitored_bench(group = "scaling", args = [64, 256, 1024, 4096, 16384, 65536])]
fn lookup(b: &mut Bencher, n: usize) {
    let map: HashMap<u64, u64> = numbers(n).into_iter().zip(0..).collect();
    let key = numbers(n)[n / 3];
    b.iter(|| map.get(&black_box(key)).copied());
}

/// O(log n): a binary search in n sorted numbers.
#[monitored_bench(group = "scaling", args = [64, 256, 1024, 4096, 16384, 65536])]
fn binary_search(b: &mut Bencher, n: usize) {
    let mut data = numbers(n);
    data.sort_unstable();
    let key = data[n / 3];
    b.iter(|| black_box(&data).binary_search(&black_box(key)));
}

/// `types` and `args` together: summing n numbers of each type.
#[monitored_bench(group = "generic", types = [u32, u64, f64], args = [100, 10_000])]
fn sum<T: Copy + std::iter::Sum<T> + From<u8>>(b: &mut Bencher, n: usize) {
    let data: Vec<T> = (0..n).map(|i| T::from((i % 251) as u8)).collect();
    b.iter(|| black_box(&data).iter().copied().sum::<T>());
}

/// `consts`: a stack buffer of N bytes, filled.
#[monitored_bench(group = "generic", consts = [64, 4096])]
fn fill<const N: usize>() -> [u8; N] {
    let mut buffer = [0u8; N];
    buffer.fill(black_box(7));
    buffer
}

/// Allocations: formatting a number allocates its string.
#[monitored_bench(group = "alloc", args = [7, 1_000_000_007])]
fn format_number(n: u64) -> String {
    black_box(n).to_string()
}

/// No allocation at all: the columns show 0.
#[monitored_bench(group = "alloc")]
fn no_allocation() -> u64 {
    black_box(41u64) + 1
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static LOCKED: Mutex<u64> = Mutex::new(0);

/// Contention: one atomic counter shared by 1, 2 and all cores' threads.
#[monitored_bench(group = "contention", threads = [1, 2, 0])]
fn atomic_increment() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Contention: the same with a mutex.
#[monitored_bench(group = "contention", threads = [1, 2, 0])]
fn mutex_increment() -> u64 {
    let mut guard = LOCKED.lock().unwrap_or_else(|e| e.into_inner());
    *guard += 1;
    *guard
}

benchscope::main!();
