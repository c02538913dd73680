//! The G-rho family of k-sample tests (log-rank for rho = 0, Peto–Peto for
//! rho = 1), computed exactly as R `survival` 3.5 `survdiff` does.
//!
//! * Weights w(t) = Ŝ(t−)^rho, Ŝ the left-continuous Kaplan–Meier of the pooled
//!   sample *within each stratum*; `observed` and `expected` are weighted sums
//!   (plain counts for rho = 0).
//! * Hypergeometric variance Σ w² d (n−d)/(n−1) · n_g/n (δ_gh − n_h/n).
//! * Strata: risk sets, weights, O, E and V are computed within each stratum and
//!   summed.
//! * Times closer than sqrt(eps) are ties (R's default `timefix = TRUE`).
//! * chisq = (O−E)′ V⁻ (O−E) over the groups with E > 0, dropping the first of
//!   them (as R's `solve(vv, temp2)`); df = (groups with E > 0) − 1.
//!
//! The accumulation follows R's C routine `survdiff2` (backwards in time), so
//! the results agree with R to the last few bits.

use rayon::prelude::*;
use serde::Serialize;

use super::dist::pchisq_upper;
use super::error::{check_len, StatsError, StatsResult};
use super::groups::Grouping;
use super::km::{check_codes, merge_near_ties, tabulate_cells, validate_inputs, TimeTable};

/// Result of [`survdiff`]. Groups with no rows are left out (R drops unused
/// levels); every vector is indexed like `groups`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRankTest {
    /// Group labels, in level order (only levels with rows).
    pub groups: Vec<String>,
    /// Subjects per group (summed over strata).
    pub n: Vec<usize>,
    /// Observed events per group, weighted by w(t) when rho ≠ 0 (summed over strata).
    pub observed: Vec<f64>,
    /// Expected events per group, weighted by w(t) when rho ≠ 0 (summed over strata).
    pub expected: Vec<f64>,
    /// Variance–covariance matrix of O − E, `variance[row][col]` as R's `fit$var`.
    pub variance: Vec<Vec<f64>>,
    /// Chi-square statistic.
    pub chisq: f64,
    /// Degrees of freedom: (groups with expected > 0) − 1.
    pub df: usize,
    /// Upper-tail chi-square p-value.
    pub p: f64,
    /// The rho of the weights.
    pub rho: f64,
}

/// k-sample G-rho test of `groups`, optionally stratified, as
/// `survdiff(Surv(time, event) ~ group + strata(s), rho = rho)`.
///
/// Errors: mismatched lengths, bad times, group/strata codes out of range, a
/// non-finite `rho`, fewer than 2 groups with rows, fewer than 2 groups with
/// expected events > 0 (no events: nothing to test), or a singular variance.
pub fn survdiff(
    time: &[f64],
    event: &[bool],
    groups: &Grouping,
    strata: Option<&Grouping>,
    rho: f64,
) -> StatsResult<LogRankTest> {
    validate_inputs(time, event, groups, "group")?;
    if let Some(s) = strata {
        check_len("strata", s.codes.len(), time.len())?;
        check_codes(s, "strata")?;
    }
    if !rho.is_finite() {
        return Err(StatsError::InvalidInput {
            column: "rho".to_string(),
            message: format!("must be a finite number, found {rho}"),
        });
    }
    let n_groups = groups.labels.len();
    let n_strata = strata.map_or(1, |s| s.labels.len());
    let gcodes = &groups.codes;
    let mut tables: Vec<TimeTable> = match strata {
        Some(s) => tabulate_cells(time, event, n_strata * n_groups, |i| s.codes[i] * n_groups + gcodes[i]),
        None => tabulate_cells(time, event, n_groups, |i| gcodes[i]),
    };
    // R's timefix: times closer than sqrt(eps) are ties
    merge_near_ties(&mut tables);

    let n_by_group: Vec<usize> = (0..n_groups).map(|g| (0..n_strata).map(|s| tables[s * n_groups + g].n).sum()).collect();
    let present: Vec<usize> = (0..n_groups).filter(|&g| n_by_group[g] > 0).collect();
    if present.len() < 2 {
        return Err(StatsError::InvalidInput {
            column: "group".to_string(),
            message: format!(
                "a survival comparison needs at least 2 groups with data, found {} ({:?})",
                present.len(),
                present.iter().map(|&g| groups.labels[g].as_str()).collect::<Vec<_>>()
            ),
        });
    }
    let k = present.len();

    let per_stratum: Vec<StratumSums> = (0..n_strata)
        .into_par_iter()
        .map(|s| {
            let tabs: Vec<&TimeTable> = present.iter().map(|&g| &tables[s * n_groups + g]).collect();
            stratum_sums(&tabs, rho)
        })
        .collect();
    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut variance = vec![vec![0.0; k]; k];
    for st in &per_stratum {
        for g in 0..k {
            observed[g] += st.obs[g];
            expected[g] += st.exp[g];
            for (v, sv) in variance[g].iter_mut().zip(&st.var[g]) {
                *v += sv;
            }
        }
    }

    let with_e: Vec<usize> = (0..k).filter(|&g| expected[g] > 0.0).collect();
    if with_e.len() < 2 {
        return Err(StatsError::Empty(format!(
            "fewer than 2 groups have expected events > 0 ({} events in total): nothing to test",
            observed.iter().sum::<f64>()
        )));
    }
    let idx = &with_e[1..];
    let temp2: Vec<f64> = idx.iter().map(|&g| observed[g] - expected[g]).collect();
    let vv: Vec<Vec<f64>> = idx.iter().map(|&r| idx.iter().map(|&c| variance[r][c]).collect()).collect();
    let x = solve(&vv, &temp2).ok_or_else(|| StatsError::Singular {
        term: "group".to_string(),
        message: "the variance matrix of O - E is singular (R: system is computationally singular)".to_string(),
    })?;
    let chisq: f64 = x.iter().zip(&temp2).map(|(a, b)| a * b).sum();
    let df = with_e.len() - 1;
    Ok(LogRankTest {
        groups: present.iter().map(|&g| groups.labels[g].clone()).collect(),
        n: present.iter().map(|&g| n_by_group[g]).collect(),
        observed,
        expected,
        variance,
        chisq,
        df,
        p: pchisq_upper(chisq, df as f64),
        rho,
    })
}

