//! The pages a person sees: the login page (type your JID, or send the code from your
//! XMPP app), the code while the XMPP app asks, the refused page, the consent page. Every
//! flow is bound to the browser that started it, and every form carries the flow's CSRF
//! token; every POST answers 303. Every page can cancel the login (back to the site with
//! `access_denied`).

pub mod device;
pub mod notice;
pub mod send_code;

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::error::InternalError;
use crate::i18n::{self, Lang, Prefs};
use crate::oidc::authorize::{issue_code, needs_consent, Finishing};
use crate::oidc::claims::with_claimed_scopes;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::random;
use crate::state::AppState;
use crate::store::clients::Client;
use crate::store::oidc::{digest, FlowStatus, LoginFlow, NewSession, SentFlow};
use crate::web::{
    cookie, error_page, lasting_cookie, BROWSER_COOKIE, DEVICE_COOKIE, SESSION_COOKIE,
};
use crate::xmpp::address::UserJid;
use crate::xmpp::confirm::{ConfirmRequest, RequestError};
use crate::xmpp::dispatch::FlowRequest;
use crate::xmpp::limits::Requester;
use crate::xmpp::stanzas::{Purpose, RequestText};
use notice::Visitor;
use send_code::SendCode;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/{flow}", get(show).post(send))
        .route("/login/{flow}/status", get(status))
        .route("/login/{flow}/continue", post(continue_login))
        .route("/login/{flow}/restart", post(restart))
        .route("/login/{flow}/cancel", post(cancel))
        .route("/login/{flow}/consent", get(show_consent).post(consent))
        .merge(device::router())
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    l: Lang,
    flow_id: String,
    csrf: String,
    client_name: String,
    jid: String,
    error: Option<String>,
    /// The flow's status, for the script that moves on once a code was sent.
    status: &'static str,
    status_text: String,
    by_code: bool,
    hidden: bool,
    send: Option<SendCode>,
    /// A device's login (RFC 8628).
    device: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "wait.html")]
struct WaitPage<'a> {
    l: Lang,
    flow_id: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    jid: &'a str,
    /// The confirmation request's code, or the code the person sent.
    code: &'a str,
    /// Confirmed by the code the person sent (no confirmation request).
    by_code: bool,
    code_spelled: String,
    status: &'a str,
    status_text: String,
    hidden: bool,
    component: &'a str,
    /// While the request waits: the seconds it has left, counted down on the page.
    remaining_secs: Option<u64>,
    remaining_text: String,
    /// The person is a contact whose XMPP app is offline.
    offline: bool,
    roster_uri: String,
    send: Option<SendCode>,
}

#[derive(Template, WebTemplate)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    l: Lang,
    flow_id: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    jid: &'a str,
    send: Option<SendCode>,
    /// For the script, which reloads the page once a code sent from an app confirms it.
    status: &'static str,
    status_text: String,
    by_code: bool,
    hidden: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    l: Lang,
    flow_id: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    jid: &'a str,
    items: Vec<String>,
    /// For a site that registered itself: the host it sends the person back to.
    self_registered_host: Option<String>,
    /// For a site known by its metadata document: the host that serves it.
    document_host: Option<String>,
    /// A device's login: the page warns about codes typed for someone else.
    device: bool,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct JidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    jid: String,
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// Why a flow cannot be shown; each renders as a page that says what to do next.
enum FlowError {
    Gone,
    OtherBrowser,
    BadCsrf,
    Internal(InternalError),
}

impl From<sqlx::Error> for FlowError {
    fn from(e: sqlx::Error) -> Self {
        FlowError::Internal(e.into())
    }
}

impl IntoResponse for FlowError {
    fn into_response(self) -> Response {
        let l = i18n::current();
        let page = |status, title, message| {
            error_page(
                l,
                status,
                &l.t(title),
                &l.t(message),
                &l.t("error-back-to-site"),
            )
        };
        match self {
            FlowError::Gone => page(
                StatusCode::NOT_FOUND,
                "error-flow-gone-title",
                "error-flow-gone",
            ),
            FlowError::OtherBrowser => page(
                StatusCode::FORBIDDEN,
                "error-other-browser-title",
                "error-other-browser",
            ),
            FlowError::BadCsrf => page(
                StatusCode::FORBIDDEN,
                "error-bad-csrf-title",
                "error-bad-csrf",
            ),
            FlowError::Internal(e) => e.into_response(),
        }
    }
}

