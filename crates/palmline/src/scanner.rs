//! `palmline scanner ...`: the device next to a till or at a gate (crates/palm-scanner).

use anyhow::{Context, Result};
use palm_scanner::capture::Gesture;
use palm_scanner::offline::OfflineGate;
use palm_scanner::sources::parse_source;
use palm_scanner::{Client, DeviceKeys, Paired};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DeviceDir {
    /// Where the device keeps its keys and pairing (created 0700 on first use).
    #[arg(long, default_value = "palmline-scanner")]
    pub dir: PathBuf,
}

#[derive(clap::Subcommand)]
pub enum ScannerArgs {
    /// Pair this device with a till or gate, using a one-time code from staff
    /// (`POST /v1/devices/pairing_codes`).
    Pair {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The one-time pairing code staff gave (the merchant screen's "New pairing code").
        #[arg(long)]
        code: String,
        /// This device's name, as the merchant screen lists it.
        #[arg(long, default_value = "scanner")]
        name: String,
        #[command(flatten)]
        dir: DeviceDir,
    },
    /// What this device is paired with (a signed request).
    Whoami {
        #[command(flatten)]
        dir: DeviceDir,
    },
    /// Wait for a steady palm and pay the payment waiting at this device's till.
    Pay {
        /// The payment (`pay_...`) the till's POS created.
        #[arg(long)]
        payment: String,
        /// The last four digits of the person's phone, when the till asked for them (the server
        /// answered `needs_hint`: a large gallery, or the first scan after a phone sign-up).
        #[arg(long)]
        phone_last4: Option<String>,
        /// `synth:SEED[:CAPTURE][:hand]`, `files:A.png,B.png`, `folder:DIR`, or `webcam:INDEX`
        /// (built with `--features webcam`).
        #[arg(long)]
        source: String,
        /// Frames of the steady hover to send: 3 (the server decides on them together) or 1
        /// (the best of them alone).
        #[arg(long, default_value_t = 3, value_parser = one_or_three())]
        frames: u8,
        /// Where the person's other hand is read from when the server asks for it
        /// (`needs_second_hand`: the first hand's hover named no one); the same forms as
        /// `--source`. Without it that answer is printed for the till to act on.
        #[arg(long)]
        other_hand_source: Option<String>,
        #[command(flatten)]
        dir: DeviceDir,
    },
    /// At a gate, while online: upload the decisions made offline, drop the event's allow-list
    /// if it was revoked, and fetch a fresh one for the next outage.
    Sync {
        /// The event (`evn_...`) whose allow-list this gate keeps.
        #[arg(long)]
        event: String,
        #[command(flatten)]
        dir: DeviceDir,
    },
    /// Wait for a steady palm at this device's gate. When the server cannot be reached, the gate
    /// decides from its synced allow-list and queues the decision for `scanner sync`.
    Gate {
        /// The event (`evn_...`) the gate admits to; left out at a walk-out store's gate, where
        /// `in` opens a shopping trip and `out` ends it.
        #[arg(long, default_value = "")]
        event: String,
        /// `in` or `out`.
        #[arg(long, default_value = "in")]
        direction: String,
        /// `synth:SEED[:CAPTURE][:hand]`, `files:A.png,B.png`, `folder:DIR`, or `webcam:INDEX`
        /// (built with `--features webcam`).
        #[arg(long)]
        source: String,
        /// Frames of the steady hover to send: 3 (decided together, as at a till) or 1. Offline,
        /// the gate decides on the first frame.
        #[arg(long, default_value_t = 3, value_parser = one_or_three())]
        frames: u8,
        #[command(flatten)]
        dir: DeviceDir,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The paired device in `dir`.
fn device(dir: &DeviceDir) -> Result<Client> {
    let paired = Paired::load(&dir.dir)?;
    Ok(Client::new(
        &paired.server.clone(),
        DeviceKeys::open(&dir.dir)?,
        Some(paired),
    )?)
}

/// Frames from `source` until a palm is steady, guidance on stderr.
fn steady_palm(source: &str) -> Result<Vec<u8>> {
    let mut source = parse_source(source)?;
    eprintln!("hover your palm over the scanner...");
    Ok(Gesture::default().wait_for_palm(source.as_mut(), |g| eprintln!("  {g}"))?)
}

/// The frames of one steady hover from `source`, after telling the person what to do.
fn steady_hover(source: &str, ask: &str) -> Result<Vec<Vec<u8>>> {
    let mut source = parse_source(source)?;
    eprintln!("{ask}");
    Ok(Gesture::default().wait_for_hover(source.as_mut(), |g| eprintln!("  {g}"))?)
}

fn print(reply: palm_scanner::Reply) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&reply.body)?);
    if reply.status >= 400 {
        anyhow::bail!("the server answered {}", reply.status);
    }
    Ok(())
}

