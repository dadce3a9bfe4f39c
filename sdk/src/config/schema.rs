//! The configuration's schema: every key benchscope reads, as one struct
//! with serde, and every default in one place ([`Config::default`] and the
//! `Default` of each section). Loading it from its sources is `load.rs`;
//! checking the merged result is `validate.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::analysis::regression::Policy;
use crate::measure::registry::BenchOptions;
use crate::measure::sampling::Settings;

/// The file looked for in the crate root when no `--config` or
/// `BENCHSCOPE_CONFIG` names one.
pub const FILE_NAME: &str = "benchscope.toml";

/// Where runs are kept by default, relative to the directory the suite runs in.
pub const DEFAULT_HISTORY_PATH: &str = "target/benchscope/history.db";

/// Where saved baselines are kept by default.
pub const DEFAULT_BASELINE_DIR: &str = "target/benchscope/baselines";

/// Everything a suite run can be configured with. Start from
/// [`Config::load`] (the file and the environment, checked) or
/// [`Config::default`], and set what you need:
///
/// ```
/// use benchscope::config::{Config, ExporterKind};
/// let mut config = Config::default();
/// config.exporters = vec![ExporterKind::Prometheus];
/// config.prometheus.addr = "127.0.0.1:0".parse().unwrap();
/// assert_eq!(config.collection_interval, std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Fills the `environment` label and `deployment.environment`: `dev`, `ci`, `prod`.
    pub environment: String,
    /// How often resources are sampled and push exporters export.
    #[serde(with = "duration_text")]
    pub collection_interval: Duration,
    /// Metric exporters to run.
    pub exporters: Vec<ExporterKind>,
    /// Span exporters to run.
    pub traces: Vec<TraceExporterKind>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Extra resource attributes.
    pub resource_attributes: BTreeMap<String, String>,
    /// The Prometheus pull exporter.
    pub prometheus: PrometheusConfig,
    /// The OTLP exporters.
    pub otlp: OtlpConfig,
    /// The live view.
    pub live: LiveConfig,
    /// Measurement defaults for benchmarks that set no option of their own.
    pub measurement: MeasurementConfig,
    /// Bucket boundaries of `benchmark_execution_time_ms`, in milliseconds.
    pub histogram_buckets_ms: Vec<f64>,
    /// The most series (attribute sets) one metric keeps. Measurements past
    /// it are counted together in one series labelled
    /// `otel_metric_overflow="true"`, the OpenTelemetry SDK's overflow: raise
    /// this for suites with more benchmarks than it allows (about 6 000 at
    /// the default, since `benchmark_percentile_ms` has 3 series each).
    pub max_series_per_metric: usize,
    /// Regression detection against a baseline.
    pub regression: Policy,
    /// The commit being measured (`commit_hash` label); found from CI variables or git when empty.
    pub commit: String,
    /// The branch being measured; found from CI variables or git when empty.
    pub branch: String,
    /// The CI pipeline (`pipeline` label of `ci_pipeline_status`); found
    /// from CI variables when empty, else `local`.
    pub pipeline: String,
    /// What started the pipeline (`trigger` label); found from CI variables
    /// when empty, else `manual`.
    pub trigger: String,
    /// Where saved baselines are kept (`--save-baseline NAME` writes `NAME.json` here).
    pub baseline_dir: PathBuf,
    /// The history database (`history` feature).
    pub history: HistoryConfig,
}

/// Where runs are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HistoryConfig {
    /// Keep every run in the history database: on by default when the
    /// `history` feature is compiled in.
    pub enabled: bool,
    /// The database file, relative to the directory the suite runs in.
    pub path: PathBuf,
}

impl HistoryConfig {
    /// The base URL of a metrics backend's query API, when the history is
    /// one (`path` starts with `http://` or `https://`): the suite's
    /// exporters write its runs there, and `benchscope` reads them back.
    ///
    /// ```
    /// use benchscope::config::HistoryConfig;
    /// let mut h = HistoryConfig::default();
    /// assert_eq!(h.backend(), None);
    /// h.path = "http://127.0.0.1:8428".into();
    /// assert_eq!(h.backend(), Some("http://127.0.0.1:8428"));
    /// ```
    pub fn backend(&self) -> Option<&str> {
        self.path
            .to_str()
            .filter(|p| p.starts_with("http://") || p.starts_with("https://"))
    }
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: cfg!(feature = "history"),
            path: PathBuf::from(DEFAULT_HISTORY_PATH),
        }
    }
}

/// A metric exporter that [`Config::exporters`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExporterKind {
    /// Pull: serve `/metrics` for Prometheus to scrape (`prometheus` feature).
    Prometheus,
    /// Push by OTLP to a collector or any OTLP backend (`otlp-http` or `otlp-grpc`).
    Otlp,
    /// Print each export on standard output (`stdout` feature).
    Stdout,
    /// Stream to the live web page over WebSocket (`live` feature).
    Live,
}

