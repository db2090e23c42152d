//! Payments at a till: the merchant's POS creates a payment, the till's scanner submits a palm,
//! the service identifies the person and authorises their card; then capture and cancel (refunds
//! are in refunds.rs).
//!
//! States follow the card industry's payment intents:
//! `requires_palm -> [requires_confirmation] -> processing -> succeeded | requires_capture | failed`,
//! `requires_capture -> succeeded | canceled`, and `requires_palm -> canceled`. Every change is
//! written with its event (and webhook deliveries) in one transaction, guarded by the state it
//! expects, so two racing requests cannot both move a payment.

use crate::domain::new_id;
use crate::error::{ErrorKind, Result, ServiceError, StoreError};
use crate::events::{EventObject, NewEvent};
use crate::ids::{MerchantId, PaymentId, PersonId};
use crate::money::Amount;
use crate::payment_input::{Confirmation, NewPayment, PalmPayment, Part};
use crate::payment_state::{Authorisation, CaptureMethod, PaymentState as S, PaymentStatus};
use crate::processor::{Authorization, Lookup, Outcome, ProcessorError};
use crate::store::{
    CardRow, EventRow, KeyedRequest, Page, PaymentRow, PersonRow, PointsRow, TillRow,
};
use crate::views::{CardSummary, Listed, PaymentView};
use crate::{Service, context};
use palm_vault::CardNumber;
use std::future::Future;
use std::time::{Duration, Instant};

/// The conflict answered when a payment is not in one of the `wanted` states.
pub(crate) fn state_error(p: &PaymentRow, wanted: &[S]) -> ServiceError {
    let names: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    let wanted = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    ServiceError::conflict(
        "payment_unexpected_state",
        format!("payment is {}; this needs it to be {wanted}", p.status),
    )
}

impl Service {
    /// An event about a payment (its own change, or a refund of it): what webhooks deliver and
    /// the payment's history shows.
    pub(crate) fn payment_event(
        &self,
        p: &PaymentRow,
        kind: &str,
        object: EventObject<'_>,
    ) -> Result<EventRow> {
        self.object_event(&p.merchant_id, p.id.as_str(), kind, object)
    }

    /// An event about any of a merchant's objects (a payment, a shopping trip).
    pub(crate) fn object_event(
        &self,
        merchant_id: &MerchantId,
        object_id: &str,
        kind: &str,
        object: EventObject<'_>,
    ) -> Result<EventRow> {
        let id = new_id("evt");
        let created = self.now_s();
        let payload = self
            .event_wire
            .write(&NewEvent {
                id: &id,
                kind,
                created,
                object,
            })
            // A change is never stored with an empty event.
            .ok_or_else(|| ServiceError::internal("an event could not be written"))?;
        Ok(EventRow {
            id,
            merchant_id: merchant_id.clone(),
            kind: kind.to_string(),
            object_id: object_id.to_string(),
            payload,
            created,
        })
    }

    /// Writes a change if the payment is still in state `from`, with its event.
    pub(crate) async fn save(&self, p: &mut PaymentRow, from: S, event: &str) -> Result<()> {
        self.save_with(p, from, event, &[]).await
    }

    /// [`Service::save`] with loyalty points moved in the same transaction.
    async fn save_with(
        &self,
        p: &mut PaymentRow,
        from: S,
        event: &str,
        points: &[PointsRow],
    ) -> Result<()> {
        p.updated = self.now_s();
        let event = self.payment_event(p, event, EventObject::Payment(p))?;
        let saved = match self
            .store
            .update_payment(p, from, Some(&event), points)
            .await
        {
            Err(StoreError::Duplicate(rule)) if rule == "membership_balance" => {
                return Err(ServiceError::conflict(
                    "insufficient_points",
                    "not enough points for this reward",
                )
                .with_param("reward"));
            }
            other => other?,
        };
        if !saved {
            return Err(ServiceError::conflict(
                "payment_changed",
                "the payment was changed by another request; fetch it and try again",
            ));
        }
        self.webhook_wake.notify_one();
        Ok(())
    }

