//! Fine–Gray subdistribution hazard regression, numerically as R `cmprsk::crr`
//! (cmprsk 2.2-11, `crr.R` and `crr.f`) with its defaults: one censoring group, no
//! time-varying covariates (`cov2`/`tf`), `gtol = 1e-6`, `maxiter = 10`, start at 0.
//!
//! What crr does, and this module reproduces:
//!
//! - **Censoring distribution.** Kaplan–Meier of the censoring times (`status ==
//!   cencode` is the "event", everything else is censored), as `survfit`
//!   computes it: times closer than sqrt(eps) merged first (survival's default
//!   `timefix = TRUE`). Each subject gets `G(t_i-)`, read off the step function
//!   with crr's `approx(..., xout = ftime * (1 - 100 eps), method = "constant",
//!   f = 0, rule = 2)` and its knots `min(0, times) - 10 eps` (value 1) and
//!   `max(times) * (1 + 10 eps)` (value 0). (So a subject at time 0 gets `G(0)`,
//!   not 1, as in crr.)
//! - **Risk sets.** At a distinct failure time `t` (status `failcode`) every
//!   subject with `t_i >= t` has weight 1, a subject who failed from a competing
//!   cause before `t` has weight `G(t-) / G(t_i-)`, others 0. Tied failures share
//!   one risk set (Breslow).
//! - **Fit.** Newton–Raphson on the log pseudo-likelihood from 0: stop when
//!   `max |score_k| * max(|b_k|, 1) < max(|loglik|, 1) * gtol`; otherwise a
//!   Newton step with Armijo backtracking (halve while
//!   `-loglik(new) > -loglik + 1e-4 * step·(-score)`, at most 20 halvings; more
//!   ends the fit as not converged), at most `maxiter` steps. Not converging is
//!   reported in [`CrrFit::converged`], not as an error (R's `converged = FALSE`).
//! - **Variance.** crr's sandwich `var = I⁻¹ V I⁻¹` (Fine & Gray 1999), where `V`
//!   sums `(eta_i + psi_i)(eta_i + psi_i)'` over subjects: `eta_i` is the
//!   subject's score residual and `psi_i` the term for the estimated censoring
//!   distribution (`crrvv` in crr.f). `se = sqrt(diag(var))`, `z = coef / se`.
//!
//! Computation: crr.f evaluates each risk set by a pass over all subjects (and
//! the variance with nested passes, `O(n²)` and more). Here every risk-set sum is
//! a prefix/suffix sum over the time-sorted data, so one likelihood, score and
//! information evaluation is `O(n p²)` and the variance is `O(n p²)` too, after one
//! `O(n log n)` sort. Covariates are centred internally (the pseudo-likelihood,
//! score and information are invariant under centring), which keeps `exp(x'b)`
//! and the second-moment sums well conditioned. The results equal crr's to
//! rounding; `tests/it/stats_crr.rs` checks them against R fixtures.
//!
//! Deliberate differences from R:
//! - a missing / non-finite time or covariate, a constant or collinear covariate,
//!   or no event of the failure code are errors (R drops NA rows with `na.omit`,
//!   and fails or returns nonsense for the others); a singular information matrix
//!   during the fit is a [`StatsError::Singular`] naming the covariate (R: error
//!   from `solve`);
//! - `p` is `2 * pnorm(-|z|)`, accurate in the far tail; R prints
//!   `2 * (1 - pnorm(|z|))`, the same up to ~1e-16 absolute (0 for |z| > 8.3);
//! - crr.f divides by the integer `icrsk**2` (number at risk squared) in 32-bit
//!   integer arithmetic, which overflows once more than 46340 subjects are at
//!   risk at a censoring time; this module uses floating point throughout.

use crate::stats::cox::linalg::{chinv2, cholesky2, chsolve2};
use crate::stats::cox::timefix::aeq_times;
use crate::stats::dist::{qnorm, two_sided_p};
use crate::stats::error::{check_len, check_times, StatsError, StatsResult};

