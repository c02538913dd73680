//! Treatment lines and response assessments, per patient: from the Oncology extension's
//! `episode` table for a patient with treatment-regimen episodes, else derived from the
//! patient's `drug_exposure` rows by the regimen rules of the mapping; responses from
//! disease-status episodes for a patient with any, else from observations.

use std::collections::{BTreeSet, HashMap};

use super::audit::{Audit, Reason};
use super::concepts::Concepts;
use super::mapping::{CheckedMapping, Target};
use super::patients::People;
use super::read::{Cdm, RawTable};
use super::{LineRow, OmopError, ResponseObs, ResponseRow};
use crate::cohort::Day;

/// Treatment lines and responses of the cohort.
#[derive(Debug, Default)]
pub struct Course {
    /// Lines, by patient then line.
    pub lines: Vec<LineRow>,
    /// Responses, by patient (source order within a patient).
    pub responses: Vec<ResponseRow>,
}

/// A response before its line is known: the line from a parent episode, if any.
struct PendingResponse {
    obs: ResponseObs,
    parent_line: Option<u32>,
}

/// What the `episode` table gives.
#[derive(Default)]
struct EpisodeData {
    lines: Vec<LineRow>,
    responses: Vec<PendingResponse>,
}

fn read_episodes(
    t: &RawTable,
    people: &People,
    mapping: &CheckedMapping,
    concepts: &Concepts,
    audit: &mut Audit,
) -> Result<EpisodeData, OmopError> {
    let p_c = t.require("person_id")?;
    let k_c = t.require("episode_concept_id")?;
    let s_c = t.require("episode_start_date")?;
    let e_c = t.optional("episode_end_date");
    let o_c = t.require("episode_object_concept_id")?;
    let n_c = t.optional("episode_number");
    let id_c = t.optional("episode_id");
    let parent_c = t.optional("episode_parent_id");
    audit.read(t.name, t.height());
    let kinds = &mapping.mapping.episodes;
    let mut data = EpisodeData::default();
    // episode_id -> (patient, line) of treatment episodes, for the parents of status episodes
    let mut line_of: HashMap<i64, (usize, u32)> = HashMap::new();
    let mut status_rows = Vec::new();
    for row in 0..t.height() {
        let person_id = t.req_int(p_c, row)?;
        if let Err(r) = people.patient(person_id) {
            audit.left_out(t.name, r);
            continue;
        }
        let kind = t.int(k_c, row)?.unwrap_or(0);
        let treatment = kinds.treatment_regimen.contains(&kind);
        if !treatment && !kinds.disease_status.contains(&kind) {
            audit.unmapped(t.name, kind, concepts.row(kind));
            continue;
        }
        let object = t.int(o_c, row)?.unwrap_or(0);
        let target = concepts.target(object);
        let start = t.req_date(s_c, row)?;
        let patient = match people.place(person_id, start) {
            Ok(i) => i,
            Err(r) => {
                audit.left_out(t.name, r);
                continue;
            }
        };
        match (treatment, target) {
            (true, Some(Target::Regimen(k))) => {
                let line = t.req_int(n_c, row)?;
                let line =
                    u32::try_from(line).ok().filter(|l| *l >= 1).ok_or_else(|| t.invalid(n_c, row, "a line number >= 1"))?;
                if let Some(id) = t.int(id_c, row)? {
                    line_of.insert(id, (patient, line));
                }
                let rule = &mapping.mapping.regimens[k];
                let end = t.date(e_c, row)?;
                data.lines.push(LineRow {
                    patient,
                    line,
                    regimen: rule.name.clone(),
                    intensity: mapping.intensities[k],
                    start,
                    end,
                });
                audit.mapped(t.name);
            }
            (false, Some(Target::Response(response))) => status_rows.push((row, patient, start, response)),
            _ => audit.unmapped(t.name, object, concepts.row(object)),
        }
    }
    for (row, patient, date, response) in status_rows {
        let parent = t.int(parent_c, row)?.and_then(|id| line_of.get(&id)).filter(|(p, _)| *p == patient).map(|(_, l)| *l);
        data.responses.push(PendingResponse {
            obs: ResponseObs { patient, date, response, table: t.name, order: row },
            parent_line: parent,
        });
    }
    Ok(data)
}

/// One mapped drug exposure.
#[derive(Debug, Clone, Copy)]
struct Exposure {
    drug: usize,
    start: Day,
    end: Day,
    row: usize,
}

