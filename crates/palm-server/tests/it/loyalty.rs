//! Loyalty over HTTP: join at sign-up, accrue with a payment, present at a till, redeem a reward
//! as a discount, refunds take points back, merchants list members.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn accrue_present_redeem_and_reverse() {
    let app = spawn().await;
    let mk = app.merchant_key();
    let program = app
        .post(
            "/v1/loyalty/programs",
            &mk,
            &json!({"name": "Coffee Club", "points_per_unit": 10}),
        )
        .await;
    assert_eq!(program.status, 201, "{}", program.body);
    let pid = program.body["id"].as_str().unwrap().to_string();
    let reward = app
        .post(
            &format!("/v1/loyalty/programs/{pid}/rewards"),
            &mk,
            &json!({"name": "5 off", "points_cost": 200, "discount": 500, "currency": "usd"}),
        )
        .await;
    assert_eq!(reward.status, 201, "{}", reward.body);
    let rid = reward.body["id"].as_str().unwrap().to_string();

    // An unknown program refuses the whole sign-up.
    let before = app.row_counts().await;
    let mut body = signup_body(301, "+15550100301", &visa(301));
    body["memberships"] = json!([{"program": "prog_nope"}]);
    let refused = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(app.row_counts().await, before);
    body["memberships"] = json!([{"program": pid, "member_number": "CC-1001"}]);
    let signed = app.post("/v1/signups", &app.till_key(), &body).await;
    assert_eq!(signed.status, 201, "{}", signed.body);
    assert_eq!(signed.body["memberships"][0]["member_number"], "CC-1001");
    assert_eq!(signed.body["memberships"][0]["balance"], 0);
    app.phones
        .lock()
        .unwrap()
        .insert(301, "+15550100301".into());

    let first = app.pay(301, 2500).await;
    assert_eq!(first.body["status"], "succeeded", "{}", first.body);
    assert_eq!(
        first.body["memberships"][0]["balance"], 250,
        "10 points per unit"
    );
    let first_id = first.body["id"].as_str().unwrap().to_string();

    // Loyalty alone at a till: memberships and the rewards they can afford.
    let shown = app
        .scan("/v1/loyalty/present", &app.till_key(), 301, json!({}))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["memberships"][0]["balance"], 250);
    assert_eq!(shown.body["rewards_available"][0]["id"], rid.as_str());

    // Redeem: the discount comes off before the card is charged; points spent, then earned on
    // what was charged.
    let p = app.create_payment(1000).await;
    let paid = app
        .scan(
            &format!("/v1/payments/{}/palm", p["id"].as_str().unwrap()),
            &app.till_key(),
            301,
            json!({"reward": rid}),
        )
        .await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    assert_eq!(paid.body["discount"], 500);
    assert_eq!(paid.body["amount_total"], 500);
    assert_eq!(paid.body["amount_captured"], 500);
    assert_eq!(paid.body["memberships"][0]["balance"], 250 - 200 + 50);
    let (captured, _, _) = app.server.processor.charge_totals();
    assert_eq!(
        captured,
        2500 + 500,
        "the card was charged the discounted amount"
    );

    // A refund takes back the points the refunded part earned.
    let r = app
        .post(
            &format!("/v1/payments/{first_id}/refunds"),
            &mk,
            &json!({"amount": 1000}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let members = app
        .get(&format!("/v1/loyalty/programs/{pid}/members"), &mk)
        .await;
    assert_eq!(members.body["data"][0]["balance"], 0, "{}", members.body);
    assert_eq!(members.body["data"][0]["member_number"], "CC-1001");

    // Not enough points: refused, and the payment still waits for a palm.
    let p = app.create_payment(800).await;
    let pid3 = p["id"].as_str().unwrap().to_string();
    let short = app
        .scan(
            &format!("/v1/payments/{pid3}/palm"),
            &app.till_key(),
            301,
            json!({"reward": rid}),
        )
        .await;
    assert_eq!(short.status, 409, "{}", short.body);
    assert_eq!(short.body["code"], "insufficient_points");
    assert_eq!(
        app.get(&format!("/v1/payments/{pid3}"), &mk).await.body["status"],
        "requires_palm"
    );
    let unknown = app
        .scan(
            &format!("/v1/payments/{pid3}/palm"),
            &app.till_key(),
            301,
            json!({"reward": "rwd_nope"}),
        )
        .await;
    assert_eq!(unknown.body["code"], "unknown_reward");

    // Adding someone later by phone is an invitation, answered alike whether or not the number
    // is enrolled (and for someone already a member): trying numbers tells the merchant nothing.
    let invite = async |phone: &str, number: Option<&str>| {
        let mut body = json!({"phone": phone});
        if let Some(n) = number {
            body["member_number"] = json!(n);
        }
        app.post(&format!("/v1/loyalty/programs/{pid}/members"), &mk, &body)
            .await
    };
    let members = async || {
        app.get(&format!("/v1/loyalty/programs/{pid}/members"), &mk)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        app.sign_up(302, "+15550100302", &visa(302)).await.status,
        201
    );
    let answers: Vec<_> = [
        invite("+15550109999", None).await,
        invite("+15550100301", None).await,
        invite("+15550100302", Some("CC-1001")).await,
    ]
    .into_iter()
    .map(|r| {
        assert_eq!(r.status, 202, "{}", r.body);
        assert!(r.body["id"].as_str().unwrap().starts_with("inv_"));
        let mut shape = r
            .body
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        shape.sort();
        (shape, r.body["status"].clone(), r.body["kind"].clone())
    })
    .collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert!(answers[0].0.iter().all(|k| k != "person" && k != "balance"));
    assert_eq!(members().await, 1, "an invitation is not yet a membership");
    // Person 302's next scan at this merchant accepts: they become a member, with a number of
    // their own (CC-1001 belongs to someone else).
    let shown = app
        .scan("/v1/loyalty/present", &app.till_key(), 302, json!({}))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["memberships"][0]["program"], pid.as_str());
    assert_ne!(shown.body["memberships"][0]["member_number"], "CC-1001");
    assert_eq!(members().await, 2);
    // A scan at another merchant accepts nothing here, and sees nothing of this program.
    let other = other_merchant(&app, "Corner Shop").await;
    let invited = invite("+15550100301", None).await;
    assert_eq!(invited.status, 202);
    let elsewhere = app
        .scan(
            "/v1/loyalty/present",
            &other.tills[0].credential,
            301,
            json!({}),
        )
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
    assert_eq!(elsewhere.body["memberships"], json!([]));
    app.server.shutdown().await;
}
