//! The walk-out shopping endpoints: a gate opens a trip with a palm; the store's own system
//! (with the merchant's key) sends item events, the exit, and reads trips and receipts.

use crate::error::{AppError, PalmMissed};
use crate::extract::{ApiJson, Gate, Merchant, optional_body, page};
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palm_api::*;
use palm_service::presented::GateVerdict;

type ApiResult<T> = Result<T, AppError>;

/// A gate's answer, marked for the palm-attempt counter when the palm matched no one.
pub(crate) fn gate_answer(verdict: GateVerdict) -> Response {
    let missed = verdict.reason == "palm_not_recognised";
    let mut response = Json(wire::gate_decision(verdict)).into_response();
    if missed {
        response.extensions_mut().insert(PalmMissed);
    }
    response
}

/// A palm at a walk-out store's entry gate: green with the new trip (a hold is on the person's
/// card), or red with the reason (`palm_not_recognised`, `card_declined`, `no_card`, ...).
#[utoipa::path(post, path = "/v1/shopping_trips", request_body = OpenTrip,
    responses((status = 200, body = GateDecision), (status = 409, body = ApiError)))]
pub async fn open_trip(
    State(s): State<AppState>,
    Gate(g): Gate,
    ApiJson(req): ApiJson<OpenTrip>,
) -> ApiResult<Response> {
    Ok(gate_answer(
        s.service.open_trip(&g, wire::trip_entry(req)?).await?,
    ))
}

/// The merchant's trips, newest first, with their state and totals (a trip's basket lines come
/// with `GET /v1/shopping_trips/{id}`).
#[utoipa::path(get, path = "/v1/shopping_trips", params(("limit" = Option<i64>, Query), ("starting_after" = Option<String>, Query)),
    responses((status = 200, body = List<ShoppingTrip>)))]
pub async fn list_trips(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<ShoppingTrip>>> {
    let trips = s.service.trips(&m.id, &page(q)?).await?;
    Ok(Json(wire::list(trips, wire::trip)))
}

#[utoipa::path(get, path = "/v1/shopping_trips/{id}", responses((status = 200, body = ShoppingTrip)))]
pub async fn get_trip(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<ShoppingTrip>> {
    Ok(Json(wire::trip(s.service.trip(&m.id, &id).await?)))
}

/// An item taken or put back. Resending an event (same `id`, same content) is harmless
/// (`duplicate: true`); events for a trip that has left `open` are refused (`trip_closed`).
#[utoipa::path(post, path = "/v1/shopping_trips/{id}/events", request_body = ItemEvent,
    responses((status = 200, body = ItemEventRecorded), (status = 409, body = ApiError)))]
pub async fn item_event(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ItemEvent>,
) -> ApiResult<Json<ItemEventRecorded>> {
    Ok(Json(wire::item_recorded(
        s.service
            .record_item_event(&m.id, &id, wire::item_report(req)?)
            .await?,
    )))
}

/// The shopper left: the basket is frozen, totalled and charged; the answer is the trip
/// (`completed`, or `requires_action` when the card would not cover it). Exiting again answers
/// the trip as it stands.
#[utoipa::path(post, path = "/v1/shopping_trips/{id}/exit", request_body = ExitTrip,
    responses((status = 200, body = ShoppingTrip), (status = 409, body = ApiError)))]
pub async fn exit_trip(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ShoppingTrip>> {
    let _: ExitTrip = optional_body(&body)?;
    Ok(Json(wire::trip(s.service.exit_trip(&m.id, &id).await?)))
}

#[utoipa::path(get, path = "/v1/shopping_trips/{id}/receipt",
    responses((status = 200, body = Receipt), (status = 409, body = ApiError)))]
pub async fn receipt(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<Receipt>> {
    Ok(Json(wire::receipt(s.service.receipt(&m.id, &id).await?)))
}

/// A line of a completed trip's receipt disputed (the person told the merchant's support, say):
/// `requested`, until the merchant accepts (a partial refund) or rejects it.
#[utoipa::path(post, path = "/v1/shopping_trips/{id}/adjustments", request_body = CreateAdjustment,
    responses((status = 201, body = Adjustment), (status = 409, body = ApiError)))]
pub async fn request_adjustment(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateAdjustment>,
) -> ApiResult<(StatusCode, Json<Adjustment>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::adjustment(
            s.service
                .request_adjustment(&m.id, &id, wire::disputed_line(req))
                .await?,
        )),
    ))
}

/// Accepts an adjustment: its amount (the lines' price and tax) is refunded to the card.
#[utoipa::path(post, path = "/v1/shopping_trips/{id}/adjustments/{adjustment}/accept",
    params(("adjustment" = String, Path, description = "The adjustment's id")),
    responses((status = 200, body = Adjustment), (status = 409, body = ApiError)))]
pub async fn accept_adjustment(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path((id, adjustment)): Path<(String, String)>,
) -> ApiResult<Json<Adjustment>> {
    decide(&s, &m.id, &id, &adjustment, true).await
}

#[utoipa::path(post, path = "/v1/shopping_trips/{id}/adjustments/{adjustment}/reject",
    params(("adjustment" = String, Path, description = "The adjustment's id")),
    responses((status = 200, body = Adjustment), (status = 409, body = ApiError)))]
pub async fn reject_adjustment(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path((id, adjustment)): Path<(String, String)>,
) -> ApiResult<Json<Adjustment>> {
    decide(&s, &m.id, &id, &adjustment, false).await
}

async fn decide(
    s: &AppState,
    merchant: &palm_service::store::MerchantId,
    trip: &str,
    adjustment: &str,
    accept: bool,
) -> ApiResult<Json<Adjustment>> {
    Ok(Json(wire::adjustment(
        s.service
            .decide_adjustment(merchant, trip, adjustment, accept)
            .await?,
    )))
}

/// The person's receipt, opened from their link (`receipt_link` of a completed trip): the token
/// is the credential.
#[utoipa::path(get, path = "/v1/receipts/{token}",
    params(("token" = String, Path, description = "The receipt link's token")),
    responses((status = 200, body = Receipt), (status = 404, body = ApiError)))]
pub async fn receipt_by_token(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Receipt>> {
    Ok(Json(wire::receipt(
        s.service.receipt_by_token(&token).await?,
    )))
}

/// The person disputes a line of their receipt, from their link.
#[utoipa::path(post, path = "/v1/receipts/{token}/adjustments", request_body = CreateAdjustment,
    params(("token" = String, Path, description = "The receipt link's token")),
    responses((status = 201, body = Adjustment), (status = 404, body = ApiError)))]
pub async fn dispute_by_token(
    State(s): State<AppState>,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<CreateAdjustment>,
) -> ApiResult<(StatusCode, Json<Adjustment>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::adjustment(
            s.service
                .dispute_by_token(&token, wire::disputed_line(req))
                .await?,
        )),
    ))
}
