//! Test of proportional hazards for a fitted Cox model, numerically as R
//! `survival` 3.5's `cox.zph(fit)` with its defaults `transform = "km"`,
//! `terms = TRUE`, `global = TRUE`, plus the scaled Schoenfeld residuals
//! (`$y`, `$x`, `$time`) for the residual-versus-time plot.
//!
//! Since survival 3.0 `cox.zph` is a score test, not the old correlation test:
//! with `g(t)` the transformed time centred over the events, the model is
//! extended by the covariates `x · g(t)` and the score test of "their
//! coefficients are zero" is computed at `(beta_hat, 0)`, in one pass over the
//! data (survival's C routines `zph1` for right-censored and `zph2` for
//! `(start, stop]` data, which this module follows step by step):
//!
//! - `g`: `1 - S(t-)`, the pooled Kaplan–Meier (all strata together, risk set
//!   `start < t <= stop`) just before each stop time, minus its mean over the
//!   event rows (tied events counted once each).
//! - `U = Σ_events g(t) (x_i - xbar(t))` and the `2p × 2p` information matrix
//!   of `(x, x g(t))`, with Efron or Breslow ties as the model was fitted.
//! - Per term `j`: `chisq = U_j' I[kk, kk]⁻¹ U_j` with `kk` = the `p` model
//!   columns plus the `j`-th time-interaction column and the first `p` score
//!   components set to 0; GLOBAL uses all `2p` rows. `df` = columns per term.
//! - Scaled Schoenfeld residuals: `beta_j + (V⁻¹ r)_j` with `r` the
//!   Schoenfeld residual of the event and `V` the `p × p` information divided
//!   by the number of events (per stratum, covariates constant within a
//!   stratum left out, as R).
//!
//! Terms: every column of the design matrix is its own term (R's output for a
//! model with numeric covariates only). A factor expanded into several
//! dummy columns is therefore tested column by column, not as one
//! multi-df term as R's `terms = TRUE` would.
//!
//! Not supported (R has them): case weights, `transform` other than `"km"`,
//! `singledf`, penalised / frailty terms. Where R's residual grouping breaks
//! (a stratum with events in which every covariate is constant), the rows of
//! that stratum get `NaN` here.

use ndarray::Array2;

use super::linalg::{chinv2, cholesky2, chsolve2};
use super::{timefix, CoxModel, CoxOptions, Ties};
use crate::stats::dist::pchisq_upper;
use crate::stats::error::{check_len, StatsError, StatsResult};

/// Result of [`cox_zph`], as R's `cox.zph` object.
#[derive(Debug, Clone, PartialEq)]
pub struct CoxZph {
    /// Term names (one per design column), as the model's.
    pub terms: Vec<String>,
    /// Per-term score statistic (R `table[, "chisq"]`).
    pub chisq: Vec<f64>,
    /// Per-term degrees of freedom (1: one column per term).
    pub df: Vec<usize>,
    /// Per-term `pchisq(chisq, df, lower.tail = FALSE)`.
    pub p: Vec<f64>,
    /// GLOBAL statistic (all terms together).
    pub global_chisq: f64,
    /// GLOBAL degrees of freedom (number of coefficients).
    pub global_df: usize,
    /// GLOBAL p-value.
    pub global_p: f64,
    /// Event times (R `$time`), one per event, ordered by stratum then time.
    pub time: Vec<f64>,
    /// Transformed event times `1 - KM(t-)` (R `$x`), same order.
    pub transformed_time: Vec<f64>,
    /// Scaled Schoenfeld residuals (R `$y`), events × terms; `NaN` where R has
    /// `NA` (a covariate constant within the event's stratum).
    pub scaled_residuals: Array2<f64>,
    /// Input row of each residual row.
    pub event_rows: Vec<usize>,
    /// Stratum code of each residual row (R `$strata`), when strata were given.
    pub strata: Option<Vec<usize>>,
    /// Inverse of the per-event information matrix used for the scaling (R `$var`).
    pub var: Vec<Vec<f64>>,
    /// Name of the time transform (`"km"`).
    pub transform: &'static str,
}

