//! Webhook endpoints and the delivery outbox.

use crate::{SqlStore, changed_one, col, db_err, read_rows};
use async_trait::async_trait;
use palm_service::store::MerchantId;
use palm_service::store::{DeliveryRow, EndpointRow, EventRow, Page, StoreResult, WebhookStore};
use sqlx::any::AnyRow;

const ENDPOINT_COLUMNS: &str = "id, merchant_id, url, secret_sealed, wrapped_key, created";
const DELIVERY_COLUMNS: &str = "d.id, d.event_id, e.kind AS event_type, d.endpoint_id, d.merchant_id, d.status, d.attempts, d.next_attempt, d.last_status_code, d.last_error, d.created";

fn endpoint(r: &AnyRow, prefix: &str) -> Result<EndpointRow, sqlx::Error> {
    let c = |n: &str| format!("{prefix}{n}");
    Ok(EndpointRow {
        id: col(r, &c("id"))?,
        merchant_id: col(r, &c("merchant_id")).map(MerchantId::stored)?,
        url: col(r, &c("url"))?,
        secret_sealed: col(r, &c("secret_sealed"))?,
        wrapped_key: col(r, &c("wrapped_key"))?,
        created: col(r, &c("created"))?,
    })
}

fn delivery(r: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: col(r, "id")?,
        event_id: col(r, "event_id")?,
        event_type: col(r, "event_type")?,
        endpoint_id: col(r, "endpoint_id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        status: col(r, "status")?,
        attempts: col(r, "attempts")?,
        next_attempt: col(r, "next_attempt")?,
        last_status_code: col(r, "last_status_code")?,
        last_error: col(r, "last_error")?,
        created: col(r, "created")?,
    })
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn insert_endpoint(&self, e: &EndpointRow) -> StoreResult<()> {
        q!("INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&e.id)
            .bind(e.merchant_id.as_str())
            .bind(&e.url)
            .bind(&e.secret_sealed)
            .bind(&e.wrapped_key)
            .bind(e.created)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn endpoints(&self, merchant_id: &MerchantId) -> StoreResult<Vec<EndpointRow>> {
        let rows = q!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 ORDER BY id"
        )
        .bind(merchant_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| endpoint(r, ""))
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<(DeliveryRow, EventRow, EndpointRow)>> {
        let rows = q!(
            "SELECT {DELIVERY_COLUMNS}, \
             e.id AS ev_id, e.merchant_id AS ev_merchant_id, e.kind AS ev_kind, e.object_id AS ev_object_id, e.payload AS ev_payload, e.created AS ev_created, \
             w.id AS w_id, w.merchant_id AS w_merchant_id, w.url AS w_url, w.secret_sealed AS w_secret_sealed, w.wrapped_key AS w_wrapped_key, w.created AS w_created \
             FROM webhook_deliveries d JOIN events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             WHERE d.status = 'pending' AND d.next_attempt <= $1 ORDER BY d.next_attempt, d.id LIMIT $2"
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let ev = EventRow {
                    id: col(r, "ev_id")?,
                    merchant_id: col(r, "ev_merchant_id").map(MerchantId::stored)?,
                    kind: col(r, "ev_kind")?,
                    object_id: col(r, "ev_object_id")?,
                    payload: col(r, "ev_payload")?,
                    created: col(r, "ev_created")?,
                };
                Ok((delivery(r)?, ev, endpoint(r, "w_")?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn record_attempt(&self, d: &DeliveryRow) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt = $3, last_status_code = $4, last_error = $5 WHERE id = $6",
        )
        .bind(&d.status)
        .bind(d.attempts)
        .bind(d.next_attempt)
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(&d.id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn deliveries(
        &self,
        merchant_id: &MerchantId,
        page: &Page,
    ) -> StoreResult<Vec<DeliveryRow>> {
        let select = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.merchant_id = $1"
        );
        let rows = self
            .fetch_page(&select, "d.id", merchant_id.as_str(), page)
            .await?;
        read_rows(&rows, delivery)
    }

    async fn endpoint_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query("SELECT id, wrapped_key FROM webhook_endpoints ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((col(r, "id")?, col(r, "wrapped_key")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn replace_endpoint_key(&self, id: &str, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        changed_one(
            &self.pool,
            sqlx::query(
                "UPDATE webhook_endpoints SET wrapped_key = $1 WHERE id = $2 AND wrapped_key = $3",
            )
            .bind(new)
            .bind(id)
            .bind(old),
        )
        .await
    }

    async fn replay_delivery(
        &self,
        merchant_id: &MerchantId,
        id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt = $1 WHERE merchant_id = $2 AND id = $3",
        )
        .bind(now)
        .bind(merchant_id.as_str())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(changed == 1)
    }
}
