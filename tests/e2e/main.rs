//! End-to-end tests against a real Prosody and real XMPP clients (slixmpp).
//! One test binary: see helpers.rs for the parts.

mod cli;
mod compat_api;
mod helpers;
mod store;
