//! The OpenTelemetry Collector built from collector-config/builder-config.yaml
//! (`scripts/build-collector.sh`, which the test command runs), started on
//! free loopback ports with one of the shipped pipelines.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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

/// A quickstart run exporting to its own `/metrics` and by OTLP, with
/// `service.instance.id` set so its series are told apart downstream. It
/// serves `/metrics` for a minute after the suite (killed when dropped).
pub struct Run {
    child: Child,
    direct: SocketAddr,
    pub instance: String,
}

impl Run {
    /// Runs the quick suite with `args` (the OTLP flags, a filter) and `env`;
    /// returns once the suite has finished.
    pub fn start(instance: &str, args: &[String], env: &[(&str, String)]) -> Run {
        let direct = free_addr();
        let mut child = super::quickstart_command()
            .args(["--quick", "--no-history", "--serve-after", "60s"])
            .args(["--prometheus-addr", &direct.to_string()])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("service.instance.id={instance}"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, finished) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("benchscope: suite finished") {
                    let _ = tx.send(());
                }
                if line.contains("failed") {
                    eprintln!("{line}");
                }
            }
        });
        let mut run = Run {
            child,
            direct,
            instance: instance.to_owned(),
        };
        if finished.recv_timeout(Duration::from_secs(120)).is_err() {
            let status = run.child.try_wait().ok().flatten();
            panic!("the {instance} run did not finish its suite (exit {status:?})");
        }
        run
    }

    /// The run's own `/metrics`, final (the suite is over and the resource
    /// sampler stopped), in the form both paths are compared in.
    pub fn direct_series(&self) -> BTreeMap<Key, f64> {
        super::parse(&super::scrape(self.direct))
            .into_iter()
            .map(|s| {
                let mut labels = s.labels;
                if s.name == "target_info" {
                    // What the Collector makes of the resource's identity.
                    for (from, to) in [("service_name", "job"), ("service_instance_id", "instance")]
                    {
                        if let Some(v) = labels.remove(from) {
                            labels.insert(to.into(), v);
                        }
                    }
                }
                (key(s.name, labels), s.value)
            })
            .collect()
    }

    /// Series from downstream, as `direct_series` has them: each carries
    /// job and instance (the service's name and this run's instance id),
    /// which are checked and dropped, except on `target_info`.
    pub fn downstream(
        &self,
        series: Vec<(String, BTreeMap<String, String>, f64)>,
        extra_labels: &[(&str, &str)],
    ) -> Result<BTreeMap<Key, f64>, String> {
        let mut out = BTreeMap::new();
        for (name, mut labels, value) in series {
            for (k, v) in extra_labels {
                if labels.remove(*k).as_deref() != Some(*v) {
                    return Err(format!("{name}{labels:?} lacks {k}={v}"));
                }
            }
            if name != "target_info" {
                let job = labels.remove("job");
                let instance = labels.remove("instance");
                if job.as_deref() != Some("benchscope")
                    || instance.as_deref() != Some(&self.instance)
                {
                    return Err(format!(
                        "{name}{labels:?} has job {job:?} and instance {instance:?}"
                    ));
                }
            }
            out.insert(key(name, labels), value);
        }
        Ok(out)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A series' identity: its name and its labels, with `le` as a number (Go
/// writes 1e-06 where Rust writes 0.000001).
pub type Key = (String, BTreeMap<String, String>);

pub fn key(name: String, mut labels: BTreeMap<String, String>) -> Key {
    if let Some(le) = labels.get_mut("le")
        && let Ok(v) = le.parse::<f64>()
    {
        *le = format!("{v:e}");
    }
    (name, labels)
}

/// What differs between the direct series and downstream's; empty when
/// they are equal, values within `tolerance` of each other (relative).
pub fn differences(
    direct: &BTreeMap<Key, f64>,
    other: &BTreeMap<Key, f64>,
    tolerance: f64,
) -> Vec<String> {
    let close = |a: f64, b: f64| {
        a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= tolerance * a.abs().max(b.abs())
    };
    let mut out = Vec::new();
    let keys: BTreeSet<_> = direct.keys().chain(other.keys()).collect();
    for k in keys {
        match (direct.get(k), other.get(k)) {
            (Some(a), Some(b)) if close(*a, *b) => {}
            (Some(a), Some(b)) => out.push(format!("{k:?}: {a} directly, {b} downstream")),
            (Some(_), None) => out.push(format!("{k:?}: missing downstream")),
            (None, Some(_)) => out.push(format!("{k:?}: only downstream")),
            (None, None) => {}
        }
    }
    out
}

/// Waits (bounded) until `fetch` gives the run's direct series: the same
/// names and labels, values equal (within `tolerance`, relative).
pub fn assert_same_series(
    run: &Run,
    path: &str,
    tolerance: f64,
    fetch: impl Fn() -> Result<BTreeMap<Key, f64>, String>,
) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        // Read both sides each time: "suite finished" is printed just
        // before the resource sampler takes its last reading.
        let direct = run.direct_series();
        assert!(direct.len() > 20, "{} direct series", direct.len());
        let problems = match fetch() {
            Ok(other) => differences(&direct, &other, tolerance),
            Err(e) => vec![e],
        };
        if problems.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{path}: {} of {} series differ from the direct /metrics, for example:\n{}",
                problems.len(),
                direct.len(),
                problems[..problems.len().min(20)].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The flags that send a run's metrics by OTLP to `endpoint`.
pub fn otlp_args(endpoint: &str, protocol: &str) -> Vec<String> {
    [
        "--exporters",
        "prometheus,otlp",
        "--otlp-endpoint",
        endpoint,
    ]
    .into_iter()
    .chain(["--otlp-protocol", protocol])
    .map(str::to_owned)
    .collect()
}
