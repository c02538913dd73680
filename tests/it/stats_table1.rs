//! Table 1 statistics (src/stats/table1.rs) against R 4.2.2.
//!
//! The data are `tests/fixtures/table1/continuous.csv` and `categorical.csv`; the expected
//! values are in `tests/fixtures/table1/expected.json`, one entry per value with the R call
//! that made it (made by `Rscript tests/fixtures/r/table1.R` from the repository root):
//! `wilcox.test(x, y, exact = FALSE, correct = TRUE)`, `quantile(x, p, type = 7)`,
//! `chisq.test(m)`, `fisher.test(m)`, and the chi-square-unless-expected-below-5 choice.
//! Every value must agree to relative 1e-6.

use std::collections::BTreeMap;

use hemosurv::stats::proportions::{chisq_test, fisher_exact};
use hemosurv::stats::table1::{
    categorical_test, fisher_exact_kx2, fisher_exact_kx2_with_limit, quartiles, wilcoxon_rank_sum, CategoricalTestKind,
    FISHER_MAX_TABLES,
};
use hemosurv::stats::StatsError;
use serde_json::Value;

const REL: f64 = 1e-6;
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/table1");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).expect("fixture file")
}

/// case -> (x values, y values), in file order.
fn continuous() -> BTreeMap<String, (Vec<f64>, Vec<f64>)> {
    let mut out: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for line in read("continuous.csv").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 3, "{line}");
        let v: f64 = f[2].parse().expect("number");
        let e = out.entry(f[0].to_string()).or_default();
        match f[1] {
            "x" => e.0.push(v),
            "y" => e.1.push(v),
            g => panic!("unknown group {g}"),
        }
    }
    out
}

/// case -> k x 2 table, in file order.
fn categorical() -> BTreeMap<String, Vec<[u64; 2]>> {
    let mut out: BTreeMap<String, Vec<[u64; 2]>> = BTreeMap::new();
    for line in read("categorical.csv").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        out.entry(f[0].to_string()).or_default().push([f[2].parse().expect("count"), f[3].parse().expect("count")]);
    }
    out
}

fn entries(quantity: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&read("expected.json")).expect("json");
    v["entries"].as_array().expect("entries").iter().filter(|e| e["quantity"] == quantity).cloned().collect()
}

/// Expected number; JSON null is R's NA/NaN.
fn num(e: &Value) -> f64 {
    e["value"].as_f64().unwrap_or(f64::NAN)
}

fn case(e: &Value) -> &str {
    e["case"].as_str().expect("case")
}

/// Relative error (0 when both are equal, including both NaN).
fn rel_err(got: f64, want: f64) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        0.0
    } else {
        (got - want).abs() / got.abs().max(want.abs())
    }
}

#[track_caller]
fn check(got: f64, e: &Value, worst: &mut f64) {
    let want = num(e);
    let err = rel_err(got, want);
    assert!(err <= REL, "{} {}: got {got:e}, want {want:e} (rel {err:e}); R: {}", case(e), e["quantity"], e["call"]);
    *worst = worst.max(err);
}

#[test]
fn wilcoxon_matches_r() {
    let data = continuous();
    let mut worst = 0.0f64;
    let mut n = 0;
    for q in ["wilcox_W", "wilcox_p"] {
        for e in entries(q) {
            let (x, y) = &data[case(&e)];
            let r = wilcoxon_rank_sum(x, y).expect("test");
            assert_eq!((r.n_x, r.n_y), (x.len(), y.len()));
            check(if q == "wilcox_W" { r.w } else { r.p }, &e, &mut worst);
            n += 1;
        }
    }
    assert_eq!(n, 18, "9 cases x (W, p)");
    eprintln!("wilcoxon: {n} values, max relative error {worst:e}");
}

#[test]
fn wilcoxon_all_tied_gives_nan_p_like_r() {
    let r = wilcoxon_rank_sum(&[5.0; 4], &[5.0; 6]).expect("test");
    assert_eq!(r.w, 12.0);
    assert!(r.p.is_nan() && r.z.is_nan());
}

