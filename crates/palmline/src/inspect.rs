//! `palmline inspect IMAGE --out DIR`: every stage of the engine written as an image, with the
//! quality and any rejection reason printed.

use anyhow::{Context, Result};
use image::{GrayImage, Rgb, RgbImage};
use palm_engine::{Engine, FrameMethod, GRID, Gray, InputKind};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// A palm image: a full-hand photo or a pre-cropped ROI.
    pub image: PathBuf,
    /// Folder for the stage images (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Force the input kind instead of deciding from the image size.
    #[arg(long, value_enum, default_value = "auto")]
    pub kind: Kind,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum Kind {
    Auto,
    FullHand,
    Roi,
}

pub fn run(args: InspectArgs) -> Result<()> {
    let bytes = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let kind = match args.kind {
        Kind::Auto => InputKind::Auto,
        Kind::FullHand => InputKind::FullHand,
        Kind::Roi => InputKind::Roi,
    };
    let engine = Engine::default();
    let ex = match engine.extract(&bytes, kind) {
        Ok(ex) => ex,
        Err(e) => {
            if let Some(r) = e.rejection() {
                println!("rejected: {} ({})", r.code(), r.guidance());
                // Still show the hand mask when segmentation got that far.
                if let Some(g) = palm_engine::debug_hand_mask(&bytes, engine.params()) {
                    save_gray(&g.stretched(), &args.out, "1-hand-mask.png")?;
                    println!("wrote {}", args.out.join("1-hand-mask.png").display());
                }
                std::process::exit(1);
            }
            return Err(e.into());
        }
    };
    let q = ex.quality;
    println!("input: {:?}", ex.kind);
    println!(
        "quality {} (brightness {:.0}, contrast {:.1}, focus {:.3}, source px per ROI px {:.2}, \
         palm covers {:.0}% of the ROI)",
        q.score,
        q.brightness,
        q.contrast,
        q.focus,
        q.source_scale,
        q.coverage * 100.0
    );
    match q.enrol_rejection() {
        Some(r) => println!("enrolment: refused, {} ({})", r.code(), r.guidance()),
        None => println!("enrolment: accepted"),
    }
    if let Some(h) = &ex.hand {
        println!(
            "hand: {:?}, palm centre ({:.0}, {:.0}), radius {:.0} px",
            h.hand, h.palm_centre.0, h.palm_centre.1, h.palm_radius
        );
        match h.method {
            FrameMethod::Landmarks => println!(
                "ROI framed from learned hand landmarks (wrist {:.0},{:.0}; index knuckle \
                 {:.0},{:.0}; little knuckle {:.0},{:.0})",
                h.landmarks[0].0,
                h.landmarks[0].1,
                h.landmarks[5].0,
                h.landmarks[5].1,
                h.landmarks[17].0,
                h.landmarks[17].1
            ),
            FrameMethod::Valleys => {
                println!("landmark models saw no hand; ROI framed from the outline's valleys")
            }
            FrameMethod::LongestFinger => println!(
                "landmark models saw no hand; outline valleys implausible (fingers together or \
                 a crack?), ROI framed from the palm and the longest finger"
            ),
        }
        if let Some(mask) = &h.mask {
            save_gray(&mask.stretched(), &args.out, "1-hand-mask.png")?;
        }
        let img = image::load_from_memory(&bytes)?.to_rgb8();
        save(&landmarks(img, h), &args.out, "2-landmarks.png")?;
    }
    // The ROI is small (the filters' size): enlarged, and its contrast stretched between the 1st
    // and 99th percentiles so the lines show.
    save_gray(
        &enlarge(&percentile_stretched(&ex.roi), 4),
        &args.out,
        "3-roi.png",
    )?;
    let valid = Gray::from_fn(ex.roi_valid.width, ex.roi_valid.height, |x, y| {
        if ex.roi_valid.at(x, y) > 0.5 {
            255.0
        } else {
            0.0
        }
    });
    save_gray(&enlarge(&valid, 4), &args.out, "3-roi-valid.png")?;
    for (k, r) in ex.responses.iter().enumerate() {
        save_gray(
            &enlarge(&r.stretched(), 4),
            &args.out,
            &format!("4-response-{k}.png"),
        )?;
    }
    for (k, plane) in ex.template.planes.iter().enumerate() {
        let code = Gray::from_fn(GRID, GRID, |x, y| {
            if ex.template.mask[y] >> x & 1 == 0 {
                128.0
            } else if plane[y] >> x & 1 == 1 {
                255.0
            } else {
                0.0
            }
        });
        save_gray(
            &enlarge(&code, 4),
            &args.out,
            &format!("5-code-plane-{k}.png"),
        )?;
    }
    println!(
        "template: {} bytes, {} of {} cells valid",
        ex.template.byte_len(),
        ex.template.valid_cells(),
        GRID * GRID
    );
    std::fs::write(args.out.join("README.txt"), README).context("cannot write README.txt")?;
    println!(
        "stages written to {} (README.txt says what each is)",
        args.out.display()
    );
    Ok(())
}

