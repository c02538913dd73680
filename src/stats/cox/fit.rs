//! Newton–Raphson fit of the Cox partial likelihood, following survival's
//! `coxfit6.c` (right-censored) and `agfit4.c` (counting process) step by step:
//! start at beta = 0, centre and scale covariates (except those with values in
//! {-1, 0, 1}), stop when `|1 - loglik_old / loglik_new| <= eps`, halve the step
//! when the log-likelihood decreases, Efron or Breslow ties.
//!
//! The data are sorted once (by stratum, then stop time descending). One pass
//! over the rows per iteration accumulates the risk-set sums, adding rows at
//! their stop time and (for `(start, stop]` data) removing them once the sweep
//! passes their start time: O(n p²) per iteration.

use super::linalg::{chinv2, cholesky2, chsolve2};
use super::Ties;
use crate::stats::error::{StatsError, StatsResult};
use rayon::slice::ParallelSliceMut;

/// A `u64` whose unsigned order is the numeric order of the (non-NaN) `f64`.
pub(crate) fn sort_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The `f64` of a [`sort_key`].
pub(crate) fn from_sort_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Tied stop times of one stratum: rows `lo..hi` (sorted positions), `ndead` events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeGroup {
    /// The stop time.
    pub time: f64,
    pub lo: usize,
    pub hi: usize,
    pub ndead: usize,
}

/// The data in fitting order, covariates centred and scaled.
#[derive(Debug, Clone)]
pub(crate) struct CoxInput {
    pub n: usize,
    pub p: usize,
    /// Sorted position -> original row (`n < 2^32`: checked by the caller).
    pub orig: Vec<u32>,
    /// Start times in sorted order (`None` for right-censored data).
    pub start: Option<Vec<f64>>,
    /// Event indicator in sorted order.
    pub event: Vec<bool>,
    /// Covariates as given, row-major, in sorted order (see `centred`).
    pub x: Vec<f64>,
    /// Scale factor applied to each column (after centring).
    pub scale: Vec<f64>,
    /// Centre subtracted from each column (0 for columns with values in {-1, 0, 1}).
    pub center: Vec<f64>,
    /// Per stratum: sorted-position range.
    pub strata: Vec<(usize, usize)>,
    /// Per stratum: groups of tied stop times, in sweep order (descending time).
    pub groups: Vec<Vec<TimeGroup>>,
    /// Counting process only: sorted positions ordered by stratum, then start descending.
    pub start_order: Vec<usize>,
}

impl CoxInput {
    /// Build the fitting layout. `strata` codes may be arbitrary; rows are grouped by code.
    #[cfg(test)]
    pub fn new(
        start: Option<&[f64]>,
        stop: &[f64],
        event: &[bool],
        x: &ndarray::Array2<f64>,
        strata: Option<&[usize]>,
    ) -> CoxInput {
        match CoxInput::from_rows(start, stop, event, x.iter().copied().collect(), x.ncols(), strata, false) {
            Ok(d) => d,
            Err(_) => unreachable!("only the timefix check declines"),
        }
    }

