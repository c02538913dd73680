//! Rows of `measurement`, `condition_occurrence` and `observation`: laboratory values,
//! findings, covariates and response assessments.

use super::audit::{Audit, Reason};
use super::concepts::{Concepts, Operator};
use super::mapping::{CheckedMapping, Target};
use super::patients::People;
use super::read::{Cdm, ColRef, RawTable};
use super::{FindingRow, MeasRow, OmopError, ResponseObs};
use crate::cohort::units::{accepted_spellings, resolve_unit};
use crate::cohort::{Analyte, Day, Qualifier};

/// Everything taken from the event tables.
#[derive(Debug, Default)]
pub struct Events {
    /// Laboratory values, in `measurement` row order.
    pub measurements: Vec<MeasRow>,
    /// Findings: `condition_occurrence` rows, then `observation` rows.
    pub findings: Vec<FindingRow>,
    /// Responses seen in `observation` / `measurement` (lines are assigned later).
    pub responses: Vec<ResponseObs>,
    /// Covariate values per person (index as in [`People::persons`]) and covariate:
    /// (date, value).
    pub covariates: Vec<Vec<Option<(Day, String)>>>,
}

/// A row's person, concept and date, checked in this order: the person is a patient, the
/// concept is mapped, the date is in the patient's window.
fn place(
    t: &RawTable,
    row: usize,
    cols: (ColRef, ColRef, ColRef),
    people: &People,
    concepts: &Concepts,
    audit: &mut Audit,
) -> Result<Option<(usize, Target, Day)>, OmopError> {
    let (p_c, c_c, d_c) = cols;
    let person_id = t.req_int(p_c, row)?;
    if let Err(r) = people.patient(person_id) {
        audit.left_out(t.name, r);
        return Ok(None);
    }
    let concept_id = t.int(c_c, row)?.unwrap_or(0);
    let Some(target) = concepts.target(concept_id) else {
        audit.unmapped(t.name, concept_id, concepts.row(concept_id));
        return Ok(None);
    };
    let date = t.req_date(d_c, row)?;
    match people.place(person_id, date) {
        Ok(i) => Ok(Some((i, target, date))),
        Err(r) => {
            audit.left_out(t.name, r);
            Ok(None)
        }
    }
}

/// The unit of a measurement: `unit_source_value` when the unit table knows it for the
/// analyte (hemosurv shows units as given), else the UCUM code of `unit_concept_id`; when
/// both are known they must convert alike. Anything else is an error naming the row.
fn unit_of(t: &RawTable, row: usize, analyte: Analyte, concepts: &Concepts) -> Result<String, OmopError> {
    let (src_c, uc_c) = (t.optional("unit_source_value"), t.optional("unit_concept_id"));
    let src = t.text(src_c, row);
    let unit_id = t.int(uc_c, row)?.filter(|id| *id != 0);
    let ucum = unit_id.and_then(|id| concepts.ucum(id));
    fn known(analyte: Analyte, u: Option<&str>) -> Option<(&str, &'static crate::cohort::units::UnitDef)> {
        u.and_then(|u| resolve_unit(analyte, u).ok().map(|d| (u, d)))
    }
    let expected = format!(
        "a unit for {analyte} ({}; UCUM codes such as 10*9/L and Cel are accepted)",
        accepted_spellings(analyte).join(", ")
    );
    match (known(analyte, src), known(analyte, ucum)) {
        (Some((s, a)), Some((u, b))) if !std::ptr::eq(a, b) => Err(t.invalid(
            uc_c,
            row,
            &format!("a unit that agrees with unit_source_value `{s}` (unit_concept_id has UCUM `{u}`)"),
        )),
        (Some((s, _)), _) => Ok(s.to_string()),
        (None, Some((u, _))) => Ok(u.to_string()),
        (None, None) if src.is_some() => Err(t.invalid(src_c, row, &expected)),
        (None, None) => match unit_id {
            Some(id) => Err(OmopError::BadValue {
                table: t.name.to_string(),
                row: row + 1,
                column: "unit_concept_id".into(),
                expected,
                found: format!("{id} ({})", ucum.or(concepts.name(id)).unwrap_or("not a UCUM concept in the concept table")),
            }),
            None => Err(t.invalid(src_c, row, &expected)),
        },
    }
}

/// The value of a measurement as the contract writes it (`9.2`, `>40000`), or `None` if empty.
fn value_of(t: &RawTable, row: usize, concepts: &Concepts) -> Result<Option<String>, OmopError> {
    let (v_c, op_c) = (t.optional("value_as_number"), t.optional("operator_concept_id"));
    let Some(v) = t.number(v_c, row)? else { return Ok(None) };
    let q = match t.int(op_c, row)?.filter(|id| *id != 0) {
        None => Qualifier::None,
        Some(id) => match concepts.operator(id) {
            Some(Operator::Eq) => Qualifier::None,
            Some(Operator::Bound(q)) => q,
            None => return Err(t.invalid(op_c, row, "an operator concept for =, <, <=, > or >= ([operators] of the mapping)")),
        },
    };
    Ok(Some(format!("{}{v}", q.symbol())))
}

