//! Walk-out shopping: walk-out settings, trips, item events and adjustments. A trip's hold
//! payment is written with the trip; an item event locks its trip's row first (an update of the
//! open trip), so an exit, which moves the trip out of `open` with an update of the same row,
//! either waits for the event or makes it see the trip closed.

use crate::payments::{insert_payment_in, record_event};
use crate::{SqlStore, amount, col, db_err, id_col, maybe_id_col, named, read_rows};
use async_trait::async_trait;
use palm_service::StoreError;
use palm_service::store::{
    Currency, EventRow, MerchantId, Page, PaymentRow, PersonId, StoreResult, WalkOutRow,
};
use palm_service::trip_store::{
    AdjustmentRow, AdjustmentState, EventAdded, ItemEventRow, ItemKind, TripRow, TripState,
    TripStore,
};
use sqlx::any::AnyRow;

const TRIP_COLUMNS: &str = "id, merchant_id, venue_id, gate_id, person_id, party_size, status, payment_id, currency, hold, tax_rate_bps, subtotal, tax, total, charged, opened, closed, closed_by, decline_code, updated";
const ITEM_COLUMNS: &str = "trip_id, event_id, kind, product, name, quantity, unit_price, confidence_ppm, occurred_ms, received";
const ADJUSTMENT_COLUMNS: &str =
    "id, trip_id, seq, merchant_id, product, quantity, amount, reason, status, refund_id, created";

fn trip(r: &AnyRow) -> Result<TripRow, sqlx::Error> {
    Ok(TripRow {
        id: col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        venue_id: col(r, "venue_id")?,
        gate_id: col(r, "gate_id")?,
        person_id: maybe_id_col(r, "person_id")?,
        party_size: col(r, "party_size")?,
        status: named(r, "status", TripState::parse)?,
        payment_id: id_col(r, "payment_id")?,
        currency: named(r, "currency", Currency::stored)?,
        hold: amount(r, "hold")?,
        tax_rate_bps: col(r, "tax_rate_bps")?,
        subtotal: amount(r, "subtotal")?,
        tax: amount(r, "tax")?,
        total: amount(r, "total")?,
        charged: amount(r, "charged")?,
        opened: col(r, "opened")?,
        closed: col(r, "closed")?,
        closed_by: col(r, "closed_by")?,
        decline_code: col(r, "decline_code")?,
        updated: col(r, "updated")?,
    })
}

fn item(r: &AnyRow) -> Result<ItemEventRow, sqlx::Error> {
    Ok(ItemEventRow {
        trip_id: col(r, "trip_id")?,
        event_id: col(r, "event_id")?,
        kind: named(r, "kind", ItemKind::parse)?,
        product: col(r, "product")?,
        name: col(r, "name")?,
        quantity: col(r, "quantity")?,
        unit_price: amount(r, "unit_price")?,
        confidence: col::<i64>(r, "confidence_ppm")? as f64 / 1e6,
        occurred_ms: col(r, "occurred_ms")?,
        received: col(r, "received")?,
    })
}

fn adjustment(r: &AnyRow) -> Result<AdjustmentRow, sqlx::Error> {
    Ok(AdjustmentRow {
        id: col(r, "id")?,
        trip_id: col(r, "trip_id")?,
        seq: col(r, "seq")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        product: col(r, "product")?,
        quantity: col(r, "quantity")?,
        amount: amount(r, "amount")?,
        reason: col(r, "reason")?,
        status: named(r, "status", AdjustmentState::parse)?,
        refund_id: col(r, "refund_id")?,
        created: col(r, "created")?,
    })
}

/// A unique violation in `insert_trip` can only be the rule of one live trip per person and
/// store (every id is new); SQLite names the columns, PostgreSQL the index.
fn duplicate_as(e: StoreError, rule: &str) -> StoreError {
    match e {
        StoreError::Duplicate(_) => StoreError::Duplicate(rule.to_string()),
        other => other,
    }
}

