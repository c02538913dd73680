//! HLH episode detection over time, with an audit trail.
//!
//! Pure Rust on the in-memory [`Cohort`](crate::cohort::Cohort): no polars.
//!
//! - [`criteria`]: declarative criteria sets (TOML; built-in `hlh2004`, `hscore`, `ohi` as
//!   printed, and the AML-aware `hlh_aml`), with the engine primitives that judge a value
//!   against the patient's own course (relative to baseline, persistence, new since
//!   diagnosis, phase-aware cytopenia, not-evaluable policy).
//! - `sweep` (internal): per-patient evaluation on the days where something changes.
//! - [`episodes`]: runs of positive days → episodes, treatment line and disease status at onset.
//! - [`evidence`]: the measurement/finding behind each criterion of each episode.
//! - [`detect()`]: the whole cohort in parallel → [`Detection`]; CSV writers and text summary in
//!   `tables`.
//! - [`probability`]: HScore → probability from the Fardet 2014 table.
//! - [`validation`]: detected episodes against a truth table (sensitivity, PPV, onset error).
//!
//! # Conventions (all documented where implemented)
//! - **Windows**: a value recorded on day `d` counts on days `d..=d + window_days` of its criterion
//!   (default 7 for labs and temperature, 30 for findings, 365 for immunosuppression). The worst
//!   value in the window is used (ties → the most recent): the highest for `>=`/`>` tests, the
//!   lowest for `<=`/`<` tests; a finding is met when it was recorded *present* on any day of the
//!   window (a later "absent" record within the window does not cancel it), and evaluable when
//!   it was recorded at all (present or absent).
//! - **Evaluability**: a criterion with no data in its window is *not evaluable*: neither met nor
//!   counted as normal. A `count_of` criterion is evaluable when at least one of its
//!   sub-conditions has data (the ones without data count as not met). Not-evaluable HScore
//!   variables score 0. The number of evaluable criteria at onset is reported per episode.
//! - **Change days**: each patient is evaluated on each data day `d` and each expiry day
//!   `d + window + 1` (and aplasia boundaries), up to the end of follow-up (death or last
//!   contact); the state is constant in between. Data after the end of follow-up is ignored.
//! - **Episodes**: a run of days on which the rule holds; runs with fewer than
//!   `episode_gap_days` (default 14) negative days between them merge; later runs are
//!   recurrences. The end is the last positive day (values carried over their windows), capped
//!   at the end of follow-up.
//! - **HScore alongside**: for count/all rules the built-in HScore is computed on the same days
//!   (`companion_hscore = true`, the default) and the episode reports its value at onset and its
//!   maximum over the episode, with the probability from the Fardet 2014 table. The set's
//!   `cytopenia_mode` applies to the companion HScore's cytopenia variable too.
//! - **Treatment context** at onset: the most recent line started on or before onset.
//! - **Disease status** at onset: see [`DiseaseStatus`].
//! - **Evidence**: for every episode, each criterion met at onset (role `onset`), each criterion
//!   first met later in the episode (`during_episode`, on its first such day) and each scoring
//!   variable on the day of the maximum HScore (`max_score`) — see [`evidence`].
//!
//! # Criteria TOML (`hemosurv criteria show hlh2004` prints an annotated example)
//! ```toml
//! name = "my_set"                 # used in the criteria_set column
//! description = "..."             # optional
//! episode_gap_days = 14           # optional (default 14)
//! companion_hscore = true         # optional (default true for count/all rules)
//!
//! [rule]
//! kind = "count"                  # "count" (min), "score" (cutoff), "all"
//! min = 5
//! mandatory = ["hemophagocytosis"]  # optional: all of these must be met
//! at_least_one_of = ["a", "b"]    # optional: one of these must be met
//! # cutoff = 169.0 ; probability = "fardet2014"   (score rules)
//!
//! [adaptations]                   # optional, all off by default
//! cytopenia_mode = "count"        # or "ignore_during_aplasia"
//! aplasia_days = 42
//! aplasia_intensities = ["intensive"]
//! ferritin_threshold = 1000.0     # optional override of ferritin threshold tests
//!
//! [[criteria]]
//! name = "ferritin"
//! kind = "lab"                    # "lab", "finding", "count_of", "lab_points"
//! analyte = "ferritin"            # canonical units (µg/L here)
//! comparator = ">="               # ">=", ">", "<=", "<"
//! threshold = 500.0
//! window_days = 7                 # optional
//! points = 10.0                   # optional (score rules)
//!
//! [[criteria]]
//! name = "cytopenias"
//! kind = "count_of"
//! min = 2
//! aplasia_sensitive = true        # suppressed by cytopenia_mode = "ignore_during_aplasia"
//! conditions = [
//!   { analyte = "hemoglobin", comparator = "<", threshold = 90.0 },
//!   { analyte = "platelets", comparator = "<", threshold = 100.0, window_days = 3 },
//!   { finding = "splenomegaly" },
//! ]
//! count_points = [ { count = 2, points = 24.0 } ]   # optional
//!
//! [[criteria]]
//! name = "temperature"
//! kind = "lab_points"
//! analyte = "temperature"
//! worst = "max"                   # which value of the window is scored
//! bands = [ { below = 38.4, points = 0.0 }, { from = 38.4, to = 39.4, points = 33.0 }, { above = 39.4, points = 49.0 } ]
//! ```
//! Unknown keys, analytes, findings, comparators or kinds are errors naming the file and key
//! (e.g. `criteria[6] ("ferritin").analyte`).
//!
//! # AML adaptations (off by default) and their rationale
//! - `cytopenia_mode = "ignore_during_aplasia"`: after intensive induction almost every AML
//!   patient is pancytopenic for weeks, so the cytopenia criterion carries no information
//!   about HLH (Zoref-Lorenz, Blood 2022; Delavigne, Haematologica 2014 examined only
//!   unexpected or prolonged cytopenia). Criteria marked `aplasia_sensitive` are then *not
//!   evaluable* on days `start..=start + aplasia_days` (default 42) of each line whose
//!   intensity is in `aplasia_intensities` (default intensive): the patient needs the minimum
//!   count among the remaining criteria.
//! - `ferritin_threshold`: ferritin ≥ 500 µg/L is almost universal in transfused AML patients;
//!   O-HLH2004 and OHI use 1000 µg/L.
//! - `rule.mandatory = ["hemophagocytosis"]` and `rule.min = 4`: as in AML cohorts that
//!   required marrow hemophagocytosis or 4 of 8 criteria (Bichon 2021).

