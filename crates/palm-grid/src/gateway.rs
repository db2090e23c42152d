//! The gateway's half of a search: scatter a sealed probe to every shard set, gather each set's
//! best people, merge, and decide under the open-set policy for the whole gallery's size.
//!
//! A set that does not answer in time is asked again (NATS hands the retry to a live replica of
//! the set's queue group). A set that still does not answer makes the search answer
//! [`GridOutcome::TryAgain`]: deciding on part of the gallery could name the best of the palms
//! that answered while the right person sat in the missing set, so it never decides.

use crate::matcher::{
    HOLDS_SUBJECT, HoldsReply, HoldsRequest, PROBE_CONTEXT, Ranked, SearchReply, SearchRequest,
};
use crate::{GridError, search_subject};
use base64::Engine as _;
use futures_util::StreamExt;
use futures_util::future::join_all;
use palm_engine::Template;
use palm_index::{Candidate, Decision, HOVER_CANDIDATES, PalmId, Policy, Search, Threshold};
use palm_service::ids::PersonId;
use palm_service::palm_feed::PalmFeedStore;
use palm_service::{RemoteGallery, RemoteRanking};
use palm_vault::DataKey;
use std::sync::Arc;
use std::time::Duration;

/// How the gateway reaches the sets.
#[derive(Clone)]
pub struct Gateway {
    client: async_nats::Client,
    sets: Vec<String>,
    probe_key: Arc<DataKey>,
    /// How long one set may take to answer one attempt.
    pub set_timeout: Duration,
    /// Attempts per set before the search gives up on it.
    pub attempts: usize,
}

/// Rankings merged over every set, or the sets that did not answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Merged {
    Ranked {
        /// One list per frame, each best first, one entry per person.
        lists: Vec<Vec<Ranked>>,
        /// Palms searched over all sets (what the open-set threshold is set for).
        searched: usize,
    },
    TryAgain {
        missing: Vec<String>,
    },
}

/// How far an erasure has reached the matchers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// Processes following the palm stream.
    pub matchers: usize,
    /// Those that answered.
    pub answered: usize,
    /// The asked palms still held, summed over those that answered.
    pub holding: usize,
}

impl Erasure {
    pub fn complete(&self) -> bool {
        self.answered >= self.matchers && self.holding == 0
    }
}

/// A merged search over every set.
#[derive(Clone, Debug, PartialEq)]
pub enum GridOutcome {
    Decided {
        /// The people ranked, best first, one entry per person.
        candidates: Vec<Ranked>,
        /// Palms searched over all sets (what the open-set threshold is set for).
        searched: usize,
        decision: GridDecision,
        threshold: Threshold,
    },
    /// Some sets did not answer: nothing is decided.
    TryAgain { missing: Vec<String> },
}

/// The decision, naming a person rather than an index entry.
#[derive(Clone, Debug, PartialEq)]
pub enum GridDecision {
    Match { palm: i64, person: String },
    NoMatch,
    Ambiguous,
    NeedsHint,
}

impl Gateway {
    pub fn new(client: async_nats::Client, sets: Vec<String>, probe_key: Arc<DataKey>) -> Gateway {
        Gateway {
            client,
            sets,
            probe_key,
            set_timeout: Duration::from_millis(500),
            attempts: 2,
        }
    }

    /// Searches every set for `probe` and decides under `policy`.
    pub async fn identify(
        &self,
        probe: &Template,
        search: &Search,
        policy: &Policy,
    ) -> Result<GridOutcome, GridError> {
        let search = Search {
            k: search.k.max(2),
            ..*search
        };
        Ok(
            match self
                .rank_hover(std::slice::from_ref(probe), &[], &search)
                .await?
            {
                Merged::Ranked {
                    mut lists,
                    searched,
                } => decide(lists.swap_remove(0), searched, &search, policy),
                Merged::TryAgain { missing } => GridOutcome::TryAgain { missing },
            },
        )
    }

