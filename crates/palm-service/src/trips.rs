//! Walk-out shopping: a palm at a walk-out store's entry gate opens a shopping trip with a hold on
//! the person's card; the store's own sensor system reports what they take and put back; at the
//! exit the basket is totalled and charged (`trip_money.rs`), and the receipt is ready.
//!
//! States: `opening -> open -> completing -> completed | requires_action`, or `opening ->
//! declined` when the hold is refused. Every change is a compare-and-set on the state; the basket
//! is frozen by the move to `completing`, which waits for any event being written (the store locks
//! the trip row for both).

use crate::basket::Basket;
use crate::basket::Line;
use crate::domain::{check_text, new_id};
use crate::error::{ErrorKind, Result, ServiceError, StoreError};
use crate::events::EventObject;
use crate::identify::Hover;
use crate::ids::{MerchantId, PaymentId};
use crate::money::{Amount, Currency};
use crate::payment_state::{CaptureMethod, PaymentStatus};
use crate::presented::{Direction, GateScan, GateVerdict, Presentation};
use crate::store::{GateRow, NewWalkOut, Page, PaymentRow, PersonRow, TillRow, WalkOutRow};
use crate::trip_store::{EventAdded, ItemEventRow, ItemKind, TripRow, TripState};
use crate::views::Listed;
use crate::{Service, domain::new_secret, domain::secret_hash};

/// Most people one palm brings in.
const MAX_PARTY: i64 = 10;
/// Most of one product in one event.
const MAX_QUANTITY: i64 = 1000;
/// Highest tax rate a store may set: 50%.
const MAX_TAX_BPS: i64 = 5000;
/// Most item events one trip takes (a basket of hundreds of products, each taken and put back
/// a few times).
const MAX_EVENTS: usize = 5000;

/// A trip with its basket as it stands: while the trip is open its totals are the basket's
/// running ones, frozen into the trip at exit.
#[derive(Debug, Clone, PartialEq)]
pub struct TripView {
    pub trip: TripRow,
    pub basket: Vec<Line>,
    /// The person's receipt link, once the trip is completed.
    pub receipt_link: Option<String>,
}

impl TripView {
    /// A trip without its basket's lines.
    pub fn summary(t: &TripRow) -> TripView {
        TripView {
            trip: t.clone(),
            basket: vec![],
            receipt_link: None,
        }
    }
}

/// An item event as recorded, with the trip it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemEventRecorded {
    pub event: ItemEventRow,
    /// The event id had been recorded before (a resend): nothing changed.
    pub duplicate: bool,
    pub trip: TripView,
}

/// A walk-out store's settings, checked: the currency of its prices, the hold put on a card
/// at entry, the sales tax on the basket (0 to 50%, in basis points; 0 when prices include it).
#[derive(Clone, Debug, PartialEq)]
pub struct WalkOut {
    pub currency: Currency,
    pub hold: Amount,
    pub tax_rate_bps: i64,
}

impl WalkOut {
    pub fn new(currency: &str, hold: i64, tax_rate_bps: i64) -> Result<WalkOut> {
        let currency = Currency::parse(currency)?;
        let hold = Amount::parse(hold, "walk_out.hold", false)?;
        if !(0..=MAX_TAX_BPS).contains(&tax_rate_bps) {
            return Err(ServiceError::invalid(
                "invalid_tax_rate",
                format!("walk_out.tax_rate_bps must be from 0 to {MAX_TAX_BPS} (50%)"),
            )
            .with_param("walk_out.tax_rate_bps"));
        }
        Ok(WalkOut {
            currency,
            hold,
            tax_rate_bps,
        })
    }
}

/// An item taken or put back, as a store's sensor system reports it, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemReport {
    /// The store system's id for the event (1 to 100 characters).
    pub id: String,
    pub kind: ItemKind,
    pub product: String,
    /// The name the receipt shows.
    pub name: String,
    pub quantity: i64,
    pub unit_price: Amount,
    /// The sensor's confidence, 0 to 1.
    pub confidence: f64,
    /// When it happened (Unix milliseconds); when it arrived if not said.
    pub occurred_ms: Option<i64>,
}

