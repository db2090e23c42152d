//! Palmline's HTTP server: axum routes over the service, one error shape, layered configuration,
//! key custody in the data directory, and the background jobs.
//!
//! The key design decision: the router is a plain function of its state ([`app::router`]), and
//! [`server::Server::start`] does everything `palmline serve` does, bound to any port, so the
//! end-to-end tests run the real thing on port 0 with a fresh database.

pub mod accuracy;
pub mod app;
pub mod config;
pub mod devices;
pub mod error;
pub mod extract;
pub mod http;
pub mod keys;
pub mod kiosk;
pub mod lockout;
pub mod openapi;
pub mod routes;
pub mod sender;
pub mod server;
pub mod sms;
pub mod state;
pub mod trips;
pub mod wire;

pub use config::Config;
pub use palm_service::merchants::MerchantCredentials;
pub use server::{DemoCredentials, DemoGate, Server};

/// Logs to stderr, as text or JSON lines; `RUST_LOG` picks the level (default `info`). Colours
/// only when stderr is a terminal: a log file or a pipe gets plain text.
pub fn init_logging(format: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
