//! Fixes from a security review (denial of service, session edges, standards gaps, secrets
//! in output, CORS): each test fails without its fix.

use openidconnect::{OAuth2TokenResponse, Scope};

use crate::browser::{field, full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

const ALICE: &str = "alice@localhost";

struct Setup {
    _prosody: Prosody,
    app: TestApp,
    rp: RelyingParty,
    browser: Browser,
    alice: XmppUser,
}

async fn setup(settings: ClientSettings, overrides: &[(&str, &str)]) -> Setup {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, overrides).await;
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    Setup {
        _prosody: prosody,
        app,
        rp,
        browser,
        alice,
    }
}

fn site() -> ClientSettings {
    ClientSettings::new("Example RP", vec![REDIRECT_URI.into()])
}

/// RFC 6749 §6: a refresh with a narrower scope narrows the new access token only; the new
/// refresh token keeps the grant, so the client can widen again and stays offline.
#[tokio::test]
async fn a_narrowed_refresh_keeps_the_grant() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(
        &["profile", "offline_access"],
        false,
        &[("prompt", "consent")],
    );
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let narrowed =
        s.rp.client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .add_scope(Scope::new("openid".into()))
            .request_async(&s.rp.http)
            .await
            .unwrap();
    let scope = |t: &openidconnect::core::CoreTokenResponse| {
        let mut scopes: Vec<String> = t.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        scopes.sort();
        scopes
    };
    assert_eq!(scope(&narrowed), ["openid"]);
    let again = narrowed
        .refresh_token()
        .expect("still a refresh token: the grant has offline_access");
    let widened =
        s.rp.client
            .exchange_refresh_token(again)
            .unwrap()
            .request_async(&s.rp.http)
            .await
            .unwrap();
    assert_eq!(scope(&widened), ["offline_access", "openid", "profile"]);
    assert!(widened.refresh_token().is_some());
}

