//! No secret in any log line: a full story runs with every log at debug level captured, then the
//! capture is searched for each secret the story handled. Its own test binary, because it owns
//! the process-wide log subscriber.

#[path = "it/common.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_story_logs_no_secret() {
    let logs = Capture::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = spawn_with(|c| {
        // A slow processor, so the timeout and reconciliation paths log too.
        c.processor.latency_ms = 120;
        c.processor.timeout_ms = 40;
    })
    .await;
    let (url, _hook) = webhook_receiver(1).await;
    let ep = app.add_webhook(&url).await;
    let webhook_secret = ep.body["secret"].as_str().unwrap().to_string();

    let card = "4242424242424242";
    let phone = "+447700900555";
    let mut body = signup_body(81, phone, card);
    body["card"]["cvc"] = json!("9731");
    body["card"]["number"] = json!("3714 496353 98431");
    let amex = "371449635398431";
    assert_eq!(
        app.post("/v1/signups", &app.till_key(), &body).await.status,
        201
    );
    // Failed attempts log too: a duplicate sign-up, a bad card, a card number in a wrong field.
    app.post("/v1/signups", &app.till_key(), &body).await;
    let mut bad = signup_body(82, "+447700900556", card);
    bad["card"]["exp_month"] = json!(card);
    app.post("/v1/signups", &app.till_key(), &bad).await;
    app.phones.lock().unwrap().insert(81, phone.into());
    // A card number typed into a path: not echoed in the error, not logged with the route.
    let odd = app
        .get(&format!("/v1/payments/{card}"), &app.merchant_key())
        .await;
    assert_eq!(odd.status, 404);
    assert!(!odd.body.to_string().contains(card));

    let paid = app.pay(81, 2500).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    let id = paid.body["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payments/{id}/refunds"),
        &app.merchant_key(),
        &json!({"amount": 100}),
    )
    .await;
    let session = app
        .scan(
            "/v1/people/sessions",
            &app.till_key(),
            81,
            json!({"phone": phone}),
        )
        .await;
    let token = session.body["token"].as_str().unwrap().to_string();
    app.post("/v1/me/cards", &token, &json!({"number": card, "exp_month": 3, "exp_year": 2033, "holder_name": "Ada Palm", "cvc": "8642"})).await;
    // A deletion request: its one-time code reaches the (development) phone channel only.
    let deletion = app.ask_deletion(81, phone).await;
    assert_eq!(deletion.status, 201, "{}", deletion.body);
    let deletion_code = app.server.phone.last_code(phone).expect("a code");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let data_dir = app.config.data_dir.clone();
    app.server.shutdown().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("person enrolled"),
        "the capture holds the service's logs"
    );
    assert!(text.lines().count() > 50, "debug logging was on");
    let image_chunk = &palm(81, 1)[200..260];
    let mut secrets: Vec<(&str, String)> = vec![
        ("card number", card.into()),
        ("amex number", amex.into()),
        ("amex as typed", "3714 496353 98431".into()),
        ("cvc", "9731".into()),
        ("second cvc", "8642".into()),
        ("phone", phone.into()),
        ("phone digits", phone[1..].into()),
        ("merchant key", app.demo.api_key.clone()),
        ("till credential", app.demo.tills[0].credential.clone()),
        ("session token", token),
        ("webhook secret", webhook_secret),
        ("palm image", image_chunk.into()),
        ("holder name", "Ada Palm".into()),
        ("deletion code", deletion_code),
    ];
    for entry in std::fs::read_dir(data_dir.join("keys")).unwrap() {
        let path = entry.unwrap().path();
        secrets.push((
            "key file",
            std::fs::read_to_string(&path).unwrap().trim().to_string(),
        ));
    }
    for (what, secret) in &secrets {
        if let Some(at) = find_token(&text, secret) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            let to = (at + secret.len() + 20).min(text.len());
            panic!("the logs contain the {what}: ...{}...", &text[from..to]);
        }
    }
}

/// Where `secret` occurs as a token of its own: for a short number such as a CVV, digits that are
/// part of a longer number (a timestamp, a duration) do not count.
fn find_token(text: &str, secret: &str) -> Option<usize> {
    let numeric = secret.bytes().all(|b| b.is_ascii_digit());
    let bytes = text.as_bytes();
    text.match_indices(secret).map(|(at, _)| at).find(|&at| {
        let joined = |i: Option<usize>| {
            i.and_then(|i| bytes.get(i))
                .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
        };
        !numeric || !(joined(at.checked_sub(1)) || joined(Some(at + secret.len())))
    })
}
