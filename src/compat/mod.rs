//! The HTTPAuthenticationOverXMPP-compatible API: `GET|POST /auth`.
//!
//! Same parameters and status codes as the component it replaces (200 accepted, 400 bad
//! or missing parameter, 401 denied or timed out, 520 unknown error, 523 XMPP unreachable),
//! plus 429 for rate limits, and one difference: the caller authenticates as a registered
//! client with HTTP Basic, because an unauthenticated endpoint that sends prompts to any
//! JID is a prompt-bombing service.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use fluent_templates::LanguageIdentifier;
use url::Url;

use crate::config::MAX_CONFIRM_TIMEOUT_SECS;
use crate::i18n::Lang;
use crate::oidc::client_auth::basic_credentials;
use crate::random;
use crate::state::AppState;
use crate::store::clients::{burn_secret_check, Client};
use crate::xmpp::address::UserJid;
use crate::xmpp::confirm::{is_refusal_word, ConfirmRequest, RequestError, Status};
use crate::xmpp::limits::Requester;
use crate::xmpp::stanzas::{Purpose, RequestText};

/// Cloudflare's "origin is unreachable", as the original component uses it.
const UNREACHABLE: u16 = 523;
/// Cloudflare's "unknown error", as the original component uses it.
const UNKNOWN_ERROR: u16 = 520;
const MAX_TRANSACTION_ID_LEN: usize = 64;
const MAX_METHOD_LEN: usize = 16;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth", get(auth_get).post(auth_post))
}

type Params = HashMap<String, String>;

async fn auth_get(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let ip = app.client_ip(peer, &headers);
    auth(app, ip, headers, params).await
}

async fn auth_post(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    let ip = app.client_ip(peer, &headers);
    auth(app, ip, headers, params).await
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Accepted,
    BadRequest(String),
    Unauthenticated,
    Refused,
    /// The client's access policy does not let this address in: nothing is sent.
    NotAllowed(String),
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    Unreachable(String),
    UnknownError,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = |code: u16| StatusCode::from_u16(code).expect("valid status code");
        match self {
            Reply::Accepted => (StatusCode::OK, "accepted\n").into_response(),
            Reply::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
            Reply::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"jidconnect\"")],
                "client authentication failed: send the client id and secret with HTTP Basic\n",
            )
                .into_response(),
            Reply::Refused => (StatusCode::UNAUTHORIZED, "denied or timed out\n").into_response(),
            Reply::NotAllowed(why) => (StatusCode::FORBIDDEN, format!("{why}\n")).into_response(),
            Reply::RateLimited {
                message,
                retry_after,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(
                    header::RETRY_AFTER,
                    retry_after.as_secs().max(1).to_string(),
                )],
                format!("{message}\n"),
            )
                .into_response(),
            Reply::Unreachable(why) => (status(UNREACHABLE), format!("{why}\n")).into_response(),
            Reply::UnknownError => (status(UNKNOWN_ERROR), "unknown error\n").into_response(),
        }
    }
}

