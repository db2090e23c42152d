//! The index on synthetic palms: ranking, concurrency, persistence and the open-set decision.

use palm_engine::protect::Transform;
use palm_engine::{Engine, Template};
use palm_index::{
    Calibration, Decision, Gallery, IndexConfig, IndexError, Owner, PalmId, Policy, Search,
};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use std::sync::OnceLock;

const ROI: Scene = Scene::Roi { size: 128 };

/// Two captures of each of 150 synthetic palms, made once for all tests.
fn templates() -> &'static Vec<[Template; 2]> {
    static T: OnceLock<Vec<[Template; 2]>> = OnceLock::new();
    T.get_or_init(|| {
        let engine = Engine::default();
        (1..=150u64)
            .map(|s| {
                let id = Identity::new(s);
                [1, 2].map(|k| {
                    engine
                        .template(&png_bytes(&id.render(ROI, Capture::new(k))))
                        .expect("synthetic palm")
                })
            })
            .collect()
    })
}

const CONFIG: IndexConfig = IndexConfig {
    shards: 8,
    shortlist: 40,
};

fn transform() -> Transform {
    Transform::new(1, [7; 32])
}

fn gallery_of(n: usize) -> Gallery {
    let g = Gallery::new(Engine::default().params(), CONFIG, transform());
    for (i, t) in templates().iter().take(n).enumerate() {
        g.insert(
            PalmId(i as u64),
            Some((i % 4) as u16),
            &g.protect(&t[0]).unwrap(),
        )
        .unwrap();
    }
    g
}

/// Calibration from the synthetic palms' own genuine and impostor scores.
fn policy() -> Policy {
    let engine = Engine::default();
    let t = templates();
    let genuine: Vec<f64> = t
        .iter()
        .map(|p| engine.similarity(&p[0], &p[1]).unwrap() as f64)
        .collect();
    let mut impostor = Vec::new();
    for i in 0..t.len() {
        for j in (i + 1)..t.len().min(i + 15) {
            impostor.push(engine.similarity(&t[i][0], &t[j][1]).unwrap() as f64);
        }
    }
    Policy::new(Calibration::fit(engine.params().fingerprint(), &genuine, &impostor).unwrap())
}

#[test]
fn fast_path_agrees_with_exhaustive_search() {
    let g = gallery_of(150);
    let mut agree = 0;
    for (i, t) in templates().iter().enumerate() {
        let fast = g
            .rank(
                &t[1],
                &Search {
                    k: 1,
                    ..Search::default()
                },
            )
            .unwrap()
            .0;
        let slow = g
            .rank(
                &t[1],
                &Search {
                    k: 1,
                    exhaustive: true,
                    ..Search::default()
                },
            )
            .unwrap()
            .0;
        assert_eq!(
            slow[0].id,
            PalmId(i as u64),
            "exhaustive search misses palm {i}"
        );
        agree += (fast[0].id == slow[0].id) as usize;
    }
    assert_eq!(agree, 150);
}

#[test]
fn buckets_narrow_the_search() {
    let g = gallery_of(100);
    let t = &templates()[6][1];
    let (ranked, searched) = g
        .rank(
            t,
            &Search {
                k: 3,
                bucket: Some(2),
                ..Search::default()
            },
        )
        .unwrap();
    assert_eq!(searched, 25);
    assert_eq!(ranked[0].id, PalmId(6));
    let (_, searched) = g
        .rank(
            t,
            &Search {
                k: 3,
                bucket: Some(1),
                ..Search::default()
            },
        )
        .unwrap();
    assert_eq!(searched, 25);
    assert_eq!(
        g.insert(PalmId(999), Some(u16::MAX), &g.protect(t).unwrap())
            .unwrap_err(),
        IndexError::ReservedBucket(u16::MAX)
    );
}

#[test]
fn mated_probes_match_and_strangers_do_not() {
    let g = gallery_of(100);
    let policy = policy();
    let hint = |i: usize| Search {
        k: 3,
        bucket: Some((i % 4) as u16),
        ..Search::default()
    };
    for i in [3usize, 40, 77] {
        let r = g.identify(&templates()[i][1], &hint(i), &policy).unwrap();
        assert_eq!(r.decision, Decision::Match(PalmId(i as u64)), "{r:?}");
    }
    // Palms 100..150 were never enrolled.
    for i in 100..150 {
        let r = g.identify(&templates()[i][1], &hint(i), &policy).unwrap();
        assert!(
            matches!(r.decision, Decision::NoMatch),
            "stranger {i}: {r:?}"
        );
    }
}

