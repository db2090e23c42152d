//! `palmline simulate store`: a walk-out store driven over HTTP against `palmline serve` (a child
//! process, on SQLite or an empty PostgreSQL database), checked end to end.
//!
//! Synthetic people sign up at a till; over `--minutes` they arrive at the store's gates (a new
//! synthetic capture of their palm, the phone's last four digits when asked), some as a party and
//! some scanning twice; the store's "sensor system" (this command) sends their item events with
//! the faults real ones have: resends, deliveries out of order, put-backs, an occasional bad
//! event; they leave by the exit gate (palm) or the store system's exit; a late event follows
//! some exits. Every receipt is then checked against the events the simulator itself sent (its
//! own basket arithmetic, not the service's).

use crate::bench_pay::{ChildServer, capture, card_number, phone, post};
use crate::figures::percentile;
use anyhow::{Context, Result, bail};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Subcommand)]
pub enum SimulateArgs {
    /// A walk-out store: entries, item events, exits and receipts, each receipt checked.
    Store(StoreArgs),
}

#[derive(clap::Args)]
pub struct StoreArgs {
    /// People who sign up and then shop.
    #[arg(long, default_value_t = 200)]
    pub shoppers: usize,
    /// The span over which they arrive at the store (each then shops for 5 to 25 seconds).
    #[arg(long, default_value_t = 2.0)]
    pub minutes: f64,
    /// An empty PostgreSQL database to run on (default: SQLite in a temporary directory).
    #[arg(long)]
    pub database: Option<String>,
    /// Seeds the shoppers' palms and choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The store's settings: a 50.00 hold, 8.25% tax.
const HOLD: i64 = 5000;
const TAX_BPS: i64 = 825;
const PRODUCTS: usize = 40;
/// Synthetic identities of the shoppers start here (clear of the tests' and benches' seeds).
const SHOPPER_SEED_BASE: u64 = 7_000_000;

/// The store's tax on `amount`, rounded half up.
fn tax_on(amount: i64) -> i64 {
    (amount * TAX_BPS + 5_000) / 10_000
}

fn price(product: usize) -> i64 {
    50 + (product as i64 * 7919) % 2950
}

/// One item event as sent, and whether it is a resend the server should call a duplicate.
struct Sent {
    body: Value,
    resend: bool,
}

/// What one shopper did and saw.
#[derive(Default)]
struct Outcome {
    trip: Option<String>,
    entry_ms: Vec<f64>,
    event_ms: Vec<f64>,
    events: usize,
    exit_ms: Option<f64>,
    receipt_correct: bool,
    /// What went wrong, if anything (a code or a description).
    failure: Option<String>,
    resends_recognised: usize,
    resends: usize,
    refused_as_expected: usize,
    refusals_expected: usize,
    reentry_ok: Option<bool>,
    /// A line disputed from the receipt link and decided: whether the refund came out right.
    dispute_correct: Option<bool>,
    /// Left by the exit gate without the palm being read (the store system's exit closed it).
    exit_gate_unread: bool,
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let SimulateArgs::Store(args) = args;
    if args.shoppers == 0 || !args.minutes.is_finite() || args.minutes <= 0.0 {
        bail!("need --shoppers >= 1 and --minutes > 0");
    }
    let dir = std::env::temp_dir().join(format!("palmline-simulate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = ChildServer::start(&dir, args.database.as_deref())?;
    let base = child.wait_until_serving()?;
    let creds: palm_server::DemoCredentials = serde_json::from_slice(
        &std::fs::read(dir.join("demo-credentials.json")).context("no demo credentials")?,
    )?;
    eprintln!(
        "server ready; rendering {} shoppers' palms...",
        args.shoppers
    );
    let palms: Vec<Palms> = (0..args.shoppers)
        .into_par_iter()
        .map(|i| Palms::render(i, SHOPPER_SEED_BASE + args.seed * 100_000 + i as u64))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(simulate(&args, &base, &creds, palms));
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    print(&args, &report?);
    Ok(())
}

/// A shopper's palm images: sign-up captures and fresh ones for each gate scan.
struct Palms {
    index: usize,
    /// Two sign-up requests: a person whose first three captures disagree tries again.
    signups: [Value; 2],
    scans: Vec<String>,
}

impl Palms {
    fn render(index: usize, seed: u64) -> Palms {
        let n = 9_000_000 + index;
        Palms {
            index,
            signups: [1, 4].map(|first| json!({
                "phone": phone(n),
                "card": {"number": card_number(n), "exp_month": 12, "exp_year": 2035, "holder_name": "Sim Shopper"},
                "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
                "captures": (first..first + 3).map(|k| json!({"hand": "right", "image": capture(seed, k)})).collect::<Vec<_>>(),
            })),
            scans: (50..68).map(|k| capture(seed, k)).collect(),
        }
    }

    fn last4(&self) -> String {
        let p = phone(9_000_000 + self.index);
        p[p.len() - 4..].to_string()
    }
}

struct Report {
    signed_up: usize,
    /// Why the sign-ups that failed did (the code the server answered).
    signup_failures: Vec<String>,
    outcomes: Vec<Outcome>,
    shopping_s: f64,
}

async fn simulate(
    args: &StoreArgs,
    base: &str,
    creds: &palm_server::DemoCredentials,
    palms: Vec<Palms>,
) -> Result<Report> {
    palm_server::sender::install_tls_provider();
    let client = reqwest::Client::new();
    let key = creds.shop.api_key.clone();
    let till_key = creds.shop.tills[0].credential.clone();
    let (status, venue, _) = post(
        &client,
        format!("{base}/v1/venues"),
        &key,
        &json!({
        "name": "Simulated Grab & Go", "gates": [{"name": "North door"}, {"name": "South door"}],
        "walk_out": {"currency": "USD", "hold": HOLD, "tax_rate_bps": TAX_BPS}}),
    )
    .await?;
    if status != 201 {
        bail!("the walk-out store was not created: {venue}");
    }
    let gates: Vec<String> = venue["gates"]
        .as_array()
        .context("no gates")?
        .iter()
        .filter_map(|g| g["credential"].as_str().map(str::to_string))
        .collect();

    // Sign-ups, eight at once.
    let mut signed = Vec::new();
    let mut signup_failures = Vec::new();
    let palms = Arc::new(palms);
    for chunk in (0..palms.len()).collect::<Vec<_>>().chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let (client, base, till_key, palms) = (
                client.clone(),
                base.to_string(),
                till_key.clone(),
                palms.clone(),
            );
            tasks.spawn(async move {
                let mut failure = None;
                for body in &palms[i].signups {
                    failure = match post(&client, format!("{base}/v1/signups"), &till_key, body)
                        .await
                    {
                        Ok((201, _, _)) => return (i, None),
                        Ok((status, body, _)) => Some(format!("sign-up {status} {}", body["code"])),
                        Err(e) => Some(format!("sign-up: {e}")),
                    };
                }
                (i, failure)
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done? {
                (i, None) => signed.push(i),
                (_, Some(failure)) => signup_failures.push(failure),
            }
        }
    }
    eprintln!(
        "{} of {} signed up; shopping for {} minutes...",
        signed.len(),
        palms.len(),
        args.minutes
    );

    let start = Instant::now();
    let span = Duration::from_secs_f64(args.minutes * 60.0);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, &i) in signed.iter().enumerate() {
        let arrival = span.mul_f64(n as f64 / signed.len() as f64);
        let shopper = Shopper {
            client: client.clone(),
            base: base.to_string(),
            key: key.clone(),
            gate: gates[n % gates.len()].clone(),
            palms: palms.clone(),
            index: i,
            rng: ChaCha8Rng::seed_from_u64(args.seed * 1_000_003 + i as u64),
            next_scan: 0,
        };
        tasks.spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(start + arrival)).await;
            shopper.shop().await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done?);
    }
    Ok(Report {
        signup_failures,
        signed_up: signed.len(),
        outcomes,
        shopping_s: start.elapsed().as_secs_f64(),
    })
}

