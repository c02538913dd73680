//! Helpers shared by the tests that read the R reference fixtures
//! (`tests/fixtures/reference`): data files, expected JSON, tolerance checks.
#![allow(dead_code)] // each test crate uses a subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The copied R reference folder.
pub const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference");

/// Minimal CSV reader (the reference files have no quoting): column name -> values.
pub fn read_csv(rel: &str) -> HashMap<String, Vec<String>> {
    let path = Path::new(REF).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().expect("header").split(',').map(|s| s.trim().to_string()).collect();
    let mut cols: HashMap<String, Vec<String>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{rel} line {}", i + 2);
        for (h, f) in header.iter().zip(fields) {
            cols.get_mut(h).expect("column").push(f.trim().to_string());
        }
    }
    cols
}

/// A column of numbers.
pub fn num_col(cols: &HashMap<String, Vec<String>>, name: &str) -> Vec<f64> {
    cols[name].iter().map(|s| s.parse::<f64>().unwrap_or_else(|_| panic!("{name}: bad number {s}"))).collect()
}

/// (time, event) of a data file (columns `time`, `status` 0/1).
pub fn surv_data(cols: &HashMap<String, Vec<String>>) -> (Vec<f64>, Vec<bool>) {
    let time = num_col(cols, "time");
    let event = num_col(cols, "status")
        .iter()
        .map(|&s| {
            assert!(s == 0.0 || s == 1.0, "status {s}");
            s == 1.0
        })
        .collect();
    (time, event)
}

/// A JSON file.
pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The expected-result files whose name starts with `prefix`, sorted.
pub fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(REF).join("expected"))
        .expect("expected dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    v.sort();
    v
}

/// Equal, or within relative tolerance `tol` of the larger magnitude.
pub fn close(got: f64, want: f64, tol: f64) -> bool {
    got == want || (got - want).abs() <= tol * got.abs().max(want.abs())
}

/// [`close`], or panic naming `ctx`.
pub fn assert_close(got: f64, want: f64, tol: f64, ctx: &str) {
    let rel = (got - want).abs() / want.abs();
    assert!(close(got, want, tol), "{ctx}: got {got:e}, want {want:e} (rel diff {rel:e})");
}
