//! Declarative criteria sets: the Rust model, its TOML form and the built-in sets.
//!
//! A criteria set is data, not code: `hlh2004`, `hscore` and `ohi` (published, applied as
//! printed: [`BUILTIN_NAMES`]) and `hlh_aml` (designed here for HLH under intensive AML
//! therapy: [`DESIGNED_BUILTIN_NAMES`]) are TOML files embedded in the binary
//! (`src/hlh/builtin/*.toml`), and a user's own file in the same form loads without touching
//! Rust ([`CriteriaSet::from_file`]).
//!
//! # Model
//! A set is a list of [`Criterion`] plus a [`Rule`]:
//! - a criterion is one of
//!   - `kind = "lab"`: one analyte compared with a threshold (`comparator` `>=`, `>`, `<=`, `<`);
//!   - `kind = "finding"`: a finding (splenomegaly, hemophagocytosis, ...) recorded present;
//!   - `kind = "count_of"`: at least `min` of several sub-conditions (each a lab test or a
//!     finding), optionally scored by the number met (`count_points`);
//!   - `kind = "lab_points"`: points bands on the worst value of one analyte;
//! - the rule is `count` (at least `min` criteria met), `score` (sum of points ≥ `cutoff`) or
//!   `all` (every criterion met), each optionally with `mandatory` criteria (all of them
//!   must be met) and `at_least_one_of` criteria (one of them must be met).
//!
//! All values are in the canonical units of [`Analyte::canonical_unit`] (°C, g/L, 10^9/L,
//! µg/L, mmol/L, U/L, U/mL): the loader normalises units before detection.
//!
//! # Windows
//! Every criterion (and every sub-condition of a `count_of`) looks back over a window of
//! `window_days`: a value recorded on day `d` counts on days `d..=d + window_days` (with
//! the default 7, a value 7 days before the evaluation day counts, 8 days before does not).
//! Defaults: 7 days for laboratory values and temperature, 30 days for findings
//! (splenomegaly, hepatomegaly, hemophagocytosis, low NK activity) and 365 days for
//! immunosuppression (long-term immunosuppressive therapy documented within the last year).
//! Within the window the *worst* value is used (highest for `>=`/`>` tests, lowest for
//! `<=`/`<` tests, as declared by `worst` for points bands; ties → the most recent).
//!
//! # Engine primitives: judging a value against the patient's own course
//! Usable in any set, on a `lab`/`finding` criterion or on a `count_of` sub-condition (at most
//! one per test; see [`Temporal`]). Each is evaluated *per measurement* before the window: a
//! measurement that qualifies counts on days `d..=d + window_days` like any value, so the
//! change-day sweep is unchanged (qualifying measurements are one more channel).
//! - **Relative to baseline / rise within a window** (labs):
//!   `relative = { baseline = "min" | "median" | "max", lookback_days = N, comparator = ">=", factor = k }`.
//!   The measurement on day `d` must meet the test's own `comparator`/`threshold` **and**
//!   `value (comparator) k × baseline`, baseline = the statistic of the patient's values of the
//!   analyte on days `d - N ..= d - 1`. "Ferritin ≥ 3,000 and ≥ 3× within 14 days" is
//!   `threshold = 3000, relative = { baseline = "min", lookback_days = 14, comparator = ">=", factor = 3 }`;
//!   "fibrinogen fallen by ≥ 40 % from baseline" is `baseline = "median", comparator = "<=", factor = 0.6`.
//!   No earlier value in the look-back → not evaluable (if the absolute test holds) or not met
//!   (if it does not).
//! - **Persistence** (labs): `persistent = { days = n, within_days = W }`: the test is met on at
//!   least `n` distinct calendar days within `d - W + 1 ..= d`. Every measurement of the analyte
//!   makes it evaluable.
//! - **New since diagnosis** (findings and labs): `new_since_diagnosis_days = D`: records up to
//!   diagnosis + `D` days are ignored, and a patient in whom the finding was present (or the
//!   test met) then is not evaluable for the whole follow-up (splenomegaly of the leukaemia,
//!   DIC at diagnosis).
//! - **Phase-aware cytopenia** (`[adaptations]`, criteria marked `aplasia_sensitive`):
//!   `cytopenia_mode = "ignore_during_aplasia"` makes them not evaluable on days
//!   `start..=start + aplasia_days` of every line whose intensity is in `aplasia_intensities`
//!   (counts failing to recover by then count); `recovery = { analyte, comparator, threshold,
//!   from_day }` ends a line's aplasia the day before the first value meeting the recovery test
//!   on day `start + from_day` or later (a fall after a documented recovery counts);
//!   `ignore_before_first_line = true` also covers the days before the first line (cytopenia
//!   of the untreated leukaemia); `ignore_values_from_aplasia = true` keeps values recorded in
//!   those periods out of the windows afterwards.
//! - **Not-evaluable policy** (`[rule]`): `not_evaluable = "not_met"` (default, printed
//!   behaviour: a criterion without data counts as not met / 0 points) or
//!   `not_evaluable = "proportional"` with `floor = f`: a count rule needs
//!   `max(f, ceil(min × n_evaluable / n))` criteria and a score rule
//!   `max(f, cutoff × evaluable_max_points / max_points)` points, so sensitivity does not
//!   silently drop when rarely measured criteria (sCD25, NK activity, marrow) have no data.
//!   The number of evaluable criteria at onset is reported with every episode either way.
//! - A score rule may also report the HScore alongside (`companion_hscore = true`, as
//!   `hlh_aml` does); the HScore set itself cannot.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cohort::{Analyte, FindingKind, Intensity};

/// Default look-back window for laboratory values and temperature, in days.
pub const DEFAULT_LAB_WINDOW_DAYS: u32 = 7;
/// Default look-back window for findings (organomegaly, hemophagocytosis, NK activity), in days.
pub const DEFAULT_FINDING_WINDOW_DAYS: u32 = 30;
/// Default look-back window for known immunosuppression, in days.
pub const DEFAULT_IMMUNOSUPPRESSION_WINDOW_DAYS: u32 = 365;
/// Default number of days without the rule that still merge two runs into one episode.
pub const DEFAULT_EPISODE_GAP_DAYS: u32 = 14;
/// Default length of chemotherapy-induced aplasia after the start of an intensive line.
pub const DEFAULT_APLASIA_DAYS: u32 = 42;
/// Largest accepted window, gap or aplasia length (days), to keep day arithmetic far from overflow.
pub const MAX_DAYS_PARAMETER: u32 = 100_000;
/// Largest number of criteria in one set.
pub const MAX_CRITERIA: usize = 64;

const BUILTIN_HLH2004: &str = include_str!("builtin/hlh2004.toml");
const BUILTIN_HSCORE: &str = include_str!("builtin/hscore.toml");
const BUILTIN_OHI: &str = include_str!("builtin/ohi.toml");
const BUILTIN_HLH_AML: &str = include_str!("builtin/hlh_aml.toml");

/// Names of the built-in criteria sets, in a fixed order.
/// These are the *published* sets, applied as printed.
pub const BUILTIN_NAMES: [&str; 3] = ["hlh2004", "hscore", "ohi"];

/// Built-in sets designed by this project (not published definitions), e.g. `hlh_aml`.
pub const DESIGNED_BUILTIN_NAMES: [&str; 1] = ["hlh_aml"];

/// Every built-in set: the published ones, then the designed ones.
pub const ALL_BUILTIN_NAMES: [&str; 4] = ["hlh2004", "hscore", "ohi", "hlh_aml"];

