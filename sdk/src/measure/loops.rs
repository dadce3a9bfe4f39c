//! The timing loops behind every form of [`Bencher`](super::bencher::Bencher) (and of
//! benchscope-criterion's): each returns the `time_batch(n)` that
//! the measuring loop calls, which runs the routine `n` times and returns the time
//! the routine took. Not API.

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use super::alloc::{self, Window, excluded};
use super::callgrind::region;
use super::executor::AsyncExecutor;
use super::sampling::clock_cost_ns;

/// `routine` `n` times between two clock reads.
pub fn iter<O>(mut routine: impl FnMut() -> O) -> impl FnMut(u64) -> Duration {
    move |n| {
        let start = Instant::now();
        region(|| {
            for _ in 0..n {
                black_box(routine());
            }
        });
        start.elapsed()
    }
}

/// A routine that times itself (`iter_custom`): counted whole, as it
/// has no other timed region to tell apart.
pub fn custom(mut routine: impl FnMut(u64) -> Duration) -> impl FnMut(u64) -> Duration {
    move |n| region(|| routine(n))
}

/// `routine` on `threads` threads at once (this one and `threads - 1`
/// started here), each running it `n` times per sample; the sample is
/// the time from the moment all are released to the moment the last
/// finishes. `with_time_batch` gets the sample function while the
/// threads exist. A panic on any thread ends the benchmark with it.
pub fn threaded<O>(
    threads: usize,
    routine: impl Fn() -> O + Sync,
    with_time_batch: impl FnOnce(&mut dyn FnMut(u64) -> Duration),
) {
    let threads = threads.max(1);
    let start = Barrier::new(threads);
    let end = Barrier::new(threads);
    let iterations = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let counting = alloc::CountingAlloc::installed();
    let panicked: Mutex<Option<Box<dyn std::any::Any + Send>>> = Mutex::new(None);
    let run = |n: u64| {
        for _ in 0..n {
            black_box(routine());
        }
    };
    let guarded = |n: u64| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| region(|| run(n)))) {
            panicked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(panic);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| {
                loop {
                    start.wait();
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let window = counting.then(Window::open);
                    guarded(iterations.load(Ordering::Acquire));
                    let counted = window.map(Window::close);
                    end.wait();
                    // Reported after the sample's end: the main thread
                    // reads its totals after a second rendezvous.
                    if let Some((delta, peak)) = counted {
                        ABSORB
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((delta, peak));
                    }
                    end.wait();
                }
            });
        }
        let mut time_batch = |n: u64| {
            iterations.store(n, Ordering::Release);
            start.wait();
            let began = Instant::now();
            guarded(n);
            end.wait();
            let elapsed = began.elapsed();
            end.wait();
            for (delta, peak) in ABSORB.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                alloc::absorb(delta, peak);
            }
            if let Some(panic) = panicked.lock().unwrap_or_else(|e| e.into_inner()).take() {
                stop.store(true, Ordering::Release);
                start.wait();
                resume_unwind(panic);
            }
            elapsed
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| with_time_batch(&mut time_batch)));
        if !stop.swap(true, Ordering::AcqRel) {
            start.wait();
        }
        if let Err(panic) = outcome {
            resume_unwind(panic);
        }
    });
}

/// Counts of the worker threads of a threaded benchmark, handed to the
/// measuring thread after each sample.
static ABSORB: Mutex<Vec<(alloc::Totals, u64)>> = Mutex::new(Vec::new());

/// `routine` on inputs of `setup` made beforehand, in chunks sized by
/// `chunks` (see [`chunked`]).
pub fn batched<I, O>(
    setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> O,
    chunks: Chunks,
) -> impl FnMut(u64) -> Duration {
    chunked(setup, chunks, move |inputs: &mut Vec<I>, outputs| {
        let start = Instant::now();
        region(|| {
            for input in inputs.drain(..) {
                outputs.push(black_box(routine(black_box(input))));
            }
        });
        start.elapsed()
    })
}

/// Like [`batched`], the routine taking `&mut I`.
pub fn batched_ref<I, O>(
    setup: impl FnMut() -> I,
    mut routine: impl FnMut(&mut I) -> O,
    chunks: Chunks,
) -> impl FnMut(u64) -> Duration {
    chunked(setup, chunks, move |inputs: &mut Vec<I>, outputs| {
        let start = Instant::now();
        region(|| {
            for input in inputs.iter_mut() {
                outputs.push(black_box(routine(black_box(input))));
            }
        });
        start.elapsed()
    })
}

