//! Template protection (cancellable biometrics): a per-deployment secret [`Transform`] under which
//! templates are stored and compared, so that templates leaked from one deployment cannot be
//! linked to those of another, and a deployment can renew its transform.
//!
//! The transform moves every code cell to a secret position (one permutation of the 32 x 32
//! cells, the same for the mask and all six planes) and XORs each plane with a secret pad. Both
//! change every bit's place and value, yet keep the Hamming distance between two templates under
//! the same transform exactly as it was. The catch is the search over shifts: a shift is
//! meaningless once cells are scattered. So the gallery side stays fixed and the *probe*, which
//! the matcher holds in the clear for a moment anyway, is shifted first and then transformed:
//! [`ProtectedProbe`] holds the probe at every shift the search may try (81 full-resolution, 25 on
//! the 2:1 subsampled code). The subsampled cells are placed in the first 256 positions, so the
//! gallery's subsampled code is simply the first four words of each vector. Counting differing
//! bits and overlap at each shift then gives exactly the numbers the plain search counts, and the
//! same coarse-to-fine loop ([`crate::search`]) picks the same shift: scores are identical, so
//! protection costs no accuracy (`palmline eval --protect` measures it on real sets).
//!
//! What it does not do: whoever holds the transform key can undo it ([`Transform::unprotect`]);
//! like salting, its strength is the key's secrecy. Someone with many leaked templates of one
//! deployment could try to rebuild the cell layout from correlations between neighbouring cells;
//! that is why protected templates are also encrypted at rest.

use crate::error::{Error, ErrorKind};
use crate::keystream::KeyStream;
use crate::params::Params;
use crate::search;
use crate::search::Comparison;
use crate::template::GRID;
use crate::template::{Hand, Source, Template};
use crate::warp::Warps;

const CELLS: usize = GRID * GRID;
pub(crate) use crate::template::SUB_WORDS;
pub use crate::template::{PLANES, WORDS};
/// The mask, then the planes.
const VECTORS: usize = PLANES + 1;

/// A protected template's cells: vector 0 is the mask, 1..=6 the padded planes.
pub type ProtectedRows = [[u64; WORDS]; VECTORS];
type SubRows = [[u64; SUB_WORDS]; VECTORS];

const MAGIC: &[u8; 4] = b"PLMP";
const FORMAT_VERSION: u16 = 1;
const HEADER: usize = 20;
/// Bytes of a stored protected template.
pub const PROTECTED_BYTES: usize = HEADER + 8 * WORDS * VECTORS + 4;

/// The ChaCha20 stream the cell layout and pads come from; other streams of the same key are
/// free for other layers (the index codes its coarse codes from stream 1).
const LAYOUT_STREAM: u64 = 0;

/// A deployment's secret transform. Built from a 32-byte key; `id` names the key generation so a
/// template and a probe under different generations are refused, never silently mis-scored.
#[derive(Clone)]
pub struct Transform {
    id: u32,
    key: [u8; 32],
    /// Bit position of cell `row * 32 + column`.
    position: Box<[u16; CELLS]>,
    pads: [[u64; WORDS]; PLANES],
}

/// The key and everything derived from it (layout, pads) is wiped when a transform is dropped, so
/// a renewed transform's secret does not linger in freed memory.
impl zeroize::Zeroize for Transform {
    fn zeroize(&mut self) {
        self.key.zeroize();
        self.position.as_mut().zeroize();
        self.pads.zeroize();
    }
}

impl Drop for Transform {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

impl zeroize::ZeroizeOnDrop for Transform {}

impl std::fmt::Debug for Transform {
    // The key and layout are secrets: only the generation is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn is_subsampled(cell: usize) -> bool {
    (cell / GRID).is_multiple_of(2) && (cell % GRID).is_multiple_of(2)
}

fn set_bit(words: &mut [u64], pos: usize) {
    words[pos / 64] |= 1 << (pos % 64);
}

fn bit(words: &[u64], pos: usize) -> bool {
    words[pos / 64] >> (pos % 64) & 1 == 1
}

impl Transform {
    pub fn new(id: u32, key: [u8; 32]) -> Transform {
        let mut rng = KeyStream::new(key, LAYOUT_STREAM);
        let mut sub: Vec<u16> = (0..(CELLS / 4) as u16).collect();
        let mut rest: Vec<u16> = ((CELLS / 4) as u16..CELLS as u16).collect();
        rng.shuffle(&mut sub);
        rng.shuffle(&mut rest);
        let (mut sub, mut rest) = (sub.into_iter(), rest.into_iter());
        let mut position = Box::new([0u16; CELLS]);
        for (cell, pos) in position.iter_mut().enumerate() {
            let next = if is_subsampled(cell) {
                sub.next()
            } else {
                rest.next()
            };
            *pos = next.expect("256 subsampled and 768 other cells");
        }
        let pads = std::array::from_fn(|_| std::array::from_fn(|_| rng.next_u64()));
        Transform {
            id,
            key,
            position,
            pads,
        }
    }

