//! Row-level validation and conversion of the small tables (`patients`,
//! `treatments`, `responses`, `findings`), and the helpers shared with the
//! `measurements` loader ([`super::measure`]).
//!
//! Every problem names the table, the 1-based data row, the column, what was
//! expected and what was found. A row with an error is rejected as a whole
//! (with every reason); a row of a rejected patient is rejected with reason
//! "patient rejected".

use std::collections::{HashMap, HashSet};

use polars::prelude::*;

use super::cells::{Cell, ColView, PreparedColumn, Target};
use super::limits::AGE_RANGE;
use super::model::{
    day_to_iso, Adjudication, CovariateColumn, CovariateTable, CovariateValues, Day, Decision, Finding, FindingKind, Intensity,
    Patient, PatientIdx, Response, ResponseAssessment, TreatmentLine,
};
use super::source::{self, InputTable};
use super::text::{SharedText, TextCodes, TextInterner};
use super::validation::{Issue, IssueKind, Reject, Severity, ValidationReport};

/// Expected-value descriptions used in messages.
pub(crate) const EXPECT_DATE: &str = "an ISO date YYYY-MM-DD";
pub(crate) const EXPECT_NUMBER: &str = "a finite number with a decimal point (e.g. 9.2)";
const EXPECT_BOOL: &str = "true/false, 1/0 or yes/no";
const EXPECT_LINE: &str = "a whole number >= 1";
pub(crate) const EXPECT_ID: &str = "a non-empty patient_id";

/// The problems of one row, collected before deciding whether it loads.
pub(crate) struct RowCheck<'t> {
    table: &'t str,
    row: u64,
    errors: Vec<Issue>,
    reasons: Vec<String>,
    first_column: Option<String>,
}

impl<'t> RowCheck<'t> {
    /// A checker for `table`.
    pub(crate) fn new(table: &'t str) -> Self {
        RowCheck { table, row: 0, errors: Vec::new(), reasons: Vec::new(), first_column: None }
    }

    /// Start checking data row `row` (1-based).
    #[inline]
    pub(crate) fn start(&mut self, row: u64) {
        self.row = row;
        self.errors.clear();
        self.reasons.clear();
        self.first_column = None;
    }

    /// Record an error in `column`.
    pub(crate) fn error(
        &mut self,
        kind: IssueKind,
        column: &str,
        expected: Option<String>,
        found: Option<String>,
        message: String,
    ) {
        if self.first_column.is_none() {
            self.first_column = Some(column.to_string());
        }
        self.reasons.push(format!("{column}: {message}"));
        self.errors.push(Issue {
            severity: Severity::Error,
            kind,
            table: self.table.to_string(),
            row: Some(self.row),
            column: Some(column.to_string()),
            expected,
            found,
            message,
        });
    }

    /// Record an empty required cell.
    pub(crate) fn missing(&mut self, column: &str, expected: &str) {
        self.error(
            IssueKind::MissingValue,
            column,
            Some(expected.to_string()),
            Some(String::new()),
            format!("missing value; expected {expected}"),
        );
    }

    /// Record an unparseable cell.
    pub(crate) fn bad(&mut self, kind: IssueKind, column: &str, expected: &str, found: &str) {
        self.error(
            kind,
            column,
            Some(expected.to_string()),
            Some(found.to_string()),
            format!("expected {expected}, found '{found}'"),
        );
    }

    /// Record a rejection that is not itself an issue (e.g. the patient was rejected).
    pub(crate) fn cascade(&mut self, reason: String) {
        self.reasons.push(reason);
    }

    /// Move the row's errors into `report`; if the row is rejected, record the
    /// reject (with the raw fields from `raw`). Returns true if the row loads.
    pub(crate) fn finish(&mut self, report: &mut ValidationReport, raw: impl FnOnce() -> String) -> bool {
        self.finish_with_room(report, usize::MAX, usize::MAX, raw)
    }

    /// As [`RowCheck::finish`], but store issues only while `report` holds
    /// fewer than `issue_room`, and rejects while it holds fewer than
    /// `reject_room` (beyond that they are only counted).
    pub(crate) fn finish_with_room(
        &mut self,
        report: &mut ValidationReport,
        issue_room: usize,
        reject_room: usize,
        raw: impl FnOnce() -> String,
    ) -> bool {
        if self.reasons.is_empty() {
            return true;
        }
        for e in self.errors.drain(..) {
            if report.issues.len() < issue_room {
                report.push(e);
            } else {
                report.count_only(e.severity, e.kind, &e.table);
            }
        }
        if report.rejects.len() >= reject_room {
            report.count_reject(self.table);
            return false;
        }
        report.push_reject(Reject {
            table: self.table.to_string(),
            row: self.row,
            column: self.first_column.take(),
            reason: self.reasons.join("; "),
            raw: raw(),
        });
        false
    }
}

