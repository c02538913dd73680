//! The mapping from OMOP concepts to the cohort contract: concept sets per analyte, finding,
//! response, drug, regimen and covariate, and the rules of the import (TOML; the built-in
//! default is `default_mapping.toml`, printed by `hemosurv omop mapping show`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::OmopError;
use crate::cohort::{Analyte, FindingKind, Intensity, Response};

/// The built-in mapping, as TOML with comments (every code's source).
pub const DEFAULT_MAPPING_TOML: &str = include_str!("default_mapping.toml");

/// How the cohort's `patient_id` is made from `person`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientIdSource {
    /// `person_source_value`, or `person_id` when it is empty.
    PersonSourceValue,
    /// `person_id`.
    PersonId,
}

/// `[person]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRules {
    /// Source of `patient_id`.
    pub patient_id: PatientIdSource,
    /// Month of birth used when `month_of_birth` is empty.
    pub missing_birth_month: u32,
    /// Day of birth used when `day_of_birth` is empty.
    pub missing_birth_day: u32,
}

/// `[diagnosis]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisRules {
    /// AML concept set.
    pub aml: Vec<String>,
    /// Rows dated more than this many days before the diagnosis are left out.
    pub days_before_diagnosis: i32,
    /// A death up to this many days after the end of the diagnosis's observation period is kept.
    pub death_grace_days: i32,
}

/// `[operators]`: `operator_concept_id` values per qualifier.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operators {
    /// `<`.
    pub lt: Vec<i64>,
    /// `<=`.
    pub le: Vec<i64>,
    /// `>`.
    pub gt: Vec<i64>,
    /// `>=`.
    pub ge: Vec<i64>,
    /// `=` (an exact value).
    pub eq: Vec<i64>,
}

/// `[finding_values]`: what makes an observed finding "documented absent".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingValues {
    /// `value_as_concept_id` concepts meaning absent.
    pub absent: Vec<String>,
    /// `value_as_string` words meaning absent (compared ignoring case).
    pub absent_words: Vec<String>,
}

/// `[episodes]`: `episode_concept_id` values of the Oncology extension.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeKinds {
    /// Treatment regimen episodes (one per line; `episode_number` = line).
    pub treatment_regimen: Vec<i64>,
    /// Disease-status episodes (their object concept is a response).
    pub disease_status: Vec<i64>,
}

/// `[treatment_lines]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRules {
    /// A gap of more than this many days starts a new line.
    pub gap_days: i32,
}

/// One `[[regimens]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimenRule {
    /// Regimen name written to `treatments.regimen`.
    pub name: String,
    /// `treatments.intensity`.
    pub intensity: String,
    /// Groups of drug names (keys of `[drugs]`); each group needs one exposure in the window.
    /// Empty: the regimen is only recognised from episodes.
    #[serde(default)]
    pub drugs: Vec<Vec<String>>,
    /// Days after the first exposure within which the other drugs must start.
    #[serde(default)]
    pub within_days: i32,
    /// No other mapped drug may start in the window.
    #[serde(default)]
    pub alone: bool,
    /// Only after a composite complete remission (CR, CRh, CRi).
    #[serde(default)]
    pub after_remission: bool,
    /// The regimen's concepts as `episode_object_concept_id`.
    #[serde(default)]
    pub codes: Vec<String>,
}

/// One `[[covariates]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CovariateRule {
    /// Column name in `patients`.
    pub name: String,
    /// Observation concepts.
    pub codes: Vec<String>,
}

/// The whole mapping file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// `[person]`.
    pub person: PersonRules,
    /// `[diagnosis]`.
    pub diagnosis: DiagnosisRules,
    /// `[measurements]`: analyte name → LOINC concepts.
    pub measurements: BTreeMap<String, Vec<String>>,
    /// `[operators]`.
    #[serde(default)]
    pub operators: Operators,
    /// `[findings]`: finding name → concepts.
    #[serde(default)]
    pub findings: BTreeMap<String, Vec<String>>,
    /// `[finding_values]`.
    #[serde(default)]
    pub finding_values: FindingValues,
    /// `[responses]`: response name → concepts.
    #[serde(default)]
    pub responses: BTreeMap<String, Vec<String>>,
    /// `[episodes]`.
    #[serde(default)]
    pub episodes: EpisodeKinds,
    /// `[drugs]`: drug name → concepts.
    #[serde(default)]
    pub drugs: BTreeMap<String, Vec<String>>,
    /// `[treatment_lines]`.
    pub treatment_lines: LineRules,
    /// `[[regimens]]`, in priority order.
    #[serde(default)]
    pub regimens: Vec<RegimenRule>,
    /// `[[covariates]]`, in column order.
    #[serde(default)]
    pub covariates: Vec<CovariateRule>,
}

