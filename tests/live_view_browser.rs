//! The live page in real headless Chromium, driven by ChromeDriver (both
//! Debian's, installed by scripts/test.sh) over the WebDriver protocol,
//! against a running suite: the benchmark's chart and figures change between
//! two reads, the cases of one benchmark sit under one heading, allocations
//! per iteration appear when a benchmark finishes, and a screenshot is kept
//! in `target/test-artifacts/`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benchscope::config::{Config, ExporterKind};
use benchscope::{Endpoints, Reporter, Suite, monitored_bench};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: benchscope::CountingAlloc = benchscope::CountingAlloc::system();

/// Two cases, `sleep/3` and `sleep/4` (milliseconds); each sleep makes a
/// 64-byte vector, so the page has allocations to show.
#[monitored_bench(args = [3, 4])]
fn sleep(ms: u64) -> Vec<u8> {
    std::thread::sleep(Duration::from_millis(ms));
    vec![0; 64]
}

fn chromedriver() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromedriver");
    assert!(
        path.is_file(),
        "{} is missing: run the tests with scripts/test.sh, which installs Debian's chromium-driver",
        path.display()
    );
    path
}

struct Driver {
    child: Child,
    base: String,
    session: String,
}

impl Driver {
    fn start(artifacts: &Path) -> Driver {
        let port = common::free_addr().port();
        let child = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        common::wait_until_answers(
            &format!("{base}/status"),
            Duration::from_secs(20),
            "chromedriver",
        );
        let profile = artifacts.join(format!("chromium-profile-{}", std::process::id()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
        };
        let created = driver.post("/session", capabilities);
        driver.session = created["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        driver
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let text = ureq::post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("WebDriver request")
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn navigate(&self, url: &str) {
        self.post(
            &format!("/session/{}/url", self.session),
            json!({"url": url}),
        );
    }

    fn script(&self, code: &str) -> Value {
        self.post(
            &format!("/session/{}/execute/sync", self.session),
            json!({"script": code, "args": []}),
        )["value"]
            .clone()
    }

    fn screenshot(&self) -> Vec<u8> {
        let text = ureq::get(format!("{}/session/{}/screenshot", self.base, self.session))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        decode_base64(value["value"].as_str().unwrap())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        buffer = (buffer << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// Sends the live page's address once the suite starts.
struct Started(std::sync::mpsc::Sender<SocketAddr>);

impl Reporter for Started {
    fn suite_started(&mut self, _: &[String], endpoints: &Endpoints) {
        let _ = self
            .0
            .send(endpoints.live.expect("the live exporter is on"));
    }
}

#[test]
fn the_live_page_updates_while_the_suite_runs() {
    let artifacts = common::repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut config = Config::default();
    config.exporters = vec![ExporterKind::Live];
    config.live.addr = "127.0.0.1:0".parse().unwrap();
    config.live.interval = Duration::from_millis(200);
    config.collection_interval = Duration::from_millis(200);
    let m = &mut config.measurement;
    m.samples = 400;
    m.warmup = Duration::from_millis(50);
    m.min_time = Duration::from_secs(3);
    m.max_time = Duration::from_secs(4);
    let entries: Vec<_> = benchscope::benchmarks().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let suite =
        std::thread::spawn(move || Suite::new(config).run(&entries, &mut Started(tx)).unwrap());
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();

    let driver = Driver::start(&artifacts);
    driver.navigate(&format!("http://{addr}/"));
    let read = || {
        driver.script(
            "const c = document.querySelector('article[data-name]');
             if (!c) return null;
             return { samples: c.dataset.samples, figures: c.querySelector('.figures').textContent,
                      canvas: c.querySelector('canvas').toDataURL(), status: document.getElementById('status').textContent };",
        )
    };
    let start = Instant::now();
    let first = loop {
        let v = read();
        if v.is_object()
            && v["samples"]
                .as_str()
                .is_some_and(|s| s.parse::<u32>().unwrap_or(0) >= 3)
        {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the page never showed samples: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(800));
    let second = read();
    assert_eq!(first["status"], "connected", "{first}");
    assert_ne!(
        first["canvas"], second["canvas"],
        "the chart did not change"
    );
    assert_ne!(
        first["figures"], second["figures"],
        "the figures did not change"
    );
    // The two cases are grouped under their benchmark's name.
    let groups = driver
        .script("return [...document.querySelectorAll('#grid .group')].map(h => h.textContent);");
    assert_eq!(groups, json!(["sleep (2 cases)"]));
    // Once the first case is done, its allocations per iteration show.
    let start = Instant::now();
    let allocations = loop {
        let v = driver.script(
            "const a = document.querySelector('article[data-name] .allocations');
             return a && !a.hidden ? a.textContent : null;",
        );
        if let Some(text) = v.as_str() {
            break text.to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no allocations shown"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        allocations.starts_with("allocations per iteration: 1 (64 B)"),
        "{allocations}"
    );
    // The resource charts were drawn (axes at least): not a blank canvas.
    let blank = driver.script(
        "const c = document.getElementById('memory'); const b = document.createElement('canvas');
         b.width = c.width; b.height = c.height; return c.toDataURL() === b.toDataURL();",
    );
    assert_eq!(blank, json!(false));
    let png = driver.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(artifacts.join("live-view.png"), &png).unwrap();
    drop(driver);
    let run = suite.join().unwrap();
    assert_eq!(run.benchmarks.len(), 2);
}
