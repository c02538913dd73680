//! Shared machinery of step-function figures (Kaplan–Meier and cumulative
//! incidence): input types, validation, and the layout with a
//! number-at-risk table whose numbers sit exactly under the x-axis ticks.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{self, format_ticks, Scale, Style};
use super::canvas::{mm, Canvas, HAlign, VAlign};
use super::legend::Legend;
use super::{DrawError, FigureSize, SINGLE_COLUMN_MM};

/// A right-continuous step function with optional pointwise confidence
/// limits and censoring marks.
///
/// The curve starts at `(0, start)` (1 for survival, 0 for cumulative
/// incidence) and takes the value `values[i]` on `[times[i], times[i+1])`;
/// it ends at the later of the last time and the last censoring time.
/// Parts beyond the figure's `x_max` are not drawn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepCurve {
    /// Group label, shown in the legend (and matched to risk-table rows).
    pub label: String,
    /// Jump times: finite, >= 0, strictly increasing.
    pub times: Vec<f64>,
    /// Value just after each time (same length as `times`).
    pub values: Vec<f64>,
    /// Lower confidence limits (same length as `times`); a non-finite entry
    /// means "not available" and leaves a gap in the band.
    pub lower: Option<Vec<f64>>,
    /// Upper confidence limits, as `lower`. Give both or neither.
    pub upper: Option<Vec<f64>>,
    /// Censoring times, drawn as `+` on the curve (finite, >= 0).
    pub censor_times: Vec<f64>,
}

/// Numbers at risk printed under the x axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskTable {
    /// Times at which the numbers are given; must equal the figure's
    /// `x_breaks` (so each number sits under its tick).
    pub times: Vec<f64>,
    /// One row per group: label (coloured like the curve of the same label,
    /// or like the curve of the same position) and the number at risk at each
    /// time.
    pub rows: Vec<(String, Vec<u64>)>,
}

/// One drawn curve.
pub(crate) struct Series<'a> {
    pub curve: &'a StepCurve,
    pub color: RGBColor,
    pub dashed: bool,
}

/// Corner of the panel for the annotation text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// Everything needed to draw a KM or CIF figure.
pub(crate) struct StepFigure<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series<'a>>,
    /// Value of every curve at time 0.
    pub start: f64,
    pub y_range: (f64, f64),
    pub y_breaks: Vec<f64>,
    pub x_max: f64,
    pub x_breaks: &'a [f64],
    pub risk_table: Option<&'a RiskTable>,
    /// Annotation text (may contain newlines).
    pub annotation: Option<&'a str>,
    /// Preferred annotation corners, best first; the first one not crossed
    /// by a curve is used.
    pub corners: &'static [Corner],
    /// Dashed guide lines `(time, level)`: horizontal from x = 0 to `time`
    /// at `level`, then vertical down to the x axis.
    pub guides: Vec<(f64, f64)>,
    pub legend: Legend,
}

// ---------------------------------------------------------------- validation

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Check one curve; `what` names it in messages (e.g. "curve 2 (`Arm B`)").
pub(crate) fn validate_curve(c: &StepCurve, what: &str, y_lo: f64, y_hi: f64) -> Result<(), String> {
    if c.label.trim().is_empty() {
        return Err(format!("{what}: label is empty"));
    }
    if c.values.len() != c.times.len() {
        return Err(format!("{what}: `times` has {} values but `values` has {}", c.times.len(), c.values.len()));
    }
    if c.times.is_empty() && c.censor_times.is_empty() {
        return Err(format!("{what}: no times and no censoring times (nothing to draw)"));
    }
    for (i, &t) in c.times.iter().enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(format!("{what}: times[{i}] must be finite and >= 0, found {t}"));
        }
        if i > 0 && t <= c.times[i - 1] {
            return Err(format!("{what}: times must be strictly increasing, but times[{i}] = {t} follows {}", c.times[i - 1]));
        }
    }
    for (i, &v) in c.values.iter().enumerate() {
        if !v.is_finite() || v < y_lo - 1e-9 || v > y_hi + 1e-9 {
            return Err(format!("{what}: values[{i}] must be finite and within [{y_lo}, {y_hi}], found {v}"));
        }
    }
    match (&c.lower, &c.upper) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(format!("{what}: give both `lower` and `upper` confidence limits, or neither"));
        }
        (Some(lo), Some(up)) => {
            for (name, v) in [("lower", lo), ("upper", up)] {
                if v.len() != c.times.len() {
                    return Err(format!("{what}: `{name}` has {} values but `times` has {}", v.len(), c.times.len()));
                }
            }
            for (i, (&l, &u)) in lo.iter().zip(up).enumerate() {
                if l.is_finite() && u.is_finite() && l > u + 1e-9 {
                    return Err(format!("{what}: lower[{i}] = {l} exceeds upper[{i}] = {u}"));
                }
            }
        }
    }
    for (i, &t) in c.censor_times.iter().enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(format!("{what}: censor_times[{i}] must be finite and >= 0, found {t}"));
        }
    }
    Ok(())
}

