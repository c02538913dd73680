//! HLH criteria sets: TOML loading and errors, every threshold boundary of HLH-2004, HScore
//! and OHI, the Fardet 2014 probability table, and window edges.

use hemosurv::cohort::{Analyte, Cohort, Day, Finding, FindingKind, Measurement, Patient, PatientIdx, Qualifier};
use hemosurv::hlh::{
    evaluate_at, hscore_probability, CriteriaError, CriteriaSet, CriterionKind, DayEvaluation, EvidenceTable, RuleKind, Test,
    BUILTIN_NAMES, FARDET_2014_TABLE, PROBABILITY_SOURCE,
};

// ------------------------------------------------------------------------------------------
// Cohort builder
// ------------------------------------------------------------------------------------------

const UNITS: [&str; 9] = ["°C", "g/L", "10^9/L", "µg/L", "mmol/L", "U/L", "U/mL", "mg/dL", "g/dL"];

fn canonical_unit_index(a: Analyte) -> u16 {
    UNITS.iter().position(|u| *u == a.canonical_unit()).expect("canonical unit listed") as u16
}

#[derive(Default)]
struct Builder {
    patients: Vec<Patient>,
    ms: Vec<Measurement>,
    fs: Vec<Finding>,
}

impl Builder {
    fn patient(&mut self, id: &str) -> PatientIdx {
        self.patients.push(Patient { id: id.into(), diagnosis: 0, last_contact: 10_000, death: None, sex: None, age: None });
        (self.patients.len() - 1) as PatientIdx
    }

    fn lab(&mut self, p: PatientIdx, day: Day, analyte: Analyte, value: f64) -> u32 {
        self.lab_raw(p, day, analyte, value, value, canonical_unit_index(analyte))
    }

    fn lab_raw(&mut self, p: PatientIdx, day: Day, analyte: Analyte, value: f64, raw: f64, unit: u16) -> u32 {
        let row = self.ms.len() as u32 + 1;
        self.ms.push(Measurement { patient: p, day, analyte, unit, value, raw_value: raw, row, qualifier: Qualifier::None });
        row
    }

    fn finding(&mut self, p: PatientIdx, day: Day, finding: FindingKind, present: bool) -> u32 {
        let row = self.fs.len() as u32 + 1;
        self.fs.push(Finding { patient: p, day, finding, present, row });
        row
    }

    fn build(self) -> Cohort {
        Cohort::new(self.patients, self.ms, self.fs, vec![], vec![], UNITS.iter().map(|s| s.to_string()).collect())
    }
}

fn builtin(name: &str) -> CriteriaSet {
    CriteriaSet::builtin(name).expect("built-in set")
}

/// Evaluate a one-patient cohort with the given measurements on `day`.
fn eval_labs(set: &CriteriaSet, labs: &[(Day, Analyte, f64)], findings: &[(Day, FindingKind, bool)], day: Day) -> DayEvaluation {
    let mut b = Builder::default();
    let p = b.patient("P1");
    for &(d, a, v) in labs {
        b.lab(p, d, a, v);
    }
    for &(d, f, present) in findings {
        b.finding(p, d, f, present);
    }
    let c = b.build();
    evaluate_at(&c, set, p, day)
}

fn status<'a>(e: &'a DayEvaluation, name: &str) -> &'a hemosurv::hlh::CriterionStatus {
    e.criteria.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no criterion {name}"))
}

/// (evaluable, met) of one HLH-2004 criterion with the given labs on day 0, evaluated on day 0.
fn hlh(name: &str, labs: &[(Analyte, f64)]) -> (bool, bool) {
    let set = builtin("hlh2004");
    let labs: Vec<_> = labs.iter().map(|&(a, v)| (0, a, v)).collect();
    let e = eval_labs(&set, &labs, &[], 0);
    let s = status(&e, name);
    (s.evaluable, s.met)
}

/// Points of one HScore variable.
fn hs_points(name: &str, labs: &[(Analyte, f64)], findings: &[(FindingKind, bool)]) -> f64 {
    let set = builtin("hscore");
    let labs: Vec<_> = labs.iter().map(|&(a, v)| (0, a, v)).collect();
    let f: Vec<_> = findings.iter().map(|&(k, pr)| (0, k, pr)).collect();
    let e = eval_labs(&set, &labs, &f, 0);
    status(&e, name).points.expect("hscore variables have points")
}

