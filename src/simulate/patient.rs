//! One patient's course: baseline, treatment lines, responses, relapse, planted HLH
//! episodes and the death/censoring clock. Laboratory values are drawn afterwards by
//! [`super::labs`] from the timeline recorded here.
//!
//! Times are days since the diagnosis date (day 0). Treatment, response and HLH events
//! happen on whole days; the death clock runs in continuous time (a death at time `t`
//! falls on day `⌊t⌋`).

use crate::cohort::{Day, FindingKind, Intensity, Response};

use super::labs::{self, HemeState, LabPlan, UnitProfile};
use super::mimic::{self, Aplasia, MimicFever, Window};
use super::params::{Calendar, DeathModel, Eln, SimParams, DAYS_PER_YEAR, PROPORTIONAL_EDGES};
use super::rng::PatientRng;

/// One simulated measurement (value already in the site's unit and rounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimMeasurement {
    pub day: i32,
    pub analyte: crate::cohort::Analyte,
    pub value: f64,
    pub unit: &'static str,
    /// Reported with a qualifier: `b'>'` (above the upper reporting limit), `b'<'` (below the
    /// lower one) or 0 (plain value).
    pub qualifier: u8,
}

/// One treatment line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimLine {
    pub line: u32,
    pub regimen: &'static str,
    pub intensity: Intensity,
    pub start: i32,
    pub end: Option<i32>,
}

/// One response assessment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimResponse {
    pub line: u32,
    pub day: i32,
    pub response: Response,
}

/// One finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimFinding {
    pub day: i32,
    pub finding: FindingKind,
    pub present: bool,
}

/// A planted HLH episode and the shape of its laboratory signature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimEpisode {
    /// First day of the full signature (the truth onset).
    pub onset: i32,
    /// Last day of the signature (planned; see `resolved`).
    pub resolution: i32,
    /// Treatment line during which the onset falls (filled by `finish`).
    pub line: u32,
    /// Its regimen.
    pub regimen: &'static str,
    /// Ferritin at onset, at the peak and at resolution (µg/L).
    pub ferritin: [f64; 3],
    /// Hypertriglyceridemia (≥ 3.5 mmol/L) is part of the signature.
    pub high_tg: bool,
    /// Hypofibrinogenemia (≤ 1.2 g/L) is part of the signature.
    pub low_fibrinogen: bool,
    /// First day of the prodrome (clean model: 2 days of fever before the onset).
    pub prodrome: i32,
    /// Mimic model: triglycerides (mmol/L) and fibrinogen (g/L) the episode drives towards.
    pub tg: f64,
    /// See `tg`.
    pub fib: f64,
    /// Mimic model: median sCD25 (U/mL) when it is sent in the work-up.
    pub scd25: Option<f64>,
    /// The episode has the gradual shape of the mimic model.
    pub gradual: bool,
}

/// First-line treatment class of a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstLine {
    Intensive,
    LowIntensity,
    Supportive,
}

/// A simulated patient with every table's rows (days relative to diagnosis).
#[derive(Debug, Clone)]
pub(crate) struct SimPatient {
    pub index: u64,
    pub diagnosis: Day,
    pub sex: &'static str,
    pub age: f64,
    pub eln: Eln,
    pub flt3: bool,
    pub site: &'static str,
    /// Last day of follow-up (death day or last contact), relative.
    pub end_day: i32,
    pub died: bool,
    /// First line actually started (`None`: died before treatment).
    pub first_line: Option<FirstLine>,
    /// An episode was scheduled (realised or not).
    pub hlh_scheduled: bool,
    pub lines: Vec<SimLine>,
    pub responses: Vec<SimResponse>,
    pub findings: Vec<SimFinding>,
    pub measurements: Vec<SimMeasurement>,
    pub episodes: Vec<SimEpisode>,
}

/// Death-rate class of a stretch of follow-up.
#[derive(Debug, Clone, Copy)]
enum Rate {
    InductionIntensive,
    InductionLow,
    Supportive,
    Remission,
    PostTransplant,
    Refractory,
    Relapse,
}

/// When the planted HLH episode (if any) is attached to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HlhPlan {
    None,
    FirstLine,
    NextLine,
    Done,
}

/// What a treatment block led to.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ended,
    /// Composite remission assessed on `day`; `continuing` = index of a low-intensity line
    /// that goes on in remission.
    Remission {
        day: i32,
        continuing: Option<usize>,
        partial: bool,
    },
    /// Refractory disease or relapse on `day`.
    Active {
        day: i32,
    },
}

