//! Both hands at a till (issue 16): a hover the first hand cannot name asks for the other hand
//! (`needs_second_hand`), and both hovers are then decided as one piece of evidence.

use crate::common::*;
use serde_json::{Value, json};

fn frames(seed: u64, first: u64) -> Value {
    json!(
        (first..first + 3)
            .map(|k| palm(seed, k))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn a_hover_the_first_hand_cannot_name_asks_for_the_other_hand() {
    let app = spawn().await;
    // One person, both hands (another synthetic identity stands in for the left hand).
    let mut body = signup_body(561, "+15550100561", &visa(561));
    for k in 1..=3 {
        body["captures"]
            .as_array_mut()
            .unwrap()
            .push(json!({"hand": "left", "image": palm(562, k)}));
    }
    let r = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["hands"], json!(["left", "right"]));
    for (seed, phone) in [(563u64, "+15550100563"), (565, "+15550100565")] {
        assert_eq!(app.sign_up(seed, phone, &visa(seed)).await.status, 201);
    }
    let till = app.till_key();

    // A stranger's hover: the first hand names no one, so the till is asked for the other hand;
    // with it, still no one.
    let p = app.create_payment(500).await;
    let path = format!("/v1/payments/{}/palm", p["id"].as_str().unwrap());
    let first = app
        .post(&path, &till, &json!({"frames": frames(569, 50)}))
        .await;
    assert_eq!(first.status, 422, "{}", first.body);
    assert_eq!(first.body["code"], "needs_second_hand");
    assert_eq!(first.body["param"], "second_hand_frames");
    let both = app
        .post(
            &path,
            &till,
            &json!({"frames": frames(569, 50), "second_hand_frames": frames(570, 50)}),
        )
        .await;
    assert_eq!(both.status, 422, "{}", both.body);
    assert_eq!(both.body["code"], "palm_not_recognised");

    // Malformed: the other hand's frames alone, or not a whole hover.
    for (bad, param) in [
        (
            json!({"second_hand_frames": frames(562, 50)}),
            "second_hand_frames",
        ),
        (
            json!({"frames": frames(561, 50), "second_hand_frames": [palm(562, 50)]}),
            "second_hand_frames",
        ),
    ] {
        let r = app.post(&path, &till, &bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["code"], "invalid_second_hand");
        assert_eq!(r.body["param"], param);
    }

    // The person's two hovers decide together: the payment is theirs.
    let paid = app
        .post(
            &path,
            &till,
            &json!({"frames": frames(561, 50), "second_hand_frames": frames(562, 50)}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert_eq!(paid.body["person"], r.body["person"]["id"]);
    app.server.shutdown().await;
}

/// A gate reads a hover as a till does: the person enters a walk-out store and leaves on three
/// frames, a stranger's hover is asked for the other hand and then named no one (red, never an
/// error), and a hover of the wrong shape is refused by name before anything is read.
#[tokio::test]
async fn a_gate_decides_on_a_hover_as_a_till_does() {
    let app = spawn().await;
    let (_, gate) = crate::trips::walk_out_store(&app, 5000, 0).await;
    for (seed, phone) in [(581u64, "+15550100581"), (583, "+15550100583")] {
        assert_eq!(app.sign_up(seed, phone, &visa(seed)).await.status, 201);
    }
    let enter = app
        .post(
            "/v1/shopping_trips",
            &gate,
            &json!({"frames": frames(581, 50)}),
        )
        .await;
    assert_eq!(enter.status, 200, "{}", enter.body);
    assert_eq!(enter.body["reason"], "welcome", "{}", enter.body);
    assert!(enter.body["trip"].as_str().is_some(), "{}", enter.body);
    let person = enter.body["person"].clone();

    let stranger = app
        .post(
            "/v1/shopping_trips",
            &gate,
            &json!({"frames": frames(589, 50)}),
        )
        .await;
    assert_eq!(stranger.status, 200, "{}", stranger.body);
    assert_eq!(stranger.body["allowed"], false);
    assert_eq!(
        stranger.body["reason"], "needs_second_hand",
        "{}",
        stranger.body
    );
    let both = app
        .post(
            "/v1/gate/scans",
            &gate,
            &json!({"frames": frames(589, 50), "second_hand_frames": frames(590, 50)}),
        )
        .await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert_eq!(both.body["allowed"], false);
    assert_eq!(both.body["reason"], "palm_not_recognised", "{}", both.body);

    for (bad, code) in [
        (
            json!({"frames": [palm(581, 60), palm(581, 61)]}),
            "invalid_frames",
        ),
        (
            json!({"frames": frames(581, 60), "image": palm(581, 70)}),
            "image_and_frames",
        ),
    ] {
        let r = app.post("/v1/gate/scans", &gate, &bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["code"], code, "{}", r.body);
    }

    // The person leaves on a hover: the empty basket's hold is released and the trip ends.
    let leave = app
        .post(
            "/v1/gate/scans",
            &gate,
            &json!({"frames": frames(581, 56), "direction": "out"}),
        )
        .await;
    assert_eq!(leave.status, 200, "{}", leave.body);
    assert_eq!(leave.body["allowed"], true, "{}", leave.body);
    assert_eq!(leave.body["person"], person);
    assert_eq!(leave.body["trip"], enter.body["trip"], "{}", leave.body);
}
