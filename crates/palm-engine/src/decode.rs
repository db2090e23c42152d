//! Encoded bytes -> pixels, with the size and format checks that protect everything after it.

use crate::error::{Error, ErrorKind};
use image::{ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

pub const MIN_SIDE: u32 = 64;
/// 24 million pixels: a 6000 x 4000 camera's full frame (phones save 12 MP by default). Each
/// engine job holds about 5 bytes a pixel at its peak (decoded colour, then grey), so this bounds
/// one request's memory near 120 MB, and the engine's job slots bound them all.
pub const MAX_PIXELS: u64 = 24_000_000;
/// The most one side may exceed the other (cameras stay under 3:1; 8:1 leaves room for crops).
pub const MAX_ASPECT: u32 = 8;

/// Decodes PNG, JPEG or BMP (grey or colour) into RGB. Grey images come back with equal channels.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, Error> {
    let format = image::guess_format(bytes).map_err(|_| ErrorKind::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp
    ) {
        return Err(ErrorKind::UnsupportedFormat(format!("{format:?}").to_lowercase()).into());
    }
    // The JPEG decoder fills a cut-off scan with grey rather than fail, and a palm's upper half
    // still makes a template: a JPEG must end its last scan with the end-of-image marker.
    if format == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        return Err(ErrorKind::Truncated.into());
    }
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    // Dimensions come from the header alone, so an oversized image is refused before any
    // allocation the size of its pixels.
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|_| ErrorKind::Truncated)?;
    check_size(width, height)?;
    let mut limited = reader();
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + (1 << 20));
    limited.limits(limits);
    let decoded = limited.decode().map_err(|_| ErrorKind::Truncated)?;
    // `into_`, not `to_`: a colour picture (what cameras send) hands its buffer over instead of
    // being copied, which halves the peak memory of a large photo.
    Ok(decoded.into_rgb8())
}

/// Whether an end-of-image marker follows the last start-of-scan marker. Inside scan data a 0xFF
/// byte is always followed by 0x00 or a restart marker, so neither marker can appear there by
/// chance.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    matches!((last(0xDA), last(0xD9)), (Some(scan), Some(end)) if end > scan)
}

/// The size limits every picture meets, encoded or handed over as pixels.
pub fn check_size(width: u32, height: u32) -> Result<(), Error> {
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(ErrorKind::TooSmall {
            width,
            height,
            min: MIN_SIDE,
        }
        .into());
    }
    if width as u64 * height as u64 > MAX_PIXELS {
        return Err(ErrorKind::TooLarge {
            width,
            height,
            max_pixels: MAX_PIXELS,
        }
        .into());
    }
    // After the pixel limit, so the shorter side is small enough not to overflow.
    if width.max(height) > MAX_ASPECT * width.min(height) {
        return Err(ErrorKind::Elongated {
            width,
            height,
            max_ratio: MAX_ASPECT,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img =
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn garbage_is_not_an_image() {
        assert_eq!(
            decode(b"hello, this is text").unwrap_err().kind,
            ErrorKind::NotAnImage
        );
        assert_eq!(decode(&[]).unwrap_err().kind, ErrorKind::NotAnImage);
    }

    #[test]
    fn truncated_png_is_reported() {
        let bytes = png(100, 100);
        for cut in [20, 40, bytes.len() / 2, bytes.len() - 13] {
            assert_eq!(
                decode(&bytes[..cut]).unwrap_err().kind,
                ErrorKind::Truncated,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn truncated_jpeg_is_reported() {
        let img = image::RgbImage::from_fn(200, 150, |x, y| {
            image::Rgb([
                (x * 5 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(decode(&bytes).unwrap().dimensions(), (200, 150));
        for cut in [bytes.len() / 2, bytes.len() - 2] {
            assert_eq!(
                decode(&bytes[..cut]).unwrap_err().kind,
                ErrorKind::Truncated,
                "cut at {cut} of {}",
                bytes.len()
            );
        }
    }

    #[test]
    fn known_but_unsupported_format() {
        assert!(matches!(
            decode(b"GIF89a\x01\x00\x01\x00").unwrap_err().kind,
            ErrorKind::UnsupportedFormat(_)
        ));
    }

    #[test]
    fn size_limits() {
        assert!(matches!(
            decode(&png(63, 200)).unwrap_err().kind,
            ErrorKind::TooSmall { .. }
        ));
        assert_eq!(decode(&png(64, 64)).unwrap().dimensions(), (64, 64));
        // A BMP header claiming 10000 x 5000 pixels: refused from the header, nothing allocated.
        let mut big = Vec::new();
        image::RgbImage::new(64, 64)
            .write_to(&mut Cursor::new(&mut big), ImageFormat::Bmp)
            .unwrap();
        // So is 6324 x 6324 (40 million pixels, half a gigabyte in the engine's hands).
        for (w, h) in [(10_000i32, 5_000i32), (6_324, 6_324), (6_000, 4_001)] {
            big[18..22].copy_from_slice(&w.to_le_bytes());
            big[22..26].copy_from_slice(&h.to_le_bytes());
            assert!(matches!(
                decode(&big).unwrap_err().kind,
                ErrorKind::TooLarge { .. }
            ));
        }
    }
}