// ------------------------------------------------------------------------------------------
// Built-in sets and TOML
// ------------------------------------------------------------------------------------------

#[test]
fn builtin_sets_have_the_published_shape() {
    assert_eq!(BUILTIN_NAMES, ["hlh2004", "hscore", "ohi"]);
    let h = builtin("hlh2004");
    assert_eq!(h.criteria.len(), 8);
    assert_eq!(h.rule.kind, RuleKind::Count { min: 5 });
    let names: Vec<&str> = h.criteria.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fever",
            "splenomegaly",
            "cytopenias",
            "hypertriglyceridemia_or_hypofibrinogenemia",
            "hemophagocytosis",
            "low_nk_activity",
            "ferritin",
            "scd25"
        ]
    );
    assert!(h.companion_hscore);
    let s = builtin("hscore");
    assert_eq!(s.criteria.len(), 9);
    assert_eq!(s.rule.kind, RuleKind::Score { cutoff: 169.0 });
    assert_eq!(s.max_score(), 337.0);
    let o = builtin("ohi");
    assert_eq!(o.rule.kind, RuleKind::All);
    assert_eq!(o.criteria.len(), 2);
    // Case-insensitive lookup; unknown name is an error naming the available sets.
    assert_eq!(CriteriaSet::builtin("HLH2004"), Some(h.clone()));
    assert!(CriteriaSet::builtin("hlh1994").is_none());
    // `resolve` takes a built-in name or a file path; an unknown name is read as a path.
    assert_eq!(CriteriaSet::resolve("ohi").unwrap(), o);
    let e = CriteriaSet::resolve("hlh1994").unwrap_err().to_string();
    assert!(e.contains("hlh1994") && e.contains("cannot read"), "{e}");
    // Annotated text for `criteria show`.
    assert!(hemosurv::hlh::builtin_toml("hlh2004").unwrap().contains("Henter"));
}

