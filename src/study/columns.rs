//! Column documentation of every table a study run writes (for tables/README.md and the report).
//!
//! Conventions every description assumes (`docs/study.md`): times are days from the study's
//! time origin (`timing.origin`: diagnosis or first-line start) unless the description says
//! otherwise; NA is an empty cell; dates are ISO `YYYY-MM-DD`; proportions and probabilities
//! are on the 0–1 scale; confidence intervals are at the study's `survival.conf_level`
//! (default 0.95) unless the description names a fixed level; Kaplan–Meier and cumulative
//! incidence follow R `survival` / `cmprsk`, Cox models follow `coxph` with Efron ties.
//!
//! Table names that vary with the study file are recognised by their pattern:
//! `os_landmark_<L>d_by_hlh_{km,summary,logrank}` for every `survival.landmarks_days` entry L,
//! and the rate column `rate_per_<k>_person_months` of `hlh_incidence_rate`
//! (k = `incidence.rate_per_person_months`).

/// What column `column` of table `table` holds (unit, how NA arises); `None` if undocumented.
pub fn describe(table: &str, column: &str) -> Option<&'static str> {
    specific(table, column).or_else(|| shared(column))
}

/// Columns that mean the same in every table they appear in.
fn shared(column: &str) -> Option<&'static str> {
    Some(match column {
        "criteria_set" => {
            "HLH definition the row was computed under: a built-in criteria set (`hlh_aml`, `hlh2004`, `hscore`, `ohi`), the `name` of a TOML set, or `adjudicated` (cases confirmed on chart review, present when the cohort has an `adjudications` table); HLH exposure is the first episode onset under that set."
        }
        "patient_id" => {
            "Patient identifier as in the cohort's `patients` table; the episode tables cover every patient of the cohort, not only the study population."
        }
        "episode" => {
            "Episode number within the patient and criteria set, 1-based; 2, 3, ... are recurrences."
        }
        "onset_date" => {
            "Episode onset: the first day the criteria set's rule holds (for `adjudicated`, the adjudicated onset date); ISO date."
        }
        "end_date" => {
            "Last day the rule holds (values carried over their windows), at most the end of follow-up (death or last contact); for `adjudicated` equal to the onset date; ISO date."
        }
        "grouping" => {
            "How the study population is split: `overall` (a single group `all`), `first_line_intensity` or `first_line_regimen`."
        }
        "group" => "Label of the group (curve, stratum or row block) the row belongs to.",
        "note" => "Why cells of this row are NA or how to read them; empty when there is nothing to say.",
        _ => return None,
    })
}

/// Table-specific descriptions (they take precedence over [`shared`]).
fn specific(table: &str, column: &str) -> Option<&'static str> {
    if let Some((km, part)) = km_table(table) {
        return match part {
            KmPart::Curve => km_curve(km, column),
            KmPart::Summary => km_summary(km, column),
            KmPart::LogRank => km_logrank(km, column),
        };
    }
    match table {
        "analyses_not_computed" => analyses_not_computed(column),
        "baseline_characteristics" => baseline_characteristics(column),
        "hlh_risk_factors" => risk_factors(column),
        "cox_hlh_ph_test" => match column {
            "term" => Some("Term of the adjusted time-dependent Cox model of OS (`hlh` and each covariate; a factor's dummy columns are tested together, as cox.zph's default `terms = TRUE`), or `GLOBAL` for all terms together; NA when the test could not be computed."),
            "chisq" => Some("cox.zph score-test chi-square for a time-varying coefficient (transform \"km\": 1 − Kaplan–Meier of the pooled data)."),
            "df" => Some("Degrees of freedom of `chisq`: the number of design columns of the term (levels − 1 for a factor); all columns for GLOBAL."),
            "p" => Some("p-value of `chisq`; small values suggest the hazard ratio changes over time (non-proportional hazards)."),
            "note" => Some("`not computable: <reason>` when the test failed; empty otherwise."),
            _ => None,
        },
        "patient_key" => match column {
            "study_number" => Some("Sequential number of the patient in the study population (cohort order), as shown in the report and figures instead of the identifier."),
            "patient_id" => Some("The cohort's patient identifier: this table is the only place that links the two (keep it with the data)."),
            _ => None,
        },
        "cohort_flow" => cohort_flow(column),
        "cir_from_cr1" => cir_from_cr1(column),
        "cox_hlh" => cox_hlh(column),
        "hlh_cumulative_incidence" => cumulative_incidence(column),
        "hlh_cumulative_incidence_gray_test" => gray_test(column),
        "hlh_episode_course" => episode_course(column),
        "hlh_episodes" => episodes(column),
        "hlh_episodes_characteristics" => episode_characteristics(column),
        "hlh_evidence" => evidence(column),
        "hlh_incidence_by_definition" => incidence_by_definition(column),
        "hlh_incidence_crude" => incidence_crude(column),
        "hlh_incidence_rate" => incidence_rate(column),
        "hlh_validation" => validation(column),
        "hlh_ppv_adjudicated" => ppv_adjudicated(column),
        "reviewer_agreement" => reviewer_agreement(column),
        "os_simon_makuch_by_hlh" => simon_makuch(column),
        "response_by_hlh" => response_by_hlh(column),
        "response_by_line_regimen" => response_by_line_regimen(column),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Kaplan–Meier analyses: `<analysis>_km`, `<analysis>_summary`, `<analysis>_logrank`
// ---------------------------------------------------------------------------

/// The Kaplan–Meier analyses of a study run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Km {
    /// `os_overall`.
    OsOverall,
    /// `os_by_first_line_intensity`.
    OsByIntensity,
    /// `os_by_first_line_regimen`.
    OsByRegimen,
    /// `efs_by_first_line_intensity`.
    EfsByIntensity,
    /// `rfs_from_cr1`.
    RfsFromCr1,
    /// `os_by_hlh_ever_naive`.
    OsByHlhEverNaive,
    /// `os_landmark_<L>d_by_hlh`.
    OsLandmark,
}

/// The three tables of a Kaplan–Meier analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KmPart {
    /// `_km`: one row per distinct time and group.
    Curve,
    /// `_summary`: one row per group.
    Summary,
    /// `_logrank`: one row per group.
    LogRank,
}

/// Where the time of an analysis starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// The study's time origin.
    Origin,
    /// CR1.
    Cr1,
    /// The landmark day.
    Landmark,
}

/// The endpoint of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Os,
    Efs,
    Rfs,
}

