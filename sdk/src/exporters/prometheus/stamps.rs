//! Points in time: each series is written with the time its value last
//! changed, so that a store that honours timestamps (Prometheus, by
//! default) keeps one sample per change instead of one per scrape. A
//! benchmark's statistics change when it finishes; between two runs every
//! scrape would otherwise store all of them again.
//!
//! A figure that has not changed is still stamped afresh once every
//! [`REFRESH_MS`]: a PromQL instant query looks back 5 minutes for a
//! series' latest sample, so the dashboards' latest-result panels and the
//! alert rules keep seeing a figure for as long as the process serves it,
//! and a store never receives a timestamp older than its head block
//! accepts. A new series is also stamped again at the next render: a
//! counter that appears with its first run's count then has the two
//! samples `rate()` and `increase()` need at once, as it had when every
//! scrape was stored.

use std::collections::HashMap;

/// How old a stamp may grow before an unchanged figure is stamped again:
/// 2 minutes, well inside the 5-minute lookback of instant queries (a
/// missed scrape or two does not let a figure drop out).
pub(crate) const REFRESH_MS: i64 = 120_000;

/// The stamp of each series seen in the latest renders.
#[derive(Debug)]
pub(crate) struct Stamps {
    series: HashMap<Box<str>, Stamp>,
    /// Counts the renders, to forget the series a render no longer has.
    render: u64,
    refresh_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Stamp {
    /// The value's identity (its bits, or a histogram's count and sum).
    value: u64,
    at_ms: i64,
    seen: u64,
    /// False until the series has been stamped a second time.
    settled: bool,
}

impl Default for Stamps {
    fn default() -> Self {
        Stamps::with_refresh(REFRESH_MS)
    }
}

impl Stamps {
    /// Stamps that refresh an unchanged figure every `refresh_ms`.
    pub(crate) fn with_refresh(refresh_ms: i64) -> Stamps {
        Stamps {
            series: HashMap::new(),
            render: 0,
            refresh_ms: refresh_ms.max(1),
        }
    }

    /// Starts a render.
    pub(crate) fn begin(&mut self) {
        self.render += 1;
    }

    /// The timestamp to write for the series `key` whose value is now
    /// `value`, at `now_ms`: its stamp while the value is unchanged and the
    /// stamp is younger than the refresh, else `now_ms`. A stamp never goes
    /// back, even if the clock does: the store would refuse it.
    pub(crate) fn at(&mut self, key: &str, value: u64, now_ms: i64) -> i64 {
        let render = self.render;
        match self.series.get_mut(key) {
            Some(stamp) => {
                stamp.seen = render;
                let stale = now_ms.saturating_sub(stamp.at_ms) >= self.refresh_ms
                    || (!stamp.settled && now_ms > stamp.at_ms);
                if stamp.value != value || stale {
                    stamp.settled = true;
                    // A new value needs a new time: the same time with
                    // another value is a conflict the store rejects.
                    let floor = if stamp.value != value {
                        stamp.at_ms + 1
                    } else {
                        stamp.at_ms
                    };
                    stamp.at_ms = now_ms.max(floor);
                    stamp.value = value;
                }
                stamp.at_ms
            }
            None => {
                self.series.insert(
                    key.into(),
                    Stamp {
                        value,
                        at_ms: now_ms,
                        seen: render,
                        settled: false,
                    },
                );
                now_ms
            }
        }
    }

    /// Ends a render: forgets the series it did not write, so the table
    /// holds what the exposition holds and no more.
    pub(crate) fn end(&mut self) {
        let render = self.render;
        self.series.retain(|_, s| s.seen == render);
    }

    /// Series remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_value_keeps_its_stamp_until_the_refresh() {
        let mut stamps = Stamps::with_refresh(1_000);
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 100), 100);
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 100), 100, "the same millisecond");
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 150), 150, "a new series: twice");
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 600), 150);
        stamps.begin();
        assert_eq!(stamps.at("a", 2, 700), 700, "a change is stamped now");
        stamps.begin();
        assert_eq!(stamps.at("a", 2, 1_699), 700, "settled: once per change");
        stamps.begin();
        assert_eq!(stamps.at("a", 2, 1_700), 1_700, "refreshed");
    }

    #[test]
    fn stamps_never_go_back_and_a_change_never_reuses_a_time() {
        let mut stamps = Stamps::with_refresh(1_000);
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 500), 500);
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 400), 500, "the clock went back");
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 450), 500);
        stamps.begin();
        assert_eq!(stamps.at("a", 2, 450), 501, "changed, clock behind");
    }

    #[test]
    fn series_gone_from_a_render_are_forgotten() {
        let mut stamps = Stamps::default();
        stamps.begin();
        stamps.at("a", 1, 0);
        stamps.at("b", 1, 0);
        stamps.end();
        assert_eq!(stamps.len(), 2);
        stamps.begin();
        stamps.at("b", 1, 10);
        stamps.end();
        assert_eq!(stamps.len(), 1);
        stamps.begin();
        assert_eq!(stamps.at("a", 1, 20), 20, "a is new again");
    }
}
