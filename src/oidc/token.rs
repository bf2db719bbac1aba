//! The token endpoint: `authorization_code` and `refresh_token` grants (RFC 6749 §4.1.3,
//! §6), PKCE S256 (RFC 7636), single-use codes whose replay revokes the grant, and rotated
//! refresh tokens whose replay revokes the family (RFC 9700 §4.14), and the device code
//! grant (RFC 8628 §3.4–3.5), whose codes are single-use like authorization codes.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::claims::{discloses_groups, user_claims, Target};
use super::client_auth::authenticate;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::login::notice::Visitor;
use crate::state::AppState;
use crate::store::clients::{Client, GRANT_TYPES};
use crate::store::device::{DeviceAuthorization, DeviceStatus, Pace};
use crate::store::mint::{Mint, Minted, Presented, RefreshRule};
use crate::store::oidc::{CodeRow, Grant, Redemption, TokenKind, TokenRow};

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

pub async fn token(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&app, peer, &headers);
    match exchange(&app, &headers, &body, &visitor).await {
        Ok(response) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(response),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn exchange(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    visitor: &Visitor,
) -> Result<TokenResponse, OAuthError> {
    let params = Params::from_form(headers, body).ok_or_else(|| {
        OAuthError::invalid_request("send an application/x-www-form-urlencoded body")
    })?;
    if let Some(name) = params.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    if let Some(name) = params.oversized() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is too long"
        )));
    }
    let client = authenticate(app, headers, &params, visitor.ip).await?;
    let now = app.clock.now();
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if !GRANT_TYPES.contains(&grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("supported grant types: {}", GRANT_TYPES.join(", ")),
        ));
    }
    if !client.settings.allows_grant(grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {grant_type} grant"),
        ));
    }
    match grant_type {
        "authorization_code" => authorization_code(app, &client, &params, now).await,
        "refresh_token" => refresh_token(app, &client, &params, now).await,
        _ => device_code(app, &client, &params, now, visitor).await,
    }
}

/// RFC 8628 §3.4–3.5: the device polls until the person decided. Its code is single-use:
/// presented again after it got its tokens, the grant is revoked (as for a code).
async fn device_code(
    app: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
    visitor: &Visitor,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    let device = app
        .store
        .device_authorization(code)
        .await?
        .filter(|d| d.client_id == client.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
    match device.status {
        DeviceStatus::Redeemed => return Err(replayed_device_code(app, &device).await?),
        DeviceStatus::Denied => {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the person refused the login",
            ))
        }
        DeviceStatus::Pending | DeviceStatus::Approved => {}
    }
    if device.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired: start again",
        ));
    }
    if app.store.device_polled(code, &device, now).await? == Pace::TooFast {
        return Err(OAuthError::new(
            ErrorCode::SlowDown,
            format!("poll at most every {} seconds", device.interval_secs + 5),
        ));
    }
    let grant_id = match device.grant_id.clone() {
        Some(grant_id) => grant_id,
        None => crate::login::device::approved_over_xmpp(app, client, &device)
            .await?
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the person has not confirmed yet",
                )
            })?,
    };
    if !app.store.redeem_device(code).await? {
        return Err(replayed_device_code(app, &device).await?);
    }
    let grant = app
        .store
        .grant(&grant_id)
        .await?
        .filter(|g| !g.revoked)
        .ok_or_else(|| OAuthError::invalid_grant("the login was undone"))?;
    let minted = app
        .store
        .issue_tokens(&grant.id, now, mint(app, client, now, None))
        .await?;
    let response = respond(app, client, &grant, &grant.scope, false, now, minted).await?;
    app.metrics.token_issued("device_code");
    tracing::info!(client = %client.client_id, subject = %grant.subject, "device logged in");
    // Best effort, as for codes: the person's app is told that a device is in, in the
    // language of the device's login page.
    let noticed = async {
        if !app.store.is_subscriber(&grant.subject).await? {
            return Ok(());
        }
        let flow = app.store.flow(&device.flow_id).await?;
        let l = flow.map(|f| f.language()).unwrap_or_default();
        crate::login::notice::queue(app, client, &grant.subject, None, &grant.id, visitor, l).await
    };
    if let Err(e) = noticed.await {
        tracing::warn!(error = %e, "cannot queue a login notice");
    }
    Ok(response)
}

async fn replayed_device_code(
    app: &AppState,
    device: &DeviceAuthorization,
) -> Result<OAuthError, OAuthError> {
    if let Some(grant_id) = &device.grant_id {
        app.store.revoke_grant(grant_id).await?;
    }
    tracing::warn!(client = %device.client_id, "device code replayed; grant revoked");
    Ok(OAuthError::invalid_grant(
        "the device code was already used; tokens issued with it are revoked",
    ))
}

