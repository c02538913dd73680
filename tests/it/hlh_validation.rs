//! Validation of detections against a truth table: metrics equal hand-computed values (and R
//! `binom.test` / `quantile(type = 7)`) on a small fixture; bad truth rows are rejected with
//! file, row and column; `hemosurv detect --truth` writes `hlh_validation.csv`.

#![allow(clippy::excessive_precision)] // R reference values as R prints them (17 digits)

use std::path::Path;

use hemosurv::cohort::{iso_to_day, Cohort, Patient, PatientIdx};
use hemosurv::commands::exit::ExitStatus;
use hemosurv::hlh::validation::quantile_type7;
use hemosurv::hlh::{validate, validation_table, Detection, DetectionSummary, DiseaseStatus, Episode, Truth, VALIDATION_COLUMNS};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hlh_validation").join(name)
}

fn cohort() -> Cohort {
    let patients = (1..=10)
        .map(|i| Patient {
            id: format!("P{i:02}").into(),
            diagnosis: iso_to_day("2020-01-01").unwrap(),
            last_contact: iso_to_day("2021-01-01").unwrap(),
            death: None,
            sex: None,
            age: None,
        })
        .collect();
    Cohort::new(patients, vec![], vec![], vec![], vec![], vec![])
}

fn episode(patient: PatientIdx, number: u32, onset: &str) -> Episode {
    let onset = iso_to_day(onset).unwrap();
    Episode {
        patient,
        patient_id: format!("P{:02}", patient + 1).into(),
        episode: number,
        criteria_set: "x".into(),
        onset,
        end: onset + 5,
        ongoing_at_end_of_follow_up: false,
        criteria_met_at_onset: Default::default(),
        max_criteria: 0,
        evaluable_criteria: 0,
        n_criteria: 1,
        score_at_onset: None,
        hscore_at_onset: None,
        max_hscore: None,
        hscore_probability: None,
        treatment: None,
        disease_status: DiseaseStatus::BeforeFirstResponse,
    }
}

fn detection(name: &str, episodes: Vec<Episode>) -> Detection {
    Detection {
        criteria_set: name.into(),
        rule: "hand-made".into(),
        has_hscore: false,
        summary: DetectionSummary {
            patients_screened: 10,
            patients_evaluable: 10,
            patients_with_episode: 0,
            episodes: episodes.len(),
            by_first_line_intensity: vec![],
        },
        episodes,
        evidence: vec![],
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-12), "{a} vs {b}");
}

