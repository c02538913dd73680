//! Every parameter of the synthetic registry, with documented defaults.
//!
//! Rates are **per year** (converted to per day with 365.25 days/year), probabilities are in
//! `[0, 1]`, durations are whole days. The full parameter set is written to
//! `truth_params.json` beside the tables so that an analysis can be checked against the truth.

use serde::{Deserialize, Serialize};

use crate::cohort::{iso_to_day, Day};

use super::SimError;

/// Days per year used to turn yearly rates into daily rates.
pub const DAYS_PER_YEAR: f64 = 365.25;

/// Days since diagnosis at which the baseline hazard of the proportional death model changes.
pub const PROPORTIONAL_EDGES: [f64; 3] = [60.0, 365.0, 730.0];

/// How the death hazard is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeathModel {
    /// Realistic: piecewise constant by disease phase (induction, remission, refractory,
    /// relapse, supportive care, post-transplant) × age × ELN × HLH. The HLH hazard ratio is
    /// conditional on the phase, which a Cox model on baseline covariates does not see.
    Phase,
    /// For validating estimators: `h(t) = h0(t) · exp(β_age (age − mean)) · HR_ELN ·
    /// HR_first_line · hlh_death_hr^HLH(t)` with `h0` piecewise constant in time since
    /// diagnosis and the first line as intended at diagnosis; responses and relapses are still
    /// simulated but do not change the hazard, so a time-dependent Cox model with age, ELN and
    /// first-line intensity is correctly specified.
    Proportional,
}

/// A value per ELN 2022 genetic risk group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByEln {
    /// Favorable risk.
    pub favorable: f64,
    /// Intermediate risk.
    pub intermediate: f64,
    /// Adverse risk.
    pub adverse: f64,
}

impl ByEln {
    /// The value for a risk group.
    pub fn get(&self, eln: Eln) -> f64 {
        match eln {
            Eln::Favorable => self.favorable,
            Eln::Intermediate => self.intermediate,
            Eln::Adverse => self.adverse,
        }
    }
}

/// ELN 2022 genetic risk group of a simulated patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eln {
    /// Favorable.
    Favorable,
    /// Intermediate.
    Intermediate,
    /// Adverse.
    Adverse,
}

impl Eln {
    /// The value written to the `eln_risk` column.
    pub fn name(self) -> &'static str {
        match self {
            Eln::Favorable => "favorable",
            Eln::Intermediate => "intermediate",
            Eln::Adverse => "adverse",
        }
    }
}

