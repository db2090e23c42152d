//! Receipts of walk-out trips: for the merchant (`GET /v1/shopping_trips/{id}/receipt`) and for
//! the person, through a link that carries a capability instead of a credential
//! (`/kiosk/receipt.html#receipt=<token>`: the trip id and a 128-bit keyed MAC of it, which only
//! this deployment's fingerprint key makes), from which they may dispute a line.

use crate::Service;
use crate::error::{Result, ServiceError};
use crate::ids::MerchantId;
use crate::trip_store::{TripRow, TripState};
use palm_api as api;

const RECEIPT: &str = "receipt";

impl Service {
    /// `GET /v1/shopping_trips/{id}/receipt`: once the trip is completed.
    pub async fn receipt(&self, merchant_id: &MerchantId, id: &str) -> Result<api::Receipt> {
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
        Ok(api::Receipt {
            trip: t.id.clone(),
            store,
            lines: view.basket,
            currency: t.currency.as_str().to_string(),
            subtotal: t.subtotal.minor_units(),
            tax: t.tax.minor_units(),
            total: t.total.minor_units(),
            charged: t.charged.minor_units(),
            refunded: p.amount_refunded.minor_units(),
            card_brand: p.card_brand,
            card_last4: p.card_last4,
            opened: t.opened,
            closed: t.closed.unwrap_or(t.updated),
            adjustments: adjustments.iter().map(crate::views::adjustment).collect(),
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
    pub async fn receipt_by_token(&self, token: &str) -> Result<api::Receipt> {
        let t = self.trip_by_token(token).await?;
        self.receipt(&t.merchant_id, &t.id).await
    }

    /// `POST /v1/receipts/{token}/adjustments`: the person disputes a line of their receipt.
    pub async fn dispute_by_token(
        &self,
        token: &str,
        req: crate::adjustments::DisputedLine,
    ) -> Result<api::Adjustment> {
        let t = self.trip_by_token(token).await?;
        if t.status != TripState::Completed {
            return Err(ServiceError::not_found("receipt"));
        }
        self.request_adjustment(&t.merchant_id, &t.id, req).await
    }
}