#[test]
fn metrics_equal_hand_computed_values() {
    let c = cohort();
    let truth = Truth::load(&fixture("truth.csv"), &c).unwrap();
    assert_eq!(truth.episodes.len(), 5);
    assert_eq!(truth.episodes[1].resolution, None);
    assert_eq!(truth.episodes[3].line, Some(2));
    assert_eq!(truth.episodes[4].regimen, "7+3"); // quoted field
                                                  // P01 +2 days, P02 -1 day, P03: first detected 01-25 vs first true 01-20 (+5; the second
                                                  // detected episode is listed first to check that the earliest onset is used); P05, P06 FP.
    let d = detection(
        "a",
        vec![
            episode(0, 1, "2020-02-03"),
            episode(1, 1, "2020-03-09"),
            episode(2, 2, "2020-06-02"),
            episode(2, 1, "2020-01-25"),
            episode(4, 1, "2020-05-01"),
            episode(5, 1, "2020-02-02"),
        ],
    );
    let none = detection("nothing", vec![]);
    let rows = validate(&truth, &[d, none], &c);
    let r = &rows[0];
    assert_eq!((r.n_patients, r.true_positive, r.false_positive, r.false_negative, r.true_negative), (10, 3, 2, 1, 4));
    // R: binom.test(3, 4), binom.test(4, 6), binom.test(3, 5), binom.test(4, 5).
    let s = r.sensitivity.unwrap();
    assert_eq!((s.x, s.n), (3, 4));
    close(s.estimate, 0.75);
    close(s.lower, 0.19412044968324341);
    close(s.upper, 0.99369053679029018);
    let sp = r.specificity.unwrap();
    assert_eq!((sp.x, sp.n), (4, 6));
    close(sp.lower, 0.22277809550351219);
    close(sp.upper, 0.95672813170725823);
    let ppv = r.ppv.unwrap();
    assert_eq!((ppv.x, ppv.n), (3, 5));
    close(ppv.estimate, 0.6);
    close(ppv.lower, 0.14663279963467321);
    close(ppv.upper, 0.94725504947368311);
    let npv = r.npv.unwrap();
    assert_eq!((npv.x, npv.n), (4, 5));
    close(npv.lower, 0.28358206388191060);
    close(npv.upper, 0.99494923662053192);
    // Onset errors -1, 2, 5: R quantile(c(2, -1, 5), type = 7) = 0.5, 2, 3.5.
    assert_eq!(r.onset_errors, vec![-1, 2, 5]);
    assert_eq!((r.onset_error_q1, r.onset_error_median, r.onset_error_q3), (Some(0.5), Some(2.0), Some(3.5)));
    assert_eq!(r.onset_within_3_days, 2);
    assert_eq!((r.estimated_incidence, r.true_incidence), (Some(0.5), Some(0.4)));
    assert!(r.note.is_empty());

    // A definition that detects nobody: sensitivity 0/4, PPV NA with its reason.
    let z = &rows[1];
    assert_eq!((z.true_positive, z.false_positive, z.false_negative, z.true_negative), (0, 0, 4, 6));
    assert_eq!(z.sensitivity.unwrap().estimate, 0.0);
    assert!(z.ppv.is_none() && z.onset_error_median.is_none());
    assert!(z.note.contains("PPV NA: no patient detected") && z.note.contains("onset error NA"), "{}", z.note);

    // CSV: header, one row per definition, NA cells empty.
    let buf = validation_table("hlh_validation", &rows).to_csv_bytes().unwrap();
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], VALIDATION_COLUMNS.join(","));
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), VALIDATION_COLUMNS.len());
    let col = |name: &str| VALIDATION_COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(cells[col("sensitivity")], "0.75");
    assert_eq!(cells[col("onset_error_median")], "2");
    assert_eq!(cells[col("onset_error_min")], "-1");
    assert_eq!(cells[col("incidence_difference")], format!("{}", 0.5 - 0.4));
    let z: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(z[col("ppv")], "");
}

#[test]
fn truth_loads_from_parquet_like_from_csv() {
    let c = cohort();
    let csv = Truth::load(&fixture("truth.csv"), &c).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("truth.parquet");
    hemosurv::io::table::csv_to_parquet(&fixture("truth.csv"), &pq).unwrap();
    let from_pq = Truth::load(&pq, &c).unwrap();
    assert_eq!(from_pq, csv);
    // A missing column is named.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "patient_id,episode,onset_date,line,regimen\nP01,1,2020-02-01,1,7+3\n").unwrap();
    let bad_pq = dir.path().join("bad.parquet");
    hemosurv::io::table::csv_to_parquet(&bad, &bad_pq).unwrap();
    let e = Truth::load(&bad_pq, &c).unwrap_err();
    assert_eq!((e.row, e.column.as_str()), (0, "resolution_date"), "{e}");
}

#[test]
fn quantile_type7_matches_r() {
    // R: quantile(c(1, 2, 4, 7, 11), c(0, 0.1, 0.25, 0.5, 0.9, 1), type = 7)
    //    = 1, 1.4, 2, 4, 9.4, 11
    let x = [1.0, 2.0, 4.0, 7.0, 11.0];
    let got: Vec<f64> = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0].iter().map(|p| quantile_type7(&x, *p).unwrap()).collect();
    for (g, e) in got.iter().zip([1.0, 1.4, 2.0, 4.0, 9.4, 11.0]) {
        close(*g, e);
    }
    assert_eq!(quantile_type7(&[], 0.5), None);
    assert_eq!(quantile_type7(&[3.0], 0.25), Some(3.0));
}

