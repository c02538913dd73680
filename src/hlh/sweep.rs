//! Evaluation of a criteria set over time for one patient.
//!
//! The state of every criterion only changes on *change days*: the day of a measurement or
//! finding (it enters its window) and the day after its window ends (`d + window + 1`, it
//! leaves), plus the first day and the day after the end of every aplasia period when
//! `cytopenia_mode = "ignore_during_aplasia"`. The sweep visits exactly those days in order
//! (not a dense grid); between two change days the state is constant.
//!
//! Each (analyte, worst direction, window) is one *channel*: a monotonic deque keeps the
//! worst value of the window at its front (a newer value equal to an older one replaces it,
//! so ties resolve to the most recent). A finding channel keeps the last day the finding was
//! recorded at all (evaluability) and the last day and row it was recorded present.
//! Non-finite measurement values are skipped (the loader rejects them).
//! Days after `until` (the end of follow-up in [`crate::hlh::detect`]) are not evaluated.
//!
//! # Qualified values (`>40000`, `<0.1`)
//!
//! A measurement reported as a bound ([`Qualifier`]; `value` holds the bound) is a censored
//! value: the set of values it allows is `(b, ∞)` for `>b`, `[b, ∞)` for `>=b`, `(−∞, b)` for
//! `<b`, `(−∞, b]` for `<=b`. A bound **decides** a comparison only when every value it allows
//! gives the same answer: `>40000` meets `ferritin >= 10000` and `ferritin > 40000`; `>=40000`
//! meets `>= 10000` but does not decide `> 40000` (it may be exactly 40000); `<0.1` meets
//! `neutrophils < 1.0` and `<= 0.1` and decidedly does *not* meet `>= 0.5`; `>5` does not
//! decide `>= 10`. Over a window, a condition (an existence test: "some value in the window
//! meets it") is
//! - **met** when some value in the window decidedly meets it;
//! - **evaluable and not met** when every value in the window decidedly does not;
//! - otherwise (no value meets it, some value does not decide it) **not evaluable**, like a
//!   criterion without data — an exact value that does not meet the test does *not* make a
//!   window with an undecided bound evaluable, because the bound may still hide a value that
//!   meets it (`>5` and `3000` against `ferritin >= 10000`: not evaluable). When the undecided
//!   value leaves the window, the remaining values decide as usual.
//!
//! Implementation: each side of a value is an ordering key `(bound, tie)` (see [`Key`]: the
//! tie orders `>b` just above an exact `b`, `<b` just below it). A max-worst channel keeps two
//! monotonic deques: the *decisive* worst value, the highest **lower** side (`>b` counts as "at
//! least b", `<b` as −∞), which decides "met"; and the *possible* worst value, the highest
//! **upper** side (`>b` counts as +∞, `<b` as "at most b"), which decides "not met". A
//! min-worst channel mirrors this (decisive = lowest upper side: `<b` is "at most b"). For an
//! exact value both sides are the value, the two deques agree, and the decision is the plain
//! comparison. Ties in the decisive deque resolve to the most recent value, as for exact
//! values; the qualifying value (evidence) is the front of the decisive deque, i.e. the value
//! that decided "met" (`>40000` rather than an exact `40000` for `ferritin > 40000`).
//! Speed: a patient with no qualified value of an analyte a channel reads takes exactly the
//! previous single-deque path; only patients with qualified values take the two-deque path.
//!
//! **Points bands** (`lab_points`, HScore): the true worst value lies between the decisive and
//! the possible worst value; the band is used (with its points) when that whole range lies in
//! one band, `0` points (evaluable) when it lies in no band, and otherwise the criterion is not
//! evaluable with 0 points (`>38` °C: 33 or 49 HScore points).
//!
//! **Temporal primitives** (derived series, see [`Temporal`]) judge each measurement: a
//! derived value is 1 (met), 0 (not met) or [`UNDECIDED`] (0.5, not evaluable, so a window's
//! maximum is met if any value is met and otherwise not evaluable if any value is undecided).
//! `relative`: the absolute test and the comparison with `factor × baseline` are each decided
//! by the bound as above (undecided → 0.5); earlier **qualified values are left out of the
//! baseline** (for `min` and `max` baselines this can only make a rise or a fall harder to
//! meet; no exact earlier value → no baseline → not evaluable, as for exact values).
//! `persistence`: a day counts when a value decidedly meets the test; when the count is short
//! but days with undecided values could complete it, the value is 0.5. `new since diagnosis`:
//! only a value that decidedly meets the test at diagnosis blocks it; later values are decided
//! as above. The **count recovery** that ends an aplasia early needs a value that decidedly
//! meets it (`<2.0` neutrophils does not document recovery to `>= 1.0`).

use crate::cohort::{Analyte, Cohort, Day, FindingKind, Intensity, Measurement, PatientIdx, Qualifier};

use super::criteria::{
    Band, BaselineStat, Comparator, CriteriaSet, CriterionKind, CytopeniaMode, NotEvaluable, Recovery, RuleKind, Temporal, Test,
    Worst,
};
use super::evidence::UnitTexts;
use super::text::SharedText;