/// The flow, if it exists, is alive and belongs to this browser; with its client.
async fn load(app: &AppState, jar: &CookieJar, id: &str) -> Result<(LoginFlow, Client), FlowError> {
    let flow = app.store.flow(id).await?;
    checked(app, jar, flow).await
}

/// [`load`] for the page a redirect leads to (from `/authorize` or the JID form): the flow
/// as this process just stored it, if it did (see [`crate::store::fresh_flows`]).
async fn load_page(
    app: &AppState,
    jar: &CookieJar,
    id: &str,
) -> Result<(LoginFlow, Client), FlowError> {
    let flow = app.store.fresh_flow(id).await?;
    checked(app, jar, flow).await
}

async fn checked(
    app: &AppState,
    jar: &CookieJar,
    flow: Option<LoginFlow>,
) -> Result<(LoginFlow, Client), FlowError> {
    let now = app.clock.now();
    let mut flow = flow.filter(|f| f.expires_at > now).ok_or(FlowError::Gone)?;
    let browser = jar
        .get(BROWSER_COOKIE.on(app.secure_cookies()))
        .map(|c| digest(c.value()))
        .unwrap_or_default();
    if !bool::from(browser.as_bytes().ct_eq(flow.browser_hash.as_bytes())) {
        return Err(FlowError::OtherBrowser);
    }
    if flow.status == FlowStatus::Done {
        return Err(FlowError::Gone);
    }
    // A request whose answer can no longer come (e.g. the server restarted meanwhile).
    let grace = app.config.xmpp.confirm_timeout_secs as i64 + 10;
    if flow.status == FlowStatus::Sent && flow.sent_at.is_some_and(|t| now - t > grace) {
        if let Some(code) = &flow.code {
            app.store
                .flow_answered(&flow.id, code, FlowStatus::Expired, None)
                .await?;
        }
        flow.status = FlowStatus::Expired;
    }
    let client = app.client(&flow.client_id).await?.ok_or(FlowError::Gone)?;
    Ok((flow, client))
}

/// The language of a flow's page: picked on it (and kept for the flow's next pages and
/// messages), else the flow's own.
async fn page_lang(app: &AppState, prefs: Prefs, flow: &LoginFlow) -> Result<Lang, sqlx::Error> {
    let lang = prefs.for_flow(&flow.lang);
    if lang.tag() != flow.lang {
        app.store.set_flow_lang(&flow.id, lang.tag()).await?;
    }
    Ok(lang)
}

/// 303 to the flow's page, which shows whatever state it is in.
fn back_to_flow(id: &str) -> Response {
    Redirect::to(&format!("/login/{id}")).into_response()
}

/// A flow whose person is known (confirmed over XMPP, or by the SSO session).
struct Confirmed {
    flow: LoginFlow,
    client: Client,
    subject: String,
    auth_time: i64,
}

/// The flow behind a form POST: alive, this browser's, the form's CSRF token, and
/// confirmed; `None` when it is not confirmed (yet).
async fn confirmed_flow(
    app: &AppState,
    jar: &CookieJar,
    id: &str,
    csrf: &str,
) -> Result<Option<Confirmed>, FlowError> {
    let flow = app.store.flow(id).await?;
    confirmed(app, jar, flow, csrf).await
}

/// [`confirmed_flow`] of a flow at hand.
async fn confirmed(
    app: &AppState,
    jar: &CookieJar,
    flow: Option<LoginFlow>,
    csrf: &str,
) -> Result<Option<Confirmed>, FlowError> {
    let (flow, client) = checked(app, jar, flow).await?;
    check_csrf(&flow, csrf)?;
    let (FlowStatus::Accepted, Some(subject), Some(auth_time)) =
        (flow.status, flow.jid.clone(), flow.auth_time)
    else {
        return Ok(None);
    };
    Ok(Some(Confirmed {
        flow,
        client,
        subject,
        auth_time,
    }))
}

