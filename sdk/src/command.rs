//! Running another program to its end, with errors that name it: what
//! `benchscope compare` runs (git, cargo, bench targets) and the git
//! queries that find a run's commit and branch. At the bottom with
//! `error.rs` and `format.rs`: any layer may run a command.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::Error;

/// Runs `cmd` (shown as `shown`) to its end; an error when it cannot start
/// (with `hint`) or fails (with the last line it wrote on standard error,
/// when piped).
pub(crate) fn checked(cmd: &mut Command, shown: &str, hint: &str) -> Result<Output, Error> {
    let out = cmd.output().map_err(|e| Error::Command {
        command: shown.into(),
        message: format!("could not start: {e}; {hint}")
            .trim_end_matches("; ")
            .into(),
    })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: shown.into(),
            message: format!("failed ({}): {}", out.status, last_line(&out.stderr)),
        });
    }
    Ok(out)
}

/// `git ARGS` in `dir` (the current directory when `None`): its trimmed
/// standard output.
pub(crate) fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, Error> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::piped());
    let shown = format!("git {}", args.join(" "));
    let out = checked(&mut cmd, &shown, "is git on PATH?")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The last line of `bytes` that is not blank.
pub(crate) fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no message here; see its output above)")
        .to_owned()
}
