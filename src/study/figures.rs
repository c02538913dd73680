//! The run's figures: estimator results converted into the plot module's inputs.
//!
//! Risk-table numbers come from the same fitted objects as the curves
//! (`KaplanMeier::n_risk_at`, the counting-process intervals for Simon–Makuch),
//! at the x-axis ticks, with R's convention: at risk at time t = before the
//! events at t (`summary(fit, times = t)$n.risk`).

use std::path::{Path, PathBuf};

use crate::cohort::{Analyte, Cohort, Response};
use crate::hlh::Detection;
use crate::plot::{self, FigureSpec, KmPlot, RiskTable, StepCurve, SwimmerMarker};
use crate::stats::cif::CumInc;
use crate::stats::simon_makuch::CpCurve;
use crate::stats::table1::quantile_type7;

use super::config::StudyConfig;
use super::dataset::Dataset;
use super::outputs::RunOutputs;
use super::run::StudyError;
use super::survival::{HlhSurvival, KmAnalysis};

/// One drawn figure.
#[derive(Debug, Clone)]
pub struct FigureOut {
    /// File stem.
    pub name: String,
    /// Title.
    pub title: String,
    /// Caption.
    pub caption: String,
    /// Report section key (`incidence`, `survival`, `hlh_survival`, `response`, `hlh`).
    pub section: String,
    /// The SVG file.
    pub svg: PathBuf,
}

/// Incidence under one definition of the grid, for the dot-and-CI figure.
#[derive(Debug, Clone)]
pub struct GridPoint {
    /// Definition name.
    pub label: String,
    /// Crude proportion.
    pub estimate: f64,
    /// Lower confidence limit.
    pub lower: f64,
    /// Upper confidence limit.
    pub upper: f64,
}

/// Sensitivity and PPV of one definition against the truth, for the validation figure.
#[derive(Debug, Clone)]
pub struct ValidationPoint {
    /// Definition name.
    pub label: String,
    /// Sensitivity (estimate, lower, upper).
    pub sensitivity: Option<(f64, f64, f64)>,
    /// PPV (estimate, lower, upper).
    pub ppv: Option<(f64, f64, f64)>,
}

/// Every figure of a run.
#[derive(Debug, Clone, Default)]
pub struct FigureSet {
    /// Figures in drawing order.
    pub figures: Vec<FigureOut>,
}

/// What the figures are drawn from.
pub struct FigureInputs<'a> {
    /// Study config (figure options).
    pub cfg: &'a StudyConfig,
    /// Cohort.
    pub cohort: &'a Cohort,
    /// Study population.
    pub dataset: &'a Dataset,
    /// KM analyses (OS/EFS by group).
    pub km_analyses: &'a [KmAnalysis],
    /// Cumulative-incidence fits: (criteria set, grouping, fit).
    pub cif_fits: &'a [(String, String, CumInc)],
    /// HLH survival analyses per criteria set.
    pub hlh_survival: &'a [HlhSurvival],
    /// Detection under the primary criteria set.
    pub primary: &'a Detection,
    /// Cumulative incidence of relapse from CR1 (death in remission competing), if computed.
    pub cir: Option<&'a CumInc>,
    /// Where to write.
    pub out_dir: &'a Path,
    /// Lab trajectory panels, from [`LabTrajectories`].
    pub trajectories: &'a [plot::TrajectoryPanel],
    /// Incidence by definition (the grid), in grid order.
    pub grid: &'a [GridPoint],
    /// Validation against the truth table (empty without one).
    pub validation: &'a [ValidationPoint],
    /// Risk-factor models of HLH (Fine–Gray, cause-specific Cox), for the forest plot.
    pub risk_models: &'a [super::risk_factors::RiskModel],
    /// Label patients by their identifier instead of their study number (`--identifiable`).
    pub identifiable: bool,
}

/// Keep a drawn figure, or record why it could not be drawn (the run goes on).
fn record<T>(
    set: &mut FigureSet,
    outs: &mut RunOutputs,
    drawn: Result<T, plot::PlotError>,
    fig: FigureOut,
) -> Result<(), StudyError> {
    outs.claim_figure(&fig.name)?;
    match drawn {
        Ok(_) => set.figures.push(fig),
        Err(e) => outs.not_computed(format!("figure {}", fig.name), e),
    }
    Ok(())
}

