//! Data-to-pixel scales, tick placement, tick-label formatting and axis
//! drawing shared by all figures.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::canvas::{mm, pt, Canvas, HAlign, TextSpec, VAlign};
use super::DrawError;

/// A 1-D map from data to pixels (linear or log10).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    d0: f64,
    d1: f64,
    /// Pixel position of `d0`.
    pub p0: f64,
    /// Pixel position of `d1`.
    pub p1: f64,
    log: bool,
}

impl Scale {
    /// Linear map of `[d0, d1]` onto `[p0, p1]` (`d0 != d1`).
    pub fn linear(d0: f64, d1: f64, p0: f64, p1: f64) -> Self {
        Self { d0, d1, p0, p1, log: false }
    }

    /// Log map of `[d0, d1]` (both > 0) onto `[p0, p1]`.
    pub fn log(d0: f64, d1: f64, p0: f64, p1: f64) -> Self {
        Self { d0: d0.ln(), d1: d1.ln(), p0, p1, log: true }
    }

    /// Pixel position of data value `v`.
    pub fn map(&self, v: f64) -> f64 {
        let v = if self.log { v.ln() } else { v };
        let span = self.d1 - self.d0;
        if span == 0.0 {
            return (self.p0 + self.p1) / 2.0;
        }
        self.p0 + (v - self.d0) / span * (self.p1 - self.p0)
    }

    /// Lower end of the data range.
    pub fn lo(&self) -> f64 {
        if self.log {
            self.d0.exp()
        } else {
            self.d0
        }
    }

    /// Upper end of the data range.
    pub fn hi(&self) -> f64 {
        if self.log {
            self.d1.exp()
        } else {
            self.d1
        }
    }

    /// Clamp `v` into the data range.
    pub fn clamp(&self, v: f64) -> f64 {
        let (a, b) = (self.lo().min(self.hi()), self.lo().max(self.hi()));
        v.clamp(a, b)
    }
}

/// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about
/// `target` intervals over `range`.
pub(crate) fn nice_step(range: f64, target: usize) -> f64 {
    let raw = (range / target.max(1) as f64).abs();
    if raw == 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Nice range covering `[lo, hi]` and its ticks: returns `(lo', hi', ticks)`.
pub(crate) fn nice_range(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>) {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
    let step = nice_step(hi - lo, target);
    let a = (lo / step + 1e-9).floor() * step;
    let b = (hi / step - 1e-9).ceil() * step;
    let n = ((b - a) / step).round() as usize;
    let ticks = (0..=n).map(|i| clean(a + i as f64 * step)).collect();
    (clean(a), clean(b), ticks)
}

/// Ticks at multiples of a nice step inside `[lo, hi]` (range not extended).
pub(crate) fn ticks_within(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step(hi - lo, target);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| clean(k as f64 * step)).collect()
}

/// Log-scale range covering `[lo, hi]` (both > 0) and its ticks at
/// 1-2-5 (or only powers of ten over wide ranges).
pub(crate) fn log_range(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo / 2.0, lo * 2.0) };
    let decades = (hi / lo).log10();
    let mults: &[f64] = if decades > 2.5 {
        &[1.0]
    } else if decades > 1.2 {
        &[1.0, 3.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let k0 = lo.log10().floor() as i32 - 1;
    let k1 = hi.log10().ceil() as i32 + 1;
    let mut cand: Vec<f64> = Vec::new();
    for k in k0..=k1 {
        for m in mults {
            cand.push(clean(m * 10f64.powi(k)));
        }
    }
    // Extend the range outward to the nearest candidate ticks.
    let a = cand.iter().copied().filter(|&v| v <= lo * (1.0 + 1e-9)).fold(f64::NAN, f64::max);
    let b = cand.iter().copied().filter(|&v| v >= hi * (1.0 - 1e-9)).fold(f64::NAN, f64::min);
    let (a, b) = (if a.is_nan() { lo } else { a }, if b.is_nan() { hi } else { b });
    let ticks = cand.into_iter().filter(|&v| v >= a * (1.0 - 1e-9) && v <= b * (1.0 + 1e-9)).collect();
    (a, b, ticks)
}

/// Round away binary noise (e.g. 0.30000000000000004 -> 0.3).
fn clean(v: f64) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let s = format!("{:.12e}", v);
    s.parse().unwrap_or(v)
}

/// Format tick values with a common, minimal number of decimals.
pub(crate) fn format_ticks(vals: &[f64]) -> Vec<String> {
    let decimals = (0..=6)
        .find(|&d| {
            let f = 10f64.powi(d);
            vals.iter().all(|v| ((v * f).round() - v * f).abs() < 1e-6 * f.max(1.0))
        })
        .unwrap_or(6) as usize;
    vals.iter().map(|v| fmt_fixed(*v, decimals)).collect()
}

/// Format each tick value with its own minimal number of decimals (for log
/// axes: 0.2, 0.5, 1, 2, 5).
pub(crate) fn format_ticks_each(vals: &[f64]) -> Vec<String> {
    vals.iter().map(|v| format_ticks(&[*v]).remove(0)).collect()
}

/// `v` with `decimals` decimals, never "-0".
pub(crate) fn fmt_fixed(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Typography and stroke sizes shared by all figures (pixels at 300 dpi).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// Tick labels, legends, tables.
    pub tick: TextSpec,
    /// Axis titles.
    pub title: TextSpec,
    /// Figure title.
    pub heading: TextSpec,
    /// Captions and footnotes.
    pub small: TextSpec,
    pub tick_len: f64,
    pub label_gap: f64,
    pub axis_w: f64,
    pub line_w: f64,
    pub pad: f64,
    pub axis_color: RGBColor,
}

