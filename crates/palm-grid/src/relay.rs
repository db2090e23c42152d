//! The relay: publishes the database's palm outbox to the palm stream, in outbox order, and
//! marks each row published once the stream has acknowledged it.
//!
//! A crash between the stream's acknowledgement and the mark publishes those rows again on the
//! next round; their message ids (`palm:version`) make the stream store them once. Several relays
//! may run (one per region or for failover): duplicates are dropped the same way.

use crate::{ChangeMessage, GridError, palm_stream, shard_subject};
use async_nats::jetstream::{self, message::PublishMessage};
use palm_service::palm_feed::PalmFeedStore;
use std::sync::Arc;
use std::time::Duration;

/// Outbox rows published per round.
const BATCH: i64 = 500;

pub struct Relay {
    store: Arc<dyn PalmFeedStore>,
    js: jetstream::Context,
}

impl Relay {
    /// A relay on a store and a NATS connection; creates the palm stream if it is missing.
    pub async fn new(
        store: Arc<dyn PalmFeedStore>,
        js: jetstream::Context,
    ) -> Result<Relay, GridError> {
        palm_stream(&js).await?;
        Ok(Relay { store, js })
    }

    /// Publishes one batch of the outbox; returns how many rows it published (0: caught up).
    pub async fn publish_batch(&self, now: i64) -> Result<usize, GridError> {
        let changes = self.store.unpublished_palm_changes(BATCH).await?;
        // Send the whole batch, then wait for every acknowledgement: one round trip per batch
        // rather than per palm.
        let mut acks = Vec::with_capacity(changes.len());
        for c in &changes {
            let body = serde_json::to_vec(&ChangeMessage::of(c))
                .map_err(|e| GridError::BadMessage(e.to_string()))?;
            let message = PublishMessage::build()
                .payload(body.into())
                .message_id(c.message_id());
            acks.push(
                self.js
                    .send_publish(shard_subject(c.shard), message)
                    .await
                    .map_err(GridError::nats)?,
            );
        }
        let mut published = Vec::with_capacity(changes.len());
        for (c, ack) in changes.iter().zip(acks) {
            ack.await.map_err(GridError::nats)?;
            published.push(c.seq);
        }
        self.store
            .mark_palm_changes_published(&published, now)
            .await?;
        Ok(published.len())
    }

    /// Publishes until the outbox is empty; returns how many rows it published.
    pub async fn catch_up(&self, now: i64) -> Result<usize, GridError> {
        let mut total = 0;
        loop {
            match self.publish_batch(now).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Runs until `stop` fires: catches up, then looks again every `interval`. Failures are
    /// logged and retried; nothing is marked published that the stream did not acknowledge.
    pub async fn run(
        self,
        interval: Duration,
        clock: impl Fn() -> i64,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            match self.catch_up(clock()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(changes = n, "palm changes published"),
                Err(e) => tracing::warn!(error = %e, "palm relay round failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
