//! Treatment response: best response per line and regimen, composite complete
//! remission (CR + CRh + CRi) rates with exact CIs, response by HLH status,
//! relapse-free survival and cumulative incidence of relapse from CR1, and what happened to each HLH episode under the
//! next treatment line.
//!
//! Conventions: the denominator of a response rate is every patient treated
//! on that line (intention to treat; patients never assessed count as
//! "not assessed", not as non-responders hidden from the table). Best response
//! is the best ELN category among the line's assessments (CR > CRh > CRi > MLFS
//! > PR > SD > PD; `relapse` is not a response).

use std::collections::BTreeMap;

use crate::cohort::{day_to_iso, Cohort, Day, PatientIdx, Response};
use crate::stats::proportions::{fisher_exact, proportion};
use crate::stats::StatsResult;
use crate::table::{Cell, ResultTable};

use super::dataset::Dataset;
use super::exposure::Exposure;

/// Best response of one patient on one line (`None` = not assessed).
pub fn best_response(cohort: &Cohort, p: PatientIdx, line: u32) -> Option<Response> {
    cohort.responses_of(p).iter().filter(|r| r.line == line && r.response != Response::Relapse).map(|r| r.response).min()
}

/// Response rates per (line, regimen): n treated, counts per best response, composite CR with exact CI.
pub fn response_table(cohort: &Cohort, dataset: &Dataset, conf_level: f64) -> StatsResult<ResultTable> {
    // (line, regimen) -> list of best responses
    let mut cells: BTreeMap<(u32, crate::cohort::text::SharedText), Vec<Option<Response>>> = BTreeMap::new();
    for sp in &dataset.patients {
        for l in cohort.treatments_of(sp.idx) {
            cells.entry((l.line, l.regimen.clone())).or_default().push(best_response(cohort, sp.idx, l.line));
        }
    }
    let mut rows = Vec::new();
    for ((line, regimen), best) in cells {
        let n = best.len() as u64;
        let count = |r: Response| best.iter().filter(|b| **b == Some(r)).count() as i64;
        let ccr = best.iter().filter(|b| b.is_some_and(Response::is_composite_cr)).count() as u64;
        let not_assessed = best.iter().filter(|b| b.is_none()).count() as i64;
        let pr = proportion(ccr, n, conf_level)?;
        let mut row = vec![Cell::Int(line as i64), Cell::Str(regimen.to_string()), Cell::Int(n as i64)];
        for r in [Response::CR, Response::CRh, Response::CRi, Response::MLFS, Response::PR, Response::SD, Response::PD] {
            row.push(Cell::Int(count(r)));
        }
        row.extend([
            Cell::Int(not_assessed),
            Cell::Int(ccr as i64),
            Cell::Num(pr.estimate),
            Cell::Num(pr.clopper_pearson.0),
            Cell::Num(pr.clopper_pearson.1),
        ]);
        rows.push(row);
    }
    Ok(super::table(
        "response_by_line_regimen",
        &[
            "line",
            "regimen",
            "n_treated",
            "best_CR",
            "best_CRh",
            "best_CRi",
            "best_MLFS",
            "best_PR",
            "best_SD",
            "best_PD",
            "not_assessed",
            "composite_cr",
            "composite_cr_rate",
            "exact_lower",
            "exact_upper",
        ],
        rows,
    ))
}

/// The day before which an HLH onset can influence the first-line response: the first
/// response assessment of the first line, or (never assessed) the start of the next
/// line, or `None` (no bound: any onset during follow-up precedes the missing response).
fn first_line_response_day(cohort: &Cohort, p: PatientIdx) -> Option<Day> {
    let lines = cohort.treatments_of(p);
    let first = lines.first()?;
    let assessed = cohort.responses_of(p).iter().find(|r| r.line == first.line && r.response != Response::Relapse).map(|r| r.day);
    assessed.or_else(|| lines.iter().find(|l| l.line > first.line).map(|l| l.start))
}

