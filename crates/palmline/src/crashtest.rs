//! `palmline crashtest`: money under `kill -9`. Runs `palmline serve` as a child process, drives
//! concurrent payment stories over HTTP (create, palm, capture when manual, refund), kills the
//! server with SIGKILL at random moments, restarts it, and lets every story retry its request
//! with the same Idempotency-Key, as a till or POS would. After the last round it checks that the
//! simulated processor's durable ledger and the service's records agree on every payment:
//!
//! - one payment per story (a retried create never made a second one);
//! - no charge the service does not know of, and none charged twice;
//! - what the processor captured and refunded is what each payment shows;
//! - every story got a final answer for each of its requests (no key stuck `in_use`), and
//!   nothing is left `processing` or `pending`.
//!
//! It prints a JSON report and exits non-zero when any check fails.

use crate::bench_pay::{ChildServer, capture, card_number, phone};
use anyhow::{Context, Result, bail};
use palm_service::processor::{Lookup, Outcome};
use palm_service::{Processor, SimulatedConfig, SimulatedProcessor};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct CrashTestArgs {
    /// Rounds that end in `kill -9` (a last round then runs every story to its end).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Payment stories in all; half capture manually.
    #[arg(long, default_value_t = 40)]
    pub payments: usize,
    /// People signed up (the payers).
    #[arg(long, default_value_t = 4)]
    pub people: usize,
    /// Stories driven at once.
    #[arg(long, default_value_t = 6)]
    pub concurrency: usize,
    /// An empty PostgreSQL database to run on (default: SQLite in a temporary directory).
    #[arg(long)]
    pub database: Option<String>,
    /// Seed of the kill times and amounts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

const HAND_SEED_BASE: u64 = 7_000_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Create,
    Palm,
    /// The palm's payment was left `processing`: wait for the reconciler.
    Settle,
    Capture,
    Refund,
    Done,
}

#[derive(Clone, Debug)]
struct Story {
    n: usize,
    person: usize,
    manual: bool,
    amount: i64,
    step: Step,
    palm_attempt: u64,
    payment: Option<String>,
    /// Why the story ended other than by a refund (a decline, say).
    ended: Option<String>,
    /// It ended in a way a crash must never cause (a key stuck in use, an unexpected answer).
    broken: bool,
}

#[derive(Clone)]
struct Round {
    base: String,
    merchant_key: String,
    till: String,
    till_key: String,
}

