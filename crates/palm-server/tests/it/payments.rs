//! Payment stories: pay by palm, refunds, declines, capture and cancel, idempotency, webhooks,
//! processor timeouts.

use crate::common::*;
use palm_service::Clock;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn pay_by_palm_refund_and_signed_webhooks() {
    let app = spawn().await;
    let (url, hook) = webhook_receiver(1).await;
    let ep = app.add_webhook(&url).await;
    assert_eq!(ep.status, 201, "{}", ep.body);
    let secret = ep.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        app.sign_up(1, "+447700900001", "4242424242424242")
            .await
            .status,
        201
    );

    let p = app.create_payment(1999).await;
    assert_eq!(p["status"], "requires_palm");
    let id = p["id"].as_str().unwrap();
    let paid = app
        .scan(
            &format!("/v1/payments/{id}/palm"),
            &app.till_key(),
            1,
            json!({}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    assert_eq!(paid.body["amount_captured"], 1999);
    assert_eq!(paid.body["card"]["last4"], "4242");
    assert!(paid.headers.get("server-timing").is_some());
    // A second palm for the same payment is refused.
    let twice = app
        .post(
            &format!("/v1/payments/{id}/palm"),
            &app.till_key(),
            &json!({"image": palm(1, 41)}),
        )
        .await;
    assert_eq!(twice.status, 409);

    let r1 = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &app.merchant_key(),
            &json!({"amount": 500}),
        )
        .await;
    assert_eq!(r1.status, 201, "{}", r1.body);
    assert_eq!(r1.body["status"], "succeeded");
    let too_much = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &app.merchant_key(),
            &json!({"amount": 1500}),
        )
        .await;
    assert_eq!(too_much.status, 400);
    assert_eq!(too_much.body["param"], "amount");
    let rest = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &app.merchant_key(),
            &json!({}),
        )
        .await;
    assert_eq!(rest.body["amount"], 1499, "{}", rest.body);
    let after = app
        .get(&format!("/v1/payments/{id}"), &app.merchant_key())
        .await;
    assert_eq!(after.body["amount_refunded"], 1999);
    let (captured, refunded, _) = app.server.processor.charge_totals();
    assert_eq!(
        (captured, refunded),
        (1999, 1999),
        "the processor moved exactly that"
    );

    let events = app
        .get(&format!("/v1/payments/{id}/events"), &app.merchant_key())
        .await;
    let kinds: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "payment.created",
            "payment.processing",
            "payment.succeeded",
            "refund.succeeded",
            "refund.succeeded"
        ]
    );

    // Every event reaches the endpoint, signed, despite its first answer being a 500.
    assert!(
        eventually(|| hook.lock().unwrap().len() >= 6).await,
        "webhooks delivered"
    );
    let got = hook.lock().unwrap().clone();
    let now = chrono_now();
    for (sig, body) in &got {
        assert!(
            palm_service::verify_signature(&secret, sig, body, now, 300),
            "signature verifies"
        );
        assert!(!palm_service::verify_signature(
            "whsec_wrong",
            sig,
            body,
            now,
            300
        ));
    }
    let bodies: Vec<serde_json::Value> = got
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b["type"] == "payment.succeeded" && b["data"]["id"] == id)
    );
    let deliveries = app
        .get("/v1/webhook_deliveries?limit=100", &app.merchant_key())
        .await;
    let list = deliveries.body["data"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(list.iter().all(|d| d["status"] == "delivered"));
    assert!(
        list.iter().any(|d| d["attempts"] == 2),
        "the failed first attempt was retried"
    );
    // Replay one: it is delivered again.
    let first = list[0]["id"].as_str().unwrap();
    let replay = app
        .post(
            &format!("/v1/webhook_deliveries/{first}/replay"),
            &app.merchant_key(),
            &json!({}),
        )
        .await;
    assert_eq!(replay.status, 202);
    let n = got.len();
    assert!(
        eventually(|| hook.lock().unwrap().len() > n).await,
        "replayed delivery sent"
    );
    app.server.shutdown().await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn test_cards_decline_with_their_codes() {
    let app = spawn().await;
    let cards = [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4000000000000119", "processing_error"),
    ];
    for (i, (card, code)) in cards.iter().enumerate() {
        let seed = 100 + i as u64;
        let s = app
            .sign_up(seed, &format!("+44770090{:04}", 1000 + i), card)
            .await;
        assert_eq!(s.status, 201, "{}", s.body);
        let paid = app.pay(seed, 1000).await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        assert_eq!(paid.body["status"], "failed");
        assert_eq!(paid.body["decline_code"], *code);
        // A failed payment cannot be refunded.
        let id = paid.body["id"].as_str().unwrap();
        let r = app
            .post(
                &format!("/v1/payments/{id}/refunds"),
                &app.merchant_key(),
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 409);
    }
    assert_eq!(app.server.processor.charge_totals().0, 0, "no money moved");
    // A stranger's palm identifies no one and leaves the payment waiting.
    let p = app.create_payment(100).await;
    let id = p["id"].as_str().unwrap();
    let stranger = app
        .post(
            &format!("/v1/payments/{id}/palm"),
            &app.till_key(),
            &json!({"image": palm(999, 1)}),
        )
        .await;
    assert_eq!(stranger.status, 422);
    assert_eq!(stranger.body["code"], "palm_not_recognised");
    let still = app
        .get(&format!("/v1/payments/{id}"), &app.till_key())
        .await;
    assert_eq!(still.body["status"], "requires_palm");
    app.server.shutdown().await;
}

/// A scanner may send the frames of one hover instead of one image: the payment goes through
/// on the fused decision; a hover of the wrong size is a 400 naming `frames`.
#[tokio::test]
async fn a_hover_of_frames_pays() {
    let app = spawn().await;
    let s = app.sign_up(31, "+447700900031", &visa(31)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let p = app.create_payment(450).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/v1/payments/{id}/palm");
    let frames: Vec<String> = (40..43).map(|k| palm(31, k)).collect();
    let short = app
        .post(&path, &app.till_key(), &json!({"frames": frames[..1]}))
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert_eq!(short.body["param"], "frames");
    let paid = app
        .post(
            &path,
            &app.till_key(),
            &json!({"frames": frames, "phone_last4": "0031"}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    assert_eq!(app.server.processor.charge_totals(), (450, 0, 1));
    app.server.shutdown().await;
}

#[tokio::test]
async fn manual_capture_cancel_and_card_choice() {
    let app = spawn().await;
    assert_eq!(app.sign_up(41, "+15550100041", &visa(41)).await.status, 201);
    let (till, till_key) = app.till();
    let create = |capture: &str| json!({"amount": 5000, "currency": "EUR", "till": till, "capture_method": capture, "reference": "order-7"});
    let p = app
        .post("/v1/payments", &app.merchant_key(), &create("manual"))
        .await;
    assert_eq!(p.body["currency"], "eur");
    let id = p.body["id"].as_str().unwrap();
    // Identify only, then confirm with a tip from the till screen.
    let ident = app
        .scan(
            &format!("/v1/payments/{id}/palm"),
            &till_key,
            41,
            json!({"confirm": false}),
        )
        .await;
    assert_eq!(
        ident.body["status"], "requires_confirmation",
        "{}",
        ident.body
    );
    assert_eq!(ident.body["card_choices"].as_array().unwrap().len(), 1);
    let card = ident.body["card_choices"][0]["id"].as_str().unwrap();
    let conf = app
        .post(
            &format!("/v1/payments/{id}/confirm"),
            &till_key,
            &json!({"card": card, "tip": 500}),
        )
        .await;
    assert_eq!(conf.body["status"], "requires_capture", "{}", conf.body);
    assert_eq!(conf.body["amount_total"], 5500);
    let cap = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &app.merchant_key(),
            &json!({"amount": 5200}),
        )
        .await;
    assert_eq!(cap.body["status"], "succeeded", "{}", cap.body);
    assert_eq!(cap.body["amount_captured"], 5200);

    // An authorisation released before capture.
    let p2 = app
        .post("/v1/payments", &app.merchant_key(), &create("manual"))
        .await;
    let id2 = p2.body["id"].as_str().unwrap();
    let held = app
        .scan(
            &format!("/v1/payments/{id2}/palm"),
            &till_key,
            41,
            json!({}),
        )
        .await;
    assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
    let cancel = app
        .post(
            &format!("/v1/payments/{id2}/cancel"),
            &app.merchant_key(),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.body["status"], "canceled", "{}", cancel.body);
    let capture_late = app
        .post(
            &format!("/v1/payments/{id2}/capture"),
            &app.merchant_key(),
            &json!({}),
        )
        .await;
    assert_eq!(capture_late.status, 409);
    // A till cancels a payment waiting for a palm; another till cannot touch it.
    let p3 = app.create_payment(300).await;
    let id3 = p3["id"].as_str().unwrap();
    let other_till = app.demo.tills[1].credential.clone();
    let wrong = app
        .post(
            &format!("/v1/payments/{id3}/palm"),
            &other_till,
            &json!({"image": palm(41, 11)}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let c3 = app
        .post(&format!("/v1/payments/{id3}/cancel"), &till_key, &json!({}))
        .await;
    assert_eq!(c3.body["status"], "canceled");
    let (captured, _, charges) = app.server.processor.charge_totals();
    assert_eq!((captured, charges), (5200, 2));
    // Payments list, newest first, paged.
    let page1 = app.get("/v1/payments?limit=2", &app.merchant_key()).await;
    assert_eq!(page1.body["data"][0]["id"], id3);
    assert_eq!(page1.body["has_more"], true);
    let last = page1.body["data"][1]["id"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/v1/payments?limit=2&starting_after={last}"),
            &app.merchant_key(),
        )
        .await;
    assert_eq!(page2.body["data"][0]["id"], id);
    assert_eq!(page2.body["has_more"], false);
    app.server.shutdown().await;
}

#[tokio::test]
async fn idempotent_retries_replay_and_conflicting_bodies_are_refused() {
    let app = spawn().await;
    let body = json!({"amount": 1234, "currency": "usd", "till": app.till().0});
    let send = |b: serde_json::Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/v1/payments",
                &app.merchant_key(),
                Some(&b),
                Some("order-42"),
            )
            .await
        }
    };
    let first = send(body.clone()).await;
    assert_eq!(first.status, 201);
    let again = send(body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the stored first response");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = send(json!({"amount": 999, "currency": "usd", "till": app.till().0})).await;
    assert_eq!(other.status, 409);
    assert_eq!(other.body["type"], "idempotency_error");
    let list = app.get("/v1/payments", &app.merchant_key()).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "one payment created"
    );

    // A palm retried with the same key charges once.
    assert_eq!(app.sign_up(51, "+15550100051", &visa(51)).await.status, 201);
    let id = first.body["id"].as_str().unwrap();
    let path = format!("/v1/payments/{id}/palm");
    let (a, palm_body, key) = app
        .scan_keyed(&path, &app.till_key(), 51, json!({}), Some("scan"))
        .await;
    let b = app
        .send(
            reqwest::Method::POST,
            &path,
            &app.till_key(),
            Some(&palm_body),
            key.as_deref(),
        )
        .await;
    assert_eq!(a.body["status"], "succeeded");
    assert_eq!(a.body, b.body);
    assert_eq!(app.server.processor.charge_totals(), (1234, 0, 1));
    app.server.shutdown().await;
}

#[tokio::test]
async fn processor_timeouts_never_charge_twice() {
    // Each processor call takes 300 ms; the service gives up on a call after 50 ms and asks.
    let app = spawn_with(|c| {
        c.processor.latency_ms = 300;
        c.processor.timeout_ms = 50;
        c.processor.outcome_wait_ms = 3_000;
    })
    .await;
    assert_eq!(app.sign_up(61, "+15550100061", &visa(61)).await.status, 201);
    let paid = app.pay(61, 4321).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert_eq!(app.server.processor.charge_totals(), (4321, 0, 1));
    app.server.shutdown().await;

    // The outcome is still unknown when the service stops waiting: the payment stays
    // processing, and the reconciler settles it from the processor's record. The test is the
    // reconciler (housekeeping off) and moves the service's clock itself.
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
    assert_eq!(app.sign_up(62, "+15550100062", &visa(62)).await.status, 201);
    let pending = app.pay(62, 800).await;
    assert_eq!(pending.body["status"], "processing", "{}", pending.body);
    let processor = &app.server.processor;
    until("the processor records the charge", || {
        processor.charge_totals() == (800, 0, 1)
    })
    .await;
    // Not yet stale: the reconciler leaves a call young enough to still be answered.
    assert_eq!(app.server.service.reconcile().await.unwrap(), 0);
    clock.advance_ms(1_000);
    assert_eq!(app.server.service.reconcile().await.unwrap(), 1);
    let id = pending.body["id"].as_str().unwrap();
    let done = app
        .get(&format!("/v1/payments/{id}"), &app.merchant_key())
        .await;
    assert_eq!(done.body["status"], "succeeded");
    assert_eq!(app.server.processor.charge_totals(), (800, 0, 1));
    // A refund the processor answers too late stays pending, then is settled the same way.
    let r = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &app.merchant_key(),
            &json!({"amount": 300}),
        )
        .await;
    assert_eq!(r.body["status"], "pending", "{}", r.body);
    until("the processor records the refund", || {
        processor.charge_totals() == (800, 300, 1)
    })
    .await;
    assert_eq!(app.server.service.reconcile().await.unwrap(), 0);
    clock.advance_ms(1_000);
    assert_eq!(app.server.service.reconcile().await.unwrap(), 1);
    let refunds = app
        .get(&format!("/v1/payments/{id}/refunds"), &app.merchant_key())
        .await;
    assert_eq!(
        refunds.body["data"][0]["status"], "succeeded",
        "{}",
        refunds.body
    );
    assert_eq!(app.server.processor.charge_totals(), (800, 300, 1));
    app.server.shutdown().await;
}

#[tokio::test]
async fn stored_answers_keep_no_secret_in_clear() {
    let app = spawn().await;
    let (url, _hook) = webhook_receiver(0).await;
    let body = json!({"url": url});
    let merchant = app.merchant_key();
    let create = || {
        app.send(
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            &merchant,
            Some(&body),
            Some("hook-1"),
        )
    };
    let first = create().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let secret = first.body["secret"].as_str().unwrap().to_string();
    // The retry gets the very answer back, secret included.
    let again = create().await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["secret"], secret.as_str());

    let store = palm_store::SqlStore::open(&app.config.database_url())
        .await
        .unwrap();
    let rows = sqlx::query("SELECT body FROM idempotency_keys WHERE body IS NOT NULL")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let body: String = sqlx::Row::get(&row, "body");
        assert!(body.starts_with("sealed:v1:"), "{body}");
        assert!(
            !body.contains(&secret) && !body.contains("whsec_"),
            "{body}"
        );
    }
    app.server.shutdown().await;
}