/// A confidence limit for drawing: a missing limit is NaN, which leaves a gap in the band.
fn limit(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {:.3}", p)
    }
}

/// KM figure from a fitted analysis; times converted from days to months.
fn km_plot(a: &KmAnalysis, cfg: &StudyConfig, title: &str, y_label: &str) -> KmPlot {
    let dpm = cfg.timing.days_per_month;
    let x_breaks = cfg.figures.ticks_months();
    let curves: Vec<StepCurve> =
        a.km.curves
            .iter()
            .map(|c| StepCurve {
                label: c.group.clone(),
                times: c.rows.iter().map(|r| r.time / dpm).collect(),
                values: c.rows.iter().map(|r| r.surv).collect(),
                lower: Some(c.rows.iter().map(|r| limit(r.lower)).collect()),
                upper: Some(c.rows.iter().map(|r| limit(r.upper)).collect()),
                censor_times: c.rows.iter().filter(|r| r.n_censor > 0).map(|r| r.time / dpm).collect(),
            })
            .collect();
    let rows =
        a.km.curves
            .iter()
            .enumerate()
            .map(|(g, c)| (c.group.clone(), x_breaks.iter().map(|&t| a.km.n_risk_at(g, t * dpm) as u64).collect()))
            .collect();
    KmPlot {
        title: title.to_string(),
        x_label: "Months".to_string(),
        y_label: y_label.to_string(),
        curves,
        risk_table: Some(RiskTable { times: x_breaks.clone(), rows }),
        annotation: a.logrank.as_ref().map(|lr| format!("Log-rank {}", p_text(lr.p))),
        medians: a.km.curves.iter().map(|c| c.median.map(|m| m / dpm)).collect(),
        x_max: cfg.figures.max_months,
        x_breaks,
    }
}

/// Journal single column, or double column when the numbers at risk have five or
/// more digits (large registries) and would not fit under the ticks.
fn km_spec(dir: &Path, name: &str, p: &KmPlot) -> FigureSpec {
    let spec = FigureSpec::new(dir, name);
    let Some(rt) = &p.risk_table else { return spec };
    let widest = rt.rows.iter().flat_map(|(_, v)| v.iter()).copied().max().unwrap_or(0);
    if widest >= 10_000 {
        spec.with_size(plot::FigureSize::double_column(75.0 + 6.0 * rt.rows.len() as f64))
    } else {
        spec
    }
}

fn cp_step(c: &CpCurve, dpm: f64) -> StepCurve {
    StepCurve {
        label: c.group.clone(),
        times: c.rows.iter().map(|r| r.time / dpm).collect(),
        values: c.rows.iter().map(|r| r.surv).collect(),
        lower: Some(c.rows.iter().map(|r| limit(r.lower)).collect()),
        upper: Some(c.rows.iter().map(|r| limit(r.upper)).collect()),
        censor_times: Vec::new(),
    }
}

/// Draw every figure of the run.
///
/// A figure that cannot be drawn on this cohort (e.g. no curve to draw) is recorded in
/// `outs` as not computed; only a duplicate figure name is an error.
pub(crate) fn draw_all(inp: &FigureInputs, outs: &mut RunOutputs) -> Result<FigureSet, StudyError> {
    let mut set = FigureSet::default();
    let figures: [FigureFn; 11] = [
        km_figures,
        cif_hlh_figure,
        hlh_survival_figures,
        risk_factor_figure,
        response_figure,
        swimmer_figure,
        trajectory_figure,
        cir_figure,
        schoenfeld_figure,
        grid_figure,
        validation_figure,
    ];
    for draw in figures {
        draw(inp, outs, &mut set)?;
    }
    Ok(set)
}

/// One figure (or one family of figures) of the run.
type FigureFn = fn(&FigureInputs, &mut RunOutputs, &mut FigureSet) -> Result<(), StudyError>;

/// The report entry of figure `name` (its SVG in the run's figure folder).
fn figure_out(inp: &FigureInputs, name: &str, title: &str, caption: String, section: &str) -> FigureOut {
    FigureOut {
        name: name.to_string(),
        title: title.to_string(),
        caption,
        section: section.to_string(),
        svg: inp.out_dir.join(format!("{name}.svg")),
    }
}

