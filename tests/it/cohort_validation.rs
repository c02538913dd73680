//! Loading and validation of cohort folders (tests/fixtures/cohorts/*).
//!
//! Every error and warning of the data contract has a fixture folder that is
//! the `valid` cohort with one change; the tests assert the table, 1-based
//! data row and column the problem is reported at.

use std::fs;
use std::path::{Path, PathBuf};

use hemosurv::cohort::{
    iso_to_day, load_cohort, validate_dir, Analyte, CohortError, Covariate, CovariateValues, FindingKind, Intensity, IssueKind,
    LoadOptions, Response, Severity, ValidationReport,
};
use polars::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cohorts")).join(name)
}

fn strict() -> LoadOptions {
    LoadOptions { quarantine: false }
}

fn quarantine() -> LoadOptions {
    LoadOptions { quarantine: true }
}

fn day(s: &str) -> i32 {
    iso_to_day(s).expect("valid test date")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// Assert exactly one stored issue matches and return it.
fn one_issue<'r>(
    r: &'r ValidationReport,
    severity: Severity,
    kind: IssueKind,
    table: &str,
    row: Option<u64>,
    column: Option<&str>,
) -> &'r hemosurv::cohort::Issue {
    let hits: Vec<_> = r
        .issues
        .iter()
        .filter(|i| i.severity == severity && i.kind == kind && i.table == table && i.row == row && i.column.as_deref() == column)
        .collect();
    assert_eq!(hits.len(), 1, "expected one {kind:?} at {table} row {row:?} column {column:?}; report:\n{r}");
    hits[0]
}

/// A fixture with exactly one error: strict load fails with it, validate_dir reports it.
fn single_error(case: &str, kind: IssueKind, table: &str, row: Option<u64>, column: &str) -> hemosurv::cohort::Issue {
    let r = validate_dir(&fixture(case), &strict());
    assert_eq!(r.error_count, 1, "{case}: {r}");
    let issue = one_issue(&r, Severity::Error, kind, table, row, Some(column)).clone();
    // the text rendering names table, row and column
    let text = r.render_text(50);
    let loc = match row {
        Some(n) => format!("error {table} row {n}, column {column}: "),
        None => format!("error {table}, column {column}: "),
    };
    assert!(text.contains(&loc), "{case}: missing `{loc}` in\n{text}");
    match load_cohort(&fixture(case), &strict()) {
        Err(CohortError::Invalid(rep)) => {
            assert_eq!(rep.error_count, 1);
            assert_eq!(rep.issues.iter().find(|i| i.severity == Severity::Error), Some(&issue));
        }
        Err(e) => panic!("{case}: unexpected error {e}"),
        Ok(_) => panic!("{case}: strict load must fail"),
    }
    issue
}

// ---------------------------------------------------------------- valid cohort

