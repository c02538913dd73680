//! Orchestration of one study run into an atomic output folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use thiserror::Error;

use crate::cohort::text::SharedText;
use crate::cohort::{load_cohort_in_parts, Cohort, CohortError, LoadOptions, MeasurementParts, PartOptions};
use crate::hlh::{CriteriaSet, DetectOptions, Detection, Episode, PartwiseDetection};
use crate::report::manifest::{Exclusion as ManifestExclusion, InputFile, Manifest, StageTiming};
use crate::report::output::OutputDir;
use crate::report::usage;
use crate::report::ReportError;
use crate::stats::cif::CumInc;
use crate::stats::km::KmOptions;
use crate::table::{Cell, ResultTable};

use super::config::{StudyConfig, StudyConfigError};
use super::covariates;
use super::dataset::Dataset;
use super::evidence_spill::EvidenceSpill;
use super::exposure::Exposure;
use super::figures::{self, FigureSet};
use super::grid::{self, GridDefinition};
use super::incidence::{self, GroupVar};
use super::outputs::{Body, RunOutputs};
use super::response::{self, EpisodeSpan};
use super::survival::{self, HlhSurvival, KmAnalysis};

/// Options of `hemosurv run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cohort folder.
    pub cohort_dir: PathBuf,
    /// Study file; `None` = the default study.
    pub study: Option<PathBuf>,
    /// Output folder (must not exist unless `force`).
    pub out: PathBuf,
    /// Replace an existing output folder.
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Quarantine bad rows instead of failing (see `hemosurv validate --quarantine`).
    pub quarantine: bool,
    /// Truth table to validate every definition against; `None`: `truth.csv` (else `truth.parquet`) in the
    /// cohort folder when present.
    pub truth: Option<PathBuf>,
    /// Patient identifiers in the report and figures; `false` (default): sequential study
    /// numbers, the key only in `tables/patient_key`.
    pub identifiable: bool,
    /// The command line, for the manifest.
    pub command: Vec<String>,
    /// Measurement rows per part held in memory during detection (the results do not depend
    /// on it; memory does): [`DEFAULT_PART_ROWS`].
    pub part_rows: usize,
}

/// Default measurement rows per part (about 128 MB of measurements in memory at a time).
pub const DEFAULT_PART_ROWS: usize = crate::cohort::parts::DEFAULT_ROWS_PER_PART;

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The output folder.
    pub out: PathBuf,
    /// Patients in the study population.
    pub patients: usize,
    /// Tables written.
    pub tables: usize,
    /// Figures written.
    pub figures: usize,
    /// Wall time, seconds.
    pub wall_time_s: f64,
    /// Per-stage wall time, CPU time and peak memory (as in the manifest).
    pub stages: Vec<StageTiming>,
}

