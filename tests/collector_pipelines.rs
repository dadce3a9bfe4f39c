//! The pipelines in `collector-config/`, loaded by a real OpenTelemetry
//! Collector (built from `collector-config/builder-config.yaml` by
//! `scripts/build-collector.sh`):
//!
//! - every shipped file passes the Collector's `validate` and starts without
//!   a single warning (a deprecated key is logged as one);
//! - the files keep their shape: loopback listeners, no inline secret,
//!   `memory_limiter` first, names left as they are;
//! - the builder manifest and the compose file name one release;
//! - a suite's figures reach Prometheus through the Collector, over gRPC and
//!   over HTTP, and VictoriaMetrics through remote write, each series equal
//!   in name, labels and value to the suite's own `/metrics`;
//! - its spans reach a file exporter with their statistics.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::collector::{self, Collector, Run, assert_same_series, otlp_args};
use common::monitoring::{LocalStack, scratch_dir};
use common::victoria::VictoriaMetrics;
use yaml_rust2::{Yaml, YamlLoader};

/// The shipped pipelines (the builder manifest is not one).
fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(common::repo_root().join("collector-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "builder-config.yaml")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

/// What the pipelines read from the environment, pointing at closed
/// loopback ports: enough for them to load and start.
fn placeholder_env() -> Vec<(&'static str, String)> {
    vec![
        ("REMOTE_WRITE_URL", "http://127.0.0.1:9/api/v1/write".into()),
        ("TRACES_ENDPOINT", "127.0.0.1:9".into()),
    ]
}

#[test]
fn every_shipped_pipeline_validates_and_starts_without_a_warning() {
    for file in shipped() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let out = std::process::Command::new(collector::binary())
            .arg("validate")
            .arg("--config")
            .arg(&file)
            .envs(placeholder_env())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name} does not validate:\n{text}");

        // `validate` checks the configuration but keeps quiet about
        // deprecations; the running Collector logs them, as warnings.
        let c = Collector::start(&file, &placeholder_env(), &[]);
        let start = Instant::now();
        while !c.logs().contains("Everything is ready") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name}: the Collector did not get ready:\n{}",
                c.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // A deprecation is logged while the components start, before the
        // ready line; a moment more catches a late one.
        std::thread::sleep(Duration::from_millis(500));
        let logs = c.stop();
        // The placeholder destinations refuse connections; the exporters
        // say so, which is not about the file.
        let warnings: Vec<_> = logs
            .lines()
            .filter(|l| l.contains("\twarn\t") || l.to_lowercase().contains("deprecat"))
            .filter(|l| !l.contains("127.0.0.1:9"))
            .collect();
        assert!(
            warnings.is_empty(),
            "{name}: the Collector warns:\n{}",
            warnings.join("\n")
        );
    }
}

/// The names of a YAML mapping's keys.
fn keys(section: &Yaml) -> Vec<String> {
    section
        .as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a YAML list.
fn names(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|y| y.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn load(file: &Path) -> (Yaml, String) {
    let text = std::fs::read_to_string(file).unwrap();
    let doc = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .into_iter()
        .next()
        .expect("one document");
    (doc, text)
}

#[test]
fn the_pipelines_keep_their_shape() {
    for file in shipped() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (config, text) = load(&file);
        for (pipeline, p) in config["service"]["pipelines"].as_hash().unwrap() {
            let processors = names(&p["processors"]);
            if let Some(i) = processors.iter().position(|c| c == "memory_limiter") {
                assert_eq!(
                    i, 0,
                    "{name}: memory_limiter must come first in {pipeline:?}"
                );
            }
        }
        // Names arrive in their Prometheus form: an exporter that added
        // suffixes would break every dashboard and alert of the direct path.
        for exporter in keys(&config["exporters"]) {
            if exporter.starts_with("prometheus") {
                assert_eq!(
                    config["exporters"][exporter.as_str()]["translation_strategy"].as_str(),
                    Some("UnderscoreEscapingWithoutSuffixes"),
                    "{name}: {exporter}"
                );
            }
        }
        // Listeners default to loopback; what a pipeline sends to comes from
        // the environment.
        for line in text.lines().map(str::trim) {
            let Some(value) = line.strip_prefix("endpoint:").map(str::trim) else {
                continue;
            };
            assert!(
                value.starts_with("${env:"),
                "{name}: `{line}` must come from the environment"
            );
            if value.contains(":-") {
                assert!(
                    value.contains(":-127.0.0.1}"),
                    "{name}: `{line}` must default to loopback"
                );
            }
        }
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("bearer ") && !lower.contains("basic "),
            "{name}: an inline credential"
        );
    }
    let (production, _) = load(&common::repo_root().join("collector-config/production.yaml"));
    for pipeline in ["metrics", "traces"] {
        assert_eq!(
            names(&production["service"]["pipelines"][pipeline]["processors"]),
            ["memory_limiter", "batch"],
            "production.yaml: {pipeline}"
        );
    }
    assert_eq!(
        names(&production["service"]["extensions"]),
        ["health_check"]
    );
}

#[test]
fn the_manifest_and_the_compose_file_name_one_release() {
    let release = collector::release();
    let manifest =
        std::fs::read_to_string(common::repo_root().join("collector-config/builder-config.yaml"))
            .unwrap();
    let modules: Vec<(&str, &str)> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- gomod: "))
        .map(|m| m.split_once(' ').expect("module and version"))
        .collect();
    assert!(modules.len() >= 10, "{modules:?}");
    for (module, version) in modules {
        // The confmap providers are versioned on their own (1.x) track.
        if module.contains("/confmap/") {
            assert!(version.starts_with("v1."), "{module} {version}");
        } else {
            assert_eq!(version, format!("v{release}"), "{module}");
        }
    }
    let compose =
        std::fs::read_to_string(common::repo_root().join("monitoring/docker-compose.yml")).unwrap();
    let image = compose
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("image: otel/opentelemetry-collector-contrib:")
        })
        .expect("the compose file runs the contrib Collector");
    assert_eq!(image, release);
}

