//! The storage seam: what the use cases need from a database, as small traits grouped by subject.
//!
//! Each method is one unit of work: an implementation runs it in one transaction, so a crash
//! never leaves half of it. Methods that change an object take the state they expect to find
//! (compare-and-set) and report whether it was still there, so two requests racing on the same
//! payment cannot both win. Secrets arrive already sealed or hashed: a store sees ciphertext,
//! keyed fingerprints and hashes only.

pub use crate::Store;
use crate::error::StoreError;
pub use crate::ids::{MerchantId, PaymentId, PersonId};
pub use crate::money::{Amount, Currency};
pub use crate::payment_state::{
    Authorisation, CaptureMethod, PaymentState, PaymentStatus, RefundState,
};
use async_trait::async_trait;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct MerchantRow {
    pub id: MerchantId,
    pub name: String,
    pub api_key_hash: String,
    pub created: i64,
    /// When the operator disabled the merchant; its credentials are refused from then on.
    pub disabled: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TillRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub store_name: String,
    pub name: String,
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    pub id: PersonId,
    /// The phone number sealed under the person's data key.
    pub phone_sealed: Vec<u8>,
    /// Keyed fingerprint of the phone number, for lookup and uniqueness.
    pub phone_fingerprint: String,
    /// The identification bucket hint; the only part of the number kept in the clear.
    pub phone_last4: String,
    /// The person's data key, wrapped by a master key.
    pub wrapped_key: Vec<u8>,
    pub default_card: Option<String>,
    pub created: i64,
    pub last_used: i64,
    /// Signed up from phone photos at this time and not yet confirmed by a till capture.
    pub pending_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow {
    pub id: String,
    pub person_id: PersonId,
    pub text_version: String,
    pub accepted_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PalmRow {
    /// The index's palm id.
    pub id: i64,
    pub person_id: PersonId,
    pub hand: String,
    pub template_sealed: Vec<u8>,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardRow {
    pub id: String,
    pub person_id: PersonId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub number_sealed: Vec<u8>,
    pub holder_sealed: Vec<u8>,
    pub fingerprint: String,
    pub created: i64,
}

/// A palm with its owner's wrapped data key and bucket hint, as the index loads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedPalm {
    pub palm: PalmRow,
    pub wrapped_key: Vec<u8>,
    pub phone_last4: String,
}

/// Everything a sign-up writes, written together or not at all.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub person: PersonRow,
    pub consent: ConsentRow,
    pub palms: Vec<PalmRow>,
    pub card: CardRow,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRow {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub till_id: String,
    pub amount: Amount,
    pub tip: Amount,
    pub currency: Currency,
    pub reference: Option<String>,
    pub capture_method: CaptureMethod,
    pub status: PaymentStatus,
    pub person_id: Option<PersonId>,
    pub card_id: Option<String>,
    /// Brand and last four of the card used, kept for the receipt after the card is removed.
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub amount_captured: Amount,
    pub amount_refunded: Amount,
    /// Taken off by a loyalty reward before the card is charged (never all of it).
    pub discount: Amount,
    pub reward_id: Option<String>,
    pub created: i64,
    pub updated: i64,
}

impl PaymentRow {
    /// A new payment of `amount` at a till, not yet paid by anyone.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: PaymentId,
        merchant_id: MerchantId,
        till_id: String,
        amount: Amount,
        currency: Currency,
        capture_method: CaptureMethod,
        status: PaymentStatus,
        now: i64,
    ) -> PaymentRow {
        PaymentRow {
            id,
            merchant_id,
            till_id,
            amount,
            tip: Amount::ZERO,
            currency,
            reference: None,
            capture_method,
            status,
            person_id: None,
            card_id: None,
            card_brand: None,
            card_last4: None,
            amount_captured: Amount::ZERO,
            amount_refunded: Amount::ZERO,
            discount: Amount::ZERO,
            reward_id: None,
            created: now,
            updated: now,
        }
    }

    /// What the card is charged: amount + tip - discount.
    pub fn charge_amount(&self) -> Amount {
        (self.amount + self.tip).saturating_sub(self.discount)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundRow {
    pub id: String,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub status: RefundState,
    pub reason: Option<String>,
    pub processor_ref: Option<String>,
    pub created: i64,
}

/// A recorded change, and the payload webhooks deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub kind: String,
    pub object_id: String,
    pub payload: String,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub url: String,
    /// The signing secret sealed under the endpoint's data key, and that key wrapped.
    pub secret_sealed: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub merchant_id: MerchantId,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub token_hash: String,
    pub person_id: PersonId,
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeletionRow {
    pub id: String,
    pub person_id: PersonId,
    /// SHA-256 of the request id and the code sent to the person's phone.
    pub code_hash: String,
    pub expires: i64,
    pub attempts: i64,
    pub used: bool,
    pub created: i64,
    /// The merchant whose till took the request; only its tills can confirm it.
    pub merchant_id: MerchantId,
}

/// One read of a person's biometric data: who, why, when.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: String,
    pub person_id: PersonId,
    pub actor: String,
    pub purpose: String,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProgramRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub name: String,
    /// Points per whole currency unit spent (`Currency::minor_per_unit` minor units).
    pub points_per_unit: i64,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RewardRow {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub points_cost: i64,
    /// Taken off the payment.
    pub discount: Amount,
    pub currency: Currency,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRow {
    pub id: String,
    pub program_id: String,
    pub person_id: PersonId,
    pub member_number: String,
    pub balance: i64,
    pub created: i64,
}

/// A change of points, unique per (membership, source, kind): applying it twice changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsRow {
    pub id: String,
    pub membership_id: String,
    /// The payment or refund it comes from.
    pub source_id: String,
    /// `accrual`, `accrual_reversal`, `redemption`, `redemption_reversal`.
    pub kind: String,
    pub points: i64,
    pub created: i64,
}

/// A page request: newest first, strictly older than `starting_after`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub limit: i64,
    pub starting_after: Option<String>,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use: the caller runs the request and then completes or releases the key.
    New,
    /// Seen before with this request digest; the stored response, or `None` while in flight.
    Seen {
        request_hash: String,
        response: Option<(i64, String)>,
    },
    /// Seen before, with no answer, held by a run that ended or gave up: the caller runs the
    /// request again (its use case answers with what the first run did, if it got that far).
    Resumed,
}

/// Who claims an idempotency key: this run of the server, and the claim time before which a
/// holder without an answer has given up (the request time limit has passed).
pub struct KeyHolder<'a> {
    pub run: &'a str,
    pub abandoned_before: i64,
}

/// The idempotency key a request came with, handed to the use cases that create objects (so that
/// a run after a crash finds what the first one created) or move payments.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub scope: String,
    pub key: String,
    /// This run took the key over from one that ended without an answer.
    pub resumed: bool,
}

