//! The [`Bencher`] handed to a benchmark, its async form, and the seam
//! benchscope-criterion's bencher measures through ([`MeasureDyn`]): each
//! form picks a timing loop ([`loops`](super::loops)) and hands it to the
//! measuring loop ([`sampling`](super::sampling)).

use std::time::Duration;

use super::executor::AsyncExecutor;
use super::loops;
use super::sampling::{Measurement, Progress, Settings, sample};

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
    /// Threads the routine runs on (`iter_threads`): above one, the
    /// measuring thread waits for the routine's own threads, which is no
    /// disturbance, so nothing is probed or retaken.
    threads: usize,
    /// A paired worker: serve samples to the comparison instead.
    #[cfg(feature = "harness")]
    serve: Option<&'a mut super::worker::Link>,
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
            threads: 1,
            #[cfg(feature = "harness")]
            serve: None,
        }
    }

    /// A bencher for a paired worker: the routine's samples are served
    /// over `link` (see [`worker`](super::worker)).
    #[cfg(feature = "harness")]
    pub(crate) fn serving(
        link: &'a mut super::worker::Link,
        progress: &'a mut dyn FnMut(Progress),
    ) -> Self {
        Bencher {
            serve: Some(link),
            ..Bencher::once(progress)
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
        #[cfg(feature = "harness")]
        if let Some(link) = self.serve.take() {
            link.serve(&mut time_batch);
            self.measurement = Some(Measurement {
                samples_ns: Vec::new(),
                batch: 1,
                warmup_iterations: 0,
                clock_cost_ns: 0.0,
                allocations: None,
                disturbance: None,
            });
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
                disturbance: None,
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
                disturbance: None,
            }
        } else {
            sample(self.settings, self.threads <= 1, self.progress, time_batch)
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
        self.threads = threads;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

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
        // Each thread counts its own calls: the worker gives up midway
        // through the run whatever order the threads were scheduled in (a
        // count shared by both threads could end with the worker's calls
        // all early on a busy machine, and nothing would panic).
        thread_local! {
            static CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        let main = std::thread::current().id();
        let mut progress = |_| {};
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut b = Bencher::new(short(), &mut progress);
            b.iter_threads(2, || {
                let calls = CALLS.with(|c| {
                    c.set(c.get() + 1);
                    c.get()
                });
                if calls > 3 && std::thread::current().id() != main {
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
