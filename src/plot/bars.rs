//! Bar chart of proportions with confidence-interval whiskers, e.g.
//! response rates by regimen; the y axis is in percent.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::axis::{self, Scale, Style};
use super::canvas::{mm, Canvas, HAlign, TextSpec, VAlign};
use super::{render, DrawError, Figure, FigureFiles, FigureSize, FigureSpec, PlotResult, OKABE_ITO, SINGLE_COLUMN_MM};

/// One bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bar {
    /// Category label under the bar (wrapped at spaces if long).
    pub category: String,
    /// Proportion in [0, 1] (drawn as percent).
    pub estimate: f64,
    /// Lower confidence limit in [0, estimate].
    pub lower: f64,
    /// Upper confidence limit in [estimate, 1].
    pub upper: f64,
    /// Text printed above the whisker, e.g. "12/30".
    pub n_label: String,
}

/// Input of [`write_bar_plot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarPlot {
    /// Title printed above the figure (empty: none).
    pub title: String,
    /// x-axis title, e.g. "First-line regimen".
    pub x_label: String,
    /// y-axis title, e.g. "Overall response (95% CI)"; ticks are in %.
    pub y_label: String,
    /// Bars, left to right.
    pub bars: Vec<Bar>,
}

/// Write `<out_dir>/<name>.svg` and `.png` for a bar chart with CI
/// whiskers (default size: 85 x 75 mm, 180 mm wide for more than 6 bars).
pub fn write_bar_plot(plot: &BarPlot, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    render(plot, spec)
}

const Y_BREAKS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

