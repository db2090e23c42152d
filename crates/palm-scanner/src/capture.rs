//! Where frames come from, and the intentional gesture: nothing is sent until a palm is present
//! and held still over several consecutive frames (its hand landmarks barely move; for a palm
//! crop with no landmarks, the frames' templates agree).

use crate::{Result, ScannerError};
use image::RgbImage;
use palm_engine::{DEFAULT_THRESHOLD, Engine, Extraction, InputKind, Template};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// One frame as its source delivers it.
pub enum Frame {
    /// PNG, JPEG or BMP bytes (files, a folder).
    Encoded(Vec<u8>),
    /// Pixels a camera delivered: they go to the engine as they are, and only the frame chosen
    /// to send is ever encoded.
    Pixels(RgbImage),
}

impl Frame {
    fn extract(&self, engine: &Engine) -> std::result::Result<Extraction, palm_engine::Error> {
        match self {
            Frame::Encoded(bytes) => engine.extract(bytes, InputKind::Auto),
            Frame::Pixels(rgb) => engine.extract_pixels(rgb, InputKind::Auto),
        }
    }

    /// The bytes to seal and send.
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Frame::Encoded(bytes) => bytes,
            Frame::Pixels(mut rgb) => {
                let bytes = png(&rgb);
                wipe_pixels(&mut rgb);
                bytes
            }
        }
    }

    fn wipe(&mut self) {
        match self {
            Frame::Encoded(bytes) => bytes.zeroize(),
            Frame::Pixels(rgb) => wipe_pixels(rgb),
        }
    }
}

/// A camera frame as PNG bytes (lossless: the cloud reads what the camera saw).
fn png(rgb: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    rgb.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding to memory cannot fail");
    out
}

fn wipe_pixels(rgb: &mut RgbImage) {
    let px: &mut [u8] = rgb;
    px.zeroize();
}

