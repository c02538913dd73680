//! Writing an import: the cohort tables (with the project's table writer,
//! [`crate::cohort::table_writer::TableSink`]) and the audit folder `omop_audit/`, into a
//! temporary sibling folder renamed into place at the end.

use std::path::{Path, PathBuf};

use super::{import, CheckedMapping, Imported, OmopError};
use crate::cohort::table_writer::{close_all, Chunk, Col, TableSink, WriteError};
use crate::cohort::{Day, Format};
use crate::io::atomic_dir::{AtomicDir, AtomicDirError, Marker};

/// Rows written per cohort table.
pub type RowCounts = Vec<(&'static str, usize)>;

/// The audit subfolder of an imported cohort.
pub const AUDIT_DIR: &str = "omop_audit";

/// The cohort tables of an import, in the contract's column order.
fn cohort_chunks(im: &Imported) -> Vec<(&'static str, Chunk<'_>)> {
    vec![
        ("patients", patients_chunk(im)),
        ("measurements", measurements_chunk(im)),
        ("findings", findings_chunk(im)),
        ("treatments", treatments_chunk(im)),
        ("responses", responses_chunk(im)),
    ]
}

/// The patient id of a person index.
fn id_of(im: &Imported, i: usize) -> &str {
    im.people.persons[i].patient_id.as_str()
}

fn patients_chunk(im: &Imported) -> Chunk<'_> {
    let mut names = vec!["patient_id", "diagnosis_date", "last_contact_date", "death_date", "sex", "age_at_diagnosis"];
    names.extend(im.mapping.mapping.covariates.iter().map(|c| c.name.as_str()));
    let (mut pid, mut dx, mut lc, mut death, mut sex, mut age) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut covs: Vec<Vec<&str>> = vec![Vec::new(); im.mapping.mapping.covariates.len()];
    for (i, p) in im.people.persons.iter().enumerate() {
        let Ok(c) = &p.status else { continue };
        pid.push(p.patient_id.as_str());
        dx.push(Some(c.diagnosis));
        lc.push(Some(c.last_contact));
        death.push(c.death);
        sex.push(p.sex.as_deref().unwrap_or(""));
        age.push(c.age);
        for (k, col) in covs.iter_mut().enumerate() {
            col.push(im.events.covariates[i][k].as_ref().map_or("", |(_, v)| v.as_str()));
        }
    }
    let mut cols = vec![Col::Str(pid), Col::Date(dx), Col::Date(lc), Col::Date(death), Col::Str(sex), Col::OptF64(age)];
    cols.extend(covs.into_iter().map(Col::Str));
    Chunk { names, cols }
}

fn measurements_chunk(im: &Imported) -> Chunk<'_> {
    let m = &im.events.measurements;
    Chunk {
        names: vec!["patient_id", "date", "analyte", "value", "unit"],
        cols: vec![
            Col::Str(m.iter().map(|r| id_of(im, r.patient)).collect()),
            Col::Date(m.iter().map(|r| Some(r.date)).collect()),
            Col::Str(m.iter().map(|r| r.analyte.name()).collect()),
            Col::Str(m.iter().map(|r| r.value.as_str()).collect()),
            Col::Str(m.iter().map(|r| r.unit.as_str()).collect()),
        ],
    }
}

fn findings_chunk(im: &Imported) -> Chunk<'_> {
    let f = &im.events.findings;
    Chunk {
        names: vec!["patient_id", "date", "finding", "present"],
        cols: vec![
            Col::Str(f.iter().map(|r| id_of(im, r.patient)).collect()),
            Col::Date(f.iter().map(|r| Some(r.date)).collect()),
            Col::Str(f.iter().map(|r| r.kind.name()).collect()),
            Col::Bool(f.iter().map(|r| r.present).collect()),
        ],
    }
}

fn treatments_chunk(im: &Imported) -> Chunk<'_> {
    let l = &im.course.lines;
    Chunk {
        names: vec!["patient_id", "line", "regimen", "intensity", "start_date", "end_date"],
        cols: vec![
            Col::Str(l.iter().map(|r| id_of(im, r.patient)).collect()),
            Col::I64(l.iter().map(|r| r.line as i64).collect()),
            Col::Str(l.iter().map(|r| r.regimen.as_str()).collect()),
            Col::Str(l.iter().map(|r| r.intensity.name()).collect()),
            Col::Date(l.iter().map(|r| Some(r.start)).collect()),
            Col::Date(l.iter().map(|r| r.end).collect::<Vec<Option<Day>>>()),
        ],
    }
}