    /// The whole gallery's rankings for a capture, exactly as one index holding every palm
    /// makes them (`palm_index::Gallery::rank_frames`, then `rank_more` for `second`): one frame
    /// gives its best `search.k` people. A hover takes two rounds: its best-quality frame
    /// searches every set for [`HOVER_CANDIDATES`] people, the sets' lists merge into the whole
    /// gallery's best, and then every set scores the other frames, and the other hand's, against
    /// those people's palms it holds (a person's palms may sit in several sets).
    pub async fn rank_hover(
        &self,
        frames: &[Template],
        second: &[Template],
        search: &Search,
    ) -> Result<Merged, GridError> {
        let Some((best, rest)) = palm_index::searcher_first(frames) else {
            return Ok(Merged::Ranked {
                lists: Vec::new(),
                searched: 0,
            });
        };
        let hover = !(rest.is_empty() && second.is_empty());
        let wide = Search {
            k: if hover {
                search.k.max(HOVER_CANDIDATES)
            } else {
                search.k
            },
            ..*search
        };
        let (mut lists, searched) = match self.scatter(&[best], &wide, None).await? {
            Merged::Ranked { lists, searched } => (lists, searched),
            missing => return Ok(missing),
        };
        // Each set ranked its own best people; the best over all sets are among them.
        for list in &mut lists {
            list.truncate(wide.k);
        }
        if !hover {
            return Ok(Merged::Ranked { lists, searched });
        }
        let people: Vec<String> = lists[0].iter().map(|r| r.person.clone()).collect();
        // In the order one index scores them: the other hand's best-quality frame first too.
        let other = palm_index::searcher_first(second)
            .map(|(best, rest)| std::iter::once(best).chain(rest).collect::<Vec<_>>())
            .unwrap_or_default();
        let scored: Vec<&Template> = rest.into_iter().chain(other).collect();
        match self.scatter(&scored, search, Some(people)).await? {
            Merged::Ranked { lists: more, .. } => lists.extend(more),
            missing => return Ok(missing),
        }
        Ok(Merged::Ranked { lists, searched })
    }

    /// One round: every set ranks `frames` (or scores them against `people`), and the sets'
    /// lists are merged frame by frame.
    async fn scatter(
        &self,
        frames: &[&Template],
        search: &Search,
        people: Option<Vec<String>>,
    ) -> Result<Merged, GridError> {
        let sealed = frames
            .iter()
            .map(|f| {
                self.probe_key
                    .seal(&f.to_bytes(), PROBE_CONTEXT)
                    .map(|s| base64::engine::general_purpose::STANDARD.encode(s))
                    .map_err(|e| GridError::BadMessage(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let request = serde_json::to_vec(&SearchRequest {
            frames: sealed,
            k: search.k,
            bucket: search.bucket,
            exhaustive: search.exhaustive,
            people,
        })
        .map_err(|e| GridError::BadMessage(e.to_string()))?;
        let answers = join_all(self.sets.iter().map(|set| self.ask(set, request.clone()))).await;
        let mut missing = Vec::new();
        let mut lists: Vec<Vec<Ranked>> = vec![Vec::new(); frames.len()];
        let mut searched = 0;
        for (set, answer) in self.sets.iter().zip(answers) {
            match answer {
                Some((answered, n)) if answered.len() == frames.len() => {
                    for (list, more) in lists.iter_mut().zip(answered) {
                        list.extend(more);
                    }
                    searched += n;
                }
                Some(_) => {
                    tracing::error!(set, "a shard set answered for another number of frames");
                    missing.push(set.clone());
                }
                None => missing.push(set.clone()),
            }
        }
        if !missing.is_empty() {
            return Ok(Merged::TryAgain { missing });
        }
        for list in &mut lists {
            best_per_person(list);
        }
        Ok(Merged::Ranked { lists, searched })
    }

    /// [`Gateway::identify`], then the winner re-checked in the database before anything is
    /// done in their name: a palm tombstoned (its owner's deletion has started) or erased since
    /// the matchers last heard is no match at once, whatever the matchers still hold. That makes
    /// a deletion effective at its commit, not when the stream has reached every matcher.
    pub async fn identify_checked(
        &self,
        probe: &Template,
        search: &Search,
        policy: &Policy,
        store: &dyn PalmFeedStore,
    ) -> Result<GridOutcome, GridError> {
        let mut outcome = self.identify(probe, search, policy).await?;
        if let GridOutcome::Decided { decision, .. } = &mut outcome
            && let GridDecision::Match { palm, .. } = decision
            && store.placed_palm(*palm).await?.is_none()
        {
            tracing::info!(palm = *palm, "a matched palm is no longer live: no match");
            *decision = GridDecision::NoMatch;
        }
        Ok(outcome)
    }

    /// Whether an erasure has reached every matcher: each process following the palm stream
    /// (one stream consumer each) says, within `set_timeout`, how many of `palms` it still
    /// holds. Complete only when as many answered as follow the stream and none holds any; a
    /// matcher that is starting, slow or gone leaves it incomplete (ask again later).
    pub async fn erased(&self, palms: &[i64]) -> Result<Erasure, GridError> {
        let js = async_nats::jetstream::new(self.client.clone());
        use async_nats::jetstream::{ErrorCode, context::GetStreamErrorKind};
        let matchers = match js.get_stream(crate::STREAM).await {
            Ok(mut stream) => {
                stream
                    .info()
                    .await
                    .map_err(GridError::nats)?
                    .state
                    .consumer_count
            }
            Err(e) => match e.kind() {
                // No stream yet: nothing was ever replicated, so nothing is held.
                GetStreamErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    0
                }
                _ => return Err(GridError::nats(e)),
            },
        };
        let mut erasure = Erasure {
            matchers,
            answered: 0,
            holding: 0,
        };
        if matchers == 0 {
            return Ok(erasure);
        }
        let inbox = self.client.new_inbox();
        let mut answers = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(GridError::nats)?;
        let question = serde_json::to_vec(&HoldsRequest {
            palms: palms.to_vec(),
        })
        .map_err(|e| GridError::BadMessage(e.to_string()))?;
        self.client
            .publish_with_reply(HOLDS_SUBJECT, inbox, question.into())
            .await
            .map_err(GridError::nats)?;
        let deadline = tokio::time::Instant::now() + self.set_timeout;
        while erasure.answered < matchers {
            let Ok(Some(answer)) = tokio::time::timeout_at(deadline, answers.next()).await else {
                break;
            };
            match serde_json::from_slice::<HoldsReply>(&answer.payload) {
                Ok(reply) => {
                    erasure.answered += 1;
                    erasure.holding += reply.held;
                }
                Err(e) => tracing::warn!(error = %e, "unreadable erasure answer"),
            }
        }
        Ok(erasure)
    }

    /// One set's answer, asking up to `attempts` times; `None` when it never came.
    async fn ask(&self, set: &str, request: Vec<u8>) -> Option<(Vec<Vec<Ranked>>, usize)> {
        for attempt in 1..=self.attempts {
            let asked = self
                .client
                .request(search_subject(set), request.clone().into());
            match tokio::time::timeout(self.set_timeout, asked).await {
                Ok(Ok(reply)) => match serde_json::from_slice::<SearchReply>(&reply.payload) {
                    Ok(SearchReply::Ranked { lists, searched }) => return Some((lists, searched)),
                    Ok(SearchReply::Refused(why)) => {
                        tracing::error!(set, why, "a shard set refused a search");
                        return None;
                    }
                    Err(e) => tracing::warn!(set, error = %e, attempt, "unreadable search reply"),
                },
                Ok(Err(e)) => tracing::warn!(set, error = %e, attempt, "shard set not reached"),
                Err(_) => tracing::warn!(set, attempt, "shard set did not answer in time"),
            }
        }
        None
    }
}

/// Sorts a merged list best first and keeps each person's best palm (a person whose palms sit
/// in several sets counts once).
fn best_per_person(list: &mut Vec<Ranked>) {
    list.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.palm.cmp(&b.palm))
    });
    let mut seen = std::collections::HashSet::new();
    list.retain(|r| seen.insert(r.person.clone()));
}

