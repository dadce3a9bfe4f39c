//! `crate = path` points the generated code at a renamed dependency.
extern crate benchscope as measuring;

#[measuring::monitored_bench(crate = measuring, group = "renamed")]
fn parse() -> u64 {
    std::hint::black_box("42").parse().unwrap_or(0)
}

#[measuring::monitored_bench(crate = measuring)]
fn traced(x: u32) -> u32 {
    x + 1
}

fn main() {
    assert_eq!(traced(1), 2);
    assert_eq!(parse(), 42);
    let names: Vec<String> = measuring::benchmarks()
        .unwrap()
        .iter()
        .map(|b| b.full_name())
        .collect();
    assert_eq!(names, ["renamed/parse"]);
}
