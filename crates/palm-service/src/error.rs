//! The service's one error type: what happened, in the use cases' terms (the HTTP edge alone
//! turns a kind into a status), a stable code, and a message that never carries a secret (no
//! card number, template, key or phone number).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid input.
    Invalid,
    /// Missing or wrong credentials.
    Unauthenticated,
    /// Credentials valid but not for this object.
    Forbidden,
    NotFound,
    /// The object is not in a state that allows the request, or it would duplicate one.
    Conflict,
    /// The same idempotency key was used with another request.
    Idempotency,
    /// The palm capture could not be used (unreadable, too far, a fist ...).
    Palm,
    /// The palm was read but matches no one enrolled (or not the person named). It counts
    /// towards the attempt limit of the credential that sent it.
    NotRecognised,
    /// The card was refused, by the service or the processor.
    Card,
    /// Too many failed attempts from this client: locked out for a while.
    TooManyAttempts,
    /// The palm engine is saturated: the same request will likely pass in a moment.
    Busy,
    /// A dependency (processor, database) is not answering; retrying later may work.
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            kind,
            code,
            message: message.into(),
            param: None,
            decline_code: None,
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Invalid, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Conflict, code, message)
    }

    pub fn palm(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Palm, code, message)
    }

    /// A palm that matches no one: one answer for "unknown palm" and "known palm, wrong person",
    /// so the reply never confirms who a palm is.
    pub fn not_recognised(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::NotRecognised, "palm_not_recognised", message)
    }

    /// The id asked for is not echoed: a caller could have put anything there, a card number
    /// included.
    pub fn not_found(what: &str) -> ServiceError {
        ServiceError::new(
            ErrorKind::NotFound,
            "resource_missing",
            format!("no such {what}"),
        )
    }

    pub fn internal(context: &str) -> ServiceError {
        ServiceError::new(ErrorKind::Internal, "internal_error", context.to_string())
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ServiceError {
        self.param = Some(param.into());
        self
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// A storage failure. The backend's own message is kept for the operator's log only after it has
/// been stripped of values (see the store crate); callers see a generic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken: the name of the rule (for example `people_phone`).
    #[error("unique constraint {0} violated")]
    Duplicate(String),
    #[error("database: {0}")]
    Backend(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e {
            // An expected answer (a retried insert, a taken phone number): the caller decides
            // what it means, so it is not logged as a failure here.
            StoreError::Duplicate(rule) => {
                tracing::debug!(rule, "duplicate refused by the store");
                ServiceError::conflict("duplicate", "the request conflicts with an existing record")
            }
            StoreError::Backend(e) => {
                tracing::error!(error = %e, "store failure");
                ServiceError::new(
                    ErrorKind::Unavailable,
                    "database_unavailable",
                    "the database did not complete the request; retry later",
                )
            }
        }
    }
}

impl From<palm_vault::VaultError> for ServiceError {
    fn from(e: palm_vault::VaultError) -> ServiceError {
        tracing::error!(error = %e, "vault failure");
        ServiceError::internal("a stored secret could not be read")
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
