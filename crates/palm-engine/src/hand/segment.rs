//! Hand segmentation: skin chroma -> Otsu -> opening -> largest component -> holes filled, and
//! the palm centre as the centre of the largest inscribed circle.

use crate::error::Rejection;
use crate::gray::Gray;
use image::RgbImage;

/// The colour measures segmentation needs, at working resolution.
pub struct Channels {
    pub luma: Gray,
    /// Skin chroma: Cr - 128 (negative for blue and green).
    pub chroma: Gray,
    /// Share of bright, colourless pixels: metal rings and bracelets, white sleeves.
    pub neutral: Gray,
}

pub fn channels(rgb: &RgbImage, mw: usize, mh: usize) -> Channels {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (mut luma, mut cr, mut neutral) = (Gray::new(w, h), Gray::new(w, h), Gray::new(w, h));
    for (i, p) in rgb.pixels().enumerate() {
        let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
        luma.px[i] = 0.299 * r + 0.587 * g + 0.114 * b;
        cr.px[i] = 0.5 * r - 0.4187 * g - 0.0813 * b;
        let spread = r.max(g).max(b) - r.min(g).min(b);
        neutral.px[i] = (luma.px[i] > 70.0 && spread < 35.0) as u8 as f32;
    }
    if (mw, mh) == (w, h) {
        Channels {
            luma,
            chroma: cr,
            neutral,
        }
    } else {
        Channels {
            luma: luma.resize(mw, mh),
            chroma: cr.resize(mw, mh),
            neutral: neutral.resize(mw, mh),
        }
    }
}