fn invalid(column: &str, message: String) -> StatsError {
    StatsError::InvalidInput { column: column.to_string(), message }
}

/// Raw sums from one pass over the data (`zph1` / `zph2` output).
struct ZphSums {
    /// Score, length `2p` (first `p` are the model score at beta hat, ~0).
    u: Vec<f64>,
    /// Information, `2p × 2p` row-major, symmetric.
    imat: Vec<f64>,
    /// Schoenfeld residuals, `nevent × p` row-major, rows in event output order.
    schoen: Vec<f64>,
}

/// Per-event accumulators shared by both passes.
struct Acc {
    p: usize,
    a: Vec<f64>,
    a2: Vec<f64>,
    cmat: Vec<f64>,
    cmat2: Vec<f64>,
}

impl Acc {
    fn new(p: usize) -> Acc {
        Acc { p, a: vec![0.0; p], a2: vec![0.0; p], cmat: vec![0.0; p * p], cmat2: vec![0.0; p * p] }
    }
    fn clear_main(&mut self) {
        self.a.iter_mut().for_each(|v| *v = 0.0);
        self.cmat.iter_mut().for_each(|v| *v = 0.0);
    }
    fn clear_dead(&mut self) {
        self.a2.iter_mut().for_each(|v| *v = 0.0);
        self.cmat2.iter_mut().for_each(|v| *v = 0.0);
    }
    /// Add (`sign` = 1) or remove (-1) a row to the risk-set sums (lower triangle).
    fn add_main(&mut self, risk: f64, xr: &[f64], sign: f64) {
        let p = self.p;
        for i in 0..p {
            self.a[i] += sign * risk * xr[i];
            for j in 0..=i {
                self.cmat[i * p + j] += sign * risk * xr[i] * xr[j];
            }
        }
    }
    fn add_dead(&mut self, risk: f64, xr: &[f64]) {
        let p = self.p;
        for i in 0..p {
            self.a2[i] += risk * xr[i];
            for j in 0..=i {
                self.cmat2[i * p + j] += risk * xr[i] * xr[j];
            }
        }
    }
}

/// Add the contribution of one death time (`ndead` deaths whose Schoenfeld rows
/// are `first..first + ndead`) to `u`, `imat`, `schoen`, as zph1/zph2.
#[allow(clippy::too_many_arguments)]
fn death_time(
    acc: &mut Acc,
    denom: &mut f64,
    denom2: f64,
    ndead: usize,
    deadwt: f64,
    timewt: f64,
    efron: bool,
    first: usize,
    out: &mut ZphSums,
) {
    let p = acc.p;
    let p2 = 2 * p;
    if !efron {
        *denom += denom2;
        for i in 0..p {
            acc.a[i] += acc.a2[i];
            let mean = acc.a[i] / *denom;
            out.u[i] -= deadwt * mean;
            out.u[i + p] -= timewt * deadwt * mean;
            for j in 0..=i {
                acc.cmat[i * p + j] += acc.cmat2[i * p + j];
                let temp = deadwt * (acc.cmat[i * p + j] - mean * acc.a[j]) / *denom;
                out.imat[j * p2 + i] += temp;
                out.imat[j * p2 + i + p] += temp * timewt;
                out.imat[(j + p) * p2 + i + p] += temp * timewt * timewt;
            }
            for k in 0..ndead {
                out.schoen[(first + k) * p + i] -= mean;
            }
        }
    } else {
        let nd = ndead as f64;
        let wtave = deadwt / nd;
        for i in 0..p {
            let mut tmean = 0.0;
            for k in 0..ndead {
                let temp = (k + 1) as f64 / nd;
                tmean += (acc.a[i] + acc.a2[i] * temp) / (*denom + denom2 * temp);
            }
            for k in 0..ndead {
                out.schoen[(first + k) * p + i] -= tmean / nd;
            }
        }
        for _ in 0..ndead {
            *denom += denom2 / nd;
            for i in 0..p {
                acc.a[i] += acc.a2[i] / nd;
                let mean = acc.a[i] / *denom;
                out.u[i] -= wtave * mean;
                out.u[i + p] -= timewt * wtave * mean;
                for j in 0..=i {
                    acc.cmat[i * p + j] += acc.cmat2[i * p + j] / nd;
                    let temp = wtave * (acc.cmat[i * p + j] - mean * acc.a[j]) / *denom;
                    out.imat[j * p2 + i] += temp;
                    out.imat[j * p2 + i + p] += timewt * temp;
                    out.imat[(j + p) * p2 + i + p] += timewt * timewt * temp;
                }
            }
        }
    }
    acc.clear_dead();
}

