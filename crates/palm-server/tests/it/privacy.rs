//! Privacy rights over HTTP: delete me (palm + code sent to the phone), crypto-shredding checked
//! in the raw database file, retention with a moved clock, the audit export.

use crate::common::*;
use palm_service::ManualClock;
use palm_service::store::PersonId;
use serde_json::json;
use std::sync::Arc;

fn count(rows: &[(String, i64)], table: &str) -> i64 {
    rows.iter()
        .find(|(t, _)| t == table)
        .map_or(-1, |(_, n)| *n)
}

/// Every byte of the SQLite database files (main file and write-ahead log).
fn raw_database(app: &TestApp) -> Option<Vec<u8>> {
    if app.config.database.is_some() {
        return None;
    }
    let mut bytes = vec![];
    for name in ["palmline.db", "palmline.db-wal"] {
        if let Ok(b) = std::fs::read(app.config.data_dir.join(name)) {
            bytes.extend(b);
        }
    }
    Some(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn delete_me_with_palm_and_phone_code_shreds_everything() {
    let app = spawn().await;
    let phone = "+447700900191";
    let signed = app.sign_up(91, phone, &visa(91)).await;
    assert_eq!(signed.status, 201);
    let person_id = signed.body["person"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.pay(91, 700).await.body["status"], "succeeded");

    // The audit export lists each read of the palm data.
    let session = app
        .scan(
            "/v1/people/sessions",
            &app.till_key(),
            91,
            json!({"phone": phone}),
        )
        .await;
    let token = session.body["token"].as_str().unwrap().to_string();
    let audit = app.get("/v1/me/audit", &token).await;
    let purposes: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["enrolment", "payment", "person_session"]);
    assert_eq!(audit.body["data"][1]["actor"], app.till().0.as_str());

    let person = app
        .store()
        .person(&PersonId::new(&person_id))
        .await
        .unwrap()
        .unwrap();
    let template = app
        .store()
        .palms_of(&PersonId::new(&person_id))
        .await
        .unwrap()[0]
        .template_sealed
        .clone();
    if let Some(raw) = raw_database(&app) {
        assert!(
            contains(&raw, &person.wrapped_key),
            "the raw file holds the wrapped key before"
        );
    }

    // A wrong phone number asks for nothing; the right one sends a code.
    let wrong = app.ask_deletion(91, "+447700900999").await;
    assert_eq!(wrong.status, 422);
    let req = app.ask_deletion(91, phone).await;
    assert_eq!(req.status, 201, "{}", req.body);
    let id = req.body["id"].as_str().unwrap().to_string();
    let code = app.server.phone.last_code(phone).expect("a code was sent");
    let before = app.row_counts().await;
    let bad = app
        .post(
            &format!("/v1/people/deletions/{id}/confirm"),
            &app.till_key(),
            &json!({"code": "000000x"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["code"], "invalid_code");
    assert_eq!(
        count(&app.row_counts().await, "people"),
        count(&before, "people")
    );

    let done = app
        .post(
            &format!("/v1/people/deletions/{id}/confirm"),
            &app.till_key(),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "deleted");
    assert_eq!(
        done.body["erased_everywhere"], true,
        "one machine: out of the index at once"
    );
    let replay = app
        .post(
            &format!("/v1/people/deletions/{id}/confirm"),
            &app.till_key(),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(replay.status, 409);
    assert_eq!(replay.body["code"], "deletion_code_used");

    let rows = app.row_counts().await;
    for table in ["people", "palms", "cards", "sessions", "consents"] {
        assert_eq!(count(&rows, table), 0, "{table} emptied");
    }
    assert_eq!(
        count(&rows, "payments"),
        1,
        "the merchant's payment record stays"
    );
    assert_eq!(app.server.service.palms(), 0);
    assert_eq!(
        app.get("/v1/me", &token).await.status,
        401,
        "the session went too"
    );
    let p = app.create_payment(100).await;
    let gone = app
        .post(
            &format!("/v1/payments/{}/palm", p["id"].as_str().unwrap()),
            &app.till_key(),
            &json!({"image": palm(91, 50)}),
        )
        .await;
    assert_eq!(gone.body["code"], "palm_not_recognised");
    // Crypto-shredding: the wrapped data key is gone from the database files, and with it any
    // way to open the template ciphertext (which is gone from them too).
    if let Some(raw) = raw_database(&app) {
        assert!(
            !contains(&raw, &person.wrapped_key),
            "the wrapped key left the file"
        );
        assert!(
            !contains(&raw, &template),
            "the sealed template left the file"
        );
    }
    // The deletion is in the audit log, kept without the person.
    let log = app
        .store()
        .audit_of(&PersonId::new(&person_id))
        .await
        .unwrap();
    assert_eq!(log.last().unwrap().purpose, "deletion");
    app.server.shutdown().await;
}

#[tokio::test]
async fn retention_deletes_people_unused_for_two_years() {
    let clock = Arc::new(ManualClock::new(1_795_683_600_000));
    let app = spawn_with_clock(clock.clone()).await;
    let policy = app.get("/v1/retention_policy", "").await;
    assert_eq!(policy.body["biometric_retention_days"], 730);
    assert_eq!(app.sign_up(93, "+15550100093", &visa(93)).await.status, 201);
    assert_eq!(app.sign_up(94, "+15550100094", &visa(94)).await.status, 201);
    let day = 86_400_000;
    clock.advance_ms(400 * day);
    assert_eq!(
        app.pay(94, 300).await.body["status"],
        "succeeded",
        "94 uses Palmline"
    );
    assert_eq!(
        app.server.service.enforce_retention().await.unwrap(),
        0,
        "nobody is two years idle yet"
    );
    clock.advance_ms(400 * day);
    assert_eq!(app.server.service.enforce_retention().await.unwrap(), 1);
    assert_eq!(app.server.service.palms(), 1);
    let idle = app.pay(93, 300).await;
    assert_eq!(idle.body["code"], "palm_not_recognised", "{}", idle.body);
    assert_eq!(app.pay(94, 300).await.body["status"], "succeeded");
    app.server.shutdown().await;
}

#[tokio::test]
async fn deletion_codes_expire_and_lock_after_wrong_tries() {
    let clock = Arc::new(ManualClock::new(1_795_683_600_000));
    let app = spawn_with_clock(clock.clone()).await;
    let phone = "+15550100095";
    assert_eq!(app.sign_up(95, phone, &visa(95)).await.status, 201);
    let ask = || app.ask_deletion(95, phone);
    let confirm = |id: String, code: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/people/deletions/{id}/confirm"),
                &app.till_key(),
                &json!({"code": code}),
            )
            .await
        }
    };
    let unknown = confirm("del_nope".into(), "123456".into()).await;
    assert_eq!(unknown.status, 404);

    let first = ask().await;
    let id = first.body["id"].as_str().unwrap().to_string();
    let code = app.server.phone.last_code(phone).unwrap();
    clock.advance_ms(11 * 60 * 1000);
    let late = confirm(id, code).await;
    assert_eq!(late.body["code"], "deletion_code_expired");

    let second = ask().await;
    let id = second.body["id"].as_str().unwrap().to_string();
    let code = app.server.phone.last_code(phone).unwrap();
    for _ in 0..5 {
        assert_eq!(
            confirm(id.clone(), "999999x".into()).await.body["code"],
            "invalid_code"
        );
    }
    let locked = confirm(id, code).await;
    assert_eq!(locked.body["code"], "too_many_attempts");
    assert_eq!(
        count(&app.row_counts().await, "people"),
        1,
        "still enrolled"
    );
    app.server.shutdown().await;
}

/// An SMS gateway on port 0: what it was sent, as (Authorization header, JSON body).
async fn sms_gateway() -> (
    String,
    Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    use axum::http::HeaderMap;
    let received: Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(
            move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    seen.lock().unwrap().push((auth, body));
                    "queued"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/sms"), received)
}

#[tokio::test]
async fn deletion_codes_go_through_the_configured_sms_gateway() {
    let (url, sent) = sms_gateway().await;
    let app = spawn_with(|c| {
        c.phone.channel = "http".into();
        c.phone.url = url.clone();
        c.phone.token = "gateway-token".into();
    })
    .await;
    let phone = "+15550100096";
    assert_eq!(app.sign_up(96, phone, &visa(96)).await.status, 201);
    let asked = app.ask_deletion(96, phone).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let (auth, body) = sent
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("an SMS was sent");
    assert_eq!(auth, "Bearer gateway-token");
    assert_eq!(body["to"], phone);
    let message = body["message"].as_str().unwrap();
    let code: String = message.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{message}");
    assert!(
        app.server.phone.last_code(phone).is_none(),
        "the development outbox is unused"
    );
    let id = asked.body["id"].as_str().unwrap();
    let done = app
        .post(
            &format!("/v1/people/deletions/{id}/confirm"),
            &app.till_key(),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    app.server.shutdown().await;
}
