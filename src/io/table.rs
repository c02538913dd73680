//! A generic input table for `hemosurv km|logrank|cox|cif FILE ...`.
//!
//! The estimators in [`crate::stats`] take plain slices; this module reads a
//! CSV or Parquet file with polars and hands out columns as `f64`, `bool` or
//! text, with errors that name the file, the 1-based data row and the column.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::table::{Cell, ColumnType, ResultTable};
use thiserror::Error;

/// Errors reading a table or one of its columns.
#[derive(Debug, Error)]
pub enum TableError {
    /// The file could not be read or parsed at all.
    #[error("{path}: cannot read table: {message}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// The file type is neither `.csv` nor `.parquet`.
    #[error("{path}: unsupported file type (expected .csv or .parquet)")]
    UnsupportedType {
        /// File.
        path: PathBuf,
    },
    /// A requested column is absent.
    #[error("{path}: no column `{column}` (columns are: {available})")]
    MissingColumn {
        /// File.
        path: PathBuf,
        /// Requested column.
        column: String,
        /// Comma-separated list of the columns present.
        available: String,
    },
    /// A value could not be read as the expected type.
    #[error("{path}: row {row}, column `{column}`: expected {expected}, found `{found}`")]
    BadValue {
        /// File.
        path: PathBuf,
        /// 1-based data row (header excluded).
        row: usize,
        /// Column.
        column: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
}

/// How an event-status column codes censoring and events (see [`Table::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCoding {
    /// 0 = censored, 1 = event (or false / true).
    ZeroOne,
    /// R's alternative coding, as `Surv()` reads it: 1 = censored, 2 = event.
    /// Used only when the column holds nothing but 1 and 2 (at least one 2).
    OneTwo,
}

impl StatusCoding {
    /// A note for the output when the coding is not the plain 0/1 one, naming the column.
    pub fn note(self, column: &str) -> Option<String> {
        match self {
            StatusCoding::ZeroOne => None,
            StatusCoding::OneTwo => Some(format!("status column `{column}` coded 1/2: 2 = event, 1 = censored, as R's Surv()")),
        }
    }
}

/// A table loaded into memory.
pub struct Table {
    path: PathBuf,
    df: DataFrame,
}

