//! A hover's frames read as one (`Engine::extract_hover`): each later frame where the one before
//! left the hand.

use crate::HAND;
use palm_engine::{DEFAULT_THRESHOLD, Engine, FrameMethod, InputKind};
use palm_synth::{Capture, Identity, png_bytes};

/// A hand photo and the same picture moved right and down by `(dx, dy)` pixels (a hand drifting
/// between two frames of a hover).
fn moved(img: &image::RgbImage, dx: i64, dy: i64) -> Vec<u8> {
    let mut out = image::RgbImage::new(img.width(), img.height());
    image::imageops::replace(&mut out, img, dx, dy);
    png_bytes(&out)
}

#[test]
fn later_frames_of_a_hover_follow_the_hand_and_read_it_as_a_photo_would() {
    let engine = Engine::default();
    for seed in [301, 302, 303] {
        let photo = Identity::new(seed).render(HAND, Capture::new(1));
        let frames = vec![png_bytes(&photo), moved(&photo, 8, 4), moved(&photo, 16, 8)];
        let read = engine.extract_hover(&frames, InputKind::FullHand);
        assert_eq!(read.len(), 3);
        for (k, (frame, extraction)) in frames.iter().zip(&read).enumerate() {
            let extraction = extraction
                .as_ref()
                .unwrap_or_else(|e| panic!("seed {seed} frame {k}: {e}"));
            let geometry = extraction.hand.as_ref().expect("a full-hand frame");
            assert_eq!(
                geometry.method,
                FrameMethod::Landmarks,
                "seed {seed} frame {k}"
            );
            // The first frame is searched for; the later ones are followed.
            assert_eq!(geometry.followed, k > 0, "seed {seed} frame {k}");
            let afresh = engine.extract(frame, InputKind::FullHand).unwrap();
            assert!(!afresh.hand.as_ref().unwrap().followed);
            let s = engine
                .similarity(&extraction.template, &afresh.template)
                .unwrap();
            assert!(
                s >= DEFAULT_THRESHOLD,
                "seed {seed} frame {k}: followed {s} against the frame read afresh"
            );
        }
    }
}

#[test]
fn a_frame_without_the_hand_fails_alone_and_the_next_frame_is_still_read() {
    let engine = Engine::default();
    let photo = Identity::new(304).render(HAND, Capture::new(1));
    let empty = png_bytes(&image::RgbImage::new(photo.width(), photo.height()));
    let frames = vec![png_bytes(&photo), empty, moved(&photo, 8, 4)];
    let read = engine.extract_hover(&frames, InputKind::FullHand);
    assert!(read[0].is_ok());
    assert!(read[1].is_err(), "a black frame gave a template");
    let last = read[2]
        .as_ref()
        .expect("the hand is back in the third frame");
    assert!(last.hand.as_ref().unwrap().followed);
    let s = engine
        .similarity(&read[0].as_ref().unwrap().template, &last.template)
        .unwrap();
    assert!(s >= DEFAULT_THRESHOLD, "{s}");
}

#[test]
fn a_synthetic_hover_is_one_capture_moved_a_little_with_new_noise() {
    let engine = Engine::default();
    let roi = crate::ROI;
    let (mut within, mut across) = (vec![], vec![]);
    for seed in [311, 312, 313, 314] {
        let id = Identity::new(seed);
        // Frame 0 is the capture itself, pixel for pixel.
        assert_eq!(
            id.render(roi, Capture::new(7).frame(0)),
            id.render(roi, Capture::new(7))
        );
        let frames: Vec<_> = (0..3)
            .map(|f| crate::template(&engine, &id, roi, Capture::new(7).frame(f)))
            .collect();
        assert_ne!(
            id.render(roi, Capture::new(7).frame(1)),
            id.render(roi, Capture::new(7).frame(2))
        );
        let other = crate::template(&engine, &id, roi, Capture::new(8));
        for f in &frames[1..] {
            within.push(engine.similarity(&frames[0], f).unwrap());
            across.push(engine.similarity(&other, f).unwrap());
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        within.iter().all(|&s| s >= DEFAULT_THRESHOLD),
        "frames of one hover: {within:?}"
    );
    assert!(
        mean(&within) > mean(&across),
        "frames of one hover {within:?} should agree more than two captures {across:?}"
    );
}
