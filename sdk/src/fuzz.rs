//! Entry points for fuzzing the parsers of outside input (the `internals`
//! feature; not API). Each takes arbitrary bytes, must never panic, and
//! asserts what must hold of what it accepts. `fuzz/` drives them with
//! libFuzzer (`scripts/fuzz.sh`); the tests drive them with generated
//! inputs for a bounded time.

use crate::analysis::baseline::Baseline;
use crate::config::{Loaded, Policy};
use crate::results::SuiteRun;

/// The configuration file: any text, with the default environment.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loaded) = Loaded::from_text(text, std::iter::empty()) {
        accepted(&loaded);
    }
}

/// The environment: the bytes split on `\n` are the values of the
/// variables benchscope reads, in turn (`=` splits a name from a value when
/// a line has one, so any variable name is tried too).
pub fn env_values(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut names = Loaded::variables().cycle();
    let env: Vec<(String, String)> = text
        .split('\n')
        .take(64)
        .map(|line| match line.split_once('=') {
            Some((name, value)) if name.starts_with("BENCHSCOPE_") || name.starts_with("OTEL_") => {
                (name.to_owned(), value.to_owned())
            }
            _ => (names.next().unwrap_or_default().to_owned(), line.to_owned()),
        })
        .collect();
    if let Ok(loaded) = Loaded::from_text("", env) {
        accepted(&loaded);
    }
}

/// The OTLP header string (`OTEL_EXPORTER_OTLP_HEADERS`).
pub fn otlp_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let env = [("OTEL_EXPORTER_OTLP_HEADERS".to_owned(), text)];
    if let Ok(loaded) = Loaded::from_text("", env) {
        accepted(&loaded);
    }
}

/// What holds of every configuration that loads: its headers are ones
/// both OTLP transports send, its durations and counts are in range, and
/// it prints as TOML that reads back.
fn accepted(loaded: &Loaded) {
    let c = &loaded.config;
    for (name, value) in &c.otlp.headers {
        assert!(!name.is_empty() && name.is_ascii(), "header name {name:?}");
        assert!(
            value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
            "header value {value:?}"
        );
    }
    assert!(c.collection_interval.as_millis() >= 100);
    assert!(crate::measure::registry::BenchOptions::SAMPLES.contains(&c.measurement.samples));
    assert!(c.measurement.min_time <= c.measurement.max_time);
    let printed = loaded.render();
    assert!(
        printed.parse::<toml::Table>().is_ok(),
        "print-config wrote TOML that does not read back:\n{printed}"
    );
}

/// A results or baseline file, read as `SuiteRun::read_json` reads one.
pub fn results_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(run) = SuiteRun::from_json(text) else {
        return;
    };
    // Every name shows within bounds, however long.
    for b in &run.benchmarks {
        assert!(crate::format::shown_name(&b.name).len() <= 4 * crate::format::NAME_SHOWN + 64);
    }
    // A run that passes the check writes and reads back unchanged.
    let text = serde_json::to_string(&run).expect("a checked run serializes");
    let back: SuiteRun = serde_json::from_str(&text).expect("what was written reads back");
    assert_eq!(back, run, "the run changed on the way through JSON");
    assert!(back.check().is_ok());
    // And compares with itself: every comparison is finite or refused.
    let baseline = Baseline {
        version: "fuzz".into(),
        run: run.clone(),
    };
    for b in &run.benchmarks {
        if let Ok(Some(c)) = baseline.compare(b, &Policy::default()) {
            assert!(c.comparison.change.is_finite() && c.speedup.iter().all(|s| s.is_finite()));
        }
    }
}

/// A TLS file (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `..._CLIENT_CERTIFICATE`,
/// `..._CLIENT_KEY`): certificates accepted are at least one, each
/// non-empty DER; any bytes give an answer, never a panic.
#[cfg(feature = "tls")]
pub fn tls_pem(data: &[u8]) {
    if let Ok(certificates) = crate::config::tls::parse_certificates(data.to_vec()) {
        assert!(!certificates.der.is_empty());
        assert!(certificates.der.iter().all(|d| !d.is_empty()));
    }
    let _ = crate::config::tls::check_key(data);
}

/// A request head sent to the Prometheus or live server.
#[cfg(any(feature = "prometheus", feature = "live"))]
pub fn http_request(data: &[u8]) {
    crate::exporters::http::fuzz_parse(data);
}

/// A message a live page sends.
#[cfg(feature = "live")]
pub fn live_message(data: &[u8]) {
    crate::exporters::live::server::fuzz_answer(data);
}
