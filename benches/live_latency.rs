//! The live view under load, on loopback.
//!
//! 1. Latency from a sample being recorded to its message arriving at a
//!    client, with 1, 10 and 100 WebSocket clients: p50 and p99. (Spec
//!    ceiling for a dashboard update: 5 s; aim: p99 under 100 ms.)
//! 2. The CPU the live view costs a suite with 100 connected clients: the
//!    live server's threads (from `/proc`) plus the publishing done on the
//!    benchmark thread between samples (samples published × the measured
//!    cost of one publish to 100 clients), over the suite's CPU time without
//!    them. Target ≤ 1.01. A plain "with clients / without" ratio of total
//!    CPU is printed too, but it is noisy: batch sizes follow each run's
//!    warm-up estimate, so a suite's own CPU varies by several percent.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench live_latency
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benchscope::Progress;
use benchscope::config::{Config, ExporterKind, MeasurementConfig};
use benchscope::internals::LiveHub;
use benchscope::internals::LiveServer;
use benchscope::monitored_bench;
use benchscope::{Endpoints, Reporter, Silent, Suite};
use tungstenite::Message;

const SAMPLES: u32 = 300;

#[monitored_bench]
fn hash_4k() -> u64 {
    std::hint::black_box([7u8; 4096])
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

#[monitored_bench]
fn sort_1k(b: &mut benchscope::Bencher) {
    let data: Vec<u32> = (0..1000).rev().collect();
    b.iter_batched(
        || data.clone(),
        |mut v| {
            v.sort_unstable();
            v
        },
    );
}

/// A client thread that reads until told to stop, calling `on_sample(done)`.
fn client(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    on_sample: impl Fn(u64) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("ws-client".into())
        .spawn(move || {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let (mut ws, _) = tungstenite::client(format!("ws://{addr}/ws"), stream).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str())
                            && v["type"] == "sample"
                        {
                            on_sample(v["done"].as_u64().unwrap_or(0));
                        }
                    }
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
        .unwrap()
}

fn latency(clients: usize) {
    let mut hub = LiveHub::new();
    let server = LiveServer::start("127.0.0.1:0".parse().unwrap(), None, 256, hub.clone()).unwrap();
    let origin = Instant::now();
    let published: Arc<Vec<AtomicU64>> =
        Arc::new((0..=SAMPLES).map(|_| AtomicU64::new(0)).collect());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (published, latencies) = (published.clone(), latencies.clone());
            client(server.local_addr(), stop.clone(), move |done| {
                let sent = published[done as usize].load(Ordering::Acquire);
                let now = origin.elapsed().as_nanos() as u64;
                if sent > 0 {
                    latencies.lock().unwrap().push((now - sent) as f64 / 1e6);
                }
            })
        })
        .collect();
    while hub.clients() < clients {
        std::thread::sleep(Duration::from_millis(10));
    }
    hub.suite_started(&["bench".into()], &Endpoints::default());
    for done in 1..=SAMPLES {
        published[done as usize].store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        hub.progress(
            "bench",
            Progress::Sample {
                done,
                of: SAMPLES,
                ns: 1000.0,
            },
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(server);
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let at = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    println!(
        "  {clients:>3} clients: p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  ({} of {} messages received; the rest replaced by snapshots)",
        at(0.50),
        at(0.99),
        l[l.len() - 1],
        l.len(),
        clients as u32 * SAMPLES
    );
}

/// CPU time (user + system) of the whole process, exited threads included.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and has no other effect.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time of this process's threads whose name starts with `prefix`
/// (read while they run).
fn threads_cpu(prefix: &str) -> Duration {
    common::thread_cpu(std::process::id())
        .into_iter()
        .filter(|(_, name, _)| name.starts_with(prefix))
        .map(|(_, _, cpu)| cpu)
        .sum()
}

/// Sends the live address once the suite starts; counts samples; reads the
/// live server's CPU at the end, before the server stops.
struct Started {
    addr: std::sync::mpsc::Sender<SocketAddr>,
    samples: u64,
    live_cpu: Duration,
}

impl Reporter for Started {
    fn suite_started(&mut self, _: &[String], endpoints: &Endpoints) {
        let _ = self.addr.send(endpoints.live.unwrap());
    }
    fn progress(&mut self, _: &str, progress: Progress) {
        if matches!(progress, Progress::Sample { .. }) {
            self.samples += 1;
        }
    }
    fn suite_finished(&mut self, _: &benchscope::SuiteRun) {
        self.live_cpu = threads_cpu("benchscope-live");
    }
}

struct SuiteCpu {
    /// The process's CPU, the clients' own excepted.
    total: Duration,
    /// The live server's threads.
    live: Duration,
    /// Samples published.
    samples: u64,
}

fn suite_with(clients: usize) -> SuiteCpu {
    let mut config = Config::default();
    config.exporters = vec![ExporterKind::Live];
    config.live.addr = "127.0.0.1:0".parse().unwrap();
    config.live.max_clients = 256;
    config.history.enabled = false;
    // About 12 s, like the quickstart: long enough that the 100
    // clients' connections and first snapshots are not most of it.
    let m = &mut config.measurement;
    m.samples = 100;
    m.warmup = Duration::from_millis(500);
    m.min_time = Duration::from_secs(5);
    m.max_time = Duration::from_secs(8);
    let entries = benchscope::benchmarks().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let before = process_cpu();
    let suite = std::thread::spawn(move || {
        let mut started = Started {
            addr: tx,
            samples: 0,
            live_cpu: Duration::ZERO,
        };
        Suite::new(config).run(&entries, &mut started).unwrap();
        started
    });
    let addr = rx.recv().unwrap();
    let threads: Vec<_> = (0..clients)
        .map(|_| client(addr, stop.clone(), |_| {}))
        .collect();
    let started = suite.join().unwrap();
    // The clients stand for browsers elsewhere: their own CPU is not the suite's.
    let total = process_cpu() - before - threads_cpu("ws-client");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    SuiteCpu {
        total,
        live: started.live_cpu,
        samples: started.samples,
    }
}

/// The cost of publishing one sample with `clients` connected, on the
/// publishing thread.
fn publish_cost(clients: usize) -> Duration {
    let mut hub = LiveHub::new();
    let server = LiveServer::start("127.0.0.1:0".parse().unwrap(), None, 256, hub.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| client(server.local_addr(), stop.clone(), |_| {}))
        .collect();
    while hub.clients() < clients {
        std::thread::sleep(Duration::from_millis(10));
    }
    const N: u32 = 5000;
    let start = Instant::now();
    for done in 1..=N {
        hub.progress(
            "bench",
            Progress::Sample {
                done,
                of: N,
                ns: 1000.0,
            },
        );
    }
    let cost = start.elapsed() / N;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    cost
}

fn main() {
    println!(
        "latency from a recorded sample to its message at a client (300 samples, 10 ms apart):"
    );
    for clients in [1, 10, 100] {
        latency(clients);
    }
    // Warm up once so neither side pays for first-use costs.
    let mut quiet = Config::default();
    quiet.exporters.clear();
    let _ = Suite::new(quiet)
        .with_measurement(MeasurementConfig::quick())
        .run(&benchscope::benchmarks().unwrap(), &mut Silent);
    let per_publish = publish_cost(100);
    let mut ratios = Vec::new();
    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
    for round in 0..3 {
        let (a, b) = if round % 2 == 0 {
            let b = suite_with(0);
            (suite_with(100), b)
        } else {
            let a = suite_with(100);
            (a, suite_with(0))
        };
        let publishing = per_publish * a.samples as u32;
        let cost = a.live + publishing;
        let ratio = a.total.as_secs_f64() / (a.total - cost).as_secs_f64();
        println!(
            "round {}: 100 clients: suite CPU {:.3} s, live server threads {:.0} ms, publishing {} samples {:.1} ms -> ratio {ratio:.4};  no clients: suite CPU {:.3} s",
            round + 1,
            a.total.as_secs_f64(),
            a.live.as_secs_f64() * 1e3,
            a.samples,
            publishing.as_secs_f64() * 1e3,
            b.total.as_secs_f64()
        );
        ratios.push(ratio);
        with += a.total;
        without += b.total;
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "one publish to 100 clients costs {:.1} µs on the benchmark thread",
        per_publish.as_secs_f64() * 1e6
    );
    println!(
        "CPU ratio, suite with the live view and 100 clients / without it: {:.4} (median of 3; target <= 1.01)",
        ratios[1]
    );
    println!(
        "raw total CPU, 100 clients / none (noisy): {:.4}",
        with.as_secs_f64() / without.as_secs_f64()
    );
}
