//! Dynamic client registration (RFC 7591) and its management protocol's read and delete
//! (RFC 7592), when `[registration] mode = "open"`: a site adds "Log in with XMPP" without
//! asking an operator. Self-registered clients are never trusted (the consent page always
//! shows, and says so), and their metadata is checked strictly.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::userinfo::bearer_token;
use crate::keys::SigningAlg;
use crate::random;
use crate::state::AppState;
use crate::store::clients::{
    is_loopback_ip_literal, validate_redirect_uri, ClientError, ClientSettings, GRANT_TYPES,
};

const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

fn metadata_error(code: ErrorCode, description: impl Into<String>) -> OAuthError {
    OAuthError::new(code, description.into())
}

fn no_store(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// An operator's redirect URI rules (absolute, no fragment), and stricter: https, or http
/// on a loopback IP literal (RFC 8252 §7.3). Not `localhost`, which may resolve elsewhere,
/// nor an app's own scheme, which any app can claim: nobody vouches for a site that
/// registers itself.
fn check_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let invalid = |why: String| metadata_error(ErrorCode::InvalidRedirectUri, why);
    let stricter = |url: &Url| {
        url.scheme() == "https" || (url.scheme() == "http" && is_loopback_ip_literal(url))
    };
    if Url::parse(uri).is_ok_and(|url| !stricter(&url)) {
        return Err(invalid(format!(
            "redirect URI {uri:?} must be https (or http on 127.0.0.1 or [::1] for native apps)"
        )));
    }
    validate_redirect_uri(uri).map_err(|e| invalid(e.to_string()))
}

fn strings(metadata: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(value) = metadata.get(name) else {
        return Ok(None);
    };
    let list = value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            metadata_error(
                ErrorCode::InvalidClientMetadata,
                format!("{name} must be an array of strings"),
            )
        })?;
    Ok(Some(list))
}

fn string<'a>(metadata: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthError> {
    match metadata.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(metadata_error(
            ErrorCode::InvalidClientMetadata,
            format!("{name} must be a string"),
        )),
    }
}

/// Where client metadata (RFC 7591 §2) comes from: the two differ in defaults and in what
/// they may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataSource<'a> {
    /// A registration request; the client may be confidential.
    Registration,
    /// The Client ID Metadata Document at this URL (the client's id): a public client,
    /// since it has no way to receive a secret; named after its host when it gives no name.
    Document { client_id: &'a Url },
}

/// The client a registration asks for, and the metadata as registered (the request's,
/// with defaults filled in and unknown fields left out).
fn client_from_metadata(body: &[u8]) -> Result<(ClientSettings, Value), OAuthError> {
    let Ok(Value::Object(metadata)) = serde_json::from_slice::<Value>(body) else {
        return Err(metadata_error(
            ErrorCode::InvalidClientMetadata,
            "the body must be a JSON object of client metadata",
        ));
    };
    settings_from_metadata(&metadata, MetadataSource::Registration)
}

/// Checks client metadata and turns it into a client's settings, and the metadata as
/// accepted (defaults filled in, unknown fields left out).
pub fn settings_from_metadata(
    metadata: &Map<String, Value>,
    source: MetadataSource,
) -> Result<(ClientSettings, Value), OAuthError> {
    let grant_types =
        strings(metadata, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(metadata_error(
            ErrorCode::InvalidClientMetadata,
            format!("grant type {bad:?} is not supported; use {GRANT_TYPES:?}"),
        ));
    }
    let redirected = grant_types.iter().any(|g| g == "authorization_code");
    // A device-only client (RFC 8628) is never redirected to.
    let redirect_uris = strings(metadata, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() && redirected {
        return Err(metadata_error(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required",
        ));
    }
    let post_logout_redirect_uris =
        strings(metadata, "post_logout_redirect_uris")?.unwrap_or_default();
    for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
        check_redirect_uri(uri)?;
    }
    let fallback_name = match source {
        MetadataSource::Registration => None,
        MetadataSource::Document { client_id } => client_id.host_str(),
    };
    let name = string(metadata, "client_name")?
        .map(str::trim)
        .or(fallback_name)
        .filter(|name| (1..=200).contains(&name.len()))
        .ok_or_else(|| {
            metadata_error(
                ErrorCode::InvalidClientMetadata,
                "client_name is required (1 to 200 characters): the consent page shows it",
            )
        })?;
    let (default_auth_method, auth_methods) = match source {
        MetadataSource::Registration => ("client_secret_basic", AUTH_METHODS),
        MetadataSource::Document { .. } => ("none", &["none"][..]),
    };
    let auth_method =
        string(metadata, "token_endpoint_auth_method")?.unwrap_or(default_auth_method);
    if !auth_methods.contains(&auth_method) {
        return Err(metadata_error(
            ErrorCode::InvalidClientMetadata,
            format!("token_endpoint_auth_method {auth_method:?} is not supported; use one of {auth_methods:?}"),
        ));
    }
    let code_response: &[&str] = if redirected { &["code"] } else { &[] };
    let response_types = strings(metadata, "response_types")?
        .unwrap_or_else(|| code_response.iter().map(|r| r.to_string()).collect());
    if response_types != code_response {
        return Err(metadata_error(
            ErrorCode::InvalidClientMetadata,
            format!("response_types must be {code_response:?} for these grant_types"),
        ));
    }
    let client_uri = string(metadata, "client_uri")?;
    if let Some(uri) = client_uri {
        if !Url::parse(uri).is_ok_and(|u| u.scheme() == "https") {
            return Err(metadata_error(
                ErrorCode::InvalidClientMetadata,
                "client_uri must be an https URL",
            ));
        }
    }
    let alg = match string(metadata, "id_token_signed_response_alg")? {
        None => SigningAlg::RS256,
        Some(alg) => SigningAlg::parse(alg).ok_or_else(|| {
            metadata_error(
                ErrorCode::InvalidClientMetadata,
                format!("id_token_signed_response_alg {alg:?} is not supported; use RS256, ES256 or EdDSA"),
            )
        })?,
    };
    let settings = ClientSettings {
        post_logout_redirect_uris: post_logout_redirect_uris.clone(),
        public: auth_method == "none",
        id_token_alg: alg,
        grant_types: allowed_grant_types(&grant_types),
        ..ClientSettings::new(name, redirect_uris.clone())
    };
    let mut registered = json!({
        "redirect_uris": redirect_uris,
        "client_name": name,
        "token_endpoint_auth_method": auth_method,
        "grant_types": grant_types,
        "response_types": response_types,
        "id_token_signed_response_alg": alg.as_str(),
    });
    if !post_logout_redirect_uris.is_empty() {
        registered["post_logout_redirect_uris"] = post_logout_redirect_uris.into();
    }
    if let Some(uri) = client_uri {
        registered["client_uri"] = uri.into();
    }
    Ok((settings, registered))
}

