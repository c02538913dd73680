//! Table 2 of the paper: characteristics of the HLH episodes under the primary definition.
//!
//! Conventions (written into the table's note column and `docs/study.md`):
//! - Episodes of the patients counted as having HLH by the incidence analyses (the exposure of
//!   the primary definition: study population, first onset during follow-up and not on the
//!   day of death), so that "patients with HLH" equals the incidence tables' count.
//! - **Laboratory values at onset**: for each analyte, the value of the most recent day with a
//!   measurement within the 7 days up to and including the onset day; on that day the worst
//!   value (highest ferritin, triglycerides, sCD25, AST, temperature; lowest fibrinogen,
//!   hemoglobin, platelets, neutrophils). No value in that window: not available (the count
//!   column says for how many episodes a value exists). A censored value (`>40000`) enters
//!   with its bound. Median and quartiles are R `quantile(type = 7)`.
//! - **Deaths within 30 / 90 days** of the first episode's onset: crude proportions among the
//!   patients who died within that time or were followed at least that long (a patient
//!   censored earlier is in neither count).
//! - Count rows from 1 to `report.small_cell - 1` (default 5) are flagged `small cell` in `note`.
//! - **Treatment phase at onset**: the treatment line running at onset (latest line started on
//!   or before onset), its intensity and the days since its start; disease status from the
//!   response assessments (`hlh::DiseaseStatus`).
//!
//! The lab values need the measurements, which the run holds only while it detects (one part of
//! the patients at a time): they are read then by [`OnsetLabs::add`], the table is built later
//! by [`episode_characteristics`].

use crate::cohort::{Analyte, Cohort, Day};
use crate::hlh::{Detection, Episode};
use crate::stats::table1::quantile_type7;
use crate::table::{Cell, ResultTable};

use super::dataset::Dataset;
use super::exposure::Exposure;

/// Analytes summarised at onset, in table order, with "worst" = highest (`true`) or lowest.
pub(crate) const ONSET_ANALYTES: [(Analyte, bool); 9] = crate::hlh::HLH_LAB_PANEL;

/// Days before the onset (and the onset day) searched for a value.
pub(crate) const ONSET_LOOKBACK_DAYS: i32 = 7;

/// Lab values at the onset of each episode of a detection (same order as its episodes);
/// `None` where the analyte was not measured in the look-back window.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OnsetLabs {
    /// One row per episode, one entry per [`ONSET_ANALYTES`].
    pub values: Vec<[Option<f64>; ONSET_ANALYTES.len()]>,
}

impl OnsetLabs {
    /// Append the lab values at the onsets of `episodes` (the next episodes of the detection,
    /// in its order), from the measurements `cohort` holds for their patients.
    pub(crate) fn add<'e>(&mut self, cohort: &Cohort, episodes: impl Iterator<Item = &'e Episode>) {
        self.values.extend(episodes.map(|e| {
            let ms = cohort.measurements_of(e.patient);
            let mut row = [None; ONSET_ANALYTES.len()];
            for (k, (analyte, highest)) in ONSET_ANALYTES.iter().enumerate() {
                row[k] = value_at_onset(ms.iter().filter(|m| m.analyte == *analyte).map(|m| (m.day, m.value)), e.onset, *highest);
            }
            row
        }));
    }
}

/// The worst value of the latest day in `onset - 7 ..= onset`.
fn value_at_onset(values: impl Iterator<Item = (Day, f64)>, onset: Day, highest: bool) -> Option<f64> {
    let mut best: Option<(Day, f64)> = None;
    for (day, v) in values.filter(|(d, v)| *d <= onset && *d >= onset - ONSET_LOOKBACK_DAYS && v.is_finite()) {
        best = match best {
            None => Some((day, v)),
            Some((bd, _)) if day > bd => Some((day, v)),
            Some((bd, bv)) if day == bd => Some((bd, if highest { bv.max(v) } else { bv.min(v) })),
            keep => keep,
        };
    }
    best.map(|(_, v)| v)
}

/// Columns of the table.
pub(crate) const COLUMNS: [&str; 9] =
    ["section", "characteristic", "summary", "count", "denominator", "median", "q1", "q3", "note"];

