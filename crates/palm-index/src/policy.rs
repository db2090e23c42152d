//! The open-set decision: how high a score must be to name someone, given how many people could
//! have produced it.
//!
//! A search over N palms falsely matches with probability FPIR = 1 - (1 - FMR)^N. The impostor
//! score distribution, measured by `palmline eval`, is summarised in a [`Calibration`]: its upper
//! tail is modelled as exponential beyond the 99th percentile (fitted by the mean excess), which
//! extrapolates FMR below what a few hundred thousand impostor pairs can show directly. From it the
//! policy picks, for the gallery (or narrowed bucket) size at hand, the lowest threshold whose
//! FPIR stays within the target; when the genuine scores measured alongside say that threshold
//! would turn away too many real people, the search asks for a narrowing hint instead.

use crate::IndexError;

/// The calibration measured on the real sets with the default engine parameters
/// (`palmline eval ... --write-calibration crates/palm-index/calibration.txt`).
pub const SHIPPED_CALIBRATION: &str = include_str!("../calibration.txt");

/// Calibrations of fused evidence, measured on the sets with both hands (casia-ms, iitd-roi):
/// `((hands, frames a hover), text)`, each written by `palmline eval
/// ../shared/datasets/casia-ms ../shared/datasets/iitd-roi --fuse frames|hands --frames K
/// --write-fused-calibration FILE` (docs/index-and-policy.md).
pub const FUSED_CALIBRATIONS: &[((u8, u8), &str)] = &[
    ((1, 1), include_str!("../calibrations/hands1-frames1.txt")),
    ((1, 3), include_str!("../calibrations/hands1-frames3.txt")),
    ((2, 1), include_str!("../calibrations/hands2-frames1.txt")),
    ((2, 3), include_str!("../calibrations/hands2-frames3.txt")),
];

/// The calibration of one hand's capture in two light bands (visible light and near infrared at
/// 850 nm, fused as `palm_eval::fuse_bands` does), measured on casia-ms's white and 850 nm images:
/// `palmline eval ../shared/datasets/casia-ms --fuse bands --bands white,850nm
/// --write-fused-calibration FILE`.
pub const TWO_BAND_CALIBRATION: &str = include_str!("../calibrations/hands1-frames1-bands2.txt");

impl Calibration {
    /// The shipped calibration of fused evidence for `hands` hands of `frames` frames a hover;
    /// `None` when none is shipped for that pair.
    pub fn fused(hands: u8, frames: u8) -> Option<Result<Calibration, IndexError>> {
        FUSED_CALIBRATIONS
            .iter()
            .find(|(key, _)| *key == (hands, frames))
            .map(|(_, text)| Calibration::from_text(text))
    }
}

/// Impostor tail and genuine quantiles measured on real palms.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// The engine parameter fingerprint the scores were measured with.
    pub fingerprint: u32,
    /// Similarity at the impostor distribution's upper tail start, and the share above it.
    pub tail_start: f64,
    pub tail_share: f64,
    /// Mean excess of impostor scores above `tail_start` (the exponential tail's scale).
    pub tail_scale: f64,
    /// Genuine similarities at these FNMR levels: `(fnmr, similarity)`, ascending in fnmr.
    pub genuine_quantiles: Vec<(f64, f64)>,
    /// Pair counts behind the figures.
    pub impostor_pairs: u64,
    pub genuine_pairs: u64,
}