/// Check the x axis: `x_max > 0`, breaks strictly increasing within `[0, x_max]`.
pub(crate) fn validate_x_axis(x_max: f64, x_breaks: &[f64]) -> Result<(), String> {
    if !x_max.is_finite() || x_max <= 0.0 {
        return Err(format!("x_max must be finite and > 0, found {x_max}"));
    }
    if x_breaks.is_empty() {
        return Err("x_breaks is empty".into());
    }
    for (i, &b) in x_breaks.iter().enumerate() {
        if !b.is_finite() || b < 0.0 || b > x_max * (1.0 + 1e-9) {
            return Err(format!("x_breaks[{i}] = {b} is outside [0, x_max = {x_max}]"));
        }
        if i > 0 && b <= x_breaks[i - 1] {
            return Err(format!("x_breaks must be strictly increasing, but x_breaks[{i}] = {b} follows {}", x_breaks[i - 1]));
        }
    }
    Ok(())
}

/// Check that the risk table matches the x breaks.
pub(crate) fn validate_risk_table(rt: &RiskTable, x_breaks: &[f64]) -> Result<(), String> {
    if rt.times.len() != x_breaks.len() || !rt.times.iter().zip(x_breaks).all(|(a, b)| close(*a, *b)) {
        return Err(format!(
            "risk_table.times {:?} must equal x_breaks {:?} (each number is printed under its tick)",
            rt.times, x_breaks
        ));
    }
    if rt.rows.is_empty() {
        return Err("risk_table has no rows".into());
    }
    for (k, (label, n)) in rt.rows.iter().enumerate() {
        if label.trim().is_empty() {
            return Err(format!("risk_table row {}: label is empty", k + 1));
        }
        if n.len() != rt.times.len() {
            return Err(format!("risk_table row {} (`{label}`): {} numbers for {} times", k + 1, n.len(), rt.times.len()));
        }
    }
    Ok(())
}

// -------------------------------------------------------------------- layout

struct Layout {
    st: Style,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    title_y: f64,
    legend_y: f64,
    table_label_right: f64,
    table_top: f64,
    row_h: f64,
    y_tick_labels: Vec<String>,
    x_tick_labels: Vec<String>,
    /// Width of the widest text centred on each x break (tick label or count).
    col_w: Vec<f64>,
}

impl<'a> StepFigure<'a> {
    fn has_legend(&self) -> bool {
        !self.legend.entries.is_empty()
    }

    fn row_colors(&self) -> Vec<RGBColor> {
        let Some(rt) = self.risk_table else {
            return Vec::new();
        };
        rt.rows
            .iter()
            .enumerate()
            .map(|(k, (label, _))| {
                let solid = self.series.iter().filter(|s| !s.dashed).collect::<Vec<_>>();
                if let Some(s) = solid.iter().find(|s| &s.curve.label == label) {
                    s.color
                } else if solid.len() == rt.rows.len() {
                    solid[k].color
                } else {
                    RGBColor(0, 0, 0)
                }
            })
            .collect()
    }

