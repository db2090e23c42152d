//! Palmline's use cases: sign-up, payments at a till, people managing their data, their privacy
//! rights (deletion, retention, audit), webhooks.
//!
//! The key design decision: the use cases own the rules and talk to the outside world only
//! through traits they define ([`Store`], [`Processor`], [`Clock`], [`KeySource`],
//! [`WebhookSender`], [`PhoneChannel`]), so they are tested without HTTP and run unchanged on SQLite or PostgreSQL.
//! Card numbers, phone numbers and templates are sealed under each person's data key before they
//! reach a store, and opened only to match (templates, in memory) or to pay (the card number,
//! handed straight to the processor).

pub mod access;
pub mod adjustments;
pub mod answers;
pub mod basket;
pub mod clock;
pub mod device_store;
pub mod devices;
pub mod domain;
pub mod entry;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod identify;
pub mod ids;
pub mod invitations;
pub mod loyalty;
pub mod merchants;
pub mod money;
pub mod offline;
pub mod palm_feed;
mod palms;
pub mod payment_input;
pub mod payment_state;
mod payments;
mod people;
pub mod presented;
pub mod privacy;
pub mod processor;
pub mod receipts;
mod refunds;
pub mod remote;
mod signup;
pub mod signup_input;
pub mod store;
mod trip_money;
pub mod trip_store;
pub mod trips;
pub mod views;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use devices::{CaptureKey, SignedRequest};
pub use error::{ErrorKind, Result, ServiceError, StoreError};
pub use palms::{LoadReport, open_protected_palm};
pub use privacy::{DevPhoneChannel, PhoneChannel};
pub use processor::{Processor, SimulatedConfig, SimulatedProcessor, VERIFIES_THEN_DECLINES};
pub use remote::{RemoteGallery, RemoteRanking};
pub use signup::{CONSENT_TEXT, CONSENT_VERSION};
pub use webhooks::{WebhookSender, sign_payload, verify_signature};

use palm_engine::Engine;
use palm_engine::protect::Transform;
use palm_index::{Gallery, IndexConfig, Policy};
use palm_vault::{DataKey, Fingerprinter, KeyRing, VaultError, WrappedKey};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where master keys come from (the data directory, a key manager): read again when a wrapped key
/// names a master key not yet loaded, so a rotation done by another process is picked up.
pub trait KeySource: Send + Sync {
    fn load(&self) -> std::result::Result<KeyRing, VaultError>;
    /// Whether the keys may have changed since the last load (a cheap check, made before each
    /// new data key is wrapped, so new data is wrapped by the newest master key).
    fn changed(&self) -> bool {
        false
    }
    /// The server's capture keys (devices seal captures to them), current and retired.
    fn capture_keys(&self) -> std::result::Result<Vec<CaptureKey>, VaultError> {
        Ok(Vec::new())
    }
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// How long one processor call may take before the service asks the processor what happened.
    pub processor_timeout: Duration,
    /// How long to keep asking after a timeout before leaving the payment `processing` for the
    /// reconciler.
    pub outcome_wait: Duration,
    pub session_ttl_s: i64,
    /// First webhook retry delay; each further retry waits four times longer.
    pub webhook_retry_base_ms: i64,
    pub webhook_max_attempts: i64,
    /// Idempotency keys are kept at least this long.
    pub idempotency_ttl_s: i64,
    /// Biometric data of people unused for this long is deleted (default two years).
    pub retention_s: i64,
    /// After a capture key is replaced, captures sealed to it are still opened this long.
    pub capture_key_overlap_s: i64,
    /// Palm-engine jobs (decoding and reading a picture) run at once; 0: one per core.
    pub engine_workers: usize,
    /// How long a request waits for an engine slot before it is answered `busy` (503).
    pub engine_queue_wait: Duration,
    /// A payment still waiting for a palm or a confirmation this long after its last change is
    /// canceled (a shopper walked away, a till page was reloaded): nothing was charged, and the
    /// till's POS sees `canceled` instead of a payment open for ever.
    pub payment_expiry_s: i64,
    /// A shopping trip with no item event for this long is closed with its basket as it stands
    /// (a shopper left without the exit seeing them); the merchant is told by its webhook.
    pub trip_timeout_s: i64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            processor_timeout: Duration::from_secs(10),
            outcome_wait: Duration::from_secs(30),
            session_ttl_s: 15 * 60,
            webhook_retry_base_ms: 5_000,
            webhook_max_attempts: 8,
            idempotency_ttl_s: 48 * 3600,
            retention_s: 2 * 365 * 86_400,
            capture_key_overlap_s: 86_400,
            engine_workers: 0,
            engine_queue_wait: Duration::from_secs(5),
            payment_expiry_s: 15 * 60,
            trip_timeout_s: 3 * 3600,
        }
    }
}

