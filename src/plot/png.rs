//! Stamp a PNG with its physical resolution (a `pHYs` chunk), so that
//! journals' submission systems and office software see 300 dpi.

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Return `png` with a `pHYs` chunk for `dpi` inserted right after `IHDR`
/// (any existing `pHYs` chunk is replaced).
pub(crate) fn with_dpi(png: &[u8], dpi: f64) -> Result<Vec<u8>, String> {
    if png.len() < 8 || png[..8] != SIGNATURE {
        return Err("missing PNG signature".into());
    }
    let mut chunks: Vec<(&[u8], &[u8])> = Vec::new(); // (type, whole chunk bytes)
    let mut pos = 8;
    while pos < png.len() {
        if pos + 12 > png.len() {
            return Err(format!("truncated chunk header at byte {pos}"));
        }
        let len = u32::from_be_bytes([png[pos], png[pos + 1], png[pos + 2], png[pos + 3]]) as usize;
        let end = pos
            .checked_add(12)
            .and_then(|v| v.checked_add(len))
            .filter(|&e| e <= png.len())
            .ok_or_else(|| format!("chunk at byte {pos} runs past the end of the file"))?;
        chunks.push((&png[pos + 4..pos + 8], &png[pos..end]));
        pos = end;
    }
    if chunks.first().map(|c| c.0) != Some(b"IHDR".as_slice()) {
        return Err("first chunk is not IHDR".into());
    }
    let ppm = (dpi / 0.0254).round() as u32;
    let mut phys = Vec::with_capacity(21);
    phys.extend_from_slice(&9u32.to_be_bytes());
    let mut body = Vec::with_capacity(13);
    body.extend_from_slice(b"pHYs");
    body.extend_from_slice(&ppm.to_be_bytes());
    body.extend_from_slice(&ppm.to_be_bytes());
    body.push(1); // unit: metre
    phys.extend_from_slice(&body);
    phys.extend_from_slice(&crc32(&body).to_be_bytes());

    let mut out = Vec::with_capacity(png.len() + phys.len());
    out.extend_from_slice(&SIGNATURE);
    for (i, (kind, bytes)) in chunks.iter().enumerate() {
        if *kind == b"pHYs" {
            continue;
        }
        out.extend_from_slice(bytes);
        if i == 0 {
            out.extend_from_slice(&phys);
        }
    }
    Ok(out)
}

/// CRC-32 (ISO-HDLC, as used by PNG).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_known_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // CRC of the IEND chunk type, present at the end of every PNG.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn rejects_non_png() {
        assert!(with_dpi(b"not a png at all", 300.0).is_err());
    }
}
