//! Statistics behind a "Table 1" (baseline characteristics by group): pure functions on
//! plain slices, no polars.
//!
//! * [`wilcoxon_rank_sum`]: two-sample Wilcoxon rank-sum (Mann–Whitney) test, as R
//!   `wilcox.test(x, y, exact = FALSE, correct = TRUE)`.
//! * [`quartiles`], [`quantile_type7`]: median and quartiles as R `quantile(x, type = 7)`.
//! * [`fisher_exact_kx2`]: Fisher's exact test on a k × 2 table (k categories × 2 groups),
//!   two-sided p-value as R `fisher.test(table)`, by complete enumeration with a work cap.
//! * [`categorical_test`]: the test for a categorical variable: Pearson chi-square
//!   ([`chisq_test`], R `chisq.test` default, Yates only for 2 × 2) unless some expected
//!   count is below 5, then Fisher's exact test.
//!
//! All of them are tested against R 4.2 in `tests/stats_table1.rs` (fixtures made by
//! `tests/fixtures/r/table1.R`).

use std::cmp::Ordering;

use super::dist::two_sided_p;
use super::error::{StatsError, StatsResult};
use super::proportions::{chisq_test, ln_choose, ChisqResult};

/// Default cap on the number of tables [`fisher_exact_kx2`] enumerates: beyond it the
/// p-value is not computed (`Ok(None)`).
pub const FISHER_MAX_TABLES: u64 = 10_000_000;

/// Largest smaller-column total for which the number of tables is counted exactly
/// (the count needs two vectors of this length); see [`fisher_exact_kx2_with_limit`].
const FISHER_MAX_COUNT_WIDTH: u64 = 1 << 22;

/// R's relative tolerance for "as or less probable than the observed table" in the 2 × 2
/// case of `fisher.test` (`relErr <- 1 + 10^(-7)`).
const FISHER_REL_ERR_2X2: f64 = 1e-7;

/// R's tolerance in log space for larger tables (FEXACT's `tol = 3.45254e-7`, added to the
/// log-probability of the observed table).
const FISHER_LOG_TOL_FEXACT: f64 = 3.45254e-7;

fn invalid(column: &str, message: String) -> StatsError {
    StatsError::InvalidInput { column: column.to_string(), message }
}

// ---------------------------------------------------------------------------------------
// Wilcoxon rank-sum test
// ---------------------------------------------------------------------------------------

/// Result of the two-sample Wilcoxon rank-sum (Mann–Whitney) test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WilcoxonResult {
    /// R's statistic W: the sum of the ranks of `x` in the pooled sample (midranks for ties)
    /// minus n_x (n_x + 1) / 2.
    pub w: f64,
    /// Normal deviate after the continuity correction; NaN when all values are tied.
    pub z: f64,
    /// Two-sided p-value of the normal approximation; NaN when all values are tied (R's
    /// `wilcox.test` also returns NaN then: the variance of W is 0).
    pub p: f64,
    /// Number of values in `x`.
    pub n_x: usize,
    /// Number of values in `y`.
    pub n_y: usize,
}

fn check_sample(column: &str, v: &[f64]) -> StatsResult<()> {
    if v.is_empty() {
        return Err(invalid(column, "group is empty; the test needs at least one value in each group".into()));
    }
    if let Some(i) = v.iter().position(|t| !t.is_finite()) {
        return Err(invalid(
            column,
            format!("value {}: must be a finite number (drop missing values first), found {}", i + 1, v[i]),
        ));
    }
    Ok(())
}

