//! The first hour of a new user, run as the README writes it: from an
//! empty directory, a crate with a library and a bench target on a path
//! dependency (outside this workspace), the local stack started by
//! `benchscope stack up`, a baseline, a real 3x slowdown, and the alert in
//! Alertmanager. The shell lines are read from the README's section "From
//! an empty crate to an alert", and `benches/parsing.rs` is the README's
//! own example, so the README cannot drift from what works: any line that
//! fails fails the test. The wall time from the empty directory to the
//! alert is printed (docs: under 5 minutes, compile included).
//!
//! Two departures, both of the machine and not of the user's path: the
//! `cargo install` line is checked but not run (the test puts the
//! `benchscope` command this workspace built first on the PATH, rather than
//! compiling it again), and the new crate starts from this workspace's
//! `Cargo.lock`, so that it builds the dependency versions the test suite
//! was built with, from the local registry cache. Its target folder is
//! `target/newcomer`, kept between runs.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{benchscope_binary, repo_root};

/// The fenced blocks of `lang` in the README's section `heading`.
fn blocks(readme: &str, heading: &str, lang: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has no section {heading:?}"));
    let section = &readme[start + heading.len() + 2..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(at) = rest.find(&fence) {
        let body = &rest[at + fence.len()..];
        let end = body.find("```").expect("a closed fence");
        out.push(body[..end].to_owned());
        rest = &body[end..][3..];
    }
    out
}

/// A shell with the newcomer's environment: none of this process's
/// OTEL_*, BENCHSCOPE_* or cargo-set variables, the built `benchscope`
/// first on the PATH, and the crate's target folder.
fn shell(line: &str, dir: &Path, bin: &Path) -> Command {
    let mut cmd = common::isolated_command("bash");
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" {
            cmd.env_remove(key);
        }
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.args(["-euo", "pipefail", "-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", repo_root().join("target/newcomer"));
    cmd
}

fn run(line: &str, dir: &Path, bin: &Path) -> String {
    let out = shell(line, dir, bin).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the README's line `{line}` failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The stack, started in a process group of its own; stopped (the whole
/// group, SIGTERM: local-stack.sh stops its servers) when dropped.
struct Stack(Child);

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test's child leads.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<String> {
    ureq::get(url)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
}

#[test]
fn a_new_user_follows_the_readme_from_an_empty_crate_to_an_alert() {
    let benchscope = benchscope_binary();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let heading = "## From an empty crate to an alert";
    let sh = blocks(&readme, heading, "sh");
    assert_eq!(sh.len(), 2, "two shell blocks in {heading:?}");
    let bench_source = blocks(&readme, "## Annotating benchmarks", "rust,ignore")
        .into_iter()
        .find(|b| b.contains("benchscope::main!()"))
        .expect("the README's bench target");

    let work = std::env::temp_dir().join(format!("benchscope-newcomer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&benchscope, bin.join("benchscope")).unwrap();
    // The checkout beside the crate, where the README's paths expect it.
    std::os::unix::fs::symlink(repo_root(), work.join("benchscope")).unwrap();
    let crate_dir = work.join("parsing");
    let start = Instant::now();

    // The crate, its dependency and its bench target.
    let mut lines = sh[0].lines().filter(|l| !l.trim().is_empty());
    let new = lines.next().unwrap();
    assert!(new.starts_with("cargo new --lib parsing"), "{new}");
    run(new, &work, &bin);
    std::fs::copy(repo_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    for line in lines {
        if line.starts_with("cargo install") {
            assert!(line.contains("--features cli"), "{line}");
            continue;
        }
        run(line, &crate_dir, &bin);
    }
    let bench_file = crate_dir.join("benches/parsing.rs");
    std::fs::write(&bench_file, &bench_source).unwrap();

    // The stack, then a baseline, a slowdown, a run against the baseline.
    let mut lines = sh[1].lines().filter(|l| !l.trim().is_empty());
    let up = lines.next().unwrap();
    let up = up
        .strip_suffix('&')
        .expect("the stack runs in the background")
        .trim();
    let stack = Stack({
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(work.join("stack.log")).unwrap();
        shell(up, &crate_dir, &bin)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    });
    let ready = Instant::now();
    while get("http://127.0.0.1:9090/-/ready").is_none() {
        let log = std::fs::read_to_string(work.join("stack.log")).unwrap_or_default();
        assert!(
            ready.elapsed() < Duration::from_secs(180),
            "`{up}` did not bring Prometheus up:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let save = lines.next().unwrap();
    assert!(save.contains("--save-baseline main"), "{save}");
    run(save, &crate_dir, &bin);

    let source = std::fs::read_to_string(&bench_file).unwrap();
    let parse = r#"std::hint::black_box("18446744073709").parse().unwrap()"#;
    assert!(source.contains(parse), "the README's parse_u64 changed");
    let three_times = r#"(0..3).map(|_| std::hint::black_box("18446744073709").parse::<u64>().unwrap()).fold(0, u64::wrapping_add)"#;
    std::fs::write(&bench_file, source.replace(parse, three_times)).unwrap();

    let against = lines.next().unwrap();
    assert!(against.contains("--baseline main"), "{against}");
    let table = run(against, &crate_dir, &bin);
    assert!(
        table
            .lines()
            .any(|l| l.contains("parse_u64") && l.contains("REGRESSED")),
        "the slowdown was not seen:\n{table}"
    );

    let curl = lines.next().unwrap();
    assert!(curl.starts_with("curl"), "{curl}");
    let asked = Instant::now();
    let alerts = loop {
        let alerts = run(curl, &crate_dir, &bin);
        if alerts.contains("CriticalPerformanceRegression") && alerts.contains("parse_u64") {
            break alerts;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(120),
            "no alert for parse_u64 in Alertmanager: {alerts}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let took = start.elapsed();
    drop(stack);
    println!(
        "newcomer: from an empty directory to the alert in {:.0} s ({} bytes of alerts)",
        took.as_secs_f64(),
        alerts.len()
    );
    let _ = std::fs::remove_dir_all(&work);
}
