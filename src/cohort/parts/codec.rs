//! The on-disk form of the measurement parts: frames of variable-length records.
//!
//! A part file is a sequence of *frames*, each `payload bytes: u32 LE`, `records: u32 LE`, then
//! the payload. A frame's records are decoded on their own (every delta starts afresh), so the
//! frames of a block are decoded in parallel. A record is, in order:
//!
//! - a tag byte: bits 0–2 the qualifier ([`QUALIFIERS`]), bit 3 "patient given", bit 4 "day
//!   given", bit 5 "row given";
//! - a code byte: bits 0–3 the analyte's position in [`Analyte::ALL`], bits 4–7 how the value
//!   is stored: `k` in `0..=MAX_DECIMALS` for the decimal `m / 10^k`, [`RAW`] for the 8 bytes
//!   of the `f64`;
//! - the unit spelling's index (LEB128);
//! - if given: the patient, as its offset from the part's first patient (LEB128); the day, as
//!   the zigzag LEB128 difference from the previous record's (0 before the first); the source
//!   row, as the zigzag LEB128 difference from the previous record's + 1 (0 before the first).
//!   Not given means: the patient and day of the previous record, the row after its row;
//! - the raw value: zigzag LEB128 `m`, or the `f64`'s 8 bytes LE.
//!
//! A value is stored as a decimal only when `m as f64 / 10^k` gives back its exact bits (so
//! `-0.0`, NaN and values with more digits keep their 8 bytes). The canonical `value` is not
//! stored: the caller recomputes it with the row's unit conversion. Measurements sorted by
//! patient and day, with values as registries record them, take about 5 bytes instead of 24.

use std::ops::Range;

use super::super::model::{Analyte, Measurement, PatientIdx, Qualifier};
use super::super::units::Conversion;

/// Bytes of a frame's header (payload length, record count).
pub(super) const FRAME_HEADER: usize = 8;

/// At most this many payload bytes per record (tag, code, unit 3, patient 5, day 10, row 10,
/// value 10): a frame header claiming more is corrupt.
pub(super) const MAX_RECORD_BYTES: usize = 40;

/// Most decimal places tried for a value.
const MAX_DECIMALS: u8 = 9;

/// The value-code of an `f64` stored as its 8 bytes.
const RAW: u8 = 15;

/// The qualifiers, at their tag code.
const QUALIFIERS: [Qualifier; 5] = [Qualifier::None, Qualifier::Lt, Qualifier::Le, Qualifier::Gt, Qualifier::Ge];

/// `10^k` for `k` in `0..=MAX_DECIMALS` (exact in `f64`).
const POW10: [f64; MAX_DECIMALS as usize + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

const PATIENT_GIVEN: u8 = 1 << 3;
const DAY_GIVEN: u8 = 1 << 4;
const ROW_GIVEN: u8 = 1 << 5;

// The analyte must fit in the code byte's four low bits.
const _: () = assert!(Analyte::ALL.len() < 16);

/// Append one frame holding `rows` (all of patients `first_patient..`) to `out`.
pub(super) fn encode_frame<'a>(rows: impl Iterator<Item = &'a Measurement>, first_patient: PatientIdx, out: &mut Vec<u8>) {
    let header_at = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    let (mut patient, mut day, mut row) = (first_patient, 0i32, 0u32);
    let mut n = 0u32;
    for m in rows {
        let mut tag = m.qualifier as u8;
        if m.patient != patient {
            tag |= PATIENT_GIVEN;
        }
        if m.day != day {
            tag |= DAY_GIVEN;
        }
        if Some(m.row) != row.checked_add(1) {
            tag |= ROW_GIVEN;
        }
        let decimal = as_decimal(m.raw_value);
        let k = decimal.map_or(RAW, |(k, _)| k);
        out.push(tag);
        out.push(m.analyte as u8 | (k << 4));
        put_varint(out, u64::from(m.unit));
        if tag & PATIENT_GIVEN != 0 {
            put_varint(out, u64::from(m.patient - first_patient));
        }
        if tag & DAY_GIVEN != 0 {
            put_varint(out, zigzag(i64::from(m.day) - i64::from(day)));
        }
        if tag & ROW_GIVEN != 0 {
            put_varint(out, zigzag(i64::from(m.row) - i64::from(row) - 1));
        }
        match decimal {
            Some((_, mantissa)) => put_varint(out, zigzag(mantissa)),
            None => out.extend_from_slice(&m.raw_value.to_bits().to_le_bytes()),
        }
        (patient, day, row) = (m.patient, m.day, m.row);
        n += 1;
    }
    let payload = u32::try_from(out.len() - header_at - FRAME_HEADER).expect("a frame holds at most a task's rows");
    out[header_at..header_at + 4].copy_from_slice(&payload.to_le_bytes());
    out[header_at + 4..header_at + FRAME_HEADER].copy_from_slice(&n.to_le_bytes());
}

