//! Design matrices for regression models, built the way R's `model.matrix`
//! does for a formula without interactions:
//!
//! - numeric columns are used as they are;
//! - categorical columns become treatment contrasts: one 0/1 column per level
//!   except the first (the reference), named column name + level, as R prints
//!   them (`celltypesmallcell`). Levels are ordered as R's `factor()` orders
//!   them ([`Grouping::from_values`]: numeric order when every value is a
//!   number, otherwise text order), unless an explicit level order is given;
//! - rows with a missing value in any column are dropped (`na.omit`), and the
//!   caller learns which ones so it can report the exclusions.
//!
//! Unlike R, which silently returns `NA` coefficients, a design that cannot be
//! estimated is an error naming the term: a constant column, a level without
//! rows, or a column that is a linear combination of earlier ones (the model
//! has an implicit intercept / baseline hazard, so "constant" counts as collinear).

use std::collections::HashMap;

use ndarray::Array2;

use super::error::{StatsError, StatsResult};
use super::groups::Grouping;

/// One input column of covariate values; `None` = missing.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// A numeric covariate (`NaN` is treated as missing, like R's `is.na`).
    Numeric(Vec<Option<f64>>),
    /// A categorical covariate (factor).
    Categorical(Vec<Option<String>>),
    /// A categorical covariate stored as codes: row `i`'s value is `labels[codes[i]]`, and
    /// [`ColumnData::MISSING_CODE`] is missing. The same factor as [`ColumnData::Categorical`]
    /// with those labels written out (levels, reference and results are identical), in
    /// 4 bytes per row instead of a string each — what a cohort of millions of rows needs.
    Coded {
        /// Per row, the index of its label (or [`ColumnData::MISSING_CODE`]).
        codes: Vec<u32>,
        /// The labels the codes index (any order; levels are still ordered as R's `factor()`).
        labels: Vec<String>,
    },
}

impl ColumnData {
    /// The code of a missing value in [`ColumnData::Coded`].
    pub const MISSING_CODE: u32 = u32::MAX;

    fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical(v) => v.len(),
            ColumnData::Coded { codes, .. } => codes.len(),
        }
    }
    fn is_missing(&self, i: usize) -> bool {
        match self {
            ColumnData::Numeric(v) => v[i].is_none_or(|x| x.is_nan()),
            ColumnData::Categorical(v) => v[i].is_none(),
            ColumnData::Coded { codes, labels } => labels.get(codes[i] as usize).is_none(),
        }
    }

    /// The text of row `i` of a categorical column (`None`: missing, or a numeric column).
    fn text(&self, i: usize) -> Option<&str> {
        match self {
            ColumnData::Numeric(_) => None,
            ColumnData::Categorical(v) => v[i].as_deref(),
            ColumnData::Coded { codes, labels } => labels.get(codes[i] as usize).map(String::as_str),
        }
    }
}

/// A design matrix with the rows it kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Column names, as R's `model.matrix` prints them.
    pub terms: Vec<String>,
    /// Kept rows × terms.
    pub x: Array2<f64>,
    /// Input row indices (0-based) of the rows of `x`.
    pub kept_rows: Vec<usize>,
    /// Input row indices (0-based) dropped because a value was missing.
    pub dropped_rows: Vec<usize>,
    /// For each column of `x`, the index of the input column it comes from (R's `assign`:
    /// a factor's dummy columns share one).
    pub assign: Vec<usize>,
}

/// Relative residual sum of squares below which a column counts as a linear
/// combination of the earlier ones (and the intercept).
const COLLINEAR_TOL: f64 = 1e-10;

