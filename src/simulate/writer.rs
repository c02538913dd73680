//! Streaming output of the simulated tables, chunk by chunk, with the project's table writer
//! ([`crate::cohort::table_writer`]): each table is one file written while the run
//! progresses (one Parquet row group per table per chunk), renamed into place when the run
//! succeeds, so a failed run never leaves a table that looks complete.

use std::path::{Path, PathBuf};

use crate::cohort::table_writer::{close_all, Chunk, Col, TableSink};
use crate::cohort::Format;

use super::patient::SimPatient;
use super::{SimError, SimFormat};

impl SimFormat {
    /// The table format of the files (OMOP extracts are CSV).
    pub(crate) fn table_format(self) -> Format {
        match self {
            SimFormat::Csv | SimFormat::Omop => Format::Csv,
            SimFormat::Parquet => Format::Parquet,
        }
    }
}

/// The tables of a simulated cohort, in writing order.
pub(crate) const TABLES: [&str; 6] = ["patients", "measurements", "findings", "treatments", "responses", "truth"];

const PATIENTS: &[&str] =
    &["patient_id", "diagnosis_date", "last_contact_date", "death_date", "sex", "age_at_diagnosis", "eln_risk", "flt3", "site"];
const MEASUREMENTS: &[&str] = &["patient_id", "date", "analyte", "value", "unit"];
const FINDINGS: &[&str] = &["patient_id", "date", "finding", "present"];
const TREATMENTS: &[&str] = &["patient_id", "line", "regimen", "intensity", "start_date", "end_date"];
const RESPONSES: &[&str] = &["patient_id", "line", "date", "response"];
const TRUTH: &[&str] = &["patient_id", "episode", "onset_date", "resolution_date", "line", "regimen"];

/// The patient id of the 0-based patient index: `P0000001`, `P0000002`, …
pub(crate) fn patient_id(index: u64) -> String {
    format!("P{:07}", index + 1)
}

/// Build the chunk of table `t` (index into [`TABLES`]) for `patients` with ids `ids`.
/// A measurement value as text: the qualifier (if any) followed by the number.
fn value_text(value: f64, qualifier: u8) -> String {
    match qualifier {
        0 => format!("{value}"),
        q => format!("{}{value}", q as char),
    }
}

fn build<'a>(t: usize, patients: &'a [SimPatient], ids: &'a [String], qualified: bool) -> Chunk<'a> {
    let pid = |k: usize| ids[k].as_str();
    match t {
        0 => {
            let mut c =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, p) in patients.iter().enumerate() {
                c.0.push(pid(k));
                c.1.push(Some(p.diagnosis));
                c.2.push(Some(p.diagnosis + p.end_day));
                c.3.push(p.died.then_some(p.diagnosis + p.end_day));
                c.4.push(p.sex);
                c.5.push(p.age);
                c.6.push(p.eln.name());
                c.7.push(if p.flt3 { "mutated" } else { "wildtype" });
                c.8.push(p.site);
            }
            Chunk {
                names: PATIENTS.to_vec(),
                cols: vec![
                    Col::Str(c.0),
                    Col::Date(c.1),
                    Col::Date(c.2),
                    Col::Date(c.3),
                    Col::Str(c.4),
                    Col::F64(c.5),
                    Col::Str(c.6),
                    Col::Str(c.7),
                    Col::Str(c.8),
                ],
            }
        }
        1 => {
            let n: usize = patients.iter().map(|p| p.measurements.len()).sum();
            let (mut a, mut b, mut c, mut d, mut e) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let mut text = Vec::with_capacity(if qualified { n } else { 0 });
            for (k, p) in patients.iter().enumerate() {
                for m in &p.measurements {
                    a.push(pid(k));
                    b.push(Some(p.diagnosis + m.day));
                    c.push(m.analyte.name());
                    if qualified {
                        text.push(value_text(m.value, m.qualifier));
                    } else {
                        d.push(m.value);
                    }
                    e.push(m.unit);
                }
            }
            // With qualified values (`>40000`, `<0.1`) the value column is text.
            let value = if qualified { Col::Text(text) } else { Col::F64(d) };
            Chunk { names: MEASUREMENTS.to_vec(), cols: vec![Col::Str(a), Col::Date(b), Col::Str(c), value, Col::Str(e)] }
        }
        2 => {
            let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, p) in patients.iter().enumerate() {
                for f in &p.findings {
                    a.push(pid(k));
                    b.push(Some(p.diagnosis + f.day));
                    c.push(f.finding.name());
                    d.push(f.present);
                }
            }
            Chunk { names: FINDINGS.to_vec(), cols: vec![Col::Str(a), Col::Date(b), Col::Str(c), Col::Bool(d)] }
        }
        3 => {
            let (mut a, mut b, mut c, mut d, mut e, mut f) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, p) in patients.iter().enumerate() {
                for l in &p.lines {
                    a.push(pid(k));
                    b.push(l.line as i64);
                    c.push(l.regimen);
                    d.push(l.intensity.name());
                    e.push(Some(p.diagnosis + l.start));
                    f.push(l.end.map(|x| p.diagnosis + x));
                }
            }
            Chunk {
                names: TREATMENTS.to_vec(),
                cols: vec![Col::Str(a), Col::I64(b), Col::Str(c), Col::Str(d), Col::Date(e), Col::Date(f)],
            }
        }
        4 => {
            let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, p) in patients.iter().enumerate() {
                for r in &p.responses {
                    a.push(pid(k));
                    b.push(r.line as i64);
                    c.push(Some(p.diagnosis + r.day));
                    d.push(r.response.name());
                }
            }
            Chunk { names: RESPONSES.to_vec(), cols: vec![Col::Str(a), Col::I64(b), Col::Date(c), Col::Str(d)] }
        }
        _ => {
            let (mut a, mut b, mut c, mut d, mut e, mut f) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, p) in patients.iter().enumerate() {
                for (i, ep) in p.episodes.iter().enumerate() {
                    a.push(pid(k));
                    b.push(i as i64 + 1);
                    c.push(Some(p.diagnosis + ep.onset));
                    d.push((ep.resolution <= p.end_day).then_some(p.diagnosis + ep.resolution));
                    e.push(ep.line as i64);
                    f.push(ep.regimen);
                }
            }
            Chunk {
                names: TRUTH.to_vec(),
                cols: vec![Col::Str(a), Col::I64(b), Col::Date(c), Col::Date(d), Col::I64(e), Col::Str(f)],
            }
        }
    }
}

