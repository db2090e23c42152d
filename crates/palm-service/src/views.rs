//! Stored rows as the API shows them: masked, in the wire types of `palm-api`.

use crate::payment_state::{CaptureMethod, PaymentState};
use crate::signup_input::Hand;
use crate::store::{CardRow, PaymentRow, PersonRow, RefundRow};
use palm_api as api;

pub fn card(c: &CardRow, default: Option<&str>) -> api::Card {
    api::Card {
        id: c.id.clone(),
        brand: c.brand.clone(),
        last4: c.last4.clone(),
        exp_month: c.exp_month as u8,
        exp_year: c.exp_year as u16,
        is_default: default == Some(c.id.as_str()),
        created: c.created,
    }
}

pub fn card_summary(c: &CardRow) -> api::CardSummary {
    api::CardSummary {
        id: c.id.clone(),
        brand: c.brand.clone(),
        last4: c.last4.clone(),
    }
}

pub fn person(p: &PersonRow, hands: Vec<api::Hand>, cards: &[CardRow]) -> api::Person {
    api::Person {
        id: p.id.to_string(),
        phone_last4: p.phone_last4.clone(),
        hands,
        cards: cards
            .iter()
            .map(|c| card(c, p.default_card.as_deref()))
            .collect(),
        created: p.created,
        status: if p.pending_since.is_some() {
            api::EnrolmentStatus::PendingFirstScan
        } else {
            api::EnrolmentStatus::Active
        },
    }
}

pub fn wire_hand(h: Hand) -> api::Hand {
    match h {
        Hand::Left => api::Hand::Left,
        Hand::Right => api::Hand::Right,
    }
}

pub fn hand_of(name: &str) -> Option<api::Hand> {
    match name {
        "left" => Some(api::Hand::Left),
        "right" => Some(api::Hand::Right),
        _ => None,
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

pub fn payment(p: &PaymentRow, choices: &[CardRow]) -> api::Payment {
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
        card: match (&p.card_id, &p.card_brand, &p.card_last4) {
            (Some(id), Some(brand), Some(last4)) => Some(api::CardSummary {
                id: id.clone(),
                brand: brand.clone(),
                last4: last4.clone(),
            }),
            _ => None,
        },
        card_choices: choices.iter().map(card_summary).collect(),
        decline_code: p.status.decline_code().map(str::to_string),
        memberships: vec![],
        created: p.created,
        updated: p.updated,
    }
}

pub fn refund(r: &RefundRow) -> api::Refund {
    api::Refund {
        id: r.id.clone(),
        payment: r.payment_id.to_string(),
        amount: r.amount.minor_units(),
        status: r.status.as_str().to_string(),
        reason: r.reason.clone(),
        created: r.created,
    }
}

pub fn basket_line(l: &crate::basket::Line) -> api::BasketLine {
    api::BasketLine {
        product: l.product.clone(),
        name: l.name.clone(),
        quantity: l.quantity,
        unit_price: l.unit_price.minor_units(),
        amount: l.amount.minor_units(),
        confidence: l.confidence,
    }
}

pub fn adjustment(a: &crate::trip_store::AdjustmentRow) -> api::Adjustment {
    api::Adjustment {
        id: a.id.clone(),
        trip: a.trip_id.clone(),
        product: a.product.clone(),
        quantity: a.quantity,
        amount: a.amount.minor_units(),
        reason: a.reason.clone(),
        status: a.status.as_str().to_string(),
        refund: a.refund_id.clone(),
        created: a.created,
    }
}
