//! The in-memory search form of a template and the fast comparison over it.
//!
//! Trying all 81 shifts at full resolution costs ~30 us a match. Instead: a coarse pass on the code
//! subsampled 2:1 (16 x 16 cells) tries the 25 even shifts, then the full-resolution code tries
//! the 3 x 3 shifts around the best coarse one. Each row keeps its mask and all planes in one or two
//! u64 words (16- or 32-bit lanes), so one XOR, AND and popcount compare several planes at once.
//! Where the CPU has AVX-512, `simd` runs the same search on 512-bit registers (several rows and
//! a row of shifts per pass) with identical counts. Hand-written because it is the product's hot
//! loop; no crate packs codes this way.

use crate::error::{Error, ErrorKind};
use crate::filters::GRID;
use crate::matcher::Comparison;
use crate::template::{Source, Template};
use std::ops::RangeInclusive;

mod simd;

const COARSE: usize = GRID / 2;
const REP16: u64 = 0x0001_0001_0001_0001;
const REP32: u64 = 0x0000_0001_0000_0001;

/// A template laid out for fast comparison. Build once per template with [`Prepared::new`].
#[derive(Clone, Debug)]
pub struct Prepared {
    pub fingerprint: u32,
    planes: u32,
    /// Per coarse row: lanes `[mask, p0, p1, p2]` and `[p3, p4, p5, 0]`, 16 bits each.
    coarse: [[u64; 2]; COARSE],
    /// Per row: lanes `[mask, p0]`, `[p1, p2]`, `[p3, p4]`, `[p5, 0]`, 32 bits each.
    fine: [[u64; 4]; GRID],
    /// Full-hand templates are also compared turned (see `turn`).
    source: Source,
    /// The turned versions, made on the first comparison that needs them.
    turned: std::sync::OnceLock<Turned>,
}

#[derive(Clone, Debug)]
struct Turned {
    degrees: f32,
    versions: Box<[Prepared; 2]>,
}

fn lane(planes: &[[u32; GRID]], mask: &[u32; GRID], k: usize, row: usize) -> u32 {
    if k == 0 {
        mask[row]
    } else {
        planes.get(k - 1).map_or(0, |p| p[row])
    }
}

/// Every other bit of a 32-bit row (bits 0, 2, 4, ...), packed into 16 bits.
fn even_bits(v: u32) -> u64 {
    // Halve the gaps between the kept bits step by step.
    let mut x = v & 0x5555_5555;
    x = (x | x >> 1) & 0x3333_3333;
    x = (x | x >> 2) & 0x0f0f_0f0f;
    x = (x | x >> 4) & 0x00ff_00ff;
    x = (x | x >> 8) & 0x0000_ffff;
    x as u64
}

impl Prepared {
    pub fn new(t: &Template) -> Prepared {
        Prepared {
            source: t.source,
            ..Prepared::from_parts(t.fingerprint, &t.mask, &t.planes)
        }
    }

    /// From a template's rows held elsewhere, without building a `Template` first; compared as
    /// a ROI (never turned).
    pub fn from_parts(fingerprint: u32, mask: &[u32; GRID], planes: &[[u32; GRID]]) -> Prepared {
        let mut coarse = [[0u64; 2]; COARSE];
        for (r, words) in coarse.iter_mut().enumerate() {
            for k in 0..7 {
                words[k / 4] |= even_bits(lane(planes, mask, k, 2 * r)) << (16 * (k % 4));
            }
        }
        let mut fine = [[0u64; 4]; GRID];
        for (r, words) in fine.iter_mut().enumerate() {
            for k in 0..7 {
                words[k / 2] |= (lane(planes, mask, k, r) as u64) << (32 * (k % 2));
            }
        }
        Prepared {
            fingerprint,
            planes: planes.len() as u32,
            coarse,
            fine,
            source: Source::Roi,
            turned: std::sync::OnceLock::new(),
        }
    }

    /// Lane `k` (0 = mask, 1.. = planes) of row `r`, from the full-resolution rows.
    fn row(&self, k: usize, r: usize) -> u32 {
        (self.fine[r][k / 2] >> (32 * (k % 2))) as u32
    }

