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
    /// Clean model only (`mimics = false`; the mimic model uses `mimic.fn_prob_*`): probability
    /// of febrile neutropenia during an intensive induction/salvage.
    pub febrile_neutropenia_prob_intensive: f64,
    /// Same during a consolidation cycle or transplant.
    pub febrile_neutropenia_prob_consolidation: f64,
    /// Same during the first low-intensity cycle.
    pub febrile_neutropenia_prob_low: f64,
    /// Clean model only: probability that sCD25 is measured during a febrile-neutropenia episode.
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

    // ---------------------------------------------------------------- mimics and reporting
    /// Model the HLH mimics of intensive AML therapy (default `true`; see [`MimicParams`]).
    /// `false` (`hemosurv simulate --clean`) is the earlier model, kept for estimator
    /// validation: patients without HLH stay below every HLH rule and episodes start abruptly.
    pub mimics: bool,
    /// Parameters of the mimic model (used only when `mimics` is `true`).
    pub mimic: MimicParams,
    /// Fraction of patients whose laboratory reports values outside the assay range with a
    /// qualifier: ferritin above `qualified_ferritin_upper_limit` as `>LIMIT`, neutrophils below
    /// `qualified_neutrophils_lower_limit` as `<LIMIT` (the loader reads them as censored
    /// values). Default 0.2 (ASSUMPTION: no source for how many laboratories report bounds
    /// rather than diluting ferritin or reporting `0.00` neutrophils; within the range 0–0.3 of
    /// `docs/simulation.md`). 0 gives exact values only. When > 0 the `value` column
    /// becomes text (CSV and Parquet). Both limits are in units with factor 1 at every
    /// simulated site (µg/L = ng/mL; 10^9/L = 10^3/µL), so they apply to the reported values.
    pub qualified_values_fraction: f64,
    /// Upper reporting limit of ferritin (µg/L = ng/mL) at qualifying laboratories (ASSUMPTION).
    pub qualified_ferritin_upper_limit: f64,
    /// Lower reporting limit of neutrophils (10^9/L = 10^3/µL) at qualifying laboratories (ASSUMPTION).
    pub qualified_neutrophils_lower_limit: f64,
}

