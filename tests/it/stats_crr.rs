//! Fine–Gray regression (`hemosurv::stats::crr`) against R `cmprsk::crr` 2.2-11
//! reference values (tests/fixtures/crr/*.json, made by tests/fixtures/r/crr.R),
//! plus invariances, a large-n run and the error cases.

use crate::common;

use std::collections::HashMap;
use std::path::Path;

use hemosurv::stats::crr::{crr, crr_with_options, CrrFit, CrrOptions};
use hemosurv::stats::design::{build_design, ColumnData};
use hemosurv::stats::StatsError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crr");

/// Relative tolerance for every number compared with R except the p-values. The
/// worst error on the fixtures is 2.4e-13 (the pseudo likelihood ratio statistic,
/// a difference of two log-likelihoods); coefficients, SEs, z, variances and
/// log-likelihoods agree to 1e-13.
const TOL: f64 = 1e-10;

/// Relative tolerance for the p-values `2 * pnorm(-|z|)`: the normal tail of
/// `statrs` (`stats::dist::pnorm`) agrees with R's `pnorm` to ~1e-10 (worst on the
/// fixtures: 1.0e-10).
const TOL_P: f64 = 1e-9;

/// A CSV file without quoting: column name -> fields.
fn read_csv(rel: &str) -> HashMap<String, Vec<String>> {
    let path = Path::new(FIX).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    let mut cols: HashMap<String, Vec<String>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{rel}: {line}");
        for (h, f) in header.iter().zip(fields) {
            cols.get_mut(h).expect("column").push(f.to_string());
        }
    }
    cols
}

fn nums(cols: &HashMap<String, Vec<String>>, name: &str) -> Vec<f64> {
    cols[name].iter().map(|s| s.parse::<f64>().unwrap_or_else(|_| panic!("{name}: bad number {s}"))).collect()
}

fn codes(cols: &HashMap<String, Vec<String>>, name: &str) -> Vec<u32> {
    nums(cols, name).iter().map(|&v| v as u32).collect()
}