    /// This template turned by `-degrees` and `+degrees` (see `turn`), kept after the first call.
    fn turned(&self, degrees: f32) -> std::borrow::Cow<'_, [Prepared; 2]> {
        let make = || {
            let mask: [u32; GRID] = std::array::from_fn(|r| self.row(0, r));
            let planes: Vec<[u32; GRID]> = (1..=self.planes as usize)
                .map(|k| std::array::from_fn(|r| self.row(k, r)))
                .collect();
            [-degrees, degrees].map(|d| {
                let (m, p) = crate::turn::turn(&mask, &planes, d);
                Prepared::from_parts(self.fingerprint, &m, &p)
            })
        };
        let cached = self.turned.get_or_init(|| Turned {
            degrees,
            versions: Box::new(make()),
        });
        if cached.degrees == degrees {
            std::borrow::Cow::Borrowed(&cached.versions)
        } else {
            std::borrow::Cow::Owned(make())
        }
    }
}

/// Both prepared templates must come from one parameter set and template shape.
fn check_compatible(a: &Prepared, b: &Prepared) -> Result<(), Error> {
    if a.fingerprint != b.fingerprint || a.planes != b.planes {
        return Err(ErrorKind::IncompatibleTemplates {
            left: a.fingerprint,
            right: b.fingerprint,
        }
        .into());
    }
    Ok(())
}

/// Shifts every `bits`-wide lane of `w` so that bit `c` of a lane becomes bit `c + dx`'s value.
#[inline(always)]
fn shift_lanes(w: u64, dx: i32, lane_ones: u64, rep: u64) -> u64 {
    if dx >= 0 {
        (w >> dx) & ((lane_ones >> dx) * rep)
    } else {
        (w << -dx) & (((lane_ones << -dx) & lane_ones) * rep)
    }
}

/// Coarse pass: (differing bits, overlapping cells) at coarse shift (dx, dy).
#[inline(always)]
fn coarse_at(a: &Prepared, b: &Prepared, dx: i32, dy: i32) -> (u32, u32) {
    let (mut differ, mut overlap) = (0, 0);
    let rows = (0.max(-dy) as usize)..(COARSE as i32).min(COARSE as i32 - dy) as usize;
    for r in rows {
        let bw = &b.coarse[(r as i32 + dy) as usize];
        let (b0, b1) = (
            shift_lanes(bw[0], dx, 0xFFFF, REP16),
            shift_lanes(bw[1], dx, 0xFFFF, REP16),
        );
        let m = a.coarse[r][0] & b0 & 0xFFFF;
        let m4 = m * REP16;
        differ += ((a.coarse[r][0] ^ b0) & m4 & !0xFFFF).count_ones()
            + ((a.coarse[r][1] ^ b1) & m4).count_ones();
        overlap += m.count_ones();
    }
    (differ, overlap)
}

/// Full-resolution pass at shift (dx, dy).
#[inline(always)]
fn fine_at(a: &Prepared, b: &Prepared, dx: i32, dy: i32) -> (u32, u32) {
    let (mut differ, mut overlap) = (0, 0);
    let rows = (0.max(-dy) as usize)..(GRID as i32).min(GRID as i32 - dy) as usize;
    for r in rows {
        let (aw, bw) = (&a.fine[r], &b.fine[(r as i32 + dy) as usize]);
        let s: [u64; 4] = std::array::from_fn(|k| shift_lanes(bw[k], dx, 0xFFFF_FFFF, REP32));
        let m = aw[0] & s[0] & 0xFFFF_FFFF;
        let m2 = m * REP32;
        differ += ((aw[0] ^ s[0]) & m2 & !0xFFFF_FFFF).count_ones()
            + ((aw[1] ^ s[1]) & m2).count_ones()
            + ((aw[2] ^ s[2]) & m2).count_ones()
            + ((aw[3] ^ s[3]) & m2).count_ones();
        overlap += m.count_ones();
    }
    (differ, overlap)
}

/// Coarse-to-fine comparison; `max_shift` and `min_overlap` in full-resolution cells. Runs the
/// AVX-512 kernels where the CPU has them (`simd`), the scalar ones elsewhere.
pub fn compare(
    a: &Prepared,
    b: &Prepared,
    max_shift: i32,
    min_overlap: u32,
) -> Result<Comparison, Error> {
    check_compatible(a, b)?;
    Ok(simd::compare(a, b, max_shift, min_overlap)
        .unwrap_or_else(|| compare_scalar(a, b, max_shift, min_overlap)))
}

