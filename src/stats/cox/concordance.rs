//! Harrell's concordance of a Cox model's linear predictor, as survival's
//! `concordancefit(y, lp, strata, reverse = TRUE, timefix = FALSE)` reports it
//! in `fit$concordance` (C code `concordance3` / `concordance4`, `timewt = "n"`).
//!
//! A pair is comparable when one subject has an event at `t` and the other is
//! still at risk at `t` (later time, or censored at `t`; for `(start, stop]`
//! data: `start < t <= stop`). Pairs with tied event times (`tied_y`, `tied_xy`)
//! are not comparable. With the higher risk score dying first counted as
//! concordant, `C = (concordant + tied_x / 2) / (concordant + discordant + tied_x)`.
//!
//! The standard error is R's infinitesimal jackknife: each observation's
//! influence on Somers' d from its counts of concordant / discordant / tied pairs,
//! summed within clusters when a cluster is given; `se = sqrt(sum dfbeta²) / 2`.
//!
//! Counting uses two Fenwick trees over the ranks of the linear predictor
//! (all subjects at risk; events so far): O(n log n).

/// Counts and estimate, named as in R's `fit$concordance`.
#[derive(Debug, Clone, PartialEq)]
pub struct Concordance {
    /// Comparable pairs where the earlier event has the higher linear predictor.
    pub concordant: f64,
    /// Comparable pairs where the earlier event has the lower linear predictor.
    pub discordant: f64,
    /// Comparable pairs with equal linear predictors.
    pub tied_x: f64,
    /// Pairs of events at the same time with different linear predictors.
    pub tied_y: f64,
    /// Pairs of events at the same time with equal linear predictors.
    pub tied_xy: f64,
    /// Concordance `C`.
    pub concordance: f64,
    /// Infinitesimal-jackknife standard error of `C`.
    pub std: f64,
}

use super::fit::{from_sort_key, sort_key};
use rayon::slice::ParallelSliceMut;

/// Fenwick tree of counts over the ranks of the linear predictor. Entry `i`
/// holds the Fenwick partial sum for position `i` (1-based) and the count of
/// rank `i` (0-based), so that a query touches one cache line less.
struct Fenwick {
    data: Vec<(i32, i32)>,
    total: i64,
}

impl Fenwick {
    fn new(m: usize) -> Fenwick {
        Fenwick { data: vec![(0, 0); m + 1], total: 0 }
    }
    fn add(&mut self, r: usize, w: i32) {
        self.data[r].1 += w;
        self.total += w as i64;
        let mut i = r + 1;
        while i < self.data.len() {
            self.data[i].0 += w;
            i += i & i.wrapping_neg();
        }
    }
    /// (greater, less, equal) counts relative to rank `r`.
    fn walk(&self, r: usize) -> (i64, i64, i64) {
        let mut less = 0i64;
        let mut i = r;
        while i > 0 {
            less += self.data[i].0 as i64;
            i -= i & i.wrapping_neg();
        }
        let eq = self.data[r].1 as i64;
        (self.total - less - eq, less, eq)
    }
}

/// Concordance of `lp` with the survival data, per stratum, summed (R's
/// `keepstrata = FALSE`). `cluster` groups observations for the jackknife SE.
/// Returns `None` when there are no comparable pairs (or more than 2^31 rows).
pub fn concordance(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    lp: &[f64],
    strata: Option<&[usize]>,
    cluster: Option<&[usize]>,
) -> Option<Concordance> {
    let n = stop.len();
    if n >= i32::MAX as usize {
        return None;
    }
    let (rank, m) = ranks(lp);
    concordance_ranked(start, stop, event, rank, m, strata, cluster)
}