/// Two-sample Wilcoxon rank-sum test of `x` against `y`, exactly as R
/// `wilcox.test(x, y, exact = FALSE, correct = TRUE)`: W is the rank sum of `x` (midranks
/// for ties) minus n_x (n_x + 1) / 2; z = (W − n_x n_y / 2 − 0.5 sign(W − n_x n_y / 2)) / σ
/// with the tie-corrected σ² = n_x n_y / 12 · (N + 1 − Σ(t³ − t) / (N (N − 1))); p is
/// two-sided, 2 Φ(−|z|).
///
/// When every value is tied, σ = 0 and z and p are NaN, as in R.
///
/// Errors: an empty group, or a non-finite value (R silently drops non-finite values; here
/// the caller drops missing values first). Named column `x` or `y`.
pub fn wilcoxon_rank_sum(x: &[f64], y: &[f64]) -> StatsResult<WilcoxonResult> {
    check_sample("x", x)?;
    check_sample("y", y)?;
    let mut pooled: Vec<(f64, bool)> = x.iter().map(|&v| (v, true)).chain(y.iter().map(|&v| (v, false))).collect();
    // All finite: partial_cmp never fails; -0.0 and 0.0 compare equal (tied, as in R).
    pooled.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    let n = pooled.len();
    let mut rank_sum_x = 0.0f64;
    let mut ties = 0.0f64;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j: midrank (i + 1 + j) / 2.
        let midrank = (i + 1 + j) as f64 / 2.0;
        let in_x = pooled[i..j].iter().filter(|p| p.1).count() as f64;
        rank_sum_x += midrank * in_x;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let nx = x.len() as f64;
    let ny = y.len() as f64;
    let w = rank_sum_x - nx * (nx + 1.0) / 2.0;
    let z0 = w - nx * ny / 2.0;
    let sigma = ((nx * ny / 12.0) * ((nx + ny + 1.0) - ties / ((nx + ny) * (nx + ny - 1.0)))).sqrt();
    let correction = if z0 > 0.0 {
        0.5
    } else if z0 < 0.0 {
        -0.5
    } else {
        0.0
    };
    let (z, p) = if sigma > 0.0 {
        let z = (z0 - correction) / sigma;
        (z, two_sided_p(z))
    } else {
        (f64::NAN, f64::NAN)
    };
    Ok(WilcoxonResult { w, z, p, n_x: x.len(), n_y: y.len() })
}

// ---------------------------------------------------------------------------------------
// Quantiles
// ---------------------------------------------------------------------------------------

/// R `quantile(x, p, type = 7)` of sorted `x`; `None` when empty or when p is outside [0, 1].
pub fn quantile_type7(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Median and quartiles of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quartiles {
    /// Number of values.
    pub n: usize,
    /// First quartile, R `quantile(x, 0.25, type = 7)`.
    pub q1: f64,
    /// Median, R `quantile(x, 0.5, type = 7)` (= `median(x)`).
    pub median: f64,
    /// Third quartile, R `quantile(x, 0.75, type = 7)`.
    pub q3: f64,
}

/// Median and quartiles of `x` (any order) as R `quantile(x, c(0.25, 0.5, 0.75), type = 7)`.
///
/// Errors: empty `x` or a non-finite value (named column `x`).
pub fn quartiles(x: &[f64]) -> StatsResult<Quartiles> {
    check_sample("x", x)?;
    let mut sorted = x.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let q = |p: f64| quantile_type7(&sorted, p).ok_or_else(|| invalid("x", format!("quantile {p} is undefined")));
    Ok(Quartiles { n: x.len(), q1: q(0.25)?, median: q(0.5)?, q3: q(0.75)? })
}

// ---------------------------------------------------------------------------------------
// Fisher's exact test on k x 2 tables
// ---------------------------------------------------------------------------------------

/// Fisher's exact test on a k × 2 table (row i = category i, columns = the two groups), with
/// the default cap [`FISHER_MAX_TABLES`]; see [`fisher_exact_kx2_with_limit`].
pub fn fisher_exact_kx2(table: &[[u64; 2]]) -> StatsResult<Option<f64>> {
    fisher_exact_kx2_with_limit(table, FISHER_MAX_TABLES)
}

/// Fisher's exact test on a k × 2 table, two-sided p-value as R `fisher.test(table)`: the
/// sum of the hypergeometric probabilities of all tables with the observed margins that are
/// no more probable than the observed table.
///
/// Every such table is enumerated (row by row, the first-group counts bounded by the
/// margins) with log-probabilities Σ ln C(rᵢ, xᵢ) − ln C(N, c) from the crate's
/// full-precision log-gamma ([`super::proportions`]). "No more probable" uses R's
/// tolerances: for k = 2, p ≤ p_obs (1 + 1e-7) (R's 2 × 2 code, as
/// [`super::proportions::fisher_exact`]); for k ≥ 3, ln p ≤ ln p_obs + 3.45254e-7 (R's
/// FEXACT). Categories with no observations are allowed and change nothing; a group with
/// no observations gives p = 1 (a single table).
///
/// Returns `Ok(None)` (not computed) when more than `max_tables` tables have these margins,
/// or when that cannot be ruled out cheaply because the smaller group has more than 2²²
/// observations; the caller reports NA with that reason.
///
/// Errors: fewer than 2 rows, or no observations at all (named column `table`).
pub fn fisher_exact_kx2_with_limit(table: &[[u64; 2]], max_tables: u64) -> StatsResult<Option<f64>> {
    let k = table.len();
    if k < 2 {
        return Err(invalid("table", format!("Fisher's exact test needs at least 2 rows (categories), found {k}")));
    }
    let overflow = || invalid("table", "counts too large: the total overflows".into());
    let mut rows = Vec::with_capacity(k);
    let mut cols = [0u64; 2];
    for r in table {
        rows.push(r[0].checked_add(r[1]).ok_or_else(overflow)?);
        cols[0] = cols[0].checked_add(r[0]).ok_or_else(overflow)?;
        cols[1] = cols[1].checked_add(r[1]).ok_or_else(overflow)?;
    }
    let n = cols[0].checked_add(cols[1]).ok_or_else(overflow)?;
    if n == 0 {
        return Err(invalid("table", "Fisher's exact test needs at least one observation; the table is empty".into()));
    }
    // Enumerate the counts of the smaller group (same probabilities, fewer values).
    let j = if cols[0] <= cols[1] { 0 } else { 1 };
    let tot = cols[j];
    let observed: Vec<u64> = table.iter().map(|r| r[j]).collect();

    if !table_count_within(&rows, tot, max_tables) {
        return Ok(None);
    }

    // Suffix sums of the row totals: the rows after i can absorb at most suffix[i + 1].
    let mut suffix = vec![0u64; k + 1];
    for i in (0..k).rev() {
        suffix[i] = suffix[i + 1] + rows[i];
    }
    // ln C(rᵢ, x) for the feasible x of each row: lo_i ..= hi_i.
    let lcs: Vec<(u64, Vec<f64>)> = (0..k)
        .map(|i| {
            let lo = tot.saturating_sub(n - rows[i]);
            let hi = rows[i].min(tot);
            (lo, (lo..=hi).map(|x| ln_choose(rows[i], x)).collect())
        })
        .collect();
    let log_norm = ln_choose(n, tot);
    let lc = |i: usize, x: u64| lcs[i].1[(x - lcs[i].0) as usize];

    // Same order of operations as the enumeration, so the observed table's value is identical.
    let mut obs_partial = 0.0f64;
    for (i, &x) in observed.iter().enumerate() {
        obs_partial += lc(i, x);
    }
    let obs_lp = obs_partial - log_norm;
    let threshold = if k == 2 { obs_lp + FISHER_REL_ERR_2X2.ln_1p() } else { obs_lp + FISHER_LOG_TOL_FEXACT };

    let mut acc = FisherAcc { total: 0.0, extreme: 0.0 };
    let ctx = FisherCtx { rows: &rows, suffix: &suffix, lc: &lc, log_norm, threshold };
    enumerate(&ctx, 0, tot, 0.0, &mut acc);
    if acc.total.is_nan() || acc.total <= 0.0 {
        // Cannot happen for a valid table (the observed table is in the sum).
        return Err(invalid("table", "Fisher's exact test: total probability underflowed".into()));
    }
    Ok(Some((acc.extreme / acc.total).clamp(0.0, 1.0)))
}

struct FisherCtx<'a, F: Fn(usize, u64) -> f64> {
    rows: &'a [u64],
    suffix: &'a [u64],
    lc: &'a F,
    log_norm: f64,
    threshold: f64,
}

