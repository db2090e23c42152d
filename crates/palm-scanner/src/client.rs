//! Talking to the server: pairing, signed requests, and captures sealed to the capture key.

use crate::identity::{DeviceKeys, Paired};
use crate::{Result, ScannerError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use palm_api as api;
use palm_vault::device;
use serde_json::Value;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A server answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body as `T` on success, the server's typed error otherwise.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        if (200..300).contains(&self.status) {
            return serde_json::from_value(self.body)
                .map_err(|e| ScannerError::Network(format!("unexpected answer: {e}")));
        }
        Err(ScannerError::Api {
            status: self.status,
            code: self.body["code"].as_str().unwrap_or("unknown").to_string(),
            message: self.body["message"].as_str().unwrap_or("").to_string(),
        })
    }
}

/// A random nonce: 24 hex characters.
fn nonce() -> Result<String> {
    crate::random_hex(12)
}

/// The device's connection to its server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    keys: DeviceKeys,
    paired: Option<Paired>,
    /// Unix seconds; the system clock unless a test moves it.
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// The server's current capture key, once fetched.
    capture_key: std::sync::Mutex<Option<api::CaptureKey>>,
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Client {
    pub fn new(base: &str, keys: DeviceKeys, paired: Option<Paired>) -> Result<Client> {
        // reqwest is built without a TLS provider of its own: the process gets ring (installing
        // it twice, as a process that also runs the server does, is harmless).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| ScannerError::Network(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            keys,
            paired,
            clock: Arc::new(system_now),
            capture_key: std::sync::Mutex::new(None),
        })
    }

    /// Signs with this clock instead of the system's (tests that move time).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Client {
        self.clock = clock;
        self
    }

    pub fn paired(&self) -> Option<&Paired> {
        self.paired.as_ref()
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply> {
        let r = req
            .send()
            .await
            .map_err(|e| ScannerError::Network(e.to_string()))?;
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    /// Registers this device's public keys with a pairing code from staff.
    pub async fn pair(&mut self, code: &str, name: &str) -> Result<Paired> {
        let body = api::RegisterDevice {
            pairing_code: code.to_string(),
            name: name.to_string(),
            signing_key: B64.encode(self.keys.signing.public()),
            seal_key: B64.encode(self.keys.seal.public()),
        };
        let registered: api::DeviceRegistered = self
            .send(
                self.http
                    .post(format!("{}/v1/devices", self.base))
                    .json(&body),
            )
            .await?
            .into_result()?;
        let paired = Paired {
            server: self.base.clone(),
            device: registered.device,
        };
        self.paired = Some(paired.clone());
        Ok(paired)
    }

    /// A request signed by this device, with a fresh nonce and the current time.
    pub async fn signed(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        let nonce = nonce()?;
        self.signed_with(method, path, body, (self.clock)(), &nonce)
            .await
    }

    /// [`Client::signed`] with the timestamp and nonce given (tests replay and age requests).
    pub async fn signed_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timestamp: i64,
        nonce: &str,
    ) -> Result<Reply> {
        let paired = self.paired.as_ref().ok_or(ScannerError::NotPaired)?;
        let bytes = match body {
            Some(v) => serde_json::to_vec(v).map_err(|e| ScannerError::Io(e.to_string()))?,
            None => Vec::new(),
        };
        let message = device::request_message(method, path, &bytes, timestamp, nonce);
        let signature = B64.encode(self.keys.signing.sign(&message));
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ScannerError::Io(e.to_string()))?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("palmline-device", &paired.device.id)
            .header("palmline-timestamp", timestamp.to_string())
            .header("palmline-nonce", nonce)
            .header("palmline-signature", signature);
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        self.send(req).await
    }

    /// The capture keys the server accepts now; the current one has no expiry.
    pub async fn capture_keys(&self) -> Result<Vec<api::CaptureKey>> {
        let list: api::List<api::CaptureKey> = self
            .send(self.http.get(format!("{}/v1/capture_keys", self.base)))
            .await?
            .into_result()?;
        Ok(list.data)
    }

    /// Seals a frame to the server's current capture key for `purpose` and `target`, then wipes
    /// the frame.
    pub async fn seal(
        &self,
        image: Vec<u8>,
        purpose: &str,
        target: &str,
    ) -> Result<api::SealedImage> {
        let image = Zeroizing::new(image);
        let key = self.current_capture_key(false).await?;
        self.seal_to(&image, &key, purpose, target)
    }

    /// The server's current capture key, remembered between captures so a scan costs no extra
    /// round trip; `refresh` asks the server again (after it said the key is retired).
    async fn current_capture_key(&self, refresh: bool) -> Result<api::CaptureKey> {
        if !refresh
            && let Some(key) = self
                .capture_key
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        {
            return Ok(key);
        }
        let key = self
            .capture_keys()
            .await?
            .into_iter()
            .filter(|k| k.expires.is_none())
            .max_by_key(|k| k.id)
            .ok_or_else(|| ScannerError::Network("the server offers no capture key".into()))?;
        *self.capture_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        Ok(key)
    }

    /// Seals `image` for `purpose`/`target` and posts `body(sealed)` to `path`, signed. When the
    /// remembered capture key has been replaced, seals again to the new one once. The frame is
    /// wiped however this ends.
    async fn send_sealed(
        &self,
        image: Vec<u8>,
        to: (&str, &str),
        path: &str,
        body: impl Fn(api::SealedImage) -> Value,
    ) -> Result<Reply> {
        self.send_sealed_frames(vec![image], to, path, |mut sealed| body(sealed.remove(0)))
            .await
    }

    /// [`Client::send_sealed`] for the frames of one hover, each sealed on its own.
    async fn send_sealed_frames(
        &self,
        frames: Vec<Vec<u8>>,
        (purpose, target): (&str, &str),
        path: &str,
        body: impl Fn(Vec<api::SealedImage>) -> Value,
    ) -> Result<Reply> {
        let frames: Vec<Zeroizing<Vec<u8>>> = frames.into_iter().map(Zeroizing::new).collect();
        let mut refresh = false;
        loop {
            let key = self.current_capture_key(refresh).await?;
            let sealed = frames
                .iter()
                .map(|f| self.seal_to(f, &key, purpose, target))
                .collect::<Result<Vec<_>>>()?;
            let reply = self.signed("POST", path, Some(&body(sealed))).await?;
            let key_replaced = reply.status == 400
                && matches!(
                    reply.body["code"].as_str(),
                    Some("capture_key_retired" | "unknown_capture_key")
                );
            if !key_replaced || refresh {
                return Ok(reply);
            }
            refresh = true;
        }
    }

    /// Seals to a given key (tests seal to a key about to retire).
    pub fn seal_to(
        &self,
        image: &[u8],
        key: &api::CaptureKey,
        purpose: &str,
        target: &str,
    ) -> Result<api::SealedImage> {
        let public = B64
            .decode(&key.public_key)
            .map_err(|_| ScannerError::Network("the capture key is not base64".into()))?;
        let nonce = format!("{}{}", nonce()?, nonce()?);
        let aad = device::capture_aad(purpose, target, &nonce);
        let sealed = device::seal(&public, image, &aad)
            .map_err(|e| ScannerError::Capture(format!("sealing failed: {e}")))?;
        Ok(api::SealedImage {
            key_id: key.id,
            enc: B64.encode(&sealed.enc),
            ciphertext: B64.encode(&sealed.ciphertext),
            nonce,
        })
    }

    /// Submits a sealed capture for a payment waiting at this device's till, with the last four
    /// phone digits when the till asked the person for them (`needs_hint`).
    pub async fn pay(
        &self,
        payment: &str,
        image: Vec<u8>,
        phone_last4: Option<&str>,
    ) -> Result<Reply> {
        self.send_sealed(
            image,
            ("payment", payment),
            &format!("/v1/payments/{payment}/palm"),
            |sealed| {
                let mut body = serde_json::json!({ "sealed_image": sealed });
                if let Some(digits) = phone_last4 {
                    body["phone_last4"] = digits.into();
                }
                body
            },
        )
        .await
    }

    /// Submits the frames of one hover, each sealed, for a payment waiting at this device's till
    /// (the server decides on them together).
    pub async fn pay_hover(
        &self,
        payment: &str,
        frames: Vec<Vec<u8>>,
        phone_last4: Option<&str>,
    ) -> Result<Reply> {
        self.send_sealed_frames(
            frames,
            ("payment", payment),
            &format!("/v1/payments/{payment}/palm"),
            |sealed| {
                let mut body = serde_json::json!({ "sealed_frames": sealed });
                if let Some(digits) = phone_last4 {
                    body["phone_last4"] = digits.into();
                }
                body
            },
        )
        .await
    }

    /// Both hands' hovers, when the server asked for the other hand (`needs_second_hand`): the
    /// first hover's frames are sealed again (each sealed capture opens once) beside the other
    /// hand's.
    pub async fn pay_two_hovers(
        &self,
        payment: &str,
        first: Vec<Vec<u8>>,
        other: Vec<Vec<u8>>,
        phone_last4: Option<&str>,
    ) -> Result<Reply> {
        let split = first.len();
        self.send_sealed_frames(
            first.into_iter().chain(other).collect(),
            ("payment", payment),
            &format!("/v1/payments/{payment}/palm"),
            |mut sealed| {
                let second = sealed.split_off(split);
                let mut body = serde_json::json!({
                    "sealed_frames": sealed,
                    "sealed_second_hand_frames": second,
                });
                if let Some(digits) = phone_last4 {
                    body["phone_last4"] = digits.into();
                }
                body
            },
        )
        .await
    }

    /// The gate this device is paired with.
    fn gate(&self) -> Result<String> {
        self.paired
            .as_ref()
            .and_then(|p| p.device.gate.clone())
            .ok_or_else(|| ScannerError::Capture("this device is not paired with a gate".into()))
    }

    /// Submits a sealed capture at this device's gate.
    pub async fn gate_scan(&self, event: &str, image: Vec<u8>, direction: &str) -> Result<Reply> {
        let gate = self.gate()?;
        self.send_sealed(
            image,
            ("gate_scan", &format!("{gate}/{event}")),
            "/v1/gate/scans",
            |sealed| serde_json::json!({"event": event, "sealed_image": sealed, "direction": direction}),
        )
        .await
    }

    /// Submits the frames of one hover at this device's gate, each sealed (the server decides
    /// on them together, as at a till).
    pub async fn gate_hover(
        &self,
        event: &str,
        frames: Vec<Vec<u8>>,
        direction: &str,
    ) -> Result<Reply> {
        let gate = self.gate()?;
        self.send_sealed_frames(
            frames,
            ("gate_scan", &format!("{gate}/{event}")),
            "/v1/gate/scans",
            |sealed| serde_json::json!({"event": event, "sealed_frames": sealed, "direction": direction}),
        )
        .await
    }
}
