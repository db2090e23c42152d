//! The coarse code that proposes candidates: each orientation plane reduced to the majority bit
//! of 4 x 4-cell blocks (8 x 8 blocks), plus a block mask. 7 u64 words, 56 bytes.
//!
//! A gallery palm keeps one code; a probe is coded at nine block-grid offsets (-2, 0, +2 cells
//! in x and y) and a gallery code's distance is the smallest over them, so a probe shifted by up
//! to a block still lands near its mate. Scanning is XOR + AND + popcount on u64 words.

use palm_engine::GRID;

pub const PLANES: usize = 6;
pub const WORDS: usize = PLANES + 1;
const BLOCK: usize = 4;
const BLOCKS: usize = GRID / BLOCK;

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
            for cy in 0..BLOCK as i32 {
                let y = (by * BLOCK) as i32 + cy + oy;
                if !(0..GRID as i32).contains(&y) {
                    continue;
                }
                let y = y as usize;
                for cx in 0..BLOCK as i32 {
                    let x = (bx * BLOCK) as i32 + cx + ox;
                    if !(0..GRID as i32).contains(&x) || mask[y] >> x & 1 == 0 {
                        continue;
                    }
                    valid += 1;
                    for (p, plane) in planes.iter().enumerate().take(PLANES) {
                        ones[p] += plane[y] >> x & 1;
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

/// The nine probe codes.
pub fn probe_codes(mask: &[u32; GRID], planes: &[[u32; GRID]]) -> [CoarseCode; 9] {
    let offsets = [-2, 0, 2];
    std::array::from_fn(|k| encode(mask, planes, (offsets[k % 3], offsets[k / 3])))
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
pub fn best_distance(probe: &[CoarseCode; 9], g: &CoarseCode) -> f32 {
    probe.iter().map(|p| distance(p, g)).fold(1.0, f32::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_at_distance_zero_from_itself_and_a_two_cell_shift_is_found() {
        let mask = [u32::MAX; GRID];
        // Smooth random-ish planes: stripes at different angles.
        let planes: Vec<[u32; GRID]> = (0..PLANES)
            .map(|p| {
                std::array::from_fn(|y| {
                    (0..32).fold(0u32, |acc, x| {
                        acc | ((((x * (p + 1) + y * (7 - p)) / 6) % 2) as u32) << x
                    })
                })
            })
            .collect();
        let g = encode(&mask, &planes, (0, 0));
        assert_eq!(distance(&g, &g), 0.0);
        // The probe sees the palm two cells to the left: its block grid at +2 finds it exactly.
        let shifted: Vec<[u32; GRID]> = planes
            .iter()
            .map(|pl| std::array::from_fn(|y| pl[y] >> 2))
            .collect();
        let shifted_mask: [u32; GRID] = std::array::from_fn(|_| u32::MAX >> 2);
        let probe = probe_codes(&shifted_mask, &shifted);
        assert!(
            best_distance(&probe, &g) < 0.05,
            "{}",
            best_distance(&probe, &g)
        );
        assert!(distance(&probe[4], &g) > best_distance(&probe, &g));
    }
}
