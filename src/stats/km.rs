//! Kaplan–Meier survival curves and Nelson–Aalen cumulative hazards, computed
//! exactly as R `survival` 3.5 `survfit(Surv(time, status) ~ group)` does.
//!
//! * One row per distinct time of a group (events and censorings), no time-0 row.
//!   Times closer than sqrt(eps) are ties, as with R's default `timefix = TRUE`.
//! * `std_err` is R's `fit$std.err`: the Greenwood SE of log S(t); the SE of S
//!   itself (what `summary(fit)` prints) is `std_err_surv = surv * std_err`.
//! * Confidence intervals follow `survfit`'s `conf.type` ("log" default,
//!   "log-log", "plain").
//! * The median and its CI follow `print.survfit` (tolerance sqrt(eps) and the
//!   midpoint rule); the 25/50/75% quantiles follow `quantile.survfit`, which
//!   differs from `print` when the curve stays at exactly 0.5 to the end.
//! * The restricted mean (RMST) and its SE follow `print(fit, rmean = tau)`.
//! * The Nelson–Aalen hazard carried in each row is survfit's default
//!   (`ctype = 1`); [`nelson_aalen`] also offers the Fleming–Harrington tie
//!   correction (`ctype = 2`).
//!
//! Times are tabulated once per group: counted in bounded hash tables when
//! there are few distinct times (day-resolution registry data), otherwise
//! sorted as the bit patterns of the non-negative doubles; groups are fitted in
//! parallel.

use std::fmt;

use std::str::FromStr;

use rayon::prelude::*;
use serde::Serialize;

use super::dist::z_for_level;
use super::error::{check_len, check_times, StatsError, StatsResult};
use super::groups::Grouping;
use crate::table::{Cell, ResultTable};

/// R's `sqrt(.Machine$double.eps)` = 2^-26, the tolerance `print.survfit` and
/// `quantile.survfit` use when comparing a survival value with 0.5.
pub const R_TOLERANCE: f64 = 1.4901161193847656e-8;

/// The quantiles reported in every [`KmCurve`] (R's `quantile(fit)` default).
pub const DEFAULT_PROBS: [f64; 3] = [0.25, 0.5, 0.75];

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// Transformation used for the pointwise confidence interval of S(t)
/// (`survfit(..., conf.type = )`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum ConfType {
    /// `"log"` (R's default): S·exp(∓z·se), upper limit cut at 1.
    #[default]
    #[serde(rename = "log")]
    Log,
    /// `"log-log"`: exp(−exp(log(−log S) ∓ z·se/log S)); NA where S = 0 or 1.
    #[serde(rename = "log-log")]
    LogLog,
    /// `"plain"`: S ∓ z·S·se, clipped to [0, 1].
    #[serde(rename = "plain")]
    Plain,
}

impl ConfType {
    /// The R spelling: `"log"`, `"log-log"` or `"plain"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfType::Log => "log",
            ConfType::LogLog => "log-log",
            ConfType::Plain => "plain",
        }
    }
}

impl fmt::Display for ConfType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConfType {
    type Err = StatsError;

    /// Parses the R names `"log"`, `"log-log"` and `"plain"` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "log" => Ok(ConfType::Log),
            "log-log" => Ok(ConfType::LogLog),
            "plain" => Ok(ConfType::Plain),
            other => Err(StatsError::InvalidInput {
                column: "conf_type".to_string(),
                message: format!("expected one of \"log\", \"log-log\", \"plain\", found \"{other}\""),
            }),
        }
    }
}

/// Options of [`kaplan_meier`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmOptions {
    /// Confidence-interval transformation (default [`ConfType::Log`]).
    pub conf_type: ConfType,
    /// Confidence level, strictly between 0 and 1 (default 0.95).
    pub conf_level: f64,
    /// Upper limit tau of the restricted mean survival time; `None` computes no RMST.
    pub rmst_tau: Option<f64>,
}

impl Default for KmOptions {
    fn default() -> Self {
        KmOptions { conf_type: ConfType::Log, conf_level: 0.95, rmst_tau: None }
    }
}

// ---------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------

/// One row of a Kaplan–Meier curve: one distinct time (event or censoring).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmRow {
    /// Time.
    pub time: f64,
    /// Number at risk just before `time`.
    pub n_risk: usize,
    /// Events at `time`.
    pub n_event: usize,
    /// Censorings at `time`.
    pub n_censor: usize,
    /// Kaplan–Meier survival, right-continuous at `time`.
    pub surv: f64,
    /// Greenwood SE of log S(t) (R `fit$std.err`); `None` when infinite (once S = 0).
    pub std_err: Option<f64>,
    /// SE of S(t) itself, `surv * std_err` (what `summary(fit)` prints); `None` once S = 0.
    pub std_err_surv: Option<f64>,
    /// Lower confidence limit; `None` where R gives NA.
    pub lower: Option<f64>,
    /// Upper confidence limit; `None` where R gives NA.
    pub upper: Option<f64>,
    /// Nelson–Aalen cumulative hazard, Σ d/n (survfit `ctype = 1`).
    pub cumhaz: f64,
    /// SE of the cumulative hazard, sqrt(Σ d/n²) (R `fit$std.chaz`).
    pub std_chaz: f64,
}

/// A survival-time quantile with its confidence interval (R `quantile(fit)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmQuantile {
    /// Probability p: the quantile is the time at which S falls to 1 − p.
    pub prob: f64,
    /// Quantile; `None` if the curve never reaches 1 − p.
    pub time: Option<f64>,
    /// Lower confidence limit (from the lower CI curve); `None` if not reached.
    pub lower: Option<f64>,
    /// Upper confidence limit (from the upper CI curve); `None` if not reached.
    pub upper: Option<f64>,
}

/// The Kaplan–Meier fit of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmCurve {
    /// Group label.
    pub group: String,
    /// Subjects in the group.
    pub n: usize,
    /// Events in the group.
    pub events: usize,
    /// One row per distinct time, ascending.
    pub rows: Vec<KmRow>,
    /// Median survival as `print.survfit` reports it; `None` if not reached.
    pub median: Option<f64>,
    /// Lower confidence limit of the median (`0.95LCL`); `None` if not reached.
    pub median_lower: Option<f64>,
    /// Upper confidence limit of the median (`0.95UCL`); `None` if not reached.
    pub median_upper: Option<f64>,
    /// 25%, 50% and 75% quantiles as `quantile.survfit` computes them.
    pub quantiles: Vec<KmQuantile>,
    /// Restricted mean survival `(rmst, se, tau)` as `print(fit, rmean = tau)`;
    /// `None` when no tau was requested.
    pub rmst: Option<(f64, f64, f64)>,
}

