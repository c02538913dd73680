//! survdiff (G-rho family) against R survival 3.5 reference values
//! (tests/fixtures/reference/expected/logrank_*.json, petopeto_*.json): every
//! number (n, observed, expected, O − E, variance matrix, chisq, df, p) at
//! 1e-12 relative, also for 3+ groups and stratified tests
//! (survdiff_*.json from tests/fixtures/r/survdiff.R); plus bad-input checks.
#![allow(clippy::needless_range_loop)] // matrices are compared by index

use std::collections::HashMap;
use std::path::Path;

use hemosurv::stats::logrank::{survdiff, LogRankTest};
use hemosurv::stats::{Grouping, StatsError};
use serde_json::Value;

use crate::common::{assert_close, fixtures, load_json, read_csv, surv_data};

const TOL: f64 = 1e-12;

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|x| x.as_f64().expect("number")).collect()
}

fn assert_all_close(got: &[f64], want: &[f64], tol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_close(g, w, tol, &format!("{ctx}[{i}]"));
    }
}

/// The grouping column of `survdiff(Surv(time, status) ~ x, ...)`.
fn group_column(call: &str) -> String {
    let rhs = call.split('~').nth(1).expect("formula");
    rhs.split(',').next().expect("term").trim().to_string()
}

fn check_fixture(path: &Path) -> usize {
    let fx = load_json(path);
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let cols = read_csv(fx["data_file"].as_str().expect("data_file"));
    let (time, event) = surv_data(&cols);
    let col = group_column(fx["call"].as_str().expect("call"));
    let g = Grouping::from_values(&cols[&col]);
    let rho = fx["rho"].as_f64().expect("rho");
    let t = survdiff(&time, &event, &g, None, rho).expect("survdiff");

    let want_groups: Vec<&str> = fx["groups"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let got_groups: Vec<String> = t.groups.iter().map(|l| format!("{col}={l}")).collect();
    assert_eq!(got_groups, want_groups, "{file} groups");
    let want_n: Vec<usize> = nums(&fx["n"]).iter().map(|&x| x as usize).collect();
    assert_eq!(t.n, want_n, "{file} n");
    assert_eq!(t.rho, rho);
    assert_all_close(&t.observed, &nums(&fx["observed"]), TOL, &format!("{file} observed"));
    assert_all_close(&t.expected, &nums(&fx["expected"]), TOL, &format!("{file} expected"));
    assert_all_close(&t.o_minus_e(), &nums(&fx["o_minus_e"]), TOL, &format!("{file} o_minus_e"));
    let want_var = fx["variance"].as_array().expect("variance");
    assert_eq!(t.variance.len(), want_var.len());
    for (r, row) in want_var.iter().enumerate() {
        assert_all_close(&t.variance[r], &nums(row), TOL, &format!("{file} variance row {r}"));
    }
    assert_close(t.chisq, fx["chisq"].as_f64().unwrap(), TOL, &format!("{file} chisq"));
    assert_eq!(t.df as u64, fx["df"].as_u64().unwrap(), "{file} df");
    assert_close(t.p, fx["p"].as_f64().unwrap(), 1e-10, &format!("{file} p"));
    let k = t.groups.len();
    1 + 3 * k + k * k + 3
}

#[test]
fn logrank_matches_r_for_every_fixture() {
    let files = fixtures("logrank_");
    assert_eq!(files.len(), 4, "{files:?}");
    let n: usize = files.iter().map(|f| check_fixture(f)).sum();
    assert_eq!(n, 4 * 14);
}

#[test]
fn peto_peto_matches_r_for_every_fixture() {
    let files = fixtures("petopeto_");
    assert_eq!(files.len(), 4, "{files:?}");
    let n: usize = files.iter().map(|f| check_fixture(f)).sum();
    assert_eq!(n, 4 * 14);
}

fn veteran() -> (Vec<f64>, Vec<bool>, HashMap<String, Vec<String>>) {
    let cols = read_csv("data/veteran.csv");
    let (t, e) = surv_data(&cols);
    (t, e, cols)
}

fn celltype(cols: &HashMap<String, Vec<String>>) -> Grouping {
    let levels: Vec<String> = ["squamous", "smallcell", "adeno", "large"].iter().map(|s| s.to_string()).collect();
    Grouping::with_levels("celltype", &cols["celltype"], &levels).unwrap()
}

/// `survdiff_*.json` (tests/fixtures/r/survdiff.R): 3+ groups and stratified
/// tests. Every number R gives (n, observed, expected, O − E, variance, chisq,
/// df, p, and per stratum observed and expected) at 1e-12 relative (p 1e-10).
fn check_multi_fixture(path: &Path) {
    let fx = load_json(path);
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let cols = read_csv(fx["data_file"].as_str().expect("data_file"));
    let (time, event) = surv_data(&cols);
    let col = fx["group"].as_str().expect("group");
    let levels: Vec<String> = fx["groups"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let g = Grouping::with_levels(col, &cols[col], &levels).unwrap();
    let strata = fx["strata"].as_str().map(|s| {
        let lv: Vec<String> = fx["strata_levels"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        Grouping::with_levels(s, &cols[s], &lv).unwrap()
    });
    let rho = fx["rho"].as_f64().expect("rho");
    let t = survdiff(&time, &event, &g, strata.as_ref(), rho).expect("survdiff");
    assert_eq!(t.groups, levels, "{file} groups");
    let want_n: Vec<usize> = nums(&fx["n"]).iter().map(|&x| x as usize).collect();
    assert_eq!(t.n, want_n, "{file} n");
    assert_all_close(&t.observed, &nums(&fx["observed"]), TOL, &format!("{file} observed"));
    assert_all_close(&t.expected, &nums(&fx["expected"]), TOL, &format!("{file} expected"));
    assert_all_close(&t.o_minus_e(), &nums(&fx["o_minus_e"]), TOL, &format!("{file} o_minus_e"));
    let want_var = fx["variance"].as_array().expect("variance");
    assert_eq!(t.variance.len(), want_var.len(), "{file} variance rows");
    for (r, row) in want_var.iter().enumerate() {
        assert_all_close(&t.variance[r], &nums(row), TOL, &format!("{file} variance row {r}"));
    }
    assert_close(t.chisq, fx["chisq"].as_f64().unwrap(), TOL, &format!("{file} chisq"));
    assert_eq!(t.df as u64, fx["df"].as_u64().unwrap(), "{file} df");
    assert_close(t.p, fx["p"].as_f64().unwrap(), 1e-10, &format!("{file} p"));
    // Per stratum: the unstratified test on the stratum's rows gives R's fit$obs[, s] and fit$exp[, s].
    if let Some(st) = &strata {
        let by_o = fx["observed_by_stratum"].as_array().expect("observed_by_stratum");
        let by_e = fx["expected_by_stratum"].as_array().expect("expected_by_stratum");
        assert_eq!(by_o.len(), st.labels.len(), "{file} strata");
        for s in 0..st.labels.len() {
            let keep: Vec<bool> = st.codes.iter().map(|&c| c == s).collect();
            let vals: Vec<String> = subset(&cols[col], &keep);
            let gs = Grouping::with_levels(col, &vals, &levels).unwrap();
            let part = survdiff(&subset(&time, &keep), &subset(&event, &keep), &gs, None, rho).expect("stratum");
            assert_eq!(part.groups, levels, "{file} stratum {s}: every group present");
            assert_all_close(&part.observed, &nums(&by_o[s]), TOL, &format!("{file} stratum {s} observed"));
            assert_all_close(&part.expected, &nums(&by_e[s]), TOL, &format!("{file} stratum {s} expected"));
        }
    }
}

#[test]
fn multi_group_and_stratified_match_r_for_every_fixture() {
    let files = fixtures("survdiff_");
    // veteran: celltype (4 groups), trt + strata(celltype), celltype + strata(prior),
    // and trt with a third group of expected 0 (left out of chisq and df); rho 0 and 1
    assert_eq!(files.len(), 8, "{files:?}");
    for f in &files {
        check_multi_fixture(f);
    }
}

#[test]
fn four_groups_match_r_printout() {
    // R: survdiff(Surv(time, status) ~ celltype, data = veteran) prints
    //   N Observed Expected: squamous 35 31 47.7; smallcell 48 45 30.1; adeno 27 26 15.7; large 27 26 34.5
    //   Chisq= 25.4 on 3 degrees of freedom, p= 1e-05
    // (the full-precision values are checked in multi_group_and_stratified_match_r_for_every_fixture)
    let (time, event, cols) = veteran();
    let t = survdiff(&time, &event, &celltype(&cols), None, 0.0).unwrap();
    assert_eq!(t.n, vec![35, 48, 27, 27]);
    assert_eq!(t.observed, vec![31.0, 45.0, 26.0, 26.0]);
    for (e, want) in t.expected.iter().zip([47.7, 30.1, 15.7, 34.5]) {
        assert!((e - want).abs() < 0.05, "expected {e} vs {want}");
    }
    assert_eq!(t.df, 3);
    // Sums of O - E and of each variance row vanish.
    assert!(t.o_minus_e().iter().sum::<f64>().abs() < 1e-10);
    for row in &t.variance {
        assert!(row.iter().sum::<f64>().abs() < 1e-10);
    }
}

#[test]
fn chisq_does_not_depend_on_level_order() {
    let (time, event, cols) = veteran();
    let a = survdiff(&time, &event, &celltype(&cols), None, 1.0).unwrap();
    let rev: Vec<String> = ["large", "adeno", "smallcell", "squamous"].iter().map(|s| s.to_string()).collect();
    let g = Grouping::with_levels("celltype", &cols["celltype"], &rev).unwrap();
    let b = survdiff(&time, &event, &g, None, 1.0).unwrap();
    assert_close(a.chisq, b.chisq, 1e-10, "chisq");
    for i in 0..4 {
        assert_close(a.observed[i], b.observed[3 - i], 1e-13, "observed");
        assert_close(a.expected[i], b.expected[3 - i], 1e-13, "expected");
    }
}

/// Adds two tests' O, E, V.
fn add(a: &LogRankTest, b: &LogRankTest) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let o = a.observed.iter().zip(&b.observed).map(|(x, y)| x + y).collect();
    let e = a.expected.iter().zip(&b.expected).map(|(x, y)| x + y).collect();
    let v = a.variance.iter().zip(&b.variance).map(|(r, s)| r.iter().zip(s).map(|(x, y)| x + y).collect()).collect();
    (o, e, v)
}

fn subset<T: Clone>(v: &[T], keep: &[bool]) -> Vec<T> {
    v.iter().zip(keep).filter(|(_, &k)| k).map(|(x, _)| x.clone()).collect()
}

#[test]
fn stratified_test_sums_per_stratum_quantities() {
    // survdiff(Surv(time, status) ~ trt + strata(prior), veteran), rho = 0 and 1:
    // every quantity is the sum of the per-stratum tests (the pooled KM weights are per stratum).
    let (time, event, cols) = veteran();
    let trt = Grouping::from_values(&cols["trt"]);
    let prior = Grouping::from_values(&cols["prior"]);
    assert_eq!(prior.labels, vec!["0", "10"]);
    for rho in [0.0, 1.0] {
        let st = survdiff(&time, &event, &trt, Some(&prior), rho).unwrap();
        let parts: Vec<LogRankTest> = (0..2)
            .map(|s| {
                let keep: Vec<bool> = prior.codes.iter().map(|&c| c == s).collect();
                let vals: Vec<String> = subset(&cols["trt"], &keep);
                let g = Grouping::with_levels("trt", &vals, &trt.labels).unwrap();
                survdiff(&subset(&time, &keep), &subset(&event, &keep), &g, None, rho).unwrap()
            })
            .collect();
        let (o, e, v) = add(&parts[0], &parts[1]);
        assert_all_close(&st.observed, &o, 1e-13, "observed");
        assert_all_close(&st.expected, &e, 1e-13, "expected");
        for r in 0..2 {
            assert_all_close(&st.variance[r], &v[r], 1e-13, "variance");
        }
        let d = o[1] - e[1];
        assert_close(st.chisq, d * d / v[1][1], 1e-12, "chisq");
        assert_eq!(st.n, vec![69, 68]);
        assert_eq!(st.df, 1);
        // Stratification changes the answer relative to the pooled test.
        let pooled = survdiff(&time, &event, &trt, None, rho).unwrap();
        assert!((pooled.chisq - st.chisq).abs() > 1e-6);
    }
}

#[test]
fn single_stratum_equals_unstratified() {
    let (time, event, cols) = veteran();
    let trt = Grouping::from_values(&cols["trt"]);
    let one = Grouping::single(time.len(), "all");
    for rho in [0.0, 0.5, 1.0] {
        let a = survdiff(&time, &event, &trt, Some(&one), rho).unwrap();
        let b = survdiff(&time, &event, &trt, None, rho).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn empty_levels_are_dropped_like_r() {
    let (time, event, cols) = veteran();
    let levels: Vec<String> = ["1", "unused", "2"].iter().map(|s| s.to_string()).collect();
    let g = Grouping::with_levels("trt", &cols["trt"], &levels).unwrap();
    let t = survdiff(&time, &event, &g, None, 0.0).unwrap();
    assert_eq!(t.groups, vec!["1", "2"]);
    let plain = survdiff(&time, &event, &Grouping::from_values(&cols["trt"]), None, 0.0).unwrap();
    assert_eq!(t, plain);
}

#[test]
fn json_has_the_documented_keys() {
    let (time, event, cols) = veteran();
    let t = survdiff(&time, &event, &Grouping::from_values(&cols["trt"]), None, 0.0).unwrap();
    let j = t.to_json();
    for key in ["chisq", "df", "p", "rho", "groups", "n", "observed", "expected", "variance"] {
        assert!(!j[key].is_null(), "missing {key}");
    }
    assert_eq!(j["df"], 1);
    assert_eq!(j["groups"][1], "2");
    assert_eq!(j["variance"][0].as_array().unwrap().len(), 2);
}

#[test]
fn table_csv() {
    let cols = read_csv("data/aml.csv");
    let (time, event) = surv_data(&cols);
    let t = survdiff(&time, &event, &Grouping::from_values(&cols["x"]), None, 0.0).unwrap();
    let out = t.table("logrank").to_csv_bytes().unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "group,n,observed,expected,oe2_over_e,oe2_over_v");
    let d = t.observed[0] - t.expected[0];
    assert_eq!(lines[1], format!("Maintained,11,7,{},{},{}", t.expected[0], d * d / t.expected[0], d * d / t.variance[0][0]));
    assert_eq!(lines.len(), 3);
}

#[test]
fn bad_input_is_rejected() {
    let time = [1.0, 2.0, 3.0, 4.0];
    let event = [true, true, false, true];
    let g = Grouping::from_values(&["a", "b", "a", "b"]);
    let col = |e: StatsError| match e {
        StatsError::InvalidInput { column, .. } => column,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    assert_eq!(col(survdiff(&time, &event[..3], &g, None, 0.0).unwrap_err()), "event");
    assert_eq!(col(survdiff(&[1.0, -2.0, 3.0, 4.0], &event, &g, None, 0.0).unwrap_err()), "time");
    assert_eq!(col(survdiff(&time, &event, &g, None, f64::NAN).unwrap_err()), "rho");
    let s3 = Grouping::single(3, "s");
    assert_eq!(col(survdiff(&time, &event, &g, Some(&s3), 0.0).unwrap_err()), "strata");
    let bad_codes = Grouping { codes: vec![0, 0, 0, 2], labels: vec!["s".into()] };
    assert_eq!(col(survdiff(&time, &event, &g, Some(&bad_codes), 0.0).unwrap_err()), "strata");
    // Only one group with data.
    let one = Grouping { codes: vec![0; 4], labels: vec!["a".into(), "b".into()] };
    let e = survdiff(&time, &event, &one, None, 0.0).unwrap_err();
    assert!(e.to_string().contains("at least 2 groups"), "{e}");
    // No events: nothing to test.
    let e = survdiff(&time, &[false; 4], &g, None, 0.0).unwrap_err();
    assert!(matches!(e, StatsError::Empty(_)), "{e:?}");
}

#[test]
fn large_input_agrees_with_naive_computation() {
    // Many rows with ties on a half-day grid, 3 groups, 2 strata.
    let n = 12_000usize;
    let mut s = 99u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    let mut gv = Vec::with_capacity(n);
    let mut sv = Vec::with_capacity(n);
    for _ in 0..n {
        let g = (next() * 3.0) as usize;
        time.push(((-(1.0 - next()).ln() * (100.0 + 40.0 * g as f64)) * 2.0).floor() / 2.0);
        event.push(next() < 0.7);
        gv.push(format!("g{g}"));
        sv.push(if next() < 0.5 { "s0" } else { "s1" }.to_string());
    }
    let g = Grouping::from_values(&gv);
    let st = Grouping::from_values(&sv);
    for rho in [0.0, 1.0] {
        let t = survdiff(&time, &event, &g, Some(&st), rho).unwrap();
        // naive O, E, V
        let k = 3;
        let (mut o, mut e, mut v) = (vec![0.0; k], vec![0.0; k], vec![vec![0.0; k]; k]);
        for s in 0..2 {
            let idx: Vec<usize> = (0..n).filter(|&i| st.codes[i] == s).collect();
            let mut ts: Vec<f64> = idx.iter().map(|&i| time[i]).collect();
            ts.sort_by(f64::total_cmp);
            ts.dedup();
            let mut km = 1.0;
            for &tt in &ts {
                let mut nr = vec![0.0; k];
                let mut dg = vec![0.0; k];
                for &i in &idx {
                    if time[i] >= tt {
                        nr[g.codes[i]] += 1.0;
                    }
                    if time[i] == tt && event[i] {
                        dg[g.codes[i]] += 1.0;
                    }
                }
                let big_n: f64 = nr.iter().sum();
                let d: f64 = dg.iter().sum();
                let w: f64 = if rho == 0.0 { 1.0 } else { f64::powf(km, rho) };
                if d > 0.0 {
                    for a in 0..k {
                        o[a] += w * dg[a];
                        e[a] += w * d * nr[a] / big_n;
                        if big_n > 1.0 {
                            for b in 0..k {
                                let delta = if a == b { 1.0 } else { 0.0 };
                                let hyper = w * w * d * (big_n - d) / (big_n - 1.0);
                                v[a][b] += hyper * nr[a] / big_n * (delta - nr[b] / big_n);
                            }
                        }
                    }
                }
                km *= 1.0 - d / big_n;
            }
        }
        assert_all_close(&t.observed, &o, 1e-9, "observed");
        assert_all_close(&t.expected, &e, 1e-9, "expected");
        for a in 0..k {
            for b in 0..k {
                assert!((t.variance[a][b] - v[a][b]).abs() <= 1e-9 * v[a][a].abs(), "var {a},{b}");
            }
        }
        assert_eq!(t.df, 2);
    }
}

/// Times that differ only by floating-point noise are ties in R (survdiff's
/// default timefix): timefix_survdiff_*.json (tests/fixtures/r/near_ties.R).
#[test]
fn near_tied_times_are_ties_like_r() {
    let files = fixtures("timefix_survdiff_");
    assert_eq!(files.len(), 2, "{files:?}");
    for path in &files {
        let fx = load_json(path);
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let cols = read_csv(fx["data_file"].as_str().unwrap());
        let (time, event) = surv_data(&cols);
        let g = Grouping::from_values(&cols["group"]);
        let rho = fx["rho"].as_f64().unwrap();
        let t = survdiff(&time, &event, &g, None, rho).unwrap();
        assert_all_close(&t.observed, &nums(&fx["observed"]), TOL, &format!("{file} observed"));
        assert_all_close(&t.expected, &nums(&fx["expected"]), TOL, &format!("{file} expected"));
        for (r, row) in fx["variance"].as_array().unwrap().iter().enumerate() {
            assert_all_close(&t.variance[r], &nums(row), TOL, &format!("{file} variance row {r}"));
        }
        assert_close(t.chisq, fx["chisq"].as_f64().unwrap(), TOL, &format!("{file} chisq"));
        assert_close(t.p, fx["p"].as_f64().unwrap(), 1e-10, &format!("{file} p"));
    }
}
