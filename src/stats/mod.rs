//! Survival and incidence statistics: pure functions on plain slices, no polars.
//!
//! Each estimator has one public result type with methods that write its table.
//! All of them are tested against R `survival` 3.5 / `cmprsk` reference values
//! in `tests/fixtures/` (see `tests/stats_*.rs`).

pub mod agreement;
pub mod cif;
pub mod cox;
pub mod crr;
pub mod design;
pub mod dist;
pub mod error;
pub mod groups;
pub mod km;
pub mod logrank;
pub mod proportions;
pub mod simon_makuch;
pub mod table1;
pub mod timesplit;

pub use error::{StatsError, StatsResult};
pub use groups::Grouping;