    /// As `new`, from the covariates as a row-major `n × p` vector, whose rows are put
    /// into the fitting order in place (no second copy of the covariates).
    ///
    /// With `check_timefix` (right-censored data in one stratum, times not yet passed
    /// through [`super::timefix::aeq_times`]), the distinct times are taken from the sort
    /// itself, and when R's timefix would merge any of them the covariates are handed back
    /// untouched (`Err`) for the caller to merge the times and start again; otherwise the
    /// times are those timefix would give, and no second sort of them is needed.
    pub fn from_rows(
        start: Option<&[f64]>,
        stop: &[f64],
        event: &[bool],
        mut xs: Vec<f64>,
        p: usize,
        strata: Option<&[usize]>,
        check_timefix: bool,
    ) -> Result<CoxInput, Vec<f64>> {
        let n = stop.len();
        let code = |i: usize| strata.map_or(0, |s| s[i]);
        // stratum ascending, stop descending, censored before events (the order
        // within tied times has no effect on the results); sorting packed keys
        // keeps the memory access sequential
        let order: Vec<u32> = match strata {
            // one stratum: the same order from 16-byte packed keys (half the bytes to sort)
            None => {
                let mut keys: Vec<u128> =
                    (0..n).map(|i| (u128::from(!sort_key(stop[i])) << 64) | (u128::from(event[i]) << 63) | i as u128).collect();
                keys.par_sort_unstable();
                keys.into_iter().map(|k| (k as u64 & !(1 << 63)) as u32).collect()
            }
            _ => {
                let mut keys: Vec<(usize, u64, bool, usize)> =
                    (0..n).map(|i| (code(i), !sort_key(stop[i]), event[i], i)).collect();
                keys.par_sort_unstable();
                keys.into_iter().map(|k| k.3 as u32).collect()
            }
        };
        if check_timefix && start.is_none() && strata.is_none() {
            // the distinct times ascending: the sorted order backwards (equal keys = equal bits)
            let mut y: Vec<f64> = Vec::new();
            for &i in order.iter().rev() {
                let v = stop[i as usize];
                if v.is_finite() && y.last() != Some(&v) {
                    y.push(v);
                }
            }
            if super::timefix::merges_any(&y) {
                return Err(xs);
            }
        }
        let s_stop = |k: usize| stop[order[k] as usize];
        let s_event: Vec<bool> = order.iter().map(|&i| event[i as usize]).collect();
        let s_start: Option<Vec<f64>> = start.map(|st| order.iter().map(|&i| st[i as usize]).collect());
        permute_rows(&mut xs, p, &order);

        // centring and scaling as coxfit6/agfit4 (weights all 1); columns with
        // values only in {-1, 0, 1} are left alone (R's nocenter default). The
        // covariates keep their values; `centred` applies centre and scale.
        let mut center = vec![0.0; p];
        let mut scale = vec![1.0; p];
        // column means and the {-1, 0, 1} check in one row-wise pass
        let mut zero_one = vec![true; p];
        let mut sums = vec![0.0; p];
        for row in xs.chunks_exact(p.max(1)).take(n) {
            for j in 0..p {
                let v = row[j];
                sums[j] += v;
                zero_one[j] &= v == 0.0 || v == 1.0 || v == -1.0;
            }
        }
        for j in 0..p {
            if !zero_one[j] {
                center[j] = sums[j] / n as f64;
            }
        }
        let mut abs_sums = vec![0.0; p];
        for row in xs.chunks_exact(p.max(1)).take(n) {
            for j in 0..p {
                if !zero_one[j] {
                    abs_sums[j] += (row[j] - center[j]).abs();
                }
            }
        }
        for j in 0..p {
            if !zero_one[j] && abs_sums[j] > 0.0 {
                scale[j] = n as f64 / abs_sums[j];
            }
        }

        // strata ranges and tied-time groups
        let mut strata_ranges = Vec::new();
        let mut groups = Vec::new();
        let mut lo = 0;
        while lo < n {
            let c = code(order[lo] as usize);
            let mut hi = lo;
            while hi < n && code(order[hi] as usize) == c {
                hi += 1;
            }
            strata_ranges.push((lo, hi));
            let mut g = Vec::new();
            let mut k = lo;
            while k < hi {
                let t = s_stop(k);
                let mut e = k;
                let mut nd = 0;
                while e < hi && s_stop(e) == t {
                    nd += s_event[e] as usize;
                    e += 1;
                }
                g.push(TimeGroup { time: t, lo: k, hi: e, ndead: nd });
                k = e;
            }
            groups.push(g);
            lo = hi;
        }

        let mut start_order = Vec::new();
        if let Some(st) = &s_start {
            for &(lo, hi) in &strata_ranges {
                let mut idx: Vec<(u64, usize)> = (lo..hi).map(|k| (!sort_key(st[k]), k)).collect();
                idx.sort_unstable();
                start_order.extend(idx.into_iter().map(|k| k.1));
            }
        }

        Ok(CoxInput {
            n,
            p,
            orig: order,
            start: s_start,
            event: s_event,
            x: xs,
            scale,
            center,
            strata: strata_ranges,
            groups,
            start_order,
        })
    }

