//! `palmline policy`: the open-set thresholds the index would use at given gallery sizes.

use anyhow::Result;
use palm_engine::Engine;
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
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

pub fn run(args: PolicyArgs) -> Result<()> {
    if !(args.fpir > 0.0 && args.fpir < 1.0) {
        anyhow::bail!("--fpir must be between 0 and 1 (exclusive)");
    }
    let mut policy = crate::identify::policy(&Engine::default(), args.calibration.as_deref())?;
    policy.target_fpir = args.fpir;
    let c = &policy.calibration;
    println!(
        "calibration: impostor tail from {:.4} ({:.2}% of {} pairs), scale {:.5}; {} genuine pairs",
        c.tail_start,
        c.tail_share * 100.0,
        c.impostor_pairs,
        c.tail_scale,
        c.genuine_pairs
    );
    println!(
        "{:>12}  {:>9}  {:>10}  {:>9}  {:>14}",
        "palms", "threshold", "FMR", "FNIR", "decision"
    );
    for n in args.sizes {
        let t = policy.threshold(n);
        println!(
            "{n:>12}  {:>9.4}  {:>10.2e}  {:>8.2}%  {:>14}",
            t.similarity,
            t.fmr,
            t.fnir * 100.0,
            if t.needs_hint {
                "needs a hint"
            } else {
                "decides"
            }
        );
    }
    Ok(())
}
