//! Sign-up: palm captures + card + phone + consent in, one enrolled person out, all or nothing.

use crate::domain::{Phone, check_text, new_id};
use crate::error::{ErrorKind, Result, ServiceError, StoreError};
use crate::ids::{MerchantId, PersonId};
use crate::money::{Amount, Currency};
use crate::signup_input::{CaptureSource, CardEntry, Hand, SignUp};
use crate::store::{CardRow, ConsentRow, NewPerson, PalmRow, PersonRow};
use crate::views::{ConsentText, PersonView, SignedUp};
use crate::{Service, context, decode_image, palm_error};
use palm_engine::{DEFAULT_THRESHOLD, Template};
use palm_index::Search;
use palm_vault::{Brand, CardError, CardNumber, Cvv, Expiry};

/// The consent text's version; sign-ups must quote it. Change both together.
pub const CONSENT_VERSION: &str = "2026-11";
pub const CONSENT_TEXT: &str = "I agree that Palmline may capture images of my palm and keep an \
encrypted template made from them, to identify me when I pay, present a loyalty card or enter a \
venue. Palm images are not kept. I can delete my profile at any time; my palm data is also \
deleted after two years without use.";

/// Captures per hand a sign-up may send: at least two, so the service can check they agree.
const MIN_CAPTURES: usize = 2;
const MAX_CAPTURES: usize = 5;

/// Two captures scoring this close are one picture sent twice, which would make "the captures
/// agree" prove nothing. Measured: a phone photo saved again as JPEG scores 0.978-0.983 against
/// itself, a synthetic 128 px crop saved at quality 90-95 0.968-0.979; photos of one hand taken
/// a second apart 0.90-0.92, and 90% of genuine pairs stay under 0.928. Copies compressed much
/// harder (a small crop at quality 75 scores ~0.94) pass as distinct captures.
const SAME_PICTURE: f32 = 0.97;

/// A card as the service handles it once parsed: the number never leaves this type unmasked
/// except to be sealed or sent to the processor.
pub(crate) struct CardDetails {
    pub number: CardNumber,
    pub expiry: Expiry,
    pub holder: String,
    pub cvv: Option<Cvv>,
}

fn same_picture(i: usize) -> ServiceError {
    ServiceError::palm(
        "captures_identical",
        "this capture is a copy of another one; lift the hand and hover it again for each capture",
    )
    .with_param(format!("captures[{i}]"))
}

fn card_error(e: CardError, param: &str) -> ServiceError {
    let code = match e {
        CardError::Expired => "expired_card",
        CardError::Luhn | CardError::NumberFormat | CardError::BrandLength { .. } => {
            "invalid_card_number"
        }
        CardError::ExpiryFormat => "invalid_expiry",
        CardError::Cvv => "invalid_cvc",
        _ => "invalid_card",
    };
    let kind = if e == CardError::Expired {
        ErrorKind::Card
    } else {
        ErrorKind::Invalid
    };
    ServiceError::new(kind, code, e.to_string()).with_param(param)
}

impl Service {
    pub fn consent(&self) -> ConsentText {
        ConsentText {
            version: CONSENT_VERSION,
            text: CONSENT_TEXT,
        }
    }

    pub(crate) fn parse_card(&self, input: &CardEntry, prefix: &str) -> Result<CardDetails> {
        let param = |f: &str| format!("{prefix}.{f}");
        let number: CardNumber = input
            .number
            .parse()
            .map_err(|e| card_error(e, &param("number")))?;
        if number.brand() == Brand::Unknown {
            return Err(ServiceError::invalid(
                "unsupported_card_brand",
                "card brand not accepted (Visa, Mastercard, Amex, Discover, JCB, UnionPay are)",
            )
            .with_param(param("number")));
        }
        let expiry: Expiry = format!("{}/{}", input.exp_month, input.exp_year)
            .parse()
            .map_err(|e| card_error(e, &param("exp_month")))?;
        let (year, month) = self.clock.year_month();
        let expiry = expiry
            .check(year, month)
            .map_err(|e| card_error(e, &param("exp_year")))?;
        let holder = check_text(&input.holder_name, &param("holder_name"), 100)?;
        let cvv = match &input.cvc {
            Some(c) => Some(c.parse().map_err(|e| card_error(e, &param("cvc")))?),
            None => None,
        };
        Ok(CardDetails {
            number,
            expiry,
            holder,
            cvv,
        })
    }

