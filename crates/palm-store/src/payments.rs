//! Payments, refunds and their events. A payment change, its event and the event's webhook
//! deliveries (one per endpoint of the merchant: the outbox) commit together.

use crate::loyalty::apply_points;
use crate::{SqlStore, amount, changed_one, col, db_err, id_col, maybe_id_col, named, read_rows};
use async_trait::async_trait;
use palm_service::store::{
    CaptureMethod, Currency, EventRow, KeyedRequest, Page, PaymentRow, PaymentState, PaymentStatus,
    PaymentStore, PointsRow, RefundRow, RefundState, StoreResult,
};
use palm_service::store::{MerchantId, PaymentId, PersonId};
use sqlx::any::AnyRow;

const PAYMENT_COLUMNS: &str = "id, merchant_id, till_id, amount, tip, currency, reference, capture_method, status, person_id, card_id, card_brand, card_last4, charge_ref, attempt_key, decline_code, amount_captured, amount_refunded, created, updated, discount, reward_id";
const REFUND_COLUMNS: &str =
    "id, payment_id, merchant_id, amount, status, reason, processor_ref, created";
const EVENT_COLUMNS: &str = "id, merchant_id, kind, object_id, payload, created";

fn payment(r: &AnyRow) -> Result<PaymentRow, sqlx::Error> {
    Ok(PaymentRow {
        id: id_col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        till_id: col(r, "till_id")?,
        amount: amount(r, "amount")?,
        tip: amount(r, "tip")?,
        currency: named(r, "currency", Currency::stored)?,
        reference: col(r, "reference")?,
        capture_method: named(r, "capture_method", CaptureMethod::parse)?,
        status: status(r)?,
        person_id: maybe_id_col(r, "person_id")?,
        card_id: col(r, "card_id")?,
        card_brand: col(r, "card_brand")?,
        card_last4: col(r, "card_last4")?,
        amount_captured: amount(r, "amount_captured")?,
        amount_refunded: amount(r, "amount_refunded")?,
        created: col(r, "created")?,
        updated: col(r, "updated")?,
        discount: amount(r, "discount")?,
        reward_id: col(r, "reward_id")?,
    })
}

/// A payment's status from its state and the values that state records; a row whose values do
/// not fit its state is refused like an unknown state.
fn status(r: &AnyRow) -> Result<PaymentStatus, sqlx::Error> {
    let state = named(r, "status", PaymentState::parse)?;
    PaymentStatus::from_stored(
        state,
        col(r, "attempt_key")?,
        col(r, "charge_ref")?,
        col(r, "decline_code")?,
    )
    .ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "status".to_string(),
        source: format!("a {state} payment with values that state cannot have").into(),
    })
}

fn refund(r: &AnyRow) -> Result<RefundRow, sqlx::Error> {
    Ok(RefundRow {
        id: col(r, "id")?,
        payment_id: id_col(r, "payment_id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        amount: amount(r, "amount")?,
        status: named(r, "status", RefundState::parse)?,
        reason: col(r, "reason")?,
        processor_ref: col(r, "processor_ref")?,
        created: col(r, "created")?,
    })
}

fn event(r: &AnyRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        id: col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        kind: col(r, "kind")?,
        object_id: col(r, "object_id")?,
        payload: col(r, "payload")?,
        created: col(r, "created")?,
    })
}

