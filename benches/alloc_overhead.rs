//! What the counting allocator costs the timing: the same routines measured
//! with allocations going through `benchscope::CountingAlloc` and straight
//! to the system allocator, alternately in one process (a global allocator
//! that forwards to one or the other by a flag, so both sides pay the same
//! switch), 7 rounds, median ratio counted/uncounted per routine. Also the
//! cost of one allocate-and-free pair through each, called directly.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench alloc_overhead
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benchscope::CountingAlloc;
use benchscope::internals::{Settings, measure};

static COUNTING: CountingAlloc = CountingAlloc::system();
static COUNT: AtomicBool = AtomicBool::new(false);

/// Forwards to the counting allocator or to the system's, by `COUNT`.
struct Switch;

// SAFETY: both sides are the system allocator underneath, so a block may be
// freed through either; the calls are forwarded unchanged.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT.load(Ordering::Relaxed) {
            unsafe { COUNTING.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNT.load(Ordering::Relaxed) {
            unsafe { COUNTING.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT.load(Ordering::Relaxed) {
            unsafe { COUNTING.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[global_allocator]
static ALLOC: Switch = Switch;

const ROUNDS: usize = 7;

/// A routine measured, by name.
type Routine<'a> = (&'static str, Box<dyn Fn() -> u64 + 'a>);

fn mean_ns(mut routine: impl FnMut() -> u64) -> f64 {
    let settings = Settings {
        samples: 50,
        warmup: Duration::from_millis(100),
        min_time: Duration::from_millis(400),
        max_time: Duration::from_secs(2),
    };
    let m = measure(settings, &mut |_| {}, |n| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(routine());
        }
        start.elapsed()
    });
    m.samples_ns.iter().sum::<f64>() / m.samples_ns.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let numbers: Vec<u64> = (0..1000).collect();
    let routines: Vec<Routine<'_>> = vec![
        (
            "allocation-free: sum of 1000 numbers",
            Box::new(|| black_box(&numbers).iter().sum()),
        ),
        (
            "one small allocation: Box::new(u64)",
            Box::new(|| *black_box(Box::new(black_box(42u64)))),
        ),
        (
            "allocation-heavy: 100 formatted strings in a Vec",
            Box::new(|| {
                let v: Vec<String> = (0..100).map(|i| format!("{i}-{i}")).collect();
                v.len() as u64
            }),
        ),
        (
            "growing a Vec to 4096 u64 (12 reallocations)",
            Box::new(|| {
                let mut v = Vec::new();
                for i in 0..4096u64 {
                    v.push(black_box(i));
                }
                v.len() as u64
            }),
        ),
    ];
    println!(
        "counting allocator: time with it / time without, median of {ROUNDS} alternating rounds\n"
    );
    println!(
        "{:<50} {:>12} {:>12} {:>8}  rounds",
        "routine", "without", "with", "ratio"
    );
    for (name, routine) in &routines {
        let mut ratios = Vec::new();
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Alternate which side goes first.
            let mut pair = [false, true];
            if round % 2 == 1 {
                pair.reverse();
            }
            let mut got = [0.0; 2];
            for counting in pair {
                COUNT.store(counting, Ordering::Relaxed);
                got[usize::from(counting)] = mean_ns(routine);
            }
            COUNT.store(false, Ordering::Relaxed);
            without.push(got[0]);
            with.push(got[1]);
            ratios.push(got[1] / got[0]);
        }
        let spread: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "{name:<50} {:>9.1} ns {:>9.1} ns {:>8.3}  {}",
            median(without),
            median(with),
            median(ratios.clone()),
            spread.join(" ")
        );
    }
    let layout = Layout::from_size_align(64, 8).expect("layout");
    let direct = |counting: bool| {
        mean_ns(|| {
            // SAFETY: a 64-byte block allocated and freed with its layout.
            unsafe {
                let p = if counting {
                    COUNTING.alloc(layout)
                } else {
                    System.alloc(layout)
                };
                black_box(p);
                if counting {
                    COUNTING.dealloc(p, layout)
                } else {
                    System.dealloc(p, layout)
                }
            }
            0
        })
    };
    let pairs: Vec<(f64, f64)> = (0..ROUNDS).map(|_| (direct(false), direct(true))).collect();
    let system = median(pairs.iter().map(|p| p.0).collect());
    let counted = median(pairs.iter().map(|p| p.1).collect());
    println!(
        "\none 64-byte allocate-and-free pair, called directly: system {system:.1} ns, counting {counted:.1} ns (+{:.1} ns)",
        counted - system
    );
}
