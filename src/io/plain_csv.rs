//! A fast path for reading a few numeric columns of a plain CSV file straight into
//! `f64` vectors, without a DataFrame (issue 12: `cox` on 1 M rows spent most of its
//! memory on polars' columns and their `Option` copies).
//!
//! It is only a shortcut: it reads a file only when the result is certainly the one
//! [`crate::io::Table`] (polars, types inferred from the first 10,000 rows) gives for
//! the requested columns. Anything else — quotes, non-ASCII bytes, a short or long
//! row, a blank line, a cell that is not a plain decimal number
//! (`-?[0-9]+(\.[0-9]+)?`), a column whose type polars could infer differently (its
//! first value or its first decimal point far into the file), a missing column, an
//! unreadable file — makes [`read_numeric_columns`] return `None`, and the caller
//! reads the file through [`crate::io::Table`] as before, with the same values and
//! the same error messages. Columns that are not requested are not parsed.

use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

/// Rows polars looks at to infer a column's type (`Table::read`).
const INFER_ROWS: usize = 10_000;
/// A column whose first value, or first decimal point, comes at or after this data
/// row could be typed differently by polars' inference: such files are left to it.
const SAFE_INFER_ROWS: usize = 9_000;

/// Requested columns of a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericColumns {
    /// Number of data rows.
    pub n_rows: usize,
    /// One vector per requested group of columns, in the order requested, row-major
    /// (`n_rows` × the group's columns); an empty cell is `NaN`.
    pub groups: Vec<Vec<f64>>,
}

/// Per requested column: what inference needs to know.
#[derive(Clone, Copy)]
struct Seen {
    first_value: Option<usize>,
    first_decimal: Option<usize>,
}

/// The requested columns (by header name, in groups: each group is read into one
/// row-major vector) of the CSV file at `path` as numbers, or
/// `None` when the file is not plain enough to be certain of giving the same values
/// as polars (see the module documentation); the caller then uses
/// [`crate::io::Table`].
pub fn read_numeric_columns(path: &Path, groups: &[&[&str]]) -> Option<NumericColumns> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext != "csv" {
        return None;
    }
    parse(|| std::fs::File::open(path).ok(), groups, BLOCK)
}

/// Bytes read at a time: the file is never held whole in memory (issue 12: peak memory).
const BLOCK: usize = 4 << 20;

/// Fill `buf` from `r` as far as it goes; the number of bytes read (`< buf.len()` at the end).
fn fill(r: &mut impl Read, buf: &mut [u8]) -> Option<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(got)
}

