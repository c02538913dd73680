//! Detection over a whole cohort: sweep every patient in parallel, build episodes and the
//! audit trail, and summarise.

use rayon::prelude::*;

use crate::cohort::{Cohort, Day, Intensity, PatientIdx};

use super::criteria::{CriteriaSet, ProbabilityTable, RuleKind};
use super::episodes::{disease_status, runs, treatment_context, DiseaseStatus, TreatmentContext};
use super::evidence::{source_fields, Evidence, EvidenceRole, EvidenceTable};
use super::probability::{hscore_probability, HscoreProbability};
use super::sweep::{sweep, sweep_members, DayState, Plan, Scratch, Source};
use super::text::SharedText;

/// One HLH episode of one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Patient index into `cohort.patients`.
    pub patient: PatientIdx,
    /// Patient id.
    pub patient_id: SharedText,
    /// Episode number within the patient, 1-based (2, 3 ... are recurrences).
    pub episode: u32,
    /// Criteria set name.
    pub criteria_set: SharedText,
    /// First day the rule holds.
    pub onset: Day,
    /// Last day the rule holds (values carried over their windows), at most the end of follow-up.
    pub end: Day,
    /// The rule still held at the end of follow-up (`end` is then the end of follow-up).
    pub ongoing_at_end_of_follow_up: bool,
    /// Names of the set's criteria met on the onset day, in set order.
    pub criteria_met_at_onset: MetCriteria,
    /// Most criteria of the set met on any day of the episode.
    pub max_criteria: u32,
    /// Criteria of the set evaluable (with data in their window) on the onset day.
    pub evaluable_criteria: u32,
    /// Number of criteria in the set.
    pub n_criteria: u32,
    /// The set's own score at onset (score rules only).
    pub score_at_onset: Option<f64>,
    /// HScore at onset: the set's own score for a score rule, else the companion HScore.
    pub hscore_at_onset: Option<f64>,
    /// Highest HScore on any day of the episode (same source as `hscore_at_onset`).
    pub max_hscore: Option<f64>,
    /// Probability for `max_hscore` from the Fardet 2014 table (HScore only).
    pub hscore_probability: Option<HscoreProbability>,
    /// Treatment line in effect at onset.
    pub treatment: Option<TreatmentContext>,
    /// Disease status at onset.
    pub disease_status: DiseaseStatus,
}

/// Some of a criteria set's criteria (those met on an episode's onset day), in set order.
///
/// Holds the set's names once (shared by all its episodes) and a bit per criterion, so an
/// episode carries no allocation of its own for them.
#[derive(Clone, PartialEq, Default)]
pub struct MetCriteria {
    /// The set's criterion names, in set order.
    names: std::sync::Arc<[SharedText]>,
    /// Bit `c` set: criterion `c` is met (two words, not a `u128`, to keep episodes 8-aligned).
    met: [u64; 2],
}

impl MetCriteria {
    /// The criteria of `names` whose bit is set in `met` (bits past the names are ignored).
    pub fn new(names: std::sync::Arc<[SharedText]>, met: u128) -> MetCriteria {
        let met = if names.len() >= 128 { met } else { met & ((1u128 << names.len()) - 1) };
        MetCriteria { names, met: [met as u64, (met >> 64) as u64] }
    }

    fn bits(&self) -> u128 {
        u128::from(self.met[0]) | (u128::from(self.met[1]) << 64)
    }

    /// The names of the criteria met, in set order.
    pub fn iter(&self) -> impl Iterator<Item = &SharedText> + '_ {
        let bits = self.bits();
        self.names.iter().enumerate().filter(move |(c, _)| bits & (1u128 << c) != 0).map(|(_, n)| n)
    }

    /// Number of criteria met.
    pub fn len(&self) -> usize {
        self.bits().count_ones() as usize
    }

    /// No criterion met.
    pub fn is_empty(&self) -> bool {
        self.bits() == 0
    }

    /// The names joined with `sep` (as a table cell lists them).
    pub fn join(&self, sep: &str) -> String {
        let mut out = String::new();
        for (i, n) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(n);
        }
        out
    }
}

