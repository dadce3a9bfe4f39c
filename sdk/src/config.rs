//! Configuration: one struct with its defaults in one place
//! ([`Config::default`]), layered from a `benchscope.toml` file, the
//! environment (the standard `OTEL_*` variables and `BENCHSCOPE_*`) and the
//! command line, in that order of increasing precedence. [`Loaded`] remembers
//! where each value came from, for `--print-config`.
//!
//! ```
//! use benchscope::config::Loaded;
//! let env = [("OTEL_METRICS_EXPORTER".to_string(), "prometheus,otlp".to_string())];
//! let loaded = Loaded::load(None, env).unwrap();
//! assert_eq!(loaded.config.exporters.len(), 2);
//! assert_eq!(loaded.source("exporters"), "env OTEL_METRICS_EXPORTER");
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bencher::Settings;
use crate::error::Error;
use crate::regression::Policy;

/// The file looked for in the crate root when no `--config` or
/// `BENCHSCOPE_CONFIG` names one.
pub const FILE_NAME: &str = "benchscope.toml";

/// Everything a suite run can be configured with.
///
/// ```
/// let config = benchscope::Config::default();
/// assert_eq!(config.prometheus.addr.to_string(), "127.0.0.1:9464");
/// assert_eq!(config.collection_interval, std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// The history database.
    pub history: HistoryConfig,
}

/// Where runs are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep every run in the history database.
    pub enabled: bool,
    /// The database file, relative to the directory the suite runs in.
    pub path: PathBuf,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            path: PathBuf::from(crate::history::DEFAULT_PATH),
        }
    }
}

/// A metric exporter that [`Config::exporters`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExporterKind {
    /// Pull: serve `/metrics` for Prometheus to scrape.
    Prometheus,
    /// Push by OTLP to a collector or any OTLP backend.
    Otlp,
    /// Print each export on standard output.
    Stdout,
    /// Stream to the live web page over WebSocket.
    Live,
}

/// A span exporter that [`Config::traces`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceExporterKind {
    /// Push by OTLP.
    Otlp,
    /// Print spans on standard output.
    Stdout,
}

const METRIC_EXPORTERS: &[(&str, ExporterKind)] = &[
    ("prometheus", ExporterKind::Prometheus),
    ("otlp", ExporterKind::Otlp),
    ("stdout", ExporterKind::Stdout),
    ("console", ExporterKind::Stdout),
    ("live", ExporterKind::Live),
];

const TRACE_EXPORTERS: &[(&str, TraceExporterKind)] = &[
    ("otlp", TraceExporterKind::Otlp),
    ("stdout", TraceExporterKind::Stdout),
    ("console", TraceExporterKind::Stdout),
];

/// The Prometheus pull exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Where `/metrics` is served. Loopback by default.
    pub addr: SocketAddr,
    /// How long to keep serving after the suite ends, so a last scrape sees the final values.
    #[serde(with = "duration_text")]
    pub linger: Duration,
}

/// The live view: a page and a WebSocket stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Where the page and the WebSocket are served. Loopback by default;
    /// another address needs `token`.
    pub addr: SocketAddr,
    /// The token clients must pass as `?token=`; required beyond loopback.
    pub token: String,
    /// How often metrics are pushed to the page (at least 100ms).
    #[serde(with = "duration_text")]
    pub interval: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8765)),
            token: String::new(),
            interval: Duration::from_secs(1),
        }
    }
}

/// The OTLP exporters (metrics and traces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtlpProtocol {
    /// gRPC (default port 4317).
    #[serde(rename = "grpc")]
    Grpc,
    /// HTTP with protobuf bodies (default port 4318).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// OTLP payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
}

/// Aggregation temporality of pushed metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Temporality {
    /// Totals since the start (what Prometheus-style backends expect).
    Cumulative,
    /// Changes since the previous export.
    Delta,
}

