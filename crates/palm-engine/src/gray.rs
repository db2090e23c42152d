//! A small single-channel `f32` image and the few operations the engine needs on it.
//!
//! Hand-written rather than taken from `imageproc`: the engine needs only sampling, blurring and
//! resizing, all on `f32` planes, and owning them keeps the hot path free of conversions.

/// A grey image with values nominally in `0.0..=255.0`, stored row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub px: Vec<f32>,
}

impl Gray {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            px: vec![0.0; width * height],
        }
    }

    pub fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let mut px = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                px.push(f(x, y));
            }
        }
        Self { width, height, px }
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.px[y * self.width + x]
    }

    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: f32) {
        self.px[y * self.width + x] = v;
    }

    pub fn row(&self, y: usize) -> &[f32] {
        &self.px[y * self.width..(y + 1) * self.width]
    }

    /// Bilinear sample at a sub-pixel position; `None` outside the image.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            let inside = x <= (self.width - 1) as f32 && y <= (self.height - 1) as f32;
            return inside.then(|| self.at(x0.min(self.width - 1), y0.min(self.height - 1)));
        }
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let i = y0 * self.width + x0;
        let top = self.px[i] * (1.0 - fx) + self.px[i + 1] * fx;
        let bottom = self.px[i + self.width] * (1.0 - fx) + self.px[i + self.width + 1] * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }

    /// Area-averaging resize: every output pixel is the mean of the input pixels it covers, so
    /// downscaling does not alias the fine palm lines the filters look for.
    pub fn resize(&self, width: usize, height: usize) -> Gray {
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        if sx <= 1.0 && sy <= 1.0 {
            return Gray::from_fn(width, height, |x, y| {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.width - 1) as f32);
                let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.height - 1) as f32);
                self.sample(fx, fy).unwrap_or(0.0)
            });
        }
        let cols = axis_weights(self.width, width);
        let rows = axis_weights(self.height, height);
        // Separable: first along x into a width x self.height buffer, then along y.
        let mut tmp = vec![0.0f32; width * self.height];
        for y in 0..self.height {
            let src = self.row(y);
            for (x, taps) in cols.iter().enumerate() {
                tmp[y * width + x] = taps.iter().map(|&(i, w)| src[i] * w).sum();
            }
        }
        let mut out = Gray::new(width, height);
        for (y, taps) in rows.iter().enumerate() {
            for x in 0..width {
                out.px[y * width + x] = taps.iter().map(|&(i, w)| tmp[i * width + x] * w).sum();
            }
        }
        out
    }

    /// Box mean over a `(2r+1)^2` window with the window clipped at the borders (integral image).
    pub fn box_mean(&self, r: usize) -> Gray {
        let (w, h) = (self.width, self.height);
        let mut integral = vec![0.0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut acc = 0.0f64;
            for x in 0..w {
                acc += self.px[y * w + x] as f64;
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + acc;
            }
        }
        Gray::from_fn(w, h, |x, y| {
            let (x0, y0) = (x.saturating_sub(r), y.saturating_sub(r));
            let (x1, y1) = ((x + r + 1).min(w), (y + r + 1).min(h));
            let s = integral[y1 * (w + 1) + x1]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0]
                + integral[y0 * (w + 1) + x0];
            (s / ((x1 - x0) * (y1 - y0)) as f64) as f32
        })
    }

    pub fn mean(&self) -> f32 {
        self.px.iter().sum::<f32>() / self.px.len().max(1) as f32
    }

    /// Encodes into 8-bit luma, clamping to `0..=255` (for the inspect images).
    pub fn to_luma8(&self) -> image::GrayImage {
        image::GrayImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            image::Luma([self.at(x as usize, y as usize).round().clamp(0.0, 255.0) as u8])
        })
    }

    /// Linearly stretches the values to `0..=255` (for showing filter responses).
    pub fn stretched(&self) -> Gray {
        let lo = self.px.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self.px.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let span = (hi - lo).max(1e-6);
        Gray {
            width: self.width,
            height: self.height,
            px: self.px.iter().map(|v| (v - lo) / span * 255.0).collect(),
        }
    }
}

/// For each output index along one axis, the input indices it covers with their area weights.
fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f32 / dst as f32;
    (0..dst)
        .map(|o| {
            let (a, b) = (o as f32 * scale, (o + 1) as f32 * scale);
            let mut taps = Vec::new();
            let mut i = a.floor() as usize;
            while (i as f32) < b && i < src {
                let cover = (b.min((i + 1) as f32) - a.max(i as f32)).max(0.0);
                if cover > 0.0 {
                    taps.push((i, cover / scale));
                }
                i += 1;
            }
            taps
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_the_mean_of_a_ramp() {
        let g = Gray::from_fn(150, 150, |x, y| (x + y) as f32);
        let r = g.resize(128, 128);
        assert!(
            (g.mean() - r.mean()).abs() < 0.5,
            "{} vs {}",
            g.mean(),
            r.mean()
        );
    }

    #[test]
    fn box_mean_of_constant_is_constant() {
        let g = Gray::from_fn(20, 10, |_, _| 7.0);
        assert!(g.box_mean(3).px.iter().all(|v| (v - 7.0).abs() < 1e-4));
    }

    #[test]
    fn bilinear_sample_interpolates() {
        let g = Gray::from_fn(4, 4, |x, _| x as f32 * 10.0);
        assert_eq!(g.sample(1.5, 1.0), Some(15.0));
        assert_eq!(g.sample(-0.1, 1.0), None);
        assert_eq!(g.sample(3.0, 3.0), Some(30.0));
    }
}
