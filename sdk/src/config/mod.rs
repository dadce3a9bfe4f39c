//! Configuration: one struct with its defaults in one place
//! ([`Config::default`]), loaded from a `benchscope.toml` file, the
//! environment (the standard `OTEL_*` variables and `BENCHSCOPE_*`) and the
//! command line, each winning over the one before ([`Config::load`],
//! [`Loaded`]), and checked once when merged. Every key, its default and its
//! variable are listed in the README.

mod compiled;
mod context;
mod load;
mod parse;
mod render;
mod schema;
mod source;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod validate;

pub use crate::analysis::regression::Policy;
pub use load::Loaded;
pub(crate) use schema::default_buckets_ms;
pub use schema::{
    Compression, Config, ExporterKind, FILE_NAME, HistoryConfig, LiveConfig, MeasureMode,
    MeasurementConfig, OtlpConfig, OtlpProtocol, PrometheusConfig, Signal, Temporality, TlsFiles,
    TraceExporterKind,
};
pub use source::Source;

#[cfg(test)]
mod tests {
    /// An environment of `pairs`, as `Loaded::load` takes it.
    pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Writes `text` as a `benchscope.toml` in a folder of its own (tests
    /// run in parallel) and returns its path.
    pub(super) fn config_file(text: &str) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("benchscope-config-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let path = dir.join(super::FILE_NAME);
        std::fs::write(&path, text).expect("the file written");
        path
    }
}
