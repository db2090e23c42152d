//! `palmline policy`: the open-set thresholds the index would use at given gallery sizes; with
//! `--hands` / `--frames`, the same for fused evidence, and for two hands the serial decision
//! (the first hand alone, then both for the attempts it leaves).

use anyhow::{Result, bail};
use palm_engine::Engine;
use palm_index::{Calibration, FUSED_CALIBRATIONS, Policy, Serial, TWO_BAND_CALIBRATION};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PolicyArgs {
    /// Gallery (or narrowed bucket) sizes to show.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,100,10000,1000000,10000000,100000000"
    )]
    pub sizes: Vec<usize>,
    /// Target chance that one search names the wrong person.
    #[arg(long, default_value_t = 1e-6)]
    pub fpir: f64,
    /// Calibration file (default: the one shipped with palm-index).
    #[arg(long, conflicts_with_all = ["hands", "frames", "bands"])]
    pub calibration: Option<PathBuf>,
    /// Hands a person presents: 1, or 2 for the serial decision (the first hand decides alone
    /// when it can, the second is asked for the rest). Uses the shipped fused calibrations.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub hands: Option<u8>,
    /// Frames in one hover (shipped fused calibrations: 1 and 3).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=20))]
    pub frames: Option<u8>,
    /// Light bands of one capture: 2 is visible light and near infrared (850 nm) fused, for a
    /// scanner with both (shipped calibration: one hand, one frame).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub bands: Option<u8>,
    /// With `--hands 2`: the share of the FPIR budget given to the first hand alone (the rest
    /// goes to both hands together). Default 0.5.
    #[arg(long)]
    pub first_share: Option<f64>,
    /// One JSON object per size instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PolicyArgs) -> Result<()> {
    if !(args.fpir > 0.0 && args.fpir < 1.0) {
        bail!("--fpir must be between 0 and 1 (exclusive)");
    }
    if let Some(share) = args.first_share {
        if args.hands != Some(2) {
            bail!("--first-share splits the serial decision's budget: it needs --hands 2");
        }
        if !(share > 0.0 && share < 1.0) {
            bail!("--first-share must be between 0 and 1 (exclusive)");
        }
    }
    if args.bands == Some(2) {
        if args.hands.unwrap_or(1) != 1 || args.frames.unwrap_or(1) != 1 {
            bail!(
                "two bands are calibrated for one hand and one frame only (--hands 1 --frames 1); \
                 measure others with `palmline eval --fuse bands --write-fused-calibration`"
            );
        }
        let policy = at_fpir(
            checked(Calibration::from_text(TWO_BAND_CALIBRATION)?)?,
            args.fpir,
        );
        one_stage(
            &policy,
            &args,
            "one hand, visible and near-infrared bands",
            "people",
            (1, 2),
        );
        return Ok(());
    }
    if args.hands.is_some() || args.frames.is_some() {
        return fused(&args, args.hands.unwrap_or(1), args.frames.unwrap_or(1));
    }
    let mut policy = crate::identify::policy(&Engine::default(), args.calibration.as_deref())?;
    policy.target_fpir = args.fpir;
    one_stage(&policy, &args, "calibration", "palms", (1, 1));
    Ok(())
}

/// The table (or JSON lines) of a decision by one piece of evidence (of one hand, `frames` a
/// hover and `bands` light bands).
fn one_stage(
    policy: &Policy,
    args: &PolicyArgs,
    what: &str,
    counted: &str,
    (frames, bands): (u8, u8),
) {
    if !args.json {
        describe(what, &policy.calibration);
        println!(
            "{counted:>12}  {:>9}  {:>10}  {:>9}  {:>14}",
            "threshold", "FMR", "FNIR", "decision"
        );
    }
    for n in &args.sizes {
        let t = policy.threshold(*n);
        if args.json {
            println!(
                "{}",
                json!({"palms": n, "hands": 1, "frames": frames, "bands": bands, "threshold": t.similarity,
                       "fmr": t.fmr, "fpir": t.fpir, "fnir": t.fnir, "needs_hint": t.needs_hint})
            );
            continue;
        }
        println!(
            "{n:>12}  {:>9.4}  {:>10.2e}  {:>8.2}%  {:>14}",
            t.similarity,
            t.fmr,
            t.fnir * 100.0,
            decision(t.needs_hint)
        );
    }
}

