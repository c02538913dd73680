//! `hemosurv simulate`: a synthetic AML registry with planted HLH episodes and known truth.
//!
//! [`simulate`] writes a cohort folder in the data contract — `patients`, `measurements`,
//! `findings`, `treatments`, `responses` (each `NAME.csv` or `NAME.parquet`) — plus the truth:
//! `truth` (one row per planted HLH episode) and `truth_params.json` (seed, number of
//! patients, every [`SimParams`] value and a summary of what was generated).
//!
//! # Determinism and memory
//! Patient `i` (0-based) draws from its own ChaCha8 stream (key from the seed, stream id `i`),
//! so the output depends only on `(seed, patients, params)` — not on the chunk size or the
//! number of threads (Parquet row-group boundaries follow the chunk size; the data do not).
//! Patients are generated in chunks of `chunk_size` in parallel (rayon); while chunk `k` is
//! written, chunk `k + 1` is generated, so at most two chunks are held in memory.
//!
//! # Two models: with HLH mimics (default) and clean
//! By default (`SimParams::mimics = true`) the simulator models the **HLH mimics of intensive
//! AML therapy**, so that patients without HLH come near, and often over, the printed HLH-2004
//! and HScore thresholds, as in real induction courses; true HLH has a **gradual onset**. Every
//! mimic parameter is a field of [`MimicParams`] with its source (`[Sn]` tags of
//! `shared/clinical/aml-confounders.md`) or marked ASSUMPTION; `docs/simulation.md` has the
//! table. `mimics = false` (`hemosurv simulate --clean`) is the earlier *clean* model, kept
//! byte for byte (its draws come from the patient's main stream; everything the mimic model
//! adds comes from a second stream), for validating estimators: there, patients without HLH
//! stay below every HLH rule. The course (lines, responses, relapses, deaths) is the same
//! model in both; the mimic model changes aplasia lengths (and hence assessment dates).
//!
//! **Mimic model** (see [`MimicParams`] for values and sources). Per intensive cycle
//! (induction, salvage, consolidation, transplant conditioning): aplasia from day 7–10 with
//! neutrophil recovery (≥ 0.5) at a log-normal day around 28 (13–51) and platelet recovery
//! (≥ 20) around day 25, correlated, 4 days earlier after consolidation; Hb 70–90 g/L until a
//! week after recovery (transfused); a planted episode overlapping the aplasia delays
//! recovery until after its resolution. Febrile neutropenia with probability 0.85
//! (induction) / 0.57 (consolidation, transplant) / 0.25 (low intensity), onset day 6–16,
//! 1–2 days or (36 %) 3–10 days, daily maximum ~N(39.0, 0.55) clipped to 38.0–40.2 °C, a
//! recurrence in 40 %; 30 % septic (ferritin × ~2, TG × ~1.35, AST × 1.5–3, fibrinogen
//! ≤ 1.5 in 1.9 %, abdominal imaging in half with splenomegaly in 43 %), otherwise ferritin
//! × ~1.4; sCD25 sent in 15 % of fever work-ups (log-normal, median 2800 U/mL). Ferritin:
//! log-normal at diagnosis (median 600 µg/L, log-SD 1), ×0.7 in remission, plus 250 µg/L per
//! week of transfused aplasia (half-life 180 days). TG log-normal (median 1.4 mmol/L), ×~1.35
//! on parenteral nutrition/steroids (20 % of cycles) and in sepsis. DIC in 25 % (55 % at
//! diagnosis, else within 10 days of the first line) for 5–14 days with a fibrinogen nadir of
//! 0.7–2.3 g/L. Splenomegaly at diagnosis 15 %. Marrows on day ~15 of induction (age < 60)
//! and at every response assessment, with incidental hemophagocytosis in 15 %. Drug AST rises
//! (25 % of cycles, × 2–5). Post-remission prolonged cytopenia in 10 % (3–8 weeks). TG is
//! measured at 50 % and fibrinogen at 80 % of chemistry draws; 30 % of routine draws move a
//! day. **True HLH (mimic model)**: a 3–7-day prodrome (fever rising from 38 °C, ferritin
//! rising log-linearly from the patient's own level, TG rising, fibrinogen and counts falling,
//! AST rising), preceded in 60 % by a febrile (infectious) episode; the **onset** is the day the
//! syndrome is fully developed — the first day the planted process shows its whole diagnostic
//! picture (fever ≥ 38.3 °C daily, ferritin at its onset level = 30–70 % of the peak, TG
//! and/or fibrinogen at their episode values, cytopenias), and the day of the HLH work-up:
//! a full panel (counts, ferritin, TG, fibrinogen, AST, sCD25 when sent) is drawn on the onset
//! day, splenomegaly (50 %) is documented then and the marrow (85 %; hemophagocytosis 90 %)
//! within 3 days. Peak ferritin log-normal (median 20 000 µg/L, log-SD 0.8, 3000–250 000; ~20 %
//! of peaks below 10 000) at 40 % of the episode; TG 3.2–6.5 mmol/L and/or fibrinogen 0.5–1.4
//! g/L (50/25/25 % as in the clean model; otherwise TG 1.6–2.9, fibrinogen 1.6–2.4); sCD25
//! sent in 60 % (median 10 000 U/mL); after resolution ferritin halves every 5 days.
//!
//! # The clean model (days are counted from the diagnosis date)
//! **Baseline.** Diagnosis date uniform in `[diagnosis_start, diagnosis_end]` (2015–2022);
//! sex F with probability 0.44; age ~ N(66, 13) clipped to 18–95 (1 decimal); ELN 2022 risk
//! favorable/intermediate/adverse 25/30/45 %; FLT3 mutated 30 %; site `S01`–`S08` (SI units),
//! or with probability `mixed_units_fraction` = 20 % `S09` (US units: °F, g/dL, 10^3/µL,
//! ng/mL, mg/dL) or `S10` (hemoglobin g/dL, ferritin ng/mL, fibrinogen mg/dL).
//!
//! **First line.** Intensive with probability `logistic(-0.0991·(age − 62.5))` (85 % at 45,
//! 15 % at 80 years): 7+3 (80 %) or CPX-351, starting day 2–7. Otherwise best supportive
//! care (`BSC`, 20 %) or low intensity from day 3–14: aza+ven (80 %) or decitabine.
//!
//! **Intensive induction/salvage.** Aplasia from day 5 to recovery on day 21–30 (neutrophils
//! < 0.5, platelets < 20, Hb 70–90 g/L), febrile neutropenia in 80 % (2–5 days of
//! 38.5–39.3 °C starting day 7–16), response 3–7 days after recovery (day ~25–37). Composite
//! CR (75 % CR, 10 % CRh, 15 % CRi) with probability 80/68/55 % by ELN risk (≈ 65 %
//! overall); otherwise MLFS/PR/SD/PD (10/25/40/25 %).
//!
//! **Low intensity.** Continuous 28-day cycles; response on day 28–35: composite CR 70/62/55 %
//! on aza+ven, 45/35/28 % on decitabine; non-responders progress (PD) 30–120 days later.
//! The line ends at relapse/progression (or death), else it is ongoing (empty `end_date`).
//!
//! **Remission.** After intensive induction: HiDAC ×2–3 (CPX-351 ×1–2 after CPX-351), each a
//! separate treatment line, starting 7–21 days after the previous assessment, with aplasia
//! and febrile neutropenia (40 %), and a `CR` assessment at the end of each cycle.
//! Allogeneic transplant (`alloSCT`, intensity `transplant`) in first remission for age ≤ 70
//! with probability 10/50/70 % by ELN (after 1–2 consolidations), in later remissions 50 %;
//! `immunosuppression` finding on the day of infusion; day +100 `CR` assessment. Relapse
//! hazard per year 0.20/0.40/0.70 by ELN, × 0.4 after transplant, × 1.3 on low-intensity
//! therapy, × 1.5 in a later remission, × 0.25 after 2 years in remission; a relapse is a
//! `relapse` response on the current line.
//!
//! **Relapse / refractory disease.** Best supportive care with probability 25 % (always from
//! the third salvage on); else FLAG-Ida (intensive; prior intensive therapy, age < 65, first
//! salvage, 70 %), gilteritinib (intensity `other`, FLT3-mutated), aza+ven or decitabine.
//! Salvage composite CR: 45 % FLAG-Ida, 35 % gilteritinib, 30 % low intensity.
//!
//! **Death** (`death_model = "phase"`, the default) is a single continuous-time hazard,
//! piecewise constant by phase (per year: intensive induction 0.6, low-intensity first cycle
//! 0.8, supportive care 3.0, remission 0.05, first year after transplant 0.25, refractory 1.5,
//! relapse/salvage 1.4), multiplied by `exp(0.03·(age − 66))`, by the ELN hazard ratio
//! (0.6/1.0/1.5) and by `hlh_death_hr` = 2 from the first HLH onset on (time-dependent,
//! permanent). The HLH hazard ratio is therefore *conditional on the phase*: a Cox model on
//! baseline covariates (age, ELN, first-line intensity) does not see the phase and estimates
//! a marginal hazard ratio attenuated towards 1 (≈ 1.1–1.4 instead of 2 on 100 000 patients).
//! `death_model = "proportional"` is for validating estimators: `h(t) = h0(t) ·
//! exp(0.03·(age − 66)) · HR_ELN · HR_first_line · 2^HLH(t)` with `h0` piecewise constant in
//! time since diagnosis (0.6/0.35/0.2/0.08 per year on days 0–60, 60–365, 365–730, 730+) and
//! the first line as intended at diagnosis (low intensity 1.8, supportive 6.0); responses and
//! relapses are simulated as before but do not change the hazard, so a time-dependent Cox
//! model with HLH, age, ELN and first-line intensity is correctly specified and recovers the
//! planted hazard ratios.
//!
//! **Censoring.** Administrative at `study_end` (2024-12-31); loss to follow-up with hazard
//! 0.03/year after day 180. `last_contact_date` is the death date for patients who died.
//! Nothing (measurement, finding, line start, response) is dated after the end of follow-up.
//!
//! **Measurements.** Diagnosis day: blood counts (hemoglobin, platelets, neutrophils,
//! leukocytes), temperature and chemistry (ferritin, triglycerides, fibrinogen, AST).
//! Intensive induction/salvage (inpatient): counts + temperature twice a week (every 3.5 days),
//! chemistry weekly. Consolidation, transplant (with temperature) and the first two
//! low-intensity cycles: counts every 14 days, chemistry every 28 days. Otherwise outpatient
//! visits with counts every 21 days with active disease or supportive care, every 45 days in
//! the first year of remission and every 120 days later, chemistry at every 3rd visit.
//! Temperature daily during fever. sCD25 only during HLH work-up (and in 5 % of
//! febrile-neutropenia episodes, < 2400 U/mL). About 140 measurement rows per patient.
//! In the clean model, non-HLH values stay below every HLH rule: ferritin 300–1500 µg/L at baseline (≤ 1900),
//! triglycerides ≤ 1.45 mmol/L, fibrinogen ≥ 2.6 g/L, no splenomegaly/hemophagocytosis
//! findings — at most fever + cytopenias + ferritin ≥ 500 (3 of 8 HLH-2004 criteria) and an
//! HScore ≤ ~120.
//!
//! **Planted HLH.** A patient gets an episode with probability `hlh_prob_intensive` = 0.10
//! (intensive first line), `hlh_prob_low_intensity` = 0.02, `hlh_prob_supportive` = 0. The
//! onset is 10–40 days after the start of the first line, or (15 %) of the next line
//! (first consolidation, transplant or salvage); 8 % get a second episode 75–365 days after the
//! first resolution. An episode lasts 7–21 days. Two days of prodromal fever precede the
//! onset; from the onset day to the resolution day: temperature 39.5–40.4 °C daily, ferritin
//! 3000–50 000 µg/L (rising to a peak at 40 % of the episode), triglycerides 3.6–6.5 mmol/L
//! and/or fibrinogen 0.5–1.15 g/L (both 50 %, one of them 25 % each), AST 80–400 U/L,
//! cytopenias (Hb 65–88 g/L, platelets 8–80, neutrophils 0.05–0.9), sCD25 4500–25 000 U/mL
//! on the onset day and weekly; splenomegaly on the onset day, marrow hemophagocytosis within
//! 2 days (90 %; else documented absent), hepatomegaly 50 %, NK activity documented normal in
//! 30 % (`hlh_low_nk_prob` = 0 by default). So
//! HLH-2004 (≥ 5 of 8 even without the marrow), HScore ≥ 169 and OHI (sCD25 > 3900 and
//! ferritin > 1000) are all met on the onset day. After resolution labs normalise within
//! 3 days (ferritin back to the patient's own level from day 3), and no fever is simulated for 30 days (findings have a 30-day look-back); a
//! detector with a 7-day look-back sees its criteria until about 7 days after resolution.
//! Planned line starts are deferred out of episodes. `truth` lists each episode whose onset
//! falls within follow-up (`resolution_date` empty if follow-up ended during the episode),
//! with the line and regimen during which it started. Patients who die or are censored
//! before a scheduled onset have no episode, so the realised fraction is slightly below the
//! parameter; `truth_params.json` reports both (`hlh_scheduled_*`, `hlh_patients_*`).

