//! The run's outputs under construction: every table and figure is registered here under
//! a name that no other output of the run may take, and every analysis that could not be
//! computed is recorded with its reason.
//!
//! Naming pattern: an analysis run under several criteria sets writes ONE table with a
//! `criteria_set` column (never one file per set), so that two sets can never write
//! the same file and a reader compares the definitions in one place.

use std::collections::BTreeSet;

use crate::report::manifest::NotComputed;
use crate::table::ResultTable;

use super::run::StudyError;

/// Names already taken by an output of this run; a second registration of a name fails.
#[derive(Debug, Default)]
pub struct OutputRegistry {
    names: BTreeSet<String>,
}

impl OutputRegistry {
    /// An empty registry.
    pub fn new() -> OutputRegistry {
        OutputRegistry::default()
    }

    /// Take `name` for an output of kind `kind` (`table`, `figure`); refuses a name taken before.
    pub fn claim(&mut self, kind: &str, name: &str) -> Result<(), StudyError> {
        if self.names.insert(format!("{kind}/{name}")) {
            Ok(())
        } else {
            Err(StudyError::DuplicateOutput { kind: kind.to_string(), name: name.to_string() })
        }
    }
}

/// A table produced by the run.
pub(crate) struct Produced {
    /// The table: all its rows ([`Body::Cells`]), else its first rows.
    pub table: ResultTable,
    /// One-line description (report, `tables/README.md`).
    pub caption: String,
    /// Where the table's rows are.
    pub body: Body,
}

/// Where a produced table's rows are.
pub(crate) enum Body {
    /// All in [`Produced::table`]; written with the other tables at the end of the run.
    Cells,
    /// In a CSV file already written, for a table too large to hold as cells until the end of
    /// the run (the evidence audit trail, the episodes of every definition), formatted part by
    /// part by [`ResultTable::write_csv_rows`]; its Parquet is made from the file at the end of
    /// the run.
    CsvFile(StreamedCsv),
}

/// Write the CSV file `path` of a table given in parts (each a [`ResultTable`] with the same
/// columns and types, dropped once written) and return its preview (header, types and first
/// `preview_rows` rows) and the file. Only one part's cells are in memory at a time.
pub(crate) fn write_csv_in_parts(
    path: &std::path::Path,
    parts: impl Iterator<Item = ResultTable>,
    mut preview: ResultTable,
    preview_rows: usize,
) -> std::io::Result<(ResultTable, StreamedCsv)> {
    use std::io::Write;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(preview.csv_header().as_bytes())?;
    let mut rows = 0;
    for part in parts {
        part.write_csv_rows(rows, &mut w).map_err(std::io::Error::other)?;
        rows += part.rows.len();
        keep_preview(&mut preview, part.rows, preview_rows);
    }
    w.flush()?;
    Ok((preview, StreamedCsv { path: path.to_path_buf(), rows }))
}

/// Append `rows` to `preview` until it holds `max` rows.
pub(crate) fn keep_preview(preview: &mut ResultTable, rows: Vec<Vec<crate::table::Cell>>, max: usize) {
    let room = max.saturating_sub(preview.rows.len());
    preview.rows.extend(rows.into_iter().take(room));
}

/// A table formatted chunk by chunk: its CSV file (header included, in the run's `tables/`)
/// and its row count.
pub(crate) struct StreamedCsv {
    /// The CSV file.
    pub path: std::path::PathBuf,
    /// Data rows.
    pub rows: usize,
}

impl Produced {
    /// The table's name (file stem).
    pub fn name(&self) -> &str {
        &self.table.name
    }

    /// Data rows of the whole table.
    pub fn n_rows(&self) -> usize {
        match &self.body {
            Body::Cells => self.table.rows.len(),
            Body::CsvFile(csv) => csv.rows,
        }
    }
}

/// Tables, notes and not-computed analyses collected while a run proceeds.
#[derive(Default)]
pub(crate) struct RunOutputs {
    registry: OutputRegistry,
    /// Tables in the order they were produced.
    pub tables: Vec<Produced>,
    /// Sentences for the report (exclusions, conventions applied to this cohort).
    pub notes: Vec<String>,
    /// Analyses that could not be computed.
    pub not_computed: Vec<NotComputed>,
}

impl RunOutputs {
    /// Add a table under its own name, which must be new; the table is checked (finite
    /// numbers, row lengths, column names) here, so a defect names the analysis that made it.
    pub fn add_table(&mut self, table: ResultTable, caption: &str) -> Result<(), StudyError> {
        table.validate().map_err(crate::report::ReportError::from)?;
        self.registry.claim("table", &table.name)?;
        self.tables.push(Produced { table, caption: caption.to_string(), body: Body::Cells });
        Ok(())
    }

    /// Add a table streamed as CSV text: `preview` holds its header, column types and first
    /// rows (checked here), `csv` the whole file.
    pub fn add_streamed(&mut self, preview: ResultTable, caption: &str, csv: StreamedCsv) -> Result<(), StudyError> {
        preview.validate().map_err(crate::report::ReportError::from)?;
        self.registry.claim("table", &preview.name)?;
        self.tables.push(Produced { table: preview, caption: caption.to_string(), body: Body::CsvFile(csv) });
        Ok(())
    }

    /// The table called `name`, if the run produced it (all rows unless it was streamed).
    pub fn table(&self, name: &str) -> Option<&ResultTable> {
        self.tables.iter().find(|p| p.name() == name).map(|p| &p.table)
    }

    /// Take a figure name.
    pub fn claim_figure(&mut self, name: &str) -> Result<(), StudyError> {
        self.registry.claim("figure", name)
    }

    /// Record an analysis that could not be computed.
    pub fn not_computed(&mut self, analysis: impl Into<String>, reason: impl std::fmt::Display) {
        self.not_computed.push(NotComputed { analysis: analysis.into(), reason: reason.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_output_with_the_same_name_is_refused() {
        let mut r = OutputRegistry::new();
        r.claim("table", "response_by_hlh").unwrap();
        r.claim("figure", "response_by_hlh").unwrap();
        let e = r.claim("table", "response_by_hlh").unwrap_err().to_string();
        assert!(e.contains("response_by_hlh") && e.contains("table"), "{e}");
    }
}
