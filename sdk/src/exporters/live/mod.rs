//! The live view: a streaming exporter that pushes the suite's figures over
//! WebSocket to a web page, with no Grafana and no internet.
//!
//! Two streams feed the [`LiveHub`]: the suite's events (from the runner,
//! between samples, at once) and the metrics (a [`LiveExporter`] behind the
//! SDK's periodic reader, every collection interval). The hub keeps the
//! state so far, so a client that connects mid-suite first gets a
//! `snapshot`, then the stream; the [`server`] serves the page and the
//! WebSocket.
//!
//! # Messages (schema version 1)
//!
//! Every message is a JSON object with `"v": 1` and a `"type"`:
//!
//! | type | fields |
//! | --- | --- |
//! | `snapshot` | `suite` (as `suite_started`, or null), `benchmarks` (state of each: `name`, `status` = pending/running/done/failed, `done`, `of`, `recent` = last sample times in ns, `stats`, `verdict`, `allocations`, `instructions`, `disturbance`, `error`), `metrics` (the last `metrics` message, or null) |
//! | `suite_started` | `benchmarks` (names in order), `started_at` (Unix seconds) |
//! | `benchmark_started` | `name` |
//! | `sample` | `name`, `done`, `of`, `ns` (this sample's time per iteration) |
//! | `benchmark_finished` | `name`, `stats` (`mean`, `median` (= `p50`), `p50`, `p95`, `p99`, `std_dev`, `ci_lower`, `ci_upper` in ns, `samples`, `outliers`), `throughput` (or null), `verdict` (or null: `verdict`, `severity`, `change`, `speedup_p50`, `baseline_version`), `incomparable` (why the baseline could not be compared, or null), `labels` (the case's labels: `param`, `type`, ...), `allocations` (per iteration with the counting allocator, or null: `allocs`, `deallocs`, `bytes`, `peak_bytes`), `instructions` (per iteration with `--measure instructions`, or null: `instructions`, `l1_misses`, `ll_misses`, `cycles`), `disturbance` (how the machine disturbed the samples, or null: `disturbed`, `retaken`, `kept`, `run_delay_share`, `others_cores`, `telemetry_cores`, `describe` in words) |
//! | `benchmark_failed` | `name`, `error` |
//! | `suite_finished` | `duration_s`, `failures` |
//! | `metrics` | `time` (Unix seconds), `metrics`: each `name`, `unit`, `kind` (gauge, sum, histogram), `points`: `labels` and `value`, or for histograms `count` and `sum`. Only the points that changed since the previous `metrics` message are sent; the snapshot holds them all |
//!
//! The client may send `{"type":"ping"}` (answered by `{"v":1,"type":"pong"}`);
//! anything else is answered by a close frame with the reason.
//!
//! # Backpressure
//!
//! Publishing never waits: each client has a bounded queue
//! ([`CLIENT_QUEUE`] messages). When it is full the message is dropped for
//! that client and the client is marked lagging; once it catches up, its
//! queue is discarded and it gets a fresh snapshot instead (the newest state
//! wins). A client whose sends stall past [`SEND_TIMEOUT`] is disconnected.

pub(crate) mod server;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use serde_json::{Value as Json, json};

use crate::error::Error;
use crate::measure::sampling::Progress;
use crate::results::report::Endpoints;
use crate::results::{BenchResult, Reporter, SuiteRun, unix_now};

/// A message as sent: built once, shared by every client without copying.
pub type Frame = tungstenite::Utf8Bytes;

/// The message schema version.
pub const SCHEMA_VERSION: u32 = 1;
/// Messages queued per client before it counts as lagging.
pub const CLIENT_QUEUE: usize = 64;
/// A send that takes longer than this disconnects the client.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Sample times kept per benchmark for the snapshot.
const RECENT: usize = 300;

/// A client's end of the hub.
pub struct Subscription {
    /// Messages, in order.
    pub messages: Receiver<Frame>,
    /// Set when a message was dropped for this client.
    pub lagged: Arc<AtomicBool>,
    /// The id to unsubscribe with.
    pub id: u64,
}

