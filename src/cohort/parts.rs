//! Measurements kept on disk by patient range, so that a run's memory does not grow with the
//! number of measurement rows.
//!
//! While the `measurements` table is loaded, every converted row (exactly the row the in-memory
//! path keeps) is appended to the file of its *part*: a contiguous range of patient indices.
//! Detection then reads one part at a time ([`MeasurementParts::read`]), sorted as
//! [`super::Cohort::new`] sorts the whole table, and drops it before the next. Concatenating
//! the parts in order gives exactly the in-memory table, so the results are the same bytes.
//!
//! Records are fixed 24-byte little-endian rows in files of this process's own; the folder is
//! removed when the parts are dropped. A record holds the value as given (`raw_value`), not the
//! canonical one: that is recomputed on reading with the row's unit conversion, exactly as the
//! loader computed it (checked bit for bit when the row is stored), so the parts are a quarter
//! smaller than the measurements in memory (37 instead of 49 GB of disk writes at 10 M
//! patients).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::model::{Analyte, Measurement, PatientIdx, Qualifier};
use super::units::Conversion;

/// Bytes of one stored measurement.
const RECORD: usize = 24;

/// Bytes of a part file read and decoded at a time (a multiple of [`RECORD`]).
const READ_BLOCK: usize = RECORD << 17;

/// Stands in for an undecodable record while a block is decoded (the read then fails).
const FILLER: Measurement = Measurement {
    patient: 0,
    day: 0,
    analyte: Analyte::Temperature,
    unit: 0,
    value: 0.0,
    raw_value: 0.0,
    row: 0,
    qualifier: Qualifier::None,
};

/// Default measurement rows per part: about 128 MB of measurements in memory at a time.
pub const DEFAULT_ROWS_PER_PART: usize = 1 << 22;

/// How a streamed load lays out its measurement parts.
#[derive(Debug, Clone)]
pub struct PartOptions {
    /// Folder for the part files (created; removed with the parts).
    pub dir: PathBuf,
    /// Aimed-at measurement rows per part (the memory one part needs is about 32 bytes per row,
    /// twice while it is sorted; 24 bytes per row on disk).
    pub rows_per_part: usize,
    /// Parts hold a multiple of this many patients (detection's chunk size, so that its
    /// chunks are the same as in memory).
    pub align_patients: usize,
    /// At most this many parts (open files while loading).
    pub max_parts: usize,
}

impl PartOptions {
    /// Default layout in `dir`: [`DEFAULT_ROWS_PER_PART`] rows per part, at most 512 parts.
    pub fn in_dir(dir: PathBuf, align_patients: usize) -> PartOptions {
        PartOptions { dir, rows_per_part: DEFAULT_ROWS_PER_PART, align_patients, max_parts: 512 }
    }

    /// Patients per part for a table of `rows` rows over `patients` patients.
    fn patients_per_part(&self, patients: usize, rows: usize) -> usize {
        let align = self.align_patients.max(1);
        let by_rows = if rows == 0 { patients } else { (patients as u128 * self.rows_per_part as u128 / rows as u128) as usize };
        let at_least = patients.div_ceil(self.max_parts.max(1));
        by_rows.max(at_least).max(1).div_ceil(align) * align
    }
}

/// The measurements of a cohort, on disk by patient range.
pub struct MeasurementParts {
    dir: PathBuf,
    n_patients: usize,
    patients_per_part: usize,
    rows: Vec<u64>,
    writers: Vec<BufWriter<File>>,
    /// The unit conversion of each (unit spelling, analyte) stored, at
    /// `unit × Analyte::ALL.len() + analyte`: gives back `value` from `raw_value`.
    conversions: Vec<Option<Conversion>>,
}

impl std::fmt::Debug for MeasurementParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeasurementParts")
            .field("dir", &self.dir)
            .field("patients_per_part", &self.patients_per_part)
            .field("rows", &self.rows)
            .finish()
    }
}

