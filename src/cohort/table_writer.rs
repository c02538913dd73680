//! The one table writer of the project: tables written chunk by chunk as CSV (header once,
//! then rows) or Parquet (polars' batched writer, one row group per chunk), under a temporary
//! name (`.NAME.EXT.partial`) renamed into place only when every table of a run is complete,
//! so a failed run never leaves a table that looks complete. Used by `hemosurv simulate` (the
//! cohort tables and the OMOP extract) and `hemosurv import omop` (the cohort tables and the
//! audit).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use thiserror::Error;

use super::model::{day_to_iso, Day};
use super::source::Format;

/// A table could not be written.
#[derive(Debug, Clone, Error)]
pub enum WriteError {
    /// File system error.
    #[error("{}: {message}", path.display())]
    Io {
        /// File or folder.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// Parquet encoding error.
    #[error("{}: cannot write parquet: {message}", path.display())]
    Parquet {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

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

/// Quote a CSV field if it needs it (RFC 4180).
fn csv_field(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(crate::io::csv_text::field(s).as_bytes());
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

fn io_err(path: &Path, e: impl std::fmt::Display) -> WriteError {
    WriteError::Io { path: path.to_path_buf(), message: e.to_string() }
}

fn pq_err(path: &Path, e: impl std::fmt::Display) -> WriteError {
    WriteError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

impl TableSink {
    /// Open table `name` in `dir` (which must exist); `empty` gives the column names and types.
    pub(crate) fn create(dir: &Path, name: &str, format: Format, empty: &Chunk) -> Result<TableSink, WriteError> {
        let ext = match format {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        };
        let path = dir.join(format!("{name}.{ext}"));
        let tmp = dir.join(format!(".{name}.{ext}.partial"));
        let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let sink = match format {
            Format::Csv => {
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
            Format::Parquet => {
                let df = empty.to_frame().map_err(|e| pq_err(&tmp, e))?;
                let w = ParquetWriter::new(file).batched(df.schema()).map_err(|e| pq_err(&tmp, e))?;
                Sink::Parquet(Box::new(w))
            }
        };
        Ok(TableSink { path, tmp, sink, rows: 0, date_cache: (Day::MIN, String::new()) })
    }

    /// Append the rows of `chunk` (same columns as at creation; an empty chunk writes nothing).
    pub(crate) fn append(&mut self, chunk: &Chunk) -> Result<(), WriteError> {
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
    pub(crate) fn close(self) -> Result<(PathBuf, PathBuf), WriteError> {
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
pub(crate) fn commit(closed: Vec<(PathBuf, PathBuf)>) -> Result<Vec<PathBuf>, WriteError> {
    let mut paths = Vec::with_capacity(closed.len());
    for (tmp, path) in closed {
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Close every sink (abandoning all of them if one fails) and move them into place.
pub(crate) fn close_all(sinks: Vec<TableSink>) -> Result<Vec<PathBuf>, WriteError> {
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
