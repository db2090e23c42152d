//! Values that cannot hold bad data: phone numbers, identifiers, free text and secret tokens
//! (money is in money.rs). Each parses from what a caller sends and explains what was wrong.

use crate::error::{Result, ServiceError};
use sha2::{Digest, Sha256};

/// A new time-ordered identifier with a type prefix (`pay_01J...`): sortable, so lists page by id.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// A random secret with a prefix saying what it is for (`sk_`, `tk_`, `ps_`, `whsec_`).
pub fn new_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|_| ServiceError::internal("the random source failed"))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// Secrets we issue are long and random, so a plain SHA-256 stores them safely (a slow password
/// hash buys nothing against 192-bit secrets and would cost every request).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A phone number in E.164 form: `+`, country code, 8 to 15 digits in all. Spaces, dashes, dots
/// and brackets are dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = cleaned.strip_prefix('+').unwrap_or("");
        if digits.len() < 8
            || digits.len() > 15
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(ServiceError::invalid(
                "invalid_phone",
                "phone must be in international form: + then 8 to 15 digits (for example +447700900123)",
            )
            .with_param("phone"));
        }
        Ok(Phone(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The identification bucket: the last four digits as a number (0..=9999).
    pub fn bucket(&self) -> u16 {
        bucket_of(self.last4()).unwrap_or(0)
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone(***{})", self.last4())
    }
}

/// Four digits to a bucket; `None` for anything else.
pub fn bucket_of(last4: &str) -> Option<u16> {
    (last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()))
        .then(|| last4.parse().ok())
        .flatten()
}

/// Free text with a length cap and no control characters.
pub fn check_text(value: &str, param: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "invalid_text",
            format!("{param} must be 1 to {max} characters, without control characters"),
        )
        .with_param(param));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        let p = Phone::parse("+44 (7700) 900-123").unwrap();
        assert_eq!(p.as_str(), "+447700900123");
        assert_eq!(p.last4(), "0123");
        assert_eq!(p.bucket(), 123);
        assert_eq!(format!("{p:?}"), "Phone(***0123)");
        for bad in [
            "",
            "447700900123",
            "+44",
            "+44770090012345678",
            "+4477009001a3",
            "+0447700900",
        ] {
            assert_eq!(
                Phone::parse(bad).unwrap_err().code,
                "invalid_phone",
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_and_secrets() {
        let (a, b) = (new_id("pay"), new_id("pay"));
        assert!(a.starts_with("pay_") && a.len() == 30 && a != b);
        let s = new_secret("sk").unwrap();
        assert!(s.starts_with("sk_") && s.len() == 51);
        assert_ne!(secret_hash(&s), s);
    }
}
