//! Host package for workspace-level examples, tests and benches.
