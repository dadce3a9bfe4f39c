//! Summary statistics of a benchmark's samples: location (mean, median,
//! percentiles), spread (standard deviation, MAD), a 95 % confidence interval
//! of the mean (Student's t) and outlier counts by Tukey's fences.

use serde::{Deserialize, Serialize};

use super::student_t;

/// Statistics of one benchmark's samples, all times in nanoseconds per iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of samples.
    pub samples: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// 50th percentile: the median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Fastest sample.
    pub min: f64,
    /// Slowest sample.
    pub max: f64,
    /// Sample standard deviation (n − 1).
    pub std_dev: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// Lower bound of the 95 % confidence interval of the mean.
    pub ci_lower: f64,
    /// Upper bound of the 95 % confidence interval of the mean.
    pub ci_upper: f64,
    /// Outlier counts by Tukey's fences.
    pub outliers: Outliers,
}

/// Samples outside Tukey's fences: mild beyond 1.5 IQR from the quartiles,
/// severe beyond 3 IQR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    /// Below Q1 − 3 IQR.
    pub low_severe: usize,
    /// Between Q1 − 3 IQR and Q1 − 1.5 IQR.
    pub low_mild: usize,
    /// Between Q3 + 1.5 IQR and Q3 + 3 IQR.
    pub high_mild: usize,
    /// Above Q3 + 3 IQR.
    pub high_severe: usize,
}

impl Outliers {
    /// All outliers, mild and severe.
    pub fn total(&self) -> usize {
        self.low_severe + self.low_mild + self.high_mild + self.high_severe
    }
}

impl Stats {
    /// Summarises `samples`; `None` when there are none, or any is not
    /// finite, or their sum overflows.
    ///
    /// ```
    /// let stats = benchscope::Stats::from_samples(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
    /// assert_eq!(stats.p50, 3.0);
    /// assert_eq!(stats.outliers.high_severe, 1);
    /// ```
    pub fn from_samples(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let std_dev = if n > 1 {
            (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let median = percentile(&sorted, 50.0);
        if !(mean.is_finite() && std_dev.is_finite()) {
            return None;
        }
        let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let half_width = if n > 1 {
            t_critical_975(n - 1) * std_dev / (n as f64).sqrt()
        } else {
            0.0
        };
        Some(Stats {
            samples: n,
            mean,
            p50: median,
            p95: percentile(&sorted, 95.0),
            p99: percentile(&sorted, 99.0),
            min: sorted[0],
            max: sorted[n - 1],
            std_dev,
            mad: percentile(&deviations, 50.0),
            ci_lower: mean - half_width,
            ci_upper: mean + half_width,
            outliers: tukey(&sorted),
        })
    }
}

/// The `p`th percentile of sorted data, interpolating linearly between the two
/// nearest ranks (the "type 7" definition used by R and NumPy).
///
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = p / 100.0 * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

/// Two-sided 95 % critical value of Student's t with `df` degrees of freedom.
fn t_critical_975(df: usize) -> f64 {
    student_t::quantile_upper(0.975, df as f64)
}

fn tukey(sorted: &[f64]) -> Outliers {
    let q1 = percentile(sorted, 25.0);
    let q3 = percentile(sorted, 75.0);
    let iqr = q3 - q1;
    let mut out = Outliers::default();
    for &x in sorted {
        if x < q1 - 3.0 * iqr {
            out.low_severe += 1;
        } else if x < q1 - 1.5 * iqr {
            out.low_mild += 1;
        } else if x > q3 + 3.0 * iqr {
            out.high_severe += 1;
        } else if x > q3 + 1.5 * iqr {
            out.high_mild += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = Stats::from_samples(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean, 5.0);
        assert!((s.std_dev - 2.138_089_935).abs() < 1e-6);
        assert_eq!(s.p50, 4.5);
        assert_eq!(s.mad, 0.5);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        // t(7) at 97.5 % is 2.364624.
        let half = 2.364_624 * s.std_dev / 8f64.sqrt();
        assert!((s.ci_upper - (5.0 + half)).abs() < 1e-4);
        assert!((s.ci_lower - (5.0 - half)).abs() < 1e-4);
    }

    #[test]
    fn percentiles_interpolate() {
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
        let sorted: Vec<f64> = (1..=101).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 95.0), 96.0);
        assert_eq!(percentile(&sorted, 99.0), 100.0);
        assert_eq!(percentile(&[1.0, 2.0], 25.0), 1.25);
    }

    #[test]
    fn tukey_fences_classify_both_sides() {
        // Q1 = 10, Q3 = 12, IQR = 2: mild beyond 7/15, severe beyond 4/18.
        let mut data = vec![10.0, 10.0, 11.0, 11.0, 12.0, 12.0, 11.0, 11.0, 10.0, 12.0];
        data.extend([5.0, 1.0, 16.0, 30.0]);
        let s = Stats::from_samples(&data).unwrap();
        assert_eq!(s.outliers.low_mild, 1, "{:?}", s.outliers);
        assert_eq!(s.outliers.low_severe, 1, "{:?}", s.outliers);
        assert_eq!(s.outliers.high_mild, 1, "{:?}", s.outliers);
        assert_eq!(s.outliers.high_severe, 1, "{:?}", s.outliers);
    }

    #[test]
    fn empty_or_non_finite_input_has_no_stats() {
        assert!(Stats::from_samples(&[]).is_none());
        assert!(Stats::from_samples(&[1.0, f64::NAN]).is_none());
        assert!(
            Stats::from_samples(&[1e308, 1e308, 1e308]).is_none(),
            "the sum overflows"
        );
        let one = Stats::from_samples(&[3.0]).unwrap();
        assert_eq!((one.std_dev, one.ci_lower, one.ci_upper), (0.0, 3.0, 3.0));
    }
}
