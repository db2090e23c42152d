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

    /// A bearer capability for `value` (a receipt link for a shopping trip, say): the first 128
    /// bits of its keyed fingerprint under `label`, in hex. Only this key makes one.
    pub fn capability(&self, label: &str, value: &str) -> String {
        let mut full = self.value(label, value);
        full.truncate(32);
        full
    }

    /// Whether `claimed` is [`Fingerprinter::capability`] of `value`, compared in constant time.
    pub fn check_capability(&self, label: &str, value: &str, claimed: &str) -> bool {
        let Ok(bytes) = hex::decode(claimed) else {
            return false;
        };
        bytes.len() == 16
            && self
                .mac(&[label.as_bytes(), b":", value.as_bytes()])
                .verify_truncated_left(&bytes)
                .is_ok()
    }

    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
        }
        mac
    }

    fn hex_mac(&self, parts: &[&[u8]]) -> String {
        hex::encode(self.mac(parts).finalize().into_bytes())
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

    #[test]
    fn capabilities_open_only_their_value_under_their_key() {
        let f = Fingerprinter::new([7; 32]);
        let token = f.capability("receipt", "trip_1");
        assert_eq!(token.len(), 32);
        assert!(f.check_capability("receipt", "trip_1", &token));
        assert!(!f.check_capability("receipt", "trip_2", &token));
        assert!(!f.check_capability("phone", "trip_1", &token));
        assert!(!Fingerprinter::new([8; 32]).check_capability("receipt", "trip_1", &token));
        let mut flipped = token.clone().into_bytes();
        flipped[31] = if flipped[31] == b'0' { b'1' } else { b'0' };
        assert!(!f.check_capability("receipt", "trip_1", std::str::from_utf8(&flipped).unwrap()));
        for bad in ["", "zz", &token[..30], &format!("{token}00")] {
            assert!(!f.check_capability("receipt", "trip_1", bad), "{bad}");
        }
    }
}