/// Simulate patient `index` (0-based) of a run.
pub(crate) fn simulate_patient(index: u64, seed: u64, p: &SimParams, cal: &Calendar) -> SimPatient {
    let mut rng = PatientRng::new(seed, index);
    let diagnosis = rng.days(cal.diagnosis_start, cal.diagnosis_end);
    let sex = if rng.chance(p.female_prob) { "F" } else { "M" };
    let age = (rng.normal(p.age_mean, p.age_sd).clamp(p.age_min, p.age_max) * 10.0).round() / 10.0;
    let eln = match rng.pick(&[
        p.eln_favorable_prob,
        p.eln_intermediate_prob,
        (1.0 - p.eln_favorable_prob - p.eln_intermediate_prob).max(0.0),
    ]) {
        0 => Eln::Favorable,
        1 => Eln::Intermediate,
        _ => Eln::Adverse,
    };
    let flt3 = rng.chance(p.flt3_prob);
    let profile = if rng.chance(p.mixed_units_fraction) {
        if rng.chance(0.5) {
            UnitProfile::Us
        } else {
            UnitProfile::Mixed
        }
    } else {
        UnitProfile::Canonical
    };
    let site = profile.site(rng.days(0, 7) as usize);

    // Censoring: administrative end, or loss to follow-up after a grace period.
    let admin = cal.study_end - diagnosis;
    let ltfu = if p.loss_to_follow_up_rate > 0.0 {
        let t = p.loss_to_follow_up_after_days as f64 + rng.exp1() / (p.loss_to_follow_up_rate / DAYS_PER_YEAR);
        if t < admin as f64 {
            t as i32
        } else {
            admin
        }
    } else {
        admin
    };
    let censor_day = admin.min(ltfu);

    let p_int = 1.0 / (1.0 + (-(p.intensive_logit_slope * (age - p.intensive_mid_age))).exp());
    let first_line = if rng.chance(p_int) {
        FirstLine::Intensive
    } else if rng.chance(p.supportive_prob_non_intensive) {
        FirstLine::Supportive
    } else {
        FirstLine::LowIntensity
    };
    let hlh_prob = match first_line {
        FirstLine::Intensive => p.hlh_prob_intensive,
        FirstLine::LowIntensity => p.hlh_prob_low_intensity,
        FirstLine::Supportive => p.hlh_prob_supportive,
    };
    let hlh_scheduled = rng.chance(hlh_prob);
    let hlh_plan = if !hlh_scheduled {
        HlhPlan::None
    } else if first_line != FirstLine::Supportive && rng.chance(p.hlh_later_line_prob) {
        HlhPlan::NextLine
    } else {
        HlhPlan::FirstLine
    };

    let mult = (p.death_log_hr_per_year_of_age * (age - p.age_mean)).exp() * p.death_hr_eln.get(eln);
    let death_threshold = rng.exp1();
    let mut c = Course {
        p,
        rng,
        mrng: PatientRng::mimic(seed, index),
        dic_pending: false,
        age,
        eln,
        flt3,
        mult,
        first_line_hr: match first_line {
            FirstLine::Intensive => 1.0,
            FirstLine::LowIntensity => p.proportional_hr_low_intensity,
            FirstLine::Supportive => p.proportional_hr_supportive,
        },
        death_threshold,
        cum_hazard: 0.0,
        relapse_threshold: f64::INFINITY,
        relapse_cum: 0.0,
        t: 0.0,
        censor: censor_day as f64 + 1.0,
        death: None,
        hlh_onset: None,
        hlh_plan,
        transplant: None,
        cr_day: 0,
        lines: Vec::new(),
        responses: Vec::new(),
        findings: Vec::new(),
        episodes: Vec::new(),
        plan: LabPlan::default(),
    };
    c.plan.heme(0, HemeState::Active);
    c.run(first_line);

    let died = c.death.is_some();
    let end_day = match c.death {
        Some(t) => t.floor() as i32,
        None => censor_day,
    };
    let (lines, responses, findings, episodes, plan, mut rng, mut mrng) = c.finish(end_day, died);
    let mut measurements = if p.mimics {
        mimic::draw(&plan, &episodes, end_day, profile, &mut mrng, &p.mimic)
    } else {
        labs::draw(&plan, &episodes, end_day, profile, &mut rng)
    };
    if p.qualified_values_fraction > 0.0 && mrng.chance(p.qualified_values_fraction) {
        qualify(&mut measurements, p);
    }
    SimPatient {
        index,
        diagnosis,
        sex,
        age,
        eln,
        flt3,
        site,
        end_day,
        died,
        first_line: lines.first().map(|l| match l.intensity {
            Intensity::Intensive => FirstLine::Intensive,
            Intensity::Supportive => FirstLine::Supportive,
            _ => FirstLine::LowIntensity,
        }),
        hlh_scheduled,
        lines,
        responses,
        findings,
        measurements,
        episodes,
    }
}

/// Report ferritin above and neutrophils below the laboratory's limits with a qualifier.
fn qualify(measurements: &mut [SimMeasurement], p: &SimParams) {
    for m in measurements {
        match m.analyte {
            crate::cohort::Analyte::Ferritin if m.value > p.qualified_ferritin_upper_limit => {
                m.value = p.qualified_ferritin_upper_limit;
                m.qualifier = b'>';
            }
            crate::cohort::Analyte::Neutrophils if m.value < p.qualified_neutrophils_lower_limit => {
                m.value = p.qualified_neutrophils_lower_limit;
                m.qualifier = b'<';
            }
            _ => {}
        }
    }
}

/// The running state of one patient's course.
struct Course<'a> {
    p: &'a SimParams,
    rng: PatientRng,
    /// Separate stream for everything the mimic model adds, so that the clean model's draws
    /// (and hence its output) do not depend on the mimic parameters.
    mrng: PatientRng,
    /// Mimic model: DIC not present at diagnosis starts within 10 days of the first line.
    dic_pending: bool,
    age: f64,
    eln: Eln,
    flt3: bool,
    /// Age × ELN multiplier of every death rate.
    mult: f64,
    /// Proportional death model: hazard ratio of the intended first line.
    first_line_hr: f64,
    death_threshold: f64,
    cum_hazard: f64,
    relapse_threshold: f64,
    relapse_cum: f64,
    /// Current time (days since diagnosis).
    t: f64,
    /// End of follow-up if alive (exclusive, continuous).
    censor: f64,
    death: Option<f64>,
    /// First HLH onset (scheduled); the death rate is multiplied from then on.
    hlh_onset: Option<f64>,
    hlh_plan: HlhPlan,
    /// Start of the transplant line, if any.
    transplant: Option<i32>,
    /// Day of the current remission's assessment (relapse hazard falls after 2 years).
    cr_day: i32,
    lines: Vec<SimLine>,
    responses: Vec<SimResponse>,
    findings: Vec<SimFinding>,
    episodes: Vec<SimEpisode>,
    plan: LabPlan,
}

type Finished = (Vec<SimLine>, Vec<SimResponse>, Vec<SimFinding>, Vec<SimEpisode>, LabPlan, PatientRng, PatientRng);

