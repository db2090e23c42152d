//! The test harness: the real server on port 0 with a fresh database (SQLite in a temporary data
//! directory, or a new PostgreSQL database when PALMLINE_TEST_POSTGRES names an admin URL),
//! a JSON client, synthetic palms, and a webhook receiver.

use base64::Engine as _;
use palm_server::{Config, DemoCredentials, Server};
use palm_service::store::Store;
use palm_synth::{Capture, Identity, Scene, png_bytes};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub struct TestApp {
    pub server: Server,
    pub base: String,
    pub client: reqwest::Client,
    pub demo: DemoCredentials,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// The phone number each synthetic identity signed up with, for the tills' hints.
    pub phones: Mutex<std::collections::HashMap<u64, String>>,
}

/// A fresh PostgreSQL database when the suite runs against PostgreSQL.
pub async fn database_url() -> Option<String> {
    let admin = std::env::var("PALMLINE_TEST_POSTGRES").ok()?;
    Some(
        palm_store::create_test_database(&admin, &ulid::Ulid::new().to_string())
            .await
            .expect("PALMLINE_TEST_POSTGRES must reach a PostgreSQL server"),
    )
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        ..Config::default()
    };
    config.processor.latency_ms = 2;
    config.webhooks.retry_base_ms = 100;
    config
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database = database_url().await;
    adjust(&mut config);
    start(config, dir).await
}

/// A fresh server on a clock the test moves, with `adjust` applied to its configuration.
pub async fn spawn_with_clock_and(
    clock: Arc<dyn palm_service::Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database = database_url().await;
    adjust(&mut config);
    start_with_clock(config, dir, clock).await
}

/// Waits (up to 10 s) until `done` holds: for work another task finishes in real time, such as
/// a slow simulated processor's call.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("gave up waiting: {what}");
}

pub async fn start(config: Config, dir: tempfile::TempDir) -> TestApp {
    start_with_clock(config, dir, Arc::new(palm_service::SystemClock)).await
}

/// A fresh server whose clock the test moves.
pub async fn spawn_with_clock(clock: Arc<dyn palm_service::Clock>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database = database_url().await;
    start_with_clock(config, dir, clock).await
}

pub async fn start_with_clock(
    config: Config,
    dir: tempfile::TempDir,
    clock: Arc<dyn palm_service::Clock>,
) -> TestApp {
    palm_server::sender::install_tls_provider();
    let server = Server::start_with_clock(&config, clock)
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        demo: server.demo.clone().expect("demo merchant"),
        server,
        client: reqwest::Client::new(),
        config,
        dir,
        phones: Mutex::default(),
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    /// Stops the server and starts it again on the same data directory and database.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            server,
            config,
            dir,
            ..
        } = self;
        server.shutdown().await;
        start(config, dir).await
    }

    pub fn merchant_key(&self) -> String {
        self.demo.api_key.clone()
    }

    pub fn till(&self) -> (String, String) {
        let t = &self.demo.tills[0];
        (t.id.clone(), t.credential.clone())
    }

    pub fn till_key(&self) -> String {
        self.till().1
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(auth);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn post(&self, path: &str, auth: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, auth, Some(body), None)
            .await
    }

    pub async fn get(&self, path: &str, auth: &str) -> Reply {
        self.send(reqwest::Method::GET, path, auth, None, None)
            .await
    }

    /// Signs up a synthetic person: two captures of the identity's palm.
    pub async fn sign_up(&self, seed: u64, phone: &str, card: &str) -> Reply {
        let r = self
            .post(
                "/v1/signups",
                &self.till_key(),
                &signup_body(seed, phone, card),
            )
            .await;
        if r.status == 201 {
            self.phones.lock().unwrap().insert(seed, phone.to_string());
        }
        r
    }

    /// A person at a till: hovers their palm (a new capture each time) until it is read, and
    /// gives the last four digits of their phone when the till asks for them.
    pub async fn scan(&self, path: &str, auth: &str, seed: u64, extra: Value) -> Reply {
        self.scan_keyed(path, auth, seed, extra, None).await.0
    }

    /// [`TestApp::scan`] with an idempotency key per attempt (`<prefix>-<n>`); returns the last
    /// reply with the body and key that produced it.
    pub async fn scan_keyed(
        &self,
        path: &str,
        auth: &str,
        seed: u64,
        extra: Value,
        idempotency_prefix: Option<&str>,
    ) -> (Reply, Value, Option<String>) {
        let mut hint = None;
        let mut last = None;
        for k in 50..56 {
            let mut body = extra.clone();
            body["image"] = json!(palm(seed, k));
            if let Some(h) = &hint {
                body["phone_last4"] = json!(h);
            }
            let key = idempotency_prefix.map(|p| format!("{p}-{k}"));
            let r = self
                .send(
                    reqwest::Method::POST,
                    path,
                    auth,
                    Some(&body),
                    key.as_deref(),
                )
                .await;
            match r.body["code"].as_str() {
                Some("needs_hint") if hint.is_none() => {
                    let phone = self.phones.lock().unwrap().get(&seed).cloned();
                    hint = Some(phone.map_or("0000".into(), |p| p[p.len() - 4..].to_string()));
                }
                Some("palm_not_recognised") => {}
                _ => return (r, body, key),
            }
            last = Some((r, body, key));
        }
        last.unwrap()
    }

    /// The demo merchant registers a webhook endpoint at `url`.
    pub async fn add_webhook(&self, url: &str) -> Reply {
        self.post(
            "/v1/webhook_endpoints",
            &self.merchant_key(),
            &json!({"url": url}),
        )
        .await
    }

    /// Person `seed` asks for deletion at the demo till, with their palm and `phone`.
    pub async fn ask_deletion(&self, seed: u64, phone: &str) -> Reply {
        self.scan(
            "/v1/people/deletions",
            &self.till_key(),
            seed,
            json!({"phone": phone}),
        )
        .await
    }

    pub async fn create_payment(&self, amount: i64) -> Value {
        let r = self
            .post(
                "/v1/payments",
                &self.merchant_key(),
                &json!({"amount": amount, "currency": "usd", "till": self.till().0}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    /// Pays a new payment by palm; returns the payment after the palm.
    pub async fn pay(&self, seed: u64, amount: i64) -> Reply {
        let p = self.create_payment(amount).await;
        self.scan(
            &format!("/v1/payments/{}/palm", p["id"].as_str().unwrap()),
            &self.till_key(),
            seed,
            json!({}),
        )
        .await
    }

    /// Row counts of every table, read straight from the database.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let store = palm_store::SqlStore::open(&self.config.database_url())
            .await
            .unwrap();
        let mut out = vec![];
        for table in [
            "merchants",
            "tills",
            "people",
            "consents",
            "palms",
            "cards",
            "sessions",
            "payments",
            "refunds",
            "events",
            "webhook_endpoints",
            "webhook_deliveries",
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM {table}"
            )))
            .fetch_one(store.pool())
            .await
            .unwrap();
            out.push((table.to_string(), sqlx::Row::get::<i64, _>(&row, "n")));
        }
        out
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.server.service.store()
    }
}

