//! The HTTP API: one small handler per endpoint, each parsing its input, calling one use case,
//! and returning the wire type. The OpenAPI document is generated from these functions.

use crate::error::AppError;
use crate::extract::{ApiJson, Gate, Merchant, MerchantOrTill, Person, Till, optional_body, page};
use crate::state::AppState;
use crate::wire;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use palm_api::*;
use palm_service::store::KeyedRequest;
use palm_service::store::{MerchantId, PaymentId};
use palm_service::views::PaymentView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

type ApiResult<T> = Result<T, AppError>;

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    let database = s.service.database_health().await?;
    Ok(Json(Health {
        status: "ok".into(),
        database: database.into(),
        palms: s.service.palms(),
    }))
}

#[utoipa::path(get, path = "/v1/consent", responses((status = 200, body = ConsentText)))]
pub async fn consent(State(s): State<AppState>) -> Json<ConsentText> {
    Json(wire::consent(s.service.consent()))
}

#[utoipa::path(post, path = "/v1/signups", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn signup(
    State(s): State<AppState>,
    auth: MerchantOrTill,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupResponse>)> {
    let actor = match &auth {
        MerchantOrTill::Merchant(m) => m.id.to_string(),
        MerchantOrTill::Till(t) => t.id.clone(),
    };
    let response = s
        .service
        .sign_up(&actor, auth.merchant_id(), wire::sign_up(req)?)
        .await?;
    Ok((StatusCode::CREATED, Json(wire::signed_up(response))))
}

#[utoipa::path(post, path = "/v1/payments", request_body = CreatePayment,
    responses((status = 201, body = Payment), (status = 400, body = ApiError)))]
pub async fn create_payment(
    State(s): State<AppState>,
    auth: MerchantOrTill,
    origin: Option<Extension<KeyedRequest>>,
    ApiJson(req): ApiJson<CreatePayment>,
) -> ApiResult<(StatusCode, Json<Payment>)> {
    let origin = origin.map(|Extension(o)| o);
    let payment = s
        .service
        .create_payment(
            auth.merchant_id(),
            auth.till(),
            wire::new_payment(req)?,
            origin.as_ref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(wire::payment(payment))))
}

/// A request that moves a payment, run again after its first run ended without an answer (a
/// crash, a dropped connection), answers with the payment as the first run left it rather than
/// "payment is already ...".
async fn moved(
    s: &AppState,
    origin: Option<Extension<KeyedRequest>>,
    merchant_id: &MerchantId,
    id: &PaymentId,
    result: palm_service::Result<PaymentView>,
) -> ApiResult<Json<Payment>> {
    match result {
        Err(e)
            if e.code == "payment_unexpected_state"
                && origin.is_some_and(|Extension(o)| o.resumed) =>
        {
            Ok(Json(wire::payment(
                s.service.payment_outcome(merchant_id, id).await?,
            )))
        }
        other => Ok(Json(wire::payment(other?))),
    }
}

#[utoipa::path(get, path = "/v1/payments", params(("limit" = Option<i64>, Query), ("starting_after" = Option<String>, Query)),
    responses((status = 200, body = List<Payment>)))]
pub async fn list_payments(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<Payment>>> {
    let payments = s.service.payments(&m.id, &page(q)?).await?;
    Ok(Json(wire::list(payments, wire::payment)))
}

#[utoipa::path(get, path = "/v1/payments/{id}", responses((status = 200, body = Payment), (status = 404, body = ApiError)))]
pub async fn get_payment(
    State(s): State<AppState>,
    auth: MerchantOrTill,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    let id = PaymentId::new(id);
    Ok(Json(wire::payment(
        s.service.payment(auth.merchant_id(), &id).await?,
    )))
}

#[utoipa::path(post, path = "/v1/payments/{id}/palm", request_body = PalmSubmission,
    responses((status = 200, body = Payment), (status = 422, body = ApiError)))]
