//! Proportions, rates, Fisher and chi-square tests against scipy 1.17.1 reference values.
//!
//! The references were computed with the Python calls quoted next to each table (scipy
//! 1.17.1, Python 3.11); the exact intervals were additionally checked against mpmath at 50
//! digits (agreement ≤ 3e-16 relative) and Fisher's p-values were computed exactly with
//! Python `fractions.Fraction` applying R's rule (probability ≤ observed × (1 + 1e-7)).

#![allow(clippy::type_complexity, clippy::excessive_precision)] // reference tables, digits as computed

use hemosurv::stats::proportions::{chisq_2x2, chisq_test, fisher_exact, poisson_rate, proportion};

fn close(got: f64, want: f64, rel: f64) -> bool {
    got == want || (got - want).abs() <= rel * got.abs().max(want.abs())
}

#[track_caller]
fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(close(got, want, rel), "{what}: got {got:e}, want {want:e}");
}

/// (x, n, conf_level, Clopper–Pearson (lower, upper), Wilson (lower, upper)).
///
/// Clopper–Pearson (R `binom.test(x, n, conf.level = cl)$conf.int`):
///   alpha = (1 - cl) / 2
///   lower = 0 if x == 0 else scipy.stats.beta.ppf(alpha, x, n - x + 1)
///   upper = 1 if x == n else scipy.stats.beta.isf(alpha, x + 1, n - x)
/// (`binomtest(x, n).proportion_ci(method='exact')` gives the same interval but solves it with
/// a root finder whose tolerance leaves errors up to 1.5e-11, so the beta quantiles are used.)
/// Wilson (R `prop.test(x, n, conf.level = cl, correct = FALSE)$conf.int`):
///   scipy.stats.binomtest(x, n).proportion_ci(confidence_level=cl, method='wilson')
const PROPORTIONS: &[(u64, u64, f64, (f64, f64), (f64, f64))] = &[
    (0, 1, 0.95, (0.0, 0.975), (0.0, 0.7934506856227626)),
    (1, 1, 0.95, (0.025000000000000022, 1.0), (0.20654931437723745, 1.0)),
    (0, 10, 0.95, (0.0, 0.3084971078187607), (0.0, 0.27753279986288926)),
    (10, 10, 0.95, (0.6915028921812392, 1.0), (0.7224672001371109, 1.0)),
    (3, 10, 0.95, (0.0667395111777345, 0.6524528500599973), (0.10779126740630102, 0.6032218525388546)),
    (1, 20, 0.95, (0.0012650894979498047, 0.24873276277202777), (0.008881448800795402, 0.23613119344674205)),
    (7, 25, 0.9, (0.13947530657892998, 0.4622089217036446), (0.1595383619520701, 0.4434291806905924)),
    (13, 37, 0.99, (0.16629475991817436, 0.5753343298016913), (0.18643150217019644, 0.5614766892808047)),
    (0, 500, 0.95, (0.0, 0.007350610051907784), (0.0, 0.007624340461552241)),
    (500, 500, 0.95, (0.9926493899480923, 1.0), (0.9923756595384479, 1.0)),
    (1, 1000, 0.95, (2.5317487491294065e-05, 0.005558924279826672), (0.00017654637062607809, 0.0056425585979579355)),
    (250, 1000, 0.95, (0.2234304062646804, 0.27805000622375553), (0.2241530989836914, 0.27776028025908617)),
    (999, 1000, 0.95, (0.9944410757201734, 0.9999746825125088), (0.9943574414020421, 0.9998234536293739)),
    (5, 100000, 0.95, (1.623505681705786e-05, 0.00011667943042027703), (2.1357194468385736e-05, 0.0001170520768033956)),
    (49999, 100000, 0.95, (0.4968860627824659, 0.5030939377976256), (0.49689108474444055, 0.5030889160238217)),
    (2, 3, 0.8, (0.1958001056590917, 0.9654893846056297), (0.3211826478303484, 0.8942243638782772)),
];

