//! The study file (`study.toml`): what a run analyses and how.
//!
//! Every field has a default, so `hemosurv run COHORT` with no study file runs
//! the default study documented in `docs/study.md`. The effective config
//! (defaults filled in) is written to the run's `manifest.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Errors reading a study file.
#[derive(Debug, Error)]
pub enum StudyConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read study file: {message}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        message: String,
    },
    /// TOML syntax or an unknown/mistyped key.
    #[error("{path}: invalid study file: {message}")]
    Parse {
        /// File.
        path: String,
        /// Parser message (names the key and line).
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: `{key}`: {message}")]
    Value {
        /// File.
        path: String,
        /// Dotted key.
        key: String,
        /// What was expected.
        message: String,
    },
}

/// Which patients enter the study.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Population {
    /// Keep only patients whose first treatment line has one of these intensities
    /// (`intensive`, `low_intensity`, ...). Empty = every patient.
    pub first_line_intensity: Vec<String>,
    /// Keep patients without any treatment row (they have no first line, so the
    /// intensity filter cannot apply to them). Unset: kept when `first_line_intensity`
    /// is empty, excluded when it lists intensities ([`Population::keeps_untreated`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_untreated: Option<bool>,
}

impl Population {
    /// Whether patients without a treatment row enter the study: the explicit setting,
    /// else `true` exactly when no intensity filter is set.
    pub fn keeps_untreated(&self) -> bool {
        self.include_untreated.unwrap_or(self.first_line_intensity.is_empty())
    }
}

/// Time origin of every time-to-event analysis.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeOrigin {
    /// AML diagnosis date.
    Diagnosis,
    /// Start of the first treatment line (patients without one are excluded, counted).
    FirstLineStart,
}

/// Timing options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Time origin.
    pub origin: TimeOrigin,
    /// Days per month used to report times in months (365.25 / 12).
    pub days_per_month: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { origin: TimeOrigin::Diagnosis, days_per_month: 365.25 / 12.0 }
    }
}

/// HLH detection options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Detection {
    /// Criteria sets, built-in names (`hlh_aml`, `hlh2004`, `hscore`, `ohi`) or paths to TOML
    /// files (relative to the study file). Default: all four built-in sets.
    pub criteria: Vec<String>,
    /// The set that defines HLH exposure for survival and response analyses (default
    /// `hlh_aml`, the AML-aware definition; `docs/detection.md`).
    pub primary: String,
    /// Also report incidence under the definition grid of [`crate::study::grid`]
    /// (`hlh_incidence_by_definition`).
    pub grid: bool,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            criteria: vec!["hlh_aml".into(), "hlh2004".into(), "hscore".into(), "ohi".into()],
            primary: "hlh_aml".into(),
            grid: true,
        }
    }
}

/// Incidence options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Incidence {
    /// Days at which the cumulative incidence is reported.
    pub timepoints_days: Vec<f64>,
    /// Rates are reported per this many person-months.
    pub rate_per_person_months: f64,
}

impl Default for Incidence {
    fn default() -> Self {
        Incidence { timepoints_days: vec![30.0, 90.0, 180.0, 365.0], rate_per_person_months: 100.0 }
    }
}

/// Survival options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Survival {
    /// Landmark times (days from origin) for landmark analyses of HLH.
    pub landmarks_days: Vec<f64>,
    /// Adjustment covariates for the Cox models: `age_at_diagnosis`, `sex`, or any
    /// extra column of `patients` (numeric, or categorical → treatment contrasts).
    /// Columns that do not exist are reported and skipped.
    pub covariates: Vec<String>,
    /// Confidence level for all intervals.
    pub conf_level: f64,
    /// Regimens with fewer patients than this are pooled as "other" in by-regimen analyses.
    pub min_regimen_size: usize,
    /// EFS (ELN 2022): a first-line response assessment made at least this many days after
    /// the first-line start is an end-of-induction assessment; refractory disease is judged
    /// only on those (an earlier one, e.g. a day-14 marrow, does not make an EFS event).
    pub induction_assessment_min_days: f64,
}

impl Default for Survival {
    fn default() -> Self {
        Survival {
            landmarks_days: vec![30.0, 90.0],
            covariates: vec!["age_at_diagnosis".into(), "eln_risk".into()],
            conf_level: 0.95,
            min_regimen_size: 10,
            induction_assessment_min_days: 21.0,
        }
    }
}

/// Figure options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Figures {
    /// Draw figures at all.
    pub enabled: bool,
    /// X-axis extent of survival figures, in months.
    pub max_months: f64,
    /// Spacing of the x-axis ticks (and risk-table columns), in months.
    pub tick_months: f64,
    /// Maximum number of patients shown in the swimmer plot.
    pub swimmer_max_patients: usize,
}

