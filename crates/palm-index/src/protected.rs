//! A palm as a service stores it for the index: the protected template and its coarse code, both
//! under the gallery's transform, in one checksummed record.
//!
//! Layout: the protected template's own bytes (`palm_engine::protect`, 920 bytes, checksummed),
//! then the coarse code `7 x u64`, then the CRC32 of everything before it; 980 bytes.

use crate::IndexError;
use crate::coarse::{self, CoarseCode};
use palm_engine::protect::{PROTECTED_BYTES, ProtectedTemplate};

/// Bytes of a stored palm.
pub const PALM_BYTES: usize = PROTECTED_BYTES + 8 * coarse::WORDS + 4;

/// What [`crate::Gallery::protect`] makes and [`crate::Gallery::insert`] takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedPalm {
    pub template: ProtectedTemplate,
    pub coarse: CoarseCode,
}

impl ProtectedPalm {
    /// The generation of the transform it is protected under.
    pub fn transform(&self) -> u32 {
        self.template.transform
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.template.to_bytes();
        for w in &self.coarse {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ProtectedPalm, IndexError> {
        let bad = |why: String| IndexError::File(format!("stored palm: {why}"));
        if bytes.len() != PALM_BYTES {
            return Err(bad(format!(
                "length {} where {PALM_BYTES} was expected",
                bytes.len()
            )));
        }
        let (body, crc) = bytes.split_at(PALM_BYTES - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("checksum mismatch: the record is corrupted".into()));
        }
        let template = ProtectedTemplate::from_bytes(&body[..PROTECTED_BYTES])
            .map_err(|e| bad(e.to_string()))?;
        let mut words = body[PROTECTED_BYTES..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
        let coarse = std::array::from_fn(|_| words.next().expect("length checked"));
        Ok(ProtectedPalm { template, coarse })
    }
}
