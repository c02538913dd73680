//! Loading the `measurements` table at scale.
//!
//! The table is read in chunks of about [`CHUNK_ROWS`] rows (whole Parquet row
//! groups; a CSV file is parsed at once and then walked in chunks). Each chunk
//! is converted to [`Measurement`]s in parallel (rayon, [`TASK_ROWS`] rows per
//! task) straight into the output vector, and then dropped. Per task,
//! `patient_id` → patient and (`analyte`, `unit`) spelling → conversion are
//! cached, so the unit table is consulted once per distinct spelling and no
//! per-row string is allocated. Issues are collected per task and merged in
//! row order, and unit spellings are numbered in order of first appearance,
//! so the result is the same on every run whatever the thread timing.

use std::mem::MaybeUninit;

use polars::prelude::*;
use rayon::prelude::*;

use super::cells::{clean, Cell, ColView, PreparedColumn, Raw, StrArr, Target};
use super::limits::{is_plausible, plausible_range};
use super::model::{Analyte, Day, Measurement, MeasurementOrder, PatientIdx, Qualifier};
use super::parts::{MeasurementParts, PartOptions};
use super::rows::{follow_up_warning, raw_fields, req_day, unreadable, warn, PatientIndex, PatientRef, RowCheck, Who};
use super::source::{self, Format, InputTable};
use super::units::{parse_analyte, resolve_unit, Conversion};
use super::validation::{IssueKind, Severity, ValidationReport, MAX_STORED_ISSUES, MAX_STORED_REJECTS};

/// What the `value` column holds.
const EXPECT_VALUE: &str =
    "a finite number with a decimal point (e.g. 9.2), optionally after a qualifier <, <=, >, >=, ≤, ≥ (e.g. >40000)";

/// Rows read per chunk (rounded up to whole Parquet row groups).
pub const CHUNK_ROWS: usize = 1 << 21;
/// Rows converted per parallel task.
pub const TASK_ROWS: usize = 1 << 15;

const TABLE: &str = "measurements";
const COLUMNS: [&str; 5] = ["patient_id", "date", "analyte", "value", "unit"];

/// Loaded measurements.
pub(crate) struct MeasurementsOut {
    /// Valid rows, in input order.
    pub measurements: Vec<Measurement>,
    /// Unit spellings as found, in order of first appearance; `Measurement::unit` indexes this.
    pub unit_spellings: Vec<String>,
    /// With [`PartOptions`]: the valid rows, on disk by patient range (`measurements` is then
    /// empty).
    pub parts: Option<MeasurementParts>,
    /// Whether the valid rows came in the cohort's order (then they need no sort).
    pub order: MeasurementOrder,
}

/// Distinct unit spellings in order of first appearance (by row), which
/// makes `Measurement::unit` deterministic. Read-only while a chunk is
/// converted in parallel: a task gives a spelling it does not find a
/// provisional index (`PROVISIONAL + k`), fixed up after the chunk in row order.
#[derive(Default)]
struct UnitRegistry {
    map: PlHashMap<String, u16>,
    spellings: Vec<String>,
}

/// First provisional unit index; real indices are below it.
const PROVISIONAL: u16 = 0x8000;

impl UnitRegistry {
    /// The index of a spelling, adding it if new (`None` if the table is full).
    fn intern(&mut self, spelling: &str) -> Option<u16> {
        if let Some(&i) = self.map.get(spelling) {
            return Some(i);
        }
        let i = u16::try_from(self.spellings.len()).ok().filter(|&i| i < PROVISIONAL)?;
        self.spellings.push(spelling.to_string());
        self.map.insert(spelling.to_string(), i);
        Some(i)
    }
}

/// Slots of the per-task (analyte, unit) cache (a power of two).
const PAIR_SLOTS: usize = 64;

/// Slot in the direct-mapped cache of the (length, 4-byte prefix) halves of
/// the views of an analyte and a unit cell.
#[inline]
fn pair_slot(a: u64, u: u64) -> usize {
    let x = a ^ u.rotate_left(29);
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize & (PAIR_SLOTS - 1)
}