impl MeasurementParts {
    /// Create the (empty) parts for `patients` patients and about `rows` rows.
    pub(crate) fn create(opts: &PartOptions, patients: usize, rows: usize) -> std::io::Result<MeasurementParts> {
        std::fs::create_dir_all(&opts.dir)?;
        let per = opts.patients_per_part(patients, rows);
        let n_parts = patients.div_ceil(per).max(1);
        let mut parts = MeasurementParts {
            dir: opts.dir.clone(),
            n_patients: patients,
            patients_per_part: per,
            rows: vec![0; n_parts],
            writers: Vec::new(),
            conversions: Vec::new(),
        };
        for k in 0..n_parts {
            parts.writers.push(BufWriter::with_capacity(1 << 16, File::create(parts.path(k))?));
        }
        Ok(parts)
    }

    fn path(&self, k: usize) -> PathBuf {
        self.dir.join(format!("part-{k:05}.bin"))
    }

    /// Append rows (any patients, in input order) to their parts. `conversion_of(analyte, unit)`
    /// is the conversion the loader applied to rows of that analyte and unit spelling; a row
    /// whose `value` is not exactly that conversion of its `raw_value` (or without one) is an
    /// `InvalidData` error, never stored.
    pub(crate) fn push(
        &mut self,
        measurements: &[Measurement],
        conversion_of: impl Fn(Analyte, u16) -> Option<Conversion>,
    ) -> std::io::Result<()> {
        for m in measurements {
            let slot = conversion_slot(m.analyte, m.unit);
            if slot >= self.conversions.len() {
                self.conversions.resize(slot + 1, None);
            }
            let conversion = match self.conversions[slot] {
                Some(c) => c,
                None => {
                    let c = conversion_of(m.analyte, m.unit).ok_or_else(|| not_storable(m, "no unit conversion"))?;
                    self.conversions[slot] = Some(c);
                    c
                }
            };
            if conversion.apply(m.raw_value).to_bits() != m.value.to_bits() {
                return Err(not_storable(m, "its value is not the unit conversion of its raw value"));
            }
            let k = m.patient as usize / self.patients_per_part;
            self.writers[k].write_all(&encode(m))?;
            self.rows[k] += 1;
        }
        Ok(())
    }

    /// Flush and close the files; call once after the last [`MeasurementParts::push`].
    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        for mut w in self.writers.drain(..) {
            w.flush()?;
        }
        Ok(())
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no parts (never: a cohort has at least one, maybe empty).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows stored, over all parts.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().sum()
    }

    /// The patients of part `k`.
    pub fn patients(&self, k: usize) -> Range<PatientIdx> {
        let lo = (k * self.patients_per_part).min(self.n_patients);
        let hi = ((k + 1) * self.patients_per_part).min(self.n_patients);
        lo as PatientIdx..hi as PatientIdx
    }

    /// The rows of part `k`, in the order they were pushed. The file is read in blocks of
    /// [`READ_BLOCK`] bytes, each decoded in parallel straight into the result, so reading a part
    /// needs its rows' memory and one block, nothing more.
    pub fn read(&self, k: usize) -> std::io::Result<Vec<Measurement>> {
        use rayon::prelude::*;
        use std::io::Read;
        let path = self.path(k);
        let corrupt = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("corrupt part file {}", path.display()));
        let mut file = File::open(&path)?;
        let expected = self.rows[k] * RECORD as u64;
        if file.metadata()?.len() != expected {
            return Err(corrupt());
        }
        let rows = usize::try_from(self.rows[k]).map_err(|_| corrupt())?;
        let mut out = Vec::with_capacity(rows);
        let mut block = vec![0u8; READ_BLOCK.min(rows * RECORD)];
        let bad = std::sync::atomic::AtomicBool::new(false);
        let conversions = &self.conversions;
        while out.len() < rows {
            let n = (rows - out.len()).min(READ_BLOCK / RECORD) * RECORD;
            file.read_exact(&mut block[..n])?;
            out.par_extend(block[..n].par_chunks_exact(RECORD).map(|b| {
                let m = <&[u8; RECORD]>::try_from(b).ok().and_then(|b| decode(b, conversions));
                m.unwrap_or_else(|| {
                    bad.store(true, std::sync::atomic::Ordering::Relaxed);
                    FILLER
                })
            }));
        }
        if bad.into_inner() {
            return Err(corrupt());
        }
        Ok(out)
    }

    /// The folder of the part files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for MeasurementParts {
    fn drop(&mut self) {
        self.writers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Index of (analyte, unit spelling) in [`MeasurementParts::conversions`].
fn conversion_slot(analyte: Analyte, unit: u16) -> usize {
    unit as usize * Analyte::ALL.len() + analyte as usize
}

/// The error for a row that cannot be stored (a loader bug, not bad input).
fn not_storable(m: &Measurement, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("measurement of source row {} cannot be stored by patient: {why}", m.row),
    )
}

