//! The models as built into the crate: the files are the recorded conversions, and they find a
//! hand, and where it points, in the project's synthetic photos.

use palm_hands::{HandModels, landmark};
use palm_synth::{Capture, Identity, Scene};
use sha2::{Digest, Sha256};

#[test]
fn model_files_are_the_recorded_conversions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let provenance = std::fs::read_to_string(dir.join("PROVENANCE.md")).unwrap();
    for name in ["palm_detection_full.onnx", "hand_landmark_full.onnx"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let digest = hex::encode(Sha256::digest(&bytes));
        let row = provenance
            .lines()
            .find(|l| l.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("{name} is not in PROVENANCE.md"));
        assert!(
            row.contains(&digest),
            "{name} is not the recorded conversion (sha256 {digest})"
        );
    }
}

fn hand_photo(seed: u64, rotation: f32) -> image::RgbImage {
    Identity::new(seed).render(
        Scene::Hand {
            width: 800,
            height: 600,
        },
        Capture::new(1).with_rotation(rotation),
    )
}

/// Direction from the wrist to the middle finger's knuckle, in degrees.
fn pointing(h: &palm_hands::HandLandmarks) -> f32 {
    let (w, m) = (h.at(landmark::WRIST), h.at(landmark::MIDDLE_KNUCKLE));
    (m.1 - w.1).atan2(m.0 - w.0).to_degrees()
}

#[test]
fn a_synthetic_hand_is_found_and_its_landmarks_turn_with_it() {
    let models = HandModels::get().unwrap();
    let upright = models.hands(&hand_photo(7, 0.0), 2).unwrap();
    let turned = models.hands(&hand_photo(7, 30.0), 2).unwrap();
    assert_eq!(upright.len(), 1, "one hand in the photo");
    assert_eq!(turned.len(), 1, "one hand in the turned photo");
    let (a, b) = (&upright[0], &turned[0]);
    assert!(a.presence >= palm_hands::MIN_PRESENCE && a.detection_score >= 0.5);
    // The hand's landmarks lie in the photo, the knuckles a plausible distance apart.
    for i in 0..21 {
        let (x, y) = a.at(i);
        assert!(
            (0.0..800.0).contains(&x) && (0.0..600.0).contains(&y),
            "landmark {i} at {x},{y}"
        );
    }
    let span = {
        let (p, q) = (
            a.at(landmark::INDEX_KNUCKLE),
            a.at(landmark::LITTLE_KNUCKLE),
        );
        ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
    };
    assert!((40.0..400.0).contains(&span), "knuckle span {span}");
    // Turning the photo turns the hand's direction by as much (within the models' error).
    let mut turn = pointing(b) - pointing(a);
    turn = (turn + 540.0) % 360.0 - 180.0;
    assert!((turn.abs() - 30.0).abs() < 8.0, "turned by {turn} degrees");
}

#[test]
fn a_picture_without_a_hand_has_none() {
    let models = HandModels::get().unwrap();
    let flat = image::RgbImage::from_pixel(640, 480, image::Rgb([90, 110, 130]));
    assert!(models.hands(&flat, 2).unwrap().is_empty());
    let tiny = image::RgbImage::from_pixel(3, 500, image::Rgb([200, 160, 140]));
    assert!(models.hands(&tiny, 2).unwrap().is_empty());
}
