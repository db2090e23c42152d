//! Walk-out shopping over HTTP: a palm at the entry gate opens a trip with a hold; the store's
//! system sends item events (duplicates, out-of-order deliveries, bad ones); the exit charges the
//! basket (captured within the hold, raised above it, released when empty, `requires_action`
//! when the card will not cover it); receipts, webhooks, timeouts, deletion, tenancy.

use crate::common::*;
use palm_service::Clock as _;
use palm_service::processor::HOLDS_ONLY;
use serde_json::{Value, json};

/// A walk-out store with one gate: (venue id, gate credential).
pub(crate) async fn walk_out_store(
    app: &TestApp,
    hold: i64,
    tax_rate_bps: i64,
) -> (String, String) {
    let venue = app
        .post(
            "/v1/venues",
            &app.merchant_key(),
            &json!({"name": "Corner Grab", "gates": [{"name": "Door"}],
                "walk_out": {"currency": "USD", "hold": hold, "tax_rate_bps": tax_rate_bps}}),
        )
        .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    assert_eq!(venue.body["walk_out"]["hold"], hold);
    (
        venue.body["id"].as_str().unwrap().to_string(),
        venue.body["gates"][0]["credential"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Person `seed` at a gate (`path`: `/v1/shopping_trips` or `/v1/gate/scans`): a new capture
/// when the palm is not read, the phone hint when asked. Returns the gate's decision.
async fn at_gate(app: &TestApp, path: &str, gate: &str, seed: u64, extra: Value) -> Value {
    let mut hint: Option<String> = None;
    let mut last = Value::Null;
    for k in 70..76 {
        let mut body = extra.clone();
        body["image"] = json!(palm(seed, k));
        if let Some(h) = &hint {
            body["phone_last4"] = json!(h);
        }
        let r = app.post(path, gate, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        match r.body["reason"].as_str() {
            Some("needs_hint") if hint.is_none() => {
                let phone = app.phones.lock().unwrap()[&seed].clone();
                hint = Some(phone[phone.len() - 4..].to_string());
            }
            Some("palm_not_recognised") => {}
            _ => return r.body,
        }
        last = r.body;
    }
    last
}

/// Opens a trip for `seed` at the store's gate; returns its id.
async fn enter(app: &TestApp, gate: &str, seed: u64) -> String {
    let d = at_gate(app, "/v1/shopping_trips", gate, seed, json!({})).await;
    assert_eq!(d["allowed"], true, "{d}");
    assert_eq!(d["reason"], "welcome", "{d}");
    d["trip"].as_str().unwrap().to_string()
}

fn item(id: &str, kind: &str, product: &str, quantity: i64, price: i64, at: i64) -> Value {
    json!({"id": id, "kind": kind, "product": product, "name": format!("{product} (1 pc)"),
        "quantity": quantity, "unit_price": price, "confidence": 0.97, "occurred_ms": at})
}

async fn send_event(app: &TestApp, trip: &str, event: &Value) -> Reply {
    app.post(
        &format!("/v1/shopping_trips/{trip}/events"),
        &app.merchant_key(),
        event,
    )
    .await
}

async fn exit(app: &TestApp, trip: &str) -> Reply {
    app.post(
        &format!("/v1/shopping_trips/{trip}/exit"),
        &app.merchant_key(),
        &json!({}),
    )
    .await
}

#[tokio::test]
async fn a_trip_from_entry_to_receipt() {
    let app = spawn().await;
    let (_, hook) = {
        let (url, hook) = webhook_receiver(0).await;
        assert_eq!(app.add_webhook(&url).await.status, 201);
        (url, hook)
    };
    let (venue, gate) = walk_out_store(&app, 5000, 825).await;
    assert_eq!(
        app.sign_up(501, "+15550100501", &visa(501)).await.status,
        201
    );
    let trip = enter(&app, &gate, 501).await;
    let mk = app.merchant_key();
    let opened = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(opened.body["status"], "open");
    assert_eq!(opened.body["venue"], venue.as_str());
    assert_eq!(opened.body["hold"], 5000);
    // The hold is a payment waiting for capture.
    let payment = opened.body["payment"].as_str().unwrap().to_string();
    let held = app.get(&format!("/v1/payments/{payment}"), &mk).await;
    assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
    assert_eq!(held.body["amount"], 5000);

    // The same person at the door again: the same trip, no second hold.
    let again = at_gate(&app, "/v1/shopping_trips", &gate, 501, json!({})).await;
    assert_eq!(again["reason"], "welcome_back", "{again}");
    assert_eq!(again["trip"], trip.as_str());

    // Events out of order: the put-back arrives before the take it undoes.
    let events = [
        item("e1", "take", "cola", 2, 199, 1_000),
        item("e3", "put_back", "cola", 1, 199, 3_000),
        item("e2", "take", "chips", 1, 349, 2_000),
    ];
    for e in &events {
        let r = send_event(&app, &trip, e).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["duplicate"], false);
    }
    // A resend changes nothing; another event under a used id is refused.
    let resent = send_event(&app, &trip, &events[0]).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(resent.body["duplicate"], true);
    let reused = send_event(&app, &trip, &item("e1", "take", "cola", 5, 199, 1_000)).await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(reused.body["code"], "event_id_reused");
    // Bad events: each a typed 400 or 409, none recorded.
    for (bad, code) in [
        (item("b1", "take", "cola", -1, 199, 1), "invalid_quantity"),
        (item("b2", "take", "cola", 0, 199, 1), "invalid_quantity"),
        (item("b3", "steal", "cola", 1, 199, 1), "invalid_value"),
        (item("b4", "take", "gum", 1, -5, 1), "invalid_amount"),
        (item("b5", "take", "", 1, 100, 1), "invalid_text"),
        (item("b6", "take", "cola", 1, 250, 1), "price_mismatch"),
    ] {
        let r = send_event(&app, &trip, &bad).await;
        assert!(r.status == 400 || r.status == 409, "{bad}: {}", r.body);
        assert_eq!(r.body["code"], code, "{bad}: {}", r.body);
    }
    let mut confidence = item("b7", "take", "gum", 1, 100, 1);
    confidence["confidence"] = json!(1.5);
    assert_eq!(send_event(&app, &trip, &confidence).await.status, 400);
    let basket = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
    let lines: Vec<(String, i64)> = basket.body["basket"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product"].as_str().unwrap().to_string(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, [("cola".to_string(), 1), ("chips".to_string(), 1)]);
    assert_eq!(basket.body["subtotal"], 548);

    // The exit: 548 + 8.25% tax (45.21, rounded to 45) = 593, captured from the hold.
    let done = exit(&app, &trip).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(done.body["closed_by"], "exit");
    assert_eq!(
        (
            &done.body["subtotal"],
            &done.body["tax"],
            &done.body["total"],
            &done.body["charged"]
        ),
        (&json!(548), &json!(45), &json!(593), &json!(593))
    );
    let paid = app.get(&format!("/v1/payments/{payment}"), &mk).await;
    assert_eq!(paid.body["status"], "succeeded");
    assert_eq!(paid.body["amount_captured"], 593);
    // Exiting again answers the trip as it stands; events after the exit are refused.
    let twice = exit(&app, &trip).await;
    assert_eq!(twice.body["charged"], 593, "{}", twice.body);
    let late = send_event(&app, &trip, &item("e9", "take", "gum", 1, 100, 9_000)).await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(late.body["code"], "trip_closed");
    // A resend the store's system makes after the exit is still answered as recorded.
    let resent = send_event(&app, &trip, &events[2]).await;
    assert_eq!(
        (resent.status, &resent.body["duplicate"]),
        (200, &json!(true)),
        "{}",
        resent.body
    );

    let receipt = app
        .get(&format!("/v1/shopping_trips/{trip}/receipt"), &mk)
        .await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    assert_eq!(receipt.body["store"], "Corner Grab");
    assert_eq!(receipt.body["total"], 593);
    assert_eq!(receipt.body["lines"][0]["name"], "cola (1 pc)");
    assert_eq!(receipt.body["card_last4"], visa(501)[12..].to_string());
    assert!(
        eventually(|| hook
            .lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b.contains("shopping_trip.completed") && b.contains(&trip)))
        .await,
        "the merchant is told the trip completed"
    );
    // The person's link: the receipt without any credential, and nothing for a forged token.
    let link = done.body["receipt_link"].as_str().unwrap().to_string();
    let token = link.split("#receipt=").nth(1).unwrap().to_string();
    assert!(token.starts_with(&format!("{trip}.")), "{link}");
    let mine = app.get(&format!("/v1/receipts/{token}"), "").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["total"], 593);
    let forged = format!("{trip}.{}", "0".repeat(32));
    for bad in [forged.as_str(), trip.as_str(), "x.y"] {
        let r = app.get(&format!("/v1/receipts/{bad}"), "").await;
        assert_eq!(r.status, 404, "{bad}: {}", r.body);
    }
    let page = reqwest::get(format!("{}{}", app.base, link.split('#').next().unwrap()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // A disputed line: the chips (3.49 + 8.25% tax = 3.78) refunded once the merchant accepts.
    let adjustments = format!("/v1/shopping_trips/{trip}/adjustments");
    let asked = app
        .post(
            &adjustments,
            &mk,
            &json!({"product": "chips", "reason": "never took them"}),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(
        (&asked.body["status"], &asked.body["amount"]),
        (&json!("requested"), &json!(378))
    );
    let adjustment = asked.body["id"].as_str().unwrap().to_string();
    for (bad, code) in [
        (
            json!({"product": "chips", "reason": "again"}),
            "invalid_quantity",
        ),
        (
            json!({"product": "caviar", "reason": "?"}),
            "not_on_receipt",
        ),
        (
            json!({"product": "cola", "quantity": 2, "reason": "one only"}),
            "invalid_quantity",
        ),
    ] {
        let r = app.post(&adjustments, &mk, &bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["code"], code);
    }
    let accepted = app
        .post(
            &format!("{adjustments}/{adjustment}/accept"),
            &mk,
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");
    let refund = accepted.body["refund"].as_str().unwrap().to_string();
    // Accepting again refunds nothing more; rejecting it now is refused.
    let again = app
        .post(
            &format!("{adjustments}/{adjustment}/accept"),
            &mk,
            &json!({}),
        )
        .await;
    assert_eq!(again.body["refund"], refund.as_str());
    let reject = app
        .post(
            &format!("{adjustments}/{adjustment}/reject"),
            &mk,
            &json!({}),
        )
        .await;
    assert_eq!(reject.status, 409, "{}", reject.body);
    let cola = app
        .post(
            &adjustments,
            &mk,
            &json!({"product": "cola", "reason": "not mine"}),
        )
        .await;
    let cola_id = cola.body["id"].as_str().unwrap();
    let rejected = app
        .post(&format!("{adjustments}/{cola_id}/reject"), &mk, &json!({}))
        .await;
    assert_eq!(rejected.body["status"], "rejected", "{}", rejected.body);
    // The person disputes from their link; the merchant sees it on the receipt.
    let disputed = app
        .post(
            &format!("/v1/receipts/{token}/adjustments"),
            "",
            &json!({"product": "cola", "reason": "I put it back"}),
        )
        .await;
    assert_eq!(disputed.status, 201, "{}", disputed.body);
    assert_eq!(disputed.body["status"], "requested");
    let paid = app.get(&format!("/v1/payments/{payment}"), &mk).await;
    assert_eq!(paid.body["amount_refunded"], 378, "{}", paid.body);
    let receipt = app
        .get(&format!("/v1/shopping_trips/{trip}/receipt"), &mk)
        .await;
    assert_eq!(receipt.body["refunded"], 378);
    let states: Vec<&str> = receipt.body["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["accepted", "rejected", "requested"]);
    let list = app.get("/v1/shopping_trips", &mk).await;
    assert_eq!(list.body["data"][0]["id"], trip.as_str(), "{}", list.body);
    app.server.shutdown().await;
}

#[tokio::test]
async fn the_hold_is_released_raised_or_refused() {
    let app = spawn().await;
    let (_, gate) = walk_out_store(&app, 1000, 0).await;
    let mk = app.merchant_key();
    for (seed, card) in [
        (511u64, visa(511)),
        (512, visa(512)),
        (513, HOLDS_ONLY.to_string()),
    ] {
        let phone = format!("+15550100{seed}");
        assert_eq!(app.sign_up(seed, &phone, &card).await.status, 201);
    }

    // An empty basket (a take put back): the hold is released, nothing charged.
    let empty = enter(&app, &gate, 511).await;
    for e in [
        item("t", "take", "wine", 1, 900, 1),
        item("p", "put_back", "wine", 1, 900, 2),
    ] {
        assert_eq!(send_event(&app, &empty, &e).await.status, 200);
    }
    let done = exit(&app, &empty).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(
        (&done.body["total"], &done.body["charged"]),
        (&json!(0), &json!(0))
    );
    let p = app
        .get(
            &format!("/v1/payments/{}", done.body["payment"].as_str().unwrap()),
            &mk,
        )
        .await;
    assert_eq!(p.body["status"], "canceled", "{}", p.body);

    // Above the hold: raised by an incremental authorisation, then captured in full.
    let big = enter(&app, &gate, 512).await;
    assert_eq!(
        send_event(&app, &big, &item("t", "take", "ham", 3, 1250, 1))
            .await
            .status,
        200
    );
    let done = exit(&app, &big).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(done.body["charged"], 3750);
    let p = app
        .get(
            &format!("/v1/payments/{}", done.body["payment"].as_str().unwrap()),
            &mk,
        )
        .await;
    assert_eq!(
        (&p.body["amount"], &p.body["amount_captured"]),
        (&json!(3750), &json!(3750))
    );

    // A card that will not raise its hold: the trip waits for the merchant, with the reason.
    let stuck = enter(&app, &gate, 513).await;
    assert_eq!(
        send_event(&app, &stuck, &item("t", "take", "ham", 3, 1250, 1))
            .await
            .status,
        200
    );
    let done = exit(&app, &stuck).await;
    assert_eq!(done.body["status"], "requires_action", "{}", done.body);
    assert_eq!(done.body["decline_code"], "insufficient_funds");
    assert_eq!(done.body["charged"], 0);
    let receipt = app
        .get(&format!("/v1/shopping_trips/{stuck}/receipt"), &mk)
        .await;
    assert_eq!(receipt.status, 409, "{}", receipt.body);
    assert_eq!(receipt.body["code"], "receipt_not_ready");
    app.server.shutdown().await;
}

#[tokio::test]
async fn gates_decline_bad_cards_and_end_trips_at_the_exit() {
    let app = spawn().await;
    let (venue, gate) = walk_out_store(&app, 5000, 0).await;
    let mk = app.merchant_key();
    let declines = palm_service::VERIFIES_THEN_DECLINES;
    assert_eq!(app.sign_up(521, "+15550100521", declines).await.status, 201);
    assert_eq!(
        app.sign_up(522, "+15550100522", &visa(522)).await.status,
        201
    );
    let refused = at_gate(&app, "/v1/shopping_trips", &gate, 521, json!({})).await;
    assert_eq!(
        (&refused["allowed"], &refused["reason"]),
        (&json!(false), &json!("card_declined")),
        "{refused}"
    );
    let t = app
        .get(
            &format!("/v1/shopping_trips/{}", refused["trip"].as_str().unwrap()),
            &mk,
        )
        .await;
    assert_eq!(t.body["status"], "declined");
    // A party of three on one palm.
    let group = at_gate(
        &app,
        "/v1/shopping_trips",
        &gate,
        522,
        json!({"party_size": 3}),
    )
    .await;
    assert_eq!(group["reason"], "welcome", "{group}");
    let trip = group["trip"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/v1/shopping_trips/{trip}"), &mk)
            .await
            .body["party_size"],
        3
    );
    let too_many = app
        .post(
            "/v1/shopping_trips",
            &gate,
            &json!({"image": palm(522, 80), "party_size": 11}),
        )
        .await;
    assert_eq!(too_many.status, 400);
    assert_eq!(too_many.body["code"], "invalid_party_size");
    assert_eq!(
        send_event(&app, &trip, &item("t", "take", "tea", 2, 300, 1))
            .await
            .status,
        200
    );
    // The exit gate: the palm ends the trip and the basket is charged.
    let out = at_gate(
        &app,
        "/v1/gate/scans",
        &gate,
        522,
        json!({"direction": "out"}),
    )
    .await;
    assert_eq!(
        (&out["allowed"], &out["reason"]),
        (&json!(true), &json!("goodbye")),
        "{out}"
    );
    assert_eq!(out["trip"], trip.as_str());
    let t = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
    assert_eq!(
        (&t.body["status"], &t.body["closed_by"], &t.body["charged"]),
        (&json!("completed"), &json!("gate"), &json!(600)),
        "{}",
        t.body
    );
    // The gate's `in` at a walk-out store opens a trip too (no event needed).
    let back = at_gate(&app, "/v1/gate/scans", &gate, 522, json!({})).await;
    assert_eq!(back["reason"], "welcome", "{back}");
    assert_ne!(back["trip"], trip.as_str());
    // A gate of an event venue still needs its event.
    let demo_gate = app.demo.gate.as_ref().unwrap().credential.clone();
    let no_event = app
        .post(
            "/v1/gate/scans",
            &demo_gate,
            &json!({"image": palm(522, 81)}),
        )
        .await;
    assert_eq!(no_event.status, 400, "{}", no_event.body);
    assert_eq!(no_event.body["code"], "event_required");
    // And an event venue's gate opens no trips.
    let not_walk_out = app
        .post(
            "/v1/shopping_trips",
            &demo_gate,
            &json!({"image": palm(522, 82)}),
        )
        .await;
    assert_eq!(not_walk_out.status, 409);
    assert_eq!(not_walk_out.body["code"], "not_walk_out");
    let _ = venue;
    app.server.shutdown().await;
}

#[tokio::test]
async fn abandoned_trips_time_out_and_deletion_closes_a_trip() {
    let start = 1_795_683_600;
    let clock = std::sync::Arc::new(palm_service::ManualClock::new(start * 1000));
    let app = spawn_with_clock_and(clock.clone(), |c| c.trip_timeout_s = 600).await;
    let (_, gate) = walk_out_store(&app, 5000, 0).await;
    let mk = app.merchant_key();
    assert_eq!(
        app.sign_up(531, "+15550100531", &visa(531)).await.status,
        201
    );
    assert_eq!(
        app.sign_up(532, "+15550100532", &visa(532)).await.status,
        201
    );
    let left = enter(&app, &gate, 531).await;
    assert_eq!(
        send_event(&app, &left, &item("t", "take", "tea", 1, 300, 1))
            .await
            .status,
        200
    );
    clock.advance_ms(599_000);
    app.server.service.settle_trips().await.unwrap();
    assert_eq!(
        app.get(&format!("/v1/shopping_trips/{left}"), &mk)
            .await
            .body["status"],
        "open"
    );
    clock.advance_ms(2_000);
    app.server.service.settle_trips().await.unwrap();
    let t = app.get(&format!("/v1/shopping_trips/{left}"), &mk).await;
    assert_eq!(
        (&t.body["status"], &t.body["closed_by"], &t.body["charged"]),
        (&json!("completed"), &json!("timeout"), &json!(300)),
        "{}",
        t.body
    );

    // A person who asks to be deleted mid-trip: the trip is closed and charged as it stands.
    let trip = enter(&app, &gate, 532).await;
    assert_eq!(
        send_event(&app, &trip, &item("t", "take", "tea", 2, 300, 1))
            .await
            .status,
        200
    );
    let asked = app.ask_deletion(532, "+15550100532").await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let code = app.server.phone.last_code("+15550100532").unwrap();
    let done = app
        .post(
            &format!(
                "/v1/people/deletions/{}/confirm",
                asked.body["id"].as_str().unwrap()
            ),
            &app.till_key(),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "deleted", "{}", done.body);
    let t = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
    assert_eq!(
        (&t.body["status"], &t.body["closed_by"], &t.body["charged"]),
        (&json!("completed"), &json!("deletion"), &json!(600)),
        "{}",
        t.body
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn one_merchant_never_reaches_another_merchants_trips() {
    let app = spawn().await;
    let (_, gate) = walk_out_store(&app, 5000, 0).await;
    assert_eq!(
        app.sign_up(541, "+15550100541", &visa(541)).await.status,
        201
    );
    let trip = enter(&app, &gate, 541).await;
    let other = other_merchant(&app, "Rival Mart").await;
    let key = other.api_key.clone();
    assert_eq!(
        app.get(&format!("/v1/shopping_trips/{trip}"), &key)
            .await
            .status,
        404
    );
    let e = app
        .post(
            &format!("/v1/shopping_trips/{trip}/events"),
            &key,
            &item("x", "take", "tv", 1, 99_999, 1),
        )
        .await;
    assert_eq!(e.status, 404, "{}", e.body);
    assert_eq!(
        app.post(&format!("/v1/shopping_trips/{trip}/exit"), &key, &json!({}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/v1/shopping_trips", &key).await.body["data"],
        json!([])
    );
    // The owner's trip is untouched.
    let t = app
        .get(&format!("/v1/shopping_trips/{trip}"), &app.merchant_key())
        .await;
    assert_eq!(
        (&t.body["status"], &t.body["basket"]),
        (&json!("open"), &json!([]))
    );
    app.server.shutdown().await;
}

/// Housekeeping by hand (it is off in the test): the service's clock moved past the processor's
/// wait, the payments' reconciler, then the trips'; until `done` holds for the trip.
async fn settle_until(
    app: &TestApp,
    clock: &palm_service::ManualClock,
    trip: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mk = app.merchant_key();
    for _ in 0..40 {
        clock.advance_ms(1_000);
        app.server.service.reconcile().await.unwrap();
        app.server.service.settle_trips().await.unwrap();
        let t = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
        if done(&t.body) {
            return t.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    panic!("trip {trip} never settled");
}

#[tokio::test]
async fn a_slow_processor_or_a_restart_never_charges_a_trip_twice() {
    let clock = std::sync::Arc::new(palm_service::ManualClock::new(
        palm_service::SystemClock.now_ms(),
    ));
    let app = spawn_with_clock_and(clock.clone(), |c| c.housekeeping_interval_s = 0).await;
    let (_, gate) = walk_out_store(&app, 5000, 0).await;
    assert_eq!(
        app.sign_up(551, "+15550100551", &visa(551)).await.status,
        201
    );
    assert_eq!(
        app.sign_up(552, "+15550100552", &visa(552)).await.status,
        201
    );
    let trip = enter(&app, &gate, 551).await;
    assert_eq!(
        send_event(&app, &trip, &item("t", "take", "tea", 2, 300, 1))
            .await
            .status,
        200
    );

    // The server restarts with a processor slower than it waits for (the processor's ledger is
    // durable in the data directory, as a card network's would be).
    let TestApp {
        server,
        mut config,
        dir,
        ..
    } = app;
    server.shutdown().await;
    config.processor.latency_ms = 400;
    config.processor.timeout_ms = 50;
    config.processor.outcome_wait_ms = 100;
    let app = start_with_clock(config, dir, clock.clone()).await;
    for (seed, phone) in [(551u64, "+15550100551"), (552, "+15550100552")] {
        app.phones.lock().unwrap().insert(seed, phone.to_string());
    }
    let mk = app.merchant_key();
    // The exit's capture has no answer in time: the trip waits, frozen, and says so.
    let exit = exit(&app, &trip).await;
    assert_eq!(exit.status, 503, "{}", exit.body);
    assert_eq!(exit.body["code"], "processor_timeout");
    let t = app.get(&format!("/v1/shopping_trips/{trip}"), &mk).await;
    assert_eq!(t.body["status"], "completing", "{}", t.body);
    let late = send_event(&app, &trip, &item("late", "take", "tea", 1, 300, 2)).await;
    assert_eq!(
        late.body["code"], "trip_closed",
        "the basket froze at the exit"
    );
    let done = settle_until(&app, &clock, &trip, |t| t["status"] == "completed").await;
    assert_eq!(done["charged"], 600, "{done}");
    let charge = app.server.processor.charges();
    let captured: i64 = charge.values().map(|c| c.captured).sum();
    assert_eq!(captured, 600, "captured once: {charge:?}");

    // A palm at the door while the processor is slow: the gate stays closed, and the hold that
    // the processor placed after all is released.
    let turned = at_gate(&app, "/v1/shopping_trips", &gate, 552, json!({})).await;
    assert_eq!(turned["reason"], "card_unavailable", "{turned}");
    let away = turned["trip"].as_str().unwrap().to_string();
    let declined = settle_until(&app, &clock, &away, |t| t["status"] == "declined").await;
    let p = app
        .get(
            &format!("/v1/payments/{}", declined["payment"].as_str().unwrap()),
            &mk,
        )
        .await;
    assert_eq!(p.body["status"], "canceled", "{}", p.body);
    assert!(
        app.server
            .processor
            .charges()
            .values()
            .any(|c| c.authorized == 5000 && c.voided),
        "the late hold was released"
    );
    app.server.shutdown().await;
}