impl ItemReport {
    /// What happened to which product: `kind` is `take` or `put_back`. One of it at no price,
    /// fully sure, now, until [`ItemReport::counted`] and [`ItemReport::sensed`] say otherwise.
    pub fn new(id: &str, kind: &str, product: &str, name: &str) -> Result<ItemReport> {
        let kind = ItemKind::parse(kind).ok_or_else(|| {
            ServiceError::invalid("invalid_value", "kind must be one of: take, put_back")
                .with_param("kind")
        })?;
        Ok(ItemReport {
            id: check_text(id, "id", 100)?,
            kind,
            product: check_text(product, "product", 100)?,
            name: check_text(name, "name", 200)?,
            quantity: 1,
            unit_price: Amount::ZERO,
            confidence: 1.0,
            occurred_ms: None,
        })
    }

    /// How many (1 to 1000) at what price of one (minor units of the store's currency).
    pub fn counted(self, quantity: i64, unit_price: i64) -> Result<ItemReport> {
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(ServiceError::invalid(
                "invalid_quantity",
                format!("quantity must be from 1 to {MAX_QUANTITY}"),
            )
            .with_param("quantity"));
        }
        Ok(ItemReport {
            quantity,
            unit_price: Amount::parse(unit_price, "unit_price", true)?,
            ..self
        })
    }

    /// The sensor's confidence (default 1) and when it happened (default: on arrival).
    pub fn sensed(self, confidence: Option<f64>, occurred_ms: Option<i64>) -> Result<ItemReport> {
        let confidence = confidence.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&confidence) {
            return Err(ServiceError::invalid(
                "invalid_confidence",
                "confidence must be from 0 to 1",
            )
            .with_param("confidence"));
        }
        if occurred_ms.is_some_and(|ms| ms < 0) {
            return Err(ServiceError::invalid(
                "invalid_time",
                "occurred_ms must be Unix milliseconds",
            )
            .with_param("occurred_ms"));
        }
        Ok(ItemReport {
            confidence,
            occurred_ms,
            ..self
        })
    }
}

pub(crate) fn decision(
    allowed: bool,
    reason: &str,
    person: Option<&PersonRow>,
    trip: Option<&str>,
) -> GateVerdict {
    GateVerdict {
        allowed,
        reason: reason.to_string(),
        person: person.map(|p| p.id.clone()),
        trip: trip.map(str::to_string),
    }
}

/// A palm at a walk-out store's entry gate, opening a shopping trip.
#[derive(Clone, Debug)]
pub struct TripEntry {
    pub presented: Presentation,
    /// The last four digits of the phone, when the gate asked for a hint.
    pub phone_last4: Option<String>,
    /// How many people enter on this palm (one trip, one basket, one card).
    pub party_size: i64,
}

impl TripEntry {
    /// Checks the party: from 1 (the default) to [`MAX_PARTY`].
    pub fn new(
        presented: Presentation,
        phone_last4: Option<String>,
        party_size: Option<i64>,
    ) -> Result<TripEntry> {
        let party_size = party_size.unwrap_or(1);
        if !(1..=MAX_PARTY).contains(&party_size) {
            return Err(ServiceError::invalid(
                "invalid_party_size",
                format!("party_size must be from 1 to {MAX_PARTY}"),
            )
            .with_param("party_size"));
        }
        Ok(TripEntry {
            presented,
            phone_last4,
            party_size,
        })
    }
}

impl Service {
    /// The person a gate's capture belongs to, or the red decision the gate shows when the palm
    /// names no one (a decision, not an error: anything about the person is an answer).
    pub(crate) async fn gate_person(
        &self,
        hover: Hover,
        hint: Option<&str>,
    ) -> Result<std::result::Result<PersonRow, GateVerdict>> {
        match self.identify_hover(hover, hint).await {
            Ok(p) => Ok(Ok(p)),
            Err(e) if matches!(e.kind, ErrorKind::Palm | ErrorKind::NotRecognised) => {
                Ok(Err(decision(false, e.code, None, None)))
            }
            Err(e) => Err(e),
        }
    }