impl Default for Figures {
    fn default() -> Self {
        Figures { enabled: true, max_months: 36.0, tick_months: 6.0, swimmer_max_patients: 40 }
    }
}

impl Figures {
    /// The x-axis ticks of the survival figures (and the columns of their risk tables), in
    /// months: 0, `tick_months`, … up to `max_months`.
    pub fn ticks_months(&self) -> Vec<f64> {
        let mut v = Vec::new();
        let mut t = 0.0;
        while t <= self.max_months + 1e-9 {
            v.push(t);
            t += self.tick_months;
        }
        v
    }
}

/// A whole study.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StudyConfig {
    /// Free-text title shown in the report.
    pub title: Option<String>,
    /// Population selection.
    pub population: Population,
    /// Time origin and units.
    pub timing: Timing,
    /// HLH criteria sets.
    pub detection: Detection,
    /// Incidence analyses.
    pub incidence: Incidence,
    /// Survival analyses.
    pub survival: Survival,
    /// Figures.
    pub figures: Figures,
    /// Report options.
    pub report: ReportOptions,
}

/// Report options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportOptions {
    /// Counts from 1 to `small_cell - 1` in the descriptive tables (Table 1, Table 2) are flagged
    /// as small cells in their `note` (disclosure control before sharing); 0 turns it off.
    pub small_cell: u64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { small_cell: 5 }
    }
}

impl StudyConfig {
    /// Parse a study file's text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<StudyConfig, StudyConfigError> {
        let cfg: StudyConfig =
            toml::from_str(text).map_err(|e| StudyConfigError::Parse { path: origin.into(), message: e.to_string() })?;
        cfg.check(origin)?;
        Ok(cfg)
    }

    /// Read a study file.
    pub fn from_file(path: &Path) -> Result<StudyConfig, StudyConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StudyConfigError::Read { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    fn check(&self, origin: &str) -> Result<(), StudyConfigError> {
        let bad = |key: &str, message: &str| {
            Err(StudyConfigError::Value { path: origin.into(), key: key.into(), message: message.into() })
        };
        if !(self.survival.conf_level > 0.0 && self.survival.conf_level < 1.0) {
            return bad("survival.conf_level", "must be between 0 and 1 (e.g. 0.95)");
        }
        if self.detection.criteria.is_empty() {
            return bad("detection.criteria", "needs at least one criteria set");
        }
        if !(self.survival.induction_assessment_min_days.is_finite() && self.survival.induction_assessment_min_days >= 0.0) {
            return bad("survival.induction_assessment_min_days", "must be a non-negative number of days");
        }
        if self.incidence.timepoints_days.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
            return bad("incidence.timepoints_days", "must be non-negative numbers of days");
        }
        if self.survival.landmarks_days.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
            return bad("survival.landmarks_days", "must be positive numbers of days");
        }
        for i in &self.population.first_line_intensity {
            if crate::cohort::Intensity::parse(i).is_none() {
                return bad(
                    "population.first_line_intensity",
                    &format!("unknown intensity `{i}` (known: intensive, low_intensity, transplant, supportive, other)"),
                );
            }
        }
        if !(self.figures.tick_months > 0.0 && self.figures.max_months > 0.0) {
            return bad("figures", "max_months and tick_months must be positive");
        }
        if self.timing.days_per_month.is_nan() || self.timing.days_per_month <= 0.0 {
            return bad("timing.days_per_month", "must be positive");
        }
        Ok(())
    }

    /// The effective config as TOML (defaults filled in).
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_study() {
        assert_eq!(StudyConfig::from_toml_str("", "s.toml").unwrap(), StudyConfig::default());
    }

    #[test]
    fn round_trips_through_toml() {
        let cfg = StudyConfig::default();
        let again = StudyConfig::from_toml_str(&cfg.to_toml_string(), "x").unwrap();
        assert_eq!(cfg, again);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = StudyConfig::from_toml_str("[survival]\nlandmark = [30]\n", "s.toml").unwrap_err().to_string();
        assert!(e.contains("s.toml") && e.contains("landmark"), "{e}");
        let e =
            StudyConfig::from_toml_str("[population]\nfirst_line_intensity = [\"heavy\"]\n", "s.toml").unwrap_err().to_string();
        assert!(e.contains("population.first_line_intensity") && e.contains("heavy"), "{e}");
        let e = StudyConfig::from_toml_str("[survival]\ninduction_assessment_min_days = -1\n", "s.toml").unwrap_err().to_string();
        assert!(e.contains("survival.induction_assessment_min_days"), "{e}");
    }
}
