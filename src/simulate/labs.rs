//! Laboratory values and vital signs of one patient: when they are measured (the
//! cadence recorded by the course) and what they show (hematologic state, febrile
//! neutropenia, planted HLH), in the units of the patient's site.
//!
//! Non-HLH values are clipped so that no rule can mistake them for HLH:
//! ferritin ≤ 1900 µg/L, triglycerides ≤ 1.45 mmol/L, fibrinogen ≥ 2.6 g/L,
//! sCD25 ≤ 2300 U/mL, febrile-neutropenia temperature ≤ 39.3 °C.

use crate::cohort::Analyte;

use super::patient::{SimEpisode, SimMeasurement};
use super::rng::PatientRng;

/// Hematologic state, piecewise constant over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HemeState {
    /// Active leukemia (diagnosis, refractory, relapse, supportive care).
    Active,
    /// Chemotherapy-induced aplasia.
    Aplasia,
    /// On low-intensity therapy without remission yet.
    LowTherapy,
    /// Complete remission with full count recovery.
    Remission,
    /// CRh/CRi: incomplete recovery.
    RemissionPartial,
    /// Remission on continued low-intensity therapy (mild cytopenias).
    RemissionLow,
}

/// Units reported by a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitProfile {
    /// SI / canonical units throughout.
    Canonical,
    /// US conventional units: °F, g/dL, 10^3/µL, ng/mL, mg/dL.
    Us,
    /// Mixed: hemoglobin g/dL, ferritin ng/mL, fibrinogen mg/dL, the rest canonical.
    Mixed,
}

impl UnitProfile {
    /// Site label: `S01`–`S08` use canonical units, `S09` US units, `S10` mixed units.
    pub fn site(self, k: usize) -> &'static str {
        const CANONICAL: [&str; 8] = ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"];
        match self {
            UnitProfile::Canonical => CANONICAL[k.min(7)],
            UnitProfile::Us => "S09",
            UnitProfile::Mixed => "S10",
        }
    }

    /// Convert a canonical value to this site's unit and round it.
    pub fn present(self, analyte: Analyte, canonical: f64) -> (f64, &'static str) {
        use Analyte::*;
        let us = self == UnitProfile::Us;
        let mixed = self == UnitProfile::Mixed;
        let (v, unit, decimals) = match analyte {
            Temperature if us => (canonical * 9.0 / 5.0 + 32.0, "°F", 1),
            Temperature => (canonical, "°C", 1),
            Hemoglobin if us || mixed => (canonical / 10.0, "g/dL", 1),
            Hemoglobin => (canonical, "g/L", 0),
            Platelets if us => (canonical, "10^3/µL", 0),
            Platelets => (canonical, "10^9/L", 0),
            Neutrophils | Leukocytes if us => (canonical, "10^3/µL", 2),
            Neutrophils | Leukocytes => (canonical, "10^9/L", 2),
            Ferritin if us || mixed => (canonical, "ng/mL", 0),
            Ferritin => (canonical, "µg/L", 0),
            Triglycerides if us => (canonical * 88.57, "mg/dL", 0),
            Triglycerides => (canonical, "mmol/L", 2),
            Fibrinogen if us || mixed => (canonical * 100.0, "mg/dL", 0),
            Fibrinogen => (canonical, "g/L", 2),
            Ast => (canonical, "U/L", 0),
            Scd25 => (canonical, "U/mL", 0),
        };
        (round_to(v, decimals), unit)
    }
}

/// Round half away from zero to `decimals` places.
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// Regular visits: every `first` days during the first year after `since`, then every `later`
/// days; chemistry at every `nth` visit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Visits {
    pub anchor: i32,
    pub since: i32,
    pub first: u32,
    pub later: u32,
    pub nth: u32,
}