/// Kaplan–Meier figures: OS by first-line intensity and regimen, EFS, RFS from CR1.
fn km_figures(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let cfg = inp.cfg;
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    for a in inp.km_analyses {
        let (title, y) = match a.name.as_str() {
            "os_by_first_line_intensity" => ("Overall survival by first-line intensity", "Overall survival"),
            "os_by_first_line_regimen" => ("Overall survival by first-line regimen", "Overall survival"),
            "efs_by_first_line_intensity" => ("Event-free survival by first-line intensity", "Event-free survival"),
            "rfs_from_cr1" => ("Relapse-free survival from CR1", "Relapse-free survival"),
            _ => continue,
        };
        let name = format!("km_{}", a.name);
        let kp = km_plot(a, cfg, title, y);
        let drawn = plot::write_km_plot(&kp, &km_spec(inp.out_dir, &name, &kp));
        let caption = format!("Kaplan–Meier estimate with {ci} band (log); + = censored; number at risk below (at each tick, before events at that time). {}", a.endpoint);
        record(set, outs, drawn, figure_out(inp, &name, title, caption, "survival"))?;
    }
    Ok(())
}

/// Cumulative incidence of HLH by first-line intensity (primary definition), death without HLH competing.
fn cif_hlh_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let dpm = inp.cfg.timing.days_per_month;
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    if let Some((_, _, fit)) = inp.cif_fits.iter().find(|(s, g, _)| s == &inp.primary.criteria_set && g == "first_line_intensity")
    {
        let step = |c: &crate::stats::cif::CifCurve, band: bool| {
            let (lower, upper) = if band { cif_band(c, inp.cfg.survival.conf_level) } else { (None, None) };
            StepCurve {
                label: c.group.clone(),
                times: c.time.iter().map(|t| t / dpm).collect(),
                values: c.estimate.clone(),
                lower,
                upper,
                censor_times: Vec::new(),
            }
        };
        let curves: Vec<StepCurve> = fit.curves.iter().filter(|c| c.cause == 1).map(|c| step(c, true)).collect();
        let competing: Vec<StepCurve> = fit.curves.iter().filter(|c| c.cause == 2).map(|c| step(c, false)).collect();
        let gray = fit.tests.iter().find(|t| t.cause == 1).map(|t| {
            if t.p.is_finite() {
                format!("Gray's test (HLH) {}", p_text(t.p))
            } else {
                "Gray's test (HLH): not computable (a group without HLH)".to_string()
            }
        });
        let name = "cif_hlh_by_first_line_intensity";
        let drawn = plot::write_cif_plot(
            &plot::CifPlot {
                title: format!("Cumulative incidence of HLH ({})", inp.primary.criteria_set),
                x_label: "Months".into(),
                y_label: "Cumulative incidence".into(),
                curves,
                competing,
                event_label: "HLH".into(),
                competing_label: "death without HLH".into(),
                risk_table: None,
                annotation: gray,
                x_max: 12.0,
                x_breaks: (0..=12).step_by(3).map(f64::from).collect(),
                y_max: None,
            },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption = format!(
            "Aalen–Johansen cumulative incidence of the first HLH episode with death without HLH as a competing event (dashed), by first-line intensity; shaded: pointwise {} for HLH (log(−log), as tidycmprsk).",
            ci
        );
        record(set, outs, drawn, figure_out(inp, name, "Cumulative incidence of HLH", caption, "incidence"))?;
    }
    Ok(())
}

