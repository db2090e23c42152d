//! The gallery past one machine: palms replicated from the database to matcher processes over
//! NATS JetStream.
//!
//! The key design decision: the database stays the only truth and the stream only says *that*
//! a palm changed (its id, virtual shard, version, upsert or delete), never what its template
//! is. A [`relay`] publishes the database's palm outbox (`palm_service::palm_feed`) to one
//! stream, one subject per virtual shard, with the message id `palm:version` so a change
//! published twice is stored once. A [`replica`] (the copy a matcher process holds) records the
//! stream's position first, loads its shards from the database, then replays the stream from
//! that position; each change is applied only when its version is newer than the one held, and
//! an upsert's palm is read back from the database, so replaying, re-delivering or reordering
//! changes of one palm cannot leave a stale or deleted palm behind.
//!
//! Searches go the other way ([`gateway`], [`matcher`]): the gateway sends a sealed probe to
//! every shard set over NATS request/reply, one replica of each set answers with its best
//! people, and the gateway merges them and decides for the whole gallery's size.
//!
//! Nothing here is needed on one machine: `palmline serve` keeps its in-process index.

pub mod gateway;
pub mod local;
pub mod matcher;
pub mod relay;
pub mod replica;

use async_nats::jetstream;
use palm_service::palm_feed::{PalmChange, PalmOp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The JetStream stream that carries palm changes.
pub const STREAM: &str = "PALMS";

/// How long the stream keeps a change: a replica that was away longer reloads from the
/// database instead of replaying (the outbox keeps a day as well).
pub const STREAM_KEEP: Duration = Duration::from_secs(86_400);

/// How long the stream remembers message ids to drop a republished change.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// The subject of a virtual shard's changes.
pub fn shard_subject(shard: u16) -> String {
    format!("palms.{shard}")
}

/// Checks a shard set's name: it becomes a token of a NATS subject, so letters, digits, `-`
/// and `_` only (a `.` or `*` would widen the subject to other sets).
pub fn check_set_name(set: &str) -> Result<(), GridError> {
    let fits = !set.is_empty()
        && set.len() <= 64
        && set
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(GridError::BadSetName(set.to_string()))
    }
}

/// The subject a shard set's replicas answer searches on (and their queue group).
pub fn search_subject(set: &str) -> String {
    format!("palmline.search.{set}")
}

/// What goes wrong talking to NATS or the database.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("database: {0}")]
    Store(#[from] palm_service::StoreError),
    #[error("{0:?} is not a shard set's name: 1 to 64 letters, digits, - or _")]
    BadSetName(String),
    #[error("a message on the palm stream is not a palm change: {0}")]
    BadMessage(String),
}

impl GridError {
    fn nats(e: impl std::fmt::Display) -> GridError {
        GridError::Nats(e.to_string())
    }
}

/// A palm change as it travels on the stream: ids and versions only, no template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMessage {
    pub palm: i64,
    pub shard: u16,
    pub version: i64,
    pub op: String,
}

impl ChangeMessage {
    pub fn of(c: &PalmChange) -> ChangeMessage {
        ChangeMessage {
            palm: c.palm_id,
            shard: c.shard,
            version: c.version,
            op: c.op.as_str().to_string(),
        }
    }

    pub fn op(&self) -> Result<PalmOp, GridError> {
        PalmOp::parse(&self.op).ok_or_else(|| GridError::BadMessage(format!("op {:?}", self.op)))
    }
}

/// Connects to a NATS server (`nats://host:port`).
pub async fn connect_client(url: &str) -> Result<async_nats::Client, GridError> {
    async_nats::ConnectOptions::new()
        .name("palmline")
        .connect(url)
        .await
        .map_err(GridError::nats)
}

/// Connects to a NATS server's JetStream.
pub async fn connect(url: &str) -> Result<jetstream::Context, GridError> {
    Ok(jetstream::new(connect_client(url).await?))
}

/// The palm stream, created on first use: file storage, one subject per virtual shard.
pub async fn palm_stream(js: &jetstream::Context) -> Result<jetstream::stream::Stream, GridError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: STREAM.to_string(),
        subjects: vec!["palms.>".to_string()],
        max_age: STREAM_KEEP,
        duplicate_window: DUPLICATE_WINDOW,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(GridError::nats)
}