#[test]
fn valid_cohort_loads_with_normalised_units() {
    let loaded = load_cohort(&fixture("valid"), &strict()).expect("valid cohort loads");
    let r = &loaded.report;
    assert_eq!((r.error_count, r.warning_count, r.rejected_count), (0, 0, 0), "{r}");
    let c = &loaded.cohort;

    // patients: input order, dates, death via empty and NA, datetime floored, covariates
    let ids: Vec<&str> = c.patients.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["P1", "P2", "P3", "P4"]);
    let p1 = &c.patients[0];
    assert_eq!((p1.diagnosis, p1.last_contact, p1.death), (day("2020-01-10"), day("2021-06-30"), None));
    assert_eq!(p1.sex.as_deref(), Some("F"));
    assert_eq!(p1.age, Some(54.0));
    assert_eq!(c.patients[1].death, Some(day("2020-09-12")));
    assert_eq!(c.patients[2].age, Some(38.5));
    let p4 = &c.patients[3];
    assert_eq!(p4.diagnosis, day("2021-07-20"));
    assert_eq!(p4.death, None);
    assert_eq!(p4.age, None);
    let cov = &c.covariates;
    assert_eq!(cov.names().collect::<Vec<_>>(), ["ecog", "risk"], "sorted by name");
    assert_eq!(cov.get(0, "risk"), Some(Covariate::Text("favorable".into())));
    assert_eq!(cov.get(0, "ecog"), Some(Covariate::Number(1.0)));
    assert_eq!(cov.get(0, "nope"), None);
    assert_eq!(cov.get(4, "ecog"), None, "no fifth patient");
    assert_eq!(cov.get(3, "ecog"), Some(Covariate::Missing));
    assert_eq!(cov.get(3, "risk"), Some(Covariate::Text("adverse".into())));
    assert!(cov.column("ecog").is_some_and(|c| c.values.is_numeric()));
    let risk = &cov.column("risk").expect("risk column").values;
    assert!(risk.any_text([3]) && !risk.any_text([]), "text among the rows asked about");
    assert!(!cov.column("ecog").expect("ecog column").values.any_text(0..4), "a numeric column has no text");
    // one shared text per distinct value of a text column
    match cov.column("risk").map(|c| &c.values) {
        Some(CovariateValues::Texts { codes, values }) => {
            assert_eq!(codes, &[0, 1, 2, 1], "codes in order of first appearance");
            let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
            assert_eq!(values, ["favorable", "adverse", "intermediate"]);
        }
        other => panic!("risk should be a text column, found {other:?}"),
    }

    // measurements: every row, canonical values worked out by hand
    assert_eq!(c.measurements.len(), 13);
    let by_row = |row: u32| c.measurements.iter().find(|m| m.row == row).expect("row loaded");
    let expect: [(u32, Analyte, f64, f64, &str); 13] = [
        (1, Analyte::Hemoglobin, 5.7, 91.852_65, "mmol/L"), // 5.7 × 16.1145
        (2, Analyte::Temperature, 100.4, 38.0, "°F"),       // (100.4 − 32) × 5/9
        (3, Analyte::Hemoglobin, 9.2, 92.0, "g/dL"),
        (4, Analyte::Triglycerides, 265.0, 265.0 / 88.57, "mg/dL"), // 2.992 mmol/L
        (5, Analyte::Ferritin, 1200.0, 1200.0, "ng/mL"),
        (6, Analyte::Platelets, 45_000.0, 45.0, "/µL"),
        (7, Analyte::Neutrophils, 0.8, 0.8, "10^9/L"),
        (8, Analyte::Fibrinogen, 150.0, 1.5, "mg/dL"),
        (9, Analyte::Ast, 1.5, 90.0, "µkat/L"),
        (10, Analyte::Scd25, 3200.0, 3200.0, "U/mL"),
        (11, Analyte::Leukocytes, 12.5, 12.5, "K/uL"),
        (12, Analyte::Temperature, 39.2, 39.2, "C"),
        (13, Analyte::Ferritin, 224.7, 100.0, "pmol/L"), // 224.7 / 2.247
    ];
    for (row, analyte, raw, value, unit) in expect {
        let m = by_row(row);
        assert_eq!(m.analyte, analyte, "row {row}");
        assert_eq!(m.raw_value, raw, "row {row}");
        assert!(close(m.value, value), "row {row}: {} vs {value}", m.value);
        assert_eq!(c.unit_of(m), unit, "row {row}");
    }
    assert!((by_row(4).value - 2.992).abs() < 5e-4);
    // unit spellings: distinct, in order of first appearance
    assert_eq!(
        c.unit_spellings,
        ["mmol/L", "°F", "g/dL", "mg/dL", "ng/mL", "/µL", "10^9/L", "µkat/L", "U/mL", "K/uL", "C", "pmol/L"]
    );
    // per-patient slices sorted by day
    let p1m = c.measurements_of(0);
    assert_eq!(p1m.len(), 4);
    assert!(p1m.windows(2).all(|w| w[0].day <= w[1].day));
    // same day: sorted by analyte (leukocytes before scd25), then row
    assert_eq!(c.measurements_of(2).iter().map(|m| m.row).collect::<Vec<_>>(), [11, 10, 1]);
    assert_eq!(c.measurements_of(3).len(), 2);

    // findings, treatments, responses
    assert_eq!(c.findings.len(), 3);
    let f = &c.findings_of(2)[0];
    assert_eq!((f.finding, f.present, f.day, f.row), (FindingKind::Hepatomegaly, false, day("2021-02-05"), 3));
    assert!(c.findings_of(0)[0].present && c.findings_of(1)[0].present);
    assert_eq!(c.treatments.len(), 4);
    let t = c.treatments_of(0);
    assert_eq!((t[0].line, t[0].intensity, t[0].end), (1, Intensity::Intensive, Some(day("2020-02-20"))));
    assert_eq!((t[1].line, t[1].intensity, t[1].end), (2, Intensity::LowIntensity, None));
    assert_eq!(c.treatments_of(1)[0].intensity, Intensity::LowIntensity);
    assert_eq!(c.treatments_of(2)[0].regimen, "FLAG-Ida, then HiDAC");
    let resp: Vec<Response> = c.responses.iter().map(|r| r.response).collect();
    assert_eq!(resp, [Response::CR, Response::Relapse, Response::PD, Response::CRi]);

    // provenance
    assert_eq!(c.tables_present, ["treatments", "responses", "findings", "measurements"]);
    let tables: Vec<(&str, u64)> = loaded.inputs.iter().map(|i| (i.table.as_str(), i.rows)).collect();
    assert_eq!(tables, [("patients", 4), ("treatments", 4), ("responses", 4), ("findings", 3), ("measurements", 13)]);
    for i in &loaded.inputs {
        use sha2::Digest;
        let bytes = fs::read(&i.path).expect("read input");
        let hex: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(i.sha256, hex);
    }
    assert_eq!(r.tables["measurements"].loaded, 13);
    assert!(c.require_table("measurements", "HLH detection").is_ok());
}

