//! Chart review: the `adjudications` table (validation, CSV and Parquet), `hemosurv review`
//! (blinded sheet and key), Cohen's kappa against R `psych::cohen.kappa`
//! (`tests/fixtures/r/kappa.R`) and PPV against adjudicated cases (hand-computed, with the
//! Clopper–Pearson limits of R `binom.test`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use hemosurv::cohort::{
    iso_to_day, load_cohort, validate_dir, Adjudication, Cohort, CohortError, Decision, IssueKind, LoadOptions, Patient, Severity,
};
use hemosurv::commands::review::{adjudication_summary, reviewer_kappa};
use hemosurv::hlh::{Detection, DetectionSummary, DiseaseStatus, Episode, ALL_BUILTIN_NAMES};
use hemosurv::stats::agreement::cohen_kappa;
use polars::prelude::*;
use serde_json::Value;

fn cohorts() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cohorts")).to_path_buf()
}

fn r_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/r")).to_path_buf()
}

fn strict() -> LoadOptions {
    LoadOptions { quarantine: false }
}

fn day(s: &str) -> i32 {
    iso_to_day(s).expect("valid test date")
}

fn rel_close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

fn expected_json(name: &str) -> Value {
    let text = fs::read_to_string(r_dir().join(name)).expect("R expected file");
    serde_json::from_str(&text).expect("json")
}

fn hemosurv(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hemosurv")).args(args).output().expect("run hemosurv")
}

/// Copy every file of fixture `name` into `dir`.
fn copy_fixture(name: &str, dir: &Path) {
    for e in fs::read_dir(cohorts().join(name)).expect("fixture") {
        let e = e.expect("entry");
        fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
}

/// A tiny RFC 4180 reader for the sheets hemosurv writes (quoted cells may hold commas).
fn read_sheet(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).expect("sheet");
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut cells = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                ',' if !quoted => cells.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        cells.push(cur);
        rows.push(cells);
    }
    let header = rows.remove(0);
    (header, rows)
}

fn cell<'a>(header: &[String], row: &'a [String], col: &str) -> &'a str {
    let j = header.iter().position(|h| h == col).unwrap_or_else(|| panic!("no column {col}"));
    &row[j]
}

// ---------------------------------------------------------------- the adjudications table

#[test]
fn bad_decision_is_rejected_with_table_row_and_column() {
    let dir = cohorts().join("adjudications_bad_decision");
    let r = validate_dir(&dir, &strict());
    assert_eq!(r.error_count, 1, "{r}");
    let i = r.issues.iter().find(|i| i.severity == Severity::Error).expect("an error");
    assert_eq!(
        (i.kind, i.table.as_str(), i.row, i.column.as_deref()),
        (IssueKind::BadValue, "adjudications", Some(2), Some("decision"))
    );
    assert_eq!(i.found.as_deref(), Some("probable"));
    assert_eq!(i.expected.as_deref(), Some("one of confirmed, rejected, uncertain"));
    let text = r.render_text(50);
    assert!(
        text.contains(
            "error adjudications row 2, column decision: expected one of confirmed, rejected, uncertain, found 'probable'"
        ),
        "{text}"
    );
    match load_cohort(&dir, &strict()) {
        Err(CohortError::Invalid(rep)) => assert_eq!(rep.error_count, 1),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("strict load must fail"),
    }
    // Quarantine: the bad row is rejected with its reason, the other two load.
    let loaded = load_cohort(&dir, &LoadOptions { quarantine: true }).expect("quarantine load");
    assert_eq!(loaded.cohort.adjudications.len(), 2);
    assert_eq!(loaded.report.rejects.len(), 1);
    let rej = &loaded.report.rejects[0];
    assert_eq!((rej.table.as_str(), rej.row, rej.column.as_deref()), ("adjudications", 2, Some("decision")));
    assert!(rej.raw.contains("decision=probable"), "{}", rej.raw);
    assert_eq!(loaded.report.tables["adjudications"].rejected, 1);
}

