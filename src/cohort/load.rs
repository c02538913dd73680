//! Loading a cohort folder: discover the tables, validate and convert every
//! row, and either fail with the full report (strict, the default) or
//! quarantine the rows with errors.
//!
//! The data contract is documented in `docs/data-format.md`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::CohortError;
use super::measure::load_measurements;
use super::model::Cohort;
use super::parts::{MeasurementParts, PartOptions};
use super::rows::{load_adjudications, load_findings, load_patients, load_responses, load_treatments, PatientIndex};
use super::source::{self, Format, InputTable};
use super::validation::ValidationReport;

/// How to treat rows with errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `false` (default, strict): any error fails the load with
    /// [`CohortError::Invalid`]. `true`: rows with errors are moved to
    /// [`ValidationReport::rejects`] with their reasons and the rest loads
    /// (structural errors — missing `patients`, unreadable file, missing
    /// column, duplicate table file — still fail).
    pub quarantine: bool,
}

/// One input file of a loaded cohort, for provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputFile {
    /// Table name.
    pub table: String,
    /// Path of the file.
    pub path: PathBuf,
    /// CSV or Parquet.
    pub format: Format,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Data rows in the file.
    pub rows: u64,
}

/// A loaded cohort with its validation report and input provenance.
#[derive(Debug, Clone)]
pub struct LoadedCohort {
    /// The validated, unit-normalised cohort.
    pub cohort: Cohort,
    /// Warnings (and, with quarantine, the errors and rejected rows).
    pub report: ValidationReport,
    /// The files read, in table order.
    pub inputs: Vec<InputFile>,
}

/// Outcome of one validation run.
struct Run {
    cohort: Option<Cohort>,
    /// The measurements on disk by patient range (a streamed load with a `measurements` table).
    parts: Option<MeasurementParts>,
    report: ValidationReport,
    inputs: Vec<InputFile>,
    /// A structural error: nothing can be loaded even with quarantine.
    fatal: bool,
}

/// Validate (and, if `build`, assemble) a cohort folder. With `quarantine`
/// false the cohort is not assembled when an error was found.
fn run(dir: &Path, build: bool, quarantine: bool, parts: Option<&PartOptions>) -> Run {
    let mut report = ValidationReport::default();
    let Some(files) = source::discover(dir, &mut report) else {
        return Run { cohort: None, parts: None, report, inputs: Vec::new(), fatal: true };
    };
    let mut fatal = report.has_errors();

    // Checksums run on another thread while the tables are parsed.
    std::thread::scope(|scope| {
        let hashes =
            scope.spawn(|| files.iter().map(|f| crate::io::sha256_file(&f.path).map_err(|e| e.to_string())).collect::<Vec<_>>());

        let get = |name: &str| files.iter().find(|f| f.table == name);
        let patients = get("patients").and_then(|tf| load_patients(tf, &mut report));
        let mut cohort = None;
        let mut measurement_parts = None;
        match patients {
            None => {
                fatal = true;
                // Still check the structure (columns) of the other tables.
                for tf in files.iter().filter(|f| f.table != "patients") {
                    check_structure(tf, &mut report);
                }
            }
            Some(p) => {
                let index = PatientIndex::new(&p);
                let mut optional_ok = true;
                let treatments = get("treatments").map(|tf| load_treatments(tf, &index, &mut report));
                let responses = get("responses").map(|tf| {
                    let t = treatments.as_ref().and_then(|t| t.as_deref());
                    load_responses(tf, &index, t, &mut report)
                });
                let findings = get("findings").map(|tf| load_findings(tf, &index, &mut report));
                let measurements = get("measurements").map(|tf| load_measurements(tf, &index, &mut report, parts));
                let adjudications = get("adjudications").map(|tf| load_adjudications(tf, &index, &mut report));
                for present in [
                    treatments.as_ref().map(Option::is_some),
                    responses.as_ref().map(Option::is_some),
                    findings.as_ref().map(Option::is_some),
                    measurements.as_ref().map(Option::is_some),
                    adjudications.as_ref().map(Option::is_some),
                ]
                .into_iter()
                .flatten()
                {
                    optional_ok &= present;
                }
                fatal |= !optional_ok;
                drop(index);
                if build && !fatal && (quarantine || !report.has_errors()) {
                    let (measurements, units) = match measurements.flatten() {
                        Some(m) => {
                            measurement_parts = m.parts;
                            ((m.measurements, Some(m.order)), m.unit_spellings)
                        }
                        None => ((Vec::new(), None), Vec::new()),
                    };
                    let mut c = Cohort::assemble(
                        p.patients,
                        measurements,
                        findings.flatten().unwrap_or_default(),
                        treatments.flatten().unwrap_or_default(),
                        responses.flatten().unwrap_or_default(),
                        units,
                    );
                    c.covariates = p.covariates;
                    c.tables_present = files.iter().filter(|f| f.table != "patients").map(|f| f.table.to_string()).collect();
                    c.set_adjudications(adjudications.flatten().unwrap_or_default());
                    cohort = Some(c);
                }
            }
        }

        let hashes = hashes.join().unwrap_or_else(|_| vec![Err("checksum thread panicked".to_string()); files.len()]);
        let mut inputs = Vec::with_capacity(files.len());
        for (f, h) in files.iter().zip(hashes) {
            match h {
                Ok(sha256) => inputs.push(InputFile {
                    table: f.table.to_string(),
                    path: f.path.clone(),
                    format: f.format,
                    sha256,
                    rows: report.tables.get(f.table).map_or(0, |c| c.rows),
                }),
                Err(e) => {
                    fatal = true;
                    report.push(source::table_issue(
                        super::validation::Severity::Error,
                        super::validation::IssueKind::UnreadableTable,
                        f.table,
                        None,
                        format!("cannot read {}: {e}", f.path.display()),
                    ));
                }
            }
        }
        Run { cohort, parts: measurement_parts, report, inputs, fatal }
    })
}