/// What `palmline inspect` leaves in its folder, for whoever opens it later.
const README: &str = "\
What each picture is (palmline inspect):

1-hand-mask.png      the hand as the outline reader segmented it (white: hand); only when the
                     outline was read
2-landmarks.png      the photo with the hand's 21 learned landmarks (or the outline's valleys)
                     and the square the palm's region of interest (ROI) was cut from
3-roi.png            the ROI the filters see, 4x enlarged, contrast stretched to show the lines
3-roi-valid.png      the ROI's usable pixels, 4x enlarged: white is used, black is outside the
                     hand or the photo and left out of the template
4-response-K.png     the answer of filter orientation K (of 6, 30 degrees apart), 4x enlarged
5-code-plane-K.png   the template's bits for orientation K, 4x enlarged: white 1, black 0, grey
                     a cell left out (masked)
";

/// `g` with its 1st percentile black and its 99th white: a few extreme pixels no longer grey
/// out the rest, as a plain min-max stretch lets them.
fn percentile_stretched(g: &Gray) -> Gray {
    let mut sorted: Vec<f32> = (0..g.height)
        .flat_map(|y| (0..g.width).map(move |x| (x, y)))
        .map(|(x, y)| g.at(x, y))
        .collect();
    if sorted.is_empty() {
        return g.clone();
    }
    sorted.sort_by(f32::total_cmp);
    let at = |q: f32| sorted[((sorted.len() - 1) as f32 * q) as usize];
    let (lo, hi) = (at(0.01), at(0.99));
    let span = (hi - lo).max(1e-6);
    Gray::from_fn(g.width, g.height, |x, y| {
        ((g.at(x, y) - lo) / span).clamp(0.0, 1.0) * 255.0
    })
}

fn enlarge(g: &Gray, k: usize) -> Gray {
    Gray::from_fn(g.width * k, g.height * k, |x, y| g.at(x / k, y / k))
}

fn save_gray(g: &Gray, dir: &Path, name: &str) -> Result<()> {
    let img: GrayImage = g.to_luma8();
    img.save(dir.join(name))
        .with_context(|| format!("cannot write {name}"))
}

fn save(img: &RgbImage, dir: &Path, name: &str) -> Result<()> {
    img.save(dir.join(name))
        .with_context(|| format!("cannot write {name}"))
}

/// Bones of the hand between learned landmarks: thumb, four fingers, and the palm's edge.
const BONES: [(usize, usize); 21] = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (7, 8),
    (9, 10),
    (10, 11),
    (11, 12),
    (13, 14),
    (14, 15),
    (15, 16),
    (17, 18),
    (18, 19),
    (19, 20),
    (0, 5),
    (5, 9),
    (9, 13),
    (13, 17),
    (0, 17),
];

/// The photo with the hand's landmarks (learned points and bones, or the outline's palm centre
/// and valleys) and the ROI square drawn on it.
fn landmarks(mut img: RgbImage, h: &palm_engine::HandGeometry) -> RgbImage {
    let (w, hgt) = (img.width() as i64, img.height() as i64);
    let dot = |img: &mut RgbImage, (x, y): (f32, f32), r: i64, c: Rgb<u8>| {
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (x as i64 + dx, y as i64 + dy);
                if px >= 0 && py >= 0 && px < w && py < hgt && dx * dx + dy * dy <= r * r {
                    img.put_pixel(px as u32, py as u32, c);
                }
            }
        }
    };
    let line = |img: &mut RgbImage, a: (f32, f32), b: (f32, f32), c: Rgb<u8>| {
        for s in 0..=200 {
            let t = s as f32 / 200.0;
            dot(img, (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t), 1, c);
        }
    };
    for k in 0..4 {
        let (a, b) = (h.roi_corners[k], h.roi_corners[(k + 1) % 4]);
        line(&mut img, a, b, Rgb([255, 255, 0]));
    }
    // The ROI's top edge in another colour, so its orientation (and a mirrored left hand) shows.
    line(
        &mut img,
        h.roi_corners[0],
        h.roi_corners[1],
        Rgb([255, 0, 255]),
    );
    if h.landmarks.len() == 21 {
        for &(a, b) in &BONES {
            line(&mut img, h.landmarks[a], h.landmarks[b], Rgb([0, 200, 255]));
        }
        for p in &h.landmarks {
            dot(&mut img, *p, 4, Rgb([255, 0, 0]));
        }
    } else {
        dot(&mut img, h.palm_centre, 6, Rgb([0, 255, 0]));
        for v in &h.valleys {
            dot(&mut img, *v, 5, Rgb([255, 0, 0]));
        }
    }
    img
}
