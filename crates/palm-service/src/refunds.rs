//! Refunds of a captured payment: the amount is reserved first (so concurrent refunds cannot
//! exceed what was captured), then sent to the processor under the refund's own id; an answer
//! that does not come in time leaves the refund `pending` for the reconciler (payments.rs).

use crate::Service;
use crate::domain::new_id;
use crate::error::{Result, ServiceError};
use crate::events::EventObject;
use crate::ids::{MerchantId, PaymentId};
use crate::payment_input::NewRefund;
use crate::payment_state::{PaymentState as S, PaymentStatus, RefundState};
use crate::payments::state_error;
use crate::processor::Outcome;
use crate::store::{KeyedRequest, PaymentRow, RefundRow};

impl Service {
    pub async fn refund_payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
        req: NewRefund,
        origin: Option<&KeyedRequest>,
    ) -> Result<RefundRow> {
        let p = self.load_payment(merchant_id, id).await?;
        if let Some(refund_id) = self.created_before(origin).await? {
            let refunds = self.store.refunds_of(&p.id).await?;
            if let Some(r) = refunds.iter().find(|r| r.id == refund_id) {
                return Ok(r.clone());
            }
        }
        let PaymentStatus::Succeeded(captured) = &p.status else {
            return Err(state_error(&p, &[S::Succeeded]));
        };
        let charge = captured.charge_ref.clone();
        let left = p.amount_captured.saturating_sub(p.amount_refunded);
        let amount = req.amount.of(left, |left| {
            format!("refund amount must be from 1 to the {left} not yet refunded")
        })?;
        let mut r = RefundRow {
            id: new_id("re"),
            payment_id: p.id.clone(),
            merchant_id: merchant_id.clone(),
            amount,
            status: RefundState::Pending,
            reason: req.reason,
            processor_ref: None,
            created: self.now_s(),
        };
        if !self.store.reserve_refund(&r, self.now_s(), origin).await? {
            return Err(ServiceError::conflict(
                "refund_exceeds_payment",
                "another refund took what was left to refund; fetch the payment",
            ));
        }
        let outcome = self
            .call_processor(&r.id, || self.processor.refund(&r.id, &charge, amount))
            .await?;
        match outcome {
            Some(o) => self.settle_refund(&p, &mut r, o).await,
            // Unknown for now: the refund stays pending and the reconciler settles it.
            None => Ok(r),
        }
    }

    /// Records a refund's outcome with its event and the points it takes back.
    pub(crate) async fn settle_refund(
        &self,
        p: &PaymentRow,
        r: &mut RefundRow,
        outcome: Outcome,
    ) -> Result<RefundRow> {
        let kind = match outcome {
            Outcome::Approved { reference } => {
                r.status = RefundState::Succeeded;
                r.processor_ref = Some(reference);
                "refund.succeeded"
            }
            Outcome::Declined { .. } => {
                r.status = RefundState::Failed;
                "refund.failed"
            }
        };
        let event = self.payment_event(p, kind, EventObject::Refund(r))?;
        let points = if r.status == RefundState::Succeeded {
            self.refund_points(p, &r.id, r.amount).await?
        } else {
            vec![]
        };
        self.store.settle_refund(r, &event, &points).await?;
        self.webhook_wake.notify_one();
        Ok(r.clone())
    }

    pub async fn refunds(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> Result<Vec<RefundRow>> {
        self.load_payment(merchant_id, id).await?;
        Ok(self.store.refunds_of(id).await?)
    }
}
