//! Helpers shared by the integration tests: scraping and parsing the
//! Prometheus text exposition format.
#![allow(dead_code)]

pub mod collector;
pub mod monitoring;
pub mod otlp;
pub mod real_crates;
pub mod victoria;

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The repository's root: the tests and benchmark packages sit one folder
/// below it.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package sits in the repository")
        .to_owned()
}

/// One series of a scrape: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Series {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Waits until `url` answers a GET, failing the test with `what` after `limit`.
pub fn wait_until_answers(url: &str, limit: std::time::Duration, what: &str) {
    let start = std::time::Instant::now();
    while ureq::get(url).call().is_err() {
        assert!(start.elapsed() < limit, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// GETs `http://addr/metrics` over real HTTP and returns the body.
pub fn scrape(addr: SocketAddr) -> String {
    ureq::get(format!("http://{addr}/metrics"))
        .call()
        .expect("GET /metrics")
        .body_mut()
        .read_to_string()
        .expect("read /metrics body")
}

/// Parses the text exposition format (comments skipped). Panics on a line it
/// cannot read: a malformed exposition is a test failure.
pub fn parse(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Series {
    let (head, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
    };
    let (name, labels) = match head.split_once('{') {
        None => (head.to_owned(), BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("unclosed labels: {line}"));
            (name.to_owned(), parse_labels(body, line))
        }
    };
    Series {
        name,
        labels,
        value,
    }
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value not quoted: {line}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape: {line}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The series named `name` whose labels include every pair in `labels`.
pub fn find<'a>(series: &'a [Series], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Series> {
    series
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .collect()
}

/// A baseline `factor` times as fast as `run`: a later run of the same code
/// is then a critical regression against it (for a large enough factor), so
/// every baseline metric is recorded.
pub fn faster_baseline(run: &benchscope::SuiteRun, factor: f64) -> benchscope::Baseline {
    benchscope::Baseline {
        version: "base123".into(),
        run: faster_run(run, factor),
    }
}

/// `run` as if every sample had been `factor` times as fast, at commit
/// `base123`: written with `write_json`, a baseline file for `--baseline`.
pub fn faster_run(run: &benchscope::SuiteRun, factor: f64) -> benchscope::SuiteRun {
    let mut base = run.clone();
    base.commit = "base123".into();
    for b in &mut base.benchmarks {
        b.samples_ns.iter_mut().for_each(|s| *s /= factor);
        b.stats = benchscope::Stats::from_samples(&b.samples_ns).unwrap();
    }
    base
}

/// Test-sized measurement settings: a benchmark takes tens of milliseconds.
pub fn tiny_measurement() -> benchscope::config::MeasurementConfig {
    let mut m = benchscope::config::MeasurementConfig::default();
    m.samples = 10;
    m.warmup = std::time::Duration::from_millis(20);
    m.min_time = std::time::Duration::from_millis(50);
    m.max_time = std::time::Duration::from_secs(1);
    m
}

/// The registered benchmarks whose full names are in `names`, in that order.
pub fn selected(names: &[&str]) -> Vec<&'static benchscope::Benchmark> {
    let all = benchscope::benchmarks().expect("benchmarks register");
    names
        .iter()
        .map(|n| {
            *all.iter()
                .find(|b| b.full_name() == *n)
                .unwrap_or_else(|| panic!("no benchmark named {n}"))
        })
        .collect()
}

/// The CPU time of each thread of process `pid` (its id, its name, the
/// time), from `/proc/PID/task/*/schedstat`, which counts nanoseconds:
/// `/proc`'s `stat` counts whole 10 ms ticks per thread, and rounds each of a
/// hundred lightly loaded threads down to nothing.
pub fn thread_cpu(pid: u32) -> Vec<(u32, String, std::time::Duration)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let nanos: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
            let tid = task.file_name().to_string_lossy().parse().ok()?;
            Some((
                tid,
                name.trim_end().to_owned(),
                std::time::Duration::from_nanos(nanos),
            ))
        })
        .collect()
}

/// A free loopback port (bound, then released).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap()
}

/// The quickstart example's binary, built beside the test binaries.
pub fn quickstart_binary() -> std::path::PathBuf {
    built_binary("examples/quickstart")
}

