//! Robust (sandwich) variance of a Cox model, as R's `coxph(..., cluster = id)`
//! (or `robust = TRUE`) computes it: score residuals (survival's `agscore3`
//! logic, Breslow or Efron), dfbeta = score residuals × V, summed within
//! clusters, robust V = D'D. Also the robust score test (`fit$rscore`), built
//! from the score residuals at beta = 0.

use super::fit::CoxInput;
use super::linalg::quad_form_inverse;
use super::Ties;

/// Score residuals (rows in the sorted layout of `d`, original covariate scale
/// apart from centring, which they do not depend on), row-major n × p.
pub(crate) fn score_residuals(d: &CoxInput, beta_scaled: &[f64], ties: Ties) -> Vec<f64> {
    let p = d.p;
    let n = d.n;
    let mut eta = Vec::new();
    d.eta(beta_scaled, &mut eta);
    let score: Vec<f64> = eta.iter().map(|e| e.exp()).collect();
    let x = d.centred_x();
    let mut resid = vec![0.0; n * p];
    let mut a = vec![0.0; p];
    let mut a2 = vec![0.0; p];
    let mut xhaz = vec![0.0; p];
    let mut mean = vec![0.0; p];
    let mut mh1 = vec![0.0; p];
    let mut mh2 = vec![0.0; p];
    let mut mh3 = vec![0.0; p];
    let mut removed = vec![false; n];

    for (s, &(lo, hi)) in d.strata.iter().enumerate() {
        let mut cumhaz = 0.0;
        let mut denom = 0.0;
        a.iter_mut().for_each(|v| *v = 0.0);
        xhaz.iter_mut().for_each(|v| *v = 0.0);
        let mut rem = lo;
        for g in &d.groups[s] {
            let dtime = g.time;
            if let Some(start) = &d.start {
                while rem < hi {
                    let k = d.start_order[rem];
                    if start[k] < dtime {
                        break;
                    }
                    rem += 1;
                    removed[k] = true;
                    let r = score[k];
                    denom -= r;
                    for j in 0..p {
                        resid[k * p + j] -= r * (cumhaz * x[k * p + j] - xhaz[j]);
                        a[j] -= r * x[k * p + j];
                    }
                }
            }
            let mut e_denom = 0.0;
            let mut deaths = 0usize;
            a2.iter_mut().for_each(|v| *v = 0.0);
            for k in g.lo..g.hi {
                let r = score[k];
                for j in 0..p {
                    resid[k * p + j] = (x[k * p + j] * cumhaz - xhaz[j]) * r;
                }
                denom += r;
                for j in 0..p {
                    a[j] += r * x[k * p + j];
                }
                if d.event[k] {
                    deaths += 1;
                    e_denom += r;
                    for j in 0..p {
                        a2[j] += r * x[k * p + j];
                    }
                }
            }
            if deaths == 0 {
                continue;
            }
            if deaths < 2 || ties == Ties::Breslow {
                let hazard = deaths as f64 / denom;
                cumhaz += hazard;
                for j in 0..p {
                    mean[j] = a[j] / denom;
                    xhaz[j] += mean[j] * hazard;
                }
                for k in g.lo..g.hi {
                    if d.event[k] {
                        for j in 0..p {
                            resid[k * p + j] += x[k * p + j] - mean[j];
                        }
                    }
                }
            } else {
                let nd = deaths as f64;
                mh1.iter_mut().for_each(|v| *v = 0.0);
                mh2.iter_mut().for_each(|v| *v = 0.0);
                mh3.iter_mut().for_each(|v| *v = 0.0);
                let meanwt = 1.0; // case weights are all 1
                for dd in 0..deaths {
                    let downwt = dd as f64 / nd;
                    let d2 = denom - downwt * e_denom;
                    let hazard = meanwt / d2;
                    cumhaz += hazard;
                    for j in 0..p {
                        mean[j] = (a[j] - downwt * a2[j]) / d2;
                        xhaz[j] += mean[j] * hazard;
                        mh1[j] += hazard * downwt;
                        mh2[j] += mean[j] * hazard * downwt;
                        mh3[j] += mean[j] / nd;
                    }
                }
                for k in g.lo..g.hi {
                    if d.event[k] {
                        for j in 0..p {
                            let xk = x[k * p + j];
                            resid[k * p + j] += (xk - mh3[j]) + score[k] * (xk * mh1[j] - mh2[j]);
                        }
                    }
                }
            }
        }
        // finish the rows still at risk at the end of the stratum
        for k in lo..hi {
            if !removed[k] {
                for j in 0..p {
                    resid[k * p + j] -= score[k] * (x[k * p + j] * cumhaz - xhaz[j]);
                }
            }
        }
    }
    // back to the original covariate scale: residuals are linear in x
    for k in 0..n {
        for j in 0..p {
            resid[k * p + j] /= d.scale[j];
        }
    }
    resid
}

