//! The one result-table type of hemosurv, and its one CSV formatting.
//!
//! Every table hemosurv writes as a result — estimator tables (`stats`), detection tables
//! (`hlh`), the review sheet, the study's tables — is a [`ResultTable`] of typed [`Cell`]s.
//! Producers return tables; they never format a line themselves. The writers
//! (`report::tables` for a run's CSV + Parquet + `tables/README.md`, the estimator
//! subcommands, the evidence spill) all go through [`ResultTable::to_csv_bytes`] /
//! [`ResultTable::write_csv_rows`], and the report renders the same typed cells.
//!
//! CSV format: UTF-8, comma-separated, one header row, `\n` line ends (also after the last
//! row). Numbers are written by [`format::Num`]: the shortest text that reads back as exactly
//! the same `f64`, in plain notation for 1e-4 <= |x| < 1e15 and exponent notation otherwise
//! (`1e-7`); `-0` is written `0`. NA cells are empty. NaN and infinities are never written:
//! [`ResultTable::validate`] returns an error naming the table, row and column instead.
//! Text is quoted per RFC 4180 only when needed ([`crate::io::csv_text`]), and the empty
//! string is written `""` so that it stays distinguishable from NA. The same table always
//! gives the same bytes.
//!
//! This module sits below every stage (no polars, no statistics), so `stats` and `hlh` can
//! return tables without depending on the writers.

pub mod format;

use std::io::Write;

use thiserror::Error;

pub use format::Num;