/// A base64 PNG of a synthetic palm crop: identity `seed`, capture `k`.
pub fn palm(seed: u64, k: u64) -> String {
    let img = Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(k));
    base64::engine::general_purpose::STANDARD.encode(png_bytes(&img))
}

/// A full-hand photo (800x600, as a till's camera sees it), base64 PNG: reading it takes the
/// engine tens of milliseconds, where a 128 px crop takes one or two.
pub fn hand_photo(seed: u64, k: u64) -> String {
    let scene = Scene::Hand {
        width: 800,
        height: 600,
    };
    let img = Identity::new(seed).render(scene, Capture::new(k));
    base64::engine::general_purpose::STANDARD.encode(png_bytes(&img))
}

pub fn signup_body(seed: u64, phone: &str, card: &str) -> Value {
    json!({
        "phone": phone,
        "card": {"number": card, "exp_month": 12, "exp_year": 2035, "holder_name": "Ada Palm"},
        "consent": {"accepted": true, "text_version": palm_service::CONSENT_VERSION},
        "captures": [
            {"hand": "right", "image": palm(seed, 1)},
            {"hand": "right", "image": palm(seed, 2)},
            {"hand": "right", "image": palm(seed, 3)}
        ]
    })
}

/// A Luhn-valid Visa number made from `n`, distinct for distinct `n`.
pub fn visa(n: u64) -> String {
    let body = format!("4{n:014}");
    format!("{body}{}", palm_vault::luhn_check_digit(&body))
}

/// Webhook requests received: (signature header, body).
pub type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on port 0 that fails its first `fail_first` requests with 500.
pub async fn webhook_receiver(fail_first: usize) -> (String, Received) {
    use axum::http::{HeaderMap, StatusCode};
    let received: Received = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut v = seen.lock().unwrap();
                let sig = headers
                    .get("palmline-signature")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                v.push((sig, body));
                if v.len() <= fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), received)
}

/// Polls until `f` holds or five seconds pass.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// Another merchant on the same server, onboarded as `palmline merchants create` does.
pub async fn other_merchant(app: &TestApp, name: &str) -> palm_server::MerchantCredentials {
    palm_service::merchants::create(
        app.store().as_ref(),
        name,
        "High Street",
        &["Front till".to_string()],
        1_800_000_000,
    )
    .await
    .unwrap()
}
