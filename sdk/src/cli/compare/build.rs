//! The two builds of `benchscope compare`: the baseline revision checked
//! out in the kept worktree `target/benchscope/compare/baseline` (refused
//! when its files were changed) with a target folder of its own, and the
//! working tree as it is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{CompareArgs, Side};
use crate::command::checked;
use crate::error::Error;

/// Builds the target at the baseline revision (in a worktree) and at the
/// working tree.
pub(super) fn build_both(args: &CompareArgs) -> Result<(Side, Side), Error> {
    let (kind, target) = match (&args.bench, &args.example) {
        (Some(b), _) => ("--bench", b.as_str()),
        (None, Some(e)) => ("--example", e.as_str()),
        (None, None) => {
            return Err(Error::Argument {
                flag: "--bench".into(),
                value: String::new(),
                reason: "name the target to compare: --bench NAME (a harness = false bench target) or --example NAME".into(),
            });
        }
    };
    let here = std::env::current_dir().map_err(|source| Error::Io {
        action: "cannot read the working directory",
        path: ".".into(),
        source,
    })?;
    let root = PathBuf::from(git(&here, &["rev-parse", "--show-toplevel"])?);
    let relative = here.strip_prefix(&root).unwrap_or(Path::new("")).to_owned();
    let rev = match &args.rev {
        Some(rev) => rev.clone(),
        None => {
            let branch = default_branch(&root)?;
            let base =
                git(&root, &["merge-base", "HEAD", &branch]).map_err(|e| Error::Command {
                    command: format!("git merge-base HEAD {branch}"),
                    message: format!(
                        "found no merge base ({e}); name the revision: benchscope compare REV"
                    ),
                })?;
            eprintln!("compare: baseline is the merge base of HEAD and {branch}");
            base
        }
    };
    let sha = git(&root, &["rev-parse", "--verify", &format!("{rev}^{{commit}}")]).map_err(|_| {
        Error::Argument {
            flag: "REV".into(),
            value: rev.clone(),
            reason: "not a commit of this repository; pass a branch, tag or commit (git rev-parse must know it)".into(),
        }
    })?;
    let short = sha.chars().take(12).collect::<String>();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { here.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let work = target_dir.join("benchscope").join("compare");
    // One worktree for every baseline revision, with a target folder of its
    // own: cargo keys a path package's artifacts by name and version, not by
    // folder, so two checkouts building into one target folder would take
    // each other's binaries for fresh. Checking each revision out in the same
    // place changes the files that differ, which cargo does see.
    let tree = work.join("baseline");
    let checked_out = git(&tree, &["rev-parse", "HEAD"]).ok();
    if checked_out.is_some() {
        refuse_modified(&tree)?;
    }
    if checked_out.as_deref() != Some(sha.as_str()) {
        eprintln!(
            "compare: checking out {rev} ({short}) in {}",
            tree.display()
        );
        let switched = checked_out.is_some()
            && git(&tree, &["checkout", "--quiet", "--force", "--detach", &sha]).is_ok();
        if !switched {
            if tree.exists() {
                let _ = git(
                    &root,
                    &["worktree", "remove", "--force", &tree.to_string_lossy()],
                );
                let _ = std::fs::remove_dir_all(&tree);
            }
            let _ = git(&root, &["worktree", "prune"]);
            git(
                &root,
                &[
                    "worktree",
                    "add",
                    "--detach",
                    "--force",
                    &tree.to_string_lossy(),
                    &sha,
                ],
            )?;
        }
    }
    let head = git(&root, &["rev-parse", "--short=12", "HEAD"])?;
    let dirty = !git(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).map_err(|source| Error::Io {
        action: "cannot create",
        path: bin.clone(),
        source,
    })?;
    eprintln!("compare: building {target} at {short}");
    let a = build(
        &tree.join(&relative),
        args,
        kind,
        target,
        &work.join("target"),
        &bin.join(format!("baseline-{target}")),
    )?;
    eprintln!("compare: building {target} in the working tree");
    let b = build(
        &here,
        args,
        kind,
        target,
        &target_dir,
        &bin.join(format!("working-{target}")),
    )?;
    Ok((
        Side {
            exe: a.0,
            dir: a.1,
            version: short,
        },
        Side {
            exe: b.0,
            dir: b.1,
            version: if dirty { format!("{head}+dirty") } else { head },
        },
    ))
}

/// Refuses a kept baseline worktree whose files were changed: what it
/// builds would be labelled as the clean revision, and checking another
/// revision out over it would lose the changes.
fn refuse_modified(tree: &Path) -> Result<(), Error> {
    let status = git(tree, &["status", "--porcelain", "--untracked-files=normal"])?;
    // `XY PATH` lines (the output's first blank trimmed away); Cargo.lock
    // is left aside: cargo itself rewrites it when it builds the revision.
    let files: Vec<&str> = status
        .lines()
        .filter_map(|l| l.trim_start().split_once(' '))
        .map(|(_, path)| path.trim_start())
        .filter(|path| !path.ends_with("Cargo.lock"))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    Err(Error::Command {
        command: "benchscope compare".into(),
        message: format!(
            "found the baseline's worktree {} modified ({}): it would build those changes as the clean revision. Nothing was built. Keep what you need from it, then reset it (git -C {} checkout --force HEAD && git -C {} clean -fd) or delete the folder",
            tree.display(),
            files.join(", "),
            tree.display(),
            tree.display()
        ),
    })
}

/// `cargo build --release` of the target in `dir`; the executable is copied
/// to `keep` (the other side's build may overwrite the original). Returns
/// the copy and the package's folder.
fn build(
    dir: &Path,
    args: &CompareArgs,
    kind: &str,
    target: &str,
    target_dir: &Path,
    keep: &Path,
) -> Result<(PathBuf, PathBuf), Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            kind,
            target,
        ]);
    if let Some(p) = &args.package {
        cmd.args(["--package", p]);
    }
    if let Some(f) = &args.features {
        cmd.args(["--features", f]);
    }
    let shown = format!(
        "cargo build --release {kind} {target} (in {})",
        dir.display()
    );
    let out = checked(cmd.stderr(Stdio::inherit()), &shown, "is cargo on PATH?")?;
    let built = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == target)
        .find_map(|m| {
            let exe = m["executable"].as_str()?.to_owned();
            let manifest = PathBuf::from(m["manifest_path"].as_str()?);
            Some((PathBuf::from(exe), manifest.parent()?.to_owned()))
        });
    let Some((exe, package)) = built else {
        return Err(Error::Command {
            command: shown,
            message: format!("built no executable named {target}; check the name and --package"),
        });
    };
    std::fs::copy(&exe, keep).map_err(|source| Error::Io {
        action: "cannot copy the built target to",
        path: keep.to_owned(),
        source,
    })?;
    Ok((keep.to_owned(), package))
}