#[test]
fn unknown_patient_is_rejected_with_table_row_and_column() {
    let dir = cohorts().join("adjudications_unknown_patient");
    let r = validate_dir(&dir, &strict());
    assert_eq!(r.error_count, 1, "{r}");
    let i = r.issues.iter().find(|i| i.severity == Severity::Error).expect("an error");
    assert_eq!(
        (i.kind, i.table.as_str(), i.row, i.column.as_deref()),
        (IssueKind::UnknownPatient, "adjudications", Some(3), Some("patient_id"))
    );
    assert_eq!(i.found.as_deref(), Some("P9"));
    assert_eq!(i.expected.as_deref(), Some("a patient_id of the patients table"));
    assert!(r.render_text(50).contains("error adjudications row 3, column patient_id: unknown patient: 'P9'"));
    assert!(matches!(load_cohort(&dir, &strict()), Err(CohortError::Invalid(_))));
}

#[test]
fn missing_reviewer_and_duplicate_review_are_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    copy_fixture("valid", tmp.path());
    fs::write(
        tmp.path().join("adjudications.csv"),
        "patient_id,onset_date,decision,reviewer\nP1,2020-03-02,confirmed,R1\nP1,2020-03-02,rejected,R1\nP2,2020-06-20,rejected,\nP3,2021-13-01,uncertain,R1\n",
    )
    .expect("write");
    let r = validate_dir(tmp.path(), &strict());
    let errs: Vec<_> = r
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.kind, i.table.as_str(), i.row, i.column.as_deref()))
        .collect();
    assert_eq!(
        errs,
        vec![
            (IssueKind::DuplicateAdjudication, "adjudications", Some(2), Some("reviewer")),
            (IssueKind::MissingValue, "adjudications", Some(3), Some("reviewer")),
            (IssueKind::BadValue, "adjudications", Some(4), Some("onset_date")),
        ],
        "{r}"
    );
    // A missing required column is a structural error naming table and column.
    fs::write(tmp.path().join("adjudications.csv"), "patient_id,onset_date,verdict,reviewer\nP1,2020-03-02,confirmed,R1\n")
        .expect("write");
    let r = validate_dir(tmp.path(), &LoadOptions { quarantine: true });
    assert!(r
        .issues
        .iter()
        .any(|i| i.kind == IssueKind::MissingColumn && i.table == "adjudications" && i.column.as_deref() == Some("decision")));
    assert!(load_cohort(tmp.path(), &LoadOptions { quarantine: true }).is_err());
}

fn expected_valid_adjudications() -> Vec<Adjudication> {
    // patients of `valid`: P1 = 0, P2 = 1, P3 = 2; sorted by (patient, onset, reviewer).
    vec![
        Adjudication { patient: 0, onset: day("2020-03-02"), decision: Decision::Confirmed, reviewer: "R1".into(), row: 1 },
        Adjudication { patient: 0, onset: day("2020-03-02"), decision: Decision::Confirmed, reviewer: "R2".into(), row: 2 },
        Adjudication { patient: 1, onset: day("2020-06-20"), decision: Decision::Rejected, reviewer: "R1".into(), row: 3 },
        Adjudication { patient: 2, onset: day("2021-03-01"), decision: Decision::Uncertain, reviewer: "R2".into(), row: 4 },
    ]
}

#[test]
fn valid_adjudications_load_from_csv() {
    let loaded = load_cohort(&cohorts().join("adjudications_valid"), &strict()).expect("valid cohort loads");
    let c = &loaded.cohort;
    assert_eq!(c.adjudications, expected_valid_adjudications());
    assert!(c.tables_present.iter().any(|t| t == "adjudications"));
    assert_eq!(c.adjudications_of(0).len(), 2);
    assert_eq!(c.adjudications_of(1)[0].decision, Decision::Rejected);
    assert!(c.adjudications_of(3).is_empty());
    assert_eq!(loaded.report.tables["adjudications"].loaded, 4);
    assert!(!loaded.report.issues.iter().any(|i| i.table == "adjudications"), "{}", loaded.report);
    // Without the table: no adjudications, and the table is not listed.
    let plain = load_cohort(&cohorts().join("valid"), &strict()).expect("valid");
    assert!(plain.cohort.adjudications.is_empty() && plain.cohort.adjudications_of(0).is_empty());
    assert!(!plain.cohort.tables_present.iter().any(|t| t == "adjudications"));
}

