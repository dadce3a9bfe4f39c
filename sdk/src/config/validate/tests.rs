//! The configuration check's rules, each refused value with its reason.

use super::super::load::Loaded;
use super::super::schema::FILE_NAME;
use super::*;

use super::super::tests::env;

fn with_file(text: &str, pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
    Loaded::load(Some(&super::super::tests::config_file(text)), env(pairs))
}

#[test]
fn file_values_meet_the_same_rules_as_variables() {
    let from_file = with_file("collection_interval = \"50ms\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        from_file.contains("collection_interval (in ")
            && from_file.contains(FILE_NAME)
            && from_file.contains("at least 100ms"),
        "{from_file}"
    );
    let from_env = Loaded::load(None, env(&[("OTEL_METRIC_EXPORT_INTERVAL", "50")]))
        .unwrap_err()
        .to_string();
    assert!(
        from_env.contains("OTEL_METRIC_EXPORT_INTERVAL") && from_env.contains("at least 100ms"),
        "{from_env}"
    );
    let url = with_file("[otlp]\nendpoint = \"localhost:4317\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        url.contains("otlp.endpoint (in ") && url.contains("http://"),
        "{url}"
    );
}

#[test]
fn extreme_durations_and_counts_are_refused_before_anything_runs() {
    for (text, words) in [
        ("[otlp]\ntimeout = \"584542046090years\"\n", "at most 10m"),
        (
            "[otlp]\ntimeout = \"18446744073709551615s 600ms\"\n",
            "at most 10m",
        ),
        ("[measurement]\nsamples = 4000000000\n", ""),
        ("[measurement]\nsamples = 2000000\n", "from 2 to 1000000"),
        ("[measurement]\nmax_time = \"100years\"\n", "at most 1day"),
        ("[prometheus]\nlinger = \"400days\"\n", "at most 1day"),
        ("max_series_per_metric = 0\n", "the default is 20000"),
        ("histogram_buckets_ms = [2.0, 1.0]\n", "increasing order"),
        ("[regression]\nalpha = 2.0\n", "from 0 to 1"),
        (
            "[history]\nenabled = true\npath = \"\"\n",
            "keeps the run nowhere",
        ),
        (
            "[history]\nenabled = true\npath = \"http://\"\n",
            "names its host",
        ),
    ] {
        let e = with_file(text, &[]).unwrap_err().to_string();
        assert!(e.contains(FILE_NAME), "{text}: {e}");
        assert!(e.contains(words), "{text}: {e}");
    }
}

#[test]
fn headers_the_exporter_would_drop_are_refused() {
    for value in [
        "bad name=x",
        "authorization=Bearer%01abc",
        "x-team=caf%C3%A9",
    ] {
        let e = Loaded::load(None, env(&[("OTEL_EXPORTER_OTLP_HEADERS", value)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{value}: {e}");
        assert!(!e.contains("abc"), "the value is not echoed: {e}");
    }
    let ok = Loaded::load(
        None,
        env(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20abc,x-team=perf",
        )]),
    );
    assert!(ok.is_ok());
}

#[test]
fn a_public_metrics_address_is_a_warning() {
    let l = Loaded::load(None, env(&[("BENCHSCOPE_PROMETHEUS_ADDR", "0.0.0.0:9464")]));
    if cfg!(feature = "prometheus") {
        let warnings = l.unwrap().warnings;
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("BENCHSCOPE_PROMETHEUS_ADDR") && warnings[0].contains("loopback"),
            "{warnings:?}"
        );
    }
}

#[test]
fn parts_left_out_of_the_build_are_named_with_their_feature() {
    let e = Loaded::load(None, env(&[("OTEL_METRICS_EXPORTER", "live")]));
    if cfg!(feature = "live") {
        assert!(e.is_ok());
    } else {
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("OTEL_METRICS_EXPORTER") && e.contains("features = [\"live\"]"),
            "{e}"
        );
    }
    let e = Loaded::load(
        None,
        env(&[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]),
    );
    if !cfg!(feature = "otlp-grpc") {
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("`otlp-grpc`"),
            "{e}"
        );
    }
    let e = Loaded::load(None, env(&[("BENCHSCOPE_HISTORY", "h.db")]));
    if !cfg!(feature = "history") {
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("BENCHSCOPE_HISTORY") && e.contains("`history`"),
            "{e}"
        );
    }
}