/// The default branch: origin's HEAD, else the first of `main`, `master`,
/// `origin/main` and `origin/master` that exists.
fn default_branch(root: &Path) -> Result<String, Error> {
    if let Ok(remote) = git(
        root,
        &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
    ) {
        return Ok(remote);
    }
    for name in ["main", "master", "origin/main", "origin/master"] {
        if git(root, &["rev-parse", "--verify", "--quiet", name]).is_ok() {
            return Ok(name.into());
        }
    }
    Err(Error::Command {
        command: "git symbolic-ref refs/remotes/origin/HEAD".into(),
        message: "found no default branch (no origin/HEAD, main or master); name the revision: benchscope compare REV".into(),
    })
}

/// `git ARGS` in `dir`: its trimmed standard output.
fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    crate::command::git(Some(dir), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("benchscope-compare-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for args in [
            &["init", "--quiet"][..],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@localhost",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                "empty",
            ],
        ] {
            git(&dir, args).unwrap();
        }
        dir
    }

    #[test]
    fn a_worktree_with_changed_or_new_files_is_refused_with_their_names() {
        let dir = repo("modified");
        assert!(refuse_modified(&dir).is_ok());
        // What cargo rewrites when it builds is not a change of the user's.
        std::fs::write(dir.join("Cargo.lock"), "# written by cargo").unwrap();
        assert!(refuse_modified(&dir).is_ok());
        std::fs::write(dir.join("added.rs"), "fn main() {}").unwrap();
        let error = refuse_modified(&dir).unwrap_err().to_string();
        assert!(error.contains("modified (added.rs)"), "{error}");
        assert!(error.contains("Nothing was built"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
