//! `palmline bench identify --gallery N`: 1:N search speed and fast-path agreement at scale.
//!
//! Distractors: 10,000 distinct synthetic identities rendered and coded by the engine, expanded to
//! N by cheap, code-level variation:
//! - the eight rotations and mirror images of each code, with the orientation planes permuted to
//!   match (a quarter turn moves orientation k to k + 3 of 6; a mirror moves k to 6 - k), so each
//!   variant is the code of a plausible palm with the same local statistics and bit balance but a
//!   different layout, and does not match its source under the matcher's small shifts;
//! - beyond 80,000, quadrant mosaics of four such variants: real-looking code regions spliced.
//!   A mosaic shares a quarter with each source, which raises impostor scores a little: the
//!   benchmark is, if anything, harder than a gallery of distinct people.
//!
//! Genuine probes are real images (default ../shared/datasets/tongji-roi): each palm's first image
//! is enrolled among the distractors, the others search for it.

use crate::figures::percentile;
use anyhow::{Context, Result, bail};
use palm_engine::{Engine, GRID, Template};
use palm_index::{Gallery, IndexConfig, PalmId, Search};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct IdentifyBenchArgs {
    /// Palms in the gallery (distractors plus the real palms).
    #[arg(long, default_value_t = 100_000)]
    pub gallery: usize,
    /// Real palm set for genuine probes (default ../shared/datasets/tongji-roi; with
    /// `--hands 2`, ../shared/datasets/casia-ms in white light).
    #[arg(long)]
    pub set: Option<PathBuf>,
    /// Only this modality of the set (manifest's `modality` column).
    #[arg(long)]
    pub modality: Option<String>,
    /// 2: time the serial two-hand decision (a hover of three frames of one hand, then of the
    /// other when the first cannot decide alone) instead of one-probe searches.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub hands: u8,
    /// Distinct synthetic identities behind the distractors.
    #[arg(long, default_value_t = 10_000)]
    pub identities: u64,
    /// Probes also searched exhaustively to measure the fast path's top-1 agreement.
    #[arg(long, default_value_t = 20)]
    pub agreement_probes: usize,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Search through the palm grid instead of one in-process index: the palms go into a
    /// database, a local nats-server carries them to matchers, a gateway scatters each search
    /// (needs Debian's nats-server).
    #[arg(long)]
    pub distributed: bool,
    /// With --distributed: shard sets the virtual shards are split over.
    #[arg(long, default_value_t = 2)]
    pub sets: usize,
    /// With --distributed: matcher replicas per set.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// With --distributed: the database (default: a SQLite file in a temporary folder).
    #[arg(long)]
    pub database: Option<String>,
    /// With --distributed: people deleted one at a time to time their deletion's propagation.
    #[arg(long, default_value_t = 20)]
    pub deletions: usize,
}

const PLANES: usize = 6;

/// Distractor templates, made on demand (a million would not fit in memory twice).
pub struct Distractors {
    variants: Vec<Template>,
}

impl Distractors {
    /// Renders and codes `identities` synthetic palms (seeds 1..=identities) and their variants.
    pub fn new(engine: &Engine, identities: u64) -> Distractors {
        let bar = crate::figures::progress(identities, "synthetic identities");
        let sources: Vec<Template> = (1..=identities)
            .into_par_iter()
            .filter_map(|s| {
                bar.inc(1);
                engine
                    .template(&png_bytes(
                        &Identity::new(s).render(Scene::Roi { size: 128 }, Capture::new(1)),
                    ))
                    .ok()
            })
            .collect();
        bar.finish_and_clear();
        let variants = sources
            .iter()
            .flat_map(|t| {
                [false, true]
                    .into_iter()
                    .flat_map(move |q| [false, true].map(|m| dihedral(t, q, m)))
            })
            .collect();
        Distractors { variants }
    }

    /// Distinct identities behind the variants.
    pub fn identities(&self) -> usize {
        self.variants.len() / 4
    }

    /// The `n`th distractor: a variant, or beyond them a mosaic of four.
    pub fn get(&self, n: usize) -> Template {
        if n < self.variants.len() {
            self.variants[n].clone()
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
            let mut pick = || &self.variants[rng.random_range(0..self.variants.len())];
            mosaic([pick(), pick(), pick(), pick()])
        }
    }
}