/// Record a row-level warning.
#[allow(clippy::too_many_arguments)]
pub(crate) fn warn(
    report: &mut ValidationReport,
    kind: IssueKind,
    table: &str,
    row: u64,
    column: &str,
    expected: Option<String>,
    found: Option<String>,
    message: String,
) {
    report.push(Issue {
        severity: Severity::Warning,
        kind,
        table: table.to_string(),
        row: Some(row),
        column: Some(column.to_string()),
        expected,
        found,
        message,
    });
}

/// `name=value; ...` for the reject file.
pub(crate) fn raw_fields(cols: &[(&str, ColView<'_>)], i: usize) -> String {
    cols.iter().map(|(n, v)| format!("{n}={}", v.raw(i))).collect::<Vec<_>>().join("; ")
}

/// Parse a required date cell, recording problems.
#[inline]
pub(crate) fn req_day(v: &ColView<'_>, i: usize, column: &str, check: &mut RowCheck<'_>) -> Option<Day> {
    match v.day(i) {
        Cell::Value(d) => Some(d),
        Cell::Missing => {
            check.missing(column, EXPECT_DATE);
            None
        }
        Cell::Bad(s) => {
            check.bad(IssueKind::BadValue, column, EXPECT_DATE, &s);
            None
        }
    }
}

/// Parse an optional date cell, recording problems (`Ok(None)` if empty).
fn opt_day(v: &ColView<'_>, i: usize, column: &str, check: &mut RowCheck<'_>) -> Result<Option<Day>, ()> {
    match v.day(i) {
        Cell::Value(d) => Ok(Some(d)),
        Cell::Missing => Ok(None),
        Cell::Bad(s) => {
            check.bad(IssueKind::BadValue, column, &format!("{EXPECT_DATE} or an empty cell"), &s);
            Err(())
        }
    }
}

fn req_line(v: &ColView<'_>, i: usize, check: &mut RowCheck<'_>) -> Option<u32> {
    match v.integer(i) {
        Cell::Value(l) if (1..=i64::from(u32::MAX)).contains(&l) => Some(l as u32),
        Cell::Value(l) => {
            check.bad(IssueKind::BadValue, "line", EXPECT_LINE, &l.to_string());
            None
        }
        Cell::Missing => {
            check.missing("line", EXPECT_LINE);
            None
        }
        Cell::Bad(s) => {
            check.bad(IssueKind::BadValue, "line", EXPECT_LINE, &s);
            None
        }
    }
}

fn one_of(names: impl Iterator<Item = &'static str>) -> String {
    format!("one of {}", names.collect::<Vec<_>>().join(", "))
}

/// Parse a required category cell with `parse`, recording problems.
fn req_category<T>(
    v: &ColView<'_>,
    i: usize,
    column: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
    check: &mut RowCheck<'_>,
) -> Option<T> {
    match v.text(i) {
        None => {
            check.missing(column, expected);
            None
        }
        Some(t) => match parse(t) {
            Some(x) => Some(x),
            None => {
                check.bad(IssueKind::BadValue, column, expected, t);
                None
            }
        },
    }
}

/// A patient as seen from the other tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PatientRef {
    /// Index into the loaded patients, or `u32::MAX` if the patient row was rejected.
    pub idx: u32,
    /// 1-based row of the patient in `patients`.
    pub row: u32,
}

impl PatientRef {
    pub(crate) const REJECTED: u32 = u32::MAX;
}

/// Patient lookup for the other tables (borrows the ids of [`PatientsOut`]).
pub(crate) struct PatientIndex<'a> {
    /// `patient_id` → patient.
    pub map: PlHashMap<&'a str, PatientRef>,
    /// Per loaded patient: last contact and death day.
    pub follow: Vec<(Day, Option<Day>)>,
    /// Per loaded patient: the id (for the "next patient" guess of sorted input).
    pub ids: Vec<&'a str>,
}

/// Result of looking up a `patient_id` cell.
pub(crate) enum Who {
    /// A loaded patient.
    Kept(PatientIdx),
    /// The patient row was rejected (or the id is missing/unknown: already recorded).
    Not,
}

