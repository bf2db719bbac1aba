//! The OpenID provider's endpoints, one file each.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod hint;
pub mod introspection;
pub mod logout;
pub mod params;
pub mod revocation;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::keys::KeyRing;
use crate::state::AppState;

/// What the endpoints share and compute once at start.
pub struct Oidc {
    /// The issuer identifier, exactly as in `iss` and discovery.
    pub issuer: String,
    pub keys: KeyRing,
    pub discovery_json: axum::body::Bytes,
    pub jwks_json: axum::body::Bytes,
}

impl Oidc {
    pub fn new(issuer: String, keys: KeyRing) -> Arc<Self> {
        Arc::new(Self {
            discovery_json: discovery::document(&issuer).into(),
            jwks_json: keys.jwks_json().to_owned().into(),
            issuer,
            keys,
        })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::discovery),
        )
        .route("/jwks", get(discovery::jwks))
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
}
