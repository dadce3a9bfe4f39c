//! A criterion bench target as criterion's users write it, built against
//! benchscope-criterion (renamed `criterion` in Cargo.toml): every form of
//! criterion's API, run by tests/criterion_compat.rs as a real process.
//! `CRITERION_API_MISUSE` adds the misuses whose handling is tested.

use std::hint;
use std::time::{Duration, Instant};

use criterion::async_executor::FuturesExecutor;
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, black_box, criterion_group,
    criterion_main,
};

fn fibonacci(n: u64) -> u64 {
    (1..n)
        .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
        .1
}

fn top_level(c: &mut Criterion) {
    c.bench_function("fib 20", |b| b.iter(|| fibonacci(black_box(20))));
    c.bench_with_input(BenchmarkId::new("fib_input", 30), &30u64, |b, &n| {
        b.iter(|| fibonacci(hint::black_box(n)))
    });
}

fn groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("sum");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(200))
        .sampling_mode(SamplingMode::Flat)
        .noise_threshold(0.03)
        .significance_level(0.05)
        .confidence_level(0.99);
    for size in [64usize, 1024] {
        let data: Vec<u64> = (0..size as u64).collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| data.iter().sum::<u64>())
        });
        group.bench_with_input(BenchmarkId::new("fold", size), &data, |b, data| {
            b.iter(|| data.iter().fold(0u64, |a, x| a.wrapping_add(*x)))
        });
    }
    group.finish();

    c.benchmark_group("bytes")
        .throughput(Throughput::BytesDecimal(4096))
        .bench_function("reverse", |b| {
            b.iter_batched_ref(|| vec![7u8; 4096], |v| v.reverse(), BatchSize::SmallInput)
        });
}

fn bencher_forms(c: &mut Criterion) {
    let mut group = c.benchmark_group("forms");
    group.sample_size(10);
    group.bench_function("iter_batched", |b| {
        b.iter_batched(
            || (0..256u32).rev().collect::<Vec<_>>(),
            |mut v| {
                v.sort_unstable();
                v
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("iter_with_setup", |b| {
        b.iter_with_setup(|| String::from("benchscope"), |s| s.to_uppercase())
    });
    group.bench_function("iter_with_large_drop", |b| {
        b.iter_with_large_drop(|| vec![0u8; 1 << 12])
    });
    group.bench_function("iter_custom", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                black_box(fibonacci(black_box(i % 16)));
            }
            start.elapsed()
        })
    });
    group.bench_function("iter_batched_per_iteration", |b| {
        b.iter_batched(|| 3u64, fibonacci, BatchSize::PerIteration)
    });
    group.finish();
}

fn async_forms(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("async");
    group.sample_size(10);
    group.bench_function("tokio_yield", |b| {
        b.to_async(&runtime).iter(|| async {
            tokio::task::yield_now().await;
        })
    });
    group.bench_function("tokio_batched", |b| {
        b.to_async(&runtime).iter_batched(
            || vec![1u64; 64],
            |v| async move { v.iter().sum::<u64>() },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("futures_ready", |b| {
        b.to_async(FuturesExecutor)
            .iter(|| async { fibonacci(black_box(10)) })
    });
    group.finish();
}

/// Misuses that must fail their benchmark with a message, never pass
/// silently or stop the run.
fn misuses(c: &mut Criterion) {
    if std::env::var_os("CRITERION_API_MISUSE").is_none() {
        return;
    }
    let mut group = c.benchmark_group("misuse");
    group.sample_size(1);
    group.bench_function("one_sample", |b| b.iter(|| 1));
    group.sample_size(10);
    group.bench_function("never_iterates", |_b| {});
    group.bench_function("nested", |b| {
        // Defining a benchmark inside another's closure.
        let mut inner = Criterion::default();
        inner.bench_function("inner", |b| b.iter(|| 1));
        b.iter(|| 1)
    });
    group.bench_function("twice", |b| b.iter(|| 1));
    group.bench_function("twice", |b| b.iter(|| 2));
    group.finish();
}

criterion_group!(benches, top_level, groups, bencher_forms, async_forms);
criterion_group! {
    name = configured;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(20)).without_plots();
    targets = misuses
}
criterion_main!(benches, configured);
