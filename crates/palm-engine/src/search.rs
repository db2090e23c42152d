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
use crate::template::GRID;
use crate::template::{Source, Template};
use crate::warp::Warps;
use std::ops::RangeInclusive;

/// The result of comparing two templates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// `1 - distance` at the best shift; 0 when no shift had enough overlap.
    pub similarity: f32,
    /// The probe's offset, in code cells, at which the templates agree best.
    pub shift: (i32, i32),
    /// Cells both templates kept at that shift.
    pub overlap: u32,
}

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
    /// The same rows plane by plane (mask, p0..p5), for the AVX-512 kernels: one register holds
    /// sixteen rows of one plane, so a shift moves them with one instruction and the mask is
    /// applied without spreading it across lanes.
    fine_planes: [[u32; GRID]; 7],
    /// Probes are also compared warped, by their source (see `warp`).
    source: Source,
    /// The warped versions, made on the first comparison that needs them.
    warped: std::sync::OnceLock<Warped>,
}

#[derive(Clone, Debug)]
struct Warped {
    warps: Warps,
    versions: Vec<Prepared>,
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
    /// a ROI.
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
            fine_planes: std::array::from_fn(|k| std::array::from_fn(|r| lane(planes, mask, k, r))),
            source: Source::Roi,
            warped: std::sync::OnceLock::new(),
        }
    }

    /// This template's warped versions for its source (see `warp`), kept after the first call.
    fn warped(&self, warps: Warps) -> std::borrow::Cow<'_, [Prepared]> {
        let make = || {
            let (mask, planes) = (
                &self.fine_planes[0],
                &self.fine_planes[1..=self.planes as usize],
            );
            warps
                .versions(self.source)
                .into_iter()
                .map(|(degrees, zoom)| {
                    let (m, p) = crate::warp::warp(mask, planes, degrees, zoom);
                    Prepared::from_parts(self.fingerprint, &m, &p)
                })
                .collect::<Vec<_>>()
        };
        let cached = self.warped.get_or_init(|| Warped {
            warps,
            versions: make(),
        });
        if cached.warps == warps {
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
        // The four far corners, shifted both ways by the whole reach, are left out: no genuine
        // pair of tongji-roi or coep-hands scores differently without them (9% of impostor pairs
        // score lower), and they cost a sixth of the coarse pass.
        let cut = (dy.abs() == reach && reach > 0) as i32;
        let row = &mut row[cut as usize..(2 * reach + 1 - cut) as usize];
        coarse(-reach + cut, dy, row);
        for (dx, &(differ, overlap)) in (-reach + cut..).zip(row.iter()) {
            best.offer(
                differ,
                overlap,
                overlap * 4 >= min_overlap,
                (2 * dx, 2 * dy),
            );
        }
    }
    fine_around(planes, min_overlap, best.shift, max_shift, fine)
}