/// A metrics exporter over OTLP to `endpoint` with `protocol`, and `more`.
#[cfg(all(feature = "otlp-http", feature = "otlp-grpc"))]
fn otlp_env<'a>(
    endpoint: &'a str,
    protocol: &'a str,
    more: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
    ];
    pairs.extend_from_slice(more);
    env(&pairs)
}

#[cfg(all(feature = "otlp-http", feature = "otlp-grpc", not(feature = "tls")))]
#[test]
fn https_without_the_tls_feature_names_it() {
    for (endpoint, protocol) in [
        ("https://collector:4318", "http/protobuf"),
        ("collector:4317", "grpc"),
    ] {
        let e = Loaded::load(None, otlp_env(endpoint, protocol, &[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && e.contains("\"tls\""),
            "{e}"
        );
    }
    // INSECURE makes a schemeless gRPC endpoint plain text.
    let ok = Loaded::load(
        None,
        otlp_env(
            "collector:4317",
            "grpc",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
        ),
    )
    .unwrap();
    assert_eq!(
        ok.config.otlp.endpoint_for(Signal::Metrics),
        "http://collector:4317"
    );
}

#[cfg(all(feature = "otlp-http", feature = "otlp-grpc"))]
#[test]
fn a_schemeless_endpoint_is_for_grpc_only() {
    let e = Loaded::load(None, otlp_env("collector:4318", "http/protobuf", &[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("http://127.0.0.1:4318"), "{e}");
    let e = Loaded::load(
        None,
        otlp_env(
            "http://collector:4318",
            "http/protobuf",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
        ),
    )
    .unwrap();
    assert!(
        e.warnings.iter().any(|w| w.contains("gRPC only")),
        "{:?}",
        e.warnings
    );
    // For gRPC, INSECURE (the signal's own first) picks the scheme.
    let c = Loaded::load(
        None,
        otlp_env(
            "collector:4317",
            "grpc",
            &[
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"),
            ],
        ),
    )
    .unwrap()
    .config;
    assert_eq!(
        c.otlp.endpoint_for(Signal::Metrics),
        "http://collector:4317"
    );
    assert_eq!(
        c.otlp.endpoint_for(Signal::Traces),
        "https://collector:4317"
    );
}

#[cfg(all(feature = "tls", feature = "otlp-http", feature = "otlp-grpc"))]
#[test]
fn tls_files_are_checked_and_named_by_the_variable_that_set_them() {
    let e = Loaded::load(
        None,
        otlp_env(
            "https://collector:4318",
            "http/protobuf",
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
    // The signal's own variable wins, and is the one named.
    let e = Loaded::load(
        None,
        otlp_env(
            "collector:4317",
            "grpc",
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
                    "/nonexistent/m.pem",
                ),
            ],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"), "{e}");
    // A certificate without its key.
    let dir = std::env::temp_dir().join(format!("benchscope-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = Loaded::load(
        None,
        otlp_env(
            "https://collector:4318",
            "http/protobuf",
            &[(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                dir.join("client.pem").to_str().unwrap(),
            )],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("CLIENT_KEY"), "{e}");
    // Files for a plain-text endpoint are unused: a warning, not an error.
    let ok = Loaded::load(
        None,
        otlp_env(
            "http://collector:4318",
            "http/protobuf",
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
        ),
    )
    .unwrap();
    assert!(
        ok.warnings
            .iter()
            .any(|w| w.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && w.contains("not used")),
        "{:?}",
        ok.warnings
    );
    // And files for an exporter that is off are not read at all.
    assert!(
        Loaded::load(
            None,
            env(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")])
        )
        .is_ok()
    );
}
