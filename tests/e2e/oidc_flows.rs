//! Consent, logout, revocation, introspection, client options, and the whole flow on
//! PostgreSQL.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::Value;

use crate::browser::{field, full_login, Browser, Landing, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app_on, Backend, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

const ALICE: &str = "alice@localhost";

struct Setup {
    _prosody: Prosody,
    app: TestApp,
    rp: RelyingParty,
    id: String,
    secret: String,
    browser: Browser,
    alice: XmppUser,
}

async fn setup_on(backend: Backend, settings: ClientSettings) -> Setup {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[]).await;
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    Setup {
        _prosody: prosody,
        app,
        rp,
        id,
        secret,
        browser,
        alice,
    }
}

fn settings() -> ClientSettings {
    let mut settings = ClientSettings::new("Example RP", vec![REDIRECT_URI.into()]);
    settings.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
    settings
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Login, code exchange, userinfo, refresh with rotation and replay detection, revocation,
/// introspection: everything that touches the store, on one backend.
async fn whole_lifecycle(backend: Backend) {
    let mut s = setup_on(backend, settings()).await;
    let attempt = s.rp.attempt(
        &["profile", "offline_access"],
        false,
        &[("prompt", "consent")],
    );
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
    assert!(s.rp.exchange(&code, None).await.is_err(), "single use");

    let introspect = |token: String| {
        let http = s.app.http.clone();
        let url = s.app.url("/introspect");
        let (id, secret) = (s.id.clone(), s.secret.clone());
        async move {
            let answer: Value = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer
        }
    };
    // The code replay above revoked this grant: its tokens are dead.
    assert_eq!(
        introspect(tokens.access_token().secret().clone()).await["active"],
        false
    );

    // A fresh login for the refresh checks (SSO: no new XMPP request).
    let attempt = s.rp.attempt(&["profile", "offline_access"], false, &[]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let access = tokens.access_token().secret().clone();
    let answer = introspect(access.clone()).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], ALICE);
    assert_eq!(answer["client_id"], s.id.as_str());

    let refresh = tokens.refresh_token().unwrap().clone();
    let rotated =
        s.rp.client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&s.rp.http)
            .await
            .unwrap();
    assert_eq!(s.rp.refreshed_id_claims(&rotated).subject().as_str(), ALICE);
    let newest = rotated.refresh_token().unwrap().clone();
    assert_eq!(
        introspect(refresh.secret().clone()).await["active"],
        false,
        "a spent refresh token"
    );

    // Revoking the refresh token revokes the grant (RFC 7009 §2.1).
    let revoked = s
        .app
        .http
        .post(s.app.url("/revoke"))
        .basic_auth(&s.id, Some(&s.secret))
        .form(&[("token", newest.secret())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    assert_eq!(
        introspect(rotated.access_token().secret().clone()).await["active"],
        false
    );
    let userinfo = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status().as_u16(), 401);
    // Unknown tokens revoke fine (RFC 7009 §2.2).
    let unknown = s
        .app
        .http
        .post(s.app.url("/revoke"))
        .basic_auth(&s.id, Some(&s.secret))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 200);
}