impl Km {
    fn scale(self) -> Scale {
        match self {
            Km::RfsFromCr1 => Scale::Cr1,
            Km::OsLandmark => Scale::Landmark,
            _ => Scale::Origin,
        }
    }

    fn endpoint(self) -> Endpoint {
        match self {
            Km::EfsByIntensity => Endpoint::Efs,
            Km::RfsFromCr1 => Endpoint::Rfs,
            _ => Endpoint::Os,
        }
    }
}

/// The analysis and part of a Kaplan–Meier table name, `None` for any other table.
fn km_table(table: &str) -> Option<(Km, KmPart)> {
    let (stem, part) = if let Some(s) = table.strip_suffix("_km") {
        (s, KmPart::Curve)
    } else if let Some(s) = table.strip_suffix("_summary") {
        (s, KmPart::Summary)
    } else if let Some(s) = table.strip_suffix("_logrank") {
        (s, KmPart::LogRank)
    } else {
        return None;
    };
    let km = match stem {
        "os_overall" => Km::OsOverall,
        "os_by_first_line_intensity" => Km::OsByIntensity,
        "os_by_first_line_regimen" => Km::OsByRegimen,
        "efs_by_first_line_intensity" => Km::EfsByIntensity,
        "rfs_from_cr1" => Km::RfsFromCr1,
        "os_by_hlh_ever_naive" => Km::OsByHlhEverNaive,
        s if is_landmark_stem(s) => Km::OsLandmark,
        _ => return None,
    };
    Some((km, part))
}

/// `os_landmark_<L>d_by_hlh` with L a number of days (`30`, `90`, `7.5`, ...).
fn is_landmark_stem(stem: &str) -> bool {
    stem.strip_prefix("os_landmark_")
        .and_then(|s| s.strip_suffix("d_by_hlh"))
        .is_some_and(|l| !l.is_empty() && l.parse::<f64>().is_ok_and(|d| d.is_finite() && d >= 0.0))
}

const GROUP_INTENSITY: &str = "Intensity class of the patient's first treatment line (`intensive`, `low_intensity`, `transplant`, `supportive`, `other`), or `untreated` for a patient without a treatment row.";

fn km_group(km: Km) -> &'static str {
    match km {
        Km::OsOverall => "`all`: the whole study population (a single curve).",
        Km::OsByIntensity | Km::EfsByIntensity => GROUP_INTENSITY,
        Km::OsByRegimen => {
            "Regimen of the patient's first treatment line as written in the cohort; regimens with fewer than `survival.min_regimen_size` (default 10) study patients are pooled as `other (n < k)`, and a patient without a treatment row is `untreated`."
        }
        Km::RfsFromCr1 => {
            "`CR1`: the study patients who reached a first composite CR (CR, CRh or CRi) on their first line (a single curve)."
        }
        Km::OsByHlhEverNaive => {
            "`HLH ever` (a first HLH onset under the set at any time during follow-up, used as a baseline group: biased by immortal time, for comparison only) or `no HLH`."
        }
        Km::OsLandmark => {
            "`HLH by landmark` (first HLH onset under the set on or before the landmark day L, prevalent HLH included) or `no HLH by landmark`, among the patients alive and followed beyond day L."
        }
    }
}

fn km_n(km: Km) -> &'static str {
    match km {
        Km::RfsFromCr1 => "Patients who reached CR1 (first composite CR of the first line).",
        Km::OsLandmark => {
            "Patients of the group alive and followed beyond the landmark day L (patients whose follow-up ended on or before day L are left out)."
        }
        _ => "Patients of the study population in the group.",
    }
}

fn km_curve(km: Km, column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => km_group(km),
        "time" => match km.scale() {
            Scale::Origin => {
                "Distinct event or censoring time of the group, days from the time origin; one row per time (no added time-0 row)."
            }
            Scale::Cr1 => {
                "Distinct event or censoring time, days from CR1 (a relapse on the CR1 day is kept at time 0); one row per time."
            }
            Scale::Landmark => {
                "Distinct event or censoring time of the group, days since the landmark day L of the table name (time reset to 0 at L); one row per time."
            }
        },
        "n_risk" => {
            "Patients at risk just before `time` (still followed at `time`), as R survfit `n.risk`."
        }
        "n_event" => match km.endpoint() {
            Endpoint::Os => "Deaths at `time`.",
            Endpoint::Efs => {
                "EFS events at `time`: refractory disease (placed at day 1), first relapse after CR1, or death (ELN 2022, docs/study.md)."
            }
            Endpoint::Rfs => "Relapses or deaths at `time` (RFS events).",
        },
        "n_censor" => match km.endpoint() {
            Endpoint::Os => "Patients censored at `time` (alive at last contact).",
            Endpoint::Efs => "Patients censored at `time` (last contact without an EFS event).",
            Endpoint::Rfs => "Patients censored at `time` (last contact, alive without relapse).",
        },
        "surv" => {
            "Kaplan–Meier probability (0–1) of being event-free, right-continuous at `time` (R survfit)."
        }
        "std_err" => {
            "Greenwood standard error of `surv` itself (surv × R's `fit$std.err`, as summary.survfit prints); NA once `surv` reaches 0."
        }
        "lower" => {
            "Lower limit of the pointwise confidence interval of `surv` (log transformation, survfit conf.type = \"log\"); NA once `surv` reaches 0."
        }
        "upper" => {
            "Upper limit of the pointwise confidence interval of `surv` (log transformation, capped at 1); NA once `surv` reaches 0."
        }
        "cumhaz" => {
            "Nelson–Aalen cumulative hazard at `time`, Σ d/n (survfit ctype = 1, R `fit$cumhaz`)."
        }
        "cumhaz_se" => "Standard error of `cumhaz`, sqrt(Σ d/n²) (R `fit$std.chaz`).",
        _ => return None,
    })
}

