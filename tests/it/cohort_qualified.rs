//! Lab values reported as bounds (`>40000`, `<0.1`): loading from CSV and Parquet string
//! columns, errors for anything else, counts in the validation report, decisions in detection
//! (a bound decides a comparison only when every value it allows does), evidence.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use hemosurv::cohort::units::units_of;
use hemosurv::cohort::{
    iso_to_day, load_cohort, Analyte, Cohort, CohortError, Day, IssueKind, LoadOptions, Measurement, Patient, PatientIdx,
    Qualifier, Severity,
};
use hemosurv::hlh::{detect, evaluate_at, CriteriaSet, CriterionStatus, EvidenceTable};
use polars::prelude::*;

// ------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------

const PATIENTS: &str =
    "patient_id,diagnosis_date,last_contact_date,death_date\nP1,2020-01-01,2021-01-01,\nP2,2020-01-01,2021-01-01,\n";

/// (value cell, analyte, unit) of the qualified-values fixture, and what each must load as.
const CELLS: [(&str, &str, &str, Qualifier, f64); 11] = [
    (">40000", "ferritin", "µg/L", Qualifier::Gt, 40000.0),
    ("> 40000", "ferritin", "ng/mL", Qualifier::Gt, 40000.0),
    (">=100000", "ferritin", "µg/L", Qualifier::Ge, 100000.0),
    ("≥ 5000", "ferritin", "µg/L", Qualifier::Ge, 5000.0),
    ("<0.1", "neutrophils", "10^9/L", Qualifier::Lt, 0.1),
    ("<= 0.1", "neutrophils", "10^9/L", Qualifier::Le, 0.1),
    ("≤0.5", "neutrophils", "10^9/L", Qualifier::Le, 0.5),
    // converted like any value: 100 /µL = 0.1 × 10^9/L, 104 °F = 40 °C
    ("<100", "neutrophils", "/µL", Qualifier::Lt, 0.1),
    (">104", "temperature", "°F", Qualifier::Gt, 40.0),
    ("  >  7 ", "platelets", "10^9/L", Qualifier::Gt, 7.0),
    ("9.2", "hemoglobin", "g/dL", Qualifier::None, 92.0),
];

fn write_csv_cohort(dir: &Path, values: &[(&str, &str, &str)]) {
    fs::write(dir.join("patients.csv"), PATIENTS).expect("write patients");
    let mut m = String::from("patient_id,date,analyte,value,unit\n");
    for (i, (v, a, u)) in values.iter().enumerate() {
        let field = if v.contains(',') { format!("\"{v}\"") } else { v.to_string() };
        m.push_str(&format!("P1,2020-01-{:02},{a},{field},{u}\n", 2 + i));
    }
    fs::write(dir.join("measurements.csv"), m).expect("write measurements");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// Every loaded measurement has the expected qualifier and bound, in the canonical unit.
fn check_loaded(cohort: &Cohort) {
    assert_eq!(cohort.measurements.len(), CELLS.len());
    for m in &cohort.measurements {
        let (cell, analyte, _, q, v) = CELLS[m.row as usize - 1];
        assert_eq!(m.analyte.name(), analyte, "row {} ({cell})", m.row);
        assert_eq!(m.qualifier, q, "row {} ({cell})", m.row);
        assert!(close(m.value, v), "row {} ({cell}): {} != {v}", m.row, m.value);
    }
}

fn qualified_counts() -> BTreeMap<String, u64> {
    [("ferritin", 4), ("neutrophils", 4), ("platelets", 1), ("temperature", 1)]
        .into_iter()
        .map(|(a, n)| (a.to_string(), n))
        .collect()
}

#[test]
fn qualified_values_load_from_csv_and_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cells: Vec<_> = CELLS.iter().map(|c| (c.0, c.1, c.2)).collect();
    write_csv_cohort(dir.path(), &cells);
    let loaded = load_cohort(dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
    check_loaded(&loaded.cohort);
    // the raw value keeps the bound as given (100 /µL, 104 °F)
    let raw: Vec<f64> = loaded.cohort.measurements.iter().map(|m| m.raw_value).collect();
    assert_eq!(raw[7], 100.0);
    assert_eq!(raw[8], 104.0);

    let r = &loaded.report;
    assert_eq!(r.qualified_values, qualified_counts());
    assert_eq!(r.error_count, 0);
    let text = r.render_text(50);
    assert!(
        text.contains("measurements: 10 value(s) reported as a bound (>, >=, <, <=), loaded as censored values: ferritin 4, neutrophils 4, platelets 1, temperature 1"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(json["qualified_values"]["ferritin"], 4);
    assert_eq!(json["qualified_values"]["neutrophils"], 4);
    assert_eq!(json["qualified_values"]["temperature"], 1);
    assert!(json["qualified_values"].get("hemoglobin").is_none());
}

#[test]
fn no_qualified_values_no_count_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_csv_cohort(dir.path(), &[("9.2", "hemoglobin", "g/dL"), ("500", "ferritin", "µg/L")]);
    let loaded = load_cohort(dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.report.qualified_values.is_empty());
    assert!(!loaded.report.render_text(50).contains("reported as a bound"));
    assert!(loaded.cohort.measurements.iter().all(|m| m.qualifier == Qualifier::None));
}

fn write_parquet(df: &mut DataFrame, path: &Path) {
    let f = fs::File::create(path).expect("create parquet");
    ParquetWriter::new(f).finish(df).expect("write parquet");
}

fn measurements_frame(values: Series, n: usize) -> DataFrame {
    let day0 = iso_to_day("2020-01-02").unwrap();
    DataFrame::new_infer_height(vec![
        Series::new("patient_id".into(), vec!["P1"; n]).into(),
        Series::new("date".into(), (0..n as i32).map(|i| day0 + i).collect::<Vec<_>>())
            .cast(&DataType::Date)
            .expect("date")
            .into(),
        Series::new("analyte".into(), CELLS.iter().take(n).map(|c| c.1).collect::<Vec<_>>()).into(),
        values.into(),
        Series::new("unit".into(), CELLS.iter().take(n).map(|c| c.2).collect::<Vec<_>>()).into(),
    ])
    .expect("frame")
}

#[test]
fn qualified_values_load_from_parquet_string_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("patients.csv"), PATIENTS).expect("write patients");
    let n = CELLS.len();
    let values = Series::new("value".into(), CELLS.iter().map(|c| c.0).collect::<Vec<_>>());
    write_parquet(&mut measurements_frame(values, n), &dir.path().join("measurements.parquet"));
    let loaded = load_cohort(dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
    check_loaded(&loaded.cohort);
    assert_eq!(loaded.report.qualified_values, qualified_counts());
}

#[test]
fn numeric_parquet_column_stays_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("patients.csv"), PATIENTS).expect("write patients");
    let n = 3;
    let values = Series::new("value".into(), vec![40000.0f64, 50000.0, 0.1]);
    write_parquet(&mut measurements_frame(values, n), &dir.path().join("measurements.parquet"));
    let loaded = load_cohort(dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
    let ms = &loaded.cohort.measurements;
    assert_eq!(ms.len(), 3);
    assert!(ms.iter().all(|m| m.qualifier == Qualifier::None));
    assert!(loaded.report.qualified_values.is_empty());
}

