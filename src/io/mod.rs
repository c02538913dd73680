//! Reading plain tables (CSV or Parquet) for the estimator subcommands, and
//! writing output files atomically.

pub mod table;

pub use table::{Table, TableError};