/// Where a qualifying value comes from (index into the patient's slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Index into `cohort.measurements_of(p)`.
    Measurement(u32),
    /// Index into `cohort.findings_of(p)`.
    Finding(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LabChannel {
    analyte: Analyte,
    worst: Worst,
    window: i32,
    /// Fed by derived series `k` (a temporal primitive) instead of the raw values.
    derived: Option<u16>,
    /// Values dated inside an aplasia period of this aplasia class (index into
    /// `Plan::aplasia_classes`) are not entered (`ignore_values_from_aplasia`).
    skip_aplasia: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FindingChannel {
    kind: FindingKind,
    window: i32,
    /// `new_since_diagnosis_days` of a new-finding test.
    new_since: Option<i32>,
}

/// A per-measurement derived series: 1.0 where the measurement qualifies under a temporal
/// primitive, 0.0 where it is evaluable and does not, absent where it is not evaluable.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DerivedSpec {
    analyte: Analyte,
    comparator: Comparator,
    threshold: f64,
    temporal: Temporal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CondSrc {
    /// Index into `Plan::lab`.
    Lab(u16),
    /// Index into `Plan::find`.
    Finding(u16),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Present,
    /// A derived series (see [`DerivedSpec`]): met at 1, not met at 0, not evaluable at
    /// [`UNDECIDED`].
    Derived,
}

/// Value of a derived series where a qualified value's bound does not decide the primitive:
/// between "not met" (0) and "met" (1), so the window's maximum is met if any value is, and
/// otherwise not evaluable if any value is undecided.
const UNDECIDED: f64 = 0.5;

/// A compiled elementary test on one channel.
#[derive(Debug, Clone, Copy)]
struct FlatCond {
    src: CondSrc,
    op: Op,
    thr: f64,
}

#[derive(Debug, Clone)]
enum PKind {
    /// One condition (index into `Plan::conds`).
    Single(usize),
    /// Conditions `start..end` of `Plan::conds`.
    CountOf { start: usize, end: usize, min: u32, count_points: Option<Vec<f64>> },
    /// Bands on lab channel `lab` (with their description).
    Points { lab: u16, bands: Vec<(Band, SharedText)> },
}

/// A compiled criterion.
#[derive(Debug, Clone)]
pub(crate) struct PCrit {
    pub(crate) name: SharedText,
    kind: PKind,
    points_when_met: f64,
    aplasia_sensitive: bool,
    /// Aplasia class (index into `Plan::aplasia_classes`) whose periods suppress it.
    aplasia_class: u8,
    /// Contributes to a score (primary score rule, or the companion HScore).
    pub(crate) scored: bool,
}

/// A criteria set compiled for the sweep: primary criteria first, then the companion HScore criteria.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Name of the set (shared by its episode and evidence rows).
    pub(crate) name: SharedText,
    lab: Vec<LabChannel>,
    find: Vec<FindingChannel>,
    /// Per analyte (`Analyte as usize`): (lab channel, keeps the maximum) fed by it.
    lab_listeners: Vec<Vec<(u16, bool)>>,
    /// Distinct windows of all channels.
    windows: Vec<i32>,
    /// Per analyte: indices into `windows` of its channels' windows (for expiry change days).
    lab_window_ids: Vec<Vec<usize>>,
    /// Parallel to `lab_window_ids`: the members (bit j: member j of a merged plan, see
    /// [`Plan::merged`]) with a channel of that analyte and window; one bit for a single set.
    lab_window_masks: Vec<Vec<u32>>,
    finding_listeners: Vec<Vec<u16>>,
    finding_window_ids: Vec<Vec<usize>>,
    /// Parallel to `finding_window_ids`: the members with that channel.
    finding_window_masks: Vec<Vec<u32>>,
    /// Per analyte / finding kind / derived series: the members reading it (the union of its
    /// window masks): a value's own day is a change day of exactly these members.
    lab_day_mask: Vec<u32>,
    finding_day_mask: Vec<u32>,
    derived_day_mask: Vec<u32>,
    /// Members merged into this plan (1 for a single set).
    n_members: usize,
    /// While compiling: the member whose criteria are being added.
    cur_member: usize,
    conds: Vec<FlatCond>,
    /// Per lab channel: (condition, criterion) pairs reading it.
    lab_conds: Vec<Vec<(usize, usize)>>,
    /// Per lab channel: `lab_points` criteria reading it.
    lab_points: Vec<Vec<usize>>,
    /// Per finding channel: (condition, criterion) pairs reading it.
    find_conds: Vec<Vec<(usize, usize)>>,
    /// Per aplasia class: mask of its aplasia-sensitive criteria.
    aplasia_crits: Vec<u128>,
    /// Human-readable test of each condition, e.g. `hemoglobin < 90 g/L`.
    cond_text: Vec<SharedText>,
    pub(crate) crits: Vec<PCrit>,
    /// Number of criteria of the set itself (the rest are companion criteria).
    pub(crate) n_primary: usize,
    /// Names of the set's own criteria, in set order (shared by its episodes' met criteria).
    pub(crate) primary_names: std::sync::Arc<[SharedText]>,
    rule: RuleKind,
    mandatory: u128,
    /// Bits of `rule.at_least_one_of` (0: no such condition).
    any_of: u128,
    /// The set's own rule is a score.
    pub(crate) primary_scored: bool,
    /// The companion HScore is computed.
    pub(crate) companion: bool,
    /// The distinct aplasia handlings of the members (one for a single set; see
    /// [`AplasiaClass`]).
    aplasia_classes: Vec<AplasiaClass>,
    /// While compiling: the aplasia class of the member being added.
    cur_class: u8,
    /// Name of the companion set (`hscore`).
    pub(crate) companion_name: SharedText,
    /// Derived series (temporal primitives) and the lab channels / windows they feed.
    derived: Vec<DerivedSpec>,
    derived_listeners: Vec<Vec<u16>>,
    derived_window_ids: Vec<Vec<usize>>,
    /// Parallel to `derived_window_ids`: the members with that channel.
    derived_window_masks: Vec<Vec<u32>>,
    /// How not-evaluable criteria affect the threshold.
    not_evaluable: NotEvaluable,
    /// Highest points of each primary criterion (for the proportional policy of score rules).
    crit_max: Vec<f64>,
    /// While compiling: the current criterion's channels skip values from aplasia periods.
    cur_skip: bool,
}

/// Register window `k` (with member bit `bit`) in a channel family's window list.
fn add_window(ids: &mut Vec<usize>, masks: &mut Vec<u32>, k: usize, bit: u32) {
    match ids.iter().position(|x| *x == k) {
        Some(i) => masks[i] |= bit,
        None => {
            ids.push(k);
            masks.push(bit);
        }
    }
}

/// One way of deciding a patient's aplasia periods (a set's `cytopenia_mode`, expected aplasia,
/// recovery and before-first-line settings), shared by the members in `members` (bits).
#[derive(Debug, Clone, PartialEq)]
struct AplasiaClass {
    /// Aplasia length and intensities, when cytopenia_mode = ignore_during_aplasia.
    periods: Option<(i32, Vec<Intensity>)>,
    /// Count recovery ending the aplasia of a line early.
    recovery: Option<Recovery>,
    /// Aplasia-sensitive criteria not evaluable before the first line.
    before_first_line: bool,
    members: u32,
}

impl AplasiaClass {
    /// The aplasia handling of `set`, for the members `members`.
    fn of(set: &CriteriaSet, members: u32) -> AplasiaClass {
        let a = &set.adaptations;
        match a.cytopenia_mode {
            CytopeniaMode::Count => AplasiaClass { periods: None, recovery: None, before_first_line: false, members },
            CytopeniaMode::IgnoreDuringAplasia => AplasiaClass {
                periods: Some((a.aplasia_days as i32, a.aplasia_intensities.clone())),
                recovery: a.recovery,
                before_first_line: a.ignore_before_first_line,
                members,
            },
        }
    }

    fn same_handling(&self, other: &AplasiaClass) -> bool {
        self.periods == other.periods && self.recovery == other.recovery && self.before_first_line == other.before_first_line
    }

    fn has_periods(&self) -> bool {
        self.periods.is_some() || self.before_first_line
    }
}

/// Most criteria sets one merged plan holds (one bit each in a change day's member mask).
pub(crate) const MAX_MEMBERS: usize = 32;

/// Mask of the first `n` bits.
#[inline]
fn low_mask(n: usize) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

impl Plan {
    /// Whether the set's rule holds on a day with these criteria met / evaluable and this own
    /// score (the count or score rule, the mandatory criteria and `at_least_one_of`).
    pub(crate) fn holds(&self, met: u128, evaluable: u128, score: f64) -> bool {
        let primary = self.primary_mask();
        let n_met = (met & primary).count_ones();
        let rule = match (self.rule, self.not_evaluable) {
            (RuleKind::Count { min }, NotEvaluable::NotMet) => n_met >= min,
            (RuleKind::Score { cutoff }, NotEvaluable::NotMet) => score >= cutoff,
            (RuleKind::Count { min }, NotEvaluable::Proportional { floor }) => {
                let n_eval = (evaluable & primary).count_ones();
                f64::from(n_met) >= proportional_count(min, n_eval, self.n_primary as u32, floor)
            }
            (RuleKind::Score { cutoff }, NotEvaluable::Proportional { floor }) => {
                score >= proportional_cutoff(cutoff, &self.crit_max, evaluable, floor)
            }
            (RuleKind::All, _) => met & primary == primary,
        };
        rule && (met & self.mandatory) == self.mandatory && (self.any_of == 0 || met & self.any_of != 0)
    }

    /// Compile a set (and, if asked, the built-in HScore as companion).
    ///
    /// The set must be valid (sets loaded from TOML are; sets built in code should pass
    /// [`CriteriaSet::validate`]): at most 64 criteria, `count_points` within the conditions.
    pub(crate) fn new(set: &CriteriaSet) -> Plan {
        assert!(
            set.criteria.len() <= super::criteria::MAX_CRITERIA,
            "criteria set {} has {} criteria; at most {} are supported",
            set.name,
            set.criteria.len(),
            super::criteria::MAX_CRITERIA
        );
        let mut plan = Plan {
            name: SharedText::from(&set.name),
            lab: Vec::new(),
            find: Vec::new(),
            lab_listeners: vec![Vec::new(); Analyte::ALL.len()],
            windows: Vec::new(),
            lab_window_ids: vec![Vec::new(); Analyte::ALL.len()],
            lab_window_masks: vec![Vec::new(); Analyte::ALL.len()],
            finding_listeners: vec![Vec::new(); FindingKind::ALL.len()],
            finding_window_ids: vec![Vec::new(); FindingKind::ALL.len()],
            finding_window_masks: vec![Vec::new(); FindingKind::ALL.len()],
            lab_day_mask: Vec::new(),
            finding_day_mask: Vec::new(),
            derived_day_mask: Vec::new(),
            n_members: 1,
            cur_member: 0,
            conds: Vec::new(),
            lab_conds: Vec::new(),
            lab_points: Vec::new(),
            find_conds: Vec::new(),
            aplasia_crits: Vec::new(),
            cond_text: Vec::new(),
            crits: Vec::new(),
            n_primary: set.criteria.len(),
            primary_names: std::sync::Arc::from([]),
            rule: set.rule.kind,
            mandatory: 0,
            any_of: 0,
            primary_scored: matches!(set.rule.kind, RuleKind::Score { .. }),
            companion: set.companion_hscore,
            companion_name: SharedText::default(),
            derived: Vec::new(),
            derived_listeners: Vec::new(),
            derived_window_ids: Vec::new(),
            derived_window_masks: Vec::new(),
            not_evaluable: set.rule.not_evaluable,
            crit_max: set.criteria.iter().map(|c| c.max_points()).collect(),
            cur_skip: false,
            aplasia_classes: vec![AplasiaClass::of(set, 1)],
            cur_class: 0,
        };
        plan.add_set(set, plan.primary_scored, set.adaptations.ferritin_threshold);
        plan.primary_names = plan.crits[..plan.n_primary].iter().map(|c| c.name.clone()).collect();
        for m in &set.rule.mandatory {
            if let Some(i) = set.index_of(m) {
                plan.mandatory |= 1u128 << i;
            }
        }
        for m in &set.rule.at_least_one_of {
            if let Some(i) = set.index_of(m) {
                plan.any_of |= 1u128 << i;
            }
        }
        if plan.companion {
            // The built-in set is validated by unit tests; it cannot fail to load.
            let hs = CriteriaSet::builtin("hscore").expect("the built-in hscore set exists");
            plan.companion_name = SharedText::from(&hs.name);
            plan.add_set(&hs, true, None);
        }
        plan.dependencies();
        plan
    }

    /// Several sets compiled into one plan (`members`): channels equal across sets (same
    /// analyte, worst direction, window, derived series, aplasia skipping) are kept once, and
    /// each set's criteria (then its companion HScore criteria) follow the previous set's. A
    /// [`sweep_members`] of it gives each member exactly the day states a sweep of the member's
    /// own plan gives, at the cost of about one sweep. Returns the plan and the index of each
    /// member's first criterion. `None` when the sets cannot share one sweep: more than
    /// [`MAX_MEMBERS`] sets, or more than 128 criteria in all. Sets with different
    /// aplasia handling keep their own aplasia periods ([`AplasiaClass`]).
    pub(crate) fn merged(sets: &[&CriteriaSet]) -> Option<(Plan, Vec<usize>)> {
        let (first, rest) = sets.split_first()?;
        if sets.len() > MAX_MEMBERS {
            return None;
        }
        let mut plan = Plan::new(first);
        let mut starts = vec![0];
        for (j, set) in rest.iter().enumerate() {
            let single = Plan::new(set);
            if plan.crits.len() + single.crits.len() > 128 {
                return None;
            }
            starts.push(plan.crits.len());
            plan.cur_member = j + 1;
            let class = AplasiaClass::of(set, 1 << (j + 1));
            plan.cur_class = match plan.aplasia_classes.iter().position(|c| c.same_handling(&class)) {
                Some(k) => {
                    plan.aplasia_classes[k].members |= class.members;
                    k as u8
                }
                None => {
                    plan.aplasia_classes.push(class);
                    (plan.aplasia_classes.len() - 1) as u8
                }
            };
            plan.add_set(set, single.primary_scored, set.adaptations.ferritin_threshold);
            if single.companion {
                let hs = CriteriaSet::builtin("hscore").expect("the built-in hscore set exists");
                plan.add_set(&hs, true, None);
            }
        }
        plan.n_members = sets.len();
        plan.cur_member = 0;
        plan.cur_class = 0;
        plan.dependencies();
        Some((plan, starts))
    }

    /// Number of criteria compiled (primary, then companion).
    pub(crate) fn n_crits(&self) -> usize {
        self.crits.len()
    }

    /// Which criteria read which channel (for incremental re-evaluation), and which members
    /// read each analyte, finding kind and derived series (for their change days).
    fn dependencies(&mut self) {
        let union = |masks: &Vec<Vec<u32>>| masks.iter().map(|m| m.iter().fold(0, |a, b| a | b)).collect::<Vec<u32>>();
        self.lab_day_mask = union(&self.lab_window_masks);
        self.finding_day_mask = union(&self.finding_window_masks);
        self.derived_day_mask = union(&self.derived_window_masks);
        self.aplasia_crits = vec![0; self.aplasia_classes.len()];
        self.lab_conds = vec![Vec::new(); self.lab.len()];
        self.lab_points = vec![Vec::new(); self.lab.len()];
        self.find_conds = vec![Vec::new(); self.find.len()];
        for (ci, c) in self.crits.iter().enumerate() {
            let bit = 1u128 << ci;
            if c.aplasia_sensitive {
                self.aplasia_crits[c.aplasia_class as usize] |= bit;
            }
            let conds = match &c.kind {
                PKind::Single(i) => *i..*i + 1,
                PKind::CountOf { start, end, .. } => *start..*end,
                PKind::Points { lab, .. } => {
                    self.lab_points[*lab as usize].push(ci);
                    0..0
                }
            };
            for i in conds {
                match self.conds[i].src {
                    CondSrc::Lab(ch) => self.lab_conds[ch as usize].push((i, ci)),
                    CondSrc::Finding(ch) => self.find_conds[ch as usize].push((i, ci)),
                }
            }
        }
    }

    fn window_id(&mut self, w: i32) -> usize {
        match self.windows.iter().position(|x| *x == w) {
            Some(k) => k,
            None => {
                self.windows.push(w);
                self.windows.len() - 1
            }
        }
    }

    fn lab_channel(&mut self, spec: LabChannel) -> u16 {
        let k = self.window_id(spec.window);
        let bit = 1u32 << self.cur_member;
        let id = match self.lab.iter().position(|c| *c == spec) {
            Some(i) => i as u16,
            None => {
                let id = self.lab.len() as u16;
                self.lab.push(spec);
                match spec.derived {
                    None => self.lab_listeners[spec.analyte as usize].push((id, spec.worst == Worst::Max)),
                    Some(d) => self.derived_listeners[d as usize].push(id),
                }
                id
            }
        };
        match spec.derived {
            None => {
                let a = spec.analyte as usize;
                add_window(&mut self.lab_window_ids[a], &mut self.lab_window_masks[a], k, bit);
            }
            Some(d) => {
                let d = d as usize;
                add_window(&mut self.derived_window_ids[d], &mut self.derived_window_masks[d], k, bit);
            }
        }
        id
    }

    fn finding_channel(&mut self, spec: FindingChannel) -> u16 {
        let w = self.window_id(spec.window);
        let k = spec.kind as usize;
        add_window(&mut self.finding_window_ids[k], &mut self.finding_window_masks[k], w, 1u32 << self.cur_member);
        if let Some(i) = self.find.iter().position(|c| *c == spec) {
            return i as u16;
        }
        let id = self.find.len() as u16;
        self.find.push(spec);
        self.finding_listeners[k].push(id);
        id
    }

    fn derived_series(&mut self, spec: DerivedSpec) -> u16 {
        if let Some(i) = self.derived.iter().position(|d| *d == spec) {
            return i as u16;
        }
        self.derived.push(spec);
        self.derived_listeners.push(Vec::new());
        self.derived_window_ids.push(Vec::new());
        self.derived_window_masks.push(Vec::new());
        (self.derived.len() - 1) as u16
    }

    /// Compile one test; returns its index in `conds`.
    fn cond(&mut self, test: &Test, temporal: Option<&Temporal>, window: u32, ferritin_override: Option<f64>) -> usize {
        let window = window as i32;
        let (cond, text) = match *test {
            Test::Lab { analyte, comparator, threshold } if temporal.is_some() => {
                let threshold = match (analyte, ferritin_override) {
                    (Analyte::Ferritin, Some(t)) => t,
                    _ => threshold,
                };
                let t = *temporal.expect("checked above");
                let k = self.derived_series(DerivedSpec { analyte, comparator, threshold, temporal: t });
                let ch = self.lab_channel(LabChannel {
                    analyte,
                    worst: Worst::Max,
                    window,
                    derived: Some(k),
                    skip_aplasia: self.cur_skip.then_some(self.cur_class),
                });
                let text = Temporal::describe_test(Some(&t), &Test::Lab { analyte, comparator, threshold });
                (FlatCond { src: CondSrc::Lab(ch), op: Op::Derived, thr: 1.0 }, text)
            }
            Test::Lab { analyte, comparator, threshold } => {
                let threshold = match (analyte, ferritin_override) {
                    (Analyte::Ferritin, Some(t)) => t,
                    _ => threshold,
                };
                let ch = self.lab_channel(LabChannel {
                    analyte,
                    worst: comparator.worst(),
                    window,
                    derived: None,
                    skip_aplasia: self.cur_skip.then_some(self.cur_class),
                });
                let op = match comparator {
                    Comparator::Ge => Op::Ge,
                    Comparator::Gt => Op::Gt,
                    Comparator::Le => Op::Le,
                    Comparator::Lt => Op::Lt,
                };
                (FlatCond { src: CondSrc::Lab(ch), op, thr: threshold }, Test::Lab { analyte, comparator, threshold }.describe())
            }
            Test::Finding(kind) => {
                let new_since = match temporal {
                    Some(Temporal::NewSinceDiagnosis { days }) => Some(*days as i32),
                    _ => None,
                };
                let ch = self.finding_channel(FindingChannel { kind, window, new_since });
                (FlatCond { src: CondSrc::Finding(ch), op: Op::Present, thr: 0.0 }, Temporal::describe_test(temporal, test))
            }
        };
        self.conds.push(cond);
        self.cond_text.push(SharedText::from(text));
        self.conds.len() - 1
    }

    fn add_set(&mut self, set: &CriteriaSet, scored: bool, ferritin_override: Option<f64>) {
        let skip =
            set.adaptations.cytopenia_mode == CytopeniaMode::IgnoreDuringAplasia && set.adaptations.ignore_values_from_aplasia;
        for c in &set.criteria {
            self.cur_skip = skip && c.aplasia_sensitive;
            let class = self.cur_class;
            let kind = match &c.kind {
                CriterionKind::Single(t) => {
                    PKind::Single(self.cond(t, c.temporal.as_ref(), c.window_for(t, None), ferritin_override))
                }
                CriterionKind::CountOf { conditions, min, count_points } => {
                    let start = self.conds.len();
                    for cd in conditions {
                        self.cond(&cd.test, cd.temporal.as_ref(), c.window_for(&cd.test, cd.window_days), ferritin_override);
                    }
                    let end = self.conds.len();
                    let count_points = if count_points.is_empty() {
                        None
                    } else {
                        let mut v = vec![0.0; end - start + 1];
                        for cp in count_points {
                            v[cp.count as usize] = cp.points;
                        }
                        Some(v)
                    };
                    PKind::CountOf { start, end, min: *min, count_points }
                }
                CriterionKind::LabPoints { analyte, worst, bands } => {
                    let lab = self.lab_channel(LabChannel {
                        analyte: *analyte,
                        worst: *worst,
                        window: c.points_window() as i32,
                        derived: None,
                        skip_aplasia: self.cur_skip.then_some(self.cur_class),
                    });
                    let bands = bands
                        .iter()
                        .map(|b| (*b, SharedText::from(format!("{} -> {} points", b.describe(*analyte), b.points))))
                        .collect();
                    PKind::Points { lab, bands }
                }
            };
            self.crits.push(PCrit {
                name: SharedText::from(&c.name),
                kind,
                points_when_met: c.points.unwrap_or(0.0),
                aplasia_sensitive: c.aplasia_sensitive,
                aplasia_class: class,
                scored,
            });
        }
    }

    /// Whether the day-state has an HScore (own score or companion).
    pub(crate) fn has_hscore(&self) -> bool {
        self.primary_scored || self.companion
    }

    /// Bit mask of the set's own criteria.
    pub(crate) fn primary_mask(&self) -> u128 {
        low_mask(self.n_primary)
    }
}

/// State of a patient on one change day (valid until the next change day).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DayState {
    pub(crate) day: Day,
    /// Bit i: criterion i met (primary and companion).
    pub(crate) met: u128,
    /// Bit i: criterion i evaluable.
    pub(crate) evaluable: u128,
    /// Primary criteria met.
    pub(crate) n_met: u32,
    /// Primary criteria evaluable.
    pub(crate) n_evaluable: u32,
    /// The set's own score (score rules), else 0.
    pub(crate) score: f64,
    /// HScore: the own score of a score rule, or the companion HScore; 0 when neither.
    pub(crate) hscore: f64,
    /// The rule holds.
    pub(crate) holds: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    value: f64,
    day: Day,
    idx: u32,
}

