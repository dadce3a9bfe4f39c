//! Checks the merged configuration once, after every source has had its
//! say, so a value from `benchscope.toml` meets the same rules and the same
//! messages as one from a variable or a flag. Every duration and count is
//! bounded here: a value that would overflow a clock, or allocate for
//! billions of samples, stops the run before it starts. A part that this
//! build leaves out (a feature not enabled) is named with its feature.

use std::time::Duration;

use super::schema::{Config, ExporterKind, OtlpProtocol, Signal, TraceExporterKind};
use crate::error::Error;

/// Where the configuration's values came from, as the checks need to know
/// it to name them.
pub(crate) trait Origins {
    /// How an error names `key`: the variable or flag that set it, or the
    /// key and its file.
    fn label(&self, key: &str) -> String;
    /// Whether `key` was left at its default.
    fn is_default(&self, key: &str) -> bool;
}

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Whether this build can reach an `https://` endpoint.
const TLS: bool = cfg!(feature = "tls");

/// Checks `c`; returns the warnings worth printing, or the first error.
pub(crate) fn validate(c: &Config, origins: &dyn Origins) -> Result<Vec<String>, Error> {
    let check = Check { config: c, origins };
    check.duration(
        "collection_interval",
        c.collection_interval,
        Duration::from_millis(100),
        HOUR,
    )?;
    check.duration(
        "live.interval",
        c.live.interval,
        Duration::from_millis(100),
        HOUR,
    )?;
    check.duration(
        "otlp.timeout",
        c.otlp.timeout,
        Duration::from_millis(1),
        10 * MINUTE,
    )?;
    check.duration(
        "prometheus.linger",
        c.prometheus.linger,
        Duration::ZERO,
        DAY,
    )?;
    let m = &c.measurement;
    check.duration("measurement.warmup", m.warmup, Duration::ZERO, HOUR)?;
    check.duration("measurement.min_time", m.min_time, Duration::ZERO, HOUR)?;
    check.duration("measurement.max_time", m.max_time, Duration::ZERO, DAY)?;
    check.duration(
        "measurement.instruction_timeout",
        m.instruction_timeout,
        SECOND,
        DAY,
    )?;
    if m.min_time > m.max_time {
        return Err(check.bad(
            "measurement.max_time",
            humantime::format_duration(m.max_time).to_string(),
            "it is shorter than measurement.min_time; raise max_time or lower min_time",
        ));
    }
    let samples = &crate::measure::registry::BenchOptions::SAMPLES;
    check.count(
        "measurement.samples",
        m.samples as usize,
        *samples.start() as usize,
        *samples.end() as usize,
    )?;
    check.count(
        "measurement.instruction_iterations",
        m.instruction_iterations.min(usize::MAX as u64) as usize,
        1,
        1_000_000,
    )?;
    check
        .count(
            "max_series_per_metric",
            c.max_series_per_metric,
            1,
            10_000_000,
        )
        .map_err(|e| with_hint(e, "the default is 20000"))?;
    check.count("live.max_clients", c.live.max_clients, 1, 10_000)?;
    check.buckets(&c.histogram_buckets_ms)?;
    check.policy()?;
    for (key, endpoint) in [
        ("otlp.endpoint", &c.otlp.endpoint),
        ("otlp.metrics_endpoint", &c.otlp.metrics_endpoint),
        ("otlp.traces_endpoint", &c.otlp.traces_endpoint),
    ] {
        check.endpoint(key, endpoint)?;
    }
    check.headers()?;
    check.history()?;
    check.features()?;
    let mut warnings = Vec::new();
    check.transport_security(&mut warnings)?;
    if c.exporters.contains(&ExporterKind::Live)
        && !c.live.addr.ip().is_loopback()
        && c.live.token.is_empty()
    {
        return Err(check.bad(
            "live.addr",
            c.live.addr.to_string(),
            "listening beyond loopback needs a token: set BENCHSCOPE_LIVE_TOKEN (or live.token), and open the page with ?token=...",
        ));
    }
    if c.exporters.contains(&ExporterKind::Prometheus) && !c.prometheus.addr.ip().is_loopback() {
        warnings.push(format!(
            "{} = {} serves /metrics beyond loopback, with the host name, process id, commit and branch in target_info, to anyone who can reach the port; keep it on 127.0.0.1 and let Prometheus scrape through an SSH tunnel or a reverse proxy with authentication (docs/operations.md)",
            origins.label("prometheus.addr"),
            c.prometheus.addr
        ));
    }
    Ok(warnings)
}

