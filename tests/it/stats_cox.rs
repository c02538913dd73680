//! Cox model and design matrix against R `survival` 3.5 `coxph` reference values
//! (tests/fixtures/reference/expected/cox_*.json), plus identities and error cases.

use std::collections::HashMap;

use hemosurv::stats::cox::{concordance::concordance, coxph, CoxModel, CoxOptions, Ties};
use hemosurv::stats::design::{build_design, ColumnData, Design};
use hemosurv::stats::StatsError;
use ndarray::Array2;
use serde_json::Value;

const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference");

/// A CSV without quoting; empty field = NA.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl Csv {
    fn read(name: &str) -> Csv {
        let text = std::fs::read_to_string(format!("{REF}/data/{name}")).expect("read csv");
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| l.split(',').map(|f| if f.is_empty() { None } else { Some(f.to_string()) }).collect::<Vec<_>>())
            .collect::<Vec<_>>();
        for r in &rows {
            assert_eq!(r.len(), header.len());
        }
        Csv { header, rows }
    }
    fn idx(&self, col: &str) -> usize {
        self.header.iter().position(|h| h == col).unwrap_or_else(|| panic!("no column {col}"))
    }
    fn num(&self, col: &str) -> Vec<Option<f64>> {
        let j = self.idx(col);
        self.rows.iter().map(|r| r[j].as_ref().map(|s| s.parse::<f64>().expect("number"))).collect()
    }
    fn text(&self, col: &str) -> Vec<Option<String>> {
        let j = self.idx(col);
        self.rows.iter().map(|r| r[j].clone()).collect()
    }
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{REF}/expected/{name}")).expect("read json");
    serde_json::from_str(&text).expect("json")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn fv(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(f).collect()
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        got.is_finite() && (err <= rel || (got - want).abs() <= rel * 1e-3),
        "{what}: got {got:e}, want {want:e}, rel err {err:e} > {rel:e}"
    );
}

#[track_caller]
fn close_vec(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(&format!("{what}[{i}]"), *g, *w, rel);
    }
}

/// Survival data + design, rows with NA dropped.
struct Data {
    start: Option<Vec<f64>>,
    stop: Vec<f64>,
    event: Vec<bool>,
    design: Design,
}

fn lung() -> Data {
    let csv = Csv::read("lung.csv");
    let cols: Vec<(String, ColumnData)> =
        ["age", "sex", "ph.ecog"].iter().map(|c| (c.to_string(), ColumnData::Numeric(csv.num(c)))).collect();
    let design = build_design(&cols, None).unwrap();
    let time = csv.num("time");
    let status = csv.num("status");
    Data {
        start: None,
        stop: design.kept_rows.iter().map(|&i| time[i].unwrap()).collect(),
        event: design.kept_rows.iter().map(|&i| status[i].unwrap() == 1.0).collect(),
        design,
    }
}

fn heart() -> (Data, Vec<usize>) {
    let csv = Csv::read("heart.csv");
    let cols: Vec<(String, ColumnData)> =
        ["age", "year", "surgery", "transplant"].iter().map(|c| (c.to_string(), ColumnData::Numeric(csv.num(c)))).collect();
    let design = build_design(&cols, None).unwrap();
    let g = |c: &str| -> Vec<f64> {
        let v = csv.num(c);
        design.kept_rows.iter().map(|&i| v[i].unwrap()).collect()
    };
    let id: Vec<usize> = g("id").iter().map(|&v| v as usize).collect();
    let event = g("event").iter().map(|&v| v == 1.0).collect();
    (Data { start: Some(g("start")), stop: g("stop"), event, design }, id)
}

fn fit(d: &Data, opts: &CoxOptions) -> Result<CoxModel, StatsError> {
    coxph(d.start.as_deref(), &d.stop, &d.event, &d.design.x, &d.design.terms, None, None, opts)
}