/// Fill the lower blocks of `imat` from the upper ones (end of zph1/zph2).
fn symmetrize(imat: &mut [f64], p: usize) {
    let p2 = 2 * p;
    for i in 0..p {
        for j in 0..i {
            imat[i * p2 + j] = imat[j * p2 + i];
            imat[i * p2 + j + p] = imat[j * p2 + i + p];
            imat[(i + p) * p2 + j + p] = imat[(j + p) * p2 + i + p];
        }
    }
    for i in 0..p {
        for j in 0..p {
            imat[(i + p) * p2 + j] = imat[j * p2 + i + p];
        }
    }
}

/// Right-censored data: survival's `zph1`. `ord` = rows by stratum, then time
/// ascending; Schoenfeld rows follow `ord` restricted to events.
#[allow(clippy::too_many_arguments)]
fn zph1(
    gt: &[f64],
    stop: &[f64],
    event: &[bool],
    xc: &[f64],
    p: usize,
    eta: &[f64],
    strata: &[u32],
    efron: bool,
    ord: &[u32],
    nevent: usize,
) -> ZphSums {
    let n = ord.len();
    let mut out = ZphSums { u: vec![0.0; 2 * p], imat: vec![0.0; 4 * p * p], schoen: vec![0.0; nevent * p] };
    let mut acc = Acc::new(p);
    let mut denom = 0.0;
    let mut cstrat = u32::MAX;
    let mut ev = nevent;
    let mut ip = n;
    while ip > 0 {
        let person = ord[ip - 1] as usize;
        if strata[person] != cstrat {
            cstrat = strata[person];
            denom = 0.0;
            acc.clear_main();
        }
        let dtime = stop[person];
        let timewt = gt[person];
        let mut ndead = 0usize;
        let mut deadwt = 0.0;
        let mut denom2 = 0.0;
        while ip > 0 {
            let person = ord[ip - 1] as usize;
            if stop[person] != dtime || strata[person] != cstrat {
                break;
            }
            let risk = eta[person].exp();
            let xr = &xc[person * p..(person + 1) * p];
            if !event[person] {
                denom += risk;
                acc.add_main(risk, xr, 1.0);
            } else {
                ndead += 1;
                deadwt += 1.0;
                denom2 += risk;
                ev -= 1;
                for (i, &xi) in xr.iter().enumerate() {
                    out.schoen[ev * p + i] = xi;
                    out.u[i] += xi;
                    out.u[i + p] += timewt * xi;
                }
                acc.add_dead(risk, xr);
            }
            ip -= 1;
        }
        if ndead > 0 {
            death_time(&mut acc, &mut denom, denom2, ndead, deadwt, timewt, efron, ev, &mut out);
        }
    }
    symmetrize(&mut out.imat, p);
    out
}

