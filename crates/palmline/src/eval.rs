//! `palmline eval`: the accuracy of the engine (or of any matcher's score file) on real palm sets.

use crate::figures::{Report, median, progress, with_verification};
use crate::plot;
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use palm_engine::protect::{self, ProtectedTemplate, Transform};
use palm_engine::{Engine, InputKind, Prepared, Template};
use palm_eval::{Dataset, PairScores, Verification, rank1, verification};
use rayon::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Set folders (manifest.csv, or one sub-folder per palm).
    #[arg(required_unless_present = "scores")]
    pub sets: Vec<PathBuf>,
    /// Only this modality (manifest's `modality` column); default: each modality on its own.
    #[arg(long)]
    pub modality: Option<String>,
    /// One JSON object per set on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write the DET curve(s) to this PNG or SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Evaluate a score file (columns a,b,distance or a,b,similarity) instead of the engine.
    #[arg(long, requires = "set")]
    pub scores: Option<PathBuf>,
    /// The set a score file's paths are relative to.
    #[arg(long)]
    pub set: Option<PathBuf>,
    /// Also write every pair's similarity to this CSV (columns a,b,similarity), readable by `--scores`.
    #[arg(long, value_name = "FILE.csv")]
    pub write_scores: Option<PathBuf>,
    /// Also run open-set identification (gallery = first image of each palm, probes = the rest,
    /// plus leave-one-palm-out non-mated searches) through the index.
    #[arg(long)]
    pub identify: bool,
    /// The index's calibration file for `--identify` (default: the one shipped with palm-index).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Fit the index's calibration from the evaluated sets' scores (pooled) and write it here.
    #[arg(long, value_name = "FILE")]
    pub write_calibration: Option<PathBuf>,
    /// Also write the report (`report.jsonl`, as `--json` prints it) and the DET curve
    /// (`det.svg`) into this folder; `palmline serve` shows `<data_dir>/accuracy` on the merchant
    /// dashboard.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Compare templates as the service stores them: protected under a fresh random transform
    /// (`palm_engine::protect`), to measure what template protection costs in accuracy.
    #[arg(long)]
    pub protect: bool,
    /// Also report verification with several pieces of one person's evidence fused: `hands`
    /// pairs each person's left and right captures of the same sample (sets with `person` and
    /// `hand` columns, such as casia-ms) and scores a pair by the mean of its two hands;
    /// `frames` compares each palm's first capture (its enrolment) with the later ones taken
    /// `--frames` at a time as the frames of one hover; `hands` with `--frames` does that with
    /// both hands (a hover of each against the person's two enrolment captures); `bands` joins
    /// each capture's images in the set's light bands (`--bands`; sets with `modality`, `person`
    /// and `hand` columns, such as casia-ms) and scores a pair by the mean of its bands.
    #[arg(long, value_enum)]
    pub fuse: Option<crate::fuse::FuseBy>,
    /// Frames in one hover: for `--fuse frames` (default 3), and for `--fuse hands` to compare
    /// hovers of both hands instead of two-hand presentations.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=20))]
    pub frames: Option<u16>,
    /// The bands `--fuse bands` fuses (manifest `modality` names, comma-separated, e.g.
    /// `white,940nm`); default: every band of the set.
    #[arg(long, value_delimiter = ',', conflicts_with = "modality")]
    pub bands: Vec<String>,
    /// Templates kept per palm for `--fuse templates` (1-3, default 2).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=3))]
    pub templates: Option<u16>,
    /// Fit a calibration from the fused scores of every evaluated set (pooled; needs `--fuse`)
    /// and write it here: what `palmline policy --hands --frames` decides with.
    #[arg(long, value_name = "FILE", requires = "fuse")]
    pub write_fused_calibration: Option<PathBuf>,
    /// Engine parameter overrides, e.g. `--param wavelength=11` (for tuning studies).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// One image's outcome: a template, or why not.
struct Acquired {
    template: Option<Template>,
    failure: Option<String>,
    extract_ms: Option<f64>,
    /// Acquired images only: enrolment would refuse it (the reason code), though it is still
    /// compared, as identification would try it.
    enrol_refusal: Option<String>,
    /// Acquired images only: the share of the ROI that shows palm.
    coverage: Option<f32>,
}