/// A table that cannot be written.
#[derive(Debug, Error)]
pub enum ResultTableError {
    /// A table holds NaN or an infinity, which is never written to a CSV file.
    #[error(
        "table `{table}`: row {row}, column `{column}`: value {value} cannot be written \
         (NaN and infinities are never written; the computation should yield NA instead)"
    )]
    NonFinite {
        /// Table name.
        table: String,
        /// 1-based data row (header excluded).
        row: usize,
        /// Column name.
        column: String,
        /// The offending value as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A table row has a different number of cells than the table has columns.
    #[error("table `{table}`: row {row} has {found} cells but the table has {expected} columns")]
    RowLength {
        /// Table name.
        table: String,
        /// 1-based data row (header excluded).
        row: usize,
        /// Number of columns.
        expected: usize,
        /// Number of cells in the row.
        found: usize,
    },
    /// A table is malformed in some other way (bad name, duplicate column, ...).
    #[error("table `{table}`: {message}")]
    BadTable {
        /// Table name.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the CSV text failed.
    #[error("table `{table}`: {source}")]
    Io {
        /// Table name.
        table: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The type of a column, as written to Parquet next to the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (and dates, written ISO `YYYY-MM-DD` as in the CSV).
    Text,
    /// 64-bit integers.
    Integer,
    /// 64-bit floating point.
    Real,
    /// `true` / `false`.
    Boolean,
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Str(String),
    /// Integer (counts, days, ...).
    Int(i64),
    /// Real number; must be finite to be written.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// Not available / not estimable (R `NA`); written as an empty cell.
    Na,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Str(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Str(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Int(v)
    }
}

impl From<i32> for Cell {
    fn from(v: i32) -> Cell {
        Cell::Int(i64::from(v))
    }
}

impl From<u32> for Cell {
    fn from(v: u32) -> Cell {
        Cell::Int(i64::from(v))
    }
}

impl From<usize> for Cell {
    fn from(v: usize) -> Cell {
        match i64::try_from(v) {
            Ok(i) => Cell::Int(i),
            // Unreachable for real counts; keep the magnitude rather than wrap.
            Err(_) => Cell::Num(v as f64),
        }
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Num(v)
    }
}

impl From<bool> for Cell {
    fn from(v: bool) -> Cell {
        Cell::Bool(v)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    /// `None` becomes [`Cell::Na`].
    fn from(v: Option<T>) -> Cell {
        match v {
            Some(x) => x.into(),
            None => Cell::Na,
        }
    }
}

impl Cell {
    /// A number, NA when not finite (a hazard ratio of a term without events, a test statistic
    /// of a singular variance): NaN and infinities are never written.
    pub fn finite(x: f64) -> Cell {
        if x.is_finite() {
            Cell::Num(x)
        } else {
            Cell::Na
        }
    }

    /// A number that is NA when absent or not finite (what R prints as `NA` for a
    /// quantity that cannot be estimated, e.g. an upper confidence limit that is never reached).
    pub fn finite_or_na(v: Option<f64>) -> Cell {
        v.map_or(Cell::Na, Cell::finite)
    }

    /// Append the CSV text of this cell; `false` (nothing written) for NaN/infinity.
    fn write_csv_text(&self, out: &mut String) -> bool {
        use std::fmt::Write as _;
        match self {
            Cell::Str(s) => out.push_str(&crate::io::csv_text::text_cell(s)),
            Cell::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Cell::Num(x) if x.is_finite() => {
                let _ = write!(out, "{}", Num(*x));
            }
            Cell::Num(_) => return false,
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Cell::Na => {}
        }
        true
    }

    /// The cell's text as its CSV holds it, unquoted (`None` for NA): what a row key is
    /// compared with, and what a text column of the Parquet copy holds.
    pub fn plain_text(&self) -> Option<String> {
        match self {
            Cell::Str(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Num(x) => Some(Num(*x).to_string()),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Na => None,
        }
    }

    /// Text shown in the HTML report (numbers to 4 significant digits).
    pub fn display_text(&self) -> String {
        match self {
            Cell::Str(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) => format::format_sig(*x, 4),
            Cell::Bool(b) => b.to_string(),
            Cell::Na => "NA".to_string(),
        }
    }

    /// The number in this cell (integer or real), if any.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(x) => Some(*x),
            _ => None,
        }
    }

    /// The text in this cell, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Documentation of one column: shown in the report and in `tables/README.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDoc {
    /// Column name, exactly as in the header.
    pub name: String,
    /// What the column holds, including its unit and how NA arises.
    pub description: String,
}

impl ColumnDoc {
    /// Convenience constructor.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> ColumnDoc {
        ColumnDoc { name: name.into(), description: description.into() }
    }
}

/// A result table, written to `<name>.csv` (and `<name>.parquet` in a run).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTable {
    /// File stem (`[A-Za-z0-9_.-]`, not starting with `.`); the file is `<name>.csv`.
    pub name: String,
    /// One-line description of the whole table (may be empty).
    pub description: String,
    /// Header, in order.
    pub columns: Vec<String>,
    /// Column documentation (any order; every entry must name an existing column).
    pub docs: Vec<ColumnDoc>,
    /// Column types for Parquet when they must not be inferred from the cells (a column
    /// that is NA on every row of this table but numeric by definition); `None`: from the cells.
    pub types: Option<Vec<ColumnType>>,
    /// Data rows; each must have exactly `columns.len()` cells.
    pub rows: Vec<Vec<Cell>>,
}

impl ResultTable {
    /// An empty table with the given header and no documentation.
    pub fn new(name: impl Into<String>, columns: &[&str]) -> ResultTable {
        ResultTable {
            name: name.into(),
            description: String::new(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            docs: Vec::new(),
            types: None,
            rows: Vec::new(),
        }
    }

    /// An empty, fully documented table: the header is taken from `docs`, in order.
    pub fn documented(name: impl Into<String>, description: impl Into<String>, docs: Vec<ColumnDoc>) -> ResultTable {
        ResultTable {
            name: name.into(),
            description: description.into(),
            columns: docs.iter().map(|d| d.name.clone()).collect(),
            docs,
            types: None,
            rows: Vec::new(),
        }
    }

    /// The same table with fixed column types (one per column, in order).
    pub fn with_types(mut self, types: &[ColumnType]) -> ResultTable {
        self.types = Some(types.to_vec());
        self
    }

    /// Append a row (its length is checked when the table is written).
    pub fn push_row(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// `<name>.csv`.
    pub fn file_name(&self) -> String {
        format!("{}.csv", self.name)
    }

    /// The documentation of column `name`, if any.
    pub fn doc(&self, name: &str) -> Option<&str> {
        self.docs.iter().find(|d| d.name == name).map(|d| d.description.as_str())
    }

    /// Position of column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Column types: the fixed [`ResultTable::types`] if set; otherwise from the cells: text
    /// if any cell is text, else real if any cell is real, else integer if any cell is an
    /// integer, else boolean if any cell is one; a column of NA only is text.
    pub fn column_types(&self) -> Vec<ColumnType> {
        if let Some(t) = &self.types {
            return t.clone();
        }
        (0..self.columns.len())
            .map(|j| {
                let (mut text, mut real, mut int, mut boolean) = (false, false, false, false);
                for c in self.rows.iter().filter_map(|r| r.get(j)) {
                    match c {
                        Cell::Str(_) => text = true,
                        Cell::Num(_) => real = true,
                        Cell::Int(_) => int = true,
                        Cell::Bool(_) => boolean = true,
                        Cell::Na => {}
                    }
                }
                if text || (boolean && (real || int)) || !(real || int || boolean) {
                    ColumnType::Text
                } else if real {
                    ColumnType::Real
                } else if int {
                    ColumnType::Integer
                } else {
                    ColumnType::Boolean
                }
            })
            .collect()
    }

    /// The same table with a first column `name` holding `value` on every row (used to stack
    /// an analysis run under several criteria sets into one table).
    pub fn with_leading_column(mut self, name: &str, value: &str) -> ResultTable {
        self.columns.insert(0, name.to_string());
        if let Some(types) = &mut self.types {
            types.insert(0, ColumnType::Text);
        }
        for row in &mut self.rows {
            row.insert(0, Cell::Str(value.to_string()));
        }
        self
    }

    /// The same table with a last column `name` holding `value` on every row.
    pub fn with_trailing_column(mut self, name: &str, value: Cell) -> ResultTable {
        self.columns.push(name.to_string());
        if let Some(types) = &mut self.types {
            types.push(ColumnType::Text);
        }
        for row in &mut self.rows {
            row.push(value.clone());
        }
        self
    }

    /// Append the rows of `other`, which must have the same header (else an error naming both).
    pub fn append(&mut self, other: ResultTable) -> Result<(), ResultTableError> {
        if other.columns != self.columns {
            return Err(ResultTableError::BadTable {
                table: self.name.clone(),
                message: format!(
                    "cannot stack `{}`: its columns ({}) differ from ({})",
                    other.name,
                    other.columns.join(", "),
                    self.columns.join(", ")
                ),
            });
        }
        self.rows.extend(other.rows);
        Ok(())
    }

    /// Check the table can be written: a usable name, unique non-empty
    /// column names, docs only for existing columns, every row the right
    /// length and every number finite.
    pub fn validate(&self) -> Result<(), ResultTableError> {
        self.validate_shape()?;
        self.validate_rows(0)
    }

    /// Name, header, docs and fixed types.
    fn validate_shape(&self) -> Result<(), ResultTableError> {
        let bad = |message: String| ResultTableError::BadTable { table: self.name.clone(), message };
        let name_ok = !self.name.is_empty()
            && !self.name.starts_with('.')
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(bad(
                "table name must be non-empty, use only letters, digits, `_`, `-`, `.`, and not start with `.`".into()
            ));
        }
        if self.columns.is_empty() {
            return Err(bad("table has no columns".into()));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.is_empty() {
                return Err(bad(format!("column {} has an empty name", i + 1)));
            }
            if self.columns[..i].contains(c) {
                return Err(bad(format!("duplicate column `{c}`")));
            }
        }
        for d in &self.docs {
            if !self.columns.contains(&d.name) {
                return Err(bad(format!("documentation for column `{}`, which the table does not have", d.name)));
            }
        }
        if let Some(t) = &self.types {
            if t.len() != self.columns.len() {
                return Err(bad(format!("{} column types for {} columns", t.len(), self.columns.len())));
            }
        }
        Ok(())
    }

    /// Every row the right length and every number finite; `first_row` is the 0-based
    /// number of this table's first row in the whole (streamed) table, for the error's row number.
    fn validate_rows(&self, first_row: usize) -> Result<(), ResultTableError> {
        for (r, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(ResultTableError::RowLength {
                    table: self.name.clone(),
                    row: first_row + r + 1,
                    expected: self.columns.len(),
                    found: row.len(),
                });
            }
            for (cell, col) in row.iter().zip(&self.columns) {
                if let Cell::Num(x) = cell {
                    if !x.is_finite() {
                        return Err(ResultTableError::NonFinite {
                            table: self.name.clone(),
                            row: first_row + r + 1,
                            column: col.clone(),
                            value: x.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The CSV header line (with its `\n`).
    pub fn csv_header(&self) -> String {
        let mut out = String::new();
        for (j, c) in self.columns.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&crate::io::csv_text::text_cell(c));
        }
        out.push('\n');
        out
    }

    /// The complete CSV file as bytes (validated first; nothing partial is produced).
    pub fn to_csv_bytes(&self) -> Result<Vec<u8>, ResultTableError> {
        self.validate()?;
        let mut out = self.csv_header();
        self.format_rows(&mut out);
        Ok(out.into_bytes())
    }

    /// Write the data rows (no header) to `w`, for tables streamed chunk by chunk: the
    /// chunk's rows are validated first (`first_row`: 0-based number of its first row in
    /// the whole table, for error messages), so nothing partial is written.
    pub fn write_csv_rows(&self, first_row: usize, w: &mut dyn Write) -> Result<(), ResultTableError> {
        self.validate_shape()?;
        self.validate_rows(first_row)?;
        let mut out = String::new();
        self.format_rows(&mut out);
        w.write_all(out.as_bytes()).map_err(|source| ResultTableError::Io { table: self.name.clone(), source })
    }

    /// Write the whole CSV (header and rows) to `w`; validated before any byte is written.
    pub fn write_csv(&self, w: &mut dyn Write) -> Result<(), ResultTableError> {
        let bytes = self.to_csv_bytes()?;
        w.write_all(&bytes).map_err(|source| ResultTableError::Io { table: self.name.clone(), source })
    }

    /// Format the (validated) rows as CSV lines.
    fn format_rows(&self, out: &mut String) {
        for row in &self.rows {
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                // validate_rows has rejected non-finite numbers.
                let _ = cell.write_csv_text(out);
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors() {
        let mut t = ResultTable::new("t", &["a", "a"]);
        assert!(t.validate().unwrap_err().to_string().contains("duplicate column `a`"));
        t.columns = vec!["a".into()];
        t.docs.push(ColumnDoc::new("b", "x"));
        assert!(t.validate().unwrap_err().to_string().contains("column `b`"));
        t.docs.clear();
        t.name = "../evil".into();
        assert!(matches!(t.validate(), Err(ResultTableError::BadTable { .. })));
        t.name = "ok".into();
        t.push_row(vec![Cell::Int(1), Cell::Int(2)]);
        let e = t.validate().unwrap_err();
        assert!(matches!(e, ResultTableError::RowLength { row: 1, expected: 1, found: 2, .. }), "{e}");
    }

    #[test]
    fn cells_format_and_na_differs_from_empty_text() {
        let mut t = ResultTable::new("t", &["s", "i", "x", "b", "na"]);
        t.push_row(vec![Cell::from(""), Cell::Int(-3), Cell::Num(-0.0), Cell::Bool(true), Cell::Na]);
        t.push_row(vec![Cell::from("a,\"b\""), Cell::Int(7), Cell::Num(2.5e-7), Cell::Bool(false), Cell::Na]);
        let csv = String::from_utf8(t.to_csv_bytes().unwrap()).unwrap();
        assert_eq!(csv, "s,i,x,b,na\n\"\",-3,0,true,\n\"a,\"\"b\"\"\",7,2.5e-7,false,\n");
        assert_eq!(
            t.column_types(),
            vec![ColumnType::Text, ColumnType::Integer, ColumnType::Real, ColumnType::Boolean, ColumnType::Text]
        );
    }

    #[test]
    fn streamed_rows_name_their_row_in_the_whole_table() {
        let mut t = ResultTable::new("ev", &["x"]);
        t.push_row(vec![Cell::Num(1.0)]);
        t.push_row(vec![Cell::Num(f64::NAN)]);
        let mut out = Vec::new();
        let e = t.write_csv_rows(100, &mut out).unwrap_err();
        assert!(matches!(e, ResultTableError::NonFinite { row: 102, .. }), "{e}");
        assert!(out.is_empty(), "nothing partial is written");
        t.rows.pop();
        t.write_csv_rows(0, &mut out).unwrap();
        assert_eq!(out, b"1\n");
    }

    #[test]
    fn leading_column_and_stacking() {
        let mut a = ResultTable::new("km", &["time"]);
        a.push_row(vec![Cell::Num(1.0)]);
        let mut a = a.with_leading_column("criteria_set", "hlh2004");
        let mut b = ResultTable::new("km", &["time"]);
        b.push_row(vec![Cell::Num(2.0)]);
        a.append(b.clone().with_leading_column("criteria_set", "ohi")).unwrap();
        assert_eq!(String::from_utf8(a.to_csv_bytes().unwrap()).unwrap(), "criteria_set,time\nhlh2004,1\nohi,2\n");
        assert!(a.append(b).unwrap_err().to_string().contains("differ"));
    }
}