struct Shopper {
    client: reqwest::Client,
    base: String,
    key: String,
    gate: String,
    palms: Arc<Vec<Palms>>,
    index: usize,
    rng: ChaCha8Rng,
    next_scan: usize,
}

impl Shopper {
    async fn shop(mut self) -> Outcome {
        let mut out = Outcome::default();
        if let Err(e) = self.run(&mut out).await {
            out.failure.get_or_insert(format!("{e:#}"));
        }
        out
    }

    /// A gate scan with this shopper's palm: fresh captures until it is read, the hint when
    /// asked. Returns the decision.
    async fn at_gate(
        &mut self,
        path: &str,
        extra: Value,
        out: &mut Option<&mut Vec<f64>>,
    ) -> Result<Value> {
        let palms = self.palms.clone();
        let me = &palms[self.index];
        let mut hint = false;
        let mut last = String::new();
        for _ in 0..6 {
            // A new capture each hover, never one the gate has seen.
            let k = self.next_scan % me.scans.len();
            self.next_scan += 1;
            let mut body = extra.clone();
            body["image"] = json!(me.scans[k]);
            if hint {
                body["phone_last4"] = json!(me.last4());
            }
            let (status, d, ms) = post(
                &self.client,
                format!("{}{path}", self.base),
                &self.gate,
                &body,
            )
            .await?;
            if status != 200 {
                bail!("gate answered {status}: {d}");
            }
            if let (Some(times), Some(ms)) = (out.as_deref_mut(), ms) {
                times.push(ms);
            }
            match d["reason"].as_str() {
                Some("needs_hint") if !hint => hint = true,
                Some(r @ ("palm_not_recognised" | "needs_hint")) => last = r.to_string(),
                _ => return Ok(d),
            }
        }
        bail!("palm never read at the gate (last: {last})")
    }

