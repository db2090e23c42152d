//! Paired devices: one-time pairing codes, registration of a device's public keys, signed
//! requests (Ed25519 over method, path, body digest, timestamp and nonce; stale, replayed,
//! tampered and revoked refused), and captures sealed to the server's capture keys (HPKE, bound
//! to their payment or gate scan, each nonce opened once; a retired key only for its overlap).

use crate::device_store::{DeviceRow, PairingRow};
use crate::domain::{new_id, secret_hash};
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::MerchantId;
use crate::presented::CaptureInput;
use crate::views::Listed;
use crate::{Service, decode_image};
use palm_vault::device::{self, SealKey, Sealed};

/// How long a pairing code can be used.
const PAIRING_TTL_S: i64 = 10 * 60;
/// A signed request is accepted this long either side of the server's clock.
pub const FRESHNESS_S: i64 = 60;
/// Nonces are remembered this long: longer than the freshness window, so a replay is either
/// stale or seen.
pub const NONCE_TTL_S: i64 = 10 * 60;

/// One of the server's capture keys. `retired_at`: when a newer key took over; captures sealed
/// to this one are accepted until `retired_at + capture_key_overlap_s`.
pub struct CaptureKey {
    pub id: u32,
    pub key: SealKey,
    pub retired_at: Option<i64>,
}

/// What a signed device request carries besides its body.
pub struct SignedRequest<'a> {
    pub device: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
}

fn unauthenticated(code: &'static str, message: &str) -> ServiceError {
    ServiceError::new(ErrorKind::Unauthenticated, code, message)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(value: &str, param: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| {
            ServiceError::invalid("invalid_encoding", format!("{param} must be base64"))
                .with_param(param)
        })
}

fn key_32(value: &str, param: &str) -> Result<Vec<u8>> {
    let key = unb64(value, param)?;
    if key.len() != 32 {
        return Err(ServiceError::invalid(
            "invalid_public_key",
            format!("{param} must be a 32-byte public key"),
        )
        .with_param(param));
    }
    Ok(key)
}

/// What a pairing code pairs a device with: one till or one gate of the merchant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingTarget {
    Till(String),
    Gate(String),
}

impl PairingTarget {
    /// Exactly one of `till` and `gate`.
    pub fn new(till: Option<String>, gate: Option<String>) -> Result<PairingTarget> {
        match (till, gate) {
            (Some(till), None) => Ok(PairingTarget::Till(till)),
            (None, Some(gate)) => Ok(PairingTarget::Gate(gate)),
            _ => Err(ServiceError::invalid(
                "invalid_pairing_target",
                "name exactly one of till or gate",
            )),
        }
    }
}

/// A device registering with a pairing code, checked: a name of 1 to 64 characters, an Ed25519
/// public key that signs its requests and an X25519 one that data for it is sealed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub pairing_code: String,
    pub name: String,
    pub signing_key: Vec<u8>,
    pub seal_key: Vec<u8>,
}

impl NewDevice {
    /// The keys in base64.
    pub fn new(
        pairing_code: &str,
        name: &str,
        signing_key: &str,
        seal_key: &str,
    ) -> Result<NewDevice> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(
                ServiceError::invalid("invalid_name", "name must be 1 to 64 characters")
                    .with_param("name"),
            );
        }
        let signing_key = key_32(signing_key, "signing_key")?;
        let seal_key = key_32(seal_key, "seal_key")?;
        // A key that cannot verify anything is refused now rather than at the first request.
        if device::verify_signature(&signing_key, b"", &[0u8; 64])
            == Err(palm_vault::VaultError::Malformed)
        {
            return Err(ServiceError::invalid(
                "invalid_public_key",
                "signing_key is not an Ed25519 public key",
            )
            .with_param("signing_key"));
        }
        Ok(NewDevice {
            pairing_code: pairing_code.trim().to_ascii_uppercase(),
            name: name.to_string(),
            signing_key,
            seal_key,
        })
    }
}

fn check_nonce(nonce: &str, param: &str) -> Result<()> {
    if !(16..=64).contains(&nonce.len()) || !nonce.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ServiceError::invalid(
            "invalid_nonce",
            format!("{param} must be 16 to 64 visible ASCII characters"),
        )
        .with_param(param));
    }
    Ok(())
}

/// A pairing code as staff are shown it, once.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode {
    pub code: String,
    pub till: Option<String>,
    pub gate: Option<String>,
    pub expires: i64,
}

