//! The audit of an import: per OMOP table, rows read, rows mapped and rows left out by
//! reason (they add up to the rows read), and the concepts seen but not mapped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::read::OMOP_TABLES;
use crate::cohort::table_writer::{Chunk, Col};

/// Why a row of an OMOP table is not in the cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The person has no condition in the AML concept set.
    PersonWithoutAml,
    /// The person's AML diagnosis lies in no observation period.
    DiagnosisOutsidePeriod,
    /// `person_id` is not in the `person` table.
    UnknownPerson,
    /// The row's concept is in no concept set of the mapping.
    ConceptNotInMapping,
    /// Dated more than `days_before_diagnosis` days before the diagnosis (or before the start
    /// of the observation period of the diagnosis).
    BeforeDiagnosisWindow,
    /// Dated after the last contact (the end of the observation period of the diagnosis, or
    /// the death).
    OutsideObservationPeriod,
    /// An observation period that does not contain the diagnosis.
    OtherObservationPeriod,
    /// An AML condition after the first one (the first is the diagnosis).
    RepeatDiagnosis,
    /// A death after the end of the observation period of the diagnosis (+ grace days).
    DeathAfterPeriod,
    /// A second death row for the person.
    DuplicateDeath,
    /// A measurement without `value_as_number`.
    NoValue,
    /// A covariate already set by an earlier observation.
    CovariateAlreadySet,
    /// Drug exposures are not used because the `episode` table gives the treatment lines.
    LinesFromEpisodes,
    /// Response observations are not used because disease-status episodes give the responses.
    ResponsesFromEpisodes,
    /// A drug exposure that no regimen rule matches.
    NoRegimenMatches,
    /// A response before the first treatment line (no line to assign it to).
    ResponseWithoutLine,
    /// A concept-table row that no concept set, unit or operator uses (reference only).
    ConceptReferenceOnly,
    /// `episode_event` is only counted.
    CountedOnly,
}

impl Reason {
    /// The reason as written in `audit.csv`.
    pub fn text(self) -> &'static str {
        match self {
            Reason::PersonWithoutAml => "person without AML",
            Reason::DiagnosisOutsidePeriod => "AML diagnosis outside every observation period",
            Reason::UnknownPerson => "person_id not in person",
            Reason::ConceptNotInMapping => "concept not in mapping",
            Reason::BeforeDiagnosisWindow => "before the diagnosis window",
            Reason::OutsideObservationPeriod => "outside observation period (after the last contact)",
            Reason::OtherObservationPeriod => "observation period without the diagnosis",
            Reason::RepeatDiagnosis => "AML condition after the diagnosis",
            Reason::DeathAfterPeriod => "death after the observation period (patient censored)",
            Reason::DuplicateDeath => "second death record",
            Reason::NoValue => "no value_as_number",
            Reason::CovariateAlreadySet => "covariate already set by an earlier observation",
            Reason::LinesFromEpisodes => "treatment lines taken from episode",
            Reason::ResponsesFromEpisodes => "responses taken from episode",
            Reason::NoRegimenMatches => "no regimen rule matches",
            Reason::ResponseWithoutLine => "response before the first treatment line",
            Reason::ConceptReferenceOnly => "concept not used by the mapping (reference)",
            Reason::CountedOnly => "counted only (not used)",
        }
    }
}

/// Counts of one OMOP table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableAudit {
    /// Rows read.
    pub read: usize,
    /// Rows that became (part of) a cohort row.
    pub mapped: usize,
    /// Rows left out, by reason.
    pub left_out: BTreeMap<Reason, usize>,
}

/// A concept seen in an event table but not mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnmappedConcept {
    /// vocabulary_id (empty if the concept is not in the concept table).
    pub vocabulary_id: String,
    /// concept_code.
    pub concept_code: String,
    /// concept_name.
    pub concept_name: String,
    /// Rows.
    pub rows: usize,
}

/// The audit of one import.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Per table present, by name.
    pub tables: BTreeMap<&'static str, TableAudit>,
    /// (table, concept_id) → the concept and its row count.
    pub unmapped: BTreeMap<(&'static str, i64), UnmappedConcept>,
}

impl Audit {
    /// Record that `n` rows of `table` were read.
    pub fn read(&mut self, table: &'static str, n: usize) {
        self.tables.entry(table).or_default().read += n;
    }

    /// One row of `table` mapped.
    pub fn mapped(&mut self, table: &'static str) {
        self.tables.entry(table).or_default().mapped += 1;
    }