/// The annotated TOML text of a built-in set (with its comments), for `hemosurv criteria show`.
pub fn builtin_toml(name: &str) -> Option<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "hlh2004" => Some(BUILTIN_HLH2004),
        "hscore" => Some(BUILTIN_HSCORE),
        "ohi" => Some(BUILTIN_OHI),
        "hlh_aml" => Some(BUILTIN_HLH_AML),
        _ => None,
    }
}

/// Error loading or validating a criteria set. Every variant names its source
/// (a file path, `builtin:NAME` or `<string>`) and, where it applies, the TOML key.
#[derive(Debug, thiserror::Error)]
pub enum CriteriaError {
    /// The file could not be read.
    #[error("criteria file {path}: cannot read: {source}")]
    Io {
        /// Path as given.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML or does not have the expected shape (unknown key, wrong type).
    #[error("criteria file {source_name}: {message}")]
    Toml {
        /// File path or `builtin:NAME` / `<string>`.
        source_name: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// A value is invalid (unknown analyte or finding, bad comparator, bad band ...).
    #[error("criteria file {source_name}: key `{key}`: {message}")]
    Invalid {
        /// File path or `builtin:NAME` / `<string>`.
        source_name: String,
        /// The offending key, e.g. `criteria[2].analyte`.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Serialising to TOML failed (should not happen for a validated set).
    #[error("cannot write criteria set {name} as TOML: {message}")]
    Serialize {
        /// Set name.
        name: String,
        /// Serializer message.
        message: String,
    },
}

/// Comparison of a value with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `value >= threshold`
    Ge,
    /// `value > threshold`
    Gt,
    /// `value <= threshold`
    Le,
    /// `value < threshold`
    Lt,
}

impl Comparator {
    /// Whether `value (op) threshold` holds. False for NaN.
    #[inline]
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparator::Ge => value >= threshold,
            Comparator::Gt => value > threshold,
            Comparator::Le => value <= threshold,
            Comparator::Lt => value < threshold,
        }
    }

    /// ASCII symbol as written in TOML (`>=`, `>`, `<=`, `<`).
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Ge => ">=",
            Comparator::Gt => ">",
            Comparator::Le => "<=",
            Comparator::Lt => "<",
        }
    }

    /// The direction of the worst value for this test: highest for `>=`/`>`, lowest for `<=`/`<`.
    pub fn worst(self) -> Worst {
        match self {
            Comparator::Ge | Comparator::Gt => Worst::Max,
            Comparator::Le | Comparator::Lt => Worst::Min,
        }
    }

    /// Parse `>=`, `>`, `<=`, `<` (also `≥`, `≤`, `ge`, `gt`, `le`, `lt`).
    pub fn parse(s: &str) -> Option<Comparator> {
        match s.trim() {
            ">=" | "≥" | "ge" => Some(Comparator::Ge),
            ">" | "gt" => Some(Comparator::Gt),
            "<=" | "≤" | "le" => Some(Comparator::Le),
            "<" | "lt" => Some(Comparator::Lt),
            _ => None,
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Which value within the window is the worst one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Worst {
    /// The highest value.
    Max,
    /// The lowest value.
    Min,
}

impl Worst {
    fn name(self) -> &'static str {
        match self {
            Worst::Max => "max",
            Worst::Min => "min",
        }
    }
}

/// One elementary test: a lab value against a threshold, or a finding recorded present.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `analyte (comparator) threshold`, threshold in the canonical unit.
    Lab {
        /// Analyte.
        analyte: Analyte,
        /// Comparator.
        comparator: Comparator,
        /// Threshold in the analyte's canonical unit.
        threshold: f64,
    },
    /// The finding is recorded present.
    Finding(FindingKind),
}

impl Test {
    /// Default window of this test when none is given.
    pub fn default_window(&self) -> u32 {
        match self {
            Test::Lab { .. } => DEFAULT_LAB_WINDOW_DAYS,
            Test::Finding(FindingKind::Immunosuppression) => DEFAULT_IMMUNOSUPPRESSION_WINDOW_DAYS,
            Test::Finding(_) => DEFAULT_FINDING_WINDOW_DAYS,
        }
    }

    /// Human-readable form, e.g. `hemoglobin < 90 g/L` or `splenomegaly present`.
    pub fn describe(&self) -> String {
        match self {
            Test::Lab { analyte, comparator, threshold } => {
                format!("{} {} {} {}", analyte.name(), comparator.symbol(), threshold, analyte.canonical_unit())
            }
            Test::Finding(f) => format!("{} present", f.name()),
        }
    }
}

/// A sub-condition of a `count_of` criterion, with an optional own window.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The test.
    pub test: Test,
    /// Window override; `None` = the criterion's window, else the test's default.
    pub window_days: Option<u32>,
    /// Optional judgement against the patient's own course (see [`Temporal`]).
    pub temporal: Option<Temporal>,
}

/// Statistic of the patient's earlier values used as baseline by [`Temporal::Relative`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaselineStat {
    /// Lowest earlier value (a *rise* from the nadir: "k-fold rise within N days").
    Min,
    /// Median of the earlier values (R `median`: mean of the two middle values when even).
    Median,
    /// Highest earlier value (a *fall* from the peak).
    Max,
}

impl BaselineStat {
    /// Name as written in TOML.
    pub fn name(self) -> &'static str {
        match self {
            BaselineStat::Min => "min",
            BaselineStat::Median => "median",
            BaselineStat::Max => "max",
        }
    }

    fn parse(s: &str) -> Option<BaselineStat> {
        match s.trim() {
            "min" => Some(BaselineStat::Min),
            "median" => Some(BaselineStat::Median),
            "max" => Some(BaselineStat::Max),
            _ => None,
        }
    }
}

/// An engine primitive that judges a test against the patient's own course. Evaluated per
/// measurement (or finding) before the window: a measurement *qualifies* when the primitive
/// holds on its day, and a qualifying measurement counts on days `d..=d + window_days` like
/// any other value (see the module docs of [`crate::hlh::criteria`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Temporal {
    /// Relative to baseline / rise within a window (lab tests only): the measurement on day
    /// `d` meets the test's own threshold **and** `value (comparator) factor × baseline`, where
    /// baseline is `stat` of the patient's values of the same analyte on days
    /// `d - lookback_days ..= d - 1`. A measurement meeting the absolute threshold with no
    /// earlier value in the look-back is *not evaluable* (no baseline); one failing the
    /// absolute threshold is evaluable and not met.
    Relative {
        /// Baseline statistic.
        stat: BaselineStat,
        /// Look-back length in days (earlier values on days `d - lookback_days ..= d - 1`).
        lookback_days: u32,
        /// How the value compares with `factor × baseline`.
        comparator: Comparator,
        /// Multiplier of the baseline (e.g. 3.0 for a three-fold rise, 0.5 for a 50 % fall).
        factor: f64,
    },
    /// Persistence (lab tests only): the test is met on at least `days` distinct calendar days
    /// within the `within_days` days ending on the measurement day (`d - within_days + 1 ..= d`).
    /// Every measurement of the analyte makes the condition evaluable.
    Persistent {
        /// Distinct days needed.
        days: u32,
        /// Length of the period in days.
        within_days: u32,
    },
    /// New since diagnosis only (findings and lab tests): records on days up to
    /// `diagnosis + days` are ignored, and if the finding was recorded *present* (or the lab
    /// test was *met*) then, the condition is not evaluable for the whole follow-up of that
    /// patient (what is present at diagnosis — splenomegaly of the leukaemia, fibrinogen of a
    /// DIC at diagnosis — cannot become new).
    NewSinceDiagnosis {
        /// Days after diagnosis that still count as "at diagnosis".
        days: u32,
    },
}

