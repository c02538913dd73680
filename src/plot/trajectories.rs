//! Laboratory trajectories around HLH onset: one panel per analyte with the
//! median (line and points) and the interquartile range (ribbon) by day,
//! optionally on a log y scale; several series (groups) per panel share
//! colours and one legend.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{self, format_ticks, format_ticks_each, log_range, nice_range, Scale, Style};
use super::canvas::{mm, Canvas, HAlign, VAlign};
use super::legend::{Entry, Legend, Swatch};
use super::{render, series_color, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult, DOUBLE_COLUMN_MM};

/// Summary of one analyte in one group, by day.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrajectorySeries {
    /// Group label (legend); series with the same label share a colour.
    pub label: String,
    /// Days relative to onset: finite, strictly increasing.
    pub days: Vec<f64>,
    /// Median per day; a non-finite value means "no data" (gap).
    pub median: Vec<f64>,
    /// First quartile per day (non-finite: no ribbon there).
    pub q1: Vec<f64>,
    /// Third quartile per day (non-finite: no ribbon there).
    pub q3: Vec<f64>,
}

/// One analyte panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrajectoryPanel {
    /// Panel heading, e.g. "Ferritin".
    pub title: String,
    /// y-axis title with unit, e.g. "µg/L".
    pub y_label: String,
    /// Log10 y axis (e.g. ferritin); all finite values must then be > 0.
    pub log_y: bool,
    /// Series drawn in this panel.
    pub series: Vec<TrajectorySeries>,
}

/// Input of [`write_trajectory_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrajectoryPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title shared by all panels, e.g. "Days relative to HLH onset".
    pub x_label: String,
    /// Panels, laid out row by row in two columns (one if there is one panel).
    pub panels: Vec<TrajectoryPanel>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for lab trajectories (default
/// size: 180 mm wide, 55 mm per row of two panels).
pub fn write_trajectory_plot(plot: &TrajectoryPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

impl TrajectoryPlot {
    fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.panels {
            for s in &p.series {
                if !out.contains(&s.label) {
                    out.push(s.label.clone());
                }
            }
        }
        out
    }

    fn color_of(&self, label: &str) -> RGBColor {
        series_color(self.labels().iter().position(|l| l == label).unwrap_or(0))
    }

    fn legend(&self, st: &Style) -> Legend {
        let labels = self.labels();
        let entries = if labels.len() > 1 {
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| Entry { swatch: Swatch::LineBand { color: series_color(i) }, label: l.clone() })
                .collect()
        } else {
            Vec::new()
        };
        Legend { entries, row_breaks: Vec::new(), text: st.tick, line_w: st.line_w }
    }

    fn columns(&self) -> usize {
        if self.panels.len() > 1 {
            2
        } else {
            1
        }
    }

    fn grid_rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns())
    }

    fn x_range(&self) -> (f64, f64, Vec<f64>) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in &self.panels {
            for s in &p.series {
                for &d in &s.days {
                    lo = lo.min(d);
                    hi = hi.max(d);
                }
            }
        }
        nice_range(lo, hi, 6)
    }

    /// Header height (title + legend) and the height below the grid.
    fn frame(&self, w: f64) -> (f64, f64, f64) {
        let st = Style::standard();
        let mut y = st.pad;
        if !self.title.is_empty() {
            y += st.heading.cap() + mm(3.0);
        }
        let legend_y = y;
        let lg = self.legend(&st);
        if !lg.entries.is_empty() {
            y += lg.height(w - 2.0 * st.pad) + mm(1.0);
        }
        let below = st.x_title_height() + st.pad;
        (legend_y, y, below)
    }
}

fn panel_y_axis(p: &TrajectoryPanel) -> (f64, f64, Vec<f64>) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for s in &p.series {
        for v in s.median.iter().chain(&s.q1).chain(&s.q3) {
            if v.is_finite() {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
        }
    }
    if p.log_y {
        log_range(lo, hi)
    } else {
        nice_range(lo.min(0.0), hi, 4)
    }
}

