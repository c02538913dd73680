//! `hemosurv review`: the chart-review (adjudication) loop.
//!
//! 1. **Review sheet** ([`review_sheet`]): every definition (criteria set) is run on the cohort;
//!    the union of their episodes, merged per patient when they overlap in time, gives the
//!    *candidate* episodes. One row per candidate holds what a haematologist needs to decide —
//!    dates, treatment context, the worst labs of the window with units, findings, fever days and
//!    which criteria each definition counted — **blinded** to the definitions' names: the
//!    definitions are columns `definition_A_criteria`, `definition_B_criteria`, ... and the
//!    letter → set mapping is written to a separate key file ([`review_key`]).
//! 2. **Adjudications**: the reviewers' decisions come back as the cohort table `adjudications`
//!    (`patient_id`, `onset_date`, `decision`, `reviewer`; the filled-in sheet itself can be used,
//!    see `docs/review.md`). [`adjudication_summary`] gives each definition's PPV against the
//!    adjudicated cases and Cohen's kappa between two reviewers.
//!
//! # Conventions
//! - **Merge rule**: an episode is the closed day interval `[onset, end]`. Per patient, episodes of
//!   all definitions are sorted by onset; an episode joins the current candidate when its onset is
//!   on or before the candidate's end (they share at least one day), and the candidate's end
//!   becomes the later of the two ends (chains merge transitively). Candidate onset = earliest
//!   onset, end = latest end of its episodes.
//! - **Window** of a candidate: `onset − 7 .. end` (both included), the look-back of the default
//!   lab window of the criteria sets ([`WINDOW_BEFORE_ONSET_DAYS`]).
//! - **Worst value** in the window (canonical units): the maximum of temperature, ferritin,
//!   triglycerides, sCD25 and AST; the minimum of fibrinogen, hemoglobin, platelets and
//!   neutrophils. Empty when the analyte was not measured in the window.
//! - **Findings**: `present` if recorded present on a day of the window, `absent` if only recorded
//!   absent, empty if not recorded.
//! - **Fever days**: distinct days of the window with a temperature ≥ 38.5 °C ([`FEVER_C`]).
//! - **Treatment context** at candidate onset: the most recent line started on or before onset
//!   (as for episodes), with `days_since_line_start = onset − start`.
//! - **Definition columns**: for each episode of the definition in the candidate, the criteria met
//!   on its onset day (`; `-separated, in the set's order) followed by ` (later: ...)` for criteria
//!   first met later in the episode; several episodes of one definition are joined with ` | `.
//!   Empty when the definition did not detect the candidate.
//! - **Letters** follow the order of `--criteria` (default: every built-in set in
//!   [`crate::hlh::ALL_BUILTIN_NAMES`] order: the published sets, then the designed ones such as `hlh_aml`).
//! - **PPV matching** ([`adjudication_summary`]): an adjudicated *case* is one patient and one
//!   `onset_date`; its decision is the reviewers' common decision, or *disagreement* if they
//!   differ. Each episode of a definition matches the case of the same patient closest to the
//!   episode's onset *or* to the onset of the candidate it is merged into on the review sheet
//!   of the same detections, within `window_days` (default [`DEFAULT_MATCH_DAYS`] = 7; ties →
//!   the earlier case): a definition that fires 10 days after another one on the same course
//!   was reviewed under the earlier onset.
//!   PPV = confirmed / (confirmed + rejected); uncertain and disagreement cases are counted but
//!   left out of the denominator; unmatched episodes are counted as not adjudicated.
//! - **Kappa**: between the two reviewers who rated the most cases in common (ties → the
//!   alphabetically first pair), over the cases both rated, with the three decisions as
//!   categories.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::cohort::{load_cohort, Analyte, Cohort, CohortError, Day, Decision, FindingKind, LoadOptions, PatientIdx};
use crate::hlh::{detect_many, treatment_context, CriteriaSet, Detection, EvidenceRole, ALL_BUILTIN_NAMES};
use crate::report::ReportError;
use crate::stats::agreement::{cohen_kappa, match_episodes, AdjudicatedCase, CaseDecision, EpisodeRef, KappaResult, PpvCounts};
use crate::stats::proportions::Proportion;
use crate::table::{Cell, ColumnDoc, ResultTable};

use super::cohort_cmds::{resolve_criteria, CohortCommandError};