impl Calibration {
    /// Fits the tail from raw scores.
    pub fn fit(
        fingerprint: u32,
        genuine: &[f64],
        impostor: &[f64],
    ) -> Result<Calibration, IndexError> {
        if impostor.len() < 1000 || genuine.len() < 20 {
            return Err(IndexError::Calibration(format!(
                "need at least 1000 impostor and 20 genuine scores (got {} and {})",
                impostor.len(),
                genuine.len()
            )));
        }
        let mut imp = impostor.to_vec();
        imp.sort_by(f64::total_cmp);
        // The tail is what lies strictly above the 99th percentile. Fused scores pile up at their
        // floor (most impostor pairs are floored on every piece of evidence), so the percentile
        // can fall on a run of equal values; counting those as zero excesses would shrink the
        // scale and promise a thinner tail than the scores show.
        let tail_start = imp[imp.len() * 99 / 100];
        let above = imp.partition_point(|&s| s <= tail_start);
        let excess: Vec<f64> = imp[above..].iter().map(|s| s - tail_start).collect();
        let tail_scale = (excess.iter().sum::<f64>() / excess.len().max(1) as f64).max(1e-6);
        let tail_share = (imp.len() - above).max(1) as f64 / imp.len() as f64;
        let mut sorted_genuine = genuine.to_vec();
        sorted_genuine.sort_by(f64::total_cmp);
        let genuine_quantiles = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
            .iter()
            .map(|&q| {
                (
                    q,
                    sorted_genuine[((sorted_genuine.len() as f64 * q) as usize)
                        .min(sorted_genuine.len() - 1)],
                )
            })
            .collect();
        Ok(Calibration {
            fingerprint,
            tail_start,
            tail_share,
            tail_scale,
            genuine_quantiles,
            impostor_pairs: impostor.len() as u64,
            genuine_pairs: genuine.len() as u64,
        })
    }

    /// The model against the scores it was fitted on: for each false-match rate the scores can
    /// show (at least ten impostor scores above it) inside the modelled tail, `(observed rate,
    /// threshold at that rate in the scores, the model's rate at that threshold)`. A model rate
    /// below the observed one promises more than the scores show.
    pub fn tail_check(&self, impostor: &[f64]) -> Vec<(f64, f64, f64)> {
        let mut imp = impostor.to_vec();
        imp.sort_by(f64::total_cmp);
        [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
            .into_iter()
            .filter(|&rate| imp.len() as f64 * rate >= 10.0)
            .map(|rate| {
                let at = imp[((imp.len() as f64 * (1.0 - rate)) as usize).min(imp.len() - 1)];
                let observed = imp.len() - imp.partition_point(|&s| s < at);
                (observed as f64 / imp.len() as f64, at, self.fmr(at))
            })
            .filter(|&(_, at, _)| at > self.tail_start)
            .collect()
    }

    /// Modelled false match rate of one comparison at `threshold` (tail region only).
    pub fn fmr(&self, threshold: f64) -> f64 {
        if threshold <= self.tail_start {
            return self.tail_share;
        }
        self.tail_share * (-(threshold - self.tail_start) / self.tail_scale).exp()
    }

    /// The threshold whose FMR is `fmr`.
    pub fn threshold_for_fmr(&self, fmr: f64) -> f64 {
        if fmr >= self.tail_share {
            return self.tail_start;
        }
        self.tail_start + self.tail_scale * (self.tail_share / fmr).ln()
    }

    /// Share of genuine searches that would score below `threshold` (interpolated, conservative
    /// beyond the measured quantiles).
    pub fn fnir(&self, threshold: f64) -> f64 {
        let q = &self.genuine_quantiles;
        match q.iter().position(|&(_, s)| s >= threshold) {
            Some(0) => q[0].0 * (threshold - 0.0).max(0.0) / q[0].1.max(1e-9),
            Some(i) => {
                let ((f0, s0), (f1, s1)) = (q[i - 1], q[i]);
                f0 + (f1 - f0) * (threshold - s0) / (s1 - s0).max(1e-12)
            }
            // Above the highest measured quantile: assume nobody passes.
            None => 1.0,
        }
    }

    /// The text form stored next to a gallery: `key value` lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "palmline-calibration 1\nfingerprint {:08x}\ntail_start {}\ntail_share {}\ntail_scale {}\nimpostor_pairs {}\ngenuine_pairs {}\n",
            self.fingerprint,
            self.tail_start,
            self.tail_share,
            self.tail_scale,
            self.impostor_pairs,
            self.genuine_pairs
        );
        for (f, s) in &self.genuine_quantiles {
            out += &format!("genuine {f} {s}\n");
        }
        out
    }

    pub fn from_text(text: &str) -> Result<Calibration, IndexError> {
        let bad = |why: String| IndexError::Calibration(why);
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some("palmline-calibration 1") {
            return Err(bad("not a palmline calibration file (version 1)".into()));
        }
        let mut c = Calibration {
            fingerprint: 0,
            tail_start: f64::NAN,
            tail_share: f64::NAN,
            tail_scale: f64::NAN,
            genuine_quantiles: Vec::new(),
            impostor_pairs: 0,
            genuine_pairs: 0,
        };
        for (n, line) in lines.enumerate() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| -> Result<f64, IndexError> {
                parts
                    .get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(format!("line {}: bad number", n + 2)))
            };
            match parts.first().copied() {
                None => {}
                Some("fingerprint") => {
                    c.fingerprint = parts
                        .get(1)
                        .and_then(|v| u32::from_str_radix(v, 16).ok())
                        .ok_or_else(|| bad(format!("line {}: bad fingerprint", n + 2)))?
                }
                Some("tail_start") => c.tail_start = num(1)?,
                Some("tail_share") => c.tail_share = num(1)?,
                Some("tail_scale") => c.tail_scale = num(1)?,
                Some("impostor_pairs") => c.impostor_pairs = num(1)? as u64,
                Some("genuine_pairs") => c.genuine_pairs = num(1)? as u64,
                Some("genuine") => c.genuine_quantiles.push((num(1)?, num(2)?)),
                Some(other) => return Err(bad(format!("line {}: unknown key {other:?}", n + 2))),
            }
        }
        if !(c.tail_start.is_finite()
            && c.tail_share > 0.0
            && c.tail_share <= 1.0
            && c.tail_scale > 0.0)
            || c.genuine_quantiles.is_empty()
        {
            return Err(bad("missing or invalid tail or genuine figures".into()));
        }
        Ok(c)
    }
}

