//! The analysis dataset: one row per patient in the study population, with
//! times measured in days from the study's time origin.
//!
//! Everything downstream (incidence, survival, response) reads this table, so
//! every definition lives here once (and in `docs/study.md`):
//! - **Population**: patients whose first line has one of the configured
//!   intensities (every patient when none is configured); patients without any
//!   treatment row are kept or excluded by [`Population::keeps_untreated`].
//! - **OS**: origin → death (event) or last contact (censored).
//! - **EFS** (ELN 2022): refractory disease — the first line has an end-of-induction
//!   assessment (made at least `survival.induction_assessment_min_days` after its
//!   start) and no assessment of the first line is CR/CRh/CRi — is an event at
//!   day 1. Otherwise the first relapse after a first-line composite CR, or death
//!   (a patient who dies before the end-of-induction assessment has the event on
//!   the death date), whichever comes first; censored at last contact.
//! - **CR1**: the first composite CR of the first line; relapse after CR1 is the first
//!   `relapse` assessment on or after it (a same-day relapse is kept).
//!
//! [`Population::keeps_untreated`]: super::config::Population::keeps_untreated

use crate::cohort::text::SharedText;
use crate::cohort::{Cohort, Day, Intensity, PatientIdx, Response};

use super::config::{StudyConfig, TimeOrigin};

/// The first-line label of a patient without a treatment line.
const UNTREATED: &str = "untreated";

/// One patient of the study population.
#[derive(Debug, Clone)]
pub struct StudyPatient {
    /// Index into `Cohort::patients`.
    pub idx: PatientIdx,
    /// Time origin (calendar day).
    pub origin: Day,
    /// First-line intensity label (`untreated` when there is no treatment row).
    pub first_line_intensity: &'static str,
    /// First-line regimen label (`untreated` when there is none).
    pub first_line_regimen: SharedText,
    /// Overall survival time in days.
    pub os_time: f64,
    /// Death observed.
    pub os_event: bool,
    /// Event-free survival time in days.
    pub efs_time: f64,
    /// EFS event observed.
    pub efs_event: bool,
    /// First composite CR of the first line, CR1 (days from origin), if any.
    pub first_cr: Option<f64>,
    /// First relapse on or after CR1 (days from origin), if any.
    pub relapse_after_cr: Option<f64>,
    /// Refractory to the first line (ELN 2022; see the module doc).
    pub refractory: bool,
}

/// Why a patient was excluded from the study population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exclusion {
    /// First-line intensity not in `population.first_line_intensity`.
    FirstLineIntensity,
    /// No treatment row while the population needs one.
    Untreated,
    /// The time origin is the first-line start and the patient has no first line.
    NoOriginDate,
    /// Zero follow-up from the origin (end of follow-up on or before the origin day).
    NoFollowUp,
}

impl Exclusion {
    /// Human-readable reason (written to the manifest and the cohort-flow table).
    pub fn reason(self) -> &'static str {
        match self {
            Exclusion::FirstLineIntensity => "first-line intensity not in the study population",
            Exclusion::Untreated => "no treatment line recorded",
            Exclusion::NoOriginDate => "no first-line start date (time origin = first_line_start)",
            Exclusion::NoFollowUp => "no follow-up after the time origin",
        }
    }
}

/// The study population with its exclusions counted.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Included patients, in cohort order.
    pub patients: Vec<StudyPatient>,
    /// Excluded patients: (cohort index, reason).
    pub excluded: Vec<(PatientIdx, Exclusion)>,
}

