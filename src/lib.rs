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

/// A function the program may set to hand memory that large temporary arrays have freed
/// back to the operating system at once, instead of when its allocator gets to it (the
/// `hemosurv` binary sets mimalloc's `mi_collect`). Memory-heavy commands call it between
/// their phases (`cox`: after reading the input and after the fit), so that the next
/// phase's arrays do not add to memory the previous one no longer uses (issue 12, peak
/// memory). Unset (library use): nothing happens.
pub static RELEASE_FREED_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Calls [`RELEASE_FREED_MEMORY`] if the program set it.
pub(crate) fn release_freed_memory() {
    if let Some(release) = RELEASE_FREED_MEMORY.get() {
        release();
    }
}
