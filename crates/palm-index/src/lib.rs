//! 1:N identification: a gallery of enrolled palm templates keyed by opaque ids, searched for the
//! person a probe belongs to, with an open-set decision that accounts for gallery size.
//!
//! The key design decision: two stages. A 56-byte coarse code per palm (majority bits of
//! overlapping blocks, see [`coarse`]) is scanned for every palm in a few nanoseconds each and proposes a
//! shortlist; the engine's full matcher re-ranks only that shortlist. Exhaustive search with the
//! full matcher is kept as the reference the fast path is measured against.
//!
//! Templates are held only in protected form (`palm_engine::protect`): the gallery owns the
//! deployment's transform, stores what [`Gallery::protect`] made, and transforms each probe before
//! searching; its coarse codes go through a keyed layout of their own ([`coarse::Layout`]).
//! Scores are exactly those of plain templates.
//!
//! Concurrency: the gallery is split into shards, each behind its own read-write lock, so inserts
//! and removals lock one shard while searches read the others; searches scan shards in parallel.
//! Like the engine, the index does no I/O except [`Gallery::save`] and [`Gallery::load`].

pub mod coarse;
mod persist;
pub mod placement;
pub mod policy;
mod protected;

pub use policy::{
    Calibration, FUSED_CALIBRATIONS, Policy, SHIPPED_CALIBRATION, Serial, TWO_BAND_CALIBRATION,
    Threshold,
};
pub use protected::ProtectedPalm;

use coarse::CoarseCode;
use palm_engine::protect::{self, ProtectedProbe, ProtectedRows, Transform};
use palm_engine::{Params, Template};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::RwLock;

/// An enrolled palm's opaque identifier (the service maps it to a person).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PalmId(pub u64);

/// Whose palm it is (the service's person). A search ranks owners, not palms: an owner's best
/// palm stands for them and their other palms never compete with it, so a person enrolled with
/// two templates of one hand (a phone photo and a till capture) is not an ambiguity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(pub u64);

/// A narrowing hint's bucket (for example from the last digits of a phone number).
pub type Bucket = u16;
const NO_BUCKET: Bucket = Bucket::MAX;

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum IndexError {
    #[error("palm {0:?} is already enrolled")]
    DuplicateId(PalmId),
    #[error(
        "template made with other engine parameters (fingerprint {found:08x}, gallery {expected:08x})"
    )]
    WrongEngine { found: u32, expected: u32 },
    #[error("template protected under transform {found}; this gallery uses transform {expected}")]
    OtherTransform { found: u32, expected: u32 },
    #[error("template has {0} orientation planes; the index needs 6")]
    WrongShape(usize),
    #[error("bucket {0} is reserved")]
    ReservedBucket(Bucket),
    #[error("gallery file: {0}")]
    File(String),
    #[error("calibration: {0}")]
    Calibration(String),
}

#[derive(Clone, Copy, Debug)]
pub struct IndexConfig {
    /// Shards (locks) the gallery is split into.
    pub shards: usize,
    /// How many coarse candidates the full matcher re-ranks.
    pub shortlist: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            shards: 64,
            shortlist: 300,
        }
    }
}

/// People a hover's searching frame ranks for its other frames (and a second hand's) to score.
pub const HOVER_CANDIDATES: usize = 20;

/// One ranked candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub id: PalmId,
    pub owner: Owner,
    pub similarity: f32,
}

/// What a search concludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Match(PalmId),
    NoMatch,
    /// The two best people are too close to tell apart: decide nothing.
    Ambiguous,
    /// The gallery is too large for the false-match target at an acceptable miss rate: search
    /// again with a narrowing hint (a bucket).
    NeedsHint,
}

#[derive(Clone, Debug)]
pub struct Identification {
    pub candidates: Vec<Candidate>,
    pub decision: Decision,
    /// Palms the search covered (the whole gallery, or the hinted bucket).
    pub searched: usize,
    pub threshold: Threshold,
}

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub k: usize,
    pub bucket: Option<Bucket>,
    /// Exhaustive full matching instead of the coarse shortlist (the reference; slow).
    pub exhaustive: bool,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            k: 5,
            bucket: None,
            exhaustive: false,
        }
    }
}