/// Bad cells are errors at table `measurements`, their row, column `value`, with the text found;
/// with quarantine the row is rejected (never silently dropped) and the rest loads.
#[test]
fn bad_qualifiers_are_errors_with_row_and_column() {
    let bad = [">>5", "~5", ">", "> x", "5>", "=>5", "<inf", "> 5 5", "≥≥5"];
    let mut cells: Vec<(&str, &str, &str)> = vec![(">40000", "ferritin", "µg/L")];
    cells.extend(bad.iter().map(|b| (*b, "ferritin", "µg/L")));
    for format in ["csv", "parquet"] {
        let dir = tempfile::tempdir().expect("tempdir");
        if format == "csv" {
            write_csv_cohort(dir.path(), &cells);
        } else {
            fs::write(dir.path().join("patients.csv"), PATIENTS).expect("write patients");
            let n = cells.len();
            let day0 = iso_to_day("2020-01-02").unwrap();
            let mut df = DataFrame::new_infer_height(vec![
                Series::new("patient_id".into(), vec!["P1"; n]).into(),
                Series::new("date".into(), (0..n as i32).map(|i| day0 + i).collect::<Vec<_>>())
                    .cast(&DataType::Date)
                    .expect("date")
                    .into(),
                Series::new("analyte".into(), vec!["ferritin"; n]).into(),
                Series::new("value".into(), cells.iter().map(|c| c.0).collect::<Vec<_>>()).into(),
                Series::new("unit".into(), vec!["µg/L"; n]).into(),
            ])
            .expect("frame");
            write_parquet(&mut df, &dir.path().join("measurements.parquet"));
        }
        let err = match load_cohort(dir.path(), &LoadOptions { quarantine: false }) {
            Err(CohortError::Invalid(r)) => r,
            Err(e) => panic!("{format}: unexpected error {e}"),
            Ok(_) => panic!("{format}: bad qualifiers must not load"),
        };
        assert_eq!(err.error_count, bad.len() as u64, "{format}: {err}");
        for (k, b) in bad.iter().enumerate() {
            let row = k as u64 + 2;
            let i = err
                .issues
                .iter()
                .find(|i| i.row == Some(row))
                .unwrap_or_else(|| panic!("{format}: no issue at row {row}: {err}"));
            assert_eq!((i.severity, i.kind), (Severity::Error, IssueKind::BadValue), "{format} {b}");
            assert_eq!(i.table, "measurements");
            assert_eq!(i.column.as_deref(), Some("value"));
            assert_eq!(i.found.as_deref(), Some(b.trim()), "{format} {b}");
            let expected = i.expected.as_deref().unwrap_or("");
            assert!(expected.contains("decimal point") && expected.contains(">40000"), "{expected}");
            let line = i.to_string();
            assert!(line.starts_with(&format!("error measurements row {row}, column value:")), "{line}");
        }
        let q = load_cohort(dir.path(), &LoadOptions { quarantine: true }).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.cohort.measurements.len(), 1);
        assert_eq!(q.cohort.measurements[0].qualifier, Qualifier::Gt);
        assert_eq!(q.report.rejected_count, bad.len() as u64);
        assert_eq!(q.report.qualified_values.get("ferritin"), Some(&1));
    }
}

