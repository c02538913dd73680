//! The tables of a detection (episodes, evidence) and its one-screen text summary.
//!
//! The tables are [`ResultTable`]s, written by the one table writer (CSV conventions in
//! [`crate::table`]). Dates are ISO `YYYY-MM-DD`. Rows are in a deterministic order (patient
//! index, episode, evidence role, criterion, sub-condition), so the same input gives the same
//! bytes.

use std::fmt::Write as _;

use crate::cohort::day_to_iso;
use crate::table::{Cell, ColumnType, ResultTable};

use super::detect::Detection;
use super::evidence::Evidence;
use super::probability::{HscoreProbability, PROBABILITY_SOURCE};

/// Column names of [`Detection::episodes_table`].
pub const EPISODE_COLUMNS: [&str; 22] = [
    "patient_id",
    "episode",
    "criteria_set",
    "onset_date",
    "end_date",
    "ongoing_at_end_of_follow_up",
    "criteria_met_at_onset",
    "n_criteria_met_at_onset",
    "max_criteria",
    "evaluable_criteria",
    "n_criteria",
    "score_at_onset",
    "hscore_at_onset",
    "max_hscore",
    "hscore_probability_pct",
    "hscore_probability",
    "probability_source",
    "line",
    "regimen",
    "intensity",
    "days_since_line_start",
    "disease_status",
];

/// Column names of [`evidence_table`].
pub const EVIDENCE_COLUMNS: [&str; 17] = [
    "patient_id",
    "episode",
    "criteria_set",
    "criterion",
    "role",
    "evaluated_on",
    "condition",
    "points",
    "table",
    "source_row",
    "date",
    "item",
    "raw_value",
    "raw_unit",
    "value",
    "unit",
    "value_qualifier",
];

/// Types of [`EPISODE_COLUMNS`], for the Parquet copy of the table.
pub const EPISODE_TYPES: [ColumnType; 22] = {
    use ColumnType::{Boolean as B, Integer as I, Real as R, Text as T};
    [T, I, T, T, T, B, T, I, I, I, I, R, R, R, R, T, T, I, T, T, I, T]
};

/// Types of [`EVIDENCE_COLUMNS`], for the Parquet copy of the table.
pub const EVIDENCE_TYPES: [ColumnType; 17] = {
    use ColumnType::{Integer as I, Real as R, Text as T};
    [T, I, T, T, T, T, T, R, T, I, T, T, R, T, R, T, T]
};

/// The first three cells of both tables, `patient_id, episode, criteria_set`, which
/// identify an episode.
fn episode_key(patient_id: &str, episode: u32, criteria_set: &str) -> [Cell; 3] {
    [Cell::from(patient_id), Cell::from(episode), Cell::from(criteria_set)]
}

impl Detection {
    /// The episodes table (columns [`EPISODE_COLUMNS`], types [`EPISODE_TYPES`]) named `name`.
    pub fn episodes_table(&self, name: &str) -> ResultTable {
        episodes_table(name, &self.episodes)
    }

    /// The audit trail (columns [`EVIDENCE_COLUMNS`]) named `name`.
    pub fn evidence_table(&self, name: &str) -> ResultTable {
        evidence_table(name, &self.evidence)
    }

    /// A one-screen text summary (counts, by first-line intensity, episode onsets by disease status).
    pub fn summary_text(&self) -> String {
        let s = &self.summary;
        let pct = |a: usize, b: usize| if b == 0 { "NA".to_string() } else { format!("{:.1}%", 100.0 * a as f64 / b as f64) };
        let mut t = String::new();
        let _ = writeln!(t, "HLH detection: criteria set {} ({})", self.criteria_set, self.rule);
        let _ = writeln!(t, "  patients screened             {:>9}", s.patients_screened);
        let _ = writeln!(
            t,
            "  patients evaluable            {:>9}  (>= 1 criterion with data in its window on some day)",
            s.patients_evaluable
        );
        let _ = writeln!(
            t,
            "  patients with >= 1 episode    {:>9}  ({} of screened, {} of evaluable)",
            s.patients_with_episode,
            pct(s.patients_with_episode, s.patients_screened),
            pct(s.patients_with_episode, s.patients_evaluable)
        );
        let recurrences = self.episodes.iter().filter(|e| e.episode > 1).count();
        let _ = writeln!(t, "  episodes                      {:>9}  ({recurrences} recurrences)", s.episodes);
        let _ = writeln!(t, "  by first-line intensity        screened  with episode        %");
        for r in &s.by_first_line_intensity {
            if r.screened == 0 {
                continue;
            }
            let _ = writeln!(
                t,
                "    {:<26} {:>9}  {:>12}  {:>7}",
                r.label(),
                r.screened,
                r.with_episode,
                pct(r.with_episode, r.screened)
            );
        }
        let mut by_status = [0usize; 3];
        for e in &self.episodes {
            by_status[e.disease_status as usize] += 1;
        }
        let _ = writeln!(
            t,
            "  disease status at onset: before first response {}, in remission {}, relapsed/refractory {}",
            by_status[0], by_status[1], by_status[2]
        );
        if self.has_hscore {
            let mut h: Vec<f64> = self.episodes.iter().filter_map(|e| e.max_hscore).collect();
            h.sort_by(f64::total_cmp);
            if !h.is_empty() {
                let median = if h.len() % 2 == 1 { h[h.len() / 2] } else { (h[h.len() / 2 - 1] + h[h.len() / 2]) / 2.0 };
                let _ = writeln!(
                    t,
                    "  max HScore per episode: median {median}, range {}-{} (probabilities: {PROBABILITY_SOURCE})",
                    h[0],
                    h[h.len() - 1]
                );
            }
        }
        t
    }
}

