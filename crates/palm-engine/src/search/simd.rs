//! AVX-512 versions of the comparison kernels, picked at run time when the CPU has them.
//!
//! The scalar kernels compare one row (or one word) at a time; here one 512-bit register holds two
//! full-resolution rows (mask and six planes in 32-bit lanes), four subsampled rows (16-bit lanes)
//! or eight words of a protected vector, and one instruction counts its set bits. Per-lane shifts
//! (`vpsrld`/`vpsrlw`) move all planes of a row at once and fill with zeros, which is exactly what
//! the scalar `shift_lanes` does with masks. Written by hand because this is the product's hot
//! loop and no crate vectorises this layout; tests check every shift against the scalar kernels.
//!
//! Two builds of the same kernels: one for CPUs with `VPOPCNTDQ` (a popcount instruction on
//! 64-bit lanes: Ice Lake, Zen 4 and later), one for AVX-512 CPUs without it (Skylake-SP,
//! Cascade Lake), which counts bits by nibble lookup.

// Unsafe is confined to this module: `#[target_feature]` functions are unsafe to call from code
// compiled without those features (the caller checks the CPU first), and vector loads read
// through pointers (always within the row arrays; the masked loads never touch memory past them).
#![allow(unsafe_code)]

use super::Prepared;
use crate::search::Comparison;
use crate::template::GRID;
use crate::template::{PLANES, SUB_WORDS, WORDS};
use std::ops::RangeInclusive;

/// Which kernels this CPU can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Avx512Popcnt,
    Avx512,
    Scalar,
}

impl Level {
    /// Detected once; `is_x86_feature_detected!` caches, but the enum is cheaper to branch on.
    pub(crate) fn detect() -> Level {
        static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::env::var_os("PALMLINE_NO_SIMD").is_some() {
                    return Level::Scalar;
                }
                let base = is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("popcnt");
                if base && is_x86_feature_detected!("avx512vpopcntdq") {
                    return Level::Avx512Popcnt;
                }
                if base {
                    return Level::Avx512;
                }
            }
            Level::Scalar
        })
    }
}

/// `Some` of the kernel `$f` of the build this CPU runs, or `None` where only the scalar kernels
/// run.
macro_rules! dispatch {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `detect` saw the features each build enables.
            match Level::detect() {
                Level::Avx512Popcnt => return Some(unsafe { native::$f($($arg),*) }),
                Level::Avx512 => return Some(unsafe { lookup::$f($($arg),*) }),
                Level::Scalar => {}
            }
        }
        let _ = ($($arg),*);
        None
    }};
}

/// The plain comparison at the CPU's best level, or `None` when only the scalar kernels run here.
pub(crate) fn compare(
    a: &Prepared,
    b: &Prepared,
    max_shift: i32,
    min_overlap: u32,
) -> Option<Comparison> {
    dispatch!(compare(a, b, max_shift, min_overlap))
}

/// A protected probe's vectors (mask, then six planes) at one shift: the first 4 words of each
/// for the subsampled pass, all 16 for the full-resolution one.
type Sub = [[u64; SUB_WORDS]; 7];
type Rows = [[u64; WORDS]; 7];

/// The protected comparison (see `crate::protect`) at the CPU's best level, or `None` when only
/// the scalar kernels run here. `coarse(dx, dy)` and `fine(dx, dy)` give the probe's vectors
/// moved by that shift; `rows` is the stored template.
pub(crate) fn compare_vectors<'p>(
    max_shift: i32,
    min_overlap: u32,
    coarse: impl Fn(i32, i32) -> &'p Sub,
    fine: impl Fn(i32, i32) -> &'p Rows,
    rows: &Rows,
) -> Option<Comparison> {
    dispatch!(compare_vectors(max_shift, min_overlap, coarse, fine, rows))
}

/// The best full-resolution shift in `xs` x `ys` of `b` against `a` (see `search::best_fine`) at
/// the CPU's best level, or `None` when only the scalar kernels run here.
pub(crate) fn best_fine(
    a: &Prepared,
    b: &Prepared,
    xs: RangeInclusive<i32>,
    ys: RangeInclusive<i32>,
    min_overlap: u32,
) -> Option<Comparison> {
    dispatch!(best_fine(a, b, xs, ys, min_overlap))
}

