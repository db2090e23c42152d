//! Venue entry over HTTP: passes, capacity, re-entry, exits, an age-restricted area, events
//! out of hours, unknown palms and wrong events; every decision recorded.

use crate::common::*;
use palm_service::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;

/// A person at a gate: a new capture when the palm is not read, the phone hint when asked.
async fn at_gate(app: &TestApp, gate: &str, seed: u64, event: &str, direction: &str) -> Value {
    let mut hint: Option<String> = None;
    let mut last = Value::Null;
    for k in 60..66 {
        let mut body = json!({"event": event, "image": palm(seed, k), "direction": direction});
        if let Some(h) = &hint {
            body["phone_last4"] = json!(h);
        }
        let r = app.post("/v1/gate/scans", gate, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        match r.body["reason"].as_str() {
            Some("needs_hint") if hint.is_none() => {
                let phone = app
                    .phones
                    .lock()
                    .unwrap()
                    .get(&seed)
                    .cloned()
                    .unwrap_or_default();
                hint = Some(phone[phone.len().saturating_sub(4)..].to_string());
            }
            Some("palm_not_recognised") if app.phones.lock().unwrap().contains_key(&seed) => {}
            _ => return r.body,
        }
        last = r.body;
    }
    last
}

#[tokio::test]
async fn gates_decide_by_pass_capacity_reentry_and_age() {
    let start = 1_795_683_600;
    let clock = Arc::new(ManualClock::new(start * 1000));
    let app = spawn_with_clock(clock.clone()).await;
    let mk = app.merchant_key();
    let venue = app
        .post(
            "/v1/venues",
            &mk,
            &json!({"name": "Arena", "gates": [
            {"name": "Main"}, {"name": "Bar", "age_restricted": true}]}),
        )
        .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    let main = venue.body["gates"][0]["credential"]
        .as_str()
        .unwrap()
        .to_string();
    let bar = venue.body["gates"][1]["credential"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(main.starts_with("gk_"));
    let vid = venue.body["id"].as_str().unwrap();
    let event = app
        .post(&format!("/v1/venues/{vid}/events"), &mk, &json!({
            "name": "Final", "starts": start - 60, "ends": start + 3600, "capacity": 1, "reentry": false}))
        .await;
    assert_eq!(event.status, 201, "{}", event.body);
    let eid = event.body["id"].as_str().unwrap().to_string();

    for (seed, phone) in [
        (401u64, "+15550100401"),
        (402, "+15550100402"),
        (403, "+15550100403"),
    ] {
        assert_eq!(app.sign_up(seed, phone, &visa(seed)).await.status, 201);
    }
    for (phone, kind) in [("+15550100401", "ticket"), ("+15550100402", "staff")] {
        let p = app
            .post(
                &format!("/v1/events/{eid}/passes"),
                &mk,
                &json!({"phone": phone, "kind": kind}),
            )
            .await;
        // An invitation, taken up at the person's first scan at this merchant's gates.
        assert_eq!(p.status, 202, "{}", p.body);
        assert_eq!(p.body["kind"], "pass");
    }
    // Asked again, or for a number no one enrolled: the same answer, nothing revealed.
    for phone in ["+15550100401", "+15550109999"] {
        let again = app
            .post(
                &format!("/v1/events/{eid}/passes"),
                &mk,
                &json!({"phone": phone, "kind": "ticket"}),
            )
            .await;
        assert_eq!(again.status, 202, "{}", again.body);
        assert_eq!(again.body["status"], "pending");
    }
    let bad_kind = app
        .post(
            &format!("/v1/events/{eid}/passes"),
            &mk,
            &json!({"phone": "+15550100403", "kind": "vip"}),
        )
        .await;
    assert_eq!(bad_kind.status, 400);

    let reason = |b: &Value| {
        (
            b["allowed"].as_bool().unwrap(),
            b["reason"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        reason(&at_gate(&app, &main, 401, &eid, "in").await),
        (true, "welcome".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 401, &eid, "in").await),
        (false, "already_inside".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 402, &eid, "in").await),
        (false, "venue_full".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 403, &eid, "in").await),
        (false, "no_pass".into())
    );
    // The age-restricted bar: only after staff verified an ID document.
    assert_eq!(
        reason(&at_gate(&app, &bar, 401, &eid, "in").await),
        (false, "age_not_verified".into())
    );
    let verified = app
        .post("/v1/age_verifications", &mk, &json!({"phone": "+15550100401", "document_type": "passport", "verified_by": "staff-7"}))
        .await;
    assert_eq!(verified.status, 201, "{}", verified.body);
    assert_eq!(
        reason(&at_gate(&app, &bar, 401, &eid, "in").await),
        (true, "welcome".into())
    );
    let bad_doc = app
        .post(
            "/v1/age_verifications",
            &mk,
            &json!({"phone": "+15550100401", "document_type": "selfie", "verified_by": "x"}),
        )
        .await;
    assert_eq!(bad_doc.status, 400);
    // Out, then no way back in (no re-entry); the freed place goes to the next person.
    assert_eq!(
        reason(&at_gate(&app, &main, 401, &eid, "out").await),
        (true, "goodbye".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 401, &eid, "in").await),
        (false, "no_reentry".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 402, &eid, "in").await),
        (true, "welcome".into())
    );
    assert_eq!(
        reason(&at_gate(&app, &main, 403, &eid, "out").await),
        (false, "not_inside".into())
    );
    // A stranger, an event of no venue of this gate, and the event after closing.
    let stranger = app
        .post(
            "/v1/gate/scans",
            &main,
            &json!({"event": eid, "image": palm(999, 1)}),
        )
        .await;
    assert_eq!(
        reason(&stranger.body),
        (false, "palm_not_recognised".into())
    );
    let wrong = app
        .post(
            "/v1/gate/scans",
            &main,
            &json!({"event": "evn_nope", "image": palm(401, 1)}),
        )
        .await;
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.body["param"], "event");
    let not_a_gate = app
        .post(
            "/v1/gate/scans",
            &app.till_key(),
            &json!({"event": eid, "image": palm(401, 1)}),
        )
        .await;
    assert_eq!(not_a_gate.status, 401);
    clock.advance_ms(2 * 3600 * 1000);
    assert_eq!(
        reason(&at_gate(&app, &main, 401, &eid, "in").await),
        (false, "event_over".into())
    );
    app.server.shutdown().await;
}

