//! Bad input on every endpoint: a typed 4xx, no echo of what was sent, and no row changed.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn bad_input_gets_typed_errors_and_changes_nothing() {
    let app = spawn_with(|c| c.body_limit_bytes = 256 * 1024).await;
    assert_eq!(app.sign_up(71, "+15550100071", &visa(71)).await.status, 201);
    let p = app.create_payment(100).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let before = app.row_counts().await;
    let (mk, tk) = (app.merchant_key(), app.till_key());
    let raw = |path: &str, auth: &str, body: &str, content_type: &str| {
        let req = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(auth)
            .header("content-type", content_type)
            .body(body.to_string());
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };

    let card_number = "4111111111111111";
    let mut cases: Vec<(&str, u16, &str, serde_json::Value)> = vec![];
    let mut check =
        |name: &'static str, status: u16, body: serde_json::Value, want: u16, code: &str| {
            assert_eq!(status, want, "{name}: {body}");
            for key in ["type", "code", "message"] {
                assert!(body[key].is_string(), "{name}: no {key} in {body}");
            }
            if !code.is_empty() {
                assert_eq!(body["code"], code, "{name}: {body}");
            }
            assert!(
                !body.to_string().contains(card_number),
                "{name}: error echoes the card number"
            );
            cases.push((name, status, "", body));
        };

    let (s, b) = raw("/v1/payments", &mk, "{\"amount\": 1", "application/json").await;
    check("malformed json", s, b, 400, "invalid_json");
    let (s, b) = raw(
        "/v1/payments",
        &mk,
        "amount=1",
        "application/x-www-form-urlencoded",
    )
    .await;
    check("not json", s, b, 415, "unsupported_media_type");
    let r = app
        .post(
            "/v1/payments",
            &mk,
            &json!({"amount": "ten", "currency": "usd", "till": app.till().0}),
        )
        .await;
    check("wrong type", r.status, r.body.clone(), 400, "invalid_json");
    assert_eq!(r.body["param"], "amount");
    let r = app
        .post(
            "/v1/payments",
            &mk,
            &json!({"amount": 1, "currency": "usd", "till": app.till().0, "colour": "red"}),
        )
        .await;
    check("unknown field", r.status, r.body, 400, "invalid_json");
    let r = app
        .post(
            "/v1/payments",
            &mk,
            &json!({"amount": -5, "currency": "usd", "till": app.till().0}),
        )
        .await;
    check("negative amount", r.status, r.body, 400, "invalid_amount");
    let r = app
        .post(
            "/v1/payments",
            &mk,
            &json!({"amount": 5, "currency": "dollars", "till": app.till().0}),
        )
        .await;
    check("bad currency", r.status, r.body, 400, "invalid_currency");
    let r = app
        .post(
            "/v1/payments",
            &mk,
            &json!({"amount": 5, "currency": "usd", "till": "till_nope"}),
        )
        .await;
    check("unknown till", r.status, r.body, 404, "resource_missing");
    let r = app
        .post(
            "/v1/payments",
            "sk_wrong",
            &json!({"amount": 5, "currency": "usd", "till": app.till().0}),
        )
        .await;
    check("bad key", r.status, r.body, 401, "invalid_api_key");
    let r = app
        .post(
            "/v1/loyalty/programs",
            &tk,
            &json!({"name": "Till's own club", "points_per_unit": 1}),
        )
        .await;
    check(
        "till key where a merchant key is needed",
        r.status,
        r.body,
        401,
        "unauthenticated",
    );
    let big = "x".repeat(300 * 1024);
    let (s, b) = raw(
        "/v1/payments",
        &mk,
        &format!("{{\"reference\": \"{big}\"}}"),
        "application/json",
    )
    .await;
    check("body over the limit", s, b, 413, "body_too_large");

    let signup = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut body = signup_body(72, "+15550100072", &visa(72));
        f(&mut body);
        body
    };
    let cases_signup: Vec<(&'static str, serde_json::Value, u16, &str)> = vec![
        (
            "luhn",
            signup(&|b| b["card"]["number"] = json!("4111111111111112")),
            400,
            "invalid_card_number",
        ),
        (
            "expired card",
            signup(&|b| {
                b["card"]["number"] = json!(card_number);
                b["card"]["exp_year"] = json!(2020)
            }),
            402,
            "expired_card",
        ),
        (
            "card number in a number field",
            signup(&|b| b["card"]["exp_month"] = json!(card_number)),
            400,
            "invalid_json",
        ),
        (
            "unknown brand",
            signup(&|b| b["card"]["number"] = json!("9999999999999995")),
            400,
            "unsupported_card_brand",
        ),
        (
            "no consent",
            signup(&|b| b["consent"]["accepted"] = json!(false)),
            400,
            "consent_required",
        ),
        (
            "old consent",
            signup(&|b| b["consent"]["text_version"] = json!("2001-01")),
            400,
            "consent_version",
        ),
        (
            "bad phone",
            signup(&|b| b["phone"] = json!("07700 900123")),
            400,
            "invalid_phone",
        ),
        (
            "one capture",
            signup(&|b| b["captures"].as_array_mut().unwrap().truncate(1)),
            400,
            "capture_count",
        ),
        (
            "not base64",
            signup(&|b| b["captures"][0]["image"] = json!("%%%")),
            400,
            "invalid_image",
        ),
        (
            "not an image",
            signup(&|b| b["captures"][0]["image"] = json!("aGVsbG8gd29ybGQ=")),
            400,
            "invalid_image",
        ),
        (
            "blank image",
            signup(&|b| b["captures"][0]["image"] = json!(blank_png())),
            422,
            "",
        ),
        (
            "bad hand",
            signup(&|b| b["captures"][0]["hand"] = json!("middle")),
            400,
            "invalid_json",
        ),
    ];
    for (name, body, want, code) in cases_signup {
        let r = app.post("/v1/signups", &tk, &body).await;
        check(name, r.status, r.body, want, code);
    }

    let r = app
        .post(
            &format!("/v1/payments/{pid}/palm"),
            &tk,
            &json!({"image": "aGVsbG8="}),
        )
        .await;
    check("palm not an image", r.status, r.body, 400, "invalid_image");
    let r = app
        .post(
            &format!("/v1/payments/{pid}/palm"),
            &tk,
            &json!({"image": palm(71, 5), "phone_last4": "12a4"}),
        )
        .await;
    check("bad hint", r.status, r.body, 400, "invalid_hint");
    let r = app
        .post(
            &format!("/v1/payments/{pid}/palm"),
            &tk,
            &json!({"image": palm(71, 5), "card": "card_nope"}),
        )
        .await;
    check("unknown card", r.status, r.body, 400, "unknown_card");
    let r = app
        .post(
            "/v1/payments/pay_nope/palm",
            &tk,
            &json!({"image": palm(71, 5)}),
        )
        .await;
    check("unknown payment", r.status, r.body, 404, "resource_missing");
    let r = app
        .post(
            &format!("/v1/payments/{pid}/refunds"),
            &mk,
            &json!({"amount": 0}),
        )
        .await;
    check(
        "refund before payment",
        r.status,
        r.body,
        409,
        "payment_unexpected_state",
    );
    let r = app
        .post(
            &format!("/v1/payments/{pid}/capture"),
            &mk,
            &json!({"amount": "all"}),
        )
        .await;
    check("capture wrong type", r.status, r.body, 400, "invalid_json");
    let r = app.get("/v1/payments?limit=1000", &mk).await;
    check("limit too large", r.status, r.body, 400, "invalid_limit");
    let r = app
        .post(
            "/v1/webhook_endpoints",
            &mk,
            &json!({"url": "ftp://example.com"}),
        )
        .await;
    check("bad webhook url", r.status, r.body, 400, "invalid_url");
    let r = app
        .post("/v1/webhook_deliveries/whd_nope/replay", &mk, &json!({}))
        .await;
    check(
        "unknown delivery",
        r.status,
        r.body,
        404,
        "resource_missing",
    );
    let r = app
        .post(
            "/v1/people/sessions",
            &tk,
            &json!({"image": palm(71, 5), "phone": "123"}),
        )
        .await;
    check("session bad phone", r.status, r.body, 400, "invalid_phone");
    let r = app
        .send(
            reqwest::Method::PUT,
            "/v1/payments",
            &mk,
            Some(&json!({})),
            None,
        )
        .await;
    check("wrong method", r.status, r.body, 405, "method_not_allowed");
    let r = app.get("/v1/nothing", &mk).await;
    check("unknown route", r.status, r.body, 404, "unknown_route");
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/payments",
            &mk,
            Some(&json!({"amount": 1})),
            Some(&"k".repeat(300)),
        )
        .await;
    check(
        "idempotency key too long",
        r.status,
        r.body,
        400,
        "invalid_idempotency_key",
    );

    assert_eq!(
        app.row_counts().await,
        before,
        "no bad request changed a row"
    );
    let still = app.get(&format!("/v1/payments/{pid}"), &mk).await;
    assert_eq!(still.body["status"], "requires_palm");
    assert!(cases.len() > 30);
    app.server.shutdown().await;
}

fn blank_png() -> String {
    use base64::Engine as _;
    let img = image::RgbImage::from_pixel(128, 128, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}
