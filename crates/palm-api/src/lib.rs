//! Wire types of Palmline's HTTP API, shared by the server, the scanner and the kiosk.
//!
//! The key design decision: these are plain data with `serde` and OpenAPI schemas (behind the
//! `openapi` feature, which only the server turns on), nothing else.
//! Requests refuse unknown fields (a typo in a field name is an error, never silently ignored);
//! amounts are integers in minor units; times are Unix seconds; card numbers only ever appear in
//! requests, and responses carry the brand and last four digits.

mod devices;
mod trips;
mod venues;

pub use devices::*;
pub use trips::*;
pub use venues::*;

use serde::{Deserialize, Serialize};

/// Every error response: `{type, code, message, param}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Broad class: `invalid_request_error`, `authentication_error`, `idempotency_error`,
    /// `card_error`, `palm_error`, `conflict_error`, `not_found_error`, `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Machine-readable reason, stable across versions (for example `card_declined`).
    pub code: String,
    /// What went wrong, in words a developer can act on. Never contains a secret.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// The processor's decline code for `card_error`s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Hand {
    Left,
    Right,
}

impl Hand {
    pub fn as_str(self) -> &'static str {
        match self {
            Hand::Left => "left",
            Hand::Right => "right",
        }
    }
}

/// One palm image, base64-encoded (PNG, JPEG or BMP; a full hand or a cropped palm).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub hand: Hand,
    pub image: String,
}

/// `Debug` shows the last four digits only and never the security code: a request logged by
/// mistake must not carry a card.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    /// The full card number (spaces and dashes allowed).
    pub number: String,
    pub exp_month: u8,
    /// Two or four digits.
    pub exp_year: u16,
    pub holder_name: String,
    /// Passed to the processor for the first authorisation only; never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits: Vec<char> = self.number.chars().filter(char::is_ascii_digit).collect();
        let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
        f.debug_struct("CardInput")
            .field("number", &format_args!("****{last4}"))
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .field("holder_name", &self.holder_name)
            .field("cvc", &self.cvc.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// Must be true: the person agreed to biometric processing.
    pub accepted: bool,
    /// The version of the consent text the person was shown (see `GET /v1/consent`).
    pub text_version: String,
}

/// `POST /v1/signups`: palm captures of one or both hands, a card, a phone number and consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// E.164 form, for example `+447700900123`.
    pub phone: String,
    pub card: CardInput,
    pub consent: ConsentInput,
    /// At least two captures of one hand; the other hand optional (two captures too).
    pub captures: Vec<Capture>,
    /// Loyalty programs of the merchant to join at once (`program` required in each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<JoinProgram>,
    /// What took the captures: a till's scanner (the default), or the person's phone (photos
    /// uploaded through the sign-up page). A phone sign-up stays `pending_first_scan` until a
    /// till capture matches it.
    #[serde(default)]
    pub source: CaptureSource,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptureSource {
    #[default]
    Scanner,
    Phone,
}

/// Where a person's enrolment stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentStatus {
    /// Identified at tills like anyone enrolled.
    Active,
    /// Signed up from phone photos: the first scan at a till must come with the last four
    /// digits of the phone (`needs_hint`); when that capture matches, it is kept as a second
    /// template of the hand and the enrolment becomes active.
    PendingFirstScan,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Card {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub is_default: bool,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: String,
    /// Only the last four digits are shown.
    pub phone_last4: String,
    pub hands: Vec<Hand>,
    pub cards: Vec<Card>,
    pub created: i64,
    pub status: EnrolmentStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignupResponse {
    pub person: Person,
    /// Loyalty memberships joined with the sign-up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentText {
    pub version: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Authorise and capture in one step (the default).
    Automatic,
    /// Authorise only; capture (or cancel) later.
    Manual,
}

/// `POST /v1/payments`: what the merchant's POS sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// Minor units (cents, pence). Positive.
    pub amount: i64,
    /// ISO 4217, lower or upper case.
    pub currency: String,
    /// The till where the person will hover their palm. Required with a merchant key; a till
    /// creating its own payment (with its `tk_` credential) may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<CaptureMethod>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    RequiresPalm,
    RequiresConfirmation,
    Processing,
    RequiresCapture,
    Succeeded,
    Failed,
    Canceled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::RequiresPalm => "requires_palm",
            PaymentStatus::RequiresConfirmation => "requires_confirmation",
            PaymentStatus::Processing => "processing",
            PaymentStatus::RequiresCapture => "requires_capture",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        use PaymentStatus::*;
        [
            RequiresPalm,
            RequiresConfirmation,
            Processing,
            RequiresCapture,
            Succeeded,
            Failed,
            Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// The card a payment used, as the receipt shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardSummary {
    pub id: String,
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    pub id: String,
    pub status: PaymentStatus,
    pub amount: i64,
    pub tip: i64,
    /// `amount + tip - discount`: what the card is charged.
    pub amount_total: i64,
    /// Taken off by a loyalty reward.
    pub discount: i64,
    pub reward: Option<String>,
    pub currency: String,
    pub till: String,
    pub reference: Option<String>,
    pub capture_method: CaptureMethod,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    /// The person the palm identified (opaque id).
    pub person: Option<String>,
    pub card: Option<CardSummary>,
    /// Cards the identified person may choose from (masked), while the payment awaits confirmation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub card_choices: Vec<CardSummary>,
    pub decline_code: Option<String>,
    /// The person's loyalty memberships at this merchant, with balances after this payment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
    pub created: i64,
    pub updated: i64,
}

/// `POST /v1/payments/{id}/palm`: the till's scanner submits a capture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PalmSubmission {
    /// The capture, base64; leave out when sending `sealed_image`.
    #[serde(default)]
    pub image: String,
    /// The capture sealed to the server's capture key (what a paired scanner sends), bound to
    /// this payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_image: Option<SealedImage>,
    /// Instead of `image`: the frames of one hover (three, base64 each), decided as one piece
    /// of evidence, which names people a single frame would leave to a hint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    /// The frames of one hover, each sealed to the server's capture key (what a paired scanner
    /// sends for a hover), bound to this payment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_frames: Vec<SealedImage>,
    /// With `frames`: three frames of the person's other hand, when the service asked for it
    /// (`needs_second_hand`: the first hand alone could not name anyone among this many
    /// people). Both hovers are then decided as one piece of evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub second_hand_frames: Vec<String>,
    /// With `sealed_frames`: the other hand's frames, sealed as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_second_hand_frames: Vec<SealedImage>,
    /// Last four digits of the person's phone, when the service asks for a hint (`needs_hint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_last4: Option<String>,
    /// Pay with this card instead of the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// `false`: identify only and wait for `POST /confirm` (to choose a card or add a tip on the
    /// till screen). Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<bool>,
    /// Redeem this loyalty reward: its discount comes off before the card is charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmPayment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CapturePayment {
    /// Capture less than authorised (the rest is released). Default: everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// Default: everything not yet refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    pub id: String,
    pub payment: String,
    pub amount: i64,
    pub status: String,
    pub reason: Option<String>,
    pub created: i64,
}

