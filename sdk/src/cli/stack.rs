//! `benchscope stack`: the monitoring stack's configuration shipped in the
//! command, so that a crate of one's own gets Prometheus, Alertmanager, the
//! alert rules and the dashboard without a checkout of benchscope. The
//! files are the repository's `monitoring/` (which is `sdk/stack/`, so that
//! they travel with the crate), written as they are.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::error::Error;

/// The stack's files, by their path under the stack's folder.
const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../stack/README.md")),
    ("prometheus.yml", include_str!("../../stack/prometheus.yml")),
    ("alerts.yaml", include_str!("../../stack/alerts.yaml")),
    (
        "alerts_test.yaml",
        include_str!("../../stack/alerts_test.yaml"),
    ),
    (
        "alertmanager.yml",
        include_str!("../../stack/alertmanager.yml"),
    ),
    ("local-stack.sh", include_str!("../../stack/local-stack.sh")),
    (
        "docker-compose.yml",
        include_str!("../../stack/docker-compose.yml"),
    ),
    (
        "targets/README.md",
        include_str!("../../stack/targets/README.md"),
    ),
    (
        "targets/alertmanager.yml",
        include_str!("../../stack/targets/alertmanager.yml"),
    ),
    (
        "targets/benchscope.yml",
        include_str!("../../stack/targets/benchscope.yml"),
    ),
    (
        "targets/collector.yml",
        include_str!("../../stack/targets/collector.yml"),
    ),
    (
        "targets/node.yml",
        include_str!("../../stack/targets/node.yml"),
    ),
    (
        "targets/prometheus.yml",
        include_str!("../../stack/targets/prometheus.yml"),
    ),
    (
        "grafana/dashboards/performance-overview.json",
        include_str!("../../stack/grafana/dashboards/performance-overview.json"),
    ),
    (
        "grafana/provisioning/dashboards/benchscope.yml",
        include_str!("../../stack/grafana/provisioning/dashboards/benchscope.yml"),
    ),
    (
        "grafana/provisioning/datasources/prometheus.yml",
        include_str!("../../stack/grafana/provisioning/datasources/prometheus.yml"),
    ),
];