/// Ranks of the linear predictor, 0-based (exact equality = tie, as R's
/// `match(unique())`), and the number of distinct values. `lp.len() < 2^31`.
pub(crate) fn ranks(lp: &[f64]) -> (Vec<u32>, usize) {
    let n = lp.len();
    let mut keyed: Vec<(u64, usize)> = lp.iter().enumerate().map(|(i, &v)| (sort_key(v), i)).collect();
    keyed.par_sort_unstable();
    let mut rank = vec![0u32; n];
    let mut m = 0u32;
    for k in 0..n {
        if k > 0 && keyed[k].0 != keyed[k - 1].0 {
            m += 1;
        }
        rank[keyed[k].1] = m;
    }
    (rank, if n == 0 { 0 } else { m as usize + 1 })
}

/// [`concordance`] from the ranks of the linear predictor ([`ranks`]; `m` distinct).
pub(crate) fn concordance_ranked(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    rank: Vec<u32>,
    m: usize,
    strata: Option<&[usize]>,
    cluster: Option<&[usize]>,
) -> Option<Concordance> {
    let n = stop.len();
    if n >= i32::MAX as usize || rank.len() != n {
        return None;
    }
    // one sort: stratum, reverse time, censored before events, risk score (R's sort.stop)
    let code = |i: usize| strata.map_or(0, |s| s[i]);
    // the survival data and ranks in sweep order; the input row of each sorted position
    // (only with start times or a cluster) and, with strata, each position's stratum code
    let need_idx = start.is_some() || cluster.is_some();
    let (sorted, idx, codes): (Sorted, Vec<usize>, Option<Vec<usize>>) = match strata {
        // one stratum: sort 16-byte packed keys (time, event, rank, row; n < 2^31 above),
        // which hold everything the sweep needs
        None => {
            let mut packed: Vec<u128> = (0..n)
                .map(|i| {
                    (u128::from(!sort_key(stop[i])) << 64)
                        | (u128::from(event[i]) << 63)
                        | (u128::from(rank[i]) << 31)
                        | i as u128
                })
                .collect();
            drop(rank);
            packed.par_sort_unstable();
            let sorted = Sorted {
                stop: packed.iter().map(|&k| from_sort_key(!((k >> 64) as u64))).collect(),
                event: packed.iter().map(|&k| (k >> 63) & 1 == 1).collect(),
                rank: packed.iter().map(|&k| ((k >> 31) & 0xFFFF_FFFF) as u32).collect(),
            };
            let idx = if need_idx { packed.iter().map(|&k| (k & 0x7FFF_FFFF) as usize).collect() } else { Vec::new() };
            (sorted, idx, None)
        }
        Some(_) => {
            let mut keys: Vec<(usize, u64, bool, u32, usize)> =
                (0..n).map(|i| (code(i), !sort_key(stop[i]), event[i], rank[i], i)).collect();
            drop(rank);
            keys.par_sort_unstable();
            let sorted = Sorted {
                stop: keys.iter().map(|k| stop[k.4]).collect(),
                event: keys.iter().map(|k| k.2).collect(),
                rank: keys.iter().map(|k| k.3).collect(),
            };
            (sorted, keys.iter().map(|k| k.4).collect(), Some(keys.iter().map(|k| k.0).collect()))
        }
    };
    // counting process: positions by stratum, then start time descending
    let start_sorted: Option<Vec<f64>> = start.map(|st| idx.iter().map(|&i| st[i]).collect());
    let start_order: Vec<usize> = match &start_sorted {
        None => Vec::new(),
        Some(st) => {
            let mut k2: Vec<(usize, u64, usize)> =
                (0..n).map(|k| (codes.as_ref().map_or(0, |c| c[k]), !sort_key(st[k]), k)).collect();
            k2.sort_unstable();
            k2.into_iter().map(|k| k.2).collect()
        }
    };

    let sweep = Sweep { sorted: &sorted, start: start_sorted.as_deref(), start_order: &start_order, codes: codes.as_deref(), m };
    let cl = cluster.map(|c| (c, &idx[..]));
    // influence counts in 32 bits when no total can leave their range (n < 2^30: every
    // total is at most 2n), which halves the two n-vectors of them; else in 64 bits
    let (count, somer, var_somer) = if n < 1 << 30 { sweep.run::<Narrow>(cl)? } else { sweep.run::<Wide>(cl)? };
    let c_unrev = (somer + 1.0) / 2.0;
    Some(Concordance {
        concordant: count[1] as f64,
        discordant: count[0] as f64,
        tied_x: count[2] as f64,
        tied_y: count[3] as f64,
        tied_xy: count[4] as f64,
        concordance: 1.0 - c_unrev,
        std: (var_somer / 4.0).sqrt(),
    })
}

