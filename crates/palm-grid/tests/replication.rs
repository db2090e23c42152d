//! Replication on one machine: a real nats-server with JetStream on loopback, the store on
//! SQLite (and PostgreSQL when `PALMLINE_TEST_POSTGRES` names an admin URL), a relay, and two
//! shard sets of two replicas each. Runs when `nats-server` is on the PATH; `.ci/run` installs
//! it and sets `PALMLINE_TEST_NATS=1`, which makes its absence a failure.

use palm_grid::relay::Relay;
use palm_grid::replica::Replica;
use palm_index::placement::{ShardSet, virtual_shard};
use palm_service::palm_feed::PalmFeedStore;
use palm_service::store::{
    AuditRow, CardRow, ConsentRow, NewPerson, PalmRow, PeopleStore, PersonId, PersonRow,
    PrivacyStore,
};
use palm_store::SqlStore;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A nats-server with JetStream in a temporary directory, killed on drop.
struct Nats {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn nats() -> Option<Nats> {
    let required = std::env::var("PALMLINE_TEST_NATS").is_ok();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let spawned = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if !required => {
            eprintln!("skipped: nats-server is not installed ({e}); .ci/run installs it");
            return None;
        }
        Err(e) => panic!("PALMLINE_TEST_NATS is set but nats-server cannot start: {e}"),
    };
    let server = Nats {
        child,
        url: format!("nats://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nats-server did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(server)
}

async fn stores(dir: &std::path::Path) -> Vec<(String, Arc<SqlStore>)> {
    let mut urls = vec![(
        "sqlite".to_string(),
        SqlStore::sqlite_url(&dir.join("grid.db")),
    )];
    if let Ok(admin) = std::env::var("PALMLINE_TEST_POSTGRES") {
        let suffix = format!("grid_{}", std::process::id());
        let url = palm_store::create_test_database(&admin, &suffix)
            .await
            .unwrap();
        urls.push(("postgres".to_string(), url));
    }
    let mut out = Vec::new();
    for (backend, url) in urls {
        out.push((backend, Arc::new(SqlStore::open(&url).await.unwrap())));
    }
    out
}

/// Person `n` with palms `10n` and `10n + 1`: sign-up rows with placeholder sealed bytes (the
/// replicas carry them without opening them).
fn person(n: i64) -> NewPerson {
    let id = PersonId::new(format!("per_{n}"));
    let row = |hand: &str, palm: i64| PalmRow {
        id: palm,
        person_id: id.clone(),
        hand: hand.into(),
        template_sealed: palm.to_le_bytes().to_vec(),
        created: 1,
    };
    NewPerson {
        palms: vec![row("left", 10 * n), row("right", 10 * n + 1)],
        consent: ConsentRow {
            id: format!("con_{n}"),
            person_id: id.clone(),
            text_version: "1".into(),
            accepted_at: 1,
        },
        card: CardRow {
            id: format!("card_{n}"),
            person_id: id.clone(),
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 1,
            exp_year: 2031,
            number_sealed: vec![],
            holder_sealed: vec![],
            fingerprint: format!("cfp_{n}"),
            created: 1,
        },
        person: PersonRow {
            id,
            phone_sealed: vec![],
            phone_fingerprint: format!("pfp_{n}"),
            phone_last4: "0000".into(),
            wrapped_key: vec![],
            default_card: None,
            created: 1,
            last_used: 1,
            pending_since: None,
        },
    }
}

async fn delete(store: &SqlStore, n: i64) {
    let id = PersonId::new(format!("per_{n}"));
    let audit = AuditRow {
        id: format!("aud_{n}"),
        person_id: id.clone(),
        actor: "test".into(),
        purpose: "deletion".into(),
        created: 2,
    };
    store.delete_person(&id, &audit).await.unwrap();
}

/// Waits until every replica has applied the whole stream.
async fn settled(js: &async_nats::jetstream::Context, replicas: &[&Replica]) {
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
    let Some(server) = nats().await else { return };
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores(dir.path()).await {
        let js = palm_grid::connect(&server.url).await.unwrap();
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
        let a1 = Replica::start(feed.clone(), &js, low.clone())
            .await
            .unwrap();
        let mut a2 = Replica::start(feed.clone(), &js, low.clone())
            .await
            .unwrap();
        let b1 = Replica::start(feed.clone(), &js, high.clone())
            .await
            .unwrap();
        let b2 = Replica::start(feed.clone(), &js, high.clone())
            .await
            .unwrap();
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
        let renewed = if low.holds_palm(50) { &a1 } else { &b1 };
        let template = renewed.read(|c| {
            c.palm(50)
                .map(|p| (p.version, p.owned.palm.template_sealed.clone()))
        });
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
        a2 = Replica::start(feed.clone(), &js, low.clone())
            .await
            .unwrap();
        settled(&js, &[&a1, &a2, &b1, &b2]).await;
        let now_live: Vec<i64> = (1..=40).filter(|n| ![3, 4, 21].contains(n)).collect();
        assert_eq!(
            live(&a2),
            expected(now_live.clone(), &low),
            "{backend}: restarted replica"
        );
        assert_eq!(live(&a1), live(&a2), "{backend}");
        assert_eq!(live(&b2), expected(now_live, &high), "{backend}");
        for r in [a1, a2, b1, b2] {
            r.stop();
        }
    }
}