/// What a search may conclude.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub calibration: Calibration,
    /// Acceptable chance that one search names the wrong person (default 1e-6).
    pub target_fpir: f64,
    /// Largest share of genuine searches the threshold may turn away before a hint is required.
    pub max_fnir: f64,
    /// The two best people closer than this in similarity: ambiguous, decide nothing.
    pub ambiguity_margin: f64,
}

/// The threshold the policy sets for one search, with what it costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub similarity: f64,
    /// Per-comparison FMR at that threshold, and the resulting FPIR for the searched size.
    pub fmr: f64,
    pub fpir: f64,
    /// Expected share of enrolled people not found at that threshold.
    pub fnir: f64,
    /// True when the FNIR is above the policy's limit: narrow the search first.
    pub needs_hint: bool,
}

/// The serial decision for one search: the first hand decides alone when it clears its
/// threshold; otherwise the till asks for the other hand and both decide together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Serial {
    /// The first hand's threshold, under half the FPIR budget.
    pub first: Threshold,
    /// Both hands' fused threshold, under the other half.
    pub both: Threshold,
    /// Share of genuine attempts the first hand decides alone.
    pub decided_first: f64,
    /// Share of genuine attempts neither stage names: at most the smaller of the two stages'
    /// own rates (a person is turned away only when both turn them away).
    pub fnir: f64,
    /// Chance of naming a wrong person at either stage (at most the sum of the two).
    pub fpir: f64,
    /// True when `fnir` is above the limit: a hint is still needed.
    pub needs_hint: bool,
}

impl Serial {
    /// The decision for `searched` palms with `first` (one hand) then `both` (two hands fused),
    /// the target FPIR split evenly between the two stages.
    pub fn new(first: &Policy, both: &Policy, searched: usize) -> Serial {
        Serial::split(first, both, searched, 0.5)
    }

    /// The same with `first_share` (between 0 and 1, exclusive) of the target FPIR given to the
    /// first hand and the rest to both hands: a larger share lets the first hand decide more
    /// attempts alone and leaves both hands a higher threshold.
    pub fn split(first: &Policy, both: &Policy, searched: usize, first_share: f64) -> Serial {
        let share = first_share.clamp(1e-9, 1.0 - 1e-9);
        let part = |p: &Policy, share: f64| Policy {
            target_fpir: p.target_fpir * share,
            ..p.clone()
        };
        let (one, two) = (
            part(first, share).threshold(searched),
            part(both, 1.0 - share).threshold(searched),
        );
        let fnir = one.fnir.min(two.fnir);
        Serial {
            first: one,
            both: two,
            decided_first: 1.0 - one.fnir,
            fnir,
            fpir: one.fpir + two.fpir,
            needs_hint: fnir > first.max_fnir,
        }
    }
}

