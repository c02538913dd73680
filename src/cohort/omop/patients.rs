//! Patients from `person`, `observation_period`, `condition_occurrence` (the AML diagnosis)
//! and `death`, and the window each patient's other rows must fall in.

use std::collections::HashMap;

use super::audit::{Audit, Reason};
use super::concepts::Concepts;
use super::mapping::{CheckedMapping, PatientIdSource, Target};
use super::read::{Cdm, RawTable};
use super::OmopError;
use crate::cohort::{iso_to_day, Day};

/// A cohort patient made from a person with an AML diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPatient {
    /// First AML condition date.
    pub diagnosis: Day,
    /// Its row in `condition_occurrence` (0-based).
    pub diagnosis_row: usize,
    /// End of the observation period containing the diagnosis, or the kept death date.
    pub last_contact: Day,
    /// Death date, if kept (see [`death_rule`]).
    pub death: Option<Day>,
    /// Earliest date of a row kept for this patient.
    pub window_start: Day,
    /// Age at diagnosis in years, 1 decimal.
    pub age: Option<f64>,
}

/// One row of `person`.
#[derive(Debug, Clone)]
pub struct Person {
    /// person_id.
    pub person_id: i64,
    /// The cohort's patient_id.
    pub patient_id: String,
    /// `F`/`M` from gender_concept_id 8532/8507, else gender_source_value.
    pub sex: Option<String>,
    /// Date of birth (missing month/day filled by the mapping).
    pub birth: Option<Day>,
    /// The patient, or why the person is not one.
    pub status: Result<CohortPatient, Reason>,
}

/// The persons of the extract.
#[derive(Debug, Default)]
pub struct People {
    /// In `person` row order.
    pub persons: Vec<Person>,
    index: HashMap<i64, usize>,
}

impl People {
    /// The patient of `person_id` (its index in [`People::persons`]), or why its rows are left out.
    pub fn patient(&self, person_id: i64) -> Result<(usize, &CohortPatient), Reason> {
        let &i = self.index.get(&person_id).ok_or(Reason::UnknownPerson)?;
        match &self.persons[i].status {
            Ok(p) => Ok((i, p)),
            Err(r) => Err(*r),
        }
    }

    /// The patient of a row dated `date`, or why the row is left out (person, then window).
    pub fn place(&self, person_id: i64, date: Day) -> Result<usize, Reason> {
        let (i, p) = self.patient(person_id)?;
        if date < p.window_start {
            Err(Reason::BeforeDiagnosisWindow)
        } else if date > p.last_contact {
            Err(Reason::OutsideObservationPeriod)
        } else {
            Ok(i)
        }
    }
}

/// Sex from `gender_concept_id` (8507 male, 8532 female; OMOP Gender vocabulary), else
/// `gender_source_value` as written.
fn sex_of(concept: Option<i64>, source: Option<&str>) -> Option<String> {
    match concept {
        Some(8532) => Some("F".into()),
        Some(8507) => Some("M".into()),
        _ => source.map(str::to_string),
    }
}

/// Date of birth from year/month/day (missing month/day filled from the mapping).
fn birth_of(t: &RawTable, row: usize, mapping: &CheckedMapping) -> Result<Option<Day>, OmopError> {
    let (yc, mc, dc) = (t.optional("year_of_birth"), t.optional("month_of_birth"), t.optional("day_of_birth"));
    let Some(y) = t.int(yc, row)? else { return Ok(None) };
    let m = t.int(mc, row)?.unwrap_or(mapping.mapping.person.missing_birth_month as i64);
    let d = t.int(dc, row)?.unwrap_or(mapping.mapping.person.missing_birth_day as i64);
    iso_to_day(&format!("{y:04}-{m:02}-{d:02}"))
        .map(Some)
        .ok_or_else(|| t.invalid(yc, row, &format!("a valid date of birth (year/month/day {y}/{m}/{d})")))
}

/// Age at diagnosis: (diagnosis − birth) days / 365.25, rounded to 1 decimal.
pub fn age_at(birth: Day, diagnosis: Day) -> f64 {
    (((diagnosis - birth) as f64 / 365.25) * 10.0).round() / 10.0
}