/// Days before a candidate's onset included in its window.
pub const WINDOW_BEFORE_ONSET_DAYS: Day = 7;
/// Temperature (°C) from which a day counts as a fever day.
pub const FEVER_C: f64 = 38.5;
/// Default |onset difference| (days) within which an episode matches an adjudicated case.
pub const DEFAULT_MATCH_DAYS: i32 = 7;
/// Confidence level of the PPV and kappa intervals.
pub const CONF_LEVEL: f64 = 0.95;

/// The analytes of the review sheet, with `true` when the worst value is the maximum.
pub const SHEET_ANALYTES: [(Analyte, bool); 9] = crate::hlh::HLH_LAB_PANEL;

/// The findings of the review sheet.
pub const SHEET_FINDINGS: [FindingKind; 3] =
    [FindingKind::Splenomegaly, FindingKind::Hepatomegaly, FindingKind::Hemophagocytosis];

/// Errors of `hemosurv review`.
#[derive(Debug, Error)]
pub enum ReviewError {
    /// The cohort is invalid (exit 2).
    #[error(transparent)]
    Cohort(#[from] CohortError),
    /// A criteria set could not be resolved (exit 2).
    #[error(transparent)]
    Criteria(#[from] CohortCommandError),
    /// Two definitions have the same name (exit 2).
    #[error("criteria set `{0}` is given twice; each definition must have its own name")]
    DuplicateDefinition(String),
    /// An output file exists (a filled-in sheet is never overwritten without --force).
    #[error("{} already exists; pass --force to replace it (a filled-in review sheet would be lost)", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// The output path has no usable file name.
    #[error("{}: --out must name a .csv file, e.g. review.csv", path.display())]
    BadOut {
        /// The path given.
        path: PathBuf,
    },
    /// Writing a table failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Other I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Arguments of `hemosurv review`.
#[derive(Debug, Clone)]
pub struct ReviewArgs {
    /// Cohort folder.
    pub cohort: PathBuf,
    /// Criteria sets (built-in names or TOML files); empty = every built-in set.
    pub criteria: Vec<String>,
    /// The review sheet (`.csv`); the key is written beside it as `<stem>_key.csv`.
    pub out: PathBuf,
    /// Replace existing output files.
    pub force: bool,
    /// Quarantine rows with errors (written to `<stem>_rejects.csv`).
    pub quarantine: bool,
    /// Matching window for the PPV (days).
    pub match_days: i32,
}

/// What `hemosurv review` did.
#[derive(Debug, Clone)]
pub struct ReviewSummary {
    /// Definitions run.
    pub definitions: usize,
    /// Episodes over all definitions.
    pub episodes: usize,
    /// Candidate episodes (rows of the sheet).
    pub candidates: usize,
    /// Files written, in order.
    pub written: Vec<PathBuf>,
    /// One line per definition's PPV and the kappa, when the cohort has adjudications.
    pub agreement_text: Vec<String>,
}

/// A candidate episode: the merged episodes of all definitions (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Sequential id, 1-based, in (patient, onset) order.
    pub id: u32,
    /// Patient index.
    pub patient: PatientIdx,
    /// Earliest onset of its episodes.
    pub onset: Day,
    /// Latest end of its episodes.
    pub end: Day,
    /// Its episodes as (definition index, index into that detection's `episodes`), sorted.
    pub members: Vec<(usize, usize)>,
}

/// Merge the episodes of all `detections` into candidates (merge rule in the module docs).
pub fn candidates(detections: &[Detection]) -> Vec<Candidate> {
    let mut all: Vec<(PatientIdx, Day, Day, usize, usize)> = detections
        .iter()
        .enumerate()
        .flat_map(|(d, det)| det.episodes.iter().enumerate().map(move |(e, ep)| (ep.patient, ep.onset, ep.end, d, e)))
        .collect();
    all.sort_unstable();
    let mut out: Vec<Candidate> = Vec::new();
    for (patient, onset, end, d, e) in all {
        match out.last_mut() {
            Some(c) if c.patient == patient && onset <= c.end => {
                c.end = c.end.max(end);
                c.members.push((d, e));
            }
            _ => out.push(Candidate { id: out.len() as u32 + 1, patient, onset, end, members: vec![(d, e)] }),
        }
    }
    for c in &mut out {
        c.members.sort_unstable();
    }
    out
}

/// Spreadsheet-style letter of definition `i`: A .. Z, AA, AB, ...
pub fn definition_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// The documented columns of the review sheet for `n_definitions` definitions.
fn sheet_docs(n_definitions: usize) -> Vec<ColumnDoc> {
    let mut d = vec![
        ColumnDoc::new("candidate_id", "sequential candidate number (patient, then onset order)"),
        ColumnDoc::new("patient_id", "patient"),
        ColumnDoc::new("onset_date", "candidate onset: earliest onset of the merged episodes"),
        ColumnDoc::new("end_date", "candidate end: latest end of the merged episodes"),
        ColumnDoc::new("window_start", "first day of the window of the values below (onset - 7 days)"),
        ColumnDoc::new("window_end", "last day of the window (= end_date)"),
        ColumnDoc::new("line", "treatment line in effect at onset (most recent line started on or before onset); empty if none"),
        ColumnDoc::new("regimen", "regimen of that line"),
        ColumnDoc::new("intensity", "intensity of that line"),
        ColumnDoc::new("days_since_line_start", "onset - start of that line, days"),
    ];
    for (a, max) in SHEET_ANALYTES {
        let w = if max { "highest" } else { "lowest" };
        d.push(ColumnDoc::new(
            format!("{}_{}", a.name(), if max { "max" } else { "min" }),
            format!("{w} {} in the window, in {}; empty if not measured", a.name(), a.canonical_unit()),
        ));
        d.push(ColumnDoc::new(format!("{}_unit", a.name()), format!("unit of the {} column (canonical)", a.name())));
    }
    for f in SHEET_FINDINGS {
        d.push(ColumnDoc::new(
            f.name(),
            "present if recorded present in the window, absent if only recorded absent, empty if not recorded",
        ));
    }
    d.push(ColumnDoc::new("fever_days", "days of the window with a temperature >= 38.5 °C"));
    d.push(ColumnDoc::new("n_definitions", "number of definitions that detected an episode in this candidate"));
    for i in 0..n_definitions {
        let l = definition_letter(i);
        d.push(ColumnDoc::new(
            format!("definition_{l}_criteria"),
            format!("criteria definition {l} counted at onset (later: first met during the episode); empty if it did not detect this candidate"),
        ));
    }
    d.push(ColumnDoc::new("decision", "to fill in: confirmed, rejected or uncertain"));
    d.push(ColumnDoc::new("reviewer", "to fill in: reviewer name or code"));
    d
}

/// Worst value of `analyte` for patient `p` on days `from..=to` (maximum or minimum).
fn worst_value(cohort: &Cohort, p: PatientIdx, analyte: Analyte, max: bool, from: Day, to: Day) -> Option<f64> {
    let ms = cohort.measurements_of(p);
    let lo = ms.partition_point(|m| m.day < from);
    let hi = ms.partition_point(|m| m.day <= to);
    let vals = ms[lo..hi].iter().filter(|m| m.analyte == analyte).map(|m| m.value);
    if max {
        vals.fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))
    } else {
        vals.fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.min(v))))
    }
}

