//! Configuration: one struct, its defaults in one place ([`Config::default`]),
//! environment variables read in one function ([`Config::apply_env`]), and
//! command-line flags applied last by the CLI.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bencher::Settings;
use crate::error::Error;
use crate::regression::Policy;

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
    /// Fills the `environment` label: `dev`, `ci`, `prod`, ...
    pub environment: String,
    /// How often resources are sampled and push exporters export.
    #[serde(with = "duration_text")]
    pub collection_interval: Duration,
    /// Exporters to run.
    pub exporters: Vec<ExporterKind>,
    /// The Prometheus pull exporter.
    pub prometheus: PrometheusConfig,
    /// Measurement defaults for benchmarks that set no option of their own.
    pub measurement: MeasurementConfig,
    /// Bucket boundaries of `benchmark_execution_time_ms`, in milliseconds.
    pub histogram_buckets_ms: Vec<f64>,
    /// Regression detection against a baseline.
    pub regression: Policy,
    /// The commit being measured (`commit_hash` label); found from CI variables or git when empty.
    pub commit: String,
    /// The branch being measured; found from CI variables or git when empty.
    pub branch: String,
}

/// An exporter that [`Config::exporters`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExporterKind {
    /// Pull: serve `/metrics` for Prometheus to scrape.
    Prometheus,
}

impl ExporterKind {
    /// Every exporter, for messages.
    pub const ALL: &'static [(&'static str, ExporterKind)] =
        &[("prometheus", ExporterKind::Prometheus)];
}

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
            prometheus: PrometheusConfig::default(),
            measurement: MeasurementConfig::default(),
            histogram_buckets_ms: default_buckets_ms(),
            regression: Policy::default(),
            commit: String::new(),
            branch: String::new(),
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

impl Config {
    /// Applies the `BENCHSCOPE_*` environment variables found in `vars`
    /// (pass `std::env::vars()`). Unknown `BENCHSCOPE_` variables are errors,
    /// so a typo is not silently ignored.
    ///
    /// ```
    /// let mut config = benchscope::Config::default();
    /// config.apply_env([("BENCHSCOPE_ENVIRONMENT".to_string(), "ci".to_string())]).unwrap();
    /// assert_eq!(config.environment, "ci");
    /// ```
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), Error> {
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("BENCHSCOPE_") else {
                continue;
            };
            match name {
                "ENVIRONMENT" => self.environment = value,
                "COLLECTION_INTERVAL" => {
                    self.collection_interval = parse_interval(&key, &value)?;
                }
                "EXPORTERS" => self.exporters = parse_exporters(&key, &value)?,
                "PROMETHEUS_ADDR" => self.prometheus.addr = parse_addr(&key, &value)?,
                "PROMETHEUS_LINGER" => self.prometheus.linger = parse_duration(&key, &value)?,
                "COMMIT" => self.commit = value,
                "BRANCH" => self.branch = value,
                _ => {
                    return Err(Error::Config {
                        key,
                        value,
                        reason: "unknown benchscope variable; known: BENCHSCOPE_ENVIRONMENT, BENCHSCOPE_COLLECTION_INTERVAL, BENCHSCOPE_EXPORTERS, BENCHSCOPE_PROMETHEUS_ADDR, BENCHSCOPE_PROMETHEUS_LINGER, BENCHSCOPE_COMMIT, BENCHSCOPE_BRANCH".into(),
                    });
                }
            }
        }
        Ok(())
    }

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

/// Parses the collection interval: a duration of at least 100 ms.
pub fn parse_interval(key: &str, value: &str) -> Result<Duration, Error> {
    let d = parse_duration(key, value)?;
    if d < Duration::from_millis(100) {
        return Err(Error::Config {
            key: key.into(),
            value: value.into(),
            reason: "the collection interval must be at least 100ms".into(),
        });
    }
    Ok(d)
}

/// Parses a socket address such as `127.0.0.1:9464`.
pub fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, Error> {
    value.trim().parse().map_err(|_| Error::Config {
        key: key.into(),
        value: value.into(),
        reason: "write an IP address and port, such as 127.0.0.1:9464".into(),
    })
}

/// Parses a comma-separated exporter list; `none` or an empty string turns every exporter off.
pub fn parse_exporters(key: &str, value: &str) -> Result<Vec<ExporterKind>, Error> {
    let mut out = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "none" {
            continue;
        }
        let kind = ExporterKind::ALL
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| Error::Config {
                key: key.into(),
                value: value.into(),
                reason: format!(
                    "unknown exporter `{word}`; valid: {}, none",
                    ExporterKind::ALL
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
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

    #[test]
    fn env_overrides_defaults() {
        let mut c = Config::default();
        c.apply_env(env(&[
            ("BENCHSCOPE_PROMETHEUS_ADDR", "127.0.0.1:0"),
            ("BENCHSCOPE_COLLECTION_INTERVAL", "250ms"),
            ("BENCHSCOPE_EXPORTERS", "none"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(c.prometheus.addr.port(), 0);
        assert_eq!(c.collection_interval, Duration::from_millis(250));
        assert!(c.exporters.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_the_fix() {
        let mut c = Config::default();
        let err = c
            .apply_env(env(&[("BENCHSCOPE_EXPORTERS", "prometheus,graphite")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BENCHSCOPE_EXPORTERS") && err.contains("graphite"),
            "{err}"
        );
        assert!(err.contains("valid: prometheus"), "{err}");
        let err = c
            .apply_env(env(&[("BENCHSCOPE_COLLECTION_INTERVAL", "10ms")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 100ms"), "{err}");
        let err = c
            .apply_env(env(&[("BENCHSCOPE_PROMETEUS_ADDR", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown benchscope variable"), "{err}");
    }

    #[test]
    fn default_buckets_span_nanoseconds_to_seconds() {
        let b = default_buckets_ms();
        assert_eq!(b.first(), Some(&1e-6));
        assert_eq!(b.last(), Some(&1e4));
        assert_eq!(b.len(), 31);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = Config::default();
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("\"warmup\":\"1s\""), "{text}");
        let back: Config = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
