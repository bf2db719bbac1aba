//! jidconnect: an OpenID Connect provider whose logins are confirmed over XMPP (XEP-0070).

/// Command line: `serve`, `check-config`, `client …`.
pub mod cli;
/// The HTTPAuthenticationOverXMPP-compatible `/auth` API.
pub mod compat;
/// The TOML file with its environment overlay, and its validation.
pub mod config;
/// The internal (opaque 500) error.
pub mod error;
/// `/healthz`.
pub mod health;
/// Random tokens and human-comparable codes.
pub mod random;
/// Build and run the server: the one path for the binary and the tests.
pub mod startup;
/// Handler state.
pub mod state;
/// SQLite/PostgreSQL persistence.
pub mod store;
/// Logging.
pub mod telemetry;
/// The XEP-0114 component and XEP-0070 confirmations.
pub mod xmpp;