/// An observation's influence counts, in R's unreversed sense: concordant (x greater)
/// minus discordant (x less), and concordant + discordant + tied.x.
trait Influence: Copy + Default + Send {
    /// Add `d` to the difference and `s` to the total.
    fn add(&mut self, d: i64, s: i64);
    /// Add another partial count.
    fn merge(&mut self, other: Self);
    /// (difference, total).
    fn get(self) -> (i64, i64);
}

/// 64-bit influence counts.
#[derive(Clone, Copy, Default)]
struct Wide([i64; 2]);

impl Influence for Wide {
    fn add(&mut self, d: i64, s: i64) {
        self.0[0] += d;
        self.0[1] += s;
    }
    fn merge(&mut self, other: Wide) {
        self.add(other.0[0], other.0[1]);
    }
    fn get(self) -> (i64, i64) {
        (self.0[0], self.0[1])
    }
}

/// 32-bit influence counts, added modulo 2^32: exact when the final totals fit in an
/// `i32` (partial sums may wrap).
#[derive(Clone, Copy, Default)]
struct Narrow([i32; 2]);

impl Influence for Narrow {
    fn add(&mut self, d: i64, s: i64) {
        self.0[0] = self.0[0].wrapping_add(d as i32);
        self.0[1] = self.0[1].wrapping_add(s as i32);
    }
    fn merge(&mut self, other: Narrow) {
        self.0[0] = self.0[0].wrapping_add(other.0[0]);
        self.0[1] = self.0[1].wrapping_add(other.0[1]);
    }
    fn get(self) -> (i64, i64) {
        (i64::from(self.0[0]), i64::from(self.0[1]))
    }
}

/// Everything the sweeps over the strata need.
struct Sweep<'a> {
    sorted: &'a Sorted,
    start: Option<&'a [f64]>,
    start_order: &'a [usize],
    codes: Option<&'a [usize]>,
    m: usize,
}

impl Sweep<'_> {
    /// Pair counts (tied_y net of tied_xy), Somers' d and its jackknife variance, with
    /// influence counts of type `T`; `cluster`: the cluster codes and the input row of
    /// each sorted position. `None` when no pair is comparable.
    fn run<T: Influence>(&self, cluster: Option<(&[usize], &[usize])>) -> Option<([i64; 5], f64, f64)> {
        let n = self.sorted.stop.len();
        let mut count = [0i64; 5];
        let mut inf = vec![T::default(); n];
        let mut lo = 0;
        while lo < n {
            let mut hi = lo;
            while hi < n && self.codes.is_none_or(|c| c[hi] == c[lo]) {
                hi += 1;
            }
            let so = if self.start.is_some() { &self.start_order[lo..hi] } else { &[][..] };
            let stratum = Stratum { d: self.sorted, start: self.start, start_order: so, lo, hi, m: self.m };
            one_stratum(&stratum, &mut count, &mut inf);
            lo = hi;
        }
        count[3] -= count[4];
        let npair = (count[0] + count[1] + count[2]) as f64;
        if npair <= 0.0 {
            return None;
        }
        let somer = (count[0] - count[1]) as f64 / npair;
        let dfb = |v: &T| {
            let (d, s) = v.get();
            d as f64 / npair - (somer / npair) * s as f64
        };
        let var_somer: f64 = match cluster {
            None => inf.iter().map(|v| dfb(v).powi(2)).sum(),
            Some((cl, idx)) => {
                let mut sums: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
                for (k, v) in inf.iter().enumerate() {
                    *sums.entry(cl[idx[k]]).or_insert(0.0) += dfb(v);
                }
                sums.values().map(|d| d * d).sum()
            }
        };
        Some((count, somer, var_somer))
    }
}

