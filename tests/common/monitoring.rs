//! The monitoring stack in tests: `monitoring/local-stack.sh` (Prometheus,
//! Alertmanager and node_exporter from Debian's packages, on loopback), PromQL queries against
//! it, and a webhook receiver standing in for the team's alert relay.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::free_addr;
use super::otlp::Served;

/// A path in the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    super::repo_root().join(relative)
}

/// `name` on the PATH, if it is there.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// A command from Debian's packages that scripts/test.sh installs.
pub fn installed_tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
            panic!("`{name}` is not installed: run the tests with scripts/test.sh, which installs prometheus and prometheus-alertmanager")
        })
}

/// Prometheus 3 as scripts/build-prometheus.sh builds it: `PROMETHEUS3_BIN`,
/// else where that script puts it.
pub fn prometheus3_binary() -> PathBuf {
    let path = std::env::var_os("PROMETHEUS3_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::fs::read_dir(super::repo_root().join("target/tools"))
                .ok()?
                .flatten()
                .map(|e| e.path().join("prometheus"))
                .find(|p| {
                    p.is_file()
                        && p.parent()
                            .and_then(|d| d.file_name())
                            .is_some_and(|n| n.to_string_lossy().starts_with("prometheus-3."))
                })
        })
        .unwrap_or_default();
    assert!(
        path.is_file(),
        "Prometheus 3 is missing: run the tests with scripts/test.sh, or bash scripts/build-prometheus.sh"
    );
    path
}

/// promtool of Prometheus 3, beside its server.
pub fn promtool3_binary() -> PathBuf {
    prometheus3_binary().with_file_name("promtool")
}

/// A series' or an exemplar's labels.
pub type Labels = BTreeMap<String, String>;

/// Which Prometheus a stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// Debian's package (2.42), what `monitoring/local-stack.sh` runs by
    /// default.
    Debian,
    /// Prometheus 3, built from its Go module.
    Prometheus3,
}

/// A bare Prometheus 3 (no local-stack.sh, no Alertmanager) with a
/// configuration of the caller's, its data and log in `dir`; stopped
/// (SIGTERM, so it closes its TSDB) when dropped.
pub struct Prometheus3 {
    pub addr: SocketAddr,
    pub data: PathBuf,
    child: Child,
}

impl Prometheus3 {
    /// Starts it with `config` (the prometheus.yml text) and `args` added
    /// to its command line; waits until it is ready.
    pub fn start(dir: &Path, config: &str, args: &[&str]) -> Prometheus3 {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let addr = free_addr();
        let data = dir.join("data");
        let child = Command::new(prometheus3_binary())
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start Prometheus 3");
        super::wait_until_answers(
            &format!("http://{addr}/-/ready"),
            Duration::from_secs(60),
            "Prometheus 3",
        );
        Prometheus3 { addr, data, child }
    }
}