/// [`read_numeric_columns`] on the text that `open` gives (twice: one pass counts the
/// rows, the other parses them), read `block` bytes at a time.
fn parse<R: Read>(open: impl Fn() -> Option<R>, groups: &[&[&str]], block: usize) -> Option<NumericColumns> {
    let block = block.max(1);
    let names: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    // (group, stride) of each slot
    let target: Vec<(usize, usize)> =
        groups.iter().enumerate().flat_map(|(g, cols)| cols.iter().map(move |_| (g, cols.len()))).collect();
    // offset of each slot within its group's row
    let offset: Vec<usize> = groups.iter().flat_map(|g| 0..g.len()).collect();

    // pass 1: the header, the number of line breaks, the last byte
    let mut header: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut breaks = 0usize;
    let mut last = None;
    {
        let mut r = open()?;
        let mut buf = vec![0u8; block];
        loop {
            let got = fill(&mut r, &mut buf)?;
            let bytes = &buf[..got];
            if !header_done {
                match bytes.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        header.extend_from_slice(&bytes[..i]);
                        header_done = true;
                    }
                    None => header.extend_from_slice(bytes),
                }
            }
            breaks += bytes.iter().filter(|&&b| b == b'\n').count();
            if let Some(&b) = bytes.last() {
                last = Some(b);
            }
            if got < buf.len() {
                break;
            }
        }
    }
    if !header_done {
        return None;
    }
    // data rows: the lines after the header, a last line break ending the last row
    let n_rows = if last == Some(b'\n') { breaks - 1 } else { breaks };
    if n_rows == 0 || header.iter().any(|&b| !plain(b)) {
        return None;
    }
    let header_len = header.len() + 1;
    let header = std::str::from_utf8(&header).ok()?;
    let header = header.strip_suffix('\r').unwrap_or(header);
    let fields: Vec<&str> = header.split(',').collect();
    for (i, f) in fields.iter().enumerate() {
        if f.is_empty() || fields[..i].contains(f) {
            return None;
        }
    }
    // slot of each file column (usize::MAX: not requested)
    let mut slot = vec![usize::MAX; fields.len()];
    for (s, name) in names.iter().enumerate() {
        let c = fields.iter().position(|f| f == name)?;
        if slot[c] != usize::MAX {
            return None; // the same column requested twice
        }
        slot[c] = s;
    }

    // pass 2: blocks of whole lines, each parsed in parallel pieces into its rows of the output
    let strides: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    // every cell of every row is written below (or the file is declined)
    let mut out: Vec<Vec<f64>> = strides.iter().map(|&w| vec![0.0; n_rows * w]).collect();
    let layout = Layout { slot: &slot, target: &target, offset: &offset, n_fields: fields.len(), n_slots: names.len() };
    let mut seen = vec![Seen { first_value: None, first_decimal: None }; names.len()];
    let mut row0 = 0;
    let mut r = open()?;
    let mut pending: Vec<u8> = Vec::with_capacity(block + 1024);
    let mut skip = header_len;
    loop {
        let old = pending.len();
        pending.resize(old + block, 0);
        let got = fill(&mut r, &mut pending[old..])?;
        pending.truncate(old + got);
        if skip > 0 {
            let k = skip.min(pending.len());
            pending.drain(..k);
            skip -= k;
        }
        let end = got < block;
        // the complete lines so far (at the end: all that is left, if anything)
        let cut = if end {
            match pending.last() {
                None => break,
                Some(b'\n') => pending.len() - 1,
                Some(_) => pending.len(),
            }
        } else {
            match pending.iter().rposition(|&b| b == b'\n') {
                Some(i) => i,
                None => continue,
            }
        };
        let lines = &pending[..cut];
        let rows = parse_lines(lines, row0, n_rows, &mut out, &strides, &layout)?;
        for (s, p) in seen.iter_mut().zip(rows.1) {
            s.first_value = s.first_value.or(p.first_value);
            s.first_decimal = s.first_decimal.or(p.first_decimal);
        }
        row0 += rows.0;
        if end {
            break;
        }
        pending.drain(..(cut + 1).min(pending.len()));
    }
    if row0 != n_rows {
        return None;
    }
    for s in &seen {
        // polars types a column by its first INFER_ROWS rows: a column with no value there,
        // or whose first decimal point is near or past that window, is left to polars
        match s.first_value {
            Some(r) if r < SAFE_INFER_ROWS.min(INFER_ROWS) => {}
            _ => return None,
        }
        if s.first_decimal.is_some_and(|r| r >= SAFE_INFER_ROWS) {
            return None;
        }
    }
    Some(NumericColumns { n_rows, groups: out })
}

/// Parse `lines` (whole lines, without the last line break) as data rows `row0..` into
/// `out` (`n_rows` rows in all), in parallel pieces; the number of rows and what type
/// inference needs to know, or `None` to decline.
fn parse_lines(
    lines: &[u8],
    row0: usize,
    n_rows: usize,
    out: &mut [Vec<f64>],
    strides: &[usize],
    layout: &Layout,
) -> Option<(usize, Vec<Seen>)> {
    let pieces = split_at_lines(lines, rayon::current_num_threads() * 4);
    let pieces = if pieces.is_empty() { vec![lines] } else { pieces };
    let rows: Vec<usize> = pieces.par_iter().map(|p| p.iter().filter(|&&b| b == b'\n').count() + 1).collect();
    let total: usize = rows.iter().sum();
    if row0 + total > n_rows {
        return None;
    }
    let mut parts: Vec<Vec<&mut [f64]>> = pieces.iter().map(|_| Vec::with_capacity(out.len())).collect();
    for (o, &w) in out.iter_mut().zip(strides) {
        let mut rest: &mut [f64] = &mut o[row0 * w..(row0 + total) * w];
        for (part, &r) in parts.iter_mut().zip(&rows) {
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(r * w);
            part.push(mine);
            rest = others;
        }
    }
    let first_rows: Vec<usize> = rows.iter().scan(row0, |acc, &r| Some(std::mem::replace(acc, *acc + r))).collect();
    let seen_per_piece: Vec<Vec<Seen>> = pieces
        .par_iter()
        .zip(parts.par_iter_mut())
        .zip(first_rows.par_iter())
        .map(|((piece, outs), &first)| parse_piece(piece, first, outs, layout))
        .collect::<Option<Vec<_>>>()?;
    let mut seen = vec![Seen { first_value: None, first_decimal: None }; layout.n_slots];
    for piece in &seen_per_piece {
        for (s, p) in seen.iter_mut().zip(piece) {
            s.first_value = s.first_value.or(p.first_value);
            s.first_decimal = s.first_decimal.or(p.first_decimal);
        }
    }
    Some((total, seen))
}

