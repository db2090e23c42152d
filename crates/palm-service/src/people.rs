//! People managing their own data: a session opened at a device with palm + phone number, then
//! their cards (list, add, remove, default) and their phone number.

use crate::domain::{Phone, new_secret, secret_hash};
use crate::error::{ErrorKind, Result, ServiceError, StoreError};
use crate::signup_input::CardEntry;
use crate::store::{PersonRow, SessionRow, TillRow};
use crate::views::{self, CardView, PersonSession, PersonView};
use crate::{Service, context};
use palm_index::PalmId;

impl Service {
    async fn person_view(&self, person: &PersonRow) -> Result<PersonView> {
        let cards = self.store.cards_of(&person.id).await?;
        let mut hands: Vec<_> = self
            .store
            .palms_of(&person.id)
            .await?
            .iter()
            .filter_map(|p| views::hand_of(&p.hand))
            .collect();
        // A hand may have two templates (a phone sign-up and its first till capture).
        hands.dedup();
        Ok(PersonView::of(person, hands, &cards))
    }

    /// A person proves who they are: their palm, searched among the palms of their phone's
    /// bucket, and the phone number they enrolled with.
    pub(crate) async fn identify_with_phone(
        &self,
        image: &str,
        phone: &str,
    ) -> Result<(Phone, PersonRow)> {
        let phone = Phone::parse(phone)?;
        let person = self.identify(image, Some(phone.last4())).await?;
        if person.phone_fingerprint != self.phone_fingerprint(&phone) {
            // Same answer as an unknown palm: a wrong number must not confirm who the palm is.
            return Err(ServiceError::not_recognised(
                "no enrolled palm matches with that phone number",
            ));
        }
        Ok((phone, person))
    }

    /// A person proves who they are at a till: their palm (a base64 image), and the phone
    /// number they enrolled.
    pub async fn open_session(
        &self,
        till: &TillRow,
        image: &str,
        phone: &str,
    ) -> Result<PersonSession> {
        let (_, person) = self.identify_with_phone(image, phone).await?;
        self.audit(&person.id, &till.id, "person_session").await?;
        let token = new_secret("ps")?;
        let expires = self.now_s() + self.config.session_ttl_s;
        self.store
            .insert_session(&SessionRow {
                token_hash: secret_hash(&token),
                person_id: person.id.clone(),
                expires,
            })
            .await?;
        Ok(PersonSession {
            token,
            expires,
            person: self.person_view(&person).await?,
        })
    }

    /// The person a session token belongs to, if the session is still open.
    pub async fn session_person(&self, token: &str) -> Result<PersonRow> {
        let unauthenticated = || {
            ServiceError::new(
                ErrorKind::Unauthenticated,
                "session_invalid",
                "person session missing, unknown or expired; open a new one with palm and phone",
            )
        };
        let session = self
            .store
            .session(&secret_hash(token))
            .await?
            .filter(|s| s.expires > self.now_s())
            .ok_or_else(unauthenticated)?;
        self.store
            .person(&session.person_id)
            .await?
            .ok_or_else(unauthenticated)
    }

    pub async fn me(&self, person: &PersonRow) -> Result<PersonView> {
        self.person_view(person).await
    }

    pub async fn add_card(&self, person: &PersonRow, input: CardEntry) -> Result<CardView> {
        let card = self.parse_card(&input, "card")?;
        let fingerprint = self.fingerprinter.card(&card.number);
        if let Some(existing) = self.store.cards_by_fingerprint(&fingerprint).await?.first() {
            return Err(if existing.person_id == person.id {
                ServiceError::conflict("card_already_added", "this card is already on your profile")
            } else {
                ServiceError::conflict(
                    "card_in_use",
                    "this card is already enrolled by another person",
                )
            }
            .with_param("card.number"));
        }
        self.verify_card(&card).await?;
        let key = self.data_key(&person.wrapped_key)?;
        let row = self.card_row(&key, &person.id, &card)?;
        let make_default = person.default_card.is_none();
        self.store.insert_card(&row, make_default).await?;
        let default = if make_default {
            Some(row.id.as_str())
        } else {
            person.default_card.as_deref()
        };
        Ok(CardView::of(&row, default))
    }

    pub async fn remove_card(&self, person: &PersonRow, card_id: &str) -> Result<()> {
        let cards = self.store.cards_of(&person.id).await?;
        let new_default = if person.default_card.as_deref() == Some(card_id) {
            cards
                .iter()
                .find(|c| c.id != card_id)
                .map(|c| c.id.as_str())
        } else {
            person.default_card.as_deref()
        };
        if !self
            .store
            .delete_card(&person.id, card_id, new_default)
            .await?
        {
            return Err(ServiceError::not_found("card"));
        }
        Ok(())
    }

    pub async fn set_default_card(&self, person: &PersonRow, card_id: &str) -> Result<PersonView> {
        if !self.store.set_default_card(&person.id, card_id).await? {
            return Err(ServiceError::not_found("card"));
        }
        let person = self
            .store
            .person(&person.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("person"))?;
        self.person_view(&person).await
    }

    /// A new phone number: sealed, re-fingerprinted, and the palms moved to the new bucket.
    pub async fn change_phone(&self, person: &PersonRow, raw: &str) -> Result<PersonView> {
        let phone = Phone::parse(raw)?;
        let key = self.data_key(&person.wrapped_key)?;
        let updated = PersonRow {
            phone_sealed: key.seal(
                phone.as_str().as_bytes(),
                &context("phone", person.id.as_str()),
            )?,
            phone_fingerprint: self.phone_fingerprint(&phone),
            phone_last4: phone.last4().to_string(),
            ..person.clone()
        };
        match self.store.update_phone(&updated, self.now_s()).await {
            Err(StoreError::Duplicate(_)) => {
                return Err(ServiceError::conflict(
                    "phone_in_use",
                    "this phone number belongs to another enrolled person",
                )
                .with_param("phone"));
            }
            other => other?,
        }
        // Where matchers search, the store's new palm versions (written with the phone) carry
        // the move; nothing here holds the palms, so none is opened.
        let held_here = if self.indexes_locally() {
            self.store.palms_of(&person.id).await?
        } else {
            vec![]
        };
        for palm in held_here {
            let template = self.open_palm(&key, &palm)?;
            self.gallery.remove(PalmId(palm.id as u64));
            self.index_stored_palm(&person.id, palm.id, Some(phone.bucket()), &template);
        }
        self.person_view(&updated).await
    }
}
