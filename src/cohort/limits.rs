//! Physiological plausibility limits, in canonical units.
//!
//! A value outside its limits is a *warning* (counted and reported, the value
//! is kept): the limits are meant to catch unit mix-ups and typing errors, not
//! to judge clinical extremes, so they are deliberately wide.
//!
//! | analyte | canonical unit | warning if below | warning if above |
//! |---|---|---|---|
//! | temperature | °C | 30 | 45 |
//! | hemoglobin | g/L | 0 | 250 |
//! | platelets | 10^9/L | 0 | 5 000 |
//! | neutrophils | 10^9/L | 0 | 2 000 |
//! | leukocytes | 10^9/L | 0 | 2 000 |
//! | ferritin | µg/L | 0 | 500 000 |
//! | triglycerides | mmol/L | 0 | 200 |
//! | fibrinogen | g/L | 0 | 30 |
//! | AST | U/L | 0 | 100 000 |
//! | sCD25 | U/mL | 0 | 1 000 000 |
//! | `age_at_diagnosis` | years | 0 | 120 |
//!
//! "Below 0" means negative: zero itself is plausible for every analyte
//! except temperature.

use super::model::Analyte;

/// Lower and upper plausibility limits of an analyte in its canonical unit.
pub fn plausible_range(analyte: Analyte) -> (f64, f64) {
    match analyte {
        Analyte::Temperature => (30.0, 45.0),
        Analyte::Hemoglobin => (0.0, 250.0),
        Analyte::Platelets => (0.0, 5_000.0),
        Analyte::Neutrophils => (0.0, 2_000.0),
        Analyte::Leukocytes => (0.0, 2_000.0),
        Analyte::Ferritin => (0.0, 500_000.0),
        Analyte::Triglycerides => (0.0, 200.0),
        Analyte::Fibrinogen => (0.0, 30.0),
        Analyte::Ast => (0.0, 100_000.0),
        Analyte::Scd25 => (0.0, 1_000_000.0),
    }
}

/// Plausibility limits of `age_at_diagnosis` in years.
pub const AGE_RANGE: (f64, f64) = (0.0, 120.0);

/// True if `value` (canonical unit) is within the limits of `analyte`.
#[inline]
pub fn is_plausible(analyte: Analyte, value: f64) -> bool {
    let (lo, hi) = plausible_range(analyte);
    value >= lo && value <= hi
}
