//! Several frames of one hover as one piece of evidence. Each palm's first capture stands for
//! its enrolment; the captures after it are taken `k` at a time as the frames of one hover (a
//! *burst*), and a burst is compared with an enrolment frame by frame with the pair scores
//! already computed. The frames' similarities are fused as `fuse_hands` fuses hands: each counts
//! from `floor` up (the calibrated impostor tail's start) and the fused score is their mean.
//!
//! `fuse_hand_bursts` does the same with both hands: a hover is a burst of each hand, compared
//! with each person's two enrolment captures.
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
    /// Palms (people, for both hands) with an enrolment capture and at least one full burst.
    pub palms: usize,
    pub bursts: usize,
    /// Fused similarity of each burst against its own palm's enrolment (`None`: a frame or the
    /// enrolment failed to acquire).
    pub genuine: Vec<Option<f64>>,
    /// The same against every other palm's enrolment.
    pub impostor: Vec<Option<f64>>,
}

/// What a hover is compared with: the enrolment capture of each hand (one or two), and the
/// subject's bursts, each holding `k` frames of every one of those hands.
struct Subject {
    enrolment: Vec<usize>,
    bursts: Vec<Vec<Vec<usize>>>,
}

/// A list of one hand's captures split into its enrolment (the first) and bursts of `k`.
fn split(captures: &[usize], k: usize) -> Option<(usize, Vec<Vec<usize>>)> {
    let (&enrolment, rest) = captures.split_first()?;
    let bursts: Vec<Vec<usize>> = rest.chunks_exact(k).map(<[usize]>::to_vec).collect();
    (!bursts.is_empty()).then_some((enrolment, bursts))
}

/// Compares every burst of `k` frames with every palm's enrolment capture. Captures of a palm
/// are taken in the set's order (the manifest's, or the sorted file names).
pub fn fuse_frames(set: &Dataset, scores: &PairScores, floor: f64, k: usize) -> FusedBursts {
    let k = k.max(1);
    let mut palms: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in set.entries.iter().enumerate() {
        palms.entry(e.palm.as_str()).or_default().push(i);
    }
    let subjects = palms
        .into_values()
        .filter_map(|captures| {
            let (enrolment, bursts) = split(&captures, k)?;
            Some(Subject {
                enrolment: vec![enrolment],
                bursts: bursts.into_iter().map(|b| vec![b]).collect(),
            })
        })
        .collect();
    compare(subjects, scores, floor)
}

/// Both hands and several frames: each person's first left and first right capture are their
/// enrolment; a hover is `k` later frames of each hand (the i-th burst of the left hand with the
/// i-th of the right), fused with every person's enrolment as the mean of its `2k` similarities,
/// each counted from `floor`. `None` when the set does not say whose hand is whose.
pub fn fuse_hand_bursts(
    set: &Dataset,
    scores: &PairScores,
    floor: f64,
    k: usize,
) -> Option<FusedBursts> {
    let k = k.max(1);
    let mut people: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, e) in set.entries.iter().enumerate() {
        let (Some(person), Some(hand)) = (&e.person, &e.hand) else {
            return None;
        };
        let hands = people.entry(person.as_str()).or_default();
        match hand.to_ascii_lowercase().as_str() {
            "l" | "left" => hands.0.push(i),
            "r" | "right" => hands.1.push(i),
            _ => {}
        }
    }
    let subjects = people
        .into_values()
        .filter_map(|(left, right)| {
            let ((left_enrolment, left_bursts), (right_enrolment, right_bursts)) =
                (split(&left, k)?, split(&right, k)?);
            Some(Subject {
                enrolment: vec![left_enrolment, right_enrolment],
                bursts: left_bursts
                    .into_iter()
                    .zip(right_bursts)
                    .map(|(l, r)| vec![l, r])
                    .collect(),
            })
        })
        .collect();
    Some(compare(subjects, scores, floor))
}

/// Every subject's bursts against every subject's enrolment.
fn compare(subjects: Vec<Subject>, scores: &PairScores, floor: f64) -> FusedBursts {
    let fused = |enrolment: &[usize], burst: &[Vec<usize>]| -> Option<f64> {
        let (mut sum, mut n) = (0.0, 0);
        for (&enrolled, frames) in enrolment.iter().zip(burst) {
            for &frame in frames {
                sum += scores.get(enrolled, frame)?.max(floor);
                n += 1;
            }
        }
        Some(sum / n.max(1) as f64)
    };
    let (genuine, impostor) = crate::against_every_enrolment(
        &subjects,
        |s| &s.bursts,
        |them, burst| fused(&them.enrolment, burst),
    );
    FusedBursts {
        palms: subjects.len(),
        bursts: subjects.iter().map(|s| s.bursts.len()).sum(),
        genuine,
        impostor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entry;
    use crate::dataset::plain_set as set;

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

    #[test]
    fn both_hands_bursts_pair_each_hand_with_its_own_enrolment() {
        // Two people, each hand 1 + 2 captures: one hover of 2 frames a hand each.
        let mut entries = Vec::new();
        for person in ["a", "b"] {
            for hand in ["l", "r"] {
                for c in 0..3 {
                    entries.push(Entry {
                        path: format!("{person}{hand}/{c}.png"),
                        palm: format!("{person}{hand}"),
                        session: None,
                        modality: None,
                        sample: Some(c.to_string()),
                        hand: Some(hand.into()),
                        person: Some(person.into()),
                    });
                }
            }
        }
        let s = Dataset {
            root: ".".into(),
            name: "t".into(),
            entries,
            problems: vec![],
        };
        let n = s.entries.len();
        let mut scores = PairScores::new(n);
        for (i, j) in PairScores::pairs(n) {
            let (x, y) = (&s.entries[i], &s.entries[j]);
            // Left hands match at 0.8, right hands at 0.6; across hands or people: 0.1.
            let v = match (x.palm == y.palm, x.hand.as_deref()) {
                (true, Some("l")) => 0.8,
                (true, _) => 0.6,
                _ => 0.1,
            };
            scores.set(i, j, Some(v));
        }
        let f = fuse_hand_bursts(&s, &scores, 0.2, 2).unwrap();
        assert_eq!((f.palms, f.bursts), (2, 2));
        assert!(f.genuine.iter().all(|g| (g.unwrap() - 0.7).abs() < 1e-12));
        // Impostor frames count from the floor.
        assert!(f.impostor.iter().all(|g| (g.unwrap() - 0.2).abs() < 1e-12));
        // Without person and hand columns there is nothing to pair.
        let mut unnamed = s.clone();
        unnamed.entries[0].person = None;
        assert!(fuse_hand_bursts(&unnamed, &scores, 0.2, 2).is_none());
    }
}
