//! A thin drawing layer over a plotters [`DrawingArea`] in pixel coordinates
//! (f64, origin top-left, 300 dpi), identical for the SVG and PNG backends.
//!
//! Text is placed by its *visual* box (cap height / baseline), correcting the
//! different vertical conventions of plotters' SVG and bitmap text paths, so
//! that the two outputs look the same.

use plotters::coord::Shift;
use plotters::element::{Circle, DashedPathElement, PathElement, Polygon, Rectangle, Text};
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, FontDesc, FontFamily, FontStyle, FontTransform, RGBAColor, RGBColor, ShapeStyle, TextStyle, WHITE};

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use super::{DrawError, FONT_BYTES, FONT_FAMILY};

/// Pixels per millimetre at 300 dpi.
pub(crate) const PX_PER_MM: f64 = super::DPI / 25.4;

/// Millimetres to pixels.
pub(crate) fn mm(v: f64) -> f64 {
    v * PX_PER_MM
}

/// Typographic points to pixels.
pub(crate) fn pt(v: f64) -> f64 {
    v * super::DPI / 72.0
}

/// DejaVu Sans metrics, in em.
const CAP_HEIGHT: f64 = 0.729;
const DESCENT: f64 = 0.236;
/// plotters' SVG backend writes `font-size = size / 1.24`.
const SVG_SIZE_PER_EM: f64 = 1.24;

/// Which backend a canvas draws on (text placement differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Svg,
    Bitmap,
}

/// Horizontal text alignment (along the text direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HAlign {
    Left,
    Center,
    Right,
}

/// Vertical text alignment (across the text direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VAlign {
    /// Top of capital letters at the anchor.
    Top,
    /// Middle of capital letters at the anchor.
    Center,
    /// Bottom of descenders at the anchor.
    Bottom,
}

/// How to draw a piece of text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextSpec {
    /// Font size in pixels per em.
    pub em: f64,
    pub color: RGBColor,
    pub h: HAlign,
    pub v: VAlign,
    /// Rotated 90 degrees counter-clockwise (reads bottom to top).
    pub rotated: bool,
}

impl TextSpec {
    /// Black text of `size_pt` points, centred both ways.
    pub fn new(size_pt: f64) -> Self {
        Self { em: pt(size_pt), color: RGBColor(0, 0, 0), h: HAlign::Center, v: VAlign::Center, rotated: false }
    }
    pub fn align(mut self, h: HAlign, v: VAlign) -> Self {
        self.h = h;
        self.v = v;
        self
    }
    pub fn color(mut self, c: RGBColor) -> Self {
        self.color = c;
        self
    }
    pub fn rotated(mut self) -> Self {
        self.rotated = true;
        self
    }
    /// Width of `s` in pixels when drawn with this spec.
    pub fn width(&self, s: &str) -> f64 {
        text_width(s, self.em)
    }
    /// Cap height in pixels.
    pub fn cap(&self) -> f64 {
        self.em * CAP_HEIGHT
    }
    /// A comfortable line height in pixels.
    pub fn line_height(&self) -> f64 {
        self.em * 1.35
    }
}

/// The bundled font, parsed once.
pub(crate) fn font() -> Result<&'static FontRef<'static>, String> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| "the bundled DejaVu Sans font could not be parsed".to_string())
}

/// ab_glyph scale giving `em` pixels per em.
fn px_scale(f: &FontRef<'static>, em: f64) -> PxScale {
    let upem = f.units_per_em().unwrap_or(2048.0);
    PxScale::from((em * f64::from(f.height_unscaled()) / f64::from(upem)) as f32)
}

/// Width in pixels of `s` set in the bundled font at `em` pixels per em
/// (advances plus kerning).
pub(crate) fn text_width(s: &str, em: f64) -> f64 {
    let Ok(f) = font() else {
        return em * 0.6 * s.chars().count() as f64;
    };
    let sf = f.as_scaled(px_scale(f, em));
    let mut w = 0.0f32;
    let mut prev = None;
    for c in s.chars() {
        let g = f.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, g);
        }
        w += sf.h_advance(g);
        prev = Some(g);
    }
    f64::from(w)
}

