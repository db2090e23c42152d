//! The router: routes, body limit, idempotency, timing and tracing layers, JSON fallbacks.

use crate::devices;
use crate::error::AppError;
use crate::extract::{credential_scope, read_body};
use crate::routes;
use crate::state::AppState;
use crate::trips;
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use palm_service::ErrorKind;
use palm_service::idempotency::Keyed;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The whole HTTP application; tests drive it in-process or over a socket.
pub fn router(state: AppState) -> axum::Router {
    let api = axum::Router::new()
        .route("/", get(crate::kiosk::home))
        .route("/favicon.ico", get(crate::kiosk::favicon))
        .route("/kiosk/{name}", get(crate::kiosk::page))
        .route("/healthz", get(routes::healthz))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route("/v1/consent", get(routes::consent))
        .route("/v1/signups", post(routes::signup))
        .route(
            "/v1/payments",
            post(routes::create_payment).get(routes::list_payments),
        )
        .route("/v1/payments/{id}", get(routes::get_payment))
        .route("/v1/payments/{id}/palm", post(routes::submit_palm))
        .route("/v1/payments/{id}/confirm", post(routes::confirm_payment))
        .route("/v1/payments/{id}/capture", post(routes::capture_payment))
        .route("/v1/payments/{id}/cancel", post(routes::cancel_payment))
        .route(
            "/v1/payments/{id}/refunds",
            post(routes::create_refund).get(routes::list_refunds),
        )
        .route("/v1/payments/{id}/events", get(routes::payment_events))
        .route("/v1/tills", get(routes::list_tills))
        .route("/v1/till", get(routes::this_till))
        .route(
            "/v1/webhook_endpoints",
            post(routes::create_webhook_endpoint).get(routes::list_webhook_endpoints),
        )
        .route(
            "/v1/webhook_deliveries",
            get(routes::list_webhook_deliveries),
        )
        .route(
            "/v1/webhook_deliveries/{id}/replay",
            post(routes::replay_webhook_delivery),
        )
        .route("/v1/people/sessions", post(routes::open_person_session))
        .route("/v1/me", get(routes::me))
        .route("/v1/me/phone", post(routes::change_phone))
        .route("/v1/me/cards", post(routes::add_card))
        .route("/v1/me/cards/{id}", delete(routes::remove_card))
        .route("/v1/me/cards/{id}/default", post(routes::set_default_card))
        .route("/v1/me/audit", get(routes::audit_export))
        .route("/v1/people/deletions", post(routes::request_deletion))
        .route(
            "/v1/people/deletions/{id}/confirm",
            post(routes::confirm_deletion),
        )
        .route("/v1/retention_policy", get(routes::retention_policy))
        .route(
            "/v1/loyalty/programs",
            post(routes::create_program).get(routes::list_programs),
        )
        .route(
            "/v1/loyalty/programs/{id}/rewards",
            post(routes::create_reward),
        )
        .route(
            "/v1/loyalty/programs/{id}/members",
            post(routes::add_member).get(routes::list_members),
        )
        .route("/v1/loyalty/present", post(routes::present_loyalty))
        .route("/v1/venues", post(routes::create_venue))
        .route("/v1/venues/{id}/events", post(routes::create_event))
        .route("/v1/events/{id}/passes", post(routes::add_pass))
        .route("/v1/age_verifications", post(routes::verify_age))
        .route("/v1/gate/scans", post(routes::gate_scan))
        .route("/v1/entries", get(routes::list_entries))
        .route(
            "/v1/shopping_trips",
            post(trips::open_trip).get(trips::list_trips),
        )
        .route("/v1/shopping_trips/{id}", get(trips::get_trip))
        .route("/v1/shopping_trips/{id}/events", post(trips::item_event))
        .route("/v1/shopping_trips/{id}/exit", post(trips::exit_trip))
        .route("/v1/shopping_trips/{id}/receipt", get(trips::receipt))
        .route(
            "/v1/shopping_trips/{id}/adjustments",
            post(trips::request_adjustment),
        )
        .route(
            "/v1/shopping_trips/{id}/adjustments/{adjustment}/accept",
            post(trips::accept_adjustment),
        )
        .route(
            "/v1/shopping_trips/{id}/adjustments/{adjustment}/reject",
            post(trips::reject_adjustment),
        )
        .route("/v1/receipts/{token}", get(trips::receipt_by_token))
        .route(
            "/v1/receipts/{token}/adjustments",
            post(trips::dispute_by_token),
        )
        .route(
            "/v1/devices/pairing_codes",
            post(devices::create_pairing_code),
        )
        .route(
            "/v1/devices",
            post(devices::register_device).get(devices::list_devices),
        )
        .route("/v1/devices/{id}/revoke", post(devices::revoke_device))
        .route("/v1/device", get(devices::this_device))
        .route("/v1/capture_keys", get(devices::capture_keys))
        .route("/v1/accuracy_report", get(crate::accuracy::report))
        .route(
            "/v1/accuracy_report/det.svg",
            get(crate::accuracy::det_curve),
        )
        .route("/v1/gate/allow_list", get(devices::allow_list))
        .route("/v1/gate/allow_lists/{id}", get(devices::allow_list_status))
        .route("/v1/gate/entries", post(devices::upload_entries))
        .route(
            "/v1/events/{id}/allow_lists/revoke",
            post(devices::revoke_allow_lists),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    // Layers run outside in: a device's signature is checked before the idempotency record.
    api.layer(middleware::from_fn_with_state(state.clone(), idempotency))
        // Inside the device check, which names the device the attempts are counted for.
        .layer(middleware::from_fn_with_state(state.clone(), palm_attempts))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            devices::device_auth,
        ))
        .layer(middleware::from_fn(server_timing))
        .layer(DefaultBodyLimit::max(state.body_limit))
        // A request that takes longer (a trickled body, say) is answered 408 and dropped.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                // The route's template, never the path itself: a path can carry anything a
                // caller typed into it.
                |req: &axum::http::Request<Body>| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", |m| m.as_str());
                    tracing::info_span!("request", method = %req.method(), route)
                },
            ),
        )
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "unknown_route",
        "no such endpoint; see /openapi.json",
    )
}