mod labs;
mod mimic;
pub mod omop;
pub mod params;
mod patient;
mod rng;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::cohort::table_writer::WriteError;

pub use params::{ByEln, DeathModel, MimicParams, SimParams};

use patient::{simulate_patient, FirstLine, SimPatient};
use writer::{Writer, TABLES};

/// Output file format of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimFormat {
    /// Comma-separated text, one file per table.
    Csv,
    /// Apache Parquet (zstd), one file per table, one row group per chunk.
    Parquet,
    /// The registry as an OMOP CDM v5.4 extract (CSV tables, with the Oncology extension's
    /// `episode` and a small `concept` table holding the codes used; see [`omop`]), plus `truth.csv`.
    Omop,
}

impl SimFormat {
    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            SimFormat::Csv | SimFormat::Omop => "csv",
            SimFormat::Parquet => "parquet",
        }
    }
}

impl FromStr for SimFormat {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(SimFormat::Csv),
            "parquet" | "pq" => Ok(SimFormat::Parquet),
            "omop" => Ok(SimFormat::Omop),
            _ => Err(SimError::InvalidOption {
                name: "format".into(),
                message: format!("expected csv, parquet or omop, got `{s}`"),
            }),
        }
    }
}

impl std::fmt::Display for SimFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SimFormat::Omop => "omop",
            other => other.extension(),
        })
    }
}

