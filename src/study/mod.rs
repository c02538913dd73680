//! The study run: `hemosurv run COHORT_DIR` — load → detect → estimate → draw → report.
//!
//! [`config`] holds the study file; [`dataset`] derives the analysis population
//! and endpoints; [`exposure`] turns detected episodes into HLH exposure;
//! [`incidence`], [`survival`] and [`response`] build the result tables;
//! [`figures`] draws them; [`run`] orchestrates a whole run into an atomic
//! output folder with a manifest and an HTML report.

pub mod adjudicated;
pub mod baseline;
pub mod columns;
pub mod config;
pub mod covariates;
pub mod dataset;
pub mod episodes;
pub mod exposure;
pub mod figures;
pub mod grid;
pub mod incidence;
pub mod key_results;
pub mod outputs;
pub mod report;
pub mod response;
pub mod risk_factors;
pub mod run;
pub mod survival;

pub use config::StudyConfig;
pub use run::{run, RunOptions, RunSummary, StudyError};

use crate::report::csv::{Cell, CsvTable};

/// A number cell, NA when not finite (a hazard ratio of a term without events, a test
/// statistic of a singular variance): NaN and infinities are never written.
pub(crate) fn finite_or_na(x: f64) -> Cell {
    if x.is_finite() {
        Cell::Num(x)
    } else {
        Cell::Na
    }
}

/// A result table with the given name, header and rows.
pub(crate) fn table(name: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> CsvTable {
    let mut t = CsvTable::new(name, columns);
    t.rows = rows;
    t
}
