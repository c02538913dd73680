//! Writing result tables to files: `<name>.csv` (the one CSV formatting,
//! [`ResultTable::to_csv_bytes`]), `<name>.parquet` with the column types
//! ([`crate::io::table::write_table_parquet`]), and `tables/README.md` from the tables'
//! column documentation. The table type itself is [`crate::table::ResultTable`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::output::write_atomic;
use super::{ReportError, ReportResult};
use crate::table::ResultTable;

/// Write `<dir>/<name>.csv` atomically and return its path.
pub fn write_csv_file(table: &ResultTable, dir: &Path) -> ReportResult<PathBuf> {
    let bytes = table.to_csv_bytes()?;
    let path = dir.join(table.file_name());
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Write `<dir>/<name>.csv` and `<dir>/<name>.parquet` (same values, typed columns).
pub fn write_csv_and_parquet(table: &ResultTable, dir: &Path) -> ReportResult<()> {
    let csv = write_csv_file(table, dir)?;
    let parquet = dir.join(format!("{}.parquet", table.name));
    crate::io::table::write_table_parquet(table, &csv, &parquet)
        .map_err(|e| ReportError::io(&parquet, std::io::Error::other(e.to_string())))
}

/// The text of `tables/README.md`: for every table, its file name,
/// description, row count `n` and a column table (undocumented columns are marked as such).
pub fn tables_readme<'a, I>(tables: I) -> String
where
    I: IntoIterator<Item = (&'a ResultTable, usize)>,
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
    for (t, n) in tables {
        let _ = write!(s, "\n## {}\n\n", t.file_name());
        if !t.description.is_empty() {
            let _ = write!(s, "{}\n\n", one_line(&t.description));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Cell, ColumnDoc};

    #[test]
    fn readme_lists_columns() {
        let mut t = ResultTable::documented(
            "km",
            "Kaplan-Meier",
            vec![ColumnDoc::new("time", "days | since diagnosis"), ColumnDoc::new("surv", "S(t)")],
        );
        t.columns.push("extra".into());
        t.push_row(vec![Cell::Int(1), Cell::Num(0.5), Cell::Na]);
        let r = tables_readme([(&t, t.rows.len())]);
        assert!(r.contains("## km.csv"));
        assert!(r.contains("| `time` | days \\| since diagnosis |"));
        assert!(r.contains("| `extra` | (not documented) |"));
        assert!(r.contains("1 row."));
    }
}