impl Temporality {
    /// The SDK's value.
    pub fn to_sdk(self) -> opentelemetry_sdk::metrics::Temporality {
        match self {
            Temporality::Cumulative => opentelemetry_sdk::metrics::Temporality::Cumulative,
            Temporality::Delta => opentelemetry_sdk::metrics::Temporality::Delta,
        }
    }
}

/// Measurement defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            environment: "dev".into(),
            collection_interval: Duration::from_secs(1),
            exporters: vec![ExporterKind::Prometheus],
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
            history: HistoryConfig::default(),
        }
    }
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
            linger: Duration::ZERO,
        }
    }
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
        }
    }
}

/// Which OTLP signal an endpoint is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// let otlp = OtlpConfig { endpoint: "http://collector:4318/".into(), ..Default::default() };
    /// assert_eq!(otlp.endpoint_for(Signal::Metrics), "http://collector:4318/v1/metrics");
    /// ```
    pub fn endpoint_for(&self, signal: Signal) -> String {
        let own = match signal {
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Traces => &self.traces_endpoint,
        };
        if !own.is_empty() {
            return own.clone();
        }
        let base = match (self.endpoint.as_str(), self.protocol) {
            ("", OtlpProtocol::Grpc) => "http://localhost:4317",
            ("", OtlpProtocol::HttpProtobuf) => "http://localhost:4318",
            (base, _) => base,
        };
        match self.protocol {
            OtlpProtocol::Grpc => base.to_owned(),
            OtlpProtocol::HttpProtobuf => {
                let path = match signal {
                    Signal::Metrics => "v1/metrics",
                    Signal::Traces => "v1/traces",
                };
                format!("{}/{path}", base.trim_end_matches('/'))
            }
        }
    }
}

impl Default for MeasurementConfig {
    fn default() -> Self {
        MeasurementConfig {
            samples: 100,
            warmup: Duration::from_secs(1),
            min_time: Duration::from_secs(2),
            max_time: Duration::from_secs(10),
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
        }
    }

    /// Settings for one benchmark: its own options win over these defaults.
    pub fn resolve(&self, options: &crate::BenchOptions) -> Settings {
        Settings {
            samples: options.samples.unwrap_or(self.samples).max(1),
            warmup: options.warmup.unwrap_or(self.warmup),
            min_time: options.min_time.unwrap_or(self.min_time),
            max_time: options.max_time.unwrap_or(self.max_time),
        }
    }
}

/// 1-2-5 steps from 1 ns to 10 s, in milliseconds: fits benchmarks of every
/// scale with a worst-case bucket error of 2.5x and 31 buckets per series.
pub fn default_buckets_ms() -> Vec<f64> {
    // Parsed from decimal text so each bound is the nearest double to its
    // round value (5 * 1e-6 is not).
    (-6..=4)
        .flat_map(|exp| [1, 2, 5].map(move |m| format!("{m}e{exp}")))
        .filter_map(|text| text.parse::<f64>().ok())
        .take_while(|&b| b <= 1e4)
        .collect()
}

/// How a value is written in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// As in the file: durations as text (`500ms`).
    Text,
    /// A whole number of milliseconds (the `OTEL_*` convention).
    Millis,
    /// `true` or `false`.
    Bool,
}