#[async_trait]
pub trait MerchantStore: Send + Sync {
    async fn insert_merchant(&self, m: &MerchantRow, tills: &[TillRow]) -> StoreResult<()>;
    async fn merchant_by_key(&self, api_key_hash: &str) -> StoreResult<Option<MerchantRow>>;
    /// Merchant `id`, disabled or not.
    async fn merchant(&self, id: &MerchantId) -> StoreResult<Option<MerchantRow>>;
    async fn till_by_secret(&self, secret_hash: &str) -> StoreResult<Option<TillRow>>;
    async fn till(&self, merchant_id: &MerchantId, till_id: &str) -> StoreResult<Option<TillRow>>;
    /// A merchant's tills, by store and name.
    async fn tills(&self, merchant_id: &MerchantId) -> StoreResult<Vec<TillRow>>;
    async fn merchant_count(&self) -> StoreResult<i64>;
    async fn merchants(&self) -> StoreResult<Vec<MerchantRow>>;
    /// False when no such merchant is active.
    async fn disable_merchant(&self, id: &str, now: i64) -> StoreResult<bool>;
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    async fn insert_person(&self, p: &NewPerson) -> StoreResult<()>;
    /// Many people written in one transaction, all or none (a bulk import: a million sign-up
    /// transactions take minutes where a thousand batches take seconds).
    async fn insert_people(&self, people: &[NewPerson]) -> StoreResult<()>;
    async fn person(&self, id: &PersonId) -> StoreResult<Option<PersonRow>>;
    async fn person_by_phone(&self, phone_fingerprint: &str) -> StoreResult<Option<PersonRow>>;
    async fn person_of_palm(&self, palm_id: i64) -> StoreResult<Option<PersonRow>>;
    /// Palms with what the index needs of their owner, by ascending id after `after`.
    async fn palms_page(&self, after: i64, limit: i64) -> StoreResult<Vec<OwnedPalm>>;
    async fn palms_of(&self, person_id: &PersonId) -> StoreResult<Vec<PalmRow>>;
    /// Replaces a palm's sealed template if it is still `old` (compare-and-set), raising its
    /// version and recording the change in the palm feed; false when the palm is gone,
    /// tombstoned or was changed meanwhile.
    async fn replace_palm_template(
        &self,
        palm_id: i64,
        old: &[u8],
        new: &[u8],
        now: i64,
    ) -> StoreResult<bool>;
    /// Ends a phone sign-up's wait: clears `pending_since` and adds the till capture's palm, in
    /// one transaction; false (and nothing written) when the person was not pending.
    async fn confirm_first_scan(&self, person_id: &PersonId, palm: &PalmRow) -> StoreResult<bool>;
    /// Sets a person's phone, and raises the version of each of their live palms with a change
    /// in the palm feed (a palm's search bucket is its phone's last four digits), in one
    /// transaction.
    async fn update_phone(&self, person: &PersonRow, now: i64) -> StoreResult<()>;
    async fn touch_person(&self, person_id: &PersonId, now: i64) -> StoreResult<()>;