/// Compare every number of a `cox_*.json` fixture.
fn check_fixture(name: &str, d: &Data, ties: Ties) {
    let fx = fixture(name);
    assert_eq!(fx["ties"].as_str().unwrap(), ties.as_str());
    let opts = CoxOptions { ties, ..CoxOptions::default() };
    let m = fit(d, &opts).unwrap();

    assert_eq!(m.n, fx["n"].as_u64().unwrap() as usize, "n");
    assert_eq!(m.nevent, fx["nevent"].as_u64().unwrap() as usize, "nevent");
    assert_eq!(d.design.dropped_rows.len(), fx["n_removed_missing"].as_u64().unwrap() as usize);
    let terms: Vec<String> = fx["terms"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    assert_eq!(m.terms, terms);
    assert_eq!(m.iterations, fx["iter"].as_u64().unwrap() as usize, "iterations");

    // coefficients: R's default-eps iterate. We follow the same Newton steps, so the
    // agreement is ~1e-13 (far inside the README's 1e-7); the margins below are
    // for platform roundoff only. p-values are limited by statrs' normal tail (~1e-10).
    close_vec("coef", &m.coef, &fv(&fx["coef"]), 1e-10);
    let hr = m.hazard_ratios();
    close_vec("exp_coef", &hr.iter().map(|h| h.0).collect::<Vec<_>>(), &fv(&fx["exp_coef"]), 1e-10);
    close_vec("se_coef", &m.se, &fv(&fx["se_coef"]), 1e-10);
    close_vec("z", &m.z(), &fv(&fx["z"]), 1e-10);
    close_vec("p", &m.p_values(), &fv(&fx["p"]), 1e-8);
    close_vec("hr_lower_95", &hr.iter().map(|h| h.1).collect::<Vec<_>>(), &fv(&fx["hr_lower_95"]), 1e-10);
    close_vec("hr_upper_95", &hr.iter().map(|h| h.2).collect::<Vec<_>>(), &fv(&fx["hr_upper_95"]), 1e-10);
    let ci = m.coef_ci();
    close_vec("coef_lower_95", &ci.iter().map(|c| c.0).collect::<Vec<_>>(), &fv(&fx["coef_lower_95"]), 1e-10);
    close_vec("coef_upper_95", &ci.iter().map(|c| c.1).collect::<Vec<_>>(), &fv(&fx["coef_upper_95"]), 1e-10);
    let var = fx["var"].as_array().unwrap();
    assert_eq!(var.len(), m.var.len());
    for (i, row) in var.iter().enumerate() {
        close_vec(&format!("var[{i}]"), &m.var[i], &fv(row), 1e-10);
    }
    close("loglik_null", m.loglik_null, f(&fx["loglik_null"]), 1e-13);
    close("loglik_final", m.loglik, f(&fx["loglik_final"]), 1e-13);
    for (key, t) in [("lr_test", m.lr_test), ("wald_test", m.wald_test), ("score_test", m.score_test)] {
        close(&format!("{key}.statistic"), t.stat, f(&fx[key]["statistic"]), 1e-10);
        assert_eq!(t.df as u64, fx[key]["df"].as_u64().unwrap(), "{key}.df");
        close(&format!("{key}.p"), t.p, f(&fx[key]["p"]), 1e-9);
    }
    assert_eq!(
        (m.wald_test.stat * 100.0).round() / 100.0,
        f(&fx["wald_test"]["statistic_printed_by_summary"]),
        "wald statistic as printed"
    );
    let c = &fx["concordance"];
    close("concordance C", m.concordance, f(&c["C"]), 1e-12);
    close("concordance se", m.concordance_se, f(&c["se"]), 1e-12);
    let cd = &m.concordance_detail;
    for (key, got) in [
        ("concordant", cd.concordant),
        ("discordant", cd.discordant),
        ("tied_x", cd.tied_x),
        ("tied_y", cd.tied_y),
        ("tied_xy", cd.tied_xy),
    ] {
        assert_eq!(got, f(&c[key]), "concordance {key}");
    }
    close_vec("means", &m.means, &fv(&fx["means"]), 1e-12);
    assert_eq!(fx["control"]["iter_max"].as_u64().unwrap() as usize, opts.max_iter);
    assert_eq!(f(&fx["control"]["eps"]), opts.eps);
    assert_eq!(f(&fx["control"]["toler_chol"]), opts.toler_chol);

    // fully converged block (eps = 1e-14, iter.max = 100)
    let fc = &fx["fully_converged"];
    let m2 = fit(d, &CoxOptions { ties, eps: 1e-14, max_iter: 100, ..CoxOptions::default() }).unwrap();
    assert_eq!(m2.iterations, fc["iter"].as_u64().unwrap() as usize, "fully converged iterations");
    close_vec("fully converged coef", &m2.coef, &fv(&fc["coef"]), 1e-10);
    close_vec("fully converged se", &m2.se, &fv(&fc["se_coef"]), 1e-10);
    close("fully converged loglik", m2.loglik, f(&fc["loglik_final"]), 1e-13);
    let maxdiff = m.coef.iter().zip(&m2.coef).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    close("max_abs_coef_diff_vs_default", maxdiff, f(&fc["max_abs_coef_diff_vs_default"]), 0.05);

    // JSON output carries the same numbers, CSV has the R column set
    let j = m.to_json();
    assert_eq!(j["ties"], ties.as_str());
    assert_eq!(j["n"], fx["n"]);
    assert_eq!(j["iterations"], fx["iter"]);
    close("json loglik", f(&j["loglik"]), f(&fx["loglik_final"]), 1e-13);
    close("json score", f(&j["score_test"]["statistic"]), f(&fx["score_test"]["statistic"]), 1e-8);
    close("json C", f(&j["concordance"]["C"]), f(&fx["concordance"]["C"]), 1e-12);
    assert_eq!(j["concordance"]["concordant"], fx["concordance"]["concordant"]);
    assert_eq!(j["concordance"]["tied_y"], fx["concordance"]["tied_y"]);
    let buf = m.coef_table("cox").to_csv_bytes().unwrap();
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "term,coef,hr,se,z,p,hr_lower,hr_upper");
    assert_eq!(lines.len(), terms.len() + 1);
    for (i, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], terms[i]);
        let want = [
            f(&fx["coef"][i]),
            f(&fx["exp_coef"][i]),
            f(&fx["se_coef"][i]),
            f(&fx["z"][i]),
            f(&fx["p"][i]),
            f(&fx["hr_lower_95"][i]),
            f(&fx["hr_upper_95"][i]),
        ];
        for (k, w) in want.iter().enumerate() {
            close(&format!("csv {} col {k}", terms[i]), cells[k + 1].parse().unwrap(), *w, 1e-7);
        }
    }
}

#[test]
fn lung_efron_matches_r() {
    check_fixture("cox_lung_efron.json", &lung(), Ties::Efron);
}

#[test]
fn lung_breslow_matches_r() {
    check_fixture("cox_lung_breslow.json", &lung(), Ties::Breslow);
}

#[test]
fn heart_counting_process_matches_r() {
    check_fixture("cox_heart_tdc_efron.json", &heart().0, Ties::Efron);
}

