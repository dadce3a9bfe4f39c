//! Flame graphs of a benchmark's counted instructions, from Callgrind's
//! call graph.
//!
//! Callgrind records, per function, the instructions it executed itself
//! and, per call site, the inclusive cost of the calls it made: a call
//! graph, not whole stacks. The stacks are rebuilt from the counted region
//! down: a function's cost reached through one path is split among its
//! callees in the proportions Callgrind measured over all its calls (the
//! usual approximation of call-graph profilers: exact for a function called
//! from one place, proportional otherwise). A recursion or a share under
//! 0.01 % of the total ends its path as a leaf, so the output stays bounded.
//!
//! The result is written as folded stacks (`a;b;c count`, the input of
//! every flame graph tool) always, and as an SVG with the `flamegraph`
//! feature (drawn by `inferno`), beside a differential SVG of two folded
//! files for `benchscope compare`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where flame graphs go by default, from the working directory (the
/// package's folder under `cargo bench`).
#[cfg(feature = "harness")]
pub const DEFAULT_DIR: &str = "target/benchscope/flamegraphs";

/// The variable that puts them elsewhere.
pub const DIR_VAR: &str = "BENCHSCOPE_FLAMEGRAPH_DIR";

/// The function that bounds the counted region.
const ROOT: &str = "benchscope_counted_region";

/// Frames of benchscope's own loops, left out of the stacks.
const HARNESS: [&str; 2] = [
    "benchscope::measure::callgrind::",
    "benchscope::measure::loops::",
];

/// Deepest stack kept.
const MAX_DEPTH: usize = 96;

/// Where a benchmark's flame graph files go: `dir/<name>.folded`,
/// `dir/<name>.svg`, `dir/<name>.diff.svg`, with the benchmark's `/` and
/// other characters unsafe in file names turned into `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The call graph of a Callgrind output file (first event, `Ir`).
#[derive(Debug, Default)]
struct Graph {
    names: Vec<String>,
    own: Vec<u64>,
    calls: Vec<BTreeMap<usize, u64>>,
}

impl Graph {
    fn parse(text: &str) -> Result<Graph, String> {
        let mut g = Graph::default();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut positions = 1;
        let mut current: Option<usize> = None;
        let mut callee: Option<usize> = None;
        let mut call_cost_next = false;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("positions:") {
                positions = p.split_whitespace().count().max(1);
            } else if let Some(f) = line.strip_prefix("fn=") {
                current = Some(g.intern(f, &mut by_id, &mut by_name));
            } else if let Some(f) = line.strip_prefix("cfn=") {
                callee = Some(g.intern(f, &mut by_id, &mut by_name));
            } else if line.starts_with("calls=") {
                call_cost_next = true;
            } else if line
                .as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'*'))
            {
                let cost: u64 = line
                    .split_whitespace()
                    .nth(positions)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let Some(f) = current else {
                    return Err("a cost line before any `fn=` line".into());
                };
                if std::mem::take(&mut call_cost_next) {
                    let Some(c) = callee else {
                        return Err("a `calls=` line without `cfn=`".into());
                    };
                    *g.calls[f].entry(c).or_default() += cost;
                } else {
                    g.own[f] += cost;
                }
            }
        }
        Ok(g)
    }

    /// The function of `fn=`/`cfn=` text: `(id) name`, `(id)`, or `name`.
    fn intern(
        &mut self,
        text: &str,
        by_id: &mut HashMap<String, usize>,
        by_name: &mut HashMap<String, usize>,
    ) -> usize {
        let text = text.trim();
        let (id, name) = match text.strip_prefix('(').and_then(|t| t.split_once(')')) {
            Some((id, rest)) => (Some(id), rest.trim()),
            None => (None, text),
        };
        if let Some(&i) = id.and_then(|id| by_id.get(id)) {
            return i;
        }
        let i = match by_name.get(name) {
            Some(&i) if !name.is_empty() => i,
            _ => {
                self.names.push(name.replace(';', ":"));
                self.own.push(0);
                self.calls.push(BTreeMap::new());
                by_name.insert(name.to_owned(), self.names.len() - 1);
                self.names.len() - 1
            }
        };
        if let Some(id) = id {
            by_id.insert(id.to_owned(), i);
        }
        i
    }

    fn inclusive(&self, f: usize) -> u64 {
        self.own[f] + self.calls[f].values().sum::<u64>()
    }
}

/// Folded stacks (`root;frame;frame count`) of the counted region in a
/// Callgrind output file, under a root frame named `root`: instructions
/// over all the iterations counted.
pub fn folded(callgrind: &str, root: &str) -> Result<String, String> {
    let g = Graph::parse(callgrind)?;
    let start = g
        .names
        .iter()
        .position(|n| n == ROOT)
        .ok_or("the Callgrind output has no counted region")?;
    let total = g.calls[start].values().sum::<u64>() as f64;
    let mut stacks: BTreeMap<String, f64> = BTreeMap::new();
    let floor = total * 1e-4;
    let mut path = vec![start];
    for (&callee, &cost) in &g.calls[start] {
        walk(&g, callee, cost as f64, floor, &mut path, root, &mut stacks);
    }
    let mut out = String::new();
    for (stack, count) in stacks {
        let count = count.round() as u64;
        if count > 0 {
            out.push_str(&format!("{stack} {count}\n"));
        }
    }
    Ok(out)
}