/// Control of the Newton–Raphson iterations (R `crr(gtol, maxiter)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrrOptions {
    /// Convergence tolerance on the scaled score, `gtol` (default `1e-6`).
    pub gtol: f64,
    /// Maximum number of Newton steps, `maxiter` (default 10). With 0 the fit stays
    /// at the start (0) and only the variance is computed there.
    pub max_iter: usize,
}

impl Default for CrrOptions {
    fn default() -> Self {
        CrrOptions { gtol: 1e-6, max_iter: 10 }
    }
}

/// A fitted Fine–Gray model, as `cmprsk::crr` returns it (plus the counts).
#[derive(Debug, Clone, PartialEq)]
pub struct CrrFit {
    /// Covariate names, in the order given.
    pub names: Vec<String>,
    /// Coefficients (log subdistribution hazard ratios), crr's `coef`.
    pub coef: Vec<f64>,
    /// Standard errors, `sqrt(diag(var))`.
    pub se: Vec<f64>,
    /// Wald statistics `coef / se`.
    pub z: Vec<f64>,
    /// Two-sided p-values `2 * pnorm(-|z|)`.
    pub p: Vec<f64>,
    /// Sandwich ("robust") variance matrix, crr's `var` (`p × p`, rows).
    pub var: Vec<Vec<f64>>,
    /// Inverse of the information matrix, crr's `invinf` (the naive variance).
    pub invinf: Vec<Vec<f64>>,
    /// Log pseudo-likelihood at the estimate, crr's `loglik`.
    pub loglik: f64,
    /// Log pseudo-likelihood at `coef = 0`, crr's `loglik.null`.
    pub loglik_null: f64,
    /// Newton steps taken (0 when the start already met the criterion).
    pub iterations: usize,
    /// Whether the convergence criterion was met within `max_iter` steps, crr's `converged`.
    pub converged: bool,
    /// Number of subjects.
    pub n: usize,
    /// Number of events of the failure code.
    pub n_events: usize,
    /// Number of events of any other (competing) code.
    pub n_competing: usize,
    /// Number of censored subjects (`cencode`).
    pub n_censored: usize,
    /// Status code of the event of interest.
    pub failcode: u32,
    /// Status code of censoring.
    pub cencode: u32,
}

/// `exp(coef)` with its confidence interval, one row of `summary.crr`'s `conf.int`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShrCi {
    /// Subdistribution hazard ratio `exp(coef)`.
    pub shr: f64,
    /// Lower limit `exp(coef + qnorm((1 - level) / 2) * se)`.
    pub lower: f64,
    /// Upper limit `exp(coef + qnorm(1 - (1 - level) / 2) * se)`.
    pub upper: f64,
}

impl CrrFit {
    /// Subdistribution hazard ratios `exp(coef)`.
    pub fn exp_coef(&self) -> Vec<f64> {
        self.coef.iter().map(|b| b.exp()).collect()
    }

    /// `exp(coef)` and its Wald interval at `level` (e.g. 0.95), as `summary.crr`
    /// (`exp(coef + qnorm(c(a, 1 - a)) * se)`, `a = (1 - level) / 2`).
    /// Errors: `level` outside (0, 1).
    pub fn exp_coef_ci(&self, level: f64) -> StatsResult<Vec<ShrCi>> {
        if !(level > 0.0 && level < 1.0) {
            return Err(StatsError::InvalidInput {
                column: "level".into(),
                message: format!("confidence level must be in (0, 1), found {level}"),
            });
        }
        let a = (1.0 - level) / 2.0;
        let (zl, zu) = (qnorm(a), qnorm(1.0 - a));
        Ok(self
            .coef
            .iter()
            .zip(&self.se)
            .map(|(&b, &se)| ShrCi { shr: b.exp(), lower: (b + zl * se).exp(), upper: (b + zu * se).exp() })
            .collect())
    }

    /// Pseudo likelihood ratio statistic `-2 (loglik_null - loglik)` (`summary.crr`'s
    /// `logtest`, on `p` df). Not a valid chi-square test under IPCW weighting;
    /// reported as R reports it.
    pub fn logtest(&self) -> f64 {
        -2.0 * (self.loglik_null - self.loglik)
    }
}

