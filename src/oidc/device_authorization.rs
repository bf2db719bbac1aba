//! The device authorization endpoint (RFC 8628 §3.1–3.2): a TV or a command-line tool
//! gets a device code to poll with and a user code for the person, who types it on
//! `/device` (or sends it to the login service from their XMPP app).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use url::Url;

use super::authorize::granted_scope;
use super::client_auth::authenticate;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::random;
use crate::state::AppState;
use crate::store::clients::DEVICE_CODE_GRANT;
use crate::store::device::UNBOUND_BROWSER;
use crate::store::oidc::LoginFlow;

pub async fn device_authorization(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match authorize_device(&app, peer, &headers, &body).await {
        Ok(body) => ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn authorize_device(
    app: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let params = Params::from_form(headers, body).ok_or_else(|| {
        OAuthError::invalid_request("send an application/x-www-form-urlencoded body")
    })?;
    if let Some(name) = params.duplicated().or_else(|| params.oversized()) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated or too long"
        )));
    }
    let ip = app.client_ip(peer, headers);
    let client = authenticate(app, headers, &params, ip).await?;
    if !client.settings.allows_grant(DEVICE_CODE_GRANT) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device authorization grant: an operator allows it \
             with `jidconnect client update CLIENT_ID --grant-type device_code`",
        ));
    }
    let scope = granted_scope(&client, params.get("scope"))?;
    // Every request is a stored row and a user code someone may try: bounded per network
    // like login pages.
    if !app.admit_new_flow(ip) {
        return Err(OAuthError {
            retry_after: Some(60),
            ..OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many device authorization requests from this network",
            )
        });
    }
    let now = app.clock.now();
    let oidc = &app.config.oidc;
    let origin = crate::login::notice::Visitor::new(app, peer, headers).describe();
    // No redirect URI: a device's login ends on a page. No browser until one takes the code.
    let mut flow = LoginFlow::new(
        &client.client_id,
        "",
        scope,
        UNBOUND_BROWSER.into(),
        origin,
        now,
        now + oidc.device_code_ttl_secs as i64,
    );
    let mut user_code = random::confirmation_code();
    let device_code = app
        .store
        .insert_device_authorization(
            &mut flow,
            &mut user_code,
            oidc.device_poll_interval_secs as i64,
        )
        .await?;
    let verification_uri = verification_uri(app);
    let mut complete = Url::parse(&verification_uri).map_err(anyhow::Error::from)?;
    complete
        .query_pairs_mut()
        .append_pair("user_code", &user_code);
    tracing::info!(client = %client.client_id, "device authorization requested");
    Ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete.as_str(),
        "expires_in": oidc.device_code_ttl_secs,
        "interval": oidc.device_poll_interval_secs,
    }))
}

/// Where the person types the user code: `{issuer}/device`.
pub fn verification_uri(app: &AppState) -> String {
    let mut url = Url::parse(&app.oidc.issuer).expect("the issuer is a URL");
    url.path_segments_mut()
        .expect("an http(s) issuer has a path")
        .pop_if_empty()
        .push("device");
    url.to_string()
}
