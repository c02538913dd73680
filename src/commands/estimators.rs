//! `hemosurv km | logrank | cox | cif FILE ...`: an estimator on any table.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use thiserror::Error;

use crate::io::table::StatusCoding;
use crate::io::{Table, TableError};
use crate::stats::cif::cuminc;
use crate::stats::cox::{coxph_owned, CoxOptions, Ties};
use crate::stats::design::{build_design, ColumnData};
use crate::stats::km::{kaplan_meier, ConfType, KmOptions};
use crate::stats::logrank::survdiff;
use crate::stats::{Grouping, StatsError};
use crate::table::{Cell, ResultTable};

/// Errors of the estimator subcommands.
#[derive(Debug, Error)]
pub enum EstimatorError {
    /// Reading the input table failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The estimator rejected the input.
    #[error("{file}: {source}")]
    Stats {
        /// Input file.
        file: PathBuf,
        /// Cause (names the column or term).
        source: StatsError,
    },
    /// Writing an output file failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// Output path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Bad argument.
    #[error("{0}")]
    Argument(String),
}

fn stats_err(file: &Path) -> impl FnOnce(StatsError) -> EstimatorError + '_ {
    move |source| EstimatorError::Stats { file: file.to_path_buf(), source }
}

fn create(path: PathBuf) -> Result<(BufWriter<File>, PathBuf), EstimatorError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| EstimatorError::Write { path: dir.to_path_buf(), source: e })?;
    }
    let f = File::create(&path).map_err(|e| EstimatorError::Write { path: path.clone(), source: e })?;
    Ok((BufWriter::new(f), path))
}

