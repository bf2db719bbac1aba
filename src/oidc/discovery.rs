//! OIDC Discovery (also served as RFC 8414 metadata) and the JWK Set, both serialized once.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use crate::config::RegistrationConfig;
use crate::keys::SigningAlg;
use crate::state::AppState;
use crate::store::clients::{GRANT_TYPES, SUPPORTED_SCOPES};

/// Claims this provider can return.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "sid",
    "jid",
    "preferred_username",
    "name",
    "email",
    "email_verified",
    "groups",
];

/// The discovery document for `issuer` (no trailing slash); with open registration it
/// names the registration endpoint (RFC 7591 §3, RFC 8414) and says whether a client may
/// be known by its metadata document.
pub fn document(issuer: &str, registration: &RegistrationConfig) -> String {
    let endpoint = |path: &str| format!("{issuer}{path}");
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint("/authorize"),
        "token_endpoint": endpoint("/token"),
        "userinfo_endpoint": endpoint("/userinfo"),
        "jwks_uri": endpoint("/jwks"),
        "end_session_endpoint": endpoint("/logout"),
        "revocation_endpoint": endpoint("/revoke"),
        "introspection_endpoint": endpoint("/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "device_authorization_endpoint": endpoint("/device_authorization"),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SUPPORTED_SCOPES,
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "popup"],
        "ui_locales_supported": crate::i18n::Lang::shipped().map(|l| l.tag()).collect::<Vec<_>>(),
        "claims_locales_supported": ["en"],
        "authorization_response_iss_parameter_supported": true,
    });
    if registration.is_open() {
        document["registration_endpoint"] = endpoint("/register").into();
    }
    if registration.accepts_metadata_documents() {
        document["client_id_metadata_document_supported"] = true.into();
    }
    document.to_string()
}

const JSON_HEADERS: [(header::HeaderName, &str); 2] = [
    (header::CONTENT_TYPE, "application/json"),
    (header::CACHE_CONTROL, "public, max-age=300"),
];

pub async fn discovery(State(app): State<AppState>) -> impl IntoResponse {
    (JSON_HEADERS, app.oidc.discovery_json.clone())
}

pub async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    (JSON_HEADERS, app.oidc.jwks_json())
}
