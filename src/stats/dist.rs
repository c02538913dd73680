//! Distribution helpers shared by the estimators (normal and chi-square tails).
//!
//! Thin wrappers over `statrs` so every module computes p-values and
//! quantiles the same way R does (`pnorm`, `qnorm`, `pchisq(lower.tail = FALSE)`).

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Standard normal quantile, `qnorm(p)`.
pub fn qnorm(p: f64) -> f64 {
    Normal::new(0.0, 1.0).map(|n| n.inverse_cdf(p)).unwrap_or(f64::NAN)
}

/// Standard normal CDF, `pnorm(x)`.
pub fn pnorm(x: f64) -> f64 {
    Normal::new(0.0, 1.0).map(|n| n.cdf(x)).unwrap_or(f64::NAN)
}

/// Two-sided normal p-value for a z statistic, `2 * pnorm(-|z|)`.
pub fn two_sided_p(z: f64) -> f64 {
    2.0 * pnorm(-z.abs())
}

/// Upper tail of the chi-square distribution, `pchisq(x, df, lower.tail = FALSE)`.
pub fn pchisq_upper(x: f64, df: f64) -> f64 {
    if df <= 0.0 || !x.is_finite() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    ChiSquared::new(df).map(|c| c.sf(x)).unwrap_or(f64::NAN)
}

/// The z quantile for a two-sided confidence level, `qnorm(1 - (1 - level) / 2)`.
pub fn z_for_level(level: f64) -> f64 {
    qnorm(1.0 - (1.0 - level) / 2.0)
}
