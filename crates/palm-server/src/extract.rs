//! What handlers and middlewares read from a request: a JSON body that fails with our error
//! shape, the kinds of credentials (merchant secret key, till and gate device secrets, person
//! session, a signed device), the credential's scope, the body read once, and list paging.

use crate::error::{AppError, describe_json_error};
use crate::state::AppState;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use palm_service::ErrorKind;
use palm_service::device_store::DeviceRow;
use palm_service::domain::secret_hash;
use palm_service::store::MerchantId;
use palm_service::store::{MerchantRow, Page, PersonRow, TillRow};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// A JSON body: must say `application/json`, fit the size limit, and parse strictly.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
        if !is_json {
            return Err(AppError::at_edge(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::body_too_large()
            } else {
                AppError::new(
                    ErrorKind::Invalid,
                    "body_unreadable",
                    "could not read the request body",
                )
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let (message, param) = describe_json_error(&e);
        let mut err = palm_service::ServiceError::invalid("invalid_json", message);
        err.param = param;
        AppError::from(err)
    })
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn unauthenticated(what: &str) -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "unauthenticated",
        format!("send {what} as Authorization: Bearer <key>"),
    )
}

/// A device or merchant secret: the bearer token with `prefix`, looked up by its hash.
/// `what` says what to send when it is missing; `unknown` names it when it matches nothing.
async fn credential<T>(
    parts: &Parts,
    prefix: &str,
    what: &str,
    (code, unknown): (&'static str, &str),
    lookup: impl AsyncFnOnce(String) -> Result<Option<T>, palm_service::ServiceError>,
) -> Result<T, AppError> {
    let Some(key) = bearer(parts).filter(|k| k.starts_with(prefix)) else {
        return Err(unauthenticated(what));
    };
    lookup(secret_hash(key))
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| {
            AppError::new(
                ErrorKind::Unauthenticated,
                code,
                format!("unknown {unknown}"),
            )
        })
}

/// The device that signed this request, if one did (checked by `devices::device_auth`).
pub(crate) fn signed_device(parts: &Parts) -> Option<DeviceRow> {
    parts.extensions.get::<DeviceAuth>().map(|d| d.0.clone())
}

fn wrong_device(what: &str) -> AppError {
    AppError::new(
        ErrorKind::Forbidden,
        "wrong_device",
        format!("this device is not paired with a {what}"),
    )
}

/// A merchant's secret API key (`sk_...`).
pub struct Merchant(pub MerchantRow);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let service = &state.service;
        credential(
            parts,
            "sk_",
            "a merchant secret key (sk_...)",
            ("invalid_api_key", "API key"),
            async |hash| service.merchant_by_key(&hash).await,
        )
        .await
        .map(Merchant)
    }
}

/// A till's credential (`tk_...`): what the scanner and the till screen use.
pub struct Till(pub TillRow);

impl FromRequestParts<AppState> for Till {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let service = &state.service;
        if let Some(d) = signed_device(parts) {
            let till = d.till_id.as_deref().ok_or_else(|| wrong_device("till"))?;
            return service
                .till(&d.merchant_id, till)
                .await?
                .map(Till)
                .ok_or_else(|| wrong_device("till"));
        }
        credential(
            parts,
            "tk_",
            "a till credential (tk_...)",
            ("invalid_till_credential", "till credential"),
            async |hash| service.till_by_secret(&hash).await,
        )
        .await
        .map(Till)
    }
}

/// Either credential: for what both the POS back office and a till may do.
pub enum MerchantOrTill {
    Merchant(MerchantRow),
    Till(TillRow),
}

impl MerchantOrTill {
    pub fn merchant_id(&self) -> &MerchantId {
        match self {
            MerchantOrTill::Merchant(m) => &m.id,
            MerchantOrTill::Till(t) => &t.merchant_id,
        }
    }

