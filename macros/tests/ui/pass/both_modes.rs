//! Every supported shape compiles: benchmarks with and without a bencher,
//! and application mode on functions, methods, generics and async fns.
use benchscope::{monitored_bench, Bencher};

#[monitored_bench(name = "plain", group = "g", samples = 20, warmup = "10ms", min_time = "50ms", max_time = "1s", throughput = elements(4), labels(algo = "std", size = "small"))]
fn plain() -> u32 {
    if std::hint::black_box(false) {
        return 0;
    }
    4
}

#[monitored_bench]
fn with_bencher(b: &mut Bencher) {
    let data = vec![1u8; 64];
    b.iter(|| data.iter().copied().map(u32::from).sum::<u32>());
}

#[monitored_bench]
fn checksum(data: &[u8]) -> Result<u32, String> {
    let first = data.first().ok_or("empty")?;
    Ok(u32::from(*first))
}

#[monitored_bench]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    items.iter().copied().reduce(|a, b| if b > a { b } else { a })
}

#[monitored_bench(name = "fetch_user", labels(backend = "memory"))]
async fn fetch(id: u32) -> u32 {
    id + 1
}

struct Cache(Vec<u32>);

impl Cache {
    #[monitored_bench]
    fn get(&self, i: usize) -> Option<u32> {
        self.0.get(i).copied()
    }
}

fn main() {
    assert_eq!(plain(), 4);
    assert_eq!(checksum(&[7]), Ok(7));
    assert!(checksum(&[]).is_err());
    assert_eq!(largest(&[1, 5, 3]), Some(5));
    assert_eq!(Cache(vec![9]).get(0), Some(9));
    let _future = fetch(1);
    let names: Vec<String> = benchscope::benchmarks()
        .unwrap()
        .iter()
        .map(|e| e.full_name())
        .collect();
    assert_eq!(names, ["g/plain", "with_bencher"]);
    // The options reach the runtime's options struct field by field.
    let options = benchscope::__private::BENCHES
        .iter()
        .find(|e| e.name() == "plain")
        .map(|e| e.__options())
        .unwrap();
    assert_eq!(options.samples, Some(20));
    assert_eq!(options.throughput, Some(benchscope::Throughput::Elements(4)));
    assert_eq!(options.labels, &[("algo", "std"), ("size", "small")]);
    assert_eq!(options.min_time, Some(std::time::Duration::from_millis(50)));
}
