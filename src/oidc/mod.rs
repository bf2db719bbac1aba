//! The OpenID provider's endpoints, one file each.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod cors;
pub mod device_authorization;
pub mod discovery;
pub mod error;
pub mod hint;
pub mod introspection;
pub mod logout;
pub mod metadata_document;
pub mod params;
pub mod registration;
pub mod revocation;
pub mod token;
pub mod userinfo;

use std::sync::{Arc, RwLock};

use axum::routing::{get, post};
use axum::Router;

use crate::config::RegistrationConfig;
use crate::keys::KeyRing;
use crate::state::AppState;

/// What the endpoints share and compute once at start.
pub struct Oidc {
    /// The issuer identifier, exactly as in `iss` and discovery.
    pub issuer: String,
    pub discovery_json: axum::body::Bytes,
    /// Replaced whole when the keys are rotated (reloaded while running).
    keys: RwLock<Arc<Keys>>,
    /// Why the last reload failed (the loaded keys stay in use), for `/healthz`.
    keys_error: RwLock<Option<String>>,
}

struct Keys {
    ring: Arc<KeyRing>,
    jwks_json: axum::body::Bytes,
}

impl Keys {
    fn new(ring: KeyRing) -> Arc<Self> {
        Arc::new(Self {
            jwks_json: ring.jwks_json().to_owned().into(),
            ring: Arc::new(ring),
        })
    }
}

impl Oidc {
    pub fn new(issuer: String, keys: KeyRing, registration: &RegistrationConfig) -> Arc<Self> {
        Arc::new(Self {
            discovery_json: discovery::document(&issuer, registration).into(),
            issuer,
            keys: RwLock::new(Keys::new(keys)),
            keys_error: RwLock::new(None),
        })
    }

    fn current(&self) -> Arc<Keys> {
        // Replaced whole, never half-written: a poisoned lock still holds a valid ring.
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn keys(&self) -> Arc<KeyRing> {
        self.current().ring.clone()
    }

    /// The JWKS, serialized when the keys were loaded.
    pub fn jwks_json(&self) -> axum::body::Bytes {
        self.current().jwks_json.clone()
    }

    /// Takes the result of reloading the keys: a changed ring replaces the current one; a
    /// failure keeps it (tokens keep being signed) and is reported by `/healthz`.
    pub fn reloaded(&self, loaded: anyhow::Result<KeyRing>) {
        let error = match loaded {
            Ok(ring) => {
                if ring.published() != self.keys().published() {
                    tracing::info!(keys = ring.published().len(), "signing keys reloaded");
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Keys::new(ring);
                }
                None
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot reload the signing keys; keeping the ones loaded"
                );
                Some(format!("{e:#}"))
            }
        };
        *self
            .keys_error
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = error;
    }

    pub fn keys_error(&self) -> Option<String> {
        self.keys_error
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The endpoints. `/token`, `/userinfo` and `/revoke` get their client-based CORS from
/// [`cors::client_based`], layered over the whole router in `startup` (it needs the state).
pub fn router() -> Router<AppState> {
    let public = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::discovery),
        )
        .route("/jwks", get(discovery::jwks))
        .layer(cors::public());
    Router::new()
        .merge(public)
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/token", post(token::token))
        .route(
            "/device_authorization",
            post(device_authorization::device_authorization),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
        .route("/register", post(registration::register))
        .route(
            "/register/{client_id}",
            get(registration::read).delete(registration::delete),
        )
}
