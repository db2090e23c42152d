//! The payment processor seam, and a simulated processor that behaves like a real one.
//!
//! Every call carries an idempotency key: sending the same call twice (after a timeout, say) never
//! moves money twice. A caller that timed out asks [`Processor::lookup`] what became of its key
//! before trying again. Real connectors implement the same trait.

use crate::money::{Amount, Currency};
use async_trait::async_trait;
use palm_vault::{CardNumber, Cvv, Expiry};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one processor call concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done; `reference` names the charge (authorisations) or the operation (others).
    Approved { reference: String },
    /// Refused, with the network's decline code (`card_declined`, `insufficient_funds`, ...).
    Declined { code: String },
}

/// What a lookup by idempotency key finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The processor never received a call with that key: it is safe to send it again.
    Unknown,
    /// Received and still being worked on.
    Pending,
    Done(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// Could not reach the processor at all: nothing happened.
    #[error("processor unreachable")]
    Unreachable,
    /// The processor refused the request itself (not a decline): a bug on our side.
    #[error("processor rejected the request: {0}")]
    Rejected(String),
}

pub struct Authorization<'a> {
    pub idempotency_key: &'a str,
    pub card: &'a CardNumber,
    pub expiry: Expiry,
    pub cvv: Option<&'a Cvv>,
    pub amount: Amount,
    pub currency: Currency,
    /// Capture at once (automatic capture) or hold the funds only.
    pub capture: bool,
}

#[async_trait]
pub trait Processor: Send + Sync {
    async fn authorize(&self, a: &Authorization<'_>) -> Result<Outcome, ProcessorError>;
    /// Capture `amount` (at most what was authorised) of a held charge.
    async fn capture(
        &self,
        idempotency_key: &str,
        charge: &str,
        amount: Amount,
    ) -> Result<Outcome, ProcessorError>;
    /// Raise a held charge to `new_total` (more than it holds now): an incremental
    /// authorisation, for a basket that outgrew its hold.
    async fn increment(
        &self,
        idempotency_key: &str,
        charge: &str,
        new_total: Amount,
    ) -> Result<Outcome, ProcessorError>;
    /// Release a held charge.
    async fn void(&self, idempotency_key: &str, charge: &str) -> Result<Outcome, ProcessorError>;
    async fn refund(
        &self,
        idempotency_key: &str,
        charge: &str,
        amount: Amount,
    ) -> Result<Outcome, ProcessorError>;
    async fn lookup(&self, idempotency_key: &str) -> Result<Lookup, ProcessorError>;
}

/// Test card numbers and what the simulated processor answers to them (the public test numbers
/// card processors document). Any other valid card number is approved.
pub const TEST_CARDS: &[(&str, &str)] = &[
    ("4242424242424242", "approved"),
    ("5555555555554444", "approved"),
    ("4000000000000002", "card_declined"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000000069", "expired_card"),
    ("4000000000000119", "processing_error"),
    (VERIFIES_THEN_DECLINES, "card_declined"),
];

/// A test card that is approved for holds and charges but refuses to raise a hold (an
/// incremental authorisation is declined `insufficient_funds`): a walk-out basket larger than its
/// hold ends `requires_action`.
pub const HOLDS_ONLY: &str = "4000000000000259";

/// A test card that passes the verification at sign-up (a zero-amount authorisation) and is
/// declined for every payment: the way to see a decline at the till.
pub const VERIFIES_THEN_DECLINES: &str = "4000000000000341";

#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// How long each call takes to answer.
    pub latency: Duration,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            latency: Duration::from_millis(20),
        }
    }
}

/// What the processor holds for one charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub authorized: i64,
    pub captured: i64,
    pub refunded: i64,
    pub voided: bool,
    /// The card refuses incremental authorisations ([`HOLDS_ONLY`]).
    #[serde(default)]
    pub fixed: bool,
}

/// One completed call as the journal keeps it: its key, request digest and outcome, the state
/// of the charge it touched afterwards, and the reference counter.
#[derive(Serialize, Deserialize)]
struct JournalLine {
    key: String,
    digest: String,
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    charge: Option<(String, Charge)>,
    next: u64,
}