#[test]
fn through_the_collector_every_series_equals_the_direct_path() {
    let dir = scratch_dir("collector-e2e");
    // OTLP in, Prometheus exporter out, scraped by a real Prometheus.
    let pull = Collector::start(
        Path::new("collector-config/otlp-to-prometheus.yaml"),
        &[],
        &[],
    );
    let stack = LocalStack::start_with(&dir.join("stack"), &[], &[pull.prometheus], "");
    // OTLP in, remote write out, into VictoriaMetrics.
    let vm = VictoriaMetrics::start();
    let push = Collector::start(
        Path::new("collector-config/otlp-to-remote-write.yaml"),
        &[
            (
                "REMOTE_WRITE_URL",
                format!("http://{}/api/v1/write", vm.addr),
            ),
            ("RUNNER_NAME", "runner-e2e".into()),
        ],
        &[],
    );

    let grpc = otlp_args(&format!("http://{}", pull.grpc), "grpc");
    let http = otlp_args(&format!("http://{}", pull.http), "http/protobuf");
    let remote = otlp_args(&format!("http://{}", push.http), "http/protobuf");
    let runs = [
        (
            Run::start("via-grpc", &grpc, &[]),
            "gRPC → Collector → Prometheus",
        ),
        (
            Run::start("via-http", &http, &[]),
            "HTTP → Collector → Prometheus",
        ),
    ];
    for (run, path) in &runs {
        assert_same_series(run, path, 0.0, || {
            let series = stack
                .query(&format!("{{instance=\"{}\"}}", run.instance))
                .into_iter()
                .map(|(mut labels, value)| {
                    let name = labels.remove("__name__").unwrap_or_default();
                    (name, labels, value)
                })
                .collect();
            run.downstream(series, &[])
        });
    }
    let run = Run::start("via-remote-write", &remote, &[]);
    // VictoriaMetrics keeps 12 significant decimal digits of a value (its
    // compression; see its docs on -precisionBits): equal to that.
    assert_same_series(
        &run,
        "HTTP → Collector → remote write → VictoriaMetrics",
        1e-11,
        || {
            let series = vm.export(&format!("{{instance=\"{}\"}}", run.instance));
            run.downstream(series, &[("runner", "runner-e2e")])
        },
    );
    // Every export reached the Collectors: no warning in their logs.
    for (c, name) in [(pull, "otlp-to-prometheus"), (push, "otlp-to-remote-write")] {
        let logs = c.stop();
        assert!(
            !logs.contains("\twarn\t") && !logs.contains("\terror\t"),
            "{name}:\n{logs}"
        );
    }
}

#[test]
fn spans_reach_a_file_exporter_with_their_statistics() {
    let dir = scratch_dir("collector-spans");
    let spans = dir.join("spans.jsonl");
    let config = dir.join("traces-to-file.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n      http:\n        endpoint: 127.0.0.1:4318\n\
             exporters:\n  file:\n    path: {}\n    flush_interval: 100ms\n\
             service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n",
            spans.display()
        ),
    )
    .unwrap();
    let c = Collector::start(&config, &[], &[]);
    let results = dir.join("results.json");
    let out = common::quickstart_command()
        .args(["--quick", "--no-history", "--exporters", "none"])
        .args(["--traces", "otlp", "--otlp-protocol", "grpc"])
        .args(["--otlp-endpoint", &format!("http://{}", c.grpc)])
        .arg("--output")
        .arg("json")
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let benchmarks = run["benchmarks"].as_array().unwrap();
    assert!(benchmarks.len() >= 5);

    // The file exporter writes one OTLP/JSON request per line.
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let text = std::fs::read_to_string(&spans).unwrap_or_default();
        let found: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|r| r["resourceSpans"].as_array().cloned().unwrap_or_default())
            .flat_map(|rs| rs["scopeSpans"].as_array().cloned().unwrap_or_default())
            .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
            .collect();
        if found.len() > benchmarks.len() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let suite: Vec<_> = found
        .iter()
        .filter(|s| s["name"] == "benchmark suite")
        .collect();
    assert_eq!(suite.len(), 1, "{found:#?}");
    let suite = suite[0];
    let attribute = |span: &serde_json::Value, key: &str| -> Option<serde_json::Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(
        attribute(suite, "benchmarks").and_then(|v| v["intValue"].as_str().map(str::to_owned)),
        Some(benchmarks.len().to_string())
    );
    for b in benchmarks {
        let name = b["name"].as_str().unwrap();
        let span = found
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span for {name}"));
        assert_eq!(span["traceId"], suite["traceId"], "{name}");
        assert_eq!(span["parentSpanId"], suite["spanId"], "{name}");
        let mean = attribute(span, "benchmark.mean_ns").and_then(|v| v["doubleValue"].as_f64());
        assert_eq!(mean, b["stats"]["mean"].as_f64(), "{name}");
        for key in [
            "benchmark.median_ns",
            "benchmark.p99_ns",
            "benchmark.ci_lower_ns",
            "benchmark.ci_upper_ns",
            "benchmark.samples",
            "benchmark.iterations",
        ] {
            assert!(attribute(span, key).is_some(), "{name}: {key}");
        }
    }
    let logs = c.stop();
    assert!(!logs.contains("\terror\t"), "{logs}");
}