fn km_summary(km: Km, column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => km_group(km),
        "n" => km_n(km),
        "events" => match km.endpoint() {
            Endpoint::Os => "Deaths in the group over the whole follow-up.",
            Endpoint::Efs => "EFS events (refractory disease, relapse after CR1, death) in the group.",
            Endpoint::Rfs => "RFS events (relapse or death after CR1).",
        },
        "median" => match km.scale() {
            Scale::Origin => {
                "Median time to the event, days from the time origin, as print.survfit (first time `surv` ≤ 0.5, midpoint rule at exactly 0.5); NA when the curve does not fall to 0.5."
            }
            Scale::Cr1 => {
                "Median RFS, days from CR1, as print.survfit; NA when the curve does not fall to 0.5."
            }
            Scale::Landmark => {
                "Median OS, days since the landmark day L, as print.survfit; NA when the curve does not fall to 0.5."
            }
        },
        "median_lower" => {
            "Lower confidence limit of `median` (same days scale): the time the lower CI curve of `surv` falls to 0.5, as print.survfit; NA when it never does."
        }
        "median_upper" => {
            "Upper confidence limit of `median` (same days scale): the time the upper CI curve falls to 0.5, as print.survfit; NA when it never does (common with few events)."
        }
        "rmst" => {
            "Restricted mean survival time; always NA in a study run, which sets no truncation time τ."
        }
        "rmst_se" => {
            "Standard error of `rmst`; always NA in a study run, which sets no truncation time τ."
        }
        _ => return None,
    })
}

fn km_logrank(km: Km, column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => km_group(km),
        "n" => km_n(km),
        "observed" => match km.endpoint() {
            Endpoint::Os => "Observed deaths in the group.",
            Endpoint::Efs => "Observed EFS events in the group.",
            Endpoint::Rfs => "Observed RFS events in the group.",
        },
        "expected" => {
            "Expected events in the group if every group had the pooled hazard (log-rank, R survdiff with rho = 0)."
        }
        "chisq" => {
            "Log-rank chi-square statistic across all groups (the same on every row of the test)."
        }
        "df" => "Degrees of freedom: groups with expected events > 0, minus 1.",
        "p" => {
            "Upper-tail chi-square p-value of the log-rank test (the same on every row of the test); the table is written only when a test was possible."
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Run bookkeeping
// ---------------------------------------------------------------------------

fn analyses_not_computed(column: &str) -> Option<&'static str> {
    Some(match column {
        "analysis" => {
            "Analysis that could not be computed on this cohort; for a table row whose `note` starts with `not computable`, the table name followed by the row's first key cells in parentheses."
        }
        "reason" => {
            "Why it could not be computed (also in the report and under `not_computed` in manifest.json)."
        }
        _ => return None,
    })
}

fn cohort_flow(column: &str) -> Option<&'static str> {
    Some(match column {
        "step" => {
            "`patients in cohort`, then one `excluded: <reason>` row per exclusion reason that occurred (first-line intensity, no treatment line, no first-line start date, no follow-up after the origin), then `study population`."
        }
        "patients" => {
            "Number of patients at that step; on an `excluded:` row, the patients excluded for that reason."
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Survival with HLH as an exposure
// ---------------------------------------------------------------------------

fn cox_hlh(column: &str) -> Option<&'static str> {
    Some(match column {
        "model" => {
            "Cox model of OS: `time_dependent_adjusted` (HLH as a time-dependent covariate plus `survival.covariates`), `time_dependent_unadjusted` (HLH only) or `naive_hlh_ever_BIASED` (HLH ever as a baseline covariate: biased by immortal time, for comparison only)."
        }
        "term" => {
            "Model term as R names it: `hlh` (0 before, 1 after the first onset; 1 from time 0 for prevalent HLH), `hlh_ever` (naive model), a numeric covariate by its name, or a factor covariate as name + level (e.g. `eln_riskfavorable`; the reference level has no row)."
        }
        "coef" => {
            "Log hazard ratio (coxph, Efron ties); NA when not finite (e.g. a term without events)."
        }
        "hr" => "Hazard ratio of death, exp(coef); NA when not finite.",
        "se" => "Model-based standard error of `coef`; NA when not finite.",
        "z" => "Wald statistic coef / se; NA when not finite.",
        "p" => "Two-sided Wald p-value, 2·Φ(−|z|); NA when `z` is NA.",
        "hr_lower" => {
            "Lower confidence limit of `hr`, exp(coef − z·se) with z the normal quantile of the study's conf_level; NA when not finite."
        }
        "hr_upper" => {
            "Upper confidence limit of `hr`, exp(coef + z·se); NA when not finite."
        }
        "n" => {
            "Observations used: (start, stop] rows for the time-dependent models (a patient with incident HLH contributes two), patients for the naive model; rows with a missing adjustment covariate are left out of the adjusted model."
        }
        "events" => "Deaths among the observations used.",
        _ => return None,
    })
}

fn simon_makuch(column: &str) -> Option<&'static str> {
    Some(match column {
        "state" => {
            "Current HLH state under the set: `no HLH` (before the first onset, or never) or `HLH` (after the first onset; from time 0 for prevalent HLH)."
        }
        "time" => "Distinct end time of an interval in the state, days from the time origin.",
        "n_risk" => {
            "Patients at risk in the state just before `time`: intervals with start < time ≤ stop (R's counting-process risk set)."
        }
        "n_event" => "Deaths at `time` while in the state.",
        "n_censor" => {
            "Intervals in the state ending at `time` without a death: censoring at last contact or, in `no HLH`, leaving the state at the HLH onset."
        }
        "surv" => {
            "Simon–Makuch survival probability (0–1) in the state: Kaplan–Meier on the (start, stop] data, right-continuous at `time`."
        }
        "std_err" => "Greenwood standard error of `surv`; NA once `surv` reaches 0.",
        "lower" => {
            "Lower limit of the pointwise confidence interval of `surv` (log transformation); NA once `surv` reaches 0."
        }
        "upper" => {
            "Upper limit of the pointwise confidence interval of `surv` (log transformation, capped at 1); NA once `surv` reaches 0."
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Incidence
// ---------------------------------------------------------------------------

const GROUP_INCIDENCE: &str = "Level of `grouping`: `all` for `overall`; the first-line intensity class or `untreated`; or the first-line regimen, with regimens of fewer than `survival.min_regimen_size` (default 10) patients pooled as `other (n < k)`.";

const WITH_HLH: &str = "Patients at risk with an incident HLH episode during follow-up: first onset after the origin day and not on the day of death (such a death counts first).";

fn incidence_crude(column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => GROUP_INCIDENCE,
        "n" => {
            "Patients of the group at risk of a first episode: the group's patients minus `prevalent_at_origin`."
        }
        "with_hlh" => WITH_HLH,
        "prevalent_at_origin" => {
            "Patients of the group whose first HLH onset is on or before the origin day (prevalent HLH): not in `n`, not incident cases."
        }
        "proportion" => "with_hlh / n; NA when n = 0 (see `note`).",
        "wilson_lower" => {
            "Lower Wilson score limit of `proportion` (R prop.test(correct = FALSE)); NA when n = 0."
        }
        "wilson_upper" => "Upper Wilson score limit of `proportion`; NA when n = 0.",
        "exact_lower" => {
            "Lower Clopper–Pearson limit of `proportion` (R binom.test); NA when n = 0."
        }
        "exact_upper" => "Upper Clopper–Pearson limit of `proportion`; NA when n = 0.",
        "note" => {
            "`not computable: no patient at risk in this group` when n = 0; empty otherwise."
        }
        _ => return None,
    })
}

fn cumulative_incidence(column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => {
            "Level of `grouping` (`all` for `overall`; first-line intensity or `untreated`; first-line regimen or `other (n < k)`); NA on a row whose fit failed."
        }
        "cause" => {
            "`hlh` (cause 1: first HLH episode) or `death_without_hlh` (cause 2: death before any HLH, the competing risk); NA on a row whose fit failed."
        }
        "day" => {
            "Time point, days from the time origin (one of `incidence.timepoints_days`, default 30, 90, 180, 365); NA on a row whose fit failed."
        }
        "estimate" => {
            "Aalen–Johansen cumulative incidence (0–1) of the cause by `day` among the patients at risk of a first episode (prevalent HLH excluded), as cmprsk cuminc/timepoints; NA after the group's last follow-up time or when the fit failed."
        }
        "variance" => {
            "Gray's delta-method variance of `estimate` (cmprsk `var`; its square root is the standard error); NA with `estimate`."
        }
        "lower" => "Lower limit of the pointwise confidence interval of `estimate` at the study's `conf_level`, on the log(−log) scale as tidycmprsk: `estimate^exp(±z·sqrt(variance) / (estimate·log(estimate)))`; NA when `estimate` is 0, 1 or NA.",
        "upper" => "Upper limit of that interval; NA as `lower`.",
        "note" => {
            "`not computable: <reason>` when the cumulative incidence of this grouping could not be fitted (the row's other cells are then NA); empty otherwise."
        }
        _ => return None,
    })
}

fn gray_test(column: &str) -> Option<&'static str> {
    Some(match column {
        "cause" => {
            "`hlh` or `death_without_hlh`: the cause whose cumulative incidence curves are compared across the groups of `grouping` (groupings with one group have no row)."
        }
        "statistic" => {
            "Gray's K-sample test statistic (ρ = 0, chi-square), as cmprsk cuminc `Tests`; NA when the score variance is singular (a group without an event of this cause)."
        }
        "df" => "Degrees of freedom: groups with patients minus 1.",
        "p" => "Upper-tail chi-square p-value of `statistic`; NA when `statistic` is NA.",
        "note" => {
            "`not computable: singular score variance ...` when `statistic` is NA; empty otherwise."
        }
        _ => return None,
    })
}

fn incidence_rate(column: &str) -> Option<&'static str> {
    if column.starts_with("rate_per_") && column.ends_with("_person_months") {
        return Some(
            "First episodes per k person-months at risk, k = `incidence.rate_per_person_months` (default 100, in the column name); NA when the group has no person-time at risk.",
        );
    }
    Some(match column {
        "group" => GROUP_INCIDENCE,
        "first_episodes" => {
            "Incident first HLH episodes among the group's patients at risk (prevalent HLH excluded; an onset on the day of death is not counted)."
        }
        "person_months" => {
            "Person-months at risk of a first episode: days from the origin to the first onset, death or last contact, summed over the group's patients at risk (prevalent excluded) and divided by `timing.days_per_month` (default 30.4375)."
        }
        "lower" => {
            "Lower limit of the exact Poisson confidence interval of the rate (R poisson.test), per k person-months; NA with the rate."
        }
        "upper" => {
            "Upper limit of the exact Poisson confidence interval of the rate, per k person-months; NA with the rate."
        }
        "note" => {
            "`not computable: no person-time at risk in this group` when the rate is NA; empty otherwise."
        }
        _ => return None,
    })
}

