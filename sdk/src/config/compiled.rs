//! What this build has compiled in of the exporters a configuration can
//! name: the `benchscope` command reads a project's configuration, written
//! for its suite, with whatever features the command was built with.

use super::schema::{Config, ExporterKind, OtlpProtocol, TraceExporterKind};

impl Config {
    /// Leaves out the exporters and span exporters this build lacks; the
    /// names of what was left out.
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn leave_out_uncompiled(&mut self) -> Vec<&'static str> {
        let otlp_compiled = match self.otlp.protocol {
            OtlpProtocol::Grpc => cfg!(feature = "otlp-grpc"),
            OtlpProtocol::HttpProtobuf => cfg!(feature = "otlp-http"),
        };
        let mut left_out = Vec::new();
        self.exporters.retain(|kind| {
            let (compiled, what) = match kind {
                ExporterKind::Prometheus => {
                    (cfg!(feature = "prometheus"), "the Prometheus exporter")
                }
                ExporterKind::Live => (cfg!(feature = "live"), "the live view"),
                ExporterKind::Stdout => (cfg!(feature = "stdout"), "the stdout exporter"),
                ExporterKind::Otlp => (otlp_compiled, "the OTLP exporter"),
            };
            if !compiled {
                left_out.push(what);
            }
            compiled
        });
        let traces_compiled = cfg!(feature = "traces");
        self.traces.retain(|kind| {
            let (compiled, what) = match kind {
                TraceExporterKind::Otlp => {
                    (traces_compiled && otlp_compiled, "the OTLP span exporter")
                }
                TraceExporterKind::Stdout => (
                    traces_compiled && cfg!(feature = "stdout"),
                    "the stdout span exporter",
                ),
            };
            if !compiled {
                left_out.push(what);
            }
            compiled
        });
        left_out
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::Loaded;
    use super::*;
    use crate::error::Error;

    #[test]
    fn the_command_leaves_out_what_this_build_lacks_and_nothing_else() {
        let mut config = Config {
            exporters: vec![
                ExporterKind::Prometheus,
                ExporterKind::Otlp,
                ExporterKind::Stdout,
                ExporterKind::Live,
            ],
            traces: vec![TraceExporterKind::Otlp, TraceExporterKind::Stdout],
            ..Config::default()
        };
        let left_out = config.leave_out_uncompiled();
        let otlp = cfg!(feature = "otlp-http");
        let expected: Vec<&str> = [
            (cfg!(feature = "prometheus"), "the Prometheus exporter"),
            (otlp, "the OTLP exporter"),
            (cfg!(feature = "stdout"), "the stdout exporter"),
            (cfg!(feature = "live"), "the live view"),
            (cfg!(feature = "traces") && otlp, "the OTLP span exporter"),
            (
                cfg!(feature = "traces") && cfg!(feature = "stdout"),
                "the stdout span exporter",
            ),
        ]
        .into_iter()
        .filter(|(compiled, _)| !compiled)
        .map(|(_, what)| what)
        .collect();
        assert_eq!(left_out, expected);
        // What is left passes the check that refuses a missing feature.
        if let Err(e) = Loaded::check(&config) {
            assert!(!matches!(e, Error::FeatureMissing { .. }), "{e}");
        }
    }
}