impl Dataset {
    /// Select the population and derive the endpoints.
    pub fn build(cohort: &Cohort, cfg: &StudyConfig) -> Dataset {
        let wanted: Vec<Intensity> = cfg.population.first_line_intensity.iter().filter_map(|s| Intensity::parse(s)).collect();
        let keep_untreated = cfg.population.keeps_untreated();
        // sized once: growing by doubling held up to twice the patients (96 bytes each) at
        // the end of detection, and kept the spare half for the rest of the run
        let mut patients = Vec::with_capacity(cohort.patients.len());
        let untreated = SharedText::from(UNTREATED);
        let mut excluded = Vec::new();
        for (i, p) in cohort.patients.iter().enumerate() {
            let idx = i as PatientIdx;
            let first = cohort.first_line_of(idx);
            match first {
                None if !keep_untreated => {
                    excluded.push((idx, Exclusion::Untreated));
                    continue;
                }
                Some(l) if !wanted.is_empty() && !wanted.contains(&l.intensity) => {
                    excluded.push((idx, Exclusion::FirstLineIntensity));
                    continue;
                }
                _ => {}
            }
            let origin = match cfg.timing.origin {
                TimeOrigin::Diagnosis => p.diagnosis,
                TimeOrigin::FirstLineStart => match first {
                    Some(l) => l.start,
                    None => {
                        excluded.push((idx, Exclusion::NoOriginDate));
                        continue;
                    }
                },
            };
            let end = p.end_of_follow_up();
            if end <= origin {
                excluded.push((idx, Exclusion::NoFollowUp));
                continue;
            }
            let os_time = (end - origin) as f64;
            let os_event = p.death.is_some();
            let course = FirstLineCourse::of(cohort, idx, first, cfg.survival.induction_assessment_min_days);
            let rel = |d: Day| ((d - origin) as f64).max(0.0);
            let (efs_time, efs_event) = if course.refractory {
                (1.0, true)
            } else if let Some(rd) = course.relapse.filter(|&d| d <= end) {
                (rel(rd).max(1.0), true)
            } else {
                (os_time, os_event)
            };
            patients.push(StudyPatient {
                idx,
                origin,
                first_line_intensity: first.map_or(UNTREATED, |l| l.intensity.name()),
                first_line_regimen: first.map_or_else(|| untreated.clone(), |l| l.regimen.clone()),
                os_time,
                os_event,
                efs_time,
                efs_event,
                first_cr: course.cr1.map(rel),
                relapse_after_cr: course.relapse.map(rel),
                refractory: course.refractory,
            });
        }
        patients.shrink_to_fit();
        Dataset { patients, excluded }
    }

    /// Exclusion counts by reason, in a fixed order.
    pub fn exclusion_counts(&self) -> Vec<(Exclusion, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for (_, e) in &self.excluded {
            *counts.entry(*e).or_insert(0usize) += 1;
        }
        counts.into_iter().collect()
    }

    /// First-line intensity label of each study patient.
    pub fn intensity_labels(&self) -> Vec<SharedText> {
        crate::cohort::text::shared_labels(self.patients.iter().map(|p| p.first_line_intensity))
    }

    /// Regimen labels with small regimens pooled into `other (n < k)`.
    pub fn regimen_labels(&self, min_size: usize) -> Vec<SharedText> {
        let mut counts = std::collections::HashMap::new();
        for p in &self.patients {
            *counts.entry(p.first_line_regimen.as_str()).or_insert(0usize) += 1;
        }
        let pooled = SharedText::from(format!("other (n < {min_size})"));
        self.patients
            .iter()
            .map(
                |p| if counts[p.first_line_regimen.as_str()] >= min_size { p.first_line_regimen.clone() } else { pooled.clone() },
            )
            .collect()
    }
}

/// Response course of the first line: CR1, relapse after it, refractoriness.
struct FirstLineCourse {
    cr1: Option<Day>,
    relapse: Option<Day>,
    refractory: bool,
}

impl FirstLineCourse {
    fn of(cohort: &Cohort, idx: PatientIdx, first: Option<&crate::cohort::TreatmentLine>, min_days: f64) -> FirstLineCourse {
        let Some(first) = first else { return FirstLineCourse { cr1: None, relapse: None, refractory: false } };
        let responses = cohort.responses_of(idx);
        let in_line = |r: &&crate::cohort::ResponseAssessment| r.line == first.line && r.response != Response::Relapse;
        let cr1 = responses.iter().filter(in_line).find(|r| r.response.is_composite_cr()).map(|r| r.day);
        let relapse = cr1.and_then(|cr| responses.iter().find(|r| r.day >= cr && r.response == Response::Relapse).map(|r| r.day));
        let end_of_induction_assessed = responses.iter().filter(in_line).any(|r| (r.day - first.start) as f64 >= min_days);
        FirstLineCourse { cr1, relapse, refractory: cr1.is_none() && end_of_induction_assessed }
    }
}
