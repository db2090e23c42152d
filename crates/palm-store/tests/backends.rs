//! The store on both databases: SQLite always, PostgreSQL too when `PALMLINE_TEST_POSTGRES` names
//! an admin URL (`.ci/run` sets it). The same checks run on each: migrations apply once and again
//! without harm, rows are scoped to their merchant, and idempotency keys move through their
//! states (new, in flight, answered, released and taken over, purged) the same way.

use palm_service::store::{
    Claim, IdempotencyStore, KeyHolder, MerchantId, MerchantRow, MerchantStore, Store, TillRow,
};
use palm_store::SqlStore;

/// Every backend this run can reach, each on a fresh database.
async fn backends(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = vec![(
        "sqlite".to_string(),
        SqlStore::sqlite_url(&dir.join("palmline.db")),
    )];
    if let Ok(admin) = std::env::var("PALMLINE_TEST_POSTGRES") {
        let suffix = format!("store_{}", std::process::id());
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
    for (backend, url) in backends(dir.path()).await {
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
