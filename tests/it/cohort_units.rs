//! Unit normalisation: every accepted conversion, with values worked out by hand.

use hemosurv::cohort::units::{accepted_spellings, normalise, parse_analyte, resolve_unit, units_of};
use hemosurv::cohort::{Analyte, UnitError};

/// `normalise` must give `expected` (hand-computed) to 1e-12 relative.
fn check(analyte: Analyte, value: f64, unit: &str, expected: f64) {
    let got = normalise(analyte, value, unit).unwrap_or_else(|e| panic!("{analyte} {value} {unit}: {e}"));
    let tol = 1e-12 * expected.abs().max(1.0);
    assert!((got - expected).abs() <= tol, "{analyte} {value} {unit}: got {got}, expected {expected}");
}

#[test]
fn temperature() {
    // (°F − 32) × 5/9
    check(Analyte::Temperature, 100.4, "°F", 38.0);
    check(Analyte::Temperature, 98.6, "degF", 37.0);
    check(Analyte::Temperature, 32.0, "F", 0.0);
    check(Analyte::Temperature, 212.0, "fahrenheit", 100.0);
    check(Analyte::Temperature, 104.0, "[degF]", 40.0);
    for spelling in ["°C", "C", "degC", "deg C", "celsius", "Celsius", "Cel", "ºC", " °c "] {
        check(Analyte::Temperature, 38.3, spelling, 38.3);
    }
}

#[test]
fn hemoglobin() {
    check(Analyte::Hemoglobin, 9.2, "g/dL", 92.0);
    check(Analyte::Hemoglobin, 9.2, "g/dl", 92.0);
    check(Analyte::Hemoglobin, 13.5, "g/100mL", 135.0);
    check(Analyte::Hemoglobin, 13.5, "g%", 135.0);
    check(Analyte::Hemoglobin, 120.0, "g/L", 120.0);
    check(Analyte::Hemoglobin, 120.0, "g/l", 120.0);
    // Hb monomer 16 114.5 g/mol: 5.7 mmol/L × 16.1145 = 91.85265 g/L
    check(Analyte::Hemoglobin, 5.7, "mmol/L", 91.852_65);
    check(Analyte::Hemoglobin, 10.0, "mmol/l", 161.145);
}

#[test]
fn cell_counts() {
    for analyte in [Analyte::Platelets, Analyte::Neutrophils, Analyte::Leukocytes] {
        // 10^9/L and 10^3/µL are the same unit (1 µL = 10^-6 L)
        for spelling in [
            "10^9/L",
            "x10^9/L",
            "×10^9/L",
            "x 10^9/L",
            "10*9/L",
            "10**9/L",
            "10E9/L",
            "10e9/l",
            "x10E9/L",
            "10^9 cells/L",
            "G/L",
            "g/l",
            "Gpt/L",
            "/nL",
            "10^3/µL",
            "10^3/uL",
            "10^3/μL",
            "x10^3/uL",
            "10*3/uL",
            "10E3/uL",
            "10^3/mcL",
            "10^3/mm3",
            "x10^3/mm3",
            "10^3/mm^3",
            "K/uL",
            "K/µL",
            "k/ul",
            "K/mcL",
            "thou/uL",
        ] {
            check(analyte, 150.0, spelling, 150.0);
        }
        // per µL: ÷ 1000
        for spelling in ["/µL", "/uL", "/μL", "/ul", "cells/µL", "cells/uL", "/mcL", "cells/mcL", "/mm3", "/mm^3", "cells/mm3"]
        {
            check(analyte, 45_000.0, spelling, 45.0);
        }
    }
    check(Analyte::Neutrophils, 1500.0, "/mm3", 1.5);
    check(Analyte::Leukocytes, 12.5, "x10^3/uL", 12.5);
    check(Analyte::Platelets, 250.0, "/µL", 0.25);
}

#[test]
fn ferritin() {
    for spelling in ["µg/L", "ug/L", "μg/L", "mcg/L", "ng/mL", "ng/ml", "NG/ML"] {
        check(Analyte::Ferritin, 1200.0, spelling, 1200.0);
    }
    // 1 µg/L = 2.247 pmol/L
    check(Analyte::Ferritin, 224.7, "pmol/L", 100.0);
    check(Analyte::Ferritin, 1000.0, "pmol/L", 445.037_828_215_398_3);
}

