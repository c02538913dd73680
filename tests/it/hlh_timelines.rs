//! HLH detection over time on hand-made patient timelines: episodes, recurrences, gap merging,
//! AML adaptations, evidence (audit trail), CSV output and determinism.

use hemosurv::cohort::{
    iso_to_day, Analyte, Cohort, Day, Finding, FindingKind, Intensity, Measurement, Patient, PatientIdx, Qualifier, Response,
    ResponseAssessment, TreatmentLine,
};
use hemosurv::hlh::{detect, evaluate_at, timeline, CriteriaSet, Detection, DiseaseStatus, EvidenceRole, EvidenceTable};

const UNITS: [&str; 9] = ["°C", "g/L", "10^9/L", "µg/L", "mmol/L", "U/L", "U/mL", "mg/dL", "g/dL"];
const G_DL: u16 = 8;
const MG_DL: u16 = 7;

fn base() -> Day {
    iso_to_day("2020-01-01").unwrap()
}

fn canonical_unit_index(a: Analyte) -> u16 {
    UNITS.iter().position(|u| *u == a.canonical_unit()).unwrap() as u16
}

#[derive(Default)]
struct Builder {
    patients: Vec<Patient>,
    ms: Vec<Measurement>,
    fs: Vec<Finding>,
    ts: Vec<TreatmentLine>,
    rs: Vec<ResponseAssessment>,
}

impl Builder {
    /// A patient diagnosed on day 0 (2020-01-01), followed for `follow_up` days (alive).
    fn patient(&mut self, id: &str, follow_up: i32) -> PatientIdx {
        self.patients.push(Patient {
            id: id.into(),
            diagnosis: base(),
            last_contact: base() + follow_up,
            death: None,
            sex: None,
            age: None,
        });
        (self.patients.len() - 1) as PatientIdx
    }
    fn lab(&mut self, p: PatientIdx, day: i32, a: Analyte, v: f64) -> u32 {
        self.lab_raw(p, day, a, v, v, canonical_unit_index(a))
    }
    fn lab_raw(&mut self, p: PatientIdx, day: i32, a: Analyte, v: f64, raw: f64, unit: u16) -> u32 {
        let row = self.ms.len() as u32 + 1;
        self.ms.push(Measurement {
            patient: p,
            day: base() + day,
            analyte: a,
            unit,
            value: v,
            raw_value: raw,
            row,
            qualifier: Qualifier::None,
        });
        row
    }
    fn finding(&mut self, p: PatientIdx, day: i32, f: FindingKind, present: bool) -> u32 {
        let row = self.fs.len() as u32 + 1;
        self.fs.push(Finding { patient: p, day: base() + day, finding: f, present, row });
        row
    }
    fn line(&mut self, p: PatientIdx, line: u32, regimen: &str, intensity: Intensity, start: i32) {
        let row = self.ts.len() as u32 + 1;
        self.ts.push(TreatmentLine {
            patient: p,
            line,
            regimen: regimen.into(),
            intensity,
            start: base() + start,
            end: None,
            row,
        });
    }
    fn response(&mut self, p: PatientIdx, line: u32, day: i32, r: Response) {
        let row = self.rs.len() as u32 + 1;
        self.rs.push(ResponseAssessment { patient: p, line, day: base() + day, response: r, row });
    }
    /// Classic HLH presentation around day `d` (onset on day d+2 under HLH-2004):
    /// splenomegaly d-2, fever 39.5 + Hb 80 (given 8 g/dL) + platelets 50 on d,
    /// triglycerides 3.5 (given 310 mg/dL) on d+1, ferritin 5000 on d+2.
    fn classic(&mut self, p: PatientIdx, d: i32) {
        self.finding(p, d - 2, FindingKind::Splenomegaly, true);
        self.lab(p, d, Analyte::Temperature, 39.5);
        self.lab_raw(p, d, Analyte::Hemoglobin, 80.0, 8.0, G_DL);
        self.lab(p, d, Analyte::Platelets, 50.0);
        self.lab_raw(p, d + 1, Analyte::Triglycerides, 3.5, 310.0, MG_DL);
        self.lab(p, d + 2, Analyte::Ferritin, 5000.0);
    }
    fn build(self) -> Cohort {
        Cohort::new(self.patients, self.ms, self.fs, self.ts, self.rs, UNITS.iter().map(|s| s.to_string()).collect())
    }
}

fn set(name: &str) -> CriteriaSet {
    CriteriaSet::builtin(name).expect("built-in set")
}

