//! The `palmline` binary's measuring commands as a user runs them (eval, fused eval, inspect,
//! synth, policy, bench identify), on synthetic palms it generates itself.

mod common;
use common::*;
use std::process::Command;

#[test]
fn eval_reports_every_key_and_survives_bad_files() {
    let dir = scratch("eval");
    synth(&dir, &[]);
    // A file that is not an image, listed in the manifest: a failure to acquire, not a crash.
    std::fs::write(dir.join("s000001/junk.png"), b"not an image").unwrap();
    let mut manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    manifest += "s000001/junk.png,s000001,,9,,synthetic,test\nbroken row\n";
    std::fs::write(dir.join("manifest.csv"), &manifest).unwrap();
    // A crop that missed the palm (background over a third of it): acquired and compared, but
    // listed as one enrolment would refuse.
    let first = dir.join(manifest.lines().nth(1).unwrap().split(',').next().unwrap());
    let mut missed = image::open(&first).unwrap().to_rgb8();
    let side = missed.width();
    for (x, y, p) in missed.enumerate_pixels_mut() {
        if x + y < side * 3 / 4 {
            *p = image::Rgb([12, 12, 14]);
        }
    }
    missed.save(&first).unwrap();
    let scores = dir.join("scores.csv");
    let out = succeeded(&[
        "eval",
        dir.to_str().unwrap(),
        "--json",
        "--write-scores",
        scores.to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    for key in [
        "set",
        "images",
        "failures_to_acquire",
        "genuine_pairs",
        "impostor_pairs",
        "eer",
        "fnmr_at_fmr_1e2",
        "fnmr_at_fmr_1e3",
        "fnmr_at_fmr_1e4",
        "dprime",
        "rank1",
        "extract_ms_median",
        "match_us_median",
    ] {
        assert!(r.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(r["images"], 19);
    assert_eq!(r["failures_to_acquire"], 1);
    assert_eq!(r["failures"][0]["path"], "s000001/junk.png");
    assert_eq!(r["enrol_refusals"], 1, "{}", r["enrol_refused"]);
    assert_eq!(r["enrol_refused"][0]["reason"], "hand_cut_by_border");
    assert!(first.ends_with(r["enrol_refused"][0]["path"].as_str().unwrap()));
    assert!(r["palm_coverage_min"].as_f64().unwrap() < 0.9);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manifest line"),
        "bad row not reported"
    );
    // The junk image fails its 3 genuine pairs: FNMR is at least 3 of 21 at every threshold.
    assert!(r["fnmr_at_fmr_1e2"].as_f64().unwrap() >= 3.0 / 21.0 - 1e-12);

    // The written scores, read back through --scores, give the same figures.
    let again = palmline(&[
        "eval",
        "--scores",
        scores.to_str().unwrap(),
        "--set",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let r2 = &json_lines(&again)[0];
    for key in ["eer", "fnmr_at_fmr_1e2", "rank1", "genuine_pairs"] {
        assert_eq!(r[key], r2[key], "{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_of_nothing_fails_and_bad_score_files_are_explained() {
    let dir = scratch("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let out = palmline(&["eval", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing could be evaluated"));

    synth(&dir.join("set"), &[]);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "a,b,score\n").unwrap();
    let out = palmline(&[
        "eval",
        "--scores",
        bad.to_str().unwrap(),
        "--set",
        dir.join("set").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a,b,distance or a,b,similarity"));
    std::fs::write(&bad, "a,b,distance\ns000001/1.png,s000001/2.png,abc\n").unwrap();
    let out = palmline(&[
        "eval",
        "--scores",
        bad.to_str().unwrap(),
        "--set",
        dir.join("set").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn synthetic_hands_evaluate_cleanly_and_plot() {
    let dir = scratch("hands");
    synth(&dir, &["--hands"]);
    let plot = dir.join("det.svg");
    let out = succeeded(&[
        "eval",
        dir.to_str().unwrap(),
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    assert_eq!(r["failures_to_acquire"], 0);
    assert_eq!(r["rank1"], 1.0);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("<svg"));
    // Says which way is better and what its marks are.
    assert!(svg.contains("lower is better"), "{svg}");
    assert!(svg.contains("operating point at FMR 1e-3"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_writes_every_stage() {
    let dir = scratch("inspect");
    synth(&dir, &["--hands"]);
    let out_dir = dir.join("stages");
    let out = succeeded(&[
        "inspect",
        dir.join("s000002/1.png").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("quality") && stdout.contains("hand: Left"),
        "{stdout}"
    );
    // A hand framed from learned landmarks has no outline mask to show.
    assert!(stdout.contains("learned hand landmarks"), "{stdout}");
    for f in [
        "2-landmarks.png",
        "3-roi.png",
        "4-response-0.png",
        "5-code-plane-5.png",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    // The folder says what each picture is; the ROI is enlarged with its lines stretched to
    // full contrast; the valid-pixel map is white where the template looks.
    let readme = std::fs::read_to_string(out_dir.join("README.txt")).unwrap();
    assert!(readme.contains("3-roi-valid.png") && readme.contains("white is used"));
    let roi = image::open(out_dir.join("3-roi.png")).unwrap().to_luma8();
    assert_eq!(roi.width(), 256, "64 px ROI written 4x");
    let (lo, hi) = roi
        .pixels()
        .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
    assert!(lo == 0 && hi == 255, "contrast {lo}..{hi}");
    let valid = image::open(out_dir.join("3-roi-valid.png"))
        .unwrap()
        .to_luma8();
    let white = valid.pixels().filter(|p| p[0] == 255).count();
    assert!(
        white > valid.pixels().len() / 2,
        "a palm's ROI is mostly valid: white"
    );
    let out = palmline(&[
        "inspect",
        dir.join("manifest.csv").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an image"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_identify_and_bench_identify_report_their_keys() {
    let dir = scratch("identify");
    synth(&dir, &[]);
    let out = succeeded(&["eval", dir.to_str().unwrap(), "--identify", "--json"]);
    let lines = json_lines(&out);
    let id = lines
        .iter()
        .find(|l| l["mode"] == "identify")
        .expect("an identification report");
    assert_eq!(id["gallery"], 6);
    assert_eq!(id["mated_searches"], 12);
    assert_eq!(id["non_mated_searches"], 12);
    assert_eq!(id["rank1"], 1.0);
    assert_eq!(id["top1_agreement_with_exhaustive"], 1.0);

    let out = succeeded(&[
        "bench",
        "identify",
        "--gallery",
        "400",
        "--identities",
        "40",
        "--agreement-probes",
        "3",
        "--set",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let b = &json_lines(&out)[0];
    for key in [
        "gallery",
        "p50_ms",
        "p99_ms",
        "qps_all_cores",
        "top1_agreement_with_exhaustive",
        "bytes_per_palm",
        "build_s",
        "load_s",
    ] {
        assert!(b.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(b["gallery"], 400);
    assert_eq!(b["loaded"], 400);
    assert_eq!(b["rank1"], 1.0);

    // A calibration measured with other engine parameters is refused, not silently used.
    let cal = dir.join("other.cal");
    std::fs::write(&cal, "palmline-calibration 1\nfingerprint 00000001\ntail_start 0.6\ntail_share 0.01\ntail_scale 0.01\ngenuine 0.01 0.7\n")
        .unwrap();
    let out = palmline(&[
        "eval",
        dir.to_str().unwrap(),
        "--identify",
        "--calibration",
        cal.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("write-calibration"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_report_piped_into_a_reader_that_leaves_ends_without_a_panic() {
    // The reader leaves before the first line is written, as `| head -0` would. Its end of
    // the pipe is closed before the child starts, so no write can slip into the pipe first.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_palmline"))
        .args(["policy", "--sizes", "1,10,100,1000,10000,100000,1000000"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.status.success());
}

#[test]
fn policy_prints_thresholds_that_rise_with_gallery_size() {
    let out = succeeded(&["policy", "--sizes", "1,1000,1000000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let thresholds: Vec<f64> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(thresholds.len(), 3, "{text}");
    assert!(
        thresholds[0] < thresholds[1] && thresholds[1] < thresholds[2],
        "{thresholds:?}"
    );
    assert!(
        text.contains("needs a hint"),
        "a million palms at FPIR 1e-6 must ask for a hint:\n{text}"
    );
    let out = palmline(&["policy", "--fpir", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fpir"));
}

/// Two hands decide serially: the first hand's threshold rises with the gallery, the share it
/// decides alone falls, the FPIR budget holds, and the second hand leaves fewer turned away
/// than the first hand alone would. Calibrations that are not shipped get a clear error.
#[test]
fn policy_for_two_hands_reports_the_serial_decision() {
    let rows = |args: &[&str]| json_lines(&succeeded(args));
    let two_hands = ["policy", "--hands", "2", "--frames", "3", "--json"];
    let serial = rows(&[&two_hands[..], &["--sizes", "100,1000000"]].concat());
    assert_eq!(serial.len(), 2);
    for r in &serial {
        assert_eq!(
            (r["hands"].as_u64(), r["frames"].as_u64()),
            (Some(2), Some(3))
        );
        assert!(r["fpir"].as_f64().unwrap() <= 1.0001e-6, "{r}");
        let fnir = r["fnir"].as_f64().unwrap();
        assert!(
            fnir <= r["first_fnir"].as_f64().unwrap() && fnir <= r["both_fnir"].as_f64().unwrap()
        );
        let decided = r["decided_by_first_hand"].as_f64().unwrap();
        assert!((decided - (1.0 - r["first_fnir"].as_f64().unwrap())).abs() < 1e-9);
    }
    let (small, large) = (&serial[0], &serial[1]);
    assert!(small["first_threshold"].as_f64() < large["first_threshold"].as_f64());
    assert!(small["decided_by_first_hand"].as_f64() > large["decided_by_first_hand"].as_f64());
    // One hand with the same frames, alone, at a million people.
    let one = rows(&[
        "policy", "--hands", "1", "--frames", "3", "--sizes", "1000000", "--json",
    ]);
    assert!(
        one[0]["fnir"].as_f64() > large["fnir"].as_f64(),
        "{one:?} vs {large}"
    );
    // Giving the first hand more of the budget lets it decide more alone, under the same FPIR.
    let leaning = rows(
        &[
            &two_hands[..],
            &["--sizes", "1000000", "--first-share", "0.9"],
        ]
        .concat(),
    );
    assert_eq!(leaning[0]["first_share"].as_f64(), Some(0.9));
    assert!(leaning[0]["fpir"].as_f64().unwrap() <= 1.0001e-6);
    assert!(leaning[0]["decided_by_first_hand"].as_f64() > large["decided_by_first_hand"].as_f64());
    let out = palmline(&["policy", "--hands", "2", "--first-share", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--first-share"));
    let out = palmline(&["policy", "--hands", "1", "--first-share", "0.7"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hands 2"));
    let out = palmline(&["policy", "--hands", "2", "--frames", "7"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hands 2 --frames 3"));
    let out = palmline(&["policy", "--hands", "3"]);
    assert!(!out.status.success());
}

/// Two light bands of one capture (visible and near infrared) name people a single visible
/// capture leaves to a hint, under the same FPIR; bands are calibrated for one hand and frame.
#[test]
fn policy_for_two_bands_decides_with_their_calibration() {
    let rows = |args: &[&str]| json_lines(&succeeded(args));
    let sizes = ["--sizes", "1,1000000", "--json"];
    let bands = rows(&[&["policy", "--bands", "2"][..], &sizes].concat());
    let visible = rows(&[&["policy", "--hands", "1", "--frames", "1"][..], &sizes].concat());
    assert_eq!(bands.len(), 2);
    for (b, v) in bands.iter().zip(&visible) {
        assert_eq!(b["bands"], 2);
        assert!(b["fpir"].as_f64().unwrap() <= 1.0001e-6, "{b}");
        assert!(b["fnir"].as_f64() < v["fnir"].as_f64(), "{b} vs {v}");
    }
    let out = palmline(&["policy", "--bands", "2", "--hands", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one hand and one frame"));
}

/// `palmline serve` as the README runs it: prints its URL and the demo credentials, answers,
/// and stops cleanly on SIGTERM; `palmline keys rotate` then moves the data to a new master key.

#[test]
fn synth_refuses_zero_palms_or_captures_with_a_clear_error() {
    for flag in ["--palms", "--captures"] {
        let dir = scratch("synth-zero");
        let out = palmline(&["synth", "--out", dir.to_str().unwrap(), flag, "0"]);
        assert!(!out.status.success());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(flag) && said.contains("0"), "{said}");
        assert!(!dir.exists(), "nothing written for a refused request");
    }
}

/// Rewrites a synthetic set's manifest so palms 1-6 are three people's left and right hands.
fn two_handed(dir: &std::path::Path) {
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let mut rows = vec!["path,palm,session,sample,hand,person".to_string()];
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let palm: u32 = cols[1].trim_start_matches('s').parse().unwrap();
        let (person, hand) = (palm.div_ceil(2), if palm % 2 == 1 { "l" } else { "r" });
        let sample = cols[0].rsplit('/').next().unwrap();
        rows.push(format!(
            "{},{},1,{sample},{hand},p{person}",
            cols[0], cols[1]
        ));
    }
    std::fs::write(dir.join("manifest.csv"), rows.join("\n") + "\n").unwrap();
}

/// `bench identify --hands 2` times the serial decision for every person with an enrolment and a
/// hover of three frames of each hand, and names nobody wrongly.
#[test]
fn bench_identify_times_the_serial_two_hand_decision() {
    let dir = scratch("serial");
    synth(&dir, &["--captures", "4"]);
    two_handed(&dir);
    let set = dir.to_str().unwrap();
    let args = [
        "bench",
        "identify",
        "--hands",
        "2",
        "--set",
        set,
        "--gallery",
        "300",
    ];
    let out = succeeded(&[&args[..], &["--identities", "40", "--json"]].concat());
    let r = &json_lines(&out)[0];
    assert_eq!(
        (r["people"].as_u64(), r["hands"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(r["gallery"].as_u64(), Some(300));
    assert_eq!(r["wrong_person"].as_u64(), Some(0), "{r}");
    for key in ["decided_by_first_hand", "correct", "p50_ms", "p99_ms"] {
        assert!(r[key].is_number(), "missing {key}: {r}");
    }
    // A set without both hands of anyone says what it needs.
    let plain = scratch("serial-plain");
    synth(&plain, &["--captures", "4"]);
    let out = palmline(&[
        "bench",
        "identify",
        "--hands",
        "2",
        "--set",
        plain.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("person and hand"));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&plain).unwrap();
}

/// `eval --fuse hands` pairs each person's left and right captures of one sample and reports the
/// fused verification beside the one-hand one; a set without person and hand columns is said to
/// have nothing to fuse.
#[test]
fn eval_fuses_both_hands_of_each_person() {
    let dir = scratch("fuse");
    synth(&dir, &[]);
    two_handed(&dir);
    let out = succeeded(&["eval", dir.to_str().unwrap(), "--fuse", "hands", "--json"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let fused = &lines[1];
    assert_eq!(fused["fused_by"], "hands");
    assert_eq!(fused["presentations"], 9);
    assert_eq!(fused["genuine_pairs"], 9);
    assert_eq!(fused["impostor_pairs"], 27);
    for key in [
        "eer",
        "fusion_floor",
        "sum_rule",
        "impostor_hand_correlation",
    ] {
        assert!(!fused[key].is_null(), "missing {key}");
    }
    // Too few impostor pairs for these rates here: present, and null.
    for key in ["fnmr_at_fmr_1e3", "fnmr_at_fmr_1e4"] {
        assert!(fused.get(key).is_some(), "missing {key}");
    }
    assert!(fused["eer"].as_f64().unwrap() <= lines[0]["eer"].as_f64().unwrap());

    // Hovers of both hands: each person's first left and right capture enrol, the next two of
    // each hand are one hover.
    let set = dir.to_str().unwrap();
    let out = succeeded(&["eval", set, "--fuse", "hands", "--frames", "2", "--json"]);
    let hovers = &json_lines(&out)[1];
    assert_eq!(
        (hovers["fused_by"].as_str(), hovers["frames"].as_u64()),
        (Some("hands"), Some(2))
    );
    assert_eq!(
        (hovers["people"].as_u64(), hovers["bursts"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (
            hovers["genuine_pairs"].as_u64(),
            hovers["impostor_pairs"].as_u64()
        ),
        (Some(3), Some(6))
    );
    // A calibration needs more than a toy set's scores: refused with the counts, nothing written.
    let calibration = dir.join("fused.txt");
    let out = palmline(&[
        "eval",
        set,
        "--fuse",
        "hands",
        "--frames",
        "2",
        "--write-fused-calibration",
        calibration.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need at least 1000 impostor"));
    assert!(!calibration.exists());
    assert!(
        !palmline(&["eval", set, "--write-fused-calibration", "x.txt"])
            .status
            .success()
    );

    // Without person and hand columns there is nothing to fuse: said, and only one report.
    let plain = scratch("fuse-plain");
    synth(&plain, &[]);
    let out = palmline(&["eval", plain.to_str().unwrap(), "--fuse", "hands", "--json"]);
    assert!(out.status.success());
    assert_eq!(json_lines(&out).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to fuse"));
    let bad = palmline(&["eval", plain.to_str().unwrap(), "--fuse", "elbows"]);
    assert!(!bad.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&plain).unwrap();
}

/// Rewrites a synthetic set's manifest as two light bands of three people's right hands: palms
/// 1-3 are the white-light images, palms 4-6 the near-infrared ones of the same captures.
fn two_banded(dir: &std::path::Path) {
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let mut rows = vec!["path,palm,session,sample,hand,modality,person".to_string()];
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let palm: u32 = cols[1].trim_start_matches('s').parse().unwrap();
        let (person, band) = ((palm - 1) % 3 + 1, if palm <= 3 { "white" } else { "nir" });
        let sample = cols[0].rsplit('/').next().unwrap();
        rows.push(format!(
            "{},{},1,{sample},r,{band},p{person}",
            cols[0], cols[1]
        ));
    }
    std::fs::write(dir.join("manifest.csv"), rows.join("\n") + "\n").unwrap();
}

/// `eval --fuse bands` joins each capture's images in the asked bands and reports the fused
/// verification after each band's own; one band, or a set without the columns, is said to have
/// nothing to fuse.
#[test]
fn eval_fuses_the_light_bands_of_a_capture() {
    let dir = scratch("bands");
    synth(&dir, &[]); // 6 palms x 3 captures
    two_banded(&dir);
    let set = dir.to_str().unwrap();
    let out = succeeded(&["eval", set, "--fuse", "bands", "--json"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "each band, then the fused report");
    let fused = &lines[2];
    assert_eq!(fused["fused_by"], "bands");
    assert_eq!(fused["presentations"], 9);
    assert_eq!(fused["genuine_pairs"], 9);
    assert_eq!(fused["impostor_pairs"], 27);
    assert_eq!(fused["images"], 18);
    assert_eq!(fused["bands"].as_array().unwrap().len(), 2);
    assert!(fused["impostor_band_correlations"][0]["impostor"].is_number());
    let worst = lines[..2]
        .iter()
        .map(|l| l["eer"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(fused["eer"].as_f64().unwrap() <= worst);
    // One band asked for: evaluated, nothing to fuse.
    let out = palmline(&["eval", set, "--fuse", "bands", "--bands", "white", "--json"]);
    assert!(out.status.success());
    assert_eq!(json_lines(&out).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("two bands or more"));
    // --bands names modalities; --modality picks one: not both.
    assert!(
        !palmline(&["eval", set, "--bands", "white", "--modality", "nir"])
            .status
            .success()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `eval --fuse templates` enrols each palm's best K of its first three captures and scores the
/// later ones by their best against them, beside the one-template figures; K outside 1-3 is
/// refused.
#[test]
fn eval_keeps_several_templates_of_each_palm() {
    let dir = scratch("templates");
    synth(&dir, &["--captures", "5"]); // 6 palms: 3 offered + 2 probes each
    let set = dir.to_str().unwrap();
    let out = succeeded(&[
        "eval",
        set,
        "--fuse",
        "templates",
        "--templates",
        "3",
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let kept = &lines[1];
    assert_eq!(kept["fused_by"], "templates");
    assert_eq!(
        (kept["templates"].as_u64(), kept["offered"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (kept["palms"].as_u64(), kept["probes"].as_u64()),
        (Some(6), Some(12))
    );
    assert_eq!(kept["genuine_pairs"], 12);
    assert_eq!(kept["impostor_pairs"], 60);
    assert!(kept["eer"].as_f64().unwrap() <= kept["one_template"]["eer"].as_f64().unwrap());
    assert!(
        !palmline(&["eval", set, "--fuse", "templates", "--templates", "4"])
            .status
            .success()
    );
    // Too few captures to probe with: said, and no fused report.
    let few = scratch("templates-few");
    synth(&few, &[]);
    let out = palmline(&[
        "eval",
        few.to_str().unwrap(),
        "--fuse",
        "templates",
        "--json",
    ]);
    assert!(out.status.success());
    assert_eq!(json_lines(&out).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to fuse by templates"));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&few).unwrap();
}

#[test]
fn eval_fuses_the_frames_of_a_hover() {
    let dir = scratch("frames");
    synth(&dir, &[]); // 6 palms x 3 captures: an enrolment and one burst of 2 frames each
    let out = succeeded(&[
        "eval",
        dir.to_str().unwrap(),
        "--fuse",
        "frames",
        "--frames",
        "2",
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let fused = &lines[1];
    assert_eq!(fused["fused_by"], "frames");
    assert_eq!(fused["frames"], 2);
    assert_eq!(fused["palms"], 6);
    assert_eq!(fused["bursts"], 6);
    assert_eq!(fused["genuine_pairs"], 6);
    assert_eq!(fused["impostor_pairs"], 30);
    assert!(fused["one_frame"]["eer"].is_number());
    assert!(fused["eer"].as_f64().unwrap() <= fused["one_frame"]["eer"].as_f64().unwrap());
    // More frames than any palm has after its enrolment: said, and no fused report.
    let out = palmline(&[
        "eval",
        dir.to_str().unwrap(),
        "--fuse",
        "frames",
        "--frames",
        "3",
        "--json",
    ]);
    assert!(out.status.success());
    assert_eq!(json_lines(&out).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to fuse by frames"));
    let out = palmline(&[
        "eval",
        dir.to_str().unwrap(),
        "--fuse",
        "frames",
        "--frames",
        "0",
    ]);
    assert!(!out.status.success(), "0 frames is refused");
    std::fs::remove_dir_all(&dir).unwrap();
}
