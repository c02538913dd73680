//! Publication-ready figures: every figure is written twice, as a vector
//! `NAME.svg` and as a 300-dpi `NAME.png`, from one drawing routine, so both
//! files show exactly the same layout.
//!
//! This module does not depend on [`crate::stats`]: each figure takes plain
//! input structs (see [`km::KmPlot`], [`cif::CifPlot`], [`forest::ForestPlot`],
//! [`bars::BarPlot`], [`swimmer::SwimmerPlot`],
//! [`trajectories::TrajectoryPlot`]); callers convert estimator results.
//!
//! Conventions shared by all figures:
//! - sizes are physical ([`FigureSize`], millimetres); the PNG has
//!   `round(mm / 25.4 * 300)` pixels per side and a `pHYs` chunk saying
//!   300 dpi; the SVG uses the same pixel grid as its `viewBox` and declares
//!   its physical size in millimetres;
//! - the font is the bundled DejaVu Sans (no system fonts are consulted);
//! - colours follow the colour-blind-safe Okabe–Ito palette ([`OKABE_ITO`]);
//! - bad input is a [`PlotError`] naming the figure and the problem, never a
//!   panic.

mod axis;
mod canvas;
mod legend;
mod raster;
mod step;

pub mod bars;
pub mod cif;
pub mod forest;
pub mod km;
pub mod swimmer;
pub mod trajectories;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use plotters::style::{FontStyle, RGBColor};

pub use bars::{write_bar_plot, Bar, BarPlot};
pub use cif::{write_cif_plot, CifPlot};
pub use forest::{write_forest_plot, ForestPlot, ForestRow};
pub use km::{write_km_plot, KmPlot};
pub use step::{RiskTable, StepCurve};
pub use swimmer::{write_swimmer_plot, SwimmerLane, SwimmerMarker, SwimmerPlot};
pub use trajectories::{write_trajectory_plot, TrajectoryPanel, TrajectoryPlot, TrajectorySeries};

use canvas::{Backend, Canvas};

/// Resolution of the PNG output, dots per inch.
pub const DPI: f64 = 300.0;

/// Width of a single journal column in millimetres.
pub const SINGLE_COLUMN_MM: f64 = 85.0;

/// Width of a full (double-column) journal page in millimetres.
pub const DOUBLE_COLUMN_MM: f64 = 180.0;

/// The Okabe–Ito colour-blind-safe palette, in the order series are coloured:
/// blue, vermillion, bluish green, reddish purple, orange, sky blue, black,
/// yellow.
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// Colour of the `i`-th series (cycles through [`OKABE_ITO`]).
pub fn series_color(i: usize) -> RGBColor {
    OKABE_ITO[i % OKABE_ITO.len()]
}

/// Font family name under which the bundled DejaVu Sans is registered.
///
/// It is also written verbatim as the SVG `font-family`, so SVG viewers
/// without DejaVu Sans fall back to a similar sans-serif face.
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Register the bundled font with plotters (once per process) and check that
/// ab_glyph (used to rasterise PNG text) can parse it.
fn ensure_font() -> Result<(), String> {
    canvas::font()?;
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the bundled DejaVu Sans font could not be parsed".to_string())
        })
        .clone()
}

/// Errors raised while validating input for, laying out or writing a figure.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The data or options given for the figure are unusable.
    #[error("figure `{figure}` ({kind}): {message}")]
    InvalidInput {
        /// Output name of the figure (file stem).
        figure: String,
        /// Kind of figure, e.g. "Kaplan-Meier plot".
        kind: &'static str,
        /// What is wrong, naming the curve/row/field at fault.
        message: String,
    },
    /// A file could not be written.
    #[error("figure `{figure}` ({kind}): cannot write {path}: {source}")]
    Io {
        /// Output name of the figure (file stem).
        figure: String,
        /// Kind of figure.
        kind: &'static str,
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The drawing backend failed (font or rasteriser problem).
    #[error("figure `{figure}` ({kind}): rendering failed: {message}")]
    Render {
        /// Output name of the figure (file stem).
        figure: String,
        /// Kind of figure.
        kind: &'static str,
        /// Backend message.
        message: String,
    },
}

/// Convenience alias.
pub type PlotResult<T> = Result<T, PlotError>;

