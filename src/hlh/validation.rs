//! Validation of detected HLH against a known truth (simulated cohorts, chart review).
//!
//! # Truth table
//! `truth.csv`: one row per true HLH episode, columns `patient_id, episode, onset_date,
//! resolution_date, line, regimen` (other columns are ignored; `resolution_date`, `line` and
//! `regimen` may be empty). Patients without a row are true negatives. [`Truth::load`] rejects
//! (never drops) a bad row with the file, 1-based data row, column, what was expected and what
//! was found: an unknown `patient_id`, a bad date, a resolution before the onset, a
//! non-positive episode number or line, a repeated `(patient_id, episode)`.
//!
//! # Matching (patient level)
//! - A patient is **truly positive** when the truth lists at least one episode for them
//!   (whatever its date), and **detected** when the definition found at least one episode
//!   during follow-up. Every patient of the cohort is classified: TP (truly positive and
//!   detected), FP, FN, TN.
//! - Sensitivity TP/(TP+FN), specificity TN/(TN+FP), PPV TP/(TP+FP), NPV TN/(TN+FN), each
//!   with the exact Clopper–Pearson 95 % interval (R `binom.test`, via
//!   [`crate::stats::proportions::proportion`]). A metric with an empty denominator is NA and
//!   the `note` column says why.
//! - **Onset error** (true positives only): the first detected onset minus the first true
//!   onset, in days (negative = detected early). Median and quartiles use R's default
//!   `quantile(type = 7)`. A detection far from the true episode still counts as a true
//!   positive at patient level; its onset error shows the distance.
//! - **Incidence**: estimated (TP+FP)/N and true (TP+FN)/N over the N patients of the cohort;
//!   `incidence_difference` = estimated − true.

use std::fmt;
use std::path::Path;

use crate::cohort::{iso_to_day, Cohort, Day, PatientIdx};
use crate::stats::proportions::proportion;
use crate::table::{Cell, ResultTable};

use super::detect::Detection;

/// Columns required in a truth table.
pub const TRUTH_COLUMNS: [&str; 6] = ["patient_id", "episode", "onset_date", "resolution_date", "line", "regimen"];

/// One true HLH episode.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthEpisode {
    /// Patient index into `cohort.patients`.
    pub patient: PatientIdx,
    /// Patient id.
    pub patient_id: String,
    /// Episode number (1-based).
    pub episode: u32,
    /// True onset day.
    pub onset: Day,
    /// Resolution day, if known.
    pub resolution: Option<Day>,
    /// Treatment line at onset, if given.
    pub line: Option<u32>,
    /// Regimen at onset (may be empty).
    pub regimen: String,
    /// 1-based data row in the truth file.
    pub row: u32,
}

/// The truth of a cohort: its true HLH episodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Truth {
    /// Episodes in file order.
    pub episodes: Vec<TruthEpisode>,
}

/// A bad truth table: names the file, the 1-based data row (0 = header or file), the column,
/// what was expected and what was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("truth table {file}: {location}column `{column}`: expected {expected}, found {found}")]
pub struct TruthError {
    /// File path (or label).
    pub file: String,
    /// 1-based data row (header excluded); 0 for the header or the whole file.
    pub row: usize,
    /// Column name.
    pub column: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
    location: RowLabel,
}

#[derive(Debug, Clone, PartialEq)]
struct RowLabel(usize);

impl fmt::Display for RowLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            Ok(())
        } else {
            write!(f, "row {}, ", self.0)
        }
    }
}

fn terr(file: &str, row: usize, column: &str, expected: impl Into<String>, found: impl Into<String>) -> TruthError {
    TruthError {
        file: file.into(),
        row,
        column: column.into(),
        expected: expected.into(),
        found: found.into(),
        location: RowLabel(row),
    }
}

/// Split one CSV line (RFC 4180 quotes, no embedded newlines).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

