//! Devices (RFC 8628): the page where the person types the code a TV or a command-line
//! tool shows (`verification_uri`, and `verification_uri_complete` with the code filled
//! in), and what ends a device's login flow. From the code on, it is a login like any
//! other (JID form, send-the-code, XMPP confirmation, consent), except that it ends on a
//! page that says to go back to the device instead of a redirect. The person can also
//! send the code from their XMPP app: then the confirmation request is the whole login.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::i18n::{Lang, Prefs};
use crate::oidc::authorize::{browser_binding, grant_for};
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::random;
use crate::state::AppState;
use crate::store::clients::Client;
use crate::store::device::{DeviceAuthorization, TakeError};
use crate::store::oidc::{digest, FlowStatus, LoginFlow};

pub fn router() -> Router<AppState> {
    Router::new().route("/device", get(show).post(take))
}

#[derive(Template, WebTemplate)]
#[template(path = "device.html")]
struct CodePage {
    l: Lang,
    csrf: String,
    user_code: String,
    error: Option<String>,
}

/// The end of a device's login in the browser: allowed, refused or cancelled.
#[derive(Template, WebTemplate)]
#[template(path = "device_done.html")]
pub struct DonePage<'a> {
    pub l: Lang,
    pub client_name: &'a str,
    pub allowed: bool,
}

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    user_code: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
}

/// The form's CSRF token: derived from the browser cookie (there is no flow yet to hold
/// one), so only a page this browser was shown can send it.
fn form_token(browser: &str) -> String {
    hex::encode(Sha256::digest(format!("device-form:{browser}").as_bytes()))
}

/// GET only shows the form, even with the code filled in: a link preview or prefetch of
/// `verification_uri_complete` must not take the code.
async fn show(
    State(app): State<AppState>,
    jar: CookieJar,
    prefs: Prefs,
    Query(query): Query<CodeQuery>,
) -> Response {
    let (jar, browser) = browser_binding(&app, jar);
    let user_code = random::code_key(&query.user_code);
    let page = CodePage {
        l: prefs.page(),
        csrf: form_token(&browser),
        user_code: display_code(&user_code),
        error: None,
    };
    (jar, page).into_response()
}

/// `K7XM4QPA` as shown on the device: `K7XM-4QPA`.
fn display_code(key: &str) -> String {
    if key.len() == 8 && key.is_ascii() {
        format!("{}-{}", &key[..4], &key[4..])
    } else {
        key.chars().take(16).collect()
    }
}

async fn take(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    prefs: Prefs,
    Form(form): Form<CodeForm>,
) -> Response {
    let (jar, browser) = browser_binding(&app, jar);
    let csrf = form_token(&browser);
    let user_code = display_code(&random::code_key(&form.user_code));
    let l = prefs.page();
    let again = |status: StatusCode, error: &str| {
        let page = CodePage {
            l,
            csrf: csrf.clone(),
            user_code: user_code.clone(),
            error: Some(l.t(error)),
        };
        (status, jar.clone(), page).into_response()
    };
    if !bool::from(form.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
        return again(StatusCode::FORBIDDEN, "device-bad-form");
    }
    // Each try counts like a login page: user codes must not be guessable by trying.
    if !app.admit_new_flow(app.client_ip(peer, &headers)) {
        return again(StatusCode::TOO_MANY_REQUESTS, "device-too-many");
    }
    let now = app.clock.now();
    match app
        .store
        .take_user_code(&user_code, &digest(&browser), now)
        .await
    {
        Ok(Ok(flow_id)) => {
            // From here the login speaks the browser's language, not the device's.
            if let Err(e) = app.store.set_flow_lang(&flow_id, l.tag()).await {
                return crate::error::InternalError::from(e).into_response();
            }
            (jar, Redirect::to(&format!("/login/{flow_id}"))).into_response()
        }
        Ok(Err(TakeError::Unknown)) => again(StatusCode::NOT_FOUND, "device-unknown-code"),
        Ok(Err(TakeError::Taken)) => again(StatusCode::CONFLICT, "device-code-taken"),
        Err(e) => crate::error::InternalError::from(e).into_response(),
    }
}

/// The person confirmed and consented: the grant waits for the device's next poll.
/// Refused (and the device told) when the client's access policy does not let them in.
pub async fn approve(
    app: &AppState,
    client: &Client,
    flow: &LoginFlow,
    subject: &str,
    auth_time: i64,
    session_hash: Option<&str>,
) -> Result<String, OAuthError> {
    let grant_id = match grant_for(app, client, flow, subject, auth_time, session_hash).await {
        Ok(grant_id) => grant_id,
        Err(refused) if refused.code == ErrorCode::AccessDenied => {
            app.store.deny_device(&flow.id).await?;
            return Err(refused);
        }
        Err(e) => return Err(e),
    };
    if !app.store.approve_device(&flow.id, &grant_id).await? {
        app.store.revoke_grant(&grant_id).await?;
        return Err(OAuthError::invalid_grant(
            "the device login ended meanwhile",
        ));
    }
    Ok(grant_id)
}

/// For a device poll: the grant of a login the person confirmed from their XMPP app (no
/// browser finishes it), `None` while they have not. Their "no" is final for the device.
pub async fn approved_over_xmpp(
    app: &AppState,
    client: &Client,
    device: &DeviceAuthorization,
) -> Result<Option<String>, OAuthError> {
    if device.bound {
        return Ok(None);
    }
    let Some(flow) = app.store.flow(&device.flow_id).await? else {
        return Ok(None);
    };
    match (flow.status, flow.jid.as_deref(), flow.auth_time) {
        (FlowStatus::Accepted, Some(subject), Some(auth_time)) => {
            if !app.store.finish_flow(&flow.id, subject, auth_time).await? {
                return Ok(None);
            }
            approve(app, client, &flow, subject, auth_time, None)
                .await
                .map(Some)
        }
        (FlowStatus::Denied, ..) => {
            app.store.deny_device(&flow.id).await?;
            Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the person refused the login",
            ))
        }
        _ => Ok(None),
    }
}

/// The page after the person allowed the device (or refused, or cancelled).
pub fn done_page(client: &Client, allowed: bool, l: Lang) -> Response {
    DonePage {
        l,
        client_name: &client.settings.name,
        allowed,
    }
    .into_response()
}