/// What a mapped concept stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The AML diagnosis.
    Aml,
    /// A laboratory value or vital sign.
    Analyte(Analyte),
    /// A clinical finding.
    Finding(FindingKind),
    /// A response assessment.
    Response(Response),
    /// A drug (index into [`Mapping::drugs`] in key order).
    Drug(usize),
    /// A regimen (index into [`Mapping::regimens`]).
    Regimen(usize),
    /// A covariate (index into [`Mapping::covariates`]).
    Covariate(usize),
    /// A value meaning "absent".
    Absent,
}

/// A mapping checked and indexed by (vocabulary, code).
#[derive(Debug, Clone)]
pub struct CheckedMapping {
    /// The mapping as read.
    pub mapping: Mapping,
    /// Intensity of each regimen.
    pub intensities: Vec<Intensity>,
    /// Drug names in key order (the index of [`Target::Drug`]).
    pub drug_names: Vec<String>,
    /// Drug indices of each regimen's groups.
    pub regimen_drugs: Vec<Vec<Vec<usize>>>,
    by_code: HashMap<(String, String), Target>,
}

/// Split `"VOCAB:CODE"`.
fn split_code(code: &str) -> Option<(String, String)> {
    let (v, c) = code.split_once(':')?;
    let (v, c) = (v.trim(), c.trim());
    (!v.is_empty() && !c.is_empty()).then(|| (v.to_ascii_lowercase(), c.to_string()))
}

impl Mapping {
    /// The built-in mapping.
    pub fn default_mapping() -> Result<CheckedMapping, OmopError> {
        Mapping::parse(DEFAULT_MAPPING_TOML, "built-in mapping")
    }

    /// Read and check a mapping file.
    pub fn from_file(path: &Path) -> Result<CheckedMapping, OmopError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| OmopError::Mapping { file: path.display().to_string(), message: e.to_string() })?;
        Mapping::parse(&text, &path.display().to_string())
    }

    /// Parse and check mapping TOML; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<CheckedMapping, OmopError> {
        let mapping: Mapping =
            toml::from_str(text).map_err(|e| OmopError::Mapping { file: source.to_string(), message: e.to_string() })?;
        mapping.check(source)
    }

    /// The mapping as TOML (without comments).
    pub fn to_toml_string(&self) -> Result<String, OmopError> {
        toml::to_string(self).map_err(|e| OmopError::Mapping { file: "mapping".into(), message: e.to_string() })
    }

    fn check(self, source: &str) -> Result<CheckedMapping, OmopError> {
        self.check_inner().map_err(|message| OmopError::Mapping { file: source.to_string(), message })
    }

    fn check_inner(self) -> Result<CheckedMapping, String> {
        self.check_numbers()?;
        let mut codes = CodeIndex::default();
        codes.add("diagnosis", &self.diagnosis.aml, Target::Aml)?;
        let names = |all: Vec<&str>| all.join(", ");
        codes.add_named(
            "measurements",
            "analyte",
            &self.measurements,
            |n| Analyte::parse(n).map(Target::Analyte),
            || names(Analyte::ALL.iter().map(|a| a.name()).collect()),
        )?;
        codes.add_named(
            "findings",
            "finding",
            &self.findings,
            |n| FindingKind::parse(n).map(Target::Finding),
            || names(FindingKind::ALL.iter().map(|f| f.name()).collect()),
        )?;
        codes.add("finding_values", &self.finding_values.absent, Target::Absent)?;
        codes.add_named(
            "responses",
            "response",
            &self.responses,
            |n| Response::parse(n).map(Target::Response),
            || names(Response::ALL.iter().map(|r| r.name()).collect()),
        )?;
        let drug_names: Vec<String> = self.drugs.keys().cloned().collect();
        for (i, c) in self.drugs.values().enumerate() {
            codes.add("drugs", c, Target::Drug(i))?;
        }
        let mut intensities = Vec::new();
        let mut regimen_drugs = Vec::new();
        for (i, r) in self.regimens.iter().enumerate() {
            let (intensity, groups) = check_regimen(r, &drug_names)?;
            intensities.push(intensity);
            regimen_drugs.push(groups);
            codes.add("regimens", &r.codes, Target::Regimen(i))?;
        }
        for (i, c) in self.covariates.iter().enumerate() {
            const RESERVED: [&str; 6] =
                ["patient_id", "diagnosis_date", "last_contact_date", "death_date", "sex", "age_at_diagnosis"];
            if RESERVED.contains(&c.name.trim().to_ascii_lowercase().as_str()) || c.name.trim().is_empty() {
                return Err(format!("[[covariates]]: `{}` cannot be a covariate column name", c.name));
            }
            codes.add("covariates", &c.codes, Target::Covariate(i))?;
        }
        Ok(CheckedMapping { mapping: self, intensities, drug_names, regimen_drugs, by_code: codes.0 })
    }

    /// The numeric settings are in range.
    fn check_numbers(&self) -> Result<(), String> {
        let p = &self.person;
        if !(1..=12).contains(&p.missing_birth_month) || !(1..=28).contains(&p.missing_birth_day) {
            return Err("[person]: missing_birth_month must be 1-12 and missing_birth_day 1-28".into());
        }
        if self.diagnosis.days_before_diagnosis < 0 || self.diagnosis.death_grace_days < 0 || self.treatment_lines.gap_days < 0 {
            return Err("days_before_diagnosis, death_grace_days and gap_days must be >= 0".into());
        }
        Ok(())
    }
}

