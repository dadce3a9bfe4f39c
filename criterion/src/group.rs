//! Benchmark groups and ids: `group/function/parameter`, the id criterion
//! gives a benchmark and benchscope's `benchmark_name`.

use std::fmt;
use std::time::Duration;

use crate::measurement::Measurement;
use crate::{Bencher, Criterion, PlotConfiguration, SamplingMode, Settings, Throughput};

/// A benchmark's id within its group: a function name, a parameter, or
/// both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BenchmarkId {
    function: Option<String>,
    parameter: Option<String>,
}

impl BenchmarkId {
    /// The id `function/parameter`.
    pub fn new<S: Into<String>, P: fmt::Display>(function_name: S, parameter: P) -> BenchmarkId {
        BenchmarkId {
            function: Some(function_name.into()),
            parameter: Some(parameter.to_string()),
        }
    }

    /// The id `parameter`, for a group that benchmarks one function over
    /// several inputs.
    pub fn from_parameter<P: fmt::Display>(parameter: P) -> BenchmarkId {
        BenchmarkId {
            function: None,
            parameter: Some(parameter.to_string()),
        }
    }

    /// No function and no parameter: the group's own benchmark
    /// (`c.bench_function("name", ..)` is the group `name`).
    pub(crate) fn none() -> BenchmarkId {
        BenchmarkId {
            function: None,
            parameter: None,
        }
    }

    /// `c.bench_with_input(BenchmarkId::new(f, p), ..)` is the benchmark
    /// `p` of the group `f`, as in criterion.
    pub(crate) fn split_for_top_level(self) -> (String, BenchmarkId) {
        match self.function {
            Some(function) => (
                function,
                BenchmarkId {
                    function: None,
                    parameter: self.parameter,
                },
            ),
            None => (self.parameter.unwrap_or_default(), BenchmarkId::none()),
        }
    }
}

impl fmt::Display for BenchmarkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.function, &self.parameter) {
            (Some(function), Some(parameter)) => write!(f, "{function}/{parameter}"),
            (Some(one), None) | (None, Some(one)) => f.write_str(one),
            (None, None) => Ok(()),
        }
    }
}

/// What a group's `bench_function` takes as an id: a [`BenchmarkId`] or a
/// function name.
pub trait IntoBenchmarkId: private::Sealed {
    /// The id.
    fn into_benchmark_id(self) -> BenchmarkId;
}

impl IntoBenchmarkId for BenchmarkId {
    fn into_benchmark_id(self) -> BenchmarkId {
        self
    }
}

impl<S: Into<String>> IntoBenchmarkId for S {
    fn into_benchmark_id(self) -> BenchmarkId {
        BenchmarkId {
            function: Some(self.into()),
            parameter: None,
        }
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::BenchmarkId {}
    impl<S: Into<String>> Sealed for S {}
}

/// Benchmarks sharing a name prefix and settings; criterion's
/// `BenchmarkGroup`. Each benchmark is measured as it is defined.
#[derive(Debug)]
pub struct BenchmarkGroup<'a, M: Measurement> {
    criterion: &'a mut Criterion<M>,
    name: String,
    settings: Settings,
}

impl<'a, M: Measurement> BenchmarkGroup<'a, M> {
    pub(crate) fn new(
        criterion: &'a mut Criterion<M>,
        name: String,
        settings: Settings,
    ) -> BenchmarkGroup<'a, M> {
        BenchmarkGroup {
            criterion,
            name,
            settings,
        }
    }

    /// Samples per benchmark of this group.
    pub fn sample_size(&mut self, n: usize) -> &mut Self {
        self.settings.samples = Some(n);
        self
    }

    /// Warm-up time per benchmark of this group.
    pub fn warm_up_time(&mut self, d: Duration) -> &mut Self {
        self.settings.warm_up = Some(d);
        self
    }

    /// Measurement time target per benchmark of this group.
    pub fn measurement_time(&mut self, d: Duration) -> &mut Self {
        self.settings.measurement = Some(d);
        self
    }

    /// Accepted, no effect (see [`Criterion::nresamples`]).
    pub fn nresamples(&mut self, _n: usize) -> &mut Self {
        self
    }

    /// Smallest relative change that counts when comparing with `--baseline`.
    pub fn noise_threshold(&mut self, threshold: f64) -> &mut Self {
        self.settings.noise_threshold = Some(threshold);
        self
    }

    /// Accepted, no effect: the confidence interval is 95 %.
    pub fn confidence_level(&mut self, _level: f64) -> &mut Self {
        self
    }

    /// Significance level of the comparison with `--baseline`.
    pub fn significance_level(&mut self, level: f64) -> &mut Self {
        self.settings.significance = Some(level);
        self
    }

    /// Accepted, no effect.
    pub fn plot_config(&mut self, _config: PlotConfiguration) -> &mut Self {
        self
    }

    /// Accepted, no effect: batches are sized from the warm-up.
    pub fn sampling_mode(&mut self, _mode: SamplingMode) -> &mut Self {
        self
    }

    /// Work per iteration of this group's benchmarks, for throughput.
    pub fn throughput(&mut self, throughput: Throughput) -> &mut Self {
        self.settings.throughput = Some(throughput);
        self
    }

    /// Measures the benchmark `group/id` that `f` defines.
    pub fn bench_function<ID: IntoBenchmarkId, F>(&mut self, id: ID, mut f: F) -> &mut Self
    where
        F: FnMut(&mut Bencher<'_, M>),
    {
        self.run(id.into_benchmark_id(), &mut |b| f(&mut Bencher::new(b)));
        self
    }

    /// Measures the benchmark `group/id` that `f` defines on `input`.
    pub fn bench_with_input<ID: IntoBenchmarkId, F, I>(
        &mut self,
        id: ID,
        input: &I,
        mut f: F,
    ) -> &mut Self
    where
        F: FnMut(&mut Bencher<'_, M>, &I),
        I: ?Sized,
    {
        self.run(id.into_benchmark_id(), &mut |b| {
            f(&mut Bencher::new(b), input)
        });
        self
    }

    /// Ends the group (its benchmarks have already run).
    pub fn finish(self) {}

    fn run(&mut self, id: BenchmarkId, body: &mut dyn FnMut(&mut benchscope::Bencher<'_>)) {
        let full = match id.to_string() {
            rest if rest.is_empty() => self.name.clone(),
            rest => format!("{}/{rest}", self.name),
        };
        if !self.criterion.keeps(&full) {
            return;
        }
        let mut labels = vec![("benchmark_group".to_owned(), self.name.clone())];
        if let Some(function) = id.function {
            labels.push(("benchmark_function".to_owned(), function));
        }
        if let Some(parameter) = id.parameter {
            labels.push(("param".to_owned(), parameter));
        }
        crate::run(full, labels, &self.settings, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_criterion_writes_them() {
        assert_eq!(BenchmarkId::new("parse", 64).to_string(), "parse/64");
        assert_eq!(BenchmarkId::from_parameter("1KiB").to_string(), "1KiB");
        assert_eq!("itoa".into_benchmark_id().to_string(), "itoa");
        let (group, rest) = BenchmarkId::new("fib", 20).split_for_top_level();
        assert_eq!((group.as_str(), rest.to_string().as_str()), ("fib", "20"));
    }
}
