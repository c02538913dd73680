//! `hemosurv import omop`, `hemosurv omop mapping show` and `hemosurv run --omop`: CLI glue
//! over [`crate::cohort::omop`].

use std::path::{Path, PathBuf};

use super::cohort_cmds::CohortCommandError;
use crate::cohort::omop::{import_to_folder, CheckedMapping, Mapping, OmopError, DEFAULT_MAPPING_TOML};
use crate::cohort::Format;
use crate::study::{self, RunOptions, RunSummary};

/// The folder inside a run's output that holds the cohort imported by `run --omop`.
pub const RUN_COHORT_DIR: &str = "omop_cohort";

/// The mapping of `--mapping FILE`, or the built-in one.
pub fn load_mapping(file: Option<&Path>) -> Result<CheckedMapping, OmopError> {
    match file {
        Some(p) => Mapping::from_file(p),
        None => Mapping::default_mapping(),
    }
}

/// `hemosurv omop mapping show [FILE]`: the built-in mapping (with its comments), or FILE
/// checked and printed as hemosurv read it.
pub fn mapping_show(file: Option<&Path>) -> Result<String, CohortCommandError> {
    match file {
        None => Ok(DEFAULT_MAPPING_TOML.to_string()),
        Some(p) => Ok(Mapping::from_file(p)?.mapping.to_toml_string()?),
    }
}

/// `hemosurv import omop CDM --out COHORT`: returns the one-screen summary (the audit's
/// `summary.txt`).
pub fn import_cmd(
    cdm: &Path,
    out: &Path,
    mapping: Option<&Path>,
    format: Format,
    force: bool,
) -> Result<String, CohortCommandError> {
    let mapping = load_mapping(mapping)?;
    let (imported, rows) = import_to_folder(cdm, out, mapping, format, force)?;
    Ok(imported.audit.summary_text(&rows))
}

/// `hemosurv run --omop CDM ...`: imports the extract into a temporary folder beside the
/// output, runs the study on it (exactly as `run` on an imported folder) and moves the
/// imported cohort into `OUT/omop_cohort/` (the loader reads cohort folders, not memory).
pub fn run_omop(cdm: &Path, mapping: Option<&Path>, opts: &RunOptions) -> Result<RunSummary, CohortCommandError> {
    let mapping = load_mapping(mapping)?;
    let name = opts.out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let parent = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staged = parent.join(format!(".{name}.{RUN_COHORT_DIR}-{}", std::process::id()));
    if staged.exists() {
        std::fs::remove_dir_all(&staged).map_err(|source| CohortCommandError::Io { path: staged.clone(), source })?;
    }
    import_to_folder(cdm, &staged, mapping, Format::Csv, false)?;
    let run_opts = RunOptions { cohort_dir: staged.clone(), ..opts.clone() };
    let result = study::run(&run_opts);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e.into());
        }
    };
    let dest = summary.out.join(RUN_COHORT_DIR);
    std::fs::rename(&staged, &dest).map_err(|source| CohortCommandError::Io { path: dest, source })?;
    Ok(summary)
}