struct FisherAcc {
    total: f64,
    extreme: f64,
}

/// Tables with the first `i` rows fixed (log-weight `partial`) and `rem` left to place.
fn enumerate<F: Fn(usize, u64) -> f64>(ctx: &FisherCtx<'_, F>, i: usize, rem: u64, partial: f64, acc: &mut FisherAcc) {
    let k = ctx.rows.len();
    if i + 1 == k {
        // Last row takes the remainder (rem <= rows[i] by the bounds above).
        let lp = (partial + (ctx.lc)(i, rem)) - ctx.log_norm;
        let p = lp.exp();
        acc.total += p;
        if lp <= ctx.threshold {
            acc.extreme += p;
        }
        return;
    }
    let lo = rem.saturating_sub(ctx.suffix[i + 1]);
    let hi = ctx.rows[i].min(rem);
    for x in lo..=hi {
        enumerate(ctx, i + 1, rem - x, partial + (ctx.lc)(i, x), acc);
    }
}

/// Whether the number of k × 2 tables with row totals `rows` and `tot` in the enumerated
/// column is at most `limit`.
fn table_count_within(rows: &[u64], tot: u64, limit: u64) -> bool {
    // Cheap bound: all rows but the largest are free within [0, min(r, tot)].
    let largest = rows.iter().enumerate().max_by_key(|&(_, &r)| r).map(|(i, _)| i).unwrap_or(0);
    let mut bound: u128 = 1;
    for (i, &r) in rows.iter().enumerate() {
        if i != largest {
            bound = bound.saturating_mul(u128::from(r.min(tot)) + 1);
        }
    }
    if bound <= u128::from(limit) {
        return true;
    }
    if tot > FISHER_MAX_COUNT_WIDTH {
        return false;
    }
    // Exact count, saturated at cap = limit + 1: ways[s] = number of ways the rows so far
    // sum to s. Sums of capped values, capped again, give min(cap, true count).
    let cap = u128::from(limit) + 1;
    let width = tot as usize + 1;
    let mut ways = vec![0u128; width];
    let mut next = vec![0u128; width];
    ways[0] = 1;
    for &r in rows {
        let r = r.min(tot) as usize;
        let mut window: u128 = 0;
        for s in 0..width {
            window += ways[s];
            if s > r {
                window -= ways[s - r - 1];
            }
            next[s] = window.min(cap);
        }
        std::mem::swap(&mut ways, &mut next);
    }
    ways[width - 1] < cap
}

