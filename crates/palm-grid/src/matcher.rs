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

/// The subject every matcher answers "how many of these palms do you hold?" on, with no queue
/// group (every replica answers), so a gateway can tell when an erasure has reached them all.
pub const HOLDS_SUBJECT: &str = "palmline.holds";

/// The palms an erasure asks about.
#[derive(Serialize, Deserialize)]
pub(crate) struct HoldsRequest {
    pub palms: Vec<i64>,
}

/// How many of them a matcher still holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct HoldsReply {
    pub held: usize,
}

/// The most palms one erasure question may name (a person has a few).
const MAX_ASKED_PALMS: usize = 64;

/// The most frames one search may carry (a hover of each hand is six).
const MAX_FRAMES: usize = 8;

/// A search as it travels to a set.
#[derive(Serialize, Deserialize)]
pub(crate) struct SearchRequest {
    /// The probe templates' bytes (one frame, or the frames of one hover), each sealed under
    /// the probe key, in base64.
    pub frames: Vec<String>,
    pub k: usize,
    pub bucket: Option<u16>,
    /// Compare with every palm rather than the coarse stage's shortlist (benchmarks' reference).
    #[serde(default)]
    pub exhaustive: bool,
    /// Score the frames against these people's palms instead of searching: the other hand of a
    /// hover, after the first hand's rankings were merged at the gateway.
    pub people: Option<Vec<String>>,
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
    /// One list per frame of the request, in its order, with the palms the set searched.
    Ranked {
        lists: Vec<Vec<Ranked>>,
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

    /// The set's rankings for a search: one frame's best `search.k` people, or, with `people`,
    /// each frame's scores against those people's palms held here (the gateway merged the
    /// sets' first rankings into them). With the palms searched.
    pub fn rank(
        &self,
        frames: &[Template],
        search: &Search,
        people: Option<&[String]>,
    ) -> Result<(Vec<Vec<Ranked>>, usize), GridError> {
        let refused = |e: palm_index::IndexError| GridError::BadMessage(e.to_string());
        let (lists, searched) = match (frames, people) {
            (_, Some(people)) => {
                let owners: Vec<palm_index::Owner> = people
                    .iter()
                    .map(|p| palm_service::ids::PersonId::from(p.clone()).owner())
                    .collect();
                let lists = self
                    .gallery
                    .score_owners_each(frames, &owners, search)
                    .map_err(refused)?;
                (lists, self.gallery.len())
            }
            ([one], None) => {
                let (list, searched) = self.gallery.rank(one, search).map_err(refused)?;
                (vec![list], searched)
            }
            (_, None) => {
                return Err(GridError::BadMessage(
                    "a search ranks one frame; more are scored against people".into(),
                ));
            }
        };
        let people = self.people.read().unwrap_or_else(|p| p.into_inner());
        let named = |list: Vec<palm_index::Candidate>| {
            list.iter()
                .filter_map(|c| {
                    let palm = c.id.0 as i64;
                    people.get(&palm).map(|person| Ranked {
                        palm,
                        person: person.to_string(),
                        similarity: c.similarity,
                    })
                })
                .collect()
        };
        Ok((lists.into_iter().map(named).collect(), searched))
    }

    pub fn len(&self) -> usize {
        self.gallery.len()
    }

    /// How many of `palms` are searchable here.
    pub fn held(&self, palms: &[i64]) -> usize {
        let people = self.people.read().unwrap_or_else(|p| p.into_inner());
        palms.iter().filter(|p| people.contains_key(p)).count()
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
    holds_responder: tokio::task::JoinHandle<()>,
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
        let holds_responder = answer_holds(&client, index.clone()).await?;
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
            holds_responder,
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
        self.index.held(&[palm_id]) > 0
    }

    /// Stops answering and following (shutdown, or a test killing a replica).
    pub fn stop(self) {
        self.responder.abort();
        self.holds_responder.abort();
        self.replica.stop();
    }
}

/// Answers every erasure question (how many of these palms are held here) for this matcher.
async fn answer_holds(
    client: &async_nats::Client,
    index: Arc<IndexHolder>,
) -> Result<tokio::task::JoinHandle<()>, GridError> {
    let mut questions = client
        .subscribe(HOLDS_SUBJECT)
        .await
        .map_err(GridError::nats)?;
    let client = client.clone();
    Ok(tokio::spawn(async move {
        while let Some(message) = questions.next().await {
            let Some(reply_to) = message.reply.clone() else {
                continue;
            };
            let held = match serde_json::from_slice::<HoldsRequest>(&message.payload) {
                Ok(r) if r.palms.len() <= MAX_ASKED_PALMS => index.held(&r.palms),
                _ => {
                    tracing::warn!("an erasure question that is not one: not answered");
                    continue;
                }
            };
            let body = serde_json::to_vec(&HoldsReply { held }).unwrap_or_default();
            if let Err(e) = client.publish(reply_to, body.into()).await {
                tracing::warn!(error = %e, "erasure answer not sent");
            }
        }
    }))
}

fn answer(index: &IndexHolder, key: &DataKey, payload: &[u8]) -> SearchReply {
    let request: SearchRequest = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => return SearchReply::Refused(format!("not a search request: {e}")),
    };
    if request.frames.is_empty() || request.frames.len() > MAX_FRAMES {
        return SearchReply::Refused(format!(
            "a search carries 1 to {MAX_FRAMES} frames, not {}",
            request.frames.len()
        ));
    }
    let open = |sealed: &String| {
        base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()
            .and_then(|sealed| key.open(&sealed, PROBE_CONTEXT).ok())
            .and_then(|bytes| Template::from_bytes(&bytes).ok())
    };
    let Some(frames) = request.frames.iter().map(open).collect::<Option<Vec<_>>>() else {
        return SearchReply::Refused("a probe does not open under this grid's key".into());
    };
    let search = Search {
        k: request.k.clamp(1, 100),
        bucket: request.bucket,
        exhaustive: request.exhaustive,
    };
    match index.rank(&frames, &search, request.people.as_deref()) {
        Ok((lists, searched)) => SearchReply::Ranked { lists, searched },
        Err(e) => SearchReply::Refused(e.to_string()),
    }
}
