//! Kaplan–Meier and Nelson–Aalen against R survival 3.5 reference values
//! (tests/fixtures/reference/expected/km_*.json, nelson_aalen_*.json).
//! Every number in those files is compared: rows at 1e-12 relative, medians and
//! quantiles exactly, `null` as `None`.

use std::path::Path;

use hemosurv::stats::km::{kaplan_meier, nelson_aalen, ConfType, KaplanMeier, KmOptions, NaTies};
use hemosurv::stats::{Grouping, StatsError};
use serde_json::Value;

use crate::common;
use crate::common::{assert_close, fixtures, load_json, read_csv, surv_data, REF};

const TOL: f64 = 1e-12;
/// R's qnorm(0.975).
const Z975: f64 = 1.959963984540054;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn opt(v: &Value) -> Option<f64> {
    if v.is_null() {
        None
    } else {
        Some(v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")))
    }
}

fn arr(v: &Value, key: &str) -> Vec<Option<f64>> {
    v[key].as_array().unwrap_or_else(|| panic!("missing array {key}")).iter().map(opt).collect()
}

fn assert_opt(got: Option<f64>, want: Option<f64>, tol: f64, ctx: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => assert_close(g, w, tol, ctx),
        _ => panic!("{ctx}: got {got:?}, want {want:?}"),
    }
}

/// Exact comparison (medians, quantiles).
fn assert_exact(got: Option<f64>, want: Option<f64>, ctx: &str) {
    assert_eq!(got, want, "{ctx}");
}

/// The grouping column of an R call `survfit(Surv(time, status) ~ x, ...)`; `None` for `~ 1`.
fn group_column(call: &str) -> Option<String> {
    let rhs = call.split('~').nth(1).expect("formula");
    let term = rhs.split(',').next().expect("term").trim().trim_end_matches(')').trim();
    if term == "1" {
        None
    } else {
        Some(term.to_string())
    }
}

/// Data, grouping and stratum names (R `x=level`, or `all`) for a fixture.
fn fixture_input(fx: &Value) -> (Vec<f64>, Vec<bool>, Grouping, Vec<String>) {
    let cols = read_csv(fx["data_file"].as_str().expect("data_file"));
    let (time, event) = surv_data(&cols);
    match group_column(fx["call"].as_str().expect("call")) {
        None => (time.clone(), event, Grouping::single(time.len(), "all"), vec!["all".to_string()]),
        Some(col) => {
            let g = Grouping::from_values(&cols[&col]);
            let names = g.labels.iter().map(|l| format!("{col}={l}")).collect();
            (time, event, g, names)
        }
    }
}

// ---------------------------------------------------------------------------
// Kaplan–Meier against every km_*.json
// ---------------------------------------------------------------------------

