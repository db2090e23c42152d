//! `palmline synth`: writes a synthetic palm set laid out like `../shared/datasets`, so that the
//! engine and `palmline eval` can be exercised without real palms.

use anyhow::{Context, Result};
use palm_synth::{Capture, Identity, Scene};
use rayon::prelude::*;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SynthArgs {
    /// Output folder (created; must be empty or missing).
    #[arg(long)]
    pub out: PathBuf,
    /// How many synthetic palms (identities), 1 or more.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub palms: u64,
    /// Captures of each palm, 1 or more.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub captures: u64,
    /// Render full-hand photos (640 x 480) instead of 128 px ROIs.
    #[arg(long)]
    pub hands: bool,
    /// First identity's seed; identities are `seed..seed + palms`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: SynthArgs) -> Result<()> {
    if args.out.exists() && std::fs::read_dir(&args.out)?.next().is_some() {
        anyhow::bail!("{} is not empty: choose a new folder", args.out.display());
    }
    let scene = if args.hands {
        Scene::Hand {
            width: 640,
            height: 480,
        }
    } else {
        Scene::Roi { size: 128 }
    };
    let bar = crate::figures::progress(args.palms * args.captures, "synthetic palms");
    let rows: Vec<String> = (args.seed..args.seed + args.palms)
        .into_par_iter()
        .map(|seed| -> Result<Vec<String>> {
            let id = Identity::new(seed);
            let palm = format!("s{seed:06}");
            std::fs::create_dir_all(args.out.join(&palm))?;
            (1..=args.captures)
                .map(|k| {
                    let mut capture = Capture::new(k);
                    if args.hands && k % 2 == 0 {
                        capture = capture.with_clutter();
                    }
                    let path = format!("{palm}/{k}.png");
                    id.render(scene, capture)
                        .save(args.out.join(&path))
                        .with_context(|| format!("cannot write {path}"))?;
                    bar.inc(1);
                    Ok(format!(
                        "{path},{palm},,{k},{:?},synthetic,palmline synth seed {seed}",
                        id.side
                    )
                    .to_lowercase())
                })
                .collect()
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    bar.finish_and_clear();
    let mut manifest = std::fs::File::create(args.out.join("manifest.csv"))?;
    writeln!(manifest, "path,palm,session,sample,hand,modality,source")?;
    for r in rows {
        writeln!(manifest, "{r}")?;
    }
    eprintln!(
        "wrote {} palms x {} captures to {}",
        args.palms,
        args.captures,
        args.out.display()
    );
    Ok(())
}
