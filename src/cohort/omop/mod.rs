//! `hemosurv import omop`: an OMOP CDM v5.4 extract (CSV or Parquet tables) mapped to the
//! cohort contract, with an audit of every row. See `docs/omop.md` for the rules.
//!
//! [`read`] reads the tables as text, [`concepts`] joins the `concept` table with the
//! [`mapping`], [`patients`] finds the AML diagnoses and the follow-up, [`events`] maps
//! measurements, findings, covariates and response observations, [`treatments`] the
//! treatment lines (episodes or drug exposures) and responses, [`audit`] counts every row,
//! and [`write`] writes the cohort folder and the audit with the project's table writer.

pub mod audit;
pub mod concepts;
pub mod events;
pub mod mapping;
pub mod patients;
pub mod read;
pub mod treatments;
pub mod write;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use audit::{Audit, Reason};
pub use mapping::{CheckedMapping, Mapping, Target, DEFAULT_MAPPING_TOML};
pub use write::{import_to_folder, write_cohort, RowCounts};

use crate::cohort::table_writer::WriteError;
use crate::cohort::{Analyte, Day, FindingKind, Intensity, Response};

/// Errors of an OMOP import. Every data error names the table, 1-based data row and column.
#[derive(Debug, Error)]
pub enum OmopError {
    /// The mapping file is invalid.
    #[error("OMOP mapping ({file}): {message}")]
    Mapping {
        /// The file (or "built-in mapping").
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A required table is missing, or a table is given twice.
    #[error("{}: {message}", path.display())]
    Structure {
        /// The CDM folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file cannot be parsed.
    #[error("OMOP table {table} ({}): cannot read: {message}", path.display())]
    Unreadable {
        /// Table.
        table: String,
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// A required column is missing.
    #[error("OMOP table {table} ({}): required column `{column}` is missing; the table has columns: {found}", path.display())]
    MissingColumn {
        /// Table.
        table: String,
        /// File.
        path: PathBuf,
        /// Column.
        column: String,
        /// Columns found.
        found: String,
    },
    /// A cell is not what the import needs.
    #[error("OMOP table {table} row {row}, column {column}: expected {expected}, found `{found}`")]
    BadValue {
        /// Table.
        table: String,
        /// 1-based data row.
        row: usize,
        /// Column.
        column: String,
        /// What was expected.
        expected: String,
        /// The text found.
        found: String,
    },
    /// The output folder exists (without `--force`), or is not an earlier import.
    #[error("{}: {message}", path.display())]
    OutputExists {
        /// The folder.
        path: PathBuf,
        /// What to do.
        message: String,
    },
    /// The output cannot be written (file system or Parquet encoding).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A defect of the import itself (its audit counts do not add up), never a data problem.
    #[error("{}: internal error: {message}", path.display())]
    Internal {
        /// The CDM folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// One `measurements` row (value and unit as given, the unit checked against the unit table).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasRow {
    /// Index into the persons.
    pub patient: usize,
    /// Date.
    pub date: Day,
    /// Analyte.
    pub analyte: Analyte,
    /// Value text (`9.2`, `>40000`).
    pub value: String,
    /// Unit spelling.
    pub unit: String,
}

/// One `findings` row.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    /// Index into the persons.
    pub patient: usize,
    /// Date.
    pub date: Day,
    /// Finding.
    pub kind: FindingKind,
    /// Present (false: documented absent).
    pub present: bool,
}

/// One `treatments` row.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRow {
    /// Index into the persons.
    pub patient: usize,
    /// Line number (1 = first line).
    pub line: u32,
    /// Regimen name.
    pub regimen: String,
    /// Intensity.
    pub intensity: Intensity,
    /// Start date.
    pub start: Day,
    /// End date.
    pub end: Option<Day>,
}

/// A response seen in an OMOP table before its line is known.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseObs {
    /// Index into the persons.
    pub patient: usize,
    /// Date.
    pub date: Day,
    /// Response.
    pub response: Response,
    /// The OMOP table it came from.
    pub table: &'static str,
    /// Its row there (0-based).
    pub order: usize,
}

/// One `responses` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRow {
    /// Index into the persons.
    pub patient: usize,
    /// Line assessed.
    pub line: u32,
    /// Date.
    pub date: Day,
    /// Response.
    pub response: Response,
}

/// The result of an import: the cohort's rows and the audit.
#[derive(Debug)]
pub struct Imported {
    /// The mapping used.
    pub mapping: CheckedMapping,
    /// Persons (patients are those with `status` Ok).
    pub people: patients::People,
    /// Measurements, findings, covariates.
    pub events: events::Events,
    /// Treatment lines and responses.
    pub course: treatments::Course,
    /// Row counts.
    pub audit: Audit,
}

/// Read the CDM folder `dir` and map it with `mapping` (see the module documentation).
pub fn import(dir: &Path, mapping: CheckedMapping) -> Result<Imported, OmopError> {
    let cdm = read::read_cdm(dir)?;
    let mut audit = Audit::default();
    let concept_table =
        cdm.get("concept").ok_or_else(|| OmopError::Structure { path: dir.to_path_buf(), message: "no concept table".into() })?;
    let concepts = concepts::Concepts::build(concept_table, &mapping, &mut audit)?;
    let people = patients::build_people(&cdm, &mapping, &concepts, &mut audit)?;
    let mut events = events::read_events(&cdm, &people, &mapping, &concepts, &mut audit)?;
    let observed = std::mem::take(&mut events.responses);
    let course = treatments::build_course(&cdm, &people, &mapping, &concepts, observed, &mut audit)?;
    if let Some(t) = cdm.get("episode_event") {
        audit.read("episode_event", t.height());
        for _ in 0..t.height() {
            audit.left_out("episode_event", Reason::CountedOnly);
        }
    }
    let unbalanced = audit.unbalanced();
    if !unbalanced.is_empty() {
        return Err(OmopError::Internal {
            path: dir.to_path_buf(),
            message: format!("audit counts do not add up: {}", unbalanced.join("; ")),
        });
    }
    Ok(Imported { mapping, people, events, course, audit })
}