#[test]
fn to_toml_round_trips_every_builtin() {
    for name in BUILTIN_NAMES {
        let s = builtin(name);
        let text = s.to_toml_string().unwrap();
        let back = CriteriaSet::from_toml_str(&text, "x.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s);
        assert!(s.validate().is_ok());
    }
}

#[test]
fn toml_errors_name_the_file_and_key() {
    let base = builtin_text_with("hlh2004", "analyte = \"ferritin\"", "analyte = \"feritin\"");
    let e = CriteriaSet::from_toml_str(&base, "my_set.toml").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CriteriaError::Invalid { .. }), "{msg}");
    assert!(
        msg.contains("my_set.toml") && msg.contains("criteria[6] (\"ferritin\").analyte") && msg.contains("feritin"),
        "{msg}"
    );

    let bad_finding = builtin_text_with("hlh2004", "finding = \"splenomegaly\"", "finding = \"big_spleen\"");
    let msg = CriteriaSet::from_toml_str(&bad_finding, "f.toml").unwrap_err().to_string();
    assert!(
        msg.contains("f.toml") && msg.contains("criteria[1] (\"splenomegaly\").finding") && msg.contains("big_spleen"),
        "{msg}"
    );

    let bad_cond = builtin_text_with("hlh2004", "{ analyte = \"platelets\"", "{ analyte = \"thrombocytes\"");
    let msg = CriteriaSet::from_toml_str(&bad_cond, "c.toml").unwrap_err().to_string();
    assert!(msg.contains("criteria[2] (\"cytopenias\").conditions[1].analyte"), "{msg}");

    // Misspelled key: rejected by the parser, message names the key and the file.
    let typo = builtin_text_with("hlh2004", "threshold = 500.0", "treshold = 500.0");
    let e = CriteriaSet::from_toml_str(&typo, "typo.toml").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CriteriaError::Toml { .. }) && msg.contains("typo.toml") && msg.contains("treshold"), "{msg}");

    // Syntax error.
    let msg = CriteriaSet::from_toml_str("name = \"x\"\n[rule\n", "syntax.toml").unwrap_err().to_string();
    assert!(msg.contains("syntax.toml"), "{msg}");

    // Rule problems.
    let msg =
        CriteriaSet::from_toml_str(&builtin_text_with("hlh2004", "min = 5 ", "min = 9 "), "r.toml").unwrap_err().to_string();
    assert!(msg.contains("rule.min"), "{msg}");
    let msg = CriteriaSet::from_toml_str(&builtin_text_with("hlh2004", "mandatory = []", "mandatory = [\"marrow\"]"), "m.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("rule.mandatory[0]") && msg.contains("marrow"), "{msg}");
    let msg = CriteriaSet::from_toml_str(&builtin_text_with("hlh2004", "comparator = \">=\"", "comparator = \"=>\""), "k.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("comparator") && msg.contains("=>"), "{msg}");
    let msg = CriteriaSet::from_toml_str(&builtin_text_with("hlh2004", "window_days = 7", "window_days = -1"), "w.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("window_days"), "{msg}");
    let msg = CriteriaSet::from_toml_str(
        &builtin_text_with("hlh2004", "cytopenia_mode = \"count\"", "cytopenia_mode = \"drop\""),
        "a.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("adaptations.cytopenia_mode") && msg.contains("drop"), "{msg}");

    // Missing file names the path.
    let e = CriteriaSet::from_file(std::path::Path::new("/nonexistent/dir/my_criteria.toml")).unwrap_err();
    assert!(matches!(e, CriteriaError::Io { .. }) && e.to_string().contains("/nonexistent/dir/my_criteria.toml"));
    // A file with an error names the file.
    let path = std::env::temp_dir().join(format!("hemosurv_hlh_bad_{}.toml", std::process::id()));
    std::fs::write(&path, &base).unwrap();
    let msg = CriteriaSet::from_file(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).ok();
    assert!(msg.contains(&path.display().to_string()) && msg.contains("feritin"), "{msg}");
}

fn builtin_text_with(name: &str, from: &str, to: &str) -> String {
    let t = hemosurv::hlh::builtin_toml(name).unwrap();
    assert!(t.contains(from), "{from} not in {name}");
    t.replacen(from, to, 1)
}

#[test]
fn comparators_are_configurable() {
    // Strict ferritin (> 500, as some reprints): 500 no longer meets.
    let strict = builtin_text_with("hlh2004", "comparator = \">=\"\nthreshold = 500.0", "comparator = \">\"\nthreshold = 500.0");
    let set = CriteriaSet::from_toml_str(&strict, "strict.toml").unwrap();
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 500.0)], &[], 0);
    assert!(status(&e, "ferritin").evaluable && !status(&e, "ferritin").met);
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 500.01)], &[], 0);
    assert!(status(&e, "ferritin").met);
}

// ------------------------------------------------------------------------------------------
// HLH-2004 boundaries
// ------------------------------------------------------------------------------------------

#[test]
fn hlh2004_fever_boundary() {
    assert_eq!(hlh("fever", &[(Analyte::Temperature, 38.4)]), (true, false));
    assert_eq!(hlh("fever", &[(Analyte::Temperature, 38.49)]), (true, false));
    assert_eq!(hlh("fever", &[(Analyte::Temperature, 38.5)]), (true, true));
    assert_eq!(hlh("fever", &[]), (false, false));
}

#[test]
fn hlh2004_ferritin_boundary() {
    assert_eq!(hlh("ferritin", &[(Analyte::Ferritin, 499.0)]), (true, false));
    assert_eq!(hlh("ferritin", &[(Analyte::Ferritin, 499.99)]), (true, false));
    assert_eq!(hlh("ferritin", &[(Analyte::Ferritin, 500.0)]), (true, true));
}

#[test]
fn hlh2004_scd25_boundary() {
    assert_eq!(hlh("scd25", &[(Analyte::Scd25, 2399.0)]), (true, false));
    assert_eq!(hlh("scd25", &[(Analyte::Scd25, 2400.0)]), (true, true));
}