impl Drop for Prometheus3 {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which it still is (not
        // yet waited for).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A fresh scratch directory under the system's temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("benchscope-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Prometheus and Alertmanager started by `monitoring/local-stack.sh`;
/// stopped (SIGTERM to the script, which stops both) when dropped.
pub struct LocalStack {
    pub prometheus: SocketAddr,
    pub alertmanager: SocketAddr,
    pub run_dir: PathBuf,
    child: Child,
}

impl LocalStack {
    /// Starts the stack scraping `targets`, posting webhook alerts to
    /// `webhook_url`, keeping its files in `run_dir`; waits until it is ready.
    pub fn start(run_dir: &Path, targets: &[SocketAddr], webhook_url: &str) -> LocalStack {
        LocalStack::start_with(run_dir, targets, &[], webhook_url)
    }

    /// Like [`LocalStack::start`], also scraping the OpenTelemetry
    /// Collectors' Prometheus exporters at `collectors` (the `otel-collector`
    /// job, which keeps the job and instance the Collector sets).
    pub fn start_with(
        run_dir: &Path,
        targets: &[SocketAddr],
        collectors: &[SocketAddr],
        webhook_url: &str,
    ) -> LocalStack {
        LocalStack::start_on(Server::Debian, run_dir, targets, collectors, webhook_url)
    }

    /// Like [`LocalStack::start_with`], on the Prometheus `server`.
    pub fn start_on(
        server: Server,
        run_dir: &Path,
        targets: &[SocketAddr],
        collectors: &[SocketAddr],
        webhook_url: &str,
    ) -> LocalStack {
        let prometheus = free_addr();
        let alertmanager = free_addr();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_path("monitoring/local-stack.sh"))
            .args(["--prometheus-addr", &prometheus.to_string()])
            .args(["--alertmanager-addr", &alertmanager.to_string()])
            .args(["--node-exporter-addr", &free_addr().to_string()])
            .arg("--run-dir")
            .arg(run_dir);
        if !webhook_url.is_empty() {
            cmd.args(["--webhook-url", webhook_url]);
        }
        if server == Server::Prometheus3 {
            cmd.arg("--prometheus-bin").arg(prometheus3_binary());
        }
        for target in targets {
            cmd.args(["--target", &target.to_string()]);
        }
        for target in collectors {
            cmd.args(["--collector-target", &target.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start monitoring/local-stack.sh");
        let stdout = child.stdout.take().unwrap();
        let (lines, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut stack = LocalStack {
            prometheus,
            alertmanager,
            run_dir: run_dir.to_owned(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready.recv_timeout(left) {
                Ok(line) if line.starts_with("ready") => break,
                Ok(_) => {}
                Err(_) => {
                    let status = stack.child.try_wait().ok().flatten();
                    panic!(
                        "local-stack.sh did not become ready (exit status {status:?}; logs in {})",
                        run_dir.display()
                    );
                }
            }
        }
        stack
    }

    /// POSTs `form` to Prometheus's HTTP API at `path` (`query`,
    /// `query_range`, ...); the answer, after asserting it succeeded.
    fn api(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let body = ureq::post(format!("http://{}/api/v1/{path}", self.prometheus))
            .send_form(form.iter().copied())
            .unwrap_or_else(|e| panic!("{path} {form:?}: {e}"))
            .body_mut()
            .read_to_string()
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{path} {form:?}: {body}");
        json
    }

    /// The result of an instant PromQL query: labels and value of each series.
    pub fn query(&self, expr: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let json = self.api("query", &[("query", expr)]);
        let data = &json["data"];
        let value = |v: &serde_json::Value| v[1].as_str().unwrap().parse::<f64>().unwrap();
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let labels = labels_of(&s["metric"]);
                    (labels, value(&s["value"]))
                })
                .collect(),
            Some("scalar") => vec![(BTreeMap::new(), value(&data["result"]))],
            other => panic!("query `{expr}` gave a {other:?}: {json}"),
        }
    }

    /// The values of a range query over the last `window` at `step`, as a
    /// Grafana panel asks for them: labels and the values of each series.
    pub fn query_range(
        &self,
        expr: &str,
        window: Duration,
        step: Duration,
    ) -> Vec<(BTreeMap<String, String>, Vec<f64>)> {
        let end = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // Whole steps back from now, so that now is one of the points.
        let steps = (window.as_secs_f64() / step.as_secs_f64()).ceil();
        let start = end - steps * step.as_secs_f64();
        let (start, end, step) = (
            format!("{start:.3}"),
            format!("{end:.3}"),
            format!("{}", step.as_secs_f64()),
        );
        let json = self.api(
            "query_range",
            &[
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        );
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = labels_of(&s["metric"]);
                let values = s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v[1].as_str().unwrap().parse::<f64>().unwrap())
                    .collect();
                (labels, values)
            })
            .collect()
    }

    /// How many samples Prometheus stored over the last `window` for the
    /// series `selector` matches, counted from the raw samples (floats and
    /// native histograms) a range selector returns.
    pub fn samples_in(&self, selector: &str, window: Duration) -> usize {
        let expr = format!("{selector}[{}ms]", window.as_millis());
        let json = self.api("query", &[("query", &expr)]);
        assert_eq!(json["data"]["resultType"], "matrix", "{json}");
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let count = |key: &str| s[key].as_array().map_or(0, Vec::len);
                count("values") + count("histograms")
            })
            .sum()
    }

    /// The exemplars stored for the series `expr` selects over the last
    /// `window`: each series' labels and its exemplars' labels and values.
    pub fn query_exemplars(
        &self,
        expr: &str,
        window: Duration,
    ) -> Vec<(Labels, Vec<(Labels, f64)>)> {
        let end = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let (start, end) = (
            format!("{:.3}", end - window.as_secs_f64()),
            format!("{end:.3}"),
        );
        let json = self.api(
            "query_exemplars",
            &[("query", expr), ("start", &start), ("end", &end)],
        );
        json["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let exemplars = s["exemplars"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let value = e["value"].as_str().unwrap().parse::<f64>().unwrap();
                        (labels_of(&e["labels"]), value)
                    })
                    .collect();
                (labels_of(&s["seriesLabels"]), exemplars)
            })
            .collect()
    }

    /// Waits (bounded) until `expr` returns at least one series.
    pub fn wait_for_series(
        &self,
        expr: &str,
        limit: Duration,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let start = Instant::now();
        loop {
            let result = self.query(expr);
            if !result.is_empty() {
                return result;
            }
            assert!(
                start.elapsed() < limit,
                "`{expr}` returned nothing within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        // SIGTERM lets the script stop both servers; kill it if it hangs.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One webhook notification from Alertmanager: when it arrived and its body.
#[derive(Debug, Clone)]
pub struct Notification {
    pub received: SystemTime,
    pub body: serde_json::Value,
}

/// An HTTP endpoint on 127.0.0.1 that records Alertmanager's webhook posts.
pub struct Webhook {
    server: Served,
    received: Arc<Mutex<Vec<Notification>>>,
}

async fn record(
    axum::extract::State(received): axum::extract::State<Arc<Mutex<Vec<Notification>>>>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let received_at = SystemTime::now();
    match serde_json::from_slice(&body) {
        Ok(body) => {
            received.lock().unwrap().push(Notification {
                received: received_at,
                body,
            });
            axum::http::StatusCode::OK
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST,
    }
}

impl Webhook {
    pub fn start() -> Webhook {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/webhook", axum::routing::post(record))
            .with_state(received.clone());
        let server = Served::start(|listener, stopped| async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Webhook { server, received }
    }

    pub fn url(&self) -> String {
        format!("{}/webhook", self.server.endpoint())
    }

    /// Waits (bounded) for a notification that satisfies `wanted`.
    pub fn wait_for(
        &self,
        limit: Duration,
        wanted: impl Fn(&Notification) -> bool,
    ) -> Option<Notification> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(n) = self.received.lock().unwrap().iter().find(|n| wanted(n)) {
                return Some(n.clone());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    pub fn notifications(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }
}

/// A label set of an API answer (a series' `metric`, an exemplar's `labels`).
fn labels_of(object: &serde_json::Value) -> Labels {
    object
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}
