//! The tenant key as a type. Every query of a merchant's data takes a [`MerchantId`], and one is
//! made only by creating a merchant or by reading a stored row (the merchant an authenticated
//! credential belongs to, or the owner of a till, gate or device), never from text a caller sent:
//! a handler cannot scope a query by an identifier someone typed, and a merchant id cannot be
//! passed where a person's or a payment's is meant.

use crate::domain::new_id;

/// Serialised as the bare id (in the credentials files `palmline merchants` and the demo write).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MerchantId(String);

impl MerchantId {
    /// A new merchant's id (`mer_...`).
    pub fn generate() -> MerchantId {
        MerchantId(new_id("mer"))
    }

    /// The id a stored row holds (for the store, reading its own rows back).
    pub fn stored(id: String) -> MerchantId {
        MerchantId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MerchantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for MerchantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for MerchantId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
