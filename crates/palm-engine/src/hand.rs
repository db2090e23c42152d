//! The full-hand path: a photo of an open hand -> hand mask -> palm centre -> finger valleys ->
//! palm coordinate frame -> a rotation- and scale-normalised square ROI.
//!
//! Segmentation works on skin chroma (the Cr channel of YCbCr, thresholded by Otsu) so that dark
//! cloth, coloured guide pins and grey sleeves fall away. The palm centre is the centre of the
//! largest inscribed circle of the mask. Fingers are the long runs of a radial profile around that
//! centre; the valleys between index/middle, middle/ring and ring/little are the profile's minima
//! between them. The ROI frame's y axis points from the valley line towards the palm centre, so
//! the ROI of one hand is the same whatever the in-plane rotation of the photo.

use crate::error::Rejection;
use crate::gray::Gray;
use crate::params::Params;
use crate::roi::{Roi, to_gray};
use crate::template::Hand;
use image::RgbImage;

/// Longer side of the working image used for segmentation, in pixels.
const WORK_SIDE: usize = 400;
/// Radial profile resolution: one ray per degree.
const RAYS: usize = 360;

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
    let (luma, chroma) = luma_chroma(rgb, mw, mh);
    Ok((segment(&luma, &chroma)?, mask_scale))
}

pub fn palm_roi(rgb: &RgbImage, p: &Params) -> Result<(Roi, HandGeometry), Rejection> {
    let (mask, mask_scale) = working_mask(rgb)?;
    let (centre, radius) = palm_centre(&mask);
    if radius < 12.0 {
        return Err(Rejection::PalmTooSmall);
    }
    let profile = radial_profile(&mask, centre);
    let fingers = find_fingers(&profile, radius)?;
    let (valleys, hand) = valleys(&profile, &fingers, centre);
    let to_src = |(x, y): (f32, f32)| ((x + 0.5) * mask_scale - 0.5, (y + 0.5) * mask_scale - 0.5);
    let valleys: Vec<(f32, f32)> = valleys.into_iter().map(to_src).collect();
    let centre_src = to_src(centre);

    // The palm frame: origin between the outer valleys, y towards the palm centre.
    let (v1, v3) = (valleys[0], valleys[2]);
    let d = ((v3.0 - v1.0).powi(2) + (v3.1 - v1.1).powi(2)).sqrt();
    let origin = ((v1.0 + v3.0) / 2.0, (v1.1 + v3.1) / 2.0);
    let (mut yx, mut yy) = (-(v3.1 - v1.1) / d, (v3.0 - v1.0) / d);
    if (centre_src.0 - origin.0) * yx + (centre_src.1 - origin.1) * yy < 0.0 {
        (yx, yy) = (-yx, -yy);
    }
    let (xx, xy) = (yy, -yx);
    let side = ROI_SIDE_PER_VALLEY_SPAN * d;
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

/// ROI side and its distance below the valley line, as multiples of the outer-valley distance.
const ROI_SIDE_PER_VALLEY_SPAN: f32 = 1.25;
const ROI_OFFSET_PER_VALLEY_SPAN: f32 = 0.2;

/// Luma and skin chroma (Cr - 128, negative for blue/green) at working resolution.
fn luma_chroma(rgb: &RgbImage, mw: usize, mh: usize) -> (Gray, Gray) {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut luma = Gray::new(w, h);
    let mut cr = Gray::new(w, h);
    for (i, p) in rgb.pixels().enumerate() {
        let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
        luma.px[i] = 0.299 * r + 0.587 * g + 0.114 * b;
        cr.px[i] = 0.5 * r - 0.4187 * g - 0.0813 * b;
    }
    if (mw, mh) == (w, h) {
        (luma, cr)
    } else {
        (luma.resize(mw, mh), cr.resize(mw, mh))
    }
}

/// Skin mask: Otsu on chroma among lit pixels, opened to drop pins and specks, largest component,
/// holes filled.
fn segment(luma: &Gray, chroma: &Gray) -> Result<Gray, Rejection> {
    let n = luma.px.len() as f32;
    let mean_luma = luma.mean();
    if mean_luma > 235.0 {
        return Err(Rejection::TooBright);
    }
    let lit: Vec<f32> = chroma
        .px
        .iter()
        .zip(&luma.px)
        .filter(|(_, l)| **l > 25.0)
        .map(|(c, _)| *c)
        .collect();
    if (lit.len() as f32) < 0.02 * n {
        return Err(if mean_luma < 25.0 {
            Rejection::TooDark
        } else {
            Rejection::NoHand
        });
    }
    let t = otsu(&lit, -20.0, 80.0).max(6.0);
    let raw = Gray {
        width: luma.width,
        height: luma.height,
        px: chroma
            .px
            .iter()
            .zip(&luma.px)
            .map(|(c, l)| (*c > t && *l > 25.0) as u8 as f32)
            .collect(),
    };
    let r = (luma.width.max(luma.height) / 130).max(1);
    let opened = threshold(&threshold(&raw.box_mean(r), 0.999).box_mean(r), 0.001);
    let mask = fill_holes(&largest_component(&opened));
    let area = mask.px.iter().sum::<f32>();
    if area < 0.03 * n {
        return Err(Rejection::NoHand);
    }
    let hand_luma = mask
        .px
        .iter()
        .zip(&luma.px)
        .map(|(m, l)| m * l)
        .sum::<f32>()
        / area;
    if hand_luma < 40.0 {
        return Err(Rejection::TooDark);
    }
    if hand_luma > 245.0 {
        return Err(Rejection::TooBright);
    }
    Ok(mask)
}

fn threshold(g: &Gray, t: f32) -> Gray {
    Gray {
        width: g.width,
        height: g.height,
        px: g.px.iter().map(|v| (*v > t) as u8 as f32).collect(),
    }
}

/// Otsu's threshold over values in `lo..hi` (256 bins).
fn otsu(values: &[f32], lo: f32, hi: f32) -> f32 {
    let mut hist = [0f64; 256];
    let bin = |v: f32| (((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0)) as usize;
    values.iter().for_each(|v| hist[bin(*v)] += 1.0);
    let total: f64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, c)| i as f64 * c).sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0.0, 0.0, -1.0, 0usize);
    for (i, c) in hist.iter().enumerate() {
        w0 += c;
        sum0 += i as f64 * c;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let between = w0 * w1 * (sum0 / w0 - (sum_all - sum0) / w1).powi(2);
        if between > best {
            best = between;
            best_t = i;
        }
    }
    lo + (best_t as f32 + 0.5) / 255.0 * (hi - lo)
}