/// One recorded change (payment state, refund); also what webhooks deliver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: serde_json::Value,
}

/// `GET /v1/till`: the calling till, as its receipts name it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TillProfile {
    pub id: String,
    pub name: String,
    /// The store the till stands in.
    pub store: String,
    /// The merchant's name.
    pub merchant: String,
}

/// A page of a list, newest first. Ask for the next page with `starting_after=<last id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// The signing secret: returned once, when the endpoint is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub id: String,
    pub event: String,
    pub event_type: String,
    pub endpoint: String,
    /// `pending`, `delivered` or `failed` (gave up after the last retry; replay to try again).
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt: Option<i64>,
    pub created: i64,
}

/// `POST /v1/people/sessions`: a person proves who they are at a device (palm + phone number)
/// to manage their own data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePersonSession {
    pub image: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonSession {
    /// Bearer token for the `/v1/me` endpoints.
    pub token: String,
    pub expires: i64,
    pub person: Person,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdatePhone {
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub database: String,
    pub palms: usize,
}

/// `POST /v1/people/deletions`: a person asks, at a device, to be deleted (palm + phone number);
/// a code is sent to that phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDeletion {
    pub image: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletionRequest {
    pub id: String,
    /// The code expires at this time (Unix seconds).
    pub expires: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmDeletion {
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletionResult {
    pub id: String,
    /// `deleted`, or `pending` while a payment of theirs is still in flight (then deleted by a
    /// background job; their palm stops working at once).
    pub status: String,
    /// Every copy of the palm gallery has dropped their palms: at once on one machine; in a
    /// deployment with matcher processes, when every matcher said so within a few seconds.
    /// False only means some matcher had not answered yet: their palms match no one already
    /// (every match is checked against the database), and matchers drop them as the palm
    /// stream reaches them.
    pub erased_everywhere: bool,
}

/// One read of the person's biometric data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: String,
    /// The till, merchant or job that read it.
    pub actor: String,
    /// `enrolment`, `payment`, `person_session`, `deletion_request`, `deletion`, `retention`.
    pub purpose: String,
    pub created: i64,
}

/// The published biometric data retention policy (BIPA asks for a public one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionPolicy {
    pub biometric_retention_days: i64,
    pub policy: String,
}

/// `POST /v1/loyalty/programs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateProgram {
    pub name: String,
    /// Points earned per whole currency unit charged (per 100 minor units of USD or EUR, per
    /// yen of JPY).
    pub points_per_unit: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reward {
    pub id: String,
    pub program: String,
    pub name: String,
    pub points_cost: i64,
    /// Minor units taken off a payment before the card is charged.
    pub discount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Program {
    pub id: String,
    pub name: String,
    pub points_per_unit: i64,
    pub rewards: Vec<Reward>,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateReward {
    pub name: String,
    pub points_cost: i64,
    pub discount: i64,
    pub currency: String,
}

/// Link a person to a program: by the phone number they enrolled with (merchant API), or at
/// sign-up / in their own session. `member_number`: the number on an existing loyalty card
/// (default: a new one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JoinProgram {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub id: String,
    pub program: String,
    pub member_number: String,
    pub balance: i64,
    pub person: String,
    pub created: i64,
}

/// `POST /v1/loyalty/present`: a palm at a till shows the person's loyalty cards, no payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PresentLoyalty {
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_last4: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoyaltyPresentation {
    pub person: String,
    pub memberships: Vec<Membership>,
    /// Rewards the person has enough points for.
    pub rewards_available: Vec<Reward>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_in_debug_output_shows_no_number_and_no_code() {
        let card = CardInput {
            number: "4242 4242 4242 4242".into(),
            exp_month: 12,
            exp_year: 2030,
            holder_name: "Ada Palm".into(),
            cvc: Some("737".into()),
        };
        let shown = format!("{card:?}");
        assert!(shown.contains("****4242"), "{shown}");
        assert!(
            !shown.contains("4242 4242") && !shown.contains("424242"),
            "{shown}"
        );
        assert!(!shown.contains("737"), "{shown}");
    }
}
