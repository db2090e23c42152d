//! A matcher's copy of its virtual shards, kept current from the palm stream.
//!
//! Start-up order is what makes the copy complete: the stream's last sequence is recorded
//! *before* the database is read, and replay starts just after it. A change committed before the
//! read is in the snapshot (and replayed too, then skipped by version); one committed after it
//! is published after the recorded position, so replay brings it. A restarted replica does the
//! same and catches up. Versions make every step idempotent: a palm's held version only rises,
//! and a tombstone keeps its version so a late upsert of a deleted palm cannot bring it back.

use crate::{ChangeMessage, GridError, palm_stream};
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use futures_util::StreamExt;
use palm_index::placement::ShardSet;
use palm_service::palm_feed::{PalmFeedStore, PalmOp, PlacedPalm};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Palms read from the database per page while loading.
const LOAD_PAGE: i64 = 5000;

/// What a copy does with the palms it takes: a matcher indexes them ([`crate::matcher`]);
/// anything else that wants the shards' palms can hold them its own way.
pub trait Holder: Send + Sync + 'static {
    /// Takes a palm (new, or a newer version of one held).
    fn hold(&self, palm: &PlacedPalm) -> Result<(), GridError>;
    /// Lets a palm go (deleted, or a newer version could not be taken).
    fn release(&self, palm_id: i64);
}

/// The palms of a shard set: for each palm seen, the version it is at and whether it is live.
pub struct ShardCopy {
    shards: ShardSet,
    versions: HashMap<i64, (i64, bool)>,
    holder: Arc<dyn Holder>,
}

impl ShardCopy {
    pub fn new(shards: ShardSet, holder: Arc<dyn Holder>) -> ShardCopy {
        ShardCopy {
            shards,
            versions: HashMap::new(),
            holder,
        }
    }

    /// Takes a palm at its version unless a newer version (live or deleted) is known. Palms of
    /// other shards are ignored. True when the copy changed. A palm the holder cannot take (its
    /// template does not open) is logged and held as gone at that version.
    pub fn put(&mut self, palm: &PlacedPalm) -> bool {
        let id = palm.owned.palm.id;
        if !self.shards.contains(palm.shard) || self.version(id) >= palm.version {
            return false;
        }
        let live = match self.holder.hold(palm) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(palm = id, error = %e, "palm not held; it cannot be found here");
                self.holder.release(id);
                false
            }
        };
        self.versions.insert(id, (palm.version, live));
        true
    }

    /// Drops a palm as of `version` unless a newer version is known. True when the copy changed.
    pub fn remove(&mut self, palm_id: i64, shard: u16, version: i64) -> bool {
        if !self.shards.contains(shard) || self.version(palm_id) >= version {
            return false;
        }
        self.holder.release(palm_id);
        self.versions.insert(palm_id, (version, false));
        true
    }

    fn version(&self, palm_id: i64) -> i64 {
        self.versions.get(&palm_id).map_or(0, |v| v.0)
    }

    /// How many palms are live here.
    pub fn live(&self) -> usize {
        self.versions.values().filter(|(_, live)| *live).count()
    }

    /// The live palms' ids, ascending.
    pub fn live_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .versions
            .iter()
            .filter(|(_, (_, live))| *live)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn shards(&self) -> &ShardSet {
        &self.shards
    }
}

/// A copy kept current by a background task that follows the palm stream.
pub struct Replica {
    copy: Arc<RwLock<ShardCopy>>,
    /// The last stream sequence applied (or skipped as not this replica's).
    applied: Arc<AtomicU64>,
    follower: tokio::task::JoinHandle<()>,
}

impl Replica {
    /// Records the stream position, loads the shards from the database, then follows the stream
    /// from that position in a background task.
    pub async fn start(
        store: Arc<dyn PalmFeedStore>,
        js: &jetstream::Context,
        shards: ShardSet,
        holder: Arc<dyn Holder>,
    ) -> Result<Replica, GridError> {
        let mut stream = palm_stream(js).await?;
        let position = stream
            .info()
            .await
            .map_err(GridError::nats)?
            .state
            .last_sequence;
        let mut copy = ShardCopy::new(shards, holder);
        for shard in copy.shards().shards() {
            let mut after = i64::MIN;
            loop {
                let page = store.placed_palms_page(shard, after, LOAD_PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.owned.palm.id;
                for palm in &page {
                    copy.put(palm);
                }
            }
        }
        tracing::info!(
            palms = copy.live(),
            shards = %copy.shards(),
            position,
            "replica loaded; following the palm stream"
        );
        // One subject filter for all shards: servers before 2.10 take a single filter, and
        // palm changes are few enough to drop other shards' here.
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: "palms.>".to_string(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: position + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(GridError::nats)?;
        let messages = consumer.messages().await.map_err(GridError::nats)?;
        let copy = Arc::new(RwLock::new(copy));
        let applied = Arc::new(AtomicU64::new(position));
        let follower = tokio::spawn(follow(messages, store, copy.clone(), applied.clone()));
        Ok(Replica {
            copy,
            applied,
            follower,
        })
    }

    /// The last stream sequence this replica has applied.
    pub fn applied_through(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Reads the copy.
    pub fn read<T>(&self, f: impl FnOnce(&ShardCopy) -> T) -> T {
        f(&self.copy.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops following (a matcher shutting down, or a test killing a replica).
    pub fn stop(self) {
        self.follower.abort();
    }
}

async fn follow(
    mut messages: jetstream::consumer::pull::Ordered,
    store: Arc<dyn PalmFeedStore>,
    copy: Arc<RwLock<ShardCopy>>,
    applied: Arc<AtomicU64>,
) {
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                // The ordered consumer recreates itself from the last sequence it delivered.
                tracing::warn!(error = %e, "palm stream interrupted");
                continue;
            }
        };
        let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        // A change that cannot be applied now (the database is unreachable) is retried before
        // moving on: skipping it would leave this copy behind without anyone knowing.
        let mut wait = std::time::Duration::from_millis(50);
        while let Err(e) = apply(&message.payload, store.as_ref(), &copy).await {
            if let GridError::BadMessage(_) = e {
                tracing::error!(error = %e, sequence, "palm stream message skipped");
                break;
            }
            tracing::warn!(error = %e, sequence, "palm change not applied yet; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(5));
        }
        applied.fetch_max(sequence, Ordering::AcqRel);
    }
}

async fn apply(
    payload: &[u8],
    store: &dyn PalmFeedStore,
    copy: &RwLock<ShardCopy>,
) -> Result<(), GridError> {
    let change: ChangeMessage =
        serde_json::from_slice(payload).map_err(|e| GridError::BadMessage(e.to_string()))?;
    let shards_held = copy
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .shards()
        .contains(change.shard);
    if !shards_held {
        return Ok(());
    }
    let write = || copy.write().unwrap_or_else(|p| p.into_inner());
    match change.op()? {
        PalmOp::Delete => {
            write().remove(change.palm, change.shard, change.version);
        }
        // The stream says only that the palm changed: read it as the database has it now (a
        // newer version than the message's is fine; a palm already gone is a deletion).
        PalmOp::Upsert => match store.placed_palm(change.palm).await? {
            Some(palm) => {
                write().put(&palm);
            }
            None => {
                write().remove(change.palm, change.shard, change.version);
            }
        },
    }
    Ok(())
}