pub fn run(args: CrashTestArgs) -> Result<()> {
    if args.people == 0 || args.payments == 0 || args.concurrency == 0 {
        bail!("need --people, --payments and --concurrency of at least 1");
    }
    let dir = std::env::temp_dir().join(format!("palmline-crashtest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(drive(&args, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    println!("{report}");
    if report["failures"].as_array().is_none_or(|f| !f.is_empty()) {
        bail!("the processor's ledger and the service's records disagree (see failures)");
    }
    Ok(())
}

/// Starts `palmline serve` on `dir`; returns the child and its base URL.
fn start_server(dir: &Path, database: Option<&str>) -> Result<(ChildServer, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        // Slow enough that kills land while calls are at the processor; short limits, so the
        // reconciler settles what a kill left open within seconds.
        .env("PALMLINE_PROCESSOR__LATENCY_MS", "150")
        .env("PALMLINE_PROCESSOR__TIMEOUT_MS", "1000")
        .env("PALMLINE_PROCESSOR__OUTCOME_WAIT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let mut child = ChildServer(cmd.spawn().context("cannot start palmline serve")?);
    let base = child.wait_until_serving()?;
    Ok((child, base))
}

async fn drive(args: &CrashTestArgs, dir: &Path) -> Result<Value> {
    palm_server::sender::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let stories: Vec<Story> = (0..args.payments)
        .map(|n| Story {
            n,
            person: n % args.people,
            manual: n % 2 == 1,
            amount: rng.random_range(100..5000),
            step: Step::Create,
            palm_attempt: 0,
            payment: None,
            ended: None,
            broken: false,
        })
        .collect();
    let stories = Arc::new(Mutex::new(stories));

    // Sign the payers up before any kill.
    let (child, base) = start_server(dir, args.database.as_deref())?;
    let creds: palm_server::DemoCredentials = serde_json::from_slice(
        &std::fs::read(dir.join("demo-credentials.json")).context("no demo credentials")?,
    )?;
    let round = Arc::new(Round {
        base,
        merchant_key: creds.api_key.clone(),
        till: creds.tills[0].id.clone(),
        till_key: creds.tills[0].credential.clone(),
    });
    for p in 0..args.people {
        let seed = HAND_SEED_BASE + p as u64;
        let body = json!({
            "phone": phone(p),
            // Clear of the processor's test cards, which decline.
            "card": {"number": card_number(1000 + p), "exp_month": 12, "exp_year": 2035, "holder_name": "Crash Test"},
            "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
            "captures": (1..=3).map(|k| json!({"hand": "right", "image": capture(seed, k)})).collect::<Vec<_>>(),
        });
        let (status, answer) =
            post(&client, &round, "/v1/signups", &round.till_key, &body, None).await?;
        if status != 201 {
            bail!("sign-up {p} answered {status}: {answer}");
        }
    }
    let mut child = Some(child);
    let mut round = round;
    let mut kills = 0;
    let started = Instant::now();
    for r in 0..=args.rounds {
        let last = r == args.rounds;
        if r > 0 {
            // The same merchant's credentials, at the restarted server's new address.
            let (c, base) = start_server(dir, args.database.as_deref())?;
            child = Some(c);
            round = Arc::new(Round {
                base,
                ..Round::clone(&round)
            });
        }
        let work = tokio::spawn(run_stories(
            client.clone(),
            round.clone(),
            stories.clone(),
            args.concurrency,
            last,
        ));
        if last {
            tokio::time::timeout(Duration::from_secs(180), work)
                .await
                .context("the stories did not finish within 180 s after the last restart")??;
        } else {
            let kill_after = Duration::from_millis(rng.random_range(300..1500));
            tokio::time::sleep(kill_after).await;
            if let Some(mut c) = child.take() {
                c.0.kill().context("kill -9")?;
                let _ = c.0.wait();
                // Dead already: no graceful stop to ask for.
                std::mem::forget(c);
                kills += 1;
            }
            // Requests in flight fail at once; each story keeps the step it was on.
            work.await?;
        }
    }
    // The reconciler settles what the kills left open (refunds pending, say).
    let records = settled_records(&client, &round).await?;
    drop(child.take());
    let ledger = SimulatedProcessor::durable(
        SimulatedConfig::default(),
        &dir.join("simulated-processor.jsonl"),
    )?;
    let stories = stories.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let failures = check(&stories, &records, &ledger).await;
    let ended: BTreeMap<String, usize> = stories.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.ended.clone().unwrap_or_else(|| "refunded".into()))
            .or_default() += 1;
        m
    });
    Ok(json!({
        "check": "crash",
        "database": if args.database.is_some() { "postgres" } else { "sqlite" },
        "kills": kills,
        "payments": stories.len(),
        "stories_ended": ended,
        "processor_charges": ledger.charges().len(),
        "seconds": started.elapsed().as_secs_f64(),
        "failures": failures,
    }))
}

