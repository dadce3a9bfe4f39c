//! Every shape of a benchmark with cases compiles and lists its cases in
//! order: types outermost, then consts, then arguments; threads by the runtime.
use benchscope::{Bencher, monitored_bench};

#[monitored_bench(args = [1, 10, 100], throughput = elements(n * 2))]
fn count(n: u64) -> u64 {
    (0..n).sum()
}

#[monitored_bench(args = ["a", "bc"])]
fn by_reference(s: &str) -> usize {
    s.len()
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub sides: u8,
}

#[monitored_bench(args = [Shape { sides: 3 }])]
fn by_debug(shape: Shape) -> u8 {
    shape.sides
}

#[monitored_bench(group = "g", types = [u8, Vec<u16>], consts = [2, 4])]
fn generic<T: Default, const N: usize>() -> [Option<T>; N] {
    std::array::from_fn(|_| Some(T::default()))
}

#[monitored_bench(types = [u32, u64], args = [5, 6])]
fn with_bencher<T: From<u8> + Copy>(b: &mut Bencher, n: usize) {
    let v: Vec<T> = vec![T::from(1); n];
    b.iter(|| v.len());
}

#[monitored_bench(threads = [1, 4])]
fn contended() -> u64 {
    7
}

fn main() {
    let names: Vec<String> = benchscope::benchmarks()
        .unwrap()
        .iter()
        .flat_map(|b| b.cases())
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        [
            "by_debug/Shape { sides: 3 }",
            "by_reference/a",
            "by_reference/bc",
            "contended/threads=1",
            "contended/threads=4",
            "count/1",
            "count/10",
            "count/100",
            "g/generic/u8/2",
            "g/generic/u8/4",
            "g/generic/Vec<u16>/2",
            "g/generic/Vec<u16>/4",
            "with_bencher/u32/5",
            "with_bencher/u32/6",
            "with_bencher/u64/5",
            "with_bencher/u64/6",
        ]
    );
    let counting = benchscope::benchmarks().unwrap().into_iter().find(|b| b.name() == "count").unwrap();
    let throughput: Vec<_> = counting.cases().into_iter().map(|c| c.options.throughput).collect();
    assert_eq!(
        throughput,
        [1, 10, 100].map(|n| Some(benchscope::Throughput::Elements(2 * n)))
    );
    // The function stays callable.
    assert_eq!(count(4), 6);
    assert_eq!(generic::<u8, 2>(), [Some(0), Some(0)]);
}