impl std::fmt::Debug for MetCriteria {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(SharedText::as_str)).finish()
    }
}

/// Counts for one first-line intensity class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntensityCount {
    /// Intensity of the first line; `None` = no treatment line recorded.
    pub intensity: Option<Intensity>,
    /// Patients screened.
    pub screened: usize,
    /// Patients with at least one episode.
    pub with_episode: usize,
}

impl IntensityCount {
    /// Label: the intensity name, or `none`.
    pub fn label(&self) -> &'static str {
        self.intensity.map_or("none", Intensity::name)
    }
}

/// Cohort-level counts of a detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionSummary {
    /// Patients in the cohort.
    pub patients_screened: usize,
    /// Patients with at least one criterion of the set evaluable on some day of follow-up.
    pub patients_evaluable: usize,
    /// Patients with at least one episode.
    pub patients_with_episode: usize,
    /// Episodes in total (first episodes and recurrences).
    pub episodes: usize,
    /// By intensity of the first treatment line: every class of [`Intensity::ALL`], then `none`.
    pub by_first_line_intensity: Vec<IntensityCount>,
}

/// Result of [`detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Criteria set name.
    pub criteria_set: String,
    /// One-line description of the rule.
    pub rule: String,
    /// Whether `max_hscore` columns are filled (score rule or companion HScore).
    pub has_hscore: bool,
    /// Episodes ordered by patient index, then episode number.
    pub episodes: Vec<Episode>,
    /// Audit trail ordered by patient, episode, role, criterion, sub-condition.
    pub evidence: Vec<Evidence>,
    /// Counts.
    pub summary: DetectionSummary,
}

const SLOTS: usize = Intensity::ALL.len() + 1;

#[derive(Default)]
struct ChunkOut {
    episodes: Vec<Episode>,
    /// Episodes taken out of `episodes` ([`PartwiseDetection::take_last_range_episodes`]),
    /// still counted in the summary.
    taken: usize,
    evidence: Vec<Evidence>,
    evaluable: usize,
    screened: [usize; SLOTS],
    with_episode: [usize; SLOTS],
}

fn slot(i: Option<Intensity>) -> usize {
    match i {
        Some(i) => Intensity::ALL.iter().position(|x| *x == i).unwrap_or(SLOTS - 1),
        None => SLOTS - 1,
    }
}

/// Patients per parallel work item.
const CHUNK: usize = 256;

/// Detect HLH episodes of every patient under `set`.
///
/// Patients are processed in parallel (rayon) and the results concatenated in patient order,
/// so the output is identical for any number of threads. Each patient is evaluated on its
/// change days up to the end of follow-up (death or last contact); see the module docs of
/// [`crate::hlh`] for every convention.
pub fn detect(cohort: &Cohort, set: &CriteriaSet) -> Detection {
    detect_many(cohort, std::slice::from_ref(set)).pop().unwrap_or_else(|| assemble(set, &Plan::new(set), Vec::new(), 0))
}

/// Detect under several criteria sets in one pass over the patients: each chunk of patients
/// is evaluated under every set while its measurements are in cache, instead of one pass
/// over the whole cohort per set. The result of each set equals [`detect`] under that set.
pub fn detect_many(cohort: &Cohort, sets: &[CriteriaSet]) -> Vec<Detection> {
    match detect_many_into(cohort, sets, &DetectOptions::default()) {
        Ok(d) => d,
        Err(e) => unreachable!("no evidence sink, so nothing is written: {e}"),
    }
}

