//! Money after crashes and lost answers: idempotency keys whose request never answered, the
//! processor's ledger across restarts, captures and voids whose answer came too late.

use crate::common::*;
use palm_service::Clock;
use serde_json::{Value, json};
use std::sync::Arc;

/// What a crash between a request's commit and its stored answer leaves: the key's record has
/// no answer, and `owner` (a run of the server) holds it.
async fn lose_answer(app: &TestApp, key: &str, owner: &str, created: Option<i64>) {
    let store = palm_store::SqlStore::open(&app.config.database_url())
        .await
        .unwrap();
    let changed = sqlx::query(
        "UPDATE idempotency_keys SET status = NULL, body = NULL, owner = $1, created = COALESCE($2, created) WHERE key = $3",
    )
    .bind(owner)
    .bind(created)
    .bind(key)
    .execute(store.pool())
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(changed, 1, "no record of key {key}");
}

async fn keyed(app: &TestApp, path: &str, auth: &str, body: &Value, key: &str) -> Reply {
    app.send(reqwest::Method::POST, path, auth, Some(body), Some(key))
        .await
}

#[tokio::test]
async fn a_request_retried_after_a_crash_gets_the_first_runs_outcome() {
    let app = spawn().await;
    assert_eq!(app.sign_up(71, "+15550100071", &visa(71)).await.status, 201);
    let merchant = app.merchant_key();
    let create = json!({"amount": 3000, "currency": "usd", "till": app.till().0, "capture_method": "manual"});
    let first = keyed(&app, "/v1/payments", &merchant, &create, "create-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_string();

    // While the run that holds the key is alive and within the time limit, it is in use.
    let run = app.server.service.run_id().to_string();
    lose_answer(&app, "create-1", &run, None).await;
    let busy = keyed(&app, "/v1/payments", &merchant, &create, "create-1").await;
    assert_eq!(busy.status, 409, "{}", busy.body);
    assert_eq!(busy.body["code"], "idempotency_key_in_use");

    // The server dies before answering; after the restart the retry learns what was created
    // (the same payment, not a second one).
    let app = app.restart().await;
    let again = keyed(&app, "/v1/payments", &merchant, &create, "create-1").await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    let all = app.get("/v1/payments", &merchant).await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 1);

    // The palm, the capture and the refund, each answered, then its answer lost: the retry
    // answers with the payment (or refund) as the first run left it.
    let path = format!("/v1/payments/{id}/palm");
    let (paid, palm, key) = app
        .scan_keyed(
            &path,
            &app.till_key(),
            71,
            json!({"phone_last4": "0071"}),
            Some("palm"),
        )
        .await;
    assert_eq!(paid.body["status"], "requires_capture", "{}", paid.body);
    let key = key.unwrap();
    let app = {
        lose_answer(&app, &key, "run_gone", None).await;
        app.restart().await
    };
    let again = keyed(&app, &path, &app.till_key(), &palm, &key).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "requires_capture");

    let capture = json!({"amount": 2500});
    let path = format!("/v1/payments/{id}/capture");
    let captured = keyed(&app, &path, &merchant, &capture, "capture-1").await;
    assert_eq!(captured.body["status"], "succeeded", "{}", captured.body);
    // A request cut off by its time limit in this same run leaves its key too: once the limit
    // has passed, the retry takes it over.
    let run = app.server.service.run_id().to_string();
    lose_answer(&app, "capture-1", &run, Some(0)).await;
    let again = keyed(&app, &path, &merchant, &capture, "capture-1").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["amount_captured"], 2500);

    let refund = json!({"amount": 1000});
    let path = format!("/v1/payments/{id}/refunds");
    let refunded = keyed(&app, &path, &merchant, &refund, "refund-1").await;
    assert_eq!(refunded.status, 201, "{}", refunded.body);
    lose_answer(&app, "refund-1", "run_gone", None).await;
    let again = keyed(&app, &path, &merchant, &refund, "refund-1").await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["id"], refunded.body["id"]);
    let refunds = app.get(&path, &merchant).await;
    assert_eq!(refunds.body["data"].as_array().unwrap().len(), 1);
    // The processor moved the money once: one charge, captured 2500, refunded 1000.
    assert_eq!(app.server.processor.charge_totals(), (2500, 1000, 1));
    app.server.shutdown().await;
}