impl std::fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingCode")
            .field("code", &"***")
            .field("till", &self.till)
            .field("gate", &self.gate)
            .field("expires", &self.expires)
            .finish()
    }
}

/// A capture key devices may seal to, as they are given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedKey {
    pub id: u32,
    /// X25519 public key, base64.
    pub public_key: String,
    /// Set on a retired key: captures sealed to it are refused after this time.
    pub expires: Option<i64>,
}

/// A device just paired, with the keys it seals captures to.
#[derive(Debug, Clone)]
pub struct DeviceRegistered {
    pub device: DeviceRow,
    pub capture_keys: Vec<OfferedKey>,
}

impl Service {
    /// A one-time code for pairing a device with one of the merchant's tills or gates.
    pub async fn create_pairing_code(
        &self,
        merchant_id: &MerchantId,
        target: PairingTarget,
    ) -> Result<PairingCode> {
        match &target {
            PairingTarget::Till(till) => {
                self.store
                    .till(merchant_id, till)
                    .await?
                    .ok_or_else(|| ServiceError::not_found("till").with_param("till"))?;
            }
            PairingTarget::Gate(gate) => {
                self.store
                    .gate(merchant_id, gate)
                    .await?
                    .ok_or_else(|| ServiceError::not_found("gate").with_param("gate"))?;
            }
        }
        let (till, gate) = match target {
            PairingTarget::Till(t) => (Some(t), None),
            PairingTarget::Gate(g) => (None, Some(g)),
        };
        // Ten characters of Crockford base32 (50 bits): easy to type, and a code is single-use,
        // short-lived, and hashed at rest.
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut raw = [0u8; 10];
        getrandom::fill(&mut raw)
            .map_err(|_| ServiceError::internal("the random source failed"))?;
        let chars: String = raw
            .iter()
            .map(|b| ALPHABET[(*b as usize) % 32] as char)
            .collect();
        let code = format!("{}-{}", &chars[..5], &chars[5..]);
        let expires = self.now_s() + PAIRING_TTL_S;
        self.store
            .insert_pairing_code(&PairingRow {
                code_hash: secret_hash(&code),
                merchant_id: merchant_id.clone(),
                till_id: till.clone(),
                gate_id: gate.clone(),
                expires,
            })
            .await?;
        Ok(PairingCode {
            code,
            till,
            gate,
            expires,
        })
    }