#[test]
fn hlh2004_triglycerides_fibrinogen_boundary() {
    let c = "hypertriglyceridemia_or_hypofibrinogenemia";
    assert_eq!(hlh(c, &[(Analyte::Triglycerides, 3.0)]), (true, true));
    assert_eq!(hlh(c, &[(Analyte::Triglycerides, 2.99)]), (true, false));
    assert_eq!(hlh(c, &[(Analyte::Fibrinogen, 1.5)]), (true, true));
    assert_eq!(hlh(c, &[(Analyte::Fibrinogen, 1.51)]), (true, false));
    // and/or: either suffices, both normal → evaluable and not met.
    assert_eq!(hlh(c, &[(Analyte::Triglycerides, 2.0), (Analyte::Fibrinogen, 1.2)]), (true, true));
    assert_eq!(hlh(c, &[(Analyte::Triglycerides, 3.5), (Analyte::Fibrinogen, 3.0)]), (true, true));
    assert_eq!(hlh(c, &[(Analyte::Triglycerides, 2.0), (Analyte::Fibrinogen, 3.0)]), (true, false));
    assert_eq!(hlh(c, &[(Analyte::Ferritin, 3000.0)]), (false, false));
}

#[test]
fn hlh2004_cytopenias_two_of_three() {
    use Analyte::*;
    // At the thresholds (Hb 90, platelets 100, ANC 1.0) no lineage is cytopenic.
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 90.0), (Platelets, 100.0), (Neutrophils, 1.0)]), (true, false));
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 89.9), (Platelets, 99.9), (Neutrophils, 1.0)]), (true, true));
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 90.0), (Platelets, 99.0), (Neutrophils, 0.99)]), (true, true));
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 80.0), (Platelets, 150.0), (Neutrophils, 0.5)]), (true, true));
    // One lineage only → not met.
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 70.0), (Platelets, 150.0), (Neutrophils, 2.0)]), (true, false));
    // Only one lineage measured: evaluable (has data), not met.
    assert_eq!(hlh("cytopenias", &[(Hemoglobin, 70.0)]), (true, false));
    // Leukocytes are not a HLH-2004 lineage.
    assert_eq!(hlh("cytopenias", &[(Leukocytes, 0.1)]), (false, false));
}

#[test]
fn hlh2004_findings() {
    let set = builtin("hlh2004");
    let e = eval_labs(&set, &[], &[(0, FindingKind::Splenomegaly, true), (0, FindingKind::Hemophagocytosis, false)], 0);
    assert!(status(&e, "splenomegaly").met);
    let h = status(&e, "hemophagocytosis");
    assert!(h.evaluable && !h.met, "documented absent is evaluable and not met");
    assert!(!status(&e, "low_nk_activity").evaluable);
    assert_eq!(e.n_met, 1);
    assert_eq!(e.n_evaluable, 2);
}

#[test]
fn ferritin_threshold_override() {
    let text = builtin_text_with("hlh2004", "# ferritin_threshold = 1000.0", "ferritin_threshold = 1000.0");
    let set = CriteriaSet::from_toml_str(&text, "o.toml").unwrap();
    assert_eq!(set.adaptations.ferritin_threshold, Some(1000.0));
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 999.0)], &[], 0);
    assert!(!status(&e, "ferritin").met);
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 1000.0)], &[], 0);
    assert!(status(&e, "ferritin").met);
}

// ------------------------------------------------------------------------------------------
// OHI
// ------------------------------------------------------------------------------------------