    async fn run(&mut self, out: &mut Outcome) -> Result<()> {
        let party = if self.rng.random_bool(0.1) {
            self.rng.random_range(2..=4)
        } else {
            1
        };
        let mut entry_times = Vec::new();
        let d = self
            .at_gate(
                "/v1/shopping_trips",
                json!({"party_size": party}),
                &mut Some(&mut entry_times),
            )
            .await?;
        out.entry_ms = entry_times;
        if d["reason"] != "welcome" {
            bail!("entry: {}", d["reason"]);
        }
        let trip = d["trip"].as_str().context("no trip")?.to_string();
        out.trip = Some(trip.clone());
        if self.rng.random_bool(0.1) {
            // Back at the door (forgot something in the car): the same trip, no second hold.
            let again = self
                .at_gate("/v1/shopping_trips", json!({}), &mut None)
                .await?;
            out.reentry_ok =
                Some(again["reason"] == "welcome_back" && again["trip"] == trip.as_str());
        }

        let events = self.choose_events();
        let expected = expected_basket(&events);
        let deliveries = self.deliveries(events);
        let dwell = Duration::from_secs_f64(self.rng.random_range(5.0..25.0));
        let pause = dwell / (deliveries.len() as u32 + 1);
        let url = format!("{}/v1/shopping_trips/{trip}/events", self.base);
        for sent in &deliveries {
            tokio::time::sleep(pause).await;
            let (status, body, ms) = post(&self.client, url.clone(), &self.key, &sent.body).await?;
            if status != 200 {
                bail!("event refused ({status}): {body}");
            }
            out.events += 1;
            out.event_ms.extend(ms);
            if sent.resend {
                out.resends += 1;
                out.resends_recognised += usize::from(body["duplicate"] == true);
            }
        }
        if self.rng.random_bool(0.1) {
            let bad = json!({"id": "bad", "kind": "take", "product": "sku-000", "name": "x",
                "quantity": -1, "unit_price": price(0)});
            let (status, _, _) = post(&self.client, url.clone(), &self.key, &bad).await?;
            out.refusals_expected += 1;
            out.refused_as_expected += usize::from(status == 400);
        }

        let by_gate = self.rng.random_bool(0.3);
        let mut trip_now = None;
        if by_gate {
            let mut times = Vec::new();
            let exit = json!({"direction": "out"});
            match self
                .at_gate("/v1/gate/scans", exit, &mut Some(&mut times))
                .await
            {
                Ok(d) if d["reason"] == "goodbye" && d["trip"] == trip.as_str() => {
                    out.exit_ms = times.last().copied();
                    trip_now = Some(self.get(&format!("/v1/shopping_trips/{trip}")).await?);
                }
                Ok(d) => bail!("exit gate: {d}"),
                // The exit gate did not read the palm: the person leaves anyway, and the store's
                // system reports the exit.
                Err(_) => out.exit_gate_unread = true,
            }
        }
        let trip_now = match trip_now {
            Some(t) => t,
            None => {
                let (status, t, ms) = post(
                    &self.client,
                    format!("{}/v1/shopping_trips/{trip}/exit", self.base),
                    &self.key,
                    &json!({}),
                )
                .await?;
                if status != 200 {
                    bail!("exit ({status}): {t}");
                }
                out.exit_ms = ms;
                t
            }
        };
        if trip_now["status"] != "completed" {
            bail!("trip after exit: {}", trip_now["status"]);
        }
        if self.rng.random_bool(0.1) {
            let late = json!({"id": "late", "kind": "take", "product": "sku-001", "name": "late",
                "quantity": 1, "unit_price": price(1)});
            let (status, body, _) = post(&self.client, url, &self.key, &late).await?;
            out.refusals_expected += 1;
            out.refused_as_expected += usize::from(status == 409 && body["code"] == "trip_closed");
        }
        let receipt = self
            .get(&format!("/v1/shopping_trips/{trip}/receipt"))
            .await?;
        out.receipt_correct = receipt_matches(&receipt, &expected);
        if !out.receipt_correct {
            out.failure = Some(format!(
                "receipt {receipt} differs from the events sent ({expected:?})"
            ));
        }
        if let Some((product, _, price)) = expected.0.first()
            && self.rng.random_bool(0.1)
        {
            let link = trip_now["receipt_link"]
                .as_str()
                .context("no receipt link")?;
            let accept = self.rng.random_bool(0.5);
            out.dispute_correct = Some(self.dispute(&trip, link, product, *price, accept).await?);
        }
        Ok(())
    }

