//! Where each configuration value came from: the defaults, the file, a
//! variable, a flag, or git. `load.rs` records it per key, `context.rs`
//! for what it finds, and `--print-config` shows it.

use std::path::PathBuf;

/// Where a configuration value came from, as `--print-config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The built-in default.
    Default,
    /// The configuration file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Flag(String),
    /// Asked of git (the commit and branch, outside CI).
    Git,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Git => f.write_str("git"),
        }
    }
}