/// OS by time-dependent HLH (Simon–Makuch), the first landmark analysis and the forest plot of the time-dependent Cox model (primary definition).
fn hlh_survival_figures(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let cfg = inp.cfg;
    let dpm = inp.cfg.timing.days_per_month;
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    if let Some(h) = inp.hlh_survival.iter().find(|h| h.criteria_set == inp.primary.criteria_set) {
        let x_breaks = cfg.figures.ticks_months();
        let hr = h.cox_td.hazard_ratios();
        let k = h.cox_td.terms.iter().position(|t| t == "hlh").unwrap_or(0);
        let annotation = Some(format!("Time-dependent HR {:.2} ({:.2}–{:.2})", hr[k].0, hr[k].1, hr[k].2));
        // numbers at risk by current HLH state at each tick, counted by the survival stage
        let risk_at_ticks = |exposed: bool| -> Vec<u64> { h.at_risk.iter().map(|r| r[usize::from(exposed)]).collect() };
        let sm = KmPlot {
            title: "Overall survival by HLH (Simon–Makuch)".into(),
            x_label: "Months".into(),
            y_label: "Overall survival".into(),
            curves: h.simon_makuch.iter().map(|c| cp_step(c, dpm)).collect(),
            risk_table: Some(RiskTable {
                times: x_breaks.clone(),
                rows: vec![("no HLH".into(), risk_at_ticks(false)), ("HLH".into(), risk_at_ticks(true))],
            }),
            annotation,
            medians: h.simon_makuch.iter().map(|c| c.median.map(|m| m / dpm)).collect(),
            x_max: cfg.figures.max_months,
            x_breaks,
        };
        let name = "simon_makuch_os_by_hlh";
        let drawn = plot::write_km_plot(&sm, &km_spec(inp.out_dir, name, &sm));
        let caption = "Patients move from the no-HLH to the HLH curve at episode onset; numbers at risk change accordingly. HR from the adjusted time-dependent Cox model.";
        record(
            set,
            outs,
            drawn,
            figure_out(inp, name, "OS by time-dependent HLH status (Simon–Makuch)", caption.into(), "hlh_survival"),
        )?;

        if let Some((l, a, _)) = h.landmarks.first() {
            let name = format!("landmark_{}d_os_by_hlh", l);
            let kp = km_plot(a, cfg, &format!("OS from a {}-day landmark by HLH before it", l), "Overall survival");
            let drawn = plot::write_km_plot(&kp, &km_spec(inp.out_dir, &name, &kp));
            let caption =
                format!("Patients alive and followed at day {l}; HLH status fixed at the landmark; time from the landmark.");
            record(set, outs, drawn, figure_out(inp, &name, "Landmark analysis", caption, "hlh_survival"))?;
        }

        let rows: Vec<plot::ForestRow> = h
            .cox_td
            .terms
            .iter()
            .enumerate()
            .map(|(k, term)| {
                let z = h.cox_td.coef[k] / h.cox_td.se[k];
                plot::ForestRow {
                    label: term.clone(),
                    estimate: hr[k].0,
                    lower: hr[k].1,
                    upper: hr[k].2,
                    p_text: p_text(crate::stats::dist::two_sided_p(z)),
                }
            })
            .collect();
        let name = "forest_cox_time_dependent";
        let drawn = plot::write_forest_plot(
            &plot::ForestPlot {
                title: "Cox model of OS, HLH time-dependent".into(),
                x_label: format!("Hazard ratio ({ci})"),
                rows,
                log_scale: true,
                reference: Some(1.0),
                label_header: "Term".into(),
                estimate_header: format!("HR ({ci})"),
                p_header: "p".into(),
                x_range: None,
            },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption =
            "Hazard ratios for death from the Cox model with HLH as a time-varying covariate, adjusted for the study covariates.";
        record(set, outs, drawn, figure_out(inp, name, "Forest plot", caption.into(), "hlh_survival"))?;
    }
    Ok(())
}

/// Risk factors for HLH: Fine–Gray and cause-specific Cox side by side.
fn risk_factor_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    if !inp.risk_models.is_empty() {
        let zq = crate::stats::dist::z_for_level(inp.cfg.survival.conf_level);
        let mut rows = Vec::new();
        for m in inp.risk_models {
            let label = if m.model == "fine_gray" { "SHR" } else { "CSH" };
            for (k, term) in m.terms.iter().enumerate() {
                let (b, se) = (m.coef[k], m.se[k]);
                rows.push(plot::ForestRow {
                    label: format!("{term} ({label})"),
                    estimate: b.exp(),
                    lower: (b - zq * se).exp(),
                    upper: (b + zq * se).exp(),
                    p_text: p_text(crate::stats::dist::two_sided_p(b / se)),
                });
            }
        }
        let name = "forest_hlh_risk_factors";
        let drawn = plot::write_forest_plot(
            &plot::ForestPlot {
                title: "Risk factors for HLH".into(),
                x_label: format!("Hazard ratio ({ci})"),
                rows,
                log_scale: true,
                reference: Some(1.0),
                label_header: "Term (model)".into(),
                estimate_header: format!("HR ({ci})"),
                p_header: "p".into(),
                x_range: None,
            },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption = "Subdistribution hazard ratios (SHR, Fine–Gray, death without HLH competing) and cause-specific hazard ratios (CSH, Cox) of the first HLH episode under the primary definition, study covariates (table hlh_risk_factors).";
        record(set, outs, drawn, figure_out(inp, name, "Risk factors for HLH", caption.into(), "incidence"))?;
    }
    Ok(())
}

/// Composite CR after the first line, by first-line regimen (regimens with at least `min_regimen_size` patients).
fn response_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let cfg = inp.cfg;
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    let mut by_regimen: std::collections::BTreeMap<crate::cohort::text::SharedText, (u64, u64)> =
        std::collections::BTreeMap::new();
    for sp in &inp.dataset.patients {
        if let Some(first) = inp.cohort.first_line_of(sp.idx) {
            let best = super::response::best_response(inp.cohort, sp.idx, first.line);
            let e = by_regimen.entry(first.regimen.clone()).or_insert((0, 0));
            e.0 += 1;
            if best.is_some_and(Response::is_composite_cr) {
                e.1 += 1;
            }
        }
    }
    let mut bars = Vec::new();
    for (regimen, (n, x)) in by_regimen {
        if n < cfg.survival.min_regimen_size as u64 {
            continue;
        }
        if let Ok(p) = crate::stats::proportions::proportion(x, n, cfg.survival.conf_level) {
            bars.push(plot::Bar {
                category: regimen.to_string(),
                estimate: p.estimate,
                lower: p.clopper_pearson.0,
                upper: p.clopper_pearson.1,
                n_label: format!("{x}/{n}"),
            });
        }
    }
    if !bars.is_empty() {
        let name = "response_rates_by_regimen";
        let drawn = plot::write_bar_plot(
            &plot::BarPlot {
                title: "Composite CR after first line".into(),
                x_label: "First-line regimen".into(),
                y_label: "CR + CRh + CRi (%)".into(),
                bars,
            },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption = format!("Composite complete remission (CR + CRh + CRi) with exact {ci}; denominator = all treated.");
        record(set, outs, drawn, figure_out(inp, name, "Response rates by first-line regimen", caption, "response"))?;
    }
    Ok(())
}

/// Swimmer plot of the patients with HLH (primary definition).
fn swimmer_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let cfg = inp.cfg;
    let dpm = inp.cfg.timing.days_per_month;
    let onset_by_patient: std::collections::HashMap<u32, Vec<i32>> =
        inp.primary.episodes.iter().fold(Default::default(), |mut m, e| {
            m.entry(e.patient).or_insert_with(Vec::new).push(e.onset);
            m
        });
    let mut lanes = Vec::new();
    for (k, sp) in inp.dataset.patients.iter().enumerate() {
        let Some(onsets) = onset_by_patient.get(&sp.idx) else { continue };
        let p = &inp.cohort.patients[sp.idx as usize];
        // study number (the key is tables/patient_key) unless --identifiable
        let label = if inp.identifiable { p.id.to_string() } else { format!("#{}", k + 1) };
        let rel = |d: i32| ((d - sp.origin) as f64 / dpm).max(0.0);
        let end = sp.os_time / dpm;
        let segments = inp
            .cohort
            .treatments_of(sp.idx)
            .iter()
            .map(|l| (rel(l.start), l.end.map(rel).unwrap_or(end).min(end), l.intensity.name().to_string()))
            .filter(|s| s.1 > s.0)
            .collect();
        let mut markers: Vec<(f64, SwimmerMarker)> = onsets.iter().map(|&d| (rel(d), SwimmerMarker::HlhOnset)).collect();
        if let Some(cr) = sp.first_cr {
            markers.push((cr / dpm, SwimmerMarker::CompleteResponse));
        }
        if let Some(r) = sp.relapse_after_cr {
            markers.push((r / dpm, SwimmerMarker::Relapse));
        }
        markers.retain(|m| m.0 <= end);
        lanes.push(plot::SwimmerLane { id: label, segments, markers, end, died: sp.os_event });
    }
    if !lanes.is_empty() {
        let name = "swimmer_hlh_patients";
        let total = lanes.len();
        let drawn = plot::write_swimmer_plot(
            &plot::SwimmerPlot {
                title: format!("Patients with HLH ({})", inp.primary.criteria_set),
                x_label: "Months from origin".into(),
                y_label: "Patient".into(),
                lanes,
                categories: crate::cohort::Intensity::ALL.iter().map(|i| i.name().to_string()).collect(),
                max_lanes: Some(cfg.figures.swimmer_max_patients),
            },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption = format!("{total} patients with HLH (at most {} shown): treatment lines by intensity, response, HLH onset, death (filled) or censoring.", cfg.figures.swimmer_max_patients);
        record(set, outs, drawn, figure_out(inp, name, "Swimmer plot", caption, "response"))?;
    }
    Ok(())
}

/// Lab trajectories around the first HLH onset (computed before the measurements were released).
fn trajectory_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let panels = inp.trajectories.to_vec();
    if !panels.is_empty() {
        let name = "lab_trajectories_around_hlh_onset";
        let drawn = plot::write_trajectory_plot(
            &plot::TrajectoryPlot { title: "Labs around HLH onset".into(), x_label: "Days from onset".into(), panels },
            &FigureSpec::new(inp.out_dir, name),
        );
        let caption = "Median (line) and interquartile range (band) by day relative to the first HLH onset; days with fewer than 3 values omitted.";
        record(set, outs, drawn, figure_out(inp, name, "Lab trajectories", caption.into(), "hlh"))?;
    }
    Ok(())
}

