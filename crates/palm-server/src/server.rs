//! Starting and stopping the service: data directory, keys, database, demo merchant, background
//! jobs (webhook delivery, payment reconciliation, idempotency-key expiry), HTTP listener, and a
//! graceful shutdown that lets in-flight requests finish.

use crate::config::Config;
use crate::keys::{DataDirKeys, create_private_dir};
use crate::sender::HttpSender;
use crate::state::AppState;
use anyhow::{Context, Result};
use palm_engine::Engine;
use palm_index::{Calibration, Policy, SHIPPED_CALIBRATION};
use palm_service::entry::{NewEvent, NewVenue};
use palm_service::{
    Clock, DevPhoneChannel, LoadReport, Parts, PhoneChannel, RemoteGallery, Service, ServiceConfig,
    SimulatedConfig, SimulatedProcessor, SystemClock,
};
use palm_store::SqlStore;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The demo merchant's credentials, kept in the data directory (0600) so that every start can
/// print them; the database holds only their hashes. Reads as the merchant's credentials, with
/// the demo venue's gate beside them.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    #[serde(flatten)]
    pub shop: palm_service::merchants::MerchantCredentials,
    /// Absent in data directories made before the demo had a venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<DemoGate>,
}

/// The demo venue's gate and the event it admits to (open for a year from the first start).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoGate {
    pub venue: String,
    pub event: String,
    pub id: String,
    pub name: String,
    pub credential: String,
}

impl std::ops::Deref for DemoCredentials {
    type Target = palm_service::merchants::MerchantCredentials;
    fn deref(&self) -> &Self::Target {
        &self.shop
    }
}