async fn authorization_code(
    app: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    let presented = Presented {
        redirect_uri,
        challenge: params
            .get("code_verifier")
            .map(|verifier| s256_challenge(verifier).unwrap_or_default()),
    };
    let mint = mint(app, client, now, None);
    let (row, minted) = match app
        .store
        .redeem_code_minting(code, &presented, now, mint)
        .await?
    {
        Redemption::Fresh(redeemed) => redeemed,
        // Presented without its redirect URI or verifier, or expired: refused, and the
        // code stays for its client (unless another client presented it: it leaked).
        Redemption::NotClaimed(row) => {
            let refused = check_code(&row, client, redirect_uri, params, now)
                .err()
                .unwrap_or_else(|| OAuthError::invalid_grant("the code cannot be redeemed"));
            if row.grant.client_id != client.client_id {
                app.store.revoke_grant(&row.grant.id).await?;
            }
            return Err(refused);
        }
        Redemption::Replayed(grant_id) => {
            app.store.revoke_grant(&grant_id).await?;
            tracing::warn!(client = %client.client_id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the code was already used; tokens issued with it are revoked",
            ));
        }
        Redemption::Unknown => return Err(OAuthError::invalid_grant("unknown code")),
    };
    if let Err(refused) = check_code(&row, client, redirect_uri, params, now) {
        app.store.discard_tokens(&minted).await?;
        if row.grant.client_id != client.client_id {
            app.store.revoke_grant(&row.grant.id).await?;
        }
        return Err(refused);
    }
    let response = respond(app, client, &row.grant, &row.grant.scope, true, now, minted).await?;
    app.metrics.token_issued("authorization_code");
    Ok(response)
}

/// What a redeemed code must match (RFC 6749 §4.1.3); another client's code is refused
/// (and the caller revokes its grant: the code leaked).
fn check_code(
    row: &CodeRow,
    client: &Client,
    redirect_uri: &str,
    params: &Params,
    now: i64,
) -> Result<(), OAuthError> {
    if row.grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if row.expires_at <= now || row.grant.revoked {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    check_pkce(row.code_challenge.as_deref(), params.get("code_verifier"))
}

/// RFC 7636 §4.6 with S256, and RFC 9700 §2.1.1: a verifier without a challenge is refused.
pub(crate) fn check_pkce(
    challenge: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent, but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            if s256_challenge(verifier)
                .is_some_and(|computed| bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())))
            {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// RFC 7636 §4.2: the S256 challenge of a well-formed verifier (§4.1), else `None`.
fn s256_challenge(verifier: &str) -> Option<String> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed.then(|| URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
}

async fn refresh_token(
    app: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    // Stored with the access token as the response gives it (introspection returns it).
    let asked = params
        .get("scope")
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    if let Some(asked) = &asked {
        refuse_scope_beyond_grant(app, client, presented, asked, now).await?;
    }
    let mint = mint(app, client, now, asked.as_deref());
    let Some((row, minted)) = app
        .store
        .spend_refresh_token(presented, &client.client_id, now, mint)
        .await?
    else {
        return Err(refused_refresh_token(app, client, presented, now).await?);
    };
    let scope = match narrowed_scope(&row.scope, asked.as_deref()) {
        Ok(scope) => scope,
        Err(refused) => {
            app.store.discard_tokens(&minted).await?;
            return Err(refused);
        }
    };
    // RFC 6749 §6: a narrower scope applies to the new access (and ID) token only; the new
    // refresh token keeps what was granted, so narrowing once loses nothing for good.
    let response = respond(app, client, &row.grant, &scope, false, now, minted).await?;
    app.metrics.token_issued("refresh_token");
    Ok(response)
}

/// A client discards its refresh token only when a refresh gives it a new one (RFC 6749
/// §6), so a refused request must leave it usable: a scope beyond the grant is refused
/// before the spend. The spend checks again on the row it spends (a refresh token's scope
/// never changes, so both agree). Only a token that can still be spent: a spent one is a
/// replay whatever the scope, and the spend's refusal revokes its grant.
async fn refuse_scope_beyond_grant(
    app: &AppState,
    client: &Client,
    presented: &str,
    asked: &str,
    now: i64,
) -> Result<(), OAuthError> {
    match this_clients_refresh_token(app, client, presented).await? {
        Some(row) if row.is_live(now) => narrowed_scope(&row.scope, Some(asked)).map(drop),
        // Unknown, another client's, spent, expired or revoked: the spend says why.
        _ => Ok(()),
    }
}

/// RFC 6749 §6: a refresh may ask for less than was granted, never more.
fn narrowed_scope(granted: &str, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split_whitespace().collect();
    if let Some(extra) = asked.split_whitespace().find(|s| !granted.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {extra} was not granted"),
        ));
    }
    Ok(asked.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The stored row of a refresh token issued to `client`, spent or not.
async fn this_clients_refresh_token(
    app: &AppState,
    client: &Client,
    presented: &str,
) -> Result<Option<TokenRow>, OAuthError> {
    Ok(app
        .store
        .token(presented)
        .await?
        .filter(|row| row.kind == TokenKind::Refresh && row.grant.client_id == client.client_id))
}

/// Why a refresh token could not be spent. A used one was replayed: its grant is revoked.
async fn refused_refresh_token(
    app: &AppState,
    client: &Client,
    presented: &str,
    now: i64,
) -> Result<OAuthError, OAuthError> {
    let Some(row) = this_clients_refresh_token(app, client, presented).await? else {
        return Ok(OAuthError::invalid_grant("unknown refresh token"));
    };
    if row.grant.revoked || row.expires_at <= now {
        return Ok(OAuthError::invalid_grant(
            "the refresh token has expired or was revoked",
        ));
    }
    app.store.revoke_grant(&row.grant.id).await?;
    tracing::warn!(client = %client.client_id, "refresh token replayed; grant revoked");
    Ok(OAuthError::invalid_grant(
        "the refresh token was already used; every token of this grant is revoked",
    ))
}

/// The tokens a client gets: an access token, and a refresh token when the grant has
/// `offline_access` or by the client's `always_refresh` (never if it may not refresh).
/// `access_scope` is a narrowed scope of a refresh (else the grant's).
fn mint<'a>(app: &AppState, client: &Client, now: i64, access_scope: Option<&'a str>) -> Mint<'a> {
    let ttl = &app.config.oidc;
    let refresh_rule = if !client.settings.allows_grant("refresh_token") {
        RefreshRule::Never
    } else if client.settings.always_refresh {
        RefreshRule::Always
    } else {
        RefreshRule::IfOffline
    };
    Mint::new(
        now + ttl.access_token_ttl_secs as i64,
        refresh_rule,
        now + ttl.refresh_token_ttl_secs as i64,
        access_scope,
    )
}