fn csv(d: &Detection) -> (String, String) {
    let a = d.episodes_table("episodes").to_csv_bytes().unwrap();
    let b = d.evidence_table("evidence").to_csv_bytes().unwrap();
    (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
}

fn iso(d: i32) -> String {
    hemosurv::cohort::day_to_iso(base() + d)
}

#[test]
fn classic_hlh_episode_with_full_audit_trail() {
    let mut b = Builder::default();
    let p = b.patient("HLH1", 365);
    b.line(p, 1, "7+3", Intensity::Intensive, 0);
    b.classic(p, 10);
    let c = b.build();
    let d = detect(&c, &set("hlh2004"));
    assert_eq!(d.episodes.len(), 1);
    let e = &d.episodes[0];
    assert_eq!((e.patient, e.episode), (p, 1));
    assert_eq!(e.onset, base() + 12);
    // Fever and cytopenias (day 10) count until day 17; on day 18 only 3 criteria remain.
    assert_eq!(e.end, base() + 17);
    assert!(!e.ongoing_at_end_of_follow_up);
    assert_eq!(
        e.criteria_met_at_onset.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["fever", "splenomegaly", "cytopenias", "hypertriglyceridemia_or_hypofibrinogenemia", "ferritin"]
    );
    assert_eq!((e.max_criteria, e.evaluable_criteria, e.n_criteria), (5, 5, 8));
    // HScore: temperature 49 + organomegaly 23 + cytopenias (2 lineages) 24 + ferritin 35 + TG 44.
    assert_eq!(e.max_hscore, Some(175.0));
    assert_eq!(e.hscore_at_onset, Some(175.0));
    assert_eq!(e.hscore_probability.as_ref().unwrap().percent, Some(62.0));
    let t = e.treatment.as_ref().unwrap();
    assert_eq!((t.line, t.regimen.as_str(), t.intensity, t.days_since_line_start), (1, "7+3", Intensity::Intensive, 12));
    assert_eq!(e.disease_status, DiseaseStatus::BeforeFirstResponse);

    let (ep, ev) = csv(&d);
    assert_eq!(
        ep,
        "patient_id,episode,criteria_set,onset_date,end_date,ongoing_at_end_of_follow_up,criteria_met_at_onset,n_criteria_met_at_onset,\
max_criteria,evaluable_criteria,n_criteria,score_at_onset,hscore_at_onset,max_hscore,hscore_probability_pct,hscore_probability,\
probability_source,line,regimen,intensity,days_since_line_start,disease_status\n\
HLH1,1,hlh2004,2020-01-13,2020-01-18,false,fever;splenomegaly;cytopenias;hypertriglyceridemia_or_hypofibrinogenemia;ferritin,5,5,5,8,,\
175,175,62,62%,Fardet 2014 table,1,7+3,intensive,12,before_first_response\n"
    );
    let expected_evidence = "\
patient_id,episode,criteria_set,criterion,role,evaluated_on,condition,points,table,source_row,date,item,raw_value,raw_unit,value,unit,value_qualifier
HLH1,1,hlh2004,fever,onset,2020-01-13,temperature >= 38.5 °C,,measurements,1,2020-01-11,temperature,39.5,°C,39.5,°C,
HLH1,1,hlh2004,splenomegaly,onset,2020-01-13,splenomegaly present,,findings,1,2020-01-09,splenomegaly,,,,,
HLH1,1,hlh2004,cytopenias,onset,2020-01-13,hemoglobin < 90 g/L,,measurements,2,2020-01-11,hemoglobin,8,g/dL,80,g/L,
HLH1,1,hlh2004,cytopenias,onset,2020-01-13,platelets < 100 10^9/L,,measurements,3,2020-01-11,platelets,50,10^9/L,50,10^9/L,
HLH1,1,hlh2004,hypertriglyceridemia_or_hypofibrinogenemia,onset,2020-01-13,triglycerides >= 3 mmol/L,,measurements,4,2020-01-12,triglycerides,310,mg/dL,3.5,mmol/L,
HLH1,1,hlh2004,ferritin,onset,2020-01-13,ferritin >= 500 µg/L,,measurements,5,2020-01-13,ferritin,5000,µg/L,5000,µg/L,
HLH1,1,hscore,temperature,max_score,2020-01-13,39.4 < temperature °C -> 49 points,49,measurements,1,2020-01-11,temperature,39.5,°C,39.5,°C,
HLH1,1,hscore,organomegaly,max_score,2020-01-13,splenomegaly present,23,findings,1,2020-01-09,splenomegaly,,,,,
HLH1,1,hscore,cytopenias,max_score,2020-01-13,hemoglobin <= 92 g/L,24,measurements,2,2020-01-11,hemoglobin,8,g/dL,80,g/L,
HLH1,1,hscore,cytopenias,max_score,2020-01-13,platelets <= 110 10^9/L,24,measurements,3,2020-01-11,platelets,50,10^9/L,50,10^9/L,
HLH1,1,hscore,ferritin,max_score,2020-01-13,2000 <= ferritin <= 6000 µg/L -> 35 points,35,measurements,5,2020-01-13,ferritin,5000,µg/L,5000,µg/L,
HLH1,1,hscore,triglycerides,max_score,2020-01-13,1.5 <= triglycerides <= 4 mmol/L -> 44 points,44,measurements,4,2020-01-12,triglycerides,310,mg/dL,3.5,mmol/L,
";
    assert_eq!(ev, expected_evidence);

    // The points of the max_score rows add up to max_hscore.
    let sum: f64 = {
        let mut seen = std::collections::BTreeSet::new();
        d.evidence
            .iter()
            .filter(|r| r.role == EvidenceRole::MaxScore && seen.insert(r.criterion.clone()))
            .filter_map(|r| r.points)
            .sum()
    };
    assert_eq!(sum, 175.0);

    let s = &d.summary;
    assert_eq!((s.patients_screened, s.patients_evaluable, s.patients_with_episode, s.episodes), (1, 1, 1, 1));
    let intensive = s.by_first_line_intensity.iter().find(|r| r.intensity == Some(Intensity::Intensive)).unwrap();
    assert_eq!((intensive.screened, intensive.with_episode), (1, 1));
    let text = d.summary_text();
    assert!(text.contains("hlh2004") && text.contains("intensive") && text.contains("Fardet 2014 table"), "{text}");
}

#[test]
fn febrile_neutropenia_in_aplasia_is_not_hlh() {
    let mut b = Builder::default();
    let p = b.patient("FN", 365);
    b.line(p, 1, "7+3", Intensity::Intensive, 0);
    // Day 14 of induction: fever, profound pancytopenia, transfusional ferritin, acute-phase fibrinogen.
    for (a, v) in [
        (Analyte::Temperature, 39.0),
        (Analyte::Neutrophils, 0.1),
        (Analyte::Leukocytes, 0.3),
        (Analyte::Platelets, 10.0),
        (Analyte::Hemoglobin, 75.0),
        (Analyte::Ferritin, 900.0),
        (Analyte::Fibrinogen, 4.5),
        (Analyte::Triglycerides, 1.8),
    ] {
        b.lab(p, 14, a, v);
    }
    // Persisting fever on day 17 with recovering counts.
    b.lab(p, 17, Analyte::Temperature, 39.2);
    let c = b.build();
    for name in ["hlh2004", "hscore", "ohi"] {
        let d = detect(&c, &set(name));
        assert!(d.episodes.is_empty(), "{name}: {:?}", d.episodes);
        assert!(d.evidence.is_empty());
        assert_eq!(d.summary.patients_evaluable, 1);
    }
    // 3 of 8 (fever, cytopenias, ferritin) with 4 evaluable; HScore 33 + 34 + 44 = 111.
    let e = evaluate_at(&c, &set("hlh2004"), p, base() + 14);
    assert_eq!((e.n_met, e.n_evaluable, e.hscore), (3, 4, Some(111.0)));
    let (ep, ev) = csv(&detect(&c, &set("hlh2004")));
    assert_eq!(ep.lines().count(), 1, "header only");
    assert_eq!(ev.lines().count(), 1, "header only");
}

#[test]
fn criteria_spread_over_months_do_not_combine() {
    let mut b = Builder::default();
    let p = b.patient("SPREAD", 400);
    b.lab(p, 0, Analyte::Temperature, 39.0);
    b.lab(p, 40, Analyte::Ferritin, 3000.0);
    b.lab(p, 80, Analyte::Triglycerides, 4.0);
    b.finding(p, 120, FindingKind::Splenomegaly, true);
    b.lab(p, 200, Analyte::Hemoglobin, 70.0);
    b.lab(p, 200, Analyte::Platelets, 30.0);
    b.finding(p, 260, FindingKind::Hemophagocytosis, true);
    b.lab(p, 300, Analyte::Scd25, 5000.0);
    let c = b.build();
    let hl = set("hlh2004");
    let tl = timeline(&c, &hl, p);
    assert!(!tl.is_empty());
    assert_eq!(tl.iter().map(|d| d.n_met).max(), Some(1), "never two criteria at once");
    assert!(tl.iter().all(|d| !d.holds));
    // The state is constant between change days: days are increasing and include expiries.
    assert!(tl.windows(2).all(|w| w[0].day < w[1].day));
    assert!(tl.iter().any(|d| d.day == base() + 8) && tl.iter().any(|d| d.day == base() + 151));
    assert!(detect(&c, &hl).episodes.is_empty());
    // Lowering the rule to 1 of 8 makes every criterion its own episode, except that
    // hemophagocytosis (days 260..=290) and sCD25 (300..=307) are 9 negative days apart (< 14)
    // and merge.
    let text = hemosurv::hlh::builtin_toml("hlh2004").unwrap().replacen("min = 5 ", "min = 1 ", 1);
    let one = CriteriaSet::from_toml_str(&text, "one.toml").unwrap();
    let d = detect(&c, &one);
    let got: Vec<(u32, Day, Day)> = d.episodes.iter().map(|e| (e.episode, e.onset - base(), e.end - base())).collect();
    assert_eq!(got, [(1, 0, 7), (2, 40, 47), (3, 80, 87), (4, 120, 150), (5, 200, 207), (6, 260, 307)]);
}

/// A one-criterion set: ferritin >= 500 on the day itself only.
fn single_day_set(gap: u32) -> CriteriaSet {
    let text = format!(
        "name = \"ferritin_day\"\nepisode_gap_days = {gap}\n[rule]\nkind = \"all\"\n[[criteria]]\nname = \"ferritin\"\nkind = \"lab\"\n\
         analyte = \"ferritin\"\ncomparator = \">=\"\nthreshold = 500\nwindow_days = 0\n"
    );
    CriteriaSet::from_toml_str(&text, "ferritin_day.toml").unwrap()
}

#[test]
fn gap_merging_boundary() {
    let mut b = Builder::default();
    let merged = b.patient("MERGED", 365);
    b.lab(merged, 10, Analyte::Ferritin, 800.0);
    b.lab(merged, 24, Analyte::Ferritin, 800.0); // 13 negative days (11..=23) → merged
    let apart = b.patient("APART", 365);
    b.lab(apart, 10, Analyte::Ferritin, 800.0);
    b.lab(apart, 25, Analyte::Ferritin, 800.0); // 14 negative days → two episodes
    let c = b.build();
    let d = detect(&c, &single_day_set(14));
    let got: Vec<(&str, u32, Day, Day)> =
        d.episodes.iter().map(|e| (e.patient_id.as_str(), e.episode, e.onset - base(), e.end - base())).collect();
    assert_eq!(got, [("MERGED", 1, 10, 24), ("APART", 1, 10, 10), ("APART", 2, 25, 25)]);
    // With gap 0 nothing merges; with gap 15 both merge.
    assert_eq!(detect(&c, &single_day_set(0)).episodes.len(), 4);
    assert_eq!(detect(&c, &single_day_set(15)).episodes.len(), 2);
}

#[test]
fn recurrence_and_disease_status() {
    let mut b = Builder::default();
    let p = b.patient("REC", 500);
    b.line(p, 1, "7+3", Intensity::Intensive, 0);
    b.classic(p, 10); // onset day 12
    b.response(p, 1, 35, Response::CR);
    b.classic(p, 60); // onset day 62, in remission
    b.response(p, 1, 120, Response::Relapse);
    b.line(p, 2, "aza+ven", Intensity::LowIntensity, 125);
    b.classic(p, 150); // onset day 152, relapsed
    let c = b.build();
    let d = detect(&c, &set("hlh2004"));
    let got: Vec<(u32, Day, DiseaseStatus, u32, i32)> = d
        .episodes
        .iter()
        .map(|e| {
            let t = e.treatment.as_ref().unwrap();
            (e.episode, e.onset - base(), e.disease_status, t.line, t.days_since_line_start)
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 12, DiseaseStatus::BeforeFirstResponse, 1, 12),
            (2, 62, DiseaseStatus::InRemission, 1, 62),
            (3, 152, DiseaseStatus::RelapsedRefractory, 2, 27)
        ]
    );
    assert_eq!(d.summary.patients_with_episode, 1);
    assert_eq!(d.summary.episodes, 3);
    // Evidence is listed per episode, each with its own rows.
    for k in 1..=3 {
        assert_eq!(d.evidence.iter().filter(|r| r.episode == k && r.role == EvidenceRole::Onset).count(), 6);
    }
    let (ep, _) = csv(&d);
    assert!(ep.contains(&format!("REC,3,hlh2004,{},", iso(152))));
    assert!(ep.contains(",2,aza+ven,low_intensity,27,relapsed_refractory\n"), "{ep}");
    // A non-CR assessment (PR) as the latest response also counts as relapsed/refractory.
    let mut b = Builder::default();
    let p = b.patient("PR", 200);
    b.response(p, 1, 30, Response::PR);
    b.classic(p, 40);
    let c = b.build();
    assert_eq!(detect(&c, &set("hlh2004")).episodes[0].disease_status, DiseaseStatus::RelapsedRefractory);
    assert!(detect(&c, &set("hlh2004")).episodes[0].treatment.is_none());
}

