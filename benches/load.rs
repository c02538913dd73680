//! Loading a large cohort: `load_cohort` (read + validate + unit-normalise +
//! index the measurements) and `load_cohort_in_parts` (the same, with the measurements
//! written to disk by patient range, as `hemosurv run` loads) against a bare polars scan +
//! collect of the same `measurements.parquet`.
//!
//! The cohort is generated in the bench setup (no dependency on
//! `hemosurv simulate`): `BENCH_PATIENTS` patients (default 100 000) with 100
//! measurements each, sorted by patient, day and analyte, with a mix of unit
//! spellings. Run with
//! `cargo bench --bench load -- --sample-size 10`.

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hemosurv::cohort::{load_cohort, load_cohort_in_parts, Analyte, LoadOptions, PartOptions};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The allocator of the `hemosurv` binary, for both sides of the comparison.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PER_PATIENT_DAYS: usize = 10;

fn n_patients() -> usize {
    std::env::var("BENCH_PATIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000)
}

/// Value (in the given unit) and unit spelling of a generated measurement.
fn value_and_unit(a: Analyte, rng: &mut ChaCha8Rng, style: u8) -> (f64, &'static str) {
    match a {
        Analyte::Temperature => {
            let c = rng.gen_range(36.0..40.5);
            if style == 0 {
                (c * 9.0 / 5.0 + 32.0, "°F")
            } else {
                (c, "°C")
            }
        }
        Analyte::Hemoglobin => {
            let g = rng.gen_range(60.0..150.0);
            if style == 1 {
                (g / 10.0, "g/dL")
            } else {
                (g, "g/L")
            }
        }
        Analyte::Platelets => {
            let p = rng.gen_range(5.0..400.0);
            if style == 2 {
                (p * 1000.0, "/µL")
            } else {
                (p, "10^9/L")
            }
        }
        Analyte::Neutrophils => (rng.gen_range(0.0..10.0), if style == 2 { "G/L" } else { "10^9/L" }),
        Analyte::Leukocytes => (rng.gen_range(0.2..50.0), if style == 1 { "x10^3/uL" } else { "10^9/L" }),
        Analyte::Ferritin => (rng.gen_range(20.0..30_000.0), if style == 0 { "ng/mL" } else { "µg/L" }),
        Analyte::Triglycerides => {
            let t = rng.gen_range(0.5..8.0);
            if style == 0 {
                (t * 88.57, "mg/dL")
            } else {
                (t, "mmol/L")
            }
        }
        Analyte::Fibrinogen => {
            let f = rng.gen_range(0.5..6.0);
            if style == 1 {
                (f * 100.0, "mg/dL")
            } else {
                (f, "g/L")
            }
        }
        Analyte::Ast => (rng.gen_range(10.0..2000.0), "U/L"),
        Analyte::Scd25 => (rng.gen_range(200.0..20_000.0), "U/mL"),
    }
}

/// Write patients.parquet and measurements.parquet; returns the measurement rows.
fn generate(dir: &Path, patients: usize) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(20240601);
    let ids: Vec<String> = (0..patients).map(|p| format!("P{p:07}")).collect();
    let base = hemosurv::cohort::iso_to_day("2015-01-01").unwrap_or(16_436);
    let mut dx = Vec::with_capacity(patients);
    let mut lc = Vec::with_capacity(patients);
    let mut death = Vec::with_capacity(patients);
    for _ in 0..patients {
        let d = base + rng.gen_range(0..3000);
        let l = d + rng.gen_range(30..1500);
        dx.push(d);
        lc.push(l);
        death.push(if rng.gen_bool(0.4) { Some(l) } else { None });
    }
    let date = |name: &str, v: Vec<i32>| -> Column { Series::new(name.into(), v).cast(&DataType::Date).expect("date").into() };
    let mut pdf = DataFrame::new_infer_height(vec![
        Series::new("patient_id".into(), &ids).into(),
        date("diagnosis_date", dx.clone()),
        date("last_contact_date", lc),
        Series::new("death_date".into(), death).cast(&DataType::Date).expect("date").into(),
    ])
    .expect("patients");
    ParquetWriter::new(std::fs::File::create(dir.join("patients.parquet")).expect("create"))
        .finish(&mut pdf)
        .expect("write patients");
    drop(pdf);

    // Measurements are written in batches of patients so that memory stays
    // bounded at any scale (BENCH_PATIENTS=1000000 gives 100 million rows).
    let n = patients * PER_PATIENT_DAYS * Analyte::ALL.len();
    let file = std::fs::File::create(dir.join("measurements.parquet")).expect("create");
    let mut writer = None;
    const BATCH: usize = 20_000;
    for first in (0..patients).step_by(BATCH) {
        let last = (first + BATCH).min(patients);
        let rows = (last - first) * PER_PATIENT_DAYS * Analyte::ALL.len();
        let mut pid: Vec<&str> = Vec::with_capacity(rows);
        let mut day: Vec<i32> = Vec::with_capacity(rows);
        let mut analyte: Vec<&str> = Vec::with_capacity(rows);
        let mut value: Vec<f64> = Vec::with_capacity(rows);
        let mut unit: Vec<&str> = Vec::with_capacity(rows);
        for p in first..last {
            let style = (p % 4) as u8;
            for k in 0..PER_PATIENT_DAYS {
                for a in Analyte::ALL {
                    let (v, u) = value_and_unit(a, &mut rng, style);
                    pid.push(&ids[p]);
                    day.push(dx[p] + 3 * k as i32);
                    analyte.push(a.name());
                    value.push(v);
                    unit.push(u);
                }
            }
        }
        let mdf = DataFrame::new_infer_height(vec![
            Series::new("patient_id".into(), pid).into(),
            date("date", day),
            Series::new("analyte".into(), analyte).into(),
            Series::new("value".into(), value).into(),
            Series::new("unit".into(), unit).into(),
        ])
        .expect("measurements");
        let w = writer.get_or_insert_with(|| {
            ParquetWriter::new(file.try_clone().expect("file")).batched(mdf.schema()).expect("batched writer")
        });
        w.write_batch(&mdf).expect("write measurements");
    }
    if let Some(w) = writer {
        w.finish().expect("finish measurements");
    }
    n
}