#[test]
fn triglycerides() {
    // 1 mmol/L = 88.57 mg/dL: 265 mg/dL = 2.99198374167... mmol/L
    check(Analyte::Triglycerides, 265.0, "mg/dL", 2.991_983_741_673_253);
    let v = normalise(Analyte::Triglycerides, 265.0, "mg/dl").expect("known unit");
    assert!((v - 2.992).abs() < 5e-4);
    check(Analyte::Triglycerides, 265.0, "mg%", 2.991_983_741_673_253);
    check(Analyte::Triglycerides, 265.0, "mg/100mL", 2.991_983_741_673_253);
    // 2 g/L = 200 mg/dL = 2.25810093711... mmol/L
    check(Analyte::Triglycerides, 2.0, "g/L", 2.258_100_937_111_889);
    check(Analyte::Triglycerides, 3.1, "mmol/L", 3.1);
}

#[test]
fn fibrinogen() {
    check(Analyte::Fibrinogen, 150.0, "mg/dL", 1.5);
    check(Analyte::Fibrinogen, 350.0, "mg%", 3.5);
    check(Analyte::Fibrinogen, 350.0, "mg/100mL", 3.5);
    check(Analyte::Fibrinogen, 2.5, "g/L", 2.5);
}

#[test]
fn ast() {
    for spelling in ["U/L", "IU/L", "iu/l", "units/L"] {
        check(Analyte::Ast, 40.0, spelling, 40.0);
    }
    // 1 µkat/L = 60 U/L
    check(Analyte::Ast, 1.5, "µkat/L", 90.0);
    check(Analyte::Ast, 1.5, "ukat/L", 90.0);
    check(Analyte::Ast, 1.5, "mckat/L", 90.0);
    check(Analyte::Ast, 500.0, "nkat/L", 30.0);
}

#[test]
fn scd25() {
    check(Analyte::Scd25, 2400.0, "U/mL", 2400.0);
    check(Analyte::Scd25, 2400.0, "u/ml", 2400.0);
    check(Analyte::Scd25, 2400.0, "kU/L", 2400.0);
}

#[test]
fn every_listed_spelling_resolves_to_its_unit() {
    for a in Analyte::ALL {
        for u in units_of(a) {
            for s in u.spellings {
                assert_eq!(resolve_unit(a, s).map(|d| d.name), Ok(u.name), "{a} {s}");
            }
        }
        assert_eq!(normalise(a, 1.0, a.canonical_unit()), Ok(1.0), "{a} canonical");
    }
}

#[test]
fn unknown_unit_lists_accepted_spellings() {
    let err = normalise(Analyte::Hemoglobin, 9.2, "mg/dL").unwrap_err();
    match &err {
        UnitError::UnknownUnit { analyte, unit, accepted } => {
            assert_eq!(*analyte, Analyte::Hemoglobin);
            assert_eq!(unit, "mg/dL");
            assert_eq!(accepted, &accepted_spellings(Analyte::Hemoglobin));
            assert_eq!(accepted, &["g/L", "g/dL", "g/100mL", "g%", "mmol/L"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("unknown unit 'mg/dL' for hemoglobin; accepted spellings: g/L, g/dL, g/100mL, g%, mmol/L"), "{msg}");
    // no fuzzy matching: near misses are rejected
    for bad in ["gdl", "g/d", "g/dL.", "mg/L", "pg/mL", ""] {
        assert!(normalise(Analyte::Hemoglobin, 9.2, bad).is_err(), "{bad}");
    }
    assert!(normalise(Analyte::Scd25, 900.0, "pg/mL").is_err());
    assert!(normalise(Analyte::Ferritin, 900.0, "mg/L").is_err());
    assert!(normalise(Analyte::Temperature, 38.0, "K").is_err());
}

#[test]
fn unknown_analyte_lists_known_analytes() {
    let err = parse_analyte("CRP").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown analyte 'CRP'; known analytes: temperature, hemoglobin, platelets, neutrophils, leukocytes, \
         ferritin, triglycerides, fibrinogen, ast, scd25"
    );
    assert_eq!(parse_analyte(" Ferritin "), Ok(Analyte::Ferritin));
}

#[test]
fn non_finite_values_are_rejected() {
    assert!(matches!(normalise(Analyte::Ferritin, f64::NAN, "µg/L"), Err(UnitError::NonFinite { .. })));
    assert!(matches!(normalise(Analyte::Ferritin, f64::INFINITY, "µg/L"), Err(UnitError::NonFinite { .. })));
}
