//! The validation report: every problem found while loading a cohort folder,
//! with table, 1-based data row, column, what was expected and what was found;
//! the rows quarantined (rejected); per-table counts; JSON, text and CSV output.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::table::{Cell, ResultTable};

use super::error::CohortError;

/// At most this many issues are stored in [`ValidationReport::issues`]; all are counted.
pub const MAX_STORED_ISSUES: usize = 10_000;
/// At most this many rejected rows are stored in [`ValidationReport::rejects`]; all are counted.
pub const MAX_STORED_REJECTS: usize = 1_000_000;
/// Default number of issue lines in the text rendering.
pub const DEFAULT_TEXT_LINES: usize = 50;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row (or table) cannot be loaded: strict loading fails, quarantine rejects the row.
    Error,
    /// Suspicious but loadable: counted and reported, the analysis continues.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// What kind of problem an [`Issue`] is (stable snake_case names in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The cohort folder does not exist or is not a folder.
    MissingFolder,
    /// The required `patients` table is missing.
    MissingTable,
    /// Both `NAME.csv` and `NAME.parquet` exist.
    DuplicateTable,
    /// The file could not be read or parsed as CSV / Parquet.
    UnreadableTable,
    /// A `.csv` / `.parquet` file that is not one of the known tables (ignored).
    UnrecognisedFile,
    /// A table has no data rows (warning).
    EmptyTable,
    /// A required column is missing.
    MissingColumn,
    /// Two columns map to the same name (names are matched case-insensitively).
    DuplicateColumn,
    /// A required cell is empty.
    MissingValue,
    /// A cell cannot be parsed (date, number, boolean, category, analyte).
    BadValue,
    /// A unit is not an accepted spelling for its analyte.
    BadUnit,
    /// A `patient_id` occurs twice in `patients`.
    DuplicatePatient,
    /// A row refers to a `patient_id` that is not in `patients`.
    UnknownPatient,
    /// `last_contact_date` or `death_date` before `diagnosis_date`.
    DateBeforeDiagnosis,
    /// `death_date` after `last_contact_date`.
    DeathAfterLastContact,
    /// A value outside the physiological limits (warning).
    ImplausibleValue,
    /// A measurement or finding dated after the patient's death (warning).
    AfterDeath,
    /// A measurement or finding dated after the last contact of a living patient (warning).
    AfterLastContact,
    /// A treatment ends before it starts (warning).
    EndBeforeStart,
    /// A response refers to a line with no treatment row (warning).
    ResponseWithoutTreatment,
    /// The same treatment line twice for a patient (warning).
    DuplicateTreatmentLine,
    /// The same reviewer twice for the same patient and episode onset in `adjudications`.
    DuplicateAdjudication,
}

impl IssueKind {
    /// The snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::MissingFolder => "missing_folder",
            IssueKind::MissingTable => "missing_table",
            IssueKind::DuplicateTable => "duplicate_table",
            IssueKind::UnreadableTable => "unreadable_table",
            IssueKind::UnrecognisedFile => "unrecognised_file",
            IssueKind::EmptyTable => "empty_table",
            IssueKind::MissingColumn => "missing_column",
            IssueKind::DuplicateColumn => "duplicate_column",
            IssueKind::MissingValue => "missing_value",
            IssueKind::BadValue => "bad_value",
            IssueKind::BadUnit => "bad_unit",
            IssueKind::DuplicatePatient => "duplicate_patient",
            IssueKind::UnknownPatient => "unknown_patient",
            IssueKind::DateBeforeDiagnosis => "date_before_diagnosis",
            IssueKind::DeathAfterLastContact => "death_after_last_contact",
            IssueKind::ImplausibleValue => "implausible_value",
            IssueKind::AfterDeath => "after_death",
            IssueKind::AfterLastContact => "after_last_contact",
            IssueKind::EndBeforeStart => "end_before_start",
            IssueKind::ResponseWithoutTreatment => "response_without_treatment",
            IssueKind::DuplicateTreatmentLine => "duplicate_treatment_line",
            IssueKind::DuplicateAdjudication => "duplicate_adjudication",
        }
    }
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem.
    pub kind: IssueKind,
    /// Table name (`patients`, `measurements`, ...) or, for an unrecognised
    /// file, the file name.
    pub table: String,
    /// 1-based data row number (header excluded); `None` for table-level problems.
    pub row: Option<u64>,
    /// Column name, if the problem is in one column.
    pub column: Option<String>,
    /// What was expected, if applicable.
    pub expected: Option<String>,
    /// What was found, if applicable.
    pub found: Option<String>,
    /// Human-readable description (includes expected and found).
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity, self.table)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A quarantined row: not loaded, with the reason(s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// Table name.
    pub table: String,
    /// 1-based data row number.
    pub row: u64,
    /// The first offending column, if any (none for "patient rejected").
    pub column: Option<String>,
    /// Every reason, separated by `; `.
    pub reason: String,
    /// The row's input fields as `name=value` pairs separated by `; `.
    pub raw: String,
}