/// Receives the evidence rows of one chunk of patients under one set while detection runs, so
/// that they need not be kept in memory (at 1 M patients the study sets' evidence is ~8 M rows).
/// Chunks arrive from several threads in any order; `chunk` numbers them in patient order.
pub trait EvidenceSink: Sync {
    /// Take the rows of chunk `chunk` (0-based, in patient order) of set `set` (index into the
    /// sets given to [`detect_many_into`]); `rows` is never empty.
    fn take(&self, set: usize, chunk: usize, rows: &[Evidence]) -> std::io::Result<()>;
}

/// How [`detect_many_into`] runs. The detections do not depend on `chunk_patients`, on the
/// number of threads or on `on_chunk`.
#[derive(Clone, Copy)]
pub struct DetectOptions<'a> {
    /// Per set, whether to build its evidence rows and the second sweep that reads them (a set
    /// without an entry: yes). A set without them gets the same episodes and summary with an
    /// empty `evidence` — e.g. the variants of a definition grid, whose evidence nobody reads
    /// and which would hold millions of rows per set at scale.
    pub with_evidence: &'a [bool],
    /// Where the evidence goes, chunk by chunk (`None`: kept in the detections).
    pub sink: Option<&'a dyn EvidenceSink>,
    /// Patients per parallel work item (at least 1).
    pub chunk_patients: usize,
    /// Called after each chunk with its number of patients (a progress bar); from any thread.
    pub on_chunk: Option<&'a (dyn Fn(usize) + Sync)>,
}

impl Default for DetectOptions<'_> {
    fn default() -> Self {
        DetectOptions { with_evidence: &[], sink: None, chunk_patients: CHUNK, on_chunk: None }
    }
}

/// Detect under several criteria sets in one pass over the patients, as [`detect_many`], with
/// the [`DetectOptions`]: evidence only for some sets, handed to a sink instead of kept (the
/// detections then have an empty `evidence`, and concatenating a set's chunks in chunk order
/// gives exactly the rows it would have held), the chunk size, progress.
pub fn detect_many_into(cohort: &Cohort, sets: &[CriteriaSet], opts: &DetectOptions) -> std::io::Result<Vec<Detection>> {
    let mut run = PartwiseDetection::new(sets);
    run.detect_patients(cohort, 0..cohort.patients.len(), opts)?;
    Ok(run.finish(cohort.patients.len()))
}

/// Detection under several sets, run over consecutive ranges of patients, for a cohort that
/// holds the measurements of one range at a time ([`Cohort::set_measurement_part`]): call
/// [`PartwiseDetection::detect_patients`] for `0..a`, `a..b`, … up to the last patient, then
/// [`PartwiseDetection::finish`]. The detections equal [`detect_many_into`]'s whatever the
/// ranges (each patient is evaluated on its own rows); evidence chunks are numbered on across
/// the ranges, so a sink sees them in patient order as in one call.
pub struct PartwiseDetection<'s> {
    sets: &'s [CriteriaSet],
    plans: Vec<Plan>,
    base: Vec<Option<usize>>,
    groups: Vec<SweepGroup>,
    /// Per set, the chunk results so far, in patient order.
    per_set: Vec<Vec<ChunkOut>>,
    /// Patients done so far (the next range starts here).
    patients_done: usize,
    /// Chunks done before the last range.
    last_range_first_chunk: usize,
}