/// O, E and V of one stratum.
struct StratumSums {
    obs: Vec<f64>,
    exp: Vec<f64>,
    /// `var[row][col]`.
    var: Vec<Vec<f64>>,
}

/// One stratum, following `survdiff2.c`: the left-continuous pooled KM forwards
/// (only when rho ≠ 0), then the sums backwards in time.
#[allow(clippy::needless_range_loop)] // parallel per-group arrays, as in survdiff2.c
fn stratum_sums(tabs: &[&TimeTable], rho: f64) -> StratumSums {
    let k = tabs.len();
    let mut out = StratumSums { obs: vec![0.0; k], exp: vec![0.0; k], var: vec![vec![0.0; k]; k] };

    // Pooled left-continuous KM at each pooled distinct time (forward pass).
    let mut weights: Vec<f64> = Vec::new();
    if rho != 0.0 {
        let mut pos = vec![0usize; k];
        let mut nrisk: f64 = tabs.iter().map(|t| t.n as f64).sum();
        let mut km = 1.0f64;
        while let Some(t) = (0..k).filter_map(|g| tabs[g].times.get(pos[g]).copied()).reduce(f64::min) {
            weights.push(km.powf(rho));
            let (mut deaths, mut leaving) = (0.0, 0.0);
            for g in 0..k {
                if tabs[g].times.get(pos[g]) == Some(&t) {
                    deaths += tabs[g].n_event[pos[g]] as f64;
                    leaving += (tabs[g].n_event[pos[g]] + tabs[g].n_censor[pos[g]]) as f64;
                    pos[g] += 1;
                }
            }
            km = km * (nrisk - deaths) / nrisk;
            nrisk -= leaving;
        }
    }

    // Backward pass: risk sets grow as we go back in time.
    let mut end: Vec<usize> = tabs.iter().map(|t| t.times.len()).collect();
    let mut risk = vec![0.0f64; k];
    let mut nrisk = 0.0f64;
    let mut widx = weights.len();
    let mut d_g = vec![0usize; k];
    while let Some(t) = (0..k).filter(|&g| end[g] > 0).map(|g| tabs[g].times[end[g] - 1]).reduce(f64::max) {
        let wt = if rho == 0.0 {
            1.0
        } else {
            widx -= 1;
            weights[widx]
        };
        let mut deaths = 0.0f64;
        for g in 0..k {
            d_g[g] = 0;
            if end[g] > 0 && tabs[g].times[end[g] - 1] == t {
                let i = end[g] - 1;
                let (d, c) = (tabs[g].n_event[i], tabs[g].n_censor[i]);
                d_g[g] = d;
                deaths += d as f64;
                risk[g] += (d + c) as f64;
                nrisk += (d + c) as f64;
                end[g] = i;
            }
        }
        for g in 0..k {
            for _ in 0..d_g[g] {
                out.obs[g] += wt;
            }
        }
        if deaths > 0.0 {
            for g in 0..k {
                out.exp[g] += wt * deaths * risk[g] / nrisk;
            }
            if nrisk == 1.0 {
                continue; // only one subject: no variance
            }
            let w2 = wt * wt;
            for col in 0..k {
                let tmp = w2 * deaths * risk[col] * (nrisk - deaths) / (nrisk * (nrisk - 1.0));
                out.var[col][col] += tmp;
                for row in 0..k {
                    out.var[row][col] -= tmp * risk[row] / nrisk;
                }
            }
        }
    }
    out
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (as LAPACK
/// `dgesv`); `None` when `a` is singular or its reciprocal condition number
/// (1-norm) is below machine epsilon, where R's `solve` stops.
fn solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let m = b.len();
    let inv = invert(a)?;
    let norm1 = |x: &[Vec<f64>]| (0..m).map(|c| (0..m).map(|r| x[r][c].abs()).sum::<f64>()).fold(0.0, f64::max);
    let rcond = 1.0 / (norm1(a) * norm1(&inv));
    if rcond.is_nan() || rcond < f64::EPSILON {
        return None;
    }
    lu_solve(a, b)
}

/// LU with partial pivoting, then forward and back substitution.
#[allow(clippy::needless_range_loop)]
fn lu_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let m = b.len();
    let mut lu: Vec<Vec<f64>> = a.to_vec();
    let mut x: Vec<f64> = b.to_vec();
    for j in 0..m {
        let p = (j..m).fold(j, |best, i| if lu[i][j].abs() > lu[best][j].abs() { i } else { best });
        if lu[p][j] == 0.0 || !lu[p][j].is_finite() {
            return None;
        }
        lu.swap(j, p);
        x.swap(j, p);
        for i in j + 1..m {
            let f = lu[i][j] / lu[j][j];
            lu[i][j] = f;
            for c in j + 1..m {
                lu[i][c] -= f * lu[j][c];
            }
            x[i] -= f * x[j];
        }
    }
    for j in (0..m).rev() {
        let mut s = x[j];
        for c in j + 1..m {
            s -= lu[j][c] * x[c];
        }
        x[j] = s / lu[j][j];
    }
    Some(x)
}

