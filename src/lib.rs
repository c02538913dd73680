//! hemosurv: registry cohort analytics and survival statistics for hematology.
//!
//! Data flows one way: [`cohort`] (load, validate, normalise units) →
//! `hlh` (detect episodes) → [`stats`] (estimate) → `plot` (draw) →
//! `report` (write). `study` wires a whole run; `simulate` makes
//! synthetic registries with known truth.

pub mod cohort;
pub mod commands;
pub mod hlh;
pub mod io;
pub mod plot;
pub mod report;
pub mod simulate;
pub mod stats;
pub mod study;
pub mod table;