/// Parameters of the HLH-mimic model (`SimParams::mimics = true`). Sources are the `[Sn]` tags
/// of `shared/clinical/aml-confounders.md`; `ASSUMPTION` marks values not found in a source.
/// `docs/simulation.md` tabulates every field with its source and a plausible range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MimicParams {
    // ---------------------------------------------------------------- febrile neutropenia
    /// Febrile neutropenia per intensive induction/salvage cycle: 0.80–0.89 [S1][S2].
    pub fn_prob_induction: f64,
    /// Per consolidation cycle (HiDAC, CPX-351) and transplant conditioning: 0.57 [S12].
    pub fn_prob_consolidation: f64,
    /// Per first low-intensity cycle (ASSUMPTION).
    pub fn_prob_low_intensity: f64,
    /// A second febrile episode in the same aplasia: 0.40 recurrent episodes [S4].
    pub fn_recurrent_prob: f64,
    /// Earliest onset, days after the cycle start (~day 6 [S1]).
    pub fn_onset_min_day: u32,
    /// Latest onset, days after the cycle start (ASSUMPTION, within aplasia).
    pub fn_onset_max_day: u32,
    /// Share of febrile episodes lasting ≥ 3 days: 0.36 [S4] (else 1–2 days).
    pub fn_long_prob: f64,
    /// Longest febrile episode, days (ASSUMPTION; "7+ days").
    pub fn_max_days: u32,
    /// Mean daily maximum temperature while febrile, °C (ASSUMPTION; peak temperatures not found).
    pub fn_temp_mean: f64,
    /// SD of the daily maximum temperature, °C (ASSUMPTION); clipped to 38.0–40.2 °C.
    pub fn_temp_sd: f64,
    /// Share of febrile episodes with documented sepsis/bacteraemia: 25 % [S4], 37 % [S3].
    pub sepsis_prob: f64,
    /// Median multiplicative ferritin rise with fever without sepsis (ASSUMPTION).
    pub fn_ferritin_factor: f64,
    /// Median multiplicative ferritin rise with sepsis (ASSUMPTION, calibrated to [S29]:
    /// mostly < 3000, rarely > 10 000 µg/L).
    pub sepsis_ferritin_factor: f64,
    /// Log-SD of those rises (ASSUMPTION).
    pub inflammation_ferritin_sigma: f64,
    /// Share of sepsis episodes with fibrinogen ≤ 1.5 g/L: 0.019 [S29].
    pub sepsis_low_fibrinogen_prob: f64,
    /// Share of sepsis episodes with abdominal imaging (ASSUMPTION).
    pub sepsis_imaging_prob: f64,
    /// Splenomegaly on that imaging: 0.434 [S29].
    pub sepsis_splenomegaly_prob: f64,

    // ---------------------------------------------------------------- aplasia
    /// Neutrophils < 0.5 from this day of an intensive cycle (~day 7–10, unconfirmed [S6]).
    pub aplasia_start_min_day: u32,
    /// Latest start of aplasia.
    pub aplasia_start_max_day: u32,
    /// Median day of neutrophil recovery (≥ 0.5) after induction: 28 [S6].
    pub anc_recovery_median_day: f64,
    /// Range of that day: 13–51 [S6].
    pub anc_recovery_min_day: u32,
    /// Upper end of the range [S6].
    pub anc_recovery_max_day: u32,
    /// Median day of platelet recovery (≥ 20) after induction: 25 (12–52) [S6].
    pub plt_recovery_median_day: f64,
    /// Days by which consolidation recovers earlier than induction (ASSUMPTION; HiDAC
    /// recovery ~3–4 weeks, unconfirmed; faster schedules 3–4 days earlier [S10]).
    pub consolidation_recovery_shift_days: f64,
    /// Post-remission prolonged cytopenia (ANC 0.5–1.0, platelets 20–90 for 3–8 weeks) per
    /// remission: ASSUMPTION (57 % after high-dose induction, lasting ~54 days [S13]).
    pub prolonged_cytopenia_prob: f64,

    // ---------------------------------------------------------------- ferritin
    /// Median ferritin at diagnosis, µg/L: 512 [S16] – 1276 [S17].
    pub ferritin_dx_median: f64,
    /// Log-SD of ferritin at diagnosis (ASSUMPTION, from the ranges in [S16][S17]).
    pub ferritin_dx_sigma: f64,
    /// Ferritin added per week of transfused aplasia, µg/L (ASSUMPTION; 2.5 RBC units/week
    /// [S15], 200–250 mg iron per unit [S22]); a slow drift [S23].
    pub transfusion_ferritin_per_week: f64,
    /// Half-life of that transfusional drift, days (ASSUMPTION).
    pub transfusion_ferritin_half_life_days: f64,

    // ---------------------------------------------------------------- lipids, coagulation, liver
    /// Median triglycerides at diagnosis, mmol/L (ASSUMPTION; with the SD below ~28 % are
    /// ≥ 1.7 mmol/L [S36]).
    pub tg_dx_median: f64,
    /// Log-SD of triglycerides (ASSUMPTION).
    pub tg_sigma: f64,
    /// Median multiplicative TG rise in sepsis / on parenteral nutrition or steroids
    /// (calibrated so that ~14 % of sepsis reach ≥ 3 mmol/L [S29]).
    pub tg_event_factor: f64,
    /// Per intensive cycle: parenteral nutrition or steroids raising TG: 26 % of PN patients
    /// [S34] (ASSUMPTION as a per-cycle probability).
    pub tg_nutrition_prob: f64,
    /// DIC early in non-APL AML: 15–42 % [S37][S38][S39].
    pub dic_prob: f64,
    /// Share of DIC present at diagnosis (else within 10 days of induction): 28/52 [S37].
    pub dic_at_diagnosis_share: f64,
    /// Lowest fibrinogen in DIC, g/L: uniform between this and `dic_fibrinogen_max`
    /// (ASSUMPTION; about half ≤ 1.5 g/L).
    pub dic_fibrinogen_min: f64,
    /// Upper end of the DIC fibrinogen nadir (ASSUMPTION).
    pub dic_fibrinogen_max: f64,
    /// Median fibrinogen outside DIC, g/L (ASSUMPTION; median in non-APL AML unconfirmed).
    pub fibrinogen_median: f64,
    /// Log-SD of fibrinogen (ASSUMPTION).
    pub fibrinogen_sigma: f64,
    /// Median AST, U/L (ASSUMPTION).
    pub ast_median: f64,
    /// Per intensive cycle: drug-induced AST rise ×2–5 for 1–2 weeks (ASSUMPTION).
    pub ast_drug_prob: f64,

    // ---------------------------------------------------------------- findings, sCD25
    /// Splenomegaly at diagnosis (ASSUMPTION 10–20 %; spleen 2 % of extramedullary sites [S45]).
    pub splenomegaly_dx_prob: f64,
    /// sCD25 sent in a fever work-up (ASSUMPTION).
    pub scd25_workup_prob: f64,
    /// Median sCD25 without HLH, U/mL (≥ 2400 in 61 % of non-HLH tested [S52]; AML mean ~1063
    /// at diagnosis, 45 % elevated [S48]).
    pub scd25_median: f64,
    /// Log-SD of sCD25 (ASSUMPTION).
    pub scd25_sigma: f64,
    /// Day-15 marrow in patients < 60 years [S72] (probability it is done; ASSUMPTION).
    pub marrow_day15_prob: f64,
    /// Incidental hemophagocytosis on a post-chemotherapy marrow (ASSUMPTION; no frequency
    /// found: 41–65 % at autopsy [S54][S56], 55 % of non-HLH suspected marrows [S58]).
    pub incidental_hemophagocytosis_prob: f64,

    // ---------------------------------------------------------------- data realism
    /// Triglycerides measured with a chemistry panel (ASSUMPTION).
    pub tg_measured_prob: f64,
    /// Fibrinogen measured with a chemistry panel (ASSUMPTION).
    pub fibrinogen_measured_prob: f64,
    /// A routine draw is moved one day earlier or later (ASSUMPTION).
    pub sampling_jitter_prob: f64,

    // ---------------------------------------------------------------- true HLH (gradual)
    /// Shortest prodrome before the onset, days (fever, ferritin rising, fibrinogen falling).
    pub hlh_prodrome_min_days: u32,
    /// Longest prodrome (ASSUMPTION: 3–7 days).
    pub hlh_prodrome_max_days: u32,
    /// Median peak ferritin, µg/L (ASSUMPTION; > 10 000 typical [S27][S24], means of sCD25
    /// studies).
    pub hlh_ferritin_peak_median: f64,
    /// Log-SD of the peak ferritin (ASSUMPTION: ~20 % of peaks 3000–10 000).
    pub hlh_ferritin_peak_sigma: f64,
    /// sCD25 sent in the HLH work-up (ASSUMPTION; "rarely measured").
    pub hlh_scd25_prob: f64,
    /// Median sCD25 in HLH, U/mL (means 12 942 [S52], 9 720–20 241 [S51]).
    pub hlh_scd25_median: f64,
    /// Splenomegaly documented at HLH onset (ASSUMPTION).
    pub hlh_splenomegaly_prob: f64,
    /// Marrow examined in the HLH work-up (ASSUMPTION); hemophagocytosis then with
    /// `hlh_hemophagocytosis_prob` (overall ~0.77; 78.5 % [S58]).
    pub hlh_marrow_prob: f64,
    /// HLH in aplasia preceded by an infection (febrile episode 3–10 days before onset)
    /// (ASSUMPTION; HLH during chemotherapy is often infection-triggered [S69]).
    pub hlh_infection_trigger_prob: f64,
}

