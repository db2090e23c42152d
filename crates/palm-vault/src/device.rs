//! Device cryptography, shared by the scanner (which signs and seals) and the server (which
//! verifies and opens):
//! - request signatures: Ed25519 over a canonical text of method, path, body digest, timestamp and
//!   nonce ([`request_message`]);
//! - sealed payloads: HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
//!   AES-256-GCM. A capture is sealed to the server's capture key with associated data that names
//!   what it is for ([`capture_aad`]), so it opens only for that payment or gate scan; a gate's
//!   offline allow-list is sealed the same way to the gate device's own key.
//!
//! Every private key is derived from 32 random bytes, so key files have one shape everywhere
//! (see `keyfile`).

use crate::VaultError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm256;

/// Binds every sealed payload to Palmline and this format.
const INFO: &[u8] = b"palmline sealed payload v1";

/// A device's signing key (Ed25519).
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

impl DeviceKey {
    pub fn from_secret(secret: &[u8; 32]) -> DeviceKey {
        DeviceKey(SigningKey::from_bytes(secret))
    }

    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// Checks an Ed25519 signature (strict verification: no malleable or small-order keys).
pub fn verify_signature(public: &[u8], message: &[u8], signature: &[u8]) -> Result<(), VaultError> {
    let public: &[u8; 32] = public.try_into().map_err(|_| VaultError::Malformed)?;
    let key = VerifyingKey::from_bytes(public).map_err(|_| VaultError::Malformed)?;
    let signature = Signature::from_slice(signature).map_err(|_| VaultError::Malformed)?;
    key.verify_strict(message, &signature)
        .map_err(|_| VaultError::Decrypt)
}

/// The text a device signs: every part that a replay or a tamper could change.
pub fn request_message(
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Vec<u8> {
    let digest = Sha256::digest(body);
    let hex = hex::encode(digest);
    format!(
        "PALMLINE-DEVICE-REQUEST-V1\n{}\n{path}\n{hex}\n{timestamp}\n{nonce}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

/// What a capture is sealed for: `purpose` (`payment`, `gate_scan`), the payment or gate it
/// belongs to, and a one-time nonce.
pub fn capture_aad(purpose: &str, target: &str, nonce: &str) -> Vec<u8> {
    format!("palmline capture\n{purpose}\n{target}\n{nonce}").into_bytes()
}

/// What a gate's allow-list is sealed for: the device that may open it, its event and its id.
pub fn allow_list_aad(device: &str, event: &str, list: &str) -> Vec<u8> {
    format!("palmline allow-list\n{device}\n{event}\n{list}").into_bytes()
}

/// An X25519 key pair that sealed payloads are opened with (the server's capture key, a gate
/// device's allow-list key).
pub struct SealKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// A sealed payload: the encapsulated key and the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub enc: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl SealKey {
    pub fn from_secret(secret: &[u8; 32]) -> SealKey {
        let (private, public) = Kem::derive_keypair(secret);
        SealKey { private, public }
    }

    pub fn public(&self) -> Vec<u8> {
        self.public.to_bytes().to_vec()
    }

    /// Opens a payload sealed to this key with the same associated data.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
            .map_err(|_| VaultError::Malformed)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &self.private,
            &enc,
            INFO,
            &sealed.ciphertext,
            aad,
        )
        .map_err(|_| VaultError::Decrypt)
    }
}

/// Seals `plaintext` to a recipient's public key with associated data `aad`.
pub fn seal(recipient: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<Sealed, VaultError> {
    let public =
        <Kem as hpke::Kem>::PublicKey::from_bytes(recipient).map_err(|_| VaultError::Malformed)?;
    let (enc, ciphertext) =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &public, INFO, plaintext, aad)
            .map_err(|_| VaultError::Random)?;
    Ok(Sealed {
        enc: enc.to_bytes().to_vec(),
        ciphertext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_any_change_fails() {
        let key = DeviceKey::from_secret(&[3; 32]);
        let msg = request_message("post", "/v1/gate/scans", b"{}", 1_800_000_000, "n1");
        let sig = key.sign(&msg);
        assert!(verify_signature(&key.public(), &msg, &sig).is_ok());
        for other in [
            request_message("POST", "/v1/gate/scans", b"{ }", 1_800_000_000, "n1"),
            request_message("POST", "/v1/gate/scanz", b"{}", 1_800_000_000, "n1"),
            request_message("POST", "/v1/gate/scans", b"{}", 1_800_000_001, "n1"),
            request_message("POST", "/v1/gate/scans", b"{}", 1_800_000_000, "n2"),
            request_message("GET", "/v1/gate/scans", b"{}", 1_800_000_000, "n1"),
        ] {
            assert!(verify_signature(&key.public(), &other, &sig).is_err());
        }
        let stranger = DeviceKey::from_secret(&[4; 32]);
        assert!(verify_signature(&stranger.public(), &msg, &sig).is_err());
        assert!(verify_signature(&key.public(), &msg, &sig[..10]).is_err());
        assert!(verify_signature(&[0; 5], &msg, &sig).is_err());
        assert!(!format!("{key:?}").contains('3'));
    }

    #[test]
    fn sealed_payloads_open_only_with_the_key_and_the_same_binding() {
        let server = SealKey::from_secret(&[9; 32]);
        let aad = capture_aad("payment", "pay_1", "abc");
        let sealed = seal(&server.public(), b"palm image bytes", &aad).unwrap();
        assert_ne!(sealed.ciphertext, b"palm image bytes");
        assert_eq!(server.open(&sealed, &aad).unwrap(), b"palm image bytes");
        // Another payment, another nonce, another key, or a flipped bit: refused.
        assert!(
            server
                .open(&sealed, &capture_aad("payment", "pay_2", "abc"))
                .is_err()
        );
        assert!(
            server
                .open(&sealed, &capture_aad("payment", "pay_1", "abd"))
                .is_err()
        );
        assert!(SealKey::from_secret(&[8; 32]).open(&sealed, &aad).is_err());
        let mut bad = sealed.clone();
        bad.ciphertext[0] ^= 1;
        assert!(server.open(&bad, &aad).is_err());
        bad = sealed.clone();
        bad.enc.truncate(5);
        assert!(matches!(
            server.open(&bad, &aad),
            Err(VaultError::Malformed)
        ));
        assert!(seal(b"short", b"x", &aad).is_err());
        // The same secret always gives the same key pair.
        assert_eq!(SealKey::from_secret(&[9; 32]).public(), server.public());
    }
}