    /// Linear predictor (on the centred/scaled covariates) for each sorted row.
    pub fn eta(&self, beta: &[f64], out: &mut Vec<f64>) {
        let p = self.p;
        let (center, scale) = (&self.center[..p], &self.scale[..p]);
        out.clear();
        out.extend(self.x.chunks_exact(p.max(1)).take(self.n).map(|row| {
            let mut z = 0.0;
            for j in 0..p {
                z += beta[j] * ((row[j] - center[j]) * scale[j]);
            }
            z
        }));
    }

    /// Sorted row `k`, centred and scaled, into `out` (length `p`): `(x - centre) * scale`,
    /// the values coxfit6 fits on (exact for the uncentred columns: `x - 0 = x`, `x * 1 = x`).
    #[inline(always)]
    pub fn centred(&self, k: usize, out: &mut [f64]) {
        let p = self.p;
        let row = &self.x[k * p..(k + 1) * p];
        for (((o, &v), &c), &s) in out.iter_mut().zip(row).zip(&self.center).zip(&self.scale) {
            *o = (v - c) * s;
        }
    }

    /// All sorted rows, centred and scaled, row-major (a copy: for the robust variance).
    pub fn centred_x(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n * self.p];
        for (k, row) in out.chunks_exact_mut(self.p.max(1)).take(self.n).enumerate() {
            self.centred(k, row);
        }
        out
    }
}

/// Rows of the row-major `n × p` matrix `x` put in place into `order`: row `k` becomes
/// the old row `order[k]` (`order` a permutation of `0..n`), following its cycles.
fn permute_rows(x: &mut [f64], p: usize, order: &[u32]) {
    if p == 0 {
        return;
    }
    let mut done = vec![false; order.len()];
    let mut first = vec![0.0; p];
    for k0 in 0..order.len() {
        if done[k0] {
            continue;
        }
        done[k0] = true;
        if order[k0] as usize == k0 {
            continue;
        }
        first.copy_from_slice(&x[k0 * p..(k0 + 1) * p]);
        let mut k = k0;
        loop {
            let src = order[k] as usize;
            if src == k0 {
                x[k * p..(k + 1) * p].copy_from_slice(&first);
                break;
            }
            // a few values per row: copied inline rather than through a memmove call
            for j in 0..p {
                x[k * p + j] = x[src * p + j];
            }
            done[src] = true;
            k = src;
        }
    }
}

/// Log partial likelihood, score and information at one beta.
pub(crate) struct Eval {
    pub loglik: f64,
    pub u: Vec<f64>,
    /// Full symmetric information matrix, row-major p × p.
    pub imat: Vec<f64>,
}

/// Reusable buffers for [`evaluate`].
pub(crate) struct Work {
    eta: Vec<f64>,
}

impl Work {
    pub fn new() -> Work {
        Work { eta: Vec::new() }
    }
}

#[inline]
fn tri(i: usize, j: usize) -> usize {
    i * (i + 1) / 2 + j
}

/// `a += r x`, `cmat += r x x'` (packed lower triangle), as `(r * x_i) * x_j`.
#[inline(always)]
fn add_row(r: f64, xk: &[f64], a: &mut [f64], cmat: &mut [f64]) {
    let mut idx = 0;
    for (i, (&xi, ai)) in xk.iter().zip(a.iter_mut()).enumerate() {
        let rx = r * xi;
        *ai += rx;
        for (c, &xj) in cmat[idx..idx + i + 1].iter_mut().zip(&xk[..=i]) {
            *c += rx * xj;
        }
        idx += i + 1;
    }
}