#[derive(Default)]
struct Shard {
    ids: Vec<PalmId>,
    owners: Vec<Owner>,
    buckets: Vec<Bucket>,
    coarse: Vec<CoarseCode>,
    rows: Vec<ProtectedRows>,
    slot: HashMap<PalmId, usize>,
}

impl Shard {
    fn push(
        &mut self,
        id: PalmId,
        owner: Owner,
        bucket: Bucket,
        coarse: CoarseCode,
        rows: ProtectedRows,
    ) {
        self.slot.insert(id, self.ids.len());
        self.ids.push(id);
        self.owners.push(owner);
        self.buckets.push(bucket);
        self.coarse.push(coarse);
        self.rows.push(rows);
    }

    fn remove(&mut self, id: PalmId) -> bool {
        let Some(i) = self.slot.remove(&id) else {
            return false;
        };
        self.ids.swap_remove(i);
        self.owners.swap_remove(i);
        self.buckets.swap_remove(i);
        self.coarse.swap_remove(i);
        self.rows.swap_remove(i);
        if i < self.ids.len() {
            self.slot.insert(self.ids[i], i);
        }
        true
    }
}

/// The searchable set of enrolled palms.
pub struct Gallery {
    fingerprint: u32,
    params: Params,
    transform: Transform,
    layout: coarse::Layout,
    config: IndexConfig,
    shards: Vec<RwLock<Shard>>,
}

impl Gallery {
    /// An empty gallery for templates of an engine with `params`, protected under `transform`.
    pub fn new(params: &Params, config: IndexConfig, transform: Transform) -> Gallery {
        Gallery {
            fingerprint: params.fingerprint(),
            params: params.clone(),
            layout: coarse::Layout::new(&transform),
            transform,
            shards: (0..config.shards.max(1))
                .map(|_| RwLock::new(Shard::default()))
                .collect(),
            config,
        }
    }

    pub fn fingerprint(&self) -> u32 {
        self.fingerprint
    }

    /// The transform this gallery's templates are protected under (the service undoes it to
    /// renew templates or to re-protect them for a gate's allow-list).
    pub fn transform(&self) -> &Transform {
        &self.transform
    }

    /// The generation of the transform this gallery's templates are protected under.
    pub fn transform_id(&self) -> u32 {
        self.transform.id()
    }

    /// The stored form of a template for this gallery: what [`Gallery::insert`] takes and what a
    /// service keeps in its database.
    pub fn protect(&self, t: &Template) -> Result<ProtectedPalm, IndexError> {
        self.check(t)?;
        let template = self
            .transform
            .protect(t)
            .map_err(|_| IndexError::WrongShape(t.planes.len()))?;
        let code = self
            .layout
            .apply(&coarse::encode(&t.mask, &t.planes, (0, 0)));
        Ok(ProtectedPalm {
            template,
            coarse: code,
        })
    }