/// Grow (`d > 0`) or shrink (`d < 0`) a convex polygon by moving every
/// edge `d` pixels outwards (mitred corners).
pub(crate) fn offset_convex(pts: &[(f64, f64)], d: f64) -> Vec<(f64, f64)> {
    let n = pts.len();
    if n < 3 {
        return pts.to_vec();
    }
    // With the shoelace sum > 0 (clockwise on a y-down screen) the outward
    // normal of edge a -> b is (dy, -dx); otherwise its negation.
    let area: f64 = (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum();
    let sign = if area > 0.0 { 1.0 } else { -1.0 };
    let normal = |a: (f64, f64), b: (f64, f64)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-12);
        (sign * dy / len, -sign * dx / len)
    };
    (0..n)
        .map(|i| {
            let prev = pts[(i + n - 1) % n];
            let cur = pts[i];
            let next = pts[(i + 1) % n];
            let n1 = normal(prev, cur);
            let n2 = normal(cur, next);
            let k = 1.0 + n1.0 * n2.0 + n1.1 * n2.1;
            if k.abs() < 1e-9 {
                return (cur.0 + d * n1.0, cur.1 + d * n1.1);
            }
            (cur.0 + d * (n1.0 + n2.0) / k, cur.1 + d * (n1.1 + n2.1) / k)
        })
        .collect()
}

/// Drawing helpers on a pixel canvas.
pub(crate) struct Canvas<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    backend: Backend,
    /// Width in pixels.
    pub w: f64,
    /// Height in pixels.
    pub h: f64,
}

fn p(v: (f64, f64)) -> (i32, i32) {
    (v.0.round() as i32, v.1.round() as i32)
}

/// A line style of `width` pixels (at least one).
fn stroke(color: RGBAColor, width: f64) -> ShapeStyle {
    ShapeStyle { color, filled: false, stroke_width: width.round().max(1.0) as u32 }
}

fn be<E: std::fmt::Display>(e: E) -> DrawError {
    DrawError::Backend(e.to_string())
}

impl<'a, DB: DrawingBackend> Canvas<'a, DB> {
    pub fn new(area: &'a DrawingArea<DB, Shift>, backend: Backend) -> Self {
        let (w, h) = area.dim_in_pixel();
        Self { area, backend, w: f64::from(w), h: f64::from(h) }
    }

    /// Fill the whole canvas white.
    pub fn background(&self) -> Result<(), DrawError> {
        self.area.fill(&WHITE).map_err(be)
    }

    /// A polyline of `width` pixels.
    pub fn line(&self, pts: &[(f64, f64)], color: RGBColor, width: f64) -> Result<(), DrawError> {
        self.line_alpha(pts, color, 1.0, width)
    }

    /// A polyline with opacity `alpha`.
    pub fn line_alpha(&self, pts: &[(f64, f64)], color: RGBColor, alpha: f64, width: f64) -> Result<(), DrawError> {
        let mut v: Vec<(i32, i32)> = Vec::with_capacity(pts.len());
        for &q in pts {
            let q = p(q);
            if v.last() != Some(&q) {
                v.push(q);
            }
        }
        if v.len() < 2 {
            return Ok(());
        }
        self.area.draw(&PathElement::new(v, stroke(color.mix(alpha), width))).map_err(be)
    }

    /// A dashed polyline: `dash` pixels drawn, `gap` pixels skipped, the pattern running on
    /// across corners (plotters' [`DashedPathElement`]: each dash is one stroke of `width`
    /// pixels, joined at corners, on both backends). plotters measures dash and gap in whole
    /// pixels, so both are rounded (at 300 dpi a pixel is 0.085 mm); a dash is at least one
    /// pixel, and a gap under half a pixel draws a solid line.
    pub fn dashed(&self, pts: &[(f64, f64)], color: RGBColor, width: f64, dash: f64, gap: f64) -> Result<(), DrawError> {
        let (dash, gap) = (dash.round().max(1.0) as i32, gap.round() as i32);
        if gap < 1 {
            return self.line(pts, color, width);
        }
        let v: Vec<(i32, i32)> = pts.iter().map(|&q| p(q)).collect();
        self.area.draw(&DashedPathElement::new(v, dash, gap, stroke(color.to_rgba(), width))).map_err(be)
    }