/// Options of one simulation run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Number of patients (≥ 1).
    pub patients: usize,
    /// Random seed; the output is a pure function of `(seed, patients, params)`.
    pub seed: u64,
    /// Output folder (created if missing; existing tables of the same format are replaced).
    pub out: PathBuf,
    /// Table format.
    pub format: SimFormat,
    /// Patients generated (in parallel) and written per step; bounds memory (≥ 1).
    pub chunk_size: usize,
    /// Model parameters.
    pub params: SimParams,
}

impl SimOptions {
    /// Options with default parameters and a chunk size of 20 000.
    pub fn new(patients: usize, seed: u64, out: impl Into<PathBuf>, format: SimFormat) -> SimOptions {
        SimOptions { patients, seed, out: out.into(), format, chunk_size: 20_000, params: SimParams::default() }
    }
}

/// What a run generated (also written to `truth_params.json` under `summary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimSummary {
    /// Patients.
    pub patients: usize,
    /// Rows of `measurements`.
    pub measurements: usize,
    /// Rows of `findings`.
    pub findings: usize,
    /// Rows of `treatments`.
    pub treatments: usize,
    /// Rows of `responses`.
    pub responses: usize,
    /// Rows of `truth` (planted episodes within follow-up).
    pub episodes: usize,
    /// Patients with at least one planted episode.
    pub patients_with_hlh: usize,
    /// Patients with two episodes.
    pub patients_with_two_episodes: usize,
    /// Deaths.
    pub deaths: usize,
    /// Patients with an intensive first line.
    pub first_line_intensive: usize,
    /// Patients with a low-intensity first line.
    pub first_line_low_intensity: usize,
    /// Patients with best supportive care as first line.
    pub first_line_supportive: usize,
    /// Patients who died before their first line started (no `treatments` row).
    pub untreated: usize,
    /// Intensive-first-line patients (first line started) for whom an episode was scheduled.
    pub hlh_scheduled_intensive: usize,
    /// Intensive-first-line patients with a realised episode.
    pub hlh_patients_intensive: usize,
    /// Low-intensity-first-line patients for whom an episode was scheduled.
    pub hlh_scheduled_low_intensity: usize,
    /// Low-intensity-first-line patients with a realised episode.
    pub hlh_patients_low_intensity: usize,
    /// Patients at sites with non-canonical units (`S09`, `S10`).
    pub mixed_unit_patients: usize,
    /// Measurements reported with a qualifier (`>`, `<`; see `qualified_values_fraction`).
    pub qualified_values: usize,
    /// Files written (tables and `truth_params.json`).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
}