/// Fit a Fine–Gray model with crr's defaults (see [`crr_with_options`]).
pub fn crr(time: &[f64], status: &[u32], cov: &[Vec<f64>], names: &[String], failcode: u32, cencode: u32) -> StatsResult<CrrFit> {
    crr_with_options(time, status, cov, names, failcode, cencode, &CrrOptions::default())
}

/// Fit a Fine–Gray subdistribution hazard model, as
/// `cmprsk::crr(time, status, cov1, failcode = failcode, cencode = cencode, gtol, maxiter)`.
///
/// - `time`: follow-up times (finite, ≥ 0); `status`: `failcode` = event of
///   interest, `cencode` = censored, any other code = a competing event.
/// - `cov`: covariate columns, each of length `n` (e.g. the columns of a
///   [`crate::stats::design::Design`]); `names` names them.
///
/// Errors ([`StatsError`]): length mismatches, non-finite or negative times,
/// non-finite covariates, `failcode == cencode`, no event of `failcode`, no
/// covariate → `InvalidInput`; no rows → `Empty`; a constant covariate, one that
/// is a linear combination of the others, or a singular information matrix →
/// `Singular` naming the column; a non-finite likelihood at an accepted step →
/// `NotConverged`. Running out of iterations is *not* an error: see
/// [`CrrFit::converged`].
pub fn crr_with_options(
    time: &[f64],
    status: &[u32],
    cov: &[Vec<f64>],
    names: &[String],
    failcode: u32,
    cencode: u32,
    opts: &CrrOptions,
) -> StatsResult<CrrFit> {
    let n = time.len();
    check_len("status", status.len(), n)?;
    check_len("names", names.len(), cov.len())?;
    if cov.is_empty() {
        return Err(invalid("covariates", "crr needs at least one covariate".into()));
    }
    for (name, col) in names.iter().zip(cov) {
        check_len(name, col.len(), n)?;
    }
    if n == 0 {
        return Err(StatsError::Empty("crr: no observations".into()));
    }
    if !(opts.gtol > 0.0 && opts.gtol.is_finite()) {
        return Err(invalid("gtol", format!("must be a positive number, found {}", opts.gtol)));
    }
    if failcode == cencode {
        return Err(invalid("failcode", format!("failcode and cencode are both {failcode}")));
    }
    check_times("time", time)?;
    for (name, col) in names.iter().zip(cov) {
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            return Err(invalid(name, format!("row {}: covariate must be finite, found {}", i + 1, col[i])));
        }
    }
    let n_events = status.iter().filter(|&&s| s == failcode).count();
    let n_censored = status.iter().filter(|&&s| s == cencode).count();
    let n_competing = n - n_events - n_censored;
    if n_events == 0 {
        return Err(invalid(
            "status",
            format!(
                "no event with failcode {failcode} among the {n} rows ({n_censored} censored with code {cencode}, \
                 {n_competing} competing events): the model cannot be fitted"
            ),
        ));
    }
    check_collinear(names, cov)?;

    let data = CrrInput::new(time, status, cov, failcode, cencode)?;
    let p = data.p;

    // Newton-Raphson as crr.R: for (ll in 0:maxiter) { evaluate; test; step }
    let mut b = vec![0.0; p];
    let mut cur;
    let mut ll = 0usize;
    let (iterations, converged) = loop {
        cur = data.eval_full(&b);
        if !cur.lik.is_finite() || cur.score.iter().any(|s| !s.is_finite()) {
            return Err(StatsError::NotConverged {
                iterations: ll,
                message: format!("the pseudo-likelihood is not finite at coefficients {b:?}"),
            });
        }
        let lhs = cur.score.iter().zip(&b).map(|(s, bk)| s.abs() * bk.abs().max(1.0)).fold(0.0, f64::max);
        if lhs < cur.lik.abs().max(1.0) * opts.gtol {
            break (ll, true);
        }
        if ll == opts.max_iter {
            break (ll, false);
        }
        let mut sc = solve_pd(&cur.info, &cur.score, p, names)?;
        sc.iter_mut().for_each(|v| *v = -*v);
        let slope: f64 = sc.iter().zip(&cur.score).map(|(a, s)| a * s).sum();
        let mut bn: Vec<f64> = b.iter().zip(&sc).map(|(x, y)| x + y).collect();
        let mut fbn = data.neg_loglik(&bn);
        // backtracking (Armijo), at most 20 halvings as crr.R
        let mut halvings = 0;
        while fbn.is_nan() || fbn > cur.lik + 1e-4 * slope {
            halvings += 1;
            sc.iter_mut().for_each(|v| *v *= 0.5);
            bn = b.iter().zip(&sc).map(|(x, y)| x + y).collect();
            fbn = data.neg_loglik(&bn);
            if halvings > 20 {
                break;
            }
        }
        if halvings > 20 {
            break (ll, false);
        }
        b = bn;
        ll += 1;
    };

    let (info, meat) = data.sandwich(&b);
    let mut chol = info.clone();
    let rank = cholesky2(&mut chol, p, TOLER_CHOL);
    if rank != p as i64 {
        return Err(singular_at(&chol, p, names));
    }
    let inv = chinv2(&chol, p);
    // var = inv %*% meat %*% inv
    let mut tmp = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            tmp[i * p + j] = (0..p).map(|k| inv[i * p + k] * meat[k * p + j]).sum();
        }
    }
    let mut var = vec![vec![0.0; p]; p];
    for i in 0..p {
        for j in 0..p {
            var[i][j] = (0..p).map(|k| tmp[i * p + k] * inv[k * p + j]).sum();
        }
    }
    let se: Vec<f64> = (0..p).map(|k| var[k][k].sqrt()).collect();
    let z: Vec<f64> = b.iter().zip(&se).map(|(b, s)| b / s).collect();
    let pv: Vec<f64> = z.iter().map(|&z| two_sided_p(z)).collect();
    let loglik_null = -data.neg_loglik(&vec![0.0; p]);

    Ok(CrrFit {
        names: names.to_vec(),
        coef: b,
        se,
        z,
        p: pv,
        var,
        invinf: (0..p).map(|i| inv[i * p..(i + 1) * p].to_vec()).collect(),
        loglik: -cur.lik,
        loglik_null,
        iterations,
        converged,
        n,
        n_events,
        n_competing,
        n_censored,
        failcode,
        cencode,
    })
}

