//! Unit normalisation of the `measurements` table.
//!
//! Every analyte has one canonical unit ([`Analyte::canonical_unit`]); every
//! other accepted unit has an explicit conversion and an explicit list of
//! spellings ([`units_of`]). Matching a spelling is *not* fuzzy: the only
//! normalisation applied before an exact table lookup is
//!
//! * surrounding and inner white space is removed (`10^9 / L` = `10^9/L`),
//! * letters are compared case-insensitively (`mg/dl` = `mg/dL`),
//! * `µ` (micro sign), `μ` (Greek mu) and `u` are the same letter (`ug/L` = `µg/L`),
//! * `×` is the same as `x`, and `º` / `˚` are the same as `°`.
//!
//! Case-insensitivity makes `G/L` (giga per litre) and `g/L` (grams per
//! litre) the same spelling; this is unambiguous because the table is per
//! analyte (a platelet count in grams per litre does not exist).
//!
//! Conversion factors (canonical = value × factor unless stated):
//!
//! | analyte | canonical | accepted unit | conversion | source |
//! |---|---|---|---|---|
//! | temperature | °C | °F | (v − 32) × 5 ÷ 9 | definition |
//! | hemoglobin | g/L | g/dL | × 10 | definition |
//! | hemoglobin | g/L | mmol/L | × 16.1145 | Hb monomer 16 114.5 g/mol ⇒ 1 mmol/L = 16.1145 g/L |
//! | platelets, neutrophils, leukocytes | 10^9/L | 10^3/µL | × 1 | 1 µL = 10⁻⁶ L |
//! | platelets, neutrophils, leukocytes | 10^9/L | /µL | ÷ 1000 | 1 µL = 10⁻⁶ L |
//! | ferritin | µg/L | ng/mL | × 1 | 1 ng/mL = 1 µg/L |
//! | ferritin | µg/L | pmol/L | ÷ 2.247 (≈ × 0.445) | ferritin: 1 µg/L = 2.247 pmol/L |
//! | triglycerides | mmol/L | mg/dL | ÷ 88.57 | triolein 885.7 g/mol |
//! | triglycerides | mmol/L | g/L | × 100 ÷ 88.57 | as mg/dL |
//! | fibrinogen | g/L | mg/dL | ÷ 100 | definition |
//! | AST | U/L | IU/L | × 1 | same unit |
//! | AST | U/L | µkat/L | × 60 | 1 U = 1 µmol/min = 1/60 µkat |
//! | AST | U/L | nkat/L | × 60 ÷ 1000 | as µkat/L |
//! | sCD25 | U/mL | kU/L | × 1 | 1 kU/L = 1 U/mL |

use std::sync::OnceLock;

use super::error::UnitError;
use super::model::Analyte;

/// How a value in some unit converts to the canonical unit of its analyte.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversion {
    /// `canonical = value × mul ÷ div` (computed in that order).
    Scale {
        /// Multiplier.
        mul: f64,
        /// Divisor.
        div: f64,
    },
    /// `canonical °C = (value °F − 32) × 5 ÷ 9`.
    FahrenheitToCelsius,
}

impl Conversion {
    /// The identity conversion (the canonical unit itself).
    pub const IDENTITY: Conversion = Conversion::Scale { mul: 1.0, div: 1.0 };

    /// Apply the conversion to a value.
    #[inline]
    pub fn apply(self, value: f64) -> f64 {
        match self {
            Conversion::Scale { mul, div } => {
                if mul == 1.0 && div == 1.0 {
                    value
                } else {
                    value * mul / div
                }
            }
            Conversion::FahrenheitToCelsius => (value - 32.0) * 5.0 / 9.0,
        }
    }
}

/// One accepted unit of an analyte: its name, every accepted spelling, and
/// the conversion to the canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitDef {
    /// The unit's usual name (e.g. `g/dL`).
    pub name: &'static str,
    /// Every accepted spelling (matched after the normalisation described in
    /// the module documentation).
    pub spellings: &'static [&'static str],
    /// Conversion to the canonical unit.
    pub conversion: Conversion,
    /// Where the factor comes from.
    pub source: &'static str,
}

const fn scale(mul: f64, div: f64) -> Conversion {
    Conversion::Scale { mul, div }
}

const TEMPERATURE: &[UnitDef] = &[
    UnitDef {
        name: "°C",
        spellings: &["°C", "C", "degC", "celsius", "Cel"],
        conversion: Conversion::IDENTITY,
        source: "canonical",
    },
    UnitDef {
        name: "°F",
        spellings: &["°F", "F", "degF", "fahrenheit", "[degF]"],
        conversion: Conversion::FahrenheitToCelsius,
        source: "°C = (°F − 32) × 5/9 (definition)",
    },
];