/// Kaplan–Meier curves of all groups, in group-level order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    /// One curve per group level.
    pub curves: Vec<KmCurve>,
    /// Options used.
    pub options: KmOptions,
}

// ---------------------------------------------------------------------------
// Input validation and tabulation (shared with the log-rank test)
// ---------------------------------------------------------------------------

/// Validates `time`, `event` and a grouping of the same length.
pub(crate) fn validate_inputs(time: &[f64], event: &[bool], groups: &Grouping, column: &str) -> StatsResult<()> {
    check_len("event", event.len(), time.len())?;
    check_len(column, groups.codes.len(), time.len())?;
    check_times("time", time)?;
    check_codes(groups, column)
}

/// Checks that every code indexes a label.
pub(crate) fn check_codes(groups: &Grouping, column: &str) -> StatsResult<()> {
    let k = groups.labels.len();
    if let Some(row) = groups.codes.iter().position(|&c| c >= k) {
        return Err(StatsError::InvalidInput {
            column: column.to_string(),
            message: format!("row {}: level code {} is out of range ({k} levels)", row + 1, groups.codes[row]),
        });
    }
    Ok(())
}

/// Distinct times of one set of subjects with their event and censoring counts, ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TimeTable {
    /// Subjects.
    pub n: usize,
    /// Distinct times, strictly ascending.
    pub times: Vec<f64>,
    /// Events at each time.
    pub n_event: Vec<usize>,
    /// Censorings at each time.
    pub n_censor: Vec<usize>,
}

/// Sort key of a finite time >= 0: its bit pattern, monotone for non-negative
/// doubles (−0 is mapped to +0).
#[inline]
fn time_key(t: f64) -> u64 {
    if t == 0.0 {
        0
    } else {
        t.to_bits()
    }
}

/// Splits the subjects into `n_cells` cells (`cell_of(row)` < `n_cells`) and
/// returns, per cell, the sort keys of its event times and of its censoring times.
pub(crate) fn split_keys(
    time: &[f64],
    event: &[bool],
    n_cells: usize,
    cell_of: &impl Fn(usize) -> usize,
) -> Vec<(Vec<u64>, Vec<u64>)> {
    let mut n_ev = vec![0usize; n_cells];
    let mut n_ce = vec![0usize; n_cells];
    for (i, &e) in event.iter().enumerate() {
        if e {
            n_ev[cell_of(i)] += 1;
        } else {
            n_ce[cell_of(i)] += 1;
        }
    }
    let mut out: Vec<(Vec<u64>, Vec<u64>)> =
        (0..n_cells).map(|c| (Vec::with_capacity(n_ev[c]), Vec::with_capacity(n_ce[c]))).collect();
    for (i, (&t, &e)) in time.iter().zip(event.iter()).enumerate() {
        let cell = &mut out[cell_of(i)];
        if e {
            cell.0.push(time_key(t));
        } else {
            cell.1.push(time_key(t));
        }
    }
    out
}

