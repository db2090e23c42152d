//! What a device presents to the service: a capture, plain or sealed to the server's capture
//! key, alone or as the frames of one hover (and the other hand's hover when it was asked for);
//! and what a gate shows back ([`GateVerdict`]).
//!
//! The shape rules (a hover is [`BURST_FRAMES`] frames, all plain or all sealed, a second hand
//! only beside a first hand's frames of the same kind, never an image beside frames) are checked
//! when a [`Presentation`] is made, before any frame is decoded or opened; opening sealed
//! captures is the use case's work (`Service::open_capture`), since it needs the capture keys
//! and the replay log.

use crate::error::{Result, ServiceError};
use crate::ids::PersonId;

/// Frames in one hover that the service decides on together.
pub const BURST_FRAMES: usize = 3;

/// A capture sealed on the device to one of the server's capture keys, bound to the request it
/// was taken for (the payment, the gate and event) by its nonce and purpose.
#[derive(Clone)]
pub struct SealedCapture {
    pub key_id: u32,
    /// The encapsulated key, base64.
    pub enc: String,
    /// The sealed image, base64.
    pub ciphertext: String,
    /// Fresh for every capture (16 to 64 characters; checked when opened).
    pub nonce: String,
}

/// `Debug` names the key and nonce only: the sealed bytes are a palm image.
impl std::fmt::Debug for SealedCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCapture")
            .field("key_id", &self.key_id)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

/// One capture as the device sent it: a plain image (base64, as a till without a capture key
/// or a test sends it) or one sealed to the server.
#[derive(Clone)]
pub enum CaptureInput {
    Plain(String),
    Sealed(SealedCapture),
}

/// `Debug` never shows an image.
impl std::fmt::Debug for CaptureInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureInput::Plain(b64) => write!(f, "Plain({} base64 characters)", b64.len()),
            CaptureInput::Sealed(s) => s.fmt(f),
        }
    }
}

impl CaptureInput {
    /// A request's `image` and `sealed_image`: one of them. With neither, the empty image, which
    /// the engine refuses as it refuses any picture without a palm.
    pub fn one_of(image: String, sealed: Option<SealedCapture>) -> Result<CaptureInput> {
        match sealed {
            None => Ok(CaptureInput::Plain(image)),
            Some(_) if !image.is_empty() => Err(ServiceError::invalid(
                "image_and_sealed_image",
                "send image or sealed_image, not both",
            )
            .with_param("image")),
            Some(s) => Ok(CaptureInput::Sealed(s)),
        }
    }

    fn is_sealed(&self) -> bool {
        matches!(self, CaptureInput::Sealed(_))
    }
}

/// The frames a request carries for one hand, as sent: plain ones, sealed ones, or (refused when
/// a [`Presentation`] is made) both.
#[derive(Debug, Clone, Default)]
pub struct FramesSent {
    pub plain: Vec<String>,
    pub sealed: Vec<SealedCapture>,
}

impl FramesSent {
    fn count(&self) -> usize {
        self.plain.len().max(self.sealed.len())
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.sealed.is_empty()
    }

    /// The frames, if they are all of one kind.
    fn one_kind(self) -> Option<Vec<CaptureInput>> {
        match (self.plain.is_empty(), self.sealed.is_empty()) {
            (false, true) => Some(self.plain.into_iter().map(CaptureInput::Plain).collect()),
            (true, false) => Some(self.sealed.into_iter().map(CaptureInput::Sealed).collect()),
            _ => None,
        }
    }
}

/// What a till presents for one palm decision.
#[derive(Debug, Clone)]
pub enum Presentation {
    /// One capture.
    One(CaptureInput),
    /// The [`BURST_FRAMES`] frames of one hover, all plain or all sealed.
    Hover(Vec<CaptureInput>),
    /// The first hand's hover again beside the other hand's, when the service asked for it
    /// (`needs_second_hand`); both of one kind.
    TwoHands(Vec<CaptureInput>, Vec<CaptureInput>),
}

impl Presentation {
    /// Checks a submission's parts against the shape rules above. Counts are checked first, so
    /// a wrong hover costs no decoding.
    pub fn new(
        image: CaptureInput,
        frames: FramesSent,
        second_hand: FramesSent,
    ) -> Result<Presentation> {
        let count = frames.count();
        if count > 0 && count != BURST_FRAMES {
            return Err(ServiceError::invalid(
                "invalid_frames",
                format!("a hover is {BURST_FRAMES} frames; {count} were sent"),
            )
            .with_param("frames"));
        }
        let second = second_hand.count();
        let kinds_differ = (!second_hand.plain.is_empty() && frames.plain.is_empty())
            || (!second_hand.sealed.is_empty() && frames.sealed.is_empty());
        if second > 0 && (second != BURST_FRAMES || count == 0 || kinds_differ) {
            return Err(ServiceError::invalid(
                "invalid_second_hand",
                format!(
                    "the other hand is {BURST_FRAMES} frames, sent with the first hand's frames \
                     (second_hand_frames with frames, sealed_second_hand_frames with sealed_frames)"
                ),
            )
            .with_param("second_hand_frames"));
        }
        let image_sent = match &image {
            CaptureInput::Plain(b64) => !b64.is_empty(),
            CaptureInput::Sealed(_) => true,
        };
        if frames.is_empty() {
            return Ok(Presentation::One(image));
        }
        let first = match frames.one_kind() {
            Some(first) if !image_sent => first,
            _ => {
                return Err(ServiceError::invalid(
                    "image_and_frames",
                    "send one of image, sealed_image, frames or sealed_frames",
                )
                .with_param("frames"));
            }
        };
        if second_hand.is_empty() {
            return Ok(Presentation::Hover(first));
        }
        match second_hand.one_kind() {
            Some(other) if other[0].is_sealed() == first[0].is_sealed() => {
                Ok(Presentation::TwoHands(first, other))
            }
            _ => Err(ServiceError::invalid(
                "invalid_second_hand",
                "send second_hand_frames with frames, or sealed_second_hand_frames with sealed_frames",
            )
            .with_param("second_hand_frames")),
        }
    }
}