/// `a -= r x`, `cmat -= r x x'`: a row leaving the risk set.
#[inline(always)]
fn sub_row(r: f64, xk: &[f64], a: &mut [f64], cmat: &mut [f64]) {
    let mut idx = 0;
    for (i, (&xi, ai)) in xk.iter().zip(a.iter_mut()).enumerate() {
        let rx = r * xi;
        *ai -= rx;
        for (c, &xj) in cmat[idx..idx + i + 1].iter_mut().zip(&xk[..=i]) {
            *c -= rx * xj;
        }
        idx += i + 1;
    }
}

/// One pass over the data: loglik, score and information at `beta` (scaled coordinates).
pub(crate) fn evaluate(d: &CoxInput, beta: &[f64], ties: Ties, w: &mut Work) -> Eval {
    let p = d.p;
    let nt = p * (p + 1) / 2;
    d.eta(beta, &mut w.eta);
    // each row's risk score exp(eta) is computed where it is used (no n-vector of them)
    let eta = &w.eta;

    let mut loglik = 0.0;
    let mut u = vec![0.0; p];
    let mut imat_t = vec![0.0; nt];
    let mut a = vec![0.0; p];
    let mut a2 = vec![0.0; p];
    let mut cmat = vec![0.0; nt];
    let mut cmat2 = vec![0.0; nt];
    let mut xk = vec![0.0; p];

    for (s, &(lo, hi)) in d.strata.iter().enumerate() {
        let mut denom = 0.0;
        let mut nrisk: usize = 0;
        a.iter_mut().for_each(|v| *v = 0.0);
        cmat.iter_mut().for_each(|v| *v = 0.0);
        let mut rem = lo; // index into start_order
        for g in &d.groups[s] {
            let dtime = g.time;
            if g.ndead > 0 {
                if let Some(start) = &d.start {
                    // remove rows whose start time is at or after dtime (no longer at risk)
                    while rem < hi {
                        let k = d.start_order[rem];
                        if start[k] < dtime {
                            break;
                        }
                        rem += 1;
                        nrisk -= 1;
                        if nrisk == 0 {
                            denom = 0.0;
                            a.iter_mut().for_each(|v| *v = 0.0);
                            cmat.iter_mut().for_each(|v| *v = 0.0);
                        } else {
                            let r = eta[k].exp();
                            denom -= r;
                            d.centred(k, &mut xk);
                            sub_row(r, &xk, &mut a, &mut cmat);
                        }
                    }
                }
            }
            // add the rows ending at dtime
            let mut denom2 = 0.0;
            let mut deadwt = 0.0;
            let mut ndead = 0usize;
            if g.ndead > 0 {
                a2.iter_mut().for_each(|v| *v = 0.0);
                cmat2.iter_mut().for_each(|v| *v = 0.0);
            }
            for (k, &eta_k) in (g.lo..g.hi).zip(&eta[g.lo..g.hi]) {
                nrisk += 1;
                let r = eta_k.exp();
                d.centred(k, &mut xk);
                if d.event[k] {
                    ndead += 1;
                    deadwt += 1.0;
                    denom2 += r;
                    loglik += eta_k;
                    u.iter_mut().zip(&xk).for_each(|(u, x)| *u += x);
                    add_row(r, &xk, &mut a2, &mut cmat2);
                } else {
                    denom += r;
                    add_row(r, &xk, &mut a, &mut cmat);
                }
            }
            if ndead == 0 {
                continue;
            }
            // (reciprocals instead of R's divisions: differences of 1 ulp, a large speed-up)
            if ties == Ties::Breslow || ndead == 1 {
                denom += denom2;
                loglik -= deadwt * denom.ln();
                let inv = 1.0 / denom;
                let mut idx = 0;
                for i in 0..p {
                    a[i] += a2[i];
                    let temp = a[i] * inv;
                    u[i] -= deadwt * temp;
                    for &aj in &a[..=i] {
                        cmat[idx] += cmat2[idx];
                        imat_t[idx] += deadwt * (cmat[idx] - temp * aj) * inv;
                        idx += 1;
                    }
                }
            } else {
                let nd = ndead as f64;
                let wtave = deadwt / nd;
                let d2n = denom2 / nd;
                a2.iter_mut().for_each(|v| *v /= nd);
                cmat2.iter_mut().for_each(|v| *v /= nd);
                for _ in 0..ndead {
                    denom += d2n;
                    loglik -= wtave * denom.ln();
                    let inv = 1.0 / denom;
                    let mut idx = 0;
                    for i in 0..p {
                        a[i] += a2[i];
                        let temp = a[i] * inv;
                        u[i] -= wtave * temp;
                        for &aj in &a[..=i] {
                            cmat[idx] += cmat2[idx];
                            imat_t[idx] += wtave * (cmat[idx] - temp * aj) * inv;
                            idx += 1;
                        }
                    }
                }
            }
        }
    }
    let mut imat = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            imat[i * p + j] = imat_t[tri(i, j)];
            imat[j * p + i] = imat_t[tri(i, j)];
        }
    }
    Eval { loglik, u, imat }
}