/// Column-level check of a table whose rows cannot be checked (no usable `patients`).
fn check_structure(tf: &InputTable, report: &mut ValidationReport) {
    let required: &[&str] = match tf.table {
        "measurements" => &["patient_id", "date", "analyte", "value", "unit"],
        "findings" => &["patient_id", "date", "finding", "present"],
        "treatments" => &["patient_id", "line", "regimen", "intensity", "start_date"],
        "responses" => &["patient_id", "line", "date", "response"],
        "adjudications" => &super::rows::ADJUDICATION_COLUMNS,
        _ => &[],
    };
    if let Some(actual) = super::rows::table_columns(tf, report) {
        let _ = source::bind_columns(tf.table, &actual, required, &[], report);
    }
}

/// Load, validate and unit-normalise the cohort folder `dir`.
///
/// Strict by default: any error returns `Err(CohortError::Invalid(report))`
/// with every problem found in every table. With
/// [`LoadOptions::quarantine`], rows with errors are rejected (listed in
/// `report.rejects`, counted per table) and the rest loads; a rejected patient
/// rejects its rows in the other tables too.
pub fn load_cohort(dir: &Path, opts: &LoadOptions) -> Result<LoadedCohort, CohortError> {
    Ok(load(dir, opts, None)?.0)
}

/// [`load_cohort`], with the measurements written to disk by patient range as they are
/// converted instead of kept: the cohort has no measurements, and the parts (`None` without a
/// `measurements` table) give them back one patient range at a time. The validation (issues,
/// counts, rejects) is exactly [`load_cohort`]'s.
pub fn load_cohort_in_parts(
    dir: &Path,
    opts: &LoadOptions,
    parts: &PartOptions,
) -> Result<(LoadedCohort, Option<MeasurementParts>), CohortError> {
    load(dir, opts, Some(parts))
}

fn load(
    dir: &Path,
    opts: &LoadOptions,
    parts: Option<&PartOptions>,
) -> Result<(LoadedCohort, Option<MeasurementParts>), CohortError> {
    let r = run(dir, true, opts.quarantine, parts);
    if r.fatal || (r.report.has_errors() && !opts.quarantine) {
        return Err(CohortError::Invalid(Box::new(r.report)));
    }
    match r.cohort {
        Some(cohort) => Ok((LoadedCohort { cohort, report: r.report, inputs: r.inputs }, r.parts)),
        None => Err(CohortError::Invalid(Box::new(r.report))),
    }
}

/// Validate the cohort folder `dir` without keeping the cohort (for
/// `hemosurv validate`). Runs exactly the checks of [`load_cohort`]; the
/// options do not change which problems are found.
pub fn validate_dir(dir: &Path, opts: &LoadOptions) -> ValidationReport {
    run(dir, false, opts.quarantine, None).report
}

impl Cohort {
    /// Error with [`CohortError::MissingTable`] unless the optional `table` was
    /// present in the cohort folder (`patients` is always present).
    pub fn require_table(&self, table: &str, needed_for: &str) -> Result<(), CohortError> {
        if table == "patients" || self.tables_present.iter().any(|t| t == table) {
            Ok(())
        } else {
            Err(CohortError::MissingTable { table: table.to_string(), needed_for: needed_for.to_string() })
        }
    }
}
