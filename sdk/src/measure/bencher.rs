//! The measuring loop: warm-up, batch sizing and sampling. The timed region of
//! every sample holds only the user's code (in a `black_box`ed loop) and two
//! clock reads; everything else (progress, recording, statistics) happens
//! between samples.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::alloc::{AllocCounts, CountingAlloc, Window};

/// Resolved measurement settings for one benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Number of samples to take.
    pub samples: u32,
    /// Warm-up time.
    pub warmup: Duration,
    /// Measurement time target.
    pub min_time: Duration,
    /// Measurement time ceiling.
    pub max_time: Duration,
}

/// Fewest samples kept when `max_time` cuts sampling short: below this the
/// percentiles and the confidence interval mean little.
pub const MIN_SAMPLES: u32 = 10;

/// How far along a benchmark is; a [`Reporter`](crate::Reporter) hears it
/// between samples, never inside a timed region.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Progress {
    /// Warm-up began.
    WarmupStarted,
    /// Measuring began: `samples` samples of `batch` iterations each are planned.
    MeasureStarted {
        /// Planned samples.
        samples: u32,
        /// Iterations per sample.
        batch: u64,
    },
    /// Sample `done` of `of` is taken.
    Sample {
        /// Samples taken so far.
        done: u32,
        /// Planned samples.
        of: u32,
        /// This sample's time per iteration, in nanoseconds.
        ns: f64,
    },
}

/// The raw outcome of measuring one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Time per iteration of each sample, in nanoseconds.
    pub samples_ns: Vec<f64>,
    /// Iterations in each sample.
    pub batch: u64,
    /// Iterations run while warming up.
    pub warmup_iterations: u64,
    /// Estimated cost of one clock read, in nanoseconds.
    pub clock_cost_ns: f64,
    /// What the routine allocated over the measured samples, when a
    /// [`CountingAlloc`](crate::CountingAlloc) is the global allocator.
    pub allocations: Option<AllocCounts>,
}

/// Handed to a `fn f(b: &mut Bencher)` benchmark: code before the call to
/// [`Bencher::iter`] is setup and is not timed.
///
/// ```no_run
/// use benchscope::{monitored_bench, Bencher};
///
/// #[monitored_bench]
/// fn lookup(b: &mut Bencher) {
///     let map: std::collections::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
///     b.iter(|| map.get(&500).copied());
/// }
/// # fn main() {}
/// ```
pub struct Bencher<'a> {
    settings: Settings,
    progress: &'a mut dyn FnMut(Progress),
    measurement: Option<Measurement>,
    /// Test mode (`--test`): run the routine once, measure nothing.
    once: bool,
    /// The Callgrind child: run the routine once uncounted, then this many
    /// iterations counted.
    count: Option<u64>,
}

impl std::fmt::Debug for Bencher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bencher")
            .field("settings", &self.settings)
            .field("measured", &self.measurement.is_some())
            .finish()
    }
}

impl<'a> Bencher<'a> {
    /// A bencher that measures with `settings` and reports to `progress`.
    pub(crate) fn new(settings: Settings, progress: &'a mut dyn FnMut(Progress)) -> Self {
        Bencher {
            settings,
            progress,
            measurement: None,
            once: false,
            count: None,
        }
    }

    /// A bencher for the Callgrind child: one uncounted iteration (lazy
    /// initialisation, first touches), then `iterations` counted.
    #[cfg(feature = "harness")]
    pub(crate) fn counting(iterations: u64, progress: &'a mut dyn FnMut(Progress)) -> Self {
        Bencher {
            count: Some(iterations.max(1)),
            ..Bencher::once(progress)
        }
    }

    /// A bencher that runs the routine once, to check that it works
    /// (`--test`, and `cargo test` on a criterion-style target).
    #[cfg(feature = "harness")]
    pub(crate) fn once(progress: &'a mut dyn FnMut(Progress)) -> Self {
        Bencher {
            once: true,
            ..Bencher::new(
                Settings {
                    samples: 1,
                    warmup: Duration::ZERO,
                    min_time: Duration::ZERO,
                    max_time: Duration::ZERO,
                },
                progress,
            )
        }
    }