impl Policy {
    pub fn new(calibration: Calibration) -> Policy {
        Policy {
            calibration,
            target_fpir: 1e-6,
            max_fnir: 0.05,
            ambiguity_margin: 0.02,
        }
    }

    /// The calibration the policy decides with.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The threshold for a search among `searched` palms.
    pub fn threshold(&self, searched: usize) -> Threshold {
        let n = searched.max(1) as f64;
        // 1 - (1 - fmr)^n = target  <=>  fmr = 1 - (1 - target)^(1/n), computed stably.
        let fmr = -(-self.target_fpir).ln_1p() / n;
        let fmr = -(-fmr).exp_m1();
        let similarity = self.calibration.threshold_for_fmr(fmr);
        let fmr_at = self.calibration.fmr(similarity);
        let fpir = -(n * (-fmr_at).ln_1p()).exp_m1();
        let fnir = self.calibration.fnir(similarity);
        Threshold {
            similarity,
            fmr: fmr_at,
            fpir,
            fnir,
            needs_hint: fnir > self.max_fnir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Impostor scores with an exact exponential tail: the fit must recover it.
    fn synthetic() -> Calibration {
        let n = 100_000;
        // Quantile function of: 99% uniform on [0.4, 0.6), 1% 0.6 + Exp(scale 0.02).
        let impostor: Vec<f64> = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                if u < 0.99 {
                    0.4 + 0.2 * u / 0.99
                } else {
                    0.6 - 0.02 * ((1.0 - u) / 0.01).ln()
                }
            })
            .collect();
        let genuine: Vec<f64> = (0..1000).map(|i| 0.85 + 0.15 * i as f64 / 1000.0).collect();
        Calibration::fit(0xabcd, &genuine, &impostor).unwrap()
    }

    #[test]
    fn the_fit_recovers_a_known_tail_and_picks_the_expected_threshold() {
        let c = synthetic();
        assert!((c.tail_start - 0.6).abs() < 1e-3, "{}", c.tail_start);
        assert!((c.tail_scale - 0.02).abs() < 1e-3, "{}", c.tail_scale);
        // FMR 1e-6 => 0.6 + 0.02 ln(0.01 / 1e-6) = 0.6 + 0.02 * 9.21 = 0.784
        assert!((c.threshold_for_fmr(1e-6) - 0.7842).abs() < 3e-3);
        let policy = Policy::new(c);
        // One million palms at FPIR 1e-6 need FMR 1e-12: 0.6 + 0.02 ln(1e10) = 1.06, beyond any
        // genuine score: the policy must ask for a narrowing hint.
        let t = policy.threshold(1_000_000);
        assert!((t.similarity - 1.0605).abs() < 3e-3, "{}", t.similarity);
        assert!(t.needs_hint);
        assert!(t.fpir <= 1.0001e-6);
        // One palm (a narrowed bucket): FMR 1e-6 => 0.784, below every genuine score (0.85..1.0).
        let t = policy.threshold(1);
        assert!(
            (t.similarity - 0.7842).abs() < 3e-3 && t.fnir < 0.001 && !t.needs_hint,
            "{t:?}"
        );
        // 100 palms: FMR 1e-8 => 0.6 + 0.02 ln(1e6) = 0.876, which turns away ~17% of genuine
        // searches (0.85..1.0 uniform): over the 5% limit.
        let t = policy.threshold(100);
        assert!(
            (t.similarity - 0.8763).abs() < 3e-3 && t.needs_hint,
            "{t:?}"
        );
    }

