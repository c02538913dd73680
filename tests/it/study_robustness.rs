//! The study run on every valid cohort: random subsets of the sample (10 to 1,000
//! patients), cohorts missing each optional table, a cohort with `patients` only; and
//! byte-identical tables whatever the number of runs or threads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::seq::SliceRandom;
use rand::SeedableRng;

const TABLES: [&str; 5] = ["patients", "measurements", "findings", "treatments", "responses"];

fn sample() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry"))
}

fn hemosurv() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hemosurv"))
}

/// Patient ids of the sample, in file order.
fn sample_ids() -> Vec<String> {
    let text = std::fs::read_to_string(sample().join("patients.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

/// Write the rows of `tables` that belong to `ids` into `dir` (the sample's CSV files
/// have no quoted fields, so the patient id is the text before the first comma).
fn subset(ids: &BTreeSet<String>, tables: &[&str], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for t in tables {
        let text = std::fs::read_to_string(sample().join(format!("{t}.csv"))).unwrap();
        let mut lines = text.lines();
        let mut out = String::from(lines.next().unwrap());
        out.push('\n');
        for l in lines.filter(|l| ids.contains(l.split(',').next().unwrap())) {
            out.push_str(l);
            out.push('\n');
        }
        std::fs::write(dir.join(format!("{t}.csv")), out).unwrap();
    }
}

/// Run the default study (figures on) and check it succeeded with a complete output.
fn run_ok(cohort: &Path, out: &Path, what: &str) -> serde_json::Value {
    let o = hemosurv().args(["run", cohort.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]).output().unwrap();
    assert!(o.status.success(), "{what}: run failed: {}", String::from_utf8_lossy(&o.stderr));
    for f in
        ["report.html", "manifest.json", "tables/cohort_flow.csv", "tables/analyses_not_computed.csv", "tables/os_overall_km.csv"]
    {
        assert!(out.join(f).exists(), "{what}: missing {f}");
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let listed = m["not_computed"].as_array().unwrap().len();
    let table = std::fs::read_to_string(out.join("tables/analyses_not_computed.csv")).unwrap();
    assert_eq!(table.lines().count() - 1, listed, "{what}: manifest and table list the same analyses");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("could not be computed") || html.contains("could be computed"),
        "{what}: report says what was not computed"
    );
    m
}

#[test]
fn default_study_succeeds_on_random_subsets_of_the_sample() {
    let ids = sample_ids();
    let dir = tempfile::tempdir().unwrap();
    let sizes = [10usize, 17, 25, 40, 60, 100, 150, 343, 343, 343, 500, 1000];
    for (seed, &n) in sizes.iter().enumerate() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1000 + seed as u64);
        let chosen: BTreeSet<String> = ids.choose_multiple(&mut rng, n).cloned().collect();
        let cohort = dir.path().join(format!("c{seed}"));
        subset(&chosen, &TABLES, &cohort);
        let m = run_ok(&cohort, &dir.path().join(format!("o{seed}")), &format!("subset of {n} (seed {seed})"));
        assert_eq!(m["row_counts"]["patients"], n as u64);
    }
}

#[test]
fn default_study_succeeds_without_each_optional_table_and_with_patients_only() {
    let ids: BTreeSet<String> = sample_ids().into_iter().take(300).collect();
    let dir = tempfile::tempdir().unwrap();
    for missing in &TABLES[1..] {
        let tables: Vec<&str> = TABLES.iter().copied().filter(|t| t != missing).collect();
        let cohort = dir.path().join(format!("without_{missing}"));
        subset(&ids, &tables, &cohort);
        run_ok(&cohort, &dir.path().join(format!("out_without_{missing}")), &format!("without {missing}"));
    }
    let cohort = dir.path().join("patients_only");
    subset(&ids, &["patients"], &cohort);
    let out = dir.path().join("out_patients_only");
    let m = run_ok(&cohort, &out, "patients only");
    // Survival is there; the HLH analyses are reported as not computable.
    assert!(out.join("tables/os_overall_summary.csv").exists());
    let reasons: Vec<String> =
        m["not_computed"].as_array().unwrap().iter().map(|n| n["analysis"].as_str().unwrap().to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("HLH and survival")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("response")), "{reasons:?}");
}

