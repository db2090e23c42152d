//! The storage seam of walk-out shopping: a store's walk-out settings, trips, the item events
//! the store's sensors report, and disputed receipt lines. Same rules as `store.rs`: one
//! transaction per method, compare-and-set on a trip's state.

use crate::error::StoreError;
use crate::ids::{MerchantId, PaymentId, PersonId};
use crate::money::{Amount, Currency};
use crate::store::{EventRow, Page, PaymentRow, WalkOutRow};
use async_trait::async_trait;

type StoreResult<T> = Result<T, StoreError>;

/// Where a trip stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripState {
    /// The hold is being placed; the gate has not opened yet.
    Opening,
    /// Shopping.
    Open,
    /// Exited: the basket is frozen and being charged.
    Completing,
    Completed,
    /// The card would not cover the basket; the merchant settles it.
    RequiresAction,
    /// The hold was refused: the trip never opened.
    Declined,
}

impl TripState {
    pub const ALL: [TripState; 6] = [
        TripState::Opening,
        TripState::Open,
        TripState::Completing,
        TripState::Completed,
        TripState::RequiresAction,
        TripState::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TripState::Opening => "opening",
            TripState::Open => "open",
            TripState::Completing => "completing",
            TripState::Completed => "completed",
            TripState::RequiresAction => "requires_action",
            TripState::Declined => "declined",
        }
    }

    pub fn parse(name: &str) -> Option<TripState> {
        TripState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the person may still be shopping (or about to): such a trip holds money on their
    /// card, so their deletion waits for it.
    pub fn live(self) -> bool {
        matches!(
            self,
            TripState::Opening | TripState::Open | TripState::Completing
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TripRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub venue_id: String,
    pub gate_id: String,
    pub person_id: Option<PersonId>,
    pub party_size: i64,
    pub status: TripState,
    pub payment_id: PaymentId,
    pub currency: Currency,
    pub hold: Amount,
    pub tax_rate_bps: i64,
    /// Set when the trip leaves `open` (the basket as frozen at exit).
    pub subtotal: Amount,
    pub tax: Amount,
    pub total: Amount,
    pub charged: Amount,
    pub opened: i64,
    pub closed: Option<i64>,
    pub closed_by: Option<String>,
    pub decline_code: Option<String>,
    pub updated: i64,
}

/// What a shopper did with a product, as the store's sensors report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Take,
    PutBack,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Take => "take",
            ItemKind::PutBack => "put_back",
        }
    }

    pub fn parse(name: &str) -> Option<ItemKind> {
        [ItemKind::Take, ItemKind::PutBack]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemEventRow {
    pub trip_id: String,
    /// The store system's own id for the event: unique within a trip.
    pub event_id: String,
    pub kind: ItemKind,
    pub product: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Amount,
    pub confidence: f64,
    pub occurred_ms: i64,
    pub received: i64,
}

/// What adding an item event did.
#[derive(Debug, Clone, PartialEq)]
pub enum EventAdded {
    Added,
    /// An event with this id was recorded before: this is it.
    Duplicate(ItemEventRow),
    /// The trip is no longer open (or does not exist).
    TripNotOpen,
}

/// Where a disputed receipt line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustmentState {
    /// Waiting for the merchant.
    Requested,
    /// Accepted; the refund is being made.
    Accepting,
    /// Refunded.
    Accepted,
    Rejected,
}

impl AdjustmentState {
    pub const ALL: [AdjustmentState; 4] = [
        AdjustmentState::Requested,
        AdjustmentState::Accepting,
        AdjustmentState::Accepted,
        AdjustmentState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentState::Requested => "requested",
            AdjustmentState::Accepting => "accepting",
            AdjustmentState::Accepted => "accepted",
            AdjustmentState::Rejected => "rejected",
        }
    }

    pub fn parse(name: &str) -> Option<AdjustmentState> {
        AdjustmentState::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A disputed receipt line.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustmentRow {
    pub id: String,
    pub trip_id: String,
    /// 0, 1, 2, ... within the trip: two adjustments decided on the same reading of the receipt
    /// cannot both be written (the second is refused as `Duplicate("adjustment_seq")`).
    pub seq: i64,
    pub merchant_id: MerchantId,
    pub product: String,
    pub quantity: i64,
    pub amount: Amount,
    pub reason: String,
    pub status: AdjustmentState,
    pub refund_id: Option<String>,
    pub created: i64,
}

#[async_trait]
pub trait TripStore: Send + Sync {
    /// The venue's walk-out settings, if it is a walk-out store.
    async fn walk_out(
        &self,
        merchant_id: &MerchantId,
        venue_id: &str,
    ) -> StoreResult<Option<WalkOutRow>>;
    /// A new trip (`opening`) with the payment that will carry its hold, and the payment's
    /// event. A second live trip of the same person at the same venue is refused
    /// (`StoreError::Duplicate("one_live_trip")`).
    async fn insert_trip(
        &self,
        t: &TripRow,
        hold: &PaymentRow,
        event: &EventRow,
    ) -> StoreResult<()>;
    async fn trip(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<TripRow>>;
    /// A trip by id alone: only for a caller holding a capability for it (a receipt link).
    async fn trip_anywhere(&self, id: &str) -> StoreResult<Option<TripRow>>;
    /// The merchant's trips, paged by id (descending).
    async fn trips(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<TripRow>>;
    /// The person's trip at the venue that is `opening` or `open`, if any.
    async fn live_trip(&self, venue_id: &str, person_id: &PersonId)
    -> StoreResult<Option<TripRow>>;
    /// Every trip of the person that is `opening`, `open` or `completing`, at any store.
    async fn live_trips_of(&self, person_id: &PersonId) -> StoreResult<Vec<TripRow>>;
    /// Writes the trip if it is still in state `from`, with an event (a webhook) if given.
    async fn update_trip(
        &self,
        t: &TripRow,
        from: TripState,
        event: Option<&EventRow>,
    ) -> StoreResult<bool>;
    /// Records an item event while its trip is `open`: the trip row is locked first, so an exit
    /// that freezes the basket waits for the event, or the event sees the trip closed.
    async fn add_item_event(&self, e: &ItemEventRow) -> StoreResult<EventAdded>;
    /// The trip's item events, in the order they happened.
    async fn item_events(&self, trip_id: &str) -> StoreResult<Vec<ItemEventRow>>;
    /// Trips in `status` last changed before `before` (timeouts, and trips a crash left
    /// half-way), oldest first, at most `limit`.
    async fn stale_trips(
        &self,
        status: TripState,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<TripRow>>;
    /// A new adjustment (see [`AdjustmentRow::seq`]).
    async fn insert_adjustment(&self, a: &AdjustmentRow) -> StoreResult<()>;
    async fn adjustments(&self, trip_id: &str) -> StoreResult<Vec<AdjustmentRow>>;
    /// Writes the adjustment if its status is still `from`.
    async fn update_adjustment(
        &self,
        a: &AdjustmentRow,
        from: AdjustmentState,
    ) -> StoreResult<bool>;
}