/// A double-ended queue for one patient: a vector plus a head index (cleared per patient, so it
/// never wraps; cheaper than `VecDeque` in the inner loop).
#[derive(Debug, Default)]
struct Deque {
    buf: Vec<Slot>,
    head: usize,
}

impl Deque {
    #[inline]
    fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }
    #[inline]
    fn front(&self) -> Option<&Slot> {
        self.buf.get(self.head)
    }
    #[inline]
    fn back(&self) -> Option<&Slot> {
        if self.buf.len() > self.head {
            self.buf.last()
        } else {
            None
        }
    }
    #[inline]
    fn pop_back(&mut self) {
        if self.buf.len() > self.head {
            self.buf.pop();
        }
    }
    #[inline]
    fn pop_front(&mut self) {
        if self.head < self.buf.len() {
            self.head += 1;
        }
    }
    #[inline]
    fn push_back(&mut self, s: Slot) {
        self.buf.push(s);
    }
}

#[derive(Debug, Clone, Copy)]
struct FindState {
    last_any: Day,
    last_present: Day,
    present_idx: u32,
}

const NONE_DAY: Day = Day::MIN;
const NO_BAND: u32 = u32::MAX;
const NO_DATA: u32 = u32::MAX - 1;

impl FindState {
    const EMPTY: FindState = FindState { last_any: NONE_DAY, last_present: NONE_DAY, present_idx: 0 };
}

