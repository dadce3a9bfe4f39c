//! The Prometheus pull exporter: on every scrape the SDK's metrics are
//! collected through a manual reader and written straight into the format
//! the scraper asks for ([`encode`]: the text format, or OpenMetrics with
//! exemplars), served at `/metrics` by a small HTTP server on its own
//! thread. Each series carries the time its value last changed
//! ([`stamps`]), so that a store keeps one sample per change, not one per
//! scrape.
//!
//! benchscope writes the formats itself rather than going through
//! `opentelemetry-prometheus` and the `prometheus` crate's encoder: that
//! route builds a second in-memory model of every metric per scrape and took
//! twice as long as the `prometheus` crate alone (benches/peers.rs, part 4).

pub(crate) mod encode;
pub(crate) mod stamps;

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use super::http::{self, HttpServer, Reply, Request, Response};
use crate::error::Error;
use crate::otel::exemplars::Exemplars;
pub use encode::Format;
use encode::{Encoding, encode};
use stamps::Stamps;

/// The metric reader behind `/metrics`: give one clone to the meter
/// provider and keep another to [`PrometheusReader::render`] on a scrape.
#[derive(Debug, Clone)]
pub struct PrometheusReader {
    reader: Arc<ManualReader>,
    /// Each series' time of last change, shared by every scrape.
    stamps: Arc<Mutex<Stamps>>,
    exemplars: Arc<Exemplars>,
}

impl Default for PrometheusReader {
    fn default() -> Self {
        PrometheusReader::new()
    }
}

impl PrometheusReader {
    /// A reader with cumulative temporality, the only one Prometheus reads.
    pub fn new() -> PrometheusReader {
        PrometheusReader::with_exemplars(Arc::default())
    }

    /// A reader that writes the exemplars the instruments keep in
    /// `exemplars` when a scraper asks for OpenMetrics.
    pub(crate) fn with_exemplars(exemplars: Arc<Exemplars>) -> PrometheusReader {
        PrometheusReader {
            reader: Arc::new(
                ManualReader::builder()
                    .with_temporality(Temporality::Cumulative)
                    .build(),
            ),
            stamps: Arc::default(),
            exemplars,
        }
    }

    /// Collects every metric now and writes them in the text format, each
    /// series with the time it last changed (benches/peers.rs times it).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn render(&self) -> Result<String, Error> {
        self.render_as(Format::Text)
    }

    /// Collects every metric now and writes them in `format`, each series
    /// with the time it last changed.
    pub fn render_as(&self, format: Format) -> Result<String, Error> {
        let metrics = self.collect_now()?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut out = String::with_capacity(64 * 1024);
        let mut stamps = self
            .stamps
            .lock()
            .map_err(|_| Error::Telemetry("the series' timestamps were poisoned".into()))?;
        let mut encoding = Encoding {
            format,
            stamps: Some((&mut stamps, now_ms)),
            exemplars: Some(&self.exemplars),
        };
        encode(&metrics, &mut out, &mut encoding);
        Ok(out)
    }

    /// Every metric, collected now.
    pub(crate) fn collect_now(&self) -> Result<ResourceMetrics, Error> {
        let mut metrics = ResourceMetrics::default();
        self.reader
            .collect(&mut metrics)
            .map_err(|e| Error::Telemetry(format!("cannot collect metrics: {e}")))?;
        Ok(metrics)
    }
}

impl MetricReader for PrometheusReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.reader.register_pipeline(pipeline)
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.reader.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.reader.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.reader.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Cumulative
    }
}

/// The HTTP endpoint serving `/metrics`; stops when dropped.
#[derive(Debug)]
pub(crate) struct PrometheusEndpoint {
    server: HttpServer,
    scrapes: Arc<Scrapes>,
}

/// The scrapes `/metrics` has answered: how many, the last, and the longest
/// gap between two, which says how often the scraper comes.
#[derive(Debug, Default)]
struct Scrapes {
    seen: Mutex<(u64, Option<Instant>, Duration)>,
    answered: Condvar,
}