/// A regimen found in a patient's exposures.
#[derive(Debug, Clone, PartialEq)]
pub struct RegimenInstance {
    /// Index into the mapping's regimens.
    pub regimen: usize,
    /// First exposure start.
    pub start: Day,
    /// Last exposure end.
    pub end: Day,
}

/// Whether regimen `r` matches the unassigned exposures starting within its window of
/// exposure `i`; returns the exposures it takes.
fn match_regimen(
    mapping: &CheckedMapping,
    r: usize,
    exps: &[Exposure],
    taken: &[bool],
    i: usize,
    remissions: &[Day],
) -> Option<Vec<usize>> {
    let rule = &mapping.mapping.regimens[r];
    let groups = &mapping.regimen_drugs[r];
    if groups.is_empty() || (rule.after_remission && !remissions.iter().any(|d| *d < exps[i].start)) {
        return None;
    }
    let s = exps[i].start;
    let window: Vec<usize> = (i..exps.len()).filter(|&j| !taken[j] && exps[j].start <= s + rule.within_days).collect();
    let in_rule = |d: usize| groups.iter().any(|g| g.contains(&d));
    if !in_rule(exps[i].drug) || !groups.iter().all(|g| window.iter().any(|&j| g.contains(&exps[j].drug))) {
        return None;
    }
    if rule.alone && window.iter().any(|&j| !in_rule(exps[j].drug)) {
        return None;
    }
    Some(window.into_iter().filter(|&j| in_rule(exps[j].drug)).collect())
}

/// The regimens of one patient's exposures (sorted by start, then row): the earliest
/// unassigned exposure starts a window; the first regimen rule (mapping order) that matches
/// takes the exposures of its drugs in that window. An exposure no rule matches is returned
/// in the second list (its row).
fn regimens_of(mapping: &CheckedMapping, exps: &[Exposure], remissions: &[Day]) -> (Vec<RegimenInstance>, Vec<usize>) {
    let mut taken = vec![false; exps.len()];
    let mut found = Vec::new();
    let mut unmatched = Vec::new();
    for i in 0..exps.len() {
        if taken[i] {
            continue;
        }
        let hit = (0..mapping.mapping.regimens.len())
            .find_map(|r| match_regimen(mapping, r, exps, &taken, i, remissions).map(|js| (r, js)));
        match hit {
            Some((regimen, js)) => {
                let end = js.iter().map(|&j| exps[j].end).max().unwrap_or(exps[i].start);
                for &j in &js {
                    taken[j] = true;
                }
                found.push(RegimenInstance { regimen, start: exps[i].start, end });
            }
            None => {
                taken[i] = true;
                unmatched.push(exps[i].row);
            }
        }
    }
    (found, unmatched)
}

/// Lines from regimen instances (by start): a different regimen, or the same one starting
/// more than `gap_days` after the previous instance's end, starts the next line.
pub fn lines_from(instances: &[RegimenInstance], gap_days: i32) -> Vec<(usize, Day, Day)> {
    let mut lines: Vec<(usize, Day, Day)> = Vec::new();
    for inst in instances {
        match lines.last_mut() {
            Some(last) if last.0 == inst.regimen && inst.start - last.2 <= gap_days => last.2 = last.2.max(inst.end),
            _ => lines.push((inst.regimen, inst.start, inst.end)),
        }
    }
    lines
}

/// The mapped exposures of each patient whose lines do not come from episodes (`skip`: those
/// whose lines do).
fn read_exposures(
    t: &RawTable,
    people: &People,
    concepts: &Concepts,
    skip: &BTreeSet<usize>,
    audit: &mut Audit,
) -> Result<HashMap<usize, Vec<Exposure>>, OmopError> {
    let p_c = t.require("person_id")?;
    let c_c = t.require("drug_concept_id")?;
    let s_c = t.require("drug_exposure_start_date")?;
    let e_c = t.optional("drug_exposure_end_date");
    let mut out: HashMap<usize, Vec<Exposure>> = HashMap::new();
    for row in 0..t.height() {
        let person_id = t.req_int(p_c, row)?;
        match people.patient(person_id) {
            Err(r) => {
                audit.left_out(t.name, r);
                continue;
            }
            Ok((i, _)) if skip.contains(&i) => {
                audit.left_out(t.name, Reason::LinesFromEpisodes);
                continue;
            }
            Ok(_) => {}
        }
        let concept = t.int(c_c, row)?.unwrap_or(0);
        let Some(Target::Drug(drug)) = concepts.target(concept) else {
            audit.unmapped(t.name, concept, concepts.row(concept));
            continue;
        };
        let start = t.req_date(s_c, row)?;
        match people.place(person_id, start) {
            Ok(i) => {
                let end = t.date(e_c, row)?.unwrap_or(start).max(start);
                out.entry(i).or_default().push(Exposure { drug, start, end, row });
            }
            Err(r) => audit.left_out(t.name, r),
        }
    }
    Ok(out)
}

