//! The files of a cohort folder: which table is in which file, reading them
//! with polars, column-name binding and input checksums.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::validation::{Issue, IssueKind, Severity, ValidationReport};

/// The tables of the data contract, in loading order (`patients` first).
pub const TABLES: [&str; 6] = ["patients", "treatments", "responses", "findings", "measurements", "adjudications"];

/// Files of a cohort folder that are not cohort tables but are read by other commands, so they
/// are not reported as ignored: `truth` (the true HLH episodes of a simulated cohort, read by
/// `detect` and `run` as `hlh::Truth`).
pub const COMPANION_TABLES: [&str; 1] = ["truth"];

/// File format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `NAME.csv`: header row, comma-separated, UTF-8.
    Csv,
    /// `NAME.parquet`.
    Parquet,
}

/// A table found in the cohort folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputTable {
    /// Table name.
    pub table: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
}

/// A table-level problem (no row).
pub(crate) fn table_issue(severity: Severity, kind: IssueKind, table: &str, column: Option<&str>, message: String) -> Issue {
    Issue {
        severity,
        kind,
        table: table.to_string(),
        row: None,
        column: column.map(str::to_string),
        expected: None,
        found: None,
        message,
    }
}

/// Find the table files of `dir`. Reports a missing folder, a missing
/// `patients` table, tables given both as CSV and Parquet (error) and
/// unrecognised `.csv`/`.parquet` files (warning). Returns `None` if the
/// folder cannot be listed.
pub(crate) fn discover(dir: &Path, report: &mut ValidationReport) -> Option<Vec<InputTable>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            report.push(table_issue(
                Severity::Error,
                IssueKind::MissingFolder,
                "patients",
                None,
                format!("cannot read the cohort folder {}: {e}", dir.display()),
            ));
            return None;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let mut found = Vec::new();
    for table in TABLES {
        let csv = format!("{table}.csv");
        let pq = format!("{table}.parquet");
        let has_csv = names.contains(&csv);
        let has_pq = names.contains(&pq);
        match (has_csv, has_pq) {
            (true, true) => report.push(table_issue(
                Severity::Error,
                IssueKind::DuplicateTable,
                table,
                None,
                format!("both {csv} and {pq} exist; keep exactly one file per table"),
            )),
            (true, false) => found.push(InputTable { table, path: dir.join(csv), format: Format::Csv }),
            (false, true) => found.push(InputTable { table, path: dir.join(pq), format: Format::Parquet }),
            (false, false) => {
                if table == "patients" {
                    report.push(table_issue(
                        Severity::Error,
                        IssueKind::MissingTable,
                        table,
                        None,
                        format!("the required table is missing: no patients.csv or patients.parquet in {}", dir.display()),
                    ));
                }
            }
        }
    }
    for name in &names {
        let lower = name.to_ascii_lowercase();
        let known =
            TABLES.iter().chain(COMPANION_TABLES.iter()).any(|t| *name == format!("{t}.csv") || *name == format!("{t}.parquet"));
        if !known && (lower.ends_with(".csv") || lower.ends_with(".parquet")) {
            report.push(table_issue(
                Severity::Warning,
                IssueKind::UnrecognisedFile,
                name,
                None,
                format!(
                    "file {name} is not one of the tables {} (as lower-case NAME.csv or NAME.parquet) and is ignored",
                    TABLES.join(", ")
                ),
            ));
        }
    }
    Some(found)
}

fn pl_path(path: &Path) -> PolarsResult<PlRefPath> {
    PlRefPath::try_from_path(path)
}

/// A lazy scan of a table: CSV with every column as text, Parquet with its types.
pub(crate) fn scan(tf: &InputTable) -> PolarsResult<LazyFrame> {
    match tf.format {
        Format::Csv => LazyCsvReader::new(pl_path(&tf.path)?)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_glob(false)
            .with_raise_if_empty(false)
            .finish(),
        Format::Parquet => {
            let args = ScanArgsParquet { glob: false, ..Default::default() };
            LazyFrame::scan_parquet(pl_path(&tf.path)?, args)
        }
    }
}

/// Column names of a table, in file order.
pub(crate) fn column_names(tf: &InputTable) -> PolarsResult<Vec<String>> {
    let schema = scan(tf)?.collect_schema()?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Read the given columns (actual names) of a whole table.
pub(crate) fn read_columns(tf: &InputTable, columns: &[String]) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
    scan(tf)?.select(exprs).collect()
}

/// Row counts of the row groups of a Parquet file.
pub(crate) fn parquet_row_groups(path: &Path) -> PolarsResult<Vec<usize>> {
    let file = File::open(path)?;
    let mut reader = ParquetReader::new(file);
    let md = reader.get_metadata()?;
    Ok(md.row_groups.iter().map(|rg| rg.num_rows()).collect())
}

/// Read rows `offset .. offset + len` of the given columns of a Parquet table.
pub(crate) fn read_parquet_slice(tf: &InputTable, columns: &[String], offset: usize, len: usize) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
    scan(tf)?.select(exprs).slice(offset as i64, len as IdxSize).collect()
}

/// Map wanted column names to the actual names of a table.
///
/// Names match after trimming, case-insensitively. A required column that is
/// missing, or two columns matching the same wanted name, are reported as
/// errors (returns `None`); a missing optional column maps to `None`.
pub(crate) fn bind_columns(
    table: &str,
    actual: &[String],
    required: &[&str],
    optional: &[&str],
    report: &mut ValidationReport,
) -> Option<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (want, is_required) in required.iter().map(|w| (w, true)).chain(optional.iter().map(|w| (w, false))) {
        let hits: Vec<&String> =
            actual.iter().filter(|a| a.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(want)).collect();
        match hits.len() {
            0 => {
                if is_required {
                    ok = false;
                    let mut issue = table_issue(
                        Severity::Error,
                        IssueKind::MissingColumn,
                        table,
                        Some(want),
                        format!(
                            "required column `{want}` is missing; the table has columns: {}",
                            if actual.is_empty() { "(none)".to_string() } else { actual.join(", ") }
                        ),
                    );
                    issue.expected = Some(format!("a column named {want}"));
                    issue.found = Some(actual.join(", "));
                    report.push(issue);
                }
                out.push(None);
            }
            1 => out.push(Some(hits[0].clone())),
            _ => {
                ok = false;
                report.push(table_issue(
                    Severity::Error,
                    IssueKind::DuplicateColumn,
                    table,
                    Some(want),
                    format!(
                        "columns {} all match `{want}` (names are matched ignoring case and surrounding spaces)",
                        hits.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
                    ),
                ));
                out.push(None);
            }
        }
    }
    ok.then_some(out)
}