/// Pivot tolerance of the Cholesky factorisations (survival's `toler.chol`, eps^0.75).
const TOLER_CHOL: f64 = 1.818_989_403_545_856e-12;

/// Relative residual sum of squares below which a covariate counts as a linear
/// combination of the others (and the baseline), as in [`crate::stats::design`].
const COLLINEAR_TOL: f64 = 1e-10;

fn invalid(column: &str, message: String) -> StatsError {
    StatsError::InvalidInput { column: column.to_string(), message }
}

/// Gram–Schmidt (twice) on the centred columns: a column keeping less than
/// `COLLINEAR_TOL` of its centred sum of squares is constant or collinear.
fn check_collinear(names: &[String], cov: &[Vec<f64>]) -> StatsResult<()> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for (j, c) in cov.iter().enumerate() {
        if c.iter().all(|&v| v == c[0]) {
            return Err(StatsError::Singular {
                term: names[j].clone(),
                message: format!("the covariate is constant ({} in all {} rows)", c[0], c.len()),
            });
        }
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
            return Err(StatsError::Singular {
                term: names[j].clone(),
                message: format!("the column is a linear combination of the baseline and {}", names[..j].join(", ")),
            });
        }
        let norm = ss.sqrt();
        basis.push(v.into_iter().map(|x| x / norm).collect());
    }
    Ok(())
}

/// The error for a rank-deficient information matrix: names the first column
/// whose pivot was dropped.
fn singular_at(chol: &[f64], p: usize, names: &[String]) -> StatsError {
    let k = (0..p).find(|&k| chol[k * p + k] == 0.0).unwrap_or(0);
    StatsError::Singular {
        term: names[k].clone(),
        message: "the information matrix is singular: the covariate does not vary within the risk sets of the \
                  events (or is collinear with the others there)"
            .into(),
    }
}

