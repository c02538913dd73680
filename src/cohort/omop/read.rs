//! Reading the OMOP tables of a CDM folder (CSV or Parquet, one file per table) as text
//! cells, with typed accessors whose errors name the table, row and column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::OmopError;
use crate::cohort::cells::clean;
use crate::cohort::source::{scan, Format, InputTable};
use crate::cohort::{iso_to_day, Day};

/// The OMOP tables the import reads, and whether each is required.
pub const OMOP_TABLES: [(&str, bool); 10] = [
    ("person", true),
    ("observation_period", true),
    ("death", false),
    ("condition_occurrence", true),
    ("measurement", false),
    ("observation", false),
    ("drug_exposure", false),
    ("concept", true),
    ("episode", false),
    ("episode_event", false),
];

/// One OMOP table read as text: every column cast to a single-chunk string column.
pub struct RawTable {
    /// Table name (lower case).
    pub name: &'static str,
    /// The file read.
    pub path: PathBuf,
    names: Vec<String>,
    cols: Vec<StringChunked>,
    height: usize,
}

/// A bound column of a [`RawTable`] (`None`: the optional column is absent).
#[derive(Debug, Clone, Copy)]
pub struct ColRef {
    idx: Option<usize>,
    name: &'static str,
}

impl RawTable {
    /// Data rows.
    pub fn height(&self) -> usize {
        self.height
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(name))
    }

    /// A required column; missing → error naming the table, column and the columns found.
    pub fn require(&self, name: &'static str) -> Result<ColRef, OmopError> {
        match self.find(name) {
            Some(i) => Ok(ColRef { idx: Some(i), name }),
            None => Err(OmopError::MissingColumn {
                table: self.name.to_string(),
                path: self.path.clone(),
                column: name.to_string(),
                found: self.names.join(", "),
            }),
        }
    }

    /// An optional column.
    pub fn optional(&self, name: &'static str) -> ColRef {
        ColRef { idx: self.find(name), name }
    }

    /// Trimmed text of a cell (`None`: empty, white space, `NA` or absent column).
    pub fn text(&self, c: ColRef, row: usize) -> Option<&str> {
        c.idx.and_then(|i| self.cols[i].get(row)).and_then(clean)
    }

    fn bad(&self, c: ColRef, row: usize, expected: &str) -> OmopError {
        OmopError::BadValue {
            table: self.name.to_string(),
            row: row + 1,
            column: c.name.to_string(),
            expected: expected.to_string(),
            found: self.text(c, row).unwrap_or("").to_string(),
        }
    }

    /// A whole number (`12`, `12.0`), or `None` if empty.
    pub fn int(&self, c: ColRef, row: usize) -> Result<Option<i64>, OmopError> {
        let Some(t) = self.text(c, row) else { return Ok(None) };
        if let Ok(v) = t.parse::<i64>() {
            return Ok(Some(v));
        }
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(v as i64)),
            _ => Err(self.bad(c, row, "a whole number")),
        }
    }

    /// A required whole number.
    pub fn req_int(&self, c: ColRef, row: usize) -> Result<i64, OmopError> {
        self.int(c, row)?.ok_or_else(|| self.bad(c, row, "a whole number (the cell is required)"))
    }

    /// A finite number, or `None` if empty.
    pub fn number(&self, c: ColRef, row: usize) -> Result<Option<f64>, OmopError> {
        let Some(t) = self.text(c, row) else { return Ok(None) };
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.bad(c, row, "a finite number")),
        }
    }

    /// A date (`YYYY-MM-DD`, a datetime floored to its day), or `None` if empty.
    pub fn date(&self, c: ColRef, row: usize) -> Result<Option<Day>, OmopError> {
        let Some(t) = self.text(c, row) else { return Ok(None) };
        iso_to_day(t).map(Some).ok_or_else(|| self.bad(c, row, "a date YYYY-MM-DD"))
    }

    /// A required date.
    pub fn req_date(&self, c: ColRef, row: usize) -> Result<Day, OmopError> {
        self.date(c, row)?.ok_or_else(|| self.bad(c, row, "a date YYYY-MM-DD (the cell is required)"))
    }

    /// The error for a cell that parsed but is not acceptable (`expected` says what is).
    pub fn invalid(&self, c: ColRef, row: usize, expected: &str) -> OmopError {
        self.bad(c, row, expected)
    }
}

