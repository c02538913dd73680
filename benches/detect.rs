//! Benchmark of HLH detection on a synthetic in-memory cohort.
//!
//! 100 000 patients × 100 measurements (10 M rows), deterministic pseudo-random values,
//! about 3 % of patients with an HLH-like week. Run:
//! `cargo bench --bench detect -- --sample-size 10` (throughput is reported in measurement
//! rows per second). Set `HLH_BENCH_PATIENTS` to change the cohort size.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hemosurv::cohort::{Analyte, Cohort, Finding, FindingKind, Intensity, Measurement, Patient, Qualifier, TreatmentLine};
use hemosurv::hlh::{detect, detect_many, CriteriaSet, BUILTIN_NAMES};

/// SplitMix64: small, deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unif(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unif()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// (normal low, normal high, HLH-like low, HLH-like high) in canonical units.
fn ranges(a: Analyte) -> (f64, f64, f64, f64) {
    match a {
        Analyte::Temperature => (36.2, 38.9, 38.6, 40.5),
        Analyte::Hemoglobin => (70.0, 140.0, 55.0, 85.0),
        Analyte::Platelets => (10.0, 350.0, 5.0, 60.0),
        Analyte::Neutrophils => (0.05, 6.0, 0.05, 0.8),
        Analyte::Leukocytes => (0.2, 12.0, 0.2, 3.0),
        Analyte::Ferritin => (100.0, 2500.0, 3000.0, 40_000.0),
        Analyte::Triglycerides => (0.8, 2.8, 3.1, 6.0),
        Analyte::Fibrinogen => (1.8, 6.0, 0.5, 1.4),
        Analyte::Ast => (10.0, 80.0, 40.0, 400.0),
        Analyte::Scd25 => (300.0, 3000.0, 4000.0, 20_000.0),
    }
}

fn synthetic_cohort(n_patients: usize, per_patient: usize) -> Cohort {
    let mut rng = Rng(0x5EED_2024);
    let base = 18_000;
    let mut patients = Vec::with_capacity(n_patients);
    let mut ms = Vec::with_capacity(n_patients * per_patient);
    let mut fs = Vec::new();
    let mut ts = Vec::with_capacity(n_patients);
    let units: Vec<String> = Analyte::ALL.iter().map(|a| a.canonical_unit().to_string()).collect();
    let (mut mrow, mut frow) = (0u32, 0u32);
    for i in 0..n_patients {
        let p = i as u32;
        patients.push(Patient {
            id: format!("SYN{i:07}").into(),
            diagnosis: base,
            last_contact: base + 365,
            death: None,
            sex: None,
            age: None,
        });
        let intensity = [Intensity::Intensive, Intensity::LowIntensity, Intensity::Supportive][i % 3];
        ts.push(TreatmentLine { patient: p, line: 1, regimen: "x".into(), intensity, start: base, end: None, row: i as u32 + 1 });
        let hlh_like = rng.unif() < 0.03;
        let hlh_day = base + 10 + rng.below(200) as i32;
        // Sampling days: panels of 4 analytes every 1..=7 days.
        let mut day = base + rng.below(5) as i32;
        let mut left = per_patient;
        while left > 0 {
            let in_hlh = hlh_like && (hlh_day..=hlh_day + 6).contains(&day);
            for _ in 0..left.min(4) {
                let a = Analyte::ALL[rng.below(10) as usize];
                let (lo, hi, hlo, hhi) = ranges(a);
                let v = if in_hlh { rng.range(hlo, hhi) } else { rng.range(lo, hi) };
                mrow += 1;
                ms.push(Measurement {
                    patient: p,
                    day,
                    analyte: a,
                    unit: a as u16,
                    value: v,
                    raw_value: v,
                    row: mrow,
                    qualifier: Qualifier::None,
                });
            }
            left = left.saturating_sub(4);
            if in_hlh && rng.unif() < 0.5 {
                for f in [FindingKind::Splenomegaly, FindingKind::Hemophagocytosis] {
                    frow += 1;
                    fs.push(Finding { patient: p, day, finding: f, present: true, row: frow });
                }
            }
            day += 1 + rng.below(7) as i32;
        }
        if rng.unif() < 0.1 {
            frow += 1;
            fs.push(Finding { patient: p, day: base, finding: FindingKind::Splenomegaly, present: rng.unif() < 0.5, row: frow });
        }
    }
    Cohort::new(patients, ms, fs, ts, vec![], units)
}

fn bench_detect(c: &mut Criterion) {
    let n: usize = std::env::var("HLH_BENCH_PATIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let cohort = synthetic_cohort(n, 100);
    let rows = cohort.measurements.len() as u64;
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(rows));
    for name in ["hlh2004", "hscore", "ohi"] {
        let set = CriteriaSet::builtin(name).expect("built-in set");
        let d = detect(&cohort, &set);
        eprintln!(
            "{name}: {} patients, {rows} measurements, {} with episode, {} episodes, {} evidence rows",
            d.summary.patients_screened,
            d.summary.patients_with_episode,
            d.episodes.len(),
            d.evidence.len()
        );
        g.bench_function(name, |b| b.iter(|| detect(&cohort, &set)));
    }
    // Every built-in set: one pass per set (the baseline) vs one pass over the patients
    // evaluating every set (`detect_many`, what the study run does), in the same run.
    let all: Vec<CriteriaSet> = BUILTIN_NAMES.iter().map(|n| CriteriaSet::builtin(n).expect("built-in set")).collect();
    g.bench_function("all_builtin_one_pass_per_set", |b| b.iter(|| all.iter().map(|s| detect(&cohort, s)).collect::<Vec<_>>()));
    g.bench_function("all_builtin_detect_many", |b| b.iter(|| detect_many(&cohort, &all)));
    g.finish();
}

criterion_group!(benches, bench_detect);
criterion_main!(benches);
