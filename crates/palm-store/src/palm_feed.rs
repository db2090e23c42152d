//! The palm change feed (see `palm_service::palm_feed`): palms' shard, version and tombstone, and
//! the outbox rows written in the same transaction as each change.

use crate::{SqlStore, col, db_err, id_col};
use async_trait::async_trait;
use palm_service::palm_feed::{PalmChange, PalmFeedStore, PalmOp, PlacedPalm, shard_of};
use palm_service::store::{OwnedPalm, PalmRow, PersonId, StoreResult};
use sqlx::any::AnyRow;

/// The palm and owner columns the index needs, over `palms` joined with `people p`.
pub(crate) const OWNED_PALM_COLUMNS: &str = "palms.id, palms.person_id, palms.hand, palms.template_sealed, palms.created, palms.shard, palms.version, p.wrapped_key, p.phone_last4";

/// Palms that can be searched, with their owners: not tombstoned, owner not being deleted. The
/// index's load and the matchers' loads and reads all select from here, so they agree on it.
pub(crate) const LIVE_PALMS: &str = "FROM palms JOIN people p ON p.id = palms.person_id WHERE palms.deleted IS NULL AND p.deletion_requested IS NULL";

/// A `palms` row.
pub(crate) fn palm(r: &AnyRow) -> Result<PalmRow, sqlx::Error> {
    Ok(PalmRow {
        id: col(r, "id")?,
        person_id: id_col(r, "person_id")?,
        hand: col(r, "hand")?,
        template_sealed: col(r, "template_sealed")?,
        created: col(r, "created")?,
    })
}

pub(crate) fn owned_palm(r: &AnyRow) -> Result<OwnedPalm, sqlx::Error> {
    Ok(OwnedPalm {
        palm: palm(r)?,
        wrapped_key: col(r, "wrapped_key")?,
        phone_last4: col(r, "phone_last4")?,
    })
}

fn shard_col(r: &AnyRow) -> Result<u16, sqlx::Error> {
    let shard: i64 = col(r, "shard")?;
    u16::try_from(shard).map_err(|_| sqlx::Error::ColumnDecode {
        index: "shard".into(),
        source: format!("{shard} is not a virtual shard").into(),
    })
}

fn change(r: &AnyRow) -> Result<PalmChange, sqlx::Error> {
    let op: String = col(r, "op")?;
    Ok(PalmChange {
        seq: col(r, "seq")?,
        palm_id: col(r, "palm_id")?,
        shard: shard_col(r)?,
        version: col(r, "version")?,
        op: PalmOp::parse(&op).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "op".into(),
            source: format!("{op:?} is not a palm change").into(),
        })?,
        created: col(r, "created")?,
    })
}

/// Writes a palm (version 1, placed in its virtual shard) and its `upsert` outbox row.
pub(crate) async fn insert_palm_in(
    tx: &mut sqlx::AnyConnection,
    p: &PalmRow,
) -> Result<(), sqlx::Error> {
    let shard = i64::from(shard_of(p.id));
    sqlx::query("INSERT INTO palms (id, person_id, hand, template_sealed, created, shard, version) VALUES ($1, $2, $3, $4, $5, $6, 1)")
        .bind(p.id)
        .bind(p.person_id.as_str())
        .bind(&p.hand)
        .bind(&p.template_sealed)
        .bind(p.created)
        .bind(shard)
        .execute(&mut *tx)
        .await?;
    record_in(tx, p.id, shard, 1, PalmOp::Upsert, p.created).await
}

