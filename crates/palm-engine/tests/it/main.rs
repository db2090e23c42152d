//! The engine on synthetic palms: what must hold on a fresh clone, without real data.

use palm_engine::{Engine, ErrorKind, FrameMethod, Hand, InputKind, Params, Rejection, Template};
use palm_synth::{Capture, Identity, Scene, Side, png_bytes};

mod formats;
mod hover;
mod protect;

pub(crate) const ROI: Scene = Scene::Roi { size: 150 };
pub(crate) const HAND: Scene = Scene::Hand {
    width: 640,
    height: 480,
};

pub(crate) fn template(engine: &Engine, id: &Identity, scene: Scene, capture: Capture) -> Template {
    let bytes = png_bytes(&id.render(scene, capture));
    engine
        .extract(&bytes, InputKind::Auto)
        .unwrap_or_else(|e| panic!("seed {} capture {capture:?}: {e}", id.seed))
        .template
}

#[test]
fn same_palm_matches_across_captures_and_different_palms_do_not() {
    let engine = Engine::default();
    let ids: Vec<Identity> = (100..108).map(Identity::new).collect();
    let templates: Vec<Vec<Template>> = ids
        .iter()
        .map(|id| {
            (1..=3)
                .map(|k| template(&engine, id, ROI, Capture::new(k)))
                .collect()
        })
        .collect();
    let (mut worst_genuine, mut best_impostor) = (1.0f32, 0.0f32);
    for (i, a) in templates.iter().enumerate() {
        for (j, b) in templates.iter().enumerate() {
            for (ka, ta) in a.iter().enumerate() {
                for (kb, tb) in b.iter().enumerate() {
                    if (i, ka) >= (j, kb) {
                        continue;
                    }
                    let s = engine.similarity(ta, tb).unwrap();
                    if i == j {
                        worst_genuine = worst_genuine.min(s)
                    } else {
                        best_impostor = best_impostor.max(s)
                    }
                }
            }
        }
    }
    assert!(
        worst_genuine >= palm_engine::DEFAULT_THRESHOLD,
        "a genuine pair scored {worst_genuine}"
    );
    assert!(
        best_impostor < palm_engine::DEFAULT_THRESHOLD,
        "an impostor pair scored {best_impostor}"
    );
}

/// Synthetic hands are drawings, and the palm detector, trained on photos, misses a few of them;
/// the landmark model then reads a crop framed from the outline reader's hand. So: (nearly) every
/// capture is framed by learned landmarks, and every pair of captures of one hand framed the same
/// way matches, at every turn of the photo, far above a stranger.
#[test]
fn a_full_hand_at_any_rotation_yields_a_matching_roi() {
    let engine = Engine::default();
    let (mut learned, mut total) = (0, 0);
    for seed in 7..12 {
        let id = Identity::new(seed);
        let other = Identity::new(seed + 1);
        let extract = |id: &Identity, capture: Capture| {
            engine
                .extract(&png_bytes(&id.render(HAND, capture)), InputKind::FullHand)
                .unwrap()
        };
        let upright = extract(&id, Capture::new(1).with_rotation(0.0));
        let stranger = extract(&other, Capture::new(1).with_rotation(0.0));
        let impostor = engine
            .similarity(&upright.template, &stranger.template)
            .unwrap();
        let method = |e: &palm_engine::Extraction| e.hand.as_ref().unwrap().method;
        for deg in (15..360).step_by(45) {
            let turned = extract(&id, Capture::new(2).with_rotation(deg as f32));
            total += 1;
            learned += (method(&turned) == FrameMethod::Landmarks) as usize;
            if method(&turned) != method(&upright) {
                continue;
            }
            let s = engine
                .similarity(&upright.template, &turned.template)
                .unwrap();
            assert!(
                s >= palm_engine::DEFAULT_THRESHOLD && s > impostor + 0.1,
                "seed {seed} rotated {deg} deg: {s} (impostor {impostor})"
            );
        }
    }
    assert!(
        learned * 10 >= total * 8,
        "landmarks framed {learned} of {total}"
    );
}

