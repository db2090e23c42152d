//! How many templates of a hand to keep at sign-up. Each palm's first `offered` captures stand
//! for the captures a sign-up takes; the `keep` of them that agree best with the others (the
//! highest mean similarity to the rest of the offered captures, as the service chooses) are its
//! enrolled templates, and every later capture is a probe. A probe is scored against a palm by
//! its best similarity to that palm's templates, so keeping more templates can only raise a
//! genuine score, and raises impostor scores too (more chances to falsely match): the rates at
//! fixed FMR say which wins. `keep = 1` is the one-template enrolment to compare with.

use crate::{Dataset, PairScores};
use std::collections::BTreeMap;

/// Probe-against-enrolment comparisons of a set.
#[derive(Clone, Debug, Default)]
pub struct EnrolledPairs {
    /// Palms with `offered` captures and at least one more to probe with.
    pub palms: usize,
    pub probes: usize,
    /// Each probe's best similarity to its own palm's templates (`None`: a failure to acquire).
    pub genuine: Vec<Option<f64>>,
    /// The same against every other palm's templates.
    pub impostor: Vec<Option<f64>>,
}

/// The `keep` captures of `offered` that agree best with the others (ties: the earlier).
fn best_agreeing(
    offered: &[usize],
    keep: usize,
    score: impl Fn(usize, usize) -> f64,
) -> Vec<usize> {
    let mut agreement: Vec<(f64, usize)> = offered
        .iter()
        .map(|&a| {
            let others = offered.iter().filter(|&&b| b != a);
            let sum: f64 = others.clone().map(|&b| score(a, b)).sum();
            (sum / others.count().max(1) as f64, a)
        })
        .collect();
    agreement.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    agreement.into_iter().take(keep).map(|(_, i)| i).collect()
}

/// Every palm's later captures against every palm's `keep` best of its first `offered`
/// captures. Captures of a palm are taken in the set's order.
pub fn enrol_best(
    set: &Dataset,
    scores: &PairScores,
    offered: usize,
    keep: usize,
) -> EnrolledPairs {
    let (offered, keep) = (offered.max(1), keep.clamp(1, offered.max(1)));
    let mut palms: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in set.entries.iter().enumerate() {
        palms.entry(e.palm.as_str()).or_default().push(i);
    }
    // (templates, probes) of each palm with enough captures.
    let enrolled: Vec<(Vec<usize>, Vec<usize>)> = palms
        .into_values()
        .filter(|c| c.len() > offered)
        .map(|c| {
            let (first, rest) = c.split_at(offered);
            // A capture that failed to acquire agrees with nothing.
            let templates = best_agreeing(first, keep, |a, b| scores.get(a, b).unwrap_or(0.0));
            (templates, rest.to_vec())
        })
        .collect();
    let best = |templates: &[usize], probe: usize| -> Option<f64> {
        templates
            .iter()
            .filter_map(|&t| scores.get(t, probe))
            .max_by(f64::total_cmp)
    };
    let (genuine, impostor) = crate::against_every_enrolment(
        &enrolled,
        |(_, probes)| probes,
        |(templates, _), &probe| best(templates, probe),
    );
    EnrolledPairs {
        palms: enrolled.len(),
        probes: enrolled.iter().map(|(_, p)| p.len()).sum(),
        genuine,
        impostor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::plain_set as set;

    #[test]
    fn the_best_agreeing_captures_are_kept_and_a_probe_takes_its_best_template() {
        // Two palms of 3 offered + 2 probes. Within a palm, capture 1 disagrees with the others;
        // probes (3, 4) match capture 1 best.
        let s = set(2, 5);
        let mut scores = PairScores::new(10);
        for (i, j) in PairScores::pairs(10) {
            let (pi, pj) = (i / 5, j / 5);
            let (ci, cj) = (i % 5, j % 5);
            let v = if pi != pj {
                0.3
            } else if ci == 1 && cj >= 3 {
                0.9
            } else if ci == 1 || cj == 1 {
                0.5
            } else {
                0.7
            };
            scores.set(i, j, Some(v));
        }
        let one = enrol_best(&s, &scores, 3, 1);
        assert_eq!((one.palms, one.probes), (2, 4));
        assert_eq!(one.genuine.len(), 4);
        assert_eq!(one.impostor.len(), 4);
        // Kept: capture 0 (0.7 with 2, 0.5 with 1): probes score 0.7 against it.
        assert!(one.genuine.iter().all(|g| (g.unwrap() - 0.7).abs() < 1e-12));
        // Keeping all three lets a probe reach capture 1.
        let all = enrol_best(&s, &scores, 3, 3);
        assert!(all.genuine.iter().all(|g| (g.unwrap() - 0.9).abs() < 1e-12));
        assert!(
            all.impostor
                .iter()
                .all(|g| (g.unwrap() - 0.3).abs() < 1e-12)
        );
        // Too few captures to probe with: nothing.
        assert_eq!(enrol_best(&s, &scores, 5, 1).palms, 0);
    }
}