/// What the service is built from.
pub struct Parts {
    pub engine: Arc<Engine>,
    pub policy: Policy,
    pub store: Arc<dyn Store>,
    pub processor: Arc<dyn Processor>,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<dyn KeySource>,
    /// The template-protection transforms, oldest first: the last is current; palms still under
    /// an older one are renewed when the service starts.
    pub transforms: Vec<Transform>,
    pub fingerprinter: Fingerprinter,
    pub phone: Arc<dyn PhoneChannel>,
    /// Writes events in the wire form webhooks deliver (the server's).
    pub event_wire: Arc<dyn events::EventWire>,
    pub config: ServiceConfig,
    /// Matcher processes that search the gallery in this process's place (the distributed
    /// mode); `None` on one machine, where this process loads every palm into its own index.
    pub remote_gallery: Option<Arc<dyn RemoteGallery>>,
}

pub struct Service {
    engine: Arc<Engine>,
    /// This process's index; empty when `remote` searches instead.
    gallery: Arc<Gallery>,
    remote: Option<Arc<dyn RemoteGallery>>,
    policy: Policy,
    /// The decision for a hover of [`identify::BURST_FRAMES`] frames: the shipped fused
    /// calibration, when it was measured with this engine's parameters (else bursts are
    /// refused: their scores would be judged on another scale).
    burst_policy: Option<Policy>,
    /// The serial decision's two stages (the first hand's hover, then both hands' hovers fused),
    /// each with half the FPIR budget, when both fused calibrations match this engine.
    serial_policies: Option<(Policy, Policy)>,
    store: Arc<dyn Store>,
    processor: Arc<dyn Processor>,
    clock: Arc<dyn Clock>,
    key_source: Arc<dyn KeySource>,
    keyring: RwLock<Arc<KeyRing>>,
    capture_keys: RwLock<Arc<Vec<CaptureKey>>>,
    fingerprinter: Fingerprinter,
    phone: Arc<dyn PhoneChannel>,
    event_wire: Arc<dyn events::EventWire>,
    config: ServiceConfig,
    /// Sign-ups check for an already-enrolled palm and then enrol: one at a time, so two
    /// simultaneous sign-ups of the same palm cannot both pass the check.
    signup_lock: tokio::sync::Mutex<()>,
    /// One permit per engine job allowed at once (see [`Service::engine_work`]).
    engine_slots: Arc<tokio::sync::Semaphore>,
    webhook_wake: tokio::sync::Notify,
    loaded: LoadReport,
    /// The transforms older than the current one, kept where matchers search (this process
    /// indexes nothing) until [`Service::renew_stored_palms`] has renewed the palms under them.
    older_transforms: Vec<Transform>,
    /// Names this run of the service: idempotency keys it holds without an answer are known to
    /// be abandoned once another run starts.
    run_id: String,
}

impl Service {
    /// Builds the service and loads every enrolled palm into the index (renewing those under
    /// an older transform). Where matchers search, it loads nothing: the renewal is left to
    /// [`Service::renew_stored_palms`], which the server runs once it is serving.
    pub async fn start(parts: Parts) -> Result<Service> {
        let keyring = parts.keys.load()?;
        let capture_keys = parts.keys.capture_keys()?;
        let mut transforms = parts.transforms;
        let current = transforms.pop().ok_or_else(|| {
            ServiceError::internal("no template-protection transform was configured")
        })?;
        let engine_workers = match parts.config.engine_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let mut service = Service {
            gallery: Arc::new(Gallery::new(
                parts.engine.params(),
                IndexConfig::default(),
                current,
            )),
            remote: parts.remote_gallery,
            burst_policy: identify::burst_policy(&parts.engine, &parts.policy),
            serial_policies: identify::serial_policies(&parts.engine, &parts.policy),
            engine: parts.engine,
            policy: parts.policy,
            store: parts.store,
            processor: parts.processor,
            clock: parts.clock,
            key_source: parts.keys,
            keyring: RwLock::new(Arc::new(keyring)),
            capture_keys: RwLock::new(Arc::new(capture_keys)),
            fingerprinter: parts.fingerprinter,
            phone: parts.phone,
            event_wire: parts.event_wire,
            config: parts.config,
            signup_lock: tokio::sync::Mutex::new(()),
            engine_slots: Arc::new(tokio::sync::Semaphore::new(engine_workers)),
            webhook_wake: tokio::sync::Notify::new(),
            loaded: LoadReport::default(),
            older_transforms: vec![],
            run_id: domain::new_id("run"),
        };
        if service.indexes_locally() {
            service.loaded = service.load_gallery(&transforms).await?;
        } else {
            service.older_transforms = transforms;
        }
        Ok(service)
    }

    /// Where matchers search: renews every stored palm under an older transform to the current
    /// one (each renewal reaches the matchers through the palm feed, which skip a palm under a
    /// transform that is not theirs until then). At ten million palms this reads every palm,
    /// so the server runs it beside serving rather than before. On one machine the start did it.
    pub async fn renew_stored_palms(&self) -> Result<LoadReport> {
        if self.indexes_locally() {
            return Ok(self.loaded.clone());
        }
        self.load_gallery(&self.older_transforms).await
    }

