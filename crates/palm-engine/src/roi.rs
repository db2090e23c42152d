//! The pre-cropped path: a square crop someone else cut (Tongji, PolyU) becomes the engine's ROI.
//!
//! Crops are not trusted blindly: pixels far darker than the palm (background, black corners
//! where the crop left the photo) are marked invalid, and the kept window slides towards the
//! palm texture when the crop is off-centre.

use crate::gray::Gray;
use crate::params::Params;

/// A square region of interest with a validity map, both `roi_size` a side.
pub struct Roi {
    pub image: Gray,
    /// 1.0 where the pixel belongs to the palm, 0.0 where it is background or outside the photo.
    pub valid: Gray,
    /// Source pixels per ROI pixel: how much real detail the ROI holds.
    pub source_scale: f32,
}

/// Grey from RGB as the filters see it.
pub fn to_gray(rgb: &image::RgbImage) -> Gray {
    let (w, h) = rgb.dimensions();
    let mut g = Gray::new(w as usize, h as usize);
    for (i, p) in rgb.pixels().enumerate() {
        g.px[i] = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    }
    g
}

/// Palm pixels are those brighter than a fraction of the crop's typical palm brightness.
fn validity(grey: &Gray) -> Gray {
    let smooth = grey.box_mean(2);
    // The 75th percentile by selection, not a full sort (a quarter of the ROI path's time).
    let mut levels = smooth.px.clone();
    let upper_quarter = levels.len() * 3 / 4;
    let palm_level = *levels
        .select_nth_unstable_by(upper_quarter, f32::total_cmp)
        .1;
    let floor = (palm_level * 0.3).max(8.0);
    Gray {
        width: grey.width,
        height: grey.height,
        px: smooth
            .px
            .iter()
            .map(|&v| (v > floor) as u8 as f32)
            .collect(),
    }
}

pub fn from_crop(grey: &Gray, p: &Params) -> Roi {
    let valid = validity(grey);
    let side = grey.width.min(grey.height);
    let keep = ((side as f32 * p.crop_keep).round() as usize).clamp(16, side);
    let (x0, y0) = best_window(&valid, keep);
    let window = Gray::from_fn(keep, keep, |x, y| grey.at(x0 + x, y0 + y));
    let window_valid = Gray::from_fn(keep, keep, |x, y| valid.at(x0 + x, y0 + y));
    Roi {
        image: window.resize(p.roi_size, p.roi_size),
        valid: window_valid.resize(p.roi_size, p.roi_size),
        source_scale: keep as f32 / p.roi_size as f32,
    }
}

/// Top-left corner of the `keep x keep` window holding the most valid pixels; among equals, the
/// one nearest the centre of the crop.
fn best_window(valid: &Gray, keep: usize) -> (usize, usize) {
    let (w, h) = (valid.width, valid.height);
    let (cx, cy) = ((w - keep) / 2, (h - keep) / 2);
    if keep == w && keep == h {
        return (0, 0);
    }
    let mut integral = vec![0.0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut acc = 0.0;
        for x in 0..w {
            acc += valid.at(x, y) as f64;
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + acc;
        }
    }
    let sum = |x: usize, y: usize| {
        integral[(y + keep) * (w + 1) + x + keep]
            - integral[y * (w + 1) + x + keep]
            - integral[(y + keep) * (w + 1) + x]
            + integral[y * (w + 1) + x]
    };
    let mut best = (cx, cy);
    let mut best_key = (sum(cx, cy), 0i64);
    for y in 0..=h - keep {
        for x in 0..=w - keep {
            let dist = (x as i64 - cx as i64).pow(2) + (y as i64 - cy as i64).pow(2);
            let key = (sum(x, y), -dist);
            if key.0 > best_key.0 + 0.5 || (key.0 >= best_key.0 - 0.5 && key.1 > best_key.1) {
                best = (x, y);
                best_key = key;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_corner_is_invalid_and_window_slides_away_from_it() {
        // Bright texture everywhere except a black band on the left third.
        let g = Gray::from_fn(150, 150, |x, y| {
            if x < 50 {
                0.0
            } else {
                120.0 + ((x * 3 + y) % 7) as f32
            }
        });
        let v = validity(&g);
        assert_eq!(v.at(10, 75), 0.0);
        assert_eq!(v.at(100, 75), 1.0);
        // Smoothing lets the band's edge blur by two pixels at most.
        let (x0, _) = best_window(&v, 100);
        assert!((48..=50).contains(&x0), "{x0}");
    }
}