impl Acquired {
    fn failed(reason: String, extract_ms: Option<f64>) -> Acquired {
        Acquired {
            template: None,
            failure: Some(reason),
            extract_ms,
            enrol_refusal: None,
            coverage: None,
        }
    }
}

pub fn run(args: EvalArgs) -> Result<()> {
    let mut reports = Vec::new();
    if let Some(score_file) = &args.scores {
        let set_dir = args.set.as_ref().context("--scores needs --set")?;
        let set = Dataset::open(set_dir, args.modality.as_deref())
            .with_context(|| format!("cannot read set {}", set_dir.display()))?;
        let scores = palm_eval::read_score_file(score_file, &set)?;
        reports.push(report(&set, &scores, 0, Vec::new(), None, None));
    } else {
        let engine = Engine::new(crate::params::with_overrides(&args.params)?);
        let policy = if args.identify {
            Some(crate::identify::policy(
                &engine,
                args.calibration.as_deref(),
            )?)
        } else {
            None
        };
        let transform = args
            .protect
            .then(|| Transform::new(1, rand::random::<[u8; 32]>()));
        // Fused hands count from the calibrated impostor tail's start (see palm_eval::fusion).
        let fusion_floor = match (args.fuse, &policy) {
            (None, _) => 0.0,
            (Some(_), Some(p)) => p.calibration().tail_start,
            (Some(_), None) => {
                crate::identify::policy(&engine, args.calibration.as_deref())?
                    .calibration()
                    .tail_start
            }
        };
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        let (mut fused_genuine, mut fused_impostor) = (Vec::new(), Vec::new());
        for dir in &args.sets {
            let subsets = match open_subsets(dir, args.modality.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: {e:#}", dir.display());
                    continue;
                }
            };
            let by_bands = args.fuse == Some(crate::fuse::FuseBy::Bands);
            let mut bands = Vec::new();
            for set in subsets {
                let band = set.modalities().join("+");
                if by_bands && !args.bands.is_empty() && !args.bands.contains(&band) {
                    continue;
                }
                let (report, scores, templates) = evaluate_set(&engine, &set, transform.as_ref());
                if let Some(file) = &args.write_scores {
                    write_scores(file, &set, &scores, reports.is_empty())?;
                }
                let (g, i) = set.split_pairs(&scores);
                genuine.extend(g.into_iter().flatten());
                impostor.extend(i.into_iter().flatten());
                reports.push(report);
                if let Some(by) = args.fuse.filter(|_| !by_bands) {
                    let how = crate::fuse::Fusion {
                        by,
                        floor: fusion_floor,
                        frames: args.frames.map(usize::from),
                        templates: args.templates.map(usize::from),
                    };
                    if let Some(fused) = crate::fuse::report(how, &set, &scores) {
                        fused_genuine.extend(fused.genuine.into_iter().flatten());
                        fused_impostor.extend(fused.impostor.into_iter().flatten());
                        reports.push(fused.report);
                    }
                }
                if let Some(policy) = &policy {
                    reports.push(crate::identify::evaluate(
                        &engine, &set, &templates, policy,
                    )?);
                }
                if by_bands {
                    bands.push((set, scores));
                }
            }
            if by_bands && let Some(fused) = crate::fuse::bands(dir, &bands, fusion_floor) {
                fused_genuine.extend(fused.genuine.into_iter().flatten());
                fused_impostor.extend(fused.impostor.into_iter().flatten());
                reports.push(fused.report);
            }
        }
        let fingerprint = engine.params().fingerprint();
        for (file, genuine, impostor) in [
            (&args.write_calibration, &genuine, &impostor),
            (
                &args.write_fused_calibration,
                &fused_genuine,
                &fused_impostor,
            ),
        ] {
            let Some(file) = file else { continue };
            let c = palm_index::Calibration::fit(fingerprint, genuine, impostor)?;
            std::fs::write(file, c.to_text())
                .with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!(
                "calibration from {} genuine and {} impostor scores written to {}",
                genuine.len(),
                impostor.len(),
                file.display()
            );
            for (observed, at, modelled) in c.tail_check(impostor) {
                eprintln!(
                    "  tail check: {observed:.1e} of impostor scores reach {at:.4}; the model says {modelled:.1e}"
                );
            }
        }
    }
    let evaluated: Vec<&Report> = reports.iter().filter(|r| r.images > 0).collect();
    if evaluated.is_empty() {
        bail!("nothing could be evaluated");
    }
    for r in &reports {
        if args.json {
            println!("{}", serde_json::to_string(&r.json)?);
        } else {
            print_human(r);
        }
    }
    let curves: Vec<(String, &Verification)> = evaluated
        .iter()
        .filter_map(|r| r.verification.as_ref().map(|v| (r.name.clone(), v)))
        .collect();
    if let Some(path) = &args.plot {
        plot::det(path, &curves)?;
        eprintln!("DET curve written to {}", path.display());
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        plot::det(&dir.join("det.svg"), &curves)?;
        let lines: String = reports
            .iter()
            .map(|r| serde_json::to_string(&r.json).map(|l| l + "\n"))
            .collect::<Result<_, _>>()?;
        // The report last, through a rename: a reader never sees half of it.
        let tmp = dir.join("report.jsonl.tmp");
        std::fs::write(&tmp, lines).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join("report.jsonl"))?;
        eprintln!("accuracy report written to {}", dir.display());
    }
    Ok(())
}