/// Treatment lines from `drug_exposure` for the patients without treatment-regimen episodes
/// (`skip`: those with).
fn lines_from_drugs(
    t: &RawTable,
    people: &People,
    mapping: &CheckedMapping,
    concepts: &Concepts,
    remissions: &HashMap<usize, Vec<Day>>,
    skip: &BTreeSet<usize>,
    audit: &mut Audit,
) -> Result<Vec<LineRow>, OmopError> {
    let by_patient = read_exposures(t, people, concepts, skip, audit)?;
    let mut patients: Vec<usize> = by_patient.keys().copied().collect();
    patients.sort_unstable();
    let mut out = Vec::new();
    for patient in patients {
        let mut exps = by_patient[&patient].clone();
        exps.sort_by_key(|e| (e.start, e.row));
        let (instances, unmatched) = regimens_of(mapping, &exps, remissions.get(&patient).map_or(&[], Vec::as_slice));
        for _ in 0..exps.len() - unmatched.len() {
            audit.mapped(t.name);
        }
        for _ in unmatched {
            audit.left_out(t.name, Reason::NoRegimenMatches);
        }
        for (n, (r, start, end)) in lines_from(&instances, mapping.mapping.treatment_lines.gap_days).into_iter().enumerate() {
            let rule = &mapping.mapping.regimens[r];
            out.push(LineRow {
                patient,
                line: n as u32 + 1,
                regimen: rule.name.clone(),
                intensity: mapping.intensities[r],
                start,
                end: Some(end),
            });
        }
    }
    Ok(out)
}

/// The line in effect on `date`: the latest line started on or before it.
fn line_at(lines: &[LineRow], patient: usize, date: Day) -> Option<u32> {
    lines.iter().filter(|l| l.patient == patient && l.start <= date).max_by_key(|l| (l.start, l.line)).map(|l| l.line)
}

/// Build the treatment lines and responses (see the module documentation).
pub fn build_course(
    cdm: &Cdm,
    people: &People,
    mapping: &CheckedMapping,
    concepts: &Concepts,
    observed: Vec<ResponseObs>,
    audit: &mut Audit,
) -> Result<Course, OmopError> {
    let episodes = match cdm.get("episode") {
        Some(t) => read_episodes(t, people, mapping, concepts, audit)?,
        None => EpisodeData::default(),
    };
    // responses: a patient's disease-status episodes when there are any, else observations
    let with_status: BTreeSet<usize> = episodes.responses.iter().map(|p| p.obs.patient).collect();
    let mut pending = episodes.responses;
    for obs in observed {
        if with_status.contains(&obs.patient) {
            audit.unmap(obs.table, Reason::ResponsesFromEpisodes);
        } else {
            pending.push(PendingResponse { obs, parent_line: None });
        }
    }
    let mut remissions: HashMap<usize, Vec<Day>> = HashMap::new();
    for p in pending.iter().filter(|p| p.obs.response.is_composite_cr()) {
        remissions.entry(p.obs.patient).or_default().push(p.obs.date);
    }
    // lines: a patient's treatment-regimen episodes when there are any, else drug exposures
    let with_lines: BTreeSet<usize> = episodes.lines.iter().map(|l| l.patient).collect();
    let mut lines = episodes.lines;
    if let Some(t) = cdm.get("drug_exposure") {
        audit.read(t.name, t.height());
        lines.extend(lines_from_drugs(t, people, mapping, concepts, &remissions, &with_lines, audit)?);
    }
    lines.sort_by_key(|l| (l.patient, l.line, l.start));
    let mut responses = Vec::new();
    for p in pending {
        let from_episode = p.obs.table == "episode";
        match p.parent_line.or_else(|| line_at(&lines, p.obs.patient, p.obs.date)) {
            Some(line) => {
                if from_episode {
                    audit.mapped("episode");
                }
                responses.push(ResponseRow { patient: p.obs.patient, line, date: p.obs.date, response: p.obs.response });
            }
            None if from_episode => audit.left_out("episode", Reason::ResponseWithoutLine),
            None => audit.unmap(p.obs.table, Reason::ResponseWithoutLine),
        }
    }
    // by patient; within a patient in the order of the source table (episode, or measurement
    // then observation)
    responses.sort_by_key(|r| r.patient);
    Ok(Course { lines, responses })
}