/// The code seen after a quarter turn (`quarter`) and/or a mirror of the palm.
fn dihedral(t: &Template, quarter: bool, mirror: bool) -> Template {
    let cell = |rows: &[u32; GRID], x: usize, y: usize| rows[y] >> x & 1;
    let map = |rows: &[u32; GRID]| -> [u32; GRID] {
        std::array::from_fn(|y| {
            (0..GRID).fold(0u32, |acc, x| {
                let (sx, sy) = if quarter { (y, GRID - 1 - x) } else { (x, y) };
                let sx = if mirror { GRID - 1 - sx } else { sx };
                acc | cell(rows, sx, sy) << x
            })
        })
    };
    let mut planes = vec![[0u32; GRID]; PLANES];
    for (k, plane) in t.planes.iter().enumerate() {
        let k = if quarter { (k + 3) % PLANES } else { k };
        let k = if mirror { (PLANES - k) % PLANES } else { k };
        planes[k] = map(plane);
    }
    Template {
        mask: map(&t.mask),
        planes,
        ..t.clone()
    }
}

/// Quadrants of four codes spliced into one.
fn mosaic(parts: [&Template; 4]) -> Template {
    let half = GRID / 2;
    let pick = |x: usize, y: usize| parts[(y >= half) as usize * 2 + (x >= half) as usize];
    let splice = |rows_of: &dyn Fn(&Template) -> [u32; GRID]| -> [u32; GRID] {
        std::array::from_fn(|y| {
            (0..GRID).fold(0u32, |acc, x| acc | (rows_of(pick(x, y))[y] >> x & 1) << x)
        })
    };
    Template {
        mask: splice(&|t| t.mask),
        planes: (0..PLANES).map(|k| splice(&|t| t.planes[k])).collect(),
        ..parts[0].clone()
    }
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    Some(statm.split_whitespace().nth(1)?.parse::<u64>().ok()? * 4096)
}

/// The real palms of a bench: the probe set, each palm's first image to enrol, the rest to search.
pub(crate) struct Genuine {
    pub set: palm_eval::Dataset,
    pub enrolled: Vec<(usize, Template)>,
    pub probes: Vec<(usize, Template)>,
}

pub(crate) fn genuine(engine: &Engine, args: &IdentifyBenchArgs) -> Result<Genuine> {
    let set_dir = args
        .set
        .clone()
        .unwrap_or_else(|| PathBuf::from("../shared/datasets/tongji-roi"));
    let set = palm_eval::Dataset::open(&set_dir, args.modality.as_deref())
        .with_context(|| format!("cannot read the probe set {}", set_dir.display()))?;
    if set.entries.is_empty() {
        bail!("{} holds no images for genuine probes", set_dir.display());
    }
    let (gallery_idx, probe_idx) = set.gallery_split();
    let real = |i: usize| -> Option<Template> {
        engine
            .template(&std::fs::read(set.path_of(&set.entries[i])).ok()?)
            .ok()
    };
    let enrolled: Vec<(usize, Template)> = gallery_idx
        .par_iter()
        .filter_map(|&i| Some((i, real(i)?)))
        .collect();
    let probes: Vec<(usize, Template)> = probe_idx
        .par_iter()
        .filter_map(|&i| Some((i, real(i)?)))
        .collect();
    Ok(Genuine {
        set,
        enrolled,
        probes,
    })
}

