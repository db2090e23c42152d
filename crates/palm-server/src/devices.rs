//! Paired devices over HTTP: pairing codes, registration, listing and revocation, the capture
//! keys, and the middleware that authenticates signed device requests.
//!
//! A device request carries `Palmline-Device` (its id), `Palmline-Timestamp` (Unix seconds),
//! `Palmline-Nonce` (16 to 64 characters, never reused) and `Palmline-Signature` (base64 Ed25519
//! over `palm_vault::device::request_message`). The middleware checks it before any handler runs
//! and leaves the device in the request's extensions, where the till and gate extractors find it.

use crate::error::AppError;
use crate::extract::{ApiJson, DeviceAuth, Merchant, page, read_body};
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palm_api::*;
use palm_service::device_store::DeviceRow;
use palm_service::{ErrorKind, SignedRequest};

type ApiResult<T> = Result<T, AppError>;

pub const DEVICE_HEADER: &str = "palmline-device";
pub const TIMESTAMP_HEADER: &str = "palmline-timestamp";
pub const NONCE_HEADER: &str = "palmline-nonce";
pub const SIGNATURE_HEADER: &str = "palmline-signature";

/// The four signature headers: `None` when the request names no device, `Some(None)` when it
/// names one but is not fully signed.
#[allow(clippy::type_complexity)]
fn signature_headers(req: &Request) -> Option<Option<(String, String, String, String)>> {
    let read = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    req.headers().get(DEVICE_HEADER)?;
    Some(
        match (
            read(DEVICE_HEADER),
            read(TIMESTAMP_HEADER),
            read(NONCE_HEADER),
            read(SIGNATURE_HEADER),
        ) {
            (Some(d), Some(t), Some(n), Some(s)) => Some((d, t, n, s)),
            _ => None,
        },
    )
}

/// Authenticates requests that name a device; others pass through untouched, except palm
/// images sent in the clear when the server takes sealed captures only.
pub async fn device_auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (device, timestamp, nonce, signature) = match signature_headers(&req) {
        None if state.plain_captures || req.method() != axum::http::Method::POST => {
            return next.run(req).await;
        }
        None => {
            let (mut parts, body) = req.into_parts();
            let bytes = match read_body(&mut parts, body, state.body_limit).await {
                Ok(b) => b,
                Err(e) => return e.into_response(),
            };
            if let Some(refused) = refuse_plain_image(
                &bytes,
                "this server takes sealed captures only (plain_captures is off): use a paired scanner",
            ) {
                return refused;
            }
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        Some(Some(headers)) => headers,
        Some(None) => {
            return AppError::new(
                ErrorKind::Unauthenticated,
                "unsigned_request",
                "a device request needs Palmline-Timestamp, Palmline-Nonce and Palmline-Signature",
            )
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    let bytes = match read_body(&mut parts, body, state.body_limit).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str())
        .to_string();
    let signed = SignedRequest {
        device: &device,
        method: parts.method.as_str(),
        path: &path,
        body: &bytes,
        timestamp: &timestamp,
        nonce: &nonce,
        signature: &signature,
    };
    match state.service.authenticate_device(&signed).await {
        Ok(row) => {
            if let Some(refused) = refuse_plain_image(
                &bytes,
                "a paired device sends its captures sealed (sealed_image), never as a plain image",
            ) {
                return refused;
            }
            parts.extensions.insert(DeviceAuth(row));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Any signed device (`GET /v1/device`).
pub struct SignedDevice(pub DeviceRow);

impl FromRequestParts<AppState> for SignedDevice {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        crate::extract::signed_device(parts)
            .map(SignedDevice)
            .ok_or_else(|| {
                AppError::new(
                    ErrorKind::Unauthenticated,
                    "unsigned_request",
                    "sign this request as a paired device (Palmline-Device, -Timestamp, -Nonce, -Signature)",
                )
            })
    }
}

/// The `sealed_capture_required` answer, when a JSON body holds a palm picture in the clear
/// (`image`, a hover's `frames` or `second_hand_frames`, or a sign-up's captures) where only sealed captures are taken:
/// from paired devices always, from tills when `plain_captures` is off.
fn refuse_plain_image(body: &[u8], why: &str) -> Option<Response> {
    carries_plain_image(body).then(|| {
        AppError::new(
            palm_service::ErrorKind::Invalid,
            "sealed_capture_required",
            why,
        )
        .into_response()
    })
}

/// Whether a JSON body holds a palm picture in the clear.
fn carries_plain_image(body: &[u8]) -> bool {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let plain = |v: &serde_json::Value| {
        v.get("image")
            .and_then(|i| i.as_str())
            .is_some_and(|i| !i.is_empty())
    };
    let frame = |v: &serde_json::Value| v.as_str().is_some_and(|f| !f.is_empty());
    plain(&json)
        || json
            .get("captures")
            .and_then(|c| c.as_array())
            .is_some_and(|c| c.iter().any(plain))
        || ["frames", "second_hand_frames"].iter().any(|field| {
            json.get(field)
                .and_then(|f| f.as_array())
                .is_some_and(|f| f.iter().any(frame))
        })
}

#[utoipa::path(post, path = "/v1/devices/pairing_codes", request_body = CreatePairingCode,
    responses((status = 201, body = PairingCode)))]
pub async fn create_pairing_code(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    ApiJson(req): ApiJson<CreatePairingCode>,
) -> ApiResult<(StatusCode, Json<PairingCode>)> {
    let code = s
        .service
        .create_pairing_code(&m.id, wire::pairing_target(req)?)
        .await?;
    Ok((StatusCode::CREATED, Json(wire::pairing_code(code))))
}

#[utoipa::path(post, path = "/v1/devices", request_body = RegisterDevice,
    responses((status = 201, body = DeviceRegistered)))]