/// `present` / `absent` / NA for a finding of patient `p` on days `from..=to`.
fn finding_cell(cohort: &Cohort, p: PatientIdx, kind: FindingKind, from: Day, to: Day) -> Cell {
    let mut recorded = false;
    for f in cohort.findings_of(p).iter().filter(|f| f.finding == kind && f.day >= from && f.day <= to) {
        if f.present {
            return Cell::from("present");
        }
        recorded = true;
    }
    if recorded {
        Cell::from("absent")
    } else {
        Cell::Na
    }
}

/// Distinct days of `from..=to` with a temperature ≥ [`FEVER_C`].
fn fever_days(cohort: &Cohort, p: PatientIdx, from: Day, to: Day) -> usize {
    cohort
        .measurements_of(p)
        .iter()
        .filter(|m| m.analyte == Analyte::Temperature && m.day >= from && m.day <= to && m.value >= FEVER_C)
        .map(|m| m.day)
        .collect::<BTreeSet<Day>>()
        .len()
}

/// Criteria first met during each episode: (patient, episode) → names, in evidence order.
fn later_criteria(det: &Detection) -> HashMap<(PatientIdx, u32), Vec<&str>> {
    let mut m: HashMap<(PatientIdx, u32), Vec<&str>> = HashMap::new();
    for e in det.evidence.iter().filter(|e| e.role == EvidenceRole::DuringEpisode && e.criteria_set == det.criteria_set) {
        let v = m.entry((e.patient, e.episode)).or_default();
        if !v.contains(&e.criterion.as_str()) {
            v.push(&e.criterion);
        }
    }
    m
}