#[async_trait]
impl TripStore for SqlStore {
    async fn walk_out(
        &self,
        merchant_id: &MerchantId,
        venue_id: &str,
    ) -> StoreResult<Option<WalkOutRow>> {
        let row = sqlx::query("SELECT venue_id, merchant_id, till_id, currency, hold, tax_rate_bps FROM walk_out_venues WHERE merchant_id = $1 AND venue_id = $2")
            .bind(merchant_id.as_str())
            .bind(venue_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let read = |r: &AnyRow| -> Result<WalkOutRow, sqlx::Error> {
            Ok(WalkOutRow {
                venue_id: col(r, "venue_id")?,
                merchant_id: MerchantId::stored(col(r, "merchant_id")?),
                till_id: col(r, "till_id")?,
                currency: named(r, "currency", Currency::stored)?,
                hold: amount(r, "hold")?,
                tax_rate_bps: col(r, "tax_rate_bps")?,
            })
        };
        row.as_ref().map(read).transpose().map_err(db_err)
    }

    async fn insert_trip(
        &self,
        t: &TripRow,
        hold: &PaymentRow,
        event: &EventRow,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_payment_in(&mut tx, hold).await?;
        q!("INSERT INTO shopping_trips ({TRIP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)")
            .bind(&t.id)
            .bind(t.merchant_id.as_str())
            .bind(&t.venue_id)
            .bind(&t.gate_id)
            .bind(t.person_id.as_ref().map(PersonId::as_str))
            .bind(t.party_size)
            .bind(t.status.as_str())
            .bind(t.payment_id.as_str())
            .bind(t.currency.as_str())
            .bind(t.hold.minor_units())
            .bind(t.tax_rate_bps)
            .bind(t.subtotal.minor_units())
            .bind(t.tax.minor_units())
            .bind(t.total.minor_units())
            .bind(t.charged.minor_units())
            .bind(t.opened)
            .bind(t.closed)
            .bind(&t.closed_by)
            .bind(&t.decline_code)
            .bind(t.updated)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_as(db_err(e), "one_live_trip"))?;
        record_event(&mut tx, event).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn trip(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<TripRow>> {
        let row =
            q!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE merchant_id = $1 AND id = $2")
                .bind(merchant_id.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.as_ref().map(trip).transpose().map_err(db_err)
    }

    async fn trip_anywhere(&self, id: &str) -> StoreResult<Option<TripRow>> {
        let row = q!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(trip).transpose().map_err(db_err)
    }

    async fn trips(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<TripRow>> {
        let select = format!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE merchant_id = $1");
        let found = self
            .fetch_page(&select, "id", merchant_id.as_str(), page)
            .await?;
        read_rows(&found, trip)
    }

    async fn live_trip(
        &self,
        venue_id: &str,
        person_id: &PersonId,
    ) -> StoreResult<Option<TripRow>> {
        let row = q!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE venue_id = $1 AND person_id = $2 AND status IN ('opening', 'open')")
            .bind(venue_id)
            .bind(person_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(trip).transpose().map_err(db_err)
    }

    async fn live_trips_of(&self, person_id: &PersonId) -> StoreResult<Vec<TripRow>> {
        let found = q!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE person_id = $1 AND status IN ('opening', 'open', 'completing') ORDER BY id")
            .bind(person_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&found, trip)
    }

    async fn update_trip(
        &self,
        t: &TripRow,
        from: TripState,
        event: Option<&EventRow>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let changed = sqlx::query("UPDATE shopping_trips SET status = $1, subtotal = $2, tax = $3, total = $4, charged = $5, closed = $6, closed_by = $7, decline_code = $8, updated = $9 WHERE id = $10 AND status = $11")
            .bind(t.status.as_str())
            .bind(t.subtotal.minor_units())
            .bind(t.tax.minor_units())
            .bind(t.total.minor_units())
            .bind(t.charged.minor_units())
            .bind(t.closed)
            .bind(&t.closed_by)
            .bind(&t.decline_code)
            .bind(t.updated)
            .bind(&t.id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        if let Some(e) = event {
            record_event(&mut tx, e).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn add_item_event(&self, e: &ItemEventRow) -> StoreResult<EventAdded> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The lock: an exit's update of this row waits for this transaction, and this one
        // finds no open trip once an exit has committed.
        let open =
            sqlx::query("UPDATE shopping_trips SET updated = $1 WHERE id = $2 AND status = 'open'")
                .bind(e.received)
                .bind(&e.trip_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        if open != 1 {
            return Ok(EventAdded::TripNotOpen);
        }
        let inserted = q!("INSERT INTO trip_events ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (trip_id, event_id) DO NOTHING")
            .bind(&e.trip_id)
            .bind(&e.event_id)
            .bind(e.kind.as_str())
            .bind(&e.product)
            .bind(&e.name)
            .bind(e.quantity)
            .bind(e.unit_price.minor_units())
            .bind((e.confidence * 1e6).round() as i64)
            .bind(e.occurred_ms)
            .bind(e.received)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if inserted == 1 {
            tx.commit().await.map_err(db_err)?;
            return Ok(EventAdded::Added);
        }
        let before =
            q!("SELECT {ITEM_COLUMNS} FROM trip_events WHERE trip_id = $1 AND event_id = $2")
                .bind(&e.trip_id)
                .bind(&e.event_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        // Nothing written: the lock's touch is rolled back with the transaction.
        Ok(EventAdded::Duplicate(item(&before).map_err(db_err)?))
    }

    async fn item_events(&self, trip_id: &str) -> StoreResult<Vec<ItemEventRow>> {
        let found = q!("SELECT {ITEM_COLUMNS} FROM trip_events WHERE trip_id = $1 ORDER BY occurred_ms, event_id")
            .bind(trip_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&found, item)
    }

    async fn stale_trips(
        &self,
        status: TripState,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<TripRow>> {
        let found = q!("SELECT {TRIP_COLUMNS} FROM shopping_trips WHERE status = $1 AND updated < $2 ORDER BY updated LIMIT $3")
            .bind(status.as_str())
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&found, trip)
    }

    async fn insert_adjustment(&self, a: &AdjustmentRow) -> StoreResult<()> {
        q!("INSERT INTO trip_adjustments ({ADJUSTMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(&a.id)
            .bind(&a.trip_id)
            .bind(a.seq)
            .bind(a.merchant_id.as_str())
            .bind(&a.product)
            .bind(a.quantity)
            .bind(a.amount.minor_units())
            .bind(&a.reason)
            .bind(a.status.as_str())
            .bind(&a.refund_id)
            .bind(a.created)
            .execute(&self.pool)
            .await
            .map_err(|e| duplicate_as(db_err(e), "adjustment_seq"))?;
        Ok(())
    }

    async fn adjustments(&self, trip_id: &str) -> StoreResult<Vec<AdjustmentRow>> {
        let found =
            q!("SELECT {ADJUSTMENT_COLUMNS} FROM trip_adjustments WHERE trip_id = $1 ORDER BY seq")
                .bind(trip_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        read_rows(&found, adjustment)
    }

    async fn update_adjustment(
        &self,
        a: &AdjustmentRow,
        from: AdjustmentState,
    ) -> StoreResult<bool> {
        crate::changed_one(
            &self.pool,
            sqlx::query("UPDATE trip_adjustments SET status = $1, refund_id = $2 WHERE id = $3 AND status = $4")
                .bind(a.status.as_str())
                .bind(&a.refund_id)
                .bind(&a.id)
                .bind(from.as_str()),
        )
        .await
    }
}