impl<'a> PatientIndex<'a> {
    /// Index the loaded and the rejected patients.
    pub(crate) fn new(out: &'a PatientsOut) -> Self {
        let mut map = PlHashMap::with_capacity(out.patients.len() + out.rejected.len());
        for (idx, p) in out.patients.iter().enumerate() {
            map.insert(p.id.as_str(), PatientRef { idx: idx as u32, row: out.rows[idx] });
        }
        for (id, row) in &out.rejected {
            map.entry(id.as_str()).or_insert(PatientRef { idx: PatientRef::REJECTED, row: *row });
        }
        let follow = out.patients.iter().map(|p| (p.last_contact, p.death)).collect();
        let ids = out.patients.iter().map(|p| p.id.as_str()).collect();
        PatientIndex { map, follow, ids }
    }

    /// Look up the `patient_id` of row `i`, recording a missing or unknown id
    /// as an error and a rejected patient as a cascade.
    #[inline]
    pub(crate) fn lookup(&self, id: Option<&str>, check: &mut RowCheck<'_>) -> Who {
        let Some(id) = id else {
            check.missing("patient_id", EXPECT_ID);
            return Who::Not;
        };
        self.resolve(id, self.map.get(id).copied(), check)
    }

    /// Interpret a lookup result (shared with the cached lookup of `measurements`).
    #[inline]
    pub(crate) fn resolve(&self, id: &str, r: Option<PatientRef>, check: &mut RowCheck<'_>) -> Who {
        match r {
            Some(r) if r.idx != PatientRef::REJECTED => Who::Kept(r.idx),
            Some(r) => {
                check.cascade(format!("patient rejected: patient_id '{id}' (patients row {}) has errors", r.row));
                Who::Not
            }
            None => {
                check.error(
                    IssueKind::UnknownPatient,
                    "patient_id",
                    Some("a patient_id of the patients table".to_string()),
                    Some(id.to_string()),
                    format!("unknown patient: '{id}' is not in the patients table"),
                );
                Who::Not
            }
        }
    }
}

/// Read and prepare columns of a small table; reports read failures.
fn read_small(tf: &InputTable, columns: &[String], report: &mut ValidationReport) -> Option<DataFrame> {
    match source::read_columns(tf, columns) {
        Ok(df) => Some(df),
        Err(e) => {
            report.push(unreadable(tf, &e));
            None
        }
    }
}

/// The issue for a table polars cannot read.
pub(crate) fn unreadable(tf: &InputTable, e: &PolarsError) -> Issue {
    source::table_issue(
        Severity::Error,
        IssueKind::UnreadableTable,
        tf.table,
        None,
        format!("cannot read {}: {e}", tf.path.display()),
    )
}

/// Prepare a bound column (or an all-missing view if the optional column is absent).
fn prep(df: &DataFrame, name: &Option<String>, target: Target) -> PolarsResult<PreparedColumn> {
    match name {
        Some(n) => Ok(PreparedColumn::new(df.column(n.as_str())?, target)?.whole()),
        None => Ok(PreparedColumn::Null(df.height())),
    }
}

/// Column names of a table, reporting read failures.
pub(crate) fn table_columns(tf: &InputTable, report: &mut ValidationReport) -> Option<Vec<String>> {
    match source::column_names(tf) {
        Ok(c) => Some(c),
        Err(e) => {
            report.push(unreadable(tf, &e));
            None
        }
    }
}

/// Outcome of loading the `patients` table.
pub(crate) struct PatientsOut {
    /// Loaded patients, input order.
    pub patients: Vec<Patient>,
    /// Their extra columns, one value per loaded patient.
    pub covariates: CovariateTable,
    /// 1-based `patients` row of each loaded patient.
    pub rows: Vec<u32>,
    /// Ids (and first rows) of the rejected patient rows.
    pub rejected: Vec<(String, u32)>,
}

const PATIENT_REQUIRED: [&str; 4] = ["patient_id", "diagnosis_date", "last_contact_date", "death_date"];
const PATIENT_OPTIONAL: [&str; 2] = ["sex", "age_at_diagnosis"];