impl Table {
    /// Read a CSV (header row, comma) or Parquet file, chosen by extension.
    pub fn read(path: &Path) -> Result<Table, TableError> {
        let read_err = |e: PolarsError| TableError::Read { path: path.to_path_buf(), message: e.to_string() };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let pl_path = PlRefPath::try_from_path(path).map_err(read_err)?;
        let df = match ext.as_str() {
            // the eager reader: ~15 % faster than a lazy scan + collect on 10 M rows
            "csv" => CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(10_000))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .map_err(read_err)?
                .finish()
                .map_err(read_err)?,
            "parquet" | "pq" => {
                LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()).map_err(read_err)?.collect().map_err(read_err)?
            }
            _ => return Err(TableError::UnsupportedType { path: path.to_path_buf() }),
        };
        Ok(Table { path: path.to_path_buf(), df })
    }

    /// Wrap an in-memory DataFrame (for tests and library users).
    pub fn from_dataframe(name: &str, df: DataFrame) -> Table {
        Table { path: PathBuf::from(name), df }
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.df.height()
    }

    /// The file the table came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn column(&self, name: &str) -> Result<&Column, TableError> {
        self.df.column(name).map_err(|_| TableError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            available: self.df.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Whether the column exists.
    pub fn has_column(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    /// A column as numbers; empty cells are `None`. Text that does not parse as
    /// a number is an error naming the row.
    pub fn numeric(&self, name: &str) -> Result<Vec<Option<f64>>, TableError> {
        let col = self.column(name)?;
        if col.dtype().is_primitive_numeric() || col.dtype() == &DataType::Boolean {
            let c =
                col.cast(&DataType::Float64).map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
            let ca = c.f64().map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
            return Ok(ca.iter().collect());
        }
        let strings = self.text(name)?;
        strings
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Ok(None),
                Some(s) if s.trim().is_empty() || s.trim() == "NA" => Ok(None),
                Some(s) => s.trim().parse::<f64>().map(Some).map_err(|_| TableError::BadValue {
                    path: self.path.clone(),
                    row: i + 1,
                    column: name.to_string(),
                    expected: "a number".into(),
                    found: s,
                }),
            })
            .collect()
    }

    /// A column of numbers with no missing values allowed.
    pub fn numeric_required(&self, name: &str) -> Result<Vec<f64>, TableError> {
        if let Some(values) = self.numbers_without_nulls(name)? {
            return Ok(values);
        }
        self.numeric(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| TableError::BadValue {
                    path: self.path.clone(),
                    row: i + 1,
                    column: name.to_string(),
                    expected: "a number (missing values are not allowed here)".into(),
                    found: String::new(),
                })
            })
            .collect()
    }

    /// A numeric (or boolean) column without missing values as `f64`, straight
    /// from the column's buffers; `None` for other columns (the slower paths
    /// parse text and report the row of a bad value).
    fn numbers_without_nulls(&self, name: &str) -> Result<Option<Vec<f64>>, TableError> {
        let col = self.column(name)?;
        if !(col.dtype().is_primitive_numeric() || col.dtype() == &DataType::Boolean) || col.null_count() > 0 {
            return Ok(None);
        }
        let read_err = |e: PolarsError| TableError::Read { path: self.path.clone(), message: e.to_string() };
        let c = col.cast(&DataType::Float64).map_err(read_err)?;
        let ca = c.f64().map_err(read_err)?;
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            out.extend_from_slice(arr.values().as_slice());
        }
        Ok(Some(out))
    }

    /// An event-status column: `0/1`, `true/false`, `TRUE/FALSE`, or R's `1/2`
    /// coding (1 = censored, 2 = event) when the column holds only 1 and 2, as
    /// `Surv()` reads it. Returns the events and the coding found, so callers can
    /// say which one was used. Missing values and any other value (e.g. a column
    /// with 0, 1 and 2, or 1 and 3) are errors naming the row.
    pub fn status(&self, name: &str) -> Result<(Vec<bool>, StatusCoding), TableError> {
        let (events, coding) = match self.numbers_without_nulls(name)? {
            Some(values) => self.decode_status(name, values.len(), |i| Some(values[i]), [0.0, 1.0, 2.0])?,
            None => {
                let codes = self.numeric_or_bool_codes(name)?;
                self.decode_status(name, codes.len(), |i| Some(codes[i]), [0, 1, 2])?
            }
        };
        Ok((events.into_iter().map(|e| e.unwrap_or(false)).collect(), coding))
    }

    /// As [`Table::status`], with empty cells allowed (`None`, e.g. for rows a
    /// model drops as R's `na.omit` does); the coding is decided on the values present.
    pub fn status_optional(&self, name: &str) -> Result<(Vec<Option<bool>>, StatusCoding), TableError> {
        let values = self.numeric(name)?;
        self.decode_status(name, values.len(), |i| values[i], [0.0, 1.0, 2.0])
    }

    /// Status from codes `[zero, one, two]` of rows `0..n` (`value(i)`, `None` =
    /// missing): R's 1/2 coding when every present value is `one` or `two` and
    /// at least one is `two` (R's rule: `max == 2`), else 0/1; any other value
    /// is an error naming its row and the values the column holds.
    fn decode_status<T: Copy + PartialEq + PartialOrd + std::fmt::Display>(
        &self,
        name: &str,
        n: usize,
        value: impl Fn(usize) -> Option<T>,
        [zero, one, two]: [T; 3],
    ) -> Result<(Vec<Option<bool>>, StatusCoding), TableError> {
        let present = || (0..n).filter_map(&value);
        if present().all(|v| v == one || v == two) && present().any(|v| v == two) {
            return Ok(((0..n).map(|i| value(i).map(|v| v == two)).collect(), StatusCoding::OneTwo));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            match value(i) {
                Some(v) if v == zero || v == one => out.push(Some(v == one)),
                None => out.push(None),
                Some(v) => {
                    let mut distinct: Vec<T> = Vec::new();
                    for x in present() {
                        if !distinct.contains(&x) {
                            distinct.push(x);
                        }
                        if distinct.len() > 8 {
                            break;
                        }
                    }
                    let more = distinct.len() > 8;
                    distinct.truncate(8);
                    distinct.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                    let listed: Vec<String> = distinct.iter().map(|x| x.to_string()).collect();
                    return Err(TableError::BadValue {
                        path: self.path.clone(),
                        row: i + 1,
                        column: name.to_string(),
                        expected: format!(
                            "event status 0 (censored) or 1 (event), or R's coding 1 (censored) / 2 (event) \
                             when the column holds only 1 and 2; the column holds {}{}",
                            listed.join(", "),
                            if more { ", ..." } else { "" }
                        ),
                        found: v.to_string(),
                    });
                }
            }
        }
        Ok((out, StatusCoding::ZeroOne))
    }

    /// Non-negative integer codes (event type for competing risks: 0 = censored, 1..k causes).
    pub fn codes(&self, name: &str) -> Result<Vec<u32>, TableError> {
        let values = self.numeric_or_bool_codes(name)?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                u32::try_from(v).map_err(|_| TableError::BadValue {
                    path: self.path.clone(),
                    row: i + 1,
                    column: name.to_string(),
                    expected: "a non-negative integer code".into(),
                    found: v.to_string(),
                })
            })
            .collect()
    }

    fn numeric_or_bool_codes(&self, name: &str) -> Result<Vec<i64>, TableError> {
        let col = self.column(name)?;
        if col.dtype() == &DataType::String {
            let strings = self.text(name)?;
            return strings
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let s = v.unwrap_or_default();
                    match s.trim().to_ascii_lowercase().as_str() {
                        "true" => Ok(1),
                        "false" => Ok(0),
                        t => t.parse::<i64>().map_err(|_| TableError::BadValue {
                            path: self.path.clone(),
                            row: i + 1,
                            column: name.to_string(),
                            expected: "an integer code or true/false".into(),
                            found: s.clone(),
                        }),
                    }
                })
                .collect();
        }
        let nums = self.numeric(name)?;
        nums.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(x) if x.fract() == 0.0 && x.is_finite() => Ok(x as i64),
                other => Err(TableError::BadValue {
                    path: self.path.clone(),
                    row: i + 1,
                    column: name.to_string(),
                    expected: "an integer code".into(),
                    found: other.map(|x| x.to_string()).unwrap_or_default(),
                }),
            })
            .collect()
    }

    /// A column as text (numbers are formatted as polars prints them); empty cells are `None`.
    pub fn text(&self, name: &str) -> Result<Vec<Option<String>>, TableError> {
        let col = self.column(name)?;
        let c = col.cast(&DataType::String).map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
        let ca = c.str().map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
        Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
    }

    /// A text column where missing values are not allowed (group labels).
    pub fn labels(&self, name: &str) -> Result<Vec<String>, TableError> {
        self.text(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.filter(|s| !s.is_empty()).ok_or_else(|| TableError::BadValue {
                    path: self.path.clone(),
                    row: i + 1,
                    column: name.to_string(),
                    expected: "a group label (missing values are not allowed here)".into(),
                    found: String::new(),
                })
            })
            .collect()
    }

    /// Group levels of a column (R factor order), read without per-row allocation.
    /// Missing values are an error naming the row.
    pub fn grouping(&self, name: &str) -> Result<crate::stats::Grouping, TableError> {
        let col = self.column(name)?;
        let c = col.cast(&DataType::String).map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
        let ca = c.str().map_err(|e| TableError::Read { path: self.path.clone(), message: e.to_string() })?;
        let missing = if ca.null_count() > 0 { ca.iter().position(|v| v.is_none()) } else { None };
        match missing.map_or_else(|| group_string_views(ca), Err) {
            Ok(g) => Ok(g),
            Err(i) => Err(TableError::BadValue {
                path: self.path.clone(),
                row: i + 1,
                column: name.to_string(),
                expected: "a group label (missing values are not allowed here)".into(),
                found: String::new(),
            }),
        }
    }

    /// Whether the column holds numbers (as stored or inferred).
    pub fn is_numeric(&self, name: &str) -> Result<bool, TableError> {
        Ok(self.column(name)?.dtype().is_primitive_numeric())
    }
}

