//! Venues, gates, events, passes, entry records and age verification.

use crate::{SqlStore, col, db_err, id_col, maybe_id_col};
use async_trait::async_trait;
use palm_service::store::{
    AgeRow, EntryRow, EntryStore, GateRow, NewWalkOut, Page, PassRow, StoreResult, VenueEventRow,
    VenueRow,
};
use palm_service::store::{MerchantId, PersonId};
use sqlx::any::AnyRow;

const EVENT_COLUMNS: &str =
    "id, venue_id, merchant_id, name, starts, ends, capacity, reentry, created";

const PASS_COLUMNS: &str = "id, event_id, person_id, kind, created";

fn pass(r: &AnyRow) -> Result<PassRow, sqlx::Error> {
    Ok(PassRow {
        id: col(r, "id")?,
        event_id: col(r, "event_id")?,
        person_id: id_col(r, "person_id")?,
        kind: col(r, "kind")?,
        created: col(r, "created")?,
    })
}

/// Inserts an entry in the transaction; with `if_new`, an id already recorded is left alone and
/// false returned.
async fn insert_entry(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &EntryRow,
    if_new: bool,
) -> StoreResult<bool> {
    let conflict = if if_new {
        " ON CONFLICT (id) DO NOTHING"
    } else {
        ""
    };
    let r = q!("INSERT INTO entries (id, event_id, gate_id, person_id, direction, allowed, reason, created, offline) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){conflict}")
        .bind(&e.id)
        .bind(&e.event_id)
        .bind(&e.gate_id)
        .bind(e.person_id.as_ref().map(PersonId::as_str))
        .bind(&e.direction)
        .bind(i64::from(e.allowed))
        .bind(&e.reason)
        .bind(e.created)
        .bind(i64::from(e.offline))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(r.rows_affected() == 1)
}

pub(crate) const GATE_COLUMNS: &str =
    "id, venue_id, merchant_id, name, age_restricted, secret_hash";