/// Solve `info · x = rhs` for a positive definite `info` (row-major `p × p`).
fn solve_pd(info: &[f64], rhs: &[f64], p: usize, names: &[String]) -> StatsResult<Vec<f64>> {
    let mut chol = info.to_vec();
    let rank = cholesky2(&mut chol, p, TOLER_CHOL);
    if rank != p as i64 {
        return Err(singular_at(&chol, p, names));
    }
    let mut x = rhs.to_vec();
    chsolve2(&chol, p, &mut x);
    Ok(x)
}

/// Subject type as crr.f codes it (`ici`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Censored,
    Failure,
    Competing,
}

/// A block of tied failure times: rows `first..end` of the sorted data share the
/// time, `d` of them are failures.
#[derive(Debug, Clone, Copy)]
struct FailBlock {
    first: usize,
    d: f64,
}

/// Sorted, centred data with the censoring weights.
struct CrrInput {
    n: usize,
    p: usize,
    kind: Vec<Kind>,
    /// Row-major `n × p` centred covariates, rows in time order.
    x: Vec<f64>,
    /// `G(t_i-)` per sorted row.
    g: Vec<f64>,
    /// Distinct failure times, ascending.
    blocks: Vec<FailBlock>,
    /// Distinct times of all rows, as `(first, end)` row ranges, ascending.
    time_blocks: Vec<(usize, usize)>,
    /// Sum of `x_i` over the failures.
    xfail: Vec<f64>,
}

/// Likelihood, score and information at one coefficient vector (as crr.f's
/// `crrfsv`: signs for minimisation, i.e. `lik = -loglik`, `score = -dloglik`).
struct Eval {
    lik: f64,
    score: Vec<f64>,
    /// Row-major `p × p` information (negative Hessian of the log pseudo-likelihood).
    info: Vec<f64>,
}

impl CrrInput {
    fn new(time: &[f64], status: &[u32], cov: &[Vec<f64>], failcode: u32, cencode: u32) -> StatsResult<CrrInput> {
        let n = time.len();
        let p = cov.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| time[a].total_cmp(&time[b])); // stable, as R's order()
        let t: Vec<f64> = order.iter().map(|&i| time[i]).collect();
        let kind: Vec<Kind> = order
            .iter()
            .map(|&i| {
                if status[i] == failcode {
                    Kind::Failure
                } else if status[i] == cencode {
                    Kind::Censored
                } else {
                    Kind::Competing
                }
            })
            .collect();
        let means: Vec<f64> = cov.iter().map(|c| c.iter().sum::<f64>() / n as f64).collect();
        let mut x = vec![0.0; n * p];
        for (r, &i) in order.iter().enumerate() {
            for k in 0..p {
                x[r * p + k] = cov[k][i] - means[k];
            }
        }
        let g = censoring_weights(&t, &kind)?;

