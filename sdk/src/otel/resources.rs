//! Process memory and CPU, sampled by a background thread at the collection
//! interval with `sysinfo` and recorded as `memory_usage_mb` and
//! `cpu_utilization_percent`. The runner only flips an atomic to say which
//! phase it is in; it never waits on the sampler.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::KeyValue;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::instruments::Instruments;

/// What the suite is doing, for the `phase` label of `memory_usage_mb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Between benchmarks.
    Idle = 0,
    /// Warming a benchmark up.
    Warmup = 1,
    /// Taking samples.
    Measure = 2,
}

impl Phase {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
        }
    }

    fn from_u8(v: u8) -> Phase {
        match v {
            1 => Phase::Warmup,
            2 => Phase::Measure,
            _ => Phase::Idle,
        }
    }
}

/// Shared between the runner (which sets the phase) and the sampler.
#[derive(Debug, Default)]
pub struct ResourceState {
    phase: AtomicU8,
    /// Peak RSS in bytes since the last [`ResourceState::take_peak`].
    window_peak: AtomicU64,
    /// Peak RSS in bytes over the whole suite.
    peak: AtomicU64,
}

impl ResourceState {
    /// Tells the sampler which phase the suite is in.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// The phase last set.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    /// Peak RSS in MiB since the previous call (`None` before any reading),
    /// and starts a new window.
    pub fn take_peak(&self) -> Option<f64> {
        let bytes = self.window_peak.swap(0, Ordering::Relaxed);
        (bytes > 0).then(|| bytes as f64 / MIB)
    }

    fn observe(&self, rss: u64) {
        self.window_peak.fetch_max(rss, Ordering::Relaxed);
        self.peak.fetch_max(rss, Ordering::Relaxed);
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// The background sampler; stops when dropped.
#[derive(Debug)]
pub struct ResourceSampler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    state: Arc<ResourceState>,
}

impl ResourceSampler {
    /// Starts sampling every `interval` (the first reading is immediate).
    /// Returns `None` when the system offers no process information.
    pub fn start(interval: Duration, instruments: Instruments) -> Option<ResourceSampler> {
        let state = Arc::new(ResourceState::default());
        let pid = sysinfo::get_current_pid().ok()?;
        let system = System::new().ok()?;
        let (stop, stopped) = mpsc::channel();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("benchscope-resources".into())
            .spawn(move || {
                let mut reader = Reader::new(pid, system, instruments);
                loop {
                    reader.sample(&thread_state);
                    crate::measure::telemetry_cost::charge_thread();
                    match stopped.recv_timeout(interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                }
                reader.sample(&thread_state);
            })
            .ok()?;
        Some(ResourceSampler {
            stop: Some(stop),
            thread: Some(thread),
            state,
        })
    }

    /// The state the runner updates.
    pub fn state(&self) -> &Arc<ResourceState> {
        &self.state
    }
}

impl Drop for ResourceSampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Reader {
    pid: Pid,
    system: System,
    instruments: Instruments,
    process_name: String,
    per_core: Vec<[KeyValue; 2]>,
}

impl Reader {
    fn new(pid: Pid, system: System, instruments: Instruments) -> Reader {
        let process_name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .map(|s| trim_cargo_hash(&s).to_owned())
            .unwrap_or_else(|| "benchscope".into());
        Reader {
            pid,
            system,
            instruments,
            process_name,
            per_core: Vec::new(),
        }
    }

    /// Refreshes the machine's CPU counters, then the process's. The order
    /// matters: a process refresh updates the machine-wide counter and marks
    /// the CPUs as just refreshed, after which sysinfo skips a CPU refresh
    /// for a while, so every core read 0 % when the process came first.
    fn refresh(&mut self) {
        self.system.refresh_cpu_usage();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            false,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
    }

    fn sample(&mut self, state: &ResourceState) {
        self.refresh();
        let process = KeyValue::new("process", self.process_name.clone());
        if let Some(p) = self.system.process(self.pid) {
            let rss = p.memory();
            state.observe(rss);
            let phase = state.phase().as_str();
            self.instruments.memory.record(
                rss as f64 / MIB,
                &[process.clone(), KeyValue::new("phase", phase)],
            );
            self.instruments.memory.record(
                state.peak.load(Ordering::Relaxed) as f64 / MIB,
                &[process.clone(), KeyValue::new("phase", "peak")],
            );
            self.instruments.cpu.record(
                f64::from(p.cpu_usage()),
                &[KeyValue::new("core", "all"), process],
            );
        }
        let cpus = self.system.cpus();
        if self.per_core.len() != cpus.len() {
            self.per_core = (0..cpus.len())
                .map(|i| {
                    [
                        KeyValue::new("core", i.to_string()),
                        KeyValue::new("process", "system"),
                    ]
                })
                .collect();
        }
        for (cpu, attrs) in cpus.iter().zip(&self.per_core) {
            self.instruments.cpu.record(f64::from(cpu.usage()), attrs);
        }
    }
}

/// Cargo names test and bench binaries `name-0123456789abcdef`; the label
/// should not change with every build.
fn trim_cargo_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_hashes_are_trimmed() {
        assert_eq!(trim_cargo_hash("quickstart-0123456789abcdef"), "quickstart");
        assert_eq!(trim_cargo_hash("my-bench"), "my-bench");
    }

    #[test]
    fn a_busy_core_shows_in_the_per_core_figures() {
        // One thread spins while the reader takes readings as the sampler
        // does: the busiest core must show it (it read 0 % on every core
        // when the process was refreshed first), and so must the process.
        let Ok(pid) = sysinfo::get_current_pid() else {
            return;
        };
        let system = System::new().expect("system information");
        let meter = opentelemetry::global::meter("test");
        let mut reader = Reader::new(pid, system, Instruments::new(&meter, &[1.0]));
        let spinning = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let spinner = {
            let spinning = spinning.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while spinning.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
        };
        // sysinfo computes a process's share from its second reading with
        // CPU time behind it, so three readings.
        for pause in [300, 1_000] {
            reader.refresh();
            std::thread::sleep(Duration::from_millis(pause));
        }
        reader.refresh();
        spinning.store(false, Ordering::Relaxed);
        spinner.join().unwrap();
        let busiest = reader
            .system
            .cpus()
            .iter()
            .map(|c| c.usage())
            .fold(0.0f32, f32::max);
        assert!(busiest >= 40.0, "the busiest core read {busiest} %");
        let process = reader.system.process(pid).map(|p| p.cpu_usage());
        assert!(
            process.is_some_and(|p| p >= 40.0),
            "the process read {process:?} %"
        );
    }

    #[test]
    fn peaks_are_windowed_and_suite_wide() {
        let s = ResourceState::default();
        assert_eq!(s.take_peak(), None);
        s.observe(3 * 1024 * 1024);
        s.observe(1024 * 1024);
        assert_eq!(s.take_peak(), Some(3.0));
        s.observe(1024 * 1024);
        assert_eq!(s.take_peak(), Some(1.0));
        assert_eq!(s.peak.load(Ordering::Relaxed), 3 * 1024 * 1024);
    }
}