    /// The key generation.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// A keyed random stream for another layer's own layout (streams 1 and up).
    pub fn stream(&self, stream: u64) -> KeyStream {
        assert_ne!(stream, LAYOUT_STREAM, "stream 0 is the engine's own layout");
        KeyStream::new(self.key, stream)
    }

    fn check_shape(t: &Template) -> Result<(), Error> {
        if t.planes.len() != PLANES {
            return Err(ErrorKind::InvalidTemplate(format!(
                "{} orientation planes; protection needs {PLANES}",
                t.planes.len()
            ))
            .into());
        }
        Ok(())
    }

    /// The template moved by `(dx, dy)` cells (cell `(c, r)` takes the value of `(c - dx, r - dy)`),
    /// scattered to the secret layout; cells the mask drops, or that came from outside the grid,
    /// are left out of the mask. Pads are not applied yet.
    fn scatter(&self, t: &Template, dx: i32, dy: i32, out: &mut ProtectedRows) {
        let shift = |row: u32| -> u32 {
            match dx {
                0 => row,
                d if d >= 32 || d <= -32 => 0,
                d if d > 0 => row << d,
                d => row >> -d,
            }
        };
        for r in 0..GRID {
            let src = r as i32 - dy;
            if !(0..GRID as i32).contains(&src) {
                continue;
            }
            let src = src as usize;
            let mut valid = shift(t.mask[src]);
            while valid != 0 {
                let c = valid.trailing_zeros() as usize;
                valid &= valid - 1;
                let pos = self.position[r * GRID + c] as usize;
                set_bit(&mut out[0], pos);
                for (p, plane) in t.planes.iter().enumerate() {
                    if shift(plane[src]) >> c & 1 == 1 {
                        set_bit(&mut out[p + 1], pos);
                    }
                }
            }
        }
    }

    fn pad(&self, rows: &mut ProtectedRows) {
        for (plane, pad) in rows[1..].iter_mut().zip(&self.pads) {
            plane.iter_mut().zip(pad).for_each(|(w, p)| *w ^= p);
        }
    }

    /// The stored form of a template under this transform.
    pub fn protect(&self, t: &Template) -> Result<ProtectedTemplate, Error> {
        Self::check_shape(t)?;
        let mut rows = [[0u64; WORDS]; VECTORS];
        self.scatter(t, 0, 0, &mut rows);
        self.pad(&mut rows);
        Ok(ProtectedTemplate {
            fingerprint: t.fingerprint,
            transform: self.id,
            hand: t.hand,
            quality: t.quality,
            source: t.source,
            rows,
        })
    }

    /// The plain template back (for renewing the transform). Cells the mask drops read as 0.
    pub fn unprotect(&self, p: &ProtectedTemplate) -> Result<Template, Error> {
        if p.transform != self.id {
            return Err(ErrorKind::OtherTransform {
                probe: self.id,
                template: p.transform,
            }
            .into());
        }
        let mut rows = p.rows;
        self.pad(&mut rows);
        let mut mask = [0u32; GRID];
        let mut planes = vec![[0u32; GRID]; PLANES];
        for cell in 0..CELLS {
            let pos = self.position[cell] as usize;
            let (r, c) = (cell / GRID, cell % GRID);
            if bit(&rows[0], pos) {
                mask[r] |= 1 << c;
                for (k, plane) in planes.iter_mut().enumerate() {
                    if bit(&rows[k + 1], pos) {
                        plane[r] |= 1 << c;
                    }
                }
            }
        }
        Ok(Template {
            fingerprint: p.fingerprint,
            hand: p.hand,
            quality: p.quality,
            source: p.source,
            mask,
            planes,
        })
    }

