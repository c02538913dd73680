//! HLH incidence: crude proportions, cumulative incidence with death as a
//! competing risk, and rates per person-time — per criteria set, overall, by
//! first-line intensity and by first-line regimen.
//!
//! Conventions (documented in `docs/study.md`):
//! - a patient "has HLH" when the first episode's onset lies within follow-up;
//! - cumulative incidence: cause 1 = first HLH episode, cause 2 = death without
//!   prior HLH, censored at last contact (Aalen–Johansen, `cmprsk::cuminc`), Gray's test;
//! - rate: first episodes / person-time at risk of a first episode (origin until
//!   the first onset, death or last contact), per `rate_per_person_months`, exact Poisson CI.

use crate::report::csv::{Cell, CsvTable};
use crate::stats::cif::{cuminc, CumInc};
use crate::stats::proportions::{poisson_rate, proportion};
use crate::stats::{Grouping, StatsResult};

use super::dataset::Dataset;
use super::exposure::Exposure;

/// A grouping of the study patients for a by-group analysis.
pub struct GroupVar<'a> {
    /// Name written to the `grouping` column (`overall`, `first_line_intensity`, `regimen`).
    pub name: &'a str,
    /// One label per study patient.
    pub labels: Vec<String>,
}

/// Competing-risks data for the first HLH episode: (time, cause) per patient.
pub fn competing_risk_data(dataset: &Dataset, exposure: &Exposure) -> (Vec<f64>, Vec<u32>) {
    dataset
        .patients
        .iter()
        .zip(&exposure.onset)
        .map(|(p, onset)| match onset {
            Some(t) => (*t, 1),
            None if p.os_event => (p.os_time, 2),
            None => (p.os_time, 0),
        })
        .unzip()
}

/// Crude proportion with ≥1 episode, by group: one row per (criteria_set, grouping, group).
pub fn crude_table(exposures: &[Exposure], groupings: &[GroupVar], conf_level: f64) -> StatsResult<CsvTable> {
    let mut rows = Vec::new();
    for ex in exposures {
        let ever = ex.ever();
        for gv in groupings {
            let g = Grouping::from_values(&gv.labels);
            for (level, members) in g.labels.iter().zip(g.members()) {
                let n = members.len() as u64;
                let x = members.iter().filter(|&&i| ever[i]).count() as u64;
                let pr = proportion(x, n, conf_level)?;
                rows.push(vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(level.clone()),
                    Cell::Int(n as i64),
                    Cell::Int(x as i64),
                    Cell::Num(pr.estimate),
                    Cell::Num(pr.wilson.0),
                    Cell::Num(pr.wilson.1),
                    Cell::Num(pr.clopper_pearson.0),
                    Cell::Num(pr.clopper_pearson.1),
                ]);
            }
        }
    }
    Ok(super::table("hlh_incidence_crude", &["criteria_set", "grouping", "group", "n", "with_hlh", "proportion", "wilson_lower", "wilson_upper",
            "exact_lower", "exact_upper"], rows))
}

/// Cumulative incidence of the first episode (and of death without HLH) at the
/// configured days, by group, plus Gray's test per grouping.
pub fn cuminc_tables(
    dataset: &Dataset,
    exposures: &[Exposure],
    groupings: &[GroupVar],
    timepoints: &[f64],
) -> StatsResult<(CsvTable, CsvTable, Vec<(String, String, CumInc)>)> {
    let mut est_rows = Vec::new();
    let mut test_rows = Vec::new();
    let mut fits = Vec::new();
    for ex in exposures {
        let (time, cause) = competing_risk_data(dataset, ex);
        for gv in groupings {
            let g = Grouping::from_values(&gv.labels);
            let fit = cuminc(&time, &cause, &g, None)?;
            for (group, c, t, est, var) in fit.at_times(timepoints) {
                est_rows.push(vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(group),
                    Cell::Str(cause_name(c).to_string()),
                    Cell::Num(t),
                    est.map_or(Cell::Na, Cell::Num),
                    var.map_or(Cell::Na, Cell::Num),
                ]);
            }
            if g.n_levels() > 1 {
                for t in &fit.tests {
                    test_rows.push(vec![
                        Cell::Str(ex.criteria_set.clone()),
                        Cell::Str(gv.name.to_string()),
                        Cell::Str(cause_name(t.cause).to_string()),
                        Cell::Num(t.stat),
                        Cell::Int(t.df as i64),
                        Cell::Num(t.p),
                    ]);
                }
            }
            fits.push((ex.criteria_set.clone(), gv.name.to_string(), fit));
        }
    }
    let est = super::table("hlh_cumulative_incidence", &["criteria_set", "grouping", "group", "cause", "day", "estimate", "variance"], est_rows);
    let tests = super::table("hlh_cumulative_incidence_gray_test", &["criteria_set", "grouping", "cause", "statistic", "df", "p"], test_rows);
    Ok((est, tests, fits))
}

/// Name of a competing-risk cause code.
pub fn cause_name(cause: u32) -> &'static str {
    match cause {
        1 => "hlh",
        2 => "death_without_hlh",
        _ => "other",
    }
}

/// Incidence rate of a first episode per person-time at risk.
pub fn rate_table(
    dataset: &Dataset,
    exposures: &[Exposure],
    groupings: &[GroupVar],
    days_per_month: f64,
    per_person_months: f64,
    conf_level: f64,
) -> StatsResult<CsvTable> {
    let mut rows = Vec::new();
    for ex in exposures {
        let at_risk_days: Vec<f64> =
            dataset.patients.iter().zip(&ex.onset).map(|(p, o)| o.unwrap_or(p.os_time)).collect();
        let ever = ex.ever();
        for gv in groupings {
            let g = Grouping::from_values(&gv.labels);
            for (level, members) in g.labels.iter().zip(g.members()) {
                let events = members.iter().filter(|&&i| ever[i]).count() as u64;
                let pm: f64 = members.iter().map(|&i| at_risk_days[i]).sum::<f64>() / days_per_month;
                let r = poisson_rate(events, pm, per_person_months, conf_level)?;
                rows.push(vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(level.clone()),
                    Cell::Int(events as i64),
                    Cell::Num(pm),
                    Cell::Num(r.rate),
                    Cell::Num(r.lower),
                    Cell::Num(r.upper),
                ]);
            }
        }
    }
    Ok(super::table("hlh_incidence_rate", &["criteria_set", "grouping", "group", "first_episodes", "person_months", "rate_per_100_pm", "lower", "upper"], rows))
}