#[test]
fn ohi_is_strict_and_needs_both() {
    let set = builtin("ohi");
    let ohi = |scd25: f64, ferritin: f64| {
        eval_labs(&set, &[(0, Analyte::Scd25, scd25), (0, Analyte::Ferritin, ferritin)], &[], 0).holds
    };
    assert!(!ohi(3900.0, 5000.0));
    assert!(!ohi(5000.0, 1000.0));
    assert!(ohi(3900.5, 1000.5));
    assert!(ohi(3901.0, 1001.0));
    // One missing → not evaluable, rule does not hold.
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 5000.0)], &[], 0);
    assert!(!e.holds && e.n_evaluable == 1 && e.n_met == 1);
    // Both within the window but on different days.
    let e = eval_labs(&set, &[(0, Analyte::Scd25, 8000.0), (6, Analyte::Ferritin, 2000.0)], &[], 7);
    assert!(e.holds);
    let e = eval_labs(&set, &[(0, Analyte::Scd25, 8000.0), (6, Analyte::Ferritin, 2000.0)], &[], 8);
    assert!(!e.holds);
    // The ">=" reading of the figure legend is a one-line change.
    let ge = hemosurv::hlh::builtin_toml("ohi").unwrap().replace("comparator = \">\"", "comparator = \">=\"");
    let set = CriteriaSet::from_toml_str(&ge, "ohi_ge.toml").unwrap();
    assert!(eval_labs(&set, &[(0, Analyte::Scd25, 3900.0), (0, Analyte::Ferritin, 1000.0)], &[], 0).holds);
}

// ------------------------------------------------------------------------------------------
// HScore bands
// ------------------------------------------------------------------------------------------

#[test]
fn hscore_temperature_bands() {
    let t = |v| hs_points("temperature", &[(Analyte::Temperature, v)], &[]);
    assert_eq!(t(37.0), 0.0);
    assert_eq!(t(38.39), 0.0);
    assert_eq!(t(38.4), 33.0);
    assert_eq!(t(39.0), 33.0);
    assert_eq!(t(39.4), 33.0);
    assert_eq!(t(39.41), 49.0);
    assert_eq!(t(41.0), 49.0);
}

#[test]
fn hscore_ferritin_bands() {
    let f = |v| hs_points("ferritin", &[(Analyte::Ferritin, v)], &[]);
    assert_eq!(f(1999.0), 0.0);
    assert_eq!(f(2000.0), 35.0);
    assert_eq!(f(6000.0), 35.0);
    assert_eq!(f(6000.5), 50.0);
    assert_eq!(f(50_000.0), 50.0);
}

#[test]
fn hscore_triglyceride_bands() {
    let f = |v| hs_points("triglycerides", &[(Analyte::Triglycerides, v)], &[]);
    assert_eq!(f(1.49), 0.0);
    assert_eq!(f(1.5), 44.0);
    assert_eq!(f(4.0), 44.0);
    assert_eq!(f(4.01), 64.0);
}

#[test]
fn hscore_fibrinogen_ast_bands() {
    let fib = |v| hs_points("fibrinogen", &[(Analyte::Fibrinogen, v)], &[]);
    assert_eq!(fib(2.5), 30.0);
    assert_eq!(fib(2.51), 0.0);
    assert_eq!(fib(0.8), 30.0);
    let ast = |v| hs_points("ast", &[(Analyte::Ast, v)], &[]);
    assert_eq!(ast(29.9), 0.0);
    assert_eq!(ast(30.0), 19.0);
    assert_eq!(ast(300.0), 19.0);
}

#[test]
fn hscore_cytopenia_counts() {
    use Analyte::*;
    let c = |labs: &[(Analyte, f64)]| hs_points("cytopenias", labs, &[]);
    // Thresholds are inclusive: Hb 92 g/L, leukocytes 5, platelets 110.
    assert_eq!(c(&[(Hemoglobin, 92.0), (Leukocytes, 5.0), (Platelets, 110.0)]), 34.0);
    assert_eq!(c(&[(Hemoglobin, 92.0), (Leukocytes, 5.0), (Platelets, 110.1)]), 24.0);
    assert_eq!(c(&[(Hemoglobin, 92.1), (Leukocytes, 5.0), (Platelets, 110.1)]), 0.0);
    assert_eq!(c(&[(Hemoglobin, 92.1), (Leukocytes, 5.1), (Platelets, 110.1)]), 0.0);
    assert_eq!(c(&[(Hemoglobin, 60.0), (Platelets, 20.0)]), 24.0);
    // Neutrophils are not an HScore lineage (leukocytes are).
    assert_eq!(c(&[(Hemoglobin, 60.0), (Neutrophils, 0.1)]), 0.0);
}