async fn auth(app: AppState, ip: IpAddr, headers: HeaderMap, params: Params) -> Response {
    let client_id = basic_credentials(&headers)
        .map(|(id, _)| id)
        .unwrap_or_default();
    if let Some(wait) = app.auth_failures().wait(&client_id, ip, Instant::now()) {
        return Reply::RateLimited {
            message: "too many failed client authentications; try again later".into(),
            retry_after: wait,
        }
        .into_response();
    }
    let client = match authenticate(&app, &headers).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            app.auth_failures().record(&client_id, ip, Instant::now());
            return Reply::Unauthenticated.into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return Reply::UnknownError.into_response();
        }
    };
    // The caller is the website's server, not the person's browser: its IP says nothing
    // about who asks, and a per-IP limit would throttle the whole site. The per-JID,
    // per-domain, per-client and global limits still apply.
    let request = match parse_request(&app, &client, &params) {
        Ok(request) => request,
        Err(reply) => return reply.into_response(),
    };
    match crate::access::may_log_in(&app.store, &client, request.jid.subject()).await {
        Ok(true) => {}
        Ok(false) => {
            let why = crate::login::not_allowed_message(
                request.jid.subject(),
                &client.settings.name,
                Lang::default(),
            );
            return Reply::NotAllowed(why).into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "access policy lookup failed");
            return Reply::UnknownError.into_response();
        }
    }
    let confirmation = match app.dispatcher.request(request).await {
        Ok(confirmation) => confirmation,
        Err(RequestError::Refused(refused)) => {
            return Reply::RateLimited {
                message: refused.reason.to_string(),
                retry_after: refused.retry_after,
            }
            .into_response()
        }
        Err(e @ RequestError::Disconnected) => {
            return Reply::Unreachable(e.to_string()).into_response()
        }
    };
    match confirmation.outcome().await {
        Status::Accepted => Reply::Accepted,
        Status::Denied | Status::Expired => Reply::Refused,
        Status::Unreachable => Reply::Unreachable("the XMPP address cannot be reached".into()),
        Status::Sent | Status::Withdrawn => Reply::UnknownError,
    }
    .into_response()
}

/// HTTP Basic with the client id and secret, form-decoded as RFC 6749 §2.3.1 says.
async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Option<Client>, sqlx::Error> {
    let Some((id, secret)) = basic_credentials(headers) else {
        return Ok(None);
    };
    let Some(client) = app.store.client(&id).await? else {
        burn_secret_check(&secret);
        return Ok(None);
    };
    Ok(client.secret_matches(&secret).then_some(client))
}

fn parse_request(
    app: &AppState,
    client: &Client,
    params: &Params,
) -> Result<ConfirmRequest, Reply> {
    let required = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Reply::BadRequest(format!("missing mandatory parameter: {name}")))
    };
    let jid = UserJid::parse(required("jid")?).map_err(|e| Reply::BadRequest(e.to_string()))?;
    let code = required("transaction_id")?;
    if code.chars().count() > MAX_TRANSACTION_ID_LEN || code.chars().any(char::is_control) {
        return Err(Reply::BadRequest(format!(
            "transaction_id must be 1 to {MAX_TRANSACTION_ID_LEN} printable characters"
        )));
    }
    if is_refusal_code(code) {
        return Err(Reply::BadRequest(format!(
            "transaction_id {code:?} reads as a refusal (such as \"no\"): a person answering \
             \"no\" would confirm it; choose another transaction_id"
        )));
    }
    let method = params.get("method").map(String::as_str).unwrap_or("GET");
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Err(Reply::BadRequest(
            "method must be an HTTP method such as GET or POST".into(),
        ));
    }
    let lang = language_of(client, params.get("lang").map(String::as_str))?;
    let url = page_of(client, params.get("domain").filter(|d| !d.is_empty()))?;
    let default_timeout = app.config.xmpp.confirm_timeout_secs;
    let timeout = match params.get("timeout").filter(|t| !t.is_empty()) {
        None => default_timeout,
        Some(t) => match t.parse::<i64>() {
            Ok(secs) if secs <= 0 => default_timeout,
            Ok(secs) => (secs as u64).min(MAX_CONFIRM_TIMEOUT_SECS),
            Err(_) => {
                return Err(Reply::BadRequest(
                    "timeout must be a number of seconds".into(),
                ))
            }
        },
    };
    Ok(ConfirmRequest {
        jid,
        text: RequestText {
            code: code.clone(),
            method: method.to_ascii_uppercase(),
            url,
            requester: client.settings.name.clone(),
            origin: None,
            purpose: Purpose::SiteCheck,
            lang,
        },
        requester: Requester {
            client_id: Some(client.client_id.clone()),
            ..Requester::default()
        },
        timeout: Duration::from_secs(timeout),
    })
}