/// A byte the fast path accepts anywhere: ASCII, not a quote.
fn plain(b: u8) -> bool {
    b != b'"' && b < 0x80
}

/// Where each requested column goes.
struct Layout<'a> {
    /// Slot of each file column (`usize::MAX`: not requested).
    slot: &'a [usize],
    /// (group, stride) of each slot.
    target: &'a [(usize, usize)],
    /// Offset of each slot within its group's row.
    offset: &'a [usize],
    /// Fields per line.
    n_fields: usize,
    /// Requested columns.
    n_slots: usize,
}

/// `body` in about `n` pieces of whole lines (without the line breaks between pieces).
fn split_at_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let target = body.len() / n.max(1) + 1;
    let mut pieces = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() <= target {
            pieces.push(rest);
            break;
        }
        match rest[target..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (piece, others) = rest.split_at(target + i + 1);
                pieces.push(&piece[..piece.len() - 1]);
                rest = others;
            }
            None => {
                pieces.push(rest);
                break;
            }
        }
    }
    pieces
}

/// Parse the lines of `piece` (data rows from `row0` on) into `outs` (this piece's rows of
/// each group); what inference needs to know, with absolute rows, or `None` to decline.
fn parse_piece(piece: &[u8], row0: usize, outs: &mut [&mut [f64]], layout: &Layout) -> Option<Vec<Seen>> {
    if piece.iter().any(|&b| !plain(b)) {
        return None;
    }
    let mut seen = vec![Seen { first_value: None, first_decimal: None }; layout.n_slots];
    for (r, line) in piece.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let mut n_fields = 0;
        for (c, cell) in line.split(|&b| b == b',').enumerate() {
            n_fields += 1;
            let s = *layout.slot.get(c)?;
            if s == usize::MAX {
                continue;
            }
            let (value, decimal) = if cell.is_empty() { (f64::NAN, false) } else { number(cell)? };
            let seen = &mut seen[s];
            if !cell.is_empty() && seen.first_value.is_none() {
                seen.first_value = Some(row0 + r);
            }
            if decimal && seen.first_decimal.is_none() {
                seen.first_decimal = Some(row0 + r);
            }
            let (g, stride) = layout.target[s];
            *outs[g].get_mut(r * stride + layout.offset[s])? = value;
        }
        if n_fields != layout.n_fields {
            return None;
        }
    }
    Some(seen)
}

