//! End-to-end tests against a real Prosody and real XMPP clients (slixmpp).
//! One test binary: see helpers.rs for the parts.

mod abuse;
mod access;
mod admin;
mod bad_input;
mod browser;
mod cli;
mod cluster;
mod compat_api;
mod deploy;
mod device;
mod dos;
mod faults;
mod fuzz;
mod hardening;
mod helpers;
mod integrations;
mod languages;
mod load;
mod metadata_documents;
mod oidc_conformance;
mod oidc_flows;
mod oidc_security;
mod reach;
mod registration;
mod status_wait;
mod store;
