//! The full-hand path: a photo of a hand -> a palm coordinate frame -> a rotation- and
//! scale-normalised square ROI.
//!
//! The frame comes from learned hand landmarks (`learned`) wherever the landmark models find a
//! hand. When they see none, the outline reader below tries: hand mask -> palm centre -> finger
//! valleys. Its segmentation works on skin chroma (the Cr channel of YCbCr, thresholded by Otsu) so that dark
//! cloth, coloured guide pins and grey sleeves fall away. The palm centre is the centre of the
//! largest inscribed circle of the mask. Fingers are the long runs of a radial profile around that
//! centre; the valleys between index/middle, middle/ring and ring/little are the profile's minima
//! between them. The ROI frame's y axis points from the valley line towards the palm centre, so
//! the ROI of one hand is the same whatever the in-plane rotation of the photo.

mod landmarks;
mod learned;
mod segment;

use crate::error::Rejection;
use crate::gray::Gray;
use crate::params::{OutlineFrame, Params};
use crate::roi::{Roi, to_gray};
use crate::template::Hand;
use image::RgbImage;
use segment::{channels, palm_centre, segment};

/// How the ROI's frame was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMethod {
    /// From learned hand landmarks (the knuckles and the wrist): the general path.
    Landmarks,
    /// From the finger valleys of the hand's outline (the outline reader, when the landmark
    /// models see no hand).
    Valleys,
    /// From the outline's palm centre and longest finger, when its valleys could not be a hand's
    /// (fingers pressed together, a crack taken for a valley).
    LongestFinger,
}

/// Where the hand and its landmarks were found, in source-image pixels.
#[derive(Clone, Debug)]
pub struct HandGeometry {
    pub method: FrameMethod,
    /// Hand mask at working resolution (1.0 = hand), outline reader only; `mask_scale` source px
    /// per mask px.
    pub mask: Option<Gray>,
    pub mask_scale: f32,
    /// The outline reader's palm centre and inscribed radius; for landmarks, the ROI's centre
    /// and half its side.
    pub palm_centre: (f32, f32),
    pub palm_radius: f32,
    /// The outline reader's finger valleys in order index/middle, middle/ring, ring/little (or
    /// the reverse when the thumb could not be seen); empty for landmarks.
    pub valleys: Vec<(f32, f32)>,
    /// The 21 learned hand landmarks (wrist 0, knuckles 5, 9, 13, 17); empty for the outline.
    pub landmarks: Vec<(f32, f32)>,
    /// Corners of the ROI square in the source image, clockwise from its top-left.
    pub roi_corners: [(f32, f32); 4],
    pub hand: Hand,
    /// The landmarks were read where the hover's previous frame left the hand
    /// ([`palm_roi_following`]), without the palm detector.
    pub followed: bool,
}

/// The segmented hand at working resolution, and working pixels per source pixel's inverse.
pub fn mask_only(rgb: &RgbImage, o: &OutlineFrame) -> Result<Gray, Rejection> {
    Ok(working_mask(rgb, o)?.0)
}

fn working_mask(rgb: &RgbImage, o: &OutlineFrame) -> Result<(Gray, f32), Rejection> {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mask_scale = (w.max(h) as f32 / o.work_side as f32).max(1.0);
    let (mw, mh) = (
        (w as f32 / mask_scale).round() as usize,
        (h as f32 / mask_scale).round() as usize,
    );
    Ok((
        segment(&channels(rgb, mw, mh), o.ring_max_area)?,
        mask_scale,
    ))
}

/// The palm's ROI in a photo of a hand: framed from learned landmarks, or by the outline reader
/// when the landmark models see no hand at all.
pub fn palm_roi(rgb: &RgbImage, p: &Params) -> Result<(Roi, HandGeometry), Rejection> {
    if let learned::Found::Palm {
        frame,
        hand,
        landmarks,
    } = learned::find(rgb, p)?
    {
        return learned_roi(rgb, p, frame, hand, &landmarks);
    }
    let outline = Outline::read(rgb, &p.outline)?;
    match learned::from_outline(rgb, p, outline.centre, outline.radius, outline.far_tip)? {
        learned::Found::Palm {
            frame,
            hand,
            landmarks,
        } => learned_roi(rgb, p, frame, hand, &landmarks),
        learned::Found::Nothing => outline_roi(rgb, p, outline),
    }
}

