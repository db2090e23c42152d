//! `palmline bench pay`: sign-ups per second and identify+pay latency with a large enrolled
//! population, driven over HTTP against `palmline serve` running as a separate process.
//!
//! 1. Seeds the database with `--people` enrolled people (minus the HTTP sign-ups) through the
//!    service's import path: distractor templates as in `bench identify`, distinct phones and cards.
//! 2. Starts `palmline serve` on that data directory (a child process) and waits for it.
//! 3. Signs up `--signups` synthetic people over HTTP (three captures each), `--tills` at once.
//! 4. Runs `--payments` payments over HTTP, `--tills` at once: the POS creates the payment, the
//!    till submits a new hover of a signed-up person (`--frames`: three frames of one capture, as
//!    the scanner sends, or one capture alone) with the last four phone digits (the hint the
//!    open-set policy needs at this gallery size); a palm not read is hovered again with a new
//!    capture, up to three times, as at a real till. Latency is per palm request:
//!    server-side from each response's `Server-Timing` header, client-side with the network.
//! 5. Each signed-up person holding a ticket scans once at an event's gate, presenting what the
//!    till got at the first scan (a hover or one capture) with the phone digits.

use crate::bench_identify::Distractors;
use crate::figures::percentile;
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use palm_engine::Engine;
use palm_server::Config;
use palm_service::signup_input::{CardEntry, Hand};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct PayBenchArgs {
    /// Enrolled people in all (seeded plus signed up over HTTP).
    #[arg(long, default_value_t = 100_000)]
    pub people: usize,
    /// People signed up over HTTP (they are also the payers).
    #[arg(long, default_value_t = 200)]
    pub signups: usize,
    /// Tills working at once.
    #[arg(long, default_value_t = 8)]
    pub tills: usize,
    /// Payments made by palm, spread over the tills.
    #[arg(long, default_value_t = 1000)]
    pub payments: usize,
    /// Distinct synthetic identities behind the seeded distractors.
    #[arg(long, default_value_t = 2000)]
    pub identities: u64,
    /// An empty PostgreSQL database to run on (default: SQLite in a temporary directory).
    #[arg(long)]
    pub database: Option<String>,
    /// Frames of each hover a till sends: 3 (as `palmline scanner pay` does: one capture held
    /// still, the hand moved a little and new noise in each frame) or 1 (one capture alone).
    #[arg(long, default_value_t = 3, value_parser = crate::scanner::one_or_three())]
    pub frames: u8,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A person the bench signs up and who then pays.
pub(crate) struct Payer {
    /// Their number among all enrolled people (their phone and card follow from it).
    pub(crate) n: usize,
    /// The sign-up request.
    pub(crate) signup: Value,
    /// What a till or gate sends for each of three scans: `{"image": ...}` or
    /// `{"frames": [...]}`.
    pub(crate) scans: Vec<Value>,
}

const HAND_SEED_BASE: u64 = 5_000_000;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn capture(seed: u64, k: u64) -> String {
    frame(seed, k, 0)
}

/// Frame `f` of the hover of capture `k` (frame 0 is the capture itself).
fn frame(seed: u64, k: u64, f: u32) -> String {
    b64(&png_bytes(
        &Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(k).frame(f)),
    ))
}

pub(crate) fn phone(i: usize) -> String {
    format!("+1555{i:07}")
}

/// A Luhn-valid 16-digit Visa number, distinct for each `i`.
pub(crate) fn card_number(i: usize) -> String {
    let body = format!("4{i:014}");
    format!("{body}{}", palm_vault::luhn_check_digit(&body))
}

pub(crate) struct ChildServer(pub(crate) std::process::Child);

