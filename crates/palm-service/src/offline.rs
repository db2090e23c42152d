//! Gates that keep working when the network is down. A paired gate device fetches its event's
//! allow-list: the protected templates of that event's pass holders only, re-protected under a
//! transform made for this one list, sealed with HPKE to the device's own key and bound to the
//! device, event and list. The gate decides from it while offline, queues its decisions and
//! uploads them when back online (each once, whatever the retries). A list expires at the event's
//! end and can be revoked; a gate learns of a revocation the next time it is online.

use crate::Service;
use crate::device_store::{AllowListRow, DeviceRow};
use crate::devices::b64;
use crate::domain::new_id;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::{MerchantId, PersonId};
use crate::store::{EntryRow, GateRow};
use palm_engine::protect::Transform;
use palm_index::{Gallery, IndexConfig};
use palm_vault::device;
use serde::Serialize;

/// Offline decisions a gate may upload in one request (its sync sends them in batches).
pub const MAX_OFFLINE_ENTRIES: usize = 500;

/// What a sealed allow-list holds, as the gate device reads it (`palm_api::AllowList` is the
/// device's side of this document): the templates of the event's pass holders only, protected
/// under a transform made for this list, whose key is inside.
#[derive(Serialize)]
struct ListDocument {
    id: String,
    event: String,
    gate: String,
    age_restricted: bool,
    reentry: bool,
    starts: i64,
    expires: i64,
    transform_key: String,
    entries: Vec<ListEntry>,
}

#[derive(Serialize)]
struct ListEntry {
    person: String,
    kind: String,
    age_verified: bool,
    palms: Vec<String>,
}

/// An allow-list sealed to its gate device (HPKE, bound to device, event and list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedAllowList {
    pub id: String,
    pub event: String,
    pub issued: i64,
    pub expires: i64,
    /// The encapsulated key, base64.
    pub enc: String,
    /// The sealed document, base64.
    pub ciphertext: String,
}

/// How an upload of offline decisions went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineUpload {
    pub recorded: u32,
    /// Uploaded before (a retry after a lost answer): left as they were.
    pub duplicates: u32,
}

fn valid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        (16..=40).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// A decision a gate made while offline, as it uploads it (checked by
/// [`Service::upload_offline_entries`], which alone knows the lists and passes it must fit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineDecision {
    /// Made by the gate (`ent_` and 16 to 40 more characters); uploading it again is harmless.
    pub id: String,
    pub event: String,
    pub person: Option<String>,
    /// `in`, `out` or `area`.
    pub direction: String,
    pub allowed: bool,
    /// The decision code the gate showed (`welcome`, `no_pass`, ...).
    pub reason: String,
    pub decided_at: i64,
    /// The allow-list the gate decided from.
    pub allow_list: String,
}

impl Service {
    /// Builds, seals and records an allow-list for a gate device.
    pub async fn allow_list(&self, device: &DeviceRow, event_id: &str) -> Result<SealedAllowList> {
        let gate = self.device_gate(device).await?;
        let event = self
            .store
            .event(&gate.merchant_id, event_id)
            .await?
            .filter(|e| e.venue_id == gate.venue_id)
            .ok_or_else(|| {
                ServiceError::not_found("event at this gate's venue").with_param("event")
            })?;
        let now = self.now_s();
        if now > event.ends {
            return Err(ServiceError::conflict(
                "event_over",
                "the event is over: no allow-list is issued for it",
            )
            .with_param("event"));
        }
        let mut list_key = [0u8; 32];
        getrandom::fill(&mut list_key)
            .map_err(|_| ServiceError::internal("the random source failed"))?;
        let list_gallery = Gallery::new(
            self.engine.params(),
            IndexConfig::default(),
            Transform::new(1, list_key),
        );
        let mut entries = Vec::new();
        for pass in self.store.passes(&event.id).await? {
            let Some(person) = self.store.person(&pass.person_id).await? else {
                continue;
            };
            let key = self.data_key(&person.wrapped_key)?;
            let mut palms = Vec::new();
            for palm in self.store.palms_of(&person.id).await? {
                let stored = self.open_palm(&key, &palm)?;
                let plain = self
                    .gallery
                    .transform()
                    .unprotect(&stored.template)
                    .map_err(|_| ServiceError::internal("a stored palm could not be opened"))?;
                let protected = list_gallery
                    .protect(&plain)
                    .map_err(|_| ServiceError::internal("a palm could not be protected"))?;
                palms.push(b64(&protected.to_bytes()));
            }
            self.audit(&person.id, &device.id, "entry_allow_list")
                .await?;
            entries.push(ListEntry {
                person: person.id.to_string(),
                kind: pass.kind.clone(),
                age_verified: self
                    .store
                    .age_verified(&gate.merchant_id, &person.id)
                    .await?
                    .is_some(),
                palms,
            });
        }
        let id = new_id("alw");
        let list = ListDocument {
            id: id.clone(),
            event: event.id.clone(),
            gate: gate.id.clone(),
            age_restricted: gate.age_restricted,
            reentry: event.reentry,
            starts: event.starts,
            expires: event.ends,
            transform_key: b64(&list_key),
            entries,
        };
        let mut json = serde_json::to_vec(&list)
            .map_err(|_| ServiceError::internal("allow-list encoding failed"))?;
        let sealed = device::seal(
            &device.seal_key,
            &json,
            &device::allow_list_aad(&device.id, &event.id, &id),
        )
        .map_err(|_| ServiceError::internal("the allow-list could not be sealed"));
        zeroize::Zeroize::zeroize(&mut json);
        list_key.fill(0);
        let sealed = sealed?;
        self.store
            .insert_allow_list(&AllowListRow {
                id: id.clone(),
                event_id: event.id.clone(),
                device_id: device.id.clone(),
                issued: now,
                expires: event.ends,
                revoked: None,
            })
            .await?;
        tracing::info!(list = %id, device = %device.id, people = list.entries.len(), "allow-list issued");
        Ok(SealedAllowList {
            id,
            event: event.id,
            issued: now,
            expires: event.ends,
            enc: b64(&sealed.enc),
            ciphertext: b64(&sealed.ciphertext),
        })
    }

