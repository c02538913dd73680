//! Errors of the cohort loader and of unit normalisation.

use std::path::PathBuf;

use thiserror::Error;

use super::model::Analyte;
use super::validation::ValidationReport;

/// A unit or analyte that the unit table does not know.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum UnitError {
    /// The `analyte` column holds a name that is not a known analyte.
    #[error("unknown analyte '{analyte}'; known analytes: {}", .known.join(", "))]
    UnknownAnalyte {
        /// The name as given.
        analyte: String,
        /// Every known analyte name.
        known: Vec<&'static str>,
    },
    /// The unit is not an accepted spelling for the analyte.
    #[error(
        "unknown unit '{unit}' for {analyte}; accepted spellings: {} \
         (case, spaces and µ/μ/u are ignored when matching)",
        .accepted.join(", ")
    )]
    UnknownUnit {
        /// The analyte.
        analyte: Analyte,
        /// The unit as given.
        unit: String,
        /// Every accepted spelling for this analyte.
        accepted: Vec<&'static str>,
    },
    /// The value is NaN or infinite.
    #[error("{analyte} value {value} is not a finite number")]
    NonFinite {
        /// The analyte.
        analyte: Analyte,
        /// The value.
        value: f64,
    },
}

/// Everything that can go wrong when loading a cohort folder.
#[derive(Debug, Error)]
pub enum CohortError {
    /// The cohort failed validation. The report lists every problem (table,
    /// row, column, expected, found); its `Display` is the capped text rendering.
    #[error("the cohort folder failed validation:\n{0}")]
    Invalid(Box<ValidationReport>),
    /// An analysis needs a table that the cohort folder does not contain.
    #[error(
        "{needed_for} needs the `{table}` table, but the cohort folder has no \
         {table}.csv or {table}.parquet"
    )]
    MissingTable {
        /// The table name (e.g. `measurements`).
        table: String,
        /// The analysis that needs it (e.g. `HLH detection`).
        needed_for: String,
    },
    /// A file could not be read or written (outside of table parsing, which is
    /// reported as a validation issue).
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CohortError {
    /// The validation report, if this is [`CohortError::Invalid`].
    pub fn report(&self) -> Option<&ValidationReport> {
        match self {
            CohortError::Invalid(r) => Some(r),
            _ => None,
        }
    }
}
