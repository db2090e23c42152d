//! What the payment use cases take: the service's own requests, with sums as [`Amount`]s, the
//! currency a [`Currency`] and the capture method a [`CaptureMethod`]. The HTTP edge maps the
//! wire requests (`palm_api`) to these, so no use case reads a raw number or code a caller sent,
//! and the service's own callers (a shopping trip's charge, a receipt's adjustment) say what they
//! mean without building a wire request. What only the stored payment can tell (a capture no
//! larger than the authorisation, a tip that keeps the total within bounds) is checked by the
//! use case.

use crate::domain::check_text;
use crate::error::Result;
use crate::money::{Amount, Currency};
use crate::payment_state::CaptureMethod;
use crate::presented::Presentation;

/// A payment a merchant asks for, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPayment {
    pub amount: Amount,
    pub tip: Amount,
    pub currency: Currency,
    /// The till where the person will pay; a till creating its own payment may leave it out.
    pub till: Option<String>,
    /// The merchant's own reference (an order number), at most 200 characters.
    pub reference: Option<String>,
    pub capture_method: CaptureMethod,
}

impl NewPayment {
    /// Checks a request: `amount` from 1, `tip` from 0, their sum within [`crate::money::MAX_AMOUNT`],
    /// a currency the service takes, a printable reference. Each error names its field.
    pub fn new(amount: i64, tip: Option<i64>, currency: &str) -> Result<NewPayment> {
        let amount = Amount::parse(amount, "amount", false)?;
        let tip = Amount::parse(tip.unwrap_or(0), "tip", true)?;
        Amount::parse((amount + tip).minor_units(), "amount", false)?;
        Ok(NewPayment {
            amount,
            tip,
            currency: Currency::parse(currency)?,
            till: None,
            reference: None,
            capture_method: CaptureMethod::Automatic,
        })
    }

    /// At `till` (as the caller named it; the use case checks it is the merchant's).
    pub fn at_till(self, till: Option<String>) -> NewPayment {
        NewPayment { till, ..self }
    }

    /// With the merchant's reference, checked.
    pub fn with_reference(self, reference: Option<&str>) -> Result<NewPayment> {
        let reference = reference
            .map(|r| check_text(r, "reference", 200))
            .transpose()?;
        Ok(NewPayment { reference, ..self })
    }

    /// Authorised now and captured later (a hold), instead of captured at once.
    pub fn captured(self, capture_method: CaptureMethod) -> NewPayment {
        NewPayment {
            capture_method,
            ..self
        }
    }
}

/// What a person chose after a palm read with `confirm: false`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Confirmation {
    /// One of the person's cards (default: the one the palm read picked).
    pub card: Option<String>,
    pub tip: Option<Amount>,
    pub reward: Option<String>,
}

impl Confirmation {
    /// Checks a request's tip (from 0; the use case checks the total).
    pub fn new(card: Option<String>, tip: Option<i64>, reward: Option<String>) -> Result<Self> {
        Ok(Confirmation {
            card,
            tip: tip.map(|t| Amount::parse(t, "tip", true)).transpose()?,
            reward,
        })
    }
}

/// A palm for a payment waiting at a till: what the scanner presents and what the person chose
/// at the till.
#[derive(Clone, Debug)]
pub struct PalmPayment {
    pub presented: Presentation,
    /// The last four digits of the phone, when the service asked for a hint (checked by the
    /// identification: four digits).
    pub phone_last4: Option<String>,
    /// Pay with this one of the person's cards instead of their default.
    pub card: Option<String>,
    /// `false`: identify only and wait for the person's confirmation at the till.
    pub confirm: bool,
    pub reward: Option<String>,
}

/// How much of a whole a caller asked for: of an authorisation to capture, of a capture to
/// refund. Only the whole can say whether a sum fits (from 1 to all of it), so the use case
/// checks it, after the payment's state: a refund of a payment not yet paid is refused for that,
/// whatever sum it names.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Part {
    /// All of it (the caller named no sum).
    #[default]
    All,
    /// This many minor units, as asked.
    Sum(i64),
}

impl Part {
    /// What a request's optional `amount` asks for.
    pub fn asked(amount: Option<i64>) -> Part {
        amount.map_or(Part::All, Part::Sum)
    }

    /// Exactly `amount` (the service's own callers: a trip's total, an adjustment's sum).
    pub fn exactly(amount: Amount) -> Part {
        Part::Sum(amount.minor_units())
    }

    /// The sum asked for, checked against `whole`; `explain` says the range in the caller's
    /// terms.
    pub fn of(self, whole: Amount, explain: impl FnOnce(Amount) -> String) -> Result<Amount> {
        let asked = match self {
            Part::All => None,
            Part::Sum(minor_units) => Some(minor_units),
        };
        Amount::part_of(asked, whole, explain)
    }
}

/// A refund a merchant asks for, its reason checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewRefund {
    /// Default: everything not yet refunded.
    pub amount: Part,
    /// At most 200 printable characters.
    pub reason: Option<String>,
}

impl NewRefund {
    pub fn new(amount: Option<i64>, reason: Option<&str>) -> Result<NewRefund> {
        Ok(NewRefund {
            amount: Part::asked(amount),
            reason: reason.map(|r| check_text(r, "reason", 200)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_field_by_field() {
        let p = NewPayment::new(1250, Some(100), "usd").unwrap();
        assert_eq!((p.amount.minor_units(), p.tip.minor_units()), (1250, 100));
        assert_eq!(p.currency, Currency::USD);
        assert_eq!(p.capture_method, CaptureMethod::Automatic);
        for (amount, tip, currency, param) in [
            (0, None, "USD", "amount"),
            (-5, None, "USD", "amount"),
            (100, Some(-1), "USD", "tip"),
            (crate::money::MAX_AMOUNT, Some(1), "USD", "amount"),
            (100, None, "XYZ", "currency"),
        ] {
            let e = NewPayment::new(amount, tip, currency).unwrap_err();
            assert_eq!(
                e.param.as_deref(),
                Some(param),
                "{amount} {tip:?} {currency}"
            );
        }
        let long = "x".repeat(201);
        let e = p.clone().with_reference(Some(&long)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("reference"));
        assert_eq!(
            p.with_reference(Some(" order 7 "))
                .unwrap()
                .reference
                .as_deref(),
            Some("order 7")
        );

        let whole = Amount::parse(500, "amount", false).unwrap();
        let explain = |w: Amount| format!("from 1 to {w}");
        assert_eq!(Part::asked(None).of(whole, explain).unwrap(), whole);
        assert_eq!(
            Part::asked(Some(200))
                .of(whole, explain)
                .unwrap()
                .minor_units(),
            200
        );
        for wrong in [0, -1, 501] {
            let e = Part::asked(Some(wrong)).of(whole, explain).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("amount"), "{wrong}");
        }
        assert_eq!(
            NewRefund::new(Some(5), Some("\u{7}"))
                .unwrap_err()
                .param
                .as_deref(),
            Some("reason")
        );
        let tip = Confirmation::new(None, Some(-1), None).unwrap_err();
        assert_eq!(tip.param.as_deref(), Some("tip"));
    }
}
