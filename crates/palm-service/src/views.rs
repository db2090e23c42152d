//! What the use cases answer with: domain records and the service's own views of them, never
//! wire types. The server maps these to `palm_api` (its `wire` module); rows that hold sealed
//! values (a person's phone, a card's number) are shown through views that leave those out.

use crate::ids::PaymentId;
use crate::signup_input::Hand;
use crate::store::{CardRow, MembershipRow, PaymentRow, PersonId, PersonRow};

/// One page of a list, and whether more come after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> Listed<T> {
    /// A whole list (one page with nothing after it).
    pub fn whole(data: Vec<T>) -> Listed<T> {
        Listed {
            data,
            has_more: false,
        }
    }
}

/// A card on file, masked: brand, last four and expiry, never the number or the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub is_default: bool,
    pub created: i64,
}

impl CardView {
    pub fn of(c: &CardRow, default: Option<&str>) -> CardView {
        CardView {
            id: c.id.clone(),
            brand: c.brand.clone(),
            last4: c.last4.clone(),
            // Checked at entry: a month and a four-digit year.
            exp_month: c.exp_month as u8,
            exp_year: c.exp_year as u16,
            is_default: default == Some(c.id.as_str()),
            created: c.created,
        }
    }
}

/// A card as a payment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    pub id: String,
    pub brand: String,
    pub last4: String,
}

impl CardSummary {
    pub fn of(c: &CardRow) -> CardSummary {
        CardSummary {
            id: c.id.clone(),
            brand: c.brand.clone(),
            last4: c.last4.clone(),
        }
    }

    /// The card a payment was made with, as the payment recorded it (kept after the card is
    /// removed).
    pub fn used_by(p: &PaymentRow) -> Option<CardSummary> {
        match (&p.card_id, &p.card_brand, &p.card_last4) {
            (Some(id), Some(brand), Some(last4)) => Some(CardSummary {
                id: id.clone(),
                brand: brand.clone(),
                last4: last4.clone(),
            }),
            _ => None,
        }
    }
}

/// A person as they and their merchants see them: the last four digits of the phone only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonView {
    pub id: PersonId,
    pub phone_last4: String,
    pub hands: Vec<Hand>,
    pub cards: Vec<CardView>,
    pub created: i64,
    /// Signed up from phone photos and not yet confirmed by a till's capture.
    pub pending_first_scan: bool,
}

impl PersonView {
    pub fn of(p: &PersonRow, hands: Vec<Hand>, cards: &[CardRow]) -> PersonView {
        PersonView {
            id: p.id.clone(),
            phone_last4: p.phone_last4.clone(),
            hands,
            cards: cards
                .iter()
                .map(|c| CardView::of(c, p.default_card.as_deref()))
                .collect(),
            created: p.created,
            pending_first_scan: p.pending_since.is_some(),
        }
    }
}

/// The consent text a person accepts at sign-up, with its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentText {
    pub version: &'static str,
    pub text: &'static str,
}

/// A new person, with the loyalty memberships joined at sign-up.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedUp {
    pub person: PersonView,
    pub memberships: Vec<MembershipRow>,
}

/// A session a person opened with palm and phone: its token is shown once, here.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonSession {
    pub token: String,
    pub expires: i64,
    pub person: PersonView,
}

impl std::fmt::Debug for PersonSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonSession")
            .field("token", &"***")
            .field("expires", &self.expires)
            .field("person", &self.person.id)
            .finish()
    }
}

/// A payment, with what a till shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentView {
    pub payment: PaymentRow,
    /// Cards the identified person may choose from while the payment awaits confirmation.
    pub card_choices: Vec<CardSummary>,
    /// The person's memberships at this merchant, with balances after this payment.
    pub memberships: Vec<MembershipRow>,
}

impl PaymentView {
    /// The payment alone.
    pub fn of(p: &PaymentRow) -> PaymentView {
        PaymentView {
            payment: p.clone(),
            card_choices: vec![],
            memberships: vec![],
        }
    }

    pub fn id(&self) -> &PaymentId {
        &self.payment.id
    }
}

/// A stored hand name (`left`, `right`) as the service's own.
pub fn hand_of(name: &str) -> Option<Hand> {
    match name {
        "left" => Some(Hand::Left),
        "right" => Some(Hand::Right),
        _ => None,
    }
}