#[test]
fn missing_scd25_and_nk_are_not_evaluable_but_five_others_suffice() {
    let mut b = Builder::default();
    let p = b.patient("NOSCD25", 365);
    b.classic(p, 10);
    b.finding(p, 11, FindingKind::Hemophagocytosis, false); // marrow done, no hemophagocytosis
    let c = b.build();
    let d = detect(&c, &set("hlh2004"));
    assert_eq!(d.episodes.len(), 1);
    let e = &d.episodes[0];
    assert_eq!((e.criteria_met_at_onset.len(), e.evaluable_criteria), (5, 6));
    let at = evaluate_at(&c, &set("hlh2004"), p, base() + 12);
    let ev: Vec<(&str, bool, bool)> = at.criteria.iter().map(|s| (s.name.as_str(), s.evaluable, s.met)).collect();
    assert_eq!(
        ev,
        [
            ("fever", true, true),
            ("splenomegaly", true, true),
            ("cytopenias", true, true),
            ("hypertriglyceridemia_or_hypofibrinogenemia", true, true),
            ("hemophagocytosis", true, false),
            ("low_nk_activity", false, false),
            ("ferritin", true, true),
            ("scd25", false, false),
        ]
    );
    // With 4 evaluable criteria only, 5 of 8 can never be reached.
    let mut b = Builder::default();
    let p = b.patient("FOUR", 365);
    b.lab(p, 10, Analyte::Temperature, 40.0);
    b.lab(p, 10, Analyte::Ferritin, 20_000.0);
    b.lab(p, 10, Analyte::Triglycerides, 5.0);
    b.finding(p, 10, FindingKind::Splenomegaly, true);
    let c = b.build();
    assert!(detect(&c, &set("hlh2004")).episodes.is_empty());
}