/// Per-table counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    /// Data rows read.
    pub rows: u64,
    /// Rows loaded into the cohort.
    pub loaded: u64,
    /// Rows rejected (with quarantine; in strict mode: rows that would be rejected).
    pub rejected: u64,
    /// Error issues.
    pub errors: u64,
    /// Warning issues.
    pub warnings: u64,
}

/// Everything found while validating a cohort folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValidationReport {
    /// The first [`MAX_STORED_ISSUES`] issues, in table and row order.
    pub issues: Vec<Issue>,
    /// Number of errors (all, stored or not).
    pub error_count: u64,
    /// Number of warnings (all, stored or not).
    pub warning_count: u64,
    /// Issues counted but not stored because of the cap.
    pub issues_not_stored: u64,
    /// The first [`MAX_STORED_REJECTS`] rejected rows.
    pub rejects: Vec<Reject>,
    /// Number of rejected rows (all, stored or not).
    pub rejected_count: u64,
    /// Rejected rows counted but not stored because of the cap.
    pub rejects_not_stored: u64,
    /// Counts by table name.
    pub tables: BTreeMap<String, TableCounts>,
    /// Issue counts by kind (snake_case name).
    pub kinds: BTreeMap<String, u64>,
    /// Loaded `measurements` rows whose value was reported as a bound (`>40000`, `<0.1`),
    /// by analyte name; analytes without any are absent.
    pub qualified_values: BTreeMap<String, u64>,
}

impl ValidationReport {
    /// True if any error was found.
    pub fn has_errors(&self) -> bool {
        self.error_count > 0
    }