/// Counting-process data: survival's `zph2` (one pass of `agfit4`). `sort2` =
/// rows by stratum descending, stop descending; `sort1` = by stratum
/// descending, start descending. Schoenfeld rows follow `sort2` reversed,
/// restricted to events.
#[allow(clippy::too_many_arguments)]
fn zph2(
    gt: &[f64],
    start: &[f64],
    stop: &[f64],
    event: &[bool],
    xc: &[f64],
    p: usize,
    mut eta: Vec<f64>,
    strata: &[u32],
    efron: bool,
    sort1: &[u32],
    sort2: &[u32],
    nevent: usize,
) -> StatsResult<ZphSums> {
    let n = sort2.len();
    let mut out = ZphSums { u: vec![0.0; 2 * p], imat: vec![0.0; 4 * p * p], schoen: vec![0.0; nevent * p] };
    let mut acc = Acc::new(p);
    let mut keep = vec![false; n];
    let mut ev = nevent;
    let mut person = 0usize;
    let mut indx1 = 0usize;
    let mut denom = 0.0;
    let mut nrisk: i64 = 0;
    let mut etasum = 0.0;
    let mut cstrat = u32::MAX;
    let mut recenter = 0.0;
    let mut dtime = 0.0;
    let mut timewt = 0.0;
    while person < n {
        // find the next death time
        let mut k = person;
        while k < n {
            let pk = sort2[k] as usize;
            if strata[pk] != cstrat {
                cstrat = strata[pk];
                denom = 0.0;
                nrisk = 0;
                etasum = 0.0;
                acc.clear_main();
                person = k;
                indx1 = k;
            }
            if event[pk] {
                dtime = stop[pk];
                timewt = gt[pk];
                break;
            }
            k += 1;
        }
        if k == n {
            break;
        }
        // remove subjects whose start time is at or after this death time
        while indx1 < n {
            let p1 = sort1[indx1] as usize;
            if strata[p1] != cstrat || start[p1] < dtime {
                break;
            }
            indx1 += 1;
            if !keep[p1] {
                continue;
            }
            nrisk -= 1;
            if nrisk == 0 {
                etasum = 0.0;
                denom = 0.0;
                acc.clear_main();
            } else {
                etasum -= eta[p1];
                let risk = (eta[p1] - recenter).exp();
                denom -= risk;
                acc.add_main(risk, &xc[p1 * p..(p1 + 1) * p], -1.0);
            }
        }
        // add subjects at risk; the deaths go into denom2 / a2 / cmat2
        let mut denom2 = 0.0;
        let mut ndead = 0usize;
        let mut meanwt = 0.0;
        while person < n {
            let pp = sort2[person] as usize;
            if strata[pp] != cstrat || stop[pp] < dtime {
                break;
            }
            etasum += eta[pp];
            nrisk += 1;
            let shift = etasum / nrisk as f64 - recenter;
            if shift.abs() > 200.0 {
                recenter = etasum / nrisk as f64;
                if denom > 0.0 {
                    if shift.abs() > 709.0 {
                        return Err(invalid("coef", "exp overflow due to covariates".into()));
                    }
                    let f = (-shift).exp();
                    denom *= f;
                    acc.a.iter_mut().for_each(|v| *v *= f);
                    acc.cmat.iter_mut().for_each(|v| *v *= f);
                }
            }
            let risk = (eta[pp] - recenter).exp();
            let xr = &xc[pp * p..(pp + 1) * p];
            if event[pp] {
                ev -= 1;
                keep[pp] = true;
                ndead += 1;
                denom2 += risk;
                meanwt += 1.0;
                for (i, &xi) in xr.iter().enumerate() {
                    out.u[i] += xi;
                    out.u[i + p] += xi * timewt;
                    out.schoen[ev * p + i] = xi;
                }
                acc.add_dead(risk, xr);
            } else if start[pp] < dtime {
                keep[pp] = true;
                denom += risk;
                acc.add_main(risk, xr, 1.0);
            }
            person += 1;
        }
        let use_efron = efron && ndead > 1;
        death_time(&mut acc, &mut denom, denom2, ndead, meanwt, timewt, use_efron, ev, &mut out);
        if nrisk > 0 && (etasum / nrisk as f64).abs() > 200.0 {
            let temp = etasum / nrisk as f64;
            eta.iter_mut().for_each(|v| *v -= temp);
            let f = (-temp).exp();
            denom *= f;
            acc.a.iter_mut().for_each(|v| *v *= f);
            acc.cmat.iter_mut().for_each(|v| *v *= f);
            etasum = 0.0;
        }
    }
    symmetrize(&mut out.imat, p);
    Ok(out)
}

