//! People's privacy rights: deletion at a device (palm + a code sent to their phone), automatic
//! deletion after long non-use, the published retention policy, and the audit log of every read
//! of a person's biometric data, which they can export.
//!
//! Deletion is crypto-shredding: the person's row goes with their wrapped data key, so their
//! template and card ciphertexts (in this database's pages or in backups) can no longer be opened.

use crate::Service;
use crate::domain::{Phone, new_id, secret_hash};
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::PersonId;
use crate::store::{AuditRow, DeletionRow, TillRow};
use async_trait::async_trait;
use palm_index::PalmId;
use std::sync::Mutex;

/// One read of a person's biometric data, as their audit export lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    /// The till, merchant or job that read it.
    pub actor: String,
    /// `enrolment`, `payment`, `person_session`, `deletion_request`, `deletion`, `retention`.
    pub purpose: String,
    pub created: i64,
}

/// The published biometric data retention policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub retention_days: i64,
    /// The policy in words, for people.
    pub text: String,
}

/// A deletion asked for: the code sent to the person's phone is good until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionAsked {
    pub id: String,
    pub expires: i64,
}

/// Where a confirmed deletion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionStatus {
    /// Gone now.
    Deleted,
    /// A payment of theirs is still in flight: their palms match no one already, and the rest
    /// goes when it settles (the deletion job).
    Pending,
}

impl DeletionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionStatus::Deleted => "deleted",
            DeletionStatus::Pending => "pending",
        }
    }
}

/// A confirmed deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionOutcome {
    pub id: String,
    pub status: DeletionStatus,
    /// Every copy of the gallery has dropped the palms (see [`Service::erased_everywhere`]).
    pub erased_everywhere: bool,
}

/// How codes reach people's phones (an SMS gateway in production).
#[async_trait]
pub trait PhoneChannel: Send + Sync {
    async fn send_code(&self, phone: &Phone, code: &str) -> std::result::Result<(), String>;
}

/// The development channel: sends nothing. It keeps each code in an in-memory outbox that tests
/// and demos read, and logs (loudly, without the code) that a code was not sent.
#[derive(Default)]
pub struct DevPhoneChannel {
    outbox: Mutex<Vec<(String, String)>>,
}

impl DevPhoneChannel {
    /// The last code sent to `phone` (E.164).
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox
            .iter()
            .rev()
            .find(|(p, _)| p == phone)
            .map(|(_, c)| c.clone())
    }
}

#[async_trait]
impl PhoneChannel for DevPhoneChannel {
    async fn send_code(&self, phone: &Phone, code: &str) -> std::result::Result<(), String> {
        tracing::warn!(
            phone = %format!("***{}", phone.last4()),
            "DEVELOPMENT phone channel: a code was NOT sent to the phone (configure [phone] channel = \"http\" for an SMS gateway)"
        );
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((phone.as_str().to_string(), code.to_string()));
        Ok(())
    }
}

/// How long a deletion code is valid, and how many wrong tries it allows.
const CODE_TTL_S: i64 = 600;
const CODE_ATTEMPTS: i64 = 5;

fn code_hash(request_id: &str, code: &str) -> String {
    secret_hash(&format!("{request_id}:{code}"))
}

impl Service {
    /// Appends to the audit log; a failure is logged, never hidden from the caller's result.
    pub(crate) async fn audit(
        &self,
        person_id: &PersonId,
        actor: &str,
        purpose: &str,
    ) -> Result<()> {
        self.store
            .insert_audit(&self.audit_row(person_id, actor, purpose))
            .await?;
        Ok(())
    }

    fn audit_row(&self, person_id: &PersonId, actor: &str, purpose: &str) -> AuditRow {
        AuditRow {
            id: new_id("aud"),
            person_id: person_id.clone(),
            actor: actor.to_string(),
            purpose: purpose.to_string(),
            created: self.now_s(),
        }
    }

    pub async fn audit_export(&self, person_id: &PersonId) -> Result<Vec<AuditEntry>> {
        Ok(self
            .store
            .audit_of(person_id)
            .await?
            .into_iter()
            .map(|a| AuditEntry {
                id: a.id,
                actor: a.actor,
                purpose: a.purpose,
                created: a.created,
            })
            .collect())
    }

    pub fn retention_policy(&self) -> RetentionPolicy {
        let days = self.config.retention_s / 86_400;
        RetentionPolicy {
            retention_days: days,
            text: format!(
                "Palm templates are kept, encrypted, only while the person uses Palmline. They are \
                 destroyed when the person deletes their profile, or automatically {days} days \
                 after their last use. Palm images are never stored."
            ),
        }
    }

    /// Step one of "delete me": palm (a base64 image) + phone at a till; sends a code to the
    /// phone.
    pub async fn request_deletion(
        &self,
        till: &TillRow,
        image: &str,
        phone: &str,
    ) -> Result<DeletionAsked> {
        let (phone, person) = self.identify_with_phone(image, phone).await?;
        let mut digits = [0u8; 4];
        getrandom::fill(&mut digits)
            .map_err(|_| ServiceError::internal("the random source failed"))?;
        let code = format!("{:06}", u32::from_le_bytes(digits) % 1_000_000);
        let id = new_id("del");
        let expires = self.now_s() + CODE_TTL_S;
        self.store
            .insert_deletion(&DeletionRow {
                code_hash: code_hash(&id, &code),
                id: id.clone(),
                person_id: person.id.clone(),
                expires,
                attempts: 0,
                used: false,
                created: self.now_s(),
                merchant_id: till.merchant_id.clone(),
            })
            .await?;
        self.audit(&person.id, &till.id, "deletion_request").await?;
        self.phone.send_code(&phone, &code).await.map_err(|e| {
            tracing::error!(error = %e, "phone channel failed");
            ServiceError::new(
                ErrorKind::Unavailable,
                "phone_channel_unavailable",
                "the code could not be sent; try again later",
            )
        })?;
        Ok(DeletionAsked { id, expires })
    }

