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

/// A function the program may set to make its allocator hand freed memory back to the
/// operating system at once from then on, instead of after a delay (the `hemosurv` binary sets
/// mimalloc's `purge_delay` to 0). The study run calls it once detection is done: the analyses
/// then free and allocate patient-sized buffers one after the other, which a delayed purge
/// lets pile up in the resident peak, while load and detection, where the purges cost the
/// most system time, keep the allocator's default. Unset (library use): nothing happens.
pub static PURGE_FREED_MEMORY_AT_ONCE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Calls [`PURGE_FREED_MEMORY_AT_ONCE`] if the program set it.
pub(crate) fn purge_freed_memory_at_once() {
    if let Some(purge) = PURGE_FREED_MEMORY_AT_ONCE.get() {
        purge();
    }
}
