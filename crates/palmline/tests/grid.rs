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

/// A loopback nats-server, or `None` (the test is skipped) when it is not installed and
/// `PALMLINE_TEST_NATS` does not require it.
fn local_nats() -> Option<LocalNats> {
    match LocalNats::start() {
        Ok(n) => Some(n),
        Err(e) if std::env::var("PALMLINE_TEST_NATS").is_err() => {
            eprintln!("skipped: {e}; .ci/run installs nats-server");
            None
        }
        Err(e) => panic!("PALMLINE_TEST_NATS is set: {e}"),
    }
}

/// Whether the matchers of sets a and b, asked through a gateway of the test's own (so no
/// till is locked out by palms that match no one yet), name someone for capture 4 of
/// `identity`; `until` says whether to wait for a match or for none.
fn wait_for_match(dir: &Path, url: &str, identity: u64, until: bool) -> bool {
    let (keys, _) = palm_server::keys::DataDirKeys::open(dir).unwrap();
    let probe_key = Arc::new(keys.grid_probe_key().unwrap());
    let policy = Policy::new(Calibration::from_text(SHIPPED_CALIBRATION).unwrap());
    let probe = palm_engine::Engine::default()
        .template(&image(identity, 4))
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = palm_grid::connect_client(url).await.unwrap();
        let gateway = Gateway::new(client, vec!["a".into(), "b".into()], probe_key);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = gateway.identify(&probe, &Search::default(), &policy).await;
            let matched = matches!(
                o,
                Ok(GridOutcome::Decided {
                    decision: GridDecision::Match { .. },
                    ..
                })
            );
            if matched == until || Instant::now() > deadline {
                return matched;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// `palmline relay` and a matcher for each of sets a (shards 0-127) and b (128-255), with what
/// each matcher said when it was ready.
fn relay_and_matchers(dir: &Path, url: &str) -> (Running, [(Running, String); 2]) {
    let (relay, _) = started(&["relay", "--nats", url, "--interval-ms", "20"], dir);
    let matcher = |set: &str, shards: &str| {
        started(
            &["matcher", "--nats", url, "--set", set, "--shards", shards],
            dir,
        )
    };
    (relay, [matcher("a", "0-127"), matcher("b", "128-255")])
}

/// The demo merchant's credentials the service wrote on its first start.
fn demo(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json")).unwrap()).unwrap()
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

/// `palmline serve` on a free loopback port, with `more` flags; the server and its base URL.
fn serve(dir: &Path, more: &[&str]) -> (Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    args.extend_from_slice(more);
    let (child, _) = started(&args, dir);
    (child, format!("http://{listen}"))
}

#[test]
fn relay_and_matcher_processes_find_people_signed_up_at_the_service() {
    let Some(nats) = local_nats() else { return };
    let dir = scratch("grid-processes");
    let (server, base) = serve(&dir, &[]);
    let demo = demo(&dir);
    let till = demo["tills"][0]["credential"].as_str().unwrap().to_string();
    let first = sign_up(&base, &till, 700);

    let url = nats.url();
    let (_relay, [(_a, said_a), (_b, said_b)]) = relay_and_matchers(&dir, url);
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

/// A POST with a bearer credential; the status and the JSON body.
fn post(url: &str, bearer: &str, body: &Value) -> (u16, Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    palm_server::sender::install_tls_provider();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    })
}

#[test]
fn a_service_in_the_distributed_mode_pays_through_the_matchers() {
    let Some(nats) = local_nats() else { return };
    let url = nats.url();
    let dir = scratch("grid-serve");
    let (server, base) = serve(&dir, &["--nats", url, "--grid-sets", "a,b"]);
    let (_relay, [_a, (b, _)]) = relay_and_matchers(&dir, url);
    let demo = demo(&dir);
    let till = demo["tills"][0]["credential"].as_str().unwrap().to_string();
    let till_id = demo["tills"][0]["id"].as_str().unwrap().to_string();
    let merchant = demo["api_key"].as_str().unwrap().to_string();
    // The sign-up's duplicate check searches through the matchers too.
    let person = sign_up(&base, &till, 710);
    let pay = |capture: u64| {
        let (status, payment) = post(
            &format!("{base}/v1/payments"),
            &merchant,
            &json!({"amount": 1250, "currency": "usd", "till": till_id}),
        );
        assert_eq!(status, 201, "{payment}");
        let id = payment["id"].as_str().unwrap().to_string();
        let image = base64::engine::general_purpose::STANDARD.encode(image(710, capture));
        let (status, body) = post(
            &format!("{base}/v1/payments/{id}/palm"),
            &till,
            &json!({ "image": image }),
        );
        (status, body, id)
    };
    // The palm reaches the matchers through the relay and the stream.
    assert!(
        wait_for_match(&dir, url, 710, true),
        "never reached the matchers"
    );
    let (status, paid, _) = pay(4);
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["person"], person.as_str(), "{paid}");

    // A whole set gone: the service answers try_again (503) and names no one; the payment
    // still waits for a palm.
    drop(b);
    let (status, refused, id) = pay(5);
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "try_again", "{refused}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let payment: Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/v1/payments/{id}"))
            .bearer_auth(&merchant)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(payment["status"], "requires_palm", "{payment}");
    drop(server);
}

