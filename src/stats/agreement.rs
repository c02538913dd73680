//! Agreement with chart review: Cohen's kappa between two reviewers and the positive
//! predictive value (PPV) of a detection rule against adjudicated cases.
//!
//! Pure functions on plain values (no cohort types): the chart-review command
//! ([`crate::commands::review`]) turns a cohort and its detections into these inputs.
//!
//! * [`cohen_kappa`]: unweighted Cohen's kappa with the large-sample (non-null) variance of
//!   Fleiss, Cohen & Everitt (1969), exactly as R `psych::cohen.kappa` reports it
//!   (`kappa`, `var.kappa`, `confid[1, ]`), including psych's clipping of the confidence
//!   limits to [-1, 1]. Tested against `psych` 2.2.9 (`tests/fixtures/r/kappa.R`).
//! * [`match_episodes`]: matches detected episodes to adjudicated cases of the same patient
//!   (|onset difference| ≤ `window_days`) and counts confirmed / rejected / uncertain /
//!   disagreement / not adjudicated; [`PpvCounts::ppv`] is confirmed / (confirmed + rejected)
//!   with the Clopper–Pearson interval of [`super::proportions::proportion`].

use std::collections::BTreeSet;

use super::dist::z_for_level;
use super::error::{StatsError, StatsResult};
use super::proportions::{proportion, Proportion};

/// Cohen's kappa of two raters over the same items.
#[derive(Debug, Clone, PartialEq)]
pub struct KappaResult {
    /// Items rated by both raters.
    pub n_items: usize,
    /// The categories used by either rater, sorted (as R `levels(factor(...))`).
    pub categories: Vec<String>,
    /// Proportion of items on which the raters agree (p_o).
    pub observed_agreement: f64,
    /// Agreement expected by chance from the raters' margins (p_e = Σ p_i. p_.i).
    pub expected_agreement: f64,
    /// (p_o − p_e) / (1 − p_e); `None` when undefined (see `na_reason`).
    pub kappa: Option<f64>,
    /// Asymptotic standard error (square root of psych's `var.kappa`); `None` with `kappa`.
    pub se: Option<f64>,
    /// kappa ± z·se, each limit clipped to [-1, 1] (as psych); `None` with `kappa`.
    pub ci: Option<(f64, f64)>,
    /// Confidence level of `ci`.
    pub conf_level: f64,
    /// Why `kappa` is NA.
    pub na_reason: Option<String>,
}

/// Unweighted Cohen's kappa for the ratings `pairs[i] = (rater 1, rater 2)` of item `i`.
///
/// Categories are the labels used by either rater. With a single category used by both raters
/// (every item rated the same by both) kappa is undefined (0/0): the result has `kappa = None`
/// and a reason, as psych returns `NA`. The variance is Fleiss, Cohen & Everitt (1969):
/// `1/(n (1−p_e)^4) · { Σ_i p_ii [(1−p_e) − (p_i. + p_.i)(1−p_o)]² + (1−p_o)² Σ_{i≠j} p_ij (p_.i + p_j.)² − (p_o p_e − 2 p_e + p_o)² }`,
/// set to 0 if negative (as psych).
///
/// Errors: no items (column `pairs`), `conf_level` outside (0, 1).
pub fn cohen_kappa(pairs: &[(&str, &str)], conf_level: f64) -> StatsResult<KappaResult> {
    if !(conf_level > 0.0 && conf_level < 1.0) {
        return Err(StatsError::InvalidInput {
            column: "conf_level".into(),
            message: format!("confidence level must be strictly between 0 and 1, found {conf_level}"),
        });
    }
    if pairs.is_empty() {
        return Err(StatsError::Empty("Cohen's kappa needs at least one item rated by both raters".into()));
    }
    let categories: Vec<String> =
        pairs.iter().flat_map(|(a, b)| [*a, *b]).collect::<BTreeSet<&str>>().into_iter().map(str::to_string).collect();
    let k = categories.len();
    let idx = |s: &str| categories.iter().position(|c| c == s).unwrap_or(0);
    let n = pairs.len() as f64;
    // Proportions table p[i][j]: rater 1 in category i, rater 2 in category j.
    let mut p = vec![vec![0.0f64; k]; k];
    for (a, b) in pairs {
        p[idx(a)][idx(b)] += 1.0;
    }
    for row in &mut p {
        for x in row.iter_mut() {
            *x /= n;
        }
    }
    let rs: Vec<f64> = p.iter().map(|r| r.iter().sum()).collect();
    let cs: Vec<f64> = (0..k).map(|j| p.iter().map(|r| r[j]).sum()).collect();
    let po: f64 = (0..k).map(|i| p[i][i]).sum();
    let pe: f64 = (0..k).map(|i| rs[i] * cs[i]).sum();
    let mut out = KappaResult {
        n_items: pairs.len(),
        categories,
        observed_agreement: po,
        expected_agreement: pe,
        kappa: None,
        se: None,
        ci: None,
        conf_level,
        na_reason: None,
    };
    if k == 1 {
        out.na_reason = Some(format!(
            "both raters gave every item the same rating ('{}'): kappa is undefined (chance agreement is 1)",
            out.categories[0]
        ));
        return Ok(out);
    }
    let kappa = (po - pe) / (1.0 - pe);
    let mut diag = 0.0;
    let mut off = 0.0;
    for i in 0..k {
        for j in 0..k {
            if i == j {
                diag += p[i][i] * ((1.0 - pe) - (rs[i] + cs[i]) * (1.0 - po)).powi(2);
            } else {
                off += p[i][j] * (cs[i] + rs[j]).powi(2);
            }
        }
    }
    let var = (diag + (1.0 - po).powi(2) * off - (po * pe - 2.0 * pe + po).powi(2)) / (n * (1.0 - pe).powi(4));
    let var = if var.is_finite() && var > 0.0 { var } else { 0.0 };
    let se = var.sqrt();
    let z = z_for_level(conf_level);
    let clip = |x: f64| x.clamp(-1.0, 1.0);
    out.kappa = Some(kappa);
    out.se = Some(se);
    out.ci = Some((clip(kappa - z * se), clip(kappa + z * se)));
    Ok(out)
}