pub fn run(args: IdentifyBenchArgs) -> Result<()> {
    let engine = Engine::default();
    let Genuine {
        set,
        enrolled,
        probes,
    } = genuine(&engine, &args)?;

    let source = Distractors::new(&engine, args.identities);
    let distractors = args.gallery.saturating_sub(enrolled.len());

    let rss_before = rss_bytes();
    let start = Instant::now();
    // Templates are held protected, as the service holds them, under a throwaway key.
    let transform = palm_engine::protect::Transform::new(1, rand::random());
    let gallery = Gallery::new(engine.params(), IndexConfig::default(), transform.clone());
    for (i, t) in &enrolled {
        gallery.insert(PalmId(*i as u64), None, &gallery.protect(t)?)?;
    }
    let bar = crate::figures::progress(distractors as u64, "building the gallery");
    (0..distractors)
        .into_par_iter()
        .try_for_each(|n| -> Result<()> {
            gallery.insert(
                PalmId(1_000_000_000 + n as u64),
                None,
                &gallery.protect(&source.get(n))?,
            )?;
            if n % 1024 == 0 {
                bar.inc(1024);
            }
            Ok(())
        })?;
    bar.finish_and_clear();
    let build_s = start.elapsed().as_secs_f64();
    let rss_after = rss_bytes();

    let palm_of = |id: PalmId| set.entries.get(id.0 as usize).map(|e| e.palm.as_str());
    let search = Search {
        k: 1,
        ..Search::default()
    };
    let mut latencies = Vec::new();
    let mut correct = 0;
    for (i, t) in &probes {
        let t0 = Instant::now();
        let (ranked, _) = gallery.rank(t, &search)?;
        latencies.push(t0.elapsed().as_secs_f64() * 1e3);
        correct += (ranked.first().and_then(|c| palm_of(c.id))
            == Some(set.entries[*i].palm.as_str())) as usize;
    }
    latencies.sort_by(f64::total_cmp);
    let t0 = Instant::now();
    let rounds = 2;
    for _ in 0..rounds {
        probes
            .par_iter()
            .try_for_each(|(_, t)| gallery.rank(t, &search).map(|_| ()))?;
    }
    let qps = (rounds * probes.len()) as f64 / t0.elapsed().as_secs_f64();

    let sample: Vec<&(usize, Template)> = probes
        .iter()
        .step_by((probes.len() / args.agreement_probes.max(1)).max(1))
        .take(args.agreement_probes)
        .collect();
    let bar = crate::figures::progress(sample.len() as u64, "exhaustive searches");
    // Agreement over all sampled probes, and over those whose exhaustive top-1 is their own palm
    // (where a probe's mate is not found at all, both paths return some impostor, and which one
    // is noise).
    let (mut agree, mut mated, mut mated_agree) = (0, 0, 0);
    for (i, t) in &sample {
        let fast = gallery.rank(t, &search)?.0;
        let slow = gallery
            .rank(
                t,
                &Search {
                    exhaustive: true,
                    ..search
                },
            )?
            .0;
        let same = fast.first().map(|c| c.id) == slow.first().map(|c| c.id);
        agree += same as usize;
        if slow.first().and_then(|c| palm_of(c.id)) == Some(set.entries[*i].palm.as_str()) {
            mated += 1;
            mated_agree += same as usize;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let file = std::env::temp_dir().join(format!("palmline-bench-{}.plmg", std::process::id()));
    gallery.save(&file)?;
    let file_bytes = std::fs::metadata(&file)?.len();
    drop(gallery);
    let t0 = Instant::now();
    let loaded = Gallery::load(&file, engine.params(), IndexConfig::default(), transform)?;
    let load_s = t0.elapsed().as_secs_f64();
    let loaded_len = loaded.len();
    drop(loaded);
    std::fs::remove_file(&file).ok();

    let n = distractors + enrolled.len();
    let measured_bytes = match (rss_before, rss_after) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / n as f64),
        _ => None,
    };
    let out = json!({
        "gallery": n,
        "distractor_identities": source.identities(),
        "probes": probes.len(),
        "rank1": correct as f64 / probes.len().max(1) as f64,
        "p50_ms": percentile(&latencies, 0.5),
        "p99_ms": percentile(&latencies, 0.99),
        "qps_all_cores": qps,
        "threads": rayon::current_num_threads(),
        "top1_agreement_with_exhaustive": agree as f64 / sample.len().max(1) as f64,
        "agreement_probes": sample.len(),
        "top1_agreement_where_exhaustive_finds_the_mate": mated_agree as f64 / mated.max(1) as f64,
        "agreement_probes_with_mate_found": mated,
        "bytes_per_palm": Gallery::bytes_per_palm(),
        "bytes_per_palm_rss": measured_bytes,
        "file_bytes": file_bytes,
        "build_s": build_s,
        "load_s": load_s,
        "loaded": loaded_len,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "identify benchmark: {n} palms ({} distinct synthetic identities + {} real palms), {} real probes",
            source.identities(),
            enrolled.len(),
            probes.len()
        );
        println!(
            "  rank-1 {:.2}%  fast/exhaustive top-1 agreement {agree} of {} ({mated_agree} of {mated} where exhaustive search finds the mate)",
            out["rank1"].as_f64().unwrap_or(0.0) * 100.0,
            sample.len()
        );
        println!(
            "  latency p50 {:.2} ms  p99 {:.2} ms (one query, all cores)  throughput {qps:.0} queries/s",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        println!(
            "  memory {} bytes/palm by layout, {} measured  build {build_s:.1} s  load {load_s:.2} s ({:.0} MB file)",
            Gallery::bytes_per_palm(),
            measured_bytes.map_or("n/a".to_string(), |b| format!("{b:.0}")),
            file_bytes as f64 / 1e6
        );
    }
    Ok(())
}
