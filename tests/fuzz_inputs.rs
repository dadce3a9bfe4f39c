//! The fuzz entry points of benchscope's parsers of outside input
//! (`benchscope::fuzz`), driven on stable for a bounded time with generated
//! inputs shaped like the real thing: configuration files built from the
//! real keys, environments of the real variables, header strings, results
//! files and request heads mutated from real ones, and the committed seeds.
//! Each entry point panics on what must not happen; libFuzzer drives the
//! same ones for hours (`scripts/fuzz.sh`).
//!
//! `FUZZ_CASES` sets the cases per target (default 1 500).

use benchscope::fuzz;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runner() -> TestRunner {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Byte edits of `seed`: overwrites, insertions and cuts at random places.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8).prop_map(
        move |edits| {
            let mut bytes = seed.clone();
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.truncate(i.max(1));
                    }
                }
            }
            bytes
        },
    )
}

fn from_seeds(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    (0..seeds.len()).prop_flat_map(move |i| mutated(seeds[i].clone()))
}

/// Values a key of the file might be given, typed or not.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("TOML writes no NaN as a number", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "[0-9]{1,22}(ns|us|ms|s|m|h|d|years| |s 600ms){1,3}".prop_map(|d| format!("\"{d}\"")),
        "[ -~]{0,24}".prop_map(|s| format!("{:?}", s)),
        "(https?://)?[a-z0-9.:\\[\\]]{0,20}(/[a-z]{0,5})?".prop_map(|s| format!("\"{s}\"")),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        prop::collection::vec("(prometheus|otlp|stdout|live|console|none|x)", 0..4).prop_map(
            |v| format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ),
        prop::collection::vec(any::<f64>().prop_filter("finite", |f| f.is_finite()), 0..4)
            .prop_map(|v| format!(
                "[{}]",
                v.iter()
                    .map(|f| format!("{f:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
    ]
}

const TOP_KEYS: &[&str] = &[
    "environment",
    "collection_interval",
    "exporters",
    "traces",
    "service_name",
    "histogram_buckets_ms",
    "max_series_per_metric",
    "commit",
    "baseline_dir",
];
const SECTION_KEYS: &[(&str, &[&str])] = &[
    ("prometheus", &["addr", "linger"]),
    (
        "otlp",
        &[
            "endpoint",
            "metrics_endpoint",
            "protocol",
            "timeout",
            "compression",
            "temporality",
        ],
    ),
    ("otlp.headers", &["authorization", "x-team", "bad key"]),
    ("live", &["addr", "token", "interval", "max_clients"]),
    (
        "measurement",
        &["samples", "warmup", "min_time", "max_time"],
    ),
    ("history", &["enabled", "path"]),
    ("regression", &["alpha", "noise_floor", "major", "critical"]),
    ("resource_attributes", &["team", "service.namespace"]),
];

/// A configuration file of real keys with values of any shape.
fn config_text() -> impl Strategy<Value = String> {
    let top = prop::collection::vec((prop::sample::select(TOP_KEYS), toml_value()), 0..5);
    let sections = prop::collection::vec(
        (
            prop::sample::select(SECTION_KEYS),
            prop::collection::vec((any::<prop::sample::Index>(), toml_value()), 1..4),
        ),
        0..4,
    );
    (top, sections).prop_map(|(top, sections)| {
        let mut text = String::new();
        for (key, value) in top {
            text.push_str(&format!("{key} = {value}\n"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for ((section, keys), values) in sections {
            if !seen.insert(section) {
                continue;
            }
            text.push_str(&format!("[{section}]\n"));
            for (at, value) in values {
                let key = keys[at.index(keys.len())];
                let key = if key.contains(' ') || key.contains('.') {
                    format!("{key:?}")
                } else {
                    key.to_owned()
                };
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text
    })
}

#[test]
fn configuration_files() {
    for seed in seeds("config_file") {
        fuzz::config_file(&seed);
    }
    let mut runner = runner();
    runner
        .run(&config_text(), |text| {
            fuzz::config_file(text.as_bytes());
            Ok(())
        })
        .unwrap();
    runner
        .run(&from_seeds("config_file"), |bytes| {
            fuzz::config_file(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn environment_values() {
    for seed in seeds("env_values") {
        fuzz::env_values(&seed);
    }
    let values = prop::collection::vec(
        prop_oneof![
            "[ -~]{0,30}",
            "[0-9]{1,25}(ms|s| )?",
            "(https?|ftp)://[a-z0-9.:]{0,16}",
            "[a-z=,%0-9A-F\\x00-\\x1f\u{80}-\u{10ffff}]{0,20}",
            "(BENCHSCOPE|OTEL)_[A-Z_]{1,20}=[ -~]{0,12}",
        ],
        0..24,
    );
    runner()
        .run(&values, |lines| {
            fuzz::env_values(lines.join("\n").as_bytes());
            Ok(())
        })
        .unwrap();
}

#[test]
fn otlp_header_strings() {
    for seed in seeds("otlp_headers") {
        fuzz::otlp_headers(&seed);
    }
    let header = "[a-zA-Z0-9%,=: \\-_\\x00-\\x1f\u{80}-\u{10ffff}]{0,48}";
    runner()
        .run(&header, |text| {
            fuzz::otlp_headers(text.as_bytes());
            Ok(())
        })
        .unwrap();
}

#[test]
fn results_and_baseline_files() {
    for seed in seeds("results_json") {
        fuzz::results_json(&seed);
    }
    // Numbers of the seed replaced by numbers of any size and sign, then
    // bytes edited.
    let seed = String::from_utf8(seeds("results_json").remove(0)).unwrap();
    let numbers = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                any::<f64>().prop_map(|f| format!("{f:e}")),
                Just("1e308".to_owned()),
                Just("-0.0".to_owned()),
                Just("18446744073709551615".to_owned()),
            ],
        ),
        0..6,
    )
    .prop_map(move |edits| {
        let mut text = seed.clone();
        for (at, number) in edits {
            let positions: Vec<usize> = text
                .match_indices(": ")
                .map(|(i, _)| i + 2)
                .filter(|&i| text[i..].starts_with(|c: char| c.is_ascii_digit() || c == '-'))
                .collect();
            if positions.is_empty() {
                break;
            }
            let start = positions[at.index(positions.len())];
            let end = start + text[start..].find([',', '\n', '}']).unwrap_or(0);
            text.replace_range(start..end, &number);
        }
        text
    });
    let mut runner = runner();
    runner
        .run(&numbers, |text| {
            fuzz::results_json(text.as_bytes());
            Ok(())
        })
        .unwrap();
    runner
        .run(&from_seeds("results_json"), |bytes| {
            fuzz::results_json(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn request_heads_and_page_messages() {
    for seed in seeds("http_request") {
        fuzz::http_request(&seed);
    }
    for seed in seeds("live_message") {
        fuzz::live_message(&seed);
    }
    let mut runner = runner();
    runner
        .run(&from_seeds("http_request"), |bytes| {
            fuzz::http_request(&bytes);
            Ok(())
        })
        .unwrap();
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..256), |bytes| {
            fuzz::http_request(&bytes);
            fuzz::live_message(&bytes);
            Ok(())
        })
        .unwrap();
    runner
        .run(&from_seeds("live_message"), |bytes| {
            fuzz::live_message(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn tls_pem_files() {
    for seed in seeds("tls_pem") {
        fuzz::tls_pem(&seed);
    }
    let mut runner = runner();
    runner
        .run(&from_seeds("tls_pem"), |bytes| {
            fuzz::tls_pem(&bytes);
            Ok(())
        })
        .unwrap();
    // PEM-shaped text of any body.
    let blocks = "(-----(BEGIN|END) (CERTIFICATE|PRIVATE KEY|RSA PRIVATE KEY|EC PRIVATE KEY)-----\n[A-Za-z0-9+/=\n]{0,120}){0,4}";
    runner
        .run(&blocks, |text| {
            fuzz::tls_pem(text.as_bytes());
            Ok(())
        })
        .unwrap();
}