/// Grouping of a string column without nulls. Labels of up to 12 bytes are held
/// inline in polars' 16-byte string views, so each row is matched by comparing
/// its view as one 128-bit integer with the views seen so far; longer labels are
/// compared as text. Levels that meet twice (equal text, different views) are
/// merged by [`crate::stats::Grouping::from_local_codes`]. An empty label is an
/// error: `Err(row index)`.
fn group_string_views(ca: &StringChunked) -> Result<crate::stats::Grouping, usize> {
    use crate::stats::groups::LINEAR_LEVELS;
    let mut codes: Vec<usize> = Vec::with_capacity(ca.len());
    let mut labels: Vec<&str> = Vec::new();
    let mut inline_keys: Vec<(u128, usize)> = Vec::new();
    let mut inline_index: std::collections::HashMap<u128, usize> = std::collections::HashMap::new();
    let mut text_index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for arr in ca.downcast_iter() {
        for (i, view) in arr.views().iter().enumerate() {
            if view.length == 0 {
                return Err(codes.len());
            }
            let code = if view.length <= 12 {
                let key = view.as_u128();
                let found = if inline_keys.len() <= LINEAR_LEVELS {
                    inline_keys.iter().find(|(k, _)| *k == key).map(|&(_, c)| c)
                } else {
                    inline_index.get(&key).copied()
                };
                found.unwrap_or_else(|| {
                    let c = labels.len();
                    labels.push(arr.value(i));
                    inline_keys.push((key, c));
                    inline_index.insert(key, c);
                    c
                })
            } else {
                let v = arr.value(i);
                *text_index.entry(v).or_insert_with(|| {
                    labels.push(v);
                    labels.len() - 1
                })
            };
            codes.push(code);
        }
    }
    Ok(crate::stats::Grouping::from_local_codes(codes, &labels))
}

