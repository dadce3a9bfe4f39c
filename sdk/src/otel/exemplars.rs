//! Exemplars of `benchmark_execution_time_ms`: for each series and bucket,
//! the latest sample that fell in it, when it was taken, and the trace of
//! the benchmark that took it (with the `traces` feature and a span
//! exporter on).
//!
//! The OpenTelemetry SDK records no exemplars (its data points carry an
//! empty list), so the instruments offer them here and the Prometheus
//! exporter writes them beside the buckets when a scraper asks for
//! OpenMetrics. One slot per bucket keeps the store as small as the
//! histogram: its size does not grow with the samples.
// Only the Prometheus exporter reads them back.
#![cfg_attr(not(feature = "prometheus"), allow(dead_code))]

use std::collections::HashMap;
use std::sync::Mutex;

use opentelemetry::KeyValue;

/// The trace an exemplar points into: its ids in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceRef {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
}

/// One exemplar: a sample's value, its time, and its trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) value: f64,
    /// Milliseconds since the Unix epoch.
    pub(crate) at_ms: i64,
    pub(crate) trace: Option<TraceRef>,
}

/// The exemplars of one histogram's series, shared by the instruments that
/// offer them and the exporter that writes them.
#[derive(Debug, Default)]
pub(crate) struct Exemplars {
    /// Per series (its [`series_key`]), one slot per bucket: the buckets'
    /// upper bounds and then the overflow bucket.
    series: Mutex<HashMap<String, Vec<Option<Exemplar>>>>,
}

impl Exemplars {
    /// Keeps `values` (in the histogram's unit) as the exemplars of the
    /// buckets they fall in, the later one winning within a bucket.
    pub(crate) fn offer(
        &self,
        key: String,
        bounds: &[f64],
        values: impl IntoIterator<Item = f64>,
        at_ms: i64,
        trace: Option<&TraceRef>,
    ) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let slots = series.entry(key).or_default();
        slots.resize(bounds.len() + 1, None);
        for value in values {
            if value.is_nan() {
                continue;
            }
            // The histogram's own rule: a value equal to a bound falls in
            // that bound's bucket.
            let bucket = bounds.partition_point(|&b| b < value);
            slots[bucket] = Some(Exemplar {
                value,
                at_ms,
                trace: trace.cloned(),
            });
        }
    }

    /// The exemplars of a series, one per bucket, when any was offered.
    pub(crate) fn of(&self, key: &str) -> Option<Vec<Option<Exemplar>>> {
        self.series.lock().ok()?.get(key).cloned()
    }
}

/// A series' identity among the exemplars: its attributes, sorted by key.
pub(crate) fn series_key<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut pairs: Vec<(&str, String)> = attributes
        .map(|kv| (kv.key.as_str(), kv.value.as_str().into_owned()))
        .collect();
    pairs.sort();
    let mut key = String::new();
    for (k, v) in pairs {
        key.push_str(k);
        key.push('\u{1}');
        key.push_str(&v);
        key.push('\u{2}');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bucket_keeps_its_latest_sample() {
        let store = Exemplars::default();
        let key = series_key([KeyValue::new("benchmark_name", "a")].iter());
        let trace = TraceRef {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
        };
        store.offer(key.clone(), &[1.0, 10.0], [0.5, 1.0, 5.0, 50.0], 7, None);
        store.offer(key.clone(), &[1.0, 10.0], [0.7, f64::NAN], 9, Some(&trace));
        let slots = store.of(&key).unwrap();
        assert_eq!(slots.len(), 3);
        // 1.0 sits on a bound and belongs to its bucket; 0.7 came later.
        assert_eq!(slots[0].as_ref().unwrap().value, 0.7);
        assert_eq!(slots[0].as_ref().unwrap().trace, Some(trace));
        assert_eq!(slots[1].as_ref().unwrap().value, 5.0);
        assert_eq!(slots[2].as_ref().unwrap().value, 50.0);
        assert_eq!(slots[2].as_ref().unwrap().at_ms, 7);
        assert!(store.of("other").is_none());
    }

    #[test]
    fn the_key_does_not_depend_on_attribute_order() {
        let a = [KeyValue::new("x", "1"), KeyValue::new("b", "2")];
        let b = [KeyValue::new("b", "2"), KeyValue::new("x", "1")];
        assert_eq!(series_key(a.iter()), series_key(b.iter()));
        assert_ne!(
            series_key(a.iter()),
            series_key([KeyValue::new("x", "12")].iter())
        );
    }
}
