//! Typed access to the cells of a table read by polars.
//!
//! CSV tables are read with every column as text, Parquet tables keep their
//! types; [`PreparedColumn`] brings a column into one of a few physical shapes for
//! what the loader wants from it (text, number, date, boolean, integer) and
//! [`ColView`] reads one cell at a time, telling a missing cell, a parsed
//! value and an unparseable value (with the text found) apart. Nothing is
//! silently coerced: a text cell that does not parse is [`Cell::Bad`].

use polars::prelude::*;

use super::model::{iso_to_day, Day, Qualifier};

/// The arrow array behind a polars string column.
pub(crate) type StrArr = <StringType as PolarsDataType>::Array;
type F64Arr = <Float64Type as PolarsDataType>::Array;
type I64Arr = <Int64Type as PolarsDataType>::Array;
type I32Arr = <Int32Type as PolarsDataType>::Array;
type BoolArr = <BooleanType as PolarsDataType>::Array;

/// What the loader wants from a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Free text / identifiers / categories.
    Text,
    /// A real number.
    Number,
    /// A calendar date (datetimes are floored to the day).
    Date,
    /// true/false, 1/0, yes/no.
    Bool,
    /// A whole number.
    Integer,
}

/// A column in a physical shape suited to its [`Target`]. [`PreparedColumn::new`]
/// keeps polars' chunks (no copy); [`PreparedColumn::slice`] gives a single chunk,
/// which [`PreparedColumn::view`] needs.
#[derive(Debug, Clone)]
pub(crate) enum PreparedColumn {
    /// Text cells.
    Str(StringChunked),
    /// Real numbers.
    F64(Float64Chunked),
    /// Whole numbers.
    I64(Int64Chunked),
    /// Booleans.
    Bool(BooleanChunked),
    /// Days since 1970-01-01.
    Date(Int32Chunked),
    /// Datetime ticks and ticks per day.
    Datetime(Int64Chunked, i64),
    /// An all-null column of this length.
    Null(usize),
}

fn single<T: PolarsDataType>(ca: &ChunkedArray<T>) -> ChunkedArray<T> {
    ca.rechunk().into_owned()
}

fn keep<T: PolarsDataType>(ca: &ChunkedArray<T>) -> ChunkedArray<T> {
    ca.clone()
}

impl PreparedColumn {
    /// Bring `col` into the shape for `target` (casting Parquet types where lossless).
    pub(crate) fn new(col: &Column, target: Target) -> PolarsResult<PreparedColumn> {
        let s = col.as_materialized_series();
        let dt = s.dtype().clone();
        if dt.is_null() {
            return Ok(PreparedColumn::Null(s.len()));
        }
        let as_text = |s: &Series| -> PolarsResult<PreparedColumn> {
            let c = s.cast(&DataType::String)?;
            Ok(PreparedColumn::Str(keep(c.str()?)))
        };
        let as_f64 = |s: &Series| -> PolarsResult<PreparedColumn> {
            let c = s.cast(&DataType::Float64)?;
            Ok(PreparedColumn::F64(keep(c.f64()?)))
        };
        match target {
            Target::Text => {
                if dt.is_string() {
                    Ok(PreparedColumn::Str(keep(s.str()?)))
                } else {
                    as_text(s)
                }
            }
            Target::Number => {
                if dt.is_numeric() {
                    as_f64(s)
                } else if dt.is_string() {
                    Ok(PreparedColumn::Str(keep(s.str()?)))
                } else {
                    as_text(s)
                }
            }
            Target::Date => match &dt {
                DataType::Date => Ok(PreparedColumn::Date(keep(s.date()?.physical()))),
                DataType::Datetime(tu, _) => {
                    let per_day: i64 = match tu {
                        TimeUnit::Nanoseconds => 86_400_000_000_000,
                        TimeUnit::Microseconds => 86_400_000_000,
                        TimeUnit::Milliseconds => 86_400_000,
                    };
                    Ok(PreparedColumn::Datetime(keep(s.datetime()?.physical()), per_day))
                }
                DataType::String => Ok(PreparedColumn::Str(keep(s.str()?))),
                _ => as_text(s),
            },
            Target::Bool => {
                if dt.is_bool() {
                    Ok(PreparedColumn::Bool(keep(s.bool()?)))
                } else if dt.is_numeric() {
                    as_f64(s)
                } else if dt.is_string() {
                    Ok(PreparedColumn::Str(keep(s.str()?)))
                } else {
                    as_text(s)
                }
            }
            Target::Integer => {
                if dt.is_integer() {
                    let c = s.cast(&DataType::Int64)?;
                    Ok(PreparedColumn::I64(keep(c.i64()?)))
                } else if dt.is_numeric() {
                    as_f64(s)
                } else if dt.is_string() {
                    Ok(PreparedColumn::Str(keep(s.str()?)))
                } else {
                    as_text(s)
                }
            }
        }
    }

