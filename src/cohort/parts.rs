//! Measurements kept on disk by patient range, so that a run's memory does not grow with the
//! number of measurement rows.
//!
//! While the `measurements` table is loaded, every converted row (exactly the row the in-memory
//! path keeps) is appended to the file of its *part*: a contiguous range of patient indices.
//! Detection then reads one part at a time ([`MeasurementParts::read`]), sorted as
//! [`super::Cohort::new`] sorts the whole table, and drops it before the next. Concatenating
//! the parts in order gives exactly the in-memory table, so the results are the same bytes.
//!
//! The part files are this process's own, in the frames of [`codec`] (about 5 bytes a row for
//! registry-like data, against 32 in memory: 7.6 instead of 49 GB of disk writes at 10 M
//! patients); the folder is removed when the parts are dropped. A row is stored with its value
//! as given (`raw_value`), not the canonical one: that is recomputed on reading with the row's
//! unit conversion, exactly as the loader computed it (checked bit for bit when the row is
//! stored).

mod codec;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::model::{Analyte, Measurement, PatientIdx, Qualifier};
use super::units::Conversion;
use codec::{conversion_slot, FRAME_HEADER, MAX_RECORD_BYTES};

/// Frame bytes of a part file read and then decoded in parallel at a time (at least one frame).
const READ_BLOCK: usize = 1 << 22;