#[test]
fn ties_parse_from_str() {
    assert_eq!("efron".parse::<Ties>().unwrap(), Ties::Efron);
    assert_eq!("Breslow".parse::<Ties>().unwrap(), Ties::Breslow);
    assert!("exact".parse::<Ties>().is_err());
}

#[test]
fn start_zero_equals_right_censored() {
    let d = lung();
    let opts = CoxOptions::default();
    let a = fit(&d, &opts).unwrap();
    let zeros = vec![0.0; d.stop.len()];
    let b = coxph(Some(&zeros), &d.stop, &d.event, &d.design.x, &d.design.terms, None, None, &opts).unwrap();
    close("loglik", b.loglik, a.loglik, 1e-13);
    close_vec("coef", &b.coef, &a.coef, 1e-9);
    close_vec("se", &b.se, &a.se, 1e-9);
    assert_eq!(a.concordance, b.concordance);
    assert_eq!(a.concordance_se, b.concordance_se);
}

#[test]
fn strata_equal_disjoint_time_windows() {
    // a stratified fit equals one fit where each stratum lives in its own time window
    let d = lung();
    let strata: Vec<usize> = (0..d.stop.len()).map(|i| (d.design.x[[i, 1]] as usize) - 1).collect(); // by sex
    let terms = vec!["age".to_string(), "ph.ecog".to_string()];
    let x = Array2::from_shape_fn((d.stop.len(), 2), |(i, j)| d.design.x[[i, if j == 0 { 0 } else { 2 }]]);
    let opts = CoxOptions { eps: 1e-12, ..CoxOptions::default() };
    let a = coxph(None, &d.stop, &d.event, &x, &terms, Some(&strata), None, &opts).unwrap();
    let delta = 10_000.0;
    let start: Vec<f64> = strata.iter().map(|&s| s as f64 * delta).collect();
    let stop: Vec<f64> = d.stop.iter().zip(&strata).map(|(t, &s)| t + s as f64 * delta).collect();
    let b = coxph(Some(&start), &stop, &d.event, &x, &terms, None, None, &opts).unwrap();
    close("loglik", a.loglik, b.loglik, 1e-12);
    close("loglik_null", a.loglik_null, b.loglik_null, 1e-12);
    close_vec("coef", &a.coef, &b.coef, 1e-8);
    close_vec("se", &a.se, &b.se, 1e-8);
    close("score", a.score_test.stat, b.score_test.stat, 1e-10);
    close("C", a.concordance, b.concordance, 1e-12);
    close("C se", a.concordance_se, b.concordance_se, 1e-10);
    // and differs from the unstratified fit
    let c = coxph(None, &d.stop, &d.event, &x, &terms, None, None, &opts).unwrap();
    assert!((c.loglik - a.loglik).abs() > 1.0);
}

#[test]
fn concordance_counts_match_pairwise_definition_on_lung() {
    let d = lung();
    let m = fit(&d, &CoxOptions::default()).unwrap();
    let lp: Vec<f64> = (0..d.stop.len()).map(|i| (0..3).map(|j| d.design.x[[i, j]] * m.coef[j]).sum::<f64>()).collect();
    let (mut conc, mut disc, mut tx, mut ty) = (0.0, 0.0, 0.0, 0.0);
    let n = lp.len();
    for i in 0..n {
        if !d.event[i] {
            continue;
        }
        for j in 0..n {
            if j == i {
                continue;
            }
            if d.stop[j] > d.stop[i] || (d.stop[j] == d.stop[i] && !d.event[j]) {
                if lp[i] > lp[j] {
                    conc += 1.0
                } else if lp[i] < lp[j] {
                    disc += 1.0
                } else {
                    tx += 1.0
                }
            } else if d.stop[j] == d.stop[i] && d.event[j] && j > i && lp[i] != lp[j] {
                ty += 1.0
            }
        }
    }
    let c = concordance(None, &d.stop, &d.event, &lp, None, None).unwrap();
    assert_eq!((c.concordant, c.discordant, c.tied_x, c.tied_y), (conc, disc, tx, ty));
    close("C", c.concordance, (conc + tx / 2.0) / (conc + disc + tx), 1e-15);
}

/// Robust variance: dfbeta approximates the leave-one-out change in the
/// coefficients, so D'D must be close to the sum of squared LOO changes.
/// (The exact check of the score residuals is in the closed-form tests below.)
#[test]
fn robust_variance_matches_leave_one_out() {
    let d = lung();
    let n = d.stop.len();
    let ids: Vec<usize> = (0..n).collect();
    let opts = CoxOptions { eps: 1e-12, ..CoxOptions::default() };
    let m = coxph(None, &d.stop, &d.event, &d.design.x, &d.design.terms, None, Some(&ids), &opts).unwrap();
    let rse = m.robust_se.clone().unwrap();
    assert_eq!(m.n_clusters, Some(n));
    let mut ss = [0.0f64; 3];
    for i in 0..n {
        let keep: Vec<usize> = (0..n).filter(|&k| k != i).collect();
        let x = Array2::from_shape_fn((n - 1, 3), |(r, j)| d.design.x[[keep[r], j]]);
        let stop: Vec<f64> = keep.iter().map(|&k| d.stop[k]).collect();
        let event: Vec<bool> = keep.iter().map(|&k| d.event[k]).collect();
        let mi = coxph(None, &stop, &event, &x, &d.design.terms, None, None, &opts).unwrap();
        for (j, s) in ss.iter_mut().enumerate() {
            *s += (m.coef[j] - mi.coef[j]).powi(2);
        }
    }
    for j in 0..3 {
        // first-order (infinitesimal) vs exact jackknife: the exact one runs ~5-7% larger here
        close(&format!("robust se {j} vs jackknife"), rse[j], ss[j].sqrt(), 0.1);
        assert!(rse[j] < ss[j].sqrt());
        // sandwich and model-based SEs are of the same size on well-specified data
        assert!((rse[j] / m.se[j] - 1.0).abs() < 0.3);
    }
    // z, p, CI and the Wald test use the robust SE, as R's summary does
    close("z robust", m.z()[0], m.coef[0] / rse[0], 1e-15);
    let buf = m.coef_table("cox").to_csv_bytes().unwrap();
    assert!(String::from_utf8(buf).unwrap().starts_with("term,coef,hr,se,robust_se,z,p,hr_lower,hr_upper\n"));
    assert!(m.robust_score_test.unwrap().stat > 10.0);
}

