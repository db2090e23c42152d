//! Codes turned by a small angle, for the rotation search of full-hand probes.
//!
//! A full-hand ROI's frame comes from landmarks (finger valleys, palm centre) whose errors turn
//! the ROI by a few degrees between photos of one hand; the shift search cannot undo a turn. So a
//! full-hand probe is also compared turned by -r and +r degrees (`Params::max_rotation_deg`) at
//! the 3 x 3 shifts around the best unturned shift. Turning moves the cells (nearest cell about
//! the grid centre); the orientation planes stay as they are, which is close enough for turns well
//! under the 30 degrees between planes. Measured with `palmline eval` on coep-hands (see
//! ARCHITECTURE.md); ROI crops gain nothing from it and are not turned.

use crate::filters::GRID;

/// `mask` and `planes` turned by `degrees` about the grid centre; cells turned in from outside the
/// grid, or from masked cells, are masked out.
pub(crate) fn turn(
    mask: &[u32; GRID],
    planes: &[[u32; GRID]],
    degrees: f32,
) -> ([u32; GRID], Vec<[u32; GRID]>) {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let c = (GRID as f32 - 1.0) / 2.0;
    let mut out_mask = [0u32; GRID];
    let mut out_planes = vec![[0u32; GRID]; planes.len()];
    for y in 0..GRID {
        for x in 0..GRID {
            let (u, v) = (x as f32 - c, y as f32 - c);
            let (sx, sy) = (
                (cos * u + sin * v + c).round(),
                (cos * v - sin * u + c).round(),
            );
            if !(0.0..GRID as f32).contains(&sx) || !(0.0..GRID as f32).contains(&sy) {
                continue;
            }
            let (sx, sy) = (sx as usize, sy as usize);
            if mask[sy] >> sx & 1 == 0 {
                continue;
            }
            out_mask[y] |= 1 << x;
            for (out, plane) in out_planes.iter_mut().zip(planes) {
                out[y] |= (plane[sy] >> sx & 1) << x;
            }
        }
    }
    (out_mask, out_planes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_turn_moves_cells_round_the_centre_and_zero_keeps_them() {
        let mut mask = [0u32; GRID];
        let mut plane = [0u32; GRID];
        mask[5] = 1 << 20;
        plane[5] = 1 << 20;
        let (m, p) = turn(&mask, &[plane], 0.0);
        assert_eq!((m, p[0]), (mask, plane));
        // Every cell valid, one plane bit set: after 90 degrees it sits a quarter round.
        let (m, p) = turn(&[u32::MAX; GRID], &[plane], 90.0);
        assert_eq!(m.iter().map(|r| r.count_ones()).sum::<u32>(), 1024);
        let set: Vec<(usize, usize)> = (0..GRID)
            .flat_map(|y| (0..GRID).map(move |x| (x, y)))
            .filter(|&(x, y)| p[0][y] >> x & 1 == 1)
            .collect();
        assert_eq!(set.len(), 1);
        let (x, y) = set[0];
        // (20, 5) relative to the centre (15.5, 15.5) is (4.5, -10.5); turned a quarter it is
        // (10.5, 4.5) or (-10.5, -4.5), by direction.
        assert!(
            [(26, 20), (5, 11)].contains(&(x, y)),
            "turned cell at {x},{y}"
        );
    }
}
