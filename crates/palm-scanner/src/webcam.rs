//! Frames from a webcam (cargo feature `webcam`; nokhwa's native backend: V4L2 on Linux, which
//! needs `libclang-dev` to build). Frames are decoded to RGB and handed to the engine as pixels.

use crate::capture::{Frame, Source};
use crate::{Result, ScannerError};
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};

pub struct Webcam {
    camera: Camera,
    frames: usize,
}

fn err(e: impl std::fmt::Display) -> ScannerError {
    ScannerError::Capture(format!("webcam: {e}"))
}

impl Webcam {
    /// Opens camera `index` and streams at most `frames` frames.
    pub fn open(index: u32, frames: usize) -> Result<Webcam> {
        let requested =
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
        let mut camera = Camera::new(CameraIndex::Index(index), requested).map_err(err)?;
        camera.open_stream().map_err(err)?;
        Ok(Webcam { camera, frames })
    }
}

impl Source for Webcam {
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.frames == 0 {
            return Ok(None);
        }
        self.frames -= 1;
        let frame = self.camera.frame().map_err(err)?;
        let rgb = frame.decode_image::<RgbFormat>().map_err(err)?;
        let (w, h) = (rgb.width(), rgb.height());
        let img = image::RgbImage::from_raw(w, h, rgb.into_raw())
            .ok_or_else(|| err("frame size does not match its buffer"))?;
        Ok(Some(Frame::Pixels(img)))
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}