pub async fn submit_palm(
    State(s): State<AppState>,
    Till(t): Till,
    Path(id): Path<String>,
    origin: Option<Extension<KeyedRequest>>,
    ApiJson(req): ApiJson<PalmSubmission>,
) -> ApiResult<Json<Payment>> {
    let id = PaymentId::new(id);
    let result = s
        .service
        .submit_palm(&t, &id, wire::palm_payment(req)?)
        .await;
    moved(&s, origin, &t.merchant_id, &id, result).await
}

#[utoipa::path(post, path = "/v1/payments/{id}/confirm", request_body = ConfirmPayment,
    responses((status = 200, body = Payment)))]
pub async fn confirm_payment(
    State(s): State<AppState>,
    Till(t): Till,
    Path(id): Path<String>,
    origin: Option<Extension<KeyedRequest>>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Payment>> {
    let id = PaymentId::new(id);
    let req = wire::confirmation(optional_body(&body)?)?;
    let result = s.service.confirm_payment(&t, &id, req).await;
    moved(&s, origin, &t.merchant_id, &id, result).await
}

#[utoipa::path(post, path = "/v1/payments/{id}/capture", request_body = CapturePayment,
    responses((status = 200, body = Payment)))]
pub async fn capture_payment(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    origin: Option<Extension<KeyedRequest>>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Payment>> {
    let id = PaymentId::new(id);
    let amount = wire::capture(optional_body(&body)?);
    let result = s.service.capture_payment(&m.id, &id, amount).await;
    moved(&s, origin, &m.id, &id, result).await
}

#[utoipa::path(post, path = "/v1/payments/{id}/cancel", responses((status = 200, body = Payment)))]
pub async fn cancel_payment(
    State(s): State<AppState>,
    auth: MerchantOrTill,
    Path(id): Path<String>,
    origin: Option<Extension<KeyedRequest>>,
) -> ApiResult<Json<Payment>> {
    let id = PaymentId::new(id);
    let result = s
        .service
        .cancel_payment(auth.merchant_id(), &id, auth.till())
        .await;
    moved(&s, origin, auth.merchant_id(), &id, result).await
}

#[utoipa::path(post, path = "/v1/payments/{id}/refunds", request_body = CreateRefund,
    responses((status = 201, body = Refund)))]
pub async fn create_refund(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    origin: Option<Extension<KeyedRequest>>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Refund>)> {
    let id = PaymentId::new(id);
    let req = wire::new_refund(optional_body(&body)?)?;
    let origin = origin.map(|Extension(o)| o);
    Ok((
        StatusCode::CREATED,
        Json(wire::refund(
            s.service
                .refund_payment(&m.id, &id, req, origin.as_ref())
                .await?,
        )),
    ))
}

#[utoipa::path(get, path = "/v1/payments/{id}/refunds", responses((status = 200, body = List<Refund>)))]
pub async fn list_refunds(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<List<Refund>>> {
    let id = PaymentId::new(id);
    let refunds = s.service.refunds(&m.id, &id).await?;
    Ok(Json(wire::all(refunds, wire::refund)))
}

#[utoipa::path(get, path = "/v1/payments/{id}/events", responses((status = 200, body = List<Event>)))]
pub async fn payment_events(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<Json<List<Event>>> {
    let id = PaymentId::new(id);
    let data = s
        .service
        .payment_events(&m.id, &id)
        .await?
        .into_iter()
        .map(wire::event)
        .collect::<palm_service::Result<_>>()?;
    Ok(Json(List {
        data,
        has_more: false,
    }))
}

/// A till as the merchant sees it (its credential is shown only when created).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TillInfo {
    pub id: String,
    pub name: String,
    pub store: String,
}

/// The calling till (its credential, or a scanner paired with it): what its receipts name.
#[utoipa::path(get, path = "/v1/till", responses((status = 200, body = TillProfile)))]
pub async fn this_till(State(s): State<AppState>, Till(t): Till) -> ApiResult<Json<TillProfile>> {
    Ok(Json(wire::till_profile(s.service.till_profile(&t).await?)))
}

#[utoipa::path(get, path = "/v1/tills", responses((status = 200, body = List<TillInfo>)))]
pub async fn list_tills(
    State(s): State<AppState>,
    Merchant(m): Merchant,
) -> ApiResult<Json<List<TillInfo>>> {
    let tills = s.service.tills(&m.id).await?;
    Ok(Json(List {
        data: tills
            .into_iter()
            .map(|t| TillInfo {
                id: t.id,
                name: t.name,
                store: t.store_name,
            })
            .collect(),
        has_more: false,
    }))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints", request_body = CreateWebhookEndpoint,
    responses((status = 201, body = WebhookEndpoint)))]
