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
    /// `InputKind::Auto` takes images up to this many pixels on their longer side as pre-cropped
    /// ROIs, larger ones as photos of a hand.
    pub roi_max_side: u32,
    /// The outline reader, used when the landmark models see no hand.
    pub outline: OutlineFrame,
}

/// How the outline reader finds a hand's landmarks in its silhouette and frames the ROI from
/// them (`hand/mod.rs`, `hand/landmarks.rs`, `hand/segment.rs`). Measured on coep-hands
/// c001-c050 and checked on c051-c100 where a comment beside the code says so.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlineFrame {
    /// Longer side of the working image the hand is segmented in, in pixels.
    pub work_side: usize,
    /// Largest ring blob rejoining a finger cut off by a metal ring, in units of the ring search
    /// radius squared.
    pub ring_max_area: usize,
    /// A fingertip is a local maximum of the outline's distance from the palm centre at least
    /// this many palm radii out...
    pub tip_reach: f32,
    /// ...with valleys either side of it at least this many palm radii deeper.
    pub valley_depth: f32,
    /// Largest angle, seen from the palm centre, between a fingertip and the farthest one.
    pub fan_half_angle_deg: f32,
    /// The thumb's angular gap to its neighbour is more than this many times any gap between
    /// the other fingers.
    pub thumb_gap_ratio: f32,
    /// Three valleys can be a hand's when spread over this many palm radii...
    pub valley_span: (f32, f32),
    /// ...and the two gaps between them are within this ratio.
    pub valley_gap_ratio_min: f32,
    /// Weight of the middle-valley-to-centre direction in the frame's y axis (the rest: square
    /// to the outer valleys' line).
    pub weight_of_centre: f32,
    /// ROI side and its distance below the valley line, per outer-valley distance.
    pub roi_side_per_valley_span: f32,
    pub roi_offset_per_valley_span: f32,
    /// ROI side per palm radius (blended with the valley span's), and, for the longest-finger
    /// frame, the ROI centre's distance from the palm centre towards the fingers.
    pub roi_side_per_palm_radius: f32,
    pub roi_centre_per_palm_radius: f32,
    /// Angle between the longest finger and the valley frame's y axis.
    pub finger_lean_deg: f32,
    /// The crop the landmark model reads when the outline found the hand: wrist to fingertip
    /// with this much room around.
    pub crop_margin: f32,
}

impl Default for OutlineFrame {
    fn default() -> Self {
        OutlineFrame {
            work_side: 400,
            ring_max_area: 10,
            tip_reach: 1.3,
            valley_depth: 0.08,
            fan_half_angle_deg: 110.0,
            thumb_gap_ratio: 1.4,
            valley_span: (0.7, 1.4),
            valley_gap_ratio_min: 0.6,
            weight_of_centre: 0.75,
            roi_side_per_valley_span: 1.25,
            roi_offset_per_valley_span: 0.2,
            roi_side_per_palm_radius: 1.16,
            roi_centre_per_palm_radius: -0.476,
            finger_lean_deg: 9.1,
            crop_margin: 1.1,
        }
    }
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
            roi_max_side: 256,
            outline: OutlineFrame::default(),
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
        h.floats(&[
            self.wavelength,
            self.sigma,
            self.aspect,
            self.crop_keep,
            self.fragile_fraction,
            self.landmark_roi_side,
            self.landmark_roi_offset,
            self.landmark_axis_wrist_weight,
        ]);
        h.u64(self.kernel_radius as u64);
        h.u64(self.max_shift as u64);
        h.u64(self.min_overlap_cells as u64);
        h.u64(self.landmark_passes as u64);
        // Settings that became parameters after templates were stored (they were constants in
        // the code): hashed only when they differ from the values those templates were made
        // with, so the shipped settings keep the fingerprint stored palms carry, and any change
        // still changes it.
        let o = &self.outline;
        if self.roi_max_side != 256 || *o != OutlineFrame::default() {
            h.u64(self.roi_max_side as u64);
            h.u64(o.work_side as u64);
            h.u64(o.ring_max_area as u64);
            h.floats(&[
                o.tip_reach,
                o.valley_depth,
                o.fan_half_angle_deg,
                o.thumb_gap_ratio,
                o.valley_span.0,
                o.valley_span.1,
                o.valley_gap_ratio_min,
                o.weight_of_centre,
                o.roi_side_per_valley_span,
                o.roi_offset_per_valley_span,
                o.roi_side_per_palm_radius,
                o.roi_centre_per_palm_radius,
                o.finger_lean_deg,
                o.crop_margin,
            ]);
        }
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
    fn floats(&mut self, values: &[f32]) {
        for f in values {
            self.u64(f.to_bits() as u64);
        }
    }
    fn finish(&self) -> u32 {
        (self.0 ^ (self.0 >> 32)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_settings_keep_the_fingerprint_stored_palms_carry() {
        // The value before the outline reader's and the input kind's constants became
        // parameters: templates stored since then must stay comparable.
        assert_eq!(Params::default().fingerprint(), 0x64d3_bd10);
    }

    #[test]
    fn every_setting_that_shapes_a_template_changes_the_fingerprint() {
        let shipped = Params::default().fingerprint();
        let changed: Vec<(&str, Params)> = vec![
            (
                "roi_max_side",
                Params {
                    roi_max_side: 300,
                    ..Params::default()
                },
            ),
            ("work_side", outline(|o| o.work_side = 500)),
            ("ring_max_area", outline(|o| o.ring_max_area = 12)),
            ("tip_reach", outline(|o| o.tip_reach = 1.2)),
            ("valley_depth", outline(|o| o.valley_depth = 0.1)),
            (
                "fan_half_angle_deg",
                outline(|o| o.fan_half_angle_deg = 100.0),
            ),
            ("thumb_gap_ratio", outline(|o| o.thumb_gap_ratio = 1.5)),
            ("valley_span", outline(|o| o.valley_span.1 = 1.5)),
            (
                "valley_gap_ratio_min",
                outline(|o| o.valley_gap_ratio_min = 0.5),
            ),
            ("weight_of_centre", outline(|o| o.weight_of_centre = 0.5)),
            (
                "roi_side_per_valley_span",
                outline(|o| o.roi_side_per_valley_span = 1.3),
            ),
            (
                "roi_offset_per_valley_span",
                outline(|o| o.roi_offset_per_valley_span = 0.3),
            ),
            (
                "roi_side_per_palm_radius",
                outline(|o| o.roi_side_per_palm_radius = 1.2),
            ),
            (
                "roi_centre_per_palm_radius",
                outline(|o| o.roi_centre_per_palm_radius = -0.4),
            ),
            ("finger_lean_deg", outline(|o| o.finger_lean_deg = 8.0)),
            ("crop_margin", outline(|o| o.crop_margin = 1.2)),
            (
                "landmark_roi_side",
                Params {
                    landmark_roi_side: 1.2,
                    ..Params::default()
                },
            ),
            (
                "wavelength",
                Params {
                    wavelength: 8.0,
                    ..Params::default()
                },
            ),
        ];
        let mut seen = std::collections::HashSet::from([shipped]);
        for (name, p) in changed {
            assert!(
                seen.insert(p.fingerprint()),
                "{name} did not change the fingerprint"
            );
        }
    }

    fn outline(change: impl Fn(&mut OutlineFrame)) -> Params {
        let mut p = Params::default();
        change(&mut p.outline);
        p
    }
}
