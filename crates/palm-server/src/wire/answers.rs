//! The service's answers (domain records and its own views) mapped to the wire types of
//! `palm_api`: amounts to minor units, ids and states to their names, times to Unix seconds.
//! The events webhooks deliver are written here too ([`ApiEvents`]), so a payment reads the same
//! in an answer, in its history and in a webhook.

use palm_api as api;
use palm_service::access::TillProfile;
use palm_service::basket::Line;
use palm_service::device_store::{AllowListRow, DeviceRow};
use palm_service::devices::{DeviceRegistered, OfferedKey, PairingCode};
use palm_service::entry::{AgeRecorded, CreatedVenue};
use palm_service::events::{EventObject, EventWire, NewEvent};
use palm_service::invitations::Invitation;
use palm_service::loyalty::{LoyaltyPresentation, ProgramView};
use palm_service::offline::{OfflineUpload, SealedAllowList};
use palm_service::payment_state::{CaptureMethod, PaymentState};
use palm_service::receipts::Receipt;
use palm_service::signup_input::Hand;
use palm_service::store::{
    DeliveryRow, EntryRow, MembershipRow, PaymentRow, RefundRow, RewardRow, VenueEventRow,
};
use palm_service::trip_store::{AdjustmentRow, ItemEventRow, TripRow};
use palm_service::trips::{ItemEventRecorded, TripView};
use palm_service::views::{
    CardSummary, CardView, ConsentText, Listed, PaymentView, PersonSession, PersonView, SignedUp,
};
use palm_service::webhooks::WebhookEndpoint;

pub fn list<T, U>(l: Listed<T>, view: impl Fn(T) -> U) -> api::List<U> {
    api::List {
        data: l.data.into_iter().map(view).collect(),
        has_more: l.has_more,
    }
}

/// A whole list as one page.
pub fn all<T, U>(items: Vec<T>, view: impl Fn(T) -> U) -> api::List<U> {
    list(Listed::whole(items), view)
}

pub fn wire_hand(h: Hand) -> api::Hand {
    match h {
        Hand::Left => api::Hand::Left,
        Hand::Right => api::Hand::Right,
    }
}

pub fn consent(c: ConsentText) -> api::ConsentText {
    api::ConsentText {
        version: c.version.to_string(),
        text: c.text.to_string(),
    }
}

pub fn card(c: CardView) -> api::Card {
    api::Card {
        id: c.id,
        brand: c.brand,
        last4: c.last4,
        exp_month: c.exp_month,
        exp_year: c.exp_year,
        is_default: c.is_default,
        created: c.created,
    }
}

fn card_summary(c: CardSummary) -> api::CardSummary {
    api::CardSummary {
        id: c.id,
        brand: c.brand,
        last4: c.last4,
    }
}

pub fn person(p: PersonView) -> api::Person {
    api::Person {
        id: p.id.to_string(),
        phone_last4: p.phone_last4,
        hands: p.hands.into_iter().map(wire_hand).collect(),
        cards: p.cards.into_iter().map(card).collect(),
        created: p.created,
        status: if p.pending_first_scan {
            api::EnrolmentStatus::PendingFirstScan
        } else {
            api::EnrolmentStatus::Active
        },
    }
}

pub fn signed_up(s: SignedUp) -> api::SignupResponse {
    api::SignupResponse {
        person: person(s.person),
        memberships: s.memberships.iter().map(membership).collect(),
    }
}

pub fn person_session(s: PersonSession) -> api::PersonSession {
    api::PersonSession {
        token: s.token,
        expires: s.expires,
        person: person(s.person),
    }
}

pub fn payment_status(s: PaymentState) -> api::PaymentStatus {
    match s {
        PaymentState::RequiresPalm => api::PaymentStatus::RequiresPalm,
        PaymentState::RequiresConfirmation => api::PaymentStatus::RequiresConfirmation,
        PaymentState::Processing => api::PaymentStatus::Processing,
        PaymentState::RequiresCapture => api::PaymentStatus::RequiresCapture,
        PaymentState::Succeeded => api::PaymentStatus::Succeeded,
        PaymentState::Failed => api::PaymentStatus::Failed,
        PaymentState::Canceled => api::PaymentStatus::Canceled,
    }
}