/// Survival data and ranks in the sweep order.
struct Sorted {
    stop: Vec<f64>,
    event: Vec<bool>,
    rank: Vec<u32>,
}

/// The `concordance3` / `concordance4` sweep over sorted positions `lo..hi`.
///
/// The sweep keeps two trees that never read each other: the risk-set tree
/// (`all`, giving the pair counts and the influence of each event) and the
/// events-so-far tree (`dead`, giving each subject's influence as a comparator).
/// They are swept on two threads; the integer counts are summed afterwards, so
/// the result does not depend on the split.
fn one_stratum<T: Influence>(s: &Stratum, count: &mut [i64; 5], inf: &mut [T]) {
    let ((), comparator) = rayon::join(|| sweep_risk_set(s, count, inf), || sweep_events::<T>(s));
    for (k, c) in inf[s.lo..s.hi].iter_mut().zip(comparator) {
        k.merge(c);
    }
}

/// One stratum of the sweep: sorted positions `lo..hi`, `m` distinct ranks.
#[derive(Clone, Copy)]
struct Stratum<'a> {
    d: &'a Sorted,
    /// Start times by sorted position (counting-process data only).
    start: Option<&'a [f64]>,
    /// The stratum's sorted positions by start time, descending.
    start_order: &'a [usize],
    lo: usize,
    hi: usize,
    m: usize,
}

/// The indices of `start_order` (from `*i2` on) whose start time is at or after
/// `t`: they are no longer at risk at `t` (counting-process data only).
fn leaving<'a>(
    start: Option<&'a [f64]>,
    start_order: &'a [usize],
    i2: &'a mut usize,
    t: f64,
) -> impl Iterator<Item = usize> + 'a {
    std::iter::from_fn(move || {
        let st = start?;
        let &jj = start_order.get(*i2)?;
        if st[jj] >= t {
            *i2 += 1;
            Some(jj)
        } else {
            None
        }
    })
}

/// Risk-set half of the sweep: pair counts (`count`) and each event's influence
/// (added into `inf` at absolute positions).
fn sweep_risk_set<T: Influence>(s: &Stratum, count: &mut [i64; 5], inf: &mut [T]) {
    let Stratum { d, start, start_order, lo, hi, m } = *s;
    let mut all = Fenwick::new(m);
    let mut i = lo;
    let mut i2 = 0;
    while i < hi {
        if !d.event[i] {
            all.add(d.rank[i] as usize, 1);
            i += 1;
            continue;
        }
        let t = d.stop[i];
        // remove those whose start time has been passed: not at risk at t
        for jj in leaving(start, start_order, &mut i2, t) {
            all.add(d.rank[jj] as usize, -1);
        }
        // count the pairs of every event at t
        let mut j = i;
        let mut dwt = 0i64;
        let mut dwt2 = 0i64;
        let mut xsave = d.rank[i] as usize;
        while j < hi && d.stop[j] == t {
            let r = d.rank[j] as usize;
            count[3] += dwt;
            dwt += 1;
            if r != xsave {
                dwt2 = 0;
                xsave = r;
            }
            count[4] += dwt2;
            dwt2 += 1;
            let (g, l, e) = all.walk(r);
            count[0] += g;
            count[1] += l;
            count[2] += e;
            inf[j].add(g - l, g + l + e);
            j += 1;
        }
        // then add the events to the risk tree
        for &r in &d.rank[i..j] {
            all.add(r as usize, 1);
        }
        i = j;
    }
}