#[test]
fn quantiles_match_r() {
    let data = continuous();
    let mut worst = 0.0f64;
    let es = entries("quantile");
    assert_eq!(es.len(), 9 * 3 * 3);
    for e in &es {
        let (x, y) = &data[case(e)];
        let all: Vec<f64> = x.iter().chain(y).copied().collect();
        let v = match e["group"].as_str().expect("group") {
            "x" => x,
            "y" => y,
            _ => &all,
        };
        let q = quartiles(v).expect("quartiles");
        assert_eq!(q.n, v.len());
        let got = match e["prob"].as_f64().expect("prob") {
            0.25 => q.q1,
            0.5 => q.median,
            0.75 => q.q3,
            p => panic!("prob {p}"),
        };
        check(got, e, &mut worst);
    }
    eprintln!("quantiles: {} values, max relative error {worst:e}", es.len());
}

#[test]
fn chisq_matches_r() {
    let tabs = categorical();
    let mut worst = 0.0f64;
    let mut n = 0;
    for q in ["chisq_statistic", "chisq_df", "chisq_p", "min_expected"] {
        for e in entries(q) {
            let t: Vec<Vec<u64>> = tabs[case(&e)].iter().map(|r| r.to_vec()).collect();
            let r = chisq_test(&t).expect("chisq");
            let got = match q {
                "chisq_statistic" => r.statistic,
                "chisq_df" => r.df as f64,
                "chisq_p" => r.p,
                _ => r.expected.iter().flatten().copied().fold(f64::INFINITY, f64::min),
            };
            check(got, &e, &mut worst);
            n += 1;
        }
    }
    assert_eq!(n, 11 * 4);
    eprintln!("chisq: {n} values, max relative error {worst:e}");
}

#[test]
fn fisher_kx2_matches_r() {
    let tabs = categorical();
    let mut worst = 0.0f64;
    let es = entries("fisher_p");
    assert_eq!(es.len(), 12);
    for e in &es {
        let p = fisher_exact_kx2(&tabs[case(e)]).expect("fisher").expect("computed");
        check(p, e, &mut worst);
    }
    eprintln!("fisher: {} values, max relative error {worst:e}", es.len());
}

#[test]
fn categorical_test_choice_and_p_match_r() {
    let tabs = categorical();
    let mut worst = 0.0f64;
    let chosen: BTreeMap<String, String> =
        entries("chosen_test").iter().map(|e| (case(e).to_string(), e["value"].as_str().expect("test").to_string())).collect();
    assert_eq!(chosen.len(), 12);
    for e in entries("chosen_p") {
        let r = categorical_test(&tabs[case(&e)]).expect("test");
        let want = match chosen[case(&e)].as_str() {
            "chisq" => CategoricalTestKind::ChiSquare,
            "fisher" => CategoricalTestKind::Fisher,
            t => panic!("test {t}"),
        };
        assert_eq!(r.test, Some(want), "{}", case(&e));
        assert_eq!(r.reason, None);
        check(r.p.expect("p"), &e, &mut worst);
    }
    eprintln!("categorical_test: max relative error {worst:e}");
}

#[test]
fn fisher_kx2_with_two_rows_equals_fisher_exact_2x2() {
    let mut worst = 0.0f64;
    for a in 0..=7u64 {
        for b in 0..=7u64 {
            for c in 0..=7u64 {
                for d in 0..=7u64 {
                    if a + b + c + d == 0 {
                        continue;
                    }
                    let want = fisher_exact(a, b, c, d).expect("2x2").p_two_sided;
                    let got = fisher_exact_kx2(&[[a, b], [c, d]]).expect("kx2").expect("computed");
                    let err = rel_err(got, want);
                    assert!(err <= 1e-12, "[[{a},{b}],[{c},{d}]]: {got:e} vs {want:e}");
                    worst = worst.max(err);
                }
            }
        }
    }
    // A larger 2 x 2 (many tables, tiny p).
    let want = fisher_exact(120, 30, 45, 110).expect("2x2").p_two_sided;
    let got = fisher_exact_kx2(&[[120, 30], [45, 110]]).unwrap().unwrap();
    assert!(rel_err(got, want) <= 1e-10, "{got:e} vs {want:e}");
    eprintln!("kx2 vs 2x2 fisher_exact: max relative error {worst:e}");
}