/// Sorts the event and censoring keys of one cell and counts them per distinct time.
pub(crate) fn tabulate(mut ev: Vec<u64>, mut ce: Vec<u64>) -> TimeTable {
    let n = ev.len() + ce.len();
    rayon::join(|| ev.sort_unstable(), || ce.sort_unstable());
    let mut tab = TimeTable { n, ..TimeTable::default() };
    let (mut i, mut j) = (0usize, 0usize);
    while i < ev.len() || j < ce.len() {
        let k = match (ev.get(i), ce.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let i0 = i;
        while i < ev.len() && ev[i] == k {
            i += 1;
        }
        let j0 = j;
        while j < ce.len() && ce[j] == k {
            j += 1;
        }
        tab.times.push(f64::from_bits(k));
        tab.n_event.push(i - i0);
        tab.n_censor.push(j - j0);
    }
    tab
}

/// Tabulates each level of `groups`. Inputs must be validated.
pub(crate) fn tabulate_groups(time: &[f64], event: &[bool], groups: &Grouping) -> Vec<TimeTable> {
    let codes = &groups.codes;
    tabulate_cells(time, event, groups.labels.len(), |i| codes[i])
}

/// Tabulates the subjects of every cell (`cell_of(row)` < `n_cells`), one
/// [`TimeTable`] per cell. Day-resolution data (few distinct times) are counted
/// in bounded hash tables over parallel chunks; when there are too many distinct
/// (cell, time) pairs the keys are split per cell and sorted in parallel.
pub(crate) fn tabulate_cells(
    time: &[f64],
    event: &[bool],
    n_cells: usize,
    cell_of: impl Fn(usize) -> usize + Sync,
) -> Vec<TimeTable> {
    if let Some(tables) = tabulate_by_hash(time, event, n_cells, &cell_of) {
        return tables;
    }
    split_keys(time, event, n_cells, &cell_of).into_par_iter().map(|(ev, ce)| tabulate(ev, ce)).collect()
}

/// R's `timefix` (`aeqSurv`, on by default in `survfit` and `survdiff`) on
/// tabulated times: distinct times closer than sqrt(machine eps), absolutely or
/// relative to the mean of the distinct times of all `tables`, are ties. Each
/// run of such times takes its smallest value and the counts are summed, so
/// floating-point noise (0.1 + 0.2 vs 0.3, a time minus a landmark) does not
/// split a tie. Cost when nothing is tied: one merge of the sorted time lists.
pub(crate) fn merge_near_ties(tables: &mut [TimeTable]) {
    let mut y: Vec<f64> = tables.iter().flat_map(|t| t.times.iter().copied()).collect();
    // each table is sorted: the stable sort merges the runs
    y.sort_by(f64::total_cmp);
    y.dedup();
    if y.len() < 2 {
        return;
    }
    let mean_abs = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    let tied = |a: f64, b: f64| {
        let dy = b - a;
        dy <= R_TOLERANCE || dy / mean_abs <= R_TOLERANCE
    };
    if !y.windows(2).any(|w| tied(w[0], w[1])) {
        return;
    }
    let mut cuts = vec![y[0]];
    cuts.extend(y.windows(2).filter(|w| !tied(w[0], w[1])).map(|w| w[1]));
    for tab in tables.iter_mut() {
        let mut merged = TimeTable { n: tab.n, ..TimeTable::default() };
        for k in 0..tab.times.len() {
            let c = cuts.partition_point(|&c| c <= tab.times[k]);
            let t = cuts[c.saturating_sub(1)];
            if merged.times.last() == Some(&t) {
                if let (Some(e), Some(c)) = (merged.n_event.last_mut(), merged.n_censor.last_mut()) {
                    *e += tab.n_event[k];
                    *c += tab.n_censor[k];
                }
            } else {
                merged.times.push(t);
                merged.n_event.push(tab.n_event[k]);
                merged.n_censor.push(tab.n_censor[k]);
            }
        }
        *tab = merged;
    }
}

/// Open-addressing count table keyed by (cell, time key), bounded in size.
struct CountTable {
    slots: Vec<Slot>,
    len: usize,
    /// Maximum number of entries (at most half the slots).
    cap: usize,
    /// log2 of the number of slots.
    bits: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    cell: u32,
    d: u32,
    c: u32,
}

/// Time keys are < 0x7FF0_0000_0000_0000 (finite, non-negative), so this marks a free slot.
const FREE: u64 = u64::MAX;
/// At most this many distinct (cell, time) pairs are hash-counted.
const HASH_CAP: usize = 1 << 16;
/// Rows per chunk: counts per chunk fit in u32.
const HASH_CHUNK: usize = 1 << 20;

impl CountTable {
    /// A table for a chunk of `rows` rows (it cannot hold more distinct pairs than rows).
    fn for_rows(rows: usize) -> Self {
        let cap = rows.clamp(1, HASH_CAP);
        let size = (2 * cap).next_power_of_two().max(16);
        let slots = vec![Slot { key: FREE, cell: 0, d: 0, c: 0 }; size];
        CountTable { slots, len: 0, cap, bits: size.trailing_zeros() }
    }

    #[inline]
    fn slot_of(&self, key: u64, cell: u32) -> usize {
        // murmur3 fmix64 of the key mixed with the cell.
        let mut h = key ^ (cell as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^= h >> 33;
        (h >> (64 - self.bits)) as usize
    }

    /// Adds `d` events and `c` censorings; `false` when the table is full.
    #[inline]
    fn add(&mut self, cell: u32, key: u64, d: u32, c: u32) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(key, cell);
        loop {
            let s = &mut self.slots[i];
            if s.key == key && s.cell == cell {
                s.d += d;
                s.c += c;
                return true;
            }
            if s.key == FREE {
                if self.len >= self.cap {
                    return false;
                }
                *s = Slot { key, cell, d, c };
                self.len += 1;
                return true;
            }
            i = (i + 1) & mask;
        }
    }
}

/// Hash counting of (cell, time) pairs; `None` when there are too many distinct pairs.
fn tabulate_by_hash(
    time: &[f64],
    event: &[bool],
    n_cells: usize,
    cell_of: &(impl Fn(usize) -> usize + Sync),
) -> Option<Vec<TimeTable>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if n_cells > u32::MAX as usize {
        return None;
    }
    let n = time.len();
    let full = AtomicBool::new(false);
    let starts: Vec<usize> = (0..n).step_by(HASH_CHUNK).collect();
    let chunks: Option<Vec<CountTable>> = starts
        .into_par_iter()
        .map(|start| {
            let end = (start + HASH_CHUNK).min(n);
            let mut tab = CountTable::for_rows(end - start);
            for i in start..end {
                if i % 4096 == 0 && full.load(Ordering::Relaxed) {
                    return None;
                }
                let e = event[i] as u32;
                if !tab.add(cell_of(i) as u32, time_key(time[i]), e, 1 - e) {
                    full.store(true, Ordering::Relaxed);
                    return None;
                }
            }
            Some(tab)
        })
        .collect();
    let chunks = chunks?;
    // Merge the chunk tables (counts as usize: the total may exceed u32).
    let mut merged: std::collections::HashMap<(u32, u64), (usize, usize)> = std::collections::HashMap::new();
    for tab in &chunks {
        for s in tab.slots.iter().filter(|s| s.key != FREE) {
            let e = merged.entry((s.cell, s.key)).or_insert((0, 0));
            e.0 += s.d as usize;
            e.1 += s.c as usize;
        }
        if merged.len() > HASH_CAP {
            return None;
        }
    }
    let mut entries: Vec<((u32, u64), (usize, usize))> = merged.into_iter().collect();
    entries.sort_unstable_by_key(|e| e.0);
    let mut tables: Vec<TimeTable> = (0..n_cells).map(|_| TimeTable::default()).collect();
    for ((cell, key), (d, c)) in entries {
        let t = &mut tables[cell as usize];
        t.n += d + c;
        t.times.push(f64::from_bits(key));
        t.n_event.push(d);
        t.n_censor.push(c);
    }
    Some(tables)
}

fn empty_group_error(label: &str) -> StatsError {
    StatsError::Empty(format!("group `{label}` has no rows"))
}

// ---------------------------------------------------------------------------
// Kaplan–Meier
// ---------------------------------------------------------------------------

/// Fits a Kaplan–Meier curve per level of `groups` (use `Grouping::single(n, "all")`
/// for one overall curve), as `survfit(Surv(time, event) ~ group, conf.type = ...)`.
///
/// Errors: mismatched lengths, a time that is negative / not finite, a group code
/// out of range, a group level with no rows ([`StatsError::Empty`] naming it), a
/// confidence level outside (0, 1), or an RMST tau that is not finite or lies
/// before the smallest time (R: "Truncation point for the mean is < smallest survival").
pub fn kaplan_meier(time: &[f64], event: &[bool], groups: &Grouping, opts: &KmOptions) -> StatsResult<KaplanMeier> {
    validate_inputs(time, event, groups, "group")?;
    if !(opts.conf_level > 0.0 && opts.conf_level < 1.0) {
        return Err(StatsError::InvalidInput {
            column: "conf_level".to_string(),
            message: format!("must be strictly between 0 and 1, found {}", opts.conf_level),
        });
    }
    if let Some(tau) = opts.rmst_tau {
        if !tau.is_finite() {
            return Err(StatsError::InvalidInput {
                column: "rmst_tau".to_string(),
                message: format!("must be a finite number, found {tau}"),
            });
        }
    }
    let mut tables = tabulate_groups(time, event, groups);
    merge_near_ties(&mut tables);
    if let Some(g) = tables.iter().position(|t| t.n == 0) {
        return Err(empty_group_error(&groups.labels[g]));
    }
    if let Some(tau) = opts.rmst_tau {
        let min_time = tables.iter().map(|t| t.times[0]).fold(f64::INFINITY, f64::min);
        if tau < min_time {
            return Err(StatsError::InvalidInput {
                column: "rmst_tau".to_string(),
                message: format!("restriction time {tau} is before the smallest survival time {min_time}"),
            });
        }
    }
    let z = z_for_level(opts.conf_level);
    let curves =
        tables.into_par_iter().zip(groups.labels.par_iter()).map(|(tab, label)| fit_curve(&tab, label, opts, z)).collect();
    Ok(KaplanMeier { curves, options: opts.clone() })
}