/// A span exporter that [`Config::traces`] can name (`traces` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TraceExporterKind {
    /// Push by OTLP.
    Otlp,
    /// Print spans on standard output.
    Stdout,
}

/// The Prometheus pull exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PrometheusConfig {
    /// Where `/metrics` is served. Loopback by default.
    pub addr: SocketAddr,
    /// How long to keep serving after the suite ends, so a last scrape sees the final values.
    #[serde(with = "duration_text")]
    pub linger: Duration,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
            linger: Duration::ZERO,
        }
    }
}

/// The live view: a page and a WebSocket stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LiveConfig {
    /// Where the page and the WebSocket are served. Loopback by default;
    /// another address needs `token`.
    pub addr: SocketAddr,
    /// The token clients must pass as `?token=`; required beyond loopback.
    pub token: String,
    /// How often metrics are pushed to the page (at least 100ms).
    #[serde(with = "duration_text")]
    pub interval: Duration,
    /// The most pages connected at once; one more is closed with a reason.
    pub max_clients: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8765)),
            token: String::new(),
            interval: Duration::from_secs(1),
            max_clients: 64,
        }
    }
}

/// The OTLP exporters (metrics and traces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct OtlpConfig {
    /// Base endpoint. For HTTP the signal path (`/v1/metrics`, `/v1/traces`)
    /// is appended; empty means the protocol's default on localhost.
    pub endpoint: String,
    /// Full metrics endpoint, used as is; overrides `endpoint`.
    pub metrics_endpoint: String,
    /// Full traces endpoint, used as is; overrides `endpoint`.
    pub traces_endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Headers (HTTP) or metadata (gRPC) sent with every export.
    pub headers: BTreeMap<String, String>,
    /// Longest time one export may take, retries included.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Payload compression (default gzip).
    pub compression: Compression,
    /// Aggregation temporality of exported metrics.
    pub temporality: Temporality,
    /// A PEM file of the CA certificates that sign the server's certificate
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`), trusted instead of the built-in
    /// Mozilla roots; empty: those roots. `tls` feature.
    pub certificate: PathBuf,
    /// A PEM file with this client's certificate (and its chain), for
    /// servers that ask for one (mutual TLS); with `client_key`.
    pub client_certificate: PathBuf,
    /// A PEM file with the private key of `client_certificate`.
    pub client_key: PathBuf,
    /// For a gRPC endpoint written without a scheme (`collector:4317`):
    /// `true` connects in plain text, `false` (the default) over TLS. An
    /// endpoint's own `http://` or `https://` wins.
    pub insecure: bool,
    /// `certificate` for metrics only.
    pub metrics_certificate: PathBuf,
    /// `client_certificate` for metrics only.
    pub metrics_client_certificate: PathBuf,
    /// `client_key` for metrics only.
    pub metrics_client_key: PathBuf,
    /// `insecure` for metrics only.
    pub metrics_insecure: Option<bool>,
    /// `certificate` for traces only.
    pub traces_certificate: PathBuf,
    /// `client_certificate` for traces only.
    pub traces_client_certificate: PathBuf,
    /// `client_key` for traces only.
    pub traces_client_key: PathBuf,
    /// `insecure` for traces only.
    pub traces_insecure: Option<bool>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: String::new(),
            metrics_endpoint: String::new(),
            traces_endpoint: String::new(),
            protocol: OtlpProtocol::HttpProtobuf,
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            // Not OTLP's default (none): cumulative exports of a 100-benchmark
            // suite take 2.7 Mbit/s raw and 0.2 Mbit/s gzipped (benches/otlp_wire.rs),
            // and the spec's ceiling is 1 Mbit/s.
            compression: Compression::Gzip,
            temporality: Temporality::Cumulative,
            certificate: PathBuf::new(),
            client_certificate: PathBuf::new(),
            client_key: PathBuf::new(),
            insecure: false,
            metrics_certificate: PathBuf::new(),
            metrics_client_certificate: PathBuf::new(),
            metrics_client_key: PathBuf::new(),
            metrics_insecure: None,
            traces_certificate: PathBuf::new(),
            traces_client_certificate: PathBuf::new(),
            traces_client_key: PathBuf::new(),
            traces_insecure: None,
        }
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// gRPC (default port 4317; `otlp-grpc` feature).
    #[serde(rename = "grpc")]
    Grpc,
    /// HTTP with protobuf bodies (default port 4318; `otlp-http` feature).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// OTLP payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
}

