//! The root package: it holds the workspace's runnable examples
//! (`examples/quickstart.rs`, `examples/scaling.rs`) and nothing else; the
//! tests and benchmarks are the packages in `tests/` and `benches/`.