/// Reusable per-thread buffers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    deques: Vec<Deque>,
    finds: Vec<FindState>,
    /// Per lab channel on the current day: worst value in the window (NaN = none); with
    /// qualified values, the decisive key's value.
    lab_val: Vec<f64>,
    /// Qualified path only, per lab channel: tie of the decisive key, and value and tie of
    /// the possible key (see the module docs).
    lab_tie: Vec<i8>,
    lab_pos: Vec<f64>,
    lab_pos_tie: Vec<i8>,
    /// Qualified path only: per lab channel, the deque of the possible worst value.
    pdeques: Vec<Deque>,
    /// Per finding channel on the current day: bit 0 evaluable, bit 1 met.
    find_st: Vec<u8>,
    /// Per condition on the current day: bit 0 evaluable, bit 1 met.
    cond_st: Vec<u8>,
    /// Per `lab_points` criterion on the current day: index of the band of the worst value
    /// (`NO_BAND` without data or outside every band).
    band: Vec<u32>,
    /// Change days with their members (see `day_entry`).
    days: Vec<u64>,
    /// Per window: the last expiry day pushed and its index in `days`.
    last_exp: Vec<(Day, usize)>,
    /// Per member: own score and companion HScore on the current day.
    member_scores: Vec<(f64, f64)>,
    /// Aplasia periods (first day, last day, bit of their aplasia class).
    aplasia: Vec<(Day, Day, u32)>,
    points: Vec<f64>,
    /// Per derived series: this patient's derived values (day order) and the entry cursor.
    derived: Vec<Vec<Slot>>,
    derived_cursor: Vec<usize>,
    /// Per finding channel: a new-finding test blocked for this patient (present at diagnosis).
    find_blocked: Vec<bool>,
    /// Scratch for derived series: measurement indices of one analyte, values, qualifying days.
    tmp_idx: Vec<u32>,
    tmp_vals: Vec<f64>,
    tmp_days: Vec<Day>,
    tmp_pos_days: Vec<Day>,
    pub(crate) states: Vec<DayState>,
    /// Unit spellings as shared text for evidence rows (made once per worker).
    pub(crate) units: UnitTexts,
}

impl Scratch {
    pub(crate) fn new(plan: &Plan) -> Scratch {
        Scratch {
            deques: (0..plan.lab.len()).map(|_| Deque { buf: Vec::with_capacity(32), head: 0 }).collect(),
            finds: vec![FindState::EMPTY; plan.find.len()],
            lab_val: vec![f64::NAN; plan.lab.len()],
            lab_tie: vec![0; plan.lab.len()],
            lab_pos: vec![f64::NAN; plan.lab.len()],
            lab_pos_tie: vec![0; plan.lab.len()],
            pdeques: (0..plan.lab.len()).map(|_| Deque::default()).collect(),
            find_st: vec![0; plan.find.len()],
            cond_st: vec![0; plan.conds.len()],
            band: vec![NO_BAND; plan.crits.len()],
            days: Vec::with_capacity(512),
            last_exp: Vec::new(),
            member_scores: Vec::new(),
            aplasia: Vec::new(),
            points: vec![0.0; plan.crits.len()],
            derived: vec![Vec::new(); plan.derived.len()],
            derived_cursor: vec![0; plan.derived.len()],
            find_blocked: vec![false; plan.find.len()],
            tmp_idx: Vec::new(),
            tmp_vals: Vec::new(),
            tmp_days: Vec::new(),
            tmp_pos_days: Vec::new(),
            states: Vec::with_capacity(256),
            units: UnitTexts::default(),
        }
    }
}

