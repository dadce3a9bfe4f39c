//! A run measured while the machine is overloaded: the probe sees the
//! interference, retakes what it can, flags what stayed disturbed (table,
//! JSON results, history), and the gate neither takes the disturbed figures
//! as the machine's noise nor the disturbed run as a branch's baseline.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use benchscope::{History, SuiteRun};

/// Eight threads spinning until dropped: on the two cores these tests run
/// on, every other process waits for a CPU most of the time.
struct Overload {
    stop: std::sync::Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Overload {
    fn start() -> Overload {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = (0..8)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(0u64);
                    }
                })
            })
            .collect();
        Overload { stop, threads }
    }
}

impl Drop for Overload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// `collections/sum` (four cases) of the quickstart, `--quick`, recorded
/// in `d/history.db` as `commit` on main; its results and output.
fn run(d: &Path, commit: &str) -> (SuiteRun, String) {
    let out = common::quickstart_command()
        .args(["--quick", "--exporters", "none", "--history", "history.db"])
        .args(["--output", "json", "run.json", "collections/sum"])
        .env("BENCHSCOPE_COMMIT", commit)
        .env("BENCHSCOPE_BRANCH", "main")
        .current_dir(d)
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    (SuiteRun::read_json(&d.join("run.json")).unwrap(), text)
}

#[test]
fn an_overloaded_run_is_flagged_and_kept_out_of_the_noise_and_the_baseline() {
    let d = common::monitoring::scratch_dir("disturbance");
    let (quiet, _) = run(&d, "quiet");
    let (overloaded, text) = {
        let _load = Overload::start();
        run(&d, "overloaded")
    };
    for b in &overloaded.benchmarks {
        let disturbance = b.disturbance.expect("every timed benchmark is probed");
        assert!(disturbance.retaken > 0, "{}: {disturbance:?}", b.name);
        assert!(
            disturbance.run_delay_share > 0.05,
            "{}: {disturbance:?}",
            b.name
        );
    }
    let disturbed: Vec<&str> = overloaded
        .benchmarks
        .iter()
        .filter(|b| b.disturbed())
        .map(|b| b.name.as_str())
        .collect();
    assert!(!disturbed.is_empty(), "{text}");
    assert!(
        text.contains("DISTURBED by the rest of the machine"),
        "{text}"
    );
    // The JSON results say so in the schema's own words.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 4);
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::repo_root().join("docs/results.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(jsonschema::is_valid(&schema, &json), "{json}");
    assert!(
        json["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["disturbance"]["disturbed"] == true),
        "{json}"
    );

    // The history keeps the flag: the noise between runs leaves the
    // disturbed results out.
    let history = History::open(&d.join("history.db")).unwrap();
    let machine = history.runs(None).unwrap()[0].machine.clone();
    let means = history.means_by_benchmark(&machine, None, None).unwrap();
    for name in &disturbed {
        assert_eq!(means.get(*name).map_or(0, Vec::len), 1, "{name}: {means:?}");
    }
    let stored = history.run(history.latest(None).unwrap().unwrap()).unwrap();
    assert_eq!(
        stored.benchmarks.iter().filter(|b| b.disturbed()).count(),
        disturbed.len()
    );

    // The branch's baseline is its latest undisturbed run, not the
    // overloaded one: a run twice as slow as the quiet one fails.
    let mut slow = quiet.clone();
    slow.started_at += 1.0;
    slow.commit = "slow".into();
    for b in &mut slow.benchmarks {
        *b = benchscope::BenchResult::from_samples(
            b.name.clone(),
            b.samples_ns.iter().map(|s| s * 2.0).collect(),
        )
        .unwrap();
    }
    slow.write_json(&d.join("slow.json")).unwrap();
    let gate = common::benchscope_tool(&d)
        .args(["--history", "history.db", "guard", "--results", "slow.json"])
        .args(["--baseline-branch", "main", "--samples-only"])
        .output()
        .unwrap();
    let text = common::output_text(&gate);
    assert_eq!(gate.status.code(), Some(1), "{text}");
    assert!(text.contains("baseline main@quiet"), "{text}");
    assert_eq!(text.matches("REGRESSED (critical)").count(), 4, "{text}");
}