/// The decision on one adjudicated case (all reviews of one patient and onset date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseDecision {
    /// Every reviewer confirmed HLH.
    Confirmed,
    /// Every reviewer rejected HLH.
    Rejected,
    /// Every reviewer was uncertain.
    Uncertain,
    /// The reviewers disagreed (no consensus recorded).
    Disagreement,
}

impl CaseDecision {
    /// The case decision from its reviews: their common decision if they all agree, else
    /// [`CaseDecision::Disagreement`]. `None` for no reviews.
    pub fn consensus(decisions: &[CaseDecision]) -> Option<CaseDecision> {
        let first = *decisions.first()?;
        Some(if decisions.iter().all(|d| *d == first) { first } else { CaseDecision::Disagreement })
    }
}

/// One adjudicated case: a patient, the onset date under review and the consensus decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdjudicatedCase {
    /// Patient (any key; the same key as the episodes).
    pub patient: u32,
    /// Onset day of the reviewed episode.
    pub onset: i32,
    /// Consensus decision.
    pub decision: CaseDecision,
}

/// Counts of one rule's episodes against the adjudicated cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PpvCounts {
    /// Episodes of the rule.
    pub episodes: u64,
    /// Episodes matched to a confirmed case.
    pub confirmed: u64,
    /// Episodes matched to a rejected case.
    pub rejected: u64,
    /// Episodes matched to an uncertain case (excluded from the PPV denominator).
    pub uncertain: u64,
    /// Episodes matched to a case the reviewers disagreed on (excluded from the denominator).
    pub disagreement: u64,
    /// Episodes with no adjudicated case within the window (not reviewed).
    pub not_adjudicated: u64,
    /// Confirmed cases matched by no episode of the rule.
    pub confirmed_cases_missed: u64,
}

impl PpvCounts {
    /// confirmed / (confirmed + rejected) with Wilson and Clopper–Pearson intervals;
    /// `Err` with a reason when no episode matched a confirmed or rejected case.
    pub fn ppv(&self, conf_level: f64) -> StatsResult<Proportion> {
        let n = self.confirmed + self.rejected;
        if n == 0 {
            return Err(StatsError::Empty("no episode of this definition matched a confirmed or rejected adjudication".into()));
        }
        proportion(self.confirmed, n, conf_level)
    }
}

/// An episode to match: its patient, its onset, and the onset under which it was put on the
/// review sheet (the onset of its merged candidate; equal to `onset` when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeRef {
    /// Patient (the same key as the cases).
    pub patient: u32,
    /// Onset day of the episode.
    pub onset: i32,
    /// Onset day of the review-sheet candidate holding the episode.
    pub review_onset: i32,
}

