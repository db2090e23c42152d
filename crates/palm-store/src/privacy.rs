//! Deletion requests, deleting a person, retention, and the audit log.

use crate::palm_feed::tombstone_palms_in;
use crate::{SqlStore, col, db_err, id_col};
use async_trait::async_trait;
use palm_service::store::{AuditRow, DeletionRow, PrivacyStore, StoreResult};
use palm_service::store::{MerchantId, PersonId};
use sqlx::Executor;

/// The `id` column of every row.
fn ids<T>(rows: &[sqlx::any::AnyRow]) -> StoreResult<Vec<T>>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    rows.iter()
        .map(|r| col(r, "id"))
        .collect::<Result<_, _>>()
        .map_err(db_err)
}

/// The `id` column of every row, as people's ids.
fn person_ids(rows: &[sqlx::any::AnyRow]) -> StoreResult<Vec<PersonId>> {
    Ok(ids::<String>(rows)?
        .into_iter()
        .map(PersonId::from)
        .collect())
}

#[async_trait]
impl PrivacyStore for SqlStore {
    async fn insert_deletion(&self, d: &DeletionRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO deletion_requests (id, person_id, code_hash, expires, attempts, used, created, merchant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&d.id)
            .bind(d.person_id.as_str())
            .bind(&d.code_hash)
            .bind(d.expires)
            .bind(d.attempts)
            .bind(i64::from(d.used))
            .bind(d.created)
            .bind(d.merchant_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn deletion(
        &self,
        merchant_id: &MerchantId,
        id: &str,
    ) -> StoreResult<Option<DeletionRow>> {
        let row = sqlx::query("SELECT id, person_id, code_hash, expires, attempts, used, created, merchant_id FROM deletion_requests WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(DeletionRow {
                id: col(&r, "id")?,
                person_id: id_col(&r, "person_id")?,
                code_hash: col(&r, "code_hash")?,
                expires: col(&r, "expires")?,
                attempts: col(&r, "attempts")?,
                used: col::<i64>(&r, "used")? != 0,
                created: col(&r, "created")?,
                merchant_id: col(&r, "merchant_id").map(MerchantId::stored)?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn update_deletion(&self, d: &DeletionRow) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE deletion_requests SET attempts = $1, used = $2 WHERE id = $3 AND used = 0",
        )
        .bind(d.attempts)
        .bind(i64::from(d.used))
        .bind(&d.id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn payments_in_flight(&self, person_id: &PersonId) -> StoreResult<i64> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM payments WHERE person_id = $1 AND status = 'processing') + (SELECT COUNT(*) FROM shopping_trips WHERE person_id = $1 AND status IN ('opening', 'open', 'completing')) AS n",
        )
        .bind(person_id.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        col(&r, "n").map_err(db_err)
    }

    async fn mark_deletion_pending(&self, person_id: &PersonId, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE people SET deletion_requested = $1 WHERE id = $2")
            .bind(now)
            .bind(person_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tombstone_palms_in(&mut tx, person_id, now)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn pending_deletions(&self) -> StoreResult<Vec<PersonId>> {
        let rows =
            sqlx::query("SELECT id FROM people WHERE deletion_requested IS NOT NULL ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        person_ids(&rows)
    }

    async fn delete_person(&self, person_id: &PersonId, audit: &AuditRow) -> StoreResult<Vec<i64>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let palm_rows = sqlx::query("SELECT id FROM palms WHERE person_id = $1")
            .bind(person_id.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let palms: Vec<i64> = ids(&palm_rows)?;
        // Palms not yet tombstoned (no deferral came first) leave the feed with this commit.
        tombstone_palms_in(&mut tx, person_id, audit.created)
            .await
            .map_err(db_err)?;
        for table in ["palms", "cards", "sessions", "consents"] {
            q!("DELETE FROM {table} WHERE person_id = $1")
                .bind(person_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM people WHERE id = $1")
            .bind(person_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit_in(&mut tx, audit).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(palms)
    }

    async fn people_unused_since(&self, before: i64, limit: i64) -> StoreResult<Vec<PersonId>> {
        let rows = sqlx::query("SELECT id FROM people WHERE last_used < $1 AND deletion_requested IS NULL ORDER BY last_used LIMIT $2")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        person_ids(&rows)
    }

    async fn insert_audit(&self, a: &AuditRow) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_audit_in(&mut conn, a).await.map_err(db_err)
    }

    async fn audit_of(&self, person_id: &PersonId) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query("SELECT id, person_id, actor, purpose, created FROM audit_log WHERE person_id = $1 ORDER BY id")
            .bind(person_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    id: col(r, "id")?,
                    person_id: id_col(r, "person_id")?,
                    actor: col(r, "actor")?,
                    purpose: col(r, "purpose")?,
                    created: col(r, "created")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn compact(&self) -> StoreResult<()> {
        if self.backend == "sqlite" {
            // secure_delete already zeroed the rows in the pages; the write-ahead log still holds
            // older copies of those pages until it is checkpointed and truncated.
            self.pool
                .execute("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

async fn insert_audit_in(conn: &mut sqlx::AnyConnection, a: &AuditRow) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (id, person_id, actor, purpose, created) VALUES ($1, $2, $3, $4, $5)")
        .bind(&a.id)
        .bind(a.person_id.as_str())
        .bind(&a.actor)
        .bind(&a.purpose)
        .bind(a.created)
        .execute(conn)
        .await?;
    Ok(())
}