#[test]
fn valid_adjudications_load_from_parquet() {
    let tmp = tempfile::tempdir().expect("tmp");
    copy_fixture("adjudications_valid", tmp.path());
    fs::remove_file(tmp.path().join("adjudications.csv")).expect("rm");
    // onset_date as a typed Date, the rest as strings (decision spelled in mixed case).
    let onset: Vec<i32> = ["2020-03-02", "2020-03-02", "2020-06-20", "2021-03-01"].iter().map(|s| day(s)).collect();
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("patient_id".into(), ["P1", "P1", "P2", "P3"]).into(),
        Series::new("onset_date".into(), onset).cast(&DataType::Date).expect("date").into(),
        Series::new("decision".into(), ["confirmed", "Confirmed", "rejected", "UNCERTAIN"]).into(),
        Series::new("reviewer".into(), ["R1", "R2", "R1", "R2"]).into(),
    ])
    .expect("frame");
    let f = fs::File::create(tmp.path().join("adjudications.parquet")).expect("create");
    ParquetWriter::new(f).finish(&mut df).expect("parquet");
    let loaded = load_cohort(tmp.path(), &strict()).expect("parquet cohort loads");
    assert_eq!(loaded.cohort.adjudications, expected_valid_adjudications());
    // A bad decision in Parquet is reported like in CSV.
    let mut bad = DataFrame::new_infer_height(vec![
        Series::new("patient_id".into(), ["P1"]).into(),
        Series::new("onset_date".into(), [day("2020-03-02")]).cast(&DataType::Date).expect("date").into(),
        Series::new("decision".into(), ["yes"]).into(),
        Series::new("reviewer".into(), ["R1"]).into(),
    ])
    .expect("frame");
    let f = fs::File::create(tmp.path().join("adjudications.parquet")).expect("create");
    ParquetWriter::new(f).finish(&mut bad).expect("parquet");
    let r = validate_dir(tmp.path(), &strict());
    assert!(r.issues.iter().any(|i| i.kind == IssueKind::BadValue
        && i.table == "adjudications"
        && i.row == Some(1)
        && i.column.as_deref() == Some("decision")));
}

// ---------------------------------------------------------------- hemosurv review

/// The sets compared in the content tests, given explicitly so that a new built-in set does
/// not change the expected sheet.
const SETS: [&str; 6] = ["--criteria", "hlh2004", "--criteria", "hscore", "--criteria", "ohi"];

