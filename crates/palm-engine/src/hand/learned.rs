//! The palm's frame from learned hand landmarks (`palm_hands`: MediaPipe's palm detector and
//! landmark model), which find a hand anywhere in a camera's picture: against any background,
//! with a sleeve, a watch or a bracelet, with the fingers cut off by the border.
//!
//! The frame: its y axis runs from the centre of the knuckle line (index 5, little 17) towards
//! the wrist (0) (or square to the knuckle line, or a blend: `Params::landmark_axis_wrist_weight`),
//! its x axis square to y on the index finger's side; the ROI's top edge lies on (or
//! `landmark_roi_offset` below) the knuckle line and its side follows the knuckle span. Because x
//! always points towards the index finger,
//! a left hand's ROI comes out mirrored into a right hand's frame: the same part of the palm in
//! the same place for either hand, and the template records which hand it was.
//!
//! The landmarks also say what is wrong with a picture that holds no usable palm: two hands, the
//! back of the hand, a fist, a hand too far away.

use super::{Frame, unit};
use crate::error::Rejection;
use crate::params::Params;
use crate::template::Hand;
use image::RgbImage;
use palm_hands::{HandLandmarks, HandModels, Handedness, landmark};

/// What the landmark stage made of a picture.
pub enum Found {
    /// One open palm facing the camera, and the frame of its ROI.
    Palm {
        frame: Frame,
        hand: Hand,
        landmarks: Box<HandLandmarks>,
    },
    /// The detector saw no palm at all (the outline reader may still find one).
    Nothing,
}

/// A fist or a half-closed hand: a finger counts as curled when its tip is nearer the wrist
/// than its middle joint, and the palm is hidden when this many of the four are.
const CURLED_FINGERS_FOR_A_FIST: usize = 3;
/// The model's handedness must be at least this sure before a disagreement with the points'
/// layout is read as the back of the hand (its scores on palms sit above 0.9; a turned-over hand
/// mirrors the layout while the model, which sees the nails and knuckles, still names the hand).
const SURE_OF_HANDEDNESS: f32 = 0.8;
/// The ROI must cover at least this many source pixels a side: under it the palm's lines are
/// finer than the picture holds (too far from the camera).
const MIN_ROI_SOURCE_SIDE: f32 = 48.0;

pub fn find(rgb: &RgbImage, p: &Params) -> Result<Found, Rejection> {
    let models = HandModels::get().map_err(|_| Rejection::NoHand)?;
    // Two hands are looked for so that a second one is refused rather than half-read.
    let mut hands = models.hands(rgb, 2).map_err(|_| Rejection::NoHand)?;
    if hands.len() == 1 && p.landmark_passes > 1 {
        hands[0] = models
            .refine(rgb, &hands[0])
            .map_err(|_| Rejection::NoHand)?;
    }
    judge(hands, p)
}

/// When the palm detector (trained on photos) misses a hand that the outline reader does see
/// (drawn hands, a hand on a plain lab cloth), the landmark model reads a crop framed from the
/// outline instead: centred between the palm and the longest fingertip, turned so that
/// fingertip points up, wide enough for the whole hand. The ROI is then framed from landmarks
/// as for any other photo, so templates of one hand never mix two framings.
pub fn from_outline(
    rgb: &RgbImage,
    p: &Params,
    centre: (f32, f32),
    radius: f32,
    tip: (f32, f32),
) -> Result<Found, Rejection> {
    let models = HandModels::get().map_err(|_| Rejection::NoHand)?;
    let rotation = palm_hands::upright(centre, tip);
    let reach = dist(tip, centre);
    let region = palm_hands::Region {
        centre: ((centre.0 + tip.0) / 2.0, (centre.1 + tip.1) / 2.0),
        side: 2.0 * (reach + radius) * p.outline.crop_margin,
        rotation,
    };
    let mut hand = models
        .landmarks_in(rgb, region, 0.0)
        .map_err(|_| Rejection::NoHand)?;
    if hand.presence < palm_hands::MIN_PRESENCE {
        return Ok(Found::Nothing);
    }
    if p.landmark_passes > 1 {
        hand = models.refine(rgb, &hand).map_err(|_| Rejection::NoHand)?;
    }
    judge(vec![hand], p)
}