/// Clustering the heart rows by patient: robust variance is finite, differs from
/// the row-level one, and the concordance SE uses cluster-summed influence.
#[test]
fn robust_variance_with_patient_clusters() {
    let (d, id) = heart();
    let rows: Vec<usize> = (0..d.stop.len()).collect();
    let opts = CoxOptions::default();
    let by_id = coxph(d.start.as_deref(), &d.stop, &d.event, &d.design.x, &d.design.terms, None, Some(&id), &opts).unwrap();
    let by_row = coxph(d.start.as_deref(), &d.stop, &d.event, &d.design.x, &d.design.terms, None, Some(&rows), &opts).unwrap();
    assert_eq!(by_id.n_clusters, Some(103));
    let plain = fit(&d, &opts).unwrap();
    assert_eq!(by_id.coef, plain.coef);
    close("concordance se, one row per cluster", by_row.concordance_se, plain.concordance_se, 1e-13);
    for j in 0..4 {
        let (a, b) = (by_id.robust_se.as_ref().unwrap()[j], by_row.robust_se.as_ref().unwrap()[j]);
        assert!(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0);
        assert!((a / plain.se[j] - 1.0).abs() < 0.5, "robust {a} vs model {}", plain.se[j]);
    }
    assert_ne!(by_id.robust_se, by_row.robust_se);
    assert_ne!(by_id.concordance_se, plain.concordance_se);
    // the Wald test uses the robust variance
    assert_ne!(by_id.wald_test.stat, plain.wald_test.stat);
}

