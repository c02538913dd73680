//! A tiny deterministic CSV writer used for every result table.
//!
//! Format: UTF-8, comma-separated, one header row, `\n` line ends (also after
//! the last row). Numbers are written by [`crate::stats::format::Num`]: the
//! shortest text that reads back as exactly the same `f64`, in plain notation
//! for 1e-4 <= |x| < 1e15 and exponent notation otherwise (`1e-7`); `-0` is
//! written `0`. NA cells are empty.
//! NaN and infinities are never written: [`CsvTable::write_csv`] returns an
//! error naming the table, row and column instead. Strings are quoted per
//! RFC 4180 only when needed (they contain `,` `"` CR or LF, with `"`
//! doubled) — and the empty string is written `""` so that it stays
//! distinguishable from NA. The same table always gives the same bytes.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::output::write_atomic;
use super::{ReportError, ReportResult};

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
    /// The CSV text of this cell, or `None` for NaN/infinity (which must not be written).
    fn csv_text(&self) -> Option<String> {
        match self {
            Cell::Str(s) => Some(quote_csv(s)),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Num(x) => format_num(*x),
            Cell::Na => Some(String::new()),
        }
    }

    /// Text shown in the HTML report (numbers to 4 significant digits).
    pub(crate) fn display_text(&self) -> String {
        match self {
            Cell::Str(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) => format_sig(*x, 4),
            Cell::Na => "NA".to_string(),
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

/// A result table, written to `tables/<name>.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// File stem (`[A-Za-z0-9_.-]`, not starting with `.`); the file is `<name>.csv`.
    pub name: String,
    /// One-line description of the whole table (may be empty).
    pub description: String,
    /// Header, in order.
    pub columns: Vec<String>,
    /// Column documentation (any order; every entry must name an existing column).
    pub docs: Vec<ColumnDoc>,
    /// Data rows; each must have exactly `columns.len()` cells.
    pub rows: Vec<Vec<Cell>>,
    /// Rows of the full table when `rows` holds only its first rows (a preview
    /// for the report); `None` when `rows` is the whole table.
    pub rows_total: Option<usize>,
}

impl CsvTable {
    /// Column types from the cells: text if any cell is text, else real if any
    /// cell is real, else integer if any cell is an integer; a column of NA only
    /// is text.
    pub fn column_types(&self) -> Vec<ColumnType> {
        (0..self.columns.len())
            .map(|j| {
                let cells = self.rows.iter().filter_map(|r| r.get(j));
                let (mut text, mut real, mut int) = (false, false, false);
                for c in cells {
                    match c {
                        Cell::Str(_) => text = true,
                        Cell::Num(_) => real = true,
                        Cell::Int(_) => int = true,
                        Cell::Na => {}
                    }
                }
                if text || !(real || int) {
                    ColumnType::Text
                } else if real {
                    ColumnType::Real
                } else {
                    ColumnType::Integer
                }
            })
            .collect()
    }

    /// An empty table with the given header and no documentation.
    pub fn new(name: impl Into<String>, columns: &[&str]) -> CsvTable {
        CsvTable {
            name: name.into(),
            description: String::new(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            docs: Vec::new(),
            rows: Vec::new(),
            rows_total: None,
        }
    }

    /// An empty, fully documented table: the header is taken from `docs`, in order.
    pub fn documented(name: impl Into<String>, description: impl Into<String>, docs: Vec<ColumnDoc>) -> CsvTable {
        CsvTable {
            name: name.into(),
            description: description.into(),
            columns: docs.iter().map(|d| d.name.clone()).collect(),
            docs,
            rows: Vec::new(),
            rows_total: None,
        }
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

    /// Check the table can be written: a usable name, unique non-empty
    /// column names, docs only for existing columns, every row the right
    /// length and every number finite.
    pub fn validate(&self) -> ReportResult<()> {
        let bad = |message: String| ReportError::BadTable { table: self.name.clone(), message };
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
        for (r, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(ReportError::RowLength {
                    table: self.name.clone(),
                    row: r + 1,
                    expected: self.columns.len(),
                    found: row.len(),
                });
            }
            for (cell, col) in row.iter().zip(&self.columns) {
                if let Cell::Num(x) = cell {
                    if !x.is_finite() {
                        return Err(ReportError::NonFinite {
                            table: self.name.clone(),
                            row: r + 1,
                            column: col.clone(),
                            value: x.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The complete CSV file as bytes (validated first; nothing partial is produced).
    pub fn to_csv_bytes(&self) -> ReportResult<Vec<u8>> {
        self.validate()?;
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| quote_csv(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for (r, row) in self.rows.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                // validate() has rejected non-finite numbers; stay defensive anyway.
                let text = cell.csv_text().ok_or_else(|| ReportError::NonFinite {
                    table: self.name.clone(),
                    row: r + 1,
                    column: self.columns[j].clone(),
                    value: format!("{cell:?}"),
                })?;
                out.push_str(&text);
            }
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    /// Write the CSV to `w`. The table is validated before any byte is written.
    pub fn write_csv(&self, w: &mut dyn Write) -> ReportResult<()> {
        let bytes = self.to_csv_bytes()?;
        w.write_all(&bytes).map_err(|e| ReportError::io(self.file_name(), e))
    }

    /// Write `<dir>/<name>.csv` atomically and return its path.
    pub fn write_to_dir(&self, dir: &Path) -> ReportResult<PathBuf> {
        let bytes = self.to_csv_bytes()?;
        let path = dir.join(self.file_name());
        write_atomic(&path, &bytes)?;
        Ok(path)
    }
}

/// The text of `tables/README.md`: for every table, its file name,
/// description and a column table (undocumented columns are marked as such).
pub fn tables_readme<'a, I>(tables: I) -> String
where
    I: IntoIterator<Item = &'a CsvTable>,
{
    let mut s = String::new();
    s.push_str("# Tables\n\n");
    s.push_str(
        "Every table is a UTF-8 CSV file: comma-separated, one header row, `\\n` line ends.\n\
         An empty cell means NA (not available or not estimable); an empty text value is written `\"\"`.\n\
         Numbers are written at full precision (the shortest decimal text that reads back as the same\n\
         64-bit double; plain notation for 1e-4 <= |x| < 1e15, exponent notation such as `1e-7` otherwise). Runs with the same inputs and configuration\n\
         produce byte-identical tables; compare `outputs[].sha256` in `manifest.json` to check.\n",
    );
    for t in tables {
        let _ = write!(s, "\n## {}\n\n", t.file_name());
        if !t.description.is_empty() {
            let _ = write!(s, "{}\n\n", one_line(&t.description));
        }
        let n = t.rows_total.unwrap_or(t.rows.len());
        let _ = writeln!(s, "{n} {}.\n", if n == 1 { "row" } else { "rows" });
        s.push_str("| column | description |\n|---|---|\n");
        for c in &t.columns {
            let d = t.doc(c).map(md_cell).unwrap_or_else(|| "(not documented)".to_string());
            let _ = writeln!(s, "| `{}` | {} |", c.replace('`', "'"), d);
        }
    }
    s
}

/// Collapse line breaks to spaces.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r']).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Make text safe inside a Markdown table cell.
fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// A text cell of a result table (the empty string written `""`, unlike NA).
fn quote_csv(s: &str) -> String {
    crate::io::csv_text::text_cell(s).into_owned()
}

/// Full-precision CSV text of a number; `None` if not finite.
pub(crate) fn format_num(x: f64) -> Option<String> {
    x.is_finite().then(|| crate::stats::format::Num(x).to_string())
}

/// `x` to `sig` significant digits for display: fixed notation for
/// 1e-4 <= |x| < 1e15 (large values zero-padded, `123456` -> `123500`),
/// otherwise R-style exponent (`1.235e-05`); trailing zeros dropped.
pub(crate) fn format_sig(x: f64, sig: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".to_string() } else { "-Inf".to_string() };
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let sig = sig.max(1);
    // Rounded scientific form decides the exponent (after rounding, so 9.99996 -> 1e1).
    let sci = format!("{:.*e}", sig - 1, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if (-4..sig as i32).contains(&exp) {
        // Fixed notation with exactly `sig` significant digits, trailing zeros dropped.
        let decimals = (sig as i32 - 1 - exp).max(0) as usize;
        let s = trim_zeros(&format!("{:.*}", decimals, x));
        if s == "-0" {
            "0".to_string()
        } else {
            s
        }
    } else if (sig as i32..15).contains(&exp) {
        // Large but not huge: the rounded digits padded with zeros (R `signif` style), e.g. 123500.
        let neg = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        let zeros = (exp + 1) as usize - digits.len();
        format!("{}{}{}", if neg { "-" } else { "" }, digits, "0".repeat(zeros))
    } else {
        let m = trim_zeros(&mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

/// Drop trailing zeros after a decimal point (and the point itself if bare).
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for x in [0.1, 1.0 / 3.0, 1e-300, 123456789.0, -2.5e-7, f64::MAX, f64::MIN_POSITIVE, 5e-324] {
            let s = format_num(x).unwrap();
            assert_eq!(s.parse::<f64>().unwrap(), x, "{s}");
            // Plain notation in [1e-4, 1e15), exponent outside (never 300 zeros).
            assert_eq!(s.contains('e'), x.abs() < 1e-4 || x.abs() >= 1e15, "{s}");
        }
        assert_eq!(format_num(-0.0).unwrap(), "0");
        assert_eq!(format_num(3.0).unwrap(), "3");
        assert_eq!(format_num(f64::NAN), None);
        assert_eq!(format_num(f64::NEG_INFINITY), None);
    }

    #[test]
    fn significant_digits() {
        let cases = [
            (0.123456, "0.1235"),
            (1.0, "1"),
            (0.5, "0.5"),
            (12345.6, "12350"),
            (123456.0, "123500"),
            (-999.95, "-1000"),
            (99999.0, "100000"),
            (1234.0, "1234"),
            (6.02214076e23, "6.022e+23"),
            (9.99996, "10"),
            (0.00012345, "0.0001234"), // 0.00012345 is slightly below ...45 in binary
            (0.000012345, "1.234e-05"),
            (-0.0000004, "-4e-07"),
            (-0.00001, "-1e-05"),
            (2.0 / 3.0, "0.6667"),
            (-0.0, "0"),
            (-1e-20, "-1e-20"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Inf"),
        ];
        for (x, want) in cases {
            assert_eq!(format_sig(x, 4), want, "x = {x:e}");
        }
    }

    /// Result tables keep the empty string apart from NA (the rules are io::csv_text's).
    #[test]
    fn quoting() {
        assert_eq!(quote_csv(""), "\"\"");
        assert_eq!(quote_csv("a,b"), "\"a,b\"");
    }

    #[test]
    fn readme_lists_columns() {
        let mut t = CsvTable::documented(
            "km",
            "Kaplan-Meier",
            vec![ColumnDoc::new("time", "days | since diagnosis"), ColumnDoc::new("surv", "S(t)")],
        );
        t.columns.push("extra".into());
        t.push_row(vec![Cell::Int(1), Cell::Num(0.5), Cell::Na]);
        let r = tables_readme(&[t]);
        assert!(r.contains("## km.csv"));
        assert!(r.contains("| `time` | days \\| since diagnosis |"));
        assert!(r.contains("| `extra` | (not documented) |"));
        assert!(r.contains("1 row."));
    }

    #[test]
    fn validation_errors() {
        let mut t = CsvTable::new("t", &["a", "a"]);
        assert!(t.validate().unwrap_err().to_string().contains("duplicate column `a`"));
        t.columns = vec!["a".into()];
        t.docs.push(ColumnDoc::new("b", "x"));
        assert!(t.validate().unwrap_err().to_string().contains("column `b`"));
        t.docs.clear();
        t.name = "../evil".into();
        assert!(matches!(t.validate(), Err(ReportError::BadTable { .. })));
        t.name = "ok".into();
        t.push_row(vec![Cell::Int(1), Cell::Int(2)]);
        let e = t.validate().unwrap_err();
        assert!(matches!(e, ReportError::RowLength { row: 1, expected: 1, found: 2, .. }), "{e}");
    }
}