        let mut blocks = Vec::new();
        let mut time_blocks = Vec::new();
        let mut xfail = vec![0.0; p];
        let mut i = 0;
        while i < n {
            let mut j = i;
            let mut d = 0usize;
            while j < n && t[j] == t[i] {
                if kind[j] == Kind::Failure {
                    d += 1;
                    for k in 0..p {
                        xfail[k] += x[j * p + k];
                    }
                }
                j += 1;
            }
            if d > 0 {
                blocks.push(FailBlock { first: i, d: d as f64 });
            }
            time_blocks.push((i, j));
            i = j;
        }
        for (i, gi) in g.iter().enumerate() {
            if kind[i] == Kind::Competing && !(*gi > 0.0 && gi.is_finite()) {
                return Err(invalid("time", format!("censoring survival G(t-) is {gi} at a competing event (time {})", t[i])));
            }
        }
        Ok(CrrInput { n, p, kind, x, g, blocks, time_blocks, xfail })
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.p..(i + 1) * self.p]
    }

    /// `exp(x_i' b)` per sorted row.
    fn risk(&self, b: &[f64]) -> Vec<f64> {
        (0..self.n).map(|i| self.row(i).iter().zip(b).map(|(x, b)| x * b).sum::<f64>().exp()).collect()
    }

    /// Weighted risk-set sums `S0` at each failure block (crr.f's `crrf`).
    fn s0(&self, e: &[f64]) -> Vec<f64> {
        let nb = self.blocks.len();
        let mut suf = vec![0.0; nb];
        let mut acc = 0.0;
        let mut i = self.n;
        for k in (0..nb).rev() {
            while i > self.blocks[k].first {
                i -= 1;
                acc += e[i];
            }
            suf[k] = acc;
        }
        let mut acc = 0.0;
        let mut i = 0;
        let mut out = vec![0.0; nb];
        for (k, blk) in self.blocks.iter().enumerate() {
            while i < blk.first {
                if self.kind[i] == Kind::Competing {
                    acc += e[i] / self.g[i];
                }
                i += 1;
            }
            out[k] = suf[k] + self.g[blk.first] * acc;
        }
        out
    }

    /// `-loglik` at `b` (crr.f's `crrf`).
    fn neg_loglik(&self, b: &[f64]) -> f64 {
        let e = self.risk(b);
        let s0 = self.s0(&e);
        let xb: f64 = self.xfail.iter().zip(b).map(|(x, b)| x * b).sum();
        -xb + self.blocks.iter().zip(&s0).map(|(blk, s)| blk.d * s.ln()).sum::<f64>()
    }

    /// Risk-set sums `S0`, `S1` (`p`) and `S2` (`p × p`, upper triangle) per failure block.
    fn moments(&self, e: &[f64], second: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, p) = (self.n, self.p);
        let nb = self.blocks.len();
        let pp = if second { p * p } else { 0 };
        let mut s0 = vec![0.0; nb];
        let mut s1 = vec![0.0; nb * p];
        let mut s2 = vec![0.0; nb * pp];
        // suffix sums over t_i >= t
        let (mut a0, mut a1, mut a2) = (0.0, vec![0.0; p], vec![0.0; pp]);
        let mut i = n;
        for k in (0..nb).rev() {
            while i > self.blocks[k].first {
                i -= 1;
                add_moments(e[i], self.row(i), &mut a0, &mut a1, &mut a2, second);
            }
            s0[k] = a0;
            s1[k * p..(k + 1) * p].copy_from_slice(&a1);
            s2[k * pp..(k + 1) * pp].copy_from_slice(&a2);
        }
        // plus G(t-) times prefix sums over competing events before t
        let (mut c0, mut c1, mut c2) = (0.0, vec![0.0; p], vec![0.0; pp]);
        let mut i = 0;
        for (k, blk) in self.blocks.iter().enumerate() {
            while i < blk.first {
                if self.kind[i] == Kind::Competing {
                    add_moments(e[i] / self.g[i], self.row(i), &mut c0, &mut c1, &mut c2, second);
                }
                i += 1;
            }
            let gk = self.g[blk.first];
            s0[k] += gk * c0;
            for j in 0..p {
                s1[k * p + j] += gk * c1[j];
            }
            for j in 0..pp {
                s2[k * pp + j] += gk * c2[j];
            }
        }
        (s0, s1, s2)
    }

    /// Information `sum_k d_k (S2/S0 - xbar xbar')` (row-major, full).
    fn information(&self, s0: &[f64], s1: &[f64], s2: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut info = vec![0.0; p * p];
        for (k, blk) in self.blocks.iter().enumerate() {
            let xbar: Vec<f64> = (0..p).map(|j| s1[k * p + j] / s0[k]).collect();
            for a in 0..p {
                for c in a..p {
                    info[a * p + c] += blk.d * (s2[k * p * p + a * p + c] / s0[k] - xbar[a] * xbar[c]);
                }
            }
        }
        for a in 0..p {
            for c in 0..a {
                info[a * p + c] = info[c * p + a];
            }
        }
        info
    }

    /// `-loglik`, `-score` and information at `b` (crr.f's `crrfsv`).
    fn eval_full(&self, b: &[f64]) -> Eval {
        let p = self.p;
        let e = self.risk(b);
        let (s0, s1, s2) = self.moments(&e, true);
        let xb: f64 = self.xfail.iter().zip(b).map(|(x, b)| x * b).sum();
        let mut lik = -xb;
        let mut score: Vec<f64> = self.xfail.iter().map(|x| -x).collect();
        for (k, blk) in self.blocks.iter().enumerate() {
            lik += blk.d * s0[k].ln();
            for j in 0..p {
                score[j] += blk.d * s1[k * p + j] / s0[k];
            }
        }
        let info = self.information(&s0, &s1, &s2);
        Eval { lik, score, info }
    }

    /// Information and the middle of crr's sandwich, `sum_i u_i u_i'` with
    /// `u_i = eta_i + psi_i` (crr.f's `crrvv`), at `b`.
    fn sandwich(&self, b: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (n, p) = (self.n, self.p);
        let nb = self.blocks.len();
        let e = self.risk(b);
        let (s0, s1, s2) = self.moments(&e, true);
        let info = self.information(&s0, &s1, &s2);
        let xbar: Vec<f64> = (0..nb * p).map(|kj| s1[kj] / s0[kj / p]).collect();

        // over failures j with t_j <= t: A = sum d/S0, B = sum d xbar/S0 (prefix over blocks);
        // over failures with t_j >= t (suffix): C = sum d G(t_j-)/S0, D = sum d G xbar/S0.
        let mut a_pre = vec![0.0; nb + 1];
        let mut b_pre = vec![0.0; (nb + 1) * p];
        for k in 0..nb {
            let w = self.blocks[k].d / s0[k];
            a_pre[k + 1] = a_pre[k] + w;
            for j in 0..p {
                b_pre[(k + 1) * p + j] = b_pre[k * p + j] + w * xbar[k * p + j];
            }
        }
        let mut c_suf = vec![0.0; nb + 1];
        let mut d_suf = vec![0.0; (nb + 1) * p];
        for k in (0..nb).rev() {
            let w = self.blocks[k].d * self.g[self.blocks[k].first] / s0[k];
            c_suf[k] = c_suf[k + 1] + w;
            for j in 0..p {
                d_suf[k * p + j] = d_suf[(k + 1) * p + j] + w * xbar[k * p + j];
            }
        }

        let mut meat = vec![0.0; p * p];
        let mut u = vec![0.0; p];
        // psi: cumulative censoring-martingale term ss2, and prefix sums over
        // competing events before the current time (P0, P1)
        let mut ss2 = vec![0.0; p];
        let mut q = vec![0.0; p];
        let (mut p0, mut p1) = (0.0, vec![0.0; p]);
        let mut kb = 0; // failure blocks with first < current block start
        for &(lc, end) in &self.time_blocks {
            while kb < nb && self.blocks[kb].first < lc {
                kb += 1;
            }
            // blocks with first <= i for every i in this time block: those before kb,
            // plus the failure block at this time, if any
            let kk = if kb < nb && self.blocks[kb].first == lc { kb + 1 } else { kb };
            let y = (n - lc) as f64;
            let dc = (lc..end).filter(|&i| self.kind[i] == Kind::Censored).count();
            if dc > 0 {
                // q(t) = sum_{failures t_j >= t} G(t_j-)/S0_j * sum_{competing t_l < t} e_l (x_l - xbar_j) / G(t_l-)
                for j in 0..p {
                    q[j] = p1[j] * c_suf[kb] - p0 * d_suf[kb * p + j];
                    ss2[j] -= dc as f64 * q[j] / (y * y);
                }
            }
            for (i, &ei) in e.iter().enumerate().take(end).skip(lc) {
                let xi = self.row(i);
                for j in 0..p {
                    let mut v = -ei * (xi[j] * a_pre[kk] - b_pre[kk * p + j]);
                    match self.kind[i] {
                        Kind::Failure => v += xi[j] - xbar[(kk - 1) * p + j],
                        Kind::Competing => {
                            v -= ei / self.g[i] * (xi[j] * c_suf[kk] - d_suf[kk * p + j]);
                        }
                        Kind::Censored => v += q[j] / y,
                    }
                    u[j] = v + ss2[j];
                }
                for a in 0..p {
                    for c in a..p {
                        meat[a * p + c] += u[a] * u[c];
                    }
                }
            }
            for (i, &ei) in e.iter().enumerate().take(end).skip(lc) {
                if self.kind[i] == Kind::Competing {
                    let w = ei / self.g[i];
                    p0 += w;
                    for (acc, xij) in p1.iter_mut().zip(self.row(i)) {
                        *acc += w * xij;
                    }
                }
            }
        }
        for a in 0..p {
            for c in 0..a {
                meat[a * p + c] = meat[c * p + a];
            }
        }
        (info, meat)
    }
}

