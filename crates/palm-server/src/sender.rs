//! Webhook requests over HTTP(S).

use async_trait::async_trait;
use palm_service::WebhookSender;
use palm_service::webhooks::SIGNATURE_HEADER;
use std::time::Duration;

/// One process-wide TLS provider for HTTP clients (ring, as sqlx uses); installing twice is
/// harmless. Any process building a `reqwest` client calls this first.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct HttpSender {
    client: reqwest::Client,
}

impl HttpSender {
    pub fn new() -> Result<HttpSender, String> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(HttpSender { client })
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, url: &str, signature: &str, body: &str) -> Result<u16, String> {
        self.client
            .post(url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_string())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "could not connect".to_string()
                } else {
                    "request failed".to_string()
                }
            })
    }
}