/// What a [`Writer`] writes: the cohort tables of the data contract, or an OMOP CDM.
enum Layout {
    /// [`TABLES`]; `qualified`: the measurement value column is text (`>40000`).
    Cohort { qualified: bool },
    /// [`super::omop::OMOP_SIM_TABLES`] plus `truth`.
    Omop,
}

/// All tables of a run, open for appending chunks.
pub(crate) struct Writer {
    tables: Vec<TableSink>,
    layout: Layout,
}

impl Writer {
    /// Open every table in `dir` (which must exist).
    pub fn create(dir: &Path, format: SimFormat, qualified: bool) -> Result<Writer, SimError> {
        let mut tables = Vec::new();
        let layout = match format {
            SimFormat::Omop => {
                for (name, empty) in super::omop::empty_tables()? {
                    tables.push(TableSink::create(dir, name, format.table_format(), &empty)?);
                }
                tables.push(TableSink::create(dir, TABLES[5], format.table_format(), &build(5, &[], &[], false))?);
                Layout::Omop
            }
            _ => {
                for (t, name) in TABLES.iter().enumerate() {
                    tables.push(TableSink::create(dir, name, format.table_format(), &build(t, &[], &[], qualified))?);
                }
                Layout::Cohort { qualified }
            }
        };
        Ok(Writer { tables, layout })
    }

    /// Append one chunk of patients (in order) to every table.
    pub fn write_chunk(&mut self, patients: &[SimPatient]) -> Result<(), SimError> {
        let ids: Vec<String> = patients.iter().map(|p| patient_id(p.index)).collect();
        match self.layout {
            Layout::Cohort { qualified } => {
                for (t, table) in self.tables.iter_mut().enumerate() {
                    table.append(&build(t, patients, &ids, qualified))?;
                }
            }
            Layout::Omop => {
                let n = self.tables.len();
                for (table, chunk) in self.tables.iter_mut().zip(super::omop::build_chunks(patients, &ids)?) {
                    table.append(&chunk)?;
                }
                self.tables[n - 1].append(&build(5, patients, &ids, false))?;
            }
        }
        Ok(())
    }

    /// Flush and close every table, then move them into place. Returns the final paths.
    pub fn finish(self) -> Result<Vec<PathBuf>, SimError> {
        Ok(close_all(self.tables)?)
    }

    /// Remove the temporary files of an abandoned run (best effort).
    pub fn abandon(self) {
        self.tables.into_iter().for_each(TableSink::abandon);
    }
}
