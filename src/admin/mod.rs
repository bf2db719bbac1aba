//! The admin pages at `/admin`: the same client registry as `jidconnect client …`.
//!
//! Admins log in like everyone else, with an XMPP confirmation, through the provider's own
//! authorization endpoint and a built-in client; the JID must be listed in `admin_jids`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::InternalError;
use crate::i18n::Lang;
use crate::keys::SigningAlg;
use crate::oidc::token::check_pkce;
use crate::random;
use crate::state::AppState;
use crate::store::clients::{
    default_grant_types, expand_grant_type, Client, ClientError, ClientSettings,
};
use crate::store::groups::{Group, GroupError};
use crate::store::oidc::{digest, Redemption};
use crate::web::{cookie, error_page, removed_cookie, ADMIN_LOGIN_COOKIE, SESSION_COOKIE};

/// The admin pages' own client; it exists only while `admin_jids` is not empty.
pub const ADMIN_CLIENT_ID: &str = "jidconnect-admin";

pub fn admin_client(app: &AppState) -> Option<Client> {
    if app.config.admin_jids.is_empty() {
        return None;
    }
    let mut settings = ClientSettings::new("jidconnect admin", vec![callback_uri(app)]);
    settings.public = true;
    settings.trusted = true;
    settings.allowed_scopes = vec!["openid".into()];
    Some(Client::builtin(ADMIN_CLIENT_ID, settings))
}

fn callback_uri(app: &AppState) -> String {
    format!("{}/admin/callback", app.oidc.issuer)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/callback", get(callback))
        .route("/admin/clients", post(add))
        .route("/admin/clients/{id}", post(update))
        .route("/admin/clients/{id}/rotate-secret", post(rotate))
        .route("/admin/clients/{id}/remove", post(remove))
        .route("/admin/groups", post(save_group))
        .route("/admin/groups/{name}/remove", post(remove_group))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    /// Operator pages speak English, like the CLI and the docs.
    l: Lang,
    admin: String,
    csrf: String,
    clients: Vec<Client>,
    groups: Vec<Group>,
    notice: Option<String>,
    error: Option<String>,
    new_secret: Option<(String, String)>,
}

struct Admin {
    jid: String,
    csrf: String,
}

enum Access {
    Granted(Admin),
    Denied(Response),
}

fn is_admin(app: &AppState, subject: &str) -> bool {
    app.config
        .admin_jids
        .iter()
        .any(|jid| crate::xmpp::address::UserJid::parse(jid).is_ok_and(|j| j.subject() == subject))
}

/// The admin behind this request, or the way to become one.
async fn access(app: &AppState, jar: &CookieJar) -> Result<Access, InternalError> {
    if app.config.admin_jids.is_empty() {
        return Ok(Access::Denied(error_page(
            Lang::default(),
            StatusCode::NOT_FOUND,
            "Admin pages are off",
            "No administrators are configured.",
            "List admin JIDs in admin_jids in the configuration file, then restart jidconnect.",
        )));
    }
    let now = app.clock.now();
    let session = match jar.get(SESSION_COOKIE.on(app.secure_cookies())) {
        Some(c) => app
            .store
            .session(c.value(), now)
            .await?
            .map(|s| (s, c.value().to_owned())),
        None => None,
    };
    match session {
        Some((session, token)) if is_admin(app, &session.subject) => Ok(Access::Granted(Admin {
            jid: session.subject,
            csrf: digest(&format!("admin:{token}")),
        })),
        Some((session, _)) => Ok(Access::Denied(error_page(
            Lang::default(),
            StatusCode::FORBIDDEN,
            "Not an administrator",
            &format!("{} is not listed in admin_jids.", session.subject),
            "Log out and log in with an administrator's XMPP address.",
        ))),
        None => Ok(Access::Denied(start_login(app, jar.clone()))),
    }
}