#[test]
fn hscore_findings() {
    use FindingKind::*;
    let org = |f: &[(FindingKind, bool)]| hs_points("organomegaly", &[], f);
    assert_eq!(org(&[(Hepatomegaly, true)]), 23.0);
    assert_eq!(org(&[(Splenomegaly, true)]), 23.0);
    assert_eq!(org(&[(Hepatomegaly, true), (Splenomegaly, true)]), 38.0);
    assert_eq!(org(&[(Hepatomegaly, false), (Splenomegaly, false)]), 0.0);
    assert_eq!(hs_points("immunosuppression", &[], &[(Immunosuppression, true)]), 18.0);
    assert_eq!(hs_points("hemophagocytosis", &[], &[(Hemophagocytosis, true)]), 35.0);
    assert_eq!(hs_points("hemophagocytosis", &[], &[(Hemophagocytosis, false)]), 0.0);
}

#[test]
fn hscore_total_and_cutoff() {
    use Analyte::*;
    use FindingKind::*;
    let set = builtin("hscore");
    let all = [
        (0, Temperature, 40.0),
        (0, Hemoglobin, 70.0),
        (0, Leukocytes, 1.0),
        (0, Platelets, 20.0),
        (0, Ferritin, 10_000.0),
        (0, Triglycerides, 5.0),
        (0, Fibrinogen, 1.0),
        (0, Ast, 100.0),
    ];
    let f = [(0, Immunosuppression, true), (0, Hepatomegaly, true), (0, Splenomegaly, true), (0, Hemophagocytosis, true)];
    let e = eval_labs(&set, &all, &f, 0);
    assert_eq!(e.score, Some(337.0));
    assert_eq!(e.hscore, Some(337.0));
    assert!(e.holds);
    assert_eq!(e.n_evaluable, 9);
    // 49 + 33 (38.4) ... build exactly 169 and 168.
    // temperature 38.4 → 33, ferritin 2000 → 35, TG 1.5 → 44, fibrinogen 2.5 → 30, hemophagocytosis 35 = 177;
    // minus fibrinogen (2.51 → 0) and plus AST 30 (19) = 166; plus immunosuppression 18 = 184 ...
    let labs = [(0, Temperature, 38.4), (0, Ferritin, 2000.0), (0, Triglycerides, 1.5), (0, Ast, 30.0), (0, Fibrinogen, 2.51)];
    let e = eval_labs(&set, &labs, &[(0, Hemophagocytosis, true)], 0);
    assert_eq!(e.score, Some(33.0 + 35.0 + 44.0 + 19.0 + 35.0)); // 166
    assert!(!e.holds);
    let e = eval_labs(&set, &labs, &[(0, Hemophagocytosis, true), (0, Immunosuppression, true)], 0);
    assert_eq!(e.score, Some(184.0));
    assert!(e.holds);
    // Exactly at the cut-off: a custom cut-off of 184 holds, 184.5 does not.
    let t = hemosurv::hlh::builtin_toml("hscore").unwrap();
    let at = CriteriaSet::from_toml_str(&t.replace("cutoff = 169.0", "cutoff = 184.0"), "c.toml").unwrap();
    assert!(eval_labs(&at, &labs, &[(0, Hemophagocytosis, true), (0, Immunosuppression, true)], 0).holds);
    let above = CriteriaSet::from_toml_str(&t.replace("cutoff = 169.0", "cutoff = 184.5"), "c.toml").unwrap();
    assert!(!eval_labs(&above, &labs, &[(0, Hemophagocytosis, true), (0, Immunosuppression, true)], 0).holds);
}

#[test]
fn hscore_immunosuppression_window_is_a_year() {
    let set = builtin("hscore");
    let e = eval_labs(&set, &[], &[(0, FindingKind::Immunosuppression, true)], 365);
    assert_eq!(status(&e, "immunosuppression").points, Some(18.0));
    let e = eval_labs(&set, &[], &[(0, FindingKind::Immunosuppression, true)], 366);
    assert!(!status(&e, "immunosuppression").evaluable);
    assert_eq!(status(&e, "immunosuppression").points, Some(0.0));
}

// ------------------------------------------------------------------------------------------
// Probability table
// ------------------------------------------------------------------------------------------

