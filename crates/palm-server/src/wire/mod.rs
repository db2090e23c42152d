//! The wire requests (`palm_api`) mapped to the service's own: the one place where what a
//! caller sent becomes checked domain values (sums as amounts, a currency, a capture method).
//! A value that is wrong on its own is refused here, naming its field; one that is wrong only
//! against a stored record (a capture above the authorisation) is refused by the use case.
//! The service's answers go the other way, in `answers`.

mod answers;

pub use answers::*;

use palm_api::CreateRefund;
use palm_api::{CaptureMethod as WireCapture, CapturePayment, ConfirmPayment, CreatePayment};
use palm_service::Result;
use palm_service::adjustments::DisputedLine;
use palm_service::devices::{NewDevice, PairingTarget};
use palm_service::entry::{AgeCheck, NewEvent, NewVenue};
use palm_service::loyalty::{NewProgram, NewReward};
use palm_service::offline::OfflineDecision;
use palm_service::payment_input::{Confirmation, NewPayment, NewRefund, PalmPayment, Part};
use palm_service::payment_state::CaptureMethod;
use palm_service::presented::{
    CaptureInput, Direction, FramesSent, GateScan, GateVerdict, Presentation, SealedCapture,
};
use palm_service::privacy;
use palm_service::signup_input::{
    CaptureSource, CardEntry, Hand, HandCapture, JoinAtSignup, SignUp,
};
use palm_service::trips::{ItemReport, TripEntry, WalkOut};

pub fn new_payment(req: CreatePayment) -> Result<NewPayment> {
    let capture = match req.capture_method {
        Some(WireCapture::Manual) => CaptureMethod::Manual,
        Some(WireCapture::Automatic) | None => CaptureMethod::Automatic,
    };
    Ok(NewPayment::new(req.amount, req.tip, &req.currency)?
        .at_till(req.till)
        .with_reference(req.reference.as_deref())?
        .captured(capture))
}

fn sealed(s: palm_api::SealedImage) -> SealedCapture {
    SealedCapture {
        key_id: s.key_id,
        enc: s.enc,
        ciphertext: s.ciphertext,
        nonce: s.nonce,
    }
}

fn frames(plain: Vec<String>, sealed_frames: Vec<palm_api::SealedImage>) -> FramesSent {
    FramesSent {
        plain,
        sealed: sealed_frames.into_iter().map(sealed).collect(),
    }
}

/// What a palm request (a payment's, a gate's, a trip's) presents: its `image` or
/// `sealed_image`, or a hover's frames (and the other hand's), checked by shape.
fn presentation(
    image: String,
    sealed_image: Option<palm_api::SealedImage>,
    first: FramesSent,
    second_hand: FramesSent,
) -> Result<Presentation> {
    Presentation::new(
        CaptureInput::one_of(image, sealed_image.map(sealed))?,
        first,
        second_hand,
    )
}

pub fn palm_payment(req: palm_api::PalmSubmission) -> Result<PalmPayment> {
    Ok(PalmPayment {
        presented: presentation(
            req.image,
            req.sealed_image,
            frames(req.frames, req.sealed_frames),
            frames(req.second_hand_frames, req.sealed_second_hand_frames),
        )?,
        phone_last4: req.phone_last4,
        card: req.card,
        confirm: req.confirm.unwrap_or(true),
        reward: req.reward,
    })
}

pub fn gate_scan(req: palm_api::GateScan) -> Result<GateScan> {
    Ok(GateScan {
        event: Some(req.event).filter(|e| !e.is_empty()),
        direction: Direction::parse(req.direction.as_deref())?,
        presented: presentation(
            req.image,
            req.sealed_image,
            frames(req.frames, req.sealed_frames),
            frames(req.second_hand_frames, req.sealed_second_hand_frames),
        )?,
        phone_last4: req.phone_last4,
    })
}

pub fn gate_decision(v: GateVerdict) -> palm_api::GateDecision {
    palm_api::GateDecision {
        allowed: v.allowed,
        reason: v.reason,
        person: v.person.map(|p| p.to_string()),
        trip: v.trip,
    }
}

pub fn trip_entry(req: palm_api::OpenTrip) -> Result<TripEntry> {
    TripEntry::new(
        presentation(
            req.image,
            req.sealed_image,
            frames(req.frames, req.sealed_frames),
            frames(req.second_hand_frames, req.sealed_second_hand_frames),
        )?,
        req.phone_last4,
        req.party_size,
    )
}

pub fn card_entry(c: palm_api::CardInput) -> CardEntry {
    CardEntry {
        number: c.number,
        exp_month: c.exp_month,
        exp_year: c.exp_year,
        holder_name: c.holder_name,
        cvc: c.cvc,
    }
}