#[test]
fn bad_truth_rows_are_rejected_with_file_row_and_column() {
    let c = cohort();
    let head = "patient_id,episode,onset_date,resolution_date,line,regimen\n";
    let cases = [
        ("P01,1,2020-02-01,,1,7+3\nP99,1,2020-02-01,,1,7+3\n", 2, "patient_id", "`P99`"),
        ("P01,1,2020-02-31,,1,7+3\n", 1, "onset_date", "`2020-02-31`"),
        ("P01,1,2020-02-10,2020-02-01,1,7+3\n", 1, "resolution_date", "`2020-02-01`"),
        ("P01,0,2020-02-10,,1,7+3\n", 1, "episode", "`0`"),
        ("P01,1,2020-02-10,,first,7+3\n", 1, "line", "`first`"),
        ("P01,1,2020-02-10,,1,7+3\nP01,1,2020-03-10,,1,7+3\n", 2, "episode", "listed twice"),
        ("P01,1,2020-02-10,,1\n", 1, "*", "5 fields"),
    ];
    for (body, row, column, found) in cases {
        let e = Truth::from_csv_str(&format!("{head}{body}"), "t.csv", &c).unwrap_err();
        assert_eq!((e.row, e.column.as_str()), (row, column), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("t.csv") && msg.contains(&format!("row {row}")) && msg.contains(column) && msg.contains(found),
            "{msg}"
        );
    }
    // Missing column: named, row 0 (header).
    let e = Truth::from_csv_str("patient_id,episode,onset_date,line,regimen\n", "t.csv", &c).unwrap_err();
    assert_eq!((e.row, e.column.as_str()), (0, "resolution_date"));
    // Missing file: named.
    let e = Truth::load(Path::new("/nonexistent/truth.csv"), &c).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/truth.csv"), "{e}");
}

#[test]
fn detect_command_writes_the_validation_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/aml-registry");
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("det");
    let criteria = vec!["hlh_aml".to_string(), "hlh2004".to_string()];
    // Default truth: COHORT/truth.csv.
    let summary = hemosurv::commands::cohort_cmds::detect_cmd(&dir, &criteria, &out, false, false, None, true).unwrap();
    assert!(summary.contains("validation hlh_aml: sensitivity"), "{summary}");
    let text = std::fs::read_to_string(out.join("hlh_validation.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("hlh_aml,") && lines[2].starts_with("hlh2004,"));
    // The table agrees with validate() on the same inputs.
    let loaded = hemosurv::cohort::load_cohort(&dir, &hemosurv::cohort::LoadOptions::default()).unwrap();
    let truth = Truth::load(&dir.join("truth.csv"), &loaded.cohort).unwrap();
    let d = hemosurv::hlh::detect(&loaded.cohort, &hemosurv::hlh::CriteriaSet::builtin("hlh2004").unwrap());
    let rows = validate(&truth, &[d], &loaded.cohort);
    let cells: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(cells[3].parse::<u64>().unwrap(), rows[0].true_positive);
    assert_eq!(cells[4].parse::<u64>().unwrap(), rows[0].false_positive);
    // A truth file with an unknown patient is an input error (exit code 2).
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "patient_id,episode,onset_date,resolution_date,line,regimen\nNOPE,1,2020-01-01,,1,7+3\n").unwrap();
    let e = hemosurv::commands::cohort_cmds::detect_cmd(
        &dir,
        &criteria,
        &out.with_extension("b"),
        false,
        false,
        Some(bad.path()),
        true,
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("row 1") && e.to_string().contains("patient_id"), "{e}");
}