#[tokio::test]
async fn concurrent_captures_and_cancels_never_race_at_the_processor() {
    // A slow processor, so the second request arrives while the first is in flight.
    let app = spawn_with(|c| c.processor.latency_ms = 300).await;
    assert_eq!(app.sign_up(42, "+15550100042", &visa(42)).await.status, 201);
    app.phones.lock().unwrap().insert(42, "+15550100042".into());
    let (till, _) = app.till();
    for (first, second) in [
        (json!({"amount": 4000}), "capture:3000"),
        (json!({"amount": 2500}), "cancel"),
    ] {
        let p = app
            .post(
                "/v1/payments",
                &app.merchant_key(),
                &json!({"amount": 5000, "currency": "usd", "till": till, "capture_method": "manual"}),
            )
            .await;
        let id = p.body["id"].as_str().unwrap().to_string();
        let paid = app
            .scan(
                &format!("/v1/payments/{id}/palm"),
                &app.till_key(),
                42,
                json!({}),
            )
            .await;
        assert_eq!(paid.body["status"], "requires_capture", "{}", paid.body);
        let request = |path: &str, body: serde_json::Value| {
            app.client
                .post(format!("{}/v1/payments/{id}/{path}", app.base))
                .bearer_auth(app.merchant_key())
                .json(&body)
                .send()
        };
        let other = match second {
            "cancel" => request("cancel", json!({})),
            _ => request("capture", json!({"amount": 3000})),
        };
        let (a, b) = tokio::join!(request("capture", first.clone()), other);
        let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
        assert!(statuses.contains(&200), "{statuses:?}");
        assert!(
            statuses.contains(&409),
            "{statuses:?}: one operation wins, the other is told"
        );
        let now = app
            .get(&format!("/v1/payments/{id}"), &app.merchant_key())
            .await;
        if statuses[0] == 200 {
            assert_eq!(now.body["status"], "succeeded", "{}", now.body);
            assert_eq!(now.body["amount_captured"], first["amount"]);
        } else {
            assert_ne!(now.body["status"], "requires_capture", "{}", now.body);
        }
    }
    app.server.shutdown().await;
}