/// A merged list as the index's candidates: owners as the service's own index computes them.
fn candidates(list: &[Ranked]) -> Vec<Candidate> {
    list.iter()
        .map(|r| Candidate {
            id: PalmId(r.palm as u64),
            owner: PersonId::from(r.person.clone()).owner(),
            similarity: r.similarity,
        })
        .collect()
}

/// Decides one frame's merged ranking for the whole gallery's size.
fn decide(
    mut merged: Vec<Ranked>,
    searched: usize,
    search: &Search,
    policy: &Policy,
) -> GridOutcome {
    let decided = palm_index::decide(candidates(&merged), searched, search, policy);
    let decision = match decided.decision {
        // The decision names the merged list's best palm, so the lookup always finds it.
        Decision::Match(palm) => match merged.iter().find(|r| r.palm as u64 == palm.0) {
            Some(r) => GridDecision::Match {
                palm: r.palm,
                person: r.person.clone(),
            },
            None => GridDecision::NoMatch,
        },
        Decision::NoMatch => GridDecision::NoMatch,
        Decision::Ambiguous => GridDecision::Ambiguous,
        Decision::NeedsHint => GridDecision::NeedsHint,
    };
    merged.truncate(search.k);
    GridOutcome::Decided {
        candidates: merged,
        searched,
        decision,
        threshold: decided.threshold,
    }
}

/// The service searches through the gateway in the distributed mode; it decides itself.
#[async_trait::async_trait]
impl RemoteGallery for Gateway {
    async fn rank_hover(
        &self,
        frames: &[Template],
        second: &[Template],
        search: &Search,
    ) -> Result<RemoteRanking, String> {
        match Gateway::rank_hover(self, frames, second, search).await {
            Ok(Merged::Ranked { lists, searched }) => Ok(RemoteRanking::Ranked(
                lists.iter().map(|l| (candidates(l), searched)).collect(),
            )),
            Ok(Merged::TryAgain { missing }) => Ok(RemoteRanking::Incomplete { missing }),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn erased(&self, palms: &[i64]) -> Result<bool, String> {
        Gateway::erased(self, palms)
            .await
            .map(|e| e.complete())
            .map_err(|e| e.to_string())
    }
}