/// Build the design matrix from named columns. `levels` may give the level order
/// (first = reference) of categorical columns, keyed by column name; a value not
/// among the given levels is an error. Without it, levels are those present in
/// the kept rows, in R `factor()` order.
pub fn build_design(columns: &[(String, ColumnData)], levels: Option<&HashMap<String, Vec<String>>>) -> StatsResult<Design> {
    if columns.is_empty() {
        return Err(StatsError::InvalidInput { column: "covariates".into(), message: "no covariate columns given".into() });
    }
    let n = columns[0].1.len();
    for (name, col) in columns {
        if col.len() != n {
            return Err(StatsError::InvalidInput {
                column: name.clone(),
                message: format!("has {} values, expected {n} (as column `{}`)", col.len(), columns[0].0),
            });
        }
        if let ColumnData::Numeric(v) = col {
            if let Some(i) = v.iter().position(|x| x.is_some_and(|x| x.is_infinite())) {
                return Err(StatsError::InvalidInput {
                    column: name.clone(),
                    message: format!("row {}: value must be finite, found {}", i + 1, v[i].unwrap_or(f64::NAN)),
                });
            }
        }
    }
    let (kept_rows, dropped_rows): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| !columns.iter().any(|(_, c)| c.is_missing(i)));
    if kept_rows.is_empty() {
        return Err(StatsError::Empty(format!("every one of the {n} rows has a missing value in at least one covariate")));
    }
    let m = kept_rows.len();

    let mut terms: Vec<String> = Vec::new();
    let mut assign: Vec<usize> = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for (input, (name, col)) in columns.iter().enumerate() {
        match col {
            ColumnData::Numeric(v) => {
                let vals: Vec<f64> = kept_rows.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect();
                if vals.iter().all(|&x| x == vals[0]) {
                    return Err(StatsError::Singular {
                        term: name.clone(),
                        message: format!("the covariate is constant ({} in all {m} rows used)", vals[0]),
                    });
                }
                terms.push(name.clone());
                assign.push(input);
                cols.push(vals);
            }
            ColumnData::Categorical(_) | ColumnData::Coded { .. } => {
                let vals: Vec<&str> = kept_rows.iter().map(|&i| col.text(i).unwrap_or("")).collect();
                let grouping = match levels.and_then(|l| l.get(name)) {
                    Some(lv) => {
                        let g = Grouping::with_levels(name, &vals, lv).map_err(|e| match e {
                            // report the row number of the input, not of the kept subset
                            StatsError::InvalidInput { column, .. } => {
                                let (row, bad) = vals
                                    .iter()
                                    .enumerate()
                                    .find(|(_, s)| !lv.iter().any(|l| l == *s))
                                    .map(|(k, s)| (kept_rows[k] + 1, s.to_string()))
                                    .unwrap_or((0, String::new()));
                                StatsError::InvalidInput {
                                    column,
                                    message: format!("row {row}: value `{bad}` is not one of the levels {lv:?}"),
                                }
                            }
                            other => other,
                        })?;
                        let mut counts = vec![0usize; lv.len()];
                        for &c in &g.codes {
                            counts[c] += 1;
                        }
                        if let Some(k) = counts.iter().position(|&c| c == 0) {
                            return Err(StatsError::Singular {
                                term: format!("{name}{}", lv[k]),
                                message: format!(
                                    "level `{}` of `{name}` has no rows{}",
                                    lv[k],
                                    if k == 0 { " (it is the reference level)" } else { "" }
                                ),
                            });
                        }
                        g
                    }
                    None => Grouping::from_values(&vals),
                };
                if grouping.n_levels() < 2 {
                    return Err(StatsError::Singular {
                        term: name.clone(),
                        message: format!(
                            "the factor has a single level (`{}`) in the {m} rows used",
                            grouping.labels.first().map(String::as_str).unwrap_or("")
                        ),
                    });
                }
                for (k, label) in grouping.labels.iter().enumerate().skip(1) {
                    terms.push(format!("{name}{label}"));
                    assign.push(input);
                    cols.push(grouping.codes.iter().map(|&c| if c == k { 1.0 } else { 0.0 }).collect());
                }
            }
        }
    }
    let p = cols.len();
    let mut x = Array2::<f64>::zeros((m, p));
    for (j, c) in cols.drain(..).enumerate() {
        x.column_mut(j).assign(&ndarray::ArrayView1::from(c.as_slice()));
    }
    // The exact collinearity check holds an orthonormal copy of every column; the one-pass
    // pre-check, which passes only where the exact check passes, spares that copy (p columns
    // of millions of rows) on the usual full-rank design.
    let clear = x.as_slice().is_some_and(|rows| clearly_full_rank(rows, p));
    if !clear {
        let columns: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
        check_collinear(&terms, &columns)?;
    }
    Ok(Design { terms, x, kept_rows, dropped_rows, assign })
}

