//! People, their palms, cards, consents and sessions.

use crate::palm_feed::{
    LIVE_PALMS, OWNED_PALM_COLUMNS, insert_palm_in, owned_palm, palm, renew_palms_in,
    replace_template_in,
};
use crate::{SqlStore, changed_one, col, db_err, id_col, read_rows};
use async_trait::async_trait;
use palm_service::store::{
    CardRow, NewPerson, OwnedPalm, PalmRow, PeopleStore, PersonId, PersonRow, SessionRow,
    StoreResult,
};
use sqlx::any::AnyRow;

const PERSON_COLUMNS: &str = "p.id, p.phone_sealed, p.phone_fingerprint, p.phone_last4, p.wrapped_key, p.default_card, p.created, p.last_used, p.pending_since";
const PALM_COLUMNS: &str = "id, person_id, hand, template_sealed, created";
const CARD_COLUMNS: &str = "id, person_id, brand, last4, exp_month, exp_year, number_sealed, holder_sealed, fingerprint, created";

fn person(r: &AnyRow) -> Result<PersonRow, sqlx::Error> {
    Ok(PersonRow {
        id: id_col(r, "id")?,
        phone_sealed: col(r, "phone_sealed")?,
        phone_fingerprint: col(r, "phone_fingerprint")?,
        phone_last4: col(r, "phone_last4")?,
        wrapped_key: col(r, "wrapped_key")?,
        default_card: col(r, "default_card")?,
        created: col(r, "created")?,
        last_used: col(r, "last_used")?,
        pending_since: col(r, "pending_since")?,
    })
}

fn card(r: &AnyRow) -> Result<CardRow, sqlx::Error> {
    Ok(CardRow {
        id: col(r, "id")?,
        person_id: id_col(r, "person_id")?,
        brand: col(r, "brand")?,
        last4: col(r, "last4")?,
        exp_month: col(r, "exp_month")?,
        exp_year: col(r, "exp_year")?,
        number_sealed: col(r, "number_sealed")?,
        holder_sealed: col(r, "holder_sealed")?,
        fingerprint: col(r, "fingerprint")?,
        created: col(r, "created")?,
    })
}