#[test]
fn loading_is_deterministic() {
    let a = load_cohort(&fixture("valid"), &strict()).expect("loads");
    let b = load_cohort(&fixture("valid"), &strict()).expect("loads");
    assert_eq!(a.cohort.measurements, b.cohort.measurements);
    assert_eq!(a.cohort.unit_spellings, b.cohort.unit_spellings);
    assert_eq!(a.report.to_json(), b.report.to_json());
}

#[test]
fn missing_optional_table_is_reported_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(fixture("valid/patients.csv"), dir.path().join("patients.csv")).expect("copy");
    let loaded = load_cohort(dir.path(), &strict()).expect("patients alone is a valid cohort");
    assert!(loaded.cohort.tables_present.is_empty());
    assert!(loaded.cohort.measurements.is_empty());
    let err = loaded.cohort.require_table("measurements", "HLH detection").unwrap_err();
    assert!(matches!(&err, CohortError::MissingTable { table, .. } if table == "measurements"));
    let msg = err.to_string();
    assert!(msg.contains("measurements.csv") && msg.contains("HLH detection"), "{msg}");
}

// ---------------------------------------------------------------- errors

#[test]
fn error_missing_patients_table() {
    let r = validate_dir(&fixture("err_missing_patients"), &strict());
    assert_eq!(r.error_count, 1, "{r}");
    let i = one_issue(&r, Severity::Error, IssueKind::MissingTable, "patients", None, None);
    assert!(i.message.contains("patients.csv or patients.parquet"), "{}", i.message);
    assert!(matches!(load_cohort(&fixture("err_missing_patients"), &quarantine()), Err(CohortError::Invalid(_))));
}

#[test]
fn error_missing_folder() {
    let r = validate_dir(&fixture("no_such_folder"), &strict());
    assert_eq!(r.error_count, 1);
    assert_eq!(r.issues[0].kind, IssueKind::MissingFolder);
}

#[test]
fn error_missing_required_column() {
    let i = single_error("err_missing_column", IssueKind::MissingColumn, "measurements", None, "unit");
    assert!(i.message.contains("patient_id, date, analyte, value"), "{}", i.message);
    // structural: fatal even with quarantine
    assert!(matches!(load_cohort(&fixture("err_missing_column"), &quarantine()), Err(CohortError::Invalid(_))));
}

#[test]
fn error_both_csv_and_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["patients.csv", "treatments.csv"] {
        fs::copy(fixture("valid").join(f), dir.path().join(f)).expect("copy");
    }
    fs::write(dir.path().join("treatments.parquet"), b"").expect("write");
    fs::write(dir.path().join("measurement.csv"), b"x\n").expect("write");
    // the truth table of a simulated cohort is read by detect/run: not reported as ignored
    fs::write(dir.path().join("truth.csv"), b"patient_id\n").expect("write");
    let r = validate_dir(dir.path(), &strict());
    assert_eq!(r.error_count, 1, "{r}");
    let i = one_issue(&r, Severity::Error, IssueKind::DuplicateTable, "treatments", None, None);
    assert!(i.message.contains("treatments.csv and treatments.parquet"));
    // a misspelt table file is a warning, not silently ignored
    one_issue(&r, Severity::Warning, IssueKind::UnrecognisedFile, "measurement.csv", None, None);
    assert_eq!(r.warning_count, 1, "{r}");
    assert!(load_cohort(dir.path(), &quarantine()).is_err());
}

