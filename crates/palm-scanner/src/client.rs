//! Talking to the server: pairing, signed requests, and captures sealed to the capture key.

use crate::identity::{DeviceKeys, Paired};
use crate::{Result, ScannerError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use palm_api as api;
use palm_vault::device;
use serde_json::Value;
use std::sync::Arc;
use zeroize::Zeroize;

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
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|_| ScannerError::Io("the random source failed".into()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The device's connection to its server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    keys: DeviceKeys,
    paired: Option<Paired>,
    /// Unix seconds; the system clock unless a test moves it.
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Client {
    pub fn new(base: &str, keys: DeviceKeys, paired: Option<Paired>) -> Result<Client> {
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
        mut image: Vec<u8>,
        purpose: &str,
        target: &str,
    ) -> Result<api::SealedImage> {
        let keys = self.capture_keys().await?;
        let key = keys
            .iter()
            .filter(|k| k.expires.is_none())
            .max_by_key(|k| k.id)
            .ok_or_else(|| ScannerError::Network("the server offers no capture key".into()))?;
        let sealed = self.seal_to(&image, key, purpose, target);
        image.zeroize();
        sealed
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

    /// Submits a sealed capture for a payment waiting at this device's till.
    pub async fn pay(&self, payment: &str, image: Vec<u8>) -> Result<Reply> {
        let sealed = self.seal(image, "payment", payment).await?;
        let body = serde_json::json!({ "sealed_image": sealed });
        self.signed("POST", &format!("/v1/payments/{payment}/palm"), Some(&body))
            .await
    }

    /// Submits a sealed capture at this device's gate.
    pub async fn gate_scan(&self, event: &str, image: Vec<u8>, direction: &str) -> Result<Reply> {
        let gate = self
            .paired
            .as_ref()
            .and_then(|p| p.device.gate.clone())
            .ok_or_else(|| ScannerError::Capture("this device is not paired with a gate".into()))?;
        let sealed = self
            .seal(image, "gate_scan", &format!("{gate}/{event}"))
            .await?;
        let body = serde_json::json!({
            "event": event, "sealed_image": sealed, "direction": direction
        });
        self.signed("POST", "/v1/gate/scans", Some(&body)).await
    }
}
