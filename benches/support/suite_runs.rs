//! Running the quickstart suite as a child process with a chosen set of
//! exporters, and measuring it: CPU time (from `wait4`), peak RSS and the
//! CPU time of its exporter threads (from `/proc`), wall time, and each
//! benchmark's mean time per iteration. Shared by the `overhead` and `peers`
//! benchmarks (each uses only some of it).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common;

/// Which exporters the child runs with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    None,
    /// Scraped every second, as Prometheus would.
    Prometheus,
    /// Pushing every second to the OTLP/HTTP receiver given to [`run`].
    Otlp,
    /// Prometheus (scraped), OTLP and the live view with this many
    /// WebSocket clients reading the stream.
    All {
        live_clients: usize,
    },
}

impl Mode {
    pub fn label(self) -> String {
        match self {
            Mode::None => "none".into(),
            Mode::Prometheus => "prometheus".into(),
            Mode::Otlp => "otlp".into(),
            Mode::All { live_clients } => format!("all+{live_clients}ws"),
        }
    }
}

/// One measured run of the suite.
pub struct Sample {
    /// User + system CPU time of the child.
    pub cpu: Duration,
    pub wall: Duration,
    /// Peak resident set size of the child (VmHWM, read every 50 ms), in bytes.
    pub peak_rss: u64,
    /// CPU time of the child's exporter threads (every thread but the
    /// benchmark thread and the resource sampler).
    pub exporter_cpu: Duration,
    /// (benchmark, mean ns per iteration), in suite order.
    pub means: Vec<(String, f64)>,
}

/// Builds the quickstart example in release mode, with OTLP over HTTP
/// beside its own features (the OTLP modes push with it); returns its path.
pub fn build_quickstart() -> PathBuf {
    let root = crate::common::repo_root();
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--example",
            "quickstart",
            "--features",
            "benchscope/otlp-http",
        ])
        .current_dir(root)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the quickstart example failed");
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("release/examples/quickstart")
}

/// The peak resident set size of `pid` so far (VmHWM), in bytes. Read
/// from /proc because wait4's ru_maxrss also counts the memory of the
/// parent the child was forked from before it exec'd.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Scrapes `addr`'s /metrics every second until `stop`; returns the count.
pub fn scraper(addr: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let url = format!("http://{addr}/metrics");
        let mut scrapes = 0;
        while !stop.load(Ordering::Relaxed) {
            if ureq::get(&url).call().is_ok() {
                scrapes += 1;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        scrapes
    })
}

