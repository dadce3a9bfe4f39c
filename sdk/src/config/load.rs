//! Loading the configuration from its sources, each winning over the one
//! before: the defaults ([`Config::default`]), a `benchscope.toml` file,
//! the environment (the standard `OTEL_*` variables and `BENCHSCOPE_*`), and
//! the command line. [`Loaded`] remembers where each value came from
//! ([`Source`]), for `--print-config` (`render.rs`) and for error
//! messages; the commit, branch and CI pipeline left unset are found by
//! `context.rs`; `validate.rs` then checks the
//! merged result once, whatever the source of each value.
//!
//! ```
//! use benchscope::config::Loaded;
//! let env = [("BENCHSCOPE_ENVIRONMENT".to_string(), "nightly".to_string())];
//! let loaded = Loaded::load(None, env).unwrap();
//! assert_eq!(loaded.config.environment, "nightly");
//! assert_eq!(loaded.source("environment").to_string(), "env BENCHSCOPE_ENVIRONMENT");
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize as _;

use super::parse::{parse_addr, parse_duration, parse_list, parse_pairs};
use super::schema::{
    Compression, Config, ExporterKind, FILE_NAME, MeasureMode, OtlpProtocol, Temporality,
    TraceExporterKind,
};
use super::source::Source;
use super::validate::{Origins, validate};
use crate::error::Error;

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
    (
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "otlp.certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "otlp.client_certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "otlp.client_key",
        Form::Text,
    ),
    ("OTEL_EXPORTER_OTLP_INSECURE", "otlp.insecure", Form::Bool),
    (
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        "otlp.metrics_certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        "otlp.metrics_client_certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        "otlp.metrics_client_key",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
        "otlp.metrics_insecure",
        Form::Bool,
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "otlp.traces_certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "otlp.traces_client_certificate",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "otlp.traces_client_key",
        Form::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        "otlp.traces_insecure",
        Form::Bool,
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
    (
        "BENCHSCOPE_LIVE_MAX_CLIENTS",
        "live.max_clients",
        Form::Text,
    ),
    ("BENCHSCOPE_BASELINE_DIR", "baseline_dir", Form::Text),
    ("BENCHSCOPE_MEASURE", "measurement.mode", Form::Text),
    ("BENCHSCOPE_CACHE_SIM", "measurement.cache_sim", Form::Bool),
    (
        "BENCHSCOPE_INSTRUCTION_TIMEOUT",
        "measurement.instruction_timeout",
        Form::Text,
    ),
    ("OTEL_SDK_DISABLED", "sdk_disabled", Form::Bool),
];

/// `BENCHSCOPE_` variables that are not configuration keys.
const OTHER_BENCHSCOPE_VARS: &[&str] = &[
    "BENCHSCOPE_CONFIG",
    // Set by benchscope itself for the Callgrind child of a benchmark.
    crate::measure::callgrind::CHILD_VAR,
    crate::measure::callgrind::ITERATIONS_VAR,
    crate::measure::flame::DIR_VAR,
    // Names the machine instead of its fingerprint (read where it is used).
    crate::measure::machine::MACHINE_VAR,
];

/// A configuration with the origin of each value, checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Loaded {
    /// The configuration in force.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Things worth knowing that are not errors (an endpoint served beyond
    /// loopback, say); the command line prints them.
    pub warnings: Vec<String>,
    sources: BTreeMap<String, Source>,
}

impl Config {
    /// The configuration a suite or [`crate::init`] would use here: the
    /// defaults, then `benchscope.toml` (named by `BENCHSCOPE_CONFIG`, else
    /// in the crate root or the current directory), then the environment;
    /// checked, with the commit, branch and CI pipeline found from CI
    /// variables or git.
    ///
    /// ```no_run
    /// let config = benchscope::Config::load()?;
    /// println!("exporting to {:?}", config.exporters);
    /// # Ok::<(), benchscope::Error>(())
    /// ```
    pub fn load() -> Result<Config, Error> {
        Ok(Loaded::load(None, std::env::vars())?.config)
    }
}

