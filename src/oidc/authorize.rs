//! The authorization endpoint (OIDC Core §3.1.2), GET and POST.
//!
//! First the client and its redirect URI are verified; until both are, errors go to an
//! error page and never to a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2). Then an
//! ordered pipeline of small checks runs; their errors go back to the client with `state`
//! and `iss` (RFC 9207). Finally the decision: a silent answer from the SSO session, the
//! consent page, or the login page.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use url::Url;

use super::claims::with_claimed_scopes;
use super::error::{ErrorCode, OAuthError};
use super::hint;
use super::params::{Params, MAX_VALUE_LEN};
use crate::error::InternalError;
use crate::i18n::{self, Prefs};
use crate::login::notice::Visitor;
use crate::random;
use crate::state::{AppState, LookupError};
use crate::store::clients::Client;
use crate::store::oidc::{
    digest, FlowEnd, FlowStatus, LoginFlow, NewCode, NewGrant, NewSession, Session,
};
use crate::web::{cookie, error_page, BROWSER_COOKIE, SESSION_COOKIE};

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Granted scopes, space-separated; always includes `openid`.
    pub scope: String,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub claims: Option<String>,
    /// The subject of a valid `id_token_hint`.
    pub hint_subject: Option<String>,
}

impl AuthorizationRequest {
    fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

type Check = fn(&AppState, &Params, &mut AuthorizationRequest) -> Result<(), OAuthError>;

/// The checks after client and redirect URI, in order; the first failure is reported.
const PIPELINE: &[(&str, Check)] = &[
    ("parameters", check_parameters),
    ("request objects", check_request_objects),
    ("response_type", check_response_type),
    ("grant type", check_grant_type),
    ("response_mode", check_response_mode),
    ("scope", check_scope),
    ("pkce", check_pkce),
    ("prompt", check_prompt),
    ("max_age", check_max_age),
    ("claims", check_claims),
    ("id_token_hint", check_id_token_hint),
];

pub async fn authorize_get(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    prefs: Prefs,
    RawQuery(query): RawQuery,
) -> Response {
    let visitor = Visitor::new(&app, peer, &headers);
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let lang = prefs.choose(params.get("ui_locales"));
    i18n::scoped(lang, authorize(app, jar, params, visitor)).await
}

pub async fn authorize_post(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    prefs: Prefs,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&app, peer, &headers);
    match Params::from_form(&headers, &body) {
        Some(params) => {
            let lang = prefs.choose(params.get("ui_locales"));
            i18n::scoped(lang, authorize(app, jar, params, visitor)).await
        }
        None => bad_request_page(&i18n::current().t("error-not-a-form")),
    }
}

/// The page for a request that cannot go back to the site, in the language it asked for.
fn bad_request_page(message: &str) -> Response {
    let l = i18n::current();
    error_page(
        l,
        StatusCode::BAD_REQUEST,
        &l.t("error-bad-link-title"),
        message,
        &l.t("error-bad-link-next"),
    )
}

async fn authorize(app: AppState, jar: CookieJar, params: Params, visitor: Visitor) -> Response {
    let (client, redirect_uri) = match verify_client(&app, &params).await {
        Ok(verified) => verified,
        Err(page) => return page,
    };
    // Echo `state` only if it is sane; an oversized one is itself the error.
    let state = params
        .get("state")
        .filter(|s| s.len() <= MAX_VALUE_LEN)
        .map(str::to_owned);
    let mut request = AuthorizationRequest {
        client,
        redirect_uri,
        state: state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        scope: String::new(),
        code_challenge: None,
        prompt: vec![],
        max_age: None,
        login_hint: params.get("login_hint").map(str::to_owned),
        claims: None,
        hint_subject: None,
    };
    for (name, check) in PIPELINE {
        if let Err(error) = check(&app, &params, &mut request) {
            tracing::info!(
                check = name,
                error = error.code.as_str(),
                "authorization request refused"
            );
            return error.redirect(&request.redirect_uri, state.as_deref(), &app.oidc.issuer);
        }
    }
    match decide(&app, jar, request.clone(), &visitor).await {
        Ok(response) => response,
        Err(OAuthError {
            code: ErrorCode::ServerError,
            ..
        }) => InternalError::from(anyhow::anyhow!("authorization failed")).into_response(),
        Err(error) => error.redirect(&request.redirect_uri, state.as_deref(), &app.oidc.issuer),
    }
}

