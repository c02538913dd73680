//! The run's outputs under construction: every table and figure is registered here under
//! a name that no other output of the run may take, and every analysis that could not be
//! computed is recorded with its reason.
//!
//! Naming pattern: an analysis run under several criteria sets writes ONE table with a
//! `criteria_set` column (never one file per set), so that two sets can never write
//! the same file and a reader compares the definitions in one place.

use std::collections::BTreeSet;

use crate::report::csv::{ColumnType, CsvTable};
use crate::report::manifest::NotComputed;

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

/// A table produced by the run, as CSV bytes (estimator writers) or from a [`CsvTable`].
pub(crate) struct Produced {
    pub name: String,
    pub caption: String,
    pub bytes: Vec<u8>,
    /// Column types for the Parquet copy (`None`: inferred from every row).
    pub types: Option<Vec<ColumnType>>,
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
    /// Add a table given as CSV bytes; its name must be new.
    pub fn add_bytes(
        &mut self,
        name: &str,
        caption: &str,
        bytes: Vec<u8>,
        types: Option<Vec<ColumnType>>,
    ) -> Result<(), StudyError> {
        self.registry.claim("table", name)?;
        self.tables.push(Produced { name: name.to_string(), caption: caption.to_string(), bytes, types });
        Ok(())
    }

    /// Add a [`CsvTable`] under its own name.
    pub fn add_table(&mut self, t: &CsvTable, caption: &str) -> Result<(), StudyError> {
        let bytes = t.to_csv_bytes()?;
        self.add_bytes(&t.name, caption, bytes, Some(t.column_types()))
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

/// CSV bytes with a first column `name` holding `value` on every data row (RFC 4180
/// aware: a quoted field may hold commas and line breaks). Used to stack estimator
/// tables of several criteria sets into one table.
pub(crate) fn prepend_column(bytes: &[u8], name: &str, value: &str) -> Vec<u8> {
    let value = crate::io::csv_text::field(value);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut at_record_start = true;
    let mut header = true;
    let mut in_quotes = false;
    for &c in bytes {
        if at_record_start {
            out.extend_from_slice(if header { name.as_bytes() } else { value.as_bytes() });
            out.push(b',');
            at_record_start = false;
        }
        out.push(c);
        match c {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                at_record_start = true;
                header = false;
            }
            _ => {}
        }
    }
    out
}

/// Concatenate CSV tables with the same header: the first header, then every data row.
pub(crate) fn stack_csv(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for (k, p) in parts.iter().enumerate() {
        let body = if k == 0 { &p[..] } else { p.iter().position(|&c| c == b'\n').map_or(&p[p.len()..], |i| &p[i + 1..]) };
        out.extend_from_slice(body);
    }
    out
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

    #[test]
    fn prepend_and_stack_keep_quoted_fields_whole() {
        let a = prepend_column(b"group,n\n\"a,\nb\",1\nc,2\n", "criteria_set", "x");
        assert_eq!(a, b"criteria_set,group,n\nx,\"a,\nb\",1\nx,c,2\n");
        let b = prepend_column(b"group,n\nd,3\n", "criteria_set", "y,z");
        assert_eq!(stack_csv(&[a, b]), b"criteria_set,group,n\nx,\"a,\nb\",1\nx,c,2\n\"y,z\",d,3\n".to_vec());
    }
}