impl<'s> PartwiseDetection<'s> {
    /// Compile the sets (plans, shared evaluations, merged sweeps) once for every range.
    pub fn new(sets: &'s [CriteriaSet]) -> PartwiseDetection<'s> {
        let plans: Vec<Plan> = sets.iter().map(Plan::new).collect();
        let base = evaluation_bases(sets);
        let groups = sweep_groups(sets, &base);
        let per_set = plans.iter().map(|_| Vec::new()).collect();
        PartwiseDetection { sets, plans, base, groups, per_set, patients_done: 0, last_range_first_chunk: 0 }
    }

    /// Detect the patients `patients` (the next range: it starts where the last one ended)
    /// with `cohort`'s measurements, which must be those of at least these patients.
    pub fn detect_patients(
        &mut self,
        cohort: &Cohort,
        patients: std::ops::Range<usize>,
        opts: &DetectOptions,
    ) -> std::io::Result<()> {
        assert_eq!(patients.start, self.patients_done, "ranges must be consecutive");
        let (plans, sets, base, groups) = (&self.plans, self.sets, &self.base, &self.groups);
        let chunk = opts.chunk_patients.max(1);
        let group_members: Vec<Vec<(usize, &Plan)>> =
            groups.iter().map(|g| g.starts.iter().zip(&g.sets).map(|(&lo, &k)| (lo, &plans[k])).collect()).collect();
        let first_chunk = self.per_set.first().map_or(0, Vec::len);
        let n_chunks = patients.len().div_ceil(chunk);
        let chunks: Vec<Vec<ChunkOut>> = (0..n_chunks)
            .into_par_iter()
            .map_init(
                || {
                    (
                        plans.iter().map(Scratch::new).collect::<Vec<_>>(),
                        groups.iter().map(|g| Scratch::new(&g.plan)).collect::<Vec<_>>(),
                    )
                },
                |(scratch, group_scratch), ci| -> std::io::Result<Vec<ChunkOut>> {
                    let mut outs: Vec<ChunkOut> = plans.iter().map(|_| ChunkOut::default()).collect();
                    let lo = patients.start + ci * chunk;
                    let chunk_patients = lo..(lo + chunk).min(patients.end);
                    for p in chunk_patients.clone() {
                        let until = cohort.patients[p].end_of_follow_up();
                        for ((g, members), gs) in groups.iter().zip(&group_members).zip(group_scratch.iter_mut()) {
                            for &k in &g.sets {
                                scratch[k].states.clear();
                            }
                            sweep_members(&g.plan, members, cohort, p as PatientIdx, until, None, gs, |j, st, _| {
                                scratch[g.sets[j]].states.push(*st)
                            });
                        }
                        for (k, plan) in plans.iter().enumerate() {
                            let evidence = opts.with_evidence.get(k).copied().unwrap_or(true);
                            let (done, rest) = scratch.split_at_mut(k);
                            let shared = base[k].map(|j| done[j].states.as_slice());
                            process_patient(
                                plan,
                                &sets[k],
                                cohort,
                                p as PatientIdx,
                                evidence,
                                shared,
                                &mut rest[0],
                                &mut outs[k],
                            );
                        }
                    }
                    if let Some(sink) = opts.sink {
                        for (k, o) in outs.iter_mut().enumerate() {
                            if !o.evidence.is_empty() {
                                sink.take(k, first_chunk + ci, &o.evidence)?;
                                o.evidence = Vec::new();
                            }
                        }
                    }
                    if let Some(progress) = opts.on_chunk {
                        progress(chunk_patients.len());
                    }
                    Ok(outs)
                },
            )
            .collect::<std::io::Result<_>>()?;
        // transpose: chunk-major to set-major, chunks kept in patient order
        for outs in chunks {
            for (k, o) in outs.into_iter().enumerate() {
                self.per_set[k].push(o);
            }
        }
        self.patients_done = patients.end;
        self.last_range_first_chunk = first_chunk;
        Ok(())
    }

    /// The episodes found under set `k` (index into the sets) in the last range, in patient
    /// order.
    pub fn last_range_episodes(&self, k: usize) -> impl Iterator<Item = &Episode> {
        self.per_set[k][self.last_range_first_chunk..].iter().flat_map(|o| o.episodes.iter())
    }

    /// Take the episodes found under set `k` in the last range out of the detection (in
    /// patient order), for a caller that keeps less of them (e.g. only their onsets): the
    /// detection that [`PartwiseDetection::finish`] returns then lacks them in its
    /// `episodes`, but its summary still counts them.
    pub fn take_last_range_episodes(&mut self, k: usize) -> Vec<Episode> {
        let outs = &mut self.per_set[k][self.last_range_first_chunk..];
        let mut taken = Vec::with_capacity(outs.iter().map(|o| o.episodes.len()).sum());
        for o in outs {
            o.taken += o.episodes.len();
            taken.append(&mut o.episodes);
            o.episodes.shrink_to_fit();
        }
        taken
    }

    /// The detections of a cohort of `n` patients, all of them done.
    pub fn finish(self, n: usize) -> Vec<Detection> {
        assert_eq!(self.patients_done, n, "every patient must be detected");
        self.sets.iter().zip(&self.plans).zip(self.per_set).map(|((set, plan), outs)| assemble(set, plan, outs, n)).collect()
    }
}

/// For each set, an earlier set whose day-by-day criteria evaluation is the same (same
/// criteria, adaptations, companion HScore and kind of own score): only the rule differs (a
/// grid variant with another cut-off or minimum), so its states are reused with its own rule
/// instead of a second sweep of the patient.
fn evaluation_bases(sets: &[CriteriaSet]) -> Vec<Option<usize>> {
    let same = |a: &CriteriaSet, b: &CriteriaSet| {
        a.criteria == b.criteria
            && a.adaptations == b.adaptations
            && a.companion_hscore == b.companion_hscore
            && matches!(a.rule.kind, RuleKind::Score { .. }) == matches!(b.rule.kind, RuleKind::Score { .. })
    };
    (0..sets.len()).map(|k| (0..k).find(|&j| same(&sets[j], &sets[k]))).collect()
}

/// Sets whose day states come from one sweep of a merged plan ([`Plan::merged`]).
struct SweepGroup {
    /// The sets (indices into the sets given to [`detect_many_into`]).
    sets: Vec<usize>,
    /// Index of each set's first criterion in `plan`.
    starts: Vec<usize>,
    plan: Plan,
}

/// The sets that need a sweep of their own (no evaluation base) in groups that share one
/// sweep: each set joins the first group it can be merged with (room
/// for its criteria), else starts a new one. The day states are the same whatever the grouping.
fn sweep_groups(sets: &[CriteriaSet], base: &[Option<usize>]) -> Vec<SweepGroup> {
    let mut groups: Vec<SweepGroup> = Vec::new();
    for k in (0..sets.len()).filter(|&k| base[k].is_none()) {
        let joined = groups.iter_mut().any(|g| {
            let members: Vec<&CriteriaSet> = g.sets.iter().chain([&k]).map(|&i| &sets[i]).collect();
            match Plan::merged(&members) {
                Some((plan, starts)) => {
                    *g = SweepGroup { sets: g.sets.iter().copied().chain([k]).collect(), starts, plan };
                    true
                }
                None => false,
            }
        });
        if !joined {
            groups.push(SweepGroup { sets: vec![k], starts: vec![0], plan: Plan::new(&sets[k]) });
        }
    }
    groups
}

/// One set's detection from its chunk results (in patient order).
fn assemble(set: &CriteriaSet, plan: &Plan, outs: Vec<ChunkOut>, n: usize) -> Detection {
    // exact capacities: growing by doubling would hold up to twice the evidence at the end
    let mut episodes = Vec::with_capacity(outs.iter().map(|o| o.episodes.len()).sum());
    let mut evidence = Vec::with_capacity(outs.iter().map(|o| o.evidence.len()).sum());
    let mut evaluable = 0;
    let mut screened = [0usize; SLOTS];
    let mut with_episode = [0usize; SLOTS];
    let mut taken = 0;
    for o in outs {
        taken += o.taken;
        episodes.extend(o.episodes);
        evidence.extend(o.evidence);
        evaluable += o.evaluable;
        for k in 0..SLOTS {
            screened[k] += o.screened[k];
            with_episode[k] += o.with_episode[k];
        }
    }
    let by_first_line_intensity = (0..SLOTS)
        .map(|k| IntensityCount {
            intensity: Intensity::ALL.get(k).copied(),
            screened: screened[k],
            with_episode: with_episode[k],
        })
        .collect();
    let summary = DetectionSummary {
        patients_screened: n,
        patients_evaluable: evaluable,
        patients_with_episode: with_episode.iter().sum(),
        episodes: episodes.len() + taken,
        by_first_line_intensity,
    };
    Detection {
        criteria_set: set.name.clone(),
        rule: set.rule_text(),
        has_hscore: plan.has_hscore(),
        episodes,
        evidence,
        summary,
    }
}

/// Episodes (and evidence) of one patient under one set, from its day states: `s.states` as its
/// sweep group left them, or `shared`: the day states of this patient under a set with the
/// same criteria evaluation ([`evaluation_bases`]), re-judged by this set's rule.
#[allow(clippy::too_many_arguments)]
fn process_patient(
    plan: &Plan,
    set: &CriteriaSet,
    cohort: &Cohort,
    p: PatientIdx,
    with_evidence: bool,
    shared: Option<&[DayState]>,
    s: &mut Scratch,
    out: &mut ChunkOut,
) {
    let patient = &cohort.patients[p as usize];
    let until = patient.end_of_follow_up();
    let mut states = std::mem::take(&mut s.states);
    if let Some(base) = shared {
        states.clear();
        states.extend(base.iter().map(|st| DayState { holds: plan.holds(st.met, st.evaluable, st.score), ..*st }));
    }
    let primary = plan.primary_mask();
    if states.iter().any(|st| st.evaluable & primary != 0) {
        out.evaluable += 1;
    }
    let k = slot(cohort.first_line_of(p).map(|l| l.intensity));
    out.screened[k] += 1;
    let raws = runs(&states, until, set.episode_gap_days);
    if raws.is_empty() {
        s.states = states;
        return;
    }
    out.with_episode[k] += 1;
    // the patient id is shared by all of this patient's rows (and sets)
    let pid = patient.id.clone();

    // Episodes, and the evidence requests (day, criterion, role, episode number, sequence).
    let mut requests: Vec<(Day, usize, EvidenceRole, u32)> = Vec::new();
    let scored_range = if plan.companion {
        plan.n_primary..plan.crits.len()
    } else if plan.primary_scored {
        0..plan.n_primary
    } else {
        0..0
    };
    for (ei, r) in raws.iter().enumerate() {
        let number = ei as u32 + 1;
        let onset = &states[r.first];
        let range = &states[r.first..=r.last];
        let max_criteria = range.iter().map(|st| st.n_met).max().unwrap_or(onset.n_met);
        let mut max_i = r.first;
        for i in r.first..=r.last {
            if states[i].hscore > states[max_i].hscore {
                max_i = i;
            }
        }
        for c in 0..plan.n_primary {
            if onset.met & (1u128 << c) != 0 {
                requests.push((onset.day, c, EvidenceRole::Onset, number));
            }
        }
        for c in 0..plan.n_primary {
            let bit = 1u128 << c;
            if onset.met & bit == 0 {
                if let Some(st) = range.iter().find(|st| st.met & bit != 0) {
                    requests.push((st.day, c, EvidenceRole::DuringEpisode, number));
                }
            }
        }
        if plan.has_hscore() {
            let st = &states[max_i];
            for c in scored_range.clone() {
                if st.met & (1u128 << c) != 0 {
                    requests.push((st.day, c, EvidenceRole::MaxScore, number));
                }
            }
        }
        let (max_hscore, hscore_at_onset, probability) = if plan.has_hscore() {
            let h = states[max_i].hscore;
            let fardet = plan.companion || set.rule.probability == Some(ProbabilityTable::Fardet2014);
            (Some(h), Some(onset.hscore), if fardet { hscore_probability(h) } else { None })
        } else {
            (None, None, None)
        };
        out.episodes.push(Episode {
            patient: p,
            patient_id: pid.clone(),
            episode: number,
            criteria_set: plan.name.clone(),
            onset: r.onset,
            end: r.end,
            ongoing_at_end_of_follow_up: r.ongoing,
            criteria_met_at_onset: MetCriteria::new(plan.primary_names.clone(), onset.met),
            max_criteria,
            evaluable_criteria: onset.n_evaluable,
            n_criteria: plan.n_primary as u32,
            score_at_onset: matches!(set.rule.kind, RuleKind::Score { .. }).then_some(onset.score),
            hscore_at_onset,
            max_hscore,
            hscore_probability: probability,
            treatment: treatment_context(cohort, p, r.onset),
            disease_status: disease_status(cohort, p, r.onset),
        });
    }

    if !with_evidence {
        s.states = states;
        return;
    }
    // Evidence: a second sweep of this patient (deterministic, same states) reading the
    // qualifying values on the requested days.
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| (requests[i].0, i));
    let mut rows: Vec<(usize, Evidence)> = Vec::new();
    let mut next = 0usize;
    let mut buf: Vec<(SharedText, Source)> = Vec::new();
    let mut units = std::mem::take(&mut s.units);
    sweep(plan, cohort, p, until, None, s, |st, view| {
        while next < order.len() && requests[order[next]].0 <= st.day {
            let seq = order[next];
            let (day, c, role, number) = requests[seq];
            next += 1;
            if day != st.day {
                continue; // cannot happen: requested days are state days
            }
            view.qualifying(c, &mut buf);
            let crit = &plan.crits[c];
            let points = crit.scored.then(|| view.points(c));
            let set_name = if c < plan.n_primary { plan.name.clone() } else { plan.companion_name.clone() };
            for (text, src) in buf.drain(..) {
                let f = source_fields(cohort, &mut units, p, src);
                rows.push((
                    seq,
                    Evidence {
                        patient: p,
                        patient_id: pid.clone(),
                        episode: number,
                        criteria_set: set_name.clone(),
                        criterion: crit.name.clone(),
                        role,
                        evaluated_on: day,
                        condition: text,
                        points,
                        table: f.table,
                        source_row: f.source_row,
                        date: f.date,
                        item: f.item,
                        raw_value: f.raw_value,
                        raw_unit: f.raw_unit,
                        value: f.value,
                        unit: f.unit,
                        value_qualifier: f.value_qualifier,
                    },
                ));
            }
        }
    });
    s.units = units;
    rows.sort_by_key(|(seq, _)| *seq); // stable: sub-conditions keep their order
    out.evidence.extend(rows.into_iter().map(|(_, e)| e));
    s.states = states;
}