/// Client, then redirect URI by exact string match (RFC 9700 §2.1). Failures get a page.
async fn verify_client(app: &AppState, params: &Params) -> Result<(Client, String), Response> {
    let l = i18n::current();
    for name in ["client_id", "redirect_uri"] {
        if params.duplicated() == Some(name) {
            return Err(bad_request_page(&l.t1(
                "error-repeated-parameter",
                "name",
                name,
            )));
        }
    }
    let client_id = params
        .get("client_id")
        .ok_or_else(|| bad_request_page(&l.t("error-no-client")))?;
    let client = match app.lookup_client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(bad_request_page(&l.t("error-unknown-client"))),
        Err(LookupError::Document(why)) => {
            tracing::info!(error = %why, "authorization request refused: metadata document");
            return Err(bad_request_page(&l.t1(
                "error-bad-document",
                "why",
                &why.to_string(),
            )));
        }
        Err(LookupError::Database(e)) => return Err(InternalError::from(e).into_response()),
    };
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| bad_request_page(&l.t("error-no-redirect-uri")))?;
    if !client.accepts_redirect_uri(redirect_uri) {
        return Err(bad_request_page(&l.t("error-bad-redirect-uri")));
    }
    Ok((client, redirect_uri.to_owned()))
}

fn check_parameters(
    _: &AppState,
    params: &Params,
    _: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
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
    for (name, limit) in STORED_LIMITS {
        if params.get(name).is_some_and(|value| value.len() > *limit) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is too long (at most {limit} bytes)"
            )));
        }
    }
    Ok(())
}

/// What a login flow stores of the caller's text, at most: anyone can open `/authorize`,
/// so a stored flow stays small. Ample for real relying parties (an encrypted `state` of
/// a few hundred bytes, a nonce of 32 to 64).
const STORED_LIMITS: &[(&str, usize)] = &[
    ("state", 2048),
    ("nonce", 512),
    ("login_hint", 512),
    ("claims", 2048),
];

fn check_request_objects(
    _: &AppState,
    params: &Params,
    _: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    if params.has("request") {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.has("request_uri") {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    Ok(())
}

fn check_response_type(
    _: &AppState,
    params: &Params,
    _: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    match params.get("response_type") {
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        )),
        None => Err(OAuthError::invalid_request("response_type is required")),
    }
}

/// A client limited to other grants (a device-only client) gets no code.
fn check_grant_type(
    _: &AppState,
    _: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    if request.client.settings.allows_grant("authorization_code") {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        ))
    }
}

fn check_response_mode(
    _: &AppState,
    params: &Params,
    _: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    match params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(
            "only response_mode=query is supported",
        )),
    }
}

/// `openid` is required; scopes the client may not have (or nobody knows) are dropped.
fn check_scope(
    _: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    request.scope = granted_scope(&request.client, params.get("scope"))?;
    Ok(())
}

/// What `client` gets of the scopes it asks for: `openid` is required; scopes it may not
/// have (or nobody knows) are dropped. Also for device authorization requests.
pub fn granted_scope(client: &Client, asked: Option<&str>) -> Result<String, OAuthError> {
    let asked: Vec<&str> = asked.unwrap_or_default().split_whitespace().collect();
    if !asked.contains(&"openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the openid scope is required",
        ));
    }
    let mut granted: Vec<&str> = Vec::new();
    for scope in asked {
        if client.allows_scope(scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

/// S256 only (RFC 9700 §2.1.1); required for public clients, optional for confidential ones.
fn check_pkce(
    _: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, None) if request.client.settings.public => Err(OAuthError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        )),
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        (Some(_), method) if method != Some("S256") => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(challenge), _) => {
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(OAuthError::invalid_request(
                    "code_challenge is not a base64url SHA-256 digest",
                ));
            }
            request.code_challenge = Some(challenge.to_owned());
            Ok(())
        }
    }
}

