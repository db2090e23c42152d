//! Finger valleys from the hand's outline.
//!
//! The outline is traced (Moore neighbourhood) and read as the distance from the palm centre along
//! it: fingertips are its prominent maxima, the valleys between fingers its minima between them.
//! Outline points on the image border are where the arm leaves the picture; the hand is read from
//! one side of the arm round to the other. Working along the outline rather than along rays from
//! the centre finds the true bottom of each valley even when the centre sits low in the palm.

use crate::error::Rejection;
use crate::gray::Gray;
use crate::params::OutlineFrame;
use crate::template::Hand;

type Point = (f32, f32);

/// The three valleys (index/middle, middle/ring, ring/little) and which hand, when the thumb shows.
pub struct Landmarks {
    pub valleys: [Point; 3],
    pub hand: Hand,
    /// The outline point farthest from the palm centre: the tip of the longest finger.
    pub far_tip: Point,
}

pub fn find(
    mask: &Gray,
    centre: Point,
    radius: f32,
    f: &OutlineFrame,
) -> Result<Landmarks, Rejection> {
    let outline = trace(mask);
    if outline.len() < 50 {
        return Err(Rejection::NoHand);
    }
    let (w, h) = (mask.width, mask.height);
    let on_border = |&(x, y): &(usize, usize)| x == 0 || y == 0 || x + 1 == w || y + 1 == h;
    // The hand proper: the longest stretch of outline that does not run along the image border.
    let n = outline.len();
    let runs = border_free_runs(&outline.iter().map(on_border).collect::<Vec<_>>());
    let long_runs = runs.iter().filter(|r| r.1 > n / 8).count();
    if long_runs > 1 {
        return Err(Rejection::HandCutByBorder);
    }
    let (start, len, closed) = runs
        .iter()
        .max_by_key(|r| r.1)
        .copied()
        .ok_or(Rejection::NoHand)?;
    let chain: Vec<Point> = (0..len)
        .map(|k| outline[(start + k) % n])
        .map(|(x, y)| (x as f32, y as f32))
        .collect();
    let dist: Vec<f32> = chain
        .iter()
        .map(|p| ((p.0 - centre.0).powi(2) + (p.1 - centre.1).powi(2)).sqrt())
        .collect();
    let smooth = smoothed(&dist, (len / 150).max(1), closed);
    let angle = |i: usize| (chain[i].1 - centre.1).atan2(chain[i].0 - centre.0);
    let mut tips = fingertips(&smooth, radius, (len / 60).max(3), closed, f);
    // Fingers, thumb included, fan out within a half turn of the longest (middle) finger; wrist
    // corners of an arm cut off inside the picture lie behind the palm.
    let far = tips
        .iter()
        .copied()
        .max_by(|&a, &b| smooth[a].total_cmp(&smooth[b]));
    if let Some(far) = far {
        tips.retain(|&i| angular_gap(angle(i), angle(far)) <= f.fan_half_angle_deg.to_radians());
    }
    let tips = order_from_wrist(tips, &angle, closed);
    if tips.len() < 4 {
        return Err(Rejection::FingersNotSeparated);
    }
    if tips.len() > 5 {
        return Err(Rejection::NoHand);
    }
    let gap = |a: usize, b: usize| angular_gap(angle(a), angle(b));
    let valley = |a: usize, b: usize| {
        let span = (b + len - a) % len;
        let k = (0..=span)
            .map(|o| (a + o) % len)
            .min_by(|&i, &j| dist[i].total_cmp(&dist[j]))
            .unwrap_or(a);
        chain[k]
    };
    // Valleys between neighbouring tips, in outline order, and the angles between the tips.
    let between: Vec<Point> = tips.windows(2).map(|p| valley(p[0], p[1])).collect();
    let gaps: Vec<f32> = tips.windows(2).map(|p| gap(p[0], p[1])).collect();
    // The thumb stands apart: its gap to the index finger is far wider than those between fingers.
    let wide = |k: usize| {
        let others = gaps
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, g)| *g)
            .fold(0.0, f32::max);
        gaps[k] > f.thumb_gap_ratio * others
    };
    let last = gaps.len() - 1;
    // Valleys ordered from the thumb's side: index/middle, middle/ring, ring/little. When the
    // little finger is not separated, the third is extrapolated from the first two.
    let extrapolate = |v1: Point, v2: Point| [v1, v2, (2.0 * v2.0 - v1.0, 2.0 * v2.1 - v1.1)];
    let (valleys, thumb_seen) = match (tips.len(), wide(0), wide(last)) {
        (5, true, _) | (5, false, false) if gaps[0] >= gaps[last] => {
            ([between[1], between[2], between[3]], true)
        }
        (5, _, _) => ([between[2], between[1], between[0]], true),
        (4, true, false) => (extrapolate(between[1], between[2]), true),
        (4, false, true) => (extrapolate(between[1], between[0]), true),
        _ => ([between[0], between[1], between[2]], false),
    };
    let hand = if thumb_seen {
        // With y pointing down, a left palm facing the camera has its index/middle valley on
        // the left when the fingers point up: (v3 - v1) x (centre - valleys) > 0. (A right palm
        // has its thumb on the picture's right, as MediaPipe's handedness model also reads real
        // photos.)
        let (v1, v3) = (valleys[0], valleys[2]);
        let mid = ((v1.0 + v3.0) / 2.0, (v1.1 + v3.1) / 2.0);
        let cross = (v3.0 - v1.0) * (centre.1 - mid.1) - (v3.1 - v1.1) * (centre.0 - mid.0);
        if cross > 0.0 { Hand::Left } else { Hand::Right }
    } else {
        Hand::Unknown
    };
    Ok(Landmarks {
        valleys,
        hand,
        far_tip: far.map_or(centre, |i| chain[i]),
    })
}