impl ChildServer {
    /// `palmline serve` on `data_dir` (and `database`, if given) on a free port, its output piped
    /// for [`ChildServer::wait_until_serving`].
    pub(crate) fn start(data_dir: &std::path::Path, database: Option<&str>) -> Result<ChildServer> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        Ok(ChildServer(
            cmd.spawn().context("cannot start palmline serve")?,
        ))
    }

    /// Reads the server's output (a pipe) until it says where it serves; returns that base URL
    /// and keeps draining the output so the server never blocks on a full pipe.
    pub(crate) fn wait_until_serving(&mut self) -> Result<String> {
        let stdout = self.0.stdout.take().context("no stdout from the server")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .context("the server exited before it was ready")??;
            if let Some(url) = line.strip_prefix("Palmline is serving on ") {
                break url.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(base)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // SIGTERM for a graceful stop, then make sure.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: PayBenchArgs) -> Result<()> {
    if args.signups == 0 || args.signups > args.people || args.tills == 0 {
        bail!("need 1 <= --signups <= --people and --tills >= 1");
    }
    let dir = std::env::temp_dir().join(format!("palmline-bench-pay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config {
        data_dir: dir.clone(),
        database: args.database.clone(),
        demo: false,
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let seeded = args.people - args.signups;
    let seed_s = rt.block_on(seed(&config, seeded, args.identities))?;

    let start = Instant::now();
    let mut child = ChildServer::start(&dir, args.database.as_deref())?;
    let base = child.wait_until_serving()?;
    let load_s = start.elapsed().as_secs_f64();
    let creds: palm_server::DemoCredentials = serde_json::from_slice(
        &std::fs::read(dir.join("demo-credentials.json")).context("no demo credentials")?,
    )?;
    eprintln!("server ready in {load_s:.1} s with {seeded} seeded people; rendering captures...");

    let people: Vec<Payer> = (0..args.signups)
        .into_par_iter()
        .map(|i| {
            let seed = HAND_SEED_BASE + i as u64;
            let n = seeded + i;
            let body = json!({
                "phone": phone(n),
                "card": {"number": card_number(n), "exp_month": 12, "exp_year": 2035, "holder_name": "Bench Person"},
                "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
                "captures": (1..=3).map(|k| json!({"hand": "right", "image": capture(seed, k)})).collect::<Vec<_>>(),
            });
            let scans = (50..53)
                .map(|k| match args.frames {
                    1 => json!({ "image": capture(seed, k) }),
                    f => json!({ "frames": (0..u32::from(f)).map(|i| frame(seed, k, i)).collect::<Vec<_>>() }),
                })
                .collect();
            Payer {
                n,
                signup: body,
                scans,
            }
        })
        .collect();
    let report = rt.block_on(drive(&args, &base, &creds, people))?;
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);

    let out = json!({
        "bench": "pay",
        "database": if args.database.is_some() { "postgres" } else { "sqlite" },
        "people": args.people,
        "tills": args.tills,
        "frames": args.frames,
        "seed_s": seed_s,
        "server_start_s": load_s,
        "signups": report.signups_ok,
        "signups_per_s": report.signups_per_s,
        "signup_server_p50_ms": percentile(&report.signup_ms, 0.5),
        "signup_server_p99_ms": percentile(&report.signup_ms, 0.99),
        "payments_failed": report.failures,
        "payments": args.payments,
        "payments_succeeded": report.succeeded,
        "payments_succeeded_first_scan": report.succeeded_first_scan,
        "pay_server_p50_ms": percentile(&report.server_ms, 0.5),
        "pay_server_p99_ms": percentile(&report.server_ms, 0.99),
        "pay_client_p50_ms": percentile(&report.client_ms, 0.5),
        "pay_client_p99_ms": percentile(&report.client_ms, 0.99),
        "payments_per_s": report.payments_per_s,
        "gate_scans": report.gate_ms.len(),
        "gate_admitted": report.gate_admitted,
        "gate_server_p50_ms": percentile(&report.gate_ms, 0.5),
        "gate_server_p99_ms": percentile(&report.gate_ms, 0.99),
        "target_gate_server_ms": 300,
        "target_server_p99_ms": 150,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "bench pay: {} enrolled people, {} tills at once, {}",
            args.people, args.tills, out["database"]
        );
        println!(
            "  sign-ups over HTTP: {} at {:.1}/s; server p50 {:.1} ms, p99 {:.1} ms (target <= 1000)",
            report.signups_ok,
            report.signups_per_s,
            out["signup_server_p50_ms"].as_f64().unwrap_or(f64::NAN),
            out["signup_server_p99_ms"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "  identify+pay (palm request): server p50 {:.1} ms, p99 {:.1} ms (target <= 150); client p50 {:.1} ms, p99 {:.1} ms",
            out["pay_server_p50_ms"].as_f64().unwrap_or(f64::NAN),
            out["pay_server_p99_ms"].as_f64().unwrap_or(f64::NAN),
            out["pay_client_p50_ms"].as_f64().unwrap_or(f64::NAN),
            out["pay_client_p99_ms"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "  {} of {} payments succeeded ({} at the first scan, the rest rescanned), {:.1} payments/s; seeding {:.1} s, server start {:.1} s",
            report.succeeded,
            args.payments,
            report.succeeded_first_scan,
            report.payments_per_s,
            seed_s,
            load_s
        );
        println!(
            "  gate decisions: {} scans, {} admitted at the first scan; server p50 {:.1} ms, p99 {:.1} ms (target <= 300)",
            report.gate_ms.len(),
            report.gate_admitted,
            out["gate_server_p50_ms"].as_f64().unwrap_or(f64::NAN),
            out["gate_server_p99_ms"].as_f64().unwrap_or(f64::NAN),
        );
        if !report.failures.is_empty() {
            println!("  not succeeded: {:?}", report.failures);
        }
    }
    Ok(())
}

/// Imports `count` people with distractor templates; returns the seconds it took.
async fn seed(config: &Config, count: usize, identities: u64) -> Result<f64> {
    if count == 0 {
        return Ok(0.0);
    }
    let engine = Engine::default();
    let source = Distractors::new(&engine, identities);
    let (service, _) = palm_server::server::build_service(
        config,
        Arc::new(palm_service::SystemClock),
        Arc::new(palm_service::DevPhoneChannel::default()),
        None,
    )
    .await?;
    let start = Instant::now();
    let bar = crate::figures::progress(count as u64, "seeding enrolled people");
    let chunk = 4096;
    for base in (0..count).step_by(chunk) {
        let templates: Vec<_> = (base..(base + chunk).min(count))
            .into_par_iter()
            .map(|n| source.get(n))
            .collect();
        for (j, t) in templates.into_iter().enumerate() {
            let n = base + j;
            let card = CardEntry {
                number: card_number(n),
                exp_month: 12,
                exp_year: 2035,
                holder_name: "Seeded Person".into(),
                cvc: None,
            };
            service
                .import_person(&phone(n), &card, &[(Hand::Right, t)])
                .await
                .map_err(|e| anyhow::anyhow!("seeding person {n}: {e}"))?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(start.elapsed().as_secs_f64())
}

/// One payment at a till: (server ms, client ms) of each palm request, and how it ended.
struct PaymentRun {
    samples: Vec<(Option<f64>, f64)>,
    outcome: String,
}

struct Report {
    signups_ok: usize,
    signup_ms: Vec<f64>,
    /// Payments that did not succeed, by error code or final status.
    failures: std::collections::BTreeMap<String, usize>,
    signups_per_s: f64,
    succeeded: usize,
    succeeded_first_scan: usize,
    server_ms: Vec<f64>,
    client_ms: Vec<f64>,
    payments_per_s: f64,
    /// Gate scans: server milliseconds of each, and how many admitted.
    gate_ms: Vec<f64>,
    gate_admitted: usize,
}

pub(crate) async fn post(
    client: &reqwest::Client,
    url: String,
    key: &str,
    body: &Value,
) -> Result<(u16, Value, Option<f64>)> {
    let r = client.post(url).bearer_auth(key).json(body).send().await?;
    let status = r.status().as_u16();
    let server_ms = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse().ok());
    Ok((status, r.json().await.unwrap_or(Value::Null), server_ms))
}

async fn drive(
    args: &PayBenchArgs,
    base: &str,
    creds: &palm_server::DemoCredentials,
    people: Vec<Payer>,
) -> Result<Report> {
    palm_server::sender::install_tls_provider();
    let client = reqwest::Client::new();
    let tills = creds.tills.clone();
    // Sign-ups, `tills` at once.
    let start = Instant::now();
    let people = Arc::new(people);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = vec![];
    for w in 0..args.tills {
        let (client, people, next, base) = (
            client.clone(),
            people.clone(),
            next.clone(),
            base.to_string(),
        );
        let till = tills[w % tills.len()].credential.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(Payer {
                    n, signup: body, ..
                }) = people.get(i)
                else {
                    break;
                };
                match post(&client, format!("{base}/v1/signups"), &till, body).await {
                    Ok((201, _, server_ms)) => ok.push((i, server_ms)),
                    Ok((status, body, _)) => {
                        eprintln!("sign-up {n} refused ({status}): {}", body["code"])
                    }
                    Err(e) => eprintln!("sign-up {n} failed: {e}"),
                }
            }
            ok
        }));
    }
    let mut enrolled = vec![];
    let mut signup_ms = vec![];
    for t in tasks {
        for (i, ms) in t.await? {
            enrolled.push(i);
            signup_ms.extend(ms);
        }
    }
    let signups_per_s = enrolled.len() as f64 / start.elapsed().as_secs_f64();
    signup_ms.sort_by(f64::total_cmp);
    if enrolled.is_empty() {
        bail!("no sign-up succeeded");
    }
    eprintln!("{} sign-ups done; paying...", enrolled.len());

    let start = Instant::now();
    let enrolled = Arc::new(enrolled);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = vec![];
    for w in 0..args.tills {
        let (client, people, enrolled, next, base) = (
            client.clone(),
            people.clone(),
            enrolled.clone(),
            next.clone(),
            base.to_string(),
        );
        let till = tills[w % tills.len()].clone();
        let merchant = creds.api_key.clone();
        let total = args.payments;
        tasks.push(tokio::spawn(async move {
            let mut out: Vec<PaymentRun> = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let Payer { n, scans, .. } = &people[enrolled[i % enrolled.len()]];
                let create =
                    json!({"amount": 100 + (i % 5000) as i64, "currency": "usd", "till": till.id});
                let Ok((201, p, _)) =
                    post(&client, format!("{base}/v1/payments"), &merchant, &create).await
                else {
                    out.push(PaymentRun {
                        samples: vec![],
                        outcome: "create_failed".into(),
                    });
                    continue;
                };
                let id = p["id"].as_str().unwrap_or_default();
                let last4 = phone(*n)[8..].to_string();
                // As at a real till, a palm that is not read is hovered again (a new capture),
                // up to three times.
                let mut samples = vec![];
                let mut outcome = String::new();
                for scan in 0..scans.len() {
                    let mut body = scans[(i + scan) % scans.len()].clone();
                    body["phone_last4"] = json!(last4);
                    let t0 = Instant::now();
                    let r = post(
                        &client,
                        format!("{base}/v1/payments/{id}/palm"),
                        &till.credential,
                        &body,
                    )
                    .await;
                    let client_ms = t0.elapsed().as_secs_f64() * 1e3;
                    outcome = match r {
                        Ok((_, body, server_ms)) => {
                            samples.push((server_ms, client_ms));
                            body["code"]
                                .as_str()
                                .or(body["status"].as_str())
                                .unwrap_or("unknown")
                                .to_string()
                        }
                        Err(_) => "transport_error".into(),
                    };
                    if outcome != "palm_not_recognised" {
                        break;
                    }
                }
                out.push(PaymentRun { samples, outcome });
            }
            out
        }));
    }
    let mut results = vec![];
    for t in tasks {
        results.extend(t.await?);
    }
    let payments_per_s = results.len() as f64 / start.elapsed().as_secs_f64();
    let samples = || results.iter().flat_map(|r| r.samples.iter());
    let mut server_ms: Vec<f64> = samples().filter_map(|s| s.0).collect();
    let mut client_ms: Vec<f64> = samples().map(|s| s.1).collect();
    server_ms.sort_by(f64::total_cmp);
    client_ms.sort_by(f64::total_cmp);
    let (gate_ms, gate_admitted) = gates(&client, base, creds, &people, &enrolled).await?;
    let mut failures: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &results {
        if r.outcome != "succeeded" {
            *failures.entry(r.outcome.clone()).or_default() += 1;
        }
    }
    Ok(Report {
        signup_ms,
        failures,
        signups_ok: enrolled.len(),
        signups_per_s,
        succeeded: results.iter().filter(|r| r.outcome == "succeeded").count(),
        succeeded_first_scan: results
            .iter()
            .filter(|r| r.outcome == "succeeded" && r.samples.len() == 1)
            .count(),
        server_ms,
        client_ms,
        payments_per_s,
        gate_ms,
        gate_admitted,
    })
}

