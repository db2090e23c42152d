//! `palmline eval --identify`: open-set identification on real sets through the index.
//!
//! Gallery = first image of each palm (or all session-1 images), mated probes = the rest.
//! Non-mated probes: each palm's probes searched again with that palm's gallery entries removed
//! (leave one palm out), so every set yields searches for people who are not enrolled.

use crate::figures::Report;
use anyhow::{Context, Result};
use palm_engine::{Engine, Template};
use palm_eval::Dataset;
use palm_index::{Calibration, Decision, Gallery, IndexConfig, PalmId, Policy, Search};
use serde_json::json;
use std::path::Path;

use palm_index::SHIPPED_CALIBRATION as SHIPPED;

/// The policy from a calibration file, or the shipped one; refuses one made for other parameters.
pub fn policy(engine: &Engine, file: Option<&Path>) -> Result<Policy> {
    let text = match file {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        None => SHIPPED.to_string(),
    };
    let c = Calibration::from_text(&text)?;
    if c.fingerprint != engine.params().fingerprint() {
        anyhow::bail!(
            "calibration was measured with engine parameters {:08x}, these are {:08x}: rerun `palmline eval --write-calibration`",
            c.fingerprint,
            engine.params().fingerprint()
        );
    }
    Ok(Policy::new(c))
}

/// Scores of searches: the top candidate's similarity, and whether it was the mate.
struct Outcome {
    score: f32,
    correct: bool,
    decision: Decision,
}

pub fn evaluate(
    engine: &Engine,
    set: &Dataset,
    templates: &[Option<Template>],
    policy: &Policy,
) -> Result<Report> {
    let (gallery_idx, probe_idx) = set.gallery_split();
    let gallery = Gallery::new(
        engine.params(),
        IndexConfig::default(),
        palm_engine::protect::Transform::new(1, rand::random()),
    );
    for &g in &gallery_idx {
        if let Some(t) = &templates[g] {
            gallery.insert(PalmId(g as u64), None, &gallery.protect(t)?)?;
        }
    }
    let palm_of = |id: PalmId| set.entries[id.0 as usize].palm.as_str();
    let search = |probe: &Template, exhaustive: bool| {
        gallery.identify(
            probe,
            &Search {
                k: 2,
                bucket: None,
                exhaustive,
            },
            policy,
        )
    };
    let outcome = |p: usize, r: &palm_index::Identification| Outcome {
        score: r
            .candidates
            .first()
            .map_or(f32::NEG_INFINITY, |c| c.similarity),
        correct: r
            .candidates
            .first()
            .is_some_and(|c| palm_of(c.id) == set.entries[p].palm),
        decision: r.decision,
    };
    let bar = crate::figures::progress(
        probe_idx.len() as u64 * 2,
        &format!("{}: identification", set.name),
    );
    let (mut mated, mut agree) = (Vec::new(), 0usize);
    for &p in &probe_idx {
        bar.inc(1);
        let Some(t) = &templates[p] else {
            mated.push(Outcome {
                score: f32::NEG_INFINITY,
                correct: false,
                decision: Decision::NoMatch,
            });
            continue;
        };
        let fast = search(t, false)?;
        let slow = search(t, true)?;
        agree += (fast.candidates.first().map(|c| c.id) == slow.candidates.first().map(|c| c.id))
            as usize;
        mated.push(outcome(p, &fast));
    }
    // Leave one palm out: its probes become searches for someone not enrolled.
    let mut non_mated = Vec::new();
    let mut palms: Vec<&str> = set.entries.iter().map(|e| e.palm.as_str()).collect();
    palms.sort();
    palms.dedup();
    for palm in palms {
        let own: Vec<usize> = gallery_idx
            .iter()
            .copied()
            .filter(|&g| set.entries[g].palm == palm)
            .collect();
        own.iter().for_each(|&g| {
            gallery.remove(PalmId(g as u64));
        });
        for &p in probe_idx.iter().filter(|&&p| set.entries[p].palm == palm) {
            bar.inc(1);
            if let Some(t) = &templates[p] {
                non_mated.push(outcome(p, &search(t, false)?));
            }
        }
        for &g in &own {
            if let Some(t) = &templates[g] {
                gallery.insert(PalmId(g as u64), None, &gallery.protect(t)?)?;
            }
        }
    }
    bar.finish_and_clear();
    let fnir_at = |fpir: f64| -> Option<f64> {
        if (non_mated.len() as f64) < 1.0 / fpir {
            return None;
        }
        let mut scores: Vec<f32> = non_mated.iter().map(|o| o.score).collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        // The lowest cut whose FPIR is within the target: accept only scores above the
        // (allowed + 1)-th highest non-mated score.
        let allowed = (fpir * non_mated.len() as f64).floor() as usize;
        let cut = scores.get(allowed).copied().unwrap_or(f32::NEG_INFINITY);
        Some(
            mated
                .iter()
                .filter(|o| !(o.correct && o.score > cut))
                .count() as f64
                / mated.len().max(1) as f64,
        )
    };
    let count = |v: &[Outcome], f: &dyn Fn(&Outcome) -> bool| v.iter().filter(|o| f(o)).count();
    let rank1 = count(&mated, &|o| o.correct) as f64 / mated.len().max(1) as f64;
    let threshold = policy.threshold(gallery.len());
    let json = json!({
        "set": set.name,
        "mode": "identify",
        "gallery": gallery.len(),
        "mated_searches": mated.len(),
        "non_mated_searches": non_mated.len(),
        "rank1": rank1,
        "fnir_at_fpir_1e2": fnir_at(1e-2),
        "fnir_at_fpir_1e3": fnir_at(1e-3),
        "top1_agreement_with_exhaustive": agree as f64 / mated.len().max(1) as f64,
        "policy": {
            "target_fpir": policy.target_fpir,
            "threshold": threshold.similarity,
            "needs_hint": threshold.needs_hint,
            "mated": {
                "correct_match": count(&mated, &|o| matches!(o.decision, Decision::Match(_)) && o.correct),
                "wrong_match": count(&mated, &|o| matches!(o.decision, Decision::Match(_)) && !o.correct),
                "no_match": count(&mated, &|o| o.decision == Decision::NoMatch),
                "ambiguous": count(&mated, &|o| o.decision == Decision::Ambiguous),
                "needs_hint": count(&mated, &|o| o.decision == Decision::NeedsHint),
            },
            // Measured at the policy's threshold, as if every search had been narrowed enough.
            "fnir_at_threshold": count(&mated, &|o| !(o.correct && o.score as f64 >= threshold.similarity)) as f64 / mated.len().max(1) as f64,
            "fpir_at_threshold": count(&non_mated, &|o| o.score as f64 >= threshold.similarity) as f64 / non_mated.len().max(1) as f64,
            "expected_fnir": threshold.fnir,
            "non_mated": {
                "false_match": count(&non_mated, &|o| matches!(o.decision, Decision::Match(_))),
                "no_match": count(&non_mated, &|o| o.decision == Decision::NoMatch),
                "ambiguous": count(&non_mated, &|o| o.decision == Decision::Ambiguous),
                "needs_hint": count(&non_mated, &|o| o.decision == Decision::NeedsHint),
            },
        },
    });
    Ok(Report {
        name: format!("{} (identify)", set.name),
        images: set.entries.len(),
        verification: None,
        json,
    })
}