#[tokio::test]
async fn the_processors_ledger_outlives_a_restart() {
    let app = spawn().await;
    assert_eq!(app.sign_up(72, "+15550100072", &visa(72)).await.status, 201);
    let paid = app.pay(72, 1000).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    let id = paid.body["id"].as_str().unwrap().to_string();
    let app = app.restart().await;
    // The charge is still at the processor: it can be refunded up to what was captured.
    let refund = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &app.merchant_key(),
            &json!({"amount": 400}),
        )
        .await;
    assert_eq!(refund.body["status"], "succeeded", "{}", refund.body);
    // A new charge after the restart gets a reference of its own.
    assert_eq!(app.pay(72, 500).await.body["status"], "succeeded");
    assert_eq!(app.server.processor.charge_totals(), (1500, 400, 2));
    let references: std::collections::HashSet<_> =
        app.server.processor.charges().into_keys().collect();
    assert_eq!(references.len(), 2);
    app.server.shutdown().await;
}

#[tokio::test]
async fn captures_and_voids_answered_too_late_are_reconciled() {
    // Each processor call takes 400 ms; the service stops waiting after 150 ms. The test is the
    // reconciler (housekeeping off) and moves the service's clock past the processor's limits.
    let clock = Arc::new(palm_service::ManualClock::new(
        palm_service::SystemClock.now_ms(),
    ));
    let app = spawn_with_clock_and(clock.clone(), |c| {
        c.processor.latency_ms = 400;
        c.processor.timeout_ms = 50;
        c.processor.outcome_wait_ms = 100;
        c.housekeeping_interval_s = 0;
    })
    .await;
    assert_eq!(app.sign_up(73, "+15550100073", &visa(73)).await.status, 201);
    app.phones.lock().unwrap().insert(73, "+15550100073".into());
    let merchant = app.merchant_key();
    // A held payment: its authorisation is settled by the reconciler too.
    let held = async |authorised: usize| {
        let p = app
            .post(
                "/v1/payments",
                &merchant,
                &json!({"amount": 2000, "currency": "usd", "till": app.till().0, "capture_method": "manual"}),
            )
            .await;
        let id = p.body["id"].as_str().unwrap().to_string();
        let r = app
            .scan(
                &format!("/v1/payments/{id}/palm"),
                &app.till_key(),
                73,
                json!({}),
            )
            .await;
        assert_eq!(r.body["status"], "processing", "{}", r.body);
        until("the processor records the authorisation", || {
            app.server.processor.charges().len() == authorised + 1
        })
        .await;
        clock.advance_ms(1_000);
        assert_eq!(app.server.service.reconcile().await.unwrap(), 1);
        let now = app.get(&format!("/v1/payments/{id}"), &merchant).await;
        assert_eq!(now.body["status"], "requires_capture", "{}", now.body);
        id
    };
    for (authorised, (operation, body, settled)) in [
        ("capture", json!({"amount": 1500}), "succeeded"),
        ("cancel", json!({}), "canceled"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = held(authorised).await;
        let late = app
            .post(&format!("/v1/payments/{id}/{operation}"), &merchant, &body)
            .await;
        assert_eq!(late.status, 503, "{}", late.body);
        assert_eq!(late.body["code"], "processor_timeout");
        // The processor did it; the payment says so once the reconciler has asked.
        until("the processor records the operation", || {
            app.server
                .processor
                .charges()
                .values()
                .any(|c| c.captured == 1500 && operation == "capture" || c.voided)
        })
        .await;
        assert_eq!(
            app.server.service.reconcile().await.unwrap(),
            0,
            "not stale yet"
        );
        clock.advance_ms(1_000);
        assert_eq!(app.server.service.reconcile().await.unwrap(), 1);
        let now = app.get(&format!("/v1/payments/{id}"), &merchant).await;
        assert_eq!(now.body["status"], settled, "{}", now.body);
    }
    let charges = app.server.processor.charges();
    assert_eq!(charges.len(), 2);
    assert_eq!(
        charges
            .values()
            .map(|c| (c.captured, c.voided))
            .collect::<std::collections::BTreeSet<_>>(),
        [(0, true), (1500, false)].into_iter().collect()
    );
    let captured: Vec<_> = app.get("/v1/payments", &merchant).await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount_captured"].as_i64().unwrap())
        .collect();
    assert!(captured.contains(&1500), "{captured:?}");
    app.server.shutdown().await;
}