fn responses_chunk(im: &Imported) -> Chunk<'_> {
    let r = &im.course.responses;
    Chunk {
        names: vec!["patient_id", "line", "date", "response"],
        cols: vec![
            Col::Str(r.iter().map(|x| id_of(im, x.patient)).collect()),
            Col::I64(r.iter().map(|x| x.line as i64).collect()),
            Col::Date(r.iter().map(|x| Some(x.date)).collect()),
            Col::Str(r.iter().map(|x| x.response.name()).collect()),
        ],
    }
}

/// Write one table per chunk into `dir`; all or nothing.
fn write_tables(dir: &Path, format: Format, chunks: &[(&str, Chunk)]) -> Result<Vec<PathBuf>, OmopError> {
    let mut sinks = Vec::with_capacity(chunks.len());
    for (name, chunk) in chunks {
        let mut sink = TableSink::create(dir, name, format, chunk)?;
        if let Err(e) = sink.append(chunk) {
            sink.abandon();
            sinks.into_iter().for_each(TableSink::abandon);
            return Err(e.into());
        }
        sinks.push(sink);
    }
    Ok(close_all(sinks)?)
}

/// Write the cohort tables and `omop_audit/` of an import into the existing folder `dir`.
/// Returns the rows written per cohort table.
pub fn write_cohort(im: &Imported, dir: &Path, format: Format) -> Result<RowCounts, OmopError> {
    let chunks = cohort_chunks(im);
    write_tables(dir, format, &chunks)?;
    let rows: RowCounts = chunks.iter().map(|(n, c)| (*n, c.height())).collect();
    let audit_dir = dir.join(AUDIT_DIR);
    std::fs::create_dir_all(&audit_dir).map_err(|e| io_error(&audit_dir, e))?;
    write_tables(
        &audit_dir,
        Format::Csv,
        &[("audit", im.audit.audit_chunk()), ("unmapped_concepts", im.audit.unmapped_chunk())],
    )?;
    let summary = audit_dir.join("summary.txt");
    std::fs::write(&summary, im.audit.summary_text(&rows)).map_err(|e| io_error(&summary, e))?;
    Ok(rows)
}

/// A file-system error on the output, as the table writer reports it.
fn io_error(path: &Path, e: std::io::Error) -> OmopError {
    OmopError::Write(WriteError::Io { path: path.to_path_buf(), message: e.to_string() })
}

/// The import's message for a folder that cannot be written or put into place.
fn folder_error(e: AtomicDirError) -> OmopError {
    let output_exists = |path: PathBuf, message: &str| OmopError::OutputExists { path, message: message.to_string() };
    match e {
        AtomicDirError::Exists { path } => output_exists(path, "exists; use --force to replace it"),
        AtomicDirError::NotAFolder { path } | AtomicDirError::Unmarked { path, .. } => {
            output_exists(path, "exists and is not an earlier OMOP import (no omop_audit/ folder); choose another --out")
        }
        AtomicDirError::BadPath { path, reason } => {
            OmopError::OutputExists { path, message: format!("not usable as an output folder: {reason}") }
        }
        AtomicDirError::Io { path, source } => io_error(&path, source),
    }
}

/// Import the CDM folder `cdm` into the cohort folder `out` (written under a temporary name
/// and renamed into place, [`AtomicDir`]; an existing `out` is replaced only with `force` and
/// only if it is empty or an earlier import, i.e. has `omop_audit/`). Returns the import (for
/// its summary) and rows per table.
pub fn import_to_folder(
    cdm: &Path,
    out: &Path,
    mapping: CheckedMapping,
    format: Format,
    force: bool,
) -> Result<(Imported, RowCounts), OmopError> {
    let dir = AtomicDir::create(out, force, Marker::Dir(AUDIT_DIR)).map_err(folder_error)?;
    let imported = import(cdm, mapping)?;
    let rows = write_cohort(&imported, dir.path(), format)?;
    dir.commit().map_err(folder_error)?;
    Ok((imported, rows))
}
