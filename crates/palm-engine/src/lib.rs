//! Palm recognition engine: encoded image bytes -> region of interest -> filter bank -> binary
//! template -> similarity.
//!
//! The key design decision: one straight pipeline ([`Engine::extract`]) for both kinds of input.
//! A full-hand photo is segmented and its palm cut out along a frame built from the finger valleys;
//! a pre-cropped ROI is re-centred on its palm texture. From the ROI on, both are the same: even
//! Gabor filters at six orientations, sampled on a 32 x 32 grid, binarised into bit planes with a
//! mask of unreliable cells, compared by masked Hamming distance over small shifts (and small
//! turns or zooms, by input kind, where the geometry is uncertain: see `warp`).
//!
//! The engine is pure and synchronous: no I/O beyond decoding the bytes it is given, no threads.

mod decode;
mod error;
mod filters;
mod gray;
mod hand;
pub mod keystream;
mod matcher;
mod params;
pub mod protect;
mod quality;
mod roi;
mod search;
mod template;
mod warp;

pub use decode::{MAX_PIXELS, MIN_SIDE, decode};
pub use error::{Error, ErrorKind, Rejection};
pub use gray::Gray;
pub use hand::{FrameMethod, HandGeometry};
pub use matcher::{Comparison, DEFAULT_THRESHOLD, Matcher};
pub use params::{OutlineFrame, Params};
pub use quality::{ENROL_MIN_COVERAGE, ENROL_MIN_SCORE, Quality};
pub use search::Prepared;
pub use template::GRID;
pub use template::{FORMAT_VERSION, Hand, MAX_TEMPLATE_BYTES, Source, Template};

use filters::FilterBank;
use image::RgbImage;

/// The hand mask of a full-hand photo, even when the pipeline rejects it later (for inspection).
pub fn debug_hand_mask(bytes: &[u8], params: &Params) -> Option<Gray> {
    let rgb = decode::decode(bytes).ok()?;
    hand::mask_only(&rgb, &params.outline).ok()
}

/// What kind of picture the bytes hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Decide from the image: up to `Params::roi_max_side` px a side is a ROI, larger is a full
    /// hand.
    Auto,
    FullHand,
    Roi,
}

/// A template with the intermediate stages that produced it (for `palmline inspect`).
#[derive(Debug)]
pub struct Extraction {
    pub template: Template,
    pub quality: Quality,
    pub kind: InputKind,
    /// Present for full-hand input.
    pub hand: Option<HandGeometry>,
    pub roi: Gray,
    pub roi_valid: Gray,
    /// Filter responses on the code grid, one per orientation.
    pub responses: Vec<Gray>,
}

/// The engine with its filter bank built once. Cheap to share across threads.
pub struct Engine {
    params: Params,
    bank: FilterBank,
    matcher: Matcher,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Params::default())
    }
}