/// Parameters of the simulation model (see the module documentation of
/// [`crate::simulate`] for how each one enters the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimParams {
    // ---------------------------------------------------------------- calendar
    /// First possible diagnosis date (ISO).
    pub diagnosis_start: String,
    /// Last possible diagnosis date (ISO); diagnoses are uniform in between.
    pub diagnosis_end: String,
    /// Administrative censoring date (ISO): nobody is followed beyond it.
    pub study_end: String,
    /// Loss-to-follow-up hazard per year, acting after `loss_to_follow_up_after_days`.
    pub loss_to_follow_up_rate: f64,
    /// No loss to follow-up during the first this many days after diagnosis.
    pub loss_to_follow_up_after_days: u32,

    // ---------------------------------------------------------------- baseline
    /// Mean of the normal age distribution (years).
    pub age_mean: f64,
    /// SD of the normal age distribution (years).
    pub age_sd: f64,
    /// Ages are clipped to `[age_min, age_max]`.
    pub age_min: f64,
    /// Upper clip of age.
    pub age_max: f64,
    /// Probability of sex `F`.
    pub female_prob: f64,
    /// Probability of ELN favorable risk.
    pub eln_favorable_prob: f64,
    /// Probability of ELN intermediate risk (adverse = the rest).
    pub eln_intermediate_prob: f64,
    /// Probability of a FLT3 mutation (covariate `flt3`; makes gilteritinib a salvage option).
    pub flt3_prob: f64,
    /// Fraction of patients treated at sites reporting non-canonical units (half at a site
    /// using US conventional units throughout, half at a site with mixed units).
    pub mixed_units_fraction: f64,

    // ---------------------------------------------------------------- first line
    /// Age at which intensive first-line therapy has probability 1/2 (logistic model).
    pub intensive_mid_age: f64,
    /// Slope of the logit of intensive first-line therapy per year of age (negative).
    pub intensive_logit_slope: f64,
    /// Among intensive first lines, probability of CPX-351 (else 7+3).
    pub cpx351_prob: f64,
    /// Among non-intensive patients, probability of best supportive care only.
    pub supportive_prob_non_intensive: f64,
    /// Among low-intensity first lines, probability of decitabine (else aza+ven).
    pub decitabine_prob: f64,

    // ---------------------------------------------------------------- responses
    /// Composite CR (CR/CRh/CRi) probability after intensive induction.
    pub ccr_prob_intensive: ByEln,
    /// Composite CR probability on aza+ven.
    pub ccr_prob_aza_ven: ByEln,
    /// Composite CR probability on decitabine.
    pub ccr_prob_decitabine: ByEln,
    /// Composite CR probability after intensive salvage (FLAG-Ida).
    pub ccr_prob_salvage_intensive: f64,
    /// Composite CR probability on gilteritinib (FLT3-mutated relapse/refractory).
    pub ccr_prob_gilteritinib: f64,
    /// Composite CR probability of low-intensity salvage (aza+ven, decitabine).
    pub ccr_prob_salvage_low: f64,
    /// Odds ratio of composite CR when an HLH episode starts before the response assessment.
    pub hlh_ccr_odds_ratio: f64,

    // ---------------------------------------------------------------- death hazards (per year)
    /// Which death model (`phase` or `proportional`).
    pub death_model: DeathModel,
    /// Proportional model: baseline hazard per year on days [0, 60), [60, 365), [365, 730) and
    /// from day 730 (intensive first line, age = `age_mean`, intermediate ELN).
    pub proportional_baseline_rates: [f64; 4],
    /// Proportional model: hazard ratio of a low-intensity first line.
    pub proportional_hr_low_intensity: f64,
    /// Proportional model: hazard ratio of best supportive care.
    pub proportional_hr_supportive: f64,
    /// Death hazard from diagnosis through intensive induction (until its assessment).
    pub death_rate_induction_intensive: f64,
    /// Death hazard from diagnosis through the first low-intensity cycle.
    pub death_rate_induction_low: f64,
    /// Death hazard under best supportive care.
    pub death_rate_supportive: f64,
    /// Death hazard in composite remission (including consolidation).
    pub death_rate_remission: f64,
    /// Death hazard during the first year after allogeneic transplantation.
    pub death_rate_post_transplant: f64,
    /// Death hazard with refractory disease.
    pub death_rate_refractory: f64,
    /// Death hazard after relapse.
    pub death_rate_relapse: f64,
    /// Log hazard ratio of death per year of age (centred at `age_mean`).
    pub death_log_hr_per_year_of_age: f64,
    /// Hazard ratio of death by ELN risk (intermediate = reference).
    pub death_hr_eln: ByEln,
    /// Hazard ratio of death from the first HLH onset on (time-dependent, permanent).
    pub hlh_death_hr: f64,

    // ---------------------------------------------------------------- relapse
    /// Relapse hazard per year in first remission after intensive therapy.
    pub relapse_rate: ByEln,
    /// Relapse hazard ratio after allogeneic transplantation.
    pub relapse_hr_transplant: f64,
    /// Relapse hazard ratio for remissions on low-intensity therapy.
    pub relapse_hr_low_intensity: f64,
    /// Relapse hazard ratio in second (or later) remission.
    pub relapse_hr_later_remission: f64,
    /// Relapse hazard ratio after `relapse_late_after_days` in remission (late relapses are rare).
    pub relapse_hr_late: f64,
    /// Days in remission after which `relapse_hr_late` applies.
    pub relapse_late_after_days: u32,
    /// Patients older than this are never transplanted.
    pub transplant_max_age: f64,
    /// Probability of allogeneic transplantation in first remission (age permitting).
    pub transplant_prob_cr1: ByEln,
    /// Probability of allogeneic transplantation in a later remission (age permitting).
    pub transplant_prob_later_cr: f64,
    /// Probability that a relapsed/refractory patient gets best supportive care only.
    pub supportive_prob_relapse: f64,

    // ---------------------------------------------------------------- HLH
    /// Probability of a planted HLH episode for a patient with intensive first-line therapy.
    pub hlh_prob_intensive: f64,
    /// Same for low-intensity first-line therapy.
    pub hlh_prob_low_intensity: f64,
    /// Same for best supportive care.
    pub hlh_prob_supportive: f64,
    /// Among planted patients, probability that the episode is tied to the next line
    /// (first consolidation or salvage) instead of the first line.
    pub hlh_later_line_prob: f64,
    /// Earliest onset, days after the start of the line the episode is tied to.
    pub hlh_onset_min_days: u32,
    /// Latest onset, days after the start of that line.
    pub hlh_onset_max_days: u32,
    /// Shortest episode (onset to resolution, days).
    pub hlh_duration_min_days: u32,
    /// Longest episode.
    pub hlh_duration_max_days: u32,
    /// Probability of a second episode.
    pub hlh_second_episode_prob: f64,
    /// Second onset at least this many days after the first resolution.
    pub hlh_second_gap_min_days: u32,
    /// Second onset at most this many days after the first resolution.
    pub hlh_second_gap_max_days: u32,
    /// Probability that the marrow shows hemophagocytosis (else documented absent).
    pub hlh_hemophagocytosis_prob: f64,
    /// Probability of hepatomegaly at onset.
    pub hlh_hepatomegaly_prob: f64,
    /// Probability that low NK activity is documented (default 0: a documented low NK activity
    /// would keep HLH-2004's 30-day finding look-back at 5 criteria well after resolution;
    /// otherwise a normal NK activity is documented in 30 % of episodes).
    pub hlh_low_nk_prob: f64,

    // ---------------------------------------------------------------- febrile neutropenia
    /// Probability of febrile neutropenia during an intensive induction/salvage.
    pub febrile_neutropenia_prob_intensive: f64,
    /// Same during a consolidation cycle or transplant.
    pub febrile_neutropenia_prob_consolidation: f64,
    /// Same during the first low-intensity cycle.
    pub febrile_neutropenia_prob_low: f64,
    /// Probability that sCD25 is measured during a febrile-neutropenia episode (non-HLH value).
    pub scd25_prob_febrile_neutropenia: f64,

    // ---------------------------------------------------------------- measurement cadence
    /// Days between blood counts (+ temperature) during intensive induction/salvage.
    /// May be fractional: 3.5 = twice a week (days 0, 3, 7, 10, 14, …).
    pub cbc_interval_intensive_days: f64,
    /// Days between chemistry panels (ferritin, TG, fibrinogen, AST) during those phases.
    pub chem_interval_intensive_days: u32,
    /// Days between blood counts during consolidation, transplant and the first low-intensity cycles.
    pub cbc_interval_cycle_days: u32,
    /// Days between chemistry panels during consolidation, transplant and the first low-intensity cycles.
    pub chem_interval_cycle_days: u32,
    /// Days between visits (counts + temperature) in the first year of remission or on
    /// continued low-intensity therapy.
    pub visit_interval_first_year_days: u32,
    /// Days between visits later in remission.
    pub visit_interval_later_days: u32,
    /// Days between visits with active disease (refractory, relapsed, supportive care).
    pub visit_interval_active_days: u32,
    /// Chemistry is drawn at every this-many-th follow-up visit.
    pub chem_every_nth_visit: u32,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            diagnosis_start: "2015-01-01".into(),
            diagnosis_end: "2022-12-31".into(),
            study_end: "2024-12-31".into(),
            loss_to_follow_up_rate: 0.03,
            loss_to_follow_up_after_days: 180,

            age_mean: 66.0,
            age_sd: 13.0,
            age_min: 18.0,
            age_max: 95.0,
            female_prob: 0.44,
            eln_favorable_prob: 0.25,
            eln_intermediate_prob: 0.30,
            flt3_prob: 0.30,
            mixed_units_fraction: 0.20,

            // logit(0.85) at 45 y and logit(0.15) at 80 y: midpoint 62.5, slope -2·1.7346/35.
            intensive_mid_age: 62.5,
            intensive_logit_slope: -0.099_12,
            cpx351_prob: 0.20,
            supportive_prob_non_intensive: 0.20,
            decitabine_prob: 0.20,

            ccr_prob_intensive: ByEln { favorable: 0.80, intermediate: 0.68, adverse: 0.55 },
            ccr_prob_aza_ven: ByEln { favorable: 0.70, intermediate: 0.62, adverse: 0.55 },
            ccr_prob_decitabine: ByEln { favorable: 0.45, intermediate: 0.35, adverse: 0.28 },
            ccr_prob_salvage_intensive: 0.45,
            ccr_prob_gilteritinib: 0.35,
            ccr_prob_salvage_low: 0.30,
            hlh_ccr_odds_ratio: 1.0,

            death_model: DeathModel::Phase,
            proportional_baseline_rates: [0.6, 0.35, 0.2, 0.08],
            proportional_hr_low_intensity: 1.8,
            proportional_hr_supportive: 6.0,
            death_rate_induction_intensive: 0.6,
            death_rate_induction_low: 0.8,
            death_rate_supportive: 3.0,
            death_rate_remission: 0.05,
            death_rate_post_transplant: 0.25,
            death_rate_refractory: 1.5,
            death_rate_relapse: 1.4,
            death_log_hr_per_year_of_age: 0.03,
            death_hr_eln: ByEln { favorable: 0.6, intermediate: 1.0, adverse: 1.5 },
            hlh_death_hr: 2.0,

            relapse_rate: ByEln { favorable: 0.20, intermediate: 0.40, adverse: 0.70 },
            relapse_hr_transplant: 0.4,
            relapse_hr_low_intensity: 1.3,
            relapse_hr_later_remission: 1.5,
            relapse_hr_late: 0.25,
            relapse_late_after_days: 730,
            transplant_max_age: 70.0,
            transplant_prob_cr1: ByEln { favorable: 0.10, intermediate: 0.50, adverse: 0.70 },
            transplant_prob_later_cr: 0.50,
            supportive_prob_relapse: 0.25,

            hlh_prob_intensive: 0.10,
            hlh_prob_low_intensity: 0.02,
            hlh_prob_supportive: 0.0,
            hlh_later_line_prob: 0.15,
            hlh_onset_min_days: 10,
            hlh_onset_max_days: 40,
            hlh_duration_min_days: 7,
            hlh_duration_max_days: 21,
            hlh_second_episode_prob: 0.08,
            hlh_second_gap_min_days: 75,
            hlh_second_gap_max_days: 365,
            hlh_hemophagocytosis_prob: 0.9,
            hlh_hepatomegaly_prob: 0.5,
            hlh_low_nk_prob: 0.0,

            febrile_neutropenia_prob_intensive: 0.8,
            febrile_neutropenia_prob_consolidation: 0.4,
            febrile_neutropenia_prob_low: 0.3,
            scd25_prob_febrile_neutropenia: 0.05,

            cbc_interval_intensive_days: 3.5,
            chem_interval_intensive_days: 7,
            cbc_interval_cycle_days: 14,
            chem_interval_cycle_days: 28,
            visit_interval_first_year_days: 45,
            visit_interval_later_days: 120,
            visit_interval_active_days: 21,
            chem_every_nth_visit: 3,
        }
    }
}