    /// A filled polygon with opacity `alpha`.
    pub fn polygon(&self, pts: &[(f64, f64)], color: RGBColor, alpha: f64) -> Result<(), DrawError> {
        if pts.len() < 3 {
            return Ok(());
        }
        let v: Vec<(i32, i32)> = pts.iter().map(|&q| p(q)).collect();
        self.area.draw(&Polygon::new(v, color.mix(alpha).filled())).map_err(be)
    }

    /// A filled axis-aligned rectangle.
    pub fn rect(&self, x0: f64, y0: f64, x1: f64, y1: f64, color: RGBColor, alpha: f64) -> Result<(), DrawError> {
        let (a, b) = (p((x0.min(x1), y0.min(y1))), p((x0.max(x1), y0.max(y1))));
        if a.0 == b.0 || a.1 == b.1 {
            return Ok(());
        }
        self.area.draw(&Rectangle::new([a, b], color.mix(alpha).filled())).map_err(be)
    }

    /// A circle, optionally filled and/or stroked. A stroke is drawn as a
    /// filled disc under a smaller filled disc (crisp in both backends).
    pub fn circle(
        &self,
        c: (f64, f64),
        r: f64,
        fill: Option<RGBColor>,
        stroke: Option<(RGBColor, f64)>,
    ) -> Result<(), DrawError> {
        let center = p(c);
        let disc = |radius: f64, col: RGBColor| -> Result<(), DrawError> {
            let radius = radius.round().max(1.0) as u32;
            self.area.draw(&Circle::new(center, radius, col.filled())).map_err(be)
        };
        match (fill, stroke) {
            (Some(f), Some((col, w))) => {
                disc(r + w / 2.0, col)?;
                disc(r - w / 2.0, f)
            }
            (Some(f), None) => disc(r, f),
            (None, Some((col, w))) => {
                let n = 48;
                let pts: Vec<(f64, f64)> = (0..=n + 1)
                    .map(|i| {
                        let a = i as f64 / n as f64 * std::f64::consts::TAU;
                        (c.0 + r * a.cos(), c.1 + r * a.sin())
                    })
                    .collect();
                self.line(&pts, col, w)
            }
            (None, None) => Ok(()),
        }
    }

    /// A closed convex polygon, optionally filled and/or stroked. With both,
    /// the stroke is drawn as the polygon grown by half the stroke width
    /// under the polygon shrunk by half the stroke width.
    pub fn shape(&self, pts: &[(f64, f64)], fill: Option<RGBColor>, stroke: Option<(RGBColor, f64)>) -> Result<(), DrawError> {
        match (fill, stroke) {
            (Some(f), Some((col, w))) => {
                self.polygon(&offset_convex(pts, w / 2.0), col, 1.0)?;
                self.polygon(&offset_convex(pts, -w / 2.0), f, 1.0)
            }
            (Some(f), None) => self.polygon(pts, f, 1.0),
            (None, Some((col, w))) => {
                let mut closed = pts.to_vec();
                closed.extend(pts.iter().take(2).copied());
                self.line(&closed, col, w)
            }
            (None, None) => Ok(()),
        }
    }

    /// Draw `s` anchored at `(x, y)` per `spec`; newlines start new lines
    /// (downwards, for unrotated text).
    pub fn text(&self, s: &str, x: f64, y: f64, spec: &TextSpec) -> Result<(), DrawError> {
        if s.contains('\n') && !spec.rotated {
            let lines: Vec<&str> = s.lines().collect();
            let lh = spec.line_height();
            let n = lines.len() as f64;
            // Shift the block so that the anchor semantics apply to the block.
            let y0 = match spec.v {
                VAlign::Top => y,
                VAlign::Center => y - (n - 1.0) * lh / 2.0,
                VAlign::Bottom => y - (n - 1.0) * lh,
            };
            for (i, line) in lines.iter().enumerate() {
                self.text_line(line, x, y0 + i as f64 * lh, spec)?;
            }
            return Ok(());
        }
        self.text_line(s, x, y, spec)
    }

