//! Disputed receipt lines of a walk-out trip: the person (through the merchant's support, or the
//! receipt) says an item on the receipt was not theirs; the merchant accepts (a partial refund of
//! the line's price and its tax) or rejects.
//!
//! An adjustment never refunds twice: accepting moves it `requested -> accepting` first (one
//! request wins), the refund carries the adjustment's id in its reason, and a retry of an
//! interrupted acceptance finds that refund instead of making another.

use crate::Service;
use crate::basket::{Basket, tax_on};
use crate::domain::{check_text, new_id};
use crate::error::{Result, ServiceError, StoreError};
use crate::ids::MerchantId;
use crate::money::Amount;
use crate::payment_input::{NewRefund, Part};
use crate::trip_store::{AdjustmentRow, AdjustmentState as A, TripState};

/// A receipt line disputed: which product, how many of the receipt's quantity (all when not
/// said), and why in the person's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputedLine {
    pub product: String,
    pub quantity: Option<i64>,
    pub reason: String,
}

/// The refund reason that names the adjustment it pays.
fn refund_reason(a: &AdjustmentRow) -> String {
    format!("adjustment {}", a.id)
}

impl Service {
    /// `POST /v1/shopping_trips/{id}/adjustments`: a line of a completed trip's receipt disputed.
    pub async fn request_adjustment(
        &self,
        merchant_id: &MerchantId,
        trip_id: &str,
        req: DisputedLine,
    ) -> Result<AdjustmentRow> {
        let t = self.load_trip(merchant_id, trip_id).await?;
        if t.status != TripState::Completed {
            return Err(ServiceError::conflict(
                "trip_not_completed",
                format!(
                    "the trip is {}; only a completed trip's receipt can be disputed",
                    t.status.as_str()
                ),
            ));
        }
        let reason = check_text(&req.reason, "reason", 500)?;
        let events = self.store.item_events(&t.id).await?;
        let basket = Basket::from_events(&events, t.tax_rate_bps)
            .map_err(|_| ServiceError::internal("a completed trip's basket could not be read"))?;
        let line = basket
            .lines
            .iter()
            .find(|l| l.product == req.product)
            .ok_or_else(|| {
                ServiceError::invalid("not_on_receipt", "the receipt has no line for this product")
                    .with_param("product")
            })?;
        let existing = self.store.adjustments(&t.id).await?;
        let disputed: i64 = existing
            .iter()
            .filter(|a| a.product == line.product && a.status != A::Rejected)
            .map(|a| a.quantity)
            .sum();
        let open = line.quantity - disputed;
        let quantity = req.quantity.unwrap_or(open);
        if open <= 0 || !(1..=open).contains(&quantity) {
            return Err(ServiceError::invalid(
                "invalid_quantity",
                format!("quantity must be from 1 to the {open} of this line not yet disputed"),
            )
            .with_param("quantity"));
        }
        let price = quantity * line.unit_price.minor_units();
        // The line's share of the charge, never more than is left of it to give back.
        let amount = Amount::stored(price + tax_on(price, t.tax_rate_bps))
            .ok_or_else(|| ServiceError::internal("a receipt line's price came out negative"))?
            .min(t.charged);
        let a = AdjustmentRow {
            id: new_id("adj"),
            trip_id: t.id.clone(),
            seq: existing.len() as i64,
            merchant_id: merchant_id.clone(),
            product: line.product.clone(),
            quantity,
            amount,
            reason,
            status: A::Requested,
            refund_id: None,
            created: self.now_s(),
        };
        match self.store.insert_adjustment(&a).await {
            Err(StoreError::Duplicate(_)) => Err(ServiceError::conflict(
                "adjustment_changed",
                "another adjustment of this trip was made at the same moment; try again",
            )),
            other => other.map_err(ServiceError::from),
        }?;
        Ok(a)
    }

    /// Accepts (refunds) or rejects a requested adjustment. Accepting one already accepted
    /// answers it as it stands.
    pub async fn decide_adjustment(
        &self,
        merchant_id: &MerchantId,
        trip_id: &str,
        id: &str,
        accept: bool,
    ) -> Result<AdjustmentRow> {
        let t = self.load_trip(merchant_id, trip_id).await?;
        let mut a = self
            .store
            .adjustments(&t.id)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| ServiceError::not_found("adjustment"))?;
        match (a.status, accept) {
            (A::Requested, false) => {
                a.status = A::Rejected;
                self.moved(&a, A::Requested).await?;
                return Ok(a);
            }
            (A::Requested, true) => {
                a.status = A::Accepting;
                self.moved(&a, A::Requested).await?;
            }
            (A::Accepting, true) => {}
            (A::Accepted, true) | (A::Rejected, false) => return Ok(a),
            (now, _) => {
                return Err(ServiceError::conflict(
                    "adjustment_decided",
                    format!("the adjustment is {} already", now.as_str()),
                ));
            }
        }
        let reason = refund_reason(&a);
        let earlier = self.store.refunds_of(&t.payment_id).await?;
        let refund_id = match earlier
            .iter()
            .find(|r| r.reason.as_deref() == Some(&reason))
        {
            Some(r) => r.id.clone(),
            None if a.amount.is_zero() => String::new(),
            None => {
                let refund = NewRefund {
                    amount: Part::exactly(a.amount),
                    reason: Some(reason),
                };
                self.refund_payment(merchant_id, &t.payment_id, refund, None)
                    .await?
                    .id
            }
        };
        a.refund_id = (!refund_id.is_empty()).then_some(refund_id);
        a.status = A::Accepted;
        self.moved(&a, A::Accepting).await?;
        Ok(a)
    }

    async fn moved(&self, a: &AdjustmentRow, from: A) -> Result<()> {
        if self.store.update_adjustment(a, from).await? {
            return Ok(());
        }
        Err(ServiceError::conflict(
            "adjustment_changed",
            "the adjustment was decided by another request; fetch the trip's receipt",
        ))
    }
}