    /// The person disputes one of `product` from their receipt link; the merchant accepts or
    /// rejects. Whether the refund is then the line's price with its tax (or nothing).
    async fn dispute(
        &self,
        trip: &str,
        link: &str,
        product: &str,
        price: i64,
        accept: bool,
    ) -> Result<bool> {
        let token = link
            .split("#receipt=")
            .nth(1)
            .context("a receipt link without its token")?;
        let (status, a, _) = post(
            &self.client,
            format!("{}/v1/receipts/{token}/adjustments", self.base),
            "",
            &json!({"product": product, "quantity": 1, "reason": "not mine"}),
        )
        .await?;
        if status != 201 {
            bail!("dispute ({status}): {a}");
        }
        let decision = if accept { "accept" } else { "reject" };
        let (status, decided, _) = post(
            &self.client,
            format!(
                "{}/v1/shopping_trips/{trip}/adjustments/{}/{decision}",
                self.base,
                a["id"].as_str().unwrap_or_default()
            ),
            &self.key,
            &json!({}),
        )
        .await?;
        if status != 200 {
            bail!("{decision} ({status}): {decided}");
        }
        let refund = if accept { price + tax_on(price) } else { 0 };
        let receipt = self
            .get(&format!("/v1/shopping_trips/{trip}/receipt"))
            .await?;
        Ok(a["amount"] == price + tax_on(price) && receipt["refunded"] == refund)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// What the shopper does, in the order it happens: takes (1 to 3 of a product) and some
    /// put-backs, 0 to 6 products (one basket in ten ends empty).
    fn choose_events(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        let products = self.rng.random_range(0..=6);
        let mut at = 1_000i64;
        for n in 0..products {
            let p = self.rng.random_range(0..PRODUCTS);
            let quantity = self.rng.random_range(1..=3);
            let item = |kind: &str, quantity: i64, id: String, at: i64| {
                json!({"id": id, "kind": kind, "product": format!("sku-{p:03}"),
                    "name": format!("Product {p}"), "quantity": quantity, "unit_price": price(p),
                    "confidence": 0.9, "occurred_ms": at})
            };
            at += self.rng.random_range(200..3000);
            events.push(item("take", quantity, format!("ev-{n}-t"), at));
            if self.rng.random_bool(0.25) {
                at += self.rng.random_range(200..3000);
                let back = self.rng.random_range(1..=quantity);
                events.push(item("put_back", back, format!("ev-{n}-p"), at));
            }
        }
        events
    }

    /// The events as the network delivers them: a fifth of neighbours swapped (out of order),
    /// a tenth sent twice.
    fn deliveries(&mut self, events: Vec<Value>) -> Vec<Sent> {
        let mut order: Vec<Sent> = events
            .into_iter()
            .map(|body| Sent {
                body,
                resend: false,
            })
            .collect();
        for i in 1..order.len() {
            if self.rng.random_bool(0.2) {
                order.swap(i - 1, i);
            }
        }
        let mut out = Vec::new();
        for sent in order {
            let again = self.rng.random_bool(0.1);
            let body = sent.body.clone();
            out.push(sent);
            if again {
                out.push(Sent { body, resend: true });
            }
        }
        out
    }
}

/// The basket the events make, by the simulator's own arithmetic: per product, taken minus put
/// back (never below zero), at its price; tax half up on the subtotal. (product, quantity,
/// unit price) sorted by product, and the total.
fn expected_basket(events: &[Value]) -> (Vec<(String, i64, i64)>, i64) {
    let mut net: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for e in events {
        let sign = if e["kind"] == "take" { 1 } else { -1 };
        let line = net
            .entry(e["product"].as_str().unwrap_or_default().to_string())
            .or_insert((0, e["unit_price"].as_i64().unwrap_or_default()));
        line.0 += sign * e["quantity"].as_i64().unwrap_or_default();
    }
    let lines: Vec<(String, i64, i64)> = net
        .into_iter()
        .filter(|(_, (q, _))| *q > 0)
        .map(|(p, (q, price))| (p, q, price))
        .collect();
    let subtotal: i64 = lines.iter().map(|(_, q, p)| q * p).sum();
    (lines, subtotal + tax_on(subtotal))
}

fn receipt_matches(receipt: &Value, (lines, total): &(Vec<(String, i64, i64)>, i64)) -> bool {
    let mut got: Vec<(String, i64, i64)> = receipt["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["product"].as_str().unwrap_or_default().to_string(),
                        l["quantity"].as_i64().unwrap_or_default(),
                        l["unit_price"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    got == *lines && receipt["total"] == *total && receipt["charged"] == *total
}

fn print(args: &StoreArgs, r: &Report) {
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let entry = sorted(r.outcomes.iter().flat_map(|o| o.entry_ms.clone()).collect());
    let exits = sorted(r.outcomes.iter().filter_map(|o| o.exit_ms).collect());
    let events = sorted(r.outcomes.iter().flat_map(|o| o.event_ms.clone()).collect());
    let trips = r.outcomes.iter().filter(|o| o.trip.is_some()).count();
    let correct = r.outcomes.iter().filter(|o| o.receipt_correct).count();
    let sent: usize = r.outcomes.iter().map(|o| o.events).sum();
    let sum = |f: fn(&Outcome) -> usize| r.outcomes.iter().map(f).sum::<usize>();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for f in r
        .outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref())
        .chain(&r.signup_failures)
    {
        let short: String = f.chars().take(160).collect();
        *failures.entry(short).or_default() += 1;
    }
    let reentries: Vec<bool> = r.outcomes.iter().filter_map(|o| o.reentry_ok).collect();
    let out = json!({
        "simulate": "store",
        "database": if args.database.is_some() { "postgres" } else { "sqlite" },
        "shoppers": args.shoppers,
        "signed_up": r.signed_up,
        "minutes": args.minutes,
        "trips": trips,
        "receipts_correct": correct,
        "receipt_latency_ms_p50": percentile(&exits, 0.5),
        "receipt_latency_ms_p99": percentile(&exits, 0.99),
        "entry_decision_ms_p50": percentile(&entry, 0.5),
        "entry_decision_ms_p99": percentile(&entry, 0.99),
        "events": sent,
        "events_per_sec": sent as f64 / r.shopping_s,
        "event_server_ms_p99": percentile(&events, 0.99),
        "resends": sum(|o| o.resends),
        "resends_recognised": sum(|o| o.resends_recognised),
        "refusals_expected": sum(|o| o.refusals_expected),
        "refused_as_expected": sum(|o| o.refused_as_expected),
        "reentries": reentries.len(),
        "reentries_same_trip": reentries.iter().filter(|ok| **ok).count(),
    "disputes": r.outcomes.iter().filter(|o| o.dispute_correct.is_some()).count(),
        "disputes_settled_correctly": r.outcomes.iter().filter(|o| o.dispute_correct == Some(true)).count(),
        "exit_gate_unread": r.outcomes.iter().filter(|o| o.exit_gate_unread).count(),
        "failures": failures,
        "target_receipt_latency_ms_p99": 1000,
        "target_entry_decision_ms_p99": 300,
    });
    if args.json {
        println!("{out}");
        return;
    }
    let f = |k: &str| out[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "simulate store: {} shoppers over {} minutes, {}",
        args.shoppers, args.minutes, out["database"]
    );
    println!(
        "  trips {trips}, receipts correct {correct} (every receipt checked against the events sent)"
    );
    println!(
        "  receipt latency (exit to receipt ready, server): p50 {:.1} ms, p99 {:.1} ms (target <= 1000)",
        f("receipt_latency_ms_p50"),
        f("receipt_latency_ms_p99")
    );
    println!(
        "  entry decision (server): p50 {:.1} ms, p99 {:.1} ms (target <= 300)",
        f("entry_decision_ms_p50"),
        f("entry_decision_ms_p99")
    );
    println!(
        "  {sent} item events, {:.1}/s; server p99 {:.1} ms; {} of {} resends recognised; {} of {} bad or late events refused",
        f("events_per_sec"),
        f("event_server_ms_p99"),
        out["resends_recognised"],
        out["resends"],
        out["refused_as_expected"],
        out["refusals_expected"]
    );
    println!(
        "  {} of {} second scans at the door found the same trip",
        out["reentries_same_trip"], out["reentries"]
    );
    println!(
        "  {} of {} disputed lines refunded (accepted) or not (rejected) as decided",
        out["disputes_settled_correctly"], out["disputes"]
    );
    if !failures.is_empty() {
        println!("  failures: {failures:?}");
    }
}