fn incidence_by_definition(column: &str) -> Option<&'static str> {
    Some(match column {
        "definition" => {
            "Definition: a criteria set of the study as configured, or a grid variant named `<set>[<variation>]` (src/study/grid.rs)."
        }
        "base_set" => "Criteria set the definition derives from (itself for the study's own sets).",
        "variation" => {
            "What the variant changes (e.g. `ferritin threshold 3000 µg/L`), `as configured` for the study's own sets."
        }
        "n" => "Study patients at risk of a first episode (prevalent HLH under this definition excluded).",
        "with_hlh" => WITH_HLH,
        "proportion" => "with_hlh / n (crude incidence); NA when n = 0.",
        "exact_lower" => {
            "Lower Clopper–Pearson limit of `proportion` (R binom.test); NA when n = 0."
        }
        "exact_upper" => "Upper Clopper–Pearson limit of `proportion`; NA when n = 0.",
        "cuminc_365d" => {
            "Cumulative incidence (0–1) of the first HLH episode by day 365 from the origin, death without HLH competing (Aalen–Johansen, cmprsk); 0 when no patient has HLH; NA when the fit failed or day 365 is after the last follow-up time."
        }
        "cuminc_365d_se" => {
            "Standard error of `cuminc_365d` (square root of cmprsk's variance); NA when `cuminc_365d` is NA or no patient has HLH."
        }
        "note" => "`not computable: no patient at risk in this group` when n = 0; empty otherwise.",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Episodes
// ---------------------------------------------------------------------------

fn episodes(column: &str) -> Option<&'static str> {
    Some(match column {
        "ongoing_at_end_of_follow_up" => {
            "`true` when the rule still held at the end of follow-up (death or last contact), `end_date` being that day; else `false`."
        }
        "criteria_met_at_onset" => {
            "Names of the set's criteria met on the onset day, `;`-separated in the set's order (empty for `adjudicated`)."
        }
        "n_criteria_met_at_onset" => "Number of criteria met on the onset day.",
        "max_criteria" => "Most criteria of the set met on any day of the episode.",
        "evaluable_criteria" => {
            "Criteria of the set with data in their window (evaluable) on the onset day."
        }
        "n_criteria" => "Number of criteria in the set (0 for `adjudicated`).",
        "score_at_onset" => {
            "The set's own score at onset, in points (score rules such as `hlh_aml` and `hscore`); NA for count rules and `adjudicated`."
        }
        "hscore_at_onset" => {
            "HScore at onset, in points: the companion HScore for a set that computes it alongside, else the set's own score for a score rule (the HScore itself for `hscore`); NA when the set computes no HScore."
        }
        "max_hscore" => {
            "Highest HScore (same source as `hscore_at_onset`) on any day of the episode, in points; NA when the set computes no HScore."
        }
        "hscore_probability_pct" => {
            "Probability of hemophagocytic syndrome for `max_hscore`, in percent, by linear interpolation in the Fardet 2014 table; NA outside HScore 100–240 (see `hscore_probability`) or without a probability."
        }
        "hscore_probability" => {
            "The same probability as text: `<1%` (HScore < 100), `>99%` (HScore > 240) or the percentage rounded to 0.1; NA when the set reports no HScore probability."
        }
        "probability_source" => "`Fardet 2014 table` when a probability is given; NA otherwise.",
        "line" => {
            "Number of the treatment line in effect at onset (the latest line started on or before the onset day, 1 = first line); NA when no line had started."
        }
        "regimen" => "Regimen of that line as written in the cohort; NA when no line had started.",
        "intensity" => {
            "Intensity class of that line (`intensive`, `low_intensity`, `transplant`, `supportive`, `other`); NA when no line had started."
        }
        "days_since_line_start" => {
            "Days from that line's start to the onset (≥ 0); NA when no line had started."
        }
        "disease_status" => {
            "AML status at onset from the latest response assessment on or before it: `before_first_response` (none yet), `in_remission` (CR, CRh or CRi) or `relapsed_refractory` (anything else)."
        }
        _ => return None,
    })
}

fn evidence(column: &str) -> Option<&'static str> {
    Some(match column {
        "criteria_set" => {
            "Set the criterion belongs to: the episode's own set, or `hscore` on the companion-HScore rows (role `max_score`) of a set that computes the HScore alongside; such rows carry the same patient_id and episode as the `hscore` set's own rows, and in the file they follow the rows of the set they belong to."
        }
        "criterion" => "Name of the criterion (on companion rows, the HScore variable).",
        "role" => {
            "`onset` (met on the onset day), `during_episode` (first met on a later day of the episode) or `max_score` (scoring variable on the first day of the episode's maximum score, so that the maximum can be re-added)."
        }
        "evaluated_on" => {
            "Day the criterion was evaluated, by `role`: the onset day, the first day met during the episode, or the maximum-score day; ISO date."
        }
        "condition" => {
            "The test that was met, with its threshold and unit (e.g. `hemoglobin < 90 g/L`)."
        }
        "points" => {
            "Points of the criterion on `evaluated_on` (score rules and the companion HScore); NA for count rules."
        }
        "table" => "Source table of the evidence: `measurements` or `findings`.",
        "source_row" => "1-based data row of the evidence in its source table (header not counted).",
        "date" => {
            "Date of the qualifying measurement or finding (the worst value in the criterion's window, ties to the most recent; for findings the most recent `present` record); ISO date."
        }
        "item" => "Analyte or finding name (e.g. `ferritin`, `splenomegaly`).",
        "raw_value" => {
            "Value as given in the input, in `raw_unit` (for a value reported as a bound, the bound); NA for findings."
        }
        "raw_unit" => "Unit as given in the input; NA for findings.",
        "value" => {
            "Value converted to the canonical unit `unit` (for a bound, the converted bound); NA for findings."
        }
        "unit" => {
            "Canonical unit of `value` (e.g. µg/L for ferritin, g/L for fibrinogen, mmol/L for triglycerides, °C); NA for findings."
        }
        "value_qualifier" => {
            "`>`, `>=`, `<` or `<=` when the value was reported as a bound (`>` with 40000 reads above 40000); NA for exact values and findings."
        }
        _ => return None,
    })
}

