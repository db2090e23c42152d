//! Where frames come from, and the intentional gesture: nothing is sent until a palm is present
//! and steady over several consecutive frames whose templates agree.

use crate::{Result, ScannerError};
use palm_engine::{DEFAULT_THRESHOLD, Engine, Template};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// A stream of encoded frames (PNG, JPEG or BMP).
pub trait Source {
    /// The next frame; `None` when the source has no more.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>>;
}

/// Image files, in order.
pub struct Files {
    paths: Vec<PathBuf>,
    next: usize,
}

impl Files {
    pub fn new(paths: Vec<PathBuf>) -> Files {
        Files { paths, next: 0 }
    }
}

impl Source for Files {
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(path) = self.paths.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        std::fs::read(path)
            .map(Some)
            .map_err(|e| ScannerError::Capture(format!("{}: {e}", path.display())))
    }
}

/// A folder another program drops frames into: each new image file is one frame. Files are read,
/// never written or kept. Gives up after `timeout` without a new file.
pub struct Folder {
    dir: PathBuf,
    seen: HashSet<PathBuf>,
    timeout: Duration,
}

impl Folder {
    pub fn new(dir: PathBuf, timeout: Duration) -> Result<Folder> {
        let mut f = Folder {
            dir,
            seen: HashSet::new(),
            timeout,
        };
        // Frames already there belong to an earlier person.
        f.seen = f.images()?.into_iter().collect();
        Ok(f)
    }