/// Secrets never reach a log line through `Debug`.
impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials")
            .field("shop", &self.shop)
            .field("gate", &self.gate.as_ref().map(|g| &g.id))
            .finish()
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    pub processor: Arc<SimulatedProcessor>,
    /// The development phone channel's outbox (deletion codes); empty when an SMS gateway is
    /// configured.
    pub phone: Arc<DevPhoneChannel>,
    pub demo: Option<DemoCredentials>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Starts everything; the listener is bound when this returns (port 0 picks a free port).
    pub async fn start(config: &Config) -> Result<Server> {
        Server::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(config: &Config, clock: Arc<dyn Clock>) -> Result<Server> {
        Server::start_with(config, clock, None).await
    }

    /// [`Server::start_with_clock`], searching palms through `remote_gallery` (matcher
    /// processes, the distributed mode) instead of an index of its own when one is given.
    pub async fn start_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        remote_gallery: Option<Arc<dyn RemoteGallery>>,
    ) -> Result<Server> {
        let phone = Arc::new(DevPhoneChannel::default());
        let channel: Arc<dyn PhoneChannel> = match config.phone.channel.as_str() {
            "development" => {
                tracing::warn!(
                    "DEVELOPMENT phone channel: one-time codes are NOT sent to phones; set [phone] channel = \"http\" with an SMS gateway for production"
                );
                phone.clone()
            }
            "http" => Arc::new(
                crate::sms::SmsGateway::new(&config.phone.url, &config.phone.token)
                    .map_err(anyhow::Error::msg)?,
            ),
            other => anyhow::bail!("phone.channel {other:?}: use \"development\" or \"http\""),
        };
        let (service, processor) = build_service(config, clock, channel, remote_gallery).await?;
        let demo = if config.demo {
            demo_merchant(&service, &config.data_dir).await?
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let app = crate::app::router(AppState {
            service: service.clone(),
            body_limit: config.body_limit_bytes,
            accuracy_dir: config.data_dir.join("accuracy"),
            request_timeout: Duration::from_millis(config.limits.request_timeout_ms),
            plain_captures: config.plain_captures_allowed(),
            pairing_lockout: Arc::new(crate::lockout::Lockout::new(
                config.limits.pairing_failures,
                Duration::from_secs(600),
            )),
            palm_lockout: Arc::new(crate::lockout::Lockout::new(
                config.limits.palm_failures,
                Duration::from_secs(600),
            )),
        });
        let limits = crate::http::ConnectionLimits {
            header_timeout: Duration::from_millis(config.limits.header_timeout_ms),
            max_connections: config.limits.max_connections,
        };
        let mut tasks = vec![tokio::spawn(crate::http::serve(
            listener,
            app,
            limits,
            stopped.clone(),
        ))];
        let sender = Arc::new(HttpSender::new().map_err(anyhow::Error::msg)?);
        tasks.push(tokio::spawn(
            service.clone().run_webhooks(sender, stopped.clone()),
        ));
        if config.housekeeping_interval_s > 0 {
            let every = Duration::from_secs(config.housekeeping_interval_s);
            tasks.push(tokio::spawn(housekeeping(service.clone(), every, stopped)));
        }
        Ok(Server {
            addr,
            service,
            processor,
            phone,
            demo,
            stop,
            tasks,
        })
    }

    /// Stops accepting connections, lets in-flight requests finish, stops background jobs.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The service as `palmline serve` builds it (data directory, keys, database, engine, policy,
/// simulated processor), without the HTTP listener or background jobs.
pub async fn build_service(
    config: &Config,
    clock: Arc<dyn Clock>,
    phone: Arc<dyn PhoneChannel>,
    remote_gallery: Option<Arc<dyn RemoteGallery>>,
) -> Result<(Arc<Service>, Arc<SimulatedProcessor>)> {
    create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let (keys, fingerprinter) = DataDirKeys::open(&config.data_dir)?;
    let keys = Arc::new(keys);
    let store = Arc::new(
        SqlStore::open(&config.database_url())
            .await
            .context("cannot open the database")?,
    );
    // The simulated card network's ledger outlives Palmline's restarts, as a real one would.
    let ledger = config.data_dir.join("simulated-processor.jsonl");
    let processor = Arc::new(
        SimulatedProcessor::durable(
            SimulatedConfig {
                latency: Duration::from_millis(config.processor.latency_ms),
            },
            &ledger,
        )
        .with_context(|| {
            format!(
                "cannot open the simulated processor's ledger {}",
                ledger.display()
            )
        })?,
    );
    let policy = Policy::new(Calibration::from_text(SHIPPED_CALIBRATION)?);
    let transforms = keys.transforms()?;
    let service = Arc::new(
        Service::start(Parts {
            engine: Arc::new(Engine::default()),
            policy,
            store: store.clone(),
            processor: processor.clone(),
            clock,
            keys: keys.clone(),
            transforms,
            fingerprinter,
            phone,
            event_wire: Arc::new(crate::wire::ApiEvents),
            remote_gallery,
            config: ServiceConfig {
                processor_timeout: Duration::from_millis(config.processor.timeout_ms),
                outcome_wait: Duration::from_millis(config.processor.outcome_wait_ms),
                webhook_retry_base_ms: config.webhooks.retry_base_ms,
                webhook_max_attempts: config.webhooks.max_attempts,
                retention_s: config.retention_days * 86_400,
                capture_key_overlap_s: config.capture_key_overlap_s,
                payment_expiry_s: config.payment_expiry_s,
                trip_timeout_s: config.trip_timeout_s,
                engine_workers: config.limits.engine_workers,
                engine_queue_wait: Duration::from_millis(config.limits.engine_queue_ms),
                ..ServiceConfig::default()
            },
        })
        .await?,
    );
    if service.indexes_locally() {
        retire_older_transforms(&keys, service.loaded())?;
    } else {
        // Matchers search: this process renews palms under an older transform while it serves
        // (a sweep over every palm, long at scale), and retires the older keys after it.
        let (service, keys) = (service.clone(), keys.clone());
        tokio::spawn(async move {
            match service.renew_stored_palms().await {
                Ok(report) => {
                    if let Err(e) = retire_older_transforms(&keys, &report) {
                        tracing::warn!(error = %e, "older transform keys not destroyed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "palm renewal stopped; the next start resumes it")
                }
            }
        });
    }
    Ok((service, processor))
}

/// Once every stored palm is under the current transform (none left unreadable), the older
/// transform keys are destroyed: nothing needs them, and a key that no longer exists cannot leak.
fn retire_older_transforms(keys: &DataDirKeys, loaded: &LoadReport) -> Result<()> {
    if loaded.unreadable == 0 {
        let current = keys.transforms()?.last().map_or(0, |t| t.id());
        let destroyed = keys.destroy_transforms_before(current)?;
        if !destroyed.is_empty() {
            tracing::info!(
                renewed = loaded.renewed,
                destroyed = ?destroyed,
                "every palm renewed to the current transform; older transform keys destroyed"
            );
        }
    }
    Ok(())
}

/// Reconciles payments a slow processor left open, finishes deletions that waited for them,
/// forgets expired idempotency keys and invitations, and (at start, then hourly) deletes people unused for longer
/// than the retention period.
async fn housekeeping(service: Arc<Service>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    let mut last_retention: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if last_retention.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_retention = Some(std::time::Instant::now());
            match service.enforce_retention().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "retention: unused people deleted"),
                Err(e) => tracing::warn!(error = %e, "retention job failed"),
            }
        }
        if let Err(e) = service.finish_deletions().await {
            tracing::warn!(error = %e, "pending deletions failed");
        }
        match service.reconcile().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "reconciled payments"),
            Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
        }
        match service.settle_trips().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(moved = n, "shopping trips settled or timed out"),
            Err(e) => tracing::warn!(error = %e, "shopping trip settlement failed"),
        }
        match service.expire_abandoned_payments().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(canceled = n, "abandoned payments canceled"),
            Err(e) => tracing::warn!(error = %e, "payment expiry failed"),
        }
        if let Err(e) = service.purge_keys().await {
            tracing::warn!(error = %e, "idempotency key expiry failed");
        }
        if let Err(e) = service.purge_invitations().await {
            tracing::warn!(error = %e, "invitation expiry failed");
        }
        if let Err(e) = service.purge_nonces().await {
            tracing::warn!(error = %e, "nonce expiry failed");
        }
        if let Err(e) = service.prune_palm_feed().await {
            tracing::warn!(error = %e, "palm feed pruning failed");
        }
    }
}

