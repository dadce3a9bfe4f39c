//! TLS and authentication on both OTLP transports, against the real
//! Collector serving TLS with a CA and certificates made here (rcgen):
//! server-only TLS with a custom CA, mutual TLS, and bearer-token
//! authentication (the Collector's bearertokenauth extension) each deliver
//! every series; a wrong CA, a missing client certificate and wrong
//! credentials each give one warning naming the cause, and the suite
//! completes with its local results. Basic authentication is checked
//! against VictoriaMetrics's OTLP receiver (`-httpAuth.*`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::collector::{Collector, Key, Run, assert_same_series, otlp_args};
use common::monitoring::scratch_dir;
use common::victoria::VictoriaMetrics;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// The files of a test PKI: a CA, a server and a client certificate it
/// signed, and a second CA that signed nothing.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    other_ca: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki(dir: &Path) -> Pki {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let issuer = ca("benchscope test CA");
    let leaf = |sans: Vec<String>, usage: ExtendedKeyUsagePurpose, name: &str| {
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        "collector",
    );
    let (client_cert, client_key) = leaf(
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        "benchscope runner",
    );
    Pki {
        ca: write("ca.pem", issuer.pem()),
        server_cert: write("server.pem", server_cert),
        server_key: write("server.key", server_key),
        client_cert: write("client.pem", client_cert),
        client_key: write("client.key", client_key),
        other_ca: write("other-ca.pem", ca("some other CA").pem()),
    }
}

const TOKEN: &str = "s3cret-token";

/// A Collector whose OTLP receivers serve TLS with `pki`'s server
/// certificate, asking for a client certificate (`mutual`) and a bearer
/// token (`token`) when told, into a Prometheus exporter.
fn tls_collector(dir: &Path, pki: &Pki, mutual: bool, token: bool) -> Collector {
    let mut tls = format!(
        "        tls:\n          cert_file: {}\n          key_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    if mutual {
        tls += &format!("          client_ca_file: {}\n", pki.ca.display());
    }
    if token {
        tls += "        auth:\n          authenticator: bearertokenauth\n";
    }
    let extensions = if token {
        format!("extensions:\n  bearertokenauth:\n    token: {TOKEN}\n")
    } else {
        String::new()
    };
    let service_extensions = if token {
        "  extensions: [bearertokenauth]\n"
    } else {
        ""
    };
    let text = format!(
        "{extensions}receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n{tls}      http:\n        endpoint: 127.0.0.1:4318\n{tls}\
         exporters:\n  prometheus:\n    endpoint: 127.0.0.1:8889\n    translation_strategy: UnderscoreEscapingWithoutSuffixes\n    without_scope_info: true\n\
         service:\n{service_extensions}  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [prometheus]\n"
    );
    let name = format!(
        "tls{}{}.yaml",
        if mutual { "-mutual" } else { "" },
        if token { "-token" } else { "" }
    );
    let config = dir.join(name);
    std::fs::write(&config, text).unwrap();
    Collector::start(&config, &[], &[])
}

/// Only the quickest benchmark: these runs are about the connection.
fn one_benchmark(mut args: Vec<String>) -> Vec<String> {
    args.extend(["--exact".into(), "strings/parse_u64".into()]);
    args
}

/// Runs the quick suite exporting by OTLP with `env`, and checks that the
/// Collector's Prometheus exporter holds every series of its own /metrics.
fn delivers(
    collector: &Collector,
    instance: &str,
    endpoint: &str,
    protocol: &str,
    env: &[(&str, String)],
) {
    let run = Run::start(instance, &one_benchmark(otlp_args(endpoint, protocol)), env);
    assert_same_series(&run, instance, 0.0, || {
        let series = common::parse(&common::scrape(collector.prometheus))
            .into_iter()
            .filter(|s| s.label("instance") == Some(instance))
            .map(|s| (s.name, s.labels, s.value))
            .collect();
        run.downstream(series, &[])
    });
}

