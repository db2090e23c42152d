//! Search by scatter-gather: two shard sets of two matcher replicas each, a gateway that merges
//! their answers. It must find mates across sets with the top-1 of one exhaustive search over
//! everyone, lose a deleted person everywhere, decide the same with a replica killed, and answer
//! `try_again` (never a person) when a whole set is gone; and rank a hover of each hand exactly
//! as one index holding everyone ranks it.

use crate::replication::settled;
use crate::{delete, nats, person_with, stores};
use palm_engine::protect::Transform;
use palm_engine::{Engine, Template};
use palm_grid::gateway::{Gateway, GridDecision, GridOutcome};
use palm_grid::matcher::{IndexHolder, Matcher};
use palm_grid::relay::Relay;
use palm_index::placement::ShardSet;
use palm_index::{
    Calibration, Candidate, Gallery, IndexConfig, PalmId, Policy, ProtectedPalm, Search,
};
use palm_service::palm_feed::PalmFeedStore;
use palm_service::store::{PeopleStore, PersonId, PrivacyStore};
use palm_service::{RemoteGallery, RemoteRanking};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use palm_vault::DataKey;
use std::sync::{Arc, OnceLock};

const PEOPLE: i64 = 40;
const CONFIG: IndexConfig = IndexConfig {
    shards: 4,
    shortlist: 40,
};

/// Two captures of each hand: person n's left hand is identity n, their right identity 100 + n.
fn captures(identity: u64) -> &'static [Template; 2] {
    static T: OnceLock<Vec<(u64, [Template; 2])>> = OnceLock::new();
    let all = T.get_or_init(|| {
        let engine = Engine::default();
        (1..=PEOPLE as u64)
            .flat_map(|n| [n, 100 + n])
            .map(|id| {
                let hand = Identity::new(id);
                let shot = |k| {
                    let png = png_bytes(&hand.render(Scene::Roi { size: 128 }, Capture::new(k)));
                    engine.template(&png).expect("synthetic palm")
                };
                (id, [shot(1), shot(2)])
            })
            .collect()
    });
    &all.iter()
        .find(|(id, _)| *id == identity)
        .expect("made above")
        .1
}

/// The identity behind a palm id (`10n` left, `10n + 1` right).
fn identity_of(palm: i64) -> u64 {
    (palm / 10) as u64 + if palm % 10 == 1 { 100 } else { 0 }
}

fn gallery() -> Gallery {
    Gallery::new(
        Engine::default().params(),
        CONFIG,
        Transform::new(1, [7; 32]),
    )
}

/// The open-set policy calibrated on these palms' own genuine and impostor scores.
fn policy() -> Policy {
    let engine = Engine::default();
    let ids: Vec<u64> = (1..=PEOPLE as u64).flat_map(|n| [n, 100 + n]).collect();
    let score = |a: &Template, b: &Template| engine.similarity(a, b).unwrap() as f64;
    let genuine: Vec<f64> = ids
        .iter()
        .map(|i| score(&captures(*i)[0], &captures(*i)[1]))
        .collect();
    let mut impostor = Vec::new();
    for (x, i) in ids.iter().enumerate() {
        for j in ids.iter().skip(x + 1).take(16) {
            impostor.push(score(&captures(*i)[0], &captures(*j)[1]));
        }
    }
    Policy::new(Calibration::fit(engine.params().fingerprint(), &genuine, &impostor).unwrap())
}

/// Signs up every person, their palms stored protected as the matchers hold them, and returns
/// one index holding everyone, each palm owned by its person as the service's own index owns
/// it: the reference a search over the sets must equal.
async fn enrol_everyone(store: &palm_store::SqlStore) -> Gallery {
    let protector = gallery();
    let stored = |palm: i64| {
        let t = &captures(identity_of(palm))[0];
        protector.protect(t).unwrap().to_bytes()
    };
    let everyone = gallery();
    for n in 1..=PEOPLE {
        store.insert_person(&person_with(n, stored)).await.unwrap();
        let owner = PersonId::new(format!("per_{n}")).owner();
        for palm in [10 * n, 10 * n + 1] {
            let p = ProtectedPalm::from_bytes(&stored(palm)).unwrap();
            everyone
                .insert_for(owner, PalmId(palm as u64), None, &p)
                .unwrap();
        }
    }
    everyone
}