    /// This run's name (see [`store::KeyHolder`]).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Runs palm-engine work on the blocking pool, at most `engine_workers` jobs at once: a burst
    /// of large pictures waits its turn, so memory and CPU stay bounded, and after
    /// `engine_queue_wait` it is answered `busy` instead of queueing without end.
    pub(crate) async fn engine_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let permit = tokio::time::timeout(
            self.config.engine_queue_wait,
            self.engine_slots.clone().acquire_owned(),
        )
        .await
        .map_err(|_| {
            ServiceError::new(
                ErrorKind::Busy,
                "busy",
                "the palm engine is busy; try again in a moment",
            )
        })?
        .map_err(|_| ServiceError::internal("the palm engine stopped"))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| ServiceError::internal("the palm engine stopped"))
    }

    /// What loading the index found at start (palms renewed to the current transform, palms
    /// whose transform key is gone).
    pub fn loaded(&self) -> &LoadReport {
        &self.loaded
    }

    pub fn palms(&self) -> usize {
        self.gallery.len()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn keyring(&self) -> Arc<KeyRing> {
        self.keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the master keys again (after a rotation by `palmline keys rotate`).
    pub fn reload_keys(&self) -> Result<()> {
        let ring = self.key_source.load()?;
        *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        let capture = self.key_source.capture_keys()?;
        *self.capture_keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(capture);
        Ok(())
    }

    /// The capture keys, read again first when the key folder changed (a rotation).
    fn capture_keys(&self) -> Arc<Vec<CaptureKey>> {
        if self.key_source.changed()
            && let Err(e) = self.reload_keys()
        {
            tracing::warn!(error = %e, "keys could not be reloaded");
        }
        self.capture_keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Unwraps a data key, reloading the master keys once if it names one not yet loaded.
    fn data_key(&self, wrapped: &[u8]) -> Result<DataKey> {
        let wrapped = WrappedKey(wrapped.to_vec());
        match self.keyring().unwrap(&wrapped) {
            Err(VaultError::UnknownMasterKey(_)) => {
                self.reload_keys()?;
                Ok(self.keyring().unwrap(&wrapped)?)
            }
            other => Ok(other?),
        }
    }

    fn new_data_key(&self) -> Result<(DataKey, WrappedKey)> {
        if self.key_source.changed() {
            self.reload_keys()?;
        }
        Ok(self.keyring().new_data_key()?)
    }

    /// The service's clock, in Unix seconds (a test's manual clock when it runs on one).
    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }
}

/// Lists page by asking the store for one row more than the page: if it comes, there is more.
async fn paged<T, U, F>(
    page: &store::Page,
    fetch: F,
    view: impl Fn(&T) -> U,
) -> Result<views::Listed<U>>
where
    F: AsyncFnOnce(&store::Page) -> std::result::Result<Vec<T>, StoreError>,
{
    let mut rows = fetch(&store::Page {
        limit: page.limit + 1,
        ..page.clone()
    })
    .await?;
    let has_more = rows.len() as i64 > page.limit;
    rows.truncate(page.limit as usize);
    Ok(views::Listed {
        data: rows.iter().map(view).collect(),
        has_more,
    })
}

/// What a sealed value is bound to, so a ciphertext moved to another row or column fails to open.
pub fn context(kind: &str, id: &str) -> Vec<u8> {
    format!("{kind}:{id}").into_bytes()
}

/// Base64 image field to bytes, with the field named in the error.
fn decode_image(b64: &str, param: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let trimmed = b64
        .split_once("base64,")
        .map_or(b64, |(_, rest)| rest)
        .trim();
    base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|_| {
            ServiceError::invalid(
                "invalid_image",
                "image must be base64-encoded PNG, JPEG or BMP",
            )
            .with_param(param)
        })
}

/// Engine errors as palm errors the till can act on.
fn palm_error(e: palm_engine::Error, param: &str) -> ServiceError {
    use palm_engine::ErrorKind as K;
    let err = match &e.kind {
        K::Rejected(r) => ServiceError::palm(r.code(), r.guidance()),
        K::NotAnImage | K::UnsupportedFormat(_) | K::Truncated => {
            ServiceError::invalid("invalid_image", e.to_string())
        }
        K::TooSmall { .. } | K::TooLarge { .. } | K::Elongated { .. } => {
            ServiceError::invalid("image_size", e.to_string())
        }
        _ => ServiceError::internal("the palm engine failed"),
    };
    err.with_param(param)
}

/// Everything the service needs from storage.
#[async_trait::async_trait]
pub trait Store:
    store::MerchantStore
    + store::PeopleStore
    + store::PaymentStore
    + store::WebhookStore
    + store::IdempotencyStore
    + store::PrivacyStore
    + store::LoyaltyStore
    + store::EntryStore
    + device_store::DeviceStore
    + store::InvitationStore
    + trip_store::TripStore
    + palm_feed::PalmFeedStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> store::StoreResult<()>;
}
