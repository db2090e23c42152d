//! Configuration, layered: built-in defaults, then a TOML file (`palmline.toml` in the working
//! directory, or `--config FILE`), then environment variables `PALMLINE_<KEY>` (nested keys
//! with `__`, e.g. `PALMLINE_PROCESSOR__LATENCY_MS=200`), then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite file, keys and demo credentials live.
    pub data_dir: PathBuf,
    pub listen: String,
    /// `sqlite://...` or `postgres://...`; default: `palmline.db` in the data directory.
    pub database: Option<String>,
    pub body_limit_bytes: usize,
    /// `text` or `json`.
    pub log_format: String,
    /// Create a demo merchant with a store, two tills and test cards on first start.
    pub demo: bool,
    /// Take palm images sent in the clear by tills (the kiosk pages: browsers cannot seal).
    /// Unset: allowed when `demo` is on, refused otherwise; paired scanners always seal theirs.
    pub plain_captures: Option<bool>,
    /// People unused for this many days are deleted with their biometric data.
    pub retention_days: i64,
    /// Seconds between housekeeping rounds (reconciling payments a slow processor left open,
    /// finishing deletions, expiring keys, retention); 0 turns the job off (tests that drive it
    /// themselves).
    pub housekeeping_interval_s: u64,
    /// After `palmline keys rotate-capture`, captures sealed to the old key are opened this long.
    pub capture_key_overlap_s: i64,
    /// A payment left waiting for a palm or a confirmation this long is canceled (seconds).
    pub payment_expiry_s: i64,
    /// A shopping trip with no item event this long is closed with its basket as it stands
    /// (seconds; the merchant is told by the trip's webhook).
    pub trip_timeout_s: i64,
    pub processor: ProcessorConfig,
    pub webhooks: WebhookConfig,
    pub limits: LimitsConfig,
    pub phone: PhoneConfig,
}

/// How one-time codes reach people's phones.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PhoneConfig {
    /// `development` (nothing is sent; codes stay in the server's memory) or `http` (an SMS
    /// gateway, see `palm_server::sms`).
    pub channel: String,
    pub url: String,
    /// The gateway's bearer token (better set as `PALMLINE_PHONE__TOKEN` than in a file).
    pub token: String,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            channel: "development".into(),
            url: String::new(),
            token: String::new(),
        }
    }
}

/// The token never reaches a log line through `Debug`.
impl std::fmt::Debug for PhoneConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneConfig")
            .field("channel", &self.channel)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The doors' limits (see docs/service.md, "Tenants and limits").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// A connection must deliver its request line and headers within this time; also the most a
    /// keep-alive connection idles.
    pub header_timeout_ms: u64,
    /// A request, body and answer included, must be done within this time (408 otherwise).
    pub request_timeout_ms: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Palm pictures read at once; 0: one per core.
    pub engine_workers: usize,
    /// How long a picture waits for the engine before the answer is `busy` (503, Retry-After).
    pub engine_queue_ms: u64,
    /// Wrong pairing codes one client (IP address) may send in 10 minutes before it is locked
    /// out for the rest of them (429, Retry-After).
    pub pairing_failures: u32,
    /// Palms in a row that match no one, from one till, gate or device, within 10 minutes
    /// before it is locked out for the rest of them (429, Retry-After); a palm read resets it.
    pub palm_failures: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            header_timeout_ms: 10_000,
            request_timeout_ms: 60_000,
            max_connections: 1024,
            engine_workers: 0,
            engine_queue_ms: 5_000,
            pairing_failures: 10,
            palm_failures: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Simulated processor's answer time.
    pub latency_ms: u64,
    /// How long the service waits for one processor call.
    pub timeout_ms: u64,
    /// How long it then keeps asking for the outcome before leaving it to the reconciler.
    pub outcome_wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub retry_base_ms: i64,
    pub max_attempts: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("palmline-data"),
            listen: "127.0.0.1:8080".into(),
            database: None,
            body_limit_bytes: 16 * 1024 * 1024,
            log_format: "text".into(),
            demo: true,
            plain_captures: None,
            retention_days: 730,
            housekeeping_interval_s: 5,
            capture_key_overlap_s: 86_400,
            payment_expiry_s: 15 * 60,
            trip_timeout_s: 3 * 3600,
            processor: ProcessorConfig::default(),
            webhooks: WebhookConfig::default(),
            limits: LimitsConfig::default(),
            phone: PhoneConfig::default(),
        }
    }
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            latency_ms: 20,
            timeout_ms: 10_000,
            outcome_wait_ms: 30_000,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_base_ms: 5_000,
            max_attempts: 8,
        }
    }
}

impl Config {
    /// Whether tills may send plain (unsealed) palm images (see `plain_captures`).
    pub fn plain_captures_allowed(&self) -> bool {
        self.plain_captures.unwrap_or(self.demo)
    }

    /// Defaults, then the file (which must exist when named explicitly), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) if !f.exists() => return Err(format!("config file {} not found", f.display())),
            Some(f) => figment = figment.merge(Toml::file(f)),
            None => figment = figment.merge(Toml::file("palmline.toml")),
        }
        figment
            .merge(Env::prefixed("PALMLINE_").split("__").only(&[
                "data_dir",
                "listen",
                "database",
                "body_limit_bytes",
                "log_format",
                "demo",
                "plain_captures",
                "retention_days",
                "housekeeping_interval_s",
                "capture_key_overlap_s",
                "payment_expiry_s",
                "trip_timeout_s",
                "processor.latency_ms",
                "processor.timeout_ms",
                "processor.outcome_wait_ms",
                "webhooks.retry_base_ms",
                "webhooks.max_attempts",
            ]))
            .extract::<Config>()
            .map_err(|e| format!("configuration: {e}"))
            .and_then(Config::checked)
    }

    /// Values a setting cannot take, refused by name before anything starts.
    fn checked(self) -> Result<Config, String> {
        if self.payment_expiry_s < 60 {
            return Err(format!(
                "configuration: payment_expiry_s is {}; a shopper needs at least 60 seconds to pay",
                self.payment_expiry_s
            ));
        }
        if self.trip_timeout_s < 60 {
            return Err(format!(
                "configuration: trip_timeout_s is {}; a shopping trip needs at least 60 seconds",
                self.trip_timeout_s
            ));
        }
        Ok(self)
    }

    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| palm_store::SqlStore::sqlite_url(&self.data_dir.join("palmline.db")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's test jail returns its own large error
    fn layers_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "palmline.toml",
                "listen = \"0.0.0.0:9000\"\n[processor]\nlatency_ms = 5\n",
            )?;
            jail.set_env("PALMLINE_PROCESSOR__LATENCY_MS", "7");
            jail.set_env("PALMLINE_DATA_DIR", "/tmp/x");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:9000");
            assert_eq!(c.processor.latency_ms, 7);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(c.processor.timeout_ms, 10_000);
            jail.create_file("bad.toml", "lissen = 1\n")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            assert_eq!(c.payment_expiry_s, 900);
            jail.set_env("PALMLINE_PAYMENT_EXPIRY_S", "5");
            let refused = Config::load(None).unwrap_err();
            assert!(refused.contains("payment_expiry_s"), "{refused}");
            Ok(())
        });
    }
}
