//! Turned square crops of a picture: the models' inputs, and the way their outputs map back.

use crate::Point;
use image::RgbImage;

/// A square of the source picture, turned by `rotation` radians (clockwise on screen), `side`
/// source pixels a side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub centre: Point,
    pub side: f32,
    pub rotation: f32,
}

impl Region {
    /// The whole picture, letterboxed into a square about its centre.
    pub fn whole(width: u32, height: u32) -> Region {
        Region {
            centre: (width as f32 / 2.0, height as f32 / 2.0),
            side: width.max(height) as f32,
            rotation: 0.0,
        }
    }

    /// The source point at `(u, v)` of the region, each 0..1 across it (0.5, 0.5 the centre).
    pub fn to_source(&self, u: f32, v: f32) -> Point {
        let (sin, cos) = self.rotation.sin_cos();
        let (du, dv) = ((u - 0.5) * self.side, (v - 0.5) * self.side);
        (
            self.centre.0 + du * cos - dv * sin,
            self.centre.1 + du * sin + dv * cos,
        )
    }

    /// The region's pixels resampled to `n x n`, RGB in 0..1, row-major and channel-last (NHWC,
    /// as the models take them). Bilinear, zero outside the picture, as MediaPipe prepares them.
    pub fn sample(&self, image: &RgbImage, n: usize) -> Vec<f32> {
        let (w, h) = (image.width() as i64, image.height() as i64);
        let raw = image.as_raw();
        let px = |x: i64, y: i64, c: usize| -> f32 {
            if x < 0 || y < 0 || x >= w || y >= h {
                0.0
            } else {
                raw[((y * w + x) * 3) as usize + c] as f32
            }
        };
        let mut out = Vec::with_capacity(n * n * 3);
        for j in 0..n {
            for i in 0..n {
                let (sx, sy) =
                    self.to_source((i as f32 + 0.5) / n as f32, (j as f32 + 0.5) / n as f32);
                // Pixel centres sit at integer + 0.5.
                let (fx, fy) = (sx - 0.5, sy - 0.5);
                let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
                let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
                for c in 0..3 {
                    let top = px(x0, y0, c) * (1.0 - ax) + px(x0 + 1, y0, c) * ax;
                    let bottom = px(x0, y0 + 1, c) * (1.0 - ax) + px(x0 + 1, y0 + 1, c) * ax;
                    out.push((top * (1.0 - ay) + bottom * ay) / 255.0);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turned_region_maps_its_top_to_where_the_turn_points() {
        let r = Region {
            centre: (100.0, 100.0),
            side: 40.0,
            rotation: std::f32::consts::FRAC_PI_2,
        };
        // The region's top middle lies to the right of the centre after a quarter turn clockwise.
        let (x, y) = r.to_source(0.5, 0.0);
        assert!((x - 120.0).abs() < 1e-4 && (y - 100.0).abs() < 1e-4);
    }

    #[test]
    fn sampling_reproduces_the_picture_and_pads_with_black() {
        let img = RgbImage::from_fn(8, 4, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 60) as u8, 255])
        });
        let whole = Region::whole(8, 4);
        let s = whole.sample(&img, 8);
        // Row 0 and 1 of the square are the letterbox band above the picture: black.
        assert!(s[..8 * 3 * 2].iter().all(|&v| v == 0.0));
        // Row 2 is the picture's first row, pixel for pixel.
        let row = &s[8 * 3 * 2..8 * 3 * 3];
        for x in 0..8 {
            assert!((row[x * 3] - (x * 30) as f32 / 255.0).abs() < 1e-5);
            assert!((row[x * 3 + 2] - 1.0).abs() < 1e-5);
        }
    }
}
