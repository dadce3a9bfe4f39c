//! Application mode in a real service: the example service
//! (`examples/service`) runs as a process of its own with
//! `benchscope::init()`, this test sends it exactly N requests over HTTP,
//! and its `/metrics` then counts exactly N calls of each instrumented
//! handler, and the service stops cleanly on Ctrl-C (SIGINT).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{find, parse, scrape};

/// The service, with the addresses it printed.
struct Service {
    child: Child,
    app: SocketAddr,
    metrics: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service() -> Service {
    let mut cmd = Command::new(common::service_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .env("SERVICE_ADDR", "127.0.0.1:0")
        .env("BENCHSCOPE_PROMETHEUS_ADDR", "127.0.0.1:0")
        .env("BENCHSCOPE_ENVIRONMENT", "prod")
        .env_remove("CARGO_MANIFEST_DIR")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the service");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut app, mut metrics) = (None, None);
    while app.is_none() || metrics.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the service printed its addresses");
        if let Some(a) = line.strip_prefix("serving at http://") {
            app = a.trim_end_matches('/').parse().ok();
        }
        // benchscope::init() says where /metrics is served, and as what.
        if let Some(m) = line
            .strip_prefix("benchscope: service `service` serves its metrics at http://")
            .and_then(|r| r.strip_suffix("/metrics"))
        {
            metrics = m.parse().ok();
        }
    }
    Service {
        child,
        app: app.expect("service address"),
        metrics: metrics.expect("metrics address"),
    }
}

#[test]
fn every_request_is_counted_once_in_the_histogram() {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let service = start_service();
    let app = service.app;
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                for i in 0..EACH {
                    let url = if i % 5 == 0 {
                        format!("http://{app}/checksum?len={}", 64 + i)
                    } else {
                        format!("http://{app}/hello/client{t}")
                    };
                    let body = agent
                        .get(&url)
                        .call()
                        .expect("the service answers")
                        .body_mut()
                        .read_to_string()
                        .expect("a body");
                    assert!(!body.is_empty());
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("a sender");
    }
    let checksums = THREADS * EACH / 5;
    let hellos = THREADS * EACH - checksums;

    let series = parse(&scrape(service.metrics));
    let count = |name: &str| {
        let found = find(
            &series,
            "benchmark_execution_time_ms_count",
            &[("benchmark_name", name), ("environment", "prod")],
        );
        assert_eq!(found.len(), 1, "one series for {name}");
        found[0].value
    };
    assert_eq!(count("hello"), hellos as f64, "every /hello call, once");
    assert_eq!(count("checksum"), checksums as f64);
    // The handler's own work is instrumented too: one call per request.
    assert_eq!(count("adler32"), checksums as f64);
    let routed = find(
        &series,
        "benchmark_execution_time_ms_count",
        &[("benchmark_name", "hello"), ("route", "hello")],
    );
    assert_eq!(routed.len(), 1, "labels(...) reach the series");
    // The resource says which service this is: named after its executable.
    assert_eq!(
        find(&series, "target_info", &[("service_name", "service")]).len(),
        1
    );
}

#[test]
fn the_service_stops_on_ctrl_c() {
    let mut service = start_service();
    let _ = ureq::get(format!("http://{}/hello/x", service.app)).call();
    // SAFETY: sending a signal to our own child process, which is running.
    let sent = unsafe { libc::kill(service.child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = service.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the service did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
