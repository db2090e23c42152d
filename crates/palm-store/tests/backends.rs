//! The store on both databases: SQLite always, PostgreSQL too when `PALMLINE_TEST_POSTGRES` names
//! an admin URL (`.ci/run` sets it). The same checks run on each: migrations apply once and again
//! without harm, rows are scoped to their merchant, and idempotency keys move through their
//! states (new, in flight, answered, released and taken over, purged) the same way, and every palm
//! change enters the palm feed (shard, version, tombstone, outbox) in its own transaction.

use palm_index::placement::{ShardSet, virtual_shard};
use palm_service::palm_feed::{PalmFeedStore, PalmOp};
use palm_service::store::{
    Amount, AuditRow, CaptureMethod, CardRow, Claim, ConsentRow, Currency, EventRow,
    IdempotencyStore, KeyHolder, MerchantId, MerchantRow, MerchantStore, NewPerson, PalmRow,
    PaymentId, PaymentRow, PaymentStatus, PeopleStore, PersonId, PersonRow, PrivacyStore, Store,
    TillRow,
};
use palm_store::SqlStore;

/// Every backend this run can reach, each on a fresh database (`test` names it: tests run at
/// once, each on its own).
async fn backends(dir: &std::path::Path, test: &str) -> Vec<(String, String)> {
    let mut out = vec![(
        "sqlite".to_string(),
        SqlStore::sqlite_url(&dir.join("palmline.db")),
    )];
    if let Ok(admin) = std::env::var("PALMLINE_TEST_POSTGRES") {
        let suffix = format!("store_{test}_{}", std::process::id());
        let url = palm_store::create_test_database(&admin, &suffix)
            .await
            .expect("PALMLINE_TEST_POSTGRES must reach a PostgreSQL server");
        out.push(("postgres".to_string(), url));
    }
    out
}

fn mer(id: &str) -> MerchantId {
    MerchantId::stored(id.to_string())
}

/// A manual-capture payment of merchant `mer_a` in dollars, as first written.
fn manual_payment(id: &str, till: &str, cents: i64, status: PaymentStatus) -> PaymentRow {
    PaymentRow::new(
        PaymentId::new(id),
        mer("mer_a"),
        till.into(),
        Amount::stored(cents).unwrap(),
        Currency::USD,
        CaptureMethod::Manual,
        status,
        1,
    )
}

/// The `payment.created` event written with a payment of merchant `mer_a`.
fn created(id: &str, object: &str) -> EventRow {
    EventRow {
        id: id.into(),
        merchant_id: mer("mer_a"),
        kind: "payment.created".into(),
        object_id: object.into(),
        payload: "{}".into(),
        created: 1,
    }
}

fn merchant(id: &str) -> (MerchantRow, Vec<TillRow>) {
    let m = MerchantRow {
        id: MerchantId::stored(id.to_string()),
        name: format!("shop {id}"),
        api_key_hash: format!("hash-of-key-{id}"),
        created: 1_800_000_000,
        disabled: None,
    };
    let till = TillRow {
        id: format!("till_{id}"),
        merchant_id: MerchantId::stored(id.to_string()),
        store_name: "Main Street".into(),
        name: "Till 1".into(),
        secret_hash: format!("hash-of-till-{id}"),
    };
    (m, vec![till])
}

