//! `palmline demo`: the whole engine on synthetic palms, end to end, with no data and no server.
//! Enrols a few synthetic people from full-hand photos, then identifies new captures of some of
//! them and of strangers, printing each decision.

use anyhow::Result;
use palm_engine::{DEFAULT_THRESHOLD, Engine, Template};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use rayon::prelude::*;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// People to enrol.
    #[arg(long, default_value_t = 20)]
    pub people: u64,
    /// Strangers (never enrolled) who try to pass.
    #[arg(long, default_value_t = 10)]
    pub strangers: u64,
}

const HAND: Scene = Scene::Hand {
    width: 800,
    height: 600,
};

pub fn run(args: DemoArgs) -> Result<()> {
    let engine = Engine::default();
    println!(
        "enrolling {} synthetic people from full-hand photos...",
        args.people
    );
    let gallery: Vec<(u64, Template)> = (1..=args.people)
        .into_par_iter()
        .map(|seed| {
            Ok((
                seed,
                engine.enrol_template(&png_bytes(
                    &Identity::new(seed).render(HAND, Capture::new(1)),
                ))?,
            ))
        })
        .collect::<Result<_>>()?;
    // Half the enrolled come back (a new capture, cluttered background), plus the strangers.
    let probes: Vec<(u64, bool)> = (1..=args.people)
        .step_by(2)
        .map(|s| (s, true))
        .chain((1..=args.strangers).map(|s| (100_000 + s, false)))
        .collect();
    println!(
        "identifying {} captures (threshold {DEFAULT_THRESHOLD})...",
        probes.len()
    );
    let mut right = 0;
    for (seed, enrolled) in &probes {
        let bytes = png_bytes(&Identity::new(*seed).render(HAND, Capture::new(7).with_clutter()));
        let probe = match engine.template(&bytes) {
            Ok(t) => t,
            Err(e) => {
                println!("  person {seed:>6}: no template ({e})");
                continue;
            }
        };
        let best = gallery
            .iter()
            .map(|(id, t)| Ok((*id, engine.similarity(&probe, t)?)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let (decision, correct) = match best {
            Some((id, s)) if s >= DEFAULT_THRESHOLD => (
                format!("matched person {id} (similarity {s:.3})"),
                *enrolled && id == *seed,
            ),
            Some((_, s)) => (format!("no match (best similarity {s:.3})"), !enrolled),
            None => ("no match (empty gallery)".to_string(), !enrolled),
        };
        right += correct as usize;
        let who = if *enrolled { "enrolled" } else { "stranger" };
        println!(
            "  person {seed:>6} ({who}): {decision}{}",
            if correct { "" } else { "  <- WRONG" }
        );
    }
    println!("{right} of {} decisions correct", probes.len());
    Ok(())
}
