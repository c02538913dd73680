//! Cox proportional hazards regression, numerically as R `survival` 3.5's
//! `coxph` (Efron or Breslow ties, right-censored or counting-process
//! `(start, stop]` data, strata, optional cluster-robust variance).
//!
//! - Fit: Newton–Raphson from beta = 0 as `coxfit6.c` / `agfit4.c`
//!   (module `fit`); convergence when `|1 - loglik_old / loglik_new| <= eps`.
//! - Tests: likelihood ratio `2 (loglik - loglik_null)`, Wald `b' V⁻¹ b`, score
//!   `U' I⁻¹ U` at beta = 0; all with `df = p`.
//! - Concordance and its infinitesimal-jackknife SE as `fit$concordance`
//!   (see [`concordance`]).
//! - With a cluster, the robust variance replaces the model-based one in the
//!   z statistics, p-values, confidence intervals and the Wald test, as R's
//!   `summary.coxph` does; the model-based SE stays in [`CoxModel::se`].
//!
//! Deliberate differences from R: where R returns `NA` coefficients (singular
//! design) or only warns (ran out of iterations; "Loglik converged before
//! variable ..."), this module returns an error naming the term.

pub mod concordance;
pub(crate) mod fit;
pub(crate) mod linalg;
pub(crate) mod robust;
pub(crate) mod timefix;
pub mod zph;

use std::str::FromStr;

use serde_json::{json, Value};

use crate::stats::dist::{pchisq_upper, two_sided_p, z_for_level};
use crate::stats::error::{check_len, StatsError, StatsResult};

pub use concordance::Concordance;
pub use zph::{cox_zph, cox_zph_terms, CoxZph};

/// Handling of tied event times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// Efron's approximation (R's default).
    Efron,
    /// Breslow's approximation.
    Breslow,
}

impl Ties {
    /// Name as R spells it (`"efron"` / `"breslow"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Ties::Efron => "efron",
            Ties::Breslow => "breslow",
        }
    }
}

impl FromStr for Ties {
    type Err = StatsError;
    fn from_str(s: &str) -> Result<Ties, StatsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "efron" => Ok(Ties::Efron),
            "breslow" => Ok(Ties::Breslow),
            other => Err(StatsError::InvalidInput {
                column: "ties".into(),
                message: format!("unknown ties method `{other}`; expected `efron` or `breslow`"),
            }),
        }
    }
}

/// Fitting options, defaults as `coxph.control()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoxOptions {
    /// Ties method (default Efron).
    pub ties: Ties,
    /// Maximum Newton–Raphson iterations (R `iter.max`, default 20); at least 1.
    pub max_iter: usize,
    /// Convergence criterion on the relative change of the log-likelihood (R `eps`, default 1e-9).
    pub eps: f64,
    /// Confidence level of the coefficient intervals (default 0.95).
    pub conf_level: f64,
    /// Tolerance for detecting singular information matrices (R `toler.chol`, default eps^0.75).
    pub toler_chol: f64,
    /// Merge times that differ by less than sqrt(machine eps), as R's `timefix = TRUE` (default true).
    pub timefix: bool,
}

impl Default for CoxOptions {
    fn default() -> CoxOptions {
        CoxOptions {
            ties: Ties::Efron,
            max_iter: 20,
            eps: 1e-9,
            conf_level: 0.95,
            toler_chol: f64::EPSILON.powf(0.75),
            timefix: true,
        }
    }
}

/// A chi-square test: statistic, degrees of freedom, upper-tail p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestStat {
    /// Statistic.
    pub stat: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// `pchisq(stat, df, lower.tail = FALSE)`.
    pub p: f64,
}

impl TestStat {
    fn new(stat: f64, df: usize) -> TestStat {
        TestStat { stat, df, p: pchisq_upper(stat, df as f64) }
    }
    fn to_json(self) -> Value {
        json!({ "statistic": num(self.stat), "df": self.df, "p": num(self.p) })
    }
}