impl Truth {
    /// The truth table of a cohort folder when there is one: `truth.csv`, else `truth.parquet`
    /// (what `detect` and `run` use when no `--truth` is given).
    pub fn default_path(cohort_dir: &Path) -> Option<std::path::PathBuf> {
        ["truth.csv", "truth.parquet"].iter().map(|f| cohort_dir.join(f)).find(|p| p.is_file())
    }

    /// Read a truth CSV and resolve its patients against `cohort` (see the module docs).
    pub fn load(path: &Path, cohort: &Cohort) -> Result<Truth, TruthError> {
        let file = path.display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "parquet" || ext == "pq" {
            return Truth::from_parquet(path, cohort);
        }
        let text = std::fs::read_to_string(path).map_err(|e| terr(&file, 0, "*", "a readable UTF-8 CSV file", e.to_string()))?;
        Truth::from_csv_str(&text, &file, cohort)
    }

    /// Parse truth CSV text; `file` is quoted in errors.
    pub fn from_csv_str(text: &str, file: &str, cohort: &Cohort) -> Result<Truth, TruthError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines();
        let header = lines
            .next()
            .ok_or_else(|| terr(file, 0, "*", format!("a header row with {}", TRUTH_COLUMNS.join(", ")), "an empty file"))?;
        let names: Vec<String> = split_csv(header)
            .map_err(|e| terr(file, 0, "*", "a CSV header", e))?
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let row = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let f = split_csv(line).map_err(|e| terr(file, row, "*", "a CSV row", e))?;
            if f.len() != names.len() {
                return Err(terr(file, row, "*", format!("{} fields", names.len()), format!("{} fields", f.len())));
            }
            rows.push((row, f));
        }
        Truth::from_records(&names, header.trim(), rows, file, cohort)
    }

    /// Read a truth table stored as Parquet (the simulator's default format); same columns
    /// and checks as the CSV form (dates may be Date or text columns).
    pub fn from_parquet(path: &Path, cohort: &Cohort) -> Result<Truth, TruthError> {
        let file = path.display().to_string();
        let t = crate::io::table::Table::read(path).map_err(|e| terr(&file, 0, "*", "a readable Parquet file", e.to_string()))?;
        let mut cols = Vec::new();
        for want in TRUTH_COLUMNS {
            if !t.has_column(want) {
                return Err(terr(&file, 0, want, "the column in the table", "no such column"));
            }
            cols.push(t.text(want).map_err(|e| terr(&file, 0, want, "a column readable as text", e.to_string()))?);
        }
        let names: Vec<String> = TRUTH_COLUMNS.iter().map(|s| s.to_string()).collect();
        let rows = (0..t.n_rows()).map(|i| (i + 1, cols.iter().map(|c| c[i].clone().unwrap_or_default()).collect())).collect();
        Truth::from_records(&names, &TRUTH_COLUMNS.join(","), rows, &file, cohort)
    }

    /// Check and resolve parsed records: `(1-based row, fields in header order)`.
    fn from_records(
        names: &[String],
        header: &str,
        rows: Vec<(usize, Vec<String>)>,
        file: &str,
        cohort: &Cohort,
    ) -> Result<Truth, TruthError> {
        let mut col = [0usize; 6];
        for (k, want) in TRUTH_COLUMNS.iter().enumerate() {
            col[k] = names
                .iter()
                .position(|n| n == want)
                .ok_or_else(|| terr(file, 0, want, "the column in the header", format!("header `{header}`")))?;
        }
        let ids: std::collections::HashMap<&str, PatientIdx> =
            cohort.patients.iter().enumerate().map(|(i, p)| (p.id.as_str(), i as PatientIdx)).collect();
        let mut episodes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (row, f) in rows {
            let cell = |k: usize| f[col[k]].trim();
            let pid = cell(0);
            let patient = *ids.get(pid).ok_or_else(|| {
                terr(file, row, "patient_id", "a patient_id of the cohort's patients table", format!("`{pid}`"))
            })?;
            let episode = match cell(1).parse::<u32>() {
                Ok(e) if e >= 1 => e,
                _ => return Err(terr(file, row, "episode", "a whole number >= 1", format!("`{}`", cell(1)))),
            };
            let onset = iso_to_day(cell(2))
                .ok_or_else(|| terr(file, row, "onset_date", "a date YYYY-MM-DD", format!("`{}`", cell(2))))?;
            let resolution = match cell(3) {
                "" => None,
                s => {
                    let d = iso_to_day(s)
                        .ok_or_else(|| terr(file, row, "resolution_date", "a date YYYY-MM-DD or empty", format!("`{s}`")))?;
                    if d < onset {
                        return Err(terr(
                            file,
                            row,
                            "resolution_date",
                            format!("a date on or after onset_date {}", cell(2)),
                            format!("`{s}`"),
                        ));
                    }
                    Some(d)
                }
            };
            let line_no = match cell(4) {
                "" => None,
                s => match s.parse::<u32>() {
                    Ok(l) if l >= 1 => Some(l),
                    _ => return Err(terr(file, row, "line", "a whole number >= 1 or empty", format!("`{s}`"))),
                },
            };
            if !seen.insert((patient, episode)) {
                return Err(terr(
                    file,
                    row,
                    "episode",
                    format!("one row per (patient_id, episode); {pid} episode {episode} is listed twice"),
                    format!("`{episode}`"),
                ));
            }
            episodes.push(TruthEpisode {
                patient,
                patient_id: pid.to_string(),
                episode,
                onset,
                resolution,
                line: line_no,
                regimen: cell(5).to_string(),
                row: row as u32,
            });
        }
        Ok(Truth { episodes })
    }

    /// First true onset of each patient (`None` = truly negative), indexed by patient.
    pub fn first_onsets(&self, n_patients: usize) -> Vec<Option<Day>> {
        let mut v: Vec<Option<Day>> = vec![None; n_patients];
        for e in &self.episodes {
            if let Some(slot) = v.get_mut(e.patient as usize) {
                *slot = Some(slot.map_or(e.onset, |d| d.min(e.onset)));
            }
        }
        v
    }
}