#[tokio::test]
async fn a_slow_webhook_endpoint_does_not_hold_up_the_others() {
    let app = spawn().await;
    // An endpoint that takes 5 s to answer, registered first so its deliveries come first.
    let slow = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, slow).await.unwrap() });
    let (fast_url, fast) = webhook_receiver(0).await;
    for url in [&slow_url, &fast_url] {
        let ep = app.add_webhook(url).await;
        assert_eq!(ep.status, 201, "{}", ep.body);
    }
    assert_eq!(app.sign_up(43, "+15550100043", &visa(43)).await.status, 201);
    app.phones.lock().unwrap().insert(43, "+15550100043".into());
    let started = std::time::Instant::now();
    let paid = app.pay(43, 900).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert!(eventually(|| !fast.lock().unwrap().is_empty()).await);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the fast endpoint waited for the slow one: {:?}",
        started.elapsed()
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn a_payment_abandoned_at_the_till_is_canceled_after_the_expiry() {
    // The test is the housekeeping job (off here) and moves the service's clock itself.
    let clock = Arc::new(palm_service::ManualClock::new(
        palm_service::SystemClock.now_ms(),
    ));
    let app = spawn_with_clock_and(clock.clone(), |c| {
        c.housekeeping_interval_s = 0;
        c.payment_expiry_s = 600;
    })
    .await;
    let new_payment = || async {
        app.create_payment(500).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let walked_away = new_payment().await;
    clock.advance_ms(400_000);
    let still_paying = new_payment().await;
    assert_eq!(
        app.server
            .service
            .expire_abandoned_payments()
            .await
            .unwrap(),
        0
    );
    clock.advance_ms(300_000);
    // 700 s after the first was created, 300 s after the second.
    assert_eq!(
        app.server
            .service
            .expire_abandoned_payments()
            .await
            .unwrap(),
        1
    );
    let status = |id: String| {
        let app = &app;
        async move {
            app.get(&format!("/v1/payments/{id}"), &app.merchant_key())
                .await
                .body["status"]
                .clone()
        }
    };
    assert_eq!(status(walked_away.clone()).await, "canceled");
    assert_eq!(status(still_paying).await, "requires_palm");
    // A palm arriving after the expiry pays nothing.
    let late = app
        .post(
            &format!("/v1/payments/{walked_away}/palm"),
            &app.till_key(),
            &json!({"image": palm(71, 1)}),
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(app.server.processor.charge_totals(), (0, 0, 0));
}

/// A payment's history never leaves out an event it cannot read: a damaged stored event is a
/// server error, not a shorter history.
#[tokio::test]
async fn a_damaged_event_is_an_error_not_a_gap_in_the_history() {
    let app = spawn().await;
    let p = app.create_payment(300).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/v1/payments/{id}/events");
    let before = app.get(&path, &app.merchant_key()).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["data"].as_array().unwrap().len(), 1);
    let store = palm_store::SqlStore::open(&app.config.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE events SET payload = 'not json' WHERE object_id = $1")
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    let after = app.get(&path, &app.merchant_key()).await;
    assert_eq!(after.status, 500, "{}", after.body);
    assert_eq!(after.body["code"], "internal_error");
}
