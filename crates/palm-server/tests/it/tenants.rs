//! Merchants kept apart: onboarding a second merchant, one merchant's till cannot touch another's
//! deletion request, and a disabled merchant's credentials are refused.

use crate::common::*;
use palm_service::store::PersonId;
use serde_json::json;

#[tokio::test]
async fn another_merchants_till_cannot_see_or_burn_a_deletion_request() {
    let app = spawn().await;
    let other = other_merchant(&app, "Corner Shop").await;
    let other_till = other.tills[0].credential.clone();
    let phone = "+15550100031";
    assert_eq!(app.sign_up(31, phone, &visa(31)).await.status, 201);
    let asked = app.ask_deletion(31, phone).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let id = asked.body["id"].as_str().unwrap().to_string();
    let code = app.server.phone.last_code(phone).unwrap();
    let path = format!("/v1/people/deletions/{id}/confirm");

    // The other merchant's till learns nothing, even with the right code, and however often it
    // tries, the person's attempts are untouched.
    for guess in [
        "000000",
        "111111",
        "222222",
        "333333",
        "444444",
        "555555",
        code.as_str(),
    ] {
        let r = app.post(&path, &other_till, &json!({"code": guess})).await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(r.body["code"], "resource_missing", "{}", r.body);
    }
    let done = app
        .post(&path, &app.till_key(), &json!({"code": code}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    app.server.shutdown().await;
}

#[tokio::test]
async fn an_onboarded_merchant_works_until_disabled() {
    let app = spawn().await;
    let other = other_merchant(&app, "Corner Shop").await;
    assert!(other.api_key.starts_with("sk_"));
    assert_eq!(other.tills.len(), 1);
    // Its own key and till work, and see none of the demo merchant's payments.
    app.create_payment(1200).await;
    let list = app.get("/v1/payments", &other.api_key).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["data"], json!([]));
    let pay = app
        .post(
            "/v1/payments",
            &other.api_key,
            &json!({"amount": 300, "currency": "usd", "till": other.tills[0].id}),
        )
        .await;
    assert_eq!(pay.status, 201, "{}", pay.body);
    // Its till is let in (an empty sign-up is then refused for its body, not its credential).
    let till_in = app
        .post("/v1/signups", &other.tills[0].credential, &json!({}))
        .await;
    assert_eq!(till_in.status, 400, "{}", till_in.body);

    let merchants = palm_service::merchants::list(app.store().as_ref())
        .await
        .unwrap();
    assert_eq!(merchants.len(), 2);
    assert!(
        palm_service::merchants::disable(
            app.store().as_ref(),
            other.merchant.as_str(),
            1_800_000_100
        )
        .await
        .unwrap()
    );
    let refused = app.get("/v1/payments", &other.api_key).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let refused = app
        .post("/v1/signups", &other.tills[0].credential, &json!({}))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    // The demo merchant is untouched, and disabling twice says so.
    assert_eq!(
        app.get("/v1/payments", &app.merchant_key()).await.status,
        200
    );
    assert!(
        !palm_service::merchants::disable(
            app.store().as_ref(),
            other.merchant.as_str(),
            1_800_000_200
        )
        .await
        .unwrap()
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn an_age_check_counts_for_its_merchant_only_and_reveals_no_enrolment() {
    let app = spawn().await;
    let other = other_merchant(&app, "Corner Shop").await;
    let phone = "+15550100032";
    let signed = app.sign_up(32, phone, &visa(32)).await;
    assert_eq!(signed.status, 201, "{}", signed.body);
    let person = signed.body["person"]["id"].as_str().unwrap().to_string();
    let check = |phone: &str| json!({"phone": phone, "document_type": "passport", "verified_by": "staff-1"});

    let known = app
        .post("/v1/age_verifications", &other.api_key, &check(phone))
        .await;
    let unknown = app
        .post(
            "/v1/age_verifications",
            &other.api_key,
            &check("+15550100099"),
        )
        .await;
    assert_eq!(known.status, 201, "{}", known.body);
    assert_eq!(unknown.status, known.status);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known.body), keys(&unknown.body));
    assert!(known.body.get("person").is_none(), "{}", known.body);

    // The other merchant's check is its own: the demo merchant's gates still see none.
    let store = app.store();
    assert!(
        store
            .age_verified(&other.merchant, &PersonId::new(&person))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .age_verified(&app.demo.merchant, &PersonId::new(&person))
            .await
            .unwrap()
            .is_none()
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn a_till_credential_does_a_tills_work_and_nothing_more() {
    let app = spawn().await;
    let (till_id, till) = app.till();
    let other_till_id = app.demo.tills[1].id.clone();
    assert_eq!(app.sign_up(35, "+15550100035", &visa(35)).await.status, 201);

    // A till creates its own payments (no merchant key at the till) and is paid there.
    let own = app
        .post(
            "/v1/payments",
            &till,
            &json!({"amount": 900, "currency": "usd"}),
        )
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(own.body["till"], till_id.as_str());
    let id = own.body["id"].as_str().unwrap().to_string();
    let paid = app
        .scan(&format!("/v1/payments/{id}/palm"), &till, 35, json!({}))
        .await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    // ...for itself only.
    let elsewhere = app
        .post(
            "/v1/payments",
            &till,
            &json!({"amount": 900, "currency": "usd", "till": other_till_id}),
        )
        .await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert_eq!(elsewhere.body["code"], "wrong_till");
    // The back office names the till.
    let unnamed = app
        .post(
            "/v1/payments",
            &app.merchant_key(),
            &json!({"amount": 900, "currency": "usd"}),
        )
        .await;
    assert_eq!(unnamed.status, 400, "{}", unnamed.body);
    assert_eq!(unnamed.body["code"], "till_required");

    // What only the merchant may do is refused to a till: refunds, captures, pairing devices,
    // webhooks, reading payments.
    for (path, body) in [
        (format!("/v1/payments/{id}/refunds"), json!({"amount": 100})),
        (format!("/v1/payments/{id}/capture"), json!({})),
        (
            "/v1/devices/pairing_codes".to_string(),
            json!({"till": till_id}),
        ),
        (
            "/v1/webhook_endpoints".to_string(),
            json!({"url": "http://127.0.0.1:9/hook"}),
        ),
    ] {
        let r = app.post(&path, &till, &body).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    assert_eq!(app.get("/v1/payments", &till).await.status, 401);
    assert_eq!(
        app.server.processor.charge_totals(),
        (900, 0, 1),
        "the refused refund moved nothing"
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn a_till_reads_its_own_profile_for_receipts_and_nothing_else_does() {
    let app = spawn().await;
    let (till_id, _) = app.till();
    let me = app.get("/v1/till", &app.till_key()).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], till_id.as_str());
    assert_eq!(me.body["merchant"], "Demo Shop");
    assert_eq!(me.body["store"], "Main Street");
    // Another merchant's till names its own merchant, never the demo's.
    let other = other_merchant(&app, "Corner Cafe").await;
    let theirs = app.get("/v1/till", &other.tills[0].credential).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(theirs.body["merchant"], "Corner Cafe");
    // A merchant key or a gate's credential is not a till's.
    for key in [app.merchant_key(), "tk_test_nonsense".to_string()] {
        let r = app.get("/v1/till", &key).await;
        assert!(
            r.status == 401 || r.status == 403,
            "{}: {}",
            r.status,
            r.body
        );
    }
}
