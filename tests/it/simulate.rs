//! Tests of `hemosurv simulate`: determinism, table consistency, planted-HLH truth, units,
//! follow-up bounds, and that planted episodes (and only they) meet HLH-2004 / HScore / OHI
//! under an independent, deliberately liberal re-implementation of the three rules.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hemosurv::cohort::iso_to_day;
use hemosurv::simulate::{simulate, SimError, SimFormat, SimOptions, SimParams, SimSummary};

const TABLES: [&str; 6] = ["patients", "measurements", "findings", "treatments", "responses", "truth"];

fn run(dir: &Path, n: usize, seed: u64, chunk: usize) -> SimSummary {
    run_with(dir, n, seed, chunk, SimParams::default())
}

fn run_with(dir: &Path, n: usize, seed: u64, chunk: usize, params: SimParams) -> SimSummary {
    let mut opts = SimOptions::new(n, seed, dir, SimFormat::Csv);
    opts.chunk_size = chunk;
    opts.params = params;
    simulate(&opts).expect("simulate")
}

/// The clean model (`--clean`): no HLH mimics.
fn clean() -> SimParams {
    SimParams { mimics: false, ..SimParams::default() }
}

/// A CSV table (the simulator never quotes: no field contains a comma or quote).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!text.contains('"'), "{}: unexpected quoting", path.display());
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
        let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.len(), header.len(), "{}: row {} has {} fields", path.display(), i + 1, r.len());
        }
        Csv { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }
}

fn day(s: &str) -> i32 {
    iso_to_day(s).unwrap_or_else(|| panic!("bad date `{s}`"))
}

/// A `value` cell as a number: the value, or the bound of a qualified value (`>40000`, `<0.1`;
/// the simulator writes only `>` and `<`). The bound decides every rule these tests evaluate
/// the same way as the value it replaces (ferritin above 40000, neutrophils below 0.1).
fn measured(cell: &str) -> f64 {
    let number = cell.strip_prefix(['<', '>']).unwrap_or(cell);
    number.parse().unwrap_or_else(|e| panic!("value {cell:?}: {e}"))
}

/// Canonical value of a measurement (independent re-implementation of the unit table).
fn canonical(analyte: &str, value: f64, unit: &str) -> f64 {
    match (analyte, unit) {
        ("temperature", "°C") => value,
        ("temperature", "°F") => (value - 32.0) * 5.0 / 9.0,
        ("hemoglobin", "g/L") => value,
        ("hemoglobin", "g/dL") => value * 10.0,
        ("platelets" | "neutrophils" | "leukocytes", "10^9/L" | "10^3/µL") => value,
        ("ferritin", "µg/L" | "ng/mL") => value,
        ("triglycerides", "mmol/L") => value,
        ("triglycerides", "mg/dL") => value / 88.57,
        ("fibrinogen", "g/L") => value,
        ("fibrinogen", "mg/dL") => value / 100.0,
        ("ast", "U/L") => value,
        ("scd25", "U/mL") => value,
        _ => panic!("unexpected unit {unit} for {analyte}"),
    }
}

#[test]
fn same_seed_gives_identical_bytes_regardless_of_chunks_and_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    run(a.path(), 300, 42, 1000);
    run(b.path(), 300, 42, 37);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| run(c.path(), 300, 42, 64));
    run(d.path(), 300, 43, 1000);
    let mut files: Vec<String> = TABLES.iter().map(|t| format!("{t}.csv")).collect();
    files.push("truth_params.json".into());
    for f in &files {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert!(!x.is_empty(), "{f} empty");
        assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f} differs with another chunk size");
        assert_eq!(x, std::fs::read(c.path().join(f)).unwrap(), "{f} differs on one thread");
    }
    for f in ["patients.csv", "measurements.csv", "treatments.csv", "truth_params.json"] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert_ne!(x, std::fs::read(d.path().join(f)).unwrap(), "{f} identical for different seeds");
    }
    // No temporary files left behind.
    let names: Vec<String> =
        std::fs::read_dir(a.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 7, "{names:?}");
}

#[test]
fn omop_format_is_deterministic_and_holds_the_simulated_rows() {
    let omop = |dir: &Path, chunk: usize| {
        let mut opts = SimOptions::new(120, 9, dir, SimFormat::Omop);
        opts.chunk_size = chunk;
        simulate(&opts).expect("simulate omop")
    };
    let (a, b, c, d) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = omop(a.path(), 1000);
    omop(b.path(), 17);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| omop(c.path(), 50));
    run(d.path(), 120, 9, 1000);
    let mut names: Vec<String> =
        std::fs::read_dir(a.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let want = [
        "concept.csv",
        "condition_occurrence.csv",
        "death.csv",
        "episode.csv",
        "measurement.csv",
        "observation.csv",
        "observation_period.csv",
        "person.csv",
        "truth.csv",
        "truth_params.json",
    ];
    assert_eq!(names, want);
    for f in want {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f} differs with another chunk size");
        assert_eq!(x, std::fs::read(c.path().join(f)).unwrap(), "{f} differs on one thread");
    }
    // the same patients as the CSV format: one person, period and AML condition each, one
    // measurement row per measurement, truth identical
    let rows = |f: &str| std::fs::read_to_string(a.path().join(f)).unwrap().lines().count() - 1;
    assert_eq!((rows("person.csv"), rows("observation_period.csv"), rows("condition_occurrence.csv")), (120, 120, 120));
    assert_eq!(rows("measurement.csv"), s.measurements);
    assert_eq!(rows("death.csv"), s.deaths);
    assert_eq!(rows("episode.csv"), s.treatments + s.responses);
    assert_eq!(rows("observation.csv"), s.findings + 3 * 120);
    assert_eq!(std::fs::read(a.path().join("truth.csv")).unwrap(), std::fs::read(d.path().join("truth.csv")).unwrap());
}

/// Everything about one generated cohort that the tests below check.
struct Cohort {
    summary: SimSummary,
    patients: Csv,
    measurements: Csv,
    findings: Csv,
    treatments: Csv,
    responses: Csv,
    truth: Csv,
    params: serde_json::Value,
}

