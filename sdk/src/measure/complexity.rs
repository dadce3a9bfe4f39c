//! Complexity classes: fitting a benchmark's figures against the sizes of
//! its cases to O(1), O(log n), O(n), O(n log n), O(n²) or O(n³).
//!
//! Each class `g` is fitted as `a + b·g(n)` (a fixed cost plus a growing
//! one, both at least zero) by least squares weighted by `1/y²`, so that
//! every point counts by its relative error whatever its size; O(1) is the
//! weighted mean. The fit's error is the root mean square of the relative
//! residuals. The class chosen is the simplest whose error is within
//! [`TOLERANCE`] of the best class's (at most 1.25 times it, or 2
//! percentage points above it): a more complex curve always fits noise a
//! little better, and is chosen only when it fits clearly better. A class
//! above O(1) is a candidate only when its curve grows by at least
//! [`MIN_GROWTH`] over the sizes measured: a figure that moves less than
//! that across them is constant for every purpose of those sizes.

use serde::{Deserialize, Serialize};

/// A complexity class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// O(1).
    Constant,
    /// O(log n).
    Logarithmic,
    /// O(n).
    Linear,
    /// O(n log n).
    Linearithmic,
    /// O(n²).
    Quadratic,
    /// O(n³).
    Cubic,
}

/// How much worse than the best fit a simpler class may fit and still be
/// chosen: `(factor, points)`.
pub const TOLERANCE: (f64, f64) = (1.25, 0.02);

/// Growth over the sizes measured (fitted value at the largest size over
/// the value at the smallest) below which a curve counts as flat.
pub const MIN_GROWTH: f64 = 1.25;

/// Fewest distinct sizes a fit needs, and the smallest ratio of the
/// largest to the smallest.
pub const MIN_SIZES: usize = 4;
/// See [`MIN_SIZES`].
pub const MIN_SPAN: f64 = 8.0;

impl Class {
    /// Every class, simplest first.
    pub const ALL: [Class; 6] = [
        Class::Constant,
        Class::Logarithmic,
        Class::Linear,
        Class::Linearithmic,
        Class::Quadratic,
        Class::Cubic,
    ];