/// [`palm_roi`] for a later frame of a hover, where the hand was in the frame before: the landmark
/// model reads it from the crop the previous frame's landmarks frame (one reading, no detector:
/// about a third of the work), and the whole search runs only where that crop lost the hand or
/// holds the other hand. A frame the outline reader framed is no guide: searched afresh.
pub fn palm_roi_following(
    rgb: &RgbImage,
    p: &Params,
    previous: &HandGeometry,
) -> Result<(Roi, HandGeometry), Rejection> {
    if previous.method == FrameMethod::Landmarks
        && let learned::Found::Palm {
            frame,
            hand,
            landmarks,
        } = learned::follow(rgb, p, &previous.landmarks)?
        && hand == previous.hand
    {
        let (roi, geometry) = learned_roi(rgb, p, frame, hand, &landmarks)?;
        return Ok((
            roi,
            HandGeometry {
                followed: true,
                ..geometry
            },
        ));
    }
    palm_roi(rgb, p)
}

/// What the outline reader sees of a hand, in source pixels (the mask at working resolution).
struct Outline {
    mask: Gray,
    mask_scale: f32,
    centre: (f32, f32),
    radius: f32,
    valleys: Vec<(f32, f32)>,
    far_tip: (f32, f32),
    hand: Hand,
}

impl Outline {
    fn read(rgb: &RgbImage, o: &OutlineFrame) -> Result<Outline, Rejection> {
        let (mask, mask_scale) = working_mask(rgb, o)?;
        let (centre, radius) = palm_centre(&mask);
        if radius < 12.0 {
            return Err(Rejection::PalmTooSmall);
        }
        let found = landmarks::find(&mask, centre, radius, o)?;
        let to_src =
            |(x, y): (f32, f32)| ((x + 0.5) * mask_scale - 0.5, (y + 0.5) * mask_scale - 0.5);
        Ok(Outline {
            centre: to_src(centre),
            radius: radius * mask_scale,
            valleys: found.valleys.into_iter().map(to_src).collect(),
            far_tip: to_src(found.far_tip),
            hand: found.hand,
            mask,
            mask_scale,
        })
    }
}

fn learned_roi(
    rgb: &RgbImage,
    p: &Params,
    frame: Frame,
    hand: Hand,
    landmarks: &palm_hands::HandLandmarks,
) -> Result<(Roi, HandGeometry), Rejection> {
    let grey = to_gray(rgb);
    let roi = cut(&grey, &frame, p, |_, _| true);
    let geometry = HandGeometry {
        method: FrameMethod::Landmarks,
        mask: None,
        mask_scale: 1.0,
        palm_centre: frame.centre,
        palm_radius: frame.side / 2.0,
        valleys: Vec::new(),
        landmarks: (0..21).map(|i| landmarks.at(i)).collect(),
        roi_corners: frame.corners(),
        hand,
        followed: false,
    };
    Ok((roi, geometry))
}

fn outline_roi(rgb: &RgbImage, p: &Params, o: Outline) -> Result<(Roi, HandGeometry), Rejection> {
    let f = &p.outline;
    let frame_from_valleys = plausible(&o.valleys, o.radius, f);
    let frame = if frame_from_valleys {
        Frame::from_valleys(&o.valleys, o.centre, o.radius, f)
    } else {
        Frame::from_longest_finger(o.far_tip, o.centre, o.radius, o.hand, f)
    };
    let (mask, mask_scale) = (o.mask, o.mask_scale);
    let grey = to_gray(rgb);
    let roi = cut(&grey, &frame, p, |x, y| {
        mask.sample(x / mask_scale, y / mask_scale).unwrap_or(0.0) > 0.5
    });
    let geometry = HandGeometry {
        method: if frame_from_valleys {
            FrameMethod::Valleys
        } else {
            FrameMethod::LongestFinger
        },
        roi_corners: frame.corners(),
        mask: Some(mask),
        mask_scale,
        palm_centre: o.centre,
        palm_radius: o.radius,
        valleys: o.valleys,
        landmarks: Vec::new(),
        hand: o.hand,
        followed: false,
    };
    Ok((roi, geometry))
}

/// The frame's square resampled to the ROI; a pixel is valid when all of it lies in the photo
/// and `in_hand` says its centre is on the hand.
fn cut(grey: &Gray, frame: &Frame, p: &Params, in_hand: impl Fn(f32, f32) -> bool) -> Roi {
    let n = p.roi_size;
    let scale = frame.side / n as f32;
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
                    let (x, y) = frame.at(fu, fv);
                    if let Some(g) = grey.sample(x, y) {
                        acc += g;
                        hits += 1;
                    }
                }
            }
            let (x, y) = frame.at(
                (u as f32 + 0.5 - n as f32 / 2.0) * scale,
                (v as f32 + 0.5 - n as f32 / 2.0) * scale,
            );
            image.set(u, v, if hits > 0 { acc / hits as f32 } else { 0.0 });
            valid.set(u, v, (hits == ss * ss && in_hand(x, y)) as u8 as f32);
        }
    }
    Roi {
        image,
        valid,
        source_scale: scale,
    }
}