#[test]
fn an_owners_second_palm_is_not_an_ambiguity() {
    let policy = policy();
    let search = Search {
        k: 3,
        bucket: Some(1),
        ..Search::default()
    };
    let probe = &templates()[5][1];
    // The very same template enrolled twice scores the probe identically: as two people that
    // is as ambiguous as it gets; as one person's two palms it is that person.
    let twice = |owner: Owner| {
        let g = gallery_of(30);
        g.insert_for(
            owner,
            PalmId(500),
            Some(1),
            &g.protect(&templates()[5][0]).unwrap(),
        )
        .unwrap();
        g.identify(probe, &search, &policy).unwrap()
    };
    let strangers = twice(Owner(500));
    assert_eq!(strangers.decision, Decision::Ambiguous, "{strangers:?}");
    let one = twice(Owner(5));
    assert_eq!(one.decision, Decision::Match(PalmId(5)), "{one:?}");
    let owners: Vec<Owner> = one.candidates.iter().map(|c| c.owner).collect();
    assert_eq!(owners[0], Owner(5));
    assert!(
        !owners[1..].contains(&Owner(5)),
        "an owner ranked twice: {owners:?}"
    );
}

#[test]
fn a_huge_gallery_asks_for_a_hint() {
    let policy = policy();
    let t = policy.threshold(100_000_000);
    assert!(t.needs_hint, "{t:?}");
    assert!(t.fpir <= 1.01e-6);
}

#[test]
fn removed_palms_are_never_found_and_searches_run_during_changes() {
    let g = gallery_of(60);
    let probe = &templates()[10][1];
    std::thread::scope(|scope| {
        let searcher = scope.spawn(|| {
            for _ in 0..200 {
                let (ranked, _) = g
                    .rank(
                        probe,
                        &Search {
                            k: 3,
                            ..Search::default()
                        },
                    )
                    .unwrap();
                // Palms coming and going meanwhile never hide the probe's own palm nor
                // outrank it (a torn shard or a half-written entry would).
                assert_eq!(ranked.first().map(|c| c.id), Some(PalmId(10)), "{ranked:?}");
            }
        });
        for round in 0..50u64 {
            g.insert(
                PalmId(1000 + round),
                None,
                &g.protect(&templates()[100 + (round as usize % 50)][0])
                    .unwrap(),
            )
            .unwrap();
            assert!(g.remove(PalmId(1000 + round)));
        }
        searcher.join().unwrap();
    });
    assert!(g.remove(PalmId(10)));
    assert!(!g.remove(PalmId(10)));
    let (ranked, searched) = g
        .rank(
            probe,
            &Search {
                k: 5,
                exhaustive: true,
                ..Search::default()
            },
        )
        .unwrap();
    assert_eq!(searched, 59);
    assert!(ranked.iter().all(|c| c.id != PalmId(10)));
    assert_eq!(
        g.insert(PalmId(11), None, &g.protect(probe).unwrap())
            .unwrap_err(),
        IndexError::DuplicateId(PalmId(11))
    );
}

