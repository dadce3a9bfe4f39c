//! criterion's `Bencher` on benchscope's timing loops: every form is one of
//! `benchscope::harness::loops`, measured by benchscope's runner.

use std::marker::PhantomData;
use std::time::Duration;

use benchscope::AsyncExecutor;
use benchscope::harness::MeasureDyn;
use benchscope::harness::loops::{self, Chunks};

use crate::measurement::{Measurement, WallTime};

/// How many inputs of `iter_batched` are made, and alive, at a time, as in
/// criterion: a tenth of a sample's iterations for `SmallInput`, a
/// thousandth for `LargeInput`, `n` batches or `n` inputs, or one input per
/// timed iteration. (benchscope's own `iter_batched` sizes chunks from the
/// clock instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchSize {
    /// Inputs are small.
    SmallInput,
    /// Inputs are large.
    LargeInput,
    /// One input at a time, each iteration timed alone.
    PerIteration,
    /// criterion: this many batches per sample.
    NumBatches(u64),
    /// At most this many inputs at a time.
    NumIterations(u64),
}

impl BatchSize {
    fn chunks(self) -> Chunks {
        match self {
            BatchSize::SmallInput => Chunks::Parts(10),
            BatchSize::LargeInput => Chunks::Parts(1000),
            BatchSize::NumBatches(n) => Chunks::Parts(n),
            BatchSize::PerIteration => Chunks::Fixed(1),
            BatchSize::NumIterations(n) => Chunks::Fixed(n),
        }
    }
}

/// Handed to a benchmark's closure: code before the `iter` call is setup
/// and is not timed. Only the first `iter`-like call measures.
pub struct Bencher<'a, M: Measurement = WallTime> {
    inner: &'a mut (dyn MeasureDyn + 'a),
    _measurement: PhantomData<M>,
}

impl<M: Measurement> std::fmt::Debug for Bencher<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bencher").finish_non_exhaustive()
    }
}

impl<'a, M: Measurement> Bencher<'a, M> {
    pub(crate) fn new(inner: &'a mut (dyn MeasureDyn + 'a)) -> Bencher<'a, M> {
        Bencher {
            inner,
            _measurement: PhantomData,
        }
    }

    fn measure(&mut self, mut time_batch: impl FnMut(u64) -> Duration) {
        self.inner.measure_dyn(&mut time_batch);
    }

    /// Times `routine` called in a loop; its output is black-boxed and
    /// dropped inside the timed region.
    pub fn iter<O, R>(&mut self, routine: R)
    where
        R: FnMut() -> O,
    {
        self.measure(loops::iter(routine));
    }

    /// `routine(n)` runs the code `n` times and returns how long it took.
    pub fn iter_custom<R>(&mut self, routine: R)
    where
        R: FnMut(u64) -> Duration,
    {
        self.measure(loops::custom(routine));
    }

    /// Each iteration on a fresh input of `setup`, made outside the timed
    /// region ([`BatchSize::PerIteration`]).
    pub fn iter_with_setup<I, O, S, R>(&mut self, setup: S, routine: R)
    where
        S: FnMut() -> I,
        R: FnMut(I) -> O,
    {
        self.iter_batched(setup, routine, BatchSize::PerIteration);
    }

    /// Like [`Bencher::iter`], with the outputs dropped outside the timed
    /// region.
    pub fn iter_with_large_drop<O, R>(&mut self, mut routine: R)
    where
        R: FnMut() -> O,
    {
        self.iter_batched(|| (), |()| routine(), BatchSize::SmallInput);
    }

    /// Each iteration on a fresh input of `setup`; making inputs and
    /// dropping outputs happen outside the timed region.
    pub fn iter_batched<I, O, S, R>(&mut self, setup: S, routine: R, size: BatchSize)
    where
        S: FnMut() -> I,
        R: FnMut(I) -> O,
    {
        self.measure(loops::batched(setup, routine, size.chunks()));
    }

    /// Like [`Bencher::iter_batched`], the routine taking `&mut I`; inputs
    /// are dropped outside the timed region too.
    pub fn iter_batched_ref<I, O, S, R>(&mut self, setup: S, routine: R, size: BatchSize)
    where
        S: FnMut() -> I,
        R: FnMut(&mut I) -> O,
    {
        self.measure(loops::batched_ref(setup, routine, size.chunks()));
    }

    /// Benchmarks futures on `runner` (a tokio `Runtime` or `Handle` with
    /// the `async_tokio` feature, `FuturesExecutor` with `async_futures`),
    /// built outside the timed region.
    pub fn to_async<'b, A: AsyncExecutor>(&'b mut self, runner: A) -> AsyncBencher<'a, 'b, A, M> {
        AsyncBencher { b: self, runner }
    }
}

/// A [`Bencher`] driving futures: [`Bencher::to_async`]. Each sample's
/// iterations run inside one `block_on`, with the clock read inside it.
pub struct AsyncBencher<'a, 'b, A: AsyncExecutor, M: Measurement = WallTime> {
    b: &'b mut Bencher<'a, M>,
    runner: A,
}

impl<A: AsyncExecutor, M: Measurement> std::fmt::Debug for AsyncBencher<'_, '_, A, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncBencher").finish_non_exhaustive()
    }
}

impl<A: AsyncExecutor, M: Measurement> AsyncBencher<'_, '_, A, M> {
    /// Times the futures of `routine`, awaited in a loop.
    pub fn iter<O, R, F>(&mut self, routine: R)
    where
        R: FnMut() -> F,
        F: Future<Output = O>,
    {
        self.b.measure(loops::async_iter(&self.runner, routine));
    }

    /// `routine(n)` awaits the work `n` times and returns how long it took.
    pub fn iter_custom<R, F>(&mut self, mut routine: R)
    where
        R: FnMut(u64) -> F,
        F: Future<Output = Duration>,
    {
        let runner = &self.runner;
        self.b
            .measure(loops::custom(|n| runner.block_on(routine(n))));
    }

    /// Each future on a fresh input of `setup` ([`BatchSize::PerIteration`]).
    pub fn iter_with_setup<I, O, S, R, F>(&mut self, setup: S, routine: R)
    where
        S: FnMut() -> I,
        R: FnMut(I) -> F,
        F: Future<Output = O>,
    {
        self.iter_batched(setup, routine, BatchSize::PerIteration);
    }

    /// Like [`AsyncBencher::iter`], with the outputs dropped outside the
    /// timed region.
    pub fn iter_with_large_drop<O, R, F>(&mut self, mut routine: R)
    where
        R: FnMut() -> F,
        F: Future<Output = O>,
    {
        self.iter_batched(|| (), |()| routine(), BatchSize::SmallInput);
    }

    /// Each future on a fresh input of `setup`; making inputs and dropping
    /// outputs happen outside the timed region.
    pub fn iter_batched<I, O, S, R, F>(&mut self, setup: S, routine: R, size: BatchSize)
    where
        S: FnMut() -> I,
        R: FnMut(I) -> F,
        F: Future<Output = O>,
    {
        self.b.measure(loops::async_batched(
            &self.runner,
            setup,
            routine,
            size.chunks(),
        ));
    }

    /// Like [`AsyncBencher::iter_batched`], the routine taking `&mut I`.
    pub fn iter_batched_ref<I, O, S, R, F>(&mut self, setup: S, routine: R, size: BatchSize)
    where
        S: FnMut() -> I,
        R: FnMut(&mut I) -> F,
        F: Future<Output = O>,
    {
        self.b.measure(loops::async_batched_ref(
            &self.runner,
            setup,
            routine,
            size.chunks(),
        ));
    }
}
