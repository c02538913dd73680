//! Table 1 of the paper: baseline characteristics of the study population, overall and by HLH
//! status under the primary definition.
//!
//! Conventions (gtsummary's defaults, written in `docs/study.md`):
//! - Groups: patients with HLH at any time during follow-up (the primary definition's exposure,
//!   as counted by the incidence tables) and the others. The comparison is descriptive: HLH
//!   status is known only at the end of follow-up.
//! - Variables: age at diagnosis, sex, every other column of `patients` (numeric columns as
//!   continuous, text columns as categorical), first-line intensity and first-line regimen.
//! - Continuous: median (IQR) (R `quantile(type = 7)`), Wilcoxon rank-sum p (R
//!   `wilcox.test(exact = FALSE, correct = TRUE)`).
//! - Categorical: n (%) of the patients with a value, one row per level (sorted by name);
//!   chi-square p (R `chisq.test`, Yates only for 2×2) unless an expected count is < 5, then
//!   Fisher's exact p (R `fisher.test`); levels empty in both groups are left out of the test.
//! - Level rows with a count from 1 to `report.small_cell - 1` (default 5) in any column are
//!   flagged `small cell (n < 5)` in `note`, for disclosure control before sharing.
//! - Missing values are counted per variable and group; a p-value that cannot be computed (one
//!   group empty, one level only, all values tied, Fisher too large) is NA with the reason.

use std::collections::BTreeMap;

use crate::cohort::{Cohort, CovariateColumn, CovariateValues};
use crate::stats::table1::{categorical_test, quartiles, wilcoxon_rank_sum, CategoricalTestKind};
use crate::table::{Cell, ResultTable};

use super::dataset::Dataset;
use super::exposure::Exposure;

/// Columns of the table.
pub(crate) const COLUMNS: [&str; 11] = [
    "variable",
    "level",
    "overall",
    "hlh",
    "no_hlh",
    "p_value",
    "test",
    "missing_overall",
    "missing_hlh",
    "missing_no_hlh",
    "note",
];

/// One variable's values for the study population (in `Dataset::patients` order); the texts
/// are borrowed from the cohort and the dataset, not copied per patient.
enum Values<'a> {
    Continuous(Vec<Option<f64>>),
    Categorical(Vec<Option<&'a str>>),
}

/// A variable of Table 1: where its values come from.
enum Variable<'a> {
    Age,
    Sex,
    /// An extra column of `patients`.
    Column(&'a CovariateColumn),
    FirstLineIntensity,
    FirstLineRegimen,
}

/// Table 1 of the study population by HLH ever (`exposure`) under the primary definition.
/// Level rows with a count from 1 to `small_cell - 1` in any column are flagged in `note`.
pub(crate) fn baseline_characteristics(
    cohort: &Cohort,
    dataset: &Dataset,
    exposure: &Exposure,
    small_cell: u64,
    name: &str,
) -> ResultTable {
    let hlh = exposure.ever();
    let mut t = ResultTable::new(name, &COLUMNS);
    let n_hlh = hlh.iter().filter(|h| **h).count();
    t.rows.push(vec![
        Cell::Str("patients".into()),
        Cell::Na,
        Cell::Int(dataset.patients.len() as i64),
        Cell::Int(n_hlh as i64),
        Cell::Int((dataset.patients.len() - n_hlh) as i64),
        Cell::Na,
        Cell::Na,
        Cell::Na,
        Cell::Na,
        Cell::Na,
        Cell::Str("HLH: at any time during follow-up (descriptive comparison)".into()),
    ]);
    // one variable's values at a time
    for variable in variables(cohort) {
        let (name, values) = variable_values(&variable, cohort, dataset);
        match values {
            Values::Continuous(v) => continuous_rows(&mut t, name, &v, &hlh),
            Values::Categorical(v) => categorical_rows(&mut t, name, &v, &hlh, small_cell),
        }
    }
    t
}

/// The variables of Table 1, in order: age, sex, the other patient columns (by name; none when
/// no patient was loaded), first-line intensity and regimen.
fn variables(cohort: &Cohort) -> Vec<Variable<'_>> {
    let columns = if cohort.patients.is_empty() { &[][..] } else { cohort.covariates.columns() };
    let mut out = vec![Variable::Age, Variable::Sex];
    out.extend(columns.iter().map(Variable::Column));
    out.extend([Variable::FirstLineIntensity, Variable::FirstLineRegimen]);
    out
}