#[test]
fn save_load_round_trip_and_corruption() {
    let g = gallery_of(40);
    // A palm whose owner is not its id: owners must survive the file too.
    g.insert_for(
        Owner(77),
        PalmId(900),
        None,
        &g.protect(&templates()[7][0]).unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("palm-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gallery.plmg");
    g.save(&path).unwrap();
    let params = Engine::default().params().clone();
    let back = Gallery::load(&path, &params, CONFIG, transform()).unwrap();
    assert_eq!(back.len(), 41);
    let s = Search {
        k: 5,
        ..Search::default()
    };
    let ranked = back.rank(&templates()[7][1], &s).unwrap().0;
    assert_eq!(g.rank(&templates()[7][1], &s).unwrap().0, ranked);
    assert!(
        ranked
            .iter()
            .any(|c| c.id == PalmId(900) && c.owner == Owner(77))
    );

    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.join("bad.plmg");
    let load_bad = |b: &[u8]| {
        std::fs::write(&bad, b).unwrap();
        Gallery::load(&bad, &params, IndexConfig::default(), transform())
            .err()
            .map(|e| e.to_string())
    };
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 1;
    assert!(load_bad(&flipped).unwrap().contains("checksum"));
    assert!(
        load_bad(&bytes[..bytes.len() - 100])
            .unwrap()
            .contains("truncated")
    );
    assert!(load_bad(&bytes[..10]).unwrap().contains("truncated"));
    assert!(
        load_bad(b"not a gallery at all, just text")
            .unwrap()
            .contains("not a palmline gallery")
    );
    let mut version = bytes.clone();
    version[4] = 7;
    assert!(load_bad(&version).unwrap().contains("version 7"));
    let other = palm_engine::Params {
        wavelength: 11.0,
        ..params.clone()
    };
    assert!(matches!(
        Gallery::load(&path, &other, IndexConfig::default(), transform()),
        Err(IndexError::WrongEngine { .. })
    ));
    assert!(matches!(
        Gallery::load(
            &path,
            &params,
            IndexConfig::default(),
            Transform::new(2, [8; 32])
        ),
        Err(IndexError::OtherTransform {
            found: 1,
            expected: 2
        })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The index holds only protected palms, and its scores are the plain matcher's: the best
/// candidate's similarity equals the engine's on the plain templates. A palm protected by another
/// deployment is refused, and a stored palm survives its byte form.
#[test]
fn protected_gallery_scores_as_plain_and_refuses_other_transforms() {
    let engine = Engine::default();
    let g = gallery_of(30);
    for i in [0usize, 7, 29] {
        let probe = &templates()[i][1];
        let (ranked, _) = g
            .rank(
                probe,
                &Search {
                    k: 1,
                    ..Search::default()
                },
            )
            .unwrap();
        assert_eq!(ranked[0].id, PalmId(i as u64));
        let plain = engine.similarity(probe, &templates()[i][0]).unwrap();
        assert_eq!(ranked[0].similarity, plain);
    }
    let elsewhere = Gallery::new(engine.params(), CONFIG, Transform::new(2, [9; 32]));
    let foreign = elsewhere.protect(&templates()[40][0]).unwrap();
    assert_eq!(
        g.insert(PalmId(40), None, &foreign).unwrap_err(),
        IndexError::OtherTransform {
            found: 2,
            expected: 1
        }
    );
    let palm = g.protect(&templates()[41][0]).unwrap();
    let bytes = palm.to_bytes();
    assert!(bytes.len() <= palm_engine::MAX_TEMPLATE_BYTES);
    assert_eq!(palm_index::ProtectedPalm::from_bytes(&bytes).unwrap(), palm);
    let mut bad = bytes.clone();
    bad[bytes.len() - 20] ^= 1;
    assert!(palm_index::ProtectedPalm::from_bytes(&bad).is_err());
    assert!(palm_index::ProtectedPalm::from_bytes(&templates()[41][0].to_bytes()).is_err());
}

/// The gallery file is a durable format (a service restarts from it): its bytes for a fixed
/// gallery are pinned, which also pins the coarse codes' keyed layout. The engine fingerprint in
/// the header is left out (it moves with every parameter change, which the loader refuses
/// anyway), and so is the checksum that covers it.
#[test]
fn gallery_file_bytes_are_pinned() {
    let params = Engine::default().params().clone();
    let g = Gallery::new(&params, CONFIG, Transform::new(3, [0x33; 32]));
    for i in 0..5u64 {
        let t = Template {
            fingerprint: params.fingerprint(),
            hand: palm_engine::Hand::Left,
            quality: 50 + i as u8,
            source: palm_engine::Source::Roi,
            mask: std::array::from_fn(|r| u32::MAX >> ((r as u64 + i) % 7)),
            planes: (0..6u32)
                .map(|p| {
                    std::array::from_fn(|r| {
                        (r as u32 + 7 * i as u32 + 1).wrapping_mul(2_654_435_761) ^ (p << 3)
                    })
                })
                .collect(),
        };
        g.insert_for(
            Owner(100 + i),
            PalmId(i * 13),
            Some(i as u16),
            &g.protect(&t).unwrap(),
        )
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("palm-index-kat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gallery.plmg");
    g.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(bytes.len(), 24 + 5 * (18 + 7 * 8 + 7 * 16 * 8) + 4);
    let mut pinned = bytes[..bytes.len() - 4].to_vec();
    pinned[8..12].fill(0);
    assert_eq!(crc32fast::hash(&pinned), 2910861401);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// A damaged gallery file (any byte changed, or cut anywhere) is refused with an error, never
    /// loaded in part and never a panic.
    #[test]
    fn a_damaged_gallery_file_is_refused(
        at in proptest::prelude::any::<proptest::sample::Index>(),
        flip in 1u8..=255,
        cut in proptest::prelude::any::<bool>(),
    ) {
        static FILE: OnceLock<Vec<u8>> = OnceLock::new();
        let bytes = FILE.get_or_init(|| {
            let dir = tempfile_dir("prop-source");
            let path = dir.join("g.plmg");
            gallery_of(12).save(&path).unwrap();
            let b = std::fs::read(&path).unwrap();
            std::fs::remove_dir_all(&dir).ok();
            b
        });
        let i = at.index(bytes.len());
        let damaged = if cut {
            bytes[..i].to_vec()
        } else {
            let mut b = bytes.clone();
            b[i] ^= flip;
            b
        };
        let dir = tempfile_dir("prop-damaged");
        let path = dir.join("g.plmg");
        std::fs::write(&path, &damaged).unwrap();
        let loaded = Gallery::load(&path, Engine::default().params(), CONFIG, transform());
        std::fs::remove_dir_all(&dir).ok();
        proptest::prop_assert!(loaded.is_err());
    }
}

/// A fresh folder for one test case (tests run in parallel).
fn tempfile_dir(what: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("palm-index-{what}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Three later captures of a synthetic palm, as the frames of one hover.
fn hover(seed: u64) -> Vec<Template> {
    let engine = Engine::default();
    (3..6)
        .map(|k| {
            let img = Identity::new(seed).render(ROI, Capture::new(k));
            engine.template(&png_bytes(&img)).unwrap()
        })
        .collect()
}

/// A hover of three frames is one decision: the enrolled person is named with the mean of the
/// frames' similarities (each from the floor), a stranger's hover names nobody, and the fused
/// score is what the frames' own searches say.
#[test]
fn a_burst_of_frames_decides_as_one() {
    let g = gallery_of(100);
    let policy = policy();
    let floor = policy.calibration.tail_start as f32;
    // Palm 6 sits in bucket 2 (a quarter of the gallery; the synthetic calibration needs a hint
    // for all 100).
    let search = Search {
        bucket: Some(2),
        ..Search::default()
    };
    let frames = hover(7);
    let burst = g.identify_burst(&frames, &search, &policy).unwrap();
    assert_eq!(burst.decision, Decision::Match(PalmId(6)));
    let expected: f32 = frames
        .iter()
        .map(|f| {
            let (ranked, _) = g.rank(f, &search).unwrap();
            ranked
                .iter()
                .find(|c| c.id == PalmId(6))
                .map_or(floor, |c| c.similarity.max(floor))
        })
        .sum::<f32>()
        / 3.0;
    assert!((burst.candidates[0].similarity - expected).abs() < 1e-5);
    assert_eq!(burst.searched, 25);
    // Palm 140 was never enrolled.
    let stranger = g.identify_burst(&hover(141), &search, &policy).unwrap();
    assert_eq!(stranger.decision, Decision::NoMatch, "{stranger:?}");
    // The later frames are compared with the first frame's people only, exactly.
    let owners = [Owner(20), Owner(6)];
    let scored = g
        .score_owners(&frames[1], &owners, &Search::default())
        .unwrap();
    let everyone = Search {
        k: 100,
        exhaustive: true,
        ..Search::default()
    };
    let (all, _) = g.rank(&frames[1], &everyone).unwrap();
    assert_eq!(scored.len(), 2);
    assert_eq!(scored[0].owner, Owner(6), "{scored:?}");
    for c in &scored {
        let full = all.iter().find(|a| a.owner == c.owner).unwrap();
        assert_eq!(c.similarity, full.similarity);
    }
    // Without a bucket every frame searches the whole gallery.
    let whole = g
        .identify_burst(&frames, &Search::default(), &policy)
        .unwrap();
    assert_eq!(whole.searched, 100);
}

/// A second hand's hover scans nothing: its frames are compared with exactly the people the
/// first hover's search ranked, with the similarities a direct comparison gives.
#[test]
fn a_second_hand_is_compared_with_the_first_hands_people_only() {
    let g = gallery_of(100);
    let search = Search::default();
    let mut ranked = g.rank_frames(&hover(141), &search).unwrap();
    assert_eq!(ranked.len(), 3);
    let mut people: Vec<Owner> = ranked[0].0.iter().map(|c| c.owner).collect();
    people.sort_unstable();
    assert_eq!(people.len(), palm_index::HOVER_CANDIDATES);
    let second = hover(7);
    g.rank_more(&mut ranked, &second, &search).unwrap();
    assert_eq!(ranked.len(), 6);
    // One list per frame (best-quality frame first), each what a direct comparison gives.
    let direct: Vec<Vec<palm_index::Candidate>> = second
        .iter()
        .map(|f| g.score_owners(f, &people, &search).unwrap())
        .collect();
    for (list, searched) in &ranked[3..] {
        assert_eq!(*searched, 100, "counted as the first search's scope");
        assert_eq!(list.len(), people.len());
        assert!(
            list.iter().all(|c| people.binary_search(&c.owner).is_ok()),
            "only the first search's people"
        );
        assert!(direct.contains(list), "{list:?}");
    }
}