/// The scalar kernels; `multiversion` also compiles them for AVX2 and picks the version the CPU
/// supports at run time.
#[multiversion::multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
fn compare_scalar(a: &Prepared, b: &Prepared, max_shift: i32, min_overlap: u32) -> Comparison {
    coarse_to_fine(
        a.planes,
        max_shift,
        min_overlap,
        each_shift(|dx, dy| coarse_at(a, b, dx, dy)),
        each_shift(|dx, dy| fine_at(a, b, dx, dy)),
    )
}

pub(crate) use simd::{best_fine_vectors, compare_vectors};

/// Counts at consecutive shifts `(dx0, dy), (dx0 + 1, dy), ...`, one per slot of the slice:
/// kernels that load a row once for several shifts implement this directly.
pub(crate) trait ShiftRow: Fn(i32, i32, &mut [(u32, u32)]) {}
impl<F: Fn(i32, i32, &mut [(u32, u32)])> ShiftRow for F {}

/// A [`ShiftRow`] from a kernel that counts one shift at a time.
#[inline(always)]
pub(crate) fn each_shift(at: impl Fn(i32, i32) -> (u32, u32)) -> impl ShiftRow {
    move |dx0, dy, out: &mut [(u32, u32)]| {
        for (k, slot) in out.iter_mut().enumerate() {
            *slot = at(dx0 + k as i32, dy);
        }
    }
}

/// Shifts beyond half the grid leave under a quarter of the cells to compare.
const MAX_REACH: usize = GRID / 2;

/// The search shared by plain and protected templates (see `protect`): every even shift on the
/// 2:1 subsampled code, then the 3 x 3 full-resolution shifts around the best. `coarse` and `fine`
/// count (differing bits, overlapping cells) with the second template moved by (dx, dy) coarse
/// or fine cells, a row of shifts at a time.
#[inline(always)]
pub(crate) fn coarse_to_fine(
    planes: u32,
    max_shift: i32,
    min_overlap: u32,
    coarse: impl ShiftRow,
    fine: impl ShiftRow,
) -> Comparison {
    let max_shift = max_shift.clamp(0, MAX_REACH as i32);
    let reach = max_shift / 2;
    let mut row = [(0, 0); MAX_REACH + 1];
    let row = &mut row[..(2 * reach + 1) as usize];
    // Every coarse shift is tried: hill climbing from (0, 0) visited half as many and matched 20%
    // faster, but lost a genuine coep-hands pair (EER 1.42% -> 1.60%).
    let mut best = Best::default();
    for dy in -reach..=reach {
        coarse(-reach, dy, row);
        for (dx, &(differ, overlap)) in (-reach..).zip(row.iter()) {
            best.offer(
                differ,
                overlap,
                overlap * 4 >= min_overlap,
                (2 * dx, 2 * dy),
            );
        }
    }
    let (xs, ys) = around(best.shift, max_shift);
    best_fine(planes, min_overlap, xs, ys, fine)
}

/// The 3 x 3 shifts around `centre`, kept within `max_shift`.
fn around(centre: (i32, i32), max_shift: i32) -> (RangeInclusive<i32>, RangeInclusive<i32>) {
    let near = |c: i32| (c - 1).max(-max_shift)..=(c + 1).min(max_shift);
    (near(centre.0), near(centre.1))
}

/// The lowest distance `differ / overlap` seen so far, compared exactly by cross-multiplying and
/// without branches: which shift wins is unpredictable, and a division plus a mispredicted
/// branch per shift cost more than counting the bits (ties keep the shift seen first).
#[derive(Clone, Copy)]
struct Best {
    differ: u64,
    overlap: u64,
    shift: (i32, i32),
}

impl Default for Best {
    fn default() -> Self {
        // 1 / 0: worse than any real distance.
        Best {
            differ: 1,
            overlap: 0,
            shift: (0, 0),
        }
    }
}

impl Best {
    #[inline(always)]
    fn offer(&mut self, differ: u32, overlap: u32, enough: bool, shift: (i32, i32)) {
        let (differ, overlap) = (differ as u64, overlap as u64);
        let better = enough & (differ * self.overlap < self.differ * overlap);
        *self = if better {
            Best {
                differ,
                overlap,
                shift,
            }
        } else {
            *self
        };
    }
}

