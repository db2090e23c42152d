//! The scanner: the software of the small device next to a till or at a gate.
//!
//! It pairs once with a till or gate (a one-time code from staff; an Ed25519 signing key and an
//! X25519 key of its own, in its data directory, mode 0600), then for each person: takes frames
//! from a capture source until a palm is present and steady ([`capture::Gesture`]), seals the
//! chosen frame with HPKE to the server's capture key, bound to the payment or gate scan it is
//! for, and sends it in a signed request. Frames live only in memory and are wiped once sent; the
//! engine is used only to judge frames (guidance such as "move closer"), never to store them.

pub mod capture;
mod client;
mod identity;
pub mod offline;
pub mod sources;
#[cfg(feature = "synthetic")]
pub mod synthetic;
#[cfg(feature = "webcam")]
pub mod webcam;

pub use client::{Client, Reply};
pub use identity::{DeviceKeys, Paired};

/// What can go wrong on the device, in words for its operator.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    #[error("{0}")]
    Io(String),
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the server refused the request ({status}): {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("this device is not paired yet: run `palmline scanner pair` first")]
    NotPaired,
    #[error("capture: {0}")]
    Capture(String),
}

pub type Result<T> = std::result::Result<T, ScannerError>;

/// An I/O failure, in words for the operator.
pub(crate) fn io(e: impl std::fmt::Display) -> ScannerError {
    ScannerError::Io(e.to_string())
}

/// Writes `bytes` to `path` whole or not at all, readable by its owner only
/// ([`palm_vault::write_private`]): a crash never leaves half a pairing or half an allow-list.
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    palm_vault::write_private(path, bytes).map_err(io)
}

/// `bytes` random bytes as lowercase hex (request nonces, offline entry ids).
pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|_| ScannerError::Io("the random source failed".into()))?;
    Ok(hex::encode(b))
}