impl Temporal {
    /// Human-readable suffix, e.g. ` and >= 3 x min of previous 14 days`.
    pub fn describe(&self) -> String {
        match self {
            Temporal::Relative { stat, lookback_days, comparator, factor } => {
                format!(" and {} {} x {} of previous {} days", comparator.symbol(), factor, stat.name(), lookback_days)
            }
            Temporal::Persistent { days, within_days } => {
                format!(" on >= {days} days within {within_days} days")
            }
            Temporal::NewSinceDiagnosis { days } => {
                format!(" (new: not present/met up to diagnosis + {days} days)")
            }
        }
    }

    /// Description of a test with this primitive.
    pub fn describe_test(t: Option<&Temporal>, test: &Test) -> String {
        match t {
            None => test.describe(),
            Some(t) => format!("{}{}", test.describe(), t.describe()),
        }
    }
}

/// Documented count recovery after an intensive/transplant line (phase-aware cytopenia): the
/// expected aplasia of the line ends on the day before the first measurement on day
/// `start + from_day` or later that meets `analyte (comparator) threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recovery {
    /// Analyte (e.g. neutrophils).
    pub analyte: Analyte,
    /// Comparator (e.g. `>=`).
    pub comparator: Comparator,
    /// Threshold in the canonical unit (e.g. 1.0 × 10^9/L).
    pub threshold: f64,
    /// Earliest day after line start at which a value can document recovery (values before the
    /// nadir are not recovery).
    pub from_day: u32,
}

/// How criteria that are not evaluable (no data in their window) affect the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NotEvaluable {
    /// Printed behaviour: a not-evaluable criterion counts as not met (score 0).
    NotMet,
    /// Count rule over evaluable criteria: the threshold is scaled by the evaluable share,
    /// `required = max(floor, ceil(min × n_evaluable / n))` for count rules and
    /// `required = max(floor, cutoff × evaluable_max_points / max_points)` for score rules.
    Proportional {
        /// Lowest threshold whatever the evaluable share.
        floor: f64,
    },
}

/// One bound of a points band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// Bound value in the canonical unit.
    pub value: f64,
    /// Whether the bound itself belongs to the band.
    pub inclusive: bool,
}

/// A points band: `lower (<|<=) value (<|<=) upper` → `points`. A missing bound is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Lower bound (`from` = inclusive, `above` = exclusive).
    pub lower: Option<Bound>,
    /// Upper bound (`to` = inclusive, `below` = exclusive).
    pub upper: Option<Bound>,
    /// Points given to a value in this band.
    pub points: f64,
}

impl Band {
    /// Whether `v` lies in the band.
    #[inline]
    pub fn contains(&self, v: f64) -> bool {
        let lo = match self.lower {
            None => true,
            Some(b) => {
                if b.inclusive {
                    v >= b.value
                } else {
                    v > b.value
                }
            }
        };
        let hi = match self.upper {
            None => true,
            Some(b) => {
                if b.inclusive {
                    v <= b.value
                } else {
                    v < b.value
                }
            }
        };
        lo && hi
    }

    /// Human-readable form, e.g. `2000 <= ferritin <= 6000 µg/L`.
    pub fn describe(&self, analyte: Analyte) -> String {
        let mut s = String::new();
        if let Some(b) = self.lower {
            s.push_str(&format!("{} {} ", b.value, if b.inclusive { "<=" } else { "<" }));
        }
        s.push_str(analyte.name());
        if let Some(b) = self.upper {
            s.push_str(&format!(" {} {}", if b.inclusive { "<=" } else { "<" }, b.value));
        }
        s.push(' ');
        s.push_str(analyte.canonical_unit());
        s
    }
}

/// Points given when exactly `count` sub-conditions of a `count_of` criterion are met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountPoints {
    /// Number of sub-conditions met.
    pub count: u32,
    /// Points.
    pub points: f64,
}

/// What a criterion tests.
#[derive(Debug, Clone, PartialEq)]
pub enum CriterionKind {
    /// One test (`kind = "lab"` or `kind = "finding"`).
    Single(Test),
    /// At least `min` of `conditions` (`kind = "count_of"`).
    CountOf {
        /// The sub-conditions.
        conditions: Vec<Condition>,
        /// How many must be met.
        min: u32,
        /// Optional points by exact number met (counts not listed score 0).
        count_points: Vec<CountPoints>,
    },
    /// Points bands on the worst value of one analyte (`kind = "lab_points"`); met when points > 0.
    LabPoints {
        /// Analyte.
        analyte: Analyte,
        /// Which value in the window is the worst.
        worst: Worst,
        /// Bands, first match wins; a value in no band scores 0.
        bands: Vec<Band>,
    },
}

/// One criterion of a set.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// Unique name within the set (used in output tables and in `mandatory`).
    pub name: String,
    /// Optional free text.
    pub description: Option<String>,
    /// What it tests.
    pub kind: CriterionKind,
    /// Look-back window; `None` = default of the test type.
    pub window_days: Option<u32>,
    /// Points when met (score rules; `lab`, `finding` and `count_of` without `count_points`).
    pub points: Option<f64>,
    /// Not evaluable during chemotherapy-induced aplasia when
    /// `cytopenia_mode = "ignore_during_aplasia"`.
    pub aplasia_sensitive: bool,
    /// Optional primitive judging a `lab`/`finding` criterion against the patient's own course.
    pub temporal: Option<Temporal>,
}

impl Criterion {
    /// Effective window of a test of this criterion (condition override, else criterion, else default).
    pub fn window_for(&self, test: &Test, condition_window: Option<u32>) -> u32 {
        condition_window.or(self.window_days).unwrap_or_else(|| test.default_window())
    }

    /// Highest points this criterion can give (0 when unscored).
    pub fn max_points(&self) -> f64 {
        match &self.kind {
            CriterionKind::Single(_) => self.points.unwrap_or(0.0).max(0.0),
            CriterionKind::CountOf { count_points, .. } if !count_points.is_empty() => {
                count_points.iter().map(|p| p.points).fold(0.0, f64::max)
            }
            CriterionKind::CountOf { .. } => self.points.unwrap_or(0.0).max(0.0),
            CriterionKind::LabPoints { bands, .. } => bands.iter().map(|b| b.points).fold(0.0, f64::max),
        }
    }

    /// Effective window of a `lab_points` criterion.
    pub fn points_window(&self) -> u32 {
        self.window_days.unwrap_or(DEFAULT_LAB_WINDOW_DAYS)
    }
}

/// How the criteria combine into a positive day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleKind {
    /// At least `min` criteria met.
    Count {
        /// Minimum number of criteria.
        min: u32,
    },
    /// Total points ≥ `cutoff`.
    Score {
        /// Cut-off (inclusive).
        cutoff: f64,
    },
    /// Every criterion met.
    All,
}

/// Score → probability conversion reported alongside a score rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbabilityTable {
    /// The published Fardet 2014 HScore table, linear interpolation (see [`crate::hlh::hscore_probability`]).
    Fardet2014,
}

/// The rule of a set.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Count, score or all.
    pub kind: RuleKind,
    /// Criteria that must be met in addition (e.g. `["hemophagocytosis"]`).
    pub mandatory: Vec<String>,
    /// At least one of these criteria must be met in addition (empty: no such condition),
    /// e.g. an HLH-specific feature beside signals shared with sepsis.
    pub at_least_one_of: Vec<String>,
    /// For score rules: how to turn the score into a probability.
    pub probability: Option<ProbabilityTable>,
    /// How not-evaluable criteria affect the threshold (default: counted as not met).
    pub not_evaluable: NotEvaluable,
}

