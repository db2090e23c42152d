//! Lockout after repeated failures: a client that gets `max_failures` wrong answers within
//! `window` is refused (429, Retry-After) until the window ends. Used where a secret is guessed
//! without any credential (device pairing codes, by IP address), and for palms a till or gate
//! keeps failing to match (by credential: NIST SP 800-63B's limit on failed biometric attempts).

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients remembered at most; past this, expired entries are dropped first.
const MAX_CLIENTS: usize = 100_000;

pub struct Lockout<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq + Clone> Lockout<K> {
    pub fn new(max_failures: u32, window: Duration) -> Lockout<K> {
        Lockout {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::default(),
        }
    }

    /// Whole seconds until `client` may try again, while it is locked out.
    pub fn locked(&self, client: &K) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, since) = failures.get(client)?;
        let left = self.window.checked_sub(since.elapsed())?;
        (count >= self.max_failures).then(|| left.as_secs().max(1))
    }

    pub fn failed(&self, client: K) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (_, since)| since.elapsed() < self.window);
        }
        let entry = failures.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, client: &K) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(client);
    }
}

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

/// Marks an answer whose palm matched no one (the `palm_not_recognised` error, or a gate's
/// decision for that reason), so the attempt is counted without reading the answer's body.
#[derive(Clone, Copy)]
pub struct PalmMissed;

/// Routes where a till or gate submits a palm to be identified.
fn takes_palm(path: &str) -> bool {
    path.ends_with("/palm")
        || matches!(
            path,
            "/v1/loyalty/present"
                | "/v1/gate/scans"
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
    let credential = crate::app::credential_scope(&req);
    if let Some(wait) = state.palm_lockout.locked(&credential) {
        return too_many(
            wait,
            "too many palms in a row matched no one at this till or gate; wait before trying again",
        );
    }
    let response = next.run(req).await;
    if response.extensions().get::<PalmMissed>().is_some() {
        state.palm_lockout.failed(credential);
    } else if response.status().is_success() {
        state.palm_lockout.succeeded(&credential);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_failures_and_forgets_after_the_window() {
        let lockout: Lockout = Lockout::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..2 {
            lockout.failed(a);
        }
        assert_eq!(lockout.locked(&a), None);
        lockout.failed(a);
        assert!(lockout.locked(&a).is_some());
        assert_eq!(
            lockout.locked(&b),
            None,
            "one client's failures lock only that client"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(lockout.locked(&a), None);
        lockout.failed(b);
        lockout.succeeded(&b);
        assert_eq!(lockout.locked(&b), None);
    }
}
