//! The full-hand path: a photo of an open hand -> hand mask -> palm centre -> finger valleys ->
//! palm coordinate frame -> a rotation- and scale-normalised square ROI.
//!
//! Segmentation works on skin chroma (the Cr channel of YCbCr, thresholded by Otsu) so that dark
//! cloth, coloured guide pins and grey sleeves fall away. The palm centre is the centre of the
//! largest inscribed circle of the mask. Fingers are the long runs of a radial profile around that
//! centre; the valleys between index/middle, middle/ring and ring/little are the profile's minima
//! between them. The ROI frame's y axis points from the valley line towards the palm centre, so
//! the ROI of one hand is the same whatever the in-plane rotation of the photo.

mod landmarks;
mod segment;

use crate::error::Rejection;
use crate::gray::Gray;
use crate::params::Params;
use crate::roi::{Roi, to_gray};
use crate::template::Hand;
use image::RgbImage;
use segment::{channels, palm_centre, segment};

/// Longer side of the working image used for segmentation, in pixels.
const WORK_SIDE: usize = 400;

/// Where the hand and its landmarks were found, in source-image pixels.
#[derive(Clone, Debug)]
pub struct HandGeometry {
    /// Hand mask at working resolution (1.0 = hand); `mask_scale` source px per mask px.
    pub mask: Gray,
    pub mask_scale: f32,
    pub palm_centre: (f32, f32),
    pub palm_radius: f32,
    /// Finger valleys in order index/middle, middle/ring, ring/little (or the reverse when the
    /// thumb could not be seen).
    pub valleys: Vec<(f32, f32)>,
    /// Corners of the ROI square in the source image, clockwise from its top-left.
    pub roi_corners: [(f32, f32); 4],
    pub hand: Hand,
}

/// The segmented hand at working resolution, and working pixels per source pixel's inverse.
pub fn mask_only(rgb: &RgbImage) -> Result<Gray, Rejection> {
    Ok(working_mask(rgb)?.0)
}

fn working_mask(rgb: &RgbImage) -> Result<(Gray, f32), Rejection> {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mask_scale = (w.max(h) as f32 / WORK_SIDE as f32).max(1.0);
    let (mw, mh) = (
        (w as f32 / mask_scale).round() as usize,
        (h as f32 / mask_scale).round() as usize,
    );
    Ok((segment(&channels(rgb, mw, mh))?, mask_scale))
}