/// Greedy word wrap of `s` into lines no wider than `max_w`.
pub(crate) fn wrap(s: &str, spec: &TextSpec, max_w: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let cand = if cur.is_empty() { word.to_string() } else { format!("{cur} {word}") };
        if !cur.is_empty() && spec.width(&cand) > max_w {
            lines.push(std::mem::replace(&mut cur, word.to_string()));
        } else {
            cur = cand;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

struct Layout {
    st: Style,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// Category labels: wrapped lines, or `None` when drawn rotated.
    wrapped: Option<Vec<Vec<String>>>,
}

impl BarPlot {
    fn layout(&self, w: f64, h: Option<f64>) -> (Layout, f64) {
        let st = Style::standard();
        let t = st.tick;
        let ylabels: Vec<String> = Y_BREAKS.iter().map(|v| format!("{}%", (v * 100.0).round())).collect();
        let left = st.pad + st.y_title_width() + st.y_ticks_width(&ylabels);
        let right = w - st.pad;
        let slot = (right - left) / self.bars.len().max(1) as f64;
        let wrapped: Vec<Vec<String>> = self.bars.iter().map(|b| wrap(&b.category, &t, slot * 0.92)).collect();
        let fits = wrapped.iter().flatten().all(|l| t.width(l) <= slot * 0.98) && wrapped.iter().all(|l| l.len() <= 3);
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f64;
        let cat_h = if fits {
            t.cap() + (lines - 1.0) * t.line_height() + t.em * 0.25
        } else {
            self.bars.iter().map(|b| t.width(&b.category)).fold(0.0, f64::max)
        };
        let mut top = st.pad;
        if !self.title.is_empty() {
            top += st.heading.cap() + mm(3.0);
        }
        // Room above the 100% tick for an n label over a full-height whisker.
        top += t.cap() + mm(1.5);
        let below = st.tick_len + st.label_gap + cat_h + st.x_title_height() + st.pad;
        let fixed = top + below;
        let h = h.unwrap_or(fixed + mm(50.0));
        (Layout { st, left, right, top, bottom: h - below, wrapped: if fits { Some(wrapped) } else { None } }, fixed)
    }
}

impl Figure for BarPlot {
    const KIND: &'static str = "bar chart";

    fn validate(&self) -> Result<(), String> {
        if self.bars.is_empty() {
            return Err("no bars to draw".into());
        }
        if self.x_label.trim().is_empty() || self.y_label.trim().is_empty() {
            return Err("axis labels (x_label, y_label) must not be empty".into());
        }
        for (i, b) in self.bars.iter().enumerate() {
            let what = format!("bar {} (`{}`)", i + 1, b.category);
            if b.category.trim().is_empty() {
                return Err(format!("bar {}: category is empty", i + 1));
            }
            for (name, v) in [("estimate", b.estimate), ("lower", b.lower), ("upper", b.upper)] {
                if !v.is_finite() || !(0.0..=1.0).contains(&v) {
                    return Err(format!("{what}: {name} must be a proportion in [0, 1], found {v}"));
                }
            }
            if b.lower > b.estimate + 1e-9 || b.upper < b.estimate - 1e-9 {
                return Err(format!("{what}: interval ({}, {}) does not contain the estimate {}", b.lower, b.upper, b.estimate));
            }
        }
        Ok(())
    }

    fn default_size(&self) -> FigureSize {
        let w_mm = if self.bars.len() > 6 { super::DOUBLE_COLUMN_MM } else { SINGLE_COLUMN_MM };
        let (_, fixed) = self.layout(mm(w_mm), None);
        FigureSize::new(w_mm, (fixed + mm(50.0)) / mm(1.0))
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<(), DrawError> {
        let (l, _) = self.layout(c.w, Some(c.h));
        let st = &l.st;
        if l.bottom - l.top < mm(15.0) {
            return Err(DrawError::Layout(format!(
                "figure too small: the plotting panel would be {:.1} mm high (needs 15 mm)",
                (l.bottom - l.top) / mm(1.0)
            )));
        }
        if !self.title.is_empty() {
            c.text(&self.title, st.pad, st.pad, &st.heading.align(HAlign::Left, VAlign::Top))?;
        }
        let ys = Scale::linear(0.0, 1.0, l.bottom, l.top);
        let n = self.bars.len() as f64;
        let slot = (l.right - l.left) / n;
        let fill = OKABE_ITO[5];
        let dark = RGBColor(0x22, 0x22, 0x22);
        let t = st.tick;
        for (i, b) in self.bars.iter().enumerate() {
            let xc = l.left + (i as f64 + 0.5) * slot;
            let half = slot * 0.32;
            c.rect(xc - half, ys.map(b.estimate), xc + half, l.bottom, fill, 1.0)?;
            // Whisker.
            let (ylo, yhi) = (ys.map(b.lower), ys.map(b.upper));
            let cap = half * 0.35;
            c.line(&[(xc, ylo), (xc, yhi)], dark, st.axis_w)?;
            c.line(&[(xc - cap, yhi), (xc + cap, yhi)], dark, st.axis_w)?;
            c.line(&[(xc - cap, ylo), (xc + cap, ylo)], dark, st.axis_w)?;
            c.text(&b.n_label, xc, yhi - mm(1.0), &t.align(HAlign::Center, VAlign::Bottom))?;
            // Category label.
            let y_lab = l.bottom + st.tick_len + st.label_gap;
            c.line(&[(xc, l.bottom), (xc, l.bottom + st.tick_len)], st.axis_color, st.axis_w)?;
            match &l.wrapped {
                Some(w) => {
                    c.text(&w[i].join("\n"), xc, y_lab, &t.align(HAlign::Center, VAlign::Top))?;
                }
                None => {
                    c.text(&b.category, xc, y_lab, &t.align(HAlign::Right, VAlign::Center).rotated())?;
                }
            }
        }
        let ylabels: Vec<String> = Y_BREAKS.iter().map(|v| format!("{}%", (v * 100.0).round())).collect();
        axis::draw_y_axis(c, st, &ys, l.left, (l.top, l.bottom), &Y_BREAKS, &ylabels)?;
        c.line(&[(l.left, l.bottom), (l.right, l.bottom)], st.axis_color, st.axis_w)?;
        let yt = l.left - st.y_ticks_width(&ylabels) - st.y_title_width();
        axis::draw_y_title(c, st, &self.y_label, yt, (l.top, l.bottom))?;
        axis::draw_x_title(c, st, &self.x_label, (l.left, l.right), c.h - st.pad - st.title.cap() - st.title.em * 0.25)?;
        Ok(())
    }
}