fn cohort(n: usize, seed: u64) -> (tempfile::TempDir, Cohort) {
    cohort_with(n, seed, SimParams::default())
}

fn cohort_with(n: usize, seed: u64, params: SimParams) -> (tempfile::TempDir, Cohort) {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_with(dir.path(), n, seed, 500, params);
    let t = |name: &str| Csv::read(&dir.path().join(format!("{name}.csv")));
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth_params.json")).unwrap()).unwrap();
    let c = Cohort {
        summary,
        patients: t("patients"),
        measurements: t("measurements"),
        findings: t("findings"),
        treatments: t("treatments"),
        responses: t("responses"),
        truth: t("truth"),
        params,
    };
    (dir, c)
}

#[test]
fn tables_follow_the_contract_and_stay_within_follow_up() {
    let (_dir, c) = cohort(1500, 7);
    let s = &c.summary;
    assert_eq!(c.patients.rows.len(), 1500);
    assert_eq!(c.measurements.rows.len(), s.measurements);
    assert_eq!(c.findings.rows.len(), s.findings);
    assert_eq!(c.treatments.rows.len(), s.treatments);
    assert_eq!(c.responses.rows.len(), s.responses);
    assert_eq!(c.truth.rows.len(), s.episodes);
    assert_eq!(c.params["seed"], 7);
    assert_eq!(c.params["patients"], 1500);
    assert_eq!(c.params["params"]["hlh_prob_intensive"], 0.1);
    assert_eq!(c.params["params"]["hlh_death_hr"], 2.0);
    assert_eq!(c.params["summary"]["measurements"], s.measurements);

    let per_patient = s.measurements as f64 / 1500.0;
    assert!((90.0..=190.0).contains(&per_patient), "{per_patient} measurements per patient");

    // Patients: follow-up window.
    let (start, end, study_end) = (day("2015-01-01"), day("2022-12-31"), day("2024-12-31"));
    let pc = |n: &str| c.patients.col(n);
    let mut fu: HashMap<String, (i32, i32)> = HashMap::new();
    let mut deaths = 0;
    let mut ages = 0.0;
    for (i, r) in c.patients.rows.iter().enumerate() {
        assert_eq!(r[pc("patient_id")], format!("P{:07}", i + 1));
        let dx = day(&r[pc("diagnosis_date")]);
        let lc = day(&r[pc("last_contact_date")]);
        assert!((start..=end).contains(&dx));
        assert!(dx <= lc && lc <= study_end, "{r:?}");
        if !r[pc("death_date")].is_empty() {
            let dd = day(&r[pc("death_date")]);
            assert!(dd <= lc, "death after last contact: {r:?}");
            assert_eq!(dd, lc, "last contact of the dead is the death date");
            deaths += 1;
        }
        assert!(["F", "M"].contains(&r[pc("sex")].as_str()));
        let age: f64 = r[pc("age_at_diagnosis")].parse().unwrap();
        assert!((18.0..=95.0).contains(&age));
        ages += age;
        assert!(["favorable", "intermediate", "adverse"].contains(&r[pc("eln_risk")].as_str()));
        fu.insert(r[0].clone(), (dx, lc));
    }
    assert_eq!(deaths, s.deaths);
    assert!((ages / 1500.0 - 66.0).abs() < 1.5, "mean age {}", ages / 1500.0);
    assert!(deaths > 300 && deaths < 1400, "{deaths} deaths");

    let within = |id: &str, d: i32, what: &str| {
        let (dx, lc) = fu[id];
        assert!(d >= dx && d <= lc, "{what} of {id} on day {d} outside follow-up [{dx}, {lc}]");
    };
    let mc = c.measurements.col("date");
    for r in &c.measurements.rows {
        within(&r[0], day(&r[mc]), "measurement");
        let v = measured(&r[3]);
        assert!(v.is_finite() && v >= 0.0);
    }
    for r in &c.findings.rows {
        within(&r[0], day(&r[1]), "finding");
        assert!(["true", "false"].contains(&r[3].as_str()));
    }
    for r in &c.responses.rows {
        within(&r[0], day(&r[2]), "response");
    }
    // Treatments: lines numbered 1.. per patient in start order, end ≥ start, within follow-up.
    let mut lines: BTreeMap<String, Vec<(i64, i32, String)>> = BTreeMap::new();
    for r in &c.treatments.rows {
        let st = day(&r[4]);
        within(&r[0], st, "line start");
        if !r[5].is_empty() {
            let en = day(&r[5]);
            assert!(en >= st);
            within(&r[0], en, "line end");
        }
        assert!(["intensive", "low_intensity", "transplant", "supportive", "other"].contains(&r[3].as_str()));
        lines.entry(r[0].clone()).or_default().push((r[1].parse().unwrap(), st, r[2].clone()));
    }
    for (id, ls) in &lines {
        for (k, (line, _, _)) in ls.iter().enumerate() {
            assert_eq!(*line, k as i64 + 1, "{id}: lines {ls:?}");
        }
        assert!(ls.windows(2).all(|w| w[0].1 <= w[1].1), "{id}: starts not increasing {ls:?}");
    }

    // Truth: episodes within follow-up, attached to the line running at onset, apart > 60 days.
    let mut prev: HashMap<String, (i64, i32)> = HashMap::new();
    for r in &c.truth.rows {
        let on = day(&r[2]);
        within(&r[0], on, "HLH onset");
        let ep: i64 = r[1].parse().unwrap();
        if !r[3].is_empty() {
            let res = day(&r[3]);
            assert!((7..=21).contains(&(res - on)), "{r:?}");
            within(&r[0], res, "HLH resolution");
        }
        let ls = &lines[&r[0]];
        let running = ls.iter().rev().find(|l| l.1 <= on).expect("a line started before onset");
        assert_eq!(r[4], running.0.to_string(), "{r:?}");
        assert_eq!(r[5], running.2, "{r:?}");
        match prev.get(&r[0]) {
            None => assert_eq!(ep, 1),
            Some((e0, on0)) => {
                assert_eq!(ep, e0 + 1);
                assert!(on - on0 > 60 + 7, "episodes too close: {r:?}");
            }
        }
        assert!(ep <= 2);
        prev.insert(r[0].clone(), (ep, on));
    }
}