const HEMOGLOBIN: &[UnitDef] = &[
    UnitDef { name: "g/L", spellings: &["g/L"], conversion: Conversion::IDENTITY, source: "canonical" },
    UnitDef {
        name: "g/dL",
        spellings: &["g/dL", "g/100mL", "g%"],
        conversion: scale(10.0, 1.0),
        source: "1 dL = 0.1 L (definition)",
    },
    UnitDef {
        name: "mmol/L",
        spellings: &["mmol/L"],
        conversion: scale(16.1145, 1.0),
        source: "Hb monomer 16 114.5 g/mol: 1 mmol/L = 16.1145 g/L",
    },
];

const COUNTS: &[UnitDef] = &[
    UnitDef {
        name: "10^9/L",
        spellings: &[
            "10^9/L",
            "x10^9/L",
            "10*9/L",
            "x10*9/L",
            "10**9/L",
            "10E9/L",
            "x10E9/L",
            "10^9 cells/L",
            "G/L",
            "Gpt/L",
            "/nL",
            "10^3/µL",
            "x10^3/µL",
            "10*3/µL",
            "x10*3/µL",
            "10E3/µL",
            "x10E3/µL",
            "10^3/mcL",
            "10^3/mm3",
            "x10^3/mm3",
            "10^3/mm^3",
            "K/µL",
            "K/mcL",
            "thou/µL",
        ],
        conversion: Conversion::IDENTITY,
        source: "canonical; 10^3/µL = 10^9/L since 1 µL = 10^-6 L",
    },
    UnitDef {
        name: "/µL",
        spellings: &["/µL", "cells/µL", "/mcL", "cells/mcL", "/mm3", "/mm^3", "cells/mm3"],
        conversion: scale(1.0, 1000.0),
        source: "1/µL = 10^6/L = 0.001 × 10^9/L",
    },
];

const FERRITIN: &[UnitDef] = &[
    UnitDef {
        name: "µg/L",
        spellings: &["µg/L", "mcg/L", "ng/mL"],
        conversion: Conversion::IDENTITY,
        source: "canonical; 1 ng/mL = 1 µg/L",
    },
    UnitDef {
        name: "pmol/L",
        spellings: &["pmol/L"],
        conversion: scale(1.0, 2.247),
        source: "ferritin: 1 µg/L = 2.247 pmol/L, i.e. pmol/L × 0.445",
    },
];

const TRIGLYCERIDES: &[UnitDef] = &[
    UnitDef { name: "mmol/L", spellings: &["mmol/L"], conversion: Conversion::IDENTITY, source: "canonical" },
    UnitDef {
        name: "mg/dL",
        spellings: &["mg/dL", "mg/100mL", "mg%"],
        conversion: scale(1.0, 88.57),
        source: "triolein 885.7 g/mol: 1 mmol/L = 88.57 mg/dL",
    },
    UnitDef {
        name: "g/L",
        spellings: &["g/L"],
        conversion: scale(100.0, 88.57),
        source: "1 g/L = 100 mg/dL; 1 mmol/L = 88.57 mg/dL",
    },
];

const FIBRINOGEN: &[UnitDef] = &[
    UnitDef { name: "g/L", spellings: &["g/L"], conversion: Conversion::IDENTITY, source: "canonical" },
    UnitDef {
        name: "mg/dL",
        spellings: &["mg/dL", "mg/100mL", "mg%"],
        conversion: scale(1.0, 100.0),
        source: "1 g/L = 100 mg/dL (definition)",
    },
];

const AST: &[UnitDef] = &[
    UnitDef {
        name: "U/L",
        spellings: &["U/L", "IU/L", "units/L"],
        conversion: Conversion::IDENTITY,
        source: "canonical; IU/L = U/L",
    },
    UnitDef {
        name: "µkat/L",
        spellings: &["µkat/L", "mckat/L"],
        conversion: scale(60.0, 1.0),
        source: "1 U = 1 µmol/min = 1/60 µkat: 1 µkat/L = 60 U/L",
    },
    UnitDef { name: "nkat/L", spellings: &["nkat/L"], conversion: scale(60.0, 1000.0), source: "1 nkat/L = 0.06 U/L" },
];

const SCD25: &[UnitDef] = &[UnitDef {
    name: "U/mL",
    spellings: &["U/mL", "kU/L"],
    conversion: Conversion::IDENTITY,
    source: "canonical; 1 kU/L = 1 U/mL",
}];