/// Sends the browser through our own authorization endpoint, with state and PKCE.
fn start_login(app: &AppState, jar: CookieJar) -> Response {
    let state = random::token(22);
    let verifier = random::token(64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url =
        url::Url::parse(&format!("{}/authorize", app.oidc.issuer)).expect("issuer is a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", ADMIN_CLIENT_ID)
        .append_pair("redirect_uri", &callback_uri(app))
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let jar = jar.add(cookie(
        ADMIN_LOGIN_COOKIE,
        format!("{state}.{verifier}"),
        app.secure_cookies(),
    ));
    (jar, Redirect::to(url.as_str())).into_response()
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(params): Query<CallbackParams>,
) -> Result<Response, InternalError> {
    let failed = |why: &str| {
        error_page(
            Lang::default(),
            StatusCode::BAD_REQUEST,
            "Admin login failed",
            why,
            "Open /admin again to start over.",
        )
    };
    let Some((state, verifier)) = jar
        .get(ADMIN_LOGIN_COOKIE.on(app.secure_cookies()))
        .and_then(|c| {
            c.value()
                .split_once('.')
                .map(|(s, v)| (s.to_owned(), v.to_owned()))
        })
    else {
        return Ok(failed("The login was not started from this browser."));
    };
    let jar = jar.remove(removed_cookie(ADMIN_LOGIN_COOKIE, app.secure_cookies()));
    if let Some(error) = params.error {
        return Ok((jar, failed(&format!("The login ended with {error}."))).into_response());
    }
    let state_ok = params
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(state.as_bytes())));
    let (Some(code), true) = (params.code, state_ok) else {
        return Ok((jar, failed("The answer does not belong to this login.")).into_response());
    };
    // The session is what grants access; the code only proves this login finished.
    let Redemption::Fresh(row) = app.store.redeem_code(&code, app.clock.now()).await? else {
        return Ok((jar, failed("The login code was not valid.")).into_response());
    };
    app.store.revoke_grant(&row.grant.id).await?;
    if row.grant.client_id != ADMIN_CLIENT_ID
        || check_pkce(row.code_challenge.as_deref(), Some(&verifier)).is_err()
    {
        return Ok((jar, failed("The login code was not valid.")).into_response());
    }
    Ok((jar, Redirect::to("/admin")).into_response())
}

async fn render(
    app: &AppState,
    admin: &Admin,
    notice: Option<String>,
    error: Option<String>,
    new_secret: Option<(String, String)>,
) -> Result<Response, InternalError> {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AdminPage {
        l: Lang::default(),
        admin: admin.jid.clone(),
        csrf: admin.csrf.clone(),
        clients: app.store.clients().await?,
        groups: app.store.groups().await?,
        notice,
        error,
        new_secret,
    };
    Ok((status, page).into_response())
}

async fn page(State(app): State<AppState>, jar: CookieJar) -> Result<Response, InternalError> {
    match access(&app, &jar).await? {
        Access::Granted(admin) => render(&app, &admin, None, None, None).await,
        Access::Denied(response) => Ok(response),
    }
}

#[derive(Deserialize)]
struct ClientForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    id_token_alg: String,
    /// Access patterns, one per line (`crate::access`).
    #[serde(default)]
    allow: String,
    /// Space-separated, `device_code` short for RFC 8628's URN; empty: the default.
    #[serde(default)]
    grant_types: String,
    /// The compat `/auth` API's default language; empty: English.
    #[serde(default)]
    language: String,
    public: Option<String>,
    trusted: Option<String>,
    jid_as_email: Option<String>,
    always_refresh: Option<String>,
}