pub async fn create_webhook_endpoint(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    ApiJson(req): ApiJson<CreateWebhookEndpoint>,
) -> ApiResult<(StatusCode, Json<WebhookEndpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::endpoint(
            s.service.create_endpoint(&m.id, &req.url).await?,
        )),
    ))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints", responses((status = 200, body = List<WebhookEndpoint>)))]
pub async fn list_webhook_endpoints(
    State(s): State<AppState>,
    Merchant(m): Merchant,
) -> ApiResult<Json<List<WebhookEndpoint>>> {
    let endpoints = s.service.endpoints(&m.id).await?;
    Ok(Json(wire::all(endpoints, wire::endpoint)))
}

#[utoipa::path(get, path = "/v1/webhook_deliveries", params(("limit" = Option<i64>, Query), ("starting_after" = Option<String>, Query)),
    responses((status = 200, body = List<WebhookDelivery>)))]
pub async fn list_webhook_deliveries(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<WebhookDelivery>>> {
    let deliveries = s.service.deliveries(&m.id, &page(q)?).await?;
    Ok(Json(wire::list(deliveries, wire::delivery)))
}

#[utoipa::path(post, path = "/v1/webhook_deliveries/{id}/replay", responses((status = 202)))]
pub async fn replay_webhook_delivery(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    s.service.replay_delivery(&m.id, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"id": id, "status": "pending"})),
    ))
}

#[utoipa::path(post, path = "/v1/people/sessions", request_body = CreatePersonSession,
    responses((status = 201, body = PersonSession), (status = 422, body = ApiError)))]
pub async fn open_person_session(
    State(s): State<AppState>,
    Till(t): Till,
    ApiJson(req): ApiJson<CreatePersonSession>,
) -> ApiResult<(StatusCode, Json<PersonSession>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::person_session(
            s.service.open_session(&t, &req.image, &req.phone).await?,
        )),
    ))
}

#[utoipa::path(get, path = "/v1/me", responses((status = 200, body = palm_api::Person)))]
pub async fn me(State(s): State<AppState>, Person(p): Person) -> ApiResult<Json<palm_api::Person>> {
    Ok(Json(wire::person(s.service.me(&p).await?)))
}

#[utoipa::path(post, path = "/v1/me/phone", request_body = UpdatePhone, responses((status = 200, body = palm_api::Person)))]
pub async fn change_phone(
    State(s): State<AppState>,
    Person(p): Person,
    ApiJson(req): ApiJson<UpdatePhone>,
) -> ApiResult<Json<palm_api::Person>> {
    Ok(Json(wire::person(
        s.service.change_phone(&p, &req.phone).await?,
    )))
}

#[utoipa::path(post, path = "/v1/me/cards", request_body = CardInput, responses((status = 201, body = Card)))]
pub async fn add_card(
    State(s): State<AppState>,
    Person(p): Person,
    ApiJson(req): ApiJson<CardInput>,
) -> ApiResult<(StatusCode, Json<Card>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::card(
            s.service.add_card(&p, wire::card_entry(req)).await?,
        )),
    ))
}

