//! Envelope encryption: each person's data is sealed with their own data key (AES-256-GCM), and
//! data keys are stored only wrapped by a master key. Destroying a person's wrapped data key makes
//! everything sealed under it unreadable (crypto-shredding); rotating the master key rewraps the
//! small data keys, never the data.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

const NONCE: usize = 12;
const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("sealed data is malformed or was made by another format version")]
    Malformed,
    #[error("decryption failed: wrong key, wrong context, or tampered data")]
    Decrypt,
    #[error("no master key with id {0} is loaded")]
    UnknownMasterKey(u32),
    #[error("the operating system's random source failed")]
    Random,
    #[error("key file: {0}")]
    KeyFile(String),
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| VaultError::Random)?;
    Ok(out)
}

/// `version | nonce | ciphertext+tag`, AES-256-GCM with `context` as associated data, so a value
/// sealed for one purpose (say, a card) cannot be passed off as another (say, a template).
fn seal_with(key: &[u8; 32], plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; NONCE] = random()?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| VaultError::Decrypt)?;
    let mut out = Vec::with_capacity(1 + NONCE + ct.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open_with(key: &[u8; 32], sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < 1 + NONCE + 16 || sealed[0] != VERSION {
        return Err(VaultError::Malformed);
    }
    let nonce: [u8; NONCE] = sealed[1..1 + NONCE]
        .try_into()
        .map_err(|_| VaultError::Malformed)?;
    Aes256Gcm::new(key.into())
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[1 + NONCE..],
                aad: context,
            },
        )
        .map_err(|_| VaultError::Decrypt)
}

/// A person's data key, in memory only while in use; wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A key kept outside the key ring, read from its own key file (the palm grid's probe key).
    pub fn from_secret(secret: &[u8; 32]) -> DataKey {
        DataKey(*secret)
    }

    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        seal_with(&self.0, plaintext, context)
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        open_with(&self.0, sealed, context)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A master key and the id stored beside everything it wraps.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    #[zeroize(skip)]
    pub id: u32,
    key: [u8; 32],
}

impl MasterKey {
    pub fn new(id: u32, key: [u8; 32]) -> MasterKey {
        MasterKey { id, key }
    }

    pub fn generate(id: u32) -> Result<MasterKey, VaultError> {
        Ok(MasterKey { id, key: random()? })
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {})", self.id)
    }
}

/// A data key as stored: the master key's id (4 bytes, little endian) then the sealed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

impl WrappedKey {
    pub fn master_id(&self) -> Result<u32, VaultError> {
        Ok(u32::from_le_bytes(
            self.0
                .get(..4)
                .ok_or(VaultError::Malformed)?
                .try_into()
                .map_err(|_| VaultError::Malformed)?,
        ))
    }
}

const WRAP_CONTEXT: &[u8] = b"palmline data key v1";

/// The master keys in force: one active key that wraps new data keys, and older ones still able to
/// unwrap until everything is rewrapped.
pub struct KeyRing {
    active: MasterKey,
    retired: Vec<MasterKey>,
}

impl KeyRing {
    pub fn new(active: MasterKey, retired: Vec<MasterKey>) -> KeyRing {
        KeyRing { active, retired }
    }

    pub fn active_id(&self) -> u32 {
        self.active.id
    }

    /// A fresh data key for a new person, and its wrapped form to store.
    pub fn new_data_key(&self) -> Result<(DataKey, WrappedKey), VaultError> {
        let key = DataKey(random()?);
        let wrapped = self.wrap(&key)?;
        Ok((key, wrapped))
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, VaultError> {
        let mut out = self.active.id.to_le_bytes().to_vec();
        out.extend(seal_with(self.active.bytes(), &key.0, WRAP_CONTEXT)?);
        Ok(WrappedKey(out))
    }

    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, VaultError> {
        let id = wrapped.master_id()?;
        let master = std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|m| m.id == id)
            .ok_or(VaultError::UnknownMasterKey(id))?;
        let mut plain = open_with(master.bytes(), &wrapped.0[4..], WRAP_CONTEXT)?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Malformed)?;
        plain.zeroize();
        Ok(DataKey(key))
    }

    /// The same data key wrapped by the active master key (no-op result if it already is).
    pub fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, VaultError> {
        if wrapped.master_id()? == self.active.id {
            return Ok(wrapped.clone());
        }
        self.wrap(&self.unwrap(wrapped)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_every_way_to_fail() {
        let ring = KeyRing::new(MasterKey::generate(1).unwrap(), vec![]);
        let (key, wrapped) = ring.new_data_key().unwrap();
        let sealed = key.seal(b"4242424242424242", b"card").unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"4242424242424242"));
        assert_eq!(key.open(&sealed, b"card").unwrap(), b"4242424242424242");
        assert_eq!(key.open(&sealed, b"template"), Err(VaultError::Decrypt));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(key.open(&tampered, b"card"), Err(VaultError::Decrypt));
        assert_eq!(key.open(&sealed[..10], b"card"), Err(VaultError::Malformed));
        // The stored, wrapped key opens the data again; a different data key does not.
        assert_eq!(
            ring.unwrap(&wrapped)
                .unwrap()
                .open(&sealed, b"card")
                .unwrap(),
            b"4242424242424242"
        );
        let (other, _) = ring.new_data_key().unwrap();
        assert_eq!(other.open(&sealed, b"card"), Err(VaultError::Decrypt));
        assert_eq!(format!("{key:?}"), "DataKey(..)");
    }

    #[test]
    fn rotation_rewraps_and_retired_keys_can_go() {
        let old = MasterKey::generate(1).unwrap();
        let new = MasterKey::generate(2).unwrap();
        let before = KeyRing::new(old.clone(), vec![]);
        let (key, wrapped) = before.new_data_key().unwrap();
        let sealed = key.seal(b"palm template", b"template").unwrap();
        // During rotation both keys are loaded: old wraps still open, rewrap moves them over.
        let during = KeyRing::new(new.clone(), vec![old]);
        let rewrapped = during.rewrap(&wrapped).unwrap();
        assert_eq!(rewrapped.master_id().unwrap(), 2);
        assert_eq!(
            during
                .unwrap(&wrapped)
                .unwrap()
                .open(&sealed, b"template")
                .unwrap(),
            b"palm template"
        );
        // After rotation only the new key exists: the rewrapped key works, the old wrap does not.
        let after = KeyRing::new(new, vec![]);
        assert_eq!(
            after
                .unwrap(&rewrapped)
                .unwrap()
                .open(&sealed, b"template")
                .unwrap(),
            b"palm template"
        );
        assert_eq!(
            after.unwrap(&wrapped).unwrap_err(),
            VaultError::UnknownMasterKey(1)
        );
    }
}
