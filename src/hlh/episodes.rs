//! Episodes: runs of days on which the rule holds, merged across short gaps, with the
//! treatment and disease context at onset.
//!
//! - Between two change days the state is constant, so a run starts on a change day where the
//!   rule holds and ends the day before the next change day where it does not (or at the end
//!   of follow-up, which is then flagged `ongoing_at_end_of_follow_up`).
//! - Two runs merge when the number of days between them on which the rule does not hold
//!   (`next_onset - previous_end - 1`) is smaller than `episode_gap_days` (default 14): a run
//!   ending on day 10 merges with one starting on day 24 (13 negative days) but not with one
//!   starting on day 25 (14 negative days). Later unmerged runs are recurrences (episode 2, 3 ...).
//! - Per-episode maxima (criteria met, HScore) are taken over every evaluated day from onset
//!   to end, including the days of merged gaps.

use crate::cohort::{Cohort, Day, Intensity, PatientIdx};

use super::sweep::DayState;

/// Treatment context at episode onset: the most recent line started on or before onset
/// (ties on the start day → the higher line number).
#[derive(Debug, Clone, PartialEq)]
pub struct TreatmentContext {
    /// Line number (1 = first line).
    pub line: u32,
    /// Regimen as written.
    pub regimen: crate::cohort::text::SharedText,
    /// Intensity class.
    pub intensity: Intensity,
    /// Start day of the line.
    pub start: Day,
    /// `onset - start` (≥ 0).
    pub days_since_line_start: i32,
}

/// Disease status at episode onset, from the response assessments dated on or before onset.
///
/// Deliberately simple (documented rule): no assessment yet → `BeforeFirstResponse`; the
/// latest assessment is CR, CRh or CRi → `InRemission`; the latest assessment is anything else
/// (relapse, PD, SD, PR, MLFS: no composite CR at the last assessment) → `RelapsedRefractory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiseaseStatus {
    /// No response assessment on or before onset.
    BeforeFirstResponse,
    /// Latest assessment is a composite complete remission.
    InRemission,
    /// Latest assessment is relapse or not a composite CR.
    RelapsedRefractory,
}

impl DiseaseStatus {
    /// Name used in output tables.
    pub fn name(self) -> &'static str {
        match self {
            DiseaseStatus::BeforeFirstResponse => "before_first_response",
            DiseaseStatus::InRemission => "in_remission",
            DiseaseStatus::RelapsedRefractory => "relapsed_refractory",
        }
    }
}

/// The treatment line in effect at `day` for patient `p`.
pub fn treatment_context(cohort: &Cohort, p: PatientIdx, day: Day) -> Option<TreatmentContext> {
    cohort.treatments_of(p).iter().filter(|l| l.start <= day).max_by_key(|l| (l.start, l.line)).map(|l| TreatmentContext {
        line: l.line,
        regimen: l.regimen.clone(),
        intensity: l.intensity,
        start: l.start,
        days_since_line_start: day - l.start,
    })
}

/// Disease status of patient `p` on `day` (see [`DiseaseStatus`]).
pub fn disease_status(cohort: &Cohort, p: PatientIdx, day: Day) -> DiseaseStatus {
    // Responses are sorted by (day, line, row): the last one on or before `day` is the latest.
    match cohort.responses_of(p).iter().rev().find(|r| r.day <= day) {
        None => DiseaseStatus::BeforeFirstResponse,
        Some(r) if r.response.is_composite_cr() => DiseaseStatus::InRemission,
        Some(_) => DiseaseStatus::RelapsedRefractory,
    }
}

/// An episode before formatting: day range and indices into the day states.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEpisode {
    pub(crate) onset: Day,
    pub(crate) end: Day,
    pub(crate) ongoing: bool,
    /// Index of the onset state.
    pub(crate) first: usize,
    /// Index of the last state with `day <= end`.
    pub(crate) last: usize,
}

/// Runs of holding states, merged across gaps shorter than `gap_days`. `until` is the last
/// evaluated day (end of follow-up): a run still holding on the last state ends there.
pub(crate) fn runs(states: &[DayState], until: Day, gap_days: u32) -> Vec<RawEpisode> {
    let mut out: Vec<RawEpisode> = Vec::new();
    let mut i = 0;
    while i < states.len() {
        if !states[i].holds {
            i += 1;
            continue;
        }
        let first = i;
        let mut j = i + 1;
        while j < states.len() && states[j].holds {
            j += 1;
        }
        let (end, ongoing) = if j < states.len() { (states[j].day - 1, false) } else { (until.max(states[j - 1].day), true) };
        let onset = states[first].day;
        match out.last_mut() {
            Some(prev) if i64::from(onset) - i64::from(prev.end) - 1 < i64::from(gap_days) => {
                prev.end = end;
                prev.ongoing = ongoing;
                prev.last = j - 1;
            }
            _ => out.push(RawEpisode { onset, end, ongoing, first, last: j - 1 }),
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(day: Day, holds: bool) -> DayState {
        DayState { day, met: 0, evaluable: 0, n_met: 0, n_evaluable: 0, score: 0.0, hscore: 0.0, holds }
    }

    #[test]
    fn gap_merging() {
        // run 1: days 0..=10, run 2 starts 24 (13 negative days) -> merged
        let s = vec![st(0, true), st(11, false), st(24, true), st(30, false)];
        let r = runs(&s, 100, 14);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].onset, r[0].end, r[0].first, r[0].last), (0, 29, 0, 2));
        // starts 25 (14 negative days) -> separate
        let s = vec![st(0, true), st(11, false), st(25, true), st(30, false)];
        let r = runs(&s, 100, 14);
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].onset, r[1].end), (25, 29));
        // still holding at the end of follow-up
        let s = vec![st(0, false), st(5, true)];
        let r = runs(&s, 40, 14);
        assert_eq!((r[0].onset, r[0].end, r[0].ongoing), (5, 40, true));
    }
}
