//! Who is calling, for the HTTP edge: a credential's hash to its merchant, till or gate (a signed
//! device names its own till or gate), a merchant's tills, and whether the database answers. The
//! edge hashes the bearer token and asks here; it never reads the store itself.

use crate::Service;
use crate::error::{Result, ServiceError};
use crate::ids::MerchantId;
use crate::store::{GateRow, MerchantRow, TillRow};

/// A till with its merchant's name, as its receipts name them.
#[derive(Debug, Clone, PartialEq)]
pub struct TillProfile {
    pub till: TillRow,
    pub merchant: String,
}

impl Service {
    /// The active merchant whose API key hashes to `key_hash`.
    pub async fn merchant_by_key(&self, key_hash: &str) -> Result<Option<MerchantRow>> {
        Ok(self.store.merchant_by_key(key_hash).await?)
    }

    /// The till whose credential hashes to `secret_hash`.
    pub async fn till_by_secret(&self, secret_hash: &str) -> Result<Option<TillRow>> {
        Ok(self.store.till_by_secret(secret_hash).await?)
    }

    /// The gate whose credential hashes to `secret_hash`.
    pub async fn gate_by_secret(&self, secret_hash: &str) -> Result<Option<GateRow>> {
        Ok(self.store.gate_by_secret(secret_hash).await?)
    }

    /// Till `id` of `merchant_id` (a signed device names the till it is paired to).
    pub async fn till(&self, merchant_id: &MerchantId, id: &str) -> Result<Option<TillRow>> {
        Ok(self.store.till(merchant_id, id).await?)
    }

    /// Gate `id` of `merchant_id`.
    pub async fn gate(&self, merchant_id: &MerchantId, id: &str) -> Result<Option<GateRow>> {
        Ok(self.store.gate(merchant_id, id).await?)
    }

    /// What a till shows of itself (on receipts): its name, its store's, and its merchant's.
    pub async fn till_profile(&self, till: &TillRow) -> Result<TillProfile> {
        let merchant = self
            .store
            .merchant(&till.merchant_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("merchant"))?;
        Ok(TillProfile {
            till: till.clone(),
            merchant: merchant.name,
        })
    }

    /// A merchant's tills.
    pub async fn tills(&self, merchant_id: &MerchantId) -> Result<Vec<TillRow>> {
        Ok(self.store.tills(merchant_id).await?)
    }

    /// The database's kind (`sqlite`, `postgres`) once it has answered a query.
    pub async fn database_health(&self) -> Result<&'static str> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }

    /// Whether any merchant has been onboarded (a fresh database has none).
    pub async fn has_merchants(&self) -> Result<bool> {
        Ok(self.store.merchant_count().await? > 0)
    }
}
