//! Replication: a relay and two shard sets of two replicas each follow enrolment, renewal,
//! deletion, republishing and a replica's restart.

use crate::{delete, nats, person, stores};
use palm_grid::relay::Relay;
use palm_grid::replica::{Holder, Replica};
use palm_index::placement::{ShardSet, virtual_shard};
use palm_service::palm_feed::{PalmFeedStore, PlacedPalm};
use palm_service::store::{PeopleStore, PersonId, PrivacyStore};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A holder that keeps each palm's version and sealed template, to compare with the database.
#[derive(Default)]
struct Kept(Mutex<BTreeMap<i64, (i64, Vec<u8>)>>);

impl Holder for Kept {
    fn hold(&self, palm: &PlacedPalm) -> Result<(), palm_grid::GridError> {
        let entry = (palm.version, palm.owned.palm.template_sealed.clone());
        self.0.lock().unwrap().insert(palm.owned.palm.id, entry);
        Ok(())
    }
    fn release(&self, palm_id: i64) {
        self.0.lock().unwrap().remove(&palm_id);
    }
}

/// A replica of `set` with its own holder.
async fn replica(
    feed: &Arc<dyn PalmFeedStore>,
    js: &async_nats::jetstream::Context,
    set: &ShardSet,
) -> (Replica, Arc<Kept>) {
    let kept = Arc::new(Kept::default());
    let r = Replica::start(feed.clone(), js, set.clone(), kept.clone())
        .await
        .unwrap();
    (r, kept)
}

/// Waits until every replica has applied the whole stream.
pub async fn settled(js: &async_nats::jetstream::Context, replicas: &[&Replica]) {
    let mut stream = palm_grid::palm_stream(js).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let deadline = Instant::now() + Duration::from_secs(20);
    while replicas.iter().any(|r| r.applied_through() < last) {
        assert!(
            Instant::now() < deadline,
            "replicas did not reach stream sequence {last}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The live palm ids of `people` that fall in `set`.
fn expected(people: impl IntoIterator<Item = i64>, set: &ShardSet) -> Vec<i64> {
    let mut ids: Vec<i64> = people
        .into_iter()
        .flat_map(|n| [10 * n, 10 * n + 1])
        .filter(|p| set.contains(virtual_shard(*p as u64)))
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn replicas_follow_enrolment_renewal_deletion_and_restart() {
    let Some(server) = nats() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores(dir.path(), "replication").await {
        let js = palm_grid::connect(server.url()).await.unwrap();
        // A fresh stream per backend: the same palm ids are written to each database.
        let _ = js.delete_stream(palm_grid::STREAM).await;
        let feed: Arc<dyn PalmFeedStore> = store.clone();
        let relay = Relay::new(feed.clone(), js.clone()).await.unwrap();
        for n in 1..=20 {
            store.insert_person(&person(n)).await.unwrap();
        }
        relay.catch_up(10).await.unwrap();

        let (low, high) = (
            ShardSet::parse("0-127").unwrap(),
            ShardSet::parse("128-255").unwrap(),
        );
        let (a1, a1_kept) = replica(&feed, &js, &low).await;
        let (a2, _) = replica(&feed, &js, &low).await;
        let (b1, b1_kept) = replica(&feed, &js, &high).await;
        let (b2, _) = replica(&feed, &js, &high).await;
        let live = |r: &Replica| r.read(|c| c.live_ids());
        assert_eq!(
            live(&a1),
            expected(1..=20, &low),
            "{backend}: loaded from the database"
        );
        assert_eq!(live(&b1), expected(1..=20, &high), "{backend}");
        assert!(
            !live(&a1).is_empty() && !live(&b1).is_empty(),
            "both sets hold palms"
        );

        // Enrolment after start reaches the right set; a deletion leaves every replica.
        for n in 21..=30 {
            store.insert_person(&person(n)).await.unwrap();
        }
        delete(&store, 3).await;
        store
            .mark_deletion_pending(&PersonId::new("per_4"), 2)
            .await
            .unwrap();
        assert!(
            store
                .replace_palm_template(50, &50i64.to_le_bytes(), b"renewed", 3)
                .await
                .unwrap()
        );
        relay.catch_up(20).await.unwrap();
        settled(&js, &[&a1, &a2, &b1, &b2]).await;
        let now_live: Vec<i64> = (1..=30).filter(|n| *n != 3 && *n != 4).collect();
        for (r, set) in [(&a1, &low), (&a2, &low), (&b1, &high), (&b2, &high)] {
            assert_eq!(
                live(r),
                expected(now_live.clone(), set),
                "{backend}: set {set}"
            );
        }
        let renewed = if low.holds_palm(50) {
            &a1_kept
        } else {
            &b1_kept
        };
        let template = renewed.0.lock().unwrap().get(&50).cloned();
        assert_eq!(
            template,
            Some((2, b"renewed".to_vec())),
            "{backend}: the renewed template"
        );

        // A relay that publishes the same rows again (it crashed before marking them) changes
        // nothing: the stream drops the duplicates.
        let mut stream = palm_grid::palm_stream(&js).await.unwrap();
        let before = stream.info().await.unwrap().state.last_sequence;
        sqlx::query("UPDATE palm_outbox SET published = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(relay.catch_up(30).await.unwrap() > 0);
        assert_eq!(
            stream.info().await.unwrap().state.last_sequence,
            before,
            "{backend}: deduplicated"
        );

        // A replica that was down while palms changed catches up on restart.
        a2.stop();
        for n in 31..=40 {
            store.insert_person(&person(n)).await.unwrap();
        }
        delete(&store, 21).await;
        relay.catch_up(40).await.unwrap();
        let (a2, a2_kept) = replica(&feed, &js, &low).await;
        settled(&js, &[&a1, &a2, &b1, &b2]).await;
        let now_live: Vec<i64> = (1..=40).filter(|n| ![3, 4, 21].contains(n)).collect();
        assert_eq!(
            live(&a2),
            expected(now_live.clone(), &low),
            "{backend}: restarted replica"
        );
        assert_eq!(live(&a1), live(&a2), "{backend}");
        let held = |k: &Kept| k.0.lock().unwrap().keys().copied().collect::<Vec<i64>>();
        assert_eq!(
            held(&a2_kept),
            live(&a2),
            "{backend}: the holder has what the copy lists"
        );
        assert_eq!(held(&a1_kept), held(&a2_kept), "{backend}");
        assert_eq!(live(&b2), expected(now_live, &high), "{backend}");
        for r in [a1, a2, b1, b2] {
            r.stop();
        }
    }
}
