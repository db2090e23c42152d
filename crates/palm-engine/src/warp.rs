//! Codes turned or zoomed a little, for the warp search of probes whose geometry is uncertain.
//!
//! The shift search undoes translations only. Two other errors are common enough to search for:
//! - A full-hand ROI's frame comes from landmarks (finger valleys, palm centre) whose errors turn
//!   the ROI by a few degrees between photos of one hand: a full-hand probe is also compared
//!   turned by -r and +r degrees (`Params::max_rotation_deg`).
//! - A pre-cropped ROI was cut by someone else's landmark finder, whose scale varies between
//!   photos of one hand (tongji-roi's t007/0007 is cut about 8% closer than its mates): a ROI
//!   probe is also compared zoomed by z and 1/z (`Params::zoom_ratio`).
//!
//! Each warped version is compared around the best unwarped shift (`Warps::reach`), and only
//! when the unwarped similarity reaches `Params::warp_floor`: most impostor comparisons end
//! there, so the search costs little where 1:N identification spends its time. Warping moves the
//! cells (nearest cell about the grid centre); the orientation planes stay as they are, which is
//! close enough for turns well under the 30 degrees between planes and for zooms well under the
//! filters' bandwidth. Measured with `palmline eval` (see docs/engine.md): ROI crops gain nothing
//! from turns and full-hand photos nothing from zooms, so each source tries only its own warp.

use crate::params::Params;
use crate::template::GRID;
use crate::template::Source;

/// The warp search's settings, from [`Params`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warps {
    pub degrees: f32,
    pub zoom: f32,
    pub floor: f32,
}

impl Warps {
    pub fn new(p: &Params) -> Warps {
        Warps {
            degrees: p.max_rotation_deg,
            zoom: p.zoom_ratio,
            floor: p.warp_floor,
        }
    }

    /// The (degrees, zoom) versions a probe from `source` is also compared with; none when its
    /// warp is switched off (0 degrees, zoom 1).
    pub(crate) fn versions(&self, source: Source) -> Vec<(f32, f32)> {
        match source {
            Source::FullHand if self.degrees != 0.0 => {
                vec![(-self.degrees, 1.0), (self.degrees, 1.0)]
            }
            Source::Roi if self.zoom != 1.0 => vec![(0.0, self.zoom), (0.0, 1.0 / self.zoom)],
            _ => Vec::new(),
        }
    }

    /// How far from the best unwarped shift, in cells, the warped versions are searched: a turn
    /// moves the outer cells by up to a cell against the centre, so turned versions try the 3 x 3
    /// shifts around it; a zoom about the centre leaves the best shift where it was (measured: a
    /// 3 x 3 search of zooms gains nothing on tongji-roi and costs three times as much).
    pub(crate) fn reach(&self, source: Source) -> i32 {
        match source {
            Source::FullHand => 1,
            Source::Roi => 0,
        }
    }
}

/// `mask` and `planes` turned by `degrees` and magnified by `zoom` about the grid centre; cells
/// brought in from outside the grid, or from masked cells, are masked out.
pub(crate) fn warp(
    mask: &[u32; GRID],
    planes: &[[u32; GRID]],
    degrees: f32,
    zoom: f32,
) -> ([u32; GRID], Vec<[u32; GRID]>) {
    // Each output cell reads the source cell it came from: turned back and shrunk.
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (sin, cos) = (sin / zoom, cos / zoom);
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
        let (m, p) = warp(&mask, &[plane], 0.0, 1.0);
        assert_eq!((m, p[0]), (mask, plane));
        // Every cell valid, one plane bit set: after 90 degrees it sits a quarter round.
        let (m, p) = warp(&[u32::MAX; GRID], &[plane], 90.0, 1.0);
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

    #[test]
    fn a_zoom_moves_cells_away_from_the_centre_and_masks_what_it_brings_in() {
        let mut plane = [0u32; GRID];
        // (24, 16) is (8.5, 0.5) from the centre (15.5, 15.5); magnified 2x it lands near (32.5,
        // 16.5), off the grid, while (20, 16), at 4.5, lands at (24 or 25, 16 or 17).
        plane[16] = 1 << 20 | 1 << 24;
        let (m, p) = warp(&[u32::MAX; GRID], &[plane], 0.0, 2.0);
        let set: Vec<(usize, usize)> = (0..GRID)
            .flat_map(|y| (0..GRID).map(move |x| (x, y)))
            .filter(|&(x, y)| p[0][y] >> x & 1 == 1)
            .collect();
        assert!(
            !set.is_empty()
                && set
                    .iter()
                    .all(|&(x, y)| (24..=25).contains(&x) && (16..=17).contains(&y)),
            "{set:?}"
        );
        // Shrunk by half, the outer ring of the grid reads from outside it: masked.
        let (m_small, _) = warp(&[u32::MAX; GRID], &[plane], 0.0, 0.5);
        assert_eq!(m_small[0], 0);
        assert_eq!(m_small[GRID / 2] >> (GRID / 2) & 1, 1);
        assert_eq!(m.iter().map(|r| r.count_ones()).sum::<u32>(), 1024);
    }

    #[test]
    fn each_source_tries_its_own_warp() {
        let w = Warps::new(&Params::default());
        let (hand, roi) = (w.versions(Source::FullHand), w.versions(Source::Roi));
        assert_eq!((hand.len(), roi.len()), (2, 2));
        assert!(hand.iter().all(|&(d, z)| d != 0.0 && z == 1.0));
        assert!(roi.iter().all(|&(d, z)| d == 0.0 && z != 1.0));
        let off = Warps {
            degrees: 0.0,
            zoom: 1.0,
            floor: 0.0,
        };
        assert!(off.versions(Source::FullHand).is_empty() && off.versions(Source::Roi).is_empty());
    }
}
