//! The self-contained HTML report: one page, readable offline.
//!
//! The SVG figures are inlined into the page (XML declaration and anything
//! else before `<svg` stripped), the CSS is inline, there is no JavaScript and
//! no external URL (the only `http://` text is SVG namespace identifiers,
//! which browsers never fetch). Tables are rendered with
//! [`html_table`], capped at [`Report::max_table_rows`] rows with
//! a note naming the full CSV file. All text is HTML-escaped.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::output::{write_atomic, FIGURES_DIR};
use super::{ReportError, ReportResult};
use crate::table::format::format_sig;
use crate::table::{Cell, ResultTable};

/// Default cap on the rows shown per table.
pub const DEFAULT_MAX_TABLE_ROWS: usize = 50;

/// A figure to inline.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureRef {
    /// Short title (shown after "Figure N.").
    pub title: String,
    /// The SVG file to inline (normally `<out>/figures/<name>.svg`).
    pub svg_path: PathBuf,
    /// Caption: what is shown, the population, the estimator.
    pub caption: String,
}

/// One section of the report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// Heading (also the table-of-contents entry).
    pub heading: String,
    /// Plain-text paragraphs shown first.
    pub paragraphs: Vec<String>,
    /// Figures, shown after the paragraphs.
    pub figures: Vec<FigureRef>,
    /// Tables with their captions, shown after the figures.
    pub tables: Vec<ShownTable>,
    /// Key results, one list item each, shown right after the heading.
    pub facts: Vec<Vec<FactPart>>,
    /// Tables listed (not shown) with their description and links to their files, after the
    /// tables: the report's appendix of every table of the run.
    pub listed: Vec<ListedTable>,
}

/// A table shown in a section: its first rows (or all), caption and the row count of the whole
/// table (the note under a cut table names the full file).
#[derive(Debug, Clone, PartialEq)]
pub struct ShownTable {
    /// The table (at least its first [`Report::max_table_rows`] rows).
    pub table: ResultTable,
    /// Caption.
    pub caption: String,
    /// Data rows of the whole table.
    pub rows_total: usize,
}

impl ShownTable {
    /// A table shown whole (all its rows are in `table`).
    pub fn whole(table: ResultTable, caption: impl Into<String>) -> ShownTable {
        let rows_total = table.rows.len();
        ShownTable { table, caption: caption.into(), rows_total }
    }
}

/// A table of the run named in the appendix: file links and a one-line description.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTable {
    /// Table name (anchor `#table-<name>`; files `tables/<name>.csv` and `.parquet`).
    pub name: String,
    /// One-line description.
    pub caption: String,
    /// Number of data rows.
    pub rows: usize,
    /// The table is also shown in the body (its anchor is there).
    pub shown_above: bool,
}

/// A number quoted in the text, linked to the table (and cell) it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyNumber {
    /// The number as shown (rounded, with its unit).
    pub text: String,
    /// Table name (the link goes to `#table-<name>`).
    pub table: String,
    /// Which row: `column=value` pairs joined by `;`.
    pub key: String,
    /// Which column.
    pub column: String,
    /// The value in the table, full precision.
    pub value: f64,
}

/// Part of a key-results sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum FactPart {
    /// Plain text.
    Text(String),
    /// A number with its source.
    Number(KeyNumber),
}

/// One key-results sentence as HTML: numbers link to their table, with the cell they come from
/// in `data-` attributes (so a reader, or a test, can check the number against the table).
fn render_fact(parts: &[FactPart]) -> String {
    let mut h = String::new();
    for p in parts {
        match p {
            FactPart::Text(t) => h.push_str(&escape_html(t)),
            FactPart::Number(n) => {
                let _ = write!(
                    h,
                    "<a class=\"key\" href=\"#table-{}\" data-table=\"{}\" data-key=\"{}\" data-column=\"{}\" data-value=\"{}\">{}</a>",
                    escape_html(&n.table),
                    escape_html(&n.table),
                    escape_html(&n.key),
                    escape_html(&n.column),
                    crate::table::format::Num(n.value),
                    escape_html(&n.text)
                );
            }
        }
    }
    h
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Page title and top heading.
    pub title: String,
    /// Sections, in order.
    pub sections: Vec<Section>,
    /// Run provenance summarised in the footer (version, command, inputs, counts, exclusions, timings).
    pub manifest: Option<Manifest>,
    /// At most this many rows of each table are shown.
    pub max_table_rows: usize,
}