    /// Whether a list the device holds is still good.
    pub async fn allow_list_status(&self, device: &DeviceRow, id: &str) -> Result<AllowListRow> {
        self.store
            .allow_list(id)
            .await?
            .filter(|l| l.device_id == device.id)
            .ok_or_else(|| ServiceError::not_found("allow-list"))
    }

    /// Revokes every allow-list issued for an event (say, after tickets were cancelled).
    pub async fn revoke_allow_lists(
        &self,
        merchant_id: &MerchantId,
        event_id: &str,
    ) -> Result<u32> {
        let event = self
            .store
            .event(merchant_id, event_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("event"))?;
        let n = self
            .store
            .revoke_allow_lists(&event.id, self.now_s())
            .await?;
        Ok(n as u32)
    }

    /// Records the decisions a gate made offline. Every entry is checked before any is written
    /// (each refusal names `entries[i].field`); an entry uploaded before is counted as a
    /// duplicate and left as it was.
    pub async fn upload_offline_entries(
        &self,
        gate: &GateRow,
        entries: &[OfflineDecision],
    ) -> Result<OfflineUpload> {
        if entries.len() > MAX_OFFLINE_ENTRIES {
            return Err(ServiceError::invalid(
                "too_many_entries",
                format!("upload at most {} entries at a time", MAX_OFFLINE_ENTRIES),
            )
            .with_param("entries"));
        }
        let mut rows = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let param = |field: &str| format!("entries[{i}].{field}");
            if !valid_id(&e.id, "ent_") {
                return Err(ServiceError::invalid(
                    "invalid_entry_id",
                    "an entry id is ent_ and 16 to 40 letters or digits",
                )
                .with_param(param("id")));
            }
            if !["in", "out", "area"].contains(&e.direction.as_str()) {
                return Err(ServiceError::invalid(
                    "invalid_direction",
                    "direction is in, out or area",
                )
                .with_param(param("direction")));
            }
            if e.reason.is_empty()
                || e.reason.len() > 40
                || !e.reason.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                return Err(ServiceError::invalid(
                    "invalid_reason",
                    "reason is a decision code such as welcome or no_pass",
                )
                .with_param(param("reason")));
            }
            if e.person
                .as_deref()
                .is_some_and(|p| !p.starts_with("per_") || p.len() > 64)
            {
                return Err(
                    ServiceError::invalid("invalid_person", "person is a per_ id")
                        .with_param(param("person")),
                );
            }
            // Only a list issued to a device of this very gate: a gate cannot speak for others.
            let list = match self.store.allow_list(&e.allow_list).await? {
                Some(l) if l.event_id == e.event => {
                    let device = self.store.device(&l.device_id).await?;
                    device
                        .filter(|d| d.gate_id.as_deref() == Some(gate.id.as_str()))
                        .map(|_| l)
                }
                _ => None,
            }
            .ok_or_else(|| {
                ServiceError::not_found("allow-list issued to this gate for this event")
                    .with_param(param("allow_list"))
            })?;
            let event = self
                .store
                .event(&gate.merchant_id, &list.event_id)
                .await?
                .filter(|ev| ev.venue_id == gate.venue_id)
                .ok_or_else(|| {
                    ServiceError::not_found("event at this gate's venue").with_param(param("event"))
                })?;
            if e.decided_at < list.issued || e.decided_at > self.now_s() + 300 {
                return Err(ServiceError::invalid(
                    "invalid_decided_at",
                    "decided_at must lie between the list's issue and now",
                )
                .with_param(param("decided_at")));
            }
            // Offline, a gate knows only the people on its list: the event's pass holders.
            let person = e.person.as_deref().map(PersonId::new);
            if let Some(person) = &person
                && self.store.pass(&event.id, person).await?.is_none()
            {
                return Err(ServiceError::invalid(
                    "unknown_person",
                    "this person holds no pass for the event, so no allow-list of this gate named them",
                )
                .with_param(param("person")));
            }
            rows.push(EntryRow {
                id: e.id.clone(),
                event_id: event.id,
                gate_id: gate.id.clone(),
                person_id: person,
                direction: e.direction.clone(),
                allowed: e.allowed,
                reason: e.reason.clone(),
                created: e.decided_at,
                offline: true,
            });
        }
        let (mut recorded, mut duplicates) = (0, 0);
        for row in &rows {
            if self.store.import_entry(row).await? {
                recorded += 1;
            } else {
                duplicates += 1;
            }
        }
        if recorded > 0 {
            tracing::info!(gate = %gate.id, recorded, duplicates, "offline gate decisions uploaded");
        }
        Ok(OfflineUpload {
            recorded,
            duplicates,
        })
    }

    async fn device_gate(&self, device: &DeviceRow) -> Result<GateRow> {
        let gate_id = device.gate_id.as_deref().ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Forbidden,
                "wrong_device",
                "this device is not paired with a gate",
            )
        })?;
        self.store
            .gate(&device.merchant_id, gate_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("gate"))
    }
}