/// `u' A⁻¹ u` for a symmetric positive definite `A` (`n × n`, row-major).
fn quad_solve(a: &[f64], n: usize, u: &[f64], what: &str) -> StatsResult<f64> {
    let mut m = a.to_vec();
    let rank = cholesky2(&mut m, n, f64::EPSILON.powf(0.75));
    if rank != n as i64 {
        return Err(StatsError::Singular {
            term: what.to_string(),
            message: "the information matrix of the proportional-hazards test is singular".into(),
        });
    }
    let mut y = u.to_vec();
    chsolve2(&m, n, &mut y);
    Ok(u.iter().zip(&y).map(|(a, b)| a * b).sum())
}

/// Kaplan–Meier of the pooled data (risk set `start < t <= stop`, no strata),
/// evaluated just before each row's stop time: R's
/// `survfitKM(factor(rep(1, n)), y)` and `findInterval(times, km$time, left.open = TRUE)`.
fn km_before(start: Option<&[f64]>, stop: &[f64], event: &[bool]) -> Vec<f64> {
    let mut stops: Vec<f64> = stop.to_vec();
    stops.sort_by(|a, b| a.total_cmp(b));
    let mut starts: Vec<f64> = start.map(|s| s.to_vec()).unwrap_or_default();
    starts.sort_by(|a, b| a.total_cmp(b));
    let mut etimes: Vec<f64> = stop.iter().zip(event).filter(|(_, &e)| e).map(|(&t, _)| t).collect();
    etimes.sort_by(|a, b| a.total_cmp(b));
    // distinct event times with their death counts
    let mut dt: Vec<(f64, f64)> = Vec::new();
    for &t in &etimes {
        match dt.last_mut() {
            Some(last) if last.0 == t => last.1 += 1.0,
            _ => dt.push((t, 1.0)),
        }
    }
    // survival just after each distinct event time
    let mut km = 1.0;
    let surv: Vec<f64> = dt
        .iter()
        .map(|&(t, d)| {
            let at_or_after = (stops.len() - stops.partition_point(|&s| s < t)) as f64;
            let entered_later = (starts.len() - starts.partition_point(|&s| s < t)) as f64;
            let nrisk = at_or_after - entered_later;
            km *= (nrisk - d) / nrisk;
            km
        })
        .collect();
    stop.iter()
        .map(|&t| {
            let k = dt.partition_point(|&(s, _)| s < t);
            if k == 0 {
                1.0
            } else {
                surv[k - 1]
            }
        })
        .collect()
}

/// Proportional-hazards test of a fitted Cox model, as R `cox.zph(fit)`.
///
/// Pass the same data the model was fitted on (`start`, `stop`, `event`, `x`,
/// `strata`, and the `opts` used for the fit: `timefix` is applied the same
/// way; the ties method is taken from `model`). Each design column is one term (R
/// `cox.zph(fit, terms = FALSE)`; [`cox_zph_terms`] groups columns as R's default does).
///
/// Errors: mismatched lengths or a design that does not match the model →
/// `InvalidInput`; non-finite values or `start >= stop` → `InvalidInput`; no
/// events → `Empty`; a singular information matrix → `Singular`.
#[allow(clippy::too_many_arguments)]
pub fn cox_zph(
    model: &CoxModel,
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: &Array2<f64>,
    strata: Option<&[usize]>,
    opts: &CoxOptions,
) -> StatsResult<CoxZph> {
    cox_zph_terms(model, start, stop, event, x.clone(), strata, opts, None)
}