/// Load and validate `patients`. `None` if the table is structurally unusable
/// (unreadable, missing or duplicate columns) — already reported.
pub(crate) fn load_patients(tf: &InputTable, report: &mut ValidationReport) -> Option<PatientsOut> {
    let table = "patients";
    let actual = table_columns(tf, report)?;
    let bound = source::bind_columns(table, &actual, &PATIENT_REQUIRED, &PATIENT_OPTIONAL, report)?;
    let df = read_small(tf, &actual, report)?;
    let n = df.height();
    report.table_mut(table).rows = n as u64;
    if n == 0 {
        report.push(source::table_issue(
            Severity::Warning,
            IssueKind::EmptyTable,
            table,
            None,
            "the patients table has no data rows".to_string(),
        ));
    }
    let prepared = (|| -> PolarsResult<_> {
        Ok([
            prep(&df, &bound[0], Target::Text)?,
            prep(&df, &bound[1], Target::Date)?,
            prep(&df, &bound[2], Target::Date)?,
            prep(&df, &bound[3], Target::Date)?,
            prep(&df, &bound[4], Target::Text)?,
            prep(&df, &bound[5], Target::Number)?,
        ])
    })();
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            report.push(unreadable(tf, &e));
            return None;
        }
    };
    // Covariates: every column not bound to a contract column.
    let bound_names: HashSet<&str> = bound.iter().flatten().map(String::as_str).collect();
    let mut covariates: Vec<(String, PreparedColumn, bool)> = Vec::new();
    for name in actual.iter().filter(|a| !bound_names.contains(a.as_str())) {
        let Ok(column) = df.column(name.as_str()) else { continue };
        let numeric_dtype = column.dtype().is_numeric();
        let prepared = if numeric_dtype {
            PreparedColumn::new(column, Target::Number).map(|p| p.whole())
        } else {
            PreparedColumn::new(column, Target::Text).map(|p| p.whole())
        };
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                report.push(unreadable(tf, &e));
                return None;
            }
        };
        // A text column is numeric if every non-missing cell parses as a finite number.
        let numeric = numeric_dtype || {
            let v = prepared.view();
            (0..n).all(|i| !matches!(v.number(i), Cell::Bad(_)))
        };
        covariates.push((name.trim().to_string(), prepared, numeric));
    }

    let [id_p, dx_p, lc_p, dd_p, sex_p, age_p] = &prepared;
    let (id, dx, lc, dd, sex, age) = (id_p.view(), dx_p.view(), lc_p.view(), dd_p.view(), sex_p.view(), age_p.view());
    let cov_views: Vec<(&str, ColView<'_>, bool)> = covariates.iter().map(|(n, p, num)| (n.as_str(), p.view(), *num)).collect();
    // one shared text per column name and per distinct value of a text column
    let mut cov_columns: Vec<CovariateBuilder<'_>> =
        covariates.iter().map(|(_, _, numeric)| CovariateBuilder::new(*numeric, n)).collect();
    // one shared text per distinct sex
    let mut sexes = TextInterner::default();

    // First row of every id, and every row of the duplicated ids, so that all
    // rows of a duplicated id are rejected.
    let mut first_row: PlHashMap<&str, usize> = PlHashMap::with_capacity(n);
    let mut dup_rows: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..n {
        if let Some(s) = id.text(i) {
            match first_row.get(s) {
                None => {
                    first_row.insert(s, i);
                }
                Some(&f) => dup_rows.entry(s).or_insert_with(|| vec![f]).push(i),
            }
        }
    }
    drop(first_row);

    let mut raw_views: Vec<(&str, ColView<'_>)> = vec![
        ("patient_id", id),
        ("diagnosis_date", dx),
        ("last_contact_date", lc),
        ("death_date", dd),
        ("sex", sex),
        ("age_at_diagnosis", age),
    ];
    raw_views.extend(cov_views.iter().map(|(n, v, _)| (*n, *v)));

    let mut patients = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(n);
    let mut rejected = Vec::new();
    let mut check = RowCheck::new(table);
    for i in 0..n {
        let row = i as u64 + 1;
        check.start(row);
        let pid = id.text(i);
        match pid {
            None => check.missing("patient_id", EXPECT_ID),
            Some(s) => {
                if let Some(occ) = dup_rows.get(s) {
                    if occ[0] == i {
                        let others: Vec<String> = occ[1..].iter().map(|r| (r + 1).to_string()).collect();
                        check.cascade(format!(
                            "patient_id: '{s}' is duplicated on row(s) {}; all its rows are rejected",
                            others.join(", ")
                        ));
                    } else {
                        check.error(
                            IssueKind::DuplicatePatient,
                            "patient_id",
                            Some("a unique patient_id".to_string()),
                            Some(s.to_string()),
                            format!("duplicate patient_id '{s}' (first on row {})", occ[0] + 1),
                        );
                    }
                }
            }
        }
        let diagnosis = req_day(&dx, i, "diagnosis_date", &mut check);
        let last_contact = req_day(&lc, i, "last_contact_date", &mut check);
        let death = opt_day(&dd, i, "death_date", &mut check);
        let age_v = match age.number(i) {
            Cell::Value(a) => Some(a),
            Cell::Missing => None,
            Cell::Bad(s) => {
                check.bad(IssueKind::BadValue, "age_at_diagnosis", EXPECT_NUMBER, &s);
                None
            }
        };
        if let Some(d) = diagnosis {
            if let Some(l) = last_contact {
                if l < d {
                    check.error(
                        IssueKind::DateBeforeDiagnosis,
                        "last_contact_date",
                        Some(format!("a date on or after diagnosis_date {}", day_to_iso(d))),
                        Some(day_to_iso(l)),
                        format!("last_contact_date {} is before diagnosis_date {}", day_to_iso(l), day_to_iso(d)),
                    );
                }
            }
            if let Ok(Some(x)) = death {
                if x < d {
                    check.error(
                        IssueKind::DateBeforeDiagnosis,
                        "death_date",
                        Some(format!("a date on or after diagnosis_date {}", day_to_iso(d))),
                        Some(day_to_iso(x)),
                        format!("death_date {} is before diagnosis_date {}", day_to_iso(x), day_to_iso(d)),
                    );
                }
            }
        }
        if let (Some(l), Ok(Some(x))) = (last_contact, death) {
            if x > l {
                check.error(
                    IssueKind::DeathAfterLastContact,
                    "death_date",
                    Some(format!("a date on or before last_contact_date {}", day_to_iso(l))),
                    Some(day_to_iso(x)),
                    format!(
                        "death_date {} is after last_contact_date {} (for a deceased patient \
                         last_contact_date must be on or after the death date, usually equal to it)",
                        day_to_iso(x),
                        day_to_iso(l)
                    ),
                );
            }
        }
        if let Some(a) = age_v {
            if !(AGE_RANGE.0..=AGE_RANGE.1).contains(&a) {
                warn(
                    report,
                    IssueKind::ImplausibleValue,
                    table,
                    row,
                    "age_at_diagnosis",
                    Some(format!("{} to {} years", AGE_RANGE.0, AGE_RANGE.1)),
                    Some(format!("{a}")),
                    format!("implausible age_at_diagnosis {a} (expected {} to {} years)", AGE_RANGE.0, AGE_RANGE.1),
                );
            }
        }
        let ok = check.finish(report, || raw_fields(&raw_views, i));
        let prow = i as u32 + 1;
        if ok {
            // All required values are present when the row has no error.
            if let (Some(pid), Some(diagnosis), Some(last_contact), Ok(death)) = (pid, diagnosis, last_contact, death) {
                rows.push(prow);
                for ((_, v, _), column) in cov_views.iter().zip(&mut cov_columns) {
                    column.push(v, i);
                }
                patients.push(Patient {
                    id: SharedText::from(pid),
                    diagnosis,
                    last_contact,
                    death,
                    sex: sex.text(i).map(|t| sexes.intern(t)),
                    age: age_v,
                });
            }
        } else if let Some(pid) = pid {
            // Every row of a duplicated id is rejected (the first by cascade),
            // so an id is either loaded once or rejected.
            rejected.push((pid.to_string(), prow));
        }
    }
    report.table_mut(table).loaded = patients.len() as u64;
    let covariates = CovariateTable::new(
        covariates
            .iter()
            .zip(cov_columns)
            .map(|((name, _, _), column)| CovariateColumn { name: SharedText::from(name.as_str()), values: column.finish() }),
    );
    Some(PatientsOut { patients, covariates, rows, rejected })
}