#[tokio::test]
async fn lifecycle_on_sqlite() {
    whole_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn lifecycle_on_postgres() {
    whole_lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn consent_is_asked_once_remembered_and_can_be_refused() {
    let mut s = setup_on(Backend::Sqlite, settings()).await;
    let attempt = s.rp.attempt(&["profile"], false, &[]);
    let (_, login_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    let landing = s
        .browser
        .log_in(&login_url, &html, ALICE, &mut s.alice)
        .await;
    let (status, consent_url, html) = landing.page();
    assert_eq!(status, 200);
    assert!(
        html.contains("Example RP") && html.contains("Your user name, alice"),
        "{html}"
    );
    let csrf = field(&html, "csrf").unwrap();
    let callback = s
        .browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "deny")])
        .await
        .away();
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&callback, "iss"), Some(s.app.issuer()));

    // Logged in now, but not consented: the consent page again, without XMPP.
    let attempt = s.rp.attempt(&["profile"], false, &[]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"));
    let csrf = field(&html, "csrf").unwrap();
    let callback = s
        .browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "allow")])
        .await
        .away();
    s.rp.code_from(&s.app, &callback, &attempt);
    // Remembered: silent next time, unless a new scope is asked for.
    let attempt = s.rp.attempt(&["profile"], false, &[]);
    assert!(matches!(
        s.browser.open(attempt.url.as_str()).await,
        Landing::Away(_)
    ));
    let attempt = s.rp.attempt(&["profile", "email"], false, &[]);
    assert!(matches!(
        s.browser.open(attempt.url.as_str()).await,
        Landing::Page { .. }
    ));
    // prompt=none when consent is missing: consent_required.
    let attempt =
        s.rp.attempt(&["profile", "email"], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn trusted_clients_skip_consent_and_jid_as_email_adds_email() {
    let mut trusted = settings();
    trusted.trusted = true;
    trusted.jid_as_email = true;
    let mut s = setup_on(Backend::Sqlite, trusted).await;
    let attempt = s.rp.attempt(&["email"], false, &[]);
    let (_, login_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    let callback = s
        .browser
        .log_in(&login_url, &html, ALICE, &mut s.alice)
        .await
        .away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let claims = s.rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ALICE));
    assert_eq!(claims.email_verified(), Some(false));
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session() {
    let mut s = setup_on(Backend::Sqlite, settings()).await;
    let attempt = s.rp.attempt(&[], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let id_token =
        s.rp.exchange(&code, None)
            .await
            .unwrap()
            .id_token()
            .unwrap()
            .to_string();

    // An unregistered post-logout URI is never followed.
    let mut bad = url::Url::parse(&s.app.url("/logout")).unwrap();
    bad.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    assert!(matches!(
        s.browser.open(bad.as_str()).await,
        Landing::Page { status: 400, .. }
    ));

    let mut logout = url::Url::parse(&s.app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://rp.example/bye")
        .append_pair("state", "s1");
    let back = s.browser.open(logout.as_str()).await.away();
    assert_eq!(back.as_str(), "https://rp.example/bye?state=s1");
    let attempt = s.rp.attempt(&[], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    assert_eq!(param(&callback, "error").as_deref(), Some("login_required"));

    // Without a hint the person confirms on a page (with a CSRF token).
    let (_, _, html) = s.browser.open(&s.app.url("/logout")).await.page();
    let csrf = field(&html, "csrf").unwrap();
    assert!(matches!(
        s.browser
            .post(&s.app.url("/logout"), &[("csrf", "forged")])
            .await,
        Landing::Page { status: 403, .. }
    ));
    let (status, _, html) = s
        .browser
        .post(&s.app.url("/logout"), &[("csrf", &csrf)])
        .await
        .page();
    assert_eq!(status, 200);
    assert!(html.contains("logged out"), "{html}");
}

/// Whether the browser still has a session here: `prompt=none` gives a code, not an error.
async fn logged_in(s: &Setup) -> bool {
    let attempt = s.rp.attempt(&[], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    match param(&callback, "error") {
        Some(error) => {
            assert_eq!(error, "login_required");
            false
        }
        None => param(&callback, "code").is_some(),
    }
}

fn logout_url(s: &Setup, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&s.app.url("/logout")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// An attribute value as a browser reads it (the page escapes `&`, `<`, `>`, quotes).
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("a closed entity") + at;
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            _ => {
                let code = entity.strip_prefix('#').expect("a known entity");
                char::from_u32(code.parse().expect("a decimal entity")).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out + rest
}

/// The confirmation form, as a browser would send it: every field of the page.
fn form_fields(html: &str) -> Vec<(&'static str, String)> {
    ["csrf", "client_id", "post_logout_redirect_uri", "state"]
        .into_iter()
        .filter_map(|name| field(html, name).map(|value| (name, unescape(&value))))
        .collect()
}

async fn post_form(s: &Setup, fields: &[(&'static str, String)]) -> crate::browser::Landing {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.browser.post(&s.app.url("/logout"), &form).await
}

/// Without an id_token_hint the person confirms, and the confirmation still goes back to
/// the relying party's registered post-logout URI, with its state; the URI is checked
/// again when the form comes back.
#[tokio::test]
async fn logout_confirmed_on_the_page_still_returns_to_the_relying_party() {
    let mut s = setup_on(Backend::Sqlite, settings()).await;
    let attempt = s.rp.attempt(&[], false, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;

    let url = logout_url(
        &s,
        &[
            ("client_id", &s.id),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s2&x=<y>"),
        ],
    );
    let (status, _, html) = s.browser.open(&url).await.page();
    assert_eq!(status, 200, "{html}");
    let fields = form_fields(&html);
    assert_eq!(fields.len(), 4, "{html}");
    assert!(
        logged_in(&s).await,
        "nothing ends before the person confirms"
    );

    // A changed redirect in the form is refused: only registered URIs are followed.
    for (name, value) in [
        ("post_logout_redirect_uri", "https://evil.example/"),
        ("client_id", "another-client"),
    ] {
        let mut tampered = fields.clone();
        tampered.retain(|(k, _)| *k != name);
        tampered.push((name, value.to_owned()));
        assert!(
            matches!(
                post_form(&s, &tampered).await,
                crate::browser::Landing::Page { status: 400, .. }
            ),
            "{name}={value}"
        );
    }
    let mut without_client = fields.clone();
    without_client.retain(|(k, _)| *k != "client_id");
    assert!(matches!(
        post_form(&s, &without_client).await,
        crate::browser::Landing::Page { status: 400, .. }
    ));
    assert!(logged_in(&s).await, "a refused form changes nothing");

    let back = post_form(&s, &fields).await.away();
    assert_eq!(back.host_str(), Some("rp.example"));
    assert_eq!(back.path(), "/bye");
    assert_eq!(param(&back, "state").as_deref(), Some("s2&x=<y>"));
    assert!(!logged_in(&s).await);
}

/// An ID token of someone else is no proof that the person logged in here wants to log
/// out (any page could send the browser here with one): they are asked first. Their own
/// ID token ends the session at once (rp_initiated_logout_ends_the_session).
#[tokio::test]
async fn a_hint_for_another_person_asks_before_logging_out() {
    let mut s = setup_on(Backend::Sqlite, settings()).await;
    let attempt = s.rp.attempt(&[], false, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;

    // Bob, in his own browser, gets an ID token from the same relying party.
    let mut bob = XmppUser::login(&s._prosody, "bob", "phone", Client::Xep0070, "accept").await;
    let bob_browser = Browser::new(&s.app);
    let attempt = s.rp.attempt(&[], false, &[]);
    let code = full_login(
        &s.app,
        &bob_browser,
        &s.rp,
        &mut bob,
        "bob@localhost",
        &attempt,
    )
    .await;
    let bob_token =
        s.rp.exchange(&code, None)
            .await
            .unwrap()
            .id_token()
            .unwrap()
            .to_string();

    let url = logout_url(
        &s,
        &[
            ("id_token_hint", &bob_token),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s3"),
        ],
    );
    let (status, _, html) = s.browser.open(&url).await.page();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Log out of jidconnect?"), "{html}");
    assert!(logged_in(&s).await, "alice's session is still there");

    // Confirmed, it logs alice out and goes back to the relying party.
    let back = post_form(&s, &form_fields(&html)).await.away();
    assert_eq!(back.as_str(), "https://rp.example/bye?state=s3");
    assert!(!logged_in(&s).await);
    // Bob's own session was never touched.
    let attempt = s.rp.attempt(&[], false, &[("prompt", "none")]);
    let callback = bob_browser.open(attempt.url.as_str()).await.away();
    assert!(param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn tokens_keys_sessions_and_pending_logins_survive_a_restart() {
    survives_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn tokens_keys_sessions_and_pending_logins_survive_a_restart_on_postgres() {
    survives_a_restart(Backend::Postgres).await;
}

async fn survives_a_restart(backend: Backend) {
    let mut s = setup_on(backend, settings()).await;
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let jwks_before: Value = s
        .app
        .http
        .get(s.app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A second login waits at the JID form across the restart.
    let (rp2_id, rp2_secret) = s.app.add_client(settings()).await;
    let rp2 = RelyingParty::discover(&s.app, &rp2_id, &rp2_secret).await;
    let pending = rp2.attempt(&[], false, &[("prompt", "login")]);
    let (_, pending_url, _) = s.browser.open(pending.url.as_str()).await.page();

    s.app = s.app.restart().await;

    let jwks_after: Value = s
        .app
        .http
        .get(s.app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_before, jwks_after, "keys persisted");
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
    let info = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status().as_u16(), 200, "access token still valid");
    let refreshed =
        s.rp.client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .request_async(&s.rp.http)
            .await;
    assert!(refreshed.is_ok(), "refresh token still valid");
    // SSO session survived.
    let silent = s.rp.attempt(&[], false, &[("prompt", "none")]);
    let callback = s.browser.open(silent.url.as_str()).await.away();
    s.rp.code_from(&s.app, &callback, &silent);
    // The pending login continues where it was.
    let (status, url, html) = s.browser.open(&pending_url).await.page();
    assert_eq!(status, 200);
    let callback = s
        .browser
        .consent_if_asked(s.browser.log_in(&url, &html, ALICE, &mut s.alice).await)
        .await;
    let code = rp2.code_from(&s.app, &callback, &pending);
    assert!(rp2.exchange(&code, None).await.is_ok());
}