impl Default for MimicParams {
    fn default() -> Self {
        MimicParams {
            fn_prob_induction: 0.85,
            fn_prob_consolidation: 0.57,
            fn_prob_low_intensity: 0.25,
            fn_recurrent_prob: 0.40,
            fn_onset_min_day: 6,
            fn_onset_max_day: 16,
            fn_long_prob: 0.36,
            fn_max_days: 10,
            fn_temp_mean: 39.0,
            fn_temp_sd: 0.55,
            sepsis_prob: 0.30,
            fn_ferritin_factor: 1.4,
            sepsis_ferritin_factor: 2.0,
            inflammation_ferritin_sigma: 0.4,
            sepsis_low_fibrinogen_prob: 0.019,
            sepsis_imaging_prob: 0.5,
            sepsis_splenomegaly_prob: 0.434,

            aplasia_start_min_day: 7,
            aplasia_start_max_day: 10,
            anc_recovery_median_day: 28.0,
            anc_recovery_min_day: 13,
            anc_recovery_max_day: 51,
            plt_recovery_median_day: 25.0,
            consolidation_recovery_shift_days: 4.0,
            prolonged_cytopenia_prob: 0.10,

            ferritin_dx_median: 600.0,
            ferritin_dx_sigma: 1.0,
            transfusion_ferritin_per_week: 250.0,
            transfusion_ferritin_half_life_days: 180.0,

            tg_dx_median: 1.4,
            tg_sigma: 0.35,
            tg_event_factor: 1.35,
            tg_nutrition_prob: 0.20,
            dic_prob: 0.25,
            dic_at_diagnosis_share: 0.55,
            dic_fibrinogen_min: 0.7,
            dic_fibrinogen_max: 2.3,
            fibrinogen_median: 3.6,
            fibrinogen_sigma: 0.2,
            ast_median: 22.0,
            ast_drug_prob: 0.25,

            splenomegaly_dx_prob: 0.15,
            scd25_workup_prob: 0.15,
            scd25_median: 2800.0,
            scd25_sigma: 0.8,
            marrow_day15_prob: 0.8,
            incidental_hemophagocytosis_prob: 0.15,

            tg_measured_prob: 0.5,
            fibrinogen_measured_prob: 0.8,
            sampling_jitter_prob: 0.3,

            hlh_prodrome_min_days: 3,
            hlh_prodrome_max_days: 7,
            hlh_ferritin_peak_median: 20_000.0,
            hlh_ferritin_peak_sigma: 0.8,
            hlh_scd25_prob: 0.6,
            hlh_scd25_median: 10_000.0,
            hlh_splenomegaly_prob: 0.5,
            hlh_marrow_prob: 0.85,
            hlh_infection_trigger_prob: 0.6,
        }
    }
}