/// Add `w`, `w x` and `w x x'` (upper triangle) to running sums.
fn add_moments(w: f64, x: &[f64], a0: &mut f64, a1: &mut [f64], a2: &mut [f64], second: bool) {
    let p = x.len();
    *a0 += w;
    for j in 0..p {
        a1[j] += w * x[j];
    }
    if second {
        for a in 0..p {
            let wa = w * x[a];
            for c in a..p {
                a2[a * p + c] += wa * x[c];
            }
        }
    }
}

/// crr's censoring weights `G(t_i-)` for time-sorted rows: Kaplan–Meier of the
/// censoring times after survival's `timefix`, evaluated as crr's
/// `approx(knots, c(1, surv, 0), xout = t * (1 - 100 eps), method = "constant", f = 0, rule = 2)`.
fn censoring_weights(t: &[f64], kind: &[Kind]) -> StatsResult<Vec<f64>> {
    let n = t.len();
    let (_, adj) = aeq_times(None, t)?;
    // timefix maps times monotonically, so `adj` is sorted too
    let mut knots = Vec::new();
    let mut surv = Vec::new();
    let mut km = 1.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        let mut d = 0usize;
        while j < n && adj[j] == adj[i] {
            if kind[j] == Kind::Censored {
                d += 1;
            }
            j += 1;
        }
        let nrisk = (n - i) as f64;
        km *= (nrisk - d as f64) / nrisk;
        knots.push(adj[i]);
        surv.push(km);
        i = j;
    }
    let eps = f64::EPSILON;
    let first = knots[0].min(0.0) - 10.0 * eps;
    let last = knots[knots.len() - 1] * (1.0 + 10.0 * eps);
    let mut x = Vec::with_capacity(knots.len() + 2);
    x.push(first);
    x.extend_from_slice(&knots);
    x.push(last);
    let mut y = Vec::with_capacity(surv.len() + 2);
    y.push(1.0);
    y.extend_from_slice(&surv);
    y.push(0.0);
    let shrink = 1.0 - 100.0 * eps;
    Ok(t.iter().map(|&ti| approx_constant_left(&x, &y, ti * shrink)).collect())
}