/// Compare a `coxcluster_heart_*.json` fixture (tests/fixtures/r/cox_cluster.R):
/// `coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, heart,
/// cluster = id)`, and with `strata(surgery)` in place of the surgery term. We follow R's Newton steps, so the default-eps fit agrees
/// with R's default-eps numbers far inside 1e-6 (coef) / 1e-5 (robust SE):
/// measured 1.4e-13 (coef) and 2e-15 (robust SE) relative. The tolerance is
/// 1e-9 for platform roundoff; R's own convergence error here (default vs
/// `fully_converged`, eps = 1e-14) is 1.2e-12 absolute on coef, 4.5e-13
/// relative on the robust SE, so a tighter check would test R's stopping rule.
fn check_cluster_fixture(name: &str, ties: Ties) {
    let fx = fixture(name);
    assert_eq!(fx["ties"].as_str().unwrap(), ties.as_str());
    // heart with the fixture's terms (all numeric) and optional strata column
    let csv = Csv::read("heart.csv");
    let terms: Vec<String> = fx["terms"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    let cols: Vec<(String, ColumnData)> = terms.iter().map(|c| (c.clone(), ColumnData::Numeric(csv.num(c)))).collect();
    let design = build_design(&cols, None).unwrap();
    assert!(design.dropped_rows.is_empty());
    let col = |c: &str| -> Vec<f64> { csv.num(c).into_iter().map(|v| v.unwrap()).collect() };
    let id: Vec<usize> = col("id").iter().map(|&v| v as usize).collect();
    let strata: Option<Vec<usize>> = fx["strata"].as_str().map(|s| col(s).iter().map(|&v| v as usize).collect());
    let event: Vec<bool> = col("event").iter().map(|&v| v == 1.0).collect();
    let d = Data { start: Some(col("start")), stop: col("stop"), event, design };
    let opts = CoxOptions { ties, ..CoxOptions::default() };
    let fit_with = |opts: &CoxOptions| {
        coxph(d.start.as_deref(), &d.stop, &d.event, &d.design.x, &d.design.terms, strata.as_deref(), Some(&id), opts).unwrap()
    };
    let m = fit_with(&opts);
    const TOL: f64 = 1e-9;
    assert_eq!(m.n, fx["n"].as_u64().unwrap() as usize, "n");
    assert_eq!(m.nevent, fx["nevent"].as_u64().unwrap() as usize, "nevent");
    assert_eq!(m.n_clusters, Some(fx["n_clusters"].as_u64().unwrap() as usize), "clusters");
    assert_eq!(m.terms, terms);
    assert_eq!(m.iterations, fx["iter"].as_u64().unwrap() as usize, "iterations");
    close_vec("coef", &m.coef, &fv(&fx["coef"]), TOL);
    let hr = m.hazard_ratios();
    close_vec("exp_coef", &hr.iter().map(|h| h.0).collect::<Vec<_>>(), &fv(&fx["exp_coef"]), TOL);
    close_vec("se_coef (model-based)", &m.se, &fv(&fx["se_coef"]), TOL);
    let rse = m.robust_se.clone().expect("robust se");
    close_vec("robust_se", &rse, &fv(&fx["robust_se"]), TOL);
    close_vec("z (robust)", &m.z(), &fv(&fx["z"]), TOL);
    close_vec("p (robust)", &m.p_values(), &fv(&fx["p"]), 1e-8);
    close_vec("hr_lower_95", &hr.iter().map(|h| h.1).collect::<Vec<_>>(), &fv(&fx["hr_lower_95"]), TOL);
    close_vec("hr_upper_95", &hr.iter().map(|h| h.2).collect::<Vec<_>>(), &fv(&fx["hr_upper_95"]), TOL);
    let ci = m.coef_ci();
    close_vec("coef_lower_95", &ci.iter().map(|c| c.0).collect::<Vec<_>>(), &fv(&fx["coef_lower_95"]), TOL);
    close_vec("coef_upper_95", &ci.iter().map(|c| c.1).collect::<Vec<_>>(), &fv(&fx["coef_upper_95"]), TOL);
    let rvar = m.robust_var.clone().expect("robust var");
    for (key, got) in [("var", &rvar), ("naive_var", &m.var)] {
        let want = fx[key].as_array().unwrap();
        assert_eq!(want.len(), got.len(), "{key}");
        for (i, row) in want.iter().enumerate() {
            close_vec(&format!("{key}[{i}]"), &got[i], &fv(row), TOL);
        }
    }
    close("loglik_null", m.loglik_null, f(&fx["loglik_null"]), 1e-13);
    close("loglik_final", m.loglik, f(&fx["loglik_final"]), 1e-13);
    let rscore = m.robust_score_test.expect("robust score test");
    for (key, t) in
        [("lr_test", m.lr_test), ("wald_test", m.wald_test), ("score_test", m.score_test), ("robust_score_test", rscore)]
    {
        close(&format!("{key}.statistic"), t.stat, f(&fx[key]["statistic"]), TOL);
        assert_eq!(t.df as u64, fx[key]["df"].as_u64().unwrap(), "{key}.df");
        close(&format!("{key}.p"), t.p, f(&fx[key]["p"]), 1e-8);
    }
    close("concordance C", m.concordance, f(&fx["concordance"]["C"]), 1e-12);
    close("concordance se (cluster-summed)", m.concordance_se, f(&fx["concordance"]["se"]), 1e-10);

    // the CSV and JSON carry the robust numbers
    let j = m.to_json();
    close_vec("json robust_se", &fv(&j["robust_se"]), &fv(&fx["robust_se"]), TOL);
    close("json robust score", f(&j["robust_score_test"]["statistic"]), f(&fx["robust_score_test"]["statistic"]), TOL);
    assert_eq!(j["n_clusters"], fx["n_clusters"]);

    // fully converged (eps = 1e-14)
    let fc = &fx["fully_converged"];
    let m2 = fit_with(&CoxOptions { ties, eps: 1e-14, max_iter: 100, ..CoxOptions::default() });
    assert_eq!(m2.iterations, fc["iter"].as_u64().unwrap() as usize, "fully converged iterations");
    close_vec("fully converged coef", &m2.coef, &fv(&fc["coef"]), 1e-10);
    close_vec("fully converged robust_se", m2.robust_se.as_deref().unwrap(), &fv(&fc["robust_se"]), 1e-10);
    close_vec("fully converged se", &m2.se, &fv(&fc["se_coef"]), 1e-10);
}

#[test]
fn heart_cluster_efron_matches_r() {
    check_cluster_fixture("coxcluster_heart_efron.json", Ties::Efron);
}

#[test]
fn heart_cluster_breslow_matches_r() {
    check_cluster_fixture("coxcluster_heart_breslow.json", Ties::Breslow);
}

#[test]
fn heart_cluster_with_strata_matches_r() {
    check_cluster_fixture("coxcluster_heart_strata_surgery_efron.json", Ties::Efron);
}

// ------------------------------------ closed forms (Therneau & Grambsch appendix E,
// survival's tests/book1.R .. book4.R): loglik, score, information, MLE and score
// residuals (checked through the robust variance) for one binary covariate.

/// Closed-form quantities at one beta.
struct Truth {
    loglik: f64,
    u: f64,
    imat: f64,
    /// Score residual per row (rows in the order of the data below).
    score: Vec<f64>,
}

/// Data set 1 (book1/book2), NA row dropped, in the book's row order.
const T1_TIME: [f64; 6] = [1.0, 1.0, 6.0, 6.0, 8.0, 9.0];
const T1_STATUS: [bool; 6] = [true, false, true, true, false, true];
const T1_X: [f64; 6] = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];

fn test1_breslow(beta: f64) -> Truth {
    let r = beta.exp();
    let a = 3.0 * (r + 1.0).powi(2);
    let b = (r + 3.0).powi(2);
    Truth {
        loglik: 2.0 * beta - ((3.0 * r + 3.0).ln() + 2.0 * (r + 3.0).ln()),
        u: (6.0 + 3.0 * r - r * r) / ((r + 1.0) * (r + 3.0)),
        imat: r / (r + 1.0).powi(2) + 6.0 * r / (r + 3.0).powi(2),
        score: vec![
            (2.0 * r + 3.0) / a,
            -r / a,
            -r / a + 3.0 * (3.0 - r) / b,
            r / a - r * (r + 1.0) / b,
            r / a + 2.0 * r / b,
            r / a + 2.0 * r / b,
        ],
    }
}