/// The scaling example's binary (parameters, threads, allocations,
/// complexity), built beside the test binaries.
pub fn scaling_binary() -> std::path::PathBuf {
    built_binary("examples/scaling")
}

/// A command running the quickstart with none of the caller's OTEL_* or
/// BENCHSCOPE_* variables and no stdin, so only its arguments configure it.
pub fn quickstart_command() -> std::process::Command {
    isolated_command(quickstart_binary())
}

/// The criterion-style bench target `tests/criterion_api.rs` (on
/// benchscope-criterion), built beside the test binaries.
pub fn criterion_api_binary() -> std::path::PathBuf {
    built_binary("examples/criterion_api")
}

/// A command running `binary` with none of the caller's OTEL_* or
/// BENCHSCOPE_* variables and no stdin, so only its arguments configure it.
pub fn isolated_command(binary: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("CARGO_MANIFEST_DIR")
        .stdin(std::process::Stdio::null());
    cmd
}

/// The example service (`examples/service`), built beside the test binaries.
pub fn service_binary() -> std::path::PathBuf {
    built_binary("service")
}

/// The `benchscope` command, built beside the test binaries.
pub fn benchscope_binary() -> std::path::PathBuf {
    built_binary("benchscope")
}

/// A binary of the workspace, in the test binaries' profile folder. The
/// workspace's binaries and examples are built once per test process, with
/// the workspace's features (the same build `cargo test --workspace` makes,
/// so nothing is compiled twice): `cargo test` alone builds a binary only
/// for its own package's tests.
fn built_binary(relative: &str) -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["build", "--workspace", "--bins", "--examples", "--quiet"])
            .current_dir(repo_root())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("building the workspace's binaries failed:\n{e}");
    }
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join(relative);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// What a bench target run by [`run_and_scrape`] left.
#[derive(Debug)]
pub struct Scraped {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The last `/metrics` body that answered while the target ran.
    pub metrics: String,
}

/// Runs `cmd`, a bench target serving `/metrics` on `addr` and lingering
/// after its suite (`--serve-after`), scraping every 100 ms while it runs;
/// kills it and fails the test past `limit`.
pub fn run_and_scrape(
    mut cmd: std::process::Command,
    addr: SocketAddr,
    limit: std::time::Duration,
) -> Scraped {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bench target");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = std::time::Instant::now();
    let mut metrics = String::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the bench target") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the bench target ran past {limit:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        if let Ok(mut answer) = ureq::get(format!("http://{addr}/metrics")).call()
            && let Ok(body) = answer.body_mut().read_to_string()
        {
            metrics = body;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    Scraped {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        metrics,
    }
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Arguments that make a bench target leave everything a test reads: every
/// metric on `/metrics` at `addr` (served 3 s past the suite, for
/// [`run_and_scrape`]), the JSON results and the history, in `dir`.
pub fn exporting_args(addr: SocketAddr, dir: &std::path::Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    [
        "--exporters",
        "prometheus",
        "--prometheus-addr",
        &addr.to_string(),
        "--serve-after",
        "3s",
        "--output",
        "json",
        &path("results.json"),
        "--history",
        &path("history.db"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// What a run with [`exporting_args`] left in `dir`: its JSON results, and
/// the benchmark names of the history's latest run.
pub fn exported(
    dir: &std::path::Path,
) -> (benchscope::SuiteRun, std::collections::BTreeSet<String>) {
    let results: benchscope::SuiteRun =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).expect("results written"))
            .expect("results parse");
    let history =
        benchscope::History::open_existing(&dir.join("history.db")).expect("history kept");
    let latest = history.latest(None).unwrap().expect("a run in the history");
    let kept = history.run(latest).unwrap();
    let names = kept.benchmarks.into_iter().map(|b| b.name).collect();
    (results, names)
}

/// A process's standard output followed by its standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `benchscope` command run in `dir`, with none of the caller's
/// configuration (OTEL_*, BENCHSCOPE_*, GITHUB_*) and no exporter.
pub fn benchscope_tool(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(benchscope_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") || key.starts_with("GITHUB_")
        {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir).env("BENCHSCOPE_EXPORTERS", "none");
    cmd
}
