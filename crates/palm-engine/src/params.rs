//! Every tuned constant of the engine, in one place. Their fingerprint goes into each template, so
//! templates made with other settings are refused rather than compared.

/// The settings that make a template. `Params::default()` is what Palmline ships and measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Side of the square region of interest, in pixels, that the filters see.
    pub roi_size: usize,
    /// Filter orientations spread evenly over 180 degrees; one bit plane each.
    pub orientations: usize,
    /// Wavelength of the Gabor carrier, in ROI pixels.
    pub wavelength: f32,
    /// Gaussian width across the carrier, in ROI pixels (along it is `sigma / aspect`).
    pub sigma: f32,
    pub aspect: f32,
    /// Half-size of the filter kernel, in ROI pixels.
    pub kernel_radius: usize,
    /// Largest translation tried by the matcher, in code cells (one cell = `roi_size / 32` px).
    pub max_shift: i32,
    /// Fewest code cells two templates must share at a shift for that shift to count.
    pub min_overlap_cells: u32,
    /// Share of a pre-cropped ROI's side kept around the palm-texture centre.
    pub crop_keep: f32,
    /// Share of cells per template masked out as unreliable (weakest filter energy).
    pub fragile_fraction: f32,
    /// Turn, in degrees, with which probes from full-hand photos are also compared (at -r and +r,
    /// around the best shift; see `warp`). 0 turns nothing. This and the next two are not part
    /// of the fingerprint: they change how templates are compared, not the templates.
    pub max_rotation_deg: f32,
    /// Zoom with which pre-cropped ROI probes are also compared (at z and 1/z, around the best
    /// shift; see `warp`). 1 zooms nothing.
    pub zoom_ratio: f32,
    /// Similarity the unwarped search must reach before turned or zoomed versions are tried.
    pub warp_floor: f32,
    /// Full-hand ROI from learned landmarks: its side, and the distance from the knuckle line
    /// (index 5 to little 17) to its top edge, both per knuckle span (see `hand::learned`).
    pub landmark_roi_side: f32,
    pub landmark_roi_offset: f32,
    /// Weight of the knuckle-line-centre -> wrist direction in the ROI's y axis (the rest:
    /// square to the knuckle line).
    pub landmark_axis_wrist_weight: f32,
    /// Landmark readings per picture: 2 reads the hand again from a crop framed on the first
    /// reading's points (see `palm_hands::HandModels::refine`).
    pub landmark_passes: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            roi_size: 64,
            orientations: 6,
            wavelength: 9.0,
            sigma: 3.5,
            aspect: 0.5,
            kernel_radius: 10,
            max_shift: 4,
            min_overlap_cells: 400,
            crop_keep: 1.0,
            fragile_fraction: 0.0,
            max_rotation_deg: 8.0,
            zoom_ratio: 0.92,
            warp_floor: 0.58,
            landmark_roi_side: 1.15,
            landmark_roi_offset: 0.0,
            landmark_axis_wrist_weight: 1.0,
            landmark_passes: 2,
        }
    }
}

impl Params {
    /// A stable 32-bit digest of every field and the template format version.
    pub fn fingerprint(&self) -> u32 {
        let mut h = Fnv::default();
        h.u64(crate::template::FORMAT_VERSION as u64);
        h.u64(self.roi_size as u64);
        h.u64(self.orientations as u64);
        for f in [
            self.wavelength,
            self.sigma,
            self.aspect,
            self.crop_keep,
            self.fragile_fraction,
            self.landmark_roi_side,
            self.landmark_roi_offset,
            self.landmark_axis_wrist_weight,
        ] {
            h.u64(f.to_bits() as u64);
        }
        h.u64(self.kernel_radius as u64);
        h.u64(self.max_shift as u64);
        h.u64(self.min_overlap_cells as u64);
        h.u64(self.landmark_passes as u64);
        h.finish()
    }
}

/// FNV-1a, folded to 32 bits: enough to tell parameter sets apart, not a security measure.
#[derive(Default)]
struct Fnv(u64);

impl Fnv {
    fn u64(&mut self, v: u64) {
        if self.0 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        for b in v.to_le_bytes() {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u32 {
        (self.0 ^ (self.0 >> 32)) as u32
    }
}
