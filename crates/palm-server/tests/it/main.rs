//! End-to-end stories over HTTP against the real server (see common.rs for the harness).

mod bad_input;
mod common;
mod entry;
mod first_scan;
mod hands;
mod limits;
mod loyalty;
mod payments;
mod privacy;
mod protection;
mod recovery;
mod tenants;
mod trips;

use common::*;
use serde_json::json;

#[tokio::test]
async fn health_openapi_and_consent() {
    let app = spawn().await;
    let h = app.get("/healthz", "").await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "ok");
    let doc = app.get("/openapi.json", "").await;
    assert_eq!(doc.status, 200);
    for path in [
        "/v1/signups",
        "/v1/payments/{id}/palm",
        "/v1/payments/{id}/refunds",
        "/v1/webhook_deliveries/{id}/replay",
    ] {
        assert!(doc.body["paths"][path].is_object(), "openapi lacks {path}");
    }
    // Complete enough for a generated client: every path parameter declared, every protected
    // operation names its credential, and the errors the server gives are documented.
    let schemes = &doc.body["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    assert!(schemes["device_signature"].is_object());
    let mut operations = 0;
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                assert!(
                    declared.contains(&name),
                    "{method} {path} lacks path parameter {name}"
                );
            }
            let public = [
                "/healthz",
                "/v1/consent",
                "/v1/retention_policy",
                "/v1/capture_keys",
            ]
            .contains(&path.as_str())
                || path.starts_with("/v1/receipts/")
                || (path == "/v1/devices" && method == "post");
            if !public {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} names no credential"
                );
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
            for status in ["400", "404", "409", "415", "429"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    assert!(operations >= 50, "{operations}");
    let c = app.get("/v1/consent", "").await;
    assert_eq!(c.body["version"], palm_service::CONSENT_VERSION);
    // Browsers ask for a site icon: one is served, not a 404.
    let icon = reqwest::get(format!("{}/favicon.ico", app.base))
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    app.server.shutdown().await;
}

#[tokio::test]
async fn sign_up_then_duplicates_are_refused_and_change_nothing() {
    let app = spawn().await;
    let r = app
        .sign_up(11, "+447700900111", "4242 4242 4242 4242")
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let person = &r.body["person"];
    assert!(person["id"].as_str().unwrap().starts_with("per_"));
    assert_eq!(person["phone_last4"], "0111");
    assert_eq!(person["hands"], json!(["right"]));
    assert_eq!(person["cards"][0]["last4"], "4242");
    assert_eq!(person["cards"][0]["brand"], "visa");
    assert_eq!(person["cards"][0]["is_default"], true);
    let before = app.row_counts().await;

    // The same palm with another phone and card.
    let again = app.sign_up(11, "+447700900222", &visa(1)).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "palm_already_enrolled");
    // Another palm with the same phone number.
    let phone = app.sign_up(12, "+447700900111", &visa(2)).await;
    assert_eq!(phone.body["code"], "phone_in_use");
    // Another palm with the same card.
    let card = app.sign_up(13, "+447700900333", "4242424242424242").await;
    assert_eq!(card.body["code"], "card_in_use");
    assert_eq!(
        app.row_counts().await,
        before,
        "refused sign-ups wrote nothing"
    );

    // Captures of two different palms for one hand.
    let mut body = signup_body(14, "+447700900444", &visa(3));
    body["captures"][1]["image"] = json!(palm(15, 2));
    let mixed = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(mixed.status, 422, "{}", mixed.body);
    assert_eq!(mixed.body["code"], "captures_disagree");
    assert_eq!(app.row_counts().await, before);

    // One picture sent twice proves nothing about agreement: the same bytes, or a copy saved
    // again as a good JPEG.
    let jpeg = |seed: u64, k: u64, keep: f64| {
        use base64::Engine as _;
        let img = palm_synth::Identity::new(seed).render(
            palm_synth::Scene::Roi { size: 128 },
            palm_synth::Capture::new(k),
        );
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
            .encode_image(&img)
            .unwrap();
        bytes.truncate((bytes.len() as f64 * keep) as usize);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    for copy in [palm(16, 1), jpeg(16, 1, 1.0)] {
        let mut body = signup_body(16, "+447700900555", &visa(4));
        body["captures"][2]["image"] = json!(copy);
        let twice = app.post("/v1/signups", &app.till_key(), &body).await;
        assert_eq!(twice.status, 422, "{}", twice.body);
        assert_eq!(twice.body["code"], "captures_identical");
        assert_eq!(twice.body["param"], "captures[2]");
    }
    // A JPEG cut in half is a broken picture, not a capture.
    let mut body = signup_body(16, "+447700900555", &visa(4));
    body["captures"][2]["image"] = json!(jpeg(16, 3, 0.5));
    let half = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(half.status, 400, "{}", half.body);
    assert_eq!(half.body["code"], "invalid_image");
    assert_eq!(half.body["param"], "captures[2]");
    assert_eq!(app.row_counts().await, before);
    app.server.shutdown().await;
}