    /// The walk-out part of a new venue: its settings checked, and the till its holds are
    /// payments at (a till whose credential is never shown, so nothing else can use it).
    pub(crate) fn new_walk_out(
        &self,
        merchant_id: &MerchantId,
        venue_id: &str,
        venue_name: &str,
        s: &WalkOut,
    ) -> Result<NewWalkOut> {
        let till = TillRow {
            id: new_id("till"),
            merchant_id: merchant_id.clone(),
            store_name: venue_name.to_string(),
            name: "walk-out".into(),
            secret_hash: secret_hash(&new_secret("tk")?),
        };
        Ok(NewWalkOut {
            settings: WalkOutRow {
                venue_id: venue_id.to_string(),
                merchant_id: merchant_id.clone(),
                till_id: till.id.clone(),
                currency: s.currency,
                hold: s.hold,
                tax_rate_bps: s.tax_rate_bps,
            },
            till,
        })
    }

    /// The gate's venue's walk-out settings, if it is a walk-out store.
    pub(crate) async fn gate_walk_out(&self, gate: &GateRow) -> Result<Option<WalkOutRow>> {
        Ok(self
            .store
            .walk_out(&gate.merchant_id, &gate.venue_id)
            .await?)
    }

    /// `POST /v1/shopping_trips`: a palm at a walk-out store's entry gate.
    pub async fn open_trip(&self, gate: &GateRow, req: TripEntry) -> Result<GateVerdict> {
        let walk_out = self.gate_walk_out(gate).await?.ok_or_else(|| {
            ServiceError::conflict(
                "not_walk_out",
                "this gate's venue is not a walk-out store; scan at /v1/gate/scans",
            )
        })?;
        let hover = self
            .open_presentation(&req.presented, "shopping_trip", &gate.id)
            .await?;
        self.enter_store(
            gate,
            &walk_out,
            hover,
            req.phone_last4.as_deref(),
            req.party_size,
        )
        .await
    }

    /// A gate scan at a walk-out store: `in` opens a trip, `out` ends the person's open one.
    pub(crate) async fn walk_out_scan(
        &self,
        gate: &GateRow,
        walk_out: &WalkOutRow,
        req: GateScan,
    ) -> Result<GateVerdict> {
        let leaving = req.direction == Direction::Out;
        let hover = self
            .open_presentation(&req.presented, "gate_scan", &format!("{}/", gate.id))
            .await?;
        let hint = req.phone_last4.as_deref();
        if !leaving {
            return self.enter_store(gate, walk_out, hover, hint, 1).await;
        }
        let person = match self.gate_person(hover, hint).await? {
            Ok(p) => p,
            Err(red) => return Ok(red),
        };
        let Some(trip) = self.store.live_trip(&gate.venue_id, &person.id).await? else {
            return Ok(decision(true, "goodbye", Some(&person), None));
        };
        if trip.status == TripState::Open {
            self.close_trip(trip.clone(), "gate").await?;
        }
        Ok(decision(true, "goodbye", Some(&person), Some(&trip.id)))
    }

