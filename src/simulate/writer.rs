//! Streaming output of the simulated tables, chunk by chunk, as CSV or Parquet.
//!
//! Each table is one file written while the run progresses: CSV through a buffered
//! writer (header once, then rows), Parquet through polars' batched writer (one row
//! group per table per chunk). Files are written under a temporary name and renamed
//! into place when the run succeeds, so a failed run never leaves a table that looks
//! complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::cohort::{day_to_iso, Day};

use super::patient::SimPatient;
use super::{SimError, SimFormat};

/// The tables of a simulated cohort, in writing order.
pub(crate) const TABLES: [&str; 6] = ["patients", "measurements", "findings", "treatments", "responses", "truth"];

/// One column of a chunk of a table.
enum Col<'a> {
    Str(Vec<&'a str>),
    Text(Vec<String>),
    Date(Vec<Option<Day>>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Col<'_> {
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::Text(v) => v.len(),
            Col::Date(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }

    fn to_column(&self, name: &str) -> PolarsResult<Column> {
        let name: PlSmallStr = name.into();
        let s = match self {
            Col::Str(v) => Series::new(name, v.as_slice()),
            Col::Text(v) => Series::new(name, v.as_slice()),
            Col::Date(v) => Series::new(name, v.as_slice()).cast(&DataType::Date)?,
            Col::F64(v) => Series::new(name, v.as_slice()),
            Col::I64(v) => Series::new(name, v.as_slice()),
            Col::Bool(v) => Series::new(name, v.as_slice()),
        };
        Ok(s.into_column())
    }
}

/// A chunk of one table: column names and columns of equal length.
struct Chunk<'a> {
    names: &'static [&'static str],
    cols: Vec<Col<'a>>,
}

impl Chunk<'_> {
    fn height(&self) -> usize {
        self.cols.first().map(Col::len).unwrap_or(0)
    }

    fn to_frame(&self) -> PolarsResult<DataFrame> {
        let cols = self.names.iter().zip(&self.cols).map(|(n, c)| c.to_column(n)).collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new(self.height(), cols)
    }
}

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
                names: PATIENTS,
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
            Chunk { names: MEASUREMENTS, cols: vec![Col::Str(a), Col::Date(b), Col::Str(c), value, Col::Str(e)] }
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
            Chunk { names: FINDINGS, cols: vec![Col::Str(a), Col::Date(b), Col::Str(c), Col::Bool(d)] }
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
                names: TREATMENTS,
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
            Chunk { names: RESPONSES, cols: vec![Col::Str(a), Col::I64(b), Col::Date(c), Col::Str(d)] }
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
            Chunk { names: TRUTH, cols: vec![Col::Str(a), Col::I64(b), Col::Date(c), Col::Date(d), Col::I64(e), Col::Str(f)] }
        }
    }
}