    /// Issues of one kind among the stored ones.
    pub fn issues_of(&self, kind: IssueKind) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(move |i| i.kind == kind)
    }

    /// Record an issue (counted always, stored up to the cap).
    pub(crate) fn push(&mut self, issue: Issue) {
        let t = self.tables.entry(issue.table.clone()).or_default();
        match issue.severity {
            Severity::Error => {
                self.error_count += 1;
                t.errors += 1;
            }
            Severity::Warning => {
                self.warning_count += 1;
                t.warnings += 1;
            }
        }
        *self.kinds.entry(issue.kind.name().to_string()).or_default() += 1;
        if self.issues.len() < MAX_STORED_ISSUES {
            self.issues.push(issue);
        } else {
            self.issues_not_stored += 1;
        }
    }

    /// Count an issue without storing it (the stored list is already full).
    pub(crate) fn count_only(&mut self, severity: Severity, kind: IssueKind, table: &str) {
        let t = self.tables.entry(table.to_string()).or_default();
        match severity {
            Severity::Error => {
                self.error_count += 1;
                t.errors += 1;
            }
            Severity::Warning => {
                self.warning_count += 1;
                t.warnings += 1;
            }
        }
        *self.kinds.entry(kind.name().to_string()).or_default() += 1;
        self.issues_not_stored += 1;
    }

    /// Count a rejected row without storing it.
    pub(crate) fn count_reject(&mut self, table: &str) {
        self.tables.entry(table.to_string()).or_default().rejected += 1;
        self.rejected_count += 1;
        self.rejects_not_stored += 1;
    }

    /// Keep at most `n` stored issues (the others stay counted).
    pub(crate) fn truncate_issues(&mut self, n: usize) {
        if self.issues.len() > n {
            self.issues_not_stored += (self.issues.len() - n) as u64;
            self.issues.truncate(n);
        }
    }

    /// Record a rejected row (counted always, stored up to the cap).
    pub(crate) fn push_reject(&mut self, reject: Reject) {
        self.tables.entry(reject.table.clone()).or_default().rejected += 1;
        self.rejected_count += 1;
        if self.rejects.len() < MAX_STORED_REJECTS {
            self.rejects.push(reject);
        } else {
            self.rejects_not_stored += 1;
        }
    }

    /// Count `n` loaded measurements of `analyte` reported with a qualifier.
    pub(crate) fn count_qualified(&mut self, analyte: &str, n: u64) {
        *self.qualified_values.entry(analyte.to_string()).or_default() += n;
    }

    /// Counts of a table (created on first use).
    pub(crate) fn table_mut(&mut self, table: &str) -> &mut TableCounts {
        self.tables.entry(table.to_string()).or_default()
    }

    /// Append another report (issues and rejects after this one's).
    pub(crate) fn merge(&mut self, other: ValidationReport) {
        self.error_count += other.error_count;
        self.warning_count += other.warning_count;
        self.rejected_count += other.rejected_count;
        self.issues_not_stored += other.issues_not_stored;
        self.rejects_not_stored += other.rejects_not_stored;
        for i in other.issues {
            if self.issues.len() < MAX_STORED_ISSUES {
                self.issues.push(i);
            } else {
                self.issues_not_stored += 1;
            }
        }
        for r in other.rejects {
            if self.rejects.len() < MAX_STORED_REJECTS {
                self.rejects.push(r);
            } else {
                self.rejects_not_stored += 1;
            }
        }
        for (k, c) in other.tables {
            let t = self.tables.entry(k).or_default();
            t.rows += c.rows;
            t.loaded += c.loaded;
            t.rejected += c.rejected;
            t.errors += c.errors;
            t.warnings += c.warnings;
        }
        for (k, n) in other.kinds {
            *self.kinds.entry(k).or_default() += n;
        }
        for (k, n) in other.qualified_values {
            *self.qualified_values.entry(k).or_default() += n;
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, integers and maps with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Human-readable rendering: a summary, per-table counts, then one line
    /// per issue, at most `max_lines` issue lines followed by "... and N more".
    pub fn render_text(&self, max_lines: usize) -> String {
        let mut s = format!(
            "cohort validation: {} error(s), {} warning(s), {} row(s) rejected\n",
            self.error_count, self.warning_count, self.rejected_count
        );
        for (name, c) in &self.tables {
            if c.rows == 0 && c.loaded == 0 && c.rejected == 0 {
                continue;
            }
            s.push_str(&format!(
                "  {name}: {} row(s), {} loaded, {} rejected, {} error(s), {} warning(s)\n",
                c.rows, c.loaded, c.rejected, c.errors, c.warnings
            ));
        }
        if !self.qualified_values.is_empty() {
            let total: u64 = self.qualified_values.values().sum();
            let by: Vec<String> = self.qualified_values.iter().map(|(a, n)| format!("{a} {n}")).collect();
            s.push_str(&format!(
                "  measurements: {total} value(s) reported as a bound (>, >=, <, <=), loaded as censored values: {}\n",
                by.join(", ")
            ));
        }
        for issue in self.issues.iter().take(max_lines) {
            s.push_str(&issue.to_string());
            s.push('\n');
        }
        let total = self.issues.len() as u64 + self.issues_not_stored;
        let shown = self.issues.len().min(max_lines) as u64;
        if total > shown {
            s.push_str(&format!("... and {} more\n", total - shown));
        }
        if self.rejects_not_stored > 0 {
            s.push_str(&format!(
                "note: {} rejected row(s) were counted but not stored (limit {MAX_STORED_REJECTS})\n",
                self.rejects_not_stored
            ));
        }
        s
    }

    /// The quarantined rows as a table (`table,row,column,reason,raw`; `column` NA for a
    /// rejected patient).
    pub fn rejects_table(&self) -> ResultTable {
        let mut t = ResultTable::new("rejects", &["table", "row", "column", "reason", "raw"]);
        for r in &self.rejects {
            t.push_row(vec![
                Cell::from(r.table.as_str()),
                Cell::Int(i64::try_from(r.row).unwrap_or(i64::MAX)),
                Cell::from(r.column.as_deref()),
                Cell::from(r.reason.as_str()),
                Cell::from(r.raw.as_str()),
            ]);
        }
        t
    }

    /// Write [`ValidationReport::rejects_table`] as CSV to `path`.
    pub fn write_rejects_csv(&self, path: &Path) -> Result<(), CohortError> {
        let io = |source| CohortError::Io { path: path.to_path_buf(), source };
        let bytes = self.rejects_table().to_csv_bytes().map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(path, bytes).map_err(io)
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text(DEFAULT_TEXT_LINES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(sev: Severity, row: u64) -> Issue {
        Issue {
            severity: sev,
            kind: IssueKind::BadValue,
            table: "measurements".into(),
            row: Some(row),
            column: Some("value".into()),
            expected: Some("a number".into()),
            found: Some("'x'".into()),
            message: "expected a number, found 'x'".into(),
        }
    }

    #[test]
    fn text_is_capped() {
        let mut r = ValidationReport::default();
        for i in 0..60 {
            r.push(issue(Severity::Error, i + 1));
        }
        let t = r.render_text(50);
        assert!(t.contains("error measurements row 1, column value: expected a number, found 'x'"));
        assert!(t.contains("... and 10 more"));
        assert_eq!(t.lines().filter(|l| l.starts_with("error ")).count(), 50);
        assert_eq!(r.error_count, 60);
        assert_eq!(r.tables["measurements"].errors, 60);
    }

    #[test]
    fn rejects_table_keeps_na_apart_from_empty_text() {
        let mut r = ValidationReport::default();
        r.rejects.push(Reject { table: "patients".into(), row: 3, column: None, reason: "a, b".into(), raw: String::new() });
        let csv = String::from_utf8(r.rejects_table().to_csv_bytes().unwrap()).unwrap();
        assert_eq!(csv, "table,row,column,reason,raw\npatients,3,,\"a, b\",\"\"\n");
    }
}