/// What an (analyte, unit) spelling pair resolves to.
#[derive(Clone, Copy)]
enum Resolved {
    Ok { analyte: Analyte, conversion: Conversion, unit: u16 },
    BadAnalyte,
    BadUnit(Analyte),
    TooManySpellings,
}

/// Load and validate `measurements`. `None` if the table is structurally unusable (reported).
/// With `parts`, the valid rows are written to disk by patient range as each chunk is
/// converted, instead of kept (so the table's rows are never all in memory as measurements).
pub(crate) fn load_measurements(
    tf: &InputTable,
    index: &PatientIndex<'_>,
    report: &mut ValidationReport,
    parts: Option<&PartOptions>,
) -> Option<MeasurementsOut> {
    load_measurements_chunked(tf, index, report, CHUNK_ROWS, parts)
}

/// Where converted rows go: kept in memory, or written to the parts chunk by chunk.
struct RowSink<'a> {
    tf: &'a InputTable,
    parts: Option<MeasurementParts>,
    options: Option<&'a PartOptions>,
    patients: usize,
}

impl RowSink<'_> {
    /// Called before the first chunk with the table's row count.
    fn start(&mut self, out: &mut Vec<Measurement>, rows: usize, report: &mut ValidationReport) -> Option<()> {
        match self.options {
            None => out.reserve_exact(rows),
            Some(o) => match MeasurementParts::create(o, self.patients, rows) {
                Ok(p) => self.parts = Some(p),
                Err(e) => {
                    report.push(write_error(self.tf, &o.dir, &e));
                    return None;
                }
            },
        }
        Some(())
    }

    /// Called after each chunk: hand the rows to the parts (`spellings`: the unit spellings
    /// their `unit` indexes, for the conversion the parts check and recompute).
    fn flush(&mut self, out: &mut Vec<Measurement>, spellings: &[String], report: &mut ValidationReport) -> Option<()> {
        if let Some(parts) = &mut self.parts {
            let conversion_of = |a: Analyte, u: u16| {
                spellings.get(usize::from(u)).and_then(|s| resolve_unit(a, s).ok()).map(|def| def.conversion)
            };
            if let Err(e) = parts.push(out, conversion_of) {
                report.push(write_error(self.tf, parts.dir(), &e));
                return None;
            }
            out.clear();
        }
        Some(())
    }

    /// Called after the last chunk.
    fn finish(&mut self, report: &mut ValidationReport) -> Option<Option<MeasurementParts>> {
        if let Some(parts) = &mut self.parts {
            if let Err(e) = parts.finish() {
                report.push(write_error(self.tf, parts.dir(), &e));
                return None;
            }
        }
        Some(self.parts.take())
    }
}

/// The issue of a part file that cannot be written.
fn write_error(tf: &InputTable, dir: &std::path::Path, e: &std::io::Error) -> super::validation::Issue {
    source::table_issue(
        Severity::Error,
        IssueKind::UnreadableTable,
        TABLE,
        None,
        format!("cannot write the measurements of {} by patient to {}: {e}", tf.path.display(), dir.display()),
    )
}