    /// Horizontal layout and the heights not taken by the panel.
    fn layout(&self, w: f64, h: Option<f64>) -> (Layout, f64) {
        let st = Style::standard();
        let y_tick_labels = format_ticks(&self.y_breaks);
        let x_tick_labels = format_ticks(self.x_breaks);
        let tick = st.tick;

        // Half widths of whatever is centred on the first / last x break.
        let col_w = |j: usize| -> f64 {
            let mut m = tick.width(&x_tick_labels[j]);
            if let Some(rt) = self.risk_table {
                for (_, n) in &rt.rows {
                    m = m.max(tick.width(&n[j].to_string()));
                }
            }
            m
        };
        let col_w: Vec<f64> = (0..self.x_breaks.len()).map(col_w).collect();
        let first_half = col_w[0] / 2.0;
        let last_half = col_w[col_w.len() - 1] / 2.0;

        let left_axis = st.pad + st.y_title_width() + st.y_ticks_width(&y_tick_labels);
        let label_w = self.risk_table.map(|rt| rt.rows.iter().map(|(l, _)| tick.width(l)).fold(0.0, f64::max)).unwrap_or(0.0);
        let left_table = st.pad + label_w + mm(2.0) + first_half;
        let left = left_axis.max(left_table);
        let right = w - (st.pad.max(last_half + mm(1.0)));
        // x = 0 and x = x_max sit 2% inside the panel; the first/last labels
        // are centred there, so the margins above are conservative.

        let mut y = st.pad;
        let title_y = y;
        if !self.title.is_empty() {
            y += st.heading.cap() + mm(2.5);
        }
        let legend_y = y;
        if self.has_legend() {
            y += self.legend.height(right - left) + mm(1.0);
        }
        // Room for the half height of the top y tick label.
        let top = y + tick.cap();

        let row_h = tick.em * 1.5;
        let mut below = st.x_ticks_height() + st.x_title_height();
        let mut table_h = 0.0;
        if let Some(rt) = self.risk_table {
            table_h = mm(3.0) + tick.cap() + mm(1.2) + rt.rows.len() as f64 * row_h;
        }
        below += table_h + st.pad;
        let fixed = top + below;
        let h = h.unwrap_or(fixed + mm(55.0));
        let bottom = h - below;
        let table_top = bottom + st.x_ticks_height() + st.x_title_height() + mm(3.0);
        let table_label_right = left - mm(2.0) - first_half;
        (
            Layout {
                st,
                left,
                right,
                top,
                bottom,
                title_y,
                legend_y,
                table_label_right,
                table_top,
                row_h,
                y_tick_labels,
                x_tick_labels,
                col_w,
            },
            fixed,
        )
    }

    /// Default size: one journal column wide, 55 mm of panel height.
    pub fn default_size(&self) -> FigureSize {
        let w = mm(SINGLE_COLUMN_MM);
        let (_, fixed) = self.layout(w, None);
        FigureSize::single_column((fixed + mm(55.0)) / mm(1.0))
    }

    /// Pixel scales of the panel.
    fn scales(&self, l: &Layout) -> (Scale, Scale) {
        let ex = 0.02 * (l.right - l.left);
        let ey = 0.03 * (l.bottom - l.top);
        let xs = Scale::linear(0.0, self.x_max, l.left + ex, l.right - ex);
        let ys = Scale::linear(self.y_range.0, self.y_range.1, l.bottom - ey, l.top + ey);
        (xs, ys)
    }

