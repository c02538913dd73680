//! Every number `hemosurv run` writes, checked against R (issue 10).
//!
//! Runs the binary on the fixture cohort `tests/fixtures/cohorts/study_r` with its
//! `study.toml` (the default study, figures off) and compares every table of the run with
//! the tables computed independently by `tests/fixtures/r/study_reference.R` (R 4.2,
//! survival 3.5, cmprsk 2.2) and committed in `tests/fixtures/study_r_expected/` (so the
//! test needs no R; see the README there to regenerate).
//!
//! For each table: the same columns in the same order; the same SET of rows, joined by the
//! table's key columns (no row missing on either side, no duplicate key); every other cell
//! equal (text, NA) or within a relative tolerance (1e-6; Cox 1e-4). Every table of the run
//! is either compared or listed in [`EXCLUDED`] with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Relative tolerance of every table but the Cox models.
const TOL: f64 = 1e-6;
/// Relative tolerance of the Cox models (iterative fits).
const TOL_COX: f64 = 1e-4;

/// Tables of the run deliberately not compared with R, and why.
const EXCLUDED: &[(&str, &str)] = &[
    ("hlh_episodes", "detection, not R's job (its first onsets are R's input, checked below)"),
    ("hlh_evidence", "detection audit trail, not R's job"),
    (
        "hlh_episodes_characteristics",
        "Table 2: counts and quartiles of detection output and of the measurements at onset, \
         which study_reference.R does not read; its counts are checked against \
         hlh_incidence_crude in tests/it/study_run.rs and its quartiles are R type 7 \
         (hlh::validation::quantile_type7, tested against R)",
    ),
    ("hlh_episode_course", "per-episode detection output (episode end dates), not R's job"),
];

/// Key columns of each compared table (a KM table is keyed by group and time; tables of
/// several criteria sets also by `criteria_set`, which `keys` adds when present).
fn keys(table: &str) -> &'static [&'static str] {
    match table {
        "cohort_flow" => &["step"],
        "baseline_characteristics" => &["variable", "level"],
        "patient_key" => &["study_number"],
        "hlh_incidence_by_definition" => &["definition"],
        "analyses_not_computed" => &["analysis"],
        "hlh_incidence_crude" | "hlh_incidence_rate" => &["grouping", "group"],
        "hlh_cumulative_incidence" => &["grouping", "group", "cause", "day"],
        "hlh_cumulative_incidence_gray_test" => &["grouping", "cause"],
        "cir_from_cr1" => &["cause", "day"],
        "cox_hlh" | "hlh_risk_factors" => &["model", "term"],
        "cox_hlh_ph_test" => &["term"],
        "os_simon_makuch_by_hlh" => &["state", "time"],
        "response_by_line_regimen" => &["line", "regimen"],
        "response_by_hlh" => &["group"],
        t if t.ends_with("_km") => &["group", "time"],
        t if t.ends_with("_summary") || t.ends_with("_logrank") => &["group"],
        t => panic!("table `{t}` has no key columns in this test: add it to `keys` (and to the R script)"),
    }
}

fn tolerance(table: &str) -> f64 {
    if table == "cox_hlh" || table == "hlh_risk_factors" || table == "cox_hlh_ph_test" {
        TOL_COX
    } else {
        TOL
    }
}

/// Rows of the run that R cannot recompute, left out of the comparison with the reason:
/// the grid's variant definitions of `hlh_incidence_by_definition` are detected by hemosurv
/// and the run does not write their onsets (R sees only `hlh_episodes`, the study's sets).
/// Returns the table without those rows, checking that they are what they claim to be.
fn rows_r_can_compute(table: &str, mut run: Csv) -> Csv {
    if table == "hlh_incidence_by_definition" {
        let col = |n: &str| run.header.iter().position(|c| c == n).expect(n);
        let (def, base, variation) = (col("definition"), col("base_set"), col("variation"));
        let before = run.rows.len();
        run.rows.retain(|r| {
            let own = r[variation] == "as configured";
            assert!(
                own || (r[def].starts_with(&format!("{}[", r[base])) && r[def].ends_with(']')),
                "hlh_incidence_by_definition: row {r:?} is neither a study set nor a variant `base[...]`"
            );
            own
        });
        assert!(run.rows.len() < before, "hlh_incidence_by_definition: no grid variant (update this test)");
        println!(
            "  hlh_incidence_by_definition: {} grid-variant rows not compared (their onsets are not written)",
            before - run.rows.len()
        );
    }
    run
}