fn check_prompt(
    _: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    let prompt: Vec<String> = params
        .get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for value in &prompt {
        if !["none", "login", "consent", "select_account"].contains(&value.as_str()) {
            return Err(OAuthError::invalid_request(format!(
                "unknown prompt value {value}"
            )));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|p| p == "none") {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    request.prompt = prompt;
    Ok(())
}

fn check_max_age(
    _: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    if let Some(max_age) = params.get("max_age") {
        let parsed = max_age
            .parse::<i64>()
            .ok()
            .filter(|m| *m >= 0)
            .ok_or_else(|| OAuthError::invalid_request("max_age must be a number of seconds"))?;
        request.max_age = Some(parsed);
    }
    Ok(())
}

/// The `claims` parameter must be a JSON object; its known claims are honoured.
fn check_claims(
    _: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    if let Some(claims) = params.get("claims") {
        let parsed: serde_json::Value = serde_json::from_str(claims)
            .map_err(|_| OAuthError::invalid_request("claims is not valid JSON"))?;
        if !parsed.is_object() {
            return Err(OAuthError::invalid_request("claims must be a JSON object"));
        }
        request.claims = Some(claims.to_owned());
    }
    Ok(())
}

fn check_id_token_hint(
    app: &AppState,
    params: &Params,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuthError> {
    if let Some(token) = params.get("id_token_hint") {
        let hint = hint::verify(&app.oidc, token).ok_or_else(|| {
            OAuthError::invalid_request("id_token_hint is not a valid ID token from this provider")
        })?;
        request.hint_subject = Some(hint.sub);
    }
    Ok(())
}

/// The session from the cookie, if it still satisfies the request.
async fn current_session(
    app: &AppState,
    jar: &CookieJar,
    now: i64,
) -> Result<Option<Session>, OAuthError> {
    let Some(cookie) = jar.get(SESSION_COOKIE.on(app.secure_cookies())) else {
        return Ok(None);
    };
    Ok(app.store.session(cookie.value(), now).await?)
}

/// Whether `subject` must still consent to `scope` for `client`: when asked to
/// (`prompt=consent`, also for trusted clients: OIDC Core §3.1.2.1), the first time, and
/// for new scopes. `scope` includes what the `claims` parameter adds.
pub async fn needs_consent(
    app: &AppState,
    client: &Client,
    subject: &str,
    scope: &str,
    forced: bool,
) -> Result<bool, sqlx::Error> {
    // A site that registered itself is asked about every time: nobody vouched for it.
    if forced || client.self_registered {
        return Ok(true);
    }
    if client.settings.trusted {
        return Ok(false);
    }
    let Some(consented) = app.store.consent(subject, &client.client_id).await? else {
        return Ok(true);
    };
    let consented: Vec<&str> = consented.split_whitespace().collect();
    Ok(!scope.split_whitespace().all(|s| consented.contains(&s)))
}

/// OIDC Core §11: `offline_access` only with `prompt=consent`, or where the person already
/// allowed it to this client; otherwise it is ignored (never granted silently).
async fn keep_offline_access_if_allowed(
    app: &AppState,
    request: &mut AuthorizationRequest,
    session: Option<&Session>,
) -> Result<(), sqlx::Error> {
    let asked = request
        .scope
        .split_whitespace()
        .any(|s| s == "offline_access");
    if !asked || request.prompts("consent") {
        return Ok(());
    }
    let allowed_before = match session {
        Some(session) => app
            .store
            .consent(&session.subject, &request.client.client_id)
            .await?
            .is_some_and(|scope| scope.split_whitespace().any(|s| s == "offline_access")),
        None => false,
    };
    if !allowed_before {
        request.scope = request
            .scope
            .split_whitespace()
            .filter(|s| *s != "offline_access")
            .collect::<Vec<_>>()
            .join(" ");
    }
    Ok(())
}

async fn decide(
    app: &AppState,
    jar: CookieJar,
    mut request: AuthorizationRequest,
    visitor: &Visitor,
) -> Result<Response, OAuthError> {
    let now = app.clock.now();
    let session = current_session(app, &jar, now).await?;
    let usable = session.filter(|s| {
        !request.prompts("login")
            && request
                .max_age
                .is_none_or(|max_age| now - s.auth_time <= max_age)
            && request
                .hint_subject
                .as_ref()
                .is_none_or(|sub| *sub == s.subject)
    });
    // A session of someone this client does not let in counts for nothing: the login page
    // says so, and the person may log in with another address.
    let refused_subject = match &usable {
        Some(session)
            if !crate::access::may_log_in(&app.store, &request.client, &session.subject)
                .await? =>
        {
            Some(session.subject.clone())
        }
        _ => None,
    };
    let usable = usable.filter(|_| refused_subject.is_none());
    keep_offline_access_if_allowed(app, &mut request, usable.as_ref()).await?;
    let (jar, browser) = browser_binding(app, jar);
    let mut flow = new_flow(app, &request, &browser, visitor, now);
    match usable {
        None if request.prompts("none") => Err(OAuthError::new(
            ErrorCode::LoginRequired,
            "the person is not logged in",
        )),
        None if !app.admit_new_flow(visitor.ip) => Ok(too_many_logins_page()),
        None => {
            flow.login_hint = request.login_hint.clone().or(request.hint_subject.clone());
            flow.send_code = Some(random::confirmation_code());
            app.store.insert_flow(&mut flow).await?;
            if let Some(subject) = refused_subject {
                let page = crate::login::refused_login_page(app, &flow, &request.client, &subject);
                return Ok((jar, page).into_response());
            }
            app.store.keep_fresh_flow(&flow);
            Ok((jar, Redirect::to(&format!("/login/{}", flow.id))).into_response())
        }
        Some(session) => {
            flow.status = FlowStatus::Accepted;
            flow.jid = Some(session.subject.clone());
            flow.auth_time = Some(session.auth_time);
            let consent = needs_consent(
                app,
                &request.client,
                &session.subject,
                &with_claimed_scopes(&request.scope, &request.client, request.claims.as_deref()),
                request.prompts("consent"),
            )
            .await?;
            match (consent, request.prompts("none")) {
                (true, true) => Err(OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "the person has not consented yet",
                )),
                (true, false) if !app.admit_new_flow(visitor.ip) => Ok(too_many_logins_page()),
                (true, false) => {
                    app.store.insert_flow(&mut flow).await?;
                    app.store.keep_fresh_flow(&flow);
                    Ok((jar, Redirect::to(&format!("/login/{}/consent", flow.id))).into_response())
                }
                (false, _) => {
                    let finishing = Finishing::Request {
                        session_hash: &session.id_hash,
                    };
                    let redirect = issue_code(
                        app,
                        &request.client,
                        &flow,
                        &session.subject,
                        session.auth_time,
                        finishing,
                        visitor,
                    )
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no code issued, with no flow to finish"))?;
                    Ok((jar, redirect).into_response())
                }
            }
        }
    }
}

/// Every login page is stored until it expires, so one network may open only so many.
fn too_many_logins_page() -> Response {
    let l = i18n::current();
    error_page(
        l,
        StatusCode::TOO_MANY_REQUESTS,
        &l.t("error-too-many-logins-title"),
        &l.t("error-too-many-logins"),
        &l.t("error-too-many-logins-next"),
    )
}

/// The browser cookie that login flows are bound to; set if missing.
pub(crate) fn browser_binding(app: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(BROWSER_COOKIE.on(app.secure_cookies())) {
        let value = existing.value().to_owned();
        return (jar, value);
    }
    let value = random::token(32);
    let jar = jar.add(cookie(BROWSER_COOKIE, value.clone(), app.secure_cookies()));
    (jar, value)
}

fn new_flow(
    app: &AppState,
    request: &AuthorizationRequest,
    browser: &str,
    visitor: &Visitor,
    now: i64,
) -> LoginFlow {
    LoginFlow {
        state: request.state.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        prompt: request.prompt.join(" "),
        max_age: request.max_age,
        login_hint: request.login_hint.clone(),
        claims: request.claims.clone(),
        ..LoginFlow::new(
            &request.client.client_id,
            &request.redirect_uri,
            request.scope.clone(),
            digest(browser),
            visitor.describe(),
            now,
            now + app.config.oidc.login_ttl_secs as i64,
        )
    }
}

/// Whether `subject` may log in to `client` now. The pages refuse earlier; this holds
/// whatever path leads to a grant (a policy changed while the person was confirming, a
/// code sent from a refused address).
async fn check_access(app: &AppState, client: &Client, subject: &str) -> Result<(), OAuthError> {
    if crate::access::may_log_in(&app.store, client, subject).await? {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "this address may not log in to this client",
        ))
    }
}

