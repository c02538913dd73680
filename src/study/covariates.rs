//! Adjustment covariates of the study's Cox models, read from `patients`.

use crate::cohort::{Cohort, Covariate};
use crate::stats::design::ColumnData;

use super::dataset::Dataset;

/// Covariate columns for the study patients; `missing` lists requested
/// covariates that the cohort does not have (reported, then skipped).
pub struct CovariateColumns {
    /// (name, values per study patient).
    pub columns: Vec<(String, ColumnData)>,
    /// Requested names that are not columns of `patients`.
    pub missing: Vec<String>,
}

/// Collect the requested covariates. `age_at_diagnosis` and `sex` come from the
/// standard columns, anything else from the extra columns of `patients`.
pub fn collect(cohort: &Cohort, dataset: &Dataset, names: &[String]) -> CovariateColumns {
    let mut columns = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let pats = dataset.patients.iter().map(|sp| &cohort.patients[sp.idx as usize]);
        match name.as_str() {
            "age_at_diagnosis" | "age" => {
                let v: Vec<Option<f64>> = pats.map(|p| p.age).collect();
                if v.iter().all(Option::is_none) {
                    missing.push(name.clone());
                } else {
                    columns.push((name.clone(), ColumnData::Numeric(v)));
                }
            }
            "sex" => {
                let v: Vec<Option<String>> = pats.map(|p| p.sex.as_ref().map(|s| s.to_string())).collect();
                if v.iter().all(Option::is_none) {
                    missing.push(name.clone());
                } else {
                    columns.push((name.clone(), ColumnData::Categorical(v)));
                }
            }
            _ => {
                let vals: Vec<Option<&Covariate>> = pats.map(|p| p.covariates.get(name)).collect();
                if vals.iter().all(Option::is_none) {
                    missing.push(name.clone());
                    continue;
                }
                let numeric = vals.iter().all(|v| !matches!(v, Some(Covariate::Text(_))));
                if numeric {
                    let v = vals
                        .iter()
                        .map(|v| match v {
                            Some(Covariate::Number(x)) => Some(*x),
                            _ => None,
                        })
                        .collect();
                    columns.push((name.clone(), ColumnData::Numeric(v)));
                } else {
                    let v = vals
                        .iter()
                        .map(|v| match v {
                            Some(Covariate::Text(s)) => Some(s.to_string()),
                            Some(Covariate::Number(x)) => Some(x.to_string()),
                            _ => None,
                        })
                        .collect();
                    columns.push((name.clone(), ColumnData::Categorical(v)));
                }
            }
        }
    }
    CovariateColumns { columns, missing }
}

/// Repeat per-patient column values for each row of an expanded dataset
/// (`subject[i]` = study-patient index of row `i`).
pub fn expand(col: &ColumnData, subject: &[usize]) -> ColumnData {
    match col {
        ColumnData::Numeric(v) => ColumnData::Numeric(subject.iter().map(|&s| v[s]).collect()),
        ColumnData::Categorical(v) => ColumnData::Categorical(subject.iter().map(|&s| v[s].clone()).collect()),
    }
}