#[test]
fn planted_fraction_among_intensive_patients_matches_the_parameter() {
    let (_dir, c) = cohort(2000, 20261127);
    let s = &c.summary;
    // First-line intensity from the tables agrees with the summary.
    let intensive: Vec<&String> =
        c.treatments.rows.iter().filter(|r| r[1] == "1" && r[3] == "intensive").map(|r| &r[0]).collect();
    assert_eq!(intensive.len(), s.first_line_intensive);
    let with_truth: std::collections::HashSet<&String> = c.truth.rows.iter().map(|r| &r[0]).collect();
    let realised = intensive.iter().filter(|id| with_truth.contains(**id)).count();
    assert_eq!(realised, s.hlh_patients_intensive);
    assert_eq!(with_truth.len(), s.patients_with_hlh);

    // Scheduled fraction: binomial, 99.9 % interval around 0.10.
    let n = s.first_line_intensive as f64;
    assert!(n > 600.0, "{n} intensive patients");
    let se = (0.1 * 0.9 / n).sqrt();
    let sched = s.hlh_scheduled_intensive as f64 / n;
    assert!((sched - 0.10).abs() < 3.29 * se, "scheduled fraction {sched} (n = {n})");
    // Realised: only early deaths/censoring before onset are lost (a few percent).
    let real = realised as f64 / n;
    assert!(realised <= s.hlh_scheduled_intensive);
    assert!(realised as f64 >= 0.85 * s.hlh_scheduled_intensive as f64, "{realised} of {}", s.hlh_scheduled_intensive);
    assert!((real - 0.10).abs() < 3.29 * se + 0.01, "realised fraction {real}");
    // Low intensity: much rarer.
    let low = s.hlh_patients_low_intensity as f64 / s.first_line_low_intensity.max(1) as f64;
    assert!(low < 0.06, "{low}");
    // Intensive therapy is rarer with age (85 % at 45, 15 % at 80 years).
    let age: HashMap<&String, f64> =
        c.patients.rows.iter().map(|r| (&r[0], r[c.patients.col("age_at_diagnosis")].parse().unwrap())).collect();
    let frac = |lo: f64, hi: f64| {
        let ids: Vec<&&String> = age.keys().filter(|id| (lo..hi).contains(&age[*id])).collect();
        let k = ids.iter().filter(|id| intensive.contains(**id)).count();
        k as f64 / ids.len() as f64
    };
    assert!(frac(18.0, 50.0) > 0.7, "{}", frac(18.0, 50.0));
    assert!(frac(78.0, 96.0) < 0.3, "{}", frac(78.0, 96.0));
}

#[test]
fn mixed_units_are_present_and_consistent_per_patient() {
    let (_dir, c) = cohort(800, 11);
    let mut units: HashMap<(String, String), String> = HashMap::new();
    let mut odd_patients = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    for r in &c.measurements.rows {
        let key = (r[0].clone(), r[2].clone());
        let u = units.entry(key).or_insert_with(|| r[4].clone());
        assert_eq!(*u, r[4], "{} reports {} in two units", r[0], r[2]);
        seen.insert(r[4].clone());
        if ["°F", "g/dL", "10^3/µL", "ng/mL", "mg/dL"].contains(&r[4].as_str()) {
            odd_patients.insert(r[0].clone());
        }
        let _ = canonical(&r[2], measured(&r[3]), &r[4]);
    }
    for u in ["°C", "°F", "g/L", "g/dL", "10^9/L", "10^3/µL", "µg/L", "ng/mL", "mmol/L", "mg/dL", "U/L"] {
        assert!(seen.contains(u), "unit {u} never used");
    }
    let frac = odd_patients.len() as f64 / 800.0;
    assert!((0.14..=0.26).contains(&frac), "{frac} of patients with non-canonical units");
    assert_eq!(odd_patients.len(), c.summary.mixed_unit_patients);
}

/// Per-day worst values and findings of one patient, for the liberal rule evaluation.
#[derive(Default)]
struct Course {
    diagnosis: i32,
    end: i32,
    /// (day, analyte, canonical value)
    labs: Vec<(i32, String, f64)>,
    /// (day, finding) present
    findings: Vec<(i32, String)>,
}