/// Read access to the channel contents on the current change day.
pub(crate) struct View<'a> {
    plan: &'a Plan,
    deques: &'a [Deque],
    band: &'a [u32],
    finds: &'a [FindState],
    cond_st: &'a [u8],
    points: &'a [f64],
    met: u128,
}

impl View<'_> {
    /// Points of criterion `c` today (0 when not scored or not met).
    pub(crate) fn points(&self, c: usize) -> f64 {
        self.points[c]
    }

    /// The qualifying value of condition `i` if it is met today.
    fn cond_source(&self, i: usize) -> Option<Source> {
        if self.cond_st[i] & 2 == 0 {
            return None;
        }
        match self.plan.conds[i].src {
            CondSrc::Lab(ch) => self.deques[ch as usize].front().map(|f| Source::Measurement(f.idx)),
            CondSrc::Finding(ch) => Some(Source::Finding(self.finds[ch as usize].present_idx)),
        }
    }

    /// The qualifying values of criterion `c` today (empty if not met): `(condition text, source)`,
    /// one per met sub-condition, in condition order.
    pub(crate) fn qualifying(&self, c: usize, out: &mut Vec<(SharedText, Source)>) {
        out.clear();
        if self.met & (1u128 << c) == 0 {
            return;
        }
        match &self.plan.crits[c].kind {
            PKind::Single(i) => {
                if let Some(s) = self.cond_source(*i) {
                    out.push((self.plan.cond_text[*i].clone(), s));
                }
            }
            PKind::CountOf { start, end, .. } => {
                for i in *start..*end {
                    if let Some(s) = self.cond_source(i) {
                        out.push((self.plan.cond_text[i].clone(), s));
                    }
                }
            }
            PKind::Points { lab, bands } => {
                if let Some(front) = self.deques[*lab as usize].front() {
                    // The band the sweep decided (with a qualified value the front holds a
                    // bound, which need not lie in the band itself).
                    let text = bands.get(self.band[c] as usize).map(|(_, t)| t.clone()).unwrap_or_default();
                    out.push((text, Source::Measurement(front.idx)));
                }
            }
        }
    }
}