#[test]
fn fardet_table_points_and_interpolation() {
    assert_eq!(PROBABILITY_SOURCE, "Fardet 2014 table");
    let expected = [
        (100.0, 1.0),
        (110.0, 3.0),
        (120.0, 5.0),
        (130.0, 9.0),
        (140.0, 16.0),
        (150.0, 25.0),
        (160.0, 40.0),
        (170.0, 54.0),
        (180.0, 70.0),
        (190.0, 80.0),
        (200.0, 88.0),
        (210.0, 93.0),
        (220.0, 96.0),
        (230.0, 98.0),
        (240.0, 99.0),
    ];
    assert_eq!(FARDET_2014_TABLE, expected);
    for (s, p) in expected {
        let r = hscore_probability(s).unwrap();
        assert_eq!(r.percent, Some(p), "score {s}");
        assert_eq!(r.label(), format!("{p}%"));
    }
    // Linear interpolation between neighbouring points.
    let pct = |s: f64| hscore_probability(s).unwrap().percent.unwrap();
    assert_eq!(pct(175.0), 62.0);
    assert_eq!(pct(165.0), 47.0);
    assert_eq!(pct(169.0), 40.0 + 14.0 * 0.9);
    assert!((pct(101.0) - 1.2).abs() < 1e-12);
    assert!((pct(235.0) - 98.5).abs() < 1e-12);
    assert_eq!(hscore_probability(173.0).unwrap().label(), "58.8%");
    // Ends: <1% at <= 90 (and below the first numeric point), >99% at >= 250 (and above the last).
    for s in [0.0, 50.0, 90.0, 95.0, 99.99] {
        let r = hscore_probability(s).unwrap();
        assert_eq!((r.percent, r.label().as_str()), (None, "<1%"), "score {s}");
    }
    for s in [240.01, 245.0, 250.0, 337.0] {
        let r = hscore_probability(s).unwrap();
        assert_eq!((r.percent, r.label().as_str()), (None, ">99%"), "score {s}");
    }
    assert!(hscore_probability(f64::NAN).is_none());
}

// ------------------------------------------------------------------------------------------
// Windows
// ------------------------------------------------------------------------------------------

#[test]
fn lab_window_edges() {
    let set = builtin("hlh2004");
    let labs = [(100, Analyte::Ferritin, 800.0)];
    // Day 99: not yet measured.
    assert!(!status(&eval_labs(&set, &labs, &[], 99), "ferritin").evaluable);
    // Days 100..=107 count; 107 is 7 days after.
    for d in 100..=107 {
        assert!(status(&eval_labs(&set, &labs, &[], d), "ferritin").met, "day {d}");
    }
    let s108 = eval_labs(&set, &labs, &[], 108);
    assert!(!status(&s108, "ferritin").evaluable && !status(&s108, "ferritin").met);
}

#[test]
fn finding_window_edges() {
    let set = builtin("hlh2004");
    let f = [(0, FindingKind::Splenomegaly, true)];
    assert!(status(&eval_labs(&set, &[], &f, 30), "splenomegaly").met);
    assert!(!status(&eval_labs(&set, &[], &f, 31), "splenomegaly").evaluable);
}

#[test]
fn custom_window_in_toml() {
    let text = builtin_text_with("hlh2004", "threshold = 500.0\nwindow_days = 7", "threshold = 500.0\nwindow_days = 14");
    let set = CriteriaSet::from_toml_str(&text, "w14.toml").unwrap();
    let labs = [(0, Analyte::Ferritin, 800.0)];
    assert!(status(&eval_labs(&set, &labs, &[], 14), "ferritin").met);
    assert!(!status(&eval_labs(&set, &labs, &[], 15), "ferritin").evaluable);
    // A zero window: only the day itself.
    let text = builtin_text_with("hlh2004", "threshold = 500.0\nwindow_days = 7", "threshold = 500.0\nwindow_days = 0");
    let set = CriteriaSet::from_toml_str(&text, "w0.toml").unwrap();
    assert!(status(&eval_labs(&set, &labs, &[], 0), "ferritin").met);
    assert!(!status(&eval_labs(&set, &labs, &[], 1), "ferritin").evaluable);
}

