//! Swimmer plot: one horizontal lane per patient (longest follow-up on
//! top), treatment segments coloured by category, event markers (response,
//! relapse, HLH onset) and the end of follow-up marked as death (filled
//! square) or alive/censored (open arrow).

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{self, format_ticks, nice_range, Scale, Style};
use super::canvas::{mm, Canvas, HAlign, TextSpec, VAlign};
use super::legend::{draw_marker, Entry, Legend, Marker, Shape, Swatch};
use super::{render, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult, DOUBLE_COLUMN_MM, OKABE_ITO};

/// Kinds of events marked on a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwimmerMarker {
    /// Complete response (filled black circle).
    CompleteResponse,
    /// Partial response (open circle).
    PartialResponse,
    /// Relapse or progression (open diamond).
    Relapse,
    /// Onset of HLH (vermillion triangle).
    HlhOnset,
}

impl SwimmerMarker {
    const ALL: [SwimmerMarker; 4] =
        [SwimmerMarker::CompleteResponse, SwimmerMarker::PartialResponse, SwimmerMarker::Relapse, SwimmerMarker::HlhOnset];

    fn marker(self) -> Marker {
        let black = RGBColor(0, 0, 0);
        match self {
            SwimmerMarker::CompleteResponse => Marker { shape: Shape::Circle, filled: true, color: black },
            SwimmerMarker::PartialResponse => Marker { shape: Shape::Circle, filled: false, color: black },
            SwimmerMarker::Relapse => Marker { shape: Shape::Diamond, filled: false, color: black },
            SwimmerMarker::HlhOnset => Marker { shape: Shape::Triangle, filled: true, color: OKABE_ITO[1] },
        }
    }

    fn label(self) -> &'static str {
        match self {
            SwimmerMarker::CompleteResponse => "Complete response",
            SwimmerMarker::PartialResponse => "Partial response",
            SwimmerMarker::Relapse => "Relapse",
            SwimmerMarker::HlhOnset => "HLH onset",
        }
    }
}

/// One patient's lane.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SwimmerLane {
    /// Patient identifier printed left of the lane.
    pub id: String,
    /// Treatment segments `(start, end, category)` with start <= end <= `end`.
    pub segments: Vec<(f64, f64, String)>,
    /// Events `(time, kind)` with time <= `end`.
    pub markers: Vec<(f64, SwimmerMarker)>,
    /// End of follow-up (death or last contact).
    pub end: f64,
    /// `true`: died at `end` (filled square); `false`: alive/censored (arrow).
    pub died: bool,
}

