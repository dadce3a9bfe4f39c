//! Application mode: `#[monitored_bench]` on an ordinary function (one with
//! arguments, a receiver, generics, or `async`) records the wall time of each
//! call into `benchmark_execution_time_ms{benchmark_name, environment}`, the
//! histogram benchmarks use, as autometrics does for its functions.
//!
//! ```
//! #[benchscope::monitored_bench]
//! fn checksum(data: &[u8]) -> u32 {
//!     data.iter().map(|&b| u32::from(b)).sum()
//! }
//!
//! #[benchscope::monitored_bench(name = "fetch_user")]
//! async fn fetch(id: u32) -> u32 {
//!     id
//! }
//!
//! assert_eq!(checksum(b"ab"), 195);
//! ```
//!
//! In a service, call [`crate::init`] once at start-up: it reads
//! `benchscope.toml` and the environment like a suite does and installs the
//! pipeline these calls record into.
//!
//! Each function gets one static [`CallSite`]. Its instrument and attribute
//! set are made on the first call, from the global meter provider (install
//! yours, or let `init` or a suite install its own, before that call), and the
//! histogram is bound to that attribute set once; every later call does two
//! clock reads and one record into the bound series (no attribute lookup, no
//! allocation). An `async fn` is timed from its first poll to its completion.

use std::sync::OnceLock;
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::BoundHistogram;

use super::instruments::{SCOPE, execution_time_histogram};

/// The environment label and buckets application mode uses; set by the
/// first pipeline that starts ([`crate::init`] or a suite), else the defaults.
struct AppSettings {
    environment: String,
    buckets_ms: Vec<f64>,
}

static SETTINGS: OnceLock<AppSettings> = OnceLock::new();

/// Sets the `environment` label and the bucket boundaries application-mode
/// functions use. The first call wins; call it before the first monitored
/// call (a suite calls it when it starts).
pub(crate) fn configure(environment: &str, buckets_ms: &[f64]) {
    let _ = SETTINGS.set(AppSettings {
        environment: environment.to_owned(),
        buckets_ms: buckets_ms.to_vec(),
    });
}

fn settings() -> &'static AppSettings {
    SETTINGS.get_or_init(|| AppSettings {
        environment: "dev".into(),
        buckets_ms: crate::config::default_buckets_ms(),
    })
}

/// The per-function state behind application mode; emitted by the macro.
#[derive(Debug)]
pub struct CallSite {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    recorder: OnceLock<Recorder>,
}

#[derive(Debug)]
struct Recorder {
    histogram: BoundHistogram<f64>,
}

impl CallSite {
    /// A call site for the function `name` with extra `labels`.
    pub const fn new(name: &'static str, labels: &'static [(&'static str, &'static str)]) -> Self {
        CallSite {
            name,
            labels,
            recorder: OnceLock::new(),
        }
    }

    /// Starts timing a call; the duration is recorded when the guard drops.
    #[inline]
    pub fn enter(&'static self) -> CallGuard {
        CallGuard {
            site: self,
            start: Instant::now(),
        }
    }

    fn recorder(&self) -> &Recorder {
        self.recorder.get_or_init(|| {
            let settings = settings();
            let meter = opentelemetry::global::meter(SCOPE);
            let mut attributes = vec![
                KeyValue::new("benchmark_name", self.name),
                KeyValue::new("environment", settings.environment.clone()),
            ];
            attributes.extend(self.labels.iter().map(|&(k, v)| KeyValue::new(k, v)));
            Recorder {
                histogram: execution_time_histogram(&meter, &settings.buckets_ms).bind(&attributes),
            }
        })
    }
}

/// Times one call of a monitored function; records on drop, so early
/// returns, `?` and panics are timed too.
#[derive(Debug)]
#[must_use = "the call is timed until the guard drops"]
pub struct CallGuard {
    site: &'static CallSite,
    start: Instant,
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        self.site.recorder().histogram.record(ms);
    }
}