/// The same for a protected probe whose vectors at shift (dx, dy) are `fine(dx, dy)`.
pub(crate) fn best_fine_vectors<'p>(
    xs: RangeInclusive<i32>,
    ys: RangeInclusive<i32>,
    min_overlap: u32,
    fine: impl Fn(i32, i32) -> &'p Rows,
    rows: &Rows,
) -> Option<Comparison> {
    dispatch!(best_fine_vectors(xs, ys, min_overlap, fine, rows))
}

#[cfg(target_arch = "x86_64")]
macro_rules! kernels {
    ($name:ident, $features:literal, $popcnt:path, $count32:path, $finish32:path) => {
        mod $name {
            use super::super::{COARSE, Prepared, coarse_to_fine, each_shift};
            use super::*;
            use std::arch::x86_64::*;

            /// The totals of two per-lane counters in one horizontal sum: counts stay far
            /// below 2^32, so the second rides in the high half of each 64-bit lane.
            #[target_feature(enable = $features)]
            #[inline]
            fn sums(low: __m512i, high: __m512i) -> (u32, u32) {
                let both =
                    _mm512_reduce_add_epi64(_mm512_add_epi64(low, _mm512_slli_epi64(high, 32)))
                        as u64;
                (both as u32, (both >> 32) as u32)
            }

            /// Walks the rows of `a` that have a partner in `b` moved down by `dy`, one
            /// register's worth (512 bits of rows of `W` words) at a time, and hands `step` the
            /// rows of both; a last, partial register is loaded with the missing rows as zeros.
            #[target_feature(enable = $features)]
            #[inline]
            fn each_register<const W: usize, const ROWS: usize>(
                a: &[[u64; W]; ROWS],
                b: &[[u64; W]; ROWS],
                dy: i32,
                mut step: impl FnMut(__m512i, __m512i),
            ) {
                let per_register = 8 / W;
                let lo = 0.max(-dy) as usize;
                let hi = (ROWS as i32).min(ROWS as i32 - dy).max(0) as usize;
                let mut r = lo;
                while r < hi {
                    let rows = (hi - r).min(per_register);
                    let k: __mmask8 = ((1u32 << (W * rows)) - 1) as u8;
                    let br = (r as i32 + dy) as usize;
                    // SAFETY: the mask k loads rows r..r + rows of `a` and br..br + rows of
                    // `b`, all inside the arrays: lo <= r, r + rows <= hi <= ROWS and
                    // 0 <= r + dy for r >= lo, r + rows + dy <= hi + dy <= ROWS.
                    let (av, bv) = unsafe {
                        (
                            _mm512_maskz_loadu_epi64(k, a.as_ptr().add(r).cast()),
                            _mm512_maskz_loadu_epi64(k, b.as_ptr().add(br).cast()),
                        )
                    };
                    step(av, bv);
                    r += rows;
                }
            }

            /// Full-resolution pass at shifts `(dx0 + j, dy)` for `j < N`, plane by plane:
            /// one register holds sixteen 32-bit rows of one plane (`Prepared::fine_planes`),
            /// so each half of the grid is loaded once for all N shifts, a shift moves a whole
            /// plane with one instruction, and the mask applies lane by lane.
            #[target_feature(enable = $features)]
            #[inline]
            fn fine_row<const N: usize>(
                a: &[[u32; GRID]; 7],
                b: &[[u32; GRID]; 7],
                dx0: i32,
                dy: i32,
            ) -> [(u32, u32); N] {
                const HALF: usize = GRID / 2;
                let counts: [__m128i; N] =
                    std::array::from_fn(|j| _mm_cvtsi32_si128((dx0 + j as i32).abs()));
                let mut differ = [_mm512_setzero_si512(); N];
                let mut overlap = [_mm512_setzero_si512(); N];
                // Rows r of `a` with a partner r + dy in `b`.
                let lo = 0.max(-dy) as usize;
                let hi = (GRID as i32).min(GRID as i32 - dy).max(0) as usize;
                for r0 in [0, HALF] {
                    let (from, to) = (lo.max(r0), hi.min(r0 + HALF));
                    if from >= to {
                        continue;
                    }
                    let k: __mmask16 = (((1u32 << (to - from)) - 1) << (from - r0)) as u16;
                    // SAFETY: lane i reads row r0 + i of `a` and row r0 + i + dy of `b`; k keeps
                    // only lanes with from <= r0 + i < to, where both rows lie inside their
                    // planes (lo <= r < hi). Masked-off lanes are never read, so the base
                    // pointer of `b` may lie outside its plane (formed with wrapping_offset).
                    let load = |plane: &[u32; GRID], offset: i32| unsafe {
                        _mm512_maskz_loadu_epi32(
                            k,
                            plane
                                .as_ptr()
                                .wrapping_offset((r0 as i32 + offset) as isize)
                                .cast(),
                        )
                    };
                    let av: [__m512i; 7] = std::array::from_fn(|p| load(&a[p], 0));
                    let bv: [__m512i; 7] = std::array::from_fn(|p| load(&b[p], dy));
                    for j in 0..N {
                        let shifted = |v: __m512i| {
                            if dx0 + j as i32 >= 0 {
                                _mm512_srl_epi32(v, counts[j])
                            } else {
                                _mm512_sll_epi32(v, counts[j])
                            }
                        };
                        let m = _mm512_and_si512(av[0], shifted(bv[0]));
                        overlap[j] = $count32(overlap[j], m);
                        for p in 1..7 {
                            // (a ^ s) & m: differing bits where both masks keep the cell.
                            let x = _mm512_ternarylogic_epi32::<0x28>(av[p], shifted(bv[p]), m);
                            differ[j] = $count32(differ[j], x);
                        }
                    }
                }
                std::array::from_fn(|j| {
                    // One horizontal sum for both totals, overlap 16 bits up (differ <=
                    // 6 x 1024 < 2^16).
                    let both = _mm512_add_epi32(
                        $finish32(differ[j]),
                        _mm512_slli_epi32($finish32(overlap[j]), 16),
                    );
                    let both = _mm512_reduce_add_epi32(both) as u32;
                    (both & 0xffff, both >> 16)
                })
            }

            /// Subsampled pass at coarse shifts `(dx0 + j, dy)` for `j < N`: four rows of
            /// 8 x 16-bit lanes `[mask, p0..p5, 0]` per register.
            #[target_feature(enable = $features)]
            #[inline]
            fn coarse_row<const N: usize>(
                a: &[[u64; 2]; COARSE],
                b: &[[u64; 2]; COARSE],
                dx0: i32,
                dy: i32,
            ) -> [(u32, u32); N] {
                // Bytes 0 and 1 of each 128-bit row (its mask) copied to all eight lanes.
                let spread = _mm512_set1_epi16(0x0100);
                let counts: [__m128i; N] =
                    std::array::from_fn(|j| _mm_cvtsi32_si128((dx0 + j as i32).abs()));
                let mut differ = [_mm512_setzero_si512(); N];
                let mut overlap = [_mm512_setzero_si512(); N];
                each_register(a, b, dy, |av, bv| {
                    for j in 0..N {
                        let s = if dx0 + j as i32 >= 0 {
                            _mm512_srl_epi16(bv, counts[j])
                        } else {
                            _mm512_sll_epi16(bv, counts[j])
                        };
                        let m = _mm512_shuffle_epi8(_mm512_and_si512(av, s), spread);
                        let x = _mm512_ternarylogic_epi64::<0x28>(av, s, m);
                        differ[j] = _mm512_add_epi64(differ[j], $popcnt(x));
                        overlap[j] = _mm512_add_epi64(overlap[j], $popcnt(m));
                    }
                });
                // Two shifts per horizontal sum: per shift, differ (<= 6 x 256 < 2^11) and
                // overlap counted in all eight lanes (<= 8 x 256 = 2^11) pack into 32 bits.
                let packed: [__m512i; N] = std::array::from_fn(|j| {
                    _mm512_add_epi64(differ[j], _mm512_slli_epi64(overlap[j], 12))
                });
                let mut out = [(0, 0); N];
                for j in (0..N).step_by(2) {
                    let pair = if j + 1 < N {
                        _mm512_add_epi64(packed[j], _mm512_slli_epi64(packed[j + 1], 32))
                    } else {
                        packed[j]
                    };
                    let pair = _mm512_reduce_add_epi64(pair) as u64;
                    for (k, word) in [(j, pair as u32), (j + 1, (pair >> 32) as u32)] {
                        if k < N {
                            out[k] = (word & 0xfff, (word >> 12) / 8);
                        }
                    }
                }
                out
            }

            /// A [`super::super::ShiftRow`] over `kernel`, with the row lengths the search
            /// uses (3 fine, 5 coarse shifts) compiled as one pass over the rows.
            macro_rules! rows_of {
                ($kernel:ident, $a:expr, $b:expr) => {
                    |dx0: i32, dy: i32, out: &mut [(u32, u32)]| match out.len() {
                        3 => out.copy_from_slice(&$kernel::<3>($a, $b, dx0, dy)),
                        5 => out.copy_from_slice(&$kernel::<5>($a, $b, dx0, dy)),
                        _ => {
                            for (j, slot) in out.iter_mut().enumerate() {
                                *slot = $kernel::<1>($a, $b, dx0 + j as i32, dy)[0];
                            }
                        }
                    }
                };
            }

            /// [`super::super::compare`] with these kernels; the caller checked the CPU.
            #[target_feature(enable = $features)]
            pub(super) fn compare(
                a: &Prepared,
                b: &Prepared,
                max_shift: i32,
                min_overlap: u32,
            ) -> Comparison {
                coarse_to_fine(
                    a.planes,
                    max_shift,
                    min_overlap,
                    rows_of!(coarse_row, &a.coarse, &b.coarse),
                    rows_of!(fine_row, &a.fine_planes, &b.fine_planes),
                )
            }

            #[target_feature(enable = $features)]
            #[inline]
            fn vectors<const N: usize>(probe: &[[u64; N]; 7], rows: &Rows) -> (u32, u32) {
                let (mut differ, mut overlap) = (_mm512_setzero_si512(), _mm512_setzero_si512());
                let mut w = 0;
                while w < N {
                    let k: __mmask8 = if N - w >= 8 {
                        0xFF
                    } else {
                        ((1u32 << (N - w)) - 1) as u8
                    };
                    // SAFETY: words w..w + 8 (as far as k reaches) of every vector exist: k
                    // keeps only words below N <= 16.
                    let load = |v: &[u64]| unsafe {
                        _mm512_maskz_loadu_epi64(k, v.as_ptr().add(w).cast())
                    };
                    let m = _mm512_and_si512(load(&probe[0]), load(&rows[0]));
                    overlap = _mm512_add_epi64(overlap, $popcnt(m));
                    for v in 1..7 {
                        let x =
                            _mm512_ternarylogic_epi64::<0x28>(load(&probe[v]), load(&rows[v]), m);
                        differ = _mm512_add_epi64(differ, $popcnt(x));
                    }
                    w += 8;
                }
                sums(differ, overlap)
            }

            /// [`super::compare_vectors`] with these kernels; the caller checked the CPU.
            #[target_feature(enable = $features)]
            pub(super) fn compare_vectors<'p>(
                max_shift: i32,
                min_overlap: u32,
                coarse: impl Fn(i32, i32) -> &'p Sub,
                fine: impl Fn(i32, i32) -> &'p Rows,
                rows: &Rows,
            ) -> Comparison {
                coarse_to_fine(
                    PLANES as u32,
                    max_shift,
                    min_overlap,
                    each_shift(|dx, dy| vectors(coarse(dx, dy), rows)),
                    each_shift(|dx, dy| vectors(fine(dx, dy), rows)),
                )
            }

            /// [`super::best_fine`] with these kernels; the caller checked the CPU.
            #[target_feature(enable = $features)]
            pub(super) fn best_fine(
                a: &Prepared,
                b: &Prepared,
                xs: RangeInclusive<i32>,
                ys: RangeInclusive<i32>,
                min_overlap: u32,
            ) -> Comparison {
                super::super::best_fine(
                    a.planes,
                    min_overlap,
                    xs,
                    ys,
                    rows_of!(fine_row, &a.fine_planes, &b.fine_planes),
                )
            }

            /// [`super::best_fine_vectors`] with these kernels; the caller checked the CPU.
            #[target_feature(enable = $features)]
            pub(super) fn best_fine_vectors<'p>(
                xs: RangeInclusive<i32>,
                ys: RangeInclusive<i32>,
                min_overlap: u32,
                fine: impl Fn(i32, i32) -> &'p Rows,
                rows: &Rows,
            ) -> Comparison {
                super::super::best_fine(
                    PLANES as u32,
                    min_overlap,
                    xs,
                    ys,
                    each_shift(|dx, dy| vectors(fine(dx, dy), rows)),
                )
            }

            /// The protected-vector kernel on the subsampled and full words, for the tests; the
            /// caller checked the CPU.
            #[cfg(test)]
            pub(super) fn vectors_checked(probe: &Rows, rows: &Rows) -> [(u32, u32); 2] {
                let sub: Sub = std::array::from_fn(|v| std::array::from_fn(|w| probe[v][w]));
                // SAFETY: tests call this only after the CPU check.
                unsafe { [vectors(&sub, rows), vectors(probe, rows)] }
            }

            /// The row kernels at 1, 3 and 5 shifts, for the tests; the caller checked the CPU.
            #[cfg(test)]
            pub(super) fn rows_checked(
                a: &Prepared,
                b: &Prepared,
                dx0: i32,
                dy: i32,
            ) -> [[(u32, u32); 5]; 2] {
                // SAFETY: tests call this only after the CPU check.
                unsafe {
                    let mut fine = [(0, 0); 5];
                    let (af, bf) = (&a.fine_planes, &b.fine_planes);
                    fine[..3].copy_from_slice(&fine_row::<3>(af, bf, dx0, dy));
                    fine[3] = fine_row::<1>(af, bf, dx0 + 3, dy)[0];
                    fine[4] = fine_row::<1>(af, bf, dx0 + 4, dy)[0];
                    [fine, coarse_row::<5>(&a.coarse, &b.coarse, dx0 / 2, dy / 2)]
                }
            }
        }
    };
}