/// The fine step of [`coarse_to_fine`]: the best full-resolution shift next to `centre`, found
/// by trying the row of three shifts through it, the two above and below it, and then only the
/// corner between the better side and the better of above and below: 6 of the 3 x 3 shifts.
/// Measured against all nine, warps off: every genuine pair of tongji-roi and coep-hands scores
/// the same but one (0.6975 for 0.7017), 3-5% of impostor pairs score a little lower, at two
/// thirds of the cost; the fine step is most of a comparison.
#[inline(always)]
fn fine_around(
    planes: u32,
    min_overlap: u32,
    centre: (i32, i32),
    max_shift: i32,
    fine: impl ShiftRow,
) -> Comparison {
    let (cx, cy) = centre;
    let inside = |v: i32| (-max_shift..=max_shift).contains(&v);
    let mut best = Best::default();
    // The better neighbour on each axis, by its own distance (`Best` keeps the first of ties).
    let (mut side, mut vertical) = (Best::default(), Best::default());
    let mut row = [(0, 0); 3];
    let x0 = (cx - 1).max(-max_shift);
    let x1 = (cx + 1).min(max_shift);
    let row = &mut row[..(x1 - x0 + 1) as usize];
    fine(x0, cy, row);
    for (dx, &(differ, overlap)) in (x0..).zip(row.iter()) {
        let enough = overlap >= min_overlap;
        best.offer(differ, overlap, enough, (dx, cy));
        if dx != cx {
            side.offer(differ, overlap, enough, (dx, cy));
        }
    }
    let one = |(dx, dy): (i32, i32)| {
        let mut out = [(0, 0)];
        fine(dx, dy, &mut out);
        out[0]
    };
    for dy in [cy - 1, cy + 1].into_iter().filter(|&dy| inside(dy)) {
        let (differ, overlap) = one((cx, dy));
        let enough = overlap >= min_overlap;
        best.offer(differ, overlap, enough, (cx, dy));
        vertical.offer(differ, overlap, enough, (cx, dy));
    }
    if side.overlap > 0 && vertical.overlap > 0 {
        let corner = (side.shift.0, vertical.shift.1);
        let (differ, overlap) = one(corner);
        best.offer(differ, overlap, overlap >= min_overlap, corner);
    }
    best.comparison(planes)
}

/// The shifts within `reach` of `centre` (3 x 3 for 1), kept within `max_shift`.
fn around(
    centre: (i32, i32),
    reach: i32,
    max_shift: i32,
) -> (RangeInclusive<i32>, RangeInclusive<i32>) {
    let near = |c: i32| (c - reach).max(-max_shift)..=(c + reach).min(max_shift);
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
    /// The comparison this best shift makes; similarity 0 when no shift had enough overlap.
    fn comparison(&self, planes: u32) -> Comparison {
        if self.overlap == 0 {
            return Comparison {
                similarity: 0.0,
                shift: (0, 0),
                overlap: 0,
            };
        }
        Comparison {
            similarity: 1.0 - self.differ as f32 / (planes.max(1) as u64 * self.overlap) as f32,
            shift: self.shift,
            overlap: self.overlap as u32,
        }
    }

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

/// `found` (the unwarped search's result) or better: `a`'s warped versions for its source (see
/// `warp`), compared at the shifts around `found.shift` that `Warps::reach` says. `protect` does
/// the same with its warped probes, so scores stay identical.
pub fn with_warps(
    a: &Prepared,
    b: &Prepared,
    found: Comparison,
    warps: Warps,
    max_shift: i32,
    min_overlap: u32,
) -> Comparison {
    // Checked here as well as in `around_warped` so that most comparisons never build the
    // warped versions.
    if found.similarity < warps.floor {
        return found;
    }
    around_warped(
        found,
        warps.floor,
        warps.reach(a.source),
        max_shift,
        a.warped(warps).iter(),
        |warped, xs, ys| {
            simd::best_fine(warped, b, xs.clone(), ys.clone(), min_overlap).unwrap_or_else(|| {
                best_fine(
                    a.planes,
                    min_overlap,
                    xs,
                    ys,
                    each_shift(|dx, dy| fine_at(warped, b, dx, dy)),
                )
            })
        },
    )
}

/// `found`, or better: the best of `search(version, xs, ys)` over the warped versions, each
/// searched at the shifts within `reach` of `found.shift` (ties keep `found`); `found` itself
/// when it is below `floor`. Plain and protected warp searches both go through here, so they
/// pick alike.
pub(crate) fn around_warped<T>(
    found: Comparison,
    floor: f32,
    reach: i32,
    max_shift: i32,
    versions: impl IntoIterator<Item = T>,
    search: impl Fn(T, RangeInclusive<i32>, RangeInclusive<i32>) -> Comparison,
) -> Comparison {
    if found.similarity < floor {
        return found;
    }
    let (xs, ys) = around(found.shift, reach, max_shift);
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
    best.comparison(planes)
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
