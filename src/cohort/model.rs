//! The in-memory cohort: plain Rust types, no polars.
//!
//! Loading ([`crate::cohort::load`]) turns the registry tables into these
//! types after validation and unit normalisation; detection, statistics and
//! the study run read only these. Dates are whole days since 1970-01-01
//! (the same integer polars uses for its `Date` type); datetimes in the input
//! are floored to their calendar day.

use std::fmt;

use super::text::SharedText;

/// A calendar day as days since 1970-01-01.
pub type Day = i32;

/// Index of a patient in [`Cohort::patients`].
pub type PatientIdx = u32;

/// Convert a [`Day`] to ISO `YYYY-MM-DD`.
pub fn day_to_iso(day: Day) -> String {
    // Civil-from-days (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    let z = day as i64 + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parse ISO `YYYY-MM-DD` (a trailing `THH:MM[:SS...]` or ` HH:MM...` time part is accepted
/// and floored to the day). Returns `None` if it is not a valid date.
pub fn iso_to_day(s: &str) -> Option<Day> {
    let s = s.trim();
    let date = s.get(..10)?;
    if s.len() > 10 {
        let sep = s.as_bytes()[10];
        if sep != b'T' && sep != b' ' {
            return None;
        }
    }
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = date[0..4].parse().ok()?;
    let m: i64 = date[5..7].parse().ok()?;
    let d: i64 = date[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) as Day)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// A laboratory analyte or vital sign of the `measurements` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Analyte {
    /// Body temperature, canonical °C.
    Temperature,
    /// Hemoglobin, canonical g/L.
    Hemoglobin,
    /// Platelets, canonical 10^9/L.
    Platelets,
    /// Absolute neutrophil count, canonical 10^9/L.
    Neutrophils,
    /// White blood cells (leukocytes), canonical 10^9/L.
    Leukocytes,
    /// Ferritin, canonical µg/L.
    Ferritin,
    /// Triglycerides, canonical mmol/L.
    Triglycerides,
    /// Fibrinogen, canonical g/L.
    Fibrinogen,
    /// Aspartate aminotransferase, canonical U/L.
    Ast,
    /// Soluble CD25 (sIL-2R), canonical U/mL.
    Scd25,
}

impl Analyte {
    /// Every analyte, in a fixed order.
    pub const ALL: [Analyte; 10] = [
        Analyte::Temperature,
        Analyte::Hemoglobin,
        Analyte::Platelets,
        Analyte::Neutrophils,
        Analyte::Leukocytes,
        Analyte::Ferritin,
        Analyte::Triglycerides,
        Analyte::Fibrinogen,
        Analyte::Ast,
        Analyte::Scd25,
    ];

    /// The name used in the `analyte` column.
    pub fn name(self) -> &'static str {
        match self {
            Analyte::Temperature => "temperature",
            Analyte::Hemoglobin => "hemoglobin",
            Analyte::Platelets => "platelets",
            Analyte::Neutrophils => "neutrophils",
            Analyte::Leukocytes => "leukocytes",
            Analyte::Ferritin => "ferritin",
            Analyte::Triglycerides => "triglycerides",
            Analyte::Fibrinogen => "fibrinogen",
            Analyte::Ast => "ast",
            Analyte::Scd25 => "scd25",
        }
    }

    /// The canonical unit every value is normalised to.
    pub fn canonical_unit(self) -> &'static str {
        match self {
            Analyte::Temperature => "°C",
            Analyte::Hemoglobin => "g/L",
            Analyte::Platelets | Analyte::Neutrophils | Analyte::Leukocytes => "10^9/L",
            Analyte::Ferritin => "µg/L",
            Analyte::Triglycerides => "mmol/L",
            Analyte::Fibrinogen => "g/L",
            Analyte::Ast => "U/L",
            Analyte::Scd25 => "U/mL",
        }
    }

    /// Parse an analyte name (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Analyte> {
        let s = s.trim().to_ascii_lowercase();
        Analyte::ALL.into_iter().find(|a| a.name() == s)
    }
}

impl fmt::Display for Analyte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A clinical finding of the `findings` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FindingKind {
    /// Splenomegaly (clinical or imaging).
    Splenomegaly,
    /// Hepatomegaly.
    Hepatomegaly,
    /// Hemophagocytosis in bone marrow (or spleen, lymph node, liver).
    Hemophagocytosis,
    /// Low or absent NK-cell activity.
    LowNkActivity,
    /// Known underlying immunosuppression (HScore).
    Immunosuppression,
}

