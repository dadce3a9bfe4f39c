//! The CI examples in docs/ci/ pass the real linter of each CI:
//! actionlint for the GitHub Actions workflow (built from its Go module),
//! check-jsonschema with GitLab's CI schema for the GitLab job (both
//! installed by scripts/ci-linters.sh, which the test command runs). A
//! broken copy of each fails its linter, so the linters do check. Every
//! `benchscope` flag the examples use is one the command has.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    common::repo_root().join("docs/ci").join(name)
}

fn actionlint(file: &Path) -> (bool, String) {
    let out = Command::new(common::linter("ACTIONLINT_BIN"))
        .args(["-no-color"])
        .arg(file)
        .output()
        .expect("run actionlint");
    (out.status.success(), common::output_text(&out))
}

fn gitlab_lint(file: &Path) -> (bool, String) {
    let out = Command::new(common::linter("CHECK_JSONSCHEMA_BIN"))
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    (out.status.success(), common::output_text(&out))
}

/// `text` with `from` replaced, written to a scratch file named `name`.
fn broken(text: &str, from: &str, to: &str, name: &str) -> PathBuf {
    assert!(text.contains(from), "{from:?} not in the example");
    // A folder of its own: the tests run at once, and a scratch folder is
    // emptied when made, so a shared one lost the other test's copy.
    let dir = common::monitoring::scratch_dir(&format!("ci-examples-{name}"));
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

/// The workflow `name` passes actionlint, and a copy with `from` replaced
/// by `to` (an expression on a context that does not exist) fails it with
/// `says`; the workflow's text.
fn lints_and_catches(name: &str, from: &str, to: &str, says: &str) -> String {
    let file = example(name);
    let (ok, text) = actionlint(&file);
    assert!(ok, "{text}");
    let source = std::fs::read_to_string(&file).unwrap();
    let (ok, text) = actionlint(&broken(&source, from, to, name));
    assert!(!ok, "actionlint passed a broken {name}:\n{text}");
    assert!(text.contains(says), "{text}");
    source
}

#[test]
fn the_github_actions_workflow_passes_actionlint() {
    lints_and_catches(
        "github-actions.yml",
        "${{ github.token }}",
        "${{ githb.token }}",
        "undefined variable \"githb\"",
    );
}

#[test]
fn the_backend_history_workflow_passes_actionlint() {
    let source = lints_and_catches(
        "github-actions-backend.yml",
        "${{ secrets.METRICS_TOKEN }}",
        "${{ secret.METRICS_TOKEN }}",
        "undefined variable \"secret\"",
    );
    // No cache and no history file: the backend is the history.
    for absent in ["actions/cache", "history.db"] {
        assert!(
            !source.contains(absent),
            "the backend example uses {absent}"
        );
    }
    for present in [
        "BENCHSCOPE_HISTORY:",
        "BENCHSCOPE_MACHINE:",
        "benchscope guard",
    ] {
        assert!(
            source.contains(present),
            "the backend example lacks {present}"
        );
    }
}

#[test]
fn the_gitlab_job_passes_the_gitlab_ci_schema() {
    let file = example("gitlab-ci.yml");
    let (ok, text) = gitlab_lint(&file);
    assert!(ok, "{text}");
    let source = std::fs::read_to_string(&file).unwrap();
    let bad = broken(
        &source,
        "policy: pull\n",
        "policy: sometimes\n",
        "gitlab-ci.yml",
    );
    let (ok, text) = gitlab_lint(&bad);
    assert!(!ok, "check-jsonschema passed a broken job:\n{text}");
}

#[test]
fn every_benchscope_flag_the_examples_use_exists() {
    let help = Command::new(common::benchscope_binary())
        .args(["compare", "--help"])
        .output()
        .expect("benchscope compare --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let source = std::fs::read_to_string(example(name)).unwrap();
        let gate_lines: Vec<&str> = source
            .lines()
            .filter(|l| l.contains("benchscope compare"))
            .collect();
        assert!(!gate_lines.is_empty(), "{name} runs no gate");
        for line in gate_lines {
            for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(flag),
                    "{name} uses `{flag}`, which compare does not have:\n{help}"
                );
            }
        }
        // The merge base needs the whole git history in the checkout.
        for text in ["--output json", "history.db", "--summary", "merge"] {
            assert!(source.contains(text), "{name} lacks {text}");
        }
    }
    let guard_help = Command::new(common::benchscope_binary())
        .args(["guard", "--help"])
        .output()
        .expect("benchscope guard --help");
    let guard_help = String::from_utf8_lossy(&guard_help.stdout).into_owned();
    let source = std::fs::read_to_string(example("github-actions-backend.yml")).unwrap();
    for line in source.lines().filter(|l| l.contains("benchscope guard")) {
        for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
            assert!(
                guard_help.contains(flag),
                "the backend example uses `{flag}`, which guard does not have:\n{guard_help}"
            );
        }
    }
}