fn read_measurements(
    t: &RawTable,
    people: &People,
    concepts: &Concepts,
    ev: &mut Events,
    audit: &mut Audit,
) -> Result<(), OmopError> {
    let cols = (t.require("person_id")?, t.require("measurement_concept_id")?, t.require("measurement_date")?);
    audit.read(t.name, t.height());
    for row in 0..t.height() {
        let Some((patient, target, date)) = place(t, row, cols, people, concepts, audit)? else { continue };
        match target {
            Target::Analyte(analyte) => {
                let Some(value) = value_of(t, row, concepts)? else {
                    audit.left_out(t.name, Reason::NoValue);
                    continue;
                };
                let unit = unit_of(t, row, analyte, concepts)?;
                ev.measurements.push(MeasRow { patient, date, analyte, value, unit });
                audit.mapped(t.name);
            }
            Target::Response(response) => {
                ev.responses.push(ResponseObs { patient, date, response, table: t.name, order: row });
                audit.mapped(t.name);
            }
            _ => {
                let id = t.int(cols.1, row)?.unwrap_or(0);
                audit.unmapped(t.name, id, concepts.row(id));
            }
        }
    }
    Ok(())
}

fn read_conditions(
    t: &RawTable,
    people: &People,
    concepts: &Concepts,
    ev: &mut Events,
    audit: &mut Audit,
) -> Result<(), OmopError> {
    let cols = (t.require("person_id")?, t.require("condition_concept_id")?, t.require("condition_start_date")?);
    audit.read(t.name, t.height());
    for row in 0..t.height() {
        let concept_id = t.int(cols.1, row)?.unwrap_or(0);
        if concepts.target(concept_id) == Some(Target::Aml) {
            // the diagnosis itself, a repeat, or a row of a person who is not a patient
            match people.patient(t.req_int(cols.0, row)?) {
                Err(r) => audit.left_out(t.name, r),
                Ok((_, p)) if p.diagnosis_row == row => audit.mapped(t.name),
                Ok(_) => audit.left_out(t.name, Reason::RepeatDiagnosis),
            }
            continue;
        }
        let Some((patient, target, date)) = place(t, row, cols, people, concepts, audit)? else { continue };
        match target {
            Target::Finding(kind) => {
                ev.findings.push(FindingRow { patient, date, kind, present: true });
                audit.mapped(t.name);
            }
            _ => audit.unmapped(t.name, concept_id, concepts.row(concept_id)),
        }
    }
    Ok(())
}

/// Whether an observed finding is documented absent.
fn absent(t: &RawTable, row: usize, mapping: &CheckedMapping, concepts: &Concepts) -> Result<bool, OmopError> {
    if let Some(id) = t.int(t.optional("value_as_concept_id"), row)? {
        if concepts.target(id) == Some(Target::Absent) {
            return Ok(true);
        }
    }
    let words = &mapping.mapping.finding_values.absent_words;
    Ok(t.text(t.optional("value_as_string"), row).is_some_and(|s| words.iter().any(|w| w.eq_ignore_ascii_case(s))))
}

/// A covariate's value: value_as_string, else value_as_number, else the name of value_as_concept_id.
fn covariate_value(t: &RawTable, row: usize, concepts: &Concepts) -> Result<Option<String>, OmopError> {
    if let Some(s) = t.text(t.optional("value_as_string"), row) {
        return Ok(Some(s.to_string()));
    }
    if let Some(v) = t.number(t.optional("value_as_number"), row)? {
        return Ok(Some(format!("{v}")));
    }
    Ok(t.int(t.optional("value_as_concept_id"), row)?.and_then(|id| concepts.name(id)).map(str::to_string))
}

fn read_observations(
    t: &RawTable,
    people: &People,
    mapping: &CheckedMapping,
    concepts: &Concepts,
    ev: &mut Events,
    audit: &mut Audit,
) -> Result<(), OmopError> {
    let cols = (t.require("person_id")?, t.require("observation_concept_id")?, t.require("observation_date")?);
    audit.read(t.name, t.height());
    for row in 0..t.height() {
        let Some((patient, target, date)) = place(t, row, cols, people, concepts, audit)? else { continue };
        match target {
            Target::Finding(kind) => {
                let present = !absent(t, row, mapping, concepts)?;
                ev.findings.push(FindingRow { patient, date, kind, present });
                audit.mapped(t.name);
            }
            Target::Response(response) => {
                ev.responses.push(ResponseObs { patient, date, response, table: t.name, order: row });
                audit.mapped(t.name);
            }
            Target::Covariate(k) => {
                let slot = &mut ev.covariates[patient][k];
                match (covariate_value(t, row, concepts)?, slot.as_ref()) {
                    (Some(v), None) => *slot = Some((date, v)),
                    (Some(v), Some((d, _))) if date < *d => {
                        // an earlier observation replaces the one kept so far
                        *slot = Some((date, v));
                        audit.unmap(t.name, Reason::CovariateAlreadySet);
                    }
                    _ => {
                        audit.left_out(t.name, Reason::CovariateAlreadySet);
                        continue;
                    }
                }
                audit.mapped(t.name);
            }
            _ => {
                let id = t.int(cols.1, row)?.unwrap_or(0);
                audit.unmapped(t.name, id, concepts.row(id));
            }
        }
    }
    Ok(())
}

/// Read the event tables present.
pub fn read_events(
    cdm: &Cdm,
    people: &People,
    mapping: &CheckedMapping,
    concepts: &Concepts,
    audit: &mut Audit,
) -> Result<Events, OmopError> {
    let mut ev =
        Events { covariates: vec![vec![None; mapping.mapping.covariates.len()]; people.persons.len()], ..Default::default() };
    if let Some(t) = cdm.get("condition_occurrence") {
        read_conditions(t, people, concepts, &mut ev, audit)?;
    }
    if let Some(t) = cdm.get("measurement") {
        read_measurements(t, people, concepts, &mut ev, audit)?;
    }
    if let Some(t) = cdm.get("observation") {
        read_observations(t, people, mapping, concepts, &mut ev, audit)?;
    }
    Ok(ev)
}