/// The values of one covariate column, gathered patient by patient.
enum CovariateBuilder<'a> {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<u32>, TextCodes<'a>),
}

impl<'a> CovariateBuilder<'a> {
    fn new(numeric: bool, rows: usize) -> Self {
        if numeric {
            CovariateBuilder::Numbers(Vec::with_capacity(rows))
        } else {
            CovariateBuilder::Texts(Vec::with_capacity(rows), TextCodes::default())
        }
    }

    /// Add the value of row `i` of the column `v` (a loaded patient's).
    fn push(&mut self, v: &ColView<'a>, i: usize) {
        match self {
            CovariateBuilder::Numbers(values) => values.push(match v.number(i) {
                Cell::Value(x) => Some(x),
                _ => None,
            }),
            CovariateBuilder::Texts(codes, distinct) => {
                codes.push(v.text(i).map_or(CovariateValues::MISSING, |t| distinct.code(t)));
            }
        }
    }

    fn finish(self) -> CovariateValues {
        match self {
            CovariateBuilder::Numbers(mut values) => {
                values.shrink_to_fit();
                CovariateValues::Numbers(values)
            }
            CovariateBuilder::Texts(mut codes, distinct) => {
                codes.shrink_to_fit();
                CovariateValues::Texts { codes, values: distinct.into_values() }
            }
        }
    }
}