fn payment_row(p: &PaymentRow) -> api::Payment {
    api::Payment {
        id: p.id.to_string(),
        status: payment_status(p.status.state()),
        amount: p.amount.minor_units(),
        tip: p.tip.minor_units(),
        amount_total: p.charge_amount().minor_units(),
        discount: p.discount.minor_units(),
        reward: p.reward_id.clone(),
        currency: p.currency.to_string(),
        till: p.till_id.clone(),
        reference: p.reference.clone(),
        capture_method: match p.capture_method {
            CaptureMethod::Manual => api::CaptureMethod::Manual,
            CaptureMethod::Automatic => api::CaptureMethod::Automatic,
        },
        amount_captured: p.amount_captured.minor_units(),
        amount_refunded: p.amount_refunded.minor_units(),
        person: p.person_id.as_ref().map(String::from),
        card: CardSummary::used_by(p).map(card_summary),
        card_choices: vec![],
        decline_code: p.status.decline_code().map(str::to_string),
        memberships: vec![],
        created: p.created,
        updated: p.updated,
    }
}

pub fn payment(v: PaymentView) -> api::Payment {
    api::Payment {
        card_choices: v.card_choices.into_iter().map(card_summary).collect(),
        memberships: v.memberships.iter().map(membership).collect(),
        ..payment_row(&v.payment)
    }
}

pub fn refund(r: RefundRow) -> api::Refund {
    api::Refund {
        id: r.id,
        payment: r.payment_id.to_string(),
        amount: r.amount.minor_units(),
        status: r.status.as_str().to_string(),
        reason: r.reason,
        created: r.created,
    }
}

/// A stored event as the payment's history shows it. Every event was written by [`ApiEvents`];
/// one that does not read back is a damaged store, reported as such rather than left out.
pub fn event(payload: String) -> palm_service::Result<api::Event> {
    serde_json::from_str(&payload).map_err(|_| {
        tracing::error!("a stored event could not be read");
        palm_service::ServiceError::internal("a stored event could not be read")
    })
}

/// Events in the API's wire form: `{id, type, created, data}` with `data` the object as an
/// answer shows it (a payment without a till's extras).
pub struct ApiEvents;

impl EventWire for ApiEvents {
    fn write(&self, e: &NewEvent<'_>) -> Option<String> {
        let data = match e.object {
            EventObject::Payment(p) => serde_json::to_value(payment_row(p)),
            EventObject::Refund(r) => serde_json::to_value(refund(r.clone())),
            EventObject::ShoppingTrip(t) => serde_json::to_value(trip(TripView::summary(t))),
        }
        .ok()?;
        serde_json::to_string(&api::Event {
            id: e.id.to_string(),
            kind: e.kind.to_string(),
            created: e.created,
            data,
        })
        .ok()
    }
}

pub fn membership(m: &MembershipRow) -> api::Membership {
    api::Membership {
        id: m.id.clone(),
        program: m.program_id.clone(),
        member_number: m.member_number.clone(),
        balance: m.balance,
        person: m.person_id.to_string(),
        created: m.created,
    }
}

pub fn reward(r: &RewardRow) -> api::Reward {
    api::Reward {
        id: r.id.clone(),
        program: r.program_id.clone(),
        name: r.name.clone(),
        points_cost: r.points_cost,
        discount: r.discount.minor_units(),
        currency: r.currency.to_string(),
    }
}

pub fn program(p: ProgramView) -> api::Program {
    api::Program {
        rewards: p.rewards.iter().map(reward).collect(),
        id: p.program.id,
        name: p.program.name,
        points_per_unit: p.program.points_per_unit,
        created: p.program.created,
    }
}

