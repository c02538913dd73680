//! Kaplan–Meier and log-rank on 1 and 10 million generated subjects.
//!
//! Data: 2 groups, exponential event times (medians ~253 and ~347 days),
//! independent exponential censoring giving ~30% censored, from a deterministic
//! generator. Two time resolutions:
//! * `days`: times rounded up to whole days (registry data; a few thousand distinct times),
//! * `continuous`: raw doubles (worst case: every time distinct, one row per subject).
//!
//! Run: `cargo bench --bench km_logrank -- --sample-size 10`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hemosurv::stats::km::{kaplan_meier, KmOptions};
use hemosurv::stats::logrank::survdiff;
use hemosurv::stats::Grouping;

struct Data {
    time: Vec<f64>,
    event: Vec<bool>,
    groups: Grouping,
}

/// SplitMix64: deterministic, good enough for benchmark data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

fn generate(n: usize, days: bool, seed: u64) -> Data {
    let mut rng = Rng(seed);
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    for _ in 0..n {
        let g = (rng.next_u64() & 1) as usize;
        let rate = if g == 0 { 1.0 / 365.0 } else { 1.0 / 500.0 };
        // P(C < T) = mu / (rate + mu) = 0.3
        let mu = rate * 3.0 / 7.0;
        let t = -rng.unit().ln() / rate;
        let c = -rng.unit().ln() / mu;
        let (mut x, e) = if t <= c { (t, true) } else { (c, false) };
        if days {
            x = x.ceil();
        }
        time.push(x);
        event.push(e);
        codes.push(g);
    }
    Data { time, event, groups: Grouping { codes, labels: vec!["A".to_string(), "B".to_string()] } }
}

fn bench_km_logrank(c: &mut Criterion) {
    for &(n, label) in &[(1_000_000usize, "1M"), (10_000_000usize, "10M")] {
        for &days in &[true, false] {
            let data = generate(n, days, 20_240_601);
            let res = if days { "days" } else { "continuous" };
            let mut group = c.benchmark_group(format!("km_logrank/{res}"));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("kaplan_meier", label), &data, |b, d| {
                let opts = KmOptions { rmst_tau: Some(365.0), ..KmOptions::default() };
                b.iter(|| black_box(kaplan_meier(&d.time, &d.event, &d.groups, &opts).expect("km")))
            });
            group.bench_with_input(BenchmarkId::new("logrank", label), &data, |b, d| {
                b.iter(|| black_box(survdiff(&d.time, &d.event, &d.groups, None, 0.0).expect("logrank")))
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_km_logrank
}
criterion_main!(benches);