/// Environment variables and the keys they set, in the order applied.
/// `OTEL_*` are the OpenTelemetry standard's; `OTEL_SDK_DISABLED` comes last
/// so that it wins over any exporter list.
const ENV: &[(&str, &str, Form)] = &[
    ("OTEL_SERVICE_NAME", "service_name", Form::Text),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "resource_attributes",
        Form::Text,
    ),
    ("OTEL_METRICS_EXPORTER", "exporters", Form::Text),
    ("OTEL_TRACES_EXPORTER", "traces", Form::Text),
    (
        "OTEL_METRIC_EXPORT_INTERVAL",
        "collection_interval",
        Form::Millis,
    ),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp.endpoint", Form::Text),
    (
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "otlp.metrics_endpoint",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "otlp.traces_endpoint",
        Form::Text,
    ),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "otlp.protocol", Form::Text),
    ("OTEL_EXPORTER_OTLP_HEADERS", "otlp.headers", Form::Text),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "otlp.timeout", Form::Millis),
    (
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "otlp.compression",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "otlp.temporality",
        Form::Text,
    ),
    ("BENCHSCOPE_ENVIRONMENT", "environment", Form::Text),
    (
        "BENCHSCOPE_COLLECTION_INTERVAL",
        "collection_interval",
        Form::Text,
    ),
    ("BENCHSCOPE_EXPORTERS", "exporters", Form::Text),
    ("BENCHSCOPE_TRACES", "traces", Form::Text),
    ("BENCHSCOPE_PROMETHEUS_ADDR", "prometheus.addr", Form::Text),
    (
        "BENCHSCOPE_PROMETHEUS_LINGER",
        "prometheus.linger",
        Form::Text,
    ),
    ("BENCHSCOPE_COMMIT", "commit", Form::Text),
    ("BENCHSCOPE_BRANCH", "branch", Form::Text),
    ("BENCHSCOPE_HISTORY", "history.path", Form::Text),
    ("BENCHSCOPE_LIVE_ADDR", "live.addr", Form::Text),
    ("BENCHSCOPE_LIVE_TOKEN", "live.token", Form::Text),
    ("BENCHSCOPE_LIVE_INTERVAL", "live.interval", Form::Text),
    ("OTEL_SDK_DISABLED", "sdk_disabled", Form::Bool),
];

/// `BENCHSCOPE_` variables that are not configuration keys.
const OTHER_BENCHSCOPE_VARS: &[&str] = &["BENCHSCOPE_CONFIG"];

/// A configuration with the origin of each value.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The configuration in force.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    sources: BTreeMap<String, String>,
}