#[utoipa::path(delete, path = "/v1/me/cards/{id}", responses((status = 204)))]
pub async fn remove_card(
    State(s): State<AppState>,
    Person(p): Person,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.remove_card(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/me/cards/{id}/default", responses((status = 200, body = palm_api::Person)))]
pub async fn set_default_card(
    State(s): State<AppState>,
    Person(p): Person,
    Path(id): Path<String>,
) -> ApiResult<Json<palm_api::Person>> {
    Ok(Json(wire::person(
        s.service.set_default_card(&p, &id).await?,
    )))
}

#[utoipa::path(post, path = "/v1/people/deletions", request_body = CreateDeletion,
    responses((status = 201, body = DeletionRequest), (status = 422, body = ApiError)))]
pub async fn request_deletion(
    State(s): State<AppState>,
    Till(t): Till,
    ApiJson(req): ApiJson<CreateDeletion>,
) -> ApiResult<(StatusCode, Json<DeletionRequest>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::deletion_request(
            s.service
                .request_deletion(&t, &req.image, &req.phone)
                .await?,
        )),
    ))
}

#[utoipa::path(post, path = "/v1/people/deletions/{id}/confirm", request_body = ConfirmDeletion,
    responses((status = 200, body = DeletionResult), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub async fn confirm_deletion(
    State(s): State<AppState>,
    Till(t): Till,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ConfirmDeletion>,
) -> ApiResult<Json<DeletionResult>> {
    Ok(Json(wire::deletion_result(
        s.service.confirm_deletion(&t, &id, &req.code).await?,
    )))
}

#[utoipa::path(get, path = "/v1/me/audit", responses((status = 200, body = List<AuditEntry>)))]
pub async fn audit_export(
    State(s): State<AppState>,
    Person(p): Person,
) -> ApiResult<Json<List<AuditEntry>>> {
    let data = s
        .service
        .audit_export(&p.id)
        .await?
        .into_iter()
        .map(wire::audit_entry)
        .collect();
    Ok(Json(List {
        data,
        has_more: false,
    }))
}

#[utoipa::path(get, path = "/v1/retention_policy", responses((status = 200, body = RetentionPolicy)))]
pub async fn retention_policy(State(s): State<AppState>) -> Json<RetentionPolicy> {
    Json(wire::retention_policy(s.service.retention_policy()))
}

#[utoipa::path(post, path = "/v1/loyalty/programs", request_body = CreateProgram, responses((status = 201, body = Program)))]
pub async fn create_program(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    ApiJson(req): ApiJson<CreateProgram>,
) -> ApiResult<(StatusCode, Json<Program>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::program(
            s.service
                .create_program(&m.id, wire::new_program(req)?)
                .await?,
        )),
    ))
}

#[utoipa::path(get, path = "/v1/loyalty/programs", responses((status = 200, body = List<Program>)))]
pub async fn list_programs(
    State(s): State<AppState>,
    auth: MerchantOrTill,
) -> ApiResult<Json<List<Program>>> {
    let programs = s.service.programs(auth.merchant_id()).await?;
    Ok(Json(wire::all(programs, wire::program)))
}

#[utoipa::path(post, path = "/v1/loyalty/programs/{id}/rewards", request_body = CreateReward, responses((status = 201, body = Reward)))]
pub async fn create_reward(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateReward>,
) -> ApiResult<(StatusCode, Json<Reward>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::reward(
            &s.service
                .create_reward(&m.id, &id, wire::new_reward(req)?)
                .await?,
        )),
    ))
}

/// Adding someone by phone is an invitation (202), whether or not the number is enrolled; it
/// becomes a membership at the person's next palm scan at this merchant.
#[utoipa::path(post, path = "/v1/loyalty/programs/{id}/members", request_body = JoinProgram,
    responses((status = 202, body = Invitation), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_member(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<JoinProgram>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(wire::invitation(
            s.service
                .invite_member(
                    &m.id,
                    &id,
                    req.phone.as_deref(),
                    req.member_number.as_deref(),
                )
                .await?,
        )),
    ))
}