/// A set, split by modality when its manifest mixes several and none was asked for.
fn open_subsets(dir: &Path, modality: Option<&str>) -> Result<Vec<Dataset>> {
    let set = Dataset::open(dir, modality)
        .with_context(|| format!("cannot read set {}", dir.display()))?;
    let modalities = set.modalities();
    if modality.is_some() || modalities.len() <= 1 {
        return Ok(vec![set]);
    }
    modalities
        .iter()
        .map(|m| Dataset::open(dir, Some(m)).map_err(Into::into))
        .collect()
}

/// Appends a set's pair scores to a CSV (the first set truncates it and writes the header).
fn write_scores(file: &Path, set: &Dataset, scores: &PairScores, first: bool) -> Result<()> {
    use std::io::Write;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(!first)
        .truncate(first)
        .open(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    let mut out = std::io::BufWriter::new(f);
    if first {
        writeln!(out, "a,b,similarity")?;
    }
    for (i, j) in PairScores::pairs(set.entries.len()) {
        // A failed pair gets the lowest possible similarity: it must never be accepted.
        let s = scores.get(i, j).unwrap_or(-1.0);
        writeln!(
            out,
            "{},{},{s:.6}",
            set.entries[i].path, set.entries[j].path
        )?;
    }
    out.flush()?;
    Ok(())
}

fn evaluate_set(
    engine: &Engine,
    set: &Dataset,
    transform: Option<&Transform>,
) -> (Report, PairScores, Vec<Option<Template>>) {
    for p in &set.problems {
        eprintln!("{}: {p}", set.name);
    }
    let bar = progress(
        set.entries.len() as u64,
        &format!("{}: templates", set.name),
    );
    let acquired: Vec<Acquired> = set
        .entries
        .par_iter()
        .map(|e| {
            let out = acquire(engine, &set.path_of(e));
            bar.inc(1);
            out
        })
        .collect();
    bar.finish_and_clear();
    let failures: Vec<(String, String)> = set
        .entries
        .iter()
        .zip(&acquired)
        .filter_map(|(e, a)| a.failure.as_ref().map(|f| (e.path.clone(), f.clone())))
        .collect();
    let n = set.entries.len();
    let templates: Vec<Option<&Template>> = acquired.iter().map(|a| a.template.as_ref()).collect();
    let bar = progress(
        (n * n.saturating_sub(1) / 2) as u64,
        &format!("{}: matches", set.name),
    );
    let matched = match transform {
        None => match_plain(engine, &templates, &bar),
        Some(t) => match_protected(engine, t, &templates, &bar),
    };
    bar.finish_and_clear();
    let mut scores = PairScores::new(n);
    for ((i, j), (s, _)) in PairScores::pairs(n).zip(&matched) {
        scores.set(i, j, *s);
    }
    let extract_ms = median(acquired.iter().filter_map(|a| a.extract_ms).collect());
    let match_us = median(matched.iter().filter_map(|m| m.1).collect());
    let mut report = report(set, &scores, failures.len(), failures, extract_ms, match_us);
    report.json["protected"] = json!(transform.is_some());
    add_enrol_refusals(&mut report.json, set, &acquired);
    let templates = acquired.into_iter().map(|a| a.template).collect();
    (report, scores, templates)
}

/// Acquired images that enrolment would refuse (they still take part in every comparison, as
/// the protocol has one template per image) and the lowest palm coverage of any ROI.
fn add_enrol_refusals(json: &mut serde_json::Value, set: &Dataset, acquired: &[Acquired]) {
    let refused: Vec<serde_json::Value> = set
        .entries
        .iter()
        .zip(acquired)
        .filter_map(|(e, a)| {
            a.enrol_refusal
                .as_ref()
                .map(|r| json!({"path": e.path, "reason": r, "coverage": a.coverage}))
        })
        .collect();
    json["enrol_refusals"] = json!(refused.len());
    json["enrol_refused"] = json!(refused);
    json["palm_coverage_min"] = json!(
        acquired
            .iter()
            .filter_map(|a| a.coverage)
            .min_by(f32::total_cmp)
    );
}

/// Timed similarity of one pair: (score, microseconds); (None, None) when either failed.
type Matched = (Option<f64>, Option<f64>);

fn timed(f: impl FnOnce() -> Option<f32>) -> Matched {
    let t = Instant::now();
    let s = f().map(f64::from);
    (s, Some(t.elapsed().as_secs_f64() * 1e6))
}

/// Every pair `(i, j)`, `i < j`, in `PairScores::pairs` order, by the engine's matcher.
fn match_plain(
    engine: &Engine,
    templates: &[Option<&Template>],
    bar: &ProgressBar,
) -> Vec<Matched> {
    let prepared: Vec<Option<Prepared>> = templates.iter().map(|t| t.map(Prepared::new)).collect();
    let pairs: Vec<(usize, usize)> = PairScores::pairs(templates.len()).collect();
    pairs
        .par_chunks(4096)
        .flat_map_iter(|chunk| {
            let out: Vec<_> = chunk
                .iter()
                .map(|&(i, j)| match (&prepared[i], &prepared[j]) {
                    (Some(a), Some(b)) => timed(|| engine.matcher().similarity_prepared(a, b).ok()),
                    _ => (None, None),
                })
                .collect();
            bar.inc(chunk.len() as u64);
            out
        })
        .collect()
}

/// The same pairs as [`match_plain`], compared as the service compares them: image `i` as a probe
/// against image `j` stored under the transform.
fn match_protected(
    engine: &Engine,
    transform: &Transform,
    templates: &[Option<&Template>],
    bar: &ProgressBar,
) -> Vec<Matched> {
    let params = engine.params();
    let stored: Vec<Option<ProtectedTemplate>> = templates
        .iter()
        .map(|t| t.and_then(|t| transform.protect(t).ok()))
        .collect();
    let n = templates.len();
    (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let probe = templates[i].and_then(|t| transform.probe(t, params).ok());
            let out: Vec<_> = (i + 1..n)
                .map(|j| match (&probe, &stored[j]) {
                    (Some(p), Some(g)) => {
                        timed(|| protect::compare(p, g, params).ok().map(|c| c.similarity))
                    }
                    _ => (None, None),
                })
                .collect();
            bar.inc(out.len() as u64);
            out
        })
        .collect()
}

