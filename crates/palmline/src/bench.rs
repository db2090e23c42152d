//! `palmline bench engine`: single-thread speed of the engine on synthetic palms (so it runs on
//! any machine): ROI to template, full-hand photo to template, and template comparisons.

use anyhow::Result;
use palm_engine::{Engine, InputKind, Prepared, Template};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[derive(clap::Subcommand)]
pub enum BenchArgs {
    /// Single-thread speed of the engine on synthetic palms.
    Engine {
        /// Print the figures as one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Override an engine parameter for a tuning study, e.g. `--param warp_floor=1`
        /// (repeatable; names as in `palm_engine::Params`).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Camera photos to time the whole full-hand path on (first 30 of the folder, sorted):
        /// `extract_camera_ms_median`. Skipped when the folder does not exist.
        #[arg(long, default_value = "../shared/datasets/phone-hands")]
        camera_set: std::path::PathBuf,
    },
    /// 1:N search at scale: latency, throughput, fast-path agreement, memory, load time.
    Identify(crate::bench_identify::IdentifyBenchArgs),
    /// Sign-ups per second and identify+pay latency over HTTP against `palmline serve`.
    Pay(crate::bench_pay::PayBenchArgs),
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args {
        BenchArgs::Engine {
            json,
            params,
            camera_set,
        } => engine(
            Engine::new(crate::params::with_overrides(&params)?),
            json,
            &camera_photos(&camera_set),
        ),
        BenchArgs::Identify(a) if a.distributed => crate::bench_grid::run(&a),
        BenchArgs::Identify(a) if a.hands == 2 => crate::bench_serial::run(&a),
        BenchArgs::Identify(a) => crate::bench_identify::run(a),
        BenchArgs::Pay(a) => crate::bench_pay::run(a),
    }
}

/// Up to 30 photos of a camera set, in path order (none when the folder is missing).
fn camera_photos(set: &std::path::Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = walk(set)
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("png"))
        })
        .collect();
    paths.sort();
    paths.truncate(30);
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