    pub(crate) async fn load_payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> Result<PaymentRow> {
        self.store
            .payment(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment"))
    }

    /// Creates a payment, from the merchant's back office (any of its tills) or from a till
    /// (`by_till`: for itself only). With the request's idempotency key (`origin`), a run after a
    /// crash answers with the payment the first run created, if it got that far.
    pub async fn create_payment(
        &self,
        merchant_id: &MerchantId,
        by_till: Option<&TillRow>,
        req: NewPayment,
        origin: Option<&KeyedRequest>,
    ) -> Result<PaymentView> {
        if let Some(id) = self.created_before(origin).await? {
            return self.payment(merchant_id, &PaymentId::new(id)).await;
        }
        let till_id = match (by_till, &req.till) {
            (Some(own), Some(named)) if *named != own.id => {
                return Err(ServiceError::new(
                    ErrorKind::Forbidden,
                    "wrong_till",
                    "a till creates payments for itself only",
                )
                .with_param("till"));
            }
            (Some(own), _) => own.id.clone(),
            (None, Some(named)) => named.clone(),
            (None, None) => {
                return Err(ServiceError::invalid(
                    "till_required",
                    "name the till where the person will pay",
                )
                .with_param("till"));
            }
        };
        let till = self
            .store
            .till(merchant_id, &till_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("till").with_param("till"))?;
        let p = PaymentRow {
            tip: req.tip,
            reference: req.reference,
            ..PaymentRow::new(
                PaymentId::generate(),
                merchant_id.clone(),
                till.id,
                req.amount,
                req.currency,
                req.capture_method,
                PaymentStatus::RequiresPalm,
                self.now_s(),
            )
        };
        self.store
            .insert_payment(
                &p,
                &self.payment_event(&p, "payment.created", EventObject::Payment(&p))?,
                origin,
            )
            .await?;
        self.webhook_wake.notify_one();
        Ok(PaymentView::of(&p))
    }

    /// The object a resumed request's first run created (see [`KeyedRequest`]).
    pub(crate) async fn created_before(
        &self,
        origin: Option<&KeyedRequest>,
    ) -> Result<Option<String>> {
        match origin {
            Some(o) if o.resumed => Ok(self.store.key_object(&o.scope, &o.key).await?),
            _ => Ok(None),
        }
    }

    /// What a request that moves a payment (palm, confirm, capture, cancel) answers when it is
    /// run again after its first run ended without an answer and found the payment already
    /// moved: the payment as it now stands, once its processor outcome is known.
    pub async fn payment_outcome(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> Result<PaymentView> {
        let p = self.load_payment(merchant_id, id).await?;
        if p.status.state() == S::Processing {
            return Err(processor_unknown());
        }
        self.payment_view(&p, &[]).await
    }

    pub async fn payment(&self, merchant_id: &MerchantId, id: &PaymentId) -> Result<PaymentView> {
        Ok(PaymentView::of(&self.load_payment(merchant_id, id).await?))
    }

    pub async fn payments(
        &self,
        merchant_id: &MerchantId,
        page: &Page,
    ) -> Result<Listed<PaymentView>> {
        crate::paged(
            page,
            async |pg| self.store.payments(merchant_id, pg).await,
            PaymentView::of,
        )
        .await
    }

    pub async fn payment_events(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> Result<Vec<String>> {
        self.load_payment(merchant_id, id).await?;
        let rows = self.store.events_of(merchant_id, id.as_str()).await?;
        Ok(rows.into_iter().map(|e| e.payload).collect())
    }

    /// A till's payment: it must exist for the till's merchant and belong to that till.
    async fn till_payment(&self, till: &TillRow, id: &PaymentId) -> Result<PaymentRow> {
        let p = self.load_payment(&till.merchant_id, id).await?;
        if p.till_id != till.id {
            return Err(ServiceError::new(
                ErrorKind::Forbidden,
                "wrong_till",
                "this payment waits at another till",
            ));
        }
        Ok(p)
    }

    pub(crate) fn pick_card<'a>(
        &self,
        person: &PersonRow,
        cards: &'a [CardRow],
        wanted: Option<&str>,
    ) -> Result<&'a CardRow> {
        match wanted {
            Some(id) => cards.iter().find(|c| c.id == id).ok_or_else(|| {
                ServiceError::invalid("unknown_card", "the person has no card with that id")
                    .with_param("card")
            }),
            None => cards
                .iter()
                .find(|c| Some(&c.id) == person.default_card.as_ref())
                .or(cards.first())
                .ok_or_else(|| {
                    ServiceError::new(ErrorKind::Card, "no_card", "the person has no card on file")
                }),
        }
    }

    /// The till's scanner submits a palm for a payment.
    pub async fn submit_palm(
        &self,
        till: &TillRow,
        id: &PaymentId,
        req: PalmPayment,
    ) -> Result<PaymentView> {
        let p = self.till_payment(till, id).await?;
        if p.status != PaymentStatus::RequiresPalm {
            return Err(state_error(&p, &[S::RequiresPalm]));
        }
        let hover = self
            .open_presentation(&req.presented, "payment", p.id.as_str())
            .await?;
        let person = self
            .identify_hover(hover, req.phone_last4.as_deref())
            .await?;
        self.audit(&person.id, &till.id, "payment").await?;
        self.accept_invitations(&till.merchant_id, &person).await?;
        let cards = self.store.cards_of(&person.id).await?;
        let card = self
            .pick_card(&person, &cards, req.card.as_deref())?
            .clone();
        let mut p = p;
        if let Some(reward) = &req.reward {
            self.apply_reward(&mut p, &person.id, reward).await?;
        }
        if !req.confirm {
            attach(&mut p, &person, &card);
            p.status = PaymentStatus::RequiresConfirmation;
            self.save(&mut p, S::RequiresPalm, "payment.requires_confirmation")
                .await?;
            return self.payment_view(&p, &cards).await;
        }
        let p = self.authorize(p, &person, &card).await?;
        self.payment_view(&p, &[]).await
    }

    /// A payment as a till shows it: with the person's memberships and balances.
    async fn payment_view(&self, p: &PaymentRow, choices: &[CardRow]) -> Result<PaymentView> {
        let mut view = PaymentView::of(p);
        view.card_choices = choices.iter().map(CardSummary::of).collect();
        if let Some(person) = &p.person_id {
            view.memberships = self.store.memberships_of(&p.merchant_id, person).await?;
        }
        Ok(view)
    }

    /// After a palm with `confirm: false`: the person chose a card and maybe a tip.
    pub async fn confirm_payment(
        &self,
        till: &TillRow,
        id: &PaymentId,
        req: Confirmation,
    ) -> Result<PaymentView> {
        let mut p = self.till_payment(till, id).await?;
        if p.status != PaymentStatus::RequiresConfirmation {
            return Err(state_error(&p, &[S::RequiresConfirmation]));
        }
        let person_id = identified_person(&p)?;
        let person =
            self.store.person(person_id).await?.ok_or_else(|| {
                ServiceError::conflict("person_gone", "the person has left Palmline")
            })?;
        let cards = self.store.cards_of(&person.id).await?;
        let wanted = req.card.as_deref().or(p.card_id.as_deref());
        let card = self.pick_card(&person, &cards, wanted)?.clone();
        if let Some(tip) = req.tip {
            p.tip = tip;
            Amount::parse((p.amount + p.tip).minor_units(), "tip", false)?;
        }
        if let Some(reward) = &req.reward {
            self.apply_reward(&mut p, &person.id, reward).await?;
        }
        let p = self.authorize(p, &person, &card).await?;
        self.payment_view(&p, &[]).await
    }

    /// Sends the authorisation and records the outcome. On a processor timeout the payment stays
    /// `processing` until the outcome is known: it is never sent with a new key, so never charged
    /// twice.
    pub(crate) async fn authorize(
        &self,
        mut p: PaymentRow,
        person: &PersonRow,
        card: &CardRow,
    ) -> Result<PaymentRow> {
        let from = p.status.state();
        attach(&mut p, person, card);
        let attempt_key = format!("{}:authorize", p.id);
        p.status = PaymentStatus::Processing {
            attempt_key: attempt_key.clone(),
        };
        // The reward's points are taken as the payment goes to the processor (given back if it
        // fails), so two payments cannot spend the same points.
        let points = self.payment_points(&p, "redemption").await?;
        self.save_with(&mut p, from, "payment.processing", &points)
            .await?;

        let key = self.data_key(&person.wrapped_key)?;
        let digits = key.open(&card.number_sealed, &context("card", &card.id))?;
        let number: CardNumber = String::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ServiceError::internal("a stored card could not be read"))?;
        let expiry = format!("{}/{}", card.exp_month, card.exp_year)
            .parse()
            .map_err(|_| ServiceError::internal("a stored card expiry could not be read"))?;
        let auth = Authorization {
            idempotency_key: &attempt_key,
            card: &number,
            expiry,
            cvv: None,
            amount: p.charge_amount(),
            currency: p.currency,
            capture: p.capture_method == CaptureMethod::Automatic,
        };
        let outcome = self
            .call_processor(&attempt_key, || self.processor.authorize(&auth))
            .await?;
        drop(number);
        match outcome {
            Some(o) => self.settle_authorization(p, attempt_key, o).await,
            None => Ok(p),
        }
    }