#[test]
fn review_defaults_to_every_builtin_set() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("review.csv");
    let cohort = cohorts().join("adjudications_review");
    let o = hemosurv(&["review", cohort.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (kh, krows) = read_sheet(&tmp.path().join("review_key.csv"));
    let sets: Vec<&str> = krows.iter().map(|r| cell(&kh, r, "criteria_set")).collect();
    assert_eq!(sets, ALL_BUILTIN_NAMES.to_vec());
    let text = fs::read_to_string(&out).expect("review.csv").to_lowercase();
    for name in ALL_BUILTIN_NAMES {
        assert!(!text.contains(name), "set name {name} in the blinded sheet");
    }
    let (h, _) = read_sheet(&out);
    let defs = h.iter().filter(|c| c.starts_with("definition_") && c.ends_with("_criteria")).count();
    assert_eq!(defs, ALL_BUILTIN_NAMES.len());
}

/// `hemosurv review COHORT --out OUT` with the sets of [`SETS`] (and `--force`).
fn review_sets(cohort: &Path, out: &Path, force: bool) -> std::process::Output {
    let mut args = vec!["review", cohort.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")];
    args.extend(SETS);
    if force {
        args.push("--force");
    }
    hemosurv(&args)
}

#[test]
fn review_writes_a_blinded_sheet_and_its_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("sheets/review.csv");
    let cohort = cohorts().join("adjudications_review");
    let o = review_sets(&cohort, &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = fs::read_to_string(&out).expect("review.csv");
    let lower = text.to_lowercase();
    for name in ["hlh2004", "hscore", "ohi"] {
        assert!(!lower.contains(name), "set name {name} in the blinded sheet:\n{text}");
    }
    let (h, rows) = read_sheet(&out);
    assert_eq!(&h[..4], ["candidate_id", "patient_id", "onset_date", "end_date"]);
    assert_eq!(
        &h[h.len() - 5..],
        ["definition_A_criteria", "definition_B_criteria", "definition_C_criteria", "decision", "reviewer"]
    );
    assert_eq!(rows.len(), 3, "{text}");
    // Candidate 1: A01, detected by all three definitions (merged), onset = the earliest.
    let r = &rows[0];
    assert_eq!(cell(&h, r, "candidate_id"), "1");
    assert_eq!(cell(&h, r, "patient_id"), "A01");
    assert_eq!(cell(&h, r, "onset_date"), "2022-03-01");
    assert_eq!(cell(&h, r, "window_start"), "2022-02-22");
    assert_eq!(cell(&h, r, "n_definitions"), "3");
    assert_eq!((cell(&h, r, "line"), cell(&h, r, "regimen"), cell(&h, r, "intensity")), ("1", "7+3", "intensive"));
    assert_eq!(cell(&h, r, "days_since_line_start"), "55"); // 2022-01-05 -> 2022-03-01
    assert_eq!((cell(&h, r, "ferritin_max"), cell(&h, r, "ferritin_unit")), ("14000", "µg/L"));
    assert_eq!((cell(&h, r, "fibrinogen_min"), cell(&h, r, "fibrinogen_unit")), ("0.9", "g/L"));
    assert_eq!((cell(&h, r, "hemoglobin_min"), cell(&h, r, "hemoglobin_unit")), ("71", "g/L")); // 7.1 g/dL
    assert_eq!(cell(&h, r, "temperature_max"), "39.6");
    assert_eq!(cell(&h, r, "scd25_max"), "6200");
    assert_eq!(
        (cell(&h, r, "splenomegaly"), cell(&h, r, "hepatomegaly"), cell(&h, r, "hemophagocytosis")),
        ("present", "absent", "present")
    );
    assert_eq!(cell(&h, r, "fever_days"), "4");
    assert!(cell(&h, r, "definition_C_criteria").contains("scd25; ferritin"));
    assert!(cell(&h, r, "definition_A_criteria").starts_with("fever; splenomegaly; cytopenias"));
    assert_eq!((cell(&h, r, "decision"), cell(&h, r, "reviewer")), ("", ""));
    // Candidate 2: A02 (definition A only); not measured -> empty value and unit.
    let r = &rows[1];
    assert_eq!((cell(&h, r, "patient_id"), cell(&h, r, "n_definitions")), ("A02", "1"));
    assert_eq!((cell(&h, r, "scd25_max"), cell(&h, r, "scd25_unit")), ("", ""));
    assert_eq!((cell(&h, r, "definition_B_criteria"), cell(&h, r, "definition_C_criteria")), ("", ""));
    assert_eq!(cell(&h, r, "hemophagocytosis"), "");
    // Candidate 3: A04 (definition C only).
    let r = &rows[2];
    assert_eq!(cell(&h, r, "patient_id"), "A04");
    assert_eq!(cell(&h, r, "definition_A_criteria"), "");
    assert_eq!(cell(&h, r, "definition_C_criteria"), "scd25; ferritin");
    assert_eq!(cell(&h, r, "fever_days"), "0");
    // The key maps the letters to the sets (default: every built-in set, in order).
    let (kh, krows) = read_sheet(&tmp.path().join("sheets/review_key.csv"));
    let key: BTreeMap<&str, &str> = krows.iter().map(|r| (cell(&kh, r, "definition"), cell(&kh, r, "criteria_set"))).collect();
    assert_eq!(key.get("A"), Some(&"hlh2004"));
    assert_eq!(key.get("B"), Some(&"hscore"));
    assert_eq!(key.get("C"), Some(&"ohi"));
    assert_eq!(krows.iter().map(|r| cell(&kh, r, "candidates")).collect::<Vec<_>>(), ["2", "1", "2"]);
    // No adjudications table: no agreement files.
    assert!(!tmp.path().join("sheets/review_ppv.csv").exists());
    // A second run does not overwrite the (possibly filled-in) sheet without --force.
    let o = review_sets(&cohort, &out, false);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(fs::read_to_string(&out).expect("sheet"), text);
    // Same input, same bytes.
    let o = review_sets(&cohort, &out, true);
    assert!(o.status.success());
    assert_eq!(fs::read_to_string(&out).expect("sheet"), text);
}

#[test]
fn filled_in_sheet_loads_as_adjudications_and_gives_ppv() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cohort = tmp.path().join("cohort");
    fs::create_dir(&cohort).expect("mkdir");
    copy_fixture("adjudications_review", &cohort);
    let out = tmp.path().join("review.csv");
    let o = review_sets(&cohort, &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The reviewer fills in decision and reviewer; the sheet itself becomes the adjudications table.
    let text = fs::read_to_string(&out).expect("sheet");
    let decisions = ["confirmed", "rejected", "confirmed"];
    let mut filled = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix(",,").map_or(line.to_string(), str::to_string);
        if i == 0 {
            filled.push_str(&format!("{line}\n"));
        } else {
            filled.push_str(&format!("{line},{},dr_x\n", decisions[i - 1]));
        }
    }
    fs::write(cohort.join("adjudications.csv"), filled).expect("write");
    let out2 = tmp.path().join("second.csv");
    let o = review_sets(&cohort, &out2, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (h, rows) = read_sheet(&tmp.path().join("second_ppv.csv"));
    let by_set: BTreeMap<&str, &Vec<String>> = rows.iter().map(|r| (cell(&h, r, "criteria_set"), r)).collect();
    // hlh2004: A01 confirmed, A02 rejected -> 1/2; hscore: A01 -> 1/1; ohi: A01 (onset one day
    // after the candidate's) and A04, both confirmed -> 2/2.
    let ppv = |s: &str| {
        (
            cell(&h, by_set[s], "confirmed").to_string(),
            cell(&h, by_set[s], "rejected").to_string(),
            cell(&h, by_set[s], "ppv").to_string(),
        )
    };
    assert_eq!(ppv("hlh2004"), ("1".into(), "1".into(), "0.5".into()));
    assert_eq!(ppv("hscore"), ("1".into(), "0".into(), "1".into()));
    assert_eq!(ppv("ohi"), ("2".into(), "0".into(), "1".into()));
    // One reviewer only: kappa is NA with a note.
    let (kh, krows) = read_sheet(&tmp.path().join("second_kappa.csv"));
    assert_eq!(cell(&kh, &krows[0], "kappa"), "");
    assert_eq!(cell(&kh, &krows[0], "note"), "no two reviewers rated the same case");
    // Without the table again, --force removes the agreement files of the earlier run.
    fs::remove_file(cohort.join("adjudications.csv")).expect("rm");
    let o = review_sets(&cohort, &out2, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!tmp.path().join("second_ppv.csv").exists());
    assert!(!tmp.path().join("second_kappa.csv").exists());
}

// ---------------------------------------------------------------- kappa against R

fn ratings(name: &str) -> Vec<(String, String)> {
    let text = fs::read_to_string(r_dir().join(format!("kappa_{name}.csv"))).expect("ratings");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect()
}

#[test]
fn kappa_equals_r_psych() {
    let exp = expected_json("kappa_expected.json");
    for name in ["three_decisions", "two_decisions"] {
        let e = &exp[name];
        let r = ratings(name);
        let pairs: Vec<(&str, &str)> = r.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let k = cohen_kappa(&pairs, 0.95).expect("kappa");
        assert_eq!(k.n_items as u64, e["n"].as_u64().expect("n"));
        let kappa = k.kappa.expect("defined");
        assert!(rel_close(kappa, e["kappa"].as_f64().expect("kappa"), 1e-9), "{name}: kappa {kappa} vs {}", e["kappa"]);
        assert!(rel_close(kappa, e["kappa_by_hand"].as_f64().expect("kappa"), 1e-9));
        let se = k.se.expect("se");
        assert!(rel_close(se * se, e["var_kappa"].as_f64().expect("var"), 1e-9), "{name}: var {} vs {}", se * se, e["var_kappa"]);
        let (lo, hi) = k.ci.expect("ci");
        assert!(rel_close(lo, e["lower"].as_f64().expect("lower"), 1e-9), "{name}: lower {lo} vs {}", e["lower"]);
        assert!(rel_close(hi, e["upper"].as_f64().expect("upper"), 1e-9), "{name}: upper {hi} vs {}", e["upper"]);
    }
}

#[test]
fn kappa_from_the_adjudications_table_equals_r() {
    let loaded = load_cohort(&cohorts().join("adjudications_kappa"), &strict()).expect("kappa cohort");
    let k = reviewer_kappa(&loaded.cohort).expect("two reviewers share cases");
    assert_eq!((k.reviewer_1.as_str(), k.reviewer_2.as_str()), ("dr_a", "dr_b"));
    let e = &expected_json("kappa_expected.json")["three_decisions"];
    assert_eq!(k.result.n_items, 40);
    assert!(rel_close(k.result.kappa.expect("kappa"), e["kappa"].as_f64().expect("kappa"), 1e-9));
    assert!(rel_close(k.result.se.expect("se").powi(2), e["var_kappa"].as_f64().expect("var"), 1e-9));
}

// ---------------------------------------------------------------- PPV, hand-computed

fn patient(id: &str) -> Patient {
    Patient { id: id.into(), diagnosis: 0, last_contact: 2000, death: None, sex: None, age: None }
}

fn episode(p: u32, onset: i32) -> Episode {
    Episode {
        patient: p,
        patient_id: format!("X{p}").into(),
        episode: 1,
        criteria_set: "rule_x".into(),
        onset,
        end: onset + 5,
        ongoing_at_end_of_follow_up: false,
        criteria_met_at_onset: Default::default(),
        max_criteria: 0,
        evaluable_criteria: 0,
        n_criteria: 0,
        score_at_onset: None,
        hscore_at_onset: None,
        max_hscore: None,
        hscore_probability: None,
        treatment: None,
        disease_status: DiseaseStatus::BeforeFirstResponse,
    }
}

#[test]
fn ppv_equals_hand_computed_value() {
    let patients: Vec<Patient> = (0..8).map(|i| patient(&format!("X{i}"))).collect();
    let mut c = Cohort::new(patients, vec![], vec![], vec![], vec![], vec![]);
    let adj =
        |p: u32, onset: i32, d: Decision, r: &str| Adjudication { patient: p, onset, decision: d, reviewer: r.into(), row: 0 };
    use Decision::*;
    c.set_adjudications(vec![
        adj(1, 98, Confirmed, "a"),  // episode (1,100): 2 days -> confirmed
        adj(2, 205, Confirmed, "a"), // (2,200): 5 days -> confirmed
        adj(2, 205, Confirmed, "b"), //   (both reviewers agree)
        adj(3, 300, Rejected, "a"),  // (3,300) -> rejected
        adj(4, 407, Confirmed, "b"), // (4,400): exactly 7 days -> confirmed
        adj(5, 508, Confirmed, "a"), // (5,500): 8 days -> not adjudicated; this case is missed
        adj(6, 600, Uncertain, "a"), // (6,600) -> uncertain (not in the denominator)
        adj(7, 700, Confirmed, "a"), // (7,700): reviewers disagree -> disagreement
        adj(7, 700, Rejected, "b"),
    ]);
    let det = Detection {
        criteria_set: "rule_x".into(),
        rule: "test".into(),
        has_hscore: false,
        episodes: [(1, 100), (2, 200), (3, 300), (4, 400), (5, 500), (6, 600), (7, 700), (0, 50)]
            .iter()
            .map(|&(p, o)| episode(p, o))
            .collect(),
        evidence: vec![],
        summary: DetectionSummary {
            patients_screened: 8,
            patients_evaluable: 8,
            patients_with_episode: 8,
            episodes: 8,
            by_first_line_intensity: vec![],
        },
    };
    let (rows, kappa) = adjudication_summary(&c, &[det], 7);
    let r = &rows[0];
    let k = &r.counts;
    assert_eq!(
        (k.episodes, k.confirmed, k.rejected, k.uncertain, k.disagreement, k.not_adjudicated, k.confirmed_cases_missed),
        (8, 3, 1, 1, 1, 2, 1)
    );
    let p = r.ppv.expect("ppv");
    assert_eq!((p.x, p.n), (3, 4));
    assert_eq!(p.estimate, 0.75);
    let e = expected_json("ppv_expected.json");
    assert!(rel_close(p.clopper_pearson.0, e["lower"].as_f64().expect("lower"), 1e-9));
    assert!(rel_close(p.clopper_pearson.1, e["upper"].as_f64().expect("upper"), 1e-9));
    // Reviewers a and b share two cases: (2,205) confirmed/confirmed and (7,700) confirmed/rejected.
    let k = kappa.expect("kappa");
    assert_eq!((k.reviewer_1.as_str(), k.reviewer_2.as_str(), k.result.n_items), ("a", "b", 2));
    // Other episodes, window 1 day: (3,300) rejected, (6,600) uncertain -> PPV 0/1.
    let (rows, _) = adjudication_summary(&c, &rows_detection(), 1);
    assert_eq!((rows[0].counts.confirmed, rows[0].counts.rejected), (0, 1));
    assert_eq!(rows[0].ppv.map(|p| p.estimate), Some(0.0));
    // No adjudications at all: NA with a reason.
    let empty = Cohort::new(vec![patient("X0")], vec![], vec![], vec![], vec![], vec![]);
    let (rows, kappa) = adjudication_summary(&empty, &rows_detection(), 7);
    assert!(rows[0].ppv.is_none() && rows[0].na_reason.is_some() && kappa.is_none());
}

fn rows_detection() -> Vec<Detection> {
    vec![Detection {
        criteria_set: "rule_x".into(),
        rule: "test".into(),
        has_hscore: false,
        episodes: [(3, 300), (6, 600)].iter().map(|&(p, o)| episode(p, o)).collect(),
        evidence: vec![],
        summary: DetectionSummary {
            patients_screened: 8,
            patients_evaluable: 8,
            patients_with_episode: 2,
            episodes: 2,
            by_first_line_intensity: vec![],
        },
    }]
}

#[test]
fn review_of_a_cohort_without_episodes_gives_na_with_reasons() {
    // Patients and adjudications only: no measurements, so no episode under any definition.
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("review.csv");
    let o = review_sets(&cohorts().join("adjudications_kappa"), &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (h, rows) = read_sheet(&out);
    assert!(rows.is_empty() && h.len() > 30);
    let (ph, prow) = read_sheet(&tmp.path().join("review_ppv.csv"));
    assert_eq!(prow.len(), 3);
    for r in &prow {
        assert_eq!((cell(&ph, r, "episodes"), cell(&ph, r, "ppv")), ("0", ""));
        assert!(cell(&ph, r, "note").contains("no episode of this definition matched"));
    }
    let (kh, krow) = read_sheet(&tmp.path().join("review_kappa.csv"));
    let e = &expected_json("kappa_expected.json")["three_decisions"];
    let kappa: f64 = cell(&kh, &krow[0], "kappa").parse().expect("kappa");
    assert!(rel_close(kappa, e["kappa"].as_f64().expect("kappa"), 1e-12));
}
