//! Both hands as one piece of evidence: a *presentation* is one person's left and right captures
//! with the same session and sample number (CASIA-MS's two hands of one person, joined by the
//! manifest's `person` and `hand` columns). Two presentations are compared hand by hand with the
//! pair scores already computed, and the two similarities are fused as evidence: each hand counts
//! from `floor` up, and the fused score is the mean. With `floor` at the calibrated impostor
//! tail's start (palm-index's `Calibration::tail_start`), this is Fisher's combination of the
//! two hands' false-match probabilities under that calibration: above the tail start a
//! comparison's FMR falls exponentially, so -log FMR grows linearly with the score and the sum of
//! the two is a sum of scores; below it the FMR is flat, so a poor capture of one hand says
//! nothing either way instead of dragging a strong match of the other hand down. `floor` 0 gives
//! the plain sum rule.
//!
//! Also measured: how far the two hands' impostor scores of the same two people move together
//! (Pearson correlation). Fusion gains most when they are independent, and the open-set
//! arithmetic of a two-hand decision assumes they nearly are.

use crate::{Dataset, PairScores};
use std::collections::BTreeMap;

/// Fused comparisons of a set's two-hand presentations.
#[derive(Clone, Debug, Default)]
pub struct FusedPairs {
    /// Presentations with both hands present.
    pub presentations: usize,
    /// Fused similarity of each pair of one person's presentations (`None`: a hand failed to
    /// acquire in one of them).
    pub genuine: Vec<Option<f64>>,
    /// The same for presentations of different people.
    pub impostor: Vec<Option<f64>>,
    /// Correlation of the left-hand and right-hand impostor similarities over impostor pairs
    /// where both exist; `None` with fewer than three.
    pub impostor_hand_correlation: Option<f64>,
    /// The same for genuine pairs.
    pub genuine_hand_correlation: Option<f64>,
}

/// One person's left and right image (indices into the set's entries) taken as one presentation.
#[derive(Clone, Copy, Debug)]
struct Presentation<'a> {
    person: &'a str,
    left: usize,
    right: usize,
}

/// (person, session, sample): what one person's left and right images of one presentation share.
type CaptureKey<'a> = (&'a str, &'a str, &'a str);

/// The set's presentations: entries grouped by (person, session, sample), kept when exactly one
/// left and one right image share that key. `None` when the set does not say whose hand is whose.
fn presentations(set: &Dataset) -> Option<Vec<Presentation<'_>>> {
    let mut groups: BTreeMap<CaptureKey<'_>, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, e) in set.entries.iter().enumerate() {
        let (Some(person), Some(hand), Some(sample)) = (&e.person, &e.hand, &e.sample) else {
            return None;
        };
        let key = (
            person.as_str(),
            e.session.as_deref().unwrap_or(""),
            sample.as_str(),
        );
        let group = groups.entry(key).or_default();
        match hand.to_ascii_lowercase().as_str() {
            "l" | "left" => group.0.push(i),
            "r" | "right" => group.1.push(i),
            _ => {}
        }
    }
    Some(
        groups
            .into_iter()
            .filter_map(
                |((person, _, _), (l, r))| match (l.as_slice(), r.as_slice()) {
                    (&[left], &[right]) => Some(Presentation {
                        person,
                        left,
                        right,
                    }),
                    _ => None,
                },
            )
            .collect(),
    )
}

/// Fuses the two hands' similarities of every pair of presentations. `None` when the set has no
/// person and hand columns (nothing to fuse).
pub fn fuse_hands(set: &Dataset, scores: &PairScores, floor: f64) -> Option<FusedPairs> {
    let p = presentations(set)?;
    let mut out = FusedPairs {
        presentations: p.len(),
        ..FusedPairs::default()
    };
    let (mut impostor_hands, mut genuine_hands) = (Vec::new(), Vec::new());
    for a in 0..p.len() {
        for b in a + 1..p.len() {
            let (x, y) = (p[a], p[b]);
            let left = scores.get(x.left, y.left);
            let right = scores.get(x.right, y.right);
            let fused = match (left, right) {
                (Some(l), Some(r)) => Some((l.max(floor) + r.max(floor)) / 2.0),
                _ => None,
            };
            let same = x.person == y.person;
            if let (Some(l), Some(r)) = (left, right) {
                (if same {
                    &mut genuine_hands
                } else {
                    &mut impostor_hands
                })
                .push((l, r));
            }
            if same {
                out.genuine.push(fused);
            } else {
                out.impostor.push(fused);
            }
        }
    }
    out.impostor_hand_correlation = correlation(&impostor_hands);
    out.genuine_hand_correlation = correlation(&genuine_hands);
    Some(out)
}