    /// A probe ready to be compared with protected templates: every shift the search may try.
    pub fn probe(&self, t: &Template, params: &Params) -> Result<ProtectedProbe, Error> {
        Self::check_shape(t)?;
        let reach = params.max_shift.clamp(0, GRID as i32 / 2);
        let side = (2 * reach + 1) as usize;
        let every_shift = |t: &Template| {
            let mut fine = vec![[[0u64; WORDS]; VECTORS]; side * side];
            for (i, rows) in fine.iter_mut().enumerate() {
                let (dx, dy) = ((i % side) as i32 - reach, (i / side) as i32 - reach);
                self.scatter(t, dx, dy, rows);
                self.pad(rows);
            }
            fine
        };
        let fine = every_shift(t);
        let warps = Warps::new(params);
        let warped = warps
            .versions(t.source)
            .into_iter()
            .map(|(degrees, zoom)| {
                let (mask, planes) = crate::warp::warp(&t.mask, &t.planes, degrees, zoom);
                every_shift(&Template {
                    mask,
                    planes,
                    ..t.clone()
                })
            })
            .collect();
        // A coarse shift of one subsampled cell is two full-resolution cells, and the subsampled
        // cells of a probe moved by an even shift are the moved probe's subsampled cells.
        let coarse_reach = reach / 2;
        let coarse_side = (2 * coarse_reach + 1) as usize;
        let coarse = (0..coarse_side * coarse_side)
            .map(|i| {
                let (dx, dy) = (
                    (i % coarse_side) as i32 - coarse_reach,
                    (i / coarse_side) as i32 - coarse_reach,
                );
                let rows = &fine[((2 * dy + reach) as usize) * side + (2 * dx + reach) as usize];
                std::array::from_fn(|k| std::array::from_fn(|w| rows[k][w]))
            })
            .collect();
        Ok(ProtectedProbe {
            fingerprint: t.fingerprint,
            transform: self.id,
            reach,
            fine,
            coarse,
            warped,
            warp_reach: warps.reach(t.source),
        })
    }
}

/// A template as it is stored and searched under a [`Transform`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedTemplate {
    pub fingerprint: u32,
    pub transform: u32,
    pub hand: Hand,
    pub quality: u8,
    pub source: Source,
    pub rows: ProtectedRows,
}

/// A probe at every shift the search tries, under one [`Transform`], with its warped versions
/// (turned or zoomed, see `crate::warp`): about 225 KB; build one per probe and compare it with
/// many templates.
#[derive(Clone, Debug)]
pub struct ProtectedProbe {
    pub fingerprint: u32,
    pub transform: u32,
    reach: i32,
    /// Row-major over (dx, dy) in `-reach..=reach`.
    fine: Vec<ProtectedRows>,
    /// Row-major over coarse (dx, dy) in `-reach/2..=reach/2`: the subsampled words of the fine
    /// versions at even shifts.
    coarse: Vec<SubRows>,
    /// The probe's warped versions for its source (turned for a full-hand probe, zoomed for a
    /// ROI; see `crate::warp`), each at every shift like `fine`.
    warped: Vec<Vec<ProtectedRows>>,
    /// How far around the best shift `warped` is searched (`Warps::reach` of the probe's source).
    warp_reach: i32,
}

/// Differing plane bits and overlapping cells over the first `N` words of each vector.
#[inline(always)]
pub(crate) fn differ_overlap<const N: usize>(
    probe: &[[u64; N]; VECTORS],
    rows: &ProtectedRows,
) -> (u32, u32) {
    let (mut differ, mut overlap) = (0, 0);
    for w in 0..N {
        let m = probe[0][w] & rows[0][w];
        overlap += m.count_ones();
        for k in 1..VECTORS {
            differ += ((probe[k][w] ^ rows[k][w]) & m).count_ones();
        }
    }
    (differ, overlap)
}

impl ProtectedProbe {
    fn check(&self, t: &ProtectedTemplate) -> Result<(), Error> {
        if self.fingerprint != t.fingerprint {
            return Err(ErrorKind::IncompatibleTemplates {
                left: self.fingerprint,
                right: t.fingerprint,
            }
            .into());
        }
        if self.transform != t.transform {
            return Err(ErrorKind::OtherTransform {
                probe: self.transform,
                template: t.transform,
            }
            .into());
        }
        Ok(())
    }

    fn fine_at(&self, rows: &ProtectedRows, dx: i32, dy: i32) -> (u32, u32) {
        differ_overlap(&self.fine[self.index(dx, dy)], rows)
    }