fn read_persons(t: &RawTable, mapping: &CheckedMapping, audit: &mut Audit) -> Result<People, OmopError> {
    let id_c = t.require("person_id")?;
    let src_c = t.optional("person_source_value");
    let g_c = t.optional("gender_concept_id");
    let gs_c = t.optional("gender_source_value");
    audit.read("person", t.height());
    let mut people = People::default();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for row in 0..t.height() {
        let person_id = t.req_int(id_c, row)?;
        let patient_id = match (mapping.mapping.person.patient_id, t.text(src_c, row)) {
            (PatientIdSource::PersonSourceValue, Some(s)) => s.to_string(),
            _ => person_id.to_string(),
        };
        if people.index.insert(person_id, people.persons.len()).is_some() {
            return Err(t.invalid(id_c, row, "a person_id not used by an earlier row"));
        }
        if let Some(first) = ids.insert(patient_id.clone(), row) {
            return Err(t.invalid(
                if t.text(src_c, row).is_some() { src_c } else { id_c },
                row,
                &format!("a patient_id not used by an earlier row (row {} has `{patient_id}`)", first + 1),
            ));
        }
        let sex = sex_of(t.int(g_c, row)?, t.text(gs_c, row));
        let birth = birth_of(t, row, mapping)?;
        people.persons.push(Person { person_id, patient_id, sex, birth, status: Err(Reason::PersonWithoutAml) });
    }
    Ok(people)
}

/// First AML condition per person (earliest date, then first row); later ones are audited as repeats.
fn diagnoses(cdm: &Cdm, people: &People, concepts: &Concepts) -> Result<HashMap<usize, (Day, usize)>, OmopError> {
    let Some(t) = cdm.get("condition_occurrence") else { return Ok(HashMap::new()) };
    let (p_c, c_c, d_c) = (t.require("person_id")?, t.require("condition_concept_id")?, t.require("condition_start_date")?);
    let mut first: HashMap<usize, (Day, usize)> = HashMap::new();
    for row in 0..t.height() {
        if concepts.target(t.req_int(c_c, row)?) != Some(Target::Aml) {
            continue;
        }
        let Some(&i) = people.index.get(&t.req_int(p_c, row)?) else { continue };
        let date = t.req_date(d_c, row)?;
        let e = first.entry(i).or_insert((date, row));
        if date < e.0 {
            *e = (date, row);
        }
    }
    Ok(first)
}

/// Observation periods per person (index into the persons): (start, end, row).
type Periods = HashMap<usize, Vec<(Day, Day, usize)>>;

/// Read the observation periods.
fn periods(t: &RawTable, people: &People) -> Result<Periods, OmopError> {
    let (p_c, s_c, e_c) =
        (t.require("person_id")?, t.require("observation_period_start_date")?, t.require("observation_period_end_date")?);
    let mut out = Periods::new();
    for row in 0..t.height() {
        let (start, end) = (t.req_date(s_c, row)?, t.req_date(e_c, row)?);
        if end < start {
            return Err(t.invalid(e_c, row, "an end date on or after observation_period_start_date"));
        }
        if let Some(&i) = people.index.get(&t.req_int(p_c, row)?) {
            out.entry(i).or_default().push((start, end, row));
        }
    }
    Ok(out)
}

/// The death rule: a death on or before the end of the diagnosis's observation period plus
/// `grace` days is kept and becomes the last contact; a later death is left out and the
/// patient is censored alive at the end of the period (the extract does not show whether
/// the patient was followed up to the death). Returns (last contact, death kept).
pub fn death_rule(period_end: Day, death: Option<Day>, grace: i32) -> (Day, Option<Day>) {
    match death {
        Some(d) if d <= period_end + grace => (d, Some(d)),
        _ => (period_end, None),
    }
}

