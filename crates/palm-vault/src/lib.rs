//! The vault: card data types, envelope encryption of card numbers and templates under per-person
//! data keys, keyed fingerprints for duplicate-card detection, and master-key custody.
//!
//! The key design decision: nothing outside this crate ever sees a raw card number or a key.
//! `CardNumber` and `Cvv` print masked, keys print as placeholders, and every error message is
//! free of secrets. No HTTP, no database: callers store the opaque bytes this crate produces.

mod card;
pub mod device;
mod envelope;
mod fingerprint;
mod keyfile;

pub use card::{Brand, CardError, CardNumber, Cvv, Expiry, luhn_check_digit};
pub use envelope::{DataKey, KeyRing, MasterKey, VaultError, WrappedKey};
pub use fingerprint::Fingerprinter;
pub use keyfile::{load_or_create_key, write_key_file, write_private};
