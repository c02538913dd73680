//! How every number is written to an output table, and shown in the report.
//!
//! Shortest text that reads back to the identical double (so tables are exact
//! and byte-reproducible), in plain notation for 1e-4 <= |x| < 1e15 and in
//! exponent notation otherwise (`1.2225594941443222e-39`, not forty zeros);
//! `-0` is written `0`. Non-finite values are never written by the callers (NA
//! is an empty cell).

use std::fmt;

/// Display wrapper applying the table number format.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x == 0.0 {
            f.write_str("0")
        } else if x.is_finite() && (x.abs() < 1e-4 || x.abs() >= 1e15) {
            write!(f, "{x:e}")
        } else {
            write!(f, "{x}")
        }
    }
}

/// `x` to `sig` significant digits for display: fixed notation for
/// 1e-4 <= |x| < 1e15 (large values zero-padded, `123456` -> `123500`),
/// otherwise R-style exponent (`1.235e-05`); trailing zeros dropped.
pub fn format_sig(x: f64, sig: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".to_string() } else { "-Inf".to_string() };
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let sig = sig.max(1);
    // Rounded scientific form decides the exponent (after rounding, so 9.99996 -> 1e1).
    let sci = format!("{:.*e}", sig - 1, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if (-4..sig as i32).contains(&exp) {
        // Fixed notation with exactly `sig` significant digits, trailing zeros dropped.
        let decimals = (sig as i32 - 1 - exp).max(0) as usize;
        let s = trim_zeros(&format!("{:.*}", decimals, x));
        if s == "-0" {
            "0".to_string()
        } else {
            s
        }
    } else if (sig as i32..15).contains(&exp) {
        // Large but not huge: the rounded digits padded with zeros (R `signif` style), e.g. 123500.
        let neg = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        let zeros = (exp + 1) as usize - digits.len();
        format!("{}{}{}", if neg { "-" } else { "" }, digits, "0".repeat(zeros))
    } else {
        let m = trim_zeros(&mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

/// Drop trailing zeros after a decimal point (and the point itself if bare).
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_in_the_usual_range_exponent_outside() {
        assert_eq!(Num(0.5).to_string(), "0.5");
        assert_eq!(Num(52.5).to_string(), "52.5");
        assert_eq!(Num(0.0001).to_string(), "0.0001");
        assert_eq!(Num(0.00004447066652213292).to_string(), "4.447066652213292e-5");
        assert_eq!(Num(7.403770241621589e-237).to_string(), "7.403770241621589e-237");
        assert_eq!(Num(-0.0).to_string(), "0");
        assert_eq!(Num(1e15).to_string(), "1e15");
        for x in [4.447066652213292e-5, 7.403770241621589e-237, 0.1 + 0.2, 123456.789] {
            assert_eq!(Num(x).to_string().parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn significant_digits() {
        let cases = [
            (0.123456, "0.1235"),
            (1.0, "1"),
            (0.5, "0.5"),
            (12345.6, "12350"),
            (123456.0, "123500"),
            (-999.95, "-1000"),
            (99999.0, "100000"),
            (1234.0, "1234"),
            (6.02214076e23, "6.022e+23"),
            (9.99996, "10"),
            (0.00012345, "0.0001234"), // 0.00012345 is slightly below ...45 in binary
            (0.000012345, "1.234e-05"),
            (-0.0000004, "-4e-07"),
            (-0.00001, "-1e-05"),
            (2.0 / 3.0, "0.6667"),
            (-0.0, "0"),
            (-1e-20, "-1e-20"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Inf"),
        ];
        for (x, want) in cases {
            assert_eq!(format_sig(x, 4), want, "x = {x:e}");
        }
    }
}