/// Which way a person passes a gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    In,
    Out,
}

impl Direction {
    /// A request's `direction`: `in` (the default when left out) or `out`.
    pub fn parse(direction: Option<&str>) -> Result<Direction> {
        match direction.unwrap_or("in") {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            _ => Err(
                ServiceError::invalid("invalid_direction", "direction is in or out")
                    .with_param("direction"),
            ),
        }
    }
}

/// A palm at a gate.
#[derive(Clone, Debug)]
pub struct GateScan {
    /// The event whose passes the gate checks; none at a walk-out store's gate, where `In`
    /// opens a shopping trip and `Out` ends the person's open one.
    pub event: Option<String>,
    pub presented: Presentation,
    /// The last four digits of the phone, when the gate asked for a hint.
    pub phone_last4: Option<String>,
    pub direction: Direction,
}

/// A gate's green or red, with the reason it shows: `welcome`, `goodbye`, or why not (an entry
/// rule such as `no_pass`, or the palm's own code such as `palm_not_recognised`,
/// `needs_second_hand`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateVerdict {
    pub allowed: bool,
    pub reason: String,
    pub person: Option<PersonId>,
    /// At a walk-out store: the shopping trip the palm opened (or ended).
    pub trip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(n: usize) -> FramesSent {
        FramesSent {
            plain: (0..n).map(|i| format!("frame{i}")).collect(),
            sealed: vec![],
        }
    }

    fn sealed(n: usize) -> FramesSent {
        let s = SealedCapture {
            key_id: 1,
            enc: "e".into(),
            ciphertext: "c".into(),
            nonce: "n".repeat(16),
        };
        FramesSent {
            plain: vec![],
            sealed: vec![s; n],
        }
    }

    fn code(r: Result<Presentation>) -> String {
        r.expect_err("refused").code.to_string()
    }

    #[test]
    fn a_hover_is_three_frames_of_one_kind_and_never_beside_an_image() {
        let none = || CaptureInput::Plain(String::new());
        assert!(matches!(
            Presentation::new(none(), plain(3), FramesSent::default()),
            Ok(Presentation::Hover(f)) if f.len() == 3
        ));
        assert!(matches!(
            Presentation::new(none(), sealed(3), sealed(3)),
            Ok(Presentation::TwoHands(a, b)) if a.len() == 3 && b.len() == 3
        ));
        assert!(matches!(
            Presentation::new(
                CaptureInput::Plain("x".into()),
                FramesSent::default(),
                FramesSent::default()
            ),
            Ok(Presentation::One(CaptureInput::Plain(_)))
        ));
        for n in [1, 2, 4] {
            assert_eq!(
                code(Presentation::new(none(), plain(n), FramesSent::default())),
                "invalid_frames"
            );
        }
        let mixed = FramesSent {
            plain: plain(3).plain,
            sealed: sealed(3).sealed,
        };
        assert_eq!(
            code(Presentation::new(none(), mixed, FramesSent::default())),
            "image_and_frames"
        );
        assert_eq!(
            code(Presentation::new(
                CaptureInput::Plain("x".into()),
                plain(3),
                FramesSent::default()
            )),
            "image_and_frames"
        );
        // The other hand: three frames, only beside the first hand's, of the same kind.
        for (first, second) in [
            (FramesSent::default(), plain(3)),
            (plain(3), plain(2)),
            (plain(3), sealed(3)),
            (sealed(3), plain(3)),
        ] {
            assert_eq!(
                code(Presentation::new(none(), first, second)),
                "invalid_second_hand"
            );
        }
    }

    #[test]
    fn an_image_goes_plain_or_sealed_never_both() {
        let s = sealed(1).sealed.remove(0);
        assert!(matches!(
            CaptureInput::one_of(String::new(), Some(s.clone())),
            Ok(CaptureInput::Sealed(_))
        ));
        let both = CaptureInput::one_of("x".into(), Some(s)).expect_err("refused");
        assert_eq!(both.code, "image_and_sealed_image");
        // Debug shows neither the image nor the sealed bytes.
        let shown = format!("{:?}", CaptureInput::Plain("secretpixels".into()));
        assert!(!shown.contains("secretpixels"), "{shown}");
    }
}