impl FindingKind {
    /// Every finding, in a fixed order.
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Splenomegaly,
        FindingKind::Hepatomegaly,
        FindingKind::Hemophagocytosis,
        FindingKind::LowNkActivity,
        FindingKind::Immunosuppression,
    ];

    /// The name used in the `finding` column.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Splenomegaly => "splenomegaly",
            FindingKind::Hepatomegaly => "hepatomegaly",
            FindingKind::Hemophagocytosis => "hemophagocytosis",
            FindingKind::LowNkActivity => "low_nk_activity",
            FindingKind::Immunosuppression => "immunosuppression",
        }
    }

    /// Parse a finding name (case-insensitive).
    pub fn parse(s: &str) -> Option<FindingKind> {
        let s = s.trim().to_ascii_lowercase();
        FindingKind::ALL.into_iter().find(|f| f.name() == s)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Treatment intensity class of the `treatments` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Intensity {
    /// Intensive chemotherapy (7+3, CPX-351, HiDAC, FLAG-Ida ...).
    Intensive,
    /// Low-intensity therapy (azacitidine/decitabine ± venetoclax, LDAC ...).
    LowIntensity,
    /// Allogeneic stem-cell transplantation.
    Transplant,
    /// Best supportive care.
    Supportive,
    /// Anything else.
    Other,
}

impl Intensity {
    /// Every class, in a fixed order.
    pub const ALL: [Intensity; 5] =
        [Intensity::Intensive, Intensity::LowIntensity, Intensity::Transplant, Intensity::Supportive, Intensity::Other];

    /// The name used in the `intensity` column.
    pub fn name(self) -> &'static str {
        match self {
            Intensity::Intensive => "intensive",
            Intensity::LowIntensity => "low_intensity",
            Intensity::Transplant => "transplant",
            Intensity::Supportive => "supportive",
            Intensity::Other => "other",
        }
    }

    /// Parse an intensity name (case-insensitive).
    pub fn parse(s: &str) -> Option<Intensity> {
        let s = s.trim().to_ascii_lowercase();
        Intensity::ALL.into_iter().find(|i| i.name() == s)
    }
}

impl fmt::Display for Intensity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// ELN 2022 response category of the `responses` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Response {
    /// Complete remission.
    CR,
    /// CR with partial hematologic recovery.
    CRh,
    /// CR with incomplete hematologic recovery.
    CRi,
    /// Morphologic leukemia-free state.
    MLFS,
    /// Partial remission.
    PR,
    /// Stable disease / no response.
    SD,
    /// Progressive disease.
    PD,
    /// Relapse after CR/CRh/CRi.
    Relapse,
}

impl Response {
    /// Every category, best first.
    pub const ALL: [Response; 8] =
        [Response::CR, Response::CRh, Response::CRi, Response::MLFS, Response::PR, Response::SD, Response::PD, Response::Relapse];

    /// The name used in the `response` column.
    pub fn name(self) -> &'static str {
        match self {
            Response::CR => "CR",
            Response::CRh => "CRh",
            Response::CRi => "CRi",
            Response::MLFS => "MLFS",
            Response::PR => "PR",
            Response::SD => "SD",
            Response::PD => "PD",
            Response::Relapse => "relapse",
        }
    }

    /// Parse a category (case-insensitive: `cr`, `CRh`, `Relapse` ...).
    pub fn parse(s: &str) -> Option<Response> {
        let s = s.trim();
        Response::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(s))
    }

    /// Composite complete remission: CR, CRh or CRi.
    pub fn is_composite_cr(self) -> bool {
        matches!(self, Response::CR | Response::CRh | Response::CRi)
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A covariate value from an extra column of `patients`.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariate {
    /// Numeric column value.
    Number(f64),
    /// Text column value (categorical); shared by the patients with the same value.
    Text(SharedText),
    /// Empty cell.
    Missing,
}

/// One row of `patients`.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// `patient_id`, unique.
    pub id: SharedText,
    /// `diagnosis_date`: the default time origin.
    pub diagnosis: Day,
    /// `last_contact_date`: last date known alive (or the death date).
    pub last_contact: Day,
    /// `death_date`, `None` if alive at last contact.
    pub death: Option<Day>,
    /// `sex`, if given (shared by the patients with the same value).
    pub sex: Option<SharedText>,
    /// `age_at_diagnosis` in years, if given.
    pub age: Option<f64>,
}