/// The blinded review sheet (see the module docs), named `name`.
pub fn review_sheet(name: &str, cohort: &Cohort, detections: &[Detection], cands: &[Candidate]) -> ResultTable {
    let mut t = ResultTable::documented(
        name,
        "candidate HLH episodes for chart review, blinded to the definitions (key in the _key file)",
        sheet_docs(detections.len()),
    );
    let later: Vec<_> = detections.iter().map(later_criteria).collect();
    for c in cands {
        let p = c.patient;
        let from = c.onset - WINDOW_BEFORE_ONSET_DAYS;
        let mut row: Vec<Cell> = vec![
            Cell::from(c.id),
            Cell::from(cohort.patients[p as usize].id.as_str()),
            Cell::from(crate::cohort::day_to_iso(c.onset)),
            Cell::from(crate::cohort::day_to_iso(c.end)),
            Cell::from(crate::cohort::day_to_iso(from)),
            Cell::from(crate::cohort::day_to_iso(c.end)),
        ];
        match treatment_context(cohort, p, c.onset) {
            Some(tc) => row.extend([
                Cell::from(tc.line),
                Cell::from(tc.regimen.as_str()),
                Cell::from(tc.intensity.name()),
                Cell::from(tc.days_since_line_start),
            ]),
            None => row.extend([Cell::Na, Cell::Na, Cell::Na, Cell::Na]),
        }
        for (a, max) in SHEET_ANALYTES {
            let v = worst_value(cohort, p, a, max, from, c.end);
            row.push(Cell::from(v));
            row.push(if v.is_some() { Cell::from(a.canonical_unit()) } else { Cell::Na });
        }
        for f in SHEET_FINDINGS {
            row.push(finding_cell(cohort, p, f, from, c.end));
        }
        row.push(Cell::from(fever_days(cohort, p, from, c.end)));
        let n_defs = c.members.iter().map(|(d, _)| *d).collect::<BTreeSet<_>>().len();
        row.push(Cell::from(n_defs));
        for (d, det) in detections.iter().enumerate() {
            let parts: Vec<String> = c
                .members
                .iter()
                .filter(|(md, _)| *md == d)
                .map(|(_, e)| {
                    let ep = &det.episodes[*e];
                    let mut s = ep.criteria_met_at_onset.join("; ");
                    if let Some(l) = later[d].get(&(ep.patient, ep.episode)) {
                        s.push_str(&format!(" (later: {})", l.join("; ")));
                    }
                    s
                })
                .collect();
            row.push(if parts.is_empty() { Cell::Na } else { Cell::from(parts.join(" | ")) });
        }
        row.push(Cell::Na);
        row.push(Cell::Na);
        t.push_row(row);
    }
    t
}

/// The key of the sheet: definition letter → criteria set, named `name`.
/// `sources[i]` is how definition `i` was given (built-in name or file).
pub fn review_key(
    name: &str,
    sets: &[CriteriaSet],
    sources: &[String],
    detections: &[Detection],
    cands: &[Candidate],
) -> ResultTable {
    let mut t = ResultTable::documented(
        name,
        "key of the review sheet: which criteria set each definition letter is (keep it away from the reviewers)",
        vec![
            ColumnDoc::new("definition", "letter used in the review sheet's definition_X_criteria column"),
            ColumnDoc::new("criteria_set", "criteria set name"),
            ColumnDoc::new("source", "built-in name or TOML file as given to --criteria"),
            ColumnDoc::new("rule", "the set's rule"),
            ColumnDoc::new("episodes", "episodes detected by the set"),
            ColumnDoc::new("candidates", "candidates (sheet rows) the set detected"),
        ],
    );
    for (i, set) in sets.iter().enumerate() {
        let n_cands = cands.iter().filter(|c| c.members.iter().any(|(d, _)| *d == i)).count();
        t.push_row(vec![
            Cell::from(definition_letter(i)),
            Cell::from(set.name.as_str()),
            Cell::from(sources.get(i).cloned().unwrap_or_default()),
            Cell::from(set.rule_text()),
            Cell::from(detections.get(i).map_or(0, |d| d.episodes.len())),
            Cell::from(n_cands),
        ]);
    }
    t
}