/// Errors of a study run; nothing is left in `--out` when one occurs.
#[derive(Debug, Error)]
pub enum StudyError {
    /// Bad study file.
    #[error(transparent)]
    Config(#[from] StudyConfigError),
    /// The cohort failed to load or validate.
    #[error(transparent)]
    Cohort(#[from] CohortError),
    /// The truth table is invalid.
    #[error(transparent)]
    Truth(#[from] crate::hlh::TruthError),
    /// A criteria set could not be loaded.
    #[error("criteria set `{name}`: {message}")]
    Criteria {
        /// Name or path.
        name: String,
        /// Cause.
        message: String,
    },
    /// Writing output failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Two outputs of the run were given the same name (a defect, never a data problem).
    #[error("internal error: two {kind}s of the run are both named `{name}`")]
    DuplicateOutput {
        /// `table` or `figure`.
        kind: String,
        /// The name.
        name: String,
    },
    /// Other I/O.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn load_criteria(name: &str, study_dir: Option<&Path>) -> Result<CriteriaSet, StudyError> {
    if let Some(set) = CriteriaSet::builtin(name) {
        return Ok(set);
    }
    let path = match study_dir {
        Some(d) if Path::new(name).is_relative() => d.join(name),
        _ => PathBuf::from(name),
    };
    CriteriaSet::from_file(&path).map_err(|e| StudyError::Criteria { name: name.to_string(), message: e.to_string() })
}

/// Index of the primary criteria set: `detection.primary` matched against the sets' names
/// (the TOML `name`), or against the `detection.criteria` entry a set was loaded from (a
/// built-in name or a file path). Two sets with the same name are refused, as every table
/// keys its rows on the set name.
fn resolve_primary(cfg: &StudyConfig, sets: &[CriteriaSet], study_label: &str) -> Result<usize, StudyError> {
    let bad = |key: &str, message: String| {
        StudyError::Config(StudyConfigError::Value { path: study_label.to_string(), key: key.to_string(), message })
    };
    let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
    for (k, n) in names.iter().enumerate() {
        if names[..k].contains(n) {
            return Err(bad("detection.criteria", format!("two criteria sets are named `{n}`; give each set its own `name`")));
        }
    }
    let want = cfg.detection.primary.as_str();
    if want == super::adjudicated::ADJUDICATED {
        // the pseudo-detection of adjudicated HLH comes after the criteria sets
        return Ok(sets.len());
    }
    names.iter().position(|n| *n == want).or_else(|| cfg.detection.criteria.iter().position(|c| c == want)).ok_or_else(|| {
        bad(
            "detection.primary",
            format!("`{want}` is not one of the criteria sets of this study (their names: {})", names.join(", ")),
        )
    })
}

/// `95% CI` for a confidence level of 0.95.
pub(crate) fn ci_label(conf_level: f64) -> String {
    format!("{}% CI", crate::table::format::Num((conf_level * 1e6).round() / 1e4))
}

/// Stage timings (wall, CPU, peak resident memory) of a run, with the progress bar.
struct StageTimer {
    bar: ProgressBar,
    started: Instant,
    cpu_at_start: Option<f64>,
    stages: Vec<StageTiming>,
}

impl StageTimer {
    fn new(quiet: bool) -> StageTimer {
        let bar =
            if quiet { ProgressBar::hidden() } else { ProgressBar::with_draw_target(Some(8), ProgressDrawTarget::stderr()) };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        StageTimer { bar, started: Instant::now(), cpu_at_start: usage::cpu_seconds(), stages: Vec::new() }
    }

    fn begin(&self, what: &'static str) {
        self.bar.set_message(what);
    }

    fn end(&mut self, name: &str) {
        let cpu_now = usage::cpu_seconds();
        self.stages.push(StageTiming {
            name: name.to_string(),
            seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds: cpu_now.zip(self.cpu_at_start).map(|(now, then)| now - then),
            peak_rss_kb: usage::peak_rss_kb(),
        });
        self.started = Instant::now();
        self.cpu_at_start = cpu_now;
        self.bar.inc(1);
    }
}

/// What every analysis stage reads.
struct Ctx<'a> {
    cfg: &'a StudyConfig,
    cohort: &'a Cohort,
    dataset: &'a Dataset,
    exposures: &'a [Exposure],
    /// Index of the primary definition in `exposures`.
    primary: usize,
    conf: f64,
    ci: String,
}

/// What the figures need from the analysis stages.
#[derive(Default)]
struct Fitted {
    km: Vec<KmAnalysis>,
    cif: Vec<(String, String, CumInc)>,
    hlh: Vec<HlhSurvival>,
    cir: Option<CumInc>,
    grid: Vec<figures::GridPoint>,
    validation: Vec<figures::ValidationPoint>,
    risk: Vec<super::risk_factors::RiskModel>,
}

/// The study file and the criteria sets, read and checked before anything is written.
struct StudyPlan {
    cfg: StudyConfig,
    /// The study file's path, or `default study`, for messages.
    label: String,
    criteria: Vec<CriteriaSet>,
    /// Index of the primary definition (`criteria.len()` = the adjudicated episodes).
    primary: usize,
}

impl StudyPlan {
    fn read(opts: &RunOptions) -> Result<StudyPlan, StudyError> {
        let cfg = match &opts.study {
            Some(p) => StudyConfig::from_file(p)?,
            None => StudyConfig::default(),
        };
        let label = opts.study.as_ref().map_or("default study".to_string(), |p| p.display().to_string());
        let study_dir = opts.study.as_deref().and_then(Path::parent);
        let criteria: Vec<CriteriaSet> =
            cfg.detection.criteria.iter().map(|c| load_criteria(c, study_dir)).collect::<Result<_, _>>()?;
        let primary = resolve_primary(&cfg, &criteria, &label)?;
        Ok(StudyPlan { cfg, label, criteria, primary })
    }
}

/// The cohort after detection: everything later stages need from the measurements has been
/// taken out of them, and they are released.
struct Detected {
    loaded: crate::cohort::LoadedCohort,
    /// The study's definitions, then (with an `adjudications` table) the adjudicated episodes.
    detections: Vec<Detection>,
    grid: GridDetections,
    truth: Option<crate::hlh::Truth>,
    has_adjudications: bool,
    trajectories: Vec<crate::plot::TrajectoryPanel>,
    onset_labs: super::episodes::OnsetLabs,
    n_measurements: usize,
    /// The study sets' evidence, on disk until it is written as a table.
    spill: EvidenceSpill,
}

/// Run a whole study. On error the output folder is not created.
///
/// Only invalid input (study file, criteria, cohort) and I/O failures are errors: an
/// analysis that cannot be computed on this cohort is recorded with its reason (table
/// `analyses_not_computed`, the report and the manifest) and the run goes on.
///
/// Stages: read the study → load and detect → derive the population and exposures →
/// descriptive tables and analyses → figures → tables, report, manifest → commit the folder.
pub fn run(opts: &RunOptions) -> Result<RunSummary, StudyError> {
    let t0 = Instant::now();
    let started_utc = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let plan = StudyPlan::read(opts)?;
    let out = OutputDir::create(&opts.out, opts.force)?;
    let mut timer = StageTimer::new(opts.quiet);

    let Detected { loaded, detections, grid, truth, has_adjudications, trajectories, onset_labs, n_measurements, spill } =
        load_and_detect(opts, &plan, &out, &mut timer)?;
    let cohort = &loaded.cohort;
    let dataset = Dataset::build(cohort, &plan.cfg);
    let exposures: Vec<Exposure> = detections
        .iter()
        .map(|d| Exposure::from_onsets(&dataset, &d.criteria_set, d.episodes.iter().map(|e| (e.patient, e.onset))))
        .collect();
    let mut outs = RunOutputs::default();
    detection_tables(&detections, spill, &out, &mut outs)?;
    timer.end("detect");
    // from here on the analyses free and allocate patient-sized buffers one after the other
    crate::purge_freed_memory_at_once();

    let conf = plan.cfg.survival.conf_level;
    let ctx =
        Ctx { cfg: &plan.cfg, cohort, dataset: &dataset, exposures: &exposures, primary: plan.primary, conf, ci: ci_label(conf) };
    let mut fitted = Fitted::default();
    descriptive_tables(&ctx, &plan, &detections, &onset_labs, &out, &mut outs)?;
    analyses(&ctx, &detections, &grid, &mut outs, &mut fitted, &mut timer)?;
    if has_adjudications {
        // the adjudicated pseudo-detection is the last one (pushed after the criteria sets)
        super::adjudicated::adjudication_tables(cohort, &detections[..detections.len() - 1], &mut outs)?;
    }
    if let Some(truth) = &truth {
        fitted.validation = validation_table(cohort, truth, &detections, &grid, &mut outs)?;
    }
    note_conventions(&ctx, &mut outs);

    timer.begin("figures");
    let figure_set = draw_figures(&ctx, &fitted, &detections[plan.primary], &trajectories, &out, opts.identifiable, &mut outs)?;
    timer.end("figures");

    timer.begin("writing report");
    outs.add_table(not_computed_table(&outs), "Analyses that could not be computed on this cohort, and why")?;
    write_tables(&out, &outs)?;
    timer.end("tables");
    if loaded.report.rejected_count > 0 {
        loaded.report.write_rejects_csv(&out.path().join("rejects.csv"))?;
    }
    std::fs::write(out.path().join("validation.json"), loaded.report.to_json())
        .map_err(|e| StudyError::Io { path: out.path().join("validation.json"), source: e })?;
    super::paper::write_report(&out, &plan.cfg, &loaded, &dataset, &outs, &figure_set, &detections[plan.primary].criteria_set)?;
    timer.end("report");

    let wall = t0.elapsed().as_secs_f64();
    let mut manifest = run_manifest(opts, &plan.cfg, &loaded, &dataset, &outs, &timer, n_measurements, started_utc, wall);
    manifest.record_outputs(out.path())?;
    manifest.write(out.path())?;
    timer.bar.finish_and_clear();
    let final_dir = out.commit()?;
    Ok(RunSummary {
        out: final_dir,
        patients: dataset.patients.len(),
        tables: outs.tables.len(),
        figures: figure_set.figures.len(),
        wall_time_s: wall,
        stages: timer.stages,
    })
}

/// Load and validate the cohort, detect HLH under every definition (study sets, grid
/// variants, adjudications), read the truth table, and take from the measurements what the
/// later stages need (lab trajectories, labs at onset).
///
/// The measurements are never all in memory: the loader writes them to disk by patient range
/// ([`crate::cohort::MeasurementParts`]), and detection reads one range at a time, takes what
/// the later stages need from it and drops it, so the run's memory does not grow with the
/// number of measurement rows. The results are the same as with the whole table in memory.
fn load_and_detect(opts: &RunOptions, plan: &StudyPlan, out: &OutputDir, timer: &mut StageTimer) -> Result<Detected, StudyError> {
    timer.begin("loading cohort");
    let parts_dir = out.path().join(".measurement-parts");
    let part_options =
        PartOptions { rows_per_part: opts.part_rows, ..PartOptions::in_dir(parts_dir, DetectOptions::default().chunk_patients) };
    let (mut loaded, parts) =
        load_cohort_in_parts(&opts.cohort_dir, &LoadOptions { quarantine: opts.quarantine }, &part_options)?;
    timer.end("load_and_validate");

    timer.begin("detecting HLH episodes");
    let has_adjudications = loaded.cohort.tables_present.iter().any(|t| t == "adjudications");
    if !has_adjudications && plan.primary == plan.criteria.len() {
        return Err(StudyError::Config(StudyConfigError::Value {
            path: plan.label.clone(),
            key: "detection.primary".into(),
            message: "`adjudicated` needs an `adjudications` table in the cohort (docs/data-format.md)".into(),
        }));
    }
    // the adjudicated pseudo-detection needs no measurements; its onsets may be the primary ones
    let adjudicated = has_adjudications.then(|| super::adjudicated::adjudicated_detection(&loaded.cohort));
    let spill_dir = out.path().join(".evidence-chunks");
    let spill = EvidenceSpill::create(&spill_dir, crate::report::html::DEFAULT_MAX_TABLE_ROWS)
        .map_err(|e| StudyError::Io { path: spill_dir, source: e })?;
    let mut trajectories = figures::LabTrajectories::default();
    let mut onset_labs = super::episodes::OnsetLabs::default();
    let (mut detections, grid) = detect_all(
        &mut loaded.cohort,
        parts.as_ref(),
        &plan.criteria,
        plan.cfg.detection.grid,
        &spill,
        &timer.bar,
        |cohort, run, range| {
            // what the later stages need from this part's measurements, before they go
            let primary: Vec<&Episode> = match &adjudicated {
                Some(a) if plan.primary == plan.criteria.len() => {
                    a.episodes.iter().filter(|e| range.contains(&(e.patient as usize))).collect()
                }
                _ => run.last_range_episodes(plan.primary).collect(),
            };
            trajectories.add(cohort, primary.iter().copied());
            onset_labs.add(cohort, primary.iter().copied());
        },
    )?;
    detections.extend(adjudicated);
    let truth_path = opts.truth.clone().or_else(|| crate::hlh::Truth::default_path(&opts.cohort_dir));
    let truth = truth_path.as_deref().map(|p| crate::hlh::Truth::load(p, &loaded.cohort)).transpose()?;
    let n_measurements = parts.as_ref().map_or(0, |p| p.total_rows() as usize);
    let trajectories = trajectories.panels();
    Ok(Detected { loaded, detections, grid, truth, has_adjudications, trajectories, onset_labs, n_measurements, spill })
}

/// Table 1 (baseline characteristics by HLH), Table 2 (the HLH episodes), the cohort flow and
/// the patient key.
fn descriptive_tables(
    ctx: &Ctx,
    plan: &StudyPlan,
    detections: &[Detection],
    onset_labs: &super::episodes::OnsetLabs,
    out: &OutputDir,
    outs: &mut RunOutputs,
) -> Result<(), StudyError> {
    cohort_flow(ctx, outs)?;
    patient_key(ctx, out, outs)?;
    let primary = &detections[ctx.primary];
    let small_cell = ctx.cfg.report.small_cell;
    let table1 = super::baseline::baseline_characteristics(
        ctx.cohort,
        ctx.dataset,
        &ctx.exposures[ctx.primary],
        small_cell,
        "baseline_characteristics",
    );
    outs.add_table(
        table1,
        &format!(
            "Baseline characteristics of the study population, overall and by HLH (any time during follow-up, primary definition {}): median (IQR) with Wilcoxon rank-sum p, n (%) with chi-square or Fisher's exact p, missing values per group",
            primary.criteria_set
        ),
    )?;
    let primary_criteria: Vec<String> =
        plan.criteria.get(ctx.primary).map(|s| s.criteria.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let table2 = super::episodes::episode_characteristics(
        ctx.cohort,
        ctx.dataset,
        &ctx.exposures[ctx.primary],
        primary,
        &primary_criteria,
        onset_labs,
        small_cell,
        "hlh_episodes_characteristics",
    );
    outs.add_table(
        table2,
        &format!(
            "Characteristics of the HLH episodes under the primary definition ({}), study population: criteria met at onset, laboratory values at onset (median and IQR), scores, treatment phase at onset, deaths within 30 and 90 days",
            primary.criteria_set
        ),
    )
}

/// Incidence, survival and response of the study population, then incidence under the
/// definition grid; NA with the reason when the population is empty.
fn analyses(
    ctx: &Ctx,
    detections: &[Detection],
    grid: &GridDetections,
    outs: &mut RunOutputs,
    fitted: &mut Fitted,
    timer: &mut StageTimer,
) -> Result<(), StudyError> {
    if ctx.dataset.patients.is_empty() {
        outs.not_computed("every analysis of the study population", "the study population is empty (see cohort_flow)");
        return Ok(());
    }
    timer.begin("incidence");
    incidence_stage(ctx, outs, fitted)?;
    timer.end("incidence");
    timer.begin("survival");
    survival_stage(ctx, outs, fitted)?;
    timer.end("survival");
    timer.begin("response");
    response_stage(ctx, &detections[ctx.primary], outs)?;
    timer.end("response");
    if !grid.is_empty() {
        fitted.grid = grid_table(ctx, grid, outs)?;
    }
    Ok(())
}

/// Every figure of the run (none when figures are disabled or the population is empty).
fn draw_figures(
    ctx: &Ctx,
    fitted: &Fitted,
    primary: &Detection,
    trajectories: &[crate::plot::TrajectoryPanel],
    out: &OutputDir,
    identifiable: bool,
    outs: &mut RunOutputs,
) -> Result<FigureSet, StudyError> {
    if !ctx.cfg.figures.enabled || ctx.dataset.patients.is_empty() {
        return Ok(FigureSet::default());
    }
    figures::draw_all(
        &figures::FigureInputs {
            cfg: ctx.cfg,
            cohort: ctx.cohort,
            dataset: ctx.dataset,
            km_analyses: &fitted.km,
            cif_fits: &fitted.cif,
            cir: fitted.cir.as_ref(),
            hlh_survival: &fitted.hlh,
            primary,
            out_dir: &out.figures(),
            trajectories,
            grid: &fitted.grid,
            validation: &fitted.validation,
            risk_models: &fitted.risk,
            identifiable,
        },
        outs,
    )
}

/// The provenance record: version, command, study file, input hashes, row counts,
/// exclusions, analyses not computed and stage timings (outputs are added by the caller).
#[allow(clippy::too_many_arguments)]
fn run_manifest(
    opts: &RunOptions,
    cfg: &StudyConfig,
    loaded: &crate::cohort::LoadedCohort,
    dataset: &Dataset,
    outs: &RunOutputs,
    timer: &StageTimer,
    n_measurements: usize,
    started_utc: String,
    wall: f64,
) -> Manifest {
    let cohort = &loaded.cohort;
    let mut manifest = Manifest {
        hemosurv_version: env!("CARGO_PKG_VERSION").to_string(),
        command: opts.command.clone(),
        started_utc,
        wall_time_s: wall,
        study_config: serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null),
        inputs: loaded
            .inputs
            .iter()
            .map(|i| InputFile {
                table: i.table.clone(),
                path: i.path.display().to_string(),
                sha256: i.sha256.clone(),
                rows: i.rows,
            })
            .collect(),
        not_computed: outs.not_computed.clone(),
        ..Manifest::default()
    };
    manifest.row_counts.insert("patients".into(), cohort.patients.len() as u64);
    manifest.row_counts.insert("measurements".into(), n_measurements as u64);
    // the findings were released after detection: the rows the load kept
    let n_findings = loaded.report.tables.get("findings").map_or(0, |c| c.loaded);
    manifest.row_counts.insert("findings".into(), n_findings);
    manifest.row_counts.insert("treatments".into(), cohort.treatments.len() as u64);
    manifest.row_counts.insert("responses".into(), cohort.responses.len() as u64);
    manifest.row_counts.insert("study_population".into(), dataset.patients.len() as u64);
    for (ex, n) in dataset.exclusion_counts() {
        manifest.exclusions.push(ManifestExclusion {
            stage: "population".into(),
            reason: format!("patients: {}", ex.reason()),
            count: n as u64,
        });
    }
    for (table, counts) in &loaded.report.tables {
        if counts.rejected > 0 {
            manifest.exclusions.push(ManifestExclusion {
                stage: "validation (quarantine)".into(),
                reason: format!("{table}: rows rejected with errors (listed in rejects.csv)"),
                count: counts.rejected,
            });
        }
    }
    manifest.stages = timer.stages.clone();
    manifest
}

/// The definition grid: each definition with the onsets of its own detection (variants) or
/// `None` (a study set, whose detection is among the study's).
type GridDetections = Vec<(GridDefinition, Option<VariantOnsets>)>;

/// A grid variant's detection as the analyses use it (its incidence and its validation): the
/// onset of each episode, without the episodes' details (~200 bytes each, held for every
/// variant through the whole run before).
struct VariantOnsets {
    /// Criteria set name.
    criteria_set: String,
    /// One-line description of the rule.
    rule: String,
    /// (patient, onset day) of each episode, as the detection orders its episodes.
    onsets: Vec<(crate::cohort::PatientIdx, crate::cohort::Day)>,
}

/// Detections under the study's criteria sets and, with `grid`, under the variants of the
/// definition grid — all in one pass over the patients ([`detect_many_into`]). Variants keep
/// their episodes only (no evidence rows are built for them); the study sets' evidence goes to
/// `spill` chunk by chunk (read back by [`detection_tables`]); the study's own sets appear in
/// the grid without a detection of their own.
fn detect_all(
    cohort: &mut Cohort,
    parts: Option<&MeasurementParts>,
    criteria: &[CriteriaSet],
    grid: bool,
    spill: &EvidenceSpill,
    bar: &ProgressBar,
    mut each_part: impl FnMut(&Cohort, &PartwiseDetection, std::ops::Range<usize>),
) -> Result<(Vec<Detection>, GridDetections), StudyError> {
    let defs = if grid { grid::default_grid(criteria) } else { Vec::new() };
    let is_variant = |g: &GridDefinition| !criteria.iter().any(|c| c.name == g.name);
    let mut sets: Vec<CriteriaSet> = criteria.to_vec();
    sets.extend(defs.iter().filter(|g| is_variant(g)).map(|g| g.set.clone()));
    let with_evidence: Vec<bool> = (0..sets.len()).map(|k| k < criteria.len()).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = cohort.patients.len();
    let progress = |n: usize| {
        let done = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        bar.set_message(format!("detecting HLH episodes: {done}/{total} patients"));
    };
    let opts =
        DetectOptions { with_evidence: &with_evidence, sink: Some(spill), on_chunk: Some(&progress), ..DetectOptions::default() };
    let mut run = PartwiseDetection::new(&sets);
    // the variants' onsets, taken from the detection part by part: their full episodes
    // (~200 bytes each, millions at 10 M patients) are never all held
    let mut variant_onsets: Vec<Vec<_>> = vec![Vec::new(); sets.len() - criteria.len()];
    let n_parts = parts.map_or(1, MeasurementParts::len);
    std::thread::scope(|scope| -> Result<(), StudyError> {
        // the next part is read while this one is detected (and handed over only when this one
        // is done: at most two parts in memory)
        let (tx, rx) = std::sync::mpsc::sync_channel(0);
        if let Some(p) = parts {
            scope.spawn(move || {
                for k in 0..p.len() {
                    if tx.send(p.read(k)).is_err() {
                        break;
                    }
                }
            });
        }
        for k in 0..n_parts {
            let range = match parts {
                Some(p) => {
                    let io = |e| StudyError::Io { path: p.dir().to_path_buf(), source: e };
                    let ms = rx.recv().map_err(|_| io(std::io::Error::other("the part reader stopped")))?.map_err(io)?;
                    let range = p.patients(k);
                    cohort.set_measurement_part(range.clone(), ms);
                    range.start as usize..range.end as usize
                }
                None => 0..total,
            };
            run.detect_patients(cohort, range.clone(), &opts)
                .map_err(|e| StudyError::Io { path: spill.dir().to_path_buf(), source: e })?;
            each_part(cohort, &run, range);
            for (v, onsets) in variant_onsets.iter_mut().enumerate() {
                onsets.extend(run.take_last_range_episodes(criteria.len() + v).iter().map(|e| (e.patient, e.onset)));
            }
        }
        Ok(())
    })?;
    // detection was the last reader of the measurements and findings
    cohort.release_measurements();
    cohort.release_findings();
    let mut detections = run.finish(total);
    let mut variants = detections.split_off(criteria.len()).into_iter().zip(variant_onsets);
    let grid = defs
        .into_iter()
        .map(|g| {
            let d = is_variant(&g).then(|| variants.next()).flatten().map(|(d, onsets)| VariantOnsets {
                criteria_set: d.criteria_set,
                rule: d.rule,
                onsets,
            });
            (g, d)
        })
        .collect();
    Ok((detections, grid))
}

/// Sensitivity, specificity, PPV, NPV (exact CIs), onset error and estimated vs true
/// incidence of every definition (study sets and grid) against the truth table.
fn validation_table(
    cohort: &Cohort,
    truth: &crate::hlh::Truth,
    detections: &[Detection],
    grid: &GridDetections,
    outs: &mut RunOutputs,
) -> Result<Vec<figures::ValidationPoint>, StudyError> {
    // the study's sets, then each grid variant (validated one at a time rather than copied,
    // with their evidence, into one slice)
    let mut rows = crate::hlh::validate(truth, detections, cohort);
    for v in grid.iter().filter_map(|g| g.1.as_ref()) {
        rows.push(crate::hlh::validate_onsets(truth, &v.criteria_set, &v.rule, v.onsets.iter().copied(), cohort));
    }
    let metric = |m: &Option<crate::hlh::Metric>| match m {
        Some(m) => [Cell::Num(m.estimate), Cell::Num(m.lower), Cell::Num(m.upper)],
        None => [Cell::Na, Cell::Na, Cell::Na],
    };
    let opt = |v: Option<f64>| v.map_or(Cell::Na, Cell::Num);
    let mut t = super::table(
        "hlh_validation",
        &[
            "definition",
            "rule",
            "n_patients",
            "true_positive",
            "false_positive",
            "false_negative",
            "true_negative",
            "sensitivity",
            "sensitivity_lower",
            "sensitivity_upper",
            "specificity",
            "specificity_lower",
            "specificity_upper",
            "ppv",
            "ppv_lower",
            "ppv_upper",
            "npv",
            "npv_lower",
            "npv_upper",
            "onset_error_median_days",
            "onset_error_q1_days",
            "onset_error_q3_days",
            "onset_within_3_days",
            "estimated_incidence",
            "true_incidence",
            "note",
        ],
        Vec::new(),
    );
    let mut points = Vec::new();
    for r in &rows {
        let mut cells = vec![
            Cell::Str(r.criteria_set.clone()),
            Cell::Str(r.rule.clone()),
            Cell::Int(r.n_patients as i64),
            Cell::Int(r.true_positive as i64),
            Cell::Int(r.false_positive as i64),
            Cell::Int(r.false_negative as i64),
            Cell::Int(r.true_negative as i64),
        ];
        for m in [&r.sensitivity, &r.specificity, &r.ppv, &r.npv] {
            cells.extend(metric(m));
        }
        cells.extend([
            opt(r.onset_error_median),
            opt(r.onset_error_q1),
            opt(r.onset_error_q3),
            Cell::Int(r.onset_within_3_days as i64),
            opt(r.estimated_incidence),
            opt(r.true_incidence),
            if r.note.is_empty() { Cell::Na } else { Cell::Str(r.note.clone()) },
        ]);
        t.rows.push(cells);
        points.push(figures::ValidationPoint {
            label: r.criteria_set.clone(),
            sensitivity: r.sensitivity.map(|m| (m.estimate, m.lower, m.upper)),
            ppv: r.ppv.map(|m| (m.estimate, m.lower, m.upper)),
        });
    }
    outs.add_table(
        t,
        "Every definition against the truth table, patient by patient (whole cohort): sensitivity, specificity, PPV, NPV with exact 95% CI, onset error of the first detected episode (days, detected minus true), estimated vs true incidence",
    )?;
    Ok(points)
}

/// Incidence under every definition of the grid: crude proportion (Clopper–Pearson) and
/// cumulative incidence at one year (death without HLH competing), overall.
fn grid_table(ctx: &Ctx, grid: &GridDetections, outs: &mut RunOutputs) -> Result<Vec<figures::GridPoint>, StudyError> {
    let n = ctx.dataset.patients.len();
    let overall = [GroupVar { name: "overall", labels: vec![SharedText::from("all"); n] }];
    let mut t = super::table(
        "hlh_incidence_by_definition",
        &[
            "definition",
            "base_set",
            "variation",
            "n",
            "with_hlh",
            "proportion",
            "exact_lower",
            "exact_upper",
            "cuminc_365d",
            "cuminc_365d_se",
            "note",
        ],
        Vec::new(),
    );
    let mut points = Vec::new();
    for entry in grid {
        let g = &entry.0;
        // a study set's exposure (built for every detection), else the variant's own onsets
        let ex = match (ctx.exposures.iter().find(|e| e.criteria_set == g.name), &entry.1) {
            (Some(e), _) => e.clone(),
            (None, Some(v)) => Exposure::from_onsets(ctx.dataset, &g.name, v.onsets.iter().copied()),
            (None, None) => continue,
        };
        let crude = incidence::crude_table(std::slice::from_ref(&ex), &overall, ctx.conf);
        let row = &crude.rows[0];
        let (time, cause, _) = incidence::competing_risk_data(ctx.dataset, &ex);
        let one = crate::stats::Grouping::from_values(&vec!["all".to_string(); time.len()]);
        let at_year = crate::stats::cif::cuminc(&time, &cause, &one, None)
            .ok()
            .and_then(|f| f.at_times(&[365.0]).into_iter().find(|r| r.1 == 1).map(|r| (r.3, r.4)));
        let (est, se) = match at_year {
            Some((Some(e), v)) => (Cell::Num(e), v.map_or(Cell::Na, |v| Cell::Num(v.sqrt()))),
            _ if matches!(row[4], Cell::Int(0)) => (Cell::Num(0.0), Cell::Na),
            _ => (Cell::Na, Cell::Na),
        };
        let mut cells = vec![Cell::Str(g.name.clone()), Cell::Str(g.base.clone()), Cell::Str(g.variation.clone())];
        // n, with_hlh, proportion, exact CI and note of the crude table
        let col = |name: &str| crude.column_index(name).map_or(Cell::Na, |k| row[k].clone());
        cells.extend([
            col("n"),
            col("with_hlh"),
            col("proportion"),
            col("exact_lower"),
            col("exact_upper"),
            est,
            se,
            col("note"),
        ]);
        if let (Cell::Num(p), Cell::Num(lo), Cell::Num(hi)) = (col("proportion"), col("exact_lower"), col("exact_upper")) {
            points.push(figures::GridPoint { label: g.name.clone(), estimate: p, lower: lo, upper: hi });
        }
        t.rows.push(cells);
    }
    outs.add_table(
        t,
        &format!(
            "HLH incidence under a grid of definitions (study sets and documented variants): crude proportion with Clopper–Pearson {} and cumulative incidence at one year (death without HLH competing)",
            ctx.ci
        ),
    )?;
    Ok(points)
}

/// Episodes and evidence of every criteria set, one table each with a `criteria_set` column,
/// written to their CSV files now (the episodes one detection at a time, the evidence from its
/// spilled chunks) and kept as previews: at scale they are the largest tables (at 1 M
/// patients 0.5 M episode rows and 7.8 M evidence rows).
fn detection_tables(
    detections: &[Detection],
    spill: EvidenceSpill,
    out: &OutputDir,
    outs: &mut RunOutputs,
) -> Result<(), StudyError> {
    // written a part of EPISODE_PART episodes at a time: the cells of every episode at once
    // were ~0.5 GB at 1 M patients, and those of one detection a spike of ~3 GB at 10 M
    let csv = out.tables().join("hlh_episodes.csv");
    let header = crate::hlh::episodes_table("hlh_episodes", &[]);
    let parts = detections
        .iter()
        .flat_map(|d| d.episodes.chunks(EPISODE_PART))
        .map(|episodes| crate::hlh::episodes_table("hlh_episodes", episodes));
    let (preview, episodes) =
        super::outputs::write_csv_in_parts(&csv, parts, header, crate::report::html::DEFAULT_MAX_TABLE_ROWS)
            .map_err(|e| StudyError::Io { path: csv.clone(), source: e })?;
    outs.add_streamed(preview, "HLH episodes under every criteria set", episodes)?;
    let csv = out.tables().join(format!("{}.csv", super::evidence_spill::EVIDENCE_TABLE));
    let (preview, evidence) = spill.write_table(detections, &csv).map_err(|e| StudyError::Io { path: csv.clone(), source: e })?;
    outs.add_streamed(
        preview,
        "Audit trail: the measurement or finding behind each criterion of each episode, under every criteria set",
        evidence,
    )
}

/// Episodes formatted at a time into `hlh_episodes.csv`.
const EPISODE_PART: usize = 1 << 16;

/// The key from study numbers (shown in the report and figures) to patient identifiers: only
/// in `tables/`, which stays with the analyst.
///
/// One row per study patient: written to its CSV file a part of [`PATIENT_KEY_PART`] rows at a
/// time rather than held as cells to the end of the run (~130 MB at 1 M patients).
fn patient_key(ctx: &Ctx, out: &OutputDir, outs: &mut RunOutputs) -> Result<(), StudyError> {
    const COLUMNS: [&str; 2] = ["study_number", "patient_id"];
    let csv = out.tables().join("patient_key.csv");
    let parts = ctx.dataset.patients.chunks(PATIENT_KEY_PART).enumerate().map(|(c, chunk)| {
        let first = c * PATIENT_KEY_PART;
        let rows = chunk
            .iter()
            .enumerate()
            .map(|(k, sp)| {
                vec![Cell::Int((first + k) as i64 + 1), Cell::Str(ctx.cohort.patients[sp.idx as usize].id.to_string())]
            })
            .collect();
        super::table("patient_key", &COLUMNS, rows)
    });
    let header = super::table("patient_key", &COLUMNS, Vec::new());
    let (preview, key) = super::outputs::write_csv_in_parts(&csv, parts, header, crate::report::html::DEFAULT_MAX_TABLE_ROWS)
        .map_err(|e| StudyError::Io { path: csv.clone(), source: e })?;
    outs.add_streamed(preview, "Key from the study numbers shown in the report and figures to the cohort's patient identifiers (keep with the data, not with the report)", key)
}

/// Rows of the patient key formatted at a time.
const PATIENT_KEY_PART: usize = 1 << 16;

fn cohort_flow(ctx: &Ctx, outs: &mut RunOutputs) -> Result<(), StudyError> {
    let mut flow = super::table("cohort_flow", &["step", "patients"], Vec::new());
    flow.rows.push(vec![Cell::Str("patients in cohort".into()), Cell::Int(ctx.cohort.patients.len() as i64)]);
    for (ex, n) in ctx.dataset.exclusion_counts() {
        flow.rows.push(vec![Cell::Str(format!("excluded: {}", ex.reason())), Cell::Int(n as i64)]);
    }
    flow.rows.push(vec![Cell::Str("study population".into()), Cell::Int(ctx.dataset.patients.len() as i64)]);
    outs.add_table(flow, "Cohort flow: every excluded patient is counted with its reason")
}

fn incidence_stage(ctx: &Ctx, outs: &mut RunOutputs, fitted: &mut Fitted) -> Result<(), StudyError> {
    let cfg = ctx.cfg;
    let n = ctx.dataset.patients.len();
    let groupings = vec![
        GroupVar { name: "overall", labels: vec![SharedText::from("all"); n] },
        GroupVar { name: "first_line_intensity", labels: ctx.dataset.intensity_labels() },
        GroupVar { name: "first_line_regimen", labels: ctx.dataset.regimen_labels(cfg.survival.min_regimen_size) },
    ];
    let crude = incidence::crude_table(ctx.exposures, &groupings, ctx.conf);
    record_na_notes(&crude, outs);
    outs.add_table(
        crude,
        &format!("HLH incidence: proportion of patients at risk with ≥1 incident episode (Wilson and Clopper–Pearson {}); HLH present at the origin counted apart", ctx.ci),
    )?;
    let (ci_tab, gray_tab, fits) =
        incidence::cuminc_tables(ctx.dataset, ctx.exposures, &groupings, &cfg.incidence.timepoints_days, ctx.conf);
    record_na_notes(&ci_tab, outs);
    record_na_notes(&gray_tab, outs);
    outs.add_table(
        ci_tab,
        "Cumulative incidence of the first HLH episode, death without HLH as competing risk (Aalen–Johansen; variance as cmprsk)",
    )?;
    outs.add_table(gray_tab, "Gray's test between groups")?;
    fitted.cif = fits;
    let rates = incidence::rate_table(
        ctx.dataset,
        ctx.exposures,
        &groupings,
        cfg.timing.days_per_month,
        cfg.incidence.rate_per_person_months,
        ctx.conf,
    );
    record_na_notes(&rates, outs);
    outs.add_table(
        rates,
        &format!(
            "First HLH episodes per {} person-months at risk (exact Poisson {})",
            crate::table::format::Num(cfg.incidence.rate_per_person_months),
            ctx.ci
        ),
    )?;
    Ok(())
}

/// Rows of a table whose `note` says "not computable" become not-computed entries.
fn record_na_notes(t: &ResultTable, outs: &mut RunOutputs) {
    let Some(note) = t.column_index("note") else { return };
    for row in &t.rows {
        if let Some(Cell::Str(reason)) = row.get(note) {
            if reason.starts_with("not computable") {
                let key: Vec<String> = row[..note.min(3)].iter().map(|c| c.plain_text().unwrap_or_else(|| "NA".into())).collect();
                outs.not_computed(format!("{} ({})", t.name, key.join(", ")), reason.trim_start_matches("not computable: "));
            }
        }
    }
}

fn survival_stage(ctx: &Ctx, outs: &mut RunOutputs, fitted: &mut Fitted) -> Result<(), StudyError> {
    let cfg = ctx.cfg;
    // in a function of its own, so that its per-patient vectors (~70 bytes a patient) are
    // gone before the time-dependent models, the stage's peak
    km_and_cir(ctx, outs, fitted)?;

    let covs = covariates::collect(ctx.cohort, ctx.dataset, &cfg.survival.covariates);
    if !covs.missing.is_empty() {
        outs.notes.push(format!("Covariates not found in `patients` and skipped: {}.", covs.missing.join(", ")));
    }
    let primary = &ctx.exposures[ctx.primary];
    let (table, models, failed) = super::risk_factors::risk_factors(ctx.dataset, primary, &covs, ctx.conf, "hlh_risk_factors");
    for (analysis, reason) in failed {
        outs.not_computed(format!("{analysis} (`{}`)", primary.criteria_set), reason);
    }
    outs.add_table(
        table,
        &format!(
            "Risk factors for HLH under the primary definition ({}): Fine–Gray subdistribution hazard regression with death without HLH as the competing event (as cmprsk::crr) and the cause-specific Cox model (Efron ties), study covariates, patients at risk of a first episode, {}",
            primary.criteria_set, ctx.ci
        ),
    )?;
    fitted.risk = models;
    // the numbers at risk of the Simon–Makuch figure's risk table: at its ticks (just after
    // the origin for the first)
    let dpm = cfg.timing.days_per_month;
    let risk_days: Vec<f64> = cfg.figures.ticks_months().iter().map(|&t| if t == 0.0 { 1e-9 } else { t * dpm }).collect();
    // the criteria sets' exposures one after the other (each fit is parallel inside): two at
    // once held ~1 GB more at 1 M patients, the run's peak
    let options = survival::HlhSurvivalOptions {
        landmarks_days: &cfg.survival.landmarks_days,
        risk_days: &risk_days,
        days_per_month: dpm,
        conf_level: ctx.conf,
    };
    let results: Vec<_> = ctx.exposures.iter().map(|ex| survival::hlh_survival(ctx.dataset, ex, &covs, &options)).collect();
    for (ex, r) in ctx.exposures.iter().zip(results) {
        match r {
            Ok(h) => fitted.hlh.push(h),
            Err(e) => outs.not_computed(
                format!("HLH and survival under `{}` (time-dependent Cox, Simon–Makuch, landmark, naive)", ex.criteria_set),
                e,
            ),
        }
    }
    hlh_survival_tables(&fitted.hlh, ctx, outs)
}

/// The Kaplan–Meier analyses of the study's endpoints and groupings (OS overall, by
/// first-line intensity and regimen; EFS by intensity; RFS from CR1), then the cumulative
/// incidence of relapse from CR1.
fn km_and_cir(ctx: &Ctx, outs: &mut RunOutputs, fitted: &mut Fitted) -> Result<(), StudyError> {
    let cfg = ctx.cfg;
    let km_opts = KmOptions { conf_level: ctx.conf, ..KmOptions::default() };
    let pts = &ctx.dataset.patients;
    let os_t: Vec<f64> = pts.iter().map(|p| p.os_time).collect();
    let os_e: Vec<bool> = pts.iter().map(|p| p.os_event).collect();
    let efs_t: Vec<f64> = pts.iter().map(|p| p.efs_time).collect();
    let efs_e: Vec<bool> = pts.iter().map(|p| p.efs_event).collect();
    let everyone = vec![SharedText::from("all"); pts.len()];
    let intensity = ctx.dataset.intensity_labels();
    let regimen = ctx.dataset.regimen_labels(cfg.survival.min_regimen_size);
    let after = response::after_cr1(ctx.dataset);
    let rfs_t = after.time.clone();
    let rfs_e = after.rfs_event();
    let cr1 = vec![SharedText::from("CR1"); rfs_t.len()];
    let km_specs: [KmSpec; 5] = [
        ("os_overall", "OS", &os_t, &os_e, &everyone),
        ("os_by_first_line_intensity", "OS", &os_t, &os_e, &intensity),
        ("os_by_first_line_regimen", "OS", &os_t, &os_e, &regimen),
        ("efs_by_first_line_intensity", "EFS", &efs_t, &efs_e, &intensity),
        ("rfs_from_cr1", "RFS from CR1", &rfs_t, &rfs_e, &cr1),
    ];
    // one fit after the other (each is parallel inside): side by side, five fits of
    // millions of patients added their buffers to the run's peak
    let results: Vec<_> = km_specs
        .iter()
        .map(|&(name, endpoint, t, e, g)| (name, survival::km_analysis(name, endpoint, t, e, g, &km_opts)))
        .collect();
    for (name, r) in results {
        match r {
            Ok(a) => {
                km_outputs(&a.name, &a.endpoint, None, Some(&a), ctx, outs)?;
                fitted.km.push(a);
            }
            Err(e) => outs.not_computed(format!("Kaplan–Meier {name}"), e),
        }
    }
    cir_stage(ctx, &after, outs, fitted)
}

/// A KM analysis to fit: (name, endpoint, time, event, group label per patient).
type KmSpec<'a> = (&'a str, &'a str, &'a [f64], &'a [bool], &'a [SharedText]);

/// Cumulative incidence of relapse from CR1 with death in remission as the competing risk.
fn cir_stage(ctx: &Ctx, after: &response::AfterCr1, outs: &mut RunOutputs, fitted: &mut Fitted) -> Result<(), StudyError> {
    let one = crate::stats::Grouping::from_values(&vec!["CR1".to_string(); after.time.len()]);
    match crate::stats::cif::cuminc(&after.time, &after.cause, &one, None) {
        Ok(fit) => {
            let mut t = super::table("cir_from_cr1", &["cause", "day", "estimate", "variance", "lower", "upper"], Vec::new());
            for (_, c, day, est, var) in fit.at_times(&ctx.cfg.incidence.timepoints_days) {
                let name = match c {
                    1 => "relapse",
                    2 => "death_in_remission",
                    _ => "other",
                };
                let ci = est.zip(var).and_then(|(e, v)| crate::stats::cif::loglog_ci(e, v, ctx.conf));
                t.rows.push(vec![
                    Cell::Str(name.into()),
                    Cell::Num(day),
                    est.map_or(Cell::Na, Cell::Num),
                    var.map_or(Cell::Na, Cell::Num),
                    ci.map_or(Cell::Na, |c| Cell::Num(c.0)),
                    ci.map_or(Cell::Na, |c| Cell::Num(c.1)),
                ]);
            }
            outs.add_table(t, "Cumulative incidence of relapse from CR1, with death in remission (non-relapse mortality) as the competing risk (Aalen–Johansen, as cmprsk::cuminc)")?;
            fitted.cir = Some(fit);
        }
        Err(e) => outs.not_computed("cumulative incidence of relapse from CR1", e),
    }
    Ok(())
}

/// The KM table, summary and log-rank test of one analysis (named `{name}_km`, `_summary`,
/// `_logrank`); with `set`, the tables carry a leading `criteria_set` column (and are stacked by
/// the caller).
fn km_parts(name: &str, a: &KmAnalysis, set: Option<&str>) -> [ResultTable; 3] {
    let km = a.km.table(&format!("{name}_km"));
    let summary = a.km.summary_table(&format!("{name}_summary"));
    let mut lr =
        super::table(&format!("{name}_logrank"), &["group", "n", "observed", "expected", "chisq", "df", "p"], Vec::new());
    if let Some(t) = &a.logrank {
        for k in 0..t.groups.len() {
            lr.rows.push(vec![
                Cell::Str(t.groups[k].clone()),
                Cell::Int(t.n[k] as i64),
                Cell::Num(t.observed[k]),
                Cell::Num(t.expected[k]),
                Cell::Num(t.chisq),
                Cell::Int(t.df as i64),
                Cell::Num(t.p),
            ]);
        }
    }
    match set {
        Some(s) => [km, summary, lr].map(|t| t.with_leading_column("criteria_set", s)),
        None => [km, summary, lr],
    }
}

/// Write the tables of one KM analysis (`sets = None`), or of the same analysis under
/// every criteria set stacked into one table per kind (`sets`: (set name, its fit)).
fn km_outputs(
    name: &str,
    endpoint: &str,
    sets: Option<&[(&str, &KmAnalysis)]>,
    single: Option<&KmAnalysis>,
    ctx: &Ctx,
    outs: &mut RunOutputs,
) -> Result<(), StudyError> {
    let fits: Vec<(Option<&str>, &KmAnalysis)> = match (sets, single) {
        (Some(list), _) => list.iter().map(|(s, a)| (Some(*s), *a)).collect(),
        (None, Some(a)) => vec![(None, a)],
        (None, None) => Vec::new(),
    };
    let has_logrank = fits.iter().any(|(_, a)| a.logrank.is_some());
    let mut stacked: Option<[ResultTable; 3]> = None;
    for (set, a) in &fits {
        let parts = km_parts(name, a, *set);
        match &mut stacked {
            None => stacked = Some(parts),
            Some(acc) => {
                for (acc, part) in acc.iter_mut().zip(parts) {
                    acc.append(part).map_err(crate::report::ReportError::from)?;
                }
            }
        }
    }
    let Some([km, summary, logrank]) = stacked else {
        return Ok(());
    };
    outs.add_table(km, &format!("Kaplan–Meier table, {} ({endpoint}; {} log)", analysis_words(name), ctx.ci))?;
    outs.add_table(
        summary,
        &format!(
            "Median survival, {}, in days with {} ({endpoint}; the RMST columns stay empty: the study sets no horizon)",
            analysis_words(name),
            ctx.ci
        ),
    )?;
    if has_logrank {
        outs.add_table(logrank, &format!("Log-rank test, {} ({endpoint})", analysis_words(name)))?;
    }
    Ok(())
}

/// Tables of the time-dependent HLH analyses: one table per analysis, a row block per set.
/// A KM analysis name in words for captions: `os_by_first_line_intensity` → "overall survival
/// by first line intensity".
fn analysis_words(name: &str) -> String {
    let words = name.replace('_', " ");
    for (abbr, full) in [("os ", "overall survival "), ("efs ", "event-free survival "), ("rfs ", "relapse-free survival ")] {
        if let Some(rest) = words.strip_prefix(abbr) {
            return format!("{full}{rest}");
        }
    }
    words
}

/// `cox_hlh_ph_test`: per criteria set, cox.zph's chi-square, df and p of each term of the
/// adjusted time-dependent model and the GLOBAL test; NA with the reason when not computable.
fn ph_test_table(hlh: &[HlhSurvival]) -> ResultTable {
    let mut t = super::table("cox_hlh_ph_test", &["criteria_set", "term", "chisq", "df", "p", "note"], Vec::new());
    for h in hlh {
        let set = || Cell::Str(h.criteria_set.clone());
        match &h.ph_test {
            Ok(z) => {
                for k in 0..z.terms.len() {
                    t.rows.push(vec![
                        set(),
                        Cell::Str(z.terms[k].clone()),
                        Cell::Num(z.chisq[k]),
                        Cell::Int(z.df[k] as i64),
                        Cell::Num(z.p[k]),
                        Cell::Na,
                    ]);
                }
                let (chisq, df, p) = z.global;
                t.rows.push(vec![
                    set(),
                    Cell::Str("GLOBAL".into()),
                    Cell::Num(chisq),
                    Cell::Int(df as i64),
                    Cell::Num(p),
                    Cell::Na,
                ]);
            }
            Err(reason) => {
                t.rows.push(vec![set(), Cell::Na, Cell::Na, Cell::Na, Cell::Na, Cell::Str(format!("not computable: {reason}"))])
            }
        }
    }
    t
}

fn hlh_survival_tables(hlh: &[HlhSurvival], ctx: &Ctx, outs: &mut RunOutputs) -> Result<(), StudyError> {
    if hlh.is_empty() {
        return Ok(());
    }
    let models: Vec<(&str, &str, &crate::stats::cox::CoxModel)> = hlh
        .iter()
        .flat_map(|h| {
            [
                (h.criteria_set.as_str(), "time_dependent_adjusted", &h.cox_td),
                (h.criteria_set.as_str(), "time_dependent_unadjusted", &h.cox_td_unadjusted),
                (h.criteria_set.as_str(), "naive_hlh_ever_BIASED", &h.cox_naive),
            ]
        })
        .collect();
    outs.add_table(
        survival::cox_table(&models),
        &format!("Cox models of OS: HLH as a time-dependent exposure (adjusted and unadjusted), and the naive 'HLH ever' model, which is biased by immortal time and shown only for comparison (HR with {})", ctx.ci),
    )?;
    outs.add_table(
        ph_test_table(hlh),
        "Proportional-hazards test of the adjusted time-dependent Cox model of OS (as survival::cox.zph with its defaults): score test per covariate and global; a small p suggests the hazard ratio changes over time",
    )?;
    outs.add_table(
        survival::simon_makuch_table(hlh),
        &format!("Simon–Makuch OS curves by time-dependent HLH status ({} log)", ctx.ci),
    )?;
    let naive: Vec<(&str, &KmAnalysis)> = hlh.iter().map(|h| (h.criteria_set.as_str(), &h.km_naive)).collect();
    km_outputs("os_by_hlh_ever_naive", "OS by HLH ever (naive, biased by immortal time)", Some(&naive), None, ctx, outs)?;
    for &l in &ctx.cfg.survival.landmarks_days {
        let at_l: Vec<(&str, &KmAnalysis)> = hlh
            .iter()
            .filter_map(|h| h.landmarks.iter().find(|(d, _, _)| *d == l).map(|(_, a, _)| (h.criteria_set.as_str(), a)))
            .collect();
        let Some((_, first)) = at_l.first() else {
            outs.not_computed(format!("landmark analysis at day {l}"), "no patient alive and followed at the landmark");
            continue;
        };
        let endpoint = format!("OS from the day-{l} landmark by HLH before it");
        km_outputs(&first.name.clone(), &endpoint, Some(&at_l), None, ctx, outs)?;
    }
    for h in hlh {
        if h.dropped_for_missing_covariates > 0 {
            outs.notes.push(format!(
                "{} patients with a missing adjustment covariate were left out of the adjusted Cox model under `{}`.",
                h.dropped_for_missing_covariates, h.criteria_set
            ));
        }
    }
    Ok(())
}

fn response_stage(ctx: &Ctx, primary: &Detection, outs: &mut RunOutputs) -> Result<(), StudyError> {
    if ctx.cohort.tables_present.iter().any(|t| t == "responses") {
        match response::response_table(ctx.cohort, ctx.dataset, ctx.conf) {
            Ok(t) => outs.add_table(
                t,
                &format!("Best response per line and regimen; composite CR (CR+CRh+CRi) with Clopper–Pearson {}", ctx.ci),
            )?,
            Err(e) => outs.not_computed("response by line and regimen", e),
        }
        let t = response::response_by_hlh(ctx.cohort, ctx.dataset, ctx.exposures, ctx.conf);
        outs.add_table(
            t,
            "First-line composite CR by HLH before the first response assessment of the first line (Fisher's exact test)",
        )?;
    } else {
        outs.not_computed("response analyses", "the cohort has no `responses` table");
    }
    let spans: Vec<EpisodeSpan> = primary
        .episodes
        .iter()
        .map(|e| EpisodeSpan { patient: e.patient, episode: e.episode, onset: e.onset, end: e.end })
        .collect();
    outs.add_table(
        response::episode_course_table(ctx.cohort, &primary.criteria_set, &spans),
        &format!("Each HLH episode under the next treatment line (primary definition: {})", primary.criteria_set),
    )
}

/// Report notes on conventions that changed what was counted on this cohort.
fn note_conventions(ctx: &Ctx, outs: &mut RunOutputs) {
    for ex in ctx.exposures {
        let prevalent = ex.n_prevalent();
        if prevalent > 0 {
            outs.notes.push(format!(
                "`{}`: {prevalent} patients had HLH at the time origin (prevalent); they are exposed from time 0 in the survival analyses and left out of the incidence risk set.",
                ex.criteria_set
            ));
        }
        if ex.onset_on_death_day > 0 {
            outs.notes.push(format!(
                "`{}`: {} patients had their first HLH onset on the day of death; the death is counted first (unexposed), so they are not incident HLH cases.",
                ex.criteria_set, ex.onset_on_death_day
            ));
        }
    }
}

fn not_computed_table(outs: &RunOutputs) -> ResultTable {
    let rows = outs.not_computed.iter().map(|n| vec![Cell::Str(n.analysis.clone()), Cell::Str(n.reason.clone())]).collect();
    super::table("analyses_not_computed", &["analysis", "reason"], rows)
}

/// Every table as CSV and as Parquet, in parallel (both from the same typed cells; a streamed
/// table's CSV is already written, its Parquet is made from that file one row group at a time).
fn write_tables(out: &OutputDir, outs: &RunOutputs) -> Result<(), StudyError> {
    outs.tables.par_iter().try_for_each(|p| -> Result<(), StudyError> {
        match &p.body {
            Body::Cells => crate::report::write_csv_and_parquet(&p.table, &out.tables())?,
            Body::CsvFile(csv) => {
                let names: Vec<&str> = p.table.columns.iter().map(String::as_str).collect();
                let parquet = out.tables().join(format!("{}.parquet", p.name()));
                crate::io::table::csv_file_to_parquet(&names, &p.table.column_types(), &csv.path, &parquet)
                    .map_err(|e| StudyError::Io { path: csv.path.clone(), source: std::io::Error::other(e.to_string()) })?;
            }
        }
        Ok(())
    })?;
    let path = out.tables().join("README.md");
    std::fs::write(&path, tables_readme_text(outs)).map_err(|e| StudyError::Io { path, source: e })
}

/// `tables/README.md`: every table of the run with its caption, row count and the
/// description of each column (`super::columns`).
fn tables_readme_text(outs: &RunOutputs) -> String {
    let tables: Vec<(ResultTable, usize)> = outs
        .tables
        .iter()
        .map(|p| {
            let mut t = ResultTable::new(p.name(), &[]);
            t.columns = p.table.columns.clone();
            t.description = p.caption.clone();
            t.docs = t
                .columns
                .iter()
                .filter_map(|c| super::columns::describe(p.name(), c).map(|d| crate::table::ColumnDoc::new(c.clone(), d)))
                .collect();
            (t, p.n_rows())
        })
        .collect();
    crate::report::tables_readme(tables.iter().map(|(t, n)| (t, *n)))
}
