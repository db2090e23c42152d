//! Card data as types that cannot hold bad values: a Luhn-checked card number whose every printed
//! form is masked, an expiry date, and a CVV that can be passed on but never printed.

use std::fmt;
use std::str::FromStr;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    #[error("card number must be 12 to 19 digits (spaces and dashes allowed)")]
    NumberFormat,
    #[error("card number fails the Luhn check")]
    Luhn,
    /// The number's leading digits name a network whose numbers have other lengths (a 15-digit
    /// number starting with 4 is no Visa number, however its check digit falls).
    #[error("a {brand} card number has {lengths} digits")]
    BrandLength {
        brand: &'static str,
        lengths: &'static str,
    },
    #[error("expiry must be MM/YY or MM/YYYY with a month from 01 to 12")]
    ExpiryFormat,
    #[error("card expired")]
    Expired,
    #[error("security code must be 3 or 4 digits")]
    Cvv,
}

/// Card networks, recognised from the number's leading digits (BIN ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    UnionPay,
    Unknown,
}

impl Brand {
    fn of(digits: &str) -> Brand {
        let prefix = |n: usize| {
            digits
                .get(..n)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        match (prefix(1), prefix(2), prefix(3), prefix(4)) {
            (4, ..) => Brand::Visa,
            (_, 51..=55, ..) | (.., 2221..=2720) => Brand::Mastercard,
            (_, 34 | 37, ..) => Brand::Amex,
            (.., 6011) | (_, _, 644..=649, _) | (_, 65, ..) => Brand::Discover,
            (.., 3528..=3589) => Brand::Jcb,
            (_, 62, ..) => Brand::UnionPay,
            _ => Brand::Unknown,
        }
    }

    /// The lengths the network issues, as a test (and as words for the error).
    fn lengths(self) -> (fn(usize) -> bool, &'static str) {
        match self {
            Brand::Visa => (|n| matches!(n, 13 | 16 | 19), "13, 16 or 19"),
            Brand::Mastercard => (|n| n == 16, "16"),
            Brand::Amex => (|n| n == 15, "15"),
            Brand::Discover | Brand::Jcb | Brand::UnionPay => {
                (|n| (16..=19).contains(&n), "16 to 19")
            }
            Brand::Unknown => (|n| (12..=19).contains(&n), "12 to 19"),
        }
    }

    /// The network's name as people write it.
    fn display_name(self) -> &'static str {
        match self {
            Brand::Visa => "Visa",
            Brand::Mastercard => "Mastercard",
            Brand::Amex => "American Express",
            Brand::Discover => "Discover",
            Brand::Jcb => "JCB",
            Brand::UnionPay => "UnionPay",
            Brand::Unknown => "card",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Jcb => "jcb",
            Brand::UnionPay => "unionpay",
            Brand::Unknown => "unknown",
        }
    }
}

/// A primary account number. `Debug` and `Display` show at most the first six and last four
/// digits; the full number is only reachable through [`CardNumber::expose_digits`], which the
/// vault calls to encrypt it or hand it to a processor. Wiped from memory on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardNumber(String);

impl FromStr for CardNumber {
    type Err = CardError;

    fn from_str(s: &str) -> Result<Self, CardError> {
        let mut digits = String::with_capacity(19);
        for c in s.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(CardError::NumberFormat),
            }
        }
        if !(12..=19).contains(&digits.len()) {
            digits.zeroize();
            return Err(CardError::NumberFormat);
        }
        if !luhn(&digits) {
            digits.zeroize();
            return Err(CardError::Luhn);
        }
        let brand = Brand::of(&digits);
        let (allowed, lengths) = brand.lengths();
        if !allowed(digits.len()) {
            digits.zeroize();
            return Err(CardError::BrandLength {
                brand: brand.display_name(),
                lengths,
            });
        }
        Ok(CardNumber(digits))
    }
}

/// The digit that completes `body` (digits only) to a Luhn-valid number: how test and bench
/// card numbers are made.
pub fn luhn_check_digit(body: &str) -> char {
    ('0'..='9')
        .find(|d| luhn(&format!("{body}{d}")))
        .unwrap_or('0')
}

/// The Luhn (mod 10) check digit test.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl CardNumber {
    pub fn brand(&self) -> Brand {
        Brand::of(&self.0)
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The masked form: first six (fewer for short numbers), stars, last four.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let head = 6.min(n.saturating_sub(4 + 2));
        format!(
            "{}{}{}",
            &self.0[..head],
            "*".repeat(n - head - 4),
            &self.0[n - 4..]
        )
    }

    /// The full digits, for encryption and for the processor only.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Expiry month and year (four-digit year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiry {
    pub year: u16,
    pub month: u8,
}