/// Confidence limits of S as R's `survfit_confint` (logse = TRUE, scale = 1).
fn conf_limits(s: f64, se: f64, z: f64, conf_type: ConfType) -> (Option<f64>, Option<f64>) {
    let keep = |v: f64| if v.is_finite() { Some(v) } else { None };
    match conf_type {
        ConfType::Plain => {
            let se2 = se * s * z;
            if se2.is_nan() {
                // S = 0 with se = Inf: R's pmax/pmin propagate the NaN as NA.
                return (None, None);
            }
            (keep((s - se2).max(0.0)), keep((s + se2).min(1.0)))
        }
        ConfType::Log => {
            if s == 0.0 {
                return (None, None);
            }
            let se2 = z * se;
            (keep((s.ln() - se2).exp()), keep((s.ln() + se2).exp().min(1.0)))
        }
        ConfType::LogLog => {
            if s == 0.0 || s == 1.0 {
                return (None, None);
            }
            let se2 = z * se / s.ln();
            let ll = (-s.ln()).ln();
            (keep((-(ll - se2).exp()).exp()), keep((-(ll + se2).exp()).exp()))
        }
    }
}

fn fit_curve(tab: &TimeTable, label: &str, opts: &KmOptions, z: f64) -> KmCurve {
    let mut rows = Vec::with_capacity(tab.times.len());
    let mut at_risk = tab.n;
    let (mut km, mut v1, mut nelson, mut v2) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut events = 0usize;
    for ((&t, &d), &c) in tab.times.iter().zip(&tab.n_event).zip(&tab.n_censor) {
        let nrisk = at_risk as f64;
        let d1 = d as f64;
        if d > 0 {
            // survfitkm.c, type 1: KM survival and Nelson–Aalen hazard.
            nelson += d1 / nrisk;
            v2 += d1 / (nrisk * nrisk);
            km *= (nrisk - d1) / nrisk;
            v1 += d1 / (nrisk * (nrisk - d1));
        }
        let se = v1.sqrt();
        let (lower, upper) = conf_limits(km, se, z, opts.conf_type);
        let std_err = if se.is_finite() { Some(se) } else { None };
        let std_err_surv = std_err.map(|e| e * km);
        rows.push(KmRow {
            time: t,
            n_risk: at_risk,
            n_event: d,
            n_censor: c,
            surv: km,
            std_err,
            std_err_surv,
            lower,
            upper,
            cumhaz: nelson,
            std_chaz: v2.sqrt(),
        });
        events += d;
        at_risk -= d + c;
    }
    let median = minmin(rows.iter().map(|r| (Some(r.surv), r.time)));
    let median_lower = minmin(rows.iter().map(|r| (r.lower, r.time)));
    let median_upper = minmin(rows.iter().map(|r| (r.upper, r.time)));
    let rmst = opts.rmst_tau.map(|tau| {
        let (m, se) = rmst_of(&rows, tau);
        (m, se, tau)
    });
    let mut curve = KmCurve {
        group: label.to_string(),
        n: tab.n,
        events,
        rows,
        median,
        median_lower,
        median_upper,
        quantiles: Vec::new(),
        rmst,
    };
    curve.quantiles = curve.quantile(&DEFAULT_PROBS);
    curve
}

/// `print.survfit`'s `minmin`: the first x whose y is below 0.5 (+ tolerance),
/// the midpoint with the next drop if y equals 0.5 within the tolerance.
/// Takes `(y, x)` pairs in time order.
fn minmin(points: impl Iterator<Item = (Option<f64>, f64)>) -> Option<f64> {
    let tol = R_TOLERANCE;
    let mut kept = points.filter_map(|(y, x)| y.filter(|&v| v < 0.5 + tol).map(|v| (v, x)));
    let (y1, x1) = kept.next()?;
    if (y1 - 0.5).abs() < tol {
        if let Some((_, x2)) = kept.find(|&(v, _)| v < y1) {
            return Some((x1 + x2) / 2.0);
        }
    }
    Some(x1)
}

/// Restricted mean and its SE, as `survmean` in R's print.survfit.R.
fn rmst_of(rows: &[KmRow], end_time: f64) -> (f64, f64) {
    let keep = rows.partition_point(|r| r.time <= end_time);
    let (temptime, tempsurv, hh): (Vec<f64>, Vec<f64>, Vec<f64>) = if keep == 0 {
        (vec![end_time], vec![1.0], vec![0.0])
    } else {
        let mut tt: Vec<f64> = rows[..keep].iter().map(|r| r.time).collect();
        tt.push(end_time);
        let mut ts: Vec<f64> = rows[..keep].iter().map(|r| r.surv).collect();
        ts.push(rows[keep - 1].surv);
        let mut h: Vec<f64> = rows[..keep]
            .iter()
            .map(|r| {
                let (n, d) = (r.n_risk as f64, r.n_event as f64);
                if n - d == 0.0 {
                    0.0
                } else {
                    d / (n * (n - d))
                }
            })
            .collect();
        h.push(0.0);
        (tt, ts, h)
    };
    let n = temptime.len();
    // rectangles[k] = (t_k - t_{k-1}) * S(t_{k-1}), with t_{-1} = 0 and S = 1 there.
    let mut rect = Vec::with_capacity(n);
    let mut prev_t = 0.0;
    for k in 0..n {
        let s_prev = if k == 0 { 1.0 } else { tempsurv[k - 1] };
        rect.push((temptime[k] - prev_t) * s_prev);
        prev_t = temptime[k];
    }
    // varmean = sum(cumsum(rev(rect[-1]))^2 * rev(hh)[-1])
    let mut varmean = 0.0;
    let mut cum = 0.0;
    for m in 1..n {
        cum += rect[n - m];
        varmean += cum * cum * hh[n - 1 - m];
    }
    let mean: f64 = rect.iter().sum();
    (mean, varmean.sqrt())
}

/// `quantile.survfit`'s `findq` on the points `at(0..n)` = (x, y) with
/// x = c(0, time), y = c(0, 1 − curve), without copying the curve (see
/// [`FindqScan`]; [`KmCurve::quantile`] drives three scans in one pass).
#[cfg(test)]
fn findq(n: usize, at: impl Fn(usize) -> (f64, Option<f64>), probs: &[f64], tol: f64) -> Vec<Option<f64>> {
    let mut scan = FindqScan::new(probs.len());
    for i in 0..n {
        let (x, y) = at(i);
        scan.push(i, x, y, probs, tol);
    }
    scan.finish(n, at, probs, tol)
}

