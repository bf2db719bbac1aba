//! Token introspection (RFC 7662), for authenticated clients and their own tokens only.

use axum::body::Bytes;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::client_auth::authenticate;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::state::AppState;
use crate::store::oidc::TokenKind;

pub async fn introspect(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = app.client_ip(peer, &headers);
    match introspection(&app, &headers, &body, ip).await {
        Ok(answer) => ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn introspection(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    ip: IpAddr,
) -> Result<Value, OAuthError> {
    let params = Params::from_form(headers, body).ok_or_else(|| {
        OAuthError::invalid_request("send an application/x-www-form-urlencoded body")
    })?;
    let client = authenticate(app, headers, &params, ip).await?;
    if client.settings.public {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "public clients cannot introspect",
        ));
    }
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let now = app.clock.now();
    let Some(row) = app.store.token(token).await? else {
        return Ok(json!({ "active": false }));
    };
    if row.grant.client_id != client.client_id || !row.is_live(now) {
        return Ok(json!({ "active": false }));
    }
    Ok(json!({
        "active": true,
        "scope": row.scope,
        "client_id": row.grant.client_id,
        "sub": row.grant.subject,
        "username": row.grant.subject,
        "token_type": if row.kind == TokenKind::Access { "Bearer" } else { "refresh_token" },
        "exp": row.expires_at,
        "iat": row.created_at,
        "iss": app.oidc.issuer,
        "aud": row.grant.client_id,
    }))
}
