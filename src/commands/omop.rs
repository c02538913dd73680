//! `hemosurv import omop`, `hemosurv omop mapping show` and `hemosurv run --omop`: CLI glue
//! over [`crate::cohort::omop`].

use std::path::Path;

use super::cohort_cmds::CohortCommandError;
use crate::cohort::omop::{import, import_to_folder, write_cohort, CheckedMapping, Mapping, OmopError, DEFAULT_MAPPING_TOML};
use crate::cohort::Format;
use crate::io::atomic_dir::StagingDir;
use crate::report::ReportError;
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

/// `hemosurv run --omop CDM ...`: imports the extract into a hidden staging folder beside the
/// output ([`StagingDir`]), runs the study on it (exactly as `run` on an imported folder) and
/// moves the imported cohort into `OUT/omop_cohort/` (the loader reads cohort folders, not
/// memory). On failure the staging folder is removed.
pub fn run_omop(cdm: &Path, mapping: Option<&Path>, opts: &RunOptions) -> Result<RunSummary, CohortCommandError> {
    let mapping = load_mapping(mapping)?;
    let staged = StagingDir::beside(&opts.out, RUN_COHORT_DIR).map_err(ReportError::from)?;
    let imported = import(cdm, mapping)?;
    write_cohort(&imported, staged.path(), Format::Csv)?;
    drop(imported);
    let run_opts = RunOptions { cohort_dir: staged.path().to_path_buf(), ..opts.clone() };
    let summary = study::run(&run_opts)?;
    staged.move_to(&summary.out.join(RUN_COHORT_DIR)).map_err(ReportError::from)?;
    Ok(summary)
}
