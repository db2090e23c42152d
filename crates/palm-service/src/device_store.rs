//! The storage seam of paired devices: pairing codes, the devices' keys and roles, and the
//! allow-lists issued to gates for offline decisions. Same rules as `store.rs`.

use crate::error::StoreError;
use crate::ids::MerchantId;
use crate::store::{GateRow, Page};
use async_trait::async_trait;

type StoreResult<T> = Result<T, StoreError>;

/// A one-time code that pairs a device with a till or a gate.
#[derive(Clone, Debug)]
pub struct PairingRow {
    pub code_hash: String,
    pub merchant_id: MerchantId,
    pub till_id: Option<String>,
    pub gate_id: Option<String>,
    pub expires: i64,
}

/// A paired device: its public keys and what it acts as.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub name: String,
    pub till_id: Option<String>,
    pub gate_id: Option<String>,
    pub signing_key: Vec<u8>,
    pub seal_key: Vec<u8>,
    pub created: i64,
    pub revoked: Option<i64>,
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn insert_pairing_code(&self, p: &PairingRow) -> StoreResult<()>;
    /// Uses a pairing code and registers the device in one transaction; `None` (nothing
    /// written) when the code is unknown, used or expired at `now`.
    async fn pair_device(
        &self,
        code_hash: &str,
        now: i64,
        device: &DeviceRow,
    ) -> StoreResult<Option<DeviceRow>>;
    async fn device(&self, id: &str) -> StoreResult<Option<DeviceRow>>;
    async fn devices(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<DeviceRow>>;
    /// Marks the device revoked at `now` (once); false when it is not the merchant's.
    async fn revoke_device(
        &self,
        merchant_id: &MerchantId,
        id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Records a nonce in a scope; false when the scope has seen it already.
    async fn claim_nonce(&self, scope: &str, nonce: &str, now: i64) -> StoreResult<bool>;
    /// Forgets nonces recorded before `before`.
    async fn purge_nonces(&self, before: i64) -> StoreResult<u64>;
    async fn gate(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<GateRow>>;
    async fn insert_allow_list(&self, a: &AllowListRow) -> StoreResult<()>;
    async fn allow_list(&self, id: &str) -> StoreResult<Option<AllowListRow>>;
    /// Revokes every list of the event; returns how many were not yet revoked.
    async fn revoke_allow_lists(&self, event_id: &str, now: i64) -> StoreResult<u64>;
}

/// An allow-list issued to a gate device (its content is never stored).
#[derive(Clone, Debug)]
pub struct AllowListRow {
    pub id: String,
    pub event_id: String,
    pub device_id: String,
    pub issued: i64,
    pub expires: i64,
    pub revoked: Option<i64>,
}