/// Cells of known disagreements between hemosurv and R, skipped with a reason:
/// (table, column, reason). Empty: hemosurv agrees with R on every cell of the fixture.
const KNOWN_DISAGREEMENTS: &[(&str, &str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An RFC 4180 CSV file: header and rows of text cells (an empty cell is NA).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn parse_csv(path: &Path) -> Csv {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut in_quotes, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (true, c) => field.push(c),
            (false, '"') => in_quotes = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!in_quotes, "{}: unterminated quoted field", path.display());
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    assert!(!records.is_empty(), "{}: no header", path.display());
    let header = records.remove(0);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.len(), header.len(), "{}: row {} has {} cells, header {}", path.display(), i + 1, r.len(), header.len());
    }
    Csv { header, rows: records }
}

/// A key cell in a canonical form: numbers compared as numbers ("30" = "30.0").
fn key_cell(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(x) => format!("{x}"),
        Err(_) => s.to_string(),
    }
}

/// Rows of a table by key; panics on a duplicate key.
fn by_key(csv: &Csv, key_cols: &[usize], what: &str) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut out = BTreeMap::new();
    for r in &csv.rows {
        let k: Vec<String> = key_cols.iter().map(|&c| key_cell(&r[c])).collect();
        assert!(out.insert(k.clone(), r.clone()).is_none(), "{what}: two rows with the key {k:?}");
    }
    out
}

/// Relative difference of two numbers (0 when equal).
fn rel_diff(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Compare one table; returns (rows compared, cells compared, largest relative difference).
fn compare_table(table: &str, run: &Csv, r: &Csv, failures: &mut Vec<String>) -> (usize, usize, f64) {
    if run.header != r.header {
        failures.push(format!("{table}: columns differ\n  hemosurv: {:?}\n  R:        {:?}", run.header, r.header));
        return (0, 0, f64::NAN);
    }
    let mut key_names: Vec<&str> = Vec::new();
    if run.header.iter().any(|c| c == "criteria_set") {
        key_names.push("criteria_set");
    }
    key_names.extend_from_slice(keys(table));
    let key_cols: Vec<usize> = key_names
        .iter()
        .map(|k| run.header.iter().position(|c| c == k).unwrap_or_else(|| panic!("{table}: no key column `{k}`")))
        .collect();
    let a = by_key(run, &key_cols, &format!("{table} (hemosurv)"));
    let b = by_key(r, &key_cols, &format!("{table} (R)"));
    let only_run: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_r: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    if !only_run.is_empty() || !only_r.is_empty() {
        failures.push(format!(
            "{table}: row sets differ (key {key_names:?}): {} rows only in hemosurv (first: {:?}), {} only in R (first: {:?})",
            only_run.len(),
            only_run.first(),
            only_r.len(),
            only_r.first()
        ));
    }
    let tol = tolerance(table);
    let (mut cells, mut worst) = (0usize, 0.0f64);
    for (k, ra) in &a {
        let Some(rb) = b.get(k) else { continue };
        for (c, name) in run.header.iter().enumerate() {
            if key_cols.contains(&c) {
                continue;
            }
            if let Some((_, _, why)) = KNOWN_DISAGREEMENTS.iter().find(|(t, col, _)| *t == table && col == name) {
                println!("  skipped {table}.{name} {k:?}: KNOWN DISAGREEMENT ({why})");
                continue;
            }
            cells += 1;
            let (x, y) = (ra[c].as_str(), rb[c].as_str());
            if x == y {
                continue;
            }
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => {
                    let d = rel_diff(p, q);
                    worst = worst.max(d);
                    if d > tol {
                        failures.push(format!(
                            "{table} {k:?} column {name}: hemosurv {x}, R {y} (relative difference {d:.3e} > {tol:e})"
                        ));
                    }
                }
                _ => failures.push(format!("{table} {k:?} column {name}: hemosurv `{x}`, R `{y}`")),
            }
        }
    }
    (a.len(), cells, worst)
}

fn csv_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".csv").map(String::from))
        .collect()
}

/// First onset per (patient, criteria set) in the run's `hlh_episodes` table.
fn first_onsets(episodes: &Csv) -> BTreeMap<(String, String), String> {
    let col = |n: &str| episodes.header.iter().position(|c| c == n).unwrap_or_else(|| panic!("hlh_episodes: no column {n}"));
    let (p, s, o) = (col("patient_id"), col("criteria_set"), col("onset_date"));
    let mut out: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in &episodes.rows {
        let e = out.entry((r[p].clone(), r[s].clone())).or_insert_with(|| r[o].clone());
        if r[o] < *e {
            *e = r[o].clone();
        }
    }
    out
}