/// (x, n, Clopper–Pearson (lower, upper)) at 95 % for registry-size n, where one Beta
/// parameter is in the millions and the other small (a validation table at 10 M patients:
/// `statrs`' inverse incomplete beta, the old starting value, never returned for these).
/// From R 4.2.2 `binom.test(x, n)$conf.int`: `tests/fixtures/r/proportions_large_n.R`.
const LARGE_N: &[(u64, u64, (f64, f64))] = &[
    (2, 9500000, (2.5495714547807693e-08, 7.6049322958461946e-07)),
    (9499998, 9500000, (0.99999923950677039, 0.99999997450428546)),
    (10, 9500000, (5.0477786919263308e-07, 1.9358260969346847e-06)),
    (9499990, 9500000, (0.99999806417390302, 0.99999949522213083)),
    (3, 20000000, (3.0933607213016473e-08, 4.3836359028304788e-07)),
    (19999997, 20000000, (0.99999956163640968, 0.99999996906639277)),
    (1, 10000000, (2.5317807952240312e-09, 5.5716421173607271e-07)),
    (9999999, 10000000, (0.99999944283578823, 0.99999999746821921)),
    (485000, 500000, (0.96952343325925749, 0.97047111020534405)),
    (9000000, 9500000, (0.94722623838071007, 0.94751033099661053)),
    (100, 9500000, (8.5646386078025994e-06, 1.2802805826336842e-05)),
    (9499000, 9500000, (0.99988800541528711, 0.99990116042263111)),
];

#[test]
fn clopper_pearson_of_registry_size_counts_matches_r() {
    for &(x, n, cp) in LARGE_N {
        let p = proportion(x, n, 0.95).unwrap();
        let what = format!("x={x} n={n}");
        // R's qbeta stops at its own tolerance: agreement to 1e-11 relative
        assert_close(p.clopper_pearson.0, cp.0, 1e-11, &format!("CP lower {what}"));
        assert_close(p.clopper_pearson.1, cp.1, 1e-11, &format!("CP upper {what}"));
    }
}

#[test]
fn proportion_intervals_match_scipy() {
    for &(x, n, cl, cp, wi) in PROPORTIONS {
        let p = proportion(x, n, cl).unwrap();
        let what = format!("x={x} n={n} cl={cl}");
        assert_eq!((p.x, p.n, p.conf_level), (x, n, cl));
        assert_eq!(p.estimate, x as f64 / n as f64);
        assert_close(p.clopper_pearson.0, cp.0, 1e-13, &format!("CP lower {what}"));
        assert_close(p.clopper_pearson.1, cp.1, 1e-13, &format!("CP upper {what}"));
        assert_close(p.wilson.0, wi.0, 1e-13, &format!("Wilson lower {what}"));
        assert_close(p.wilson.1, wi.1, 1e-13, &format!("Wilson upper {what}"));
        // Bounds at x = 0 and x = n are exact, as in R.
        if x == 0 {
            assert_eq!(p.clopper_pearson.0, 0.0);
            assert_eq!(p.wilson.0, 0.0);
        }
        if x == n {
            assert_eq!(p.clopper_pearson.1, 1.0);
            assert_eq!(p.wilson.1, 1.0);
        }
        assert!(p.clopper_pearson.0 <= p.estimate && p.estimate <= p.clopper_pearson.1);
        assert!(p.wilson.0 <= p.estimate && p.estimate <= p.wilson.1);
    }
}

/// Large n, where the beta quantiles need care: the references solve P(Bin(n, p) <= x) = alpha
/// with mpmath (60 digits) summing the binomial terms exactly; scipy.stats.beta.isf(alpha,
/// x + 1, n - x) itself is off by 9.5e-13 for x = 1.
#[test]
fn clopper_pearson_large_n_against_exact_binomial_sums() {
    for (x, n, upper) in [(1u64, 1_000_000u64, 5.5716306551722432843e-6), (37, 1_000_000, 5.0999269152602123401e-5)] {
        let p = proportion(x, n, 0.95).unwrap();
        assert_close(p.clopper_pearson.1, upper, 2e-13, &format!("CP upper x={x} n={n}"));
    }
}

#[test]
fn proportion_rejects_bad_input() {
    let e = proportion(3, 0, 0.95).unwrap_err().to_string();
    assert!(e.contains("`n`"), "{e}");
    let e = proportion(5, 4, 0.95).unwrap_err().to_string();
    assert!(e.contains("`x`") && e.contains('5'), "{e}");
    for cl in [0.0, 1.0, -0.5, f64::NAN] {
        let e = proportion(1, 4, cl).unwrap_err().to_string();
        assert!(e.contains("conf_level"), "{e}");
    }
}

/// (events, person_time, per, conf_level, lower quantile, upper quantile) where the interval
/// of R `poisson.test(events, person_time, conf.level = cl)$conf.int` is quantile / person_time:
///   alpha = (1 - cl) / 2
///   lower = 0 if events == 0 else scipy.stats.chi2.ppf(alpha, 2 * events) / 2
///   upper = scipy.stats.chi2.isf(alpha, 2 * events + 2) / 2
const RATES: &[(u64, f64, f64, f64, f64, f64)] = &[
    (0, 120.0, 100.0, 0.95, 0.0, 3.6888794541139354),
    (1, 50.0, 1.0, 0.95, 0.025317807984289897, 5.571643390938898),
    (2, 10.5, 100.0, 0.95, 0.24220927854396507, 7.22468766772396),
    (5, 812.25, 100.0, 0.9, 1.97014956805953, 10.513034908741536),
    (17, 3650.0, 1000.0, 0.95, 9.903126469607294, 27.218646815906613),
    (100, 2500.0, 100.0, 0.99, 76.12049584368918, 128.76058012010245),
    (1000, 100000.0, 1.0, 0.95, 938.9730184076952, 1063.952136016302),
    (100000, 2000000.0, 1000.0, 0.95, 99381.15266374472, 100621.74473974388),
];

