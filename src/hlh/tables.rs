//! CSV output of a detection and its one-screen text summary.
//!
//! CSV conventions (as every hemosurv table): UTF-8, comma-separated, one header row, `\n`
//! after every row; numbers with Rust's `{}` Display (shortest round-trip, `-0` → `0`); NA
//! cells empty; text quoted per RFC 4180 only when needed, and the empty string written `""`.
//! Dates are ISO `YYYY-MM-DD`. Rows are in a deterministic order (patient index, episode,
//! evidence role, criterion, sub-condition), so the same input gives the same bytes.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::cohort::day_to_iso;
use crate::report::ColumnType;

use super::detect::Detection;
use super::evidence::Evidence;
use super::probability::PROBABILITY_SOURCE;

/// Column names of [`Detection::write_episodes_csv`].
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

/// Column names of [`Detection::write_evidence_csv`].
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

pub(crate) fn push_str(line: &mut String, s: &str) {
    line.push_str(&crate::io::csv_text::text_cell(s));
}

pub(crate) fn push_num(line: &mut String, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        let _ = write!(line, "{}", crate::stats::format::Num(v));
    }
}

pub(crate) fn push_int(line: &mut String, v: Option<i64>) {
    if let Some(v) = v {
        let _ = write!(line, "{v}");
    }
}

/// The first three columns of both tables, `patient_id,episode,criteria_set,`,
/// which identify an episode.
fn push_episode_key(line: &mut String, patient_id: &str, episode: u32, criteria_set: &str) {
    push_str(line, patient_id);
    line.push(',');
    push_int(line, Some(i64::from(episode)));
    line.push(',');
    push_str(line, criteria_set);
    line.push(',');
}

fn header(cols: &[&str]) -> String {
    let mut s = cols.join(",");
    s.push('\n');
    s
}

impl Detection {
    /// Write the episodes table as CSV (columns [`EPISODE_COLUMNS`]).
    pub fn write_episodes_csv<W: Write>(&self, mut w: W) -> io::Result<()> {
        w.write_all(header(&EPISODE_COLUMNS).as_bytes())?;
        let mut line = String::new();
        for e in &self.episodes {
            line.clear();
            push_episode_key(&mut line, &e.patient_id, e.episode, &e.criteria_set);
            push_str(&mut line, &day_to_iso(e.onset));
            line.push(',');
            push_str(&mut line, &day_to_iso(e.end));
            line.push(',');
            push_str(&mut line, if e.ongoing_at_end_of_follow_up { "true" } else { "false" });
            line.push(',');
            push_str(&mut line, &e.criteria_met_at_onset.join(";"));
            line.push(',');
            push_int(&mut line, Some(e.criteria_met_at_onset.len() as i64));
            line.push(',');
            push_int(&mut line, Some(i64::from(e.max_criteria)));
            line.push(',');
            push_int(&mut line, Some(i64::from(e.evaluable_criteria)));
            line.push(',');
            push_int(&mut line, Some(i64::from(e.n_criteria)));
            line.push(',');
            push_num(&mut line, e.score_at_onset);
            line.push(',');
            push_num(&mut line, e.hscore_at_onset);
            line.push(',');
            push_num(&mut line, e.max_hscore);
            line.push(',');
            push_num(&mut line, e.hscore_probability.as_ref().and_then(|p| p.percent));
            line.push(',');
            if let Some(p) = &e.hscore_probability {
                push_str(&mut line, &p.label);
            }
            line.push(',');
            if e.hscore_probability.is_some() {
                push_str(&mut line, PROBABILITY_SOURCE);
            }
            line.push(',');
            let t = e.treatment.as_ref();
            push_int(&mut line, t.map(|t| i64::from(t.line)));
            line.push(',');
            if let Some(t) = t {
                push_str(&mut line, &t.regimen);
            }
            line.push(',');
            if let Some(t) = t {
                push_str(&mut line, t.intensity.name());
            }
            line.push(',');
            push_int(&mut line, t.map(|t| i64::from(t.days_since_line_start)));
            line.push(',');
            push_str(&mut line, e.disease_status.name());
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        w.flush()
    }

    /// Write the audit trail as CSV (columns [`EVIDENCE_COLUMNS`]).
    pub fn write_evidence_csv<W: Write>(&self, mut w: W) -> io::Result<()> {
        w.write_all(header(&EVIDENCE_COLUMNS).as_bytes())?;
        write_evidence_rows(&self.evidence, w)
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

/// Write evidence rows as CSV lines without the header (columns [`EVIDENCE_COLUMNS`]); the
/// body of [`Detection::write_evidence_csv`], also used for evidence handed to an
/// [`EvidenceSink`](super::detect::EvidenceSink) chunk by chunk.
pub fn write_evidence_rows<W: Write>(rows: &[Evidence], mut w: W) -> io::Result<()> {
    let mut line = String::new();
    for e in rows {
        line.clear();
        push_episode_key(&mut line, &e.patient_id, e.episode, &e.criteria_set);
        push_str(&mut line, &e.criterion);
        line.push(',');
        push_str(&mut line, e.role.name());
        line.push(',');
        push_str(&mut line, &day_to_iso(e.evaluated_on));
        line.push(',');
        push_str(&mut line, &e.condition);
        line.push(',');
        push_num(&mut line, e.points);
        line.push(',');
        push_str(&mut line, e.table.name());
        line.push(',');
        push_int(&mut line, Some(i64::from(e.source_row)));
        line.push(',');
        push_str(&mut line, &day_to_iso(e.date));
        line.push(',');
        push_str(&mut line, e.item);
        line.push(',');
        push_num(&mut line, e.raw_value);
        line.push(',');
        if let Some(u) = &e.raw_unit {
            push_str(&mut line, u);
        }
        line.push(',');
        push_num(&mut line, e.value);
        line.push(',');
        if let Some(u) = &e.unit {
            push_str(&mut line, u);
        }
        line.push(',');
        // Empty for exact values and findings (NA), else `>`, `>=`, `<`, `<=`.
        if e.value_qualifier.is_qualified() {
            push_str(&mut line, e.value_qualifier.symbol());
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let mut s = String::new();
        push_str(&mut s, "a,b");
        s.push('|');
        push_str(&mut s, "say \"hi\"");
        s.push('|');
        push_str(&mut s, "");
        s.push('|');
        push_num(&mut s, Some(-0.0));
        s.push('|');
        push_num(&mut s, Some(0.1));
        s.push('|');
        push_num(&mut s, None);
        assert_eq!(s, "\"a,b\"|\"say \"\"hi\"\"\"|\"\"|0|0.1|");
    }
}