/// Warn if `day` is after the patient's death or (alive) last contact.
#[inline]
pub(crate) fn follow_up_warning(
    report: &mut ValidationReport,
    index: &PatientIndex<'_>,
    p: PatientIdx,
    day: Day,
    table: &str,
    row: u64,
    what: &str,
) {
    let (last, death) = index.follow[p as usize];
    match death {
        Some(d) if day > d => warn(
            report,
            IssueKind::AfterDeath,
            table,
            row,
            "date",
            Some(format!("a date on or before death_date {}", day_to_iso(d))),
            Some(day_to_iso(day)),
            format!("{what} dated {} is after the patient's death on {}", day_to_iso(day), day_to_iso(d)),
        ),
        _ if day > last => warn(
            report,
            IssueKind::AfterLastContact,
            table,
            row,
            "date",
            Some(format!("a date on or before last_contact_date {}", day_to_iso(last))),
            Some(day_to_iso(day)),
            format!("{what} dated {} is after the patient's last contact on {}", day_to_iso(day), day_to_iso(last)),
        ),
        _ => {}
    }
}

/// The prepared columns of a small table, in the order requested (required,
/// then optional), with their names.
struct Opened<'n> {
    rows: usize,
    names: Vec<&'n str>,
    cols: Vec<PreparedColumn>,
}

impl<'n> Opened<'n> {
    /// Views of the columns, and the same views named (for a rejected row's raw fields).
    fn views(&self) -> (Vec<ColView<'_>>, Vec<(&'n str, ColView<'_>)>) {
        let v: Vec<ColView<'_>> = self.cols.iter().map(PreparedColumn::view).collect();
        let named = self.names.iter().copied().zip(v.iter().copied()).collect();
        (v, named)
    }
}

/// Bind, read and prepare the columns of a small table. `None` if unusable (reported).
fn open_small<'n>(
    tf: &InputTable,
    required: &[&'n str],
    optional: &[&'n str],
    targets: &[Target],
    report: &mut ValidationReport,
) -> Option<Opened<'n>> {
    let actual = table_columns(tf, report)?;
    let bound = source::bind_columns(tf.table, &actual, required, optional, report)?;
    let names: Vec<String> = bound.iter().flatten().cloned().collect();
    let df = read_small(tf, &names, report)?;
    let mut out = Vec::with_capacity(bound.len());
    for (b, t) in bound.iter().zip(targets) {
        match prep(&df, b, *t) {
            Ok(p) => out.push(p),
            Err(e) => {
                report.push(unreadable(tf, &e));
                return None;
            }
        }
    }
    report.table_mut(tf.table).rows = df.height() as u64;
    Some(Opened { rows: df.height(), names: required.iter().chain(optional).copied().collect(), cols: out })
}

/// Load and validate `treatments`.
pub(crate) fn load_treatments(
    tf: &InputTable,
    index: &PatientIndex<'_>,
    report: &mut ValidationReport,
) -> Option<Vec<TreatmentLine>> {
    let table = "treatments";
    let opened = open_small(
        tf,
        &["patient_id", "line", "regimen", "intensity", "start_date"],
        &["end_date"],
        &[Target::Text, Target::Integer, Target::Text, Target::Text, Target::Date, Target::Date],
        report,
    )?;
    let (n, (v, raw_views)) = (opened.rows, opened.views());
    let expect_intensity = one_of(Intensity::ALL.iter().map(|x| x.name()));
    let mut out = Vec::with_capacity(n);
    let mut seen: HashMap<(PatientIdx, u32), u64> = HashMap::new();
    // one shared text per distinct regimen, not one string per line
    let mut regimens = TextInterner::default();
    let mut check = RowCheck::new(table);
    for i in 0..n {
        let row = i as u64 + 1;
        check.start(row);
        let who = index.lookup(v[0].text(i), &mut check);
        let line = req_line(&v[1], i, &mut check);
        let text = v[2].text(i).unwrap_or("");
        let regimen = regimens.intern(text);
        let intensity = req_category(&v[3], i, "intensity", &expect_intensity, Intensity::parse, &mut check);
        let start = req_day(&v[4], i, "start_date", &mut check);
        let end = opt_day(&v[5], i, "end_date", &mut check);
        let ok = check.finish(report, || raw_fields(&raw_views, i));
        if let (true, Who::Kept(p), Some(line), Some(intensity), Some(start), Ok(end)) = (ok, who, line, intensity, start, end) {
            if let Some(e) = end {
                if e < start {
                    warn(
                        report,
                        IssueKind::EndBeforeStart,
                        table,
                        row,
                        "end_date",
                        Some(format!("a date on or after start_date {}", day_to_iso(start))),
                        Some(day_to_iso(e)),
                        format!("treatment ends ({}) before it starts ({})", day_to_iso(e), day_to_iso(start)),
                    );
                }
            }
            if let Some(first) = seen.insert((p, line), row) {
                warn(
                    report,
                    IssueKind::DuplicateTreatmentLine,
                    table,
                    row,
                    "line",
                    Some("one row per patient and line".to_string()),
                    Some(line.to_string()),
                    format!("line {line} of this patient is also on row {first}"),
                );
            }
            out.push(TreatmentLine { patient: p, line, regimen, intensity, start, end, row: row as u32 });
        }
    }
    report.table_mut(table).loaded = out.len() as u64;
    Some(out)
}