/// Sweep patient `p` over its change days `<= until` (plus `extra_day` if given, evaluated even
/// without a change), calling `f` with the state of every visited day in increasing order.
pub(crate) fn sweep<F>(plan: &Plan, cohort: &Cohort, p: PatientIdx, until: Day, extra_day: Option<Day>, s: &mut Scratch, mut f: F)
where
    F: FnMut(&DayState, &View<'_>),
{
    sweep_members(plan, &[(0, plan)], cohort, p, until, extra_day, s, |_, st, view| f(st, view));
}

/// A change day and the members (bits) for which it is one, packed so that sorting the
/// integers sorts by day.
#[inline]
fn day_entry(d: Day, members: u32) -> u64 {
    (u64::from((d as u32) ^ 0x8000_0000) << 32) | u64::from(members)
}

#[inline]
fn entry_day(e: u64) -> Day {
    (((e >> 32) as u32) ^ 0x8000_0000) as Day
}

/// Sweep patient `p` under a plan of several members ([`Plan::merged`]; a single set's plan is
/// its own one member): `members[j]` is (index of member `j`'s first criterion in `plan`,
/// member `j`'s own plan). `f(j, state, view)` is called, day by day, with the state member
/// `j`'s own [`sweep`] would give, on exactly the days that sweep visits: a member's channels
/// only change on its own change days, so the days of other members leave its state as it was.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_members<F>(
    plan: &Plan,
    members: &[(usize, &Plan)],
    cohort: &Cohort,
    p: PatientIdx,
    until: Day,
    extra_day: Option<Day>,
    s: &mut Scratch,
    mut f: F,
) where
    F: FnMut(usize, &DayState, &View<'_>),
{
    let ms = cohort.measurements_of(p);
    let fs = cohort.findings_of(p);
    let all_members = u32::MAX >> (32 - plan.n_members);

    // Change days, each with the members it is a change day of.
    // Data are sorted by day, so repeated (day, window) pairs are consecutive per window:
    // `last_exp[k]` remembers the last day pushed for window `plan.windows[k]` and where.
    s.days.clear();
    s.last_exp.clear();
    s.last_exp.resize(plan.windows.len(), (NONE_DAY, 0));
    let mut last_day = (NONE_DAY, 0usize);
    // Any qualified value of an analyte a channel reads: take the qualified path for this patient.
    let mut qual = false;
    for m in ms {
        let a = m.analyte as usize;
        let ws = &plan.lab_window_ids[a];
        if ws.is_empty() || !m.value.is_finite() {
            continue;
        }
        qual |= m.qualifier.is_qualified();
        if m.day != last_day.0 {
            last_day = (m.day, s.days.len());
            s.days.push(day_entry(m.day, plan.lab_day_mask[a]));
        } else {
            s.days[last_day.1] |= u64::from(plan.lab_day_mask[a]);
        }
        for (&k, &mask) in ws.iter().zip(&plan.lab_window_masks[a]) {
            if s.last_exp[k].0 != m.day {
                s.last_exp[k] = (m.day, s.days.len());
                s.days.push(day_entry(m.day.saturating_add(plan.windows[k]).saturating_add(1), mask));
            } else {
                s.days[s.last_exp[k].1] |= u64::from(mask);
            }
        }
    }
    for fd in fs {
        let kind = fd.finding as usize;
        let ws = &plan.finding_window_ids[kind];
        if ws.is_empty() {
            continue;
        }
        s.days.push(day_entry(fd.day, plan.finding_day_mask[kind]));
        for (&k, &mask) in ws.iter().zip(&plan.finding_window_masks[kind]) {
            s.days.push(day_entry(fd.day.saturating_add(plan.windows[k]).saturating_add(1), mask));
        }
    }
    for k in 0..plan.derived.len() {
        let mut vals = std::mem::take(&mut s.derived[k]);
        derive(&plan.derived[k], ms, cohort.patients[p as usize].diagnosis, &mut vals, s);
        for v in &vals {
            s.days.push(day_entry(v.day, plan.derived_day_mask[k]));
            for (&w, &mask) in plan.derived_window_ids[k].iter().zip(&plan.derived_window_masks[k]) {
                s.days.push(day_entry(v.day.saturating_add(plan.windows[w]).saturating_add(1), mask));
            }
        }
        s.derived[k] = vals;
        s.derived_cursor[k] = 0;
    }
    if !plan.find.is_empty() {
        let diagnosis = cohort.patients[p as usize].diagnosis;
        for (ch, spec) in plan.find.iter().enumerate() {
            s.find_blocked[ch] = match spec.new_since {
                Some(nd) => fs.iter().any(|f| f.finding == spec.kind && f.present && f.day <= diagnosis.saturating_add(nd)),
                None => false,
            };
        }
    }
    s.aplasia.clear();
    for (class, ap) in plan.aplasia_classes.iter().enumerate().filter(|(_, ap)| ap.has_periods()) {
        let class = 1u32 << class;
        if ap.before_first_line {
            if let Some(first) = cohort.treatments_of(p).iter().map(|l| l.start).min() {
                s.aplasia.push((Day::MIN, first - 1, class));
                s.days.push(day_entry(first, ap.members));
            }
        }
        if let Some((len, intensities)) = &ap.periods {
            for l in cohort.treatments_of(p) {
                if intensities.contains(&l.intensity) {
                    let mut last = l.start.saturating_add(*len);
                    if let Some(r) = &ap.recovery {
                        let from = l.start.saturating_add(r.from_day as i32);
                        if let Some(m) = ms.iter().find(|m| {
                            m.analyte == r.analyte
                                && m.day >= from
                                && m.day <= last
                                && m.value.is_finite()
                                && decide(m, r.comparator, r.threshold) == Some(true)
                        }) {
                            last = m.day - 1;
                        }
                    }
                    s.aplasia.push((l.start, last, class));
                    s.days.push(day_entry(l.start, ap.members));
                    s.days.push(day_entry(last.saturating_add(1), ap.members));
                }
            }
        }
    }
    if let Some(d) = extra_day {
        s.days.push(day_entry(d, all_members));
    }
    s.days.sort_unstable();
    merge_days(&mut s.days);

    for d in s.deques.iter_mut() {
        d.clear();
    }
    for st in s.finds.iter_mut() {
        *st = FindState::EMPTY;
    }
    // Everything starts "no data": every criterion not evaluable, not met, 0 points — which is
    // exactly what evaluating it without data gives, so only changed channels need re-evaluation.
    s.lab_val.iter_mut().for_each(|v| *v = f64::NAN);
    if qual {
        s.lab_tie.iter_mut().for_each(|v| *v = 0);
        s.lab_pos.iter_mut().for_each(|v| *v = f64::NAN);
        s.lab_pos_tie.iter_mut().for_each(|v| *v = 0);
        for d in s.pdeques.iter_mut() {
            d.clear();
        }
    }
    s.find_st.iter_mut().for_each(|v| *v = 0);
    s.cond_st.iter_mut().for_each(|v| *v = 0);
    s.band.iter_mut().for_each(|v| *v = NO_DATA);
    s.points.iter_mut().for_each(|v| *v = 0.0);
    let mut met = 0u128;
    let mut evaluable = 0u128;
    // per member: own score and companion HScore (sums of its criteria's points)
    s.member_scores.clear();
    s.member_scores.resize(members.len(), (0.0, 0.0));
    let mut was_in_aplasia = 0u32;

    let diagnosis = cohort.patients[p as usize].diagnosis;
    let (mut mi, mut fi) = (0usize, 0usize);
    for di in 0..s.days.len() {
        let entry = s.days[di];
        let t = entry_day(entry);
        let day_members = entry as u32;
        if t > until {
            break;
        }
        // Enter new values (monotonic deques: the front is the worst value, ties → most recent).
        while mi < ms.len() && ms[mi].day <= t {
            let m = &ms[mi];
            if qual {
                if m.value.is_finite() {
                    let in_aplasia = aplasia_classes_on(&s.aplasia, m.day);
                    enter_qualified(plan, s, ms, mi, in_aplasia);
                }
            } else if m.value.is_finite() {
                let in_aplasia = aplasia_classes_on(&s.aplasia, m.day);
                for &(ch, max) in &plan.lab_listeners[m.analyte as usize] {
                    if skipped(plan.lab[ch as usize].skip_aplasia, in_aplasia) {
                        continue;
                    }
                    let dq = &mut s.deques[ch as usize];
                    if max {
                        while dq.back().is_some_and(|b| b.value <= m.value) {
                            dq.pop_back();
                        }
                    } else {
                        while dq.back().is_some_and(|b| b.value >= m.value) {
                            dq.pop_back();
                        }
                    }
                    dq.push_back(Slot { value: m.value, day: m.day, idx: mi as u32 });
                }
            }
            mi += 1;
        }
        for k in 0..plan.derived.len() {
            while let Some(v) = s.derived[k].get(s.derived_cursor[k]).copied() {
                if v.day > t {
                    break;
                }
                let in_aplasia = aplasia_classes_on(&s.aplasia, v.day);
                for &ch in &plan.derived_listeners[k] {
                    if skipped(plan.lab[ch as usize].skip_aplasia, in_aplasia) {
                        continue;
                    }
                    let dq = &mut s.deques[ch as usize];
                    while dq.back().is_some_and(|b| b.value <= v.value) {
                        dq.pop_back();
                    }
                    dq.push_back(v);
                }
                s.derived_cursor[k] += 1;
            }
        }
        while fi < fs.len() && fs[fi].day <= t {
            let fd = &fs[fi];
            for &ch in &plan.finding_listeners[fd.finding as usize] {
                if let Some(nd) = plan.find[ch as usize].new_since {
                    if s.find_blocked[ch as usize] || fd.day <= diagnosis.saturating_add(nd) {
                        continue;
                    }
                }
                let st = &mut s.finds[ch as usize];
                st.last_any = fd.day;
                if fd.present {
                    st.last_present = fd.day;
                    st.present_idx = fi as u32;
                }
            }
            fi += 1;
        }
        // Expire old values; channel status of the day; criteria to re-evaluate.
        let mut dirty = 0u128;
        for (ch, spec) in plan.lab.iter().enumerate() {
            if qual && spec.derived.is_none() {
                dirty |= status_qualified(plan, s, ms, ch, t);
                continue;
            }
            let dq = &mut s.deques[ch];
            let lo = t - spec.window;
            while dq.front().is_some_and(|f| f.day < lo) {
                dq.pop_front();
            }
            let v = dq.front().map_or(f64::NAN, |f| f.value);
            if v.to_bits() != s.lab_val[ch].to_bits() {
                s.lab_val[ch] = v;
                // Only criteria whose condition state or points band changed need re-evaluation.
                for &(i, ci) in &plan.lab_conds[ch] {
                    let st = cond_state(&plan.conds[i], &s.lab_val, &s.find_st);
                    if st != s.cond_st[i] {
                        s.cond_st[i] = st;
                        dirty |= 1u128 << ci;
                    }
                }
                for &ci in &plan.lab_points[ch] {
                    let b = match &plan.crits[ci].kind {
                        PKind::Points { bands, .. } if !v.is_nan() => {
                            bands.iter().position(|(b, _)| b.contains(v)).map_or(NO_BAND, |k| k as u32)
                        }
                        _ => NO_DATA,
                    };
                    if b != s.band[ci] {
                        s.band[ci] = b;
                        dirty |= 1u128 << ci;
                    }
                }
            }
        }
        // (Patients without findings keep every finding channel empty: nothing to update.)
        for (ch, spec) in plan.find.iter().enumerate().take(if fs.is_empty() { 0 } else { usize::MAX }) {
            let st = s.finds[ch];
            let lo = t - spec.window;
            let v = u8::from(st.last_any != NONE_DAY && st.last_any >= lo)
                | (u8::from(st.last_present != NONE_DAY && st.last_present >= lo) << 1);
            if v != s.find_st[ch] {
                s.find_st[ch] = v;
                for &(i, ci) in &plan.find_conds[ch] {
                    s.cond_st[i] = v;
                    dirty |= 1u128 << ci;
                }
            }
        }
        let in_aplasia = aplasia_classes_on(&s.aplasia, t);
        let mut flipped = in_aplasia ^ was_in_aplasia;
        while flipped != 0 {
            dirty |= plan.aplasia_crits[flipped.trailing_zeros() as usize];
            flipped &= flipped - 1;
        }
        was_in_aplasia = in_aplasia;

        // Re-evaluate the criteria whose inputs changed.
        let mut rescore = false;
        let mut rest = dirty;
        while rest != 0 {
            let ci = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let c = &plan.crits[ci];
            let (ev, mt, pts) = if c.aplasia_sensitive && in_aplasia & (1 << c.aplasia_class) != 0 {
                (false, false, 0.0)
            } else {
                eval_crit(c, ci, &s.cond_st, &s.band)
            };
            let bit = 1u128 << ci;
            evaluable = if ev { evaluable | bit } else { evaluable & !bit };
            met = if mt { met | bit } else { met & !bit };
            if c.scored {
                let pts = if pts == 0.0 { 0.0 } else { pts };
                if pts.to_bits() != s.points[ci].to_bits() {
                    s.points[ci] = pts;
                    rescore = true;
                }
            }
        }
        if rescore {
            // Re-add in criterion order so the sums do not depend on the update history.
            for (sums, &(lo, m)) in s.member_scores.iter_mut().zip(members) {
                let own = &s.points[lo..lo + m.n_crits()];
                *sums = (
                    own[..m.n_primary].iter().fold(0.0, |acc, p| acc + p),
                    own[m.n_primary..].iter().fold(0.0, |acc, p| acc + p),
                );
            }
        }
        let view = View { plan, deques: &s.deques, band: &s.band, finds: &s.finds, cond_st: &s.cond_st, points: &s.points, met };
        for (j, &(lo, m)) in members.iter().enumerate() {
            if day_members & (1 << j) != 0 {
                let own = low_mask(m.n_crits());
                let state = member_state(m, t, (met >> lo) & own, (evaluable >> lo) & own, s.member_scores[j]);
                f(j, &state, &view);
            }
        }
    }
}

/// The day state of one member from its own criteria bits and (own score, companion HScore).
fn member_state(m: &Plan, day: Day, met: u128, evaluable: u128, (score, companion): (f64, f64)) -> DayState {
    let primary = m.primary_mask();
    DayState {
        day,
        met,
        evaluable,
        n_met: (met & primary).count_ones(),
        n_evaluable: (evaluable & primary).count_ones(),
        score: if m.primary_scored { score } else { 0.0 },
        hscore: if m.companion {
            companion
        } else if m.primary_scored {
            score
        } else {
            0.0
        },
        holds: m.holds(met, evaluable, score),
    }
}

/// Bits of the aplasia classes with an aplasia period containing day `d`.
#[inline]
fn aplasia_classes_on(periods: &[(Day, Day, u32)], d: Day) -> u32 {
    periods.iter().filter(|&&(a, b, _)| a <= d && d <= b).fold(0, |acc, &(_, _, c)| acc | c)
}

/// Whether a channel skipping values of aplasia class `skip` leaves out a value dated in the
/// periods of the classes `in_aplasia`.
#[inline]
fn skipped(skip: Option<u8>, in_aplasia: u32) -> bool {
    skip.is_some_and(|k| in_aplasia & (1 << k) != 0)
}

/// Merge the entries of equal days (sorted): one entry per day with the union of their members.
fn merge_days(days: &mut Vec<u64>) {
    let mut w = 0usize;
    for r in 0..days.len() {
        let e = days[r];
        if w > 0 && days[w - 1] >> 32 == e >> 32 {
            days[w - 1] |= e;
        } else {
            days[w] = e;
            w += 1;
        }
    }
    days.truncate(w);
}

/// Criteria needed by a count rule under the proportional policy:
/// `max(floor, ceil(min × n_evaluable / n))`.
pub(crate) fn proportional_count(min: u32, n_evaluable: u32, n: u32, floor: f64) -> f64 {
    // Integer ceiling: exact whatever the sizes.
    let scaled = (u64::from(min) * u64::from(n_evaluable)).div_ceil(u64::from(n.max(1)));
    (scaled as f64).max(floor)
}

/// Cut-off of a score rule under the proportional policy:
/// `max(floor, cutoff × evaluable_max_points / max_points)` (sums in criterion order).
pub(crate) fn proportional_cutoff(cutoff: f64, crit_max: &[f64], evaluable: u128, floor: f64) -> f64 {
    let total = crit_max.iter().fold(0.0, |a, p| a + p);
    if total <= 0.0 {
        return cutoff;
    }
    let eval = crit_max.iter().enumerate().filter(|(i, _)| evaluable & (1u128 << i) != 0).fold(0.0, |a, (_, p)| a + p);
    (cutoff * eval / total).max(floor)
}

/// This patient's values of a derived series (see [`Temporal`]), in measurement order.
/// `ms` is the patient's measurements (sorted by day); `Slot::idx` indexes it.
fn derive(spec: &DerivedSpec, ms: &[crate::cohort::Measurement], diagnosis: Day, out: &mut Vec<Slot>, s: &mut Scratch) {
    out.clear();
    s.tmp_idx.clear();
    s.tmp_idx
        .extend(ms.iter().enumerate().filter(|(_, m)| m.analyte == spec.analyte && m.value.is_finite()).map(|(i, _)| i as u32));
    if s.tmp_idx.is_empty() {
        return;
    }
    match spec.temporal {
        Temporal::Relative { stat, lookback_days, comparator, factor } => {
            let lb = lookback_days as i32;
            let mut lo = 0usize; // first index of the look-back of the current measurement
            for j in 0..s.tmp_idx.len() {
                let m = &ms[s.tmp_idx[j] as usize];
                while ms[s.tmp_idx[lo] as usize].day < m.day - lb {
                    lo += 1;
                }
                match decide(m, spec.comparator, spec.threshold) {
                    Some(true) => {}
                    Some(false) => {
                        out.push(Slot { value: 0.0, day: m.day, idx: s.tmp_idx[j] });
                        continue;
                    }
                    None => {
                        // a bound that does not decide the absolute test
                        out.push(Slot { value: UNDECIDED, day: m.day, idx: s.tmp_idx[j] });
                        continue;
                    }
                }
                // Earlier exact values: days m.day - lb ..= m.day - 1 (qualified values are
                // left out of the baseline; see the module docs).
                s.tmp_vals.clear();
                for &i in &s.tmp_idx[lo..j] {
                    let e = &ms[i as usize];
                    if e.day < m.day && !e.qualifier.is_qualified() {
                        s.tmp_vals.push(e.value);
                    }
                }
                let Some(b) = baseline(stat, &mut s.tmp_vals) else {
                    continue; // no baseline: not evaluable
                };
                let q = decide(m, comparator, factor * b);
                out.push(Slot { value: q.map_or(UNDECIDED, |q| if q { 1.0 } else { 0.0 }), day: m.day, idx: s.tmp_idx[j] });
            }
        }
        Temporal::Persistent { days, within_days } => {
            // Days the test is met (decided), and days it may be met (decided or undecided).
            s.tmp_days.clear();
            s.tmp_pos_days.clear();
            let mut undecided = false;
            for &i in &s.tmp_idx {
                let m = &ms[i as usize];
                let d = decide(m, spec.comparator, spec.threshold);
                if d == Some(true) && s.tmp_days.last() != Some(&m.day) {
                    s.tmp_days.push(m.day);
                }
                if d != Some(false) && s.tmp_pos_days.last() != Some(&m.day) {
                    s.tmp_pos_days.push(m.day);
                }
                undecided |= d.is_none();
            }
            let count =
                |v: &[Day], from: Day, to: Day| (v.partition_point(|d| *d <= to) - v.partition_point(|d| *d < from)) as u32;
            for &i in &s.tmp_idx {
                let m = &ms[i as usize];
                let from = m.day - within_days as i32 + 1;
                let value = if count(&s.tmp_days, from, m.day) >= days {
                    1.0
                } else if undecided && count(&s.tmp_pos_days, from, m.day) >= days {
                    UNDECIDED
                } else {
                    0.0
                };
                out.push(Slot { value, day: m.day, idx: i });
            }
        }
        Temporal::NewSinceDiagnosis { days } => {
            let cut = diagnosis.saturating_add(days as i32);
            let blocked = s.tmp_idx.iter().any(|&i| {
                let m = &ms[i as usize];
                m.day <= cut && decide(m, spec.comparator, spec.threshold) == Some(true)
            });
            if blocked {
                return;
            }
            for &i in &s.tmp_idx {
                let m = &ms[i as usize];
                if m.day > cut {
                    let q = decide(m, spec.comparator, spec.threshold);
                    out.push(Slot { value: q.map_or(UNDECIDED, |q| if q { 1.0 } else { 0.0 }), day: m.day, idx: i });
                }
            }
        }
    }
}

/// Baseline statistic of `v` (reordered); `None` when empty.
fn baseline(stat: BaselineStat, v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    Some(match stat {
        BaselineStat::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
        BaselineStat::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        BaselineStat::Median => {
            v.sort_unstable_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        }
    })
}

/// Ordering key of one side of a (possibly censored) value: the bound, and a tie that orders
/// an open bound against a closed one with the same value: `+1` for an open lower bound
/// (`>b`: just above `b`), `-1` for an open upper bound (`<b`: just below `b`), `0` for a
/// closed bound or an exact value. Keys compare lexicographically.
type Key = (f64, i8);

/// The lower (`lower = true`) or upper side of a measurement's value as a [`Key`]: an exact
/// value is `(v, 0)` on both sides; `>b` is `(b, +1)` below and `(+∞, 0)` above; `>=b`
/// `(b, 0)` and `(+∞, 0)`; `<b` `(−∞, 0)` and `(b, −1)`; `<=b` `(−∞, 0)` and `(b, 0)`.
#[inline]
fn key(m: &Measurement, lower: bool) -> Key {
    let v = m.value;
    match (m.qualifier, lower) {
        (Qualifier::None, _) => (v, 0),
        (Qualifier::Gt, true) => (v, 1),
        (Qualifier::Ge, true) => (v, 0),
        (Qualifier::Lt | Qualifier::Le, true) => (f64::NEG_INFINITY, 0),
        (Qualifier::Gt | Qualifier::Ge, false) => (f64::INFINITY, 0),
        (Qualifier::Lt, false) => (v, -1),
        (Qualifier::Le, false) => (v, 0),
    }
}

/// `a <= b` for keys.
#[inline]
fn key_le(a: Key, b: Key) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1)
}

