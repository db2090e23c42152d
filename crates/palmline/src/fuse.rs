//! `palmline eval --fuse hands|frames|bands|templates`: verification of fused evidence, reported with the same
//! keys as a one-hand verification plus `fused_by` and `fusion_floor`. Hands: two-hand
//! presentations, each pair scored by the fused similarity of its two hands
//! (palm_eval::fuse_hands, each hand counted from the calibration's impostor tail start), with
//! `presentations` and the two hands' score correlations. Frames: each palm's enrolment against
//! bursts of `frames` later captures (palm_eval::fuse_frames), with `palms`, `bursts`, `frames`
//! and the same protocol's one-frame figures (`one_frame`) to compare with. Hands with
//! `--frames K`: each person's two enrolment captures against hovers of `K` frames of each hand
//! (palm_eval::fuse_hand_bursts), with `people`, `bursts`, `frames` and `one_frame`. Bands: each
//! capture's images in several light bands (palm_eval::fuse_bands), with `bands`,
//! `presentations` and each two bands' impostor score correlation. Templates: each palm's best
//! `--templates` of its first three captures enrolled (palm_eval::enrol_best), with `palms`,
//! `probes` and the one-template figures (`one_template`).
//!
//! The fused scores of every set can be fitted into a calibration (`--write-fused-calibration`):
//! what `palmline policy --hands --frames` decides with.

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
    /// A capture's images in several light bands (sets with `modality`, `person` and `hand`
    /// columns, such as casia-ms).
    Bands,
    /// Several enrolled templates of a palm: the best `--templates` of its first three
    /// captures (a sign-up's), each later capture scored by its best against them.
    Templates,
}

/// Captures a sign-up offers per hand in the `templates` protocol (the kiosk takes three).
pub const OFFERED_CAPTURES: usize = 3;

/// How to fuse: over what, from which floor (where each piece of evidence starts: the
/// calibration's impostor tail start), and how many frames make a hover.
#[derive(Clone, Copy, Debug)]
pub struct Fusion {
    pub by: FuseBy,
    pub floor: f64,
    /// Frames a hover: `--fuse frames` takes 3 when absent; `--fuse hands` compares two-hand
    /// presentations when absent and hovers of both hands when given.
    pub frames: Option<usize>,
    /// Templates kept per palm for `templates` (default 2).
    pub templates: Option<usize>,
}

/// A set's fused report and the fused scores behind it (`None` where a side failed to acquire).
pub struct Fused {
    pub report: Report,
    pub genuine: Vec<Option<f64>>,
    pub impostor: Vec<Option<f64>>,
}

impl Fused {
    fn new(
        name: String,
        set: &Dataset,
        v: palm_eval::Verification,
        json: serde_json::Value,
        genuine: Vec<Option<f64>>,
        impostor: Vec<Option<f64>>,
    ) -> Fused {
        let report = Report {
            name,
            images: set.entries.len(),
            verification: Some(v),
            json,
        };
        Fused {
            report,
            genuine,
            impostor,
        }
    }
}

/// The fused report of a set, or `None` (said on stderr) when the set cannot be fused.
pub fn report(how: Fusion, set: &Dataset, scores: &PairScores) -> Option<Fused> {
    match (how.by, how.frames) {
        (FuseBy::Hands, None) => hands(set, scores, how.floor),
        (FuseBy::Hands, Some(k)) => bursts(set, scores, how.floor, k, true),
        (FuseBy::Frames, k) => bursts(set, scores, how.floor, k.unwrap_or(3), false),
        // Bands join several subsets of a set: `bands` below.
        (FuseBy::Bands, _) => None,
        (FuseBy::Templates, _) => templates(set, scores, how.templates.unwrap_or(2)),
    }
}

/// Each palm's best `keep` of its first captures enrolled, later captures scored by their best
/// against them, beside the same protocol with one template.
fn templates(set: &Dataset, scores: &PairScores, keep: usize) -> Option<Fused> {
    let kept = palm_eval::enrol_best(set, scores, OFFERED_CAPTURES, keep);
    if kept.probes == 0 {
        eprintln!(
            "{}: no palm has a capture after its first {OFFERED_CAPTURES}: nothing to fuse by templates",
            set.name
        );
        return None;
    }
    let v = verification(&kept.genuine, &kept.impostor);
    let one = palm_eval::enrol_best(set, scores, OFFERED_CAPTURES, 1);
    let one = verification(&one.genuine, &one.impostor);
    let keep = keep.min(OFFERED_CAPTURES);
    let json = crate::figures::with_verification(
        &v,
        json!({
        "set": set.name,
        "mode": "verify",
        "fused_by": "templates",
        "fusion": "each probe's best similarity to the palm's templates: the best-agreeing of its first captures",
        "templates": keep,
        "offered": OFFERED_CAPTURES,
        "images": set.entries.len(),
        "palms": kept.palms,
        "probes": kept.probes,
        "one_template": rates(&one),
        }),
    );
    let name = format!(
        "{} ({keep} of {OFFERED_CAPTURES} captures enrolled)",
        set.name
    );
    Some(Fused::new(name, set, v, json, kept.genuine, kept.impostor))
}

