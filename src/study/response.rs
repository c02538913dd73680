//! Treatment response: best response per line and regimen, composite complete
//! remission (CR + CRh + CRi) rates with exact CIs, response by HLH status,
//! duration of remission, and what happened to each HLH episode under the
//! next treatment line.
//!
//! Conventions: the denominator of a response rate is every patient treated
//! on that line (intention to treat; patients never assessed count as
//! "not assessed", not as non-responders hidden from the table). Best response
//! is the best ELN category among the line's assessments (CR > CRh > CRi > MLFS
//! > PR > SD > PD; `relapse` is not a response).

use std::collections::BTreeMap;

use crate::cohort::{day_to_iso, Cohort, Day, PatientIdx, Response};
use crate::report::csv::{Cell, CsvTable};
use crate::stats::proportions::{fisher_exact, proportion};
use crate::stats::StatsResult;

use super::dataset::Dataset;
use super::exposure::Exposure;

/// Best response of one patient on one line (`None` = not assessed).
pub fn best_response(cohort: &Cohort, p: PatientIdx, line: u32) -> Option<Response> {
    cohort
        .responses_of(p)
        .iter()
        .filter(|r| r.line == line && r.response != Response::Relapse)
        .map(|r| r.response)
        .min()
}

/// Response rates per (line, regimen): n treated, counts per best response, composite CR with exact CI.
pub fn response_table(cohort: &Cohort, dataset: &Dataset, conf_level: f64) -> StatsResult<CsvTable> {
    // (line, regimen) -> list of best responses
    let mut cells: BTreeMap<(u32, String), Vec<Option<Response>>> = BTreeMap::new();
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
        let mut row = vec![Cell::Int(line as i64), Cell::Str(regimen), Cell::Int(n as i64)];
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
    Ok(super::table("response_by_line_regimen", &["line", "regimen", "n_treated", "best_CR", "best_CRh", "best_CRi", "best_MLFS", "best_PR", "best_SD", "best_PD",
            "not_assessed", "composite_cr", "composite_cr_rate", "exact_lower", "exact_upper"], rows))
}

/// Composite CR on the first line by HLH during the first line (onset between the
/// first-line start and the start of the next line or end of follow-up), with Fisher's exact test.
pub fn response_by_hlh(cohort: &Cohort, dataset: &Dataset, exposure: &Exposure, conf_level: f64) -> StatsResult<CsvTable> {
    let mut tab = [[0u64; 2]; 2]; // [hlh][ccr]
    for (k, sp) in dataset.patients.iter().enumerate() {
        let lines = cohort.treatments_of(sp.idx);
        let Some(first) = lines.first() else { continue };
        let next_start: Option<Day> = lines.iter().find(|l| l.line > first.line).map(|l| l.start);
        let hlh_in_line = exposure.onset[k].is_some_and(|t| {
            let day = sp.origin + t as Day;
            day >= first.start && next_start.is_none_or(|ns| day < ns)
        });
        let ccr = best_response(cohort, sp.idx, first.line).is_some_and(Response::is_composite_cr);
        tab[usize::from(hlh_in_line)][usize::from(ccr)] += 1;
    }
    let fisher = fisher_exact(tab[1][1], tab[1][0], tab[0][1], tab[0][0])?;
    let mut rows = Vec::new();
    for (h, label) in [(1usize, "HLH during first line"), (0, "no HLH during first line")] {
        let n = tab[h][0] + tab[h][1];
        let x = tab[h][1];
        let (est, lo, hi) = if n > 0 {
            let pr = proportion(x, n, conf_level)?;
            (Cell::Num(pr.estimate), Cell::Num(pr.clopper_pearson.0), Cell::Num(pr.clopper_pearson.1))
        } else {
            (Cell::Na, Cell::Na, Cell::Na)
        };
        rows.push(vec![
            Cell::Str(exposure.criteria_set.clone()),
            Cell::Str(label.into()),
            Cell::Int(n as i64),
            Cell::Int(x as i64),
            est,
            lo,
            hi,
            Cell::Num(fisher.p_two_sided),
        ]);
    }
    Ok(super::table("response_by_hlh", &["criteria_set", "group", "n", "composite_cr", "rate", "exact_lower", "exact_upper", "fisher_p"], rows))
}

/// Remission-duration data: (time from first composite CR to relapse or death, event) for responders.
pub fn remission_duration(dataset: &Dataset) -> (Vec<f64>, Vec<bool>, Vec<usize>) {
    let mut t = Vec::new();
    let mut e = Vec::new();
    let mut who = Vec::new();
    for (k, sp) in dataset.patients.iter().enumerate() {
        let Some(cr) = sp.first_cr else { continue };
        let (end, ev) = match sp.relapse_after_cr {
            Some(r) if r <= sp.os_time => (r, true),
            _ => (sp.os_time, sp.os_event),
        };
        if end > cr {
            t.push(end - cr);
            e.push(ev);
            who.push(k);
        }
    }
    (t, e, who)
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
pub fn episode_course_table(cohort: &Cohort, set: &str, episodes: &[EpisodeSpan]) -> CsvTable {
    let mut rows = Vec::new();
    for ep in episodes {
        let p = &cohort.patients[ep.patient as usize];
        let next = cohort.treatments_of(ep.patient).iter().filter(|l| l.start >= ep.onset).min_by_key(|l| l.start);
        let (line, regimen, start, end, resolved) = match next {
            Some(l) => {
                let line_end = l.end.unwrap_or(p.end_of_follow_up());
                (
                    Cell::Int(l.line as i64),
                    Cell::Str(l.regimen.clone()),
                    Cell::Str(day_to_iso(l.start)),
                    Cell::Str(day_to_iso(line_end)),
                    Cell::Str(if ep.end <= line_end { "yes" } else { "no" }.into()),
                )
            }
            None => (Cell::Na, Cell::Na, Cell::Na, Cell::Na, Cell::Str("no next line".into())),
        };
        rows.push(vec![
            Cell::Str(set.to_string()),
            Cell::Str(p.id.clone()),
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
    super::table("hlh_episode_course", &["criteria_set", "patient_id", "episode", "onset_date", "end_date", "next_line", "next_regimen",
            "next_line_start", "next_line_end", "resolved_by_line_end", "died_within_30d_of_episode_end"], rows)
}