/// Skin mask: Otsu on chroma among lit pixels, opened to drop pins and specks, largest component,
/// holes filled.
pub fn segment(ch: &Channels, ring_max_area: usize) -> Result<Gray, Rejection> {
    let (luma, chroma) = (&ch.luma, &ch.chroma);
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
    // Dark pixels join the histogram as "not skin" so that a hand on pure black still splits from
    // its background rather than being split in two by its own shades.
    let scored: Vec<f32> = chroma
        .px
        .iter()
        .zip(&luma.px)
        .map(|(c, l)| if *l > 25.0 { *c } else { -20.0 })
        .collect();
    let t = otsu(&scored, -20.0, 80.0).max(6.0);
    let skin = Gray {
        width: luma.width,
        height: luma.height,
        px: scored.iter().map(|c| (*c > t) as u8 as f32).collect(),
    };
    // Opening drops pins and specks. (Closing, to bridge rings, was measured: it merges fingers.)
    let r = (luma.width.max(luma.height) / 130).max(1);
    let opened = threshold(&threshold(&skin.box_mean(r), 0.999).box_mean(r), 0.001);
    let mask = fill_holes(&rejoin_severed(&opened, &ch.neutral, ring_max_area));
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

/// The largest skin component, with finger pieces that a metal ring cut off joined back.
///
/// A ring is a small, bright, colourless blob that touches the hand on one side and a separate
/// piece of skin on the other. Only such blobs (and the pieces beyond them) are added: closing the
/// mask instead would also fill the gaps between fingers.
fn rejoin_severed(skin: &Gray, neutral: &Gray, ring_max_area: usize) -> Gray {
    let (w, h) = (skin.width, skin.height);
    let r = (w.max(h) / 100).max(1);
    let (skin_label, skin_size) = components(skin);
    let main = (1..skin_size.len())
        .max_by_key(|&l| skin_size[l])
        .unwrap_or(0) as u32;
    let blobs_mask = Gray {
        width: w,
        height: h,
        px: neutral
            .px
            .iter()
            .zip(&skin.px)
            .map(|(n, s)| (*n > 0.5 && *s < 0.5) as u8 as f32)
            .collect(),
    };
    let (blob_label, blob_size) = components(&blobs_mask);
    // For each blob: does it touch the main component, and which other skin pieces does it touch?
    let mut touches_main = vec![false; blob_size.len()];
    let mut others: Vec<Vec<u32>> = vec![Vec::new(); blob_size.len()];
    for i in 0..w * h {
        let b = blob_label[i] as usize;
        if b == 0 || blob_size[b] > ring_max_area * r * r {
            continue;
        }
        for j in neighbours(i, w, h) {
            match skin_label[j] {
                0 => {}
                l if l == main => touches_main[b] = true,
                l if !others[b].contains(&l) => others[b].push(l),
                _ => {}
            }
        }
    }
    let mut keep_skin = vec![false; skin_size.len()];
    let mut keep_blob = vec![false; blob_size.len()];
    keep_skin[main as usize] = main != 0;
    for b in 1..blob_size.len() {
        if touches_main[b] && !others[b].is_empty() {
            keep_blob[b] = true;
            others[b].iter().for_each(|&l| keep_skin[l as usize] = true);
        }
    }
    Gray {
        width: w,
        height: h,
        px: (0..w * h)
            .map(|i| {
                (keep_skin[skin_label[i] as usize] && skin_label[i] != 0
                    || keep_blob[blob_label[i] as usize] && blob_label[i] != 0)
                    as u8 as f32
            })
            .collect(),
    }
}

/// The 4-connected neighbours of pixel `i` in a `w x h` image.
fn neighbours(i: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (i % w, i / w);
    [
        (x > 0).then(|| i - 1),
        (x + 1 < w).then(|| i + 1),
        (y > 0).then(|| i - w),
        (y + 1 < h).then(|| i + w),
    ]
    .into_iter()
    .flatten()
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

/// Connected components (4-neighbour) of a binary mask: a label per pixel (0 = background) and
/// each label's size (index = label).
fn components(mask: &Gray) -> (Vec<u32>, Vec<usize>) {
    let (w, h) = (mask.width, mask.height);
    let mut label = vec![0u32; w * h];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..w * h {
        if mask.px[start] < 0.5 || label[start] != 0 {
            continue;
        }
        let next = sizes.len() as u32;
        label[start] = next;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            for j in neighbours(i, w, h) {
                if mask.px[j] > 0.5 && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (label, sizes)
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
        stack.extend(neighbours(i, w, h));
    }
    Gray {
        width: w,
        height: h,
        px: outside.iter().map(|&o| (!o) as u8 as f32).collect(),
    }
}

/// Centre and radius of the largest inscribed circle, from a two-pass chamfer distance transform.
pub fn palm_centre(mask: &Gray) -> ((f32, f32), f32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A mask from rows of text: `#` is hand, anything else background.
    fn mask(rows: &[&str]) -> Gray {
        let (w, h) = (rows[0].len(), rows.len());
        Gray::from_fn(w, h, |x, y| (rows[y].as_bytes()[x] == b'#') as u8 as f32)
    }

    #[test]
    fn otsu_splits_two_populations_between_them() {
        let values: Vec<f32> = (0..500)
            .map(|i| if i % 2 == 0 { 0.2 } else { 0.8 } + (i % 7) as f32 * 0.005)
            .collect();
        let t = otsu(&values, 0.0, 1.0);
        assert!(t > 0.23 && t < 0.8, "{t}");
        assert!(values.iter().filter(|&&v| v > t).count() == 250);
    }

    #[test]
    fn components_are_four_connected_and_counted() {
        let m = mask(&[
            "##..#", //
            "##..#", //
            "...#.", // touches (4, 1) only at a corner: a component of its own
            "#....",
        ]);
        let (label, sizes) = components(&m);
        let mut found = sizes[1..].to_vec();
        found.sort_unstable();
        assert_eq!(found, vec![1, 1, 2, 4]);
        assert_eq!(label[0], label[6]);
        assert_ne!(label[4], label[13]);
        assert_eq!(label[2], 0);
    }

    #[test]
    fn holes_are_filled_and_bays_are_not() {
        let m = mask(&[
            ".......", //
            ".#####.", //
            ".#...#.", // a hole: enclosed on every side
            ".#####.", //
            ".##.##.", // a bay: open to the border below
            ".......",
        ]);
        let filled = fill_holes(&m);
        assert_eq!(filled.at(3, 2), 1.0, "hole filled");
        assert_eq!(filled.at(2, 2), 1.0);
        assert_eq!(filled.at(3, 4), 0.0, "bay left open");
        assert_eq!(filled.at(0, 0), 0.0);
        assert_eq!(filled.at(1, 1), 1.0);
    }

    #[test]
    fn threshold_keeps_what_is_above() {
        let g = Gray::from_fn(3, 1, |x, _| x as f32);
        assert_eq!(threshold(&g, 0.5).px, vec![0.0, 1.0, 1.0]);
    }

    #[test]
    fn the_palm_centre_is_the_middle_of_the_widest_disc() {
        // A 21 x 21 square of hand inside a 41 x 31 picture, plus a thin arm to the edge.
        let m = Gray::from_fn(41, 31, |x, y| {
            ((5..26).contains(&x) && (5..26).contains(&y) || (26..41).contains(&x) && y == 15) as u8
                as f32
        });
        let ((cx, cy), r) = palm_centre(&m);
        assert_eq!((cx, cy), (15.0, 15.0));
        assert!((r - 11.0).abs() < 0.01, "{r}");
        // Pixels on the picture's border count as next to background.
        let full = Gray::from_fn(9, 9, |_, _| 1.0);
        let (_, r) = palm_centre(&full);
        assert!((r - 5.0).abs() < 0.01, "{r}");
    }

    #[test]
    fn neighbours_stay_inside_the_image() {
        let n: Vec<usize> = neighbours(0, 3, 2).collect();
        assert_eq!(n, vec![1, 3]);
        let n: Vec<usize> = neighbours(4, 3, 2).collect();
        assert_eq!(n, vec![3, 5, 1]);
    }
}