impl Engine {
    pub fn new(params: Params) -> Self {
        Engine {
            bank: FilterBank::new(&params),
            matcher: Matcher::new(&params),
            params,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Image bytes to template, whatever the input kind.
    pub fn template(&self, bytes: &[u8]) -> Result<Template, Error> {
        Ok(self.extract(bytes, InputKind::Auto)?.template)
    }

    /// Like [`Engine::template`], but refuses captures whose quality is too poor to enrol.
    pub fn enrol_template(&self, bytes: &[u8]) -> Result<Template, Error> {
        let ex = self.extract(bytes, InputKind::Auto)?;
        match ex.quality.enrol_rejection() {
            Some(reason) => Err(reason.into()),
            None => Ok(ex.template),
        }
    }

    pub fn similarity(&self, a: &Template, b: &Template) -> Result<f32, Error> {
        self.matcher.similarity(a, b)
    }

    /// The whole pipeline, keeping every stage.
    pub fn extract(&self, bytes: &[u8], kind: InputKind) -> Result<Extraction, Error> {
        self.extract_pixels(&decode::decode(bytes)?, kind)
    }

    /// [`Engine::extract`] on pixels a camera already delivered (no encode/decode round trip);
    /// the same size limits apply.
    pub fn extract_pixels(&self, rgb: &RgbImage, kind: InputKind) -> Result<Extraction, Error> {
        self.extract_following(rgb, kind, None)
    }

    /// The frames of one hover (one hand held still over the camera, in the order taken), each
    /// to its extraction. The first full-hand frame is read as any photo is; each later one
    /// where the frame before left the hand (`hand::palm_roi_following`: one landmark reading,
    /// no palm detection, so a three-frame hover costs about half of three photos), and afresh
    /// where the hand is no longer there. A frame that fails does not stop the others.
    pub fn extract_hover<B: AsRef<[u8]>>(
        &self,
        frames: &[B],
        kind: InputKind,
    ) -> Vec<Result<Extraction, Error>> {
        let mut read: Vec<Result<Extraction, Error>> = Vec::with_capacity(frames.len());
        for bytes in frames {
            // Where the last frame that found the hand left it.
            let previous = read
                .iter()
                .rev()
                .find_map(|r| r.as_ref().ok()?.hand.as_ref());
            let extraction = decode::decode(bytes.as_ref())
                .and_then(|rgb| self.extract_following(&rgb, kind, previous));
            read.push(extraction);
        }
        read
    }

    fn extract_following(
        &self,
        rgb: &RgbImage,
        kind: InputKind,
        previous: Option<&HandGeometry>,
    ) -> Result<Extraction, Error> {
        decode::check_size(rgb.width(), rgb.height())?;
        let kind = match kind {
            InputKind::Auto if rgb.width().max(rgb.height()) <= self.params.roi_max_side => {
                InputKind::Roi
            }
            InputKind::Auto => InputKind::FullHand,
            other => other,
        };
        let (roi, geometry) = match kind {
            InputKind::FullHand => {
                let (roi, geometry) = match previous {
                    Some(previous) => hand::palm_roi_following(rgb, &self.params, previous)?,
                    None => hand::palm_roi(rgb, &self.params)?,
                };
                (roi, Some(geometry))
            }
            _ => (roi::from_crop(&roi::to_gray(rgb), &self.params), None),
        };
        let quality = Quality::measure(&roi.image, &roi.valid, roi.source_scale);
        if quality.brightness < 12.0 {
            return Err(Rejection::TooDark.into());
        }
        if quality.brightness > 250.0 {
            return Err(Rejection::TooBright.into());
        }
        let responses = self.bank.responses(&roi.image);
        let hand = geometry.as_ref().map_or(Hand::Unknown, |g| g.hand);
        let source = if geometry.is_some() {
            Source::FullHand
        } else {
            Source::Roi
        };
        let template = self.encode(&responses, &roi.valid, hand, quality.score, source);
        if template.valid_cells() < self.params.min_overlap_cells {
            return Err(Rejection::PalmTooSmall.into());
        }
        Ok(Extraction {
            template,
            quality,
            kind,
            hand: geometry,
            roi: roi.image,
            roi_valid: roi.valid,
            responses: responses
                .iter()
                .map(|r| Gray {
                    width: GRID,
                    height: GRID,
                    px: r.to_vec(),
                })
                .collect(),
        })
    }

    /// Binarises the responses into bit planes and masks cells that are outside the palm or whose
    /// filter energy is among the weakest (their signs flip with noise).
    fn encode(
        &self,
        responses: &[[f32; GRID * GRID]],
        valid: &Gray,
        hand: Hand,
        quality: u8,
        source: Source,
    ) -> Template {
        let step = valid.width / GRID;
        let cell_valid = |gx: usize, gy: usize| {
            let (x0, y0) = (
                (gx * step).saturating_sub(step / 2),
                (gy * step).saturating_sub(step / 2),
            );
            let (x1, y1) = (
                (gx * step + step + step / 2).min(valid.width),
                (gy * step + step + step / 2).min(valid.height),
            );
            let mut s = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    s += valid.at(x, y);
                }
            }
            s / ((x1 - x0) * (y1 - y0)) as f32 >= 0.9
        };
        let energy: Vec<f32> = (0..GRID * GRID)
            .map(|c| responses.iter().map(|r| r[c].abs()).sum())
            .collect();
        let mut levels = energy.clone();
        let rank =
            ((levels.len() as f32 * self.params.fragile_fraction) as usize).min(levels.len() - 1);
        let weakest = *levels.select_nth_unstable_by(rank, f32::total_cmp).1;
        let mut mask = [0u32; GRID];
        let mut planes = vec![[0u32; GRID]; responses.len()];
        for gy in 0..GRID {
            for gx in 0..GRID {
                let c = gy * GRID + gx;
                if cell_valid(gx, gy)
                    && (self.params.fragile_fraction == 0.0 || energy[c] > weakest)
                {
                    mask[gy] |= 1 << gx;
                }
                for (plane, r) in planes.iter_mut().zip(responses) {
                    if r[c] > 0.0 {
                        plane[gy] |= 1 << gx;
                    }
                }
            }
        }
        Template {
            fingerprint: self.params.fingerprint(),
            hand,
            quality,
            source,
            mask,
            planes,
        }
    }
}