/// A stream of frames.
pub trait Source {
    /// The next frame; `None` when the source has no more.
    fn next_frame(&mut self) -> Result<Option<Frame>>;
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
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let Some(path) = self.paths.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        std::fs::read(path)
            .map(|b| Some(Frame::Encoded(b)))
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
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let start = Instant::now();
        loop {
            if let Some(path) = self.images()?.into_iter().find(|p| !self.seen.contains(p)) {
                self.seen.insert(path.clone());
                return std::fs::read(&path)
                    .map(|b| Some(Frame::Encoded(b)))
                    .map_err(|e| ScannerError::Capture(format!("{}: {e}", path.display())));
            }
            if start.elapsed() >= self.timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How far a hand may move between consecutive frames and still count as held still: the mean
/// shift of its landmarks, as a share of the palm's width. A hover held for a moment moves a few
/// percent between frames read a fifth of a second apart; a hand coming in or leaving moves more.
const MAX_MOTION: f32 = 0.08;

/// The intentional-gesture check.
pub struct Gesture {
    engine: Engine,
    /// Consecutive still frames needed.
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

/// What the gesture keeps of a frame it read.
struct Read {
    template: Template,
    /// The hand's landmarks in the frame (the ROI's corners when the hand was framed another
    /// way; none for a palm crop), and the palm's width in the same pixels.
    points: Vec<(f32, f32)>,
    palm_width: f32,
    frame: Frame,
}

impl Read {
    fn new(ex: Extraction, frame: Frame) -> Read {
        let (points, palm_width) = match &ex.hand {
            Some(h) => {
                let [a, b, ..] = h.roi_corners;
                let width = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
                let points = if h.landmarks.is_empty() {
                    h.roi_corners.to_vec()
                } else {
                    h.landmarks.clone()
                };
                (points, width)
            }
            None => (Vec::new(), 0.0),
        };
        Read {
            template: ex.template,
            points,
            palm_width,
            frame,
        }
    }

    /// Whether the hand held still since `earlier`: its landmarks barely moved, or, for palm
    /// crops (no landmarks), the two templates show the same palm.
    fn still_since(&self, earlier: &Read, engine: &Engine) -> bool {
        if !self.points.is_empty() && self.points.len() == earlier.points.len() {
            let moved = self
                .points
                .iter()
                .zip(&earlier.points)
                .map(|(a, b)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
                .sum::<f32>()
                / self.points.len() as f32;
            return moved <= MAX_MOTION * self.palm_width.max(1.0);
        }
        engine
            .similarity(&earlier.template, &self.template)
            .is_ok_and(|s| s >= DEFAULT_THRESHOLD)
    }
}

impl Gesture {
    /// Reads frames until `steady_frames` in a row hold a palm good enough to enrol, held still,
    /// then returns the best-quality one of them, encoded for sending. Every other frame is
    /// wiped. `guide` hears what the person should do ("move closer", "hold your hand still").
    pub fn wait_for_palm(
        &self,
        source: &mut dyn Source,
        guide: impl FnMut(&str),
    ) -> Result<Vec<u8>> {
        let mut run = self.steady_run(source, guide)?;
        let best = (0..run.len())
            .max_by_key(|&i| run[i].template.quality)
            .ok_or_else(|| ScannerError::Capture("no steady palm".into()))?;
        let chosen = run.swap_remove(best);
        wipe(&mut run);
        Ok(chosen.frame.into_bytes())
    }

    /// The same wait, returning every one of the `steady_frames` still frames in the order they
    /// were read: the frames of one hover, which the server decides on together.
    pub fn wait_for_hover(
        &self,
        source: &mut dyn Source,
        guide: impl FnMut(&str),
    ) -> Result<Vec<Vec<u8>>> {
        let run = self.steady_run(source, guide)?;
        Ok(run.into_iter().map(|r| r.frame.into_bytes()).collect())
    }

    /// Frames read until `steady_frames` in a row hold an enrol-grade palm held still.
    fn steady_run(
        &self,
        source: &mut dyn Source,
        mut guide: impl FnMut(&str),
    ) -> Result<Vec<Read>> {
        let mut run: Vec<Read> = Vec::new();
        for _ in 0..self.max_frames {
            let Some(mut frame) = source.next_frame()? else {
                break;
            };
            let extracted =
                frame
                    .extract(&self.engine)
                    .and_then(|ex| match ex.quality.enrol_rejection() {
                        Some(reason) => Err(reason.into()),
                        None => Ok(ex),
                    });
            let ex = match extracted {
                Ok(ex) => ex,
                Err(e) => {
                    guide(
                        e.rejection()
                            .map_or("hold your palm over the scanner", |r| r.guidance()),
                    );
                    wipe(&mut run);
                    frame.wipe();
                    continue;
                }
            };
            let read = Read::new(ex, frame);
            if run
                .last()
                .is_some_and(|last| !read.still_since(last, &self.engine))
            {
                guide("hold your hand still");
                wipe(&mut run);
            }
            run.push(read);
            if run.len() >= self.steady_frames.max(1) {
                return Ok(run);
            }
        }
        wipe(&mut run);
        Err(ScannerError::Capture(
            "no steady palm: hold your palm flat over the scanner for a moment".into(),
        ))
    }
}

fn wipe(run: &mut Vec<Read>) {
    for read in run.iter_mut() {
        read.frame.wipe();
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use palm_synth::{Capture, Identity, Scene, png_bytes};

    struct Frames(std::collections::VecDeque<Vec<u8>>);

    impl Source for Frames {
        fn next_frame(&mut self) -> Result<Option<Frame>> {
            Ok(self.0.pop_front().map(Frame::Encoded))
        }
    }

    struct Camera(std::collections::VecDeque<RgbImage>);

    impl Source for Camera {
        fn next_frame(&mut self) -> Result<Option<Frame>> {
            Ok(self.0.pop_front().map(Frame::Pixels))
        }
    }

    fn frame(seed: u64, capture: u64) -> Vec<u8> {
        png_bytes(&Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(capture)))
    }

    /// A 640 x 480 camera picture of synthetic hand `seed`, moved `dx` pixels to the right.
    fn hand(seed: u64, dx: u32) -> RgbImage {
        let scene = Scene::Hand {
            width: 640,
            height: 480,
        };
        let img = Identity::new(seed).render(scene, Capture::new(1).with_rotation(0.0));
        RgbImage::from_fn(640, 480, |x, y| *img.get_pixel(x.saturating_sub(dx), y))
    }

    #[test]
    fn a_camera_hand_must_hold_still_however_alike_its_frames() {
        // The same hand in every frame, once moved a tenth of the picture: its templates still
        // agree (the matcher forgives the shift), its landmarks do not.
        let (here, there) = (hand(33, 0), hand(33, 64));
        let frames = [&here, &here, &there, &there, &there].map(|f| f.clone());
        let mut heard = Vec::new();
        let chosen = Gesture::default()
            .wait_for_palm(&mut Camera(frames.into()), |g| heard.push(g.to_string()))
            .unwrap();
        assert_eq!(heard, ["hold your hand still"]);
        let sent = palm_engine::decode(&chosen).unwrap();
        assert_eq!(sent, there, "the chosen frame is sent as its exact pixels");
        let engine = Engine::default();
        let moved = engine
            .extract_pixels(&here, InputKind::Auto)
            .and_then(|a| Ok((a, engine.extract_pixels(&there, InputKind::Auto)?)))
            .unwrap();
        assert!(
            engine
                .similarity(&moved.0.template, &moved.1.template)
                .unwrap()
                >= DEFAULT_THRESHOLD,
            "the moved frames' templates agree, so only the landmarks can have told"
        );
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
}