/// (HLH-2004 criteria count, HScore, OHI) on each day `diagnosis..=end`, taking the *worst*
/// value of each analyte within the last 7 days and any finding present within 30 days.
fn rules(c: &Course) -> Vec<(i32, u32, u32, bool)> {
    let n = (c.end - c.diagnosis + 1) as usize;
    let mut worst: HashMap<&str, Vec<Option<f64>>> = HashMap::new();
    for (d, a, v) in &c.labs {
        let low = matches!(a.as_str(), "hemoglobin" | "platelets" | "neutrophils" | "leukocytes" | "fibrinogen");
        let slot = &mut worst.entry(a.as_str()).or_insert_with(|| vec![None; n])[(d - c.diagnosis) as usize];
        *slot = Some(match *slot {
            None => *v,
            Some(x) if low => x.min(*v),
            Some(x) => x.max(*v),
        });
    }
    let window = |a: &str, i: usize, low: bool| -> Option<f64> {
        let v = worst.get(a)?;
        let lo = i.saturating_sub(6);
        v[lo..=i].iter().flatten().copied().reduce(|x, y| if low { x.min(y) } else { x.max(y) })
    };
    let finding = |f: &str, d: i32| c.findings.iter().any(|(fd, ff)| ff == f && *fd <= d && *fd > d - 30);
    let immuno = |d: i32| c.findings.iter().any(|(fd, ff)| ff == "immunosuppression" && *fd <= d);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let d = c.diagnosis + i as i32;
        let temp = window("temperature", i, false);
        let hb = window("hemoglobin", i, true);
        let plt = window("platelets", i, true);
        let anc = window("neutrophils", i, true);
        let wbc = window("leukocytes", i, true);
        let ferr = window("ferritin", i, false);
        let tg = window("triglycerides", i, false);
        let fib = window("fibrinogen", i, true);
        let ast = window("ast", i, false);
        let scd25 = window("scd25", i, false);
        let lt = |x: Option<f64>, t: f64| x.is_some_and(|v| v < t);
        let le = |x: Option<f64>, t: f64| x.is_some_and(|v| v <= t);
        let ge = |x: Option<f64>, t: f64| x.is_some_and(|v| v >= t);
        let gt = |x: Option<f64>, t: f64| x.is_some_and(|v| v > t);
        let spleno = finding("splenomegaly", d);
        let hepato = finding("hepatomegaly", d);
        let hemo = finding("hemophagocytosis", d);
        let cyto = u32::from(lt(hb, 90.0)) + u32::from(lt(plt, 100.0)) + u32::from(lt(anc, 1.0));
        let h2004 = u32::from(ge(temp, 38.5))
            + u32::from(spleno)
            + u32::from(cyto >= 2)
            + u32::from(ge(tg, 3.0) || le(fib, 1.5))
            + u32::from(hemo)
            + u32::from(finding("low_nk_activity", d))
            + u32::from(ge(ferr, 500.0))
            + u32::from(ge(scd25, 2400.0));
        let lineages = u32::from(le(hb, 92.0)) + u32::from(le(wbc, 5.0)) + u32::from(le(plt, 110.0));
        let hscore = if immuno(d) { 18 } else { 0 }
            + if gt(temp, 39.4) {
                49
            } else if ge(temp, 38.4) {
                33
            } else {
                0
            }
            + match (spleno, hepato) {
                (true, true) => 38,
                (true, false) | (false, true) => 23,
                _ => 0,
            }
            + match lineages {
                3 => 34,
                2 => 24,
                _ => 0,
            }
            + if gt(ferr, 6000.0) {
                50
            } else if ge(ferr, 2000.0) {
                35
            } else {
                0
            }
            + if gt(tg, 4.0) {
                64
            } else if ge(tg, 1.5) {
                44
            } else {
                0
            }
            + if le(fib, 2.5) { 30 } else { 0 }
            + if ge(ast, 30.0) { 19 } else { 0 }
            + if hemo { 35 } else { 0 };
        let ohi = gt(scd25, 3900.0) && gt(ferr, 1000.0);
        out.push((d, h2004, hscore, ohi));
    }
    out
}