    /// Seals a card under a person's data key into a row.
    pub(crate) fn card_row(
        &self,
        key: &palm_vault::DataKey,
        person_id: &PersonId,
        card: &CardDetails,
    ) -> Result<CardRow> {
        let id = new_id("card");
        Ok(CardRow {
            person_id: person_id.clone(),
            brand: card.number.brand().name().to_string(),
            last4: card.number.last4().to_string(),
            exp_month: i64::from(card.expiry.month),
            exp_year: i64::from(card.expiry.year),
            number_sealed: key.seal(
                card.number.expose_digits().as_bytes(),
                &context("card", &id),
            )?,
            holder_sealed: key.seal(card.holder.as_bytes(), &context("holder", &id))?,
            fingerprint: self.fingerprinter.card(&card.number),
            created: self.now_s(),
            id,
        })
    }

    /// With a security code, the card is verified by a zero-amount authorisation before it is
    /// kept (the code goes to the processor and is then dropped; it is never stored).
    pub(crate) async fn verify_card(&self, card: &CardDetails) -> Result<()> {
        let Some(cvv) = &card.cvv else { return Ok(()) };
        let key = new_id("verify");
        let auth = crate::processor::Authorization {
            idempotency_key: &key,
            card: &card.number,
            expiry: card.expiry,
            cvv: Some(cvv),
            amount: Amount::ZERO,
            currency: Currency::USD,
            capture: false,
        };
        match self
            .call_processor(&key, || self.processor.authorize(&auth))
            .await?
        {
            Some(crate::processor::Outcome::Approved { .. }) => Ok(()),
            Some(crate::processor::Outcome::Declined { code }) => {
                let mut e = ServiceError::new(
                    ErrorKind::Card,
                    "card_declined",
                    "the card was declined when it was verified",
                )
                .with_param("card.number");
                e.decline_code = Some(code);
                Err(e)
            }
            None => Err(ServiceError::new(
                ErrorKind::Unavailable,
                "processor_timeout",
                "the card could not be verified now; retry later",
            )),
        }
    }

    pub(crate) fn phone_fingerprint(&self, phone: &Phone) -> String {
        self.fingerprinter.value("phone", phone.as_str())
    }