fn decision(needs_hint: bool) -> &'static str {
    if needs_hint {
        "needs a hint"
    } else {
        "decides"
    }
}

fn describe(what: &str, c: &Calibration) {
    println!(
        "{what}: impostor tail from {:.4} ({:.3}% of {} pairs), scale {:.5}; {} genuine pairs",
        c.tail_start,
        c.tail_share * 100.0,
        c.impostor_pairs,
        c.tail_scale,
        c.genuine_pairs
    );
}

/// A shipped fused calibration, checked against the engine it will judge.
fn shipped(hands: u8, frames: u8) -> Result<Calibration> {
    let Some(calibration) = Calibration::fused(hands, frames) else {
        let have: Vec<String> = FUSED_CALIBRATIONS
            .iter()
            .map(|((h, f), _)| format!("--hands {h} --frames {f}"))
            .collect();
        bail!(
            "no calibration is shipped for {hands} hand(s) and {frames} frame(s); shipped: {} \
             (measure others with `palmline eval --fuse ... --write-fused-calibration`)",
            have.join(", ")
        );
    };
    checked(calibration?)
}

/// The policy of a calibration at the FPIR asked for.
fn at_fpir(c: Calibration, target_fpir: f64) -> Policy {
    Policy {
        target_fpir,
        ..Policy::new(c)
    }
}

/// A shipped calibration, refused when it was measured with other engine parameters.
fn checked(c: Calibration) -> Result<Calibration> {
    let engine = Engine::default().params().fingerprint();
    if c.fingerprint != engine {
        bail!(
            "the shipped fused calibration was measured with engine parameters {:08x}, these are {engine:08x}",
            c.fingerprint
        );
    }
    Ok(c)
}

fn fused(args: &PolicyArgs, hands: u8, frames: u8) -> Result<()> {
    let first = at_fpir(shipped(1, frames)?, args.fpir);
    if hands == 1 {
        let what = format!("one hand, {frames} frame(s)");
        one_stage(&first, args, &what, "people", (frames, 1));
        return Ok(());
    }
    let both = at_fpir(shipped(2, frames)?, args.fpir);
    let first_share = args.first_share.unwrap_or(0.5);
    if !args.json {
        describe(
            &format!("first hand, {frames} frame(s)"),
            &first.calibration,
        );
        describe(&format!("both hands, {frames} frame(s)"), &both.calibration);
        println!(
            "FPIR {:.0e} split {:.0}/{:.0} between the first hand and both hands; FNIR is at most \
             the smaller stage's",
            args.fpir,
            first_share * 100.0,
            (1.0 - first_share) * 100.0
        );
        println!(
            "{:>12}  {:>11}  {:>11}  {:>13}  {:>9}  {:>14}",
            "people", "first hand", "both hands", "first decides", "FNIR", "decision"
        );
    }
    for n in &args.sizes {
        let s = Serial::split(&first, &both, *n, first_share);
        if args.json {
            println!(
                "{}",
                json!({"palms": n, "hands": 2, "frames": frames,
                       "first_threshold": s.first.similarity, "both_threshold": s.both.similarity,
                       "first_fnir": s.first.fnir, "both_fnir": s.both.fnir,
                       "decided_by_first_hand": s.decided_first, "first_share": first_share,
                       "fpir": s.fpir, "fnir": s.fnir, "needs_hint": s.needs_hint})
            );
            continue;
        }
        println!(
            "{n:>12}  {:>11.4}  {:>11.4}  {:>12.1}%  {:>8.2}%  {:>14}",
            s.first.similarity,
            s.both.similarity,
            s.decided_first * 100.0,
            s.fnir * 100.0,
            decision(s.needs_hint)
        );
    }
    Ok(())
}