impl Style {
    pub fn standard() -> Self {
        Self {
            tick: TextSpec::new(7.0),
            title: TextSpec::new(8.0),
            heading: TextSpec::new(9.0),
            small: TextSpec::new(6.5),
            tick_len: pt(3.0),
            label_gap: pt(2.5),
            axis_w: pt(0.5).round().max(1.0),
            line_w: pt(0.9).round(),
            pad: mm(2.0),
            axis_color: RGBColor(0x33, 0x33, 0x33),
        }
    }

    /// Vertical space below a horizontal axis line taken by ticks and labels.
    pub fn x_ticks_height(&self) -> f64 {
        self.tick_len + self.label_gap + self.tick.cap() + self.tick.em * 0.25
    }

    /// Vertical space taken by an x-axis title (including the gap above it).
    pub fn x_title_height(&self) -> f64 {
        mm(1.8) + self.title.cap() + self.title.em * 0.25
    }

    /// Horizontal space taken by a rotated y-axis title (and the gap after it).
    pub fn y_title_width(&self) -> f64 {
        self.title.cap() + self.title.em * 0.25 + mm(1.8)
    }

    /// Horizontal space left of a vertical axis taken by ticks and `labels`.
    pub fn y_ticks_width(&self, labels: &[String]) -> f64 {
        let w = labels.iter().map(|l| self.tick.width(l)).fold(0.0, f64::max);
        self.tick_len + self.label_gap + w
    }
}

/// Draw a horizontal axis line at pixel row `y` spanning `[x0, x1]`, with
/// ticks and centred labels at `breaks` (mapped by `scale`).
pub(crate) fn draw_x_axis<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    st: &Style,
    scale: &Scale,
    y: f64,
    (x0, x1): (f64, f64),
    breaks: &[f64],
    labels: &[String],
) -> Result<(), DrawError> {
    c.line(&[(x0, y), (x1, y)], st.axis_color, st.axis_w)?;
    let spec = st.tick.align(HAlign::Center, VAlign::Top).color(st.axis_color);
    for (b, l) in breaks.iter().zip(labels) {
        let x = scale.map(*b);
        c.line(&[(x, y), (x, y + st.tick_len)], st.axis_color, st.axis_w)?;
        c.text(l, x, y + st.tick_len + st.label_gap, &spec)?;
    }
    Ok(())
}

/// Draw a vertical axis line at pixel column `x` spanning `[y0, y1]`, with
/// ticks and right-aligned labels at `breaks` (mapped by `scale`).
pub(crate) fn draw_y_axis<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    st: &Style,
    scale: &Scale,
    x: f64,
    (y0, y1): (f64, f64),
    breaks: &[f64],
    labels: &[String],
) -> Result<(), DrawError> {
    c.line(&[(x, y0), (x, y1)], st.axis_color, st.axis_w)?;
    let spec = st.tick.align(HAlign::Right, VAlign::Center).color(st.axis_color);
    for (b, l) in breaks.iter().zip(labels) {
        let y = scale.map(*b);
        c.line(&[(x - st.tick_len, y), (x, y)], st.axis_color, st.axis_w)?;
        c.text(l, x - st.tick_len - st.label_gap, y, &spec)?;
    }
    Ok(())
}

/// Draw the x-axis title centred on `[x0, x1]` with its cap top at `y`.
pub(crate) fn draw_x_title<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    st: &Style,
    title: &str,
    (x0, x1): (f64, f64),
    y: f64,
) -> Result<(), DrawError> {
    let spec = st.title.align(HAlign::Center, VAlign::Top);
    c.text(title, (x0 + x1) / 2.0, y, &spec)
}

/// Draw a rotated y-axis title centred on `[y0, y1]`, its cap top at column `x`.
pub(crate) fn draw_y_title<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    st: &Style,
    title: &str,
    x: f64,
    (y0, y1): (f64, f64),
) -> Result<(), DrawError> {
    let spec = st.title.align(HAlign::Center, VAlign::Top).rotated();
    c.text(title, x, (y0 + y1) / 2.0, &spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ranges() {
        let (a, b, t) = nice_range(0.0, 0.93, 5);
        assert_eq!((a, b), (0.0, 1.0));
        assert_eq!(t, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(ticks_within(0.0, 36.0, 6), vec![0.0, 10.0, 20.0, 30.0]);
    }

    #[test]
    fn tick_formatting_uses_common_decimals() {
        assert_eq!(format_ticks(&[0.0, 0.5, 1.0]), vec!["0.0", "0.5", "1.0"]);
        assert_eq!(format_ticks(&[0.0, 12.0, 24.0]), vec!["0", "12", "24"]);
        assert_eq!(format_ticks(&[0.25, 1.0]), vec!["0.25", "1.00"]);
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
        assert_eq!(format_ticks_each(&[0.2, 1.0, 10.0]), vec!["0.2", "1", "10"]);
    }

    #[test]
    fn log_ranges() {
        let (a, b, t) = log_range(0.6, 3.1);
        assert_eq!((a, b), (0.5, 5.0));
        assert_eq!(t, vec![0.5, 1.0, 2.0, 5.0]);
        let (a, b, t) = log_range(150.0, 80000.0);
        assert_eq!((a, b), (100.0, 100000.0));
        assert_eq!(t, vec![100.0, 1000.0, 10000.0, 100000.0]);
        let s = Scale::log(1.0, 100.0, 0.0, 200.0);
        assert!((s.map(10.0) - 100.0).abs() < 1e-9);
    }
}
