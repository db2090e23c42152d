//! Template protection at rest: a stored palm opens (with its owner's data key) only to a
//! protected template, never a plain one; renewing the transform re-protects every palm at the
//! next start (plain rows from before protection too), destroys the old transform key, and
//! people keep paying by palm.

use crate::common::*;
use palm_engine::protect::Transform;
use palm_index::ProtectedPalm;
use palm_server::keys::DataDirKeys;
use palm_service::KeySource;
use palm_service::store::PalmRow;
use palm_service::store::PersonId;
use palm_vault::WrappedKey;

/// The decrypted stored bytes of a person's only palm, and its row.
async fn stored_palm(app: &TestApp, person: &str) -> (Vec<u8>, PalmRow) {
    let (keys, _) = DataDirKeys::open(&app.config.data_dir).unwrap();
    let owner = app
        .store()
        .person(&PersonId::new(person))
        .await
        .unwrap()
        .unwrap();
    let data_key = keys
        .load()
        .unwrap()
        .unwrap(&WrappedKey(owner.wrapped_key))
        .unwrap();
    let palm = app
        .store()
        .palms_of(&PersonId::new(person))
        .await
        .unwrap()
        .remove(0);
    let bytes = data_key
        .open(
            &palm.template_sealed,
            &palm_service::context("template", &palm.id.to_string()),
        )
        .unwrap();
    (bytes, palm)
}

fn transform_key(app: &TestApp, id: u32) -> Option<Transform> {
    let path = app.config.data_dir.join(format!("keys/transform-{id}.key"));
    path.exists()
        .then(|| Transform::new(id, palm_vault::load_or_create_key(&path).unwrap()))
}

#[tokio::test]
async fn palms_are_stored_protected_and_renewal_reprotects_them() {
    let app = spawn().await;
    let a = app.sign_up(71, "+15550100071", &visa(71)).await;
    let b = app.sign_up(72, "+15550100072", &visa(72)).await;
    assert_eq!((a.status, b.status), (201, 201), "{} {}", a.body, b.body);
    let (pa, pb) = (
        a.body["person"]["id"].as_str().unwrap().to_string(),
        b.body["person"]["id"].as_str().unwrap().to_string(),
    );

    let (bytes, _) = stored_palm(&app, &pa).await;
    let stored = ProtectedPalm::from_bytes(&bytes).expect("stored protected");
    assert_eq!(stored.transform(), 1);
    assert!(!bytes.starts_with(b"PLMT"), "a plain template at rest");
    let first = transform_key(&app, 1).expect("transform key generated on first run");
    let mode = std::fs::metadata(app.config.data_dir.join("keys/transform-1.key"))
        .unwrap()
        .permissions();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let _ = mode;
    // The database file, and SQLite's -wal and -shm beside it, are the owner's only.
    if let Some(db) = app.config.database_url().strip_prefix("sqlite://") {
        let db = db.split('?').next().unwrap().to_string();
        let mut seen = 0;
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(meta) = std::fs::metadata(format!("{db}{suffix}")) {
                seen += 1;
                #[cfg(unix)]
                assert_eq!(
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
                    0o600,
                    "{db}{suffix}"
                );
                let _ = meta;
            }
        }
        assert!(seen >= 2, "the database and its write-ahead log exist");
    }

    // B's row as a database from before protection holds it: a plain template.
    let (bytes, row) = stored_palm(&app, &pb).await;
    let plain = first
        .unprotect(&ProtectedPalm::from_bytes(&bytes).unwrap().template)
        .unwrap();
    let (keys, _) = DataDirKeys::open(&app.config.data_dir).unwrap();
    let owner = app
        .store()
        .person(&PersonId::new(&pb))
        .await
        .unwrap()
        .unwrap();
    let data_key = keys
        .load()
        .unwrap()
        .unwrap(&WrappedKey(owner.wrapped_key))
        .unwrap();
    let legacy = data_key
        .seal(
            &plain.to_bytes(),
            &palm_service::context("template", &row.id.to_string()),
        )
        .unwrap();
    assert!(
        app.store()
            .replace_palm_template(row.id, &row.template_sealed, &legacy, 1)
            .await
            .unwrap()
    );
    // A compare-and-set against a stale value changes nothing.
    assert!(
        !app.store()
            .replace_palm_template(row.id, &row.template_sealed, &legacy, 1)
            .await
            .unwrap()
    );

    assert_eq!(
        palm_server::keys::renew_transform(&app.config.data_dir).unwrap(),
        2
    );
    // The running server keeps its transform until it restarts: palms still pay.
    let paid = app.pay(71, 500).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);

    let app = app.restart().await;
    let loaded = app.server.service.loaded().clone();
    assert_eq!((loaded.palms, loaded.renewed, loaded.unreadable), (2, 2, 0));
    assert!(
        transform_key(&app, 1).is_none(),
        "old transform key destroyed"
    );
    let second = transform_key(&app, 2).unwrap();
    for person in [&pa, &pb] {
        let (bytes, _) = stored_palm(&app, person).await;
        let p = ProtectedPalm::from_bytes(&bytes).expect("renewed palm stored protected");
        assert_eq!(p.transform(), 2);
        assert!(second.unprotect(&p.template).is_ok());
    }
    for (seed, amount) in [(71, 700), (72, 720)] {
        let paid = app.pay(seed, amount).await;
        assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    }

    // A later start with nothing to renew leaves the keys alone.
    let app = app.restart().await;
    assert_eq!(app.server.service.loaded().renewed, 0);
    assert!(transform_key(&app, 2).is_some());
    app.server.shutdown().await;
}
