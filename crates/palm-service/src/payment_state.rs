//! A payment's state and capture method as the use cases reason about them: enums, so a state
//! the code does not know cannot be written, and the store refuses to read one back. Their
//! stored names are the API's (`requires_palm`, `manual`, ...); `views.rs` maps them to the wire.
//! [`PaymentStatus`] carries what each state has recorded (the authorisation's key, the charge
//! reference, the decline code), so a capture or a void cannot be sent without a charge
//! reference: the variant that allows it holds one.

/// Where a payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentState {
    /// Waiting for a palm at its till.
    RequiresPalm,
    /// Identified; waiting for the till to confirm (card choice, tip).
    RequiresConfirmation,
    /// Sent to the processor; the answer is not in yet.
    Processing,
    /// Authorised (manual capture); waiting for a capture or a cancel.
    RequiresCapture,
    Succeeded,
    Failed,
    Canceled,
}

impl PaymentState {
    pub const ALL: [PaymentState; 7] = [
        PaymentState::RequiresPalm,
        PaymentState::RequiresConfirmation,
        PaymentState::Processing,
        PaymentState::RequiresCapture,
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Canceled,
    ];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::RequiresPalm => "requires_palm",
            PaymentState::RequiresConfirmation => "requires_confirmation",
            PaymentState::Processing => "processing",
            PaymentState::RequiresCapture => "requires_capture",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
            PaymentState::Canceled => "canceled",
        }
    }

    pub fn parse(name: &str) -> Option<PaymentState> {
        PaymentState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether a person may still be asked to pay (the payment can be canceled without the
    /// processor).
    pub fn before_processor(self) -> bool {
        matches!(
            self,
            PaymentState::RequiresPalm | PaymentState::RequiresConfirmation
        )
    }
}

impl std::fmt::Display for PaymentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authorisation the processor granted: the idempotency key it was asked under and the
/// charge reference it answered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorisation {
    pub attempt_key: String,
    pub charge_ref: String,
}

/// Where a payment stands, with what that state has recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    RequiresPalm,
    RequiresConfirmation,
    /// Sent to the processor under `attempt_key`; the answer is not in yet (the reconciler asks
    /// the processor about that key, never sends a new one).
    Processing {
        attempt_key: String,
    },
    RequiresCapture(Authorisation),
    Succeeded(Authorisation),
    /// Declined by the processor (or never received by it: `processing_error`).
    Failed {
        attempt_key: String,
        decline_code: String,
    },
    /// Canceled before it reached the processor (`None`), or its authorisation released.
    Canceled(Option<Authorisation>),
}

impl PaymentStatus {
    /// The state alone (what the store queries by).
    pub fn state(&self) -> PaymentState {
        match self {
            PaymentStatus::RequiresPalm => PaymentState::RequiresPalm,
            PaymentStatus::RequiresConfirmation => PaymentState::RequiresConfirmation,
            PaymentStatus::Processing { .. } => PaymentState::Processing,
            PaymentStatus::RequiresCapture(_) => PaymentState::RequiresCapture,
            PaymentStatus::Succeeded(_) => PaymentState::Succeeded,
            PaymentStatus::Failed { .. } => PaymentState::Failed,
            PaymentStatus::Canceled(_) => PaymentState::Canceled,
        }
    }

    /// The authorisation the processor granted, in the states that have one.
    pub fn authorisation(&self) -> Option<&Authorisation> {
        match self {
            PaymentStatus::RequiresCapture(a)
            | PaymentStatus::Succeeded(a)
            | PaymentStatus::Canceled(Some(a)) => Some(a),
            _ => None,
        }
    }

    /// The key of the authorisation sent, once one was.
    pub fn attempt_key(&self) -> Option<&str> {
        match self {
            PaymentStatus::Processing { attempt_key }
            | PaymentStatus::Failed { attempt_key, .. } => Some(attempt_key),
            other => other.authorisation().map(|a| a.attempt_key.as_str()),
        }
    }

    pub fn charge_ref(&self) -> Option<&str> {
        self.authorisation().map(|a| a.charge_ref.as_str())
    }

    pub fn decline_code(&self) -> Option<&str> {
        match self {
            PaymentStatus::Failed { decline_code, .. } => Some(decline_code),
            _ => None,
        }
    }