fn walk(
    g: &Graph,
    f: usize,
    weight: f64,
    floor: f64,
    path: &mut Vec<usize>,
    root: &str,
    stacks: &mut BTreeMap<String, f64>,
) {
    path.push(f);
    let stack: String = std::iter::once(root)
        .chain(
            path[1..]
                .iter()
                .map(|&i| g.names[i].as_str())
                .filter(|n| !HARNESS.iter().any(|h| n.starts_with(h))),
        )
        .collect::<Vec<_>>()
        .join(";");
    let inclusive = g.inclusive(f) as f64;
    let leaf = inclusive <= 0.0 || path.len() > MAX_DEPTH || path[..path.len() - 1].contains(&f);
    if leaf {
        *stacks.entry(stack.clone()).or_default() += weight;
    } else {
        let scale = weight / inclusive;
        let own = g.own[f] as f64 * scale;
        if own > 0.0 {
            *stacks.entry(stack.clone()).or_default() += own;
        }
        for (&callee, &cost) in &g.calls[f] {
            let share = cost as f64 * scale;
            if share < floor {
                *stacks.entry(stack.clone()).or_default() += share;
            } else {
                walk(g, callee, share, floor, path, root, stacks);
            }
        }
    }
    path.pop();
}

/// Draws `folded` as an SVG flame graph at `out`.
#[cfg(feature = "flamegraph")]
pub fn svg(folded: &str, title: &str, out: &Path) -> Result<(), String> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "instructions".into();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the flame graph {}: {e}", out.display()))?;
    std::fs::write(out, svg).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Draws the differential flame graph of `before` → `after` (folded
/// stacks) at `out`: the frames are `after`'s, red where they grew, blue
/// where they shrank.
#[cfg(all(feature = "flamegraph", feature = "cli"))]
pub fn diff_svg(before: &str, after: &str, title: &str, out: &Path) -> Result<(), String> {
    let mut folded = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options::default(),
        before.as_bytes(),
        after.as_bytes(),
        &mut folded,
    )
    .map_err(|e| format!("cannot compare the folded stacks: {e}"))?;
    svg(&String::from_utf8_lossy(&folded), title, out)
}

/// Writes `name`'s folded stacks, and with the `flamegraph` feature its
/// SVG, into `dir`; returns the files written.
pub fn write(
    dir: &Path,
    name: &str,
    callgrind: &str,
    iterations: u64,
) -> Result<Vec<PathBuf>, String> {
    let stacks = folded(callgrind, name)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stem = file_stem(name);
    let folded_path = dir.join(format!("{stem}.folded"));
    std::fs::write(&folded_path, &stacks)
        .map_err(|e| format!("cannot write {}: {e}", folded_path.display()))?;
    #[allow(unused_mut)]
    let mut written = vec![folded_path];
    #[cfg(feature = "flamegraph")]
    {
        let svg_path = dir.join(format!("{stem}.svg"));
        svg(
            &stacks,
            &format!("{name}: instructions over {iterations} iterations"),
            &svg_path,
        )?;
        written.push(svg_path);
    }
    #[cfg(not(feature = "flamegraph"))]
    let _ = iterations;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Callgrind file, compressed names and all: the region calls
    /// `routine` (1000 inclusive), which costs 100 itself and calls `sort`
    /// (600) and `alloc` (300); `sort` also calls `alloc` (200) and costs
    /// 400 itself; `alloc` costs 500 itself in all.
    const FILE: &str = "\
# callgrind format
version: 1
positions: line
events: Ir
summary: 1000

fn=(1) main
cfn=(2) benchscope_counted_region
calls=1 0
0 1000

fn=(2)
cfn=(3) routine
calls=1 0
0 1000

fn=(3)
0 100
cfn=(4) sort
calls=1 0
0 600
cfn=(5) alloc
calls=1 0
0 300

fn=(4)
0 400
cfn=(5)
calls=1 0
0 200

fn=(5)
0 500
";

    #[test]
    fn stacks_follow_the_call_graph_from_the_region() {
        let folded = folded(FILE, "bench/x").unwrap();
        let lines: BTreeMap<&str, u64> = folded
            .lines()
            .map(|l| {
                let (stack, n) = l.rsplit_once(' ').unwrap();
                (stack, n.parse().unwrap())
            })
            .collect();
        assert_eq!(lines["bench/x;routine"], 100, "{folded}");
        assert_eq!(lines["bench/x;routine;sort"], 400, "{folded}");
        assert_eq!(lines["bench/x;routine;sort;alloc"], 200, "{folded}");
        assert_eq!(lines["bench/x;routine;alloc"], 300, "{folded}");
        assert_eq!(lines.values().sum::<u64>(), 1000, "nothing lost: {folded}");
        assert!(!folded.contains("main"), "only the region: {folded}");
    }

    #[test]
    fn recursion_ends_as_a_leaf_and_nothing_is_lost() {
        let file = "positions: line\nevents: Ir\nfn=(1) benchscope_counted_region\ncfn=(2) f\ncalls=1 0\n0 100\nfn=(2)\n0 40\ncfn=(2)\ncalls=1 0\n0 60\n";
        let folded = folded(file, "r").unwrap();
        let total: u64 = folded
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, 100, "{folded}");
        assert!(folded.contains("r;f;f "), "{folded}");
    }

    #[test]
    fn a_file_without_the_region_or_malformed_is_an_error() {
        assert!(folded("positions: line\nfn=(1) main\n0 5\n", "r").is_err());
        assert!(folded("positions: line\n0 5\n", "r").is_err());
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("collections/sort 10k"), "collections_sort_10k");
        assert_eq!(file_stem("a::b<u64>"), "a__b_u64_");
    }
}