#[derive(Default, Debug)]
struct Ledger {
    /// Every call's result by idempotency key (`None` while in flight), with its request digest.
    calls: HashMap<String, (String, Option<Outcome>)>,
    charges: HashMap<String, Charge>,
    next: u64,
    /// Where completed calls are appended (a durable ledger), if anywhere.
    journal: Option<std::fs::File>,
}

impl Ledger {
    /// Records a completed call in memory and in the journal (written and synced), both under
    /// the ledger's lock, so nobody sees an outcome before it is durable.
    fn complete(&mut self, key: &str, outcome: &Outcome, charge: Option<&str>) {
        let Some((digest, slot)) = self.calls.get_mut(key) else {
            return;
        };
        *slot = Some(outcome.clone());
        let digest = digest.clone();
        let charge = charge.and_then(|c| self.charges.get(c).map(|s| (c.to_string(), *s)));
        let next = self.next;
        if let Some(file) = self.journal.as_mut() {
            let line = JournalLine {
                key: key.to_string(),
                digest,
                outcome: outcome.clone(),
                charge,
                next,
            };
            let written = serde_json::to_vec(&line)
                .map_err(std::io::Error::other)
                .and_then(|mut bytes| {
                    bytes.push(b'\n');
                    file.write_all(&bytes)?;
                    file.sync_data()
                });
            if let Err(e) = written {
                tracing::error!(error = %e, "simulated processor: journal not written");
            }
        }
    }
}

/// An in-process processor with the behaviour that matters: declines by test card, holds and
/// captures, partial refunds that cannot exceed the capture, latency that outlives the caller's
/// timeout (the call completes anyway, as on a real network), and idempotency by key. It stands
/// for the card network, which a restart of Palmline does not reset: [`SimulatedProcessor::durable`]
/// keeps its ledger in a journal file, so charges, their references and every key's outcome
/// survive a restart (or a `kill -9`); a call still in flight when the process dies never
/// reached the network, and its key is unknown afterwards.
pub struct SimulatedProcessor {
    config: SimulatedConfig,
    ledger: Arc<Mutex<Ledger>>,
}

impl SimulatedProcessor {
    /// A processor whose ledger lives in memory only (tests).
    pub fn new(config: SimulatedConfig) -> SimulatedProcessor {
        SimulatedProcessor {
            config,
            ledger: Arc::default(),
        }
    }