/// How the cytopenia criterion is handled during chemotherapy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CytopeniaMode {
    /// Count cytopenias as in the published criteria (default).
    Count,
    /// Criteria marked `aplasia_sensitive` are not evaluable on days
    /// `start..=start + aplasia_days` of every line whose intensity is in `aplasia_intensities`.
    IgnoreDuringAplasia,
}

/// AML adaptations; all off by default (the published criteria are applied as printed).
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptations {
    /// Cytopenia handling.
    pub cytopenia_mode: CytopeniaMode,
    /// Aplasia length after line start (days), for `IgnoreDuringAplasia`.
    pub aplasia_days: u32,
    /// Line intensities that cause aplasia (default: intensive).
    pub aplasia_intensities: Vec<Intensity>,
    /// Replaces the threshold of every ferritin threshold test (`lab` criteria and `count_of`
    /// sub-conditions; points bands are unchanged).
    pub ferritin_threshold: Option<f64>,
    /// Documented count recovery that ends a line's expected aplasia early (phase-aware
    /// cytopenia: a fall after recovery counts).
    pub recovery: Option<Recovery>,
    /// With `IgnoreDuringAplasia`: aplasia-sensitive criteria are also not evaluable before
    /// the first treatment line starts (cytopenia of the untreated leukaemia is explained).
    pub ignore_before_first_line: bool,
    /// With `IgnoreDuringAplasia`: values recorded inside an aplasia period (or before the
    /// first line with `ignore_before_first_line`) never count for aplasia-sensitive criteria,
    /// also after the period ends (otherwise a value from the last aplasia week stays in the
    /// window for `window_days` after a documented recovery).
    pub ignore_values_from_aplasia: bool,
}

impl Default for Adaptations {
    fn default() -> Self {
        Adaptations {
            cytopenia_mode: CytopeniaMode::Count,
            aplasia_days: DEFAULT_APLASIA_DAYS,
            aplasia_intensities: vec![Intensity::Intensive],
            ferritin_threshold: None,
            recovery: None,
            ignore_before_first_line: false,
            ignore_values_from_aplasia: false,
        }
    }
}

/// A validated criteria set.
#[derive(Debug, Clone, PartialEq)]
pub struct CriteriaSet {
    /// Short name, used in output tables (`criteria_set` column).
    pub name: String,
    /// Optional free text.
    pub description: Option<String>,
    /// Runs of positive days separated by fewer than this many negative days merge into one episode.
    pub episode_gap_days: u32,
    /// For count/all rules: also compute the built-in HScore on every day (reported as `max_hscore`).
    pub companion_hscore: bool,
    /// How criteria combine.
    pub rule: Rule,
    /// AML adaptations.
    pub adaptations: Adaptations,
    /// The criteria (at most 64).
    pub criteria: Vec<Criterion>,
}

impl CriteriaSet {
    /// A built-in set: `hlh2004`, `hscore` or `ohi` (case-insensitive); `None` for any other name.
    pub fn builtin(name: &str) -> Option<CriteriaSet> {
        let text = builtin_toml(name)?;
        // The embedded files are validated by the unit tests: parsing cannot fail.
        let set = CriteriaSet::from_toml_str(text, &format!("builtin:{}", name.trim().to_ascii_lowercase()))
            .expect("built-in criteria sets are valid");
        Some(set)
    }

    /// A built-in name, or else a path to a TOML file.
    pub fn resolve(name_or_path: &str) -> Result<CriteriaSet, CriteriaError> {
        match CriteriaSet::builtin(name_or_path) {
            Some(set) => Ok(set),
            None => CriteriaSet::from_file(Path::new(name_or_path)),
        }
    }

