//! Several light bands of one capture as one piece of evidence. A multispectral scanner takes
//! the same hand in several bands at once (CASIA-MS: white light and 460-940 nm; near infrared
//! shows veins that visible light does not). A *presentation* is one capture of a hand in every
//! band asked for: entries of the band subsets that share person, hand, session and sample
//! (each band's palm ids differ, so the manifest's `person` and `hand` columns join them). Two
//! presentations are compared band by band with each band's own pair scores, and the bands'
//! similarities are fused as `fuse_hands` fuses hands: each counts from `floor` up (the
//! calibrated impostor tail's start) and the fused score is their mean.
//!
//! Also measured: how far each two bands' impostor scores of the same two captures move
//! together. Bands of one capture share the pose and the ROI, so they are expected to err alike
//! far more than two hands do; the fusion gains only what they do not share.

use crate::fusion::correlation;
use crate::{Dataset, PairScores};
use std::collections::BTreeMap;

/// Fused comparisons of multispectral presentations.
#[derive(Clone, Debug, Default)]
pub struct FusedBands {
    /// The bands fused, in the order given.
    pub bands: Vec<String>,
    /// Captures present in every band.
    pub presentations: usize,
    /// Fused similarity of each pair of presentations of one hand (`None`: a band failed to
    /// acquire in one of them).
    pub genuine: Vec<Option<f64>>,
    /// The same for presentations of different hands.
    pub impostor: Vec<Option<f64>>,
    /// Each two bands' impostor-score correlation (`None` with fewer than three pairs).
    pub impostor_correlations: Vec<BandCorrelation>,
}

/// How far two bands' impostor similarities move together over the same pairs of captures.
#[derive(Clone, Debug)]
pub struct BandCorrelation {
    pub bands: (String, String),
    pub impostor: Option<f64>,
}