/// Every person who signed up gets a ticket to an event and walks through its gate, one after
/// another: the gate decision's server time (identification in the whole gallery with the
/// phone hint, the pass and capacity checks, the record).
async fn gates(
    client: &reqwest::Client,
    base: &str,
    creds: &palm_server::DemoCredentials,
    people: &[Payer],
    enrolled: &[usize],
) -> Result<(Vec<f64>, usize)> {
    let key = &creds.api_key;
    let (s, venue, _) = post(
        client,
        format!("{base}/v1/venues"),
        key,
        &json!({"name": "Bench arena", "gates": [{"name": "Main"}]}),
    )
    .await?;
    if s != 201 {
        bail!("venue not created: {venue}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (_, event, _) = post(client, format!("{base}/v1/venues/{}/events", venue["id"].as_str().unwrap_or("")), key,
        &json!({"name": "Bench night", "starts": now - 60, "ends": now + 86_400, "capacity": 1_000_000})).await?;
    let eid = event["id"].as_str().unwrap_or_default().to_string();
    let gate = venue["gates"][0]["credential"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (mut ms, mut admitted) = (vec![], 0);
    for &i in enrolled {
        let Payer { n, scans, .. } = &people[i];
        post(
            client,
            format!("{base}/v1/events/{eid}/passes"),
            key,
            &json!({"phone": phone(*n), "kind": "ticket"}),
        )
        .await?;
        // The same presentation a till gets at the first scan (one capture or a hover).
        let mut body = scans[0].clone();
        body["event"] = json!(eid);
        body["phone_last4"] = json!(&phone(*n)[8..]);
        let (_, d, server_ms) = post(client, format!("{base}/v1/gate/scans"), &gate, &body).await?;
        ms.extend(server_ms);
        admitted += (d["allowed"] == true) as usize;
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms, admitted))
}
