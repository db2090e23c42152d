//! Helpers the `palmline` binary's tests share: running it, a scratch folder, JSON lines, and a
//! synthetic set.
#![allow(dead_code)] // each test binary uses its own share of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn palmline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palmline"))
        .args(args)
        .output()
        .expect("palmline runs")
}

/// `palmline args...`, which must succeed (its stderr is shown when it does not).
pub fn succeeded(args: &[&str]) -> Output {
    let out = palmline(args);
    assert!(
        out.status.success(),
        "palmline {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palmline-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

pub fn synth(dir: &Path, extra: &[&str]) {
    let mut args = vec!["synth", "--out", dir.to_str().unwrap(), "--palms", "6"];
    // Three captures a palm unless the caller says otherwise.
    if !extra.contains(&"--captures") {
        args.extend_from_slice(&["--captures", "3"]);
    }
    args.extend_from_slice(extra);
    let out = palmline(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