/// [`load_measurements`] with a given chunk size (rows).
fn load_measurements_chunked(
    tf: &InputTable,
    index: &PatientIndex<'_>,
    report: &mut ValidationReport,
    chunk_rows: usize,
    parts: Option<&PartOptions>,
) -> Option<MeasurementsOut> {
    let mut sink = RowSink { tf, parts: None, options: parts, patients: index.follow.len() };
    let actual = super::rows::table_columns(tf, report)?;
    let bound = source::bind_columns(TABLE, &actual, &COLUMNS, &[], report)?;
    let names: Vec<String> = bound.into_iter().flatten().collect();
    let mut registry = UnitRegistry::default();
    let mut out: Vec<Measurement> = Vec::new();
    let mut order = MeasurementOrder::default();
    let mut rows_done = 0usize;
    match tf.format {
        Format::Parquet => {
            let groups = match source::parquet_row_groups(&tf.path) {
                Ok(g) => g,
                Err(e) => {
                    report.push(unreadable(tf, &e));
                    return None;
                }
            };
            sink.start(&mut out, groups.iter().sum(), report)?;
            let mut slices = Vec::new();
            let (mut off, mut len) = (0usize, 0usize);
            for g in groups {
                len += g;
                if len >= chunk_rows {
                    slices.push((off, len));
                    off += len;
                    len = 0;
                }
            }
            if len > 0 {
                slices.push((off, len));
            }
            // A reader thread reads the next chunk while this one is converted.
            let ok = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<PolarsResult<DataFrame>>(1);
                let names = &names;
                scope.spawn(move || {
                    for (off, len) in slices {
                        let r = source::read_parquet_slice(tf, names, off, len);
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            break;
                        }
                    }
                });
                for r in rx {
                    let df = match r {
                        Ok(df) => df,
                        Err(e) => {
                            report.push(unreadable(tf, &e));
                            return false;
                        }
                    };
                    let Some(chunk_order) = convert_chunk(tf, &df, rows_done, index, &mut registry, &mut out, report) else {
                        return false;
                    };
                    order = order.then(chunk_order);
                    if sink.flush(&mut out, &registry.spellings, report).is_none() {
                        return false;
                    }
                    rows_done += df.height();
                }
                true
            });
            if !ok {
                return None;
            }
        }
        Format::Csv => {
            let df = match source::read_columns(tf, &names) {
                Ok(df) => df,
                Err(e) => {
                    report.push(unreadable(tf, &e));
                    return None;
                }
            };
            sink.start(&mut out, df.height(), report)?;
            while rows_done < df.height() {
                let chunk = df.slice(rows_done as i64, chunk_rows);
                order = order.then(convert_chunk(tf, &chunk, rows_done, index, &mut registry, &mut out, report)?);
                sink.flush(&mut out, &registry.spellings, report)?;
                rows_done += chunk.height();
            }
        }
    }

    let unit_spellings = registry.spellings;
    let parts = sink.finish(report)?;
    let loaded = parts.as_ref().map_or(out.len() as u64, MeasurementParts::total_rows);

    let counts = report.table_mut(TABLE);
    counts.rows = rows_done as u64;
    counts.loaded = loaded;
    Some(MeasurementsOut { measurements: out, unit_spellings, parts, order })
}

/// Convert one chunk (rows `base + 1 ..` of the table) and append the valid rows to `out`;
/// returns the order of the rows appended.
fn convert_chunk(
    tf: &InputTable,
    df: &DataFrame,
    base: usize,
    index: &PatientIndex<'_>,
    registry: &mut UnitRegistry,
    out: &mut Vec<Measurement>,
    report: &mut ValidationReport,
) -> Option<MeasurementOrder> {
    let targets = [Target::Text, Target::Date, Target::Text, Target::Number, Target::Text];
    let mut cols = Vec::with_capacity(5);
    for (c, t) in df.columns().iter().zip(targets) {
        match PreparedColumn::new(c, t) {
            Ok(p) => cols.push(p),
            Err(e) => {
                report.push(unreadable(tf, &e));
                return None;
            }
        }
    }
    let h = df.height();
    let start = out.len();
    out.reserve(h);
    let room = MAX_STORED_ISSUES.saturating_sub(report.issues.len());
    let reject_room = MAX_STORED_REJECTS.saturating_sub(report.rejects.len());
    // Tasks of at most TASK_ROWS rows that do not straddle the chunks polars
    // produced (row groups), so slicing a task's columns copies nothing.
    let mut bounds = Vec::new();
    let mut at = 0usize;
    let chunk_lengths: Vec<usize> = match df.columns().first() {
        Some(c) => c.as_materialized_series().chunk_lengths().collect(),
        None => vec![h],
    };
    for len in chunk_lengths.into_iter().chain(std::iter::once(h)) {
        let end = (at + len).min(h);
        while at < end {
            let n = (end - at).min(TASK_ROWS);
            bounds.push((at, n));
            at += n;
        }
    }
    let mut pieces = Vec::with_capacity(bounds.len());
    let mut rest = &mut out.spare_capacity_mut()[..h];
    for &(off, n) in &bounds {
        let (piece, tail) = rest.split_at_mut(n);
        pieces.push((off, piece));
        rest = tail;
    }
    let shared: &UnitRegistry = registry;
    let results: Vec<TaskOut> = pieces
        .into_par_iter()
        .map(|(off, slots)| {
            let sliced: Vec<PreparedColumn> = cols.iter().map(|c| c.slice(off, slots.len())).collect();
            convert_task(&sliced, slots, base + off, index, shared, (room, reject_room))
        })
        .collect();
    // Each task wrote its valid rows to the front of its region: pack the regions.
    let spare = &mut out.spare_capacity_mut()[..h];
    let mut w = 0;
    let mut fixups = Vec::new();
    let mut order = MeasurementOrder::default();
    for (&(src, _), task) in bounds.iter().zip(results) {
        order = order.then(task.order);
        let kept = task.kept;
        if w != src {
            spare.copy_within(src..src + kept, w);
        }
        if !task.new_units.is_empty() {
            fixups.push((start + w, kept, task.new_units));
        }
        w += kept;
        report.merge(task.report);
    }
    // SAFETY: the `w` slots after `start` are initialised: every task wrote
    // (`MaybeUninit::write`) the first `kept` slots of its region, and the
    // loop above moved those initialised runs down in order, contiguously.
    unsafe { out.set_len(start + w) };
    // New unit spellings get their indices in row order.
    let mut overflow = false;
    for (at, kept, new_units) in fixups {
        let remap: Vec<u16> = new_units.iter().map(|u| registry.intern(u).unwrap_or(u16::MAX)).collect();
        for m in &mut out[at..at + kept] {
            if m.unit >= PROVISIONAL {
                m.unit = remap[(m.unit - PROVISIONAL) as usize];
                overflow |= m.unit == u16::MAX;
            }
        }
    }
    if overflow {
        // More distinct spellings than indices: never silently keep a row
        // without its unit.
        let before = out.len();
        out.retain(|m| m.unit != u16::MAX);
        let lost = (before - out.len()) as u64;
        report.push(source::table_issue(
            Severity::Error,
            IssueKind::BadUnit,
            TABLE,
            Some("unit"),
            format!("more than {PROVISIONAL} distinct unit spellings; {lost} row(s) with further spellings rejected"),
        ));
        for _ in 0..lost {
            report.count_reject(TABLE);
        }
    }
    // Removing rows keeps the rest in order.
    Some(order)
}