impl Loaded {
    /// Builds the configuration from the defaults, the file (`file`, else
    /// `BENCHSCOPE_CONFIG`, else `benchscope.toml` in the crate root or the
    /// current directory if there is one), then the environment `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, Error> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut loaded = Loaded {
            config: Config::default(),
            file: None,
            sources: BTreeMap::new(),
        };
        let named = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("BENCHSCOPE_CONFIG").map(PathBuf::from));
        let path = match named {
            Some(path) => Some(path),
            None => env
                .get("CARGO_MANIFEST_DIR")
                .map(|dir| Path::new(dir).join(FILE_NAME))
                .filter(|p| p.is_file())
                .or_else(|| Some(PathBuf::from(FILE_NAME)).filter(|p| p.is_file())),
        };
        if let Some(path) = path {
            loaded.read_file(&path)?;
        }
        // CI systems set CI=true: their runs are `ci` unless said otherwise.
        let in_ci = env
            .get("CI")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        if in_ci && !loaded.sources.contains_key("environment") {
            loaded.config.environment = "ci".into();
            loaded.sources.insert("environment".into(), "env CI".into());
        }
        loaded.apply_env(&env)?;
        Ok(loaded)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "cannot read the configuration file",
            path: path.to_owned(),
            source,
        })?;
        let bad = |message: String| Error::ConfigFile {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        self.config = Config::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| bad(e.to_string()))?;
        if self.config.max_series_per_metric == 0 {
            return Err(bad(
                "max_series_per_metric must be at least 1 (the default is 20000)".into(),
            ));
        }
        let origin = format!("file {}", path.display());
        for key in flatten(&table, "") {
            self.sources.insert(key, origin.clone());
        }
        self.file = Some(path.to_owned());
        Ok(())
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        for (name, value) in env {
            if name.starts_with("BENCHSCOPE_")
                && !OTHER_BENCHSCOPE_VARS.contains(&name.as_str())
                && !ENV.iter().any(|(var, _, _)| var == name)
            {
                let known: Vec<&str> = ENV
                    .iter()
                    .map(|(var, _, _)| *var)
                    .filter(|v| v.starts_with("BENCHSCOPE_"))
                    .chain(OTHER_BENCHSCOPE_VARS.iter().copied())
                    .collect();
                return Err(Error::Config {
                    key: name.clone(),
                    value: value.clone(),
                    reason: format!("unknown benchscope variable; known: {}", known.join(", ")),
                });
            }
        }
        for (var, key, form) in ENV {
            if let Some(value) = env.get(*var) {
                self.set(key, value, *form, var)?;
                self.sources.insert(key.to_string(), format!("env {var}"));
            }
        }
        Ok(())
    }

    /// Sets `key` from a command-line flag.
    pub fn set_flag(&mut self, key: &str, value: &str, flag: &str) -> Result<(), Error> {
        self.set(key, value, Form::Text, flag)?;
        self.sources.insert(key.to_owned(), format!("flag {flag}"));
        Ok(())
    }

    /// Where the value of `key` (a dotted path such as `otlp.timeout`) came from.
    pub fn source(&self, key: &str) -> &str {
        self.sources
            .iter()
            .filter(|(k, _)| *k == key || key.starts_with(&format!("{k}.")))
            .map(|(_, v)| v.as_str())
            .next_back()
            .unwrap_or("default")
    }

    fn set(&mut self, key: &str, value: &str, form: Form, origin: &str) -> Result<(), Error> {
        let c = &mut self.config;
        let bad = |reason: String| Error::Config {
            key: origin.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let duration = || -> Result<Duration, Error> {
            match form {
                Form::Millis => value
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| bad("write a whole number of milliseconds, such as 1000".into())),
                _ => parse_duration(origin, value),
            }
        };
        match key {
            "sdk_disabled" => match value.trim().to_ascii_lowercase().as_str() {
                "true" => {
                    c.exporters.clear();
                    c.traces.clear();
                }
                "false" | "" => {}
                _ => return Err(bad("write true or false".into())),
            },
            "service_name" => c.service_name = value.trim().to_owned(),
            "resource_attributes" => c.resource_attributes.extend(parse_pairs(origin, value)?),
            "exporters" => c.exporters = parse_list(origin, value, METRIC_EXPORTERS)?,
            "traces" => c.traces = parse_list(origin, value, TRACE_EXPORTERS)?,
            "collection_interval" => {
                let d = duration()?;
                if d < Duration::from_millis(100) {
                    return Err(bad("the collection interval must be at least 100ms".into()));
                }
                c.collection_interval = d;
            }
            "otlp.endpoint" => c.otlp.endpoint = parse_endpoint(origin, value)?,
            "otlp.metrics_endpoint" => c.otlp.metrics_endpoint = parse_endpoint(origin, value)?,
            "otlp.traces_endpoint" => c.otlp.traces_endpoint = parse_endpoint(origin, value)?,
            "otlp.protocol" => {
                c.otlp.protocol = match value.trim() {
                    "grpc" => OtlpProtocol::Grpc,
                    "http/protobuf" => OtlpProtocol::HttpProtobuf,
                    _ => return Err(bad("valid: grpc, http/protobuf".into())),
                }
            }
            "otlp.headers" => c.otlp.headers = parse_pairs(origin, value)?,
            "otlp.timeout" => c.otlp.timeout = duration()?,
            "otlp.compression" => {
                c.otlp.compression = match value.trim() {
                    "gzip" => Compression::Gzip,
                    "none" | "" => Compression::None,
                    _ => return Err(bad("valid: gzip, none".into())),
                }
            }
            "otlp.temporality" => {
                c.otlp.temporality = match value.trim().to_ascii_lowercase().as_str() {
                    "cumulative" => Temporality::Cumulative,
                    "delta" => Temporality::Delta,
                    _ => return Err(bad("valid: cumulative, delta".into())),
                }
            }
            "environment" => c.environment = value.trim().to_owned(),
            "prometheus.addr" => c.prometheus.addr = parse_addr(origin, value)?,
            "live.addr" => c.live.addr = parse_addr(origin, value)?,
            "live.token" => c.live.token = value.trim().to_owned(),
            "live.interval" => {
                let d = duration()?;
                if d < Duration::from_millis(100) {
                    return Err(bad("the live interval must be at least 100ms".into()));
                }
                c.live.interval = d;
            }
            "prometheus.linger" => c.prometheus.linger = duration()?,
            "history.path" => match value.trim() {
                "" | "none" => c.history.enabled = false,
                path => {
                    c.history.enabled = true;
                    c.history.path = PathBuf::from(path);
                }
            },
            "commit" => c.commit = value.trim().to_owned(),
            "branch" => c.branch = value.trim().to_owned(),
            _ => unreachable!("every key in ENV and the CLI's flags is handled: {key}"),
        }
        Ok(())
    }

    /// The effective configuration as TOML, each value followed by where it
    /// came from; header values are redacted.
    pub fn render(&self) -> String {
        let mut config = self.config.clone();
        for value in config.otlp.headers.values_mut() {
            *value = "<redacted>".into();
        }
        if !config.live.token.is_empty() {
            config.live.token = "<redacted>".into();
        }
        let table = match toml::Value::try_from(&config) {
            Ok(toml::Value::Table(t)) => t,
            _ => return String::new(),
        };
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("# configuration file: {}\n", file.display()));
        }
        self.render_table(&table, "", &mut out);
        out
    }

    fn render_table(&self, table: &toml::Table, prefix: &str, out: &mut String) {
        for (key, value) in table.iter().filter(|(_, v)| !v.is_table()) {
            let path = format!("{prefix}{key}");
            out.push_str(&format!("{key} = {value}  # {}\n", self.source(&path)));
        }
        for (key, value) in table {
            if let toml::Value::Table(inner) = value {
                let path = format!("{prefix}{key}");
                out.push_str(&format!("\n[{path}]  # {}\n", self.source(&path)));
                self.render_table(inner, &format!("{path}."), out);
            }
        }
    }
}

