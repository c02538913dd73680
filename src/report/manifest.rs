//! `manifest.json`: the provenance record of a run.
//!
//! It records the hemosurv version, the exact command, the full effective
//! study configuration, the SHA-256 and row count of every input file, row
//! counts and exclusions per stage, stage timings, and the SHA-256 and size of
//! every output file. Tables are byte-identical between runs with the same
//! inputs, but the manifest (start time, timings) and the report (which shows
//! them) are not; to check two runs agree, compare `outputs[].sha256` of the
//! `tables/` entries. The manifest does not list itself.
//!
//! Keys are written in a stable order: struct fields in declaration order,
//! maps (including every object inside `study_config`) sorted by key.

use crate::io::sha256_file;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::output::{write_atomic, MANIFEST_FILE};
use super::{ReportError, ReportResult};

/// Provenance record of one run, written as `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// hemosurv version that produced the output.
    pub hemosurv_version: String,
    /// The command line (program name and arguments).
    pub command: Vec<String>,
    /// Start time, ISO 8601 UTC (e.g. `2025-01-31T12:00:00Z`).
    pub started_utc: String,
    /// Wall-clock duration of the whole run, seconds.
    pub wall_time_s: f64,
    /// The full effective study configuration (defaults filled in).
    pub study_config: serde_json::Value,
    /// Every input file read.
    pub inputs: Vec<InputFile>,
    /// Row counts by name (e.g. `patients`, `patients_after_validation`).
    pub row_counts: BTreeMap<String, u64>,
    /// Rows excluded, per stage and reason (never silent).
    pub exclusions: Vec<Exclusion>,
    /// Time spent per stage, in run order.
    pub stages: Vec<StageTiming>,
    /// Every output file except `manifest.json` itself, sorted by path.
    pub outputs: Vec<OutputFile>,
    /// Analyses that could not be computed on this cohort, with the reason (the run
    /// still succeeds; the same list is in the report and `tables/analyses_not_computed.csv`).
    #[serde(default)]
    pub not_computed: Vec<NotComputed>,
}

/// An analysis that could not be computed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotComputed {
    /// The analysis (e.g. `Gray's test by first_line_intensity (hlh2004)`).
    pub analysis: String,
    /// Why it could not be computed.
    pub reason: String,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Logical table (e.g. `patients`, `labs`).
    pub table: String,
    /// Path as given / resolved by the run.
    pub path: String,
    /// SHA-256 of the file content, lowercase hex.
    pub sha256: String,
    /// Data rows read (header excluded).
    pub rows: u64,
}

/// Rows excluded at one stage for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Stage (e.g. `validation`, `episode_detection`).
    pub stage: String,
    /// Why, in words a clinician understands.
    pub reason: String,
    /// Number of rows (or patients; the reason says which).
    pub count: u64,
}

/// Duration of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// Stage name.
    pub name: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// CPU seconds of the whole process (user + system, all threads) during the stage;
    /// absent where the platform does not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// Peak resident memory (kB) of the process from its start to the end of the stage (the
    /// kernel's high-water mark: it rises in the stage that sets a new peak); absent where the
    /// platform does not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path relative to the output folder, `/`-separated (e.g. `tables/km.csv`).
    pub path: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

impl Manifest {
    /// Pretty JSON text (two-space indent, trailing newline) with stable key order.
    ///
    /// Fails if a time is NaN or infinite (JSON cannot hold it faithfully).
    pub fn to_json_string(&self) -> ReportResult<String> {
        let bad = |what: &str| ReportError::Manifest { message: format!("{what} is not a finite number") };
        if !self.wall_time_s.is_finite() {
            return Err(bad("wall_time_s"));
        }
        if let Some(s) = self.stages.iter().find(|s| !s.seconds.is_finite()) {
            return Err(bad(&format!("stages[{}].seconds", s.name)));
        }
        // Struct fields serialise in declaration order and BTreeMaps sorted;
        // only the free-form config needs its objects sorted explicitly.
        let mut sorted = self.clone();
        sort_keys(&mut sorted.study_config);
        let mut s = serde_json::to_string_pretty(&sorted).map_err(|e| ReportError::Manifest { message: e.to_string() })?;
        s.push('\n');
        Ok(s)
    }

    /// Parse manifest JSON text.
    pub fn from_json_str(s: &str) -> ReportResult<Manifest> {
        serde_json::from_str(s).map_err(|e| ReportError::Manifest { message: e.to_string() })
    }

    /// Read a `manifest.json` file.
    pub fn read(path: &Path) -> ReportResult<Manifest> {
        let s = fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        Manifest::from_json_str(&s).map_err(|e| ReportError::Manifest { message: format!("{}: {e}", path.display()) })
    }

    /// Write `<dir>/manifest.json` atomically (call last, after [`Manifest::record_outputs`]).
    pub fn write(&self, dir: &Path) -> ReportResult<()> {
        let text = self.to_json_string()?;
        write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
    }

    /// Fill [`Manifest::outputs`] with every regular file under `root`
    /// (recursively, sorted by relative path, `manifest.json` at the top
    /// level excluded), hashing each one.
    pub fn record_outputs(&mut self, root: &Path) -> ReportResult<()> {
        let mut files = Vec::new();
        collect_files(root, "", &mut files)?;
        files.sort();
        self.outputs.clear();
        for rel in files {
            if rel == MANIFEST_FILE {
                continue;
            }
            let full = root.join(&rel);
            let sha256 = sha256_file(&full).map_err(|e| ReportError::io(&full, e))?;
            let bytes = fs::metadata(&full).map_err(|e| ReportError::io(&full, e))?.len();
            self.outputs.push(OutputFile { path: rel, sha256, bytes });
        }
        Ok(())
    }

    /// Sum of the exclusion counts.
    pub fn total_excluded(&self) -> u64 {
        self.exclusions.iter().map(|e| e.count).sum()
    }
}

/// Recursively list regular files under `dir` as `/`-separated paths relative to the root.
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> ReportResult<()> {
    let entries = fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ReportError::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let ft = entry.file_type().map_err(|e| ReportError::io(&path, e))?;
        if ft.is_dir() {
            collect_files(&path, &rel, out)?;
        } else if ft.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// Rebuild every JSON object with its keys in sorted order (a no-op unless
/// serde_json's `preserve_order` feature is enabled somewhere in the build).
fn sort_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut val) in entries {
                sort_keys(&mut val);
                map.insert(k, val);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // Longer than one read chunk.
        let big = vec![b'a'; 1_000_000];
        fs::write(&p, &big).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    #[test]
    fn non_finite_time_is_an_error() {
        let m = Manifest { wall_time_s: f64::NAN, ..Manifest::default() };
        assert!(m.to_json_string().unwrap_err().to_string().contains("wall_time_s"));
    }
}