/// Outer boundary of the (single, hole-free) mask, clockwise on screen, by Moore-neighbour tracing.
fn trace(mask: &Gray) -> Vec<(usize, usize)> {
    let (w, h) = (mask.width as isize, mask.height as isize);
    let inside = |x: isize, y: isize| {
        x >= 0 && y >= 0 && x < w && y < h && mask.at(x as usize, y as usize) > 0.5
    };
    let Some(first) = mask.px.iter().position(|&v| v > 0.5) else {
        return Vec::new();
    };
    let start = ((first % mask.width) as isize, (first / mask.width) as isize);
    // Directions E, NE, N, NW, W, SW, S, SE (counter-clockwise in maths, y down on screen).
    const DIRS: [(isize, isize); 8] = [
        (1, 0),
        (1, -1),
        (0, -1),
        (-1, -1),
        (-1, 0),
        (-1, 1),
        (0, 1),
        (1, 1),
    ];
    let (mut p, mut dir) = (start, 7usize);
    let mut out = vec![(start.0 as usize, start.1 as usize)];
    for _ in 0..(4 * mask.px.len()) {
        let from = if dir % 2 == 0 {
            (dir + 7) % 8
        } else {
            (dir + 6) % 8
        };
        let Some(next) = (0..8)
            .map(|k| (from + k) % 8)
            .find(|&d| inside(p.0 + DIRS[d].0, p.1 + DIRS[d].1))
        else {
            break; // a single isolated pixel
        };
        p = (p.0 + DIRS[next].0, p.1 + DIRS[next].1);
        dir = next;
        if p == start {
            break;
        }
        out.push((p.0 as usize, p.1 as usize));
    }
    out
}

/// Stretches of the closed outline off the image border: `(start, length, closed)`. `closed` is
/// true when the outline never touches the border (the whole hand, no arm, in the picture).
fn border_free_runs(border: &[bool]) -> Vec<(usize, usize, bool)> {
    let n = border.len();
    let Some(first_border) = border.iter().position(|&b| b) else {
        return vec![(0, n, true)];
    };
    let mut runs = Vec::new();
    let mut k = 0;
    while k < n {
        let i = (first_border + k) % n;
        if border[i] {
            k += 1;
            continue;
        }
        let len = (k..n)
            .take_while(|&j| !border[(first_border + j) % n])
            .count();
        runs.push((i, len, false));
        k += len;
    }
    runs
}

fn smoothed(v: &[f32], r: usize, closed: bool) -> Vec<f32> {
    let n = v.len();
    (0..n)
        .map(|i| {
            let idx = |o: isize| {
                let j = i as isize + o;
                if closed {
                    j.rem_euclid(n as isize) as usize
                } else {
                    j.clamp(0, n as isize - 1) as usize
                }
            };
            (-(r as isize)..=r as isize).map(|o| v[idx(o)]).sum::<f32>() / (2 * r + 1) as f32
        })
        .collect()
}

/// Prominent maxima of the distance profile, in outline order.
fn fingertips(d: &[f32], radius: f32, window: usize, closed: bool, f: &OutlineFrame) -> Vec<usize> {
    let n = d.len();
    let at = |i: isize| -> Option<f32> {
        if closed {
            Some(d[i.rem_euclid(n as isize) as usize])
        } else {
            (i >= 0 && i < n as isize).then(|| d[i as usize])
        }
    };
    let mut tips: Vec<usize> = (0..n)
        .filter(|&i| {
            d[i] > f.tip_reach * radius
                // At the open ends the outline runs up the arm to the border: no tip there.
                && (1..=window as isize).all(|o| {
                    at(i as isize + o).is_some_and(|v| d[i] >= v) && at(i as isize - o).is_some_and(|v| d[i] > v)
                })
        })
        .collect();
    // Merge neighbouring maxima whose valley is too shallow to be between two fingers.
    let low_between = |a: usize, b: usize| {
        let span = if b >= a { b - a } else { b + n - a };
        (0..=span)
            .map(|o| d[(a + o) % n])
            .fold(f32::INFINITY, f32::min)
    };
    loop {
        let shallow = tips
            .windows(2)
            .position(|p| d[p[0]].min(d[p[1]]) - low_between(p[0], p[1]) < f.valley_depth * radius);
        let Some(i) = shallow else { break };
        let drop = if d[tips[i]] >= d[tips[i + 1]] {
            i + 1
        } else {
            i
        };
        tips.remove(drop);
    }
    tips
}

/// For a closed outline, start after the widest angular gap between tips (the wrist side).
fn order_from_wrist(tips: Vec<usize>, angle: &impl Fn(usize) -> f32, closed: bool) -> Vec<usize> {
    if !closed || tips.len() < 2 {
        return tips;
    }
    let n = tips.len();
    let first = (0..n)
        .max_by(|&i, &j| {
            let g = |k: usize| angular_gap(angle(tips[(k + n - 1) % n]), angle(tips[k]));
            g(i).total_cmp(&g(j))
        })
        .unwrap_or(0);
    (0..n).map(|k| tips[(first + k) % n]).collect()
}

fn angular_gap(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(std::f32::consts::TAU);
    d.min(std::f32::consts::TAU - d)
}
