//! The gateway's half of a search: scatter a sealed probe to every shard set, gather each set's
//! best people, merge, and decide under the open-set policy for the whole gallery's size.
//!
//! A set that does not answer in time is asked again (NATS hands the retry to a live replica of
//! the set's queue group). A set that still does not answer makes the search answer
//! [`GridOutcome::TryAgain`]: deciding on part of the gallery could name the best of the palms
//! that answered while the right person sat in the missing set, so it never decides.

use crate::matcher::{PROBE_CONTEXT, Ranked, SearchReply, SearchRequest};
use crate::{GridError, search_subject};
use base64::Engine as _;
use futures_util::future::join_all;
use palm_engine::Template;
use palm_index::{Candidate, Decision, Owner, PalmId, Policy, Search, Threshold};
use palm_service::palm_feed::PalmFeedStore;
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
        let sealed = self
            .probe_key
            .seal(&probe.to_bytes(), PROBE_CONTEXT)
            .map_err(|e| GridError::BadMessage(e.to_string()))?;
        let request = serde_json::to_vec(&SearchRequest {
            probe: base64::engine::general_purpose::STANDARD.encode(sealed),
            k: search.k.max(2),
            bucket: search.bucket,
        })
        .map_err(|e| GridError::BadMessage(e.to_string()))?;
        let answers = join_all(self.sets.iter().map(|set| self.ask(set, request.clone()))).await;
        let mut missing = Vec::new();
        let mut merged: Vec<Ranked> = Vec::new();
        let mut searched = 0;
        for (set, answer) in self.sets.iter().zip(answers) {
            match answer {
                Some((candidates, n)) => {
                    merged.extend(candidates);
                    searched += n;
                }
                None => missing.push(set.clone()),
            }
        }
        if !missing.is_empty() {
            return Ok(GridOutcome::TryAgain { missing });
        }
        Ok(decide(merged, searched, search, policy))
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

    /// One set's answer, asking up to `attempts` times; `None` when it never came.
    async fn ask(&self, set: &str, request: Vec<u8>) -> Option<(Vec<Ranked>, usize)> {
        for attempt in 1..=self.attempts {
            let asked = self
                .client
                .request(search_subject(set), request.clone().into());
            match tokio::time::timeout(self.set_timeout, asked).await {
                Ok(Ok(reply)) => match serde_json::from_slice::<SearchReply>(&reply.payload) {
                    Ok(SearchReply::Ranked {
                        candidates,
                        searched,
                    }) => return Some((candidates, searched)),
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

/// Merges the sets' rankings (a person whose palms sit in several sets counts once, by their
/// best palm) and decides for the whole gallery's size.
fn decide(
    mut merged: Vec<Ranked>,
    searched: usize,
    search: &Search,
    policy: &Policy,
) -> GridOutcome {
    merged.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.palm.cmp(&b.palm))
    });
    let mut seen = std::collections::HashSet::new();
    merged.retain(|r| seen.insert(r.person.clone()));
    // The index's decision rule, on the merged list: owners are positions in it (one per person).
    let candidates: Vec<Candidate> = merged
        .iter()
        .enumerate()
        .map(|(i, r)| Candidate {
            id: PalmId(r.palm as u64),
            owner: Owner(i as u64),
            similarity: r.similarity,
        })
        .collect();
    let decided = palm_index::decide(candidates, searched, search, policy);
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
