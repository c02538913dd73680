//! Chart review in the study run: each definition's PPV against the cohort's adjudicated
//! cases, agreement between reviewers, and adjudicated HLH as an exposure
//! (`detection.primary = "adjudicated"`).
//!
//! The adjudicated exposure is a pseudo-detection named `adjudicated`: one episode per
//! *confirmed* case (consensus of the reviewers, `docs/review.md`), starting and ending on
//! the case's onset date. Rejected, uncertain and disputed cases are not HLH.

use crate::cohort::Cohort;
use crate::hlh::{disease_status, treatment_context, Detection, DetectionSummary, Episode};
use crate::table::Cell;

use super::outputs::RunOutputs;
use super::run::StudyError;

/// Name of the pseudo criteria set of adjudicated HLH.
pub const ADJUDICATED: &str = "adjudicated";

/// Episodes are matched to adjudicated cases within this many days of onset (`docs/review.md`).
pub const MATCH_DAYS: i32 = 7;

/// Adjudicated HLH (confirmed cases) as a detection.
pub fn adjudicated_detection(cohort: &Cohort) -> Detection {
    let cases = crate::commands::review::adjudicated_cases(cohort);
    let mut episodes: Vec<Episode> = Vec::new();
    for c in cases.iter().filter(|c| c.decision == crate::stats::agreement::CaseDecision::Confirmed) {
        let number = episodes.iter().filter(|e| e.patient == c.patient).count() as u32 + 1;
        episodes.push(Episode {
            patient: c.patient,
            patient_id: cohort.patients[c.patient as usize].id.as_str().into(),
            episode: number,
            criteria_set: ADJUDICATED.into(),
            onset: c.onset,
            end: c.onset,
            ongoing_at_end_of_follow_up: false,
            criteria_met_at_onset: crate::hlh::MetCriteria::default(),
            max_criteria: 0,
            evaluable_criteria: 0,
            n_criteria: 0,
            score_at_onset: None,
            hscore_at_onset: None,
            max_hscore: None,
            hscore_probability: None,
            treatment: treatment_context(cohort, c.patient, c.onset),
            disease_status: disease_status(cohort, c.patient, c.onset),
        });
    }
    let with_episode = {
        let mut p: Vec<u32> = episodes.iter().map(|e| e.patient).collect();
        p.dedup();
        p.len()
    };
    Detection {
        criteria_set: ADJUDICATED.to_string(),
        rule: "HLH confirmed on chart review (adjudications table)".to_string(),
        has_hscore: false,
        summary: DetectionSummary {
            patients_screened: cohort.patients.len(),
            patients_evaluable: cohort.patients.len(),
            patients_with_episode: with_episode,
            episodes: episodes.len(),
            by_first_line_intensity: Vec::new(),
        },
        episodes,
        evidence: Vec::new(),
    }
}

/// Tables `hlh_ppv_adjudicated` (every definition in `detections`, which must not hold the
/// `adjudicated` pseudo-detection itself, against the adjudicated cases) and
/// `reviewer_agreement` (Cohen's kappa of the two reviewers sharing most cases).
pub(crate) fn adjudication_tables(cohort: &Cohort, detections: &[Detection], outs: &mut RunOutputs) -> Result<(), StudyError> {
    let (rows, kappa) = crate::commands::review::adjudication_summary(cohort, detections, MATCH_DAYS);
    let mut t = super::table(
        "hlh_ppv_adjudicated",
        &[
            "criteria_set",
            "window_days",
            "episodes",
            "confirmed",
            "rejected",
            "uncertain",
            "disagreement",
            "not_adjudicated",
            "confirmed_cases_missed",
            "ppv",
            "exact_lower",
            "exact_upper",
            "note",
        ],
        Vec::new(),
    );
    for r in &rows {
        let c = &r.counts;
        let mut cells = vec![Cell::Str(r.criteria_set.clone()), Cell::Int(i64::from(r.window_days))];
        cells.extend(
            [c.episodes, c.confirmed, c.rejected, c.uncertain, c.disagreement, c.not_adjudicated, c.confirmed_cases_missed]
                .map(|v| Cell::Int(v as i64)),
        );
        match &r.ppv {
            Some(p) => cells.extend([Cell::Num(p.estimate), Cell::Num(p.clopper_pearson.0), Cell::Num(p.clopper_pearson.1)]),
            None => cells.extend([Cell::Na, Cell::Na, Cell::Na]),
        }
        cells.push(r.na_reason.clone().map_or(Cell::Na, Cell::Str));
        t.rows.push(cells);
    }
    outs.add_table(t, "Each definition's positive predictive value against the chart-review adjudications (episode matched to a case within 7 days of onset; uncertain and disputed cases outside the denominator; exact 95% CI)")?;
    let mut k = super::table(
        "reviewer_agreement",
        &[
            "reviewer_1",
            "reviewer_2",
            "n_items",
            "observed_agreement",
            "expected_agreement",
            "kappa",
            "se",
            "lower",
            "upper",
            "note",
        ],
        Vec::new(),
    );
    match kappa {
        Some(r) => {
            let x = &r.result;
            let opt = |v: Option<f64>| v.map_or(Cell::Na, Cell::Num);
            k.rows.push(vec![
                Cell::Str(r.reviewer_1.clone()),
                Cell::Str(r.reviewer_2.clone()),
                Cell::Int(x.n_items as i64),
                Cell::Num(x.observed_agreement),
                Cell::Num(x.expected_agreement),
                opt(x.kappa),
                opt(x.se),
                opt(x.ci.map(|c| c.0)),
                opt(x.ci.map(|c| c.1)),
                x.na_reason.clone().map_or(Cell::Na, Cell::Str),
            ]);
        }
        None => outs.not_computed("reviewer agreement (Cohen's kappa)", "no two reviewers rated the same case"),
    }
    outs.add_table(k, "Agreement between the two reviewers with the most cases in common (Cohen's kappa, as psych::cohen.kappa)")
}