/// Pearson's correlation of the pairs' two values.
pub(crate) fn correlation(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entry;

    fn entry(person: &str, hand: &str, sample: &str) -> Entry {
        Entry {
            path: format!("{person}{hand}/{sample}.png"),
            palm: format!("{person}{hand}"),
            session: Some("1".into()),
            modality: None,
            sample: Some(sample.into()),
            hand: Some(hand.into()),
            person: Some(person.into()),
        }
    }

    #[test]
    fn hands_are_paired_by_person_and_sample_and_fused_by_their_mean() {
        // Two people, two samples each, both hands: four presentations.
        let entries = vec![
            entry("p1", "l", "1"),
            entry("p1", "r", "1"),
            entry("p1", "l", "2"),
            entry("p1", "r", "2"),
            entry("p2", "l", "1"),
            entry("p2", "r", "1"),
            entry("p2", "l", "2"),
            entry("p2", "r", "2"),
        ];
        let set = Dataset {
            root: ".".into(),
            name: "t".into(),
            entries,
            problems: vec![],
        };
        let mut scores = PairScores::new(8);
        for (i, j) in PairScores::pairs(8) {
            let (a, b) = (&set.entries[i], &set.entries[j]);
            let s = if a.palm == b.palm { 0.8 } else { 0.4 } + 0.01 * (i + j) as f64;
            scores.set(i, j, Some(s));
        }
        scores.set(2, 6, None); // p1's left sample 2 against p2's left sample 2: not acquired
        let f = fuse_hands(&set, &scores, 0.0).unwrap();
        assert_eq!(f.presentations, 4);
        assert_eq!(f.genuine.len(), 2);
        assert_eq!(f.impostor.len(), 4);
        // p1 sample 1 vs p1 sample 2: left (0, 2), right (1, 3).
        let want = ((0.8 + 0.02) + (0.8 + 0.04)) / 2.0;
        assert!(f.genuine.iter().flatten().any(|g| (g - want).abs() < 1e-12));
        assert_eq!(f.impostor.iter().filter(|s| s.is_none()).count(), 1);
        assert!(f.impostor.iter().flatten().all(|&s| s < 0.6));
        // With a floor, a hand below it counts as the floor: a strong other hand still shows.
        let floored = fuse_hands(&set, &scores, 0.5).unwrap();
        assert!(floored.impostor.iter().flatten().all(|&s| s >= 0.5));
        assert!(
            floored
                .genuine
                .iter()
                .flatten()
                .any(|g| (g - want).abs() < 1e-12)
        );
    }

    #[test]
    fn a_set_without_hands_is_not_fused_and_odd_groups_are_left_out() {
        let mut plain = entry("p1", "l", "1");
        plain.person = None;
        let set = Dataset {
            root: ".".into(),
            name: "t".into(),
            entries: vec![plain],
            problems: vec![],
        };
        assert!(fuse_hands(&set, &PairScores::new(1), 0.0).is_none());
        let set = Dataset {
            root: ".".into(),
            name: "t".into(),
            entries: vec![
                entry("p1", "l", "1"),
                entry("p1", "l", "1"),
                entry("p1", "r", "1"),
            ],
            problems: vec![],
        };
        assert_eq!(
            fuse_hands(&set, &PairScores::new(3), 0.0)
                .unwrap()
                .presentations,
            0
        );
    }

    #[test]
    fn correlation_of_a_line_is_one() {
        let pairs: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((correlation(&pairs).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(correlation(&pairs[..2]), None);
    }
}