fn acquire(engine: &Engine, path: &Path) -> Acquired {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Acquired::failed(format!("unreadable: {e}"), None);
        }
    };
    let t = Instant::now();
    let result = engine.extract(&bytes, InputKind::Auto);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(ex) => Acquired {
            template: Some(ex.template),
            failure: None,
            extract_ms: Some(ms),
            enrol_refusal: ex.quality.enrol_rejection().map(|r| r.code().to_string()),
            coverage: Some(ex.quality.coverage),
        },
        Err(e) => Acquired::failed(
            e.rejection()
                .map_or_else(|| e.to_string(), |r| r.code().to_string()),
            Some(ms),
        ),
    }
}

fn report(
    set: &Dataset,
    scores: &PairScores,
    fta: usize,
    failures: Vec<(String, String)>,
    extract_ms: Option<f64>,
    match_us: Option<f64>,
) -> Report {
    let n = set.entries.len();
    let (genuine, impostor) = set.split_pairs(scores);
    let v = verification(&genuine, &impostor);
    let palms: Vec<String> = set.entries.iter().map(|e| e.palm.clone()).collect();
    let (gallery, probes) = set.gallery_split();
    let (correct, probe_count) = rank1(scores, &palms, &gallery, &probes);
    let json = with_verification(
        &v,
        json!({
            "set": set.name,
            "images": n,
            "failures_to_acquire": fta,
            "rank1": correct as f64 / probe_count.max(1) as f64,
            "rank1_probes": probe_count,
            "extract_ms_median": extract_ms,
            "match_us_median": match_us,
            "failures": failures.iter().map(|(p, r)| json!({"path": p, "reason": r})).collect::<Vec<_>>(),
        }),
    );
    Report {
        name: set.name.clone(),
        images: n,
        verification: Some(v),
        json,
    }
}