/// Scaled Schoenfeld residuals of `hlh` in the adjusted time-dependent Cox model (primary
/// definition), summarised by the survival stage in ten bins of equal numbers of deaths
/// ([`super::survival::ResidualCourse`]): mean residual (an estimate
/// of β(t), log hazard ratio at that time) with its CI at the study's level. A flat line supports proportional
/// hazards (the test is `cox_hlh_ph_test`).
fn schoenfeld_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let Some(h) = inp.hlh_survival.iter().find(|h| h.criteria_set == inp.primary.criteria_set) else { return Ok(()) };
    let Ok(z) = &h.ph_test else { return Ok(()) };
    let (Some(col), Some(course)) = (z.terms.iter().position(|t| t == "hlh"), &z.hlh_course) else { return Ok(()) };
    let conf = inp.cfg.survival.conf_level;
    let series = plot::TrajectorySeries {
        label: "hlh".into(),
        days: course.months.clone(),
        median: course.mean.clone(),
        q1: course.lower.clone(),
        q3: course.upper.clone(),
    };
    let name = "schoenfeld_hlh";
    let panel = plot::TrajectoryPanel {
        title: "HLH (time-dependent)".into(),
        y_label: "Beta(t) for HLH".into(),
        log_y: false,
        series: vec![series],
    };
    let drawn = plot::write_trajectory_plot(
        &plot::TrajectoryPlot { title: "Scaled Schoenfeld residuals".into(), x_label: "Months".into(), panels: vec![panel] },
        &FigureSpec::new(inp.out_dir, name),
    );
    let caption = format!(
        "Scaled Schoenfeld residuals of HLH in the adjusted time-dependent Cox model of OS ({}), mean of ten bins with equal numbers of deaths (line) and its {} (band): a flat course supports proportional hazards; cox.zph test p = {} (table cox_hlh_ph_test).",
        h.criteria_set,
        super::run::ci_label(conf),
        crate::table::format::Num(z.p[col])
    );
    record(
        set,
        outs,
        drawn,
        FigureOut {
            name: name.into(),
            title: "Proportional-hazards check for HLH".into(),
            caption,
            section: "hlh_survival".into(),
            svg: inp.out_dir.join(format!("{name}.svg")),
        },
    )
}