/// The event and its outbox rows, inside the caller's transaction.
pub(crate) async fn record_event(
    tx: &mut sqlx::AnyConnection,
    e: &EventRow,
) -> Result<(), sqlx::Error> {
    q!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&e.id)
        .bind(e.merchant_id.as_str())
        .bind(&e.kind)
        .bind(&e.object_id)
        .bind(&e.payload)
        .bind(e.created)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts, next_attempt, created) \
         SELECT 'whd_' || $1 || '_' || w.id, $1, w.id, w.merchant_id, 'pending', 0, $2, $3 FROM webhook_endpoints w WHERE w.merchant_id = $4",
    )
    .bind(&e.id)
    .bind(e.created * 1000)
    .bind(e.created)
    .bind(e.merchant_id.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new payment, inside the caller's transaction.
pub(crate) async fn insert_payment_in(
    tx: &mut sqlx::AnyConnection,
    p: &PaymentRow,
) -> StoreResult<()> {
    q!(
            "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
        )
        .bind(p.id.as_str())
        .bind(p.merchant_id.as_str())
        .bind(&p.till_id)
        .bind(p.amount.minor_units())
        .bind(p.tip.minor_units())
        .bind(p.currency.as_str())
        .bind(&p.reference)
        .bind(p.capture_method.as_str())
        .bind(p.status.state().as_str())
        .bind(p.person_id.as_ref().map(PersonId::as_str))
        .bind(&p.card_id)
        .bind(&p.card_brand)
        .bind(&p.card_last4)
        .bind(p.status.charge_ref())
        .bind(p.status.attempt_key())
        .bind(p.status.decline_code())
        .bind(p.amount_captured.minor_units())
        .bind(p.amount_refunded.minor_units())
        .bind(p.created)
        .bind(p.updated)
        .bind(p.discount.minor_units())
        .bind(&p.reward_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Notes on the request's idempotency record which object it created, in the object's own
/// transaction: both are written or neither.
async fn record_origin(
    tx: &mut sqlx::AnyConnection,
    origin: Option<&KeyedRequest>,
    object_id: &str,
) -> StoreResult<()> {
    if let Some(o) = origin {
        sqlx::query("UPDATE idempotency_keys SET object_id = $1 WHERE scope = $2 AND key = $3")
            .bind(object_id)
            .bind(&o.scope)
            .bind(&o.key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn claim_operation(
        &self,
        id: &PaymentId,
        status: PaymentState,
        operation: &str,
        now: i64,
    ) -> StoreResult<bool> {
        changed_one(
            &self.pool,
            sqlx::query(
                "UPDATE payments SET operation = $1, operation_since = $4 WHERE id = $2 AND status = $3 AND (operation IS NULL OR operation = $1)",
            )
            .bind(operation)
            .bind(id.as_str())
            .bind(status.as_str())
            .bind(now),
        )
        .await
    }

    async fn stale_operations(
        &self,
        status: PaymentState,
        claimed_before: i64,
    ) -> StoreResult<Vec<(PaymentRow, String)>> {
        let rows = q!(
            "SELECT {PAYMENT_COLUMNS}, operation FROM payments WHERE status = $1 AND operation IS NOT NULL AND operation_since < $2 ORDER BY operation_since LIMIT 100"
        )
        .bind(status.as_str())
        .bind(claimed_before)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((payment(r)?, col(r, "operation")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn release_operation(&self, id: &PaymentId, operation: &str) -> StoreResult<()> {
        sqlx::query("UPDATE payments SET operation = NULL WHERE id = $1 AND operation = $2")
            .bind(id.as_str())
            .bind(operation)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_payment(
        &self,
        p: &PaymentRow,
        e: &EventRow,
        origin: Option<&KeyedRequest>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_payment_in(&mut tx, p).await?;
        record_event(&mut tx, e).await.map_err(db_err)?;
        record_origin(&mut tx, origin, p.id.as_str()).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> StoreResult<Option<PaymentRow>> {
        let row = q!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| payment(&r)).transpose().map_err(db_err)
    }

    async fn update_payment(
        &self,
        p: &PaymentRow,
        from: PaymentState,
        e: Option<&EventRow>,
        points: &[PointsRow],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let changed = sqlx::query(
            "UPDATE payments SET tip = $1, status = $2, person_id = $3, card_id = $4, card_brand = $5, card_last4 = $6, charge_ref = $7, attempt_key = $8, decline_code = $9, amount_captured = $10, updated = $11, discount = $12, reward_id = $13, amount = $16 WHERE id = $14 AND status = $15",
        )
        .bind(p.tip.minor_units())
        .bind(p.status.state().as_str())
        .bind(p.person_id.as_ref().map(PersonId::as_str))
        .bind(&p.card_id)
        .bind(&p.card_brand)
        .bind(&p.card_last4)
        .bind(p.status.charge_ref())
        .bind(p.status.attempt_key())
        .bind(p.status.decline_code())
        .bind(p.amount_captured.minor_units())
        .bind(p.updated)
        .bind(p.discount.minor_units())
        .bind(&p.reward_id)
        .bind(p.id.as_str())
        .bind(from.as_str())
        // Raised only by an incremental authorisation (a walk-out basket above its hold).
        .bind(p.amount.minor_units())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        if let Some(e) = e {
            record_event(&mut tx, e).await.map_err(db_err)?;
        }
        apply_points(&mut tx, points).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn payments(
        &self,
        merchant_id: &MerchantId,
        page: &Page,
    ) -> StoreResult<Vec<PaymentRow>> {
        let select = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE merchant_id = $1");
        let rows = self
            .fetch_page(&select, "id", merchant_id.as_str(), page)
            .await?;
        read_rows(&rows, payment)
    }

    async fn stale_payments(
        &self,
        status: PaymentState,
        updated_before: i64,
    ) -> StoreResult<Vec<PaymentRow>> {
        let rows = q!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE status = $1 AND updated < $2 ORDER BY updated LIMIT 100"
        )
        .bind(status.as_str())
        .bind(updated_before)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, payment)
    }

    async fn reserve_refund(
        &self,
        r: &RefundRow,
        now: i64,
        origin: Option<&KeyedRequest>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let fits = sqlx::query(
            "UPDATE payments SET amount_refunded = amount_refunded + $1, updated = $2 WHERE id = $3 AND amount_refunded + $1 <= amount_captured",
        )
        .bind(r.amount.minor_units())
        .bind(now)
        .bind(r.payment_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if fits == 0 {
            return Ok(false);
        }
        q!("INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&r.id)
            .bind(r.payment_id.as_str())
            .bind(r.merchant_id.as_str())
            .bind(r.amount.minor_units())
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(&r.processor_ref)
            .bind(r.created)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        record_origin(&mut tx, origin, &r.id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn settle_refund(
        &self,
        r: &RefundRow,
        e: &EventRow,
        points: &[PointsRow],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let changed = sqlx::query(
            "UPDATE refunds SET status = $1, processor_ref = $2 WHERE id = $3 AND status = 'pending'",
        )
        .bind(r.status.as_str())
        .bind(&r.processor_ref)
        .bind(&r.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if changed == 1 && r.status == RefundState::Failed {
            sqlx::query("UPDATE payments SET amount_refunded = amount_refunded - $1 WHERE id = $2")
                .bind(r.amount.minor_units())
                .bind(r.payment_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if changed == 1 {
            record_event(&mut tx, e).await.map_err(db_err)?;
            apply_points(&mut tx, points).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn refunds_of(&self, payment_id: &PaymentId) -> StoreResult<Vec<RefundRow>> {
        let rows = q!("SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY id")
            .bind(payment_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&rows, refund)
    }

    async fn stale_refunds(&self, created_before: i64) -> StoreResult<Vec<RefundRow>> {
        let rows = q!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE status = 'pending' AND created < $1 ORDER BY created LIMIT 100"
        )
        .bind(created_before)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, refund)
    }

    async fn events_of(
        &self,
        merchant_id: &MerchantId,
        object_id: &str,
    ) -> StoreResult<Vec<EventRow>> {
        let rows = q!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE merchant_id = $1 AND object_id = $2 ORDER BY id"
        )
        .bind(merchant_id.as_str())
        .bind(object_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, event)
    }
}