fn new_grant<'a>(
    client: &'a Client,
    flow: &'a LoginFlow,
    subject: &'a str,
    auth_time: i64,
    session_hash: Option<&'a str>,
) -> NewGrant<'a> {
    NewGrant {
        client_id: &client.client_id,
        subject,
        scope: &flow.scope,
        nonce: flow.nonce.as_deref(),
        claims: flow.claims.as_deref(),
        auth_time,
        session_hash,
    }
}

/// The grant of a confirmed login flow.
pub async fn grant_for(
    app: &AppState,
    client: &Client,
    flow: &LoginFlow,
    subject: &str,
    auth_time: i64,
    session_hash: Option<&str>,
) -> Result<String, OAuthError> {
    check_access(app, client, subject).await?;
    let grant = new_grant(client, flow, subject, auth_time, session_hash);
    Ok(app.store.create_grant(grant, app.clock.now()).await?)
}

/// What issuing a code finishes besides the authorization request.
#[derive(Clone, Copy)]
pub enum Finishing<'a> {
    /// Nothing stored: the request rode on the session of this hash.
    Request { session_hash: &'a str },
    /// The stored login flow, which must still be accepted (a form sent twice gets one
    /// code), on the session of this hash if any.
    Flow { session_hash: Option<&'a str> },
    /// The login flow and the session its XMPP confirmation starts, written with the code.
    FlowStartingSession(&'a NewSession),
}

impl<'a> Finishing<'a> {
    pub fn session_hash(self) -> Option<String> {
        match self {
            Finishing::Request { session_hash } => Some(session_hash.to_owned()),
            Finishing::Flow { session_hash } => session_hash.map(str::to_owned),
            Finishing::FlowStartingSession(session) => Some(session.id_hash()),
        }
    }

    fn flow_end(self, flow: &'a LoginFlow) -> Option<FlowEnd<'a>> {
        match self {
            Finishing::Request { .. } => None,
            Finishing::Flow { .. } => Some(FlowEnd {
                flow_id: &flow.id,
                session: None,
            }),
            Finishing::FlowStartingSession(session) => Some(FlowEnd {
                flow_id: &flow.id,
                session: Some(session),
            }),
        }
    }
}

/// Issues the authorization code and sends the browser back (RFC 6749 §4.1.2, RFC 9207).
/// What `finishing` names (the stored login flow marked done, the session a confirmation
/// starts) is written in the same command; `None` if the flow was done already (its form
/// sent twice), and only then.
pub async fn issue_code(
    app: &AppState,
    client: &Client,
    flow: &LoginFlow,
    subject: &str,
    auth_time: i64,
    finishing: Finishing<'_>,
    visitor: &Visitor,
) -> Result<Option<Redirect>, OAuthError> {
    let flow_end = finishing.flow_end(flow);
    if let Err(refused) = check_access(app, client, subject).await {
        if let Some(end) = flow_end {
            if !app
                .store
                .finish_flow(end.flow_id, subject, auth_time)
                .await?
            {
                return Ok(None);
            }
        }
        if let Finishing::FlowStartingSession(session) = finishing {
            // Confirmed over XMPP all the same: the session starts, for other sites.
            app.store
                .start_session(flow, subject, auth_time, session, app.clock.now())
                .await?;
        }
        return Err(refused);
    }
    let now = app.clock.now();
    let code = NewCode {
        redirect_uri: &flow.redirect_uri,
        code_challenge: flow.code_challenge.as_deref(),
        expires_at: now + app.config.oidc.code_ttl_secs as i64,
    };
    let session_hash = finishing.session_hash();
    let grant = new_grant(client, flow, subject, auth_time, session_hash.as_deref());
    let Some(issued) = app
        .store
        .grant_with_code(grant, code, flow_end, now)
        .await?
    else {
        return Ok(None);
    };
    let mut url =
        Url::parse(&flow.redirect_uri).map_err(|e| anyhow::anyhow!("stored redirect_uri: {e}"))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", &issued.code);
        if let Some(state) = &flow.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &app.oidc.issuer);
    }
    tracing::info!(client = %client.client_id, subject, "authorization code issued");
    // Best effort: the login does not depend on the notice. (A login confirmed by a code
    // has a notice already, the answer to the code: the command above linked it.)
    if issued.subscriber {
        let (grant_id, l) = (&issued.grant_id, flow.language());
        let session_hash = session_hash.as_deref();
        let queued =
            crate::login::notice::queue(app, client, subject, session_hash, grant_id, visitor, l);
        if let Err(e) = queued.await {
            tracing::warn!(error = %e, "cannot queue a login notice");
        }
    }
    Ok(Some(Redirect::to(url.as_str())))
}