    /// The till, when a till (or its paired device) sent the request.
    pub fn till(&self) -> Option<&TillRow> {
        match self {
            MerchantOrTill::Till(t) => Some(t),
            MerchantOrTill::Merchant(_) => None,
        }
    }
}

impl FromRequestParts<AppState> for MerchantOrTill {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if signed_device(parts).is_some() || bearer(parts).is_some_and(|k| k.starts_with("tk_")) {
            Ok(MerchantOrTill::Till(
                Till::from_request_parts(parts, state).await?.0,
            ))
        } else if bearer(parts).is_some_and(|k| k.starts_with("sk_")) {
            Ok(MerchantOrTill::Merchant(
                Merchant::from_request_parts(parts, state).await?.0,
            ))
        } else {
            Err(unauthenticated(
                "a merchant key (sk_...) or till credential (tk_...)",
            ))
        }
    }
}

/// A gate device's credential (`gk_...`).
pub struct Gate(pub palm_service::store::GateRow);

impl FromRequestParts<AppState> for Gate {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let service = &state.service;
        if let Some(d) = signed_device(parts) {
            let gate = d.gate_id.as_deref().ok_or_else(|| wrong_device("gate"))?;
            return service
                .gate(&d.merchant_id, gate)
                .await?
                .map(Gate)
                .ok_or_else(|| wrong_device("gate"));
        }
        credential(
            parts,
            "gk_",
            "a gate credential (gk_...)",
            ("invalid_gate_credential", "gate credential"),
            async |hash| service.gate_by_secret(&hash).await,
        )
        .await
        .map(Gate)
    }
}

/// A person's session (`ps_...`), opened at a till with palm and phone.
pub struct Person(pub PersonRow);

impl FromRequestParts<AppState> for Person {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(token) = bearer(parts).filter(|k| k.starts_with("ps_")) else {
            return Err(unauthenticated("a person session token (ps_...)"));
        };
        Ok(Person(state.service.session_person(token).await?))
    }
}

/// The device that signed this request (set by [`device_auth`]).
#[derive(Clone)]
pub struct DeviceAuth(pub DeviceRow);

/// Names the credential a request came with, never the secret itself: a signed device, or a
/// hash of the bearer token. Idempotency keys and palm-attempt counts are kept per credential.
pub fn credential_scope(req: &Request) -> String {
    match req.extensions().get::<DeviceAuth>() {
        Some(d) => format!("device:{}", d.0.id),
        None => secret_hash(
            req.headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    }
}

/// A body a middleware has already read: later middlewares take it from here instead of
/// collecting the body again (it is read from the connection once per request).
#[derive(Clone)]
struct ReadBody(axum::body::Bytes);

/// A middleware's read of the whole body (to hash or verify it), within the body limit, once per
/// request: the bytes are kept in the request's extensions for the next middleware, and handed
/// on as the body for the handler.
pub(crate) async fn read_body(
    parts: &mut axum::http::request::Parts,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, AppError> {
    if let Some(ReadBody(bytes)) = parts.extensions.get::<ReadBody>() {
        return Ok(bytes.clone());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::body_too_large())?;
    parts.extensions.insert(ReadBody(bytes.clone()));
    Ok(bytes)
}

/// Paging of list endpoints: `?limit=10&starting_after=<id>`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 100; default 10.
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
}

pub(crate) fn page(query: Option<String>) -> Result<Page, AppError> {
    let params: ListParams =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|_| {
            AppError::new(
                ErrorKind::Invalid,
                "invalid_query",
                "query parameters are limit (1 to 100) and starting_after (an id)",
            )
        })?;
    let limit = params.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(AppError::from(
            palm_service::ServiceError::invalid("invalid_limit", "limit must be from 1 to 100")
                .with_param("limit"),
        ));
    }
    Ok(Page {
        limit,
        starting_after: params.starting_after,
    })
}

/// A body that may be left out entirely (then every field takes its default).
pub(crate) fn optional_body<T: Default + serde::de::DeserializeOwned>(
    body: &axum::body::Bytes,
) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}