/// A plain decimal number `-?[0-9]+(\.[0-9]+)?` and whether it has a decimal point;
/// `None` for anything else. An integer of up to 18 digits is read as polars reads an
/// integer column (`i64`, then converted to `f64`); `-0` is refused (it would be `0`
/// in an integer column and `-0` in a decimal one).
fn number(cell: &[u8]) -> Option<(f64, bool)> {
    let (neg, digits) = match cell.first() {
        Some(b'-') => (true, &cell[1..]),
        _ => (false, cell),
    };
    // one pass: the digits as an integer (used only while it cannot overflow), their counts
    // before and after the point
    let (mut m, mut n_int, mut n_frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                m = m.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
                if dot {
                    n_frac += 1;
                } else {
                    n_int += 1;
                }
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if n_int == 0 || (dot && n_frac == 0) {
        return None;
    }
    if !dot {
        // at most 18 digits: below 10^18 < 2^63
        if n_int > 18 || (neg && m == 0) {
            return None;
        }
        let v = m as i64;
        return Some(((if neg { -v } else { v }) as f64, false));
    }
    // Exact fast path (Clinger): a mantissa below 2^53 divided by an exact power of ten
    // is one correctly rounded operation, as the full parser's result.
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    if n_int + n_frac <= 15 {
        let v = m as f64 / POW10[n_frac];
        return Some((if neg { -v } else { v }, true));
    }
    let text = std::str::from_utf8(cell).ok()?;
    text.parse::<f64>().ok().map(|v| (v, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse` on bytes, in blocks of `block` bytes.
    fn parse_bytes(bytes: &[u8], groups: &[&[&str]], block: usize) -> Option<NumericColumns> {
        parse(|| Some(std::io::Cursor::new(bytes)), groups, block)
    }

    #[test]
    fn numbers_as_polars_reads_them() {
        for s in ["0", "7", "-12", "123456789012345678", "0.1", "-54.5", "3650.0", "0.30000000000000004", "1234567.891"] {
            let (v, dec) = number(s.as_bytes()).unwrap();
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
            assert_eq!(dec, s.contains('.'));
        }
        for s in ["", "-", "-0", "1.", ".5", "1e5", "+1", " 1", "1 ", "NA", "nan", "1.2.3", "1234567890123456789"] {
            assert!(number(s.as_bytes()).is_none(), "{s:?}");
        }
    }

    #[test]
    fn reads_requested_columns_or_declines() {
        let text = "id,time,status,x\nP1,5,1,0.5\nP2,3,0,\r\nP3,8,1,-2\n";
        let got = parse_bytes(text.as_bytes(), &[&["x"], &["time"]], 7).unwrap();
        assert_eq!(got.n_rows, 3);
        assert_eq!(got.groups[1], vec![5.0, 3.0, 8.0]);
        assert_eq!(got.groups[0][0], 0.5);
        assert!(got.groups[0][1].is_nan());
        assert_eq!(got.groups[0][2], -2.0);
        let rows = parse_bytes(text.as_bytes(), &[&["status", "time"]], 7).unwrap();
        assert_eq!(rows.groups[0], vec![1.0, 5.0, 0.0, 3.0, 1.0, 8.0]);
        // an unrequested text column is not parsed; a requested one declines
        assert!(parse_bytes(text.as_bytes(), &[&["id"]], 7).is_none());
        assert!(parse_bytes(text.as_bytes(), &[&["nope"]], 7).is_none());
        assert!(parse_bytes(b"time,status\n1,1\n2\n", &[&["time"]], 7).is_none(), "short row");
        assert!(parse_bytes(b"time,status\n1,1\n\n2,1\n", &[&["time"]], 7).is_none(), "blank line");
        assert!(parse_bytes(b"time,status\n\"1\",1\n", &[&["status"]], 7).is_none(), "quotes");
        assert!(parse_bytes(b"time,status\n,1\n", &[&["time"]], 7).is_none(), "no value to infer a type from");
        let header_only = parse_bytes(b"time,status\n", &[&["time"]], 7);
        assert!(header_only.is_none());
        assert!(parse_bytes(b"time,status\n1,1\n2,1\n\n", &[&["time"]], 7).is_none(), "blank last line");
    }

    /// Any block size gives the same columns (lines cut across blocks, a last line with or
    /// without its line break).
    #[test]
    fn block_size_does_not_matter() {
        let mut text = String::from("time,status,x,note\r\n");
        for i in 0..57 {
            text.push_str(&format!("{},{},{}.{},n{i}\r\n", i + 1, i % 2, i * 3, i % 10));
        }
        let whole = parse_bytes(text.as_bytes(), &[&["time", "x"], &["status"]], 1 << 20).unwrap();
        assert_eq!(whole.n_rows, 57);
        assert_eq!(&whole.groups[0][..4], &[1.0, 0.0, 2.0, 3.1]);
        let trimmed = text.trim_end();
        for block in 1..40 {
            for t in [text.as_str(), trimmed] {
                assert_eq!(parse_bytes(t.as_bytes(), &[&["time", "x"], &["status"]], block).as_ref(), Some(&whole), "{block}");
            }
        }
    }
}