#[test]
fn clean_model_planted_episodes_and_only_they_meet_the_hlh_rules() {
    // The clean model (`--clean`), with the seed and size of the committed sample.
    let (_dir, c) = cohort_with(2000, 20261127, clean());
    let mut courses: BTreeMap<String, Course> = BTreeMap::new();
    for r in &c.patients.rows {
        let e = courses.entry(r[0].clone()).or_default();
        e.diagnosis = day(&r[1]);
        e.end = day(&r[2]);
    }
    for r in &c.measurements.rows {
        let v = canonical(&r[2], measured(&r[3]), &r[4]);
        courses.get_mut(&r[0]).unwrap().labs.push((day(&r[1]), r[2].clone(), v));
    }
    for r in c.findings.rows.iter().filter(|r| r[3] == "true") {
        courses.get_mut(&r[0]).unwrap().findings.push((day(&r[1]), r[2].clone()));
    }
    let mut truth: HashMap<String, Vec<(i32, Option<i32>)>> = HashMap::new();
    for r in &c.truth.rows {
        truth.entry(r[0].clone()).or_default().push((day(&r[2]), (!r[3].is_empty()).then(|| day(&r[3]))));
    }
    assert!(truth.len() > 40, "{} patients with HLH", truth.len());
    let mut max_h2004 = 0;
    let mut max_hscore = 0;
    let mut checked_onsets = 0;
    for (id, course) in &courses {
        let days = rules(course);
        match truth.get(id) {
            None => {
                for (d, h, s, o) in &days {
                    assert!(*h <= 3 && *s < 140 && !o, "{id} without HLH meets a rule on {d}: HLH-2004 {h}, HScore {s}, OHI {o}");
                    max_h2004 = max_h2004.max(*h);
                    max_hscore = max_hscore.max(*s);
                }
                // Direct value limits for patients without HLH.
                for (d, a, v) in &course.labs {
                    let ok = match a.as_str() {
                        "ferritin" => *v < 2000.0,
                        "triglycerides" => *v < 1.5,
                        "fibrinogen" => *v > 2.5,
                        "scd25" => *v < 2400.0,
                        _ => true,
                    };
                    assert!(ok, "{id}: {a} = {v} on {d}");
                }
                assert!(!course.findings.iter().any(|(_, f)| f == "splenomegaly" || f == "hemophagocytosis"), "{id}");
            }
            Some(eps) => {
                let met = |x: &(i32, u32, u32, bool)| x.1 >= 5 || x.2 >= 169 || x.3;
                for (k, (onset, res)) in eps.iter().enumerate() {
                    // Every rule is met on the onset day (hence within ≤ 3 days of it)...
                    let at = days.iter().find(|x| x.0 == *onset).unwrap();
                    assert!(at.1 >= 5 && at.2 >= 169 && at.3, "{id}: onset {onset}: {at:?}");
                    checked_onsets += 1;
                    // ... and throughout the episode.
                    if let Some(res) = res {
                        for x in days.iter().filter(|x| x.0 >= *onset && x.0 <= *res) {
                            assert!(x.1 >= 5 && x.2 >= 169 && x.3, "{id}: during episode: {x:?}");
                        }
                    }
                    // No rule before the onset (since the previous episode's aftermath).
                    let from = if k == 0 { i32::MIN } else { eps[k - 1].1.map_or(i32::MAX, |r| r + 7) };
                    for x in days.iter().filter(|x| x.0 >= from && x.0 < *onset) {
                        assert!(!met(x), "{id}: rule met on {} before onset {onset}: {x:?}", x.0);
                    }
                    // Nothing met from 7 days after resolution until the next onset.
                    if let Some(res) = res {
                        let next = eps.get(k + 1).map_or(i32::MAX, |e| e.0);
                        for x in days.iter().filter(|x| x.0 >= res + 7 && x.0 < next) {
                            assert!(!met(x), "{id}: rule met on {} after resolution {res}: {x:?}", x.0);
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked_onsets, c.truth.rows.len());
    // Patients without HLH do get fever + cytopenias + ferritin (3 criteria): realistic mimics.
    assert_eq!(max_h2004, 3);
    assert!(max_hscore >= 80, "{max_hscore}");
}

#[test]
fn committed_sample_is_reproduced_by_its_command() {
    // data-samples/aml-registry/README.md: `hemosurv simulate --patients 2000 --seed 20261127
    // --format csv --params data-samples/aml-registry-params.json --out data-samples/aml-registry`
    // (the params file keeps the sample without qualified values, which became the default
    // after it was made). If the model changes, regenerate it.
    let sample = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry"));
    let dir = tempfile::tempdir().unwrap();
    let params_file = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry-params.json"));
    let params: SimParams = serde_json::from_str(&std::fs::read_to_string(params_file).unwrap()).unwrap();
    run_with(dir.path(), 2000, 20261127, 20_000, params);
    let mut files: Vec<String> = TABLES.iter().map(|t| format!("{t}.csv")).collect();
    files.push("truth_params.json".into());
    for f in &files {
        let want = std::fs::read(sample.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let got = std::fs::read(dir.path().join(f)).unwrap();
        assert!(want == got, "{f} differs from the committed sample: regenerate data-samples/aml-registry");
    }
}

#[test]
fn parquet_holds_the_same_data_as_csv() {
    use polars::prelude::*;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let s1 = run(a.path(), 250, 5, 100);
    let mut opts = SimOptions::new(250, 5, b.path(), SimFormat::Parquet);
    opts.chunk_size = 100;
    let s2 = simulate(&opts).unwrap();
    assert_eq!(s1, SimSummary { files: s1.files.clone(), ..s2.clone() });
    for t in TABLES {
        let csv = Csv::read(&a.path().join(format!("{t}.csv")));
        let file = std::fs::File::open(b.path().join(format!("{t}.parquet"))).unwrap();
        let df = ParquetReader::new(file).finish().unwrap();
        assert_eq!(df.height(), csv.rows.len(), "{t}");
        let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        assert_eq!(names, csv.header, "{t}");
        for (j, name) in csv.header.iter().enumerate() {
            let col = df.column(name).unwrap().as_materialized_series().clone();
            let is_date = matches!(col.dtype(), DataType::Date);
            for (i, row) in csv.rows.iter().enumerate() {
                let v = col.get(i).unwrap();
                let text = match v {
                    AnyValue::Null => String::new(),
                    AnyValue::String(s) => s.to_string(),
                    AnyValue::Date(d) => hemosurv::cohort::day_to_iso(d),
                    AnyValue::Float64(x) => x.to_string(),
                    AnyValue::Int64(x) => x.to_string(),
                    AnyValue::Boolean(x) => x.to_string(),
                    other => panic!("{t}.{name}: unexpected {other:?}"),
                };
                assert_eq!(text, row[j], "{t} row {} column {name} (date column: {is_date})", i + 1);
            }
        }
    }
}

#[test]
fn bad_options_and_parameters_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = simulate(&SimOptions::new(0, 1, dir.path(), SimFormat::Csv)).unwrap_err();
    assert!(matches!(e, SimError::InvalidOption { .. }), "{e}");
    let mut opts = SimOptions::new(10, 1, dir.path(), SimFormat::Csv);
    opts.params = SimParams { hlh_death_hr: -1.0, ..SimParams::default() };
    let e = simulate(&opts).unwrap_err();
    assert!(e.to_string().contains("hlh_death_hr"), "{e}");
    // A folder holding the other format is refused rather than left ambiguous.
    std::fs::write(dir.path().join("patients.parquet"), b"x").unwrap();
    let e = simulate(&SimOptions::new(10, 1, dir.path(), SimFormat::Csv)).unwrap_err();
    assert!(matches!(e, SimError::Conflict { .. }), "{e}");
    assert_eq!("Parquet".parse::<SimFormat>().unwrap(), SimFormat::Parquet);
    assert!("xlsx".parse::<SimFormat>().is_err());
}

/// Minimal Breslow-ties Cox fit on counting-process rows `(start, stop, event, x)` by
/// Newton–Raphson; returns (β, SE). Only for checking the simulator's planted hazard ratio.
#[allow(clippy::needless_range_loop)]
fn cox_breslow(rows: &[(f64, f64, bool, Vec<f64>)]) -> (Vec<f64>, Vec<f64>) {
    let p = rows[0].3.len();
    let mut beta = vec![0.0; p];
    let mut se = vec![f64::NAN; p];
    let mut by_stop: Vec<usize> = (0..rows.len()).collect();
    by_stop.sort_by(|&a, &b| rows[b].1.total_cmp(&rows[a].1));
    let mut by_start: Vec<usize> = (0..rows.len()).collect();
    by_start.sort_by(|&a, &b| rows[b].0.total_cmp(&rows[a].0));
    for _ in 0..25 {
        let w: Vec<f64> = rows.iter().map(|r| r.3.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>().exp()).collect();
        let (mut s0, mut s1, mut s2) = (0.0, vec![0.0; p], vec![vec![0.0; p]; p]);
        let (mut grad, mut info) = (vec![0.0; p], vec![vec![0.0; p]; p]);
        let (mut add, mut rem, mut k) = (0, 0, 0);
        let update = |r: usize, sign: f64, s0: &mut f64, s1: &mut Vec<f64>, s2: &mut Vec<Vec<f64>>| {
            *s0 += sign * w[r];
            for a in 0..p {
                s1[a] += sign * w[r] * rows[r].3[a];
                for b in 0..p {
                    s2[a][b] += sign * w[r] * rows[r].3[a] * rows[r].3[b];
                }
            }
        };
        while k < by_stop.len() {
            let t = rows[by_stop[k]].1;
            while add < by_stop.len() && rows[by_stop[add]].1 >= t {
                update(by_stop[add], 1.0, &mut s0, &mut s1, &mut s2);
                add += 1;
            }
            while rem < by_start.len() && rows[by_start[rem]].0 >= t {
                update(by_start[rem], -1.0, &mut s0, &mut s1, &mut s2);
                rem += 1;
            }
            let mut d = 0.0;
            while k < by_stop.len() && rows[by_stop[k]].1 == t {
                let r = by_stop[k];
                if rows[r].2 {
                    d += 1.0;
                    for a in 0..p {
                        grad[a] += rows[r].3[a];
                    }
                }
                k += 1;
            }
            if d > 0.0 {
                for a in 0..p {
                    grad[a] -= d * s1[a] / s0;
                    for b in 0..p {
                        info[a][b] += d * (s2[a][b] / s0 - s1[a] * s1[b] / (s0 * s0));
                    }
                }
            }
        }
        // Gauss–Jordan: step = info⁻¹ grad, and the inverse for the SEs.
        let mut inv = vec![vec![0.0; p]; p];
        for (a, row) in inv.iter_mut().enumerate() {
            row[a] = 1.0;
        }
        for c in 0..p {
            let piv = info[c][c];
            for q in 0..p {
                info[c][q] /= piv;
                inv[c][q] /= piv;
            }
            grad[c] /= piv;
            for r in 0..p {
                if r != c {
                    let f = info[r][c];
                    for q in 0..p {
                        info[r][q] -= f * info[c][q];
                        inv[r][q] -= f * inv[c][q];
                    }
                    grad[r] -= f * grad[c];
                }
            }
        }
        for a in 0..p {
            beta[a] += grad[a];
            se[a] = inv[a][a].sqrt();
        }
        if grad.iter().all(|g| g.abs() < 1e-10) {
            break;
        }
    }
    (beta, se)
}

#[test]
fn proportional_death_model_recovers_the_planted_hazard_ratios() {
    // Under `death_model = "proportional"` a time-dependent Cox model with HLH, age, ELN and
    // first-line intensity is correctly specified: its estimates must cover the truth.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(12_000, 99, dir.path(), SimFormat::Csv);
    opts.params.death_model = hemosurv::simulate::DeathModel::Proportional;
    opts.params.hlh_prob_intensive = 0.2;
    opts.params.hlh_prob_low_intensity = 0.1;
    simulate(&opts).unwrap();
    let patients = Csv::read(&dir.path().join("patients.csv"));
    let treatments = Csv::read(&dir.path().join("treatments.csv"));
    let truth = Csv::read(&dir.path().join("truth.csv"));
    let first: HashMap<&str, &str> =
        treatments.rows.iter().filter(|r| r[1] == "1").map(|r| (r[0].as_str(), r[3].as_str())).collect();
    let onset: HashMap<&str, i32> = truth.rows.iter().filter(|r| r[1] == "1").map(|r| (r[0].as_str(), day(&r[2]))).collect();
    let mut rows = Vec::new();
    for r in &patients.rows {
        let Some(&fl) = first.get(r[0].as_str()) else {
            continue;
        }; // died before any treatment
        let (dx, lc, dead) = (day(&r[1]), day(&r[2]), !r[3].is_empty());
        // A death on day d happened during day d: (d, d + 0.5]; censoring at the end of the day.
        let t = (lc - dx) as f64 + if dead { 0.5 } else { 1.0 };
        let age: f64 = r[5].parse().unwrap();
        let ind = |b: bool| if b { 1.0 } else { 0.0 };
        let x = vec![
            0.0,
            age - 66.0,
            ind(r[6] == "favorable"),
            ind(r[6] == "adverse"),
            ind(fl == "low_intensity"),
            ind(fl == "supportive"),
        ];
        match onset.get(r[0].as_str()) {
            Some(&o) => {
                let o = (o - dx) as f64;
                rows.push((0.0, o, false, x.clone()));
                let mut x1 = x;
                x1[0] = 1.0;
                rows.push((o, t, dead, x1));
            }
            None => rows.push((0.0, t, dead, x)),
        }
    }
    let (b, se) = cox_breslow(&rows);
    let truth = [2.0f64.ln(), 0.03, 0.6f64.ln(), 1.5f64.ln()];
    let names = ["hlh", "age", "eln favorable", "eln adverse"];
    for i in 0..4 {
        let z = (b[i] - truth[i]) / se[i];
        assert!(z.abs() < 3.29, "{}: estimate {} (SE {}) vs truth {}", names[i], b[i], se[i], truth[i]);
    }
    // And the estimate is informative: the HLH log-HR is pinned down to ±0.25.
    assert!(1.96 * se[0] < 0.25, "SE {}", se[0]);
}

/// Per-patient courses (canonical lab values, present findings) of a generated cohort.
fn courses_of(c: &Cohort) -> BTreeMap<String, Course> {
    let mut courses: BTreeMap<String, Course> = BTreeMap::new();
    for r in &c.patients.rows {
        let e = courses.entry(r[0].clone()).or_default();
        e.diagnosis = day(&r[1]);
        e.end = day(&r[2]);
    }
    for r in &c.measurements.rows {
        let v = canonical(&r[2], measured(&r[3]), &r[4]);
        courses.get_mut(&r[0]).unwrap().labs.push((day(&r[1]), r[2].clone(), v));
    }
    for r in c.findings.rows.iter().filter(|r| r[3] == "true") {
        courses.get_mut(&r[0]).unwrap().findings.push((day(&r[1]), r[2].clone()));
    }
    courses
}

/// `k` of `n` lies in `[lo, hi]` widened by 3.29 binomial standard errors (99.9 %).
fn assert_share(what: &str, k: usize, n: usize, lo: f64, hi: f64) {
    assert!(n >= 50, "{what}: only {n} patients");
    let p = k as f64 / n as f64;
    let se = (p.max(0.01) * (1.0 - p).max(0.01) / n as f64).sqrt();
    assert!(p >= lo - 3.29 * se && p <= hi + 3.29 * se, "{what}: {k}/{n} = {p:.3} outside the documented [{lo}, {hi}]");
}

#[test]
fn mimic_frequencies_fall_in_their_documented_ranges() {
    // Ranges: docs/simulation.md (sources [Sn] of shared/clinical/aml-confounders.md).
    let (_dir, c) = cohort(5000, 99);
    let courses = courses_of(&c);
    let with_hlh: std::collections::HashSet<&String> = c.truth.rows.iter().map(|r| &r[0]).collect();
    // First line of each patient: (regimen, intensity, start day).
    let mut first: HashMap<&String, (&str, &str, i32)> = HashMap::new();
    let mut hidac: Vec<(&String, i32)> = Vec::new();
    for r in &c.treatments.rows {
        if r[1] == "1" {
            first.insert(&r[0], (r[2].as_str(), r[3].as_str(), day(&r[4])));
        }
        if r[2] == "HiDAC" {
            hidac.push((&r[0], day(&r[4])));
        }
    }
    let non_hlh: Vec<&String> = courses.keys().filter(|id| !with_hlh.contains(id)).collect();
    let non_hlh_intensive: Vec<&String> =
        non_hlh.iter().copied().filter(|id| first.get(id).is_some_and(|f| f.1 == "intensive")).collect();
    let febrile = |id: &String, from: i32, to: i32| {
        courses[id].labs.iter().any(|(d, a, v)| a == "temperature" && *v >= 38.0 && *d >= from && *d <= to)
    };

    // Febrile neutropenia in 80–89 % of induction courses [S1][S2] (days 0–35 of the line).
    let k = non_hlh_intensive.iter().filter(|id| febrile(id, first[*id].2, first[*id].2 + 35)).count();
    assert_share("febrile induction courses", k, non_hlh_intensive.len(), 0.75, 0.89);
    // ~57 % of HiDAC cycles [S12].
    let hidac_non_hlh: Vec<&(&String, i32)> = hidac.iter().filter(|(id, _)| !with_hlh.contains(id)).collect();
    let k = hidac_non_hlh.iter().filter(|(id, s)| febrile(id, *s, s + 30)).count();
    assert_share("febrile HiDAC cycles", k, hidac_non_hlh.len(), 0.45, 0.65);
    // A good share of febrile days above 39.4 °C (HScore's top band).
    let temps: Vec<f64> = non_hlh
        .iter()
        .flat_map(|id| courses[*id].labs.iter().filter(|(_, a, v)| a == "temperature" && *v >= 38.0).map(|x| x.2))
        .collect();
    let k = temps.iter().filter(|t| **t > 39.4).count();
    assert_share("febrile days > 39.4 °C", k, temps.len(), 0.10, 0.35);

    // Ferritin ≥ 500 µg/L at diagnosis in about half (medians 512 [S16] – 1276 [S17]).
    let at_dx = |id: &String, analyte: &str| {
        let course = &courses[id];
        course.labs.iter().filter(|(d, a, _)| *d == course.diagnosis && a == analyte).map(|x| x.2).reduce(f64::max)
    };
    let dx_ferritin: Vec<f64> = non_hlh.iter().filter_map(|id| at_dx(id, "ferritin")).collect();
    assert_eq!(dx_ferritin.len(), non_hlh.len(), "ferritin is measured at diagnosis");
    let k = dx_ferritin.iter().filter(|v| **v >= 500.0).count();
    assert_share("ferritin ≥ 500 at diagnosis", k, dx_ferritin.len(), 0.45, 0.70);
    // Splenomegaly at diagnosis 10–20 % (ASSUMPTION).
    let k = non_hlh
        .iter()
        .filter(|id| courses[**id].findings.iter().any(|(d, f)| *d == courses[**id].diagnosis && f == "splenomegaly"))
        .count();
    assert_share("splenomegaly at diagnosis", k, non_hlh.len(), 0.10, 0.20);
    // Missing labs: TG measured at about half of the diagnostic panels, fibrinogen at all.
    let k = non_hlh.iter().filter(|id| at_dx(id, "triglycerides").is_some()).count();
    assert_share("TG measured at diagnosis", k, non_hlh.len(), 0.40, 0.60);

    // DIC (15–42 % [S37][S38][S39]) with about half reaching fibrinogen ≤ 1.5 g/L; sepsis
    // rarely lowers fibrinogen (1.9 % [S29]): fibrinogen ≤ 1.5 by day 21 of induction.
    let k = non_hlh_intensive
        .iter()
        .filter(|id| courses[**id].labs.iter().any(|(d, a, v)| a == "fibrinogen" && *v <= 1.5 && *d <= first[*id].2 + 21))
        .count();
    assert_share("fibrinogen ≤ 1.5 early in induction", k, non_hlh_intensive.len(), 0.05, 0.21);
    let max_of =
        |id: &String, analyte: &str| courses[id].labs.iter().filter(|(_, a, _)| a == analyte).map(|x| x.2).fold(0.0, f64::max);
    // TG ≥ 3 mmol/L: in ~14 % of sepsis [S29], so in a minority of courses.
    let k = non_hlh_intensive.iter().filter(|id| max_of(id, "triglycerides") >= 3.0).count();
    assert_share("TG ≥ 3 at some point", k, non_hlh_intensive.len(), 0.05, 0.35);
    // Ferritin above 3000 is common over a course (transfusions, sepsis), above 10 000 rare.
    let k = non_hlh_intensive.iter().filter(|id| max_of(id, "ferritin") > 10_000.0).count();
    assert_share("ferritin > 10 000 at some point", k, non_hlh_intensive.len(), 0.0, 0.15);
    let k = non_hlh_intensive.iter().filter(|id| max_of(id, "ferritin") > 3_000.0).count();
    assert_share("ferritin > 3000 at some point", k, non_hlh_intensive.len(), 0.20, 0.80);

    // The rules: fever + cytopenias + ferritin give 3 of 8 HLH-2004 items "for free" (§7.3),
    // and patients without HLH come near and often over the printed thresholds.
    let maxima: Vec<(u32, u32, bool)> = non_hlh_intensive
        .iter()
        .map(|id| rules(&courses[*id]).iter().fold((0, 0, false), |m, x| (m.0.max(x.1), m.1.max(x.2), m.2 || x.3)))
        .collect();
    let n = maxima.len();
    assert_share("HLH-2004 ≥ 3 of 8 at some point", maxima.iter().filter(|m| m.0 >= 3).count(), n, 0.80, 1.0);
    assert_share("HLH-2004 ≥ 4 of 8 at some point", maxima.iter().filter(|m| m.0 >= 4).count(), n, 0.25, 0.80);
    assert_share("HLH-2004 ≥ 5 of 8 at some point", maxima.iter().filter(|m| m.0 >= 5).count(), n, 0.03, 0.30);
    assert_share("HScore ≥ 169 at some point", maxima.iter().filter(|m| m.1 >= 169).count(), n, 0.15, 0.60);
    assert_share("OHI at some point", maxima.iter().filter(|m| m.2).count(), n, 0.02, 0.25);

    // True HLH in ~10 % of intensive patients (realised slightly below the probability).
    let intensive = first.values().filter(|f| f.1 == "intensive").count();
    let k = c.summary.hlh_patients_intensive;
    assert_share("true HLH among intensive patients", k, intensive, 0.08, 0.10);
}

#[test]
fn true_hlh_has_a_gradual_onset_and_a_full_work_up_on_the_onset_day() {
    let (_dir, c) = cohort(3000, 5);
    let courses = courses_of(&c);
    let mut checked = 0;
    let mut ferritin_rose = 0;
    for r in &c.truth.rows {
        let course = &courses[&r[0]];
        let onset = day(&r[2]);
        let on =
            |analyte: &str, d: i32| course.labs.iter().filter(|(x, a, _)| *x == d && a == analyte).map(|x| x.2).reduce(f64::max);
        // The onset day is the work-up: counts, ferritin, TG, fibrinogen, temperature ≥ 38.3.
        for a in ["hemoglobin", "platelets", "neutrophils", "ferritin", "triglycerides", "fibrinogen", "ast"] {
            assert!(on(a, onset).is_some(), "{}: no {a} on the onset day {}", r[0], r[2]);
        }
        assert!(on("temperature", onset).unwrap() >= 38.3, "{}: no fever on the onset day", r[0]);
        // The full picture: ferritin at its onset level, TG ≥ 3 or fibrinogen ≤ 1.5 (× noise).
        let ferritin = on("ferritin", onset).unwrap();
        assert!(ferritin >= 2_000.0, "{}: ferritin {ferritin} at onset", r[0]);
        let (tg, fib) = (on("triglycerides", onset).unwrap(), on("fibrinogen", onset).unwrap());
        assert!(tg >= 2.9 || fib <= 1.6, "{}: TG {tg}, fibrinogen {fib} at onset", r[0]);
        // A prodrome of ≥ 3 days with daily temperature charting precedes it.
        for k in 1..=3 {
            assert!(on("temperature", onset - k).is_some(), "{}: no temperature {k} days before onset", r[0]);
        }
        // Ferritin rises into the onset: any value in the 10 days before is lower.
        let before = course
            .labs
            .iter()
            .filter(|(d, a, _)| a == "ferritin" && *d < onset && *d >= onset - 10)
            .map(|x| x.2)
            .fold(0.0, f64::max);
        ferritin_rose += usize::from(before < ferritin);
        checked += 1;
    }
    assert!(checked > 80, "{checked} episodes");
    // Noise and an earlier septic rise may occasionally exceed the onset value.
    assert!(ferritin_rose as f64 >= 0.9 * checked as f64, "ferritin rose into {ferritin_rose} of {checked} onsets");
}

#[test]
fn qualified_values_are_written_as_text_when_enabled() {
    use polars::prelude::*;
    let a = tempfile::tempdir().unwrap();
    let params = SimParams { qualified_values_fraction: 1.0, qualified_ferritin_upper_limit: 2000.0, ..SimParams::default() };
    let s = run_with(a.path(), 200, 3, 100, params.clone());
    let m = Csv::read(&a.path().join("measurements.csv"));
    let (mut gt, mut lt) = (0, 0);
    for r in &m.rows {
        let v = &r[3];
        match (r[2].as_str(), v.as_bytes()[0]) {
            ("ferritin", b'>') => {
                assert_eq!(v, ">2000");
                gt += 1;
            }
            ("neutrophils", b'<') => {
                assert_eq!(v, "<0.1");
                lt += 1;
            }
            (analyte, _) => {
                let x: f64 = v.parse().unwrap_or_else(|_| panic!("{analyte} value `{v}`"));
                assert!(analyte != "ferritin" || x <= 2000.0, "ferritin {x} above the limit without a qualifier");
                assert!(analyte != "neutrophils" || x >= 0.1, "neutrophils {x} below the limit without a qualifier");
            }
        }
    }
    assert!(gt > 0 && lt > 0, "{gt} ferritin and {lt} neutrophil qualified values");
    assert_eq!(s.qualified_values, gt + lt);
    // Parquet: the value column is text.
    let b = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(200, 3, b.path(), SimFormat::Parquet);
    opts.params = params;
    simulate(&opts).unwrap();
    let df = ParquetReader::new(std::fs::File::open(b.path().join("measurements.parquet")).unwrap()).finish().unwrap();
    assert_eq!(df.column("value").unwrap().dtype(), &DataType::String);
    assert_eq!(df.height(), m.rows.len());
    // With qualified_values_fraction = 0 (on by default since the loader reads them): no
    // qualifier anywhere.
    assert!(SimParams::default().qualified_values_fraction > 0.0);
    let d = tempfile::tempdir().unwrap();
    let exact = SimParams { qualified_values_fraction: 0.0, ..SimParams::default() };
    assert_eq!(run_with(d.path(), 200, 3, 100, exact).qualified_values, 0);
    assert!(!std::fs::read_to_string(d.path().join("measurements.csv")).unwrap().contains(['<', '>']));
}