// ---------------------------------------------------------------------------------------
// Test for a categorical variable
// ---------------------------------------------------------------------------------------

/// Which test [`categorical_test`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoricalTestKind {
    /// Pearson chi-square test (R `chisq.test`, Yates' correction for 2 × 2 tables only).
    ChiSquare,
    /// Fisher's exact test (R `fisher.test`).
    Fisher,
}

impl CategoricalTestKind {
    /// Label for a table footnote.
    pub fn label(self) -> &'static str {
        match self {
            CategoricalTestKind::ChiSquare => "chi-square",
            CategoricalTestKind::Fisher => "Fisher's exact",
        }
    }
}

/// Outcome of [`categorical_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalTest {
    /// The test chosen; `None` when no test applies (fewer than 2 observed categories, or a
    /// group without observations).
    pub test: Option<CategoricalTestKind>,
    /// Two-sided p-value; `None` when not computed (see `reason`).
    pub p: Option<f64>,
    /// The chi-square test on the table without empty categories (also when Fisher's test was
    /// chosen: its `low_expected` is the reason); `None` when no test applies.
    pub chisq: Option<ChisqResult>,
    /// Why `p` is `None`.
    pub reason: Option<String>,
}

impl CategoricalTest {
    fn not_computed(test: Option<CategoricalTestKind>, chisq: Option<ChisqResult>, reason: String) -> Self {
        CategoricalTest { test, p: None, chisq, reason: Some(reason) }
    }
}

/// Test of association between a categorical variable and two groups on the k × 2 table
/// `table` (row = category, columns = groups): the Pearson chi-square test (R
/// `chisq.test(table)`, Yates' correction only for 2 × 2) unless some expected count is
/// below 5, then Fisher's exact test ([`fisher_exact_kx2`]).
///
/// Categories with no observations in either group are dropped first (R's `chisq.test`
/// would return NaN). The p-value is `None`, with the reason, when fewer than 2 categories
/// remain, when a group has no observations, or when Fisher's test exceeds
/// [`FISHER_MAX_TABLES`] tables.
pub fn categorical_test(table: &[[u64; 2]]) -> StatsResult<CategoricalTest> {
    let rows: Vec<[u64; 2]> = table.iter().copied().filter(|r| r[0] > 0 || r[1] > 0).collect();
    if rows.is_empty() {
        return Ok(CategoricalTest::not_computed(None, None, "no observations".into()));
    }
    for g in 0..2 {
        if rows.iter().all(|r| r[g] == 0) {
            return Ok(CategoricalTest::not_computed(None, None, format!("group {} has no observations", g + 1)));
        }
    }
    if rows.len() < 2 {
        return Ok(CategoricalTest::not_computed(None, None, "only one category observed".into()));
    }
    let as_vecs: Vec<Vec<u64>> = rows.iter().map(|r| r.to_vec()).collect();
    let chisq = chisq_test(&as_vecs)?;
    if !chisq.low_expected {
        return Ok(CategoricalTest {
            test: Some(CategoricalTestKind::ChiSquare),
            p: Some(chisq.p),
            chisq: Some(chisq),
            reason: None,
        });
    }
    match fisher_exact_kx2(&rows)? {
        Some(p) => Ok(CategoricalTest { test: Some(CategoricalTestKind::Fisher), p: Some(p), chisq: Some(chisq), reason: None }),
        None => Ok(CategoricalTest::not_computed(
            Some(CategoricalTestKind::Fisher),
            Some(chisq),
            format!("Fisher's exact test not computed: more than {FISHER_MAX_TABLES} tables with these margins"),
        )),
    }
}
