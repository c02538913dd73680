//! PNG encoding of a drawn RGB buffer with its physical resolution (a `pHYs` chunk right
//! after `IHDR`, written by the `png` encoder), so that journals' submission systems and
//! office software see 300 dpi.

use std::io::Write;

/// Encode an 8-bit RGB buffer of `width` × `height` pixels as PNG at `dpi` into `out`.
pub(crate) fn encode_rgb<W: Write>(out: W, rgb: &[u8], width: u32, height: u32, dpi: f64) -> Result<(), png::EncodingError> {
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels_per_metre = (dpi / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions { xppu: pixels_per_metre, yppu: pixels_per_metre, unit: png::Unit::Meter }));
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_follows_ihdr_at_300_dpi() {
        let mut bytes = Vec::new();
        encode_rgb(&mut bytes, &[255, 0, 0, 0, 0, 255], 2, 1, 300.0).unwrap();
        // signature (8) + IHDR (8 + 13 + 4) = 33; then pHYs length (4) and type.
        assert_eq!(&bytes[37..41], b"pHYs");
        assert_eq!(u32::from_be_bytes([bytes[41], bytes[42], bytes[43], bytes[44]]), 11811);
        assert_eq!(bytes[49], 1, "unit: metre");
    }

    #[test]
    fn wrong_buffer_size_is_an_error() {
        assert!(encode_rgb(Vec::new(), &[0, 0, 0], 2, 1, 300.0).is_err());
    }
}