pub(crate) fn gate(r: &AnyRow) -> Result<GateRow, sqlx::Error> {
    Ok(GateRow {
        id: col(r, "id")?,
        venue_id: col(r, "venue_id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        name: col(r, "name")?,
        age_restricted: col::<i64>(r, "age_restricted")? != 0,
        secret_hash: col(r, "secret_hash")?,
    })
}

fn event(r: &AnyRow) -> Result<VenueEventRow, sqlx::Error> {
    Ok(VenueEventRow {
        id: col(r, "id")?,
        venue_id: col(r, "venue_id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        name: col(r, "name")?,
        starts: col(r, "starts")?,
        ends: col(r, "ends")?,
        capacity: col(r, "capacity")?,
        reentry: col::<i64>(r, "reentry")? != 0,
        created: col(r, "created")?,
    })
}

#[async_trait]
impl EntryStore for SqlStore {
    async fn insert_venue(
        &self,
        v: &VenueRow,
        gates: &[GateRow],
        walk_out: Option<&NewWalkOut>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("INSERT INTO venues (id, merchant_id, name, created) VALUES ($1, $2, $3, $4)")
            .bind(&v.id)
            .bind(v.merchant_id.as_str())
            .bind(&v.name)
            .bind(v.created)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for g in gates {
            sqlx::query("INSERT INTO gates (id, venue_id, merchant_id, name, age_restricted, secret_hash) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&g.id)
                .bind(&g.venue_id)
                .bind(g.merchant_id.as_str())
                .bind(&g.name)
                .bind(i64::from(g.age_restricted))
                .bind(&g.secret_hash)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(w) = walk_out {
            let (till, s) = (&w.till, &w.settings);
            sqlx::query("INSERT INTO tills (id, merchant_id, store_name, name, secret_hash) VALUES ($1, $2, $3, $4, $5)")
                .bind(&till.id)
                .bind(till.merchant_id.as_str())
                .bind(&till.store_name)
                .bind(&till.name)
                .bind(&till.secret_hash)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("INSERT INTO walk_out_venues (venue_id, merchant_id, till_id, currency, hold, tax_rate_bps) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&s.venue_id)
                .bind(s.merchant_id.as_str())
                .bind(&s.till_id)
                .bind(s.currency.as_str())
                .bind(s.hold.minor_units())
                .bind(s.tax_rate_bps)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn gate_by_secret(&self, secret_hash: &str) -> StoreResult<Option<GateRow>> {
        let row = q!("SELECT {GATE_COLUMNS} FROM gates WHERE secret_hash = $1 AND NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = gates.merchant_id AND m.disabled IS NOT NULL)")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(gate).transpose().map_err(db_err)
    }

    async fn venue(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<VenueRow>> {
        let row = sqlx::query(
            "SELECT id, merchant_id, name, created FROM venues WHERE merchant_id = $1 AND id = $2",
        )
        .bind(merchant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(VenueRow {
                id: col(&r, "id")?,
                merchant_id: col(&r, "merchant_id").map(MerchantId::stored)?,
                name: col(&r, "name")?,
                created: col(&r, "created")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn insert_event(&self, e: &VenueEventRow) -> StoreResult<()> {
        q!(
            "INSERT INTO venue_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )
        .bind(&e.id)
        .bind(&e.venue_id)
        .bind(e.merchant_id.as_str())
        .bind(&e.name)
        .bind(e.starts)
        .bind(e.ends)
        .bind(e.capacity)
        .bind(i64::from(e.reentry))
        .bind(e.created)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn event(
        &self,
        merchant_id: &MerchantId,
        id: &str,
    ) -> StoreResult<Option<VenueEventRow>> {
        let row = q!("SELECT {EVENT_COLUMNS} FROM venue_events WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| event(&r)).transpose().map_err(db_err)
    }

    async fn pass(&self, event_id: &str, person_id: &PersonId) -> StoreResult<Option<PassRow>> {
        let row = q!("SELECT {PASS_COLUMNS} FROM passes WHERE event_id = $1 AND person_id = $2")
            .bind(event_id)
            .bind(person_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(pass).transpose().map_err(db_err)
    }

    async fn passes(&self, event_id: &str) -> StoreResult<Vec<PassRow>> {
        q!("SELECT {PASS_COLUMNS} FROM passes WHERE event_id = $1 ORDER BY id")
            .bind(event_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(pass)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn import_entry(&self, e: &EntryRow) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let inserted = insert_entry(&mut tx, e, true).await?;
        if inserted && e.allowed {
            let sql = match e.direction.as_str() {
                "in" => "UPDATE venue_events SET inside = inside + 1 WHERE id = $1",
                "out" => "UPDATE venue_events SET inside = inside - 1 WHERE id = $1 AND inside > 0",
                _ => "",
            };
            if !sql.is_empty() {
                sqlx::query(sql)
                    .bind(&e.event_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(inserted)
    }

    async fn record_entry(&self, e: &EntryRow, capacity: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if e.allowed && (e.direction == "in" || e.direction == "out") {
            // One conditional UPDATE per crossing: concurrent admissions serialise on the event's
            // row, so the count never passes the capacity.
            let update = if e.direction == "in" {
                sqlx::query(
                    "UPDATE venue_events SET inside = inside + 1 WHERE id = $1 AND inside < $2",
                )
                .bind(&e.event_id)
                .bind(capacity)
            } else {
                sqlx::query(
                    "UPDATE venue_events SET inside = inside - 1 WHERE id = $1 AND inside > 0",
                )
                .bind(&e.event_id)
            };
            let moved = update
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            if moved == 0 && e.direction == "in" {
                return Ok(false);
            }
        }
        insert_entry(&mut tx, e, false).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn entries(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<EntryRow>> {
        let select = "SELECT e.id, e.event_id, e.gate_id, e.person_id, e.direction, e.allowed, e.reason, e.created, e.offline FROM entries e JOIN venue_events v ON v.id = e.event_id WHERE v.merchant_id = $1";
        self.fetch_page(select, "e.id", merchant_id.as_str(), page)
            .await?
            .iter()
            .map(|r| {
                Ok(EntryRow {
                    id: col(r, "id")?,
                    event_id: col(r, "event_id")?,
                    gate_id: col(r, "gate_id")?,
                    person_id: maybe_id_col(r, "person_id")?,
                    direction: col(r, "direction")?,
                    allowed: col::<i64>(r, "allowed")? != 0,
                    reason: col(r, "reason")?,
                    created: col(r, "created")?,
                    offline: col::<i64>(r, "offline")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn crossings(&self, event_id: &str, person_id: &PersonId) -> StoreResult<(i64, i64)> {
        let r = sqlx::query("SELECT COALESCE(SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END), 0) AS ins, COALESCE(SUM(CASE WHEN direction = 'out' THEN 1 ELSE 0 END), 0) AS outs FROM entries WHERE event_id = $1 AND person_id = $2 AND allowed = 1")
            .bind(event_id)
            .bind(person_id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok((
            col(&r, "ins").map_err(db_err)?,
            col(&r, "outs").map_err(db_err)?,
        ))
    }

    async fn set_age_verified(&self, a: &AgeRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO merchant_age_verifications (merchant_id, person_id, verified_by, document_type, verified_at) VALUES ($5, $1, $2, $3, $4) ON CONFLICT (merchant_id, person_id) DO UPDATE SET verified_by = $2, document_type = $3, verified_at = $4")
            .bind(a.person_id.as_str())
            .bind(&a.verified_by)
            .bind(&a.document_type)
            .bind(a.verified_at)
            .bind(a.merchant_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn age_verified(
        &self,
        merchant_id: &MerchantId,
        person_id: &PersonId,
    ) -> StoreResult<Option<AgeRow>> {
        let row = sqlx::query("SELECT merchant_id, person_id, verified_by, document_type, verified_at FROM merchant_age_verifications WHERE merchant_id = $1 AND person_id = $2")
            .bind(merchant_id.as_str())
            .bind(person_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(AgeRow {
                merchant_id: col(&r, "merchant_id").map(MerchantId::stored)?,
                person_id: id_col(&r, "person_id")?,
                verified_by: col(&r, "verified_by")?,
                document_type: col(&r, "document_type")?,
                verified_at: col(&r, "verified_at")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }
}