/// An estimate with its exact 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Numerator.
    pub x: u64,
    /// Denominator.
    pub n: u64,
    /// x / n.
    pub estimate: f64,
    /// Clopper–Pearson 95 % lower limit.
    pub lower: f64,
    /// Clopper–Pearson 95 % upper limit.
    pub upper: f64,
}

/// Validation of one definition against the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRow {
    /// Criteria set name.
    pub criteria_set: String,
    /// Rule text.
    pub rule: String,
    /// Patients in the cohort.
    pub n_patients: u64,
    /// Truly positive and detected.
    pub true_positive: u64,
    /// Truly negative and detected.
    pub false_positive: u64,
    /// Truly positive and not detected.
    pub false_negative: u64,
    /// Truly negative and not detected.
    pub true_negative: u64,
    /// TP / (TP + FN); `None` without truly positive patients.
    pub sensitivity: Option<Metric>,
    /// TN / (TN + FP); `None` without truly negative patients.
    pub specificity: Option<Metric>,
    /// TP / (TP + FP); `None` without detected patients.
    pub ppv: Option<Metric>,
    /// TN / (TN + FN); `None` without undetected patients.
    pub npv: Option<Metric>,
    /// Onset errors (days) of the true positives, sorted.
    pub onset_errors: Vec<i64>,
    /// Median onset error (type 7); `None` without true positives.
    pub onset_error_median: Option<f64>,
    /// First quartile (type 7).
    pub onset_error_q1: Option<f64>,
    /// Third quartile (type 7).
    pub onset_error_q3: Option<f64>,
    /// True positives whose first detected onset is within 3 days of the first true onset.
    pub onset_within_3_days: u64,
    /// (TP + FP) / N; `None` for an empty cohort.
    pub estimated_incidence: Option<f64>,
    /// (TP + FN) / N.
    pub true_incidence: Option<f64>,
    /// Reasons for NA cells, `;`-separated (empty when none).
    pub note: String,
}