fn test1_efron(beta: f64) -> Truth {
    let r = beta.exp();
    let t = |x: f64| x - x * x;
    let (a, b, d) = (r + 1.0, r + 3.0, r + 5.0);
    let abd2 = (a * b * d).powi(2);
    let s56 = 2.0 * r * (177.0 + r * (282.0 + r * (182.0 + r * (50.0 + 5.0 * r)))) / (3.0 * abd2);
    Truth {
        loglik: 2.0 * beta - ((3.0 * r + 3.0).ln() + ((r + 5.0) / 2.0).ln() + (r + 3.0).ln()),
        u: (30.0 + 23.0 * r - r.powi(3)) / ((r + 1.0) * (r + 3.0) * (r + 5.0)),
        imat: t(r / (r + 1.0)) + t(r / (r + 5.0)) + t(r / (r + 3.0)),
        score: vec![
            (2.0 * r + 3.0) / (3.0 * a * a),
            -r / (3.0 * a * a),
            (675.0 + r * (1305.0 + r * (756.0 + r * (-4.0 + r * (-79.0 - 13.0 * r))))) / (3.0 * abd2),
            r * (1.0 / (3.0 * a * a) - a / (2.0 * b * b) - b / (2.0 * d * d)),
            s56,
            s56,
        ],
    }
}

/// Data set 2 (book3/book4): counting process.
const T2_START: [f64; 10] = [1.0, 2.0, 5.0, 2.0, 1.0, 7.0, 3.0, 4.0, 8.0, 8.0];
const T2_STOP: [f64; 10] = [2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 9.0, 9.0, 14.0, 17.0];
const T2_EVENT: [bool; 10] = [true, true, true, true, true, true, true, false, false, false];
const T2_X: [f64; 10] = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0];

/// Score residuals from the book's weight-matrix layout: `cols[k]` lists the
/// at-risk weights (before risk scores) per row for pseudo death time k,
/// `hazard[k]` its hazard jump, `observed[k]` the (row, amount) of dN.
fn score_from_matrix(r: f64, cols: &[[f64; 10]], hazard: &[f64], observed: &[Vec<(usize, f64)>]) -> Vec<f64> {
    let risk: Vec<f64> = T2_X.iter().map(|&x| if x == 1.0 { r } else { 1.0 }).collect();
    let mut score = vec![0.0; 10];
    for (k, col) in cols.iter().enumerate() {
        let w: Vec<f64> = (0..10).map(|i| col[i] * risk[i]).collect();
        let xbar = (0..10).map(|i| w[i] * T2_X[i]).sum::<f64>() / w.iter().sum::<f64>();
        for i in 0..10 {
            let mut dm = -w[i] * hazard[k];
            for &(row, amount) in &observed[k] {
                if row == i {
                    dm += amount;
                }
            }
            score[i] += dm * (T2_X[i] - xbar);
        }
    }
    score
}

const T2_COLS: [[f64; 10]; 6] = [
    [1., 0., 0., 0., 1., 0., 0., 0., 0., 0.],
    [0., 1., 0., 1., 1., 0., 0., 0., 0., 0.],
    [0., 0., 1., 1., 1., 0., 1., 1., 0., 0.],
    [0., 0., 0., 1., 1., 0., 1., 1., 0., 0.],
    [0., 0., 0., 0., 1., 1., 1., 1., 0., 0.],
    [0., 0., 0., 0., 0., 1., 1., 1., 1., 1.],
];

fn test2_breslow(beta: f64) -> Truth {
    let r = beta.exp();
    let hazard = [
        1.0 / (r + 1.0),
        1.0 / (r + 2.0),
        1.0 / (3.0 * r + 2.0),
        1.0 / (3.0 * r + 1.0),
        1.0 / (3.0 * r + 1.0),
        2.0 / (3.0 * r + 2.0),
    ];
    let mut observed: Vec<Vec<(usize, f64)>> = (0..6).map(|i| vec![(i, 1.0)]).collect();
    observed[5].push((6, 1.0));
    Truth {
        loglik: 4.0 * beta - (r + 1.0).ln() - (r + 2.0).ln() - 3.0 * (3.0 * r + 2.0).ln() - 2.0 * (3.0 * r + 1.0).ln(),
        u: 1.0 / (r + 1.0) + 1.0 / (3.0 * r + 1.0) + 4.0 / (3.0 * r + 2.0)
            - (r / (r + 2.0) + 3.0 * r / (3.0 * r + 2.0) + 3.0 * r / (3.0 * r + 1.0)),
        imat: r / (r + 1.0).powi(2)
            + 2.0 * r / (r + 2.0).powi(2)
            + 6.0 * r / (3.0 * r + 2.0).powi(2)
            + 3.0 * r / (3.0 * r + 1.0).powi(2)
            + 3.0 * r / (3.0 * r + 1.0).powi(2)
            + 12.0 * r / (3.0 * r + 2.0).powi(2),
        score: score_from_matrix(r, &T2_COLS, &hazard, &observed),
    }
}

