//! Pairing codes, paired devices and the nonces of signed requests and sealed captures.

use crate::entry::{GATE_COLUMNS, gate};
use crate::{SqlStore, col, db_err};
use async_trait::async_trait;
use palm_service::device_store::{AllowListRow, DeviceRow, DeviceStore, PairingRow};
use palm_service::store::MerchantId;
use palm_service::store::{GateRow, Page, StoreResult};
use sqlx::any::AnyRow;

const DEVICE_COLUMNS: &str =
    "id, merchant_id, name, till_id, gate_id, signing_key, seal_key, created, revoked";

fn device(r: &AnyRow) -> Result<DeviceRow, sqlx::Error> {
    Ok(DeviceRow {
        id: col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        name: col(r, "name")?,
        till_id: col(r, "till_id")?,
        gate_id: col(r, "gate_id")?,
        signing_key: col(r, "signing_key")?,
        seal_key: col(r, "seal_key")?,
        created: col(r, "created")?,
        revoked: col(r, "revoked")?,
    })
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn insert_pairing_code(&self, p: &PairingRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO pairing_codes (code_hash, merchant_id, till_id, gate_id, expires) VALUES ($1, $2, $3, $4, $5)")
            .bind(&p.code_hash)
            .bind(p.merchant_id.as_str())
            .bind(&p.till_id)
            .bind(&p.gate_id)
            .bind(p.expires)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn pair_device(
        &self,
        code_hash: &str,
        now: i64,
        d: &DeviceRow,
    ) -> StoreResult<Option<DeviceRow>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Using the code is the compare-and-set: of two devices racing with one code, one wins.
        let used = sqlx::query(
            "UPDATE pairing_codes SET used = 1 WHERE code_hash = $1 AND used = 0 AND expires > $2",
        )
        .bind(code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if used == 0 {
            return Ok(None);
        }
        let r = sqlx::query(
            "SELECT merchant_id, till_id, gate_id FROM pairing_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let row = DeviceRow {
            merchant_id: col(&r, "merchant_id")
                .map(MerchantId::stored)
                .map_err(db_err)?,
            till_id: col(&r, "till_id").map_err(db_err)?,
            gate_id: col(&r, "gate_id").map_err(db_err)?,
            ..d.clone()
        };
        q!("INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&row.id)
            .bind(row.merchant_id.as_str())
            .bind(&row.name)
            .bind(&row.till_id)
            .bind(&row.gate_id)
            .bind(&row.signing_key)
            .bind(&row.seal_key)
            .bind(row.created)
            .bind(row.revoked)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(row))
    }

    async fn device(&self, id: &str) -> StoreResult<Option<DeviceRow>> {
        let row = q!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = devices.merchant_id AND m.disabled IS NOT NULL)")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(device).transpose().map_err(db_err)
    }

    async fn devices(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<DeviceRow>> {
        let select = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE merchant_id = $1");
        self.fetch_page(&select, "id", merchant_id.as_str(), page)
            .await?
            .iter()
            .map(device)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn revoke_device(
        &self,
        merchant_id: &MerchantId,
        id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE devices SET revoked = COALESCE(revoked, $1) WHERE id = $2 AND merchant_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(merchant_id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn claim_nonce(&self, scope: &str, nonce: &str, now: i64) -> StoreResult<bool> {
        let r = sqlx::query("INSERT INTO nonces (scope, nonce, created) VALUES ($1, $2, $3) ON CONFLICT (scope, nonce) DO NOTHING")
            .bind(scope)
            .bind(nonce)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn purge_nonces(&self, before: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM nonces WHERE created < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn gate(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<GateRow>> {
        let row = q!("SELECT {GATE_COLUMNS} FROM gates WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(gate).transpose().map_err(db_err)
    }

    async fn insert_allow_list(&self, a: &AllowListRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO allow_lists (id, event_id, device_id, issued, expires, revoked) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&a.id)
            .bind(&a.event_id)
            .bind(&a.device_id)
            .bind(a.issued)
            .bind(a.expires)
            .bind(a.revoked)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn allow_list(&self, id: &str) -> StoreResult<Option<AllowListRow>> {
        let row = sqlx::query("SELECT id, event_id, device_id, issued, expires, revoked FROM allow_lists WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(AllowListRow {
                id: col(&r, "id")?,
                event_id: col(&r, "event_id")?,
                device_id: col(&r, "device_id")?,
                issued: col(&r, "issued")?,
                expires: col(&r, "expires")?,
                revoked: col(&r, "revoked")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn revoke_allow_lists(&self, event_id: &str, now: i64) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE allow_lists SET revoked = $1 WHERE event_id = $2 AND revoked IS NULL",
        )
        .bind(now)
        .bind(event_id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }
}