/// `found` (the unturned search's result) or better, when `a` comes from a full-hand photo: `a`
/// turned by `-degrees` and `+degrees`, compared at the 3 x 3 shifts around `found.shift` (see
/// `turn`). `protect` does the same with its turned probes, so scores stay identical.
pub fn with_rotations(
    a: &Prepared,
    b: &Prepared,
    found: Comparison,
    degrees: f32,
    max_shift: i32,
    min_overlap: u32,
) -> Comparison {
    if a.source != Source::FullHand || degrees == 0.0 {
        return found;
    }
    around_turned(
        found,
        max_shift,
        a.turned(degrees).iter(),
        |turned, xs, ys| {
            simd::best_fine(turned, b, xs.clone(), ys.clone(), min_overlap).unwrap_or_else(|| {
                best_fine(
                    a.planes,
                    min_overlap,
                    xs,
                    ys,
                    each_shift(|dx, dy| fine_at(turned, b, dx, dy)),
                )
            })
        },
    )
}

/// `found`, or better: the best of `search(version, xs, ys)` over the turned versions, each
/// searched at the 3 x 3 shifts around `found.shift` (ties keep `found`). Plain and protected
/// turn searches both go through here, so they pick alike.
pub(crate) fn around_turned<T>(
    found: Comparison,
    max_shift: i32,
    versions: impl IntoIterator<Item = T>,
    search: impl Fn(T, RangeInclusive<i32>, RangeInclusive<i32>) -> Comparison,
) -> Comparison {
    let (xs, ys) = around(found.shift, max_shift);
    versions
        .into_iter()
        .map(|version| search(version, xs.clone(), ys.clone()))
        .fold(found, |best, c| {
            if c.similarity > best.similarity {
                c
            } else {
                best
            }
        })
}

/// The reference: every shift within `max_shift` at full resolution (81 for +-4).
pub fn compare_exhaustive(
    a: &Prepared,
    b: &Prepared,
    max_shift: i32,
    min_overlap: u32,
) -> Result<Comparison, Error> {
    check_compatible(a, b)?;
    Ok(best_fine(
        a.planes,
        min_overlap,
        -max_shift..=max_shift,
        -max_shift..=max_shift,
        each_shift(|dx, dy| fine_at(a, b, dx, dy)),
    ))
}

/// The best full-resolution shift within the given ranges.
#[inline(always)]
pub(crate) fn best_fine(
    planes: u32,
    min_overlap: u32,
    xs: RangeInclusive<i32>,
    ys: RangeInclusive<i32>,
    fine: impl ShiftRow,
) -> Comparison {
    let planes = planes.max(1);
    let mut best = Best::default();
    let mut row = [(0, 0); 2 * MAX_REACH + 1];
    let (x0, x1) = (
        (*xs.start()).max(-(MAX_REACH as i32)),
        (*xs.end()).min(MAX_REACH as i32),
    );
    let row = &mut row[..(x1 - x0 + 1).max(0) as usize];
    let ys = (*ys.start()).max(-(MAX_REACH as i32))..=(*ys.end()).min(MAX_REACH as i32);
    for dy in ys {
        fine(x0, dy, row);
        for (dx, &(differ, overlap)) in (x0..).zip(row.iter()) {
            best.offer(differ, overlap, overlap >= min_overlap, (dx, dy));
        }
    }
    if best.overlap == 0 {
        return Comparison {
            similarity: 0.0,
            shift: (0, 0),
            overlap: 0,
        };
    }
    Comparison {
        similarity: 1.0 - best.differ as f32 / (planes as u64 * best.overlap) as f32,
        shift: best.shift,
        overlap: best.overlap as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_bits_keeps_bits_0_2_4() {
        assert_eq!(even_bits(0b0101), 0b11);
        assert_eq!(even_bits(0b1010), 0);
        assert_eq!(even_bits(u32::MAX), 0xffff);
        assert_eq!(even_bits(1 << 30), 1 << 15);
        for v in [0x1234_5678u32, 0xdead_beef, 7] {
            let slow = (0..16).fold(0u64, |acc, i| acc | (((v >> (2 * i)) & 1) as u64) << i);
            assert_eq!(even_bits(v), slow);
        }
    }
}
