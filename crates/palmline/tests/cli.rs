//! The `palmline` binary as a user runs it: the server, the scanner, merchants and the crash test.

mod common;
use common::*;
use std::process::{Command, Output};

#[test]
fn serve_answers_then_stops_on_sigterm_and_keys_rotate() {
    use std::io::{BufRead, Read, Write};
    let dir = scratch("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palmline"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = vec![];
    let addr = loop {
        let line = lines.next().expect("server output").unwrap();
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("Palmline is serving on http://") {
            break url.to_string();
        }
    };
    // Up to the test cards, the last thing the demo prints.
    loop {
        let line = lines.next().expect("server output").unwrap();
        printed.push(line.clone());
        if line.contains("test cards") {
            break;
        }
    }
    let text = printed.join("\n");
    assert!(text.contains("demo merchant API key: sk_test_"), "{text}");
    assert!(text.contains("till credential tk_test_"), "{text}");
    // The demo gate's credential, in the kiosk link too, and what to do next.
    assert!(text.contains("gate credential gk_"), "{text}");
    assert!(
        text.contains("&gate=gk_") && text.contains("&event=evn_"),
        "{text}"
    );
    assert!(text.contains("docs/first-payment.md"), "{text}");
    // The dashboard's accuracy section has a report from the first start: synthetic palms.
    let report = std::fs::read_to_string(dir.join("accuracy/report.jsonl")).unwrap();
    assert!(report.contains("\"set\":\"synthetic-palms\""), "{report}");
    assert!(dir.join("accuracy/det.svg").exists());

    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"database\":\"sqlite\""), "{reply}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    // Its log, written to a pipe (not a terminal), is plain text without colour codes.
    let mut logged = String::new();
    log.read_to_string(&mut logged).unwrap();
    assert!(logged.contains("index loaded"), "{logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "colour codes in a piped log: {logged}"
    );
    let perms = std::fs::metadata(dir.join("keys/master-1.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(perms.permissions().mode() & 0o777, 0o600);
    }

    let out = succeeded(&["keys", "rotate", "--data-dir", dir.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("master key 2 is active"), "{said}");
    assert!(dir.join("keys/master-1.key.retired").exists());
    // Rotating again moves on to a third key.
    let again = palmline(&["keys", "rotate", "--data-dir", dir.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("master key 3 is active"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scanner at a gate, as its operator would run it: pair with a code, sync the event's
/// allow-list, decide offline while the server is down, upload when it is back.

#[test]
fn scanner_gate_pairs_syncs_decides_offline_and_uploads() {
    use base64::Engine as _;
    use palm_synth::{Capture, Identity, Scene, png_bytes};
    use serde_json::{Value, json};
    let dir = scratch("scanner-serve");
    let device_dir = scratch("scanner-device");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || {
        let child = Command::new(env!("CARGO_BIN_EXE_palmline"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child
    };
    let stop = |mut child: std::process::Child| {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap();
    };
    let server = serve();
    let demo: Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json")).unwrap()).unwrap();
    let key = demo["api_key"].as_str().unwrap().to_string();
    let till = demo["tills"][0]["credential"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    palm_server::sender::install_tls_provider();
    let http = reqwest::Client::new();
    let post = |path: &str, auth: &str, body: Value| -> Value {
        rt.block_on(async {
            let r = http
                .post(format!("{base}{path}"))
                .bearer_auth(auth)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json().await.unwrap()
        })
    };
    let img = |k| {
        base64::engine::general_purpose::STANDARD.encode(png_bytes(
            &Identity::new(600).render(Scene::Roi { size: 128 }, Capture::new(k)),
        ))
    };
    let captures: Vec<Value> = [1, 2, 3]
        .map(|k| json!({"hand": "right", "image": img(k)}))
        .to_vec();
    post(
        "/v1/signups",
        &till,
        json!({
            "phone": "+15550106000",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "holder_name": "Ada"},
            "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
            "captures": captures,
        }),
    );
    let venue = post(
        "/v1/venues",
        &key,
        json!({"name": "Hall", "gates": [{"name": "Door"}]}),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let event = post(
        &format!("/v1/venues/{}/events", venue["id"].as_str().unwrap()),
        &key,
        json!({"name": "Show", "starts": now - 60, "ends": now + 3600, "capacity": 10}),
    );
    let eid = event["id"].as_str().unwrap().to_string();
    post(
        &format!("/v1/events/{eid}/passes"),
        &key,
        json!({"phone": "+15550106000", "kind": "ticket"}),
    );
    // The pass is an invitation until the person's palm is read at one of the merchant's tills.
    let accepted = (10..16).any(|k| {
        rt.block_on(async {
            http.post(format!("{base}/v1/loyalty/present"))
                .bearer_auth(&till)
                .json(&json!({"image": img(k), "phone_last4": "6000"}))
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        })
    });
    assert!(
        accepted,
        "the ticket holder's palm was not read at the till"
    );
    let code = post(
        "/v1/devices/pairing_codes",
        &key,
        json!({"gate": venue["gates"][0]["id"]}),
    );

    let d = device_dir.to_str().unwrap();
    let run = |args: &[&str]| -> Output {
        let out = palmline(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let paired = run(&[
        "scanner",
        "pair",
        "--server",
        &base,
        "--code",
        code["code"].as_str().unwrap(),
        "--dir",
        d,
    ]);
    assert!(String::from_utf8_lossy(&paired.stdout).contains("with gate"));
    let synced = run(&["scanner", "sync", "--event", &eid, "--dir", d]);
    assert!(String::from_utf8_lossy(&synced.stdout).contains("kept sealed"));

    // The network is down: the gate decides from its list and queues the decision.
    stop(server);
    let offline = run(&[
        "scanner",
        "gate",
        "--event",
        &eid,
        "--source",
        "synth:600:4",
        "--dir",
        d,
    ]);
    assert!(String::from_utf8_lossy(&offline.stderr).contains("deciding offline"));
    let decision: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(
        (decision["allowed"].clone(), decision["reason"].clone()),
        (json!(true), json!("welcome"))
    );

    // Back online: the queued decision reaches the merchant's records.
    let server = serve();
    let up = run(&["scanner", "sync", "--event", &eid, "--dir", d]);
    assert!(
        String::from_utf8_lossy(&up.stdout).contains("uploaded 1 offline decisions"),
        "{}",
        String::from_utf8_lossy(&up.stdout)
    );
    let entries: Value = rt.block_on(async {
        http.get(format!("{base}/v1/entries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(entries["data"][0]["reason"], "welcome");
    // Online, the gate sends a hover (three steady frames, each sealed) and the server names
    // the person from them: the ticket holder inside goes out.
    let out = run(&[
        "scanner",
        "gate",
        "--event",
        &eid,
        "--direction",
        "out",
        "--source",
        "synth:600:20",
        "--dir",
        d,
    ]);
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (decision["allowed"].clone(), decision["reason"].clone()),
        (json!(true), json!("goodbye")),
        "{decision}"
    );

    // A scanner at the till pays with a hover: three steady frames, sealed, decided together.
    let till_dir = scratch("scanner-till");
    let t = till_dir.to_str().unwrap();
    let code = post(
        "/v1/devices/pairing_codes",
        &key,
        json!({"till": demo["tills"][0]["id"]}),
    );
    let code = code["code"].as_str().unwrap();
    run(&[
        "scanner", "pair", "--server", &base, "--code", code, "--dir", t,
    ]);
    let payment = post(
        "/v1/payments",
        &till,
        json!({"amount": 1200, "currency": "usd"}),
    );
    let id = payment["id"].as_str().unwrap();
    let paid = run(&[
        "scanner",
        "pay",
        "--payment",
        id,
        "--source",
        "synth:600:30",
        "--phone-last4",
        "6000",
        "--dir",
        t,
    ]);
    let paid: Value = serde_json::from_slice(&paid.stdout).unwrap();
    assert_eq!(paid["status"], "succeeded", "{paid}");
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&device_dir);
    let _ = std::fs::remove_dir_all(&till_dir);
}

#[test]
fn merchants_are_created_listed_and_disabled() {
    let dir = scratch("merchants");
    let data = dir.to_str().unwrap();
    let out = succeeded(&[
        "merchants",
        "create",
        "--name",
        "Corner Shop",
        "--till",
        "Front",
        "--till",
        "Back",
        "--data-dir",
        data,
    ]);
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(creds["api_key"].as_str().unwrap().starts_with("sk_"));
    let tills = creds["tills"].as_array().unwrap();
    assert_eq!(tills.len(), 2);
    assert!(tills[1]["credential"].as_str().unwrap().starts_with("tk_"));
    let id = creds["merchant"].as_str().unwrap();

    let list =
        String::from_utf8(palmline(&["merchants", "list", "--data-dir", data]).stdout).unwrap();
    assert!(
        list.contains(&format!("{id}\t")) && list.contains("\tactive\tCorner Shop"),
        "{list}"
    );
    assert!(!list.contains("sk_"), "a key in the listing: {list}");
    let off = palmline(&["merchants", "disable", id, "--data-dir", data]);
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let list =
        String::from_utf8(palmline(&["merchants", "list", "--data-dir", data]).stdout).unwrap();
    assert!(list.contains("\tdisabled\tCorner Shop"), "{list}");
    let again = palmline(&["merchants", "disable", id, "--data-dir", data]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active merchant"));
    let blank = palmline(&["merchants", "create", "--name", " ", "--data-dir", data]);
    assert!(!blank.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crashtest_kills_the_server_and_money_still_adds_up() {
    // Two rounds of kill -9 during concurrent payments, captures and refunds; the command itself
    // checks the processor's durable ledger against the service's records and exits non-zero on
    // any disagreement (a stuck key, a second payment or charge, a lost capture).
    let out = palmline(&[
        "crashtest",
        "--rounds",
        "2",
        "--payments",
        "12",
        "--seed",
        "7",
    ]);
    let report = json_lines(&out);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report[0]["kills"], 2);
    assert_eq!(report[0]["failures"], serde_json::json!([]));
    assert_eq!(report[0]["payments"], 12);
}

#[test]
fn serve_refuses_a_grid_it_cannot_name() {
    let dir = scratch("grid-flags");
    let data = dir.to_str().unwrap();
    // --nats names no sets: refused by the flags, before anything starts.
    let out = palmline(&["serve", "--data-dir", data, "--nats", "nats://127.0.0.1:1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--grid-sets"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A set name that would widen the search subject to other sets.
    let out = palmline(&[
        "serve",
        "--data-dir",
        data,
        "--nats",
        "nats://127.0.0.1:1",
        "--grid-sets",
        "a,b.*",
    ]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("not a shard set's name"), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