fn largest_component(mask: &Gray) -> Gray {
    let (w, h) = (mask.width, mask.height);
    let mut label = vec![0u32; w * h];
    let (mut best, mut best_size, mut next) = (0u32, 0usize, 0u32);
    let mut stack = Vec::new();
    for start in 0..w * h {
        if mask.px[start] < 0.5 || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if mask.px[j] > 0.5 && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if size > best_size {
            (best, best_size) = (next, size);
        }
    }
    Gray {
        width: w,
        height: h,
        px: label
            .iter()
            .map(|&l| (l == best && l != 0) as u8 as f32)
            .collect(),
    }
}

/// Background is what the border reaches through non-hand pixels; the rest is hand.
fn fill_holes(mask: &Gray) -> Gray {
    let (w, h) = (mask.width, mask.height);
    let mut outside = vec![false; w * h];
    let mut stack: Vec<usize> = (0..w)
        .flat_map(|x| [x, (h - 1) * w + x])
        .chain((0..h).flat_map(|y| [y * w, y * w + w - 1]))
        .collect();
    while let Some(i) = stack.pop() {
        if outside[i] || mask.px[i] > 0.5 {
            continue;
        }
        outside[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    Gray {
        width: w,
        height: h,
        px: outside.iter().map(|&o| (!o) as u8 as f32).collect(),
    }
}

/// Centre and radius of the largest inscribed circle, from a two-pass chamfer distance transform.
fn palm_centre(mask: &Gray) -> ((f32, f32), f32) {
    let (w, h) = (mask.width, mask.height);
    let big = f32::MAX / 4.0;
    let mut d: Vec<f32> = mask
        .px
        .iter()
        .map(|&m| if m > 0.5 { big } else { 0.0 })
        .collect();
    let (a, b) = (1.0f32, std::f32::consts::SQRT_2);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if d[i] == 0.0 {
                continue;
            }
            // Pixels on the image border count as next to background: the arm leaves the picture.
            let mut v = if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                a
            } else {
                big
            };
            if x > 0 {
                v = v.min(d[i - 1] + a);
            }
            if y > 0 {
                v = v.min(d[i - w] + a);
                if x > 0 {
                    v = v.min(d[i - w - 1] + b);
                }
                if x + 1 < w {
                    v = v.min(d[i - w + 1] + b);
                }
            }
            d[i] = d[i].min(v);
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + a);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + a);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + b);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + b);
                }
            }
            d[i] = v;
        }
    }
    let (i, r) = d
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, r)| (i, *r))
        .unwrap_or((0, 0.0));
    (((i % w) as f32, (i / w) as f32), r)
}