#[test]
fn criterion_met_later_in_the_episode_is_audited() {
    let mut b = Builder::default();
    let p = b.patient("LATE", 365);
    b.classic(p, 10);
    let row = b.lab(p, 14, Analyte::Scd25, 3000.0);
    let c = b.build();
    let d = detect(&c, &set("hlh2004"));
    let e = &d.episodes[0];
    assert_eq!((e.criteria_met_at_onset.len(), e.max_criteria), (5, 6));
    let late: Vec<_> = d.evidence.iter().filter(|r| r.role == EvidenceRole::DuringEpisode).collect();
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].criterion.as_str(), late[0].source_row, late[0].evaluated_on), ("scd25", row, base() + 14));
    assert_eq!(
        (late[0].table, late[0].raw_value, late[0].raw_unit.as_deref()),
        (EvidenceTable::Measurements, Some(3000.0), Some("U/mL"))
    );
    // On day 18 fever and cytopenias expire but sCD25 keeps 4 ... still < 5: the episode ends on 17.
    assert_eq!(e.end, base() + 17);
}

#[test]
fn episode_is_cut_at_the_end_of_follow_up() {
    let mut b = Builder::default();
    let p = b.patient("DIED", 365);
    b.classic(p, 10);
    b.lab(p, 20, Analyte::Scd25, 9000.0); // after death: ignored
    let mut c = b.build();
    c.patients[p as usize].death = Some(base() + 14);
    let d = detect(&c, &set("hlh2004"));
    let e = &d.episodes[0];
    assert_eq!((e.onset, e.end, e.ongoing_at_end_of_follow_up), (base() + 12, base() + 14, true));
    assert!(d.evidence.iter().all(|r| r.item != "scd25"));
    // Onsets after the end of follow-up cannot occur.
    let mut b = Builder::default();
    let p = b.patient("LOST", 5);
    b.classic(p, 10);
    assert!(detect(&b.build(), &set("hlh2004")).episodes.is_empty());
    let _ = p;
}