/// When to measure, and the state timelines the values depend on.
#[derive(Debug, Clone, Default)]
pub(crate) struct LabPlan {
    /// (from day, state), ascending.
    heme: Vec<(i32, HemeState)>,
    /// (from day, visits), ascending: the background cadence.
    pub(super) background: Vec<(i32, Visits)>,
    /// [start, end) with blood-count and chemistry intervals, and whether temperature is
    /// charted with each blood count (inpatient); override the background.
    pub(super) dense: Vec<(i32, i32, f64, u32, bool)>,
    /// Febrile neutropenia [first, last] day, and whether sCD25 was sent (clean model).
    fevers: Vec<(i32, i32, bool)>,
    /// Everything the mimic model adds.
    pub mimic: super::mimic::MimicPlan,
}

impl LabPlan {
    /// The hematologic state is `state` from `day` on (later entries are replaced).
    pub fn heme(&mut self, day: i32, state: HemeState) {
        self.heme.retain(|(d, _)| *d < day);
        self.heme.push((day, state));
    }

    /// Background visits from `from` on, anchored there.
    pub fn visits(&mut self, from: i32, since: i32, first: u32, later: u32, nth: u32) {
        self.background.retain(|(d, _)| *d < from);
        self.background.push((from, Visits { anchor: from, since, first, later, nth }));
    }

    /// A dense measurement period `[start, end)`; `inpatient` charts temperature with each count.
    pub fn dense(&mut self, start: i32, end: i32, cbc: f64, chem: u32, inpatient: bool) {
        self.dense.push((start, end, cbc, chem, inpatient));
    }

    /// A febrile-neutropenia episode on days `[first, last]`.
    pub fn fever(&mut self, first: i32, last: i32, scd25: bool) {
        self.fevers.push((first, last, scd25));
    }

    /// Drop febrile-neutropenia episodes from 3 days before an HLH onset until 30 days after
    /// its resolution, so that findings (30-day look-back) never combine with a later fever.
    pub fn quiet_after_episodes(&mut self, episodes: &[SimEpisode]) {
        self.fevers.retain(|(f0, f1, _)| !episodes.iter().any(|e| *f1 >= e.onset - 3 && *f0 <= e.resolution + 30));
    }

    pub(super) fn heme_at(&self, day: i32) -> HemeState {
        let k = self.heme.partition_point(|(d, _)| *d <= day);
        if k == 0 {
            HemeState::Active
        } else {
            self.heme[k - 1].1
        }
    }

    fn fever_at(&self, day: i32) -> bool {
        self.fevers.iter().any(|(f0, f1, _)| day >= *f0 && day <= *f1)
    }
}

const CBC: u8 = 1;
const TEMP: u8 = 2;
const FERRITIN: u8 = 4;
const TG_FIB: u8 = 8;
const AST: u8 = 16;
const SCD25: u8 = 32;
const CHEM: u8 = FERRITIN | TG_FIB | AST;

/// Where a day stands relative to the planted episodes.
enum HlhPhase<'a> {
    None,
    /// The 2 days before onset: fever only.
    Prodrome,
    /// Inside `[onset, resolution]`.
    Active(&'a SimEpisode, f64),
    /// `k` days after resolution (1–30).
    After(&'a SimEpisode, i32),
}

fn hlh_phase(episodes: &[SimEpisode], day: i32) -> HlhPhase<'_> {
    for e in episodes {
        if day >= e.onset && day <= e.resolution {
            let x = (day - e.onset) as f64 / (e.resolution - e.onset).max(1) as f64;
            return HlhPhase::Active(e, x);
        }
        if day >= e.onset - 2 && day < e.onset {
            return HlhPhase::Prodrome;
        }
        if day > e.resolution && day <= e.resolution + 30 {
            return HlhPhase::After(e, day - e.resolution);
        }
    }
    HlhPhase::None
}

/// Per-patient baselines of the slowly varying analytes.
pub(super) struct Baseline {
    pub ferritin: f64,
    pub tg: f64,
    pub fibrinogen: f64,
    pub ast: f64,
    pub wbc_leukemic: f64,
    pub hb_remission: f64,
}