fn check_csrf(flow: &LoginFlow, sent: &str) -> Result<(), FlowError> {
    if bool::from(sent.as_bytes().ct_eq(flow.csrf.as_bytes())) {
        Ok(())
    } else {
        Err(FlowError::BadCsrf)
    }
}

fn status_text(status: FlowStatus, client: &Client, l: Lang) -> String {
    match status {
        FlowStatus::Sent => l.t("status-sent"),
        FlowStatus::Accepted => l.t1("status-accepted", "site", &client.settings.name),
        FlowStatus::Denied => l.t("status-denied"),
        FlowStatus::Expired => l.t("status-expired"),
        FlowStatus::Unreachable => l.t("status-unreachable"),
        FlowStatus::New | FlowStatus::Done => String::new(),
    }
}

/// The message above the JID form after a request that did not succeed.
fn retry_message(status: FlowStatus, l: Lang) -> Option<String> {
    match status {
        FlowStatus::Expired => Some(l.t("login-retry-expired")),
        FlowStatus::Unreachable => Some(l.t("login-retry-unreachable")),
        _ => None,
    }
}

/// The send-the-code way for this flow, while it offers one.
fn send_code(app: &AppState, flow: &LoginFlow, client: &Client, l: Lang) -> Option<SendCode> {
    let code = flow.send_code.as_deref()?;
    Some(SendCode::new(
        &app.config.xmpp.service_jid(),
        &client.settings.name,
        code,
        l,
    ))
}

fn login_page(
    app: &AppState,
    flow: &LoginFlow,
    client: &Client,
    jid: &str,
    error: Option<String>,
    l: Lang,
) -> LoginPage {
    LoginPage {
        l,
        flow_id: flow.id.clone(),
        csrf: flow.csrf.clone(),
        client_name: client.settings.name.clone(),
        jid: jid.to_owned(),
        error,
        status: flow.status.as_str(),
        status_text: String::new(),
        by_code: false,
        hidden: false,
        send: send_code(app, flow, client, l),
        device: flow.is_device(),
    }
}

async fn show(
    State(app): State<AppState>,
    jar: CookieJar,
    prefs: Prefs,
    Path(id): Path<String>,
) -> Result<Response, FlowError> {
    let (flow, client) = load_page(&app, &jar, &id).await?;
    let l = page_lang(&app, prefs, &flow).await?;
    match (flow.status, flow.code.as_deref(), flow.jid.as_deref()) {
        (FlowStatus::Sent | FlowStatus::Accepted, Some(code), Some(jid)) => {
            let offline = flow.status == FlowStatus::Sent && flow.offline;
            let component = &app.config.xmpp.service_jid();
            let remaining_secs = match (flow.status, flow.sent_at) {
                (FlowStatus::Sent, Some(sent_at)) => {
                    let elapsed = u64::try_from(app.clock.now() - sent_at).unwrap_or(0);
                    Some(app.config.xmpp.confirm_timeout_secs.saturating_sub(elapsed))
                }
                _ => None,
            };
            Ok(WaitPage {
                l,
                flow_id: &flow.id,
                csrf: &flow.csrf,
                client_name: &client.settings.name,
                jid,
                code,
                by_code: flow.confirmed_by_code(),
                code_spelled: send_code::spelled(code),
                status: flow.status.as_str(),
                status_text: status_text(flow.status, &client, l),
                hidden: false,
                component,
                remaining_secs,
                remaining_text: l.n("seconds", "count", remaining_secs.unwrap_or_default()),
                offline,
                roster_uri: send_code::roster_uri(component, &l.t("contact-name")),
                send: send_code(&app, &flow, &client, l),
            }
            .into_response())
        }
        (FlowStatus::Denied, _, Some(jid)) => Ok(RefusedPage {
            l,
            flow_id: &flow.id,
            csrf: &flow.csrf,
            client_name: &client.settings.name,
            jid,
            send: send_code(&app, &flow, &client, l),
            status: FlowStatus::Denied.as_str(),
            status_text: String::new(),
            by_code: false,
            hidden: true,
        }
        .into_response()),
        _ => {
            let prefill = flow
                .jid
                .as_deref()
                .or(flow.login_hint.as_deref())
                .unwrap_or_default();
            let retry = retry_message(flow.status, l);
            Ok(login_page(&app, &flow, &client, prefill, retry, l).into_response())
        }
    }
}

