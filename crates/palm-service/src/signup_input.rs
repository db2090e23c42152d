//! What sign-up (and adding a card) takes: the service's own request, as the person gave it.
//! The card, the phone and the captures are checked by the use case, since some checks need
//! the service (a card's expiry against its clock, a capture's palm against the engine); the
//! HTTP edge only moves the wire request's fields here.

use crate::error::{Result, ServiceError};

/// One of a person's two hands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hand {
    Left,
    Right,
}

impl Hand {
    /// The name stored with each palm and shown in views.
    pub fn as_str(self) -> &'static str {
        match self {
            Hand::Left => "left",
            Hand::Right => "right",
        }
    }
}

/// A card as the person typed it, not yet checked. `Debug` shows the last four digits only and
/// never the security code: a request logged by mistake must not carry a card.
#[derive(Clone)]
pub struct CardEntry {
    /// The full number (spaces and dashes allowed).
    pub number: String,
    pub exp_month: u8,
    /// Two or four digits.
    pub exp_year: u16,
    pub holder_name: String,
    /// Passed to the processor for the first authorisation only; never stored.
    pub cvc: Option<String>,
}

impl std::fmt::Debug for CardEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits: String = self.number.chars().filter(char::is_ascii_digit).collect();
        write!(
            f,
            "CardEntry(****{})",
            &digits[digits.len().saturating_sub(4)..]
        )
    }
}

/// What took a sign-up's captures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaptureSource {
    /// A till's scanner.
    #[default]
    Scanner,
    /// The person's phone (photos uploaded through the sign-up page): the enrolment stays
    /// pending until a till capture matches it.
    Phone,
}

/// One capture of one hand, base64 as sent.
#[derive(Clone)]
pub struct HandCapture {
    pub hand: Hand,
    pub image: String,
}

impl std::fmt::Debug for HandCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HandCapture({}, {} base64 characters)",
            self.hand.as_str(),
            self.image.len()
        )
    }
}

/// A loyalty program of the merchant to join with the sign-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinAtSignup {
    pub program: String,
    /// The member number to keep (from the program's own cards); one is made when left out.
    pub member_number: Option<String>,
}

/// A sign-up: a phone, a card, the consent the person gave, captures of one or both hands.
#[derive(Clone, Debug)]
pub struct SignUp {
    /// E.164 form (checked by the use case).
    pub phone: String,
    pub card: CardEntry,
    /// The person accepted this version of the consent text (`None`: they did not accept).
    pub consent: Option<String>,
    pub captures: Vec<HandCapture>,
    pub memberships: Vec<JoinAtSignup>,
    pub source: CaptureSource,
}

impl JoinAtSignup {
    /// A join names its program; `index` names it in an error (`memberships[i].program`).
    pub fn new(
        program: Option<String>,
        member_number: Option<String>,
        index: usize,
    ) -> Result<JoinAtSignup> {
        match program {
            Some(program) if !program.is_empty() => Ok(JoinAtSignup {
                program,
                member_number,
            }),
            _ => Err(ServiceError::invalid(
                "program_required",
                "each membership joined at sign-up names its loyalty program",
            )
            .with_param(format!("memberships[{index}].program"))),
        }
    }
}