#[test]
fn poisson_rates_match_garwood_exact_interval() {
    for &(ev, pt, per, cl, lo, hi) in RATES {
        let r = poisson_rate(ev, pt, per, cl).unwrap();
        let what = format!("events={ev} pt={pt}");
        assert_eq!((r.events, r.person_time, r.per, r.conf_level), (ev, pt, per, cl));
        assert_close(r.rate, ev as f64 / pt * per, 1e-15, &what);
        assert_close(r.lower, lo / pt * per, 1e-13, &format!("lower {what}"));
        assert_close(r.upper, hi / pt * per, 1e-13, &format!("upper {what}"));
        if ev == 0 {
            assert_eq!(r.lower, 0.0);
        }
    }
}

#[test]
fn poisson_rate_rejects_bad_input() {
    for pt in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = poisson_rate(1, pt, 100.0, 0.95).unwrap_err().to_string();
        assert!(e.contains("person_time"), "{e}");
    }
    let e = poisson_rate(1, 10.0, 0.0, 0.95).unwrap_err().to_string();
    assert!(e.contains("`per`"), "{e}");
    assert!(poisson_rate(1, 10.0, 1.0, 1.5).is_err());
}

/// ((a, b, c, d), two-sided p, p less, p greater, conditional MLE odds ratio).
/// p-values: exact rational arithmetic (Python `fractions`, R's rule); they agree with
///   scipy.stats.fisher_exact([[a, b], [c, d]]).pvalue to ≤ 3e-16 relative.
/// Conditional MLE: mpmath root of E_psi[X] = a (50 digits); agrees with
///   scipy.stats.contingency.odds_ratio([[a, b], [c, d]], kind='conditional').statistic to 1e-14.
const FISHER: &[((u64, u64, u64, u64), f64, f64, f64, f64)] = &[
    ((3, 1, 1, 3), 0.4857142857142857, 0.9857142857142858, 0.24285714285714285, 6.408319658199674),
    ((1, 9, 11, 3), 0.0027594561852200836, 0.0013797280926100418, 0.9999663480953022, 0.03720908483238119),
    ((0, 5, 5, 0), 0.007936507936507936, 0.003968253968253968, 1.0, 0.0),
    ((5, 0, 0, 5), 0.007936507936507936, 1.0, 0.003968253968253968, f64::INFINITY),
    ((10, 10, 10, 10), 1.0, 0.6238144327180454, 0.6238144327180454, 1.0),
    ((2, 7, 8, 2), 0.023014137565221155, 0.018521725952066508, 0.9990149169715733, 0.0858523999512389),
    ((12, 5, 9, 7), 0.48126581870355145, 0.8884638325998291, 0.31104931405265107, 1.8311687622922834),
    ((0, 10, 3, 12), 0.25, 0.19782608695652174, 1.0, 0.0),
    ((20, 180, 5, 195), 0.0030534044175617595, 0.999685597987182, 0.0015267022087808797, 4.319161220436074),
    ((1, 0, 0, 0), 1.0, 1.0, 1.0, 0.0),
    ((7, 3, 2, 8), 0.06977851869492736, 0.9972612526792093, 0.03488925934746368, 8.15383541450429),
];

#[test]
fn fisher_matches_exact_rational_reference() {
    for &((a, b, c, d), two, less, greater, mle) in FISHER {
        let f = fisher_exact(a, b, c, d).unwrap();
        let what = format!("({a},{b},{c},{d})");
        assert_close(f.p_two_sided, two, 1e-13, &format!("two-sided {what}"));
        assert_close(f.p_less, less, 1e-13, &format!("less {what}"));
        assert_close(f.p_greater, greater, 1e-13, &format!("greater {what}"));
        if mle.is_finite() {
            assert_close(f.odds_ratio_conditional_mle, mle, 1e-12, &format!("MLE {what}"));
        } else {
            assert_eq!(f.odds_ratio_conditional_mle, f64::INFINITY);
        }
        assert!(f.p_two_sided <= 1.0 && f.p_two_sided > 0.0);
    }
    let f = fisher_exact(12, 5, 9, 7).unwrap();
    assert_eq!(f.odds_ratio_sample, (12.0 * 7.0) / (5.0 * 9.0));
    let e = fisher_exact(0, 0, 0, 0).unwrap_err().to_string();
    assert!(e.contains("table"), "{e}");
}

