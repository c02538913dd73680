//! Kaplan–Meier on counting-process `(start, stop]` data, per exposure state:
//! the Simon–Makuch estimator of survival by a time-dependent exposure.
//!
//! A subject contributes to the risk set of state `g` at time `t` when one of
//! its intervals in state `g` has `start < t <= stop` — R `survival`'s rule for
//! `Surv(start, stop, event)`. With every `start = 0` this is the ordinary
//! Kaplan–Meier estimator (tested). Variance is Greenwood's, confidence
//! intervals on the log scale (R's default), as `survfit(Surv(start, stop,
//! event) ~ exposed)` computes them. Start and stop times closer than sqrt(eps)
//! are ties (R's default `timefix = TRUE`); an interval that collapses to
//! length 0 is an error, as in R.

use super::cox::timefix::aeq_times;
use super::dist::z_for_level;
use super::error::{check_len, StatsError, StatsResult};

/// One row of a counting-process survival curve (every distinct stop time in the state).
#[derive(Debug, Clone, PartialEq)]
pub struct CpRow {
    /// Time.
    pub time: f64,
    /// Intervals at risk (`start < time <= stop`).
    pub n_risk: usize,
    /// Events at `time`.
    pub n_event: usize,
    /// Intervals ending at `time` without an event (censoring or leaving the state).
    pub n_censor: usize,
    /// Survival estimate.
    pub surv: f64,
    /// Standard error of `surv` (Greenwood); `None` once `surv` is 0.
    pub std_err: Option<f64>,
    /// Lower confidence limit (log scale).
    pub lower: Option<f64>,
    /// Upper confidence limit (log scale, capped at 1).
    pub upper: Option<f64>,
}

/// A counting-process survival curve for one state.
#[derive(Debug, Clone, PartialEq)]
pub struct CpCurve {
    /// State label (e.g. `HLH` / `no HLH`).
    pub group: String,
    /// Intervals (rows) in the state: R's `records` (a subject may have several).
    pub n_intervals: usize,
    /// Events in the state.
    pub events: usize,
    /// Rows.
    pub rows: Vec<CpRow>,
    /// Median survival (first time `surv <= 0.5`, with R's sqrt(eps) tolerance), if reached.
    pub median: Option<f64>,
}

impl CpCurve {
    /// Right-continuous survival at `t`.
    pub fn surv_at(&self, t: f64) -> f64 {
        let k = self.rows.partition_point(|r| r.time <= t);
        if k == 0 {
            1.0
        } else {
            self.rows[k - 1].surv
        }
    }

    /// Intervals at risk at `t` (before events at `t`).
    pub fn n_risk_at(&self, starts: &[f64], stops: &[f64], t: f64) -> usize {
        starts.iter().zip(stops).filter(|(s, e)| **s < t && t <= **e).count()
    }
}

/// Fit one curve per state. `state[i]` indexes `labels`.
pub fn simon_makuch(
    start: &[f64],
    stop: &[f64],
    event: &[bool],
    state: &[usize],
    labels: &[String],
    conf_level: f64,
) -> StatsResult<Vec<CpCurve>> {
    let n = stop.len();
    check_len("start", start.len(), n)?;
    check_len("event", event.len(), n)?;
    check_len("state", state.len(), n)?;
    for i in 0..n {
        if !(start[i].is_finite() && stop[i].is_finite() && start[i] < stop[i]) {
            return Err(StatsError::InvalidInput {
                column: "start/stop".into(),
                message: format!("row {}: need start < stop, found ({}, {}]", i + 1, start[i], stop[i]),
            });
        }
        if state[i] >= labels.len() {
            return Err(StatsError::InvalidInput {
                column: "state".into(),
                message: format!("row {}: state {} has no label", i + 1, state[i]),
            });
        }
    }
    // R's timefix (aeqSurv): start and stop times closer than sqrt(eps) are ties
    let (start, stop) = match aeq_times(Some(start), stop)? {
        (Some(st), sp) => (st, sp),
        (None, sp) => (start.to_vec(), sp),
    };
    let (start, stop) = (start.as_slice(), stop.as_slice());
    let z = z_for_level(conf_level);
    (0..labels.len())
        .map(|g| {
            let idx: Vec<usize> = (0..n).filter(|&i| state[i] == g).collect();
            if idx.is_empty() {
                return Err(StatsError::Empty(format!("state `{}` has no intervals", labels[g])));
            }
            Ok(fit_one(&labels[g], &idx, start, stop, event, z))
        })
        .collect()
}