#[test]
fn cytopenia_mode_ignore_during_aplasia() {
    let aml = hemosurv::hlh::builtin_toml("hlh2004")
        .unwrap()
        .replace("cytopenia_mode = \"count\"", "cytopenia_mode = \"ignore_during_aplasia\"");
    let aml = CriteriaSet::from_toml_str(&aml, "aml.toml").unwrap();
    let mut b = Builder::default();
    let during = b.patient("DURING", 365);
    b.line(during, 1, "7+3", Intensity::Intensive, 0);
    b.classic(during, 20); // onset day 22, inside aplasia (days 0..=42)
    let after = b.patient("AFTER", 365);
    b.line(after, 1, "7+3", Intensity::Intensive, 0);
    b.classic(after, 50);
    let low = b.patient("LOWINT", 365);
    b.line(low, 1, "aza+ven", Intensity::LowIntensity, 0);
    b.classic(low, 20);
    let c = b.build();

    let plain = detect(&c, &set("hlh2004"));
    assert_eq!(plain.episodes.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(), ["DURING", "AFTER", "LOWINT"]);
    let adapted = detect(&c, &aml);
    assert_eq!(adapted.episodes.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(), ["AFTER", "LOWINT"]);
    let at = evaluate_at(&c, &aml, during, base() + 22);
    let cyto = at.criteria.iter().find(|s| s.name == "cytopenias").unwrap();
    assert!(!cyto.evaluable && !cyto.met);
    assert_eq!((at.n_met, at.n_evaluable), (4, 4));
    // The companion HScore drops its cytopenia points too (175 - 24).
    assert_eq!(at.hscore, Some(151.0));

    // Boundary: aplasia covers days start..=start+42.
    let mut b = Builder::default();
    let p = b.patient("EDGE", 365);
    b.line(p, 1, "7+3", Intensity::Intensive, 0);
    b.lab(p, 40, Analyte::Hemoglobin, 70.0);
    b.lab(p, 40, Analyte::Platelets, 20.0);
    let c = b.build();
    let cy = |day: i32| {
        let e = evaluate_at(&c, &aml, p, base() + day);
        let s = e.criteria.iter().find(|s| s.name == "cytopenias").unwrap().clone();
        (s.evaluable, s.met)
    };
    assert_eq!(cy(42), (false, false));
    assert_eq!(cy(43), (true, true));
    assert!(timeline(&c, &aml, p).iter().any(|d| d.day == base() + 43), "end of aplasia is a change day");
    // Aplasia length and intensities are configurable.
    let t = hemosurv::hlh::builtin_toml("hlh2004")
        .unwrap()
        .replace("cytopenia_mode = \"count\"", "cytopenia_mode = \"ignore_during_aplasia\"")
        .replace("aplasia_days = 42", "aplasia_days = 28");
    let short = CriteriaSet::from_toml_str(&t, "short.toml").unwrap();
    assert!(evaluate_at(&c, &short, p, base() + 40).criteria[2].met);
}