/// R's `approx(x, y, xout = v, method = "constant", f = 0, rule = 2)` for strictly
/// increasing `x`: `y` at the last knot `<= v` (`y[0]` below the first knot).
fn approx_constant_left(x: &[f64], y: &[f64], v: f64) -> f64 {
    let k = x.partition_point(|&xk| xk <= v);
    if k == 0 {
        y[0]
    } else {
        y[k - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_reads_the_left_step() {
        let x = [0.0, 1.0, 2.0];
        let y = [1.0, 0.5, 0.25];
        assert_eq!(approx_constant_left(&x, &y, -1.0), 1.0);
        assert_eq!(approx_constant_left(&x, &y, 0.999), 1.0);
        assert_eq!(approx_constant_left(&x, &y, 1.0), 0.5);
        assert_eq!(approx_constant_left(&x, &y, 5.0), 0.25);
    }

    #[test]
    fn weights_are_left_limits_of_censoring_km() {
        // times 1 (cens), 2 (fail), 2 (cens), 3 (competing)
        let t = [1.0, 2.0, 2.0, 3.0];
        let kind = [Kind::Censored, Kind::Failure, Kind::Censored, Kind::Competing];
        let g = censoring_weights(&t, &kind).unwrap();
        // G(1-) = 1, G(2-) = 3/4 (1 of 4 censored at 1), G(3-) = 3/4 * 2/3 (1 of 3 at 2)
        assert_eq!(g, vec![1.0, 0.75, 0.75, 0.5]);
    }
}
