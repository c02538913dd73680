//! HLH incidence: crude proportions, cumulative incidence with death as a
//! competing risk, and rates per person-time — per criteria set, overall, by
//! first-line intensity and by first-line regimen.
//!
//! Conventions (documented in `docs/study.md`):
//! - a patient "has HLH" when the first episode's onset lies within follow-up (see
//!   [`Exposure`] for onsets on the day of death);
//! - patients with HLH already present at the time origin (prevalent) are not at risk of
//!   a first episode: they are left out of every incidence denominator and counted in the
//!   `prevalent_at_origin` column of the crude table;
//! - an estimate that cannot be computed (an empty group, a singular Gray's test) is NA
//!   with the reason in the `note` column; it never stops the run;
//! - cumulative incidence: cause 1 = first HLH episode, cause 2 = death without
//!   prior HLH, censored at last contact (Aalen–Johansen, `cmprsk::cuminc`), Gray's test;
//! - rate: first episodes / person-time at risk of a first episode (origin until
//!   the first onset, death or last contact), per `rate_per_person_months`, exact Poisson CI.

use crate::cohort::text::SharedText;
use crate::stats::cif::{cuminc, CumInc};
use crate::stats::proportions::{poisson_rate, proportion};
use crate::stats::Grouping;
use crate::table::{Cell, ResultTable};

use super::dataset::Dataset;
use super::exposure::Exposure;

/// A grouping of the study patients for a by-group analysis.
pub struct GroupVar<'a> {
    /// Name written to the `grouping` column (`overall`, `first_line_intensity`, `regimen`).
    pub name: &'a str,
    /// One label per study patient.
    pub labels: Vec<SharedText>,
}

/// Competing-risks data for the first HLH episode of the patients at risk (prevalent
/// HLH excluded): (time, cause) and the study-patient index of each row.
pub fn competing_risk_data(dataset: &Dataset, exposure: &Exposure) -> (Vec<f64>, Vec<u32>, Vec<usize>) {
    let mut time = Vec::new();
    let mut cause = Vec::new();
    let mut who = Vec::new();
    for (k, (p, onset)) in dataset.patients.iter().zip(&exposure.onset).enumerate() {
        if exposure.prevalent[k] {
            continue;
        }
        let (t, c) = match onset {
            Some(t) => (*t, 1),
            None if p.os_event => (p.os_time, 2),
            None => (p.os_time, 0),
        };
        time.push(t);
        cause.push(c);
        who.push(k);
    }
    (time, cause, who)
}

/// Crude proportion with ≥1 incident episode, by group: one row per (criteria_set,
/// grouping, group). Prevalent patients are counted but not in `n`.
pub fn crude_table(exposures: &[Exposure], groupings: &[GroupVar], conf_level: f64) -> ResultTable {
    let mut rows = Vec::new();
    for ex in exposures {
        let incident = ex.incident();
        for gv in groupings {
            let g = Grouping::from_values(&gv.labels);
            for (level, members) in g.labels.iter().zip(g.members()) {
                let prevalent = members.iter().filter(|&&i| ex.prevalent[i]).count() as u64;
                let n = members.len() as u64 - prevalent;
                let x = members.iter().filter(|&&i| incident[i]).count() as u64;
                let mut row = vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(level.clone()),
                    Cell::Int(n as i64),
                    Cell::Int(x as i64),
                    Cell::Int(prevalent as i64),
                ];
                match proportion(x, n, conf_level) {
                    Ok(pr) => {
                        row.extend(
                            [pr.estimate, pr.wilson.0, pr.wilson.1, pr.clopper_pearson.0, pr.clopper_pearson.1].map(Cell::finite),
                        );
                        row.push(Cell::Na);
                    }
                    Err(_) => {
                        row.extend(std::iter::repeat_n(Cell::Na, 5));
                        row.push(Cell::Str("not computable: no patient at risk in this group".into()));
                    }
                }
                rows.push(row);
            }
        }
    }
    super::table(
        "hlh_incidence_crude",
        &[
            "criteria_set",
            "grouping",
            "group",
            "n",
            "with_hlh",
            "prevalent_at_origin",
            "proportion",
            "wilson_lower",
            "wilson_upper",
            "exact_lower",
            "exact_upper",
            "note",
        ],
        rows,
    )
}