/// One definition's PPV against the adjudicated cases.
#[derive(Debug, Clone, PartialEq)]
pub struct PpvRow {
    /// Criteria set name.
    pub criteria_set: String,
    /// Matching window used (days).
    pub window_days: i32,
    /// Episode counts by the decision of the matched case.
    pub counts: PpvCounts,
    /// confirmed / (confirmed + rejected) with its intervals; `None` with `na_reason`.
    pub ppv: Option<Proportion>,
    /// Why the PPV is NA.
    pub na_reason: Option<String>,
}

/// Cohen's kappa between two named reviewers.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewerKappa {
    /// First reviewer (alphabetically).
    pub reviewer_1: String,
    /// Second reviewer.
    pub reviewer_2: String,
    /// Kappa over the cases both rated.
    pub result: KappaResult,
}

fn case_decision(d: Decision) -> CaseDecision {
    match d {
        Decision::Confirmed => CaseDecision::Confirmed,
        Decision::Rejected => CaseDecision::Rejected,
        Decision::Uncertain => CaseDecision::Uncertain,
    }
}

/// The adjudicated cases of the cohort: one per (patient, onset_date), with the consensus decision.
pub fn adjudicated_cases(cohort: &Cohort) -> Vec<AdjudicatedCase> {
    let mut by_case: BTreeMap<(PatientIdx, Day), Vec<CaseDecision>> = BTreeMap::new();
    for a in &cohort.adjudications {
        by_case.entry((a.patient, a.onset)).or_default().push(case_decision(a.decision));
    }
    by_case
        .into_iter()
        .filter_map(|((patient, onset), ds)| {
            CaseDecision::consensus(&ds).map(|decision| AdjudicatedCase { patient, onset, decision })
        })
        .collect()
}

/// Cohen's kappa of the two reviewers with the most cases in common (see the module docs);
/// `None` when no two reviewers rated the same case.
pub fn reviewer_kappa(cohort: &Cohort) -> Option<ReviewerKappa> {
    // case → reviewer → decision (loading rejects a reviewer twice on one case).
    let mut cases: BTreeMap<(PatientIdx, Day), BTreeMap<&str, Decision>> = BTreeMap::new();
    for a in &cohort.adjudications {
        cases.entry((a.patient, a.onset)).or_default().insert(a.reviewer.as_str(), a.decision);
    }
    let mut shared: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for rs in cases.values() {
        let names: Vec<&str> = rs.keys().copied().collect();
        for i in 0..names.len() {
            for j in i + 1..names.len() {
                *shared.entry((names[i], names[j])).or_default() += 1;
            }
        }
    }
    // Most shared cases; BTreeMap order makes ties go to the alphabetically first pair.
    let (&(r1, r2), _) = shared.iter().fold(None, |best: Option<(&(&str, &str), &usize)>, cur| match best {
        Some(b) if b.1 >= cur.1 => Some(b),
        _ => Some(cur),
    })?;
    let pairs: Vec<(&str, &str)> = cases.values().filter_map(|rs| Some((rs.get(r1)?.name(), rs.get(r2)?.name()))).collect();
    let result = cohen_kappa(&pairs, CONF_LEVEL).ok()?;
    Some(ReviewerKappa { reviewer_1: r1.to_string(), reviewer_2: r2.to_string(), result })
}

/// Each definition's PPV against the cohort's adjudicated cases (episodes matched within
/// `window_days` of their onset or of their candidate's onset on the review sheet of these
/// `detections`, see the module docs), and Cohen's kappa between two reviewers.
///
/// Without adjudications every PPV is NA ("no adjudicated case") and the kappa is `None`.
/// A negative `window_days` gives NA rows naming the problem.
pub fn adjudication_summary(cohort: &Cohort, detections: &[Detection], window_days: i32) -> (Vec<PpvRow>, Option<ReviewerKappa>) {
    let cases = adjudicated_cases(cohort);
    // The onset each episode has on the review sheet of these detections.
    let review_onset: HashMap<(usize, usize), Day> =
        candidates(detections).into_iter().flat_map(|c| c.members.into_iter().map(move |m| (m, c.onset))).collect();
    let rows = detections
        .iter()
        .enumerate()
        .map(|(d, det)| {
            let eps: Vec<EpisodeRef> = det
                .episodes
                .iter()
                .enumerate()
                .map(|(e, ep)| EpisodeRef {
                    patient: ep.patient,
                    onset: ep.onset,
                    review_onset: review_onset.get(&(d, e)).copied().unwrap_or(ep.onset),
                })
                .collect();
            let (counts, ppv, na_reason) = match match_episodes(&eps, &cases, window_days) {
                Err(e) => (PpvCounts { episodes: eps.len() as u64, ..PpvCounts::default() }, None, Some(e.to_string())),
                Ok(c) if cases.is_empty() => (c, None, Some("the cohort has no adjudicated case".to_string())),
                Ok(c) => match c.ppv(CONF_LEVEL) {
                    Ok(p) => (c, Some(p), None),
                    Err(e) => (c, None, Some(e.to_string())),
                },
            };
            PpvRow { criteria_set: det.criteria_set.clone(), window_days, counts, ppv, na_reason }
        })
        .collect();
    (rows, reviewer_kappa(cohort))
}

