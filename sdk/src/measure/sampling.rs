//! The measuring loop: warm-up, batch sizing and sampling, with the
//! disturbance probe between samples. The timed region of every sample
//! holds only the user's code (in a `black_box`ed loop, [`loops`](super::loops))
//! and two clock reads; everything else (progress, recording, statistics)
//! happens between samples.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::alloc::{AllocCounts, CountingAlloc, Window};
use super::disturbance::{Disturbance, Probe, RETAKE_BUDGET};

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
    /// How the rest of the machine disturbed the samples (none in test
    /// mode and under Callgrind, where nothing is timed).
    pub disturbance: Option<Disturbance>,
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
/// run the routine `n` times and return the time it took; disturbed samples
/// are retaken ([`Disturbance`]).
#[cfg(any(test, feature = "internals"))]
pub fn measure(
    settings: Settings,
    progress: &mut dyn FnMut(Progress),
    time_batch: impl FnMut(u64) -> Duration,
) -> Measurement {
    sample(settings, true, progress, time_batch)
}

/// Runs warm-up, batch sizing and sampling with `time_batch(n)`; watches
/// for disturbance, and retakes disturbed samples, only when `probe` is
/// set (a routine on several threads waits for its own threads).
pub(crate) fn sample(
    settings: Settings,
    probe: bool,
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
    // Disturbed samples are retaken while the budget lasts (a retake's
    // allocations are not counted either); once it is spent, they are kept
    // and counted, and the benchmark is disturbed.
    let budget = planned.saturating_mul(RETAKE_BUDGET);
    let (mut retaken, mut kept) = (0, 0);
    let mut probe = probe.then(Probe::start);
    while (samples_ns.len() as u32) < planned {
        let window = counting.then(Window::open);
        let elapsed = time_batch(batch);
        let closed = window.map(Window::close);
        let disturbed = probe.as_mut().is_some_and(Probe::sample_disturbed);
        let spent = measure_start.elapsed();
        if disturbed && retaken < budget && spent <= settings.max_time * 2 {
            retaken += 1;
            continue;
        }
        kept += u32::from(disturbed);
        if let (Some((delta, peak)), Some(counts)) = (closed, allocations.as_mut()) {
            counts.add(delta, peak);
        }
        let ns = elapsed.as_nanos() as f64 / batch as f64;
        samples_ns.push(ns);
        let done = samples_ns.len() as u32;
        progress(Progress::Sample {
            done,
            of: planned,
            ns,
        });
        if done >= MIN_SAMPLES && spent > settings.max_time {
            break;
        }
    }
    Measurement {
        samples_ns,
        batch,
        warmup_iterations,
        clock_cost_ns,
        allocations,
        disturbance: probe.map(|p| p.finish(retaken, kept)),
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
}