/// A frame header's (payload bytes, records).
pub(super) fn frame_header(b: &[u8; FRAME_HEADER]) -> (usize, usize) {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    (u32_at(0), u32_at(4))
}

/// Decode a frame's payload into `out` (exactly its records). `patients`: the part's patients;
/// `conversions`: the unit conversion of each (unit, analyte) slot. `None`: not a valid frame
/// (bytes left over or missing, an unknown code, a patient outside the part).
pub(super) fn decode_frame(
    payload: &[u8],
    patients: &Range<PatientIdx>,
    conversions: &[Option<Conversion>],
    out: &mut [Measurement],
) -> Option<()> {
    let mut r = Reader { b: payload, at: 0 };
    let (mut patient, mut day, mut row) = (patients.start, 0i32, 0u32);
    for slot in out.iter_mut() {
        let tag = r.byte()?;
        let code = r.byte()?;
        let qualifier = *QUALIFIERS.get(usize::from(tag & 7))?;
        let analyte = *Analyte::ALL.get(usize::from(code & 15))?;
        let unit = u16::try_from(r.varint()?).ok()?;
        if tag & PATIENT_GIVEN != 0 {
            patient = patients.start.checked_add(u32::try_from(r.varint()?).ok()?)?;
        }
        if tag & DAY_GIVEN != 0 {
            day = i32::try_from(i64::from(day).checked_add(unzigzag(r.varint()?))?).ok()?;
        }
        row = if tag & ROW_GIVEN != 0 {
            u32::try_from(i64::from(row).checked_add(1)?.checked_add(unzigzag(r.varint()?))?).ok()?
        } else {
            row.checked_add(1)?
        };
        let k = code >> 4;
        let raw_value = match k {
            RAW => f64::from_bits(u64::from_le_bytes(r.bytes::<8>()?)),
            k if k <= MAX_DECIMALS => unzigzag(r.varint()?) as f64 / POW10[usize::from(k)],
            _ => return None,
        };
        if tag & !(7 | PATIENT_GIVEN | DAY_GIVEN | ROW_GIVEN) != 0 || !patients.contains(&patient) {
            return None;
        }
        let conversion = conversions.get(conversion_slot(analyte, unit)).copied().flatten()?;
        *slot = Measurement { patient, day, analyte, unit, value: conversion.apply(raw_value), raw_value, row, qualifier };
    }
    (r.at == payload.len()).then_some(())
}

/// Index of (analyte, unit spelling) in a conversion table.
pub(super) fn conversion_slot(analyte: Analyte, unit: u16) -> usize {
    unit as usize * Analyte::ALL.len() + analyte as usize
}

/// `(k, m)` with `m as f64 / 10^k` exactly `v` (bit for bit), fewest decimals first.
fn as_decimal(v: f64) -> Option<(u8, i64)> {
    const EXACT: f64 = (1u64 << 53) as f64;
    (0..=MAX_DECIMALS).find_map(|k| {
        let m = (v * POW10[usize::from(k)]).round();
        if m.is_nan() || m.abs() >= EXACT {
            return None;
        }
        let m = m as i64;
        ((m as f64 / POW10[usize::from(k)]).to_bits() == v.to_bits()).then_some((k, m))
    })
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over a frame's payload.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    #[inline]
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let v = self.b.get(self.at..self.at + N)?.try_into().ok()?;
        self.at += N;
        Some(v)
    }

    /// A LEB128 integer of at most 10 bytes (`None` past the end or beyond 64 bits).
    #[inline]
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return (shift < 63 || b <= 1).then_some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_or_not_used() {
        assert_eq!(as_decimal(36.6), Some((1, 366)));
        assert_eq!(as_decimal(1.52), Some((2, 152)));
        assert_eq!(as_decimal(588.0), Some((0, 588)));
        assert_eq!(as_decimal(-0.25), Some((2, -25)));
        assert_eq!(as_decimal(0.0), Some((0, 0)));
        for v in [-0.0, f64::NAN, f64::INFINITY, 1.0 / 3.0, 1e300, 2f64.powi(60), 98.6 * 5.0 / 9.0] {
            assert_eq!(as_decimal(v), None, "{v} keeps its 8 bytes");
        }
    }

    #[test]
    fn varints_and_zigzag_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 64, i64::from(i32::MAX), i64::from(i32::MIN), i64::MAX, i64::MIN] {
            let mut b = Vec::new();
            put_varint(&mut b, zigzag(v));
            let mut r = Reader { b: &b, at: 0 };
            assert_eq!(r.varint().map(unzigzag), Some(v));
            assert_eq!(r.at, b.len());
        }
        // 11 continuation bytes, or a 10th byte beyond 64 bits: not a varint
        let mut r = Reader { b: &[0xff; 11], at: 0 };
        assert_eq!(r.varint(), None);
        let mut r = Reader { b: &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], at: 0 };
        assert_eq!(r.varint(), None);
    }
}
