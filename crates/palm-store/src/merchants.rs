//! Merchants, tills, and idempotency keys.

use crate::{SqlStore, changed_one, col, db_err, read_rows};
use async_trait::async_trait;
use palm_service::store::MerchantId;
use palm_service::store::{
    Claim, IdempotencyStore, KeyHolder, MerchantRow, MerchantStore, StoreResult, TillRow,
};
use sqlx::any::AnyRow;

const TILL_COLUMNS: &str = "id, merchant_id, store_name, name, secret_hash";
const MERCHANT_COLUMNS: &str = "id, name, api_key_hash, created, disabled";

fn merchant(r: &AnyRow) -> Result<MerchantRow, sqlx::Error> {
    Ok(MerchantRow {
        id: col(r, "id").map(MerchantId::stored)?,
        name: col(r, "name")?,
        api_key_hash: col(r, "api_key_hash")?,
        created: col(r, "created")?,
        disabled: col(r, "disabled")?,
    })
}

fn till(r: &AnyRow) -> Result<TillRow, sqlx::Error> {
    Ok(TillRow {
        id: col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        store_name: col(r, "store_name")?,
        name: col(r, "name")?,
        secret_hash: col(r, "secret_hash")?,
    })
}

#[async_trait]
impl MerchantStore for SqlStore {
    async fn insert_merchant(&self, m: &MerchantRow, tills: &[TillRow]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO merchants (id, name, api_key_hash, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.id.as_str())
        .bind(&m.name)
        .bind(&m.api_key_hash)
        .bind(m.created)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for t in tills {
            q!("INSERT INTO tills ({TILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5)")
                .bind(&t.id)
                .bind(t.merchant_id.as_str())
                .bind(&t.store_name)
                .bind(&t.name)
                .bind(&t.secret_hash)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn merchant_by_key(&self, api_key_hash: &str) -> StoreResult<Option<MerchantRow>> {
        let row = q!(
            "SELECT {MERCHANT_COLUMNS} FROM merchants WHERE api_key_hash = $1 AND disabled IS NULL"
        )
        .bind(api_key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(merchant).transpose().map_err(db_err)
    }

    async fn merchant(&self, id: &MerchantId) -> StoreResult<Option<MerchantRow>> {
        let row = q!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(merchant).transpose().map_err(db_err)
    }

    async fn merchants(&self) -> StoreResult<Vec<MerchantRow>> {
        let rows = q!("SELECT {MERCHANT_COLUMNS} FROM merchants ORDER BY created, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&rows, merchant)
    }

    async fn disable_merchant(&self, id: &str, now: i64) -> StoreResult<bool> {
        changed_one(
            &self.pool,
            sqlx::query("UPDATE merchants SET disabled = $1 WHERE id = $2 AND disabled IS NULL")
                .bind(now)
                .bind(id),
        )
        .await
    }

    async fn till_by_secret(&self, secret_hash: &str) -> StoreResult<Option<TillRow>> {
        let row = q!("SELECT {TILL_COLUMNS} FROM tills WHERE secret_hash = $1 AND NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = tills.merchant_id AND m.disabled IS NOT NULL)")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| till(&r)).transpose().map_err(db_err)
    }

    async fn till(&self, merchant_id: &MerchantId, till_id: &str) -> StoreResult<Option<TillRow>> {
        let row = q!("SELECT {TILL_COLUMNS} FROM tills WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id.as_str())
            .bind(till_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| till(&r)).transpose().map_err(db_err)
    }

    async fn tills(&self, merchant_id: &MerchantId) -> StoreResult<Vec<TillRow>> {
        let rows = q!(
            "SELECT {TILL_COLUMNS} FROM tills WHERE merchant_id = $1 ORDER BY store_name, name, id"
        )
        .bind(merchant_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, till)
    }

    async fn merchant_count(&self) -> StoreResult<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM merchants")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        col(&r, "n").map_err(db_err)
    }
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        holder: &KeyHolder<'_>,
    ) -> StoreResult<Claim> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created, owner) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(holder.run)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        // A key with no answer whose holder has ended (another run: a crash) or given up (past
        // the request time limit) passes to this request, which runs it again.
        let taken_over = inserted == 0
            && sqlx::query(
                "UPDATE idempotency_keys SET owner = $1, created = $2 WHERE scope = $3 AND key = $4 AND request_hash = $5 AND status IS NULL AND (owner IS NULL OR owner <> $1 OR created < $6)",
            )
            .bind(holder.run)
            .bind(now)
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(holder.abandoned_before)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
                == 1;
        let claim = if inserted == 1 {
            Claim::New
        } else if taken_over {
            Claim::Resumed
        } else {
            let r = sqlx::query(
                "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let status: Option<i64> = col(&r, "status").map_err(db_err)?;
            let body: Option<String> = col(&r, "body").map_err(db_err)?;
            Claim::Seen {
                request_hash: col(&r, "request_hash").map_err(db_err)?,
                response: status.zip(body),
            }
        };
        tx.commit().await.map_err(db_err)?;
        Ok(claim)
    }

    async fn complete_key(
        &self,
        scope: &str,
        key: &str,
        status: i64,
        body: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2 WHERE scope = $3 AND key = $4",
        )
        .bind(status)
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn key_object(&self, scope: &str, key: &str) -> StoreResult<Option<String>> {
        let r = sqlx::query("SELECT object_id FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match r {
            Some(r) => col(&r, "object_id").map_err(db_err),
            None => Ok(None),
        }
    }

    async fn release_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET owner = NULL WHERE scope = $1 AND key = $2 AND status IS NULL",
        )
        .bind(scope)
        .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn sealed_answers(&self) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT scope, key, body FROM idempotency_keys WHERE body LIKE 'sealed:%' ORDER BY scope, key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((col(r, "scope")?, col(r, "key")?, col(r, "body")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn replace_answer(
        &self,
        scope: &str,
        key: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        changed_one(
            &self.pool,
            sqlx::query(
                "UPDATE idempotency_keys SET body = $1 WHERE scope = $2 AND key = $3 AND body = $4",
            )
            .bind(new)
            .bind(scope)
            .bind(key)
            .bind(old),
        )
        .await
    }

    async fn purge_keys(&self, before: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM idempotency_keys WHERE created < $1")
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected(),
        )
    }
}
