//! Writing a run's results: the atomic output folder, the CSV tables, the
//! `manifest.json` provenance record and the self-contained HTML report.
//!
//! Layout of a finished output folder (written by the study run):
//!
//! ```text
//! <out>/
//!   manifest.json      provenance: version, command, config, input hashes, counts, timings, output hashes
//!   report.html        one self-contained page (inline CSS and SVG, no JavaScript, no external URLs)
//!   tables/*.csv       every result table; byte-identical between runs with the same inputs
//!   tables/README.md   what every column of every table means
//!   figures/*.svg      every figure
//! ```
//!
//! The folder is built under a hidden temporary name beside `<out>` and renamed
//! into place only when complete ([`OutputDir::commit`]), so a failed or
//! interrupted run never leaves something that looks like a finished result.

pub mod html;
pub mod manifest;
pub mod output;
pub mod tables;
pub mod usage;

use std::path::PathBuf;

use thiserror::Error;

pub use crate::io::sha256_file;
pub use html::{FigureRef, ListedTable, Report, Section};
pub use manifest::{Exclusion, InputFile, Manifest, OutputFile, StageTiming};
pub use output::{write_atomic, OutputDir};
pub use tables::{tables_readme, write_csv_and_parquet, write_csv_file};

/// Errors while writing a run's output.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The output folder already exists and `--force` was not given.
    #[error("output folder {} already exists; pass --force to replace it", path.display())]
    OutputExists {
        /// The existing folder.
        path: PathBuf,
    },
    /// `--force` was given but the existing path does not look like a hemosurv
    /// output folder, so it is not deleted.
    #[error(
        "refusing to replace {}: {reason}; remove it yourself or choose another --out",
        path.display()
    )]
    UnsafeReplace {
        /// The existing path.
        path: PathBuf,
        /// Why it is not replaced.
        reason: String,
    },
    /// The output path cannot be used as a folder name (e.g. `/` or `..`).
    #[error("{}: not usable as an output folder: {reason}", path.display())]
    BadOutputPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A table cannot be written (NaN, wrong row length, bad name, ...).
    #[error(transparent)]
    Table(#[from] crate::table::ResultTableError),
    /// A figure file could not be inlined into the HTML report.
    #[error("{}: cannot inline figure: {message}", path.display())]
    BadFigure {
        /// The SVG file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The manifest could not be serialised or parsed.
    #[error("manifest: {message}")]
    Manifest {
        /// What went wrong.
        message: String,
    },
}

impl ReportError {
    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ReportError {
        ReportError::Io { path: path.into(), source }
    }
}

/// Result type of this module.
pub type ReportResult<T> = Result<T, ReportError>;