#[test]
fn every_number_of_the_study_run_matches_r() {
    let cohort = root().join("tests/fixtures/cohorts/study_r");
    let expected = root().join("tests/fixtures/study_r_expected");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let status = Command::new(env!("CARGO_BIN_EXE_hemosurv"))
        .arg("run")
        .arg(&cohort)
        .arg("--study")
        .arg(cohort.join("study.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .status()
        .expect("run hemosurv");
    assert!(status.success(), "hemosurv run failed: {status}");
    let tables = out.join("tables");

    // R's input: the first onsets of the run's detection must be the ones R used.
    let used = parse_csv(&expected.join("input_hlh_first_onsets.csv"));
    let used: BTreeMap<(String, String), String> =
        used.rows.iter().map(|r| ((r[0].clone(), r[1].clone()), r[2].clone())).collect();
    let now = first_onsets(&parse_csv(&tables.join("hlh_episodes.csv")));
    assert_eq!(
        now, used,
        "HLH detection changed on the fixture: regenerate the R reference (tests/fixtures/study_r_expected/README.md)"
    );
    // The fixture exercises what the definitions are about (see its README).
    let sets: BTreeSet<&str> = used.keys().map(|(_, s)| s.as_str()).collect();
    assert_eq!(sets, BTreeSet::from(["hlh2004", "hscore", "ohi"]));
    let onsets_of =
        |set: &str| used.iter().filter(|((_, s), _)| s == set).map(|((p, _), d)| (p.clone(), d.clone())).collect::<Vec<_>>();
    assert_ne!(onsets_of("hlh2004"), onsets_of("ohi"), "the fixture must tell the criteria sets apart");

    // Every table of the run is compared or deliberately excluded, and R wrote no table
    // the run does not have.
    let run_tables = csv_names(&tables);
    let mut r_tables = csv_names(&expected);
    assert!(r_tables.remove("input_hlh_first_onsets"));
    for (t, why) in EXCLUDED {
        assert!(run_tables.contains(*t), "excluded table {t} ({why}) is no longer written: update EXCLUDED");
        assert!(!r_tables.contains(*t), "{t} is both excluded and in the R reference");
    }
    let compared: BTreeSet<String> = run_tables.iter().filter(|t| !EXCLUDED.iter().any(|(e, _)| e == t)).cloned().collect();
    assert_eq!(compared, r_tables, "tables of the run (left, minus EXCLUDED) vs tables of the R reference (right)");

    let mut failures = Vec::new();
    println!("{:<40} {:>6} {:>7} {:>12}", "table", "rows", "cells", "max rel diff");
    for t in &compared {
        let run = rows_r_can_compute(t, parse_csv(&tables.join(format!("{t}.csv"))));
        let r = parse_csv(&expected.join(format!("{t}.csv")));
        let (rows, cells, worst) = compare_table(t, &run, &r, &mut failures);
        println!("{t:<40} {rows:>6} {cells:>7} {worst:>12.3e}");
        assert!(t == "analyses_not_computed" || rows > 0, "{t}: no row compared");
    }
    assert!(failures.is_empty(), "{} disagreements with R:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_comparison_fails_on_a_changed_number_a_missing_row_or_a_changed_column() {
    let expected = root().join("tests/fixtures/study_r_expected");
    let r = parse_csv(&expected.join("hlh_incidence_rate.csv"));
    let same = parse_csv(&expected.join("hlh_incidence_rate.csv"));
    let mut failures = Vec::new();
    let (rows, _, worst) = compare_table("hlh_incidence_rate", &same, &r, &mut failures);
    assert!(failures.is_empty() && worst == 0.0 && rows == r.rows.len(), "{failures:?}");

    // one number moved by 1e-5 (relative)
    let mut moved = parse_csv(&expected.join("hlh_incidence_rate.csv"));
    let c = moved.header.iter().position(|h| h == "person_months").unwrap();
    let x: f64 = moved.rows[3][c].parse().unwrap();
    moved.rows[3][c] = format!("{}", x * (1.0 + 1e-5));
    compare_table("hlh_incidence_rate", &moved, &r, &mut failures);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("person_months"), "{failures:?}");

    // a missing row, an NA for a number
    failures.clear();
    let mut fewer = parse_csv(&expected.join("hlh_incidence_rate.csv"));
    fewer.rows.remove(0);
    fewer.rows[0][c] = String::new();
    compare_table("hlh_incidence_rate", &fewer, &r, &mut failures);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().any(|f| f.contains("row sets differ")), "{failures:?}");

    // a renamed column
    failures.clear();
    let mut renamed = parse_csv(&expected.join("hlh_incidence_rate.csv"));
    renamed.header[c] = "person_years".into();
    compare_table("hlh_incidence_rate", &renamed, &r, &mut failures);
    assert!(failures.len() == 1 && failures[0].contains("columns differ"), "{failures:?}");
}
