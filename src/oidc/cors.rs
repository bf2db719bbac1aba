//! CORS, so that browser apps (single-page apps: public clients with PKCE) can use the
//! endpoints they call with `fetch`.
//!
//! Discovery and the JWKS are public documents: any origin may read them. The token,
//! userinfo and revocation endpoints answer only the web origins of the calling client's
//! registered redirect URIs (client-based CORS, as node-oidc-provider and Keycloak's "web
//! origins" do), so a page elsewhere cannot read what they say about that client's tokens.
//! Never with credentials: these endpoints take the client and the token from the request
//! itself, never from the browser's cookies.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{Any, CorsLayer};

use super::client_auth::{basic_credentials, MAX_CREDENTIAL_LEN};
use super::params::Params;
use super::userinfo::bearer_token;
use crate::state::{AppState, LookupError};
use crate::store::clients::Client;

/// The endpoints with client-based CORS.
const CLIENT_BASED: &[&str] = &["/token", "/userinfo", "/revoke"];

/// No origin is longer (scheme, a 253-byte host, a port); a longer header never reaches
/// the database.
const MAX_ORIGIN_LEN: usize = 300;

/// Discovery, RFC 8414 metadata and the JWKS: readable from any origin.
pub fn public() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET])
}

/// Client-based CORS for [`CLIENT_BASED`], preflights included; other paths pass through.
/// A layer over the whole router (it needs the state, which `oidc::router` does not have).
pub async fn client_based(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !CLIENT_BASED.contains(&path.as_str()) {
        return next.run(request).await;
    }
    // "null" (sandboxed frames, app schemes) is the origin of no client.
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| o.len() <= MAX_ORIGIN_LEN && *o != "null")
        .map(str::to_owned);
    let mut response = match origin {
        None => next.run(request).await,
        Some(origin) if is_preflight(&request) => preflight(&app, &path, &origin).await,
        Some(origin) => actual(&app, &path, origin, request, next).await,
    };
    // The answer depends on Origin: no cache may hand it to another origin.
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A preflight carries no body and so no client: the origin passes if it is the origin of
/// some client. The request that follows is checked against its own client.
async fn preflight(app: &AppState, path: &str, origin: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if !allowed_for_any_client(app, origin).await {
        return response;
    }
    let methods = if path == "/userinfo" {
        "GET, POST"
    } else {
        "POST"
    };
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    let set = |headers: &mut HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    set(
        headers,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Authorization, Content-Type",
    );
    set(headers, header::ACCESS_CONTROL_MAX_AGE, "600");
    response
}

/// The request itself: allowed when the origin is one of the calling client's. The body is
/// read here to find the client (`client_id`, `access_token`) and handed on unchanged.
async fn actual(
    app: &AppState,
    path: &str,
    origin: String,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // As the endpoints read it: the body limit's 413 stays a 413.
    let body = match Bytes::from_request(Request::new(body), &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let allowed = match calling_client(app, path, &parts.headers, &body).await {
        Ok(Some(client)) => client.has_web_origin(&origin),
        // No client named, none by that name or token, or a metadata document that cannot
        // be had: the answer (an error) tells nothing about any client, so it is readable
        // where a preflight would pass.
        Ok(None) | Err(LookupError::Document(_)) => allowed_for_any_client(app, &origin).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot find the client for CORS");
            false
        }
    };
    let mut response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if allowed {
        let headers = response.headers_mut();
        allow_origin(headers, &origin);
        // Errors explain themselves there (RFC 6750 §3, RFC 6749 §5.2) and in Retry-After.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, Retry-After"),
        );
    }
    response
}

/// The client a request is from: for `/userinfo` the access token's, elsewhere the one it
/// authenticates as (HTTP Basic or `client_id`).
async fn calling_client(
    app: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Client>, LookupError> {
    let params = Params::from_form(headers, body).unwrap_or_default();
    let client_id = if path == "/userinfo" {
        let Some(token) = bearer_token(headers).or_else(|| params.get("access_token")) else {
            return Ok(None);
        };
        match app.store.token(token).await? {
            Some(row) => row.grant.client_id,
            None => return Ok(None),
        }
    } else {
        match basic_credentials(headers)
            .map(|(id, _)| id)
            .or_else(|| params.get("client_id").map(str::to_owned))
        {
            Some(id) if id.len() <= MAX_CREDENTIAL_LEN => id,
            _ => return Ok(None),
        }
    };
    app.registered_client(&client_id).await
}

async fn allowed_for_any_client(app: &AppState, origin: &str) -> bool {
    let documents = app.metadata_documents.as_ref();
    if documents.is_some_and(|documents| documents.is_known_origin(origin)) {
        return true;
    }
    app.store
        .is_client_origin(origin)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the clients' origins for CORS");
            false
        })
}

/// The origin itself, never `*`, and never `Access-Control-Allow-Credentials`.
fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
}