    /// Measures with `time_batch(n)`, which runs the routine `n` times and
    /// returns the time it took; only the first measurement counts.
    fn take(&mut self, mut time_batch: impl FnMut(u64) -> Duration) {
        if self.measurement.is_some() {
            return;
        }
        if let Some(iterations) = self.count {
            time_batch(1);
            crate::measure::callgrind::set_counting(true);
            let elapsed = time_batch(iterations);
            crate::measure::callgrind::set_counting(false);
            self.measurement = Some(Measurement {
                samples_ns: vec![elapsed.as_nanos() as f64 / iterations as f64],
                batch: iterations,
                warmup_iterations: 1,
                clock_cost_ns: 0.0,
                allocations: None,
            });
            return;
        }
        self.measurement = Some(if self.once {
            let elapsed = time_batch(1);
            Measurement {
                samples_ns: vec![elapsed.as_nanos() as f64],
                batch: 1,
                warmup_iterations: 0,
                clock_cost_ns: 0.0,
                allocations: None,
            }
        } else {
            measure(self.settings, self.progress, time_batch)
        });
    }

    /// Measures `routine`: warms it up, sizes batches, then times
    /// `samples` batches. Its return value goes through `black_box` so the
    /// compiler cannot drop the work. Only the first call on a bencher measures.
    pub fn iter<O>(&mut self, routine: impl FnMut() -> O) {
        self.take(loops::iter(routine));
    }

    /// Measures `routine` running on `threads` threads at once (this one
    /// among them), released together for each sample: how it behaves
    /// under contention. A sample's time per iteration is the wall time
    /// from the release to the last thread's end over the iterations each
    /// thread ran. `threads = 1` is [`Bencher::iter`].
    ///
    /// ```no_run
    /// # use benchscope::{monitored_bench, Bencher};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// static HITS: AtomicU64 = AtomicU64::new(0);
    ///
    /// #[monitored_bench]
    /// fn shared_counter(b: &mut Bencher) {
    ///     b.iter_threads(4, || HITS.fetch_add(1, Ordering::Relaxed));
    /// }
    /// # fn main() {}
    /// ```
    pub fn iter_threads<O>(&mut self, threads: usize, routine: impl Fn() -> O + Sync) {
        if threads <= 1 {
            return self.iter(routine);
        }
        if self.measurement.is_some() {
            return;
        }
        loops::threaded(threads, routine, |time_batch| self.take(time_batch));
    }

    /// Measures `routine` on fresh inputs made by `setup`; making the inputs
    /// and dropping the outputs happen outside the timed region.
    ///
    /// A batch is run in chunks, each timed on its own, so that only one
    /// chunk's inputs exist at a time: a chunk grows (doubling) only while it
    /// takes less than 200 clock reads, the point past which the chunk's two
    /// reads stay under 1 % of it. A routine that takes 100 µs on a 40 KB
    /// input then holds one input at a time, not a whole batch of thousands.
    ///
    /// ```no_run
    /// # use benchscope::{monitored_bench, Bencher};
    /// #[monitored_bench]
    /// fn sort(b: &mut Bencher) {
    ///     let data: Vec<u32> = (0..1000).rev().collect();
    ///     b.iter_batched(|| data.clone(), |mut v| { v.sort(); v });
    /// }
    /// # fn main() {}
    /// ```
    pub fn iter_batched<I, O>(&mut self, setup: impl FnMut() -> I, routine: impl FnMut(I) -> O) {
        self.take(loops::batched(setup, routine, loops::Chunks::Auto));
    }

    /// Like [`Bencher::iter_batched`], with the routine given a mutable
    /// reference to each input: the inputs, like the outputs, are dropped
    /// outside the timed region.
    ///
    /// ```no_run
    /// # use benchscope::{monitored_bench, Bencher};
    /// #[monitored_bench]
    /// fn clear(b: &mut Bencher) {
    ///     b.iter_batched_ref(|| vec![1u8; 4096], |v| v.clear());
    /// }
    /// # fn main() {}
    /// ```
    pub fn iter_batched_ref<I, O>(
        &mut self,
        setup: impl FnMut() -> I,
        routine: impl FnMut(&mut I) -> O,
    ) {
        self.take(loops::batched_ref(setup, routine, loops::Chunks::Auto));
    }

