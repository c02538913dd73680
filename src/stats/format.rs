//! How every number is written to an output table.
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

/// `Some(x)` in table format, `None` (and non-finite values) as an empty cell.
pub fn opt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => Num(x).to_string(),
        _ => String::new(),
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
        assert_eq!(opt(None), "");
        assert_eq!(opt(Some(f64::NAN)), "");
    }
}
