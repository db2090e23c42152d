//! The SMS gateway connector for one-time codes (deletion confirmations): the production
//! `PhoneChannel`. It posts `{"to": "+15551234567", "message": "..."}` as JSON with a bearer
//! token to the gateway's URL (`[phone] channel = "http"`, `url`, `token`), the shape most SMS
//! APIs take or a small adapter gives them. The code is in the message only: never in a log
//! line, an error or a stored row.

use async_trait::async_trait;
use palm_service::PhoneChannel;
use palm_service::domain::Phone;
use std::time::Duration;

pub struct SmsGateway {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl SmsGateway {
    pub fn new(url: &str, token: &str) -> Result<SmsGateway, String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("phone.url must be an http(s) URL".into());
        }
        crate::sender::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("SMS client: {e}"))?;
        Ok(SmsGateway {
            client,
            url: url.to_string(),
            token: token.to_string(),
        })
    }
}

#[async_trait]
impl PhoneChannel for SmsGateway {
    async fn send_code(&self, phone: &Phone, code: &str) -> Result<(), String> {
        let message =
            format!("Your Palmline code is {code}. It deletes your palm profile; never share it.");
        let answer = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"to": phone.as_str(), "message": message}))
            .send()
            .await
            // reqwest's errors name the URL, never the body.
            .map_err(|e| format!("SMS gateway unreachable: {e}"))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!("SMS gateway answered {}", answer.status()))
        }
    }
}
