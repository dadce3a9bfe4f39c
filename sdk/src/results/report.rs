//! Reporting: the [`Reporter`] trait through which a running suite tells
//! the terminal, the live view and any caller how it goes, and the fan-out
//! that lets several of them listen at once. It sits below both the runner
//! (which calls it) and the exporters (which implement it).

use std::net::SocketAddr;

use super::{BenchResult, SuiteRun};
use crate::error::Error;
use crate::measure::sampling::Progress;

/// Hears how a suite run goes; the CLI's terminal view and the live page
/// are two. Every method is called between samples, never inside a timed
/// region, and has an empty default.
///
/// ```
/// use benchscope::{BenchResult, Reporter};
///
/// /// Counts finished benchmarks.
/// #[derive(Default)]
/// struct Count(usize);
///
/// impl Reporter for Count {
///     fn bench_finished(&mut self, _result: &BenchResult) {
///         self.0 += 1;
///     }
/// }
/// ```
pub trait Reporter {
    /// The suite is about to run these benchmarks; `endpoints` says where
    /// its figures can be watched.
    fn suite_started(&mut self, _names: &[String], _endpoints: &Endpoints) {}
    /// A benchmark is starting.
    fn bench_started(&mut self, _name: &str) {}
    /// A benchmark progressed.
    fn progress(&mut self, _name: &str, _progress: Progress) {}
    /// A benchmark finished.
    fn bench_finished(&mut self, _result: &BenchResult) {}
    /// A benchmark failed; the suite goes on.
    fn bench_failed(&mut self, _name: &str, _error: &Error) {}
    /// An exporter failed for the first time; the suite goes on.
    fn warning(&mut self, _message: &str) {}
    /// Every benchmark has run and the suite's figures are recorded; the
    /// exporters have not been flushed yet.
    fn suite_finished(&mut self, _run: &SuiteRun) {}
}

/// Where a running suite can be watched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The Prometheus `/metrics` address.
    pub metrics: Option<SocketAddr>,
    /// The live page's address.
    pub live: Option<SocketAddr>,
}

/// A reporter that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {}

/// A reporter borrowed is a reporter.
impl<R: Reporter + ?Sized> Reporter for &mut R {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        (**self).suite_started(names, endpoints);
    }
    fn bench_started(&mut self, name: &str) {
        (**self).bench_started(name);
    }
    fn progress(&mut self, name: &str, progress: Progress) {
        (**self).progress(name, progress);
    }
    fn bench_finished(&mut self, result: &BenchResult) {
        (**self).bench_finished(result);
    }
    fn bench_failed(&mut self, name: &str, error: &Error) {
        (**self).bench_failed(name, error);
    }
    fn warning(&mut self, message: &str) {
        (**self).warning(message);
    }
    fn suite_finished(&mut self, run: &SuiteRun) {
        (**self).suite_finished(run);
    }
}

/// Sends every call to each reporter in turn.
pub(crate) struct Fanout<'a> {
    reporters: Vec<Box<dyn Reporter + 'a>>,
}

impl<'a> Fanout<'a> {
    pub(crate) fn new(reporters: Vec<Box<dyn Reporter + 'a>>) -> Self {
        Fanout { reporters }
    }

    fn each(&mut self, mut call: impl FnMut(&mut dyn Reporter)) {
        for r in &mut self.reporters {
            call(r.as_mut());
        }
    }
}

impl Reporter for Fanout<'_> {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        self.each(|r| r.suite_started(names, endpoints));
    }
    fn bench_started(&mut self, name: &str) {
        self.each(|r| r.bench_started(name));
    }
    fn progress(&mut self, name: &str, progress: Progress) {
        self.each(|r| r.progress(name, progress));
    }
    fn bench_finished(&mut self, result: &BenchResult) {
        self.each(|r| r.bench_finished(result));
    }
    fn bench_failed(&mut self, name: &str, error: &Error) {
        self.each(|r| r.bench_failed(name, error));
    }
    fn warning(&mut self, message: &str) {
        self.each(|r| r.warning(message));
    }
    fn suite_finished(&mut self, run: &SuiteRun) {
        self.each(|r| r.suite_finished(run));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Names(Vec<String>);

    impl Reporter for Names {
        fn bench_started(&mut self, name: &str) {
            self.0.push(name.to_owned());
        }
    }

    #[test]
    fn a_fanout_tells_every_reporter() {
        let (mut a, mut b) = (Names::default(), Names::default());
        let mut fanout = Fanout::new(vec![Box::new(&mut a), Box::new(&mut b)]);
        fanout.bench_started("x");
        fanout.bench_started("y");
        drop(fanout);
        assert_eq!(a.0, ["x", "y"]);
        assert_eq!(b.0, ["x", "y"]);
    }
}
