//! Webhooks: events written to an outbox in the same transaction as the change they describe,
//! delivered at least once, signed with HMAC-SHA256 over `timestamp.body`, retried with
//! exponential backoff, listable and replayable.
//!
//! Signature header: `Palmline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
//! Receivers recompute the HMAC and refuse timestamps older than a few minutes (replays).

use crate::domain::{new_id, new_secret};
use crate::error::{Result, ServiceError};
use crate::ids::MerchantId;
use crate::store::{DeliveryRow, EndpointRow, EventRow, Page};
use crate::views::Listed;
use crate::{Service, context};
use async_trait::async_trait;
use hmac::{KeyInit, Mac};
use std::sync::Arc;
use std::time::Duration;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const SIGNATURE_HEADER: &str = "Palmline-Signature";

/// Sends one webhook request; returns the HTTP status, or why nothing came back.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(
        &self,
        url: &str,
        signature: &str,
        body: &str,
    ) -> std::result::Result<u16, String>;
}

fn mac(secret: &str, timestamp: i64, body: &str) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// The signature header's value for a body sent at `timestamp`.
pub fn sign_payload(secret: &str, timestamp: i64, body: &str) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// What a receiver does: recompute in constant time, and refuse stale timestamps.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &str,
    now: i64,
    tolerance_s: i64,
) -> bool {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => tag = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(tag)) = (timestamp, tag) else {
        return false;
    };
    (now - t).abs() <= tolerance_s && mac(secret, t, body).verify_slice(&tag).is_ok()
}

/// A merchant's webhook endpoint; its signing secret is shown once, when it is created.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub secret: Option<String>,
    pub created: i64,
}

impl WebhookEndpoint {
    fn of(e: &EndpointRow, secret: Option<String>) -> WebhookEndpoint {
        WebhookEndpoint {
            id: e.id.clone(),
            url: e.url.clone(),
            secret,
            created: e.created,
        }
    }
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("created", &self.created)
            .finish()
    }
}

impl Service {
    pub async fn create_endpoint(
        &self,
        merchant_id: &MerchantId,
        url: &str,
    ) -> Result<WebhookEndpoint> {
        let url = url.trim();
        let valid = (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() <= 2000
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(ServiceError::invalid(
                "invalid_url",
                "url must be an http:// or https:// address of at most 2000 characters",
            )
            .with_param("url"));
        }
        let secret = new_secret("whsec")?;
        let id = new_id("we");
        let (key, wrapped) = self.new_data_key()?;
        let row = EndpointRow {
            secret_sealed: key.seal(secret.as_bytes(), &context("webhook", &id))?,
            wrapped_key: wrapped.0,
            id,
            merchant_id: merchant_id.clone(),
            url: url.to_string(),
            created: self.now_s(),
        };
        self.store.insert_endpoint(&row).await?;
        Ok(WebhookEndpoint::of(&row, Some(secret)))
    }

    pub async fn endpoints(&self, merchant_id: &MerchantId) -> Result<Vec<WebhookEndpoint>> {
        Ok(self
            .store
            .endpoints(merchant_id)
            .await?
            .iter()
            .map(|e| WebhookEndpoint::of(e, None))
            .collect())
    }

    pub async fn deliveries(
        &self,
        merchant_id: &MerchantId,
        page: &Page,
    ) -> Result<Listed<DeliveryRow>> {
        crate::paged(
            page,
            async |pg| self.store.deliveries(merchant_id, pg).await,
            DeliveryRow::clone,
        )
        .await
    }

    pub async fn replay_delivery(&self, merchant_id: &MerchantId, id: &str) -> Result<()> {
        if !self
            .store
            .replay_delivery(merchant_id, id, self.clock.now_ms())
            .await?
        {
            return Err(ServiceError::not_found("webhook delivery"));
        }
        self.webhook_wake.notify_one();
        Ok(())
    }

    /// Sends the oldest due delivery of every endpoint, all endpoints at once; returns how many
    /// were attempted. One delivery per endpoint per round keeps a round as short as one send
    /// (10 s at most), so a slow or dead endpoint holds up the others by one send, not by its
    /// whole backlog; what is left is sent in the next round, which starts at once.
    pub async fn deliver_due(&self, sender: &dyn WebhookSender) -> Result<usize> {
        let now_ms = self.clock.now_ms();
        let due = self.store.due_deliveries(now_ms, 100).await?;
        let mut firsts: Vec<&(DeliveryRow, EventRow, EndpointRow)> = Vec::new();
        for row in &due {
            if !firsts.iter().any(|f| f.2.id == row.2.id) {
                firsts.push(row);
            }
        }
        if firsts.len() < due.len() {
            self.webhook_wake.notify_one();
        }
        let sends = firsts.iter().map(|(d, event, endpoint)| {
            self.deliver_one(sender, d.clone(), event, endpoint, now_ms)
        });
        for sent in futures_util::future::join_all(sends).await {
            sent?;
        }
        Ok(firsts.len())
    }

    async fn deliver_one(
        &self,
        sender: &dyn WebhookSender,
        mut d: DeliveryRow,
        event: &EventRow,
        endpoint: &EndpointRow,
        now_ms: i64,
    ) -> Result<()> {
        let key = self.data_key(&endpoint.wrapped_key)?;
        let secret = String::from_utf8(
            key.open(&endpoint.secret_sealed, &context("webhook", &endpoint.id))?,
        )
        .map_err(|_| ServiceError::internal("a webhook secret could not be read"))?;
        let signature = sign_payload(&secret, self.now_s(), &event.payload);
        let result = sender.send(&endpoint.url, &signature, &event.payload).await;
        d.attempts += 1;
        match result {
            Ok(code) if (200..300).contains(&code) => {
                d.status = "delivered".into();
                d.next_attempt = None;
                d.last_status_code = Some(i64::from(code));
                d.last_error = None;
            }
            other => {
                let (code, error) = match other {
                    Ok(code) => (Some(i64::from(code)), format!("endpoint answered {code}")),
                    Err(e) => (None, e),
                };
                d.last_status_code = code;
                d.last_error = Some(error.chars().take(300).collect());
                if d.attempts >= self.config.webhook_max_attempts {
                    d.status = "failed".into();
                    d.next_attempt = None;
                } else {
                    let backoff = self.config.webhook_retry_base_ms
                        * 4i64.saturating_pow((d.attempts - 1) as u32);
                    d.next_attempt = Some(now_ms + backoff.min(6 * 3600 * 1000));
                }
            }
        }
        self.store.record_attempt(&d).await?;
        Ok(())
    }

    /// The delivery loop: wakes on new events and every second for retries, until `stop`.
    pub async fn run_webhooks(
        self: Arc<Self>,
        sender: Arc<dyn WebhookSender>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if let Err(e) = self.deliver_due(sender.as_ref()).await {
                tracing::warn!(error = %e, "webhook delivery round failed");
            }
            tokio::select! {
                _ = self.webhook_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