/// One ray per degree: how far the hand reaches from the centre, and whether it runs off the image.
struct Profile {
    reach: Vec<f32>,
    off_image: Vec<bool>,
}

fn radial_profile(mask: &Gray, (cx, cy): (f32, f32)) -> Profile {
    let mut reach = vec![0.0; RAYS];
    let mut off_image = vec![false; RAYS];
    for k in 0..RAYS {
        let (s, c) = (k as f32 * std::f32::consts::TAU / RAYS as f32).sin_cos();
        let mut r = 0.0;
        loop {
            let (x, y) = (cx + c * r, cy + s * r);
            if x < 0.0 || y < 0.0 || x > (mask.width - 1) as f32 || y > (mask.height - 1) as f32 {
                off_image[k] = true;
                break;
            }
            if mask.at(x.round() as usize, y.round() as usize) < 0.5 {
                break;
            }
            r += 0.5;
        }
        reach[k] = r;
    }
    Profile { reach, off_image }
}

/// Circular distance between two ray indices, in rays.
fn ray_gap(a: usize, b: usize) -> usize {
    let d = (a + RAYS - b) % RAYS;
    d.min(RAYS - d)
}

/// Fingertip directions: peaks of the (smoothed) radial profile that stand out from the valleys
/// on both sides, in circular order starting after the arm. The arm is the peak whose rays run
/// off the image.
fn find_fingers(profile: &Profile, radius: f32) -> Result<Vec<usize>, Rejection> {
    let r = &profile.reach;
    let smooth: Vec<f32> = (0..RAYS)
        .map(|k| (0..5).map(|o| r[(k + RAYS + o - 2) % RAYS]).sum::<f32>() / 5.0)
        .collect();
    let mut peaks: Vec<usize> = (0..RAYS)
        .filter(|&k| {
            smooth[k] > PEAK_REACH * radius
                && (1..=PEAK_WINDOW).all(|o| {
                    smooth[k] >= smooth[(k + o) % RAYS] && smooth[k] > smooth[(k + RAYS - o) % RAYS]
                })
        })
        .collect();
    if peaks.is_empty() {
        return Err(Rejection::NoHand);
    }
    // Merge neighbouring peaks whose valley is too shallow to be between two fingers.
    let valley_between = |a: usize, b: usize| {
        (0..=(b + RAYS - a) % RAYS)
            .map(|o| smooth[(a + o) % RAYS])
            .fold(f32::INFINITY, f32::min)
    };
    loop {
        let n = peaks.len();
        if n < 2 {
            break;
        }
        let shallow = (0..n).find(|&i| {
            let (a, b) = (peaks[i], peaks[(i + 1) % n]);
            smooth[a].min(smooth[b]) - valley_between(a, b) < VALLEY_DEPTH * radius
        });
        match shallow {
            Some(i) => {
                let j = (i + 1) % n;
                let drop = if smooth[peaks[i]] >= smooth[peaks[j]] {
                    j
                } else {
                    i
                };
                peaks.remove(drop);
            }
            None => break,
        }
    }
    let near_off_image = |k: usize| (0..=6).any(|o| profile.off_image[(k + RAYS + o - 3) % RAYS]);
    let arms: Vec<usize> = peaks
        .iter()
        .copied()
        .filter(|&k| near_off_image(k))
        .collect();
    let fingers: Vec<usize> = peaks
        .iter()
        .copied()
        .filter(|&k| !near_off_image(k))
        .collect();
    if arms.len() > 1 {
        return Err(Rejection::HandCutByBorder);
    }
    if fingers.len() < 4 {
        return Err(if fingers.len() + arms.len() >= 5 {
            Rejection::HandCutByBorder
        } else {
            Rejection::FingersNotSeparated
        });
    }
    if fingers.len() > 5 {
        return Err(Rejection::NoHand);
    }
    // Start after the arm, or after the widest gap between fingers when no arm is seen.
    let n = fingers.len();
    let first = match arms.first() {
        Some(&a) => (0..n)
            .min_by_key(|&i| (fingers[i] + RAYS - a) % RAYS)
            .unwrap_or(0),
        None => (0..n)
            .max_by_key(|&i| (fingers[i] + RAYS - fingers[(i + n - 1) % n]) % RAYS)
            .unwrap_or(0),
    };
    Ok((0..n).map(|i| fingers[(first + i) % n]).collect())
}