/// Streaming state of `findq` for one curve. The forward scan finds, per
/// probability and tolerance shift, the first point with the smallest
/// y + shift >= p (what `approx(..., "constant", f = 1)` returns after
/// `duplicated()` and sorting) and, for a non-decreasing curve, its last
/// non-duplicated point; otherwise a short backward walk finds that point. Rare
/// configurations (distinct y values that collide after the shift, long
/// repeated tails of a non-monotone curve) use [`findq_materialized`].
struct FindqScan {
    /// Per shift (+tol, −tol): min and max of y + shift.
    lo: [f64; 2],
    hi: [f64; 2],
    /// Per probability and shift: (y + shift, x, y) of the best point so far.
    best: Vec<[Option<(f64, f64, f64)>; 2]>,
    ymax: f64,
    collision: bool,
    /// The non-NA values never decrease.
    monotone: bool,
    /// Index of the point that last raised the running maximum.
    max_at: usize,
    first_na: Option<usize>,
}

impl FindqScan {
    const SHIFT_SIGNS: [f64; 2] = [1.0, -1.0];

    fn new(n_probs: usize) -> Self {
        FindqScan {
            lo: [f64::INFINITY; 2],
            hi: [f64::NEG_INFINITY; 2],
            best: vec![[None, None]; n_probs],
            ymax: f64::NEG_INFINITY,
            collision: false,
            monotone: true,
            max_at: 0,
            first_na: None,
        }
    }

    #[inline]
    fn push(&mut self, i: usize, x: f64, y: Option<f64>, probs: &[f64], tol: f64) {
        let Some(y) = y else {
            self.first_na.get_or_insert(i);
            return;
        };
        if y > self.ymax {
            self.ymax = y;
            self.max_at = i;
        } else if y < self.ymax {
            self.monotone = false;
        }
        for (k, sign) in Self::SHIFT_SIGNS.iter().enumerate() {
            let v = y + sign * tol;
            self.lo[k] = self.lo[k].min(v);
            self.hi[k] = self.hi[k].max(v);
            for (b, &p) in self.best.iter_mut().zip(probs) {
                if v >= p {
                    match b[k] {
                        Some((bv, _, _)) if v > bv => {}
                        Some((bv, _, by)) if v == bv => self.collision |= y != by,
                        _ => b[k] = Some((v, x, y)),
                    }
                }
            }
        }
    }

    fn finish(self, n: usize, at: impl Fn(usize) -> (f64, Option<f64>), probs: &[f64], tol: f64) -> Vec<Option<f64>> {
        let pmin = probs.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        if self.ymax < pmin {
            return vec![None; probs.len()];
        }
        let last = if self.collision {
            None
        } else if self.monotone {
            // The last first occurrence is either the maximum's or the first NA.
            Some(match self.first_na {
                Some(na) if na > self.max_at => None,
                _ => Some(self.ymax),
            })
        } else {
            last_unique(n, &at)
        };
        let Some(last) = last else {
            let (x, y): (Vec<f64>, Vec<Option<f64>>) = (0..n).map(&at).unzip();
            return findq_materialized(&x, &y, probs, tol);
        };
        let xmax = at(n - 1).0;
        let (lo, hi) = (self.lo, self.hi);
        let pick = |b: &Option<(f64, f64, f64)>, k: usize, p: f64| {
            if p.is_nan() || p < lo[k] || p > hi[k] {
                None
            } else {
                b.map(|(_, x, _)| x)
            }
        };
        probs
            .iter()
            .zip(&self.best)
            .map(|(&p, b)| {
                let x1 = pick(&b[0], 0, p);
                // As in R: the end-of-curve rule overrides the p = 0 rule, which overrides the midpoint.
                if let Some(yn) = last {
                    if (p - yn).abs() < tol {
                        return x1.map(|a| (a + xmax) / 2.0);
                    }
                }
                if p == 0.0 {
                    return Some(at(0).0);
                }
                match (x1, pick(&b[1], 1, p)) {
                    (Some(a), Some(b)) => Some((a + b) / 2.0),
                    _ => None,
                }
            })
            .collect()
    }
}

/// The y value of the last point that is not a duplicate of an earlier one
/// (`y[n]` after `y[!duplicated(y)]`): `Some(Some(v))`, `Some(None)` for NA, or
/// `None` when that takes more than a few backward steps (caller falls back).
fn last_unique(n: usize, at: &impl Fn(usize) -> (f64, Option<f64>)) -> Option<Option<f64>> {
    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    let mut end = n;
    for _ in 0..4 {
        if end == 0 {
            return None;
        }
        // The final run of equal values in 0..end starts at `start`.
        let v = at(end - 1).1;
        let mut start = end - 1;
        while start > 0 && same(at(start - 1).1, v) {
            start -= 1;
        }
        if !(0..start).any(|i| same(at(i).1, v)) {
            return Some(v);
        }
        end = start;
    }
    None
}

/// `findq` on materialized, possibly unordered curves (exact R semantics).
fn findq_materialized(x: &[f64], y: &[Option<f64>], probs: &[f64], tol: f64) -> Vec<Option<f64>> {
    let ymax = y.iter().flatten().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let pmin = probs.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    if ymax < pmin {
        return vec![None; probs.len()];
    }
    let xmax = x[x.len() - 1];
    let (xs, ys) = dedup_curve(x, y);
    let n = ys.len();
    let index1 = approx_constant_right(&ys, tol, probs);
    let index2 = approx_constant_right(&ys, -tol, probs);
    let at = |i: Option<usize>| i.map(|i| xs[i]);
    let mut quant: Vec<Option<f64>> = index1
        .iter()
        .zip(&index2)
        .map(|(&a, &b)| match (at(a), at(b)) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            _ => None,
        })
        .collect();
    for (q, &p) in quant.iter_mut().zip(probs) {
        if p == 0.0 {
            *q = Some(xs[0]);
        }
    }
    if let Some(yn) = ys[n - 1] {
        for ((q, &p), &i1) in quant.iter_mut().zip(probs).zip(&index1) {
            if (p - yn).abs() < tol {
                *q = at(i1).map(|a| (a + xmax) / 2.0);
            }
        }
    }
    quant
}