    pub fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<(), DrawError> {
        let (l, _) = self.layout(c.w, Some(c.h));
        if l.bottom - l.top < mm(15.0) || l.right - l.left < mm(25.0) {
            return Err(DrawError::Layout(format!(
                "figure too small: the plotting panel would be {:.1} x {:.1} mm (needs at least 25 x 15 mm)",
                (l.right - l.left) / mm(1.0),
                (l.bottom - l.top) / mm(1.0)
            )));
        }
        let st = &l.st;
        let (xs, ys) = self.scales(&l);
        // Tick labels and numbers at risk must not run into each other.
        for j in 1..self.x_breaks.len() {
            let room = xs.map(self.x_breaks[j]) - xs.map(self.x_breaks[j - 1]);
            let need = (l.col_w[j - 1] + l.col_w[j]) / 2.0 + mm(0.8);
            if room < need {
                return Err(DrawError::Layout(format!(
                    "x_breaks {} and {} are too close for their labels{} at this width \
                     ({:.1} mm apart, {:.1} mm needed); use fewer breaks or a wider figure",
                    self.x_breaks[j - 1],
                    self.x_breaks[j],
                    if self.risk_table.is_some() { " and numbers at risk" } else { "" },
                    room / mm(1.0),
                    need / mm(1.0)
                )));
            }
        }

        if !self.title.is_empty() {
            let spec = st.heading.align(HAlign::Left, VAlign::Top);
            c.text(self.title, st.pad, l.title_y, &spec)?;
        }
        if self.has_legend() {
            self.legend.draw(c, (l.left, l.right), l.legend_y)?;
        }

        // Confidence bands.
        for s in &self.series {
            if let (Some(lo), Some(up)) = (&s.curve.lower, &s.curve.upper) {
                for poly in band_polygons(s.curve, lo, up, self.x_max, &xs, &ys) {
                    c.polygon(&poly, s.color, 0.18)?;
                }
            }
        }

        // Guides (median lines).
        let grey = RGBColor(0x66, 0x66, 0x66);
        let mut obstacles: Vec<[(f64, f64); 2]> = Vec::new();
        for &(t, level) in &self.guides {
            if t > self.x_max {
                continue;
            }
            let pts = [(xs.map(0.0), ys.map(level)), (xs.map(t), ys.map(level)), (xs.map(t), ys.map(self.y_range.0))];
            c.dashed(&pts, grey, st.axis_w, mm(1.2), mm(0.8))?;
            obstacles.push([pts[0], pts[1]]);
            obstacles.push([pts[1], pts[2]]);
        }

        // Curves and censoring marks.
        let mark = mm(0.7);
        for s in &self.series {
            let pts: Vec<(f64, f64)> =
                step_points(s.curve, self.start, self.x_max).into_iter().map(|(x, y)| (xs.map(x), ys.map(y))).collect();
            if s.dashed {
                c.dashed(&pts, s.color, st.line_w, mm(1.6), mm(1.0))?;
            } else {
                c.line(&pts, s.color, st.line_w)?;
            }
            obstacles.extend(pts.windows(2).map(|w| [w[0], w[1]]));
            // Competing-event (dashed) curves carry no marks: the same
            // censorings are already marked on the event curves.
            let marks: &[f64] = if s.dashed { &[] } else { &s.curve.censor_times };
            for &t in marks {
                if t > self.x_max {
                    continue;
                }
                let (x, y) = (xs.map(t), ys.map(value_at(s.curve, self.start, t)));
                c.line(&[(x - mark, y), (x + mark, y)], s.color, st.line_w * 0.6)?;
                c.line(&[(x, y - mark), (x, y + mark)], s.color, st.line_w * 0.6)?;
            }
        }

        // Annotation in the least crowded preferred corner.
        if let Some(text) = self.annotation.filter(|t| !t.trim().is_empty()) {
            let spec = st.tick;
            let lines: Vec<&str> = text.lines().collect();
            let bw = lines.iter().map(|s| spec.width(s)).fold(0.0, f64::max);
            let bh = spec.cap() + (lines.len() as f64 - 1.0) * spec.line_height() + 0.25 * spec.em;
            let inset = mm(2.0);
            let (x0, x1) = (l.left + inset, l.right - inset);
            let (y0, y1) = (l.top + inset * 0.5, l.bottom - inset);
            let rect_of = |corner: Corner| match corner {
                Corner::TopLeft => (x0, y0, x0 + bw, y0 + bh),
                Corner::TopRight => (x1 - bw, y0, x1, y0 + bh),
                Corner::BottomLeft => (x0, y1 - bh, x0 + bw, y1),
                Corner::BottomRight => (x1 - bw, y1 - bh, x1, y1),
            };
            let pad = mm(0.8);
            let mut best = (usize::MAX, Corner::TopLeft);
            for &corner in self.corners {
                let r = rect_of(corner);
                let r = (r.0 - pad, r.1 - pad, r.2 + pad, r.3 + pad);
                let hits = obstacles.iter().filter(|s| seg_hits_rect(s[0], s[1], r)).count();
                if hits < best.0 {
                    best = (hits, corner);
                }
                if hits == 0 {
                    break;
                }
            }
            let (ax, ay, bx, _) = rect_of(best.1);
            let right_aligned = matches!(best.1, Corner::TopRight | Corner::BottomRight);
            let (tx, h) = if right_aligned { (bx, HAlign::Right) } else { (ax, HAlign::Left) };
            c.text(text, tx, ay, &spec.align(h, VAlign::Top))?;
        }

        // Axes (on top of the bands).
        axis::draw_y_axis(c, st, &ys, l.left, (l.top, l.bottom), &self.y_breaks, &l.y_tick_labels)?;
        axis::draw_x_axis(c, st, &xs, l.bottom, (l.left, l.right), self.x_breaks, &l.x_tick_labels)?;
        let y_title_x = l.left - st.y_ticks_width(&l.y_tick_labels) - st.y_title_width();
        axis::draw_y_title(c, st, self.y_label, y_title_x, (l.top, l.bottom))?;
        let x_title_y = l.bottom + st.x_ticks_height() + mm(1.8);
        axis::draw_x_title(c, st, self.x_label, (l.left, l.right), x_title_y)?;

        // Number-at-risk table: numbers centred at the same pixel x as the ticks.
        if let Some(rt) = self.risk_table {
            let head = st.tick.align(HAlign::Left, VAlign::Top);
            c.text("Number at risk", st.pad, l.table_top, &head)?;
            let rows_top = l.table_top + st.tick.cap() + mm(1.2);
            let colors = self.row_colors();
            for (k, (label, counts)) in rt.rows.iter().enumerate() {
                let yc = rows_top + (k as f64 + 0.5) * l.row_h;
                let lab = st.tick.align(HAlign::Right, VAlign::Center).color(colors[k]);
                c.text(label, l.table_label_right, yc, &lab)?;
                let num = st.tick.align(HAlign::Center, VAlign::Center);
                for (t, n) in self.x_breaks.iter().zip(counts) {
                    c.text(&n.to_string(), xs.map(*t), yc, &num)?;
                }
            }
        }
        Ok(())
    }
}