#[test]
fn custom_toml_file_with_aml_adaptations() {
    // 4 of 8 with mandatory hemophagocytosis and ferritin >= 1000, as a user file.
    let text = hemosurv::hlh::builtin_toml("hlh2004")
        .unwrap()
        .replace("name = \"hlh2004\"", "name = \"hlh2004_aml\"")
        .replacen("min = 5 ", "min = 4 ", 1)
        .replace("mandatory = []", "mandatory = [\"hemophagocytosis\"]")
        .replace("# ferritin_threshold = 1000.0", "ferritin_threshold = 1000.0");
    let path = std::env::temp_dir().join(format!("hemosurv_hlh_custom_{}.toml", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let custom = CriteriaSet::from_file(&path);
    std::fs::remove_file(&path).ok();
    let custom = custom.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(custom.name, "hlh2004_aml");
    assert!(
        custom.rule_text().contains(">= 4 of 8") && custom.rule_text().contains("hemophagocytosis"),
        "{}",
        custom.rule_text()
    );

    let mut b = Builder::default();
    // 4 criteria + marrow hemophagocytosis → positive under the custom set only.
    let a = b.patient("MARROW", 365);
    b.lab(a, 10, Analyte::Temperature, 39.0);
    b.lab(a, 10, Analyte::Ferritin, 1500.0);
    b.lab(a, 10, Analyte::Fibrinogen, 1.0);
    b.finding(a, 11, FindingKind::Hemophagocytosis, true);
    // 5 criteria without hemophagocytosis → positive under HLH-2004 only.
    let n = b.patient("NOMARROW", 365);
    b.classic(n, 10);
    // Ferritin 800: meets HLH-2004's 500 but not the custom 1000.
    let f = b.patient("FERR800", 365);
    b.lab(f, 10, Analyte::Temperature, 39.0);
    b.lab(f, 10, Analyte::Ferritin, 800.0);
    b.lab(f, 10, Analyte::Fibrinogen, 1.0);
    b.finding(f, 10, FindingKind::Hemophagocytosis, true);
    let c = b.build();
    let d = detect(&c, &custom);
    assert_eq!(d.criteria_set, "hlh2004_aml");
    assert_eq!(d.episodes.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(), ["MARROW"]);
    assert_eq!(d.episodes[0].onset, base() + 11);
    let ev: Vec<_> = d
        .evidence
        .iter()
        .filter(|r| r.role == EvidenceRole::Onset)
        .map(|r| (r.criterion.as_str(), r.condition.as_str()))
        .collect();
    assert_eq!(
        ev,
        [
            ("fever", "temperature >= 38.5 °C"),
            ("hypertriglyceridemia_or_hypofibrinogenemia", "fibrinogen <= 1.5 g/L"),
            ("hemophagocytosis", "hemophagocytosis present"),
            ("ferritin", "ferritin >= 1000 µg/L"),
        ]
    );
    let d = detect(&c, &set("hlh2004"));
    assert_eq!(d.episodes.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(), ["NOMARROW"]);
}

#[test]
fn hscore_and_ohi_episodes() {
    let mut b = Builder::default();
    let p = b.patient("HS", 365);
    b.classic(p, 10);
    b.lab(p, 13, Analyte::Ast, 80.0);
    b.lab(p, 13, Analyte::Scd25, 12_000.0);
    let c = b.build();
    let d = detect(&c, &set("hscore"));
    assert_eq!(d.episodes.len(), 1);
    let e = &d.episodes[0];
    // Onset day 11: 49 + 23 + 24 + 44 = 140 < 169; day 12: + ferritin 35 = 175 ≥ 169; day 13: + AST 19 = 194.
    assert_eq!(e.onset, base() + 12);
    assert_eq!((e.score_at_onset, e.hscore_at_onset, e.max_hscore), (Some(175.0), Some(175.0), Some(194.0)));
    let pct = e.hscore_probability.as_ref().unwrap().percent.unwrap();
    assert!((pct - 83.2).abs() < 1e-12, "{pct}");
    assert_eq!(e.hscore_probability.as_ref().unwrap().label(), "83.2%");
    // End: on day 18 temperature (49) and cytopenias (24) expire: 194 - 73 = 121 → end day 17.
    assert_eq!(e.end, base() + 17);
    assert!(d.evidence.iter().any(|r| r.role == EvidenceRole::MaxScore && r.criterion == "ast" && r.points == Some(19.0)));
    // HScore evidence of the set itself is labelled with the set name.
    assert!(d.evidence.iter().all(|r| r.criteria_set == "hscore"));

    let d = detect(&c, &set("ohi"));
    assert_eq!(d.episodes.len(), 1);
    assert_eq!((d.episodes[0].onset, d.episodes[0].end), (base() + 13, base() + 19));
    assert_eq!(d.episodes[0].max_hscore, Some(194.0), "companion HScore");
}

#[test]
fn output_is_deterministic_across_thread_counts() {
    let mut b = Builder::default();
    for i in 0..700 {
        let p = b.patient(&format!("P{i:04}"), 300);
        let intensity = match i % 3 {
            0 => Intensity::Intensive,
            1 => Intensity::LowIntensity,
            _ => Intensity::Supportive,
        };
        if i % 7 != 0 {
            b.line(p, 1, "x", intensity, 0);
        }
        if i % 5 == 0 {
            b.classic(p, 10 + i % 50);
        }
        if i % 11 == 0 {
            b.classic(p, 150);
        }
        b.lab(p, i % 90, Analyte::Ferritin, 100.0 + f64::from(i));
    }
    let c = b.build();
    let hl = set("hlh2004");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let d = detect(&c, &hl);
            let (a, e) = csv(&d);
            (a, e, d.summary.clone())
        })
    };
    let one = run(1);
    let two = run(2);
    let three = run(3);
    assert_eq!(one, two);
    assert_eq!(one, three);
    let s = &one.2;
    // Patients with a classic presentation: i % 5 == 0 or i % 11 == 0.
    let expected = (0..700).filter(|i| i % 5 == 0 || i % 11 == 0).count();
    assert_eq!(s.patients_with_episode, expected);
    assert_eq!(s.patients_screened, 700);
    assert_eq!(s.patients_evaluable, 700);
    let sum_screened: usize = s.by_first_line_intensity.iter().map(|r| r.screened).sum();
    assert_eq!(sum_screened, 700);
    let none = s.by_first_line_intensity.last().unwrap();
    assert_eq!((none.intensity, none.screened), (None, (0..700).filter(|i| i % 7 == 0).count()));
    // Episodes are ordered by patient, then episode.
    let keys: Vec<(u32, u32)> = detect(&c, &hl).episodes.iter().map(|e| (e.patient, e.episode)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

// ------------------------------------------------------------------------------------------
// Cross-check: the change-day sweep against a brute-force evaluation of every day
// ------------------------------------------------------------------------------------------

mod brute {
    use hemosurv::cohort::{Cohort, Day, PatientIdx};
    use hemosurv::hlh::{CriteriaSet, Criterion, CriterionKind, CytopeniaMode, RuleKind, Test, Worst};

    /// (evaluable, met) of one test on day t, from every record in [t - w, t].
    fn test(c: &Cohort, p: PatientIdx, set: &CriteriaSet, t: &Test, w: u32, day: Day) -> (bool, bool) {
        let lo = day - w as i32;
        match t {
            Test::Lab { analyte, comparator, threshold } => {
                let thr = match (analyte, set.adaptations.ferritin_threshold) {
                    (hemosurv::cohort::Analyte::Ferritin, Some(o)) => o,
                    _ => *threshold,
                };
                let vals: Vec<f64> = c
                    .measurements_of(p)
                    .iter()
                    .filter(|m| m.analyte == *analyte && m.day >= lo && m.day <= day)
                    .map(|m| m.value)
                    .collect();
                (!vals.is_empty(), vals.iter().any(|v| comparator.holds(*v, thr)))
            }
            Test::Finding(k) => {
                let recs: Vec<bool> = c
                    .findings_of(p)
                    .iter()
                    .filter(|f| f.finding == *k && f.day >= lo && f.day <= day)
                    .map(|f| f.present)
                    .collect();
                (!recs.is_empty(), recs.iter().any(|x| *x))
            }
        }
    }

    fn in_aplasia(c: &Cohort, p: PatientIdx, set: &CriteriaSet, day: Day) -> bool {
        set.adaptations.cytopenia_mode == CytopeniaMode::IgnoreDuringAplasia
            && c.treatments_of(p).iter().any(|l| {
                set.adaptations.aplasia_intensities.contains(&l.intensity)
                    && l.start <= day
                    && day <= l.start + set.adaptations.aplasia_days as i32
            })
    }

    /// (evaluable, met, points) of one criterion.
    pub fn criterion(
        c: &Cohort,
        p: PatientIdx,
        set: &CriteriaSet,
        aplasia_from: &CriteriaSet,
        cr: &Criterion,
        day: Day,
    ) -> (bool, bool, f64) {
        if cr.aplasia_sensitive && in_aplasia(c, p, aplasia_from, day) {
            return (false, false, 0.0);
        }
        match &cr.kind {
            CriterionKind::Single(t) => {
                let (ev, met) = test(c, p, set, t, cr.window_for(t, None), day);
                (ev, met, if met { cr.points.unwrap_or(0.0) } else { 0.0 })
            }
            CriterionKind::CountOf { conditions, min, count_points } => {
                let r: Vec<(bool, bool)> =
                    conditions.iter().map(|cd| test(c, p, set, &cd.test, cr.window_for(&cd.test, cd.window_days), day)).collect();
                let k = r.iter().filter(|x| x.1).count() as u32;
                let met = k >= *min;
                let pts = if count_points.is_empty() {
                    if met {
                        cr.points.unwrap_or(0.0)
                    } else {
                        0.0
                    }
                } else {
                    count_points.iter().find(|cp| cp.count == k).map_or(0.0, |cp| cp.points)
                };
                (r.iter().any(|x| x.0), met, pts)
            }
            CriterionKind::LabPoints { analyte, worst, bands } => {
                let lo = day - cr.points_window() as i32;
                let vals =
                    c.measurements_of(p).iter().filter(|m| m.analyte == *analyte && m.day >= lo && m.day <= day).map(|m| m.value);
                let v = match worst {
                    Worst::Max => vals.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v)))),
                    Worst::Min => vals.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v)))),
                };
                match v {
                    None => (false, false, 0.0),
                    Some(v) => {
                        let pts = bands.iter().find(|b| b.contains(v)).map_or(0.0, |b| b.points);
                        (true, pts > 0.0, pts)
                    }
                }
            }
        }
    }

    /// Per criterion (evaluable, met, points), the score, the HScore and whether the rule holds.
    /// Per criterion (evaluable, met, points), score, HScore, rule holds.
    pub type DayResult = (Vec<(bool, bool, f64)>, f64, Option<f64>, bool);

    pub fn day(c: &Cohort, p: PatientIdx, set: &CriteriaSet, hs: &CriteriaSet, day: Day) -> DayResult {
        let st: Vec<_> = set.criteria.iter().map(|cr| criterion(c, p, set, set, cr, day)).collect();
        let score: f64 = st.iter().map(|x| x.2).sum();
        let n_met = st.iter().filter(|x| x.1).count() as u32;
        let all_mandatory = set.rule.mandatory.iter().all(|m| st[set.index_of(m).unwrap()].1);
        let holds = all_mandatory
            && match set.rule.kind {
                RuleKind::Count { min } => n_met >= min,
                RuleKind::Score { cutoff } => score >= cutoff,
                RuleKind::All => n_met as usize == st.len(),
            };
        let hscore = match set.rule.kind {
            RuleKind::Score { .. } => Some(score),
            _ if set.companion_hscore => Some(hs.criteria.iter().map(|cr| criterion(c, p, hs, set, cr, day).2).sum()),
            _ => None,
        };
        (st, score, hscore, holds)
    }
}

struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Values at and around every threshold and band edge of the built-in sets.
fn boundary_values(a: Analyte) -> &'static [f64] {
    match a {
        Analyte::Temperature => &[36.5, 38.39, 38.4, 38.49, 38.5, 39.4, 39.41, 40.2],
        Analyte::Hemoglobin => &[60.0, 89.9, 90.0, 92.0, 92.1, 130.0],
        Analyte::Platelets => &[5.0, 99.9, 100.0, 110.0, 110.1, 300.0],
        Analyte::Neutrophils => &[0.1, 0.99, 1.0, 3.0],
        Analyte::Leukocytes => &[0.5, 5.0, 5.01, 9.0],
        Analyte::Ferritin => &[200.0, 499.0, 500.0, 1000.0, 1000.5, 1999.0, 2000.0, 6000.0, 6001.0],
        Analyte::Triglycerides => &[1.0, 1.49, 1.5, 2.99, 3.0, 4.0, 4.01],
        Analyte::Fibrinogen => &[0.9, 1.5, 1.51, 2.5, 2.51, 4.0],
        Analyte::Ast => &[20.0, 29.9, 30.0, 90.0],
        Analyte::Scd25 => &[1000.0, 2399.0, 2400.0, 3900.0, 3901.0, 9000.0],
    }
}