/// The bit counts the two builds differ in.
#[cfg(target_arch = "x86_64")]
mod count {
    use std::arch::x86_64::*;

    /// Set bits per 64-bit lane.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    #[inline]
    pub(super) fn popcnt_native(v: __m512i) -> __m512i {
        _mm512_popcnt_epi64(v)
    }

    /// Adds the set bits of each 32-bit lane of `v` to `acc`.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    #[inline]
    pub(super) fn count32_native(acc: __m512i, v: __m512i) -> __m512i {
        _mm512_add_epi32(acc, _mm512_popcnt_epi32(v))
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) fn finish32_native(acc: __m512i) -> __m512i {
        acc
    }

    /// Without `VPOPCNTDQ` the counts stay per byte while they add up (a byte counts at most 8
    /// bits a step, and a pass adds at most 12 steps: two halves of six planes), then
    /// [`finish32_lookup`] sums each lane's bytes.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) fn count32_lookup(acc: __m512i, v: __m512i) -> __m512i {
        _mm512_add_epi8(acc, popcnt_bytes(v))
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) fn finish32_lookup(acc: __m512i) -> __m512i {
        let pairs = _mm512_maddubs_epi16(acc, _mm512_set1_epi8(1));
        _mm512_madd_epi16(pairs, _mm512_set1_epi16(1))
    }

    /// Set bits per byte, by a 16-entry table per nibble.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn popcnt_bytes(v: __m512i) -> __m512i {
        let table = _mm512_broadcast_i32x4(_mm_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        ));
        let nibbles = _mm512_set1_epi8(0x0f);
        let low = _mm512_shuffle_epi8(table, _mm512_and_si512(v, nibbles));
        let high = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), nibbles));
        _mm512_add_epi8(low, high)
    }

    /// Set bits per 64-bit lane without `VPOPCNTDQ`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) fn popcnt_lookup(v: __m512i) -> __m512i {
        _mm512_sad_epu8(popcnt_bytes(v), _mm512_setzero_si512())
    }
}