    fn n_chunks(&self) -> usize {
        match self {
            PreparedColumn::Str(c) => c.chunks().len(),
            PreparedColumn::F64(c) => c.chunks().len(),
            PreparedColumn::I64(c) => c.chunks().len(),
            PreparedColumn::Bool(c) => c.chunks().len(),
            PreparedColumn::Date(c) => c.chunks().len(),
            PreparedColumn::Datetime(c, _) => c.chunks().len(),
            PreparedColumn::Null(_) => 0,
        }
    }

    /// Rows `offset .. offset + len` as a single chunk.
    pub(crate) fn slice(&self, offset: usize, len: usize) -> PreparedColumn {
        let o = offset as i64;
        match self {
            PreparedColumn::Str(c) => PreparedColumn::Str(single(&c.slice(o, len))),
            PreparedColumn::F64(c) => PreparedColumn::F64(single(&c.slice(o, len))),
            PreparedColumn::I64(c) => PreparedColumn::I64(single(&c.slice(o, len))),
            PreparedColumn::Bool(c) => PreparedColumn::Bool(single(&c.slice(o, len))),
            PreparedColumn::Date(c) => PreparedColumn::Date(single(&c.slice(o, len))),
            PreparedColumn::Datetime(c, d) => PreparedColumn::Datetime(single(&c.slice(o, len)), *d),
            PreparedColumn::Null(n) => PreparedColumn::Null(len.min(n.saturating_sub(offset))),
        }
    }

    /// The whole column as a single chunk.
    pub(crate) fn whole(&self) -> PreparedColumn {
        self.slice(0, self.len())
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            PreparedColumn::Str(c) => c.len(),
            PreparedColumn::F64(c) => c.len(),
            PreparedColumn::I64(c) => c.len(),
            PreparedColumn::Bool(c) => c.len(),
            PreparedColumn::Date(c) => c.len(),
            PreparedColumn::Datetime(c, _) => c.len(),
            PreparedColumn::Null(n) => *n,
        }
    }

    /// Direct access to a single-chunk column without nulls (for hot loops);
    /// [`Raw::Other`] if the column has nulls or another shape.
    pub(crate) fn raw(&self) -> Raw<'_> {
        if self.n_chunks() != 1 {
            return Raw::Other;
        }
        match self {
            PreparedColumn::Str(c) if c.null_count() == 0 => c.downcast_get(0).map_or(Raw::Other, Raw::Str),
            PreparedColumn::Date(c) if c.null_count() == 0 => c.downcast_get(0).map_or(Raw::Other, |a| Raw::Days(a.values())),
            PreparedColumn::F64(c) if c.null_count() == 0 => c.downcast_get(0).map_or(Raw::Other, |a| Raw::F64(a.values())),
            _ => Raw::Other,
        }
    }

    /// A cell reader over this column, which must be a single chunk (from
    /// [`PreparedColumn::slice`] or [`PreparedColumn::whole`]).
    pub(crate) fn view(&self) -> ColView<'_> {
        debug_assert!(self.n_chunks() <= 1, "view of a multi-chunk column");
        match self {
            PreparedColumn::Str(c) => c.downcast_get(0).map_or(ColView::Null, ColView::Str),
            PreparedColumn::F64(c) => c.downcast_get(0).map_or(ColView::Null, ColView::F64),
            PreparedColumn::I64(c) => c.downcast_get(0).map_or(ColView::Null, ColView::I64),
            PreparedColumn::Bool(c) => c.downcast_get(0).map_or(ColView::Null, ColView::Bool),
            PreparedColumn::Date(c) => c.downcast_get(0).map_or(ColView::Null, ColView::Date),
            PreparedColumn::Datetime(c, d) => c.downcast_get(0).map_or(ColView::Null, |a| ColView::Datetime(a, *d)),
            PreparedColumn::Null(_) => ColView::Null,
        }
    }
}