/// Match each episode to the adjudicated case of the same patient whose onset is closest to
/// the episode's onset or to its review onset, within `window_days` (distance =
/// min(|case − onset|, |case − review_onset|) ≤ `window_days`; ties → the earlier case), and
/// count the decisions of the matched cases. The review onset matters when an episode was
/// merged into a candidate that began earlier (the reviewers saw the candidate's onset).
/// Several episodes may match the same case (each is counted). A confirmed case that no
/// episode matched is counted in `confirmed_cases_missed`.
///
/// Errors: `window_days < 0` (column `window_days`).
pub fn match_episodes(episodes: &[EpisodeRef], cases: &[AdjudicatedCase], window_days: i32) -> StatsResult<PpvCounts> {
    if window_days < 0 {
        return Err(StatsError::InvalidInput {
            column: "window_days".into(),
            message: format!("the matching window must be >= 0 days, found {window_days}"),
        });
    }
    let mut sorted: Vec<AdjudicatedCase> = cases.to_vec();
    sorted.sort_by_key(|c| (c.patient, c.onset));
    let mut matched = vec![false; sorted.len()];
    let mut counts = PpvCounts { episodes: episodes.len() as u64, ..PpvCounts::default() };
    for e in episodes {
        let (first, last) = (e.onset.min(e.review_onset), e.onset.max(e.review_onset));
        let lo = sorted.partition_point(|c| (c.patient, c.onset) < (e.patient, first.saturating_sub(window_days)));
        let hi = sorted.partition_point(|c| (c.patient, c.onset) <= (e.patient, last.saturating_add(window_days)));
        let distance = |d: i32| {
            let d = i64::from(d);
            (d - i64::from(e.onset)).abs().min((d - i64::from(e.review_onset)).abs())
        };
        // Closest case within the window; `min_by_key` keeps the first (earliest) of equal distances.
        let best =
            (lo..hi).filter(|&i| distance(sorted[i].onset) <= i64::from(window_days)).min_by_key(|&i| distance(sorted[i].onset));
        match best {
            None => counts.not_adjudicated += 1,
            Some(i) => {
                matched[i] = true;
                match sorted[i].decision {
                    CaseDecision::Confirmed => counts.confirmed += 1,
                    CaseDecision::Rejected => counts.rejected += 1,
                    CaseDecision::Uncertain => counts.uncertain += 1,
                    CaseDecision::Disagreement => counts.disagreement += 1,
                }
            }
        }
    }
    counts.confirmed_cases_missed =
        sorted.iter().zip(&matched).filter(|(c, m)| c.decision == CaseDecision::Confirmed && !**m).count() as u64;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_textbook_two_by_two() {
        // 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no (Wikipedia example): kappa = 0.4.
        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n(("yes", "yes"), 20));
        pairs.extend(std::iter::repeat_n(("yes", "no"), 5));
        pairs.extend(std::iter::repeat_n(("no", "yes"), 10));
        pairs.extend(std::iter::repeat_n(("no", "no"), 15));
        let k = cohen_kappa(&pairs, 0.95).unwrap();
        assert!((k.observed_agreement - 0.7).abs() < 1e-12);
        assert!((k.expected_agreement - 0.5).abs() < 1e-12);
        assert!((k.kappa.unwrap() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn kappa_single_category_is_na() {
        let k = cohen_kappa(&[("confirmed", "confirmed"), ("confirmed", "confirmed")], 0.95).unwrap();
        assert_eq!(k.kappa, None);
        assert!(k.na_reason.unwrap().contains("undefined"));
        assert!(cohen_kappa(&[], 0.95).is_err());
    }

    #[test]
    fn matching_takes_the_closest_case_within_the_window() {
        use CaseDecision::*;
        let cases = [
            AdjudicatedCase { patient: 1, onset: 100, decision: Rejected },
            AdjudicatedCase { patient: 1, onset: 110, decision: Confirmed },
            AdjudicatedCase { patient: 2, onset: 50, decision: Uncertain },
            AdjudicatedCase { patient: 3, onset: 10, decision: Confirmed },
        ];
        // (1,106) -> 110 (4 days) over 100 (6 days); (1,105) -> tie 5/5 -> the earlier (100);
        // (1,118) -> 110 (8 days) outside 7; (2,57) -> uncertain; (4,10) -> no case.
        let e = |patient, onset| EpisodeRef { patient, onset, review_onset: onset };
        let eps = [e(1, 106), e(1, 105), e(1, 118), e(2, 57), e(4, 10)];
        let c = match_episodes(&eps, &cases, 7).unwrap();
        assert_eq!(
            c,
            PpvCounts {
                episodes: 5,
                confirmed: 1,
                rejected: 1,
                uncertain: 1,
                disagreement: 0,
                not_adjudicated: 2,
                confirmed_cases_missed: 1
            }
        );
        assert!((c.ppv(0.95).unwrap().estimate - 0.5).abs() < 1e-15);
        assert!(match_episodes(&eps, &cases, -1).is_err());
        assert!(match_episodes(&[e(4, 10)], &cases, 7).unwrap().ppv(0.95).is_err());
    }

    #[test]
    fn matching_uses_the_review_onset_of_merged_episodes() {
        let cases = [AdjudicatedCase { patient: 3, onset: 10, decision: CaseDecision::Confirmed }];
        // Onset 25 is 15 days after the case, but the episode was reviewed under onset 10.
        let merged = EpisodeRef { patient: 3, onset: 25, review_onset: 10 };
        let c = match_episodes(&[merged], &cases, 7).unwrap();
        assert_eq!((c.confirmed, c.not_adjudicated, c.confirmed_cases_missed), (1, 0, 0));
        let alone = EpisodeRef { patient: 3, onset: 25, review_onset: 25 };
        let c = match_episodes(&[alone], &cases, 7).unwrap();
        assert_eq!((c.confirmed, c.not_adjudicated, c.confirmed_cases_missed), (0, 1, 1));
    }

    #[test]
    fn consensus() {
        use CaseDecision::*;
        assert_eq!(CaseDecision::consensus(&[Confirmed, Confirmed]), Some(Confirmed));
        assert_eq!(CaseDecision::consensus(&[Confirmed, Rejected]), Some(Disagreement));
        assert_eq!(CaseDecision::consensus(&[]), None);
    }
}