async fn needs_consent_for(
    app: &AppState,
    flow: &LoginFlow,
    client: &Client,
) -> Result<bool, sqlx::Error> {
    let subject = flow.jid.as_deref().unwrap_or_default();
    let scope = with_claimed_scopes(&flow.scope, client, flow.claims.as_deref());
    needs_consent(app, client, subject, &scope, flow.prompts("consent")).await
}

/// The JID form: send the XEP-0070 request and show the code.
///
/// From the flow as `/authorize` stored it, when this process did and kept it for the
/// form (one read fewer per login; see [`crate::store::fresh_flows`]): what could have
/// changed since is checked by the statement that records the flow as sent. A form that
/// this copy does not carry through (refused before that statement, or the flow changed)
/// is done again from the store, so that its answer is the one the store's flow gets.
async fn send(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    prefs: Prefs,
    Path(id): Path<String>,
    Form(form): Form<JidForm>,
) -> Result<Response, FlowError> {
    let post = JidPost {
        jar: &jar,
        peer,
        headers: &headers,
        prefs,
        form: &form,
    };
    if let Some(kept) = app.store.flow_for_form(&id) {
        let (flow, client) = checked(&app, &jar, Some(kept)).await?;
        if let Some(response) = send_for(&app, &post, flow, client, true).await? {
            return Ok(response);
        }
    }
    let (flow, client) = load(&app, &jar, &id).await?;
    let response = send_for(&app, &post, flow, client, false).await?;
    Ok(response.unwrap_or_else(|| back_to_flow(&id)))
}

/// A JID form as it came.
struct JidPost<'a> {
    jar: &'a CookieJar,
    peer: SocketAddr,
    headers: &'a HeaderMap,
    prefs: Prefs,
    form: &'a JidForm,
}

/// [`send`] for `flow`, as read from the store or, `kept`, from the copy kept for its
/// form; None if that copy does not carry the form through.
async fn send_for(
    app: &AppState,
    post: &JidPost<'_>,
    mut flow: LoginFlow,
    client: Client,
    kept: bool,
) -> Result<Option<Response>, FlowError> {
    let form = post.form;
    check_csrf(&flow, &form.csrf)?;
    let l = page_lang(app, post.prefs, &flow).await?;
    l.tag().clone_into(&mut flow.lang);
    if !matches!(
        flow.status,
        FlowStatus::New | FlowStatus::Denied | FlowStatus::Expired | FlowStatus::Unreachable
    ) {
        return Ok(Some(back_to_flow(&flow.id)));
    }
    let refuse = |status: StatusCode, message: String| {
        (
            status,
            login_page(app, &flow, &client, &form.jid, Some(message), l),
        )
            .into_response()
    };
    // A refusal page drawn from the copy could show a send-the-code code spent since.
    let refused_before_sending = |response| (!kept).then_some(response);
    let jid = match UserJid::parse(&form.jid) {
        Ok(jid) => jid,
        Err(e) => {
            let page = refuse(StatusCode::BAD_REQUEST, e.message(l));
            return Ok(refused_before_sending(page));
        }
    };
    // Nothing is pushed to someone who may not log in here anyway.
    if !crate::access::may_log_in(&app.store, &client, jid.subject()).await? {
        let message = not_allowed_message(jid.subject(), &client.settings.name, l);
        let page = refuse(StatusCode::FORBIDDEN, message);
        return Ok(refused_before_sending(page));
    }
    let ip = app.client_ip(post.peer, post.headers);
    let device = match post.jar.get(DEVICE_COOKIE.on(app.secure_cookies())) {
        Some(cookie) => {
            let since = app.clock.now() - app.config.limits.known_device_ttl_secs as i64;
            app.store
                .known_device(cookie.value(), jid.subject(), since)
                .await?
        }
        None => None,
    };
    let request = ConfirmRequest {
        jid: jid.clone(),
        text: RequestText {
            code: random::confirmation_code(),
            method: "GET".into(),
            url: if flow.is_device() {
                crate::oidc::device_authorization::verification_uri(app)
            } else {
                site_of(&flow.redirect_uri)
            },
            requester: client.settings.name.clone(),
            origin: Some(ip.to_string()),
            purpose: if flow.is_device() {
                Purpose::Device
            } else {
                Purpose::Login
            },
            lang: l,
        },
        requester: Requester {
            ip: Some(ip),
            client_id: Some(client.client_id.clone()),
            device,
        },
        timeout: Duration::from_secs(app.config.xmpp.confirm_timeout_secs),
    };
    // With whether the person's app is offline, told on the page at once; a snapshot, so
    // that the page is no live view of the person's presence for whoever types their address.
    let flow_request = SentFlow {
        page: Some(&flow),
        ..SentFlow::of(&flow, true)
    };
    // Once the statement recorded the flow as sent, the copy is the store's flow as the
    // page shows it.
    let refused = match app
        .dispatcher
        .request_for_flow(&app.store, &app.clock, request, flow_request)
        .await?
    {
        FlowRequest::Sent => return Ok(Some(back_to_flow(&flow.id))),
        FlowRequest::NotSendable => return Ok(None),
        FlowRequest::Failed(RequestError::Refused(refused)) => {
            let wait = l.n("seconds", "count", refused.retry_after.as_secs().max(1));
            let reason = refused.reason.message(l);
            (
                StatusCode::TOO_MANY_REQUESTS,
                l.args(
                    "login-try-again-in",
                    &[
                        ("reason", reason.as_str().into()),
                        ("wait", wait.as_str().into()),
                    ],
                ),
            )
        }
        // Possibly before the statement (no link to the leader, or no store).
        FlowRequest::Failed(RequestError::Disconnected) if kept => return Ok(None),
        FlowRequest::Failed(RequestError::Disconnected) => {
            (StatusCode::SERVICE_UNAVAILABLE, l.t("login-disconnected"))
        }
    };
    Ok(Some(refuse(refused.0, refused.1)))
}