/// Calendar limits of a run, as days since 1970-01-01.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calendar {
    pub diagnosis_start: Day,
    pub diagnosis_end: Day,
    pub study_end: Day,
}

impl SimParams {
    /// Check every parameter; the error names the first offending one.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |name: &str, message: String| Err(SimError::InvalidParam { name: name.into(), message });
        self.calendar()?;
        let probs: [(&str, f64); 32] = [
            ("female_prob", self.female_prob),
            ("eln_favorable_prob", self.eln_favorable_prob),
            ("eln_intermediate_prob", self.eln_intermediate_prob),
            ("flt3_prob", self.flt3_prob),
            ("mixed_units_fraction", self.mixed_units_fraction),
            ("cpx351_prob", self.cpx351_prob),
            ("supportive_prob_non_intensive", self.supportive_prob_non_intensive),
            ("decitabine_prob", self.decitabine_prob),
            ("ccr_prob_salvage_intensive", self.ccr_prob_salvage_intensive),
            ("ccr_prob_gilteritinib", self.ccr_prob_gilteritinib),
            ("ccr_prob_salvage_low", self.ccr_prob_salvage_low),
            ("transplant_prob_later_cr", self.transplant_prob_later_cr),
            ("supportive_prob_relapse", self.supportive_prob_relapse),
            ("hlh_prob_intensive", self.hlh_prob_intensive),
            ("hlh_prob_low_intensity", self.hlh_prob_low_intensity),
            ("hlh_prob_supportive", self.hlh_prob_supportive),
            ("hlh_later_line_prob", self.hlh_later_line_prob),
            ("hlh_second_episode_prob", self.hlh_second_episode_prob),
            ("hlh_hemophagocytosis_prob", self.hlh_hemophagocytosis_prob),
            ("hlh_hepatomegaly_prob", self.hlh_hepatomegaly_prob),
            ("hlh_low_nk_prob", self.hlh_low_nk_prob),
            ("febrile_neutropenia_prob_intensive", self.febrile_neutropenia_prob_intensive),
            ("febrile_neutropenia_prob_consolidation", self.febrile_neutropenia_prob_consolidation),
            ("febrile_neutropenia_prob_low", self.febrile_neutropenia_prob_low),
            ("scd25_prob_febrile_neutropenia", self.scd25_prob_febrile_neutropenia),
            ("ccr_prob_intensive.favorable", self.ccr_prob_intensive.favorable),
            ("ccr_prob_intensive.intermediate", self.ccr_prob_intensive.intermediate),
            ("ccr_prob_intensive.adverse", self.ccr_prob_intensive.adverse),
            ("ccr_prob_aza_ven.favorable", self.ccr_prob_aza_ven.favorable),
            ("ccr_prob_aza_ven.intermediate", self.ccr_prob_aza_ven.intermediate),
            ("ccr_prob_aza_ven.adverse", self.ccr_prob_aza_ven.adverse),
            ("ccr_prob_decitabine.adverse", self.ccr_prob_decitabine.adverse),
        ];
        let more_probs = [
            ("ccr_prob_decitabine.favorable", self.ccr_prob_decitabine.favorable),
            ("ccr_prob_decitabine.intermediate", self.ccr_prob_decitabine.intermediate),
            ("transplant_prob_cr1.favorable", self.transplant_prob_cr1.favorable),
            ("transplant_prob_cr1.intermediate", self.transplant_prob_cr1.intermediate),
            ("transplant_prob_cr1.adverse", self.transplant_prob_cr1.adverse),
        ];
        for (name, v) in probs.iter().chain(more_probs.iter()) {
            if !(0.0..=1.0).contains(v) {
                return bad(name, format!("must be a probability in [0, 1], got {v}"));
            }
        }
        if self.eln_favorable_prob + self.eln_intermediate_prob > 1.0 {
            return bad("eln_intermediate_prob", "eln_favorable_prob + eln_intermediate_prob must be ≤ 1".into());
        }
        let nonneg: [(&str, f64); 25] = [
            ("loss_to_follow_up_rate", self.loss_to_follow_up_rate),
            ("age_sd", self.age_sd),
            ("hlh_ccr_odds_ratio", self.hlh_ccr_odds_ratio),
            ("death_rate_induction_intensive", self.death_rate_induction_intensive),
            ("death_rate_induction_low", self.death_rate_induction_low),
            ("death_rate_supportive", self.death_rate_supportive),
            ("death_rate_remission", self.death_rate_remission),
            ("death_rate_post_transplant", self.death_rate_post_transplant),
            ("death_rate_refractory", self.death_rate_refractory),
            ("death_rate_relapse", self.death_rate_relapse),
            ("death_hr_eln.favorable", self.death_hr_eln.favorable),
            ("death_hr_eln.intermediate", self.death_hr_eln.intermediate),
            ("death_hr_eln.adverse", self.death_hr_eln.adverse),
            ("hlh_death_hr", self.hlh_death_hr),
            ("relapse_rate.favorable", self.relapse_rate.favorable),
            ("relapse_rate.intermediate", self.relapse_rate.intermediate),
            ("relapse_rate.adverse", self.relapse_rate.adverse),
            ("relapse_hr_transplant", self.relapse_hr_transplant),
            ("relapse_hr_low_intensity", self.relapse_hr_low_intensity),
            ("relapse_hr_later_remission", self.relapse_hr_later_remission),
            ("relapse_hr_late", self.relapse_hr_late),
            ("transplant_max_age", self.transplant_max_age),
            ("age_mean", self.age_mean),
            ("age_min", self.age_min),
            ("intensive_mid_age", self.intensive_mid_age),
        ];
        for (name, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("must be a finite number ≥ 0, got {v}"));
            }
        }
        let more_nonneg = [
            ("proportional_baseline_rates[0]", self.proportional_baseline_rates[0]),
            ("proportional_baseline_rates[1]", self.proportional_baseline_rates[1]),
            ("proportional_baseline_rates[2]", self.proportional_baseline_rates[2]),
            ("proportional_baseline_rates[3]", self.proportional_baseline_rates[3]),
            ("proportional_hr_low_intensity", self.proportional_hr_low_intensity),
            ("proportional_hr_supportive", self.proportional_hr_supportive),
        ];
        for (name, v) in more_nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("must be a finite number ≥ 0, got {v}"));
            }
        }
        if !self.intensive_logit_slope.is_finite() || !self.death_log_hr_per_year_of_age.is_finite() {
            return bad("intensive_logit_slope", "slopes must be finite".into());
        }
        if !(self.age_max.is_finite() && self.age_min <= self.age_max) {
            return bad("age_max", format!("must be ≥ age_min ({}), got {}", self.age_min, self.age_max));
        }
        let ranges = [
            ("hlh_onset_max_days", self.hlh_onset_min_days, self.hlh_onset_max_days),
            ("hlh_duration_max_days", self.hlh_duration_min_days, self.hlh_duration_max_days),
            ("hlh_second_gap_max_days", self.hlh_second_gap_min_days, self.hlh_second_gap_max_days),
        ];
        for (name, lo, hi) in ranges {
            if lo > hi {
                return bad(name, format!("must be ≥ the matching minimum ({lo}), got {hi}"));
            }
        }
        if !(self.cbc_interval_intensive_days.is_finite() && self.cbc_interval_intensive_days >= 1.0) {
            return bad("cbc_interval_intensive_days", format!("must be ≥ 1, got {}", self.cbc_interval_intensive_days));
        }
        if self.hlh_onset_min_days < 3 {
            return bad("hlh_onset_min_days", "must be ≥ 3 (the prodrome precedes the onset)".into());
        }
        if self.hlh_duration_min_days < 3 {
            return bad("hlh_duration_min_days", "must be ≥ 3".into());
        }
        if self.hlh_second_gap_min_days <= 60 {
            return bad("hlh_second_gap_min_days", "must be > 60 so that episodes stay clearly apart".into());
        }
        let intervals = [
            ("chem_interval_intensive_days", self.chem_interval_intensive_days),
            ("cbc_interval_cycle_days", self.cbc_interval_cycle_days),
            ("chem_interval_cycle_days", self.chem_interval_cycle_days),
            ("visit_interval_first_year_days", self.visit_interval_first_year_days),
            ("visit_interval_later_days", self.visit_interval_later_days),
            ("visit_interval_active_days", self.visit_interval_active_days),
            ("chem_every_nth_visit", self.chem_every_nth_visit),
        ];
        for (name, v) in intervals {
            if v == 0 {
                return bad(name, "must be ≥ 1".into());
            }
        }
        Ok(())
    }

    /// Parse the calendar dates.
    pub(crate) fn calendar(&self) -> Result<Calendar, SimError> {
        let parse = |name: &str, s: &str| {
            iso_to_day(s).ok_or_else(|| SimError::InvalidParam {
                name: name.into(),
                message: format!("expected an ISO date YYYY-MM-DD, got `{s}`"),
            })
        };
        let c = Calendar {
            diagnosis_start: parse("diagnosis_start", &self.diagnosis_start)?,
            diagnosis_end: parse("diagnosis_end", &self.diagnosis_end)?,
            study_end: parse("study_end", &self.study_end)?,
        };
        if c.diagnosis_end < c.diagnosis_start {
            return Err(SimError::InvalidParam {
                name: "diagnosis_end".into(),
                message: "must not be before diagnosis_start".into(),
            });
        }
        if c.study_end < c.diagnosis_end {
            return Err(SimError::InvalidParam {
                name: "study_end".into(),
                message: "must not be before diagnosis_end".into(),
            });
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_logistic_matches_targets() {
        let p = SimParams::default();
        p.validate().unwrap();
        let prob = |age: f64| 1.0 / (1.0 + (-(p.intensive_logit_slope * (age - p.intensive_mid_age))).exp());
        assert!((prob(45.0) - 0.85).abs() < 0.002, "{}", prob(45.0));
        assert!((prob(80.0) - 0.15).abs() < 0.002, "{}", prob(80.0));
    }

    #[test]
    fn invalid_values_are_named() {
        let mut p = SimParams { hlh_prob_intensive: 1.5, ..SimParams::default() };
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("hlh_prob_intensive"), "{e}");
        p.hlh_prob_intensive = 0.1;
        p.study_end = "2020-02-30".into();
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("study_end"), "{e}");
    }
}
