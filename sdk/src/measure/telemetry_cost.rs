//! The CPU time benchscope's own telemetry takes while benchmarks measure:
//! the threads that serve `/metrics` and the live view, push OTLP exports
//! and sample the machine's resources each charge the CPU they used
//! ([`charge_thread`]) to one process-wide total, which the disturbance
//! probe reads at a benchmark's start and end.
//!
//! On a machine with spare cores these threads cost the measuring thread
//! nothing; on a busy one (or under a flood of scrapes) they compete with
//! it for a core. A benchmark measured while they took more than
//! [`TELEMETRY_SHARE`] of a core is disturbed, and says so.
//!
//! Each thread's CPU comes from `CLOCK_THREAD_CPUTIME_ID` (Linux); other
//! systems charge nothing. The gRPC exporter's tokio worker threads are not
//! charged (its periodic reader's thread is, collection included).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Share of one core benchscope's telemetry threads may take while a
/// benchmark measures before the benchmark counts as disturbed: a scrape a
/// second costs about a thousandth of a core, so 5 % is a flood, or a
/// machine too small for the exporters configured.
pub const TELEMETRY_SHARE: f64 = 0.05;

/// CPU charged by the telemetry threads since the process started, ns.
static SPENT_NS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's CPU time at its last charge, ns.
    static CHARGED_NS: Cell<u64> = const { Cell::new(0) };
}

/// Adds the CPU this thread used since its previous charge (since it began,
/// the first time) to the telemetry's total. Cheap: one clock read.
pub(crate) fn charge_thread() {
    charge_thread_to(&SPENT_NS);
}

fn charge_thread_to(total: &AtomicU64) {
    let Some(now) = thread_cpu_ns() else {
        return;
    };
    let before = CHARGED_NS.with(|c| c.replace(now));
    total.fetch_add(now.saturating_sub(before), Ordering::Relaxed);
}

/// CPU charged so far by the telemetry threads, ns.
pub(crate) fn spent_ns() -> u64 {
    SPENT_NS.load(Ordering::Relaxed)
}

#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u64> {
    // SAFETY: clock_gettime writes the struct it is given and nothing else.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        (libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) == 0).then_some(t)
    }?;
    Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_charges_the_cpu_it_used_once() {
        // A total of its own: the process-wide one is read by the
        // disturbance tests running beside this one.
        static TOTAL: AtomicU64 = AtomicU64::new(0);
        std::thread::spawn(|| {
            // 30 ms of this thread's own CPU (a busy machine gives it less
            // in 30 ms of wall time), within 10 s.
            let start = std::time::Instant::now();
            let first = thread_cpu_ns().unwrap();
            let mut x = 0u64;
            while thread_cpu_ns().unwrap() - first < 30_000_000
                && start.elapsed() < std::time::Duration::from_secs(10)
            {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            charge_thread_to(&TOTAL);
            let once = TOTAL.load(Ordering::Relaxed);
            charge_thread_to(&TOTAL);
            // Nothing more to charge the second time but the clock reads.
            assert!(TOTAL.load(Ordering::Relaxed) - once < 1_000_000);
        })
        .join()
        .unwrap();
        let total = TOTAL.load(Ordering::Relaxed);
        assert!(total >= 20_000_000, "{total}");
    }
}
