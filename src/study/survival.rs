//! Survival analyses of a study: Kaplan–Meier by first-line intensity and
//! regimen (OS, EFS) with log-rank tests; HLH as a time-dependent exposure
//! (Cox on `(start, stop]` data, Simon–Makuch curves); landmark analyses; and
//! the naive "HLH ever" comparison, labelled as biased by immortal time.

use crate::stats::cox::{cox_zph_terms, coxph, coxph_owned, CoxModel, CoxOptions, CoxZph};
use crate::stats::design::{build_design, ColumnData};
use crate::stats::km::{kaplan_meier, KaplanMeier, KmOptions};
use crate::stats::logrank::{survdiff, LogRankTest};
use crate::stats::simon_makuch::{simon_makuch, CpCurve};
use crate::stats::timesplit::{landmark, split_at_exposure, Interval};
use crate::stats::{Grouping, StatsError, StatsResult};
use crate::table::{Cell, ResultTable};

use super::covariates::{expand, CovariateColumns};
use super::dataset::Dataset;
use super::exposure::Exposure;

/// A Kaplan–Meier fit with its log-rank test (none when there is one group).
pub struct KmAnalysis {
    /// File stem, e.g. `os_by_first_line_intensity`.
    pub name: String,
    /// Endpoint label (`OS`, `EFS`, ...).
    pub endpoint: String,
    /// The fit.
    pub km: KaplanMeier,
    /// Log-rank test across groups.
    pub logrank: Option<LogRankTest>,
}