/// Runs of consecutive indices where `ok(i)` holds.
fn runs(n: usize, ok: impl Fn(usize) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=n {
        let good = i < n && ok(i);
        match (good, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    out
}

impl Figure for TrajectoryPlot {
    const KIND: &'static str = "lab trajectory plot";

    fn validate(&self) -> Result<(), String> {
        if self.panels.is_empty() {
            return Err("no panels to draw".into());
        }
        if self.x_label.trim().is_empty() {
            return Err("x_label must not be empty".into());
        }
        for (pi, p) in self.panels.iter().enumerate() {
            let pw = format!("panel {} (`{}`)", pi + 1, p.title);
            if p.title.trim().is_empty() || p.y_label.trim().is_empty() {
                return Err(format!("{pw}: title and y_label must not be empty"));
            }
            if p.series.is_empty() {
                return Err(format!("{pw}: no series"));
            }
            for (si, s) in p.series.iter().enumerate() {
                let what = format!("{pw}, series {} (`{}`)", si + 1, s.label);
                if s.label.trim().is_empty() {
                    return Err(format!("{pw}, series {}: label is empty", si + 1));
                }
                for (name, v) in [("median", &s.median), ("q1", &s.q1), ("q3", &s.q3)] {
                    if v.len() != s.days.len() {
                        return Err(format!("{what}: `{name}` has {} values but `days` has {}", v.len(), s.days.len()));
                    }
                }
                for (i, &d) in s.days.iter().enumerate() {
                    if !d.is_finite() {
                        return Err(format!("{what}: days[{i}] is not finite"));
                    }
                    if i > 0 && d <= s.days[i - 1] {
                        return Err(format!(
                            "{what}: days must be strictly increasing, but days[{i}] = {d} follows {}",
                            s.days[i - 1]
                        ));
                    }
                }
                if !s.median.iter().any(|v| v.is_finite()) {
                    return Err(format!("{what}: no finite median to draw"));
                }
                for i in 0..s.days.len() {
                    let (a, m, b) = (s.q1[i], s.median[i], s.q3[i]);
                    for (name, v) in [("q1", a), ("median", m), ("q3", b)] {
                        if p.log_y && v.is_finite() && v <= 0.0 {
                            return Err(format!("{what}: {name}[{i}] = {v} is not > 0 on a log scale"));
                        }
                    }
                    let tol = 1e-9 * m.abs().max(1.0);
                    if (a.is_finite() && b.is_finite() && a > b + tol)
                        || (m.is_finite() && a.is_finite() && a > m + tol)
                        || (m.is_finite() && b.is_finite() && m > b + tol)
                    {
                        return Err(format!("{what}: day {}: need q1 <= median <= q3, found {a}, {m}, {b}", s.days[i]));
                    }
                }
            }
        }
        Ok(())
    }

    fn default_size(&self) -> FigureSize {
        let w = mm(DOUBLE_COLUMN_MM);
        let (_, top, below) = self.frame(w);
        let h = top + below + self.grid_rows() as f64 * mm(55.0);
        FigureSize::double_column(h / mm(1.0))
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<(), DrawError> {
        let st = Style::standard();
        let (legend_y, top, below) = self.frame(c.w);
        let cols = self.columns();
        let rows = self.grid_rows();
        let cell_w = (c.w - st.pad) / cols as f64;
        let cell_h = (c.h - top - below) / rows as f64;
        if cell_h < mm(28.0) || cell_w < mm(40.0) {
            return Err(DrawError::Layout(format!(
                "figure too small: panels would be {:.1} x {:.1} mm (need at least 40 x 28 mm)",
                cell_w / mm(1.0),
                cell_h / mm(1.0)
            )));
        }
        if !self.title.is_empty() {
            c.text(&self.title, st.pad, st.pad, &st.heading.align(HAlign::Left, VAlign::Top))?;
        }
        let lg = self.legend(&st);
        if !lg.entries.is_empty() {
            lg.draw(c, (st.pad, c.w - st.pad), legend_y)?;
        }
        let (xlo, xhi, xticks) = self.x_range();
        let xlabels = format_ticks(&xticks);
        let xlabels: Vec<String> = xlabels.into_iter().map(|s| s.replace('-', "−")).collect();
        let y_axes: Vec<(f64, f64, Vec<f64>, Vec<String>)> = self
            .panels
            .iter()
            .map(|p| {
                let (ylo, yhi, yticks) = panel_y_axis(p);
                let labels = if p.log_y { format_ticks_each(&yticks) } else { format_ticks(&yticks) };
                let labels = labels.into_iter().map(|s| s.replace('-', "−")).collect();
                (ylo, yhi, yticks, labels)
            })
            .collect();
        // Panels of one column share their left edge.
        let mut col_ticks_w = vec![0.0f64; cols];
        for (pi, a) in y_axes.iter().enumerate() {
            col_ticks_w[pi % cols] = col_ticks_w[pi % cols].max(st.y_ticks_width(&a.3));
        }
        for (pi, p) in self.panels.iter().enumerate() {
            let (row, col) = (pi / cols, pi % cols);
            let cx0 = st.pad + col as f64 * cell_w;
            let cy0 = top + row as f64 * cell_h;
            let (ylo, yhi, yticks, ylabels) = y_axes[pi].clone();
            let left = cx0 + st.y_title_width() + col_ticks_w[col];
            let right = cx0 + cell_w - mm(4.0);
            let ptop = cy0 + st.title.cap() + mm(3.0);
            let pbot = cy0 + cell_h - st.x_ticks_height() - mm(3.0);
            c.text(&p.title, left, cy0, &st.title.align(HAlign::Left, VAlign::Top))?;
            let ex = 0.02 * (right - left);
            let xs = Scale::linear(xlo, xhi, left + ex, right - ex);
            let ey = 0.03 * (pbot - ptop);
            let ys =
                if p.log_y { Scale::log(ylo, yhi, pbot - ey, ptop + ey) } else { Scale::linear(ylo, yhi, pbot - ey, ptop + ey) };
            // Onset line.
            if xlo <= 0.0 && xhi >= 0.0 {
                c.dashed(&[(xs.map(0.0), ptop), (xs.map(0.0), pbot)], RGBColor(0x88, 0x88, 0x88), st.axis_w, mm(1.2), mm(0.8))?;
            }
            for s in &p.series {
                let col = self.color_of(&s.label);
                let n = s.days.len();
                for r in runs(n, |i| s.q1[i].is_finite() && s.q3[i].is_finite()) {
                    let mut poly: Vec<(f64, f64)> = r.clone().map(|i| (xs.map(s.days[i]), ys.map(s.q3[i]))).collect();
                    poly.extend(r.clone().rev().map(|i| (xs.map(s.days[i]), ys.map(s.q1[i]))));
                    if r.len() == 1 {
                        // A single day: a short vertical bar instead of a ribbon.
                        let i = r.start;
                        let x = xs.map(s.days[i]);
                        c.line(&[(x, ys.map(s.q1[i])), (x, ys.map(s.q3[i]))], col, st.line_w)?;
                    } else {
                        c.polygon(&poly, col, 0.2)?;
                    }
                }
                for r in runs(n, |i| s.median[i].is_finite()) {
                    let pts: Vec<(f64, f64)> = r.map(|i| (xs.map(s.days[i]), ys.map(s.median[i]))).collect();
                    c.line(&pts, col, st.line_w * 0.8)?;
                }
                for i in 0..n {
                    if s.median[i].is_finite() {
                        c.circle((xs.map(s.days[i]), ys.map(s.median[i])), mm(0.45), Some(col), None)?;
                    }
                }
            }
            axis::draw_y_axis(c, &st, &ys, left, (ptop, pbot), &yticks, &ylabels)?;
            axis::draw_x_axis(c, &st, &xs, pbot, (left, right), &xticks, &xlabels)?;
            let y_title_x = left - st.y_ticks_width(&ylabels) - st.y_title_width();
            axis::draw_y_title(c, &st, &p.y_label, y_title_x, (ptop, pbot))?;
        }
        let y_title = c.h - st.pad - st.title.cap() - st.title.em * 0.25;
        axis::draw_x_title(c, &st, &self.x_label, (st.pad, c.w - st.pad), y_title)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_split_at_gaps() {
        let ok = [true, true, false, true, false, false, true];
        assert_eq!(runs(ok.len(), |i| ok[i]), vec![0..2, 3..4, 6..7]);
    }
}
