//! Overhead of the exporters: the quickstart suite runs as a child process
//! with no exporter, with the Prometheus exporter (scraped every second, as
//! Prometheus would) and with the OTLP exporter (pushing every second to a
//! real OTLP/HTTP receiver in this process), in rotating order over several
//! rounds. Target: ≤ 1.01.
//!
//! Printed, per exporter:
//! - the CPU time ratio the exporter causes: the child's CPU time over its
//!   CPU time less the exporter's own threads (every thread but the
//!   benchmark thread and the resource sampler), read from `/proc`;
//! - the wall time ratio as the benchmarks see it: each benchmark's mean time
//!   per iteration with the exporter over without (median over rounds), and
//!   the run-to-run noise of the no-exporter runs for scale;
//! - the raw CPU and wall totals. These vary by several percent from run to
//!   run whatever the exporter does, because batch sizes follow each run's
//!   warm-up estimate, so they are shown but not used as the ratio.
//!
//! ```text
//! cargo bench --bench overhead
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::otlp::{Answer, HttpReceiver};

const ROUNDS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    None,
    Prometheus,
    Otlp,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Prometheus => "prometheus",
            Mode::Otlp => "otlp",
        }
    }
}

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
    /// CPU time of the child's exporter threads.
    exporter_cpu: Duration,
    means: Vec<(String, f64)>,
}

/// CPU time (user + system) of each thread of `pid`: (tid, name, time).
fn thread_cpu(pid: u32) -> Vec<(u32, String, Duration)> {
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
            let tid = task.file_name().to_string_lossy().parse().ok()?;
            Some((tid, name, Duration::from_secs_f64((utime + stime) / ticks)))
        })
        .collect()
}

fn run(binary: &Path, mode: Mode, otlp_endpoint: &str, out: &Path) -> Sample {
    let mut cmd = Command::new(binary);
    cmd.args(["--output", "json"]).arg(out);
    let stop = Arc::new(AtomicBool::new(false));
    let mut scraper = None;
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
            let stop = stop.clone();
            scraper = Some(std::thread::spawn(move || {
                let url = format!("http://{addr}/metrics");
                let mut scrapes = 0;
                while !stop.load(Ordering::Relaxed) {
                    if ureq::get(&url).call().is_ok() {
                        scrapes += 1;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                scrapes
            }));
        }
    }
    let stderr_path = out.with_extension("stderr");
    std::fs::create_dir_all(out.parent().expect("output dir")).expect("create output dir");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut child = cmd.spawn().expect("run quickstart");
    let pid = child.id();
    // Poll the child's threads until it exits; each thread's last reading is
    // taken within 50 ms of its end.
    let mut last: std::collections::BTreeMap<u32, (String, Duration)> = Default::default();
    let status = loop {
        for (tid, name, cpu) in thread_cpu(pid) {
            last.insert(tid, (name, cpu));
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
    let exporter_cpu = last
        .iter()
        .filter(|(tid, (name, _))| **tid != pid && name != "benchscope-reso")
        .map(|(_, (_, cpu))| *cpu)
        .sum();
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(mode: Mode, on: &[Sample], off: &[Sample]) {
    println!(
        "\n{} exporter vs none over {ROUNDS} rounds (target ≤ 1.01)",
        mode.label()
    );
    let ratios: Vec<f64> = on
        .iter()
        .map(|s| s.cpu.as_secs_f64() / (s.cpu - s.exporter_cpu).as_secs_f64())
        .collect();
    // /proc counts CPU time in clock ticks (10 ms here): below one tick reads as 0.
    let exporter_ms: Vec<String> = on
        .iter()
        .map(|s| match s.exporter_cpu.as_millis() {
            0 => "<10".to_owned(),
            ms => ms.to_string(),
        })
        .collect();
    println!(
        "  CPU time ratio (process / process less exporter threads): {:.4}  (exporter threads' CPU per run: {} ms)",
        median(ratios),
        exporter_ms.join(", ")
    );
    let names = &off[0].means;
    let mut log_sum = 0.0;
    let mut lines = Vec::new();
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
        lines.push(format!(
            "    {name:>28}: {r:.4}   (noise: slowest / fastest of the no-exporter runs {spread:.4})"
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
        "  raw totals vs none (noisy, see above): CPU {:.4}, wall {:.4}",
        total(on, |s| s.cpu) / total(off, |s| s.cpu),
        total(on, |s| s.wall) / total(off, |s| s.wall)
    );
}

fn main() {
    let binary = build_quickstart();
    let receiver = HttpReceiver::start(Answer::Ok);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("overhead");
    let modes = [Mode::None, Mode::Prometheus, Mode::Otlp];
    let mut samples: Vec<Vec<Sample>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        // Rotate the order so drift over time favours no mode.
        for k in 0..modes.len() {
            let i = (round + k) % modes.len();
            let mode = modes[i];
            let out = dir.join(format!("{}-{round}.json", mode.label()));
            let s = run(&binary, mode, &receiver.endpoint(), &out);
            println!(
                "round {} {:>10}: cpu {:>7.3} s  wall {:>7.3} s",
                round + 1,
                mode.label(),
                s.cpu.as_secs_f64(),
                s.wall.as_secs_f64()
            );
            samples[i].push(s);
        }
    }
    assert!(
        receiver.requests.load(Ordering::Relaxed) > 0,
        "the OTLP receiver got nothing"
    );
    report(Mode::Prometheus, &samples[1], &samples[0]);
    report(Mode::Otlp, &samples[2], &samples[0]);
}