impl Report {
    /// An empty report with the default row cap and no manifest.
    pub fn new(title: impl Into<String>) -> Report {
        Report { title: title.into(), sections: Vec::new(), manifest: None, max_table_rows: DEFAULT_MAX_TABLE_ROWS }
    }

    /// Render the complete page. Fails if a figure cannot be read or inlined.
    pub fn render(&self) -> ReportResult<String> {
        let mut h = String::with_capacity(64 * 1024);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(h, "<title>{}</title>", escape_html(&self.title));
        let _ = writeln!(h, "<style>\n{CSS}</style>\n</head>\n<body>");
        let _ = writeln!(h, "<header><h1>{}</h1></header>", escape_html(&self.title));

        // Table of contents, with the same numbering as the body.
        h.push_str("<nav class=\"toc\"><h2>Contents</h2>\n<ol>\n");
        let (mut fig_no, mut tab_no) = (0usize, 0usize);
        for (s, sec) in self.sections.iter().enumerate() {
            let _ = write!(h, "<li><a href=\"#sec-{}\">{}</a>", s + 1, escape_html(&sec.heading));
            if !sec.figures.is_empty() || !sec.tables.is_empty() {
                h.push_str("\n<ul>\n");
                for f in &sec.figures {
                    fig_no += 1;
                    let _ = writeln!(h, "<li><a href=\"#fig-{fig_no}\">Figure {fig_no}. {}</a></li>", escape_html(&f.title));
                }
                for ShownTable { table: t, caption, .. } in &sec.tables {
                    tab_no += 1;
                    let _ = writeln!(
                        h,
                        "<li><a href=\"#tab-{tab_no}\">Table {tab_no}. {}</a></li>",
                        escape_html(&short_title(caption, &t.name))
                    );
                }
                h.push_str("</ul>\n");
            }
            h.push_str("</li>\n");
        }
        if self.manifest.is_some() {
            h.push_str("<li><a href=\"#run-details\">Run details</a></li>\n");
        }
        h.push_str("</ol>\n</nav>\n<main>\n");

        let (mut fig_no, mut tab_no) = (0usize, 0usize);
        for (s, sec) in self.sections.iter().enumerate() {
            let _ = writeln!(h, "<section id=\"sec-{}\">\n<h2>{}</h2>", s + 1, escape_html(&sec.heading));
            if !sec.facts.is_empty() {
                h.push_str("<ul class=\"key-results\">\n");
                for f in &sec.facts {
                    let _ = writeln!(h, "<li>{}</li>", render_fact(f));
                }
                h.push_str("</ul>\n");
            }
            for p in &sec.paragraphs {
                let _ = writeln!(h, "<p>{}</p>", escape_html(p));
            }
            for f in &sec.figures {
                fig_no += 1;
                let svg = inline_svg(&f.svg_path)?;
                let file = f.svg_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let _ = writeln!(
                    h,
                    "<figure id=\"fig-{fig_no}\">\n<div class=\"svg\">\n{svg}\n</div>\n\
                     <figcaption><b>Figure {fig_no}. {}</b> {} <span class=\"file\">({}/{})</span></figcaption>\n</figure>",
                    escape_html(&f.title),
                    escape_html(&f.caption),
                    FIGURES_DIR,
                    escape_html(&file)
                );
            }
            for shown in &sec.tables {
                let (t, caption) = (&shown.table, &shown.caption);
                tab_no += 1;
                let _ = writeln!(
                    h,
                    "<div class=\"table-block\" id=\"tab-{tab_no}\">\n<a id=\"table-{}\"></a>\n<p class=\"caption\"><b>Table {tab_no}. {}</b> {} \
                     <span class=\"file\">(tables/{})</span></p>",
                    escape_html(&t.name),
                    escape_html(&short_title(caption, &t.name)),
                    escape_html(caption),
                    escape_html(&t.file_name())
                );
                h.push_str(&html_table(t, self.max_table_rows, shown.rows_total));
                if !t.docs.is_empty() {
                    h.push_str("<details><summary>Columns</summary>\n<dl class=\"cols\">\n");
                    for c in &t.columns {
                        if let Some(d) = t.doc(c) {
                            let _ = writeln!(h, "<dt><code>{}</code></dt><dd>{}</dd>", escape_html(c), escape_html(d));
                        }
                    }
                    h.push_str("</dl>\n</details>\n");
                }
                h.push_str("</div>\n");
            }
            if !sec.listed.is_empty() {
                h.push_str("<ul class=\"appendix\">\n");
                for t in &sec.listed {
                    let name = escape_html(&t.name);
                    let anchor = if t.shown_above { String::new() } else { format!(" id=\"table-{name}\"") };
                    let _ = writeln!(
                        h,
                        "<li{anchor}><b>{name}</b> ({} {}{}): {} — <a href=\"tables/{name}.csv\">CSV</a>, \
                         <a href=\"tables/{name}.parquet\">Parquet</a></li>",
                        t.rows,
                        if t.rows == 1 { "row" } else { "rows" },
                        if t.shown_above { ", shown above" } else { "" },
                        escape_html(&t.caption)
                    );
                }
                h.push_str("</ul>\n");
            }
            h.push_str("</section>\n");
        }
        h.push_str("</main>\n");
        h.push_str(&self.footer());
        h.push_str("</body>\n</html>\n");
        Ok(h)
    }

