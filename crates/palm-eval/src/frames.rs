//! Several frames of one hover as one piece of evidence. Each palm's first capture stands for
//! its enrolment; the captures after it are taken `k` at a time as the frames of one hover (a
//! *burst*), and a burst is compared with an enrolment frame by frame with the pair scores
//! already computed. The frames' similarities are fused as `fuse_hands` fuses hands: each counts
//! from `floor` up (the calibrated impostor tail's start) and the fused score is their mean.
//!
//! What this measures is an upper bound for a real scanner: a set's captures of one palm were
//! taken apart (often in two sessions), so they disagree more than the frames of one hover,
//! which share the pose and the light. `k = 1` is the same protocol with one frame, the baseline
//! to compare with.

use crate::{Dataset, PairScores};
use std::collections::BTreeMap;

/// Enrolment-against-burst comparisons of a set.
#[derive(Clone, Debug, Default)]
pub struct FusedBursts {
    /// Palms with an enrolment capture and at least one full burst.
    pub palms: usize,
    pub bursts: usize,
    /// Fused similarity of each burst against its own palm's enrolment (`None`: a frame or the
    /// enrolment failed to acquire).
    pub genuine: Vec<Option<f64>>,
    /// The same against every other palm's enrolment.
    pub impostor: Vec<Option<f64>>,
}

/// Compares every burst of `k` frames with every palm's enrolment capture. Captures of a palm
/// are taken in the set's order (the manifest's, or the sorted file names).
pub fn fuse_frames(set: &Dataset, scores: &PairScores, floor: f64, k: usize) -> FusedBursts {
    let k = k.max(1);
    let mut palms: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in set.entries.iter().enumerate() {
        palms.entry(e.palm.as_str()).or_default().push(i);
    }
    // (enrolment index, bursts of that palm)
    let palms: Vec<(usize, Vec<Vec<usize>>)> = palms
        .into_values()
        .filter_map(|captures| {
            let (&enrolment, rest) = captures.split_first()?;
            let bursts: Vec<Vec<usize>> = rest.chunks_exact(k).map(<[usize]>::to_vec).collect();
            (!bursts.is_empty()).then_some((enrolment, bursts))
        })
        .collect();
    let score = |a: usize, b: usize| {
        let (i, j) = if a < b { (a, b) } else { (b, a) };
        scores.get(i, j)
    };
    let fused = |enrolment: usize, burst: &[usize]| -> Option<f64> {
        let mut sum = 0.0;
        for &frame in burst {
            sum += score(enrolment, frame)?.max(floor);
        }
        Some(sum / burst.len() as f64)
    };
    let mut out = FusedBursts {
        palms: palms.len(),
        bursts: palms.iter().map(|(_, b)| b.len()).sum(),
        ..FusedBursts::default()
    };
    for (owner, (_, bursts)) in palms.iter().enumerate() {
        for burst in bursts {
            for (other, (enrolment, _)) in palms.iter().enumerate() {
                let s = fused(*enrolment, burst);
                if other == owner {
                    out.genuine.push(s);
                } else {
                    out.impostor.push(s);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entry;

    fn set(palms: usize, captures: usize) -> Dataset {
        let entries = (0..palms)
            .flat_map(|p| {
                (0..captures).map(move |c| Entry {
                    path: format!("p{p}/{c}.png"),
                    palm: format!("p{p}"),
                    session: None,
                    modality: None,
                    sample: None,
                    hand: None,
                    person: None,
                })
            })
            .collect();
        Dataset {
            root: ".".into(),
            name: "t".into(),
            entries,
            problems: vec![],
        }
    }

    #[test]
    fn bursts_follow_the_enrolment_and_are_fused_by_their_mean() {
        // Two palms of 1 + 4 captures: two bursts of two frames each.
        let s = set(2, 5);
        let mut scores = PairScores::new(10);
        for (i, j) in PairScores::pairs(10) {
            let same = s.entries[i].palm == s.entries[j].palm;
            scores.set(i, j, Some(if same { 0.6 + 0.01 * j as f64 } else { 0.3 }));
        }
        let f = fuse_frames(&s, &scores, 0.0, 2);
        assert_eq!((f.palms, f.bursts), (2, 4));
        assert_eq!(f.genuine.len(), 4);
        assert_eq!(f.impostor.len(), 4);
        // Palm 0's first burst: frames 1 and 2 against enrolment 0.
        let want = (0.61 + 0.62) / 2.0;
        assert!((f.genuine[0].unwrap() - want).abs() < 1e-12);
        assert!(f.impostor.iter().all(|s| (s.unwrap() - 0.3).abs() < 1e-12));
        // The floor lifts what is below it; a frame that failed fails its burst.
        assert!(
            fuse_frames(&s, &scores, 0.4, 2)
                .impostor
                .iter()
                .all(|s| (s.unwrap() - 0.4).abs() < 1e-12)
        );
        scores.set(0, 1, None);
        assert_eq!(fuse_frames(&s, &scores, 0.0, 2).genuine[0], None);
        // k = 1 is one frame per attempt; a palm with too few captures for a burst is left out.
        assert_eq!(fuse_frames(&s, &scores, 0.0, 1).bursts, 8);
        assert_eq!(fuse_frames(&s, &scores, 0.0, 5).palms, 0);
    }
}