/// Draw every measurement of a patient up to `end_day` (inclusive).
pub(crate) fn draw(
    plan: &LabPlan,
    episodes: &[SimEpisode],
    end_day: i32,
    profile: UnitProfile,
    rng: &mut PatientRng,
) -> Vec<SimMeasurement> {
    let flags = schedule(plan, episodes, end_day);
    let base = Baseline {
        ferritin: rng.log_uniform(300.0, 1500.0),
        tg: rng.unif(0.7, 1.25),
        fibrinogen: rng.unif(2.9, 4.2),
        ast: rng.lognormal(22.0, 0.25),
        wbc_leukemic: rng.lognormal(6.0, 1.0).clamp(0.8, 150.0),
        hb_remission: rng.normal(125.0, 10.0).clamp(100.0, 155.0),
    };
    let n_rows: usize = flags.iter().map(|f| rows_of(*f)).sum();
    let mut out = Vec::with_capacity(n_rows);
    for (day, &f) in flags.iter().enumerate() {
        if f == 0 {
            continue;
        }
        let day = day as i32;
        let heme = plan.heme_at(day);
        let fever = plan.fever_at(day);
        let phase = hlh_phase(episodes, day);
        let mut push = |analyte: Analyte, canonical: f64| {
            let (value, unit) = profile.present(analyte, canonical);
            out.push(SimMeasurement { day, analyte, value, unit, qualifier: 0 });
        };
        if f & TEMP != 0 {
            let t = match phase {
                HlhPhase::Active(..) => rng.unif(39.5, 40.4),
                HlhPhase::Prodrome => rng.unif(38.5, 39.3),
                HlhPhase::After(..) => rng.normal(36.9, 0.25).clamp(36.2, 37.4),
                HlhPhase::None if fever => rng.unif(38.5, 39.3),
                HlhPhase::None => rng.normal(36.8, 0.3).clamp(36.0, 37.6),
            };
            push(Analyte::Temperature, t);
        }
        if f & CBC != 0 {
            let (hb, plt, anc, wbc) = match phase {
                HlhPhase::Active(..) => (rng.unif(65.0, 88.0), rng.unif(8.0, 80.0), rng.unif(0.05, 0.9), rng.unif(0.3, 2.5)),
                _ => counts(heme, &base, rng),
            };
            let anc = (anc * 100.0).round() / 100.0;
            let wbc = wbc.max(anc + 0.1);
            push(Analyte::Hemoglobin, hb);
            push(Analyte::Platelets, plt);
            push(Analyte::Neutrophils, anc);
            push(Analyte::Leukocytes, wbc);
        }
        let normal_ferritin = |rng: &mut PatientRng| {
            let m = match heme {
                HemeState::Active => 1.0,
                HemeState::Aplasia => 1.3,
                HemeState::LowTherapy => 1.1,
                HemeState::Remission => 0.7,
                HemeState::RemissionPartial | HemeState::RemissionLow => 0.9,
            };
            let m = if fever { m * 1.2 } else { m };
            (base.ferritin * m * rng.lognormal(1.0, 0.08)).clamp(30.0, 1900.0)
        };
        if f & FERRITIN != 0 {
            let v = match phase {
                HlhPhase::Active(e, x) => {
                    let [f0, fp, f1] = e.ferritin;
                    let lv = if x <= 0.4 {
                        f0.ln() + (fp.ln() - f0.ln()) * x / 0.4
                    } else {
                        fp.ln() + (f1.ln() - fp.ln()) * (x - 0.4) / 0.6
                    };
                    (lv.exp() * rng.lognormal(1.0, 0.05)).clamp(3_000.0, 50_000.0)
                }
                // Falling for two days after resolution, back to the patient's level from day 3.
                HlhPhase::After(e, k) if k <= 2 => {
                    let fb = normal_ferritin(rng);
                    fb + (e.ferritin[2] - fb).max(0.0) * (-(k as f64)).exp()
                }
                _ => normal_ferritin(rng),
            };
            push(Analyte::Ferritin, v);
        }
        if f & TG_FIB != 0 {
            let (tg, fib) = match phase {
                HlhPhase::Active(e, _) => (
                    if e.high_tg { rng.unif(3.6, 6.5) } else { rng.unif(1.6, 2.9) },
                    if e.low_fibrinogen { rng.unif(0.5, 1.15) } else { rng.unif(1.6, 2.4) },
                ),
                _ => (
                    (base.tg * rng.lognormal(1.0, 0.1)).clamp(0.4, 1.45),
                    (base.fibrinogen * if fever { 1.15 } else { 1.0 } * rng.lognormal(1.0, 0.08)).clamp(2.6, 6.5),
                ),
            };
            push(Analyte::Triglycerides, tg);
            push(Analyte::Fibrinogen, fib);
        }
        if f & AST != 0 {
            let v = match phase {
                HlhPhase::Active(..) => rng.log_uniform(80.0, 400.0),
                _ => {
                    let m = if heme == HemeState::Aplasia { 1.3 } else { 1.0 };
                    (base.ast * m * rng.lognormal(1.0, 0.2)).clamp(8.0, 75.0)
                }
            };
            push(Analyte::Ast, v);
        }
        if f & SCD25 != 0 {
            let v = match phase {
                HlhPhase::Active(..) => rng.log_uniform(4_500.0, 25_000.0),
                _ => rng.unif(400.0, 2_300.0),
            };
            push(Analyte::Scd25, v);
        }
    }
    out
}