/// Four ticket holders reach two gates at the same instant for the last two places: exactly two
/// are admitted, whatever the interleaving, and the occupancy never passes the capacity.
#[tokio::test]
async fn simultaneous_admissions_never_pass_the_capacity() {
    let start = 1_795_683_600;
    let clock = Arc::new(ManualClock::new(start * 1000));
    let app = spawn_with_clock(clock).await;
    let mk = app.merchant_key();
    let venue = app
        .post(
            "/v1/venues",
            &mk,
            &json!({"name": "Club", "gates": [{"name": "North"}, {"name": "South"}]}),
        )
        .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    let gates: Vec<String> = (0..2)
        .map(|i| {
            venue.body["gates"][i]["credential"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let vid = venue.body["id"].as_str().unwrap();
    let event = app
        .post(
            &format!("/v1/venues/{vid}/events"),
            &mk,
            &json!({
            "name": "Late show", "starts": start - 60, "ends": start + 3600, "capacity": 2}),
        )
        .await;
    let eid = event.body["id"].as_str().unwrap().to_string();
    let people = [451u64, 452, 453, 454];
    for seed in people {
        let phone = format!("+1555010{seed:04}");
        let r = app.sign_up(seed, &phone, &visa(seed)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let p = app
            .post(
                &format!("/v1/events/{eid}/passes"),
                &mk,
                &json!({"phone": phone, "kind": "ticket"}),
            )
            .await;
        assert_eq!(p.status, 202, "{}", p.body);
    }
    let (a, b, c, d) = tokio::join!(
        at_gate(&app, &gates[0], people[0], &eid, "in"),
        at_gate(&app, &gates[1], people[1], &eid, "in"),
        at_gate(&app, &gates[0], people[2], &eid, "in"),
        at_gate(&app, &gates[1], people[3], &eid, "in"),
    );
    let decisions = [a, b, c, d];
    let mut reasons: Vec<&str> = decisions
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        ["venue_full", "venue_full", "welcome", "welcome"],
        "{decisions:?}"
    );
    // One leaves; the place is free again for one of the others.
    let admitted: Vec<u64> = people
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| d["allowed"] == true)
        .map(|(&s, _)| s)
        .collect();
    let out = at_gate(&app, &gates[0], admitted[0], &eid, "out").await;
    assert_eq!(out["reason"], "goodbye");
    let refused = people.iter().find(|s| !admitted.contains(s)).unwrap();
    assert_eq!(
        at_gate(&app, &gates[1], *refused, &eid, "in").await["reason"],
        "welcome"
    );
    // The merchant's records list every decision; a till cannot read them.
    let listed = app.get("/v1/entries?limit=100", &mk).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let count = |reason: &str| {
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"] == reason)
            .count()
    };
    assert_eq!(
        (count("welcome"), count("venue_full"), count("goodbye")),
        (3, 2, 1)
    );
    assert_eq!(app.get("/v1/entries", &app.till_key()).await.status, 401);
}

#[tokio::test]
async fn the_demo_venue_admits_a_pass_holder_with_its_seeded_gate() {
    let app = spawn().await;
    let gate = app
        .demo
        .gate
        .clone()
        .expect("a fresh demo has a venue with a gate");
    assert!(gate.credential.starts_with("gk_") && gate.event.starts_with("evn_"));
    // The credentials file the kiosk link and the browser suite read carries the gate too.
    let kept: palm_server::DemoCredentials = serde_json::from_slice(
        &std::fs::read(app.dir.path().join("demo-credentials.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        kept.gate.as_ref().map(|g| &g.credential),
        Some(&gate.credential)
    );
    assert_eq!(
        app.sign_up(451, "+15550100451", &visa(451)).await.status,
        201
    );
    let stranger = at_gate(&app, &gate.credential, 451, &gate.event, "in").await;
    assert_eq!(stranger["allowed"], false, "{stranger}");
    assert_eq!(stranger["reason"], "no_pass");
    let pass = app
        .post(
            &format!("/v1/events/{}/passes", gate.event),
            &app.merchant_key(),
            &json!({"phone": "+15550100451", "kind": "ticket"}),
        )
        .await;
    assert_eq!(pass.status, 202, "{}", pass.body);
    let admitted = at_gate(&app, &gate.credential, 451, &gate.event, "in").await;
    assert_eq!(admitted["allowed"], true, "{admitted}");
    assert_eq!(admitted["reason"], "welcome");
}