/// Fit KM + log-rank for one endpoint and grouping.
pub fn km_analysis(
    name: &str,
    endpoint: &str,
    time: &[f64],
    event: &[bool],
    labels: &[impl AsRef<str>],
    opts: &KmOptions,
) -> StatsResult<KmAnalysis> {
    let g = Grouping::from_values(labels);
    let km = kaplan_meier(time, event, &g, opts)?;
    let groups_with_data = g.members().iter().filter(|m| !m.is_empty()).count();
    // No test without events (survdiff refuses rather than invent a p-value).
    let logrank = if groups_with_data > 1 {
        match survdiff(time, event, &g, None, 0.0) {
            Ok(t) => Some(t),
            Err(StatsError::Empty(_)) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(KmAnalysis { name: name.into(), endpoint: endpoint.into(), km, logrank })
}

/// The time-dependent HLH analyses of one criteria set.
pub struct HlhSurvival {
    /// Criteria set.
    pub criteria_set: String,
    /// Numbers at risk in each HLH state (`[no HLH, HLH]`) at the times asked for
    /// (`risk_days` of [`hlh_survival`]): the counting-process intervals (split at HLH onset)
    /// that contain the time. Only these counts are kept, not the intervals (one row per
    /// patient and state, for every criteria set: ~0.3 GB per set at 10 M patients).
    pub at_risk: Vec<[u64; 2]>,
    /// Cox model with HLH as a time-varying covariate (+ adjustment covariates).
    pub cox_td: CoxModel,
    /// Proportional-hazards test of `cox_td` (`cox.zph`), or why it could not be computed.
    pub ph_test: Result<PhTest, String>,
    /// Unadjusted time-dependent Cox model (HLH only).
    pub cox_td_unadjusted: CoxModel,
    /// Naive Cox model with "HLH ever" fixed at baseline (biased; for comparison only).
    pub cox_naive: CoxModel,
    /// Naive KM by "HLH ever" (biased; for comparison only).
    pub km_naive: KmAnalysis,
    /// Simon–Makuch curves: [no HLH, HLH].
    pub simon_makuch: Vec<CpCurve>,
    /// Landmark analyses: (landmark day, KM + log-rank by HLH by the landmark, n excluded before L).
    pub landmarks: Vec<(f64, KmAnalysis, usize)>,
    /// Subjects dropped from the adjusted model for missing covariates.
    pub dropped_for_missing_covariates: usize,
}

/// What a study keeps of a proportional-hazards test ([`CoxZph`], R `cox.zph`): the tests of
/// each term and the GLOBAL test (table `cox_hlh_ph_test`) and the course of HLH's scaled
/// Schoenfeld residuals in bins (the figure), not the residuals of every death (one row per
/// death and term, for every criteria set: ~35 MB per set at 1 M patients).
pub struct PhTest {
    /// Term names (one per covariate, a factor's columns together).
    pub terms: Vec<String>,
    /// Per-term score statistic.
    pub chisq: Vec<f64>,
    /// Per-term degrees of freedom.
    pub df: Vec<usize>,
    /// Per-term p-value.
    pub p: Vec<f64>,
    /// GLOBAL statistic, degrees of freedom and p-value.
    pub global: (f64, usize, f64),
    /// HLH's residuals over time (`None` without an `hlh` term or with fewer than 10 deaths).
    pub hlh_course: Option<ResidualCourse>,
}

/// Scaled Schoenfeld residuals of one term summarised in up to ten bins of equal numbers of
/// deaths (by time): in each bin the mean time (months), the mean residual (an estimate of
/// β(t), the log hazard ratio at that time) and its confidence interval (mean ± z·sd/√n).
pub struct ResidualCourse {
    /// Mean time of the bin's deaths, in months.
    pub months: Vec<f64>,
    /// Mean residual.
    pub mean: Vec<f64>,
    /// Lower confidence limit of the mean.
    pub lower: Vec<f64>,
    /// Upper confidence limit of the mean.
    pub upper: Vec<f64>,
}

impl PhTest {
    /// Keep the tests of `z` and the binned course of its `hlh` term (times in months of
    /// `days_per_month` days, intervals at `conf_level`).
    fn of(z: CoxZph, days_per_month: f64, conf_level: f64) -> PhTest {
        let hlh_course = z.terms.iter().position(|t| t == "hlh").and_then(|col| {
            let points: Vec<(f64, f64)> =
                z.time.iter().zip(z.scaled_residuals.column(col).iter()).map(|(t, r)| (*t / days_per_month, *r)).collect();
            ResidualCourse::of(points, conf_level)
        });
        PhTest { terms: z.terms, chisq: z.chisq, df: z.df, p: z.p, global: (z.global_chisq, z.global_df, z.global_p), hlh_course }
    }
}

impl ResidualCourse {
    /// Bins of (time, residual) points (non-finite ones left out); `None` with fewer than two
    /// bins of at least five points.
    fn of(mut points: Vec<(f64, f64)>, conf_level: f64) -> Option<ResidualCourse> {
        points.retain(|(t, r)| t.is_finite() && r.is_finite());
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bins = 10.min(points.len() / 5);
        if bins < 2 {
            return None;
        }
        let zq = crate::stats::dist::z_for_level(conf_level);
        let mut c = ResidualCourse { months: Vec::new(), mean: Vec::new(), lower: Vec::new(), upper: Vec::new() };
        for b in 0..bins {
            let part = &points[b * points.len() / bins..(b + 1) * points.len() / bins];
            let n = part.len() as f64;
            let mean = part.iter().map(|p| p.1).sum::<f64>() / n;
            let sd = (part.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            c.months.push(part.iter().map(|p| p.0).sum::<f64>() / n);
            c.mean.push(mean);
            c.lower.push(mean - zq * sd / n.sqrt());
            c.upper.push(mean + zq * sd / n.sqrt());
        }
        Some(c)
    }
}

/// Settings of [`hlh_survival`].
pub struct HlhSurvivalOptions<'a> {
    /// Landmark days of the landmark analyses.
    pub landmarks_days: &'a [f64],
    /// Days from the origin at which to count the numbers at risk by HLH state.
    pub risk_days: &'a [f64],
    /// Days per month (the time unit of the residual course).
    pub days_per_month: f64,
    /// Confidence level of every interval.
    pub conf_level: f64,
}

fn cox_from_columns(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    columns: Vec<(String, ColumnData)>,
    opts: &CoxOptions,
) -> StatsResult<(CoxModel, usize)> {
    cox_fit_from_columns(start, stop, event, columns, opts, false).map(|(m, d, _)| (m, d))
}

/// A Cox model, the rows dropped for missing covariates, and (when asked) its PH test.
type CoxFit = (CoxModel, usize, Option<Result<CoxZph, String>>);

/// The Cox model of `columns` and, with `ph_test`, its proportional-hazards test
/// (`survival::cox.zph`, transform "km") on the same rows: `Err(reason)` when the test cannot
/// be computed. The columns are dropped once the design is built, and without the test the
/// design goes into the fit without a copy: at millions of counting-process rows these are
/// the survival stage's largest buffers.
fn cox_fit_from_columns(
    start: Option<&[f64]>,
    stop: &[f64],
    event: &[bool],
    columns: Vec<(String, ColumnData)>,
    opts: &CoxOptions,
    ph_test: bool,
) -> StatsResult<CoxFit> {
    let design = build_design(&columns, None)?;
    // one test per covariate (a factor's dummy columns together), as R's default terms = TRUE
    let terms: Vec<(String, Vec<usize>)> = columns
        .into_iter()
        .enumerate()
        .map(|(c, (name, _))| (name, (0..design.assign.len()).filter(|&j| design.assign[j] == c).collect::<Vec<usize>>()))
        .filter(|(_, cols)| !cols.is_empty())
        .collect();
    // the rows kept (all of them unless a covariate is missing: then no copy)
    let keep = &design.kept_rows;
    let dropped = design.dropped_rows.len();
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let picked = (dropped > 0).then(|| (pick(stop), start.map(pick), keep.iter().map(|&i| event[i]).collect::<Vec<bool>>()));
    let (stop_k, start_k, event_k) = match &picked {
        Some((stop, start, event)) => (&stop[..], start.as_deref(), &event[..]),
        None => (stop, start, event),
    };
    if !ph_test {
        let model = coxph_owned(start_k, stop_k, event_k, design.x, &design.terms, None, None, opts)?;
        return Ok((model, dropped, None));
    }
    let model = coxph(start_k, stop_k, event_k, &design.x, &design.terms, None, None, opts)?;
    let zph = cox_zph_terms(&model, start_k, stop_k, event_k, design.x, None, opts, Some(&terms)).map_err(|e| e.to_string());
    Ok((model, dropped, Some(zph)))
}

/// The adjusted time-dependent Cox model of [`hlh_survival`] on the counting-process rows,
/// its PH test, and the patients dropped for a missing covariate.
#[allow(clippy::too_many_arguments)]
fn adjusted_time_dependent_model(
    dataset: &Dataset,
    start: &[f64],
    stop: &[f64],
    ev: &[bool],
    subject: Vec<usize>,
    hlh: ColumnData,
    covariates: &CovariateColumns,
    opts: &CoxOptions,
) -> StatsResult<(CoxModel, Result<CoxZph, String>, usize)> {
    let mut cols = vec![("hlh".to_string(), hlh)];
    for (name, col) in &covariates.columns {
        cols.push((name.clone(), expand(col, &subject)));
    }
    // the row-to-patient map is not needed once the covariates are expanded
    drop(subject);
    let (cox_td, dropped_rows, ph_test) = cox_fit_from_columns(Some(start), stop, ev, cols, opts, true)?;
    let ph_test = ph_test.unwrap_or_else(|| Err("not requested".into()));
    let dropped_subjects = if dropped_rows == 0 {
        0
    } else {
        // count distinct subjects with a missing covariate
        (0..dataset.patients.len())
            .filter(|&s| {
                covariates.columns.iter().any(|(_, c)| match c {
                    ColumnData::Numeric(v) => v[s].is_none(),
                    ColumnData::Categorical(v) => v[s].is_none(),
                    ColumnData::Coded { codes, labels } => labels.get(codes[s] as usize).is_none(),
                })
            })
            .count()
    };
    Ok((cox_td, ph_test, dropped_subjects))
}

/// Numbers at risk by state (`[not exposed, exposed]`) at each of `times`: the intervals
/// `(start, stop]` that contain the time.
fn at_risk_by_state(intervals: &[Interval], times: &[f64]) -> Vec<[u64; 2]> {
    times
        .iter()
        .map(|&t| {
            let mut n = [0u64; 2];
            for iv in intervals.iter().filter(|iv| iv.start < t && t <= iv.stop) {
                n[usize::from(iv.exposed)] += 1;
            }
            n
        })
        .collect()
}

/// Run the HLH survival analyses for one criteria set.
pub fn hlh_survival(
    dataset: &Dataset,
    exposure: &Exposure,
    covariates: &CovariateColumns,
    options: &HlhSurvivalOptions,
) -> StatsResult<HlhSurvival> {
    let HlhSurvivalOptions { landmarks_days, risk_days, days_per_month, conf_level } = *options;
    let time: Vec<f64> = dataset.patients.iter().map(|p| p.os_time).collect();
    let event: Vec<bool> = dataset.patients.iter().map(|p| p.os_event).collect();
    if !exposure.onset.iter().any(Option::is_some) {
        return Err(StatsError::Empty(format!("no HLH episode under `{}`: no HLH survival analysis", exposure.criteria_set)));
    }
    let intervals = split_at_exposure(&time, &event, &exposure.onset)?;
    let at_risk = at_risk_by_state(&intervals, risk_days);
    let subject: Vec<usize> = intervals.iter().map(|iv| iv.subject).collect();
    let start: Vec<f64> = intervals.iter().map(|iv| iv.start).collect();
    let stop: Vec<f64> = intervals.iter().map(|iv| iv.stop).collect();
    let ev: Vec<bool> = intervals.iter().map(|iv| iv.event).collect();
    // HLH state of each interval: 0 (no HLH) or 1
    let state: Vec<usize> = intervals.iter().map(|iv| usize::from(iv.exposed)).collect();
    drop(intervals);
    let hlh_column = || ColumnData::Numeric(state.iter().map(|&s| Some(if s == 1 { 1.0 } else { 0.0 })).collect());
    let opts = CoxOptions { conf_level, ..CoxOptions::default() };

    // One analysis after the other, the adjusted time-dependent model (the largest) first:
    // side by side, they made this stage the run's memory peak at 10 M patients
    // (docs/scaling.md); each fit is parallel inside.
    let (cox_td, ph_test, dropped_subjects) =
        adjusted_time_dependent_model(dataset, &start, &stop, &ev, subject, hlh_column(), covariates, &opts)?;
    let (cox_td_unadjusted, _) = cox_from_columns(Some(&start), &stop, &ev, vec![("hlh".to_string(), hlh_column())], &opts)?;

    let ever: Vec<Option<f64>> = exposure.onset.iter().map(|o| Some(if o.is_some() { 1.0 } else { 0.0 })).collect();
    let (cox_naive, _) = cox_from_columns(None, &time, &event, vec![("hlh_ever".to_string(), ColumnData::Numeric(ever))], &opts)?;
    let ever_labels: Vec<&str> = exposure.onset.iter().map(|o| if o.is_some() { "HLH ever" } else { "no HLH" }).collect();
    let km_opts = KmOptions { conf_level, ..KmOptions::default() };
    let km_naive = km_analysis("os_by_hlh_ever_naive", "OS", &time, &event, &ever_labels, &km_opts)?;

    let labels = vec!["no HLH".to_string(), "HLH".to_string()];
    let simon_makuch = simon_makuch(&start, &stop, &ev, &state, &labels, conf_level)?;

    let mut landmarks = Vec::new();
    for &l in landmarks_days {
        let lm = landmark(&time, &event, &exposure.onset, l)?;
        if lm.kept.is_empty() {
            continue;
        }
        let labels: Vec<&str> = lm.exposed.iter().map(|&e| if e { "HLH by landmark" } else { "no HLH by landmark" }).collect();
        let name = format!("os_landmark_{}d_by_hlh", l);
        let a = km_analysis(&name, "OS", &lm.time, &lm.event, &labels, &km_opts)?;
        landmarks.push((l, a, lm.excluded_dead_or_censored));
    }
    let ph_test = ph_test.map(|z| PhTest::of(z, days_per_month, conf_level));

    Ok(HlhSurvival {
        criteria_set: exposure.criteria_set.clone(),
        at_risk,
        cox_td,
        ph_test,
        cox_td_unadjusted,
        cox_naive,
        km_naive,
        simon_makuch,
        landmarks,
        dropped_for_missing_covariates: dropped_subjects,
    })
}

/// One row per Cox term of every model, with a `model` column saying which.
pub fn cox_table(models: &[(&str, &str, &CoxModel)]) -> ResultTable {
    let mut rows = Vec::new();
    for (set, model_name, m) in models {
        let hr = m.hazard_ratios();
        for (k, term) in m.terms.iter().enumerate() {
            let se = m.se[k];
            let z = m.coef[k] / se;
            rows.push(vec![
                Cell::Str(set.to_string()),
                Cell::Str(model_name.to_string()),
                Cell::Str(term.clone()),
                Cell::finite(m.coef[k]),
                Cell::finite(hr[k].0),
                Cell::finite(se),
                Cell::finite(z),
                Cell::finite(crate::stats::dist::two_sided_p(z)),
                Cell::finite(hr[k].1),
                Cell::finite(hr[k].2),
                Cell::Int(m.n as i64),
                Cell::Int(m.nevent as i64),
            ]);
        }
    }
    super::table(
        "cox_hlh",
        &["criteria_set", "model", "term", "coef", "hr", "se", "z", "p", "hr_lower", "hr_upper", "n", "events"],
        rows,
    )
}

/// Simon–Makuch curves of every criteria set as one table.
pub fn simon_makuch_table(hlh: &[HlhSurvival]) -> ResultTable {
    let opt = |v: Option<f64>| Cell::finite_or_na(v);
    let mut rows = Vec::new();
    for h in hlh {
        for c in &h.simon_makuch {
            for r in &c.rows {
                rows.push(vec![
                    Cell::Str(h.criteria_set.clone()),
                    Cell::Str(c.group.clone()),
                    Cell::Num(r.time),
                    Cell::Int(r.n_risk as i64),
                    Cell::Int(r.n_event as i64),
                    Cell::Int(r.n_censor as i64),
                    Cell::finite(r.surv),
                    opt(r.std_err),
                    opt(r.lower),
                    opt(r.upper),
                ]);
            }
        }
    }
    super::table(
        "os_simon_makuch_by_hlh",
        &["criteria_set", "state", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"],
        rows,
    )
}