/// Runs the quick suite exporting only by OTLP with `env`; checks that it
/// completes with its results and prints exactly one warning, which it
/// returns.
fn warns_once(
    dir: &Path,
    name: &str,
    endpoint: &str,
    protocol: &str,
    env: &[(&str, String)],
) -> String {
    let results = dir.join(format!("{name}.json"));
    let out = common::quickstart_command()
        .args(["--quick", "--no-history", "--exact", "strings/parse_u64"])
        .args([
            "--exporters",
            "otlp",
            "--otlp-endpoint",
            endpoint,
            "--otlp-protocol",
            protocol,
        ])
        .args(["--output", "json"])
        .arg(&results)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name}: {stderr}");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(
        run["benchmarks"].as_array().map(Vec::len),
        Some(1),
        "{name}"
    );
    assert!(run["benchmarks"][0]["stats"]["mean"].as_f64().unwrap() > 0.0);
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    eprintln!("{name}: {}", warnings[0]);
    warnings[0].to_owned()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn server_tls_with_a_custom_ca() {
    let dir = scratch_dir("tls-server");
    let pki = pki(&dir);
    let c = tls_collector(&dir, &pki, false, false);
    let ca = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca))];
    delivers(
        &c,
        "tls-http",
        &format!("https://{}", c.http),
        "http/protobuf",
        &ca,
    );
    // A gRPC endpoint without a scheme is TLS unless OTEL_EXPORTER_OTLP_INSECURE says otherwise.
    delivers(&c, "tls-grpc", &c.grpc.to_string(), "grpc", &ca);

    // Another CA: the server's certificate is not trusted.
    let other = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.other_ca))];
    for (protocol, endpoint) in [
        ("http/protobuf", format!("https://{}", c.http)),
        ("grpc", format!("https://{}", c.grpc)),
    ] {
        let w = warns_once(
            &dir,
            &format!("wrong-ca-{}", protocol.replace('/', "-")),
            &endpoint,
            protocol,
            &other,
        );
        assert!(
            w.contains("not signed by a CA it trusts")
                && w.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{protocol}: {w}"
        );
    }
    // Plain text to a TLS port fails too, and says so.
    let w = warns_once(
        &dir,
        "plain-to-tls",
        &format!("http://{}", c.http),
        "http/protobuf",
        &[],
    );
    assert!(w.contains(&format!("http://{}", c.http)), "{w}");
    let logs = c.stop();
    assert!(logs.contains("Everything is ready"), "{logs}");
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let dir = scratch_dir("tls-mutual");
    let pki = pki(&dir);
    let c = tls_collector(&dir, &pki, true, false);
    let general = [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca)),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&pki.client_cert),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&pki.client_key)),
    ];
    delivers(
        &c,
        "mtls-http",
        &format!("https://{}", c.http),
        "http/protobuf",
        &general,
    );
    // The metrics-only variables, over gRPC.
    let metrics_only = [
        ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", path(&pki.ca)),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            path(&pki.client_cert),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
            path(&pki.client_key),
        ),
    ];
    delivers(
        &c,
        "mtls-grpc",
        &format!("https://{}", c.grpc),
        "grpc",
        &metrics_only,
    );

    // No client certificate: the server ends the handshake.
    let ca_only = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca))];
    for (protocol, endpoint) in [
        ("http/protobuf", format!("https://{}", c.http)),
        ("grpc", format!("https://{}", c.grpc)),
    ] {
        let w = warns_once(
            &dir,
            &format!("no-client-cert-{}", protocol.replace('/', "-")),
            &endpoint,
            protocol,
            &ca_only,
        );
        assert!(
            w.contains("client certificate") && w.contains("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
            "{protocol}: {w}"
        );
    }
}

#[test]
fn bearer_token_authentication() {
    let dir = scratch_dir("tls-token");
    let pki = pki(&dir);
    let c = tls_collector(&dir, &pki, false, true);
    let with = |token: &str| {
        vec![
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca)),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("authorization=Bearer%20{token}"),
            ),
        ]
    };
    delivers(
        &c,
        "token-http",
        &format!("https://{}", c.http),
        "http/protobuf",
        &with(TOKEN),
    );
    delivers(
        &c,
        "token-grpc",
        &format!("https://{}", c.grpc),
        "grpc",
        &with(TOKEN),
    );
    for (protocol, endpoint) in [
        ("http/protobuf", format!("https://{}", c.http)),
        ("grpc", format!("https://{}", c.grpc)),
    ] {
        let w = warns_once(
            &dir,
            &format!("wrong-token-{}", protocol.replace('/', "-")),
            &endpoint,
            protocol,
            &with("wrong"),
        );
        assert!(
            w.contains("refused the credentials") && w.contains("OTEL_EXPORTER_OTLP_HEADERS"),
            "{protocol}: {w}"
        );
        assert!(!w.contains("wrong"), "the credentials are not echoed: {w}");
    }
}

#[test]
fn basic_authentication_against_victoria_metrics() {
    let dir = scratch_dir("basic-auth");
    let right = ("runner", "pa55");
    let vm = VictoriaMetrics::start_with(&[
        "-retentionPeriod=1d".into(),
        format!("-httpAuth.username={}", right.0),
        format!("-httpAuth.password={}", right.1),
    ]);
    // VictoriaMetrics's own OTLP receiver: a full metrics endpoint.
    let endpoint = format!("http://{}/opentelemetry/v1/metrics", vm.addr);
    let with = |credentials: (&str, &str)| {
        vec![
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.clone()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("authorization={}", basic(credentials).replace(' ', "%20")),
            ),
        ]
    };
    let args = one_benchmark(
        [
            "--exporters",
            "prometheus,otlp",
            "--otlp-protocol",
            "http/protobuf",
        ]
        .map(String::from)
        .to_vec(),
    );
    let run = Run::start("basic-ok", &args, &with(right));
    // VictoriaMetrics turns resource attributes into labels (with dots in
    // their names) and keeps no target_info.
    let instance = run.instance.clone();
    let direct_names = |series: &BTreeMap<Key, f64>| -> BTreeMap<Key, f64> {
        series
            .iter()
            .filter(|((name, _), _)| name != "target_info")
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let direct = direct_names(&run.direct_series());
        let stored: BTreeMap<Key, f64> = vm
            .export_as(
                &format!("{{\"service.instance.id\"=\"{instance}\"}}"),
                Some(&basic(right)),
            )
            .into_iter()
            .map(|(name, labels, value)| {
                let own = labels
                    .into_iter()
                    .filter(|(k, _)| !k.contains('.'))
                    .collect();
                (common::collector::key(name, own), value)
            })
            .collect();
        let problems = common::collector::differences(&direct, &stored, 1e-11);
        if problems.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "basic auth → VictoriaMetrics: {}",
            problems[..problems.len().min(20)].join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let w = warns_once(
        &dir,
        "basic-wrong",
        &endpoint,
        "http/protobuf",
        &with((right.0, "nope")),
    );
    assert!(
        w.contains("refused the credentials") && w.contains("OTEL_EXPORTER_OTLP_HEADERS"),
        "{w}"
    );
}

/// An `Authorization` value for basic authentication.
fn basic((user, password): (&str, &str)) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}