fn fixture(name: &str) -> Value {
    common::load_json(&Path::new(FIX).join(format!("{name}.json")))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn fv(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(f).collect()
}

/// Inputs of a fixture: (time, status, covariate columns, names).
type Inputs = (Vec<f64>, Vec<u32>, Vec<Vec<f64>>, Vec<String>);

fn inputs(name: &str, fx: &Value) -> Inputs {
    let data = fx["data_file"].as_str().expect("data_file");
    let d = read_csv(data);
    if name.starts_with("mgus2") {
        let male: Vec<f64> = d["sex"].iter().map(|s| if s == "M" { 1.0 } else { 0.0 }).collect();
        return (nums(&d, "etime"), codes(&d, "etype"), vec![nums(&d, "age"), male], vec!["age".into(), "male".into()]);
    }
    if name.starts_with("categorical") {
        // the factor through the crate's design builder (treatment contrasts, reference "low")
        let cols = vec![
            ("grp".to_string(), ColumnData::Categorical(d["grp"].iter().map(|s| Some(s.clone())).collect())),
            ("age".to_string(), ColumnData::Numeric(nums(&d, "age").into_iter().map(Some).collect())),
        ];
        let mut lv = HashMap::new();
        lv.insert("grp".to_string(), vec!["low".to_string(), "mid".to_string(), "high".to_string()]);
        let des = build_design(&cols, Some(&lv)).expect("design");
        assert_eq!(des.terms, vec!["grpmid", "grphigh", "age"]);
        let cov = (0..des.x.ncols()).map(|j| des.x.column(j).to_vec()).collect();
        return (nums(&d, "time"), codes(&d, "status"), cov, des.terms.clone());
    }
    let names: Vec<String> = fx["names"].as_array().expect("names").iter().map(|v| v.as_str().unwrap().into()).collect();
    let cov = names.iter().map(|n| nums(&d, n)).collect();
    (nums(&d, "time"), codes(&d, "status"), cov, names)
}

fn fit_fixture(name: &str, fx: &Value) -> CrrFit {
    let (time, status, cov, names) = inputs(name, fx);
    let opts = CrrOptions { max_iter: fx["maxiter"].as_u64().expect("maxiter") as usize, ..CrrOptions::default() };
    crr_with_options(&time, &status, &cov, &names, f(&fx["failcode"]) as u32, f(&fx["cencode"]) as u32, &opts)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Relative error of `got` against `want` (absolute when `want` is 0).
fn rel(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    }
}

/// Compare, record the worst relative error, panic beyond `tol`. With the
/// environment variable `CRR_DEBUG` set, print every error above 1e-14.
fn check_tol(worst: &mut f64, what: &str, got: f64, want: f64, tol: f64) {
    let r = rel(got, want);
    assert!(r <= tol, "{what}: got {got:e}, R {want:e} (relative error {r:e})");
    if std::env::var("CRR_DEBUG").is_ok() && r > 1e-14 {
        eprintln!("  {what}: {r:.2e}");
    }
    *worst = worst.max(r);
}

fn check(worst: &mut f64, what: &str, got: f64, want: f64) {
    check_tol(worst, what, got, want, TOL)
}

const FIXTURES: &[&str] = &[
    "small_ties_fail1",
    "small_ties_fail2",
    "categorical_fail1",
    "medium_fail1",
    "medium_fail2",
    "medium_fail1_maxiter1",
    "strong_fail1",
    "edge_fail3",
    "mgus2_fail1",
    "mgus2_fail2",
];

#[test]
fn every_number_matches_cmprsk_crr() {
    let mut overall: f64 = 0.0;
    for &name in FIXTURES {
        let fx = fixture(name);
        let fit = fit_fixture(name, &fx);
        let mut worst: f64 = 0.0;
        let w = &mut worst;
        let names: Vec<String> = fx["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
        if !name.starts_with("categorical") {
            assert_eq!(fit.names, names, "{name}");
        }
        assert_eq!(fit.converged, fx["converged"].as_bool().unwrap(), "{name}: converged");
        assert_eq!(fit.n as u64, fx["n"].as_u64().unwrap(), "{name}: n");
        assert_eq!(fit.n_events as u64, fx["n_events"].as_u64().unwrap(), "{name}: n_events");
        assert_eq!(fit.n_competing as u64, fx["n_competing"].as_u64().unwrap(), "{name}: n_competing");
        assert_eq!(fit.n_censored as u64, fx["n_censored"].as_u64().unwrap(), "{name}: n_censored");
        let p = fit.coef.len();
        let (coef, se, z) = (fv(&fx["coef"]), fv(&fx["se"]), fv(&fx["z"]));
        let (pv, pacc, expc) = (fv(&fx["p"]), fv(&fx["p_accurate"]), fv(&fx["exp_coef"]));
        let (lo, up) = (fv(&fx["lower"]), fv(&fx["upper"]));
        let ci = fit.exp_coef_ci(f(&fx["conf_level"])).unwrap();
        let ec = fit.exp_coef();
        for k in 0..p {
            let t = |what: &str| format!("{name} {what}[{}]", names[k]);
            check(w, &t("coef"), fit.coef[k], coef[k]);
            check(w, &t("se"), fit.se[k], se[k]);
            check(w, &t("z"), fit.z[k], z[k]);
            check_tol(w, &t("p"), fit.p[k], pacc[k], TOL_P);
            // R's printed 2 * (1 - pnorm(|z|)) loses relative precision in the tail
            assert!(
                (fit.p[k] - pv[k]).abs() <= TOL_P * pv[k] + 1e-15,
                "{}: {} vs 2 * (1 - pnorm(|z|)) = {}",
                t("p"),
                fit.p[k],
                pv[k]
            );
            check(w, &t("exp_coef"), ec[k], expc[k]);
            check(w, &t("exp_coef (ci)"), ci[k].shr, expc[k]);
            check(w, &t("lower"), ci[k].lower, lo[k]);
            check(w, &t("upper"), ci[k].upper, up[k]);
            let var_row = fv(&fx["var"][k]);
            for (j, (&got, &want)) in fit.var[k].iter().zip(&var_row).enumerate() {
                check(w, &format!("{name} var[{k}][{j}]"), got, want);
            }
        }
        check(w, &format!("{name} loglik"), fit.loglik, f(&fx["loglik"]));
        check(w, &format!("{name} loglik_null"), fit.loglik_null, f(&fx["loglik_null"]));
        check(w, &format!("{name} logtest"), fit.logtest(), f(&fx["logtest"]));
        eprintln!("{name}: worst relative error {worst:.2e} ({} Newton steps, converged {})", fit.iterations, fit.converged);
        overall = overall.max(worst);
    }
    eprintln!("all crr fixtures: worst relative error {overall:.2e}");
}

#[test]
fn maxiter_one_is_reported_not_converged() {
    let fx = fixture("medium_fail1_maxiter1");
    let fit = fit_fixture("medium_fail1_maxiter1", &fx);
    assert!(!fit.converged);
    assert_eq!(fit.iterations, 1);
    // the default run of the same data converges
    let fx = fixture("medium_fail1");
    let fit = fit_fixture("medium_fail1", &fx);
    assert!(fit.converged);
    assert!(fit.iterations >= 2 && fit.iterations <= 10, "{}", fit.iterations);
}

#[test]
fn row_order_and_covariate_shift_do_not_matter() {
    let fx = fixture("small_ties_fail1");
    let (time, status, cov, names) = inputs("small_ties_fail1", &fx);
    let base = crr(&time, &status, &cov, &names, 1, 0).unwrap();
    let n = time.len();
    let perm: Vec<usize> = (0..n).rev().collect();
    let t2: Vec<f64> = perm.iter().map(|&i| time[i]).collect();
    let s2: Vec<u32> = perm.iter().map(|&i| status[i]).collect();
    // reversed rows, and the first covariate shifted by 100
    let c2: Vec<Vec<f64>> =
        cov.iter().enumerate().map(|(k, c)| perm.iter().map(|&i| c[i] + if k == 0 { 100.0 } else { 0.0 }).collect()).collect();
    let other = crr(&t2, &s2, &c2, &names, 1, 0).unwrap();
    for k in 0..base.coef.len() {
        assert!(rel(other.coef[k], base.coef[k]) < 1e-10, "coef {k}");
        assert!(rel(other.se[k], base.se[k]) < 1e-10, "se {k}");
    }
    assert!(rel(other.loglik, base.loglik) < 1e-12);
}

#[test]
fn hundred_thousand_rows_run_quickly() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let n = 100_000;
    let (mut time, mut status) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut x1, mut x2) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let a: f64 = rng.gen::<f64>() * 2.0 - 1.0;
        let b = if rng.gen::<f64>() < 0.4 { 1.0 } else { 0.0 };
        let t1 = -rng.gen::<f64>().ln() / (0.1 * (0.5 * a + 0.3 * b).exp());
        let t2 = -rng.gen::<f64>().ln() / 0.05;
        let c = 1.0 + 20.0 * rng.gen::<f64>();
        let t = t1.min(t2).min(c);
        time.push((t * 100.0).round() / 100.0); // ties
        status.push(if c <= t1.min(t2) {
            0
        } else if t1 <= t2 {
            1
        } else {
            2
        });
        x1.push(a);
        x2.push(b);
    }
    let start = std::time::Instant::now();
    let fit = crr(&time, &status, &[x1, x2], &["x1".into(), "x2".into()], 1, 0).unwrap();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "n = {n}: {secs:.2} s, {} Newton steps, coef {:?}, se {:?}, {} events",
        fit.iterations, fit.coef, fit.se, fit.n_events
    );
    assert!(fit.converged);
    assert!(fit.se.iter().all(|s| s.is_finite() && *s > 0.0));
}