fn tables_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    // Files only, and not the manifest (it records wall times).
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "manifest.json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn tables_are_byte_identical_across_runs_and_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut reference: Option<Vec<(String, Vec<u8>)>> = None;
    let mut check = |label: String, tables: Vec<(String, Vec<u8>)>| match &reference {
        None => reference = Some(tables),
        Some(r) => {
            assert_eq!(
                r.iter().map(|t| &t.0).collect::<Vec<_>>(),
                tables.iter().map(|t| &t.0).collect::<Vec<_>>(),
                "{label}: table names"
            );
            for (a, b) in r.iter().zip(&tables) {
                assert!(a.1 == b.1, "{label}: {} differs", a.0);
            }
        }
    };
    let runs: Vec<(String, Option<&str>)> = (0..5)
        .map(|k| (format!("run {k}"), None))
        .chain(["1", "2", "8"].map(|t| (format!("RAYON_NUM_THREADS={t}"), Some(t))))
        .collect();
    for (k, (label, threads)) in runs.into_iter().enumerate() {
        let out = dir.path().join(format!("o{k}"));
        let mut cmd = hemosurv();
        cmd.args(["run", sample().to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
        if let Some(t) = threads {
            cmd.env("RAYON_NUM_THREADS", t);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{label}: {}", String::from_utf8_lossy(&o.stderr));
        check(label, tables_of(&out.join("tables")));
    }
    // The same for `detect`.
    let mut first: Option<Vec<(String, Vec<u8>)>> = None;
    for t in ["1", "2", "8"] {
        let out = dir.path().join(format!("d{t}"));
        let o = hemosurv()
            .args(["detect", sample().to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("RAYON_NUM_THREADS", t)
            .output()
            .unwrap();
        assert!(o.status.success(), "detect with {t} threads: {}", String::from_utf8_lossy(&o.stderr));
        let tables = tables_of(&out);
        assert!(tables.iter().any(|t| t.0.starts_with("episodes_")), "detect wrote its episodes");
        match &first {
            None => first = Some(tables),
            Some(f) => assert!(f == &tables, "detect output differs with RAYON_NUM_THREADS={t}"),
        }
    }
}

/// Rewrite one column of the subset's `patients.csv` with `f(row index, old value)`.
fn rewrite_patients(dir: &Path, column: &str, f: impl Fn(usize, &str) -> String) {
    let path = dir.join("patients.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let k = header.split(',').position(|c| c == column).unwrap();
    let mut out = format!("{header}\n");
    for (i, l) in lines.enumerate() {
        let mut cells: Vec<String> = l.split(',').map(String::from).collect();
        cells[k] = f(i, &cells[k]);
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn degenerate_cohorts_give_a_report_with_reasons() {
    let ids = sample_ids();
    let dir = tempfile::tempdir().unwrap();
    let some: BTreeSet<String> = ids.iter().take(250).cloned().collect();

    // Nobody died (all censored): death_date emptied and last contact kept.
    let c = dir.path().join("all_censored");
    subset(&some, &TABLES, &c);
    rewrite_patients(&c, "death_date", |_, _| String::new());
    run_ok(&c, &dir.path().join("o_all_censored"), "all censored");

    // An adjustment covariate with one level.
    let c = dir.path().join("one_level");
    subset(&some, &TABLES, &c);
    rewrite_patients(&c, "eln_risk", |_, _| "adverse".to_string());
    let m = run_ok(&c, &dir.path().join("o_one_level"), "covariate with one level");
    let cox = std::fs::read_to_string(dir.path().join("o_one_level/tables/cox_hlh.csv")).unwrap_or_default();
    let listed = serde_json::to_string(&m["not_computed"]).unwrap();
    assert!(
        cox.contains("time_dependent_adjusted") || listed.contains("HLH and survival"),
        "adjusted model fitted or its absence explained"
    );

    // One patient, and two patients.
    for n in [1usize, 2] {
        let few: BTreeSet<String> = ids.iter().take(n).cloned().collect();
        let c = dir.path().join(format!("n{n}"));
        subset(&few, &TABLES, &c);
        run_ok(&c, &dir.path().join(format!("o_n{n}")), &format!("{n} patients"));
    }
}