impl SimSummary {
    fn tally(&mut self, chunk: &[SimPatient]) {
        for p in chunk {
            self.patients += 1;
            self.deaths += usize::from(p.died);
            // the rows of the tables (what the writer writes for each patient)
            self.measurements += p.measurements.len();
            self.findings += p.findings.len();
            self.treatments += p.lines.len();
            self.responses += p.responses.len();
            self.episodes += p.episodes.len();
            let has = !p.episodes.is_empty();
            self.patients_with_hlh += usize::from(has);
            self.patients_with_two_episodes += usize::from(p.episodes.len() >= 2);
            self.mixed_unit_patients += usize::from(p.site == "S09" || p.site == "S10");
            self.qualified_values += p.measurements.iter().filter(|m| m.qualifier != 0).count();
            match p.first_line {
                None => self.untreated += 1,
                Some(FirstLine::Intensive) => {
                    self.first_line_intensive += 1;
                    self.hlh_scheduled_intensive += usize::from(p.hlh_scheduled);
                    self.hlh_patients_intensive += usize::from(has);
                }
                Some(FirstLine::LowIntensity) => {
                    self.first_line_low_intensity += 1;
                    self.hlh_scheduled_low_intensity += usize::from(p.hlh_scheduled);
                    self.hlh_patients_low_intensity += usize::from(has);
                }
                Some(FirstLine::Supportive) => self.first_line_supportive += 1,
            }
        }
    }
}