#[test]
fn full_hand_on_cluttered_background_is_found() {
    let engine = Engine::default();
    let id = Identity::new(21);
    let plain = template(&engine, &id, HAND, Capture::new(1));
    let cluttered = template(&engine, &id, HAND, Capture::new(2).with_clutter());
    assert!(engine.similarity(&plain, &cluttered).unwrap() >= palm_engine::DEFAULT_THRESHOLD);
}

#[test]
fn left_and_right_hands_are_told_apart() {
    let engine = Engine::default();
    let mut seen = [false, false];
    for seed in 30..40 {
        let id = Identity::new(seed);
        let hand = template(&engine, &id, HAND, Capture::new(3)).hand;
        let expected = match id.side {
            Side::Left => Hand::Left,
            Side::Right => Hand::Right,
        };
        assert_eq!(hand, expected, "seed {seed}");
        seen[(id.side == Side::Left) as usize] = true;
    }
    assert_eq!(seen, [true, true], "the sample should hold both hands");
}

#[test]
fn no_hand_in_an_empty_scene() {
    let engine = Engine::default();
    let dark = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([20 + (x % 7) as u8, 20 + (y % 5) as u8, 24])
    });
    let err = engine
        .extract(&png_bytes(&dark), InputKind::FullHand)
        .unwrap_err();
    assert!(
        matches!(
            err.rejection(),
            Some(Rejection::NoHand | Rejection::TooDark)
        ),
        "{err}"
    );
    let black = image::RgbImage::new(640, 480);
    assert_eq!(
        engine
            .extract(&png_bytes(&black), InputKind::FullHand)
            .unwrap_err()
            .rejection(),
        Some(Rejection::TooDark)
    );
    let white = image::RgbImage::from_pixel(640, 480, image::Rgb([255, 255, 255]));
    assert_eq!(
        engine
            .extract(&png_bytes(&white), InputKind::FullHand)
            .unwrap_err()
            .rejection(),
        Some(Rejection::TooBright)
    );
}

#[test]
fn bad_bytes_get_typed_errors() {
    let engine = Engine::default();
    let png = png_bytes(&Identity::new(1).render(ROI, Capture::new(1)));
    assert_eq!(
        engine.template(b"definitely not a palm").unwrap_err().kind,
        ErrorKind::NotAnImage
    );
    assert_eq!(
        engine.template(&png[..png.len() / 2]).unwrap_err().kind,
        ErrorKind::Truncated
    );
    let tiny = png_bytes(&image::RgbImage::new(32, 32));
    assert!(matches!(
        engine.template(&tiny).unwrap_err().kind,
        ErrorKind::TooSmall { .. }
    ));
    // A BMP header that claims 8000 x 6000 pixels: refused before decoding.
    let mut bmp = Vec::new();
    image::RgbImage::new(64, 64)
        .write_to(&mut std::io::Cursor::new(&mut bmp), image::ImageFormat::Bmp)
        .unwrap();
    bmp[18..22].copy_from_slice(&8000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&6000i32.to_le_bytes());
    assert!(matches!(
        engine.template(&bmp).unwrap_err().kind,
        ErrorKind::TooLarge { .. }
    ));
}

#[test]
fn templates_round_trip_and_refuse_other_parameters() {
    let engine = Engine::default();
    let id = Identity::new(5);
    let t = template(&engine, &id, ROI, Capture::new(1));
    let bytes = t.to_bytes();
    assert!(bytes.len() <= palm_engine::MAX_TEMPLATE_BYTES);
    let back = Template::from_bytes(&bytes).unwrap();
    assert_eq!(back, t);
    assert_eq!(engine.similarity(&back, &t).unwrap(), 1.0);
    let other = Engine::new(Params {
        wavelength: 12.0,
        ..Params::default()
    });
    let t2 = template(&other, &id, ROI, Capture::new(1));
    assert!(matches!(
        engine.similarity(&t, &t2).unwrap_err().kind,
        ErrorKind::IncompatibleTemplates { .. }
    ));
}