/// The extra columns of `patients` (every column that is not part of the data contract), one
/// value per patient in `Cohort::patients` order, sorted by column name.
///
/// Stored by column, not per patient: a text column is one `u32` code per patient into its
/// distinct values (each a [`SharedText`]), a numeric column one `Option<f64>`. Per patient
/// that is 4 or 16 bytes per column instead of a map entry (~50 bytes with its allocation),
/// which counts at millions of patients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CovariateTable {
    columns: Vec<CovariateColumn>,
}

/// One extra column of `patients`.
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateColumn {
    /// Column name (trimmed).
    pub name: SharedText,
    /// The values, one per patient.
    pub values: CovariateValues,
}

/// The values of one covariate column.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariateValues {
    /// A numeric column (every non-empty cell a number); `None` = empty cell.
    Numbers(Vec<Option<f64>>),
    /// A text column: `codes[i]` indexes `values`, [`CovariateValues::MISSING`] = empty cell.
    Texts {
        /// Per patient, the index of its value in `values`.
        codes: Vec<u32>,
        /// The distinct values, in order of first appearance.
        values: Vec<SharedText>,
    },
}

impl CovariateValues {
    /// The code of an empty cell in [`CovariateValues::Texts`].
    pub const MISSING: u32 = u32::MAX;

    /// The value of patient `i` (`None` if there is no such patient).
    pub fn get(&self, i: usize) -> Option<Covariate> {
        match self {
            CovariateValues::Numbers(v) => v.get(i).map(|x| x.map_or(Covariate::Missing, Covariate::Number)),
            CovariateValues::Texts { codes, values } => {
                codes.get(i).map(|&c| values.get(c as usize).map_or(Covariate::Missing, |t| Covariate::Text(t.clone())))
            }
        }
    }

    /// Whether the column is numeric.
    pub fn is_numeric(&self) -> bool {
        matches!(self, CovariateValues::Numbers(_))
    }

    /// Whether any of the patients `rows` has a text value (never in a numeric column): the
    /// analyses treat a text column without any as an all-missing numeric one.
    pub fn any_text(&self, rows: impl IntoIterator<Item = usize>) -> bool {
        match self {
            CovariateValues::Numbers(_) => false,
            CovariateValues::Texts { codes, .. } => rows.into_iter().any(|i| codes[i] != CovariateValues::MISSING),
        }
    }
}

impl CovariateTable {
    /// A table of the given columns (each with one value per patient), sorted by name; of two
    /// columns with the same name the last is kept.
    pub fn new(columns: impl IntoIterator<Item = CovariateColumn>) -> CovariateTable {
        let mut v: Vec<CovariateColumn> = Vec::new();
        for c in columns {
            match v.binary_search_by(|x| x.name.cmp(&c.name)) {
                Ok(i) => v[i] = c,
                Err(i) => v.insert(i, c),
            }
        }
        CovariateTable { columns: v }
    }

    /// The column called `name`, if `patients` has it.
    pub fn column(&self, name: &str) -> Option<&CovariateColumn> {
        self.columns.binary_search_by(|c| c.name.as_str().cmp(name)).ok().map(|i| &self.columns[i])
    }

    /// The value of column `name` for patient `patient` (`None`: no such column or patient).
    pub fn get(&self, patient: usize, name: &str) -> Option<Covariate> {
        self.column(name)?.values.get(patient)
    }

