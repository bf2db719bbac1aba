//! jidconnect: an OpenID Connect provider whose logins are confirmed over XMPP (XEP-0070).

/// Who may log in where: clients' `allow` patterns and groups.
pub mod access;
/// The admin pages.
pub mod admin;
/// Command line: `serve`, `check-config`, `client …`.
pub mod cli;
/// The one reader of wall-clock time.
pub mod clock;
/// Several instances on one PostgreSQL: the component's leader, shared keys.
pub mod cluster;
/// The HTTPAuthenticationOverXMPP-compatible `/auth` API.
pub mod compat;
/// The TOML file with its environment overlay, and its validation.
pub mod config;
/// `jidconnect demo-user`: answer confirmations from the terminal.
pub mod demo_user;
/// The internal (opaque 500) error.
pub mod error;
/// `/healthz`.
pub mod health;
/// The person's language: translations and their choice.
pub mod i18n;
/// ID token signing keys and the JWKS.
pub mod keys;
/// The login, waiting and consent pages.
pub mod login;
/// Prometheus metrics.
pub mod metrics;
/// The OpenID provider's endpoints.
pub mod oidc;
/// Which addresses a fetch of a stranger's URL may reach (SSRF).
pub mod outbound;
/// Random tokens and human-comparable codes.
pub mod random;
/// Keyed rate limits and the client-authentication brake.
pub mod ratelimit;
/// The HTTP server: timeouts and a cap on connections.
pub mod server;
/// Build and run the server: the one path for the binary and the tests.
pub mod startup;
/// Handler state.
pub mod state;
/// SQLite/PostgreSQL persistence.
pub mod store;
/// Logging.
pub mod telemetry;
/// Security headers, cookies, static files, error pages.
pub mod web;
/// The XEP-0114 component and XEP-0070 confirmations.
pub mod xmpp;
