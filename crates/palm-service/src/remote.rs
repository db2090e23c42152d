//! Where a capture is ranked: in this process's index (one machine, the default), or by a
//! gallery split over other processes (matcher processes reached through `palm-grid`'s
//! gateway) that this crate knows only through [`RemoteGallery`].
//!
//! The key design decision: both hand the service the same thing, the ranking lists of
//! [`Gallery::rank_frames`] and [`Gallery::rank_more`], and the service decides on them itself
//! (`palm_index::decide`, `fuse_ranked`) under its policy. So the open-set rule, the fused
//! calibrations and the serial two-hand decision are one piece of code whichever gallery ranked,
//! and the winner is then checked in the database as always (a palm deleted since the copies
//! last heard is no one).

use crate::Service;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::PersonId;
use async_trait::async_trait;
use palm_engine::Template;
use palm_index::{Candidate, Decision, Gallery, IndexError, PalmId, Policy, ProtectedPalm, Search};

/// Each frame's people, best first, one entry per person (their best palm), with the palms
/// the search covered.
pub type Ranking = Vec<(Vec<Candidate>, usize)>;

/// What a remote gallery made of a search.
#[derive(Debug)]
pub enum RemoteRanking {
    /// The whole gallery answered.
    Ranked(Ranking),
    /// Parts of the gallery (named) did not answer: nothing may be decided, since the person
    /// could sit in a missing part while the best of the rest is someone else.
    Incomplete { missing: Vec<String> },
}

/// A gallery held by other processes.
#[async_trait]
pub trait RemoteGallery: Send + Sync {
    /// Ranks as [`rank_locally`] does on one index: one frame without `second` gives one list of
    /// `search.k` people; a hover gives one list per frame (the best-quality frame's search
    /// first), then one per frame of `second`, the other hand, scored against the people the
    /// first frame's search ranked. Owners must be [`crate::ids::PersonId::owner`] of each
    /// palm's person, as this process computes it. The error is for the log only.
    async fn rank_hover(
        &self,
        frames: &[Template],
        second: &[Template],
        search: &Search,
    ) -> std::result::Result<RemoteRanking, String>;

    /// Whether every copy of the gallery has dropped `palms` (an erasure has reached them
    /// all); false while any copy still holds one or has not answered.
    async fn erased(&self, palms: &[i64]) -> std::result::Result<bool, String>;
}

/// The ranking lists of a capture on this process's index.
pub(crate) fn rank_locally(
    gallery: &Gallery,
    frames: &[Template],
    second: &[Template],
    search: &Search,
) -> std::result::Result<Ranking, IndexError> {
    match frames {
        [one] if second.is_empty() => Ok(vec![gallery.rank(one, search)?]),
        _ => {
            let mut ranked = gallery.rank_frames(frames, search)?;
            gallery.rank_more(&mut ranked, second, search)?;
            Ok(ranked)
        }
    }
}

/// The open-set decision on a ranking: one frame's list decided as it stands, several frames'
/// (and a second hand's) fused first, under the policy calibrated for that fusion.
pub(crate) fn decide_ranked(ranked: &Ranking, search: &Search, policy: &Policy) -> Decision {
    match ranked.as_slice() {
        [(candidates, searched)] => {
            palm_index::decide(candidates.clone(), *searched, search, policy).decision
        }
        _ => palm_index::fuse_ranked(ranked, search, policy).decision,
    }
}

impl Service {
    /// Whether palms are searched in this process (else they are searched by a remote
    /// gallery that follows the database's palm feed, and this process indexes nothing).
    pub fn indexes_locally(&self) -> bool {
        self.remote.is_none()
    }

    /// A capture's ranking from the remote gallery (only called when there is one).
    pub(crate) async fn rank_remotely(
        &self,
        frames: &[Template],
        second: &[Template],
        search: &Search,
    ) -> Result<Ranking> {
        let remote = self
            .remote
            .as_ref()
            .ok_or_else(|| ServiceError::internal("no remote gallery is configured"))?;
        match remote.rank_hover(frames, second, search).await {
            Ok(RemoteRanking::Ranked(ranked)) => Ok(ranked),
            Ok(RemoteRanking::Incomplete { missing }) => {
                tracing::warn!(
                    ?missing,
                    "parts of the gallery did not answer: nothing decided"
                );
                Err(ServiceError::new(
                    ErrorKind::Busy,
                    "try_again",
                    "part of the palm gallery did not answer in time; scan again in a moment",
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "the remote gallery refused a search");
                Err(ServiceError::internal(
                    "the palm gallery could not be searched",
                ))
            }
        }
    }

    /// One template's best people over the whole gallery, wherever it is (the duplicate check
    /// of a sign-up).
    pub(crate) async fn rank_one(
        &self,
        template: &Template,
        search: &Search,
    ) -> Result<(Vec<Candidate>, usize)> {
        if self.indexes_locally() {
            return self.gallery.rank(template, search).map_err(|e| {
                tracing::error!(error = %e, "index refused a template");
                ServiceError::internal("the index refused the template")
            });
        }
        let ranked = self
            .rank_remotely(std::slice::from_ref(template), &[], search)
            .await?;
        ranked
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::internal("the palm gallery answered without a ranking"))
    }

    /// Adds a stored palm to this process's index, when palms are searched here (matcher
    /// processes hear of it from the palm feed otherwise). A palm that cannot be indexed stays
    /// stored; the index is rebuilt from the store at the next start.
    pub(crate) fn index_stored_palm(
        &self,
        person: &PersonId,
        palm: i64,
        bucket: Option<u16>,
        protected: &ProtectedPalm,
    ) {
        if !self.indexes_locally() {
            return;
        }
        if let Err(e) =
            self.gallery
                .insert_for(person.owner(), PalmId(palm as u64), bucket, protected)
        {
            tracing::error!(error = %e, "a stored palm was not indexed");
        }
    }

    /// Waits (up to [`ERASURE_WAIT`]) until every copy of the gallery has dropped `palms`:
    /// true at once on one machine, where the palms left this process's index with the
    /// deletion. False when some matcher still holds one or did not answer in time; the palms
    /// match no one whatever (a match is looked up in the database), and matchers drop them as
    /// the stream reaches them.
    pub(crate) async fn erased_everywhere(&self, palms: &[i64]) -> bool {
        let Some(remote) = &self.remote else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + ERASURE_WAIT;
        loop {
            match remote.erased(palms).await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not ask the matchers about an erasure"),
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    palms = palms.len(),
                    "an erasure has not reached every matcher yet"
                );
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// How long a confirmed deletion waits for the matchers to drop the person's palms before it
/// answers (the relay publishes every 100 ms by default; a matcher applies a change in a few).
pub const ERASURE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
