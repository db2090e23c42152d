//! Memberships and passes offered by phone number. A merchant who adds a loyalty member or an
//! event pass by phone gets an invitation back, the same answer whether or not the number is
//! enrolled, so trying numbers tells nobody who uses Palmline, and nothing about a person changes
//! at one merchant's word. The person's next palm scan at that merchant (a payment, their loyalty
//! cards, a gate) is their acceptance: the invitation then becomes the membership or pass.

use crate::Service;
use crate::domain::{Phone, check_text, new_id};
use crate::entry::{PASS_KINDS, one_of};
use crate::error::{Result, ServiceError, StoreError};
use crate::ids::MerchantId;
use crate::loyalty::random_member_number;
use crate::store::{Accepted, InvitationRow, MembershipRow, PassRow, PersonRow};

/// Unclaimed invitations are forgotten after this long.
pub const INVITATION_TTL_S: i64 = 30 * 86_400;

/// An invitation as its merchant sees it: pending until the person's next scan here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    /// `membership` or `pass`.
    pub kind: String,
    /// The program or event.
    pub target: String,
    pub created: i64,
    pub expires: i64,
}

impl Service {
    /// `POST /v1/loyalty/programs/{id}/members` by phone: an invitation to the program.
    pub async fn invite_member(
        &self,
        merchant_id: &MerchantId,
        program_id: &str,
        phone: Option<&str>,
        member_number: Option<&str>,
    ) -> Result<Invitation> {
        let program = self.program(merchant_id, program_id).await?;
        let phone = phone.ok_or_else(|| {
            ServiceError::invalid(
                "phone_required",
                "give the phone number the person enrolled with",
            )
            .with_param("phone")
        })?;
        let number = member_number
            .map(|n| check_text(n, "member_number", 40))
            .transpose()?;
        self.invite(merchant_id, "membership", &program.id, phone, number)
            .await
    }

    /// `POST /v1/events/{id}/passes`: an invitation to the event.
    pub async fn invite_pass(
        &self,
        merchant_id: &MerchantId,
        event_id: &str,
        phone: &str,
        kind: &str,
    ) -> Result<Invitation> {
        let event = self
            .store
            .event(merchant_id, event_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("event"))?;
        let kind = one_of(kind, &PASS_KINDS, "kind")?;
        self.invite(merchant_id, "pass", &event.id, phone, Some(kind))
            .await
    }

    async fn invite(
        &self,
        merchant_id: &MerchantId,
        kind: &str,
        target_id: &str,
        phone: &str,
        detail: Option<String>,
    ) -> Result<Invitation> {
        let phone = Phone::parse(phone)?;
        let row = InvitationRow {
            id: new_id("inv"),
            merchant_id: merchant_id.clone(),
            kind: kind.to_string(),
            target_id: target_id.to_string(),
            phone_fingerprint: self.phone_fingerprint(&phone),
            detail,
            created: self.now_s(),
        };
        self.store.put_invitation(&row).await?;
        Ok(Invitation {
            id: row.id,
            kind: row.kind,
            target: row.target_id,
            created: row.created,
            expires: row.created + INVITATION_TTL_S,
        })
    }

    /// The person scanned their palm at this merchant: their invitations here become
    /// memberships and passes. A member number another member took meanwhile is replaced by a
    /// new one rather than losing the membership.
    pub(crate) async fn accept_invitations(
        &self,
        merchant_id: &MerchantId,
        person: &PersonRow,
    ) -> Result<()> {
        let now = self.now_s();
        for inv in self
            .store
            .invitations_for(merchant_id, &person.phone_fingerprint)
            .await?
        {
            if inv.created < now - INVITATION_TTL_S {
                continue;
            }
            let accepted = |number: Option<String>| -> Result<Accepted> {
                Ok(match inv.kind.as_str() {
                    "membership" => Accepted::Membership(MembershipRow {
                        id: new_id("mem"),
                        program_id: inv.target_id.clone(),
                        person_id: person.id.clone(),
                        member_number: match number {
                            Some(n) => n,
                            None => random_member_number()?,
                        },
                        balance: 0,
                        created: now,
                    }),
                    _ => Accepted::Pass(PassRow {
                        id: new_id("pass"),
                        event_id: inv.target_id.clone(),
                        person_id: person.id.clone(),
                        kind: inv.detail.clone().unwrap_or_else(|| "ticket".into()),
                        created: now,
                    }),
                })
            };
            let asked = (inv.kind == "membership")
                .then(|| inv.detail.clone())
                .flatten();
            match self
                .store
                .accept_invitation(&inv.id, &accepted(asked)?)
                .await
            {
                Err(StoreError::Duplicate(_)) => {
                    self.store
                        .accept_invitation(&inv.id, &accepted(None)?)
                        .await?;
                }
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Forgets invitations nobody took up in time; returns how many.
    pub async fn purge_invitations(&self) -> Result<u64> {
        Ok(self
            .store
            .purge_invitations(self.now_s() - INVITATION_TTL_S)
            .await?)
    }
}