pub fn loyalty(l: LoyaltyPresentation) -> api::LoyaltyPresentation {
    api::LoyaltyPresentation {
        person: l.person.to_string(),
        memberships: l.memberships.iter().map(membership).collect(),
        rewards_available: l.rewards_available.iter().map(reward).collect(),
    }
}

pub fn invitation(i: Invitation) -> api::Invitation {
    api::Invitation {
        id: i.id,
        kind: i.kind,
        target: i.target,
        status: "pending".into(),
        created: i.created,
        expires: i.expires,
    }
}

pub fn till_profile(t: TillProfile) -> api::TillProfile {
    api::TillProfile {
        id: t.till.id,
        name: t.till.name,
        store: t.till.store_name,
        merchant: t.merchant,
    }
}

pub fn endpoint(e: WebhookEndpoint) -> api::WebhookEndpoint {
    api::WebhookEndpoint {
        id: e.id,
        url: e.url,
        secret: e.secret,
        created: e.created,
    }
}

pub fn delivery(d: DeliveryRow) -> api::WebhookDelivery {
    api::WebhookDelivery {
        id: d.id,
        event: d.event_id,
        event_type: d.event_type,
        endpoint: d.endpoint_id,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        next_attempt: d.next_attempt.map(|ms| ms.div_euclid(1000)),
        created: d.created,
    }
}

fn basket_line(l: Line) -> api::BasketLine {
    api::BasketLine {
        product: l.product,
        name: l.name,
        quantity: l.quantity,
        unit_price: l.unit_price.minor_units(),
        amount: l.amount.minor_units(),
        confidence: l.confidence,
    }
}

pub fn trip(v: TripView) -> api::ShoppingTrip {
    let t: TripRow = v.trip;
    api::ShoppingTrip {
        person: t.person_id.as_ref().map(String::from),
        status: t.status.as_str().to_string(),
        currency: t.currency.as_str().to_string(),
        hold: t.hold.minor_units(),
        basket: v.basket.into_iter().map(basket_line).collect(),
        subtotal: t.subtotal.minor_units(),
        tax: t.tax.minor_units(),
        total: t.total.minor_units(),
        charged: t.charged.minor_units(),
        payment: t.payment_id.to_string(),
        receipt_link: v.receipt_link,
        id: t.id,
        venue: t.venue_id,
        gate: t.gate_id,
        party_size: t.party_size,
        opened: t.opened,
        closed: t.closed,
        closed_by: t.closed_by,
        decline_code: t.decline_code,
    }
}

fn item_event(e: ItemEventRow) -> api::ItemEvent {
    api::ItemEvent {
        kind: e.kind.as_str().to_string(),
        unit_price: e.unit_price.minor_units(),
        confidence: Some(e.confidence),
        occurred_ms: Some(e.occurred_ms),
        id: e.event_id,
        product: e.product,
        name: e.name,
        quantity: e.quantity,
    }
}

pub fn item_recorded(r: ItemEventRecorded) -> api::ItemEventRecorded {
    api::ItemEventRecorded {
        event: item_event(r.event),
        duplicate: r.duplicate,
        trip: trip(r.trip),
    }
}

pub fn adjustment(a: AdjustmentRow) -> api::Adjustment {
    api::Adjustment {
        amount: a.amount.minor_units(),
        status: a.status.as_str().to_string(),
        id: a.id,
        trip: a.trip_id,
        product: a.product,
        quantity: a.quantity,
        reason: a.reason,
        refund: a.refund_id,
        created: a.created,
    }
}

pub fn receipt(r: Receipt) -> api::Receipt {
    let t = r.trip;
    api::Receipt {
        currency: t.currency.as_str().to_string(),
        subtotal: t.subtotal.minor_units(),
        tax: t.tax.minor_units(),
        total: t.total.minor_units(),
        charged: t.charged.minor_units(),
        refunded: r.refunded.minor_units(),
        opened: t.opened,
        // A completed trip has its close time; the last change stands in for a damaged one.
        closed: t.closed.unwrap_or(t.updated),
        trip: t.id,
        store: r.store,
        lines: r.lines.into_iter().map(basket_line).collect(),
        card_brand: r.card_brand,
        card_last4: r.card_last4,
        adjustments: r.adjustments.into_iter().map(adjustment).collect(),
    }
}

