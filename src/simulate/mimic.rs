//! Laboratory values of the mimic model (`SimParams::mimics = true`): what intensive AML
//! therapy does to the HLH criteria in patients without HLH (febrile neutropenia, sepsis,
//! aplasia with per-lineage recovery, transfusional and inflammatory ferritin, TG rises,
//! DIC, drug/sepsis AST rises, sCD25 in fever work-ups), missing triglycerides/fibrinogen,
//! jittered sampling, and planted HLH with a gradual onset. The course (`patient.rs`) records
//! the events in a [`MimicPlan`]; [`draw`] turns them into measurements. Parameter sources:
//! `docs/simulation.md`.

use crate::cohort::Analyte;

use super::labs::{counts, on_grid, Baseline, HemeState, LabPlan, UnitProfile};
use super::params::MimicParams;
use super::patient::{SimEpisode, SimMeasurement};
use super::rng::PatientRng;

/// One cycle's aplasia: neutrophils < 0.5 on `[a0, anc)`, platelets < 20 on `[a0, plt)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Aplasia {
    pub a0: i32,
    pub anc: i32,
    pub plt: i32,
}

impl Aplasia {
    /// Last day of red-cell transfusion support (a week after the later recovery).
    fn transfused_until(&self) -> i32 {
        self.anc.max(self.plt) + 7
    }
}

/// A window `[from, to]` (inclusive) with a factor (or a value, e.g. the DIC fibrinogen nadir).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    pub from: i32,
    pub to: i32,
    pub factor: f64,
}

impl Window {
    fn contains(&self, d: i32) -> bool {
        d >= self.from && d <= self.to
    }
}

/// A febrile episode (febrile neutropenia, maybe septic) on days `[f0, f1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MimicFever {
    pub f0: i32,
    pub f1: i32,
    pub sepsis: bool,
    /// Peak multiplicative ferritin rise.
    pub ferritin: f64,
    /// Multiplicative TG rise (1 without sepsis).
    pub tg: f64,
    /// Fibrinogen falls to 1.0–1.5 g/L (rare in sepsis).
    pub low_fib: bool,
    /// Multiplicative AST rise.
    pub ast: f64,
    /// sCD25 sent on the second febrile day, with this value (U/mL).
    pub scd25: Option<f64>,
}

impl MimicFever {
    /// Inflammation lasts until 3 days after the last febrile day.
    fn inflamed(&self, d: i32) -> bool {
        d >= self.f0 && d <= self.f1 + 3
    }
}

/// Events of the mimic model, recorded by the course.
#[derive(Debug, Clone, Default)]
pub(crate) struct MimicPlan {
    pub aplasias: Vec<Aplasia>,
    pub fevers: Vec<MimicFever>,
    /// DIC windows; `factor` = fibrinogen nadir (g/L).
    pub dic: Vec<Window>,
    /// Parenteral nutrition / steroids: TG × factor.
    pub tg_events: Vec<Window>,
    /// Drug-induced AST × factor.
    pub ast_events: Vec<Window>,
    /// Post-remission prolonged cytopenia.
    pub prolonged: Vec<Window>,
}

const CBC: u8 = 1;
const TEMP: u8 = 2;
const FERRITIN: u8 = 4;
const FIB: u8 = 8;
const AST: u8 = 16;
const SCD25: u8 = 32;
const TG: u8 = 64;
/// A routine chemistry draw, resolved into ferritin + AST (+ TG, + fibrinogen when measured).
const CHEM: u8 = 128;