#[tokio::test]
async fn both_backends_keep_tenants_apart_and_keys_in_order() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path(), "tenants").await {
        // Opening twice runs the migrations twice: the second finds nothing to do.
        drop(SqlStore::open(&url).await.unwrap());
        let store = SqlStore::open(&url).await.unwrap();
        assert_eq!(store.backend(), backend);
        store.ping().await.unwrap();

        for id in ["mer_a", "mer_b"] {
            let (m, tills) = merchant(id);
            store.insert_merchant(&m, &tills).await.unwrap();
        }
        let (again, tills) = merchant("mer_a");
        assert!(
            store.insert_merchant(&again, &tills).await.is_err(),
            "{backend}: a duplicate merchant is refused"
        );
        assert_eq!(store.merchant_count().await.unwrap(), 2);
        let a = store.merchant_by_key("hash-of-key-mer_a").await.unwrap();
        assert_eq!(a.map(|m| m.id.to_string()).as_deref(), Some("mer_a"));
        assert!(
            store
                .till(&mer("mer_a"), "till_mer_a")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .till(&mer("mer_b"), "till_mer_a")
                .await
                .unwrap()
                .is_none(),
            "{backend}: a till is found only under its own merchant"
        );
        assert_eq!(store.tills(&mer("mer_b")).await.unwrap().len(), 1);
        assert!(
            store
                .disable_merchant("mer_b", 1_800_000_100)
                .await
                .unwrap()
        );
        assert!(
            store
                .merchant_by_key("hash-of-key-mer_b")
                .await
                .unwrap()
                .is_none(),
            "{backend}: a disabled merchant's key no longer opens anything"
        );

        let holder = |run| KeyHolder {
            run,
            abandoned_before: 1_800_000_000 - 60,
        };
        let claim = |key, hash, run| {
            let store = &store;
            async move {
                store
                    .claim_key("scope", key, hash, 1_800_000_000, &holder(run))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(claim("k1", "h1", "run-1").await, Claim::New);
        assert_eq!(
            claim("k1", "h1", "run-1").await,
            Claim::Seen {
                request_hash: "h1".into(),
                response: None
            }
        );
        // Another run finds the key unanswered: its holder ended, so the retry takes it over.
        assert_eq!(claim("k1", "h1", "run-2").await, Claim::Resumed);
        store
            .complete_key("scope", "k1", 201, "answer")
            .await
            .unwrap();
        assert_eq!(
            claim("k1", "h1", "run-3").await,
            Claim::Seen {
                request_hash: "h1".into(),
                response: Some((201, "answer".into()))
            }
        );
        assert_eq!(claim("k2", "h2", "run-1").await, Claim::New);
        store.release_key("scope", "k2").await.unwrap();
        assert_eq!(claim("k2", "h2", "run-1").await, Claim::Resumed);
        assert_eq!(store.purge_keys(1_800_000_001).await.unwrap(), 2);
        assert_eq!(claim("k1", "h1", "run-4").await, Claim::New, "{backend}");
    }
}

mod trips {
    use super::*;
    use palm_service::store::{
        EntryStore, GateRow, NewWalkOut, PaymentStore, VenueRow, WalkOutRow,
    };
    use palm_service::trip_store::{
        EventAdded, ItemEventRow, ItemKind, TripRow, TripState, TripStore,
    };

    fn hold(id: &str) -> PaymentRow {
        PaymentRow {
            person_id: Some(PersonId::new("per_1")),
            ..manual_payment(id, "till_walk", 5000, PaymentStatus::RequiresConfirmation)
        }
    }

    fn trip(id: &str, payment: &str) -> TripRow {
        TripRow {
            id: id.into(),
            merchant_id: mer("mer_a"),
            venue_id: "ven_walk".into(),
            gate_id: "gate_walk".into(),
            person_id: Some(PersonId::new("per_1")),
            party_size: 1,
            status: TripState::Opening,
            payment_id: PaymentId::new(payment),
            currency: Currency::USD,
            hold: Amount::stored(5000).unwrap(),
            tax_rate_bps: 0,
            subtotal: Amount::ZERO,
            tax: Amount::ZERO,
            total: Amount::ZERO,
            charged: Amount::ZERO,
            opened: 1,
            closed: None,
            closed_by: None,
            decline_code: None,
            updated: 1,
        }
    }

    fn item(id: &str) -> ItemEventRow {
        ItemEventRow {
            trip_id: "trip_1".into(),
            event_id: id.into(),
            kind: ItemKind::Take,
            product: "cola".into(),
            name: "Cola".into(),
            quantity: 2,
            unit_price: Amount::stored(199).unwrap(),
            confidence: 0.875,
            occurred_ms: 1000,
            received: 2,
        }
    }

    #[tokio::test]
    async fn both_backends_keep_one_live_trip_and_close_the_basket_at_exit() {
        let dir = tempfile::tempdir().unwrap();
        for (backend, url) in backends(dir.path(), "trips").await {
            let store = SqlStore::open(&url).await.unwrap();
            let (m, tills) = merchant("mer_a");
            store.insert_merchant(&m, &tills).await.unwrap();
            let venue = VenueRow {
                id: "ven_walk".into(),
                merchant_id: mer("mer_a"),
                name: "Corner".into(),
                created: 1,
            };
            let gate = GateRow {
                id: "gate_walk".into(),
                venue_id: venue.id.clone(),
                merchant_id: mer("mer_a"),
                name: "Door".into(),
                age_restricted: false,
                secret_hash: "hash-of-gate".into(),
            };
            let walk_out = NewWalkOut {
                settings: WalkOutRow {
                    venue_id: venue.id.clone(),
                    merchant_id: mer("mer_a"),
                    till_id: "till_walk".into(),
                    currency: Currency::USD,
                    hold: Amount::stored(5000).unwrap(),
                    tax_rate_bps: 825,
                },
                till: TillRow {
                    id: "till_walk".into(),
                    merchant_id: mer("mer_a"),
                    store_name: "Corner".into(),
                    name: "walk-out".into(),
                    secret_hash: "hash-of-walk-out-till".into(),
                },
            };
            store
                .insert_venue(&venue, &[gate], Some(&walk_out))
                .await
                .unwrap();
            let settings = store.walk_out(&mer("mer_a"), "ven_walk").await.unwrap();
            assert_eq!(settings, Some(walk_out.settings.clone()), "{backend}");
            assert_eq!(
                store.walk_out(&mer("mer_b"), "ven_walk").await.unwrap(),
                None
            );

            store
                .insert_trip(
                    &trip("trip_1", "pay_1"),
                    &hold("pay_1"),
                    &created("evt_1", "pay_1"),
                )
                .await
                .unwrap();
            // A second live trip of the same person at the same store: refused, nothing written.
            let twice = store
                .insert_trip(
                    &trip("trip_2", "pay_2"),
                    &hold("pay_2"),
                    &created("evt_2", "pay_2"),
                )
                .await;
            assert!(
                matches!(&twice, Err(palm_service::StoreError::Duplicate(r)) if r == "one_live_trip"),
                "{backend}: {twice:?}"
            );
            assert!(
                store
                    .payment(&mer("mer_a"), &PaymentId::new("pay_2"))
                    .await
                    .unwrap()
                    .is_none(),
                "{backend}"
            );

            // Events only while open; a resend finds the first.
            assert_eq!(
                store.add_item_event(&item("e1")).await.unwrap(),
                EventAdded::TripNotOpen
            );
            let mut open = trip("trip_1", "pay_1");
            open.status = TripState::Open;
            assert!(
                store
                    .update_trip(&open, TripState::Opening, None)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .update_trip(&open, TripState::Opening, None)
                    .await
                    .unwrap()
            );
            assert_eq!(
                store.add_item_event(&item("e1")).await.unwrap(),
                EventAdded::Added
            );
            let mut other = item("e1");
            other.quantity = 9;
            assert_eq!(
                store.add_item_event(&other).await.unwrap(),
                EventAdded::Duplicate(item("e1")),
                "{backend}"
            );
            let mut closing = open.clone();
            closing.status = TripState::Completing;
            assert!(
                store
                    .update_trip(&closing, TripState::Open, None)
                    .await
                    .unwrap()
            );
            assert_eq!(
                store.add_item_event(&item("e2")).await.unwrap(),
                EventAdded::TripNotOpen
            );
            assert_eq!(store.item_events("trip_1").await.unwrap(), vec![item("e1")]);
            // Once it is no longer live, the person may open another.
            store
                .insert_trip(
                    &trip("trip_2", "pay_2"),
                    &hold("pay_2"),
                    &created("evt_2", "pay_2"),
                )
                .await
                .unwrap();
            assert_eq!(
                store
                    .live_trips_of(&PersonId::new("per_1"))
                    .await
                    .unwrap()
                    .len(),
                2,
                "{backend}"
            );
        }
    }
}

mod payments {
    use super::*;
    use palm_service::store::{Authorisation, PaymentState, PaymentStore};

    fn payment(id: &str) -> PaymentRow {
        manual_payment(id, "till_mer_a", 1250, PaymentStatus::RequiresPalm)
    }

    /// A payment's status is written and read back with what its state records (the attempt's
    /// key, the charge reference, the decline code); a row whose values do not fit its state
    /// (an authorisation without its charge reference) is refused, never read as a payment
    /// that could be captured with an empty reference.
    #[tokio::test]
    async fn both_backends_keep_what_each_payment_state_records() {
        let dir = tempfile::tempdir().unwrap();
        for (backend, url) in backends(dir.path(), "payments").await {
            let store = SqlStore::open(&url).await.unwrap();
            let (m, tills) = merchant("mer_a");
            store.insert_merchant(&m, &tills).await.unwrap();
            let granted = Authorisation {
                attempt_key: "pay_1:authorize".into(),
                charge_ref: "ch_1".into(),
            };
            let mut p = payment("pay_1");
            store
                .insert_payment(&p, &created("evt_1", "pay_1"), None)
                .await
                .unwrap();
            for next in [
                PaymentStatus::Processing {
                    attempt_key: granted.attempt_key.clone(),
                },
                PaymentStatus::RequiresCapture(granted.clone()),
                PaymentStatus::Canceled(Some(granted.clone())),
            ] {
                let from = p.status.state();
                p.status = next;
                assert!(store.update_payment(&p, from, None, &[]).await.unwrap());
                let back = store
                    .payment(&mer("mer_a"), &PaymentId::new("pay_1"))
                    .await
                    .unwrap();
                assert_eq!(back.as_ref(), Some(&p), "{backend}");
            }

            let mut failed = payment("pay_2");
            store
                .insert_payment(&failed, &created("evt_2", "pay_2"), None)
                .await
                .unwrap();
            failed.status = PaymentStatus::Failed {
                attempt_key: "pay_2:authorize".into(),
                decline_code: "insufficient_funds".into(),
            };
            assert!(
                store
                    .update_payment(&failed, PaymentState::RequiresPalm, None, &[])
                    .await
                    .unwrap()
            );
            let back = store
                .payment(&mer("mer_a"), &PaymentId::new("pay_2"))
                .await
                .unwrap();
            assert_eq!(back.map(|p| p.status), Some(failed.status), "{backend}");

            // An authorised payment whose charge reference went missing.
            sqlx::query("UPDATE payments SET status = 'requires_capture', charge_ref = NULL WHERE id = 'pay_2'")
                .execute(store.pool())
                .await
                .unwrap();
            assert!(
                store
                    .payment(&mer("mer_a"), &PaymentId::new("pay_2"))
                    .await
                    .is_err(),
                "{backend}: a requires_capture payment without its charge reference is refused"
            );
        }
    }
}

/// A person with one palm per hand, as a sign-up writes them.
fn signed_up(person: &str, palm_ids: [i64; 2], at: i64) -> NewPerson {
    let id = PersonId::new(person);
    NewPerson {
        person: PersonRow {
            id: id.clone(),
            phone_sealed: vec![1, 2, 3],
            phone_fingerprint: format!("fp-{person}"),
            phone_last4: "1234".into(),
            wrapped_key: vec![4, 5, 6],
            default_card: None,
            created: at,
            last_used: at,
            pending_since: None,
        },
        consent: ConsentRow {
            id: format!("con_{person}"),
            person_id: id.clone(),
            text_version: "1".into(),
            accepted_at: at,
        },
        palms: palm_ids
            .iter()
            .zip(["left", "right"])
            .map(|(palm, hand)| PalmRow {
                id: *palm,
                person_id: id.clone(),
                hand: hand.into(),
                template_sealed: vec![*palm as u8; 8],
                created: at,
            })
            .collect(),
        card: CardRow {
            id: format!("card_{person}"),
            person_id: id,
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
            number_sealed: vec![7],
            holder_sealed: vec![8],
            fingerprint: format!("card-fp-{person}"),
            created: at,
        },
    }
}

/// What the feed holds, as (palm, version, op) in outbox order.
async fn feed(store: &SqlStore) -> Vec<(i64, i64, PalmOp)> {
    let changes = store.unpublished_palm_changes(100).await.unwrap();
    for c in &changes {
        assert_eq!(c.shard, virtual_shard(c.palm_id as u64), "placed by id");
        assert_eq!(c.message_id(), format!("{}:{}", c.palm_id, c.version));
    }
    changes
        .iter()
        .map(|c| (c.palm_id, c.version, c.op))
        .collect()
}

#[tokio::test]
async fn every_palm_change_enters_the_feed_with_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path(), "palm_feed").await {
        let store = SqlStore::open(&url).await.unwrap();
        let (ann, bob) = (PersonId::new("per_ann"), PersonId::new("per_bob"));
        store
            .insert_person(&signed_up("per_ann", [11, 12], 100))
            .await
            .unwrap();
        store
            .insert_person(&signed_up("per_bob", [21, 22], 100))
            .await
            .unwrap();
        // A sign-up refused by the database (the same palm id again) leaves no change behind.
        assert!(
            store
                .insert_person(&signed_up("per_eve", [11, 31], 100))
                .await
                .is_err()
        );
        use PalmOp::{Delete, Upsert};
        let enrolled = vec![
            (11, 1, Upsert),
            (12, 1, Upsert),
            (21, 1, Upsert),
            (22, 1, Upsert),
        ];
        assert_eq!(feed(&store).await, enrolled, "{backend}");

        // A renewed template raises the palm's version; a stale compare-and-set changes nothing.
        assert!(
            store
                .replace_palm_template(11, &[11; 8], &[99; 8], 200)
                .await
                .unwrap()
        );
        assert!(
            !store
                .replace_palm_template(11, &[11; 8], &[98; 8], 200)
                .await
                .unwrap()
        );
        // A new phone moves ann's palms to another search bucket: each palm's version rises.
        let mut row = store.person(&ann).await.unwrap().unwrap();
        row.phone_last4 = "9999".into();
        store.update_phone(&row, 250).await.unwrap();
        let named = |palm| {
            let store = &store;
            async move { store.person_of_palm(palm).await.unwrap().map(|p| p.id) }
        };
        assert_eq!(named(12).await, Some(ann.clone()), "{backend}");
        // A deletion waiting for a payment tombstones the palms at once (a match on them names
        // no one from then on) ...
        store.mark_deletion_pending(&ann, 300).await.unwrap();
        assert_eq!(named(12).await, None, "{backend}");
        assert_eq!(named(21).await, Some(bob.clone()), "{backend}");
        // ... and finishing it records nothing more for them; bob's palms leave with his row.
        let audit = |p: &PersonId| AuditRow {
            id: format!("aud_{p}"),
            person_id: p.clone(),
            actor: "test".into(),
            purpose: "deletion".into(),
            created: 400,
        };
        assert_eq!(
            store.delete_person(&ann, &audit(&ann)).await.unwrap().len(),
            2
        );
        assert_eq!(
            store.delete_person(&bob, &audit(&bob)).await.unwrap().len(),
            2
        );
        let mut expected = enrolled.clone();
        expected.extend([(11, 2, Upsert), (11, 3, Upsert), (12, 2, Upsert)]);
        expected.extend([(11, 4, Delete), (12, 3, Delete)]);
        expected.extend([(21, 2, Delete), (22, 2, Delete)]);
        assert_eq!(feed(&store).await, expected, "{backend}");

        // The relay marks what it published; only published rows are pruned unless asked.
        let first: Vec<i64> = store
            .unpublished_palm_changes(4)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(
            store
                .mark_palm_changes_published(&first, 500)
                .await
                .unwrap(),
            4
        );
        assert_eq!(
            store
                .mark_palm_changes_published(&first, 501)
                .await
                .unwrap(),
            0,
            "once"
        );
        assert_eq!(feed(&store).await, expected[4..].to_vec(), "{backend}");
        assert_eq!(store.prune_palm_changes(150, false).await.unwrap(), 4);
        assert_eq!(store.prune_palm_changes(150, false).await.unwrap(), 0);
        assert_eq!(store.prune_palm_changes(1_000, true).await.unwrap(), 7);
        assert!(feed(&store).await.is_empty());
    }
}

