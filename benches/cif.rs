//! Cumulative incidence (2 causes, 2 groups, with Gray's test) on 1 million subjects.
//!
//! Run: `cargo bench --bench cif -- --sample-size 10`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hemosurv::stats::cif::cuminc;
use hemosurv::stats::Grouping;

/// Deterministic xorshift64* uniform(0, 1) generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// n subjects: two groups, cause 1 and cause 2 with exponential latent times, uniform censoring.
/// With `days = true` times are rounded up to whole days (many ties), else continuous.
fn simulate(n: usize, days: bool) -> (Vec<f64>, Vec<u32>, Grouping) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    for _ in 0..n {
        let g = usize::from(rng.next() < 0.5);
        let t1 = -rng.next().ln() * if g == 0 { 2000.0 } else { 1500.0 };
        let t2 = -rng.next().ln() * 1200.0;
        let c = rng.next() * 3650.0;
        let (t, e) = if t1 <= t2 && t1 <= c {
            (t1, 1)
        } else if t2 <= c {
            (t2, 2)
        } else {
            (c, 0)
        };
        time.push(if days { t.ceil() } else { t });
        event.push(e);
        codes.push(g);
    }
    (time, event, Grouping { codes, labels: vec!["A".into(), "B".into()] })
}

fn bench(c: &mut Criterion) {
    for (name, days) in [("cuminc_1M_continuous_times", false), ("cuminc_1M_integer_days", true)] {
        let (time, event, groups) = simulate(1_000_000, days);
        c.bench_function(name, |b| {
            b.iter(|| {
                let ci = cuminc(black_box(&time), black_box(&event), black_box(&groups), None).unwrap();
                black_box(ci.tests[0].stat)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