/// A fingertip reaches at least this many palm radii from the centre...
const PEAK_REACH: f32 = 1.5;
/// ...is the farthest ray within this many degrees either side...
const PEAK_WINDOW: usize = 6;
/// ...and the valley to its neighbour is at least this many palm radii deep.
const VALLEY_DEPTH: f32 = 0.25;

/// The three valleys between the four non-thumb fingers, and the hand when the thumb is seen.
fn valleys(profile: &Profile, fingers: &[usize], (cx, cy): (f32, f32)) -> (Vec<(f32, f32)>, Hand) {
    // With five fingers the thumb is the end finger farther from its neighbour.
    let (four, thumb): (Vec<usize>, Option<usize>) = if fingers.len() == 5 {
        if ray_gap(fingers[0], fingers[1]) >= ray_gap(fingers[3], fingers[4]) {
            (fingers[1..].to_vec(), Some(fingers[0]))
        } else {
            (fingers[..4].to_vec(), Some(fingers[4]))
        }
    } else {
        (fingers.to_vec(), None)
    };
    let point = |k: usize| {
        let (s, c) = (k as f32 * std::f32::consts::TAU / RAYS as f32).sin_cos();
        (cx + c * profile.reach[k], cy + s * profile.reach[k])
    };
    let mut valleys: Vec<(f32, f32)> = four
        .windows(2)
        .map(|pair| {
            let span = (pair[1] + RAYS - pair[0]) % RAYS;
            let k = (0..=span)
                .map(|o| (pair[0] + o) % RAYS)
                .min_by(|&i, &j| profile.reach[i].total_cmp(&profile.reach[j]))
                .unwrap_or(pair[0]);
            point(k)
        })
        .collect();
    let hand = match thumb {
        Some(t) => {
            // Put the index/middle valley (the one next to the thumb) first.
            if ray_gap(four[0], t) > ray_gap(four[3], t) {
                valleys.reverse();
            }
            // With y pointing down, a right palm facing the camera has its index/middle valley on
            // the left when the fingers point up: (v3 - v1) x (centre - valleys) > 0.
            let (v1, v3) = (valleys[0], valleys[2]);
            let mid = ((v1.0 + v3.0) / 2.0, (v1.1 + v3.1) / 2.0);
            let along = (v3.0 - v1.0, v3.1 - v1.1);
            let towards_centre = (cx - mid.0, cy - mid.1);
            let cross = along.0 * towards_centre.1 - along.1 * towards_centre.0;
            if cross > 0.0 { Hand::Right } else { Hand::Left }
        }
        None => Hand::Unknown,
    };
    (valleys, hand)
}
