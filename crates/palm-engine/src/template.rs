//! The binary template: bit planes of orientation codes plus a mask of cells worth comparing,
//! behind a versioned header that records the parameters that made it.
//!
//! Layout (little endian), 916 bytes with six orientations:
//! `magic "PLMT" | version u16 | planes u8 | grid u8 | params fingerprint u32 | hand u8 |
//!  quality u8 | source u8 | reserved u8 | mask 32 x u32 | planes x 32 x u32 | crc32 of all
//!  before it`. (Templates written before the source byte existed have 0 there: a ROI.)

use crate::error::{Error, ErrorKind};

/// Cells a side of a template's code grid (the filter bank samples the ROI at these points).
pub const GRID: usize = 32;
/// u64 words per 1,024-cell vector, as protected templates and the counting kernels hold cells.
pub const WORDS: usize = GRID * GRID / 64;
/// Words holding the subsampled (even row, even column) cells of a protected vector: the first
/// 256 positions.
pub(crate) const SUB_WORDS: usize = GRID * GRID / 4 / 64;
/// Orientation planes a protectable template has.
pub const PLANES: usize = 6;

pub const FORMAT_VERSION: u16 = 1;
const MAGIC: &[u8; 4] = b"PLMT";
const HEADER: usize = 16;
/// The format's hard ceiling, so a stored template can never grow past what the index budgets.
pub const MAX_TEMPLATE_BYTES: usize = 1024;

/// Which hand a template came from, when the full-hand path could tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hand {
    Unknown,
    Left,
    Right,
}

impl Hand {
    /// The byte stored templates use.
    pub fn code(self) -> u8 {
        match self {
            Hand::Unknown => 0,
            Hand::Left => 1,
            Hand::Right => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Hand> {
        match code {
            0 => Some(Hand::Unknown),
            1 => Some(Hand::Left),
            2 => Some(Hand::Right),
            _ => None,
        }
    }
}

/// What kind of picture a template was made from. Full-hand photos carry the angular error of
/// their landmark frame, so the matcher also tries them turned a little (`search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Roi,
    FullHand,
}

impl Source {
    /// The byte stored templates use.
    pub fn code(self) -> u8 {
        match self {
            Source::Roi => 0,
            Source::FullHand => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<Source> {
        match code {
            0 => Some(Source::Roi),
            1 => Some(Source::FullHand),
            _ => None,
        }
    }
}

/// One palm's code. Compare two with [`crate::Matcher`]; store with [`Template::to_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub fingerprint: u32,
    pub hand: Hand,
    /// Capture quality, 0..=100.
    pub quality: u8,
    pub source: Source,
    /// Bit `x` of row `y` is set when cell `(x, y)` is reliable in this capture.
    pub mask: [u32; GRID],
    /// One plane per filter orientation: bit set where the response is positive.
    pub planes: Vec<[u32; GRID]>,
}

impl Template {
    pub fn byte_len(&self) -> usize {
        HEADER + 4 * GRID * (1 + self.planes.len()) + 4
    }

    /// Cells that the mask keeps.
    pub fn valid_cells(&self) -> u32 {
        self.mask.iter().map(|r| r.count_ones()).sum()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.byte_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.planes.len() as u8);
        out.push(GRID as u8);
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.push(self.hand.code());
        out.push(self.quality);
        out.extend_from_slice(&[self.source.code(), 0]);
        for row in self.mask.iter().chain(self.planes.iter().flatten()) {
            out.extend_from_slice(&row.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and validates stored bytes: magic, version, sizes, checksum and field ranges.
    pub fn from_bytes(bytes: &[u8]) -> Result<Template, Error> {
        let bad = |why: &str| Error::from(ErrorKind::InvalidTemplate(why.to_string()));
        if bytes.len() < HEADER + 4 || &bytes[..4] != MAGIC {
            return Err(bad("not a palmline template"));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(bad(&format!(
                "format version {version}, this engine reads {FORMAT_VERSION}"
            )));
        }
        let (planes, grid) = (bytes[6] as usize, bytes[7] as usize);
        if grid != GRID || planes == 0 || planes > 6 {
            return Err(bad(&format!(
                "unsupported shape: {planes} planes of {grid} x {grid}"
            )));
        }
        let expected = HEADER + 4 * GRID * (1 + planes) + 4;
        if bytes.len() != expected {
            return Err(bad(&format!(
                "length {} where {expected} was expected",
                bytes.len()
            )));
        }
        let (body, crc) = bytes.split_at(expected - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("checksum mismatch: the template is corrupted"));
        }
        let hand = Hand::from_code(bytes[12]).ok_or_else(|| bad("unknown hand code"))?;
        let quality = bytes[13];
        if quality > 100 {
            return Err(bad("quality above 100"));
        }
        let source = Source::from_code(bytes[14]).ok_or_else(|| bad("unknown source code"))?;
        let mut rows = body[HEADER..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")));
        let mut read_plane = || {
            let mut p = [0u32; GRID];
            p.iter_mut()
                .for_each(|v| *v = rows.next().expect("length checked"));
            p
        };
        let mask = read_plane();
        let planes = (0..planes).map(|_| read_plane()).collect();
        Ok(Template {
            fingerprint: u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")),
            hand,
            quality,
            source,
            mask,
            planes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Template {
        Template {
            fingerprint: 0xdead_beef,
            hand: Hand::Left,
            quality: 77,
            source: Source::FullHand,
            mask: [u32::MAX; GRID],
            planes: (0..6u32)
                .map(|p| std::array::from_fn(|r| (r as u32).wrapping_mul(2_654_435_761) ^ p))
                .collect(),
        }
    }

    #[test]
    fn round_trip_and_size() {
        let t = sample();
        let bytes = t.to_bytes();
        assert_eq!(bytes.len(), t.byte_len());
        assert!(bytes.len() <= MAX_TEMPLATE_BYTES);
        assert_eq!(Template::from_bytes(&bytes).unwrap(), t);
        // Templates written before the source byte existed have 0 there: they read as ROIs.
        let roi = Template {
            source: Source::Roi,
            ..t
        };
        let bytes = roi.to_bytes();
        assert_eq!(bytes[14], 0);
        assert_eq!(Template::from_bytes(&bytes).unwrap().source, Source::Roi);
    }

    #[test]
    fn every_single_byte_corruption_is_caught() {
        let bytes = sample().to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(
                Template::from_bytes(&b).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        for len in [0, 3, 20, bytes.len() - 1] {
            assert!(Template::from_bytes(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn other_version_is_named() {
        let mut b = sample().to_bytes();
        b[4] = 9;
        let err = Template::from_bytes(&b).unwrap_err().to_string();
        assert!(err.contains("format version 9"), "{err}");
    }

    /// The stored bytes are a durable format: templates written by any earlier build must read
    /// back. A change here (field order, endianness, checksum) shows as a different digest.
    #[test]
    fn stored_bytes_are_pinned() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 916);
        assert_eq!(
            &bytes[..16],
            b"PLMT\x01\x00\x06\x20\xef\xbe\xad\xde\x01\x4d\x01\x00"
        );
        // The body's digest (the whole file's CRC would be the CRC residue, the same for any body).
        assert_eq!(crc32fast::hash(&bytes[..bytes.len() - 4]), 830184516);
    }
}
