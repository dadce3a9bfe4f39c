//! How reliably the complexity fit names the class of routines of known
//! complexity: `examples/scaling.rs`'s linear scan (O(n)), sort
//! (O(n log n)), all pairs (O(n²)), hash lookup (O(1)) and binary search
//! (O(log n)), each over 6 sizes, run 10 times as separate processes (as a
//! user runs them, `--quick` settings); per routine, how many runs chose
//! the right class, the classes chosen otherwise, and the fit errors.
//! Target: each right in at least 9 of 10 runs.
//!
//! ```text
//! cargo bench -p benchscope-benches --bench complexity
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use benchscope::SuiteRun;
use benchscope::complexity::Class;

const RUNS: usize = 10;
const EXPECTED: [(&str, Class); 5] = [
    ("scaling/linear_scan", Class::Linear),
    ("scaling/sort", Class::Linearithmic),
    ("scaling/all_pairs", Class::Quadratic),
    ("scaling/lookup", Class::Constant),
    ("scaling/binary_search", Class::Logarithmic),
];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "--example", "scaling", "--quiet"])
        .current_dir(&root)
        .status()
        .expect("cargo build");
    assert!(built.success(), "building examples/scaling.rs failed");
    let binary = root.join("target/release/examples/scaling");
    let dir = std::env::temp_dir().join(format!("benchscope-complexity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let mut chosen: BTreeMap<&str, Vec<(Class, f64)>> = BTreeMap::new();
    for run in 1..=RUNS {
        let out = dir.join(format!("run-{run}.json"));
        let status = Command::new(&binary)
            .args([
                "--quick",
                "--no-history",
                "--exporters",
                "none",
                "--output",
                "json",
            ])
            .arg(&out)
            .arg("scaling/")
            .current_dir(&dir)
            .output()
            .expect("run the scaling example");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let results = SuiteRun::read_json(&out).expect("results");
        for (name, _) in EXPECTED {
            let fit = results
                .complexity
                .iter()
                .find(|c| c.benchmark == name && c.measure == benchscope::Fitted::Time)
                .unwrap_or_else(|| panic!("no fit for {name}"));
            chosen
                .entry(name)
                .or_default()
                .push((fit.fit.class, fit.fit.error));
        }
        eprintln!("run {run}/{RUNS} done");
    }
    println!("complexity classes over {RUNS} runs of examples/scaling.rs --quick\n");
    println!(
        "{:<24} {:<11} {:>7}  {:<24} fit error (median, max)",
        "routine", "expected", "right", "chosen otherwise"
    );
    let mut all_met = true;
    for (name, expected) in EXPECTED {
        let runs = &chosen[name];
        let right = runs.iter().filter(|(c, _)| *c == expected).count();
        let others: Vec<String> = runs
            .iter()
            .filter(|(c, _)| *c != expected)
            .map(|(c, _)| c.to_string())
            .collect();
        let mut errors: Vec<f64> = runs.iter().map(|(_, e)| *e).collect();
        errors.sort_by(f64::total_cmp);
        all_met &= right >= 9;
        println!(
            "{name:<24} {:<11} {right:>3}/{RUNS}  {:<24} {:.1} %, {:.1} %",
            expected.as_str(),
            others.join(", "),
            errors[errors.len() / 2] * 100.0,
            errors[errors.len() - 1] * 100.0
        );
    }
    println!(
        "\ntarget (each right in at least 9 of {RUNS}): {}",
        if all_met { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
