//! Synthetic palms as a capture source (the `synthetic` feature): demos and tests without a
//! camera. A production scanner build leaves it out, and with it the palm generator.

use crate::Result;
use crate::capture::{Frame, Source};
use palm_synth::{Capture, Identity, Scene};

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
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.frames == 0 {
            return Ok(None);
        }
        self.frames -= 1;
        let img = self.identity.render(self.scene, Capture::new(self.capture));
        Ok(Some(Frame::Pixels(img)))
    }
}
