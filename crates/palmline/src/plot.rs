//! DET curves (FNMR against FMR, log-log) as PNG or SVG with plotters.

use anyhow::{Result, anyhow, bail};
use palm_eval::Verification;
use plotters::prelude::*;
use std::path::Path;

const FLOOR: f64 = 1e-5;
const COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

pub fn det(path: &Path, curves: &[(String, &Verification)]) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" => {
            register_font()?;
            draw(
                SVGBackend::new(path, (800, 600)).into_drawing_area(),
                curves,
            )
        }
        "png" => {
            register_font()?;
            // Drawn into memory and encoded with the `image` crate the engine already uses, so
            // plotters does not pull in a second version of it.
            let (w, h) = (800u32, 600u32);
            let mut buffer = vec![0u8; (w * h * 3) as usize];
            draw(
                BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area(),
                curves,
            )?;
            let img = image::RgbImage::from_raw(w, h, buffer)
                .ok_or_else(|| anyhow!("plot buffer has the wrong size"))?;
            img.save(path)
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
        }
        _ => bail!(
            "--plot {}: the file name must end in .png or .svg",
            path.display()
        ),
    }
}

/// plotters lays out its labels with a TrueType font from the system (Debian: fonts-dejavu-core).
fn register_font() -> Result<()> {
    const CANDIDATES: [&str; 2] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ];
    let bytes = CANDIDATES
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .ok_or_else(|| {
            anyhow!("plotting needs a TrueType font: apt-get install fonts-dejavu-core")
        })?;
    let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, leaked)
        .map_err(|_| anyhow!("unusable font file"))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    curves: &[(String, &Verification)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&area)
        .caption(
            "DET curve (palmline eval): lower is better",
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((FLOOR..1.0).log_scale(), (FLOOR..1.0).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("false match rate")
        .y_desc("false non-match rate")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, (name, v)) in curves.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        // Points below the plotted range are left out rather than pinned to its edge, which drew
        // a vertical line at FMR 1e-5 that no measurement made.
        let points = v
            .det
            .iter()
            .filter(|p| p.fmr >= FLOOR && p.fnmr >= FLOOR)
            .map(|p| (p.fmr, p.fnmr));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{name} (EER {:.3}%)", v.eer * 100.0))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        // The equal error rate (a circle) and the operating point at FMR 1e-3 (a cross), where
        // they lie within the plot.
        if v.eer >= FLOOR {
            chart
                .draw_series([Circle::new((v.eer, v.eer), 5, colour.stroke_width(2))])
                .map_err(|e| anyhow!("{e}"))?;
        }
        if let Some(fnmr) = v.fnmr_at_fmr[1].filter(|f| *f >= FLOOR) {
            chart
                .draw_series([Cross::new((1e-3, fnmr), 6, colour.stroke_width(2))])
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    // What the marks are, once.
    chart
        .draw_series([Circle::new((FLOOR, FLOOR), 0, BLACK)])
        .map_err(|e| anyhow!("{e}"))?
        .label("o: equal error rate, x: operating point at FMR 1e-3")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        // The upper right is where a DET curve never runs (high FMR and high FNMR at once).
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    area.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