#[test]
fn error_unparseable_date() {
    let i = single_error("err_bad_date", IssueKind::BadValue, "patients", Some(2), "diagnosis_date");
    assert_eq!(i.found.as_deref(), Some("2020-13-05"));
    assert!(i.message.contains("YYYY-MM-DD") && i.message.contains("'2020-13-05'"), "{}", i.message);
}

#[test]
fn error_missing_value() {
    let i = single_error("err_missing_value", IssueKind::MissingValue, "patients", Some(3), "last_contact_date");
    assert!(i.message.contains("missing value"));
}

#[test]
fn error_unparseable_number() {
    let i = single_error("err_bad_number", IssueKind::BadValue, "measurements", Some(3), "value");
    assert_eq!(i.found.as_deref(), Some("9,2"));
    assert!(i.message.contains("decimal point"), "{}", i.message);
}

#[test]
fn error_unparseable_boolean() {
    let i = single_error("err_bad_boolean", IssueKind::BadValue, "findings", Some(1), "present");
    assert_eq!(i.found.as_deref(), Some("maybe"));
    assert!(i.message.contains("yes/no"));
}

#[test]
fn error_unknown_category() {
    let i = single_error("err_bad_category", IssueKind::BadValue, "treatments", Some(2), "intensity");
    assert_eq!(i.found.as_deref(), Some("gentle"));
    assert!(i.message.contains("intensive, low_intensity, transplant, supportive, other"), "{}", i.message);
    let i = single_error("err_bad_response", IssueKind::BadValue, "responses", Some(3), "response");
    assert!(i.message.contains("CR, CRh, CRi, MLFS, PR, SD, PD, relapse"), "{}", i.message);
}

#[test]
fn error_bad_line_number() {
    let i = single_error("err_bad_line", IssueKind::BadValue, "responses", Some(4), "line");
    assert_eq!(i.found.as_deref(), Some("first"));
}

#[test]
fn error_unknown_analyte_lists_known_analytes() {
    let i = single_error("err_bad_analyte", IssueKind::BadValue, "measurements", Some(5), "analyte");
    assert_eq!(i.found.as_deref(), Some("crp"));
    assert!(i.message.contains("temperature, hemoglobin, platelets"), "{}", i.message);
}

#[test]
fn error_unknown_unit_lists_accepted_spellings() {
    let i = single_error("err_bad_unit", IssueKind::BadUnit, "measurements", Some(3), "unit");
    assert_eq!(i.found.as_deref(), Some("mg/dL"));
    assert!(i.message.contains("'mg/dL' for hemoglobin") && i.message.contains("g/L, g/dL"), "{}", i.message);
}

#[test]
fn error_duplicate_patient() {
    let i = single_error("err_duplicate_patient", IssueKind::DuplicatePatient, "patients", Some(5), "patient_id");
    assert!(i.message.contains("first on row 2"), "{}", i.message);
    // quarantine rejects both rows of the id and P2's rows in every other table
    let loaded = load_cohort(&fixture("err_duplicate_patient"), &quarantine()).expect("quarantine loads");
    let ids: Vec<&str> = loaded.cohort.patients.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["P1", "P3", "P4"]);
    let r = &loaded.report;
    let rows = |t: &str| r.rejects.iter().filter(|x| x.table == t).map(|x| x.row).collect::<Vec<_>>();
    assert_eq!(rows("patients"), [2, 5]);
    assert_eq!(rows("measurements"), [6, 7, 8, 9]);
    assert_eq!(rows("findings"), [2]);
    assert_eq!(rows("treatments"), [3]);
    assert_eq!(rows("responses"), [3]);
}

#[test]
fn error_unknown_patient() {
    let i = single_error("err_unknown_patient", IssueKind::UnknownPatient, "measurements", Some(2), "patient_id");
    assert_eq!(i.found.as_deref(), Some("P9"));
}

#[test]
fn error_last_contact_before_diagnosis() {
    let i = single_error(
        "err_last_contact_before_diagnosis",
        IssueKind::DateBeforeDiagnosis,
        "patients",
        Some(1),
        "last_contact_date",
    );
    assert_eq!(i.found.as_deref(), Some("2019-12-31"));
    assert!(i.message.contains("before diagnosis_date 2020-01-10"));
}