fn finish(mut w: BufWriter<File>, path: &Path) -> Result<(), EstimatorError> {
    w.flush().map_err(|e| EstimatorError::Write { path: path.to_path_buf(), source: e })
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn grouping(table: &Table, col: Option<&str>) -> Result<Grouping, EstimatorError> {
    Ok(match col {
        Some(c) => table.grouping(c)?,
        None => Grouping::single(table.n_rows(), "all"),
    })
}

/// Time, event and grouping read from a table, and the note on the status coding.
struct SurvivalColumns {
    time: Vec<f64>,
    event: Vec<bool>,
    groups: Grouping,
    /// Set when the status column used R's 1/2 coding.
    note: Option<String>,
}

/// Time, status (0/1, or R's 1/2: see [`Table::status`]) and grouping columns
/// of a table, the grouping (a pass over text) read on one core while the
/// numbers are read on another. A note on the status coding, if any, is printed
/// on stderr and returned for the outputs.
fn survival_columns(t: &Table, time: &str, event: &str, group: Option<&str>) -> Result<SurvivalColumns, EstimatorError> {
    let (numbers, g) =
        rayon::join(|| -> Result<_, TableError> { Ok((t.numeric_required(time)?, t.status(event)?)) }, || grouping(t, group));
    let (time, (status, coding)) = numbers?;
    Ok(SurvivalColumns { time, event: status, groups: g?, note: status_note(t, event, coding) })
}

/// The note on a status column's coding (R's 1/2), printed on stderr as the
/// command reads the file; `None` for plain 0/1.
fn status_note(t: &Table, column: &str, coding: StatusCoding) -> Option<String> {
    let note = coding.note(column)?;
    eprintln!("note: {}: {note}", t.path().display());
    Some(note)
}

/// Write `table` as CSV to `path`, with a last column `note` holding `note` on every row
/// when there is a note (R's 1/2 status coding).
fn write_table(path: PathBuf, table: ResultTable, note: Option<&str>) -> Result<PathBuf, EstimatorError> {
    let table = match note {
        Some(note) => table.with_trailing_column("note", Cell::from(note)),
        None => table,
    };
    let bytes =
        table.to_csv_bytes().map_err(|e| EstimatorError::Write { path: path.clone(), source: std::io::Error::other(e) })?;
    let (mut w, path) = create(path)?;
    w.write_all(&bytes).map_err(|e| EstimatorError::Write { path: path.clone(), source: e })?;
    finish(w, &path)?;
    Ok(path)
}

/// `value` with `"notes": [note]` added when there is a note.
fn with_note(mut value: serde_json::Value, note: Option<&str>) -> serde_json::Value {
    if let (Some(note), Some(obj)) = (note, value.as_object_mut()) {
        obj.insert("notes".into(), serde_json::json!([note]));
    }
    value
}

fn write_json(path: PathBuf, value: &serde_json::Value) -> Result<PathBuf, EstimatorError> {
    let (mut w, path) = create(path)?;
    let text = serde_json::to_string_pretty(value).map_err(|e| EstimatorError::Argument(e.to_string()))?;
    w.write_all(text.as_bytes())
        .and_then(|_| w.write_all(b"\n"))
        .map_err(|e| EstimatorError::Write { path: path.clone(), source: e })?;
    finish(w, &path)?;
    Ok(path)
}

/// Arguments of `hemosurv km`.
#[derive(Debug, Clone)]
pub struct KmArgs {
    /// Input table.
    pub file: PathBuf,
    /// Time column.
    pub time: String,
    /// Event column (0/1, or R's 1/2 when it holds only 1 and 2).
    pub event: String,
    /// Group column.
    pub group: Option<String>,
    /// Confidence-interval type.
    pub conf_type: ConfType,
    /// Confidence level.
    pub conf_level: f64,
    /// RMST horizon.
    pub rmst_tau: Option<f64>,
    /// Also run the log-rank test (rho = 0) between the groups on the same
    /// read of the file, writing `PREFIX.logrank.json` (needs `group`).
    pub logrank: bool,
    /// Output prefix: writes `PREFIX.km.csv` and `PREFIX.summary.csv`.
    pub out: PathBuf,
}

/// Kaplan–Meier (+ Nelson–Aalen) → `PREFIX.km.csv`, `PREFIX.summary.csv`,
/// and with `logrank` the log-rank test between groups → `PREFIX.logrank.json`.
pub fn km(a: &KmArgs) -> Result<Vec<PathBuf>, EstimatorError> {
    if a.logrank && a.group.is_none() {
        return Err(EstimatorError::Argument("--logrank needs --group".to_string()));
    }
    let t = Table::read(&a.file)?;
    let SurvivalColumns { time, event, groups: g, note } = survival_columns(&t, &a.time, &a.event, a.group.as_deref())?;
    let opts = KmOptions { conf_type: a.conf_type, conf_level: a.conf_level, rmst_tau: a.rmst_tau };
    let (fit, test) =
        rayon::join(|| kaplan_meier(&time, &event, &g, &opts), || a.logrank.then(|| survdiff(&time, &event, &g, None, 0.0)));
    let fit = fit.map_err(stats_err(&a.file))?;
    let test = test.transpose().map_err(stats_err(&a.file))?;
    let p1 = write_table(with_suffix(&a.out, ".km.csv"), fit.table("km"), None)?;
    let p2 = write_table(with_suffix(&a.out, ".summary.csv"), fit.summary_table("summary"), note.as_deref())?;
    let mut written = vec![p1, p2];
    if let Some(test) = test {
        written.push(write_json(with_suffix(&a.out, ".logrank.json"), &with_note(test.to_json(), note.as_deref()))?);
    }
    Ok(written)
}

/// Arguments of `hemosurv logrank`.
#[derive(Debug, Clone)]
pub struct LogRankArgs {
    /// Input table.
    pub file: PathBuf,
    /// Time column.
    pub time: String,
    /// Event column.
    pub event: String,
    /// Group column.
    pub group: String,
    /// Strata column.
    pub strata: Option<String>,
    /// G-rho parameter (0 = log-rank, 1 = Peto–Peto).
    pub rho: f64,
    /// Output prefix: writes `PREFIX.logrank.json`.
    pub out: PathBuf,
}

/// G-rho test → `PREFIX.logrank.json`.
pub fn logrank(a: &LogRankArgs) -> Result<Vec<PathBuf>, EstimatorError> {
    let t = Table::read(&a.file)?;
    let SurvivalColumns { time, event, groups: g, note } = survival_columns(&t, &a.time, &a.event, Some(&a.group))?;
    let strata = match &a.strata {
        Some(s) => Some(grouping(&t, Some(s))?),
        None => None,
    };
    let test = survdiff(&time, &event, &g, strata.as_ref(), a.rho).map_err(stats_err(&a.file))?;
    Ok(vec![write_json(with_suffix(&a.out, ".logrank.json"), &with_note(test.to_json(), note.as_deref()))?])
}

/// Arguments of `hemosurv cox`.
#[derive(Debug, Clone)]
pub struct CoxArgs {
    /// Input table.
    pub file: PathBuf,
    /// Stop (or follow-up) time column.
    pub time: String,
    /// Event column.
    pub event: String,
    /// Start column for counting-process `(start, stop]` data.
    pub start: Option<String>,
    /// Covariate columns (text columns become treatment contrasts).
    pub covariates: Vec<String>,
    /// Ties handling.
    pub ties: Ties,
    /// Strata column.
    pub strata: Option<String>,
    /// Cluster column for robust variance.
    pub cluster: Option<String>,
    /// Confidence level.
    pub conf_level: f64,
    /// Output prefix: `PREFIX.cox.csv`, `PREFIX.cox.json`.
    pub out: PathBuf,
}

/// What the Cox fit needs from the input file.
struct CoxData {
    x: ndarray::Array2<f64>,
    terms: Vec<String>,
    stop: Vec<f64>,
    event: Vec<bool>,
    start: Option<Vec<f64>>,
    strata: Option<Vec<usize>>,
    cluster: Option<Vec<usize>>,
    note: Option<String>,
    dropped: usize,
}

/// Cox model → `PREFIX.cox.csv`, `PREFIX.cox.json`. Rows with a missing
/// covariate are dropped as R's `na.omit` does, and counted in the JSON.
pub fn cox(a: &CoxArgs) -> Result<Vec<PathBuf>, EstimatorError> {
    if a.covariates.is_empty() {
        return Err(EstimatorError::Argument("--covariates needs at least one column".into()));
    }
    // A plain numeric CSV is parsed straight into the vectors the fit needs; anything
    // else, and every input the fast path is not certain about, goes through the table.
    let d = match cox_data_plain(a) {
        Some(d) => d,
        None => cox_data_table(a)?,
    };
    let CoxData { x, terms, stop, event, start, strata, cluster, note, dropped } = d;
    crate::release_freed_memory();
    let opts = CoxOptions { ties: a.ties, conf_level: a.conf_level, ..CoxOptions::default() };
    let model = coxph_owned(start.as_deref(), &stop, &event, x, &terms, strata.as_deref(), cluster.as_deref(), &opts)
        .map_err(stats_err(&a.file))?;
    let p1 = write_table(with_suffix(&a.out, ".cox.csv"), model.coef_table("cox"), note.as_deref())?;
    let mut json = with_note(model.to_json(), note.as_deref());
    if let Some(obj) = json.as_object_mut() {
        obj.insert("rows_dropped_missing".into(), serde_json::json!(dropped));
    }
    let p2 = write_json(with_suffix(&a.out, ".cox.json"), &json)?;
    Ok(vec![p1, p2])
}

/// The Cox input of a plain CSV file whose needed columns are all numeric
/// ([`crate::io::plain_csv`]), without strata or cluster: the time, status, start and
/// covariate columns are parsed straight into their vectors (the covariates row-major,
/// as the design matrix), other columns are skipped. `None` whenever the result could
/// differ in any way from [`cox_data_table`]'s, including every input that is an error
/// there (a status other than 0/1 or 1/2, no complete row, a row with covariates but
/// no time or status, a constant or possibly collinear covariate): the caller then
/// takes that path, which gives the same numbers or the same error message.
fn cox_data_plain(a: &CoxArgs) -> Option<CoxData> {
    if a.strata.is_some() || a.cluster.is_some() {
        return None;
    }
    let covariates: Vec<&str> = a.covariates.iter().map(String::as_str).collect();
    let time_col = [a.time.as_str()];
    let status_col = [a.event.as_str()];
    let start_col: Vec<&str> = a.start.iter().map(String::as_str).collect();
    let mut groups: Vec<&[&str]> = vec![&time_col[..], &status_col[..]];
    if !start_col.is_empty() {
        groups.push(&start_col[..]);
    }
    groups.push(&covariates[..]);
    let read = crate::io::plain_csv::read_numeric_columns(&a.file, &groups)?;
    let n = read.n_rows;
    let p = covariates.len();
    let mut columns = read.groups.into_iter();
    let mut stop = columns.next()?;
    let status = columns.next()?;
    let mut start = if start_col.is_empty() { None } else { Some(columns.next()?) };
    let mut x = columns.next()?;
    // the status coding, decided on every row's value as `Table::status_optional` does
    let present = || status.iter().filter(|v| !v.is_nan());
    let one_two = present().all(|&v| v == 1.0 || v == 2.0) && present().any(|&v| v == 2.0);
    if !one_two && !present().all(|&v| v == 0.0 || v == 1.0) {
        return None;
    }
    let coding = if one_two { StatusCoding::OneTwo } else { StatusCoding::ZeroOne };
    let event_value = if one_two { 2.0 } else { 1.0 };
    // rows with a missing covariate are dropped (na.omit); the rows are compacted in place
    let mut event = Vec::with_capacity(n);
    let mut kept = 0;
    for i in 0..n {
        if x[i * p..(i + 1) * p].iter().any(|v| v.is_nan()) {
            continue;
        }
        // the table path checks the design before it drops rows without a time or status
        if stop[i].is_nan() || status[i].is_nan() || start.as_ref().is_some_and(|s| s[i].is_nan()) {
            return None;
        }
        if kept != i {
            x.copy_within(i * p..(i + 1) * p, kept * p);
            stop[kept] = stop[i];
            if let Some(s) = start.as_mut() {
                s[kept] = s[i];
            }
        }
        event.push(status[i] == event_value);
        kept += 1;
    }
    drop(status);
    if kept == 0 {
        return None;
    }
    x.truncate(kept * p);
    stop.truncate(kept);
    if let Some(s) = start.as_mut() {
        s.truncate(kept);
    }
    if !crate::stats::design::clearly_full_rank(&x, p) {
        return None;
    }
    let x = ndarray::Array2::from_shape_vec((kept, p), x).ok()?;
    let note = coding.note(&a.event);
    if let Some(note) = &note {
        eprintln!("note: {}: {note}", a.file.display());
    }
    Some(CoxData { x, terms: a.covariates.clone(), stop, event, start, strata: None, cluster: None, note, dropped: n - kept })
}

/// The Cox input read through [`Table`] (any CSV or Parquet file, text covariates,
/// strata, cluster). The file, its columns and the unfiltered design are dropped
/// before the fit (peak memory: issue 12).
fn cox_data_table(a: &CoxArgs) -> Result<CoxData, EstimatorError> {
    let t = Table::read(&a.file)?;
    let read_covariate = |c: &String| -> Result<(String, ColumnData), TableError> {
        let data = if t.is_numeric(c)? { ColumnData::Numeric(t.numeric(c)?) } else { ColumnData::Categorical(t.text(c)?) };
        Ok((c.clone(), data))
    };
    // Missing time/status also drop the row, as in R.
    let (columns, survival) = rayon::join(
        || a.covariates.par_iter().map(read_covariate).collect::<Result<Vec<_>, _>>(),
        || -> Result<_, TableError> {
            let start = match &a.start {
                Some(s) => Some(t.numeric(s)?),
                None => None,
            };
            Ok((t.numeric(&a.time)?, t.status_optional(&a.event)?, start))
        },
    );
    let (columns, (stop_all, (event_all, coding), start_all)) = (columns?, survival?);
    let note = status_note(&t, &a.event, coding);
    let design = build_design(&columns, None).map_err(stats_err(&a.file))?;
    // `keep`: input rows used; `design_rows`: their rows in the design matrix.
    let mut keep = Vec::with_capacity(design.kept_rows.len());
    let mut design_rows = Vec::with_capacity(design.kept_rows.len());
    for (k, &i) in design.kept_rows.iter().enumerate() {
        if stop_all[i].is_some() && event_all[i].is_some() && start_all.as_ref().is_none_or(|s| s[i].is_some()) {
            keep.push(i);
            design_rows.push(k);
        }
    }
    let dropped = design.dropped_rows.len() + design.kept_rows.len() - keep.len();
    // Rows of the design matrix to keep (all of them, without a copy, when no
    // time or status is missing).
    let x = if keep.len() == design.kept_rows.len() { design.x } else { design.x.select(ndarray::Axis(0), &design_rows) };
    let stop: Vec<f64> = keep.iter().map(|&i| stop_all[i].unwrap_or(f64::NAN)).collect();
    let event: Vec<bool> = keep.iter().map(|&i| event_all[i].unwrap_or(false)).collect();
    let start: Option<Vec<f64>> = start_all.map(|s| keep.iter().map(|&i| s[i].unwrap_or(f64::NAN)).collect());
    // Group codes of a strata or cluster column over the kept rows.
    let codes = |column: &Option<String>| -> Result<Option<Vec<usize>>, EstimatorError> {
        let Some(name) = column else { return Ok(None) };
        let labels = t.labels(name)?;
        let kept: Vec<String> = keep.iter().map(|&i| labels[i].clone()).collect();
        Ok(Some(Grouping::from_values(&kept).codes))
    };
    let strata = codes(&a.strata)?;
    let cluster = codes(&a.cluster)?;
    Ok(CoxData { x, terms: design.terms, stop, event, start, strata, cluster, note, dropped })
}

/// Arguments of `hemosurv cif`.
#[derive(Debug, Clone)]
pub struct CifArgs {
    /// Input table.
    pub file: PathBuf,
    /// Time column.
    pub time: String,
    /// Event column: 0 = censored, 1..k = causes.
    pub event: String,
    /// Group column.
    pub group: Option<String>,
    /// Output prefix: `PREFIX.cif.csv`, `PREFIX.cif.json`.
    pub out: PathBuf,
}

/// Cumulative incidence + Gray's test → `PREFIX.cif.csv`, `PREFIX.cif.json`.
pub fn cif(a: &CifArgs) -> Result<Vec<PathBuf>, EstimatorError> {
    let t = Table::read(&a.file)?;
    let (numbers, g) = rayon::join(
        || t.numeric_required(&a.time).and_then(|time| Ok((time, t.codes(&a.event)?))),
        || grouping(&t, a.group.as_deref()),
    );
    let ((time, event), g) = (numbers?, g?);
    let fit = cuminc(&time, &event, &g, None).map_err(stats_err(&a.file))?;
    let p1 = write_table(with_suffix(&a.out, ".cif.csv"), fit.table("cif"), None)?;
    let p2 = write_json(with_suffix(&a.out, ".cif.json"), &fit.to_json())?;
    Ok(vec![p1, p2])
}