    /// The status a stored row's columns describe; `None` when they do not fit its state (a
    /// value missing that the state must have, or one it cannot have).
    pub fn from_stored(
        state: PaymentState,
        attempt_key: Option<String>,
        charge_ref: Option<String>,
        decline_code: Option<String>,
    ) -> Option<PaymentStatus> {
        let authorisation = |attempt_key, charge_ref| match (attempt_key, charge_ref) {
            (Some(attempt_key), Some(charge_ref)) => Some(Authorisation {
                attempt_key,
                charge_ref,
            }),
            _ => None,
        };
        let status = match (state, decline_code) {
            (PaymentState::Failed, Some(decline_code)) if charge_ref.is_none() => {
                PaymentStatus::Failed {
                    attempt_key: attempt_key?,
                    decline_code,
                }
            }
            (_, Some(_)) | (PaymentState::Failed, None) => return None,
            (PaymentState::RequiresPalm | PaymentState::RequiresConfirmation, None)
                if attempt_key.is_some() || charge_ref.is_some() =>
            {
                return None;
            }
            (PaymentState::RequiresPalm, None) => PaymentStatus::RequiresPalm,
            (PaymentState::RequiresConfirmation, None) => PaymentStatus::RequiresConfirmation,
            (PaymentState::Processing, None) if charge_ref.is_none() => PaymentStatus::Processing {
                attempt_key: attempt_key?,
            },
            (PaymentState::Processing, None) => return None,
            (PaymentState::RequiresCapture, None) => {
                PaymentStatus::RequiresCapture(authorisation(attempt_key, charge_ref)?)
            }
            (PaymentState::Succeeded, None) => {
                PaymentStatus::Succeeded(authorisation(attempt_key, charge_ref)?)
            }
            (PaymentState::Canceled, None) => match (attempt_key, charge_ref) {
                (None, None) => PaymentStatus::Canceled(None),
                (a, c) => PaymentStatus::Canceled(Some(authorisation(a, c)?)),
            },
        };
        Some(status)
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.state().as_str())
    }
}

/// When the card is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMethod {
    /// Authorised and captured in one step.
    Automatic,
    /// Authorised only; captured (or canceled) later.
    Manual,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }

    pub fn parse(name: &str) -> Option<CaptureMethod> {
        [CaptureMethod::Automatic, CaptureMethod::Manual]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// Its amount is reserved; the processor's answer is not in yet.
    Pending,
    Succeeded,
    /// Refused: its amount went back to the payment.
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<RefundState> {
        [
            RefundState::Pending,
            RefundState::Succeeded,
            RefundState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentState::parse("paid"), None);
        for m in [CaptureMethod::Automatic, CaptureMethod::Manual] {
            assert_eq!(CaptureMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(CaptureMethod::parse(""), None);
        for r in [
            RefundState::Pending,
            RefundState::Succeeded,
            RefundState::Failed,
        ] {
            assert_eq!(RefundState::parse(r.as_str()), Some(r));
        }
        assert_eq!(RefundState::parse("refunded"), None);
    }

    fn stored(s: &PaymentStatus) -> Option<PaymentStatus> {
        let owned = |v: Option<&str>| v.map(str::to_string);
        PaymentStatus::from_stored(
            s.state(),
            owned(s.attempt_key()),
            owned(s.charge_ref()),
            owned(s.decline_code()),
        )
    }

    #[test]
    fn every_status_reads_back_from_its_columns_and_misfits_are_refused() {
        let granted = Authorisation {
            attempt_key: "pay_1:authorize".into(),
            charge_ref: "ch_1".into(),
        };
        let all = [
            PaymentStatus::RequiresPalm,
            PaymentStatus::RequiresConfirmation,
            PaymentStatus::Processing {
                attempt_key: "pay_1:authorize".into(),
            },
            PaymentStatus::RequiresCapture(granted.clone()),
            PaymentStatus::Succeeded(granted.clone()),
            PaymentStatus::Failed {
                attempt_key: "pay_1:authorize".into(),
                decline_code: "do_not_honor".into(),
            },
            PaymentStatus::Canceled(None),
            PaymentStatus::Canceled(Some(granted.clone())),
        ];
        for s in &all {
            assert_eq!(stored(s).as_ref(), Some(s), "{s:?}");
        }
        let some = |v: &str| Some(v.to_string());
        let misfits = [
            // Authorised states without their charge reference or key.
            (PaymentState::RequiresCapture, some("k"), None, None),
            (PaymentState::Succeeded, None, some("ch"), None),
            (PaymentState::Canceled, some("k"), None, None),
            // Sent without a key; a decline without its code; a code on a success.
            (PaymentState::Processing, None, None, None),
            (PaymentState::Failed, some("k"), None, None),
            (PaymentState::Succeeded, some("k"), some("ch"), some("x")),
            // Values a payment not yet sent cannot have.
            (PaymentState::RequiresPalm, some("k"), None, None),
            (PaymentState::RequiresConfirmation, None, some("ch"), None),
        ];
        for (state, key, charge, code) in misfits {
            let what = format!("{state} {key:?} {charge:?} {code:?}");
            assert_eq!(
                PaymentStatus::from_stored(state, key, charge, code),
                None,
                "{what}"
            );
        }
        assert_eq!(all[4].charge_ref(), Some("ch_1"));
        assert_eq!(all[5].decline_code(), Some("do_not_honor"));
        assert_eq!(all[2].attempt_key(), Some("pay_1:authorize"));
        assert_eq!(all[6].attempt_key(), None);
    }
}