/// The token response for tokens already stored: the ID token for `scope` is signed here.
async fn respond(
    app: &AppState,
    client: &Client,
    grant: &Grant,
    scope: &str,
    with_nonce: bool,
    now: i64,
    minted: Minted,
) -> Result<TokenResponse, OAuthError> {
    let ttl = &app.config.oidc;
    let groups = if discloses_groups(scope, client, grant.claims.as_deref()) {
        app.store.groups_of(&grant.subject).await?
    } else {
        vec![]
    };
    let mut claims: Map<String, Value> = user_claims(
        &grant.subject,
        scope,
        client,
        grant.claims.as_deref(),
        Target::IdToken,
        &groups,
    );
    claims.insert("iss".into(), app.oidc.issuer.clone().into());
    claims.insert("aud".into(), client.client_id.clone().into());
    claims.insert("azp".into(), client.client_id.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + ttl.id_token_ttl_secs as i64).into());
    claims.insert("auth_time".into(), grant.auth_time.into());
    if let Some(session) = &grant.session_hash {
        // A stable, non-secret session id for logout: not the cookie, not its digest.
        claims.insert("sid".into(), session_id(session).into());
    }
    if with_nonce {
        if let Some(nonce) = &grant.nonce {
            claims.insert("nonce".into(), nonce.clone().into());
        }
    }
    let id_token = app
        .oidc
        .keys()
        .sign(client.settings.id_token_alg, &claims)?;
    Ok(TokenResponse {
        access_token: minted.access,
        token_type: "Bearer",
        expires_in: ttl.access_token_ttl_secs,
        scope: scope.to_owned(),
        id_token,
        refresh_token: minted.refresh,
    })
}

/// The `sid` claim: derived from the session's stored digest, so it reveals nothing.
pub fn session_id(session_hash: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(format!("sid:{session_hash}").as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No verifier but the one matches a challenge.
        #[test]
        fn only_the_right_verifier_matches(verifier in "[A-Za-z0-9._~-]{43,128}", other in "[A-Za-z0-9._~-]{0,130}") {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            proptest::prop_assert!(check_pkce(Some(&challenge), Some(&verifier)).is_ok());
            if other != verifier {
                proptest::prop_assert!(check_pkce(Some(&challenge), Some(&other)).is_err());
            }
            proptest::prop_assert!(check_pkce(None, Some(&other)).is_err());
        }
    }

    #[test]
    fn pkce_s256_rules() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_pkce(Some(challenge), Some(verifier)).is_ok());
        assert!(check_pkce(Some(challenge), Some(&verifier.replace('d', "e"))).is_err());
        assert!(check_pkce(Some(challenge), None).is_err());
        assert!(check_pkce(None, Some(verifier)).is_err(), "downgrade");
        assert!(check_pkce(None, None).is_ok());
        assert!(check_pkce(Some(challenge), Some("short")).is_err());
    }
}