#[tokio::test]
async fn people_manage_their_cards_and_phone() {
    let app = spawn().await;
    assert_eq!(
        app.sign_up(21, "+15550100021", "5555 5555 5555 4444")
            .await
            .status,
        201
    );
    // A wrong phone number opens nothing.
    let wrong = app
        .post(
            "/v1/people/sessions",
            &app.till_key(),
            &json!({"image": palm(21, 30), "phone": "+15550100099"}),
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let s = app
        .scan(
            "/v1/people/sessions",
            &app.till_key(),
            21,
            json!({"phone": "+1 555 010 0021"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let token = s.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ps_"));

    let added = app
        .post("/v1/me/cards", &token, &json!({"number": visa(77), "exp_month": 1, "exp_year": 2031, "holder_name": "Ada Palm"}))
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["is_default"], false);
    let new_card = added.body["id"].as_str().unwrap().to_string();
    let me = app
        .post(
            &format!("/v1/me/cards/{new_card}/default"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["cards"].as_array().unwrap().len(), 2);
    // A payment now uses the new default card.
    let paid = app.pay(21, 700).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert_eq!(paid.body["card"]["id"], new_card.as_str());
    // Removing the default card makes the other one the default.
    let del = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/me/cards/{new_card}"),
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.body["cards"].as_array().unwrap().len(), 1);
    assert_eq!(me.body["cards"][0]["is_default"], true);
    assert_eq!(me.body["cards"][0]["last4"], "4444");
    // A new phone number: the old one no longer opens a session, the new one does.
    let changed = app
        .post("/v1/me/phone", &token, &json!({"phone": "+15550100042"}))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["phone_last4"], "0042");
    let old = app
        .post(
            "/v1/people/sessions",
            &app.till_key(),
            &json!({"image": palm(21, 31), "phone": "+15550100021"}),
        )
        .await;
    assert_eq!(old.status, 422);
    let new = app
        .scan(
            "/v1/people/sessions",
            &app.till_key(),
            21,
            json!({"phone": "+15550100042"}),
        )
        .await;
    assert_eq!(new.status, 201, "{}", new.body);
    // Sessions are bearer tokens of their own kind.
    assert_eq!(app.get("/v1/me", &app.till_key()).await.status, 401);
    assert_eq!(app.get("/v1/me", "ps_unknown").await.status, 401);
    app.server.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_people_and_keys_rotate_while_serving() {
    let app = spawn().await;
    assert_eq!(app.sign_up(31, "+15550100031", &visa(31)).await.status, 201);
    let (url, hook) = webhook_receiver(0).await;
    let hook_body = json!({"url": url});
    let keyed_hook = || {
        app.send(
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            &app.demo.api_key,
            Some(&hook_body),
            Some("hook-before-rotation"),
        )
    };
    let ep = keyed_hook().await;
    assert_eq!(ep.status, 201);

    let report = palm_server::keys::rotate(&app.config.data_dir, app.store().as_ref())
        .await
        .unwrap();
    assert_eq!(report.new_master, 2);
    assert_eq!(
        (
            report.people_rewrapped,
            report.endpoints_rewrapped,
            report.answers_rewrapped
        ),
        (1, 1, 1)
    );
    assert_eq!(report.retired, vec![1]);
    assert!(
        app.config
            .data_dir
            .join("keys/master-1.key.retired")
            .exists()
    );
    assert!(!app.config.data_dir.join("keys/master-1.key").exists());
    // The stored answer of the keyed request still opens, under the new key only.
    let replay = keyed_hook().await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["secret"], ep.body["secret"]);
    // The running server reads the new key when it meets it.
    let paid = app.pay(31, 1250).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert!(
        eventually(|| !hook.lock().unwrap().is_empty()).await,
        "webhook after rotation"
    );
    assert_eq!(app.sign_up(32, "+15550100032", &visa(32)).await.status, 201);

    // Restart on the same data directory and database: the index is rebuilt from the store.
    let app = app.restart().await;
    assert_eq!(app.server.service.palms(), 2);
    let paid = app.pay(32, 990).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    app.server.shutdown().await;
}