/// (vocabulary, code) → target, built while checking that no code means two things.
#[derive(Default)]
struct CodeIndex(HashMap<(String, String), Target>);

impl CodeIndex {
    fn add(&mut self, section: &str, codes: &[String], target: Target) -> Result<(), String> {
        for code in codes {
            let key =
                split_code(code).ok_or_else(|| format!("[{section}]: `{code}` is not VOCABULARY:CODE (e.g. LOINC:2276-4)"))?;
            if let Some(old) = self.0.insert(key, target) {
                if old != target {
                    return Err(format!("[{section}]: `{code}` is also mapped to {old:?}; a concept can mean one thing only"));
                }
            }
        }
        Ok(())
    }

    /// A section `name = [codes]` whose names (of `what`: analyte, finding, ...) `parse` must
    /// know (`known` lists them for the error).
    fn add_named(
        &mut self,
        section: &str,
        what: &str,
        sets: &BTreeMap<String, Vec<String>>,
        parse: impl Fn(&str) -> Option<Target>,
        known: impl Fn() -> String,
    ) -> Result<(), String> {
        for (name, codes) in sets {
            let target = parse(name).ok_or_else(|| format!("[{section}]: unknown {what} `{name}`; known: {}", known()))?;
            self.add(section, codes, target)?;
        }
        Ok(())
    }
}

/// A regimen's intensity and drug groups (as indices into `drug_names`).
fn check_regimen(r: &RegimenRule, drug_names: &[String]) -> Result<(Intensity, Vec<Vec<usize>>), String> {
    let known = || Intensity::ALL.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ");
    let intensity = Intensity::parse(&r.intensity)
        .ok_or_else(|| format!("[[regimens]] `{}`: unknown intensity `{}`; known: {}", r.name, r.intensity, known()))?;
    if r.within_days < 0 {
        return Err(format!("[[regimens]] `{}`: within_days must be >= 0", r.name));
    }
    let mut groups = Vec::new();
    for g in &r.drugs {
        if g.is_empty() {
            return Err(format!("[[regimens]] `{}`: an empty drug group", r.name));
        }
        let idx = g
            .iter()
            .map(|d| {
                drug_names
                    .iter()
                    .position(|n| n == d)
                    .ok_or_else(|| format!("[[regimens]] `{}`: drug `{d}` is not in [drugs]", r.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(idx);
    }
    Ok((intensity, groups))
}

impl CheckedMapping {
    /// What the concept (vocabulary_id, concept_code) stands for, if mapped.
    pub fn target(&self, vocabulary_id: &str, concept_code: &str) -> Option<Target> {
        self.by_code.get(&(vocabulary_id.trim().to_ascii_lowercase(), concept_code.trim().to_string())).copied()
    }

    /// The first code of each concept set, as (vocabulary as written, code, what it maps to) —
    /// for writing a CDM that this mapping reads (`hemosurv simulate --format omop`).
    pub fn first_code(&self, target: Target) -> Option<(String, String)> {
        let m = &self.mapping;
        let codes: &[String] = match target {
            Target::Aml => &m.diagnosis.aml,
            Target::Analyte(a) => m.measurements.get(a.name())?,
            Target::Finding(f) => m.findings.get(f.name())?,
            Target::Response(r) => m.responses.get(r.name())?,
            Target::Drug(i) => m.drugs.values().nth(i)?,
            Target::Regimen(i) => &m.regimens.get(i)?.codes,
            Target::Covariate(i) => &m.covariates.get(i)?.codes,
            Target::Absent => &m.finding_values.absent,
        };
        let (v, c) = codes.first()?.split_once(':')?;
        Some((v.trim().to_string(), c.trim().to_string()))
    }

    /// Index of the regimen named `name` (exact).
    pub fn regimen_index(&self, name: &str) -> Option<usize> {
        self.mapping.regimens.iter().position(|r| r.name == name)
    }

    /// Index of the covariate named `name`.
    pub fn covariate_index(&self, name: &str) -> Option<usize> {
        self.mapping.covariates.iter().position(|c| c.name == name)
    }
}