/// Drives every unfinished story, `concurrency` at once, until each is done or (unless `last`)
/// the server stops answering.
async fn run_stories(
    client: reqwest::Client,
    round: Arc<Round>,
    stories: Arc<Mutex<Vec<Story>>>,
    concurrency: usize,
    last: bool,
) {
    let pending: Vec<usize> = stories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|s| s.step != Step::Done)
        .map(|s| s.n)
        .collect();
    let queue = Arc::new(Mutex::new(pending));
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, round, stories, queue) = (
            client.clone(),
            round.clone(),
            stories.clone(),
            queue.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(n) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return;
                };
                let mut story = stories.lock().unwrap_or_else(|e| e.into_inner())[n].clone();
                let outcome = advance(&client, &round, &mut story, last).await;
                stories.lock().unwrap_or_else(|e| e.into_inner())[n] = story;
                if outcome.is_err() && !last {
                    return; // the server is gone: wait for the next round
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Moves one story forward until it is done. Err: the server stopped answering.
async fn advance(client: &reqwest::Client, round: &Round, s: &mut Story, last: bool) -> Result<()> {
    let mut patience = 0;
    while s.step != Step::Done {
        let id = s.payment.clone().unwrap_or_default();
        let (path, auth, body, key) = match s.step {
            Step::Create => (
                "/v1/payments".to_string(),
                round.merchant_key.as_str(),
                json!({"amount": s.amount, "currency": "usd", "till": round.till,
                       "capture_method": if s.manual { "manual" } else { "automatic" }}),
                format!("story-{}-create", s.n),
            ),
            Step::Palm => (
                format!("/v1/payments/{id}/palm"),
                round.till_key.as_str(),
                json!({"image": capture(HAND_SEED_BASE + s.person as u64, 100 + s.palm_attempt),
                       "phone_last4": &phone(s.person)[phone(s.person).len() - 4..]}),
                format!("story-{}-palm-{}", s.n, s.palm_attempt),
            ),
            Step::Capture => (
                format!("/v1/payments/{id}/capture"),
                round.merchant_key.as_str(),
                json!({"amount": s.amount - 50}),
                format!("story-{}-capture", s.n),
            ),
            Step::Refund => (
                format!("/v1/payments/{id}/refunds"),
                round.merchant_key.as_str(),
                json!({"amount": 40}),
                format!("story-{}-refund", s.n),
            ),
            Step::Settle => {
                let p = get(client, round, &format!("/v1/payments/{id}")).await?;
                match p["status"].as_str() {
                    Some("processing") => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    _ => after_palm(s, &p),
                }
                continue;
            }
            Step::Done => unreachable!(),
        };
        let (status, answer) = post(client, round, &path, auth, &body, Some(&key)).await?;
        let code = answer["code"].as_str().unwrap_or("");
        match (s.step, status) {
            (Step::Create, 201) => {
                s.payment = answer["id"].as_str().map(str::to_string);
                s.step = Step::Palm;
            }
            (Step::Palm, 200) => after_palm(s, &answer),
            // Not read: the person hovers again (a new capture is a new request, so a new key).
            (Step::Palm, 400..=499) if status != 409 => {
                if s.palm_attempt < 3 {
                    s.palm_attempt += 1;
                } else {
                    s.ended = Some(format!("palm not read: {code}"));
                    s.step = Step::Done;
                }
            }
            (Step::Capture, 200) => s.step = Step::Refund,
            (Step::Refund, 201) => s.step = Step::Done,
            _ if status == 503 || code == "idempotency_key_in_use" => {
                // Still being worked on, or the processor's answer is not known yet: retry.
                patience += 1;
                if patience > 200 {
                    s.ended = Some(format!("{:?}: still {code} after 200 retries", s.step));
                    s.broken = true;
                    s.step = Step::Done;
                }
                tokio::time::sleep(Duration::from_millis(if last { 250 } else { 50 })).await;
            }
            _ => {
                s.ended = Some(format!("{:?}: {status} {code}", s.step));
                s.broken = true;
                s.step = Step::Done;
            }
        }
    }
    Ok(())
}

fn after_palm(s: &mut Story, payment: &Value) {
    match payment["status"].as_str() {
        Some("succeeded") => s.step = Step::Refund,
        Some("requires_capture") => s.step = Step::Capture,
        Some("processing") => s.step = Step::Settle,
        // A failed payment (a decline, or an authorisation a kill stopped before it reached the
        // processor) ends the story; anything else after a palm is not a state a till can get.
        Some("failed") => {
            s.ended = Some("failed".into());
            s.step = Step::Done;
        }
        other => {
            s.ended = Some(format!("palm: payment {}", other.unwrap_or("?")));
            s.broken = true;
            s.step = Step::Done;
        }
    }
}

async fn post(
    client: &reqwest::Client,
    round: &Round,
    path: &str,
    auth: &str,
    body: &Value,
    key: Option<&str>,
) -> Result<(u16, Value)> {
    let mut req = client.post(format!("{}{path}", round.base)).json(body);
    if !auth.is_empty() {
        req = req.bearer_auth(auth);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn get(client: &reqwest::Client, round: &Round, path: &str) -> Result<Value> {
    let r = client
        .get(format!("{}{path}", round.base))
        .bearer_auth(&round.merchant_key)
        .send()
        .await?;
    Ok(r.json().await?)
}

/// Every payment with its refunds, once nothing is `processing` or `pending` any more (the
/// reconciler runs every five seconds).
async fn settled_records(
    client: &reqwest::Client,
    round: &Round,
) -> Result<Vec<(Value, Vec<Value>)>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut records = vec![];
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/payments?limit=100&starting_after={a}"),
                None => "/v1/payments?limit=100".to_string(),
            };
            let page = get(client, round, &path).await?;
            for p in page["data"].as_array().cloned().unwrap_or_default() {
                let id = p["id"].as_str().unwrap_or_default().to_string();
                let refunds = get(client, round, &format!("/v1/payments/{id}/refunds")).await?;
                records.push((p, refunds["data"].as_array().cloned().unwrap_or_default()));
                after = Some(id);
            }
            if page["has_more"] != true {
                break;
            }
        }
        let open = records.iter().any(|(p, refunds)| {
            p["status"] == "processing" || refunds.iter().any(|r| r["status"] == "pending")
        });
        if !open || Instant::now() > deadline {
            return Ok(records);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What disagrees between the stories, the service's records and the processor's ledger.
async fn check(
    stories: &[Story],
    records: &[(Value, Vec<Value>)],
    ledger: &SimulatedProcessor,
) -> Vec<String> {
    let mut failures = vec![];
    if records.len() != stories.len() {
        failures.push(format!(
            "{} payments recorded for {} stories (a retried create made another)",
            records.len(),
            stories.len()
        ));
    }
    for s in stories.iter().filter(|s| s.broken) {
        failures.push(format!(
            "story {}: {}",
            s.n,
            s.ended.as_deref().unwrap_or("?")
        ));
    }
    let charges = ledger.charges();
    let mut known = std::collections::HashSet::new();
    for (p, refunds) in records {
        let id = p["id"].as_str().unwrap_or_default();
        let status = p["status"].as_str().unwrap_or_default();
        let refunded: i64 = refunds
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .map(|r| r["amount"].as_i64().unwrap_or(0))
            .sum();
        if refunds.iter().any(|r| r["status"] == "pending") || status == "processing" {
            failures.push(format!("{id}: still {status} or a refund pending"));
            continue;
        }
        let charge = match ledger.lookup(&format!("{id}:authorize")).await {
            Ok(Lookup::Done(Outcome::Approved { reference })) => {
                known.insert(reference.clone());
                charges.get(&reference).copied()
            }
            _ => None,
        };
        let (captured, voided, processor_refunded) =
            charge.map_or((0, false, 0), |c| (c.captured, c.voided, c.refunded));
        let shown_captured = p["amount_captured"].as_i64().unwrap_or(-1);
        let shown_refunded = p["amount_refunded"].as_i64().unwrap_or(-1);
        let agrees = match status {
            "succeeded" => {
                charge.is_some()
                    && captured == shown_captured
                    && processor_refunded == shown_refunded
                    && refunded == shown_refunded
            }
            "requires_capture" => charge.is_some() && captured == 0 && !voided,
            "canceled" => captured == 0,
            "failed" | "requires_palm" => charge.is_none(),
            _ => false,
        };
        if !agrees {
            failures.push(format!(
                "{id}: service says {status}, captured {shown_captured}, refunded {shown_refunded} ({refunded} in refunds); processor: {charge:?}"
            ));
        }
    }
    for (reference, c) in &charges {
        if !known.contains(reference) && (c.captured > 0 || !c.voided) {
            failures.push(format!(
                "processor charge {reference} ({c:?}) belongs to no payment"
            ));
        }
    }
    failures
}