    /// Position of shift (dx, dy) in `fine` and each of `warped`.
    fn index(&self, dx: i32, dy: i32) -> usize {
        let side = 2 * self.reach + 1;
        ((dy + self.reach) * side + dx + self.reach) as usize
    }

    /// `found` or better: the warped probes at the shifts around it that `warp_reach` says, as
    /// [`crate::search::with_warps`] does for plain templates.
    fn with_warps(
        &self,
        rows: &ProtectedRows,
        found: Comparison,
        max_shift: i32,
        params: &Params,
    ) -> Comparison {
        let min_overlap = params.min_overlap_cells;
        let (floor, reach) = (params.warp_floor, self.warp_reach);
        search::around_warped(
            found,
            floor,
            reach,
            max_shift,
            &self.warped,
            |warped, xs, ys| {
                let at = |dx: i32, dy: i32| &warped[self.index(dx, dy)];
                search::best_fine_vectors(xs.clone(), ys.clone(), min_overlap, at, rows)
                    .unwrap_or_else(|| {
                        search::best_fine(
                            PLANES as u32,
                            min_overlap,
                            xs,
                            ys,
                            search::each_shift(|dx, dy| differ_overlap(at(dx, dy), rows)),
                        )
                    })
            },
        )
    }
}

/// The same comparison as [`crate::Matcher::similarity`] on the plain templates, with the same
/// result: the probe plays the first template, the protected one the second.
pub fn compare(
    probe: &ProtectedProbe,
    t: &ProtectedTemplate,
    params: &Params,
) -> Result<Comparison, Error> {
    probe.check(t)?;
    Ok(compare_rows(probe, &t.rows, params))
}

/// [`compare`] on a protected template's cells, for callers that checked the fingerprint and
/// transform when the cells were stored (the index). Runs the AVX-512 kernels where the CPU has
/// them, the scalar ones elsewhere.
pub fn compare_rows(probe: &ProtectedProbe, rows: &ProtectedRows, params: &Params) -> Comparison {
    let max_shift = params.max_shift.min(probe.reach);
    let coarse_reach = probe.reach / 2;
    let coarse_side = 2 * coarse_reach + 1;
    let coarse = |dx: i32, dy: i32| {
        &probe.coarse[((dy + coarse_reach) * coarse_side + dx + coarse_reach) as usize]
    };
    let fine = |dx: i32, dy: i32| &probe.fine[probe.index(dx, dy)];
    let found = search::compare_vectors(max_shift, params.min_overlap_cells, coarse, fine, rows)
        .unwrap_or_else(|| {
            compare_rows_scalar(max_shift, params.min_overlap_cells, coarse, fine, rows)
        });
    probe.with_warps(rows, found, max_shift, params)
}

/// The scalar kernels; `multiversion` also compiles them for AVX2 and picks the version the CPU
/// supports at run time.
#[multiversion::multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
fn compare_rows_scalar<'p>(
    max_shift: i32,
    min_overlap: u32,
    coarse: impl Fn(i32, i32) -> &'p SubRows,
    fine: impl Fn(i32, i32) -> &'p ProtectedRows,
    rows: &ProtectedRows,
) -> Comparison {
    search::coarse_to_fine(
        PLANES as u32,
        max_shift,
        min_overlap,
        search::each_shift(|dx, dy| differ_overlap(coarse(dx, dy), rows)),
        search::each_shift(|dx, dy| differ_overlap(fine(dx, dy), rows)),
    )
}

/// The reference: every shift at full resolution, as [`crate::Matcher::compare_exhaustive`].
pub fn compare_exhaustive(
    probe: &ProtectedProbe,
    t: &ProtectedTemplate,
    params: &Params,
) -> Result<Comparison, Error> {
    probe.check(t)?;
    Ok(compare_rows_exhaustive(probe, &t.rows, params))
}

/// [`compare_exhaustive`] on a protected template's cells.
pub fn compare_rows_exhaustive(
    probe: &ProtectedProbe,
    rows: &ProtectedRows,
    params: &Params,
) -> Comparison {
    let s = params.max_shift.min(probe.reach);
    let found = search::best_fine(
        PLANES as u32,
        params.min_overlap_cells,
        -s..=s,
        -s..=s,
        search::each_shift(|dx, dy| probe.fine_at(rows, dx, dy)),
    );
    probe.with_warps(rows, found, s, params)
}