/// Cumulative incidence of the first episode (and of death without HLH) at the
/// configured days, by group, plus Gray's test per grouping.
pub fn cuminc_tables(
    dataset: &Dataset,
    exposures: &[Exposure],
    groupings: &[GroupVar],
    timepoints: &[f64],
    conf_level: f64,
) -> (ResultTable, ResultTable, Vec<(String, String, CumInc)>) {
    let mut est_rows = Vec::new();
    let mut test_rows = Vec::new();
    let mut fits = Vec::new();
    for ex in exposures {
        let (time, cause, who) = competing_risk_data(dataset, ex);
        for gv in groupings {
            let labels: Vec<&str> = who.iter().map(|&k| gv.labels[k].as_str()).collect();
            let g = Grouping::from_values(&labels);
            let fit = match cuminc(&time, &cause, &g, None) {
                Ok(fit) => fit,
                Err(e) => {
                    est_rows.push(vec![
                        Cell::Str(ex.criteria_set.clone()),
                        Cell::Str(gv.name.to_string()),
                        Cell::Na,
                        Cell::Na,
                        Cell::Na,
                        Cell::Na,
                        Cell::Na,
                        Cell::Na,
                        Cell::Na,
                        Cell::Str(format!("not computable: {e}")),
                    ]);
                    continue;
                }
            };
            for (group, c, t, est, var) in fit.at_times(timepoints) {
                est_rows.push(vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(group),
                    Cell::Str(cause_name(c).to_string()),
                    Cell::Num(t),
                    Cell::finite_or_na(est),
                    Cell::finite_or_na(var),
                ]);
                let ci = est.zip(var).and_then(|(e, v)| crate::stats::cif::loglog_ci(e, v, conf_level));
                let row = est_rows.last_mut().expect("just pushed");
                row.extend([Cell::finite_or_na(ci.map(|c| c.0)), Cell::finite_or_na(ci.map(|c| c.1)), Cell::Na]);
            }
            if g.n_levels() > 1 {
                for t in &fit.tests {
                    test_rows.push(vec![
                        Cell::Str(ex.criteria_set.clone()),
                        Cell::Str(gv.name.to_string()),
                        Cell::Str(cause_name(t.cause).to_string()),
                        Cell::finite(t.stat),
                        Cell::Int(t.df as i64),
                        Cell::finite(t.p),
                        if t.stat.is_finite() {
                            Cell::Na
                        } else {
                            Cell::Str("not computable: singular score variance (a group has no event of this cause)".into())
                        },
                    ]);
                }
            }
            fits.push((ex.criteria_set.clone(), gv.name.to_string(), fit));
        }
    }
    let est = super::table(
        "hlh_cumulative_incidence",
        &["criteria_set", "grouping", "group", "cause", "day", "estimate", "variance", "lower", "upper", "note"],
        est_rows,
    );
    let tests = super::table(
        "hlh_cumulative_incidence_gray_test",
        &["criteria_set", "grouping", "cause", "statistic", "df", "p", "note"],
        test_rows,
    );
    (est, tests, fits)
}

/// Name of a competing-risk cause code.
pub fn cause_name(cause: u32) -> &'static str {
    match cause {
        1 => "hlh",
        2 => "death_without_hlh",
        _ => "other",
    }
}

/// Incidence rate of a first episode per person-time at risk (prevalent patients excluded).
pub fn rate_table(
    dataset: &Dataset,
    exposures: &[Exposure],
    groupings: &[GroupVar],
    days_per_month: f64,
    per_person_months: f64,
    conf_level: f64,
) -> ResultTable {
    let mut rows = Vec::new();
    for ex in exposures {
        let at_risk_days: Vec<f64> = dataset.patients.iter().zip(&ex.onset).map(|(p, o)| o.unwrap_or(p.os_time)).collect();
        let incident = ex.incident();
        for gv in groupings {
            let g = Grouping::from_values(&gv.labels);
            for (level, members) in g.labels.iter().zip(g.members()) {
                let at_risk: Vec<usize> = members.iter().copied().filter(|&i| !ex.prevalent[i]).collect();
                let events = at_risk.iter().filter(|&&i| incident[i]).count() as u64;
                let pm: f64 = at_risk.iter().map(|&i| at_risk_days[i]).sum::<f64>() / days_per_month;
                let mut row = vec![
                    Cell::Str(ex.criteria_set.clone()),
                    Cell::Str(gv.name.to_string()),
                    Cell::Str(level.clone()),
                    Cell::Int(events as i64),
                    Cell::finite(pm),
                ];
                match poisson_rate(events, pm, per_person_months, conf_level) {
                    Ok(r) => {
                        row.extend([r.rate, r.lower, r.upper].map(Cell::finite));
                        row.push(Cell::Na);
                    }
                    Err(_) => {
                        row.extend([Cell::Na, Cell::Na, Cell::Na]);
                        row.push(Cell::Str("not computable: no person-time at risk in this group".into()));
                    }
                }
                rows.push(row);
            }
        }
    }
    let rate_col = rate_column(per_person_months);
    super::table(
        "hlh_incidence_rate",
        &["criteria_set", "grouping", "group", "first_episodes", "person_months", &rate_col, "lower", "upper", "note"],
        rows,
    )
}

/// Name of the rate column for the configured unit, e.g. `rate_per_100_person_months`.
pub fn rate_column(per_person_months: f64) -> String {
    format!("rate_per_{}_person_months", crate::table::format::Num(per_person_months))
}