/// The futures of `routine` awaited `n` times inside one `block_on`.
pub fn async_iter<E: AsyncExecutor, O, F: Future<Output = O>>(
    executor: &E,
    mut routine: impl FnMut() -> F,
) -> impl FnMut(u64) -> Duration {
    // Counted around `block_on`: the executor's entry is counted too.
    move |n| {
        region(|| {
            executor.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(routine().await);
                }
                start.elapsed()
            })
        })
    }
}

/// One chunk of an async batched loop, by value or by reference as
/// `inputs` yields them: every future awaited inside one `block_on`, timed
/// from inside it.
macro_rules! awaited_chunk {
    ($executor:expr, $routine:ident, $inputs:expr, $outputs:ident) => {
        region(|| {
            $executor.block_on(async {
                let start = Instant::now();
                for input in $inputs {
                    $outputs.push(black_box($routine(black_box(input)).await));
                }
                start.elapsed()
            })
        })
    };
}

/// Like [`batched`], each chunk awaited inside one `block_on`.
pub fn async_batched<E: AsyncExecutor, I, O, F: Future<Output = O>>(
    executor: &E,
    setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> F,
    chunks: Chunks,
) -> impl FnMut(u64) -> Duration {
    chunked(setup, chunks, move |inputs: &mut Vec<I>, outputs| {
        awaited_chunk!(executor, routine, inputs.drain(..), outputs)
    })
}

/// Like [`batched_ref`], each chunk awaited inside one `block_on`.
pub fn async_batched_ref<E: AsyncExecutor, I, O, F: Future<Output = O>>(
    executor: &E,
    setup: impl FnMut() -> I,
    mut routine: impl FnMut(&mut I) -> F,
    chunks: Chunks,
) -> impl FnMut(u64) -> Duration {
    chunked(setup, chunks, move |inputs: &mut Vec<I>, outputs| {
        awaited_chunk!(executor, routine, inputs.iter_mut(), outputs)
    })
}

/// How many inputs of a batched form are made (and alive) at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunks {
    /// As few as keep the chunk's two clock reads under 1 % of it: a
    /// chunk grows (doubling) only while it takes less than 200 clock
    /// reads. A routine that takes 100 µs on a 40 KB input then holds
    /// one input at a time, not a whole batch of thousands.
    Auto,
    /// A batch of `n` iterations in chunks of `n / parts` (rounded up):
    /// criterion's `SmallInput` (10), `LargeInput` (1000) and
    /// `NumBatches`.
    Parts(u64),
    /// Chunks of this many: criterion's `NumIterations` and
    /// `PerIteration` (1).
    Fixed(u64),
}

/// The shared loop of the batched forms: inputs are made in chunks
/// outside the timed region, `timed` runs one chunk (its inputs into
/// its outputs) between two clock reads and returns the time between
/// them, and the chunk's inputs and outputs are dropped after it.
pub fn chunked<I, O>(
    mut setup: impl FnMut() -> I,
    chunks: Chunks,
    mut timed: impl FnMut(&mut Vec<I>, &mut Vec<O>) -> Duration,
) -> impl FnMut(u64) -> Duration {
    let mut inputs: Vec<I> = Vec::new();
    let mut outputs: Vec<O> = Vec::new();
    let mut chunk = 1usize;
    move |n| {
        let long_enough = Duration::from_nanos((200.0 * clock_cost_ns()).ceil() as u64);
        match chunks {
            // Counting: one chunk, so the count never depends on timing.
            Chunks::Auto if crate::measure::callgrind::counting() => chunk = n as usize,
            Chunks::Auto => {}
            Chunks::Parts(parts) => chunk = n.div_ceil(parts.max(1)) as usize,
            Chunks::Fixed(size) => chunk = size as usize,
        }
        let chunk_now = chunk.max(1);
        let mut left = n as usize;
        let mut total = Duration::ZERO;
        while left > 0 {
            let k = chunk_now.min(left);
            // Making inputs and dropping them and the outputs are not
            // the routine's allocations.
            excluded(|| {
                inputs.extend((0..k).map(|_| setup()));
                outputs.reserve(k);
            });
            let elapsed = timed(&mut inputs, &mut outputs);
            excluded(|| {
                outputs.clear();
                inputs.clear();
            });
            total += elapsed;
            left -= k;
            if chunks == Chunks::Auto && elapsed < long_enough && k == chunk {
                chunk = chunk.saturating_mul(2);
            }
        }
        total
    }
}