fn flatten(table: &toml::Table, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => {
                keys.extend(flatten(inner, &format!("{path}.")))
            }
            _ => keys.push(path),
        }
    }
    keys
}

impl Config {
    /// Fills `commit` and `branch` when unset, from CI variables
    /// (`GITHUB_SHA`/`GITHUB_REF_NAME`, `CI_COMMIT_SHA`/`CI_COMMIT_REF_NAME`)
    /// or from `git`, else `unknown`.
    pub fn detect_vcs(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if self.commit.is_empty() {
            self.commit = env("GITHUB_SHA")
                .or_else(|| env("CI_COMMIT_SHA"))
                .or_else(|| git(&["rev-parse", "HEAD"]))
                .unwrap_or_else(|| "unknown".into());
        }
        if self.branch.is_empty() {
            self.branch = env("GITHUB_HEAD_REF")
                .or_else(|| env("GITHUB_REF_NAME"))
                .or_else(|| env("CI_COMMIT_REF_NAME"))
                .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]))
                .unwrap_or_else(|| "unknown".into());
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Parses a duration such as `500ms`, `2s` or `1m 30s`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, Error> {
    humantime::parse_duration(value.trim()).map_err(|e| Error::Config {
        key: key.into(),
        value: value.into(),
        reason: format!("{e}; write a duration such as 500ms, 2s or 1m"),
    })
}

/// Parses a socket address such as `127.0.0.1:9464`.
pub fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, Error> {
    value.trim().parse().map_err(|_| Error::Config {
        key: key.into(),
        value: value.into(),
        reason: "write an IP address and port, such as 127.0.0.1:9464".into(),
    })
}