#[cfg(target_arch = "x86_64")]
kernels!(
    native,
    "avx512f,avx512bw,avx512vpopcntdq,popcnt",
    count::popcnt_native,
    count::count32_native,
    count::finish32_native
);
#[cfg(target_arch = "x86_64")]
kernels!(
    lookup,
    "avx512f,avx512bw,popcnt",
    count::popcnt_lookup,
    count::count32_lookup,
    count::finish32_lookup
);

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::template::{Hand, Template};

    fn random_prepared(seed: u64) -> Prepared {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u32
        };
        // A mask with holes, so overlap counting is exercised.
        let mask = std::array::from_fn(|_| next() | next());
        let t = Template {
            fingerprint: 7,
            hand: Hand::Unknown,
            quality: 90,
            source: crate::template::Source::Roi,
            mask,
            planes: (0..6).map(|_| std::array::from_fn(|_| next())).collect(),
        };
        Prepared::new(&t)
    }

    /// Every vector build this CPU can run (each is tested, not only the one `detect` picks),
    /// said on stderr (`cargo test -- --nocapture` shows it; `.ci/run` prints it), so a run on a
    /// CPU without AVX-512, where only the scalar kernels exist to test, is visible as such.
    pub(super) fn levels(test: &str) -> Vec<Level> {
        let mut out = vec![];
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("popcnt")
        {
            out.push(Level::Avx512);
            if is_x86_feature_detected!("avx512vpopcntdq") {
                out.push(Level::Avx512Popcnt);
            }
        }
        if out.is_empty() {
            eprintln!("simd {test}: no AVX-512 on this CPU, no vector kernel to test");
        } else {
            eprintln!("simd {test}: tested {out:?} against the scalar kernels");
        }
        out
    }

    #[test]
    fn vector_kernels_count_what_the_scalar_kernels_count_at_every_shift() {
        for level in levels("rows") {
            for seed in 0..6 {
                let (a, b) = (random_prepared(seed), random_prepared(seed + 100));
                for dy in -16..=16 {
                    for dx0 in -16..=12 {
                        let [fine, coarse] = match level {
                            Level::Avx512Popcnt => native::rows_checked(&a, &b, dx0, dy),
                            _ => lookup::rows_checked(&a, &b, dx0, dy),
                        };
                        for j in 0..5 {
                            let dx = dx0 + j as i32;
                            assert_eq!(
                                fine[j],
                                super::super::fine_at(&a, &b, dx, dy),
                                "{level:?} fine {dx},{dy}"
                            );
                            let (cx, cy) = (dx0 / 2 + j as i32, dy / 2);
                            assert_eq!(
                                coarse[j],
                                super::super::coarse_at(&a, &b, cx, cy),
                                "{level:?} coarse {cx},{cy}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn protected_vector_kernels_count_what_the_scalar_kernel_counts() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for level in levels("protected") {
            for _ in 0..50 {
                let probe: Rows = std::array::from_fn(|_| std::array::from_fn(|_| next()));
                let rows: Rows = std::array::from_fn(|_| std::array::from_fn(|_| next()));
                let sub: Sub = std::array::from_fn(|v| std::array::from_fn(|w| probe[v][w]));
                let expected = [
                    crate::protect::differ_overlap(&sub, &rows),
                    crate::protect::differ_overlap(&probe, &rows),
                ];
                let got = match level {
                    Level::Avx512Popcnt => native::vectors_checked(&probe, &rows),
                    _ => lookup::vectors_checked(&probe, &rows),
                };
                assert_eq!(got, expected, "{level:?}");
            }
        }
    }

    #[test]
    fn a_search_with_vector_kernels_gives_the_scalar_result() {
        for level in levels("search") {
            for seed in 0..20 {
                let (a, b) = (random_prepared(seed), random_prepared(seed + 50));
                for (max_shift, min_overlap) in [(4, 400), (2, 100), (6, 200)] {
                    let scalar = super::super::compare_scalar(&a, &b, max_shift, min_overlap);
                    let fast = match level {
                        Level::Avx512Popcnt => unsafe {
                            native::compare(&a, &b, max_shift, min_overlap)
                        },
                        _ => unsafe { lookup::compare(&a, &b, max_shift, min_overlap) },
                    };
                    assert_eq!(fast, scalar, "{level:?} seed {seed}");
                }
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod palm_tests {
    use super::*;
    use palm_synth::{Capture, Identity, Scene, png_bytes};

    /// Real codes are smooth and their masks have holes at the ROI's edges (full hands): the
    /// vector search must give the scalar result on them too, not only on random bits.
    #[test]
    fn on_synthetic_palms_the_vector_search_gives_the_scalar_result() {
        let levels = super::tests::levels("palms");
        let engine = crate::Engine::default();
        let scenes = [
            Scene::Roi { size: 150 },
            Scene::Hand {
                width: 640,
                height: 480,
            },
        ];
        let prepared: Vec<Prepared> = (300..304)
            .flat_map(|seed| (1..=2).flat_map(move |k| scenes.map(|scene| (seed, k, scene))))
            .map(|(seed, k, scene)| {
                let bytes = png_bytes(&Identity::new(seed).render(scene, Capture::new(k)));
                let extraction = engine.extract(&bytes, crate::InputKind::Auto).unwrap();
                Prepared::new(&extraction.template)
            })
            .collect();
        for level in levels {
            for a in &prepared {
                for b in &prepared {
                    // SAFETY: `levels` lists only builds whose features this CPU has.
                    let fast = match level {
                        Level::Avx512Popcnt => unsafe { native::compare(a, b, 4, 400) },
                        _ => unsafe { lookup::compare(a, b, 4, 400) },
                    };
                    assert_eq!(
                        fast,
                        super::super::compare_scalar(a, b, 4, 400),
                        "{level:?}"
                    );
                }
            }
        }
    }
}