struct Client {
    id: u64,
    tx: SyncSender<Frame>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct BenchState {
    name: String,
    status: &'static str,
    done: u32,
    of: u32,
    recent: VecDeque<f64>,
    finished: Option<Json>,
    error: Option<String>,
}

#[derive(Default)]
struct State {
    suite: Option<Json>,
    benchmarks: Vec<BenchState>,
    /// The last collection, whole, as a message.
    metrics: Option<Frame>,
    /// The last collection's body, to find what changed.
    last_points: Option<Json>,
}

impl State {
    fn bench(&mut self, name: &str) -> &mut BenchState {
        if let Some(i) = self.benchmarks.iter().position(|b| b.name == name) {
            return &mut self.benchmarks[i];
        }
        self.benchmarks.push(BenchState {
            name: name.to_owned(),
            status: "pending",
            ..Default::default()
        });
        self.benchmarks.last_mut().expect("just pushed")
    }
}

/// The live state and its subscribers; cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    clients: Mutex<Vec<Client>>,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("clients", &self.clients())
            .finish()
    }
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub::new()
    }
}

fn message(kind: &str, mut body: Json) -> Json {
    if let Json::Object(map) = &mut body {
        map.insert("v".into(), json!(SCHEMA_VERSION));
        map.insert("type".into(), json!(kind));
    }
    body
}