    /// Render and write the page atomically to `path`.
    pub fn write_html(&self, path: &Path) -> ReportResult<()> {
        let page = self.render()?;
        write_atomic(path, page.as_bytes())
    }

    /// Footer: version, and a summary of the manifest if present.
    fn footer(&self) -> String {
        let mut h = String::from("<footer>\n");
        let version = self
            .manifest
            .as_ref()
            .map(|m| m.hemosurv_version.clone())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
        let Some(m) = &self.manifest else {
            let _ = writeln!(h, "<p>Generated by hemosurv {}.</p>\n</footer>", escape_html(&version));
            return h;
        };
        h.push_str("<h2 id=\"run-details\">Run details</h2>\n");
        let _ = writeln!(
            h,
            "<p>Generated by hemosurv {} — started {} UTC, wall time {} s. Full provenance \
             (configuration, input and output SHA-256) is in <code>manifest.json</code>; tables are \
             byte-identical between runs with the same inputs, so compare <code>outputs[].sha256</code> \
             to check two runs agree.</p>",
            escape_html(&version),
            escape_html(m.started_utc.trim_end_matches('Z')),
            escape_html(&format_sig(m.wall_time_s, 3))
        );
        if !m.command.is_empty() {
            let _ = writeln!(h, "<p>Command: <code>{}</code></p>", escape_html(&m.command.join(" ")));
        }
        if !m.inputs.is_empty() {
            h.push_str("<table class=\"data\"><thead><tr><th>input</th><th>path</th><th class=\"num\">rows</th><th>SHA-256</th></tr></thead><tbody>\n");
            for i in &m.inputs {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
                    escape_html(&i.table),
                    escape_html(&i.path),
                    i.rows,
                    escape_html(&i.sha256)
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if !m.row_counts.is_empty() {
            h.push_str("<table class=\"data\"><thead><tr><th>count</th><th class=\"num\">rows</th></tr></thead><tbody>\n");
            for (k, v) in &m.row_counts {
                let _ = writeln!(h, "<tr><td>{}</td><td class=\"num\">{}</td></tr>", escape_html(k), v);
            }
            h.push_str("</tbody></table>\n");
        }
        if m.exclusions.is_empty() {
            h.push_str("<p>No rows were excluded.</p>\n");
        } else {
            h.push_str("<table class=\"data\"><thead><tr><th>stage</th><th>exclusion reason</th><th class=\"num\">count</th></tr></thead><tbody>\n");
            for e in &m.exclusions {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                    escape_html(&e.stage),
                    escape_html(&e.reason),
                    e.count
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if !m.stages.is_empty() {
            let stages: Vec<String> = m
                .stages
                .iter()
                .map(|s| format!("{} {} s", escape_html(&s.name), escape_html(&format_sig(s.seconds, 3))))
                .collect();
            let _ = writeln!(h, "<p class=\"note\">Stage timings: {}.</p>", stages.join("; "));
        }
        h.push_str("</footer>\n");
        h
    }
}

/// Read an SVG file and return its markup from `<svg` on (dropping the XML
/// declaration, doctype and leading comments). Rejects files without an
/// `<svg` element, with scripts, or with external references.
fn inline_svg(path: &Path) -> ReportResult<String> {
    let bad = |message: &str| ReportError::BadFigure { path: path.to_path_buf(), message: message.to_string() };
    let bytes = fs::read(path).map_err(|e| ReportError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("the file is not UTF-8 text"))?;
    let start = text.find("<svg").ok_or_else(|| bad("no <svg> element found"))?;
    let svg = text[start..].trim_end();
    let lower = svg.to_ascii_lowercase();
    if lower.contains("<script") {
        return Err(bad("the SVG contains a script; the report must not run JavaScript"));
    }
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    for pat in ["href=\"http", "href='http", "href=\"//", "href='//", "url(http", "url(\"http", "url('http", "url(//"] {
        if compact.contains(pat) {
            return Err(bad("the SVG references an external resource; the report must work offline"));
        }
    }
    Ok(svg.to_string())
}

/// Inline style sheet (print-friendly, no external fonts).
const CSS: &str = r#"body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
  max-width: 62rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #444; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
nav.toc { background: #f6f6f6; padding: .5rem 1rem; border: 1px solid #ddd; }
nav.toc h2 { margin-top: .3rem; border: none; font-size: 1.1rem; }
nav.toc ul { font-size: .92rem; }
a { color: #1f4e9a; }
figure { margin: 1.5rem 0; }
figure .svg svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption, p.caption { font-size: .93rem; color: #333; }
.file { color: #777; font-size: .85rem; }
.table-block { margin: 1.5rem 0; }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: .85rem; margin: .4rem 0; }
table.data th, table.data td { border: 1px solid #ccc; padding: .15rem .45rem; text-align: left; vertical-align: top; }
table.data th { background: #eee; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data td.na { color: #999; }
table.data tbody tr:nth-child(even) { background: #fafafa; }
p.note { font-size: .85rem; color: #555; }
dl.cols dt { font-weight: bold; margin-top: .3rem; }
dl.cols dd { margin-left: 1.5rem; }
footer { margin-top: 3rem; border-top: 2px solid #444; font-size: .88rem; }
code { font-family: Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
@media print { nav.toc { display: none; } figure, .table-block { break-inside: avoid; } }
"#;

/// A table's title in words: its caption up to the first `:`, ` (`, `; ` or `. `, at most about
/// 90 characters (cut at a word); the table name when the caption is empty.
fn short_title(caption: &str, name: &str) -> String {
    let end = [": ", " (", "; ", ". "].iter().filter_map(|p| caption.find(p)).min().unwrap_or(caption.len());
    let mut t = caption[..end].trim().trim_end_matches('.').to_string();
    if t.chars().count() > 90 {
        let cut: String = t.chars().take(90).collect();
        t = format!("{}…", cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a));
    }
    if t.is_empty() {
        name.to_string()
    } else {
        t
    }
}

/// An HTML `<table>` of at most `max_rows` rows of `t`, all text escaped, numbers shown to 4
/// significant digits (display only; the CSV has full precision), NA shown as `NA`. Column
/// descriptions become header tooltips. If the whole table (`rows_total` rows) has more rows
/// than shown, a note follows naming `tables/<name>.csv` for the full table.
pub fn html_table(t: &ResultTable, max_rows: usize, rows_total: usize) -> String {
    let mut h = String::new();
    h.push_str("<div class=\"table-wrap\"><table class=\"data\">\n<thead><tr>");
    for c in &t.columns {
        match t.doc(c) {
            Some(d) => {
                let _ = write!(h, "<th title=\"{}\">{}</th>", escape_html(d), escape_html(c));
            }
            None => {
                let _ = write!(h, "<th>{}</th>", escape_html(c));
            }
        }
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in t.rows.iter().take(max_rows) {
        h.push_str("<tr>");
        for cell in row {
            let class = match cell {
                Cell::Int(_) | Cell::Num(_) => " class=\"num\"",
                Cell::Na => " class=\"na\"",
                Cell::Str(_) | Cell::Bool(_) => "",
            };
            let _ = write!(h, "<td{class}>{}</td>", escape_html(&cell.display_text()));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    let total = rows_total.max(t.rows.len());
    if total > max_rows {
        let _ = writeln!(
            h,
            "<p class=\"note\">Showing the first {} of {} rows; the full table is <code>tables/{}</code>.</p>",
            max_rows.min(t.rows.len()),
            total,
            escape_html(&t.file_name())
        );
    }
    h
}

/// Escape text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_svg_strips_prolog_and_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.svg");
        fs::write(&p, "<?xml version=\"1.0\"?>\n<!-- c --><svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n").unwrap();
        assert_eq!(inline_svg(&p).unwrap(), "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>");
        fs::write(&p, "<svg><script>alert(1)</script></svg>").unwrap();
        assert!(inline_svg(&p).unwrap_err().to_string().contains("script"));
        fs::write(&p, "<svg><image href=\"https://x/y.png\"/></svg>").unwrap();
        assert!(inline_svg(&p).unwrap_err().to_string().contains("external"));
        fs::write(&p, "not an svg").unwrap();
        assert!(inline_svg(&p).unwrap_err().to_string().contains("a.svg"));
        let missing = dir.path().join("missing.svg");
        assert!(inline_svg(&missing).unwrap_err().to_string().contains("missing.svg"));
    }
}