/// The next frame of a hover: the landmark model reads the crop the previous frame's landmarks
/// frame (`previous`: its 21 image points), as MediaPipe follows a hand through a video, with no
/// palm detection and one reading instead of two. `Nothing` when that crop holds no hand any
/// more (the hand moved away: the caller looks for it afresh).
pub fn follow(rgb: &RgbImage, p: &Params, previous: &[(f32, f32)]) -> Result<Found, Rejection> {
    if previous.len() != 21 {
        return Ok(Found::Nothing);
    }
    let models = HandModels::get().map_err(|_| Rejection::NoHand)?;
    let region = palm_hands::region_around(|i| previous[i]);
    let hand = models
        .landmarks_in(rgb, region, 0.0)
        .map_err(|_| Rejection::NoHand)?;
    if hand.presence < palm_hands::MIN_PRESENCE {
        return Ok(Found::Nothing);
    }
    judge(vec![hand], p)
}

/// What the hands found in a picture make of it: the one open palm's frame, or why there is none.
fn judge(mut hands: Vec<HandLandmarks>, p: &Params) -> Result<Found, Rejection> {
    if hands.len() > 1 {
        return Err(Rejection::TwoHands);
    }
    let Some(first) = hands.pop() else {
        return Ok(Found::Nothing);
    };
    if curled_fingers(&first) >= CURLED_FINGERS_FOR_A_FIST {
        return Err(Rejection::HandNotOpen);
    }
    let (frame, palm_side_hand) = frame(&first, p);
    // The layout of the points says which hand it is if the palm faces the camera; the model
    // tells hands apart by how they look. They disagree when the back of the hand is shown.
    let model_hand = match first.handedness {
        Handedness::Left => Hand::Left,
        Handedness::Right => Hand::Right,
    };
    if model_hand != palm_side_hand && first.handedness_score >= SURE_OF_HANDEDNESS {
        return Err(Rejection::BackOfHand);
    }
    if frame.side < MIN_ROI_SOURCE_SIDE {
        return Err(Rejection::PalmTooSmall);
    }
    Ok(Found::Palm {
        frame,
        hand: palm_side_hand,
        landmarks: Box::new(first),
    })
}

/// How many of the four fingers are bent back towards the palm.
fn curled_fingers(h: &HandLandmarks) -> usize {
    let wrist = h.at(landmark::WRIST);
    landmark::FINGERS
        .iter()
        .filter(|&&(_, middle, tip)| dist(h.at(tip), wrist) < dist(h.at(middle), wrist))
        .count()
}