#[test]
fn sweep_matches_brute_force_on_random_cohorts() {
    let mut rng = SplitMix(20_240_611);
    let mut b = Builder::default();
    let n_patients = 40;
    for i in 0..n_patients {
        let p = b.patient(&format!("R{i:02}"), 150);
        // Dense, bursty data over ~120 days so that criteria overlap and expire often.
        let n = 20 + rng.below(60) as usize;
        for _ in 0..n {
            let a = rng.pick(&Analyte::ALL);
            let day = rng.below(120) as i32;
            b.lab(p, day, a, rng.pick(boundary_values(a)));
        }
        for _ in 0..rng.below(6) {
            let f = rng.pick(&FindingKind::ALL);
            b.finding(p, rng.below(120) as i32, f, rng.below(3) != 0);
        }
        if rng.below(2) == 0 {
            let intensity = rng.pick(&[Intensity::Intensive, Intensity::LowIntensity, Intensity::Transplant]);
            b.line(p, 1, "x", intensity, rng.below(60) as i32);
        }
    }
    let c = b.build();

    let t = |from: &str, to: &str, text: &str| {
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    };
    let h = hemosurv::hlh::builtin_toml("hlh2004").unwrap();
    let adapted = t("name = \"hlh2004\"", "name = \"hlh2004_adapted\"", h);
    let adapted = t("cytopenia_mode = \"count\"", "cytopenia_mode = \"ignore_during_aplasia\"", &adapted);
    let adapted = t("aplasia_intensities = [\"intensive\"]", "aplasia_intensities = [\"intensive\", \"transplant\"]", &adapted);
    let adapted = t("# ferritin_threshold = 1000.0", "ferritin_threshold = 1000.0", &adapted);
    let adapted = t("min = 5 ", "min = 3 ", &adapted);
    let adapted = t("mandatory = []", "mandatory = [\"ferritin\"]", &adapted);
    let hs = hemosurv::hlh::builtin_toml("hscore").unwrap();
    let hs_aml = t("name = \"hscore\"", "name = \"hscore_aml\"", hs);
    let hs_aml = t("cytopenia_mode = \"count\"", "cytopenia_mode = \"ignore_during_aplasia\"", &hs_aml);
    let custom = r#"
        name = "mixed"
        companion_hscore = false
        [rule]
        kind = "count"
        min = 2
        [[criteria]]
        name = "inflammation"
        kind = "count_of"
        min = 2
        window_days = 10
        conditions = [
          { analyte = "ferritin", comparator = ">", threshold = 1000 },
          { analyte = "fibrinogen", comparator = "<", threshold = 1.51, window_days = 3 },
          { finding = "hemophagocytosis", window_days = 0 },
        ]
        [[criteria]]
        name = "ast_band"
        kind = "lab_points"
        analyte = "ast"
        worst = "min"
        window_days = 2
        bands = [ { below = 30, points = 5 }, { from = 30, points = 0 } ]
        [[criteria]]
        name = "counts"
        kind = "count_of"
        conditions = [ { analyte = "leukocytes", comparator = "<=", threshold = 5 }, { analyte = "neutrophils", comparator = "<", threshold = 1 } ]
    "#;
    let sets = vec![
        set("hlh2004"),
        CriteriaSet::from_toml_str(&adapted, "adapted.toml").unwrap(),
        set("hscore"),
        CriteriaSet::from_toml_str(&hs_aml, "hs_aml.toml").unwrap(),
        set("ohi"),
        CriteriaSet::from_toml_str(custom, "mixed.toml").unwrap(),
    ];
    let hscore_set = set("hscore");
    let mut positive_days = 0;
    let mut episodes_checked = 0;
    for s in &sets {
        let det = detect(&c, s);
        for p in 0..n_patients as PatientIdx {
            // Episodes from the dense day-by-day brute force: runs of positive days up to the end of
            // follow-up, merged when fewer than `episode_gap_days` negative days separate them.
            let end = c.patients[p as usize].end_of_follow_up();
            type Dense = (Day, Vec<(bool, bool, f64)>, Option<f64>, bool);
            let dense: Vec<Dense> = ((base() - 2)..=end)
                .map(|d| {
                    let (st, _, h, holds) = brute::day(&c, p, s, &hscore_set, d);
                    (d, st, h, holds)
                })
                .collect();
            let mut runs: Vec<(Day, Day)> = Vec::new();
            for (d, _, _, holds) in &dense {
                if !*holds {
                    continue;
                }
                match runs.last_mut() {
                    Some(r) if *d == r.1 + 1 => r.1 = *d,
                    Some(r) if (*d - r.1 - 1) < s.episode_gap_days as i32 => r.1 = *d,
                    _ => runs.push((*d, *d)),
                }
            }
            let got: Vec<_> = det.episodes.iter().filter(|e| e.patient == p).collect();
            assert_eq!(
                got.len(),
                runs.len(),
                "set {} patient {p}: episodes {:?} vs {runs:?}",
                s.name,
                got.iter().map(|e| (e.onset, e.end)).collect::<Vec<_>>()
            );
            episodes_checked += got.len();
            for (e, r) in got.iter().zip(&runs) {
                assert_eq!((e.onset, e.end), *r, "set {} patient {p}", s.name);
                let at = |d: Day| dense.iter().find(|x| x.0 == d).unwrap();
                let onset = at(e.onset);
                let names: Vec<String> =
                    s.criteria.iter().zip(&onset.1).filter(|(_, st)| st.1).map(|(cr, _)| cr.name.clone()).collect();
                assert_eq!(e.criteria_met_at_onset.iter().map(|c| c.to_string()).collect::<Vec<_>>(), names);
                assert_eq!(e.evaluable_criteria as usize, onset.1.iter().filter(|x| x.0).count());
                let in_ep = dense.iter().filter(|x| x.0 >= e.onset && x.0 <= e.end);
                let max_c = in_ep.clone().map(|x| x.1.iter().filter(|y| y.1).count()).max().unwrap();
                assert_eq!(e.max_criteria as usize, max_c);
                let max_h = in_ep.filter_map(|x| x.2).fold(None, |a: Option<f64>, h| Some(a.map_or(h, |a| a.max(h))));
                assert_eq!(e.max_hscore, max_h);
            }
            let tl = timeline(&c, s, p);
            let mut k = 0usize;
            for day in (base() - 2)..=(base() + 150) {
                while k < tl.len() && tl[k].day <= day {
                    k += 1;
                }
                let (st, score, hscore, holds) = brute::day(&c, p, s, &hscore_set, day);
                let ctx = format!("set {} patient {p} day {}", s.name, day - base());
                if k == 0 {
                    assert!(st.iter().all(|x| !x.0 && !x.1 && x.2 == 0.0), "{ctx}: data before the first change day");
                    assert!(!holds, "{ctx}");
                    continue;
                }
                let e = &tl[k - 1];
                for (i, cs) in e.criteria.iter().enumerate() {
                    assert_eq!((cs.evaluable, cs.met), (st[i].0, st[i].1), "{ctx}: criterion {}", cs.name);
                    if let Some(pts) = cs.points {
                        assert_eq!(pts, st[i].2, "{ctx}: points of {}", cs.name);
                    }
                }
                assert_eq!(e.n_met as usize, st.iter().filter(|x| x.1).count(), "{ctx}");
                assert_eq!(e.n_evaluable as usize, st.iter().filter(|x| x.0).count(), "{ctx}");
                if let Some(sc) = e.score {
                    assert_eq!(sc, score, "{ctx}: score");
                }
                assert_eq!(e.hscore, hscore, "{ctx}: hscore");
                assert_eq!(e.holds, holds, "{ctx}: rule");
                positive_days += usize::from(holds);
            }
        }
    }
    assert!(positive_days > 100, "the random cohort must exercise positive days too ({positive_days})");
    assert!(episodes_checked > 30, "and episodes ({episodes_checked})");
    eprintln!("checked {positive_days} positive days, {episodes_checked} episodes");
}