fn check_km_fixture(path: &Path) -> usize {
    let fx = load_json(path);
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let conf_type: ConfType = fx["conf_type"].as_str().expect("conf_type").parse().expect("conf type");
    assert_eq!(fx["conf_int"].as_f64(), Some(0.95), "{file}");
    let (time, event, groups, names) = fixture_input(&fx);
    let strata = fx["strata"].as_object().expect("strata");
    assert_eq!(strata.len(), names.len(), "{file}: number of strata");

    // The RMST tau is the same for every stratum of a file.
    let taus: Vec<f64> = strata.values().map(|s| s["rmean_tau"].as_f64().expect("rmean_tau")).collect();
    assert!(taus.iter().all(|&t| t == taus[0]));
    let opts = KmOptions { conf_type, conf_level: 0.95, rmst_tau: Some(taus[0]) };
    let fit = kaplan_meier(&time, &event, &groups, &opts).expect("fit");
    assert_eq!(fit.curves.len(), names.len());

    let mut compared = 0usize;
    for (curve, name) in fit.curves.iter().zip(&names) {
        let s = &strata[name.as_str()];
        let ctx = format!("{file} [{name}]");
        assert_eq!(curve.n as u64, s["n"].as_u64().expect("n"), "{ctx} n");
        assert_eq!(curve.events as u64, s["events"].as_u64().expect("events"), "{ctx} events");
        let t = arr(s, "time");
        assert_eq!(curve.rows.len(), t.len(), "{ctx}: number of rows");
        let cols =
            ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "std_err_surv", "lower", "upper", "cumhaz", "std_chaz"];
        let want: Vec<Vec<Option<f64>>> = cols.iter().map(|c| arr(s, c)).collect();
        for (i, r) in curve.rows.iter().enumerate() {
            let got = [
                Some(r.time),
                Some(r.n_risk as f64),
                Some(r.n_event as f64),
                Some(r.n_censor as f64),
                Some(r.surv),
                r.std_err,
                r.std_err_surv,
                r.lower,
                r.upper,
                Some(r.cumhaz),
                Some(r.std_chaz),
            ];
            for (k, c) in cols.iter().enumerate() {
                assert_eq!(want[k].len(), curve.rows.len(), "{ctx} {c} length");
                let tol = if k < 4 { 0.0 } else { TOL };
                assert_opt(got[k], want[k][i], tol, &format!("{ctx} row {i} (t={}) {c}", r.time));
                compared += 1;
            }
        }
        assert_exact(curve.median, opt(&s["median"]), &format!("{ctx} median"));
        assert_exact(curve.median_lower, opt(&s["median_lcl"]), &format!("{ctx} median LCL"));
        assert_exact(curve.median_upper, opt(&s["median_ucl"]), &format!("{ctx} median UCL"));
        let (rm, rse, rtau) = curve.rmst.expect("rmst requested");
        assert_eq!(rtau, taus[0]);
        assert_close(rm, s["rmean"].as_f64().expect("rmean"), TOL, &format!("{ctx} rmean"));
        assert_close(rse, s["rmean_se"].as_f64().expect("rmean_se"), TOL, &format!("{ctx} rmean_se"));
        compared += 5;

        let q = &s["quantiles"];
        let probs = arr(q, "probs");
        assert_eq!(curve.quantiles.len(), probs.len(), "{ctx} quantiles");
        let (qq, ql, qu) = (arr(q, "quantile"), arr(q, "lower"), arr(q, "upper"));
        for (i, kq) in curve.quantiles.iter().enumerate() {
            assert_eq!(Some(kq.prob), probs[i]);
            assert_exact(kq.time, qq[i], &format!("{ctx} quantile {}", kq.prob));
            assert_exact(kq.lower, ql[i], &format!("{ctx} quantile {} lower", kq.prob));
            assert_exact(kq.upper, qu[i], &format!("{ctx} quantile {} upper", kq.prob));
            compared += 3;
        }
    }
    compared
}

#[test]
fn km_matches_r_for_every_fixture() {
    let files = fixtures("km_");
    // aml by x, lung overall, lung by sex, veteran by trt, freireich by group, toy a, toy b; log + log-log.
    assert_eq!(files.len(), 14, "{files:?}");
    let mut total = 0;
    for f in &files {
        total += check_km_fixture(f);
    }
    assert!(total > 5000, "compared only {total} numbers");
}

#[test]
fn veteran_median_uses_r_tolerance_and_midpoint() {
    // S(52) = 0.49999999999999967 for trt = 2: R reports 52.5, not 52.
    let cols = read_csv("data/veteran.csv");
    let (time, event) = surv_data(&cols);
    let g = Grouping::from_values(&cols["trt"]);
    let fit = kaplan_meier(&time, &event, &g, &KmOptions::default()).unwrap();
    let c = &fit.curves[1];
    let r52 = c.rows.iter().find(|r| r.time == 52.0).unwrap();
    assert!(r52.surv < 0.5 && (r52.surv - 0.5).abs() < 1e-15);
    assert_eq!(c.median, Some(52.5));
}

#[test]
fn toy_b_print_and_quantile_disagree_like_r() {
    let cols = read_csv("data/toy_median_b.csv");
    let (time, event) = surv_data(&cols);
    let fit = kaplan_meier(&time, &event, &Grouping::single(time.len(), "all"), &KmOptions::default()).unwrap();
    let c = &fit.curves[0];
    assert_eq!(c.median, Some(2.0));
    assert_eq!(c.quantiles[1].time, Some(3.0));
    assert_eq!(c.quantile(&[0.0, 0.5, 1.5])[0].time, Some(0.0));
    assert_eq!(c.quantile(&[0.0, 0.5, 1.5])[2].time, None);
}

// ---------------------------------------------------------------------------
// plain confidence intervals
// ---------------------------------------------------------------------------