#[test]
fn error_death_before_diagnosis() {
    let i = single_error("err_death_before_diagnosis", IssueKind::DateBeforeDiagnosis, "patients", Some(2), "death_date");
    assert_eq!(i.found.as_deref(), Some("2020-03-01"));
}

#[test]
fn error_death_after_last_contact() {
    let i = single_error("err_death_after_last_contact", IssueKind::DeathAfterLastContact, "patients", Some(2), "death_date");
    assert_eq!(i.found.as_deref(), Some("2020-09-13"));
}

#[test]
fn all_errors_of_a_table_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(fixture("valid/patients.csv"), dir.path().join("patients.csv")).expect("copy");
    let mut csv = String::from("patient_id,date,analyte,value,unit\n");
    for k in 0..30 {
        csv.push_str(&format!("P1,2020-02-{:02},ferritin,x{k},µg/L\n", k % 28 + 1));
    }
    fs::write(dir.path().join("measurements.csv"), csv).expect("write");
    let r = validate_dir(dir.path(), &strict());
    assert_eq!(r.error_count, 30);
    let rows: Vec<u64> = r.issues.iter().filter_map(|i| i.row).collect();
    assert_eq!(rows, (1..=30).collect::<Vec<u64>>());
    assert!(r.render_text(10).contains("... and 20 more"));
}

// ---------------------------------------------------------------- warnings

/// A fixture with warnings only: loads, and the warnings are at the given places.
fn warnings(case: &str, expect: &[(IssueKind, &str, u64, &str)]) -> ValidationReport {
    let loaded = load_cohort(&fixture(case), &strict()).expect("warnings do not stop loading");
    let r = loaded.report;
    assert_eq!(r.error_count, 0, "{r}");
    assert_eq!(r.warning_count, expect.len() as u64, "{r}");
    for (kind, table, row, column) in expect {
        one_issue(&r, Severity::Warning, *kind, table, Some(*row), Some(column));
    }
    r
}

#[test]
fn warning_implausible_values() {
    let r = warnings(
        "warn_implausible",
        &[
            (IssueKind::ImplausibleValue, "measurements", 14, "value"),
            (IssueKind::ImplausibleValue, "measurements", 15, "value"),
            (IssueKind::ImplausibleValue, "measurements", 16, "value"),
            (IssueKind::ImplausibleValue, "measurements", 17, "value"),
            (IssueKind::ImplausibleValue, "measurements", 18, "value"),
        ],
    );
    let i = r.issues.iter().find(|i| i.row == Some(14)).expect("row 14");
    assert!(i.message.contains("hemoglobin 300 g/L") && i.message.contains("0 to 250"), "{}", i.message);
    assert_eq!(r.tables["measurements"].loaded, 18);
}

#[test]
fn warning_after_death() {
    warnings(
        "warn_after_death",
        &[(IssueKind::AfterDeath, "measurements", 14, "date"), (IssueKind::AfterDeath, "findings", 4, "date")],
    );
}

#[test]
fn warning_after_last_contact() {
    warnings(
        "warn_after_last_contact",
        &[(IssueKind::AfterLastContact, "measurements", 14, "date"), (IssueKind::AfterLastContact, "findings", 4, "date")],
    );
}

#[test]
fn warning_treatment_end_before_start() {
    warnings("warn_end_before_start", &[(IssueKind::EndBeforeStart, "treatments", 3, "end_date")]);
}

#[test]
fn warning_response_without_treatment() {
    warnings("warn_response_without_treatment", &[(IssueKind::ResponseWithoutTreatment, "responses", 4, "line")]);
}

// ---------------------------------------------------------------- quarantine