/// The OMOP tables found in a CDM folder.
pub struct Cdm {
    /// The folder.
    pub dir: PathBuf,
    tables: HashMap<&'static str, RawTable>,
}

impl Cdm {
    /// A table, if present.
    pub fn get(&self, name: &str) -> Option<&RawTable> {
        self.tables.get(name)
    }

    /// Names of the tables present, in [`OMOP_TABLES`] order.
    pub fn present(&self) -> Vec<&'static str> {
        OMOP_TABLES.iter().map(|(n, _)| *n).filter(|n| self.tables.contains_key(n)).collect()
    }
}

/// Find `NAME.csv` / `NAME.parquet` (file names compared ignoring case, as OMOP exports often
/// use upper case) for each OMOP table.
fn discover(dir: &Path) -> Result<Vec<InputTable>, OmopError> {
    let entries = std::fs::read_dir(dir).map_err(|e| OmopError::Structure {
        path: dir.to_path_buf(),
        message: format!("cannot read the OMOP CDM folder: {e}"),
    })?;
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(|n| (n.to_ascii_lowercase(), p.clone())))
        .collect();
    files.sort();
    let mut found = Vec::new();
    for (table, required) in OMOP_TABLES {
        let csv = files.iter().find(|(n, _)| *n == format!("{table}.csv"));
        let pq = files.iter().find(|(n, _)| *n == format!("{table}.parquet"));
        match (csv, pq) {
            (Some(a), Some(b)) => {
                return Err(OmopError::Structure {
                    path: dir.to_path_buf(),
                    message: format!(
                        "both {} and {} exist for table {table}; keep one",
                        a.1.file_name().unwrap_or_default().to_string_lossy(),
                        b.1.file_name().unwrap_or_default().to_string_lossy()
                    ),
                })
            }
            (Some((_, p)), None) => found.push(InputTable { table, path: p.clone(), format: Format::Csv }),
            (None, Some((_, p))) => found.push(InputTable { table, path: p.clone(), format: Format::Parquet }),
            (None, None) if required => {
                return Err(OmopError::Structure {
                    path: dir.to_path_buf(),
                    message: format!("the required OMOP table `{table}` is missing (no {table}.csv or {table}.parquet)"),
                })
            }
            (None, None) => {}
        }
    }
    Ok(found)
}

/// Read one table, every column as text.
fn read_table(tf: &InputTable) -> Result<RawTable, OmopError> {
    let unreadable =
        |e: PolarsError| OmopError::Unreadable { table: tf.table.to_string(), path: tf.path.clone(), message: e.to_string() };
    let df = scan(tf).and_then(|lf| lf.collect()).map_err(unreadable)?;
    let mut names = Vec::with_capacity(df.width());
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        let s = c.as_materialized_series().cast(&DataType::String).map_err(unreadable)?;
        names.push(c.name().to_string());
        cols.push(s.str().map_err(unreadable)?.rechunk().into_owned());
    }
    Ok(RawTable { name: tf.table, path: tf.path.clone(), names, cols, height: df.height() })
}

/// Read every OMOP table of `dir`.
pub fn read_cdm(dir: &Path) -> Result<Cdm, OmopError> {
    let mut tables = HashMap::new();
    for tf in discover(dir)? {
        tables.insert(tf.table, read_table(&tf)?);
    }
    Ok(Cdm { dir: dir.to_path_buf(), tables })
}
