//! Capture sources by name, as `palmline scanner` takes them on its command line: each kind of
//! source lives in its own module (files and folders in `capture`, synthetic hands and webcams
//! behind their features); this is the one place that knows them all.

use crate::capture::{self, Source};
use crate::{Result, ScannerError};
use std::path::PathBuf;
use std::time::Duration;

/// `synth:SEED[:CAPTURE][:hand]` (with the `synthetic` feature), `files:A.png,B.png`,
/// `folder:DIR`, or `webcam:INDEX` (with the `webcam` feature).
pub fn parse_source(spec: &str) -> Result<Box<dyn Source>> {
    let bad = || {
        ScannerError::Capture(format!(
            "unknown source {spec:?}: use synth:SEED[:CAPTURE][:hand], files:A.png,B.png, folder:DIR or webcam:INDEX (built with --features webcam)"
        ))
    };
    let (kind, rest) = spec.split_once(':').ok_or_else(bad)?;
    match kind {
        #[cfg(feature = "synthetic")]
        "synth" => {
            let mut parts = rest.split(':');
            let seed = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let mut capture = 1;
            let mut hand = false;
            for p in parts {
                match p {
                    "hand" => hand = true,
                    n => capture = n.parse().map_err(|_| bad())?,
                }
            }
            Ok(Box::new(crate::synthetic::Synthetic::new(
                seed, capture, hand, 10,
            )))
        }
        "files" => Ok(Box::new(capture::Files::new(
            rest.split(',')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
        ))),
        #[cfg(feature = "webcam")]
        "webcam" => Ok(Box::new(crate::webcam::Webcam::open(
            rest.parse().map_err(|_| bad())?,
            60,
        )?)),
        "folder" => Ok(Box::new(capture::Folder::new(
            PathBuf::from(rest),
            Duration::from_secs(30),
        )?)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_parsed_and_bad_ones_named() {
        assert!(parse_source("synth:5").is_ok());
        assert!(parse_source("synth:5:3:hand").is_ok());
        for bad in ["webcam", "synth:x", "nope:1", "synth:5:zz"] {
            let err = parse_source(bad).err().unwrap().to_string();
            assert!(err.contains("unknown source"), "{bad}: {err}");
        }
        let mut files = parse_source("files:/nonexistent/a.png").unwrap();
        assert!(files.next_frame().is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.png"), b"x").unwrap();
        let mut folder =
            capture::Folder::new(dir.path().to_path_buf(), Duration::from_millis(300)).unwrap();
        std::fs::write(dir.path().join("new.png"), b"frame").unwrap();
        assert!(
            matches!(folder.next_frame().unwrap(), Some(capture::Frame::Encoded(b)) if b == b"frame")
        );
        assert!(
            folder.next_frame().unwrap().is_none(),
            "the old frame is not replayed"
        );
    }
}
