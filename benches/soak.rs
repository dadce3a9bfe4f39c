//! Soak: the quickstart suite stretched to SOAK_MINUTES (30 by default) in
//! one process, scraped by a Prometheus-like client every second and
//! watched by 10 live WebSocket clients (which reconnect when dropped),
//! while its resident memory, open descriptors and threads are read from
//! `/proc` every 10 s. Printed: the first minute's highest figures, later
//! readings, and the end's growth beyond the first minute's, split into
//! growth while benchmarks measure (target: none) and growth when a
//! benchmark finishes and its series first appear in the instruments
//! (bounded by the number of series; about 0.3-0.5 MiB a benchmark).
//!
//! ```text
//! cargo bench -p benchscope-benches --bench soak                  # 30 minutes
//! SOAK_MINUTES=5 cargo bench -p benchscope-benches --bench soak   # a shorter look
//! SOAK_FILTER=strings/parse_u64 SOAK_MINUTES=6 cargo bench -p benchscope-benches --bench soak
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/suite_runs.rs"]
mod suite_runs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// (resident MiB, open descriptors, threads) of `pid`, or `None` once it exited.
fn reading(pid: u32) -> Option<(f64, usize, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let rss = field("VmRSS:")? / 1024.0;
    let threads = field("Threads:")? as usize;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds, threads))
}

fn main() {
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let binary = suite_runs::build_quickstart();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak");
    std::fs::create_dir_all(&dir).expect("a folder");
    // Six benchmarks, each measured for a sixth of the time, with few but
    // long samples: what grows is then what should not. SOAK_FILTER picks
    // one benchmark for the whole time instead: no series appear after its
    // first minute, so the process should not grow at all.
    let filter = std::env::var("SOAK_FILTER").ok();
    let each = if filter.is_some() {
        minutes * 60
    } else {
        minutes * 60 / 6
    };
    let config = dir.join("soak.toml");
    std::fs::write(
        &config,
        format!(
            "exporters = [\"prometheus\", \"live\"]\n[measurement]\nsamples = 2000\nwarmup = \"1s\"\nmin_time = \"{each}s\"\nmax_time = \"{each}s\"\n"
        ),
    )
    .expect("the configuration");
    let (metrics, live) = (common::free_addr(), common::free_addr());
    let mut child = std::process::Command::new(&binary)
        .args(["--config", config.to_str().unwrap(), "--no-history"])
        .args(filter.iter().flat_map(|f| ["--exact", f.as_str()]))
        .args(["--prometheus-addr", &metrics.to_string()])
        .args(["--live-addr", &live.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("soak.stderr")).expect("stderr"))
        .spawn()
        .expect("run the quickstart");
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = suite_runs::scraper(metrics, stop.clone());
    let connected = Arc::new(AtomicUsize::new(0));
    // Clients that reconnect: each runs until stop, reconnecting when the
    // server drops it.
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let stop = stop.clone();
            let connected = connected.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = suite_runs::live_client(live, stop.clone(), connected.clone()).join();
                }
            })
        })
        .collect();
    println!(
        "soak: the quickstart suite for about {minutes} min, scraped every second, 10 live clients"
    );
    println!(
        "{:>8}  {:>9}  {:>4}  {:>7}",
        "time", "RSS MiB", "fds", "threads"
    );
    let start = Instant::now();
    let mut first_minute = (0.0f64, 0usize, 0usize);
    let mut last = None;
    let mut next_print = Duration::from_secs(60);
    // Benchmarks finished so far, from the suite's stderr: each finished
    // benchmark adds its series to every instrument, whose tables the
    // OpenTelemetry SDK reserves for 2000 series up front and touches as
    // series arrive. Growth between two readings with no benchmark
    // finished in between is growth while measuring, which must be none.
    let finished = || {
        std::fs::read_to_string(dir.join("soak.stderr"))
            .map(|t| t.lines().filter(|l| l.contains(": p50 ")).count())
            .unwrap_or(0)
    };
    let mut previous: Option<(f64, usize)> = None;
    let (mut while_measuring, mut at_boundaries) = (0.0f64, 0.0f64);
    while let Some(r) = reading(pid) {
        let t = start.elapsed();
        let done = finished();
        if let Some((rss, before)) = previous
            && t > Duration::from_secs(60)
        {
            if done == before {
                while_measuring += r.0 - rss;
            } else {
                at_boundaries += r.0 - rss;
            }
        }
        previous = Some((r.0, done));
        if t <= Duration::from_secs(60) {
            first_minute = (
                first_minute.0.max(r.0),
                first_minute.1.max(r.1),
                first_minute.2.max(r.2),
            );
        }
        if t >= next_print {
            println!(
                "{:>7.0}s  {:>9.1}  {:>4}  {:>7}",
                t.as_secs_f64(),
                r.0,
                r.1,
                r.2
            );
            next_print += Duration::from_secs(if minutes > 10 { 300 } else { 60 });
        }
        last = Some((t, r));
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_secs(10));
    }
    let status = child.wait().expect("the suite's status");
    stop.store(true, Ordering::Relaxed);
    let scrapes = scraper.join().unwrap_or(0);
    for c in clients {
        let _ = c.join();
    }
    let Some((t, end)) = last else {
        panic!("the suite exited before the first reading");
    };
    println!(
        "first minute's highest: RSS {:.1} MiB, {} fds, {} threads",
        first_minute.0, first_minute.1, first_minute.2
    );
    println!(
        "last reading at {:.0} s: RSS {:.1} MiB, {} fds, {} threads",
        t.as_secs_f64(),
        end.0,
        end.1,
        end.2
    );
    println!(
        "growth beyond the first minute: RSS {:+.1} MiB, fds {:+}, threads {:+} (target: none); {scrapes} scrapes, {} live connections made; the suite exited {status}",
        end.0 - first_minute.0,
        end.1 as i64 - first_minute.1 as i64,
        end.2 as i64 - first_minute.2 as i64,
        connected.load(Ordering::Relaxed)
    );
    println!(
        "of that growth: {while_measuring:+.2} MiB while benchmarks measured (target: none), {at_boundaries:+.2} MiB when a benchmark finished and its series first appeared ({} benchmarks)",
        finished()
    );
}