#[test]
fn quarantine_rejects_rows_and_cascades_patients() {
    let case = fixture("quarantine");
    let err = load_cohort(&case, &strict()).expect_err("strict fails");
    let rep = err.report().expect("validation error");
    assert_eq!(rep.error_count, 2);

    let loaded = load_cohort(&case, &quarantine()).expect("quarantine loads");
    let r = &loaded.report;
    assert_eq!(r.error_count, 2, "{r}");
    one_issue(r, Severity::Error, IssueKind::DeathAfterLastContact, "patients", Some(2), Some("death_date"));
    one_issue(r, Severity::Error, IssueKind::BadUnit, "measurements", Some(10), Some("unit"));
    let c = &loaded.cohort;
    assert_eq!(c.patients.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["P1", "P3", "P4"]);
    let mut rows: Vec<u32> = c.measurements.iter().map(|m| m.row).collect();
    rows.sort();
    assert_eq!(rows, [1, 2, 3, 4, 5, 11, 12, 13]);
    assert_eq!((c.findings.len(), c.treatments.len(), c.responses.len()), (2, 3, 3));
    // patient indices were remapped after the rejected patient
    assert!(c.measurements.iter().all(|m| (m.patient as usize) < c.patients.len()));
    assert_eq!(c.measurements_of(1).iter().map(|m| m.row).collect::<Vec<_>>(), [11, 1]);

    assert_eq!(r.rejected_count, 9);
    let t = &r.tables;
    assert_eq!((t["patients"].rows, t["patients"].loaded, t["patients"].rejected), (4, 3, 1));
    assert_eq!((t["measurements"].rows, t["measurements"].loaded, t["measurements"].rejected), (13, 8, 5));
    let cascaded: Vec<u64> = r
        .rejects
        .iter()
        .filter(|x| x.table == "measurements" && x.reason.starts_with("patient rejected"))
        .map(|x| x.row)
        .collect();
    assert_eq!(cascaded, [6, 7, 8, 9]);
    let bad = r.rejects.iter().find(|x| x.table == "measurements" && x.row == 10).expect("row 10");
    assert_eq!(bad.column.as_deref(), Some("unit"));
    assert!(bad.raw.contains("unit=pg/mL"), "{}", bad.raw);

    // rejects file
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rejects.csv");
    r.write_rejects_csv(&out).expect("write rejects");
    let text = fs::read_to_string(&out).expect("read rejects");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "table,row,column,reason,raw");
    assert_eq!(lines.len(), 10);
    assert!(lines[1].starts_with("patients,2,death_date,"), "{}", lines[1]);

    // JSON report carries the counts and locations
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid JSON");
    assert_eq!(json["error_count"], 2);
    assert_eq!(json["rejected_count"], 9);
    assert_eq!(json["issues"][0]["kind"], "death_after_last_contact");
    assert_eq!(json["issues"][0]["row"], 2);
    assert_eq!(json["issues"][0]["column"], "death_date");
}

// ---------------------------------------------------------------- Parquet

fn read_csv_strings(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .expect("csv reader")
        .finish()
        .expect("read csv")
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name).expect("column").str().expect("str").iter().map(|s| s.map(str::to_string)).collect()
}

fn date_col(df: &DataFrame, name: &str) -> Column {
    let days: Vec<Option<i32>> =
        strings(df, name).into_iter().map(|s| s.and_then(|s| if s == "NA" { None } else { iso_to_day(&s) })).collect();
    Series::new(name.into(), days).cast(&DataType::Date).expect("date").into()
}

fn write_parquet(df: &mut DataFrame, path: &Path) {
    let f = fs::File::create(path).expect("create parquet");
    ParquetWriter::new(f).finish(df).expect("write parquet");
}

