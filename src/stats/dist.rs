//! Distribution helpers shared by the estimators (normal and chi-square tails).
//!
//! Thin wrappers over `statrs` so every module computes p-values and
//! quantiles the same way R does (`pnorm`, `qnorm`, `pchisq(lower.tail = FALSE)`).
// AS 241's coefficients are written as published (and as in R's qnorm.c), digits beyond f64
// included, so they can be checked against the source line by line.
#![allow(clippy::excessive_precision)]

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Standard normal quantile, `qnorm(p)`: Wichura's AS 241 (PPND16), the
/// algorithm R uses, so confidence limits agree with R to the last bit.
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let r0 = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-r0.ln()).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qnorm_matches_r_bit_for_bit() {
        // R 4.2.2 (Debian): sprintf("%.17g", qnorm(c(0.975, 0.995, 0.9, 1e-10, 0.3)))
        // and sprintf("%.17g", qnorm(1 - (1 - 0.95) / 2)); compared exactly.
        assert_eq!(qnorm(0.975), 1.9599639845400536);
        assert_eq!(z_for_level(0.95), 1.9599639845400536);
        assert_eq!(qnorm(0.995), 2.5758293035488999);
        assert_eq!(qnorm(0.9), 1.2815515655446008);
        assert_eq!(qnorm(1e-10), -6.3613409024040557);
        assert_eq!(qnorm(0.3), -0.52440051270804067);
        assert_eq!(qnorm(0.5), 0.0);
        assert!(qnorm(1.5).is_nan());
    }

    #[test]
    fn chisq_tail() {
        // pchisq(3.84145882069412, 1, lower.tail = FALSE) = 0.05
        assert!((pchisq_upper(3.841458820694124, 1.0) - 0.05).abs() < 1e-14);
        assert_eq!(pchisq_upper(0.0, 2.0), 1.0);
    }
}