    /// One row of `table` left out for `reason`.
    pub fn left_out(&mut self, table: &'static str, reason: Reason) {
        *self.tables.entry(table).or_default().left_out.entry(reason).or_default() += 1;
    }

    /// A row of `table` counted as mapped is replaced by a later one: move it to `reason`.
    pub fn unmap(&mut self, table: &'static str, reason: Reason) {
        let t = self.tables.entry(table).or_default();
        t.mapped = t.mapped.saturating_sub(1);
        *t.left_out.entry(reason).or_default() += 1;
    }

    /// One row of `table` left out because its concept is not mapped.
    pub fn unmapped(&mut self, table: &'static str, concept_id: i64, concept: Option<(&str, &str, &str)>) {
        self.left_out(table, Reason::ConceptNotInMapping);
        let e = self.unmapped.entry((table, concept_id)).or_insert_with(|| {
            let (v, c, n) = concept.unwrap_or(("", "", ""));
            UnmappedConcept { vocabulary_id: v.to_string(), concept_code: c.to_string(), concept_name: n.to_string(), rows: 0 }
        });
        e.rows += 1;
    }

    /// Tables whose mapped + left-out rows differ from the rows read (should be none).
    pub fn unbalanced(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|(_, t)| t.mapped + t.left_out.values().sum::<usize>() != t.read)
            .map(|(n, t)| format!("{n}: read {}, mapped {}, left out {}", t.read, t.mapped, t.left_out.values().sum::<usize>()))
            .collect()
    }

    fn ordered(&self) -> impl Iterator<Item = (&'static str, &TableAudit)> {
        OMOP_TABLES.iter().filter_map(|(n, _)| self.tables.get(n).map(|t| (*n, t)))
    }

    /// The rows of `audit.csv`: `table,category,reason,rows` with category `read`, `mapped` or
    /// `left_out` (written by the project's table writer).
    pub(crate) fn audit_chunk(&self) -> Chunk<'static> {
        let (mut t, mut c, mut r, mut n) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, a) in self.ordered() {
            for (cat, reason, rows) in [("read", "", a.read), ("mapped", "", a.mapped)]
                .into_iter()
                .chain(a.left_out.iter().map(|(re, k)| ("left_out", re.text(), *k)))
            {
                t.push(name);
                c.push(cat);
                r.push(reason);
                n.push(rows as i64);
            }
        }
        Chunk {
            names: vec!["table", "category", "reason", "rows"],
            cols: vec![Col::Str(t), Col::Str(c), Col::Str(r), Col::I64(n)],
        }
    }

    /// The rows of `unmapped_concepts.csv`: `table,concept_id,vocabulary_id,concept_code,
    /// concept_name,rows`, most frequent first within a table.
    pub(crate) fn unmapped_chunk(&self) -> Chunk<'_> {
        let (mut t, mut id, mut v, mut code, mut name, mut n) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (table, _) in OMOP_TABLES {
            let mut rows: Vec<(&i64, &UnmappedConcept)> =
                self.unmapped.iter().filter(|((tn, _), _)| *tn == table).map(|((_, i), c)| (i, c)).collect();
            rows.sort_by(|a, b| b.1.rows.cmp(&a.1.rows).then(a.0.cmp(b.0)));
            for (i, c) in rows {
                t.push(table);
                id.push(*i);
                v.push(c.vocabulary_id.as_str());
                code.push(c.concept_code.as_str());
                name.push(c.concept_name.as_str());
                n.push(c.rows as i64);
            }
        }
        Chunk {
            names: vec!["table", "concept_id", "vocabulary_id", "concept_code", "concept_name", "rows"],
            cols: vec![Col::Str(t), Col::I64(id), Col::Str(v), Col::Str(code), Col::Str(name), Col::I64(n)],
        }
    }

    /// `summary.txt`: one paragraph per table and the cohort written.
    pub fn summary_text(&self, cohort_rows: &[(&str, usize)]) -> String {
        let mut s = String::from("hemosurv import omop: audit\n\n");
        for (name, t) in self.ordered() {
            let _ =
                writeln!(s, "{name}: {} rows read, {} mapped, {} left out", t.read, t.mapped, t.left_out.values().sum::<usize>());
            for (r, n) in &t.left_out {
                let _ = writeln!(s, "  {n} {}", r.text());
            }
        }
        let _ = writeln!(s, "\nunmapped concepts: {} (see unmapped_concepts.csv)", self.unmapped.len());
        let _ = writeln!(s, "\ncohort written:");
        for (table, n) in cohort_rows {
            let _ = writeln!(s, "  {table}: {n} rows");
        }
        s
    }
}