pub async fn register_device(
    State(s): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    ApiJson(req): ApiJson<RegisterDevice>,
) -> Result<(StatusCode, Json<DeviceRegistered>), Response> {
    let client = peer.map(|p| (p.0).0.ip());
    if let Some(wait) = client.and_then(|c| s.pairing_lockout.locked(&c)) {
        return Err(crate::error::too_many(
            wait,
            "too many wrong pairing codes from this address; wait before trying again",
        ));
    }
    // A malformed request is refused without counting as a wrong pairing code.
    let device = wire::new_device(req).map_err(|e| AppError::from(e).into_response())?;
    match s.service.register_device(device).await {
        Ok(registered) => {
            if let Some(c) = client {
                s.pairing_lockout.succeeded(&c);
            }
            Ok((
                StatusCode::CREATED,
                Json(wire::device_registered(registered)),
            ))
        }
        Err(e) => {
            if let Some(c) = client.filter(|_| e.code == "invalid_pairing_code") {
                s.pairing_lockout.failed(c);
            }
            Err(AppError::from(e).into_response())
        }
    }
}

#[utoipa::path(get, path = "/v1/devices", responses((status = 200, body = List<Device>)))]
pub async fn list_devices(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<Device>>> {
    let devices = s.service.list_devices(&m.id, &page(q)?).await?;
    Ok(Json(wire::list(devices, wire::device)))
}

#[utoipa::path(post, path = "/v1/devices/{id}/revoke",
    responses((status = 200, body = Device)))]
pub async fn revoke_device(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<Device>> {
    Ok(Json(wire::device(
        s.service.revoke_device(&m.id, &id).await?,
    )))
}

/// The signing device itself: what it is paired with.
#[utoipa::path(get, path = "/v1/device", responses((status = 200, body = Device)))]
pub async fn this_device(SignedDevice(d): SignedDevice) -> Json<Device> {
    Json(wire::device(d))
}

#[utoipa::path(get, path = "/v1/capture_keys", responses((status = 200, body = List<CaptureKey>)))]
pub async fn capture_keys(State(s): State<AppState>) -> Json<List<CaptureKey>> {
    Json(wire::all(s.service.offered_keys(), wire::capture_key))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowListQuery {
    pub event: String,
}

/// A gate device fetches its event's allow-list, sealed to its own key.
#[utoipa::path(get, path = "/v1/gate/allow_list", params(("event" = String, Query)),
    responses((status = 200, body = SealedAllowList)))]
pub async fn allow_list(
    State(s): State<AppState>,
    SignedDevice(d): SignedDevice,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<SealedAllowList>> {
    let query: AllowListQuery =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).map_err(|_| {
            AppError::from(
                palm_service::ServiceError::invalid(
                    "invalid_query",
                    "the query is ?event=<event id>",
                )
                .with_param("event"),
            )
        })?;
    Ok(Json(wire::sealed_allow_list(
        s.service.allow_list(&d, &query.event).await?,
    )))
}

#[utoipa::path(get, path = "/v1/gate/allow_lists/{id}",
    responses((status = 200, body = AllowListStatus)))]
pub async fn allow_list_status(
    State(s): State<AppState>,
    SignedDevice(d): SignedDevice,
    Path(id): Path<String>,
) -> ApiResult<Json<AllowListStatus>> {
    Ok(Json(wire::allow_list_status(
        s.service.allow_list_status(&d, &id).await?,
    )))
}

#[utoipa::path(post, path = "/v1/events/{id}/allow_lists/revoke",
    responses((status = 200, body = AllowListsRevoked)))]
pub async fn revoke_allow_lists(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<AllowListsRevoked>> {
    Ok(Json(AllowListsRevoked {
        revoked: s.service.revoke_allow_lists(&m.id, &id).await?,
    }))
}

/// A gate uploads the decisions it made offline.
#[utoipa::path(post, path = "/v1/gate/entries", request_body = OfflineEntries,
    responses((status = 200, body = OfflineUpload)))]
pub async fn upload_entries(
    State(s): State<AppState>,
    crate::extract::Gate(g): crate::extract::Gate,
    ApiJson(req): ApiJson<OfflineEntries>,
) -> ApiResult<Json<OfflineUpload>> {
    let entries: Vec<_> = req
        .entries
        .into_iter()
        .map(wire::offline_decision)
        .collect();
    Ok(Json(wire::offline_upload(
        s.service.upload_offline_entries(&g, &entries).await?,
    )))
}