fn episode_course(column: &str) -> Option<&'static str> {
    Some(match column {
        "criteria_set" => {
            "The primary criteria set (`detection.primary`), whose episodes (every patient of the cohort) this table follows."
        }
        "next_line" => {
            "Number of the first treatment line started on or after the onset day; NA when none was recorded."
        }
        "next_regimen" => "Regimen of `next_line` as written in the cohort; NA without a next line.",
        "next_line_start" => "Start date of `next_line` (ISO date); NA without a next line.",
        "next_line_end" => {
            "End date of `next_line`, or the patient's end of follow-up (death or last contact) when the line has no end date (ISO date); NA without a next line."
        }
        "resolved_by_line_end" => {
            "`yes` when the episode's `end_date` is on or before `next_line_end`, `no` when later, `no next line` when no line started on or after the onset."
        }
        "died_within_30d_of_episode_end" => {
            "`yes` when the patient died on or before `end_date` + 30 days (deaths during the episode included), else `no` (also when followed less than 30 days after the episode)."
        }
        _ => return None,
    })
}

fn risk_factors(column: &str) -> Option<&'static str> {
    Some(match column {
        "model" => {
            "`fine_gray`: Fine–Gray subdistribution hazard regression of the first HLH episode with death without HLH as the competing event (as R `cmprsk::crr`); `cause_specific_cox`: Cox model of the first HLH episode, censored at death without HLH (as R `coxph`, Efron ties)."
        }
        "term" => "Design-matrix column (R `model.matrix` naming: numeric covariates by name, categorical ones as `<name><level>` against the first level).",
        "coef" => "Log subdistribution hazard ratio (`fine_gray`) or log cause-specific hazard ratio (`cause_specific_cox`) per unit of the term.",
        "se" => "Standard error of `coef`: crr's sandwich (robust) variance for `fine_gray`, the model-based variance for `cause_specific_cox`.",
        "z" => "Wald statistic `coef / se`.",
        "p" => "Two-sided Wald p-value, `2 * pnorm(-|z|)`.",
        "hr" => "`exp(coef)`: subdistribution or cause-specific hazard ratio.",
        "hr_lower" => "Lower confidence limit of `hr`, `exp(coef - z * se)` at the study's `conf_level`.",
        "hr_upper" => "Upper confidence limit of `hr`, `exp(coef + z * se)` at the study's `conf_level`.",
        "n" => "Patients in the model: study patients at risk of a first episode (prevalent HLH at the origin left out) with every covariate present.",
        "hlh_events" => "Patients in the model whose first HLH episode was observed (status 1).",
        "competing_deaths" => "Patients in the model who died without HLH (status 2: the competing event; censored in the cause-specific model).",
        "censored" => "Patients in the model alive without HLH at last contact (status 0).",
        "dropped_missing" => "Patients at risk left out because a covariate was missing (complete-case analysis).",
        "note" => "What the hazard ratio is and how its standard error was computed.",
        _ => return None,
    })
}

