//! Exporters: where recorded metrics and spans go, chosen by configuration
//! (`Config::exporters` and `Config::traces`), each behind the Cargo feature
//! of the same name. Each exporter owns its own threads; none blocks the
//! runner.
//!
//! - [`prometheus`]: pull, `/metrics` served on loopback;
//! - [`otlp`]: push by OTLP over gRPC or HTTP/protobuf;
//! - [`stdout`]: push, printed on standard output;
//! - [`live`]: push, streamed over WebSocket to a live web page;
//!
//! Push exporters are wrapped by [`health`], which turns their failures into
//! one warning per exporter and keeps counts for the end of the run. The
//! pull and live exporters share the small HTTP server of [`http`].

pub(crate) mod health;
#[cfg(any(feature = "prometheus", feature = "live"))]
pub(crate) mod http;
#[cfg(feature = "live")]
pub(crate) mod live;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
#[cfg(feature = "stdout")]
pub(crate) mod stdout;