/// Rows encoded by one task of [`MeasurementParts::push`] (each task writes one frame per part
/// its rows fall in).
const TASK_ROWS: usize = 1 << 15;

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
    /// twice while it is sorted; about 5 bytes per row on disk).
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
    /// Bytes written to each part file.
    bytes: Vec<u64>,
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
            bytes: vec![0; n_parts],
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
    /// `InvalidData` error, never stored. The rows are encoded in parallel, [`TASK_ROWS`] at a
    /// time, and written in their order.
    pub(crate) fn push(
        &mut self,
        measurements: &[Measurement],
        conversion_of: impl Fn(Analyte, u16) -> Option<Conversion> + Sync,
    ) -> std::io::Result<()> {
        let per = self.patients_per_part;
        let tasks: Vec<std::io::Result<EncodedTask>> =
            measurements.par_chunks(TASK_ROWS).map(|rows| encode_task(rows, per, &conversion_of)).collect();
        for task in tasks {
            let task = task?;
            for (slot, c) in task.conversions.iter().enumerate() {
                if let Some(c) = c {
                    if slot >= self.conversions.len() {
                        self.conversions.resize(slot + 1, None);
                    }
                    self.conversions[slot] = Some(*c);
                }
            }
            for f in &task.frames {
                self.writers[f.part].write_all(&task.bytes[f.bytes.clone()])?;
                self.rows[f.part] += f.rows as u64;
                self.bytes[f.part] += f.bytes.len() as u64;
            }
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

    /// Bytes written to the part files, over all parts.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }

    /// The patients of part `k`.
    pub fn patients(&self, k: usize) -> Range<PatientIdx> {
        let lo = (k * self.patients_per_part).min(self.n_patients);
        let hi = ((k + 1) * self.patients_per_part).min(self.n_patients);
        lo as PatientIdx..hi as PatientIdx
    }

    /// The rows of part `k`, in the order they were pushed. Whole frames are read until
    /// [`READ_BLOCK`] bytes are in, then decoded in parallel straight into the result, so reading
    /// a part needs its rows' memory and one block, nothing more.
    pub fn read(&self, k: usize) -> std::io::Result<Vec<Measurement>> {
        use std::io::Read;
        let path = self.path(k);
        let corrupt = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("corrupt part file {}", path.display()));
        let short = |e: std::io::Error| if e.kind() == std::io::ErrorKind::UnexpectedEof { corrupt() } else { e };
        let mut file = File::open(&path)?;
        if file.metadata()?.len() != self.bytes[k] {
            return Err(corrupt());
        }
        let rows = usize::try_from(self.rows[k]).map_err(|_| corrupt())?;
        let patients = self.patients(k);
        let mut out: Vec<Measurement> = Vec::with_capacity(rows);
        let mut block: Vec<u8> = Vec::new();
        let mut frames: Vec<(Range<usize>, usize)> = Vec::new();
        let mut consumed = 0u64;
        while out.len() < rows {
            block.clear();
            frames.clear();
            let mut block_rows = 0usize;
            while block.len() < READ_BLOCK && out.len() + block_rows < rows {
                let mut header = [0u8; FRAME_HEADER];
                file.read_exact(&mut header).map_err(short)?;
                let (len, n) = codec::frame_header(&header);
                if n == 0 || n > rows - out.len() - block_rows || len > n * MAX_RECORD_BYTES {
                    return Err(corrupt());
                }
                let at = block.len();
                block.resize(at + len, 0);
                file.read_exact(&mut block[at..]).map_err(short)?;
                frames.push((at..at + len, n));
                block_rows += n;
                consumed += (FRAME_HEADER + len) as u64;
            }
            let base = out.len();
            out.resize(base + block_rows, FILLER);
            let mut targets: Vec<&mut [Measurement]> = Vec::with_capacity(frames.len());
            let mut rest = &mut out[base..];
            for (_, n) in &frames {
                let (head, tail) = rest.split_at_mut(*n);
                targets.push(head);
                rest = tail;
            }
            let valid = frames.par_iter().zip(targets).all(|((bytes, _), target)| {
                codec::decode_frame(&block[bytes.clone()], &patients, &self.conversions, target).is_some()
            });
            if !valid {
                return Err(corrupt());
            }
        }
        if consumed != self.bytes[k] {
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

/// One task's rows, encoded: frames of one part each, in part order.
struct EncodedTask {
    bytes: Vec<u8>,
    frames: Vec<EncodedFrame>,
    /// The conversions the task looked up, by slot ([`conversion_slot`]).
    conversions: Vec<Option<Conversion>>,
}

struct EncodedFrame {
    part: usize,
    rows: usize,
    /// The frame in [`EncodedTask::bytes`] (header included).
    bytes: Range<usize>,
}

/// Check and encode `rows`: one frame per part they fall in (`per` patients a part), each with
/// its rows in their order.
fn encode_task(
    rows: &[Measurement],
    per: usize,
    conversion_of: &(impl Fn(Analyte, u16) -> Option<Conversion> + Sync),
) -> std::io::Result<EncodedTask> {
    let mut conversions: Vec<Option<Conversion>> = Vec::new();
    for m in rows {
        let slot = conversion_slot(m.analyte, m.unit);
        if slot >= conversions.len() {
            conversions.resize(slot + 1, None);
        }
        let conversion = match conversions[slot] {
            Some(c) => c,
            None => {
                let c = conversion_of(m.analyte, m.unit).ok_or_else(|| not_storable(m, "no unit conversion"))?;
                conversions[slot] = Some(c);
                c
            }
        };
        if conversion.apply(m.raw_value).to_bits() != m.value.to_bits() {
            return Err(not_storable(m, "its value is not the unit conversion of its raw value"));
        }
    }
    let part_of = |m: &Measurement| m.patient as usize / per;
    // stable: each part's rows keep their order (already sorted for a table sorted by patient)
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    order.sort_by_key(|&i| part_of(&rows[i as usize]));
    let mut bytes = Vec::with_capacity(rows.len() * 6 + 64);
    let mut frames = Vec::new();
    for same_part in order.chunk_by(|&a, &b| part_of(&rows[a as usize]) == part_of(&rows[b as usize])) {
        let part = part_of(&rows[same_part[0] as usize]);
        let at = bytes.len();
        codec::encode_frame(same_part.iter().map(|&i| &rows[i as usize]), (part * per) as PatientIdx, &mut bytes);
        frames.push(EncodedFrame { part, rows: same_part.len(), bytes: at..bytes.len() });
    }
    Ok(EncodedTask { bytes, frames, conversions })
}

/// The error for a row that cannot be stored (a loader bug, not bad input).
fn not_storable(m: &Measurement, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("measurement of source row {} cannot be stored by patient: {why}", m.row),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test rows' conversion: `value = raw_value × −0.25` (`measurement` makes them so).
    fn quarter(_: Analyte, _: u16) -> Option<Conversion> {
        Some(Conversion::Scale { mul: -0.25, div: 1.0 })
    }

    /// Parts in a temporary folder: `rows_per_part` rows a part, one patient per alignment.
    fn parts_for(tmp: &tempfile::TempDir, n_patients: usize, rows: usize, rows_per_part: usize) -> MeasurementParts {
        let opts = PartOptions { dir: tmp.path().join("parts"), rows_per_part, align_patients: 1, max_parts: 512 };
        MeasurementParts::create(&opts, n_patients, rows).expect("create")
    }

    #[test]
    fn rows_round_trip_bit_for_bit() {
        let q = [Qualifier::None, Qualifier::Lt, Qualifier::Le, Qualifier::Gt, Qualifier::Ge];
        let f = Conversion::FahrenheitToCelsius;
        let raw_values = [-1e300, 36.6, -0.0, 0.0, 1.0 / 3.0, 98.6, 1e-9, 123_456_789.125, 2f64.powi(70), -4.25];
        // patients out of order, days and rows jumping both ways, extreme days, rows and units
        let patients = [7u32, 3, 3, 0, 9, 9, 9, 2, 8, 1];
        let days = [-20_000, 5, 5, i32::MIN, i32::MAX, 3, 3, 0, -1, 17];
        let rows = [u32::MAX, 1, 2, 3, 0, 9, 8, 10, 11, 12];
        let all: Vec<Measurement> = Analyte::ALL
            .iter()
            .enumerate()
            .map(|(i, a)| Measurement {
                patient: patients[i],
                day: days[i],
                analyte: *a,
                unit: if i == 3 { u16::MAX } else { i as u16 },
                value: f.apply(raw_values[i]),
                raw_value: raw_values[i],
                row: rows[i],
                qualifier: q[i % q.len()],
            })
            .collect();
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut parts = parts_for(&tmp, 10, all.len(), 3); // 3 patients a part: 4 parts
        parts.push(&all, |_, _| Some(f)).expect("push");
        parts.finish().expect("finish");
        assert_eq!(parts.total_rows(), all.len() as u64);
        let mut back = Vec::new();
        for k in 0..parts.len() {
            let rows = parts.read(k).expect("read");
            assert!(rows.iter().all(|m| parts.patients(k).contains(&m.patient)), "part {k} holds its own patients");
            back.extend(rows);
        }
        // each part keeps its rows' input order; the parts together hold every row
        let mut expected = all.clone();
        expected.sort_by_key(|m| m.patient / 3);
        assert_eq!(back.len(), expected.len());
        for (b, m) in back.iter().zip(&expected) {
            assert_eq!((b.value.to_bits(), b.raw_value.to_bits()), (m.value.to_bits(), m.raw_value.to_bits()));
            assert_eq!(
                (b.patient, b.day, b.analyte, b.unit, b.row, b.qualifier),
                (m.patient, m.day, m.analyte, m.unit, m.row, m.qualifier)
            );
        }
    }

    #[test]
    fn a_row_whose_value_is_not_its_conversion_is_not_stored() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut parts = parts_for(&tmp, 1, 2, 100);
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
        // more than one read block of frames (each row takes at least 4 bytes), pushed in
        // pieces that are not a multiple of a task
        let rows = 3 * READ_BLOCK / 4 + 5;
        let mut parts = parts_for(&tmp, rows.div_ceil(100), rows, rows);
        assert_eq!(parts.len(), 1);
        let all: Vec<Measurement> = (0..rows).map(measurement).collect();
        parts.push(&all[..rows / 3], quarter).expect("push");
        parts.push(&all[rows / 3..], quarter).expect("push");
        parts.finish().expect("finish");
        assert!(parts.total_bytes() > READ_BLOCK as u64, "{} bytes", parts.total_bytes());
        assert_eq!(parts.read(0).expect("read"), all);
    }

    #[test]
    fn a_corrupt_part_fails_the_read() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let rows = 2 * TASK_ROWS + 3;
        let mut parts = parts_for(&tmp, rows.div_ceil(100), rows, rows);
        parts.push(&(0..rows).map(measurement).collect::<Vec<_>>(), quarter).expect("push");
        parts.finish().expect("finish");
        let path = parts.path(0);
        let bytes = std::fs::read(&path).expect("read bytes");
        let second_frame = FRAME_HEADER + codec::frame_header(bytes[..FRAME_HEADER].try_into().expect("header")).0;
        let fails = |damaged: &[u8], why: &str| {
            std::fs::write(&path, damaged).expect("write bytes");
            assert_eq!(parts.read(0).expect_err(why).kind(), std::io::ErrorKind::InvalidData, "{why}");
        };
        // an analyte code past the last analyte, in the first record of the second frame
        let mut b = bytes.clone();
        b[second_frame + FRAME_HEADER + 1] |= 15;
        fails(&b, "an unknown analyte");
        // a frame claiming one record more than it holds
        let mut b = bytes.clone();
        b[second_frame + 4] += 1;
        fails(&b, "a wrong record count");
        // a frame claiming more payload than it has: the next header is read from its records
        let mut b = bytes.clone();
        b[0] = b[0].wrapping_add(1);
        fails(&b, "a wrong frame length");
        fails(&bytes[..bytes.len() - 1], "a truncated file");
        std::fs::write(&path, &bytes).expect("write bytes");
        assert_eq!(parts.read(0).expect("the intact file reads").len(), rows);
    }
}
