//! What the machine tells about interference while a benchmark is measured,
//! and the rule that decides whether a sample was disturbed.
//!
//! A sample's time includes whatever else the core did during it. Linux says
//! how much of that there was, per thread and to the nanosecond: the time
//! the measuring thread was runnable but waited for a CPU
//! (`/proc/thread-self/schedstat`, "run delay"), and its involuntary
//! context switches (`getrusage(RUSAGE_THREAD)`). A virtual machine's host
//! taking the CPU away shows as steal in `/proc/stat`, in clock ticks; the
//! other processes' CPU time is `/proc/stat`'s busy time less the process's
//! own (`getrusage(RUSAGE_SELF)`). Where the kernel has them, the CPU's
//! frequency (`cpufreq/scaling_cur_freq`) and thermal throttle count are
//! read at the start and end of the benchmark.
//!
//! The rule ([`Probe::sample_disturbed`]): a sample is disturbed when the
//! thread waited for a CPU, or the host stole it, for more than
//! [`DISTURBED_SHARE`] of the time since the previous sample ended (the
//! window includes the gap before the sample, so a sample that starts with
//! caches another process has just cooled counts as well), or, where the
//! run delay cannot be read, when the thread was switched out involuntarily.
//! The bencher retakes disturbed samples within a budget
//! ([`RETAKE_BUDGET`]); a benchmark whose budget ran out is disturbed as a
//! whole ([`Disturbance::disturbed`]), which the gate and the history take
//! into account. Reading the probe costs a few microseconds between
//! samples, never inside the timed region.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::telemetry_cost::{self, TELEMETRY_SHARE};

/// Share of a sample's window the thread may wait for a CPU, or lose to
/// the host, before the sample counts as disturbed: a sample inflated by
/// more than 1 % is not one to keep when another can be taken.
pub const DISTURBED_SHARE: f64 = 0.01;

/// Retakes allowed per planned sample: at most this many extra samples are
/// taken in all, so a benchmark on a busy machine costs at most twice its
/// time.
pub const RETAKE_BUDGET: u32 = 1;

/// Shortest window over which `/proc/stat` is read again: it counts in
/// clock ticks (10 ms), so reading it more often only adds cost.
const STAT_WINDOW_NS: u128 = 10_000_000;

/// How a benchmark's measurement was disturbed by the rest of the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Disturbance {
    /// True when the benchmark stayed disturbed: more disturbed samples
    /// than the retake budget could replace, so disturbed samples are in
    /// its figures (or too few clean ones were left to keep alone). Such a
    /// run is left out of the noise between runs, and the gate says so.
    pub disturbed: bool,
    /// Samples found disturbed and taken again.
    pub retaken: u32,
    /// Disturbed samples kept in the figures (the budget ran out).
    pub kept: u32,
    /// Time the measuring thread waited for a CPU while measuring, as a
    /// share of the measuring time.
    pub run_delay_share: f64,
    /// Involuntary context switches of the measuring thread while measuring.
    pub involuntary_switches: u64,
    /// CPU time the host took from this machine's CPUs (steal) while
    /// measuring, as a share of all of their time.
    pub steal_share: f64,
    /// CPU time of other processes while measuring, in cores (1.0: one
    /// core's worth).
    pub others_cores: f64,
    /// CPU time benchscope's own telemetry threads (scrapes, the live view,
    /// OTLP exports, the resource sampler) took while measuring, in cores;
    /// above [`TELEMETRY_SHARE`] the benchmark is disturbed.
    #[serde(default)]
    pub telemetry_cores: f64,
    /// Lowest and highest CPU frequency read while measuring, MHz, where
    /// the kernel exposes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_mhz: Option<(f64, f64)>,
    /// Thermal throttling events while measuring, where the kernel counts
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled: Option<u64>,
}

impl Disturbance {
    /// The disturbance in words, for tables: `12 samples retaken, 3 kept;
    /// waited for a CPU 4.1 % of the time; others used 1.9 cores`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "{} sample(s) retaken, {} disturbed kept",
            self.retaken, self.kept
        )];
        if self.run_delay_share > 0.0 {
            parts.push(format!(
                "waited for a CPU {:.1} % of the time",
                self.run_delay_share * 100.0
            ));
        }
        if self.steal_share > 0.0 {
            parts.push(format!("steal {:.1} %", self.steal_share * 100.0));
        }
        parts.push(format!("others used {:.1} cores", self.others_cores));
        if self.telemetry_cores > TELEMETRY_SHARE {
            parts.push(format!(
                "benchscope's exporters used {:.0} % of a core",
                self.telemetry_cores * 100.0
            ));
        }
        if let Some(n) = self.throttled.filter(|n| *n > 0) {
            parts.push(format!("{n} thermal throttling event(s)"));
        }
        parts.join("; ")
    }
}

/// One reading of the machine's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    /// Run delay of this thread, ns (`None`: not readable).
    run_delay_ns: Option<u64>,
    /// Involuntary context switches of this thread.
    involuntary: u64,
}