#[test]
fn z_matches_r_qnorm() {
    assert_close(hemosurv::stats::dist::z_for_level(0.95), Z975, 1e-15, "qnorm(0.975)");
}

#[test]
fn plain_ci_is_s_plus_minus_z_se_clipped() {
    let mut checked = 0;
    for path in fixtures("km_").into_iter().filter(|p| p.to_string_lossy().ends_with("_log.json")) {
        let fx = load_json(&path);
        let (time, event, groups, names) = fixture_input(&fx);
        let opts = KmOptions { conf_type: ConfType::Plain, ..KmOptions::default() };
        let fit = kaplan_meier(&time, &event, &groups, &opts).unwrap();
        for (curve, name) in fit.curves.iter().zip(&names) {
            let s = &fx["strata"][name.as_str()];
            let (surv, se) = (arr(s, "surv"), arr(s, "std_err_surv"));
            for (i, r) in curve.rows.iter().enumerate() {
                let sv = surv[i].unwrap();
                let (lo, up) = match se[i] {
                    None => (None, None),
                    Some(e) => (Some((sv - Z975 * e).max(0.0)), Some((sv + Z975 * e).min(1.0))),
                };
                let ctx = format!("{} [{name}] row {i} plain", path.display());
                assert_opt(r.lower, lo, TOL, &format!("{ctx} lower"));
                assert_opt(r.upper, up, TOL, &format!("{ctx} upper"));
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "{checked}");
}

#[test]
fn plain_ci_handles_s_one_and_zero() {
    // t=1 censored (S=1), then everyone dies: S reaches 0.
    let time = [1.0, 2.0, 3.0];
    let event = [false, true, true];
    let opts = KmOptions { conf_type: ConfType::Plain, ..KmOptions::default() };
    let fit = kaplan_meier(&time, &event, &Grouping::single(3, "all"), &opts).unwrap();
    let r = &fit.curves[0].rows;
    assert_eq!((r[0].lower, r[0].upper), (Some(1.0), Some(1.0)));
    assert_eq!(r[0].std_err, Some(0.0));
    assert_eq!((r[2].surv, r[2].std_err, r[2].lower, r[2].upper), (0.0, None, None, None));
    // 1 of 2 dies at t=2: S = 0.5, se(log S) = sqrt(1/(2*1)).
    let se = (0.5f64).sqrt() * 0.5;
    assert_close(r[1].lower.unwrap(), (0.5 - se * Z975).max(0.0), 1e-15, "lower");
    assert_close(r[1].upper.unwrap(), (0.5 + se * Z975).min(1.0), 1e-15, "upper");
}

// ---------------------------------------------------------------------------
// Nelson–Aalen
// ---------------------------------------------------------------------------

fn check_na_fixture(file: &str, ties: NaTies) {
    let fx = load_json(&Path::new(REF).join("expected").join(file));
    let cols = read_csv(fx["data_file"].as_str().unwrap());
    let (time, event) = surv_data(&cols);
    let g = Grouping::single(time.len(), "all");
    let na = nelson_aalen(&time, &event, &g, ties).unwrap();
    let km = kaplan_meier(&time, &event, &g, &KmOptions::default()).unwrap();
    let rows = &na.curves[0].rows;
    let want_t = arr(&fx, "time");
    assert_eq!(rows.len(), want_t.len(), "{file} rows");
    let (nr, ne, nc) = (arr(&fx, "n_risk"), arr(&fx, "n_event"), arr(&fx, "n_censor"));
    let (ch, sc) = (arr(&fx, "cumhaz"), arr(&fx, "std_chaz"));
    let (skm, sekm) = (arr(&fx, "surv_km"), arr(&fx, "std_err_km_log"));
    for (i, r) in rows.iter().enumerate() {
        let ctx = format!("{file} row {i}");
        assert_eq!(Some(r.time), want_t[i], "{ctx} time");
        assert_eq!(Some(r.n_risk as f64), nr[i], "{ctx} n_risk");
        assert_eq!(Some(r.n_event as f64), ne[i], "{ctx} n_event");
        assert_eq!(Some(r.n_censor as f64), nc[i], "{ctx} n_censor");
        assert_opt(Some(r.cumhaz), ch[i], TOL, &format!("{ctx} cumhaz"));
        assert_opt(Some(r.std_chaz), sc[i], TOL, &format!("{ctx} std_chaz"));
        let k = &km.curves[0].rows[i];
        assert_opt(Some(k.surv), skm[i], TOL, &format!("{ctx} surv_km"));
        assert_opt(k.std_err, sekm[i], TOL, &format!("{ctx} std_err_km_log"));
        if ties == NaTies::Breslow {
            // The KM fit carries the ctype-1 hazard in every row.
            assert_opt(Some(k.cumhaz), ch[i], TOL, &format!("{ctx} km cumhaz"));
            assert_opt(Some(k.std_chaz), sc[i], TOL, &format!("{ctx} km std_chaz"));
        }
    }
}

#[test]
fn nelson_aalen_ctype1_matches_r() {
    check_na_fixture("nelson_aalen_aml_overall.json", NaTies::Breslow);
}

#[test]
fn nelson_aalen_ctype2_matches_r() {
    check_na_fixture("nelson_aalen_aml_overall_ctype2.json", NaTies::FlemingHarrington);
}

#[test]
fn nelson_aalen_csv() {
    let g = Grouping::single(3, "all");
    let na = nelson_aalen(&[2.0, 1.0, 2.0], &[true, false, true], &g, NaTies::FlemingHarrington).unwrap();
    let out = na.table("na").to_csv_bytes().unwrap();
    let want = format!(
        "group,time,n_risk,n_event,n_censor,cumhaz,cumhaz_se\nall,1,3,0,1,0,0\nall,2,2,2,0,{},{}\n",
        0.5 + 1.0,
        (0.25f64 + 1.0).sqrt()
    );
    assert_eq!(String::from_utf8(out).unwrap(), want);
}

// ---------------------------------------------------------------------------
// tables, lookups
// ---------------------------------------------------------------------------

fn aml_fit(opts: &KmOptions) -> KaplanMeier {
    let cols = read_csv("data/aml.csv");
    let (time, event) = surv_data(&cols);
    kaplan_meier(&time, &event, &Grouping::from_values(&cols["x"]), opts).unwrap()
}

#[test]
fn table_csv_has_header_na_cells_and_is_deterministic() {
    let fit = aml_fit(&KmOptions::default());
    let a = fit.table("km").to_csv_bytes().unwrap();
    let b = aml_fit(&KmOptions::default()).table("km").to_csv_bytes().unwrap();
    assert_eq!(a, b);
    let text = String::from_utf8(a).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se");
    assert_eq!(lines.len(), 1 + 10 + 10);
    assert!(!text.contains("NaN") && !text.contains("inf"));
    // First Maintained row: std_err column is the SE of S (summary.survfit).
    let r = &fit.curves[0].rows[0];
    assert_eq!(
        lines[1],
        format!("Maintained,9,11,1,0,{},{},{},1,{},{}", r.surv, r.std_err_surv.unwrap(), r.lower.unwrap(), r.cumhaz, r.std_chaz)
    );
    assert_close(r.std_err_surv.unwrap(), 0.08667841720414475, TOL, "se of S");
    // Nonmaintained ends with S = 0 at t = 45: NA cells for std_err, lower, upper.
    let last = lines.last().unwrap();
    let f: Vec<&str> = last.split(',').collect();
    assert_eq!((f[0], f[1], f[5], f[6], f[7], f[8]), ("Nonmaintained", "45", "0", "", "", ""));
}

#[test]
fn summary_csv() {
    let fit = aml_fit(&KmOptions { rmst_tau: Some(40.0), ..KmOptions::default() });
    let out = fit.summary_table("summary").to_csv_bytes().unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "group,n,events,median,median_lower,median_upper,rmst,rmst_se");
    let (r0, r1) = (fit.curves[0].rmst.unwrap(), fit.curves[1].rmst.unwrap());
    assert_eq!(lines[1], format!("Maintained,11,7,31,18,,{},{}", r0.0, r0.1));
    assert_eq!(lines[2], format!("Nonmaintained,12,11,23,8,,{},{}", r1.0, r1.1));
    // Without tau the RMST cells are empty.
    let out = aml_fit(&KmOptions::default()).summary_table("summary").to_csv_bytes().unwrap();
    assert!(String::from_utf8(out).unwrap().lines().nth(1).unwrap().ends_with("31,18,,,"));
}

#[test]
fn group_labels_with_commas_are_quoted() {
    let g = Grouping::from_values(&["a,b", "a,b", "c"]);
    let fit = kaplan_meier(&[1.0, 2.0, 3.0], &[true, false, true], &g, &KmOptions::default()).unwrap();
    let out = fit.summary_table("summary").to_csv_bytes().unwrap();
    assert!(String::from_utf8(out).unwrap().contains("\n\"a,b\",2,1,1,1,,,\n"));
}

#[test]
fn n_risk_at_and_surv_at() {
    let fit = aml_fit(&KmOptions::default());
    // Maintained times: 9 13 13+ 18 23 28+ 31 34 45+ 48 161+
    assert_eq!(fit.n_risk_at(0, 0.0), 11);
    assert_eq!(fit.n_risk_at(0, 9.0), 11);
    assert_eq!(fit.n_risk_at(0, 9.5), 10);
    assert_eq!(fit.n_risk_at(0, 13.0), 10);
    assert_eq!(fit.n_risk_at(0, 14.0), 8);
    assert_eq!(fit.n_risk_at(0, 161.0), 1);
    assert_eq!(fit.n_risk_at(0, 162.0), 0);
    assert_eq!(fit.surv_at(0, 0.0), 1.0);
    assert_eq!(fit.surv_at(0, 8.999), 1.0);
    assert_eq!(fit.surv_at(0, 9.0), 10.0 / 11.0);
    assert_eq!(fit.surv_at(0, 12.0), 10.0 / 11.0);
    assert_eq!(fit.surv_at(0, 500.0), fit.curves[0].rows.last().unwrap().surv);
    assert_eq!(fit.n_risk_at(1, 0.0), 12);
}

#[test]
fn grouping_order_follows_levels() {
    let cols = read_csv("data/freireich.csv");
    let (time, event) = surv_data(&cols);
    let levels = vec!["placebo".to_string(), "6-MP".to_string()];
    let g = Grouping::with_levels("group", &cols["group"], &levels).unwrap();
    let fit = kaplan_meier(&time, &event, &g, &KmOptions::default()).unwrap();
    assert_eq!(fit.curves[0].group, "placebo");
    assert_eq!(fit.curves[0].median, Some(8.0));
    assert_eq!(fit.curves[1].median, Some(23.0));
}

// ---------------------------------------------------------------------------
// bad input
// ---------------------------------------------------------------------------

fn col_of(e: &StatsError) -> &str {
    match e {
        StatsError::InvalidInput { column, .. } => column,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn bad_input_is_rejected_with_clear_errors() {
    let d = KmOptions::default();
    let one = |n| Grouping::single(n, "all");
    // length mismatch
    let e = kaplan_meier(&[1.0, 2.0], &[true], &one(2), &d).unwrap_err();
    assert_eq!(col_of(&e), "event");
    let e = kaplan_meier(&[1.0, 2.0], &[true, true], &one(3), &d).unwrap_err();
    assert_eq!(col_of(&e), "group");
    // negative, NaN, infinite times name the row
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let e = kaplan_meier(&[1.0, bad], &[true, true], &one(2), &d).unwrap_err();
        assert_eq!(col_of(&e), "time");
        assert!(e.to_string().contains("row 2"), "{e}");
    }
    // a level with no rows
    let g = Grouping { codes: vec![0, 0], labels: vec!["a".into(), "empty level".into()] };
    let e = kaplan_meier(&[1.0, 2.0], &[true, true], &g, &d).unwrap_err();
    assert!(matches!(&e, StatsError::Empty(m) if m.contains("empty level")), "{e:?}");
    // no data at all
    let e = kaplan_meier(&[], &[], &one(0), &d).unwrap_err();
    assert!(matches!(e, StatsError::Empty(_)));
    // code out of range
    let g = Grouping { codes: vec![0, 5], labels: vec!["a".into()] };
    let e = kaplan_meier(&[1.0, 2.0], &[true, true], &g, &d).unwrap_err();
    assert!(col_of(&e) == "group" && e.to_string().contains("row 2"), "{e}");
    // conf level
    for lvl in [0.0, 1.0, 1.5, f64::NAN] {
        let e = kaplan_meier(&[1.0], &[true], &one(1), &KmOptions { conf_level: lvl, ..d.clone() }).unwrap_err();
        assert_eq!(col_of(&e), "conf_level");
    }
    // RMST tau before the first time, or not finite
    for tau in [0.5, f64::NAN] {
        let e = kaplan_meier(&[1.0, 2.0], &[true, true], &one(2), &KmOptions { rmst_tau: Some(tau), ..d.clone() }).unwrap_err();
        assert_eq!(col_of(&e), "rmst_tau");
    }
    // Nelson–Aalen validates too
    let e = nelson_aalen(&[1.0, -2.0], &[true, true], &one(2), NaTies::Breslow).unwrap_err();
    assert_eq!(col_of(&e), "time");
    // conf type names
    assert!(matches!("loglog2".parse::<ConfType>(), Err(StatsError::InvalidInput { .. })));
}

#[test]
fn all_censored_group_has_no_median() {
    let fit = kaplan_meier(&[1.0, 2.0], &[false, false], &Grouping::single(2, "all"), &KmOptions::default()).unwrap();
    let c = &fit.curves[0];
    assert_eq!(c.events, 0);
    assert!(c.rows.iter().all(|r| r.surv == 1.0 && r.lower == Some(1.0) && r.upper == Some(1.0)));
    assert_eq!((c.median, c.median_lower, c.median_upper), (None, None, None));
    assert!(c.quantiles.iter().all(|q| q.time.is_none()));
}

#[test]
fn large_input_sorts_correctly() {
    // Many rows with ties on a half-day grid: compare with a naive KM.
    let n = 20_000usize;
    let mut s = 12345u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let time: Vec<f64> = (0..n).map(|_| (next() * 500.0).floor() / 2.0).collect();
    let event: Vec<bool> = (0..n).map(|_| next() < 0.7).collect();
    let fit = kaplan_meier(&time, &event, &Grouping::single(n, "all"), &KmOptions::default()).unwrap();
    let mut distinct = time.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(fit.curves[0].rows.len(), distinct.len());
    let mut surv = 1.0;
    for (r, &t) in fit.curves[0].rows.iter().zip(&distinct) {
        let at_risk = time.iter().filter(|&&x| x >= t).count();
        let d = time.iter().zip(&event).filter(|(&x, &e)| x == t && e).count();
        assert_eq!((r.time, r.n_risk, r.n_event), (t, at_risk, d));
        surv *= (at_risk as f64 - d as f64) / at_risk as f64;
        assert_close(r.surv, surv, 1e-12, "surv");
    }
}

/// R's aeqSurv on right-censored times, written out independently of the
/// library: sorted distinct times, a gap of at most sqrt(eps) (absolute, or
/// relative to the mean distinct time) joins a time to the run before it, and
/// every time takes the first (smallest) value of its run.
fn aeq_reference(time: &[f64]) -> Vec<f64> {
    let tol = f64::EPSILON.sqrt();
    let mut y = time.to_vec();
    y.sort_by(f64::total_cmp);
    y.dedup();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let mut first_of_run = vec![y[0]];
    for w in y.windows(2) {
        let dy = w[1] - w[0];
        first_of_run.push(if dy <= tol || dy / mean <= tol { *first_of_run.last().unwrap() } else { w[1] });
    }
    time.iter().map(|t| first_of_run[y.partition_point(|v| v < t)]).collect()
}

#[test]
fn many_distinct_times_match_a_sort_based_reference() {
    // > 65 536 distinct times: the sorting (not hash-counting) tabulation path.
    let n = 80_000usize;
    let mut s = 777u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut time: Vec<f64> = (0..n).map(|_| -(1.0 - next()).ln() * 300.0).collect();
    time[7] = time[3]; // a tie
    time[9] = 0.0;
    let event: Vec<bool> = (0..n).map(|_| next() < 0.7).collect();
    let fit = kaplan_meier(&time, &event, &Grouping::single(n, "all"), &KmOptions::default()).unwrap();
    // 80 000 continuous times hold gaps below sqrt(eps) * mean: R's timefix makes them ties.
    let time = aeq_reference(&time);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let rows = &fit.curves[0].rows;
    let (mut k, mut i, mut at_risk, mut surv) = (0usize, 0usize, n, 1.0f64);
    while i < n {
        let t = time[idx[i]];
        let mut j = i;
        let mut d = 0;
        while j < n && time[idx[j]] == t {
            d += event[idx[j]] as usize;
            j += 1;
        }
        let r = &rows[k];
        assert_eq!((r.time, r.n_risk, r.n_event, r.n_censor), (t, at_risk, d, j - i - d), "row {k}");
        surv *= (at_risk - d) as f64 / at_risk as f64;
        assert_close(r.surv, surv, 1e-11, "surv");
        at_risk -= j - i;
        k += 1;
        i = j;
    }
    assert_eq!(k, rows.len());
    let merged = n - 1 - rows.len();
    assert!(merged > 0 && merged < 200, "{merged} near-ties merged");
}

// ---------------------------------------------------------------------------
// Simon–Makuch: Kaplan–Meier on counting-process (start, stop] data with
// delayed entry, against survfit(Surv(start, stop, event) ~ transplant, heart)
// (survfit_cp_heart_*.json, tests/fixtures/r/simon_makuch.R) and on a simulated
// cohort with late entries, shared entry/event times and S = 0 at the end of a
// state (survfit_cp_sim_*.json, tests/fixtures/r/cp_sim.R)
// ---------------------------------------------------------------------------

fn check_cp_fixture(path: &Path) -> usize {
    use hemosurv::stats::simon_makuch::simon_makuch;
    let fx = load_json(path);
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    assert_eq!(fx["conf_type"], "log", "{file}: hemosurv's Simon–Makuch CI is R's default, log");
    let cols = read_csv(fx["data_file"].as_str().expect("data_file"));
    let num = |c: &str| common::num_col(&cols, c);
    let (start, stop) = (num("start"), num("stop"));
    let event: Vec<bool> = num("event").iter().map(|&e| e == 1.0).collect();
    let strata = fx["strata"].as_object().expect("strata");
    let labels: Vec<String> = strata.keys().cloned().collect();
    let state: Vec<usize> = match fx["group"].as_str() {
        None => vec![0; stop.len()],
        Some(g) => cols[g].iter().map(|v| labels.iter().position(|l| l == v).expect("level")).collect(),
    };
    let curves = simon_makuch(&start, &stop, &event, &state, &labels, 0.95).expect("simon_makuch");
    let mut checked = 0;
    for (curve, (label, want)) in curves.iter().zip(strata) {
        let ctx = format!("{file} {label}");
        assert_eq!(&curve.group, label, "{ctx}");
        let times = arr(want, "time");
        assert_eq!(curve.rows.len(), times.len(), "{ctx}: rows");
        let (n_risk, n_event, n_censor) = (arr(want, "n_risk"), arr(want, "n_event"), arr(want, "n_censor"));
        let (surv, se, lower, upper) = (arr(want, "surv"), arr(want, "std_err_surv"), arr(want, "lower"), arr(want, "upper"));
        for (k, row) in curve.rows.iter().enumerate() {
            let c = format!("{ctx} row {k} (t = {})", row.time);
            assert_exact(Some(row.time), times[k], &c);
            assert_exact(Some(row.n_risk as f64), n_risk[k], &format!("{c} n_risk"));
            assert_exact(Some(row.n_event as f64), n_event[k], &format!("{c} n_event"));
            assert_exact(Some(row.n_censor as f64), n_censor[k], &format!("{c} n_censor"));
            assert_opt(Some(row.surv), surv[k], TOL, &format!("{c} surv"));
            assert_opt(row.std_err, se[k], TOL, &format!("{c} std_err"));
            assert_opt(row.lower, lower[k], TOL, &format!("{c} lower"));
            assert_opt(row.upper, upper[k], TOL, &format!("{c} upper"));
            checked += 8;
        }
        assert_eq!(curve.n_intervals as f64, want["records"].as_f64().unwrap(), "{ctx} records");
        assert_eq!(curve.events as f64, want["events"].as_f64().unwrap(), "{ctx} events");
        assert_exact(curve.median, opt(&want["median"]), &format!("{ctx} median"));
        checked += 3;
    }
    assert_eq!(curves.len(), strata.len(), "{file}: curves");
    checked
}

#[test]
fn simon_makuch_matches_survfit_on_counting_process_data() {
    let files = fixtures("survfit_cp_");
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let n = check_cp_fixture(f);
        assert!(n > 300, "{}: only {n} values compared", f.display());
    }
}

// ---------------------------------------------------------------------------
// Near-tied times (floating-point noise such as 0.1 + 0.2 vs 0.3): R's timefix
// merges times closer than sqrt(eps) in survfit (and survdiff, coxph), so they
// are ties there (timefix_*.json, tests/fixtures/r/near_ties.R).
// ---------------------------------------------------------------------------

/// One curve row: time, n_risk, n_event, n_censor, surv, SE of surv, lower, upper.
type Row = (f64, usize, usize, usize, f64, Option<f64>, Option<f64>, Option<f64>);

/// Compare curves with the rows of a timefix fixture's strata (rows at 1e-12, counts exactly).
fn check_rows(ctx: &str, got: &[Row], want: &Value) {
    let times = arr(want, "time");
    assert_eq!(got.len(), times.len(), "{ctx}: rows (R merges near-tied times)");
    let (n_risk, n_event, n_censor) = (arr(want, "n_risk"), arr(want, "n_event"), arr(want, "n_censor"));
    let (surv, se, lower, upper) = (arr(want, "surv"), arr(want, "std_err_surv"), arr(want, "lower"), arr(want, "upper"));
    for (k, r) in got.iter().enumerate() {
        let c = format!("{ctx} row {k} (t = {:e})", r.0);
        assert_exact(Some(r.0), times[k], &format!("{c} time"));
        assert_exact(Some(r.1 as f64), n_risk[k], &format!("{c} n_risk"));
        assert_exact(Some(r.2 as f64), n_event[k], &format!("{c} n_event"));
        assert_exact(Some(r.3 as f64), n_censor[k], &format!("{c} n_censor"));
        assert_opt(Some(r.4), surv[k], TOL, &format!("{c} surv"));
        assert_opt(r.5, se[k], TOL, &format!("{c} std_err"));
        assert_opt(r.6, lower[k], TOL, &format!("{c} lower"));
        assert_opt(r.7, upper[k], TOL, &format!("{c} upper"));
    }
}

fn near_ties() -> (Vec<f64>, Vec<f64>, Vec<bool>, Vec<String>) {
    let cols = read_csv("data/near_ties.csv");
    let num = |c: &str| common::num_col(&cols, c);
    let event = num("status").iter().map(|&s| s == 1.0).collect();
    (num("start"), num("time"), event, cols["group"].clone())
}

#[test]
fn km_merges_near_tied_times_like_r() {
    let fx = load_json(&Path::new(REF).join("expected/timefix_km_near_ties_by_group.json"));
    let (_, time, event, group) = near_ties();
    let mut distinct = time.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(distinct.len() as u64, fx["distinct_times_raw"].as_u64().unwrap(), "the data hold the noise");
    let fit = kaplan_meier(&time, &event, &Grouping::from_values(&group), &KmOptions::default()).unwrap();
    for (curve, (label, want)) in fit.curves.iter().zip(fx["strata"].as_object().unwrap()) {
        assert_eq!(&curve.group, label);
        let rows: Vec<_> = curve
            .rows
            .iter()
            .map(|r| (r.time, r.n_risk, r.n_event, r.n_censor, r.surv, r.std_err_surv, r.lower, r.upper))
            .collect();
        check_rows(&format!("km group {label}"), &rows, want);
    }
}

#[test]
fn simon_makuch_merges_near_tied_times_like_r() {
    use hemosurv::stats::simon_makuch::simon_makuch;
    let fx = load_json(&Path::new(REF).join("expected/timefix_cp_near_ties_by_group.json"));
    let (start, stop, event, group) = near_ties();
    let labels = vec!["a".to_string(), "b".to_string()];
    let state: Vec<usize> = group.iter().map(|g| labels.iter().position(|l| l == g).unwrap()).collect();
    let curves = simon_makuch(&start, &stop, &event, &state, &labels, 0.95).unwrap();
    for (curve, (label, want)) in curves.iter().zip(fx["strata"].as_object().unwrap()) {
        assert_eq!(&curve.group, label);
        let rows: Vec<_> =
            curve.rows.iter().map(|r| (r.time, r.n_risk, r.n_event, r.n_censor, r.surv, r.std_err, r.lower, r.upper)).collect();
        check_rows(&format!("simon-makuch state {label}"), &rows, want);
    }
}