/// (table, correct, statistic, p, df) from
///   scipy.stats.chi2_contingency(table, correction=correct)  (= R chisq.test(table, correct=correct))
const CHISQ_2X2: &[([[u64; 2]; 2], bool, f64, f64, usize)] = &[
    ([[12, 5], [9, 7]], true, 0.24373030462184864, 0.6215247791593598, 1),
    ([[12, 5], [9, 7]], false, 0.7322741596638653, 0.3921470365999187, 1),
    ([[20, 180], [5, 195]], true, 8.362666666666666, 0.003830080956648341, 1),
    ([[20, 180], [5, 195]], false, 9.600000000000001, 0.0019457736937391488, 1),
    ([[3, 1], [1, 3]], true, 0.5, 0.47950012218695337, 1),
    ([[3, 1], [1, 3]], false, 2.0, 0.15729920705028105, 1),
    ([[10, 10], [10, 10]], true, 0.0, 1.0, 1),
    ([[10, 10], [10, 10]], false, 0.0, 1.0, 1),
    ([[45, 55], [30, 70]], true, 4.181333333333333, 0.04087153408900628, 1),
    ([[45, 55], [30, 70]], false, 4.8, 0.028459736916310638, 1),
    ([[1, 9], [11, 3]], true, 8.4, 0.00375221010087385, 1),
    ([[1, 9], [11, 3]], false, 10.971428571428572, 0.000925274037119762, 1),
];

#[test]
fn chisq_2x2_matches_scipy() {
    for &(t, correct, stat, p, df) in CHISQ_2X2 {
        let r = chisq_2x2(t[0][0], t[0][1], t[1][0], t[1][1], correct).unwrap();
        let what = format!("{t:?} correct={correct}");
        assert_close(r.statistic, stat, 1e-13, &format!("stat {what}"));
        assert_close(r.p, p, 1e-13, &format!("p {what}"));
        assert_eq!(r.df, df);
        // R's YATES = min(0.5, |O - E|) is 0 for the perfectly balanced table.
        assert_eq!(r.yates, correct && t != [[10, 10], [10, 10]]);
    }
    let r = chisq_2x2(3, 1, 1, 3, true).unwrap();
    assert!(r.low_expected);
    assert_eq!(r.expected, vec![vec![2.0, 2.0], vec![2.0, 2.0]]);
    // chisq_test on a 2x2 applies Yates as R's default does.
    let r = chisq_test(&[vec![12, 5], vec![9, 7]]).unwrap();
    assert_close(r.statistic, 0.24373030462184864, 1e-13, "chisq_test 2x2");
}

/// (table, statistic, p, df) from scipy.stats.chi2_contingency(table) (Yates only for 2x2,
/// so these equal R chisq.test(table) and, for r x 2, prop.test(x, n)).
#[test]
fn chisq_rxc_matches_scipy() {
    let cases: Vec<(Vec<Vec<u64>>, f64, f64, usize)> = vec![
        (vec![vec![12, 30], vec![20, 25], vec![8, 40]], 8.627819548872179, 0.013381129986651946, 2),
        (vec![vec![5, 95], vec![12, 88], vec![20, 80], vec![3, 97]], 19.77777777777778, 0.00018872635220350687, 3),
        (vec![vec![1, 2, 3], vec![4, 5, 6]], 0.2799999999999999, 0.8693582353988059, 2),
        (vec![vec![10, 10], vec![10, 10], vec![10, 10]], 0.0, 1.0, 2),
    ];
    for (t, stat, p, df) in cases {
        let r = chisq_test(&t).unwrap();
        assert_close(r.statistic, stat, 1e-13, &format!("stat {t:?}"));
        assert_close(r.p, p, 1e-13, &format!("p {t:?}"));
        assert_eq!(r.df, df);
        assert!(!r.yates);
    }
}

#[test]
fn chisq_rejects_degenerate_tables() {
    let e = chisq_2x2(0, 0, 3, 4, true).unwrap_err().to_string();
    assert!(e.contains("table") && e.contains("row 1"), "{e}");
    let e = chisq_test(&[vec![1, 0], vec![2, 0]]).unwrap_err().to_string();
    assert!(e.contains("column 2"), "{e}");
    let e = chisq_test(&[vec![1, 2], vec![2]]).unwrap_err().to_string();
    assert!(e.contains("row 2"), "{e}");
    assert!(chisq_test(&[vec![1, 2]]).is_err());
}
