//! Kaplan–Meier figure: stepped curves with stepped confidence bands,
//! censoring marks, dashed median lines, an annotation (log-rank p, HR) in
//! the panel, and a number-at-risk table aligned with the x-axis ticks.

use plotters::prelude::DrawingBackend;

use super::axis::Style;
use super::canvas::Canvas;
use super::legend::{Entry, Legend, Swatch};
use super::step::{self, Corner, RiskTable, Series, StepCurve, StepFigure};
use super::{render, series_color, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult};

/// Input of [`write_km_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KmPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title, e.g. "Months since diagnosis".
    pub x_label: String,
    /// y-axis title, e.g. "Overall survival".
    pub y_label: String,
    /// One curve per group (survival in [0, 1], starting at 1); coloured in
    /// order with [`super::OKABE_ITO`].
    pub curves: Vec<StepCurve>,
    /// Numbers at risk under the axis (`times` must equal `x_breaks`).
    pub risk_table: Option<RiskTable>,
    /// Text in the panel, e.g. "Log-rank p = 0.003" (newlines allowed).
    pub annotation: Option<String>,
    /// Median survival per curve (empty, or one entry per curve); `Some(m)`
    /// draws dashed lines from (0, 0.5) to (m, 0.5) and down to the axis.
    pub medians: Vec<Option<f64>>,
    /// Right end of the x axis.
    pub x_max: f64,
    /// x-axis tick positions (strictly increasing, within [0, x_max]).
    pub x_breaks: Vec<f64>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for a Kaplan–Meier plot
/// (default size: 85 mm wide, height growing with the risk table).
pub fn write_km_plot(plot: &KmPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

const KM_Y_BREAKS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

impl KmPlot {
    fn figure(&self) -> StepFigure<'_> {
        let series: Vec<Series<'_>> =
            self.curves.iter().enumerate().map(|(i, c)| Series { curve: c, color: series_color(i), dashed: false }).collect();
        let st = Style::standard();
        let entries = if series.len() > 1 {
            series
                .iter()
                .map(|s| Entry {
                    swatch: if s.curve.lower.is_some() {
                        Swatch::LineBand { color: s.color }
                    } else {
                        Swatch::Line { color: s.color, dashed: false }
                    },
                    label: s.curve.label.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        StepFigure {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            series,
            start: 1.0,
            y_range: (0.0, 1.0),
            y_breaks: KM_Y_BREAKS.to_vec(),
            x_max: self.x_max,
            x_breaks: &self.x_breaks,
            risk_table: self.risk_table.as_ref(),
            annotation: self.annotation.as_deref(),
            corners: &[Corner::BottomLeft, Corner::TopRight, Corner::BottomRight],
            guides: self.medians.iter().flatten().map(|&m| (m, 0.5)).collect(),
            legend: Legend { entries, row_breaks: Vec::new(), text: st.tick, line_w: st.line_w },
        }
    }
}

impl Figure for KmPlot {
    const KIND: &'static str = "Kaplan-Meier plot";

    fn validate(&self) -> Result<(), String> {
        if self.curves.is_empty() {
            return Err("no curves to draw".into());
        }
        for (i, c) in self.curves.iter().enumerate() {
            step::validate_curve(c, &format!("curve {} (`{}`)", i + 1, c.label), 0.0, 1.0)?;
        }
        if self.x_label.trim().is_empty() || self.y_label.trim().is_empty() {
            return Err("axis labels (x_label, y_label) must not be empty".into());
        }
        step::validate_x_axis(self.x_max, &self.x_breaks)?;
        if let Some(rt) = &self.risk_table {
            step::validate_risk_table(rt, &self.x_breaks)?;
        }
        if !self.medians.is_empty() && self.medians.len() != self.curves.len() {
            return Err(format!(
                "medians has {} entries for {} curves (give none or one per curve)",
                self.medians.len(),
                self.curves.len()
            ));
        }
        for (i, m) in self.medians.iter().enumerate() {
            if let Some(m) = m {
                if !m.is_finite() || *m < 0.0 {
                    return Err(format!("medians[{i}] must be finite and >= 0, found {m}"));
                }
            }
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