/// Aggregation temporality of pushed metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Temporality {
    /// Totals since the start (what Prometheus-style backends expect).
    Cumulative,
    /// Changes since the previous export.
    Delta,
}

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc", feature = "stdout"))]
impl Temporality {
    /// The SDK's value.
    pub(crate) fn to_sdk(self) -> opentelemetry_sdk::metrics::Temporality {
        match self {
            Temporality::Cumulative => opentelemetry_sdk::metrics::Temporality::Cumulative,
            Temporality::Delta => opentelemetry_sdk::metrics::Temporality::Delta,
        }
    }
}

/// Which OTLP signal an endpoint is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// Metrics.
    Metrics,
    /// Traces.
    Traces,
}

impl OtlpConfig {
    /// The endpoint to send `signal` to: the signal's own endpoint as is, or
    /// the base endpoint (or the protocol's default) with the HTTP signal path.
    ///
    /// ```
    /// use benchscope::config::{OtlpConfig, Signal};
    /// let mut otlp = OtlpConfig::default();
    /// otlp.endpoint = "http://collector:4318/".into();
    /// assert_eq!(otlp.endpoint_for(Signal::Metrics), "http://collector:4318/v1/metrics");
    /// ```
    pub fn endpoint_for(&self, signal: Signal) -> String {
        let own = match signal {
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Traces => &self.traces_endpoint,
        };
        if !own.is_empty() {
            return self.with_scheme(own, signal);
        }
        let base = match (self.endpoint.as_str(), self.protocol) {
            ("", OtlpProtocol::Grpc) => "http://localhost:4317",
            ("", OtlpProtocol::HttpProtobuf) => "http://localhost:4318",
            (base, _) => base,
        };
        match self.protocol {
            OtlpProtocol::Grpc => self.with_scheme(base, signal),
            OtlpProtocol::HttpProtobuf => {
                let path = match signal {
                    Signal::Metrics => "v1/metrics",
                    Signal::Traces => "v1/traces",
                };
                format!("{}/{path}", base.trim_end_matches('/'))
            }
        }
    }

    /// A gRPC endpoint written without a scheme gets the one `insecure`
    /// says, as the OTLP exporter specification has it.
    fn with_scheme(&self, endpoint: &str, signal: Signal) -> String {
        if self.protocol == OtlpProtocol::Grpc && !endpoint.contains("://") {
            let scheme = if self.insecure_for(signal) {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{endpoint}")
        } else {
            endpoint.to_owned()
        }
    }

    /// Whether a schemeless gRPC endpoint of `signal` is plain text.
    pub fn insecure_for(&self, signal: Signal) -> bool {
        let own = match signal {
            Signal::Metrics => self.metrics_insecure,
            Signal::Traces => self.traces_insecure,
        };
        own.unwrap_or(self.insecure)
    }

    /// The certificate files for `signal`: its own where set, else the
    /// general ones.
    ///
    /// ```
    /// use benchscope::config::{OtlpConfig, Signal};
    /// let mut otlp = OtlpConfig::default();
    /// otlp.certificate = "ca.pem".into();
    /// otlp.traces_certificate = "traces-ca.pem".into();
    /// let metrics = otlp.tls_for(Signal::Metrics);
    /// assert_eq!(metrics.certificate.unwrap().to_str(), Some("ca.pem"));
    /// let traces = otlp.tls_for(Signal::Traces);
    /// assert_eq!(traces.certificate.unwrap().to_str(), Some("traces-ca.pem"));
    /// ```
    pub fn tls_for(&self, signal: Signal) -> TlsFiles<'_> {
        fn pick<'a>(own: &'a Path, general: &'a Path) -> Option<&'a Path> {
            [own, general]
                .into_iter()
                .find(|p| !p.as_os_str().is_empty())
        }
        let (ca, cert, key) = match signal {
            Signal::Metrics => (
                &self.metrics_certificate,
                &self.metrics_client_certificate,
                &self.metrics_client_key,
            ),
            Signal::Traces => (
                &self.traces_certificate,
                &self.traces_client_certificate,
                &self.traces_client_key,
            ),
        };
        TlsFiles {
            certificate: pick(ca, &self.certificate),
            client_certificate: pick(cert, &self.client_certificate),
            client_key: pick(key, &self.client_key),
        }
    }
}

/// The files that secure one signal's connection ([`OtlpConfig::tls_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TlsFiles<'a> {
    /// The CA certificates to trust instead of the built-in roots.
    pub certificate: Option<&'a Path>,
    /// This client's certificate chain.
    pub client_certificate: Option<&'a Path>,
    /// Its private key.
    pub client_key: Option<&'a Path>,
}

impl TlsFiles<'_> {
    /// Whether no file is named.
    pub fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.client_certificate.is_none() && self.client_key.is_none()
    }
}

