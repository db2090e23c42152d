//! Wire types of walk-out shopping: a store whose entry gate opens a shopping trip for the palm
//! it reads (a hold on the person's card), the item events the store's own sensors report, the
//! exit that totals the basket and charges it, and the receipt.

use crate::devices::SealedImage;
use serde::{Deserialize, Serialize};

/// A venue's walk-out settings (`CreateVenue.walk_out`): its gates open shopping trips instead of
/// checking event passes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WalkOutSettings {
    /// ISO 4217 code of the store's prices.
    pub currency: String,
    /// The hold put on the person's card at entry, in minor units (5000 = 50.00).
    pub hold: i64,
    /// Sales tax on the basket in basis points (825 = 8.25%); 0 when prices include it.
    #[serde(default)]
    pub tax_rate_bps: i64,
}

/// `POST /v1/shopping_trips` (a walk-out store's gate): a palm at the entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenTrip {
    /// The capture, base64; leave out when sending `sealed_image`.
    #[serde(default)]
    pub image: String,
    /// The capture sealed to the server's capture key, bound to this gate.
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
    /// How many people enter on this palm (1 to 10, default 1): one trip, one basket, one card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_size: Option<i64>,
}

/// `POST /v1/shopping_trips/{id}/events`: what the store's sensors saw a shopper do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemEvent {
    /// The store system's id for this event (1 to 100 characters): sending it again is
    /// harmless; sending another event under it is refused.
    pub id: String,
    /// `take` or `put_back`.
    pub kind: String,
    /// The product's id in the store's catalogue.
    pub product: String,
    /// The name the receipt shows.
    pub name: String,
    /// 1 to 1000.
    pub quantity: i64,
    /// Price of one, in minor units of the store's currency.
    pub unit_price: i64,
    /// The sensor's confidence, 0 to 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// When it happened (Unix milliseconds; default: when it arrived). Events may arrive out of
    /// order: the basket counts what was taken and put back, whatever the order of arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_ms: Option<i64>,
}

/// The answer to an item event: the event as recorded and the basket after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemEventRecorded {
    pub event: ItemEvent,
    /// True when this event id had been recorded before (a resend): nothing changed.
    pub duplicate: bool,
    pub trip: ShoppingTrip,
}

/// One line of a basket or receipt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BasketLine {
    pub product: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    /// quantity x unit_price.
    pub amount: i64,
    /// The lowest sensor confidence among the events behind this line.
    pub confidence: f64,
}

/// A shopping trip, from the entry gate to the charge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShoppingTrip {
    pub id: String,
    pub venue: String,
    /// The gate the trip began at.
    pub gate: String,
    /// The person (their id stays on the trip, as on a payment, after they leave Palmline).
    pub person: Option<String>,
    pub party_size: i64,
    /// `open` (shopping), `completing` (exited; the charge is being made), `completed`
    /// (charged, or released for an empty basket), `requires_action` (the card would not cover
    /// the basket: `decline_code` says why; the merchant settles it), `declined` (the hold was
    /// refused at the gate: the trip never opened).
    pub status: String,
    pub currency: String,
    /// The hold on the person's card.
    pub hold: i64,
    pub basket: Vec<BasketLine>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// What the card was charged (0 until completed, and for an empty basket).
    pub charged: i64,
    /// The card payment carrying the hold and the charge (`GET /v1/payments/{id}`).
    pub payment: String,
    pub opened: i64,
    pub closed: Option<i64>,
    /// How it closed: `exit` (the store's system), `gate` (a palm at the exit gate), `timeout`
    /// (left open too long), `deletion` (the person asked to be deleted).
    pub closed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// Once completed: the page where the person sees their receipt and may dispute a line
    /// (a path on this server; the link itself is the credential, so send it to the person
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_link: Option<String>,
}

/// `POST /v1/shopping_trips/{id}/exit` (the store's system): the shopper left.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExitTrip {}

/// `GET /v1/shopping_trips/{id}/receipt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub trip: String,
    /// The store, as its venue is named.
    pub store: String,
    pub lines: Vec<BasketLine>,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub charged: i64,
    /// Given back after adjustments.
    pub refunded: i64,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub opened: i64,
    pub closed: i64,
    pub adjustments: Vec<Adjustment>,
}

/// `POST /v1/shopping_trips/{id}/adjustments`: the person disputes an item on the receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAdjustment {
    pub product: String,
    /// How many of the receipt's quantity are disputed (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// In the person's words (up to 500 characters).
    pub reason: String,
}

/// A disputed receipt line and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Adjustment {
    pub id: String,
    pub trip: String,
    pub product: String,
    pub quantity: i64,
    /// What accepting it gives back (the lines' price with their tax), in minor units.
    pub amount: i64,
    pub reason: String,
    /// `requested`, `accepting` (the refund is being made), `accepted` (refunded: `refund`) or
    /// `rejected`.
    pub status: String,
    pub refund: Option<String>,
    pub created: i64,
}