/// The ROI's square in the source image: its centre, its axes (unit; y from the fingers towards
/// the wrist, x across the palm: a quarter turn anticlockwise on screen from y, or the mirror of
/// that for a mirrored frame) and its side.
pub struct Frame {
    pub centre: (f32, f32),
    pub x: (f32, f32),
    pub y: (f32, f32),
    pub side: f32,
}

impl Frame {
    /// The frame's y axis with the x axis that does not mirror.
    fn unmirrored(centre: (f32, f32), y: (f32, f32), side: f32) -> Frame {
        Frame {
            centre,
            x: (y.1, -y.0),
            y,
            side,
        }
    }

    /// The source point `u` along x and `v` along y from the centre.
    fn at(&self, u: f32, v: f32) -> (f32, f32) {
        (
            self.centre.0 + self.x.0 * u + self.y.0 * v,
            self.centre.1 + self.x.1 * u + self.y.1 * v,
        )
    }

    /// Corners clockwise from the ROI's top-left.
    fn corners(&self) -> [(f32, f32); 4] {
        let half = self.side / 2.0;
        [
            self.at(-half, -half),
            self.at(half, -half),
            self.at(half, half),
            self.at(-half, half),
        ]
    }

    /// The palm frame: origin between the outer valleys, y towards the palm centre.
    fn from_valleys(
        valleys: &[(f32, f32)],
        centre: (f32, f32),
        radius: f32,
        f: &OutlineFrame,
    ) -> Frame {
        // Its direction blends two estimates that fail differently: square to the line through
        // the outer valleys (tilts with any misplaced outer valley) and from the middle valley to
        // the palm centre (anchored by the inscribed circle, which barely moves between photos of
        // one hand).
        let (v1, v2, v3) = (valleys[0], valleys[1], valleys[2]);
        let d = ((v3.0 - v1.0).powi(2) + (v3.1 - v1.1).powi(2)).sqrt();
        let origin = ((v1.0 + v3.0) / 2.0, (v1.1 + v3.1) / 2.0);
        let (mut sx, mut sy) = (-(v3.1 - v1.1) / d, (v3.0 - v1.0) / d);
        if (centre.0 - origin.0) * sx + (centre.1 - origin.1) * sy < 0.0 {
            (sx, sy) = (-sx, -sy);
        }
        let (cx, cy) = unit(centre.0 - v2.0, centre.1 - v2.1);
        let w = f.weight_of_centre;
        let y = unit(w * cx + (1.0 - w) * sx, w * cy + (1.0 - w) * sy);
        // Scale from two measures that fail differently: the valley span moves when a valley is
        // misplaced, the palm's inscribed circle barely does (1% spread over one hand's photos
        // against 3-9% for the span on coep-hands c001-c040). Their mean matched better than
        // either.
        let side = 0.5 * (f.roi_side_per_valley_span * d + f.roi_side_per_palm_radius * radius);
        let offset = f.roi_offset_per_valley_span * d + side / 2.0;
        Frame::unmirrored((origin.0 + y.0 * offset, origin.1 + y.1 * offset), y, side)
    }

    /// The frame for valleys that cannot be right (see `plausible`): from the palm's inscribed
    /// circle and the longest finger alone, placed where the valley frame puts it on average.
    fn from_longest_finger(
        tip: (f32, f32),
        centre: (f32, f32),
        radius: f32,
        hand: Hand,
        f: &OutlineFrame,
    ) -> Frame {
        // The longest finger points about 9 degrees off the valley frame's y axis, one way on a
        // left hand and the other on a right one; not turned when the hand is unknown.
        let lean = match hand {
            Hand::Right => -f.finger_lean_deg,
            Hand::Left => f.finger_lean_deg,
            Hand::Unknown => 0.0,
        }
        .to_radians();
        let (tx, ty) = unit(centre.0 - tip.0, centre.1 - tip.1);
        let (sin, cos) = lean.sin_cos();
        let y = (cos * tx - sin * ty, sin * tx + cos * ty);
        Frame::unmirrored(
            (
                centre.0 + y.0 * f.roi_centre_per_palm_radius * radius,
                centre.1 + y.1 * f.roi_centre_per_palm_radius * radius,
            ),
            y,
            f.roi_side_per_palm_radius * radius,
        )
    }
}