/// (person, hand, session, sample): what one capture's images in different bands share.
type CaptureKey<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Fuses the bands of every pair of presentations. `bands` holds one subset per band, each with
/// its own pair scores. `None` when a subset does not say whose hand each image is (no person,
/// hand or sample column), or with fewer than two bands.
pub fn fuse_bands(bands: &[(&Dataset, &PairScores)], floor: f64) -> Option<FusedBands> {
    if bands.len() < 2 {
        return None;
    }
    // Each capture's image index in every band.
    let mut captures: BTreeMap<CaptureKey<'_>, Vec<Vec<usize>>> = BTreeMap::new();
    for (b, (set, _)) in bands.iter().enumerate() {
        for (i, e) in set.entries.iter().enumerate() {
            let (Some(person), Some(hand), Some(sample)) = (&e.person, &e.hand, &e.sample) else {
                return None;
            };
            let key = (
                person.as_str(),
                hand.as_str(),
                e.session.as_deref().unwrap_or(""),
                sample.as_str(),
            );
            captures
                .entry(key)
                .or_insert_with(|| vec![Vec::new(); bands.len()])[b]
                .push(i);
        }
    }
    // Kept when every band holds exactly one image of the capture.
    let presentations: Vec<((&str, &str), Vec<usize>)> = captures
        .into_iter()
        .filter_map(|((person, hand, _, _), per_band)| {
            let one: Option<Vec<usize>> = per_band
                .iter()
                .map(|v| (v.len() == 1).then(|| v[0]))
                .collect();
            Some(((person, hand), one?))
        })
        .collect();
    let mut out = FusedBands {
        bands: bands
            .iter()
            .map(|(s, _)| s.modalities().join("+"))
            .collect(),
        presentations: presentations.len(),
        ..FusedBands::default()
    };
    let mut band_pairs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); bands.len() * bands.len()];
    for a in 0..presentations.len() {
        for b in a + 1..presentations.len() {
            let ((owner_a, x), (owner_b, y)) = (&presentations[a], &presentations[b]);
            let scores: Vec<Option<f64>> = bands
                .iter()
                .enumerate()
                .map(|(k, (_, s))| s.get(x[k], y[k]))
                .collect();
            let fused: Option<f64> = scores
                .iter()
                .map(|s| s.map(|s| s.max(floor)))
                .sum::<Option<f64>>()
                .map(|sum| sum / bands.len() as f64);
            if owner_a == owner_b {
                out.genuine.push(fused);
                continue;
            }
            out.impostor.push(fused);
            for i in 0..bands.len() {
                for j in i + 1..bands.len() {
                    if let (Some(p), Some(q)) = (scores[i], scores[j]) {
                        band_pairs[i * bands.len() + j].push((p, q));
                    }
                }
            }
        }
    }
    for i in 0..bands.len() {
        for j in i + 1..bands.len() {
            out.impostor_correlations.push(BandCorrelation {
                bands: (out.bands[i].clone(), out.bands[j].clone()),
                impostor: correlation(&band_pairs[i * bands.len() + j]),
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entry;

    fn band(name: &str, hands: &[(&str, &str)], samples: &[&str]) -> Dataset {
        let mut entries = Vec::new();
        for (person, hand) in hands {
            for sample in samples {
                entries.push(Entry {
                    path: format!("{name}-{person}{hand}/{sample}.png"),
                    palm: format!("{name}-{person}{hand}"),
                    session: Some("1".into()),
                    modality: Some(name.into()),
                    sample: Some((*sample).into()),
                    hand: Some((*hand).into()),
                    person: Some((*person).into()),
                });
            }
        }
        Dataset {
            root: ".".into(),
            name: "t".into(),
            entries,
            problems: vec![],
        }
    }

    /// Genuine pairs score `genuine`, impostors `impostor`, each nudged by the pair's indices.
    fn scores(set: &Dataset, genuine: f64, impostor: f64) -> PairScores {
        let n = set.entries.len();
        let mut s = PairScores::new(n);
        for (i, j) in PairScores::pairs(n) {
            let same = set.entries[i].palm == set.entries[j].palm;
            let base = if same { genuine } else { impostor };
            s.set(i, j, Some(base + 0.001 * (i + j) as f64));
        }
        s
    }

    #[test]
    fn captures_are_joined_across_bands_by_person_hand_and_sample() {
        let hands = [("p1", "l"), ("p1", "r"), ("p2", "l")];
        let white = band("white", &hands, &["01", "02"]);
        // The 940 nm band lost p2's second sample: that capture is left out.
        let mut nir = band("940nm", &hands, &["01", "02"]);
        nir.entries.pop();
        let (sw, sn) = (scores(&white, 0.8, 0.4), scores(&nir, 0.7, 0.45));
        let f = fuse_bands(&[(&white, &sw), (&nir, &sn)], 0.0).unwrap();
        assert_eq!(f.bands, vec!["white".to_string(), "940nm".to_string()]);
        assert_eq!(f.presentations, 5);
        // p1's left and right hand are different palms: one genuine pair each.
        assert_eq!(f.genuine.len(), 2);
        assert_eq!(f.impostor.len(), 10 - 2);
        // p1 left 01 against p1 left 02: white (0, 1), 940 nm (0, 1).
        let want = ((0.8 + 0.001) + (0.7 + 0.001)) / 2.0;
        assert!(f.genuine.iter().flatten().any(|g| (g - want).abs() < 1e-12));
        assert!(f.impostor.iter().flatten().all(|&s| s < 0.5));
        assert_eq!(f.impostor_correlations.len(), 1);
        assert!(f.impostor_correlations[0].impostor.is_some());
        // A floor lifts every band's score to it.
        let floored = fuse_bands(&[(&white, &sw), (&nir, &sn)], 0.6).unwrap();
        assert!(floored.impostor.iter().flatten().all(|&s| s >= 0.6));
    }

    #[test]
    fn one_band_or_a_set_without_hands_is_not_fused() {
        let white = band("white", &[("p1", "l")], &["01", "02"]);
        let s = scores(&white, 0.8, 0.4);
        assert!(fuse_bands(&[(&white, &s)], 0.0).is_none());
        let mut anonymous = band("940nm", &[("p1", "l")], &["01", "02"]);
        anonymous.entries[0].person = None;
        assert!(fuse_bands(&[(&white, &s), (&anonymous, &s)], 0.0).is_none());
    }
}