/// [`cox_zph`] with the model's columns grouped into terms, as R's default `terms = TRUE`:
/// each `(name, columns)` is tested jointly (df = number of columns), e.g. a factor's dummy
/// columns; `None`: every column is its own term (R `terms = FALSE`). GLOBAL is the same.
///
/// The design `x` is taken by value: the test centres it in place rather than holding a
/// centred copy beside it (at millions of counting-process rows, the largest buffer).
#[allow(clippy::too_many_arguments)]
pub fn cox_zph_terms(
    model: &CoxModel,
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: Array2<f64>,
    strata: Option<&[usize]>,
    opts: &CoxOptions,
    terms: Option<&[(String, Vec<usize>)]>,
) -> StatsResult<CoxZph> {
    let n = stop.len();
    let p = model.coef.len();
    check_len("event", event.len(), n)?;
    check_len("covariate rows", x.nrows(), n)?;
    check_len("covariate columns", x.ncols(), p)?;
    check_len("terms", model.terms.len(), p)?;
    check_len("means", model.means.len(), p)?;
    if let Some(s) = start {
        check_len("start", s.len(), n)?;
    }
    if let Some(s) = strata {
        check_len("strata", s.len(), n)?;
    }
    if p == 0 {
        return Err(invalid("terms", "the model has no coefficients".into()));
    }
    if n == 0 {
        return Err(StatsError::Empty("cox.zph: no observations".into()));
    }
    if u32::try_from(n).is_err() {
        return Err(invalid("time", format!("{n} rows: at most {} rows can be tested", u32::MAX)));
    }
    for i in 0..n {
        if !stop[i].is_finite() {
            return Err(invalid("time", format!("row {}: time must be a finite number, found {}", i + 1, stop[i])));
        }
        if let Some(st) = start {
            if !st[i].is_finite() || st[i] >= stop[i] {
                return Err(invalid(
                    "start/stop",
                    format!("row {}: need finite start < stop, found ({}, {}]", i + 1, st[i], stop[i]),
                ));
            }
        }
        for j in 0..p {
            if !x[[i, j]].is_finite() {
                return Err(invalid(&model.terms[j], format!("row {}: covariate must be finite, found {}", i + 1, x[[i, j]])));
            }
        }
    }
    if model.coef.iter().any(|b| !b.is_finite()) {
        return Err(invalid("coef", "the model has non-finite coefficients".into()));
    }
    let nevent = event.iter().filter(|&&e| e).count();
    if nevent == 0 {
        return Err(StatsError::Empty("cox.zph: no events".into()));
    }

    // the times merged as R's timefix (copies only when a time moves)
    let fixed = if opts.timefix { timefix::aeq_times_changed(start, stop)? } else { None };
    let (start_f, stop_f) = match &fixed {
        Some((st, sp)) => (st.as_deref(), &sp[..]),
        None => (start, stop),
    };

    // strata as 0-based ranks of the codes (R: as.integer(strata) - 1)
    // (as u32, like the row orders below: 4 bytes a row instead of 8 at millions of rows)
    let codes: Vec<u32> = match strata {
        Some(s) => {
            let mut levels: Vec<usize> = s.to_vec();
            levels.sort_unstable();
            levels.dedup();
            s.iter().map(|c| levels.partition_point(|l| l < c) as u32).collect()
        }
        None => vec![0; n],
    };
    let nstrat = codes.iter().copied().max().unwrap_or(0) as usize + 1;

    // linear predictor as R's fit$linear.predictors
    let offset: f64 = model.coef.iter().zip(&model.means).map(|(b, m)| b * m).sum();
    let eta: Vec<f64> = (0..n).map(|i| (0..p).map(|j| x[[i, j]] * model.coef[j]).sum::<f64>() - offset).collect();

    // time transform: 1 - KM(t-), centred over the events (R's mean: two passes)
    let ttimes: Vec<f64> = km_before(start_f, stop_f, event).into_iter().map(|s| 1.0 - s).collect();
    let ev_t: Vec<f64> = (0..n).filter(|&i| event[i]).map(|i| ttimes[i]).collect();
    let mut tmean = ev_t.iter().sum::<f64>() / nevent as f64;
    tmean += ev_t.iter().map(|t| t - tmean).sum::<f64>() / nevent as f64;
    let gt: Vec<f64> = ttimes.iter().map(|t| t - tmean).collect();

    // `used`: events of the stratum if the covariate varies within it, else 0
    let mut strat_events = vec![0usize; nstrat];
    let mut first_val: Vec<Option<Vec<f64>>> = vec![None; nstrat];
    let mut varies = vec![vec![false; p]; nstrat];
    for i in 0..n {
        let s = codes[i] as usize;
        if event[i] {
            strat_events[s] += 1;
        }
        match &first_val[s] {
            None => first_val[s] = Some((0..p).map(|j| x[[i, j]]).collect()),
            Some(f) => {
                for j in 0..p {
                    if x[[i, j]] != f[j] {
                        varies[s][j] = true;
                    }
                }
            }
        }
    }
    let used: Vec<Vec<usize>> =
        (0..nstrat).map(|s| (0..p).map(|j| if varies[s][j] { strat_events[s] } else { 0 }).collect()).collect();

    // covariates centred by their mean over all rows (as zph1/zph2), row-major, in the
    // design's own buffer (after every use of the raw values above)
    let means: Vec<f64> = (0..p).map(|j| (0..n).map(|i| x[[i, j]]).sum::<f64>() / n as f64).collect();
    let mut xc = super::into_row_major(x);
    for row in xc.chunks_exact_mut(p) {
        for (v, m) in row.iter_mut().zip(&means) {
            *v -= m;
        }
    }

    let efron = model.ties == Ties::Efron;
    // output order of the events (and Schoenfeld rows)
    let (sums, event_rows) = match start_f {
        None => {
            let mut ord: Vec<u32> = (0..n as u32).collect();
            ord.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                codes[a].cmp(&codes[b]).then(stop_f[a].total_cmp(&stop_f[b]))
            });
            let sums = zph1(&gt, stop_f, event, &xc, p, &eta, &codes, efron, &ord, nevent);
            (sums, ord.into_iter().map(|i| i as usize).filter(|&i| event[i]).collect::<Vec<_>>())
        }
        Some(st) => {
            let mut sort2: Vec<u32> = (0..n as u32).collect();
            sort2.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                codes[b].cmp(&codes[a]).then(stop_f[b].total_cmp(&stop_f[a]))
            });
            let mut sort1: Vec<u32> = (0..n as u32).collect();
            sort1.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                codes[b].cmp(&codes[a]).then(st[b].total_cmp(&st[a]))
            });
            // zph2 recentres the linear predictor in place: it takes it
            let sums = zph2(&gt, st, stop_f, event, &xc, p, eta, &codes, efron, &sort1, &sort2, nevent)?;
            (sums, sort2.into_iter().rev().map(|i| i as usize).filter(|&i| event[i]).collect::<Vec<_>>())
        }
    };

    // score tests: one per term (its columns' time interactions together), and GLOBAL
    let p2 = 2 * p;
    let groups: Vec<(String, Vec<usize>)> = match terms {
        Some(t) => t.to_vec(),
        None => (0..p).map(|j| (model.terms[j].clone(), vec![j])).collect(),
    };
    let mut chisq = Vec::with_capacity(groups.len());
    let mut df = Vec::with_capacity(groups.len());
    for (name, cols) in &groups {
        if cols.is_empty() || cols.iter().any(|&j| j >= p) {
            return Err(invalid("terms", format!("term `{name}` names columns {cols:?} of a model with {p}")));
        }
        let kk: Vec<usize> = (0..p).chain(cols.iter().map(|&j| p + j)).collect();
        let m = kk.len();
        let mut sub = vec![0.0; m * m];
        for (a, &ka) in kk.iter().enumerate() {
            for (b, &kb) in kk.iter().enumerate() {
                sub[a * m + b] = sums.imat[ka * p2 + kb];
            }
        }
        let mut u = vec![0.0; m];
        for (k, &j) in cols.iter().enumerate() {
            u[p + k] = sums.u[p + j];
        }
        chisq.push(quad_solve(&sub, m, &u, name)?);
        df.push(cols.len());
    }
    let mut ug = vec![0.0; p2];
    ug[p..].copy_from_slice(&sums.u[p..]);
    let global_chisq = quad_solve(&sums.imat, p2, &ug, "GLOBAL")?;
    let pvals: Vec<f64> = chisq.iter().zip(&df).map(|(&c, &d)| pchisq_upper(c, d as f64)).collect();
    let term_names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();

    // scaled Schoenfeld residuals
    let mut wtmat = vec![0.0; p * p];
    for u in &used {
        for i in 0..p {
            for j in 0..p {
                wtmat[i * p + j] += u[i].min(u[j]) as f64;
            }
        }
    }
    let mut vmean = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            let w = if wtmat[i * p + j] == 0.0 { 1.0 } else { wtmat[i * p + j] };
            vmean[i * p + j] = sums.imat[i * p2 + j] / w;
        }
    }
    let mut scaled = Array2::from_elem((nevent, p), f64::NAN);
    for (r, &row) in event_rows.iter().enumerate() {
        let k: Vec<usize> = (0..p).filter(|&j| used[codes[row] as usize][j] > 0).collect();
        if k.is_empty() {
            continue;
        }
        let m = k.len();
        let mut sub = vec![0.0; m * m];
        for (a, &ka) in k.iter().enumerate() {
            for (b, &kb) in k.iter().enumerate() {
                sub[a * m + b] = vmean[ka * p + kb];
            }
        }
        let mut y: Vec<f64> = k.iter().map(|&j| sums.schoen[r * p + j]).collect();
        if m == 1 {
            y[0] /= sub[0];
        } else {
            if cholesky2(&mut sub, m, f64::EPSILON.powf(0.75)) != m as i64 {
                return Err(StatsError::Singular {
                    term: model.terms[k[0]].clone(),
                    message: "the information matrix for scaling the Schoenfeld residuals is singular".into(),
                });
            }
            chsolve2(&sub, m, &mut y);
        }
        for (a, &j) in k.iter().enumerate() {
            scaled[[r, j]] = y[a] + model.coef[j];
        }
    }
    let mut vm = vmean.clone();
    if cholesky2(&mut vm, p, f64::EPSILON.powf(0.75)) != p as i64 {
        return Err(StatsError::Singular {
            term: model.terms[0].clone(),
            message: "the scaled information matrix of the proportional-hazards test is singular".into(),
        });
    }
    let vinv = chinv2(&vm, p);

    Ok(CoxZph {
        terms: term_names,
        chisq,
        df,
        p: pvals,
        global_chisq,
        global_df: p,
        global_p: pchisq_upper(global_chisq, p as f64),
        time: event_rows.iter().map(|&i| stop_f[i]).collect(),
        transformed_time: event_rows.iter().map(|&i| ttimes[i]).collect(),
        scaled_residuals: scaled,
        strata: strata.map(|s| event_rows.iter().map(|&i| s[i]).collect()),
        event_rows,
        var: (0..p).map(|i| vinv[i * p..(i + 1) * p].to_vec()).collect(),
        transform: "km",
    })
}