/// Read `person`, `observation_period`, the AML diagnoses and `death`; decide who is a patient.
pub fn build_people(cdm: &Cdm, mapping: &CheckedMapping, concepts: &Concepts, audit: &mut Audit) -> Result<People, OmopError> {
    let person =
        cdm.get("person").ok_or_else(|| OmopError::Structure { path: cdm.dir.clone(), message: "no person table".into() })?;
    let mut people = read_persons(person, mapping, audit)?;
    let dx = diagnoses(cdm, &people, concepts)?;
    let op = cdm
        .get("observation_period")
        .ok_or_else(|| OmopError::Structure { path: cdm.dir.clone(), message: "no observation_period table".into() })?;
    let periods = periods(op, &people)?;
    let deaths = read_deaths(cdm, &people, audit)?;
    let rules = &mapping.mapping.diagnosis;
    let mut period_used: HashMap<usize, usize> = HashMap::new();
    for (i, p) in people.persons.iter_mut().enumerate() {
        let Some(&(diagnosis, diagnosis_row)) = dx.get(&i) else { continue };
        let containing = periods.get(&i).and_then(|v| v.iter().find(|(s, e, _)| *s <= diagnosis && diagnosis <= *e));
        let Some(&(start, end, prow)) = containing else {
            p.status = Err(Reason::DiagnosisOutsidePeriod);
            continue;
        };
        period_used.insert(i, prow);
        let death = deaths.get(&i).map(|&(d, _)| d);
        if let Some(d) = death.filter(|d| *d < diagnosis) {
            let t = cdm.get("death").ok_or_else(|| OmopError::Structure { path: cdm.dir.clone(), message: "no death".into() })?;
            let row = deaths[&i].1;
            return Err(t.invalid(
                t.optional("death_date"),
                row,
                &format!(
                    "a death date on or after the AML diagnosis ({}; found {})",
                    crate::cohort::day_to_iso(diagnosis),
                    crate::cohort::day_to_iso(d)
                ),
            ));
        }
        let (last_contact, death) = death_rule(end, death, rules.death_grace_days);
        let age = p.birth.map(|b| age_at(b, diagnosis));
        let window_start = (diagnosis - rules.days_before_diagnosis).max(start);
        p.status = Ok(CohortPatient { diagnosis, diagnosis_row, last_contact, death, window_start, age });
    }
    audit_periods(op, &people, &period_used, audit)?;
    audit_deaths(cdm, &people, &deaths, audit)?;
    for p in &people.persons {
        match &p.status {
            Ok(_) => audit.mapped("person"),
            Err(r) => audit.left_out("person", *r),
        }
    }
    Ok(people)
}

/// Death per person: (earliest date, its row).
fn read_deaths(cdm: &Cdm, people: &People, audit: &mut Audit) -> Result<HashMap<usize, (Day, usize)>, OmopError> {
    let Some(t) = cdm.get("death") else { return Ok(HashMap::new()) };
    audit.read("death", t.height());
    let (p_c, d_c) = (t.require("person_id")?, t.require("death_date")?);
    let mut out: HashMap<usize, (Day, usize)> = HashMap::new();
    for row in 0..t.height() {
        let date = t.req_date(d_c, row)?;
        if let Some(&i) = people.index.get(&t.req_int(p_c, row)?) {
            let e = out.entry(i).or_insert((date, row));
            if date < e.0 {
                *e = (date, row);
            }
        }
    }
    Ok(out)
}

fn audit_periods(t: &RawTable, people: &People, used: &HashMap<usize, usize>, audit: &mut Audit) -> Result<(), OmopError> {
    audit.read("observation_period", t.height());
    let p_c = t.require("person_id")?;
    for row in 0..t.height() {
        match people.patient(t.req_int(p_c, row)?) {
            Err(r) => audit.left_out("observation_period", r),
            Ok((i, _)) if used.get(&i) == Some(&row) => audit.mapped("observation_period"),
            Ok(_) => audit.left_out("observation_period", Reason::OtherObservationPeriod),
        }
    }
    Ok(())
}

fn audit_deaths(cdm: &Cdm, people: &People, deaths: &HashMap<usize, (Day, usize)>, audit: &mut Audit) -> Result<(), OmopError> {
    let Some(t) = cdm.get("death") else { return Ok(()) };
    let p_c = t.require("person_id")?;
    for row in 0..t.height() {
        match people.patient(t.req_int(p_c, row)?) {
            Err(r) => audit.left_out("death", r),
            Ok((i, p)) => match deaths.get(&i) {
                Some(&(_, r)) if r == row && p.death.is_some() => audit.mapped("death"),
                Some(&(_, r)) if r == row => audit.left_out("death", Reason::DeathAfterPeriod),
                _ => audit.left_out("death", Reason::DuplicateDeath),
            },
        }
    }
    Ok(())
}
