//! A shopping trip's money: at exit the basket is frozen, totalled and charged against the hold
//! placed at entry. An empty basket releases the hold; a basket within it is captured; a larger
//! one first raises the hold (an incremental authorisation) and ends `requires_action` if the
//! card refuses. Every processor call goes through the trip's payment and its idempotency keys,
//! so a crash or a timeout anywhere is finished by `settle_trips` without charging twice.

use crate::Service;
use crate::basket::Basket;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::events::EventObject;
use crate::money::Amount;
use crate::payment_input::Part;
use crate::payment_state::{PaymentState, PaymentStatus};
use crate::payments::{operation_key, processor_unknown};
use crate::processor::Outcome;
use crate::trip_store::{TripRow, TripState};

/// How many stale trips one housekeeping round looks at per state.
const SETTLE_BATCH: i64 = 200;

impl Service {
    /// Freezes an open trip's basket (`closed_by`: `exit`, `gate`, `timeout`, `deletion`) and
    /// charges it.
    pub(crate) async fn close_trip(&self, mut t: TripRow, closed_by: &str) -> Result<TripRow> {
        let now = self.now_s();
        t.status = TripState::Completing;
        t.closed = Some(now);
        t.closed_by = Some(closed_by.to_string());
        t.updated = now;
        if !self.store.update_trip(&t, TripState::Open, None).await? {
            // Another exit got there first: settle from where it stands.
            let now = self.load_trip(&t.merchant_id, &t.id).await?;
            return match now.status {
                TripState::Completing => self.settle_trip(now).await,
                _ => Ok(now),
            };
        }
        self.settle_trip(t).await
    }

    /// Charges a `completing` trip's frozen basket and completes it. Safe to run again (after a
    /// timeout or a crash): every step is keyed by the payment, and the last one is a
    /// compare-and-set.
    pub(crate) async fn settle_trip(&self, mut t: TripRow) -> Result<TripRow> {
        let events = self.store.item_events(&t.id).await?;
        let basket = match Basket::from_events(&events, t.tax_rate_bps) {
            Ok(b) => b,
            Err(_) => return self.needs_action(t, "basket_too_large").await,
        };
        t.subtotal = basket.subtotal;
        t.tax = basket.tax;
        t.total = basket.total;
        let mut p = self.load_payment(&t.merchant_id, &t.payment_id).await?;
        if let PaymentStatus::RequiresCapture(hold) = &p.status
            && t.total > p.charge_amount()
        {
            // Raise the hold first: an incremental authorisation for the whole basket.
            let total = t.total;
            let key = operation_key(&p, &format!("increment:{total}"));
            let charge = hold.charge_ref.clone();
            match self
                .call_processor(&key, || self.processor.increment(&key, &charge, total))
                .await?
            {
                None => return Err(processor_unknown()),
                Some(Outcome::Declined { code }) => return self.needs_action(t, &code).await,
                Some(Outcome::Approved { .. }) => {
                    p.amount = total;
                    self.save(&mut p, PaymentState::RequiresCapture, "payment.updated")
                        .await?;
                }
            }
        }
        // What the card was charged: nothing for an empty basket, the basket once captured, or
        // what an earlier run (or the payments' reconciler) captured.
        t.charged = match p.status.state() {
            PaymentState::RequiresCapture if t.total.is_zero() => {
                self.cancel_payment(&t.merchant_id, &p.id, None).await?;
                Amount::ZERO
            }
            PaymentState::RequiresCapture => {
                match self
                    .capture_payment(&t.merchant_id, &p.id, Part::exactly(t.total))
                    .await
                {
                    Ok(_) => t.total,
                    Err(e) if e.kind == ErrorKind::Card => {
                        let code = e.decline_code.clone().unwrap_or_else(|| e.code.to_string());
                        return self.needs_action(t, &code).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            PaymentState::Succeeded | PaymentState::Canceled => p.amount_captured,
            _ => return self.needs_action(t, "hold_unavailable").await,
        };
        self.finish_trip(t, TripState::Completed).await
    }

    /// The trip cannot be charged as it stands: the merchant settles it (the hold stays on the
    /// payment, which the merchant may capture or cancel).
    async fn needs_action(&self, mut t: TripRow, code: &str) -> Result<TripRow> {
        t.decline_code = Some(code.to_string());
        self.finish_trip(t, TripState::RequiresAction).await
    }

    /// Moves a `completing` trip to its end state with its webhook (`shopping_trip.completed`
    /// or `shopping_trip.requires_action`); if another run moved it first, that one stands.
    async fn finish_trip(&self, mut t: TripRow, to: TripState) -> Result<TripRow> {
        t.status = to;
        t.updated = self.now_s();
        let kind = match to {
            TripState::Completed => "shopping_trip.completed",
            _ => "shopping_trip.requires_action",
        };
        let event =
            self.object_event(&t.merchant_id, &t.id, kind, EventObject::ShoppingTrip(&t))?;
        if self
            .store
            .update_trip(&t, TripState::Completing, Some(&event))
            .await?
        {
            self.webhook_wake.notify_one();
            if to == TripState::RequiresAction {
                tracing::warn!(trip = %t.id, code = ?t.decline_code, "shopping trip needs the merchant");
            }
            return Ok(t);
        }
        self.load_trip(&t.merchant_id, &t.id).await
    }

    /// Housekeeping: closes trips left open with no item event for `trip_timeout_s` (with the basket as it
    /// stands; the merchant is told by the trip's webhook, `closed_by: timeout`), finishes
    /// trips a crash or a slow processor left `completing`, and settles trips whose hold was
    /// still unknown when the gate answered (the hold is released: the person was turned away).
    /// Returns how many trips it moved.
    pub async fn settle_trips(&self) -> Result<usize> {
        let now = self.now_s();
        let stale =
            now - (self.config.processor_timeout + self.config.outcome_wait).as_secs() as i64;
        let mut moved = 0;
        let abandoned = now - self.config.trip_timeout_s;
        for t in self
            .store
            .stale_trips(TripState::Open, abandoned, SETTLE_BATCH)
            .await?
        {
            if self.close_trip(t, "timeout").await.is_ok() {
                moved += 1;
            }
        }
        for t in self
            .store
            .stale_trips(TripState::Completing, stale, SETTLE_BATCH)
            .await?
        {
            if self.settle_trip(t).await.is_ok() {
                moved += 1;
            }
        }
        for t in self
            .store
            .stale_trips(TripState::Opening, stale, SETTLE_BATCH)
            .await?
        {
            if self.turn_away(t).await.is_ok() {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// An `opening` trip whose gate said `card_unavailable`: once its hold is settled, it is
    /// released and the trip declined.
    async fn turn_away(&self, mut t: TripRow) -> Result<()> {
        let p = self.load_payment(&t.merchant_id, &t.payment_id).await?;
        match p.status.state() {
            PaymentState::RequiresCapture => {
                self.cancel_payment(&t.merchant_id, &p.id, None).await?;
                t.decline_code = Some("processing_error".into());
            }
            PaymentState::Failed | PaymentState::Canceled => {
                t.decline_code = Some(
                    p.status
                        .decline_code()
                        .unwrap_or("processing_error")
                        .to_string(),
                );
            }
            _ => {
                return Err(ServiceError::conflict(
                    "hold_pending",
                    "the hold's outcome is not known yet",
                ));
            }
        }
        t.status = TripState::Declined;
        t.updated = self.now_s();
        self.store.update_trip(&t, TripState::Opening, None).await?;
        Ok(())
    }
}