/// First-line composite CR by HLH *before the first response assessment of the first line*
/// (so that the exposure precedes the outcome), with Fisher's exact test; one block of two
/// rows per criteria set. Patients without a first line are not in the table.
pub fn response_by_hlh(cohort: &Cohort, dataset: &Dataset, exposures: &[Exposure], conf_level: f64) -> ResultTable {
    let mut rows = Vec::new();
    for exposure in exposures {
        let mut tab = [[0u64; 2]; 2]; // [hlh][ccr]
        for (k, sp) in dataset.patients.iter().enumerate() {
            let Some(first) = cohort.first_line_of(sp.idx) else { continue };
            let bound = first_line_response_day(cohort, sp.idx);
            let hlh_before = exposure.onset[k].is_some_and(|t| bound.is_none_or(|b| sp.origin + (t as Day) < b));
            let ccr = best_response(cohort, sp.idx, first.line).is_some_and(Response::is_composite_cr);
            tab[usize::from(hlh_before)][usize::from(ccr)] += 1;
        }
        let fisher = fisher_exact(tab[1][1], tab[1][0], tab[0][1], tab[0][0]).ok();
        for (h, label) in
            [(1usize, "HLH before first-line response assessment"), (0, "no HLH before first-line response assessment")]
        {
            let n = tab[h][0] + tab[h][1];
            let x = tab[h][1];
            let (est, lo, hi) = match proportion(x, n, conf_level) {
                Ok(pr) => (Cell::Num(pr.estimate), Cell::Num(pr.clopper_pearson.0), Cell::Num(pr.clopper_pearson.1)),
                Err(_) => (Cell::Na, Cell::Na, Cell::Na),
            };
            let note = if n == 0 {
                Cell::Str("no patient in this group".into())
            } else if fisher.is_none() {
                Cell::Str("Fisher's test not computable: empty table".into())
            } else if tab[1 - h][0] + tab[1 - h][1] == 0 {
                Cell::Str("Fisher's test uninformative: the other group is empty".into())
            } else {
                Cell::Na
            };
            rows.push(vec![
                Cell::Str(exposure.criteria_set.clone()),
                Cell::Str(label.into()),
                Cell::Int(n as i64),
                Cell::Int(x as i64),
                est,
                lo,
                hi,
                fisher.as_ref().map_or(Cell::Na, |f| Cell::Num(f.p_two_sided)),
                note,
            ]);
        }
    }
    super::table(
        "response_by_hlh",
        &["criteria_set", "group", "n", "composite_cr", "rate", "exact_lower", "exact_upper", "fisher_p", "note"],
        rows,
    )
}

/// Outcome after CR1 (first-line composite CR) of every patient who reached it.
#[derive(Debug, Clone, Default)]
pub struct AfterCr1 {
    /// Days from CR1 to relapse, death or last contact (0 for a same-day event).
    pub time: Vec<f64>,
    /// 0 = censored, 1 = relapse, 2 = death without relapse (non-relapse mortality).
    pub cause: Vec<u32>,
    /// Study-patient index of each row.
    pub who: Vec<usize>,
}

impl AfterCr1 {
    /// RFS events (relapse or death).
    pub fn rfs_event(&self) -> Vec<bool> {
        self.cause.iter().map(|&c| c != 0).collect()
    }
}

/// Relapse-free survival from CR1 (ELN 2022) and its competing-risk split: time from the
/// first composite CR of the first line to relapse (cause 1) or death in remission (cause 2),
/// censored at last contact; a relapse on the CR day is kept with time 0.
pub fn after_cr1(dataset: &Dataset) -> AfterCr1 {
    let mut out = AfterCr1::default();
    for (k, sp) in dataset.patients.iter().enumerate() {
        let Some(cr) = sp.first_cr else { continue };
        let (end, cause) = match sp.relapse_after_cr {
            Some(r) if r <= sp.os_time => (r, 1),
            _ if sp.os_event => (sp.os_time, 2),
            _ => (sp.os_time, 0),
        };
        out.time.push((end - cr).max(0.0));
        out.cause.push(cause);
        out.who.push(k);
    }
    out
}

/// A detected episode reduced to what the response analyses need.
#[derive(Debug, Clone)]
pub struct EpisodeSpan {
    /// Patient.
    pub patient: PatientIdx,
    /// Episode number within the patient.
    pub episode: u32,
    /// Onset day.
    pub onset: Day,
    /// Last day the rule held.
    pub end: Day,
}

/// For each episode: the next treatment line started on or after onset, and whether the
/// episode had ended by that line's end (or by last contact when the line has no end date).
pub fn episode_course_table(cohort: &Cohort, set: &str, episodes: &[EpisodeSpan]) -> ResultTable {
    let mut rows = Vec::new();
    for ep in episodes {
        let p = &cohort.patients[ep.patient as usize];
        let next = cohort.treatments_of(ep.patient).iter().filter(|l| l.start >= ep.onset).min_by_key(|l| l.start);
        let (line, regimen, start, end, resolved) = match next {
            Some(l) => {
                let line_end = l.end.unwrap_or(p.end_of_follow_up());
                (
                    Cell::Int(l.line as i64),
                    Cell::Str(l.regimen.to_string()),
                    Cell::Str(day_to_iso(l.start)),
                    Cell::Str(day_to_iso(line_end)),
                    Cell::Str(if ep.end <= line_end { "yes" } else { "no" }.into()),
                )
            }
            None => (Cell::Na, Cell::Na, Cell::Na, Cell::Na, Cell::Str("no next line".into())),
        };
        rows.push(vec![
            Cell::Str(set.to_string()),
            Cell::Str(p.id.to_string()),
            Cell::Int(ep.episode as i64),
            Cell::Str(day_to_iso(ep.onset)),
            Cell::Str(day_to_iso(ep.end)),
            line,
            regimen,
            start,
            end,
            resolved,
            Cell::Str(if p.death.is_some_and(|d| d <= ep.end + 30) { "yes" } else { "no" }.into()),
        ]);
    }
    super::table(
        "hlh_episode_course",
        &[
            "criteria_set",
            "patient_id",
            "episode",
            "onset_date",
            "end_date",
            "next_line",
            "next_regimen",
            "next_line_start",
            "next_line_end",
            "resolved_by_line_end",
            "died_within_30d_of_episode_end",
        ],
        rows,
    )
}