    /// `O(1)`, `O(log n)`, `O(n)`, `O(n log n)`, `O(n^2)`, `O(n^3)`: the
    /// text of tables and of the `class` label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Class::Constant => "O(1)",
            Class::Logarithmic => "O(log n)",
            Class::Linear => "O(n)",
            Class::Linearithmic => "O(n log n)",
            Class::Quadratic => "O(n^2)",
            Class::Cubic => "O(n^3)",
        }
    }

    /// 0 for O(1) up to 5 for O(n³): the gauge's value.
    pub fn rank(&self) -> u64 {
        *self as u64
    }

    /// The growing term at size `n`.
    pub fn term(&self, n: f64) -> f64 {
        let n = n.max(1.0);
        match self {
            Class::Constant => 0.0,
            Class::Logarithmic => n.log2(),
            Class::Linear => n,
            Class::Linearithmic => n * n.log2(),
            Class::Quadratic => n * n,
            Class::Cubic => n * n * n,
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One class fitted to the points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The class.
    pub class: Class,
    /// The fixed cost `a`.
    pub intercept: f64,
    /// The growing cost's factor `b`.
    pub coefficient: f64,
    /// Root mean square of the relative residuals (0.05: 5 %).
    pub error: f64,
    /// Weighted coefficient of determination (0 for O(1)).
    pub r_squared: f64,
}

impl Fit {
    /// The fitted value at size `n`.
    pub fn at(&self, n: f64) -> f64 {
        self.intercept + self.coefficient * self.class.term(n)
    }
}

/// Fits `points` (size, figure) to each class and chooses one (see the
/// module's documentation). `Err` says why no class can be chosen: too
/// few sizes, too narrow a span, or a figure that is not a finite
/// non-negative number.
pub fn classify(points: &[(f64, f64)]) -> Result<Fit, String> {
    let mut sizes: Vec<f64> = points.iter().map(|p| p.0).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    if sizes.len() < MIN_SIZES {
        return Err(format!(
            "{} distinct sizes; a complexity fit needs at least {MIN_SIZES}",
            sizes.len()
        ));
    }
    if let Some(&(n, y)) = points
        .iter()
        .find(|(n, y)| !(n.is_finite() && *n >= 1.0 && y.is_finite() && *y >= 0.0))
    {
        return Err(format!(
            "the point ({n}, {y}) is out of range: sizes are at least 1, figures finite and not negative"
        ));
    }
    let (low, high) = (sizes[0], sizes[sizes.len() - 1]);
    if high / low < MIN_SPAN {
        return Err(format!(
            "the sizes span {low}..{high}; a complexity fit needs the largest at least {MIN_SPAN} times the smallest"
        ));
    }
    let fits: Vec<Fit> = Class::ALL
        .iter()
        .map(|&c| fit_one(c, points))
        .filter(|f| {
            let start = f.at(low);
            f.class == Class::Constant
                || (start > 0.0 && f.at(high) >= start * MIN_GROWTH)
                || (start == 0.0 && f.at(high) > 0.0)
        })
        .collect();
    let best = fits.iter().map(|f| f.error).fold(f64::INFINITY, f64::min);
    let allowed = (best * TOLERANCE.0).max(best + TOLERANCE.1);
    Ok(*fits.iter().find(|f| f.error <= allowed).unwrap_or(&fits[0]))
}

/// Fits `a + b·g(n)`, `a, b ≥ 0`, weighted by `1/y²`.
pub fn fit_one(class: Class, points: &[(f64, f64)]) -> Fit {
    // Figures of zero (no allocations at a size) would weigh infinitely:
    // they count as a thousandth of the largest figure.
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let floor = if top > 0.0 { top * 1e-3 } else { 1.0 };
    let w = |y: f64| 1.0 / y.max(floor).powi(2);
    let (mut sw, mut sg, mut sy, mut sgg, mut sgy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, y) in points {
        let (wi, g) = (w(y), class.term(n));
        sw += wi;
        sg += wi * g;
        sy += wi * y;
        sgg += wi * g * g;
        sgy += wi * g * y;
    }
    let mean = sy / sw;
    let (mut a, mut b) = (mean, 0.0);
    if class != Class::Constant {
        let det = sw * sgg - sg * sg;
        if det > 0.0 {
            a = (sgg * sy - sg * sgy) / det;
            b = (sw * sgy - sg * sy) / det;
        }
        if b < 0.0 {
            (a, b) = (mean, 0.0);
        } else if a < 0.0 && sgg > 0.0 {
            (a, b) = (0.0, sgy / sgg);
        }
    }
    let (mut res, mut tot) = (0.0, 0.0);
    for &(n, y) in points {
        let wi = w(y);
        let predicted = a + b * class.term(n);
        res += wi * (predicted - y).powi(2);
        tot += wi * (y - mean).powi(2);
    }
    Fit {
        class,
        intercept: a,
        coefficient: b,
        error: (res / points.len() as f64).sqrt(),
        r_squared: if tot > 0.0 && class != Class::Constant {
            (1.0 - res / tot).max(0.0)
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [f64; 6] = [64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0];

    /// Points of `class` with a fixed cost and a ±3 % wobble.
    fn points(class: Class, fixed: f64, factor: f64) -> Vec<(f64, f64)> {
        SIZES
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let wobble = if i % 2 == 0 { 1.03 } else { 0.97 };
                (n, (fixed + factor * class.term(n)) * wobble)
            })
            .collect()
    }

    #[test]
    fn each_class_is_recognised_through_a_fixed_cost_and_noise() {
        for (class, fixed, factor) in [
            (Class::Constant, 20.0, 0.0),
            (Class::Logarithmic, 3.0, 2.0),
            (Class::Linear, 50.0, 0.5),
            (Class::Linearithmic, 50.0, 1.0),
            (Class::Quadratic, 100.0, 0.01),
            (Class::Cubic, 100.0, 1e-6),
        ] {
            let fit = classify(&points(class, fixed, factor)).unwrap();
            assert_eq!(fit.class, class, "{fit:?}");
            assert!(fit.error < 0.05, "{fit:?}");
        }
    }

    #[test]
    fn too_few_sizes_or_too_narrow_a_span_say_so() {
        let three = &points(Class::Linear, 1.0, 1.0)[..3];
        assert!(classify(three).unwrap_err().contains("at least 4"));
        let narrow: Vec<_> = (1..=5).map(|n| (f64::from(n), 1.0)).collect();
        assert!(classify(&narrow).unwrap_err().contains("8 times"));
        let bad = [(1.0, 1.0), (10.0, f64::NAN), (100.0, 1.0), (1000.0, 1.0)];
        assert!(classify(&bad).unwrap_err().contains("out of range"));
    }

    #[test]
    fn a_figure_that_barely_moves_across_the_sizes_is_constant() {
        // 10 % more over three decades, log-shaped, with a 2 % wobble.
        let drift: Vec<_> = SIZES
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (
                    n,
                    (8.0 + 0.08 * n.log2()) * if i % 2 == 0 { 1.02 } else { 0.98 },
                )
            })
            .collect();
        assert_eq!(classify(&drift).unwrap().class, Class::Constant);
    }

    #[test]
    fn no_allocations_at_any_size_is_constant() {
        let zeros: Vec<_> = SIZES.iter().map(|&n| (n, 0.0)).collect();
        assert_eq!(classify(&zeros).unwrap().class, Class::Constant);
    }
}
