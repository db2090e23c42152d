//! A payment's state and capture method as the use cases reason about them: enums, so a state
//! the code does not know cannot be written, and the store refuses to read one back. Their
//! stored names are the API's (`requires_palm`, `manual`, ...); `views.rs` maps them to the wire.

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
    fn names_read_back_and_match_the_api() {
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
            assert_eq!(
                palm_api::PaymentStatus::parse(s.as_str()).map(|a| a.as_str()),
                Some(s.as_str()),
                "the API knows {s}"
            );
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
}