/// The PPV rows as a table named `name`.
pub fn ppv_table(name: &str, rows: &[PpvRow]) -> ResultTable {
    let mut t = ResultTable::documented(
        name,
        "PPV of each definition against the adjudicated cases (chart review)",
        vec![
            ColumnDoc::new("criteria_set", "definition"),
            ColumnDoc::new(
                "window_days",
                "an episode matches the adjudicated case of the same patient with the closest onset within this many days",
            ),
            ColumnDoc::new("episodes", "episodes of the definition"),
            ColumnDoc::new("confirmed", "episodes matched to a confirmed case"),
            ColumnDoc::new("rejected", "episodes matched to a rejected case"),
            ColumnDoc::new("uncertain", "episodes matched to an uncertain case (not in the denominator)"),
            ColumnDoc::new("disagreement", "episodes matched to a case the reviewers disagreed on (not in the denominator)"),
            ColumnDoc::new("not_adjudicated", "episodes with no adjudicated case within the window"),
            ColumnDoc::new("confirmed_cases_missed", "confirmed cases matched by no episode of the definition"),
            ColumnDoc::new("ppv", "confirmed / (confirmed + rejected); empty with a note when there is no such episode"),
            ColumnDoc::new("ppv_lower", "Clopper-Pearson lower limit (R binom.test)"),
            ColumnDoc::new("ppv_upper", "Clopper-Pearson upper limit"),
            ColumnDoc::new("conf_level", "confidence level"),
            ColumnDoc::new("note", "why the PPV is NA"),
        ],
    );
    for r in rows {
        let c = &r.counts;
        t.push_row(vec![
            Cell::from(r.criteria_set.as_str()),
            Cell::from(r.window_days),
            Cell::from(c.episodes as usize),
            Cell::from(c.confirmed as usize),
            Cell::from(c.rejected as usize),
            Cell::from(c.uncertain as usize),
            Cell::from(c.disagreement as usize),
            Cell::from(c.not_adjudicated as usize),
            Cell::from(c.confirmed_cases_missed as usize),
            Cell::from(r.ppv.map(|p| p.estimate)),
            Cell::from(r.ppv.map(|p| p.clopper_pearson.0)),
            Cell::from(r.ppv.map(|p| p.clopper_pearson.1)),
            Cell::from(CONF_LEVEL),
            Cell::from(r.na_reason.clone()),
        ]);
    }
    t
}

/// The kappa as a one-row table named `name` (a row of NA with a note when there is none).
pub fn kappa_table(name: &str, k: Option<&ReviewerKappa>) -> ResultTable {
    let mut t = ResultTable::documented(
        name,
        "inter-reviewer agreement: unweighted Cohen's kappa (as R psych::cohen.kappa)",
        vec![
            ColumnDoc::new("reviewer_1", "first reviewer"),
            ColumnDoc::new("reviewer_2", "second reviewer"),
            ColumnDoc::new("n_cases", "cases rated by both"),
            ColumnDoc::new("categories", "decisions used by either reviewer"),
            ColumnDoc::new("observed_agreement", "proportion of cases with the same decision"),
            ColumnDoc::new("expected_agreement", "agreement expected by chance"),
            ColumnDoc::new("kappa", "Cohen's kappa"),
            ColumnDoc::new("se", "asymptotic standard error (Fleiss, Cohen & Everitt 1969)"),
            ColumnDoc::new("lower", "kappa - z se, at least -1"),
            ColumnDoc::new("upper", "kappa + z se, at most 1"),
            ColumnDoc::new("conf_level", "confidence level"),
            ColumnDoc::new("note", "why kappa is NA"),
        ],
    );
    match k {
        Some(k) => {
            let r = &k.result;
            t.push_row(vec![
                Cell::from(k.reviewer_1.as_str()),
                Cell::from(k.reviewer_2.as_str()),
                Cell::from(r.n_items),
                Cell::from(r.categories.join("; ")),
                Cell::from(r.observed_agreement),
                Cell::from(r.expected_agreement),
                Cell::from(r.kappa),
                Cell::from(r.se),
                Cell::from(r.ci.map(|c| c.0)),
                Cell::from(r.ci.map(|c| c.1)),
                Cell::from(r.conf_level),
                Cell::from(r.na_reason.clone()),
            ]);
        }
        None => {
            let mut row = vec![Cell::Na; 10];
            row.push(Cell::from(CONF_LEVEL));
            row.push(Cell::from("no two reviewers rated the same case"));
            t.push_row(row);
        }
    }
    t
}