async fn matcher(
    feed: &Arc<dyn PalmFeedStore>,
    url: &str,
    set: &str,
    shards: &str,
    key: &Arc<DataKey>,
) -> Matcher {
    let client = palm_grid::connect_client(url).await.unwrap();
    let opener = Box::new(|p: &palm_service::palm_feed::PlacedPalm| {
        ProtectedPalm::from_bytes(&p.owned.palm.template_sealed).map_err(|e| e.to_string())
    });
    let shards = ShardSet::parse(shards).unwrap();
    Matcher::start(
        feed.clone(),
        client,
        set,
        shards,
        IndexHolder::new(gallery(), opener),
        key.clone(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn gateway_finds_mates_across_sets_and_never_decides_on_part_of_the_gallery() {
    let Some(server) = nats() else { return };
    let policy = policy();
    let key = Arc::new(DataKey::from_secret(&[9; 32]));
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores(dir.path(), "search").await {
        let js = palm_grid::connect(server.url()).await.unwrap();
        let _ = js.delete_stream(palm_grid::STREAM).await;
        // The reference: one gallery with everyone, searched exhaustively.
        let everyone = enrol_everyone(&store).await;
        let feed: Arc<dyn PalmFeedStore> = store.clone();
        let relay = Relay::new(feed.clone(), js.clone()).await.unwrap();
        relay.catch_up(10).await.unwrap();
        let a1 = matcher(&feed, server.url(), "a", "0-127", &key).await;
        let a2 = matcher(&feed, server.url(), "a", "0-127", &key).await;
        let b1 = matcher(&feed, server.url(), "b", "128-255", &key).await;
        let b2 = matcher(&feed, server.url(), "b", "128-255", &key).await;
        assert_eq!(
            a1.palms() + b1.palms(),
            2 * PEOPLE as usize,
            "{backend}: every palm in one set"
        );
        assert!(
            a1.palms() > 0
                && b1.palms() > 0
                && a1.palms() == a2.palms()
                && b1.palms() == b2.palms()
        );

        let client = palm_grid::connect_client(server.url()).await.unwrap();
        let gateway = Gateway::new(client, vec!["a".into(), "b".into()], key.clone());
        let search = Search::default();
        let decide = |probe: &Template| {
            let (gateway, policy) = (gateway.clone(), policy.clone());
            let probe = probe.clone();
            async move { gateway.identify(&probe, &search, &policy).await.unwrap() }
        };
        let matched = |o: &GridOutcome| match o {
            GridOutcome::Decided {
                decision: GridDecision::Match { person, palm },
                ..
            } => Some((person.clone(), *palm)),
            _ => None,
        };
        let mut found = 0;
        for n in 1..=PEOPLE {
            for (palm, identity) in [(10 * n, n as u64), (10 * n + 1, 100 + n as u64)] {
                let probe = &captures(identity)[1];
                let outcome = decide(probe).await;
                let GridOutcome::Decided {
                    searched,
                    candidates,
                    ..
                } = &outcome
                else {
                    panic!("{backend}: every set answers: {outcome:?}")
                };
                assert_eq!(
                    *searched,
                    2 * PEOPLE as usize,
                    "{backend}: the whole gallery's size"
                );
                let exhaustive = everyone
                    .rank(
                        probe,
                        &Search {
                            k: 1,
                            exhaustive: true,
                            ..Search::default()
                        },
                    )
                    .unwrap()
                    .0;
                assert_eq!(
                    candidates[0].palm as u64, exhaustive[0].id.0,
                    "{backend}: top-1 as one exhaustive search"
                );
                // The decision is the one gallery's over everyone (same threshold, same
                // ranking), and a match is only ever the right person.
                let reference = everyone.identify(probe, &search, &policy).unwrap().decision;
                let expected = match reference {
                    palm_index::Decision::Match(id) => {
                        Some((format!("per_{}", id.0 / 10), id.0 as i64))
                    }
                    _ => None,
                };
                assert_eq!(
                    matched(&outcome),
                    expected,
                    "{backend}: palm {palm}: {outcome:?}"
                );
                if let Some((person, _)) = matched(&outcome) {
                    assert_eq!(person, format!("per_{n}"), "{backend}: a wrong person");
                    found += 1;
                }
            }
        }

        assert!(
            found >= 70,
            "{backend}: {found} of 80 palms named their person"
        );

        // A deletion is effective at its commit: before the relay has published it, the
        // matchers still rank the person first, and the re-check in the database says no match.
        store
            .mark_deletion_pending(&PersonId::new("per_6"), 2)
            .await
            .unwrap();
        let probe = &captures(6)[1];
        assert_eq!(
            matched(&decide(probe).await).map(|m| m.0).as_deref(),
            Some("per_6")
        );
        let checked = gateway
            .identify_checked(probe, &search, &policy, store.as_ref())
            .await
            .unwrap();
        assert!(
            matched(&checked).is_none(),
            "{backend}: re-checked: {checked:?}"
        );
        let unaffected = gateway
            .identify_checked(&captures(7)[1], &search, &policy, store.as_ref())
            .await
            .unwrap();
        assert_eq!(matched(&unaffected).map(|m| m.0).as_deref(), Some("per_7"));

        // A deleted person is found nowhere once the deletion has reached the matchers.
        delete(&store, 5).await;
        // The erasure is complete only once every matcher following the stream says it holds
        // none of the palms: before the relay publishes it, each palm sits in its set's two
        // replicas.
        let before = gateway.erased(&[50, 51]).await.unwrap();
        assert_eq!(
            (before.matchers, before.answered, before.holding),
            (4, 4, 4),
            "{backend}"
        );
        assert!(!before.complete());
        relay.catch_up(20).await.unwrap();
        settled(
            &js,
            &[a1.replica(), a2.replica(), b1.replica(), b2.replica()],
        )
        .await;
        let after = gateway.erased(&[50, 51]).await.unwrap();
        assert!(
            after.complete() && after.answered == 4,
            "{backend}: {after:?}"
        );
        for identity in [5, 105, 6, 106] {
            let outcome = decide(&captures(identity)[1]).await;
            assert!(
                matched(&outcome).is_none(),
                "{backend}: deleted, yet {outcome:?}"
            );
        }

        // One replica of each set killed: the other answers and no decision changes.
        a1.stop();
        b2.stop();
        for n in [1, 7, 23, 40] {
            let outcome = decide(&captures(n as u64)[1]).await;
            assert_eq!(
                matched(&outcome),
                Some((format!("per_{n}"), 10 * n)),
                "{backend}: after a kill"
            );
        }
        // A whole set gone: the gateway says try again and names no one.
        b1.stop();
        let outcome = decide(&captures(1)[1]).await;
        assert_eq!(
            outcome,
            GridOutcome::TryAgain {
                missing: vec!["b".into()]
            },
            "{backend}"
        );
        a2.stop();
    }
}

/// Three frames of a hand's hover (captures other than the two above).
fn hover(identity: u64) -> Vec<Template> {
    let engine = Engine::default();
    let hand = Identity::new(identity);
    (3..=5)
        .map(|k| {
            let png = png_bytes(&hand.render(Scene::Roi { size: 128 }, Capture::new(k)));
            engine.template(&png).expect("synthetic palm")
        })
        .collect()
}

/// A ranking as (palm, similarity) lists, for comparing two of them.
fn palms_and_scores(ranking: &[(Vec<Candidate>, usize)]) -> Vec<Vec<(u64, f32)>> {
    ranking
        .iter()
        .map(|(list, _)| list.iter().map(|c| (c.id.0, c.similarity)).collect())
        .collect()
}

#[tokio::test]
async fn hovers_and_second_hands_rank_over_the_sets_as_over_one_index() {
    let Some(server) = nats() else { return };
    let policy = policy();
    let key = Arc::new(DataKey::from_secret(&[9; 32]));
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = stores(dir.path(), "hovers").await.swap_remove(0);
    let js = palm_grid::connect(server.url()).await.unwrap();
    let _ = js.delete_stream(palm_grid::STREAM).await;
    let everyone = enrol_everyone(&store).await;
    let feed: Arc<dyn PalmFeedStore> = store.clone();
    Relay::new(feed.clone(), js.clone())
        .await
        .unwrap()
        .catch_up(10)
        .await
        .unwrap();
    let a = matcher(&feed, server.url(), "a", "0-127", &key).await;
    let b = matcher(&feed, server.url(), "b", "128-255", &key).await;
    assert!(a.palms() > 0 && b.palms() > 0, "both sets hold palms");
    let client = palm_grid::connect_client(server.url()).await.unwrap();
    let gateway = Gateway::new(client, vec!["a".into(), "b".into()], key.clone());
    // Exhaustive on both sides: the coarse stage's shortlist is per index, so a set (half the
    // palms) lets more through than the one index would.
    let search = Search {
        exhaustive: true,
        ..Search::default()
    };
    let remote = |frames: Vec<Template>, second: Vec<Template>| {
        let gateway = gateway.clone();
        async move {
            match RemoteGallery::rank_hover(&gateway, &frames, &second, &search)
                .await
                .unwrap()
            {
                RemoteRanking::Ranked(ranking) => ranking,
                other => panic!("every set answers: {other:?}"),
            }
        }
    };
    for n in [1u64, 2, 9, 17, 30] {
        let (left, right) = (hover(n), hover(100 + n));
        // One hand's hover: the best frame's search, then the other frames' scores.
        let reference = everyone.rank_frames(&left, &search).unwrap();
        let merged = remote(left.clone(), vec![]).await;
        assert_eq!(palms_and_scores(&merged), palms_and_scores(&reference));
        assert_eq!(merged[0].1, 2 * PEOPLE as usize, "the whole gallery's size");
        // Both hands: the right hand's palm sits in either set, the left's search in both.
        let mut reference = reference;
        everyone.rank_more(&mut reference, &right, &search).unwrap();
        let merged = remote(left, right).await;
        assert_eq!(reference.len(), 6);
        assert_eq!(palms_and_scores(&merged), palms_and_scores(&reference));
        // So the fused decision is the one index's, and it names the person.
        let fused = palm_index::fuse_ranked(&merged, &search, &policy);
        assert_eq!(
            fused.decision,
            palm_index::fuse_ranked(&reference, &search, &policy).decision
        );
        // (The palm named is the person's best scoring, of either hand.)
        assert!(
            matches!(fused.decision, palm_index::Decision::Match(PalmId(p)) if p / 10 == n),
            "person {n}: {:?}",
            fused.decision
        );
    }
    // A lost set: nothing is ranked, so nothing can be decided.
    b.stop();
    let lost = RemoteGallery::rank_hover(&gateway, &hover(1), &[], &search)
        .await
        .unwrap();
    assert!(
        matches!(&lost, RemoteRanking::Incomplete { missing } if missing == &["b".to_string()]),
        "{lost:?}"
    );
    a.stop();
}