// ----------------------------------------------------------------- geometry

/// Value of the step function at `t` (right-continuous).
pub(crate) fn value_at(c: &StepCurve, start: f64, t: f64) -> f64 {
    let k = c.times.partition_point(|&x| x <= t);
    if k == 0 {
        start
    } else {
        c.values[k - 1]
    }
}

/// End of the curve: the later of the last jump and the last censoring.
fn curve_end(c: &StepCurve) -> f64 {
    let last_t = c.times.last().copied().unwrap_or(0.0);
    c.censor_times.iter().copied().fold(last_t, f64::max)
}

/// Vertices (data coordinates) of the step path, clipped at `x_max`.
pub(crate) fn step_points(c: &StepCurve, start: f64, x_max: f64) -> Vec<(f64, f64)> {
    let end = curve_end(c).min(x_max);
    let mut pts = vec![(0.0, start)];
    let mut prev = start;
    for (&t, &v) in c.times.iter().zip(&c.values) {
        if t > x_max {
            break;
        }
        pts.push((t, prev));
        pts.push((t, v));
        prev = v;
    }
    pts.push((end, prev));
    pts
}

/// Stepped confidence-band polygons (pixel coordinates), one per run of
/// intervals where both limits are available.
fn band_polygons(c: &StepCurve, lo: &[f64], up: &[f64], x_max: f64, xs: &Scale, ys: &Scale) -> Vec<Vec<(f64, f64)>> {
    let end = curve_end(c).min(x_max);
    let mut polys = Vec::new();
    let mut run: Vec<(f64, f64, f64, f64)> = Vec::new(); // (a, b, lower, upper)
    let flush = |run: &mut Vec<(f64, f64, f64, f64)>, polys: &mut Vec<Vec<(f64, f64)>>| {
        if run.is_empty() {
            return;
        }
        let mut poly = Vec::with_capacity(run.len() * 4);
        for &(a, b, _, u) in run.iter() {
            poly.push((xs.map(a), ys.map(ys.clamp(u))));
            poly.push((xs.map(b), ys.map(ys.clamp(u))));
        }
        for &(a, b, l, _) in run.iter().rev() {
            poly.push((xs.map(b), ys.map(ys.clamp(l))));
            poly.push((xs.map(a), ys.map(ys.clamp(l))));
        }
        polys.push(poly);
        run.clear();
    };
    for i in 0..c.times.len() {
        let a = c.times[i];
        if a >= end {
            break;
        }
        let b = c.times.get(i + 1).copied().unwrap_or(end).min(end);
        if lo[i].is_finite() && up[i].is_finite() {
            run.push((a, b, lo[i], up[i]));
        } else {
            flush(&mut run, &mut polys);
        }
    }
    flush(&mut run, &mut polys);
    polys
}

