//! Rendering an identity as a camera would see it: a full-hand photo or a pre-cropped ROI.

use crate::identity::{Identity, Side};
use image::{Rgb, RgbImage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to render.
#[derive(Clone, Copy, Debug)]
pub enum Scene {
    /// A square crop of the palm centre, `size` px a side (like tongji-roi / polyu-ms).
    Roi { size: u32 },
    /// An open hand on a background, arm leaving the picture (like a scanner or phone photo).
    Hand { width: u32, height: u32 },
}

/// One capture's variation: pose, light, blur and noise, drawn from a seed.
#[derive(Clone, Copy, Debug)]
pub struct Capture {
    pub seed: u64,
    /// In-plane rotation of a full hand, degrees; drawn at random when `None`.
    pub rotation_deg: Option<f32>,
    /// Background behind a full hand: plain dark cloth, or coloured clutter.
    pub cluttered: bool,
    /// Which frame of one hover this is: 0 is the capture itself; frame `n` keeps its pose and
    /// light, moves the hand a little and draws new sensor noise (see [`Capture::frame`]).
    pub frame: u32,
}

impl Capture {
    pub fn new(seed: u64) -> Capture {
        Capture {
            seed,
            rotation_deg: None,
            cluttered: false,
            frame: 0,
        }
    }
    /// The `n`-th frame of this capture's hover, as a scanner reads a palm held still for a
    /// moment: the same pose and light, the hand moved by up to 3% of the palm's width and turned
    /// by up to 2 degrees, and new sensor noise. Frame 0 is the capture itself.
    pub fn frame(self, n: u32) -> Capture {
        Capture { frame: n, ..self }
    }
    pub fn with_rotation(self, deg: f32) -> Capture {
        Capture {
            rotation_deg: Some(deg),
            ..self
        }
    }
    pub fn with_clutter(self) -> Capture {
        Capture {
            cluttered: true,
            ..self
        }
    }
}

/// A finger as a capsule: base, tip and radius, in palm units.
type Finger = ((f32, f32), (f32, f32), f32);

/// Texture resolution, pixels per palm unit, and the palm-unit window it covers.
const TEX_RES: f32 = 360.0;
const TEX_X0: f32 = -0.55;
const TEX_Y0: f32 = -0.05;
const TEX_W: usize = (1.1 * TEX_RES) as usize;
const TEX_H: usize = (1.2 * TEX_RES) as usize;

/// How much darker the skin is at each point of the palm (0 = not at all).
struct Texture {
    dark: Vec<f32>,
}

impl Texture {
    fn new(id: &Identity) -> Texture {
        let mut dark = vec![0.0f32; TEX_W * TEX_H];
        // Skin grain: smooth noise on a coarse lattice, bilinearly interpolated.
        let mut rng = ChaCha8Rng::seed_from_u64(id.grain_seed);
        let cell = 4usize;
        let (gw, gh) = (TEX_W / cell + 2, TEX_H / cell + 2);
        let lattice: Vec<f32> = (0..gw * gh)
            .map(|_| rng.random_range(-1.0..1.0f32))
            .collect();
        for y in 0..TEX_H {
            for x in 0..TEX_W {
                let (fx, fy) = (x as f32 / cell as f32, y as f32 / cell as f32);
                let (ix, iy) = (fx as usize, fy as usize);
                let (tx, ty) = (fx - ix as f32, fy - iy as f32);
                let l = |i: usize, j: usize| lattice[j * gw + i];
                let v = (l(ix, iy) * (1.0 - tx) + l(ix + 1, iy) * tx) * (1.0 - ty)
                    + (l(ix, iy + 1) * (1.0 - tx) + l(ix + 1, iy + 1) * tx) * ty;
                dark[y * TEX_W + x] = 0.06 * v;
            }
        }
        // Creases: Gaussian stamps along each curve.
        for c in &id.creases {
            let sigma = c.width * TEX_RES / 2.0;
            let r = (3.0 * sigma).ceil() as isize;
            let (a, b) = (c.points[0], c.points[2]);
            let steps =
                (((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt() * TEX_RES * 2.0) as usize + 8;
            for s in 0..=steps {
                // Creases fade at their ends, as real ones do.
                let t = s as f32 / steps as f32;
                let fade = (t.min(1.0 - t) * 8.0).min(1.0);
                let (px, py) = c.at(t);
                let (cx, cy) = ((px - TEX_X0) * TEX_RES, (py - TEX_Y0) * TEX_RES);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (x, y) = (cx as isize + dx, cy as isize + dy);
                        if x < 0 || y < 0 || x >= TEX_W as isize || y >= TEX_H as isize {
                            continue;
                        }
                        let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                        let v = c.depth * fade * (-d2 / (2.0 * sigma * sigma)).exp();
                        let cell = &mut dark[y as usize * TEX_W + x as usize];
                        *cell = cell.max(v);
                    }
                }
            }
        }
        Texture { dark }
    }

    fn at(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = ((x - TEX_X0) * TEX_RES, (y - TEX_Y0) * TEX_RES);
        if fx < 0.0 || fy < 0.0 || fx >= (TEX_W - 1) as f32 || fy >= (TEX_H - 1) as f32 {
            return 0.0;
        }
        let (ix, iy) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let d = |i: usize, j: usize| self.dark[j * TEX_W + i];
        (d(ix, iy) * (1.0 - tx) + d(ix + 1, iy) * tx) * (1.0 - ty)
            + (d(ix, iy + 1) * (1.0 - tx) + d(ix + 1, iy + 1) * tx) * ty
    }
}

/// Per-capture photometric variation.
struct Light {
    gain: f32,
    gradient: (f32, f32),
    blur: f32,
    noise: f32,
}

impl Light {
    fn draw(rng: &mut ChaCha8Rng) -> Light {
        Light {
            gain: rng.random_range(0.85..1.15),
            gradient: (rng.random_range(-0.12..0.12), rng.random_range(-0.12..0.12)),
            blur: rng.random_range(0.3..0.9),
            noise: rng.random_range(1.5..4.0),
        }
    }
}

/// How far a later frame of a hover has moved from its first: a shift in palm units (the palm
/// is one unit wide) and a turn in radians.
#[derive(Clone, Copy, Debug, Default)]
struct Motion {
    shift: (f32, f32),
    turn: f32,
}

impl Motion {
    fn draw(rng: &mut ChaCha8Rng) -> Motion {
        Motion {
            shift: (rng.random_range(-0.03..0.03), rng.random_range(-0.03..0.03)),
            turn: rng.random_range(-2.0f32..2.0).to_radians(),
        }
    }
}

impl Identity {
    /// Renders one capture of this palm.
    pub fn render(&self, scene: Scene, capture: Capture) -> RgbImage {
        let seed = capture.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ self.seed;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let light = Light::draw(&mut rng);
        let texture = Texture::new(self);
        // A later frame of the hover draws its motion and noise from a stream of its own, so the
        // pose drawn from `rng` is the capture's and frame 0 renders exactly as before frames were.
        let mut frame_rng = (capture.frame > 0).then(|| {
            ChaCha8Rng::seed_from_u64(
                seed ^ u64::from(capture.frame).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        });
        let motion = frame_rng.as_mut().map_or(Motion::default(), Motion::draw);
        let img = match scene {
            Scene::Roi { size } => self.render_roi(size, motion, &texture, &light, &mut rng),
            Scene::Hand { width, height } => {
                self.render_hand(width, height, capture, motion, &texture, &light, &mut rng)
            }
        };
        finish(img, &light, frame_rng.as_mut().unwrap_or(&mut rng))
    }

    fn render_roi(
        &self,
        size: u32,
        motion: Motion,
        tex: &Texture,
        light: &Light,
        rng: &mut ChaCha8Rng,
    ) -> RgbImage {
        // The canonical ROI: the palm square below the finger valleys, jittered like a real crop.
        let side = 0.62 * rng.random_range(0.97..1.03f32);
        let (cx, cy) = (
            rng.random_range(-0.025..0.025f32) + motion.shift.0,
            0.42 + rng.random_range(-0.025..0.025f32) + motion.shift.1,
        );
        let (s, c) = (rng.random_range(-3.0f32..3.0).to_radians() + motion.turn).sin_cos();
        RgbImage::from_fn(size, size, |u, v| {
            let (a, b) = (
                (u as f32 + 0.5) / size as f32 - 0.5,
                (v as f32 + 0.5) / size as f32 - 0.5,
            );
            let (hx, hy) = (cx + side * (c * a - s * b), cy + side * (s * a + c * b));
            let lit = light.gain * (1.0 + light.gradient.0 * a + light.gradient.1 * b);
            skin_pixel(self.skin, tex.at(hx, hy), lit)
        })
    }

    fn render_hand(
        &self,
        w: u32,
        h: u32,
        capture: Capture,
        motion: Motion,
        tex: &Texture,
        light: &Light,
        rng: &mut ChaCha8Rng,
    ) -> RgbImage {
        let angle = capture
            .rotation_deg
            .unwrap_or_else(|| rng.random_range(0.0..360.0f32))
            .to_radians()
            + motion.turn;
        let scale = w.min(h) as f32 * 0.27 * rng.random_range(0.92..1.08f32);
        let spread = rng.random_range(5.0..9.0f32).to_radians();
        // The palm's middle sits near the image centre.
        let centre = (
            w as f32 / 2.0 + rng.random_range(-0.04..0.04) * w as f32 + motion.shift.0 * scale,
            h as f32 / 2.0 + rng.random_range(-0.04..0.04) * h as f32 + motion.shift.1 * scale,
        );
        let mirror = if self.side == Side::Left { 1.0 } else { -1.0 };
        let fingers: Vec<Finger> = (0..4)
            .map(|i| {
                // Left palm facing the camera: index finger on the left (x < 0), thumb beside it (a
                // right palm is its mirror image, as a real one is).
                let base = (mirror * (-0.375 + 0.25 * i as f32), 0.04);
                let a = mirror * spread * (i as f32 - 1.5);
                let len = self.finger_lengths[i];
                let tip = (base.0 + a.sin() * len, base.1 - a.cos() * len);
                (base, tip, if i == 3 { 0.085 } else { 0.1 })
            })
            .collect();
        let thumb_angle = mirror * -0.75f32;
        let thumb_base = (mirror * -0.42, 0.5);
        let thumb_tip = (
            thumb_base.0 + thumb_angle.sin() * self.thumb_length,
            thumb_base.1 - thumb_angle.cos() * self.thumb_length,
        );
        let clutter: Vec<(f32, f32, f32, f32, [f32; 3])> = if capture.cluttered {
            (0..14)
                .map(|_| {
                    let (x, y) = (
                        rng.random_range(0.0..w as f32),
                        rng.random_range(0.0..h as f32),
                    );
                    let (bw, bh) = (
                        rng.random_range(20.0..200.0f32),
                        rng.random_range(20.0..200.0f32),
                    );
                    let g = rng.random_range(40.0..170.0f32);
                    // Greys, blues and greens: clutter that is not skin-coloured.
                    let colour = match rng.random_range(0..3) {
                        0 => [g, g, g],
                        1 => [g * 0.6, g * 0.8, g],
                        _ => [g * 0.6, g, g * 0.7],
                    };
                    (x, y, bw, bh, colour)
                })
                .collect()
        } else {
            Vec::new()
        };
        let (sa, ca) = angle.sin_cos();
        RgbImage::from_fn(w, h, |px, py| {
            let (dx, dy) = (
                (px as f32 + 0.5 - centre.0) / scale,
                (py as f32 + 0.5 - centre.1) / scale,
            );
            // Image -> hand coordinates (palm middle at (0, 0.55)).
            let (hx, hy) = (ca * dx + sa * dy, -sa * dx + ca * dy + 0.55);
            let palm = rounded_rect(hx, hy, 0.5, 0.55, 0.55, 0.12);
            let arm = if hy > 0.9 {
                hx.abs() - 0.42
            } else {
                f32::INFINITY
            };
            let mut inside = palm
                .min(arm)
                .min(capsule((hx, hy), thumb_base, thumb_tip, 0.115));
            for (base, tip, r) in &fingers {
                inside = inside.min(capsule((hx, hy), *base, *tip, *r));
            }
            if inside < 0.0 {
                let edge = (-inside / 0.06).min(1.0);
                let lit = light.gain
                    * (0.8 + 0.2 * edge)
                    * (1.0 + light.gradient.0 * dx * 0.3 + light.gradient.1 * dy * 0.3);
                let dark = if palm < 0.0 { tex.at(hx, hy) } else { 0.0 };
                skin_pixel(self.skin, dark, lit)
            } else {
                let mut bg = [22.0, 21.0, 24.0];
                for (x, y, bw, bh, colour) in &clutter {
                    if (px as f32 - x).abs() < bw / 2.0 && (py as f32 - y).abs() < bh / 2.0 {
                        bg = *colour;
                    }
                }
                Rgb(bg.map(|v| v.clamp(0.0, 255.0) as u8))
            }
        })
    }
}

fn skin_pixel(skin: [f32; 3], dark: f32, lit: f32) -> Rgb<u8> {
    // Creases absorb more of the green and blue than the red, as blood-rich skin folds do.
    let tint = [0.75, 1.0, 0.95];
    Rgb(std::array::from_fn(|k| {
        (skin[k] * lit * (1.0 - dark * tint[k])).clamp(0.0, 255.0) as u8
    }))
}

/// Signed distance to a rounded rectangle centred at (0, cy) with half sizes (hw, hh).
fn rounded_rect(x: f32, y: f32, hw: f32, cy: f32, hh: f32, r: f32) -> f32 {
    let (qx, qy) = (x.abs() - (hw - r), (y - cy).abs() - (hh - r));
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

/// Signed distance to a capsule (a segment thickened by `r`).
fn capsule(p: (f32, f32), a: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let (pax, pay, bax, bay) = (p.0 - a.0, p.1 - a.1, b.0 - a.0, b.1 - a.1);
    let t = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
    ((pax - bax * t).powi(2) + (pay - bay * t).powi(2)).sqrt() - r
}

/// Camera blur and sensor noise.
fn finish(img: RgbImage, light: &Light, rng: &mut ChaCha8Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let r = (light.blur * 3.0).ceil() as i64;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * light.blur * light.blur)).exp())
        .collect();
    let ks: f32 = k.iter().sum();
    let blur_pass = |src: &RgbImage, horizontal: bool| {
        RgbImage::from_fn(w, h, |x, y| {
            let mut acc = [0.0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let o = j as i64 - r;
                let (sx, sy) = if horizontal {
                    ((x as i64 + o).clamp(0, w as i64 - 1) as u32, y)
                } else {
                    (x, (y as i64 + o).clamp(0, h as i64 - 1) as u32)
                };
                let p = src.get_pixel(sx, sy);
                (0..3).for_each(|c| acc[c] += kv * p[c] as f32);
            }
            Rgb(acc.map(|v| (v / ks).round().clamp(0.0, 255.0) as u8))
        })
    };
    let mut out = blur_pass(&blur_pass(&img, true), false);
    for p in out.pixels_mut() {
        let n = rng.random_range(-1.0..1.0f32) * light.noise * 1.7;
        for c in 0..3 {
            p[c] = (p[c] as f32 + n).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}