    async fn enter_store(
        &self,
        gate: &GateRow,
        walk_out: &WalkOutRow,
        hover: Hover,
        hint: Option<&str>,
        party_size: i64,
    ) -> Result<GateVerdict> {
        let person = match self.gate_person(hover, hint).await? {
            Ok(p) => p,
            Err(red) => return Ok(red),
        };
        self.audit(&person.id, &gate.id, "shopping_trip").await?;
        if let Some(live) = self.store.live_trip(&gate.venue_id, &person.id).await? {
            return Ok(welcome_back(&person, &live));
        }
        let cards = self.store.cards_of(&person.id).await?;
        let card = match self.pick_card(&person, &cards, None) {
            Ok(c) => c.clone(),
            Err(e) => return Ok(decision(false, e.code, Some(&person), None)),
        };
        let now = self.now_s();
        let trip_id = new_id("trip");
        let hold = PaymentRow {
            reference: Some(format!("shopping trip {trip_id}")),
            person_id: Some(person.id.clone()),
            ..PaymentRow::new(
                PaymentId::generate(),
                walk_out.merchant_id.clone(),
                walk_out.till_id.clone(),
                walk_out.hold,
                walk_out.currency,
                CaptureMethod::Manual,
                PaymentStatus::RequiresConfirmation,
                now,
            )
        };
        let mut trip = TripRow {
            id: trip_id,
            merchant_id: walk_out.merchant_id.clone(),
            venue_id: gate.venue_id.clone(),
            gate_id: gate.id.clone(),
            person_id: Some(person.id.clone()),
            party_size,
            status: TripState::Opening,
            payment_id: hold.id.clone(),
            currency: walk_out.currency,
            hold: walk_out.hold,
            tax_rate_bps: walk_out.tax_rate_bps,
            subtotal: Amount::ZERO,
            tax: Amount::ZERO,
            total: Amount::ZERO,
            charged: Amount::ZERO,
            opened: now,
            closed: None,
            closed_by: None,
            decline_code: None,
            updated: now,
        };
        let created = self.payment_event(&hold, "payment.created", EventObject::Payment(&hold))?;
        match self.store.insert_trip(&trip, &hold, &created).await {
            Err(StoreError::Duplicate(rule)) if rule.contains("one_live_trip") => {
                // The same person entering twice at once: the other scan opened it.
                if let Some(live) = self.store.live_trip(&gate.venue_id, &person.id).await? {
                    return Ok(welcome_back(&person, &live));
                }
                return Err(ServiceError::conflict(
                    "trip_changed",
                    "another scan changed this person's trip; scan again",
                ));
            }
            other => other?,
        }
        self.webhook_wake.notify_one();
        let paid = self.authorize(hold, &person, &card).await?;
        let (to, answer) = match &paid.status {
            PaymentStatus::RequiresCapture(_) => (
                TripState::Open,
                decision(true, "welcome", Some(&person), Some(&trip.id)),
            ),
            PaymentStatus::Failed { decline_code, .. } => {
                trip.decline_code = Some(decline_code.clone());
                (
                    TripState::Declined,
                    decision(false, "card_declined", Some(&person), Some(&trip.id)),
                )
            }
            // The processor has not answered: the gate stays closed; the reconciler releases
            // the hold if it was placed after all (`settle_trips`).
            _ => {
                return Ok(decision(
                    false,
                    "card_unavailable",
                    Some(&person),
                    Some(&trip.id),
                ));
            }
        };
        trip.status = to;
        trip.updated = self.now_s();
        if !self
            .store
            .update_trip(&trip, TripState::Opening, None)
            .await?
        {
            return Err(ServiceError::conflict(
                "trip_changed",
                "the trip was changed by another request; fetch it",
            ));
        }
        Ok(answer)
    }

    pub(crate) async fn load_trip(&self, merchant_id: &MerchantId, id: &str) -> Result<TripRow> {
        self.store
            .trip(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("shopping trip"))
    }

    /// A trip with its basket as it stands (frozen once the trip has left `open`).
    pub async fn trip(&self, merchant_id: &MerchantId, id: &str) -> Result<TripView> {
        let t = self.load_trip(merchant_id, id).await?;
        self.trip_view(&t).await
    }

    pub(crate) async fn trip_view(&self, t: &TripRow) -> Result<TripView> {
        let events = self.store.item_events(&t.id).await?;
        Ok(self.view_of(t, &events))
    }

    /// A trip with the basket its item events make.
    fn view_of(&self, t: &TripRow, events: &[ItemEventRow]) -> TripView {
        let mut view = TripView::summary(t);
        if t.status == TripState::Completed {
            view.receipt_link = Some(format!(
                "/kiosk/receipt.html#receipt={}",
                self.receipt_token(&t.id)
            ));
        }
        // A basket too large for one payment shows no lines: the trip (`requires_action`,
        // `basket_too_large`) says why.
        if let Ok(b) = Basket::from_events(events, t.tax_rate_bps) {
            if t.status == TripState::Open {
                // The running totals; frozen into the trip at exit.
                view.trip.subtotal = b.subtotal;
                view.trip.tax = b.tax;
                view.trip.total = b.total;
            }
            view.basket = b.lines;
        }
        view
    }

    /// The merchant's trips, newest first (without their baskets: fetch one for that).
    pub async fn trips(&self, merchant_id: &MerchantId, page: &Page) -> Result<Listed<TripView>> {
        crate::paged(
            page,
            async |pg| self.store.trips(merchant_id, pg).await,
            TripView::summary,
        )
        .await
    }