/// Quote a CSV field if it needs it (RFC 4180).
fn csv_field(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// One table's output file.
enum Sink {
    Csv(BufWriter<File>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
}

/// One open table: its final path, temporary path and sink.
struct OutputTable {
    path: PathBuf,
    tmp: PathBuf,
    sink: Sink,
    rows: usize,
}

/// All six tables of a run, open for appending chunks.
pub(crate) struct Writer {
    tables: Vec<OutputTable>,
    qualified: bool,
    /// Last (day, ISO text) formatted, to avoid re-formatting runs of equal dates.
    date_cache: (Day, String),
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Io { path: path.to_path_buf(), message: e.to_string() }
}

fn pq_err(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

impl Writer {
    /// Open every table in `dir` (which must exist).
    pub fn create(dir: &Path, format: SimFormat, qualified: bool) -> Result<Writer, SimError> {
        let mut tables = Vec::with_capacity(TABLES.len());
        for (t, name) in TABLES.iter().enumerate() {
            let path = dir.join(format!("{name}.{}", format.extension()));
            let tmp = dir.join(format!(".{name}.{}.partial", format.extension()));
            let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            let empty = build(t, &[], &[], qualified);
            let sink = match format {
                SimFormat::Csv => {
                    let mut w = BufWriter::with_capacity(1 << 20, file);
                    let mut header = Vec::new();
                    for (i, n) in empty.names.iter().enumerate() {
                        if i > 0 {
                            header.push(b',');
                        }
                        csv_field(n, &mut header);
                    }
                    header.push(b'\n');
                    w.write_all(&header).map_err(|e| io_err(&tmp, e))?;
                    Sink::Csv(w)
                }
                SimFormat::Parquet => {
                    let df = empty.to_frame().map_err(|e| pq_err(&tmp, e))?;
                    let w = ParquetWriter::new(file).batched(df.schema()).map_err(|e| pq_err(&tmp, e))?;
                    Sink::Parquet(Box::new(w))
                }
            };
            tables.push(OutputTable { path, tmp, sink, rows: 0 });
        }
        Ok(Writer { tables, qualified, date_cache: (Day::MIN, String::new()) })
    }

    /// Rows written so far, per table in [`TABLES`] order.
    pub fn rows(&self) -> Vec<usize> {
        self.tables.iter().map(|t| t.rows).collect()
    }

    /// Append one chunk of patients (in order) to every table.
    pub fn write_chunk(&mut self, patients: &[SimPatient]) -> Result<(), SimError> {
        let ids: Vec<String> = patients.iter().map(|p| patient_id(p.index)).collect();
        for t in 0..self.tables.len() {
            let chunk = build(t, patients, &ids, self.qualified);
            let height = chunk.height();
            if height == 0 {
                continue;
            }
            let mut cache = std::mem::take(&mut self.date_cache);
            let table = &mut self.tables[t];
            match &mut table.sink {
                Sink::Csv(w) => write_csv_rows(w, &chunk, &mut cache).map_err(|e| io_err(&table.tmp, e))?,
                Sink::Parquet(w) => {
                    let df = chunk.to_frame().map_err(|e| pq_err(&table.tmp, e))?;
                    w.write_batch(&df).map_err(|e| pq_err(&table.tmp, e))?;
                }
            }
            self.date_cache = cache;
            table.rows += height;
        }
        Ok(())
    }

    /// Flush and close every table, then move them into place. Returns the final paths.
    pub fn finish(self) -> Result<Vec<PathBuf>, SimError> {
        let mut paths = Vec::with_capacity(self.tables.len());
        let mut done = Vec::with_capacity(self.tables.len());
        for table in self.tables {
            match table.sink {
                Sink::Csv(w) => {
                    let file = w.into_inner().map_err(|e| io_err(&table.tmp, e.error()))?;
                    file.sync_all().map_err(|e| io_err(&table.tmp, e))?;
                }
                Sink::Parquet(w) => {
                    w.finish().map_err(|e| pq_err(&table.tmp, e))?;
                }
            }
            done.push((table.tmp, table.path));
        }
        for (tmp, path) in done {
            std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
            paths.push(path);
        }
        Ok(paths)
    }

    /// Remove the temporary files of an abandoned run (best effort).
    pub fn abandon(self) {
        for t in self.tables {
            drop(t.sink);
            let _ = std::fs::remove_file(&t.tmp);
        }
    }
}

fn write_csv_rows(w: &mut BufWriter<File>, chunk: &Chunk, cache: &mut (Day, String)) -> std::io::Result<()> {
    let mut line: Vec<u8> = Vec::with_capacity(128);
    let mut num = String::with_capacity(32);
    for r in 0..chunk.height() {
        line.clear();
        for (i, col) in chunk.cols.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            match col {
                Col::Str(v) => csv_field(v[r], &mut line),
                Col::Text(v) => csv_field(&v[r], &mut line),
                Col::Date(v) => {
                    if let Some(d) = v[r] {
                        if cache.0 != d {
                            *cache = (d, day_to_iso(d));
                        }
                        line.extend_from_slice(cache.1.as_bytes());
                    }
                }
                Col::F64(v) => {
                    let x = v[r];
                    if x.is_finite() {
                        num.clear();
                        use std::fmt::Write as _;
                        let _ = write!(num, "{x}");
                        line.extend_from_slice(num.as_bytes());
                    }
                }
                Col::I64(v) => {
                    num.clear();
                    use std::fmt::Write as _;
                    let _ = write!(num, "{}", v[r]);
                    line.extend_from_slice(num.as_bytes());
                }
                Col::Bool(v) => line.extend_from_slice(if v[r] { b"true" } else { b"false" }),
            }
        }
        line.push(b'\n');
        w.write_all(&line)?;
    }
    Ok(())
}
