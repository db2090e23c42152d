//! Receipts of walk-out trips: for the merchant (`GET /v1/shopping_trips/{id}/receipt`) and for
//! the person, through a link that carries a capability instead of a credential
//! (`/kiosk/receipt.html#receipt=<token>`: the trip id and a 128-bit keyed MAC of it, which only
//! this deployment's fingerprint key makes), from which they may dispute a line.

use crate::Service;
use crate::basket::Line;
use crate::error::{Result, ServiceError};
use crate::ids::MerchantId;
use crate::trip_store::AdjustmentRow;
use crate::trip_store::{TripRow, TripState};

const RECEIPT: &str = "receipt";

/// A completed trip's receipt: its lines and totals, the card charged, what was refunded and
/// the lines disputed.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub trip: TripRow,
    /// The store's (venue's) name.
    pub store: String,
    pub lines: Vec<Line>,
    pub refunded: crate::money::Amount,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub adjustments: Vec<AdjustmentRow>,
}

impl Service {
    /// `GET /v1/shopping_trips/{id}/receipt`: once the trip is completed.
    pub async fn receipt(&self, merchant_id: &MerchantId, id: &str) -> Result<Receipt> {
        let t = self.load_trip(merchant_id, id).await?;
        if t.status != TripState::Completed {
            return Err(ServiceError::conflict(
                "receipt_not_ready",
                format!(
                    "the trip is {}; its receipt is ready once it is completed",
                    t.status.as_str()
                ),
            ));
        }
        let p = self.load_payment(merchant_id, &t.payment_id).await?;
        let store = self
            .store
            .venue(merchant_id, &t.venue_id)
            .await?
            .map(|v| v.name)
            // Venues are never deleted and a trip's venue is a foreign key: a missing one is a
            // damaged store, not a receipt without a name.
            .ok_or_else(|| ServiceError::internal("the trip's venue is missing"))?;
        let view = self.trip_view(&t).await?;
        let adjustments = self.store.adjustments(&t.id).await?;
        Ok(Receipt {
            store,
            lines: view.basket,
            refunded: p.amount_refunded,
            card_brand: p.card_brand,
            card_last4: p.card_last4,
            adjustments,
            trip: t,
        })
    }

    /// The receipt link's token for a trip.
    pub(crate) fn receipt_token(&self, trip_id: &str) -> String {
        format!(
            "{trip_id}.{}",
            self.fingerprinter.capability(RECEIPT, trip_id)
        )
    }

    /// The trip a receipt token opens; any token this deployment did not make opens nothing
    /// (the same answer whatever is wrong with it).
    async fn trip_by_token(&self, token: &str) -> Result<TripRow> {
        let unknown = || ServiceError::not_found("receipt");
        let (trip_id, mac) = token.split_once('.').ok_or_else(unknown)?;
        if !self.fingerprinter.check_capability(RECEIPT, trip_id, mac) {
            return Err(unknown());
        }
        self.store.trip_anywhere(trip_id).await?.ok_or_else(unknown)
    }

    /// `GET /v1/receipts/{token}`: the person's receipt, from their link.
    pub async fn receipt_by_token(&self, token: &str) -> Result<Receipt> {
        let t = self.trip_by_token(token).await?;
        self.receipt(&t.merchant_id, &t.id).await
    }

    /// `POST /v1/receipts/{token}/adjustments`: the person disputes a line of their receipt.
    pub async fn dispute_by_token(
        &self,
        token: &str,
        req: crate::adjustments::DisputedLine,
    ) -> Result<AdjustmentRow> {
        let t = self.trip_by_token(token).await?;
        if t.status != TripState::Completed {
            return Err(ServiceError::not_found("receipt"));
        }
        self.request_adjustment(&t.merchant_id, &t.id, req).await
    }
}
