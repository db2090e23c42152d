//! The two models, loaded once per process from bytes compiled into the binary, and the pipeline
//! that runs them on a picture.

use crate::anchors::{self, RawDetection};
use crate::crop::Region;
use crate::{HandLandmarks, Handedness, MIN_DETECTION_SCORE, MIN_PRESENCE, PalmDetection, Point};
use image::RgbImage;
use std::sync::{Arc, OnceLock};
use tract_onnx::prelude::*;

const PALM_DETECTION: &[u8] = include_bytes!("../models/palm_detection_full.onnx");
const HAND_LANDMARK: &[u8] = include_bytes!("../models/hand_landmark_full.onnx");

/// The landmark model's input side, in pixels.
const LANDMARK_INPUT: usize = 224;

/// How MediaPipe grows a palm box into the crop the landmark model reads: turned so the wrist ->
/// middle-knuckle line points up, moved half a box towards the fingers, squared on its longer
/// side and enlarged 2.6 times to hold the fingers.
const HAND_CROP_SCALE: f32 = 2.6;
const HAND_CROP_SHIFT_Y: f32 = -0.5;

/// Why the models could not run. Only a broken build can cause it (the model bytes are compiled
/// in), so callers report it rather than blame the picture.
#[derive(Debug, Clone, thiserror::Error)]
#[error("hand model failed: {0}")]
pub struct Error(String);

impl From<TractError> for Error {
    fn from(e: TractError) -> Self {
        Error(format!("{e:#}"))
    }
}

type Plan = Arc<TypedRunnableModel>;

/// The palm detector and the landmark model, ready to run. Shared by every thread of a process.
pub struct HandModels {
    detector: Plan,
    landmarker: Plan,
    anchors: Vec<(f32, f32)>,
}

static MODELS: OnceLock<Result<HandModels, Error>> = OnceLock::new();

fn plan(bytes: &[u8], side: usize) -> Result<Plan, Error> {
    Ok(tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))?
        .with_input_fact(0, f32::fact([1, side, side, 3]).into())?
        .into_optimized()?
        .into_runnable()?)
}