/// Events-so-far half of the sweep: each subject's influence as the comparator
/// events, for positions `lo..hi` (index `k - lo`).
fn sweep_events<T: Influence>(s: &Stratum) -> Vec<T> {
    let Stratum { d, start, start_order, lo, hi, m } = *s;
    let mut inf = vec![T::default(); hi - lo];
    let mut dead = Fenwick::new(m);
    let mut removed = if start.is_some() { vec![false; hi - lo] } else { Vec::new() };
    let mut i = lo;
    let mut i2 = 0;
    while i < hi {
        if !d.event[i] {
            let (g, l, e) = dead.walk(d.rank[i] as usize);
            inf[i - lo].add(g - l, -(g + l + e));
            i += 1;
            continue;
        }
        let t = d.stop[i];
        for jj in leaving(start, start_order, &mut i2, t) {
            let (g, l, e) = dead.walk(d.rank[jj] as usize);
            inf[jj - lo].add(l - g, g + l + e);
            removed[jj - lo] = true;
        }
        let mut j = i;
        while j < hi && d.stop[j] == t {
            dead.add(d.rank[j] as usize, 1);
            j += 1;
        }
        // start the comparator influence of the events at t
        for k in i..j {
            let (g, l, e) = dead.walk(d.rank[k] as usize);
            inf[k - lo].add(g - l, -(g + l + e));
        }
        i = j;
    }
    // finish the influence of everyone not removed earlier
    for k in lo..hi {
        if start.is_some() && removed[k - lo] {
            continue;
        }
        let (g, l, e) = dead.walk(d.rank[k] as usize);
        inf[k - lo].add(l - g, g + l + e);
    }
    inf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// O(n²) pair counting by the definition, for checking the tree version.
    fn brute(start: Option<&[f64]>, stop: &[f64], event: &[bool], lp: &[f64]) -> [i64; 5] {
        let n = stop.len();
        let mut c = [0i64; 5];
        for i in 0..n {
            if !event[i] {
                continue;
            }
            let t = stop[i];
            for j in 0..n {
                if j == i {
                    continue;
                }
                let at_risk = start.is_none_or(|s| s[j] < t) && (stop[j] > t || (stop[j] == t && !event[j]));
                if at_risk {
                    if lp[i] > lp[j] {
                        c[0] += 1
                    } else if lp[i] < lp[j] {
                        c[1] += 1
                    } else {
                        c[2] += 1
                    }
                } else if stop[j] == t && event[j] && j > i && start.is_none_or(|s| s[j] < t) {
                    if lp[i] == lp[j] {
                        c[4] += 1
                    } else {
                        c[3] += 1
                    }
                }
            }
        }
        c
    }

    #[test]
    fn matches_brute_force_with_ties() {
        let stop = [5.0, 3.0, 3.0, 8.0, 3.0, 9.0, 1.0, 5.0, 7.0, 7.0, 2.0, 6.0];
        let event = [true, true, false, true, true, false, true, true, true, true, false, true];
        let lp = [0.5, 1.0, 1.0, -0.2, 1.0, 0.0, 2.0, 0.5, -0.2, 0.3, 0.1, 0.5];
        let c = concordance(None, &stop, &event, &lp, None, None).unwrap();
        let b = brute(None, &stop, &event, &lp);
        assert_eq!([c.concordant as i64, c.discordant as i64, c.tied_x as i64, c.tied_y as i64, c.tied_xy as i64], b);
        let start = [0.0, 1.0, 0.0, 2.0, 0.0, 4.0, 0.0, 2.5, 0.0, 3.0, 0.0, 5.5];
        let c = concordance(Some(&start), &stop, &event, &lp, None, None).unwrap();
        let b = brute(Some(&start), &stop, &event, &lp);
        assert_eq!([c.concordant as i64, c.discordant as i64, c.tied_x as i64, c.tied_y as i64, c.tied_xy as i64], b);
    }
}