/// The `valid` fixture rewritten as typed Parquet tables.
fn valid_as_parquet(dir: &Path) {
    let src = fixture("valid");
    // patients: diagnosis as a millisecond datetime (P4 has a time of day), the rest as dates
    let p = read_csv_strings(&src.join("patients.csv"));
    let dx_ms: Vec<Option<i64>> = strings(&p, "diagnosis_date")
        .into_iter()
        .map(|s| {
            let s = s.expect("diagnosis");
            let d = iso_to_day(&s).expect("date") as i64 * 86_400_000;
            Some(if s.len() > 10 { d + (8 * 60 + 30) * 60_000 } else { d })
        })
        .collect();
    let ages: Vec<Option<f64>> =
        strings(&p, "age_at_diagnosis").into_iter().map(|s| s.map(|s| s.parse().expect("age"))).collect();
    let ecog: Vec<Option<i64>> = strings(&p, "ecog").into_iter().map(|s| s.map(|s| s.parse().expect("ecog"))).collect();
    let mut df = DataFrame::new_infer_height(vec![
        p.column("patient_id").expect("id").clone(),
        Series::new("diagnosis_date".into(), dx_ms)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .expect("datetime")
            .into(),
        date_col(&p, "last_contact_date"),
        date_col(&p, "death_date"),
        p.column("sex").expect("sex").clone(),
        Series::new("age_at_diagnosis".into(), ages).into(),
        Series::new("ecog".into(), ecog).into(),
        p.column("risk").expect("risk").clone(),
    ])
    .expect("patients frame");
    write_parquet(&mut df, &dir.join("patients.parquet"));

    let m = read_csv_strings(&src.join("measurements.csv"));
    let values: Vec<f64> = strings(&m, "value").into_iter().map(|s| s.expect("v").parse().expect("number")).collect();
    let mut df = DataFrame::new_infer_height(vec![
        m.column("patient_id").expect("id").clone(),
        date_col(&m, "date"),
        m.column("analyte").expect("analyte").clone(),
        Series::new("value".into(), values).into(),
        m.column("unit").expect("unit").clone(),
    ])
    .expect("measurements frame");
    write_parquet(&mut df, &dir.join("measurements.parquet"));

    let f = read_csv_strings(&src.join("findings.csv"));
    let present: Vec<bool> = strings(&f, "present")
        .into_iter()
        .map(|s| matches!(s.expect("present").to_ascii_lowercase().as_str(), "yes" | "true" | "1"))
        .collect();
    let mut df = DataFrame::new_infer_height(vec![
        f.column("patient_id").expect("id").clone(),
        date_col(&f, "date"),
        f.column("finding").expect("finding").clone(),
        Series::new("present".into(), present).into(),
    ])
    .expect("findings frame");
    write_parquet(&mut df, &dir.join("findings.parquet"));

    let t = read_csv_strings(&src.join("treatments.csv"));
    let lines: Vec<i32> = strings(&t, "line").into_iter().map(|s| s.expect("line").parse().expect("int")).collect();
    let mut df = DataFrame::new_infer_height(vec![
        t.column("patient_id").expect("id").clone(),
        Series::new("line".into(), lines).into(),
        t.column("regimen").expect("regimen").clone(),
        t.column("intensity").expect("intensity").clone(),
        date_col(&t, "start_date"),
        date_col(&t, "end_date"),
    ])
    .expect("treatments frame");
    write_parquet(&mut df, &dir.join("treatments.parquet"));

    // responses stay CSV: a cohort folder may mix formats
    fs::copy(src.join("responses.csv"), dir.join("responses.csv")).expect("copy");
}

#[test]
fn parquet_round_trip_matches_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    valid_as_parquet(dir.path());
    let pq = load_cohort(dir.path(), &strict()).expect("parquet cohort loads");
    let csv = load_cohort(&fixture("valid"), &strict()).expect("csv cohort loads");
    assert_eq!(pq.report.error_count + pq.report.warning_count, 0, "{}", pq.report);
    assert_eq!(pq.cohort.patients, csv.cohort.patients);
    assert_eq!(pq.cohort.measurements, csv.cohort.measurements);
    assert_eq!(pq.cohort.unit_spellings, csv.cohort.unit_spellings);
    assert_eq!(pq.cohort.findings, csv.cohort.findings);
    assert_eq!(pq.cohort.treatments, csv.cohort.treatments);
    assert_eq!(pq.cohort.responses, csv.cohort.responses);
    let formats: Vec<_> = pq.inputs.iter().map(|i| (i.table.as_str(), i.format)).collect();
    assert_eq!(formats[0], ("patients", hemosurv::cohort::Format::Parquet));
    assert_eq!(formats[2], ("responses", hemosurv::cohort::Format::Csv));
}

#[test]
fn parquet_typed_value_errors_name_row_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    valid_as_parquet(dir.path());
    // measurements with a NaN value (row 2) and a null date (row 3)
    let mut df = df!(
        "patient_id" => ["P1", "P1", "P2"],
        "date" => [Some(day("2020-01-10")), Some(day("2020-01-10")), None],
        "analyte" => ["ferritin", "ferritin", "ferritin"],
        "value" => [100.0, f64::NAN, 3.0],
        "unit" => ["µg/L", "µg/L", "µg/L"],
    )
    .expect("frame");
    df.apply("date", |s| s.cast(&DataType::Date).expect("date")).expect("cast");
    write_parquet(&mut df, &dir.path().join("measurements.parquet"));
    let r = validate_dir(dir.path(), &strict());
    assert_eq!(r.error_count, 2, "{r}");
    let i = one_issue(&r, Severity::Error, IssueKind::BadValue, "measurements", Some(2), Some("value"));
    assert_eq!(i.found.as_deref(), Some("NaN"));
    one_issue(&r, Severity::Error, IssueKind::MissingValue, "measurements", Some(3), Some("date"));
}