/// The fused report of a set's bands (`subsets`: one per band, with its pair scores), or `None`
/// (said on stderr) when they cannot be fused.
pub fn bands(
    dir: &std::path::Path,
    subsets: &[(Dataset, PairScores)],
    floor: f64,
) -> Option<Fused> {
    let parts: Vec<(&Dataset, &PairScores)> = subsets.iter().map(|(d, s)| (d, s)).collect();
    let Some(fused) = palm_eval::fuse_bands(&parts, floor) else {
        eprintln!(
            "{}: fusing bands needs two bands or more and manifest person, hand and sample columns",
            dir.display()
        );
        return None;
    };
    // The set's own name, as its subsets' names begin (`casia-ms/white`).
    let name = subsets.first().map_or_else(
        || dir.display().to_string(),
        |(d, _)| d.name.split('/').next().unwrap_or(&d.name).to_string(),
    );
    let v = verification(&fused.genuine, &fused.impostor);
    let json = crate::figures::with_verification(
        &v,
        json!({
        "set": name,
        "mode": "verify",
        "fused_by": "bands",
        "fusion": "mean of the bands' similarities of one capture, each counted from the impostor tail start",
        "fusion_floor": floor,
        "bands": fused.bands,
        "images": subsets.iter().map(|(d, _)| d.entries.len()).sum::<usize>(),
        "presentations": fused.presentations,
        "impostor_band_correlations": fused.impostor_correlations.iter().map(|c| json!({
            "bands": [c.bands.0, c.bands.1],
            "impostor": c.impostor,
        })).collect::<Vec<_>>(),
        }),
    );
    let report = Report {
        name: format!("{name} (bands {})", fused.bands.join(" + ")),
        images: subsets.iter().map(|(d, _)| d.entries.len()).sum(),
        verification: Some(v),
        json,
    };
    Some(Fused {
        report,
        genuine: fused.genuine,
        impostor: fused.impostor,
    })
}

/// Hovers of `k` frames (of both hands with `both_hands`) against enrolments.
fn bursts(
    set: &Dataset,
    scores: &PairScores,
    floor: f64,
    k: usize,
    both_hands: bool,
) -> Option<Fused> {
    let fuse = |k| {
        if both_hands {
            palm_eval::fuse_hand_bursts(set, scores, floor, k)
        } else {
            Some(palm_eval::fuse_frames(set, scores, floor, k))
        }
    };
    let Some(fused) = fuse(k) else {
        eprintln!(
            "{}: the manifest has no person and hand columns: nothing to fuse by hands",
            set.name
        );
        return None;
    };
    if fused.bursts == 0 {
        let (what, by) = if both_hands {
            ("person's hand", "hands")
        } else {
            ("palm", "frames")
        };
        eprintln!(
            "{}: no {what} has {k} captures after its first: nothing to fuse by {by}",
            set.name
        );
        return None;
    }
    let v = verification(&fused.genuine, &fused.impostor);
    let one = fuse(1).unwrap_or_default();
    let one = verification(&one.genuine, &one.impostor);
    let (by, subjects, what, name) = if both_hands {
        (
            "hands",
            "people",
            "each person's two enrolment captures against the mean of a hover's frames of both hands, each counted from the impostor tail start",
            format!("{} (both hands, {k} frames a hover)", set.name),
        )
    } else {
        (
            "frames",
            "palms",
            "each palm's first capture against the mean of a hover's frames, each counted from the impostor tail start",
            format!("{} ({k} frames a hover)", set.name),
        )
    };
    let json = crate::figures::with_verification(
        &v,
        json!({
        "set": set.name,
        "mode": "verify",
        "fused_by": by,
        "fusion": what,
        "fusion_floor": floor,
        "frames": k,
        "images": set.entries.len(),
        subjects: fused.palms,
        "bursts": fused.bursts,
        "one_frame": rates(&one),
        }),
    );
    Some(Fused::new(
        name,
        set,
        v,
        json,
        fused.genuine,
        fused.impostor,
    ))
}

