//! `hemosurv validate | detect | criteria | simulate`: the cohort-side subcommands.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::cohort::{load_cohort, validate_dir, CohortError, LoadOptions};
use crate::hlh::validation::validation_summary;
use crate::hlh::{builtin_toml, detect_many_into, CriteriaError, CriteriaSet, DetectOptions, Detection, Truth, TruthError};
use crate::report::output::OutputDir;
use crate::report::ReportError;
use crate::simulate::{simulate_with_progress, SimError, SimFormat, SimOptions, SimParams, SimSummary};

/// Errors of the cohort-side subcommands.
#[derive(Debug, Error)]
pub enum CohortCommandError {
    /// The cohort is invalid (exit 2).
    #[error(transparent)]
    Cohort(#[from] CohortError),
    /// A criteria set could not be read (exit 2).
    #[error(transparent)]
    Criteria(#[from] CriteriaError),
    /// The truth table is invalid (exit 2).
    #[error(transparent)]
    Truth(#[from] TruthError),
    /// Unknown built-in criteria set.
    #[error("unknown criteria set `{0}` (built-in: hlh2004, hscore, ohi, hlh_aml; or a path to a .toml file)")]
    UnknownCriteria(String),
    /// Simulation failed.
    #[error(transparent)]
    Simulate(#[from] SimError),
    /// Writing output failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// An OMOP import failed (exit 2 for a bad extract or mapping).
    #[error(transparent)]
    Omop(#[from] crate::cohort::omop::OmopError),
    /// A study run failed (its exit code as for `run`: `commands::exit`).
    #[error(transparent)]
    Study(#[from] crate::study::StudyError),
    /// Other I/O.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Human-readable lines.
    Text,
    /// The full report as JSON.
    Json,
}

/// `hemosurv validate`: returns (report text, has errors). With `quarantine`,
/// rejected rows are written to `rejects_out` (default `COHORT/rejects.csv` is not used:
/// the input folder is never written to).
pub fn validate(
    dir: &Path,
    format: ReportFormat,
    quarantine: bool,
    rejects_out: Option<&Path>,
) -> Result<(String, bool), CohortCommandError> {
    let report = validate_dir(dir, &LoadOptions { quarantine });
    if let Some(p) = rejects_out {
        report.write_rejects_csv(p)?;
    }
    let text = match format {
        ReportFormat::Text => report.render_text(50),
        ReportFormat::Json => report.to_json(),
    };
    Ok((text, report.has_errors() && !quarantine))
}

/// Resolve a `--criteria` argument: a built-in name or a TOML file.
pub fn resolve_criteria(name: &str) -> Result<CriteriaSet, CohortCommandError> {
    if let Some(set) = CriteriaSet::builtin(name) {
        return Ok(set);
    }
    let p = Path::new(name);
    if p.extension().is_some_and(|e| e == "toml") || p.exists() {
        return Ok(CriteriaSet::from_file(p)?);
    }
    Err(CohortCommandError::UnknownCriteria(name.to_string()))
}

/// `hemosurv criteria show NAME`: the built-in set as commented TOML.
pub fn criteria_show(name: &str) -> Result<String, CohortCommandError> {
    match builtin_toml(name) {
        Some(t) => Ok(t.to_string()),
        None => Ok(resolve_criteria(name)?.to_toml_string()?),
    }
}

/// A criteria set's name as a file stem: characters other than letters, digits, `_`, `-` and
/// `.` become `_` (a set's name is free text; its files must stay inside the output folder).
fn file_stem(set: &str) -> String {
    let stem: String =
        set.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
    stem.trim_start_matches('.').to_string()
}

/// `hemosurv detect`: writes `episodes_<set>` and `evidence_<set>` (CSV + Parquet)
/// into `out` (atomically) and returns the one-screen summary. With a truth table
/// (`truth`, else `COHORT/truth.csv` or `COHORT/truth.parquet` if present) it also writes `hlh_validation.csv`
/// (one row per definition, see [`crate::hlh::validation`]).
pub fn detect_cmd(
    dir: &Path,
    criteria: &[String],
    out: &Path,
    force: bool,
    quarantine: bool,
    truth: Option<&Path>,
    quiet: bool,
) -> Result<String, CohortCommandError> {
    let sets: Vec<CriteriaSet> = criteria.iter().map(|c| resolve_criteria(c)).collect::<Result<_, _>>()?;
    let loaded = load_cohort(dir, &LoadOptions { quarantine })?;
    let default_truth = crate::hlh::Truth::default_path(dir);
    let truth_path = truth.map(Path::to_path_buf).or(default_truth);
    let truth = match &truth_path {
        Some(p) => Some(Truth::load(p, &loaded.cohort)?),
        None => None,
    };
    let outdir = OutputDir::create(out, force)?;
    let mut summary = String::new();
    let mut kept: Vec<Detection> = Vec::new();
    let bar = terminal_bar(
        (loaded.cohort.patients.len() * sets.len()) as u64,
        "{bar:30} {pos}/{len} patients x definitions ({eta} left)",
        quiet,
    );
    let advance = |n: usize| bar.inc(n as u64);
    for set in &sets {
        let opts = DetectOptions { on_chunk: Some(&advance), ..DetectOptions::default() };
        let mut d = detect_many_into(&loaded.cohort, std::slice::from_ref(set), &opts)
            .map_err(|e| CohortCommandError::Io { path: out.to_path_buf(), source: e })?
            .remove(0); // one set in, one detection out
        let stem = file_stem(&d.criteria_set);
        for t in [d.episodes_table(&format!("episodes_{stem}")), d.evidence_table(&format!("evidence_{stem}"))] {
            crate::report::write_csv_and_parquet(&t, outdir.path())?;
        }
        summary.push_str(&d.summary_text());
        summary.push('\n');
        if truth.is_some() {
            d.evidence = Vec::new(); // validation reads the episodes only
            kept.push(d);
        }
    }
    bar.finish_and_clear();
    if let (Some(t), Some(p)) = (&truth, &truth_path) {
        let rows = crate::hlh::validate(t, &kept, &loaded.cohort);
        crate::report::write_csv_file(&crate::hlh::validation_table("hlh_validation", &rows), outdir.path())?;
        summary.push_str(&format!("truth: {} ({} true episodes)\n", p.display(), t.episodes.len()));
        summary.push_str(&validation_summary(&rows));
    }
    if loaded.report.rejected_count > 0 {
        loaded.report.write_rejects_csv(&outdir.path().join("rejects.csv"))?;
    }
    std::fs::write(outdir.path().join("validation.json"), loaded.report.to_json())
        .map_err(|e| CohortCommandError::Io { path: outdir.path().join("validation.json"), source: e })?;
    let mut manifest = crate::report::manifest::Manifest {
        hemosurv_version: env!("CARGO_PKG_VERSION").to_string(),
        command: std::env::args().collect(),
        ..Default::default()
    };
    manifest.record_outputs(outdir.path())?;
    manifest.write(outdir.path())?;
    outdir.commit()?;
    Ok(summary)
}

/// `hemosurv simulate`: default parameters, or those of `params` (JSON or TOML, by
/// extension; missing fields keep their defaults); `clean` switches the mimic model off.
pub fn simulate_cmd(
    patients: usize,
    seed: u64,
    out: &Path,
    format: SimFormat,
    clean: bool,
    params: Option<&Path>,
    quiet: bool,
) -> Result<SimSummary, CohortCommandError> {
    let mut opts = SimOptions::new(patients, seed, out, format);
    if let Some(path) = params {
        opts.params = read_sim_params(path)?;
    }
    if clean {
        opts.params.mimics = false;
    }
    let bar = terminal_bar(patients as u64, "{bar:30} {pos}/{len} patients simulated ({eta} left)", quiet);
    let summary = simulate_with_progress(&opts, |done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    Ok(summary?)
}

/// A progress bar of `len` steps on a terminal only: hidden with `quiet` and when stderr is
/// redirected (scripts, tests, CI logs).
fn terminal_bar(len: u64, template: &str, quiet: bool) -> indicatif::ProgressBar {
    let bar = if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(len)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    bar
}

/// Read simulation parameters from a JSON (`.json`) or TOML file.
fn read_sim_params(path: &Path) -> Result<SimParams, CohortCommandError> {
    let text = std::fs::read_to_string(path).map_err(|source| CohortCommandError::Io { path: path.to_path_buf(), source })?;
    let invalid = |message: String| SimError::InvalidOption { name: format!("params ({})", path.display()), message };
    let params = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
    } else {
        toml::from_str(&text).map_err(|e| invalid(e.to_string()))?
    };
    Ok(params)
}
