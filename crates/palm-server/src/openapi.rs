//! Completes the generated OpenAPI document with what every operation shares, so that no route
//! annotation can forget it: the `{id}` path parameter, the credentials (bearer secrets and
//! device signatures), and the error answers the server gives (400, 401, 403, 404, 409, 413,
//! 415, 422, 429, 503; each an `ApiError`).

use crate::{accuracy, devices, routes, trips};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

/// Operations anyone may call: health, consent text, retention policy, the capture keys a
/// device seals to, and pairing (whose one-time code is in the body).
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/v1/consent"),
    ("get", "/v1/retention_policy"),
    ("get", "/v1/capture_keys"),
    ("post", "/v1/devices"),
    ("get", "/v1/receipts/{token}"),
    ("post", "/v1/receipts/{token}/adjustments"),
];

/// Operations a paired device may call too, signing as its till or gate.
const DEVICE_TOO: &[(&str, &str)] = &[
    ("get", "/v1/till"),
    ("post", "/v1/signups"),
    ("post", "/v1/payments"),
    ("get", "/v1/payments/{id}"),
    ("post", "/v1/payments/{id}/palm"),
    ("post", "/v1/payments/{id}/confirm"),
    ("post", "/v1/payments/{id}/cancel"),
    ("post", "/v1/people/sessions"),
    ("post", "/v1/people/deletions"),
    ("post", "/v1/people/deletions/{id}/confirm"),
    ("get", "/v1/loyalty/programs"),
    ("post", "/v1/loyalty/present"),
    ("post", "/v1/gate/scans"),
    ("post", "/v1/gate/entries"),
    ("post", "/v1/shopping_trips"),
];

/// Operations only a paired device calls (signed requests, no bearer secret).
const DEVICE_ONLY: &[(&str, &str)] = &[
    ("get", "/v1/device"),
    ("get", "/v1/gate/allow_list"),
    ("get", "/v1/gate/allow_lists/{id}"),
];

/// Error answers and when the server gives them.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "Malformed request: bad JSON, a missing or invalid field, a bad image",
    ),
    ("401", "No credential, or one the server does not know"),
    (
        "403",
        "The credential may not do this (another till's payment, say)",
    ),
    ("404", "No such object for this merchant"),
    (
        "409",
        "Conflict with the object's state, a duplicate, or an Idempotency-Key in use or reused",
    ),
    ("413", "Body larger than the configured limit"),
    ("415", "Body is not application/json"),
    (
        "422",
        "Understood but not done: a palm not recognised, captures that disagree",
    ),
    (
        "429",
        "Too many attempts: wait for the Retry-After header's seconds",
    ),
    (
        "503",
        "Busy, or the processor's answer is not known yet: retry the same request later",
    ),
];

pub struct Complete;

impl Modify for Complete {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A merchant key (sk_), till credential (tk_), gate credential (gk_) or person session (ps_); each operation says which it takes",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::devices::SIGNATURE_HEADER,
                "A paired device's Ed25519 signature over the request, with the palmline-device, palmline-timestamp and palmline-nonce headers",
            ))),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in [
                ("get", item.get.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
            ] {
                let Some(op) = op else { continue };
                // Grouped by resource (`payments`, `loyalty`, `gate`...), not by Rust module.
                let resource = path
                    .trim_start_matches("/v1")
                    .split('/')
                    .nth(1)
                    .unwrap_or("");
                op.tags = Some(vec![resource.to_string()]);
                if path.contains("{id}") {
                    declare_id(op);
                }
                let here = (method, path.as_str());
                if !PUBLIC.contains(&here) {
                    let bearer = SecurityRequirement::new("bearer", [""; 0]);
                    let device = SecurityRequirement::new("device_signature", [""; 0]);
                    op.security = Some(if DEVICE_ONLY.contains(&here) {
                        vec![device]
                    } else if DEVICE_TOO.contains(&here) {
                        vec![bearer, device]
                    } else {
                        vec![bearer]
                    });
                }
                for (status, why) in ERRORS {
                    if *status == "401" && PUBLIC.contains(&here) {
                        continue;
                    }
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(*why)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ApiError")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// Declares the `{id}` path parameter on an operation that does not yet.
fn declare_id(op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    if params
        .iter()
        .any(|p: &Parameter| p.name == "id" && p.parameter_in == ParameterIn::Path)
    {
        return;
    }
    params.push(
        ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("The object's id"))
            .schema(Some(Object::with_type(Type::String)))
            .build(),
    );
}

/// Every operation: the handlers' annotations, gathered (the routes, the device routes and the
/// accuracy report), completed by [`Complete`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Palmline API",
        description = "Pay, identify and manage people by palm."
    ),
    paths(
        routes::healthz,
        routes::consent,
        routes::signup,
        routes::create_payment,
        routes::list_payments,
        routes::get_payment,
        routes::submit_palm,
        routes::confirm_payment,
        routes::capture_payment,
        routes::cancel_payment,
        routes::create_refund,
        routes::list_refunds,
        routes::payment_events,
        routes::list_tills,
        routes::this_till,
        routes::create_webhook_endpoint,
        routes::list_webhook_endpoints,
        routes::list_webhook_deliveries,
        routes::replay_webhook_delivery,
        routes::open_person_session,
        routes::me,
        routes::change_phone,
        routes::add_card,
        routes::remove_card,
        routes::set_default_card,
        routes::request_deletion,
        routes::confirm_deletion,
        routes::audit_export,
        routes::retention_policy,
        routes::create_program,
        routes::list_programs,
        routes::create_reward,
        routes::add_member,
        routes::list_members,
        routes::present_loyalty,
        routes::create_venue,
        routes::create_event,
        routes::add_pass,
        routes::verify_age,
        routes::gate_scan,
        routes::list_entries,
        trips::open_trip,
        trips::list_trips,
        trips::get_trip,
        trips::item_event,
        trips::exit_trip,
        trips::receipt,
        trips::request_adjustment,
        trips::accept_adjustment,
        trips::reject_adjustment,
        trips::receipt_by_token,
        trips::dispute_by_token,
        devices::create_pairing_code,
        devices::register_device,
        devices::list_devices,
        devices::revoke_device,
        devices::this_device,
        devices::capture_keys,
        devices::allow_list,
        devices::allow_list_status,
        devices::revoke_allow_lists,
        devices::upload_entries,
        accuracy::report,
        accuracy::det_curve,
    ),
    components(schemas(palm_api::ApiError, routes::TillInfo, crate::extract::ListParams)),
    modifiers(&Complete)
)]
pub struct ApiDoc;

/// The API description as served at `/openapi.json` (also `palmline openapi`, for validators
/// and client generators).
pub fn document() -> utoipa::openapi::OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}