    /// Load a set from a TOML file.
    pub fn from_file(path: &Path) -> Result<CriteriaSet, CriteriaError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| CriteriaError::Io { path: path.display().to_string(), source })?;
        CriteriaSet::from_toml_str(&text, &path.display().to_string())
    }

    /// Parse and validate TOML text; `source_name` (a path or label) is quoted in errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<CriteriaSet, CriteriaError> {
        let raw: SetToml = toml::from_str(text).map_err(|e| CriteriaError::Toml {
            source_name: source_name.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        raw.into_set(source_name)
    }

    /// The set as TOML in the same form [`CriteriaSet::from_toml_str`] reads (comments are not kept;
    /// see [`builtin_toml`] for the annotated built-in text).
    pub fn to_toml_string(&self) -> Result<String, CriteriaError> {
        let raw = SetToml::from_set(self);
        toml::to_string(&raw).map_err(|e| CriteriaError::Serialize { name: self.name.clone(), message: e.to_string() })
    }

    /// Check the set (names unique, rule consistent, ...). Sets built in code should call this;
    /// sets loaded from TOML are already validated.
    pub fn validate(&self) -> Result<(), CriteriaError> {
        // Round-trip through the TOML form, which carries every check.
        SetToml::from_set(self).into_set(&format!("<set {}>", self.name)).map(|_| ())
    }

    /// Index of a criterion by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.criteria.iter().position(|c| c.name == name)
    }

    /// One-line description of the rule, e.g. `>= 5 of 8 criteria`.
    pub fn rule_text(&self) -> String {
        let n = self.criteria.len();
        let mut s = match self.rule.kind {
            RuleKind::Count { min } => format!(">= {min} of {n} criteria"),
            RuleKind::Score { cutoff } => format!("score >= {cutoff} of max {}", self.max_score()),
            RuleKind::All => format!("all {n} criteria"),
        };
        if !self.rule.mandatory.is_empty() {
            s.push_str(&format!(", mandatory: {}", self.rule.mandatory.join(", ")));
        }
        if !self.rule.at_least_one_of.is_empty() {
            s.push_str(&format!(", at least one of: {}", self.rule.at_least_one_of.join(", ")));
        }
        if self.adaptations.cytopenia_mode == CytopeniaMode::IgnoreDuringAplasia {
            s.push_str(&format!(
                ", cytopenias ignored {} days after start of {} lines",
                self.adaptations.aplasia_days,
                self.adaptations.aplasia_intensities.iter().map(|i| i.name()).collect::<Vec<_>>().join("/")
            ));
        }
        if let Some(t) = self.adaptations.ferritin_threshold {
            s.push_str(&format!(", ferritin threshold {t} µg/L"));
        }
        if self.adaptations.ignore_before_first_line {
            s.push_str(", cytopenias ignored before the first line");
        }
        if self.adaptations.ignore_values_from_aplasia {
            s.push_str(" (values from those periods never count)");
        }
        if let Some(r) = &self.adaptations.recovery {
            s.push_str(&format!(
                ", aplasia ends at {} {} {} {} from day {}",
                r.analyte.name(),
                r.comparator.symbol(),
                r.threshold,
                r.analyte.canonical_unit(),
                r.from_day
            ));
        }
        if let NotEvaluable::Proportional { floor } = self.rule.not_evaluable {
            s.push_str(&format!(", threshold scaled to the evaluable criteria (floor {floor})"));
        }
        s
    }

    /// Highest attainable total score.
    pub fn max_score(&self) -> f64 {
        self.criteria.iter().map(Criterion::max_points).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// TOML form
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetToml {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    episode_gap_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    companion_hscore: Option<bool>,
    rule: RuleToml,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adaptations: Option<AdaptationsToml>,
    criteria: Vec<CriterionToml>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cutoff: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mandatory: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    at_least_one_of: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probability: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_evaluable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptationsToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cytopenia_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aplasia_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aplasia_intensities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ferritin_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recovery: Option<RecoveryToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignore_before_first_line: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignore_values_from_aplasia: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryToml {
    analyte: String,
    comparator: String,
    threshold: f64,
    from_day: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelativeToml {
    baseline: String,
    lookback_days: i64,
    comparator: String,
    factor: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersistentToml {
    days: i64,
    within_days: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionToml {
    name: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    analyte: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comparator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    worst: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    points: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aplasia_sensitive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conditions: Option<Vec<ConditionToml>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count_points: Option<Vec<CountPointsToml>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bands: Option<Vec<BandToml>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relative: Option<RelativeToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persistent: Option<PersistentToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_since_diagnosis_days: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    analyte: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comparator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relative: Option<RelativeToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persistent: Option<PersistentToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_since_diagnosis_days: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountPointsToml {
    count: i64,
    points: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BandToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    above: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    below: Option<f64>,
    points: f64,
}

/// Validation context: the source name for error messages.
struct Ctx<'a> {
    source: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> CriteriaError {
        CriteriaError::Invalid { source_name: self.source.to_string(), key: key.into(), message: message.into() }
    }

    fn days(&self, key: &str, v: i64) -> Result<u32, CriteriaError> {
        if v < 0 || v > i64::from(MAX_DAYS_PARAMETER) {
            return Err(self.err(key, format!("must be a whole number of days between 0 and {MAX_DAYS_PARAMETER}, got {v}")));
        }
        Ok(v as u32)
    }

    fn finite(&self, key: &str, v: f64) -> Result<f64, CriteriaError> {
        if !v.is_finite() {
            return Err(self.err(key, format!("must be a finite number, got {v}")));
        }
        Ok(v)
    }

    fn analyte(&self, key: &str, s: &str) -> Result<Analyte, CriteriaError> {
        Analyte::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Analyte::ALL.iter().map(|a| a.name()).collect();
            self.err(key, format!("unknown analyte \"{s}\"; expected one of {}", names.join(", ")))
        })
    }

    fn finding(&self, key: &str, s: &str) -> Result<FindingKind, CriteriaError> {
        FindingKind::parse(s).ok_or_else(|| {
            let names: Vec<&str> = FindingKind::ALL.iter().map(|a| a.name()).collect();
            self.err(key, format!("unknown finding \"{s}\"; expected one of {}", names.join(", ")))
        })
    }

    fn comparator(&self, key: &str, s: &str) -> Result<Comparator, CriteriaError> {
        Comparator::parse(s)
            .ok_or_else(|| self.err(key, format!("unknown comparator \"{s}\"; expected one of \">=\", \">\", \"<=\", \"<\"")))
    }

    /// The temporal primitive of a test from its optional TOML keys at `key`.
    fn temporal(
        &self,
        key: &str,
        test: &Test,
        relative: &Option<RelativeToml>,
        persistent: &Option<PersistentToml>,
        new_since: Option<i64>,
    ) -> Result<Option<Temporal>, CriteriaError> {
        let n = usize::from(relative.is_some()) + usize::from(persistent.is_some()) + usize::from(new_since.is_some());
        if n > 1 {
            return Err(self.err(key, "give at most one of `relative`, `persistent`, `new_since_diagnosis_days`"));
        }
        let is_lab = matches!(test, Test::Lab { .. });
        if let Some(r) = relative {
            if !is_lab {
                return Err(self.err(format!("{key}.relative"), "only applies to a lab test"));
            }
            let stat = BaselineStat::parse(&r.baseline).ok_or_else(|| {
                self.err(
                    format!("{key}.relative.baseline"),
                    format!("unknown baseline \"{}\"; expected \"min\", \"median\" or \"max\"", r.baseline),
                )
            })?;
            let lookback_days = self.days(&format!("{key}.relative.lookback_days"), r.lookback_days)?;
            if lookback_days == 0 {
                return Err(self.err(format!("{key}.relative.lookback_days"), "must be at least 1 day"));
            }
            let comparator = self.comparator(&format!("{key}.relative.comparator"), &r.comparator)?;
            let factor = self.finite(&format!("{key}.relative.factor"), r.factor)?;
            if factor <= 0.0 {
                return Err(self.err(format!("{key}.relative.factor"), format!("must be > 0, got {factor}")));
            }
            return Ok(Some(Temporal::Relative { stat, lookback_days, comparator, factor }));
        }
        if let Some(p) = persistent {
            if !is_lab {
                return Err(self.err(format!("{key}.persistent"), "only applies to a lab test"));
            }
            let days = self.days(&format!("{key}.persistent.days"), p.days)?;
            let within_days = self.days(&format!("{key}.persistent.within_days"), p.within_days)?;
            if days < 1 || days > within_days {
                return Err(self.err(
                    format!("{key}.persistent.days"),
                    format!("must be between 1 and within_days ({within_days}), got {days}"),
                ));
            }
            return Ok(Some(Temporal::Persistent { days, within_days }));
        }
        if let Some(d) = new_since {
            return Ok(Some(Temporal::NewSinceDiagnosis { days: self.days(&format!("{key}.new_since_diagnosis_days"), d)? }));
        }
        Ok(None)
    }

    /// A test from optional analyte/comparator/threshold/finding fields at `key`.
    fn test(
        &self,
        key: &str,
        analyte: &Option<String>,
        comparator: &Option<String>,
        threshold: Option<f64>,
        finding: &Option<String>,
    ) -> Result<Test, CriteriaError> {
        match (analyte, finding) {
            (Some(a), None) => {
                let analyte = self.analyte(&format!("{key}.analyte"), a)?;
                let c =
                    comparator.as_deref().ok_or_else(|| self.err(format!("{key}.comparator"), "is required for a lab test"))?;
                let comparator = self.comparator(&format!("{key}.comparator"), c)?;
                let t = threshold.ok_or_else(|| self.err(format!("{key}.threshold"), "is required for a lab test"))?;
                let threshold = self.finite(&format!("{key}.threshold"), t)?;
                Ok(Test::Lab { analyte, comparator, threshold })
            }
            (None, Some(f)) => {
                if comparator.is_some() || threshold.is_some() {
                    return Err(self.err(key, "a finding test takes no comparator or threshold"));
                }
                Ok(Test::Finding(self.finding(&format!("{key}.finding"), f)?))
            }
            (Some(_), Some(_)) => Err(self.err(key, "give either `analyte` (lab test) or `finding`, not both")),
            (None, None) => Err(self.err(key, "needs `analyte` (with comparator and threshold) or `finding`")),
        }
    }
}

impl SetToml {
    fn into_set(self, source: &str) -> Result<CriteriaSet, CriteriaError> {
        let cx = Ctx { source };
        let name = self.name.trim().to_string();
        if name.is_empty() || name.contains(|c: char| c.is_control()) {
            return Err(cx.err("name", "must be a non-empty name"));
        }
        let episode_gap_days = match self.episode_gap_days {
            Some(v) => cx.days("episode_gap_days", v)?,
            None => DEFAULT_EPISODE_GAP_DAYS,
        };
        if self.criteria.is_empty() {
            return Err(cx.err("criteria", "at least one [[criteria]] is required"));
        }
        if self.criteria.len() > MAX_CRITERIA {
            return Err(cx.err("criteria", format!("at most {MAX_CRITERIA} criteria are supported, got {}", self.criteria.len())));
        }
        let mut criteria = Vec::with_capacity(self.criteria.len());
        for (i, c) in self.criteria.into_iter().enumerate() {
            let crit = c.into_criterion(&cx, i)?;
            if criteria.iter().any(|o: &Criterion| o.name == crit.name) {
                return Err(cx.err(format!("criteria[{i}].name"), format!("duplicate criterion name \"{}\"", crit.name)));
            }
            criteria.push(crit);
        }

        // Rule.
        let r = self.rule;
        let n = criteria.len();
        let kind = match r.kind.trim() {
            "count" => {
                let min = r.min.ok_or_else(|| cx.err("rule.min", "is required for rule kind \"count\""))?;
                if min < 1 || min as usize > n {
                    return Err(cx.err("rule.min", format!("must be between 1 and the number of criteria ({n}), got {min}")));
                }
                if r.cutoff.is_some() {
                    return Err(cx.err("rule.cutoff", "only applies to rule kind \"score\""));
                }
                RuleKind::Count { min: min as u32 }
            }
            "score" => {
                let cutoff = r.cutoff.ok_or_else(|| cx.err("rule.cutoff", "is required for rule kind \"score\""))?;
                let cutoff = cx.finite("rule.cutoff", cutoff)?;
                if r.min.is_some() {
                    return Err(cx.err("rule.min", "only applies to rule kind \"count\""));
                }
                for (i, c) in criteria.iter().enumerate() {
                    let scored = match &c.kind {
                        CriterionKind::Single(_) => c.points.is_some(),
                        CriterionKind::CountOf { count_points, .. } => c.points.is_some() || !count_points.is_empty(),
                        CriterionKind::LabPoints { .. } => true,
                    };
                    if !scored {
                        return Err(cx.err(
                            format!("criteria[{i}].points"),
                            format!("criterion \"{}\" needs points under a score rule", c.name),
                        ));
                    }
                }
                RuleKind::Score { cutoff }
            }
            "all" => {
                if r.min.is_some() || r.cutoff.is_some() {
                    return Err(cx.err("rule", "rule kind \"all\" takes no `min` or `cutoff`"));
                }
                RuleKind::All
            }
            other => {
                return Err(
                    cx.err("rule.kind", format!("unknown rule kind \"{other}\"; expected \"count\", \"score\" or \"all\""))
                )
            }
        };
        for (j, m) in r.mandatory.iter().enumerate() {
            if !criteria.iter().any(|c| &c.name == m) {
                return Err(cx.err(format!("rule.mandatory[{j}]"), format!("no criterion named \"{m}\"")));
            }
        }
        for (j, m) in r.at_least_one_of.iter().enumerate() {
            if !criteria.iter().any(|c| &c.name == m) {
                return Err(cx.err(format!("rule.at_least_one_of[{j}]"), format!("no criterion named \"{m}\"")));
            }
        }
        let probability = match r.probability.as_deref().map(str::trim) {
            None => None,
            Some("fardet2014") => {
                if !matches!(kind, RuleKind::Score { .. }) {
                    return Err(cx.err("rule.probability", "only applies to rule kind \"score\""));
                }
                Some(ProbabilityTable::Fardet2014)
            }
            Some(other) => {
                return Err(cx.err("rule.probability", format!("unknown probability table \"{other}\"; expected \"fardet2014\"")))
            }
        };
        let not_evaluable = match r.not_evaluable.as_deref().map(str::trim) {
            None | Some("not_met") => {
                if r.floor.is_some() {
                    return Err(cx.err("rule.floor", "only applies with not_evaluable = \"proportional\""));
                }
                NotEvaluable::NotMet
            }
            Some("proportional") => {
                let floor = r.floor.ok_or_else(|| cx.err("rule.floor", "is required with not_evaluable = \"proportional\""))?;
                let floor = cx.finite("rule.floor", floor)?;
                match kind {
                    RuleKind::All => {
                        return Err(cx.err("rule.not_evaluable", "\"proportional\" applies to count and score rules only"))
                    }
                    RuleKind::Count { min } if floor < 1.0 || floor > f64::from(min) => {
                        return Err(cx.err("rule.floor", format!("must be between 1 and rule.min ({min}), got {floor}")))
                    }
                    RuleKind::Score { cutoff } if floor <= 0.0 || floor > cutoff => {
                        return Err(cx.err("rule.floor", format!("must be > 0 and at most rule.cutoff ({cutoff}), got {floor}")))
                    }
                    _ => {}
                }
                NotEvaluable::Proportional { floor }
            }
            Some(other) => {
                return Err(
                    cx.err("rule.not_evaluable", format!("unknown policy \"{other}\"; expected \"not_met\" or \"proportional\""))
                )
            }
        };
        let rule = Rule { kind, mandatory: r.mandatory, at_least_one_of: r.at_least_one_of, probability, not_evaluable };

        // Adaptations.
        let mut adaptations = Adaptations::default();
        if let Some(a) = self.adaptations {
            if let Some(m) = a.cytopenia_mode {
                adaptations.cytopenia_mode = match m.trim() {
                    "count" => CytopeniaMode::Count,
                    "ignore_during_aplasia" => CytopeniaMode::IgnoreDuringAplasia,
                    other => {
                        return Err(cx.err(
                            "adaptations.cytopenia_mode",
                            format!("unknown mode \"{other}\"; expected \"count\" or \"ignore_during_aplasia\""),
                        ))
                    }
                };
            }
            if let Some(d) = a.aplasia_days {
                adaptations.aplasia_days = cx.days("adaptations.aplasia_days", d)?;
            }
            if let Some(list) = a.aplasia_intensities {
                let mut v = Vec::new();
                for (j, s) in list.iter().enumerate() {
                    let i = Intensity::parse(s).ok_or_else(|| {
                        let names: Vec<&str> = Intensity::ALL.iter().map(|i| i.name()).collect();
                        cx.err(
                            format!("adaptations.aplasia_intensities[{j}]"),
                            format!("unknown intensity \"{s}\"; expected one of {}", names.join(", ")),
                        )
                    })?;
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
                adaptations.aplasia_intensities = v;
            }
            if let Some(t) = a.ferritin_threshold {
                adaptations.ferritin_threshold = Some(cx.finite("adaptations.ferritin_threshold", t)?);
            }
            adaptations.ignore_before_first_line = a.ignore_before_first_line.unwrap_or(false);
            adaptations.ignore_values_from_aplasia = a.ignore_values_from_aplasia.unwrap_or(false);
            if let Some(r) = a.recovery {
                adaptations.recovery = Some(Recovery {
                    analyte: cx.analyte("adaptations.recovery.analyte", &r.analyte)?,
                    comparator: cx.comparator("adaptations.recovery.comparator", &r.comparator)?,
                    threshold: cx.finite("adaptations.recovery.threshold", r.threshold)?,
                    from_day: cx.days("adaptations.recovery.from_day", r.from_day)?,
                });
            }
        }
        if adaptations.cytopenia_mode == CytopeniaMode::Count
            && (adaptations.recovery.is_some() || adaptations.ignore_before_first_line || adaptations.ignore_values_from_aplasia)
        {
            return Err(cx.err(
                "adaptations.cytopenia_mode",
                "`recovery`, `ignore_before_first_line` and `ignore_values_from_aplasia` need cytopenia_mode = \"ignore_during_aplasia\"",
            ));
        }
        if adaptations.cytopenia_mode == CytopeniaMode::IgnoreDuringAplasia && !criteria.iter().any(|c| c.aplasia_sensitive) {
            return Err(cx.err(
                "adaptations.cytopenia_mode",
                "\"ignore_during_aplasia\" needs at least one criterion with aplasia_sensitive = true",
            ));
        }
        // A score rule reports its own score; it computes the HScore alongside only when asked
        // (`companion_hscore = true`, e.g. `hlh_aml`), and never for the HScore set itself.
        let companion_hscore = self.companion_hscore.unwrap_or(!matches!(rule.kind, RuleKind::Score { .. }));
        if companion_hscore && rule.probability.is_some() {
            return Err(
                cx.err("companion_hscore", "a score rule with a probability table is an HScore; companion_hscore must be false")
            );
        }
        Ok(CriteriaSet { name, description: self.description, episode_gap_days, companion_hscore, rule, adaptations, criteria })
    }

    fn from_set(s: &CriteriaSet) -> SetToml {
        let (kind, min, cutoff) = match s.rule.kind {
            RuleKind::Count { min } => ("count", Some(i64::from(min)), None),
            RuleKind::Score { cutoff } => ("score", None, Some(cutoff)),
            RuleKind::All => ("all", None, None),
        };
        let a = &s.adaptations;
        SetToml {
            name: s.name.clone(),
            description: s.description.clone(),
            episode_gap_days: Some(i64::from(s.episode_gap_days)),
            companion_hscore: Some(s.companion_hscore),
            rule: RuleToml {
                kind: kind.into(),
                min,
                cutoff,
                mandatory: s.rule.mandatory.clone(),
                at_least_one_of: s.rule.at_least_one_of.clone(),
                probability: s.rule.probability.map(|p| match p {
                    ProbabilityTable::Fardet2014 => "fardet2014".to_string(),
                }),
                not_evaluable: match s.rule.not_evaluable {
                    NotEvaluable::NotMet => None,
                    NotEvaluable::Proportional { .. } => Some("proportional".into()),
                },
                floor: match s.rule.not_evaluable {
                    NotEvaluable::NotMet => None,
                    NotEvaluable::Proportional { floor } => Some(floor),
                },
            },
            adaptations: Some(AdaptationsToml {
                cytopenia_mode: Some(
                    match a.cytopenia_mode {
                        CytopeniaMode::Count => "count",
                        CytopeniaMode::IgnoreDuringAplasia => "ignore_during_aplasia",
                    }
                    .into(),
                ),
                aplasia_days: Some(i64::from(a.aplasia_days)),
                aplasia_intensities: Some(a.aplasia_intensities.iter().map(|i| i.name().to_string()).collect()),
                ferritin_threshold: a.ferritin_threshold,
                recovery: a.recovery.map(|r| RecoveryToml {
                    analyte: r.analyte.name().into(),
                    comparator: r.comparator.symbol().into(),
                    threshold: r.threshold,
                    from_day: i64::from(r.from_day),
                }),
                ignore_before_first_line: a.ignore_before_first_line.then_some(true),
                ignore_values_from_aplasia: a.ignore_values_from_aplasia.then_some(true),
            }),
            criteria: s.criteria.iter().map(CriterionToml::from_criterion).collect(),
        }
    }
}

/// The TOML keys (`relative`, `persistent`, `new_since_diagnosis_days`) of a temporal primitive.
fn temporal_toml(t: Option<&Temporal>) -> (Option<RelativeToml>, Option<PersistentToml>, Option<i64>) {
    match t {
        None => (None, None, None),
        Some(Temporal::Relative { stat, lookback_days, comparator, factor }) => (
            Some(RelativeToml {
                baseline: stat.name().into(),
                lookback_days: i64::from(*lookback_days),
                comparator: comparator.symbol().into(),
                factor: *factor,
            }),
            None,
            None,
        ),
        Some(Temporal::Persistent { days, within_days }) => {
            (None, Some(PersistentToml { days: i64::from(*days), within_days: i64::from(*within_days) }), None)
        }
        Some(Temporal::NewSinceDiagnosis { days }) => (None, None, Some(i64::from(*days))),
    }
}

impl CriterionToml {
    fn into_criterion(self, cx: &Ctx<'_>, i: usize) -> Result<Criterion, CriteriaError> {
        let key = format!("criteria[{i}]");
        let name = self.name.trim().to_string();
        if name.is_empty() || name.contains(|c: char| c.is_control() || c == ';') {
            return Err(cx.err(format!("{key}.name"), "must be a non-empty name without ';'"));
        }
        let key = format!("criteria[{i}] (\"{name}\")");
        let window_days = match self.window_days {
            Some(v) => Some(cx.days(&format!("{key}.window_days"), v)?),
            None => None,
        };
        let points = match self.points {
            Some(p) => Some(cx.finite(&format!("{key}.points"), p)?),
            None => None,
        };
        let forbid = |present: bool, field: &str, kind: &str| -> Result<(), CriteriaError> {
            if present {
                Err(cx.err(format!("{key}.{field}"), format!("is not used by kind = \"{kind}\"")))
            } else {
                Ok(())
            }
        };
        let mut temporal = None;
        let kind = match self.kind.trim() {
            k @ ("lab" | "finding") => {
                forbid(self.worst.is_some(), "worst", k)?;
                forbid(self.min.is_some(), "min", k)?;
                forbid(self.conditions.is_some(), "conditions", k)?;
                forbid(self.count_points.is_some(), "count_points", k)?;
                forbid(self.bands.is_some(), "bands", k)?;
                if k == "lab" {
                    forbid(self.finding.is_some(), "finding", k)?;
                    if self.analyte.is_none() {
                        return Err(cx.err(format!("{key}.analyte"), "is required for kind = \"lab\""));
                    }
                } else {
                    forbid(self.analyte.is_some(), "analyte", k)?;
                    if self.finding.is_none() {
                        return Err(cx.err(format!("{key}.finding"), "is required for kind = \"finding\""));
                    }
                }
                let test = cx.test(&key, &self.analyte, &self.comparator, self.threshold, &self.finding)?;
                temporal = cx.temporal(&key, &test, &self.relative, &self.persistent, self.new_since_diagnosis_days)?;
                CriterionKind::Single(test)
            }
            "count_of" => {
                for (present, field) in [
                    (self.analyte.is_some(), "analyte"),
                    (self.comparator.is_some(), "comparator"),
                    (self.threshold.is_some(), "threshold"),
                    (self.finding.is_some(), "finding"),
                    (self.worst.is_some(), "worst"),
                    (self.bands.is_some(), "bands"),
                    (self.relative.is_some(), "relative"),
                    (self.persistent.is_some(), "persistent"),
                    (self.new_since_diagnosis_days.is_some(), "new_since_diagnosis_days"),
                ] {
                    forbid(present, field, "count_of")?;
                }
                let conds =
                    self.conditions.ok_or_else(|| cx.err(format!("{key}.conditions"), "is required for kind = \"count_of\""))?;
                if conds.is_empty() {
                    return Err(cx.err(format!("{key}.conditions"), "needs at least one condition"));
                }
                let mut conditions = Vec::with_capacity(conds.len());
                for (j, c) in conds.iter().enumerate() {
                    let ck = format!("{key}.conditions[{j}]");
                    let test = cx.test(&ck, &c.analyte, &c.comparator, c.threshold, &c.finding)?;
                    let window_days = match c.window_days {
                        Some(v) => Some(cx.days(&format!("{ck}.window_days"), v)?),
                        None => None,
                    };
                    let temporal = cx.temporal(&ck, &test, &c.relative, &c.persistent, c.new_since_diagnosis_days)?;
                    conditions.push(Condition { test, window_days, temporal });
                }
                let k = conditions.len();
                let min = self.min.unwrap_or(1);
                if min < 1 || min as usize > k {
                    return Err(
                        cx.err(format!("{key}.min"), format!("must be between 1 and the number of conditions ({k}), got {min}"))
                    );
                }
                let mut count_points = Vec::new();
                for (j, cp) in self.count_points.unwrap_or_default().iter().enumerate() {
                    let ck = format!("{key}.count_points[{j}]");
                    if cp.count < min || cp.count as usize > k {
                        return Err(cx.err(
                            format!("{ck}.count"),
                            format!("must be between min ({min}) and the number of conditions ({k}), got {}", cp.count),
                        ));
                    }
                    if count_points.iter().any(|o: &CountPoints| i64::from(o.count) == cp.count) {
                        return Err(cx.err(format!("{ck}.count"), format!("count {} listed twice", cp.count)));
                    }
                    count_points
                        .push(CountPoints { count: cp.count as u32, points: cx.finite(&format!("{ck}.points"), cp.points)? });
                }
                if !count_points.is_empty() && points.is_some() {
                    return Err(cx.err(format!("{key}.points"), "give either `points` or `count_points`, not both"));
                }
                count_points.sort_by_key(|c| c.count);
                CriterionKind::CountOf { conditions, min: min as u32, count_points }
            }
            "lab_points" => {
                for (present, field) in [
                    (self.comparator.is_some(), "comparator"),
                    (self.threshold.is_some(), "threshold"),
                    (self.finding.is_some(), "finding"),
                    (self.min.is_some(), "min"),
                    (self.conditions.is_some(), "conditions"),
                    (self.count_points.is_some(), "count_points"),
                    (self.points.is_some(), "points"),
                    (self.relative.is_some(), "relative"),
                    (self.persistent.is_some(), "persistent"),
                    (self.new_since_diagnosis_days.is_some(), "new_since_diagnosis_days"),
                ] {
                    forbid(present, field, "lab_points")?;
                }
                let a = self
                    .analyte
                    .as_deref()
                    .ok_or_else(|| cx.err(format!("{key}.analyte"), "is required for kind = \"lab_points\""))?;
                let analyte = cx.analyte(&format!("{key}.analyte"), a)?;
                let worst = match self.worst.as_deref().map(str::trim) {
                    Some("max") => Worst::Max,
                    Some("min") => Worst::Min,
                    Some(other) => {
                        return Err(
                            cx.err(format!("{key}.worst"), format!("unknown value \"{other}\"; expected \"max\" or \"min\""))
                        )
                    }
                    None => {
                        return Err(cx.err(format!("{key}.worst"), "is required for kind = \"lab_points\" (\"max\" or \"min\")"))
                    }
                };
                let raw = self.bands.ok_or_else(|| cx.err(format!("{key}.bands"), "is required for kind = \"lab_points\""))?;
                if raw.is_empty() {
                    return Err(cx.err(format!("{key}.bands"), "needs at least one band"));
                }
                let mut bands = Vec::with_capacity(raw.len());
                for (j, b) in raw.iter().enumerate() {
                    let bk = format!("{key}.bands[{j}]");
                    if b.from.is_some() && b.above.is_some() {
                        return Err(cx.err(&bk, "give at most one lower bound (`from` or `above`)"));
                    }
                    if b.to.is_some() && b.below.is_some() {
                        return Err(cx.err(&bk, "give at most one upper bound (`to` or `below`)"));
                    }
                    let lower = match (b.from, b.above) {
                        (Some(v), _) => Some(Bound { value: cx.finite(&format!("{bk}.from"), v)?, inclusive: true }),
                        (_, Some(v)) => Some(Bound { value: cx.finite(&format!("{bk}.above"), v)?, inclusive: false }),
                        _ => None,
                    };
                    let upper = match (b.to, b.below) {
                        (Some(v), _) => Some(Bound { value: cx.finite(&format!("{bk}.to"), v)?, inclusive: true }),
                        (_, Some(v)) => Some(Bound { value: cx.finite(&format!("{bk}.below"), v)?, inclusive: false }),
                        _ => None,
                    };
                    if let (Some(l), Some(u)) = (lower, upper) {
                        if l.value > u.value {
                            return Err(cx.err(&bk, format!("lower bound {} is above upper bound {}", l.value, u.value)));
                        }
                    }
                    bands.push(Band { lower, upper, points: cx.finite(&format!("{bk}.points"), b.points)? });
                }
                CriterionKind::LabPoints { analyte, worst, bands }
            }
            other => {
                return Err(cx.err(
                    format!("{key}.kind"),
                    format!("unknown kind \"{other}\"; expected \"lab\", \"finding\", \"count_of\" or \"lab_points\""),
                ))
            }
        };
        Ok(Criterion {
            name,
            description: self.description,
            kind,
            window_days,
            points,
            aplasia_sensitive: self.aplasia_sensitive.unwrap_or(false),
            temporal,
        })
    }

    fn from_criterion(c: &Criterion) -> CriterionToml {
        let mut t = CriterionToml {
            name: c.name.clone(),
            description: c.description.clone(),
            window_days: c.window_days.map(i64::from),
            points: c.points,
            aplasia_sensitive: if c.aplasia_sensitive { Some(true) } else { None },
            ..CriterionToml::default()
        };
        (t.relative, t.persistent, t.new_since_diagnosis_days) = temporal_toml(c.temporal.as_ref());
        match &c.kind {
            CriterionKind::Single(test) => match test {
                Test::Lab { analyte, comparator, threshold } => {
                    t.kind = "lab".into();
                    t.analyte = Some(analyte.name().into());
                    t.comparator = Some(comparator.symbol().into());
                    t.threshold = Some(*threshold);
                }
                Test::Finding(f) => {
                    t.kind = "finding".into();
                    t.finding = Some(f.name().into());
                }
            },
            CriterionKind::CountOf { conditions, min, count_points } => {
                t.kind = "count_of".into();
                t.min = Some(i64::from(*min));
                t.conditions = Some(
                    conditions
                        .iter()
                        .map(|c| {
                            let mut ct = ConditionToml { window_days: c.window_days.map(i64::from), ..ConditionToml::default() };
                            (ct.relative, ct.persistent, ct.new_since_diagnosis_days) = temporal_toml(c.temporal.as_ref());
                            match &c.test {
                                Test::Lab { analyte, comparator, threshold } => {
                                    ct.analyte = Some(analyte.name().into());
                                    ct.comparator = Some(comparator.symbol().into());
                                    ct.threshold = Some(*threshold);
                                }
                                Test::Finding(f) => ct.finding = Some(f.name().into()),
                            }
                            ct
                        })
                        .collect(),
                );
                if !count_points.is_empty() {
                    t.count_points = Some(
                        count_points.iter().map(|p| CountPointsToml { count: i64::from(p.count), points: p.points }).collect(),
                    );
                }
            }
            CriterionKind::LabPoints { analyte, worst, bands } => {
                t.kind = "lab_points".into();
                t.analyte = Some(analyte.name().into());
                t.worst = Some(worst.name().into());
                t.bands = Some(
                    bands
                        .iter()
                        .map(|b| BandToml {
                            from: b.lower.filter(|l| l.inclusive).map(|l| l.value),
                            above: b.lower.filter(|l| !l.inclusive).map(|l| l.value),
                            to: b.upper.filter(|u| u.inclusive).map(|u| u.value),
                            below: b.upper.filter(|u| !u.inclusive).map(|u| u.value),
                            points: b.points,
                        })
                        .collect(),
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_round_trip() {
        for name in ALL_BUILTIN_NAMES {
            let s = CriteriaSet::from_toml_str(builtin_toml(name).unwrap(), name).unwrap_or_else(|e| panic!("{e}"));
            let text = s.to_toml_string().unwrap();
            let back = CriteriaSet::from_toml_str(&text, "roundtrip").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(s, back, "{name}");
        }
    }

    #[test]
    fn band_bounds() {
        let b = Band {
            lower: Some(Bound { value: 1.5, inclusive: true }),
            upper: Some(Bound { value: 4.0, inclusive: true }),
            points: 44.0,
        };
        assert!(b.contains(1.5) && b.contains(4.0) && !b.contains(1.499) && !b.contains(4.0001));
    }
}