fn small() -> (Vec<f64>, Vec<u32>, Vec<Vec<f64>>, Vec<String>) {
    let fx = fixture("small_ties_fail1");
    inputs("small_ties_fail1", &fx)
}

#[test]
fn no_event_of_the_failcode_is_an_error() {
    let (time, status, cov, names) = small();
    let e = crr(&time, &status, &cov, &names, 7, 0).unwrap_err();
    match &e {
        StatsError::InvalidInput { column, message } => {
            assert_eq!(column, "status");
            assert!(message.contains("no event with failcode 7"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn constant_and_collinear_covariates_name_the_column() {
    let (time, status, cov, _) = small();
    let n = time.len();
    let names: Vec<String> = vec!["x1".into(), "x2".into(), "flat".into()];
    let mut c = cov.clone();
    c.push(vec![3.0; n]);
    match crr(&time, &status, &c, &names, 1, 0).unwrap_err() {
        StatsError::Singular { term, .. } => assert_eq!(term, "flat"),
        other => panic!("{other:?}"),
    }
    let mut c = cov.clone();
    c.push(cov[0].iter().zip(&cov[1]).map(|(a, b)| 2.0 * a - b + 1.0).collect());
    let names: Vec<String> = vec!["x1".into(), "x2".into(), "combo".into()];
    match crr(&time, &status, &c, &names, 1, 0).unwrap_err() {
        StatsError::Singular { term, message } => {
            assert_eq!(term, "combo");
            assert!(message.contains("x1, x2"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn covariate_without_variation_in_the_risk_sets_is_singular() {
    // x = 1 only for the two subjects censored at time 1, before every failure
    let time = vec![1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let status = vec![0, 0, 1, 2, 1, 1, 0];
    let x = vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    match crr(&time, &status, &[x], &["x".into()], 1, 0).unwrap_err() {
        StatsError::Singular { term, .. } => assert_eq!(term, "x"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_inputs_are_errors() {
    let (time, status, cov, names) = small();
    let bad = |r: Result<CrrFit, StatsError>, col: &str| match r {
        Err(StatsError::InvalidInput { column, .. }) => assert_eq!(column, col),
        other => panic!("expected InvalidInput({col}), got {other:?}"),
    };
    bad(crr(&time, &status[1..], &cov, &names, 1, 0), "status");
    bad(crr(&time, &status, &cov, &names, 1, 1), "failcode");
    let mut t = time.clone();
    t[3] = -1.0;
    bad(crr(&t, &status, &cov, &names, 1, 0), "time");
    t[3] = f64::NAN;
    bad(crr(&t, &status, &cov, &names, 1, 0), "time");
    let mut c = cov.clone();
    c[1][4] = f64::NAN;
    bad(crr(&time, &status, &c, &names, 1, 0), "x2");
    bad(crr(&time, &status, &[], &[], 1, 0), "covariates");
    bad(crr(&time, &status, &cov, &names[..1], 1, 0), "names");
    let fit = crr(&time, &status, &cov, &names, 1, 0).unwrap();
    match fit.exp_coef_ci(1.0) {
        Err(StatsError::InvalidInput { column, .. }) => assert_eq!(column, "level"),
        other => panic!("{other:?}"),
    }
}