// ---------------------------------------------------------------- many rows

#[test]
fn many_rows_across_tasks_keep_order_and_count_rejects() {
    // 100 000 rows: several conversion tasks; every 997th row has a bad unit.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pat = String::from("patient_id,diagnosis_date,last_contact_date,death_date\n");
    for p in 0..100 {
        pat.push_str(&format!("Q{p},2020-01-01,2023-12-31,\n"));
    }
    fs::write(dir.path().join("patients.csv"), pat).expect("write");
    let n = 100_000usize;
    let ids: Vec<String> = (0..n).map(|i| format!("Q{}", i / 1000)).collect();
    let days: Vec<i32> = (0..n).map(|i| day("2020-01-01") + (i % 1000) as i32).collect();
    let units: Vec<&str> = (0..n)
        .map(|i| {
            if (i + 1) % 997 == 0 {
                "furlongs"
            } else if i % 2 == 0 {
                "g/dL"
            } else {
                "g/L"
            }
        })
        .collect();
    let values: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 10.0 } else { 100.0 } + (i % 7) as f64).collect();
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("patient_id".into(), ids).into(),
        Series::new("date".into(), days).cast(&DataType::Date).expect("date").into(),
        Series::new("analyte".into(), vec!["hemoglobin"; n]).into(),
        Series::new("value".into(), values).into(),
        Series::new("unit".into(), units).into(),
    ])
    .expect("frame");
    let f = fs::File::create(dir.path().join("measurements.parquet")).expect("create");
    ParquetWriter::new(f).with_row_group_size(Some(7_000)).finish(&mut df).expect("write");

    let strict_err = load_cohort(dir.path(), &strict()).expect_err("bad units fail strict loading");
    let bad = n / 997;
    assert_eq!(strict_err.report().expect("report").error_count, bad as u64);

    let loaded = load_cohort(dir.path(), &quarantine()).expect("quarantine loads");
    let c = &loaded.cohort;
    assert_eq!(c.measurements.len(), n - bad);
    assert_eq!(loaded.report.rejected_count, bad as u64);
    let rejected: Vec<u64> = loaded.report.rejects.iter().map(|r| r.row).collect();
    assert_eq!(rejected, (1..=bad as u64).map(|k| k * 997).collect::<Vec<_>>());
    // every kept row converted right
    for m in &c.measurements {
        let i = m.row as usize - 1;
        let raw = if i % 2 == 0 { 10.0 } else { 100.0 } + (i % 7) as f64;
        assert_eq!(m.raw_value, raw);
        assert_eq!(m.value, if i % 2 == 0 { raw * 10.0 } else { raw });
        assert_eq!(m.patient as usize, i / 1000);
        assert_eq!(c.unit_of(m), if i % 2 == 0 { "g/dL" } else { "g/L" });
    }
    assert_eq!(c.unit_spellings, ["g/dL", "g/L"]);
}

// ---------------------------------------------------------------- details

#[test]
fn column_names_ignore_case_spaces_and_bom() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("patients.csv"),
        "\u{feff}Patient_ID, Diagnosis_Date ,LAST_CONTACT_DATE,death_date\nA,2020-01-01,2020-02-01,\n",
    )
    .expect("write");
    let loaded = load_cohort(dir.path(), &strict()).expect("loads");
    assert_eq!(loaded.cohort.patients[0].id, "A");
    assert!(loaded.cohort.covariates.is_empty());
}

#[test]
fn value_overflowing_in_conversion_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(fixture("valid/patients.csv"), dir.path().join("patients.csv")).expect("copy");
    fs::write(
        dir.path().join("measurements.csv"),
        "patient_id,date,analyte,value,unit\nP1,2020-01-10,ast,1e308,µkat/L\nP1,2020-01-10,ast,NaN,U/L\n",
    )
    .expect("write");
    let r = validate_dir(dir.path(), &strict());
    assert_eq!(r.error_count, 2, "{r}");
    let i = one_issue(&r, Severity::Error, IssueKind::BadValue, "measurements", Some(1), Some("value"));
    assert!(i.message.contains("out of range once converted to U/L"), "{}", i.message);
    one_issue(&r, Severity::Error, IssueKind::BadValue, "measurements", Some(2), Some("value"));
}
