//! The Prometheus text exposition format as the tests read it: a scrape
//! over real HTTP, its parse into series, and a bench target run while it
//! is scraped.

use std::collections::BTreeMap;
use std::net::SocketAddr;

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
    // The series ends where its labels close (outside their quoted
    // values), or at the first space; the value and, when the exporter
    // stamps the series, a timestamp follow.
    let end = match line.find(['{', ' ']) {
        Some(open) if line[open..].starts_with('{') => {
            let (mut quoted, mut escaped) = (false, false);
            let close = line[open..].char_indices().find(|&(_, c)| {
                let at_close = !quoted && c == '}';
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => quoted = !quoted,
                    _ => {}
                }
                at_close
            });
            open + close.unwrap_or_else(|| panic!("unclosed labels: {line}")).0 + 1
        }
        Some(space) => space,
        None => panic!("no value: {line}"),
    };
    let (head, rest) = line.split_at(end);
    let mut fields = rest.split_whitespace();
    let value = match fields.next().unwrap_or_else(|| panic!("no value: {line}")) {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
    };
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .unwrap_or_else(|_| panic!("bad timestamp in: {line}"));
    }
    assert!(
        fields.next().is_none(),
        "more than a value and a time: {line}"
    );
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

/// Waits until `url` answers a GET, failing the test with `what` after `limit`.
pub fn wait_until_answers(url: &str, limit: std::time::Duration, what: &str) {
    let start = std::time::Instant::now();
    while ureq::get(url).call().is_err() {
        assert!(start.elapsed() < limit, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