#[tokio::test]
async fn matchers_load_live_palms_of_their_shards_only() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path(), "placed_palms").await {
        let store = SqlStore::open(&url).await.unwrap();
        let people: Vec<(String, [i64; 2])> = (0..20)
            .map(|i| (format!("per_{i}"), [1_000 + 2 * i, 1_001 + 2 * i]))
            .collect();
        for (person, palms) in &people {
            store
                .insert_person(&signed_up(person, *palms, 100))
                .await
                .unwrap();
        }
        store
            .mark_deletion_pending(&PersonId::new("per_0"), 200)
            .await
            .unwrap();
        let mut seen = Vec::new();
        for shard in ShardSet::all().shards() {
            // Read in pages of two, the way a matcher walks millions, shard by shard.
            let mut after = i64::MIN;
            let mut last_id = i64::MIN;
            loop {
                let page = store.placed_palms_page(shard, after, 2).await.unwrap();
                let Some(last) = page.last() else { break };
                after = last.owned.palm.id;
                for p in page {
                    assert_eq!(p.shard, shard, "{backend}: palm {}", p.owned.palm.id);
                    assert_eq!(p.shard, virtual_shard(p.owned.palm.id as u64));
                    assert!(p.owned.palm.id > last_id, "{backend}: ascending ids");
                    last_id = p.owned.palm.id;
                    assert_eq!(p.version, 1);
                    seen.push(p.owned.palm.id);
                }
            }
        }
        seen.sort();
        let live: Vec<i64> = (1_002..1_040).collect();
        assert_eq!(
            seen, live,
            "{backend}: each live palm once; the deleted person's none"
        );
    }
}

