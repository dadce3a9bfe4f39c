//! Real OTLP receivers on loopback, for the tests and benches:
//! - [`GrpcReceiver`], built on the official protobuf definitions
//!   (`opentelemetry-proto` with its tonic server), keeps every request;
//! - [`HttpReceiver`], an HTTP/protobuf endpoint that keeps every request,
//!   counts the bytes on the wire, and can be told to answer 503;
//! - [`blackhole`], a socket that accepts connections and never answers.
#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};
use prost::Message;
use tokio::sync::oneshot;

/// What a receiver got.
#[derive(Clone, Default)]
pub struct Received {
    pub metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    pub traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

impl Received {
    pub fn metric_requests(&self) -> Vec<ExportMetricsServiceRequest> {
        self.metrics.lock().unwrap().clone()
    }

    pub fn trace_requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.traces.lock().unwrap().clone()
    }

    /// The last version of every metric received, by name.
    pub fn latest_metrics(&self) -> std::collections::BTreeMap<String, Metric> {
        let mut out = std::collections::BTreeMap::new();
        for request in self.metrics.lock().unwrap().iter() {
            for rm in &request.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        out.insert(m.name.clone(), m.clone());
                    }
                }
            }
        }
        out
    }

    /// Waits until `done` holds, for at most `limit`.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&Received) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done(self)
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// A server on a runtime of its own, on 127.0.0.1; stopped when dropped.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    _runtime: tokio::runtime::Runtime,
}

impl Served {
    /// Binds a free port and runs `serve(listener, stopped)` on it.
    pub fn start<F>(
        serve: impl FnOnce(tokio::net::TcpListener, oneshot::Receiver<()>) -> F,
    ) -> Served
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind a receiver");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(serve(listener, stopped));
        Served {
            addr,
            stop: Some(stop),
            _runtime: runtime,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An OTLP/gRPC receiver for metrics and traces on 127.0.0.1.
pub struct GrpcReceiver {
    pub server: Served,
    pub received: Received,
}

impl GrpcReceiver {
    pub fn start() -> GrpcReceiver {
        let received = Received::default();
        let service = received.clone();
        let server = Served::start(|listener, stopped| async move {
            let _ = tonic::transport::Server::builder()
                .add_service(
                    MetricsServiceServer::new(service.clone())
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                )
                .add_service(
                    TraceServiceServer::new(service)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                )
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        GrpcReceiver { server, received }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }
}

/// How the HTTP receiver answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Answer {
    Ok,
    Unavailable,
}

/// An OTLP/HTTP (protobuf) receiver on 127.0.0.1 that counts the bytes on
/// the wire (request bodies, as sent, compressed or not).
pub struct HttpReceiver {
    pub server: Served,
    pub received: Received,
    pub body_bytes: Arc<AtomicU64>,
    pub requests: Arc<AtomicU64>,
}

#[derive(Clone)]
struct HttpState {
    received: Received,
    body_bytes: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    answer: Answer,
}

fn decode_body(headers: &axum::http::HeaderMap, body: &[u8]) -> Vec<u8> {
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("valid gzip body");
        out
    } else {
        body.to_vec()
    }
}

/// Counts a request, answers as told, and keeps the decoded message.
fn accept<M: Message + Default>(
    state: &HttpState,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    keep: impl FnOnce(&Received, M),
    response: impl Message,
) -> (axum::http::StatusCode, Vec<u8>) {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state
        .body_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    if state.answer == Answer::Unavailable {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
    }
    let message = M::decode(decode_body(headers, body).as_slice()).expect("a valid OTLP request");
    keep(&state.received, message);
    (axum::http::StatusCode::OK, response.encode_to_vec())
}

async fn metrics_endpoint(
    axum::extract::State(state): axum::extract::State<HttpState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    accept(
        &state,
        &headers,
        &body,
        |r, m: ExportMetricsServiceRequest| r.metrics.lock().unwrap().push(m),
        ExportMetricsServiceResponse {
            partial_success: None,
        },
    )
}

async fn traces_endpoint(
    axum::extract::State(state): axum::extract::State<HttpState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    accept(
        &state,
        &headers,
        &body,
        |r, m: ExportTraceServiceRequest| r.traces.lock().unwrap().push(m),
        ExportTraceServiceResponse {
            partial_success: None,
        },
    )
}

impl HttpReceiver {
    pub fn start(answer: Answer) -> HttpReceiver {
        let state = HttpState {
            received: Received::default(),
            body_bytes: Arc::new(AtomicU64::new(0)),
            requests: Arc::new(AtomicU64::new(0)),
            answer,
        };
        let app = axum::Router::new()
            .route("/v1/metrics", axum::routing::post(metrics_endpoint))
            .route("/v1/traces", axum::routing::post(traces_endpoint))
            .with_state(state.clone());
        let server = Served::start(|listener, stopped| async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        HttpReceiver {
            server,
            received: state.received,
            body_bytes: state.body_bytes,
            requests: state.requests,
        }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }
}

/// A listener that accepts connections and never answers; stops accepting
/// when dropped.
pub struct Blackhole {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn blackhole() -> Blackhole {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the blackhole");
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut held = Vec::new();
        // Bounded: at most 10 minutes, and it ends with the test.
        let start = Instant::now();
        while !flag.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(600) {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    Blackhole {
        addr,
        stop,
        thread: Some(thread),
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback address that refuses connections: bound, then released.
pub fn refusing_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// The data points of a metric as (attributes, value) pairs, values as f64;
/// histograms give their count.
pub fn points(metric: &Metric) -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as N;
    let attrs = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
        kvs.iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::DoubleValue(d)) => d.to_string(),
                    Some(Value::BoolValue(b)) => b.to_string(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), v)
            })
            .collect()
    };
    let number = |v: &Option<N>| match v {
        Some(N::AsDouble(d)) => *d,
        Some(N::AsInt(i)) => *i as f64,
        None => f64::NAN,
    };
    match &metric.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| (attrs(&p.attributes), number(&p.value)))
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| (attrs(&p.attributes), number(&p.value)))
            .collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| (attrs(&p.attributes), p.count as f64))
            .collect(),
        _ => Vec::new(),
    }
}