/// Whether the columns of a row-major `n × p` matrix (`p` ≥ 1) are clearly neither
/// constant nor collinear with the intercept and each other: a cheap, conservative
/// pre-check (one pass, no copy of the columns) for callers that otherwise build the
/// design with [`build_design`]. It answers `true` only where [`build_design`]'s check
/// certainly passes: no constant column, and in the Cholesky factorisation of the
/// centred cross-products every pivot keeps more than 1e-6 of its column's centred sum
/// of squares (the exact check errs below 1e-10, four orders of magnitude further).
/// `false` does not mean the design is singular, only that the exact check must decide.
pub fn clearly_full_rank(x: &[f64], p: usize) -> bool {
    const CLEAR_TOL: f64 = 1e-6;
    if p == 0 || x.is_empty() || x.len() % p != 0 {
        return false;
    }
    let n = x.len() / p;
    let first = &x[..p];
    let mut constant = vec![true; p];
    let mut mean = vec![0.0; p];
    for row in x.chunks_exact(p) {
        for j in 0..p {
            mean[j] += row[j];
            constant[j] &= row[j] == first[j];
        }
    }
    if constant.iter().any(|&c| c) {
        return false;
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut g = vec![0.0; p * p];
    let mut d = vec![0.0; p];
    for row in x.chunks_exact(p) {
        for j in 0..p {
            d[j] = row[j] - mean[j];
        }
        for i in 0..p {
            for j in 0..=i {
                g[i * p + j] += d[i] * d[j];
            }
        }
    }
    // Cholesky of the lower triangle, in place
    for j in 0..p {
        let ss0 = g[j * p + j];
        let pivot = ss0 - (0..j).map(|k| g[j * p + k] * g[j * p + k]).sum::<f64>();
        if !(ss0.is_finite() && ss0 > 0.0 && pivot.is_finite() && pivot > CLEAR_TOL * ss0) {
            return false;
        }
        let l = pivot.sqrt();
        g[j * p + j] = l;
        for i in (j + 1)..p {
            let v = g[i * p + j] - (0..j).map(|k| g[i * p + k] * g[j * p + k]).sum::<f64>();
            g[i * p + j] = v / l;
        }
    }
    true
}

/// Gram–Schmidt (twice, for stability) on the centred columns; a column whose
/// residual keeps less than `COLLINEAR_TOL` of its centred sum of squares is a
/// linear combination of the intercept and the earlier columns.
fn check_collinear(terms: &[String], cols: &[Vec<f64>]) -> StatsResult<()> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for (j, c) in cols.iter().enumerate() {
        let mean = c.iter().sum::<f64>() / c.len() as f64;
        let mut v: Vec<f64> = c.iter().map(|x| x - mean).collect();
        let ss0: f64 = v.iter().map(|x| x * x).sum();
        for _ in 0..2 {
            for q in &basis {
                let dot: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(q).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let ss: f64 = v.iter().map(|x| x * x).sum();
        if ss0 <= 0.0 || ss <= COLLINEAR_TOL * ss0 {
            let others: Vec<&str> = terms[..j].iter().map(String::as_str).collect();
            return Err(StatsError::Singular {
                term: terms[j].clone(),
                message: if others.is_empty() {
                    "the covariate is constant".to_string()
                } else {
                    format!("the column is a linear combination of the intercept and {}", others.join(", "))
                },
            });
        }
        let norm = ss.sqrt();
        basis.push(v.into_iter().map(|x| x / norm).collect());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &[Option<f64>]) -> ColumnData {
        ColumnData::Numeric(v.to_vec())
    }
    fn cat(v: &[Option<&str>]) -> ColumnData {
        ColumnData::Categorical(v.iter().map(|s| s.map(String::from)).collect())
    }

    #[test]
    fn treatment_contrasts_and_na_omit() {
        let cols = vec![
            ("age".to_string(), num(&[Some(60.0), None, Some(70.0), Some(55.0), Some(40.0), Some(52.0), Some(66.0)])),
            (
                "celltype".to_string(),
                cat(&[Some("squamous"), Some("adeno"), Some("large"), None, Some("adeno"), Some("large"), Some("adeno")]),
            ),
        ];
        let mut lv = HashMap::new();
        lv.insert("celltype".to_string(), vec!["squamous".into(), "adeno".into(), "large".into()]);
        let d = build_design(&cols, Some(&lv)).unwrap();
        assert_eq!(d.terms, vec!["age", "celltypeadeno", "celltypelarge"]);
        assert_eq!(d.kept_rows, vec![0, 2, 4, 5, 6]);
        assert_eq!(d.dropped_rows, vec![1, 3]);
        assert_eq!(d.x.row(0).to_vec(), vec![60.0, 0.0, 0.0]);
        assert_eq!(d.x.row(1).to_vec(), vec![70.0, 0.0, 1.0]);
        assert_eq!(d.x.row(2).to_vec(), vec![40.0, 1.0, 0.0]);
    }

    #[test]
    fn derived_levels_follow_factor_order() {
        let cols = vec![("x".to_string(), cat(&[Some("b"), Some("a"), Some("c"), Some("a")]))];
        let d = build_design(&cols, None).unwrap();
        assert_eq!(d.terms, vec!["xb", "xc"]);
    }

    #[test]
    fn coded_factor_is_the_same_design_as_its_labels() {
        let text = [Some("squamous"), Some("adeno"), None, Some("large"), Some("adeno"), Some("large"), Some("squamous")];
        let age = num(&[Some(60.0), Some(61.0), Some(70.0), Some(55.0), Some(40.0), Some(52.0), Some(66.0)]);
        // labels in another order than R's levels, and a missing row
        let labels: Vec<String> = ["large", "squamous", "adeno"].iter().map(|s| s.to_string()).collect();
        let codes: Vec<u32> = text
            .iter()
            .map(|t| t.map_or(ColumnData::MISSING_CODE, |t| labels.iter().position(|l| l == t).unwrap() as u32))
            .collect();
        let plain = vec![("age".to_string(), age.clone()), ("cell".to_string(), cat(&text))];
        let coded = vec![("age".to_string(), age), ("cell".to_string(), ColumnData::Coded { codes, labels })];
        let (a, b) = (build_design(&plain, None).unwrap(), build_design(&coded, None).unwrap());
        assert_eq!(a, b);
        assert_eq!(b.terms, vec!["age", "celllarge", "cellsquamous"]);
        assert_eq!(b.dropped_rows, vec![2]);
        let mut lv = HashMap::new();
        lv.insert("cell".to_string(), vec!["squamous".into(), "adeno".into(), "large".into()]);
        assert_eq!(build_design(&plain, Some(&lv)).unwrap(), build_design(&coded, Some(&lv)).unwrap());
    }

    #[test]
    fn errors_name_the_term() {
        let cols = vec![("k".to_string(), num(&[Some(1.0), Some(1.0), None]))];
        match build_design(&cols, None) {
            Err(StatsError::Singular { term, .. }) => assert_eq!(term, "k"),
            other => panic!("{other:?}"),
        }
        let cols = vec![
            ("a".to_string(), num(&[Some(1.0), Some(2.0), Some(3.0), Some(5.0)])),
            ("b".to_string(), num(&[Some(2.0), Some(4.0), Some(6.0), Some(10.0)])),
        ];
        match build_design(&cols, None) {
            Err(StatsError::Singular { term, .. }) => assert_eq!(term, "b"),
            other => panic!("{other:?}"),
        }
        let cols = vec![("g".to_string(), cat(&[Some("x"), Some("z"), Some("x")]))];
        let mut lv = HashMap::new();
        lv.insert("g".to_string(), vec!["x".into(), "y".into(), "z".into()]);
        match build_design(&cols, Some(&lv)) {
            Err(StatsError::Singular { term, .. }) => assert_eq!(term, "gy"),
            other => panic!("{other:?}"),
        }
        lv.insert("g".to_string(), vec!["x".into(), "y".into()]);
        match build_design(&cols, Some(&lv)) {
            Err(StatsError::InvalidInput { column, message }) => {
                assert_eq!(column, "g");
                assert!(message.contains("row 2") && message.contains("`z`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clearly_full_rank_is_conservative() {
        // x2 = 2 x1 + 1: collinear with the intercept and x1
        let rows: Vec<f64> = (0..50).flat_map(|i| [i as f64, 2.0 * i as f64 + 1.0, ((i * 7) % 5) as f64]).collect();
        assert!(!clearly_full_rank(&rows, 3));
        let rows: Vec<f64> = (0..50).flat_map(|i| [i as f64, ((i * 7) % 5) as f64, (i % 2) as f64]).collect();
        assert!(clearly_full_rank(&rows, 3));
        let constant: Vec<f64> = (0..50).flat_map(|i| [i as f64, 0.1]).collect();
        assert!(!clearly_full_rank(&constant, 2));
        assert!(!clearly_full_rank(&[], 2));
    }

    /// `build_design` runs the exact check only when the pre-check is not sure: its verdict
    /// must be the exact check's on designs from clearly full rank to exactly collinear.
    #[test]
    fn build_design_agrees_with_the_exact_check() {
        let x1: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let x2: Vec<f64> = (0..200).map(|i| ((i * 53) % 89) as f64).collect();
        let wiggle: Vec<f64> = (0..200).map(|i| ((i * 71) % 13) as f64 - 6.0).collect();
        let mut verdicts = Vec::new();
        for scale in [1.0, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-12, 0.0] {
            // x3 = 3 x1 - x2 + 5, moved away from that plane by `scale`
            let x3: Vec<f64> = (0..200).map(|i| 3.0 * x1[i] - x2[i] + 5.0 + scale * wiggle[i]).collect();
            let columns = [&x1, &x2, &x3];
            let cols: Vec<(String, ColumnData)> = ["a", "b", "c"]
                .iter()
                .zip(columns)
                .map(|(name, v)| (name.to_string(), ColumnData::Numeric(v.iter().map(|&x| Some(x)).collect())))
                .collect();
            let terms: Vec<String> = ["a", "b", "c"].iter().map(|t| t.to_string()).collect();
            let exact = check_collinear(&terms, &columns.map(|c| c.clone())).is_ok();
            let built = build_design(&cols, None);
            assert_eq!(built.is_ok(), exact, "scale {scale}: build_design {built:?}");
            verdicts.push(exact);
        }
        // the series crosses the tolerance: both verdicts are exercised
        assert!(verdicts.first() == Some(&true) && verdicts.last() == Some(&false), "{verdicts:?}");
    }
}
