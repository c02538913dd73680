//! The registry cohort: data contract, loading, unit normalisation and validation.
//!
//! [`model`] holds the in-memory types; [`load`] reads a cohort folder (CSV or
//! Parquet) through polars, normalises units ([`units`]), validates every row
//! ([`validation`] collects the issues) and builds a [`Cohort`]. See
//! `docs/data-format.md` for the contract.

pub mod error;
pub mod limits;
pub mod load;
pub mod model;
pub mod omop;
pub mod parts;
pub mod table_writer;
pub mod text;
pub mod units;
pub mod validation;

mod cells;
mod measure;
mod rows;
mod source;

pub use error::{CohortError, UnitError};
pub use load::{load_cohort, load_cohort_in_parts, validate_dir, InputFile, LoadOptions, LoadedCohort};
pub use model::*;
pub use parts::{MeasurementParts, PartOptions};
pub use source::{Format, TABLES};
pub use text::SharedText;
pub use units::normalise;
pub use validation::{Issue, IssueKind, Reject, Severity, TableCounts, ValidationReport};
