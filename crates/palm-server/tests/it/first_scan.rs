//! Sign-up from phone photos: pending until the first till capture, which needs the phone
//! digits, matches, and is kept as a second template of the hand.

use crate::common::*;
use palm_service::store::PersonId;
use serde_json::{Value, json};

fn palm_count(counts: &[(String, i64)]) -> i64 {
    counts.iter().find(|(t, _)| t == "palms").unwrap().1
}

/// A till scan of `seed`'s palm for a new payment: new captures until one is read.
async fn scan_once(app: &TestApp, seed: u64, hint: Option<&str>) -> Reply {
    scan_with(app, seed, hint, 50..56).await
}

async fn scan_with(
    app: &TestApp,
    seed: u64,
    hint: Option<&str>,
    captures: impl Iterator<Item = u64>,
) -> Reply {
    let mut last = None;
    for k in captures {
        let p = app.create_payment(700).await;
        let mut body = json!({"image": palm(seed, k)});
        if let Some(h) = hint {
            body["phone_last4"] = json!(h);
        }
        let path = format!("/v1/payments/{}/palm", p["id"].as_str().unwrap());
        let r = app.post(&path, &app.till_key(), &body).await;
        if r.body["code"] != "palm_not_recognised" {
            return r;
        }
        last = Some(r);
    }
    last.unwrap()
}

async fn pending(app: &TestApp, person: &str) -> bool {
    app.store()
        .person(&PersonId::new(person))
        .await
        .unwrap()
        .unwrap()
        .pending_since
        .is_some()
}

#[tokio::test]
async fn phone_sign_up_waits_for_its_first_till_scan() {
    let app = spawn().await;
    let mut body: Value = signup_body(21, "+447700900021", &visa(21));
    // Two captures: each is as close to the other, so the first (capture 1) is enrolled. The
    // first till scan below sends capture 1 again, so the kept capture and the enrolled template
    // are identical and every later scan scores both exactly alike: only their common owner
    // keeps that from being ambiguous.
    body["captures"].as_array_mut().unwrap().truncate(2);
    body["source"] = json!("fax");
    let bad = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    body["source"] = json!("phone");
    let r = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["status"], "pending_first_scan");
    let person = r.body["person"]["id"].as_str().unwrap().to_string();
    let enrolled = palm_count(&app.row_counts().await);

    // The palm alone: the till is asked for the phone digits, and nothing is kept.
    let alone = scan_once(&app, 21, None).await;
    assert_eq!(alone.status, 422, "{}", alone.body);
    assert_eq!(alone.body["code"], "needs_hint");
    assert!(
        alone.body["message"]
            .as_str()
            .unwrap()
            .contains("phone photos"),
        "{}",
        alone.body
    );
    // Other digits search another bucket: not recognised, still pending.
    let wrong = scan_once(&app, 21, Some("1234")).await;
    assert_eq!(wrong.body["code"], "palm_not_recognised", "{}", wrong.body);
    assert!(pending(&app, &person).await);
    assert_eq!(palm_count(&app.row_counts().await), enrolled);

    // With the digits the payment goes through and the capture becomes a second template.
    let first = scan_with(&app, 21, Some("0021"), 1..2).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["status"], "succeeded");
    assert!(!pending(&app, &person).await);
    assert_eq!(palm_count(&app.row_counts().await), enrolled + 1);

    // From now on the palm alone pays: the person's two templates are one candidate, not an
    // ambiguity between two, also once the index is rebuilt from the database.
    let later = scan_once(&app, 21, None).await;
    assert_eq!(later.status, 200, "{}", later.body);
    let app = app.restart().await;
    let after_restart = scan_once(&app, 21, None).await;
    assert_eq!(after_restart.status, 200, "{}", after_restart.body);
    assert_eq!(palm_count(&app.row_counts().await), enrolled + 1);
    app.server.shutdown().await;
}

#[tokio::test]
async fn a_scanner_sign_up_is_active_at_once() {
    let app = spawn().await;
    let r = app.sign_up(22, "+447700900022", &visa(22)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["status"], "active");
    let paid = scan_once(&app, 22, None).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    app.server.shutdown().await;
}