    /// The column names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// The columns, sorted by name.
    pub fn columns(&self) -> &[CovariateColumn] {
        &self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

impl Patient {
    /// End of follow-up: the death date if dead, else the last contact.
    pub fn end_of_follow_up(&self) -> Day {
        self.death.unwrap_or(self.last_contact)
    }
}

/// How a laboratory reported a value: exactly, or only as a bound (`>40000`, `<0.1`), when
/// the true value lies outside the assay's reporting range.
///
/// A qualified [`Measurement`] is a *censored* value: [`Measurement::value`] holds the bound
/// (converted to the canonical unit like any value; every unit conversion is increasing, so
/// the direction of the bound is kept) and the qualifier says on which side of it the true
/// value lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Qualifier {
    /// An exact value.
    #[default]
    None,
    /// `<b`: the true value is below the bound.
    Lt,
    /// `<=b`: the true value is at most the bound.
    Le,
    /// `>b`: the true value is above the bound.
    Gt,
    /// `>=b`: the true value is at least the bound.
    Ge,
}

impl Qualifier {
    /// The ASCII symbol (`""` for an exact value, `<`, `<=`, `>`, `>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            Qualifier::None => "",
            Qualifier::Lt => "<",
            Qualifier::Le => "<=",
            Qualifier::Gt => ">",
            Qualifier::Ge => ">=",
        }
    }

    /// Split a cell's text into its qualifier and the rest: `>= 40000` gives
    /// `(Ge, "40000")`, `≤0.1` gives `(Le, "0.1")`, `9.2` gives `(None, "9.2")`. Spaces
    /// between the qualifier and the number are allowed; the rest is not checked.
    pub fn split(text: &str) -> (Qualifier, &str) {
        let t = text.trim_start();
        let (q, rest) = if let Some(r) = t.strip_prefix(">=") {
            (Qualifier::Ge, r)
        } else if let Some(r) = t.strip_prefix("<=") {
            (Qualifier::Le, r)
        } else if let Some(r) = t.strip_prefix('≥') {
            (Qualifier::Ge, r)
        } else if let Some(r) = t.strip_prefix('≤') {
            (Qualifier::Le, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (Qualifier::Gt, r)
        } else if let Some(r) = t.strip_prefix('<') {
            (Qualifier::Lt, r)
        } else {
            return (Qualifier::None, t);
        };
        (q, rest.trim_start())
    }

    /// Whether the value is a bound rather than an exact value.
    #[inline]
    pub fn is_qualified(self) -> bool {
        self != Qualifier::None
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One row of `measurements`, normalised to the analyte's canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Patient index into [`Cohort::patients`].
    pub patient: PatientIdx,
    /// Calendar day of the measurement.
    pub day: Day,
    /// What was measured.
    pub analyte: Analyte,
    /// Index of the unit spelling as given, into [`Cohort::unit_spellings`].
    pub unit: u16,
    /// Value in the canonical unit of the analyte; for a qualified value, the bound.
    pub value: f64,
    /// Value as given in the input (for a qualified value, the bound as given).
    pub raw_value: f64,
    /// 1-based data row number in the source table (header excluded).
    pub row: u32,
    /// [`Qualifier::None`] for an exact value, else the side of `value` the true value lies on.
    pub qualifier: Qualifier,
}

// The qualifier fits in the padding: a measurement stays 32 bytes (docs/data-format.md, Scale).
const _: () = assert!(std::mem::size_of::<Measurement>() == 32);

/// One row of `findings`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    /// Patient index.
    pub patient: PatientIdx,
    /// Day of the finding.
    pub day: Day,
    /// Which finding.
    pub finding: FindingKind,
    /// Present (true) or documented absent (false).
    pub present: bool,
    /// 1-based data row number in the source table.
    pub row: u32,
}

/// One row of `treatments`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreatmentLine {
    /// Patient index.
    pub patient: PatientIdx,
    /// Line number, 1 = first line.
    pub line: u32,
    /// Regimen as written (e.g. `7+3`, `aza+ven`), shared by the lines with the same regimen.
    pub regimen: SharedText,
    /// Intensity class.
    pub intensity: Intensity,
    /// Start day.
    pub start: Day,
    /// End day, `None` if ongoing or not recorded.
    pub end: Option<Day>,
    /// 1-based data row number in the source table.
    pub row: u32,
}

/// One row of `responses`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseAssessment {
    /// Patient index.
    pub patient: PatientIdx,
    /// Treatment line the response refers to.
    pub line: u32,
    /// Day of assessment.
    pub day: Day,
    /// ELN category.
    pub response: Response,
    /// 1-based data row number in the source table.
    pub row: u32,
}

/// Decision of a chart review (the `decision` column of `adjudications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// The reviewer confirmed HLH.
    Confirmed,
    /// The reviewer rejected HLH.
    Rejected,
    /// The reviewer could not decide.
    Uncertain,
}

impl Decision {
    /// Every decision, in a fixed order.
    pub const ALL: [Decision; 3] = [Decision::Confirmed, Decision::Rejected, Decision::Uncertain];

