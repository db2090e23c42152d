//! The palm grid on one machine: a real nats-server with JetStream on loopback (started per
//! test in a temporary directory), the store on SQLite, and on PostgreSQL too when
//! `PALMLINE_TEST_POSTGRES` names an admin URL. The suites run when `nats-server` is on the PATH;
//! `.ci/run` installs it and sets `PALMLINE_TEST_NATS=1`, which makes its absence a failure.

mod replication;
mod search;

use palm_grid::local::LocalNats;
use palm_service::store::{
    AuditRow, CardRow, ConsentRow, NewPerson, PalmRow, PersonId, PersonRow, PrivacyStore,
};
use palm_store::SqlStore;
use std::sync::Arc;

/// A local nats-server, or `None` (the suite is skipped) when it is not installed and
/// `PALMLINE_TEST_NATS` does not require it.
pub fn nats() -> Option<LocalNats> {
    match LocalNats::start() {
        Ok(server) => Some(server),
        Err(e) if std::env::var("PALMLINE_TEST_NATS").is_err() => {
            eprintln!("skipped: {e}; .ci/run installs nats-server");
            None
        }
        Err(e) => panic!("PALMLINE_TEST_NATS is set: {e}"),
    }
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