#[utoipa::path(get, path = "/v1/loyalty/programs/{id}/members", params(("limit" = Option<i64>, Query), ("starting_after" = Option<String>, Query)),
    responses((status = 200, body = List<Membership>)))]
pub async fn list_members(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<Membership>>> {
    let members = s.service.members(&m.id, &id, &page(q)?).await?;
    Ok(Json(wire::list(members, |m| wire::membership(&m))))
}

#[utoipa::path(post, path = "/v1/loyalty/present", request_body = PresentLoyalty,
    responses((status = 200, body = LoyaltyPresentation), (status = 422, body = ApiError)))]
pub async fn present_loyalty(
    State(s): State<AppState>,
    Till(t): Till,
    ApiJson(req): ApiJson<PresentLoyalty>,
) -> ApiResult<Json<LoyaltyPresentation>> {
    Ok(Json(wire::loyalty(
        s.service
            .present_loyalty(&t, &req.image, req.phone_last4.as_deref())
            .await?,
    )))
}

#[utoipa::path(post, path = "/v1/venues", request_body = CreateVenue, responses((status = 201, body = Venue)))]
pub async fn create_venue(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    ApiJson(req): ApiJson<CreateVenue>,
) -> ApiResult<(StatusCode, Json<Venue>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::venue(
            s.service.create_venue(&m.id, wire::new_venue(req)?).await?,
        )),
    ))
}

#[utoipa::path(post, path = "/v1/venues/{id}/events", request_body = CreateEvent, responses((status = 201, body = VenueEvent)))]
pub async fn create_event(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateEvent>,
) -> ApiResult<(StatusCode, Json<VenueEvent>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::venue_event(
            s.service
                .create_event(&m.id, &id, wire::new_event(req)?)
                .await?,
        )),
    ))
}

/// A pass by phone is an invitation (202), whether or not the number is enrolled; it becomes
/// the pass at the person's next palm scan at this merchant (the event's gate, say).
#[utoipa::path(post, path = "/v1/events/{id}/passes", request_body = AddPass,
    responses((status = 202, body = Invitation), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_pass(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddPass>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(wire::invitation(
            s.service
                .invite_pass(&m.id, &id, &req.phone, &req.kind)
                .await?,
        )),
    ))
}

#[utoipa::path(post, path = "/v1/age_verifications", request_body = VerifyAge, responses((status = 201, body = AgeVerification)))]
pub async fn verify_age(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    ApiJson(req): ApiJson<VerifyAge>,
) -> ApiResult<(StatusCode, Json<AgeVerification>)> {
    Ok((
        StatusCode::CREATED,
        Json(wire::age_verification(
            s.service.verify_age(&m.id, wire::age_check(req)?).await?,
        )),
    ))
}

#[utoipa::path(post, path = "/v1/gate/scans", request_body = GateScan,
    responses((status = 200, body = GateDecision), (status = 404, body = ApiError)))]
pub async fn gate_scan(
    State(s): State<AppState>,
    Gate(g): Gate,
    ApiJson(req): ApiJson<GateScan>,
) -> ApiResult<axum::response::Response> {
    Ok(crate::trips::gate_answer(
        s.service.gate_scan(&g, wire::gate_scan(req)?).await?,
    ))
}

#[utoipa::path(get, path = "/v1/entries", params(("limit" = Option<i64>, Query), ("starting_after" = Option<String>, Query)),
    responses((status = 200, body = List<Entry>)))]
pub async fn list_entries(
    State(s): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<List<Entry>>> {
    let entries = s.service.list_entries(&m.id, &page(q)?).await?;
    Ok(Json(wire::list(entries, wire::entry)))
}