/// Table 2: the episodes of `detection` in the study population, summarised.
/// `criteria` are the names of the primary set's criteria (empty for a pseudo-set).
#[allow(clippy::too_many_arguments)]
pub(crate) fn episode_characteristics(
    cohort: &Cohort,
    dataset: &Dataset,
    exposure: &Exposure,
    detection: &Detection,
    criteria: &[String],
    labs: &OnsetLabs,
    small_cell: u64,
    name: &str,
) -> ResultTable {
    let mut t = ResultTable::new(name, &COLUMNS);
    let in_population: std::collections::HashSet<u32> =
        dataset.patients.iter().zip(&exposure.onset).filter(|(_, o)| o.is_some()).map(|(p, _)| p.idx).collect();
    let rows: Vec<usize> =
        (0..detection.episodes.len()).filter(|&i| in_population.contains(&detection.episodes[i].patient)).collect();
    let episodes: Vec<&crate::hlh::Episode> = rows.iter().map(|&i| &detection.episodes[i]).collect();
    let n_ep = episodes.len();
    let mut patients: Vec<u32> = episodes.iter().map(|e| e.patient).collect();
    patients.dedup(); // episodes are in patient order
    let n_pat = patients.len();
    let recurrent = episodes.iter().filter(|e| e.episode == 2).count();

    let add = |t: &mut ResultTable, section: &str, what: &str, row: Summary, note: &str| {
        let small =
            row.denominator.is_some() && row.median.is_none() && row.count.is_some_and(|n| n >= 1 && (n as u64) < small_cell);
        let note = if small {
            format!("{note}{}small cell (n < {small_cell})", if note.is_empty() { "" } else { "; " })
        } else {
            note.to_string()
        };
        t.rows.push(vec![
            Cell::Str(section.into()),
            Cell::Str(what.into()),
            Cell::Str(row.text),
            row.count.map_or(Cell::Na, |c| Cell::Int(c as i64)),
            row.denominator.map_or(Cell::Na, |c| Cell::Int(c as i64)),
            row.median.map_or(Cell::Na, Cell::Num),
            row.q1.map_or(Cell::Na, Cell::Num),
            row.q3.map_or(Cell::Na, Cell::Num),
            if note.is_empty() { Cell::Na } else { Cell::Str(note) },
        ]);
    };
    add(
        &mut t,
        "overview",
        "patients with HLH",
        Summary::count(n_pat, dataset.patients.len()),
        "of the study population, during follow-up",
    );
    add(&mut t, "overview", "episodes", Summary::plain(n_ep), "");
    add(
        &mut t,
        "overview",
        "patients with a recurrence (2 or more episodes)",
        Summary::count(recurrent, n_pat),
        "of the patients with HLH",
    );

    for c in criteria {
        let met = episodes.iter().filter(|e| e.criteria_met_at_onset.iter().any(|m| m == c)).count();
        add(&mut t, "criteria met at onset", c, Summary::count(met, n_ep), "of the episodes");
    }

    for (k, (analyte, _)) in ONSET_ANALYTES.iter().enumerate() {
        let v: Vec<f64> = rows.iter().filter_map(|&i| labs.values.get(i).and_then(|r| r[k])).collect();
        let what = format!("{} at onset ({})", analyte.name(), analyte.canonical_unit());
        add(
            &mut t,
            "laboratory values at onset",
            &what,
            Summary::median_iqr(v, n_ep),
            "latest day within 7 days up to onset, worst value of that day",
        );
    }

    let hs_onset: Vec<f64> = episodes.iter().filter_map(|e| e.hscore_at_onset).collect();
    let hs_max: Vec<f64> = episodes.iter().filter_map(|e| e.max_hscore).collect();
    if !hs_onset.is_empty() || !hs_max.is_empty() {
        add(&mut t, "scores", "HScore at onset", Summary::median_iqr(hs_onset, n_ep), "");
        add(&mut t, "scores", "maximum HScore during the episode", Summary::median_iqr(hs_max, n_ep), "");
    }
    let scores: Vec<f64> = episodes.iter().filter_map(|e| e.score_at_onset).collect();
    if !scores.is_empty() {
        add(&mut t, "scores", &format!("{} score at onset", detection.criteria_set), Summary::median_iqr(scores, n_ep), "");
    }

    let days: Vec<f64> =
        episodes.iter().filter_map(|e| e.treatment.as_ref().map(|tc| f64::from(tc.days_since_line_start))).collect();
    add(
        &mut t,
        "treatment phase at onset",
        "days since the start of the treatment line",
        Summary::median_iqr(days, n_ep),
        "line running at onset",
    );
    let mut phase: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &episodes {
        let label = e.treatment.as_ref().map_or("no treatment line yet".to_string(), |tc| {
            format!("line {} ({})", if tc.line == 1 { "1".to_string() } else { "2 or later".to_string() }, tc.intensity.name())
        });
        *phase.entry(label).or_default() += 1;
    }
    for (label, n) in phase {
        add(&mut t, "treatment phase at onset", &label, Summary::count(n, n_ep), "of the episodes");
    }
    let mut status: std::collections::BTreeMap<&'static str, usize> = std::collections::BTreeMap::new();
    for e in &episodes {
        *status.entry(e.disease_status.name()).or_default() += 1;
    }
    for (label, n) in status {
        add(&mut t, "treatment phase at onset", &format!("disease status: {label}"), Summary::count(n, n_ep), "of the episodes");
    }

    for days in [30, 90] {
        let (died, known) = deaths_within(cohort, &episodes, days);
        add(
            &mut t,
            "outcome",
            &format!("death within {days} days of the first onset"),
            Summary::count(died, known),
            &format!("of the patients who died within {days} days or were followed at least {days} days"),
        );
    }
    t
}

