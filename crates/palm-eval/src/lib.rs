//! Evaluation of a palm matcher by the protocol of `../shared/datasets/README.md`: data sets laid
//! out as folders per palm, verification rates (EER, FNMR at fixed FMR, d'), closed-set rank-1,
//! and reading score files from other matchers so any system is measured by the same code.
//!
//! Nothing here knows how templates are made: callers hand in a similarity for each pair, or
//! `None` where an image yielded no template (a failure to acquire, which then fails every genuine
//! comparison it takes part in and never falsely matches).

mod bands;
mod dataset;
mod enrolment;
mod frames;
mod fusion;
mod metrics;
mod scores;

pub use bands::{BandCorrelation, FusedBands, fuse_bands};
pub use dataset::{Dataset, Entry};
pub use enrolment::{EnrolledPairs, enrol_best};
pub use frames::{FusedBursts, fuse_frames, fuse_hand_bursts};
pub use fusion::{FusedPairs, fuse_hands};
pub use metrics::{DetPoint, Verification, rank1, verification};
pub use scores::{ScoreFileError, read_score_file};

/// Every subject's attempts against every subject's enrolment, split into genuine (its own) and
/// impostor scores: the protocols that enrol one part of a palm's captures and probe with the
/// rest (frames of a hover, several enrolled templates) share it.
pub(crate) fn against_every_enrolment<'s, S, A: 's>(
    subjects: &'s [S],
    attempts: impl Fn(&'s S) -> &'s [A],
    score: impl Fn(&'s S, &'s A) -> Option<f64>,
) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (owner, subject) in subjects.iter().enumerate() {
        for attempt in attempts(subject) {
            for (other, them) in subjects.iter().enumerate() {
                let s = score(them, attempt);
                if other == owner {
                    genuine.push(s);
                } else {
                    impostor.push(s);
                }
            }
        }
    }
    (genuine, impostor)
}

/// Similarities of every pair `i < j` of a set's images, in row-major upper-triangle order.
#[derive(Clone, Debug)]
pub struct PairScores {
    n: usize,
    scores: Vec<Option<f64>>,
}

impl PairScores {
    pub fn new(n: usize) -> Self {
        PairScores {
            n,
            scores: vec![None; n * n.saturating_sub(1) / 2],
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn index(&self, i: usize, j: usize) -> usize {
        let (i, j) = if i < j { (i, j) } else { (j, i) };
        debug_assert!(i < j && j < self.n);
        i * (2 * self.n - i - 1) / 2 + (j - i - 1)
    }

    pub fn set(&mut self, i: usize, j: usize, s: Option<f64>) {
        let k = self.index(i, j);
        self.scores[k] = s;
    }

    /// The similarity of images `i` and `j` (order does not matter); `None` for a failed pair.
    pub fn get(&self, i: usize, j: usize) -> Option<f64> {
        self.scores[self.index(i, j)]
    }

    /// Every pair `(i, j)` with `i < j`, in the order `set`/`get` index them.
    pub fn pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
        (0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)))
    }
}
