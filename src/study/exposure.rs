//! HLH exposure per study patient, from detected episodes.

use std::collections::HashMap;

use crate::cohort::{Day, PatientIdx};

use super::dataset::Dataset;

/// First-episode onset of each study patient under one criteria set.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// Criteria set name.
    pub criteria_set: String,
    /// Days from origin to the first episode onset at or after... any time (clamped at 0:
    /// an episode starting before the origin counts as exposed from time 0); `None` = never.
    /// Onsets after the end of follow-up cannot occur (detection stops at follow-up end).
    pub onset: Vec<Option<f64>>,
    /// Number of episodes of each study patient.
    pub episodes: Vec<usize>,
}

impl Exposure {
    /// Build from (patient index, onset day) pairs of every episode.
    pub fn from_onsets(dataset: &Dataset, criteria_set: &str, onsets: impl IntoIterator<Item = (PatientIdx, Day)>) -> Exposure {
        let mut first: HashMap<PatientIdx, Day> = HashMap::new();
        let mut count: HashMap<PatientIdx, usize> = HashMap::new();
        for (p, d) in onsets {
            first.entry(p).and_modify(|x| *x = (*x).min(d)).or_insert(d);
            *count.entry(p).or_insert(0) += 1;
        }
        let onset = dataset
            .patients
            .iter()
            .map(|sp| {
                first.get(&sp.idx).and_then(|&d| {
                    let t = ((d - sp.origin) as f64).max(0.0);
                    // An onset after the end of follow-up is impossible by construction;
                    // guard anyway so time-splitting never sees it.
                    (t <= sp.os_time).then_some(t)
                })
            })
            .collect();
        let episodes = dataset.patients.iter().map(|sp| count.get(&sp.idx).copied().unwrap_or(0)).collect();
        Exposure { criteria_set: criteria_set.to_string(), onset, episodes }
    }

    /// Whether each patient ever had an episode during follow-up.
    pub fn ever(&self) -> Vec<bool> {
        self.onset.iter().map(Option::is_some).collect()
    }
}