/// Result of the Newton–Raphson iterations, on the original covariate scale.
#[derive(Debug, Clone)]
pub(crate) struct NrFit {
    pub beta: Vec<f64>,
    /// Inverse information at `beta`, row-major p × p.
    pub var: Vec<f64>,
    pub loglik0: f64,
    pub loglik: f64,
    pub score_test: f64,
    pub iterations: usize,
    /// Beta in the internal (scaled) coordinates, for residuals.
    pub beta_scaled: Vec<f64>,
}

/// Settings the Newton loop needs.
pub(crate) struct NrControl {
    pub ties: Ties,
    pub max_iter: usize,
    pub eps: f64,
    pub toler_chol: f64,
}

fn first_singular(m: &[f64], p: usize) -> Option<usize> {
    (0..p).find(|&i| m[i * p + i] == 0.0)
}

fn all_finite(e: &Eval) -> bool {
    e.loglik.is_finite() && e.u.iter().all(|v| v.is_finite()) && e.imat.iter().all(|v| v.is_finite())
}

/// Newton–Raphson from beta = 0 (coxfit6 / agfit4 logic). `terms` name the columns in errors.
pub(crate) fn newton_raphson(d: &CoxInput, terms: &[String], ctl: &NrControl) -> StatsResult<NrFit> {
    let p = d.p;
    let mut w = Work::new();
    let counting = d.start.is_some();
    let singular_err = |i: usize, when: &str| StatsError::Singular {
        term: terms[i].clone(),
        message: format!(
            "the information matrix is singular {when} (the covariate is constant within the risk sets, \
             or a linear combination of the other covariates); R would report its coefficient as NA"
        ),
    };

    // iteration 0: beta = 0
    let mut beta = vec![0.0; p];
    let e0 = evaluate(d, &beta, ctl.ties, &mut w);
    if !all_finite(&e0) {
        return Err(StatsError::InvalidInput {
            column: "covariates".into(),
            message: "the log partial likelihood at beta = 0 is not finite (covariate values too large?)".into(),
        });
    }
    let loglik0 = e0.loglik;
    let mut m = e0.imat.clone();
    let rank0 = cholesky2(&mut m, p, ctl.toler_chol);
    if let Some(i) = first_singular(&m, p) {
        return Err(singular_err(i, "at beta = 0"));
    }
    let mut step = e0.u.clone();
    chsolve2(&m, p, &mut step);
    let score_test: f64 = e0.u.iter().zip(&step).map(|(a, b)| a * b).sum();

    let mut newbeta: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
    let mut best = loglik0;
    let mut halving = 0usize;
    for iter in 1..=ctl.max_iter {
        let e = evaluate(d, &newbeta, ctl.ties, &mut w);
        let mut m = e.imat.clone();
        let rank = cholesky2(&mut m, p, ctl.toler_chol);
        let finite = all_finite(&e) && (!counting || rank == rank0);
        let halving_ok = !counting || halving == 0;
        if finite && halving_ok && (1.0 - best / e.loglik).abs() <= ctl.eps {
            if let Some(i) = first_singular(&m, p) {
                return Err(singular_err(i, "at the solution"));
            }
            let var_s = chinv2(&m, p);
            let beta_o: Vec<f64> = (0..p).map(|i| newbeta[i] * d.scale[i]).collect();
            let mut var = vec![0.0; p * p];
            for i in 0..p {
                for j in 0..p {
                    var[i * p + j] = var_s[i * p + j] * d.scale[i] * d.scale[j];
                }
            }
            let u_o: Vec<f64> = (0..p).map(|i| e.u[i] / d.scale[i]).collect();
            check_infinite(&beta_o, &u_o, &var, p, ctl.eps, counting, terms, iter)?;
            return Ok(NrFit {
                beta: beta_o,
                var,
                loglik0,
                loglik: e.loglik,
                score_test,
                iterations: iter,
                beta_scaled: newbeta,
            });
        }
        if iter == ctl.max_iter {
            break;
        }
        if !finite || e.loglik < best {
            halving += 1;
            let h = halving as f64;
            for i in 0..p {
                newbeta[i] = (newbeta[i] + h * beta[i]) / (h + 1.0);
            }
        } else {
            halving = 0;
            best = e.loglik;
            let mut st = e.u.clone();
            chsolve2(&m, p, &mut st);
            beta.copy_from_slice(&newbeta);
            newbeta.iter_mut().zip(&st).for_each(|(b, s)| *b += s);
        }
    }
    // name the coefficient that was still moving most (relative to its size)
    let mut last_step = vec![0.0; p];
    for i in 0..p {
        last_step[i] = (newbeta[i] - beta[i]) * d.scale[i];
    }
    let moving = (0..p)
        .max_by(|&a, &b| {
            let ra = last_step[a].abs() / (1.0 + (beta[a] * d.scale[a]).abs());
            let rb = last_step[b].abs() / (1.0 + (beta[b] * d.scale[b]).abs());
            ra.total_cmp(&rb)
        })
        .map(|i| {
            format!(
                "; coefficient still changing most: `{}` = {} (last step {}); if it keeps growing it may be \
                 infinite (monotone likelihood)",
                terms[i],
                beta[i] * d.scale[i],
                last_step[i]
            )
        })
        .unwrap_or_default();
    Err(StatsError::NotConverged {
        iterations: ctl.max_iter,
        message: format!("Cox model: ran out of iterations (relative change in log-likelihood still above {}){moving}", ctl.eps),
    })
}

