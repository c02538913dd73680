//! Splitting follow-up at a time-dependent exposure, and landmark data sets.
//!
//! These build the inputs of the time-dependent Cox model and the Simon–Makuch plot
//! ([`split_at_exposure`]) and of landmark analyses ([`landmark`]).
//!
//! # Conventions (R `survival::tmerge` with `tdc()`)
//! Follow-up of subject i is the interval (0, time_i]. An exposure at time e is a
//! time-dependent covariate that switches from 0 to 1 at e and, as with `tdc()`, takes effect
//! for the intervals *after* e: the subject is unexposed on (0, e] and exposed on (e, time_i].
//! Hence
//! * exposure at time 0: exposed from the start, one interval (0, time_i] exposed;
//! * exposure at or after the end of follow-up (e ≥ time_i): never exposed; in particular an
//!   exposure recorded on the day of death/censoring does not count;
//! * no exposure (`None`): one unexposed interval.
//!
//! Only the last interval of a subject carries its event. Intervals use the (start, stop]
//! risk-set convention: at risk at t when start < t ≤ stop.

use super::error::{check_len, check_times, StatsError, StatsResult};

/// One (start, stop] piece of a subject's follow-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Row index of the subject in the input slices.
    pub subject: usize,
    /// Start of the interval (exclusive).
    pub start: f64,
    /// End of the interval (inclusive).
    pub stop: f64,
    /// Whether the subject's event happens at `stop` (only on its last interval).
    pub event: bool,
    /// Exposure status during the interval.
    pub exposed: bool,
}

/// A landmark data set: subjects still at risk at the landmark time, with time reset to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Landmark {
    /// Row indices (into the input slices) of the subjects kept, in input order.
    pub kept: Vec<usize>,
    /// Remaining follow-up after the landmark, `time − at`, for each kept subject.
    pub time: Vec<f64>,
    /// Event indicator of each kept subject.
    pub event: Vec<bool>,
    /// Exposed at or before the landmark (exposure time ≤ at).
    pub exposed: Vec<bool>,
    /// Subjects left out because their follow-up ended (event or censoring) at or before `at`.
    pub excluded_dead_or_censored: usize,
}

fn check_exposure(exposure_time: &[Option<f64>]) -> StatsResult<()> {
    for (i, e) in exposure_time.iter().enumerate() {
        if let Some(e) = *e {
            if !e.is_finite() || e < 0.0 {
                return Err(StatsError::InvalidInput {
                    column: "exposure_time".into(),
                    message: format!(
                        "row {}: exposure time must be a finite number >= 0 (or missing = never exposed), found {e}",
                        i + 1
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Split each subject's follow-up (0, time] at its exposure time (see the module docs for the
/// conventions). Output is sorted by subject, then start.
///
/// Errors: length mismatch (`event`, `exposure_time`), negative or non-finite times (`time`),
/// a follow-up time of 0 (an empty interval; a (start, stop] model needs stop > start — add a
/// small offset such as half a day to same-day exits), negative or non-finite exposure times
/// (`exposure_time`), each naming the row.
pub fn split_at_exposure(time: &[f64], event: &[bool], exposure_time: &[Option<f64>]) -> StatsResult<Vec<Interval>> {
    check_len("event", event.len(), time.len())?;
    check_len("exposure_time", exposure_time.len(), time.len())?;
    check_times("time", time)?;
    check_exposure(exposure_time)?;
    if let Some(i) = time.iter().position(|&t| t <= 0.0) {
        return Err(StatsError::InvalidInput {
            column: "time".into(),
            message: format!(
                "row {}: follow-up time is 0, which gives an empty (0, 0] interval; \
                 (start, stop] data need time > 0 (e.g. count same-day exits as half a day)",
                i + 1
            ),
        });
    }
    let mut out = Vec::with_capacity(time.len() + exposure_time.iter().flatten().count());
    for (i, (&t, &d)) in time.iter().zip(event).enumerate() {
        match exposure_time[i] {
            Some(e) if e < t => {
                if e > 0.0 {
                    out.push(Interval { subject: i, start: 0.0, stop: e, event: false, exposed: false });
                    out.push(Interval { subject: i, start: e, stop: t, event: d, exposed: true });
                } else {
                    out.push(Interval { subject: i, start: 0.0, stop: t, event: d, exposed: true });
                }
            }
            _ => out.push(Interval { subject: i, start: 0.0, stop: t, event: d, exposed: false }),
        }
    }
    Ok(out)
}

/// Landmark data set at time `at`: keeps the subjects with `time > at` (alive and at risk at
/// the landmark), resets their time to `time − at`, and classifies them as exposed when their
/// exposure time is ≤ `at`. Subjects whose follow-up ended at or before `at` are counted in
/// `excluded_dead_or_censored`, never dropped silently.
///
/// Errors: length mismatch, bad times (`time`), bad exposure times (`exposure_time`), or a
/// landmark time that is negative or not finite (`at`).
pub fn landmark(time: &[f64], event: &[bool], exposure_time: &[Option<f64>], at: f64) -> StatsResult<Landmark> {
    check_len("event", event.len(), time.len())?;
    check_len("exposure_time", exposure_time.len(), time.len())?;
    check_times("time", time)?;
    check_exposure(exposure_time)?;
    if !at.is_finite() || at < 0.0 {
        return Err(StatsError::InvalidInput {
            column: "at".into(),
            message: format!("landmark time must be a finite number >= 0, found {at}"),
        });
    }
    let mut lm =
        Landmark { kept: Vec::new(), time: Vec::new(), event: Vec::new(), exposed: Vec::new(), excluded_dead_or_censored: 0 };
    for (i, &t) in time.iter().enumerate() {
        if t > at {
            lm.kept.push(i);
            lm.time.push(t - at);
            lm.event.push(event[i]);
            lm.exposed.push(exposure_time[i].is_some_and(|e| e <= at));
        } else {
            lm.excluded_dead_or_censored += 1;
        }
    }
    Ok(lm)
}