    /// A processor whose ledger is the journal at `path` (created 0600 if missing): every
    /// completed call is appended and synced before anyone sees its outcome.
    pub fn durable(config: SimulatedConfig, path: &Path) -> std::io::Result<SimulatedProcessor> {
        let mut ledger = Ledger::default();
        match std::fs::File::open(path) {
            Ok(file) => {
                for line in std::io::BufReader::new(file).lines() {
                    // A line cut short by a crash is a call whose outcome never became durable:
                    // nobody saw it, so the call is unknown, as if it never arrived.
                    let Ok(line) = serde_json::from_str::<JournalLine>(&line?) else {
                        continue;
                    };
                    if let Some((reference, state)) = line.charge {
                        ledger.charges.insert(reference, state);
                    }
                    ledger.next = ledger.next.max(line.next);
                    ledger
                        .calls
                        .insert(line.key, (line.digest, Some(line.outcome)));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        ledger.journal = Some(options.open(path)?);
        Ok(SimulatedProcessor {
            config,
            ledger: Arc::new(Mutex::new(ledger)),
        })
    }

    /// Every charge the processor holds, by reference (for checks that the service's records
    /// agree with the money moved).
    pub fn charges(&self) -> HashMap<String, Charge> {
        let l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        l.charges.clone()
    }

    /// How much money the processor has moved for a charge: (captured, refunded). For tests
    /// that check nothing was charged twice.
    pub fn charge_totals(&self) -> (i64, i64, usize) {
        let l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let captured = l
            .charges
            .values()
            .filter(|c| !c.voided)
            .map(|c| c.captured)
            .sum();
        let refunded = l.charges.values().map(|c| c.refunded).sum();
        (captured, refunded, l.charges.len())
    }

    /// Runs `work` once per idempotency key: the first call registers the key and completes after
    /// the latency even if its caller has gone; a repeat gets the stored outcome (or waits for it).
    async fn once(
        &self,
        key: &str,
        digest: String,
        work: impl FnOnce(&mut Ledger) -> (Outcome, Option<String>) + Send + 'static,
    ) -> Result<Outcome, ProcessorError> {
        {
            let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((stored_digest, done)) = l.calls.get(key) {
                if *stored_digest != digest {
                    return Err(ProcessorError::Rejected(
                        "idempotency key reused with different parameters".into(),
                    ));
                }
                if let Some(outcome) = done {
                    return Ok(outcome.clone());
                }
            } else {
                l.calls.insert(key.to_string(), (digest, None));
                let ledger = self.ledger.clone();
                let key = key.to_string();
                let latency = self.config.latency;
                // The work happens on its own task: a caller that times out does not cancel it.
                tokio::spawn(async move {
                    tokio::time::sleep(latency).await;
                    let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
                    let (outcome, charge) = work(&mut l);
                    l.complete(&key, &outcome, charge.as_deref());
                });
            }
        }
        loop {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if let Lookup::Done(o) = self.peek(key) {
                return Ok(o);
            }
        }
    }

    fn peek(&self, key: &str) -> Lookup {
        let l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        match l.calls.get(key) {
            None => Lookup::Unknown,
            Some((_, None)) => Lookup::Pending,
            Some((_, Some(o))) => Lookup::Done(o.clone()),
        }
    }
}

fn approved(l: &mut Ledger, prefix: &str) -> Outcome {
    l.next += 1;
    Outcome::Approved {
        reference: format!("{prefix}_sim_{:08}", l.next),
    }
}

fn declined(code: &str) -> Outcome {
    Outcome::Declined { code: code.into() }
}

#[async_trait]
impl Processor for SimulatedProcessor {
    async fn authorize(&self, a: &Authorization<'_>) -> Result<Outcome, ProcessorError> {
        let digits = a.card.expose_digits();
        let verdict = TEST_CARDS
            .iter()
            .find(|(n, _)| *n == digits)
            .filter(|_| !(digits == VERIFIES_THEN_DECLINES && a.amount.is_zero()))
            .map_or("approved", |(_, v)| *v);
        // The ledger, like a network's, counts in minor units.
        let (amount, capture) = (a.amount.minor_units(), a.capture);
        let fixed = digits == HOLDS_ONLY;
        let digest = format!(
            "auth:{}:{}:{}:{}",
            a.card.last4(),
            amount,
            a.currency,
            capture
        );
        self.once(a.idempotency_key, digest, move |l| {
            if verdict != "approved" {
                return (declined(verdict), None);
            }
            if amount == 0 {
                // A card verification: nothing is held.
                return (approved(l, "verify"), None);
            }
            let outcome = approved(l, "ch");
            let Outcome::Approved { reference } = &outcome else {
                unreachable!("approved() approves")
            };
            let reference = reference.clone();
            l.charges.insert(
                reference.clone(),
                Charge {
                    authorized: amount,
                    captured: if capture { amount } else { 0 },
                    refunded: 0,
                    voided: false,
                    fixed,
                },
            );
            (outcome, Some(reference))
        })
        .await
    }

    async fn capture(
        &self,
        key: &str,
        charge: &str,
        amount: Amount,
    ) -> Result<Outcome, ProcessorError> {
        let (charge, amount) = (charge.to_string(), amount.minor_units());
        self.once(key, format!("capture:{charge}:{amount}"), move |l| {
            let outcome = match l.charges.get_mut(&charge) {
                Some(c) if !c.voided && c.captured == 0 && amount > 0 && amount <= c.authorized => {
                    c.captured = amount;
                    approved(l, "cap")
                }
                _ => declined("invalid_capture"),
            };
            (outcome, Some(charge))
        })
        .await
    }

    async fn increment(
        &self,
        key: &str,
        charge: &str,
        new_total: Amount,
    ) -> Result<Outcome, ProcessorError> {
        let (charge, total) = (charge.to_string(), new_total.minor_units());
        self.once(key, format!("increment:{charge}:{total}"), move |l| {
            let outcome = match l.charges.get_mut(&charge) {
                Some(c) if c.fixed => declined("insufficient_funds"),
                Some(c) if !c.voided && c.captured == 0 && total > c.authorized => {
                    c.authorized = total;
                    approved(l, "inc")
                }
                _ => declined("invalid_increment"),
            };
            (outcome, Some(charge))
        })
        .await
    }

    async fn void(&self, key: &str, charge: &str) -> Result<Outcome, ProcessorError> {
        let charge = charge.to_string();
        self.once(key, format!("void:{charge}"), move |l| {
            let outcome = match l.charges.get_mut(&charge) {
                Some(c) if c.captured == 0 && !c.voided => {
                    c.voided = true;
                    approved(l, "void")
                }
                _ => declined("invalid_void"),
            };
            (outcome, Some(charge))
        })
        .await
    }

    async fn refund(
        &self,
        key: &str,
        charge: &str,
        amount: Amount,
    ) -> Result<Outcome, ProcessorError> {
        let (charge, amount) = (charge.to_string(), amount.minor_units());
        self.once(key, format!("refund:{charge}:{amount}"), move |l| {
            let outcome = match l.charges.get_mut(&charge) {
                Some(c) if amount > 0 && c.refunded + amount <= c.captured => {
                    c.refunded += amount;
                    approved(l, "re")
                }
                _ => declined("invalid_refund"),
            };
            (outcome, Some(charge))
        })
        .await
    }

    async fn lookup(&self, key: &str) -> Result<Lookup, ProcessorError> {
        Ok(self.peek(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(units: i64) -> Amount {
        Amount::stored(units).unwrap()
    }

    fn auth<'a>(key: &'a str, card: &'a CardNumber, amount: i64) -> Authorization<'a> {
        Authorization {
            idempotency_key: key,
            card,
            expiry: "12/40".parse().unwrap(),
            cvv: None,
            amount: minor(amount),
            currency: Currency::USD,
            capture: true,
        }
    }

    #[tokio::test]
    async fn test_cards_idempotency_and_refund_limits() {
        let p = SimulatedProcessor::new(SimulatedConfig {
            latency: Duration::from_millis(1),
        });
        let ok: CardNumber = "4242424242424242".parse().unwrap();
        let first = p.authorize(&auth("k1", &ok, 500)).await.unwrap();
        let again = p.authorize(&auth("k1", &ok, 500)).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(p.charge_totals(), (500, 0, 1), "same key charged once");
        assert!(matches!(
            p.authorize(&auth("k1", &ok, 700)).await,
            Err(ProcessorError::Rejected(_))
        ));
        let Outcome::Approved { reference } = first else {
            panic!()
        };
        assert!(matches!(
            p.refund("r1", &reference, minor(300)).await.unwrap(),
            Outcome::Approved { .. }
        ));
        assert_eq!(
            p.refund("r2", &reference, minor(201)).await.unwrap(),
            declined("invalid_refund")
        );
        for (number, verdict) in &TEST_CARDS[2..] {
            let card: CardNumber = number.parse().unwrap();
            assert_eq!(
                p.authorize(&auth(number, &card, 100)).await.unwrap(),
                declined(verdict)
            );
        }
        // The card that verifies and then declines.
        let late: CardNumber = VERIFIES_THEN_DECLINES.parse().unwrap();
        assert!(matches!(
            p.authorize(&auth("v0", &late, 0)).await.unwrap(),
            Outcome::Approved { .. }
        ));
        assert_eq!(
            p.authorize(&auth("v1", &late, 100)).await.unwrap(),
            declined("card_declined")
        );
        assert_eq!(p.lookup("never").await.unwrap(), Lookup::Unknown);
    }

    #[tokio::test]
    async fn a_hold_is_raised_once_per_key_and_never_on_a_holds_only_card() {
        let p = SimulatedProcessor::new(SimulatedConfig {
            latency: Duration::from_millis(1),
        });
        let hold = |key, card| {
            let mut a = auth(key, card, 5000);
            a.capture = false;
            a
        };
        let ok: CardNumber = "4242424242424242".parse().unwrap();
        let Outcome::Approved { reference } = p.authorize(&hold("h1", &ok)).await.unwrap() else {
            panic!("approved card declined")
        };
        let raised = p.increment("i1", &reference, minor(7000)).await.unwrap();
        assert!(matches!(raised, Outcome::Approved { .. }));
        assert_eq!(
            p.increment("i1", &reference, minor(7000)).await.unwrap(),
            raised
        );
        assert_eq!(p.charges()[&reference].authorized, 7000);
        // Not a raise: refused.
        assert_eq!(
            p.increment("i2", &reference, minor(6000)).await.unwrap(),
            declined("invalid_increment")
        );
        assert!(matches!(
            p.capture("c1", &reference, minor(6900)).await.unwrap(),
            Outcome::Approved { .. }
        ));
        let fixed: CardNumber = HOLDS_ONLY.parse().unwrap();
        let Outcome::Approved { reference } = p.authorize(&hold("h2", &fixed)).await.unwrap()
        else {
            panic!("a holds-only card refused a hold")
        };
        assert_eq!(
            p.increment("i3", &reference, minor(6000)).await.unwrap(),
            declined("insufficient_funds")
        );
        assert_eq!(p.charges()[&reference].authorized, 5000);
    }

    #[tokio::test]
    async fn the_journal_keeps_charges_outcomes_and_numbering_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let config = SimulatedConfig {
            latency: Duration::from_millis(1),
        };
        let ok: CardNumber = "4242424242424242".parse().unwrap();
        let first = {
            let p = SimulatedProcessor::durable(config.clone(), &path).unwrap();
            let Outcome::Approved { reference } = p.authorize(&auth("k1", &ok, 500)).await.unwrap()
            else {
                panic!("approved card declined")
            };
            p.refund("r1", &reference, minor(200)).await.unwrap();
            reference
        };
        // A crash that cut the last line short loses only that call.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"key\":\"torn").unwrap();
        drop(f);
        let p = SimulatedProcessor::durable(config, &path).unwrap();
        assert_eq!(
            p.charges()[&first],
            Charge {
                authorized: 500,
                captured: 500,
                refunded: 200,
                voided: false,
                fixed: false
            }
        );
        assert!(matches!(
            p.lookup("k1").await.unwrap(),
            Lookup::Done(Outcome::Approved { reference }) if reference == first
        ));
        // The remaining 300 can be refunded, not a cent more, and numbering goes on.
        assert_eq!(
            p.refund("r2", &first, minor(301)).await.unwrap(),
            declined("invalid_refund")
        );
        let Outcome::Approved { reference } = p.authorize(&auth("k2", &ok, 100)).await.unwrap()
        else {
            panic!("approved card declined")
        };
        assert_ne!(
            reference, first,
            "a restart must not reuse charge references"
        );
        assert_eq!(p.charges().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_call_outlives_its_caller() {
        let p = SimulatedProcessor::new(SimulatedConfig {
            latency: Duration::from_millis(100),
        });
        let ok: CardNumber = "4242424242424242".parse().unwrap();
        let timed_out =
            tokio::time::timeout(Duration::from_millis(10), p.authorize(&auth("k", &ok, 100)))
                .await;
        assert!(timed_out.is_err());
        assert_eq!(p.lookup("k").await.unwrap(), Lookup::Pending);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(matches!(
            p.lookup("k").await.unwrap(),
            Lookup::Done(Outcome::Approved { .. })
        ));
        assert_eq!(p.charge_totals(), (100, 0, 1));
    }
}