/// The ROI frame of one synthetic hand, pinned. Regenerate with `UPDATE_GOLDEN=1 cargo test` and
/// review the diff: a change here moves every full-hand template.
#[test]
fn golden_roi_geometry_of_a_synthetic_hand() {
    let engine = Engine::default();
    let id = Identity::new(3);
    let bytes = png_bytes(&id.render(HAND, Capture::new(1).with_rotation(30.0)));
    let ex = engine.extract(&bytes, InputKind::FullHand).unwrap();
    let g = ex.hand.unwrap();
    let mut text = format!("hand {:?}\nmethod {:?}\n", g.hand, g.method);
    for (name, p) in std::iter::once(("centre", g.palm_centre))
        .chain(g.valleys.iter().map(|v| ("valley", *v)))
        .chain(g.landmarks.iter().map(|v| ("landmark", *v)))
        .chain(g.roi_corners.iter().map(|c| ("corner", *c)))
    {
        text += &format!("{name} {:.0} {:.0}\n", p.0, p.1);
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/roi_geometry.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).expect("golden file missing: run with UPDATE_GOLDEN=1");
    // Allow one pixel of drift (floating point), nothing more.
    for (got, want) in text.lines().zip(expected.lines()) {
        let (g, w): (Vec<&str>, Vec<&str>) = (got.split(' ').collect(), want.split(' ').collect());
        assert_eq!(g[0], w[0]);
        for (a, b) in g[1..].iter().zip(&w[1..]) {
            match (a.parse::<f32>(), b.parse::<f32>()) {
                (Ok(a), Ok(b)) => assert!((a - b).abs() <= 1.0, "{got} vs {want}"),
                _ => assert_eq!(a, b),
            }
        }
    }
    assert_eq!(text.lines().count(), expected.lines().count());
}

/// The fast coarse-to-fine search tries a subset of the shifts, so it can only score lower than
/// the exhaustive reference; on genuine pairs it should find the same best shift almost always
/// (impostor pairs may score lower, which only lowers false matches). The zoom search is off here:
/// it starts from whichever shift each search found, so with it on either may end higher.
#[test]
fn fast_search_agrees_with_exhaustive_search_on_palms() {
    let engine = Engine::new(Params {
        zoom_ratio: 1.0,
        ..Params::default()
    });
    let m = engine.matcher();
    let templates: Vec<Template> = (200..210)
        .flat_map(|s| (1..=3).map(move |k| (s, k)))
        .map(|(s, k)| template(&engine, &Identity::new(s), ROI, Capture::new(k)))
        .collect();
    let (mut same, mut pairs) = (0, 0);
    for (i, a) in templates.iter().enumerate() {
        for (j, b) in templates.iter().enumerate().skip(i + 1) {
            let slow = m.compare_exhaustive(a, b).unwrap().similarity;
            let fast = m.similarity(a, b).unwrap();
            assert!(fast <= slow, "fast {fast} above exhaustive {slow}");
            if i / 3 == j / 3 {
                same += (fast == slow) as usize;
                pairs += 1;
            }
        }
    }
    assert!(
        same * 100 >= pairs * 95,
        "{same} of {pairs} genuine pairs agree"
    );
}