/// A fitted Cox model.
#[derive(Debug, Clone, PartialEq)]
pub struct CoxModel {
    /// Term (column) names, as R prints them.
    pub terms: Vec<String>,
    /// Coefficients (log hazard ratios).
    pub coef: Vec<f64>,
    /// Model-based standard errors, `sqrt(diag(var))`.
    pub se: Vec<f64>,
    /// Model-based variance (inverse information at the estimate), p × p.
    pub var: Vec<Vec<f64>>,
    /// Log partial likelihood at beta = 0.
    pub loglik_null: f64,
    /// Log partial likelihood at the estimate.
    pub loglik: f64,
    /// Newton–Raphson iterations (R `fit$iter`).
    pub iterations: usize,
    /// Observations (rows) used.
    pub n: usize,
    /// Events.
    pub nevent: usize,
    /// Likelihood-ratio test.
    pub lr_test: TestStat,
    /// Wald test (robust variance when a cluster was given, as R).
    pub wald_test: TestStat,
    /// Score (log-rank) test at beta = 0.
    pub score_test: TestStat,
    /// Concordance of the linear predictor (R `fit$concordance["concordance"]`).
    pub concordance: f64,
    /// Its infinitesimal-jackknife standard error (R `fit$concordance["std"]`).
    pub concordance_se: f64,
    /// Pair counts behind the concordance.
    pub concordance_detail: Concordance,
    /// Robust standard errors (only with a cluster).
    pub robust_se: Option<Vec<f64>>,
    /// Robust (sandwich) variance (only with a cluster), p × p.
    pub robust_var: Option<Vec<Vec<f64>>>,
    /// Robust score test (R `fit$rscore`, only with a cluster).
    pub robust_score_test: Option<TestStat>,
    /// Number of clusters (only with a cluster).
    pub n_clusters: Option<usize>,
    /// Column means used for centring (0 for columns with values in {-1, 0, 1}), as R `fit$means`.
    pub means: Vec<f64>,
    /// Ties method used.
    pub ties: Ties,
    /// Confidence level of the intervals.
    pub conf_level: f64,
}

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Pair counts are whole numbers (no case weights): write them as integers.
fn count(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        num(v)
    }
}

fn nums(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|&x| num(x)).collect())
}

impl CoxModel {
    /// Standard errors used for inference: robust when available (as R's summary), else model-based.
    pub fn inference_se(&self) -> &[f64] {
        self.robust_se.as_deref().unwrap_or(&self.se)
    }

    /// Wald z statistics `coef / se` (robust se when a cluster was given).
    pub fn z(&self) -> Vec<f64> {
        self.coef.iter().zip(self.inference_se()).map(|(b, s)| b / s).collect()
    }

    /// Two-sided p-values `2 * pnorm(-|z|)`.
    pub fn p_values(&self) -> Vec<f64> {
        self.z().into_iter().map(two_sided_p).collect()
    }

    /// Confidence intervals for the coefficients, `coef ∓ z_{level} * se`.
    pub fn coef_ci(&self) -> Vec<(f64, f64)> {
        let z = z_for_level(self.conf_level);
        self.coef.iter().zip(self.inference_se()).map(|(b, s)| (b - z * s, b + z * s)).collect()
    }

    /// Hazard ratios with their confidence limits: `(exp(coef), lower, upper)`.
    pub fn hazard_ratios(&self) -> Vec<(f64, f64, f64)> {
        self.coef.iter().zip(self.coef_ci()).map(|(b, (l, u))| (b.exp(), l.exp(), u.exp())).collect()
    }

    /// The coefficient table named `name`: `term,coef,hr,se,z,p,hr_lower,hr_upper`
    /// (with a cluster: `term,coef,hr,se,robust_se,z,p,hr_lower,hr_upper`, z/p/CI
    /// from the robust SE as in R's summary); a non-finite value is NA.
    pub fn coef_table(&self, name: &str) -> crate::table::ResultTable {
        use crate::table::Cell;
        let cell = |v: f64| Cell::finite_or_na(Some(v));
        let columns: &[&str] = if self.robust_se.is_some() {
            &["term", "coef", "hr", "se", "robust_se", "z", "p", "hr_lower", "hr_upper"]
        } else {
            &["term", "coef", "hr", "se", "z", "p", "hr_lower", "hr_upper"]
        };
        let mut t = crate::table::ResultTable::new(name, columns);
        let z = self.z();
        let p = self.p_values();
        let hr = self.hazard_ratios();
        for i in 0..self.terms.len() {
            let mut row = vec![Cell::from(self.terms[i].as_str()), cell(self.coef[i]), cell(hr[i].0), cell(self.se[i])];
            if let Some(r) = &self.robust_se {
                row.push(cell(r[i]));
            }
            row.extend([cell(z[i]), cell(p[i]), cell(hr[i].1), cell(hr[i].2)]);
            t.push_row(row);
        }
        t
    }

