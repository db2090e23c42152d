//! `palmline eval --fuse hands`: verification of two-hand presentations, each pair scored by the
//! fused similarity of its two hands (palm_eval::fuse_hands, each hand counted from the
//! calibration's impostor tail start), reported with the same keys as a one-hand verification
//! plus `fused_by`, `presentations`, `fusion_floor` and the two hands' score correlations.

use crate::figures::Report;
use palm_eval::{Dataset, PairScores, verification};
use serde_json::json;

/// What several pieces of evidence of one person are fused over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FuseBy {
    /// A person's left and right hands (sets whose manifest has `person` and `hand` columns).
    Hands,
}

/// The fused report of a set, or `None` (said on stderr) when the set cannot be fused.
/// `floor`: where each hand's evidence starts (the calibration's impostor tail start).
pub fn report(by: FuseBy, set: &Dataset, scores: &PairScores, floor: f64) -> Option<Report> {
    let FuseBy::Hands = by;
    let Some(fused) = palm_eval::fuse_hands(set, scores, floor) else {
        eprintln!(
            "{}: the manifest has no person, hand and sample columns: nothing to fuse by hands",
            set.name
        );
        return None;
    };
    if fused.presentations == 0 {
        eprintln!(
            "{}: no person has a left and a right capture with the same sample",
            set.name
        );
        return None;
    }
    let v = verification(&fused.genuine, &fused.impostor);
    // The plain sum rule beside it, so the floor's effect is seen on every set.
    let plain =
        palm_eval::fuse_hands(set, scores, 0.0).map(|f| verification(&f.genuine, &f.impostor));
    let name = format!("{} (both hands)", set.name);
    let json = crate::figures::with_verification(
        &v,
        json!({
        "set": set.name,
        "mode": "verify",
        "fused_by": "hands",
        "fusion": "mean of the two hands' similarities, each counted from the impostor tail start",
        "fusion_floor": floor,
        "images": set.entries.len(),
        "presentations": fused.presentations,
        "impostor_hand_correlation": fused.impostor_hand_correlation,
        "genuine_hand_correlation": fused.genuine_hand_correlation,
        "sum_rule": plain.map(|p| json!({
            "eer": p.eer,
            "fnmr_at_fmr_1e3": p.fnmr_at_fmr[1],
            "fnmr_at_fmr_1e4": p.fnmr_at_fmr[2],
        })),
        }),
    );
    Some(Report {
        name,
        images: set.entries.len(),
        verification: Some(v),
        json,
    })
}

/// The human-readable lines of a fused report.
pub fn print(r: &Report) {
    let j = &r.json;
    let pct = |k: &str| {
        j[k].as_f64()
            .map_or("n/a".to_string(), |v| format!("{:.4}%", v * 100.0))
    };
    let corr = |k: &str| {
        j[k].as_f64()
            .map_or("n/a".to_string(), |v| format!("{v:.3}"))
    };
    println!("{}", r.name);
    println!(
        "  presentations {}  genuine pairs {}  impostor pairs {}  (fused: mean of both hands, each from {:.4})",
        j["presentations"],
        j["genuine_pairs"],
        j["impostor_pairs"],
        j["fusion_floor"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "  EER {}  FNMR@FMR1e-2 {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}  d' {:.3}",
        pct("eer"),
        pct("fnmr_at_fmr_1e2"),
        pct("fnmr_at_fmr_1e3"),
        pct("fnmr_at_fmr_1e4"),
        j["dprime"].as_f64().unwrap_or(f64::NAN)
    );
    let plain = &j["sum_rule"];
    let plain_pct = |k: &str| {
        plain[k]
            .as_f64()
            .map_or("n/a".to_string(), |v| format!("{:.4}%", v * 100.0))
    };
    println!(
        "  plain mean of both hands (no floor): EER {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}",
        plain_pct("eer"),
        plain_pct("fnmr_at_fmr_1e3"),
        plain_pct("fnmr_at_fmr_1e4")
    );
    println!(
        "  left/right hand score correlation: impostor pairs {}, genuine pairs {}",
        corr("impostor_hand_correlation"),
        corr("genuine_hand_correlation")
    );
}