/// Probes from full-hand photos are also compared turned a little (`max_rotation_deg`, 8 by
/// default): a palm whose ROI came out turned by 8 degrees is found, no score is lowered, ROI
/// probes are left alone, and protected templates score exactly as plain ones.
#[test]
fn full_hand_probes_are_searched_over_small_turns() {
    let engine = Engine::default();
    let unturning = comparing_otherwise(Params {
        max_rotation_deg: 0.0,
        ..Params::default()
    });
    let upright = Identity::new(40).render(ROI, Capture::new(1));
    let turned = warped_image(&upright, 8.0, 1.0);
    let stranger = Identity::new(41).render(ROI, Capture::new(1));
    let roi = |img: &image::RgbImage| roi_template(&engine, img);
    let hand = |img: &image::RgbImage| as_full_hand(roi(img));
    let plain = |a: &Template, b: &Template| engine.similarity(a, b).unwrap();
    let roi_score = plain(&roi(&turned), &roi(&upright));
    assert_eq!(
        roi_score,
        unturning.similarity(&roi(&turned), &roi(&upright)).unwrap(),
        "ROI probes are not turned"
    );
    let hand_score = plain(&hand(&turned), &roi(&upright));
    assert!(
        hand_score > roi_score + 0.1,
        "turned palm: {roi_score} unturned, {hand_score} with the turn search"
    );
    assert!(plain(&hand(&upright), &roi(&stranger)) >= plain(&roi(&upright), &roi(&stranger)));
    // Protected: the probe's turned versions travel with it, and every score is the plain one.
    protected_scores_are_plain(
        &engine,
        &[
            (hand(&turned), roi(&upright)),
            (hand(&upright), roi(&stranger)),
            (hand(&turned), hand(&stranger)),
        ],
    );
}

/// Pre-cropped ROI probes are also compared zoomed a little (`zoom_ratio`, 0.92 by default): a
/// crop cut 8% closer than its mate is found, full-hand probes are left alone, and protected
/// templates score exactly as plain ones.
#[test]
fn pre_cropped_probes_are_searched_over_small_zooms() {
    let engine = Engine::default();
    let unzooming = comparing_otherwise(Params {
        zoom_ratio: 1.0,
        ..Params::default()
    });
    let upright = Identity::new(42).render(ROI, Capture::new(1));
    let closer = warped_image(&upright, 0.0, 1.0 / 0.92);
    let stranger = Identity::new(43).render(ROI, Capture::new(1));
    let roi = |img: &image::RgbImage| roi_template(&engine, img);
    let unzoomed = unzooming.similarity(&roi(&closer), &roi(&upright)).unwrap();
    let zoomed = engine.similarity(&roi(&closer), &roi(&upright)).unwrap();
    assert!(
        zoomed > unzoomed + 0.05,
        "closer crop: {unzoomed} unzoomed, {zoomed} with the zoom search"
    );
    let hand = as_full_hand(roi(&closer));
    assert_eq!(
        engine.similarity(&hand, &roi(&upright)).unwrap(),
        unzooming.similarity(&hand, &roi(&upright)).unwrap(),
        "full-hand probes are not zoomed"
    );
    protected_scores_are_plain(
        &engine,
        &[
            (roi(&closer), roi(&upright)),
            (roi(&upright), roi(&stranger)),
            (roi(&closer), roi(&stranger)),
        ],
    );
}

/// An engine with `params`, which must change only how templates are compared: its templates
/// are interchangeable with the default engine's.
fn comparing_otherwise(params: Params) -> Engine {
    let other = Engine::new(params);
    assert_eq!(
        other.params().fingerprint(),
        Params::default().fingerprint(),
        "a search setting is how templates are compared, not how they are made"
    );
    other
}

/// `img` read as a pre-cropped ROI.
fn roi_template(engine: &Engine, img: &image::RgbImage) -> Template {
    engine
        .extract(&png_bytes(img), InputKind::Roi)
        .unwrap()
        .template
}

/// The same code as if a full-hand photo had given it.
fn as_full_hand(template: Template) -> Template {
    Template {
        source: palm_engine::Source::FullHand,
        ..template
    }
}

/// `img` turned by `degrees` and magnified by `zoom` about its centre (nearest pixel, edges
/// replicated).
fn warped_image(img: &image::RgbImage, degrees: f32, zoom: f32) -> image::RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let (u, v) = ((x as f32 - w / 2.0) / zoom, (y as f32 - h / 2.0) / zoom);
        let sx = (cos * u + sin * v + w / 2.0).round().clamp(0.0, w - 1.0);
        let sy = (cos * v - sin * u + h / 2.0).round().clamp(0.0, h - 1.0);
        *img.get_pixel(sx as u32, sy as u32)
    })
}

