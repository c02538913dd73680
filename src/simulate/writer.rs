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
pub(crate) enum Col<'a> {
    /// Borrowed text.
    Str(Vec<&'a str>),
    /// Owned text.
    Text(Vec<String>),
    /// Dates (`None` = empty cell).
    Date(Vec<Option<Day>>),
    /// Numbers (a non-finite value is an empty CSV cell).
    F64(Vec<f64>),
    /// Optional numbers (`None` = empty cell / null).
    OptF64(Vec<Option<f64>>),
    /// Whole numbers.
    I64(Vec<i64>),
    /// Optional whole numbers (`None` = empty cell / null).
    OptI64(Vec<Option<i64>>),
    /// Booleans (`true`/`false`).
    Bool(Vec<bool>),
}

impl Col<'_> {
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::Text(v) => v.len(),
            Col::Date(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::OptF64(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::OptI64(v) => v.len(),
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
            Col::OptF64(v) => Series::new(name, v.as_slice()),
            Col::I64(v) => Series::new(name, v.as_slice()),
            Col::OptI64(v) => Series::new(name, v.as_slice()),
            Col::Bool(v) => Series::new(name, v.as_slice()),
        };
        Ok(s.into_column())
    }
}

/// A chunk of one table: column names and columns of equal length.
pub(crate) struct Chunk<'a> {
    /// Column names.
    pub names: Vec<&'a str>,
    /// Columns, in the order of `names`.
    pub cols: Vec<Col<'a>>,
}

impl Chunk<'_> {
    /// Rows.
    pub(crate) fn height(&self) -> usize {
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

/// One table open for appending chunks: written under a temporary name (`.NAME.EXT.partial`)
/// and renamed into place by [`commit`] once every table of a run is complete. The one table
/// writer of the project: the simulator (cohort and OMOP tables) and `import omop` use it.
pub(crate) struct TableSink {
    path: PathBuf,
    tmp: PathBuf,
    sink: Sink,
    rows: usize,
    /// Last (day, ISO text) formatted, to avoid re-formatting runs of equal dates.
    date_cache: (Day, String),
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Io { path: path.to_path_buf(), message: e.to_string() }
}

fn pq_err(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

impl TableSink {
    /// Open table `name` in `dir` (which must exist); `empty` gives the column names and types.
    /// [`SimFormat::Omop`] tables are CSV.
    pub(crate) fn create(dir: &Path, name: &str, format: SimFormat, empty: &Chunk) -> Result<TableSink, SimError> {
        let ext = format.extension();
        let path = dir.join(format!("{name}.{ext}"));
        let tmp = dir.join(format!(".{name}.{ext}.partial"));
        let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let sink = match format {
            SimFormat::Csv | SimFormat::Omop => {
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
        Ok(TableSink { path, tmp, sink, rows: 0, date_cache: (Day::MIN, String::new()) })
    }

    /// Append the rows of `chunk` (same columns as at creation; an empty chunk writes nothing).
    pub(crate) fn append(&mut self, chunk: &Chunk) -> Result<(), SimError> {
        let height = chunk.height();
        if height == 0 {
            return Ok(());
        }
        match &mut self.sink {
            Sink::Csv(w) => write_csv_rows(w, chunk, &mut self.date_cache).map_err(|e| io_err(&self.tmp, e))?,
            Sink::Parquet(w) => {
                let df = chunk.to_frame().map_err(|e| pq_err(&self.tmp, e))?;
                w.write_batch(&df).map_err(|e| pq_err(&self.tmp, e))?;
            }
        }
        self.rows += height;
        Ok(())
    }

    /// Flush and close the file; returns (temporary path, final path) for [`commit`].
    pub(crate) fn close(self) -> Result<(PathBuf, PathBuf), SimError> {
        match self.sink {
            Sink::Csv(w) => {
                let file = w.into_inner().map_err(|e| io_err(&self.tmp, e.error()))?;
                file.sync_all().map_err(|e| io_err(&self.tmp, e))?;
            }
            Sink::Parquet(w) => {
                w.finish().map_err(|e| pq_err(&self.tmp, e))?;
            }
        }
        Ok((self.tmp, self.path))
    }

    /// Remove the temporary file (best effort).
    pub(crate) fn abandon(self) {
        drop(self.sink);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Move closed tables into place; returns the final paths.
pub(crate) fn commit(closed: Vec<(PathBuf, PathBuf)>) -> Result<Vec<PathBuf>, SimError> {
    let mut paths = Vec::with_capacity(closed.len());
    for (tmp, path) in closed {
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Close every sink (abandoning all of them if one fails) and move them into place.
pub(crate) fn close_all(sinks: Vec<TableSink>) -> Result<Vec<PathBuf>, SimError> {
    let mut closed = Vec::with_capacity(sinks.len());
    let mut sinks = sinks.into_iter();
    while let Some(s) = sinks.next() {
        match s.close() {
            Ok(c) => closed.push(c),
            Err(e) => {
                sinks.for_each(TableSink::abandon);
                for (tmp, _) in closed {
                    let _ = std::fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    commit(closed)
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
                    tables.push(TableSink::create(dir, name, format, &empty)?);
                }
                tables.push(TableSink::create(dir, TABLES[5], format, &build(5, &[], &[], false))?);
                Layout::Omop
            }
            _ => {
                for (t, name) in TABLES.iter().enumerate() {
                    tables.push(TableSink::create(dir, name, format, &build(t, &[], &[], qualified))?);
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
        close_all(self.tables)
    }

    /// Remove the temporary files of an abandoned run (best effort).
    pub fn abandon(self) {
        self.tables.into_iter().for_each(TableSink::abandon);
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
                Col::OptF64(v) => {
                    if let Some(x) = v[r].filter(|x| x.is_finite()) {
                        num.clear();
                        use std::fmt::Write as _;
                        let _ = write!(num, "{x}");
                        line.extend_from_slice(num.as_bytes());
                    }
                }
                Col::OptI64(v) => {
                    if let Some(x) = v[r] {
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
