//! The counting allocator: an opt-in global allocator that wraps another
//! (the system's by default) and counts, per thread, what the measured
//! routine allocates. Counters are thread-local cells, so the record path
//! is a few loads and stores on this thread's own cache lines; the runner
//! reads them between samples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// A global allocator that counts allocations, deallocations, bytes
/// allocated and the peak of bytes live, per thread, so that benchscope
/// reports them per iteration of each benchmark (the table, the JSON
/// results, the history, `benchmark_allocations_per_iteration` and its
/// siblings, and the gate: a change in allocations per iteration is a
/// regression of its own).
///
/// Opt in by installing it in the bench target:
///
/// ```
/// #[global_allocator]
/// static ALLOC: benchscope::CountingAlloc = benchscope::CountingAlloc::system();
///
/// let v: Vec<u8> = Vec::with_capacity(4096);
/// assert!(benchscope::CountingAlloc::installed());
/// # drop(v);
/// ```
///
/// It wraps any other allocator the same way:
/// `CountingAlloc::new(my_allocator)`.
#[derive(Debug, Default)]
pub struct CountingAlloc<A = System> {
    inner: A,
}

impl CountingAlloc<System> {
    /// Counts allocations made through the system allocator.
    pub const fn system() -> CountingAlloc<System> {
        CountingAlloc { inner: System }
    }

    /// Whether a `CountingAlloc` (over any allocator) is this program's
    /// global allocator: it has counted an allocation.
    pub fn installed() -> bool {
        INSTALLED.load(Ordering::Relaxed)
    }
}

impl<A> CountingAlloc<A> {
    /// Counts allocations made through `inner`.
    pub const fn new(inner: A) -> CountingAlloc<A> {
        CountingAlloc { inner }
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// One thread's running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub allocs: u64,
    pub deallocs: u64,
    pub bytes: u64,
    /// Bytes allocated minus bytes freed on this thread (a thread may free
    /// what another allocated, so it can go below zero).
    pub live: i64,
}

impl Totals {
    fn minus(self, earlier: Totals) -> Totals {
        Totals {
            allocs: self.allocs.wrapping_sub(earlier.allocs),
            deallocs: self.deallocs.wrapping_sub(earlier.deallocs),
            bytes: self.bytes.wrapping_sub(earlier.bytes),
            live: self.live.wrapping_sub(earlier.live),
        }
    }

    fn plus(self, other: Totals) -> Totals {
        Totals {
            allocs: self.allocs.wrapping_add(other.allocs),
            deallocs: self.deallocs.wrapping_add(other.deallocs),
            bytes: self.bytes.wrapping_add(other.bytes),
            live: self.live.wrapping_add(other.live),
        }
    }
}

struct Counters {
    allocs: Cell<u64>,
    deallocs: Cell<u64>,
    bytes: Cell<u64>,
    live: Cell<i64>,
    /// Bytes live that setup left (inputs waiting for the routine): not
    /// the routine's, so the peak is measured without them.
    shift: Cell<i64>,
    /// The most of `live - shift` since the window opened.
    peak: Cell<i64>,
    /// What setup and teardown did (not the routine's), subtracted.
    excluded: Cell<Totals>,
    /// What other threads of a threaded benchmark did, added.
    absorbed: Cell<Totals>,
    absorbed_peak: Cell<i64>,
}

thread_local! {
    // No destructor and a const initialiser: usable from the allocator,
    // even while the thread is being torn down.
    static COUNTERS: Counters = const {
        Counters {
            allocs: Cell::new(0),
            deallocs: Cell::new(0),
            bytes: Cell::new(0),
            live: Cell::new(0),
            shift: Cell::new(0),
            peak: Cell::new(0),
            excluded: Cell::new(Totals { allocs: 0, deallocs: 0, bytes: 0, live: 0 }),
            absorbed: Cell::new(Totals { allocs: 0, deallocs: 0, bytes: 0, live: 0 }),
            absorbed_peak: Cell::new(0),
        }
    };
}

#[inline]
fn on_alloc(size: usize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    let _ = COUNTERS.try_with(|c| {
        c.allocs.set(c.allocs.get().wrapping_add(1));
        c.bytes.set(c.bytes.get().wrapping_add(size as u64));
        let live = c.live.get().wrapping_add(size as i64);
        c.live.set(live);
        let routine = live.wrapping_sub(c.shift.get());
        if routine > c.peak.get() {
            c.peak.set(routine);
        }
    });
}

#[inline]
fn on_dealloc(size: usize) {
    let _ = COUNTERS.try_with(|c| {
        c.deallocs.set(c.deallocs.get().wrapping_add(1));
        c.live.set(c.live.get().wrapping_sub(size as i64));
    });
}

// SAFETY: every call is forwarded to `inner` unchanged; the counting
// touches thread-local cells only and never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { self.inner.dealloc(ptr, layout) };
        on_dealloc(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // A reallocation is counted as the allocation of the new block
            // and the release of the old one, as dhat and divan count it.
            on_dealloc(layout.size());
            on_alloc(new_size);
        }
        new
    }
}