/// Inverse by solving against the unit vectors; `None` if singular.
fn invert(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let m = a.len();
    let mut inv = vec![vec![0.0; m]; m];
    for c in 0..m {
        let mut e = vec![0.0; m];
        e[c] = 1.0;
        let col = lu_solve(a, &e)?;
        for r in 0..m {
            inv[r][c] = col[r];
        }
    }
    Some(inv)
}

impl LogRankTest {
    /// The test as JSON with keys `chisq, df, p, rho, groups, n, observed, expected, variance`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// O − E per group.
    pub fn o_minus_e(&self) -> Vec<f64> {
        self.observed.iter().zip(&self.expected).map(|(o, e)| o - e).collect()
    }

    /// The per-group table `print.survdiff` shows, named `name`, with columns
    /// `group,n,observed,expected,oe2_over_e,oe2_over_v` ((O−E)²/E and (O−E)²/V, V the
    /// diagonal of the variance; NA where the denominator is 0).
    pub fn table(&self, name: &str) -> crate::table::ResultTable {
        use crate::table::Cell;
        let mut t = crate::table::ResultTable::new(name, &["group", "n", "observed", "expected", "oe2_over_e", "oe2_over_v"]);
        for (g, label) in self.groups.iter().enumerate() {
            let d = self.observed[g] - self.expected[g];
            let ratio = |den: f64| Cell::finite_or_na(Some(d * d / den));
            t.push_row(vec![
                Cell::from(label.as_str()),
                Cell::from(self.n[g]),
                Cell::Num(self.observed[g]),
                Cell::Num(self.expected[g]),
                ratio(self.expected[g]),
                ratio(self.variance[g][g]),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lu_solve_pivots() {
        let a = vec![vec![0.0, 2.0], vec![3.0, 1.0]];
        let x = solve(&a, &[4.0, 5.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 2.0).abs() < 1e-15);
        assert!(solve(&[vec![1.0, 2.0], vec![2.0, 4.0]], &[1.0, 2.0]).is_none());
    }
}
