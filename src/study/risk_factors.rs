//! Risk factors for HLH under the primary definition: Fine–Gray subdistribution hazard
//! regression with death without HLH as the competing event (R `cmprsk::crr`) and the
//! cause-specific Cox model of the first HLH episode (R `coxph(Surv(time, status == 1) ~ ...)`,
//! Efron ties), on the study's covariates.
//!
//! Population and outcome (as the cumulative incidence of HLH, `docs/study.md`): the study
//! patients at risk of a first episode (prevalent HLH at the origin left out); time = days from
//! the origin to the first incident onset, else to death or last contact; status 1 = HLH,
//! 2 = death without HLH, 0 = censored. Patients with a missing covariate are left out of both
//! models (complete cases; counted in `dropped_missing`).

use crate::stats::cox::{coxph, CoxOptions};
use crate::stats::crr::crr;
use crate::stats::design::build_design;
use crate::stats::dist::{two_sided_p, z_for_level};
use crate::table::{Cell, ResultTable};

use super::covariates::{expand, CovariateColumns};
use super::dataset::Dataset;
use super::exposure::Exposure;

/// Columns of the table.
pub(crate) const COLUMNS: [&str; 15] = [
    "model",
    "term",
    "coef",
    "se",
    "z",
    "p",
    "hr",
    "hr_lower",
    "hr_upper",
    "n",
    "hlh_events",
    "competing_deaths",
    "censored",
    "dropped_missing",
    "note",
];

/// One model's coefficients, for the table and the forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskModel {
    /// `fine_gray` or `cause_specific_cox`.
    pub model: &'static str,
    /// Term names (R `model.matrix` style).
    pub terms: Vec<String>,
    /// Coefficients (log subdistribution / cause-specific hazard ratios).
    pub coef: Vec<f64>,
    /// Standard errors (Fine–Gray: crr's sandwich variance; Cox: model-based).
    pub se: Vec<f64>,
    /// Subjects in the model, HLH events, competing deaths, censored.
    pub counts: [usize; 4],
}

/// The two risk-factor models and their table. Models that cannot be fitted are left out and
/// returned with the reason in the third element.
pub(crate) fn risk_factors(
    dataset: &Dataset,
    exposure: &Exposure,
    covs: &CovariateColumns,
    conf_level: f64,
    name: &str,
) -> (ResultTable, Vec<RiskModel>, Vec<(String, String)>) {
    let mut t = ResultTable::new(name, &COLUMNS);
    let mut not_computed = Vec::new();
    if covs.columns.is_empty() {
        not_computed.push((
            "risk factors for HLH (Fine–Gray, cause-specific Cox)".to_string(),
            "the study has no covariates".to_string(),
        ));
        return (t, Vec::new(), not_computed);
    }
    // at risk of a first episode
    let subjects: Vec<usize> = (0..dataset.patients.len()).filter(|&i| !exposure.prevalent[i]).collect();
    let mut time = Vec::with_capacity(subjects.len());
    let mut status = Vec::with_capacity(subjects.len());
    for &i in &subjects {
        let sp = &dataset.patients[i];
        match exposure.onset[i] {
            Some(t) => {
                time.push(t);
                status.push(1u32);
            }
            None => {
                time.push(sp.os_time);
                status.push(if sp.os_event { 2 } else { 0 });
            }
        }
    }
    let columns: Vec<(String, crate::stats::design::ColumnData)> =
        covs.columns.iter().map(|(n, c)| (n.clone(), expand(c, &subjects))).collect();
    let design = match build_design(&columns, None) {
        Ok(d) => d,
        Err(e) => {
            not_computed.push(("risk factors for HLH (Fine–Gray, cause-specific Cox)".to_string(), e.to_string()));
            return (t, Vec::new(), not_computed);
        }
    };
    let keep = &design.kept_rows;
    let time_k: Vec<f64> = keep.iter().map(|&i| time[i]).collect();
    let status_k: Vec<u32> = keep.iter().map(|&i| status[i]).collect();
    let counts = [
        keep.len(),
        status_k.iter().filter(|s| **s == 1).count(),
        status_k.iter().filter(|s| **s == 2).count(),
        status_k.iter().filter(|s| **s == 0).count(),
    ];
    let dropped = design.dropped_rows.len();
    let mut models = Vec::new();

    let cols: Vec<Vec<f64>> = (0..design.terms.len()).map(|j| design.x.column(j).to_vec()).collect();
    match crr(&time_k, &status_k, &cols, &design.terms, 1, 0) {
        Ok(f) if f.converged => {
            models.push(RiskModel { model: "fine_gray", terms: f.names.clone(), coef: f.coef.clone(), se: f.se.clone(), counts })
        }
        Ok(f) => {
            not_computed.push(("Fine–Gray regression of HLH".into(), format!("did not converge in {} iterations", f.iterations)))
        }
        Err(e) => not_computed.push(("Fine–Gray regression of HLH".into(), e.to_string())),
    }
    let event: Vec<bool> = status_k.iter().map(|s| *s == 1).collect();
    let opts = CoxOptions { conf_level, ..CoxOptions::default() };
    match coxph(None, &time_k, &event, &design.x, &design.terms, None, None, &opts) {
        Ok(m) => models.push(RiskModel {
            model: "cause_specific_cox",
            terms: m.terms.clone(),
            coef: m.coef.clone(),
            se: m.se.clone(),
            counts,
        }),
        Err(e) => not_computed.push(("cause-specific Cox model of HLH".into(), e.to_string())),
    }

    let zq = z_for_level(conf_level);
    for m in &models {
        for (k, term) in m.terms.iter().enumerate() {
            let z = m.coef[k] / m.se[k];
            t.rows.push(vec![
                Cell::Str(m.model.into()),
                Cell::Str(term.clone()),
                Cell::Num(m.coef[k]),
                Cell::Num(m.se[k]),
                Cell::Num(z),
                Cell::Num(two_sided_p(z)),
                Cell::Num(m.coef[k].exp()),
                Cell::Num((m.coef[k] - zq * m.se[k]).exp()),
                Cell::Num((m.coef[k] + zq * m.se[k]).exp()),
                Cell::Int(m.counts[0] as i64),
                Cell::Int(m.counts[1] as i64),
                Cell::Int(m.counts[2] as i64),
                Cell::Int(m.counts[3] as i64),
                Cell::Int(dropped as i64),
                Cell::Str(if m.model == "fine_gray" {
                    "subdistribution hazard ratio, death without HLH competing; crr's sandwich SE".into()
                } else {
                    "cause-specific hazard ratio, censored at death without HLH; Efron ties".into()
                }),
            ]);
        }
    }
    (t, models, not_computed)
}
