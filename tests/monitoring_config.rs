//! The configuration under `monitoring/` (and the dev container), checked by
//! the tools that will load it: promtool (config, rules, rule unit tests),
//! amtool (config, routing), a Compose-spec parser (docker-compose.yml), and
//! the dashboards' JSON model against the metric catalogue. The servers
//! themselves run in tests/monitoring_stack.rs.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::monitoring::{installed_tool, promtool3_binary, repo_path, scratch_dir};
use yaml_rust2::{Yaml, YamlLoader};

/// Runs `tool` in monitoring/; its standard output, after asserting success.
fn run(tool: &str, args: &[&str]) -> String {
    run_in(&installed_tool(tool), args, &repo_path("monitoring"))
}

/// Runs the program at `tool` in `dir`; its standard output, after
/// asserting success.
fn run_in(tool: &std::path::Path, args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let tool = tool.display();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn yaml(relative: &str) -> Yaml {
    let text = std::fs::read_to_string(repo_path(relative)).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// Every alerting rule of alerts.yaml.
fn alert_rules() -> Vec<Yaml> {
    let rules = yaml("monitoring/alerts.yaml");
    rules["groups"]
        .as_vec()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_vec().unwrap().clone())
        .filter(|r| r["alert"].as_str().is_some())
        .collect()
}

#[test]
fn promtool_accepts_the_prometheus_config_and_the_rules() {
    // Prometheus 3 reads the file as it is.
    let monitoring = repo_path("monitoring");
    let promtool3 = promtool3_binary();
    let config = run_in(
        &promtool3,
        &["check", "config", "prometheus.yml"],
        &monitoring,
    );
    assert!(config.contains("SUCCESS: 1 rule files found"), "{config}");
    let rules = run_in(&promtool3, &["check", "rules", "alerts.yaml"], &monitoring);
    assert!(rules.contains("SUCCESS"), "{rules}");

    // Prometheus 2 reads it as local-stack.sh gives it: without the lines
    // marked `# Prometheus 3`, which 2.42 rejects.
    let text = std::fs::read_to_string(monitoring.join("prometheus.yml")).unwrap();
    let marked = text
        .lines()
        .filter(|l| l.ends_with("# Prometheus 3"))
        .count();
    assert!(
        marked >= 1,
        "no line of prometheus.yml is marked for Prometheus 3"
    );
    let dir = scratch_dir("promtool-2");
    let for_2: String = text
        .lines()
        .filter(|l| !l.ends_with("# Prometheus 3"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("prometheus.yml"), for_2).unwrap();
    std::fs::copy(monitoring.join("alerts.yaml"), dir.join("alerts.yaml")).unwrap();
    let promtool2 = installed_tool("promtool");
    let config = run_in(&promtool2, &["check", "config", "prometheus.yml"], &dir);
    assert!(config.contains("SUCCESS: 1 rule files found"), "{config}");
    let rules = run_in(&promtool2, &["check", "rules", "alerts.yaml"], &dir);
    assert!(rules.contains("SUCCESS"), "{rules}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_alert_fires_and_stays_silent_in_the_rule_unit_tests() {
    let out = run("promtool", &["test", "rules", "alerts_test.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_in(
        &promtool3_binary(),
        &["test", "rules", "alerts_test.yaml"],
        &repo_path("monitoring"),
    );
    assert!(out.contains("SUCCESS"), "Prometheus 3: {out}");

    // Each alert has a case where it fires and one where it must not.
    let tests = yaml("monitoring/alerts_test.yaml");
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_vec().unwrap() {
        for check in case["alert_rule_test"].as_vec().unwrap() {
            let name = check["alertname"].as_str().unwrap().to_owned();
            if check["exp_alerts"].as_vec().is_some_and(|v| v.is_empty()) {
                silent.insert(name);
            } else {
                fires.insert(name);
            }
        }
    }
    let alerts: BTreeSet<String> = alert_rules()
        .iter()
        .map(|r| r["alert"].as_str().unwrap().to_owned())
        .collect();
    for required in [
        "CriticalPerformanceRegression",
        "HighMemoryUsage",
        "HighCIFailureRate",
        "HighRegressionRate",
        "BenchmarkDataMissing",
    ] {
        assert!(
            alerts.contains(required),
            "{required} is not in alerts.yaml"
        );
    }
    assert_eq!(fires, alerts, "alerts without a firing test case");
    assert_eq!(silent, alerts, "alerts without a silent test case");
}

#[test]
fn every_alert_has_a_severity_annotations_and_a_playbook() {
    let playbooks = std::fs::read_to_string(repo_path("docs/playbooks.md")).unwrap();
    let anchors: BTreeSet<String> = playbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    for rule in alert_rules() {
        let name = rule["alert"].as_str().unwrap();
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?} is routed nowhere"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule["annotations"][key].as_str().is_some(),
                "{name} has no {key}"
            );
        }
        let runbook = rule["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = runbook.rsplit_once('#').map(|(_, a)| a).unwrap_or("");
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook {runbook}");
        assert!(
            anchors.contains(anchor),
            "{name}: docs/playbooks.md has no section `## {name}`"
        );
    }
}

#[test]
fn amtool_accepts_the_alertmanager_config_and_routes_by_severity() {
    let out = run("amtool", &["check-config", "alertmanager.yml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    let route = |labels: &[&str]| {
        let mut args = vec!["config", "routes", "test", "--config.file=alertmanager.yml"];
        args.extend_from_slice(labels);
        run("amtool", &args).trim().to_owned()
    };
    assert_eq!(
        route(&[
            "severity=critical",
            "alertname=CriticalPerformanceRegression"
        ]),
        "pagerduty,webhook"
    );
    assert_eq!(
        route(&["severity=warning", "alertname=HighMemoryUsage"]),
        "slack"
    );

    // Secrets only from files, never inline.
    let config = yaml("monitoring/alertmanager.yml");
    for receiver in config["receivers"].as_vec().unwrap() {
        for pd in receiver["pagerduty_configs"].as_vec().into_iter().flatten() {
            assert!(pd["routing_key"].is_badvalue() && pd["service_key"].is_badvalue());
            assert!(pd["routing_key_file"].as_str().is_some());
        }
        for slack in receiver["slack_configs"].as_vec().into_iter().flatten() {
            assert!(slack["api_url"].is_badvalue());
            assert!(slack["api_url_file"].as_str().is_some());
        }
    }
}

#[test]
fn the_compose_file_is_valid_with_pinned_images_health_checks_and_loopback_only() {
    let text = std::fs::read_to_string(repo_path("monitoring/docker-compose.yml")).unwrap();
    let compose = compose_spec::Compose::options()
        .from_yaml_str(&text)
        .unwrap_or_else(|e| panic!("docker-compose.yml is not a valid Compose file: {e}"));
    compose.validate_all().unwrap();

    let names: BTreeSet<&str> = compose.services.keys().map(|k| k.as_str()).collect();
    for required in [
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
        "otel-collector",
    ] {
        assert!(names.contains(required), "no {required} service");
    }
    // The raw YAML for what the typed model makes awkward to reach.
    let raw = YamlLoader::load_from_str(&text).unwrap().remove(0);
    for (name, service) in raw["services"].as_hash().unwrap() {
        let name = name.as_str().unwrap();
        let image = service["image"].as_str().unwrap();
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
            "{name}: image {image} is not pinned"
        );
        if name != "otel-collector" {
            assert!(
                service["healthcheck"]["test"].as_vec().is_some(),
                "{name} has no healthcheck"
            );
        }
        // Host network, loopback listeners: the same addresses as the local
        // stack, nothing published to other machines.
        assert_eq!(service["network_mode"].as_str(), Some("host"), "{name}");
        assert!(service["ports"].is_badvalue(), "{name} publishes ports");
        // Every file the stack mounts from the repository exists.
        for volume in service["volumes"].as_vec().into_iter().flatten() {
            let source = match volume.as_str() {
                Some(short) => short.split(':').next().unwrap(),
                None => volume["source"].as_str().unwrap(),
            };
            if source.starts_with('.') && !source.ends_with("secrets") {
                // As Compose resolves it: against the folder named on its
                // command line, `..` taken away by name (`monitoring` is a
                // link to `sdk/stack`).
                let mut path = repo_path("monitoring");
                for part in std::path::Path::new(source).components() {
                    match part {
                        std::path::Component::ParentDir => {
                            path.pop();
                        }
                        std::path::Component::CurDir => {}
                        other => path.push(other),
                    }
                }
                assert!(
                    path.exists(),
                    "{name} mounts {source}, which does not exist"
                );
            }
        }
    }
    let command = |service: &str| -> Vec<String> {
        raw["services"][service]["command"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    for (service, flag) in [
        ("prometheus", "--web.listen-address=127.0.0.1:9090"),
        ("prometheus", "--storage.tsdb.retention.time=30d"),
        ("alertmanager", "--web.listen-address=127.0.0.1:9093"),
        ("alertmanager", "--cluster.listen-address="),
        ("node-exporter", "--web.listen-address=127.0.0.1:9100"),
    ] {
        assert!(
            command(service).iter().any(|a| a == flag),
            "{service} lacks {flag}"
        );
    }
    assert_eq!(
        raw["services"]["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"].as_str(),
        Some("127.0.0.1")
    );
    // The Collector's pipeline listens where its config says: loopback unless
    // OTLP_BIND is set, and the compose file does not set it.
    assert!(raw["services"]["otel-collector"]["environment"].is_badvalue());
}

#[test]
fn the_dashboard_uses_only_catalogue_metrics_and_the_provisioned_datasource() {
    let datasource = yaml("monitoring/grafana/provisioning/datasources/prometheus.yml");
    let uid = datasource["datasources"][0]["uid"].as_str().unwrap();
    let path = repo_path("monitoring/grafana/dashboards/performance-overview.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(dashboard["title"], "Performance Overview");

    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, BTreeSet::from(["benchmark", "environment"]));

    let mut known: BTreeSet<String> = BTreeSet::new();
    for spec in benchscope::metrics::CATALOGUE {
        known.insert(spec.name.to_owned());
        for suffix in ["_bucket", "_sum", "_count"] {
            known.insert(format!("{}{suffix}", spec.name));
        }
    }
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Time per iteration p50 / p95",
        "Speedup vs baseline (p50)",
        "Memory",
        "Regressions in the last hour",
        "CPU per core",
        "CI pipeline status",
        "Suite duration quantiles",
        "Throughput",
    ] {
        assert!(titles.contains(&wanted), "no panel `{wanted}`: {titles:?}");
    }
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], uid, "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                let allowed = known.contains(&name)
                    || name.starts_with("benchscope:")
                    || name.starts_with("node_")
                    || name == "ALERTS";
                assert!(
                    allowed,
                    "{title}: `{name}` is not a benchscope metric ({expr})"
                );
            }
        }
    }
}

