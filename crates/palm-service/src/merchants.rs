//! Merchant onboarding, run by the operator against the database (`palmline merchants ...`): a
//! new merchant with its API key and till credentials, the list of merchants, and disabling one.
//! Credentials are shown once, at creation; the database keeps only their hashes.

use crate::Service;
use crate::domain::{check_text, new_id, new_secret, secret_hash};
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::MerchantId;
use crate::store::{MerchantRow, Store, TillRow};
use serde::{Deserialize, Serialize};

/// A new merchant's credentials (the demo merchant's are kept in the data directory, 0600, so
/// every start can print them).
#[derive(Clone, Serialize, Deserialize)]
pub struct MerchantCredentials {
    pub merchant: MerchantId,
    #[serde(default)]
    pub name: String,
    pub api_key: String,
    pub tills: Vec<TillCredential>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TillCredential {
    pub id: String,
    pub name: String,
    pub credential: String,
}

/// Secrets never reach a log line through `Debug`.
impl std::fmt::Debug for MerchantCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tills: Vec<&str> = self.tills.iter().map(|t| t.id.as_str()).collect();
        f.debug_struct("MerchantCredentials")
            .field("merchant", &self.merchant)
            .field("name", &self.name)
            .field("tills", &tills)
            .finish_non_exhaustive()
    }
}

/// Creates a merchant with one store and the named tills, in one transaction.
pub async fn create(
    store: &dyn Store,
    name: &str,
    store_name: &str,
    till_names: &[String],
    now: i64,
) -> Result<MerchantCredentials> {
    let name = check_text(name, "name", 100)?;
    let store_name = check_text(store_name, "store", 100)?;
    if till_names.is_empty() || till_names.len() > 100 {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_tills",
            "a merchant needs 1 to 100 tills",
        ));
    }
    let merchant = MerchantRow {
        id: MerchantId::generate(),
        name: name.clone(),
        api_key_hash: String::new(),
        created: now,
        disabled: None,
    };
    let api_key = new_secret("sk_test")?;
    let mut creds = MerchantCredentials {
        merchant: merchant.id.clone(),
        name,
        api_key: api_key.clone(),
        tills: vec![],
    };
    let mut tills = vec![];
    for till_name in till_names {
        let till_name = check_text(till_name, "till", 100)?;
        let credential = new_secret("tk_test")?;
        let till = TillRow {
            id: new_id("till"),
            merchant_id: merchant.id.clone(),
            store_name: store_name.clone(),
            name: till_name.clone(),
            secret_hash: secret_hash(&credential),
        };
        creds.tills.push(TillCredential {
            id: till.id.clone(),
            name: till_name,
            credential,
        });
        tills.push(till);
    }
    store
        .insert_merchant(
            &MerchantRow {
                api_key_hash: secret_hash(&api_key),
                ..merchant
            },
            &tills,
        )
        .await?;
    Ok(creds)
}

/// Every merchant, oldest first.
pub async fn list(store: &dyn Store) -> Result<Vec<MerchantRow>> {
    Ok(store.merchants().await?)
}

/// Disables a merchant: its API key, tills, gates and devices are refused from then on (their
/// data stays, for refunds by the operator and for the audit trail). False when no such
/// merchant is active.
pub async fn disable(store: &dyn Store, id: &str, now: i64) -> Result<bool> {
    Ok(store.disable_merchant(id, now).await?)
}

impl Service {
    /// Onboards a merchant on this service's database (the demo merchant at a first start).
    pub async fn create_merchant(
        &self,
        name: &str,
        store_name: &str,
        till_names: &[String],
    ) -> Result<MerchantCredentials> {
        create(
            self.store.as_ref(),
            name,
            store_name,
            till_names,
            self.now_s(),
        )
        .await
    }
}