/// Episodes as a table named `name` (columns [`EPISODE_COLUMNS`], types [`EPISODE_TYPES`]):
/// a detection's episodes, or none (the header of a table stacked from several detections).
pub fn episodes_table(name: &str, episodes: &[super::detect::Episode]) -> ResultTable {
    let mut t = ResultTable::new(name, &EPISODE_COLUMNS).with_types(&EPISODE_TYPES);
    t.rows = episodes.iter().map(episode_row).collect();
    t
}

/// One row of the episodes table.
fn episode_row(e: &super::detect::Episode) -> Vec<Cell> {
    let t = e.treatment.as_ref();
    let mut row = Vec::with_capacity(EPISODE_COLUMNS.len());
    row.extend(episode_key(&e.patient_id, e.episode, &e.criteria_set));
    row.extend([
        Cell::Str(day_to_iso(e.onset)),
        Cell::Str(day_to_iso(e.end)),
        Cell::Bool(e.ongoing_at_end_of_follow_up),
        Cell::Str(e.criteria_met_at_onset.join(";")),
        Cell::from(e.criteria_met_at_onset.len()),
        Cell::from(e.max_criteria),
        Cell::from(e.evaluable_criteria),
        Cell::from(e.n_criteria),
        Cell::finite_or_na(e.score_at_onset),
        Cell::finite_or_na(e.hscore_at_onset),
        Cell::finite_or_na(e.max_hscore),
        Cell::finite_or_na(e.hscore_probability.as_ref().and_then(|p| p.percent)),
        Cell::from(e.hscore_probability.as_ref().map(HscoreProbability::label)),
        Cell::from(e.hscore_probability.as_ref().map(|_| PROBABILITY_SOURCE)),
        Cell::from(t.map(|t| t.line)),
        Cell::from(t.map(|t| t.regimen.as_str())),
        Cell::from(t.map(|t| t.intensity.name())),
        Cell::from(t.map(|t| i64::from(t.days_since_line_start))),
        Cell::from(e.disease_status.name()),
    ]);
    row
}

/// Evidence rows as a table named `name` (columns [`EVIDENCE_COLUMNS`], types
/// [`EVIDENCE_TYPES`]): a detection's whole audit trail, or one chunk of it handed to an
/// [`EvidenceSink`](super::detect::EvidenceSink) (written with
/// [`ResultTable::write_csv_rows`]).
pub fn evidence_table(name: &str, rows: &[Evidence]) -> ResultTable {
    let mut t = ResultTable::new(name, &EVIDENCE_COLUMNS).with_types(&EVIDENCE_TYPES);
    t.rows = rows.iter().map(evidence_row).collect();
    t
}

/// One row of the evidence table.
fn evidence_row(e: &Evidence) -> Vec<Cell> {
    let mut row = Vec::with_capacity(EVIDENCE_COLUMNS.len());
    row.extend(episode_key(&e.patient_id, e.episode, &e.criteria_set));
    row.extend([
        Cell::from(&*e.criterion),
        Cell::from(e.role.name()),
        Cell::Str(day_to_iso(e.evaluated_on)),
        Cell::from(&*e.condition),
        Cell::finite_or_na(e.points),
        Cell::from(e.table.name()),
        Cell::from(e.source_row),
        Cell::Str(day_to_iso(e.date)),
        Cell::from(e.item),
        Cell::finite_or_na(e.raw_value),
        Cell::from(e.raw_unit.as_deref()),
        Cell::finite_or_na(e.value),
        Cell::from(e.unit),
        // NA for exact values and findings, else `>`, `>=`, `<`, `<=`.
        if e.value_qualifier.is_qualified() { Cell::from(e.value_qualifier.symbol()) } else { Cell::Na },
    ]);
    row
}