    fn images(&self) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| ScannerError::Capture(format!("{}: {e}", self.dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    ["png", "jpg", "jpeg", "bmp"].contains(&x.to_ascii_lowercase().as_str())
                })
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

impl Source for Folder {
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        let start = Instant::now();
        loop {
            if let Some(path) = self.images()?.into_iter().find(|p| !self.seen.contains(p)) {
                self.seen.insert(path.clone());
                return std::fs::read(&path)
                    .map(Some)
                    .map_err(|e| ScannerError::Capture(format!("{}: {e}", path.display())));
            }
            if start.elapsed() >= self.timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A synthetic palm hovering over the scanner: the same capture, frame after frame (a real hover
/// changes little between frames), for demos and tests without a camera.
pub struct Synthetic {
    identity: Identity,
    capture: u64,
    scene: Scene,
    frames: usize,
}

impl Synthetic {
    /// `frames` frames of capture `capture` of synthetic palm `seed`; a full-hand photo when
    /// `hand`, else a palm crop.
    pub fn new(seed: u64, capture: u64, hand: bool, frames: usize) -> Synthetic {
        Synthetic {
            identity: Identity::new(seed),
            capture,
            scene: if hand {
                Scene::Hand {
                    width: 640,
                    height: 480,
                }
            } else {
                Scene::Roi { size: 128 }
            },
            frames,
        }
    }
}

impl Source for Synthetic {
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        if self.frames == 0 {
            return Ok(None);
        }
        self.frames -= 1;
        let img = self.identity.render(self.scene, Capture::new(self.capture));
        Ok(Some(png_bytes(&img)))
    }
}

/// `synth:SEED[:CAPTURE][:hand]`, `files:A.png,B.png`, `folder:DIR`, or `webcam:INDEX` (with the
/// `webcam` feature).
pub fn parse_source(spec: &str) -> Result<Box<dyn Source>> {
    let bad = || {
        ScannerError::Capture(format!(
            "unknown source {spec:?}: use synth:SEED[:CAPTURE][:hand], files:A.png,B.png, folder:DIR or webcam:INDEX (built with --features webcam)"
        ))
    };
    let (kind, rest) = spec.split_once(':').ok_or_else(bad)?;
    match kind {
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
            Ok(Box::new(Synthetic::new(seed, capture, hand, 10)))
        }
        "files" => Ok(Box::new(Files::new(
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
        "folder" => Ok(Box::new(Folder::new(
            PathBuf::from(rest),
            Duration::from_secs(30),
        )?)),
        _ => Err(bad()),
    }
}

/// The intentional-gesture check.
pub struct Gesture {
    engine: Engine,
    /// Consecutive agreeing frames needed.
    pub steady_frames: usize,
    /// Frames looked at before giving up.
    pub max_frames: usize,
}

impl Default for Gesture {
    fn default() -> Self {
        Gesture {
            engine: Engine::default(),
            steady_frames: 3,
            max_frames: 60,
        }
    }
}

impl Gesture {
    /// Reads frames until `steady_frames` in a row hold a palm and agree with each other (the
    /// matcher's own threshold), then returns the best-quality one of them. Every other frame is
    /// wiped. `guide` hears what the person should do ("move closer", "spread your fingers").
    pub fn wait_for_palm(
        &self,
        source: &mut dyn Source,
        mut guide: impl FnMut(&str),
    ) -> Result<Vec<u8>> {
        let mut run: Vec<(Template, Vec<u8>)> = Vec::new();
        for _ in 0..self.max_frames {
            let Some(frame) = source.next_frame()? else {
                break;
            };
            let extraction = match self.engine.enrol_template(&frame) {
                Ok(t) => t,
                Err(e) => {
                    guide(
                        e.rejection()
                            .map_or("hold your palm over the scanner", |r| r.guidance()),
                    );
                    wipe(&mut run);
                    let mut frame = frame;
                    frame.zeroize();
                    continue;
                }
            };
            let agrees = run.last().is_none_or(|(last, _)| {
                self.engine
                    .similarity(last, &extraction)
                    .is_ok_and(|s| s >= DEFAULT_THRESHOLD)
            });
            if !agrees {
                guide("hold your hand still");
                wipe(&mut run);
            }
            run.push((extraction, frame));
            if run.len() >= self.steady_frames {
                let best = (0..run.len())
                    .max_by_key(|&i| run[i].0.quality)
                    .expect("a full run");
                let (_, chosen) = run.swap_remove(best);
                wipe(&mut run);
                return Ok(chosen);
            }
        }
        wipe(&mut run);
        Err(ScannerError::Capture(
            "no steady palm: hold your palm flat over the scanner for a moment".into(),
        ))
    }
}

fn wipe(run: &mut Vec<(Template, Vec<u8>)>) {
    for (_, frame) in run.iter_mut() {
        frame.zeroize();
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Frames(std::collections::VecDeque<Vec<u8>>);

    impl Source for Frames {
        fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
            Ok(self.0.pop_front())
        }
    }

    fn frame(seed: u64, capture: u64) -> Vec<u8> {
        Synthetic::new(seed, capture, false, 1)
            .next_frame()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn only_a_steady_palm_is_chosen_and_the_person_is_guided() {
        let dark = png_bytes(&image::RgbImage::new(200, 200));
        let (a, b) = (frame(31, 1), frame(32, 1));
        let frames = vec![dark, a.clone(), b.clone(), a.clone(), a.clone(), a.clone()];
        let mut heard = Vec::new();
        let chosen = Gesture::default()
            .wait_for_palm(&mut Frames(frames.into()), |g| heard.push(g.to_string()))
            .unwrap();
        assert_eq!(chosen, a);
        assert_eq!(heard.len(), 3, "{heard:?}");
        assert!(
            heard[0].contains("dark") || heard[0].contains("palm"),
            "{heard:?}"
        );
        // The stranger breaks the run of A, and then A breaks the run of the stranger.
        assert_eq!(heard[1], "hold your hand still");
        assert_eq!(heard[2], "hold your hand still");

        // Never steady: two palms alternating until the source runs dry.
        let alternating: Vec<Vec<u8>> = (0..6)
            .map(|i| if i % 2 == 0 { a.clone() } else { b.clone() })
            .collect();
        let err = Gesture::default()
            .wait_for_palm(&mut Frames(alternating.into()), |_| {})
            .unwrap_err();
        assert!(err.to_string().contains("no steady palm"), "{err}");
    }

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
        let mut folder = Folder::new(dir.path().to_path_buf(), Duration::from_millis(300)).unwrap();
        std::fs::write(dir.path().join("new.png"), b"frame").unwrap();
        assert_eq!(folder.next_frame().unwrap().unwrap(), b"frame");
        assert!(
            folder.next_frame().unwrap().is_none(),
            "the old frame is not replayed"
        );
    }
}