/// Load and validate `responses`. `treatments` is `None` if that table is absent.
pub(crate) fn load_responses(
    tf: &InputTable,
    index: &PatientIndex<'_>,
    treatments: Option<&[TreatmentLine]>,
    report: &mut ValidationReport,
) -> Option<Vec<ResponseAssessment>> {
    let table = "responses";
    let opened = open_small(
        tf,
        &["patient_id", "line", "date", "response"],
        &[],
        &[Target::Text, Target::Integer, Target::Date, Target::Text],
        report,
    )?;
    let (n, (v, raw_views)) = (opened.rows, opened.views());
    let expect_response = one_of(Response::ALL.iter().map(|x| x.name()));
    let lines: Option<HashSet<(PatientIdx, u32)>> = treatments.map(|t| t.iter().map(|t| (t.patient, t.line)).collect());
    if treatments.is_none() && n > 0 {
        report.push(source::table_issue(
            Severity::Warning,
            IssueKind::ResponseWithoutTreatment,
            table,
            Some("line"),
            "the cohort has responses but no treatments table, so no response can be matched to its treatment line".to_string(),
        ));
    }
    let mut out = Vec::with_capacity(n);
    let mut check = RowCheck::new(table);
    for i in 0..n {
        let row = i as u64 + 1;
        check.start(row);
        let who = index.lookup(v[0].text(i), &mut check);
        let line = req_line(&v[1], i, &mut check);
        let day = req_day(&v[2], i, "date", &mut check);
        let response = req_category(&v[3], i, "response", &expect_response, Response::parse, &mut check);
        let ok = check.finish(report, || raw_fields(&raw_views, i));
        if let (true, Who::Kept(p), Some(line), Some(day), Some(response)) = (ok, who, line, day, response) {
            if let Some(lines) = &lines {
                if !lines.contains(&(p, line)) {
                    warn(
                        report,
                        IssueKind::ResponseWithoutTreatment,
                        table,
                        row,
                        "line",
                        Some("a line with a row in treatments".to_string()),
                        Some(line.to_string()),
                        format!("response for line {line}, but the patient has no treatment row for line {line}"),
                    );
                }
            }
            out.push(ResponseAssessment { patient: p, line, day, response, row: row as u32 });
        }
    }
    report.table_mut(table).loaded = out.len() as u64;
    Some(out)
}

/// Load and validate `findings`.
pub(crate) fn load_findings(tf: &InputTable, index: &PatientIndex<'_>, report: &mut ValidationReport) -> Option<Vec<Finding>> {
    let table = "findings";
    let opened = open_small(
        tf,
        &["patient_id", "date", "finding", "present"],
        &[],
        &[Target::Text, Target::Date, Target::Text, Target::Bool],
        report,
    )?;
    let (n, (v, raw_views)) = (opened.rows, opened.views());
    let expect_finding = one_of(FindingKind::ALL.iter().map(|x| x.name()));
    let mut out = Vec::with_capacity(n);
    let mut check = RowCheck::new(table);
    for i in 0..n {
        let row = i as u64 + 1;
        check.start(row);
        let who = index.lookup(v[0].text(i), &mut check);
        let day = req_day(&v[1], i, "date", &mut check);
        let finding = req_category(&v[2], i, "finding", &expect_finding, FindingKind::parse, &mut check);
        let present = match v[3].boolean(i) {
            Cell::Value(b) => Some(b),
            Cell::Missing => {
                check.missing("present", EXPECT_BOOL);
                None
            }
            Cell::Bad(s) => {
                check.bad(IssueKind::BadValue, "present", EXPECT_BOOL, &s);
                None
            }
        };
        let ok = check.finish(report, || raw_fields(&raw_views, i));
        if let (true, Who::Kept(p), Some(day), Some(finding), Some(present)) = (ok, who, day, finding, present) {
            follow_up_warning(report, index, p, day, table, row, "finding");
            out.push(Finding { patient: p, day, finding, present, row: row as u32 });
        }
    }
    report.table_mut(table).loaded = out.len() as u64;
    Some(out)
}