/// Measurement defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MeasurementConfig {
    /// Samples per benchmark.
    pub samples: u32,
    /// Warm-up time.
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    /// Measurement time target.
    #[serde(with = "duration_text")]
    pub min_time: Duration,
    /// Measurement time ceiling.
    #[serde(with = "duration_text")]
    pub max_time: Duration,
    /// What is measured besides time: `instructions` also counts each
    /// routine's instructions under Valgrind's Callgrind (`--measure`).
    pub mode: MeasureMode,
    /// Iterations counted per benchmark in instruction mode.
    pub instruction_iterations: u64,
    /// Simulate the caches in instruction mode: L1 and last-level misses
    /// and an estimated cycle count (`--cache-sim`; Callgrind runs slower).
    pub cache_sim: bool,
    /// How long one benchmark's Callgrind run may take before it is killed
    /// and its count reported as failed.
    #[serde(with = "duration_text")]
    pub instruction_timeout: Duration,
}

/// What a run measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MeasureMode {
    /// Wall time per iteration.
    #[default]
    Time,
    /// Wall time, and instructions per iteration counted under Callgrind.
    Instructions,
}

impl Default for MeasurementConfig {
    fn default() -> Self {
        MeasurementConfig {
            samples: 100,
            warmup: Duration::from_secs(1),
            min_time: Duration::from_secs(2),
            max_time: Duration::from_secs(10),
            mode: MeasureMode::Time,
            instruction_iterations: 100,
            cache_sim: false,
            instruction_timeout: Duration::from_secs(600),
        }
    }
}

impl MeasurementConfig {
    /// The short settings of `--quick`: enough for a smoke test, not for a verdict.
    pub fn quick() -> Self {
        MeasurementConfig {
            samples: 20,
            warmup: Duration::from_millis(100),
            min_time: Duration::from_millis(300),
            max_time: Duration::from_secs(2),
            ..MeasurementConfig::default()
        }
    }

    /// `self` with `quick()`'s times, keeping what it measures.
    pub fn quickened(&self) -> Self {
        MeasurementConfig {
            mode: self.mode,
            instruction_iterations: self.instruction_iterations,
            cache_sim: self.cache_sim,
            instruction_timeout: self.instruction_timeout,
            ..MeasurementConfig::quick()
        }
    }

    /// Settings for one benchmark: its own options win over these defaults.
    pub(crate) fn resolve(&self, options: &BenchOptions) -> Settings {
        Settings {
            samples: options.samples.unwrap_or(self.samples),
            warmup: options.warmup.unwrap_or(self.warmup),
            min_time: options.min_time.unwrap_or(self.min_time),
            max_time: options.max_time.unwrap_or(self.max_time),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            environment: "dev".into(),
            collection_interval: Duration::from_secs(1),
            exporters: if cfg!(feature = "prometheus") {
                vec![ExporterKind::Prometheus]
            } else {
                Vec::new()
            },
            traces: Vec::new(),
            service_name: "benchscope".into(),
            resource_attributes: BTreeMap::new(),
            prometheus: PrometheusConfig::default(),
            otlp: OtlpConfig::default(),
            live: LiveConfig::default(),
            measurement: MeasurementConfig::default(),
            histogram_buckets_ms: default_buckets_ms(),
            max_series_per_metric: 20_000,
            regression: Policy::default(),
            commit: String::new(),
            branch: String::new(),
            pipeline: String::new(),
            trigger: String::new(),
            baseline_dir: PathBuf::from(DEFAULT_BASELINE_DIR),
            history: HistoryConfig::default(),
        }
    }
}

/// 1-2-5 steps from 1 ns to 10 s, in milliseconds: fits benchmarks of every
/// scale with a worst-case bucket error of 2.5x and 31 buckets per series.
pub(crate) fn default_buckets_ms() -> Vec<f64> {
    // Parsed from decimal text so each bound is the nearest double to its
    // round value (5 * 1e-6 is not).
    (-6..=4)
        .flat_map(|exp| [1, 2, 5].map(move |m| format!("{m}e{exp}")))
        .filter_map(|text| text.parse::<f64>().ok())
        .take_while(|&b| b <= 1e4)
        .collect()
}

/// Serde support for durations written as text (`"500ms"`).
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_buckets_span_nanoseconds_to_seconds() {
        let b = default_buckets_ms();
        assert_eq!(b.first(), Some(&1e-6));
        assert_eq!(b.last(), Some(&1e4));
        assert_eq!(b.len(), 31);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn defaults_follow_the_features_compiled_in() {
        let c = Config::default();
        assert_eq!(
            c.exporters.contains(&ExporterKind::Prometheus),
            cfg!(feature = "prometheus")
        );
        assert_eq!(c.history.enabled, cfg!(feature = "history"));
    }
}
