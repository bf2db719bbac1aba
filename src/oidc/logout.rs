//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `end_session_endpoint`.
//! The session ends at once only for an `id_token_hint` about the person logged in here,
//! issued to a registered client; otherwise the person confirms on a page, whose form
//! carries `client_id`, `post_logout_redirect_uri` and `state` on to the POST. A
//! `post_logout_redirect_uri` is followed only when registered for the client, checked
//! again on that POST.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;
use url::Url;

use super::hint;
use super::params::Params;
use crate::i18n::{self, Lang};
use crate::state::{AppState, LookupError};
use crate::store::oidc::digest;
use crate::web::{error_page, removed_cookie, BROWSER_COOKIE, SESSION_COOKIE};

#[derive(Template, WebTemplate)]
#[template(path = "logout.html")]
struct LogoutPage {
    l: Lang,
    done: bool,
    csrf: String,
    /// Carried through the confirmation form (empty: none).
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

impl LogoutPage {
    fn done() -> Self {
        Self {
            l: i18n::current(),
            done: true,
            csrf: String::new(),
            client_id: String::new(),
            post_logout_redirect_uri: String::new(),
            state: String::new(),
        }
    }
}

fn logout_csrf(app: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(BROWSER_COOKIE.on(app.secure_cookies()))
        .map(|c| digest(&format!("logout:{}", c.value())))
}

pub async fn logout_get(
    State(app): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    logout(app, jar, params, false).await
}

pub async fn logout_post(
    State(app): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from_form(&headers, &body).unwrap_or_default();
    let confirmed = match (params.get("csrf"), logout_csrf(&app, &jar)) {
        (Some(sent), Some(expected)) => bool::from(sent.as_bytes().ct_eq(expected.as_bytes())),
        (Some(_), None) => false,
        (None, _) => return logout(app, jar, params, false).await,
    };
    if !confirmed {
        let l = i18n::current();
        return error_page(
            l,
            StatusCode::FORBIDDEN,
            &l.t("logout-not-confirmed-title"),
            &l.t("logout-not-confirmed"),
            &l.t("logout-not-confirmed-next"),
        );
    }
    logout(app, jar, params, true).await
}

async fn logout(app: AppState, jar: CookieJar, params: Params, confirmed: bool) -> Response {
    let l = i18n::current();
    let invalid = |message: &str| {
        error_page(
            l,
            StatusCode::BAD_REQUEST,
            &l.t("logout-invalid-title"),
            &l.t(message),
            &l.t("logout-invalid-next"),
        )
    };
    let hint = match params.get("id_token_hint") {
        Some(token) => match hint::verify(&app.oidc, token) {
            Some(hint) => Some(hint),
            None => return invalid("logout-bad-hint"),
        },
        None => None,
    };
    let client_id = match (
        hint.as_ref().and_then(|h| h.client_id()),
        params.get("client_id"),
    ) {
        (Some(a), Some(b)) if a != b => return invalid("logout-hint-mismatch"),
        (Some(id), _) | (None, Some(id)) => Some(id.to_owned()),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => match app.registered_client(id).await {
            Ok(client) => client,
            // Then no post_logout_redirect_uri is registered for it.
            Err(LookupError::Document(_)) => None,
            Err(LookupError::Database(e)) => {
                return crate::error::InternalError::from(e).into_response()
            }
        },
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            if client_id.is_none() {
                return invalid("logout-redirect-needs-client");
            }
            let registered = client.as_ref().is_some_and(|c| {
                c.settings
                    .post_logout_redirect_uris
                    .iter()
                    .any(|u| u == uri)
            });
            if !registered {
                return invalid("logout-bad-redirect");
            }
            Some(uri.to_owned())
        }
    };
    let session = match jar.get(SESSION_COOKIE.on(app.secure_cookies())) {
        Some(cookie) => match app.store.session(cookie.value(), app.clock.now()).await {
            Ok(session) => session,
            Err(e) => return crate::error::InternalError::from(e).into_response(),
        },
        None => None,
    };
    // A hint alone proves nothing about who sent this browser here (any ID token, even an
    // old one or someone else's, would do): it ends the session without asking only when
    // it names the person logged in here and was issued to a registered client. Without a
    // session there is nothing to end, and so nothing to confirm.
    let hint_matches = hint.as_ref().is_some_and(|hint| {
        client.is_some()
            && hint.client_id() == client_id.as_deref()
            && session
                .as_ref()
                .is_none_or(|session| session.subject == hint.sub)
    });
    if !hint_matches && !confirmed {
        return LogoutPage {
            l: i18n::current(),
            done: false,
            csrf: logout_csrf(&app, &jar).unwrap_or_default(),
            client_id: client_id.unwrap_or_default(),
            post_logout_redirect_uri: redirect.unwrap_or_default(),
            state: params.get("state").map(str::to_owned).unwrap_or_default(),
        }
        .into_response();
    }
    if let Some(cookie) = jar.get(SESSION_COOKIE.on(app.secure_cookies())) {
        if let Err(e) = app.store.end_session(cookie.value()).await {
            return crate::error::InternalError::from(e).into_response();
        }
    }
    if let Some(browser) = jar.get(BROWSER_COOKIE.on(app.secure_cookies())) {
        if let Err(e) = app.store.end_browser_flows(&digest(browser.value())).await {
            return crate::error::InternalError::from(e).into_response();
        }
    }
    let jar = jar.remove(removed_cookie(SESSION_COOKIE, app.secure_cookies()));
    match redirect {
        Some(uri) => {
            let mut url = Url::parse(&uri).expect("registered URIs are valid URLs");
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            (jar, Redirect::to(url.as_str())).into_response()
        }
        None => (jar, LogoutPage::done()).into_response(),
    }
}
