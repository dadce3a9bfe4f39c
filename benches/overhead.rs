//! Overhead of the Prometheus exporter: the quickstart suite runs as a child
//! process with the exporter off and on (scraped every second, as Prometheus
//! would), in alternating order over several rounds. Target: ≤ 1.01.
//!
//! Printed:
//! - the CPU time ratio the exporter causes: the child's CPU time over its CPU
//!   time less the exporter's own thread (read from `/proc`), per "on" run;
//! - the wall time ratio as the benchmarks see it: each benchmark's mean time
//!   per iteration with the exporter on over off (median over rounds);
//! - the raw CPU and wall totals of every run. These vary by several percent
//!   from run to run whatever the exporter does, because batch sizes follow
//!   each run's warm-up estimate, so they are shown but not used as the
//!   ratio.
//!
//! ```text
//! cargo bench --bench overhead
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 4;

fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and has no other effect.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn build_quickstart() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--example", "quickstart"])
        .current_dir(root)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the quickstart example failed");
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("release/examples/quickstart")
}

struct Sample {
    cpu: Duration,
    wall: Duration,
    /// CPU time of the child's `benchscope-prometheus` thread.
    exporter_cpu: Duration,
    means: Vec<(String, f64)>,
}

/// CPU time (user + system) of each thread of `pid`, by thread id and name.
fn thread_cpu(pid: u32) -> Vec<(String, String, Duration)> {
    // SAFETY: sysconf has no side effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state is field 3, utime 14 and stime 15 (1-based).
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            let tid = task.file_name().to_string_lossy().into_owned();
            Some((tid, name, Duration::from_secs_f64((utime + stime) / ticks)))
        })
        .collect()
}

fn run(binary: &Path, exporter_on: bool, out: &Path) -> Sample {
    let mut cmd = Command::new(binary);
    cmd.args(["--output", "json"]).arg(out);
    let stop = Arc::new(AtomicBool::new(false));
    let mut scraper = None;
    if exporter_on {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        cmd.args(["--exporters", "prometheus", "--prometheus-addr"])
            .arg(format!("127.0.0.1:{port}"));
        let stop = stop.clone();
        scraper = Some(std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{port}/metrics");
            let mut scrapes = 0;
            while !stop.load(Ordering::Relaxed) {
                if ureq::get(&url).call().is_ok() {
                    scrapes += 1;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            scrapes
        }));
    } else {
        cmd.args(["--exporters", "none"]);
    }
    let stderr_path = out.with_extension("stderr");
    std::fs::create_dir_all(out.parent().expect("output dir")).expect("create output dir");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut child = cmd.spawn().expect("run quickstart");
    // Poll the child's threads until it exits; the exporter thread's last
    // reading is taken within 50 ms of its end.
    let mut exporter_cpu = Duration::ZERO;
    let status = loop {
        for (_, name, cpu) in thread_cpu(child.id()) {
            if name == "benchscope-prom" || name.starts_with("benchscope-prometheus") {
                exporter_cpu = exporter_cpu.max(cpu);
            }
        }
        if let Some(status) = child.try_wait().expect("wait for quickstart") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = start.elapsed();
    let cpu = children_cpu() - cpu_before;
    stop.store(true, Ordering::Relaxed);
    if let Some(s) = scraper {
        let scrapes = s.join().expect("scraper");
        assert!(scrapes > 0, "the exporter was never scraped");
    }
    assert!(
        status.success(),
        "quickstart failed: {}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let run = benchscope::SuiteRun::read_json(out).expect("results");
    Sample {
        cpu,
        wall,
        exporter_cpu,
        means: run
            .benchmarks
            .iter()
            .map(|b| (b.name.clone(), b.stats.mean))
            .collect(),
    }
}

fn main() {
    let binary = build_quickstart();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("overhead");
    let mut off = Vec::new();
    let mut on = Vec::new();
    for round in 0..ROUNDS {
        // Alternate which goes first so drift over time does not favour one side.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for exporter_on in order {
            let label = if exporter_on { "on" } else { "off" };
            let s = run(
                &binary,
                exporter_on,
                &dir.join(format!("{label}-{round}.json")),
            );
            println!(
                "round {} exporter {label:>3}: cpu {:>7.3} s  wall {:>7.3} s",
                round + 1,
                s.cpu.as_secs_f64(),
                s.wall.as_secs_f64()
            );
            if exporter_on { on.push(s) } else { off.push(s) }
        }
    }
    println!("\nPrometheus exporter on / off over {ROUNDS} rounds (target ≤ 1.01)");
    let ratios: Vec<f64> = on
        .iter()
        .map(|s| s.cpu.as_secs_f64() / (s.cpu - s.exporter_cpu).as_secs_f64())
        .collect();
    // /proc counts CPU time in clock ticks (10 ms here): a thread below one
    // tick reads as 0.
    let exporter_ms: Vec<String> = on
        .iter()
        .map(|s| match s.exporter_cpu.as_millis() {
            0 => "<10".to_owned(),
            ms => ms.to_string(),
        })
        .collect();
    println!(
        "  CPU time ratio (process / process less exporter thread): {:.4}  (exporter thread CPU per run: {} ms)",
        median(ratios),
        exporter_ms.join(", ")
    );
    let mut log_sum = 0.0;
    let names = &off[0].means;
    let mut lines = Vec::new();
    for (i, (name, _)) in names.iter().enumerate() {
        let r = median(
            on.iter()
                .zip(&off)
                .map(|(a, b)| a.means[i].1 / b.means[i].1)
                .collect(),
        );
        log_sum += r.ln();
        let offs: Vec<f64> = off.iter().map(|s| s.means[i].1).collect();
        let spread = offs.iter().cloned().fold(f64::MIN, f64::max)
            / offs.iter().cloned().fold(f64::MAX, f64::min);
        lines.push(format!(
            "    {name:>28}: {r:.4}   (noise: slowest / fastest of the off runs {spread:.4})"
        ));
    }
    println!(
        "  wall time ratio (time per iteration, geometric mean over benchmarks): {:.4}",
        (log_sum / names.len() as f64).exp()
    );
    for line in lines {
        println!("{line}");
    }
    let total =
        |v: &[Sample], f: fn(&Sample) -> Duration| v.iter().map(f).sum::<Duration>().as_secs_f64();
    println!(
        "  raw totals, on / off (noisy, see above): CPU {:.4}, wall {:.4}",
        total(&on, |s| s.cpu) / total(&off, |s| s.cpu),
        total(&on, |s| s.wall) / total(&off, |s| s.wall)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