pub fn venue(v: CreatedVenue) -> api::Venue {
    api::Venue {
        id: v.venue.id,
        name: v.venue.name,
        gates: v
            .gates
            .into_iter()
            .map(|g| api::GateInfo {
                id: g.gate.id,
                name: g.gate.name,
                age_restricted: g.gate.age_restricted,
                credential: Some(g.credential),
            })
            .collect(),
        walk_out: v.walk_out.map(|w| api::WalkOutSettings {
            currency: w.currency.to_string(),
            hold: w.hold.minor_units(),
            tax_rate_bps: w.tax_rate_bps,
        }),
    }
}

pub fn venue_event(e: VenueEventRow) -> api::VenueEvent {
    api::VenueEvent {
        id: e.id,
        venue: e.venue_id,
        name: e.name,
        starts: e.starts,
        ends: e.ends,
        capacity: e.capacity,
        reentry: e.reentry,
    }
}

pub fn age_verification(a: AgeRecorded) -> api::AgeVerification {
    api::AgeVerification {
        // Never named: the answer is the same whether or not the number is enrolled.
        person: None,
        document_type: a.document_type,
        verified_by: a.verified_by,
        verified_at: a.verified_at,
    }
}

pub fn entry(e: EntryRow) -> api::Entry {
    api::Entry {
        person: e.person_id.as_ref().map(String::from),
        id: e.id,
        event: e.event_id,
        gate: e.gate_id,
        direction: e.direction,
        allowed: e.allowed,
        reason: e.reason,
        created: e.created,
        offline: e.offline,
    }
}

pub fn device(d: DeviceRow) -> api::Device {
    api::Device {
        kind: if d.gate_id.is_some() { "gate" } else { "till" }.to_string(),
        id: d.id,
        name: d.name,
        till: d.till_id,
        gate: d.gate_id,
        created: d.created,
        revoked: d.revoked,
    }
}

pub fn capture_key(k: OfferedKey) -> api::CaptureKey {
    api::CaptureKey {
        id: k.id,
        public_key: k.public_key,
        expires: k.expires,
    }
}

pub fn device_registered(r: DeviceRegistered) -> api::DeviceRegistered {
    api::DeviceRegistered {
        device: device(r.device),
        capture_keys: r.capture_keys.into_iter().map(capture_key).collect(),
    }
}

pub fn pairing_code(c: PairingCode) -> api::PairingCode {
    api::PairingCode {
        code: c.code,
        till: c.till,
        gate: c.gate,
        expires: c.expires,
    }
}

pub fn sealed_allow_list(l: SealedAllowList) -> api::SealedAllowList {
    api::SealedAllowList {
        id: l.id,
        event: l.event,
        issued: l.issued,
        expires: l.expires,
        enc: l.enc,
        ciphertext: l.ciphertext,
    }
}

pub fn allow_list_status(l: AllowListRow) -> api::AllowListStatus {
    api::AllowListStatus {
        revoked: l.revoked.is_some(),
        id: l.id,
        expires: l.expires,
    }
}

pub fn offline_upload(u: OfflineUpload) -> api::OfflineUpload {
    api::OfflineUpload {
        recorded: u.recorded,
        duplicates: u.duplicates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payment_state_has_its_wire_name() {
        for s in PaymentState::ALL {
            assert_eq!(payment_status(s).as_str(), s.as_str(), "the API knows {s}");
            assert_eq!(
                api::PaymentStatus::parse(s.as_str()).map(|a| a.as_str()),
                Some(s.as_str())
            );
        }
    }

    #[test]
    fn the_service_takes_as_many_offline_entries_as_the_api_documents() {
        assert_eq!(
            api::MAX_OFFLINE_ENTRIES,
            palm_service::offline::MAX_OFFLINE_ENTRIES
        );
    }
}