/// A WebSocket client of the live view: connects (retrying until the server
/// is up) and reads everything until `stop`; counts itself in `connected`.
pub fn live_client(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicUsize>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut ws = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if let Ok(stream) = TcpStream::connect(addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                if let Ok((ws, _)) = tungstenite::client(format!("ws://{addr}/ws"), stream) {
                    break ws;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        connected.fetch_add(1, Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) {
            match ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
    })
}

/// Runs the suite at `binary` once in `mode`, its JSON results written to
/// `out`; `otlp_endpoint` receives the OTLP modes' pushes.
pub fn run(binary: &Path, mode: Mode, otlp_endpoint: &str, out: &Path) -> Sample {
    let mut cmd = Command::new(binary);
    cmd.args(["--no-history", "--output", "json"]).arg(out);
    let stop = Arc::new(AtomicBool::new(false));
    let mut scrapers = Vec::new();
    let mut clients = Vec::new();
    let connected = Arc::new(AtomicUsize::new(0));
    match mode {
        Mode::None => {
            cmd.args(["--exporters", "none"]);
        }
        Mode::Otlp => {
            cmd.args(["--exporters", "otlp", "--otlp-endpoint", otlp_endpoint]);
        }
        Mode::Prometheus => {
            let addr = common::free_addr();
            cmd.args(["--exporters", "prometheus", "--prometheus-addr"])
                .arg(addr.to_string());
            scrapers.push(scraper(addr, stop.clone()));
        }
        Mode::All { live_clients } => {
            let metrics = common::free_addr();
            let live = common::free_addr();
            cmd.args(["--exporters", "prometheus,otlp,live"])
                .args(["--prometheus-addr", &metrics.to_string()])
                .args(["--otlp-endpoint", otlp_endpoint])
                .args(["--live-addr", &live.to_string()]);
            scrapers.push(scraper(metrics, stop.clone()));
            for _ in 0..live_clients {
                clients.push(live_client(live, stop.clone(), connected.clone()));
            }
        }
    }
    let stderr_path = out.with_extension("stderr");
    std::fs::create_dir_all(out.parent().expect("output dir")).expect("create output dir");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let start = Instant::now();
    // Reaped by wait4 below, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("run quickstart");
    let pid = child.id();
    // Poll the child's threads until it exits; each thread's last reading is
    // taken within 50 ms of its end. wait4 reaps it with its resource usage.
    let mut last: std::collections::BTreeMap<u32, (String, Duration)> = Default::default();
    let mut peak = 0;
    let (status, usage) = loop {
        for (tid, name, cpu) in common::thread_cpu(pid) {
            last.insert(tid, (name, cpu));
        }
        peak = peak_rss(pid).unwrap_or(0).max(peak);
        let mut status = 0;
        // SAFETY: wait4 writes the status and usage of our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid as i32 {
            break (status, usage);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for s in scrapers {
        assert!(
            s.join().expect("scraper") > 0,
            "the exporter was never scraped"
        );
    }
    for c in clients {
        c.join().expect("live client");
    }
    if let Mode::All { live_clients } = mode {
        assert_eq!(
            connected.load(Ordering::Relaxed),
            live_clients,
            "not every live client connected"
        );
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "quickstart failed: {}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let exporter_cpu = last
        .iter()
        .filter(|(tid, (name, _))| **tid != pid && name != "benchscope-reso")
        .map(|(_, (_, cpu))| *cpu)
        .sum();
    let results = benchscope::SuiteRun::read_json(out).expect("results");
    Sample {
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        wall,
        peak_rss: peak,
        exporter_cpu,
        means: results
            .benchmarks
            .iter()
            .map(|b| (b.name.clone(), b.stats.mean))
            .collect(),
    }
}

/// The median of `v` (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs every mode `rounds` times, rotating the order each round so drift
/// over time favours no mode; prints each run. Returns the samples by mode.
pub fn rounds(
    binary: &Path,
    modes: &[Mode],
    rounds: usize,
    otlp_endpoint: &str,
) -> Vec<Vec<Sample>> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("suite-runs");
    let mut samples: Vec<Vec<Sample>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..modes.len() {
            let i = (round + k) % modes.len();
            let mode = modes[i];
            let out = dir.join(format!("{}-{round}.json", mode.label()));
            let s = run(binary, mode, otlp_endpoint, &out);
            println!(
                "round {} {:>10}: cpu {:>7.3} s  wall {:>7.3} s  peak RSS {:>6.1} MB",
                round + 1,
                mode.label(),
                s.cpu.as_secs_f64(),
                s.wall.as_secs_f64(),
                s.peak_rss as f64 / 1e6
            );
            samples[i].push(s);
        }
    }
    samples
}

/// The CPU time ratio an exporter causes, per run: the process's CPU time
/// over its CPU time less the exporter threads'.
pub fn exporter_cpu_ratio(on: &[Sample]) -> f64 {
    median(
        on.iter()
            .map(|s| s.cpu.as_secs_f64() / (s.cpu - s.exporter_cpu).as_secs_f64())
            .collect(),
    )
}

/// Per benchmark, the median over rounds of (mean with / mean without), and
/// their geometric mean.
pub fn wall_ratios(on: &[Sample], off: &[Sample]) -> (f64, Vec<(String, f64, f64)>) {
    let names = &off[0].means;
    let mut log_sum = 0.0;
    let mut rows = Vec::new();
    for (i, (name, _)) in names.iter().enumerate() {
        let r = median(
            on.iter()
                .zip(off)
                .map(|(a, b)| a.means[i].1 / b.means[i].1)
                .collect(),
        );
        log_sum += r.ln();
        let offs: Vec<f64> = off.iter().map(|s| s.means[i].1).collect();
        let spread = offs.iter().cloned().fold(f64::MIN, f64::max)
            / offs.iter().cloned().fold(f64::MAX, f64::min);
        rows.push((name.clone(), r, spread));
    }
    ((log_sum / names.len() as f64).exp(), rows)
}