/// Column names of [`validation_table`].
pub const VALIDATION_COLUMNS: [&str; 31] = [
    "criteria_set",
    "rule",
    "n_patients",
    "true_positive",
    "false_positive",
    "false_negative",
    "true_negative",
    "sensitivity",
    "sensitivity_lower",
    "sensitivity_upper",
    "specificity",
    "specificity_lower",
    "specificity_upper",
    "ppv",
    "ppv_lower",
    "ppv_upper",
    "npv",
    "npv_lower",
    "npv_upper",
    "onset_error_n",
    "onset_error_median",
    "onset_error_q1",
    "onset_error_q3",
    "onset_error_min",
    "onset_error_max",
    "onset_within_3_days",
    "estimated_incidence",
    "true_incidence",
    "incidence_difference",
    "ci_method",
    "note",
];

/// R `quantile(x, p, type = 7)` of sorted `x`; `None` when empty (lives in
/// [`crate::stats::table1`], re-exported here).
pub use crate::stats::table1::quantile_type7;

fn metric(x: u64, n: u64) -> Option<Metric> {
    let p = proportion(x, n, 0.95).ok()?;
    Some(Metric { x, n, estimate: p.estimate, lower: p.clopper_pearson.0, upper: p.clopper_pearson.1 })
}

/// Validate each detection against the truth, patient by patient (see the module docs).
/// `truth` must have been loaded against the same `cohort`.
pub fn validate(truth: &Truth, detections: &[Detection], cohort: &Cohort) -> Vec<ValidationRow> {
    let true_first = truth.first_onsets(cohort.patients.len());
    detections
        .iter()
        .map(|d| validate_against(&true_first, &d.criteria_set, &d.rule, d.episodes.iter().map(|e| (e.patient, e.onset))))
        .collect()
}

/// [`validate`] for one definition given by name, rule and the (patient, onset day) of each of
/// its episodes (a definition kept without its episodes' details, as the grid's variants are).
pub fn validate_onsets(
    truth: &Truth,
    criteria_set: &str,
    rule: &str,
    onsets: impl IntoIterator<Item = (PatientIdx, Day)>,
    cohort: &Cohort,
) -> ValidationRow {
    validate_against(&truth.first_onsets(cohort.patients.len()), criteria_set, rule, onsets)
}

/// One definition against each patient's true first onset (`true_first`, one entry per patient).
fn validate_against(
    true_first: &[Option<Day>],
    criteria_set: &str,
    rule: &str,
    onsets: impl IntoIterator<Item = (PatientIdx, Day)>,
) -> ValidationRow {
    let n = true_first.len();
    let mut det_first: Vec<Option<Day>> = vec![None; n];
    for (p, onset) in onsets {
        if let Some(slot) = det_first.get_mut(p as usize) {
            *slot = Some(slot.map_or(onset, |x| x.min(onset)));
        }
    }
    let (mut tp, mut fp, mut fn_, mut tn) = (0u64, 0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for p in 0..n {
        match (true_first[p], det_first[p]) {
            (Some(t), Some(o)) => {
                tp += 1;
                errors.push(i64::from(o) - i64::from(t));
            }
            (None, Some(_)) => fp += 1,
            (Some(_), None) => fn_ += 1,
            (None, None) => tn += 1,
        }
    }
    errors.sort_unstable();
    let sorted: Vec<f64> = errors.iter().map(|e| *e as f64).collect();
    let mut notes = Vec::new();
    // each metric that cannot be estimated says why, in this order
    let mut noted = |m: Option<Metric>, why: &'static str| {
        if m.is_none() {
            notes.push(why);
        }
        m
    };
    let sensitivity = noted(metric(tp, tp + fn_), "sensitivity and onset error NA: no truly positive patients");
    let specificity = noted(metric(tn, tn + fp), "specificity NA: no truly negative patients");
    let ppv = noted(metric(tp, tp + fp), "PPV NA: no patient detected");
    let npv = noted(metric(tn, tn + fn_), "NPV NA: every patient detected");
    if tp == 0 && tp + fn_ > 0 {
        notes.push("onset error NA: no true positives");
    }
    let nn = n as f64;
    ValidationRow {
        criteria_set: criteria_set.to_string(),
        rule: rule.to_string(),
        n_patients: n as u64,
        true_positive: tp,
        false_positive: fp,
        false_negative: fn_,
        true_negative: tn,
        sensitivity,
        specificity,
        ppv,
        npv,
        onset_error_median: quantile_type7(&sorted, 0.5),
        onset_error_q1: quantile_type7(&sorted, 0.25),
        onset_error_q3: quantile_type7(&sorted, 0.75),
        onset_within_3_days: errors.iter().filter(|e| e.abs() <= 3).count() as u64,
        onset_errors: errors,
        estimated_incidence: (n > 0).then(|| (tp + fp) as f64 / nn),
        true_incidence: (n > 0).then(|| (tp + fn_) as f64 / nn),
        note: notes.join("; "),
    }
}