fn test2_efron(beta: f64) -> Truth {
    let r = beta.exp();
    let mut cols = T2_COLS.to_vec();
    cols.push([0., 0., 0., 0., 0., 0.5, 0.5, 1., 1., 1.]);
    let hazard = [
        1.0 / (r + 1.0),
        1.0 / (r + 2.0),
        1.0 / (3.0 * r + 2.0),
        1.0 / (3.0 * r + 1.0),
        1.0 / (3.0 * r + 1.0),
        1.0 / (3.0 * r + 2.0),
        1.0 / (2.0 * r + 2.0),
    ];
    let mut observed: Vec<Vec<(usize, f64)>> = (0..5).map(|i| vec![(i, 1.0)]).collect();
    observed.push(vec![(5, 0.5), (6, 0.5)]);
    observed.push(vec![(5, 0.5), (6, 0.5)]);
    Truth {
        loglik: 4.0 * beta
            - ((r + 1.0).ln() + (r + 2.0).ln() + 2.0 * (3.0 * r + 2.0).ln() + 2.0 * (3.0 * r + 1.0).ln() + (2.0 * r + 2.0).ln()),
        u: 1.0 / (r + 1.0) + 1.0 / (3.0 * r + 1.0) + 2.0 * (1.0 / (3.0 * r + 2.0) + 1.0 / (2.0 * r + 2.0))
            - (r / (r + 2.0) + 3.0 * r / (3.0 * r + 2.0) + 3.0 * r / (3.0 * r + 1.0)),
        imat: r
            * (1.0 / (r + 1.0).powi(2)
                + 2.0 / (r + 2.0).powi(2)
                + 6.0 / (3.0 * r + 2.0).powi(2)
                + 6.0 / (3.0 * r + 1.0).powi(2)
                + 6.0 / (3.0 * r + 2.0).powi(2)
                + 4.0 / (2.0 * r + 2.0).powi(2)),
        score: score_from_matrix(r, &cols, &hazard, &observed),
    }
}

/// Root of the closed-form score by bisection.
fn solve(truth: fn(f64) -> Truth) -> f64 {
    let (mut lo, mut hi) = (-5.0f64, 5.0f64);
    assert!(truth(lo).u.signum() != truth(hi).u.signum());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if truth(mid).u.signum() == truth(lo).u.signum() {
            lo = mid
        } else {
            hi = mid
        }
    }
    0.5 * (lo + hi)
}

fn check_closed_form(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    x: &[f64],
    ties: Ties,
    truth: fn(f64) -> Truth,
    book_beta: Option<f64>,
) {
    let n = stop.len();
    let xm = Array2::from_shape_vec((n, 1), x.to_vec()).unwrap();
    let terms = ["x".to_string()];
    let rows: Vec<usize> = (0..n).collect();
    let opts = CoxOptions { ties, eps: 1e-13, max_iter: 50, ..CoxOptions::default() };
    let m = coxph(start, stop, event, &xm, &terms, None, Some(&rows), &opts).unwrap();
    let bhat = solve(truth);
    if let Some(b) = book_beta {
        close("book beta", bhat, b, 1e-7);
    }
    let (t0, t) = (truth(0.0), truth(bhat));
    close("coef", m.coef[0], bhat, 1e-10);
    close("loglik_null", m.loglik_null, t0.loglik, 1e-14);
    close("loglik", m.loglik, t.loglik, 1e-14);
    close("var", m.var[0][0], 1.0 / t.imat, 1e-10);
    close("score test", m.score_test.stat, t0.u * t0.u / t0.imat, 1e-12);
    close("wald (robust)", m.wald_test.stat, bhat * bhat / m.robust_var.as_ref().unwrap()[0][0], 1e-12);
    // robust variance = V^2 * sum of squared score residuals (each row its own cluster)
    let ss: f64 = t.score.iter().map(|s| s * s).sum();
    close("robust var", m.robust_var.as_ref().unwrap()[0][0], ss / (t.imat * t.imat), 1e-9);
    let ss0: f64 = t0.score.iter().map(|s| s * s).sum();
    close("robust score test", m.robust_score_test.unwrap().stat, t0.u * t0.u / ss0, 1e-12);
    // the score residuals add up to the score
    close("sum of score residuals at 0", t0.score.iter().sum::<f64>(), t0.u, 1e-12);

    // three copies as strata, shifted in time (book3/book4 "reprise with strata")
    let s3: Vec<usize> = (0..3 * n).map(|i| i / n).collect();
    let shift = |v: &[f64]| -> Vec<f64> { (0..3 * n).map(|i| v[i % n] + (i / n) as f64 + 1.0).collect() };
    let stop3 = shift(stop);
    let start3 = start.map(shift);
    let event3: Vec<bool> = (0..3 * n).map(|i| event[i % n]).collect();
    let x3 = Array2::from_shape_fn((3 * n, 1), |(i, _)| x[i % n]);
    let m3 = coxph(start3.as_deref(), &stop3, &event3, &x3, &terms, Some(&s3), None, &opts).unwrap();
    close("strata loglik_null", m3.loglik_null, 3.0 * t0.loglik, 1e-13);
    close("strata loglik", m3.loglik, 3.0 * t.loglik, 1e-13);
    close("strata coef", m3.coef[0], bhat, 1e-10);
    close("strata var", m3.var[0][0], 1.0 / (3.0 * t.imat), 1e-10);
}

#[test]
fn book_test1_breslow() {
    check_closed_form(None, &T1_TIME, &T1_STATUS, &T1_X, Ties::Breslow, test1_breslow, Some(1.4752849));
}

#[test]
fn book_test1_efron() {
    let truebeta = ((((45.0f64 / 23.0) * (3.0f64 / 23.0).sqrt()).acos() / 3.0).cos() * 2.0 * (23.0f64 / 3.0).sqrt()).ln();
    check_closed_form(None, &T1_TIME, &T1_STATUS, &T1_X, Ties::Efron, test1_efron, Some(truebeta));
}

#[test]
fn book_test2_breslow() {
    check_closed_form(Some(&T2_START), &T2_STOP, &T2_EVENT, &T2_X, Ties::Breslow, test2_breslow, Some(-0.084526081));
}

#[test]
fn book_test2_efron() {
    check_closed_form(Some(&T2_START), &T2_STOP, &T2_EVENT, &T2_X, Ties::Efron, test2_efron, None);
}

// ---------------------------------------------------------------- errors