    /// Records the processor's answer to the authorisation sent under `attempt_key` (the key of
    /// the payment's `processing` status).
    async fn settle_authorization(
        &self,
        mut p: PaymentRow,
        attempt_key: String,
        outcome: Outcome,
    ) -> Result<PaymentRow> {
        let event = match outcome {
            Outcome::Approved { reference } => {
                let granted = Authorisation {
                    attempt_key,
                    charge_ref: reference,
                };
                if p.capture_method == CaptureMethod::Automatic {
                    p.status = PaymentStatus::Succeeded(granted);
                    p.amount_captured = p.charge_amount();
                    "payment.succeeded"
                } else {
                    p.status = PaymentStatus::RequiresCapture(granted);
                    "payment.requires_capture"
                }
            }
            Outcome::Declined { code } => {
                p.status = PaymentStatus::Failed {
                    attempt_key,
                    decline_code: code,
                };
                "payment.failed"
            }
        };
        let points = match p.status.state() {
            S::Succeeded => self.payment_points(&p, "accrual").await?,
            S::Failed => self.payment_points(&p, "redemption_reversal").await?,
            _ => vec![],
        };
        self.save_with(&mut p, S::Processing, event, &points)
            .await?;
        Ok(p)
    }

    /// One processor call that survives timeouts: after a timeout it asks what became of the
    /// idempotency key and resends (same key) only when the processor never received it.
    /// `None`: the outcome is still unknown when `outcome_wait` runs out.
    pub(crate) async fn call_processor<'a, F, Fut>(
        &self,
        key: &str,
        call: F,
    ) -> Result<Option<Outcome>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<Outcome, ProcessorError>> + 'a,
    {
        let deadline = Instant::now() + self.config.outcome_wait;
        loop {
            match tokio::time::timeout(self.config.processor_timeout, call()).await {
                Ok(Ok(outcome)) => return Ok(Some(outcome)),
                Ok(Err(ProcessorError::Rejected(why))) => {
                    tracing::error!(%why, "processor rejected a request");
                    return Err(ServiceError::internal("the processor rejected the request"));
                }
                Ok(Err(ProcessorError::Unreachable)) => {
                    tracing::warn!("processor unreachable; will retry");
                }
                Err(_) => tracing::warn!("processor timed out; asking for the outcome"),
            }
            let mut pause = Duration::from_millis(20);
            loop {
                if Instant::now() >= deadline {
                    tracing::warn!("processor outcome still unknown; left for the reconciler");
                    return Ok(None);
                }
                match self.processor.lookup(key).await {
                    Ok(Lookup::Done(outcome)) => return Ok(Some(outcome)),
                    Ok(Lookup::Unknown) => break,
                    Ok(Lookup::Pending) | Err(_) => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(1));
                    }
                }
            }
        }
    }

    /// Settles payments left `processing`, captures and voids left claimed, and refunds left
    /// `pending` by a processor that did not answer in time (or a crash that lost its answer).
    pub async fn reconcile(&self) -> Result<usize> {
        let stale_before = self.now_s()
            - (self.config.processor_timeout + self.config.outcome_wait).as_secs() as i64;
        let mut settled = 0;
        for p in self
            .store
            .stale_payments(S::Processing, stale_before)
            .await?
        {
            let PaymentStatus::Processing { attempt_key } = &p.status else {
                continue;
            };
            let attempt_key = attempt_key.clone();
            let Some(outcome) = self.settled_outcome(&attempt_key).await else {
                continue;
            };
            if self
                .settle_authorization(p, attempt_key, outcome)
                .await
                .is_ok()
            {
                settled += 1;
            }
        }
        for (p, operation) in self
            .store
            .stale_operations(S::RequiresCapture, stale_before)
            .await?
        {
            let Some(outcome) = self.settled_outcome(&operation_key(&p, &operation)).await else {
                continue;
            };
            // A refusal is settled too: it releases the claim (and answers an error nobody waits for).
            match self.finish_operation(p, &operation, outcome).await {
                Ok(_) => settled += 1,
                Err(e) if e.kind == ErrorKind::Card || e.code == "void_failed" => settled += 1,
                Err(_) => {}
            }
        }
        for mut r in self.store.stale_refunds(stale_before).await? {
            let Some(outcome) = self.settled_outcome(&r.id).await else {
                continue;
            };
            let Some(p) = self.store.payment(&r.merchant_id, &r.payment_id).await? else {
                continue;
            };
            if self.settle_refund(&p, &mut r, outcome).await.is_ok() {
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// What the reconciler settles a call left open with: the processor's outcome, or a
    /// `processing_error` decline when the processor never received it (nothing moved: an
    /// authorisation fails, a claim is released, a refund's amount goes back to the payment).
    /// `None` while the processor is still working on it or cannot be asked.
    async fn settled_outcome(&self, key: &str) -> Option<Outcome> {
        match self.processor.lookup(key).await {
            Ok(Lookup::Done(o)) => Some(o),
            Ok(Lookup::Unknown) => Some(Outcome::Declined {
                code: "processing_error".into(),
            }),
            Ok(Lookup::Pending) | Err(_) => None,
        }
    }

    pub async fn capture_payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
        amount: Part,
    ) -> Result<PaymentView> {
        let p = self.load_payment(merchant_id, id).await?;
        let PaymentStatus::RequiresCapture(granted) = &p.status else {
            return Err(state_error(&p, &[S::RequiresCapture]));
        };
        let charge = granted.charge_ref.clone();
        let amount = amount.of(p.charge_amount(), |total| {
            format!("capture amount must be from 1 to the authorised {total}")
        })?;
        let operation = format!("capture:{amount}");
        self.claim_operation(&p, &operation).await?;
        let key = operation_key(&p, &operation);
        match self
            .call_processor(&key, || self.processor.capture(&key, &charge, amount))
            .await?
        {
            Some(outcome) => {
                let p = self.finish_operation(p, &operation, outcome).await?;
                self.payment_view(&p, &[]).await
            }
            None => Err(processor_unknown()),
        }
    }

    /// Records the processor's outcome of a claimed capture or void: the payment succeeds or is
    /// canceled; a refusal releases the claim and is answered as an error.
    async fn finish_operation(
        &self,
        mut p: PaymentRow,
        operation: &str,
        outcome: Outcome,
    ) -> Result<PaymentRow> {
        let capture = operation.strip_prefix("capture:");
        match outcome {
            Outcome::Approved { .. } => {
                let PaymentStatus::RequiresCapture(granted) = p.status.clone() else {
                    return Err(state_error(&p, &[S::RequiresCapture]));
                };
                let (event, points) = match capture {
                    Some(amount) => {
                        p.status = PaymentStatus::Succeeded(granted);
                        p.amount_captured = amount
                            .parse()
                            .ok()
                            .and_then(Amount::stored)
                            .ok_or_else(|| {
                                ServiceError::internal(
                                    "a claimed capture's amount could not be read",
                                )
                            })?;
                        (
                            "payment.succeeded",
                            self.payment_points(&p, "accrual").await?,
                        )
                    }
                    None => {
                        p.status = PaymentStatus::Canceled(Some(granted));
                        let points = self.payment_points(&p, "redemption_reversal").await?;
                        ("payment.canceled", points)
                    }
                };
                self.save_with(&mut p, S::RequiresCapture, event, &points)
                    .await?;
                Ok(p)
            }
            Outcome::Declined { code } => {
                self.store.release_operation(&p.id, operation).await?;
                Err(match capture {
                    Some(_) => {
                        let mut e = ServiceError::new(
                            ErrorKind::Card,
                            "capture_failed",
                            "the processor refused the capture",
                        );
                        e.decline_code = Some(code);
                        e
                    }
                    None => ServiceError::conflict(
                        "void_failed",
                        "the processor refused to release the authorisation",
                    ),
                })
            }
        }
    }

    /// Claims a processor operation on a payment waiting for capture (see the store's
    /// `claim_operation`): a second, different operation meanwhile is refused, never raced.
    async fn claim_operation(&self, p: &PaymentRow, operation: &str) -> Result<()> {
        if self
            .store
            .claim_operation(&p.id, S::RequiresCapture, operation, self.now_s())
            .await?
        {
            return Ok(());
        }
        let now = self.load_payment(&p.merchant_id, &p.id).await?;
        if now.status.state() != S::RequiresCapture {
            return Err(state_error(&now, &[S::RequiresCapture]));
        }
        Err(ServiceError::conflict(
            "operation_in_progress",
            "another capture or cancellation of this payment is in progress; fetch the payment",
        ))
    }

    /// Cancels payments left waiting for a palm or a confirmation for `payment_expiry_s` (none
    /// reached the processor, so nothing is voided); the number canceled. A payment that moves
    /// meanwhile is left alone (the store's state check refuses the stale write).
    pub async fn expire_abandoned_payments(&self) -> Result<usize> {
        let before = self.now_s() - self.config.payment_expiry_s;
        let mut canceled = 0;
        for status in [S::RequiresPalm, S::RequiresConfirmation] {
            for mut p in self.store.stale_payments(status, before).await? {
                p.status = PaymentStatus::Canceled(None);
                if self.save(&mut p, status, "payment.canceled").await.is_ok() {
                    canceled += 1;
                }
            }
        }
        Ok(canceled)
    }

    /// Cancels a payment not yet paid, or releases an authorisation not yet captured.
    pub async fn cancel_payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
        till: Option<&TillRow>,
    ) -> Result<PaymentView> {
        let mut p = match till {
            Some(t) => self.till_payment(t, id).await?,
            None => self.load_payment(merchant_id, id).await?,
        };
        let from = p.status.state();
        if let PaymentStatus::RequiresCapture(granted) = &p.status {
            let charge = granted.charge_ref.clone();
            self.claim_operation(&p, "void").await?;
            let key = operation_key(&p, "void");
            return match self
                .call_processor(&key, || self.processor.void(&key, &charge))
                .await?
            {
                Some(outcome) => {
                    let p = self.finish_operation(p, "void", outcome).await?;
                    Ok(PaymentView::of(&p))
                }
                None => Err(processor_unknown()),
            };
        }
        if !from.before_processor() {
            return Err(state_error(
                &p,
                &[S::RequiresPalm, S::RequiresConfirmation, S::RequiresCapture],
            ));
        }
        p.status = PaymentStatus::Canceled(None);
        self.save(&mut p, from, "payment.canceled").await?;
        Ok(PaymentView::of(&p))
    }
}

fn attach(p: &mut PaymentRow, person: &PersonRow, card: &CardRow) {
    p.person_id = Some(person.id.clone());
    p.card_id = Some(card.id.clone());
    p.card_brand = Some(card.brand.clone());
    p.card_last4 = Some(card.last4.clone());
}

/// The person a payment past `requires_palm` must have recorded: missing, it is an internal
/// error, never an empty id looked up.
fn identified_person(p: &PaymentRow) -> Result<&PersonId> {
    p.person_id.as_ref().ok_or_else(|| {
        tracing::error!(payment = %p.id, status = %p.status, "payment lacks its person");
        ServiceError::internal("the payment's record is incomplete")
    })
}

/// The processor's idempotency key of an operation on a payment: one per payment and operation
/// (`capture:<amount>`, `void`), so a retry gets the first outcome and a capture of another
/// amount after a refusal is a new call, not a reused key.
pub(crate) fn operation_key(p: &PaymentRow, operation: &str) -> String {
    format!("{}:{operation}", p.id)
}

pub(crate) fn processor_unknown() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        "processor_timeout",
        "the processor has not answered; retry the same request later",
    )
}
