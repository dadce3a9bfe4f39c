//! Application mode: `#[monitored_bench]` on ordinary and async functions
//! records each call into `benchmark_execution_time_ms`, and after the first
//! call a monitored call allocates nothing.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use benchscope::Telemetry;
use benchscope::config::Config;
use benchscope::monitored_bench;
use common::{find, parse, scrape};

/// Counts the allocations made by the current thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[monitored_bench(labels(layer = "domain"))]
fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}

#[monitored_bench(name = "load_user")]
async fn load(id: u32) -> u32 {
    Yield(false).await;
    id * 2
}

/// Returns Pending once, so the async function really suspends.
struct Yield(bool);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn calls_are_recorded_without_allocating() {
    let mut config = Config::default();
    config.prometheus.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.collection_interval = Duration::from_secs(60);
    let telemetry = Telemetry::start(&config).unwrap();
    let data = [1u8, 2, 3];

    // The first calls create the instruments and attribute sets.
    assert_eq!(checksum(&data), 6);
    assert_eq!(block_on(load(1)), 2);

    let before = allocations();
    let mut sum = 0;
    for i in 0..1000 {
        sum += checksum(&data);
        sum += block_on(load(i));
    }
    let allocated = allocations() - before;
    assert_eq!(sum, 6 * 1000 + 999 * 1000);
    assert_eq!(
        allocated, 0,
        "1000 monitored calls of each function allocated {allocated} times"
    );

    let series = parse(&scrape(telemetry.prometheus_addr().unwrap()));
    let count = |name| {
        find(
            &series,
            "benchmark_execution_time_ms_count",
            &[("benchmark_name", name), ("environment", "dev")],
        )
    };
    let checksum_count = count("checksum");
    assert_eq!(checksum_count.len(), 1);
    assert_eq!(checksum_count[0].value, 1001.0);
    assert_eq!(checksum_count[0].label("layer"), Some("domain"));
    assert_eq!(count("load_user")[0].value, 1001.0);
    telemetry.shutdown().unwrap();
}