    /// Fused scores: 99.5% of impostor pairs sit exactly on the floor, the rest has an
    /// exponential tail of scale 0.01 above it. The fit must see that tail (share 0.5%, scale
    /// 0.01), not average in the floor's zeros, and its check must agree with the scores.
    #[test]
    fn a_tail_above_a_floor_of_tied_scores_keeps_its_scale() {
        let n = 200_000;
        let floor = 0.65;
        let impostor: Vec<f64> = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                if u < 0.995 {
                    floor
                } else {
                    floor - 0.01 * ((1.0 - u) / 0.005).ln()
                }
            })
            .collect();
        let genuine: Vec<f64> = (0..100).map(|i| 0.8 + 0.001 * i as f64).collect();
        let c = Calibration::fit(1, &genuine, &impostor).unwrap();
        assert_eq!(c.tail_start, floor);
        assert!((c.tail_share - 0.005).abs() < 1e-4, "{}", c.tail_share);
        assert!((c.tail_scale - 0.01).abs() < 5e-4, "{}", c.tail_scale);
        let checks = c.tail_check(&impostor);
        // 1e-2 falls on the floor, below the tail; 1e-5 is two scores: 1e-3 and 1e-4 are checked.
        assert_eq!(checks.len(), 2, "{checks:?}");
        for (observed, at, modelled) in checks {
            assert!(
                (modelled / observed - 1.0).abs() < 0.2,
                "at {at}: observed {observed}, modelled {modelled}"
            );
        }
    }

    #[test]
    fn the_serial_decision_splits_the_budget_and_asks_the_second_hand_for_the_rest() {
        let first = Policy::new(synthetic());
        // Both hands: the same impostor tail, genuine scores higher (1.0 to 1.15).
        let mut both = synthetic();
        both.genuine_quantiles.iter_mut().for_each(|q| q.1 += 0.15);
        let both = Policy::new(both);
        let s = Serial::new(&first, &both, 100);
        // Each stage works to half the budget: its threshold is higher than a lone stage's.
        assert!(s.first.similarity > first.threshold(100).similarity);
        assert!(
            s.first.fpir <= 0.5e-6 * 1.0001 && s.fpir <= 1.0001e-6,
            "{s:?}"
        );
        assert!((s.decided_first - (1.0 - s.first.fnir)).abs() < 1e-12);
        assert!(s.fnir <= s.first.fnir && s.fnir <= s.both.fnir);
        // More of the budget to the first hand: it decides more alone, both hands fewer.
        let leaning = Serial::split(&first, &both, 100, 0.9);
        assert!(leaning.first.similarity < s.first.similarity, "{leaning:?}");
        assert!(leaning.both.similarity > s.both.similarity, "{leaning:?}");
        assert!(leaning.decided_first >= s.decided_first && leaning.fpir <= 1.0001e-6);
        assert_eq!(Serial::split(&first, &both, 100, 0.5), s);
        // The first hand alone turns away over 5% at 100 palms; the second hand rescues them.
        assert!(s.first.needs_hint && !s.needs_hint, "{s:?}");
        // Every shipped fused calibration reads, measured with the engine these were fitted for.
        let shipped = Calibration::from_text(SHIPPED_CALIBRATION).unwrap();
        for ((hands, frames), _) in FUSED_CALIBRATIONS {
            let c = Calibration::fused(*hands, *frames).unwrap().unwrap();
            assert_eq!(
                c.fingerprint, shipped.fingerprint,
                "{hands} hands, {frames} frames"
            );
        }
        let bands = Calibration::from_text(TWO_BAND_CALIBRATION).unwrap();
        assert_eq!(bands.fingerprint, shipped.fingerprint, "two bands");
        assert!(Calibration::fused(2, 7).is_none());
    }

    #[test]
    fn text_round_trip_and_bad_files() {
        let c = synthetic();
        assert_eq!(
            Calibration::from_text(&c.to_text()).unwrap().tail_scale,
            c.tail_scale
        );
        assert!(Calibration::from_text("hello").is_err());
        assert!(Calibration::from_text("palmline-calibration 1\ntail_start x\n").is_err());
        assert!(Calibration::from_text("palmline-calibration 1\nfingerprint 1\n").is_err());
    }
}