    /// Measures a routine that times itself: `routine(n)` runs the code `n`
    /// times and returns how long that took. For code whose cost is not all
    /// on this thread (work handed to other threads, a device, a server).
    ///
    /// ```no_run
    /// # use benchscope::{monitored_bench, Bencher};
    /// #[monitored_bench]
    /// fn spawn_join(b: &mut Bencher) {
    ///     b.iter_custom(|n| {
    ///         let start = std::time::Instant::now();
    ///         for _ in 0..n {
    ///             std::thread::spawn(|| ()).join().unwrap();
    ///         }
    ///         start.elapsed()
    ///     });
    /// }
    /// # fn main() {}
    /// ```
    pub fn iter_custom(&mut self, routine: impl FnMut(u64) -> Duration) {
        self.take(loops::custom(routine));
    }

    /// Benchmarks futures on `executor`, which is built (and its threads
    /// started) before this call, outside every timed region. Each sample's
    /// iterations run inside one `block_on`, the clock read inside it, so
    /// the executor's entry cost is not timed either.
    ///
    #[cfg_attr(feature = "tokio", doc = "```no_run")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use benchscope::{monitored_bench, Bencher};
    ///
    /// #[monitored_bench]
    /// fn spawn_and_join(b: &mut Bencher) {
    ///     let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    ///     b.to_async(&runtime).iter(|| async { tokio::spawn(async { 7 }).await.unwrap() });
    /// }
    /// # fn main() {}
    /// ```
    pub fn to_async<'b, E: AsyncExecutor>(&'b mut self, executor: E) -> AsyncBencher<'a, 'b, E> {
        AsyncBencher {
            bencher: self,
            executor,
        }
    }

    /// The measurement taken, if the body called [`Bencher::iter`] or another form.
    pub(crate) fn into_measurement(self) -> Option<Measurement> {
        self.measurement
    }
}

/// What criterion's `Bencher` is built on: any timing loop, through a
/// trait object (so it needs no lifetime of benchscope's). Not API.
#[doc(hidden)]
pub trait MeasureDyn {
    /// Measures with `time_batch(n)`, as [`Bencher::iter_custom`] does.
    fn measure_dyn(&mut self, time_batch: &mut dyn FnMut(u64) -> Duration);
}

impl MeasureDyn for Bencher<'_> {
    fn measure_dyn(&mut self, time_batch: &mut dyn FnMut(u64) -> Duration) {
        self.take(time_batch);
    }
}

/// Runs futures to completion for [`Bencher::to_async`]: a runtime built
/// by the caller. With the `tokio` feature, tokio's `Runtime` and `Handle`
/// (and references to them) are executors; implement it for any other.
pub trait AsyncExecutor {
    /// Runs `future` on this executor and waits for its output.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T;
}

impl<E: AsyncExecutor + ?Sized> AsyncExecutor for &E {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        (**self).block_on(future)
    }
}

#[cfg(feature = "tokio")]
impl AsyncExecutor for tokio::runtime::Runtime {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        tokio::runtime::Runtime::block_on(self, future)
    }
}

#[cfg(feature = "tokio")]
impl AsyncExecutor for tokio::runtime::Handle {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        tokio::runtime::Handle::block_on(self, future)
    }
}

/// A [`Bencher`] driving futures on an executor: [`Bencher::to_async`].
#[derive(Debug)]
pub struct AsyncBencher<'a, 'b, E> {
    bencher: &'b mut Bencher<'a>,
    executor: E,
}

impl<E: AsyncExecutor> AsyncBencher<'_, '_, E> {
    /// Measures the future `routine` makes: each sample awaits `batch` of
    /// them in turn inside one `block_on`, the clock read inside it.
    pub fn iter<O, F: Future<Output = O>>(&mut self, routine: impl FnMut() -> F) {
        self.bencher
            .take(loops::async_iter(&self.executor, routine));
    }