/// Whether every value on the side `k` satisfies `value (op) thr`: `k (op) (thr, 0)`.
#[inline]
fn key_op(op: Op, k: Key, thr: f64) -> bool {
    match op {
        Op::Ge => k.0 > thr || (k.0 == thr && k.1 >= 0),
        Op::Gt => k.0 > thr || (k.0 == thr && k.1 > 0),
        Op::Le => k.0 < thr || (k.0 == thr && k.1 <= 0),
        Op::Lt => k.0 < thr || (k.0 == thr && k.1 < 0),
        Op::Present | Op::Derived => false,
    }
}

fn op_of(c: Comparator) -> Op {
    match c {
        Comparator::Ge => Op::Ge,
        Comparator::Gt => Op::Gt,
        Comparator::Le => Op::Le,
        Comparator::Lt => Op::Lt,
    }
}

/// Whether one measurement meets `value (cmp) thr`: `Some(true)` when its value (or, for a
/// qualified value, every value its bound allows) does, `Some(false)` when none does, `None`
/// when the bound does not decide (e.g. `>5` against `>= 10`).
#[inline]
pub(crate) fn decide(m: &Measurement, cmp: Comparator, thr: f64) -> Option<bool> {
    if !m.qualifier.is_qualified() {
        return Some(cmp.holds(m.value, thr));
    }
    let op = op_of(cmp);
    // The side that can decide "met" (lower for >=, >; upper for <=, <), then the other.
    let high = matches!(cmp, Comparator::Ge | Comparator::Gt);
    if key_op(op, key(m, high), thr) {
        Some(true)
    } else if key_op(op, key(m, !high), thr) {
        None
    } else {
        Some(false)
    }
}