    /// Step two: the code from the phone. Deletes at once, or as soon as the person's payments
    /// in flight settle (their palm stops working at once either way).
    pub async fn confirm_deletion(
        &self,
        till: &TillRow,
        id: &str,
        code: &str,
    ) -> Result<DeletionOutcome> {
        let mut request = self
            .store
            .deletion(&till.merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("deletion request"))?;
        if request.used {
            return Err(ServiceError::conflict(
                "deletion_code_used",
                "this deletion request was already confirmed",
            ));
        }
        if request.expires <= self.now_s() {
            return Err(ServiceError::invalid(
                "deletion_code_expired",
                "the code has expired; ask for a new one",
            ));
        }
        if request.attempts >= CODE_ATTEMPTS {
            return Err(ServiceError::invalid(
                "too_many_attempts",
                "too many wrong codes; ask for a new one",
            ));
        }
        request.attempts += 1;
        let right = request.code_hash == code_hash(id, code.trim());
        request.used = right;
        if !self.store.update_deletion(&request).await? {
            return Err(ServiceError::conflict(
                "deletion_code_used",
                "this deletion request was already confirmed",
            ));
        }
        if !right {
            return Err(
                ServiceError::invalid("invalid_code", "the code is not right").with_param("code"),
            );
        }
        let (status, palms) = self
            .delete_or_defer(&request.person_id, &till.id, "deletion")
            .await?;
        Ok(DeletionOutcome {
            id: id.to_string(),
            status,
            // Either way the palms are tombstoned or gone in the database by now, so the
            // matchers are told (through the palm feed) to drop them.
            erased_everywhere: self.erased_everywhere(&palms).await,
        })
    }

    /// Deletes a person now, or, while a payment of theirs is in flight, takes their palms out of
    /// the index at once and leaves the rest to the deletion job. Says which, with the person's
    /// palm ids.
    async fn delete_or_defer(
        &self,
        person_id: &PersonId,
        actor: &str,
        purpose: &str,
    ) -> Result<(DeletionStatus, Vec<i64>)> {
        // A shopping trip in progress is closed with its basket as it stands and charged; until
        // that is done (a slow processor), the deletion waits like one for a payment.
        for trip in self.store.live_trips_of(person_id).await? {
            if trip.status == crate::trip_store::TripState::Open {
                let id = trip.id.clone();
                if let Err(e) = self.close_trip(trip, "deletion").await {
                    // The trip stays `completing`; housekeeping settles it and the deletion waits.
                    tracing::warn!(trip = %id, error = %e, "a deleted person's trip is not settled yet");
                }
            }
        }
        if self.store.payments_in_flight(person_id).await? == 0 {
            let palms = self.delete_person(person_id, actor, purpose).await?;
            return Ok((DeletionStatus::Deleted, palms));
        }
        let palms: Vec<i64> = self
            .store
            .palms_of(person_id)
            .await?
            .iter()
            .map(|p| p.id)
            .collect();
        for palm in &palms {
            self.gallery.remove(PalmId(*palm as u64));
        }
        self.store
            .mark_deletion_pending(person_id, self.now_s())
            .await?;
        Ok((DeletionStatus::Pending, palms))
    }

    /// Deletes a person now; returns their palm ids.
    async fn delete_person(
        &self,
        person_id: &PersonId,
        actor: &str,
        purpose: &str,
    ) -> Result<Vec<i64>> {
        let audit = self.audit_row(person_id, actor, purpose);
        let palms = self.store.delete_person(person_id, &audit).await?;
        for palm in &palms {
            self.gallery.remove(PalmId(*palm as u64));
        }
        self.store.compact().await?;
        tracing::info!(person = %person_id, purpose, "person deleted");
        Ok(palms)
    }

    /// Deletes people whose deletion waited for a payment in flight; returns how many.
    pub async fn finish_deletions(&self) -> Result<usize> {
        let mut done = 0;
        for person in self.store.pending_deletions().await? {
            if self.store.payments_in_flight(&person).await? == 0 {
                self.delete_person(&person, "deletion-job", "deletion")
                    .await?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Deletes everyone unused for longer than the retention period; returns how many.
    pub async fn enforce_retention(&self) -> Result<usize> {
        let before = self.now_s() - self.config.retention_s;
        let mut done = 0;
        loop {
            // People with a payment in flight are marked pending instead (the deletion job
            // finishes them), and the query skips pending people, so each round shrinks.
            let batch = self.store.people_unused_since(before, 500).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            for person in batch {
                let (status, _) = self
                    .delete_or_defer(&person, "retention-job", "retention")
                    .await?;
                if status == DeletionStatus::Deleted {
                    done += 1;
                }
            }
        }
    }
}
