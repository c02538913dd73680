//! R's `timefix`: survival times closer than sqrt(machine epsilon) are merged
//! before fitting (`aeqSurv`, the default `coxph.control(timefix = TRUE)`), so
//! that floating-point noise does not split tied times.

use crate::stats::error::{StatsError, StatsResult};

/// Merge times closer than sqrt(machine eps) the way R's `aeqSurv` does (coxph's
/// default `timefix = TRUE`). Returns the adjusted (start, stop).
pub(crate) fn aeq_times(start: Option<&[f64]>, stop: &[f64]) -> StatsResult<(Option<Vec<f64>>, Vec<f64>)> {
    Ok(aeq_times_changed(start, stop)?.unwrap_or_else(|| (start.map(|s| s.to_vec()), stop.to_vec())))
}

/// Start (if any) and stop times.
pub(crate) type Times = (Option<Vec<f64>>, Vec<f64>);

/// Whether [`aeq_times`] merges any of the distinct finite times `y` (ascending).
pub(crate) fn merges_any(y: &[f64]) -> bool {
    if y.len() < 2 {
        return false;
    }
    let tol = f64::EPSILON.sqrt();
    let mean_abs = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    y.windows(2).any(|w| {
        let dy = w[1] - w[0];
        dy <= tol || dy / mean_abs <= tol
    })
}

/// As [`aeq_times`], without copies when no time moves: `None` then.
pub(crate) fn aeq_times_changed(start: Option<&[f64]>, stop: &[f64]) -> StatsResult<Option<Times>> {
    use rayon::slice::ParallelSliceMut;
    let tol = f64::EPSILON.sqrt();
    // the distinct finite times in ascending order (`sort_key` orders as `total_cmp`; equal
    // keys are equal bits, so an unstable sort gives the same sequence)
    let mut keys: Vec<u64> =
        stop.iter().chain(start.unwrap_or(&[]).iter()).filter(|v| v.is_finite()).map(|&v| super::fit::sort_key(v)).collect();
    keys.par_sort_unstable();
    let mut y: Vec<f64> = keys.iter().map(|&k| super::fit::from_sort_key(k)).collect();
    drop(keys);
    y.dedup();
    if !merges_any(&y) {
        return Ok(None);
    }
    let mean_abs = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    let mut cuts = vec![y[0]];
    let mut any_tied = false;
    for w in y.windows(2) {
        let dy = w[1] - w[0];
        let tied = dy <= tol || dy / mean_abs <= tol;
        if tied {
            any_tied = true;
        } else {
            cuts.push(w[1]);
        }
    }
    if !any_tied {
        return Ok(None);
    }
    let map = |v: f64| -> f64 {
        let k = cuts.partition_point(|&c| c <= v);
        if k == 0 {
            v
        } else {
            cuts[k - 1]
        }
    };
    let new_stop: Vec<f64> = stop.iter().map(|&v| map(v)).collect();
    let new_start = match start {
        None => None,
        Some(st) => {
            let ns: Vec<f64> = st.iter().map(|&v| map(v)).collect();
            for i in 0..ns.len() {
                if ns[i] == new_stop[i] && st[i] != stop[i] {
                    return Err(StatsError::InvalidInput {
                        column: "start".into(),
                        message: format!(
                            "row {}: interval ({}, {}] has effective length 0 after merging times closer than {tol} \
                             (R aeqSurv)",
                            i + 1,
                            st[i],
                            stop[i]
                        ),
                    });
                }
            }
            Some(ns)
        }
    };
    Ok(Some((new_start, new_stop)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_equal_times_are_merged() {
        let (_, t) = aeq_times(None, &[1.0, 1.0 + 1e-12, 2.0, 3.0]).unwrap();
        assert_eq!(t, vec![1.0, 1.0, 2.0, 3.0]);
        let (_, t) = aeq_times(None, &[1.0, 1.001, 2.0]).unwrap();
        assert_eq!(t, vec![1.0, 1.001, 2.0]);
        let e = aeq_times(Some(&[1.0, 0.0]), &[1.0 + 1e-12, 2.0]).unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
    }
}