    /// The name used in the `decision` column.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::Rejected => "rejected",
            Decision::Uncertain => "uncertain",
        }
    }

    /// Parse a decision (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Decision> {
        let s = s.trim();
        Decision::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of `adjudications`: a reviewer's decision on a candidate HLH episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjudication {
    /// Patient index.
    pub patient: PatientIdx,
    /// Onset date of the reviewed episode (as on the review sheet).
    pub onset: Day,
    /// The reviewer's decision.
    pub decision: Decision,
    /// Reviewer (name or code, as written).
    pub reviewer: String,
    /// 1-based data row number in the source table.
    pub row: u32,
}

/// A validated, unit-normalised cohort.
///
/// Invariants (established by the loader, relied on by detection):
/// `measurements`, `findings`, `treatments` and `responses` are sorted by
/// `(patient, day/start/line)`, and the `*_offsets` vectors (length
/// `patients.len() + 1`) give each patient's slice. A run frees the measurements and the
/// findings once detection is done ([`Cohort::release_measurements`],
/// [`Cohort::release_findings`]); every patient then has none.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    /// Patients in input order.
    pub patients: Vec<Patient>,
    /// Measurements sorted by (patient, day, analyte, row).
    pub measurements: Vec<Measurement>,
    /// Findings sorted by (patient, day, finding, row).
    pub findings: Vec<Finding>,
    /// Treatment lines sorted by (patient, line, start).
    pub treatments: Vec<TreatmentLine>,
    /// Responses sorted by (patient, day, line).
    pub responses: Vec<ResponseAssessment>,
    /// Unit spellings as found in the input; `Measurement::unit` indexes this.
    pub unit_spellings: Vec<String>,
    /// Which optional tables were present in the cohort folder.
    pub tables_present: Vec<String>,
    /// The extra columns of `patients`, one value per patient (empty when built with
    /// [`Cohort::new`]; the loader sets them).
    pub covariates: CovariateTable,
    /// Chart-review decisions sorted by (patient, onset, reviewer, row); empty without an
    /// `adjudications` table. Set with [`Cohort::set_adjudications`].
    pub adjudications: Vec<Adjudication>,
    /// First patient whose measurements are held (see [`Cohort::set_measurement_part`]);
    /// `measurement_offsets` covers the held patients from this one on.
    measurement_first: usize,
    measurement_offsets: Vec<usize>,
    finding_offsets: Vec<usize>,
    treatment_offsets: Vec<usize>,
    response_offsets: Vec<usize>,
    adjudication_offsets: Vec<usize>,
}

/// The key of [`Cohort::measurements`]' order: (patient, day, analyte, row).
type OrderKey = (PatientIdx, Day, Analyte, u32);

fn order_key(m: &Measurement) -> OrderKey {
    (m.patient, m.day, m.analyte, m.row)
}

/// Whether a sequence of measurements, seen in pieces, is already in the order of
/// [`Cohort::measurements`], so that loading can skip a pass over the whole table to check it.
/// Pieces are summarised as their rows are made ([`MeasurementOrder::push`]) and joined in
/// sequence ([`MeasurementOrder::then`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MeasurementOrder {
    first: Option<OrderKey>,
    last: Option<OrderKey>,
    sorted: bool,
}

impl Default for MeasurementOrder {
    fn default() -> Self {
        MeasurementOrder { first: None, last: None, sorted: true }
    }
}

impl MeasurementOrder {
    /// Add the next row of the sequence.
    #[inline]
    pub(crate) fn push(&mut self, m: &Measurement) {
        let k = order_key(m);
        match self.last {
            None => self.first = Some(k),
            Some(last) => self.sorted &= last <= k,
        }
        self.last = Some(k);
    }

    /// The order of this sequence followed by `next`.
    pub(crate) fn then(self, next: MeasurementOrder) -> MeasurementOrder {
        let joint = match (self.last, next.first) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        };
        MeasurementOrder {
            first: self.first.or(next.first),
            last: next.last.or(self.last),
            sorted: self.sorted && next.sorted && joint,
        }
    }

    /// `true` if every row is in order.
    pub(crate) fn is_sorted(&self) -> bool {
        self.sorted
    }
}

/// Sort measurements by (patient, day, analyte, row), the order of [`Cohort::measurements`],
/// unless `order` (when known) says they already are.
fn sort_measurements(measurements: &mut [Measurement], order: Option<MeasurementOrder>) {
    use rayon::prelude::*;
    if order.is_some_and(|o| o.is_sorted()) {
        return;
    }
    // Registry extracts usually arrive sorted: a parallel check is cheaper than
    // sorting sorted data (row numbers are unique, so sorted means final).
    if !measurements.par_windows(2).all(|w| order_key(&w[0]) <= order_key(&w[1])) {
        measurements.par_sort_unstable_by(|a, b| order_key(a).cmp(&order_key(b)));
    }
}