/// A reference to the value that met (part of) a criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRef {
    /// Source table.
    pub table: EvidenceTable,
    /// 1-based data row.
    pub row: u32,
    /// Date of the value.
    pub date: Day,
    /// Normalised value (measurements only).
    pub value: Option<f64>,
}

/// Status of one criterion on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionStatus {
    /// Criterion name.
    pub name: String,
    /// Some data in the window (and not suppressed during aplasia).
    pub evaluable: bool,
    /// Met.
    pub met: bool,
    /// Points (score rules only).
    pub points: Option<f64>,
    /// The qualifying values when met (one per sub-condition met).
    pub sources: Vec<SourceRef>,
}

/// Evaluation of a set for one patient on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayEvaluation {
    /// The day.
    pub day: Day,
    /// Every criterion of the set, in set order.
    pub criteria: Vec<CriterionStatus>,
    /// Criteria met.
    pub n_met: u32,
    /// Criteria evaluable.
    pub n_evaluable: u32,
    /// The set's own score (score rules only).
    pub score: Option<f64>,
    /// HScore (own score of a score rule, or the companion HScore), if computed.
    pub hscore: Option<f64>,
    /// The rule holds.
    pub holds: bool,
}

fn day_evaluation(
    plan: &Plan,
    set: &CriteriaSet,
    cohort: &Cohort,
    p: PatientIdx,
    st: &super::sweep::DayState,
    view: &super::sweep::View<'_>,
) -> DayEvaluation {
    let mut buf = Vec::new();
    let mut units = super::evidence::UnitTexts::default();
    let criteria = (0..plan.n_primary)
        .map(|c| {
            view.qualifying(c, &mut buf);
            let sources = buf
                .drain(..)
                .map(|(_, src)| {
                    let f = source_fields(cohort, &mut units, p, src);
                    SourceRef { table: f.table, row: f.source_row, date: f.date, value: f.value }
                })
                .collect();
            CriterionStatus {
                name: plan.crits[c].name.to_string(),
                evaluable: st.evaluable & (1u128 << c) != 0,
                met: st.met & (1u128 << c) != 0,
                points: plan.crits[c].scored.then(|| view.points(c)),
                sources,
            }
        })
        .collect();
    DayEvaluation {
        day: st.day,
        criteria,
        n_met: st.n_met,
        n_evaluable: st.n_evaluable,
        score: matches!(set.rule.kind, RuleKind::Score { .. }).then_some(st.score),
        hscore: plan.has_hscore().then_some(st.hscore),
        holds: st.holds,
    }
}