/// Required columns of `adjudications`, in order.
pub(crate) const ADJUDICATION_COLUMNS: [&str; 4] = ["patient_id", "onset_date", "decision", "reviewer"];

/// Load and validate `adjudications` (chart-review decisions).
///
/// Errors (the row is rejected): missing or unknown `patient_id`, bad or missing `onset_date`,
/// a `decision` other than confirmed / rejected / uncertain, an empty `reviewer`, and the same
/// reviewer twice for the same patient and onset date (the later rows). Warning: an onset after
/// the patient's death or last contact. Extra columns (e.g. a filled-in review sheet) are ignored.
pub(crate) fn load_adjudications(
    tf: &InputTable,
    index: &PatientIndex<'_>,
    report: &mut ValidationReport,
) -> Option<Vec<Adjudication>> {
    let table = "adjudications";
    let opened = open_small(tf, &ADJUDICATION_COLUMNS, &[], &[Target::Text, Target::Date, Target::Text, Target::Text], report)?;
    let (n, (v, raw_views)) = (opened.rows, opened.views());
    let expect_decision = one_of(Decision::ALL.iter().map(|x| x.name()));
    let mut out = Vec::with_capacity(n);
    let mut seen: HashMap<(PatientIdx, Day, String), u64> = HashMap::new();
    let mut check = RowCheck::new(table);
    for i in 0..n {
        let row = i as u64 + 1;
        check.start(row);
        let who = index.lookup(v[0].text(i), &mut check);
        let onset = req_day(&v[1], i, "onset_date", &mut check);
        let decision = req_category(&v[2], i, "decision", &expect_decision, Decision::parse, &mut check);
        let reviewer = v[3].text(i).map(str::to_string);
        if reviewer.is_none() {
            check.missing("reviewer", "a non-empty reviewer name or code");
        }
        if let (Who::Kept(p), Some(onset), Some(r)) = (&who, onset, &reviewer) {
            let key = (*p, onset, r.clone());
            match seen.get(&key) {
                Some(first) => check.error(
                    IssueKind::DuplicateAdjudication,
                    "reviewer",
                    Some("one decision per reviewer, patient and onset_date".to_string()),
                    Some(r.clone()),
                    format!(
                        "reviewer '{r}' already rated this patient's episode with onset {} on row {first}",
                        day_to_iso(onset)
                    ),
                ),
                None => {
                    seen.insert(key, row);
                }
            }
        }
        let ok = check.finish(report, || raw_fields(&raw_views, i));
        if let (true, Who::Kept(p), Some(onset), Some(decision), Some(reviewer)) = (ok, who, onset, decision, reviewer) {
            adjudication_follow_up_warning(report, index, p, onset, row);
            out.push(Adjudication { patient: p, onset, decision, reviewer, row: row as u32 });
        }
    }
    report.table_mut(table).loaded = out.len() as u64;
    Some(out)
}

/// Warn if an adjudicated onset is after the patient's death or (alive) last contact.
fn adjudication_follow_up_warning(report: &mut ValidationReport, index: &PatientIndex<'_>, p: PatientIdx, day: Day, row: u64) {
    let (last, death) = index.follow[p as usize];
    let (kind, limit, what) = match death {
        Some(d) if day > d => (IssueKind::AfterDeath, d, "death_date"),
        None if day > last => (IssueKind::AfterLastContact, last, "last_contact_date"),
        _ => return,
    };
    warn(
        report,
        kind,
        "adjudications",
        row,
        "onset_date",
        Some(format!("a date on or before {what} {}", day_to_iso(limit))),
        Some(day_to_iso(day)),
        format!("adjudicated onset {} is after the patient's {what} {}", day_to_iso(day), day_to_iso(limit)),
    );
}
