//! The scanner against a real server (SQLite, port 0, a clock the test moves): pairing; signed
//! requests accepted, and tampered, stale, replayed, unsigned and revoked ones refused; sealed
//! captures that pay, refused for another payment or when replayed; capture-key rotation with
//! its overlap. Gate devices: gates.rs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use palm_scanner::capture::Gesture;
use palm_scanner::offline::OfflineGate;
use palm_scanner::synthetic::Synthetic;
use palm_scanner::{Client, DeviceKeys, Reply};
use palm_server::config::Config;
use palm_server::server::Server;
use palm_service::{Clock, ManualClock};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use serde_json::{Value, json};
use std::sync::Arc;

mod gates;

const START_MS: i64 = 1_795_683_600_000;

struct World {
    server: Server,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
    base: String,
    config: Config,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            ..Config::default()
        };
        config.processor.latency_ms = 2;
        // On PostgreSQL too when PALMLINE_TEST_POSTGRES names an admin URL (as `.ci/run` does).
        if let Ok(admin) = std::env::var("PALMLINE_TEST_POSTGRES") {
            let suffix = format!("{}{}", std::process::id(), dir.path().display());
            config.database = Some(
                palm_store::create_test_database(&admin, &suffix)
                    .await
                    .unwrap(),
            );
        }
        let clock = Arc::new(ManualClock::new(START_MS));
        let server = Server::start_with_clock(&config, clock.clone())
            .await
            .unwrap();
        World {
            base: format!("http://{}", server.addr),
            server,
            clock,
            http: reqwest::Client::new(),
            config,
            _dir: dir,
        }
    }

    /// Stops the server (the network is "down" for its clients), then starts it again on the
    /// same address, data and clock.
    async fn restart(self, while_down: impl AsyncFnOnce()) -> World {
        let World {
            server,
            clock,
            http,
            base,
            mut config,
            _dir,
        } = self;
        let addr = server.addr;
        server.shutdown().await;
        while_down().await;
        config.listen = addr.to_string();
        let server = Server::start_with_clock(&config, clock.clone())
            .await
            .unwrap();
        World {
            server,
            clock,
            http,
            base,
            config,
            _dir,
        }
    }

    fn merchant_key(&self) -> String {
        self.server.demo.as_ref().unwrap().api_key.clone()
    }

    fn till(&self) -> (String, String) {
        let t = &self.server.demo.as_ref().unwrap().tills[0];
        (t.id.clone(), t.credential.clone())
    }

    async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        Reply {
            status,
            body: r.json().await.unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        Reply {
            status,
            body: r.json().await.unwrap_or(Value::Null),
        }
    }

    /// A device paired with `target` (`{"till": id}` or `{"gate": id}`), keys in `dir`.
    async fn paired_device(&self, target: Value, dir: &std::path::Path) -> Client {
        let code = self
            .post("/v1/devices/pairing_codes", &self.merchant_key(), &target)
            .await;
        assert_eq!(code.status, 201, "{}", code.body);
        let clock = self.clock.clone();
        let mut client = Client::new(&self.base, DeviceKeys::open(dir).unwrap(), None)
            .unwrap()
            .with_clock(Arc::new(move || clock.now_s()));
        let paired = client
            .pair(code.body["code"].as_str().unwrap(), "scanner")
            .await
            .unwrap();
        assert_eq!(paired.device.name, "scanner");
        // A pairing code works once.
        let mut again = Client::new(&self.base, DeviceKeys::open(dir).unwrap(), None).unwrap();
        let err = again
            .pair(code.body["code"].as_str().unwrap(), "twin")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid_pairing_code"), "{err}");
        client
    }

    async fn sign_up(&self, seed: u64, phone: &str, card: &str) -> String {
        let img = |k| {
            B64.encode(png_bytes(
                &Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(k)),
            ))
        };
        let r = self
            .post(
                "/v1/signups",
                &self.till().1,
                &json!({
                    "phone": phone,
                    "card": {"number": card, "exp_month": 12, "exp_year": 2035, "holder_name": "Ada Palm"},
                    "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
                    "captures": [
                        {"hand": "right", "image": img(1)},
                        {"hand": "right", "image": img(2)},
                        {"hand": "right", "image": img(3)}
                    ]
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["person"]["id"].as_str().unwrap().to_string()
    }

    /// A venue with one gate, an event from a minute ago lasting `hours`, and a ticket for
    /// person `seed` enrolled with `phone` (an invitation, taken up by their palm at one of the
    /// merchant's tills): (gate id, event id).
    async fn event_with_ticket(
        &self,
        hours: i64,
        reentry: bool,
        phone: &str,
        seed: u64,
    ) -> (String, String) {
        let mk = self.merchant_key();
        let venue = self
            .post(
                "/v1/venues",
                &mk,
                &json!({"name": "Hall", "gates": [{"name": "Door"}]}),
            )
            .await;
        assert_eq!(venue.status, 201, "{}", venue.body);
        let gate = venue.body["gates"][0]["id"].as_str().unwrap().to_string();
        let vid = venue.body["id"].as_str().unwrap();
        let now = self.clock.now_s();
        let event = self
            .post(
                &format!("/v1/venues/{vid}/events"),
                &mk,
                &json!({
                "name": "Show", "starts": now - 60, "ends": now + hours * 3600,
                "capacity": 100, "reentry": reentry}),
            )
            .await;
        assert_eq!(event.status, 201, "{}", event.body);
        let eid = event.body["id"].as_str().unwrap().to_string();
        let pass = self
            .post(
                &format!("/v1/events/{eid}/passes"),
                &mk,
                &json!({"phone": phone, "kind": "ticket"}),
            )
            .await;
        assert_eq!(pass.status, 202, "{}", pass.body);
        // A palm not read is hovered again, as at a real till.
        let mut shown = None;
        for k in 40..46 {
            let image = B64.encode(png_bytes(
                &Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(k)),
            ));
            let r = self
                .post(
                    "/v1/loyalty/present",
                    &self.till().1,
                    &json!({"image": image, "phone_last4": &phone[phone.len() - 4..]}),
                )
                .await;
            let read = r.status == 200;
            shown = Some(r);
            if read {
                break;
            }
        }
        let shown = shown.unwrap();
        assert_eq!(shown.status, 200, "{}", shown.body);
        (gate, eid)
    }

    async fn payment(&self, amount: i64) -> String {
        let r = self
            .post(
                "/v1/payments",
                &self.merchant_key(),
                &json!({"amount": amount, "currency": "usd", "till": self.till().0}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }
}

/// A steady palm from the synthetic source, as the device would send it.
fn hover(seed: u64, capture: u64) -> Vec<u8> {
    let mut guidance = Vec::new();
    let frame = Gesture::default()
        .wait_for_palm(&mut Synthetic::new(seed, capture, false, 5), |g| {
            guidance.push(g.to_string())
        })
        .unwrap();
    assert!(guidance.is_empty(), "{guidance:?}");
    frame
}

/// A signed palm submission with a sealed capture.
async fn pay_sealed(device: &Client, payment: &str, sealed: &palm_api::SealedImage) -> Reply {
    device
        .signed(
            "POST",
            &format!("/v1/payments/{payment}/palm"),
            Some(&json!({"sealed_image": sealed})),
        )
        .await
        .unwrap()
}

/// A person at a till hovers again when a capture is not read (`palm_not_recognised`), as tills
/// and `scripts/try-payment.sh` do: synthetic captures, like real ones, sometimes fall below the
/// open-set threshold. Up to four hovers, each a new capture sealed anew.
async fn pay_hovering(device: &Client, payment: &str, seed: u64, first: u64) -> Reply {
    for capture in first..first + 4 {
        let r = device
            .pay(payment, hover(seed, capture), None)
            .await
            .unwrap();
        if code(&r) != "palm_not_recognised" {
            return r;
        }
    }
    panic!("palm {seed} not recognised in four hovers");
}

fn code(r: &Reply) -> &str {
    r.body["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn signed_requests_are_checked_and_sealed_captures_pay_only_their_payment() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let till = w.till().0;
    let device = w.paired_device(json!({"till": till}), dir.path()).await;
    let id = device.paired().unwrap().device.id.clone();
    let mode = std::fs::metadata(dir.path().join("signing.key"))
        .unwrap()
        .permissions();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let _ = mode;

    // Signed: accepted, and the server says what the device is.
    let me = device.signed("GET", "/v1/device", None).await.unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["till"], json!(till));
    assert_eq!(me.body["kind"], "till");

    // Unsigned, half-signed, stale, replayed, tampered: refused.
    assert_eq!(code(&w.get("/v1/device", None).await), "unsigned_request");
    let half = w
        .http
        .get(format!("{}/v1/device", w.base))
        .header("palmline-device", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(half.status(), 401);
    let now = w.clock.now_s();
    let stale = device
        .signed_with("GET", "/v1/device", None, now - 61, "stale-nonce-000001")
        .await
        .unwrap();
    assert_eq!((stale.status, code(&stale)), (401, "stale_request"));
    let first = device
        .signed_with("GET", "/v1/device", None, now, "replay-nonce-00001")
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    let replay = device
        .signed_with("GET", "/v1/device", None, now, "replay-nonce-00001")
        .await
        .unwrap();
    assert_eq!((replay.status, code(&replay)), (401, "replayed_request"));
    let keys = DeviceKeys::open(dir.path()).unwrap();
    let message = palm_vault::device::request_message(
        "POST",
        "/v1/payments",
        b"{\"amount\":1}",
        now,
        "tamper-nonce-0001",
    );
    let tampered = w
        .http
        .post(format!("{}/v1/payments", w.base))
        .header("palmline-device", &id)
        .header("palmline-timestamp", now.to_string())
        .header("palmline-nonce", "tamper-nonce-0001")
        .header(
            "palmline-signature",
            B64.encode(keys.signing.sign(&message)),
        )
        .header("content-type", "application/json")
        .body("{\"amount\":100000}")
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let body: Value = tampered.json().await.unwrap();
    assert_eq!(body["code"], "invalid_signature");

    // A sealed capture pays its payment, and no other.
    w.sign_up(501, "+15550100501", "4242424242424242").await;
    let (p1, p2) = (w.payment(1200).await, w.payment(800).await);
    let sealed = device.seal(hover(501, 5), "payment", &p1).await.unwrap();
    let wrong = pay_sealed(&device, &p2, &sealed).await;
    assert_eq!(
        (wrong.status, code(&wrong)),
        (400, "capture_not_for_this_request"),
        "{}",
        wrong.body
    );
    let right = pay_sealed(&device, &p1, &sealed).await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.body["status"], "succeeded");
    let p2_now = w
        .get(&format!("/v1/payments/{p2}"), Some(&w.merchant_key()))
        .await;
    assert_eq!(p2_now.body["status"], "requires_palm");
    // A plain picture from a paired device is refused, however well signed: its captures travel
    // sealed.
    let plain = device
        .signed(
            "POST",
            &format!("/v1/payments/{p2}/palm"),
            Some(&json!({"image": "aGVsbG8="})),
        )
        .await
        .unwrap();
    assert_eq!(
        (plain.status, code(&plain)),
        (400, "sealed_capture_required"),
        "{}",
        plain.body
    );
    // Nor are a hover's frames in the clear.
    let frames = vec!["aGVsbG8="; 3];
    let plain = device
        .signed(
            "POST",
            &format!("/v1/payments/{p2}/palm"),
            Some(&json!({ "frames": frames })),
        )
        .await
        .unwrap();
    assert_eq!(
        (plain.status, code(&plain)),
        (400, "sealed_capture_required")
    );

    // A stranger's sealed palm is not recognised; sending the same sealed capture again is a
    // replay.
    let stranger = device.seal(hover(777, 4), "payment", &p2).await.unwrap();
    let body = json!({"sealed_image": stranger});
    let miss = device
        .signed("POST", &format!("/v1/payments/{p2}/palm"), Some(&body))
        .await
        .unwrap();
    assert_eq!(code(&miss), "palm_not_recognised", "{}", miss.body);
    let again = device
        .signed("POST", &format!("/v1/payments/{p2}/palm"), Some(&body))
        .await
        .unwrap();
    assert_eq!((again.status, code(&again)), (400, "capture_replayed"));
    // The convenience path: gesture, seal, signed submit.
    let paid = pay_hovering(&device, &p2, 501, 11).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);

    // A hover: the gesture's three steady frames, each sealed, decided on together.
    let p3 = w.payment(640).await;
    let frames = Gesture::default()
        .wait_for_hover(&mut Synthetic::new(501, 20, false, 5), |_| {})
        .unwrap();
    assert_eq!(frames.len(), 3);
    let paid = device.pay_hover(&p3, frames, Some("0501")).await.unwrap();
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert_eq!(paid.body["amount_captured"], 640);

    // A stranger's hover names no one: the server asks for the other hand, whose sealed hover
    // goes with the first one's (sealed again: each sealed frame opens once), and the two
    // together still name no one.
    let p4 = w.payment(700).await;
    let stranger = |seed| {
        Gesture::default()
            .wait_for_hover(&mut Synthetic::new(seed, 20, false, 5), |_| {})
            .unwrap()
    };
    let asked = device.pay_hover(&p4, stranger(778), None).await.unwrap();
    assert_eq!(
        (asked.status, code(&asked)),
        (422, "needs_second_hand"),
        "{}",
        asked.body
    );
    let both = device
        .pay_two_hovers(&p4, stranger(778), stranger(779), None)
        .await
        .unwrap();
    assert_eq!(
        (both.status, code(&both)),
        (422, "palm_not_recognised"),
        "{}",
        both.body
    );

    // Revoked: every signed request is refused from then on.
    let listed = w.get("/v1/devices", Some(&w.merchant_key())).await;
    assert_eq!(listed.body["data"][0]["id"], json!(id));
    let revoked = w
        .post(
            &format!("/v1/devices/{id}/revoke"),
            &w.merchant_key(),
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body["revoked"].is_i64());
    let after = device.signed("GET", "/v1/device", None).await.unwrap();
    assert_eq!((after.status, code(&after)), (401, "device_revoked"));
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_retired_capture_key_opens_captures_only_during_its_overlap() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let device = w
        .paired_device(json!({"till": w.till().0}), dir.path())
        .await;
    w.sign_up(502, "+15550100502", "4242424242424242").await;
    let keys = device.capture_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    let old = keys[0].clone();
    assert_eq!(old.expires, None);
    // The device remembers the current key from its first capture...
    device
        .seal(hover(502, 7), "payment", "pay_warm_up")
        .await
        .unwrap();

    let new_id = palm_server::keys::rotate_capture(&w.config.data_dir, w.clock.now_s()).unwrap();
    assert_eq!(new_id, 2);
    let keys = device.capture_keys().await.unwrap();
    let overlap = w.config.capture_key_overlap_s;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(
        keys.iter().find(|k| k.id == 1).unwrap().expires,
        Some(w.clock.now_s() + overlap)
    );

    // Within the overlap, a capture a device sealed to the old key still pays.
    let p1 = w.payment(500).await;
    let mut paid = None;
    for capture in 7..11 {
        let sealed = device
            .seal_to(&hover(502, capture), &old, "payment", &p1)
            .unwrap();
        let r = pay_sealed(&device, &p1, &sealed).await;
        if code(&r) != "palm_not_recognised" {
            paid = Some(r);
            break;
        }
    }
    let paid = paid.expect("palm 502 not recognised in four hovers");
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);

    // After it, refused; new captures go to the new key.
    w.clock.advance_ms((overlap + 1) * 1000);
    let p2 = w.payment(600).await;
    let late = device
        .seal_to(&hover(502, 8), &old, "payment", &p2)
        .unwrap();
    let refused = pay_sealed(&device, &p2, &late).await;
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "capture_key_retired"),
        "{}",
        refused.body
    );
    let keys = device.capture_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![2]);
    // ...and, told that key is retired, seals to the new one and pays.
    let paid = pay_hovering(&device, &p2, 502, 8).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    w.server.shutdown().await;
}
