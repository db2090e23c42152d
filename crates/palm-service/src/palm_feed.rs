//! The palm change feed: how copies of the gallery outside this process (matcher processes of a
//! distributed deployment) learn of every enrolment, template renewal and deletion.
//!
//! The database is the only truth. Each palm row carries its virtual shard
//! (`palm_index::placement`), a version that every change raises, and a tombstone time once its
//! owner's deletion has started. Every change also writes one outbox row in the same transaction,
//! so a change is in the feed exactly when it is committed. A relay publishes the outbox in
//! order and marks rows published; a consumer applies a change only when its version is newer
//! than what it holds, so a change seen twice or late does no harm. On one machine (no relay)
//! the index is updated in-process and housekeeping simply prunes the outbox.

use crate::error::StoreError;
use crate::store::OwnedPalm;
use async_trait::async_trait;

type StoreResult<T> = Result<T, StoreError>;

/// What a change did to a palm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PalmOp {
    /// Enrolled, or its stored template replaced (a new transform generation).
    Upsert,
    /// Out of service: its owner's deletion has started (or finished).
    Delete,
}

impl PalmOp {
    pub fn as_str(self) -> &'static str {
        match self {
            PalmOp::Upsert => "upsert",
            PalmOp::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<PalmOp> {
        match s {
            "upsert" => Some(PalmOp::Upsert),
            "delete" => Some(PalmOp::Delete),
            _ => None,
        }
    }
}

/// One outbox row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PalmChange {
    /// The outbox's order of commit-time writes (gaps are normal).
    pub seq: i64,
    pub palm_id: i64,
    pub shard: u16,
    /// The palm's version after this change; consumers keep the highest they have seen.
    pub version: i64,
    pub op: PalmOp,
    pub created: i64,
}

impl PalmChange {
    /// The replication message id, `palm:version`: the same change published twice is one
    /// message to a stream that drops duplicates.
    pub fn message_id(&self) -> String {
        format!("{}:{}", self.palm_id, self.version)
    }
}

/// A live palm as a matcher loads it: the index's view plus where and how new it is.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedPalm {
    pub owned: OwnedPalm,
    pub shard: u16,
    pub version: i64,
}

#[async_trait]
pub trait PalmFeedStore: Send + Sync {
    /// Changes not yet published, in outbox order, at most `limit`.
    async fn unpublished_palm_changes(&self, limit: i64) -> StoreResult<Vec<PalmChange>>;
    /// Marks outbox rows published at `now`.
    async fn mark_palm_changes_published(&self, seqs: &[i64], now: i64) -> StoreResult<u64>;
    /// Forgets published outbox rows written before `before`, and unpublished ones too when
    /// `unpublished_too` (a deployment without a relay, where nobody will read them).
    async fn prune_palm_changes(&self, before: i64, unpublished_too: bool) -> StoreResult<u64>;
    /// Live palms (not tombstoned, owner not being deleted) of one virtual shard, by ascending
    /// id after `after`: how a matcher loads its part of the gallery, shard by shard.
    async fn placed_palms_page(
        &self,
        shard: u16,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<PlacedPalm>>;
    /// One live palm (as `placed_palms_page` would list it); `None` once tombstoned or erased.
    /// A consumer fetches an upserted palm here rather than carrying templates on the stream.
    async fn placed_palm(&self, palm_id: i64) -> StoreResult<Option<PlacedPalm>>;
}

/// The virtual shard of a stored palm id (ids are non-negative; see `signup::random_palm_id`).
pub fn shard_of(palm_id: i64) -> u16 {
    palm_index::placement::virtual_shard(palm_id as u64)
}

/// How long outbox rows are kept: long enough for a matcher that was down for a day to find
/// what it missed, short enough that the table stays small.
pub const PALM_FEED_KEEP_S: i64 = 86_400;

impl crate::Service {
    /// Forgets outbox rows older than [`PALM_FEED_KEEP_S`] (housekeeping). On one machine no
    /// relay reads the outbox (the in-process index is updated directly), so unpublished rows
    /// go too; where matcher processes search, a change the relay has not published yet stays
    /// (the relay may be down, and the change must still reach them).
    pub async fn prune_palm_feed(&self) -> crate::Result<u64> {
        Ok(self
            .store
            .prune_palm_changes(self.now_s() - PALM_FEED_KEEP_S, self.indexes_locally())
            .await?)
    }
}
