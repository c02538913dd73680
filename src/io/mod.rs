//! Reading plain tables (CSV or Parquet) for the estimator subcommands (`km`, `logrank`,
//! `cox`, `cif`) and converting CSV result tables to Parquet. Writing files atomically is
//! `report::output`'s job.

pub mod table;

pub use table::{Table, TableError};