/// Blood counts (Hb g/L, platelets, ANC, WBC 10^9/L) in a hematologic state.
pub(super) fn counts(heme: HemeState, base: &Baseline, rng: &mut PatientRng) -> (f64, f64, f64, f64) {
    match heme {
        HemeState::Active => (
            rng.normal(88.0, 9.0).clamp(62.0, 125.0),
            rng.lognormal(45.0, 0.6).clamp(5.0, 250.0),
            rng.lognormal(0.7, 0.8).clamp(0.02, 10.0),
            (base.wbc_leukemic * rng.lognormal(1.0, 0.25)).clamp(0.5, 200.0),
        ),
        HemeState::Aplasia => (rng.unif(70.0, 90.0), rng.unif(5.0, 19.4), rng.unif(0.01, 0.45), rng.unif(0.1, 0.9)),
        HemeState::LowTherapy => (
            rng.normal(90.0, 8.0).clamp(65.0, 120.0),
            rng.lognormal(60.0, 0.5).clamp(8.0, 300.0),
            rng.lognormal(0.8, 0.6).clamp(0.05, 6.0),
            rng.lognormal(2.5, 0.5).clamp(0.5, 30.0),
        ),
        HemeState::Remission => {
            let anc = rng.normal(3.2, 1.0).clamp(1.5, 8.0);
            (
                rng.normal(base.hb_remission, 8.0).clamp(95.0, 165.0),
                rng.normal(220.0, 60.0).clamp(100.0, 450.0),
                anc,
                anc + rng.normal(2.0, 0.4).clamp(0.8, 3.5),
            )
        }
        HemeState::RemissionPartial => {
            let anc = rng.unif(0.6, 1.4);
            (rng.normal(100.0, 8.0).clamp(85.0, 130.0), rng.unif(50.0, 100.0), anc, anc + rng.unif(0.8, 2.0))
        }
        HemeState::RemissionLow => {
            let anc = rng.normal(2.0, 0.6).clamp(0.8, 5.0);
            (
                rng.normal(105.0, 10.0).clamp(85.0, 140.0),
                rng.normal(150.0, 40.0).clamp(60.0, 350.0),
                anc,
                anc + rng.normal(1.6, 0.4).clamp(0.6, 3.0),
            )
        }
    }
}

