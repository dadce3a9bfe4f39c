//! The integration and end-to-end tests of benchscope live beside this file,
//! one per capability (`prometheus_endpoint.rs`, `otlp_roundtrip.rs`, ...),
//! with their shared helpers in `common/`. This library is empty: a package
//! needs a target of its own besides its tests.