/// The learned landmark stage alone (palm detection, landmarks, and the engine's second
/// reading), median over the pictures.
fn landmark_ms(engine: &Engine, images: &[Vec<u8>]) -> Result<f64> {
    let models = palm_hands::HandModels::get()?;
    let mut ms = Vec::new();
    for bytes in images {
        let rgb = palm_engine::decode(bytes)?;
        let t = Instant::now();
        for hand in models.hands(black_box(&rgb), 2)?.iter().take(1) {
            if engine.params().landmark_passes > 1 {
                black_box(models.refine(&rgb, hand)?);
            }
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(crate::figures::median(ms).unwrap_or(f64::NAN))
}

fn engine(engine: Engine, as_json: bool, camera: &[Vec<u8>]) -> Result<()> {
    let rois = |capture: u64| -> Vec<Vec<u8>> {
        (1..=40)
            .map(|s| {
                png_bytes(&Identity::new(s).render(Scene::Roi { size: 150 }, Capture::new(capture)))
            })
            .collect()
    };
    let hands: Vec<Vec<u8>> = (1..=15)
        .map(|s| {
            png_bytes(&Identity::new(s).render(
                Scene::Hand {
                    width: 800,
                    height: 600,
                },
                Capture::new(1),
            ))
        })
        .collect();
    let time_extract = |images: &[Vec<u8>], kind: InputKind| -> Result<(f64, Vec<Template>)> {
        let mut ms = Vec::new();
        let mut templates = Vec::new();
        for bytes in images {
            let t = Instant::now();
            let ex = engine.extract(black_box(bytes), kind)?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            templates.push(ex.template);
        }
        Ok((crate::figures::median(ms).unwrap_or(f64::NAN), templates))
    };
    let first_captures = rois(1);
    let (roi_ms, templates) = time_extract(&first_captures, InputKind::Roi)?;
    let (hand_ms, hand_templates) = time_extract(&hands, InputKind::FullHand)?;
    let landmarks_ms = landmark_ms(&engine, &hands)?;
    // Camera photos that hold no usable palm are skipped, not timed.
    let mut camera_ms = Vec::new();
    for bytes in camera {
        let t = Instant::now();
        if engine
            .extract(black_box(bytes), InputKind::FullHand)
            .is_ok()
        {
            camera_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let camera_ms = crate::figures::median(camera_ms);
    let hover = hover(&engine, camera)?;
    // Every pair of prepared templates, for about a second: ROI templates, then full-hand ones.
    // Probes are also tried warped (zoomed ROIs, turned hands; see palm_engine's `warp`) when a
    // pair scores above `warp_floor`, so these rates hold for searches, where most pairs are
    // strangers; `genuine_matches_per_sec_per_core` times pairs of one palm, which always are.
    let matcher = engine.matcher();
    let compare = |a: &Prepared, b: &Prepared| -> Result<()> {
        black_box(matcher.similarity_prepared(black_box(a), black_box(b))?);
        Ok(())
    };
    let all_pairs_per_sec = |templates: &[Template]| -> Result<f64> {
        let prepared: Vec<Prepared> = templates.iter().map(Prepared::new).collect();
        per_second(|| {
            let mut count = 0;
            for a in &prepared {
                for b in &prepared {
                    compare(a, b)?;
                    count += 1;
                }
            }
            Ok(count)
        })
    };
    let per_sec = all_pairs_per_sec(&templates)?;
    let (_, mates) = time_extract(&rois(2), InputKind::Roi)?;
    let genuine_pairs: Vec<(Prepared, Prepared)> = templates
        .iter()
        .zip(&mates)
        .map(|(a, b)| (Prepared::new(a), Prepared::new(b)))
        .collect();
    let genuine_per_sec = per_second(|| {
        let mut count = 0;
        for (a, b) in &genuine_pairs {
            compare(a, b)?;
            count += 1;
        }
        Ok(count)
    })?;
    let hand_per_sec = all_pairs_per_sec(&hand_templates)?;
    // The same under template protection: each probe expanded once, then compared with the
    // protected templates (what the service's index does).
    let transform = palm_engine::protect::Transform::new(1, rand::random());
    let protected: Vec<_> = templates
        .iter()
        .map(|t| transform.protect(t))
        .collect::<Result<_, _>>()?;
    let mut expand_ms = Vec::new();
    let probes: Vec<_> = templates
        .iter()
        .map(|a| {
            let t = Instant::now();
            let probe = transform.probe(black_box(a), engine.params());
            expand_ms.push(t.elapsed().as_secs_f64() * 1e3);
            probe
        })
        .collect::<Result<_, _>>()?;
    let protected_per_sec = per_second(|| {
        let mut count = 0;
        for probe in &probes {
            for b in &protected {
                black_box(palm_engine::protect::compare(
                    black_box(probe),
                    black_box(b),
                    engine.params(),
                )?);
                count += 1;
            }
        }
        Ok(count)
    })?;
    let expand_ms = crate::figures::median(expand_ms).unwrap_or(f64::NAN);
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    });
    if as_json {
        println!(
            "{}",
            json!({
                "extract_roi_ms_median": roi_ms,
                "extract_full_hand_ms_median": hand_ms,
                "landmarks_ms_median": landmarks_ms,
                "extract_camera_ms_median": camera_ms,
                "extract_hover_ms_median": hover.ms,
                "hover_followed_frames": hover.followed,
                "hover_followed_similarity_min": hover.agreement_min,
                "hover_followed_similarity_median": hover.agreement_median,
                "matches_per_sec_per_core": per_sec,
                "full_hand_matches_per_sec_per_core": hand_per_sec,
                "genuine_matches_per_sec_per_core": genuine_per_sec,
                "max_rotation_deg": engine.params().max_rotation_deg,
                "zoom_ratio": shortest(engine.params().zoom_ratio),
                "warp_floor": shortest(engine.params().warp_floor),
                "protected_matches_per_sec_per_core": protected_per_sec,
                "protected_probe_ms_median": expand_ms,
                "max_shift_cells": engine.params().max_shift,
                "threads": 1,
                "cpu": cpu,
            })
        );
    } else {
        println!(
            "engine speed, one thread ({})",
            cpu.as_deref().unwrap_or("unknown cpu")
        );
        println!(
            "  150 px ROI to template      {roi_ms:.2} ms (median of {})",
            first_captures.len()
        );
        println!(
            "  800x600 hand to template    {hand_ms:.2} ms (median of {})",
            hands.len()
        );
        println!("  landmark stage alone        {landmarks_ms:.2} ms (median, same photos)");
        match camera_ms {
            Some(ms) => println!(
                "  camera photo to template    {ms:.2} ms (median of {} photos)",
                camera.len()
            ),
            None => println!("  camera photo to template    skipped (no --camera-set photos)"),
        }
        if let (Some(ms), Some(min), Some(median)) =
            (hover.ms, hover.agreement_min, hover.agreement_median)
        {
            println!(
                "  3-frame hover to templates  {ms:.2} ms (median; each photo, then moved 1% and 2%)"
            );
            println!(
                "    {} later frames followed: similarity to the same frame read afresh median \
                 {median:.3}, lowest {min:.3}",
                hover.followed
            );
        }
        println!(
            "  matches per second          {per_sec:.0} (shift search over +-{} cells)",
            engine.params().max_shift
        );
        println!(
            "  genuine ROI pairs per second {genuine_per_sec:.0} (above the warp floor {}: also \
             zoomed by {})",
            engine.params().warp_floor,
            engine.params().zoom_ratio
        );
        println!(
            "  full-hand matches per second {hand_per_sec:.0} (also turned by +-{} degrees)",
            engine.params().max_rotation_deg
        );
        println!(
            "  protected: {protected_per_sec:.0} matches per second, {expand_ms:.2} ms to prepare a probe"
        );
    }
    Ok(())
}

/// A hover of three frames made of each camera photo (the photo, then the picture moved by 1%
/// and 2% of its width and half that down: a hand drifting between frames), all three read as
/// the service reads a hover (`Engine::extract_hover`): median milliseconds for the three, over
/// the photos whose three frames all give a template, and how the followed frames' templates
/// agree with the same frames read afresh.
fn hover(engine: &Engine, camera: &[Vec<u8>]) -> Result<Hover> {
    let (mut ms, mut agreement) = (Vec::new(), Vec::new());
    for bytes in camera {
        let Ok(rgb) = palm_engine::decode(bytes) else {
            continue;
        };
        let mut frames = vec![bytes.clone()];
        for step in [1, 2] {
            let dx = i64::from(rgb.width()) * step / 100;
            let mut moved = image::RgbImage::new(rgb.width(), rgb.height());
            image::imageops::replace(&mut moved, &rgb, dx, dx / 2);
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                .encode_image(&moved)?;
            frames.push(jpeg);
        }
        let t = Instant::now();
        let read = engine.extract_hover(black_box(&frames), InputKind::FullHand);
        let elapsed = t.elapsed().as_secs_f64() * 1e3;
        if read.iter().all(Result::is_ok) {
            ms.push(elapsed);
        }
        // How close a followed frame's template comes to the same frame read afresh.
        for (bytes, followed) in frames.iter().zip(&read).skip(1) {
            if let (Ok(followed), Ok(afresh)) =
                (followed, engine.extract(bytes, InputKind::FullHand))
                && followed.hand.as_ref().is_some_and(|h| h.followed)
            {
                agreement.push(engine.similarity(&followed.template, &afresh.template)? as f64);
            }
        }
    }
    agreement.sort_by(f64::total_cmp);
    Ok(Hover {
        ms: crate::figures::median(ms),
        followed: agreement.len(),
        agreement_min: agreement.first().copied(),
        agreement_median: crate::figures::median(agreement),
    })
}

/// What `hover` measured.
struct Hover {
    ms: Option<f64>,
    /// Later frames read where the frame before left the hand.
    followed: usize,
    /// Their templates' similarity to the same frames read afresh.
    agreement_min: Option<f64>,
    agreement_median: Option<f64>,
}

/// Comparisons per second: `pass` (which returns how many it made) run over and over for about
/// a second.
fn per_second(mut pass: impl FnMut() -> Result<u64>) -> Result<f64> {
    let (mut count, start) = (0u64, Instant::now());
    while start.elapsed() < Duration::from_secs(1) {
        count += pass()?;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// An `f32` setting as the decimal it was written as (0.58, not 0.5799999833106995).
fn shortest(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}
