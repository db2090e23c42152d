//! A shopping trip's basket from the item events the store's sensors sent: pure arithmetic, so
//! the receipt is the same whatever order the events arrived in, and however often one was
//! resent.
//!
//! Each product's count is what was taken minus what was put back, never below zero (a put-back
//! the sensors saw without its take adds nothing); its name and price are those of its earliest
//! take. Tax is on the subtotal, rounded half up to the minor unit.

use crate::money::{Amount, MAX_AMOUNT};
use crate::trip_store::{ItemEventRow, ItemKind};

/// One product in the basket.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub product: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Amount,
    pub amount: Amount,
    /// The lowest sensor confidence among the events behind the line.
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Basket {
    /// In the order each product was first taken.
    pub lines: Vec<Line>,
    pub subtotal: Amount,
    pub tax: Amount,
    pub total: Amount,
}

/// The basket is worth more than one card payment may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Tax on `amount` at `rate_bps` basis points, rounded half up.
pub fn tax_on(amount: i64, rate_bps: i64) -> i64 {
    let t = (i128::from(amount) * i128::from(rate_bps) + 5_000) / 10_000;
    t as i64
}

/// Checked money: at most [`MAX_AMOUNT`].
fn money(value: i128) -> Result<Amount, TooLarge> {
    if value > i128::from(MAX_AMOUNT) {
        return Err(TooLarge);
    }
    Amount::stored(value as i64).ok_or(TooLarge)
}

impl Basket {
    pub fn from_events(events: &[ItemEventRow], tax_rate_bps: i64) -> Result<Basket, TooLarge> {
        let mut ordered: Vec<&ItemEventRow> = events.iter().collect();
        ordered.sort_by(|a, b| (a.occurred_ms, &a.event_id).cmp(&(b.occurred_ms, &b.event_id)));
        // Products in the order of their earliest take; a product never taken has no line.
        let mut products: Vec<&ItemEventRow> = Vec::new();
        for e in &ordered {
            if e.kind == ItemKind::Take && !products.iter().any(|p| p.product == e.product) {
                products.push(e);
            }
        }
        let mut lines = Vec::new();
        let mut subtotal: i128 = 0;
        for first in products {
            let mine = ordered.iter().filter(|e| e.product == first.product);
            let (mut net, mut confidence) = (0i64, f64::INFINITY);
            for e in mine {
                net += match e.kind {
                    ItemKind::Take => e.quantity,
                    ItemKind::PutBack => -e.quantity,
                };
                confidence = confidence.min(e.confidence);
            }
            if net <= 0 {
                continue;
            }
            let amount = i128::from(net) * i128::from(first.unit_price.minor_units());
            subtotal += amount;
            lines.push(Line {
                product: first.product.clone(),
                name: first.name.clone(),
                quantity: net,
                unit_price: first.unit_price,
                amount: money(amount)?,
                confidence,
            });
        }
        let subtotal = money(subtotal)?;
        let tax = money(i128::from(tax_on(subtotal.minor_units(), tax_rate_bps)))?;
        let total = money(i128::from(subtotal.minor_units()) + i128::from(tax.minor_units()))?;
        Ok(Basket {
            lines,
            subtotal,
            tax,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        id: &str,
        kind: ItemKind,
        product: &str,
        quantity: i64,
        price: i64,
        at: i64,
    ) -> ItemEventRow {
        ItemEventRow {
            trip_id: "trip_1".into(),
            event_id: id.into(),
            kind,
            product: product.into(),
            name: format!("{product} name"),
            quantity,
            unit_price: Amount::stored(price).unwrap(),
            confidence: 0.9,
            occurred_ms: at,
            received: 0,
        }
    }

    #[test]
    fn takes_minus_put_backs_with_tax_rounded_half_up() {
        let events = [
            event("e1", ItemKind::Take, "cola", 2, 199, 10),
            event("e2", ItemKind::Take, "chips", 1, 349, 20),
            event("e3", ItemKind::PutBack, "cola", 1, 199, 30),
        ];
        let b = Basket::from_events(&events, 825).unwrap();
        let got: Vec<_> = b
            .lines
            .iter()
            .map(|l| (l.product.as_str(), l.quantity, l.amount.minor_units()))
            .collect();
        assert_eq!(got, [("cola", 1, 199), ("chips", 1, 349)]);
        assert_eq!(b.subtotal.minor_units(), 548);
        // 548 * 8.25% = 45.21 -> 45
        assert_eq!(b.tax.minor_units(), 45);
        assert_eq!(b.total.minor_units(), 593);
        assert_eq!(tax_on(100, 50), 1, "0.5 rounds up");
        assert_eq!(tax_on(100, 49), 0);
    }

    #[test]
    fn the_order_of_arrival_does_not_matter() {
        let events = vec![
            event("e1", ItemKind::Take, "cola", 1, 199, 10),
            event("e2", ItemKind::PutBack, "cola", 1, 199, 20),
            event("e3", ItemKind::Take, "cola", 3, 199, 30),
            event("e4", ItemKind::Take, "milk", 1, 120, 40),
            event("e5", ItemKind::PutBack, "milk", 1, 120, 50),
        ];
        let expected = Basket::from_events(&events, 0).unwrap();
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(Basket::from_events(&reversed, 0).unwrap(), expected);
        assert_eq!(expected.lines.len(), 1);
        assert_eq!(expected.lines[0].quantity, 3);
    }

    #[test]
    fn a_put_back_never_taken_adds_nothing_and_counts_never_go_negative() {
        let events = [
            event("e1", ItemKind::PutBack, "ghost", 2, 500, 10),
            event("e2", ItemKind::Take, "soap", 1, 300, 20),
            event("e3", ItemKind::PutBack, "soap", 4, 300, 30),
        ];
        let b = Basket::from_events(&events, 1000).unwrap();
        assert!(b.lines.is_empty());
        assert!(b.total.is_zero());
    }

    #[test]
    fn the_earliest_take_names_and_prices_a_line() {
        let mut late = event("e2", ItemKind::Take, "tea", 1, 999, 20);
        late.name = "renamed".into();
        let events = [late, event("e1", ItemKind::Take, "tea", 1, 250, 10)];
        let b = Basket::from_events(&events, 0).unwrap();
        assert_eq!(b.lines[0].unit_price.minor_units(), 250);
        assert_eq!(b.lines[0].name, "tea name");
        assert_eq!(b.total.minor_units(), 500);
    }

    #[test]
    fn a_basket_beyond_one_payment_is_refused() {
        let events = [event("e1", ItemKind::Take, "gold", 1000, MAX_AMOUNT, 10)];
        assert_eq!(Basket::from_events(&events, 0), Err(TooLarge));
    }
}
