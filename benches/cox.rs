//! Cox model on 1 million synthetic subjects with 5 covariates (Efron ties,
//! right-censored), generated deterministically with ChaCha8 (seed 20240501).
//! Includes the fit, tests and concordance.

use criterion::{criterion_group, criterion_main, Criterion};
use hemosurv::stats::cox::{coxph, CoxOptions};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Synthetic {
    time: Vec<f64>,
    event: Vec<bool>,
    x: Array2<f64>,
    terms: Vec<String>,
}

fn synthetic(n: usize) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(20240501);
    let beta = [0.03, -0.5, 0.4, 0.2, -0.1];
    let mut x = Array2::<f64>::zeros((n, 5));
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    for i in 0..n {
        let age = 40.0 + 40.0 * rng.gen::<f64>();
        let sex = if rng.gen::<f64>() < 0.45 { 1.0 } else { 0.0 };
        let ecog = (rng.gen::<f64>() * 4.0).floor();
        let lab = rng.gen::<f64>() * 2.0 - 1.0;
        let grp = if rng.gen::<f64>() < 0.3 { 1.0 } else { 0.0 };
        let row = [age, sex, ecog, lab, grp];
        let lp: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>() - 2.0;
        let u: f64 = rng.gen::<f64>().max(1e-300);
        let t_event = -u.ln() / (0.01 * lp.exp());
        let t_cens = 365.0 * 5.0 * rng.gen::<f64>();
        // whole days: plenty of tied event times, as in registry data
        let t = t_event.min(t_cens).ceil();
        time.push(t);
        event.push(t_event <= t_cens);
        for (j, v) in row.iter().enumerate() {
            x[[i, j]] = *v;
        }
    }
    Synthetic { time, event, x, terms: ["age", "sex", "ecog", "lab", "grp"].iter().map(|s| s.to_string()).collect() }
}

fn bench_cox(c: &mut Criterion) {
    let d = synthetic(1_000_000);
    let opts = CoxOptions::default();
    let mut g = c.benchmark_group("cox");
    g.sample_size(10);
    g.bench_function("efron_1e6_x5", |b| {
        b.iter(|| {
            let m = coxph(None, &d.time, &d.event, &d.x, &d.terms, None, None, &opts).expect("fit");
            std::hint::black_box(m.loglik)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_cox);
criterion_main!(benches);