    /// Everything about the fit as JSON (non-finite numbers as `null`).
    pub fn to_json(&self) -> Value {
        let hr = self.hazard_ratios();
        let ci = self.coef_ci();
        let c = &self.concordance_detail;
        let mut v = json!({
            "ties": self.ties.as_str(),
            "n": self.n,
            "nevent": self.nevent,
            "iterations": self.iterations,
            "terms": self.terms,
            "coef": nums(&self.coef),
            "exp_coef": nums(&hr.iter().map(|h| h.0).collect::<Vec<_>>()),
            "se": nums(&self.se),
            "z": nums(&self.z()),
            "p": nums(&self.p_values()),
            "conf_level": self.conf_level,
            "coef_lower": nums(&ci.iter().map(|c| c.0).collect::<Vec<_>>()),
            "coef_upper": nums(&ci.iter().map(|c| c.1).collect::<Vec<_>>()),
            "hr_lower": nums(&hr.iter().map(|h| h.1).collect::<Vec<_>>()),
            "hr_upper": nums(&hr.iter().map(|h| h.2).collect::<Vec<_>>()),
            "var": Value::Array(self.var.iter().map(|r| nums(r)).collect()),
            "means": nums(&self.means),
            "loglik_null": num(self.loglik_null),
            "loglik": num(self.loglik),
            "lr_test": self.lr_test.to_json(),
            "wald_test": self.wald_test.to_json(),
            "score_test": self.score_test.to_json(),
            "concordance": {
                "C": num(self.concordance),
                "se": num(self.concordance_se),
                "concordant": count(c.concordant),
                "discordant": count(c.discordant),
                "tied_x": count(c.tied_x),
                "tied_y": count(c.tied_y),
                "tied_xy": count(c.tied_xy),
            },
        });
        if let (Some(rse), Some(rvar)) = (&self.robust_se, &self.robust_var) {
            v["robust_se"] = nums(rse);
            v["robust_var"] = Value::Array(rvar.iter().map(|r| nums(r)).collect());
            v["n_clusters"] = json!(self.n_clusters);
            if let Some(t) = self.robust_score_test {
                v["robust_score_test"] = t.to_json();
            }
        }
        v
    }
}

fn invalid(column: &str, message: String) -> StatsError {
    StatsError::InvalidInput { column: column.to_string(), message }
}

/// Fit a Cox proportional hazards model.
///
/// - `start`: entry times for counting-process `(start, stop]` data (`None`: right-censored,
///   everyone at risk from time 0 / -inf). A row is at risk at `t` when `start < t <= stop`.
/// - `stop`, `event`: exit time and event indicator per row.
/// - `x`: design matrix (rows × terms), e.g. from [`crate::stats::design::build_design`];
///   `terms` names its columns.
/// - `strata`: stratum code per row (separate baseline hazards, shared coefficients).
/// - `cluster`: cluster code per row (e.g. patient id); gives the robust sandwich
///   variance as R's `cluster(id)`. Pass `0..n` for R's `robust = TRUE` without clusters.
///
/// Errors: mismatched lengths / non-finite values / `start >= stop` → `InvalidInput`;
/// no events → `Empty`; a constant or collinear covariate → `Singular` naming it;
/// iterations exhausted or a diverging coefficient (monotone likelihood) → `NotConverged`.
#[allow(clippy::too_many_arguments)]
pub fn coxph(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: &ndarray::Array2<f64>,
    terms: &[String],
    strata: Option<&[usize]>,
    cluster: Option<&[usize]>,
    opts: &CoxOptions,
) -> StatsResult<CoxModel> {
    check_len("covariate rows", x.nrows(), stop.len())?;
    fit_rows(start, stop, event, x.iter().copied().collect(), x.ncols(), terms, strata, cluster, opts)
}

/// As [`coxph`], taking the design matrix by value: its rows are put into the fitting
/// order in place instead of being copied, so the fit holds one copy of the covariates
/// (peak memory on large tables).
#[allow(clippy::too_many_arguments)]
pub fn coxph_owned(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: ndarray::Array2<f64>,
    terms: &[String],
    strata: Option<&[usize]>,
    cluster: Option<&[usize]>,
    opts: &CoxOptions,
) -> StatsResult<CoxModel> {
    check_len("covariate rows", x.nrows(), stop.len())?;
    let p = x.ncols();
    fit_rows(start, stop, event, into_row_major(x), p, terms, strata, cluster, opts)
}