/// R's `!duplicated(y)` filter applied to `(x, y)`: the first occurrence of each
/// value is kept (NA counts as one value; 0 and −0 are equal). Values above the
/// running maximum are new; a value below it is looked up among the earlier
/// maxima (sorted: binary search) and the earlier out-of-order values (hash set),
/// so monotone curves need no hashing at all.
fn dedup_curve(x: &[f64], y: &[Option<f64>]) -> (Vec<f64>, Vec<Option<f64>>) {
    let mut xs = Vec::with_capacity(x.len());
    let mut ys = Vec::with_capacity(y.len());
    let mut maxima: Vec<f64> = Vec::new();
    let mut others = std::collections::HashSet::new();
    let mut seen_na = false;
    for (&xv, &yv) in x.iter().zip(y) {
        let keep = match yv {
            None => !std::mem::replace(&mut seen_na, true),
            Some(v) => {
                let v = if v == 0.0 { 0.0 } else { v };
                match maxima.last() {
                    Some(&m) if v == m => false,
                    Some(&m) if v < m => maxima.binary_search_by(|p| p.total_cmp(&v)).is_err() && others.insert(v.to_bits()),
                    _ => {
                        maxima.push(v);
                        true
                    }
                }
            }
        };
        if keep {
            xs.push(xv);
            ys.push(yv);
        }
    }
    (xs, ys)
}

/// `approx(y + shift, seq_along(y), v, method = "constant", f = 1)$y` (0-based
/// result): NA pairs removed, points sorted by x (ties collapsed to the mean
/// index, which R then truncates when subscripting), NA outside the range,
/// otherwise the index of the smallest x >= v.
fn approx_constant_right(y: &[Option<f64>], shift: f64, v: &[f64]) -> Vec<Option<usize>> {
    let mut pts: Vec<(f64, usize)> = y.iter().enumerate().filter_map(|(i, &yv)| yv.map(|yv| (yv + shift, i + 1))).collect();
    if !pts.windows(2).all(|w| w[0].0 <= w[1].0) {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    v.iter()
        .map(|&p| {
            let (first, last) = (pts.first()?, pts.last()?);
            if p.is_nan() || p < first.0 || p > last.0 {
                return None;
            }
            let k = pts.partition_point(|r| r.0 < p);
            // Tied x values are collapsed to the mean of their indices (regularize.values).
            let k2 = k + pts[k..].partition_point(|r| r.0 == pts[k].0);
            let mean = pts[k..k2].iter().map(|r| r.1 as f64).sum::<f64>() / (k2 - k) as f64;
            // R subscripts with the (possibly fractional) 1-based index: truncation.
            (mean.trunc() as usize).checked_sub(1)
        })
        .collect()
}

impl KmCurve {
    /// Survival-time quantiles with their CIs, as `quantile.survfit(fit, probs)`:
    /// the time at which S falls to 1 − p (midpoint of a flat exactly at 1 − p,
    /// and the midpoint with the last follow-up time if the flat reaches the end).
    /// A probability outside [0, 1] gives `None` everywhere.
    pub fn quantile(&self, probs: &[f64]) -> Vec<KmQuantile> {
        let n = self.rows.len() + 1;
        let rows = &self.rows;
        // Point i of x = c(0, time), y = c(0, 1 - curve) for the curve, its lower and its upper limit.
        let point = |f: fn(&KmRow) -> Option<f64>| {
            move |i: usize| {
                if i == 0 {
                    (0.0, Some(0.0))
                } else {
                    let r = &rows[i - 1];
                    (r.time, f(r).map(|s| 1.0 - s))
                }
            }
        };
        let (fs, fl, fu) = (point(|r| Some(r.surv)), point(|r| r.lower), point(|r| r.upper));
        let valid: Vec<bool> = probs.iter().map(|&p| (0.0..=1.0).contains(&p)).collect();
        let ok: Vec<f64> = probs.iter().zip(&valid).filter(|(_, &v)| v).map(|(&p, _)| p).collect();
        let (q, lo, up) = if ok.is_empty() {
            (vec![], vec![], vec![])
        } else {
            // One pass over the rows for the three curves.
            let tol = R_TOLERANCE;
            let mut scans = [FindqScan::new(ok.len()), FindqScan::new(ok.len()), FindqScan::new(ok.len())];
            for i in 0..n {
                let (x, y) = fs(i);
                scans[0].push(i, x, y, &ok, tol);
                scans[1].push(i, x, fl(i).1, &ok, tol);
                scans[2].push(i, x, fu(i).1, &ok, tol);
            }
            let [ss, sl, su] = scans;
            (ss.finish(n, fs, &ok, tol), sl.finish(n, fl, &ok, tol), su.finish(n, fu, &ok, tol))
        };
        let mut k = 0;
        probs
            .iter()
            .zip(&valid)
            .map(|(&p, &v)| {
                if v {
                    let out = KmQuantile { prob: p, time: q[k], lower: lo[k], upper: up[k] };
                    k += 1;
                    out
                } else {
                    KmQuantile { prob: p, time: None, lower: None, upper: None }
                }
            })
            .collect()
    }

    /// Number at risk at time `t` (before the events at `t`), as
    /// `summary(fit, times = t)$n.risk`: `n` for `t` at or before the first time,
    /// 0 after the last time.
    pub fn n_risk_at(&self, t: f64) -> usize {
        let k = self.rows.partition_point(|r| r.time < t);
        self.rows.get(k).map_or(0, |r| r.n_risk)
    }

    /// Right-continuous survival at `t`: 1 before the first time, the last value after the last.
    pub fn surv_at(&self, t: f64) -> f64 {
        let k = self.rows.partition_point(|r| r.time <= t);
        if k == 0 {
            1.0
        } else {
            self.rows[k - 1].surv
        }
    }
}

impl KaplanMeier {
    /// Every row of every curve as a table named `name` with columns
    /// `group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se`,
    /// where `std_err` is the SE of S (as `summary.survfit` prints) and NA where not estimable.
    pub fn table(&self, name: &str) -> ResultTable {
        let mut t = ResultTable::new(
            name,
            &["group", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper", "cumhaz", "cumhaz_se"],
        );
        for c in &self.curves {
            for r in &c.rows {
                t.push_row(vec![
                    Cell::from(c.group.as_str()),
                    Cell::Num(r.time),
                    Cell::from(r.n_risk),
                    Cell::from(r.n_event),
                    Cell::from(r.n_censor),
                    Cell::Num(r.surv),
                    Cell::finite_or_na(r.std_err_surv),
                    Cell::finite_or_na(r.lower),
                    Cell::finite_or_na(r.upper),
                    Cell::Num(r.cumhaz),
                    Cell::Num(r.std_chaz),
                ]);
            }
        }
        t
    }

    /// One row per curve, as a table named `name` with columns
    /// `group,n,events,median,median_lower,median_upper,rmst,rmst_se` (NA where not reached
    /// or not asked for).
    pub fn summary_table(&self, name: &str) -> ResultTable {
        let mut t =
            ResultTable::new(name, &["group", "n", "events", "median", "median_lower", "median_upper", "rmst", "rmst_se"]);
        for c in &self.curves {
            t.push_row(vec![
                Cell::from(c.group.as_str()),
                Cell::from(c.n),
                Cell::from(c.events),
                Cell::finite_or_na(c.median),
                Cell::finite_or_na(c.median_lower),
                Cell::finite_or_na(c.median_upper),
                Cell::finite_or_na(c.rmst.map(|r| r.0)),
                Cell::finite_or_na(c.rmst.map(|r| r.1)),
            ]);
        }
        t
    }

    /// Number at risk in curve `group_index` at time `t` (see [`KmCurve::n_risk_at`]).
    /// Panics if `group_index` is out of range.
    pub fn n_risk_at(&self, group_index: usize, t: f64) -> usize {
        self.curves[group_index].n_risk_at(t)
    }

    /// Right-continuous survival of curve `group_index` at `t` (see [`KmCurve::surv_at`]).
    /// Panics if `group_index` is out of range.
    pub fn surv_at(&self, group_index: usize, t: f64) -> f64 {
        self.curves[group_index].surv_at(t)
    }
}

// ---------------------------------------------------------------------------
// Nelson–Aalen
// ---------------------------------------------------------------------------

/// Tie handling of the Nelson–Aalen estimator (survfit `ctype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum NaTies {
    /// `ctype = 1` (R default): increment d/n, variance increment d/n².
    #[default]
    Breslow,
    /// `ctype = 2` (Fleming–Harrington): increment Σ_{i<d} 1/(n−i), variance Σ 1/(n−i)².
    FlemingHarrington,
}

/// One row of a Nelson–Aalen curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NaRow {
    /// Time.
    pub time: f64,
    /// Number at risk just before `time`.
    pub n_risk: usize,
    /// Events at `time`.
    pub n_event: usize,
    /// Censorings at `time`.
    pub n_censor: usize,
    /// Cumulative hazard (R `fit$cumhaz`).
    pub cumhaz: f64,
    /// Its standard error (R `fit$std.chaz`).
    pub std_chaz: f64,
}

