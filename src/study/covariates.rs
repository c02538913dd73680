//! Adjustment covariates of the study's Cox models, read from `patients`.

use crate::cohort::{Cohort, CovariateValues};
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
            _ => match cohort.covariates.column(name) {
                // as for the standard columns: a column without study patients is missing
                Some(column) if !dataset.patients.is_empty() => {
                    let rows = dataset.patients.iter().map(|sp| sp.idx as usize);
                    let data = match &column.values {
                        CovariateValues::Numbers(v) => ColumnData::Numeric(rows.map(|i| v[i]).collect()),
                        // a text column without any value in the study population is an
                        // (all-missing) numeric one
                        CovariateValues::Texts { .. } if !column.values.any_text(rows.clone()) => {
                            ColumnData::Numeric(vec![None; dataset.patients.len()])
                        }
                        // one code per study patient, not one string (the codes of the
                        // cohort's column, whose missing code is the design's)
                        CovariateValues::Texts { codes, values } => ColumnData::Coded {
                            codes: rows.map(|i| codes[i]).collect(),
                            labels: values.iter().map(|t| t.to_string()).collect(),
                        },
                    };
                    columns.push((name.clone(), data));
                }
                _ => missing.push(name.clone()),
            },
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
        ColumnData::Coded { codes, labels } => {
            ColumnData::Coded { codes: subject.iter().map(|&s| codes[s]).collect(), labels: labels.clone() }
        }
    }
}
