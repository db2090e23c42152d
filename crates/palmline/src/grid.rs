//! `palmline relay` and `palmline matcher`: the processes of a gallery spread over machines
//! (palm-grid). Both read the same configuration as `palmline serve` (the database, and the data
//! directory whose key folder every process of a deployment shares) plus the NATS server.

use crate::serve::{ConfigArgs, runtime, shutdown_signal};
use anyhow::{Context, Result};
use palm_grid::matcher::{IndexHolder, Matcher, Opener};
use palm_grid::relay::Relay;
use palm_index::placement::ShardSet;
use palm_index::{Gallery, IndexConfig};
use palm_server::keys::DataDirKeys;
use palm_service::palm_feed::{PalmFeedStore, PlacedPalm};
use palm_service::{Clock, KeySource, SystemClock};
use palm_store::SqlStore;
use palm_vault::WrappedKey;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RelayArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// How often to look for new palm changes, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub interval_ms: u64,
}

#[derive(clap::Args)]
pub struct MatcherArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// The shard set's name: every replica of the set uses the same one (e.g. `a`).
    #[arg(long)]
    pub set: String,
    /// The virtual shards this set holds: ranges such as 0-127, lists such as 3,9,200-255, or all.
    #[arg(long)]
    pub shards: String,
}

async fn open_store(args: &ConfigArgs) -> Result<Arc<SqlStore>> {
    let store = SqlStore::open(&args.load()?.database_url())
        .await
        .context("cannot open the database")?;
    Ok(Arc::new(store))
}

pub fn relay(args: RelayArgs) -> Result<()> {
    palm_server::init_logging(&args.config.load()?.log_format);
    runtime()?.block_on(async {
        let stop = shutdown_signal()?;
        let store = open_store(&args.config).await?;
        let js = palm_grid::connect(&args.nats)
            .await
            .with_context(|| format!("cannot reach NATS at {}", args.nats))?;
        let relay = Relay::new(store, js).await?;
        println!("palm relay: publishing the palm outbox to {}", args.nats);
        let (tell, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(relay.run(
            Duration::from_millis(args.interval_ms.max(10)),
            || SystemClock.now_s(),
            stopped,
        ));
        stop.await;
        let _ = tell.send(true);
        running.await?;
        Ok(())
    })
}

pub fn matcher(args: MatcherArgs) -> Result<()> {
    let config = args.config.load()?;
    palm_server::init_logging(&config.log_format);
    let shards = ShardSet::parse(&args.shards)?;
    palm_grid::check_set_name(&args.set).context("--set")?;
    let (keys, _) = DataDirKeys::open(&config.data_dir).context("cannot open the key folder")?;
    let transform = keys
        .transforms()?
        .pop()
        .context("the key folder has no transform key")?;
    let probe_key = Arc::new(keys.grid_probe_key()?);
    let ring = keys.load()?;
    let transform_id = transform.id();
    // A palm is opened as the service opens it: its owner's data key unwrapped by the master
    // keys, the template under the current transform (palms under an older one wait for the
    // service's renewal at its start, which republishes them).
    let opener: Opener = Box::new(move |p: &PlacedPalm| {
        let key = ring
            .unwrap(&WrappedKey(p.owned.wrapped_key.clone()))
            .map_err(|e| e.to_string())?;
        palm_service::open_protected_palm(&key, &p.owned.palm, transform_id)
            .map_err(|e| e.to_string())
    });
    let engine = palm_engine::Engine::default();
    let gallery = Gallery::new(engine.params(), IndexConfig::default(), transform);
    runtime()?.block_on(async {
        let stop = shutdown_signal()?;
        let store = open_store(&args.config).await?;
        let feed: Arc<dyn PalmFeedStore> = store;
        let client = palm_grid::connect_client(&args.nats)
            .await
            .with_context(|| format!("cannot reach NATS at {}", args.nats))?;
        let matcher = Matcher::start(
            feed,
            client,
            &args.set,
            shards.clone(),
            IndexHolder::new(gallery, opener),
            probe_key,
        )
        .await?;
        println!(
            "palm matcher: set {} (shards {shards}) holds {} palms, answering on {}",
            args.set,
            matcher.palms(),
            palm_grid::search_subject(&args.set)
        );
        stop.await;
        matcher.stop();
        Ok(())
    })
}