struct Check<'a> {
    config: &'a Config,
    origins: &'a dyn Origins,
}

impl Check<'_> {
    fn bad(&self, key: &str, value: String, reason: &str) -> Error {
        Error::Config {
            key: self.origins.label(key),
            value,
            reason: reason.to_owned(),
        }
    }

    fn duration(
        &self,
        key: &str,
        value: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<(), Error> {
        if value >= min && value <= max {
            return Ok(());
        }
        let text = |d: Duration| humantime::format_duration(d).to_string();
        let reason = if value < min {
            format!("{key} must be at least {}", text(min))
        } else {
            format!("{key} must be at most {}", text(max))
        };
        Err(self.bad(key, text(value), &reason))
    }

    fn count(&self, key: &str, value: usize, min: usize, max: usize) -> Result<(), Error> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.bad(
            key,
            value.to_string(),
            &format!("{key} must be from {min} to {max}"),
        ))
    }

    /// A history that is on names a place: an empty path would keep the
    /// run nowhere and say it was kept, and a URL needs its host.
    fn history(&self) -> Result<(), Error> {
        let h = &self.config.history;
        if !h.enabled {
            return Ok(());
        }
        let path = h.path.to_string_lossy();
        if path.trim().is_empty() {
            return Err(self.bad(
                "history.path",
                String::new(),
                "an empty path keeps the run nowhere: name a file (the default is target/benchscope/history.db), a metrics backend's query URL, or `none` (enabled = false in the file) to keep no history",
            ));
        }
        if let Some(url) = h.backend() {
            let host = url.split_once("://").map_or("", |(_, rest)| rest);
            if host.is_empty() || host.starts_with('/') {
                return Err(self.bad(
                    "history.path",
                    url.to_owned(),
                    "a metrics backend's URL names its host: http://HOST:PORT (the base of /api/v1/query)",
                ));
            }
        }
        Ok(())
    }

    fn buckets(&self, buckets: &[f64]) -> Result<(), Error> {
        let key = "histogram_buckets_ms";
        let ok = !buckets.is_empty()
            && buckets.len() <= 200
            && buckets.iter().all(|b| b.is_finite() && *b > 0.0)
            && buckets.windows(2).all(|w| w[0] < w[1]);
        if ok {
            return Ok(());
        }
        Err(self.bad(
            key,
            format!("{buckets:?}"),
            "write 1 to 200 positive, finite bounds in increasing order (milliseconds), or leave the key out for the default",
        ))
    }

    fn policy(&self) -> Result<(), Error> {
        let p = &self.config.regression;
        let fraction = |key: &str, v: f64, max: f64| {
            if v.is_finite() && v >= 0.0 && v <= max {
                Ok(())
            } else {
                Err(self.bad(
                    key,
                    v.to_string(),
                    &format!("{key} must be a number from 0 to {max}"),
                ))
            }
        };
        fraction("regression.alpha", p.alpha, 1.0)?;
        fraction("regression.noise_floor", p.noise_floor, 10.0)?;
        fraction("regression.major", p.major, 1000.0)?;
        fraction("regression.critical", p.critical, 1000.0)?;
        fraction("regression.paired_floor", p.paired_floor, 10.0)?;
        if p.critical < p.major {
            return Err(self.bad(
                "regression.critical",
                p.critical.to_string(),
                "critical must be at least major",
            ));
        }
        Ok(())
    }

    /// An OTLP endpoint: empty (the default), or an `http://` or `https://`
    /// URL with a host and, if any, a numeric port.
    fn endpoint(&self, key: &str, value: &str) -> Result<(), Error> {
        if value.is_empty() {
            return Ok(());
        }
        let rest = match value.split_once("://") {
            Some(("http", rest)) => rest,
            // Whether this build has TLS is checked per signal, on the
            // endpoint each one ends up with.
            Some(("https", rest)) => rest,
            // gRPC allows `host:port`: OTEL_EXPORTER_OTLP_INSECURE picks
            // the scheme (checked with the rest of the transport's security).
            None if self.config.otlp.protocol == OtlpProtocol::Grpc => value,
            _ => {
                return Err(self.bad(
                    key,
                    value.into(),
                    "write a URL with scheme and host, such as http://127.0.0.1:4318",
                ));
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            // An IPv6 literal without a port: [::1].
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
        if host.is_empty() || !port_ok || authority.contains(char::is_whitespace) {
            return Err(self.bad(
                key,
                value.into(),
                "write a URL with scheme and host, such as http://127.0.0.1:4318",
            ));
        }
        Ok(())
    }

    /// For each signal exported by OTLP: an `https://` endpoint (or a
    /// schemeless gRPC one that is not `insecure`) needs the `tls` feature,
    /// and its certificate files must be readable PEM, in pairs where they
    /// go in pairs; files that an `http://` endpoint would not use are
    /// worth a warning.
    fn transport_security(&self, warnings: &mut Vec<String>) -> Result<(), Error> {
        let c = self.config;
        let o = &c.otlp;
        if o.protocol == OtlpProtocol::HttpProtobuf
            && [
                "otlp.insecure",
                "otlp.metrics_insecure",
                "otlp.traces_insecure",
            ]
            .iter()
            .any(|k| !self.origins.is_default(k))
            && (c.exporters.contains(&ExporterKind::Otlp)
                || c.traces.contains(&TraceExporterKind::Otlp))
        {
            warnings.push(format!(
                "{} applies to OTLP over gRPC only; over http/protobuf the endpoint's scheme (http:// or https://) decides",
                self.origins.label("otlp.insecure")
            ));
        }
        for (signal, used, prefix) in [
            (
                Signal::Metrics,
                c.exporters.contains(&ExporterKind::Otlp),
                "metrics_",
            ),
            (
                Signal::Traces,
                c.traces.contains(&TraceExporterKind::Otlp),
                "traces_",
            ),
        ] {
            if !used {
                continue;
            }
            // The key that set what this signal uses: its own, else the general one.
            let key = |name: &str| {
                let own = format!("otlp.{prefix}{name}");
                if self.origins.is_default(&own) {
                    format!("otlp.{name}")
                } else {
                    own
                }
            };
            let endpoint = o.endpoint_for(signal);
            let files = o.tls_for(signal);
            if !endpoint.starts_with("https://") {
                if let Some(set) = ["certificate", "client_certificate", "client_key"]
                    .into_iter()
                    .map(key)
                    .find(|k| !self.origins.is_default(k))
                {
                    warnings.push(format!(
                        "{} is set, but OTLP {} go to {endpoint}, in plain text: the file is not used; write https:// to use TLS",
                        self.origins.label(&set),
                        signal_name(signal),
                    ));
                }
                continue;
            }
            if !TLS {
                return Err(Error::FeatureMissing {
                    what: format!("TLS (OTLP {} to {endpoint})", signal_name(signal)),
                    key: self.origins.label(&key("endpoint")),
                    feature: "tls",
                });
            }
            #[cfg(feature = "tls")]
            if let Err((part, reason)) = files.load() {
                use super::tls::Part;
                let (name, path) = match part {
                    Part::Certificate => ("certificate", files.certificate),
                    Part::ClientCertificate => ("client_certificate", files.client_certificate),
                    Part::ClientKey => ("client_key", files.client_key),
                };
                let path = path.map(|p| p.display().to_string()).unwrap_or_default();
                return Err(self.bad(&key(name), path, &reason));
            }
            #[cfg(not(feature = "tls"))]
            let _ = files;
        }
        Ok(())
    }

    /// Headers both OTLP transports can send: a name of HTTP token
    /// characters, a value of visible ASCII, spaces and tabs. The OTLP
    /// exporter drops any other header without a word, which would turn a
    /// mistyped token into a mysterious 401.
    fn headers(&self) -> Result<(), Error> {
        for (name, value) in &self.config.otlp.headers {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok {
                return Err(self.bad(
                    "otlp.headers",
                    format!("{name}=…"),
                    &format!(
                        "`{name}` is not a header name: use letters, digits and -_.!#$%&'*+^`|~"
                    ),
                ));
            }
            if !value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                return Err(self.bad(
                    "otlp.headers",
                    format!("{name}=…"),
                    &format!(
                        "the value of `{name}` has a character a header cannot carry (a control character or non-ASCII); percent-encode it in OTEL_EXPORTER_OTLP_HEADERS"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every exporter, span exporter and the history are compiled in.
    /// ([`Config::leave_out_uncompiled`], in `compiled.rs`, agrees with it:
    /// what it leaves out is what this refuses.)
    fn features(&self) -> Result<(), Error> {
        let c = self.config;
        let missing = |what: &str, key: &str, feature: &'static str| Error::FeatureMissing {
            what: what.into(),
            key: self.origins.label(key),
            feature,
        };
        for kind in &c.exporters {
            match kind {
                ExporterKind::Prometheus if !cfg!(feature = "prometheus") => {
                    return Err(missing(
                        "the Prometheus exporter",
                        "exporters",
                        "prometheus",
                    ));
                }
                ExporterKind::Live if !cfg!(feature = "live") => {
                    return Err(missing("the live view", "exporters", "live"));
                }
                ExporterKind::Stdout if !cfg!(feature = "stdout") => {
                    return Err(missing("the stdout exporter", "exporters", "stdout"));
                }
                _ => {}
            }
        }
        if !c.traces.is_empty() && !cfg!(feature = "traces") {
            return Err(missing("spans", "traces", "traces"));
        }
        if c.traces.contains(&TraceExporterKind::Stdout) && !cfg!(feature = "stdout") {
            return Err(missing("the stdout span exporter", "traces", "stdout"));
        }
        let otlp = c.exporters.contains(&ExporterKind::Otlp)
            || c.traces.contains(&TraceExporterKind::Otlp);
        if otlp {
            let (feature, what) = match c.otlp.protocol {
                OtlpProtocol::Grpc => ("otlp-grpc", "OTLP over gRPC"),
                OtlpProtocol::HttpProtobuf => ("otlp-http", "OTLP over HTTP"),
            };
            let compiled = match c.otlp.protocol {
                OtlpProtocol::Grpc => cfg!(feature = "otlp-grpc"),
                OtlpProtocol::HttpProtobuf => cfg!(feature = "otlp-http"),
            };
            if !compiled {
                let key = if self.origins.is_default("otlp.protocol") {
                    "exporters"
                } else {
                    "otlp.protocol"
                };
                return Err(missing(what, key, feature));
            }
        }
        // A history in a metrics backend is written by the exporters: the
        // suite needs no database for it.
        if c.history.enabled && c.history.backend().is_none() && !cfg!(feature = "history") {
            return Err(missing("the history database", "history.path", "history"));
        }
        Ok(())
    }
}

fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Metrics => "metrics",
        Signal::Traces => "spans",
    }
}

fn with_hint(e: Error, hint: &str) -> Error {
    match e {
        Error::Config { key, value, reason } => Error::Config {
            key,
            value,
            reason: format!("{reason} ({hint})"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;
