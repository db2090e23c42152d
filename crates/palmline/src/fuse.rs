//! `palmline eval --fuse hands|frames`: verification of fused evidence, reported with the same
//! keys as a one-hand verification plus `fused_by` and `fusion_floor`. Hands: two-hand
//! presentations, each pair scored by the fused similarity of its two hands
//! (palm_eval::fuse_hands, each hand counted from the calibration's impostor tail start), with
//! `presentations` and the two hands' score correlations. Frames: each palm's enrolment against
//! bursts of `frames` later captures (palm_eval::fuse_frames), with `palms`, `bursts`, `frames`
//! and the same protocol's one-frame figures (`one_frame`) to compare with.

use crate::figures::Report;
use palm_eval::{Dataset, PairScores, verification};
use serde_json::json;

/// What several pieces of evidence of one person are fused over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FuseBy {
    /// A person's left and right hands (sets whose manifest has `person` and `hand` columns).
    Hands,
    /// Several frames of one hover of a palm, against its enrolment capture.
    Frames,
}

/// How to fuse: over what, from which floor (where each piece of evidence starts: the
/// calibration's impostor tail start), and how many frames make a hover.
#[derive(Clone, Copy, Debug)]
pub struct Fusion {
    pub by: FuseBy,
    pub floor: f64,
    pub frames: usize,
}

/// The fused report of a set, or `None` (said on stderr) when the set cannot be fused.
pub fn report(how: Fusion, set: &Dataset, scores: &PairScores) -> Option<Report> {
    match how.by {
        FuseBy::Hands => hands(set, scores, how.floor),
        FuseBy::Frames => frames(set, scores, how.floor, how.frames),
    }
}

fn frames(set: &Dataset, scores: &PairScores, floor: f64, k: usize) -> Option<Report> {
    let fused = palm_eval::fuse_frames(set, scores, floor, k);
    if fused.bursts == 0 {
        eprintln!(
            "{}: no palm has {} captures after its first: nothing to fuse by frames",
            set.name, k
        );
        return None;
    }
    let v = verification(&fused.genuine, &fused.impostor);
    let one = palm_eval::fuse_frames(set, scores, floor, 1);
    let one = verification(&one.genuine, &one.impostor);
    let json = crate::figures::with_verification(
        &v,
        json!({
        "set": set.name,
        "mode": "verify",
        "fused_by": "frames",
        "fusion": "each palm's first capture against the mean of a hover's frames, each counted from the impostor tail start",
        "fusion_floor": floor,
        "frames": k,
        "images": set.entries.len(),
        "palms": fused.palms,
        "bursts": fused.bursts,
        "one_frame": {
            "eer": one.eer,
            "fnmr_at_fmr_1e3": one.fnmr_at_fmr[1],
            "fnmr_at_fmr_1e4": one.fnmr_at_fmr[2],
        },
        }),
    );
    Some(Report {
        name: format!("{} ({k} frames a hover)", set.name),
        images: set.entries.len(),
        verification: Some(v),
        json,
    })
}

fn hands(set: &Dataset, scores: &PairScores, floor: f64) -> Option<Report> {
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
    if j["fused_by"] == "frames" {
        let one = |k: &str| {
            j["one_frame"][k]
                .as_f64()
                .map_or("n/a".to_string(), |v| format!("{:.4}%", v * 100.0))
        };
        println!("{}", r.name);
        println!(
            "  palms {}  bursts {}  genuine pairs {}  impostor pairs {}  (each frame from {:.4})",
            j["palms"],
            j["bursts"],
            j["genuine_pairs"],
            j["impostor_pairs"],
            j["fusion_floor"].as_f64().unwrap_or(f64::NAN)
        );
        println!(
            "  EER {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}  d' {:.3}",
            pct("eer"),
            pct("fnmr_at_fmr_1e3"),
            pct("fnmr_at_fmr_1e4"),
            j["dprime"].as_f64().unwrap_or(f64::NAN)
        );
        println!(
            "  one frame, same protocol: EER {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}",
            one("eer"),
            one("fnmr_at_fmr_1e3"),
            one("fnmr_at_fmr_1e4")
        );
        return;
    }
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