impl Course<'_> {
    fn ended(&self) -> bool {
        self.death.is_some() || self.t >= self.censor
    }

    /// Death hazard per day at time `t` in a stretch of class `rate` (before the HLH factor).
    fn daily_rate(&self, rate: Rate, t: f64) -> f64 {
        let p = self.p;
        if p.death_model == DeathModel::Proportional {
            let k = PROPORTIONAL_EDGES.iter().filter(|e| t >= **e).count();
            return p.proportional_baseline_rates[k] / DAYS_PER_YEAR * self.mult * self.first_line_hr;
        }
        let per_year = match rate {
            Rate::InductionIntensive => p.death_rate_induction_intensive,
            Rate::InductionLow => p.death_rate_induction_low,
            Rate::Supportive => p.death_rate_supportive,
            Rate::Remission => p.death_rate_remission,
            Rate::PostTransplant => p.death_rate_post_transplant,
            Rate::Refractory => p.death_rate_refractory,
            Rate::Relapse => p.death_rate_relapse,
        };
        per_year / DAYS_PER_YEAR * self.mult
    }

    /// Advance the death clock to `until` at the given rate (× the HLH hazard ratio after the
    /// first onset). Returns `false` when follow-up ended (death or censoring) first.
    fn advance(&mut self, until: f64, rate: Rate) -> bool {
        if self.ended() {
            return false;
        }
        let target = until.min(self.censor);
        let proportional = self.p.death_model == DeathModel::Proportional;
        while self.t < target {
            let mut b = target;
            let edges = if proportional { &PROPORTIONAL_EDGES[..] } else { &[] };
            for e in self.hlh_onset.iter().chain(edges) {
                if *e > self.t && *e < b {
                    b = *e;
                }
            }
            let hr = match self.hlh_onset {
                Some(o) if o <= self.t => self.p.hlh_death_hr,
                _ => 1.0,
            };
            let r = self.daily_rate(rate, self.t) * hr;
            let dh = r * (b - self.t);
            if r > 0.0 && self.cum_hazard + dh >= self.death_threshold {
                let t_death = self.t + (self.death_threshold - self.cum_hazard) / r;
                self.t = t_death.min(b);
                self.death = Some(self.t);
                return false;
            }
            self.cum_hazard += dh;
            self.t = b;
        }
        !self.ended() && self.t >= until
    }

    /// Relapse time within `[t, until)` at `rate` per day, if the relapse clock runs out.
    fn relapse_within(&mut self, until: f64, rate: f64) -> Option<f64> {
        if until <= self.t {
            return None;
        }
        let dh = rate * (until - self.t);
        if rate > 0.0 && self.relapse_cum + dh >= self.relapse_threshold {
            let r = self.t + (self.relapse_threshold - self.relapse_cum) / rate;
            self.relapse_cum = self.relapse_threshold;
            Some(r)
        } else {
            self.relapse_cum += dh;
            None
        }
    }

    fn next_line_no(&self) -> u32 {
        self.lines.len() as u32 + 1
    }

    fn push_line(&mut self, regimen: &'static str, intensity: Intensity, start: i32, end: Option<i32>) -> usize {
        let line = self.next_line_no();
        self.lines.push(SimLine { line, regimen, intensity, start, end });
        self.lines.len() - 1
    }

    /// Move a planned line start out of any HLH episode (and its aftermath).
    fn defer(&mut self, start: i32) -> i32 {
        let mut s = start;
        for e in &self.episodes {
            if s >= e.prodrome && s <= e.resolution + 7 {
                s = e.resolution + 8 + (s - e.onset).rem_euclid(7);
            }
        }
        s
    }

    /// Attach the planted episode to the line starting on `start`, if it is due.
    fn maybe_plant(&mut self, start: i32, first_line: bool) {
        let due = match self.hlh_plan {
            HlhPlan::FirstLine => first_line,
            HlhPlan::NextLine => !first_line,
            _ => false,
        };
        if !due {
            return;
        }
        self.hlh_plan = HlhPlan::Done;
        let p = self.p;
        let onset = start + self.rng.days(p.hlh_onset_min_days as i32, p.hlh_onset_max_days as i32);
        self.plant_episode(onset);
        if self.rng.chance(p.hlh_second_episode_prob) {
            let r1 = self.episodes[self.episodes.len() - 1].resolution;
            let onset2 = r1 + self.rng.days(p.hlh_second_gap_min_days as i32, p.hlh_second_gap_max_days as i32);
            self.plant_episode(onset2);
        }
    }

    fn plant_episode(&mut self, onset: i32) {
        let p = self.p;
        let dur = self.rng.days(p.hlh_duration_min_days as i32, p.hlh_duration_max_days as i32);
        let f_on = self.rng.log_uniform(3_000.0, 9_000.0);
        let f_peak = (f_on * self.rng.unif(1.5, 6.0)).min(50_000.0);
        let f_end = (f_peak * self.rng.unif(0.2, 0.4)).max(3_200.0);
        let (high_tg, low_fibrinogen) = match self.rng.pick(&[0.5, 0.25, 0.25]) {
            0 => (true, true),
            1 => (true, false),
            _ => (false, true),
        };
        let episode = SimEpisode {
            onset,
            resolution: onset + dur,
            line: 0,
            regimen: "",
            ferritin: [f_on, f_peak, f_end],
            high_tg,
            low_fibrinogen,
            prodrome: onset - 2,
            tg: 0.0,
            fib: 0.0,
            scd25: None,
            gradual: false,
        };
        if p.mimics {
            self.plant_gradual(episode);
            return;
        }
        // Findings of the work-up.
        self.findings.push(SimFinding { day: onset, finding: FindingKind::Splenomegaly, present: true });
        let hepato = self.rng.chance(p.hlh_hepatomegaly_prob);
        self.findings.push(SimFinding { day: onset, finding: FindingKind::Hepatomegaly, present: hepato });
        let marrow = onset + self.rng.days(0, 2);
        let hemo = self.rng.chance(p.hlh_hemophagocytosis_prob);
        self.findings.push(SimFinding { day: marrow, finding: FindingKind::Hemophagocytosis, present: hemo });
        // NK function is often normal in secondary HLH: documented low with `hlh_low_nk_prob`,
        // else documented normal in 30 %.
        if self.rng.chance(p.hlh_low_nk_prob) {
            let d = onset + self.rng.days(3, 7);
            self.findings.push(SimFinding { day: d, finding: FindingKind::LowNkActivity, present: true });
        } else if self.rng.chance(0.3) {
            let d = onset + self.rng.days(3, 7);
            self.findings.push(SimFinding { day: d, finding: FindingKind::LowNkActivity, present: false });
        }
        let regress = episode.resolution + self.rng.days(7, 14);
        self.findings.push(SimFinding { day: regress, finding: FindingKind::Splenomegaly, present: false });
        if self.hlh_onset.is_none() {
            self.hlh_onset = Some(onset as f64);
        }
        self.episodes.push(episode);
    }

    /// Mimic model: DIC from `from` for 5–14 days with a fibrinogen nadir from the parameters.
    fn mimic_dic(&mut self, from: i32) {
        let m = &self.p.mimic;
        let to = from + self.mrng.days(5, 14);
        let nadir = self.mrng.unif(m.dic_fibrinogen_min, m.dic_fibrinogen_max);
        self.plan.mimic.dic.push(Window { from, to, factor: nadir });
    }

    /// Mimic model: DIC not present at diagnosis starts within 10 days of the first line.
    fn mimic_start_dic(&mut self, start: i32) {
        if self.dic_pending {
            self.dic_pending = false;
            let from = start + self.mrng.days(0, 10);
            self.mimic_dic(from);
        }
    }

    /// Mimic model: days (after the cycle start) of neutrophil (≥ 0.5) and platelet (≥ 20)
    /// recovery, log-normal around the medians of [S6] (log-SD 0.3 reproduces its 13–51 range),
    /// `shift` days earlier for consolidation; platelets correlated with neutrophils.
    fn recovery_days(&mut self, shift: f64) -> (i32, i32) {
        let m = &self.p.mimic;
        let z1 = self.mrng.normal(0.0, 1.0);
        let z2 = self.mrng.normal(0.0, 1.0);
        let (lo, hi) = (m.anc_recovery_min_day as f64, m.anc_recovery_max_day as f64);
        let anc = ((m.anc_recovery_median_day - shift).max(lo) * (0.3 * z1).exp()).clamp(lo, hi);
        let plt = ((m.plt_recovery_median_day - shift).max(lo) * (0.3 * (0.7 * z1 + 0.714 * z2)).exp()).clamp(lo - 1.0, hi + 1.0);
        (anc.round() as i32, plt.round() as i32)
    }

    /// Mimic model: intensive induction/salvage starting on `start`; returns the recovery day.
    fn mimic_induction(&mut self, start: i32, first_line: bool) -> i32 {
        let m = &self.p.mimic;
        if first_line {
            self.mimic_start_dic(start);
        }
        let a0 = start + self.mrng.days(m.aplasia_start_min_day as i32, m.aplasia_start_max_day as i32);
        let (anc, plt) = self.recovery_days(0.0);
        let fn_prob = m.fn_prob_induction;
        self.mimic_aplasia(start, a0, start + anc, start + plt, fn_prob, true)
    }

    /// Mimic model: a consolidation cycle starting on `start`; returns the recovery day.
    fn mimic_consolidation(&mut self, start: i32) -> i32 {
        let m = &self.p.mimic;
        let a0 = start + self.mrng.days(m.aplasia_start_min_day as i32, m.aplasia_start_max_day as i32);
        let (anc, plt) = self.recovery_days(m.consolidation_recovery_shift_days);
        let fn_prob = m.fn_prob_consolidation;
        self.mimic_aplasia(start, a0, start + anc, start + plt, fn_prob, false)
    }

    /// Mimic model: transplant conditioning from `start`, infusion on `infusion`, neutrophil
    /// engraftment `engraft` days later (platelets 0–10 days after); returns the recovery day.
    fn mimic_transplant(&mut self, start: i32, infusion: i32, engraft: i32) -> i32 {
        let a0 = infusion + self.mrng.days(0, 3);
        let anc = infusion + engraft;
        let plt = anc + self.mrng.days(0, 10);
        let fn_prob = self.p.mimic.fn_prob_consolidation;
        self.mimic_aplasia(start, a0, anc, plt, fn_prob, false)
    }

    /// The recovery day of the last aplasia (mimic model).
    fn mimic_last_recovery(&self) -> i32 {
        self.plan.mimic.aplasias.last().map(|a| a.anc.max(a.plt)).unwrap_or(i32::MIN / 2)
    }

    /// Mimic model: one cycle's aplasia (neutrophils < 0.5 on `[a0, anc)`, platelets < 20 on
    /// `[a0, plt)`), prolonged while a planted HLH episode overlaps it; febrile neutropenia
    /// (and a recurrence), TG rise on parenteral nutrition/steroids, drug-induced AST rise, and
    /// the day-15 marrow. Returns the recovery day (both lineages).
    fn mimic_aplasia(&mut self, start: i32, a0: i32, anc: i32, plt: i32, fn_prob: f64, day15: bool) -> i32 {
        let m = &self.p.mimic;
        let mut anc = anc.max(a0 + 3);
        let mut plt = plt.max(a0 + 3);
        let overlapping: Vec<i32> =
            self.episodes.iter().filter(|e| e.prodrome <= anc.max(plt) && e.resolution >= a0).map(|e| e.resolution).collect();
        for res in overlapping {
            // Counts fail to recover until the episode resolves.
            anc = anc.max(res + self.mrng.days(3, 10));
            plt = plt.max(res + self.mrng.days(3, 10));
        }
        self.plan.mimic.aplasias.push(Aplasia { a0, anc, plt });
        self.plan.heme(a0, HemeState::Aplasia);
        if self.mrng.chance(fn_prob) {
            let f0 = (start + self.mrng.days(m.fn_onset_min_day as i32, m.fn_onset_max_day as i32)).max(a0 - 2);
            if f0 < anc {
                let f1 = self.mimic_fever(f0);
                if self.mrng.chance(m.fn_recurrent_prob) {
                    let f0b = f1 + self.mrng.days(2, 7);
                    if f0b < anc {
                        self.mimic_fever(f0b);
                    }
                }
            }
        }
        if self.mrng.chance(m.tg_nutrition_prob) {
            let to = a0 + self.mrng.days(7, 21);
            let factor = self.mrng.lognormal(m.tg_event_factor, 0.3).max(1.0);
            self.plan.mimic.tg_events.push(Window { from: a0, to, factor });
        }
        if self.mrng.chance(m.ast_drug_prob) {
            let from = start + self.mrng.days(3, 10);
            let to = from + self.mrng.days(7, 14);
            let factor = self.mrng.unif(2.0, 5.0);
            self.plan.mimic.ast_events.push(Window { from, to, factor });
        }
        if day15 && self.age < 60.0 && self.mrng.chance(m.marrow_day15_prob) {
            let d = start + self.mrng.days(13, 16);
            self.mimic_marrow(d);
        }
        anc.max(plt)
    }

    /// Mimic model: a febrile episode from `f0` (1–2 days, or 3–`fn_max_days` days with
    /// `fn_long_prob`), septic with `sepsis_prob`; returns its last febrile day.
    fn mimic_fever(&mut self, f0: i32) -> i32 {
        let m = &self.p.mimic;
        let dur = if self.mrng.chance(m.fn_long_prob) { self.mrng.days(3, m.fn_max_days as i32) } else { self.mrng.days(1, 2) };
        let f1 = f0 + dur - 1;
        let sepsis = self.mrng.chance(m.sepsis_prob);
        let median = if sepsis { m.sepsis_ferritin_factor } else { m.fn_ferritin_factor };
        let ferritin = self.mrng.lognormal(median, m.inflammation_ferritin_sigma).max(1.0);
        let tg = if sepsis { self.mrng.lognormal(m.tg_event_factor, 0.3).max(1.0) } else { 1.0 };
        let low_fib = sepsis && self.mrng.chance(m.sepsis_low_fibrinogen_prob);
        let ast = if sepsis { self.mrng.unif(1.5, 3.0) } else { 1.0 };
        let scd25 = if self.mrng.chance(m.scd25_workup_prob) {
            Some(self.mrng.lognormal(m.scd25_median, m.scd25_sigma) * if sepsis { 1.3 } else { 1.0 })
        } else {
            None
        };
        if sepsis && self.mrng.chance(m.sepsis_imaging_prob) {
            let d = f0 + self.mrng.days(1, 3);
            let present = self.mrng.chance(m.sepsis_splenomegaly_prob);
            self.findings.push(SimFinding { day: d, finding: FindingKind::Splenomegaly, present });
        }
        self.plan.mimic.fevers.push(MimicFever { f0, f1, sepsis, ferritin, tg, low_fib, ast, scd25 });
        f1
    }

    /// Mimic model: a marrow on `day`; hemophagocytosis is incidental with its probability.
    /// Marrows inside a planted episode (or its 7-day aftermath) are left to the HLH work-up.
    fn mimic_marrow(&mut self, day: i32) {
        let present = self.mrng.chance(self.p.mimic.incidental_hemophagocytosis_prob);
        if self.episodes.iter().any(|e| day >= e.prodrome && day <= e.resolution + 7) {
            return;
        }
        self.findings.push(SimFinding { day, finding: FindingKind::Hemophagocytosis, present });
    }

    /// Mimic model: a planted episode with a gradual onset (see the module documentation).
    fn plant_gradual(&mut self, mut e: SimEpisode) {
        let p = self.p;
        let m = &p.mimic;
        let onset = e.onset;
        e.gradual = true;
        e.prodrome = onset - self.mrng.days(m.hlh_prodrome_min_days as i32, m.hlh_prodrome_max_days as i32);
        let peak = self.mrng.lognormal(m.hlh_ferritin_peak_median, m.hlh_ferritin_peak_sigma).clamp(3_000.0, 250_000.0);
        let f_on = (peak * self.mrng.unif(0.3, 0.7)).max(peak.min(2_500.0));
        let f_end = peak * self.mrng.unif(0.15, 0.4);
        e.ferritin = [f_on, peak, f_end];
        e.tg = if e.high_tg { self.mrng.unif(3.2, 6.5) } else { self.mrng.unif(1.6, 2.9) };
        e.fib = if e.low_fibrinogen { self.mrng.unif(0.5, 1.4) } else { self.mrng.unif(1.6, 2.4) };
        e.scd25 =
            self.mrng.chance(m.hlh_scd25_prob).then(|| self.mrng.lognormal(m.hlh_scd25_median, 0.7).clamp(1_500.0, 100_000.0));
        // Work-up findings.
        let spleen = self.mrng.chance(m.hlh_splenomegaly_prob);
        self.findings.push(SimFinding { day: onset, finding: FindingKind::Splenomegaly, present: spleen });
        let hepato = self.mrng.chance(p.hlh_hepatomegaly_prob);
        self.findings.push(SimFinding { day: onset, finding: FindingKind::Hepatomegaly, present: hepato });
        if self.mrng.chance(m.hlh_marrow_prob) {
            let d = onset + self.mrng.days(0, 3);
            let hemo = self.mrng.chance(p.hlh_hemophagocytosis_prob);
            self.findings.push(SimFinding { day: d, finding: FindingKind::Hemophagocytosis, present: hemo });
        }
        if self.mrng.chance(p.hlh_low_nk_prob) {
            let d = onset + self.mrng.days(3, 7);
            self.findings.push(SimFinding { day: d, finding: FindingKind::LowNkActivity, present: true });
        } else if self.mrng.chance(0.3) {
            let d = onset + self.mrng.days(3, 7);
            self.findings.push(SimFinding { day: d, finding: FindingKind::LowNkActivity, present: false });
        }
        if spleen {
            let d = e.resolution + self.mrng.days(7, 14);
            self.findings.push(SimFinding { day: d, finding: FindingKind::Splenomegaly, present: false });
        }
        // Often infection-triggered [S69]: a febrile episode starting 0–3 days before the prodrome.
        if self.mrng.chance(m.hlh_infection_trigger_prob) {
            let f0 = e.prodrome - self.mrng.days(0, 3);
            self.mimic_fever(f0);
        }
        if self.hlh_onset.is_none() {
            self.hlh_onset = Some(onset as f64);
        }
        self.episodes.push(e);
    }

    /// Febrile neutropenia with probability `prob`, starting `lo..=hi` days after `start`.
    fn maybe_fever(&mut self, prob: f64, start: i32, lo: i32, hi: i32) {
        if self.rng.chance(prob) {
            let f0 = start + self.rng.days(lo, hi);
            let f1 = f0 + self.rng.days(1, 4);
            let scd25 = self.rng.chance(self.p.scd25_prob_febrile_neutropenia);
            self.plan.fever(f0, f1, scd25);
        }
    }

    /// Occasionally a marrow at a response assessment documents absent hemophagocytosis.
    fn maybe_marrow_note(&mut self, day: i32) {
        let noted = self.rng.chance(0.1);
        if self.p.mimics {
            // Every response assessment has a marrow; hemophagocytosis may be incidental.
            self.mimic_marrow(day);
        } else if noted {
            self.findings.push(SimFinding { day, finding: FindingKind::Hemophagocytosis, present: false });
        }
    }

    fn draw_ccr(&mut self, prob: f64, assess: i32, line_start: i32) -> bool {
        let hlh_before = self.episodes.iter().any(|e| e.onset >= line_start && e.onset <= assess);
        let prob = if hlh_before && self.p.hlh_ccr_odds_ratio != 1.0 {
            let odds = prob / (1.0 - prob).max(1e-12) * self.p.hlh_ccr_odds_ratio;
            odds / (1.0 + odds)
        } else {
            prob
        };
        self.rng.chance(prob)
    }

    /// Which composite-CR category, and which non-CR category.
    fn ccr_category(&mut self) -> Response {
        [Response::CR, Response::CRh, Response::CRi][self.rng.pick(&[0.75, 0.10, 0.15])]
    }

    fn non_cr_category(&mut self) -> Response {
        [Response::MLFS, Response::PR, Response::SD, Response::PD][self.rng.pick(&[0.10, 0.25, 0.40, 0.25])]
    }

    fn run(&mut self, first: FirstLine) {
        let p = self.p;
        self.plan.visits(0, 0, p.visit_interval_active_days, p.visit_interval_active_days, p.chem_every_nth_visit);
        let noted = self.rng.chance(0.6);
        let spleen = p.mimics && self.mrng.chance(p.mimic.splenomegaly_dx_prob);
        if noted || spleen {
            self.findings.push(SimFinding { day: 0, finding: FindingKind::Splenomegaly, present: spleen });
            self.findings.push(SimFinding { day: 0, finding: FindingKind::Hepatomegaly, present: false });
        }
        if p.mimics && self.mrng.chance(p.mimic.dic_prob) {
            if self.mrng.chance(p.mimic.dic_at_diagnosis_share) {
                self.mimic_dic(0);
            } else {
                self.dic_pending = true;
            }
        }
        let mut out = match first {
            FirstLine::Intensive => {
                let start = self.rng.days(2, 7);
                let regimen = if self.rng.chance(p.cpx351_prob) { "CPX-351" } else { "7+3" };
                if !self.advance(start as f64, Rate::InductionIntensive) {
                    return;
                }
                self.intensive_block(start, regimen, true)
            }
            FirstLine::LowIntensity => {
                let start = self.rng.days(3, 14);
                let regimen = if self.rng.chance(p.decitabine_prob) { "decitabine" } else { "aza+ven" };
                if !self.advance(start as f64, Rate::InductionLow) {
                    return;
                }
                self.low_block(start, regimen, Intensity::LowIntensity, true)
            }
            FirstLine::Supportive => {
                let start = self.rng.days(0, 7);
                if !self.advance(start as f64, Rate::Supportive) {
                    return;
                }
                self.maybe_plant(start, true);
                self.supportive_block(start)
            }
        };
        let mut remissions = 0u32;
        let mut salvages = 0u32;
        loop {
            out = match out {
                Outcome::Ended => return,
                Outcome::Remission { day, continuing, partial } => {
                    remissions += 1;
                    self.remission(day, continuing, partial, remissions, first == FirstLine::Intensive)
                }
                Outcome::Active { day } => {
                    salvages += 1;
                    self.salvage(day, salvages, first == FirstLine::Intensive)
                }
            };
        }
    }

    /// Intensive induction or salvage: aplasia, febrile neutropenia, response at ~day 30.
    fn intensive_block(&mut self, start: i32, regimen: &'static str, first_line: bool) -> Outcome {
        let p = self.p;
        let days = match regimen {
            "7+3" => 7,
            _ => 5,
        };
        let idx = self.push_line(regimen, Intensity::Intensive, start, Some(start + days - 1));
        let line = self.lines[idx].line;
        self.maybe_plant(start, first_line);
        self.plan.heme(start, HemeState::Active);
        let recovery = if p.mimics {
            let _ = self.rng.days(21, 30);
            self.mimic_induction(start, first_line)
        } else {
            self.plan.heme(start + 5, HemeState::Aplasia);
            start + self.rng.days(21, 30)
        };
        let assess = recovery + self.rng.days(3, 7);
        if !p.mimics {
            self.maybe_fever(p.febrile_neutropenia_prob_intensive, start, 7, 16);
        }
        self.plan.dense(start, assess, p.cbc_interval_intensive_days, p.chem_interval_intensive_days, true);
        let rate = if first_line { Rate::InductionIntensive } else { Rate::Relapse };
        if !self.advance(assess as f64, rate) {
            return Outcome::Ended;
        }
        let prob = if first_line { p.ccr_prob_intensive.get(self.eln) } else { p.ccr_prob_salvage_intensive };
        self.maybe_marrow_note(assess);
        if self.draw_ccr(prob, assess, start) {
            let r = self.ccr_category();
            self.responses.push(SimResponse { line, day: assess, response: r });
            let partial = r != Response::CR;
            self.plan.heme(recovery, if partial { HemeState::RemissionPartial } else { HemeState::Remission });
            Outcome::Remission { day: assess, continuing: None, partial }
        } else {
            let r = self.non_cr_category();
            self.responses.push(SimResponse { line, day: assess, response: r });
            self.plan.heme(recovery, HemeState::Active);
            Outcome::Active { day: assess }
        }
    }

    /// Low-intensity (or targeted) therapy given continuously in 28-day cycles.
    fn low_block(&mut self, start: i32, regimen: &'static str, intensity: Intensity, first_line: bool) -> Outcome {
        let p = self.p;
        let idx = self.push_line(regimen, intensity, start, None);
        let line = self.lines[idx].line;
        self.maybe_plant(start, first_line);
        self.plan.heme(start, HemeState::LowTherapy);
        if p.mimics {
            self.mimic_start_dic(start);
            if self.mrng.chance(p.mimic.fn_prob_low_intensity) {
                let f0 = start + self.mrng.days(5, 20);
                self.mimic_fever(f0);
            }
        } else {
            self.maybe_fever(p.febrile_neutropenia_prob_low, start, 5, 20);
        }
        let assess = start + self.rng.days(28, 35);
        self.plan.dense(start, assess + 28, p.cbc_interval_cycle_days as f64, p.chem_interval_cycle_days, false);
        let rate = if first_line { Rate::InductionLow } else { Rate::Relapse };
        if !self.advance(assess as f64, rate) {
            return Outcome::Ended;
        }
        let prob = match (regimen, first_line) {
            ("aza+ven", true) => p.ccr_prob_aza_ven.get(self.eln),
            ("decitabine", true) => p.ccr_prob_decitabine.get(self.eln),
            ("gilteritinib", _) => p.ccr_prob_gilteritinib,
            _ => p.ccr_prob_salvage_low,
        };
        self.maybe_marrow_note(assess);
        if self.draw_ccr(prob, assess, start) {
            let r = self.ccr_category();
            self.responses.push(SimResponse { line, day: assess, response: r });
            self.plan.heme(assess, HemeState::RemissionLow);
            Outcome::Remission { day: assess, continuing: Some(idx), partial: r != Response::CR }
        } else {
            let r = self.non_cr_category();
            self.responses.push(SimResponse { line, day: assess, response: r });
            let progression = assess + self.rng.days(30, 120);
            self.plan.visits(assess, assess, p.visit_interval_active_days, p.visit_interval_active_days, p.chem_every_nth_visit);
            if !self.advance(progression as f64, Rate::Refractory) {
                return Outcome::Ended;
            }
            self.responses.push(SimResponse { line, day: progression, response: Response::PD });
            self.lines[idx].end = Some(progression);
            self.plan.heme(progression, HemeState::Active);
            Outcome::Active { day: progression }
        }
    }

    /// Best supportive care until the end of follow-up.
    fn supportive_block(&mut self, start: i32) -> Outcome {
        let p = self.p;
        self.push_line("BSC", Intensity::Supportive, start, None);
        if p.mimics {
            self.mimic_start_dic(start);
        }
        self.plan.heme(start, HemeState::Active);
        self.plan.visits(start, start, p.visit_interval_active_days, p.visit_interval_active_days, p.chem_every_nth_visit);
        self.advance(f64::INFINITY, Rate::Supportive);
        Outcome::Ended
    }

    /// Relapse or refractory disease: salvage, or supportive care.
    fn salvage(&mut self, day: i32, nth: u32, prior_intensive: bool) -> Outcome {
        let p = self.p;
        self.plan.heme(day, HemeState::Active);
        self.plan.visits(day, day, p.visit_interval_active_days, p.visit_interval_active_days, p.chem_every_nth_visit);
        let start = day + self.rng.days(7, 21);
        let start = self.defer(start);
        if nth > 2 || self.rng.chance(p.supportive_prob_relapse) {
            if !self.advance(start as f64, Rate::Relapse) {
                return Outcome::Ended;
            }
            self.maybe_plant(start, false);
            return self.supportive_block(start);
        }
        if !self.advance(start as f64, Rate::Relapse) {
            return Outcome::Ended;
        }
        if prior_intensive && self.age < 65.0 && nth == 1 && self.rng.chance(0.7) {
            self.intensive_block(start, "FLAG-Ida", false)
        } else if self.flt3 && !self.had("gilteritinib") {
            self.low_block(start, "gilteritinib", Intensity::Other, false)
        } else if !self.had("aza+ven") {
            self.low_block(start, "aza+ven", Intensity::LowIntensity, false)
        } else if !self.had("decitabine") {
            self.low_block(start, "decitabine", Intensity::LowIntensity, false)
        } else {
            self.maybe_plant(start, false);
            self.supportive_block(start)
        }
    }

    fn had(&self, regimen: &str) -> bool {
        self.lines.iter().any(|l| l.regimen == regimen)
    }

    /// Remission visits from `from` on, monthly in the first year after `since`, then quarterly.
    fn follow_up(&mut self, from: i32, since: i32) {
        let p = self.p;
        self.plan.visits(from, since, p.visit_interval_first_year_days, p.visit_interval_later_days, p.chem_every_nth_visit);
    }

    /// Death rate in remission at time `t`.
    fn remission_rate(&self, t: f64) -> Rate {
        match self.transplant {
            Some(tx) if t >= tx as f64 && t < tx as f64 + 365.0 => Rate::PostTransplant,
            _ => Rate::Remission,
        }
    }

    /// Advance through remission to `until`, splitting at rate changes; stops at relapse.
    fn remission_step(&mut self, until: f64, relapse_rate: f64) -> Step {
        while self.t < until {
            let mut b = until;
            let late = self.cr_day as f64 + self.p.relapse_late_after_days as f64;
            let tx = self.transplant.map(|d| d as f64);
            for edge in [Some(late), tx, tx.map(|d| d + 365.0)].into_iter().flatten() {
                if edge > self.t && edge < b {
                    b = edge;
                }
            }
            let mut rr = match tx {
                Some(tx) if self.t >= tx => relapse_rate * self.p.relapse_hr_transplant,
                _ => relapse_rate,
            };
            if self.t >= late {
                rr *= self.p.relapse_hr_late;
            }
            let rate = self.remission_rate(self.t);
            if let Some(r) = self.relapse_within(b.min(self.censor), rr) {
                if !self.advance(r, rate) {
                    return Step::Ended;
                }
                return Step::Relapsed(r.floor() as i32);
            }
            if !self.advance(b, rate) {
                return Step::Ended;
            }
        }
        Step::Reached
    }

    /// Remission: consolidation cycles, maybe a transplant, follow-up until relapse.
    fn remission(&mut self, cr_day: i32, continuing: Option<usize>, partial: bool, nth: u32, first_intensive: bool) -> Outcome {
        let p = self.p;
        let eln = self.eln;
        // A fresh relapse clock for every remission.
        self.relapse_threshold = self.rng.exp1();
        self.relapse_cum = 0.0;
        self.cr_day = cr_day;
        let mut relapse_rate = p.relapse_rate.get(eln) / DAYS_PER_YEAR;
        if continuing.is_some() {
            relapse_rate *= p.relapse_hr_low_intensity;
        }
        if nth > 1 {
            relapse_rate *= p.relapse_hr_later_remission;
        }
        if partial {
            // CRh/CRi recover their counts within ~2 months.
            let d = cr_day + self.rng.days(30, 60);
            self.plan.heme(d, if continuing.is_some() { HemeState::RemissionLow } else { HemeState::Remission });
        }
        // Plan consolidation and transplant.
        let eligible = self.age <= p.transplant_max_age;
        let mut consolidation: Vec<&'static str> = Vec::new();
        let mut transplant = false;
        if continuing.is_none() {
            let last_regimen = self.lines.last().map(|l| l.regimen).unwrap_or("");
            if nth == 1 && first_intensive {
                transplant = eligible && self.rng.chance(p.transplant_prob_cr1.get(eln));
                let (regimen, lo, hi) = if last_regimen == "CPX-351" { ("CPX-351", 1, 2) } else { ("HiDAC", 2, 3) };
                let n = if transplant { self.rng.days(1, 2) } else { self.rng.days(lo, hi) };
                consolidation = vec![regimen; n as usize];
            } else {
                transplant = eligible && self.rng.chance(p.transplant_prob_later_cr);
                if !transplant {
                    consolidation = vec!["HiDAC"; 1];
                }
            }
        }
        if p.mimics && continuing.is_none() && self.mrng.chance(p.mimic.prolonged_cytopenia_prob) {
            let from = cr_day + self.mrng.days(0, 21);
            let to = from + self.mrng.days(21, 60);
            self.plan.mimic.prolonged.push(Window { from, to, factor: 1.0 });
        }
        self.follow_up(cr_day, cr_day);
        let mut cursor = cr_day;
        for regimen in consolidation {
            let start = cursor + self.rng.days(7, 21);
            let start = self.defer(start);
            match self.remission_step(start as f64, relapse_rate) {
                Step::Ended => return Outcome::Ended,
                Step::Relapsed(r) => return self.relapse(r, continuing),
                Step::Reached => {}
            }
            let idx = self.push_line(regimen, Intensity::Intensive, start, Some(start + 4));
            let line = self.lines[idx].line;
            self.maybe_plant(start, false);
            let recovered = self.rng.days(20, 26);
            if p.mimics {
                let recovered = self.mimic_consolidation(start);
                self.plan.heme(recovered, HemeState::Remission);
            } else {
                self.plan.heme(start + 7, HemeState::Aplasia);
                self.plan.heme(start + recovered, HemeState::Remission);
                self.maybe_fever(p.febrile_neutropenia_prob_consolidation, start, 9, 16);
            }
            let end = start + self.rng.days(28, 35);
            let end = if p.mimics { end.max(self.mimic_last_recovery() + 3) } else { end };
            self.plan.dense(start, end, p.cbc_interval_cycle_days as f64, p.chem_interval_cycle_days, false);
            match self.remission_step(end as f64, relapse_rate) {
                Step::Ended => return Outcome::Ended,
                Step::Relapsed(r) => return self.relapse(r, continuing),
                Step::Reached => {}
            }
            self.responses.push(SimResponse { line, day: end, response: Response::CR });
            self.follow_up(end, cr_day);
            cursor = end;
        }
        if transplant {
            let start = cursor + self.rng.days(14, 42);
            let start = self.defer(start);
            match self.remission_step(start as f64, relapse_rate) {
                Step::Ended => return Outcome::Ended,
                Step::Relapsed(r) => return self.relapse(r, continuing),
                Step::Reached => {}
            }
            let idx = self.push_line("alloSCT", Intensity::Transplant, start, Some(start + 7));
            let line = self.lines[idx].line;
            self.transplant = Some(start);
            self.maybe_plant(start, false);
            let infusion = start + 7;
            self.findings.push(SimFinding { day: infusion, finding: FindingKind::Immunosuppression, present: true });
            let engraft = self.rng.days(15, 25);
            if p.mimics {
                let recovered = self.mimic_transplant(start, infusion, engraft);
                self.plan.heme(recovered, HemeState::Remission);
            } else {
                self.plan.heme(infusion, HemeState::Aplasia);
                self.plan.heme(infusion + engraft, HemeState::Remission);
                self.maybe_fever(p.febrile_neutropenia_prob_consolidation, infusion, 3, 10);
            }
            self.plan.dense(start, infusion + 35, p.cbc_interval_cycle_days as f64, p.chem_interval_cycle_days, true);
            let day100 = infusion + 100;
            match self.remission_step(day100 as f64, relapse_rate) {
                Step::Ended => return Outcome::Ended,
                Step::Relapsed(r) => return self.relapse(r, continuing),
                Step::Reached => {}
            }
            self.responses.push(SimResponse { line, day: day100, response: Response::CR });
            self.follow_up(infusion + 35, cr_day);
        }
        match self.remission_step(f64::INFINITY, relapse_rate) {
            Step::Relapsed(r) => self.relapse(r, continuing),
            _ => Outcome::Ended,
        }
    }

    fn relapse(&mut self, day: i32, continuing: Option<usize>) -> Outcome {
        let line = self.lines.last().map(|l| l.line).unwrap_or(1);
        self.responses.push(SimResponse { line, day, response: Response::Relapse });
        if let Some(idx) = continuing {
            self.lines[idx].end = Some(day);
        }
        self.plan.heme(day, HemeState::Active);
        Outcome::Active { day }
    }

    /// Truncate everything at the end of follow-up and attach episodes to lines.
    fn finish(mut self, end_day: i32, died: bool) -> Finished {
        self.lines.retain(|l| l.start <= end_day);
        for l in &mut self.lines {
            l.end = match l.end {
                Some(e) if e <= end_day => Some(e),
                Some(_) | None if died => Some(end_day),
                _ => None,
            };
        }
        self.responses.retain(|r| r.day <= end_day);
        self.responses.sort_by_key(|r| (r.day, r.line));
        self.findings.retain(|f| f.day <= end_day);
        self.findings.sort_by_key(|f| (f.day, f.finding));
        self.episodes.retain(|e| e.onset <= end_day);
        for e in &mut self.episodes {
            if let Some(l) = self.lines.iter().rev().find(|l| l.start <= e.onset) {
                e.line = l.line;
                e.regimen = l.regimen;
            }
        }
        if !self.p.mimics {
            self.plan.quiet_after_episodes(&self.episodes);
        }
        (self.lines, self.responses, self.findings, self.episodes, self.plan, self.rng, self.mrng)
    }
}

/// Result of a stretch of remission.
enum Step {
    Reached,
    Relapsed(i32),
    Ended,
}