/// What the person is logging in to, for the XEP-0070 `url`: the site of the redirect URI.
/// The login page of a browser whose session belongs to someone `client` does not let
/// in: 403, with the reason, the form for another address and the Cancel control.
pub fn refused_login_page(
    app: &AppState,
    flow: &LoginFlow,
    client: &Client,
    subject: &str,
) -> Response {
    let l = flow.language();
    (
        StatusCode::FORBIDDEN,
        login_page(
            app,
            flow,
            client,
            "",
            Some(not_allowed_message(subject, &client.settings.name, l)),
            l,
        ),
    )
        .into_response()
}

/// Why a person is refused by the client's access policy: the same words on every page.
pub fn not_allowed_message(subject: &str, site: &str, l: Lang) -> String {
    l.t2("login-not-allowed", "jid", subject, "site", site)
}

fn site_of(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.set_path("/");
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

/// What the pages' script asks: the flow's status, whether the person is a contact
/// whose XMPP app was offline when asked (then the page says so at once), and whether a
/// code sent from an app confirmed it. With `?wait=STATUS` (the status the page shows) it
/// answers when the status is another, or after [`LONG_POLL`] at the latest: the page
/// moves on the moment the person answers, without asking every second.
async fn status(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, FlowError> {
    let shown = match query.wait.as_deref() {
        Some(shown) => wait_for_change(&app, &jar, &id, shown).await?,
        None => PageState::of(&load(&app, &jar, &id).await?.0),
    };
    Ok(Json(json!({
        "status": shown.status.as_str(),
        "offline": shown.offline,
        "by_code": shown.by_code,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct StatusQuery {
    wait: Option<String>,
}

/// What the pages' script is told about a flow.
struct PageState {
    status: FlowStatus,
    /// Asked while the person's app was offline (told only while the request waits).
    offline: bool,
    /// Confirmed by a code sent from an app: the page shows who sent it before continuing.
    by_code: bool,
}

impl PageState {
    fn of(flow: &LoginFlow) -> Self {
        PageState {
            status: flow.status,
            offline: flow.status == FlowStatus::Sent && flow.offline,
            by_code: flow.confirmed_by_code(),
        }
    }

    /// A confirmation request's answer: no longer waiting, and not confirmed by a code.
    fn answered(status: FlowStatus) -> Self {
        PageState {
            status,
            offline: false,
            by_code: false,
        }
    }
}

/// How long a status request waits for a change: well within the request timeout and
/// the idle timeouts of proxies in front.
const LONG_POLL: Duration = Duration::from_secs(20);

/// The flow's state once its status is not `shown` any more, or as it is after
/// [`LONG_POLL`] (or at shutdown). Woken by the answer to the request it saw waiting, it
/// takes the status that came with the wake-up instead of reading the flow again, and
/// keeps the flow as the answer left it for the "continue" the page sends next.
async fn wait_for_change(
    app: &AppState,
    jar: &CookieJar,
    id: &str,
    shown: &str,
) -> Result<PageState, FlowError> {
    let hold = LONG_POLL.min(Duration::from_secs(
        app.config.http.request_timeout_secs.saturating_sub(5),
    ));
    let deadline = tokio::time::Instant::now() + hold;
    let waiter = app.store.watch_flow(id);
    let mut answered = None;
    let mut first_read = true;
    loop {
        // Enabled before the read: a change between the read and the wait still wakes it.
        let changed = waiter.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let changes = waiter.changes();
        // The flow as this read found it, its request waiting: only that request's answer
        // is taken.
        let mut waiting = None;
        let state = match answered.take() {
            Some((answer, flow)) => {
                app.store.keep_answered_flow(flow, &answer);
                PageState::answered(answer.status)
            }
            None => {
                // The page's script asks as the page loads: the flow this process just
                // wrote, if the page shows it. A page that shows another state was drawn
                // elsewhere, after a change this process may not have heard of yet.
                let kept = std::mem::take(&mut first_read)
                    .then(|| app.store.kept_flow(id))
                    .flatten()
                    .filter(|flow| flow.status.as_str() == shown);
                let (flow, _) = match kept {
                    Some(flow) => checked(app, jar, Some(flow)).await?,
                    None => load(app, jar, id).await?,
                };
                let state = PageState::of(&flow);
                if flow.status == FlowStatus::Sent {
                    waiting = Some(flow);
                }
                state
            }
        };
        let now = tokio::time::Instant::now();
        if state.status.as_str() != shown || now >= deadline || waiter.should_not_wait() {
            return Ok(state);
        }
        let look_again = deadline.min(now + crate::store::flow_watch::RECHECK_EVERY);
        tokio::select! {
            _ = changed => {
                answered = waiting.and_then(|flow| {
                    let answer = waiter.answer_since(changes, flow.code.as_deref()?)?;
                    Some((answer, flow))
                });
            }
            _ = tokio::time::sleep_until(look_again) => {}
        }
    }
}

/// "Use another address": back to the login page; the pending request is withdrawn.
async fn restart(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, FlowError> {
    let (flow, _) = load(&app, &jar, &id).await?;
    check_csrf(&flow, &form.csrf)?;
    app.store.restart_flow(&id).await?;
    app.dispatcher.withdraw(&id).await;
    Ok(back_to_flow(&id))
}

/// "Cancel", on every page: back to the site with `access_denied` (RFC 6749 §4.1.2.1,
/// with `state` and RFC 9207 `iss`); the pending request is withdrawn.
async fn cancel(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, FlowError> {
    let (flow, _) = load(&app, &jar, &id).await?;
    check_csrf(&flow, &form.csrf)?;
    if !app.store.cancel_flow(&id).await? {
        return Err(FlowError::Gone);
    }
    app.dispatcher.withdraw(&id).await;
    access_denied(&app, &flow, "the person cancelled the login").await
}

/// Back to the site with `access_denied`; a device is told at its next poll.
async fn access_denied(
    app: &AppState,
    flow: &LoginFlow,
    why: &'static str,
) -> Result<Response, FlowError> {
    if flow.is_device() {
        app.store.deny_device(&flow.id).await?;
        let client = app.client(&flow.client_id).await?.ok_or(FlowError::Gone)?;
        return Ok(device::done_page(&client, false, flow.language()));
    }
    Ok(OAuthError::new(ErrorCode::AccessDenied, why).redirect(
        &flow.redirect_uri,
        flow.state.as_deref(),
        &app.oidc.issuer,
    ))
}

/// After the XMPP confirmation: a fresh session (never the old id: no fixation), the
/// browser remembered as one that logged in as this JID, then consent or straight back to
/// the website.
async fn continue_login(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, FlowError> {
    let Some((confirmed, consent)) = flow_to_continue(&app, &jar, &id, &form.csrf).await? else {
        return Ok(back_to_flow(&id));
    };
    // Only an XMPP confirmation (a request's code, or the page's code sent) starts a
    // session. A flow that rode on the existing session (to ask for consent) must not
    // renew it: a stolen cookie would live for ever without anyone confirming.
    if confirmed.flow.code.is_none() {
        return Ok(Redirect::to(&format!("/login/{id}/consent")).into_response());
    }
    // Ended once this login goes on: a continue that finishes nothing leaves it.
    let old_session = jar
        .get(SESSION_COOKIE.on(app.secure_cookies()))
        .map(|old| old.value().to_owned());
    let now = app.clock.now();
    let expires = now + app.config.oidc.session_ttl_secs as i64;
    // Only a value this server issued: one planted in the browser by someone else would
    // make their own browser "known" for this JID.
    let device = match jar.get(DEVICE_COOKIE.on(app.secure_cookies())) {
        Some(device) if app.store.device_issued(device.value()).await? => device.value().to_owned(),
        _ => random::token(32),
    };
    let session = NewSession::new(expires, device);
    let jar = jar
        .add(cookie(
            SESSION_COOKIE,
            session.token.clone(),
            app.secure_cookies(),
        ))
        .add(lasting_cookie(
            DEVICE_COOKIE,
            session.device.clone(),
            app.secure_cookies(),
            app.config.limits.known_device_ttl_secs,
        ));
    let response = if consent {
        let Confirmed {
            flow,
            subject,
            auth_time,
            ..
        } = &confirmed;
        app.store
            .start_session(flow, subject, *auth_time, &session, now)
            .await?;
        Redirect::to(&format!("/login/{id}/consent")).into_response()
    } else {
        let visitor = Visitor::new(&app, peer, &headers);
        let finishing = Finishing::FlowStartingSession(&session);
        finish(&app, &confirmed, finishing, &visitor).await?
    };
    if let Some(old) = &old_session {
        app.store.end_session(old).await?;
    }
    Ok((jar, response).into_response())
}

/// The confirmed flow "continue" acts on, and whether consent is still to be asked: as the
/// answer this process just recorded left it, when its page's status request took that
/// answer, if it goes straight back to the site (the command that issues the code checks
/// that the flow is still accepted by that person at that time, so a copy gone stale
/// issues nothing); else as the store has it (a session starts before consent is asked,
/// with no such check).
async fn flow_to_continue(
    app: &AppState,
    jar: &CookieJar,
    id: &str,
    csrf: &str,
) -> Result<Option<(Confirmed, bool)>, FlowError> {
    let answered = app
        .store
        .kept_flow(id)
        .filter(|flow| flow.status == FlowStatus::Accepted);
    if answered.is_some() {
        if let Some(confirmed) = confirmed(app, jar, answered, csrf).await? {
            if !needs_consent_for(app, &confirmed.flow, &confirmed.client).await? {
                return Ok(Some((confirmed, false)));
            }
        }
    }
    let Some(confirmed) = confirmed_flow(app, jar, id, csrf).await? else {
        return Ok(None);
    };
    let consent = needs_consent_for(app, &confirmed.flow, &confirmed.client).await?;
    Ok(Some((confirmed, consent)))
}

/// Issues the code once per flow, even if the form is sent twice; `finishing` names a
/// flow (and perhaps the session it starts).
async fn finish(
    app: &AppState,
    confirmed: &Confirmed,
    finishing: Finishing<'_>,
    visitor: &Visitor,
) -> Result<Response, FlowError> {
    let Confirmed {
        flow,
        client,
        subject,
        auth_time,
    } = confirmed;
    if flow.is_device() {
        if !app.store.finish_flow(&flow.id, subject, *auth_time).await? {
            return Err(FlowError::Gone);
        }
        // A device gets no code to write the session with: the session starts on its own.
        if let Finishing::FlowStartingSession(session) = finishing {
            let now = app.clock.now();
            app.store
                .start_session(flow, subject, *auth_time, session, now)
                .await?;
        }
        let session_hash = finishing.session_hash();
        let session_hash = session_hash.as_deref();
        return match device::approve(app, client, flow, subject, *auth_time, session_hash).await {
            Ok(_) => Ok(device::done_page(client, true, flow.language())),
            Err(e) if e.code == ErrorCode::ServerError => Err(FlowError::Internal(
                anyhow::anyhow!("cannot approve a device: {}", e.description).into(),
            )),
            Err(_) => Ok(device::done_page(client, false, flow.language())),
        };
    }
    match issue_code(app, client, flow, subject, *auth_time, finishing, visitor).await {
        Ok(Some(redirect)) => Ok(redirect.into_response()),
        Ok(None) => Err(FlowError::Gone),
        Err(e) => Ok(e.redirect(&flow.redirect_uri, flow.state.as_deref(), &app.oidc.issuer)),
    }
}

fn consent_items(flow: &LoginFlow, client: &Client, subject: &str, l: Lang) -> Vec<String> {
    let scope = with_claimed_scopes(&flow.scope, client, flow.claims.as_deref());
    let has = |s: &str| scope.split_whitespace().any(|x| x == s);
    let mut items = vec![l.t1("consent-item-jid", "jid", subject)];
    if has("profile") {
        let local = subject.split('@').next().unwrap_or(subject);
        items.push(l.t1("consent-item-username", "name", local));
    }
    if has("email") && client.settings.jid_as_email {
        items.push(l.t("consent-item-email"));
    }
    if has("groups") {
        items.push(l.t("consent-item-groups"));
    }
    if has("offline_access") {
        items.push(l.t("consent-item-offline"));
    }
    items
}

async fn show_consent(
    State(app): State<AppState>,
    jar: CookieJar,
    prefs: Prefs,
    Path(id): Path<String>,
) -> Result<Response, FlowError> {
    let (flow, client) = load_page(&app, &jar, &id).await?;
    let l = page_lang(&app, prefs, &flow).await?;
    let (FlowStatus::Accepted, Some(subject)) = (flow.status, flow.jid.as_deref()) else {
        return Ok(back_to_flow(&id));
    };
    Ok(ConsentPage {
        l,
        flow_id: &flow.id,
        csrf: &flow.csrf,
        client_name: &client.settings.name,
        jid: subject,
        items: consent_items(&flow, &client, subject, l),
        self_registered_host: client.self_registered.then(|| {
            url::Url::parse(&flow.redirect_uri)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| flow.redirect_uri.clone())
        }),
        document_host: crate::oidc::metadata_document::document_host(&client),
        device: flow.is_device(),
    }
    .into_response())
}

async fn consent(
    State(app): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ConsentForm>,
) -> Result<Response, FlowError> {
    let Some(confirmed) = confirmed_flow(&app, &jar, &id, &form.csrf).await? else {
        return Ok(back_to_flow(&id));
    };
    let flow = &confirmed.flow;
    if form.decision != "allow" {
        let (subject, auth_time) = (&confirmed.subject, confirmed.auth_time);
        if !app.store.finish_flow(&id, subject, auth_time).await? {
            return Err(FlowError::Gone);
        }
        return access_denied(&app, flow, "the person did not allow the login").await;
    }
    let now = app.clock.now();
    let scope = with_claimed_scopes(&flow.scope, &confirmed.client, flow.claims.as_deref());
    app.store
        .save_consent(&confirmed.subject, &confirmed.client.client_id, &scope, now)
        .await?;
    let session_hash = match jar.get(SESSION_COOKIE.on(app.secure_cookies())) {
        Some(cookie) => app
            .store
            .session(cookie.value(), now)
            .await?
            .filter(|s| s.subject == confirmed.subject)
            .map(|s| s.id_hash),
        None => None,
    };
    match (&flow.code, &session_hash) {
        // Confirmed over XMPP but "continue" (which starts the session) was skipped.
        (Some(_), None) => return Ok(back_to_flow(&id)),
        // It rode on a session that has ended since: nobody vouches for this login now.
        (None, None) => return Err(FlowError::Gone),
        _ => {}
    }
    let visitor = Visitor::new(&app, peer, &headers);
    let finishing = Finishing::Flow {
        session_hash: session_hash.as_deref(),
    };
    finish(&app, &confirmed, finishing, &visitor).await
}
