//! Verification and identification figures from pair similarities (higher = more alike).
//!
//! Conventions (from `../shared/datasets/README.md`): a pair is accepted when its similarity is
//! at least the threshold; EER is interpolated linearly where FNMR and FMR cross; FNMR at a target
//! FMR uses the smallest threshold whose FMR is at most the target; a failed pair (`None`) is
//! never accepted.

use crate::PairScores;

/// One point of the DET curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetPoint {
    pub threshold: f64,
    pub fmr: f64,
    pub fnmr: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub eer: f64,
    /// FNMR at FMR 1e-2, 1e-3, 1e-4; `None` where there are too few impostor pairs to measure it.
    pub fnmr_at_fmr: [Option<f64>; 3],
    pub dprime: f64,
    /// Threshold at the EER crossing (the lower of the two thresholds it lies between).
    pub eer_threshold: f64,
    pub det: Vec<DetPoint>,
}

/// Genuine and impostor similarities, with failed pairs as `None`.
pub fn verification(genuine: &[Option<f64>], impostor: &[Option<f64>]) -> Verification {
    let (ng, ni) = (genuine.len(), impostor.len());
    let mut g: Vec<f64> = genuine.iter().flatten().copied().collect();
    let mut i: Vec<f64> = impostor.iter().flatten().copied().collect();
    g.sort_by(f64::total_cmp);
    i.sort_by(f64::total_cmp);
    // Candidate thresholds: every observed score, plus one above all so FMR can reach 0.
    let mut thresholds: Vec<f64> = g.iter().chain(&i).copied().collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds.push(f64::INFINITY);
    let below = |sorted: &[f64], t: f64| sorted.partition_point(|&s| s < t);
    let det: Vec<DetPoint> = thresholds
        .iter()
        .map(|&t| DetPoint {
            threshold: t,
            fmr: (i.len() - below(&i, t)) as f64 / ni.max(1) as f64,
            // Failed genuine pairs are rejected at every threshold.
            fnmr: (below(&g, t) + (ng - g.len())) as f64 / ng.max(1) as f64,
        })
        .collect();

    let (mut eer, mut eer_threshold) = (f64::NAN, f64::NAN);
    for w in det.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (da, db) = (a.fnmr - a.fmr, b.fnmr - b.fmr);
        if da <= 0.0 && db >= 0.0 {
            if da == db {
                eer = a.fmr;
            } else {
                let t = da / (da - db);
                eer = a.fmr + t * (b.fmr - a.fmr);
            }
            eer_threshold = a.threshold;
            break;
        }
    }
    let fnmr_at = |target: f64| {
        // Too few impostor pairs to see one in 1/target: the figure would be meaningless.
        if (ni as f64) < 1.0 / target {
            return None;
        }
        det.iter().find(|p| p.fmr <= target).map(|p| p.fnmr)
    };
    let moments = |v: &[f64]| {
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
    };
    let ((mg, vg), (mi, vi)) = (moments(&g), moments(&i));
    Verification {
        genuine_pairs: ng,
        impostor_pairs: ni,
        eer,
        fnmr_at_fmr: [fnmr_at(1e-2), fnmr_at(1e-3), fnmr_at(1e-4)],
        dprime: (mg - mi).abs() / ((vg + vi) / 2.0).sqrt(),
        eer_threshold,
        det,
    }
}

/// Closed-set rank-1 rate: a probe is right when its own palm's best gallery score is strictly
/// above every other palm's best. Returns `(correct, probes)`.
pub fn rank1(
    scores: &PairScores,
    palms: &[String],
    gallery: &[usize],
    probes: &[usize],
) -> (usize, usize) {
    let correct = probes
        .iter()
        .filter(|&&p| {
            let mut own = f64::NEG_INFINITY;
            let mut other = f64::NEG_INFINITY;
            for &g in gallery {
                let s = scores.get(p, g).unwrap_or(f64::NEG_INFINITY);
                if palms[g] == palms[p] {
                    own = own.max(s);
                } else {
                    other = other.max(s);
                }
            }
            own > other
        })
        .count();
    (correct, probes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_scores_have_zero_eer() {
        let g: Vec<Option<f64>> = (0..10).map(|k| Some(0.8 + k as f64 / 100.0)).collect();
        let i: Vec<Option<f64>> = (0..200).map(|k| Some(0.3 + k as f64 / 1000.0)).collect();
        let v = verification(&g, &i);
        assert_eq!(v.eer, 0.0);
        assert_eq!(v.fnmr_at_fmr[0], Some(0.0));
        assert_eq!(
            v.fnmr_at_fmr[1], None,
            "200 impostor pairs cannot measure FMR 1e-3"
        );
    }

    #[test]
    fn eer_interpolates_at_the_crossing() {
        // Genuine 1..=4, impostor 0..=3 (4 each): at t=2 FMR=2/4, FNMR=1/4; at t=3 FMR=1/4, FNMR=2/4.
        let g: Vec<Option<f64>> = (1..=4).map(|k| Some(k as f64)).collect();
        let i: Vec<Option<f64>> = (0..=3).map(|k| Some(k as f64)).collect();
        let v = verification(&g, &i);
        assert!((v.eer - 0.375).abs() < 1e-12, "{}", v.eer);
    }

    #[test]
    fn failed_genuine_pairs_count_as_rejections() {
        let g = vec![Some(0.9), None];
        let i = vec![Some(0.1); 100];
        let v = verification(&g, &i);
        assert_eq!(v.fnmr_at_fmr[0], Some(0.5));
    }

    #[test]
    fn rank1_counts_ties_as_errors() {
        let palms: Vec<String> = ["a", "b", "a", "b"].iter().map(|s| s.to_string()).collect();
        let mut s = PairScores::new(4);
        s.set(0, 2, Some(0.9)); // probe 2 (a) vs gallery 0 (a)
        s.set(1, 2, Some(0.2));
        s.set(0, 3, Some(0.5)); // probe 3 (b): tie between a and b
        s.set(1, 3, Some(0.5));
        assert_eq!(rank1(&s, &palms, &[0, 1], &[2, 3]), (1, 2));
    }
}
