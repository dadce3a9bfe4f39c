//! Student's t distribution: the two-sided tail probability (Welch's test)
//! and the quantile (confidence intervals), for real degrees of freedom.
//!
//! Written here rather than taken from `statrs` because these two functions
//! are all benchscope needs of it, and `statrs` brings four crates into every
//! user's build (docs/PERFORMANCE.md, "Build weight"). The tests check every
//! value against `statrs` itself.

use std::f64::consts::PI;

/// ln Γ(x) for x > 0: Lanczos' approximation (g = 7, nine terms), accurate
/// to about 1e-15 relative.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return PI.ln() - (PI * x).sin().abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let sum = C
        .iter()
        .enumerate()
        .skip(1)
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64));
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The continued fraction of the incomplete beta function, by the modified
/// Lentz method; converges fast for x < (a + 1) / (a + b + 2).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=500 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// P(|T| ≥ |t|) for T with `df` degrees of freedom: the two-sided p-value
/// of a t statistic. Computed from the tail directly, so tiny p-values keep
/// their precision.
pub(crate) fn two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return if t.is_nan() { f64::NAN } else { 0.0 };
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `p` quantile of the t distribution with `df` degrees of freedom, for
/// p in (0.5, 1): the t such that P(T ≤ t) = p. Bisection on the tail, which
/// is monotone; 200 halvings reach the limit of f64.
pub(crate) fn quantile_upper(p: f64, df: f64) -> f64 {
    let tail = 2.0 * (1.0 - p);
    let mut hi = 1.0;
    while two_sided_p(hi, df) > tail && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_p(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, StudentsT};

    const DFS: [f64; 12] = [
        0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 9.5, 19.0, 30.0, 120.0, 5000.0,
    ];

    #[test]
    fn tail_probabilities_agree_with_statrs() {
        for df in DFS {
            let reference = StudentsT::new(0.0, 1.0, df).unwrap();
            for t in [0.0, 0.1, 0.5, 1.0, 1.96, 2.5, 4.0, 8.0, 30.0] {
                let ours = two_sided_p(t, df);
                let theirs = 2.0 * (1.0 - reference.cdf(t));
                let close = (ours - theirs).abs() <= 1e-9 + 1e-6 * theirs;
                assert!(close, "df {df} t {t}: {ours} vs statrs {theirs}");
            }
        }
    }

    #[test]
    fn quantiles_agree_with_statrs() {
        for df in DFS {
            let reference = StudentsT::new(0.0, 1.0, df).unwrap();
            for p in [0.6, 0.9, 0.975, 0.995, 0.9995] {
                let ours = quantile_upper(p, df);
                let theirs = reference.inverse_cdf(p);
                assert!(
                    (ours - theirs).abs() <= 1e-6 * theirs.max(1.0),
                    "df {df} p {p}: {ours} vs statrs {theirs}"
                );
            }
        }
    }

    #[test]
    fn textbook_values() {
        // t(7) at 97.5 % is 2.364624; t(1) at 97.5 % is 12.7062.
        assert!((quantile_upper(0.975, 7.0) - 2.364_624).abs() < 1e-6);
        assert!((quantile_upper(0.975, 1.0) - 12.706_205).abs() < 1e-5);
        assert_eq!(two_sided_p(0.0, 10.0), 1.0);
        assert_eq!(two_sided_p(f64::INFINITY, 10.0), 0.0);
        // Far in the tail the p-value stays positive and small, not 0.
        let p = two_sided_p(40.0, 100.0);
        assert!(p > 0.0 && p < 1e-60, "{p}");
    }
}
