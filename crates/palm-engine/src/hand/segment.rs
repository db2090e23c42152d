//! Hand segmentation: skin chroma -> Otsu -> opening -> largest component -> holes filled, and
//! the palm centre as the centre of the largest inscribed circle.

use crate::error::Rejection;
use crate::gray::Gray;
use image::RgbImage;

/// Luma and skin chroma (Cr - 128, negative for blue/green) at working resolution.
pub fn luma_chroma(rgb: &RgbImage, mw: usize, mh: usize) -> (Gray, Gray) {
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
pub fn segment(luma: &Gray, chroma: &Gray) -> Result<Gray, Rejection> {
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
