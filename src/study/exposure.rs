//! HLH exposure per study patient, from detected episodes.

use std::collections::HashMap;

use crate::cohort::{Day, PatientIdx};

use super::dataset::Dataset;

/// First-episode onset of each study patient under one criteria set.
///
/// Conventions (one set, used by incidence, survival and response; `docs/study.md`):
/// - times are days from the origin; an exposure starts just *after* its onset time,
///   as a time-dependent covariate in R's `tmerge(tdc())`: a death on the onset day is
///   an unexposed death. For the same reason an onset on the day of death is not counted
///   as incident HLH anywhere (the death comes first); such episodes stay in the episode
///   tables and are counted in [`Exposure::onset_on_death_day`];
/// - HLH present at the time origin (first onset on or before the origin day) is
///   *prevalent*: exposed from time 0 in the survival analyses, but not an incident
///   case — those patients leave the incidence risk set and are reported separately.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// Criteria set name.
    pub criteria_set: String,
    /// Days from origin to the first episode onset (0 for prevalent HLH); `None` = no
    /// exposure during follow-up.
    pub onset: Vec<Option<f64>>,
    /// HLH already present at the origin (first onset on or before the origin day).
    pub prevalent: Vec<bool>,
    /// Patients whose first onset fell on the day of death (not counted as exposed).
    pub onset_on_death_day: usize,
}

impl Exposure {
    /// Build from (patient index, onset day) pairs of every episode.
    pub fn from_onsets(dataset: &Dataset, criteria_set: &str, onsets: impl IntoIterator<Item = (PatientIdx, Day)>) -> Exposure {
        let mut first: HashMap<PatientIdx, Day> = HashMap::new();
        for (p, d) in onsets {
            first.entry(p).and_modify(|x| *x = (*x).min(d)).or_insert(d);
        }
        let mut onset = Vec::with_capacity(dataset.patients.len());
        let mut prevalent = Vec::with_capacity(dataset.patients.len());
        let mut onset_on_death_day = 0;
        for sp in &dataset.patients {
            let day = first.get(&sp.idx).copied();
            let is_prevalent = day.is_some_and(|d| d <= sp.origin);
            let t = day.map(|d| ((d - sp.origin) as f64).max(0.0));
            let counted = match t {
                // Detection stops at the end of follow-up; guard anyway.
                Some(t) if t > sp.os_time => None,
                Some(t) if t == sp.os_time && sp.os_event && !is_prevalent => {
                    onset_on_death_day += 1;
                    None
                }
                other => other,
            };
            onset.push(counted);
            prevalent.push(is_prevalent && counted.is_some());
        }
        Exposure { criteria_set: criteria_set.to_string(), onset, prevalent, onset_on_death_day }
    }

    /// Whether each patient was exposed during follow-up (prevalent or incident).
    pub fn ever(&self) -> Vec<bool> {
        self.onset.iter().map(Option::is_some).collect()
    }

    /// Whether each patient had an *incident* first episode (exposed, not prevalent).
    pub fn incident(&self) -> Vec<bool> {
        self.onset.iter().zip(&self.prevalent).map(|(o, &p)| o.is_some() && !p).collect()
    }

    /// Number of patients with HLH at the origin.
    pub fn n_prevalent(&self) -> usize {
        self.prevalent.iter().filter(|&&p| p).count()
    }
}
