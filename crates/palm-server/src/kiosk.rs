//! The kiosk and POS pages (`kiosk/` at the repository root), compiled into the binary so the
//! server needs no files beside it and nothing from the internet: the screens work on a LAN
//! with no connection out. The pages call only the public API.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Name, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/index.html"),
    ),
    (
        "index.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/index.js"),
    ),
    (
        "signup.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/signup.html"),
    ),
    (
        "signup.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/signup.js"),
    ),
    (
        "checkout.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/checkout.html"),
    ),
    (
        "checkout.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/checkout.js"),
    ),
    (
        "gate.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/gate.html"),
    ),
    (
        "gate.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/gate.js"),
    ),
    (
        "receipt.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/receipt.html"),
    ),
    (
        "receipt.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/receipt.js"),
    ),
    (
        "merchant.html",
        "text/html; charset=utf-8",
        include_str!("../../../kiosk/merchant.html"),
    ),
    (
        "merchant.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/merchant.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../kiosk/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../../kiosk/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../../kiosk/favicon.svg"),
    ),
];

/// Scripts and styles only from this server; images from captures (data: URLs) and the camera.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => {
            let mut r = (StatusCode::OK, *body).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            r
        }
        None => crate::error::AppError::new(
            palm_service::ErrorKind::NotFound,
            "unknown_page",
            "no such kiosk page",
        )
        .into_response(),
    }
}

pub async fn home() -> Response {
    file("index.html")
}

/// Browsers ask every site for `/favicon.ico`; an SVG answers it (no 404 in every page's log).
pub async fn favicon() -> Response {
    file("favicon.svg")
}

pub async fn page(Path(name): Path<String>) -> Response {
    file(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_loads_only_scripts_that_are_served() {
        for (name, _, body) in FILES.iter().filter(|(n, _, _)| n.ends_with(".html")) {
            for src in body
                .split("src=\"")
                .skip(1)
                .chain(body.split("href=\"").skip(1))
            {
                let target = &src[..src.find('"').unwrap()];
                if let Some(file) = target.strip_prefix("/kiosk/") {
                    assert!(
                        FILES.iter().any(|(n, _, _)| *n == file),
                        "{name} refers to {target}, which is not served"
                    );
                }
                assert!(
                    !target.starts_with("http"),
                    "{name} loads {target} from outside"
                );
            }
            assert!(
                !body.contains("<script>"),
                "{name}: inline script (the CSP forbids it)"
            );
        }
    }
}