fn hands(set: &Dataset, scores: &PairScores, floor: f64) -> Option<Fused> {
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
        "sum_rule": plain.as_ref().map(rates),
        }),
    );
    Some(Fused::new(
        name,
        set,
        v,
        json,
        fused.genuine,
        fused.impostor,
    ))
}

/// The human-readable lines of a fused report.
pub fn print(r: &Report) {
    let j = &r.json;
    println!("{}", r.name);
    if j["fused_by"] == "templates" {
        println!(
            "  palms {}  probes {}  genuine pairs {}  impostor pairs {}",
            j["palms"], j["probes"], j["genuine_pairs"], j["impostor_pairs"]
        );
        print_rates(&format!("{} templates", j["templates"]), j);
        print_rates("one template, same protocol", &j["one_template"]);
        return;
    }
    if j["fused_by"] == "bands" {
        println!(
            "  presentations {}  genuine pairs {}  impostor pairs {}  (fused: mean of the bands, each from {:.4})",
            j["presentations"],
            j["genuine_pairs"],
            j["impostor_pairs"],
            j["fusion_floor"].as_f64().unwrap_or(f64::NAN)
        );
        print_rates("fused", j);
        for c in j["impostor_band_correlations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!(
                "  impostor score correlation {} / {}: {}",
                c["bands"][0].as_str().unwrap_or("?"),
                c["bands"][1].as_str().unwrap_or("?"),
                c["impostor"]
                    .as_f64()
                    .map_or("n/a".to_string(), |v| format!("{v:.3}"))
            );
        }
        return;
    }
    if j["frames"].is_number() {
        let subjects = if j["fused_by"] == "hands" {
            "people"
        } else {
            "palms"
        };
        println!(
            "  {subjects} {}  bursts {}  genuine pairs {}  impostor pairs {}  (each frame from {:.4})",
            j[subjects],
            j["bursts"],
            j["genuine_pairs"],
            j["impostor_pairs"],
            j["fusion_floor"].as_f64().unwrap_or(f64::NAN)
        );
        println!(
            "  EER {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}  d' {:.3}",
            percent(&j["eer"]),
            percent(&j["fnmr_at_fmr_1e3"]),
            percent(&j["fnmr_at_fmr_1e4"]),
            j["dprime"].as_f64().unwrap_or(f64::NAN)
        );
        print_rates("one frame, same protocol", &j["one_frame"]);
        return;
    }
    println!(
        "  presentations {}  genuine pairs {}  impostor pairs {}  (fused: mean of both hands, each from {:.4})",
        j["presentations"],
        j["genuine_pairs"],
        j["impostor_pairs"],
        j["fusion_floor"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "  EER {}  FNMR@FMR1e-2 {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}  d' {:.3}",
        percent(&j["eer"]),
        percent(&j["fnmr_at_fmr_1e2"]),
        percent(&j["fnmr_at_fmr_1e3"]),
        percent(&j["fnmr_at_fmr_1e4"]),
        j["dprime"].as_f64().unwrap_or(f64::NAN)
    );
    print_rates("plain mean of both hands (no floor)", &j["sum_rule"]);
    let corr = |k: &str| {
        j[k].as_f64()
            .map_or("n/a".to_string(), |v| format!("{v:.3}"))
    };
    println!(
        "  left/right hand score correlation: impostor pairs {}, genuine pairs {}",
        corr("impostor_hand_correlation"),
        corr("genuine_hand_correlation")
    );
}

/// The rates a fused report compares itself with (`one_frame`, `sum_rule`), as `print_rates`
/// reads them.
fn rates(v: &palm_eval::Verification) -> serde_json::Value {
    json!({
        "eer": v.eer,
        "fnmr_at_fmr_1e3": v.fnmr_at_fmr[1],
        "fnmr_at_fmr_1e4": v.fnmr_at_fmr[2],
    })
}

/// A comparison line: the EER and FNMR at FMR 1e-3 and 1e-4 of `rates` (`one_frame`, `sum_rule`).
fn print_rates(label: &str, rates: &serde_json::Value) {
    println!(
        "  {label}: EER {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}",
        percent(&rates["eer"]),
        percent(&rates["fnmr_at_fmr_1e3"]),
        percent(&rates["fnmr_at_fmr_1e4"])
    );
}

/// A rate as a percentage with four decimals, or `n/a` when it could not be measured.
fn percent(v: &serde_json::Value) -> String {
    v.as_f64()
        .map_or("n/a".to_string(), |v| format!("{:.4}%", v * 100.0))
}
