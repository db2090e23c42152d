//! Values that cannot hold bad data: phone numbers, currencies, amounts, identifiers and secret
//! tokens. Each parses from what a caller sends and explains what was wrong.

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

/// The index's owner of a person's palms (their palms never compete in one decision). Owners
/// are recomputed whenever the index is built, never stored, so a process-stable hash serves.
pub fn owner_of(person_id: &str) -> palm_index::Owner {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    palm_index::Owner(BuildHasherDefault::<DefaultHasher>::default().hash_one(person_id))
}

/// Four digits to a bucket; `None` for anything else.
pub fn bucket_of(last4: &str) -> Option<u16> {
    (last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()))
        .then(|| last4.parse().ok())
        .flatten()
}

/// An ISO 4217 currency, stored lower case. Amounts are integers of minor units, and the service
/// takes currencies with two decimals or none (like USD and JPY); three-decimal ones (KWD) and
/// codes that are no money (funds, metals, XXX, XTS) are refused by name.
pub fn parse_currency(raw: &str) -> Result<String> {
    let code = raw.trim().to_ascii_uppercase();
    let unknown = || {
        ServiceError::invalid(
            "invalid_currency",
            "currency must be an ISO 4217 code such as \"usd\"",
        )
        .with_param("currency")
    };
    let currency = iso_currency::Currency::from_code(&code)
        .filter(|c| !c.is_fund() && !c.is_special())
        .ok_or_else(unknown)?;
    match currency.exponent() {
        Some(0 | 2) => Ok(code.to_ascii_lowercase()),
        decimals => Err(ServiceError::invalid(
            "currency_not_supported",
            format!(
                "{code} has {} decimals; this service takes currencies with two decimals or none",
                decimals.unwrap_or(0)
            ),
        )
        .with_param("currency")),
    }
}

/// Largest amount accepted in one payment, in minor units (what card networks allow for a
/// single authorisation is of this order).
pub const MAX_AMOUNT: i64 = 99_999_999;

pub fn check_amount(value: i64, param: &str, allow_zero: bool) -> Result<i64> {
    let low = if allow_zero { 0 } else { 1 };
    if value < low || value > MAX_AMOUNT {
        return Err(ServiceError::invalid(
            "invalid_amount",
            format!("{param} must be an integer number of minor units from {low} to {MAX_AMOUNT}"),
        )
        .with_param(param));
    }
    Ok(value)
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
    fn currencies_are_iso_4217_with_two_decimals_or_none() {
        assert_eq!(parse_currency(" USD ").unwrap(), "usd");
        assert_eq!(parse_currency("jpy").unwrap(), "jpy");
        assert_eq!(parse_currency("eur").unwrap(), "eur");
        for (raw, code) in [
            ("xxx", "invalid_currency"),
            ("abc", "invalid_currency"),
            ("xau", "invalid_currency"),
            ("clf", "invalid_currency"),
            ("us", "invalid_currency"),
            ("", "invalid_currency"),
            ("kwd", "currency_not_supported"),
            ("bhd", "currency_not_supported"),
        ] {
            let e = parse_currency(raw).unwrap_err();
            assert_eq!(e.code, code, "{raw}");
            assert_eq!(e.param.as_deref(), Some("currency"), "{raw}");
        }
    }

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
    fn amounts_currencies_ids() {
        assert!(check_amount(0, "amount", false).is_err());
        assert!(check_amount(0, "tip", true).is_ok());
        assert!(check_amount(MAX_AMOUNT + 1, "amount", false).is_err());
        assert_eq!(parse_currency("EUR").unwrap(), "eur");
        assert!(parse_currency("eu").is_err());
        let (a, b) = (new_id("pay"), new_id("pay"));
        assert!(a.starts_with("pay_") && a.len() == 30 && a != b);
        let s = new_secret("sk").unwrap();
        assert!(s.starts_with("sk_") && s.len() == 51);
        assert_ne!(secret_hash(&s), s);
    }
}
