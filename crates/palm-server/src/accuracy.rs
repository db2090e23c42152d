//! The accuracy report on the merchant dashboard: what `palmline eval SET... --report
//! <data_dir>/accuracy` measured (one JSON object per set, and the DET curve), served as it is.

use crate::error::AppError;
use crate::extract::Merchant;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use palm_service::ErrorKind;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AccuracyReport {
    /// One `palmline eval --json` object per evaluated set (keys as documented for `eval`).
    #[schema(value_type = Vec<Object>)]
    pub sets: Vec<serde_json::Value>,
    /// When the report was written (Unix seconds).
    pub generated: i64,
    /// Where the DET curve is, when there is one.
    pub det_curve: Option<String>,
}

fn no_report() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "no_accuracy_report",
        "no accuracy report yet: run `palmline eval SET... --report <data_dir>/accuracy`",
    )
}

#[utoipa::path(get, path = "/v1/accuracy_report", responses((status = 200, body = AccuracyReport)))]
pub async fn report(
    State(s): State<AppState>,
    Merchant(_): Merchant,
) -> Result<Json<AccuracyReport>, AppError> {
    let path = s.accuracy_dir.join("report.jsonl");
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|_| no_report())?;
    let generated = tokio::fs::metadata(&path)
        .await
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let sets = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()
        .map_err(|_| {
            AppError::new(
                ErrorKind::Internal,
                "invalid_accuracy_report",
                "the accuracy report file is not JSON lines; write it again with palmline eval",
            )
        })?;
    let det = tokio::fs::try_exists(s.accuracy_dir.join("det.svg"))
        .await
        .unwrap_or(false);
    Ok(Json(AccuracyReport {
        sets,
        generated,
        det_curve: det.then(|| "/v1/accuracy_report/det.svg".to_string()),
    }))
}

#[utoipa::path(get, path = "/v1/accuracy_report/det.svg", responses((status = 200, content_type = "image/svg+xml")))]
pub async fn det_curve(
    State(s): State<AppState>,
    Merchant(_): Merchant,
) -> Result<Response, AppError> {
    let svg = tokio::fs::read(s.accuracy_dir.join("det.svg"))
        .await
        .map_err(|_| no_report())?;
    let mut r = svg.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    // An SVG can carry script: this one may only be shown, never run anything.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(r)
}