/// Errors of a simulation run.
#[derive(Debug, Error)]
pub enum SimError {
    /// A model parameter is out of range.
    #[error("simulate: invalid parameter `{name}`: {message}")]
    InvalidParam {
        /// Parameter name (as in `truth_params.json`).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A run option is invalid.
    #[error("simulate: invalid option `{name}`: {message}")]
    InvalidOption {
        /// Option name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The output folder holds a table in the other format, which would make it ambiguous.
    #[error("{}: the output folder already holds this table in the other format; remove it or choose another folder", path.display())]
    Conflict {
        /// The conflicting file.
        path: PathBuf,
    },
    /// Writing a file or folder failed (file system or Parquet encoding).
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The contents of `truth_params.json`.
#[derive(Serialize)]
struct TruthParams<'a> {
    generator: &'static str,
    version: &'static str,
    seed: u64,
    patients: usize,
    format: SimFormat,
    params: &'a SimParams,
    summary: &'a SimSummary,
}

/// Generate a synthetic registry into `opts.out` (see the module documentation).
pub fn simulate(opts: &SimOptions) -> Result<SimSummary, SimError> {
    simulate_with_progress(opts, |_, _| {})
}

/// As [`simulate`], calling `progress(patients_written, patients_total)` after each chunk.
pub fn simulate_with_progress(opts: &SimOptions, mut progress: impl FnMut(usize, usize)) -> Result<SimSummary, SimError> {
    if opts.patients == 0 {
        return Err(SimError::InvalidOption { name: "patients".into(), message: "must be at least 1".into() });
    }
    if opts.chunk_size == 0 {
        return Err(SimError::InvalidOption { name: "chunk_size".into(), message: "must be at least 1".into() });
    }
    opts.params.validate()?;
    let cal = opts.params.calendar()?;
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| {
        SimError::Write(WriteError::Io { path: out.clone(), message: format!("cannot create output folder: {e}") })
    })?;
    let other = match opts.format {
        SimFormat::Csv | SimFormat::Omop => SimFormat::Parquet,
        SimFormat::Parquet => SimFormat::Csv,
    };
    for name in TABLES {
        let path = out.join(format!("{name}.{}", other.extension()));
        if path.exists() {
            return Err(SimError::Conflict { path });
        }
    }

    let n = opts.patients;
    let cs = opts.chunk_size;
    let n_chunks = n.div_ceil(cs);
    let params = &opts.params;
    let seed = opts.seed;
    let generate = |k: usize| -> Vec<SimPatient> {
        let lo = k * cs;
        let hi = (lo + cs).min(n);
        (lo..hi).into_par_iter().map(|i| simulate_patient(i as u64, seed, params, &cal)).collect()
    };

    let mut writer = Writer::create(out, opts.format, params.qualified_values_fraction > 0.0)?;
    let mut summary = SimSummary::default();
    let mut current = generate(0);
    for k in 0..n_chunks {
        summary.tally(&current);
        let (written, next) = if k + 1 < n_chunks {
            rayon::join(|| writer.write_chunk(&current), || Some(generate(k + 1)))
        } else {
            (writer.write_chunk(&current), None)
        };
        if let Err(e) = written {
            writer.abandon();
            return Err(e);
        }
        progress(summary.patients, n);
        match next {
            Some(c) => current = c,
            None => break,
        }
    }
    let mut files = writer.finish()?;
    if opts.format == SimFormat::Omop {
        files.push(omop::write_concept_table(out)?);
    }
    files.push(write_truth_params(out, opts, &summary)?);
    summary.files = files;
    Ok(summary)
}

fn write_truth_params(out: &Path, opts: &SimOptions, summary: &SimSummary) -> Result<PathBuf, SimError> {
    let doc = TruthParams {
        generator: "hemosurv simulate",
        version: env!("CARGO_PKG_VERSION"),
        seed: opts.seed,
        patients: opts.patients,
        format: opts.format,
        params: &opts.params,
        summary,
    };
    let path = out.join("truth_params.json");
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| SimError::Write(WriteError::Io { path: path.clone(), message: e.to_string() }))?;
    text.push('\n');
    let tmp = out.join(".truth_params.json.partial");
    std::fs::write(&tmp, text).map_err(|e| SimError::Write(WriteError::Io { path: tmp.clone(), message: e.to_string() }))?;
    std::fs::rename(&tmp, &path).map_err(|e| SimError::Write(WriteError::Io { path: path.clone(), message: e.to_string() }))?;
    Ok(path)
}
