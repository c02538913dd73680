//! Legends (wrapped horizontal rows of swatch + label) and point markers.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;

use super::canvas::{mm, Canvas, HAlign, TextSpec, VAlign};
use super::DrawError;

/// Shapes of point markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Square,
    /// Upward triangle.
    Triangle,
    Diamond,
    /// Right-pointing arrow head.
    Arrow,
}

/// A marker: shape, whether filled, colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Marker {
    pub shape: Shape,
    pub filled: bool,
    pub color: RGBColor,
}

/// Draw `m` centred at `c` with half-size `r` pixels.
pub(crate) fn draw_marker<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    m: &Marker,
    c: (f64, f64),
    r: f64,
    stroke_w: f64,
) -> Result<(), DrawError> {
    let white = RGBColor(255, 255, 255);
    let fill = Some(if m.filled { m.color } else { white });
    let stroke = Some((m.color, stroke_w));
    let (x, y) = c;
    match m.shape {
        Shape::Circle => cv.circle(c, r, fill, stroke),
        Shape::Square => {
            let s = r * 0.9;
            cv.shape(&[(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)], fill, stroke)
        }
        Shape::Triangle => {
            let s = r * 1.15;
            cv.shape(&[(x, y - s), (x + s * 0.95, y + s * 0.7), (x - s * 0.95, y + s * 0.7)], fill, stroke)
        }
        Shape::Diamond => {
            let s = r * 1.2;
            cv.shape(&[(x, y - s), (x + s, y), (x, y + s), (x - s, y)], fill, stroke)
        }
        Shape::Arrow => {
            let s = r * 1.1;
            cv.shape(&[(x - s * 0.8, y - s), (x + s, y), (x - s * 0.8, y + s)], fill, stroke)
        }
    }
}

/// What is drawn left of a legend label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Swatch {
    /// A line segment (solid or dashed).
    Line { color: RGBColor, dashed: bool },
    /// A line over a translucent band (estimate with interval).
    LineBand { color: RGBColor },
    /// A filled box.
    Box { color: RGBColor },
    /// A point marker.
    Marker(Marker),
}

/// One legend item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub swatch: Swatch,
    pub label: String,
}

/// A legend laid out in horizontal rows that wrap at a maximum width.
#[derive(Debug, Clone)]
pub(crate) struct Legend {
    pub entries: Vec<Entry>,
    /// Indices of entries that must start a new row.
    pub row_breaks: Vec<usize>,
    pub text: TextSpec,
    pub line_w: f64,
}

impl Legend {
    fn swatch_w(&self) -> f64 {
        mm(5.0)
    }
    fn gap_inner(&self) -> f64 {
        mm(1.2)
    }
    fn gap_items(&self) -> f64 {
        mm(3.5)
    }
    fn row_h(&self) -> f64 {
        self.text.em * 1.45
    }

    fn item_w(&self, e: &Entry) -> f64 {
        self.swatch_w() + self.gap_inner() + self.text.width(&e.label)
    }

    /// Entries split into rows fitting `max_w` (each row at least one item).
    fn rows(&self, max_w: f64) -> Vec<Vec<usize>> {
        let mut rows: Vec<Vec<usize>> = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut w = 0.0;
        for (i, e) in self.entries.iter().enumerate() {
            let iw = self.item_w(e);
            let need = if cur.is_empty() { iw } else { w + self.gap_items() + iw };
            if !cur.is_empty() && (need > max_w || self.row_breaks.contains(&i)) {
                rows.push(std::mem::take(&mut cur));
                w = iw;
            } else {
                w = need;
            }
            cur.push(i);
        }
        if !cur.is_empty() {
            rows.push(cur);
        }
        rows
    }

    /// Height of the legend when wrapped at `max_w` (0 if empty).
    pub fn height(&self, max_w: f64) -> f64 {
        self.rows(max_w).len() as f64 * self.row_h()
    }

    fn row_w(&self, r: &[usize]) -> f64 {
        let items: f64 = r.iter().map(|&i| self.item_w(&self.entries[i])).sum();
        items + self.gap_items() * (r.len().saturating_sub(1)) as f64
    }

    /// Draw rows centred on `[x0, x1]` starting at `y_top`.
    pub fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>, (x0, x1): (f64, f64), y_top: f64) -> Result<(), DrawError> {
        let max_w = x1 - x0;
        let spec = self.text.align(HAlign::Left, VAlign::Center);
        for (k, r) in self.rows(max_w).iter().enumerate() {
            let yc = y_top + (k as f64 + 0.5) * self.row_h();
            let mut x = x0 + (max_w - self.row_w(r)).max(0.0) / 2.0;
            for &i in r {
                let e = &self.entries[i];
                let sw = self.swatch_w();
                match &e.swatch {
                    Swatch::Line { color, dashed } => {
                        let pts = [(x, yc), (x + sw, yc)];
                        if *dashed {
                            c.dashed(&pts, *color, self.line_w, mm(1.0), mm(0.6))?;
                        } else {
                            c.line(&pts, *color, self.line_w)?;
                        }
                    }
                    Swatch::LineBand { color } => {
                        let hh = self.text.cap() * 0.8;
                        c.rect(x, yc - hh, x + sw, yc + hh, *color, 0.2)?;
                        c.line(&[(x, yc), (x + sw, yc)], *color, self.line_w)?;
                    }
                    Swatch::Box { color } => {
                        let hh = self.text.cap() * 0.75;
                        c.rect(x + sw * 0.15, yc - hh, x + sw * 0.85, yc + hh, *color, 1.0)?;
                    }
                    Swatch::Marker(m) => {
                        draw_marker(c, m, (x + sw / 2.0, yc), self.text.cap() * 0.6, super::canvas::pt(0.7))?;
                    }
                }
                c.text(&e.label, x + sw + self.gap_inner(), yc, &spec)?;
                x += self.item_w(e) + self.gap_items();
            }
        }
        Ok(())
    }
}