impl HandModels {
    /// The process's models, built on first use (about a tenth of a second).
    pub fn get() -> Result<&'static HandModels, Error> {
        MODELS
            .get_or_init(|| {
                Ok(HandModels {
                    detector: plan(PALM_DETECTION, anchors::INPUT)?,
                    landmarker: plan(HAND_LANDMARK, LANDMARK_INPUT)?,
                    anchors: anchors::anchors(),
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Palms in the picture, best first, each scored at least [`MIN_DETECTION_SCORE`].
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<PalmDetection>, Error> {
        let whole = Region::whole(image.width(), image.height());
        let input = whole.sample(image, anchors::INPUT);
        let out = self
            .detector
            .run(tvec!(nhwc(input, anchors::INPUT)?.into()))?;
        let boxes = floats(&out[0])?;
        let scores = floats(&out[1])?;
        let raw = anchors::decode(boxes, scores, &self.anchors, MIN_DETECTION_SCORE);
        Ok(anchors::suppress(raw)
            .into_iter()
            .map(|d| to_source(&d, &whole))
            .collect())
    }

    /// Up to `max_hands` hands in the picture (best detection first) whose landmark crop holds a
    /// hand ([`MIN_PRESENCE`]).
    pub fn hands(&self, image: &RgbImage, max_hands: usize) -> Result<Vec<HandLandmarks>, Error> {
        let mut found = Vec::new();
        for palm in self.detect(image)?.into_iter().take(max_hands) {
            let hand = self.landmarks(image, &palm)?;
            if hand.presence >= MIN_PRESENCE {
                found.push(hand);
            }
        }
        Ok(found)
    }

    /// The 21 landmarks of the hand whose palm the detector found.
    pub fn landmarks(
        &self,
        image: &RgbImage,
        palm: &PalmDetection,
    ) -> Result<HandLandmarks, Error> {
        self.landmarks_in(image, hand_region(palm), palm.score)
    }

    /// The landmarks read again from a crop framed on the first reading's own points, as
    /// MediaPipe follows a hand from one video frame to the next: the palm detector's box is
    /// coarse (its keypoints come from a 192-pixel view of the whole picture), the landmarks are
    /// not, so the second crop sits the hand where the landmark model expects it.
    pub fn refine(&self, image: &RgbImage, hand: &HandLandmarks) -> Result<HandLandmarks, Error> {
        self.landmarks_in(image, landmark_region(hand), hand.detection_score)
    }

    /// The landmarks read from a crop the caller frames (a hand found some other way), the
    /// fingers pointing towards the crop's top.
    pub fn landmarks_in(
        &self,
        image: &RgbImage,
        region: Region,
        detection_score: f32,
    ) -> Result<HandLandmarks, Error> {
        let input = region.sample(image, LANDMARK_INPUT);
        let out = self
            .landmarker
            .run(tvec!(nhwc(input, LANDMARK_INPUT)?.into()))?;
        let raw = floats(&out[0])?;
        let presence = floats(&out[1])?[0];
        let right = floats(&out[2])?[0];
        let n = LANDMARK_INPUT as f32;
        let mut points = [(0.0, 0.0, 0.0); 21];
        for (i, p) in points.iter_mut().enumerate() {
            let (x, y) = region.to_source(raw[i * 3] / n, raw[i * 3 + 1] / n);
            // Depth in source pixels, so it compares with x and y.
            *p = (x, y, raw[i * 3 + 2] / n * region.side);
        }
        // The output is the chance of a right hand as an unmirrored camera sees it (MediaPipe
        // names hands as a mirrored front camera shows them, so its label for this is "Left").
        let (handedness, handedness_score) = if right >= 0.5 {
            (Handedness::Right, right)
        } else {
            (Handedness::Left, 1.0 - right)
        };
        Ok(HandLandmarks {
            points,
            presence,
            handedness,
            handedness_score,
            detection_score,
            region,
        })
    }
}

/// An output's values (the models' outputs are plain float tensors in memory).
fn floats(t: &TValue) -> Result<&[f32], Error> {
    Ok(t.try_as_plain_ram()?.as_slice::<f32>()?)
}

fn nhwc(input: Vec<f32>, side: usize) -> Result<Tensor, Error> {
    Ok(
        tract_ndarray::Array4::from_shape_vec((1, side, side, 3), input)
            .map_err(|e| Error(e.to_string()))?
            .into(),
    )
}

fn to_source(d: &RawDetection, whole: &Region) -> PalmDetection {
    let at = |p: (f32, f32)| whole.to_source(p.0, p.1);
    let mut keypoints = [(0.0, 0.0); 7];
    for (k, kp) in keypoints.iter_mut().enumerate() {
        *kp = at(d.keypoints[k]);
    }
    PalmDetection {
        score: d.score,
        centre: at(d.centre),
        width: d.size.0 * whole.side,
        height: d.size.1 * whole.side,
        keypoints,
    }
}

/// The crop the landmark model reads for a detected palm (MediaPipe's detection-to-rect step).
pub fn hand_region(palm: &PalmDetection) -> Region {
    // Turned so the wrist -> middle knuckle direction points up.
    let rotation = upright(palm.keypoints[0], palm.keypoints[2]);
    let (sin, cos) = rotation.sin_cos();
    let shift = HAND_CROP_SHIFT_Y * palm.height;
    Region {
        centre: (palm.centre.0 - shift * sin, palm.centre.1 + shift * cos),
        side: palm.width.max(palm.height) * HAND_CROP_SCALE,
        rotation,
    }
}

/// The crop MediaPipe frames from a hand's landmarks: turned so the wrist -> middle knuckle line
/// points up, around the box of the palm and the fingers' lower joints, moved a tenth towards the
/// fingers and doubled.
pub fn landmark_region(hand: &HandLandmarks) -> Region {
    region_around(|i| hand.at(i))
}

/// [`landmark_region`] from a hand's 21 points as image points (`at(i)` is landmark `i`): where
/// the landmark model reads the hand in the next frame of a hover (MediaPipe's tracking step),
/// without running the palm detector again.
pub fn region_around(at: impl Fn(usize) -> Point) -> Region {
    const POINTS: [usize; 12] = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18];
    let rotation = upright(at(0), at(9));
    let (sin, cos) = rotation.sin_cos();
    // Coordinates along the crop's own axes.
    let (ax, ay) = ((cos, sin), (-sin, cos));
    let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
    for i in POINTS {
        let p = at(i);
        let (u, v) = (p.0 * ax.0 + p.1 * ax.1, p.0 * ay.0 + p.1 * ay.1);
        lo = (lo.0.min(u), lo.1.min(v));
        hi = (hi.0.max(u), hi.1.max(v));
    }
    let (w, h) = (hi.0 - lo.0, hi.1 - lo.1);
    let (cu, cv) = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0 - 0.1 * h);
    Region {
        centre: (cu * ax.0 + cv * ay.0, cu * ax.1 + cv * ay.1),
        side: w.max(h) * 2.0,
        rotation,
    }
}

/// The turn (clockwise on screen, -pi..pi) of a crop whose top lies in the direction
/// `from -> to`, as MediaPipe turns its hand crops.
pub fn upright(from: Point, to: Point) -> f32 {
    normalise_angle(std::f32::consts::FRAC_PI_2 - (-(to.1 - from.1)).atan2(to.0 - from.0))
}

fn normalise_angle(a: f32) -> f32 {
    use std::f32::consts::PI;
    a - 2.0 * PI * ((a + PI) / (2.0 * PI)).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn palm(wrist: Point, middle: Point) -> PalmDetection {
        let mut keypoints = [(0.0, 0.0); 7];
        keypoints[0] = wrist;
        keypoints[2] = middle;
        PalmDetection {
            score: 0.9,
            centre: (100.0, 100.0),
            width: 40.0,
            height: 40.0,
            keypoints,
        }
    }

    #[test]
    fn an_upright_palm_gives_an_upright_crop_moved_towards_the_fingers() {
        let r = hand_region(&palm((100.0, 120.0), (100.0, 80.0)));
        assert!(r.rotation.abs() < 1e-6);
        assert!((r.centre.0 - 100.0).abs() < 1e-4 && (r.centre.1 - 80.0).abs() < 1e-4);
        assert!((r.side - 104.0).abs() < 1e-4);
    }

    #[test]
    fn a_palm_pointing_right_gives_a_crop_turned_a_quarter_clockwise() {
        let r = hand_region(&palm((80.0, 100.0), (120.0, 100.0)));
        assert!((r.rotation - std::f32::consts::FRAC_PI_2).abs() < 1e-5);
        // Moved half a box towards the fingers: to the right.
        assert!((r.centre.0 - 120.0).abs() < 1e-3 && (r.centre.1 - 100.0).abs() < 1e-3);
        // The crop's top lies on the fingers' side.
        let top = r.to_source(0.5, 0.0);
        assert!(top.0 > r.centre.0 + 50.0);
    }
}
