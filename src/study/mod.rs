//! The study run: `hemosurv run COHORT_DIR` — load → detect → estimate → draw → report.
//!
//! [`config`] holds the study file; [`dataset`] derives the analysis population
//! and endpoints; [`exposure`] turns detected episodes into HLH exposure;
//! [`incidence`], [`survival`] and [`response`] build the result tables;
//! [`figures`] draws them; [`paper`] writes `report.html`; [`run`] orchestrates a whole run into an atomic
//! output folder with a manifest and an HTML report.

pub mod adjudicated;
pub mod baseline;
pub mod columns;
pub mod config;
pub mod covariates;
pub mod dataset;
pub mod episodes;
mod evidence_spill;
pub mod exposure;
pub mod figures;
pub mod grid;
pub mod incidence;
pub mod key_results;
pub mod outputs;
pub mod paper;
pub mod response;
pub mod risk_factors;
pub mod run;
pub mod survival;

pub use config::StudyConfig;
pub use run::{run, RunOptions, RunSummary, StudyError, DEFAULT_PART_ROWS};

use crate::table::{Cell, ResultTable};

/// A result table with the given name, header and rows.
/// A count with its percentage as the descriptive tables (Table 1, Table 2) print it:
/// `n (x.x%)`, or `n (NA)` when the denominator is 0.
pub(crate) fn count_pct(n: u64, of: u64) -> String {
    if of == 0 {
        format!("{n} (NA)")
    } else {
        format!("{n} ({:.1}%)", 100.0 * n as f64 / of as f64)
    }
}

/// `median (q1–q3)` as the descriptive tables print it, each number by [`compact`].
pub(crate) fn median_iqr_text(median: f64, q1: f64, q3: f64) -> String {
    format!("{} ({}–{})", compact(median), compact(q1), compact(q3))
}

/// A number for a descriptive table's text: integers from 100 up, one decimal from 10, else
/// two (the full-precision values are in the numeric columns and the R checks).
pub(crate) fn compact(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub(crate) fn table(name: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> ResultTable {
    let mut t = ResultTable::new(name, columns);
    t.rows = rows;
    t
}
