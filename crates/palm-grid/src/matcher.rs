//! A matcher process's work: an index of its shard set (kept by a [`Replica`]), answering
//! searches that arrive over NATS request/reply.
//!
//! Every replica of a set subscribes to the set's search subject in one queue group, so NATS
//! hands each search to one live replica; a replica that stops (or is killed) leaves the group
//! with its connection. Probes arrive sealed under the grid's probe key, never as plain
//! templates, and a reply names palms, their people and similarities: no template.

use crate::replica::{Holder, Replica};
use crate::{GridError, search_subject};
use async_nats::jetstream;
use base64::Engine as _;
use futures_util::StreamExt;
use palm_engine::Template;
use palm_index::placement::ShardSet;
use palm_index::{Gallery, PalmId, ProtectedPalm, Search};
use palm_service::palm_feed::{PalmFeedStore, PlacedPalm};
use palm_vault::DataKey;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Opens a stored palm into the protected form the index holds (with the deployment's keys).
pub type Opener = Box<dyn Fn(&PlacedPalm) -> Result<ProtectedPalm, String> + Send + Sync>;

/// The associated data a probe is sealed with, so a sealed probe cannot pass for anything else.
pub(crate) const PROBE_CONTEXT: &[u8] = b"palmline grid probe v1";

/// A search as it travels to a set.
#[derive(Serialize, Deserialize)]
pub(crate) struct SearchRequest {
    /// The probe template's bytes, sealed under the probe key, in base64.
    pub probe: String,
    pub k: usize,
    pub bucket: Option<u16>,
}

/// One person a set ranked: their best palm there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub palm: i64,
    pub person: String,
    pub similarity: f32,
}

/// A set's answer.
#[derive(Serialize, Deserialize)]
pub(crate) enum SearchReply {
    Ranked {
        candidates: Vec<Ranked>,
        searched: usize,
    },
    /// The request could not be served (a probe that does not open or fit the index).
    Refused(String),
}

/// Holds palms in an index, with each palm's person for the replies.
pub struct IndexHolder {
    gallery: Gallery,
    open: Opener,
    people: RwLock<HashMap<i64, palm_service::store::PersonId>>,
}

impl IndexHolder {
    pub fn new(gallery: Gallery, open: Opener) -> IndexHolder {
        IndexHolder {
            gallery,
            open,
            people: RwLock::new(HashMap::new()),
        }
    }

    /// The set's best `k` people for a probe, with how many palms were searched.
    pub fn rank(
        &self,
        probe: &Template,
        k: usize,
        bucket: Option<u16>,
    ) -> Result<(Vec<Ranked>, usize), GridError> {
        let search = Search {
            k,
            bucket,
            exhaustive: false,
        };
        let (candidates, searched) = self
            .gallery
            .rank(probe, &search)
            .map_err(|e| GridError::BadMessage(e.to_string()))?;
        let people = self.people.read().unwrap_or_else(|p| p.into_inner());
        let ranked = candidates
            .iter()
            .filter_map(|c| {
                let palm = c.id.0 as i64;
                people.get(&palm).map(|person| Ranked {
                    palm,
                    person: person.to_string(),
                    similarity: c.similarity,
                })
            })
            .collect();
        Ok((ranked, searched))
    }

    pub fn len(&self) -> usize {
        self.gallery.len()
    }

    pub fn is_empty(&self) -> bool {
        self.gallery.is_empty()
    }
}

impl Holder for IndexHolder {
    fn hold(&self, palm: &PlacedPalm) -> Result<(), GridError> {
        let protected = (self.open)(palm).map_err(GridError::BadMessage)?;
        let id = palm.owned.palm.id;
        let person = &palm.owned.palm.person_id;
        self.gallery.remove(PalmId(id as u64));
        let bucket = palm_service::domain::bucket_of(&palm.owned.phone_last4);
        self.gallery
            .insert_for(person.owner(), PalmId(id as u64), bucket, &protected)
            .map_err(|e| GridError::BadMessage(e.to_string()))?;
        self.people
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, person.clone());
        Ok(())
    }

    fn release(&self, palm_id: i64) {
        self.gallery.remove(PalmId(palm_id as u64));
        self.people
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&palm_id);
    }
}

/// A running matcher: its replica and the task answering searches.
pub struct Matcher {
    replica: Replica,
    index: Arc<IndexHolder>,
    responder: tokio::task::JoinHandle<()>,
}

impl Matcher {
    /// Loads and follows `shards`, then answers searches for set `set` (a name every replica of
    /// the set shares, such as `a`).
    pub async fn start(
        store: Arc<dyn PalmFeedStore>,
        client: async_nats::Client,
        set: &str,
        shards: ShardSet,
        index: IndexHolder,
        probe_key: Arc<DataKey>,
    ) -> Result<Matcher, GridError> {
        let index = Arc::new(index);
        let js = jetstream::new(client.clone());
        let replica = Replica::start(store, &js, shards, index.clone()).await?;
        let subject = search_subject(set);
        let mut searches = client
            .queue_subscribe(subject.clone(), subject)
            .await
            .map_err(GridError::nats)?;
        let answering = index.clone();
        let responder = tokio::spawn(async move {
            while let Some(message) = searches.next().await {
                let Some(reply_to) = message.reply.clone() else {
                    continue;
                };
                let (index, key) = (answering.clone(), probe_key.clone());
                // Matching is CPU work (the index fans out over cores itself).
                let reply =
                    tokio::task::spawn_blocking(move || answer(&index, &key, &message.payload))
                        .await
                        .unwrap_or_else(|e| SearchReply::Refused(format!("search failed: {e}")));
                let body = serde_json::to_vec(&reply).unwrap_or_default();
                if let Err(e) = client.publish(reply_to, body.into()).await {
                    tracing::warn!(error = %e, "search reply not sent");
                }
            }
        });
        Ok(Matcher {
            replica,
            index,
            responder,
        })
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Palms searchable here.
    pub fn palms(&self) -> usize {
        self.index.len()
    }

    /// Whether a palm is searchable here.
    pub fn holds(&self, palm_id: i64) -> bool {
        self.index
            .people
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&palm_id)
    }

    /// Stops answering and following (shutdown, or a test killing a replica).
    pub fn stop(self) {
        self.responder.abort();
        self.replica.stop();
    }
}

fn answer(index: &IndexHolder, key: &DataKey, payload: &[u8]) -> SearchReply {
    let request: SearchRequest = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => return SearchReply::Refused(format!("not a search request: {e}")),
    };
    let probe = base64::engine::general_purpose::STANDARD
        .decode(&request.probe)
        .ok()
        .and_then(|sealed| key.open(&sealed, PROBE_CONTEXT).ok())
        .and_then(|bytes| Template::from_bytes(&bytes).ok());
    let Some(probe) = probe else {
        return SearchReply::Refused("the probe does not open under this grid's key".into());
    };
    match index.rank(&probe, request.k.clamp(1, 100), request.bucket) {
        Ok((candidates, searched)) => SearchReply::Ranked {
            candidates,
            searched,
        },
        Err(e) => SearchReply::Refused(e.to_string()),
    }
}
