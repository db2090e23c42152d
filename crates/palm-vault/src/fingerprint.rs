//! Keyed fingerprints of card numbers (HMAC-SHA256), so the same card can be recognised across
//! people without storing it in the clear or as a plain hash that a card-number list would
//! reverse in seconds.

use crate::card::CardNumber;
use hmac::{KeyInit, Mac};
use zeroize::{Zeroize, ZeroizeOnDrop};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Fingerprinter([u8; 32]);

impl Fingerprinter {
    pub fn new(key: [u8; 32]) -> Fingerprinter {
        Fingerprinter(key)
    }

    /// Lower-case hex HMAC of the card's digits.
    pub fn card(&self, number: &CardNumber) -> String {
        self.hex_mac(&[number.expose_digits().as_bytes()])
    }

    /// Keyed fingerprint of another identifying value (a phone number), domain-separated from
    /// card fingerprints by `label`.
    pub fn value(&self, label: &str, value: &str) -> String {
        self.hex_mac(&[label.as_bytes(), b":", value.as_bytes()])
    }

    fn hex_mac(&self, parts: &[&[u8]]) -> String {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_card_same_fingerprint_other_key_other_fingerprint() {
        let a: CardNumber = "4242 4242 4242 4242".parse().unwrap();
        let b: CardNumber = "4242-4242-4242-4242".parse().unwrap();
        let c: CardNumber = "5555555555554444".parse().unwrap();
        let f = Fingerprinter::new([7; 32]);
        assert_eq!(f.card(&a), f.card(&b));
        assert_ne!(f.card(&a), f.card(&c));
        assert_ne!(f.card(&a), Fingerprinter::new([8; 32]).card(&a));
        assert_eq!(f.card(&a).len(), 64);
        assert!(!f.card(&a).contains("4242"));
    }
}