/// A proportion's estimate and exact limits as three cells (NA when not estimable).
fn metric_cells(m: Option<Metric>) -> [Cell; 3] {
    [Cell::finite_or_na(m.map(|m| m.estimate)), Cell::finite_or_na(m.map(|m| m.lower)), Cell::finite_or_na(m.map(|m| m.upper))]
}

/// The validation table named `name` (columns [`VALIDATION_COLUMNS`], one row per
/// definition; NA where a metric is not estimable, with the reason in `note`).
pub fn validation_table(name: &str, rows: &[ValidationRow]) -> ResultTable {
    let mut t = ResultTable::new(name, &VALIDATION_COLUMNS);
    for r in rows {
        let mut row = vec![Cell::from(r.criteria_set.as_str()), Cell::from(r.rule.as_str())];
        for v in [r.n_patients, r.true_positive, r.false_positive, r.false_negative, r.true_negative] {
            row.push(Cell::Int(v as i64));
        }
        for m in [r.sensitivity, r.specificity, r.ppv, r.npv] {
            row.extend(metric_cells(m));
        }
        row.push(Cell::from(r.onset_errors.len()));
        for v in [r.onset_error_median, r.onset_error_q1, r.onset_error_q3] {
            row.push(Cell::finite_or_na(v));
        }
        row.push(Cell::from(r.onset_errors.first().copied()));
        row.push(Cell::from(r.onset_errors.last().copied()));
        row.push(Cell::Int(r.onset_within_3_days as i64));
        row.push(Cell::finite_or_na(r.estimated_incidence));
        row.push(Cell::finite_or_na(r.true_incidence));
        row.push(Cell::finite_or_na(r.estimated_incidence.zip(r.true_incidence).map(|(a, b)| a - b)));
        row.push(Cell::from("Clopper-Pearson 95%"));
        row.push(if r.note.is_empty() { Cell::Na } else { Cell::from(r.note.as_str()) });
        t.push_row(row);
    }
    t
}

/// One line per definition: sensitivity, PPV, incidence, onset error.
pub fn validation_summary(rows: &[ValidationRow]) -> String {
    let f = |m: Option<Metric>| m.map_or("NA".to_string(), |m| format!("{:.3} ({:.3}-{:.3})", m.estimate, m.lower, m.upper));
    let g = |v: Option<f64>| v.map_or("NA".to_string(), |v| format!("{v}"));
    let mut s = String::new();
    for r in rows {
        s.push_str(&format!(
            "validation {}: sensitivity {}, PPV {}, specificity {}, incidence {} vs true {}, onset error median {} (IQR {} to {}) days\n",
            r.criteria_set,
            f(r.sensitivity),
            f(r.ppv),
            f(r.specificity),
            r.estimated_incidence.map_or("NA".into(), |v| format!("{v:.4}")),
            r.true_incidence.map_or("NA".into(), |v| format!("{v:.4}")),
            g(r.onset_error_median),
            g(r.onset_error_q1),
            g(r.onset_error_q3),
        ));
    }
    s
}