pub fn hand(h: palm_api::Hand) -> Hand {
    match h {
        palm_api::Hand::Left => Hand::Left,
        palm_api::Hand::Right => Hand::Right,
    }
}

pub fn sign_up(req: palm_api::SignupRequest) -> Result<SignUp> {
    let memberships = req
        .memberships
        .into_iter()
        .enumerate()
        .map(|(i, j)| JoinAtSignup::new(j.program, j.member_number, i))
        .collect::<Result<_>>()?;
    Ok(SignUp {
        phone: req.phone,
        card: card_entry(req.card),
        consent: req.consent.accepted.then_some(req.consent.text_version),
        captures: req
            .captures
            .into_iter()
            .map(|c| HandCapture {
                hand: hand(c.hand),
                image: c.image,
            })
            .collect(),
        memberships,
        source: match req.source {
            palm_api::CaptureSource::Scanner => CaptureSource::Scanner,
            palm_api::CaptureSource::Phone => CaptureSource::Phone,
        },
    })
}

pub fn confirmation(req: ConfirmPayment) -> Result<Confirmation> {
    Confirmation::new(req.card, req.tip, req.reward)
}

/// How much of the authorisation to capture (checked against it by the use case).
pub fn capture(req: CapturePayment) -> Part {
    Part::asked(req.amount)
}

pub fn new_refund(req: CreateRefund) -> Result<NewRefund> {
    NewRefund::new(req.amount, req.reason.as_deref())
}

pub fn new_program(req: palm_api::CreateProgram) -> Result<NewProgram> {
    NewProgram::new(&req.name, req.points_per_unit)
}

pub fn new_reward(req: palm_api::CreateReward) -> Result<NewReward> {
    NewReward::new(&req.name, req.points_cost, req.discount, &req.currency)
}

pub fn new_venue(req: palm_api::CreateVenue) -> Result<NewVenue> {
    let gates = req
        .gates
        .into_iter()
        .map(|g| (g.name, g.age_restricted))
        .collect();
    let walk_out = req
        .walk_out
        .map(|w| WalkOut::new(&w.currency, w.hold, w.tax_rate_bps))
        .transpose()?;
    Ok(NewVenue::new(&req.name, gates)?.with_walk_out(walk_out))
}

pub fn new_event(req: palm_api::CreateEvent) -> Result<NewEvent> {
    Ok(NewEvent::new(&req.name, req.starts, req.ends, req.capacity)?.with_reentry(req.reentry))
}

pub fn age_check(req: palm_api::VerifyAge) -> Result<AgeCheck> {
    AgeCheck::new(&req.phone, &req.document_type, &req.verified_by)
}

pub fn item_report(req: palm_api::ItemEvent) -> Result<ItemReport> {
    ItemReport::new(&req.id, &req.kind, &req.product, &req.name)?
        .counted(req.quantity, req.unit_price)?
        .sensed(req.confidence, req.occurred_ms)
}

pub fn pairing_target(req: palm_api::CreatePairingCode) -> Result<PairingTarget> {
    PairingTarget::new(req.till, req.gate)
}

pub fn new_device(req: palm_api::RegisterDevice) -> Result<NewDevice> {
    NewDevice::new(
        &req.pairing_code,
        &req.name,
        &req.signing_key,
        &req.seal_key,
    )
}

pub fn offline_decision(e: palm_api::OfflineEntry) -> OfflineDecision {
    OfflineDecision {
        id: e.id,
        event: e.event,
        person: e.person,
        direction: e.direction,
        allowed: e.allowed,
        reason: e.reason,
        decided_at: e.decided_at,
        allow_list: e.allow_list,
    }
}

pub fn disputed_line(req: palm_api::CreateAdjustment) -> DisputedLine {
    DisputedLine {
        product: req.product,
        quantity: req.quantity,
        reason: req.reason,
    }
}

pub fn audit_entry(a: privacy::AuditEntry) -> palm_api::AuditEntry {
    palm_api::AuditEntry {
        id: a.id,
        actor: a.actor,
        purpose: a.purpose,
        created: a.created,
    }
}

pub fn retention_policy(p: privacy::RetentionPolicy) -> palm_api::RetentionPolicy {
    palm_api::RetentionPolicy {
        biometric_retention_days: p.retention_days,
        policy: p.text,
    }
}

pub fn deletion_request(d: privacy::DeletionAsked) -> palm_api::DeletionRequest {
    palm_api::DeletionRequest {
        id: d.id,
        expires: d.expires,
    }
}

pub fn deletion_result(d: privacy::DeletionOutcome) -> palm_api::DeletionResult {
    palm_api::DeletionResult {
        id: d.id,
        status: d.status.as_str().into(),
        erased_everywhere: d.erased_everywhere,
    }
}
