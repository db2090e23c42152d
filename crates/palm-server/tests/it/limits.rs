//! The doors' limits over real sockets: a connection that trickles its request head is dropped,
//! a request that takes too long is answered 408, and a burst of pictures beyond the engine's
//! slots is answered `busy` with Retry-After instead of queueing without end.

use crate::common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server sends before it closes the connection, waiting at most `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut got)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn slow_or_silent_clients_are_cut_off() {
    let app = spawn_with(|c| {
        c.limits.header_timeout_ms = 300;
        c.limits.request_timeout_ms = 600;
    })
    .await;
    let addr = app.server.addr;
    // Silent: connects and sends nothing.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Trickling: half a request head, then nothing.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: palmline\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        until_closed(&mut silent, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(
        until_closed(&mut trickle, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // A whole head, then a body that never comes: 408 once the request's time is up.
    let mut body = TcpStream::connect(addr).await.unwrap();
    body.write_all(
        format!(
            "POST /v1/signups HTTP/1.1\r\nHost: palmline\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"phone\"",
            app.till_key()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = until_closed(&mut body, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A well-behaved client is still served.
    assert_eq!(app.get("/healthz", "").await.status, 200);
    app.server.shutdown().await;
}

#[tokio::test]
async fn pictures_beyond_the_engines_slots_are_answered_busy() {
    let app = spawn_with(|c| {
        c.limits.engine_workers = 1;
        c.limits.engine_queue_ms = 1;
    })
    .await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..6u64 {
        // Full-hand photos keep each job in the single slot for far longer than the burst
        // takes to arrive, so the outcome does not hang on how fast this machine is.
        let mut body = signup_body(40 + i, &format!("+4477009004{i:02}"), &visa(40 + i));
        for (k, capture) in body["captures"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            capture["image"] = json!(hand_photo(40 + i, k as u64 + 1));
        }
        let request = app
            .client
            .post(format!("{}/v1/signups", app.base))
            .bearer_auth(app.till_key())
            .json(&body);
        burst.spawn(async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").cloned();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, retry, body)
        });
    }
    let replies = burst.join_all().await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.0).collect();
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 201 || s == 503),
        "{statuses:?}"
    );
    for (status, retry, body) in &replies {
        if *status == 503 {
            assert_eq!(body["code"], "busy", "{body}");
            assert_eq!(retry.as_ref().unwrap(), "1");
        }
    }
    // Once the burst is over the engine takes pictures again.
    let later = app.sign_up(50, "+447700900450", &visa(50)).await;
    assert_eq!(later.status, 201, "{}", later.body);
    app.server.shutdown().await;
}

#[tokio::test]
async fn plain_captures_are_taken_only_where_the_setting_allows() {
    // Without the demo merchant and no explicit setting, a server takes sealed captures only.
    let app = spawn_with(|c| c.plain_captures = Some(false)).await;
    let before = app.row_counts().await;
    let refused = app
        .post(
            "/v1/signups",
            &app.till_key(),
            &signup_body(81, "+15550100081", &visa(81)),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["code"], "sealed_capture_required");
    let p = app.create_payment(500).await;
    let palm = app
        .post(
            &format!("/v1/payments/{}/palm", p["id"].as_str().unwrap()),
            &app.till_key(),
            &json!({"image": palm(81, 50)}),
        )
        .await;
    assert_eq!(
        palm.body["code"], "sealed_capture_required",
        "{}",
        palm.body
    );
    let mut after = app.row_counts().await;
    after.retain(|(t, _)| !matches!(t.as_str(), "payments" | "events" | "webhook_deliveries"));
    let mut expected = before.clone();
    expected.retain(|(t, _)| !matches!(t.as_str(), "payments" | "events" | "webhook_deliveries"));
    assert_eq!(after, expected, "a refused capture wrote nothing");
    app.server.shutdown().await;

    // The default follows the demo setting: the demo (and its kiosk) takes plain images.
    let mut config = palm_server::Config::default();
    assert!(config.plain_captures_allowed());
    config.demo = false;
    assert!(!config.plain_captures_allowed());
    config.plain_captures = Some(true);
    assert!(config.plain_captures_allowed());
}

#[tokio::test]
async fn a_till_whose_palms_keep_matching_no_one_is_locked_out() {
    let app = spawn_with(|c| c.limits.palm_failures = 3).await;
    assert_eq!(app.sign_up(82, "+15550100082", &visa(82)).await.status, 201);
    let present = |till: String, seed: u64, k: u64| {
        let app = &app;
        async move {
            app.post(
                "/v1/loyalty/present",
                &till,
                &json!({"image": palm(seed, k), "phone_last4": "0082"}),
            )
            .await
        }
    };
    let till = app.till_key();
    // Three palms of someone never enrolled: each is answered, then the till is refused.
    for k in 1..=3 {
        let r = present(till.clone(), 9_082, k).await;
        assert_eq!(r.body["code"], "palm_not_recognised", "{}", r.body);
    }
    let locked = present(till.clone(), 82, 50).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.body["code"], "too_many_attempts");
    assert!(locked.headers.contains_key("retry-after"));
    // The other till is not affected, and its reads keep it open.
    let other = app.demo.tills[1].credential.clone();
    let mut read = false;
    for k in 50..56 {
        let r = present(other.clone(), 82, k).await;
        if r.status == 200 {
            read = true;
            break;
        }
    }
    assert!(read, "the enrolled person's palm is read at the other till");
    app.server.shutdown().await;
}