/// Patients per block when indexing sorted rows in parallel.
const OFFSET_BLOCK: usize = 1 << 14;

/// Per-patient offsets into rows sorted by patient: the rows of patient `q` are
/// `offsets[q]..offsets[q + 1]` (`n_patients + 1` entries). Built in parallel over blocks of
/// patients, each finding its first row by binary search and walking on from there.
///
/// Panics if a row's patient is `>= n_patients` (a caller's error).
fn offsets_by_patient<T: Sync>(n_patients: usize, rows: &[T], patient: impl Fn(&T) -> PatientIdx + Sync) -> Vec<usize> {
    use rayon::prelude::*;
    if let Some(last) = rows.last() {
        assert!((patient(last) as usize) < n_patients, "a row of a patient outside the cohort");
    }
    let mut offsets = vec![0usize; n_patients + 1];
    offsets.par_chunks_mut(OFFSET_BLOCK).enumerate().for_each(|(b, block)| {
        let q0 = b * OFFSET_BLOCK;
        let mut i = rows.partition_point(|r| (patient(r) as usize) < q0);
        for (k, slot) in block.iter_mut().enumerate() {
            while i < rows.len() && (patient(&rows[i]) as usize) < q0 + k {
                i += 1;
            }
            *slot = i;
        }
    });
    offsets
}

impl Cohort {
    /// Build a cohort from its parts: sorts every table by patient and day and
    /// computes the per-patient offsets. Patient indices must be `< patients.len()`.
    pub fn new(
        patients: Vec<Patient>,
        measurements: Vec<Measurement>,
        findings: Vec<Finding>,
        treatments: Vec<TreatmentLine>,
        responses: Vec<ResponseAssessment>,
        unit_spellings: Vec<String>,
    ) -> Cohort {
        Cohort::assemble(patients, (measurements, None), findings, treatments, responses, unit_spellings)
    }

    /// [`Cohort::new`], with the measurements' order when the loader already knows it (then
    /// sorted measurements are not checked again).
    pub(crate) fn assemble(
        patients: Vec<Patient>,
        (mut measurements, order): (Vec<Measurement>, Option<MeasurementOrder>),
        mut findings: Vec<Finding>,
        mut treatments: Vec<TreatmentLine>,
        mut responses: Vec<ResponseAssessment>,
        unit_spellings: Vec<String>,
    ) -> Cohort {
        sort_measurements(&mut measurements, order);
        findings.sort_unstable_by_key(|a| (a.patient, a.day, a.finding, a.row));
        treatments.sort_by_key(|a| (a.patient, a.line, a.start, a.row));
        responses.sort_by_key(|a| (a.patient, a.day, a.line, a.row));
        let n = patients.len();
        let measurement_offsets = offsets_by_patient(n, &measurements, |m| m.patient);
        let finding_offsets = offsets_by_patient(n, &findings, |m| m.patient);
        let treatment_offsets = offsets_by_patient(n, &treatments, |m| m.patient);
        let response_offsets = offsets_by_patient(n, &responses, |m| m.patient);
        Cohort {
            patients,
            measurements,
            findings,
            treatments,
            responses,
            unit_spellings,
            tables_present: Vec::new(),
            covariates: CovariateTable::default(),
            adjudications: Vec::new(),
            measurement_first: 0,
            measurement_offsets,
            finding_offsets,
            treatment_offsets,
            response_offsets,
            adjudication_offsets: vec![0; n + 1],
        }
    }

    /// Store the chart-review decisions: sorts them by (patient, onset, reviewer, row) and
    /// indexes them per patient. Patient indices must be `< patients.len()`.
    pub fn set_adjudications(&mut self, mut adjudications: Vec<Adjudication>) {
        adjudications.sort_by(|a, b| (a.patient, a.onset, &a.reviewer, a.row).cmp(&(b.patient, b.onset, &b.reviewer, b.row)));
        self.adjudication_offsets = offsets_by_patient(self.patients.len(), &adjudications, |a| a.patient);
        self.adjudications = adjudications;
    }