pub fn palm_roi(rgb: &RgbImage, p: &Params) -> Result<(Roi, HandGeometry), Rejection> {
    let (mask, mask_scale) = working_mask(rgb)?;
    let (centre, radius) = palm_centre(&mask);
    if radius < 12.0 {
        return Err(Rejection::PalmTooSmall);
    }
    let landmarks::Landmarks { valleys, hand } = landmarks::find(&mask, centre, radius)?;
    let to_src = |(x, y): (f32, f32)| ((x + 0.5) * mask_scale - 0.5, (y + 0.5) * mask_scale - 0.5);
    let valleys: Vec<(f32, f32)> = valleys.into_iter().map(to_src).collect();
    let centre_src = to_src(centre);

    // The palm frame: origin between the outer valleys, y towards the palm centre. Its direction
    // blends two estimates that fail differently: square to the line through the outer valleys
    // (tilts with any misplaced outer valley) and from the middle valley to the palm centre
    // (anchored by the inscribed circle, which barely moves between photos of one hand).
    let (v1, v2, v3) = (valleys[0], valleys[1], valleys[2]);
    let d = ((v3.0 - v1.0).powi(2) + (v3.1 - v1.1).powi(2)).sqrt();
    let origin = ((v1.0 + v3.0) / 2.0, (v1.1 + v3.1) / 2.0);
    let (mut sx, mut sy) = (-(v3.1 - v1.1) / d, (v3.0 - v1.0) / d);
    if (centre_src.0 - origin.0) * sx + (centre_src.1 - origin.1) * sy < 0.0 {
        (sx, sy) = (-sx, -sy);
    }
    let (cx, cy) = unit(centre_src.0 - v2.0, centre_src.1 - v2.1);
    let w = FRAME_WEIGHT_OF_CENTRE;
    let (yx, yy) = unit(w * cx + (1.0 - w) * sx, w * cy + (1.0 - w) * sy);
    let (xx, xy) = (yy, -yx);
    // Scale from two measures that fail differently: the valley span moves when a valley is
    // misplaced, the palm's inscribed circle barely does (1% spread over one hand's photos
    // against 3-9% for the span on coep-hands c001-c040). Their mean matched better than either.
    let side =
        0.5 * (ROI_SIDE_PER_VALLEY_SPAN * d + ROI_SIDE_PER_PALM_RADIUS * radius * mask_scale);
    let offset = ROI_OFFSET_PER_VALLEY_SPAN * d + side / 2.0;
    let c = (origin.0 + yx * offset, origin.1 + yy * offset);
    let at = |u: f32, v: f32| (c.0 + xx * u + yx * v, c.1 + xy * u + yy * v);
    let half = side / 2.0;
    let roi_corners = [
        at(-half, -half),
        at(half, -half),
        at(half, half),
        at(-half, half),
    ];

    let grey = to_gray(rgb);
    let n = p.roi_size;
    let scale = side / n as f32;
    // Supersample so a downscaled ROI averages the source pixels instead of aliasing them.
    let ss = scale.ceil().max(1.0) as usize;
    let mut image = Gray::new(n, n);
    let mut valid = Gray::new(n, n);
    for v in 0..n {
        for u in 0..n {
            let (mut acc, mut hits) = (0.0, 0usize);
            for sy in 0..ss {
                for sx in 0..ss {
                    let fu = (u as f32 + (sx as f32 + 0.5) / ss as f32 - n as f32 / 2.0) * scale;
                    let fv = (v as f32 + (sy as f32 + 0.5) / ss as f32 - n as f32 / 2.0) * scale;
                    let (x, y) = at(fu, fv);
                    if let Some(g) = grey.sample(x, y) {
                        acc += g;
                        hits += 1;
                    }
                }
            }
            let (x, y) = at(
                (u as f32 + 0.5 - n as f32 / 2.0) * scale,
                (v as f32 + 0.5 - n as f32 / 2.0) * scale,
            );
            let in_hand = mask.sample(x / mask_scale, y / mask_scale).unwrap_or(0.0) > 0.5;
            image.set(u, v, if hits > 0 { acc / hits as f32 } else { 0.0 });
            valid.set(u, v, (hits == ss * ss && in_hand) as u8 as f32);
        }
    }
    let geometry = HandGeometry {
        mask,
        mask_scale,
        palm_centre: centre_src,
        palm_radius: radius * mask_scale,
        valleys,
        roi_corners,
        hand,
    };
    Ok((
        Roi {
            image,
            valid,
            source_scale: scale,
        },
        geometry,
    ))
}

/// Weight of the middle-valley-to-centre direction in the frame's y axis (the rest: square to
/// the outer valleys' line). Chosen on coep-hands c001-c050 among 0.25, 0.5, 0.75 and 1, checked on
/// c051-c100.
const FRAME_WEIGHT_OF_CENTRE: f32 = 0.75;

/// `(x, y)` scaled to length 1 (left as is when it has none).
fn unit(x: f32, y: f32) -> (f32, f32) {
    let n = (x * x + y * y).sqrt();
    if n > 0.0 { (x / n, y / n) } else { (x, y) }
}

/// ROI side and its distance below the valley line, as multiples of the outer-valley distance.
const ROI_SIDE_PER_VALLEY_SPAN: f32 = 1.25;
const ROI_OFFSET_PER_VALLEY_SPAN: f32 = 0.2;
/// ROI side per palm radius: the median ratio of the valley-span side to the inscribed circle's
/// radius on coep-hands c001-c040, so that the blend keeps the ROI's average size.
const ROI_SIDE_PER_PALM_RADIUS: f32 = 1.16;