/// Whether three valleys can be a hand's: spread over 0.7-1.4 palm radii (0.82-1.10 on coep-hands
/// c001-c050), the two gaps between them within a ratio of 0.6 (0.74 there). Fingers pressed
/// together, or a crack in the mask taken for a valley, give valleys outside these.
fn plausible(valleys: &[(f32, f32)], radius: f32, f: &OutlineFrame) -> bool {
    let dist = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let span = dist(valleys[0], valleys[2]) / radius;
    let (g1, g2) = (dist(valleys[0], valleys[1]), dist(valleys[1], valleys[2]));
    let ratio = g1.min(g2) / g1.max(g2).max(f32::EPSILON);
    (f.valley_span.0..=f.valley_span.1).contains(&span) && ratio >= f.valley_gap_ratio_min
}

// Where the outline frame's settings (`OutlineFrame`) come from: the finger lean and the
// longest-finger frame's centre are medians over coep-hands c001-c050 of the valley frame
// against the hand's farthest point (the longest fingertip); the weight of the centre direction
// was chosen there among 0.25, 0.5, 0.75 and 1 and checked on c051-c100; the palm-radius side is
// the median ratio of the valley-span side to the inscribed circle's radius on c001-c040, so
// that the blend keeps the ROI's average size.

/// `(x, y)` scaled to length 1 (left as is when it has none).
pub(super) fn unit(x: f32, y: f32) -> (f32, f32) {
    let n = (x * x + y * y).sqrt();
    if n > 0.0 { (x / n, y / n) } else { (x, y) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand, fingers up: palm centre at the origin, radius 100, valleys 120 px above it.
    const CENTRE: (f32, f32) = (0.0, 0.0);
    const RADIUS: f32 = 100.0;
    const VALLEYS: [(f32, f32); 3] = [(-45.0, -120.0), (0.0, -125.0), (45.0, -120.0)];
    static F: std::sync::LazyLock<OutlineFrame> = std::sync::LazyLock::new(OutlineFrame::default);

    #[test]
    fn valleys_of_a_spread_hand_are_plausible_and_misplaced_ones_are_not() {
        assert!(plausible(&VALLEYS, RADIUS, &F));
        // Fingers pressed together: "valleys" found far apart along the outline.
        assert!(!plausible(
            &[(-90.0, -100.0), (0.0, -125.0), (95.0, -40.0)],
            RADIUS,
            &F
        ));
        // A crack in a finger taken for a valley: two gaps of very different length.
        assert!(!plausible(
            &[(-45.0, -120.0), (-35.0, -122.0), (45.0, -120.0)],
            RADIUS,
            &F
        ));
    }

    #[test]
    fn the_longest_finger_frame_lands_where_the_valley_frame_does() {
        let valleys = Frame::from_valleys(&VALLEYS, CENTRE, RADIUS, &F);
        assert!((valleys.y.0).abs() < 0.01 && (valleys.y.1 - 1.0).abs() < 0.01);
        // The middle fingertip, as far out as a real one, leaning as on coep-hands' right hands.
        let lean = F.finger_lean_deg.to_radians();
        let tip = (280.0 * lean.sin(), -280.0 * lean.cos());
        let finger = Frame::from_longest_finger(tip, CENTRE, RADIUS, Hand::Right, &F);
        let angle = (finger.y.0 * valleys.y.1 - finger.y.1 * valleys.y.0)
            .asin()
            .to_degrees();
        assert!(angle.abs() < 0.5, "frames {angle} degrees apart");
        let apart = ((finger.centre.0 - valleys.centre.0).powi(2)
            + (finger.centre.1 - valleys.centre.1).powi(2))
        .sqrt();
        assert!(apart < 0.05 * valleys.side, "ROI centres {apart} px apart");
        assert!((finger.side / valleys.side - 1.0).abs() < 0.05);
        // A left hand leans the other way: the same tip mirrored gives the mirrored frame.
        let mirrored = Frame::from_longest_finger((-tip.0, tip.1), CENTRE, RADIUS, Hand::Left, &F);
        assert!(
            (mirrored.y.0 + finger.y.0).abs() < 1e-4 && (mirrored.y.1 - finger.y.1).abs() < 1e-4
        );
    }
}
