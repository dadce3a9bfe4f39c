//! Running another program to its end, with errors that name it: what
//! `benchscope compare` runs (git, cargo, bench targets) and the git
//! queries that find a run's commit and branch. At the bottom with
//! `error.rs` and `format.rs`: any layer may run a command.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Set by an interrupt handler: children waited on by [`output_within`]
/// are killed and the wait returns [`Ended::Interrupted`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The process groups of the children [`output_within`] is waiting on.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Stops every child [`output_within`] is waiting on, with whatever they
/// started, and makes the waits return [`Ended::Interrupted`] (from a
/// Ctrl-C handler, before the process exits).
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    for group in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        kill_group(*group);
    }
}

/// Whether [`interrupt`] was called.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How a bounded run of a child ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It exited (or was killed by a signal) by itself.
    Exited(Output),
    /// It ran past its limit and was killed; what it had written so far.
    TimedOut(Output),
    /// An interrupt stopped the wait; the child was killed.
    Interrupted,
}

/// Runs `cmd` for at most `limit`, collecting what it writes to the
/// streams the caller piped (the others are left as set). The child runs
/// in a process group of its own, and a child still running at the limit,
/// or when [`interrupt`] is called, is killed with everything it started
/// (a shell script's `sleep` would otherwise hold its pipes open): no
/// child of benchscope's runs without a deadline.
pub(crate) fn output_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Ended> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd.spawn()?;
    let group = child.id();
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(group);
    let readers = [
        child.stdout.take().map(|s| Drained::start(Box::new(s))),
        child.stderr.take().map(|s| Drained::start(Box::new(s))),
    ];
    let deadline = Instant::now() + limit;
    let waited = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(Some(status)),
            Ok(None) if interrupted() || Instant::now() >= deadline => break Ok(None),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(e),
        }
    };
    // Whatever the child left running in its group goes with it.
    kill_group(group);
    let _ = child.kill();
    let status = child.wait();
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|g| *g != group);
    let timed_out = waited?.is_none();
    // The interrupt may have killed the child before this loop saw it.
    if interrupted() {
        return Ok(Ended::Interrupted);
    }
    let end = Instant::now() + Duration::from_secs(2);
    let [stdout, stderr] = readers.map(|r| r.map(|r| r.take(end)).unwrap_or_default());
    let output = Output {
        status: status?,
        stdout,
        stderr,
    };
    Ok(if timed_out {
        Ended::TimedOut(output)
    } else {
        Ended::Exited(output)
    })
}

/// A child that runs beside this process until [`Running::stop`] (a
/// paired comparison's worker): in a process group of its own, registered
/// so that [`interrupt`] stops it with everything it started, and stopped
/// the same way when dropped. Its standard error is kept (the last 16 MiB)
/// for the error that names it.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) struct Running {
    child: std::process::Child,
    group: u32,
    stderr: Option<Drained>,
    stopped: bool,
}

#[cfg_attr(not(feature = "cli"), allow(dead_code))]
impl Running {
    /// Starts `cmd` with its standard error piped.
    pub(crate) fn start(cmd: &mut Command) -> std::io::Result<Running> {
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        let mut child = cmd.stderr(Stdio::piped()).spawn()?;
        let group = child.id();
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(group);
        let stderr = child.stderr.take().map(|s| Drained::start(Box::new(s)));
        Ok(Running {
            child,
            group,
            stderr,
            stopped: false,
        })
    }

    /// Its exit status, if it has ended.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Gives it up to `grace` to end by itself, then kills it with what it
    /// started: its exit status (`None` when it had to be killed) and the
    /// last line it wrote on standard error.
    pub(crate) fn stop(mut self, grace: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline && !interrupted() => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => break None,
            }
        };
        self.kill();
        let words = self
            .stderr
            .take()
            .map(|d| last_line(&d.take(Instant::now() + Duration::from_secs(1))))
            .unwrap_or_default();
        (status, words)
    }

    fn kill(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        kill_group(self.group);
        let _ = self.child.kill();
        let _ = self.child.wait();
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|g| *g != self.group);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills process group `group` (the child's id: it leads its group; on
/// other systems than Linux the child alone is killed, by the caller).
fn kill_group(group: u32) {
    #[cfg(target_os = "linux")]
    if let Ok(group) = libc::pid_t::try_from(group) {
        // SAFETY: kill(2) with a negative id signals that process group;
        // it touches no memory of this process.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = group;
}

/// A child's stream read to its end on a thread of its own (a child that
/// fills a pipe nobody reads would block), keeping at most 16 MiB.
struct Drained {
    kept: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Drained {
    fn start(mut stream: Box<dyn std::io::Read + Send>) -> Drained {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let sink = kept.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                let room = (16usize << 20).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            let _ = tx.send(());
        });
        Drained { kept, done }
    }

    /// What was read by the stream's end, or by `end` if a process outside
    /// the child's group still holds it open.
    fn take(self, end: Instant) -> Vec<u8> {
        let _ = self
            .done
            .recv_timeout(end.saturating_duration_since(Instant::now()));
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

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