const DEMO_FILE: &str = "demo-credentials.json";

/// On a fresh database: a demo merchant with one store and two tills, and a venue with one gate
/// and an event open for a year (anyone the merchant gives a pass gets in). Later starts read
/// the credentials back from the data directory.
async fn demo_merchant(service: &Service, data_dir: &Path) -> Result<Option<DemoCredentials>> {
    let path = data_dir.join(DEMO_FILE);
    if service.has_merchants().await? {
        return Ok(std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok()));
    }
    let shop = service
        .create_merchant(
            "Demo Shop",
            "Main Street",
            &["Till 1".to_string(), "Till 2".to_string()],
        )
        .await?;
    let venue = service
        .create_venue(
            &shop.merchant,
            NewVenue::new("Demo Hall", vec![("Main door".into(), false)])?,
        )
        .await?;
    let now = service.now_s();
    let event = service
        .create_event(
            &shop.merchant,
            &venue.venue.id,
            NewEvent::new("Demo evening", now - 60, now + 365 * 86_400, 1000)?.with_reentry(true),
        )
        .await?;
    let gate = venue.gates.into_iter().next().map(|g| DemoGate {
        venue: venue.venue.id.clone(),
        event: event.id.clone(),
        id: g.gate.id,
        name: g.gate.name,
        credential: g.credential,
    });
    let creds = DemoCredentials { shop, gate };
    let json = serde_json::to_vec_pretty(&creds)?;
    palm_vault::write_private(&path, &json)?;
    Ok(Some(creds))
}
