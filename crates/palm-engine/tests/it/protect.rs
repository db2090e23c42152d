//! Template protection on synthetic palms: scores under a transform equal the plain scores
//! exactly, a template protected under one deployment's key is unlinkable to the same palm
//! under another's, and the stored form is validated.

use crate::{ROI, template};
use palm_engine::protect::{self, ProtectedTemplate, Transform};
use palm_engine::{Engine, ErrorKind, Template};
use palm_synth::{Capture, Identity};

fn palms(engine: &Engine, seeds: std::ops::Range<u64>) -> Vec<Template> {
    seeds
        .flat_map(|s| {
            let id = Identity::new(s);
            (1..=2).map(move |k| (id.clone(), k))
        })
        .map(|(id, k)| template(engine, &id, ROI, Capture::new(k)))
        .collect()
}

#[test]
fn protected_scores_equal_plain_scores_exactly() {
    let engine = Engine::default();
    let params = engine.params();
    let t = palms(&engine, 300..306);
    let transform = Transform::new(7, [42; 32]);
    let protected: Vec<ProtectedTemplate> =
        t.iter().map(|x| transform.protect(x).unwrap()).collect();
    let mut genuine = 0;
    for (i, a) in t.iter().enumerate() {
        let probe = transform.probe(a, params).unwrap();
        for (j, b) in t.iter().enumerate() {
            let plain = engine.matcher().similarity(a, b).unwrap();
            let fast = protect::compare(&probe, &protected[j], params).unwrap();
            assert_eq!(fast.similarity, plain, "pair {i} {j}");
            let exhaustive = protect::compare_exhaustive(&probe, &protected[j], params).unwrap();
            assert_eq!(
                exhaustive,
                engine.matcher().compare_exhaustive(a, b).unwrap()
            );
            if i / 2 == j / 2 && i != j {
                genuine += 1;
                assert!(plain > 0.68, "pair {i} {j}: {plain}");
            }
        }
    }
    assert_eq!(genuine, 12);
}

#[test]
fn another_deployments_template_of_the_same_palm_does_not_match() {
    let engine = Engine::default();
    let params = engine.params();
    let t = palms(&engine, 310..313);
    let here = Transform::new(1, [1; 32]);
    let there = Transform::new(1, [2; 32]);
    for pair in t.chunks(2) {
        // The same palm, two captures: a match under one key...
        let same = protect::compare(
            &here.probe(&pair[0], params).unwrap(),
            &here.protect(&pair[1]).unwrap(),
            params,
        )
        .unwrap();
        let plain = engine.similarity(&pair[0], &pair[1]).unwrap();
        assert_eq!(same.similarity, plain);
        assert!(plain > 0.65, "{plain}");
        // ...but an attacker holding a probe under key A and the stored template under key B
        // (both named generation 1) sees chance agreement.
        let cross = protect::compare(
            &here.probe(&pair[0], params).unwrap(),
            &there.protect(&pair[1]).unwrap(),
            params,
        )
        .unwrap();
        assert!(cross.similarity < 0.6, "{cross:?}");
        // Nor do two stored templates line up bit for bit: about half the bits differ.
        let (a, b) = (
            here.protect(&pair[0]).unwrap(),
            there.protect(&pair[0]).unwrap(),
        );
        let differ: u32 = a.rows[1..]
            .iter()
            .flatten()
            .zip(b.rows[1..].iter().flatten())
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        let total = 6 * 1024;
        assert!(
            (0.4..0.6).contains(&(differ as f64 / total as f64)),
            "{differ}"
        );
    }
}

#[test]
fn unprotect_restores_the_template_and_other_generations_are_refused() {
    let engine = Engine::default();
    let params = engine.params();
    let t = &palms(&engine, 320..321)[0];
    let old = Transform::new(1, [9; 32]);
    let new = Transform::new(2, [10; 32]);
    let p = old.protect(t).unwrap();
    let mut expected = t.clone();
    for plane in &mut expected.planes {
        for (row, m) in plane.iter_mut().zip(&t.mask) {
            *row &= m;
        }
    }
    assert_eq!(old.unprotect(&p).unwrap(), expected);
    // Renewal: back to plain under the old key, protected again under the new one.
    let renewed = new.protect(&old.unprotect(&p).unwrap()).unwrap();
    let probe = new.probe(t, params).unwrap();
    assert_eq!(
        protect::compare(&probe, &renewed, params)
            .unwrap()
            .similarity,
        1.0
    );
    assert!(matches!(
        protect::compare(&probe, &p, params).unwrap_err().kind,
        ErrorKind::OtherTransform {
            probe: 2,
            template: 1
        }
    ));
    assert!(matches!(
        new.unprotect(&p).unwrap_err().kind,
        ErrorKind::OtherTransform { .. }
    ));
}

#[test]
fn stored_form_round_trips_and_every_corruption_is_caught() {
    let engine = Engine::default();
    let t = &palms(&engine, 330..331)[0];
    let p = Transform::new(3, [5; 32]).protect(t).unwrap();
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), protect::PROTECTED_BYTES);
    assert!(bytes.len() <= palm_engine::MAX_TEMPLATE_BYTES);
    assert_eq!(ProtectedTemplate::from_bytes(&bytes).unwrap(), p);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x04;
        assert!(ProtectedTemplate::from_bytes(&b).is_err(), "flip at {i}");
    }
    assert!(ProtectedTemplate::from_bytes(&t.to_bytes()).is_err());
    assert!(format!("{:?}", Transform::new(3, [5; 32])).contains("id: 3"));
    assert!(!format!("{:?}", Transform::new(3, [5; 32])).contains("5, 5"));
}