#[test]
fn a_deletion_reports_when_every_matcher_has_dropped_the_palms() {
    let Some(nats) = local_nats() else { return };
    let url = nats.url();
    let dir = scratch("grid-erasure");
    palm_server::keys::create_private_dir(&dir).unwrap();
    let (keys, _) = palm_server::keys::DataDirKeys::open(&dir).unwrap();
    let probe_key = Arc::new(keys.grid_probe_key().unwrap());
    // The service in this process (so the test reads the development phone channel's codes),
    // searching through the matchers; the relay and the matchers are processes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = palm_server::Config {
        data_dir: dir.clone(),
        listen: "127.0.0.1:0".into(),
        ..palm_server::Config::default()
    };
    let server = rt.block_on(async {
        let client = palm_grid::connect_client(url).await.unwrap();
        let gateway = Gateway::new(client, vec!["a".into(), "b".into()], probe_key);
        palm_server::Server::start_with(
            &config,
            Arc::new(palm_service::SystemClock),
            Some(Arc::new(gateway)),
        )
        .await
        .unwrap()
    });
    let base = format!("http://{}", server.addr);
    let (_relay, _matchers) = relay_and_matchers(&dir, url);
    let demo = demo(&dir);
    let till = demo["tills"][0]["credential"].as_str().unwrap().to_string();
    sign_up(&base, &till, 720);
    sign_up(&base, &till, 721);
    assert!(
        wait_for_match(&dir, url, 720, true),
        "never reached the matchers"
    );

    // The person asks for deletion with their palm (found through the matchers) and phone.
    let phone = "+15550100720";
    let image = base64::engine::general_purpose::STANDARD.encode(image(720, 5));
    let (status, asked) = post(
        &format!("{base}/v1/people/deletions"),
        &till,
        &json!({"phone": phone, "image": image}),
    );
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().unwrap();
    let code = server.phone.last_code(phone).expect("a code was sent");
    let (status, done) = post(
        &format!("{base}/v1/people/deletions/{id}/confirm"),
        &till,
        &json!({ "code": code }),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "deleted", "{done}");
    // Reported once every matcher said it holds none of the palms (the relay publishes every
    // 20 ms here): so no matcher names them any more.
    assert_eq!(done["erased_everywhere"], true, "{done}");
    assert!(!wait_for_match(&dir, url, 720, false), "still found");
    assert!(
        wait_for_match(&dir, url, 721, true),
        "the other person is still found"
    );
    rt.block_on(server.shutdown());
}

/// After `palmline keys renew-transform`, a service in the distributed mode renews the stored
/// palms while it serves (matchers skip a palm under a transform that is not theirs until then):
/// the person signed up before is found again through the matchers, and once every palm is
/// renewed the older transform key is destroyed.
#[test]
fn a_renewed_transform_reaches_the_matchers_through_the_service() {
    let Some(nats) = local_nats() else { return };
    let url = nats.url();
    let dir = scratch("grid-renewal");
    let (server, base) = serve(&dir, &[]);
    let till = demo(&dir)["tills"][0]["credential"]
        .as_str()
        .unwrap()
        .to_string();
    sign_up(&base, &till, 720);
    drop(server);
    let renewed = Command::new(env!("CARGO_BIN_EXE_palmline"))
        .args(["keys", "renew-transform", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(renewed.status.success(), "{renewed:?}");
    let transforms = || {
        let (keys, _) = palm_server::keys::DataDirKeys::open(&dir).unwrap();
        keys.transforms().unwrap().len()
    };
    assert_eq!(transforms(), 2);

    let (_relay, [(_a, said_a), (_b, said_b)]) = relay_and_matchers(&dir, url);
    for said in [&said_a, &said_b] {
        assert!(
            said.contains(" holds 0 "),
            "not under its transform yet: {said}"
        );
    }
    let (server, _) = serve(&dir, &["--nats", url, "--grid-sets", "a,b"]);
    assert!(
        wait_for_match(&dir, url, 720, true),
        "the renewed palm never reached the matchers"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while transforms() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(transforms(), 1, "the older transform key was kept");
    drop(server);
}
