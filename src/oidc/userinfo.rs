//! UserInfo (OIDC Core §5.3): the bearer token in the header (GET or POST) or in a form
//! body (POST), never both (RFC 6750 §2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::claims::{discloses_groups, user_claims, Target};
use super::params::Params;
use crate::error::InternalError;
use crate::state::AppState;
use crate::store::oidc::{TokenKind, TokenRow};

/// RFC 6750 §3: the error goes in `WWW-Authenticate`.
fn bearer_error(status: StatusCode, error: Option<&str>, description: &str) -> Response {
    let challenge = match error {
        Some(error) => format!(
            "Bearer realm=\"jidconnect\", error=\"{error}\", error_description=\"{description}\""
        ),
        None => "Bearer realm=\"jidconnect\"".to_owned(),
    };
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An access token that is unexpired, of a live grant, and allows OpenID claims.
pub fn usable_access_token(row: &TokenRow, now: i64) -> bool {
    row.kind == TokenKind::Access && row.is_live(now)
}

pub async fn userinfo(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let from_body =
        Params::from_form(&headers, &body).and_then(|p| p.get("access_token").map(str::to_owned));
    let token = match (bearer_token(&headers), from_body.as_deref()) {
        (Some(_), Some(_)) => {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "send the token once",
            )
        }
        (Some(token), None) | (None, Some(token)) => token.to_owned(),
        (None, None) => return bearer_error(StatusCode::UNAUTHORIZED, None, ""),
    };
    let row = match app.store.token(&token).await {
        Ok(row) => row,
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let now = app.clock.now();
    let Some(row) = row.filter(|row| usable_access_token(row, now)) else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token is invalid or expired",
        );
    };
    if !row.scope.split_whitespace().any(|s| s == "openid") {
        return bearer_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the openid scope is required",
        );
    }
    let client = match app.registered_client(&row.grant.client_id).await {
        Ok(Some(client)) => client,
        _ => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                "the client is gone",
            )
        }
    };
    let groups = if discloses_groups(&row.scope, &client, row.grant.claims.as_deref()) {
        match app.store.groups_of(&row.grant.subject).await {
            Ok(groups) => groups,
            Err(e) => return InternalError::from(e).into_response(),
        }
    } else {
        vec![]
    };
    let claims = user_claims(
        &row.grant.subject,
        &row.scope,
        &client,
        row.grant.claims.as_deref(),
        Target::UserInfo,
        &groups,
    );
    ([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response()
}