/// Convert rows `base + 1 .. base + slots.len()` into `slots` (valid rows
/// packed at the front); returns how many are valid, and the task's issues.
///
/// Rows go through a fast path (typed Parquet columns without nulls, cached
/// patient and unit lookups, no problem); any row the fast path cannot
/// vouch for is redone by the general path, which records every problem.
fn convert_task(
    cols: &[PreparedColumn],
    slots: &mut [MaybeUninit<Measurement>],
    base: usize,
    index: &PatientIndex<'_>,
    registry: &UnitRegistry,
    (room, reject_room): (usize, usize),
) -> TaskOut {
    let v: Vec<ColView<'_>> = cols.iter().map(PreparedColumn::view).collect();
    let mut task = Task {
        v: [v[0], v[1], v[2], v[3], v[4]],
        raw_views: COLUMNS.iter().copied().zip(v.iter().copied()).collect(),
        index,
        registry,
        new_units: Vec::new(),
        units: PlHashMap::default(),
        check: RowCheck::new(TABLE),
        report: ValidationReport::default(),
        qualified: [0; Analyte::ALL.len()],
        room,
        reject_room,
        base,
    };
    let mut kept = 0usize;
    let mut order = MeasurementOrder::default();
    // The value column: numbers, or text (a Parquet string column, e.g. with qualified values).
    let fast_values = match cols[3].raw() {
        Raw::F64(v) => Some(FastValues::F64(v)),
        Raw::Str(a) => Some(FastValues::Str(a)),
        _ => None,
    };
    match (cols[0].raw(), cols[1].raw(), cols[2].raw(), fast_values, cols[4].raw()) {
        (Raw::Str(ids), Raw::Days(days), Raw::Str(an), Some(vals), Raw::Str(un)) => {
            let (idv, anv, unv) = (ids.views(), an.views(), un.views());
            let mut last_id: Option<(u128, PatientIdx, Day)> = None;
            let mut cache: [Option<FastUnit<'_>>; PAIR_SLOTS] = [None; PAIR_SLOTS];
            for i in 0..slots.len() {
                let fast = 'fast: {
                    let key = idv[i].as_u128();
                    let (p, end) = match last_id {
                        Some((k, p, end)) if k == key => (p, end),
                        _ => {
                            let Some(id) = clean(ids.value(i)) else { break 'fast None };
                            // Input sorted like `patients` needs no hash lookup:
                            // try the patient after the previous one first.
                            let next = last_id.map_or(0, |(_, p, _)| p as usize + 1);
                            let p = if index.ids.get(next) == Some(&id) {
                                next as PatientIdx
                            } else {
                                match index.map.get(id) {
                                    Some(r) if r.idx != PatientRef::REJECTED => r.idx,
                                    _ => break 'fast None,
                                }
                            };
                            let (last, death) = index.follow[p as usize];
                            let end = death.unwrap_or(last);
                            last_id = Some((key, p, end));
                            (p, end)
                        }
                    };
                    let (ak, uk) = (anv[i].as_u128(), unv[i].as_u128());
                    // slot from length and 4-byte prefix of both cells; equal
                    // views are a hit, otherwise compare the text itself
                    let slot = pair_slot(ak as u64, uk as u64);
                    let unit = match cache[slot] {
                        Some(f) if f.analyte_view == ak && f.unit_view == uk => f,
                        Some(f) if f.analyte_raw == an.value(i) && f.unit_raw == un.value(i) => f,
                        _ => {
                            let (ar, ur) = (an.value(i), un.value(i));
                            let (Some(a), Some(u)) = (clean(ar), clean(ur)) else { break 'fast None };
                            let Resolved::Ok { analyte, conversion, unit } = task.resolve(a, u) else { break 'fast None };
                            let (lo, hi) = plausible_range(analyte);
                            let f = FastUnit {
                                analyte_view: ak,
                                unit_view: uk,
                                analyte_raw: ar,
                                unit_raw: ur,
                                analyte,
                                conversion,
                                unit,
                                lo,
                                hi,
                            };
                            cache[slot] = Some(f);
                            f
                        }
                    };
                    let (qualifier, raw_value) = match vals {
                        FastValues::F64(v) => (Qualifier::None, v[i]),
                        FastValues::Str(a) => match fast_text_value(a.value(i)) {
                            Some(x) => x,
                            None => break 'fast None,
                        },
                    };
                    let day = days[i];
                    if !raw_value.is_finite() || day > end {
                        break 'fast None;
                    }
                    let value = unit.conversion.apply(raw_value);
                    if !(value >= unit.lo && value <= unit.hi) {
                        break 'fast None;
                    }
                    let row = (base + i + 1) as u32;
                    Some(Measurement {
                        patient: p,
                        day,
                        analyte: unit.analyte,
                        unit: unit.unit,
                        value,
                        raw_value,
                        row,
                        qualifier,
                    })
                };
                if let Some(m) = &fast {
                    if m.qualifier.is_qualified() {
                        task.qualified[m.analyte as usize] += 1;
                    }
                }
                if let Some(m) = fast.or_else(|| task.general_row(i)) {
                    order.push(&m);
                    slots[kept].write(m);
                    kept += 1;
                }
            }
        }
        _ => {
            for i in 0..slots.len() {
                if let Some(m) = task.general_row(i) {
                    order.push(&m);
                    slots[kept].write(m);
                    kept += 1;
                }
            }
        }
    }
    let mut report = task.report;
    report.truncate_issues(room);
    for (a, &n) in Analyte::ALL.iter().zip(&task.qualified) {
        if n > 0 {
            report.count_qualified(a.name(), n);
        }
    }
    TaskOut { kept, order, report, new_units: task.new_units.iter().map(|u| u.to_string()).collect() }
}

/// The value column in the fast path.
#[derive(Clone, Copy)]
enum FastValues<'a> {
    /// A numeric column.
    F64(&'a [f64]),
    /// A text column (every cell valid).
    Str(&'a StrArr),
}

/// A value cell of a text column as the fast path reads it: a plain number, or a qualifier and
/// a number (`>40000`); `None` for anything else (the general path reports it). Agrees with
/// [`ColView::qualified_number`] on every cell it accepts.
#[inline]
fn fast_text_value(cell: &str) -> Option<(Qualifier, f64)> {
    let t = clean(cell)?;
    if let Ok(v) = t.parse::<f64>() {
        return Some((Qualifier::None, v));
    }
    match Qualifier::split(t) {
        (Qualifier::None, _) => None,
        (q, rest) => rest.parse::<f64>().ok().map(|v| (q, v)),
    }
}

/// Result of one conversion task.
struct TaskOut {
    /// Valid rows written to the front of the task's region.
    kept: usize,
    /// The order of those rows.
    order: MeasurementOrder,
    /// The task's issues and rejects.
    report: ValidationReport,
    /// Spellings given provisional indices `PROVISIONAL + k`, in order.
    new_units: Vec<String>,
}

/// A resolved (analyte, unit) pair in the fast-path cache: the raw cell
/// views and text it was resolved from.
#[derive(Clone, Copy)]
struct FastUnit<'a> {
    analyte_view: u128,
    unit_view: u128,
    analyte_raw: &'a str,
    unit_raw: &'a str,
    analyte: Analyte,
    conversion: Conversion,
    unit: u16,
    lo: f64,
    hi: f64,
}

/// State of one conversion task.
struct Task<'a> {
    v: [ColView<'a>; 5],
    raw_views: Vec<(&'static str, ColView<'a>)>,
    index: &'a PatientIndex<'a>,
    registry: &'a UnitRegistry,
    new_units: Vec<&'a str>,
    units: PlHashMap<(&'a str, &'a str), Resolved>,
    check: RowCheck<'static>,
    report: ValidationReport,
    /// Loaded rows with a qualified value, by analyte.
    qualified: [u64; Analyte::ALL.len()],
    room: usize,
    reject_room: usize,
    base: usize,
}

impl<'a> Task<'a> {
    /// Resolve an (analyte, unit) spelling pair, once per distinct pair.
    fn resolve(&mut self, analyte: &'a str, unit: &'a str) -> Resolved {
        if let Some(&r) = self.units.get(&(analyte, unit)) {
            return r;
        }
        let r = match parse_analyte(analyte) {
            Err(_) => Resolved::BadAnalyte,
            Ok(a) => match resolve_unit(a, unit) {
                Err(_) => Resolved::BadUnit(a),
                Ok(def) => match self.unit_index(unit) {
                    Some(u) => Resolved::Ok { analyte: a, conversion: def.conversion, unit: u },
                    None => Resolved::TooManySpellings,
                },
            },
        };
        self.units.insert((analyte, unit), r);
        r
    }

    /// Index of a unit spelling: the registry's, or a provisional one.
    fn unit_index(&mut self, unit: &'a str) -> Option<u16> {
        if let Some(&i) = self.registry.map.get(unit) {
            return Some(i);
        }
        let k = match self.new_units.iter().position(|u| *u == unit) {
            Some(k) => k,
            None => {
                self.new_units.push(unit);
                self.new_units.len() - 1
            }
        };
        if self.registry.spellings.len() + k >= PROVISIONAL as usize {
            return None;
        }
        Some(PROVISIONAL + k as u16)
    }

    /// Check and convert row `i` of the task, recording every problem.
    fn general_row(&mut self, i: usize) -> Option<Measurement> {
        let [vid, vdate, van, vval, vunit] = self.v;
        let row = (self.base + i + 1) as u64;
        self.check.start(row);
        let who = self.index.lookup(vid.text(i), &mut self.check);
        let day = req_day(&vdate, i, "date", &mut self.check);
        let resolved = match (van.text(i), vunit.text(i)) {
            (Some(a), Some(u)) => match self.resolve(a, u) {
                Resolved::Ok { analyte, conversion, unit } => Some((analyte, conversion, unit)),
                Resolved::BadAnalyte => {
                    let msg = parse_analyte(a).err().map(|e| e.to_string()).unwrap_or_default();
                    let known = Analyte::ALL.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ");
                    self.check.error(IssueKind::BadValue, "analyte", Some(format!("one of {known}")), Some(a.to_string()), msg);
                    None
                }
                Resolved::BadUnit(an) => {
                    let msg = resolve_unit(an, u).err().map(|e| e.to_string()).unwrap_or_default();
                    self.check.error(
                        IssueKind::BadUnit,
                        "unit",
                        Some(format!("a unit for {an}: {}", super::units::accepted_spellings(an).join(", "))),
                        Some(u.to_string()),
                        msg,
                    );
                    None
                }
                Resolved::TooManySpellings => {
                    self.check.error(
                        IssueKind::BadUnit,
                        "unit",
                        None,
                        Some(u.to_string()),
                        "more than 65 535 distinct unit spellings".to_string(),
                    );
                    None
                }
            },
            (a, u) => {
                if a.is_none() {
                    self.check.missing("analyte", "an analyte name");
                }
                if u.is_none() {
                    self.check.missing("unit", "a unit");
                }
                None
            }
        };
        let (qualifier, raw_value) = match vval.qualified_number(i) {
            Cell::Value((q, x)) => (q, Some(x)),
            Cell::Missing => {
                self.check.missing("value", EXPECT_VALUE);
                (Qualifier::None, None)
            }
            Cell::Bad(s) => {
                self.check.bad(IssueKind::BadValue, "value", EXPECT_VALUE, &s);
                (Qualifier::None, None)
            }
        };
        // A finite value that overflows in the conversion (e.g. 1e308 µkat/L).
        let value = match (resolved, raw_value) {
            (Some((analyte, conversion, _)), Some(raw)) => {
                let v = conversion.apply(raw);
                if !v.is_finite() {
                    let canonical = analyte.canonical_unit();
                    self.check.error(
                        IssueKind::BadValue,
                        "value",
                        Some(format!("a value that is finite in {canonical}")),
                        Some(format!("{raw}")),
                        format!("value {raw} is out of range once converted to {canonical}"),
                    );
                }
                Some(v)
            }
            _ => None,
        };
        let raw_views = &self.raw_views;
        if !self.check.finish_with_room(&mut self.report, self.room, self.reject_room, || raw_fields(raw_views, i)) {
            return None;
        }
        let (Who::Kept(p), Some(day), Some((analyte, _, unit)), Some(raw_value), Some(value)) =
            (who, day, resolved, raw_value, value)
        else {
            return None;
        };
        if !is_plausible(analyte, value) {
            if self.report.issues.len() < self.room {
                let (lo, hi) = plausible_range(analyte);
                let canonical = analyte.canonical_unit();
                warn(
                    &mut self.report,
                    IssueKind::ImplausibleValue,
                    TABLE,
                    row,
                    "value",
                    Some(format!("{lo} to {hi} {canonical}")),
                    Some(format!("{value} {canonical}")),
                    format!(
                        "implausible {analyte} {qualifier}{value} {canonical} (given as {qualifier}{raw_value} {}); expected {lo} to {hi} {canonical}",
                        vunit.text(i).unwrap_or("")
                    ),
                );
            } else {
                self.report.count_only(Severity::Warning, IssueKind::ImplausibleValue, TABLE);
            }
        }
        let (last, death) = self.index.follow[p as usize];
        if day > death.unwrap_or(last) {
            if self.report.issues.len() < self.room {
                follow_up_warning(&mut self.report, self.index, p, day, TABLE, row, "measurement");
            } else {
                let kind = if death.is_some() { IssueKind::AfterDeath } else { IssueKind::AfterLastContact };
                self.report.count_only(Severity::Warning, kind, TABLE);
            }
        }
        if qualifier.is_qualified() {
            self.qualified[analyte as usize] += 1;
        }
        Some(Measurement { patient: p, day, analyte, unit, value, raw_value, row: row as u32, qualifier })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::model::Patient;
    use crate::cohort::rows::PatientsOut;

    /// The fast path reads a text value cell exactly as the general path does.
    #[test]
    fn fast_text_values_agree_with_the_general_path() {
        let cells = [
            "9.2", " 9.2 ", "+5", "-1", "1e3", ">40000", "> 40000", ">=1e5", "≥ 5", "≤0.1", "<0.1", "<= 0.1", ">>5", "~5", ">",
            "> x", "5>", "=>5", "<inf", "inf", "NaN", "", "NA", "9,2", "≥≥5", "> 5 5",
        ];
        let col: Column = Series::new("value".into(), cells.to_vec()).into();
        let prepared = PreparedColumn::new(&col, Target::Number).expect("prepared").whole();
        let view = prepared.view();
        for (i, c) in cells.iter().enumerate() {
            let general = match view.qualified_number(i) {
                Cell::Value((q, v)) if v.is_finite() => Some((q, v)),
                _ => None,
            };
            let fast = fast_text_value(c).filter(|(_, v)| v.is_finite());
            assert_eq!(fast, general, "{c:?}");
        }
        assert_eq!(fast_text_value("> 40000"), Some((Qualifier::Gt, 40000.0)));
    }

    /// 50 000 rows in row groups of 3 000: loading in chunks of ~10 000 rows
    /// (several reads, tasks and late new unit spellings) gives exactly what
    /// loading in one chunk gives.
    #[test]
    fn chunked_loading_matches_single_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = 50_000usize;
        let ids: Vec<String> = (0..n).map(|i| format!("Q{}", i / 500)).collect();
        let days: Vec<i32> = (0..n).map(|i| 18_000 + (i % 500) as i32).collect();
        let units: Vec<&str> = (0..n)
            .map(|i| match i {
                _ if i % 1009 == 0 => "bogus",
                _ if i >= 30_000 && i % 3 == 0 => "g%",
                _ if i >= 41_000 && i % 5 == 0 => "mmol/L",
                _ if i % 2 == 0 => "g/dL",
                _ => "g/L",
            })
            .collect();
        let values: Vec<f64> = (0..n).map(|i| 5.0 + (i % 11) as f64).collect();
        let mut df = DataFrame::new_infer_height(vec![
            Series::new("patient_id".into(), ids).into(),
            Series::new("date".into(), days).cast(&DataType::Date).expect("date").into(),
            Series::new("analyte".into(), vec!["hemoglobin"; n]).into(),
            Series::new("value".into(), values).into(),
            Series::new("unit".into(), units).into(),
        ])
        .expect("frame");
        let path = dir.path().join("measurements.parquet");
        let f = std::fs::File::create(&path).expect("create");
        ParquetWriter::new(f).with_row_group_size(Some(3_000)).finish(&mut df).expect("write");
        let tf = InputTable { table: "measurements", path, format: Format::Parquet };

        let patients: Vec<Patient> = (0..100)
            .map(|p| Patient {
                id: format!("Q{p}").into(),
                diagnosis: 17_000,
                last_contact: 20_000,
                death: None,
                sex: None,
                age: None,
            })
            .collect();
        let rows = (1..=100).collect();
        let out = PatientsOut { patients, covariates: Default::default(), rows, rejected: vec![("Q999".to_string(), 101)] };
        let index = PatientIndex::new(&out);

        let mut r1 = ValidationReport::default();
        let one = load_measurements_chunked(&tf, &index, &mut r1, usize::MAX, None).expect("loads");
        let mut r2 = ValidationReport::default();
        let many = load_measurements_chunked(&tf, &index, &mut r2, 10_000, None).expect("loads");
        assert_eq!(one.measurements, many.measurements);
        assert_eq!(one.unit_spellings, many.unit_spellings);
        assert_eq!(r1, r2);
        // order of first appearance (row 1 is rejected, row 2 is g/L)
        assert_eq!(many.unit_spellings, ["g/L", "g/dL", "g%", "mmol/L"]);
        let bad = n.div_ceil(1009);
        assert_eq!(r2.error_count, bad as u64);
        assert_eq!(many.measurements.len(), n - bad);
        for m in &many.measurements {
            let i = m.row as usize - 1;
            let raw = 5.0 + (i % 11) as f64;
            let (unit, value) = match many.unit_spellings[m.unit as usize].as_str() {
                "g%" | "g/dL" => (if i >= 30_000 && i % 3 == 0 { "g%" } else { "g/dL" }, raw * 10.0),
                "mmol/L" => ("mmol/L", raw * 16.1145),
                other => (other, raw),
            };
            assert_eq!(many.unit_spellings[m.unit as usize], unit, "row {}", m.row);
            assert_eq!(m.value, value, "row {}", m.row);
            assert_eq!(m.patient as usize, i / 500);
        }
    }
}