    fn shard_of(&self, id: PalmId) -> &RwLock<Shard> {
        // Fibonacci hashing spreads sequential ids evenly over the shards.
        let h = id.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(h >> 32) as usize % self.shards.len()]
    }

    fn check(&self, t: &Template) -> Result<(), IndexError> {
        if t.fingerprint != self.fingerprint {
            return Err(IndexError::WrongEngine {
                found: t.fingerprint,
                expected: self.fingerprint,
            });
        }
        if t.planes.len() != coarse::TEMPLATE_PLANES {
            return Err(IndexError::WrongShape(t.planes.len()));
        }
        Ok(())
    }

    /// Enrols a palm made by [`Gallery::protect`] (now or in an earlier run under the same
    /// transform), optionally into a narrowing bucket, as its own owner.
    pub fn insert(
        &self,
        id: PalmId,
        bucket: Option<Bucket>,
        palm: &ProtectedPalm,
    ) -> Result<(), IndexError> {
        self.insert_for(Owner(id.0), id, bucket, palm)
    }

    /// [`Gallery::insert`] for a palm of `owner`, who may have other palms in the gallery.
    pub fn insert_for(
        &self,
        owner: Owner,
        id: PalmId,
        bucket: Option<Bucket>,
        palm: &ProtectedPalm,
    ) -> Result<(), IndexError> {
        let t = &palm.template;
        if t.fingerprint != self.fingerprint {
            return Err(IndexError::WrongEngine {
                found: t.fingerprint,
                expected: self.fingerprint,
            });
        }
        if t.transform != self.transform.id() {
            return Err(IndexError::OtherTransform {
                found: t.transform,
                expected: self.transform.id(),
            });
        }
        if bucket == Some(NO_BUCKET) {
            return Err(IndexError::ReservedBucket(NO_BUCKET));
        }
        let (code, rows) = (palm.coarse, t.rows);
        let mut shard = self.shard_of(id).write().unwrap_or_else(|e| e.into_inner());
        if shard.slot.contains_key(&id) {
            return Err(IndexError::DuplicateId(id));
        }
        shard.push(id, owner, bucket.unwrap_or(NO_BUCKET), code, rows);
        Ok(())
    }

    /// Removes a palm; false when it was not enrolled.
    pub fn remove(&self, id: PalmId) -> bool {
        self.shard_of(id)
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).ids.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, id: PalmId) -> bool {
        self.shard_of(id)
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .slot
            .contains_key(&id)
    }

    /// Bytes of RAM per enrolled palm held by the index's own tables (ids, owners, buckets, coarse codes,
    /// template rows, id-to-slot map), excluding allocator slack.
    pub fn bytes_per_palm() -> usize {
        std::mem::size_of::<PalmId>()
            + std::mem::size_of::<Owner>()
            + std::mem::size_of::<Bucket>()
            + std::mem::size_of::<CoarseCode>()
            + std::mem::size_of::<ProtectedRows>()
            // hashbrown: key + value + one control byte, at 7/8 load.
            + (std::mem::size_of::<(PalmId, usize)>() + 1) * 8 / 7
    }

    /// The `k` best candidates for a probe, best first, one per owner (no decision).
    pub fn rank(
        &self,
        probe: &Template,
        search: &Search,
    ) -> Result<(Vec<Candidate>, usize), IndexError> {
        let protected_probe = self.protect_probe(probe)?;
        self.rank_protected(probe, &protected_probe, search)
    }

    /// A probe checked against the gallery's engine and made ready to compare with its
    /// protected rows (every shift and warp: the costly part of a small search).
    fn protect_probe(&self, probe: &Template) -> Result<ProtectedProbe, IndexError> {
        self.check(probe)?;
        self.transform
            .probe(probe, &self.params)
            .map_err(|_| IndexError::WrongShape(probe.planes.len()))
    }

    /// [`Gallery::rank`] with the probe already protected.
    fn rank_protected(
        &self,
        probe: &Template,
        protected_probe: &ProtectedProbe,
        search: &Search,
    ) -> Result<(Vec<Candidate>, usize), IndexError> {
        let bucket = search.bucket.unwrap_or(NO_BUCKET);
        let in_scope = |b: Bucket| search.bucket.is_none() || b == bucket;
        let full = |rows: &ProtectedRows| {
            protect::compare_rows(protected_probe, rows, &self.params).similarity
        };
        let searched = AtomicCount::default();
        let mut scored: Vec<Candidate> = if search.exhaustive {
            self.shards
                .par_iter()
                .flat_map_iter(|s| {
                    let s = s.read().unwrap_or_else(|e| e.into_inner());
                    let out: Vec<Candidate> = (0..s.ids.len())
                        .filter(|&i| in_scope(s.buckets[i]))
                        .map(|i| Candidate {
                            id: s.ids[i],
                            owner: s.owners[i],
                            similarity: full(&s.rows[i]),
                        })
                        .collect();
                    searched.add(out.len());
                    out
                })
                .collect()
        } else {
            let codes =
                coarse::probe_codes(&probe.mask, &probe.planes).map(|c| self.layout.apply(&c));
            let shortlist = self.config.shortlist.max(search.k);
            // Each shard proposes its own shortlist from the coarse codes; the full matcher
            // re-ranks them while the shard's read lock is held, so a palm removed meanwhile is
            // never returned.
            self.shards
                .par_iter()
                .flat_map_iter(|s| {
                    let s = s.read().unwrap_or_else(|e| e.into_inner());
                    let mut scores = Vec::with_capacity(s.coarse.len());
                    coarse::scan(&codes, &s.coarse, &mut scores);
                    // The shortlist is spread over the shards: a wide search (a hover's 20
                    // people) re-ranks no more codes than a plain one, only keeps more of them.
                    let keep = shortlist.div_ceil(self.shards.len());
                    // The shard's `keep` lowest scores, kept sorted in a small array: most codes
                    // are rejected by one comparison with the current worst.
                    let mut near: Vec<(u32, usize)> = Vec::with_capacity(keep + 1);
                    let mut n = 0;
                    for (i, &d) in scores.iter().enumerate() {
                        if !in_scope(s.buckets[i]) {
                            continue;
                        }
                        n += 1;
                        if near.len() == keep && d >= near[keep - 1].0 {
                            continue;
                        }
                        let at = near.partition_point(|&(e, _)| e <= d);
                        near.insert(at, (d, i));
                        near.truncate(keep);
                    }
                    searched.add(n);
                    near.into_iter()
                        .map(|(_, i)| Candidate {
                            id: s.ids[i],
                            owner: s.owners[i],
                            similarity: full(&s.rows[i]),
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        // An owner's best palm stands for them (see [`Owner`]).
        let mut seen = std::collections::HashSet::new();
        scored.retain(|c| seen.insert(c.owner));
        scored.truncate(search.k);
        Ok((scored, searched.get()))
    }

    /// A hover of several frames of one hand, decided as one piece of evidence: the best frame
    /// searches, the others are compared with the people it ranked ([`Gallery::rank_frames`]),
    /// and every such person is scored by the mean of the frames' similarities to them, each
    /// counted from the policy's tail start (the floor). `policy` must be calibrated on scores
    /// fused the same way (`FUSED_CALIBRATIONS`), whose tail starts at that floor.
    pub fn identify_burst(
        &self,
        frames: &[Template],
        search: &Search,
        policy: &Policy,
    ) -> Result<Identification, IndexError> {
        let ranked = self.rank_frames(frames, search)?;
        Ok(fuse_ranked(&ranked, search, policy))
    }

    /// A hover's frames ranked for [`fuse_ranked`]: the best-quality frame searches the gallery
    /// for its [`HOVER_CANDIDATES`] best people, and the other frames are compared with those
    /// people's palms only (one pass over the owners column, no search), each list with the palms
    /// the search covered. A person the search did not rank cannot win, which can only lower
    /// the fused impostor scores the calibration counted.
    pub fn rank_frames(
        &self,
        frames: &[Template],
        search: &Search,
    ) -> Result<Vec<(Vec<Candidate>, usize)>, IndexError> {
        let mut ranked = Vec::new();
        self.rank_more(&mut ranked, frames, search)?;
        Ok(ranked)
    }

    /// Frames of a second hand for a hover already ranked (a serial decision), or a hover's
    /// first frames when `ranked` is empty. A first hover's best frame searches the gallery for
    /// its [`HOVER_CANDIDATES`] best people and its other frames are compared with their palms;
    /// a second hand searches nothing: all its frames are compared with the palms of the people
    /// the first hover's search ranked, so the fused decision never scans the gallery twice (a
    /// person the first search missed is not found, and falls back to a hint, never to a
    /// wrong name).
    pub fn rank_more(
        &self,
        ranked: &mut Vec<(Vec<Candidate>, usize)>,
        frames: &[Template],
        search: &Search,
    ) -> Result<(), IndexError> {
        let Some((best, rest)) = searcher_first(frames) else {
            return Ok(());
        };
        // Each frame is protected once, the frames side by side (a protected probe holds every
        // shift and warp: it costs more than comparing it with a few dozen people).
        let order: Vec<&Template> = std::iter::once(best).chain(rest).collect();
        let probes: Vec<ProtectedProbe> = order
            .par_iter()
            .map(|f| self.protect_probe(f))
            .collect::<Result<_, _>>()?;
        let (scored, searched) = match ranked.first() {
            Some((_, searched)) => (&probes[..], *searched),
            None => {
                let wide = Search {
                    k: search.k.max(HOVER_CANDIDATES),
                    ..*search
                };
                // Its own search scores the searching frame against every candidate.
                let (found, searched) = self.rank_protected(best, &probes[0], &wide)?;
                ranked.push((found, searched));
                (&probes[1..], searched)
            }
        };
        let mut owners: Vec<Owner> = ranked[0].0.iter().map(|c| c.owner).collect();
        owners.sort_unstable();
        owners.dedup();
        let lists = self.score_owners_protected(scored, &owners, search);
        ranked.extend(lists.into_iter().map(|l| (l, searched)));
        Ok(())
    }

    /// `probe` against every palm of `owners` (in the search's bucket): each owner's best palm,
    /// best first.
    pub fn score_owners(
        &self,
        probe: &Template,
        owners: &[Owner],
        search: &Search,
    ) -> Result<Vec<Candidate>, IndexError> {
        let mut lists = self.score_owners_each(std::slice::from_ref(probe), owners, search)?;
        Ok(lists.pop().unwrap_or_default())
    }

    /// Each of `probes` against every palm of `owners` (in the search's bucket), in one pass:
    /// a list per probe, each owner's best palm, best first. What [`Gallery::rank_more`] does
    /// for a second hand, for a gallery split over processes whose first ranking was merged
    /// elsewhere.
    pub fn score_owners_each(
        &self,
        probes: &[Template],
        owners: &[Owner],
        search: &Search,
    ) -> Result<Vec<Vec<Candidate>>, IndexError> {
        let probes: Vec<ProtectedProbe> = probes
            .par_iter()
            .map(|f| self.protect_probe(f))
            .collect::<Result<_, _>>()?;
        Ok(self.score_owners_protected(&probes, owners, search))
    }

    /// Each of `probes` against every palm of `owners`, in one pass over the owners column: a
    /// list per probe, each owner's best palm, best first.
    fn score_owners_protected(
        &self,
        probes: &[ProtectedProbe],
        owners: &[Owner],
        search: &Search,
    ) -> Vec<Vec<Candidate>> {
        if probes.is_empty() {
            return Vec::new();
        }
        // A 4096-bit filter turns away almost every palm with one bit test; the few it lets
        // through are checked against the (short) owner list.
        let slot = |o: Owner| ((o.0 ^ (o.0 >> 29)) % 4096) as usize;
        let mut filter = [0u64; 64];
        for &o in owners {
            filter[slot(o) / 64] |= 1 << (slot(o) % 64);
        }
        let wanted =
            |o: Owner| filter[slot(o) / 64] >> (slot(o) % 64) & 1 == 1 && owners.contains(&o);
        let in_scope = |b: Bucket| search.bucket.is_none_or(|want| b == want);
        // (probe, candidate) pairs from every shard.
        let found: Vec<(usize, Candidate)> = self
            .shards
            .par_iter()
            .flat_map_iter(|s| {
                let s = s.read().unwrap_or_else(|e| e.into_inner());
                let mut out = Vec::new();
                for i in 0..s.ids.len() {
                    if !(wanted(s.owners[i]) && in_scope(s.buckets[i])) {
                        continue;
                    }
                    for (p, probe) in probes.iter().enumerate() {
                        let similarity =
                            protect::compare_rows(probe, &s.rows[i], &self.params).similarity;
                        out.push((
                            p,
                            Candidate {
                                id: s.ids[i],
                                owner: s.owners[i],
                                similarity,
                            },
                        ));
                    }
                }
                out
            })
            .collect();
        let mut lists = vec![Vec::new(); probes.len()];
        for (p, c) in found {
            lists[p].push(c);
        }
        for list in &mut lists {
            list.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
            let mut seen = std::collections::HashSet::new();
            list.retain(|c: &Candidate| seen.insert(c.owner));
        }
        lists
    }

    /// Ranks and decides under the open-set policy.
    pub fn identify(
        &self,
        probe: &Template,
        search: &Search,
        policy: &Policy,
    ) -> Result<Identification, IndexError> {
        let (candidates, searched) = self.rank(
            probe,
            &Search {
                k: search.k.max(2),
                ..*search
            },
        )?;
        Ok(decide(candidates, searched, search, policy))
    }
}

/// A hover's frames with the one that searches first: the best-quality frame (a blurred or
/// partly covered frame is the likeliest to miss the person), then the others in their order.
/// (Public so a gallery split over processes ranks a hover in the same order.)
pub fn searcher_first(frames: &[Template]) -> Option<(&Template, Vec<&Template>)> {
    let best = (0..frames.len()).max_by_key(|&i| (frames[i].quality, std::cmp::Reverse(i)))?;
    let rest = (0..frames.len())
        .filter(|&i| i != best)
        .map(|i| &frames[i])
        .collect();
    Some((&frames[best], rest))
}

/// The decision on a hover from its frames' rankings ([`Gallery::rank_frames`]): every person
/// among any frame's candidates is scored by the mean over the frames of the similarity counted
/// from the policy's tail start (a frame that did not rank them counts as that floor).
pub fn fuse_ranked(
    ranked: &[(Vec<Candidate>, usize)],
    search: &Search,
    policy: &Policy,
) -> Identification {
    let floor = policy.calibration.tail_start as f32;
    // Per person: (best palm, its best similarity, sum over frames of the excess over the floor)
    let mut fused: HashMap<Owner, (PalmId, f32, f32)> = HashMap::new();
    for (candidates, _) in ranked {
        for c in candidates {
            let entry = fused.entry(c.owner).or_insert((c.id, f32::MIN, 0.0));
            if c.similarity > entry.1 {
                (entry.0, entry.1) = (c.id, c.similarity);
            }
            entry.2 += c.similarity.max(floor) - floor;
        }
    }
    let n = ranked.len().max(1) as f32;
    let mut candidates: Vec<Candidate> = fused
        .into_iter()
        .map(|(owner, (id, _, excess))| Candidate {
            id,
            owner,
            similarity: floor + excess / n,
        })
        .collect();
    candidates.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
    let searched = ranked.iter().map(|(_, n)| *n).max().unwrap_or(0);
    decide(candidates, searched, search, policy)
}

/// The open-set decision over candidates ranked best first, one per owner, among `searched`
/// palms: what [`Gallery::identify`] concludes, and what a gateway concludes over the merged
/// rankings of several galleries (the threshold is then the whole gallery's).
pub fn decide(
    mut candidates: Vec<Candidate>,
    searched: usize,
    search: &Search,
    policy: &Policy,
) -> Identification {
    let threshold = policy.threshold(searched);
    let t = threshold.similarity as f32;
    let decision = if threshold.needs_hint && search.bucket.is_none() {
        Decision::NeedsHint
    } else {
        match candidates.as_slice() {
            [best, ..] if best.similarity < t => Decision::NoMatch,
            [best, second, ..]
                if second.similarity >= t
                    && best.similarity - second.similarity < policy.ambiguity_margin as f32 =>
            {
                Decision::Ambiguous
            }
            [best, ..] => Decision::Match(best.id),
            [] => Decision::NoMatch,
        }
    };
    candidates.truncate(search.k);
    Identification {
        candidates,
        decision,
        searched,
        threshold,
    }
}

/// A counter shared by the parallel shard scans.
#[derive(Default)]
struct AtomicCount(std::sync::atomic::AtomicUsize);

impl AtomicCount {
    fn add(&self, n: usize) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