/// The evaluation of patient `p` on every change day up to the end of follow-up
/// (the state on a change day holds until the next one).
pub fn timeline(cohort: &Cohort, set: &CriteriaSet, p: PatientIdx) -> Vec<DayEvaluation> {
    let plan = Plan::new(set);
    let mut s = Scratch::new(&plan);
    let until = cohort.patients[p as usize].end_of_follow_up();
    let mut out = Vec::new();
    sweep(&plan, cohort, p, until, None, &mut s, |st, view| out.push(day_evaluation(&plan, set, cohort, p, st, view)));
    out
}

/// The evaluation of patient `p` on `day` (whatever the follow-up: data after `day` is ignored).
pub fn evaluate_at(cohort: &Cohort, set: &CriteriaSet, p: PatientIdx, day: Day) -> DayEvaluation {
    let plan = Plan::new(set);
    let mut s = Scratch::new(&plan);
    let mut last = None;
    sweep(&plan, cohort, p, day, Some(day), &mut s, |st, view| {
        if st.day == day {
            last = Some(day_evaluation(&plan, set, cohort, p, st, view));
        }
    });
    // `day` is always visited (it is added as a change day and is <= until).
    last.unwrap_or_else(|| DayEvaluation {
        day,
        criteria: Vec::new(),
        n_met: 0,
        n_evaluable: 0,
        score: None,
        hscore: None,
        holds: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn met_criteria_list_the_set_bits_in_set_order() {
        let names: std::sync::Arc<[SharedText]> = ["fever", "ferritin", "cytopenias"].into_iter().map(SharedText::from).collect();
        // bit 3 is past the names (a companion criterion): ignored
        let m = MetCriteria::new(names.clone(), 0b1101);
        assert_eq!(m.iter().map(SharedText::as_str).collect::<Vec<_>>(), ["fever", "cytopenias"]);
        assert_eq!((m.len(), m.is_empty(), m.join(";")), (2, false, "fever;cytopenias".to_string()));
        assert_eq!(format!("{m:?}"), r#"["fever", "cytopenias"]"#);
        let none = MetCriteria::new(names, 0);
        assert_eq!((none.len(), none.is_empty(), none.join(";")), (0, true, String::new()));
        assert_eq!(MetCriteria::default().iter().count(), 0);
        // criteria past the first word
        let many: std::sync::Arc<[SharedText]> = (0..128).map(|i| SharedText::from(format!("c{i}"))).collect();
        let m = MetCriteria::new(many, (1u128 << 127) | (1u128 << 64) | 1);
        assert_eq!(m.join(","), "c0,c64,c127");
    }
}