/// This thread's totals so far, less what was excluded, plus what other
/// threads reported into it.
pub(crate) fn totals() -> Totals {
    COUNTERS
        .try_with(|c| raw(c).minus(c.excluded.get()).plus(c.absorbed.get()))
        .unwrap_or_default()
}

/// What this thread's allocator calls counted, all of it.
fn raw(c: &Counters) -> Totals {
    Totals {
        allocs: c.allocs.get(),
        deallocs: c.deallocs.get(),
        bytes: c.bytes.get(),
        live: c.live.get(),
    }
}

/// Runs `f` (setup, or dropping inputs and outputs) without counting what
/// it allocates against the routine.
pub(crate) fn excluded<T>(f: impl FnOnce() -> T) -> T {
    if !CountingAlloc::installed() {
        return f();
    }
    let raw = || COUNTERS.try_with(raw).unwrap_or_default();
    let before = raw();
    let peak = COUNTERS.try_with(|c| c.peak.get()).unwrap_or_default();
    let out = f();
    let delta = raw().minus(before);
    let _ = COUNTERS.try_with(|c| {
        c.excluded.set(c.excluded.get().plus(delta));
        // What setup left live is not the routine's, nor its own peak.
        c.shift.set(c.shift.get().wrapping_add(delta.live));
        c.peak.set(peak);
    });
    out
}

/// Starts a peak window: from now on the peak is measured above the bytes
/// live at this point. Returns the level it is measured from.
pub(crate) fn start_peak() -> i64 {
    COUNTERS
        .try_with(|c| {
            let level = c.live.get().wrapping_sub(c.shift.get());
            c.peak.set(level);
            c.absorbed_peak.set(0);
            level
        })
        .unwrap_or_default()
}

/// The most bytes live above `from` since [`start_peak`] returned it, on
/// this thread or (reported by [`absorb`]) on another of the benchmark's.
pub(crate) fn peak_since(from: i64) -> u64 {
    COUNTERS
        .try_with(|c| {
            let own = c.peak.get().saturating_sub(from).max(0);
            own.max(c.absorbed_peak.get()) as u64
        })
        .unwrap_or_default()
}

/// Adds what another thread of a threaded benchmark counted to this
/// thread's totals: `delta` over the sample, and its peak above its start.
pub(crate) fn absorb(delta: Totals, peak: u64) {
    let _ = COUNTERS.try_with(|c| {
        c.absorbed.set(c.absorbed.get().plus(delta));
        c.absorbed_peak
            .set(c.absorbed_peak.get().max(peak.min(i64::MAX as u64) as i64));
    });
}

/// One thread's count over one stretch of work: call [`Window::close`]
/// after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    start: Totals,
    from: i64,
}

impl Window {
    pub(crate) fn open() -> Window {
        let from = start_peak();
        Window {
            start: totals(),
            from,
        }
    }

    /// What was counted since `open`, and the peak of bytes live above the
    /// start.
    pub(crate) fn close(self) -> (Totals, u64) {
        (totals().minus(self.start), peak_since(self.from))
    }
}

/// Allocation counts summed over a benchmark's measured samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AllocCounts {
    /// Allocations (a reallocation counts as one allocation and one
    /// deallocation).
    pub allocs: u64,
    /// Deallocations.
    pub deallocs: u64,
    /// Bytes allocated.
    pub bytes: u64,
    /// The most bytes live at once above the level at the start of a
    /// sample, over all samples.
    pub peak_bytes: u64,
}

impl AllocCounts {
    pub(crate) fn add(&mut self, delta: Totals, peak: u64) {
        self.allocs += delta.allocs;
        self.deallocs += delta.deallocs;
        self.bytes += delta.bytes;
        self.peak_bytes = self.peak_bytes.max(peak);
    }
}