    /// Measures the future `routine` makes from each fresh input of
    /// `setup`; making inputs and dropping outputs happen outside the timed
    /// region, as in [`Bencher::iter_batched`].
    pub fn iter_batched<I, O, F: Future<Output = O>>(
        &mut self,
        setup: impl FnMut() -> I,
        routine: impl FnMut(I) -> F,
    ) {
        self.bencher.take(loops::async_batched(
            &self.executor,
            setup,
            routine,
            loops::Chunks::Auto,
        ));
    }

    /// Measures the future `routine` makes: `routine(n)` awaits the work
    /// `n` times and returns how long that took.
    pub fn iter_custom<F: Future<Output = Duration>>(&mut self, mut routine: impl FnMut(u64) -> F) {
        let executor = &self.executor;
        self.bencher
            .take(loops::custom(|n| executor.block_on(routine(n))));
    }
}

/// The timing loops behind every form of [`Bencher`] (and of
/// benchscope-criterion's): each returns the `time_batch(n)` that
/// the measuring loop calls, which runs the routine `n` times and returns the time
/// the routine took. Not API.
#[doc(hidden)]
pub mod loops {
    use super::{AsyncExecutor, black_box, clock_cost_ns};
    use crate::measure::alloc::{self, Window, excluded};
    use crate::measure::callgrind::region;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Barrier, Mutex};
    use std::time::{Duration, Instant};

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

    /// Like [`batched`], each chunk awaited inside one `block_on`.
    pub fn async_batched<E: AsyncExecutor, I, O, F: Future<Output = O>>(
        executor: &E,
        setup: impl FnMut() -> I,
        mut routine: impl FnMut(I) -> F,
        chunks: Chunks,
    ) -> impl FnMut(u64) -> Duration {
        chunked(setup, chunks, move |inputs: &mut Vec<I>, outputs| {
            region(|| {
                executor.block_on(async {
                    let start = Instant::now();
                    for input in inputs.drain(..) {
                        outputs.push(black_box(routine(black_box(input)).await));
                    }
                    start.elapsed()
                })
            })
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
            region(|| {
                executor.block_on(async {
                    let start = Instant::now();
                    for input in inputs.iter_mut() {
                        outputs.push(black_box(routine(black_box(input)).await));
                    }
                    start.elapsed()
                })
            })
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
}

/// Median cost of one `Instant::now()`, measured once per process.
pub fn clock_cost_ns() -> f64 {
    static COST: OnceLock<f64> = OnceLock::new();
    *COST.get_or_init(|| {
        const READS: u32 = 1000;
        let mut rounds: Vec<f64> = (0..21)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..READS {
                    black_box(Instant::now());
                }
                start.elapsed().as_nanos() as f64 / f64::from(READS)
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        rounds[rounds.len() / 2]
    })
}

/// Runs warm-up, batch sizing and sampling with `time_batch(n)`, which must
/// run the routine `n` times and return the time it took.
pub fn measure(
    settings: Settings,
    progress: &mut dyn FnMut(Progress),
    mut time_batch: impl FnMut(u64) -> Duration,
) -> Measurement {
    let clock_cost_ns = clock_cost_ns();

    progress(Progress::WarmupStarted);
    let warmup_start = Instant::now();
    let mut n: u64 = 1;
    let mut warmup_iterations = 0;
    // Two estimates per iteration: the timed cost (what the clock-overhead
    // rule needs) and the wall cost, which also holds untimed setup work and
    // is what the time budget is spent on.
    let (mut per_iter_ns, mut wall_per_iter_ns);
    loop {
        let wall = Instant::now();
        let timed = time_batch(n);
        let wall = wall.elapsed();
        warmup_iterations += n;
        per_iter_ns = timed.as_nanos() as f64 / n as f64;
        wall_per_iter_ns = wall.as_nanos() as f64 / n as f64;
        let spent = warmup_start.elapsed();
        if spent >= settings.warmup {
            break;
        }
        // Grow batches geometrically, but never past what the remaining
        // warm-up time can hold, so slow functions do not overshoot it.
        let remaining_ns = (settings.warmup - spent).as_nanos() as f64;
        let fits = (remaining_ns / wall_per_iter_ns.max(1.0)) as u64;
        n = (n * 2).min(fits.max(1));
    }
    let per_iter_ns = per_iter_ns.max(0.01);
    let wall_per_iter_ns = wall_per_iter_ns.max(per_iter_ns);

    let batch = batch_size(settings, per_iter_ns, wall_per_iter_ns, clock_cost_ns);
    let planned = planned_samples(settings, wall_per_iter_ns, batch);
    progress(Progress::MeasureStarted {
        samples: planned,
        batch,
    });

    let mut samples_ns = Vec::with_capacity(planned as usize);
    let counting = CountingAlloc::installed();
    let mut allocations = counting.then(AllocCounts::default);
    let measure_start = Instant::now();
    for done in 1..=planned {
        let window = counting.then(Window::open);
        let elapsed = time_batch(batch);
        if let (Some(window), Some(counts)) = (window, allocations.as_mut()) {
            let (delta, peak) = window.close();
            counts.add(delta, peak);
        }
        let ns = elapsed.as_nanos() as f64 / batch as f64;
        samples_ns.push(ns);
        progress(Progress::Sample {
            done,
            of: planned,
            ns,
        });
        if done >= MIN_SAMPLES && measure_start.elapsed() > settings.max_time {
            break;
        }
    }
    Measurement {
        samples_ns,
        batch,
        warmup_iterations,
        clock_cost_ns,
        allocations,
    }
}

/// Iterations per sample: enough that the two clock reads stay under 1 % of
/// the sample, and enough that the samples fill `min_time`.
fn batch_size(
    settings: Settings,
    per_iter_ns: f64,
    wall_per_iter_ns: f64,
    clock_cost_ns: f64,
) -> u64 {
    let for_clock = (2.0 * clock_cost_ns * 100.0 / per_iter_ns).ceil();
    let per_sample_ns = settings.min_time.as_nanos() as f64 / f64::from(settings.samples.max(1));
    let for_time = (per_sample_ns / wall_per_iter_ns).round();
    for_clock.max(for_time).max(1.0) as u64
}

/// Samples that fit under `max_time`, never fewer than [`MIN_SAMPLES`] (or the
/// requested count, if smaller).
fn planned_samples(settings: Settings, wall_per_iter_ns: f64, batch: u64) -> u32 {
    let sample_ns = wall_per_iter_ns * batch as f64;
    let fit = (settings.max_time.as_nanos() as f64 / sample_ns) as u64;
    let floor = MIN_SAMPLES.min(settings.samples);
    (fit.min(u64::from(settings.samples)) as u32).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            samples: 100,
            warmup: Duration::from_millis(10),
            min_time: Duration::from_secs(1),
            max_time: Duration::from_secs(5),
        }
    }

    #[test]
    fn batches_keep_clock_reads_under_one_percent() {
        // A 1 ns function with a 25 ns clock needs at least 5000 iterations.
        let batch = batch_size(
            Settings {
                min_time: Duration::from_nanos(1),
                ..settings()
            },
            1.0,
            1.0,
            25.0,
        );
        assert!(batch >= 5000, "{batch}");
    }

    #[test]
    fn batches_fill_the_time_target() {
        // 1 s over 100 samples of a 1 µs function: 10 ms per sample.
        assert_eq!(batch_size(settings(), 1000.0, 1000.0, 25.0), 10_000);
    }

    #[test]
    fn slow_functions_get_fewer_samples_but_never_below_the_floor() {
        // 1 s per iteration, 5 s ceiling: 5 would fit, the floor keeps 10.
        assert_eq!(planned_samples(settings(), 1e9, 1), MIN_SAMPLES);
        // 10 ms per iteration: 100 fit under 5 s.
        assert_eq!(planned_samples(settings(), 1e7, 1), 100);
    }

    #[test]
    fn measure_times_the_given_batches_and_reports_progress() {
        let mut events = Vec::new();
        let mut progress = |p| events.push(p);
        let m = measure(settings(), &mut progress, |n| Duration::from_nanos(100 * n));
        assert!(m.samples_ns.iter().all(|&s| (s - 100.0).abs() < 1e-9));
        assert_eq!(m.samples_ns.len(), 100);
        assert_eq!(events[0], Progress::WarmupStarted);
        assert!(matches!(
            events[1],
            Progress::MeasureStarted { samples: 100, .. }
        ));
        assert_eq!(
            events.last(),
            Some(&Progress::Sample {
                done: 100,
                of: 100,
                ns: 100.0
            })
        );
    }

    #[test]
    fn iter_batched_holds_few_large_inputs_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static ALIVE: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        struct Input(Vec<u64>);
        impl Drop for Input {
            fn drop(&mut self) {
                ALIVE.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let mut progress = |_| {};
        let mut b = Bencher::new(
            Settings {
                samples: 10,
                warmup: Duration::from_millis(50),
                min_time: Duration::from_millis(50),
                max_time: Duration::from_millis(200),
            },
            &mut progress,
        );
        let mut setups = 0u64;
        b.iter_batched(
            || {
                setups += 1;
                let alive = ALIVE.fetch_add(1, Ordering::Relaxed) + 1;
                MOST.fetch_max(alive, Ordering::Relaxed);
                Input(vec![setups; 64 * 1024])
            },
            // Half a megabyte summed: tens of microseconds or more.
            |input| input.0.iter().copied().fold(0u64, u64::wrapping_add),
        );
        assert!(b.into_measurement().is_some());
        // Without chunks the last warm-up batch alone held hundreds.
        let most = MOST.load(Ordering::Relaxed);
        assert!(
            most <= 4,
            "{most} inputs of 512 KB alive at once ({setups} made)"
        );
        assert!(setups > 20, "{setups}");
    }

    fn short() -> Settings {
        Settings {
            samples: 10,
            warmup: Duration::from_millis(5),
            min_time: Duration::from_millis(20),
            max_time: Duration::from_millis(200),
        }
    }

    #[test]
    fn iter_threads_runs_every_thread_the_same_iterations_at_once() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicU64, Ordering};
        let calls = AtomicU64::new(0);
        let threads = Mutex::new(HashSet::new());
        let mut progress = |_| {};
        let mut b = Bencher::new(short(), &mut progress);
        b.iter_threads(3, || {
            calls.fetch_add(1, Ordering::Relaxed);
            threads.lock().unwrap().insert(std::thread::current().id());
        });
        let m = b.into_measurement().unwrap();
        let measured = m.batch * m.samples_ns.len() as u64;
        let total = calls.load(Ordering::Relaxed);
        // Warm-up and samples, each run by all three threads.
        assert_eq!(total % 3, 0, "{total}");
        assert_eq!(total / 3, measured + m.warmup_iterations);
        assert_eq!(threads.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_panic_on_a_worker_thread_ends_the_benchmark_instead_of_hanging() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let calls = AtomicU64::new(0);
        let main = std::thread::current().id();
        let mut progress = |_| {};
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut b = Bencher::new(short(), &mut progress);
            b.iter_threads(2, || {
                if calls.fetch_add(1, Ordering::Relaxed) > 100
                    && std::thread::current().id() != main
                {
                    panic!("worker gave up");
                }
            });
        }));
        let panic = outcome.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"worker gave up"));
    }

    #[test]
    fn iter_batched_keeps_setup_out_of_the_samples() {
        let mut progress = |_| {};
        let mut b = Bencher::new(
            Settings {
                samples: 10,
                warmup: Duration::from_millis(1),
                min_time: Duration::from_millis(10),
                max_time: Duration::from_millis(100),
            },
            &mut progress,
        );
        let mut setups = 0u64;
        b.iter_batched(
            || {
                setups += 1;
                (0..2000u64).map(black_box).sum::<u64>()
            },
            |x| x + 1,
        );
        let m = b.into_measurement().unwrap();
        assert!(setups > 0);
        // The setup sums 2000 opaque numbers (about a microsecond); the
        // routine adds one (a nanosecond).
        let median = {
            let mut s = m.samples_ns.clone();
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        };
        assert!(median < 300.0, "median {median} ns includes the setup");
    }
}