/// A bound keeps its direction in the canonical unit only if every conversion is increasing.
#[test]
fn every_unit_conversion_is_increasing() {
    for a in Analyte::ALL {
        for u in units_of(a) {
            let xs = [-40.0, 0.0, 0.1, 1.0, 37.0, 40000.0, 1.0e6];
            for w in xs.windows(2) {
                assert!(u.conversion.apply(w[0]) < u.conversion.apply(w[1]), "{a} {}", u.name);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Detection
// ------------------------------------------------------------------------------------------

const UNITS: [&str; 5] = ["µg/L", "10^9/L", "°C", "g/L", "mmol/L"];

fn base() -> Day {
    iso_to_day("2020-01-01").unwrap()
}

#[derive(Default)]
struct Builder {
    patients: Vec<Patient>,
    ms: Vec<Measurement>,
}

impl Builder {
    fn patient(&mut self, id: &str) -> PatientIdx {
        self.patients.push(Patient {
            id: id.into(),
            diagnosis: base(),
            last_contact: base() + 365,
            death: None,
            sex: None,
            age: None,
        });
        (self.patients.len() - 1) as PatientIdx
    }
    /// A value with a qualifier (`""` for an exact value); returns its row.
    fn lab(&mut self, p: PatientIdx, day: i32, a: Analyte, q: &str, v: f64) -> u32 {
        let qualifier = match q {
            "" => Qualifier::None,
            "<" => Qualifier::Lt,
            "<=" => Qualifier::Le,
            ">" => Qualifier::Gt,
            ">=" => Qualifier::Ge,
            _ => panic!("qualifier {q}"),
        };
        let unit = UNITS.iter().position(|u| *u == a.canonical_unit()).expect("unit") as u16;
        let row = self.ms.len() as u32 + 1;
        self.ms.push(Measurement { patient: p, day: base() + day, analyte: a, unit, value: v, raw_value: v, row, qualifier });
        row
    }
    fn build(self) -> Cohort {
        Cohort::new(self.patients, self.ms, vec![], vec![], vec![], UNITS.iter().map(|s| s.to_string()).collect())
    }
}

/// A set whose criteria each read one comparison (count rule, 1 of n).
const DECISIONS: &str = r#"
name = "qualified_decisions"
description = "test set"
episode_gap_days = 14
companion_hscore = false

[rule]
kind = "count"
min = 1

[adaptations]
cytopenia_mode = "count"
aplasia_days = 42
aplasia_intensities = ["intensive"]

[[criteria]]
name = "ferritin_ge_10000"
kind = "lab"
analyte = "ferritin"
comparator = ">="
threshold = 10000.0
window_days = 7

[[criteria]]
name = "ferritin_gt_40000"
kind = "lab"
analyte = "ferritin"
comparator = ">"
threshold = 40000.0
window_days = 7

[[criteria]]
name = "neutrophils_lt_1"
kind = "lab"
analyte = "neutrophils"
comparator = "<"
threshold = 1.0
window_days = 7

[[criteria]]
name = "neutrophils_ge_0.5"
kind = "lab"
analyte = "neutrophils"
comparator = ">="
threshold = 0.5
window_days = 7

[[criteria]]
name = "neutrophils_le_0.1"
kind = "lab"
analyte = "neutrophils"
comparator = "<="
threshold = 0.1
window_days = 7

[[criteria]]
name = "ferritin_points"
kind = "lab_points"
analyte = "ferritin"
worst = "max"
window_days = 7
bands = [
  { below = 2000.0, points = 0.0 },
  { from = 2000.0, to = 6000.0, points = 35.0 },
  { above = 6000.0, points = 50.0 },
]
"#;

fn decisions() -> CriteriaSet {
    CriteriaSet::from_toml_str(DECISIONS, "qualified_decisions.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// (evaluable, met) of one criterion.
fn status<'a>(e: &'a [CriterionStatus], name: &str) -> &'a CriterionStatus {
    e.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no criterion {name}"))
}

/// Evaluate one patient with the given values (all on day 1) on day `on`, returning
/// `(evaluable, met)` for each criterion name asked.
fn eval(values: &[(i32, Analyte, &str, f64)], on: i32, names: &[&str]) -> Vec<(bool, bool)> {
    let mut b = Builder::default();
    let p = b.patient("Q");
    for &(d, a, q, v) in values {
        b.lab(p, d, a, q, v);
    }
    let c = b.build();
    let e = evaluate_at(&c, &decisions(), 0, base() + on);
    names
        .iter()
        .map(|n| {
            let s = status(&e.criteria, n);
            (s.evaluable, s.met)
        })
        .collect()
}

const MET: (bool, bool) = (true, true);
const NOT_MET: (bool, bool) = (true, false);
const NOT_EVALUABLE: (bool, bool) = (false, false);

#[test]
fn bound_decides_a_comparison_only_when_every_allowed_value_does() {
    use Analyte::{Ferritin as F, Neutrophils as N};
    let ge = "ferritin_ge_10000";
    let gt = "ferritin_gt_40000";
    // >40000 meets ferritin >= 10000 (true value > 40000 >= 10000) and > 40000.
    assert_eq!(eval(&[(1, F, ">", 40000.0)], 1, &[ge, gt]), [MET, MET]);
    // >=40000: meets >= 10000; against > 40000 it may be exactly 40000: not evaluable.
    assert_eq!(eval(&[(1, F, ">=", 40000.0)], 1, &[ge, gt]), [MET, NOT_EVALUABLE]);
    // >5 against >= 10000: undecided, not evaluable.
    assert_eq!(eval(&[(1, F, ">", 5.0)], 1, &[ge, gt]), [NOT_EVALUABLE, NOT_EVALUABLE]);
    // <10000 decides "not >= 10000"; <=10000 does not (it may be 10000).
    assert_eq!(eval(&[(1, F, "<", 10000.0)], 1, &[ge]), [NOT_MET]);
    assert_eq!(eval(&[(1, F, "<=", 10000.0)], 1, &[ge]), [NOT_EVALUABLE]);
    assert_eq!(eval(&[(1, F, "<=", 9999.0)], 1, &[ge]), [NOT_MET]);
    // <0.1 meets neutrophils < 1.0 and <= 0.1, and is decided NOT to meet >= 0.5.
    let (lt1, ge05, le01) = ("neutrophils_lt_1", "neutrophils_ge_0.5", "neutrophils_le_0.1");
    assert_eq!(eval(&[(1, N, "<", 0.1)], 1, &[lt1, ge05, le01]), [MET, NOT_MET, MET]);
    // <=0.1 meets <= 0.1 too; <2 decides none of the three.
    assert_eq!(eval(&[(1, N, "<=", 0.1)], 1, &[lt1, ge05, le01]), [MET, NOT_MET, MET]);
    assert_eq!(eval(&[(1, N, "<", 2.0)], 1, &[lt1, ge05, le01]), [NOT_EVALUABLE, NOT_EVALUABLE, NOT_EVALUABLE]);
    // <1 meets < 1.0 (x < 1); <=1 does not decide it (x may be 1).
    assert_eq!(eval(&[(1, N, "<", 1.0)], 1, &[lt1]), [MET]);
    assert_eq!(eval(&[(1, N, "<=", 1.0)], 1, &[lt1]), [NOT_EVALUABLE]);
    // >0.5 meets >= 0.5 and is decided not to meet < 1.0? No: it may be 0.6: undecided.
    assert_eq!(eval(&[(1, N, ">", 0.5)], 1, &[ge05, lt1]), [MET, NOT_EVALUABLE]);
    // >=1 is decided not to meet < 1.0.
    assert_eq!(eval(&[(1, N, ">=", 1.0)], 1, &[lt1]), [NOT_MET]);
}

#[test]
fn other_values_in_the_window_decide_what_a_bound_does_not() {
    use Analyte::Ferritin as F;
    let ge = "ferritin_ge_10000";
    // another value that meets it decides: met (evidence is that value)
    assert_eq!(eval(&[(1, F, ">", 5.0), (2, F, "", 12000.0)], 2, &[ge]), [MET]);
    assert_eq!(eval(&[(1, F, "", 12000.0), (2, F, ">", 5.0)], 2, &[ge]), [MET]);
    // an exact value below the threshold does not decide it: >5 may still be above 10000
    assert_eq!(eval(&[(1, F, ">", 5.0), (2, F, "", 3000.0)], 2, &[ge]), [NOT_EVALUABLE]);
    // a bound that decides "not met" with an exact value not meeting it: not met
    assert_eq!(eval(&[(1, F, "<", 500.0), (2, F, "", 3000.0)], 2, &[ge]), [NOT_MET]);
    // once the undecided value leaves the 7-day window, the exact value decides
    assert_eq!(eval(&[(1, F, ">", 5.0), (5, F, "", 3000.0)], 9, &[ge]), [NOT_MET]);
    // and the met bound leaves the window too
    assert_eq!(eval(&[(1, F, ">", 40000.0), (5, F, "", 3000.0)], 8, &[ge]), [MET]);
    assert_eq!(eval(&[(1, F, ">", 40000.0), (5, F, "", 3000.0)], 9, &[ge]), [NOT_MET]);
}

#[test]
fn the_deciding_value_is_the_source() {
    use Analyte::Ferritin as F;
    let mut b = Builder::default();
    let p = b.patient("Q");
    let exact = b.lab(p, 1, F, "", 40000.0);
    let above = b.lab(p, 2, F, ">", 40000.0);
    let later_exact = b.lab(p, 3, F, "", 40000.0);
    let c = b.build();
    let e = evaluate_at(&c, &decisions(), 0, base() + 3);
    // > 40000: only the qualified value decides it, although an exact 40000 is more recent
    let gt = status(&e.criteria, "ferritin_gt_40000");
    assert!(gt.met);
    assert_eq!(gt.sources.iter().map(|s| s.row).collect::<Vec<_>>(), [above]);
    // >= 10000: all three meet it; the worst is ">40000" (at least 40000, above an exact 40000)
    let ge = status(&e.criteria, "ferritin_ge_10000");
    assert_eq!(ge.sources.iter().map(|s| s.row).collect::<Vec<_>>(), [above]);
    let _ = (exact, later_exact);
}

#[test]
fn points_bands_use_the_bound_when_it_decides_the_band() {
    use Analyte::Ferritin as F;
    let set = decisions();
    let points = |values: &[(i32, &str, f64)]| {
        let mut b = Builder::default();
        let p = b.patient("Q");
        for &(d, q, v) in values {
            b.lab(p, d, F, q, v);
        }
        let c = b.build();
        let e = evaluate_at(&c, &set, 0, base() + 2);
        let s = status(&e.criteria, "ferritin_points");
        (s.evaluable, s.met, s.points)
    };
    // no score rule: points are not reported (None), but met = points > 0 and evaluability follow the band
    assert_eq!(points(&[(1, ">", 40000.0)]), (true, true, None));
    assert_eq!(points(&[(1, ">", 6000.0)]), (true, true, None)); // above 6000: 50
    assert_eq!(points(&[(1, ">=", 6000.0)]), (false, false, None)); // 6000 (35) or more (50)
    assert_eq!(points(&[(1, "<", 2000.0)]), (true, false, None)); // 0 points, decided
    assert_eq!(points(&[(1, "<", 3000.0)]), (false, false, None)); // 0 or 35
    assert_eq!(points(&[(1, ">", 1000.0)]), (false, false, None));
    // an exact value above the upper bound of a "<" value: the max is that value
    assert_eq!(points(&[(1, "<", 3000.0), (2, "", 7000.0)]), (true, true, None));
    // an exact value inside [2000, 6000] with a ">2500": max is in (2500, inf): undecided
    assert_eq!(points(&[(1, ">", 2500.0), (2, "", 3000.0)]), (false, false, None));
}

/// The built-in HScore: ferritin `>40000` gives the 50 points of "> 6000", and the HScore is
/// re-added exactly with it.
#[test]
fn hscore_uses_the_decided_band() {
    use Analyte::{Ferritin as F, Temperature as T};
    let hs = CriteriaSet::builtin("hscore").expect("hscore");
    let mut b = Builder::default();
    let p = b.patient("Q");
    b.lab(p, 1, F, ">", 40000.0);
    b.lab(p, 1, T, ">", 39.4);
    let c = b.build();
    let e = evaluate_at(&c, &hs, 0, base() + 1);
    assert_eq!(status(&e.criteria, "ferritin").points, Some(50.0));
    assert_eq!(status(&e.criteria, "temperature").points, Some(49.0));
    assert_eq!(e.score, Some(99.0));
    // ">38" is 33 or 49 points (or 0 below 38.4): not evaluable, 0 points
    let mut b = Builder::default();
    let p = b.patient("Q");
    b.lab(p, 1, T, ">", 38.0);
    let c = b.build();
    let e = evaluate_at(&c, &hs, 0, base() + 1);
    let t = status(&e.criteria, "temperature");
    assert_eq!((t.evaluable, t.points), (false, Some(0.0)));
}

/// HLH-2004 on a patient whose extreme values are all qualified: found, with the qualifier in
/// the evidence (CSV and struct).
#[test]
fn hlh2004_episode_with_qualified_values_and_evidence() {
    use Analyte::{Ferritin as F, Neutrophils as N, Platelets as P, Temperature as T};
    let set = CriteriaSet::builtin("hlh2004").expect("hlh2004");
    let mut b = Builder::default();
    let p = b.patient("HLHQ");
    b.lab(p, 10, T, "", 39.5);
    b.lab(p, 10, P, "", 40.0);
    b.lab(p, 10, N, "<", 0.1);
    let ferritin_row = b.lab(p, 11, F, ">", 40000.0);
    let c = b.build();
    // fever, cytopenias (neutrophils < 1.0 and platelets < 100: 2 lineages), ferritin: 3 of 8
    let e = evaluate_at(&c, &set, 0, base() + 11);
    assert!(status(&e.criteria, "ferritin").met);
    assert!(status(&e.criteria, "cytopenias").met);
    assert_eq!(e.n_met, 3);

    // with min = 3 an episode starts on day 11; its evidence shows the bound and qualifier
    let toml = set.to_toml_string().expect("toml").replace("min = 5", "min = 3");
    let set3 = CriteriaSet::from_toml_str(&toml, "hlh2004_3.toml").unwrap_or_else(|e| panic!("{e}"));
    let d = detect(&c, &set3);
    assert_eq!(d.episodes.len(), 1);
    assert_eq!(d.episodes[0].onset, base() + 11);
    let ferritin = d
        .evidence
        .iter()
        .find(|r| r.criterion == "ferritin" && r.table == EvidenceTable::Measurements)
        .expect("ferritin evidence");
    assert_eq!((ferritin.source_row, ferritin.value, ferritin.value_qualifier), (ferritin_row, Some(40000.0), Qualifier::Gt));
    let neutrophils = d.evidence.iter().find(|r| r.item == "neutrophils").expect("neutrophil evidence");
    assert_eq!((neutrophils.value, neutrophils.value_qualifier), (Some(0.1), Qualifier::Lt));
    let temperature = d.evidence.iter().find(|r| r.item == "temperature").expect("temperature evidence");
    assert_eq!(temperature.value_qualifier, Qualifier::None);

    let buf = d.evidence_table("evidence").to_csv_bytes().expect("csv");
    let csv = String::from_utf8(buf).expect("utf8");
    let mut lines = csv.lines();
    assert!(lines.next().expect("header").ends_with(",raw_value,raw_unit,value,unit,value_qualifier"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|l| l.contains(",ferritin,40000,µg/L,40000,µg/L,>")), "{csv}");
    assert!(rows.iter().any(|l| l.contains(",neutrophils,0.1,10^9/L,0.1,10^9/L,<")), "{csv}");
    assert!(rows.iter().any(|l| l.ends_with(",temperature,39.5,°C,39.5,°C,")), "{csv}");
    assert_eq!(hemosurv::hlh::EVIDENCE_COLUMNS.last(), Some(&"value_qualifier"));
}

/// Temporal primitives: a rise is judged on the bound (decided only when the bound decides the
/// absolute threshold and the rise), and qualified earlier values are left out of the baseline.
#[test]
fn relative_rise_with_qualified_values() {
    use Analyte::Ferritin as F;
    let toml = r#"
name = "rise"
description = "test set"
episode_gap_days = 14
companion_hscore = false

[rule]
kind = "count"
min = 1

[adaptations]
cytopenia_mode = "count"
aplasia_days = 42
aplasia_intensities = ["intensive"]

[[criteria]]
name = "ferritin_rise"
kind = "lab"
analyte = "ferritin"
comparator = ">="
threshold = 3000.0
relative = { baseline = "min", lookback_days = 14, comparator = ">=", factor = 3.0 }
window_days = 7
"#;
    let set = CriteriaSet::from_toml_str(toml, "rise.toml").unwrap_or_else(|e| panic!("{e}"));
    let rise = |values: &[(i32, &str, f64)]| {
        let mut b = Builder::default();
        let p = b.patient("Q");
        for &(d, q, v) in values {
            b.lab(p, d, F, q, v);
        }
        let c = b.build();
        let e = evaluate_at(&c, &set, 0, base() + 5);
        let s = status(&e.criteria, "ferritin_rise");
        (s.evaluable, s.met)
    };
    // exact baseline 1000, then >5000: at least 5x: met
    assert_eq!(rise(&[(1, "", 1000.0), (5, ">", 5000.0)]), MET);
    // exact baseline 1000, then >2000: may or may not reach 3000: not evaluable
    assert_eq!(rise(&[(1, "", 1000.0), (5, ">", 2000.0)]), NOT_EVALUABLE);
    // exact baseline 2000, then >4000: meets 3000, the rise (>= 6000) is undecided
    assert_eq!(rise(&[(1, "", 2000.0), (5, ">", 4000.0)]), NOT_EVALUABLE);
    // exact baseline 2000, then <5000: does not decide ">= 3000": not evaluable
    assert_eq!(rise(&[(1, "", 2000.0), (5, "<", 5000.0)]), NOT_EVALUABLE);
    // <2000 decides "not >= 3000": evaluable, not met
    assert_eq!(rise(&[(1, "", 500.0), (5, "<", 2000.0)]), NOT_MET);
    // the only earlier value is qualified: no baseline for day 5 (not evaluable itself); the
    // "<500" of day 1 is decided not to meet ">= 3000", so the window is evaluable, not met
    assert_eq!(rise(&[(1, "<", 500.0), (5, "", 9000.0)]), NOT_MET);
    // qualified earlier values are left out of the baseline: min of the exact 1500 only, and
    // 4000 < 3 x 1500 (with the bound 1000 of "<1000" it would have been met)
    assert_eq!(rise(&[(1, "", 1500.0), (3, "<", 1000.0), (5, "", 4000.0)]), NOT_MET);
    assert_eq!(rise(&[(1, "<", 500.0), (2, "", 1000.0), (5, "", 9000.0)]), MET);
}

/// The same cohort gives the same detection with and without qualified values when the bounds
/// decide every comparison the same way as the exact values would.
#[test]
fn decided_bounds_give_the_exact_detection() {
    use Analyte::{Ferritin as F, Neutrophils as N, Platelets as P, Temperature as T};
    let set = CriteriaSet::builtin("hlh2004").expect("hlh2004");
    let toml = set.to_toml_string().expect("toml").replace("min = 5", "min = 3");
    let set3 = CriteriaSet::from_toml_str(&toml, "hlh2004_3.toml").unwrap_or_else(|e| panic!("{e}"));
    let build = |qualified: bool| {
        let mut b = Builder::default();
        for k in 0..20 {
            let p = b.patient(&format!("P{k}"));
            let d = 5 + k;
            b.lab(p, d, T, "", 38.0 + 0.1 * k as f64);
            b.lab(p, d, P, "", 30.0 + 5.0 * k as f64);
            let (q, v) = if qualified && k % 2 == 0 { ("<", 0.1) } else { ("", 0.05) };
            b.lab(p, d, N, q, v);
            let (q, v) = match (qualified && k % 3 == 0, k % 5 == 4) {
                (_, true) => ("", 300.0),
                (true, false) => (">", 40000.0),
                (false, false) => ("", 52000.0),
            };
            b.lab(p, d + 1, F, q, v);
        }
        b.build()
    };
    let exact = detect(&build(false), &set3);
    let qualified = detect(&build(true), &set3);
    assert!(!exact.episodes.is_empty());
    assert_eq!(exact.episodes, qualified.episodes);
    assert_eq!(exact.summary, qualified.summary);
}

// ------------------------------------------------------------------------------------------
// Simulator
// ------------------------------------------------------------------------------------------

/// The simulator's default emits qualified values (`>40000` ferritin, `<0.1` neutrophils);
/// they load (CSV and Parquet) with the counts the simulator reports, each bound lies on the
/// right side of the exact value the same seed gives without qualifiers, and HLH-2004 (whose
/// thresholds every such bound decides) finds exactly the same episodes.
#[test]
fn simulated_qualified_values_load_and_detect_like_exact_values() {
    use hemosurv::simulate::{simulate, SimFormat, SimOptions, SimParams};
    let (n, seed) = (400, 17);
    let exact_dir = tempfile::tempdir().expect("tempdir");
    let mut opts = SimOptions::new(n, seed, exact_dir.path(), SimFormat::Csv);
    opts.params = SimParams { qualified_values_fraction: 0.0, ..SimParams::default() };
    simulate(&opts).unwrap_or_else(|e| panic!("{e}"));
    let exact = load_cohort(exact_dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
    assert!(exact.report.qualified_values.is_empty());
    let set = CriteriaSet::builtin("hlh2004").expect("hlh2004");
    let exact_detection = detect(&exact.cohort, &set);
    assert!(!exact_detection.episodes.is_empty());

    for format in [SimFormat::Csv, SimFormat::Parquet] {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(SimParams::default().qualified_values_fraction > 0.0);
        let summary = simulate(&SimOptions::new(n, seed, dir.path(), format)).unwrap_or_else(|e| panic!("{e}"));
        let q = load_cohort(dir.path(), &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}"));
        let counted: u64 = q.report.qualified_values.values().sum();
        assert!(counted > 0, "{format:?}");
        assert_eq!(counted, summary.qualified_values as u64, "{format:?}");
        assert!(q.report.qualified_values.keys().all(|a| a == "ferritin" || a == "neutrophils"));

        let (a, b) = (&exact.cohort.measurements, &q.cohort.measurements);
        assert_eq!(a.len(), b.len());
        let mut seen = [0usize; 2];
        for (x, y) in a.iter().zip(b) {
            assert_eq!((x.patient, x.day, x.analyte, x.row), (y.patient, y.day, y.analyte, y.row));
            match y.qualifier {
                Qualifier::None => assert_eq!(x.value, y.value),
                Qualifier::Gt => {
                    assert_eq!((y.analyte, y.value), (Analyte::Ferritin, 40000.0));
                    assert!(x.value > y.value, "{x:?} {y:?}");
                    seen[0] += 1;
                }
                Qualifier::Lt => {
                    assert_eq!((y.analyte, y.value), (Analyte::Neutrophils, 0.1));
                    assert!(x.value < y.value, "{x:?} {y:?}");
                    seen[1] += 1;
                }
                other => panic!("unexpected qualifier {other:?}"),
            }
        }
        eprintln!("{format:?}: qualified {:?}, >40000 {}, <0.1 {}", q.report.qualified_values, seen[0], seen[1]);
        assert!(seen[1] > 0, "{format:?}: no <0.1 neutrophils");
        let d = detect(&q.cohort, &set);
        assert_eq!(d.episodes, exact_detection.episodes, "{format:?}");
        assert_eq!(d.summary, exact_detection.summary, "{format:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Cross-check: the sweep against a brute-force evaluation with explicit intervals
// ------------------------------------------------------------------------------------------

/// The values a measurement allows: `(lo, lo_open, hi, hi_open)`.
fn interval(m: &Measurement) -> (f64, bool, f64, bool) {
    let v = m.value;
    match m.qualifier {
        Qualifier::None => (v, false, v, false),
        Qualifier::Gt => (v, true, f64::INFINITY, true),
        Qualifier::Ge => (v, false, f64::INFINITY, true),
        Qualifier::Lt => (f64::NEG_INFINITY, true, v, true),
        Qualifier::Le => (f64::NEG_INFINITY, true, v, false),
    }
}

/// Whether every value of the interval meets `x (cmp) thr`, and whether none does.
fn all_none(iv: (f64, bool, f64, bool), cmp: hemosurv::hlh::Comparator, thr: f64) -> (bool, bool) {
    use hemosurv::hlh::Comparator::*;
    let (lo, lo_open, hi, hi_open) = iv;
    match cmp {
        Ge => (lo >= thr, hi < thr || (hi == thr && hi_open)),
        Gt => (lo > thr || (lo == thr && lo_open), hi <= thr),
        Le => (hi <= thr, lo > thr || (lo == thr && lo_open)),
        Lt => (hi < thr || (hi == thr && hi_open), lo >= thr),
    }
}

/// Whether every value of `iv` lies in the band, and whether none does.
fn band_all_none(iv: (f64, bool, f64, bool), b: &hemosurv::hlh::Band) -> (bool, bool) {
    use hemosurv::hlh::Comparator::*;
    let lower = b.lower.map(|l| all_none(iv, if l.inclusive { Ge } else { Gt }, l.value));
    let upper = b.upper.map(|u| all_none(iv, if u.inclusive { Le } else { Lt }, u.value));
    let all = lower.is_none_or(|x| x.0) && upper.is_none_or(|x| x.0);
    let none = lower.is_some_and(|x| x.1) || upper.is_some_and(|x| x.1);
    (all, none)
}

/// (evaluable, met, points) of a criterion without temporal primitives on `day`, brute force.
#[allow(clippy::type_complexity)]
fn brute_criterion(c: &Cohort, p: PatientIdx, cr: &hemosurv::hlh::Criterion, day: Day) -> (bool, bool, f64) {
    use hemosurv::hlh::{CriterionKind, Test, Worst};
    let window = |a: Analyte, w: u32| -> Vec<(f64, bool, f64, bool)> {
        c.measurements_of(p).iter().filter(|m| m.analyte == a && m.day <= day && m.day >= day - w as i32).map(interval).collect()
    };
    // (evaluable, met) of one test: met if some value surely meets it, evaluable if met or
    // every value surely does not.
    let test = |t: &Test, w: u32| -> (bool, bool) {
        match t {
            Test::Lab { analyte, comparator, threshold } => {
                let vals = window(*analyte, w);
                let met = vals.iter().any(|iv| all_none(*iv, *comparator, *threshold).0);
                let not = !vals.is_empty() && vals.iter().all(|iv| all_none(*iv, *comparator, *threshold).1);
                (met || not, met)
            }
            Test::Finding(_) => (false, false),
        }
    };
    match &cr.kind {
        CriterionKind::Single(t) => {
            let (e, m) = test(t, cr.window_for(t, None));
            (e, m, if m { cr.points.unwrap_or(0.0) } else { 0.0 })
        }
        CriterionKind::CountOf { conditions, min, count_points } => {
            let (mut any, mut k) = (false, 0u32);
            for cd in conditions {
                let (e, m) = test(&cd.test, cr.window_for(&cd.test, cd.window_days));
                any |= e;
                k += u32::from(m);
            }
            let met = k >= *min;
            let pts = if count_points.is_empty() {
                if met {
                    cr.points.unwrap_or(0.0)
                } else {
                    0.0
                }
            } else {
                count_points.iter().find(|x| x.count == k).map_or(0.0, |x| x.points)
            };
            (any, met, pts)
        }
        CriterionKind::LabPoints { analyte, worst, bands } => {
            let vals = window(*analyte, cr.points_window());
            if vals.is_empty() {
                return (false, false, 0.0);
            }
            // The interval of the true worst value: ends are the worst ends; on a tie an end is
            // open only if every tied end is open (max) / closed if any is closed.
            let pick =
                |better: &dyn Fn(f64, f64) -> bool, end: &dyn Fn(&(f64, bool, f64, bool)) -> (f64, bool), open_wins: bool| {
                    let mut best = end(&vals[0]);
                    for iv in &vals[1..] {
                        let e = end(iv);
                        if better(e.0, best.0) {
                            best = e;
                        } else if e.0 == best.0 {
                            best.1 = if open_wins { best.1 || e.1 } else { best.1 && e.1 };
                        }
                    }
                    best
                };
            let iv = match worst {
                Worst::Max => {
                    let lo = pick(&|a, b| a > b, &|iv| (iv.0, iv.1), true);
                    let hi = pick(&|a, b| a > b, &|iv| (iv.2, iv.3), false);
                    (lo.0, lo.1, hi.0, hi.1)
                }
                Worst::Min => {
                    let lo = pick(&|a, b| a < b, &|iv| (iv.0, iv.1), false);
                    let hi = pick(&|a, b| a < b, &|iv| (iv.2, iv.3), true);
                    (lo.0, lo.1, hi.0, hi.1)
                }
            };
            if let Some(b) = bands.iter().find(|b| band_all_none(iv, b).0) {
                (true, b.points > 0.0, b.points)
            } else if bands.iter().all(|b| band_all_none(iv, b).1) {
                (true, false, 0.0)
            } else {
                (false, false, 0.0)
            }
        }
    }
}

/// Random patients whose values sit on and around the thresholds and band edges of the sets,
/// a third of them qualified: every criterion of `qualified_decisions` and of the HScore, on
/// every day of follow-up, equals the brute-force evaluation.
#[test]
fn sweep_matches_brute_force_interval_evaluation() {
    use Analyte::*;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let grid: [(Analyte, &[f64]); 7] = [
        (Ferritin, &[300.0, 500.0, 1999.0, 2000.0, 6000.0, 9999.0, 10000.0, 40000.0, 50000.0]),
        (Neutrophils, &[0.05, 0.1, 0.5, 0.9, 1.0, 2.0]),
        (Temperature, &[37.0, 38.4, 39.0, 39.4, 40.0]),
        (Hemoglobin, &[80.0, 92.0, 120.0]),
        (Leukocytes, &[1.0, 5.0, 8.0]),
        (Platelets, &[20.0, 110.0, 200.0]),
        (Triglycerides, &[1.0, 1.5, 4.0, 5.0]),
    ];
    let quals = ["", "", "", "", "<", "<=", ">", ">="];
    let mut b = Builder::default();
    for k in 0..25 {
        let p = b.patient(&format!("R{k}"));
        let mut rows: Vec<(i32, Analyte, &str, f64)> = Vec::new();
        for _ in 0..40 {
            let (a, vals) = grid[(next() % grid.len() as u64) as usize];
            let v = vals[(next() % vals.len() as u64) as usize];
            let q = quals[(next() % quals.len() as u64) as usize];
            rows.push(((next() % 40) as i32, a, q, v));
        }
        rows.sort_by_key(|r| r.0);
        for (d, a, q, v) in rows {
            b.lab(p, d, a, q, v);
        }
    }
    let c = b.build();
    let qualified = c.measurements.iter().filter(|m| m.qualifier.is_qualified()).count();
    assert!(qualified > 200, "{qualified}");
    let (mut checked, mut undecided, mut met) = (0usize, 0usize, 0usize);
    for set in [decisions(), CriteriaSet::builtin("hscore").expect("hscore")] {
        for p in 0..c.patients.len() as PatientIdx {
            for day in 0..50 {
                let e = evaluate_at(&c, &set, p, base() + day);
                for (cr, st) in set.criteria.iter().zip(&e.criteria) {
                    let (ev, mt, pts) = brute_criterion(&c, p, cr, base() + day);
                    assert_eq!((st.evaluable, st.met), (ev, mt), "{} {} day {day}", set.name, cr.name);
                    if let Some(sp) = st.points {
                        assert_eq!(sp, pts, "{} {} day {day}", set.name, cr.name);
                    }
                    checked += 1;
                    // not evaluable although the criterion's analyte has values in its window
                    if let hemosurv::hlh::CriterionKind::Single(t @ hemosurv::hlh::Test::Lab { analyte, .. }) = &cr.kind {
                        let lo = base() + day - cr.window_for(t, None) as i32;
                        let has_data =
                            c.measurements_of(p).iter().any(|m| m.analyte == *analyte && m.day >= lo && m.day <= base() + day);
                        undecided += usize::from(!ev && has_data);
                    }
                    met += usize::from(mt);
                }
            }
        }
    }
    eprintln!("checked {checked} criterion-days ({met} met, {undecided} lab criterion-days not evaluable with data in the window), {qualified} qualified values");
    assert!(met > 1000 && undecided > 100, "{met} {undecided}");
}
