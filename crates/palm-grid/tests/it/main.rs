//! The palm grid on one machine: a real nats-server with JetStream on loopback (started per
//! test in a temporary directory), the store on SQLite, and on PostgreSQL too when
//! `PALMLINE_TEST_POSTGRES` names an admin URL. The suites run when `nats-server` is on the PATH;
//! `.ci/run` installs it and sets `PALMLINE_TEST_NATS=1`, which makes its absence a failure.

mod replication;
mod search;

use palm_service::store::{
    AuditRow, CardRow, ConsentRow, NewPerson, PalmRow, PersonId, PersonRow, PrivacyStore,
};
use palm_store::SqlStore;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A nats-server with JetStream in a temporary directory, killed on drop.
pub struct Nats {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn nats() -> Option<Nats> {
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

/// The store on every database this run reaches; `test` names the PostgreSQL database.
pub async fn stores(dir: &std::path::Path, test: &str) -> Vec<(String, Arc<SqlStore>)> {
    let mut urls = vec![(
        "sqlite".to_string(),
        SqlStore::sqlite_url(&dir.join(format!("{test}.db"))),
    )];
    if let Ok(admin) = std::env::var("PALMLINE_TEST_POSTGRES") {
        let suffix = format!("grid_{test}_{}", std::process::id());
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
pub fn person(n: i64) -> NewPerson {
    person_with(n, |palm| palm.to_le_bytes().to_vec())
}

/// Person `n` as [`person`] makes them, with `template(palm id)` as each palm's stored bytes.
pub fn person_with(n: i64, template: impl Fn(i64) -> Vec<u8>) -> NewPerson {
    let id = PersonId::new(format!("per_{n}"));
    let row = |hand: &str, palm: i64| PalmRow {
        id: palm,
        person_id: id.clone(),
        hand: hand.into(),
        template_sealed: template(palm),
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

pub async fn delete(store: &SqlStore, n: i64) {
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
