//! The registry cohort: data contract, loading, unit normalisation and validation.

pub mod model;

pub use model::*;
