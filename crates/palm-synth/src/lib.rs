//! Synthetic palms: identities with their own palm lines and hand shape, rendered as full-hand
//! photos or as pre-cropped ROIs, with per-capture variation. Deterministic from a seed.
//!
//! Following BézierPalm (ECCV 2022): three principal lines as quadratic Bézier curves with end
//! points near the palm's edges and a control point off the chord, plus 5-15 secondary creases of
//! random position and direction; one identity's captures jitter pose, light, blur and noise but
//! never the lines. Used by tests that must pass on a fresh clone and by scale benchmarks; the
//! engine is tuned on real palms only.

mod identity;
mod render;

pub use identity::{Identity, Side};
pub use render::{Capture, Scene};

/// PNG bytes of an RGB image (what a scanner would upload).
pub fn png_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding to memory cannot fail");
    out
}