impl MimicParams {
    /// Check every field; the error names the first offending one (prefixed `mimic.`).
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |name: &str, message: String| Err(SimError::InvalidParam { name: format!("mimic.{name}"), message });
        let probs = [
            ("fn_prob_induction", self.fn_prob_induction),
            ("fn_prob_consolidation", self.fn_prob_consolidation),
            ("fn_prob_low_intensity", self.fn_prob_low_intensity),
            ("fn_recurrent_prob", self.fn_recurrent_prob),
            ("fn_long_prob", self.fn_long_prob),
            ("sepsis_prob", self.sepsis_prob),
            ("sepsis_low_fibrinogen_prob", self.sepsis_low_fibrinogen_prob),
            ("sepsis_imaging_prob", self.sepsis_imaging_prob),
            ("sepsis_splenomegaly_prob", self.sepsis_splenomegaly_prob),
            ("prolonged_cytopenia_prob", self.prolonged_cytopenia_prob),
            ("tg_nutrition_prob", self.tg_nutrition_prob),
            ("dic_prob", self.dic_prob),
            ("dic_at_diagnosis_share", self.dic_at_diagnosis_share),
            ("ast_drug_prob", self.ast_drug_prob),
            ("splenomegaly_dx_prob", self.splenomegaly_dx_prob),
            ("scd25_workup_prob", self.scd25_workup_prob),
            ("marrow_day15_prob", self.marrow_day15_prob),
            ("incidental_hemophagocytosis_prob", self.incidental_hemophagocytosis_prob),
            ("tg_measured_prob", self.tg_measured_prob),
            ("fibrinogen_measured_prob", self.fibrinogen_measured_prob),
            ("sampling_jitter_prob", self.sampling_jitter_prob),
            ("hlh_scd25_prob", self.hlh_scd25_prob),
            ("hlh_splenomegaly_prob", self.hlh_splenomegaly_prob),
            ("hlh_marrow_prob", self.hlh_marrow_prob),
            ("hlh_infection_trigger_prob", self.hlh_infection_trigger_prob),
        ];
        for (name, v) in probs {
            if !(0.0..=1.0).contains(&v) {
                return bad(name, format!("must be a probability in [0, 1], got {v}"));
            }
        }
        let positive = [
            ("fn_temp_mean", self.fn_temp_mean),
            ("fn_ferritin_factor", self.fn_ferritin_factor),
            ("sepsis_ferritin_factor", self.sepsis_ferritin_factor),
            ("anc_recovery_median_day", self.anc_recovery_median_day),
            ("plt_recovery_median_day", self.plt_recovery_median_day),
            ("ferritin_dx_median", self.ferritin_dx_median),
            ("transfusion_ferritin_half_life_days", self.transfusion_ferritin_half_life_days),
            ("tg_dx_median", self.tg_dx_median),
            ("tg_event_factor", self.tg_event_factor),
            ("dic_fibrinogen_min", self.dic_fibrinogen_min),
            ("fibrinogen_median", self.fibrinogen_median),
            ("ast_median", self.ast_median),
            ("scd25_median", self.scd25_median),
            ("hlh_ferritin_peak_median", self.hlh_ferritin_peak_median),
            ("hlh_scd25_median", self.hlh_scd25_median),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, format!("must be a finite number > 0, got {v}"));
            }
        }
        let nonneg = [
            ("fn_temp_sd", self.fn_temp_sd),
            ("inflammation_ferritin_sigma", self.inflammation_ferritin_sigma),
            ("consolidation_recovery_shift_days", self.consolidation_recovery_shift_days),
            ("ferritin_dx_sigma", self.ferritin_dx_sigma),
            ("transfusion_ferritin_per_week", self.transfusion_ferritin_per_week),
            ("tg_sigma", self.tg_sigma),
            ("fibrinogen_sigma", self.fibrinogen_sigma),
            ("scd25_sigma", self.scd25_sigma),
            ("hlh_ferritin_peak_sigma", self.hlh_ferritin_peak_sigma),
        ];
        for (name, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("must be a finite number ≥ 0, got {v}"));
            }
        }
        if self.dic_fibrinogen_max < self.dic_fibrinogen_min {
            return bad("dic_fibrinogen_max", format!("must be ≥ dic_fibrinogen_min ({})", self.dic_fibrinogen_min));
        }
        let ranges = [
            ("fn_onset_max_day", self.fn_onset_min_day, self.fn_onset_max_day),
            ("aplasia_start_max_day", self.aplasia_start_min_day, self.aplasia_start_max_day),
            ("anc_recovery_max_day", self.anc_recovery_min_day, self.anc_recovery_max_day),
            ("hlh_prodrome_max_days", self.hlh_prodrome_min_days, self.hlh_prodrome_max_days),
        ];
        for (name, lo, hi) in ranges {
            if lo > hi {
                return bad(name, format!("must be ≥ the matching minimum ({lo}), got {hi}"));
            }
        }
        if self.fn_max_days < 3 {
            return bad("fn_max_days", "must be ≥ 3".into());
        }
        if self.hlh_prodrome_min_days < 1 {
            return bad("hlh_prodrome_min_days", "must be ≥ 1".into());
        }
        if !(self.anc_recovery_min_day as f64..=self.anc_recovery_max_day as f64).contains(&self.anc_recovery_median_day) {
            return bad("anc_recovery_median_day", "must lie within [anc_recovery_min_day, anc_recovery_max_day]".into());
        }
        Ok(())
    }
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

            mimics: true,
            mimic: MimicParams::default(),
            qualified_values_fraction: 0.2,
            qualified_ferritin_upper_limit: 40_000.0,
            qualified_neutrophils_lower_limit: 0.1,
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
        if !(0.0..=1.0).contains(&self.qualified_values_fraction) {
            return bad(
                "qualified_values_fraction",
                format!("must be a probability in [0, 1], got {}", self.qualified_values_fraction),
            );
        }
        for (name, v) in [
            ("qualified_ferritin_upper_limit", self.qualified_ferritin_upper_limit),
            ("qualified_neutrophils_lower_limit", self.qualified_neutrophils_lower_limit),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, format!("must be a finite number > 0, got {v}"));
            }
        }
        self.mimic.validate()?;
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
            return Err(SimError::InvalidParam { name: "study_end".into(), message: "must not be before diagnosis_end".into() });
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
        let mut p = SimParams::default();
        p.mimic.dic_prob = -0.1;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("mimic.dic_prob"), "{e}");
        p.mimic.dic_prob = 0.25;
        p.mimic.hlh_prodrome_max_days = 2;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("mimic.hlh_prodrome_max_days"), "{e}");
        let p = SimParams { qualified_values_fraction: 2.0, ..SimParams::default() };
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("qualified_values_fraction"), "{e}");
    }

    #[test]
    fn params_round_trip_and_partial_files_keep_defaults() {
        let p = SimParams::default();
        let back: SimParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let q: SimParams = serde_json::from_str(r#"{"mimics": false, "mimic": {"dic_prob": 0.4}}"#).unwrap();
        assert!(!q.mimics);
        assert_eq!(q.mimic.dic_prob, 0.4);
        assert_eq!(q.mimic.fn_prob_induction, MimicParams::default().fn_prob_induction);
        assert!(serde_json::from_str::<SimParams>(r#"{"mimic": {"dic_probability": 0.4}}"#).is_err());
    }
}