impl ClientForm {
    fn settings(&self) -> Result<ClientSettings, ClientError> {
        let alg = match self.id_token_alg.trim() {
            "" => SigningAlg::RS256,
            alg => SigningAlg::parse(alg).ok_or_else(|| {
                ClientError::Invalid("ID token algorithm: use RS256, ES256 or EdDSA".into())
            })?,
        };
        let mut grant_types: Vec<String> = self
            .grant_types
            .split_whitespace()
            .map(|g| expand_grant_type(g).to_owned())
            .collect();
        if grant_types.is_empty() {
            grant_types = default_grant_types();
        }
        let language = match self.language.trim() {
            "" => None,
            tag => Some(
                crate::i18n::Lang::parse(tag)
                    .map(|lang| lang.tag().to_owned())
                    .unwrap_or_else(|| tag.to_owned()),
            ),
        };
        Ok(ClientSettings {
            grant_types,
            language,
            name: self.name.clone(),
            redirect_uris: lines(&self.redirect_uris).map(str::to_owned).collect(),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris)
                .map(str::to_owned)
                .collect(),
            public: self.public.is_some(),
            trusted: self.trusted.is_some(),
            jid_as_email: self.jid_as_email.is_some(),
            allowed_scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            always_refresh: self.always_refresh.is_some(),
            id_token_alg: alg,
            allow: lines(&self.allow)
                .map(|p| {
                    crate::access::normalize_pattern(p)
                        .map_err(|why| ClientError::Invalid(format!("Who may log in: {why}")))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The non-empty lines of a textarea, trimmed: one entry each.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

#[derive(Deserialize)]
struct GroupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// One bare JID per line.
    #[serde(default)]
    members: String,
    /// Set by the form that adds a group (the others replace members).
    create: Option<String>,
}

impl GroupForm {
    fn change(&self) -> Result<Change, ClientError> {
        let name = self.name.trim();
        let members = lines(&self.members)
            .map(|m| crate::access::normalize_member(m).map_err(ClientError::Invalid))
            .collect::<Result<_, _>>()?;
        Ok(match self.create {
            Some(_) => Change::AddGroup(name.to_owned(), members),
            None => Change::SetGroup(name.to_owned(), members),
        })
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// The admin, if the form's CSRF token is theirs.
async fn authorized(
    app: &AppState,
    jar: &CookieJar,
    csrf: &str,
) -> Result<Result<Admin, Response>, InternalError> {
    match access(app, jar).await? {
        Access::Granted(admin) if bool::from(admin.csrf.as_bytes().ct_eq(csrf.as_bytes())) => {
            Ok(Ok(admin))
        }
        Access::Granted(_) => Ok(Err(error_page(
            Lang::default(),
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form was not sent from the admin page.",
            "Open /admin again.",
        ))),
        Access::Denied(response) => Ok(Err(response)),
    }
}

/// Renders the outcome of a change: its notice, or the operator's mistake.
async fn outcome(
    app: &AppState,
    admin: &Admin,
    result: Result<(String, Option<(String, String)>), ClientError>,
) -> Result<Response, InternalError> {
    match result {
        Ok((notice, secret)) => render(app, admin, Some(notice), None, secret).await,
        Err(ClientError::Database(e)) => Err(e.into()),
        Err(e) => render(app, admin, None, Some(e.to_string()), None).await,
    }
}

/// What an admin form asks for.
enum Change {
    Add(ClientSettings),
    Update(String, ClientSettings),
    RotateSecret(String),
    Remove(String),
    AddGroup(String, Vec<String>),
    /// Replaces the group's members.
    SetGroup(String, Vec<String>),
    RemoveGroup(String),
}

impl From<GroupError> for ClientError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Database(e) => ClientError::Database(e),
            other => ClientError::Invalid(other.to_string()),
        }
    }
}

/// The settings' warnings, to follow a notice.
fn with_warnings(settings: &ClientSettings) -> String {
    settings
        .warnings()
        .iter()
        .map(|w| format!(" Warning: {w}."))
        .collect()
}

/// Applies a change; returns the notice to show and a new secret to show once.
async fn apply(
    app: &AppState,
    change: Change,
) -> Result<(String, Option<(String, String)>), ClientError> {
    match change {
        Change::Add(settings) => {
            let warnings = with_warnings(&settings);
            let creds = app.store.add_client(settings, app.clock.now()).await?;
            let notice = format!("Added client {}.{warnings}", creds.client_id);
            Ok((notice, creds.client_secret.map(|s| (creds.client_id, s))))
        }
        Change::Update(id, settings) => {
            let warnings = with_warnings(&settings);
            let fresh = app.store.update_client(&id, settings).await?;
            let secret = fresh.and_then(|c| c.client_secret).map(|s| (id.clone(), s));
            Ok((format!("Saved {id}.{warnings}"), secret))
        }
        Change::RotateSecret(id) => {
            let creds = app.store.rotate_client_secret(&id).await?;
            let notice = format!("New secret for {id}; the old one no longer works.");
            Ok((notice, creds.client_secret.map(|s| (id, s))))
        }
        Change::Remove(id) => {
            app.store.remove_client(&id).await?;
            Ok((format!("Removed {id}."), None))
        }
        Change::AddGroup(name, members) => {
            app.store
                .add_group(&name, &members, app.clock.now())
                .await?;
            Ok((format!("Added group {name}."), None))
        }
        Change::SetGroup(name, members) => {
            app.store.set_group_members(&name, &members).await?;
            Ok((format!("Saved group {name}."), None))
        }
        Change::RemoveGroup(name) => {
            app.store.remove_group(&name).await?;
            Ok((format!("Removed group {name}."), None))
        }
    }
}

/// Checks the admin and the form's CSRF token, applies the change, shows the result.
async fn change(
    app: &AppState,
    jar: &CookieJar,
    csrf: &str,
    change: Result<Change, ClientError>,
) -> Result<Response, InternalError> {
    let admin = match authorized(app, jar, csrf).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let result = match change {
        Ok(change) => apply(app, change).await,
        Err(invalid) => Err(invalid),
    };
    if let Ok((notice, _)) = &result {
        tracing::info!(admin = %admin.jid, "{notice}");
    }
    outcome(app, &admin, result).await
}

async fn add(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<ClientForm>,
) -> Result<Response, InternalError> {
    change(&app, &jar, &form.csrf, form.settings().map(Change::Add)).await
}

async fn update(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<ClientForm>,
) -> Result<Response, InternalError> {
    let settings = form.settings().map(|settings| Change::Update(id, settings));
    change(&app, &jar, &form.csrf, settings).await
}

async fn rotate(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, InternalError> {
    change(&app, &jar, &form.csrf, Ok(Change::RotateSecret(id))).await
}

async fn remove(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, InternalError> {
    change(&app, &jar, &form.csrf, Ok(Change::Remove(id))).await
}

async fn save_group(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<GroupForm>,
) -> Result<Response, InternalError> {
    change(&app, &jar, &form.csrf, form.change()).await
}

async fn remove_group(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, InternalError> {
    change(&app, &jar, &form.csrf, Ok(Change::RemoveGroup(name))).await
}
