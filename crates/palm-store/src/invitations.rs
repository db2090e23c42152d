//! Invitations: memberships and passes offered by phone number, waiting for the person's scan.

use crate::{SqlStore, col, db_err};
use async_trait::async_trait;
use palm_service::store::MerchantId;
use palm_service::store::{Accepted, InvitationRow, InvitationStore, StoreResult};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, merchant_id, kind, target_id, phone_fingerprint, detail, created";

fn invitation(r: &AnyRow) -> Result<InvitationRow, sqlx::Error> {
    Ok(InvitationRow {
        id: col(r, "id")?,
        merchant_id: MerchantId::stored(col(r, "merchant_id")?),
        kind: col(r, "kind")?,
        target_id: col(r, "target_id")?,
        phone_fingerprint: col(r, "phone_fingerprint")?,
        detail: col(r, "detail")?,
        created: col(r, "created")?,
    })
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn put_invitation(&self, i: &InvitationRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "DELETE FROM invitations WHERE kind = $1 AND target_id = $2 AND phone_fingerprint = $3",
        )
        .bind(&i.kind)
        .bind(&i.target_id)
        .bind(&i.phone_fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        q!("INSERT INTO invitations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&i.id)
            .bind(i.merchant_id.as_str())
            .bind(&i.kind)
            .bind(&i.target_id)
            .bind(&i.phone_fingerprint)
            .bind(&i.detail)
            .bind(i.created)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn invitations_for(
        &self,
        merchant_id: &MerchantId,
        phone_fingerprint: &str,
    ) -> StoreResult<Vec<InvitationRow>> {
        q!("SELECT {COLUMNS} FROM invitations WHERE merchant_id = $1 AND phone_fingerprint = $2 ORDER BY id")
            .bind(merchant_id.as_str())
            .bind(phone_fingerprint)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(invitation)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn accept_invitation(&self, id: &str, accepted: &Accepted) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let taken = sqlx::query("DELETE FROM invitations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if taken != 1 {
            return Ok(false);
        }
        match accepted {
            Accepted::Membership(m) => sqlx::query(
                "INSERT INTO memberships (id, program_id, person_id, member_number, balance, created) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (program_id, person_id) DO NOTHING",
            )
            .bind(&m.id)
            .bind(&m.program_id)
            .bind(m.person_id.as_str())
            .bind(&m.member_number)
            .bind(m.balance)
            .bind(m.created),
            Accepted::Pass(p) => sqlx::query(
                "INSERT INTO passes (id, event_id, person_id, kind, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id, person_id) DO NOTHING",
            )
            .bind(&p.id)
            .bind(&p.event_id)
            .bind(p.person_id.as_str())
            .bind(&p.kind)
            .bind(p.created),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn purge_invitations(&self, before: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM invitations WHERE created < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected())
    }
}