/// Sensitivity and PPV (exact 95% CI) of every definition against the truth table.
fn validation_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    if inp.validation.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::new();
    for v in inp.validation {
        for (what, m) in [("sensitivity", v.sensitivity), ("PPV", v.ppv)] {
            if let Some((e, lo, hi)) = m {
                rows.push(plot::ForestRow {
                    label: format!("{} — {what}", v.label),
                    estimate: e,
                    lower: lo,
                    upper: hi,
                    p_text: String::new(),
                });
            }
        }
    }
    let name = "validation_by_definition";
    let drawn = plot::write_forest_plot(
        &plot::ForestPlot {
            title: "HLH definitions against the truth".into(),
            x_label: "Sensitivity / PPV (exact 95% CI)".into(),
            rows,
            log_scale: false,
            reference: Some(0.9),
            label_header: "Definition".into(),
            estimate_header: "Estimate (95% CI)".into(),
            p_header: String::new(),
            x_range: Some((0.0, 1.0)),
        },
        &FigureSpec::new(inp.out_dir, name),
    );
    let caption = "Patient-level sensitivity and positive predictive value of each definition against the truth table, with exact 95% CI; the line marks 0.90.";
    record(
        set,
        outs,
        drawn,
        FigureOut {
            name: name.into(),
            title: "Validation against the truth".into(),
            caption: caption.into(),
            section: "incidence".into(),
            svg: inp.out_dir.join(format!("{name}.svg")),
        },
    )
}

