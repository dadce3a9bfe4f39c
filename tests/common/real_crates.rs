//! Published crates' criterion benchmarks, as cargo downloads them: each
//! package is copied out of cargo's registry into a scratch folder and, for
//! benchscope, its criterion dependency is pointed at benchscope-criterion;
//! nothing else in it changes. Used by tests/criterion_real_crates.rs
//! (every benchmark runs and is exported) and benches/criterion_parity.rs
//! (the means agree with criterion's).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{copy_dir, repo_root};

/// A published crate with a criterion bench target.
#[derive(Debug, Clone, Copy)]
pub struct Crate {
    pub name: &'static str,
    pub version: &'static str,
    /// Its bench target.
    pub bench: &'static str,
    /// Whether the bench file sets its own warm-up and measurement times.
    pub own_times: bool,
    /// Whether its criterion (0.3) takes whole seconds on its command line.
    pub whole_seconds: bool,
}

/// The crates used: small libraries whose only other dev-dependency is
/// `rand` at most, with criterion 0.3, 0.5 and 0.8 between them, groups,
/// throughput, `iter_batched_ref` and a `criterion_group!` with a config.
pub const CRATES: &[Crate] = &[
    Crate {
        name: "httpdate",
        version: "1.0.3",
        bench: "benchmarks",
        own_times: false,
        whole_seconds: false,
    },
    Crate {
        name: "semver",
        version: "1.0.28",
        bench: "parse",
        own_times: false,
        whole_seconds: false,
    },
    Crate {
        name: "itoa",
        version: "1.0.19",
        bench: "bench",
        own_times: false,
        whole_seconds: false,
    },
    Crate {
        name: "httparse",
        version: "1.10.1",
        bench: "parse",
        own_times: true,
        whole_seconds: false,
    },
];

/// Crates measured by the parity bench only (benches/criterion_parity.rs),
/// not by the test command: larger bench targets (base64's pulls clap and
/// rstest), criterion 0.7, 0.3 and 0.8 (under a `cfg(not(miri))` table), a
/// routine that allocates on every iteration (base64's `encode`).
pub const PARITY_ONLY: &[Crate] = &[
    Crate {
        name: "base64",
        version: "0.23.1",
        bench: "benchmarks",
        own_times: true,
        whole_seconds: false,
    },
    Crate {
        name: "hex",
        version: "0.4.3",
        bench: "hex",
        own_times: false,
        whole_seconds: true,
    },
    Crate {
        name: "ryu",
        version: "1.0.23",
        bench: "bench",
        own_times: false,
        whole_seconds: false,
    },
];

/// Which criterion a copy is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// The package as published.
    Criterion,
    /// The criterion dependency pointed at benchscope-criterion.
    Benchscope,
}

/// Where the packages of [`CRATES`] are unpacked by cargo.
pub fn sources() -> Vec<(Crate, PathBuf)> {
    sources_of(CRATES)
}

/// Where the packages of `crates` are unpacked by cargo: resolved once,
/// through a scratch project that depends on them all.
pub fn sources_of(crates: &[Crate]) -> Vec<(Crate, PathBuf)> {
    let root = scratch().join("fetch");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let deps: String = crates
        .iter()
        .map(|c| format!("{} = \"={}\"\n", c.name, c.version))
        .collect();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-real-crates\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{deps}"
        ),
    )
    .unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1"])
        .current_dir(&root)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata (downloading the crates) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crates
        .iter()
        .map(|c| {
            let manifest = metadata["packages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == c.name && p["version"] == c.version)
                .and_then(|p| p["manifest_path"].as_str())
                .unwrap_or_else(|| panic!("{} {} not resolved", c.name, c.version));
            (*c, Path::new(manifest).parent().unwrap().to_path_buf())
        })
        .collect()
}

/// A copy of the package at `source`, built with `flavour`.
pub fn prepare(krate: Crate, source: &Path, flavour: Flavour) -> PathBuf {
    let dest = scratch().join(format!("{}-{:?}", krate.name, flavour).to_lowercase());
    let _ = std::fs::remove_dir_all(&dest);
    copy_dir(source, &dest);
    if flavour == Flavour::Benchscope {
        let manifest = dest.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let changed = point_criterion_at_benchscope(&text, &repo_root());
        assert_ne!(
            text, changed,
            "{}: no criterion dependency found",
            krate.name
        );
        std::fs::write(&manifest, changed).unwrap();
    }
    dest
}

/// `cargo bench --bench NAME` in `dir`, with the shared target folder,
/// SQLite built at -O1 as the workspace builds it, and `args` after `--`.
pub fn cargo_bench(krate: Crate, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", repo_root().join("target/real-crates"))
        .args([
            "--config",
            "profile.bench.package.libsqlite3-sys.opt-level=1",
            "bench",
            "--quiet",
            "--bench",
            krate.bench,
        ]);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("BENCHSCOPE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The published manifest with its criterion dev-dependency table (plain
/// or under a `[target.'cfg(..)']`) replaced by benchscope-criterion, with
/// the history on; every other line as it was.
pub fn point_criterion_at_benchscope(manifest: &str, repo: &Path) -> String {
    let mut out = String::new();
    let mut in_criterion = false;
    for line in manifest.lines() {
        let header = line.trim_start().starts_with('[');
        if header {
            in_criterion = line.trim().ends_with("dev-dependencies.criterion]");
            out.push_str(line);
            out.push('\n');
            if in_criterion {
                out.push_str(&format!(
                    "package = \"benchscope-criterion\"\npath = {:?}\nfeatures = [\"history\"]\n",
                    repo.join("criterion")
                ));
            }
            continue;
        }
        if !in_criterion {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Scratch space outside the repository, so that cargo does not take the
/// copies for members of benchscope's workspace.
fn scratch() -> PathBuf {
    std::env::temp_dir().join("benchscope-real-crates")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