/// Direct access to a null-free column (see [`PreparedColumn::raw`]).
pub(crate) enum Raw<'a> {
    /// Text (every cell valid).
    Str(&'a StrArr),
    /// Days since 1970-01-01.
    Days(&'a [i32]),
    /// Real numbers.
    F64(&'a [f64]),
    /// Anything else: use [`ColView`].
    Other,
}

/// The content of one cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<T> {
    /// Empty (or `NA`).
    Missing,
    /// A parsed value.
    Value(T),
    /// Not parseable; the text found.
    Bad(String),
}

/// Reads cells of one single-chunk column by row index.
#[derive(Clone, Copy)]
pub(crate) enum ColView<'a> {
    /// Text.
    Str(&'a StrArr),
    /// Real numbers.
    F64(&'a F64Arr),
    /// Whole numbers.
    I64(&'a I64Arr),
    /// Booleans.
    Bool(&'a BoolArr),
    /// Days.
    Date(&'a I32Arr),
    /// Datetime ticks, ticks per day.
    Datetime(&'a I64Arr, i64),
    /// Every cell missing (also used for an absent optional column).
    Null,
}

/// A text cell is missing if empty, white space or exactly `NA`.
#[inline]
pub(crate) fn clean(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let t = match (b.first(), b.last()) {
        (None, _) | (_, None) => return None,
        // fast path: no white space (nor any non-ASCII byte) at either end
        (Some(&f), Some(&l)) if f > b' ' && f < 0x80 && l > b' ' && l < 0x80 => s,
        _ => s.trim(),
    };
    if t.is_empty() || t == "NA" {
        None
    } else {
        Some(t)
    }
}

/// Format a number the way it is shown in messages.
fn show(v: f64) -> String {
    format!("{v}")
}

impl<'a> ColView<'a> {
    /// Trimmed text of a cell, `None` if missing. Only meaningful for text columns
    /// (prepared with [`Target::Text`]); other shapes are rendered with [`ColView::raw`].
    #[inline]
    pub(crate) fn text(&self, i: usize) -> Option<&'a str> {
        match *self {
            ColView::Str(a) => a.get(i).and_then(clean),
            _ => None,
        }
    }

    /// The cell as shown to the user (empty if null).
    pub(crate) fn raw(&self, i: usize) -> String {
        match *self {
            ColView::Str(a) => a.get(i).unwrap_or("").to_string(),
            ColView::F64(a) => a.get(i).map(show).unwrap_or_default(),
            ColView::I64(a) => a.get(i).map(|v| v.to_string()).unwrap_or_default(),
            ColView::Bool(a) => a.get(i).map(|v| v.to_string()).unwrap_or_default(),
            ColView::Date(a) => a.get(i).map(super::model::day_to_iso).unwrap_or_default(),
            ColView::Datetime(a, d) => a.get(i).map(|v| super::model::day_to_iso(v.div_euclid(d) as Day)).unwrap_or_default(),
            ColView::Null => String::new(),
        }
    }

    /// A finite real number.
    #[inline]
    pub(crate) fn number(&self, i: usize) -> Cell<f64> {
        match *self {
            ColView::F64(a) => match a.get(i) {
                None => Cell::Missing,
                Some(v) if v.is_finite() => Cell::Value(v),
                Some(v) => Cell::Bad(show(v)),
            },
            ColView::I64(a) => a.get(i).map_or(Cell::Missing, |v| Cell::Value(v as f64)),
            ColView::Str(a) => match a.get(i).and_then(clean) {
                None => Cell::Missing,
                Some(t) => match t.parse::<f64>() {
                    Ok(v) if v.is_finite() => Cell::Value(v),
                    _ => Cell::Bad(t.to_string()),
                },
            },
            ColView::Null => Cell::Missing,
            _ => Cell::Bad(self.raw(i)),
        }
    }

    /// A finite real number, possibly reported as a bound: `>40000`, `> 40000`, `>=40000`,
    /// `<0.1`, `<= 0.1`, `≥5`, `≤5` (text cells only; a numeric column is always exact).
    /// Anything else that is not a number (`>>5`, `~5`, `>`, `> x`) is [`Cell::Bad`].
    #[inline]
    pub(crate) fn qualified_number(&self, i: usize) -> Cell<(Qualifier, f64)> {
        match *self {
            ColView::Str(a) => match a.get(i).and_then(clean) {
                None => Cell::Missing,
                Some(t) => {
                    let (q, rest) = Qualifier::split(t);
                    // The number itself starts with a digit, a sign or a point (`>inf` is bad,
                    // and so is a second qualifier).
                    match rest.parse::<f64>() {
                        Ok(v) if v.is_finite() => Cell::Value((q, v)),
                        _ => Cell::Bad(t.to_string()),
                    }
                }
            },
            _ => match self.number(i) {
                Cell::Value(v) => Cell::Value((Qualifier::None, v)),
                Cell::Missing => Cell::Missing,
                Cell::Bad(s) => Cell::Bad(s),
            },
        }
    }

    /// A calendar day (ISO `YYYY-MM-DD`, a time part is floored).
    #[inline]
    pub(crate) fn day(&self, i: usize) -> Cell<Day> {
        match *self {
            ColView::Date(a) => a.get(i).map_or(Cell::Missing, Cell::Value),
            ColView::Datetime(a, d) => a.get(i).map_or(Cell::Missing, |v| Cell::Value(v.div_euclid(d) as Day)),
            ColView::Str(a) => match a.get(i).and_then(clean) {
                None => Cell::Missing,
                Some(t) => match iso_to_day(t) {
                    Some(d) => Cell::Value(d),
                    None => Cell::Bad(t.to_string()),
                },
            },
            ColView::Null => Cell::Missing,
            _ => Cell::Bad(self.raw(i)),
        }
    }

    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no` (case-insensitive).
    pub(crate) fn boolean(&self, i: usize) -> Cell<bool> {
        match *self {
            ColView::Bool(a) => a.get(i).map_or(Cell::Missing, Cell::Value),
            ColView::F64(a) => match a.get(i) {
                None => Cell::Missing,
                Some(v) => {
                    if v == 1.0 {
                        Cell::Value(true)
                    } else if v == 0.0 {
                        Cell::Value(false)
                    } else {
                        Cell::Bad(show(v))
                    }
                }
            },
            ColView::I64(a) => match a.get(i) {
                None => Cell::Missing,
                Some(1) => Cell::Value(true),
                Some(0) => Cell::Value(false),
                Some(v) => Cell::Bad(v.to_string()),
            },
            ColView::Str(a) => match a.get(i).and_then(clean) {
                None => Cell::Missing,
                Some(t) => match t.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Cell::Value(true),
                    "false" | "0" | "no" => Cell::Value(false),
                    _ => Cell::Bad(t.to_string()),
                },
            },
            ColView::Null => Cell::Missing,
            _ => Cell::Bad(self.raw(i)),
        }
    }

    /// A whole number (a real number with no fractional part is accepted).
    pub(crate) fn integer(&self, i: usize) -> Cell<i64> {
        match *self {
            ColView::I64(a) => a.get(i).map_or(Cell::Missing, Cell::Value),
            ColView::F64(a) => match a.get(i) {
                None => Cell::Missing,
                Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Cell::Value(v as i64),
                Some(v) => Cell::Bad(show(v)),
            },
            ColView::Str(a) => match a.get(i).and_then(clean) {
                None => Cell::Missing,
                Some(t) => match t.parse::<i64>() {
                    Ok(v) => Cell::Value(v),
                    Err(_) => Cell::Bad(t.to_string()),
                },
            },
            ColView::Null => Cell::Missing,
            _ => Cell::Bad(self.raw(i)),
        }
    }
}