/// What to do with the monitoring stack.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StackAction {
    /// Write the stack's configuration into DIR: Prometheus (scraping
    /// 127.0.0.1:9464 every second), the alert rules, Alertmanager, the
    /// Grafana dashboard, docker-compose.yml and local-stack.sh
    Init {
        /// Where to write it.
        #[arg(default_value = "monitoring")]
        dir: PathBuf,
        /// Replace files that exist there with other contents (by default
        /// they are named and nothing is written).
        #[arg(long)]
        force: bool,
    },
    /// Write the configuration into --dir and run its local-stack.sh in the
    /// foreground: Prometheus :9090 scraping this suite's /metrics (the
    /// configured prometheus.addr), Alertmanager :9093 and node_exporter
    /// :9100 on loopback, from Debian's packages (installed if missing, as
    /// root); Ctrl-C stops them. Arguments after `--` go to local-stack.sh
    /// (`benchscope stack up -- --help` lists them)
    Up {
        /// Where the configuration is written (replaced if it changed).
        #[arg(long, default_value = "target/benchscope/stack")]
        dir: PathBuf,
        /// local-stack.sh's own options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Runs `benchscope stack ACTION`; `scrape` is the suite's `/metrics`
/// address from its configuration.
pub(crate) fn run(action: StackAction, scrape: std::net::SocketAddr) -> Result<ExitCode, Error> {
    match action {
        StackAction::Init { dir, force } => {
            let written = write(&dir, force)?;
            println!(
                "{} of the stack's {} files written to {} ({} already as they are)",
                written,
                FILES.len(),
                dir.display(),
                FILES.len() - written
            );
            println!(
                "start it: bash {}/local-stack.sh    # Prometheus http://127.0.0.1:9090 scraping 127.0.0.1:9464 every second, Alertmanager http://127.0.0.1:9093, node_exporter :9100; --help for other ports and targets",
                dir.display()
            );
            println!(
                "alerts go to a webhook at http://127.0.0.1:5001/alerts (nothing listens there unless you run a receiver: --webhook-url URL names yours), PagerDuty and Slack (PAGERDUTY_ROUTING_KEY, SLACK_WEBHOOK_URL); with Docker: docker compose -f {}/docker-compose.yml up (its Collector service mounts ../collector-config, which this command does not write)",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        StackAction::Up { dir, mut args } => {
            write(&dir, true)?;
            if !args
                .iter()
                .any(|a| a == "--target" || a == "--collector-target")
            {
                args.extend(["--target".into(), scrape_target(scrape)?]);
            }
            if !args.iter().any(|a| a == "--run-dir") {
                let here = std::env::current_dir().map_err(|source| Error::Io {
                    action: "cannot read the working directory",
                    path: ".".into(),
                    source,
                })?;
                args.extend([
                    "--run-dir".into(),
                    here.join("target/monitoring-stack").display().to_string(),
                ]);
            }
            let script = dir.join("local-stack.sh");
            let mut cmd = std::process::Command::new("bash");
            cmd.arg(&script).args(&args);
            // The stack runs in this process's place: Ctrl-C reaches it as
            // it would reach the script run by hand.
            #[cfg(unix)]
            {
                use std::os::unix::process::CommandExt;
                let e = cmd.exec();
                Err(Error::Command {
                    command: format!("bash {}", script.display()),
                    message: format!("could not start: {e}; is bash on the PATH?"),
                })
            }
            #[cfg(not(unix))]
            {
                let status = cmd.status().map_err(|e| Error::Command {
                    command: format!("bash {}", script.display()),
                    message: format!("could not start: {e}; is bash on the PATH?"),
                })?;
                Ok(ExitCode::from(
                    status.code().unwrap_or(1).clamp(0, 255) as u8
                ))
            }
        }
    }
}

/// The address the stack scrapes for the suite's `/metrics`: a suite
/// listening on every interface is scraped on loopback.
fn scrape_target(addr: std::net::SocketAddr) -> Result<String, Error> {
    if addr.port() == 0 {
        return Err(Error::Argument {
            flag: "prometheus.addr".into(),
            value: addr.to_string(),
            reason: "the suite picks a free port each run, which no scraper can follow: fix one (BENCHSCOPE_PROMETHEUS_ADDR=127.0.0.1:9464), or give the stack `-- --target ADDR`".into(),
        });
    }
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(addr.to_string())
}

/// Writes the stack's files into `dir`: those missing, and those that
/// differ when `force`; returns how many were written. Without `force`, a
/// file that differs stops everything before a byte is written.
fn write(dir: &Path, force: bool) -> Result<usize, Error> {
    let differing: Vec<&str> = FILES
        .iter()
        .filter(|(name, text)| {
            std::fs::read(dir.join(name)).is_ok_and(|on_disk| on_disk != text.as_bytes())
        })
        .map(|(name, _)| *name)
        .collect();
    if !differing.is_empty() && !force {
        return Err(Error::Argument {
            flag: "stack init".into(),
            value: dir.display().to_string(),
            reason: format!(
                "these files are there with other contents: {}; nothing was written. Keep your changes (and write elsewhere: benchscope stack init OTHER_DIR), or replace them with --force",
                differing.join(", ")
            ),
        });
    }
    let mut written = 0;
    for (name, text) in FILES {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|on_disk| on_disk == text.as_bytes()) {
            continue;
        }
        let io = |source| Error::Io {
            action: "cannot write",
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        crate::files::write_whole(&path, text.as_bytes()).map_err(io)?;
        #[cfg(unix)]
        if name.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_stack_is_shipped() {
        let stack = Path::new(env!("CARGO_MANIFEST_DIR")).join("stack");
        let mut on_disk = Vec::new();
        let mut dirs = vec![stack.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let name = path.strip_prefix(&stack).unwrap();
                    on_disk.push(name.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut shipped: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        shipped.sort();
        assert_eq!(on_disk, shipped);
    }

    #[test]
    fn init_writes_the_stack_and_keeps_a_changed_file_unless_forced() {
        let dir =
            std::env::temp_dir().join(format!("benchscope-stack-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(write(&dir, false).unwrap(), FILES.len());
        assert_eq!(write(&dir, false).unwrap(), 0);
        std::fs::write(dir.join("alerts.yaml"), "# mine\n").unwrap();
        let refused = write(&dir, false).unwrap_err().to_string();
        assert!(
            refused.contains("alerts.yaml") && refused.contains("--force"),
            "{refused}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("alerts.yaml")).unwrap(),
            "# mine\n"
        );
        assert_eq!(write(&dir, true).unwrap(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("local-stack.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111);
        }
        assert_eq!(
            scrape_target("0.0.0.0:9464".parse().unwrap()).unwrap(),
            "127.0.0.1:9464"
        );
        assert!(scrape_target("127.0.0.1:0".parse().unwrap()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
