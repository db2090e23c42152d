//! `palmline landmarks IMAGE...`: the hands the learned models find in each picture, one JSON
//! line per picture, for checking the Rust models against MediaPipe's own package
//! (`scripts/check-landmarks.py`) and for looking at what a camera's pictures give.

use anyhow::{Context, Result};
use palm_hands::HandModels;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct LandmarksArgs {
    /// Pictures (PNG, JPEG or BMP).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Look for at most this many hands a picture.
    #[arg(long, default_value_t = 2)]
    pub max_hands: usize,
}

pub fn run(args: LandmarksArgs) -> Result<()> {
    let models = HandModels::get()?;
    for path in &args.images {
        let line = match std::fs::read(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .and_then(|bytes| Ok(palm_engine::decode(&bytes)?))
        {
            Ok(rgb) => {
                let started = Instant::now();
                let hands = models.hands(&rgb, args.max_hands)?;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                let hands: Vec<_> = hands
                    .iter()
                    .map(|h| {
                        json!({
                            "handedness": format!("{:?}", h.handedness).to_lowercase(),
                            "handedness_score": h.handedness_score,
                            "presence": h.presence,
                            "detection_score": h.detection_score,
                            "points": h.points.iter().map(|p| [p.0, p.1]).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({"path": path, "width": rgb.width(), "height": rgb.height(), "ms": ms, "hands": hands})
            }
            Err(e) => json!({"path": path, "error": format!("{e:#}")}),
        };
        println!("{line}");
    }
    Ok(())
}
