//! The audit trail: which measurement or finding made each criterion of each episode true.
//!
//! For every episode the evidence lists
//! - `onset`: every criterion of the set met on the onset day, with the value that met it
//!   (the worst value in the window, ties → most recent; for findings the most recent
//!   "present" record; for `count_of` criteria one row per sub-condition met);
//! - `during_episode`: criteria not met at onset but met on a later day of the episode, with
//!   the qualifying value on the first such day;
//! - `max_score`: for score rules and for the companion HScore, every scoring variable on the
//!   (first) day of the episode's maximum score, with its points — so that `max_hscore` can be
//!   re-added by hand.
//!
//! Each row gives the source table and its 1-based data row, the date, the analyte or
//! finding, the raw value and unit as given in the input, and the normalised value in the
//! canonical unit; for a value reported as a bound (`>40000`, `<0.1`) the last column,
//! `value_qualifier`, holds the qualifier (`>`, `>=`, `<`, `<=`) and both value columns the
//! bound, so `>` with `40000` reads "above 40000" (empty for exact values and findings).

use crate::cohort::{Cohort, Day, PatientIdx, Qualifier};

use super::sweep::Source;
use super::text::SharedText;

/// Why an evidence row is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvidenceRole {
    /// Criterion met on the onset day.
    Onset,
    /// Criterion first met after onset, within the episode.
    DuringEpisode,
    /// Scoring variable on the day of the episode's maximum score.
    MaxScore,
}

impl EvidenceRole {
    /// Name used in output tables.
    pub fn name(self) -> &'static str {
        match self {
            EvidenceRole::Onset => "onset",
            EvidenceRole::DuringEpisode => "during_episode",
            EvidenceRole::MaxScore => "max_score",
        }
    }
}

/// The source table of an evidence row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceTable {
    /// The `measurements` table.
    Measurements,
    /// The `findings` table.
    Findings,
}

impl EvidenceTable {
    /// Table name.
    pub fn name(self) -> &'static str {
        match self {
            EvidenceTable::Measurements => "measurements",
            EvidenceTable::Findings => "findings",
        }
    }
}

/// One audit-trail row.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Patient index.
    pub patient: PatientIdx,
    /// Patient id.
    pub patient_id: SharedText,
    /// Episode number (1-based) within the patient.
    pub episode: u32,
    /// The set the criterion belongs to (the detection's set, or `hscore` for companion rows).
    pub criteria_set: SharedText,
    /// Criterion name.
    pub criterion: SharedText,
    /// Why the row is listed.
    pub role: EvidenceRole,
    /// The day on which the criterion was evaluated (onset, first day met, or max-score day).
    pub evaluated_on: Day,
    /// The test that was met, e.g. `hemoglobin < 90 g/L`.
    pub condition: SharedText,
    /// Points of the criterion on that day (score rules and companion HScore), else `None`.
    pub points: Option<f64>,
    /// Source table.
    pub table: EvidenceTable,
    /// 1-based data row in the source table.
    pub source_row: u32,
    /// Date of the measurement or finding.
    pub date: Day,
    /// Analyte or finding name.
    pub item: &'static str,
    /// Value as given (measurements only).
    pub raw_value: Option<f64>,
    /// Unit as given (measurements only).
    pub raw_unit: Option<SharedText>,
    /// Value in the canonical unit (measurements only).
    pub value: Option<f64>,
    /// Canonical unit (measurements only).
    pub unit: Option<&'static str>,
    /// Qualifier of a value reported as a bound (`>40000`: [`Qualifier::Gt`], with the bound in
    /// `raw_value` and `value`); [`Qualifier::None`] for exact values and findings.
    pub value_qualifier: Qualifier,
}

/// Fields of an evidence row that depend on its source.
pub(crate) struct SourceFields {
    pub(crate) table: EvidenceTable,
    pub(crate) source_row: u32,
    pub(crate) date: Day,
    pub(crate) item: &'static str,
    pub(crate) raw_value: Option<f64>,
    pub(crate) raw_unit: Option<SharedText>,
    pub(crate) value: Option<f64>,
    pub(crate) unit: Option<&'static str>,
    pub(crate) value_qualifier: Qualifier,
}

/// Resolve a sweep source to its row fields.
pub(crate) fn source_fields(cohort: &Cohort, units: &mut UnitTexts, p: PatientIdx, src: Source) -> SourceFields {
    match src {
        Source::Measurement(i) => {
            let m = &cohort.measurements_of(p)[i as usize];
            SourceFields {
                table: EvidenceTable::Measurements,
                source_row: m.row,
                date: m.day,
                item: m.analyte.name(),
                raw_value: Some(m.raw_value),
                raw_unit: Some(units.get(cohort, m.unit)),
                value: Some(m.value),
                unit: Some(m.analyte.canonical_unit()),
                value_qualifier: m.qualifier,
            }
        }
        Source::Finding(i) => {
            let f = &cohort.findings_of(p)[i as usize];
            SourceFields {
                table: EvidenceTable::Findings,
                source_row: f.row,
                date: f.day,
                item: f.finding.name(),
                raw_value: None,
                raw_unit: None,
                value: None,
                unit: None,
                value_qualifier: Qualifier::None,
            }
        }
    }
}

/// The cohort's unit spellings as [`SharedText`], made on first use (one per spelling and
/// worker instead of one `String` per evidence row).
#[derive(Debug, Default, Clone)]
pub(crate) struct UnitTexts(Vec<Option<SharedText>>);

impl UnitTexts {
    /// Spelling `idx` of `cohort.unit_spellings`.
    pub(crate) fn get(&mut self, cohort: &Cohort, idx: u16) -> SharedText {
        let i = usize::from(idx);
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        self.0[i].get_or_insert_with(|| SharedText::from(cohort.unit_spellings.get(i).map_or("", String::as_str))).clone()
    }
}