fn rows_of(f: u8) -> usize {
    let mut n = 0;
    if f & TEMP != 0 {
        n += 1;
    }
    if f & CBC != 0 {
        n += 4;
    }
    if f & FERRITIN != 0 {
        n += 1;
    }
    if f & TG_FIB != 0 {
        n += 2;
    }
    if f & AST != 0 {
        n += 1;
    }
    if f & SCD25 != 0 {
        n += 1;
    }
    n
}

/// Is day offset `off` on the grid `⌊k · interval⌋`, k = 0, 1, …?
pub(super) fn on_grid(off: i32, interval: f64) -> bool {
    let k = (off as f64 / interval).ceil();
    (k * interval).floor() as i32 == off
}

/// What is measured on each day `0..=end_day`.
fn schedule(plan: &LabPlan, episodes: &[SimEpisode], end_day: i32) -> Vec<u8> {
    let n = (end_day.max(0) + 1) as usize;
    let mut flags = vec![0u8; n];
    let set = |flags: &mut Vec<u8>, d: i32, f: u8| {
        if d >= 0 && (d as usize) < n {
            flags[d as usize] |= f;
        }
    };
    // The diagnostic work-up: everything but sCD25.
    set(&mut flags, 0, CBC | TEMP | CHEM);
    // Background (outpatient) visits: blood counts, chemistry at every nth visit.
    for (k, (from, v)) in plan.background.iter().enumerate() {
        let to = plan.background.get(k + 1).map(|(d, _)| *d).unwrap_or(end_day + 1).min(end_day + 1);
        for d in (*from).max(0)..to {
            let interval = (if d - v.since < 365 { v.first } else { v.later }) as i32;
            let off = d - v.anchor;
            if off % interval == 0 {
                let mut f = CBC;
                // Not at the first visit of a stretch (it follows a treatment phase's labs).
                if (off / interval) % v.nth as i32 == v.nth as i32 - 1 {
                    f |= CHEM;
                }
                set(&mut flags, d, f);
            }
        }
    }
    // Dense periods replace the background.
    for &(s, e, cbc, chem, inpatient) in &plan.dense {
        for d in s.max(0)..e.min(end_day + 1) {
            let mut f = 0;
            if on_grid(d - s, cbc) {
                f |= if inpatient { CBC | TEMP } else { CBC };
            }
            if (d - s) % chem as i32 == 0 {
                f |= CHEM;
            }
            flags[d as usize] = f;
        }
    }
    // Febrile neutropenia: daily temperature, counts on the first day.
    for &(f0, f1, scd25) in &plan.fevers {
        set(&mut flags, f0, CBC | if scd25 { SCD25 } else { 0 });
        for d in f0..=f1 {
            set(&mut flags, d, TEMP);
        }
    }
    // HLH work-up: daily temperature, counts and ferritin every 2 days, TG/fibrinogen/AST every
    // 3 days, sCD25 weekly from onset; normalising labs after resolution.
    for e in episodes {
        for d in e.onset - 2..e.onset {
            set(&mut flags, d, TEMP);
        }
        for d in e.onset..=e.resolution {
            let k = d - e.onset;
            let last = d == e.resolution;
            let mut f = TEMP;
            if k % 2 == 0 || last {
                f |= CBC | FERRITIN;
            }
            if k % 3 == 0 || last {
                f |= TG_FIB | AST;
            }
            if k % 7 == 0 {
                f |= SCD25;
            }
            set(&mut flags, d, f);
        }
        for k in 1..=3 {
            set(&mut flags, e.resolution + k, TEMP);
        }
        set(&mut flags, e.resolution + 3, FERRITIN | TG_FIB);
        set(&mut flags, e.resolution + 7, FERRITIN | TG_FIB);
    }
    flags
}
