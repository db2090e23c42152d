//! The engine's one error type: what went wrong, as a kind a caller can act on.

use std::fmt;

/// Why no template could be made, or why two templates cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not any image format the engine knows.
    NotAnImage,
    /// A known image format, but not one the engine decodes (PNG, JPEG and BMP are).
    UnsupportedFormat(String),
    /// The image header promised more data than the bytes hold, or the data is corrupt.
    Truncated,
    TooSmall {
        width: u32,
        height: u32,
        min: u32,
    },
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    /// One side many times the other: no camera takes such a picture, and a hand cannot fit it.
    Elongated {
        width: u32,
        height: u32,
        max_ratio: u32,
    },
    /// An image was decoded, but no usable palm is in it.
    Rejected(Rejection),
    /// Template bytes that fail validation.
    InvalidTemplate(String),
    /// Two templates made with different engine parameters: their scores would mean nothing.
    IncompatibleTemplates {
        left: u32,
        right: u32,
    },
    /// A protected template and a probe prepared under different transforms (see `protect`).
    OtherTransform {
        probe: u32,
        template: u32,
    },
}

/// Why a decoded image yields no palm. The scanner turns these into guidance for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    NoHand,
    HandCutByBorder,
    FingersNotSeparated,
    TooDark,
    TooBright,
    TooBlurred,
    PalmTooSmall,
    LowQuality,
    /// More than one hand in the picture.
    TwoHands,
    /// The back of the hand faces the camera.
    BackOfHand,
    /// A fist or curled fingers hide the palm.
    HandNotOpen,
}

impl Rejection {
    /// A short stable name, used in reports and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::NoHand => "no_hand",
            Rejection::HandCutByBorder => "hand_cut_by_border",
            Rejection::FingersNotSeparated => "fingers_not_separated",
            Rejection::TooDark => "too_dark",
            Rejection::TooBright => "too_bright",
            Rejection::TooBlurred => "too_blurred",
            Rejection::PalmTooSmall => "palm_too_small",
            Rejection::LowQuality => "low_quality",
            Rejection::TwoHands => "two_hands",
            Rejection::BackOfHand => "back_of_hand",
            Rejection::HandNotOpen => "hand_not_open",
        }
    }

    /// What a person in front of a scanner should do about it.
    pub fn guidance(self) -> &'static str {
        match self {
            Rejection::NoHand => "hold your palm over the scanner",
            Rejection::HandCutByBorder => "move your hand to the centre",
            Rejection::FingersNotSeparated => "spread your fingers",
            Rejection::TooDark => "too dark: move to more light",
            Rejection::TooBright => "too bright: avoid direct light",
            Rejection::TooBlurred => "hold your hand still",
            Rejection::PalmTooSmall => "move closer",
            Rejection::LowQuality => "hold your palm flat and still, facing the scanner",
            Rejection::TwoHands => "show one hand at a time",
            Rejection::BackOfHand => "turn your hand over: palm towards the scanner",
            Rejection::HandNotOpen => "open your hand flat, fingers apart",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotAnImage => write!(f, "not an image (expected PNG, JPEG or BMP)"),
            ErrorKind::UnsupportedFormat(name) => {
                write!(
                    f,
                    "unsupported image format {name} (expected PNG, JPEG or BMP)"
                )
            }
            ErrorKind::Truncated => write!(f, "image data is truncated or corrupt"),
            ErrorKind::TooSmall { width, height, min } => {
                write!(
                    f,
                    "image is {width}x{height}, smaller than the minimum of {min} px a side"
                )
            }
            ErrorKind::TooLarge {
                width,
                height,
                max_pixels,
            } => {
                write!(
                    f,
                    "image is {width}x{height}, larger than {max_pixels} pixels"
                )
            }
            ErrorKind::Elongated {
                width,
                height,
                max_ratio,
            } => {
                write!(
                    f,
                    "image is {width}x{height}: one side is more than {max_ratio} times the other"
                )
            }
            ErrorKind::Rejected(r) => write!(f, "no usable palm: {} ({})", r.code(), r.guidance()),
            ErrorKind::InvalidTemplate(why) => write!(f, "invalid template: {why}"),
            ErrorKind::IncompatibleTemplates { left, right } => write!(
                f,
                "templates made with different engine parameters (fingerprints {left:08x} and {right:08x})"
            ),
            ErrorKind::OtherTransform { probe, template } => write!(
                f,
                "probe prepared under transform {probe}, template protected under transform {template}"
            ),
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind }
    }
}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        Error {
            kind: ErrorKind::Rejected(r),
        }
    }
}

impl Error {
    /// The rejection reason, when the image decoded but held no usable palm.
    pub fn rejection(&self) -> Option<Rejection> {
        match self.kind {
            ErrorKind::Rejected(r) => Some(r),
            _ => None,
        }
    }
}