/// Dot-and-CI figure of HLH incidence under every definition of the grid.
fn grid_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    if inp.grid.is_empty() {
        return Ok(());
    }
    let ci = super::run::ci_label(inp.cfg.survival.conf_level);
    let rows = inp
        .grid
        .iter()
        .map(|g| plot::ForestRow {
            label: g.label.clone(),
            estimate: g.estimate,
            lower: g.lower,
            upper: g.upper,
            p_text: String::new(),
        })
        .collect();
    let name = "incidence_by_definition";
    let drawn = plot::write_forest_plot(
        &plot::ForestPlot {
            title: "HLH incidence by definition".into(),
            x_label: format!("Proportion of patients with HLH ({ci})"),
            rows,
            log_scale: false,
            reference: None,
            label_header: "Definition".into(),
            estimate_header: format!("Proportion ({ci})"),
            p_header: String::new(),
            x_range: None,
        },
        &FigureSpec::new(inp.out_dir, name),
    );
    let caption = format!("Crude HLH incidence with exact {ci} under each definition of the grid (the study's criteria sets and documented variants, table hlh_incidence_by_definition).");
    record(
        set,
        outs,
        drawn,
        FigureOut {
            name: name.into(),
            title: "HLH incidence by definition".into(),
            caption,
            section: "incidence".into(),
            svg: inp.out_dir.join(format!("{name}.svg")),
        },
    )
}

/// Pointwise log(−log) confidence band of a cumulative incidence curve (as tidycmprsk; NaN,
/// i.e. a gap in the band, where the estimate is 0 or 1).
fn cif_band(c: &crate::stats::cif::CifCurve, conf_level: f64) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
    let ci: Vec<Option<(f64, f64)>> =
        c.estimate.iter().zip(&c.variance).map(|(e, v)| crate::stats::cif::loglog_ci(*e, *v, conf_level)).collect();
    (
        Some(ci.iter().map(|x| x.map_or(f64::NAN, |x| x.0)).collect()),
        Some(ci.iter().map(|x| x.map_or(f64::NAN, |x| x.1)).collect()),
    )
}

/// Cumulative incidence of relapse from CR1 with non-relapse mortality as the competing risk.
fn cir_figure(inp: &FigureInputs, outs: &mut RunOutputs, set: &mut FigureSet) -> Result<(), StudyError> {
    let Some(fit) = inp.cir else { return Ok(()) };
    let dpm = inp.cfg.timing.days_per_month;
    let step = |c: &crate::stats::cif::CifCurve| {
        let (lower, upper) = if c.cause == 1 { cif_band(c, inp.cfg.survival.conf_level) } else { (None, None) };
        StepCurve {
            label: "relapse".into(),
            times: c.time.iter().map(|t| t / dpm).collect(),
            values: c.estimate.clone(),
            lower,
            upper,
            censor_times: Vec::new(),
        }
    };
    let name = "cir_from_cr1";
    let drawn = plot::write_cif_plot(
        &plot::CifPlot {
            title: "Cumulative incidence of relapse from CR1".into(),
            x_label: "Months from CR1".into(),
            y_label: "Cumulative incidence".into(),
            curves: fit.curves.iter().filter(|c| c.cause == 1).map(step).collect(),
            competing: fit.curves.iter().filter(|c| c.cause == 2).map(step).collect(),
            event_label: "relapse".into(),
            competing_label: "death in remission (NRM)".into(),
            risk_table: None,
            annotation: None,
            x_max: inp.cfg.figures.max_months,
            x_breaks: inp.cfg.figures.ticks_months(),
            y_max: None,
        },
        &FigureSpec::new(inp.out_dir, name),
    );
    let caption = format!(
        "Aalen–Johansen cumulative incidence of relapse from the first-line CR (CR1), with death in remission (non-relapse mortality) as the competing event; shaded: pointwise {} (log(−log), as tidycmprsk).",
        super::run::ci_label(inp.cfg.survival.conf_level)
    );
    record(
        set,
        outs,
        drawn,
        FigureOut {
            name: name.into(),
            title: "Cumulative incidence of relapse from CR1".into(),
            caption,
            section: "response".into(),
            svg: inp.out_dir.join(format!("{name}.svg")),
        },
    )
}

