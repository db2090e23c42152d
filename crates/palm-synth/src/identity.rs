//! One synthetic palm: its lines, creases, skin and hand shape.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// A quadratic Bézier curve in palm units with its line width and depth.
#[derive(Clone, Debug)]
pub struct Crease {
    pub points: [(f32, f32); 3],
    pub width: f32,
    pub depth: f32,
}

impl Crease {
    pub fn at(&self, t: f32) -> (f32, f32) {
        let [a, b, c] = self.points;
        let u = 1.0 - t;
        (
            u * u * a.0 + 2.0 * u * t * b.0 + t * t * c.0,
            u * u * a.1 + 2.0 * u * t * b.1 + t * t * c.1,
        )
    }
}

/// Palm units: the palm is 1 wide, x in -0.5..0.5, y from 0 (finger bases) to 1.1 (wrist).
#[derive(Clone, Debug)]
pub struct Identity {
    pub seed: u64,
    pub side: Side,
    pub creases: Vec<Crease>,
    /// Base skin colour (RGB, 0..255).
    pub skin: [f32; 3],
    /// Finger lengths, index to little, in palm units.
    pub finger_lengths: [f32; 4],
    pub thumb_length: f32,
    /// Seed of this palm's fine skin grain.
    pub grain_seed: u64,
}

impl Identity {
    pub fn new(seed: u64) -> Identity {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a1f_5eed);
        let side = if rng.random_bool(0.5) {
            Side::Left
        } else {
            Side::Right
        };
        let mut j = |v: f32, spread: f32| v + rng.random_range(-spread..spread);
        // Heart, head and life lines: end points near the edges, control point off the chord.
        let principal = [
            [
                (j(0.5, 0.02), j(0.22, 0.06)),
                (j(0.05, 0.1), j(0.18, 0.08)),
                (j(-0.3, 0.08), j(0.02, 0.04)),
            ],
            [
                (j(0.5, 0.02), j(0.45, 0.08)),
                (j(0.0, 0.1), j(0.38, 0.08)),
                (j(-0.45, 0.05), j(0.25, 0.06)),
            ],
            [
                (j(-0.45, 0.05), j(0.3, 0.06)),
                (j(-0.12, 0.08), j(0.55, 0.1)),
                (j(-0.2, 0.1), j(1.05, 0.05)),
            ],
        ];
        let mut creases: Vec<Crease> = principal
            .iter()
            .map(|p| Crease {
                points: *p,
                width: j(0.011, 0.003),
                depth: j(0.55, 0.12),
            })
            .collect();
        let secondary = rng.random_range(5..=15);
        for _ in 0..secondary {
            let (cx, cy) = (rng.random_range(-0.45..0.45), rng.random_range(0.05..1.0));
            let len = rng.random_range(0.1..0.5f32);
            let a = rng.random_range(0.0..std::f32::consts::PI);
            let (dx, dy) = (a.cos() * len / 2.0, a.sin() * len / 2.0);
            let bend = rng.random_range(-0.08..0.08f32);
            creases.push(Crease {
                points: [
                    (cx - dx, cy - dy),
                    (cx - dy * bend * 4.0, cy + dx * bend * 4.0),
                    (cx + dx, cy + dy),
                ],
                width: rng.random_range(0.004..0.007),
                depth: rng.random_range(0.2..0.45),
            });
        }
        let tone = rng.random_range(0.0..1.0f32);
        let skin = [
            200.0 - 90.0 * tone,
            150.0 - 75.0 * tone,
            125.0 - 65.0 * tone,
        ];
        let finger_lengths = [
            rng.random_range(0.78..0.9),
            rng.random_range(0.88..1.0),
            rng.random_range(0.8..0.92),
            rng.random_range(0.6..0.72),
        ];
        Identity {
            seed,
            side,
            creases,
            skin,
            finger_lengths,
            thumb_length: rng.random_range(0.62..0.72),
            grain_seed: rng.random(),
        }
    }
}
