//! Gate devices against a real server: sealed palms at an event's gate (and never as a till),
//! offline decisions from a sealed allow-list uploaded when the server is back, and a walk-out
//! store's gate opening and ending shopping trips.

use super::*;
use palm_service::store::PersonId;

#[tokio::test]
async fn a_gate_device_scans_sealed_palms_and_cannot_act_as_a_till() {
    let w = World::start().await;
    let mk = w.merchant_key();
    let person = w.sign_up(503, "+15550100503", "4242424242424242").await;
    assert!(person.starts_with("per_"));
    let (gate, eid) = w.event_with_ticket(1, true, "+15550100503", 503).await;

    let dir = tempfile::tempdir().unwrap();
    let device = w.paired_device(json!({"gate": gate}), dir.path()).await;
    assert_eq!(device.paired().unwrap().device.kind, "gate");
    let d = device.gate_scan(&eid, hover(503, 6), "in").await.unwrap();
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(
        (d.body["allowed"].clone(), d.body["reason"].clone()),
        (json!(true), json!("welcome"))
    );

    // A gate's capture sealed for the gate does not open as a payment's, and a gate device is
    // not a till.
    let p = w.payment(100).await;
    let r = device.pay(&p, hover(503, 6), None).await.unwrap();
    assert_eq!((r.status, code(&r)), (403, "wrong_device"), "{}", r.body);
    // Pairing needs exactly one target that is the merchant's.
    for bad in [
        json!({}),
        json!({"till": "till_nope"}),
        json!({"till": w.till().0, "gate": gate}),
    ] {
        let r = w.post("/v1/devices/pairing_codes", &mk, &bad).await;
        assert!(matches!(r.status, 400 | 404), "{bad}: {}", r.body);
    }
    let r = w
        .post(
            "/v1/devices",
            "",
            &json!({"pairing_code": "NOPE-NOPE", "name": "x",
            "signing_key": B64.encode([1u8; 32]), "seal_key": B64.encode([2u8; 32])}),
        )
        .await;
    assert_eq!((r.status, code(&r)), (400, "invalid_pairing_code"));
    let r = w
        .post(
            "/v1/devices",
            "",
            &json!({"pairing_code": "NOPE-NOPE", "name": "x",
            "signing_key": "short", "seal_key": B64.encode([2u8; 32])}),
        )
        .await;
    assert_eq!(r.status, 400);
    // Guessing codes: after ten wrong ones from one address it is locked out, even for a right
    // code, and told how long to wait.
    let guess = async |code: &str| {
        let body = json!({"pairing_code": code, "name": "x",
            "signing_key": B64.encode([1u8; 32]), "seal_key": B64.encode([2u8; 32])});
        w.post("/v1/devices", "", &body).await
    };
    let mut wrong = 0;
    let locked = loop {
        let r = guess("GUES-SING").await;
        if r.status == 429 {
            break r;
        }
        assert_eq!(code(&r), "invalid_pairing_code", "{}", r.body);
        wrong += 1;
        assert!(wrong <= 10, "no lockout after {wrong} wrong codes");
    };
    assert_eq!(code(&locked), "too_many_attempts");
    let raw = w
        .http
        .post(format!("{}/v1/devices", w.base))
        .json(&json!({"pairing_code": "GUES-SING", "name": "x",
            "signing_key": B64.encode([1u8; 32]), "seal_key": B64.encode([2u8; 32])}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    assert!(raw.headers().get("retry-after").is_some());
    let right = w
        .post(
            "/v1/devices/pairing_codes",
            &mk,
            &json!({"till": w.till().0}),
        )
        .await;
    let refused = guess(right.body["code"].as_str().unwrap()).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_gate_decides_offline_from_its_sealed_allow_list_and_uploads_when_back() {
    let w = World::start().await;
    let mk = w.merchant_key();
    let holder = w.sign_up(511, "+15550100511", "4242424242424242").await;
    let _stranger = w.sign_up(512, "+15550100512", "4000056655665556").await;
    let (gate, eid) = w.event_with_ticket(2, false, "+15550100511", 511).await;
    let now = w.clock.now_s();

    let dir = tempfile::tempdir().unwrap();
    let device = w.paired_device(json!({"gate": gate}), dir.path()).await;
    let device_id = device.paired().unwrap().device.id.clone();
    let synced = device.sync_allow_list(dir.path(), &eid).await.unwrap();
    assert_eq!(synced.expires, now + 7200);
    // Kept sealed on disk: no template or person id in the clear.
    let on_disk = std::fs::read(dir.path().join(format!("allow-list-{eid}.json"))).unwrap();
    let text = String::from_utf8_lossy(&on_disk);
    assert!(!text.contains(&holder) && !text.contains("PLMP"), "{text}");
    // Another device's key does not open it, nor does an altered file.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join(format!("allow-list-{eid}.json")),
        other.path().join(format!("allow-list-{eid}.json")),
    )
    .unwrap();
    let other_keys = DeviceKeys::open(other.path()).unwrap();
    assert!(OfflineGate::open(other.path(), &other_keys, &device_id, &eid).is_err());
    let keys = DeviceKeys::open(dir.path()).unwrap();
    let mut gate_offline = OfflineGate::open(dir.path(), &keys, &device_id, &eid).unwrap();
    assert_eq!(
        gate_offline.people(),
        1,
        "only the pass holder is on the list"
    );

    // The network goes down: scans fail to reach the server, the gate decides alone.
    let mut decisions = Vec::new();
    let w = w
        .restart(async || {
            let online = device.gate_scan(&eid, hover(511, 6), "in").await;
            assert!(
                matches!(online, Err(palm_scanner::ScannerError::Network(_))),
                "{online:?}"
            );
            let t = now + 10;
            for (seed, direction) in [
                (511, "in"),
                (512, "in"),
                (511, "in"),
                (511, "out"),
                (511, "in"),
            ] {
                let d = gate_offline.decide(&hover(seed, 6), direction, t).unwrap();
                decisions.push((d.allowed, d.reason));
            }
        })
        .await;
    let reasons: Vec<&str> = decisions.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "welcome",
            "palm_not_recognised",
            "already_inside",
            "goodbye",
            "no_reentry"
        ]
    );

    // Back online: the queue is uploaded once; the server now knows the holder came and went.
    let up = device.upload_queue(dir.path()).await.unwrap();
    assert_eq!((up.recorded, up.duplicates), (5, 0));
    assert!(!dir.path().join("offline-queue.jsonl").exists());
    let again = device.upload_queue(dir.path()).await.unwrap();
    assert_eq!(again.recorded, 0);
    let store = w.server.service.store();
    let holder_id = PersonId::new(&holder);
    assert_eq!(store.crossings(&eid, &holder_id).await.unwrap(), (1, 1));
    // Online, the server applies the uploaded history: no re-entry for this event.
    let online = device.gate_scan(&eid, hover(511, 6), "in").await.unwrap();
    assert_eq!(online.body["reason"], "no_reentry", "{}", online.body);

    // Revocation reaches the gate the next time it is online; the list is gone from its disk.
    assert!(!device.check_allow_list(dir.path(), &eid).await.unwrap());
    let revoked = w
        .post(
            &format!("/v1/events/{eid}/allow_lists/revoke"),
            &mk,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.body["revoked"], 1, "{}", revoked.body);
    assert!(device.check_allow_list(dir.path(), &eid).await.unwrap());
    assert!(OfflineGate::open(dir.path(), &keys, &device_id, &eid).is_err());

    // A list expires with its event, and none is issued once the event is over.
    device.sync_allow_list(dir.path(), &eid).await.unwrap();
    let mut gate_offline = OfflineGate::open(dir.path(), &keys, &device_id, &eid).unwrap();
    let late = gate_offline
        .decide(&hover(511, 6), "in", now + 7201)
        .unwrap();
    assert_eq!(
        (late.allowed, late.reason.as_str()),
        (false, "allow_list_expired")
    );
    w.clock.advance_ms(7300 * 1000);
    let over = device
        .sync_allow_list(dir.path(), &eid)
        .await
        .unwrap_err()
        .to_string();
    assert!(over.contains("event_over"), "{over}");

    // Bad uploads change nothing: a made-up list, a malformed id.
    let bad = device
        .signed("POST", "/v1/gate/entries", Some(&json!({"entries": [{
            "id": "ent_0123456789abcdef01", "event": eid, "person": null, "direction": "in",
            "allowed": true, "reason": "welcome", "decided_at": now + 20, "allow_list": "alw_nope"}]})))
        .await
        .unwrap();
    assert_eq!(bad.status, 404, "{}", bad.body);
    let bad = device
        .signed("POST", "/v1/gate/entries", Some(&json!({"entries": [{
            "id": "x", "event": eid, "person": null, "direction": "in",
            "allowed": true, "reason": "welcome", "decided_at": now + 20, "allow_list": synced.id}]})))
        .await
        .unwrap();
    assert_eq!((bad.status, code(&bad)), (400, "invalid_entry_id"));
    // Offline a gate knows only its list's pass holders: a claim about anyone else is refused.
    let bad = device
        .signed("POST", "/v1/gate/entries", Some(&json!({"entries": [{
            "id": "ent_0123456789abcdef02", "event": eid, "person": "per_nobody", "direction": "in",
            "allowed": true, "reason": "welcome", "decided_at": now + 20, "allow_list": synced.id}]})))
        .await
        .unwrap();
    assert_eq!(
        (bad.status, code(&bad)),
        (400, "unknown_person"),
        "{}",
        bad.body
    );
    // Batches are bounded.
    let many: Vec<_> = (0..=palm_api::MAX_OFFLINE_ENTRIES)
        .map(|i| json!({"id": format!("ent_{i:020}"), "event": eid, "person": null, "direction": "in",
            "allowed": false, "reason": "palm_not_recognised", "decided_at": now + 20, "allow_list": synced.id}))
        .collect();
    let bad = device
        .signed("POST", "/v1/gate/entries", Some(&json!({"entries": many})))
        .await
        .unwrap();
    assert_eq!((bad.status, code(&bad)), (400, "too_many_entries"));
    assert_eq!(store.crossings(&eid, &holder_id).await.unwrap(), (1, 1));
    // What the gate uploaded is listed as its claim.
    let listed = w.get("/v1/entries?limit=100", Some(&mk)).await;
    let offline = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["offline"] == true)
        .count();
    assert_eq!(offline, 5, "{}", listed.body);
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_gate_device_at_a_walk_out_store_opens_and_ends_trips_with_sealed_palms() {
    let w = World::start().await;
    let mk = w.merchant_key();
    w.sign_up(504, "+15550100504", "4242424242424242").await;
    let store = w
        .post(
            "/v1/venues",
            &mk,
            &json!({"name": "Grab", "gates": [{"name": "Door"}],
                "walk_out": {"currency": "usd", "hold": 2000}}),
        )
        .await;
    assert_eq!(store.status, 201, "{}", store.body);
    let gate = store.body["gates"][0]["id"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let device = w.paired_device(json!({"gate": gate}), dir.path()).await;
    // No event at a walk-out store: `in` opens a trip, sealed to this gate.
    // A palm not read is hovered again, as at a real gate.
    let mut d = device.gate_scan("", hover(504, 6), "in").await.unwrap();
    for k in 7..12 {
        if d.body["reason"] != "palm_not_recognised" {
            break;
        }
        d = device.gate_scan("", hover(504, k), "in").await.unwrap();
    }
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["reason"], "welcome", "{}", d.body);
    let trip = d.body["trip"].as_str().unwrap().to_string();
    let t = w
        .get(&format!("/v1/shopping_trips/{trip}"), Some(&mk))
        .await;
    assert_eq!(t.body["status"], "open", "{}", t.body);
    let mut out = device.gate_scan("", hover(504, 12), "out").await.unwrap();
    for k in 13..18 {
        if out.body["reason"] != "palm_not_recognised" {
            break;
        }
        out = device.gate_scan("", hover(504, k), "out").await.unwrap();
    }
    assert_eq!(
        (&out.body["reason"], &out.body["trip"]),
        (&json!("goodbye"), &json!(trip))
    );
    let t = w
        .get(&format!("/v1/shopping_trips/{trip}"), Some(&mk))
        .await;
    assert_eq!(
        (&t.body["status"], &t.body["charged"]),
        (&json!("completed"), &json!(0))
    );
    w.server.shutdown().await;
}