/// The record of a row (without `value`, which [`decode`] recomputes).
fn encode(m: &Measurement) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    b[0..4].copy_from_slice(&m.patient.to_le_bytes());
    b[4..8].copy_from_slice(&m.day.to_le_bytes());
    b[8..16].copy_from_slice(&m.raw_value.to_bits().to_le_bytes());
    b[16..20].copy_from_slice(&m.row.to_le_bytes());
    b[20..22].copy_from_slice(&m.unit.to_le_bytes());
    b[22] = m.analyte as u8;
    b[23] = m.qualifier as u8;
    b
}

/// The row of a record; `value` is its unit's conversion of `raw_value`. `None`: not a valid
/// record (unknown analyte, qualifier or unit).
fn decode(b: &[u8; RECORD], conversions: &[Option<Conversion>]) -> Option<Measurement> {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[8..16]);
    let raw_value = f64::from_bits(u64::from_le_bytes(x));
    let qualifier = [Qualifier::None, Qualifier::Lt, Qualifier::Le, Qualifier::Gt, Qualifier::Ge].get(b[23] as usize).copied()?;
    let analyte = Analyte::ALL.get(b[22] as usize).copied()?;
    let unit = u16::from_le_bytes([b[20], b[21]]);
    let conversion = conversions.get(conversion_slot(analyte, unit)).copied().flatten()?;
    Some(Measurement {
        patient: u32_at(0),
        day: u32_at(4) as i32,
        value: conversion.apply(raw_value),
        raw_value,
        row: u32_at(16),
        unit,
        analyte,
        qualifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test rows' conversion: `value = raw_value × −0.25` (`measurement` makes them so).
    fn quarter(_: Analyte, _: u16) -> Option<Conversion> {
        Some(Conversion::Scale { mul: -0.25, div: 1.0 })
    }

    #[test]
    fn records_round_trip_bit_for_bit() {
        let q = [Qualifier::None, Qualifier::Lt, Qualifier::Le, Qualifier::Gt, Qualifier::Ge];
        let f = Conversion::FahrenheitToCelsius;
        for (i, a) in Analyte::ALL.iter().enumerate() {
            let raw_value = -1e300 / (i as f64 + 1.0) + i as f64;
            let m = Measurement {
                patient: 4_000_000_000 - i as u32,
                day: -20_000 + i as i32,
                analyte: *a,
                unit: 700 + i as u16,
                value: f.apply(raw_value),
                raw_value,
                row: u32::MAX - i as u32,
                qualifier: q[i % q.len()],
            };
            let mut conversions = vec![None; conversion_slot(*a, m.unit) + 1];
            assert_eq!(decode(&encode(&m), &conversions), None, "no conversion for the unit: not a valid record");
            conversions[conversion_slot(*a, m.unit)] = Some(f);
            let back = decode(&encode(&m), &conversions).expect("decodes");
            assert_eq!((back.value.to_bits(), back.raw_value.to_bits()), (m.value.to_bits(), m.raw_value.to_bits()));
            assert_eq!(back, m);
            assert_eq!(Analyte::ALL[*a as usize], *a, "the record stores the analyte's position in Analyte::ALL");
        }
    }

    #[test]
    fn a_row_whose_value_is_not_its_conversion_is_not_stored() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = PartOptions { dir: tmp.path().join("parts"), rows_per_part: 100, align_patients: 1, max_parts: 4 };
        let mut parts = MeasurementParts::create(&opts, 1, 2).expect("create");
        let good = measurement(3);
        let bad = Measurement { value: good.value + 1e-12, ..good };
        parts.push(&[good], quarter).expect("a converted value is stored");
        assert_eq!(parts.push(&[bad], quarter).expect_err("not stored").kind(), std::io::ErrorKind::InvalidData);
        // another analyte and unit, whose conversion is not known
        let other = measurement(4);
        assert_eq!(parts.push(&[other], |_, _| None).expect_err("no conversion").kind(), std::io::ErrorKind::InvalidData);
        parts.finish().expect("finish");
        assert_eq!(parts.read(0).expect("read"), vec![good]);
    }

    #[test]
    fn parts_are_aligned_and_cover_every_patient() {
        let o = PartOptions { dir: PathBuf::new(), rows_per_part: 1000, align_patients: 7, max_parts: 10 };
        // 100 rows per patient: 10 patients per part, rounded up to 14
        assert_eq!(o.patients_per_part(1000, 100_000), 105); // at most 10 parts: >= 100, aligned to 7
        assert_eq!(o.patients_per_part(50, 5_000), 14);
        assert_eq!(o.patients_per_part(5, 0), 7);
    }

    fn measurement(i: usize) -> Measurement {
        Measurement {
            patient: (i / 100) as PatientIdx,
            day: i as i32 % 97,
            analyte: Analyte::ALL[i % Analyte::ALL.len()],
            unit: (i % 7) as u16,
            value: i as f64 * 0.25,
            raw_value: -(i as f64), // value = quarter's conversion of it
            row: i as u32 + 1,
            qualifier: Qualifier::None,
        }
    }

    #[test]
    fn a_part_of_several_read_blocks_reads_back_in_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let rows = 2 * READ_BLOCK / RECORD + 5; // two full blocks and a short one
        let opts = PartOptions { dir: tmp.path().join("parts"), rows_per_part: rows, align_patients: 1, max_parts: 512 };
        let n_patients = rows.div_ceil(100);
        let mut parts = MeasurementParts::create(&opts, n_patients, rows).expect("create");
        assert_eq!(parts.len(), 1);
        let all: Vec<Measurement> = (0..rows).map(measurement).collect();
        parts.push(&all[..rows / 3], quarter).expect("push");
        parts.push(&all[rows / 3..], quarter).expect("push");
        parts.finish().expect("finish");
        assert_eq!(parts.read(0).expect("read"), all);
    }

    #[test]
    fn a_corrupt_record_fails_the_read() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let rows = READ_BLOCK / RECORD + 3;
        let opts = PartOptions { dir: tmp.path().join("parts"), rows_per_part: rows, align_patients: 1, max_parts: 512 };
        let mut parts = MeasurementParts::create(&opts, rows.div_ceil(100), rows).expect("create");
        parts.push(&(0..rows).map(measurement).collect::<Vec<_>>(), quarter).expect("push");
        parts.finish().expect("finish");
        // an analyte byte past the last analyte, in the second block
        let path = parts.path(0);
        let mut bytes = std::fs::read(&path).expect("read bytes");
        bytes[(rows - 2) * RECORD + 22] = Analyte::ALL.len() as u8;
        std::fs::write(&path, &bytes).expect("write bytes");
        let e = parts.read(0).expect_err("a corrupt record");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        // a truncated file
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write bytes");
        assert_eq!(parts.read(0).expect_err("a short file").kind(), std::io::ErrorKind::InvalidData);
    }
}
