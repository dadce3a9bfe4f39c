//! The README's tables stay true: the metric table lists every metric
//! benchscope exports, with its type and labels, and the layout table names
//! the tree as it is.

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

/// Every path in the README's layout table exists, and every folder of the
/// SDK's source is named in it: the table cannot drift from the tree.
#[test]
fn the_readme_layout_table_matches_the_tree() {
    let readme = include_str!("../README.md");
    let layout = readme
        .split("## Layout")
        .nth(1)
        .expect("README.md has a Layout section");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let mut rows = 0;
    for row in layout.lines().filter(|l| l.starts_with("| `")) {
        rows += 1;
        let path = row
            .trim_start_matches("| `")
            .split('`')
            .next()
            .unwrap_or_default();
        assert!(
            root.join(path).exists(),
            "README.md's layout names {path}, which does not exist"
        );
        // Files named inside the row, such as `tests/` entries, exist too.
        let cell = row.split('|').nth(2).unwrap_or_default();
        for name in cell.split('`').skip(1).step_by(2) {
            if name.ends_with(".rs") && !name.contains(' ') {
                let dir = root.join(path);
                let found = dir.join(name).exists() || walk(&dir).iter().any(|p| p.ends_with(name));
                assert!(
                    found,
                    "README.md's layout names {name} under {path}, which does not exist"
                );
            }
        }
    }
    assert!(rows >= 10, "the layout table has {rows} rows");
    let sdk_row = layout
        .lines()
        .find(|l| l.starts_with("| `sdk/` |"))
        .expect("a row for sdk/");
    for entry in std::fs::read_dir(root.join("sdk/src")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() && entry.file_name() != "bin" {
            let folder = format!("`{}/`", entry.file_name().to_string_lossy());
            assert!(
                sdk_row.contains(&folder),
                "README.md's layout does not name sdk/src/{folder}"
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
