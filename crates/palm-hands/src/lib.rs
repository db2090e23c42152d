//! Hands in camera pictures: where each hand is and its 21 landmarks, from MediaPipe's published
//! hand models run in-process on the CPU.
//!
//! Two learned stages, as MediaPipe's own hand pipeline runs them for still pictures:
//! 1. **Palm detection** (`palm_detection_full`): the whole picture, letterboxed to 192 x 192,
//!    gives scored palm boxes with seven palm keypoints (decoded against the model's SSD anchors,
//!    merged by weighted non-maximum suppression).
//! 2. **Hand landmarks** (`hand_landmark_full`): a square crop around each palm, turned so the
//!    fingers point up and enlarged to hold the whole hand, resampled to 224 x 224, gives 21 points
//!    (wrist 0; knuckles at the finger bases: index 5, middle 9, ring 13, little 17), a presence
//!    score and which hand it is.
//!
//! The models are ONNX conversions of the TensorFlow Lite files in the `mediapipe==0.10.14` wheel
//! (Apache-2.0; `models/PROVENANCE.md`, `scripts/convert-hand-models.py`), compiled into the
//! binary, so nothing is read or downloaded at run time; `tract` runs them. This crate knows
//! nothing of palms' codes: the engine frames its region of interest from these points.

mod anchors;
mod crop;
mod models;

pub use crop::Region;
pub use models::{Error, HandModels, region_around, upright};

/// A point in source-image pixels (x right, y down).
pub type Point = (f32, f32);

/// A palm found by the detector, in source-image pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct PalmDetection {
    /// 0..1: how sure the detector is that this is a palm.
    pub score: f32,
    pub centre: Point,
    pub width: f32,
    pub height: f32,
    /// Wrist, index knuckle, middle knuckle, ring knuckle, little knuckle, thumb base, thumb knuckle.
    pub keypoints: [Point; 7],
}

/// Which hand the landmark model says it sees (as a camera that does not mirror sees it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handedness {
    Left,
    Right,
}

/// One hand's landmarks in source-image pixels (z: depth relative to the wrist, in the crop's
/// pixel units, negative towards the camera).
#[derive(Clone, Debug)]
pub struct HandLandmarks {
    pub points: [(f32, f32, f32); 21],
    /// 0..1: whether the crop holds a hand at all.
    pub presence: f32,
    pub handedness: Handedness,
    /// 0.5..1: how sure the model is of `handedness`.
    pub handedness_score: f32,
    /// The detector's score for the palm this hand grew from.
    pub detection_score: f32,
    /// The crop the landmarks were read from.
    pub region: Region,
}

impl HandLandmarks {
    /// Landmark `i` (0..21) as an image point.
    pub fn at(&self, i: usize) -> Point {
        let (x, y, _) = self.points[i];
        (x, y)
    }
}

/// Landmark indices a palm's frame is built from.
pub mod landmark {
    pub const WRIST: usize = 0;
    pub const THUMB_TIP: usize = 4;
    pub const INDEX_KNUCKLE: usize = 5;
    pub const MIDDLE_KNUCKLE: usize = 9;
    pub const RING_KNUCKLE: usize = 13;
    pub const LITTLE_KNUCKLE: usize = 17;
    /// The four fingers' knuckle, middle joint and tip: (5, 6, 8), (9, 10, 12), (13, 14, 16),
    /// (17, 18, 20).
    pub const FINGERS: [(usize, usize, usize); 4] =
        [(5, 6, 8), (9, 10, 12), (13, 14, 16), (17, 18, 20)];
}

/// Below this the detector's palms and the landmark model's hands are not taken (MediaPipe's own
/// defaults for both).
pub const MIN_DETECTION_SCORE: f32 = 0.5;
pub const MIN_PRESENCE: f32 = 0.5;