    /// `POST /v1/shopping_trips/{id}/events`: an item taken or put back.
    pub async fn record_item_event(
        &self,
        merchant_id: &MerchantId,
        trip_id: &str,
        req: ItemReport,
    ) -> Result<ItemEventRecorded> {
        let trip = self.load_trip(merchant_id, trip_id).await?;
        let row = self.item_event_row(&trip, &req)?;
        let mut known = self.store.item_events(&trip.id).await?;
        // A resend is answered as recorded even after the exit (the store's system may not have
        // heard the first answer); a new event then is refused.
        if let Some(before) = known.iter().find(|e| e.event_id == row.event_id) {
            same_event(before, &row)?;
            return Ok(ItemEventRecorded {
                event: before.clone(),
                duplicate: true,
                trip: self.view_of(&trip, &known),
            });
        }
        if trip.status != TripState::Open {
            return Err(trip_closed(&trip));
        }
        if known.len() >= MAX_EVENTS {
            return Err(ServiceError::conflict(
                "too_many_events",
                format!("a trip takes at most {MAX_EVENTS} item events"),
            ));
        }
        if let Some(other) = known
            .iter()
            .find(|e| e.product == row.product && e.unit_price != row.unit_price)
        {
            return Err(ServiceError::conflict(
                "price_mismatch",
                format!(
                    "product {} has unit_price {} in this trip already",
                    other.product,
                    other.unit_price.minor_units()
                ),
            )
            .with_param("unit_price"));
        }
        match self.store.add_item_event(&row).await? {
            EventAdded::Added => {
                let event = row.clone();
                known.push(row);
                Ok(ItemEventRecorded {
                    event,
                    duplicate: false,
                    trip: self.view_of(&trip, &known),
                })
            }
            // Recorded by a request racing this one: its basket is read again.
            EventAdded::Duplicate(before) => {
                same_event(&before, &row)?;
                Ok(ItemEventRecorded {
                    event: before.clone(),
                    duplicate: true,
                    trip: self.trip_view(&trip).await?,
                })
            }
            EventAdded::TripNotOpen => {
                let now = self.load_trip(merchant_id, trip_id).await?;
                Err(trip_closed(&now))
            }
        }
    }

    fn item_event_row(&self, trip: &TripRow, e: &ItemReport) -> Result<ItemEventRow> {
        let received = self.now_s();
        Ok(ItemEventRow {
            trip_id: trip.id.clone(),
            event_id: e.id.clone(),
            kind: e.kind,
            product: e.product.clone(),
            name: e.name.clone(),
            quantity: e.quantity,
            unit_price: e.unit_price,
            confidence: e.confidence,
            occurred_ms: e.occurred_ms.unwrap_or(received * 1000),
            received,
        })
    }

    /// `POST /v1/shopping_trips/{id}/exit`: the store's system saw the shopper leave. Exiting a
    /// trip that already left `open` answers the trip as it stands.
    pub async fn exit_trip(&self, merchant_id: &MerchantId, id: &str) -> Result<TripView> {
        let t = self.load_trip(merchant_id, id).await?;
        let t = match t.status {
            TripState::Open => self.close_trip(t, "exit").await?,
            TripState::Completing => self.settle_trip(t).await?,
            TripState::Opening | TripState::Declined => {
                return Err(ServiceError::conflict(
                    "trip_not_open",
                    format!("the trip is {}; it never opened", t.status.as_str()),
                ));
            }
            _ => t,
        };
        self.trip_view(&t).await
    }
}

fn welcome_back(person: &PersonRow, live: &TripRow) -> GateVerdict {
    if live.status == TripState::Open {
        decision(true, "welcome_back", Some(person), Some(&live.id))
    } else {
        // Its hold is still being placed by another scan.
        decision(false, "card_unavailable", Some(person), Some(&live.id))
    }
}

/// An event id seen before: the same event again is answered as recorded (whenever it arrives);
/// another event under the same id is refused.
fn same_event(before: &ItemEventRow, now: &ItemEventRow) -> Result<()> {
    let same = ItemEventRow {
        received: before.received,
        occurred_ms: before.occurred_ms,
        ..now.clone()
    };
    if same != *before {
        return Err(ServiceError::conflict(
            "event_id_reused",
            "another event was recorded under this id",
        )
        .with_param("id"));
    }
    Ok(())
}

fn trip_closed(t: &TripRow) -> ServiceError {
    ServiceError::conflict(
        "trip_closed",
        format!(
            "the trip is {}; item events are taken only while it is open",
            t.status.as_str()
        ),
    )
}