/// The grants a registered client may use: those it registered, and refresh tokens with
/// the code grant (for `offline_access`), as every client had before grant types were
/// registered.
fn allowed_grant_types(registered: &[String]) -> Vec<String> {
    let mut allowed = registered.to_vec();
    if allowed.iter().any(|g| g == "authorization_code")
        && !allowed.iter().any(|g| g == "refresh_token")
    {
        allowed.push("refresh_token".into());
    }
    allowed
}

fn registration_uri(app: &AppState, client_id: &str) -> String {
    let mut url = Url::parse(&app.oidc.issuer).expect("the issuer is a URL");
    url.path_segments_mut()
        .expect("an http(s) issuer has a path")
        .pop_if_empty()
        .extend(["register", client_id]);
    url.to_string()
}

pub async fn register(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !app.config.registration.is_open() {
        let mut closed = OAuthError::new(
            ErrorCode::AccessDenied,
            "client registration is closed here: ask the operator to register your site",
        )
        .into_response();
        *closed.status_mut() = StatusCode::FORBIDDEN;
        return closed;
    }
    // Refused metadata stores nothing, so only registrations count against the network.
    let (settings, mut registered) = match client_from_metadata(&body) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    if !app.admit_registration(app.client_ip(peer, &headers)) {
        let mut limited = OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "too many registrations from your network; try again later",
        );
        limited.retry_after = Some(60);
        return limited.into_response();
    }
    let token = random::token(32);
    let now = app.clock.now();
    let creds = match app
        .store
        .register_client(settings, &token, &registered, now)
        .await
    {
        Ok(creds) => creds,
        Err(ClientError::Invalid(why)) => {
            return metadata_error(ErrorCode::InvalidClientMetadata, why).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot register a client");
            return OAuthError::server_error().into_response();
        }
    };
    tracing::info!(client_id = %creds.client_id, "a client registered itself");
    registered["client_id"] = creds.client_id.clone().into();
    registered["client_id_issued_at"] = now.into();
    if let Some(secret) = creds.client_secret {
        registered["client_secret"] = secret.into();
        registered["client_secret_expires_at"] = 0.into();
    }
    registered["registration_access_token"] = token.into();
    registered["registration_client_uri"] = registration_uri(&app, &creds.client_id).into();
    no_store(StatusCode::CREATED, registered)
}

/// RFC 7592 §3: an invalid or missing token (or a client that is not self-registered)
/// answers 401, revealing nothing about whether the client exists.
async fn authorized(
    app: &AppState,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<Value, Response> {
    let unauthorized = || {
        let mut response = OAuthError::new(
            ErrorCode::InvalidToken,
            "send the registration access token as a Bearer token",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    };
    let Some(token) = bearer_token(headers) else {
        return Err(unauthorized());
    };
    match app.store.registered_client(client_id, token).await {
        Ok(Some((_, metadata))) => Ok(metadata),
        Ok(None) => Err(unauthorized()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a registered client");
            Err(OAuthError::server_error().into_response())
        }
    }
}

pub async fn read(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match authorized(&app, &client_id, &headers).await {
        Ok(mut metadata) => {
            metadata["client_id"] = client_id.clone().into();
            metadata["registration_client_uri"] = registration_uri(&app, &client_id).into();
            no_store(StatusCode::OK, metadata)
        }
        Err(response) => response,
    }
}

pub async fn delete(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorized(&app, &client_id, &headers).await {
        return response;
    }
    match app.store.remove_client(&client_id).await {
        Ok(()) => {
            tracing::info!(client_id = %client_id, "a self-registered client deleted itself");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot delete a registered client");
            OAuthError::server_error().into_response()
        }
    }
}