    /// Templates from captures, each checked for enrolment quality; errors name the capture.
    async fn templates(&self, captures: &[(Hand, Vec<u8>)]) -> Result<Vec<Template>> {
        let engine = self.engine.clone();
        let images: Vec<Vec<u8>> = captures.iter().map(|(_, b)| b.clone()).collect();
        self.engine_work(move || {
            images
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    engine
                        .enrol_template(bytes)
                        .map_err(|e| palm_error(e, &format!("captures[{i}]")))
                })
                .collect()
        })
        .await?
    }

    /// The capture of one hand to enrol: the one closest to all the others, once they are shown
    /// to be the same palm (a capture matching none of the others is refused).
    fn representative(&self, templates: &[(usize, &Template)]) -> Result<Template> {
        let m = self.engine.matcher();
        // Every ordered pair of different captures scored once; both checks below read these
        // scores (the diagonal is never read).
        let scores: Vec<Vec<f32>> = templates
            .iter()
            .enumerate()
            .map(|(n, (_, a))| {
                templates
                    .iter()
                    .enumerate()
                    .map(|(k, (_, b))| {
                        if k == n {
                            1.0
                        } else {
                            m.similarity(a, b).unwrap_or(0.0)
                        }
                    })
                    .collect()
            })
            .collect();
        for (n, &(i, _)) in templates.iter().enumerate() {
            if scores[n][..n].iter().any(|&s| s >= SAME_PICTURE) {
                return Err(same_picture(i));
            }
        }
        let mut best = (f32::MIN, 0);
        for (n, &(i, _)) in templates.iter().enumerate() {
            let others: Vec<f32> = (0..templates.len())
                .filter(|&k| k != n)
                .map(|k| scores[n][k])
                .collect();
            if others.iter().all(|&s| s < DEFAULT_THRESHOLD) {
                return Err(ServiceError::palm(
                    "captures_disagree",
                    "this capture does not look like the same palm as the others; scan the same hand again",
                )
                .with_param(format!("captures[{i}]")));
            }
            let mean = others.iter().sum::<f32>() / others.len() as f32;
            if mean > best.0 {
                best = (mean, i);
            }
        }
        let (_, chosen) = templates
            .iter()
            .find(|(i, _)| *i == best.1)
            .ok_or_else(|| ServiceError::internal("no capture chosen"))?;
        Ok((*chosen).clone())
    }

    /// The sign-up use case.
    /// `actor`: the till or merchant the sign-up came through (for the audit log); loyalty
    /// programs joined with the sign-up are that merchant's.
    pub async fn sign_up(
        &self,
        actor: &str,
        merchant_id: &MerchantId,
        req: SignUp,
    ) -> Result<SignedUp> {
        let Some(consent_version) = &req.consent else {
            return Err(ServiceError::invalid(
                "consent_required",
                "the person must accept the consent text before enrolment",
            )
            .with_param("consent.accepted"));
        };
        if consent_version != CONSENT_VERSION {
            return Err(ServiceError::invalid(
                "consent_version",
                format!(
                    "consent text version is not current; show version {CONSENT_VERSION} (GET /v1/consent)"
                ),
            )
            .with_param("consent.text_version"));
        }
        let phone = Phone::parse(&req.phone)?;
        let card = self.parse_card(&req.card, "card")?;
        let mut captures = Vec::with_capacity(req.captures.len());
        for (i, c) in req.captures.iter().enumerate() {
            captures.push((
                c.hand,
                decode_image(&c.image, &format!("captures[{i}].image"))?,
            ));
        }
        // The very same bytes twice are refused before the engine spends time on them.
        for (i, (_, bytes)) in captures.iter().enumerate() {
            if captures[..i].iter().any(|(_, earlier)| earlier == bytes) {
                return Err(same_picture(i));
            }
        }
        let hands: Vec<Hand> = [Hand::Left, Hand::Right]
            .into_iter()
            .filter(|h| captures.iter().any(|(c, _)| c == h))
            .collect();
        for &h in &hands {
            let n = captures.iter().filter(|(c, _)| *c == h).count();
            if !(MIN_CAPTURES..=MAX_CAPTURES).contains(&n) {
                return Err(ServiceError::invalid(
                    "capture_count",
                    format!(
                        "send {MIN_CAPTURES} to {MAX_CAPTURES} captures of each hand enrolled ({} has {n})",
                        h.as_str()
                    ),
                )
                .with_param("captures"));
            }
        }
        if hands.is_empty() {
            return Err(ServiceError::invalid(
                "capture_count",
                format!("send at least {MIN_CAPTURES} captures of one hand"),
            )
            .with_param("captures"));
        }

        let templates = self.templates(&captures).await?;
        let mut chosen = Vec::new();
        for &h in &hands {
            let of_hand: Vec<(usize, &Template)> = templates
                .iter()
                .enumerate()
                .filter(|(i, _)| captures[*i].0 == h)
                .collect();
            chosen.push((h, self.representative(&of_hand)?));
        }
        if let [(_, a), (_, b)] = chosen.as_slice()
            && self.engine.similarity(a, b).unwrap_or(0.0) >= DEFAULT_THRESHOLD
        {
            return Err(ServiceError::palm(
                "same_palm_twice",
                "the left and right captures show the same palm",
            )
            .with_param("captures"));
        }

        let programs = self.store.programs(merchant_id).await?;
        let mut joins = Vec::with_capacity(req.memberships.len());
        for (i, join) in req.memberships.iter().enumerate() {
            match join.program.as_str() {
                program if programs.iter().any(|p| p.id == program) => joins.push((program, join)),
                _ => {
                    return Err(ServiceError::not_found("loyalty program")
                        .with_param(format!("memberships[{i}].program")));
                }
            }
        }
        let pending = req.source == CaptureSource::Phone;
        let person = self.enrol(&phone, &card, &chosen, true, pending).await?;
        let person_id = PersonId::new(&person.id);
        self.audit(&person_id, actor, "enrolment").await?;
        let mut memberships = vec![];
        for (program, join) in joins {
            // The person is enrolled whatever happens here: a taken member number leaves that
            // one membership out, and the response shows which were joined.
            match self
                .join_program(
                    merchant_id,
                    program,
                    &person_id,
                    join.member_number.as_deref(),
                )
                .await
            {
                Ok(m) => memberships.push(m),
                Err(e) => tracing::warn!(code = e.code, "membership not joined at sign-up"),
            }
        }
        Ok(SignedUp {
            person,
            memberships,
        })
    }

    /// Stores a person with one template per hand, and indexes the palms. With `check_palms`,
    /// refuses a palm that already identifies someone (sign-up); without, the caller vouches for
    /// it (imports from another deployment, benchmarks). Phone and card must be new either way.
    /// With `pending_first_scan`, the enrolment waits for a till capture (see `identify`).
    async fn enrol(
        &self,
        phone: &Phone,
        card: &CardDetails,
        chosen: &[(Hand, Template)],
        check_palms: bool,
        pending_first_scan: bool,
    ) -> Result<PersonView> {
        let _one_at_a_time = self.signup_lock.lock().await;
        if check_palms {
            for (h, t) in chosen {
                self.refuse_enrolled(t, h.as_str()).await?;
            }
        }
        let phone_fingerprint = self.phone_fingerprint(phone);
        if self
            .store
            .person_by_phone(&phone_fingerprint)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict(
                "phone_in_use",
                "this phone number belongs to an enrolled person",
            )
            .with_param("phone"));
        }
        let card_fingerprint = self.fingerprinter.card(&card.number);
        if !self
            .store
            .cards_by_fingerprint(&card_fingerprint)
            .await?
            .is_empty()
        {
            return Err(ServiceError::conflict(
                "card_in_use",
                "this card is already enrolled by another person",
            )
            .with_param("card.number"));
        }

        self.verify_card(card).await?;
        let now = self.now_s();
        let person_id = PersonId::generate();
        let (key, wrapped) = self.new_data_key()?;
        let card_row = self.card_row(&key, &person_id, card)?;
        let mut palms = Vec::new();
        let mut protected = Vec::new();
        for (h, t) in chosen {
            let id = random_palm_id()?;
            let (template_sealed, p) = self.seal_palm(&key, id, t)?;
            protected.push(p);
            palms.push(PalmRow {
                id,
                person_id: person_id.clone(),
                hand: h.as_str().to_string(),
                template_sealed,
                created: now,
            });
        }
        let person = PersonRow {
            id: person_id.clone(),
            phone_sealed: key.seal(
                phone.as_str().as_bytes(),
                &context("phone", person_id.as_str()),
            )?,
            phone_fingerprint,
            phone_last4: phone.last4().to_string(),
            wrapped_key: wrapped.0,
            default_card: Some(card_row.id.clone()),
            created: now,
            last_used: now,
            pending_since: pending_first_scan.then_some(now),
        };
        let new = NewPerson {
            consent: ConsentRow {
                id: new_id("cns"),
                person_id: person_id.clone(),
                text_version: CONSENT_VERSION.to_string(),
                accepted_at: now,
            },
            palms: palms.clone(),
            card: card_row.clone(),
            person: person.clone(),
        };
        match self.store.insert_person(&new).await {
            Err(StoreError::Duplicate(_)) => {
                return Err(ServiceError::conflict(
                    "phone_in_use",
                    "this phone number belongs to an enrolled person",
                )
                .with_param("phone"));
            }
            other => other?,
        }
        for (palm, t) in palms.iter().zip(&protected) {
            self.index_stored_palm(&person_id, palm.id, Some(phone.bucket()), t);
        }
        let hands: Vec<Hand> = chosen.iter().map(|(h, _)| *h).collect();
        tracing::info!(person = %person_id, hands = hands.len(), "person enrolled");
        Ok(PersonView::of(&person, hands, &[card_row]))
    }

    /// Enrols a person from templates rather than captures: for moving enrolled people from
    /// another deployment (with their consent) and for scale benchmarks. Skips the duplicate-palm
    /// search, which the source system has done.
    pub async fn import_person(
        &self,
        phone: &str,
        card: &CardEntry,
        palms: &[(Hand, Template)],
    ) -> Result<PersonView> {
        let phone = Phone::parse(phone)?;
        let card = self.parse_card(card, "card")?;
        self.enrol(&phone, &card, palms, false, false).await
    }

    /// Refuses a palm that already identifies someone across the whole gallery.
    async fn refuse_enrolled(&self, t: &Template, hand: &str) -> Result<()> {
        let search = Search {
            k: 1,
            ..Search::default()
        };
        let (best, searched) = self.rank_one(t, &search).await?;
        let threshold = self.policy.threshold(searched).similarity as f32;
        if best.first().is_some_and(|c| c.similarity >= threshold) {
            return Err(ServiceError::conflict(
                "palm_already_enrolled",
                format!(
                    "this {hand} palm is already enrolled; its owner pays with it, and changes that profile through a person session (POST /v1/people/sessions)"
                ),
            )
            .with_param("captures"));
        }
        Ok(())
    }
}

/// Palm ids are random (they say nothing about enrolment order) and positive in an i64 column.
pub(crate) fn random_palm_id() -> Result<i64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|_| ServiceError::internal("the random source failed"))?;
    Ok((u64::from_le_bytes(b) >> 1) as i64)
}