/// R's "Loglik converged before variable ...; beta may be infinite" check:
/// the remaining Newton step `|u' V|` is large relative to the coefficient.
#[allow(clippy::too_many_arguments)]
fn check_infinite(
    beta: &[f64],
    u: &[f64],
    var: &[f64],
    p: usize,
    eps: f64,
    counting: bool,
    terms: &[String],
    iter: usize,
) -> StatsResult<()> {
    let toler_inf = eps.sqrt();
    let mut bad = Vec::new();
    for i in 0..p {
        let infs: f64 = (0..p).map(|j| u[j] * var[j * p + i]).sum::<f64>().abs();
        let flagged = if counting {
            !u[i].is_finite() || infs > toler_inf * (1.0 + beta[i].abs())
        } else {
            !u[i].is_finite() || (infs > eps && infs > toler_inf * beta[i].abs())
        };
        if flagged {
            bad.push(i);
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = bad.iter().map(|&i| format!("`{}` (coef {})", terms[i], beta[i])).collect();
    Err(StatsError::NotConverged {
        iterations: iter,
        message: format!(
            "Loglik converged before variable {}; coefficient may be infinite (monotone likelihood: \
             events occur only in one group of this covariate, or it separates the risk sets)",
            names.join(", ")
        ),
    })
}