/// `/proc/stat`'s totals over all CPUs, in ticks.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTicks {
    busy: u64,
    steal: u64,
    total: u64,
}

/// Watches the measuring thread and the machine over one benchmark's
/// samples. Create it on the thread that times the samples.
#[derive(Debug)]
pub struct Probe {
    start: Instant,
    /// CPU time of this process at the start, ns (read at the start and
    /// the end only, not per sample).
    own_cpu_first: u64,
    /// CPU charged by the telemetry threads at the start, ns.
    telemetry_first: u64,
    first: Reading,
    last: Reading,
    last_at: Instant,
    stat_first: Option<CpuTicks>,
    stat_last: Option<(Instant, CpuTicks)>,
    /// Steal seen in the current `/proc/stat` window, spread over its samples.
    steal_pending: bool,
    cpus: usize,
    frequency_first: Option<f64>,
    frequency: Option<(f64, f64)>,
    throttle_first: Option<u64>,
    delay_in_samples_ns: u64,
}

impl Probe {
    /// Starts watching: the first reading.
    pub fn start() -> Probe {
        let now = Instant::now();
        let reading = read();
        let stat = read_stat();
        let frequency = read_frequency();
        Probe {
            start: now,
            own_cpu_first: own_cpu_ns(),
            telemetry_first: telemetry_cost::spent_ns(),
            first: reading,
            last: reading,
            last_at: now,
            stat_first: stat,
            stat_last: stat.map(|s| (now, s)),
            steal_pending: false,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            frequency_first: frequency,
            frequency: frequency.map(|f| (f, f)),
            throttle_first: read_throttle(),
            delay_in_samples_ns: 0,
        }
    }

    /// Reads the counters after a sample and says whether it was disturbed
    /// since the previous reading (see the module's rule).
    pub fn sample_disturbed(&mut self) -> bool {
        let now = Instant::now();
        let reading = read();
        let window_ns = now.duration_since(self.last_at).as_nanos().max(1) as f64;
        let delay = match (reading.run_delay_ns, self.last.run_delay_ns) {
            (Some(now), Some(before)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        let switched = reading.involuntary > self.last.involuntary;
        self.delay_in_samples_ns += delay.unwrap_or(0);
        self.last = reading;
        self.last_at = now;
        let stolen = self.steal_in_window(now);
        match delay {
            Some(delay) => delay as f64 > DISTURBED_SHARE * window_ns || stolen,
            None => switched || stolen,
        }
    }

    /// Whether the host stole CPU time in the current `/proc/stat` window:
    /// read again once the window is long enough to count in ticks, and
    /// charged to the samples of that window.
    fn steal_in_window(&mut self, now: Instant) -> bool {
        let Some((at, before)) = self.stat_last else {
            return false;
        };
        if now.duration_since(at).as_nanos() < STAT_WINDOW_NS {
            return self.steal_pending;
        }
        let Some(stat) = read_stat() else {
            return false;
        };
        let ticks = stat.total.saturating_sub(before.total).max(1) as f64;
        let stolen = stat.steal.saturating_sub(before.steal) as f64;
        self.steal_pending = stolen / ticks > DISTURBED_SHARE;
        self.stat_last = Some((now, stat));
        if let Some(f) = read_frequency() {
            self.frequency = self.frequency.map(|(lo, hi)| (lo.min(f), hi.max(f)));
        }
        self.steal_pending
    }

    /// Ends watching: the benchmark's figures, given how many samples were
    /// retaken and how many disturbed ones were kept.
    pub fn finish(self, retaken: u32, kept: u32) -> Disturbance {
        let elapsed_ns = self.start.elapsed().as_nanos().max(1) as f64;
        let end = read();
        let stat = read_stat();
        let (steal_share, others_cores) = match (self.stat_first, stat) {
            (Some(a), Some(b)) => {
                let ticks = b.total.saturating_sub(a.total).max(1) as f64;
                let tick_ns = elapsed_ns * self.cpus as f64 / ticks;
                let busy_ns = b.busy.saturating_sub(a.busy) as f64 * tick_ns;
                let own_ns = own_cpu_ns().saturating_sub(self.own_cpu_first) as f64;
                (
                    b.steal.saturating_sub(a.steal) as f64 / ticks,
                    ((busy_ns - own_ns) / elapsed_ns).max(0.0),
                )
            }
            _ => (0.0, 0.0),
        };
        let throttled = match (self.throttle_first, read_throttle()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let frequency = self.frequency_first.and(self.frequency);
        let telemetry_cores =
            telemetry_cost::spent_ns().saturating_sub(self.telemetry_first) as f64 / elapsed_ns;
        // Frequency that fell by a tenth, or throttling, slows every sample
        // alike, which no retake can mend: the benchmark is disturbed; and
        // so is one whose exporters competed with it for a core.
        let slowed =
            frequency.is_some_and(|(lo, hi)| lo < 0.9 * hi) || throttled.is_some_and(|n| n > 0);
        Disturbance {
            disturbed: kept > 0 || slowed || telemetry_cores > TELEMETRY_SHARE,
            telemetry_cores,
            retaken,
            kept,
            run_delay_share: self.delay_in_samples_ns as f64 / elapsed_ns,
            involuntary_switches: end.involuntary.saturating_sub(self.first.involuntary),
            steal_share,
            others_cores,
            frequency_mhz: frequency,
            throttled,
        }
    }
}

#[cfg(target_os = "linux")]
fn usage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        (libc::getrusage(who, &mut u) == 0).then_some(u)
    }
}

#[cfg(target_os = "linux")]
fn read() -> Reading {
    Reading {
        run_delay_ns: std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse().ok()),
        involuntary: usage(libc::RUSAGE_THREAD).map_or(0, |u| u.ru_nivcsw.max(0) as u64),
    }
}