/// Analytes of the lab trajectory figure, and whether each is drawn on a log scale.
const TRAJECTORY_ANALYTES: [(Analyte, bool); 4] =
    [(Analyte::Ferritin, true), (Analyte::Triglycerides, false), (Analyte::Fibrinogen, false), (Analyte::Platelets, true)];

/// Lab values around the first HLH onset of each patient (primary criteria set), collected
/// while the measurements are held (part by part, during detection); [`LabTrajectories::panels`]
/// then gives the median and IQR per day from -14 to +28, days with fewer than 3 values
/// omitted.
#[derive(Debug, Default)]
pub struct LabTrajectories {
    /// Per analyte of [`TRAJECTORY_ANALYTES`]: the values by day relative to the first onset.
    by_day: [std::collections::BTreeMap<i32, Vec<f64>>; TRAJECTORY_ANALYTES.len()],
}

impl LabTrajectories {
    /// Add the values of the patients of `episodes` (every episode of each of these patients),
    /// from the measurements `cohort` holds for them.
    pub fn add<'e>(&mut self, cohort: &Cohort, episodes: impl Iterator<Item = &'e crate::hlh::Episode>) {
        let mut first_onset: std::collections::BTreeMap<u32, i32> = std::collections::BTreeMap::new();
        for e in episodes {
            first_onset.entry(e.patient).and_modify(|d| *d = (*d).min(e.onset)).or_insert(e.onset);
        }
        for ((analyte, _), by_day) in TRAJECTORY_ANALYTES.iter().zip(&mut self.by_day) {
            for (&p, &onset) in &first_onset {
                for m in cohort.measurements_of(p).iter().filter(|m| m.analyte == *analyte) {
                    let d = m.day - onset;
                    if (-14..=28).contains(&d) {
                        by_day.entry(d).or_default().push(m.value);
                    }
                }
            }
        }
    }

    /// The figure's panels (an analyte without a day of 3 values has none).
    pub fn panels(self) -> Vec<plot::TrajectoryPanel> {
        let mut panels = Vec::new();
        for ((analyte, log), by_day) in TRAJECTORY_ANALYTES.into_iter().zip(self.by_day) {
            let mut days = Vec::new();
            let (mut med, mut q1, mut q3) = (Vec::new(), Vec::new(), Vec::new());
            for (d, mut v) in by_day {
                if v.len() < 3 {
                    continue;
                }
                v.sort_by(f64::total_cmp);
                days.push(d as f64);
                med.push(quantile_type7(&v, 0.5).unwrap_or(f64::NAN));
                q1.push(quantile_type7(&v, 0.25).unwrap_or(f64::NAN));
                q3.push(quantile_type7(&v, 0.75).unwrap_or(f64::NAN));
            }
            if !days.is_empty() {
                panels.push(plot::TrajectoryPanel {
                    title: analyte.name().to_string(),
                    y_label: analyte.canonical_unit().to_string(),
                    log_y: log,
                    series: vec![plot::TrajectorySeries { label: "median (IQR)".into(), days, median: med, q1, q3 }],
                });
            }
        }
        panels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::simon_makuch::CpRow;

    #[test]
    fn a_missing_confidence_limit_is_a_gap_not_zero_or_one() {
        let row = |time: f64, surv: f64, ci: Option<(f64, f64)>| CpRow {
            time,
            n_risk: 2,
            n_event: 1,
            n_censor: 0,
            surv,
            std_err: ci.map(|_| 0.1),
            lower: ci.map(|c| c.0),
            upper: ci.map(|c| c.1),
        };
        let curve = CpCurve {
            group: "HLH".into(),
            n_intervals: 2,
            events: 2,
            rows: vec![row(10.0, 0.5, Some((0.2, 0.9))), row(20.0, 0.0, None)],
            median: Some(10.0),
        };
        let step = cp_step(&curve, 1.0);
        let (lo, up) = (step.lower.unwrap(), step.upper.unwrap());
        assert_eq!((lo[0], up[0]), (0.2, 0.9));
        assert!(lo[1].is_nan() && up[1].is_nan(), "S = 0 has no CI: the band must stop, not fill the panel");
    }
}