/// The accepted units of an analyte, canonical unit first.
pub fn units_of(analyte: Analyte) -> &'static [UnitDef] {
    match analyte {
        Analyte::Temperature => TEMPERATURE,
        Analyte::Hemoglobin => HEMOGLOBIN,
        Analyte::Platelets | Analyte::Neutrophils | Analyte::Leukocytes => COUNTS,
        Analyte::Ferritin => FERRITIN,
        Analyte::Triglycerides => TRIGLYCERIDES,
        Analyte::Fibrinogen => FIBRINOGEN,
        Analyte::Ast => AST,
        Analyte::Scd25 => SCD25,
    }
}

/// Every accepted spelling of every unit of `analyte`, in table order.
pub fn accepted_spellings(analyte: Analyte) -> Vec<&'static str> {
    units_of(analyte).iter().flat_map(|u| u.spellings.iter().copied()).collect()
}

/// The matching key of a unit spelling: white space removed, lower case,
/// `µ`/`μ` → `u`, `×` → `x`, `º`/`˚` → `°`.
pub fn unit_key(unit: &str) -> String {
    let mut key = String::with_capacity(unit.len());
    for c in unit.chars() {
        match c {
            c if c.is_whitespace() => {}
            '\u{00B5}' | '\u{03BC}' | '\u{039C}' => key.push('u'),
            '\u{00D7}' => key.push('x'),
            '\u{00BA}' | '\u{02DA}' => key.push('°'),
            c => key.extend(c.to_lowercase()),
        }
    }
    key
}

/// Lookup table: (analyte, key) → unit definition, built once.
fn lookup_table() -> &'static [(Analyte, String, &'static UnitDef)] {
    static TABLE: OnceLock<Vec<(Analyte, String, &'static UnitDef)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::new();
        for a in Analyte::ALL {
            for u in units_of(a) {
                for s in u.spellings {
                    t.push((a, unit_key(s), u));
                }
            }
        }
        t
    })
}

/// Find the unit definition of a spelling for an analyte.
///
/// Errors with [`UnitError::UnknownUnit`] (listing the accepted spellings)
/// if the spelling is not in the table.
pub fn resolve_unit(analyte: Analyte, unit: &str) -> Result<&'static UnitDef, UnitError> {
    let key = unit_key(unit);
    lookup_table().iter().find(|(a, k, _)| *a == analyte && *k == key).map(|(_, _, u)| *u).ok_or_else(|| UnitError::UnknownUnit {
        analyte,
        unit: unit.to_string(),
        accepted: accepted_spellings(analyte),
    })
}

/// Parse an analyte name, erroring with the list of known analytes.
pub fn parse_analyte(name: &str) -> Result<Analyte, UnitError> {
    Analyte::parse(name).ok_or_else(|| UnitError::UnknownAnalyte {
        analyte: name.to_string(),
        known: Analyte::ALL.iter().map(|a| a.name()).collect(),
    })
}

/// Convert `value` given in `unit` to the canonical unit of `analyte`.
///
/// Errors if the unit is not an accepted spelling for the analyte (the error
/// lists the accepted spellings) or if the value is not finite.
pub fn normalise(analyte: Analyte, value: f64, unit: &str) -> Result<f64, UnitError> {
    if !value.is_finite() {
        return Err(UnitError::NonFinite { analyte, value });
    }
    Ok(resolve_unit(analyte, unit)?.conversion.apply(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_unit_is_first_and_identity() {
        for a in Analyte::ALL {
            let first = &units_of(a)[0];
            assert_eq!(unit_key(first.name), unit_key(a.canonical_unit()), "{a}");
            assert_eq!(first.conversion, Conversion::IDENTITY, "{a}");
            assert_eq!(resolve_unit(a, a.canonical_unit()).map(|u| u.name), Ok(first.name));
        }
    }

    #[test]
    fn no_spelling_is_ambiguous_within_an_analyte() {
        for a in Analyte::ALL {
            let mut keys: Vec<String> = accepted_spellings(a).iter().map(|s| unit_key(s)).collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "duplicate spelling key for {a}");
        }
    }

    #[test]
    fn key_normalisation() {
        assert_eq!(unit_key(" µg / L "), "ug/l");
        assert_eq!(unit_key("μg/L"), "ug/l");
        assert_eq!(unit_key("×10^9/L"), "x10^9/l");
        assert_eq!(unit_key("ºC"), "°c");
    }
}