/// Physical size of a figure in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FigureSize {
    /// Width in millimetres.
    pub width_mm: f64,
    /// Height in millimetres.
    pub height_mm: f64,
}

impl FigureSize {
    /// A figure of the given width and height (millimetres).
    pub fn new(width_mm: f64, height_mm: f64) -> Self {
        Self { width_mm, height_mm }
    }

    /// A single-column figure (85 mm wide).
    pub fn single_column(height_mm: f64) -> Self {
        Self::new(SINGLE_COLUMN_MM, height_mm)
    }

    /// A double-column figure (180 mm wide).
    pub fn double_column(height_mm: f64) -> Self {
        Self::new(DOUBLE_COLUMN_MM, height_mm)
    }

    /// Pixel size of the PNG (and of the SVG `viewBox`) at [`DPI`]:
    /// `round(mm / 25.4 * 300)` per side.
    pub fn pixels(&self) -> (u32, u32) {
        (mm_to_px_u32(self.width_mm), mm_to_px_u32(self.height_mm))
    }

    fn validate(&self) -> Result<(), String> {
        for (what, v) in [("width", self.width_mm), ("height", self.height_mm)] {
            if !v.is_finite() || !(20.0..=600.0).contains(&v) {
                return Err(format!("figure {what} must be between 20 and 600 mm, found {v} mm"));
            }
        }
        Ok(())
    }
}

fn mm_to_px_u32(mm: f64) -> u32 {
    // Validated sizes are <= 600 mm, i.e. < 7100 px: the cast cannot overflow.
    (mm / 25.4 * DPI).round().max(1.0) as u32
}

/// Where and how large to write a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureSpec {
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// File stem: the figure is written to `<out_dir>/<name>.svg` and `.png`.
    pub name: String,
    /// Physical size; `None` uses the figure's default (which for tables of
    /// rows or lanes grows with the number of rows).
    pub size: Option<FigureSize>,
}

impl FigureSpec {
    /// Write `<out_dir>/<name>.svg|.png` at the figure's default size.
    pub fn new(out_dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        Self { out_dir: out_dir.into(), name: name.into(), size: None }
    }

    /// Same, with an explicit physical size.
    pub fn with_size(mut self, size: FigureSize) -> Self {
        self.size = Some(size);
        self
    }
}

/// The files written for one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureFiles {
    /// The SVG file.
    pub svg: PathBuf,
    /// The 300-dpi PNG file.
    pub png: PathBuf,
    /// Physical size used.
    pub size: FigureSize,
    /// PNG width in pixels.
    pub width_px: u32,
    /// PNG height in pixels.
    pub height_px: u32,
}

/// A figure that can be validated, sized and drawn on any plotters backend.
pub(crate) trait Figure {
    /// Human-readable kind, used in error messages.
    const KIND: &'static str;
    /// Check the input; `Err` carries a message naming the field at fault.
    fn validate(&self) -> Result<(), String>;
    /// Default physical size (may depend on the amount of data).
    fn default_size(&self) -> FigureSize;
    /// Draw everything. Layout problems (figure too small) are `Err(Layout)`.
    fn draw<DB: plotters::prelude::DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<(), DrawError>;
}

/// Failure inside a drawing routine.
#[derive(Debug)]
pub(crate) enum DrawError {
    /// The figure does not fit into the requested size (message says what).
    Layout(String),
    /// The backend failed.
    Backend(String),
}

