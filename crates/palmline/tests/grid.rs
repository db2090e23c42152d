//! The gallery past one machine, as an operator runs it: `palmline serve` signs people up on
//! its SQLite file, `palmline relay` publishes their palms to a local nats-server, and two
//! `palmline matcher` processes (sets `a` and `b`) open them with the data directory's keys and
//! answer a gateway's searches. A person signed up while the matchers run is found too, through
//! the stream. Runs when nats-server is installed (`.ci/run` installs it and sets
//! `PALMLINE_TEST_NATS=1`, which makes its absence a failure).

mod common;

use base64::Engine as _;
use common::scratch;
use palm_grid::gateway::{Gateway, GridDecision, GridOutcome};
use palm_grid::local::LocalNats;
use palm_index::{Calibration, Policy, SHIPPED_CALIBRATION, Search};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A child process killed on drop (a failing assertion must not leave servers running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn palmline(args: &[&str], dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_palmline"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts a long-running command and waits for the first line it prints (it is ready then); the
/// rest of its output is read and dropped (a closed pipe would make its next line fail).
fn started(args: &[&str], dir: &Path) -> (Running, String) {
    let mut child = palmline(args, dir);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        !line.is_empty(),
        "palmline {args:?} exited before it was ready"
    );
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Running(child), line)
}

fn image(identity: u64, k: u64) -> Vec<u8> {
    png_bytes(&Identity::new(identity).render(Scene::Roi { size: 128 }, Capture::new(k)))
}

/// Signs a person up through the HTTP API, with three captures of their right hand; returns
/// their person id.
fn sign_up(base: &str, till: &str, identity: u64) -> String {
    let captures: Vec<Value> = [1, 2, 3]
        .map(|k| {
            json!({"hand": "right",
                   "image": base64::engine::general_purpose::STANDARD.encode(image(identity, k))})
        })
        .to_vec();
    // A card of their own (a card already on file is refused): 4242 4242 42 + the identity.
    let body15 = format!("42424242424{identity:04}");
    let card = format!("{body15}{}", palm_vault::luhn_check_digit(&body15));
    let body = json!({
        "phone": format!("+1555010{identity:04}"),
        "card": {"number": card, "exp_month": 12, "exp_year": 2035, "holder_name": "Ada"},
        "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
        "captures": captures,
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    palm_server::sender::install_tls_provider();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}/v1/signups"))
            .bearer_auth(till)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "sign-up: {status} {v}");
        v["person"]["id"].as_str().unwrap().to_string()
    })
}

fn serve(dir: &Path) -> (Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let (child, _) = started(&["serve", "--listen", &listen], dir);
    (child, format!("http://{listen}"))
}

#[test]
fn relay_and_matcher_processes_find_people_signed_up_at_the_service() {
    let nats = match LocalNats::start() {
        Ok(n) => n,
        Err(e) if std::env::var("PALMLINE_TEST_NATS").is_err() => {
            eprintln!("skipped: {e}; .ci/run installs nats-server");
            return;
        }
        Err(e) => panic!("PALMLINE_TEST_NATS is set: {e}"),
    };
    let dir = scratch("grid-processes");
    let (server, base) = serve(&dir);
    let demo: Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json")).unwrap()).unwrap();
    let till = demo["tills"][0]["credential"].as_str().unwrap().to_string();
    let first = sign_up(&base, &till, 700);

    let url = nats.url();
    let (_relay, _) = started(&["relay", "--nats", url, "--interval-ms", "20"], &dir);
    let (_a, said_a) = started(
        &["matcher", "--nats", url, "--set", "a", "--shards", "0-127"],
        &dir,
    );
    let (_b, said_b) = started(
        &[
            "matcher", "--nats", url, "--set", "b", "--shards", "128-255",
        ],
        &dir,
    );
    let held = |said: &str| -> usize {
        let after = said.split(" holds ").nth(1).expect(said);
        after.split(' ').next().unwrap().parse().unwrap()
    };
    // The demo data has no palms: the one person's right-hand palm is in exactly one set.
    assert_eq!(held(&said_a) + held(&said_b), 1, "{said_a}{said_b}");

    let (keys, _) = palm_server::keys::DataDirKeys::open(&dir).unwrap();
    let probe_key = Arc::new(keys.grid_probe_key().unwrap());
    let policy = Policy::new(Calibration::from_text(SHIPPED_CALIBRATION).unwrap());
    let engine = palm_engine::Engine::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gateway = rt.block_on(async {
        let client = palm_grid::connect_client(url).await.unwrap();
        Gateway::new(client, vec!["a".into(), "b".into()], probe_key)
    });
    let identify = |identity: u64| {
        let probe = engine.template(&image(identity, 4)).unwrap();
        rt.block_on(gateway.identify(&probe, &Search::default(), &policy))
            .unwrap()
    };
    let named = |o: &GridOutcome| match o {
        GridOutcome::Decided {
            decision: GridDecision::Match { person, .. },
            ..
        } => Some(person.clone()),
        _ => None,
    };
    assert_eq!(
        named(&identify(700)),
        Some(first.clone()),
        "found from the database load"
    );
    assert_eq!(named(&identify(701)), None, "not signed up yet");

    // Signed up while the matchers run: the palm reaches them through the relay and the stream.
    let second = sign_up(&base, &till, 701);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut outcome = identify(701);
    while named(&outcome).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        outcome = identify(701);
    }
    assert_eq!(named(&outcome), Some(second), "{outcome:?}");
    assert_eq!(named(&identify(700)), Some(first), "the first still found");
    drop(server);
}
