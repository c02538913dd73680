//! The analysis dataset: one row per patient in the study population, with
//! times measured in days from the study's time origin.
//!
//! Everything downstream (incidence, survival, response) reads this table, so
//! every definition lives here once:
//! - **OS**: origin → death (event) or last contact (censored).
//! - **EFS** (ELN 2022): induction failure (first-line response assessments
//!   present, none of them CR/CRh/CRi) is an event at day 1; otherwise the first
//!   relapse after a composite CR, or death, whichever comes first; censored at
//!   last contact.
//! - **HLH exposure**: first episode onset (days from origin) under each criteria
//!   set; an onset before the origin counts as exposed from time 0.

use crate::cohort::{Cohort, Day, Intensity, PatientIdx, Response};

use super::config::{StudyConfig, TimeOrigin};

/// One patient of the study population.
#[derive(Debug, Clone)]
pub struct StudyPatient {
    /// Index into `Cohort::patients`.
    pub idx: PatientIdx,
    /// Time origin (calendar day).
    pub origin: Day,
    /// First-line intensity label (`untreated` when there is no treatment row).
    pub first_line_intensity: String,
    /// First-line regimen label (`untreated` when there is none).
    pub first_line_regimen: String,
    /// Overall survival time in days.
    pub os_time: f64,
    /// Death observed.
    pub os_event: bool,
    /// Event-free survival time in days.
    pub efs_time: f64,
    /// EFS event observed.
    pub efs_event: bool,
    /// First composite CR (days from origin), if any.
    pub first_cr: Option<f64>,
    /// First relapse after that CR (days from origin), if any.
    pub relapse_after_cr: Option<f64>,
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
        let wanted: Vec<Intensity> =
            cfg.population.first_line_intensity.iter().filter_map(|s| Intensity::parse(s)).collect();
        let mut patients = Vec::new();
        let mut excluded = Vec::new();
        for (i, p) in cohort.patients.iter().enumerate() {
            let idx = i as PatientIdx;
            let first = cohort.first_line_of(idx);
            match first {
                None if !wanted.is_empty() && !cfg.population.include_untreated => {
                    excluded.push((idx, Exclusion::Untreated));
                    continue;
                }
                None if !wanted.is_empty() => {
                    excluded.push((idx, Exclusion::FirstLineIntensity));
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
            let responses = cohort.responses_of(idx);
            let first_line_no = first.map(|l| l.line);
            let first_cr_day = responses.iter().find(|r| r.response.is_composite_cr()).map(|r| r.day);
            let relapse_day =
                first_cr_day.and_then(|cr| responses.iter().find(|r| r.day > cr && r.response == Response::Relapse).map(|r| r.day));
            let first_line_assessed = first_line_no.is_some_and(|ln| responses.iter().any(|r| r.line == ln));
            let induction_failure = first_line_assessed
                && !responses.iter().any(|r| Some(r.line) == first_line_no && r.response.is_composite_cr());
            let (efs_time, efs_event) = if induction_failure {
                (1.0, true)
            } else if let Some(rd) = relapse_day.filter(|&d| d <= end) {
                (((rd - origin).max(1)) as f64, true)
            } else {
                (os_time, os_event)
            };
            let rel = |d: Day| ((d - origin) as f64).max(0.0);
            patients.push(StudyPatient {
                idx,
                origin,
                first_line_intensity: first.map(|l| l.intensity.name().to_string()).unwrap_or_else(|| "untreated".into()),
                first_line_regimen: first.map(|l| l.regimen.clone()).unwrap_or_else(|| "untreated".into()),
                os_time,
                os_event,
                efs_time,
                efs_event,
                first_cr: first_cr_day.map(rel),
                relapse_after_cr: relapse_day.map(rel),
            });
        }
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

    /// Regimen labels with small regimens pooled into `other (n < k)`.
    pub fn regimen_labels(&self, min_size: usize) -> Vec<String> {
        let mut counts = std::collections::HashMap::new();
        for p in &self.patients {
            *counts.entry(p.first_line_regimen.as_str()).or_insert(0usize) += 1;
        }
        let pooled = format!("other (n < {min_size})");
        self.patients
            .iter()
            .map(|p| if counts[p.first_line_regimen.as_str()] >= min_size { p.first_line_regimen.clone() } else { pooled.clone() })
            .collect()
    }
}