/// The request's language: `lang` (a BCP 47 tag; `fr-CA` is French), else the client's
/// `--language`, else English. A language that does not ship falls back the same way: the
/// caller may pass the visitor's browser language as it is.
fn language_of(client: &Client, lang: Option<&str>) -> Result<Lang, Reply> {
    let fallback = || {
        client
            .settings
            .language
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or_default()
    };
    match lang.filter(|l| !l.is_empty()) {
        None => Ok(fallback()),
        Some(tag) if tag.len() > 35 || tag.parse::<LanguageIdentifier>().is_err() => Err(
            Reply::BadRequest("lang must be a language tag such as fr or de-AT".into()),
        ),
        Some(tag) => Ok(Lang::parse(tag).unwrap_or_else(fallback)),
    }
}

/// Whether some plain-text reply would be both a refusal and this code: such a code would
/// turn the person's "no" into a yes. A typed code is compared without case, spaces and
/// dashes (`random::code_key`), a refusal without case, outer spaces and a trailing `.`
/// or `!`; both forms are checked.
fn is_refusal_code(code: &str) -> bool {
    is_refusal_word(code) || is_refusal_word(&random::code_key(code))
}

/// The page the request names: the caller's `domain`, which must be the host of one of the
/// client's redirect URIs (a caller must not make its request name another site, or
/// jidconnect itself), or without one the site of its first redirect URI.
fn page_of(client: &Client, domain: Option<&String>) -> Result<String, Reply> {
    let hosts: Vec<String> = client
        .settings
        .redirect_uris
        .iter()
        .filter_map(|uri| Url::parse(uri).ok())
        .filter(|uri| matches!(uri.scheme(), "http" | "https"))
        .filter_map(|uri| uri.host_str().map(str::to_owned))
        .collect();
    let Some(domain) = domain else {
        return hosts
            .first()
            .and_then(|host| site_url(host))
            .ok_or_else(|| {
                Reply::BadRequest(
                    "this client has no http(s) redirect URI to name its site: give domain, \
                     and register a redirect URI on that host"
                        .into(),
                )
            });
    };
    let url = site_url(domain)
        .ok_or_else(|| Reply::BadRequest(format!("domain {domain:?} is not a host name or URL")))?;
    let host = Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    if host.is_some_and(|host| hosts.contains(&host)) {
        Ok(url)
    } else {
        Err(Reply::BadRequest(format!(
            "domain {domain:?} is not the host of one of this client's redirect URIs \
             ({}): register a redirect URI on that host (jidconnect client update \
             --redirect-uri)",
            hosts.join(", ")
        )))
    }
}

/// `domain` as a URL (XEP-0070 wants a URL; the original component sent the bare domain).
fn site_url(domain: &str) -> Option<String> {
    if let Ok(url) = Url::parse(domain) {
        if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
            return Some(url.to_string());
        }
    }
    let mut url = Url::parse("https://placeholder.invalid/").expect("valid literal");
    url.set_host(Some(domain)).ok()?;
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_become_urls() {
        assert_eq!(site_url("agayon.be").as_deref(), Some("https://agayon.be/"));
        assert_eq!(
            site_url("https://wiki.example/login").as_deref(),
            Some("https://wiki.example/login")
        );
        assert_eq!(site_url("bad domain/x"), None);
    }

    #[test]
    fn refusal_words_are_not_codes() {
        for code in [
            "no", "N", " Deny! ", "nein.", "REJECT", "non!", "n-o", "N O", "nee.!", "NEJ",
        ] {
            assert!(is_refusal_code(code), "{code:?}");
        }
        for code in [
            "NOPE-2222",
            "NO22-TEXT",
            "yes",
            "not",
            "denied",
            "WK7X-P4QA",
            ".",
        ] {
            assert!(!is_refusal_code(code), "{code:?}");
        }
    }
}