/// Each pair compared as the service compares it (probe expanded under a transform, template
/// protected) scores exactly as the plain templates, by the fast and the exhaustive search.
fn protected_scores_are_plain(engine: &Engine, pairs: &[(Template, Template)]) {
    let transform = palm_engine::protect::Transform::new(1, [7; 32]);
    for (a, b) in pairs {
        let probe = transform.probe(a, engine.params()).unwrap();
        let stored = transform.protect(b).unwrap();
        let protected = palm_engine::protect::compare(&probe, &stored, engine.params()).unwrap();
        assert_eq!(protected.similarity, engine.similarity(a, b).unwrap());
        let exhaustive =
            palm_engine::protect::compare_exhaustive(&probe, &stored, engine.params()).unwrap();
        assert_eq!(
            exhaustive,
            engine.matcher().compare_exhaustive(a, b).unwrap()
        );
    }
}

#[test]
fn a_crop_that_missed_the_palm_is_compared_but_not_enrolled() {
    let engine = Engine::default();
    let id = Identity::new(7);
    let whole = id.render(ROI, Capture::new(1));
    // Background over the top-left corner, as in a crop cut too far off the palm.
    let mut missed = whole.clone();
    for (x, y, p) in missed.enumerate_pixels_mut() {
        if x + y < 110 {
            *p = image::Rgb([12, 12, 14]);
        }
    }
    let ok = engine.extract(&png_bytes(&whole), InputKind::Auto).unwrap();
    assert!(ok.quality.coverage > 0.99, "{}", ok.quality.coverage);
    assert!(engine.enrol_template(&png_bytes(&whole)).is_ok());

    let ex = engine
        .extract(&png_bytes(&missed), InputKind::Auto)
        .unwrap();
    assert!(
        ex.quality.coverage < palm_engine::ENROL_MIN_COVERAGE,
        "{}",
        ex.quality.coverage
    );
    assert_eq!(
        ex.quality.enrol_rejection(),
        Some(Rejection::HandCutByBorder)
    );
    assert_eq!(
        engine
            .enrol_template(&png_bytes(&missed))
            .unwrap_err()
            .rejection(),
        Some(Rejection::HandCutByBorder)
    );
    // Identification still gets a template, which still matches its palm's whole crop.
    let whole_template = ok.template;
    assert!(
        engine.similarity(&ex.template, &whole_template).unwrap() >= palm_engine::DEFAULT_THRESHOLD
    );
}

/// Pictures no camera would send a palm in (extreme shapes, noise, flat colour) get a typed
/// error, never a panic or a made-up palm: strips over 8:1 are refused as such (51,300 x 64 once
/// panicked in the hand segmentation), as bytes or as a camera's pixels; the rest are read and
/// rejected by the full-hand path.
#[test]
fn odd_pictures_get_typed_rejections() {
    let engine = Engine::default();
    let noise = |w: u32, h: u32| {
        image::RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) as u8;
            image::Rgb([v, v.wrapping_mul(3), v.wrapping_mul(7)])
        })
    };
    for (w, h) in [
        (51_300, 64),
        (64, 51_300),
        (64, 3000),
        (3000, 64),
        (600, 75),
        (64, 64),
        (640, 480),
    ] {
        for img in [
            noise(w, h),
            image::RgbImage::from_pixel(w, h, image::Rgb([200, 150, 130])),
        ] {
            for err in [
                engine.extract(&png_bytes(&img), InputKind::FullHand),
                engine.extract_pixels(&img, InputKind::FullHand),
            ]
            .map(|r| r.expect_err("no palm in this picture"))
            {
                if w.max(h) > 8 * w.min(h) {
                    assert!(
                        matches!(err.kind, ErrorKind::Elongated { .. }),
                        "{w}x{h}: {err}"
                    );
                } else {
                    assert!(err.rejection().is_some(), "{w}x{h}: {err}");
                }
            }
        }
    }
}