/// Directory and file stem of `--out`.
fn out_parts(out: &Path) -> Result<(PathBuf, String), ReviewError> {
    let bad = || ReviewError::BadOut { path: out.to_path_buf() };
    let stem = out.file_stem().and_then(|s| s.to_str()).filter(|s| !s.is_empty()).ok_or_else(bad)?;
    if out.extension().is_some_and(|e| !e.eq_ignore_ascii_case("csv")) {
        return Err(bad());
    }
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((dir, stem.to_string()))
}

/// `hemosurv review`: writes the blinded sheet `--out`, its key `<stem>_key.csv` and, when the
/// cohort has an `adjudications` table, `<stem>_ppv.csv` and `<stem>_kappa.csv`.
pub fn review_cmd(args: &ReviewArgs) -> Result<ReviewSummary, ReviewError> {
    let sources: Vec<String> =
        if args.criteria.is_empty() { ALL_BUILTIN_NAMES.iter().map(|s| s.to_string()).collect() } else { args.criteria.clone() };
    let sets: Vec<CriteriaSet> = sources.iter().map(|c| resolve_criteria(c)).collect::<Result<_, _>>()?;
    for (i, s) in sets.iter().enumerate() {
        if sets[..i].iter().any(|o| o.name == s.name) {
            return Err(ReviewError::DuplicateDefinition(s.name.clone()));
        }
    }
    let (dir, stem) = out_parts(&args.out)?;
    let names = [stem.clone(), format!("{stem}_key"), format!("{stem}_ppv"), format!("{stem}_kappa"), format!("{stem}_rejects")];
    if !args.force {
        if let Some(p) = names.iter().map(|n| dir.join(format!("{n}.csv"))).find(|p| p.exists()) {
            return Err(ReviewError::Exists { path: p });
        }
    }
    let loaded = load_cohort(&args.cohort, &LoadOptions { quarantine: args.quarantine })?;
    let cohort = &loaded.cohort;
    let detections: Vec<Detection> = detect_many(cohort, &sets);
    let cands = candidates(&detections);
    std::fs::create_dir_all(&dir).map_err(|source| ReviewError::Io { path: dir.clone(), source })?;
    let mut written = vec![
        crate::report::write_csv_file(&review_sheet(&names[0], cohort, &detections, &cands), &dir)?,
        crate::report::write_csv_file(&review_key(&names[1], &sets, &sources, &detections, &cands), &dir)?,
    ];
    let mut agreement_text = Vec::new();
    if cohort.tables_present.iter().any(|t| t == "adjudications") {
        let (rows, kappa) = adjudication_summary(cohort, &detections, args.match_days);
        for r in &rows {
            agreement_text.push(match r.ppv {
                Some(p) => format!(
                    "{}: PPV {}/{} = {:.3} (95% CI {:.3}-{:.3})",
                    r.criteria_set, p.x, p.n, p.estimate, p.clopper_pearson.0, p.clopper_pearson.1
                ),
                None => format!("{}: PPV NA ({})", r.criteria_set, r.na_reason.as_deref().unwrap_or("")),
            });
        }
        agreement_text.push(match kappa.as_ref().and_then(|k| k.result.kappa.map(|v| (k, v))) {
            Some((k, v)) => format!("kappa {} vs {}: {:.3} over {} cases", k.reviewer_1, k.reviewer_2, v, k.result.n_items),
            None => "kappa: NA".to_string(),
        });
        written.push(crate::report::write_csv_file(&ppv_table(&names[2], &rows), &dir)?);
        written.push(crate::report::write_csv_file(&kappa_table(&names[3], kappa.as_ref()), &dir)?);
    }
    if loaded.report.rejected_count > 0 {
        let p = dir.join(format!("{}.csv", names[4]));
        loaded.report.write_rejects_csv(&p)?;
        written.push(p);
    }
    // With --force, outputs of an earlier run that this run does not produce would be stale.
    for n in &names[2..] {
        let p = dir.join(format!("{n}.csv"));
        if !written.contains(&p) && p.is_file() {
            std::fs::remove_file(&p).map_err(|source| ReviewError::Io { path: p.clone(), source })?;
        }
    }
    Ok(ReviewSummary {
        definitions: sets.len(),
        episodes: detections.iter().map(|d| d.episodes.len()).sum(),
        candidates: cands.len(),
        written,
        agreement_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hlh::{DetectionSummary, DiseaseStatus, Episode};

    fn det(name: &str, eps: &[(u32, Day, Day)]) -> Detection {
        let episodes = eps
            .iter()
            .map(|&(patient, onset, end)| Episode {
                patient,
                patient_id: format!("P{patient}").into(),
                episode: 1,
                criteria_set: name.into(),
                onset,
                end,
                ongoing_at_end_of_follow_up: false,
                criteria_met_at_onset: Default::default(),
                max_criteria: 0,
                evaluable_criteria: 0,
                n_criteria: 0,
                score_at_onset: None,
                hscore_at_onset: None,
                max_hscore: None,
                hscore_probability: None,
                treatment: None,
                disease_status: DiseaseStatus::BeforeFirstResponse,
            })
            .collect();
        Detection {
            criteria_set: name.into(),
            rule: String::new(),
            has_hscore: false,
            episodes,
            evidence: vec![],
            summary: DetectionSummary {
                patients_screened: 0,
                patients_evaluable: 0,
                patients_with_episode: 0,
                episodes: 0,
                by_first_line_intensity: vec![],
            },
        }
    }

    #[test]
    fn merge_rule() {
        // Patient 0: [10,20] (A) and [20,30] (B) share day 20 -> merged; [25,41] (C) overlaps
        // and extends to 41, so [40,45] (A) joins the chain; [46,50] (B) starts the day after
        // -> a new candidate. Patient 1's episode on the same days stays separate.
        let a = det("a", &[(0, 10, 20), (0, 40, 45), (1, 20, 30)]);
        let b = det("b", &[(0, 20, 30), (0, 46, 50)]);
        let c = det("c", &[(0, 25, 41)]);
        let got = candidates(&[a, b, c]);
        let cand = |id, patient, onset, end, members: &[(usize, usize)]| Candidate {
            id,
            patient,
            onset,
            end,
            members: members.to_vec(),
        };
        assert_eq!(
            got,
            vec![
                cand(1, 0, 10, 45, &[(0, 0), (0, 1), (1, 0), (2, 0)]),
                cand(2, 0, 46, 50, &[(1, 1)]),
                cand(3, 1, 20, 30, &[(0, 2)]),
            ]
        );
        assert!(candidates(&[]).is_empty());
    }

    #[test]
    fn a_late_episode_matches_the_case_of_its_candidate() {
        // Definition b fires 12 days after a on the same course: the sheet shows onset 10.
        let a = det("a", &[(0, 10, 30)]);
        let b = det("b", &[(0, 22, 30)]);
        let mut cohort = Cohort::new(
            vec![crate::cohort::Patient { id: "P0".into(), diagnosis: 0, last_contact: 100, death: None, sex: None, age: None }],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        cohort.set_adjudications(vec![crate::cohort::Adjudication {
            patient: 0,
            onset: 10,
            decision: Decision::Confirmed,
            reviewer: "r".into(),
            row: 1,
        }]);
        let (rows, _) = adjudication_summary(&cohort, &[a.clone(), b.clone()], 7);
        assert_eq!((rows[1].counts.confirmed, rows[1].counts.not_adjudicated), (1, 0));
        // Detected alone, b's episode is not on a sheet with onset 10: 12 days > 7.
        let (rows, _) = adjudication_summary(&cohort, &[b], 7);
        assert_eq!((rows[0].counts.confirmed, rows[0].counts.not_adjudicated), (0, 1));
    }

    #[test]
    fn letters() {
        assert_eq!(definition_letter(0), "A");
        assert_eq!(definition_letter(25), "Z");
        assert_eq!(definition_letter(26), "AA");
        assert_eq!(definition_letter(27), "AB");
    }
}
