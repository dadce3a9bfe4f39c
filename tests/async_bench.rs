//! Async benchmarks in benchscope's own API: `#[monitored_bench(runtime =
//! "tokio")]` on an `async fn`, and `Bencher::to_async`. The runtime is
//! built outside the timed region, futures that wait on tokio's drivers
//! work, and the function stays callable as application code.

mod common;

use std::time::Duration;

use benchscope::config::Config;
use benchscope::{Bencher, Silent, Suite, monitored_bench};
use common::{selected, tiny_measurement};

#[monitored_bench(group = "async", runtime = "tokio")]
async fn ready() -> u64 {
    std::hint::black_box(41) + 1
}

#[monitored_bench(group = "async", runtime = "tokio-multi-thread")]
async fn spawn_and_join() -> u64 {
    tokio::spawn(async { 7u64 }).await.unwrap()
}

#[monitored_bench(group = "async", runtime = "tokio", samples = 10)]
async fn sleep_300us() {
    tokio::time::sleep(Duration::from_micros(300)).await;
}

#[monitored_bench(group = "async")]
fn batched_on_a_runtime(b: &mut Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    b.to_async(&runtime)
        .iter_batched(|| vec![3u64; 256], |v| async move { v.iter().sum::<u64>() });
}

fn run(names: &[&str]) -> benchscope::SuiteRun {
    let mut config = Config::default();
    config.exporters.clear();
    config.history.enabled = false;
    let suite = Suite::new(config).with_measurement(tiny_measurement());
    suite
        .run(&selected(names), &mut Silent)
        .expect("suite runs")
}

#[test]
fn async_functions_are_benchmarks_awaited_on_their_runtime() {
    let run = run(&[
        "async/ready",
        "async/spawn_and_join",
        "async/sleep_300us",
        "async/batched_on_a_runtime",
    ]);
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    let mean = |name: &str| {
        run.benchmarks
            .iter()
            .find(|b| b.name == name)
            .unwrap_or_else(|| panic!("{name} measured"))
            .stats
            .mean
    };
    // Building a runtime (threads, drivers) takes tens of microseconds or
    // more; a ready future awaited inside one `block_on` takes nanoseconds.
    // Either would show if the runtime were built inside the timed region.
    assert!(mean("async/ready") < 2_000.0, "{} ns", mean("async/ready"));
    assert!(
        mean("async/spawn_and_join") < 200_000.0,
        "{} ns",
        mean("async/spawn_and_join")
    );
    // tokio's timer works (the runtime has its drivers), and is awaited.
    let sleep = mean("async/sleep_300us");
    assert!((300_000.0..5_000_000.0).contains(&sleep), "{sleep} ns");
    assert!(mean("async/batched_on_a_runtime") < 50_000.0);
}

#[test]
fn an_async_benchmark_stays_callable_as_application_code() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(ready()), 42);
    assert_eq!(runtime.block_on(spawn_and_join()), 7);
}
