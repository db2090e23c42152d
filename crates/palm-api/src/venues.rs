//! Wire types of venues: gates, events, passes and age checks, and what a gate decides when a
//! palm is scanned at it.

use crate::devices::SealedImage;
use crate::trips::WalkOutSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateInput {
    pub name: String,
    /// An age-restricted area's gate admits only people staff have age-verified.
    #[serde(default)]
    pub age_restricted: bool,
}

/// `POST /v1/venues`: a venue and its gates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateVenue {
    pub name: String,
    pub gates: Vec<GateInput>,
    /// A walk-out store: its gates open shopping trips (`POST /v1/shopping_trips`) instead of
    /// checking event passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_out: Option<WalkOutSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateInfo {
    pub id: String,
    pub name: String,
    pub age_restricted: bool,
    /// The gate device's credential (`gk_...`): shown once, when the venue is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Venue {
    pub id: String,
    pub name: String,
    pub gates: Vec<GateInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_out: Option<WalkOutSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub name: String,
    /// Doors open and close (Unix seconds).
    pub starts: i64,
    pub ends: i64,
    pub capacity: i64,
    /// May someone who left come back in?
    #[serde(default)]
    pub reentry: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VenueEvent {
    pub id: String,
    pub venue: String,
    pub name: String,
    pub starts: i64,
    pub ends: i64,
    pub capacity: i64,
    pub reentry: bool,
}

/// `POST /v1/events/{id}/passes`: put a person (found by phone) on the event's allow-list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddPass {
    pub phone: String,
    /// `ticket`, `membership` or `staff`.
    pub kind: String,
}

/// The answer to adding a loyalty member or an event pass by phone number: the same whether or
/// not the number belongs to someone enrolled, so no one learns who is by trying numbers. The
/// membership or pass is made at the person's next palm scan at this merchant (paying, showing
/// their loyalty cards, or at a gate), and the invitation is forgotten at `expires` if unused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: String,
    /// `membership` or `pass`.
    pub kind: String,
    /// The loyalty program or event.
    pub target: String,
    /// Always `pending`: what happens next is not told.
    pub status: String,
    pub created: i64,
    pub expires: i64,
}

/// `POST /v1/age_verifications`: staff checked an ID document (the image is never sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyAge {
    pub phone: String,
    /// `passport`, `driving_licence` or `national_id`.
    pub document_type: String,
    /// The staff member who checked it.
    pub verified_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgeVerification {
    /// Not returned: the answer is the same whether or not the phone number is enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub document_type: String,
    pub verified_by: String,
    pub verified_at: i64,
}

/// `POST /v1/gate/scans`: a palm at a gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateScan {
    /// The event whose passes are checked; left out at a walk-out store's gate, where `in` opens
    /// a shopping trip and `out` ends the person's open one.
    #[serde(default)]
    pub event: String,
    /// The capture, base64; leave out when sending `sealed_image`.
    #[serde(default)]
    pub image: String,
    /// The capture sealed to the server's capture key, bound to this gate and event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_image: Option<SealedImage>,
    /// Instead of `image`: the frames of one hover (three, base64 each), decided as one piece
    /// of evidence, as at a till.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    /// The frames of one hover, each sealed to the server's capture key as `sealed_image` is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_frames: Vec<SealedImage>,
    /// With `frames`: three frames of the person's other hand, when the gate answered
    /// `needs_second_hand`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub second_hand_frames: Vec<String>,
    /// With `sealed_frames`: the other hand's frames, sealed as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_second_hand_frames: Vec<SealedImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_last4: Option<String>,
    /// `in` (default) or `out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
}

/// Green or red, with the reason the gate shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateDecision {
    pub allowed: bool,
    /// `welcome`, `goodbye`, or why not: `palm_not_recognised`, `needs_hint`,
    /// `needs_second_hand` (a hover's first hand named no one: send the other hand's frames
    /// beside it), `palm_ambiguous`, `no_pass`,
    /// `event_not_open`, `event_over`, `already_inside`, `no_reentry`, `venue_full`,
    /// `age_not_verified`, `not_inside`; at a walk-out store also `welcome_back` (a trip is
    /// already open), `card_declined`, `no_card`, `card_unavailable` (the hold could not be
    /// placed: the person pays at a till instead).
    pub reason: String,
    pub person: Option<String>,
    /// At a walk-out store: the shopping trip the palm opened (or ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trip: Option<String>,
}

/// One gate decision, as the merchant's records show it (`GET /v1/entries`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    pub id: String,
    pub event: String,
    pub gate: String,
    pub person: Option<String>,
    /// `in`, `out` or `area`.
    pub direction: String,
    pub allowed: bool,
    pub reason: String,
    pub created: i64,
    /// Decided by the gate while offline and uploaded later: what the gate claims, checked only
    /// for what the gate could know (its own allow-list, a pass holder).
    pub offline: bool,
}