fn print_human(r: &Report) {
    let j = &r.json;
    if j["fused_by"].is_string() {
        return crate::fuse::print(r);
    }
    if j["mode"] == "identify" {
        let pct = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("n/a".to_string(), |v| format!("{:.3}%", v * 100.0))
        };
        println!("{}", r.name);
        println!(
            "  gallery {}  mated searches {}  non-mated searches {}  rank-1 {}  FNIR@FPIR1e-2 {}  FNIR@FPIR1e-3 {}  fast/exhaustive top-1 agreement {}",
            j["gallery"],
            j["mated_searches"],
            j["non_mated_searches"],
            pct(&j["rank1"]),
            pct(&j["fnir_at_fpir_1e2"]),
            pct(&j["fnir_at_fpir_1e3"]),
            pct(&j["top1_agreement_with_exhaustive"])
        );
        let p = &j["policy"];
        println!(
            "  policy (FPIR {} per search, threshold {:.4}{}): mated {} right, {} wrong, {} no match, {} ambiguous; non-mated {} false matches of {}",
            p["target_fpir"],
            p["threshold"].as_f64().unwrap_or(f64::NAN),
            if p["needs_hint"] == true {
                ", needs a narrowing hint"
            } else {
                ""
            },
            p["mated"]["correct_match"],
            p["mated"]["wrong_match"],
            p["mated"]["no_match"],
            p["mated"]["ambiguous"],
            p["non_mated"]["false_match"],
            j["non_mated_searches"]
        );
        println!(
            "  at that threshold: FNIR {} measured ({} expected), FPIR {} measured",
            pct(&p["fnir_at_threshold"]),
            pct(&p["expected_fnir"]),
            pct(&p["fpir_at_threshold"])
        );
        return;
    }
    let pct = |k: &str| {
        j[k].as_f64()
            .map_or("n/a".to_string(), |v| format!("{:.3}%", v * 100.0))
    };
    println!("{}", r.name);
    println!(
        "  images {}  failures to acquire {}  genuine pairs {}  impostor pairs {}",
        j["images"], j["failures_to_acquire"], j["genuine_pairs"], j["impostor_pairs"]
    );
    println!(
        "  EER {}  FNMR@FMR1e-2 {}  FNMR@FMR1e-3 {}  FNMR@FMR1e-4 {}  d' {:.3}  rank-1 {} of {} probes",
        pct("eer"),
        pct("fnmr_at_fmr_1e2"),
        pct("fnmr_at_fmr_1e3"),
        pct("fnmr_at_fmr_1e4"),
        j["dprime"].as_f64().unwrap_or(f64::NAN),
        pct("rank1"),
        j["rank1_probes"]
    );
    if let (Some(e), Some(m)) = (
        j["extract_ms_median"].as_f64(),
        j["match_us_median"].as_f64(),
    ) {
        println!("  extract {e:.2} ms (median)  match {m:.2} us (median)");
    }
    for f in j["failures"].as_array().into_iter().flatten() {
        println!(
            "  failed to acquire {}: {}",
            f["path"].as_str().unwrap_or(""),
            f["reason"].as_str().unwrap_or("")
        );
    }
    for f in j["enrol_refused"].as_array().into_iter().flatten() {
        println!(
            "  enrolment would refuse {}: {} (palm covers {:.0}% of the ROI; still compared)",
            f["path"].as_str().unwrap_or(""),
            f["reason"].as_str().unwrap_or(""),
            f["coverage"].as_f64().unwrap_or(f64::NAN) * 100.0
        );
    }
}