    fn text_line(&self, s: &str, x: f64, y: f64, spec: &TextSpec) -> Result<(), DrawError> {
        if s.is_empty() {
            return Ok(());
        }
        let em = spec.em;
        // Offset from the anchor to the baseline, across the text direction.
        let to_base = match spec.v {
            VAlign::Top => CAP_HEIGHT * em,
            VAlign::Center => CAP_HEIGHT * em / 2.0,
            VAlign::Bottom => -DESCENT * em,
        };
        match self.backend {
            Backend::Svg => self.svg_text(s, x, y, to_base, spec),
            Backend::Bitmap => self.raster_text(s, x, y, to_base, spec),
        }
    }

    /// SVG: a `<text>` element; the viewer lays out the glyphs.
    fn svg_text(&self, s: &str, x: f64, y: f64, to_base: f64, spec: &TextSpec) -> Result<(), DrawError> {
        let em = spec.em;
        // plotters writes VPos::Top as dy="0.76em" (baseline 0.76 em below).
        let across = to_base - 0.76 * em;
        let pos = if spec.rotated { (x + across, y) } else { (x, y + across) };
        let hpos = match spec.h {
            HAlign::Left => HPos::Left,
            HAlign::Center => HPos::Center,
            HAlign::Right => HPos::Right,
        };
        let mut desc = FontDesc::new(FontFamily::Name(FONT_FAMILY), em * SVG_SIZE_PER_EM, FontStyle::Normal);
        if spec.rotated {
            desc = desc.transform(FontTransform::Rotate270);
        }
        let style = TextStyle::from(desc).color(&spec.color).pos(Pos::new(hpos, VPos::Top));
        self.area.draw(&Text::new(s.to_string(), p(pos), style)).map_err(be)
    }

