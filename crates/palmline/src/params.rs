//! `--param NAME=VALUE` overrides of the engine's parameters, for tuning studies.

use anyhow::{Context, Result, bail};
use palm_engine::Params;

pub fn with_overrides(overrides: &[String]) -> Result<Params> {
    let mut p = Params::default();
    for o in overrides {
        let (name, value) = o
            .split_once('=')
            .with_context(|| format!("--param {o:?}: expected NAME=VALUE"))?;
        let f = || {
            value
                .parse::<f32>()
                .with_context(|| format!("--param {name}: {value:?} is not a number"))
        };
        let u = || {
            value
                .parse::<usize>()
                .with_context(|| format!("--param {name}: {value:?} is not a whole number"))
        };
        match name {
            "roi_size" => p.roi_size = u()?,
            "orientations" => p.orientations = u()?,
            "wavelength" => p.wavelength = f()?,
            "sigma" => p.sigma = f()?,
            "aspect" => p.aspect = f()?,
            "kernel_radius" => p.kernel_radius = u()?,
            "max_shift" => p.max_shift = u()? as i32,
            "min_overlap_cells" => p.min_overlap_cells = u()? as u32,
            "crop_keep" => p.crop_keep = f()?,
            "fragile_fraction" => p.fragile_fraction = f()?,
            "max_rotation_deg" => p.max_rotation_deg = f()?,
            "zoom_ratio" => p.zoom_ratio = f()?,
            "warp_floor" => p.warp_floor = f()?,
            "landmark_roi_side" => p.landmark_roi_side = f()?,
            "landmark_roi_offset" => p.landmark_roi_offset = f()?,
            "landmark_axis_wrist_weight" => p.landmark_axis_wrist_weight = f()?,
            "landmark_passes" => p.landmark_passes = u()?,
            _ => bail!("--param {name}: no such engine parameter"),
        }
    }
    if p.roi_size % palm_engine::GRID != 0
        || p.roi_size == 0
        || p.orientations == 0
        || p.orientations > 6
        || !(p.zoom_ratio > 0.0 && p.zoom_ratio.is_finite())
    {
        bail!(
            "--param: roi_size must be a multiple of {}, orientations 1..=6 and zoom_ratio above 0",
            palm_engine::GRID
        );
    }
    Ok(p)
}
