//! What `#[monitored_bench]` costs a real service: the example service
//! (`examples/service`) built twice in release, with the attribute on its
//! handlers and without it (`--features bare`), each run as a process of its
//! own and loaded by `wrk` (Debian's package, a process of its own too) on
//! its cheapest route, `/hello`, where the attribute's share is largest.
//! The two builds alternate round after round; each round gives the
//! requests per second and the service's CPU time per request (from
//! `/proc`, steadier than throughput when the load generator shares the
//! cores), and the medians of the rounds' ratios are printed. Target:
//! instrumented / bare within 2 %.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench service_load    # wrk must be installed
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 11;
const SECONDS: u32 = 4;

/// Builds the service with `features` and keeps a copy under `name`.
fn build(features: &[&str], name: &str) -> PathBuf {
    let root = common::repo_root();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--release", "-p", "benchscope-example-service"])
        .current_dir(&root);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    assert!(cmd.status().expect("cargo").success(), "build {name}");
    let built = root.join("target/release/service");
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::copy(&built, &copy).expect("copy the service");
    copy
}

struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path) -> Running {
    let mut child = Command::new(binary)
        .env("SERVICE_ADDR", "127.0.0.1:0")
        .env("BENCHSCOPE_PROMETHEUS_ADDR", "127.0.0.1:0")
        .env_remove("BENCHSCOPE_CONFIG")
        .current_dir(std::env::temp_dir())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the service");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the service printed its address")
            .expect("a line");
        if let Some(a) = line.strip_prefix("serving at http://") {
            break a.trim_end_matches('/').to_owned();
        }
    };
    // Keep draining stderr so the service never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Running { child, addr }
}

/// CPU time the process has used, in seconds (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc");
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// What `wrk` got from the service: requests per second and requests in all.
fn load(addr: &str) -> (f64, f64) {
    let out = Command::new("wrk")
        .args(["-t1", "-c16", &format!("-d{SECONDS}s")])
        .arg(format!("http://{addr}/hello/bench"))
        .output()
        .expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "the service answered errors: {text}"
    );
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output: {text}"));
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output: {text}"));
    (rps, requests)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!(
            "service_load: skipped, `wrk` is not installed (apt-get install wrk; scripts/perf.sh installs it)"
        );
        return;
    }
    let instrumented = build(&[], "service-instrumented");
    let bare = build(&["bare"], "service-bare");
    println!(
        "example service, GET /hello, wrk -t1 -c16 -d{SECONDS}s, {ROUNDS} rounds in alternating order"
    );
    let (mut throughput, mut cpu) = (Vec::new(), Vec::new());
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which goes first, so drift favours neither.
        let order: [(&Path, bool); 2] = if round % 2 == 0 {
            [(&instrumented, true), (&bare, false)]
        } else {
            [(&bare, false), (&instrumented, true)]
        };
        // (requests per second, CPU microseconds per request), on then off.
        let mut this = [(0.0, 0.0); 2];
        for (binary, is_on) in order {
            let service = start(binary);
            std::thread::sleep(Duration::from_millis(300));
            let before = cpu_seconds(service.child.id());
            let (rps, requests) = load(&service.addr);
            let used = cpu_seconds(service.child.id()) - before;
            this[usize::from(!is_on)] = (rps, used * 1e6 / requests);
        }
        let (t, c) = (this[0].0 / this[1].0, this[0].1 / this[1].1);
        println!(
            "round {:>2}: instrumented {:>7.0} req/s {:>6.2} µs CPU/req   bare {:>7.0} req/s {:>6.2} µs CPU/req   throughput ratio {t:.4}  CPU ratio {c:.4}",
            round + 1,
            this[0].0,
            this[0].1,
            this[1].0,
            this[1].1,
        );
        on.push(this[0].0);
        off.push(this[1].0);
        throughput.push(t);
        cpu.push(c);
    }
    println!(
        "\nmedian: instrumented {:.0} req/s, bare {:.0} req/s",
        median(on),
        median(off)
    );
    println!(
        "median of the rounds' ratios, instrumented / bare: throughput {:.4}, CPU per request {:.4} (target: within 2 %)",
        median(throughput),
        median(cpu)
    );
}