impl FromStr for Expiry {
    type Err = CardError;

    fn from_str(s: &str) -> Result<Self, CardError> {
        let (m, y) = s.trim().split_once('/').ok_or(CardError::ExpiryFormat)?;
        let all_digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(m) || !all_digits(y) || m.len() > 2 || !(y.len() == 2 || y.len() == 4) {
            return Err(CardError::ExpiryFormat);
        }
        let month: u8 = m.parse().map_err(|_| CardError::ExpiryFormat)?;
        let year: u16 = y.parse().map_err(|_| CardError::ExpiryFormat)?;
        if !(1..=12).contains(&month) {
            return Err(CardError::ExpiryFormat);
        }
        Ok(Expiry {
            year: if y.len() == 2 { 2000 + year } else { year },
            month,
        })
    }
}

impl Expiry {
    /// A card is valid through the last day of its expiry month.
    pub fn check(self, today_year: u16, today_month: u8) -> Result<Expiry, CardError> {
        if (self.year, self.month) < (today_year, today_month) {
            Err(CardError::Expired)
        } else {
            Ok(self)
        }
    }
}

/// A card security code: passed through to the processor, never stored, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Cvv(String);

impl FromStr for Cvv {
    type Err = CardError;

    fn from_str(s: &str) -> Result<Self, CardError> {
        let s = s.trim();
        if (3..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Cvv(s.to_string()))
        } else {
            Err(CardError::Cvv)
        }
    }
}

impl Cvv {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvv(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_complete_known_numbers() {
        assert_eq!(luhn_check_digit("424242424242424"), '2');
        assert_eq!(luhn_check_digit("555555555555444"), '4');
        assert_eq!(luhn_check_digit("37144963539843"), '1');
        let made = format!("4{:014}{}", 7, luhn_check_digit(&format!("4{:014}", 7)));
        assert!(made.parse::<CardNumber>().is_ok());
    }

    #[test]
    fn numbers_parse_with_luhn_and_print_masked() {
        let n: CardNumber = "4242 4242 4242 4242".parse().unwrap();
        assert_eq!(n.brand(), Brand::Visa);
        assert_eq!(n.to_string(), "424242******4242");
        assert_eq!(format!("{n:?}"), "CardNumber(424242******4242)");
        assert_eq!(n.last4(), "4242");
        let amex: CardNumber = "3714-496353-98431".parse().unwrap();
        assert_eq!(format!("{amex:?}"), "CardNumber(371449*****8431)");
        assert_eq!(
            "4242 4242 4242 4241".parse::<CardNumber>(),
            Err(CardError::Luhn)
        );
        assert_eq!("4242".parse::<CardNumber>(), Err(CardError::NumberFormat));
        assert_eq!(
            "4242x4242424242424".parse::<CardNumber>(),
            Err(CardError::NumberFormat)
        );
        assert_eq!("".parse::<CardNumber>(), Err(CardError::NumberFormat));
    }

    #[test]
    fn brands_from_bin_ranges() {
        let cases = [
            ("4000000000000002", Brand::Visa),
            ("5555555555554444", Brand::Mastercard),
            ("2223003122003222", Brand::Mastercard),
            ("2720990000000007", Brand::Mastercard),
            ("378282246310005", Brand::Amex),
            ("6011111111111117", Brand::Discover),
            ("6445644564456445", Brand::Discover),
            ("6500000000000002", Brand::Discover),
            ("3530111333300000", Brand::Jcb),
            ("6200000000000005", Brand::UnionPay),
            ("1234567812345670", Brand::Unknown),
        ];
        for (digits, brand) in cases {
            let n: CardNumber = digits.parse().unwrap_or_else(|e| panic!("{digits}: {e}"));
            assert_eq!(n.brand(), brand, "{digits}");
        }
    }

    #[test]
    fn expiry_and_cvv() {
        let e: Expiry = "04/29".parse().unwrap();
        assert_eq!(
            e,
            Expiry {
                year: 2029,
                month: 4
            }
        );
        assert_eq!(
            "12/2030".parse::<Expiry>().unwrap(),
            Expiry {
                year: 2030,
                month: 12
            }
        );
        for bad in ["13/29", "00/29", "4-29", "04/2", "aa/bb", "04/029"] {
            assert_eq!(bad.parse::<Expiry>(), Err(CardError::ExpiryFormat), "{bad}");
        }
        assert_eq!(e.check(2029, 4), Ok(e));
        assert_eq!(e.check(2029, 5), Err(CardError::Expired));
        let cvv: Cvv = "123".parse().unwrap();
        assert_eq!(format!("{cvv:?}"), "Cvv(***)");
        assert!("12".parse::<Cvv>().is_err() && "12345".parse::<Cvv>().is_err());
    }
}
