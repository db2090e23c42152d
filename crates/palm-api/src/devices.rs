//! Wire types of paired devices: pairing, capture keys and sealed captures, and the offline
//! gate's allow-lists and queued decisions.

use serde::{Deserialize, Serialize};

/// A capture sealed with HPKE (RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to
/// one of the server's capture keys (`GET /v1/capture_keys`). The associated data binds it to
/// its request: `"palmline capture\n<purpose>\n<target>\n<nonce>"`, where purpose is `payment`
/// (target: the payment id) or `gate_scan` (target: `<gate id>/<event id>`). Each nonce opens
/// once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedImage {
    pub key_id: u32,
    /// The encapsulated key, base64.
    pub enc: String,
    /// The sealed image, base64.
    pub ciphertext: String,
    /// 16 to 64 characters, fresh for every capture.
    pub nonce: String,
}

/// A server capture key that devices seal captures to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureKey {
    pub id: u32,
    /// X25519 public key, base64.
    pub public_key: String,
    /// Set on a retired key: captures sealed to it are refused after this time (Unix seconds).
    pub expires: Option<i64>,
}

/// `POST /v1/devices/pairing_codes`: a one-time code for a device to pair with a till or a gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePairingCode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingCode {
    /// Shown once; staff type it into the device.
    pub code: String,
    pub till: Option<String>,
    pub gate: Option<String>,
    pub expires: i64,
}

/// `POST /v1/devices`: a device registers its public keys with a pairing code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    pub pairing_code: String,
    pub name: String,
    /// Ed25519 public key that signs its requests, base64.
    pub signing_key: String,
    /// X25519 public key that data for the device is sealed to, base64.
    pub seal_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: String,
    pub name: String,
    /// `till` or `gate`.
    pub kind: String,
    pub till: Option<String>,
    pub gate: Option<String>,
    pub created: i64,
    pub revoked: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRegistered {
    pub device: Device,
    pub capture_keys: Vec<CaptureKey>,
}

/// `GET /v1/gate/allow_list?event=...`: an event's allow-list for a gate to decide offline,
/// sealed with HPKE to the gate device's own key (`seal_key` at pairing), with associated data
/// `"palmline allow-list\n<device id>\n<event id>\n<list id>"`. The gate keeps it sealed on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedAllowList {
    pub id: String,
    pub event: String,
    pub issued: i64,
    /// The event's end: the gate stops using the list then.
    pub expires: i64,
    /// The encapsulated key, base64.
    pub enc: String,
    /// The sealed [`AllowList`] JSON, base64.
    pub ciphertext: String,
}

/// What a sealed allow-list holds: the templates of the event's pass holders only, protected
/// under a transform made for this list (its key is inside, so the list's templates cannot be
/// linked to the service's own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowList {
    pub id: String,
    pub event: String,
    pub gate: String,
    pub age_restricted: bool,
    pub reentry: bool,
    pub starts: i64,
    pub expires: i64,
    /// The list's template transform key (32 bytes, base64).
    pub transform_key: String,
    pub entries: Vec<AllowListEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowListEntry {
    pub person: String,
    /// `ticket`, `membership` or `staff`.
    pub kind: String,
    pub age_verified: bool,
    /// Protected palms, base64.
    pub palms: Vec<String>,
}

/// `GET /v1/gate/allow_lists/{id}`: whether a gate may keep using a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowListStatus {
    pub id: String,
    pub revoked: bool,
    pub expires: i64,
}

/// A decision a gate made offline, uploaded when it is back online.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfflineEntry {
    /// Made by the gate (`ent_` and 16 to 40 more characters); uploading it again is harmless.
    pub id: String,
    pub event: String,
    pub person: Option<String>,
    /// `in`, `out` or `area`.
    pub direction: String,
    pub allowed: bool,
    pub reason: String,
    pub decided_at: i64,
    pub allow_list: String,
}

/// Offline decisions a gate may upload in one request; its sync sends them in batches.
pub const MAX_OFFLINE_ENTRIES: usize = 500;

/// `POST /v1/gate/entries`: at most [`MAX_OFFLINE_ENTRIES`] entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfflineEntries {
    pub entries: Vec<OfflineEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineUpload {
    pub recorded: u32,
    /// Already uploaded before (a retry after a lost answer).
    pub duplicates: u32,
}

/// `POST /v1/events/{id}/allow_lists/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowListsRevoked {
    pub revoked: u32,
}