fn fit_one(label: &str, idx: &[usize], start: &[f64], stop: &[f64], event: &[bool], z: f64) -> CpCurve {
    let mut by_stop: Vec<usize> = idx.to_vec();
    by_stop.sort_by(|&a, &b| stop[a].total_cmp(&stop[b]));
    let mut by_start: Vec<usize> = idx.to_vec();
    by_start.sort_by(|&a, &b| start[a].total_cmp(&start[b]));
    let mut rows = Vec::new();
    let (mut surv, mut greenwood) = (1.0f64, 0.0f64);
    // n_risk(t) = #(start < t) - #(stop < t)
    let (mut i_stop, mut i_start) = (0usize, 0usize);
    let mut n_stopped_before = 0usize;
    let mut events_total = 0usize;
    while i_stop < by_stop.len() {
        let t = stop[by_stop[i_stop]];
        while i_start < by_start.len() && start[by_start[i_start]] < t {
            i_start += 1;
        }
        let n_risk = i_start - n_stopped_before;
        let (mut d, mut c) = (0usize, 0usize);
        while i_stop < by_stop.len() && stop[by_stop[i_stop]] == t {
            if event[by_stop[i_stop]] {
                d += 1;
            } else {
                c += 1;
            }
            i_stop += 1;
        }
        n_stopped_before += d + c;
        events_total += d;
        if d > 0 {
            surv *= 1.0 - d as f64 / n_risk as f64;
            if n_risk > d {
                greenwood += d as f64 / (n_risk as f64 * (n_risk - d) as f64);
            } else {
                greenwood = f64::INFINITY;
            }
        }
        let se_log = greenwood.sqrt();
        let (std_err, lower, upper) = if surv > 0.0 && se_log.is_finite() {
            (Some(surv * se_log), Some(surv * (-z * se_log).exp()), Some((surv * (z * se_log).exp()).min(1.0)))
        } else {
            (None, None, None)
        };
        rows.push(CpRow { time: t, n_risk, n_event: d, n_censor: c, surv, std_err, lower, upper });
    }
    let tol = f64::EPSILON.sqrt();
    let median = rows.iter().position(|r| r.surv <= 0.5 + tol).map(|k| {
        if (rows[k].surv - 0.5).abs() <= tol {
            match rows[k + 1..].iter().find(|r| r.surv < 0.5 - tol) {
                Some(next) => (rows[k].time + next.time) / 2.0,
                None => rows[k].time,
            }
        } else {
            rows[k].time
        }
    });
    CpCurve { group: label.to_string(), n_intervals: idx.len(), events: events_total, rows, median }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_kaplan_meier_without_left_truncation() {
        // survival::aml, Maintained arm, against R's survfit (tests/fixtures/reference/expected/km_aml_by_x_log.json).
        let t = [9.0, 13.0, 13.0, 18.0, 23.0, 28.0, 31.0, 34.0, 45.0, 48.0, 161.0];
        let e = [true, true, false, true, true, false, true, true, false, true, false];
        let s = vec![0.0; t.len()];
        let st = vec![0; t.len()];
        let c = simon_makuch(&s, &t, &e, &st, &["all".into()], 0.95).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference/expected/km_aml_by_x_log.json");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = json["strata"].as_object().unwrap().values().next().unwrap();
        let col = |k: &str| -> Vec<Option<f64>> { r[k].as_array().unwrap().iter().map(|v| v.as_f64()).collect() };
        let rel = |a: f64, b: f64| ((a - b) / b).abs() < 1e-12;
        assert_eq!(c[0].rows.len(), col("time").len());
        for (k, row) in c[0].rows.iter().enumerate() {
            assert_eq!(Some(row.time), col("time")[k]);
            assert_eq!(Some(row.n_risk as f64), col("n_risk")[k]);
            assert!(rel(row.surv, col("surv")[k].unwrap()));
            assert!(rel(row.std_err.unwrap(), col("std_err_surv")[k].unwrap()));
            assert!(rel(row.lower.unwrap(), col("lower")[k].unwrap()));
            assert!(rel(row.upper.unwrap(), col("upper")[k].unwrap()));
        }
        assert_eq!(Some(c[0].median.unwrap()), r["median"].as_f64());
    }

    #[test]
    fn left_truncated_intervals_enter_the_risk_set_late() {
        // Subject A exposed at 5, dies at 10; B exposed at 2, censored at 20; C exposed at 12, dies at 15.
        let start = [5.0, 2.0, 12.0];
        let stop = [10.0, 20.0, 15.0];
        let event = [true, false, true];
        let c = simon_makuch(&start, &stop, &event, &[0, 0, 0], &["HLH".into()], 0.95).unwrap();
        let r: Vec<(f64, usize, usize)> = c[0].rows.iter().map(|r| (r.time, r.n_risk, r.n_event)).collect();
        assert_eq!(r, vec![(10.0, 2, 1), (15.0, 2, 1), (20.0, 1, 0)]);
        assert!((c[0].rows[1].surv - 0.25).abs() < 1e-15);
    }

    #[test]
    fn rejects_empty_intervals() {
        let e = simon_makuch(&[3.0], &[3.0], &[true], &[0], &["x".into()], 0.95).unwrap_err();
        assert!(e.to_string().contains("row 1"));
    }
}
