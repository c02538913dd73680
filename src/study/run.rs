//! Orchestration of one study run into an atomic output folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use thiserror::Error;

use crate::cohort::{load_cohort, CohortError, LoadOptions};
use crate::hlh::tables::{EPISODE_TYPES, EVIDENCE_TYPES};
use crate::hlh::{detect, CriteriaSet, Detection};
use crate::report::csv::{Cell, ColumnType, CsvTable};
use crate::report::manifest::{Exclusion as ManifestExclusion, InputFile, Manifest, StageTiming};
use crate::report::output::OutputDir;
use crate::report::ReportError;
use crate::stats::km::KmOptions;
use crate::stats::StatsError;

use super::config::{StudyConfig, StudyConfigError};
use super::covariates;
use super::dataset::Dataset;
use super::exposure::Exposure;
use super::figures::{self, FigureSet};
use super::incidence::{self, GroupVar};
use super::response::{self, EpisodeSpan};
use super::survival::{self, KmAnalysis};

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
    /// The command line, for the manifest.
    pub command: Vec<String>,
}

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
    /// Per-stage timings.
    pub stages: Vec<(String, f64)>,
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
    /// A criteria set could not be loaded.
    #[error("criteria set `{name}`: {message}")]
    Criteria {
        /// Name or path.
        name: String,
        /// Cause.
        message: String,
    },
    /// An estimator rejected its input.
    #[error("analysis `{analysis}`: {source}")]
    Stats {
        /// Which analysis.
        analysis: String,
        /// Cause.
        source: StatsError,
    },
    /// Writing output failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A figure failed.
    #[error("figure `{figure}`: {message}")]
    Figure {
        /// Figure name.
        figure: String,
        /// Cause.
        message: String,
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

fn stats(analysis: &str) -> impl FnOnce(StatsError) -> StudyError + '_ {
    move |source| StudyError::Stats { analysis: analysis.to_string(), source }
}

/// A table produced by the run, as CSV bytes (estimator writers) or a [`CsvTable`].
pub(crate) struct Produced {
    pub name: String,
    pub caption: String,
    pub bytes: Vec<u8>,
    /// Column types for the Parquet copy (`None`: inferred from every row).
    pub types: Option<Vec<ColumnType>>,
}

impl Produced {
    fn from_table(t: &CsvTable, caption: &str) -> Result<Produced, StudyError> {
        Ok(Produced { name: t.name.clone(), caption: caption.to_string(), bytes: t.to_csv_bytes()?, types: Some(t.column_types()) })
    }
}

