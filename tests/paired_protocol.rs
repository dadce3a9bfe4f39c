//! `benchscope compare --paired`: the two builds' workers kept in step
//! sample by sample. A real target against itself gives a verdict with its
//! interval, the smallest change it could see and why it stopped; a side
//! that crashes, hangs or ends early is a clear error, exit 2, never a
//! verdict, and leaves no process behind.
//!
//! The misbehaving sides are workers written in bash that speak the
//! protocol (sdk/src/measure/worker.rs) over `/dev/tcp` and then fail on
//! purpose: a real target cannot be made to crash on cue.

mod common;

use std::path::{Path, PathBuf};

use common::monitoring::scratch_dir;
use common::{benchscope_tool, output_text, process_mentions, repo_root, script};

/// Serialised with the other timing tests of this binary.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A worker that lists one benchmark and serves samples of 1 ms; after
/// 30 samples it does `then` (`crash`, `hang`), or at once `early` exits
/// before it is ready. `good` serves until told to end.
fn fake_worker(dir: &Path, then: &str) -> PathBuf {
    script(
        dir,
        &format!("worker-{then}"),
        &format!(
            r#"#!/bin/bash
case " $* " in *" --list "*) echo "fake/sum: benchmark"; exit 0;; esac
if [ {then} = early ]; then echo "left before it was ready, on purpose" >&2; exit 0; fi
exec 3<>/dev/tcp/${{BENCHSCOPE_PAIRED_ADDR%:*}}/${{BENCHSCOPE_PAIRED_ADDR##*:}}
echo "hello $BENCHSCOPE_PAIRED_TOKEN" >&3
echo ready >&3
n=0
while read -r line <&3; do
  [ "$line" = end ] && exit 0
  n=$((n+1))
  if [ $n -gt 30 ]; then
    case {then} in
      crash) echo "crashed on purpose" >&2; kill -SEGV $$ ;;
      hang) sleep 617 ;;
    esac
  fi
  echo 1000000 >&3
done"#
        ),
    )
}

/// `compare --paired` of `baseline` and `candidate`, stopped after 2 s
/// without an answer: exit code and everything it wrote.
fn compare(baseline: &Path, candidate: &Path) -> (Option<i32>, String) {
    let out = benchscope_tool(&repo_root())
        .args(["compare", "--paired", "--timeout", "2s"])
        .arg("--baseline-exe")
        .arg(baseline)
        .arg("--candidate-exe")
        .arg(candidate)
        .output()
        .unwrap();
    (out.status.code(), output_text(&out))
}

fn no_verdict(text: &str) {
    assert!(
        !text.contains("PASS") && !text.contains("FAIL") && !text.contains("verdict"),
        "a verdict from a broken side:\n{text}"
    );
}

#[test]
fn a_target_against_itself_is_unchanged_and_says_how_it_sampled() {
    let _serial = serial();
    let exe = common::quickstart_binary();
    let out = benchscope_tool(&repo_root())
        .args(["compare", "--paired", "--filter", "strings/parse_u64"])
        .args(["--output", "json"])
        .arg("--baseline-exe")
        .arg(&exe)
        .arg("--candidate-exe")
        .arg(&exe)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &json["benchmarks"][0];
    assert_eq!(row["name"], "strings/parse_u64", "{json}");
    let paired = &row["paired"];
    // One figure per pair of processes, at least six of them.
    assert!(paired["rounds"].as_array().unwrap().len() >= 6, "{paired}");
    let (low, high) = (
        paired["low"].as_f64().unwrap(),
        paired["high"].as_f64().unwrap(),
    );
    assert!(low <= 1.0 && 1.0 <= high || high - low < 0.03, "{paired}");
    assert!(paired["detectable"].as_f64().unwrap() > 0.0, "{paired}");
    let sampling = paired["sampling"].as_str().unwrap();
    assert!(sampling.contains("pairs of processes"), "{sampling}");
    assert!(sampling.contains("stopped"), "{sampling}");
    assert_eq!(json["passed"], true, "{json}");
}

#[test]
fn a_side_that_ends_before_it_is_ready_is_named() {
    let _serial = serial();
    let dir = scratch_dir("paired-early");
    let (code, text) = compare(&fake_worker(&dir, "good"), &fake_worker(&dir, "early"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("candidate ended before its worker for fake/sum was ready")
            && text.contains("left before it was ready, on purpose"),
        "{text}"
    );
    no_verdict(&text);
}

#[test]
fn a_side_that_crashes_during_its_samples_is_named() {
    let _serial = serial();
    let dir = scratch_dir("paired-crash");
    let (code, text) = compare(&fake_worker(&dir, "good"), &fake_worker(&dir, "crash"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("candidate's worker for fake/sum ended after 30 samples")
            && text.contains("SIGSEGV")
            && text.contains("crashed on purpose"),
        "{text}"
    );
    no_verdict(&text);
}

#[test]
fn a_side_that_hangs_is_stopped_with_what_it_started() {
    let _serial = serial();
    let dir = scratch_dir("paired-hang");
    let start = std::time::Instant::now();
    let (code, text) = compare(&fake_worker(&dir, "good"), &fake_worker(&dir, "hang"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("candidate's worker for fake/sum did not answer within 2s after 30 samples"),
        "{text}"
    );
    no_verdict(&text);
    // Bounded by --timeout, and its `sleep 600` went with it.
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
    let hanging = dir.join("worker-hang");
    assert!(
        !process_mentions(&hanging.to_string_lossy()),
        "left running"
    );
    assert!(!process_mentions("sleep\u{0}617"), "its sleep left running");
    let _ = std::fs::remove_dir_all(&dir);
}