/// Does the segment `a`-`b` touch the rectangle `(x0, y0, x1, y1)`?
/// (Liang–Barsky clipping.)
pub(crate) fn seg_hits_rect(a: (f64, f64), b: (f64, f64), r: (f64, f64, f64, f64)) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [(-dx, a.0 - r.0), (dx, r.2 - a.0), (-dy, a.1 - r.1), (dy, r.3 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> StepCurve {
        StepCurve {
            label: "A".into(),
            times: vec![1.0, 3.0, 5.0],
            values: vec![0.9, 0.6, 0.3],
            lower: None,
            upper: None,
            censor_times: vec![2.0, 7.0],
        }
    }

    #[test]
    fn step_path_and_values() {
        let c = curve();
        assert_eq!(value_at(&c, 1.0, 0.5), 1.0);
        assert_eq!(value_at(&c, 1.0, 1.0), 0.9);
        assert_eq!(value_at(&c, 1.0, 4.0), 0.6);
        let p = step_points(&c, 1.0, 10.0);
        assert_eq!(p, vec![(0.0, 1.0), (1.0, 1.0), (1.0, 0.9), (3.0, 0.9), (3.0, 0.6), (5.0, 0.6), (5.0, 0.3), (7.0, 0.3)]);
        let p = step_points(&c, 1.0, 4.0);
        assert_eq!(p.last(), Some(&(4.0, 0.6)));
    }

    #[test]
    fn validation_messages_name_the_field() {
        let mut c = curve();
        c.values.pop();
        let e = validate_curve(&c, "curve 1", 0.0, 1.0).unwrap_err();
        assert!(e.contains("curve 1") && e.contains("values"), "{e}");
        let mut c = curve();
        c.times[2] = 3.0;
        assert!(validate_curve(&c, "c", 0.0, 1.0).unwrap_err().contains("strictly increasing"));
        let rt = RiskTable { times: vec![0.0, 5.0], rows: vec![("A".into(), vec![10, 5])] };
        assert!(validate_risk_table(&rt, &[0.0, 5.0]).is_ok());
        assert!(validate_risk_table(&rt, &[0.0, 6.0]).is_err());
    }

    #[test]
    fn segment_rectangle_intersection() {
        let r = (0.0, 0.0, 10.0, 10.0);
        assert!(seg_hits_rect((-5.0, 5.0), (5.0, 5.0), r));
        assert!(!seg_hits_rect((-5.0, 15.0), (5.0, 15.0), r));
        assert!(seg_hits_rect((2.0, 2.0), (3.0, 3.0), r));
        assert!(!seg_hits_rect((11.0, -1.0), (20.0, 5.0), r));
    }
}