/// (patients dead within `days` of their first onset, patients with that status known).
fn deaths_within(cohort: &Cohort, episodes: &[&crate::hlh::Episode], days: i32) -> (usize, usize) {
    let (mut died, mut known) = (0, 0);
    for e in episodes.iter().filter(|e| e.episode == 1) {
        let p = &cohort.patients[e.patient as usize];
        match p.death {
            Some(d) if d - e.onset <= days => {
                died += 1;
                known += 1;
            }
            _ if p.end_of_follow_up() - e.onset >= days => known += 1,
            _ => {}
        }
    }
    (died, known)
}

/// One summarised row.
struct Summary {
    text: String,
    count: Option<usize>,
    denominator: Option<usize>,
    median: Option<f64>,
    q1: Option<f64>,
    q3: Option<f64>,
}

impl Summary {
    fn plain(n: usize) -> Summary {
        Summary { text: n.to_string(), count: Some(n), denominator: None, median: None, q1: None, q3: None }
    }

    /// `n (x.x%)`; NA percentage when the denominator is 0.
    fn count(n: usize, of: usize) -> Summary {
        let text = super::count_pct(n as u64, of as u64);
        Summary { text, count: Some(n), denominator: Some(of), median: None, q1: None, q3: None }
    }

    /// `median (q1–q3)` of the available values; `count` = values available out of `of`.
    fn median_iqr(mut v: Vec<f64>, of: usize) -> Summary {
        v.sort_by(f64::total_cmp);
        let (median, q1, q3) = (quantile_type7(&v, 0.5), quantile_type7(&v, 0.25), quantile_type7(&v, 0.75));
        let text = match (median, q1, q3) {
            (Some(m), Some(a), Some(b)) => super::median_iqr_text(m, a, b),
            _ => "NA (no value)".to_string(),
        };
        Summary { text, count: Some(v.len()), denominator: Some(of), median, q1, q3 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_at_onset_takes_the_latest_day_and_its_worst_value() {
        let v = [(10, 5.0), (12, 3.0), (12, 7.0), (13, 1.0), (3, 99.0)];
        // onset 12: day 13 is after onset, day 3 outside the window; day 12 worst = max 7 / min 3
        assert_eq!(value_at_onset(v.iter().copied(), 12, true), Some(7.0));
        assert_eq!(value_at_onset(v.iter().copied(), 12, false), Some(3.0));
        assert_eq!(value_at_onset(v.iter().copied(), 11, true), Some(5.0));
        assert_eq!(value_at_onset(v.iter().copied(), 2, true), None);
        // day 10 - 7 = 3: the window includes day 3
        assert_eq!(value_at_onset([(3, 99.0)].into_iter(), 10, true), Some(99.0));
        assert_eq!(value_at_onset([(2, 99.0)].into_iter(), 10, true), None);
    }

    #[test]
    fn summaries_format_counts_and_quartiles_as_r() {
        let s = Summary::count(3, 8);
        assert_eq!(s.text, "3 (37.5%)");
        assert_eq!(Summary::count(0, 0).text, "0 (NA)");
        // R: quantile(c(1, 2, 4, 10, 250), c(.25, .5, .75)) = 2, 4, 10
        let s = Summary::median_iqr(vec![250.0, 2.0, 10.0, 1.0, 4.0], 6);
        assert_eq!((s.median, s.q1, s.q3), (Some(4.0), Some(2.0), Some(10.0)));
        assert_eq!(s.text, "4.00 (2.00–10.0)");
        assert_eq!((s.count, s.denominator), (Some(5), Some(6)));
        assert_eq!(Summary::median_iqr(vec![], 2).text, "NA (no value)");
    }
}