/// Checks an OTLP endpoint: an `http://` URL with a host.
fn parse_endpoint(key: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    if value.starts_with("https://") {
        // TLS stacks are heavy to build; a Collector on the same host or
        // network forwards over TLS instead.
        return Err(Error::Config {
            key: key.into(),
            value: value.into(),
            reason: "this build of benchscope has no TLS; send to a Collector over http:// (see collector-config/) and let it forward over TLS".into(),
        });
    }
    let ok = value
        .parse::<http::Uri>()
        .ok()
        .filter(|u| u.scheme_str() == Some("http") && u.host().is_some());
    match ok {
        Some(_) => Ok(value.to_owned()),
        None => Err(Error::Config {
            key: key.into(),
            value: value.into(),
            reason: "write a URL with scheme and host, such as http://127.0.0.1:4318".into(),
        }),
    }
}

/// Parses `key=value,key2=value2` with percent-encoded values (the OTEL convention).
fn parse_pairs(key: &str, value: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| Error::Config {
            key: key.into(),
            value: value.into(),
            reason: format!("`{pair}` is not key=value; write key1=value1,key2=value2"),
        })?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s.trim())
                .decode_utf8_lossy()
                .into_owned()
        };
        out.insert(decode(k), decode(v));
    }
    Ok(out)
}