/// The values of `x` row by row: its own buffer when it is already contiguous in row-major
/// order (no copy), else a copy.
pub(crate) fn into_row_major(x: ndarray::Array2<f64>) -> Vec<f64> {
    if x.as_slice().is_some() {
        // the buffer itself, from the array's offset on
        let len = x.len();
        let (mut v, offset) = x.into_raw_vec_and_offset();
        let offset = offset.unwrap_or(0);
        v.truncate(offset + len);
        v.drain(..offset);
        v
    } else {
        x.iter().copied().collect()
    }
}

/// The merged times if any, else the given ones.
fn times<'a>(fixed: &'a Option<timefix::Times>, start: Option<&'a [f64]>, stop: &'a [f64]) -> (Option<&'a [f64]>, &'a [f64]) {
    match fixed {
        Some((st, sp)) => (st.as_deref(), sp),
        None => (start, stop),
    }
}

/// The fit on a row-major `n × p` covariate vector `x`.
#[allow(clippy::too_many_arguments)]
fn fit_rows(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: Vec<f64>,
    p: usize,
    terms: &[String],
    strata: Option<&[usize]>,
    cluster: Option<&[usize]>,
    opts: &CoxOptions,
) -> StatsResult<CoxModel> {
    let n = stop.len();
    check_len("event", event.len(), n)?;
    check_len("covariate rows", x.len().checked_div(p).unwrap_or(0), n)?;
    check_len("terms", terms.len(), p)?;
    if let Some(s) = start {
        check_len("start", s.len(), n)?;
    }
    if let Some(s) = strata {
        check_len("strata", s.len(), n)?;
    }
    if let Some(c) = cluster {
        check_len("cluster", c.len(), n)?;
    }
    if opts.max_iter == 0 {
        return Err(invalid("max_iter", "must be at least 1".into()));
    }
    if !(opts.eps > 0.0 && opts.eps.is_finite()) {
        return Err(invalid("eps", format!("must be a positive number, found {}", opts.eps)));
    }
    if !(opts.conf_level > 0.0 && opts.conf_level < 1.0) {
        return Err(invalid("conf_level", format!("must be in (0, 1), found {}", opts.conf_level)));
    }
    if terms.is_empty() {
        return Err(invalid("terms", "a Cox model needs at least one covariate".into()));
    }
    if n == 0 {
        return Err(StatsError::Empty("Cox model: no observations".into()));
    }
    if u32::try_from(n).is_err() {
        return Err(invalid("time", format!("{n} rows: at most {} rows can be fitted", u32::MAX)));
    }
    match start {
        None => {
            for (i, &t) in stop.iter().enumerate() {
                if !t.is_finite() {
                    return Err(invalid("time", format!("row {}: time must be a finite number, found {t}", i + 1)));
                }
            }
        }
        Some(st) => {
            for i in 0..n {
                if !st[i].is_finite() || !stop[i].is_finite() {
                    return Err(invalid(
                        "start/stop",
                        format!("row {}: times must be finite, found ({}, {}]", i + 1, st[i], stop[i]),
                    ));
                }
                if st[i] >= stop[i] {
                    return Err(invalid(
                        "start/stop",
                        format!("row {}: stop time must be > start time, found ({}, {}]", i + 1, st[i], stop[i]),
                    ));
                }
            }
        }
    }
    // per column: the first row with a non-finite value, and whether it is constant (one
    // pass over the rows); reported column by column as before
    let mut non_finite: Vec<Option<usize>> = vec![None; p];
    let mut constant = vec![true; p];
    let first_row = &x[..p];
    for (i, row) in x.chunks_exact(p).enumerate() {
        for j in 0..p {
            let v = row[j];
            if !v.is_finite() && non_finite[j].is_none() {
                non_finite[j] = Some(i);
            }
            constant[j] &= v == first_row[j];
        }
    }
    for (j, term) in terms.iter().enumerate() {
        if let Some(i) = non_finite[j] {
            let v = x[i * p + j];
            return Err(invalid(term, format!("row {}: covariate must be finite, found {v}", i + 1)));
        }
        if constant[j] {
            let first = first_row[j];
            return Err(StatsError::Singular {
                term: term.clone(),
                message: format!("the covariate is constant ({first} in all {n} rows)"),
            });
        }
    }
    let nevent = event.iter().filter(|&&e| e).count();
    if nevent == 0 {
        return Err(StatsError::Empty("Cox model: no events, the model cannot be fitted".into()));
    }

    // times merged as R's timefix (copies only when a time moves). Right-censored data in
    // one stratum: the fit's sort of the times tells whether any would move, and only then
    // are they merged and sorted again.
    let quick = opts.timefix && start.is_none() && strata.is_none();
    let mut fixed = if opts.timefix && !quick { timefix::aeq_times_changed(start, stop)? } else { None };
    let (start_ref, stop_ref) = times(&fixed, start, stop);
    let prepared = match fit::CoxInput::from_rows(start_ref, stop_ref, event, x, p, strata, quick) {
        Ok(d) => d,
        Err(x) => {
            fixed = timefix::aeq_times_changed(start, stop)?;
            let (start_ref, stop_ref) = times(&fixed, start, stop);
            match fit::CoxInput::from_rows(start_ref, stop_ref, event, x, p, strata, false) {
                Ok(d) => d,
                Err(_) => unreachable!("only the timefix check declines"),
            }
        }
    };
    let (start_ref, stop_ref) = times(&fixed, start, stop);
    let ctl = fit::NrControl { ties: opts.ties, max_iter: opts.max_iter, eps: opts.eps, toler_chol: opts.toler_chol };
    let nr = fit::newton_raphson(&prepared, terms, &ctl)?;

    let var: Vec<Vec<f64>> = (0..p).map(|i| nr.var[i * p..(i + 1) * p].to_vec()).collect();
    let se: Vec<f64> = (0..p).map(|i| nr.var[i * p + i].sqrt()).collect();

    // robust variance
    let rob = cluster.map(|cl| robust::robust(&prepared, &nr.beta_scaled, &nr.var, opts.ties, cl, opts.toler_chol));
    let wald_var = rob.as_ref().map_or(&nr.var, |r| &r.var);
    let (wald, wald_df) = linalg::quad_form_inverse(wald_var, p, &nr.beta, opts.toler_chol);

    // concordance on the linear predictor, R's lp = x b - sum(b * means)
    // (from the sorted rows, which hold the covariates as given: the same sums as from
    // the input rows, stored back at each row's input position)
    let means: Vec<f64> = prepared.center.clone();
    let offset: f64 = nr.beta.iter().zip(&means).map(|(b, m)| b * m).sum();
    let mut lp = vec![0.0; n];
    for (row, &i) in prepared.x.chunks_exact(p).zip(&prepared.orig) {
        let mut z = 0.0;
        for (v, b) in row.iter().zip(&nr.beta) {
            z += v * b;
        }
        lp[i as usize] = z - offset;
    }
    drop(prepared);
    crate::release_freed_memory();
    let (rank, m) = concordance::ranks(&lp);
    drop(lp);
    let conc = concordance::concordance_ranked(start_ref, stop_ref, event, rank, m, strata, cluster).ok_or_else(|| {
        StatsError::Empty("Cox model: no comparable pairs for the concordance (every event at the same time?)".into())
    })?;

    let lr = 2.0 * (nr.loglik - nr.loglik0);
    Ok(CoxModel {
        terms: terms.to_vec(),
        coef: nr.beta.clone(),
        se,
        var,
        loglik_null: nr.loglik0,
        loglik: nr.loglik,
        iterations: nr.iterations,
        n,
        nevent,
        lr_test: TestStat::new(lr, p),
        wald_test: TestStat::new(wald, wald_df),
        score_test: TestStat::new(nr.score_test, p),
        concordance: conc.concordance,
        concordance_se: conc.std,
        concordance_detail: conc,
        robust_se: rob.as_ref().map(|r| (0..p).map(|i| r.var[i * p + i].sqrt()).collect()),
        robust_var: rob.as_ref().map(|r| (0..p).map(|i| r.var[i * p..(i + 1) * p].to_vec()).collect()),
        robust_score_test: rob.as_ref().map(|r| TestStat::new(r.score_stat, p)),
        n_clusters: rob.as_ref().map(|r| r.n_clusters),
        means,
        ties: opts.ties,
        conf_level: opts.conf_level,
    })
}