impl LiveHub {
    /// An empty hub.
    pub fn new() -> LiveHub {
        LiveHub {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                clients: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.inner.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Messages dropped for lagging clients so far.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Registers a client; its first message is the snapshot.
    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::sync_channel(CLIENT_QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = tx.try_send(self.snapshot());
        if let Ok(mut clients) = self.inner.clients.lock() {
            clients.push(Client {
                id,
                tx,
                lagged: lagged.clone(),
            });
        }
        Subscription {
            messages: rx,
            lagged,
            id,
        }
    }

    /// Forgets client `id`.
    pub fn unsubscribe(&self, id: u64) {
        if let Ok(mut clients) = self.inner.clients.lock() {
            clients.retain(|c| c.id != id);
        }
    }

    /// The state so far, as a `snapshot` message.
    pub fn snapshot(&self) -> Frame {
        let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let benchmarks: Vec<Json> = state
            .benchmarks
            .iter()
            .map(|b| {
                json!({
                    "name": b.name,
                    "status": b.status,
                    "done": b.done,
                    "of": b.of,
                    "recent": b.recent,
                    "stats": b.finished.as_ref().map(|f| f["stats"].clone()),
                    "verdict": b.finished.as_ref().map(|f| f["verdict"].clone()),
                    "allocations": b.finished.as_ref().map(|f| f["allocations"].clone()),
                    "instructions": b.finished.as_ref().map(|f| f["instructions"].clone()),
                    "disturbance": b.finished.as_ref().map(|f| f["disturbance"].clone()),
                    "error": b.error,
                })
            })
            .collect();
        let metrics: Json = state
            .metrics
            .as_ref()
            .and_then(|m| serde_json::from_str(m.as_str()).ok())
            .unwrap_or(Json::Null);
        let body = json!({
            "suite": state.suite,
            "benchmarks": benchmarks,
            "metrics": metrics,
        });
        Frame::from(message("snapshot", body).to_string())
    }

    /// Sends `text` to every client without waiting.
    fn broadcast(&self, text: Frame) {
        let Ok(mut clients) = self.inner.clients.lock() else {
            return;
        };
        clients.retain(|c| match c.tx.try_send(text.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                c.lagged.store(true, Ordering::Relaxed);
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn publish(&self, kind: &str, body: Json, update: impl FnOnce(&mut State, &Json)) {
        let msg = message(kind, body);
        if let Ok(mut state) = self.inner.state.lock() {
            update(&mut state, &msg);
        }
        self.broadcast(Frame::from(msg.to_string()));
    }

    /// Publishes a `metrics` message built from an SDK collection.
    ///
    /// The hub keeps the whole collection for snapshots; clients are sent
    /// only the points that changed since the previous collection, which
    /// after a benchmark ends is a small fraction of them.
    pub fn publish_metrics(&self, metrics: &ResourceMetrics) {
        let full = metrics_json(metrics);
        let changed = {
            let Ok(mut state) = self.inner.state.lock() else {
                return;
            };
            let changed = changed_points(&full, state.last_points.as_ref());
            state.last_points = Some(full.clone());
            state.metrics = Some(Frame::from(message("metrics", full).to_string()));
            changed
        };
        if let Some(changed) = changed {
            self.broadcast(Frame::from(message("metrics", changed).to_string()));
        }
    }
}

fn stats_json(result: &BenchResult) -> Json {
    let s = &result.stats;
    let verdict = result.baseline.as_ref().map(|c| {
        let verdict = c.comparison.verdict;
        json!({
            "verdict": verdict.word(),
            "severity": verdict.severity().map(|s| s.as_str()),
            "change": c.comparison.change,
            "speedup_p50": c.speedup[0],
            "baseline_version": c.baseline_version,
        })
    });
    json!({
        "name": result.name,
        "stats": {
            "mean": s.mean, "median": s.p50, "p50": s.p50, "p95": s.p95, "p99": s.p99,
            "std_dev": s.std_dev, "ci_lower": s.ci_lower, "ci_upper": s.ci_upper,
            "samples": s.samples, "outliers": s.outliers.total(),
        },
        "throughput": result.throughput.as_ref().map(|t| json!({"unit": t.unit, "per_second": t.per_second})),
        "verdict": verdict,
        "incomparable": result.incomparable,
        "labels": result.labels.iter().cloned().collect::<std::collections::BTreeMap<String, String>>(),
        "instructions": result.instructions.map(|i| json!({
            "instructions": i.instructions, "l1_misses": i.l1_misses, "ll_misses": i.ll_misses, "cycles": i.cycles,
        })),
        "allocations": result.allocations.map(|a| json!({
            "allocs": a.allocs, "deallocs": a.deallocs, "bytes": a.bytes, "peak_bytes": a.peak_bytes,
        })),
        "disturbance": result.disturbance.map(|d| json!({
            "disturbed": d.disturbed, "retaken": d.retaken, "kept": d.kept,
            "run_delay_share": d.run_delay_share, "others_cores": d.others_cores,
            "telemetry_cores": d.telemetry_cores,
            "describe": d.describe(),
        })),
    })
}

impl Reporter for LiveHub {
    fn suite_started(&mut self, names: &[String], _endpoints: &Endpoints) {
        let body = json!({"benchmarks": names, "started_at": unix_now()});
        self.publish("suite_started", body, |state, msg| {
            *state = State {
                suite: Some(msg.clone()),
                metrics: state.metrics.take(),
                ..Default::default()
            };
            for name in names {
                state.bench(name);
            }
        });
    }

    fn bench_started(&mut self, name: &str) {
        self.publish("benchmark_started", json!({"name": name}), |state, _| {
            state.bench(name).status = "running";
        });
    }

    fn progress(&mut self, name: &str, progress: Progress) {
        if let Progress::Sample { done, of, ns } = progress {
            let body = json!({"name": name, "done": done, "of": of, "ns": ns});
            self.publish("sample", body, |state, _| {
                let b = state.bench(name);
                b.done = done;
                b.of = of;
                if b.recent.len() == RECENT {
                    b.recent.pop_front();
                }
                b.recent.push_back(ns);
            });
        }
    }

    fn bench_finished(&mut self, result: &BenchResult) {
        self.publish("benchmark_finished", stats_json(result), |state, msg| {
            let b = state.bench(&result.name);
            b.status = "done";
            b.finished = Some(msg.clone());
        });
    }

    fn bench_failed(&mut self, name: &str, error: &Error) {
        let body = json!({"name": name, "error": error.to_string()});
        self.publish("benchmark_failed", body, |state, _| {
            let b = state.bench(name);
            b.status = "failed";
            b.error = Some(error.to_string());
        });
    }

    fn suite_finished(&mut self, run: &SuiteRun) {
        let body = json!({"duration_s": run.duration_s, "failures": run.failures.len()});
        self.publish("suite_finished", body, |_, _| {});
    }
}

fn attributes<'a>(kvs: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> Json {
    Json::Object(
        kvs.map(|kv| {
            let v = match &kv.value {
                Value::String(s) => json!(s.as_str()),
                Value::I64(i) => json!(i),
                Value::F64(f) => json!(f),
                Value::Bool(b) => json!(b),
                other => json!(other.to_string()),
            };
            (kv.key.to_string(), v)
        })
        .collect(),
    )
}

fn data_json<T: Copy>(data: &MetricData<T>, f: impl Fn(T) -> f64) -> (&'static str, Vec<Json>) {
    match data {
        MetricData::Gauge(g) => (
            "gauge",
            g.data_points()
                .map(|p| json!({"labels": attributes(p.attributes()), "value": f(p.value())}))
                .collect(),
        ),
        MetricData::Sum(s) => (
            "sum",
            s.data_points()
                .map(|p| json!({"labels": attributes(p.attributes()), "value": f(p.value())}))
                .collect(),
        ),
        MetricData::Histogram(h) => (
            "histogram",
            h.data_points()
                .map(|p| json!({"labels": attributes(p.attributes()), "count": p.count(), "sum": f(p.sum())}))
                .collect(),
        ),
        MetricData::ExponentialHistogram(_) => ("exponential_histogram", Vec::new()),
    }
}

/// A collection as the body of a `metrics` message.
fn metrics_json(metrics: &ResourceMetrics) -> Json {
    let mut out = Vec::new();
    for scope in metrics.scope_metrics() {
        for m in scope.metrics() {
            let (kind, points) = match m.data() {
                AggregatedMetrics::F64(d) => data_json(d, |v| v),
                // Exact below 2^53, which counts and gauges here stay under.
                AggregatedMetrics::U64(d) => data_json(d, |v| v as f64),
                AggregatedMetrics::I64(d) => data_json(d, |v| v as f64),
            };
            out.push(json!({"name": m.name(), "unit": m.unit(), "kind": kind, "points": points}));
        }
    }
    json!({"time": unix_now(), "metrics": out})
}

/// The metrics of `full` whose points differ from `previous`, each with only
/// its changed points; `None` when nothing changed.
fn changed_points(full: &Json, previous: Option<&Json>) -> Option<Json> {
    let Some(previous) = previous else {
        return Some(full.clone());
    };
    let before: std::collections::HashMap<(&str, String), &Json> = previous["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| {
            let name = m["name"].as_str().unwrap_or_default();
            m["points"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |p| ((name, p["labels"].to_string()), p))
        })
        .collect();
    let metrics: Vec<Json> = full["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let name = m["name"].as_str().unwrap_or_default();
            let points: Vec<Json> = m["points"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| before.get(&(name, p["labels"].to_string())) != Some(p))
                .cloned()
                .collect();
            (!points.is_empty()).then(
                || json!({"name": name, "unit": m["unit"], "kind": m["kind"], "points": points}),
            )
        })
        .collect();
    (!metrics.is_empty()).then(|| json!({"time": full["time"], "metrics": metrics}))
}

/// The exporter the periodic reader calls: it hands each collection to the hub.
#[derive(Debug, Clone)]
pub struct LiveExporter {
    hub: LiveHub,
}

impl LiveExporter {
    /// An exporter feeding `hub`.
    pub fn new(hub: LiveHub) -> LiveExporter {
        LiveExporter { hub }
    }
}

impl PushMetricExporter for LiveExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.hub.publish_metrics(metrics);
        // The collection before this export ran on this thread too.
        crate::measure::telemetry_cost::charge_thread();
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_points_are_sent() {
        let first = json!({"time": 1, "metrics": [
            {"name": "a", "unit": "", "kind": "gauge", "points": [
                {"labels": {"x": "1"}, "value": 1.0}, {"labels": {"x": "2"}, "value": 2.0}]},
            {"name": "b", "unit": "", "kind": "gauge", "points": [{"labels": {}, "value": 5.0}]}]});
        assert_eq!(changed_points(&first, None), Some(first.clone()));
        let second = json!({"time": 2, "metrics": [
            {"name": "a", "unit": "", "kind": "gauge", "points": [
                {"labels": {"x": "1"}, "value": 1.0}, {"labels": {"x": "2"}, "value": 3.0}]},
            {"name": "b", "unit": "", "kind": "gauge", "points": [{"labels": {}, "value": 5.0}]}]});
        let diff = changed_points(&second, Some(&first)).unwrap();
        assert_eq!(diff["metrics"].as_array().unwrap().len(), 1);
        assert_eq!(
            diff["metrics"][0]["points"],
            json!([{"labels": {"x": "2"}, "value": 3.0}])
        );
        assert_eq!(changed_points(&second, Some(&second)), None);
    }
}