pub mod criteria;
pub mod detect;
pub mod episodes;
pub mod evidence;
pub mod probability;
mod sweep;
pub mod tables;
pub use crate::cohort::text;
pub mod validation;

pub use criteria::{
    builtin_toml, Adaptations, Band, BaselineStat, Bound, Comparator, Condition, CountPoints, CriteriaError, CriteriaSet,
    Criterion, CriterionKind, CytopeniaMode, NotEvaluable, ProbabilityTable, Recovery, Rule, RuleKind, Temporal, Test, Worst,
    ALL_BUILTIN_NAMES, BUILTIN_NAMES, DESIGNED_BUILTIN_NAMES,
};
pub use detect::{
    detect, detect_many, detect_many_into, evaluate_at, timeline, CriterionStatus, DayEvaluation, DetectOptions, Detection,
    DetectionSummary, Episode, EvidenceSink, IntensityCount, MetCriteria, PartwiseDetection, SourceRef,
};
pub use episodes::{disease_status, treatment_context, DiseaseStatus, TreatmentContext};
pub use evidence::{Evidence, EvidenceRole, EvidenceTable};
pub use probability::{hscore_probability, HscoreProbability, FARDET_2014_TABLE, PROBABILITY_SOURCE};
pub use tables::{episodes_table, evidence_table, EPISODE_COLUMNS, EPISODE_TYPES, EVIDENCE_COLUMNS, EVIDENCE_TYPES};
pub use text::SharedText;
pub use validation::{
    validate, validate_onsets, validation_table, Metric, Truth, TruthEpisode, TruthError, ValidationRow, VALIDATION_COLUMNS,
};

/// The laboratory panel shown around HLH episodes (chart-review sheet, Table 2), in display
/// order, with `true` when the value pointing to HLH is the highest (ferritin, triglycerides,
/// sCD25, AST, temperature) and `false` when it is the lowest (fibrinogen, blood counts).
pub const HLH_LAB_PANEL: [(crate::cohort::Analyte, bool); 9] = {
    use crate::cohort::Analyte;
    [
        (Analyte::Ferritin, true),
        (Analyte::Triglycerides, true),
        (Analyte::Fibrinogen, false),
        (Analyte::Scd25, true),
        (Analyte::Ast, true),
        (Analyte::Hemoglobin, false),
        (Analyte::Platelets, false),
        (Analyte::Neutrophils, false),
        (Analyte::Temperature, true),
    ]
};
