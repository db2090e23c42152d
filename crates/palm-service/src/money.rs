//! Money as the use cases hold it: an [`Amount`] is a non-negative number of minor units, a
//! [`Currency`] an ISO 4217 code the service takes, with its decimals. Both are only made by
//! parsing what a caller sent (with an error naming the field) or by reading back what the store
//! wrote (refused if it is not money), so a payment can never carry a negative sum or an unknown
//! currency.

use crate::error::{Result, ServiceError};

/// Largest amount accepted in one payment, in minor units (what card networks allow for a
/// single authorisation is of this order).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// A sum in minor units (cents for USD, yen for JPY), never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// The smallest charge: one cent, one yen.
    pub const MINOR_UNIT: Amount = Amount(1);

    /// What a caller sent for `param`: from 1 (or 0 with `allow_zero`) to [`MAX_AMOUNT`].
    pub fn parse(value: i64, param: &str, allow_zero: bool) -> Result<Amount> {
        let low = if allow_zero { 0 } else { 1 };
        if value < low || value > MAX_AMOUNT {
            return Err(ServiceError::invalid(
                "invalid_amount",
                format!(
                    "{param} must be an integer number of minor units from {low} to {MAX_AMOUNT}"
                ),
            )
            .with_param(param));
        }
        Ok(Amount(value))
    }

    /// What a caller sent as `amount` for a part of `whole` (a capture, a refund): from 1 to
    /// `whole`; absent means all of it. `explain` says the range in the caller's terms.
    pub fn part_of(
        value: Option<i64>,
        whole: Amount,
        explain: impl FnOnce(Amount) -> String,
    ) -> Result<Amount> {
        let value = value.unwrap_or(whole.0);
        if value < 1 || value > whole.0 {
            return Err(
                ServiceError::invalid("invalid_amount", explain(whole)).with_param("amount")
            );
        }
        Ok(Amount(value))
    }

    /// A stored sum; `None` for a negative one (a row no build of this service writes).
    pub fn stored(minor_units: i64) -> Option<Amount> {
        (minor_units >= 0).then_some(Amount(minor_units))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self - other`, or zero where `other` is larger.
    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount((self.0 - other.0).max(0))
    }

    /// `self - other` where the caller knows `other` is the smaller (a part of a whole).
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        Amount::stored(self.0 - other.0)
    }
}

/// Sums of amounts stay far inside `i64`: each is at most [`MAX_AMOUNT`].
impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, other: Amount) -> Amount {
        Amount(self.0 + other.0)
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An ISO 4217 currency with two decimals or none (like USD and JPY), held as its lower-case
/// code (how the API and the store write it) and its number of decimals.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    decimals: u8,
}

impl Currency {
    pub const USD: Currency = Currency {
        code: *b"usd",
        decimals: 2,
    };

    /// What a caller sent: any case, surrounding space ignored. Three-decimal currencies (KWD)
    /// and codes that are no money (funds, metals, XXX, XTS) are refused by name.
    pub fn parse(raw: &str) -> Result<Currency> {
        let code = raw.trim().to_ascii_uppercase();
        let known = iso_currency::Currency::from_code(&code)
            .filter(|c| !c.is_fund() && !c.is_special())
            .ok_or_else(|| {
                ServiceError::invalid(
                    "invalid_currency",
                    "currency must be an ISO 4217 code such as \"usd\"",
                )
                .with_param("currency")
            })?;
        match known.exponent() {
            Some(decimals @ (0 | 2)) => {
                let mut lower = [0u8; 3];
                lower.copy_from_slice(code.to_ascii_lowercase().as_bytes());
                Ok(Currency {
                    code: lower,
                    decimals: decimals as u8,
                })
            }
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

    /// A stored code; `None` for one this service would not have taken.
    pub fn stored(code: &str) -> Option<Currency> {
        Currency::parse(code).ok().filter(|c| c.as_str() == code)
    }

    /// The lower-case code (`"usd"`).
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever written into `code`.
        std::str::from_utf8(&self.code).unwrap_or("xxx")
    }

    /// Minor units in one whole unit: 100 for USD, 1 for JPY.
    pub fn minor_per_unit(self) -> i64 {
        10i64.pow(self.decimals as u32)
    }
}

impl std::fmt::Debug for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_and_name_their_field() {
        assert_eq!(Amount::parse(1, "amount", false).unwrap().minor_units(), 1);
        assert!(Amount::parse(0, "tip", true).unwrap().is_zero());
        for (value, allow_zero) in [(0, false), (-1, true), (MAX_AMOUNT + 1, true)] {
            let e = Amount::parse(value, "tip", allow_zero).unwrap_err();
            assert_eq!(e.code, "invalid_amount");
            assert_eq!(e.param.as_deref(), Some("tip"));
        }
        let whole = Amount::parse(500, "amount", false).unwrap();
        let explain = |w: Amount| format!("up to {w}");
        assert_eq!(Amount::part_of(None, whole, explain).unwrap(), whole);
        assert_eq!(
            Amount::part_of(Some(200), whole, explain)
                .unwrap()
                .minor_units(),
            200
        );
        let e = Amount::part_of(Some(501), whole, explain).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("invalid_amount", "up to 500")
        );
        assert!(Amount::part_of(Some(0), whole, explain).is_err());
        assert_eq!(Amount::stored(-5), None);
        assert_eq!(whole.checked_sub(whole + whole), None);
        assert_eq!(whole.saturating_sub(whole + whole), Amount::ZERO);
    }

    #[test]
    fn currencies_keep_their_decimals_and_refuse_what_is_no_money() {
        let usd = Currency::parse(" USD ").unwrap();
        assert_eq!(usd, Currency::USD);
        assert_eq!(usd.as_str(), "usd");
        assert_eq!(usd.minor_per_unit(), 100);
        assert_eq!(Currency::parse("jpy").unwrap().minor_per_unit(), 1);
        for (raw, code) in [
            ("xxx", "invalid_currency"),
            ("xts", "invalid_currency"),
            ("abc", "invalid_currency"),
            ("xau", "invalid_currency"),
            ("clf", "invalid_currency"),
            ("usn", "invalid_currency"),
            ("dollars", "invalid_currency"),
            ("us", "invalid_currency"),
            ("", "invalid_currency"),
            ("kwd", "currency_not_supported"),
            ("bhd", "currency_not_supported"),
        ] {
            let e = Currency::parse(raw).unwrap_err();
            assert_eq!(e.code, code, "{raw}");
            assert_eq!(e.param.as_deref(), Some("currency"), "{raw}");
        }
        assert_eq!(
            Currency::stored("eur").map(|c| c.minor_per_unit()),
            Some(100)
        );
        // The store only ever holds the lower-case form.
        assert_eq!(Currency::stored("EUR"), None);
    }
}
