//! Forest plot: one row per term with its estimate (square) and confidence
//! interval (whisker) on a log (ratios) or linear scale, a reference line,
//! and the numbers printed in columns on the right.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{self, fmt_fixed, format_ticks, format_ticks_each, log_range, nice_range, Scale, Style};
use super::canvas::{mm, Canvas, HAlign, VAlign};
use super::legend::{draw_marker, Marker, Shape};
use super::{render, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult, DOUBLE_COLUMN_MM, OKABE_ITO};

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForestRow {
    /// Term label, e.g. "Age (per 10 years)".
    pub label: String,
    /// Point estimate (finite; > 0 on a log scale).
    pub estimate: f64,
    /// Lower confidence limit (<= estimate; may be 0 on a log scale or
    /// -infinity on a linear scale: drawn as an arrow at the axis end).
    pub lower: f64,
    /// Upper confidence limit (>= estimate; may be +infinity: arrow).
    pub upper: f64,
    /// p-value text as it should be printed, e.g. "0.003" or "<0.001".
    pub p_text: String,
}

/// Input of [`write_forest_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForestPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title, e.g. "Hazard ratio (95% CI)".
    pub x_label: String,
    /// Rows, drawn top to bottom in this order.
    pub rows: Vec<ForestRow>,
    /// Log x axis (use for hazard / odds ratios).
    pub log_scale: bool,
    /// Position of the vertical reference line; `None` means 1 on a log
    /// scale and 0 on a linear scale.
    pub reference: Option<f64>,
    /// Header of the label column (e.g. "Variable"; may be empty).
    pub label_header: String,
    /// Header of the numbers column (e.g. "HR (95% CI)").
    pub estimate_header: String,
    /// Header of the p-value column (e.g. "p").
    pub p_header: String,
    /// Optional fixed x range `(lo, hi)`; intervals beyond it end in arrows.
    pub x_range: Option<(f64, f64)>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for a forest plot (default size:
/// 180 mm wide, 5 mm per row).
pub fn write_forest_plot(plot: &ForestPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

/// Number with 2 decimals below 10, 1 below 100, else none.
fn fmt_num(v: f64) -> String {
    if v == f64::INFINITY {
        return "∞".into();
    }
    if v == f64::NEG_INFINITY {
        return "−∞".into();
    }
    let a = v.abs();
    let d = if a < 10.0 {
        2
    } else if a < 100.0 {
        1
    } else {
        0
    };
    fmt_fixed(v, d).replace('-', "−")
}

/// "1.92 (1.40–2.63)", or "−0.52 (−0.90 to −0.14)" when a bound is negative.
pub(crate) fn fmt_estimate(r: &ForestRow) -> String {
    let sep = if r.lower < 0.0 || r.upper < 0.0 { " to " } else { "–" };
    format!("{} ({}{sep}{})", fmt_num(r.estimate), fmt_num(r.lower), fmt_num(r.upper))
}

impl ForestPlot {
    fn reference(&self) -> f64 {
        self.reference.unwrap_or(if self.log_scale { 1.0 } else { 0.0 })
    }

    /// Data range and ticks of the x axis.
    fn x_axis(&self) -> (f64, f64, Vec<f64>) {
        let r0 = self.reference();
        if let Some((lo, hi)) = self.x_range {
            let ticks = if self.log_scale {
                log_range(lo, hi).2.into_iter().filter(|&t| t >= lo * (1.0 - 1e-9) && t <= hi * (1.0 + 1e-9)).collect()
            } else {
                axis::ticks_within(lo, hi, 5)
            };
            return (lo, hi, ticks);
        }
        let est_lo = self.rows.iter().map(|r| r.estimate).fold(r0, f64::min);
        let est_hi = self.rows.iter().map(|r| r.estimate).fold(r0, f64::max);
        let usable = |v: f64| v.is_finite() && (!self.log_scale || v > 0.0);
        let mut lo = self.rows.iter().map(|r| r.lower).filter(|v| usable(*v)).fold(est_lo, f64::min);
        let mut hi = self.rows.iter().map(|r| r.upper).filter(|v| usable(*v)).fold(est_hi, f64::max);
        if self.log_scale {
            // Very wide intervals would squash everything else: cap at 30x
            // beyond the estimates; longer whiskers end in arrows.
            lo = lo.max(est_lo / 30.0);
            hi = hi.min(est_hi * 30.0);
            log_range(lo, hi)
        } else {
            let span = est_hi - est_lo;
            let cap = if span > 0.0 { span * 3.0 } else { 1.0 };
            lo = lo.max(est_lo - cap);
            hi = hi.min(est_hi + cap);
            nice_range(lo, hi, 5)
        }
    }
}

struct Layout {
    st: Style,
    label_x: f64,
    panel: (f64, f64),
    est_x: f64,
    p_x: f64,
    header_y: f64,
    rows_top: f64,
    row_h: f64,
    axis_y: f64,
}

impl ForestPlot {
    fn layout(&self, w: f64, h: Option<f64>) -> (Layout, f64) {
        let st = Style::standard();
        let t = st.tick;
        let label_w = self.rows.iter().map(|r| t.width(&r.label)).fold(t.width(&self.label_header), f64::max);
        let est_w = self.rows.iter().map(|r| t.width(&fmt_estimate(r))).fold(t.width(&self.estimate_header), f64::max);
        let p_w = self.rows.iter().map(|r| t.width(&r.p_text)).fold(t.width(&self.p_header), f64::max);
        let gap = mm(4.0);
        let label_x = st.pad;
        let panel0 = label_x + label_w + gap;
        let p_right = w - st.pad;
        let p_x = p_right; // right-aligned
        let est_x = p_right - p_w - gap; // right edge of the estimate column
        let panel1 = est_x - est_w - gap;

        let mut y = st.pad;
        if !self.title.is_empty() {
            y += st.heading.cap() + mm(3.0);
        }
        let header_y = y; // cap top of the headers
        let rows_top = header_y + t.cap() + mm(2.0);
        let row_h = mm(5.0);
        let below = st.x_ticks_height() + st.x_title_height() + st.pad;
        let fixed = rows_top + below;
        let h = h.unwrap_or(fixed + row_h * self.rows.len() as f64);
        let row_h = ((h - fixed) / self.rows.len().max(1) as f64).min(mm(8.0));
        let axis_y = rows_top + row_h * self.rows.len() as f64;
        (Layout { st, label_x, panel: (panel0, panel1), est_x, p_x, header_y, rows_top, row_h, axis_y }, fixed)
    }
}

impl Figure for ForestPlot {
    const KIND: &'static str = "forest plot";

    fn validate(&self) -> Result<(), String> {
        if self.rows.is_empty() {
            return Err("no rows to draw".into());
        }
        if self.x_label.trim().is_empty() {
            return Err("x_label must not be empty".into());
        }
        let log = self.log_scale;
        for (i, r) in self.rows.iter().enumerate() {
            let what = format!("row {} (`{}`)", i + 1, r.label);
            if r.label.trim().is_empty() {
                return Err(format!("row {}: label is empty", i + 1));
            }
            if !r.estimate.is_finite() || (log && r.estimate <= 0.0) {
                return Err(format!(
                    "{what}: estimate must be finite{}, found {}",
                    if log { " and > 0 on a log scale" } else { "" },
                    r.estimate
                ));
            }
            if r.lower.is_nan() || r.upper.is_nan() {
                return Err(format!("{what}: confidence limits must not be NaN (lower {}, upper {})", r.lower, r.upper));
            }
            if log && r.lower < 0.0 {
                return Err(format!("{what}: lower limit {} is negative on a log scale", r.lower));
            }
            let tol = 1e-9 * r.estimate.abs().max(1.0);
            if r.lower > r.estimate + tol || r.upper < r.estimate - tol {
                return Err(format!("{what}: interval ({}, {}) does not contain the estimate {}", r.lower, r.upper, r.estimate));
            }
        }
        let r0 = self.reference();
        if !r0.is_finite() || (log && r0 <= 0.0) {
            return Err(format!("reference line at {r0} is not drawable on this scale"));
        }
        if let Some((lo, hi)) = self.x_range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) || (log && lo <= 0.0) {
                return Err(format!("x_range ({lo}, {hi}) must be finite, increasing (and > 0 on a log scale)"));
            }
        }
        Ok(())
    }

    fn default_size(&self) -> FigureSize {
        let w = mm(DOUBLE_COLUMN_MM);
        let (l, fixed) = self.layout(w, None);
        FigureSize::double_column((fixed + l.row_h * self.rows.len() as f64) / mm(1.0))
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<(), DrawError> {
        let (l, _) = self.layout(c.w, Some(c.h));
        let st = &l.st;
        let (p0, p1) = l.panel;
        if p1 - p0 < mm(30.0) {
            return Err(DrawError::Layout(format!(
                "figure too small: {:.1} mm left for the plot between the label and number columns (needs 30 mm); \
                 use a wider figure or shorter labels",
                (p1 - p0) / mm(1.0)
            )));
        }
        if l.row_h < st.tick.em * 1.2 {
            return Err(DrawError::Layout(format!(
                "figure too small: {:.1} mm per row (needs {:.1} mm)",
                l.row_h / mm(1.0),
                st.tick.em * 1.2 / mm(1.0)
            )));
        }
        let (lo, hi, ticks) = self.x_axis();
        let ex = 0.03 * (p1 - p0);
        let xs = if self.log_scale { Scale::log(lo, hi, p0 + ex, p1 - ex) } else { Scale::linear(lo, hi, p0 + ex, p1 - ex) };

        if !self.title.is_empty() {
            c.text(&self.title, st.pad, st.pad, &st.heading.align(HAlign::Left, VAlign::Top))?;
        }
        // Zebra shading of alternate rows across the whole width.
        let shade = RGBColor(0xF0, 0xF0, 0xF0);
        for i in (1..self.rows.len()).step_by(2) {
            let y0 = l.rows_top + i as f64 * l.row_h;
            c.rect(st.pad * 0.5, y0, c.w - st.pad * 0.5, y0 + l.row_h, shade, 1.0)?;
        }
        // Headers and rules.
        let grey = RGBColor(0x33, 0x33, 0x33);
        let hdr = st.tick.color(grey);
        c.text(&self.label_header, l.label_x, l.header_y, &hdr.align(HAlign::Left, VAlign::Top))?;
        c.text(&self.estimate_header, l.est_x, l.header_y, &hdr.align(HAlign::Right, VAlign::Top))?;
        c.text(&self.p_header, l.p_x, l.header_y, &hdr.align(HAlign::Right, VAlign::Top))?;
        let rule_y = l.rows_top - mm(0.6);
        c.line(&[(st.pad * 0.5, rule_y), (c.w - st.pad * 0.5, rule_y)], grey, st.axis_w)?;

        // Reference line.
        let xr = xs.map(self.reference());
        c.dashed(&[(xr, l.rows_top), (xr, l.axis_y)], RGBColor(0x66, 0x66, 0x66), st.axis_w, mm(1.2), mm(0.8))?;

        let col = OKABE_ITO[0];
        let text = st.tick;
        let arrow = mm(0.9);
        for (i, r) in self.rows.iter().enumerate() {
            let yc = l.rows_top + (i as f64 + 0.5) * l.row_h;
            c.text(&r.label, l.label_x, yc, &text.align(HAlign::Left, VAlign::Center))?;
            c.text(&fmt_estimate(r), l.est_x, yc, &text.align(HAlign::Right, VAlign::Center))?;
            c.text(&r.p_text, l.p_x, yc, &text.align(HAlign::Right, VAlign::Center))?;

            let clip_lo = r.lower < xs.lo() || (self.log_scale && r.lower <= 0.0);
            let clip_hi = r.upper > xs.hi();
            let a = if clip_lo { xs.p0 - ex * 0.6 } else { xs.map(r.lower) };
            let b = if clip_hi { xs.p1 + ex * 0.6 } else { xs.map(r.upper) };
            c.line(&[(a, yc), (b, yc)], col, st.line_w * 0.8)?;
            let cap = l.row_h * 0.18;
            for (x, clipped, dir) in [(a, clip_lo, -1.0), (b, clip_hi, 1.0)] {
                if clipped {
                    c.shape(&[(x + dir * arrow, yc), (x, yc - arrow * 0.7), (x, yc + arrow * 0.7)], Some(col), None)?;
                } else {
                    c.line(&[(x, yc - cap), (x, yc + cap)], col, st.line_w * 0.8)?;
                }
            }
            let e = r.estimate.clamp(xs.lo(), xs.hi());
            let m = Marker { shape: Shape::Square, filled: true, color: col };
            draw_marker(c, &m, (xs.map(e), yc), mm(1.0), st.axis_w)?;
        }

        let labels = if self.log_scale { format_ticks_each(&ticks) } else { format_ticks(&ticks) };
        let labels: Vec<String> = labels.into_iter().map(|s| s.replace('-', "−")).collect();
        axis::draw_x_axis(c, st, &xs, l.axis_y, (p0, p1), &ticks, &labels)?;
        axis::draw_x_title(c, st, &self.x_label, (p0, p1), l.axis_y + st.x_ticks_height() + mm(1.8))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_text() {
        let r = ForestRow { label: "x".into(), estimate: 1.916, lower: 1.4, upper: 2.634, p_text: String::new() };
        assert_eq!(fmt_estimate(&r), "1.92 (1.40–2.63)");
        let r = ForestRow { label: "x".into(), estimate: 12.0, lower: 0.5, upper: f64::INFINITY, p_text: String::new() };
        assert_eq!(fmt_estimate(&r), "12.0 (0.50–∞)");
        let r = ForestRow { label: "x".into(), estimate: -0.52, lower: -0.9, upper: -0.14, p_text: String::new() };
        assert_eq!(fmt_estimate(&r), "−0.52 (−0.90 to −0.14)");
    }
}