impl Loaded {
    /// Builds the configuration from the defaults, the file (`file`, else
    /// `BENCHSCOPE_CONFIG`, else `benchscope.toml` in the crate root or the
    /// current directory if there is one), then the environment `env`, and
    /// checks it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, Error> {
        Loaded::load_with(file, env, |_| Ok(()))
    }

    /// Like [`Loaded::load`], with `flags` applied after the environment
    /// (through [`Loaded::set_flag`]) and before the check.
    pub(crate) fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: impl FnOnce(&mut Loaded) -> Result<(), Error>,
    ) -> Result<Loaded, Error> {
        let mut loaded = Loaded::gather(file, env, flags)?;
        // The flags' own warnings first, then the check's.
        let checked = validate(&loaded.config, &loaded)?;
        loaded.warnings.extend(checked);
        Ok(loaded)
    }

    /// Like [`Loaded::load_with`], for the `benchscope` command: the
    /// exporters and span exporters this build lacks are left out instead
    /// of refusing the configuration (a project's `benchscope.toml` is
    /// written for its suite, which may be built with more features than
    /// the command). Returns what was left out, for the commands that
    /// export to warn about.
    #[cfg(feature = "cli")]
    pub(crate) fn load_for_tool(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: impl FnOnce(&mut Loaded) -> Result<(), Error>,
    ) -> Result<(Loaded, Vec<&'static str>), Error> {
        let mut loaded = Loaded::gather(file, env, flags)?;
        let left_out = loaded.config.leave_out_uncompiled();
        loaded.warnings = validate(&loaded.config, &loaded)?;
        Ok((loaded, left_out))
    }

    /// Loads from the defaults, a file whose text is `text`, and `env`, and
    /// checks the result: the parsers of outside input in one call, for the
    /// fuzz targets.
    #[cfg(feature = "internals")]
    pub(crate) fn from_text(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, Error> {
        // No file lookup and no git: a fuzzer calls this millions of times.
        let mut loaded = Loaded {
            config: Config::default(),
            file: None,
            warnings: Vec::new(),
            sources: BTreeMap::new(),
        };
        loaded.read_text(text, Path::new("fuzzed.toml"))?;
        loaded.apply_env(&env.into_iter().collect())?;
        loaded.warnings = validate(&loaded.config, &loaded)?;
        Ok(loaded)
    }

    /// The environment variables benchscope reads, for the fuzz targets.
    #[cfg(feature = "internals")]
    pub(crate) fn variables() -> impl Iterator<Item = &'static str> + Clone {
        ENV.iter().map(|(var, _, _)| *var)
    }

    /// Checks a configuration built in code (not loaded), as loading would.
    pub(crate) fn check(config: &Config) -> Result<Vec<String>, Error> {
        let unknown = Loaded {
            config: Config::default(),
            file: None,
            warnings: Vec::new(),
            sources: BTreeMap::new(),
        };
        validate(config, &unknown)
    }

    /// Every source merged, not yet checked.
    fn gather(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: impl FnOnce(&mut Loaded) -> Result<(), Error>,
    ) -> Result<Loaded, Error> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut loaded = Loaded {
            config: Config::default(),
            file: None,
            warnings: Vec::new(),
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
            loaded
                .sources
                .insert("environment".into(), Source::Env("CI".into()));
        }
        loaded.apply_env(&env)?;
        flags(&mut loaded)?;
        for (key, source) in super::context::detect(&mut loaded.config, &env) {
            loaded.sources.insert(key.into(), source);
        }
        Ok(loaded)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = crate::files::read_text_bounded(path, 4 << 20).map_err(|source| Error::Io {
            action: "cannot read the configuration file",
            path: path.to_owned(),
            source,
        })?;
        self.read_text(&text, path)
    }

    /// Takes the configuration file's `text`, read from `path`.
    fn read_text(&mut self, text: &str, path: &Path) -> Result<(), Error> {
        let bad = |message: String| Error::ConfigFile {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        self.config = Config::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| bad(e.to_string()))?;
        for key in flatten(&table, "") {
            self.sources.insert(key, Source::File(path.to_owned()));
        }
        self.file = Some(path.to_owned());
        Ok(())
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        for (name, value) in env {
            if name.starts_with("BENCHSCOPE_")
                && !OTHER_BENCHSCOPE_VARS.contains(&name.as_str())
                && !name.starts_with(crate::measure::worker::PREFIX)
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
                self.sources
                    .insert(key.to_string(), Source::Env(var.to_string()));
            }
        }
        Ok(())
    }

    /// Sets `key` from a command-line flag.
    #[cfg(feature = "harness")]
    pub(crate) fn set_flag(&mut self, key: &str, value: &str, flag: &str) -> Result<(), Error> {
        self.set(key, value, Form::Text, flag)?;
        self.sources
            .insert(key.to_owned(), Source::Flag(flag.to_owned()));
        Ok(())
    }

    /// Where the value of `key` (a dotted path such as `otlp.timeout`) came
    /// from.
    pub fn source(&self, key: &str) -> &Source {
        static DEFAULT: Source = Source::Default;
        self.sources
            .iter()
            .filter(|(k, _)| *k == key || key.starts_with(&format!("{k}.")))
            .map(|(_, v)| v)
            .next_back()
            .unwrap_or(&DEFAULT)
    }
}