#[test]
fn worst_value_in_window_ties_most_recent() {
    let set = builtin("hlh2004");
    let mut b = Builder::default();
    let p = b.patient("P");
    let r_high = b.lab(p, 0, Analyte::Ferritin, 900.0);
    let _r_low = b.lab(p, 3, Analyte::Ferritin, 300.0);
    let c = b.build();
    // Day 5: the worst (highest) value of the window is day 0's.
    let e = evaluate_at(&c, &set, p, 5);
    let s = status(&e, "ferritin");
    assert!(s.met);
    assert_eq!(s.sources.len(), 1);
    assert_eq!((s.sources[0].row, s.sources[0].date, s.sources[0].value), (r_high, 0, Some(900.0)));
    // Day 8: day 0 has left the window; 300 remains → evaluable, not met.
    let e = evaluate_at(&c, &set, p, 8);
    assert!(status(&e, "ferritin").evaluable && !status(&e, "ferritin").met);

    // Ties: the most recent of equal worst values.
    let mut b = Builder::default();
    let p = b.patient("P");
    b.lab(p, 1, Analyte::Ferritin, 700.0);
    let r_late = b.lab(p, 3, Analyte::Ferritin, 700.0);
    let c = b.build();
    let e = evaluate_at(&c, &set, p, 4);
    assert_eq!(status(&e, "ferritin").sources[0].row, r_late);

    // For "<" tests the lowest value is the worst.
    let mut b = Builder::default();
    let p = b.patient("P");
    let r_low = b.lab(p, 1, Analyte::Platelets, 20.0);
    b.lab(p, 2, Analyte::Platelets, 80.0);
    b.lab(p, 2, Analyte::Hemoglobin, 70.0);
    let c = b.build();
    let e = evaluate_at(&c, &set, p, 2);
    let s = status(&e, "cytopenias");
    assert!(s.met);
    assert_eq!(s.sources.len(), 2);
    assert_eq!(s.sources.iter().map(|r| r.table).collect::<Vec<_>>(), [EvidenceTable::Measurements; 2]);
    assert!(s.sources.iter().any(|r| r.row == r_low));
}

#[test]
fn custom_set_is_just_data() {
    // A set the engine has never seen: ferritin ≥ 10 000 and AST > 100 within 3 days, plus
    // hemophagocytosis mandatory, rule 2 of 3.
    let text = r#"
        name = "icu_custom"
        episode_gap_days = 7
        [rule]
        kind = "count"
        min = 2
        mandatory = ["marrow"]
        [[criteria]]
        name = "hyperferritinemia"
        kind = "lab"
        analyte = "ferritin"
        comparator = ">="
        threshold = 10000
        window_days = 3
        [[criteria]]
        name = "transaminitis"
        kind = "lab"
        analyte = "ast"
        comparator = ">"
        threshold = 100
        [[criteria]]
        name = "marrow"
        kind = "finding"
        finding = "hemophagocytosis"
    "#;
    let set = CriteriaSet::from_toml_str(text, "icu.toml").unwrap();
    assert_eq!(set.episode_gap_days, 7);
    assert!(set.companion_hscore, "count rules report the HScore alongside by default");
    assert!(matches!(set.criteria[0].kind, CriterionKind::Single(Test::Lab { threshold, .. }) if threshold == 10_000.0));
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 12_000.0), (0, Analyte::Ast, 150.0)], &[], 0);
    assert_eq!(e.n_met, 2);
    assert!(!e.holds, "mandatory marrow hemophagocytosis missing");
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 12_000.0)], &[(0, FindingKind::Hemophagocytosis, true)], 3);
    assert!(e.holds);
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 12_000.0)], &[(0, FindingKind::Hemophagocytosis, true)], 4);
    assert!(!e.holds, "ferritin window is 3 days");
    // Companion HScore on the same days (its own 7-day window): ferritin > 6000 → 50,
    // hemophagocytosis 35; on day 8 only hemophagocytosis (30-day window) remains.
    assert_eq!(e.hscore, Some(85.0));
    let e = eval_labs(&set, &[(0, Analyte::Ferritin, 12_000.0)], &[(0, FindingKind::Hemophagocytosis, true)], 8);
    assert_eq!(e.hscore, Some(35.0));
}