/// Validate, then draw `fig` into `<out_dir>/<name>.svg` and `.png`.
pub(crate) fn render<F: Figure>(fig: &F, spec: &FigureSpec) -> PlotResult<FigureFiles> {
    let name = spec.name.clone();
    let invalid = |message: String| PlotError::InvalidInput { figure: name.clone(), kind: F::KIND, message };
    if spec.name.is_empty() || spec.name.contains(['/', '\\']) || spec.name == "." || spec.name == ".." {
        return Err(invalid(format!("output name {:?} must be a plain, non-empty file stem", spec.name)));
    }
    fig.validate().map_err(invalid)?;
    let size = spec.size.unwrap_or_else(|| fig.default_size());
    size.validate().map_err(invalid)?;
    ensure_font().map_err(|message| PlotError::Render { figure: name.clone(), kind: F::KIND, message })?;
    let (w, h) = size.pixels();
    let io_err = |path: &Path, source: std::io::Error| PlotError::Io {
        figure: name.clone(),
        kind: F::KIND,
        path: path.to_path_buf(),
        source,
    };
    let draw_err = |e: DrawError| match e {
        DrawError::Layout(message) => invalid(message),
        DrawError::Backend(message) => PlotError::Render { figure: name.clone(), kind: F::KIND, message },
    };
    std::fs::create_dir_all(&spec.out_dir).map_err(|e| io_err(&spec.out_dir, e))?;
    let svg_path = spec.out_dir.join(format!("{}.svg", spec.name));
    let png_path = spec.out_dir.join(format!("{}.png", spec.name));

    // SVG: drawn into a string, then the physical size is declared.
    let mut svg = String::new();
    {
        let backend = SVGBackend::with_string(&mut svg, (w, h));
        let area = backend.into_drawing_area();
        let canvas = Canvas::new(&area, Backend::Svg);
        canvas.background().map_err(draw_err)?;
        fig.draw(&canvas).map_err(draw_err)?;
        area.present().map_err(|e| draw_err(DrawError::Backend(e.to_string())))?;
    }
    let svg = compact_svg(&set_svg_physical_size(&svg, w, h));
    std::fs::write(&svg_path, svg).map_err(|e| io_err(&svg_path, e))?;

    // PNG: plotters draws into an RGB buffer; the `png` encoder writes it with its 300-dpi pHYs.
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let backend = BitMapBackend::with_buffer(&mut rgb, (w, h));
        let area = backend.into_drawing_area();
        let canvas = Canvas::new(&area, Backend::Bitmap);
        canvas.background().map_err(draw_err)?;
        fig.draw(&canvas).map_err(draw_err)?;
        area.present().map_err(|e| draw_err(DrawError::Backend(e.to_string())))?;
    }
    let mut bytes = Vec::new();
    raster::encode_rgb(&mut bytes, &rgb, w, h, DPI)
        .map_err(|e| io_err(&png_path, std::io::Error::other(format!("PNG encoding failed: {e}"))))?;
    std::fs::write(&png_path, bytes).map_err(|e| io_err(&png_path, e))?;

    Ok(FigureFiles { svg: svg_path, png: png_path, size, width_px: w, height_px: h })
}

/// Replace the pixel `width`/`height` of the root `<svg>` element with the
/// physical size in millimetres (the `viewBox` keeps the 300-dpi pixel grid).
/// Smaller SVG text with the same drawing: consecutive `<polyline>`s with the same style
/// (censoring marks, dashes, ticks: hundreds per figure) become one `<path>` of several
/// sub-paths, and the default `opacity="1"` is dropped. Each polyline is its own line in
/// plotters' output; any other line is kept as it is.
fn compact_svg(svg: &str) -> String {
    const START: &str = "<polyline ";
    const POINTS: &str = " points=\"";
    let mut out = String::with_capacity(svg.len());
    let mut style: Option<String> = None; // attributes of the open <path>
    let mut d = String::new();
    let flush = |out: &mut String, style: &mut Option<String>, d: &mut String| {
        if let Some(st) = style.take() {
            out.push_str(&format!("<path{st} d=\"{}\"/>\n", d.trim_end()));
            d.clear();
        }
    };
    for line in svg.lines() {
        let polyline = line
            .strip_prefix(START)
            .and_then(|rest| rest.strip_suffix("\"/>"))
            .and_then(|rest| rest.split_once(POINTS))
            .filter(|(attrs, _)| attrs.contains("fill=\"none\""));
        match polyline {
            Some((attrs, points)) if points.split_whitespace().count() >= 2 => {
                let st = format!(" {}", attrs.replace(" opacity=\"1\"", "").replace("opacity=\"1\" ", ""));
                if style.as_deref() != Some(st.as_str()) {
                    flush(&mut out, &mut style, &mut d);
                    style = Some(st);
                }
                for (k, p) in simplify_points(points).iter().enumerate() {
                    d.push_str(if k == 0 { "M" } else { "L" });
                    d.push_str(p);
                    d.push(' ');
                }
            }
            _ => {
                flush(&mut out, &mut style, &mut d);
                let line = line.replace(" opacity=\"1\"", "");
                match line.strip_prefix("<polygon ").and_then(|r| r.split_once(POINTS)) {
                    Some((attrs, rest)) => {
                        let (points, tail) = rest.split_once('"').unwrap_or((rest, ""));
                        out.push_str(&format!("<polygon {attrs}{POINTS}{}\"{tail}", simplify_points(points).join(" ")));
                    }
                    None => out.push_str(&line),
                }
                out.push('\n');
            }
        }
    }
    flush(&mut out, &mut style, &mut d);
    hoist_font_family(&out)
}