#[test]
fn fisher_cap_returns_none() {
    // 12 categories x 2 groups, 10 patients per category: far more than 10^7 tables.
    let big = vec![[5u64, 5]; 12];
    assert_eq!(fisher_exact_kx2(&big).unwrap(), None);
    // sparse_5x2 has 1 + ... tables; a cap below the count refuses, at the count computes.
    let t = [[1u64, 4], [2, 2], [0, 3], [5, 0], [8, 9]];
    let count = count_tables(&t);
    assert_eq!(fisher_exact_kx2_with_limit(&t, count - 1).unwrap(), None);
    assert!(fisher_exact_kx2_with_limit(&t, count).unwrap().is_some());
    // The Table 1 helper chooses Fisher (expected counts 2.5) and reports why p is missing.
    let sparse = vec![[3u64, 2]; 40];
    let r = categorical_test(&sparse).unwrap();
    assert_eq!(r.test, Some(CategoricalTestKind::Fisher));
    assert_eq!(r.p, None);
    let reason = r.reason.expect("reason");
    assert!(reason.contains(&FISHER_MAX_TABLES.to_string()), "{reason}");
}

/// Brute-force count of k x 2 tables with the margins of `t` (small tables only).
fn count_tables(t: &[[u64; 2]]) -> u64 {
    fn go(rows: &[u64], rem: u64) -> u64 {
        match rows.split_first() {
            None => u64::from(rem == 0),
            Some((&r, rest)) => (0..=r.min(rem)).map(|x| go(rest, rem - x)).sum(),
        }
    }
    let rows: Vec<u64> = t.iter().map(|r| r[0] + r[1]).collect();
    go(&rows, t.iter().map(|r| r[0]).sum())
}

#[test]
fn empty_group_or_missing_value_is_an_error() {
    let bad = |r: Result<_, StatsError>, col: &str| match r {
        Err(StatsError::InvalidInput { column, .. }) => assert_eq!(column, col),
        other => panic!("expected InvalidInput({col}), got {other:?}"),
    };
    bad(wilcoxon_rank_sum(&[], &[1.0, 2.0]).map(|_| ()), "x");
    bad(wilcoxon_rank_sum(&[1.0], &[]).map(|_| ()), "y");
    bad(wilcoxon_rank_sum(&[1.0, f64::NAN], &[2.0]).map(|_| ()), "x");
    bad(quartiles(&[]).map(|_| ()), "x");
    bad(quartiles(&[1.0, f64::NAN]).map(|_| ()), "x");
    bad(fisher_exact_kx2(&[[0, 0], [0, 0]]).map(|_| ()), "table");
    bad(fisher_exact_kx2(&[[3, 4]]).map(|_| ()), "table");
}

#[test]
fn categorical_test_without_a_test() {
    let one = categorical_test(&[[4, 6], [0, 0]]).unwrap();
    assert_eq!((one.test, one.p), (None, None));
    assert_eq!(one.reason.as_deref(), Some("only one category observed"));
    let no_group = categorical_test(&[[4, 0], [3, 0]]).unwrap();
    assert_eq!((no_group.test, no_group.p), (None, None));
    assert_eq!(no_group.reason.as_deref(), Some("group 2 has no observations"));
    let empty = categorical_test(&[[0, 0], [0, 0]]).unwrap();
    assert_eq!(empty.p, None);
    // A group without observations: a single table, p = 1 (the test itself is defined).
    assert_eq!(fisher_exact_kx2(&[[4, 0], [3, 0]]).unwrap(), Some(1.0));
}