#[tokio::test]
async fn palms_from_before_the_feed_are_placed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path(), "placement").await {
        let store = SqlStore::open(&url).await.unwrap();
        store
            .insert_person(&signed_up("per_old", [7, 8], 100))
            .await
            .unwrap();
        // As the 0015 migration leaves a palm written by an older release.
        sqlx::query("UPDATE palms SET shard = -1")
            .execute(store.pool())
            .await
            .unwrap();
        drop(store);
        let store = SqlStore::open(&url).await.unwrap();
        let mut page = Vec::new();
        for shard in ShardSet::all().shards() {
            page.extend(store.placed_palms_page(shard, i64::MIN, 10).await.unwrap());
        }
        page.sort_by_key(|p| p.owned.palm.id);
        let placed: Vec<(i64, u16)> = page.iter().map(|p| (p.owned.palm.id, p.shard)).collect();
        assert_eq!(
            placed,
            vec![(7, virtual_shard(7)), (8, virtual_shard(8))],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_bulk_import_writes_every_person_or_none() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path(), "bulk_import").await {
        let store = SqlStore::open(&url).await.unwrap();
        let batch: Vec<NewPerson> = (0..50)
            .map(|i| signed_up(&format!("per_b{i}"), [100 + 2 * i, 101 + 2 * i], 100))
            .collect();
        store.insert_people(&batch).await.unwrap();
        for i in [0, 49] {
            let palm = 101 + 2 * i;
            let owner = store.person_of_palm(palm).await.unwrap().map(|p| p.id);
            assert_eq!(owner, Some(PersonId::new(format!("per_b{i}"))), "{backend}");
        }
        assert_eq!(
            feed(&store).await.len(),
            100,
            "{backend}: a feed row per palm"
        );
        // A batch with one person whose palm is taken is refused whole: the others are absent.
        let refused = vec![
            signed_up("per_c0", [300, 301], 100),
            signed_up("per_c1", [302, 100], 100),
        ];
        assert!(store.insert_people(&refused).await.is_err(), "{backend}");
        assert!(
            store
                .person(&PersonId::new("per_c0"))
                .await
                .unwrap()
                .is_none(),
            "{backend}: the batch's first person was kept"
        );
        assert_eq!(feed(&store).await.len(), 100, "{backend}");
    }
}