async fn record_in(
    tx: &mut sqlx::AnyConnection,
    palm_id: i64,
    shard: i64,
    version: i64,
    op: PalmOp,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO palm_outbox (palm_id, shard, version, op, created) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(palm_id)
    .bind(shard)
    .bind(version)
    .bind(op.as_str())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets `new` as one live palm's sealed template if it is still `old` (compare-and-set), raises
/// its version and records the change; false when nothing matched.
pub(crate) async fn replace_template_in(
    tx: &mut sqlx::AnyConnection,
    palm_id: i64,
    old: &[u8],
    new: &[u8],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("UPDATE palms SET template_sealed = $1, version = version + 1 WHERE id = $2 AND template_sealed = $3 AND deleted IS NULL RETURNING shard, version")
        .bind(new)
        .bind(palm_id)
        .bind(old)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let (shard, version): (i64, i64) = (col(&row, "shard")?, col(&row, "version")?);
    record_in(tx, palm_id, shard, version, PalmOp::Upsert, now).await?;
    Ok(true)
}

/// Raises the version of every live palm of a person and records each as changed (what the
/// matchers hold of a palm besides its template, the search bucket, changed with the phone).
pub(crate) async fn renew_palms_in(
    tx: &mut sqlx::AnyConnection,
    person_id: &PersonId,
    now: i64,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query("UPDATE palms SET version = version + 1 WHERE person_id = $1 AND deleted IS NULL RETURNING id, shard, version")
        .bind(person_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
    for r in &rows {
        let (id, shard, version) = (col(r, "id")?, col(r, "shard")?, col(r, "version")?);
        record_in(tx, id, shard, version, PalmOp::Upsert, now).await?;
    }
    Ok(())
}

/// Tombstones every live palm of a person at `now` and records each as deleted; returns their
/// ids. Run in the transaction that starts or finishes the person's deletion.
pub(crate) async fn tombstone_palms_in(
    tx: &mut sqlx::AnyConnection,
    person_id: &PersonId,
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("UPDATE palms SET deleted = $1, version = version + 1 WHERE person_id = $2 AND deleted IS NULL RETURNING id, shard, version")
        .bind(now)
        .bind(person_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let (id, shard, version) = (col(r, "id")?, col(r, "shard")?, col(r, "version")?);
        record_in(tx, id, shard, version, PalmOp::Delete, now).await?;
        ids.push(id);
    }
    Ok(ids)
}

impl SqlStore {
    /// Places palms written before the feed existed (shard -1) in their virtual shards: SQL
    /// cannot compute the placement, so the first open after the migration does it, in pages.
    pub(crate) async fn place_unplaced_palms(&self) -> StoreResult<u64> {
        let mut placed = 0;
        loop {
            let rows = sqlx::query("SELECT id FROM palms WHERE shard < 0 LIMIT 1000")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            if rows.is_empty() {
                return Ok(placed);
            }
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            for r in &rows {
                let id: i64 = col(r, "id").map_err(db_err)?;
                sqlx::query("UPDATE palms SET shard = $1 WHERE id = $2")
                    .bind(i64::from(shard_of(id)))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            placed += rows.len() as u64;
        }
    }
}

#[async_trait]
impl PalmFeedStore for SqlStore {
    async fn unpublished_palm_changes(&self, limit: i64) -> StoreResult<Vec<PalmChange>> {
        let rows = sqlx::query("SELECT seq, palm_id, shard, version, op, created FROM palm_outbox WHERE published IS NULL ORDER BY seq LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        crate::read_rows(&rows, change)
    }

    async fn mark_palm_changes_published(&self, seqs: &[i64], now: i64) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut marked = 0;
        for seq in seqs {
            marked += sqlx::query(
                "UPDATE palm_outbox SET published = $1 WHERE seq = $2 AND published IS NULL",
            )
            .bind(now)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(marked)
    }

    async fn prune_palm_changes(&self, before: i64, unpublished_too: bool) -> StoreResult<u64> {
        let published_only = if unpublished_too {
            ""
        } else {
            " AND published IS NOT NULL"
        };
        Ok(
            q!("DELETE FROM palm_outbox WHERE created < $1{published_only}")
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected(),
        )
    }

    async fn placed_palms_page(
        &self,
        shard: u16,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<PlacedPalm>> {
        // One shard at a time, in id order: the (shard, id) index serves each page directly
        // (a page over many shards at once sorted every matching row again for each page).
        let rows = q!(
            "SELECT {OWNED_PALM_COLUMNS} {LIVE_PALMS} AND palms.shard = $1 AND palms.id > $2 ORDER BY palms.id LIMIT $3"
        )
        .bind(i64::from(shard))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        crate::read_rows(&rows, placed)
    }

    async fn placed_palm(&self, palm_id: i64) -> StoreResult<Option<PlacedPalm>> {
        let row = q!("SELECT {OWNED_PALM_COLUMNS} {LIVE_PALMS} AND palms.id = $1")
            .bind(palm_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| placed(&r)).transpose().map_err(db_err)
    }
}

fn placed(r: &AnyRow) -> Result<PlacedPalm, sqlx::Error> {
    Ok(PlacedPalm {
        owned: owned_palm(r)?,
        shard: shard_col(r)?,
        version: col(r, "version")?,
    })
}