fn baseline_characteristics(column: &str) -> Option<&'static str> {
    Some(match column {
        "variable" => {
            "Baseline variable: `patients` (group sizes), `age_at_diagnosis`, `sex`, every other column of the cohort's `patients` table, `first_line_intensity`, `first_line_regimen`."
        }
        "level" => {
            "Level of a categorical variable (one row each, sorted by name), `median (IQR)` for a continuous variable, empty on the variable's header row of a categorical variable and on `patients`."
        }
        "overall" => {
            "Study population: `median (q1–q3)` (R quantile type 7), `n (x.x%)` of the patients with a value, or the number of patients on the `patients` row."
        }
        "hlh" => "Patients with HLH at any time during follow-up under the primary definition (as counted by the incidence tables); same formats as `overall`.",
        "no_hlh" => "Patients without HLH during follow-up under the primary definition; same formats as `overall`.",
        "p_value" => {
            "HLH vs no HLH: Wilcoxon rank-sum (R `wilcox.test(exact = FALSE, correct = TRUE)`) for continuous variables; chi-square (R `chisq.test`, Yates only for 2×2) or, when an expected count is < 5, Fisher's exact (R `fisher.test`) for categorical ones, on the variable's first row; NA when not computable (`note` says why)."
        }
        "test" => "The test behind `p_value`: `Wilcoxon rank-sum`, `chi-square` or `Fisher's exact`.",
        "missing_overall" => "Patients of the study population without a value for the variable.",
        "missing_hlh" => "Patients with HLH without a value for the variable.",
        "missing_no_hlh" => "Patients without HLH without a value for the variable.",
        "note" => "Why a p-value is NA, or what the groups are (on the `patients` row); empty otherwise.",
        _ => return None,
    })
}