/// The ROI frame of a palm seen from its front, and which hand that makes it.
pub fn frame(h: &HandLandmarks, p: &Params) -> (Frame, Hand) {
    let (index, little, wrist) = (
        h.at(landmark::INDEX_KNUCKLE),
        h.at(landmark::LITTLE_KNUCKLE),
        h.at(landmark::WRIST),
    );
    let span = dist(index, little).max(1.0);
    let x = ((index.0 - little.0) / span, (index.1 - little.1) / span);
    let mid = ((index.0 + little.0) / 2.0, (index.1 + little.1) / 2.0);
    // Square to x, towards the wrist: for a right palm this is x turned a quarter clockwise on
    // screen; for a left palm the other way, which mirrors the ROI.
    let turned = (-x.1, x.0);
    let towards_wrist = (wrist.0 - mid.0) * turned.0 + (wrist.1 - mid.1) * turned.1 >= 0.0;
    let (square, hand) = if towards_wrist {
        (turned, Hand::Right)
    } else {
        ((-turned.0, -turned.1), Hand::Left)
    };
    let to_wrist = unit(wrist.0 - mid.0, wrist.1 - mid.1);
    let w = p.landmark_axis_wrist_weight;
    let y = unit(
        w * to_wrist.0 + (1.0 - w) * square.0,
        w * to_wrist.1 + (1.0 - w) * square.1,
    );
    // x square to y again, keeping its side (mirrored or not).
    let x = if hand == Hand::Right {
        (y.1, -y.0)
    } else {
        (-y.1, y.0)
    };
    let side = p.landmark_roi_side * span;
    let offset = p.landmark_roi_offset * span + side / 2.0;
    (
        Frame {
            centre: (mid.0 + y.0 * offset, mid.1 + y.1 * offset),
            x,
            y,
            side,
        },
        hand,
    )
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use palm_hands::Region;

    /// A hand with fingers up: wrist below, knuckles in a row above it, fingers straight up. With
    /// `index_right` the index knuckle is on the right, as a right palm faces a camera.
    fn hand(index_right: bool, curled: usize) -> HandLandmarks {
        let mut points = [(0.0, 0.0, 0.0); 21];
        let side = if index_right { 1.0 } else { -1.0 };
        points[landmark::WRIST] = (0.0, 100.0, 0.0);
        for (k, &(knuckle, middle, tip)) in landmark::FINGERS.iter().enumerate() {
            let x = side * (30.0 - 20.0 * k as f32);
            points[knuckle] = (x, 0.0, 0.0);
            points[middle] = (x, -30.0, 0.0);
            points[middle + 1] = (x, -45.0, 0.0);
            points[tip] = if k < curled {
                (x, 20.0, 0.0)
            } else {
                (x, -60.0, 0.0)
            };
        }
        HandLandmarks {
            points,
            presence: 0.99,
            handedness: if index_right {
                Handedness::Right
            } else {
                Handedness::Left
            },
            handedness_score: 0.95,
            detection_score: 0.9,
            region: Region {
                centre: (0.0, 0.0),
                side: 200.0,
                rotation: 0.0,
            },
        }
    }

    #[test]
    fn a_right_palm_is_framed_below_its_knuckles_and_a_left_one_mirrored() {
        let p = Params::default();
        let (f, h) = frame(&hand(true, 0), &p);
        assert_eq!(h, Hand::Right);
        assert_eq!(f.x, (1.0, 0.0));
        assert_eq!(f.y, (0.0, 1.0));
        assert!((f.side - p.landmark_roi_side * 60.0).abs() < 1e-3);
        let top = f.centre.1 - f.side / 2.0;
        assert!(
            (top - p.landmark_roi_offset * 60.0).abs() < 1e-3,
            "top edge at {top}"
        );
        let (g, h) = frame(&hand(false, 0), &p);
        assert_eq!(h, Hand::Left);
        // The same square, with x reversed: the ROI is the mirror image.
        assert_eq!(g.x, (-1.0, 0.0));
        assert_eq!(g.y, (0.0, 1.0));
        assert!((g.centre.0 - f.centre.0).abs() < 1e-3 && (g.centre.1 - f.centre.1).abs() < 1e-3);
    }

    fn verdict(hands: Vec<HandLandmarks>) -> Result<Hand, Rejection> {
        match judge(hands, &Params::default())? {
            Found::Palm { hand, .. } => Ok(hand),
            Found::Nothing => Err(Rejection::NoHand),
        }
    }

    fn scaled(mut h: HandLandmarks, k: f32) -> HandLandmarks {
        for p in &mut h.points {
            *p = (p.0 * k, p.1 * k, p.2 * k);
        }
        h
    }

    #[test]
    fn each_picture_that_holds_no_usable_palm_says_why() {
        assert_eq!(verdict(vec![hand(true, 0)]), Ok(Hand::Right));
        assert_eq!(verdict(vec![hand(false, 0)]), Ok(Hand::Left));
        assert_eq!(verdict(vec![]), Err(Rejection::NoHand));
        assert_eq!(
            verdict(vec![hand(true, 0), hand(false, 0)]),
            Err(Rejection::TwoHands)
        );
        assert_eq!(verdict(vec![hand(true, 4)]), Err(Rejection::HandNotOpen));
        // Two curled fingers still leave the palm open enough.
        assert_eq!(verdict(vec![hand(true, 2)]), Ok(Hand::Right));
        // The back of a right hand: the points' layout is a left palm's, the model sure it is
        // a right hand.
        let mut back = hand(false, 0);
        back.handedness = Handedness::Right;
        assert_eq!(verdict(vec![back.clone()]), Err(Rejection::BackOfHand));
        // ...unless the model is unsure, when the layout decides.
        back.handedness_score = 0.6;
        assert_eq!(verdict(vec![back]), Ok(Hand::Left));
        // A knuckle span of 60 px gives a 69 px ROI; a third of that is too far away.
        assert_eq!(
            verdict(vec![scaled(hand(true, 0), 0.33)]),
            Err(Rejection::PalmTooSmall)
        );
    }

    #[test]
    fn curled_fingers_are_counted() {
        assert_eq!(curled_fingers(&hand(true, 0)), 0);
        assert_eq!(curled_fingers(&hand(true, 3)), 3);
        assert_eq!(curled_fingers(&hand(false, 4)), 4);
    }
}