    /// Bitmap: rasterise the glyphs with ab_glyph (anti-aliased, kerned,
    /// sub-pixel positioned) and blend them pixel by pixel.
    fn raster_text(&self, s: &str, x: f64, y: f64, to_base: f64, spec: &TextSpec) -> Result<(), DrawError> {
        let f = font().map_err(DrawError::Backend)?;
        let scale = px_scale(f, spec.em);
        let sf = f.as_scaled(scale);
        let width = text_width(s, spec.em);
        let along = match spec.h {
            HAlign::Left => 0.0,
            HAlign::Center => -width / 2.0,
            HAlign::Right => -width,
        };
        // Baseline origin on screen. Rotated text runs upwards (-y).
        let (ox, oy) = if spec.rotated { (x + to_base, y - along) } else { (x + along, y + to_base) };
        let (ix, iy) = (ox.floor(), oy.floor());
        let (fx, fy) = (ox - ix, oy - iy);
        // Text-space start so that screen = (ix + tx, iy + ty), or for rotated
        // text screen = (ix + ty, iy - tx).
        let (tx0, ty0) = if spec.rotated { (-fy, fx) } else { (fx, fy) };
        let (ix, iy) = (ix as i32, iy as i32);
        let mut pen = tx0 as f32;
        let mut prev = None;
        let mut err: Option<String> = None;
        for c in s.chars() {
            let g = f.glyph_id(c);
            if let Some(pg) = prev {
                pen += sf.kern(pg, g);
            }
            prev = Some(g);
            let glyph = g.with_scale_and_position(scale, point(pen, ty0 as f32));
            pen += sf.h_advance(g);
            let Some(og) = f.outline_glyph(glyph) else {
                continue;
            };
            let b = og.px_bounds();
            let (bx, by) = (b.min.x as i32, b.min.y as i32);
            og.draw(|gx, gy, cov| {
                if err.is_some() || cov <= 0.0 {
                    return;
                }
                let (tx, ty) = (bx + gx as i32, by + gy as i32);
                let q = if spec.rotated { (ix + ty, iy - tx) } else { (ix + tx, iy + ty) };
                if let Err(e) = self.area.draw_pixel(q, &spec.color.mix(f64::from(cov.min(1.0)))) {
                    err = Some(e.to_string());
                }
            });
        }
        match err {
            Some(e) => Err(DrawError::Backend(e)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{offset_convex, Backend, Canvas};
    use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
    use plotters::style::RGBColor;

    const INK: RGBColor = RGBColor(0x11, 0x22, 0x33);

    /// The `points` of every `<polyline>` of an SVG holding one dashed polyline.
    fn svg_dashes(pts: &[(f64, f64)], width: f64, dash: f64, gap: f64) -> (String, Vec<String>) {
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (60, 30)).into_drawing_area();
            Canvas::new(&area, Backend::Svg).dashed(pts, INK, width, dash, gap).unwrap();
            area.present().unwrap();
        }
        let points = svg
            .lines()
            .filter(|l| l.starts_with("<polyline"))
            .filter_map(|l| l.split("points=\"").nth(1)?.split('"').next().map(|p| p.trim().to_string()))
            .collect();
        (svg, points)
    }

    #[test]
    fn dashes_in_pixels_on_svg() {
        let (svg, dashes) = svg_dashes(&[(0.0, 10.0), (40.0, 10.0)], 3.0, 10.0, 5.0);
        assert_eq!(dashes, ["0,10 10,10", "15,10 25,10", "30,10 40,10"]);
        assert_eq!(svg.matches("stroke-width=\"3\"").count(), 3, "{svg}");
        assert_eq!(svg.matches("stroke=\"#112233\"").count(), 3, "{svg}");
        // The pattern runs on around a corner; a dash over the corner is one joined stroke.
        let (_, dashes) = svg_dashes(&[(0.0, 0.0), (6.0, 0.0), (6.0, 20.0)], 1.0, 10.0, 5.0);
        assert_eq!(dashes, ["0,0 6,0 6,4", "6,9 6,19"]);
        // Fractional lengths are rounded to whole pixels; no gap is a solid line.
        let (_, dashes) = svg_dashes(&[(0.0, 10.0), (40.0, 10.0)], 1.0, 9.6, 5.4);
        assert_eq!(dashes[..2], ["0,10 10,10", "15,10 25,10"]);
        let (_, dashes) = svg_dashes(&[(0.0, 10.0), (40.0, 10.0)], 1.0, 10.0, 0.2);
        assert_eq!(dashes, ["0,10 40,10"]);
    }

    #[test]
    fn dashes_in_pixels_on_png() {
        let (w, h) = (60u32, 30u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            let c = Canvas::new(&area, Backend::Bitmap);
            c.background().unwrap();
            c.dashed(&[(0.0, 10.0), (40.0, 10.0)], INK, 3.0, 10.0, 5.0).unwrap();
            area.present().unwrap();
        }
        let inked = |x: u32, y: u32| rgb[((y * w + x) * 3) as usize] == INK.0;
        for x in [2, 8, 17, 23, 32, 38] {
            assert!((9..=11).all(|y| inked(x, y)), "x = {x}: the dash is 3 px wide");
            assert!(!inked(x, 7) && !inked(x, 13), "x = {x}: and no wider");
        }
        for x in [12, 13, 27, 28, 45] {
            assert!(!inked(x, 10), "x = {x} is in a gap");
        }
    }

    #[test]
    fn offset_square_both_orientations() {
        let sq = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let grown = offset_convex(&sq, 1.0);
        assert_eq!(grown[0], (-1.0, -1.0));
        assert_eq!(grown[2], (11.0, 11.0));
        let rev: Vec<_> = sq.iter().rev().copied().collect();
        let shrunk = offset_convex(&rev, -1.0);
        assert!(shrunk.contains(&(1.0, 1.0)) && shrunk.contains(&(9.0, 9.0)));
    }
}
