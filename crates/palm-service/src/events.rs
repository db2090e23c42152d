//! Events: a recorded change of a payment, a refund or a shopping trip, kept with the change (in
//! the same transaction) and delivered by webhooks. An event's stored form is the HTTP API's
//! wire form, which the service does not own: the server writes it through [`EventWire`], so
//! the use cases hand it domain records and never a wire type.

use crate::store::{PaymentRow, RefundRow};
use crate::trip_store::TripRow;

/// The object an event is about, as the change left it.
#[derive(Debug, Clone, Copy)]
pub enum EventObject<'a> {
    Payment(&'a PaymentRow),
    Refund(&'a RefundRow),
    ShoppingTrip(&'a TripRow),
}

/// One event as it is about to be stored.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub id: &'a str,
    /// For example `payment.succeeded`.
    pub kind: &'a str,
    pub created: i64,
    pub object: EventObject<'a>,
}

/// Writes an event in the form webhooks deliver and the payment's history shows.
pub trait EventWire: Send + Sync {
    /// `None` if the event cannot be written (the change is then refused, never stored with an
    /// empty event).
    fn write(&self, event: &NewEvent<'_>) -> Option<String>;
}