/// Push measurement `idx` onto a monotonic deque ordered by its `lower`/upper key (the front
/// is the highest key when `max`, else the lowest; ties resolve to the most recent).
#[inline]
fn push_keyed(dq: &mut Deque, ms: &[Measurement], idx: usize, max: bool, lower: bool) {
    let m = &ms[idx];
    let k = key(m, lower);
    while let Some(b) = dq.back() {
        let bk = key(&ms[b.idx as usize], lower);
        let pop = if max { key_le(bk, k) } else { key_le(k, bk) };
        if !pop {
            break;
        }
        dq.pop_back();
    }
    dq.push_back(Slot { value: k.0, day: m.day, idx: idx as u32 });
}

/// Qualified path: enter measurement `mi` into the decisive and the possible deque of every
/// lab channel it feeds (decisive = lower keys of a max channel / upper keys of a min channel).
/// Channels that skip values from aplasia periods are left alone when the value lies in one of
/// their class (`in_aplasia`: bits of the aplasia classes in aplasia on the value's day).
fn enter_qualified(plan: &Plan, s: &mut Scratch, ms: &[Measurement], mi: usize, in_aplasia: u32) {
    for &(ch, max) in &plan.lab_listeners[ms[mi].analyte as usize] {
        if skipped(plan.lab[ch as usize].skip_aplasia, in_aplasia) {
            continue;
        }
        push_keyed(&mut s.deques[ch as usize], ms, mi, max, max);
        push_keyed(&mut s.pdeques[ch as usize], ms, mi, max, !max);
    }
}

/// Qualified path: expire channel `ch` on day `t`, update its decisive and possible keys and,
/// if they changed, its conditions and points bands; returns the criteria to re-evaluate.
fn status_qualified(plan: &Plan, s: &mut Scratch, ms: &[Measurement], ch: usize, t: Day) -> u128 {
    let spec = &plan.lab[ch];
    let max = spec.worst == Worst::Max;
    let lo = t - spec.window;
    for dq in [&mut s.deques[ch], &mut s.pdeques[ch]] {
        while dq.front().is_some_and(|f| f.day < lo) {
            dq.pop_front();
        }
    }
    let (d, p) = match (s.deques[ch].front(), s.pdeques[ch].front()) {
        (Some(a), Some(b)) => (key(&ms[a.idx as usize], max), key(&ms[b.idx as usize], !max)),
        _ => ((f64::NAN, 0), (f64::NAN, 0)),
    };
    if d.0.to_bits() == s.lab_val[ch].to_bits()
        && d.1 == s.lab_tie[ch]
        && p.0.to_bits() == s.lab_pos[ch].to_bits()
        && p.1 == s.lab_pos_tie[ch]
    {
        return 0;
    }
    s.lab_val[ch] = d.0;
    s.lab_tie[ch] = d.1;
    s.lab_pos[ch] = p.0;
    s.lab_pos_tie[ch] = p.1;
    let mut dirty = 0u128;
    for &(i, ci) in &plan.lab_conds[ch] {
        let st = cond_state_keys(&plan.conds[i], d, p);
        if st != s.cond_st[i] {
            s.cond_st[i] = st;
            dirty |= 1u128 << ci;
        }
    }
    // The true worst value lies between the two keys.
    let (low, high) = if max { (d, p) } else { (p, d) };
    for &ci in &plan.lab_points[ch] {
        let b = match &plan.crits[ci].kind {
            PKind::Points { bands, .. } if !d.0.is_nan() => band_of_interval(bands, low, high),
            _ => NO_DATA,
        };
        if b != s.band[ci] {
            s.band[ci] = b;
            dirty |= 1u128 << ci;
        }
    }
    dirty
}

/// Condition status from a channel's decisive key `d` and possible key `p` (qualified path):
/// met when `d` decides it, evaluable and not met when `p` decides it is not, else not
/// evaluable. With exact values `d == p` and this is [`cond_state`].
#[inline]
fn cond_state_keys(c: &FlatCond, d: Key, p: Key) -> u8 {
    if d.0.is_nan() {
        0
    } else if key_op(c.op, d, c.thr) {
        3
    } else if key_op(c.op, p, c.thr) {
        0
    } else {
        1
    }
}

/// The band holding every value between the keys `low` and `high`; `NO_BAND` if no band
/// holds any of them; `NO_DATA` (not evaluable) if the values straddle a band edge.
fn band_of_interval(bands: &[(Band, SharedText)], low: Key, high: Key) -> u32 {
    let holds = |b: &Band| {
        b.lower.is_none_or(|l| key_op(if l.inclusive { Op::Ge } else { Op::Gt }, low, l.value))
            && b.upper.is_none_or(|u| key_op(if u.inclusive { Op::Le } else { Op::Lt }, high, u.value))
    };
    let excludes = |b: &Band| {
        b.lower.is_some_and(|l| key_op(if l.inclusive { Op::Lt } else { Op::Le }, high, l.value))
            || b.upper.is_some_and(|u| key_op(if u.inclusive { Op::Gt } else { Op::Ge }, low, u.value))
    };
    if let Some(k) = bands.iter().position(|(b, _)| holds(b)) {
        k as u32
    } else if bands.iter().all(|(b, _)| excludes(b)) {
        NO_BAND
    } else {
        NO_DATA
    }
}

/// Status of one condition from the channel states: bit 0 evaluable, bit 1 met.
#[inline]
fn cond_state(c: &FlatCond, lab_val: &[f64], find_st: &[u8]) -> u8 {
    match c.src {
        CondSrc::Lab(ch) => {
            let v = lab_val[ch as usize];
            if v.is_nan() {
                0
            } else {
                let met = match c.op {
                    Op::Ge => v >= c.thr,
                    Op::Gt => v > c.thr,
                    Op::Le => v <= c.thr,
                    Op::Lt => v < c.thr,
                    Op::Present => false,
                    Op::Derived => {
                        if v == UNDECIDED {
                            return 0;
                        }
                        v >= c.thr
                    }
                };
                1 | (u8::from(met) << 1)
            }
        }
        CondSrc::Finding(ch) => find_st[ch as usize],
    }
}

/// (evaluable, met, points) of one criterion from the condition states and points bands.
#[inline]
fn eval_crit(c: &PCrit, ci: usize, cond_st: &[u8], band: &[u32]) -> (bool, bool, f64) {
    match &c.kind {
        PKind::Single(i) => {
            let st = cond_st[*i];
            let mt = st & 2 != 0;
            (st & 1 != 0, mt, if mt { c.points_when_met } else { 0.0 })
        }
        PKind::CountOf { start, end, min, count_points } => {
            let mut any = 0u8;
            let mut k = 0u32;
            for &st in &cond_st[*start..*end] {
                any |= st;
                k += u32::from(st >> 1);
            }
            let mt = k >= *min;
            let pts = match count_points {
                Some(v) => v[k as usize],
                None if mt => c.points_when_met,
                None => 0.0,
            };
            (any & 1 != 0, mt, pts)
        }
        PKind::Points { bands, .. } => match band[ci] {
            NO_DATA => (false, false, 0.0),
            NO_BAND => (true, false, 0.0),
            k => {
                let pts = bands[k as usize].0.points;
                (true, pts > 0.0, pts)
            }
        },
    }
}
