//! Stored API answers (the idempotency records that let a retried request get its first answer
//! back) are sealed, never kept in clear: answers carry webhook secrets, person session tokens,
//! gate credentials and pairing codes. Each answer gets its own data key, wrapped by the master
//! key like people's keys, and is bound to its record (credential scope and key).

use crate::error::{Result, ServiceError};
use crate::{Service, context};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// Marks a sealed answer; a record without it was written before answers were sealed.
const SEALED: &str = "sealed:v1:";

impl Service {
    /// The stored form of an answer to the request `key` made with credential `scope`.
    pub fn seal_answer(&self, scope: &str, key: &str, answer: &[u8]) -> Result<String> {
        let (data_key, wrapped) = self.new_data_key()?;
        let sealed = data_key.seal(answer, &record(scope, key))?;
        Ok(format!(
            "{SEALED}{}.{}",
            B64.encode(&wrapped.0),
            B64.encode(sealed)
        ))
    }

    /// The answer a record holds.
    pub fn open_answer(&self, scope: &str, key: &str, stored: &str) -> Result<Vec<u8>> {
        let Some(rest) = stored.strip_prefix(SEALED) else {
            return Ok(stored.as_bytes().to_vec());
        };
        let broken = || ServiceError::internal("a stored answer could not be opened");
        let (wrapped, sealed) = rest.split_once('.').ok_or_else(broken)?;
        let wrapped = B64.decode(wrapped).map_err(|_| broken())?;
        let sealed = B64.decode(sealed).map_err(|_| broken())?;
        Ok(self
            .data_key(&wrapped)?
            .open(&sealed, &record(scope, key))?)
    }
}

/// A stored answer with its data key wrapped by the key ring's active master key (master-key
/// rotation); `None` when it is not sealed or already is.
pub fn rewrap_answer(
    ring: &palm_vault::KeyRing,
    stored: &str,
) -> std::result::Result<Option<String>, palm_vault::VaultError> {
    let broken = || palm_vault::VaultError::KeyFile("a stored answer is malformed".into());
    let Some(rest) = stored.strip_prefix(SEALED) else {
        return Ok(None);
    };
    let (wrapped, sealed) = rest.split_once('.').ok_or_else(broken)?;
    let old = B64.decode(wrapped).map_err(|_| broken())?;
    let new = ring.rewrap(&palm_vault::WrappedKey(old.clone()))?;
    Ok((new.0 != old).then(|| format!("{SEALED}{}.{sealed}", B64.encode(&new.0))))
}

fn record(scope: &str, key: &str) -> Vec<u8> {
    context("answer", &format!("{scope}/{key}"))
}