    async fn cards_of(&self, person_id: &PersonId) -> StoreResult<Vec<CardRow>>;
    async fn cards_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Vec<CardRow>>;
    /// Adds a card; when `make_default`, it becomes the person's default in the same transaction.
    async fn insert_card(&self, card: &CardRow, make_default: bool) -> StoreResult<()>;
    /// Removes a card and sets the person's default to `new_default`; false if no such card.
    async fn delete_card(
        &self,
        person_id: &PersonId,
        card_id: &str,
        new_default: Option<&str>,
    ) -> StoreResult<bool>;
    async fn set_default_card(&self, person_id: &PersonId, card_id: &str) -> StoreResult<bool>;

    async fn insert_session(&self, s: &SessionRow) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRow>>;

    /// People's wrapped data keys by ascending id after `after`, for master-key rotation.
    async fn wrapped_keys_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;
    /// Replaces a wrapped key if it is still `old`; false if it changed meanwhile.
    async fn replace_wrapped_key(
        &self,
        person_id: &PersonId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Inserts a payment with its event; `origin` (the request's idempotency key) is told the
    /// payment's id in the same transaction.
    async fn insert_payment(
        &self,
        p: &PaymentRow,
        event: &EventRow,
        origin: Option<&KeyedRequest>,
    ) -> StoreResult<()>;
    async fn payment(
        &self,
        merchant_id: &MerchantId,
        id: &PaymentId,
    ) -> StoreResult<Option<PaymentRow>>;
    /// Writes `p` if the stored payment still has status `from`, with its event and webhook
    /// deliveries in the same transaction; false if the status had changed.
    /// `points` are applied in the same transaction (a balance may not go below zero: that
    /// fails with `Duplicate("membership_balance")`).
    async fn update_payment(
        &self,
        p: &PaymentRow,
        from: PaymentState,
        event: Option<&EventRow>,
        points: &[PointsRow],
    ) -> StoreResult<bool>;
    async fn payments(&self, merchant_id: &MerchantId, page: &Page)
    -> StoreResult<Vec<PaymentRow>>;
    /// Payments left in `status` since before `updated_before` (for the reconciler).
    async fn stale_payments(
        &self,
        status: PaymentState,
        updated_before: i64,
    ) -> StoreResult<Vec<PaymentRow>>;
    /// Reserves a refund: adds `r.amount` to the payment's refunded total if that stays within
    /// the captured amount, and inserts the pending refund. False if it would not fit.
    async fn reserve_refund(
        &self,
        r: &RefundRow,
        now: i64,
        origin: Option<&KeyedRequest>,
    ) -> StoreResult<bool>;
    /// Settles a pending refund; a failed one gives its amount back to the payment.
    async fn settle_refund(
        &self,
        r: &RefundRow,
        event: &EventRow,
        points: &[PointsRow],
    ) -> StoreResult<()>;
    async fn refunds_of(&self, payment_id: &PaymentId) -> StoreResult<Vec<RefundRow>>;
    /// Refunds still `pending` since before `created_before` (for the reconciler).
    async fn stale_refunds(&self, created_before: i64) -> StoreResult<Vec<RefundRow>>;
    async fn events_of(
        &self,
        merchant_id: &MerchantId,
        object_id: &str,
    ) -> StoreResult<Vec<EventRow>>;
    /// Claims `operation` on a payment still in `status` with no other operation in flight (or
    /// this same one, for a retry); false when another operation holds it or the status moved.
    async fn claim_operation(
        &self,
        id: &PaymentId,
        status: PaymentState,
        operation: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Payments in `status` with an operation claimed before `claimed_before` (for the
    /// reconciler), with that operation.
    async fn stale_operations(
        &self,
        status: PaymentState,
        claimed_before: i64,
    ) -> StoreResult<Vec<(PaymentRow, String)>>;
    /// Releases a claim the processor refused (the payment stays where it was).
    async fn release_operation(&self, id: &PaymentId, operation: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_endpoint(&self, e: &EndpointRow) -> StoreResult<()>;
    async fn endpoints(&self, merchant_id: &MerchantId) -> StoreResult<Vec<EndpointRow>>;
    /// Pending deliveries due at `now`, oldest first, with their event and endpoint.
    async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<(DeliveryRow, EventRow, EndpointRow)>>;
    async fn record_attempt(&self, d: &DeliveryRow) -> StoreResult<()>;
    async fn deliveries(
        &self,
        merchant_id: &MerchantId,
        page: &Page,
    ) -> StoreResult<Vec<DeliveryRow>>;
    /// Endpoints' wrapped data keys, for master-key rotation.
    async fn endpoint_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
    async fn replace_endpoint_key(&self, id: &str, old: &[u8], new: &[u8]) -> StoreResult<bool>;
    /// Puts a delivery back in the queue, due at `now`; false if there is no such delivery.
    async fn replay_delivery(
        &self,
        merchant_id: &MerchantId,
        id: &str,
        now: i64,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        holder: &KeyHolder<'_>,
    ) -> StoreResult<Claim>;
    /// The object the request with this key created, if it got that far.
    async fn key_object(&self, scope: &str, key: &str) -> StoreResult<Option<String>>;
    async fn complete_key(
        &self,
        scope: &str,
        key: &str,
        status: i64,
        body: &str,
    ) -> StoreResult<()>;
    /// Leaves a key without an answer and without a holder (after a server error): the next
    /// retry of the same request takes it over and runs as resumed, so it still learns what this
    /// run did before the error.
    async fn release_key(&self, scope: &str, key: &str) -> StoreResult<()>;
    /// Forgets keys claimed before `before`; returns how many.
    async fn purge_keys(&self, before: i64) -> StoreResult<u64>;
    /// (scope, key, stored answer) of every record holding a sealed answer (master-key rotation).
    async fn sealed_answers(&self) -> StoreResult<Vec<(String, String, String)>>;
    /// Replaces a stored answer if it is still `old` (compare-and-set).
    async fn replace_answer(
        &self,
        scope: &str,
        key: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    async fn insert_deletion(&self, d: &DeletionRow) -> StoreResult<()>;
    /// A deletion request taken at one of `merchant_id`'s tills.
    async fn deletion(
        &self,
        merchant_id: &MerchantId,
        id: &str,
    ) -> StoreResult<Option<DeletionRow>>;
    /// Records a confirmation attempt (attempts, used) if the request is still unused.
    async fn update_deletion(&self, d: &DeletionRow) -> StoreResult<bool>;
    /// The person's payments whose outcome is not yet known (`processing`), and shopping trips
    /// still holding money on their card (`opening`, `open`, `completing`).
    async fn payments_in_flight(&self, person_id: &PersonId) -> StoreResult<i64>;
    /// Marks a person for deletion once their payments in flight settle, and tombstones their
    /// palms in the palm feed in the same transaction; the index load skips them.
    async fn mark_deletion_pending(&self, person_id: &PersonId, now: i64) -> StoreResult<()>;
    async fn pending_deletions(&self) -> StoreResult<Vec<PersonId>>;
    /// Deletes the person, their palms, cards, consents and sessions, and with the person row
    /// their wrapped data key (crypto-shredding), writing `audit` in the same transaction.
    /// Returns the deleted palm ids.
    async fn delete_person(&self, person_id: &PersonId, audit: &AuditRow) -> StoreResult<Vec<i64>>;
    /// People whose last use is before `before`, oldest first.
    async fn people_unused_since(&self, before: i64, limit: i64) -> StoreResult<Vec<PersonId>>;
    async fn insert_audit(&self, a: &AuditRow) -> StoreResult<()>;
    async fn audit_of(&self, person_id: &PersonId) -> StoreResult<Vec<AuditRow>>;
    /// Makes deleted rows unrecoverable from the database files where the backend allows it.
    async fn compact(&self) -> StoreResult<()>;
}

#[async_trait]
pub trait LoyaltyStore: Send + Sync {
    async fn insert_program(&self, p: &ProgramRow) -> StoreResult<()>;
    async fn programs(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ProgramRow>>;
    async fn insert_reward(&self, r: &RewardRow) -> StoreResult<()>;
    async fn rewards(&self, program_id: &str) -> StoreResult<Vec<RewardRow>>;
    async fn reward(&self, id: &str) -> StoreResult<Option<RewardRow>>;
    /// Fails with `Duplicate` when the person or the member number is already in the program.
    async fn insert_membership(&self, m: &MembershipRow) -> StoreResult<()>;
    async fn memberships(&self, program_id: &str, page: &Page) -> StoreResult<Vec<MembershipRow>>;
    /// The person's memberships in the merchant's programs.
    async fn memberships_of(
        &self,
        merchant_id: &MerchantId,
        person_id: &PersonId,
    ) -> StoreResult<Vec<MembershipRow>>;
    /// Ledger entries from a payment or refund.
    async fn points_of(&self, source_id: &str) -> StoreResult<Vec<PointsRow>>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct VenueRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub name: String,
    pub created: i64,
}

/// A walk-out store's settings; its trips' holds are payments at its own till (`till_id`, a till
/// whose credential nobody holds).
#[derive(Debug, Clone, PartialEq)]
pub struct WalkOutRow {
    pub venue_id: String,
    pub merchant_id: MerchantId,
    pub till_id: String,
    pub currency: Currency,
    pub hold: Amount,
    pub tax_rate_bps: i64,
}

/// What `insert_venue` also writes for a walk-out store.
#[derive(Debug, Clone)]
pub struct NewWalkOut {
    pub settings: WalkOutRow,
    pub till: TillRow,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GateRow {
    pub id: String,
    pub venue_id: String,
    pub merchant_id: MerchantId,
    pub name: String,
    pub age_restricted: bool,
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VenueEventRow {
    pub id: String,
    pub venue_id: String,
    pub merchant_id: MerchantId,
    pub name: String,
    pub starts: i64,
    pub ends: i64,
    pub capacity: i64,
    pub reentry: bool,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassRow {
    pub id: String,
    pub event_id: String,
    pub person_id: PersonId,
    pub kind: String,
    pub created: i64,
}

/// One gate decision, allowed or not.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRow {
    pub id: String,
    pub event_id: String,
    pub gate_id: String,
    pub person_id: Option<PersonId>,
    /// `in`, `out` or `area` (an age-restricted area inside the venue).
    pub direction: String,
    pub allowed: bool,
    pub reason: String,
    pub created: i64,
    /// Decided by a gate offline and uploaded later: the gate's claim.
    pub offline: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgeRow {
    /// The merchant whose staff checked the document; the check counts at its gates only.
    pub merchant_id: MerchantId,
    pub person_id: PersonId,
    pub verified_by: String,
    pub document_type: String,
    pub verified_at: i64,
}

#[async_trait]
pub trait EntryStore: Send + Sync {
    /// A venue, its gates and, for a walk-out store, its settings and till.
    async fn insert_venue(
        &self,
        v: &VenueRow,
        gates: &[GateRow],
        walk_out: Option<&NewWalkOut>,
    ) -> StoreResult<()>;
    async fn gate_by_secret(&self, secret_hash: &str) -> StoreResult<Option<GateRow>>;
    async fn venue(&self, merchant_id: &MerchantId, id: &str) -> StoreResult<Option<VenueRow>>;
    async fn insert_event(&self, e: &VenueEventRow) -> StoreResult<()>;
    async fn event(&self, merchant_id: &MerchantId, id: &str)
    -> StoreResult<Option<VenueEventRow>>;
    async fn pass(&self, event_id: &str, person_id: &PersonId) -> StoreResult<Option<PassRow>>;
    /// Every pass of the event.
    async fn passes(&self, event_id: &str) -> StoreResult<Vec<PassRow>>;
    /// Records a decision a gate made offline, once per id; an allowed crossing moves the
    /// occupancy (even past the capacity: it happened). False when the id was recorded before.
    async fn import_entry(&self, e: &EntryRow) -> StoreResult<bool>;
    /// Records a gate decision. An allowed `in` takes a place only while fewer than `capacity`
    /// people are inside, atomically with the record; false (and nothing written) when full.
    async fn record_entry(&self, e: &EntryRow, capacity: i64) -> StoreResult<bool>;
    /// The merchant's gate decisions, paged by id (descending).
    async fn entries(&self, merchant_id: &MerchantId, page: &Page) -> StoreResult<Vec<EntryRow>>;
    /// The person's allowed `in` and `out` crossings at the event.
    async fn crossings(&self, event_id: &str, person_id: &PersonId) -> StoreResult<(i64, i64)>;
    async fn set_age_verified(&self, a: &AgeRow) -> StoreResult<()>;
    async fn age_verified(
        &self,
        merchant_id: &MerchantId,
        person_id: &PersonId,
    ) -> StoreResult<Option<AgeRow>>;
}

/// A membership or pass offered by phone number, waiting for the person's next scan at the
/// merchant (`kind`: `membership` with `detail` the member number asked for, or `pass` with
/// `detail` the pass kind; `target_id`: the program or event).
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRow {
    pub id: String,
    pub merchant_id: MerchantId,
    pub kind: String,
    pub target_id: String,
    pub phone_fingerprint: String,
    pub detail: Option<String>,
    pub created: i64,
}

/// What an accepted invitation becomes.
pub enum Accepted {
    Membership(MembershipRow),
    Pass(PassRow),
}

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Records an invitation, replacing an earlier one for the same target and phone.
    async fn put_invitation(&self, i: &InvitationRow) -> StoreResult<()>;
    /// The invitations waiting at a merchant for a phone.
    async fn invitations_for(
        &self,
        merchant_id: &MerchantId,
        phone_fingerprint: &str,
    ) -> StoreResult<Vec<InvitationRow>>;
    /// Removes the invitation and writes what it became, in one transaction; false when it was
    /// already accepted. A person already holding the membership or pass keeps theirs; a member
    /// number taken meanwhile fails with `Duplicate`.
    async fn accept_invitation(&self, id: &str, accepted: &Accepted) -> StoreResult<bool>;
    /// Forgets invitations made before `before`; returns how many.
    async fn purge_invitations(&self, before: i64) -> StoreResult<u64>;
}