impl Origins for Loaded {
    fn is_default(&self, key: &str) -> bool {
        *self.source(key) == Source::Default
    }

    /// The variable or flag that set `key`, the key and its file, or the
    /// key alone for a default.
    fn label(&self, key: &str) -> String {
        match self.source(key) {
            Source::Env(var) => var.clone(),
            Source::Flag(flag) => flag.clone(),
            Source::File(file) => format!("{key} (in {})", file.display()),
            Source::Default | Source::Git => key.to_owned(),
        }
    }
}

impl Loaded {
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
        let boolean = || -> Result<bool, Error> {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad("write true or false".into())),
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
            "collection_interval" => c.collection_interval = duration()?,
            "otlp.endpoint" => c.otlp.endpoint = value.trim().to_owned(),
            "otlp.metrics_endpoint" => c.otlp.metrics_endpoint = value.trim().to_owned(),
            "otlp.traces_endpoint" => c.otlp.traces_endpoint = value.trim().to_owned(),
            "otlp.protocol" => {
                c.otlp.protocol = match value.trim() {
                    "grpc" => OtlpProtocol::Grpc,
                    "http/protobuf" => OtlpProtocol::HttpProtobuf,
                    _ => return Err(bad("valid: grpc, http/protobuf".into())),
                }
            }
            "otlp.headers" => c.otlp.headers = parse_pairs(origin, value)?,
            "otlp.certificate" => c.otlp.certificate = PathBuf::from(value.trim()),
            "otlp.client_certificate" => c.otlp.client_certificate = PathBuf::from(value.trim()),
            "otlp.client_key" => c.otlp.client_key = PathBuf::from(value.trim()),
            "otlp.insecure" => c.otlp.insecure = boolean()?,
            "otlp.metrics_certificate" => c.otlp.metrics_certificate = PathBuf::from(value.trim()),
            "otlp.metrics_client_certificate" => {
                c.otlp.metrics_client_certificate = PathBuf::from(value.trim())
            }
            "otlp.metrics_client_key" => c.otlp.metrics_client_key = PathBuf::from(value.trim()),
            "otlp.metrics_insecure" => c.otlp.metrics_insecure = Some(boolean()?),
            "otlp.traces_certificate" => c.otlp.traces_certificate = PathBuf::from(value.trim()),
            "otlp.traces_client_certificate" => {
                c.otlp.traces_client_certificate = PathBuf::from(value.trim())
            }
            "otlp.traces_client_key" => c.otlp.traces_client_key = PathBuf::from(value.trim()),
            "otlp.traces_insecure" => c.otlp.traces_insecure = Some(boolean()?),
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
            "measurement.mode" => {
                c.measurement.mode = match value.trim() {
                    "time" => MeasureMode::Time,
                    "instructions" => MeasureMode::Instructions,
                    _ => return Err(bad("valid: time, instructions".into())),
                }
            }
            "measurement.cache_sim" => c.measurement.cache_sim = boolean()?,
            "measurement.instruction_timeout" => c.measurement.instruction_timeout = duration()?,
            "measurement.warmup" => c.measurement.warmup = duration()?,
            "measurement.min_time" => c.measurement.min_time = duration()?,
            "measurement.max_time" => c.measurement.max_time = duration()?,
            "measurement.samples" => {
                c.measurement.samples = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("write a whole number of samples, such as 100".into()))?
            }
            "regression.alpha" | "regression.noise_floor" => {
                let v: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("write a fraction between 0 and 1, such as 0.05".into()))?;
                match key {
                    "regression.alpha" => c.regression.alpha = v,
                    _ => c.regression.noise_floor = v,
                }
            }
            "prometheus.addr" => c.prometheus.addr = parse_addr(origin, value)?,
            "live.addr" => c.live.addr = parse_addr(origin, value)?,
            "live.token" => c.live.token = value.trim().to_owned(),
            "live.interval" => c.live.interval = duration()?,
            "live.max_clients" => {
                c.live.max_clients = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("write a whole number, such as 64".into()))?
            }
            "prometheus.linger" => c.prometheus.linger = duration()?,
            "history.path" => match value.trim() {
                "" | "none" => c.history.enabled = false,
                path => {
                    c.history.enabled = true;
                    c.history.path = PathBuf::from(path);
                }
            },
            "baseline_dir" => c.baseline_dir = PathBuf::from(value.trim()),
            "commit" => c.commit = value.trim().to_owned(),
            "branch" => c.branch = value.trim().to_owned(),
            _ => {
                return Err(bad(format!(
                    "benchscope has no setting `{key}`; this is a bug in the caller"
                )));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::schema::Signal;
    use super::*;

    use super::super::tests::env;

    /// Merged but not checked: these tests are about the sources, whatever
    /// features this build has (validate.rs tests the checks).
    fn load(pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
        Loaded::gather(None, env(pairs), |_| Ok(()))
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
        assert_eq!(
            *l.source("otlp.timeout"),
            Source::Env("OTEL_EXPORTER_OTLP_TIMEOUT".into())
        );
        assert_eq!(*l.source("prometheus.addr"), Source::Default);
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
        assert_eq!(*l.source("environment"), Source::Env("CI".into()));
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
        let err = |pairs: &[(&str, &str)]| Loaded::load(None, env(pairs)).unwrap_err().to_string();
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
        let path = super::super::tests::config_file(text);
        Loaded::gather(Some(&path), env(pairs), |_| Ok(()))
    }

    #[test]
    fn the_file_sits_between_defaults_and_environment() {
        let text = "environment = \"ci\"\nexporters = [\"otlp\"]\n[otlp]\nendpoint = \"http://file:4318\"\ntimeout = \"3s\"\n";
        let l = with_file(text, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")]).unwrap();
        assert_eq!(l.config.environment, "ci");
        assert_eq!(l.config.otlp.timeout, Duration::from_secs(3));
        assert_eq!(l.config.otlp.endpoint, "http://env:4318");
        assert!(matches!(l.source("otlp.timeout"), Source::File(_)));
        assert_eq!(
            *l.source("otlp.endpoint"),
            Source::Env("OTEL_EXPORTER_OTLP_ENDPOINT".into())
        );
        let rendered = l.render();
        assert!(
            rendered.contains("environment = \"ci\"  # file "),
            "{rendered}"
        );
        assert!(rendered.contains("[otlp]"), "{rendered}");
        // What print-config writes is TOML that reads back.
        let back: toml::Table = toml::from_str(&rendered).expect("valid TOML");
        assert_eq!(back["environment"].as_str(), Some("ci"));
        assert_eq!(back["otlp"]["timeout"].as_str(), Some("3s"));
        let buckets = back["histogram_buckets_ms"].as_array().expect("an array");
        assert_eq!(buckets[0].as_float(), Some(1e-6));
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
        let l = with_file("max_series_per_metric = 50000\n", &[]).unwrap();
        assert_eq!(l.config.max_series_per_metric, 50_000);
    }
}
