//! VictoriaMetrics in tests and benchmarks: Debian trixie's package, fetched
//! into target/tools by `scripts/fetch-victoria-metrics.sh`, on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::free_addr;

/// Where the binary is looked for: `$VICTORIA_METRICS_BIN`, or where the
/// fetch script puts it.
pub fn binary_path() -> PathBuf {
    std::env::var_os("VICTORIA_METRICS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            super::repo_root().join("target/tools/victoria-metrics/usr/bin/victoria-metrics")
        })
}

/// The binary; a test fails with what to do when it is missing.
pub fn binary() -> PathBuf {
    let path = binary_path();
    assert!(
        path.is_file(),
        "{} is missing: run the tests with scripts/test.sh, or fetch it with scripts/fetch-victoria-metrics.sh",
        path.display()
    );
    path
}

/// The Debian package's version, from its changelog beside the binary
/// (Debian's build leaves the binary's own version empty).
pub fn package_version() -> String {
    use std::io::BufRead as _;
    let changelog = binary_path()
        .ancestors()
        .nth(2)
        .map(|usr| usr.join("share/doc/victoria-metrics/changelog.Debian.gz"));
    changelog
        .and_then(|path| std::fs::File::open(path).ok())
        .and_then(|file| {
            std::io::BufReader::new(flate2::read::GzDecoder::new(file))
                .lines()
                .next()?
                .ok()
        })
        // "victoria-metrics (1.112.0+ds1-2) unstable; urgency=medium"
        .and_then(|line| Some(line.split_once('(')?.1.split_once(')')?.0.to_owned()))
        .unwrap_or_else(|| "(version unknown)".into())
}

/// A running VictoriaMetrics with a data directory of its own; stopped and
/// its data removed when dropped.
pub struct VictoriaMetrics {
    pub addr: SocketAddr,
    pub data: PathBuf,
    child: Child,
}

impl VictoriaMetrics {
    /// Starts it with one day of retention; waits until it answers.
    pub fn start() -> VictoriaMetrics {
        VictoriaMetrics::start_with(&["-retentionPeriod=1d".into()])
    }

    /// Starts it with `args` added to the command line.
    pub fn start_with(args: &[String]) -> VictoriaMetrics {
        let addr = free_addr();
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = std::env::temp_dir().join(format!("benchscope-vm-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let child = Command::new(binary())
            .arg(format!("-httpListenAddr={addr}"))
            .arg(format!("-storageDataPath={}", data.display()))
            .arg("-search.latencyOffset=0s")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start victoria-metrics");
        let vm = VictoriaMetrics { addr, child, data };
        super::wait_until_answers(
            &format!("http://{addr}/health"),
            Duration::from_secs(30),
            "victoria-metrics",
        );
        vm
    }

    /// Every stored series of `name`, with its last value.
    pub fn series(&self, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        self.export(&format!("{{__name__=\"{name}\"}}"))
            .into_iter()
            .map(|(_, labels, value)| (labels, value))
            .collect()
    }

    /// Every stored series that `selector` matches: name, labels and last
    /// value.
    pub fn export(&self, selector: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
        self.export_as(selector, None)
    }

    /// [`VictoriaMetrics::export`] with an `Authorization` header, for an
    /// instance started with `-httpAuth.*`.
    pub fn export_as(
        &self,
        selector: &str,
        authorization: Option<&str>,
    ) -> Vec<(String, BTreeMap<String, String>, f64)> {
        let mut request =
            ureq::get(format!("http://{}/api/v1/export", self.addr)).query("match[]", selector);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let body = request
            .call()
            .expect("export from victoria-metrics")
            .body_mut()
            .read_to_string()
            .unwrap();
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).expect("export line");
                let mut labels: BTreeMap<String, String> = json["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                let name = labels.remove("__name__").unwrap_or_default();
                let value = json["values"].as_array().unwrap().last().unwrap();
                (name, labels, value.as_f64().unwrap_or(f64::NAN))
            })
            .collect()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