/// The Nelson–Aalen fit of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NaCurve {
    /// Group label.
    pub group: String,
    /// Subjects.
    pub n: usize,
    /// Events.
    pub events: usize,
    /// One row per distinct time (events and censorings), no time-0 row.
    pub rows: Vec<NaRow>,
}

/// Nelson–Aalen cumulative hazards of all groups, in group-level order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NelsonAalen {
    /// One curve per group level.
    pub curves: Vec<NaCurve>,
    /// Tie handling used.
    pub ties: NaTies,
}

/// Nelson–Aalen cumulative hazard per level of `groups`, as survfit's `cumhaz`
/// and `std.chaz` with `ctype = 1` ([`NaTies::Breslow`]) or `ctype = 2`
/// ([`NaTies::FlemingHarrington`]). Same input checks as [`kaplan_meier`].
pub fn nelson_aalen(time: &[f64], event: &[bool], groups: &Grouping, ties: NaTies) -> StatsResult<NelsonAalen> {
    validate_inputs(time, event, groups, "group")?;
    let mut tables = tabulate_groups(time, event, groups);
    merge_near_ties(&mut tables);
    if let Some(g) = tables.iter().position(|t| t.n == 0) {
        return Err(empty_group_error(&groups.labels[g]));
    }
    let curves = tables
        .into_par_iter()
        .zip(groups.labels.par_iter())
        .map(|(tab, label)| {
            let mut rows = Vec::with_capacity(tab.times.len());
            let mut at_risk = tab.n;
            let (mut nelson, mut v2) = (0.0f64, 0.0f64);
            for ((&t, &d), &c) in tab.times.iter().zip(&tab.n_event).zip(&tab.n_censor) {
                let nrisk = at_risk as f64;
                let d1 = d as f64;
                match ties {
                    NaTies::Breslow => {
                        if d > 0 {
                            nelson += d1 / nrisk;
                            v2 += d1 / (nrisk * nrisk);
                        }
                    }
                    NaTies::FlemingHarrington => {
                        for j in 0..d {
                            let dtemp = nrisk - (j as f64) * d1 / d1;
                            nelson += d1 / (d1 * dtemp);
                            v2 += d1 / (d1 * dtemp * dtemp);
                        }
                    }
                }
                let std_chaz = v2.sqrt();
                rows.push(NaRow { time: t, n_risk: at_risk, n_event: d, n_censor: c, cumhaz: nelson, std_chaz });
                at_risk -= d + c;
            }
            NaCurve { group: label.clone(), n: tab.n, events: tab.n_event.iter().sum(), rows }
        })
        .collect();
    Ok(NelsonAalen { curves, ties })
}