fn km_tables(a: &KmAnalysis, out: &mut Vec<Produced>) -> Result<(), StudyError> {
    let mut table = Vec::new();
    a.km.write_table_csv(&mut table).map_err(|e| StudyError::Io { path: a.name.clone().into(), source: e })?;
    out.push(Produced { name: format!("{}_km", a.name), caption: format!("{} Kaplan–Meier table ({})", a.endpoint, a.name), bytes: table, types: None });
    let mut summary = Vec::new();
    a.km.write_summary_csv(&mut summary).map_err(|e| StudyError::Io { path: a.name.clone().into(), source: e })?;
    out.push(Produced {
        name: format!("{}_summary", a.name),
        caption: format!("{} median (days) with 95% CI and RMST ({})", a.endpoint, a.name),
        bytes: summary,
        types: None,
    });
    if let Some(lr) = &a.logrank {
        let mut t = super::table("x", &["group", "n", "observed", "expected"], Vec::new());
        t.name = format!("{}_logrank", a.name);
        for k in 0..lr.groups.len() {
            t.rows.push(vec![
                Cell::Str(lr.groups[k].clone()),
                Cell::Int(lr.n[k] as i64),
                Cell::Num(lr.observed[k]),
                Cell::Num(lr.expected[k]),
            ]);
        }
        t.columns.extend(["chisq", "df", "p"].map(String::from));
        for row in &mut t.rows {
            row.extend([Cell::Num(lr.chisq), Cell::Int(lr.df as i64), Cell::Num(lr.p)]);
        }
        out.push(Produced::from_table(&t, &format!("{} log-rank test ({})", a.endpoint, a.name))?);
    }
    Ok(())
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

/// Run a whole study. On error the output folder is not created.
pub fn run(opts: &RunOptions) -> Result<RunSummary, StudyError> {
    let t0 = Instant::now();
    let started_utc = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let cfg = match &opts.study {
        Some(p) => StudyConfig::from_file(p)?,
        None => StudyConfig::default(),
    };
    let study_dir = opts.study.as_deref().and_then(Path::parent);
    let criteria: Vec<CriteriaSet> =
        cfg.detection.criteria.iter().map(|c| load_criteria(c, study_dir)).collect::<Result<_, _>>()?;
    let out = OutputDir::create(&opts.out, opts.force)?;

    let bar = if opts.quiet { ProgressBar::hidden() } else { ProgressBar::with_draw_target(Some(8), ProgressDrawTarget::stderr()) };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut stages: Vec<(String, f64)> = Vec::new();
    let mut stage_t = Instant::now();
    let mut stage = |name: &str, bar: &ProgressBar, stages: &mut Vec<(String, f64)>| {
        stages.push((name.to_string(), stage_t.elapsed().as_secs_f64()));
        stage_t = Instant::now();
        bar.inc(1);
    };

    // 1. load
    bar.set_message("loading cohort");
    let mut loaded = load_cohort(&opts.cohort_dir, &LoadOptions { quarantine: opts.quarantine })?;
    stage("load_and_validate", &bar, &mut stages);

    // 2. detect
    bar.set_message("detecting HLH episodes");
    let detections: Vec<Detection> = criteria.iter().map(|set| detect(&loaded.cohort, set)).collect();
    let primary_index = detections.iter().position(|d| d.criteria_set == cfg.detection.primary).unwrap_or(0);
    // Everything that needs the measurements is done now: release them (the largest
    // table by far) before the analyses.
    let trajectories = figures::lab_trajectories(&loaded.cohort, &detections[primary_index]);
    let n_measurements = loaded.cohort.measurements.len();
    loaded.cohort.release_measurements();
    let cohort = &loaded.cohort;
    let dataset = Dataset::build(cohort, &cfg);
    let exposures: Vec<Exposure> = detections
        .iter()
        .map(|d| Exposure::from_onsets(&dataset, &d.criteria_set, d.episodes.iter().map(|e| (e.patient, e.onset))))
        .collect();
    // episodes and evidence of each criteria set, formatted in parallel (the
    // evidence tables of a large cohort run to 100+ MB of CSV each)
    let detection_tables: Vec<[Produced; 2]> = detections
        .par_iter()
        .map(|d| -> Result<[Produced; 2], StudyError> {
            let mut ep = Vec::new();
            d.write_episodes_csv(&mut ep).map_err(|e| StudyError::Io { path: "episodes".into(), source: e })?;
            let mut ev = Vec::new();
            d.write_evidence_csv(&mut ev).map_err(|e| StudyError::Io { path: "evidence".into(), source: e })?;
            Ok([
                Produced {
                    name: format!("hlh_episodes_{}", d.criteria_set),
                    caption: format!("HLH episodes under {}", d.criteria_set),
                    bytes: ep,
                    types: Some(EPISODE_TYPES.to_vec()),
                },
                Produced {
                    name: format!("hlh_evidence_{}", d.criteria_set),
                    caption: format!("Audit trail: the measurement or finding behind each criterion of each episode ({})", d.criteria_set),
                    bytes: ev,
                    types: Some(EVIDENCE_TYPES.to_vec()),
                },
            ])
        })
        .collect::<Result<_, _>>()?;
    let mut produced: Vec<Produced> = detection_tables.into_iter().flatten().collect();
    stage("detect", &bar, &mut stages);

    // cohort flow
    let mut flow = super::table("cohort_flow", &["step", "patients"], Vec::new());
    flow.rows.push(vec![Cell::Str("patients in cohort".into()), Cell::Int(cohort.patients.len() as i64)]);
    for (ex, n) in dataset.exclusion_counts() {
        flow.rows.push(vec![Cell::Str(format!("excluded: {}", ex.reason())), Cell::Int(n as i64)]);
    }
    flow.rows.push(vec![Cell::Str("study population".into()), Cell::Int(dataset.patients.len() as i64)]);
    produced.push(Produced::from_table(&flow, "Cohort flow: every excluded patient is counted with its reason")?);
    if dataset.patients.is_empty() {
        return Err(StudyError::Stats { analysis: "population".into(), source: StatsError::Empty("no patient in the study population".into()) });
    }

    // 3. incidence
    bar.set_message("incidence");
    let conf = cfg.survival.conf_level;
    let intensity: Vec<String> = dataset.patients.iter().map(|p| p.first_line_intensity.clone()).collect();
    let regimen = dataset.regimen_labels(cfg.survival.min_regimen_size);
    let groupings = vec![
        GroupVar { name: "overall", labels: vec!["all".to_string(); dataset.patients.len()] },
        GroupVar { name: "first_line_intensity", labels: intensity.clone() },
        GroupVar { name: "first_line_regimen", labels: regimen.clone() },
    ];
    let crude = incidence::crude_table(&exposures, &groupings, conf).map_err(stats("incidence (crude)"))?;
    produced.push(Produced::from_table(&crude, "HLH incidence: proportion of patients with ≥1 episode (Wilson and Clopper–Pearson CIs)")?);
    let (ci_tab, gray_tab, cif_fits) =
        incidence::cuminc_tables(&dataset, &exposures, &groupings, &cfg.incidence.timepoints_days).map_err(stats("cumulative incidence"))?;
    produced.push(Produced::from_table(&ci_tab, "Cumulative incidence of the first HLH episode, death without HLH as competing risk (Aalen–Johansen; variance as cmprsk)")?);
    produced.push(Produced::from_table(&gray_tab, "Gray's test between groups")?);
    let rates = incidence::rate_table(&dataset, &exposures, &groupings, cfg.timing.days_per_month, cfg.incidence.rate_per_person_months, conf)
        .map_err(stats("incidence rate"))?;
    produced.push(Produced::from_table(&rates, "First HLH episodes per 100 person-months at risk (exact Poisson CI)")?);
    stage("incidence", &bar, &mut stages);

    // 4. survival
    bar.set_message("survival");
    let km_opts = KmOptions { conf_level: conf, ..KmOptions::default() };
    let os_t: Vec<f64> = dataset.patients.iter().map(|p| p.os_time).collect();
    let os_e: Vec<bool> = dataset.patients.iter().map(|p| p.os_event).collect();
    let efs_t: Vec<f64> = dataset.patients.iter().map(|p| p.efs_time).collect();
    let efs_e: Vec<bool> = dataset.patients.iter().map(|p| p.efs_event).collect();
    let everyone = vec!["all".to_string(); os_t.len()];
    let km_specs: [(&str, &str, &[f64], &[bool], &[String], &str); 4] = [
        ("os_overall", "OS", &os_t, &os_e, &everyone, "OS overall"),
        ("os_by_first_line_intensity", "OS", &os_t, &os_e, &intensity, "OS by intensity"),
        ("os_by_first_line_regimen", "OS", &os_t, &os_e, &regimen, "OS by regimen"),
        ("efs_by_first_line_intensity", "EFS", &efs_t, &efs_e, &intensity, "EFS by intensity"),
    ];
    let mut km_analyses = km_specs
        .par_iter()
        .map(|&(name, endpoint, t, e, g, what)| survival::km_analysis(name, endpoint, t, e, g, &km_opts).map_err(stats(what)))
        .collect::<Result<Vec<_>, _>>()?;
    let (rd_t, rd_e, _) = response::remission_duration(&dataset);
    if !rd_t.is_empty() {
        km_analyses.push(
            survival::km_analysis("remission_duration", "Duration of remission", &rd_t, &rd_e, &vec!["responders".to_string(); rd_t.len()], &km_opts)
                .map_err(stats("duration of remission"))?,
        );
    }
    for a in &km_analyses {
        km_tables(a, &mut produced)?;
    }
    let covs = covariates::collect(cohort, &dataset, &cfg.survival.covariates);
    let mut hlh_surv = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if !covs.missing.is_empty() {
        notes.push(format!("Covariates not found in `patients` and skipped: {}.", covs.missing.join(", ")));
    }
    // the criteria sets' exposures are analysed in parallel, reported in order
    let fitted: Vec<_> =
        exposures.par_iter().map(|ex| survival::hlh_survival(&dataset, ex, &covs, &cfg.survival.landmarks_days, conf)).collect();
    for (ex, result) in exposures.iter().zip(fitted) {
        match result {
            Ok(h) => hlh_surv.push(h),
            Err(StatsError::Empty(msg)) => notes.push(msg),
            Err(e) => {
                notes.push(format!("HLH survival analyses under `{}` could not be fitted: {e}", ex.criteria_set));
            }
        }
    }
    let models: Vec<(&str, &str, &crate::stats::cox::CoxModel)> = hlh_surv
        .iter()
        .flat_map(|h| {
            [
                (h.criteria_set.as_str(), "time_dependent_adjusted", &h.cox_td),
                (h.criteria_set.as_str(), "time_dependent_unadjusted", &h.cox_td_unadjusted),
                (h.criteria_set.as_str(), "naive_hlh_ever_BIASED", &h.cox_naive),
            ]
        })
        .collect();
    if !models.is_empty() {
        produced.push(Produced::from_table(
            &survival::cox_table(&models),
            "Cox models of OS: HLH as a time-dependent exposure (adjusted and unadjusted), and the naive 'HLH ever' model, which is biased by immortal time and shown only for comparison",
        )?);
    }
    for h in &hlh_surv {
        produced.push(Produced::from_table(&survival::simon_makuch_table(&h.criteria_set, &h.simon_makuch), "Simon–Makuch OS curves by time-dependent HLH status")?);
        let mut naive = KmAnalysis { name: format!("{}_{}", h.km_naive.name, h.criteria_set), endpoint: h.km_naive.endpoint.clone(), km: h.km_naive.km.clone(), logrank: h.km_naive.logrank.clone() };
        naive.endpoint = "OS (naive, biased by immortal time)".into();
        km_tables(&naive, &mut produced)?;
        for (_, a, _) in &h.landmarks {
            let named = KmAnalysis { name: format!("{}_{}", a.name, h.criteria_set), endpoint: "OS (landmark)".into(), km: a.km.clone(), logrank: a.logrank.clone() };
            km_tables(&named, &mut produced)?;
        }
        if h.dropped_for_missing_covariates > 0 {
            notes.push(format!(
                "{} patients with a missing adjustment covariate were left out of the adjusted Cox model under `{}`.",
                h.dropped_for_missing_covariates, h.criteria_set
            ));
        }
    }
    stage("survival", &bar, &mut stages);

    // 5. response
    bar.set_message("response");
    if cohort.tables_present.iter().any(|t| t == "responses") {
        produced.push(Produced::from_table(&response::response_table(cohort, &dataset, conf).map_err(stats("response"))?, "Best response per line and regimen; composite CR (CR+CRh+CRi) with Clopper–Pearson CI")?);
        for ex in &exposures {
            produced.push(Produced::from_table(
                &response::response_by_hlh(cohort, &dataset, ex, conf).map_err(stats("response by HLH"))?,
                "First-line composite CR by HLH during the first line (Fisher's exact test)",
            )?);
        }
    } else {
        notes.push("No `responses` table: response analyses skipped.".into());
    }
    let primary = &detections[primary_index];
    let spans: Vec<EpisodeSpan> =
        primary.episodes.iter().map(|e| EpisodeSpan { patient: e.patient, episode: e.episode, onset: e.onset, end: e.end }).collect();
    produced.push(Produced::from_table(&response::episode_course_table(cohort, &primary.criteria_set, &spans), "Each HLH episode under the next treatment line")?);
    stage("response", &bar, &mut stages);

    // 6. figures
    bar.set_message("figures");
    let mut figure_set = FigureSet::default();
    if cfg.figures.enabled {
        figure_set = figures::draw_all(&figures::FigureInputs {
            cfg: &cfg,
            cohort,
            dataset: &dataset,
            km_analyses: &km_analyses,
            cif_fits: &cif_fits,
            hlh_survival: &hlh_surv,
            primary,
            exposures: &exposures,
            out_dir: &out.figures(),
            trajectories: &trajectories,
        })?;
    }
    stage("figures", &bar, &mut stages);

    // 7. write tables, report, manifest
    bar.set_message("writing report");
    // each table as CSV and as Parquet, tables in parallel (the Parquet is made
    // from the CSV bytes, so both files hold the same values)
    produced.par_iter().try_for_each(|p| -> Result<(), StudyError> {
        let path = out.tables().join(format!("{}.csv", p.name));
        std::fs::write(&path, &p.bytes).map_err(|e| StudyError::Io { path: path.clone(), source: e })?;
        crate::io::table::csv_bytes_to_parquet(&p.bytes, p.types.as_deref(), &path, &out.tables().join(format!("{}.parquet", p.name)))
            .map_err(|e| StudyError::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })
    })?;
    stage("tables", &bar, &mut stages);
    if loaded.report.rejected_count > 0 {
        loaded.report.write_rejects_csv(&out.path().join("rejects.csv"))?;
    }
    std::fs::write(out.path().join("validation.json"), loaded.report.to_json())
        .map_err(|e| StudyError::Io { path: out.path().join("validation.json"), source: e })?;
    super::report::write_report(&out, &cfg, &loaded, &dataset, &produced, &figure_set, &notes)?;
    stage("report", &bar, &mut stages);

    let wall = t0.elapsed().as_secs_f64();
    let mut manifest = Manifest {
        hemosurv_version: env!("CARGO_PKG_VERSION").to_string(),
        command: opts.command.clone(),
        started_utc,
        wall_time_s: wall,
        study_config: serde_json::to_value(&cfg).unwrap_or(serde_json::Value::Null),
        inputs: loaded
            .inputs
            .iter()
            .map(|i| InputFile { table: i.table.clone(), path: i.path.display().to_string(), sha256: i.sha256.clone(), rows: i.rows })
            .collect(),
        ..Manifest::default()
    };
    manifest.row_counts.insert("patients".into(), cohort.patients.len() as u64);
    manifest.row_counts.insert("measurements".into(), n_measurements as u64);
    manifest.row_counts.insert("findings".into(), cohort.findings.len() as u64);
    manifest.row_counts.insert("treatments".into(), cohort.treatments.len() as u64);
    manifest.row_counts.insert("responses".into(), cohort.responses.len() as u64);
    manifest.row_counts.insert("study_population".into(), dataset.patients.len() as u64);
    for (ex, n) in dataset.exclusion_counts() {
        manifest.exclusions.push(ManifestExclusion { stage: "population".into(), reason: format!("patients: {}", ex.reason()), count: n as u64 });
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
    manifest.stages = stages.iter().map(|(n, s)| StageTiming { name: n.clone(), seconds: *s }).collect();
    manifest.record_outputs(out.path())?;
    manifest.write(out.path())?;
    bar.finish_and_clear();
    let final_dir = out.commit()?;
    Ok(RunSummary {
        out: final_dir,
        patients: dataset.patients.len(),
        tables: produced.len(),
        figures: figure_set.figures.len(),
        wall_time_s: wall,
        stages,
    })
}
