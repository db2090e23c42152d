//! Search by scatter-gather: two shard sets of two matcher replicas each, a gateway that merges
//! their answers. It must find mates across sets with the top-1 of one exhaustive search over
//! everyone, lose a deleted person everywhere, decide the same with a replica killed, and answer
//! `try_again` (never a person) when a whole set is gone.

use crate::replication::settled;
use crate::{delete, nats, person_with, stores};
use palm_engine::protect::Transform;
use palm_engine::{Engine, Template};
use palm_grid::gateway::{Gateway, GridDecision, GridOutcome};
use palm_grid::matcher::{IndexHolder, Matcher};
use palm_grid::relay::Relay;
use palm_index::placement::ShardSet;
use palm_index::{Calibration, Gallery, IndexConfig, PalmId, Policy, ProtectedPalm, Search};
use palm_service::palm_feed::PalmFeedStore;
use palm_service::store::{PeopleStore, PersonId, PrivacyStore};
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
        let protector = gallery();
        let stored = |palm: i64| {
            let t = &captures(identity_of(palm))[0];
            protector.protect(t).unwrap().to_bytes()
        };
        // The reference: one gallery with everyone, searched exhaustively.
        let everyone = gallery();
        for n in 1..=PEOPLE {
            store.insert_person(&person_with(n, stored)).await.unwrap();
            for palm in [10 * n, 10 * n + 1] {
                let p = ProtectedPalm::from_bytes(&stored(palm)).unwrap();
                everyone.insert(PalmId(palm as u64), None, &p).unwrap();
            }
        }
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
        relay.catch_up(20).await.unwrap();
        settled(
            &js,
            &[a1.replica(), a2.replica(), b1.replica(), b2.replica()],
        )
        .await;
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