    /// Chart-review decisions of patient `p`, sorted by onset then reviewer (empty without an
    /// `adjudications` table).
    pub fn adjudications_of(&self, p: PatientIdx) -> &[Adjudication] {
        let p = p as usize;
        match (self.adjudication_offsets.get(p), self.adjudication_offsets.get(p + 1)) {
            (Some(&a), Some(&b)) => &self.adjudications[a..b],
            _ => &[],
        }
    }

    /// Free the measurements (the largest table) once nothing needs them any more;
    /// afterwards every patient has no measurements.
    pub fn release_measurements(&mut self) {
        self.measurements = Vec::new();
        self.measurement_first = 0;
        self.measurement_offsets = vec![0];
    }

    /// Free the findings once detection, their only reader, is done; afterwards every patient
    /// has none.
    pub fn release_findings(&mut self) {
        self.findings = Vec::new();
        self.finding_offsets = Vec::new();
    }

    /// Hold the measurements of the patients `patients` only, replacing those held before
    /// (for detection part by part, [`crate::cohort::MeasurementParts`]): they are sorted as
    /// [`Cohort::new`] sorts them, and every other patient then has none.
    ///
    /// Panics if a row belongs to a patient outside the range (a caller's error: the parts
    /// are split by patient).
    pub fn set_measurement_part(&mut self, patients: std::ops::Range<PatientIdx>, mut measurements: Vec<Measurement>) {
        sort_measurements(&mut measurements, None);
        // sorted by patient: the first and the last row bound every row's patient
        let inside = |m: Option<&Measurement>| m.is_none_or(|m| patients.contains(&m.patient));
        assert!(inside(measurements.first()) && inside(measurements.last()), "a measurement outside its patient part");
        let first = patients.start as usize;
        let n = patients.len();
        self.measurement_offsets = offsets_by_patient(n, &measurements, |m| m.patient - patients.start);
        self.measurement_first = first;
        self.measurements = measurements;
    }

    /// Measurements of patient `p`, sorted by day.
    pub fn measurements_of(&self, p: PatientIdx) -> &[Measurement] {
        let k = (p as usize).wrapping_sub(self.measurement_first);
        match (self.measurement_offsets.get(k), self.measurement_offsets.get(k.wrapping_add(1))) {
            (Some(&a), Some(&b)) => &self.measurements[a..b],
            _ => &[],
        }
    }

    /// Findings of patient `p`, sorted by day.
    pub fn findings_of(&self, p: PatientIdx) -> &[Finding] {
        let p = p as usize;
        match (self.finding_offsets.get(p), self.finding_offsets.get(p + 1)) {
            (Some(&a), Some(&b)) => &self.findings[a..b],
            _ => &[],
        }
    }

    /// Treatment lines of patient `p`, sorted by line.
    pub fn treatments_of(&self, p: PatientIdx) -> &[TreatmentLine] {
        let p = p as usize;
        &self.treatments[self.treatment_offsets[p]..self.treatment_offsets[p + 1]]
    }

    /// Responses of patient `p`, sorted by day.
    pub fn responses_of(&self, p: PatientIdx) -> &[ResponseAssessment] {
        let p = p as usize;
        &self.responses[self.response_offsets[p]..self.response_offsets[p + 1]]
    }

    /// The unit spelling of a measurement, as given in the input.
    pub fn unit_of(&self, m: &Measurement) -> &str {
        self.unit_spellings.get(m.unit as usize).map(String::as_str).unwrap_or("")
    }

    /// First treatment line of patient `p` (lowest line number), if any.
    pub fn first_line_of(&self, p: PatientIdx) -> Option<&TreatmentLine> {
        self.treatments_of(p).first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        assert_eq!(iso_to_day("1970-01-01"), Some(0));
        assert_eq!(iso_to_day("2000-03-01"), Some(11_017));
        assert_eq!(iso_to_day("2024-02-29T13:45:00"), iso_to_day("2024-02-29"));
        assert_eq!(iso_to_day("2023-02-29"), None);
        assert_eq!(iso_to_day("2023-13-01"), None);
        assert_eq!(iso_to_day("20230101"), None);
        for d in [-1000, 0, 1, 11_017, 19_782, 40_000] {
            assert_eq!(iso_to_day(&day_to_iso(d)), Some(d));
        }
        assert_eq!(day_to_iso(19_782), "2024-02-29");
    }

