//! hemosurv's integration tests, one test binary (one link of polars instead of one per file).
//! Each file of `tests/it/` is a module; shared helpers are in `common`.

mod cli_estimators;
mod cohort_parts;
mod cohort_qualified;
mod cohort_units;
mod cohort_validation;
mod common;
mod hlh_aml;
mod hlh_criteria;
mod hlh_recovery;
mod hlh_timelines;
mod hlh_validation;
mod omop_import;
mod plot;
mod report;
mod review;
mod simulate;
mod stats_cif;
mod stats_cox;
mod stats_crr;
mod stats_km;
mod stats_logrank;
mod stats_proportions;
mod stats_table1;
mod stats_timesplit;
mod stats_zph;
mod study_definitions;
mod study_robustness;
mod study_run;
mod study_vs_r;