impl Scrapes {
    fn record(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(last) = seen.1 {
            seen.2 = seen.2.max(now.duration_since(last));
        }
        seen.0 += 1;
        seen.1 = Some(now);
        self.answered.notify_all();
    }
}

/// Longest wait for a scraper's next scrape at the end of a run.
const FINAL_SCRAPE_CAP: Duration = Duration::from_secs(30);

impl PrometheusEndpoint {
    /// Binds `addr` and serves what `reader` collects at `/metrics`, on
    /// threads of its own.
    ///
    /// An address already in use is [`Error::AddrInUse`], which names the
    /// port and the options to change it.
    pub(crate) fn start(
        addr: SocketAddr,
        reader: PrometheusReader,
    ) -> Result<PrometheusEndpoint, Error> {
        let listener = http::bind(
            addr,
            "Prometheus metrics",
            "--prometheus-addr or BENCHSCOPE_PROMETHEUS_ADDR, or turn the exporter off with --exporters none",
        )?;
        let loopback = addr.ip().is_loopback();
        let scrapes = Arc::new(Scrapes::default());
        let seen = scrapes.clone();
        let handler = Arc::new(move |req: &Request| {
            Reply::Respond(match rebound(loopback, req) {
                Some(refused) => refused,
                None => {
                    let response = respond(&reader, req);
                    if req.path == "/metrics" && response.status() == 200 {
                        seen.record();
                    }
                    response
                }
            })
        });
        let server = HttpServer::start(listener, "benchscope-prometheus", handler)?;
        Ok(PrometheusEndpoint { server, scrapes })
    }

    /// At the end of a run: when a scraper has come at least twice during
    /// it (so its interval is known), waits for its next scrape, which sees
    /// the final figures (a run that ends between two scrapes would leave
    /// its last benchmark unseen), for at most twice the longest gap seen
    /// between its scrapes, and never over 30 s. A run scraped once or
    /// never (a `curl` by hand) does not wait: `--serve-after` is for
    /// that. Returns whether the scrape came.
    pub(crate) fn await_final_scrape(&self) -> bool {
        let seen = self.scrapes.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (count, _, gap) = *seen;
        if count < 2 {
            return false;
        }
        let limit = (gap * 2).clamp(Duration::from_secs(1), FINAL_SCRAPE_CAP);
        let (seen, _) = self
            .scrapes
            .answered
            .wait_timeout_while(seen, limit, |s| s.0 == count)
            .unwrap_or_else(|e| e.into_inner());
        seen.0 > count
    }

    /// The address actually bound (useful with port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

/// On loopback, a request that names another host is refused: a web page
/// whose name was rebound to 127.0.0.1 would otherwise read `/metrics`
/// (host name, process id, commit in `target_info`) from the browser of
/// whoever runs the suite. Any port is accepted, so a scrape through an SSH
/// tunnel's local port still works; beyond loopback the address is the
/// user's choice, with its warning.
fn rebound(loopback: bool, req: &Request) -> Option<Response> {
    let host = req.header("Host")?;
    if !loopback || is_loopback_host(host) {
        return None;
    }
    Some(Response::text(
        403,
        "this /metrics answers loopback names only (127.0.0.1, localhost, [::1]); scrape it by one\n",
    ))
}

/// Whether the `Host` header names this machine's loopback: a loopback IP
/// or `localhost`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:9464`, `127.0.0.1:9464`, `localhost:9464`; a bare IPv6
        // literal has colons of its own.
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn respond(reader: &PrometheusReader, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => {
            let format = Format::negotiate(req.header("accept"));
            match reader.render_as(format) {
                Ok(body) => Response::new(200, format.content_type(), body),
                Err(e) => Response::text(500, format!("{e}\n")),
            }
        }
        "/" => Response::text(200, "benchscope: metrics are at /metrics\n"),
        _ => Response::text(404, "not found: metrics are at /metrics\n"),
    }
}
