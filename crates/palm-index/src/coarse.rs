//! The coarse code that proposes candidates: each orientation plane reduced to the majority bit
//! of 4 x 4-cell blocks (8 x 8 blocks), plus a block mask. 7 u64 words, 56 bytes.
//!
//! Each block's majority is taken over an 8 x 8-cell window centred on it (windows overlap), and
//! a probe is coded at four block-grid offsets (-1, +1 cell in x and y); a gallery code's distance
//! is the smallest over them, so a probe shifted by a few cells still lands near its mate.
//! Scanning is XOR + AND + popcount on u64 words.

use palm_engine::GRID;

/// Orientation planes in a template.
pub const TEMPLATE_PLANES: usize = 6;
/// The planes the coarse code keeps. All six: keeping three or four made the scan 20-30% faster
/// but lost 2-3 of 403 real probes' mates from the shortlist at a million palms.
const CODED: [usize; 6] = [0, 1, 2, 3, 4, 5];
const PLANES: usize = CODED.len();
pub const WORDS: usize = PLANES + 1;
const BLOCK: usize = 4;
const BLOCKS: usize = GRID / BLOCK;
/// Each block's majority is taken over a window this many cells wider on every side, so that a
/// probe misaligned by a cell still agrees with its mate on most blocks.
const MARGIN: i32 = 2;

/// Fewest blocks two codes must share for their distance to count.
const MIN_OVERLAP_BLOCKS: u32 = 16;

/// Planes `0..6` then the block mask, one bit per block (bit `by * 8 + bx`).
pub type CoarseCode = [u64; WORDS];

/// Codes a template's rows (mask first, then planes) with the block grid moved by `(ox, oy)` cells.
pub fn encode(mask: &[u32; GRID], planes: &[[u32; GRID]], (ox, oy): (i32, i32)) -> CoarseCode {
    let mut code = [0u64; WORDS];
    for by in 0..BLOCKS {
        for bx in 0..BLOCKS {
            let bit = 1u64 << (by * BLOCKS + bx);
            let (mut valid, mut ones) = (0u32, [0u32; PLANES]);
            for cy in -MARGIN..BLOCK as i32 + MARGIN {
                let y = (by * BLOCK) as i32 + cy + oy;
                if !(0..GRID as i32).contains(&y) {
                    continue;
                }
                let y = y as usize;
                for cx in -MARGIN..BLOCK as i32 + MARGIN {
                    let x = (bx * BLOCK) as i32 + cx + ox;
                    if !(0..GRID as i32).contains(&x) || mask[y] >> x & 1 == 0 {
                        continue;
                    }
                    valid += 1;
                    for (p, &k) in CODED.iter().enumerate() {
                        ones[p] += planes[k][y] >> x & 1;
                    }
                }
            }
            if valid * 2 >= (BLOCK * BLOCK) as u32 {
                code[PLANES] |= bit;
                for p in 0..PLANES {
                    if ones[p] * 2 > valid {
                        code[p] |= bit;
                    }
                }
            }
        }
    }
    code
}

/// The keyed layout of coarse codes under a deployment's transform: the 64 block bits of every
/// word move to secret places (one permutation for the mask and all planes) and each plane word
/// is XORed with a secret pad. The scan never shifts codes, so distances are unchanged.
#[derive(Clone)]
pub struct Layout {
    /// Destination bit of block `b`.
    to: [u8; 64],
    pads: [u64; PLANES],
}

/// The transform's key stream the coarse layout is drawn from (the engine's own layout is 0).
const LAYOUT_STREAM: u64 = 1;

impl Layout {
    pub fn new(transform: &palm_engine::protect::Transform) -> Layout {
        let mut rng = transform.stream(LAYOUT_STREAM);
        let mut to: [u8; 64] = std::array::from_fn(|b| b as u8);
        rng.shuffle(&mut to);
        Layout {
            to,
            pads: std::array::from_fn(|_| rng.next_u64()),
        }
    }

    fn permute(&self, mut w: u64) -> u64 {
        let mut out = 0;
        while w != 0 {
            let b = w.trailing_zeros() as usize;
            w &= w - 1;
            out |= 1 << self.to[b];
        }
        out
    }

    /// A code in this layout.
    pub fn apply(&self, code: &CoarseCode) -> CoarseCode {
        std::array::from_fn(|k| {
            let moved = self.permute(code[k]);
            if k < PLANES {
                moved ^ self.pads[k]
            } else {
                moved
            }
        })
    }
}