pub fn run(args: ScannerArgs) -> Result<()> {
    let rt = runtime()?;
    match args {
        ScannerArgs::Pair {
            server,
            code,
            name,
            dir,
        } => {
            let mut client = Client::new(&server, DeviceKeys::open(&dir.dir)?, None)?;
            let paired = rt.block_on(client.pair(&code, &name))?;
            paired.save(&dir.dir)?;
            println!(
                "paired as {} with {} {}",
                paired.device.id,
                paired.device.kind,
                paired
                    .device
                    .till
                    .as_deref()
                    .or(paired.device.gate.as_deref())
                    .unwrap_or("?")
            );
            Ok(())
        }
        ScannerArgs::Whoami { dir } => {
            let client = device(&dir)?;
            print(rt.block_on(client.signed("GET", "/v1/device", None))?)
        }
        ScannerArgs::Pay {
            payment,
            phone_last4,
            source,
            frames,
            other_hand_source,
            dir,
        } => {
            let client = device(&dir)?;
            let hint = phone_last4.as_deref();
            if frames == 1 {
                let frame = steady_palm(&source)?;
                return print(rt.block_on(client.pay(&payment, frame, hint))?);
            }
            let hover = steady_hover(&source, "hover your palm over the scanner...")?;
            let reply = rt.block_on(client.pay_hover(&payment, hover.clone(), hint))?;
            match other_hand_source {
                Some(other) if reply.body["code"] == "needs_second_hand" => {
                    let second = steady_hover(&other, "now hover your other hand...")?;
                    print(rt.block_on(client.pay_two_hovers(&payment, hover, second, hint))?)
                }
                _ => print(reply),
            }
        }
        ScannerArgs::Sync { event, dir } => {
            let client = device(&dir)?;
            rt.block_on(async {
                let up = client.upload_queue(&dir.dir).await?;
                println!(
                    "uploaded {} offline decisions ({} already known)",
                    up.recorded, up.duplicates
                );
                let had_list = dir.dir.join(format!("allow-list-{event}.json")).exists();
                if had_list && client.check_allow_list(&dir.dir, &event).await? {
                    println!("the allow-list was revoked and is deleted");
                }
                let list = client.sync_allow_list(&dir.dir, &event).await?;
                println!(
                    "allow-list {} kept sealed on this gate until {}",
                    list.id, list.expires
                );
                anyhow::Ok(())
            })
        }
        ScannerArgs::Gate {
            event,
            direction,
            source,
            frames,
            dir,
        } => {
            let client = device(&dir)?;
            let (mut frame, online) = if frames == 1 {
                let frame = steady_palm(&source)?;
                let online = rt.block_on(client.gate_scan(&event, frame.clone(), &direction));
                (frame, online)
            } else {
                let mut hover = steady_hover(&source, "hover your palm over the scanner...")?;
                let first = hover[0].clone();
                let online = rt.block_on(client.gate_hover(&event, hover.clone(), &direction));
                hover.iter_mut().for_each(|f| f.fill(0));
                (first, online)
            };
            let result = match online {
                Err(palm_scanner::ScannerError::Network(why)) if event.is_empty() => {
                    // A trip needs a hold on the person's card: nothing to decide offline.
                    Err(anyhow::anyhow!(
                        "server unreachable ({why}); a walk-out store's gate cannot open trips offline"
                    ))
                }
                Err(palm_scanner::ScannerError::Network(why)) => {
                    eprintln!("server unreachable ({why}); deciding offline");
                    let paired = client.paired().context("not paired")?;
                    let mut gate = OfflineGate::open(
                        &dir.dir,
                        &DeviceKeys::open(&dir.dir)?,
                        &paired.device.id,
                        &event,
                    )?;
                    let now = palm_service::Clock::now_s(&palm_service::SystemClock);
                    let decision = gate.decide(&frame, &direction, now)?;
                    println!("{}", serde_json::to_string_pretty(&decision)?);
                    Ok(())
                }
                other => print(other?),
            };
            // The copy kept for an offline decision is wiped too.
            frame.fill(0);
            result
        }
    }
}

/// `--frames`: one frame, or the three of a hover (what the server's fused decision is
/// calibrated for).
pub(crate) fn one_or_three() -> impl clap::builder::TypedValueParser<Value = u8> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["1", "3"]).map(|s| if s == "1" { 1 } else { 3 })
}