async fn insert_card_in(tx: &mut sqlx::AnyConnection, c: &CardRow) -> Result<(), sqlx::Error> {
    q!("INSERT INTO cards ({CARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&c.id)
        .bind(c.person_id.as_str())
        .bind(&c.brand)
        .bind(&c.last4)
        .bind(c.exp_month)
        .bind(c.exp_year)
        .bind(&c.number_sealed)
        .bind(&c.holder_sealed)
        .bind(&c.fingerprint)
        .bind(c.created)
        .execute(tx)
        .await?;
    Ok(())
}

impl SqlStore {
    async fn one_person(&self, filter: &str, value: &str) -> StoreResult<Option<PersonRow>> {
        let row = q!("SELECT {PERSON_COLUMNS} FROM people p WHERE {filter}")
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| person(&r)).transpose().map_err(db_err)
    }
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn insert_person(&self, n: &NewPerson) -> StoreResult<()> {
        self.insert_people(std::slice::from_ref(n)).await
    }

    async fn insert_people(&self, people: &[NewPerson]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for n in people {
            insert_person_in(&mut tx, n).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn person(&self, id: &PersonId) -> StoreResult<Option<PersonRow>> {
        self.one_person("p.id = $1", id.as_str()).await
    }

    async fn person_by_phone(&self, phone_fingerprint: &str) -> StoreResult<Option<PersonRow>> {
        self.one_person("p.phone_fingerprint = $1", phone_fingerprint)
            .await
    }

    async fn person_of_palm(&self, palm_id: i64) -> StoreResult<Option<PersonRow>> {
        let row = q!(
            "SELECT {PERSON_COLUMNS} FROM people p JOIN palms ON palms.person_id = p.id WHERE palms.id = $1 AND palms.deleted IS NULL AND p.deletion_requested IS NULL"
        )
        .bind(palm_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| person(&r)).transpose().map_err(db_err)
    }

    async fn palms_page(&self, after: i64, limit: i64) -> StoreResult<Vec<OwnedPalm>> {
        let rows = q!(
            "SELECT {OWNED_PALM_COLUMNS} {LIVE_PALMS} AND palms.id > $1 ORDER BY palms.id LIMIT $2"
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        read_rows(&rows, owned_palm)
    }

    async fn palms_of(&self, person_id: &PersonId) -> StoreResult<Vec<PalmRow>> {
        let rows = q!("SELECT {PALM_COLUMNS} FROM palms WHERE person_id = $1 ORDER BY hand")
            .bind(person_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&rows, palm)
    }

    async fn replace_palm_template(
        &self,
        palm_id: i64,
        old: &[u8],
        new: &[u8],
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let replaced = replace_template_in(&mut tx, palm_id, old, new, now)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(replaced)
    }

    async fn confirm_first_scan(&self, person_id: &PersonId, palm: &PalmRow) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let r = sqlx::query(
            "UPDATE people SET pending_since = NULL WHERE id = $1 AND pending_since IS NOT NULL",
        )
        .bind(person_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        insert_palm_in(&mut tx, palm).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn update_phone(&self, p: &PersonRow, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE people SET phone_sealed = $1, phone_fingerprint = $2, phone_last4 = $3 WHERE id = $4")
            .bind(&p.phone_sealed)
            .bind(&p.phone_fingerprint)
            .bind(&p.phone_last4)
            .bind(p.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        renew_palms_in(&mut tx, &p.id, now).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn touch_person(&self, person_id: &PersonId, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE people SET last_used = $1 WHERE id = $2")
            .bind(now)
            .bind(person_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn cards_of(&self, person_id: &PersonId) -> StoreResult<Vec<CardRow>> {
        let rows = q!("SELECT {CARD_COLUMNS} FROM cards WHERE person_id = $1 ORDER BY id")
            .bind(person_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&rows, card)
    }

    async fn cards_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Vec<CardRow>> {
        let rows = q!("SELECT {CARD_COLUMNS} FROM cards WHERE fingerprint = $1 ORDER BY id")
            .bind(fingerprint)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        read_rows(&rows, card)
    }

    async fn insert_card(&self, c: &CardRow, make_default: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_card_in(&mut tx, c).await.map_err(db_err)?;
        if make_default {
            sqlx::query("UPDATE people SET default_card = $1 WHERE id = $2")
                .bind(&c.id)
                .bind(c.person_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn delete_card(
        &self,
        person_id: &PersonId,
        card_id: &str,
        new_default: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query("DELETE FROM cards WHERE id = $1 AND person_id = $2")
            .bind(card_id)
            .bind(person_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE people SET default_card = $1 WHERE id = $2")
            .bind(new_default)
            .bind(person_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn set_default_card(&self, person_id: &PersonId, card_id: &str) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE people SET default_card = $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM cards WHERE cards.id = $1 AND cards.person_id = $2)",
        )
        .bind(card_id)
        .bind(person_id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn insert_session(&self, s: &SessionRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, person_id, expires) VALUES ($1, $2, $3)")
            .bind(&s.token_hash)
            .bind(s.person_id.as_str())
            .bind(s.expires)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT token_hash, person_id, expires FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(SessionRow {
                token_hash: col(&r, "token_hash")?,
                person_id: id_col(&r, "person_id")?,
                expires: col(&r, "expires")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn wrapped_keys_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let rows =
            sqlx::query("SELECT id, wrapped_key FROM people WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((col(r, "id")?, col(r, "wrapped_key")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn replace_wrapped_key(
        &self,
        person_id: &PersonId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        changed_one(
            &self.pool,
            sqlx::query("UPDATE people SET wrapped_key = $1 WHERE id = $2 AND wrapped_key = $3")
                .bind(new)
                .bind(person_id.as_str())
                .bind(old),
        )
        .await
    }
}

/// One person's rows (person, consent, palms with their feed rows, card) in `tx`.
async fn insert_person_in(tx: &mut sqlx::AnyConnection, n: &NewPerson) -> Result<(), sqlx::Error> {
    let p = &n.person;
    sqlx::query("INSERT INTO people (id, phone_sealed, phone_fingerprint, phone_last4, wrapped_key, default_card, created, last_used, pending_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(p.id.as_str())
        .bind(&p.phone_sealed)
        .bind(&p.phone_fingerprint)
        .bind(&p.phone_last4)
        .bind(&p.wrapped_key)
        .bind(&p.default_card)
        .bind(p.created)
        .bind(p.last_used)
        .bind(p.pending_since)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO consents (id, person_id, text_version, accepted_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&n.consent.id)
    .bind(n.consent.person_id.as_str())
    .bind(&n.consent.text_version)
    .bind(n.consent.accepted_at)
    .execute(&mut *tx)
    .await?;
    for palm in &n.palms {
        insert_palm_in(tx, palm).await?;
    }
    insert_card_in(tx, &n.card).await
}