fn parse_list<T: Copy + PartialEq>(
    key: &str,
    value: &str,
    valid: &[(&str, T)],
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "none" {
            continue;
        }
        let kind = valid
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| Error::Config {
                key: key.into(),
                value: value.into(),
                reason: format!(
                    "unknown exporter `{word}`; valid: {}, none",
                    valid.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
            })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// Serde support for durations written as text (`"500ms"`).
mod duration_text {
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

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
        Loaded::load(None, env(pairs))
    }

    #[test]
    fn env_overrides_defaults() {
        let c = load(&[
            ("BENCHSCOPE_PROMETHEUS_ADDR", "127.0.0.1:0"),
            ("BENCHSCOPE_COLLECTION_INTERVAL", "250ms"),
            ("BENCHSCOPE_EXPORTERS", "none"),
            ("PATH", "/bin"),
        ])
        .unwrap()
        .config;
        assert_eq!(c.prometheus.addr.port(), 0);
        assert_eq!(c.collection_interval, Duration::from_millis(250));
        assert!(c.exporters.is_empty());
    }

    #[test]
    fn the_standard_otel_variables_are_read() {
        let l = load(&[
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus,console"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20abc,x-team=perf",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
            ("OTEL_SERVICE_NAME", "parser-benches"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=perf,region=eu%2Dwest"),
        ])
        .unwrap();
        let c = &l.config;
        assert_eq!(
            c.exporters,
            [
                ExporterKind::Otlp,
                ExporterKind::Prometheus,
                ExporterKind::Stdout
            ]
        );
        assert_eq!(c.traces, [TraceExporterKind::Otlp]);
        assert_eq!(c.otlp.protocol, OtlpProtocol::Grpc);
        assert_eq!(
            c.otlp.endpoint_for(Signal::Metrics),
            "http://127.0.0.1:4317"
        );
        assert_eq!(c.otlp.headers["authorization"], "Bearer abc");
        assert_eq!(c.otlp.timeout, Duration::from_millis(2500));
        assert_eq!(c.otlp.compression, Compression::Gzip);
        assert_eq!(c.collection_interval, Duration::from_millis(500));
        assert_eq!(c.service_name, "parser-benches");
        assert_eq!(c.resource_attributes["region"], "eu-west");
        assert_eq!(l.source("otlp.timeout"), "env OTEL_EXPORTER_OTLP_TIMEOUT");
        assert_eq!(l.source("prometheus.addr"), "default");
    }

    #[test]
    fn per_signal_endpoints_are_used_as_given() {
        let c = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom",
            ),
        ])
        .unwrap()
        .config;
        assert_eq!(
            c.otlp.endpoint_for(Signal::Metrics),
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            c.otlp.endpoint_for(Signal::Traces),
            "http://tempo:4318/custom"
        );
    }

    #[test]
    fn ci_runs_are_labelled_ci_unless_configured() {
        let l = load(&[("CI", "true")]).unwrap();
        assert_eq!(l.config.environment, "ci");
        assert_eq!(l.source("environment"), "env CI");
        let l = load(&[("CI", "true"), ("BENCHSCOPE_ENVIRONMENT", "prod")]).unwrap();
        assert_eq!(l.config.environment, "prod");
        assert_eq!(load(&[]).unwrap().config.environment, "dev");
    }

    #[test]
    fn sdk_disabled_turns_every_exporter_off() {
        let c = load(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ])
        .unwrap()
        .config;
        assert!(c.exporters.is_empty() && c.traces.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_the_choices() {
        let err = |pairs: &[(&str, &str)]| load(pairs).unwrap_err().to_string();
        let e = err(&[("OTEL_METRICS_EXPORTER", "prometheus,graphite")]);
        assert!(
            e.contains("OTEL_METRICS_EXPORTER") && e.contains("graphite"),
            "{e}"
        );
        assert!(e.contains("valid: prometheus, otlp, stdout"), "{e}");
        let e = err(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317")]);
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && e.contains("http://"),
            "{e}"
        );
        let e = err(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")]);
        assert!(e.contains("no TLS") && e.contains("Collector"), "{e}");
        let e = err(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
        assert!(e.contains("valid: grpc, http/protobuf"), "{e}");
        let e = err(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]);
        assert!(e.contains("milliseconds"), "{e}");
        let e = err(&[("BENCHSCOPE_COLLECTION_INTERVAL", "10ms")]);
        assert!(e.contains("at least 100ms"), "{e}");
        let e = err(&[("BENCHSCOPE_PROMETEUS_ADDR", "x")]);
        assert!(e.contains("unknown benchscope variable"), "{e}");
    }

    fn with_file(text: &str, pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
        let dir = std::env::temp_dir().join(format!(
            "benchscope-config-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        Loaded::load(Some(&path), env(pairs))
    }

    #[test]
    fn the_file_sits_between_defaults_and_environment() {
        let text = "environment = \"ci\"\nexporters = [\"otlp\"]\n[otlp]\nendpoint = \"http://file:4318\"\ntimeout = \"3s\"\n";
        let l = with_file(text, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")]).unwrap();
        assert_eq!(l.config.environment, "ci");
        assert_eq!(l.config.otlp.timeout, Duration::from_secs(3));
        assert_eq!(l.config.otlp.endpoint, "http://env:4318");
        assert!(l.source("otlp.timeout").starts_with("file "));
        assert_eq!(l.source("otlp.endpoint"), "env OTEL_EXPORTER_OTLP_ENDPOINT");
        let rendered = l.render();
        assert!(
            rendered.contains("environment = \"ci\"  # file "),
            "{rendered}"
        );
        assert!(rendered.contains("[otlp]"), "{rendered}");
    }

    #[test]
    fn file_errors_name_the_file_and_the_key() {
        let e = with_file("[prometheus]\naddress = \"127.0.0.1:1\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(FILE_NAME) && e.contains("address") && e.contains("addr"),
            "{e}"
        );
        let e = with_file("exporters = [\"graphite\"]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("graphite") && e.contains("prometheus"), "{e}");
        let e = with_file("environment = \n", &[]).unwrap_err().to_string();
        assert!(e.contains(FILE_NAME), "{e}");
        let e = with_file("max_series_per_metric = 0\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(FILE_NAME) && e.contains("max_series_per_metric") && e.contains("20000"),
            "{e}"
        );
        let l = with_file("max_series_per_metric = 50000\n", &[]).unwrap();
        assert_eq!(l.config.max_series_per_metric, 50_000);
    }

    #[test]
    fn headers_are_redacted_when_printed() {
        let l = load(&[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=secret")]).unwrap();
        let rendered = l.render();
        assert!(
            !rendered.contains("secret") && rendered.contains("<redacted>"),
            "{rendered}"
        );
    }

    #[test]
    fn default_buckets_span_nanoseconds_to_seconds() {
        let b = default_buckets_ms();
        assert_eq!(b.first(), Some(&1e-6));
        assert_eq!(b.last(), Some(&1e4));
        assert_eq!(b.len(), 31);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }
}