    /// A device registers its public keys with a pairing code and is bound to the code's till or
    /// gate.
    pub async fn register_device(&self, req: NewDevice) -> Result<DeviceRegistered> {
        let now = self.now_s();
        let row = DeviceRow {
            id: new_id("dev"),
            // The pairing code's merchant, till and gate: the store fills them in.
            merchant_id: MerchantId::stored(String::new()),
            name: req.name,
            till_id: None,
            gate_id: None,
            signing_key: req.signing_key,
            seal_key: req.seal_key,
            created: now,
            revoked: None,
        };
        let device = self
            .store
            .pair_device(&secret_hash(&req.pairing_code), now, &row)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "invalid_pairing_code",
                    "the pairing code is unknown, used or expired; ask staff for a new one",
                )
                .with_param("pairing_code")
            })?;
        tracing::info!(device = %device.id, "device paired");
        Ok(DeviceRegistered {
            device,
            capture_keys: self.offered_keys(),
        })
    }

    pub async fn list_devices(
        &self,
        merchant_id: &MerchantId,
        page: &crate::store::Page,
    ) -> Result<Listed<DeviceRow>> {
        crate::paged(
            page,
            async |pg| self.store.devices(merchant_id, pg).await,
            DeviceRow::clone,
        )
        .await
    }

    pub async fn revoke_device(&self, merchant_id: &MerchantId, id: &str) -> Result<DeviceRow> {
        if !self
            .store
            .revoke_device(merchant_id, id, self.now_s())
            .await?
        {
            return Err(ServiceError::not_found("device"));
        }
        let d = self
            .store
            .device(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("device"))?;
        tracing::info!(device = %d.id, "device revoked");
        Ok(d)
    }

    /// Checks a signed device request: a known, unrevoked device; a timestamp within a minute;
    /// a valid signature over the request; a nonce not seen before.
    pub async fn authenticate_device(&self, r: &SignedRequest<'_>) -> Result<DeviceRow> {
        let device = self
            .store
            .device(r.device)
            .await?
            .ok_or_else(|| unauthenticated("unknown_device", "unknown device"))?;
        if device.revoked.is_some() {
            return Err(unauthenticated(
                "device_revoked",
                "this device was revoked; pair it again",
            ));
        }
        let timestamp: i64 = r.timestamp.parse().map_err(|_| {
            unauthenticated("invalid_signature", "the timestamp must be Unix seconds")
        })?;
        if (self.now_s() - timestamp).abs() > FRESHNESS_S {
            return Err(unauthenticated(
                "stale_request",
                "the request's timestamp is more than 60 seconds from the server's clock",
            ));
        }
        check_nonce(r.nonce, "nonce").map_err(|_| {
            unauthenticated("invalid_signature", "the nonce must be 16 to 64 characters")
        })?;
        let signature = unb64(r.signature, "signature")
            .map_err(|_| unauthenticated("invalid_signature", "the signature must be base64"))?;
        let message = device::request_message(r.method, r.path, r.body, timestamp, r.nonce);
        device::verify_signature(&device.signing_key, &message, &signature).map_err(|_| {
            unauthenticated(
                "invalid_signature",
                "the signature does not match this request",
            )
        })?;
        // After the signature: nobody but the device can spend its nonces.
        if !self
            .store
            .claim_nonce(&format!("device:{}", device.id), r.nonce, self.now_s())
            .await?
        {
            return Err(unauthenticated(
                "replayed_request",
                "this request was already received",
            ));
        }
        Ok(device)
    }

    /// Capture keys devices may seal to: the current one and retired ones still in their overlap.
    pub fn offered_keys(&self) -> Vec<OfferedKey> {
        let now = self.now_s();
        let overlap = self.config.capture_key_overlap_s;
        self.capture_keys()
            .iter()
            .filter(|k| k.retired_at.is_none_or(|t| now <= t + overlap))
            .map(|k| OfferedKey {
                id: k.id,
                public_key: b64(&k.key.public()),
                expires: k.retired_at.map(|t| t + overlap),
            })
            .collect()
    }

    /// The image bytes of a capture: a plain one decoded (an error names it `param`), a sealed
    /// one opened for exactly this purpose and target (and its nonce claimed, so it opens once).
    pub(crate) async fn open_capture(
        &self,
        capture: &CaptureInput,
        param: &str,
        purpose: &str,
        target: &str,
    ) -> Result<Vec<u8>> {
        let s = match capture {
            CaptureInput::Plain(image) => return decode_image(image, param),
            CaptureInput::Sealed(s) => s,
        };
        check_nonce(&s.nonce, "sealed_image.nonce")?;
        let sealed_payload = Sealed {
            enc: unb64(&s.enc, "sealed_image.enc")?,
            ciphertext: unb64(&s.ciphertext, "sealed_image.ciphertext")?,
        };
        let now = self.now_s();
        let keys = self.capture_keys();
        let key = keys.iter().find(|k| k.id == s.key_id).ok_or_else(|| {
            ServiceError::invalid(
                "unknown_capture_key",
                "no capture key with this id; fetch GET /v1/capture_keys",
            )
            .with_param("sealed_image.key_id")
        })?;
        if key
            .retired_at
            .is_some_and(|t| now > t + self.config.capture_key_overlap_s)
        {
            return Err(ServiceError::invalid(
                "capture_key_retired",
                "the capture was sealed to a retired capture key; fetch GET /v1/capture_keys",
            )
            .with_param("sealed_image.key_id"));
        }
        let aad = device::capture_aad(purpose, target, &s.nonce);
        let bytes = key.key.open(&sealed_payload, &aad).map_err(|_| {
            ServiceError::invalid(
                "capture_not_for_this_request",
                "the sealed capture does not open for this request (another payment or gate, \
                 another key, or altered)",
            )
            .with_param("sealed_image")
        })?;
        if !self
            .store
            .claim_nonce(&format!("capture:{purpose}"), &s.nonce, now)
            .await?
        {
            return Err(ServiceError::invalid(
                "capture_replayed",
                "this sealed capture was already used",
            )
            .with_param("sealed_image.nonce"));
        }
        Ok(bytes)
    }

    /// Forgets nonces older than the replay window (housekeeping).
    pub async fn purge_nonces(&self) -> Result<u64> {
        Ok(self.store.purge_nonces(self.now_s() - NONCE_TTL_S).await?)
    }
}