/// Sum rows of a row-major n × p matrix (sorted layout) within clusters; returns
/// one row per distinct cluster code, in code order.
pub(crate) fn collapse(d: &CoxInput, m: &[f64], cluster: &[usize]) -> Vec<Vec<f64>> {
    let p = d.p;
    let mut sums: std::collections::BTreeMap<usize, Vec<f64>> = std::collections::BTreeMap::new();
    for k in 0..d.n {
        let c = cluster[d.orig[k] as usize];
        let e = sums.entry(c).or_insert_with(|| vec![0.0; p]);
        for j in 0..p {
            e[j] += m[k * p + j];
        }
    }
    sums.into_values().collect()
}

/// Robust variance and robust score test.
pub(crate) struct Robust {
    /// Sandwich variance, row-major p × p.
    pub var: Vec<f64>,
    /// Robust score statistic at beta = 0.
    pub score_stat: f64,
    /// Number of clusters.
    pub n_clusters: usize,
}

/// Robust variance from the fitted model (`var` = model-based inverse information).
pub(crate) fn robust(d: &CoxInput, beta_scaled: &[f64], var: &[f64], ties: Ties, cluster: &[usize], toler_chol: f64) -> Robust {
    let p = d.p;
    let resid = score_residuals(d, beta_scaled, ties);
    let mut dfbeta = vec![0.0; d.n * p];
    for k in 0..d.n {
        for j in 0..p {
            dfbeta[k * p + j] = (0..p).map(|l| resid[k * p + l] * var[l * p + j]).sum();
        }
    }
    let db = collapse(d, &dfbeta, cluster);
    let mut rvar = vec![0.0; p * p];
    for row in &db {
        for i in 0..p {
            for j in 0..p {
                rvar[i * p + j] += row[i] * row[j];
            }
        }
    }
    // robust score test: score residuals at beta = 0
    let r0 = score_residuals(d, &vec![0.0; p], ties);
    let c0 = collapse(d, &r0, cluster);
    let mut u = vec![0.0; p];
    let mut m = vec![0.0; p * p];
    for row in &c0 {
        for i in 0..p {
            u[i] += row[i];
            for j in 0..p {
                m[i * p + j] += row[i] * row[j];
            }
        }
    }
    let (score_stat, _) = quad_form_inverse(&m, p, &u, toler_chol);
    Robust { var: rvar, score_stat, n_clusters: db.len() }
}

#[cfg(test)]
mod tests {
    use super::super::fit::{evaluate, CoxInput, Work};
    use super::*;

    /// (start, stop, event, x) from a fixture CSV, rows with NA dropped.
    fn load(name: &str, cols: &[&str], start: Option<&str>, stop: &str, event: &str) -> CoxInput {
        let path = format!("{}/tests/fixtures/reference/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let ix = |c: &str| header.iter().position(|h| *h == c).unwrap();
        let (mut st, mut sp, mut ev, mut xs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            let need: Vec<&str> = cols.iter().chain([stop, event].iter()).map(|c| f[ix(c)]).collect();
            if need.iter().any(|v| v.is_empty()) {
                continue;
            }
            sp.push(f[ix(stop)].parse::<f64>().unwrap());
            ev.push(f[ix(event)] == "1");
            if let Some(s) = start {
                st.push(f[ix(s)].parse::<f64>().unwrap());
            }
            xs.extend(cols.iter().map(|c| f[ix(c)].parse::<f64>().unwrap()));
        }
        let x = ndarray::Array2::from_shape_vec((sp.len(), cols.len()), xs).unwrap();
        CoxInput::new(start.map(|_| st.as_slice()), &sp, &ev, &x, None)
    }

    /// Score residuals add up to the score vector, at any beta, for both tie methods.
    #[test]
    fn score_residuals_sum_to_the_score() {
        let lung = load("lung.csv", &["age", "sex", "ph.ecog"], None, "time", "status");
        let heart = load("heart.csv", &["age", "year", "surgery", "transplant"], Some("start"), "stop", "event");
        for d in [&lung, &heart] {
            for ties in [Ties::Efron, Ties::Breslow] {
                for beta in [vec![0.0; d.p], (0..d.p).map(|j| 0.3 - 0.2 * j as f64).collect()] {
                    let e = evaluate(d, &beta, ties, &mut Work::new());
                    let r = score_residuals(d, &beta, ties);
                    for j in 0..d.p {
                        let sum: f64 = (0..d.n).map(|k| r[k * d.p + j]).sum();
                        let u = e.u[j] / d.scale[j];
                        assert!((sum - u).abs() <= 1e-10 * (1.0 + u.abs()), "{ties:?} j={j}: {sum} vs {u}");
                    }
                }
            }
        }
    }
}
