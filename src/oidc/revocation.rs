//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant.

use axum::body::Bytes;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::params::Params;
use crate::state::AppState;
use crate::store::oidc::TokenKind;

pub async fn revoke(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = app.client_ip(peer, &headers);
    match revoke_token(&app, &headers, &body, ip).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_token(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    ip: IpAddr,
) -> Result<(), OAuthError> {
    let params = Params::from_form(headers, body).ok_or_else(|| {
        OAuthError::invalid_request("send an application/x-www-form-urlencoded body")
    })?;
    let client = authenticate(app, headers, &params, ip).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // §2.2: an unknown token, or another client's, is answered like a revoked one.
    let Some(row) = app.store.token(token).await? else {
        return Ok(());
    };
    if row.grant.client_id != client.client_id {
        return Ok(());
    }
    match row.kind {
        TokenKind::Refresh => app.store.revoke_grant(&row.grant.id).await?,
        TokenKind::Access => app.store.delete_token(token).await?,
    }
    Ok(())
}
