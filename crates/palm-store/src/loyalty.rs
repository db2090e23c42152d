//! Loyalty programs, rewards, memberships and the points ledger.

use crate::{SqlStore, amount, col, db_err, id_col, named, read_rows};
use async_trait::async_trait;
use palm_service::StoreError;
use palm_service::store::{
    Currency, LoyaltyStore, MembershipRow, Page, PointsRow, ProgramRow, RewardRow, StoreResult,
};
use palm_service::store::{MerchantId, PersonId};
use sqlx::any::AnyRow;

const MEMBERSHIP_COLUMNS: &str =
    "m.id, m.program_id, m.person_id, m.member_number, m.balance, m.created";
const REWARD_COLUMNS: &str = "id, program_id, name, points_cost, discount, currency, created";

fn membership(r: &AnyRow) -> Result<MembershipRow, sqlx::Error> {
    Ok(MembershipRow {
        id: col(r, "id")?,
        program_id: col(r, "program_id")?,
        person_id: id_col(r, "person_id")?,
        member_number: col(r, "member_number")?,
        balance: col(r, "balance")?,
        created: col(r, "created")?,
    })
}

fn reward(r: &AnyRow) -> Result<RewardRow, sqlx::Error> {
    Ok(RewardRow {
        id: col(r, "id")?,
        program_id: col(r, "program_id")?,
        name: col(r, "name")?,
        points_cost: col(r, "points_cost")?,
        discount: amount(r, "discount")?,
        currency: named(r, "currency", Currency::stored)?,
        created: col(r, "created")?,
    })
}

/// Applies ledger entries inside the caller's transaction: an entry already recorded (same
/// membership, source and kind) is skipped; a balance that would go below zero fails the whole
/// transaction (for redemptions).
pub(crate) async fn apply_points(
    tx: &mut sqlx::AnyConnection,
    points: &[PointsRow],
) -> StoreResult<()> {
    for p in points {
        let inserted = sqlx::query(
            "INSERT INTO loyalty_ledger (id, membership_id, source_id, kind, points, created) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (membership_id, source_id, kind) DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.membership_id)
        .bind(&p.source_id)
        .bind(&p.kind)
        .bind(p.points)
        .bind(p.created)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        // Only spending is held to the balance: a refund takes back accrued points even when
        // they were spent meanwhile (the balance then goes negative, as card schemes do).
        let rule = if p.kind == "redemption" {
            " AND balance + $1 >= 0"
        } else {
            ""
        };
        let updated = q!("UPDATE memberships SET balance = balance + $1 WHERE id = $2{rule}")
            .bind(p.points)
            .bind(&p.membership_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::Duplicate("membership_balance".into()));
        }
    }
    Ok(())
}

#[async_trait]
impl LoyaltyStore for SqlStore {
    async fn insert_program(&self, p: &ProgramRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO loyalty_programs (id, merchant_id, name, points_per_unit, created) VALUES ($1, $2, $3, $4, $5)")
            .bind(&p.id)
            .bind(p.merchant_id.as_str())
            .bind(&p.name)
            .bind(p.points_per_unit)
            .bind(p.created)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn programs(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ProgramRow>> {
        let rows = sqlx::query("SELECT id, merchant_id, name, points_per_unit, created FROM loyalty_programs WHERE merchant_id = $1 ORDER BY id")
            .bind(merchant_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ProgramRow {
                    id: col(r, "id")?,
                    merchant_id: MerchantId::stored(col(r, "merchant_id")?),
                    name: col(r, "name")?,
                    points_per_unit: col(r, "points_per_unit")?,
                    created: col(r, "created")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn insert_reward(&self, r: &RewardRow) -> StoreResult<()> {
        q!("INSERT INTO loyalty_rewards ({REWARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&r.id)
            .bind(&r.program_id)
            .bind(&r.name)
            .bind(r.points_cost)
            .bind(r.discount.minor_units())
            .bind(r.currency.as_str())
            .bind(r.created)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn rewards(&self, program_id: &str) -> StoreResult<Vec<RewardRow>> {
        let rows =
            q!("SELECT {REWARD_COLUMNS} FROM loyalty_rewards WHERE program_id = $1 ORDER BY id")
                .bind(program_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        read_rows(&rows, reward)
    }

    async fn reward(&self, id: &str) -> StoreResult<Option<RewardRow>> {
        let row = q!("SELECT {REWARD_COLUMNS} FROM loyalty_rewards WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| reward(&r)).transpose().map_err(db_err)
    }

    async fn insert_membership(&self, m: &MembershipRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO memberships (id, program_id, person_id, member_number, balance, created) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&m.id)
            .bind(&m.program_id)
            .bind(m.person_id.as_str())
            .bind(&m.member_number)
            .bind(m.balance)
            .bind(m.created)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn memberships(&self, program_id: &str, page: &Page) -> StoreResult<Vec<MembershipRow>> {
        let select =
            format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.program_id = $1");
        let rows = self.fetch_page(&select, "m.id", program_id, page).await?;
        read_rows(&rows, membership)
    }

    async fn memberships_of(
        &self,
        merchant_id: &MerchantId,
        person_id: &PersonId,
    ) -> StoreResult<Vec<MembershipRow>> {
        let rows = q!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m JOIN loyalty_programs p ON p.id = m.program_id WHERE p.merchant_id = $1 AND m.person_id = $2 ORDER BY m.id"
        )
        .bind(merchant_id.as_str())
        .bind(person_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, membership)
    }

    async fn points_of(&self, source_id: &str) -> StoreResult<Vec<PointsRow>> {
        let rows = sqlx::query("SELECT id, membership_id, source_id, kind, points, created FROM loyalty_ledger WHERE source_id = $1 ORDER BY id")
            .bind(source_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PointsRow {
                    id: col(r, "id")?,
                    membership_id: col(r, "membership_id")?,
                    source_id: col(r, "source_id")?,
                    kind: col(r, "kind")?,
                    points: col(r, "points")?,
                    created: col(r, "created")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }
}