/// Block-grid offsets at which a probe is coded (cells, per axis).
const OFFSETS: [i32; 2] = [-1, 1];
/// How many codes a probe has.
pub const PROBE_CODES: usize = OFFSETS.len() * OFFSETS.len();

/// The probe's codes, one per offset pair.
pub fn probe_codes(mask: &[u32; GRID], planes: &[[u32; GRID]]) -> [CoarseCode; PROBE_CODES] {
    let n = OFFSETS.len();
    std::array::from_fn(|k| encode(mask, planes, (OFFSETS[k % n], OFFSETS[k / n])))
}

/// Masked Hamming distance in `0..=1` (1 when too few blocks overlap).
#[inline]
pub fn distance(a: &CoarseCode, b: &CoarseCode) -> f32 {
    let m = a[PLANES] & b[PLANES];
    let overlap = m.count_ones();
    if overlap < MIN_OVERLAP_BLOCKS {
        return 1.0;
    }
    let differ: u32 = (0..PLANES).map(|p| ((a[p] ^ b[p]) & m).count_ones()).sum();
    differ as f32 / (PLANES as u32 * overlap) as f32
}

/// Smallest distance of a gallery code to any of the probe's codes.
#[inline]
pub fn best_distance(probe: &[CoarseCode; PROBE_CODES], g: &CoarseCode) -> f32 {
    probe.iter().map(|p| distance(p, g)).fold(1.0, f32::min)
}

/// Disagreements a block that only one code has is charged: the expected count for unrelated
/// codes (half of the planes). Charging instead of dividing by the overlap keeps the scan in
/// integer arithmetic.
const MISSING_BLOCK_COST: u32 = PLANES as u32 / 2;

/// Integer scan score of every gallery code against the probe's codes (lower is closer):
/// disagreeing bits over shared blocks, plus [`MISSING_BLOCK_COST`] per block not shared, at the
/// best of the probe's offsets. This is the index's hot loop; `multiversion` compiles it for AVX2
/// too and picks the version the CPU supports at run time.
#[multiversion::multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
pub fn scan(probe: &[CoarseCode; PROBE_CODES], gallery: &[CoarseCode], scores: &mut Vec<u32>) {
    scores.clear();
    // Nearly every code covers all blocks; for those the mask work drops out.
    let probe_full = probe.iter().all(|p| p[PLANES] == u64::MAX);
    scores.extend(gallery.iter().map(|g| {
        let mut best = u32::MAX;
        if probe_full && g[PLANES] == u64::MAX {
            for p in probe {
                let mut d = 0;
                for k in 0..PLANES {
                    d += (p[k] ^ g[k]).count_ones();
                }
                best = best.min(d);
            }
            return best;
        }
        for p in probe {
            let m = p[PLANES] & g[PLANES];
            let mut d = (64 - m.count_ones()) * MISSING_BLOCK_COST;
            for k in 0..PLANES {
                d += ((p[k] ^ g[k]) & m).count_ones();
            }
            best = best.min(d);
        }
        best
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_at_distance_zero_from_itself_and_a_shifted_probe_is_found() {
        let mask = [u32::MAX; GRID];
        // Pseudo-random planes: only an exactly aligned block grid reproduces their majorities.
        let mut state = 0x1234_5678u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let planes: Vec<[u32; GRID]> = (0..TEMPLATE_PLANES)
            .map(|_| std::array::from_fn(|_| next()))
            .collect();
        let g = encode(&mask, &planes, (0, 0));
        assert_eq!(distance(&g, &g), 0.0);
        // The probe sees the palm one cell left and one up: its block grid at offset (-1, -1)
        // lines up with the gallery's and beats an unshifted grid.
        let up = |rows: &[u32; GRID]| -> [u32; GRID] {
            std::array::from_fn(|y| if y + 1 < GRID { rows[y + 1] >> 1 } else { 0 })
        };
        let shifted: Vec<[u32; GRID]> = planes.iter().map(up).collect();
        let shifted_mask = up(&mask);
        let probe = probe_codes(&shifted_mask, &shifted);
        let best = best_distance(&probe, &g);
        // Only the blocks along the top and left edges lose a row or column of cells.
        assert!(best < 0.12, "{best}");
        assert!(distance(&encode(&shifted_mask, &shifted, (0, 0)), &g) > best);
        let mut scores = Vec::new();
        let stranger: Vec<[u32; GRID]> = planes
            .iter()
            .map(|pl| std::array::from_fn(|y| pl[GRID - 1 - y].reverse_bits()))
            .collect();
        scan(&probe, &[g, encode(&mask, &stranger, (0, 0))], &mut scores);
        assert!(scores[0] < scores[1], "{scores:?}");
    }
}
