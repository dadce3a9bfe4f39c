//! What runs an async benchmark's futures: the [`AsyncExecutor`] trait, and
//! tokio's runtimes as executors (`tokio` feature). The bencher's async form
//! and the async timing loops both take one.

/// Runs futures to completion for [`Bencher::to_async`](super::bencher::Bencher::to_async): a runtime built
/// by the caller. With the `tokio` feature, tokio's `Runtime` and `Handle`
/// (and references to them) are executors; implement it for any other.
pub trait AsyncExecutor {
    /// Runs `future` on this executor and waits for its output.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T;
}

impl<E: AsyncExecutor + ?Sized> AsyncExecutor for &E {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        (**self).block_on(future)
    }
}

#[cfg(feature = "tokio")]
impl AsyncExecutor for tokio::runtime::Runtime {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        tokio::runtime::Runtime::block_on(self, future)
    }
}

#[cfg(feature = "tokio")]
impl AsyncExecutor for tokio::runtime::Handle {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        tokio::runtime::Handle::block_on(self, future)
    }
}