/// Where a day stands relative to the planted episodes.
enum Hlh<'a> {
    None,
    /// Prodrome, with the fraction `x` in (0, 1) of the way to the onset.
    Prodrome(&'a SimEpisode, f64),
    /// Inside `[onset, resolution]`, at fraction `x` of the episode.
    Active(&'a SimEpisode, f64),
    /// `k` days after resolution (1–30).
    After(&'a SimEpisode, i32),
}

fn hlh_at(episodes: &[SimEpisode], day: i32) -> Hlh<'_> {
    for e in episodes {
        if day >= e.onset && day <= e.resolution {
            return Hlh::Active(e, (day - e.onset) as f64 / (e.resolution - e.onset).max(1) as f64);
        }
        if day >= e.prodrome && day < e.onset {
            return Hlh::Prodrome(e, (day - e.prodrome + 1) as f64 / (e.onset - e.prodrome + 1) as f64);
        }
        if day > e.resolution && day <= e.resolution + 30 {
            return Hlh::After(e, day - e.resolution);
        }
    }
    Hlh::None
}

/// Draw every measurement of a patient up to `end_day` (inclusive) under the mimic model.
pub(crate) fn draw(
    plan: &LabPlan,
    episodes: &[SimEpisode],
    end_day: i32,
    profile: UnitProfile,
    rng: &mut PatientRng,
    m: &MimicParams,
) -> Vec<SimMeasurement> {
    let flags = schedule(plan, episodes, end_day, rng, m);
    let base = Baseline {
        ferritin: rng.lognormal(m.ferritin_dx_median, m.ferritin_dx_sigma).clamp(20.0, 60_000.0),
        tg: rng.lognormal(m.tg_dx_median, m.tg_sigma).clamp(0.4, 8.0),
        fibrinogen: rng.lognormal(m.fibrinogen_median, m.fibrinogen_sigma).clamp(1.6, 8.0),
        ast: rng.lognormal(m.ast_median, 0.35).clamp(8.0, 200.0),
        wbc_leukemic: rng.lognormal(6.0, 1.0).clamp(0.8, 150.0),
        hb_remission: rng.normal(125.0, 10.0).clamp(100.0, 155.0),
    };
    let mut out = Vec::new();
    for (day, &f) in flags.iter().enumerate() {
        if f == 0 {
            continue;
        }
        let day = day as i32;
        let hlh = hlh_at(episodes, day);
        let fever = plan.mimic.fevers.iter().find(|v| day >= v.f0 && day <= v.f1);
        let mut push = |analyte: Analyte, canonical: f64| {
            let (value, unit) = profile.present(analyte, canonical);
            out.push(SimMeasurement { day, analyte, value, unit, qualifier: 0 });
        };
        if f & TEMP != 0 {
            push(Analyte::Temperature, temperature(&hlh, fever.is_some(), rng, m));
        }
        if f & CBC != 0 {
            let (hb, plt, anc, wbc) = blood_counts(plan, &hlh, day, &base, rng);
            let anc = (anc * 100.0).round() / 100.0;
            push(Analyte::Hemoglobin, hb);
            push(Analyte::Platelets, plt);
            push(Analyte::Neutrophils, anc);
            push(Analyte::Leukocytes, wbc.max(anc + 0.1));
        }
        if f & FERRITIN != 0 {
            let n = ferritin(plan, day, &base, m, rng);
            let v = match hlh {
                Hlh::Prodrome(e, x) if e.ferritin[0] > n => (n.ln() + (e.ferritin[0].ln() - n.ln()) * x).exp(),
                Hlh::Active(e, x) => {
                    let [f0, fp, f1] = e.ferritin;
                    let lv = if x <= 0.4 {
                        f0.ln() + (fp.ln() - f0.ln()) * x / 0.4
                    } else {
                        fp.ln() + (f1.ln() - fp.ln()) * (x - 0.4) / 0.6
                    };
                    lv.exp() * rng.lognormal(1.0, 0.05)
                }
                Hlh::After(e, k) => n + (e.ferritin[2] - n).max(0.0) * 0.5f64.powf(k as f64 / 5.0),
                _ => n,
            };
            push(Analyte::Ferritin, v);
        }
        if f & TG != 0 {
            let n = triglycerides(plan, day, &base, rng);
            let v = match hlh {
                Hlh::Prodrome(e, x) if e.tg > n => n + (e.tg - n) * x,
                Hlh::Active(e, _) => (e.tg * rng.lognormal(1.0, 0.08)).max(n),
                Hlh::After(e, k) => n + (e.tg - n).max(0.0) * 0.5f64.powf(k as f64 / 3.0),
                _ => n,
            };
            push(Analyte::Triglycerides, v);
        }
        if f & FIB != 0 {
            let n = fibrinogen(plan, day, &base, rng);
            let v = match hlh {
                Hlh::Prodrome(e, x) if e.fib < n => n + (e.fib - n) * x,
                Hlh::Active(e, _) => (e.fib * rng.lognormal(1.0, 0.08)).min(n),
                Hlh::After(e, k) => n.min(e.fib + (n - e.fib).max(0.0) * (1.0 - 0.5f64.powf(k as f64 / 3.0))),
                _ => n,
            };
            push(Analyte::Fibrinogen, v);
        }
        if f & AST != 0 {
            let n = ast(plan, day, &base, rng);
            let v = match hlh {
                Hlh::Prodrome(_, x) => n * (1.0 + 2.0 * x),
                Hlh::Active(..) => rng.log_uniform(80.0, 400.0).max(n),
                _ => n,
            };
            push(Analyte::Ast, v);
        }
        if f & SCD25 != 0 {
            let v = match (&hlh, fever.and_then(|v| v.scd25).or_else(|| recent_scd25(plan, day))) {
                (Hlh::Active(e, _), _) | (Hlh::Prodrome(e, _), _) if e.scd25.is_some() => {
                    let s = e.scd25.unwrap_or(m.hlh_scd25_median);
                    let s = if matches!(hlh, Hlh::Prodrome(..)) { s * 0.5 } else { s };
                    s * rng.lognormal(1.0, 0.2)
                }
                (_, Some(s)) => s * rng.lognormal(1.0, 0.1),
                _ => rng.lognormal(m.scd25_median, m.scd25_sigma),
            };
            push(Analyte::Scd25, v.clamp(100.0, 150_000.0));
        }
    }
    out
}

/// The sCD25 value of the febrile episode whose work-up falls on `day`.
fn recent_scd25(plan: &LabPlan, day: i32) -> Option<f64> {
    plan.mimic.fevers.iter().find(|v| day == v.f0 + 1).and_then(|v| v.scd25)
}

/// Daily maximum temperature (°C).
fn temperature(hlh: &Hlh, febrile: bool, rng: &mut PatientRng, m: &MimicParams) -> f64 {
    let fn_temp = |rng: &mut PatientRng| rng.normal(m.fn_temp_mean, m.fn_temp_sd).clamp(38.0, 40.2);
    match hlh {
        Hlh::Active(..) => rng.normal(39.5, 0.5).clamp(38.3, 40.8),
        Hlh::Prodrome(_, x) => {
            let t = (38.0 + 1.2 * x + rng.normal(0.0, 0.3)).clamp(37.8, 39.8);
            if febrile {
                t.max(fn_temp(rng))
            } else {
                t
            }
        }
        _ if febrile => fn_temp(rng),
        _ => rng.normal(36.8, 0.3).clamp(36.0, 37.6),
    }
}

/// Blood counts (Hb g/L, platelets, ANC, WBC 10^9/L) on `day`.
fn blood_counts(plan: &LabPlan, hlh: &Hlh, day: i32, base: &Baseline, rng: &mut PatientRng) -> (f64, f64, f64, f64) {
    match hlh {
        Hlh::Active(..) => return (rng.unif(65.0, 88.0), rng.unif(8.0, 80.0), rng.unif(0.05, 0.9), rng.unif(0.3, 2.5)),
        Hlh::Prodrome(_, x) => {
            let (hb, plt, anc, wbc) = routine_counts(plan, day, base, rng);
            return (hb - 10.0 * x, plt * (1.0 - 0.6 * x), anc * (1.0 - 0.5 * x), wbc * (1.0 - 0.4 * x));
        }
        _ => {}
    }
    routine_counts(plan, day, base, rng)
}

/// Counts outside HLH: aplasia with per-lineage recovery, prolonged cytopenia, or the state.
fn routine_counts(plan: &LabPlan, day: i32, base: &Baseline, rng: &mut PatientRng) -> (f64, f64, f64, f64) {
    if let Some(a) = plan.mimic.aplasias.iter().rev().find(|a| day >= a.a0 && day < a.anc.max(a.plt) + 10) {
        let anc = if day < a.anc {
            rng.unif(0.01, 0.45)
        } else {
            0.5 + 2.5 * ((day - a.anc) as f64 / 10.0).min(1.0) * rng.unif(0.6, 1.2)
        };
        let plt = if day < a.plt {
            rng.unif(5.0, 19.4)
        } else {
            20.0 + 180.0 * ((day - a.plt) as f64 / 12.0).min(1.0) * rng.unif(0.6, 1.2)
        };
        let hb = if day < a.transfused_until() { rng.unif(70.0, 90.0) } else { rng.unif(88.0, 105.0) };
        let wbc = anc + if day < a.anc { rng.unif(0.05, 0.5) } else { rng.unif(0.5, 2.0) };
        return (hb, plt, anc, wbc);
    }
    if plan.mimic.prolonged.iter().any(|w| w.contains(day)) && plan.heme_at(day) != HemeState::Active {
        let anc = rng.unif(0.5, 1.0);
        return (rng.normal(95.0, 6.0).clamp(80.0, 110.0), rng.unif(20.0, 90.0), anc, anc + rng.unif(0.5, 1.5));
    }
    counts(plan.heme_at(day), base, rng)
}

/// Ferritin (µg/L) without HLH: baseline by disease state, plus the slow transfusional drift,
/// times the inflammatory rise of febrile episodes (rises over 2 days, halves every 4 days
/// after the fever).
fn ferritin(plan: &LabPlan, day: i32, base: &Baseline, m: &MimicParams, rng: &mut PatientRng) -> f64 {
    let state = match plan.heme_at(day) {
        HemeState::Remission => 0.7,
        HemeState::RemissionPartial | HemeState::RemissionLow => 0.85,
        _ => 1.0,
    };
    let mut drift = 0.0;
    for a in &plan.mimic.aplasias {
        let len = (a.transfused_until() - a.a0) as f64;
        let inside = ((day - a.a0) as f64).clamp(0.0, len);
        let after = (day - a.transfused_until()).max(0) as f64;
        drift += m.transfusion_ferritin_per_week / 7.0 * inside * 0.5f64.powf(after / m.transfusion_ferritin_half_life_days);
    }
    let mut inflammation = 1.0;
    for v in &plan.mimic.fevers {
        let shape = if day < v.f0 {
            0.0
        } else if day <= v.f1 + 1 {
            (((day - v.f0 + 1) as f64) / 2.0).min(1.0)
        } else {
            0.5f64.powf((day - v.f1 - 1) as f64 / 4.0)
        };
        inflammation *= 1.0 + (v.ferritin - 1.0) * shape;
    }
    ((base.ferritin * state + drift) * inflammation * rng.lognormal(1.0, 0.08)).clamp(5.0, 120_000.0)
}

/// Triglycerides (mmol/L) without HLH: baseline × sepsis and nutrition/steroid rises.
fn triglycerides(plan: &LabPlan, day: i32, base: &Baseline, rng: &mut PatientRng) -> f64 {
    let mut v = base.tg * rng.lognormal(1.0, 0.1);
    for w in plan.mimic.tg_events.iter().filter(|w| w.contains(day)) {
        v *= w.factor;
    }
    for f in plan.mimic.fevers.iter().filter(|f| f.inflamed(day)) {
        v *= f.tg;
    }
    v.clamp(0.3, 12.0)
}

/// Fibrinogen (g/L) without HLH: acute-phase rise with fever, DIC nadir, rare septic fall.
fn fibrinogen(plan: &LabPlan, day: i32, base: &Baseline, rng: &mut PatientRng) -> f64 {
    let inflamed = plan.mimic.fevers.iter().any(|f| f.inflamed(day));
    let b = base.fibrinogen * if inflamed { 1.2 } else { 1.0 };
    let mut v = b * rng.lognormal(1.0, 0.08);
    for w in plan.mimic.dic.iter().filter(|w| w.contains(day)) {
        let k = day - w.from;
        let nadir = w.factor;
        let d = if k < 2 {
            b - (b - nadir) * (k + 1) as f64 / 2.0
        } else {
            nadir + (b - nadir) * (k - 2) as f64 / ((w.to - w.from - 2).max(1)) as f64
        };
        v = v.min(d * rng.lognormal(1.0, 0.05));
    }
    if plan.mimic.fevers.iter().any(|f| f.low_fib && day >= f.f0 && day <= f.f1 + 2) {
        v = v.min(rng.unif(1.0, 1.5));
    }
    v.clamp(0.3, 9.0)
}

/// AST (U/L) without HLH: baseline × drug and sepsis rises.
fn ast(plan: &LabPlan, day: i32, base: &Baseline, rng: &mut PatientRng) -> f64 {
    let mut v = base.ast * rng.lognormal(1.0, 0.25);
    if plan.heme_at(day) == HemeState::Aplasia {
        v *= 1.2;
    }
    for w in plan.mimic.ast_events.iter().filter(|w| w.contains(day)) {
        v *= w.factor;
    }
    for f in plan.mimic.fevers.iter().filter(|f| f.inflamed(day)) {
        v *= f.ast;
    }
    v.clamp(5.0, 2_000.0)
}

/// What is measured on each day `0..=end_day`.
fn schedule(plan: &LabPlan, episodes: &[SimEpisode], end_day: i32, rng: &mut PatientRng, m: &MimicParams) -> Vec<u8> {
    let n = (end_day.max(0) + 1) as usize;
    let mut routine = vec![0u8; n];
    // Background (outpatient) visits: blood counts, chemistry at every nth visit.
    for (k, (from, v)) in plan.background.iter().enumerate() {
        let to = plan.background.get(k + 1).map(|(d, _)| *d).unwrap_or(end_day + 1).min(end_day + 1);
        for d in (*from).max(0)..to {
            let interval = (if d - v.since < 365 { v.first } else { v.later }) as i32;
            let off = d - v.anchor;
            if off % interval == 0 {
                let mut f = CBC;
                if (off / interval) % v.nth as i32 == v.nth as i32 - 1 {
                    f |= CHEM;
                }
                routine[d as usize] |= f;
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
            routine[d as usize] = f;
        }
    }
    // Irregular sampling: a routine draw moves a day earlier or later.
    let mut flags = vec![0u8; n];
    for (d, &f) in routine.iter().enumerate() {
        if f == 0 {
            continue;
        }
        let mut t = d as i64;
        if d > 0 && rng.chance(m.sampling_jitter_prob) {
            t += if rng.chance(0.5) { -1 } else { 1 };
        }
        let t = if n > 1 { t.clamp(1, n as i64 - 1) as usize } else { 0 };
        flags[t] |= f;
    }
    // The diagnostic work-up: counts, temperature, chemistry, coagulation.
    flags[0] |= CBC | TEMP | FERRITIN | AST | FIB | if rng.chance(m.tg_measured_prob) { TG } else { 0 };
    // Resolve routine chemistry into what was actually measured.
    for f in flags.iter_mut() {
        if *f & CHEM != 0 {
            *f &= !CHEM;
            *f |= FERRITIN | AST;
            if rng.chance(m.tg_measured_prob) {
                *f |= TG;
            }
            if rng.chance(m.fibrinogen_measured_prob) {
                *f |= FIB;
            }
        }
    }
    let mut set = |d: i32, f: u8| {
        if d >= 0 && (d as usize) < n {
            flags[d as usize] |= f;
        }
    };
    // Fever work-up: counts and chemistry on the first day, daily temperature, sCD25 on the
    // second day when sent; sepsis: repeated on the third day.
    for v in &plan.mimic.fevers {
        set(v.f0, CBC | FERRITIN | FIB | AST);
        for d in v.f0..=v.f1 {
            set(d, TEMP);
        }
        if v.scd25.is_some() {
            set(v.f0 + 1, SCD25);
        }
        if v.sepsis {
            set(v.f0 + 2, CBC | FERRITIN | FIB | TG);
        }
    }
    // DIC: fibrinogen every 2 days.
    for w in &plan.mimic.dic {
        for d in (w.from..=w.to).step_by(2) {
            set(d, FIB);
        }
    }
    // HLH: fever from the prodrome; the full panel on the onset day; then counts and ferritin
    // every 2 days, TG/fibrinogen/AST every 3 days, sCD25 weekly when sent; normalising labs.
    for e in episodes {
        for d in e.prodrome..e.onset {
            set(d, TEMP);
        }
        let scd25 = if e.scd25.is_some() { SCD25 } else { 0 };
        for d in e.onset..=e.resolution {
            let k = d - e.onset;
            let last = d == e.resolution;
            let mut f = TEMP;
            if k % 2 == 0 || last {
                f |= CBC | FERRITIN;
            }
            if k % 3 == 0 || last {
                f |= TG | FIB | AST;
            }
            if k % 7 == 0 {
                f |= scd25;
            }
            set(d, f);
        }
        for k in 1..=3 {
            set(e.resolution + k, TEMP);
        }
        set(e.resolution + 3, FERRITIN | TG | FIB);
        set(e.resolution + 7, FERRITIN | TG | FIB);
    }
    flags
}