impl NelsonAalen {
    /// Every row as a table named `name` with columns
    /// `group,time,n_risk,n_event,n_censor,cumhaz,cumhaz_se`.
    pub fn table(&self, name: &str) -> ResultTable {
        let mut t = ResultTable::new(name, &["group", "time", "n_risk", "n_event", "n_censor", "cumhaz", "cumhaz_se"]);
        for c in &self.curves {
            for r in &c.rows {
                t.push_row(vec![
                    Cell::from(c.group.as_str()),
                    Cell::Num(r.time),
                    Cell::from(r.n_risk),
                    Cell::from(r.n_event),
                    Cell::from(r.n_censor),
                    Cell::finite_or_na(Some(r.cumhaz)),
                    Cell::finite_or_na(Some(r.std_chaz)),
                ]);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 11
    }

    #[test]
    fn time_keys_order_like_times() {
        let ts = [0.0, -0.0, 1e-300, 0.5, 1.0, 2.0, 1e300];
        let mut keys: Vec<u64> = ts.iter().map(|&t| time_key(t)).collect();
        keys.sort_unstable();
        let back: Vec<f64> = keys.iter().map(|&k| f64::from_bits(k)).collect();
        assert_eq!(back, vec![0.0, 0.0, 1e-300, 0.5, 1.0, 2.0, 1e300]);
        assert!(back[0].is_sign_positive() && back[1].is_sign_positive());
    }

    #[test]
    fn tabulate_counts_events_and_censorings() {
        let t = [3.0, 1.0, 3.0, 2.0, 3.0];
        let e = [true, false, false, true, true];
        let tabs = tabulate_groups(&t, &e, &Grouping::single(5, "all"));
        assert_eq!(tabs[0].times, vec![1.0, 2.0, 3.0]);
        assert_eq!(tabs[0].n_event, vec![0, 1, 2]);
        assert_eq!(tabs[0].n_censor, vec![1, 0, 1]);
        assert_eq!(tabs[0].n, 5);
    }

    fn sort_path(time: &[f64], event: &[bool], codes: &[usize], n_cells: usize) -> Vec<TimeTable> {
        split_keys(time, event, n_cells, &|i| codes[i]).into_iter().map(|(e, c)| tabulate(e, c)).collect()
    }

    #[test]
    fn hash_and_sort_tabulations_agree() {
        let mut s = 3u64;
        let n = 3 * HASH_CHUNK / 2; // two chunks
        let time: Vec<f64> = (0..n).map(|_| (lcg(&mut s) % 3000) as f64 / 2.0).collect();
        let event: Vec<bool> = (0..n).map(|_| lcg(&mut s) % 10 < 7).collect();
        let codes: Vec<usize> = (0..n).map(|_| (lcg(&mut s) % 3) as usize).collect();
        // 4 cells, one of them empty.
        let by_hash = tabulate_by_hash(&time, &event, 4, &|i| codes[i]).expect("few distinct times");
        let by_sort = sort_path(&time, &event, &codes, 4);
        assert_eq!(by_hash, by_sort);
        assert_eq!(by_hash[3], TimeTable::default());
        assert_eq!(by_hash.iter().map(|t| t.n).sum::<usize>(), n);
        assert_eq!(tabulate_cells(&time, &event, 4, |i| codes[i]), by_sort);
    }

    #[test]
    fn many_distinct_times_fall_back_to_sorting() {
        let mut s = 5u64;
        let n = HASH_CAP + 5000;
        let time: Vec<f64> = (0..n).map(|_| lcg(&mut s) as f64 / 1e6).collect();
        let event: Vec<bool> = (0..n).map(|_| lcg(&mut s) % 10 < 7).collect();
        let codes = vec![0usize; n];
        assert!(tabulate_by_hash(&time, &event, 1, &|i| codes[i]).is_none());
        let tabs = tabulate_cells(&time, &event, 1, |i| codes[i]);
        assert_eq!(tabs, sort_path(&time, &event, &codes, 1));
        assert!(tabs[0].times.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(tabs[0].n_event.iter().sum::<usize>(), event.iter().filter(|&&e| e).count());
    }

    #[test]
    fn dedup_curve_matches_r_duplicated() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        // monotone with NAs
        let y = [Some(0.0), Some(0.2), None, Some(0.2), None, Some(0.5)];
        let (xs, ys) = dedup_curve(&x, &y);
        assert_eq!(xs, vec![0.0, 1.0, 2.0, 5.0]);
        assert_eq!(ys, vec![Some(0.0), Some(0.2), None, Some(0.5)]);
        // non-monotone: a value repeated after a different one is still a duplicate
        let y = [Some(0.0), Some(0.3), Some(0.1), Some(0.3), Some(0.0), Some(0.4)];
        let (xs, _) = dedup_curve(&x, &y);
        assert_eq!(xs, vec![0.0, 1.0, 2.0, 5.0]);
        let y = [Some(0.5), Some(0.1), Some(0.2), Some(0.1), Some(-0.0), Some(0.0)];
        let (xs, _) = dedup_curve(&x, &y);
        assert_eq!(xs, vec![0.0, 1.0, 2.0, 4.0]);
    }

    #[test]
    fn streaming_findq_equals_materialized_findq() {
        let mut s = 11u64;
        let probs = [0.0, 0.25, 0.5, 0.75, 1.0];
        for case in 0..3000 {
            let n = 1 + (lcg(&mut s) % 12) as usize;
            let mut x = vec![0.0];
            let mut y = vec![Some(0.0)];
            let mut t = 0.0;
            let mut level = 0.0f64;
            for _ in 0..n {
                t += 1.0 + (lcg(&mut s) % 3) as f64;
                let r = lcg(&mut s) % 10;
                // steps on a coarse grid (hits 0.25/0.5/0.75 exactly), flats, NAs, occasional decreases
                if r < 4 {
                    level = (level + 0.125 * (1 + lcg(&mut s) % 3) as f64).min(1.0);
                } else if r == 4 && case % 2 == 0 {
                    level = (level - 0.125).max(0.0);
                }
                x.push(t);
                y.push(if r == 9 { None } else { Some(level) });
            }
            let pts: Vec<(f64, Option<f64>)> = x.iter().copied().zip(y.iter().copied()).collect();
            let streaming = findq(pts.len(), |i| pts[i], &probs, R_TOLERANCE);
            let materialized = findq_materialized(&x, &y, &probs, R_TOLERANCE);
            assert_eq!(streaming, materialized, "case {case}: {y:?}");
        }
    }

    #[test]
    fn approx_constant_right_semantics() {
        let y = [Some(0.0), Some(0.25), None, Some(0.5)];
        // exact hit, between points, outside the range
        let got = approx_constant_right(&y, 0.0, &[0.25, 0.3, 0.6, -0.1, 0.0]);
        assert_eq!(got, vec![Some(1), Some(3), None, None, Some(0)]);
        // unsorted input is sorted first
        let y = [Some(0.0), Some(0.5), Some(0.25)];
        assert_eq!(approx_constant_right(&y, 0.0, &[0.3]), vec![Some(1)]);
    }

    #[test]
    fn minmin_midpoint_and_tolerance() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let mm = |y: [Option<f64>; 4]| minmin(y.into_iter().zip(x));
        assert_eq!(mm([0.9, 0.5, 0.5, 0.3].map(Some)), Some(3.0));
        assert_eq!(mm([0.9, 0.5 - 3e-16, 0.5, 0.5].map(Some)), Some(2.0));
        assert_eq!(mm([0.9, 0.8, 0.7, 0.6].map(Some)), None);
        assert_eq!(mm([None, Some(0.4), None, None]), Some(2.0));
    }

    #[test]
    fn conf_type_parses_r_names() {
        assert_eq!("log".parse::<ConfType>().unwrap(), ConfType::Log);
        assert_eq!("log-log".parse::<ConfType>().unwrap(), ConfType::LogLog);
        assert_eq!("Plain".parse::<ConfType>().unwrap(), ConfType::Plain);
        assert!("arcsin".parse::<ConfType>().is_err());
        assert_eq!(ConfType::LogLog.to_string(), "log-log");
    }
}
