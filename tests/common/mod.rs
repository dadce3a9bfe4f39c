//! Helpers shared by the integration tests, by concern: finding and
//! running the workspace's binaries (here), the exposition format
//! ([`exposition`]), made-up runs and settings ([`fixtures`]), and the real
//! servers (the Collector, the monitoring stack, OTLP receivers,
//! VictoriaMetrics) and real crates in the other modules.
#![allow(dead_code)]

pub mod collector;
pub mod exposition;
pub mod fixtures;
pub mod monitoring;
pub mod otlp;
pub mod real_crates;
pub mod victoria;

#[allow(unused_imports)]
pub use exposition::*;
#[allow(unused_imports)]
pub use fixtures::*;

use std::net::SocketAddr;

/// The repository's root: the tests and benchmark packages sit one folder
/// below it.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package sits in the repository")
        .to_owned()
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

/// The quickstart run on its fastest benchmark alone, `strings/parse_u64`,
/// `--quick`: a whole run in about a second; more arguments may follow.
pub fn quick_parse_u64() -> std::process::Command {
    let mut cmd = quickstart_command();
    cmd.args(["--quick", "--exact", "strings/parse_u64"]);
    cmd
}

/// The criterion-style bench target `tests/criterion_api.rs` (on
/// benchscope-criterion), built beside the test binaries.
pub fn criterion_api_binary() -> std::path::PathBuf {
    built_binary("examples/criterion_api")
}

/// The fleet-history tests' suite (`tests/fleet_bench.rs`), built beside
/// the test binaries.
pub fn fleet_bench_binary() -> std::path::PathBuf {
    built_binary("examples/fleet_bench")
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

/// Asserts that `out` exited with `code` and that its output (standard
/// output and error) says `says`; the output is the failure's message.
pub fn assert_says(out: &std::process::Output, code: i32, says: &str) {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(code), "{text}");
    assert!(text.contains(says), "{text}");
}

/// `benchscope ARGS` run in `dir` as [`benchscope_tool`] sets it up, to its end.
pub fn tool_output(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    benchscope_tool(dir).args(args).output().unwrap()
}

/// Starts `cmd` (a bench target, its standard error piped) and waits until
/// its suite has finished, as its `benchscope: suite finished` line says;
/// returns the child, still running while it lingers, and the rest of its
/// standard error, line by line. Fails the test if the suite ends without
/// that line.
pub fn start_until_finished(
    mut cmd: std::process::Command,
) -> (std::process::Child, impl Iterator<Item = String> + Send) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines().map_while(Result::ok);
    let finished = lines
        .by_ref()
        .any(|l| l.starts_with("benchscope: suite finished"));
    assert!(finished, "the suite did not finish");
    (child, lines)
}

/// A linter that scripts/ci-linters.sh installs: the path in the
/// environment variable `var` (the test command sets them), else the one
/// the script prints.
pub fn linter(var: &str) -> std::path::PathBuf {
    let path = std::env::var_os(var)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let out = std::process::Command::new("bash")
                .arg(repo_root().join("scripts/ci-linters.sh"))
                .output()
                .expect("run scripts/ci-linters.sh");
            assert!(
                out.status.success(),
                "scripts/ci-linters.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} not printed by scripts/ci-linters.sh"));
            std::path::PathBuf::from(line)
        });
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// Writes an executable shell script `name` into `dir`: `body` under
/// `#!/bin/sh`, unless it names its own interpreter.
pub fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let shebang = if body.starts_with("#!") {
        ""
    } else {
        "#!/bin/sh\n"
    };
    std::fs::write(&path, format!("{shebang}{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether any process's command line mentions `needle`.
pub fn process_mentions(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
}
