//! Decoding the palm detector's raw output: SSD anchors, box and keypoint offsets, scores, and
//! weighted non-maximum suppression, as MediaPipe's palm detection graph configures them for
//! `palm_detection_full` (192 x 192 input; layers of strides 8, 16, 16, 16 with fixed-size
//! anchors, two per cell and layer; 18 values per anchor: box centre and size, then seven
//! keypoints, all in input pixels relative to the anchor's centre).

/// The detector's input side, in pixels.
pub const INPUT: usize = 192;
/// Values per anchor: box (x, y, w, h) and seven (x, y) keypoints.
pub const VALUES: usize = 18;
const STRIDES: [usize; 4] = [8, 16, 16, 16];
/// Raw scores are clipped to this before the sigmoid, as MediaPipe does.
const SCORE_CLIP: f32 = 100.0;
/// Boxes overlapping a better one by more than this (intersection over union) join its cluster.
const MIN_SUPPRESSION_IOU: f32 = 0.3;

/// Anchor centres, normalised to the input (0..1), in the model's output order.
pub fn anchors() -> Vec<(f32, f32)> {
    let mut out = Vec::with_capacity(2016);
    let mut layer = 0;
    while layer < STRIDES.len() {
        // Consecutive layers of one stride share a grid; each contributes two anchors a cell
        // (its own scale and the interpolated one), all the same size since anchors are fixed.
        let stride = STRIDES[layer];
        let mut per_cell = 0;
        while layer < STRIDES.len() && STRIDES[layer] == stride {
            per_cell += 2;
            layer += 1;
        }
        let grid = INPUT.div_ceil(stride);
        for y in 0..grid {
            for x in 0..grid {
                let centre = (
                    (x as f32 + 0.5) / grid as f32,
                    (y as f32 + 0.5) / grid as f32,
                );
                out.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
    }
    out
}

/// One decoded box in normalised input coordinates (0..1 over the letterboxed square).
#[derive(Clone, Debug, PartialEq)]
pub struct RawDetection {
    pub score: f32,
    pub centre: (f32, f32),
    pub size: (f32, f32),
    pub keypoints: [(f32, f32); 7],
}

/// Every anchor whose score reaches `min_score`, decoded.
pub fn decode(
    boxes: &[f32],
    scores: &[f32],
    anchors: &[(f32, f32)],
    min_score: f32,
) -> Vec<RawDetection> {
    let scale = INPUT as f32;
    anchors
        .iter()
        .zip(scores)
        .enumerate()
        .filter_map(|(i, (&(ax, ay), &raw))| {
            let score = 1.0 / (1.0 + (-raw.clamp(-SCORE_CLIP, SCORE_CLIP)).exp());
            // A NaN score (a broken model output) is dropped, not kept.
            if score.is_nan() || score < min_score {
                return None;
            }
            let v = &boxes[i * VALUES..(i + 1) * VALUES];
            let mut keypoints = [(0.0, 0.0); 7];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = (v[4 + 2 * k] / scale + ax, v[5 + 2 * k] / scale + ay);
            }
            Some(RawDetection {
                score,
                centre: (v[0] / scale + ax, v[1] / scale + ay),
                size: (v[2] / scale, v[3] / scale),
                keypoints,
            })
        })
        .collect()
}

fn iou(a: &RawDetection, b: &RawDetection) -> f32 {
    let edges = |d: &RawDetection| {
        (
            d.centre.0 - d.size.0 / 2.0,
            d.centre.1 - d.size.1 / 2.0,
            d.centre.0 + d.size.0 / 2.0,
            d.centre.1 + d.size.1 / 2.0,
        )
    };
    let (a0, a1, a2, a3) = edges(a);
    let (b0, b1, b2, b3) = edges(b);
    let w = (a2.min(b2) - a0.max(b0)).max(0.0);
    let h = (a3.min(b3) - a1.max(b1)).max(0.0);
    let inter = w * h;
    let union = a.size.0 * a.size.1 + b.size.0 * b.size.1 - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Weighted non-maximum suppression: the best box and every box overlapping it become one
/// detection whose box and keypoints are their score-weighted mean (steadier than the best box
/// alone), with the best box's score. Best first.
pub fn suppress(mut detections: Vec<RawDetection>) -> Vec<RawDetection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !detections.is_empty() {
        let best = detections[0].clone();
        let (cluster, rest): (Vec<_>, Vec<_>) = detections
            .into_iter()
            .partition(|d| iou(&best, d) > MIN_SUPPRESSION_IOU);
        detections = rest;
        let total: f32 = cluster.iter().map(|d| d.score).sum();
        let mean = |f: &dyn Fn(&RawDetection) -> f32| {
            cluster.iter().map(|d| f(d) * d.score).sum::<f32>() / total
        };
        let mut keypoints = [(0.0, 0.0); 7];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = (mean(&|d| d.keypoints[k].0), mean(&|d| d.keypoints[k].1));
        }
        out.push(RawDetection {
            score: best.score,
            centre: (mean(&|d| d.centre.0), mean(&|d| d.centre.1)),
            size: (mean(&|d| d.size.0), mean(&|d| d.size.1)),
            keypoints,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_set_matches_the_models_output() {
        let a = anchors();
        assert_eq!(a.len(), 2016);
        // Stride 8: a 24 x 24 grid, two anchors a cell, first cell first.
        assert_eq!(a[0], (0.5 / 24.0, 0.5 / 24.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], (1.5 / 24.0, 0.5 / 24.0));
        // Stride 16: a 12 x 12 grid, six anchors a cell, after the 1152 of stride 8.
        assert_eq!(a[1152], (0.5 / 12.0, 0.5 / 12.0));
        assert_eq!(a[1157], a[1152]);
        assert_eq!(a[2015], (11.5 / 12.0, 11.5 / 12.0));
    }

    #[test]
    fn offsets_are_decoded_from_the_anchor_and_weak_scores_dropped() {
        let a = vec![(0.25, 0.5), (0.75, 0.5)];
        let mut boxes = vec![0.0; 2 * VALUES];
        boxes[0] = 19.2; // x + 0.1
        boxes[2] = 96.0; // w 0.5
        boxes[3] = 48.0; // h 0.25
        boxes[5] = -19.2; // keypoint 0: y - 0.1
        let found = decode(&boxes, &[3.0, -3.0], &a, 0.5);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert!((d.score - 0.9526).abs() < 1e-3);
        assert!((d.centre.0 - 0.35).abs() < 1e-6 && (d.centre.1 - 0.5).abs() < 1e-6);
        assert!((d.size.0 - 0.5).abs() < 1e-6 && (d.size.1 - 0.25).abs() < 1e-6);
        assert!((d.keypoints[0].0 - 0.25).abs() < 1e-6 && (d.keypoints[0].1 - 0.4).abs() < 1e-6);
    }

    #[test]
    fn overlapping_boxes_merge_by_score_and_separate_ones_stay() {
        let at = |x: f32, score: f32| RawDetection {
            score,
            centre: (x, 0.5),
            size: (0.2, 0.2),
            keypoints: [(x, 0.5); 7],
        };
        let merged = suppress(vec![at(0.30, 0.6), at(0.32, 0.9), at(0.8, 0.7)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        let expect = (0.30 * 0.6 + 0.32 * 0.9) / 1.5;
        assert!((merged[0].centre.0 - expect).abs() < 1e-6);
        assert_eq!(merged[1].centre.0, 0.8);
    }
}