/// RFC 8252 §7.3: a native app registers `http://127.0.0.1/cb` and listens on whatever
/// port it gets; any port matches on a loopback IP literal, and nothing else does.
#[tokio::test]
async fn loopback_redirect_uris_match_any_port() {
    let mut app_settings = ClientSettings::new("Native app", vec!["http://127.0.0.1/cb".into()]);
    app_settings.public = true;
    let s = setup(site(), &[]).await;
    let (id, _) = s.app.add_client(app_settings).await;
    let authorize = |redirect_uri: &str| {
        let mut url = url::Url::parse(&s.app.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        url
    };
    let (status, url, _) = s
        .browser
        .open(authorize("http://127.0.0.1:53124/cb").as_str())
        .await
        .page();
    assert_eq!(status, 200);
    assert!(url.contains("/login/"), "{url}");
    for refused in ["http://127.0.0.1:53124/other", "http://127.0.0.2:53124/cb"] {
        let (status, _, html) = s.browser.open(authorize(refused).as_str()).await.page();
        assert_eq!(status, 400, "{refused}: {html}");
    }
}

/// The consent page of a login that rode on the session: pressing its "continue" (never
/// shown, but posted by hand) must not end the session and start one with a new expiry.
#[tokio::test]
async fn a_flow_without_an_xmpp_confirmation_never_renews_the_session() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let session = s.browser.cookie("jidconnect_session").unwrap();
    let attempt = s.rp.attempt(&[], true, &[("prompt", "consent")]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    let csrf = field(&html, "csrf").unwrap();
    let flow_url = consent_url.trim_end_matches("/consent");
    let (_, landed, _) = s
        .browser
        .post(&format!("{flow_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert!(landed.ends_with("/consent"), "{landed}");
    assert_eq!(
        s.browser.cookie("jidconnect_session").as_deref(),
        Some(session.as_str()),
        "the same session, not a new one"
    );
}

/// Logout ends what the browser had open: a consent page from before, and a login
/// confirmed over XMPP but not continued, log nobody in afterwards.
#[tokio::test]
async fn logout_ends_the_browsers_open_logins() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    // A consent page left open…
    let attempt = s.rp.attempt(&[], true, &[("prompt", "consent")]);
    let (_, consent_url, consent) = s.browser.open(attempt.url.as_str()).await.page();
    // …and a second login confirmed in XMPP but not continued.
    let attempt = s.rp.attempt(&[], true, &[("prompt", "login")]);
    let (_, login_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    s.browser
        .post(&login_url, &[("jid", ALICE), ("csrf", &csrf)])
        .await
        .page();
    s.alice.next_request().await;
    s.browser
        .wait_for_status(&format!("{login_url}/status"), "accepted")
        .await;

    let (_, logout_url, logout) = s.browser.open(&s.app.url("/logout")).await.page();
    let logout_csrf = field(&logout, "csrf").unwrap();
    let (status, _, done) = s
        .browser
        .post(&logout_url, &[("csrf", &logout_csrf)])
        .await
        .page();
    assert_eq!(status, 200, "{done}");

    let consent_csrf = field(&consent, "csrf").unwrap();
    let (status, _, _) = s
        .browser
        .post(
            &consent_url,
            &[("csrf", &consent_csrf), ("decision", "allow")],
        )
        .await
        .page();
    assert_eq!(status, 404, "the consent page is dead");
    let (status, _, _) = s
        .browser
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert_eq!(status, 404, "the confirmed login is dead");
    assert!(s.browser.cookie("jidconnect_session").is_none());
}

/// `prompt=consent` shows the consent page even to a trusted client (OIDC Core §3.1.2.1),
/// and `offline_access` is granted only after consent to it (§11), never silently: not
/// to a trusted client without `prompt=consent`, not with `prompt=none`.
#[tokio::test]
async fn consent_when_asked_and_offline_access_only_with_consent() {
    let mut trusted = site();
    trusted.trusted = true;
    let mut s = setup(trusted, &[]).await;
    let attempt = s.rp.attempt(&["offline_access"], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(
        tokens.refresh_token().is_none(),
        "offline_access was ignored"
    );
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid"]);
    // prompt=none cannot get it either.
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(tokens.refresh_token().is_none());
    // prompt=consent: the consent page, trusted or not, naming offline access.
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    assert!(html.contains("offline access"), "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let callback = s
        .browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "allow")])
        .await
        .away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(tokens.refresh_token().is_some());
    // Allowed once, it is remembered.
    let attempt = s.rp.attempt(&["offline_access"], false, &[]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    assert!(s
        .rp
        .exchange(&code, None)
        .await
        .unwrap()
        .refresh_token()
        .is_some());
}

/// A client limited to `openid` gets no more through the `claims` parameter, and what
/// `claims` adds for other clients is named on the consent page.
#[tokio::test]
async fn the_claims_parameter_stays_within_the_clients_scopes() {
    let mut limited = site();
    limited.allowed_scopes = vec!["openid".into()];
    limited.jid_as_email = true;
    let mut s = setup(limited, &[]).await;
    let claims =
        r#"{"userinfo":{"email":null,"name":null},"id_token":{"preferred_username":null}}"#;
    let attempt = s.rp.attempt(&[], false, &[("claims", claims)]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let id_claims = s.rp.id_claims(&tokens, &attempt.nonce);
    assert!(id_claims.preferred_username().is_none());
    let userinfo: serde_json::Value = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        userinfo.get("email").is_none() && userinfo.get("name").is_none(),
        "{userinfo}"
    );

    // An unrestricted client asking by name: the consent page says what it adds.
    let (id, secret) = s.app.add_client(site()).await;
    let rp = RelyingParty::discover(&s.app, &id, &secret).await;
    let attempt = rp.attempt(&[], false, &[("claims", r#"{"userinfo":{"name":null}}"#)]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    assert!(html.contains("Your user name, alice"), "{html}");
}