fn bench_load(c: &mut Criterion) {
    // BENCH_DIR=path keeps the generated cohort there (reused if present).
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir_buf = std::env::var("BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir_buf).expect("bench dir");
    let dir = dir_buf.as_path();
    let t0 = Instant::now();
    let n = if dir.join("measurements.parquet").exists() {
        n_patients() * PER_PATIENT_DAYS * Analyte::ALL.len()
    } else {
        let n = generate(dir, n_patients());
        eprintln!("generated {n} measurement rows in {:.1} s", t0.elapsed().as_secs_f64());
        n
    };
    let mpath = dir.join("measurements.parquet");
    let size = std::fs::metadata(&mpath).map(|m| m.len()).unwrap_or(0);
    eprintln!("measurements.parquet: {:.1} MB", size as f64 / 1e6);

    // sanity: the load is clean
    let loaded = load_cohort(dir, &LoadOptions::default()).expect("generated cohort loads");
    assert_eq!(loaded.cohort.measurements.len(), n);
    assert_eq!(loaded.report.error_count + loaded.report.warning_count, 0);
    drop(loaded);

    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("polars_scan_collect", |b| {
        b.iter_with_large_drop(|| {
            let path = PlRefPath::try_from_path(&mpath).expect("path");
            LazyFrame::scan_parquet(path, ScanArgsParquet::default()).expect("scan").collect().expect("collect")
        })
    });
    g.bench_function("hemosurv_load_cohort", |b| {
        b.iter_with_large_drop(|| load_cohort(dir, &LoadOptions::default()).expect("load"))
    });
    // what `hemosurv run` does: the measurements written to disk by patient range as they are
    // converted (the parts folder is removed when the result is dropped, outside the timing)
    let parts_dir = tmp.path().join("parts");
    g.bench_function("hemosurv_load_cohort_in_parts", |b| {
        b.iter_with_large_drop(|| {
            let opts = PartOptions::in_dir(parts_dir.clone(), 256);
            load_cohort_in_parts(dir, &LoadOptions::default(), &opts).expect("load in parts")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
