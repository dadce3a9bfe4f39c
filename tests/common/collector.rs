//! The OpenTelemetry Collector built from collector-config/builder-config.yaml
//! (`scripts/build-collector.sh`, which the test command runs), started on
//! free loopback ports with one of the shipped pipelines.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_addr, repo_root};

/// The Collector binary: `OTELCOL_BIN`, else where the build script puts it.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("OTELCOL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/tools/otelcol-benchscope/otelcol-benchscope"));
    assert!(
        path.is_file(),
        "{} is missing: run the tests with scripts/test.sh, or bash scripts/build-collector.sh",
        path.display()
    );
    path
}

/// The release the builder manifest pins.
pub fn release() -> String {
    let manifest =
        std::fs::read_to_string(repo_root().join("collector-config/builder-config.yaml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("  version: "))
        .expect("dist.version in the builder manifest")
        .trim()
        .to_owned()
}

/// A running Collector; killed when dropped.
pub struct Collector {
    child: Child,
    /// OTLP/gRPC receiver.
    pub grpc: SocketAddr,
    /// OTLP/HTTP receiver.
    pub http: SocketAddr,
    /// The Prometheus exporter's address, when the pipeline has one.
    pub prometheus: SocketAddr,
    /// The health check's address.
    pub health: SocketAddr,
    pub log: PathBuf,
}

impl Collector {
    /// Starts the Collector with `config` (a path under the repository, or
    /// absolute), its ports moved to free ones with `--set`, `env` set, and
    /// `extra` further `--set` overrides; waits until the OTLP/HTTP
    /// receiver accepts connections.
    pub fn start(config: &Path, env: &[(&str, String)], extra: &[String]) -> Collector {
        let (grpc, http, prometheus, health) = (free_addr(), free_addr(), free_addr(), free_addr());
        let config = if config.is_absolute() {
            config.to_owned()
        } else {
            repo_root().join(config)
        };
        let text = std::fs::read_to_string(&config).unwrap();
        let mut sets = vec![
            format!("receivers::otlp::protocols::grpc::endpoint={grpc}"),
            format!("receivers::otlp::protocols::http::endpoint={http}"),
            // The Collector's own metrics would listen on 127.0.0.1:8888,
            // one port for every Collector the tests start at once.
            "service::telemetry::metrics::level=none".into(),
        ];
        if text.contains("\n  prometheus:") {
            sets.push(format!("exporters::prometheus::endpoint={prometheus}"));
        }
        if text.contains("health_check:") {
            sets.push(format!("extensions::health_check::endpoint={health}"));
        }
        sets.extend(extra.iter().cloned());
        let log = std::env::temp_dir().join(format!(
            "benchscope-otelcol-{}-{}.log",
            std::process::id(),
            http.port()
        ));
        let mut cmd = Command::new(binary());
        cmd.arg("--config").arg(&config);
        for s in &sets {
            cmd.arg(format!("--set={s}"));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the Collector");
        let mut collector = Collector {
            child,
            grpc,
            http,
            prometheus,
            health,
            log,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(http).is_err() {
            if let Some(status) = collector.child.try_wait().unwrap() {
                panic!(
                    "the Collector exited ({status}) on {}:\n{}",
                    config.display(),
                    collector.logs()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the Collector did not start:\n{}",
                collector.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        collector
    }

    /// What the Collector has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it and returns what it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Labels the scraper or the Collector adds, which the direct path does not
/// have: `job` and `instance` (and their `exported_` forms).
pub fn without_scrape_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "job" | "instance" | "exported_job" | "exported_instance"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