async fn method_not_allowed() -> Response {
    AppError::at_edge(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
    .into_response()
}

/// `Server-Timing: app;dur=<ms>`: how long the server spent, for clients measuring latency
/// without the network (`palmline bench pay`).
async fn server_timing(req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let mut response = next.run(req).await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

/// `Idempotency-Key` on POST: the first response for a key is stored and replayed for the same
/// request; the same key with another request is refused. Keys are scoped to the credential
/// that sent them. Server errors are not stored, so a retry runs again. A key whose request
/// ended without an answer (the server crashed, or the request was cut off by its time limit)
/// is taken over by the next retry, which runs again with
/// [`palm_service::store::KeyedRequest::resumed`] set: the use
/// cases then answer with what the first run did (the payment or refund it created, the payment
/// as it moved it), so a client always learns the outcome.
async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return next.run(req).await;
    };
    // The service judges the key (1 to 255 visible ASCII characters); bytes that are not text
    // reach it as replacement characters, which it refuses like any other invisible character.
    let key = String::from_utf8_lossy(key.as_bytes()).into_owned();
    let scope = credential_scope(&req);
    let (mut parts, body) = req.into_parts();
    let bytes = match read_body(&mut parts, body, state.body_limit).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let request = (parts.method.as_str(), parts.uri.path(), &bytes[..]);
    let keyed = match state
        .service
        .begin_keyed(&scope, &key, request, state.request_timeout)
        .await
    {
        Ok(Keyed::Run(keyed)) => keyed,
        Ok(Keyed::Replay { status, body }) => {
            let mut r = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
        Err(e) => return AppError::from(e).into_response(),
    };
    parts.extensions.insert(keyed.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let (rparts, rbody) = response.into_parts();
    let body = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    state
        .service
        .finish_keyed(&keyed, status.as_u16(), &body)
        .await;
    Response::from_parts(rparts, Body::from(body))
}

/// Routes where a till or gate submits a palm to be identified.
fn takes_palm(path: &str) -> bool {
    path.ends_with("/palm")
        || matches!(
            path,
            "/v1/loyalty/present"
                | "/v1/gate/scans"
                | "/v1/shopping_trips"
                | "/v1/people/sessions"
                | "/v1/people/deletions"
        )
}

/// Counts palms a credential (a till's or gate's secret, or a paired device) submits that match
/// no one, in a row: after `limits.palm_failures` within 10 minutes it is refused (429) until
/// the window ends, so nobody can probe the gallery with a stream of pictures. A palm that is
/// read resets the count.
pub async fn palm_attempts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST || !takes_palm(req.uri().path()) {
        return next.run(req).await;
    }
    let credential = credential_scope(&req);
    if let Some(wait) = state.palm_lockout.locked(&credential) {
        return crate::error::too_many(
            wait,
            "too many palms in a row matched no one at this till or gate; wait before trying again",
        );
    }
    let response = next.run(req).await;
    if response
        .extensions()
        .get::<crate::error::PalmMissed>()
        .is_some()
    {
        state.palm_lockout.failed(credential);
    } else if response.status().is_success() {
        state.palm_lockout.succeeded(&credential);
    }
    response
}
