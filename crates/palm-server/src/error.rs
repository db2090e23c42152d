//! The one error type at the HTTP edge: every failure becomes `{type, code, message, param}` with
//! the right status. Request-body errors are rewritten so that no submitted value is echoed
//! (serde's messages quote the offending value, which could be a card number).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palm_api::ApiError;
use palm_service::{ErrorKind, ServiceError};

#[derive(Debug)]
pub struct AppError {
    error: ServiceError,
    /// A status only the HTTP layer knows (413, 415, 405): set where the edge makes the error;
    /// every other status follows from the service's error kind.
    edge_status: Option<StatusCode>,
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> AppError {
        AppError {
            error,
            edge_status: None,
        }
    }
}

impl AppError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> AppError {
        AppError::from(ServiceError::new(kind, code, message))
    }

    /// An error about the HTTP request itself (its size, media type or method), with the status
    /// HTTP has for it.
    pub fn at_edge(status: StatusCode, code: &'static str, message: &str) -> AppError {
        AppError {
            error: ServiceError::invalid(code, message),
            edge_status: Some(status),
        }
    }

    /// The request's body is over the limit (413).
    pub fn body_too_large() -> AppError {
        AppError::at_edge(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body is larger than the limit",
        )
    }

    pub fn status(&self) -> StatusCode {
        if let Some(status) = self.edge_status {
            return status;
        }
        match self.error.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict | ErrorKind::Idempotency => StatusCode::CONFLICT,
            ErrorKind::Palm | ErrorKind::NotRecognised => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Card => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Busy | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ApiError {
        let kind = match self.error.kind {
            ErrorKind::Invalid => "invalid_request_error",
            ErrorKind::Unauthenticated | ErrorKind::Forbidden => "authentication_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::Conflict => "conflict_error",
            ErrorKind::Idempotency => "idempotency_error",
            ErrorKind::Palm | ErrorKind::NotRecognised => "palm_error",
            ErrorKind::Card => "card_error",
            ErrorKind::TooManyAttempts => "rate_limit_error",
            ErrorKind::Busy | ErrorKind::Unavailable | ErrorKind::Internal => "api_error",
        };
        ApiError {
            kind: kind.into(),
            code: self.error.code.into(),
            message: self.error.message.clone(),
            param: self.error.param.clone(),
            decline_code: self.error.decline_code.clone(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.error.code, message = %self.error.message, "request failed");
        }
        let mut response = (status, Json(self.body())).into_response();
        if self.error.kind == ErrorKind::NotRecognised {
            response.extensions_mut().insert(PalmMissed);
        }
        if self.error.kind == ErrorKind::Busy {
            // The engine's queue is full now, not for long.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// A serde error as a message that names the field but never the value sent.
pub fn describe_json_error(
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> (String, Option<String>) {
    let path = e.path().to_string();
    let param = (path != "." && !path.is_empty()).then(|| path.clone());
    let inner = e.inner();
    let text = inner.to_string();
    let message = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!(
                "body is not valid JSON (line {}, column {})",
                inner.line(),
                inner.column()
            )
        }
        serde_json::error::Category::Data => {
            if let Some(field) = text.strip_prefix("unknown field ") {
                let name = field.split(',').next().unwrap_or("");
                format!("unknown field {name}")
            } else if let Some(field) = text.strip_prefix("missing field ") {
                let name = field.split(" at line").next().unwrap_or("");
                format!("missing field {name}")
            } else {
                // "invalid type: string \"4242...\", expected u8": keep only what was expected.
                let expected = text
                    .split(", expected ")
                    .nth(1)
                    .map(|x| x.split(" at line").next().unwrap_or(x).to_string())
                    .unwrap_or_else(|| "another value".into());
                format!("invalid value: expected {expected}")
            }
        }
        serde_json::error::Category::Io => "could not read the body".to_string(),
    };
    let message = match &param {
        Some(p) => format!("{p}: {message}"),
        None => message,
    };
    (message, param)
}

/// Marks an answer whose palm matched no one (the `palm_not_recognised` error, or a gate's
/// decision for that reason), so the attempt is counted without reading the answer's body.
#[derive(Clone, Copy)]
pub struct PalmMissed;

/// The answer to a locked-out client.
pub fn too_many(wait: u64, why: &str) -> Response {
    let mut refused = AppError::new(
        palm_service::ErrorKind::TooManyAttempts,
        "too_many_attempts",
        why,
    )
    .into_response();
    refused.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(wait),
    );
    refused
}
