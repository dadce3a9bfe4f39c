//! The README's metric table lists every metric benchscope exports, with its
//! type and labels, so the documentation cannot drift from the code.

use benchscope::metrics::CATALOGUE;

#[test]
fn the_readme_documents_every_metric() {
    let readme = include_str!("../README.md");
    for spec in CATALOGUE {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", spec.name)))
            .unwrap_or_else(|| panic!("README.md has no metric-table row for {}", spec.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], spec.kind, "type of {} in README.md", spec.name);
        let labels: Vec<String> = spec.labels.iter().map(|l| format!("`{l}`")).collect();
        assert_eq!(
            cells[3],
            labels.join(", "),
            "labels of {} in README.md",
            spec.name
        );
    }
    let rows = readme
        .lines()
        .filter(|l| l.starts_with("| `benchmark_") || l.starts_with("| `benchscope_"))
        .filter(|l| {
            l.contains("| gauge |") || l.contains("| counter |") || l.contains("| histogram |")
        })
        .count();
    let ours = CATALOGUE
        .iter()
        .filter(|s| s.name.starts_with("benchmark_") || s.name.starts_with("benchscope_"))
        .count();
    assert_eq!(
        rows, ours,
        "README.md lists a metric the code does not export"
    );
}