#[test]
fn the_dashboards_match_grafanas_published_schema() {
    // scripts/dashboard-check decodes each dashboard strictly with the
    // Grafana Foundation SDK's types (Grafana itself, under the AGPL, is
    // not run): an unknown field, a wrong type or a missing required
    // option fails it.
    let checker = common::linter("DASHBOARD_CHECK_BIN");
    let dashboards: Vec<std::path::PathBuf> =
        std::fs::read_dir(repo_path("monitoring/grafana/dashboards"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
    assert!(!dashboards.is_empty());
    let out = Command::new(&checker).args(&dashboards).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.matches(": valid (").count(),
        dashboards.len(),
        "{said}"
    );

    // It does check: a panel option of the wrong type and a field Grafana
    // does not know are both named.
    let dir = scratch_dir("dashboard-check");
    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboards[0]).unwrap()).unwrap();
    broken["graphTooltipz"] = serde_json::json!(1);
    let panel = broken["panels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"] == "timeseries")
        .unwrap();
    panel["options"]["legend"]["showLegend"] = serde_json::json!("yes");
    let path = dir.join("broken.json");
    std::fs::write(&path, broken.to_string()).unwrap();
    let out = Command::new(&checker).arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken dashboard passed");
    assert!(said.contains("unexpected field 'graphTooltipz'"), "{said}");
    assert!(said.contains("options.legend.showLegend"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_dev_container_is_valid_and_uses_the_repository_scripts() {
    let text = std::fs::read_to_string(repo_path(".devcontainer/devcontainer.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let image = config["image"].as_str().unwrap();
    let (name, tag) = image.split_once(':').unwrap();
    assert!(!name.contains('.'), "{image} names a registry host");
    assert!(
        tag.chars().next().unwrap().is_ascii_digit(),
        "{image} is not pinned"
    );
    let post_create = config["postCreateCommand"].as_str().unwrap();
    for word in post_create
        .split_whitespace()
        .filter(|w| w.starts_with("scripts/"))
    {
        assert!(repo_path(word).is_file(), "{word} does not exist");
    }
    assert!(post_create.contains("scripts/install-test-deps.sh"));
}

/// The series names in a PromQL expression: what is left once strings, label
/// matchers, ranges, grouping clauses and function names are set aside.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "or",
        "and",
        "unless",
        "bool",
        "offset",
        "on",
        "ignoring",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_group = |i: &mut usize, open: char, close: char| {
        let mut depth = 0;
        while *i < chars.len() {
            if chars[*i] == open {
                depth += 1;
            } else if chars[*i] == close {
                depth -= 1;
                if depth == 0 {
                    *i += 1;
                    return;
                }
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        match chars[i] {
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += 1;
                }
                i += 1;
            }
            '{' => skip_group(&mut i, '{', '}'),
            '[' => skip_group(&mut i, '[', ']'),
            // Numbers and durations (0.95, 5m).
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i]))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if word == "by" || word == "without" {
                    i = j;
                    skip_group(&mut i, '(', ')');
                } else if chars.get(j) != Some(&'(') && !KEYWORDS.contains(&word.as_str()) {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn metric_names_sees_series_but_not_labels_or_functions() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, x) (rate(a_bucket{b=~"c|d"}[1m]))) or vector(0)"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        metric_names("1 - avg_over_time(ci_status[1h]) > 0.2 unless x offset 5m"),
        ["ci_status", "x"]
    );
}