/// The name and the values (study patients in order) of a variable.
fn variable_values<'a>(variable: &Variable<'a>, cohort: &'a Cohort, dataset: &'a Dataset) -> (&'a str, Values<'a>) {
    let patient = |i: usize| &cohort.patients[dataset.patients[i].idx as usize];
    let idx = |i: usize| dataset.patients[i].idx as usize;
    let n = dataset.patients.len();
    match variable {
        Variable::Age => ("age_at_diagnosis", Values::Continuous((0..n).map(|i| patient(i).age).collect())),
        Variable::Sex => ("sex", Values::Categorical((0..n).map(|i| patient(i).sex.as_deref()).collect())),
        Variable::Column(column) => {
            let values = match &column.values {
                CovariateValues::Numbers(v) => Values::Continuous((0..n).map(|i| v[idx(i)]).collect()),
                // a text column without any value in the study population is summarised as an
                // (all-missing) continuous variable, as a numeric one
                CovariateValues::Texts { .. } if !column.values.any_text((0..n).map(idx)) => Values::Continuous(vec![None; n]),
                CovariateValues::Texts { codes, values } => {
                    Values::Categorical((0..n).map(|i| values.get(codes[idx(i)] as usize).map(|t| t.as_str())).collect())
                }
            };
            (column.name.as_str(), values)
        }
        // patients without a treatment row are the level `untreated`, not missing
        Variable::FirstLineIntensity => {
            ("first_line_intensity", Values::Categorical(dataset.patients.iter().map(|p| Some(p.first_line_intensity)).collect()))
        }
        Variable::FirstLineRegimen => (
            "first_line_regimen",
            Values::Categorical(dataset.patients.iter().map(|p| Some(p.first_line_regimen.as_str())).collect()),
        ),
    }
}

/// `median (q1–q3)` of a group, or `NA` when it has no value.
fn median_iqr(v: &[f64]) -> Cell {
    match quartiles(v) {
        Ok(q) => Cell::Str(super::median_iqr_text(q.median, q.q1, q.q3)),
        Err(_) => Cell::Str("NA".into()),
    }
}

fn continuous_rows(t: &mut ResultTable, variable: &str, v: &[Option<f64>], hlh: &[bool]) {
    let pick = |want: Option<bool>| -> Vec<f64> {
        v.iter().zip(hlh).filter(|(_, h)| want.is_none_or(|w| **h == w)).filter_map(|(x, _)| *x).collect()
    };
    let missing = |want: Option<bool>| v.iter().zip(hlh).filter(|(x, h)| x.is_none() && want.is_none_or(|w| **h == w)).count();
    let (all, yes, no) = (pick(None), pick(Some(true)), pick(Some(false)));
    let (p, note) = match wilcoxon_rank_sum(&yes, &no) {
        Ok(r) if r.p.is_finite() => (Cell::Num(r.p), Cell::Na),
        Ok(_) => (Cell::Na, Cell::Str("p not computable: all values tied".into())),
        Err(_) => (Cell::Na, Cell::Str("p not computable: a group has no value".into())),
    };
    t.rows.push(vec![
        Cell::Str(variable.into()),
        Cell::Str("median (IQR)".into()),
        median_iqr(&all),
        median_iqr(&yes),
        median_iqr(&no),
        p,
        Cell::Str("Wilcoxon rank-sum".into()),
        Cell::Int(missing(None) as i64),
        Cell::Int(missing(Some(true)) as i64),
        Cell::Int(missing(Some(false)) as i64),
        note,
    ]);
}

fn categorical_rows(t: &mut ResultTable, variable: &str, v: &[Option<&str>], hlh: &[bool], small_cell: u64) {
    // level -> [HLH, no HLH]
    let mut counts: BTreeMap<&str, [u64; 2]> = BTreeMap::new();
    let mut missing = [0usize; 2];
    for (x, h) in v.iter().zip(hlh) {
        let g = usize::from(!*h);
        match x {
            Some(level) => counts.entry(*level).or_default()[g] += 1,
            None => missing[g] += 1,
        }
    }
    let table: Vec<[u64; 2]> = counts.values().copied().collect();
    let (p, test, note) = match categorical_test(&table) {
        Ok(c) => {
            let test = match c.test {
                Some(CategoricalTestKind::Fisher) => Cell::Str("Fisher's exact".into()),
                Some(_) => Cell::Str("chi-square".into()),
                None => Cell::Na,
            };
            (
                c.p.filter(|p| p.is_finite()).map_or(Cell::Na, Cell::Num),
                test,
                c.reason.map_or(Cell::Na, |r| Cell::Str(format!("p not computable: {r}"))),
            )
        }
        Err(e) => (Cell::Na, Cell::Na, Cell::Str(format!("p not computable: {e}"))),
    };
    let totals = [table.iter().map(|r| r[0]).sum::<u64>(), table.iter().map(|r| r[1]).sum::<u64>()];
    let pct = |n: u64, of: u64| Cell::Str(super::count_pct(n, of));
    t.rows.push(vec![
        Cell::Str(variable.into()),
        Cell::Na,
        Cell::Na,
        Cell::Na,
        Cell::Na,
        p,
        test,
        Cell::Int((missing[0] + missing[1]) as i64),
        Cell::Int(missing[0] as i64),
        Cell::Int(missing[1] as i64),
        note,
    ]);
    for (level, c) in &counts {
        let small = [c[0] + c[1], c[0], c[1]].iter().any(|&n| n >= 1 && n < small_cell);
        t.rows.push(vec![
            Cell::Str(variable.into()),
            Cell::Str((*level).into()),
            pct(c[0] + c[1], totals[0] + totals[1]),
            pct(c[0], totals[0]),
            pct(c[1], totals[1]),
            Cell::Na,
            Cell::Na,
            Cell::Na,
            Cell::Na,
            Cell::Na,
            if small { Cell::Str(format!("small cell (n < {small_cell})")) } else { Cell::Na },
        ]);
    }
}