/// CPU time of this process, user and system, ns.
#[cfg(target_os = "linux")]
fn own_cpu_ns() -> u64 {
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    usage(libc::RUSAGE_SELF).map_or(0, |u| (micros(u.ru_utime) + micros(u.ru_stime)) * 1000)
}

#[cfg(not(target_os = "linux"))]
fn read() -> Reading {
    Reading::default()
}

#[cfg(not(target_os = "linux"))]
fn own_cpu_ns() -> u64 {
    0
}

/// The first line of `/proc/stat`: `cpu user nice system idle iowait irq
/// softirq steal guest guest_nice`.
fn read_stat() -> Option<CpuTicks> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_stat(text.lines().next()?)
}

fn parse_stat(line: &str) -> Option<CpuTicks> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // Guest time is already counted in user and nice.
    let total: u64 = (0..8).map(at).sum();
    let idle = at(3) + at(4);
    Some(CpuTicks {
        busy: total - idle - at(7),
        steal: at(7),
        total,
    })
}

/// The current CPU's frequency in MHz, where cpufreq is there.
fn read_frequency() -> Option<f64> {
    let cpu = current_cpu()?;
    let khz: f64 = std::fs::read_to_string(format!(
        "/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq"
    ))
    .ok()?
    .trim()
    .parse()
    .ok()?;
    Some(khz / 1000.0)
}

/// The current CPU's thermal throttle count, where the kernel keeps one.
fn read_throttle() -> Option<u64> {
    let cpu = current_cpu()?;
    std::fs::read_to_string(format!(
        "/sys/devices/system/cpu/cpu{cpu}/thermal_throttle/core_throttle_count"
    ))
    .ok()?
    .trim()
    .parse()
    .ok()
}

#[cfg(target_os = "linux")]
fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no arguments and no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

#[cfg(not(target_os = "linux"))]
fn current_cpu() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_s_first_line_parses_into_busy_steal_and_total() {
        let t = parse_stat("cpu  12410 0 1714 13615 253 0 26 21 0 0").unwrap();
        assert_eq!(t.total, 12410 + 1714 + 13615 + 253 + 26 + 21);
        assert_eq!(t.steal, 21);
        assert_eq!(t.busy, 12410 + 1714 + 26);
        assert!(parse_stat("cpu0 1 2 3").is_none());
        assert!(parse_stat("cpu x").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_that_yields_its_core_to_a_busier_one_is_seen_waiting() {
        // Pin this thread and a spinning one to the same CPU: this thread
        // then waits for the CPU while the other spins, and the probe says
        // so. (That the same work alone is clean is not asserted: the test
        // runner's other threads may share the CPU.)
        fn pin(cpu: usize) {
            // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes in it.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
            }
        }
        let spin = |ms: u64| {
            let until = Instant::now() + std::time::Duration::from_millis(ms);
            while Instant::now() < until {
                std::hint::black_box(0);
            }
        };
        let cpu = current_cpu().expect("sched_getcpu");
        let stop = std::sync::atomic::AtomicBool::new(false);
        let verdict = std::thread::scope(|s| {
            pin(cpu);
            let stop = &stop;
            s.spawn(move || {
                pin(cpu);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::black_box(0);
                }
            });
            let mut probe = Probe::start();
            spin(60);
            let shared = probe.sample_disturbed();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            (shared, probe)
        });
        let (shared, probe) = verdict;
        assert!(
            shared,
            "a thread sharing its CPU with a spinner is disturbed"
        );
        let d = probe.finish(1, 0);
        assert!(d.run_delay_share > 0.05, "{d:?}");
        // Retaken and none kept: not disturbed, unless the servers of the
        // tests beside this one charged their CPU in its window.
        assert_eq!(d.disturbed, d.telemetry_cores > TELEMETRY_SHARE, "{d:?}");
        assert!(
            d.describe().contains("1 sample(s) retaken"),
            "{}",
            d.describe()
        );
    }
}