    #[test]
    fn offsets_slice_patients() {
        let p = |id: &str| Patient { id: id.into(), diagnosis: 0, last_contact: 10, death: None, sex: None, age: None };
        let m = |patient, day| Measurement {
            patient,
            day,
            analyte: Analyte::Ferritin,
            unit: 0,
            value: 1.0,
            raw_value: 1.0,
            row: 1,
            qualifier: Qualifier::None,
        };
        let c = Cohort::new(
            vec![p("a"), p("b"), p("c")],
            vec![m(2, 5), m(0, 3), m(2, 1)],
            vec![],
            vec![],
            vec![],
            vec!["µg/L".into()],
        );
        assert_eq!(c.measurements_of(0).len(), 1);
        assert_eq!(c.measurements_of(1).len(), 0);
        assert_eq!(c.measurements_of(2).iter().map(|m| m.day).collect::<Vec<_>>(), vec![1, 5]);
    }

    #[test]
    fn released_findings_leave_every_patient_without_any() {
        let p = |id: &str| Patient { id: id.into(), diagnosis: 0, last_contact: 10, death: None, sex: None, age: None };
        let f = |patient, day| Finding { patient, day, finding: FindingKind::ALL[0], present: true, row: 1 };
        let mut c = Cohort::new(vec![p("a"), p("b")], vec![], vec![f(1, 4), f(0, 2), f(1, 3)], vec![], vec![], vec![]);
        assert_eq!(c.findings_of(1).iter().map(|f| f.day).collect::<Vec<_>>(), vec![3, 4]);
        c.release_findings();
        assert!(c.findings.is_empty());
        assert!((0..3).all(|p| c.findings_of(p).is_empty()), "no findings, and none past the last patient");
    }

    /// A measurement with the fields of the order key; the rest fixed.
    fn keyed(patient: PatientIdx, day: Day, analyte: Analyte, row: u32) -> Measurement {
        Measurement { patient, day, analyte, unit: 0, value: 1.0, raw_value: 1.0, row, qualifier: Qualifier::None }
    }

    #[test]
    fn measurement_order_of_pieces_is_the_order_of_the_whole() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut seen = [0usize; 2];
        for _ in 0..2000 {
            let n: usize = rng.gen_range(0..12);
            let mut rows: Vec<Measurement> = (0..n as u32)
                .map(|r| keyed(rng.gen_range(0..3), rng.gen_range(0..3), Analyte::ALL[rng.gen_range(0..2)], r))
                .collect();
            if rng.gen_bool(0.5) {
                rows.sort_by_key(order_key);
            }
            let truth = rows.windows(2).all(|w| order_key(&w[0]) <= order_key(&w[1]));
            seen[truth as usize] += 1;
            // split at random cuts (empty pieces included) and join the pieces' orders
            let mut cuts: Vec<usize> = (0..rng.gen_range(0..4)).map(|_| rng.gen_range(0..=n)).collect();
            cuts.extend([0, n]);
            cuts.sort_unstable();
            let mut joined = MeasurementOrder::default();
            for w in cuts.windows(2) {
                let mut piece = MeasurementOrder::default();
                rows[w[0]..w[1]].iter().for_each(|m| piece.push(m));
                joined = joined.then(piece);
            }
            assert_eq!(joined.is_sorted(), truth, "{:?}", rows.iter().map(order_key).collect::<Vec<_>>());
        }
        assert!(seen[0] > 100 && seen[1] > 100, "both outcomes drawn: {seen:?}");
    }

    #[test]
    fn offsets_by_patient_across_blocks() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // more patients than one block; many without rows, the last few included
        for n in [0usize, 1, OFFSET_BLOCK - 1, OFFSET_BLOCK, 2 * OFFSET_BLOCK + 5] {
            let mut patients: Vec<PatientIdx> = Vec::new();
            for p in 0..n.saturating_sub(3) {
                for _ in 0..[0, 0, 1, 3][rng.gen_range(0..4)] {
                    patients.push(p as PatientIdx);
                }
            }
            let offsets = offsets_by_patient(n, &patients, |&p| p);
            assert_eq!(offsets.len(), n + 1);
            let mut counted = vec![0usize; n + 1];
            for &p in &patients {
                counted[p as usize + 1] += 1;
            }
            for q in 1..=n {
                counted[q] += counted[q - 1];
            }
            assert_eq!(offsets, counted, "{n} patients");
        }
    }

    #[test]
    #[should_panic(expected = "outside the cohort")]
    fn offsets_by_patient_refuses_a_patient_outside() {
        offsets_by_patient(2, &[0 as PatientIdx, 2], |&p| p);
    }
}