/// Convert a CSV file (header row) to Parquet with types inferred from the whole
/// file, so the same CSV always gives the same Parquet.
pub fn csv_to_parquet(csv: &Path, parquet: &Path) -> Result<(), TableError> {
    let bytes = std::fs::read(csv).map_err(|e| TableError::Read { path: csv.to_path_buf(), message: e.to_string() })?;
    csv_bytes_to_parquet_inferred(&bytes, csv, parquet)
}

/// Rows per Parquet row group (polars' default), and per batch of the typed conversions.
const PARQUET_ROW_GROUP: usize = 512 * 512;

/// The polars type of a result-table column type.
fn polars_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Text => DataType::String,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Real => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
    }
}

/// The Parquet schema of columns `names` of types `types` (one type per name; `csv` names the
/// table in the error otherwise).
fn parquet_schema(names: &[&str], types: &[ColumnType], csv: &Path) -> Result<Arc<Schema>, TableError> {
    if names.len() != types.len() {
        return Err(TableError::Read {
            path: csv.to_path_buf(),
            message: format!("{} column types given for {} columns", types.len(), names.len()),
        });
    }
    Ok(Arc::new(names.iter().zip(types).map(|(name, t)| Field::new((*name).into(), polars_type(*t))).collect()))
}

/// Write `batches` (one row group each) to `parquet` with `schema`; without any batch, the
/// file holds the schema alone (an empty table). `csv` names the table in errors.
fn write_parquet_batches(
    schema: &Arc<Schema>,
    csv: &Path,
    parquet: &Path,
    batches: impl Iterator<Item = Result<DataFrame, TableError>>,
) -> Result<(), TableError> {
    let err = |e: PolarsError| TableError::Read { path: csv.to_path_buf(), message: e.to_string() };
    let file =
        std::fs::File::create(parquet).map_err(|e| TableError::Read { path: parquet.to_path_buf(), message: e.to_string() })?;
    let mut writer = ParquetWriter::new(file).batched(schema).map_err(err)?;
    let mut any = false;
    for df in batches {
        writer.write_batch(&df?).map_err(err)?;
        any = true;
    }
    if !any {
        writer.write_batch(&DataFrame::empty_with_arc_schema(schema.clone())).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    Ok(())
}

/// Write `table` to `parquet` with its column types ([`ResultTable::column_types`]), one row
/// group of [`PARQUET_ROW_GROUP`] rows at a time, from its typed cells (the same values the CSV
/// holds: numbers are the same doubles, text the same strings, NA is null). A text column's
/// number cells are stored as their CSV text. `csv` names the table's CSV file in errors.
pub fn write_table_parquet(table: &ResultTable, csv: &Path, parquet: &Path) -> Result<(), TableError> {
    let err = |e: PolarsError| TableError::Read { path: csv.to_path_buf(), message: e.to_string() };
    let types = table.column_types();
    let names: Vec<&str> = table.columns.iter().map(String::as_str).collect();
    let schema = parquet_schema(&names, &types, csv)?;
    let batches = table.rows.chunks(PARQUET_ROW_GROUP).map(|rows| {
        let columns = (0..names.len())
            .map(|j| {
                typed_column(names[j], types[j], rows, j).map_err(|message| TableError::Read { path: csv.to_path_buf(), message })
            })
            .collect::<Result<Vec<Column>, _>>()?;
        DataFrame::new(rows.len(), columns).map_err(err)
    });
    write_parquet_batches(&schema, csv, parquet, batches)
}

/// Column `j` of `rows` as a polars column of type `t`; a cell that does not fit the type
/// (text in a numeric column) is an error naming the column.
fn typed_column(name: &str, t: ColumnType, rows: &[Vec<Cell>], j: usize) -> Result<Column, String> {
    // `pick`: Some(value or None for NA) when the cell fits the type, None when it does not.
    fn values<T>(
        name: &str,
        t: ColumnType,
        rows: &[Vec<Cell>],
        j: usize,
        pick: impl Fn(&Cell) -> Option<Option<T>>,
    ) -> Result<Vec<Option<T>>, String> {
        rows.iter()
            .map(|r| {
                let c = r.get(j).unwrap_or(&Cell::Na);
                pick(c).ok_or_else(|| format!("column `{name}` is {t:?} but holds {c:?}"))
            })
            .collect()
    }
    let column = match t {
        ColumnType::Text => Column::new(name.into(), values(name, t, rows, j, |c| Some(c.plain_text()))?),
        ColumnType::Integer => Column::new(
            name.into(),
            values(name, t, rows, j, |c| match c {
                Cell::Int(i) => Some(Some(*i)),
                Cell::Na => Some(None),
                _ => None,
            })?,
        ),
        ColumnType::Real => Column::new(
            name.into(),
            values(name, t, rows, j, |c| match c {
                Cell::Num(_) | Cell::Int(_) => Some(c.as_f64()),
                Cell::Na => Some(None),
                _ => None,
            })?,
        ),
        ColumnType::Boolean => Column::new(
            name.into(),
            values(name, t, rows, j, |c| match c {
                Cell::Bool(b) => Some(Some(*b)),
                Cell::Na => Some(None),
                _ => None,
            })?,
        ),
    };
    Ok(column)
}

/// Convert the CSV file `csv` (a header line, then records of the columns `names`) to Parquet
/// with the column types `types`, one row group of records at a time: the file is read as it is
/// converted, never held whole (the run's `hlh_evidence` table is over 1 GB at 1 M patients).
pub fn csv_file_to_parquet(names: &[&str], types: &[ColumnType], csv: &Path, parquet: &Path) -> Result<(), TableError> {
    csv_file_to_parquet_batched(names, types, csv, parquet, PARQUET_ROW_GROUP)
}

/// [`csv_file_to_parquet`] with `batch_rows` records per row group.
fn csv_file_to_parquet_batched(
    names: &[&str],
    types: &[ColumnType],
    csv: &Path,
    parquet: &Path,
    batch_rows: usize,
) -> Result<(), TableError> {
    let io_err = |e: std::io::Error| TableError::Read { path: csv.to_path_buf(), message: e.to_string() };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(csv).map_err(io_err)?);
    let mut header = Vec::new();
    std::io::BufRead::read_until(&mut reader, b'\n', &mut header).map_err(io_err)?;
    let schema = parquet_schema(names, types, csv)?;
    let mut batch = Vec::new();
    let batches = std::iter::from_fn(|| match read_records(&mut reader, batch_rows, &mut batch) {
        Ok(0) => None,
        Ok(_) => Some(parse_batch(&batch, &schema, csv)),
        Err(e) => Some(Err(io_err(e))),
    });
    write_parquet_batches(&schema, csv, parquet, batches)
}