/// Every text element names [`FONT_FAMILY`]: say it once on the root `<svg>` (inherited).
fn hoist_font_family(svg: &str) -> String {
    let attr = format!(" font-family=\"{FONT_FAMILY}\"");
    if !svg.contains(&attr) {
        return svg.to_string();
    }
    svg.replace(&attr, "").replacen("<svg ", &format!("<svg{attr} "), 1)
}

/// The points of a polyline or polygon without repeats and without the middle points of runs
/// along one horizontal or vertical line (integer pixel coordinates of step curves and their
/// bands repeat and line up a lot): the same shape with fewer points.
fn simplify_points(points: &str) -> Vec<&str> {
    let parse = |p: &str| p.split_once(',').and_then(|(x, y)| Some((x.parse::<f64>().ok()?, y.parse::<f64>().ok()?)));
    let mut out: Vec<(&str, Option<(f64, f64)>)> = Vec::new();
    for p in points.split_whitespace() {
        let xy = parse(p);
        if let (Some(&(_, last)), Some(cur)) = (out.last(), xy) {
            if last == Some(cur) {
                continue; // repeat
            }
        }
        if out.len() >= 2 {
            if let (Some(a), Some(b), Some(c)) = (out[out.len() - 2].1, out[out.len() - 1].1, xy) {
                let vertical = a.0 == b.0 && b.0 == c.0 && (a.1 - b.1) * (b.1 - c.1) >= 0.0;
                let horizontal = a.1 == b.1 && b.1 == c.1 && (a.0 - b.0) * (b.0 - c.0) >= 0.0;
                if vertical || horizontal {
                    out.pop(); // b lies between a and c
                }
            }
        }
        out.push((p, xy));
    }
    out.into_iter().map(|(p, _)| p).collect()
}

fn set_svg_physical_size(svg: &str, w: u32, h: u32) -> String {
    let old = format!("width=\"{w}\" height=\"{h}\"");
    let new = format!("width=\"{:.2}mm\" height=\"{:.2}mm\"", f64::from(w) * 25.4 / DPI, f64::from(h) * 25.4 / DPI);
    svg.replacen(&old, &new, 1)
}

#[cfg(test)]
mod compact_tests {
    use super::{compact_svg, simplify_points};

    #[test]
    fn repeated_and_in_line_points_are_dropped_turns_are_kept() {
        // a step: right, right, up (same x), up, then back left (a turn, kept)
        assert_eq!(simplify_points("0,0 1,0 2,0 2,0 2,3 2,5 1,5 "), ["0,0", "2,0", "2,5", "1,5"]);
        // going back along the same line is a turn, not a run
        assert_eq!(simplify_points("0,0 5,0 3,0"), ["0,0", "5,0", "3,0"]);
        assert_eq!(simplify_points("4,4"), ["4,4"]);
    }

    #[test]
    fn consecutive_polylines_of_one_style_become_one_path() {
        let svg = "<svg>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#666666\" stroke-width=\"2\" points=\"1,2 1,5 \"/>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#666666\" stroke-width=\"2\" points=\"3,4 3,8 4,9 \"/>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"0,0 9,9 \"/>\n\
<text x=\"1\" opacity=\"1\">a</text>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#666666\" stroke-width=\"2\" points=\"7,7 \"/>\n\
</svg>\n";
        let out = compact_svg(svg);
        assert_eq!(
            out,
            "<svg>\n\
<path fill=\"none\" stroke=\"#666666\" stroke-width=\"2\" d=\"M1,2 L1,5 M3,4 L3,8 L4,9\"/>\n\
<path fill=\"none\" stroke=\"#0072B2\" stroke-width=\"4\" d=\"M0,0 L9,9\"/>\n\
<text x=\"1\">a</text>\n\
<polyline fill=\"none\" stroke=\"#666666\" stroke-width=\"2\" points=\"7,7 \"/>\n\
</svg>\n"
        );
    }
}