impl ProtectedTemplate {
    /// Layout (little endian): `magic "PLMP" | version u16 | planes u8 | grid u8 | params
    /// fingerprint u32 | transform u32 | hand u8 | quality u8 | source u8 | reserved u8 |
    /// 7 x 16 x u64 | crc32 of all before it`; 920 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROTECTED_BYTES);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(PLANES as u8);
        out.push(GRID as u8);
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.extend_from_slice(&self.transform.to_le_bytes());
        out.push(self.hand.code());
        out.push(self.quality);
        out.extend_from_slice(&[self.source.code(), 0]);
        for w in self.rows.iter().flatten() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and validates stored bytes: magic, version, shape, checksum and field ranges.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProtectedTemplate, Error> {
        let bad = |why: &str| Error::from(ErrorKind::InvalidTemplate(why.to_string()));
        if bytes.len() < HEADER + 4 || &bytes[..4] != MAGIC {
            return Err(bad("not a protected palmline template"));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(bad(&format!(
                "protected format version {version}, this engine reads {FORMAT_VERSION}"
            )));
        }
        if bytes[6] as usize != PLANES || bytes[7] as usize != GRID {
            return Err(bad("unsupported protected template shape"));
        }
        if bytes.len() != PROTECTED_BYTES {
            return Err(bad(&format!(
                "length {} where {PROTECTED_BYTES} was expected",
                bytes.len()
            )));
        }
        let (body, crc) = bytes.split_at(PROTECTED_BYTES - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("checksum mismatch: the template is corrupted"));
        }
        let hand = Hand::from_code(bytes[16]).ok_or_else(|| bad("unknown hand code"))?;
        let quality = bytes[17];
        if quality > 100 {
            return Err(bad("quality above 100"));
        }
        let source = Source::from_code(bytes[18]).ok_or_else(|| bad("unknown source code"))?;
        let mut words = body[HEADER..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
        let rows =
            std::array::from_fn(|_| std::array::from_fn(|_| words.next().expect("length checked")));
        Ok(ProtectedTemplate {
            fingerprint: u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")),
            transform: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
            hand,
            quality,
            source,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroize;

    #[test]
    fn a_wiped_transform_keeps_nothing_of_its_key() {
        let mut t = Transform::new(3, [0xA5; 32]);
        assert!(t.pads.iter().flatten().any(|&w| w != 0));
        t.zeroize();
        assert_eq!(t.key, [0; 32]);
        assert!(t.position.iter().all(|&p| p == 0));
        assert!(t.pads.iter().flatten().all(|&w| w == 0));
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Transform>();
    }

    /// The key -> layout derivation is a durable format: every template a deployment stored was
    /// scattered by it, so a change (a new shuffle in a dependency, another stream) would make
    /// every stored palm unmatchable. These digests were taken from the layout stored templates
    /// use.
    #[test]
    fn layout_and_pads_from_a_key_are_pinned() {
        let t = Transform::new(1, [7; 32]);
        let position: Vec<u8> = t.position.iter().flat_map(|p| p.to_le_bytes()).collect();
        let pads: Vec<u8> = t
            .pads
            .iter()
            .flatten()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(&t.position[..8], &[82, 430, 9, 505, 63, 571, 98, 493]);
        let mut s = t.stream(1);
        assert_eq!(
            (
                crc32fast::hash(&position),
                crc32fast::hash(&pads),
                [s.next_u64(), s.next_u64()]
            ),
            (
                808039994,
                555551459,
                [17250399114163879021, 11957492525526826207]
            )
        );
    }

    #[test]
    fn protected_bytes_are_pinned() {
        let t = Template {
            fingerprint: 0xdead_beef,
            hand: Hand::Right,
            quality: 61,
            source: Source::Roi,
            mask: std::array::from_fn(|r| u32::MAX >> (r % 5)),
            planes: (0..6u32)
                .map(|p| std::array::from_fn(|r| (r as u32 + 1).wrapping_mul(2_654_435_761) ^ p))
                .collect(),
        };
        let bytes = Transform::new(9, [0x5a; 32])
            .protect(&t)
            .unwrap()
            .to_bytes();
        assert_eq!(bytes.len(), PROTECTED_BYTES);
        // The body's digest (the whole file's CRC would be the CRC residue, the same for any body).
        assert_eq!(crc32fast::hash(&bytes[..bytes.len() - 4]), 2397516910);
    }
}