fn episode_characteristics(column: &str) -> Option<&'static str> {
    Some(match column {
        "section" => {
            "Block of Table 2: `overview`, `criteria met at onset`, `laboratory values at onset`, `scores`, `treatment phase at onset` or `outcome`."
        }
        "characteristic" => {
            "What the row summarises (laboratory rows name the analyte and its canonical unit, e.g. `ferritin at onset (µg/L)`); episodes of the study patients with HLH under the primary set (first onset during follow-up, not on the day of death)."
        }
        "summary" => {
            "Formatted value: `n (x.x%)` for counts (`n (NA)` when the denominator is 0), `median (q1–q3)` for continuous rows (`NA (no value)` when no episode has a value), a plain number for `episodes`."
        }
        "count" => {
            "Count row: the numerator; median row: the number of episodes with a value."
        }
        "denominator" => {
            "Denominator of the percentage or, on a median row, the number of episodes; NA on the `episodes` row (the note says what the denominator is)."
        }
        "median" => {
            "Median (R quantile type 7) in the characteristic's unit (days for days since line start, points for scores); NA on count rows and when no episode has a value."
        }
        "q1" => "First quartile (R quantile type 7), same unit and NA as `median`.",
        "q3" => "Third quartile (R quantile type 7), same unit and NA as `median`.",
        "note" => {
            "What the denominator is (e.g. `of the episodes`) or how the value was taken (lab value: latest day with a value within the 7 days up to onset, worst value of that day); empty when nothing to add."
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------

fn response_by_line_regimen(column: &str) -> Option<&'static str> {
    const BEST: &str = "Patients whose best response on the line (best ELN category among the line's assessments, relapse records ignored: CR > CRh > CRi > MLFS > PR > SD > PD) is this category.";
    Some(match column {
        "line" => "Treatment line number (1 = first line).",
        "regimen" => "Regimen as written in the cohort (not pooled).",
        "n_treated" => {
            "Study patients treated with this regimen on this line (the denominator: patients never assessed included)."
        }
        "best_CR" | "best_CRh" | "best_CRi" | "best_MLFS" | "best_PR" | "best_SD" | "best_PD" => BEST,
        "not_assessed" => "Patients with no response assessment (other than relapse) on the line.",
        "composite_cr" => "Patients whose best response on the line is CR, CRh or CRi.",
        "composite_cr_rate" => "composite_cr / n_treated.",
        "exact_lower" => "Lower Clopper–Pearson limit of `composite_cr_rate` (R binom.test).",
        "exact_upper" => "Upper Clopper–Pearson limit of `composite_cr_rate` (R binom.test).",
        _ => return None,
    })
}

fn response_by_hlh(column: &str) -> Option<&'static str> {
    Some(match column {
        "group" => {
            "`HLH before first-line response assessment` (first HLH onset under the set before the first response assessment of the first line; never assessed: before the next line's start; no next line: any time) or `no HLH before first-line response assessment`."
        }
        "n" => "Study patients with a first treatment line in the group.",
        "composite_cr" => "Patients of the group whose best first-line response is CR, CRh or CRi.",
        "rate" => "composite_cr / n; NA when n = 0.",
        "exact_lower" => "Lower Clopper–Pearson limit of `rate` (R binom.test); NA when n = 0.",
        "exact_upper" => "Upper Clopper–Pearson limit of `rate`; NA when n = 0.",
        "fisher_p" => {
            "Two-sided p-value of Fisher's exact test of composite CR by HLH group (R fisher.test), the same on both rows of a set; NA when the 2×2 table is empty."
        }
        "note" => {
            "`no patient in this group`, `Fisher's test not computable: empty table` or `Fisher's test uninformative: the other group is empty`; empty otherwise."
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Validation against truth and chart review (written only in some runs)
// ---------------------------------------------------------------------------

fn validation(column: &str) -> Option<&'static str> {
    const CI: &str = "Clopper–Pearson limit at a fixed 95% (R binom.test), not the study's conf_level; NA with the estimate.";
    Some(match column {
        "definition" => {
            "Definition validated: a criteria set of the study (with `adjudicated` when present) or a grid variant `<set>[<variation>]`."
        }
        "rule" => "One-line text of the definition's rule.",
        "n_patients" => {
            "Patients in the cohort (every patient, not only the study population), each classified once."
        }
        "true_positive" => {
            "Patients with at least one truth row (truly positive) and at least one detected episode."
        }
        "false_positive" => "Patients without a truth row but with a detected episode.",
        "false_negative" => "Patients with a truth row but no detected episode.",
        "true_negative" => "Patients with neither a truth row nor a detected episode.",
        "sensitivity" => "TP / (TP + FN); NA without truly positive patients (see `note`).",
        "specificity" => "TN / (TN + FP); NA without truly negative patients.",
        "ppv" => "TP / (TP + FP); NA when no patient is detected.",
        "npv" => "TN / (TN + FN); NA when every patient is detected.",
        "sensitivity_lower" | "sensitivity_upper" | "specificity_lower" | "specificity_upper"
        | "ppv_lower" | "ppv_upper" | "npv_lower" | "npv_upper" => CI,
        "onset_error_median_days" => {
            "Median over the true positives of the first detected onset minus the first true onset, in days (negative = detected early; R quantile type 7); NA without true positives."
        }
        "onset_error_q1_days" => "First quartile of the onset error, days; NA without true positives.",
        "onset_error_q3_days" => "Third quartile of the onset error, days; NA without true positives.",
        "onset_within_3_days" => "True positives whose onset error is at most 3 days either way.",
        "estimated_incidence" => {
            "(TP + FP) / n_patients: proportion of the cohort detected (0–1, not percent); NA for an empty cohort."
        }
        "true_incidence" => {
            "(TP + FN) / n_patients: proportion of the cohort truly positive; NA for an empty cohort."
        }
        "note" => "Why metrics are NA, `;`-separated; empty when none is.",
        _ => return None,
    })
}

fn ppv_adjudicated(column: &str) -> Option<&'static str> {
    Some(match column {
        "criteria_set" => {
            "Criteria set of the study (not `adjudicated` itself, not the grid variants) whose episodes are checked against the adjudicated cases."
        }
        "window_days" => {
            "Matching window, days (7): an episode matches the case of the same patient whose onset is closest to the episode's onset, or to the onset of its merged review-sheet candidate, within this many days."
        }
        "episodes" => "Episodes of the set in the whole cohort.",
        "confirmed" => "Episodes matched to a case the reviewers confirmed as HLH.",
        "rejected" => "Episodes matched to a case the reviewers rejected.",
        "uncertain" => "Episodes matched to a case rated uncertain (left out of the PPV denominator).",
        "disagreement" => {
            "Episodes matched to a case on which the reviewers disagree (left out of the PPV denominator)."
        }
        "not_adjudicated" => "Episodes with no adjudicated case within the window (not reviewed).",
        "confirmed_cases_missed" => "Confirmed cases that no episode of the set matched.",
        "ppv" => {
            "Positive predictive value, confirmed / (confirmed + rejected); NA when no episode matched a confirmed or rejected case (see `note`)."
        }
        "exact_lower" => {
            "Lower Clopper–Pearson limit of `ppv` at a fixed 95% (R binom.test); NA with `ppv`."
        }
        "exact_upper" => {
            "Upper Clopper–Pearson limit of `ppv` at a fixed 95%; NA with `ppv`."
        }
        "note" => "Why `ppv` is NA; empty otherwise.",
        _ => return None,
    })
}

fn reviewer_agreement(column: &str) -> Option<&'static str> {
    Some(match column {
        "reviewer_1" => {
            "First reviewer of the pair who rated the most cases in common (ties: the alphabetically first pair); the table has no row when no two reviewers rated the same case."
        }
        "reviewer_2" => "Second reviewer of that pair.",
        "n_items" => "Cases (patient and onset date) rated by both reviewers.",
        "observed_agreement" => "Proportion of those cases with the same decision.",
        "expected_agreement" => "Agreement expected by chance from the two reviewers' margins.",
        "kappa" => {
            "Unweighted Cohen's kappa over the decisions (as R psych::cohen.kappa); NA when undefined (both reviewers used a single category)."
        }
        "se" => {
            "Asymptotic standard error of `kappa` (Fleiss, Cohen & Everitt 1969); NA with `kappa`."
        }
        "lower" => "kappa − z·se at a fixed 95%, at least −1; NA with `kappa`.",
        "upper" => "kappa + z·se at a fixed 95%, at most 1; NA with `kappa`.",
        "note" => "Why `kappa` is NA; empty otherwise.",
        _ => return None,
    })
}

fn cir_from_cr1(column: &str) -> Option<&'static str> {
    Some(match column {
        "cause" => {
            "`relapse` (cause 1: first relapse on or after CR1) or `death_in_remission` (cause 2: death without relapse, non-relapse mortality)."
        }
        "day" => {
            "Time point, days from CR1 (one of `incidence.timepoints_days`, default 30, 90, 180, 365)."
        }
        "estimate" => {
            "Aalen–Johansen cumulative incidence (0–1) of the cause by `day` among the patients who reached CR1, as cmprsk cuminc/timepoints; NA when `day` is after the last follow-up time."
        }
        "variance" => {
            "Gray's delta-method variance of `estimate` (cmprsk `var`; its square root is the standard error); NA with `estimate`."
        }
        "lower" => "Lower limit of the pointwise confidence interval of `estimate` at the study's `conf_level`, on the log(−log) scale as tidycmprsk: `estimate^exp(±z·sqrt(variance) / (estimate·log(estimate)))`; NA when `estimate` is 0, 1 or NA.",
        "upper" => "Upper limit of that interval; NA as `lower`.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table of a run on the bundled sample (header as written), plus the tables
    /// written only with a truth table or adjudications.
    const TABLES: [(&str, &str); 41] = [
        ("analyses_not_computed", "analysis,reason"),
        ("cir_from_cr1", "cause,day,estimate,variance,lower,upper"),
        ("cohort_flow", "step,patients"),
        ("cox_hlh", "criteria_set,model,term,coef,hr,se,z,p,hr_lower,hr_upper,n,events"),
        ("efs_by_first_line_intensity_km", "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("efs_by_first_line_intensity_logrank", "group,n,observed,expected,chisq,df,p"),
        ("efs_by_first_line_intensity_summary", "group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("hlh_cumulative_incidence", "criteria_set,grouping,group,cause,day,estimate,variance,lower,upper,note"),
        ("hlh_cumulative_incidence_gray_test", "criteria_set,grouping,cause,statistic,df,p,note"),
        ("hlh_episode_course", "criteria_set,patient_id,episode,onset_date,end_date,next_line,next_regimen,next_line_start,next_line_end,resolved_by_line_end,died_within_30d_of_episode_end"),
        ("hlh_episodes", "patient_id,episode,criteria_set,onset_date,end_date,ongoing_at_end_of_follow_up,criteria_met_at_onset,n_criteria_met_at_onset,max_criteria,evaluable_criteria,n_criteria,score_at_onset,hscore_at_onset,max_hscore,hscore_probability_pct,hscore_probability,probability_source,line,regimen,intensity,days_since_line_start,disease_status"),
        ("hlh_episodes_characteristics", "section,characteristic,summary,count,denominator,median,q1,q3,note"),
        ("hlh_evidence", "patient_id,episode,criteria_set,criterion,role,evaluated_on,condition,points,table,source_row,date,item,raw_value,raw_unit,value,unit,value_qualifier"),
        ("hlh_incidence_by_definition", "definition,base_set,variation,n,with_hlh,proportion,exact_lower,exact_upper,cuminc_365d,cuminc_365d_se,note"),
        ("hlh_incidence_crude", "criteria_set,grouping,group,n,with_hlh,prevalent_at_origin,proportion,wilson_lower,wilson_upper,exact_lower,exact_upper,note"),
        ("hlh_incidence_rate", "criteria_set,grouping,group,first_episodes,person_months,rate_per_100_person_months,lower,upper,note"),
        ("hlh_validation", "definition,rule,n_patients,true_positive,false_positive,false_negative,true_negative,sensitivity,sensitivity_lower,sensitivity_upper,specificity,specificity_lower,specificity_upper,ppv,ppv_lower,ppv_upper,npv,npv_lower,npv_upper,onset_error_median_days,onset_error_q1_days,onset_error_q3_days,onset_within_3_days,estimated_incidence,true_incidence,note"),
        ("os_by_first_line_intensity_km", "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_by_first_line_intensity_logrank", "group,n,observed,expected,chisq,df,p"),
        ("os_by_first_line_intensity_summary", "group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_by_first_line_regimen_km", "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_by_first_line_regimen_logrank", "group,n,observed,expected,chisq,df,p"),
        ("os_by_first_line_regimen_summary", "group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_by_hlh_ever_naive_km", "criteria_set,group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_by_hlh_ever_naive_logrank", "criteria_set,group,n,observed,expected,chisq,df,p"),
        ("os_by_hlh_ever_naive_summary", "criteria_set,group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_landmark_30d_by_hlh_km", "criteria_set,group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_landmark_30d_by_hlh_logrank", "criteria_set,group,n,observed,expected,chisq,df,p"),
        ("os_landmark_30d_by_hlh_summary", "criteria_set,group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_landmark_90d_by_hlh_km", "criteria_set,group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_landmark_90d_by_hlh_logrank", "criteria_set,group,n,observed,expected,chisq,df,p"),
        ("os_landmark_90d_by_hlh_summary", "criteria_set,group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_overall_km", "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("os_overall_summary", "group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("os_simon_makuch_by_hlh", "criteria_set,state,time,n_risk,n_event,n_censor,surv,std_err,lower,upper"),
        ("response_by_hlh", "criteria_set,group,n,composite_cr,rate,exact_lower,exact_upper,fisher_p,note"),
        ("response_by_line_regimen", "line,regimen,n_treated,best_CR,best_CRh,best_CRi,best_MLFS,best_PR,best_SD,best_PD,not_assessed,composite_cr,composite_cr_rate,exact_lower,exact_upper"),
        ("rfs_from_cr1_km", "group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper,cumhaz,cumhaz_se"),
        ("rfs_from_cr1_summary", "group,n,events,median,median_lower,median_upper,rmst,rmst_se"),
        ("hlh_ppv_adjudicated", "criteria_set,window_days,episodes,confirmed,rejected,uncertain,disagreement,not_adjudicated,confirmed_cases_missed,ppv,exact_lower,exact_upper,note"),
        ("reviewer_agreement", "reviewer_1,reviewer_2,n_items,observed_agreement,expected_agreement,kappa,se,lower,upper,note"),
    ];

    #[test]
    fn every_column_of_every_table_is_documented() {
        for (table, header) in TABLES {
            for column in header.split(',') {
                let d = describe(table, column);
                assert!(d.is_some_and(|s| !s.is_empty()), "{table}.{column} is not documented");
            }
        }
    }

    #[test]
    fn a_handful_of_columns_are_documented_per_table() {
        assert!(describe("os_overall_km", "cumhaz").unwrap().contains("Nelson–Aalen"));
        assert!(describe("hlh_incidence_crude", "prevalent_at_origin").unwrap().contains("on or before the origin day"));
        assert!(describe("rfs_from_cr1_km", "time").unwrap().contains("days from CR1"));
        assert!(describe("os_landmark_90d_by_hlh_km", "time").unwrap().contains("landmark"));
        assert!(describe("os_overall_summary", "rmst").unwrap().contains("always NA"));
        assert!(describe("cox_hlh", "n").unwrap().contains("(start, stop]"));
        assert!(describe("hlh_validation", "ppv_lower").unwrap().contains("fixed 95%"));
        // the same name means different things in different tables
        let km = describe("os_by_first_line_intensity_km", "lower").unwrap();
        let rate = describe("hlh_incidence_rate", "lower").unwrap();
        let kappa = describe("reviewer_agreement", "lower").unwrap();
        assert!(km.contains("`surv`") && rate.contains("Poisson") && kappa.contains("kappa"));
        assert_ne!(describe("hlh_cumulative_incidence", "day"), describe("cir_from_cr1", "day"));
        assert_ne!(describe("hlh_episodes", "criteria_set"), describe("hlh_evidence", "criteria_set"));
        // shared columns read the same everywhere
        assert_eq!(describe("hlh_episodes", "patient_id"), describe("hlh_episode_course", "patient_id"));
    }

    #[test]
    fn names_that_depend_on_the_study_file_are_recognised() {
        assert_eq!(describe("os_landmark_7.5d_by_hlh_km", "n_risk"), describe("os_landmark_30d_by_hlh_km", "n_risk"));
        assert!(describe("os_landmark_60d_by_hlh_summary", "median").is_some());
        assert!(describe("os_landmark_60d_by_hlh_logrank", "chisq").is_some());
        assert!(describe("hlh_incidence_rate", "rate_per_1000_person_months").is_some());
        assert!(describe("os_landmark_xd_by_hlh_km", "time").is_none());
        assert!(describe("os_landmark_d_by_hlh_km", "time").is_none());
    }

    #[test]
    fn unknown_columns_and_tables_are_undocumented() {
        assert_eq!(describe("os_overall_km", "no_such_column"), None);
        assert_eq!(describe("hlh_episodes", "lower"), None);
        assert_eq!(describe("no_such_table", "lower"), None);
        assert_eq!(describe("no_such_table", "time"), None);
        assert_eq!(describe("hlh_incidence_crude", "rate_per_100_person_months"), None);
        // a column meaning the same everywhere is still described in an unknown table
        assert!(describe("no_such_table", "criteria_set").is_some());
    }
}