/// Input of [`write_swimmer_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SwimmerPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title, e.g. "Months since diagnosis".
    pub x_label: String,
    /// y-axis title, e.g. "Patient".
    pub y_label: String,
    /// All lanes (sorted by the figure: longest follow-up on top, ties by id).
    pub lanes: Vec<SwimmerLane>,
    /// Segment categories in legend order (colours follow this order);
    /// empty: order of first appearance. Every segment's category must be
    /// listed when this is given.
    pub categories: Vec<String>,
    /// At most this many lanes are drawn (the longest); `None` means 40.
    /// A caption states how many were omitted.
    pub max_lanes: Option<usize>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for a swimmer plot (default size:
/// 180 mm wide, 3.6 mm per lane).
pub fn write_swimmer_plot(plot: &SwimmerPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

/// Default cap on the number of lanes drawn.
pub const DEFAULT_MAX_LANES: usize = 40;

/// Colours for segment categories (vermillion last: it marks HLH onset).
const CATEGORY_COLORS: [RGBColor; 7] =
    [OKABE_ITO[0], OKABE_ITO[4], OKABE_ITO[2], OKABE_ITO[3], OKABE_ITO[5], OKABE_ITO[7], OKABE_ITO[1]];

impl SwimmerPlot {
    fn max_lanes(&self) -> usize {
        self.max_lanes.unwrap_or(DEFAULT_MAX_LANES)
    }

    /// Lanes to draw, top to bottom.
    fn shown(&self) -> Vec<&SwimmerLane> {
        let mut v: Vec<&SwimmerLane> = self.lanes.iter().collect();
        v.sort_by(|a, b| b.end.total_cmp(&a.end).then_with(|| a.id.cmp(&b.id)));
        v.truncate(self.max_lanes());
        v
    }

    fn categories(&self) -> Vec<String> {
        if !self.categories.is_empty() {
            return self.categories.clone();
        }
        let mut out: Vec<String> = Vec::new();
        for l in &self.lanes {
            for (_, _, c) in &l.segments {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    fn caption(&self) -> Option<String> {
        let shown = self.lanes.len().min(self.max_lanes());
        let omitted = self.lanes.len() - shown;
        (omitted > 0).then(|| {
            format!("Showing the {shown} of {} patients with the longest follow-up; {omitted} not shown.", self.lanes.len())
        })
    }

    fn legend(&self, st: &Style) -> Legend {
        let mut entries: Vec<Entry> = self
            .categories()
            .into_iter()
            .enumerate()
            .map(|(i, c)| Entry { swatch: Swatch::Box { color: CATEGORY_COLORS[i % CATEGORY_COLORS.len()] }, label: c })
            .collect();
        let row_breaks = vec![entries.len()];
        for k in SwimmerMarker::ALL {
            if self.lanes.iter().any(|l| l.markers.iter().any(|m| m.1 == k)) {
                entries.push(Entry { swatch: Swatch::Marker(k.marker()), label: k.label().into() });
            }
        }
        if self.lanes.iter().any(|l| l.died) {
            entries.push(Entry { swatch: Swatch::Marker(death_marker()), label: "Death".into() });
        }
        if self.lanes.iter().any(|l| !l.died) {
            entries.push(Entry { swatch: Swatch::Marker(alive_marker()), label: "Alive at last follow-up".into() });
        }
        Legend { entries, row_breaks, text: st.tick, line_w: st.line_w }
    }

    fn x_range(&self) -> (f64, f64, Vec<f64>) {
        let mut lo: f64 = 0.0;
        let mut hi: f64 = 0.0;
        for l in &self.lanes {
            hi = hi.max(l.end);
            lo = lo.min(l.end);
            for (a, b, _) in &l.segments {
                lo = lo.min(*a).min(*b);
            }
            for (t, _) in &l.markers {
                lo = lo.min(*t);
            }
        }
        nice_range(lo, hi, 6)
    }
}

fn death_marker() -> Marker {
    Marker { shape: Shape::Square, filled: true, color: RGBColor(0, 0, 0) }
}

fn alive_marker() -> Marker {
    Marker { shape: Shape::Arrow, filled: false, color: RGBColor(0, 0, 0) }
}

struct Layout {
    st: Style,
    id_text: TextSpec,
    left: f64,
    right: f64,
    legend_y: f64,
    top: f64,
    lane_h: f64,
    bottom: f64,
}

impl SwimmerPlot {
    fn layout(&self, w: f64, h: Option<f64>) -> (Layout, f64) {
        let st = Style::standard();
        let id_text = st.small;
        let shown = self.shown();
        let id_w = shown.iter().map(|l| id_text.width(&l.id)).fold(0.0, f64::max);
        let left = st.pad + st.y_title_width() + id_w + st.label_gap + mm(1.0);
        let right = w - st.pad - mm(2.0);
        let mut y = st.pad;
        if !self.title.is_empty() {
            y += st.heading.cap() + mm(3.0);
        }
        let legend_y = y;
        let legend = self.legend(&st);
        y += legend.height(w - 2.0 * st.pad) + mm(2.5);
        let top = y;
        let mut below = st.x_ticks_height() + st.x_title_height() + st.pad;
        if self.caption().is_some() {
            below += mm(2.0) + st.small.cap() + st.small.em * 0.25;
        }
        let fixed = top + below;
        let n = shown.len().max(1) as f64;
        let h = h.unwrap_or(fixed + n * mm(3.6) + mm(2.0));
        let bottom = h - below;
        let lane_h = ((bottom - top - mm(2.0)) / n).min(mm(8.0));
        (Layout { st, id_text, left, right, legend_y, top, lane_h, bottom }, fixed)
    }
}

impl Figure for SwimmerPlot {
    const KIND: &'static str = "swimmer plot";

    fn validate(&self) -> Result<(), String> {
        if self.lanes.is_empty() {
            return Err("no lanes to draw".into());
        }
        if self.max_lanes() == 0 {
            return Err("max_lanes must be at least 1".into());
        }
        if self.x_label.trim().is_empty() || self.y_label.trim().is_empty() {
            return Err("axis labels (x_label, y_label) must not be empty".into());
        }
        for (i, c) in self.categories.iter().enumerate() {
            if self.categories[..i].contains(c) {
                return Err(format!("categories lists `{c}` twice"));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, l) in self.lanes.iter().enumerate() {
            let what = format!("lane {} (`{}`)", i + 1, l.id);
            if l.id.trim().is_empty() {
                return Err(format!("lane {}: id is empty", i + 1));
            }
            if !ids.insert(l.id.as_str()) {
                return Err(format!("{what}: id appears more than once"));
            }
            if !l.end.is_finite() {
                return Err(format!("{what}: end must be finite, found {}", l.end));
            }
            let tol = 1e-9 * l.end.abs().max(1.0);
            for (k, (a, b, cat)) in l.segments.iter().enumerate() {
                if !a.is_finite() || !b.is_finite() || a > b {
                    return Err(format!("{what}: segment {} has start {a} and end {b} (need finite, start <= end)", k + 1));
                }
                if *b > l.end + tol {
                    return Err(format!("{what}: segment {} ends at {b}, after the end of follow-up {}", k + 1, l.end));
                }
                if cat.trim().is_empty() {
                    return Err(format!("{what}: segment {} has an empty category", k + 1));
                }
                if !self.categories.is_empty() && !self.categories.contains(cat) {
                    return Err(format!(
                        "{what}: segment {} has category `{cat}`, which is not in `categories` {:?}",
                        k + 1,
                        self.categories
                    ));
                }
            }
            for (k, (t, kind)) in l.markers.iter().enumerate() {
                if !t.is_finite() || *t > l.end + tol {
                    return Err(format!(
                        "{what}: marker {} ({kind:?}) at {t} is not finite or lies after the end of follow-up {}",
                        k + 1,
                        l.end
                    ));
                }
            }
        }
        Ok(())
    }

    fn default_size(&self) -> FigureSize {
        let w = mm(DOUBLE_COLUMN_MM);
        let (_, fixed) = self.layout(w, None);
        let n = self.shown().len() as f64;
        FigureSize::double_column((fixed + n * mm(3.6) + mm(2.0)) / mm(1.0))
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<(), DrawError> {
        let (l, _) = self.layout(c.w, Some(c.h));
        let st = &l.st;
        if l.lane_h < mm(1.5) || l.right - l.left < mm(30.0) {
            return Err(DrawError::Layout(format!(
                "figure too small: {:.2} mm per lane (needs 1.5 mm) and {:.1} mm of width (needs 30 mm); \
                 enlarge the figure or lower max_lanes",
                l.lane_h / mm(1.0),
                (l.right - l.left) / mm(1.0)
            )));
        }
        if !self.title.is_empty() {
            c.text(&self.title, st.pad, st.pad, &st.heading.align(HAlign::Left, VAlign::Top))?;
        }
        let legend = self.legend(st);
        legend.draw(c, (st.pad, c.w - st.pad), l.legend_y)?;

        let (lo, hi, ticks) = self.x_range();
        let xs = Scale::linear(lo, hi, l.left + mm(1.0), l.right);
        let cats = self.categories();
        let grey = RGBColor(0x99, 0x99, 0x99);
        let lanes_top = l.top + mm(1.0);
        let r = (l.lane_h * 0.32).min(mm(1.4));
        let marker_w = super::canvas::pt(0.7);
        for (k, lane) in self.shown().iter().enumerate() {
            let yc = lanes_top + (k as f64 + 0.5) * l.lane_h;
            let x0 = xs.map(0.0_f64.max(lo));
            let x1 = xs.map(lane.end);
            c.line(&[(x0, yc), (x1, yc)], grey, st.axis_w)?;
            let bh = l.lane_h * 0.30;
            for (a, b, cat) in &lane.segments {
                let i = cats.iter().position(|x| x == cat).unwrap_or(0);
                let col = CATEGORY_COLORS[i % CATEGORY_COLORS.len()];
                // At least one pixel wide, so that one-day courses show.
                let (xa, xb) = (xs.map(*a), xs.map(*b).max(xs.map(*a) + 2.0));
                c.rect(xa, yc - bh, xb, yc + bh, col, 1.0)?;
            }
            let end_marker = if lane.died { death_marker() } else { alive_marker() };
            let ex = x1 + r * 0.9;
            draw_marker(c, &end_marker, (ex, yc), r * 0.9, marker_w)?;
            for (t, kind) in &lane.markers {
                draw_marker(c, &kind.marker(), (xs.map(*t), yc), r, marker_w)?;
            }
            c.text(&lane.id, l.left - st.label_gap, yc, &l.id_text.align(HAlign::Right, VAlign::Center))?;
        }
        let labels = format_ticks(&ticks);
        axis::draw_x_axis(c, st, &xs, l.bottom, (l.left, l.right), &ticks, &labels)?;
        axis::draw_x_title(c, st, &self.x_label, (l.left, l.right), l.bottom + st.x_ticks_height() + mm(1.8))?;
        axis::draw_y_title(c, st, &self.y_label, st.pad, (l.top, l.bottom))?;
        if let Some(cap) = self.caption() {
            let y = l.bottom + st.x_ticks_height() + st.x_title_height() + mm(2.0);
            c.text(&cap, st.pad, y, &st.small.align(HAlign::Left, VAlign::Top).color(RGBColor(0x33, 0x33, 0x33)))?;
        }
        Ok(())
    }
}