fn small(x: Vec<f64>, time: Vec<f64>, event: Vec<bool>) -> Result<CoxModel, StatsError> {
    let n = x.len();
    let x = Array2::from_shape_vec((n, 1), x).unwrap();
    coxph(None, &time, &event, &x, &["z".to_string()], None, None, &CoxOptions::default())
}

#[test]
fn constant_covariate_is_singular() {
    match small(vec![1.0; 5], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![true; 5]) {
        Err(StatsError::Singular { term, .. }) => assert_eq!(term, "z"),
        other => panic!("{other:?}"),
    }
    // constant within each stratum (not overall): singular information
    let x = Array2::from_shape_vec((6, 1), vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
    let t = [1.0, 2.0, 3.0, 1.5, 2.5, 3.5];
    let e = [true; 6];
    let s = [0, 0, 0, 1, 1, 1];
    match coxph(None, &t, &e, &x, &["grp".to_string()], Some(&s), None, &CoxOptions::default()) {
        Err(StatsError::Singular { term, .. }) => assert_eq!(term, "grp"),
        other => panic!("{other:?}"),
    }
    // and the design builder refuses a constant column too
    let cols = vec![("k".to_string(), ColumnData::Numeric(vec![Some(2.0), Some(2.0), None]))];
    assert!(matches!(build_design(&cols, None), Err(StatsError::Singular { term, .. }) if term == "k"));
}

#[test]
fn no_events_is_empty() {
    assert!(matches!(small(vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.0], vec![false; 3]), Err(StatsError::Empty(_))));
}

#[test]
fn monotone_likelihood_is_reported() {
    // the only subject with z = 1 dies first: beta -> +inf; the log-likelihood
    // converges while the coefficient does not (R: "Loglik converged before variable 1")
    let n = 30;
    let x: Vec<f64> = (0..n).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    let t: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    match small(x, t, vec![true; n]) {
        Err(StatsError::NotConverged { message, .. }) => {
            assert!(message.contains("converged before variable `z`") && message.contains("infinite"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // every event happens in group 1 while group 0 is at risk: here the
    // log-likelihood creeps up too slowly and R runs out of iterations
    let x = vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    let t = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let e = vec![true, true, true, true, false, false, false, false];
    match small(x, t, e) {
        Err(StatsError::NotConverged { iterations, message }) => {
            assert_eq!(iterations, 20);
            assert!(message.contains("`z`") && message.contains("monotone likelihood"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_few_iterations_is_not_converged() {
    let d = lung();
    match fit(&d, &CoxOptions { max_iter: 1, ..CoxOptions::default() }) {
        Err(StatsError::NotConverged { iterations, .. }) => assert_eq!(iterations, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_is_rejected() {
    let x = Array2::from_shape_vec((2, 1), vec![0.0, 1.0]).unwrap();
    let terms = ["z".to_string()];
    let o = CoxOptions::default();
    let e = coxph(Some(&[2.0, 0.0]), &[1.0, 3.0], &[true, true], &x, &terms, None, None, &o).unwrap_err();
    assert!(e.to_string().contains("row 1"), "{e}");
    let e = coxph(None, &[1.0, f64::NAN], &[true, true], &x, &terms, None, None, &o).unwrap_err();
    assert!(e.to_string().contains("row 2"), "{e}");
    let e = coxph(None, &[1.0], &[true, true], &x, &terms, None, None, &o).unwrap_err();
    assert!(matches!(e, StatsError::InvalidInput { .. }));
}

#[test]
fn unknown_level_is_an_error() {
    let csv = Csv::read("veteran.csv");
    let mut lv = HashMap::new();
    lv.insert("celltype".to_string(), vec!["squamous".to_string(), "smallcell".to_string(), "adeno".to_string()]);
    let cols = vec![("celltype".to_string(), ColumnData::Categorical(csv.text("celltype")))];
    match build_design(&cols, Some(&lv)) {
        Err(StatsError::InvalidInput { column, message }) => {
            assert_eq!(column, "celltype");
            assert!(message.contains("`large`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn veteran_design_uses_r_term_names() {
    let csv = Csv::read("veteran.csv");
    let mut lv = HashMap::new();
    lv.insert("celltype".to_string(), ["squamous", "smallcell", "adeno", "large"].iter().map(|s| s.to_string()).collect());
    let cols = vec![
        ("trt".to_string(), ColumnData::Numeric(csv.num("trt"))),
        ("celltype".to_string(), ColumnData::Categorical(csv.text("celltype"))),
        ("karno".to_string(), ColumnData::Numeric(csv.num("karno"))),
    ];
    let d = build_design(&cols, Some(&lv)).unwrap();
    assert_eq!(d.terms, vec!["trt", "celltypesmallcell", "celltypeadeno", "celltypelarge", "karno"]);
    assert_eq!(d.x.nrows(), 137);
    assert!(d.dropped_rows.is_empty());
    let ct = csv.text("celltype");
    for (i, c) in ct.iter().enumerate() {
        let row = d.x.row(i);
        let want = match c.as_deref().unwrap() {
            "squamous" => [0.0, 0.0, 0.0],
            "smallcell" => [1.0, 0.0, 0.0],
            "adeno" => [0.0, 1.0, 0.0],
            _ => [0.0, 0.0, 1.0],
        };
        assert_eq!([row[1], row[2], row[3]], want);
    }
    // derived (alphabetical) levels when none are given: adeno is the reference
    let d2 = build_design(&cols, None).unwrap();
    assert_eq!(d2.terms, vec!["trt", "celltypelarge", "celltypesmallcell", "celltypesquamous", "karno"]);
}
