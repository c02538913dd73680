//! Cumulative incidence figure: the same look as the Kaplan–Meier figure,
//! y from 0, curves by group for the event of interest (solid) and
//! optionally the competing event (dashed, same colour), Gray's test in the
//! panel, optional number-at-risk table.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{ticks_within, Style};
use super::canvas::Canvas;
use super::legend::{Entry, Legend, Swatch};
use super::step::{self, Corner, RiskTable, Series, StepCurve, StepFigure};
use super::{render, series_color, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult};

/// Input of [`write_cif_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CifPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title.
    pub x_label: String,
    /// y-axis title, e.g. "Cumulative incidence of relapse".
    pub y_label: String,
    /// Cumulative incidence of the event of interest, one curve per group
    /// (values in [0, y_max], starting at 0); solid lines.
    pub curves: Vec<StepCurve>,
    /// Competing-event curves: empty, or one per entry of `curves` (same
    /// group order), drawn dashed in the colour of the matching group,
    /// without censoring marks (their `censor_times` only extend the curve).
    pub competing: Vec<StepCurve>,
    /// Legend name of the event of interest (default "Event of interest").
    pub event_label: String,
    /// Legend name of the competing event (default "Competing event").
    pub competing_label: String,
    /// Numbers at risk under the axis (`times` must equal `x_breaks`).
    pub risk_table: Option<RiskTable>,
    /// Text in the panel, e.g. "Gray's test p = 0.04".
    pub annotation: Option<String>,
    /// Right end of the x axis.
    pub x_max: f64,
    /// x-axis tick positions (strictly increasing, within [0, x_max]).
    pub x_breaks: Vec<f64>,
    /// Top of the y axis in (0, 1]; `None` means 1.
    pub y_max: Option<f64>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for a cumulative incidence plot
/// (default size: 85 mm wide, height growing with the risk table).
pub fn write_cif_plot(plot: &CifPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

impl CifPlot {
    fn y_max(&self) -> f64 {
        self.y_max.unwrap_or(1.0)
    }

    fn figure(&self) -> StepFigure<'_> {
        let mut series: Vec<Series<'_>> =
            self.curves.iter().enumerate().map(|(i, c)| Series { curve: c, color: series_color(i), dashed: false }).collect();
        series.extend(self.competing.iter().enumerate().map(|(i, c)| Series { curve: c, color: series_color(i), dashed: true }));
        let st = Style::standard();
        let mut entries: Vec<Entry> = Vec::new();
        if self.curves.len() > 1 {
            for (i, c) in self.curves.iter().enumerate() {
                let color = series_color(i);
                entries.push(Entry {
                    swatch: if c.lower.is_some() { Swatch::LineBand { color } } else { Swatch::Line { color, dashed: false } },
                    label: c.label.clone(),
                });
            }
        }
        let mut row_breaks = Vec::new();
        if !self.competing.is_empty() {
            row_breaks.push(entries.len());
            let or = |s: &str, d: &str| {
                if s.trim().is_empty() {
                    d.to_string()
                } else {
                    s.to_string()
                }
            };
            let dark = RGBColor(0x33, 0x33, 0x33);
            entries.push(Entry {
                swatch: Swatch::Line { color: dark, dashed: false },
                label: or(&self.event_label, "Event of interest"),
            });
            entries.push(Entry {
                swatch: Swatch::Line { color: dark, dashed: true },
                label: or(&self.competing_label, "Competing event"),
            });
        }
        let y_max = self.y_max();
        StepFigure {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            series,
            start: 0.0,
            y_range: (0.0, y_max),
            y_breaks: ticks_within(0.0, y_max, 5),
            x_max: self.x_max,
            x_breaks: &self.x_breaks,
            risk_table: self.risk_table.as_ref(),
            annotation: self.annotation.as_deref(),
            corners: &[Corner::TopLeft, Corner::TopRight, Corner::BottomRight],
            guides: Vec::new(),
            legend: Legend { entries, row_breaks, text: st.tick, line_w: st.line_w },
        }
    }
}

impl Figure for CifPlot {
    const KIND: &'static str = "cumulative incidence plot";

    fn validate(&self) -> Result<(), String> {
        if self.curves.is_empty() {
            return Err("no curves to draw".into());
        }
        let y_max = self.y_max();
        if !y_max.is_finite() || y_max <= 0.0 || y_max > 1.0 {
            return Err(format!("y_max must be in (0, 1], found {y_max}"));
        }
        for (i, c) in self.curves.iter().enumerate() {
            step::validate_curve(c, &format!("curve {} (`{}`)", i + 1, c.label), 0.0, y_max)?;
        }
        if !self.competing.is_empty() && self.competing.len() != self.curves.len() {
            return Err(format!(
                "competing has {} curves for {} groups (give none or one per group)",
                self.competing.len(),
                self.curves.len()
            ));
        }
        for (i, c) in self.competing.iter().enumerate() {
            step::validate_curve(c, &format!("competing curve {} (`{}`)", i + 1, c.label), 0.0, y_max)?;
        }
        if self.x_label.trim().is_empty() || self.y_label.trim().is_empty() {
            return Err("axis labels (x_label, y_label) must not be empty".into());
        }
        step::validate_x_axis(self.x_max, &self.x_breaks)?;
        if let Some(rt) = &self.risk_table {
            step::validate_risk_table(rt, &self.x_breaks)?;
        }
        Ok(())
    }

    fn default_size(&self) -> FigureSize {
        self.figure().default_size()
    }

    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<(), DrawError> {
        self.figure().draw(canvas)
    }
}
