//! Capture quality: focus, contrast, exposure and ROI size folded into one score, and the reasons
//! a capture is too poor to enrol.

use crate::error::Rejection;
use crate::gray::Gray;

/// The measurements behind a quality score, kept for inspection and guidance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quality {
    /// 0..=100; enrolment needs at least [`ENROL_MIN_SCORE`].
    pub score: u8,
    /// Mean brightness of the palm, 0..=255.
    pub brightness: f32,
    /// Standard deviation of the palm's brightness.
    pub contrast: f32,
    /// Mean absolute Laplacian of the palm relative to its contrast: low when blurred.
    pub focus: f32,
    /// Source pixels per ROI pixel (below 0.5 the ROI is mostly interpolation).
    pub source_scale: f32,
    /// Share of the ROI that shows palm rather than background or the outside of the photo.
    pub coverage: f32,
}

/// Below this score a capture is refused for enrolment (identification still tries it).
pub const ENROL_MIN_SCORE: u8 = 40;

/// Below this palm coverage a capture is refused for enrolment: its ROI missed the palm (a crop
/// holding wrist and background, a palm half out of the photo), so the template would hold a
/// different part of the hand, or less of it, than later captures. `palmline eval` lists the
/// images enrolment would refuse and the lowest coverage: every image of the three development
/// sets covers at least 0.969 of its ROI except tongji-roi t027/0002 (0.786), whose palm region,
/// found by registering it against its mates, lies turned 45 degrees at three quarters of the
/// scale and fills under half of the crop (`scripts/realign-crop.py`).
pub const ENROL_MIN_COVERAGE: f32 = 0.9;

impl Quality {
    pub fn measure(roi: &Gray, valid: &Gray, source_scale: f32) -> Quality {
        let (mut n, mut sum, mut sum2, mut lap) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for y in 1..roi.height - 1 {
            for x in 1..roi.width - 1 {
                if valid.at(x, y) < 0.5 {
                    continue;
                }
                let v = roi.at(x, y) as f64;
                n += 1.0;
                sum += v;
                sum2 += v * v;
                let l = 4.0 * roi.at(x, y)
                    - roi.at(x - 1, y)
                    - roi.at(x + 1, y)
                    - roi.at(x, y - 1)
                    - roi.at(x, y + 1);
                lap += l.abs() as f64;
            }
        }
        let interior = ((roi.width - 2) * (roi.height - 2)).max(1) as f64;
        let coverage = (n / interior) as f32;
        let n = n.max(1.0);
        let mean = sum / n;
        let contrast = (sum2 / n - mean * mean).max(0.0).sqrt();
        let focus = (lap / n) / contrast.max(1.0);
        let brightness = mean as f32;
        // Each factor maps to 0..1; the score is their geometric mean so one bad factor shows.
        let exposure = 1.0 - ((brightness - 128.0).abs() / 128.0).powi(3);
        let contrast_f = (contrast / 20.0).min(1.0) as f32;
        let focus_f = (focus / 0.15).min(1.0) as f32;
        let size_f = (source_scale / 0.5).min(1.0);
        let score = (exposure * contrast_f * focus_f * size_f)
            .max(0.0)
            .powf(0.25)
            * 100.0;
        Quality {
            score: score.round().clamp(0.0, 100.0) as u8,
            brightness,
            contrast: contrast as f32,
            focus: focus as f32,
            source_scale,
            coverage,
        }
    }

    /// The most pressing reason this capture cannot be enrolled, if any.
    pub fn enrol_rejection(&self) -> Option<Rejection> {
        if self.brightness < 30.0 {
            Some(Rejection::TooDark)
        } else if self.brightness > 235.0 {
            Some(Rejection::TooBright)
        } else if self.source_scale < 0.4 {
            Some(Rejection::PalmTooSmall)
        } else if self.coverage < ENROL_MIN_COVERAGE {
            Some(Rejection::HandCutByBorder)
        } else if self.focus < 0.04 {
            Some(Rejection::TooBlurred)
        } else if self.score < ENROL_MIN_SCORE {
            Some(Rejection::LowQuality)
        } else {
            None
        }
    }
}
