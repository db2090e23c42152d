//! The metric code against a peer's published figures: BOCV's scores on tongji-roi must give
//! exactly the expected EER, FNMR at fixed FMR and rank-1 (to 1e-9).
//!
//! Needs `../shared` beside the checkout. On a fresh clone without it the test says so and passes;
//! `.ci/run` sets `PALMLINE_REQUIRE_SHARED=1` so that there a missing folder fails it.

use palm_eval::{Dataset, rank1, read_score_file, verification};
use std::path::PathBuf;

#[test]
fn bocv_reference_figures_are_reproduced() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let reference = shared.join("reference");
    if !reference.is_dir() {
        assert!(
            std::env::var_os("PALMLINE_REQUIRE_SHARED").is_none(),
            "{} is missing",
            reference.display()
        );
        eprintln!("skipped: no {}", reference.display());
        return;
    }
    let set = Dataset::open(&shared.join("datasets/tongji-roi"), None).unwrap();
    let scores = read_score_file(&reference.join("bocv-tongji-roi-scores.csv"), &set).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference.join("bocv-tongji-roi-expected.json")).unwrap(),
    )
    .unwrap();
    let (genuine, impostor) = set.split_pairs(&scores);
    let v = verification(&genuine, &impostor);
    let close = |got: f64, key: &str, tol: f64| {
        let want = expected[key].as_f64().unwrap();
        assert!((got - want).abs() <= tol, "{key}: {got} vs {want}");
    };
    assert_eq!(
        v.genuine_pairs as u64,
        expected["genuine_pairs"].as_u64().unwrap()
    );
    assert_eq!(
        v.impostor_pairs as u64,
        expected["impostor_pairs"].as_u64().unwrap()
    );
    close(v.eer, "eer", 1e-9);
    close(v.fnmr_at_fmr[0].unwrap(), "fnmr_at_fmr_1e2", 1e-9);
    close(v.fnmr_at_fmr[1].unwrap(), "fnmr_at_fmr_1e3", 1e-9);
    close(v.fnmr_at_fmr[2].unwrap(), "fnmr_at_fmr_1e4", 1e-9);
    // The score file rounds distances to six decimals; d' moves by 2e-7 from that rounding alone.
    close(v.dprime, "dprime", 1e-6);
    let palms: Vec<String> = set.entries.iter().map(|e| e.palm.clone()).collect();
    let (gallery, probes) = set.gallery_split();
    let (correct, n) = rank1(&scores, &palms, &gallery, &probes);
    assert_eq!(n as u64, expected["rank1_probes"].as_u64().unwrap());
    close(correct as f64 / n as f64, "rank1", 1e-9);
}
