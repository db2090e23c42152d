//! What every handler shares.

use palm_service::Service;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Where `palmline eval --report` leaves the accuracy report the dashboard shows.
    pub accuracy_dir: std::path::PathBuf,
    /// Longest a request may take, body and answer included.
    pub request_timeout: std::time::Duration,
    /// Tills may send plain (unsealed) palm images: the kiosk pages (config `plain_captures`).
    pub plain_captures: bool,
    /// Clients guessing pairing codes are locked out after repeated failures.
    pub pairing_lockout: std::sync::Arc<crate::lockout::Lockout>,
    /// Tills, gates and devices whose palms keep matching no one are locked out for a while.
    pub palm_lockout: std::sync::Arc<crate::lockout::Lockout<String>>,
}
