//! The Collector pipelines in `collector-config/` are consistent: every
//! component a pipeline names is defined, `memory_limiter` comes first, no
//! exporter adds metric suffixes (names must match the direct Prometheus
//! path), listen addresses default to loopback, and no secret is inline.

mod common;

use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> (Yaml, String) {
    let path = common::repo_root().join("collector-config").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (docs.into_iter().next().expect("one document"), text)
}

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

fn names(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|y| y.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn check(name: &str) -> Yaml {
    let (config, text) = load(name);
    let pipelines = &config["service"]["pipelines"];
    assert!(!keys(pipelines).is_empty(), "{name}: no pipelines");
    for pipeline in keys(pipelines) {
        let p = &pipelines[pipeline.as_str()];
        for (kind, section) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            for component in names(&p[kind]) {
                assert!(
                    keys(&config[section]).contains(&component),
                    "{name}: pipeline {pipeline} names {kind} {component}, which is not defined"
                );
            }
        }
        assert!(
            !names(&p["receivers"]).is_empty() && !names(&p["exporters"]).is_empty(),
            "{name}: {pipeline}"
        );
        let processors = names(&p["processors"]);
        if let Some(i) = processors.iter().position(|c| c == "memory_limiter") {
            assert_eq!(i, 0, "{name}: memory_limiter must come first in {pipeline}");
        }
    }
    for extension in names(&config["service"]["extensions"]) {
        assert!(
            keys(&config["extensions"]).contains(&extension),
            "{name}: extension {extension}"
        );
    }
    for exporter in keys(&config["exporters"]) {
        let e = &config["exporters"][exporter.as_str()];
        if exporter.starts_with("prometheus") {
            assert_eq!(
                e["add_metric_suffixes"].as_bool(),
                Some(false),
                "{name}: {exporter} would rename metrics"
            );
            assert_eq!(
                e["resource_to_telemetry_conversion"]["enabled"].as_bool(),
                Some(false),
                "{name}: {exporter} would add resource labels"
            );
        }
    }
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("endpoint:"))
    {
        let value = line.split_once(':').unwrap().1.trim();
        assert!(
            value.starts_with("${env:"),
            "{name}: `{}` must come from the environment",
            line.trim()
        );
        if value.contains(":-") {
            assert!(
                value.contains(":-127.0.0.1}"),
                "{name}: `{}` must default to loopback",
                line.trim()
            );
        }
    }
    assert!(
        !text.to_lowercase().contains("bearer "),
        "{name}: an inline credential"
    );
    config
}

#[test]
fn otlp_to_prometheus_is_consistent() {
    let c = check("otlp-to-prometheus.yaml");
    assert_eq!(
        names(&c["service"]["pipelines"]["metrics"]["exporters"]),
        ["prometheus"]
    );
}

#[test]
fn otlp_to_remote_write_is_consistent() {
    let c = check("otlp-to-remote-write.yaml");
    assert_eq!(
        names(&c["service"]["pipelines"]["metrics"]["exporters"]),
        ["prometheusremotewrite"]
    );
}

#[test]
fn production_has_the_production_shape() {
    let c = check("production.yaml");
    for pipeline in ["metrics", "traces"] {
        assert_eq!(
            names(&c["service"]["pipelines"][pipeline]["processors"]),
            ["memory_limiter", "resourcedetection", "batch"],
            "{pipeline}"
        );
    }
    assert_eq!(names(&c["service"]["extensions"]), ["health_check"]);
}