/// Read up to `rows` CSV records into `batch` (replacing what it held); a line break inside a
/// quoted field does not end a record (RFC 4180). Returns the bytes read (0 at the end).
fn read_records(reader: &mut impl std::io::BufRead, rows: usize, batch: &mut Vec<u8>) -> std::io::Result<usize> {
    batch.clear();
    let mut in_quotes = false;
    let mut records = 0;
    while records < rows.max(1) {
        let start = batch.len();
        if reader.read_until(b'\n', batch)? == 0 {
            break;
        }
        in_quotes ^= batch[start..].iter().filter(|&&b| b == b'"').count() % 2 == 1;
        if !in_quotes {
            records += 1;
        }
    }
    Ok(batch.len())
}

/// Parse one batch of CSV records (no header) with the columns of `schema`.
fn parse_batch(batch: &[u8], schema: &Arc<Schema>, csv: &Path) -> Result<DataFrame, TableError> {
    let err = |e: PolarsError| TableError::Read { path: csv.to_path_buf(), message: e.to_string() };
    let mut df = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .into_reader_with_file_handle(std::io::Cursor::new(batch))
        .finish()
        .map_err(err)?;
    df.rechunk_mut();
    Ok(df)
}

/// The whole table at once, with types inferred from every row.
fn csv_bytes_to_parquet_inferred(bytes: &[u8], csv: &Path, parquet: &Path) -> Result<(), TableError> {
    let err = |e: PolarsError| TableError::Read { path: csv.to_path_buf(), message: e.to_string() };
    let options = CsvReadOptions::default().with_has_header(true).with_infer_schema_length(None);
    let mut df = options.into_reader_with_file_handle(std::io::Cursor::new(bytes)).finish().map_err(err)?;
    let file =
        std::fs::File::create(parquet).map_err(|e| TableError::Read { path: parquet.to_path_buf(), message: e.to_string() })?;
    ParquetWriter::new(file).finish(&mut df).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_columns_and_names_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "time,status,grp\n1.5,1,a\n2,0,b\n3,2,a\n").unwrap();
        let t = Table::read(&p).unwrap();
        assert_eq!(t.n_rows(), 3);
        assert_eq!(t.numeric_required("time").unwrap(), vec![1.5, 2.0, 3.0]);
        assert_eq!(t.labels("grp").unwrap(), vec!["a", "b", "a"]);
        let e = t.status("status").unwrap_err().to_string();
        assert!(e.contains("row 3") && e.contains("`status`") && e.contains("t.csv"), "{e}");
        assert!(e.contains("the column holds 0, 1, 2"), "{e}");
        let e = t.numeric("nope").err().unwrap().to_string();
        assert!(e.contains("no column `nope`") && e.contains("time, status, grp"), "{e}");
        let pq = dir.path().join("t.parquet");
        csv_to_parquet(&p, &pq).unwrap();
        let back = Table::read(&pq).unwrap();
        assert_eq!(back.numeric_required("time").unwrap(), vec![1.5, 2.0, 3.0]);
        assert_eq!(back.labels("grp").unwrap(), vec!["a", "b", "a"]);
    }

    /// The typed conversion, one row group at a time, gives the same table as reading the whole
    /// CSV at once, also when a quoted field holds a line break or a comma at a batch boundary.
    #[test]
    fn typed_parquet_in_batches_equals_the_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("id,n,x,note,flag\n");
        for i in 0..23 {
            let note = match i % 4 {
                0 => "\"two\nlines\"".to_string(),
                1 => "\"a, b \"\"quoted\"\"\"".to_string(),
                2 => String::new(),
                _ => format!("plain{i}"),
            };
            let x = if i % 5 == 0 { String::new() } else { format!("{}.25", i) };
            text.push_str(&format!("P{i},{i},{x},{note},{}\n", i % 2 == 0));
        }
        let types = [ColumnType::Text, ColumnType::Integer, ColumnType::Real, ColumnType::Text, ColumnType::Boolean];
        let names = ["id", "n", "x", "note", "flag"];
        let csv = dir.path().join("t.csv");
        let read = |p: &Path| {
            let f = std::fs::File::open(p).unwrap();
            ParquetReader::new(f).finish().unwrap()
        };
        std::fs::write(&csv, &text).unwrap();
        let whole = dir.path().join("whole.parquet");
        csv_file_to_parquet(&names, &types, &csv, &whole).unwrap();
        let expected = read(&whole);
        assert_eq!(expected.height(), 23);
        assert_eq!(expected.column("note").unwrap().str().unwrap().get(0), Some("two\nlines"));
        assert_eq!(expected.column("note").unwrap().str().unwrap().get(1), Some("a, b \"quoted\""));
        for rows in [1, 2, 4, 7, 22, 23, 24] {
            let p = dir.path().join(format!("b{rows}.parquet"));
            csv_file_to_parquet_batched(&names, &types, &csv, &p, rows).unwrap();
            assert!(read(&p).equals_missing(&expected), "{rows} rows per batch");
        }
        // header only: an empty table with the schema
        let p = dir.path().join("empty.parquet");
        let header_only = dir.path().join("empty.csv");
        std::fs::write(&header_only, "id,n,x,note,flag\n").unwrap();
        csv_file_to_parquet(&names, &types, &header_only, &p).unwrap();
        let empty = read(&p);
        assert_eq!((empty.height(), empty.width()), (0, 5));
        assert_eq!(empty.column("n").unwrap().dtype(), &DataType::Int64);
    }

    /// R's rule (`Surv()`: 1/2 when the largest value is 2): only 1s are 0/1
    /// coding (all events), only 2s are 1/2 coding (all events); text and
    /// missing-value columns follow the same rule.
    #[test]
    fn status_coding_follows_surv() {
        let dir = tempfile::tempdir().unwrap();
        let table = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("time,status\n{body}")).unwrap();
            Table::read(&p).unwrap()
        };
        let t = table("a.csv", "1,1\n2,2\n3,1\n");
        assert_eq!(t.status("status").unwrap(), (vec![false, true, false], StatusCoding::OneTwo));
        let t = table("b.csv", "1,1\n2,1\n");
        assert_eq!(t.status("status").unwrap(), (vec![true, true], StatusCoding::ZeroOne));
        let t = table("c.csv", "1,2\n2,2\n");
        assert_eq!(t.status("status").unwrap(), (vec![true, true], StatusCoding::OneTwo));
        let t = table("d.csv", "1,true\n2,false\n");
        assert_eq!(t.status("status").unwrap(), (vec![true, false], StatusCoding::ZeroOne));
        let t = table("e.csv", "1,2\n2,\n3,1\n");
        assert_eq!(t.status_optional("status").unwrap(), (vec![Some(true), None, Some(false)], StatusCoding::OneTwo));
        assert!(t.status("status").is_err(), "missing status where it is required");
        let t = table("f.csv", "1,0\n2,\n3,2\n");
        let e = t.status_optional("status").unwrap_err().to_string();
        assert!(e.contains("row 3") && e.contains("holds 0, 2"), "{e}");
        assert_eq!(StatusCoding::ZeroOne.note("status"), None);
        assert!(StatusCoding::OneTwo.note("vital").unwrap().contains("`vital` coded 1/2: 2 = event"));
    }
}
